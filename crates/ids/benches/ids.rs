//! IDS rule loading and matching, on the benchmark kit's rules (`../shared/bench/ids`) and the
//! payloads of its capture: parse 1,000 rules; build the matcher; inspect real packet payloads
//! with the prefilter's Aho-Corasick kinds; the prefilter scan alone (Aho-Corasick kinds and
//! the Teddy packed searcher); pcre through the regex crate against PCRE2-JIT.
//!
//! Run: `cargo bench -p rampart-ids --bench ids`. Without the kit it prints why and measures
//! nothing.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind, packed};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ids::detect::{
    Alerts, AppProto, BufferId, BufferList, BuildOptions, Engine, FlowDirection, PacketContext,
    RegexEngine,
};
use ids::rules::{Classifications, Inspect, RuleSet, Vars};

fn kit() -> Option<PathBuf> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    ["../shared", "../../shared"]
        .iter()
        .map(|s| repo.join(s).join("bench/ids"))
        .find(|p| p.join("rules/rules-1000.rules").exists())
}

fn vars(kit: &Path) -> Vars {
    let mut v = Vars::suricata_defaults();
    v.load_yaml(&kit.join("suricata/suricata.yaml")).unwrap();
    v
}

/// (ip proto, dst port, payload) of the first `n` packets with a payload in a classic pcap of
/// Ethernet/IPv4 frames.
fn payloads(pcap: &Path, n: usize) -> Vec<(u8, u16, Vec<u8>)> {
    let data = std::fs::read(pcap).unwrap();
    let mut out = Vec::new();
    let mut i = 24;
    while i + 16 <= data.len() && out.len() < n {
        let caplen = u32::from_le_bytes(data[i + 8..i + 12].try_into().unwrap()) as usize;
        let Some(f) = data.get(i + 16..i + 16 + caplen) else {
            break;
        };
        i += 16 + caplen;
        if f.len() < 34 || f[12..14] != [8, 0] {
            continue;
        }
        let ihl = usize::from(f[14] & 15) * 4;
        let proto = f[23];
        let l4 = 14 + ihl;
        let (hdr, dport) = match proto {
            6 if f.len() >= l4 + 20 => (
                usize::from(f[l4 + 12] >> 4) * 4,
                u16::from_be_bytes([f[l4 + 2], f[l4 + 3]]),
            ),
            17 if f.len() >= l4 + 8 => (8, u16::from_be_bytes([f[l4 + 2], f[l4 + 3]])),
            _ => continue,
        };
        if let Some(p) = f.get(l4 + hdr..).filter(|p| !p.is_empty()) {
            out.push((proto, dport, p.to_vec()));
        }
    }
    out
}

/// Crude HTTP request buffers (method, URI, headers) for payloads that start like a request.
fn http_buffers(p: &[u8]) -> BufferList<'_> {
    let mut b = BufferList::new(AppProto::Http);
    if let Some(sp) = p.iter().position(|&c| c == b' ') {
        let method = &p[..sp];
        if method.iter().all(u8::is_ascii_uppercase) && !method.is_empty() {
            b = b.with(BufferId::HttpMethod, method);
            let rest = &p[sp + 1..];
            let end = rest.iter().position(|&c| c == b' ').unwrap_or(rest.len());
            b = b.with(BufferId::HttpUri, &rest[..end]);
            if let Some(h) = rest.windows(2).position(|w| w == b"\r\n") {
                b = b.with(BufferId::HttpHeader, &rest[h + 2..]);
            }
        }
    }
    b
}

fn bench(c: &mut Criterion) {
    let Some(kit) = kit() else {
        eprintln!("skipped: the IDS benchmark kit (../shared/bench/ids) is absent");
        return;
    };
    let vars = vars(&kit);
    let classes = Classifications::suricata_default();
    let rules_path = kit.join("rules/rules-1000.rules");
    let text = std::fs::read_to_string(&rules_path).unwrap();
    let mut g = c.benchmark_group("ids_load");
    g.sample_size(10);
    g.bench_function("parse_1000_rules", |b| {
        b.iter(|| {
            let mut set = RuleSet::default();
            set.add_source(&rules_path, black_box(&text), &vars, &classes);
            assert_eq!(set.rules.len(), 1000);
        })
    });
    let set = RuleSet::load(std::slice::from_ref(&rules_path), &vars, &classes).unwrap();
    g.bench_function("build_engine_1000_rules", |b| {
        b.iter(|| black_box(Engine::build(&set.rules)))
    });
    g.finish();

    let packets = payloads(&kit.join("data/small.pcap"), 3000);
    let bytes: usize = packets.iter().map(|p| p.2.len()).sum();
    let mut g = c.benchmark_group("ids_inspect_1000_rules");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(10);
    for (name, kind) in [
        ("default", None),
        ("dfa", Some(AhoCorasickKind::DFA)),
        ("contiguous_nfa", Some(AhoCorasickKind::ContiguousNFA)),
        ("noncontiguous_nfa", Some(AhoCorasickKind::NoncontiguousNFA)),
    ] {
        let (engine, _) = Engine::build_with(
            &set.rules,
            BuildOptions {
                prefilter_kind: kind,
                ..BuildOptions::default()
            },
        );
        let mut flow = engine.new_flow_state();
        let mut th = engine.new_threshold_state();
        let mut scratch = engine.new_scratch();
        let mut alerts = Alerts::default();
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut n = 0usize;
                for (proto, dport, p) in &packets {
                    let bufs = http_buffers(p);
                    let pkt = PacketContext {
                        src: [10, 1, 1, 1].into(),
                        dst: [10, 2, 2, 2].into(),
                        src_port: 40000,
                        dst_port: *dport,
                        ip_proto: *proto,
                        direction: FlowDirection::ToServer,
                        established: true,
                        tcp_flags: 0x18,
                        payload: p,
                        stream_added: false,
                        fragment: false,
                        time_ns: 0,
                    };
                    let v =
                        engine.inspect(&pkt, &bufs, &mut flow, &mut th, &mut scratch, &mut alerts);
                    n += v.candidates as usize + alerts.as_slice().len();
                }
                black_box(n)
            })
        });
    }
    g.finish();

    // The prefilter scan alone: every content of the 1,000 rules as patterns.
    let mut pats: Vec<Vec<u8>> = set
        .rules
        .iter()
        .flat_map(|r| r.buffers.iter().flat_map(|b| b.keywords.iter()))
        .filter_map(|k| match k {
            Inspect::Content(c) if !c.negated => Some(c.pattern.to_ascii_lowercase()),
            _ => None,
        })
        .collect();
    pats.sort();
    pats.dedup();
    let mut g = c.benchmark_group(format!("ids_scan_{}_patterns", pats.len()));
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(10);
    for (name, kind) in [
        ("dfa_overlapping", AhoCorasickKind::DFA),
        ("contiguous_nfa_overlapping", AhoCorasickKind::ContiguousNFA),
    ] {
        let ac: AhoCorasick = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(Some(kind))
            .build(&pats)
            .unwrap();
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut n = 0;
                for (_, _, p) in &packets {
                    n += ac.find_overlapping_iter(p).count();
                }
                black_box(n)
            })
        });
    }
    // Teddy (leftmost-first, non-overlapping: it can miss patterns that overlap others, so
    // the engine cannot use it as is; measured for scale).
    let teddy = packed::Config::new()
        .match_kind(packed::MatchKind::LeftmostFirst)
        .builder()
        .extend(&pats)
        .build();
    if let Some(teddy) = teddy {
        g.bench_function("packed_teddy_leftmost", |b| {
            b.iter(|| {
                let mut n = 0;
                for (_, _, p) in &packets {
                    n += teddy.find_iter(p).count();
                }
                black_box(n)
            })
        });
    } else {
        eprintln!("packed searcher declined {} patterns", pats.len());
    }
    g.finish();

    // Each pcre of the rule set run over every payload, by both engines (those regex
    // compiles; flags i, s, m as the rules give them).
    let exprs: Vec<_> = set
        .rules
        .iter()
        .flat_map(|r| r.buffers.iter().flat_map(|b| b.keywords.iter()))
        .filter_map(|k| match k {
            Inspect::Pcre(p) => Some(p.clone()),
            _ => None,
        })
        .filter_map(|p| {
            let r = regex::bytes::RegexBuilder::new(&p.source)
                .unicode(false)
                .case_insensitive(p.caseless)
                .dot_matches_new_line(p.dotall)
                .multi_line(p.multiline)
                .build()
                .ok()?;
            let c = pcre2::bytes::RegexBuilder::new()
                .caseless(p.caseless)
                .dotall(p.dotall)
                .multi_line(p.multiline)
                .utf(false)
                .jit_if_available(true)
                .build(&p.source)
                .ok()?;
            Some((r, c))
        })
        .collect();
    let mut g = c.benchmark_group(format!(
        "ids_regex_{}_expressions_every_payload",
        exprs.len()
    ));
    g.throughput(Throughput::Bytes((bytes * exprs.len()) as u64));
    g.sample_size(10);
    g.bench_function("regex_crate", |b| {
        b.iter(|| {
            let mut n = 0;
            for (r, _) in &exprs {
                for (_, _, p) in &packets {
                    n += usize::from(r.find(p).is_some());
                }
            }
            black_box(n)
        })
    });
    g.bench_function("pcre2_jit", |b| {
        b.iter(|| {
            let mut n = 0;
            for (_, c) in &exprs {
                for (_, _, p) in &packets {
                    n += usize::from(matches!(c.find(p), Ok(Some(_))));
                }
            }
            black_box(n)
        })
    });
    g.finish();

    // pcre: the rule set's expressions, each engine where it compiles.
    let pcre_rules: Vec<_> = set
        .rules
        .iter()
        .filter(|r| {
            r.buffers
                .iter()
                .any(|b| b.keywords.iter().any(|k| matches!(k, Inspect::Pcre(_))))
        })
        .cloned()
        .collect();
    let mut g = c.benchmark_group(format!("ids_pcre_{}_rules", pcre_rules.len()));
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(10);
    for (name, eng) in [
        ("regex_crate_where_possible", None),
        ("pcre2_jit_all", Some(RegexEngine::Pcre2)),
    ] {
        let (engine, errs) = Engine::build_with(
            &pcre_rules,
            BuildOptions {
                regex_engine: eng,
                ..BuildOptions::default()
            },
        );
        assert!(errs.is_empty());
        let st = engine.stats();
        eprintln!(
            "{name}: {} via regex, {} via pcre2",
            st.pcre_rust, st.pcre_pcre2
        );
        let mut flow = engine.new_flow_state();
        let mut th = engine.new_threshold_state();
        let mut scratch = engine.new_scratch();
        let mut alerts = Alerts::default();
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut n = 0usize;
                for (proto, dport, p) in &packets {
                    let bufs = http_buffers(p);
                    let pkt = PacketContext {
                        src: [10, 1, 1, 1].into(),
                        dst: [10, 2, 2, 2].into(),
                        src_port: 40000,
                        dst_port: *dport,
                        ip_proto: *proto,
                        direction: FlowDirection::ToServer,
                        established: true,
                        tcp_flags: 0x18,
                        payload: p,
                        stream_added: false,
                        fragment: false,
                        time_ns: 0,
                    };
                    engine.inspect(&pkt, &bufs, &mut flow, &mut th, &mut scratch, &mut alerts);
                    n += alerts.as_slice().len();
                }
                black_box(n)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
