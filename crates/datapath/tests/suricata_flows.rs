//! `replay --eve` writes the flow records Suricata 7 writes for the same capture.
//!
//! Each capture is replayed with the built-in defaults (the VM ports carry every VLAN as it
//! came, so the bridge-internal VLAN is the wire tag) and run through
//! `suricata -r FILE -S /dev/null -k none` with a configuration that writes only EVE `flow`
//! events (`crates/conn/tests/data/suricata-flow.yaml`). Both must give the same connections
//! (tuple and initiator), the same packet and byte counts per direction, the same state and
//! reason; with one worker and with two.
//!
//! Differences that are by design (see `crates/conn/tests/suricata.rs` for the table alone):
//! Suricata keys ICMP echo by address pair, not identifier (ours are summed per pair); it logs
//! a reused TCP tuple with reason `timeout` where we write `tcp_reuse`; it gives ICMPv6 errors
//! flows of their own where we relate them to the connection they quote. And one gap: the
//! datapath does not decapsulate tunnels, so Suricata's flows *inside* VXLAN are left out
//! (counted and printed).
//!
//! Captures: the repository's samples and those of `crates/conn/tests/data/` (real traffic
//! recorded in network namespaces). Without `suricata` the test prints why it skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use capture::CaptureReader;
use datapath::replay::{ReplayOptions, replay};
use wire::{TunnelKind, parse_link, parse_packet};

/// VLAN, protocol, initiator, its port (ICMP type for ICMP), responder, its port, and the
/// start in microseconds for TCP (a reused tuple gives two flows).
type Key = (u16, String, String, u16, String, u16, u64);

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Summary {
    pkts_toserver: u64,
    pkts_toclient: u64,
    bytes_toserver: u64,
    bytes_toclient: u64,
    state: String,
    reason: String,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

fn suricata() -> Option<PathBuf> {
    let out = Command::new("sh")
        .args(["-c", "command -v suricata"])
        .output()
        .ok()?;
    let path = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!path.is_empty()).then(|| PathBuf::from(path))
}

fn canon(ip: &str) -> String {
    ip.parse::<IpAddr>()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| ip.to_string())
}

/// The flow events of an EVE file, keyed; echo flows of one address pair summed.
fn flows_of(
    eve: &str,
    skip: impl Fn(&serde_json::Value) -> bool,
) -> (BTreeMap<Key, Summary>, usize) {
    let mut flows: BTreeMap<Key, Summary> = BTreeMap::new();
    let mut skipped = 0;
    for line in eve.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["event_type"] != "flow" {
            continue;
        }
        if skip(&v) {
            skipped += 1;
            continue;
        }
        let proto = v["proto"].as_str().unwrap().to_string();
        let icmp_type = v["icmp_type"].as_u64();
        let f = &v["flow"];
        let start = events::Timestamp::parse_eve(f["start"].as_str().unwrap()).unwrap();
        let key = (
            v["vlan"]
                .as_array()
                .and_then(|a| a.first())
                .and_then(|x| x.as_u64())
                .unwrap_or(0) as u16,
            proto.clone(),
            canon(v["src_ip"].as_str().unwrap()),
            v["src_port"].as_u64().or(icmp_type).unwrap_or(0) as u16,
            canon(v["dest_ip"].as_str().unwrap()),
            v["dest_port"].as_u64().unwrap_or(0) as u16,
            if proto == "TCP" {
                start.secs() as u64 * 1_000_000 + u64::from(start.nanos() / 1000)
            } else {
                0
            },
        );
        let e = flows.entry(key).or_default();
        e.pkts_toserver += f["pkts_toserver"].as_u64().unwrap();
        e.pkts_toclient += f["pkts_toclient"].as_u64().unwrap();
        e.bytes_toserver += f["bytes_toserver"].as_u64().unwrap();
        e.bytes_toclient += f["bytes_toclient"].as_u64().unwrap();
        let state = f["state"].as_str().unwrap();
        if e.state.is_empty() || state == "established" {
            e.state = state.to_string();
        }
        e.reason = match f["reason"].as_str().unwrap() {
            "tcp_reuse" => "timeout".to_string(),
            r => r.to_string(),
        };
    }
    (flows, skipped)
}

/// The address pairs of frames carried inside VXLAN in `capture` (Suricata's inner flows).
fn tunnelled_pairs(capture: &Path) -> BTreeSet<(String, String)> {
    let mut pairs = BTreeSet::new();
    let mut r = CaptureReader::open(capture).unwrap();
    while let Some(pkt) = r.next_packet().unwrap() {
        let p = parse_link(pkt.data, pkt.link);
        if p.tunnel.kind == TunnelKind::Vxlan {
            let inner = &pkt.data[usize::from(p.tunnel.inner_offset)..];
            let q = parse_packet(inner);
            let addrs = match q.l3 {
                wire::L3::Ipv4 => q
                    .ipv4_addrs(inner)
                    .map(|(s, d)| (IpAddr::from(s), IpAddr::from(d))),
                wire::L3::Ipv6 => q
                    .ipv6_addrs(inner)
                    .map(|(s, d)| (IpAddr::from(s), IpAddr::from(d))),
                _ => None,
            };
            if let Some((s, d)) = addrs {
                pairs.insert((s.to_string(), d.to_string()));
                pairs.insert((d.to_string(), s.to_string()));
            }
        }
    }
    pairs
}

fn compare(capture: &Path) {
    let Some(bin) = suricata() else {
        println!("skipped: `suricata` not found in PATH (scripts/setup installs it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = repo().join("crates/conn/tests/data/suricata-flow.yaml");
    let out = Command::new(&bin)
        .arg("-c")
        .arg(&cfg)
        .arg("-r")
        .arg(capture)
        .args(["-S", "/dev/null", "-k", "none", "--runmode", "single", "-l"])
        .arg(dir.path())
        .output()
        .expect("run suricata");
    assert!(
        out.status.success(),
        "suricata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs_text = std::fs::read_to_string(dir.path().join("eve.json")).unwrap();
    let inner = tunnelled_pairs(capture);
    let (theirs, left_out) = flows_of(&theirs_text, |v| {
        let icmp6_error = v["proto"] == "IPv6-ICMP"
            && v["icmp_type"]
                .as_u64()
                .is_some_and(|t| (1..=4).contains(&t));
        let pair = (
            canon(v["src_ip"].as_str().unwrap_or("")),
            canon(v["dest_ip"].as_str().unwrap_or("")),
        );
        icmp6_error || inner.contains(&pair)
    });
    let mut first_eve: Option<String> = None;
    for workers in [1, 2, 3] {
        let eve = dir.path().join(format!("ours-{workers}.json"));
        replay(
            capture,
            ReplayOptions {
                eve: Some(eve.clone()),
                workers: Some(workers),
                ..Default::default()
            },
            &mut |_| {},
        )
        .unwrap();
        let text = std::fs::read_to_string(&eve).unwrap();
        // Every event in the same order, byte for byte, for any worker count (the `stats`
        // line counts per-worker caches, which differ).
        let events: String = text
            .lines()
            .filter(|l| !l.contains(r#""event_type":"stats""#))
            .map(|l| format!("{l}\n"))
            .collect();
        match &first_eve {
            None => first_eve = Some(events),
            Some(one) => assert!(
                *one == events,
                "{}: EVE with {workers} workers differs from 1 worker's",
                capture.display()
            ),
        }
        let (ours, _) = flows_of(&text, |_| false);
        let mut diffs = Vec::new();
        for (k, s) in &theirs {
            match ours.get(k) {
                None => diffs.push(format!("only Suricata: {k:?} {s:?}")),
                Some(o) if o != s => diffs.push(format!(
                    "differs: {k:?}\n  suricata {s:?}\n  ours     {o:?}"
                )),
                Some(_) => {}
            }
        }
        for (k, o) in &ours {
            if !theirs.contains_key(k) {
                diffs.push(format!("only ours: {k:?} {o:?}"));
            }
        }
        println!(
            "{} ({workers} workers): {} flows, {} Suricata flows left out (ICMPv6 errors, inside VXLAN)",
            capture.display(),
            theirs.len(),
            left_out
        );
        assert!(
            diffs.is_empty(),
            "{} with {workers} workers: {} differences:\n{}",
            capture.display(),
            diffs.len(),
            diffs.join("\n")
        );
        assert!(!theirs.is_empty());
    }
}

#[test]
fn sample_netns_mix() {
    compare(&repo().join("samples/netns-mix.pcapng"));
}

#[test]
fn sample_two_bridges() {
    compare(&repo().join("samples/two-bridges.pcapng"));
}

#[test]
fn namespaces_lifecycle() {
    compare(&repo().join("crates/conn/tests/data/lifecycle.pcap"));
}

#[test]
fn namespaces_midstream() {
    compare(&repo().join("crates/conn/tests/data/midstream.pcap"));
}

#[test]
fn tcp_port_reuse() {
    compare(&repo().join("crates/conn/tests/data/reuse.pcap"));
}
