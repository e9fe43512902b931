//! Scanner and threat-intelligence benchmarks, the figures the pipeline needs:
//!
//! * `stream/1460` — a [`FileScan`] fed 1,460-byte chunks (an HTTP body as TCP segments carry
//!   it) of 8 MiB of random bytes, with 1,000 body signatures (8-24 random bytes, a fifth with
//!   `??`, a tenth with `{n-m}`, as `shared/bench/scan/gen_sigs.py` makes them) and 2,000 hash
//!   signatures of random sizes; throughput is the cost per MB of body.
//!   Without a size hint every digest a hash signature uses is computed (here MD5);
//!   `stream/1460+size-hint` gives the size up front (a `Content-Length`), `+digests` computes
//!   MD5, SHA-1 and SHA-256 for a `fileinfo` record.
//! * `whole` — the same bytes with [`scan_bytes`] (the disk path).
//! * `intel/{ip,domain,url}` — one lookup in a set of 100,000 indicators of each kind.
//!
//! Run: `cargo bench -p rampart-scan --bench scan` (add `-- --quick` for a short run).

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use scan::{DbKind, Digests, FileScan, IntelSet, ScanLimits, SignatureSet, scan_bytes};

/// xorshift64*: deterministic bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn signatures(rng: &mut Rng) -> SignatureSet {
    let mut ndb = String::new();
    for i in 0..1000 {
        let n = 8 + (rng.next() % 17) as usize;
        let b = rng.bytes(n);
        let mut h: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
        match rng.next() % 10 {
            0 | 1 => h[3 + (rng.next() as usize % (n - 6))] = "??".into(),
            2 if n >= 10 => h.insert(4, format!("{{0-{}}}", 1 + rng.next() % 24)),
            _ => {}
        }
        ndb += &format!("Rand.Body.{i}:0:*:{}\n", h.concat());
    }
    let mut hdb = String::new();
    for i in 0..2000 {
        let size = 1024 + rng.next() % (20 << 20);
        hdb += &format!(
            "{:032x}:{size}:Rand.Hash.{i}\n",
            u128::from(rng.next()) << 64 | u128::from(rng.next())
        );
    }
    let mut b = SignatureSet::builder();
    b.add_text(DbKind::Ndb, &ndb, Path::new("bench.ndb"), false);
    b.add_text(DbKind::Hdb, &hdb, Path::new("bench.hdb"), false);
    let set = b.build();
    assert!(set.report().failed.is_empty(), "{:?}", set.report().failed);
    set
}

fn scanning(c: &mut Criterion) {
    let mut rng = Rng(0x5eed);
    let set = signatures(&mut rng);
    let body = rng.bytes(8 << 20);
    let mut g = c.benchmark_group("scan");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.sample_size(10);
    g.bench_function("stream/1460", |b| {
        b.iter(|| {
            let mut f = FileScan::new(&set, ScanLimits::default(), Digests::Needed);
            for chunk in body.chunks(1460) {
                black_box(f.feed(chunk));
            }
            black_box(f.finish())
        })
    });
    g.bench_function("stream/1460+size-hint", |b| {
        b.iter(|| {
            let mut f = FileScan::new(&set, ScanLimits::default(), Digests::Needed)
                .with_size_hint(body.len() as u64);
            for chunk in body.chunks(1460) {
                black_box(f.feed(chunk));
            }
            black_box(f.finish())
        })
    });
    g.bench_function("stream/1460+digests", |b| {
        b.iter(|| {
            let mut f = FileScan::new(&set, ScanLimits::default(), Digests::All);
            for chunk in body.chunks(1460) {
                black_box(f.feed(chunk));
            }
            black_box(f.finish())
        })
    });
    g.bench_function("whole", |b| {
        b.iter(|| {
            black_box(scan_bytes(
                &set,
                &body,
                ScanLimits::default(),
                Digests::Needed,
            ))
        })
    });
    g.finish();
}

fn intel(c: &mut Criterion) {
    let mut rng = Rng(0x1e7e1);
    let mut csv = String::new();
    for i in 0..100_000u64 {
        let r = rng.next();
        let len = [32, 24, 16, 28][(r % 4) as usize];
        csv += &format!(
            "ip,{}.{}.{}.{}/{len},n{i}\n",
            r >> 56,
            (r >> 48) as u8,
            (r >> 40) as u8,
            (r >> 32) as u8
        );
        csv += &format!("domain,d{:x}.example,d{i}\n", r);
        csv += &format!("url,http://u{:x}.example/p/{i}?q=1,u{i}\n", r);
    }
    let mut b = IntelSet::builder();
    b.add_csv(&csv, Path::new("bench.csv"), "bench");
    let set = b.build();
    assert!(set.report().failed.is_empty());
    let mut g = c.benchmark_group("intel");
    let ips: Vec<std::net::IpAddr> = (0..1024)
        .map(|_| std::net::IpAddr::from((rng.next() as u32).to_be_bytes()))
        .collect();
    let mut k = 0;
    g.bench_function("ip", |b| {
        b.iter(|| {
            k = (k + 1) & 1023;
            black_box(set.match_ip(ips[k]))
        })
    });
    g.bench_function("domain", |b| {
        b.iter(|| black_box(set.match_domain("www.login.some-bank.example.com")))
    });
    g.bench_function("url", |b| {
        b.iter(|| {
            black_box(set.match_url("http://www.some-bank.example.com/login/./index.php?x=1"))
        })
    });
    g.finish();
}

criterion_group!(benches, scanning, intel);
criterion_main!(benches);
