//! The connection table alone: one established TCP packet at 1k, 100k and 1M connections (in
//! a random order over all of them), and new connections (a SYN each, into a table with
//! room). Frames differ only in the source address, so one parse serves them all and the
//! figure is the table's own work: classify, hash, probe, update, TCP state.
//!
//! `cargo bench -p rampart-conn --bench table`

use std::hint::black_box;
use std::time::{Duration, Instant};

use conn::{ConnConfig, ConnTable};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const SEC: u64 = 1_000_000_000;

/// Ethernet + IPv4 + TCP (20-byte header, no payload) from `src`:40000 to 10.255.0.1:80.
fn frame(src: u32, flags: u8, seq: u32, ack: u32, reply: bool) -> [u8; 54] {
    let mut f = [0u8; 54];
    f[12] = 0x08;
    f[14] = 0x45;
    f[17] = 40;
    f[22] = 64;
    f[23] = 6;
    let (a, b) = (src.to_be_bytes(), [10, 255, 0, 1]);
    let (s, d, sp, dp) = if reply {
        (b, a, 80u16, 40000u16)
    } else {
        (a, b, 40000, 80)
    };
    f[26..30].copy_from_slice(&s);
    f[30..34].copy_from_slice(&d);
    f[34..36].copy_from_slice(&sp.to_be_bytes());
    f[36..38].copy_from_slice(&dp.to_be_bytes());
    f[38..42].copy_from_slice(&seq.to_be_bytes());
    f[42..46].copy_from_slice(&ack.to_be_bytes());
    f[46] = 0x50;
    f[47] = flags;
    f[48..50].copy_from_slice(&1000u16.to_be_bytes());
    f
}

fn src(i: u32) -> u32 {
    0x0a00_0000 | (i + 1)
}

fn established(c: &mut Criterion) {
    let mut g = c.benchmark_group("conn_table");
    g.sample_size(20).measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Elements(1));
    for n in [1_000u32, 100_000, 1_000_000] {
        let mut t = ConnTable::new(ConnConfig {
            max_connections: n,
            seed: Some(1),
            ..ConnConfig::default()
        });
        let syn = frame(src(0), 0x02, 1, 0, false);
        let p_out = wire::parse_packet(&syn);
        let p_in = wire::parse_packet(&frame(src(0), 0x12, 1, 2, true));
        for i in 0..n {
            t.track(
                &frame(src(i), 0x02, 1, 0, false),
                &p_out,
                0,
                SEC,
                &mut |_| {},
            );
            t.track(
                &frame(src(i), 0x12, 100, 2, true),
                &p_in,
                0,
                SEC,
                &mut |_| {},
            );
            t.track(
                &frame(src(i), 0x10, 2, 101, false),
                &p_out,
                0,
                SEC,
                &mut |_| {},
            );
        }
        assert_eq!(t.len(), n as usize);
        // Established ACKs of every connection, visited in a random order.
        let mut order: Vec<u32> = (0..n).collect();
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        for i in (1..order.len()).rev() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            order.swap(i, (s % (i as u64 + 1)) as usize);
        }
        let frames: Vec<[u8; 54]> = order
            .iter()
            .map(|&i| frame(src(i), 0x10, 2, 101, false))
            .collect();
        let mut k = 0usize;
        g.bench_function(format!("established/{n}"), |b| {
            b.iter(|| {
                let f = &frames[k];
                k = if k + 1 == frames.len() { 0 } else { k + 1 };
                black_box(t.track(f, &p_out, 0, 2 * SEC, &mut |_| {}))
            })
        });
        assert_eq!(
            t.counters().created,
            u64::from(n),
            "no packet made a new connection"
        );
    }
    g.finish();
}

fn new_connections(c: &mut Criterion) {
    let mut g = c.benchmark_group("conn_table");
    g.sample_size(20).measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Elements(1));
    const CHUNK: u32 = 65_536;
    let syns: Vec<[u8; 54]> = (0..CHUNK)
        .map(|i| frame(src(i), 0x02, 1, 0, false))
        .collect();
    let p = wire::parse_packet(&syns[0]);
    let mut t = ConnTable::new(ConnConfig {
        max_connections: CHUNK,
        seed: Some(1),
        ..ConnConfig::default()
    });
    g.bench_function("new", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let now = left.min(u64::from(CHUNK)) as usize;
                let start = Instant::now();
                for f in &syns[..now] {
                    black_box(t.track(f, &p, 0, SEC, &mut |_| {}));
                }
                spent += start.elapsed();
                t.drain(|r| {
                    black_box(r);
                });
                left -= now as u64;
            }
            spent
        })
    });
    g.finish();
}

criterion_group!(benches, established, new_connections);
criterion_main!(benches);
