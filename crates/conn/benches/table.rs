//! The connection table alone, as the datapath drives it: the connection of each packet found
//! from its flow key (read from the bytes beforehand, as the pipeline does) with
//! `ConnTable::track_key`, no parse.
//!
//! * `established/N`: an established ACK of one of N TCP connections, visited in a random
//!   order over all N, one packet at a time;
//! * `batched/N`: the same in batches of 32, every lookup of a batch made and its index slot
//!   and entry prefetched before the first packet is tracked (the datapath's way from 8192
//!   connections on);
//! * `new`: a SYN that creates a connection, in a table with room;
//! * `new+expiry`: a SYN that creates a connection while packet time runs, so that about 256k
//!   are live and `expire` (called once a second of packet time) ends one for each one made:
//!   the whole cost of a connection's life in the table.
//!
//! `cargo bench -p rampart-conn --bench table`

use std::hint::black_box;
use std::time::{Duration, Instant};

use conn::{ConnConfig, ConnLookup, ConnTable, NeedsParse};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flow::FlowKey;

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

fn key(f: &[u8]) -> FlowKey {
    FlowKey::from_frame(0, f).expect("a plain frame").0
}

fn track(t: &mut ConnTable, f: &[u8], now: u64) {
    let k = key(f);
    t.track_key(f, &k, 0, now, &mut |_| {})
        .expect("read from the key");
}

/// A table of `n` established connections and their ACKs (frame and key) in a random order.
fn established_table(n: u32) -> (ConnTable, Vec<([u8; 54], FlowKey)>) {
    let mut t = ConnTable::new(ConnConfig {
        max_connections: n,
        seed: Some(1),
        ..ConnConfig::default()
    });
    for i in 0..n {
        track(&mut t, &frame(src(i), 0x02, 1, 0, false), SEC);
        track(&mut t, &frame(src(i), 0x12, 100, 2, true), SEC);
        track(&mut t, &frame(src(i), 0x10, 2, 101, false), SEC);
    }
    assert_eq!(t.len(), n as usize);
    let mut order: Vec<u32> = (0..n).collect();
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    for i in (1..order.len()).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        order.swap(i, (s % (i as u64 + 1)) as usize);
    }
    let packets = order
        .iter()
        .map(|&i| {
            let f = frame(src(i), 0x10, 2, 101, false);
            (f, key(&f))
        })
        .collect();
    (t, packets)
}

fn established(c: &mut Criterion) {
    let mut g = c.benchmark_group("conn_table");
    g.sample_size(20).measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Elements(1));
    for n in [1_000u32, 100_000, 1_000_000] {
        let (mut t, packets) = established_table(n);
        let mut k = 0usize;
        g.bench_function(format!("established/{n}"), |b| {
            b.iter(|| {
                let (f, key) = &packets[k];
                k = if k + 1 == packets.len() { 0 } else { k + 1 };
                black_box(t.track_key(f, key, 0, 2 * SEC, &mut |_| {}))
            })
        });
        let mut at = 0usize;
        let mut lookups: [Result<ConnLookup, NeedsParse>; 32] = [Err(NeedsParse); 32];
        g.bench_function(format!("batched/{n}"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                let mut left = iters;
                while left > 0 {
                    let m = (left.min(32) as usize).min(packets.len() - at);
                    let batch = &packets[at..at + m];
                    for ((f, key), l) in batch.iter().zip(lookups.iter_mut()) {
                        *l = t.lookup_key(f, key, 0);
                        if let Ok(l) = l {
                            t.prefetch_index(l);
                        }
                    }
                    for l in lookups[..m].iter().flatten() {
                        t.prefetch_entry(l);
                    }
                    for l in lookups[..m].iter().flatten() {
                        black_box(t.track_lookup(l, 2 * SEC, &mut |_| {}));
                    }
                    at = if at + m == packets.len() { 0 } else { at + m };
                    left -= m as u64;
                }
                start.elapsed()
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
    let syns: Vec<([u8; 54], FlowKey)> = (0..CHUNK)
        .map(|i| {
            let f = frame(src(i), 0x02, 1, 0, false);
            (f, key(&f))
        })
        .collect();
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
                for (f, k) in &syns[..now] {
                    black_box(t.track_key(f, k, 0, SEC, &mut |_| {}).ok());
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

    // 1M distinct tuples sent round and round, 117 us of packet time apart: a tuple comes back
    // after 122 s, long after its connection timed out (30 s), so every SYN makes a
    // connection, and `expire` ends one for each.
    const TUPLES: u32 = 1 << 20;
    const STEP: u64 = 117_000;
    let syns: Vec<([u8; 54], FlowKey)> = (0..TUPLES)
        .map(|i| {
            let f = frame(src(i), 0x02, 1, 0, false);
            (f, key(&f))
        })
        .collect();
    let mut t = ConnTable::new(ConnConfig {
        max_connections: TUPLES,
        seed: Some(1),
        ..ConnConfig::default()
    });
    let mut now = SEC;
    let mut next_expire = now;
    let mut at = 0usize;
    let mut step = |t: &mut ConnTable, now: &mut u64, at: &mut usize| {
        *now += STEP;
        if *now >= next_expire {
            t.expire(*now, |r| {
                black_box(r);
            });
            next_expire += SEC;
        }
        let (f, k) = &syns[*at];
        *at = if *at + 1 == syns.len() { 0 } else { *at + 1 };
        black_box(t.track_key(f, k, 0, *now, &mut |_| {}).ok());
    };
    // To the steady state first.
    for _ in 0..TUPLES {
        step(&mut t, &mut now, &mut at);
    }
    let created = t.counters().created;
    let mut sent = 0u64;
    g.bench_function("new+expiry", |b| {
        b.iter(|| {
            step(&mut t, &mut now, &mut at);
            sent += 1;
        })
    });
    assert_eq!(
        t.counters().created - created,
        sent,
        "every packet made a connection"
    );
    g.finish();
}

criterion_group!(benches, established, new_connections);
criterion_main!(benches);
