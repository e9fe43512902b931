//! Flow-layer benchmarks, shaped like the C reference in `shared/bench/fastpath`:
//!
//! * `emc_hit/{1k,100k}` — parse + key extraction + `lookup_batch` + `actions` + `record`
//!   for bursts of 32 frames cycling over N flows (1k: every lookup an EMC hit; 100k: the EMC,
//!   inserting with probability 1/100, mostly misses and the classifier answers).
//! * `megaflow/{S}_{first,last}/{M}` — classifier only (EMC off), S subtables, M megaflows;
//!   the traffic's subtable is ranked first or last (pinned with priorities).
//! * `install/{N}` — installing N new exact-match flows into an empty table.
//!
//! Run: `cargo bench -p rampart-flow --bench flow` (add `-- --quick` for a short run).

use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use etherparse::{PacketBuilder, VlanId};
use flow::{Action, Field, FlowId, FlowKey, FlowMask, FlowTable, FlowTableConfig};
use wire::parse_packet;

const BURST: usize = 32;

/// Frame `i` of the traffic: IPv4, half TCP half UDP, a quarter VLAN-tagged, 64 bytes.
fn frame(i: u32) -> Vec<u8> {
    let src = [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
    let dst = [172, 16, (i >> 8) as u8, (i * 7) as u8];
    let eth = PacketBuilder::ethernet2([2, 0, 0, 0, (i >> 8) as u8, i as u8], [2, 0, 0, 0, 0, 1]);
    let mut f = Vec::with_capacity(64);
    let sport = 1024 + (i % 50_000) as u16;
    match (i.is_multiple_of(4), i.is_multiple_of(2)) {
        (true, true) => eth
            .single_vlan(VlanId::try_new((i % 4000) as u16 + 1).unwrap())
            .ipv4(src, dst, 64)
            .tcp(sport, 80, i, 1000)
            .write(&mut f, &[])
            .unwrap(),
        (true, false) => eth
            .single_vlan(VlanId::try_new((i % 4000) as u16 + 1).unwrap())
            .ipv4(src, dst, 64)
            .udp(sport, 53)
            .write(&mut f, &[0; 4])
            .unwrap(),
        (false, true) => eth
            .ipv4(src, dst, 64)
            .tcp(sport, 443, i, 1000)
            .write(&mut f, &[])
            .unwrap(),
        (false, false) => eth
            .ipv4(src, dst, 64)
            .udp(sport, 4500)
            .write(&mut f, &[0; 10])
            .unwrap(),
    }
    f.resize(64, 0);
    f
}

fn port(i: u32) -> u16 {
    (i % 4) as u16
}

/// The pieces of `emc_hit/1000` on their own: parse + extract, and the table lookup of keys
/// already extracted.
fn bench_parts(c: &mut Criterion) {
    let mut g = c.benchmark_group("parts");
    g.throughput(Throughput::Elements(BURST as u64));
    let frames: Vec<Vec<u8>> = (0..1000).map(frame).collect();
    let mut next = 0usize;
    g.bench_function("parse_extract", |b| {
        b.iter(|| {
            let mut keys = [FlowKey::zero(); BURST];
            for slot in keys.iter_mut() {
                let f = &frames[next];
                *slot = FlowKey::extract(port(next as u32), f, &parse_packet(f));
                next = if next + 1 == frames.len() {
                    0
                } else {
                    next + 1
                };
            }
            black_box(&keys);
        })
    });
    let keys: Vec<FlowKey> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| FlowKey::extract(port(i as u32), f, &parse_packet(f)))
        .collect();
    let mut t = FlowTable::new(FlowTableConfig {
        emc_insert_inv_prob: 1,
        ..FlowTableConfig::default()
    });
    for k in &keys {
        t.install(k, &FlowMask::EXACT, 0, &[Action::Output(1)], 0, 0)
            .unwrap();
    }
    for k in &keys {
        t.lookup(k);
    }
    let mut res = [None::<FlowId>; BURST];
    g.bench_function("emc_lookup_batch", |b| {
        b.iter(|| {
            let start = next % (keys.len() - BURST);
            next += BURST;
            t.lookup_batch(&keys[start..start + BURST], &mut res);
            black_box(&res);
        })
    });
    g.finish();
}

fn bench_emc(c: &mut Criterion) {
    let mut g = c.benchmark_group("emc_hit");
    g.throughput(Throughput::Elements(BURST as u64));
    for n in [1_000u32, 100_000] {
        let frames: Vec<Vec<u8>> = (0..n).map(frame).collect();
        let mut t = FlowTable::new(FlowTableConfig {
            emc_insert_inv_prob: if n <= 8192 { 1 } else { 100 },
            max_flows: n as usize,
            ..FlowTableConfig::default()
        });
        for (i, f) in frames.iter().enumerate() {
            let k = FlowKey::extract(port(i as u32), f, &parse_packet(f));
            t.install(&k, &FlowMask::EXACT, 0, &[Action::Output(1)], 0, 0)
                .unwrap();
        }
        // Warm: one pass to fill the EMC.
        let mut keys = [FlowKey::zero(); BURST];
        let mut res = [None::<FlowId>; BURST];
        let mut next = 0usize;
        let mut burst = |t: &mut FlowTable| {
            let mut bytes = 0u64;
            for slot in keys.iter_mut() {
                let f = &frames[next];
                let p = parse_packet(f);
                *slot = FlowKey::extract(port(next as u32), f, &p);
                next = if next + 1 == frames.len() {
                    0
                } else {
                    next + 1
                };
            }
            t.lookup_batch(&keys, &mut res);
            for r in res.iter().flatten() {
                bytes += t.actions(*r).len() as u64;
                t.record(*r, 64, 0, 1);
            }
            bytes
        };
        for _ in 0..(2 * n as usize / BURST + 1) {
            burst(&mut t);
        }
        let warm = *t.counters();
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| black_box(burst(&mut t)))
        });
        let cn = t.counters();
        let (hits, misses) = (cn.emc_hits - warm.emc_hits, cn.emc_misses - warm.emc_misses);
        eprintln!(
            "emc_hit/{n}: EMC hit rate {:.1}% after warm-up, megaflow misses {}",
            100.0 * hits as f64 / (hits + misses).max(1) as f64,
            cn.megaflow_misses
        );
    }
    g.finish();
}

/// The traffic's mask: in_port, VLAN, dl_type, proto, frag, both addresses, both ports.
fn target_mask() -> FlowMask {
    [
        Field::InPort,
        Field::Vlan,
        Field::DlType,
        Field::NwProto,
        Field::NwFrag,
        Field::NwSrc,
        Field::NwDst,
        Field::TpSrc,
        Field::TpDst,
    ]
    .into_iter()
    .fold(FlowMask::CATCHALL, FlowMask::with)
}

/// Distinct non-target masks: in_port + dl_type + proto + an nw_src prefix (+ tp_dst, + nw_dst).
fn other_mask(j: u32) -> FlowMask {
    let mut m = FlowMask::CATCHALL
        .with(Field::InPort)
        .with(Field::DlType)
        .with(Field::NwProto)
        .with_nw_src_prefix(1 + (j % 32) as u8);
    if j >= 32 {
        m = m.with(Field::TpDst);
    }
    if j >= 64 {
        m = m.with(Field::NwDst);
    }
    m
}

fn bench_megaflow(c: &mut Criterion) {
    let mut g = c.benchmark_group("megaflow");
    g.throughput(Throughput::Elements(BURST as u64));
    for (s, total) in [
        (1u32, 1_000u32),
        (10, 1_000),
        (50, 1_000),
        (1, 1_000_000),
        (10, 1_000_000),
    ] {
        for last in [false, true] {
            if s == 1 && last {
                continue;
            }
            let per = total / s;
            let mut t = FlowTable::new(FlowTableConfig {
                emc_entries: 0,
                emc_insert_inv_prob: 0,
                max_flows: total as usize,
                idle_timeout_ns: 0,
            });
            let frames: Vec<Vec<u8>> = (0..per).map(frame).collect();
            let keys: Vec<FlowKey> = frames
                .iter()
                .enumerate()
                .map(|(i, f)| FlowKey::extract(port(i as u32), f, &parse_packet(f)))
                .collect();
            // Pin the order: the traffic's subtable has the highest priority when "first" and
            // the lowest when "last".
            let (tp, op) = if last { (0, 1) } else { (1, 0) };
            for k in &keys {
                t.install(k, &target_mask(), tp, &[Action::Output(1)], 0, 0)
                    .unwrap();
            }
            let mut x = 0x2545_f491_4f6c_dd1du64;
            for j in 0..s - 1 {
                for e in 0..per {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let mut k = FlowKey::zero();
                    // in_port values the traffic never uses.
                    k.set_in_port(1000 + ((j * per + e) % 60_000) as u16);
                    k.set_dl_type(0x0800);
                    k.set_nw_proto(6);
                    k.set_ipv4_src((x as u32).to_be_bytes());
                    k.set_ipv4_dst(((x >> 32) as u32).to_be_bytes());
                    k.set_tp_dst(x as u16);
                    // Duplicates under a narrow mask just update in place.
                    let _ = t.install(&k, &other_mask(j), op, &[Action::Output(2)], 0, 0);
                }
            }
            assert_eq!(t.subtable_count(), s as usize);
            let mut res = [None::<FlowId>; BURST];
            let mut next = 0usize;
            let name = format!("{s}_{}/{total}", if last { "last" } else { "first" });
            g.bench_function(&name, |b| {
                b.iter(|| {
                    let n = keys.len();
                    let mut burst = [FlowKey::zero(); BURST];
                    for k in burst.iter_mut() {
                        *k = keys[next];
                        next = if next + 1 == n { 0 } else { next + 1 };
                    }
                    t.lookup_batch(&burst, &mut res);
                    black_box(&res);
                })
            });
            let cn = t.counters();
            assert_eq!(cn.megaflow_misses, 0);
            eprintln!(
                "megaflow/{name}: {:.2} subtables probed per lookup",
                cn.subtables_probed as f64 / cn.megaflow_hits.max(1) as f64
            );
        }
    }
    g.finish();
}

fn bench_install(c: &mut Criterion) {
    let mut g = c.benchmark_group("install");
    g.sample_size(10);
    for n in [1_000u32, 100_000, 1_000_000] {
        let keys: Vec<FlowKey> = (0..n)
            .map(|i| {
                let mut k = FlowKey::zero();
                k.set_in_port(port(i));
                k.set_dl_type(0x0800);
                k.set_nw_proto(17);
                k.set_ipv4_src(i.to_be_bytes());
                k.set_ipv4_dst([10, 0, 0, 1]);
                k.set_tp_src((i >> 16) as u16);
                k.set_tp_dst(53);
                k
            })
            .collect();
        let cfg = FlowTableConfig {
            max_flows: n as usize,
            ..FlowTableConfig::default()
        };
        g.throughput(Throughput::Elements(u64::from(n)));
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter_batched(
                || FlowTable::new(cfg),
                |mut t| {
                    for k in &keys {
                        let _ = t.install(k, &FlowMask::EXACT, 0, &[Action::Output(1)], 0, 0);
                    }
                    t
                },
                BatchSize::PerIteration,
            )
        });
        let mut t = FlowTable::new(cfg);
        for k in &keys {
            t.install(k, &FlowMask::EXACT, 0, &[Action::Output(1)], 0, 0)
                .unwrap();
        }
        eprintln!(
            "install/{n}: {} bytes per flow",
            t.memory_bytes() / t.len().max(1)
        );
    }
    g.finish();
}

criterion_group!(
    benches,
    bench_parts,
    bench_emc,
    bench_megaflow,
    bench_install
);
criterion_main!(benches);
