//! `parse_packet` over a mix of IPv4/IPv6 TCP/UDP frames, some VLAN-tagged: ns per packet.
//!
//! The mix follows `../shared/bench/fastpath/` ("v4" and "v6" mixes): 50% TCP / 50% UDP, 25%
//! of frames 802.1Q-tagged, and in the v6 mix 10% IPv6. Frames are 64 bytes (78 with IPv6/TCP),
//! stored contiguously, walked in order in a pool larger than L1.
//!
//! Run: `cargo bench -p rampart-wire --bench parse`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use etherparse::PacketBuilder;
use wire::parse_packet;

fn frame(i: u32, v6_share: u32) -> Vec<u8> {
    let eth = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
    let sport = 1024 + (i % 50_000) as u16;
    let tcp = i.is_multiple_of(2);
    let vlan = i.is_multiple_of(4);
    let v6 = (i.wrapping_mul(2_654_435_761) >> 16) % 100 < v6_share;
    let a = i.to_be_bytes();
    let mut f = Vec::with_capacity(80);
    macro_rules! l4 {
        ($ip:expr) => {
            if tcp {
                $ip.tcp(sport, 80, i, 1000)
                    .ack(1)
                    .write(&mut f, &[0; 6])
                    .unwrap()
            } else {
                $ip.udp(sport, 53).write(&mut f, &[0; 18]).unwrap()
            }
        };
    }
    match (vlan, v6) {
        (false, false) => l4!(eth.ipv4([10, a[1], a[2], a[3]], [10, 9, 9, 9], 64)),
        (true, false) => l4!(eth
            .single_vlan(etherparse::VlanId::try_new(100).unwrap())
            .ipv4([10, a[1], a[2], a[3]], [10, 9, 9, 9], 64)),
        (false, true) => l4!(eth.ipv6(
            [
                0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, a[0], a[1], a[2], a[3]
            ],
            [0xfd; 16],
            64
        )),
        (true, true) => l4!(eth
            .single_vlan(etherparse::VlanId::try_new(100).unwrap())
            .ipv6(
                [
                    0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, a[0], a[1], a[2], a[3]
                ],
                [0xfd; 16],
                64
            )),
    }
    f
}

fn bench(c: &mut Criterion) {
    const N: u32 = 4096;
    for (name, v6) in [("v4", 0), ("v6", 10)] {
        let frames: Vec<Vec<u8>> = (0..N).map(|i| frame(i, v6)).collect();
        let mut g = c.benchmark_group("parse_packet");
        g.throughput(Throughput::Elements(u64::from(N)));
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut acc = 0u32;
                for f in &frames {
                    let p = parse_packet(black_box(f));
                    acc = acc
                        .wrapping_add(u32::from(p.src_port))
                        .wrapping_add(u32::from(p.payload_offset));
                }
                black_box(acc)
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
