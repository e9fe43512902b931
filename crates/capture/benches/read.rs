//! Reading throughput from memory: `cargo bench -p rampart-capture --bench read`.
//! Measures the per-record cost of the reader (header decode, bounds checks, buffer refills);
//! the input is a byte slice, so no I/O is timed.

use std::hint::black_box;

use capture::{CaptureReader, LinkType, PcapNgWriter, PcapWriter, Timestamp};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// About 64 MiB of packets of `len` bytes.
fn file(ng: bool, len: usize) -> Vec<u8> {
    let n = (64 << 20) / (len + 32);
    let data = vec![0x45u8; len];
    let ts = |i: usize| Timestamp::new(1_700_000_000 + (i / 1000) as i64, (i % 1000) as u32 * 1000);
    if ng {
        let mut w = PcapNgWriter::new(Vec::new()).unwrap();
        let id = w.add_interface(LinkType::Ethernet, 65535, None).unwrap();
        for i in 0..n {
            w.write_packet(id, ts(i), len as u32, &data).unwrap();
        }
        w.into_inner()
    } else {
        let mut w = PcapWriter::new(Vec::new(), LinkType::Ethernet, 65535, false).unwrap();
        for i in 0..n {
            w.write_packet(ts(i), len as u32, &data).unwrap();
        }
        w.into_inner()
    }
}

fn read(c: &mut Criterion) {
    let mut g = c.benchmark_group("read");
    g.sample_size(10);
    for (name, ng) in [("pcap", false), ("pcapng", true)] {
        for len in [64, 1500] {
            let bytes = file(ng, len);
            g.throughput(Throughput::Bytes(bytes.len() as u64));
            g.bench_function(format!("{name}/{len}B"), |b| {
                b.iter(|| {
                    let mut r = CaptureReader::new(&bytes[..]).unwrap();
                    let mut sum = 0u64;
                    while let Some(p) = r.next_packet().unwrap() {
                        sum += u64::from(p.caplen) + u64::from(p.data[0]);
                    }
                    black_box(sum)
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, read);
criterion_main!(benches);
