//! Hostile and awkward input: random bytes, corrupted and truncated files, and a reader that
//! returns one byte at a time. Nothing may panic, loop, or lose a good record before a fault.

mod common;

use std::io::{self, Read};

use capture::{CaptureError, CaptureReader, LinkType, PcapNgWriter, PcapWriter};
use common::{Owned, Sample, drain, pcap_sample, pcapng_sample};
use proptest::prelude::*;

/// Headers that get random bytes past the magic-number check.
fn prefix(kind: usize) -> Vec<u8> {
    match kind {
        0 => Vec::new(),
        1 => PcapWriter::new(Vec::new(), LinkType::Ethernet, 65535, false)
            .unwrap()
            .into_inner(),
        2 => PcapWriter::with_byte_order(Vec::new(), LinkType::RawIp, 65535, true, true)
            .unwrap()
            .into_inner(),
        3 => PcapNgWriter::new(Vec::new()).unwrap().into_inner(),
        4 => {
            let mut w = PcapNgWriter::with_byte_order(Vec::new(), true).unwrap();
            w.add_interface(LinkType::Ethernet, 0, None).unwrap();
            w.into_inner()
        }
        _ => {
            let mut w = PcapNgWriter::new(Vec::new()).unwrap();
            w.add_interface(LinkType::LinuxSll, 0, Some("x")).unwrap();
            w.into_inner()
        }
    }
}

/// Reads `bytes` through `new` and `drain`; `None` if `new` refused them.
fn read(bytes: &[u8]) -> Option<(Vec<Owned>, Option<CaptureError>)> {
    let mut r = CaptureReader::new(bytes).ok()?;
    Some(drain(&mut r, bytes.len()))
}

fn sample(seed: u64, ng: bool) -> Sample {
    if ng {
        pcapng_sample(seed, 12, 300, seed.is_multiple_of(2))
    } else {
        pcap_sample(
            seed,
            12,
            300,
            seed.is_multiple_of(3),
            seed.is_multiple_of(2),
        )
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_nor_loop(kind in 0usize..6, tail in prop::collection::vec(any::<u8>(), 0..2000)) {
        let mut bytes = prefix(kind);
        bytes.extend_from_slice(&tail);
        let _ = read(&bytes);
    }

    /// Overwriting bytes anywhere never costs a packet whose record lies wholly before the first
    /// changed byte, and an error never names a record before the one holding that byte.
    #[test]
    fn corruption_keeps_the_intact_prefix(
        seed in any::<u64>(),
        ng in any::<bool>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let s = sample(seed, ng);
        let (want, e) = read(&s.bytes).unwrap();
        prop_assert!(e.is_none());
        let mut bad = s.bytes.clone();
        let len = bad.len();
        for (at, v) in &edits {
            bad[at.index(len)] = *v;
        }
        let Some(first_bad) = bad.iter().zip(&s.bytes).position(|(a, b)| a != b) else {
            return Ok(());
        };
        let first_bad = first_bad as u64;
        let Some((got, err)) = read(&bad) else {
            prop_assert!(first_bad < s.header_len, "new() refused a file with an intact header");
            return Ok(());
        };
        let intact = want.iter().take_while(|p| {
            let end = s.boundaries.iter().find(|&&b| b > p.offset).copied().unwrap();
            end <= first_bad
        });
        for (w, g) in intact.zip(&got) {
            prop_assert_eq!(w, g);
        }
        if let Some(e) = err {
            let holder = s.boundaries.iter().rev().find(|&&b| b <= first_bad).copied().unwrap_or(0);
            prop_assert!(e.offset().unwrap_or(u64::MAX) >= holder, "{} names a record before byte {}", e, first_bad);
        }
    }

    /// Cutting a file anywhere delivers exactly the records before the cut, then names the
    /// record the cut fell in (or ends cleanly on a record boundary).
    #[test]
    fn truncation_is_exact(seed in any::<u64>(), ng in any::<bool>(), cut in any::<prop::sample::Index>()) {
        let s = sample(seed, ng);
        let (want, _) = read(&s.bytes).unwrap();
        let cut = cut.index(s.bytes.len() + 1);
        let Some((got, err)) = read(&s.bytes[..cut]) else {
            prop_assert!((cut as u64) < s.header_len);
            return Ok(());
        };
        let cut = cut as u64;
        let ends_before = |p: &Owned| s.boundaries.iter().find(|&&b| b > p.offset).copied().unwrap() <= cut;
        let expected: Vec<_> = want.iter().filter(|p| ends_before(p)).cloned().collect();
        prop_assert_eq!(&got, &expected);
        if s.boundaries.contains(&cut) {
            prop_assert!(err.is_none(), "{:?}", err);
        } else {
            let e = err.unwrap();
            let start = s.boundaries.iter().rev().find(|&&b| b <= cut).copied().unwrap();
            prop_assert_eq!(e.offset(), Some(start));
            prop_assert!(
                matches!(e, CaptureError::TruncatedHeader { .. } | CaptureError::TruncatedRecord { .. }),
                "{}", e
            );
        }
    }
}

/// Returns one byte per read, and `Interrupted` every seventh call.
struct OneByte<'a> {
    data: &'a [u8],
    calls: u64,
}

impl Read for OneByte<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls.is_multiple_of(7) {
            return Err(io::ErrorKind::Interrupted.into());
        }
        match (self.data.split_first(), out.first_mut()) {
            (Some((&b, rest)), Some(o)) => {
                *o = b;
                self.data = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

#[test]
fn one_byte_reads_give_identical_results() {
    for ng in [false, true] {
        let mut s = if ng {
            pcapng_sample(7, 2400, 1600, true)
        } else {
            pcap_sample(7, 2400, 1600, true, false)
        };
        assert!(s.bytes.len() > 900_000, "{} bytes", s.bytes.len());
        // End on a cut record so that the error, too, must match.
        let last = s.boundaries[s.boundaries.len() - 2] as usize;
        s.bytes.truncate(last + 10);
        let mut fast = CaptureReader::new(&s.bytes[..]).unwrap();
        let (want, want_err) = drain(&mut fast, s.bytes.len());
        let mut slow = CaptureReader::new(OneByte {
            data: &s.bytes,
            calls: 0,
        })
        .unwrap();
        assert_eq!(slow.format(), fast.format());
        let (got, got_err) = drain(&mut slow, s.bytes.len());
        assert_eq!(got.len(), want.len());
        assert_eq!(got, want);
        assert_eq!(slow.interfaces(), fast.interfaces());
        let (want_err, got_err) = (want_err.unwrap(), got_err.unwrap());
        assert!(
            matches!(
                want_err,
                CaptureError::TruncatedHeader { .. } | CaptureError::TruncatedRecord { .. }
            ),
            "{want_err}"
        );
        assert_eq!(got_err.to_string(), want_err.to_string());
        assert_eq!(slow.bytes_read(), s.bytes.len() as u64);
    }
}

#[test]
fn open_reads_a_file_and_names_a_missing_one() {
    let s = pcapng_sample(3, 50, 200, false);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.pcapng");
    std::fs::write(&path, &s.bytes).unwrap();
    let mut r = CaptureReader::open(&path).unwrap();
    let (got, e) = drain(&mut r, s.bytes.len());
    assert!(e.is_none());
    assert_eq!(got.len(), 50);
    let missing = dir.path().join("nope.pcap");
    let e = CaptureReader::open(&missing).unwrap_err();
    assert!(
        matches!(&e, CaptureError::Open { path, .. } if *path == missing),
        "{e}"
    );
    assert!(
        e.to_string()
            .starts_with(&format!("cannot open {}: ", missing.display()))
    );
}
