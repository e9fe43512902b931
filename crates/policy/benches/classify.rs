//! Rule classifier benchmarks: a connection's first packet judged against policies of 10, 100
//! and 1,000 rules.
//!
//! The policies are generated (a fixed seed) as TOML text and loaded through the real parser:
//! 8 zones of a /16 each plus `wan`; rules with a random `from` and `to` (a zone, `wan` or
//! `any`), often source and destination prefixes, and TCP/UDP ports, port ranges, ICMP types
//! or two-service groups; every action. The packets (1,024, cycled) go between the zones and
//! the WAN with ports the rules use, so some match early rules, some late ones and some none.
//!
//! * `classify/{N}`: `Policy::classify` on packets whose zones are already resolved.
//! * `classify_default/{N}`: the packets of the mix that no rule matches (the default, after
//!   a lookup in every field and the whole intersection).
//! * `linear/{N}`: the peer, `Model::first_match`, which tries every rule in order (the
//!   reference the classifier is tested against).
//! * `zones_and_classify/{N}`: both zones by longest prefix, then `classify`: the policy's
//!   whole share of a new connection's setup.
//!
//! Times are the benchmark thread's own CPU time (`CLOCK_THREAD_CPUTIME_ID`), not wall-clock
//! time: on a shared machine a thread waiting for a core would otherwise be charged for it.
//! Each iteration classifies a whole set of packets; the throughput line gives lookups per
//! second (ns per lookup = 1000 / Melem/s).
//!
//! Run: `cargo bench -p rampart-policy --bench classify` (add `-- --quick` for a short run).

use std::fmt::Write;
use std::hint::black_box;
use std::net::IpAddr;
use std::path::Path;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use policy::{ConnState, Document, FirstPacket, Policy, Transport};

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const ZONES: u64 = 8;
const PORTS: [u16; 12] = [22, 25, 53, 80, 123, 443, 3306, 5432, 6379, 8080, 8443, 9200];

fn zone_ref(r: &mut Rng) -> String {
    match r.below(10) {
        0..=2 => "\"any\"".into(),
        3 => "\"wan\"".into(),
        _ => format!("\"z{}\"", r.below(ZONES)),
    }
}

fn prefix(r: &mut Rng) -> String {
    let z = r.below(ZONES);
    match r.below(3) {
        0 => format!("\"10.{z}.{}.0/24\"", r.below(256)),
        1 => format!("\"10.{z}.{}.{}/28\"", r.below(256), r.below(16) * 16),
        _ => format!("\"10.{z}.{}.{}\"", r.below(256), r.below(256)),
    }
}

/// A policy of `n` rules as TOML.
fn policy_text(n: usize, seed: u64) -> String {
    let mut r = Rng(seed);
    let mut t = String::new();
    for z in 0..ZONES {
        let _ = writeln!(
            t,
            "[[zone]]\nname = \"z{z}\"\nmembers = [\"10.{z}.0.0/16\"]\n"
        );
    }
    t += "[[service]]\nname = \"dns\"\nproto = [\"tcp\", \"udp\"]\nports = 53\n\n";
    t += "[[service]]\nname = \"web\"\nproto = \"tcp\"\nports = [80, 443, \"8000-8443\"]\n\n";
    t += "[[service]]\nname = \"ping\"\nproto = \"icmp\"\nicmp_type = \"echo-request\"\n\n";
    let actions = ["allow", "deny", "reject", "alert", "drop-alert"];
    for _ in 0..n {
        t += "[[rule]]\n";
        let _ = writeln!(t, "from = {}", zone_ref(&mut r));
        let _ = writeln!(t, "to = {}", zone_ref(&mut r));
        if r.chance(40) {
            let _ = writeln!(t, "source = [{}]", prefix(&mut r));
        }
        if r.chance(50) {
            let _ = writeln!(t, "destination = [{}, {}]", prefix(&mut r), prefix(&mut r));
        }
        match r.below(20) {
            0..=7 => {
                let _ = writeln!(
                    t,
                    "proto = \"tcp\"\nports = {}",
                    PORTS[r.below(12) as usize]
                );
            }
            8..=10 => {
                let lo = 1000 + r.below(30000);
                let _ = writeln!(
                    t,
                    "proto = \"tcp\"\nports = \"{lo}-{}\"",
                    lo + r.below(2000)
                );
            }
            11..=14 => {
                let _ = writeln!(
                    t,
                    "proto = \"udp\"\nports = [{}, {}]",
                    PORTS[r.below(12) as usize],
                    1024 + r.below(60000)
                );
            }
            15 => t += "proto = \"icmp\"\nicmp_type = 8\n",
            16 => t += "proto = \"sctp\"\n",
            _ => t += "services = [\"dns\", \"web\", \"ping\"]\n",
        }
        let _ = writeln!(t, "action = \"{}\"\n", actions[r.below(5) as usize]);
    }
    t += "[default]\naction = \"deny\"\n";
    t
}

fn compile(n: usize) -> Policy {
    let doc = Document::parse(policy_text(n, 7), Path::new("bench.toml")).expect("parses");
    Policy::compile(doc.validate(None).expect("validates"), None).policy
}

fn host(r: &mut Rng) -> IpAddr {
    if r.chance(20) {
        IpAddr::from([198, 51, 100, r.below(256) as u8])
    } else {
        IpAddr::from([
            10,
            r.below(ZONES) as u8,
            r.below(256) as u8,
            r.below(256) as u8,
        ])
    }
}

/// 1,024 first packets with zones resolved by `p`.
fn packets(p: &Policy, seed: u64) -> Vec<FirstPacket> {
    let mut r = Rng(seed);
    (0..1024)
        .map(|_| {
            let (src, dst) = (host(&mut r), host(&mut r));
            let (proto, transport) = match r.below(10) {
                0..=5 => (
                    6,
                    Transport::Ports {
                        src: 32768 + r.below(28000) as u16,
                        dst: PORTS[r.below(12) as usize],
                    },
                ),
                6..=8 => (
                    17,
                    Transport::Ports {
                        src: 32768 + r.below(28000) as u16,
                        dst: PORTS[r.below(12) as usize],
                    },
                ),
                _ => (1, Transport::Icmp { ty: 8, code: 0 }),
            };
            FirstPacket {
                src_zone: p.zones().by_ip(src),
                dst_zone: p.zones().by_ip(dst),
                src,
                dst,
                proto,
                transport,
                state: ConnState::New,
            }
        })
        .collect()
}

/// The calling thread's CPU time.
mod cpu_clock {
    /// Nanoseconds of CPU time the calling thread has used (0 if the clock cannot be read).
    pub fn thread_ns() -> u64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec that outlives the call; the kernel writes
        // only into it. CLOCK_THREAD_CPUTIME_ID needs no other argument.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        if rc != 0 {
            return 0;
        }
        (ts.tv_sec as u64).saturating_mul(1_000_000_000) + ts.tv_nsec as u64
    }
}

/// Criterion measurement: the thread's CPU time, in nanoseconds.
struct ThreadCpu;

impl Measurement for ThreadCpu {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        cpu_clock::thread_ns()
    }
    fn end(&self, start: u64) -> u64 {
        cpu_clock::thread_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

/// Formats CPU nanoseconds as criterion formats wall time.
struct CpuFormatter;

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, ns: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = if ns < 1e3 {
            (1.0, "ns")
        } else if ns < 1e6 {
            (1e-3, "µs")
        } else {
            (1e-6, "ms")
        };
        for v in values {
            *v *= factor;
        }
        unit
    }
    fn scale_throughputs(&self, _typical: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        let n = match *t {
            Throughput::Elements(n) | Throughput::ElementsAndBytes { elements: n, .. } => n,
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) | Throughput::Bits(n) => n,
        } as f64;
        for v in values {
            *v = n * 1e3 / v.max(1.0);
        }
        "Melem/s"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn bench(c: &mut Criterion<ThreadCpu>) {
    for n in [10usize, 100, 1000] {
        let p = compile(n);
        let all = packets(&p, 11);
        let hits = all
            .iter()
            .filter(|pk| p.classify(pk).rule.is_some())
            .count();
        // Packets for the default: those of the mix that no rule matches. They go through
        // every field and the whole intersection (a protocol or port no rule names would be
        // decided by one empty field instead).
        let misses: Vec<FirstPacket> = all
            .iter()
            .filter(|pk| p.classify(pk).rule.is_none())
            .copied()
            .collect();
        eprintln!(
            "{n} rules: {} entries, {} bit vectors, {} KiB; {hits}/1024 packets match a rule; \
             {} default packets",
            p.classifier().entries(),
            p.classifier().vectors(),
            p.classifier().memory_bytes() / 1024,
            misses.len()
        );

        let mut g = c.benchmark_group("classify");
        g.throughput(Throughput::Elements(all.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &all, |b, pk| {
            b.iter(|| {
                for x in pk {
                    black_box(p.classify(black_box(x)));
                }
            })
        });
        g.finish();

        let mut g = c.benchmark_group("classify_default");
        g.throughput(Throughput::Elements(misses.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &misses, |b, pk| {
            b.iter(|| {
                for x in pk {
                    black_box(p.classify(black_box(x)));
                }
            })
        });
        g.finish();

        // The peer: trying every rule in order (the reference the classifier is tested against).
        let m = p.model();
        let mut g = c.benchmark_group("linear");
        g.throughput(Throughput::Elements(all.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &all, |b, pk| {
            b.iter(|| {
                for x in pk {
                    black_box(m.first_match(black_box(x)));
                }
            })
        });
        g.finish();

        let mut g = c.benchmark_group("zones_and_classify");
        g.throughput(Throughput::Elements(all.len() as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &all, |b, pk| {
            b.iter(|| {
                for x in pk {
                    let x = black_box(x);
                    let z = p.zones();
                    let q = FirstPacket {
                        src_zone: z.by_ip(x.src),
                        dst_zone: z.by_ip(x.dst),
                        ..*x
                    };
                    black_box(p.classify(&q));
                }
            })
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpu);
    targets = bench
}
criterion_main!(benches);
