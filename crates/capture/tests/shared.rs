//! Packets kept past the next call through clones of the reader's buffer
//! (`CaptureReader::shared_bytes`, `last_packet_range`): the same packets and the same error as a
//! plain read, whatever is held, whatever the read sizes, on good, corrupted and cut files; and
//! a held packet's bytes never change while the reader goes on.

mod common;

use std::collections::VecDeque;
use std::io::{self, Read};

use capture::{CaptureError, CaptureReader, SharedBytes};
use common::{Owned, Sample, drain, pcap_sample, pcapng_sample};
use proptest::prelude::*;

/// Serves `data` in reads of at most `chunk` bytes (varying with the call), so that records are
/// cut by the end of the buffer at many places.
struct Chunks<'a> {
    data: &'a [u8],
    chunk: usize,
    calls: usize,
}

impl Read for Chunks<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        let n = (self.chunk + self.calls % 7 * 13)
            .min(out.len())
            .min(self.data.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Reads every packet while holding the buffers of the last `hold` of them, and checks each one
/// held against its copy made when it was read, once it is let go (and at the end).
fn read_holding<R: Read>(
    r: &mut CaptureReader<R>,
    hold: usize,
) -> (Vec<Owned>, Option<CaptureError>) {
    let mut out: Vec<Owned> = Vec::new();
    let mut held: VecDeque<(SharedBytes, std::ops::Range<usize>, usize)> = VecDeque::new();
    let check = |out: &[Owned], (buf, at, i): (SharedBytes, std::ops::Range<usize>, usize)| {
        assert_eq!(&buf[at], &out[i].data[..], "held packet {} changed", i + 1);
    };
    let err = loop {
        let owned = match r.next_packet() {
            Ok(Some(p)) => Owned {
                number: p.number,
                offset: p.offset,
                timestamp: p.timestamp,
                caplen: p.caplen,
                orig_len: p.orig_len,
                interface: p.interface,
                link: p.link,
                data: p.data.to_vec(),
            },
            Ok(None) => break None,
            Err(e) => break Some(e),
        };
        let at = r.last_packet_range();
        assert_eq!(&r.shared_bytes()[at.clone()], &owned.data[..]);
        out.push(owned);
        if hold > 0 {
            held.push_back((r.shared_bytes().clone(), at, out.len() - 1));
            if held.len() > hold
                && let Some(h) = held.pop_front()
            {
                check(&out, h);
            }
        }
    };
    for h in held {
        check(&out, h);
    }
    (out, err)
}

fn sample(seed: u64, ng: bool, n: usize) -> Sample {
    if ng {
        pcapng_sample(seed, n, 1600, seed.is_multiple_of(2))
    } else {
        pcap_sample(
            seed,
            n,
            1600,
            seed.is_multiple_of(3),
            seed.is_multiple_of(2),
        )
    }
}

fn compare(bytes: &[u8], chunk: usize, hold: usize) -> Result<(), TestCaseError> {
    let want = CaptureReader::new(bytes).map(|mut r| drain(&mut r, bytes.len()));
    let got = CaptureReader::new(Chunks {
        data: bytes,
        chunk,
        calls: 0,
    })
    .map(|mut r| read_holding(&mut r, hold));
    match (want, got) {
        (Ok((want, want_err)), Ok((got, got_err))) => {
            prop_assert_eq!(got.len(), want.len());
            prop_assert_eq!(got, want);
            prop_assert_eq!(
                got_err.map(|e| e.to_string()),
                want_err.map(|e| e.to_string())
            );
        }
        (Err(want), Err(got)) => prop_assert_eq!(got.to_string(), want.to_string()),
        (want, got) => prop_assert!(false, "open differs: {want:?} / {got:?}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    /// Good files, corrupted ones and cut ones give the same packets and error whether the
    /// reader's buffers are held or not.
    #[test]
    fn holding_buffers_changes_nothing(
        seed in any::<u64>(),
        ng in any::<bool>(),
        chunk in 1usize..70_000,
        hold in 0usize..6,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in any::<prop::sample::Index>(),
        cut_it in any::<bool>(),
    ) {
        let mut bytes = sample(seed, ng, 400).bytes;
        let len = bytes.len();
        for (at, v) in &edits {
            bytes[at.index(len)] = *v;
        }
        if cut_it {
            bytes.truncate(cut.index(len));
        }
        compare(&bytes, chunk, hold)?;
    }
}

#[test]
fn big_files_through_many_buffers() {
    for ng in [false, true] {
        let mut s = sample(11, ng, 6000);
        assert!(s.bytes.len() > 2_000_000, "{} bytes", s.bytes.len());
        // End on a cut record so that the error, too, must match.
        let last = s.boundaries[s.boundaries.len() - 2] as usize;
        s.bytes.truncate(last + 10);
        for (chunk, hold) in [(1 << 20, 3), (100_000, 1), (4096, 8), (300_000, 0)] {
            compare(&s.bytes, chunk, hold).unwrap();
        }
    }
}

/// The reader reuses a buffer once its holders have let go, so that memory stays bounded by
/// what is held.
#[test]
fn buffers_are_reused_once_let_go() {
    let s = sample(5, false, 3000);
    let mut r = CaptureReader::new(&s.bytes[..]).unwrap();
    // Buffers told apart by address, so as not to hold them.
    let mut seen: Vec<usize> = Vec::new();
    let mut held: Option<SharedBytes> = None;
    let mut changes = 0;
    while r.next_packet().unwrap().is_some() {
        let now = r.shared_bytes();
        if held.as_ref().is_none_or(|h| !SharedBytes::same(h, now)) {
            // Hold only the current buffer, as a consumer with one batch in hand does.
            held = Some(now.clone());
            changes += 1;
            if !seen.contains(&(now.as_ptr() as usize)) {
                seen.push(now.as_ptr() as usize);
            }
        }
    }
    assert!(changes > 5, "{changes} buffers for {} bytes", s.bytes.len());
    assert!(
        seen.len() <= 3,
        "{} buffers for one held at a time",
        seen.len()
    );
}
