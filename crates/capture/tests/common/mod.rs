//! Shared helpers for the integration tests: deterministic capture files made by this crate's
//! writers, with the offset of every record, and an owned copy of everything a reader delivers.
#![allow(dead_code)]

use std::io::Read;

use capture::{CaptureReader, LinkType, PcapNgWriter, PcapWriter, Timestamp, TsResolution};

/// An owned copy of a delivered packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owned {
    pub number: u64,
    pub offset: u64,
    pub timestamp: Timestamp,
    pub caplen: u32,
    pub orig_len: u32,
    pub interface: u32,
    pub link: LinkType,
    pub data: Vec<u8>,
}

/// Reads to the end or the first error, checking the invariants every packet must keep and that
/// reading stops (at most one packet per 12 bytes of input, then `Ok(None)` after the end).
pub fn drain<R: Read>(
    r: &mut CaptureReader<R>,
    input_len: usize,
) -> (Vec<Owned>, Option<capture::CaptureError>) {
    let mut out: Vec<Owned> = Vec::new();
    for _ in 0..input_len / 12 + 2 {
        match r.next_packet() {
            Ok(Some(p)) => {
                assert_eq!(p.caplen as usize, p.data.len());
                assert_eq!(p.number, out.len() as u64 + 1);
                assert!(p.offset < input_len as u64);
                if let Some(prev) = out.last() {
                    assert!(p.offset > prev.offset, "offsets must increase");
                }
                out.push(Owned {
                    number: p.number,
                    offset: p.offset,
                    timestamp: p.timestamp,
                    caplen: p.caplen,
                    orig_len: p.orig_len,
                    interface: p.interface,
                    link: p.link,
                    data: p.data.to_vec(),
                });
            }
            Ok(None) => {
                assert!(r.next_packet().unwrap().is_none());
                return (out, None);
            }
            Err(e) => {
                assert!(
                    r.next_packet().unwrap().is_none(),
                    "after an error reading stays finished"
                );
                return (out, Some(e));
            }
        }
    }
    panic!("more packets than {input_len} bytes can hold: the reader loops");
}

/// A small deterministic generator (xorshift64*), so that tests need no dependency for it.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A capture file and the offsets where its records start (the last entry is its length).
pub struct Sample {
    pub bytes: Vec<u8>,
    /// Start of every record after the file header (pcap) / first SHB (pcapng), then the end.
    pub boundaries: Vec<u64>,
    /// What the reader's `new` reads: the pcap file header, or the first SHB and the IDBs
    /// right after it.
    pub header_len: u64,
}

fn packet(rng: &mut Rng, max_len: u64) -> (Timestamp, u32, Vec<u8>) {
    let len = match rng.below(4) {
        0 => rng.below(64),
        1 => 60 + rng.below(40),
        _ => rng.below(max_len + 1),
    } as usize;
    let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
    let orig = len as u32
        + if rng.below(4) == 0 {
            rng.below(1000) as u32
        } else {
            0
        };
    let ts = Timestamp::new(
        1_600_000_000 + rng.below(100_000_000) as i64,
        rng.below(1_000_000_000) as u32,
    );
    (ts, orig, data)
}

/// A classic pcap file of `n` packets up to `max_len` bytes.
pub fn pcap_sample(seed: u64, n: usize, max_len: u64, nanos: bool, big_endian: bool) -> Sample {
    let mut rng = Rng::new(seed);
    let mut w =
        PcapWriter::with_byte_order(Vec::new(), LinkType::Ethernet, 65535, nanos, big_endian)
            .unwrap();
    let mut boundaries = vec![w.get_ref().len() as u64];
    for _ in 0..n {
        let (ts, orig, data) = packet(&mut rng, max_len);
        w.write_packet(ts, orig, &data).unwrap();
        boundaries.push(w.get_ref().len() as u64);
    }
    let header_len = boundaries[0];
    Sample {
        bytes: w.into_inner(),
        boundaries,
        header_len,
    }
}

/// A pcapng file: two sections, each with three interfaces of different link types and
/// resolutions, `n` packets spread over them.
pub fn pcapng_sample(seed: u64, n: usize, max_len: u64, big_endian: bool) -> Sample {
    let mut rng = Rng::new(seed);
    let mut w = PcapNgWriter::with_byte_order(Vec::new(), big_endian).unwrap();
    let mut boundaries = vec![w.get_ref().len() as u64];
    let ifaces = [
        (LinkType::Ethernet, TsResolution::NANOS, "eth0"),
        (LinkType::RawIp, TsResolution::MICROS, "tun0"),
        (LinkType::LinuxSll2, TsResolution::Binary(32), "any"),
    ];
    for section in 0..2 {
        if section == 1 {
            w.new_section().unwrap();
            boundaries.push(w.get_ref().len() as u64);
        }
        for (link, res, name) in ifaces {
            w.add_interface_with_resolution(link, 65535, Some(name), res)
                .unwrap();
            boundaries.push(w.get_ref().len() as u64);
        }
        for _ in 0..n / 2 + section * (n % 2) {
            let (ts, orig, data) = packet(&mut rng, max_len);
            w.write_packet(rng.below(3) as u32, ts, orig, &data)
                .unwrap();
            boundaries.push(w.get_ref().len() as u64);
        }
    }
    let header_len = boundaries[ifaces.len()];
    Sample {
        bytes: w.into_inner(),
        boundaries,
        header_len,
    }
}
