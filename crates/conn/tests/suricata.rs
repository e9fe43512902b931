//! The connection table against Suricata 7 on real captures.
//!
//! Each capture runs through `suricata -r FILE -S /dev/null -k none` with a configuration that
//! writes only EVE `flow` events (`tests/data/suricata-flow.yaml`), and through this crate:
//! the capture crate's reader, `wire::parse_link`, [`conn::Defrag`] for fragments and a
//! [`conn::ConnTable`] keyed with the frame's outer VLAN id (fed as the datapath feeds it:
//! [`conn::ConnTable::track_key`] with the flow key read from the bytes, `track` with the parse
//! where that declines), drained at the end of input. The
//! two must give the same connections (tuple and initiator), the same packet and byte counts per
//! direction, and the same state and reason.
//!
//! Differences that are by design, and how the comparison accounts for them:
//! * Suricata keys ICMP echo by address pair and ICMP type, not by echo identifier: echo
//!   connections of one address pair that differ only by identifier are summed before
//!   comparing.
//! * Suricata decapsulates VXLAN (UDP 4789) and tracks the inner frame's flows apart (its
//!   recursion level): the comparison feeds the inner frame to a second table, as the
//!   pipeline's tunnel handling would.
//! * A connection replaced by a new one on its tuple (TCP port reuse) ends with reason
//!   `tcp_reuse` here; Suricata 7 logs it as `timeout` (its `TcpReuseReplace` times the old
//!   flow out at once; Suricata 8 names the reason `tcp_reuse`): compared as equal.
//! * Suricata gives ICMPv6 errors flows of their own; this table relates them to the
//!   connection they quote and counts them apart ([`conn::ConnRecord::related_pkts`]): such
//!   Suricata flows are left out of the comparison, and counted.
//!
//! Captures: the repository's samples and the small ones in `tests/data/` made by
//! `tests/data/make-captures.sh` in network namespaces. Without `suricata` the test prints
//! why it skipped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use capture::CaptureReader;
use conn::{ConnConfig, ConnRecord, ConnTable};
use wire::{TunnelKind, parse_link, parse_packet};

/// What the comparison keys a flow by: VLAN, protocol, initiator and responder (addresses as
/// text, ports 0 where Suricata logs none, ICMP type in place of the source port for ICMP).
/// Suricata's flow events do not say at which tunnel level a flow was; flows inside and
/// outside a tunnel share this key space (a capture where they collide would be summed).
/// TCP flows also carry their start (in microseconds), since a reused tuple gives two flows.
type FlowKey = (u16, String, String, u16, String, u16, u64);

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct FlowSummary {
    pkts_toserver: u64,
    pkts_toclient: u64,
    bytes_toserver: u64,
    bytes_toclient: u64,
    state: String,
    reason: String,
}

fn repo_root() -> PathBuf {
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

fn canon_ip(text: &str) -> String {
    text.parse::<std::net::IpAddr>()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| text.to_string())
}

fn suricata_flows(bin: &Path, capture: &Path) -> (BTreeMap<FlowKey, FlowSummary>, usize) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/suricata-flow.yaml");
    let out = Command::new(bin)
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
        "suricata failed on {}: {}",
        capture.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let eve = std::fs::read_to_string(dir.path().join("eve.json")).unwrap();
    let mut flows = BTreeMap::new();
    let mut skipped = 0;
    for line in eve.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["event_type"] != "flow" {
            continue;
        }
        let proto = v["proto"].as_str().unwrap().to_string();
        let icmp_type = v["icmp_type"].as_u64();
        if proto == "IPv6-ICMP" && icmp_type.is_some_and(|t| (1..=4).contains(&t)) {
            skipped += 1;
            continue;
        }
        let vlan = v["vlan"]
            .as_array()
            .and_then(|a| a.first())
            .and_then(|x| x.as_u64())
            .unwrap_or(0) as u16;
        let sport = v["src_port"].as_u64().or(icmp_type).unwrap_or(0) as u16;
        let key = (
            vlan,
            proto,
            canon_ip(v["src_ip"].as_str().unwrap()),
            sport,
            canon_ip(v["dest_ip"].as_str().unwrap()),
            v["dest_port"].as_u64().unwrap_or(0) as u16,
        );
        let f = &v["flow"];
        let start = events::Timestamp::parse_eve(f["start"].as_str().unwrap()).unwrap();
        let key = (
            key.0,
            key.1.clone(),
            key.2,
            key.3,
            key.4,
            key.5,
            if key.1 == "TCP" {
                (start.secs() as u64) * 1_000_000 + u64::from(start.nanos() / 1000)
            } else {
                0
            },
        );
        let s = FlowSummary {
            pkts_toserver: f["pkts_toserver"].as_u64().unwrap(),
            pkts_toclient: f["pkts_toclient"].as_u64().unwrap(),
            bytes_toserver: f["bytes_toserver"].as_u64().unwrap(),
            bytes_toclient: f["bytes_toclient"].as_u64().unwrap(),
            state: f["state"].as_str().unwrap().to_string(),
            reason: f["reason"].as_str().unwrap().to_string(),
        };
        assert!(
            flows.insert(key.clone(), s).is_none(),
            "{}: Suricata logged {key:?} twice",
            capture.display()
        );
    }
    (flows, skipped)
}

fn add(flows: &mut BTreeMap<FlowKey, FlowSummary>, r: &ConnRecord) {
    let proto = events::EveProto(r.proto).to_string();
    let sport = match r.icmp {
        Some((t, _)) => u16::from(t),
        None => r.src_port,
    };
    let start = if r.proto == 6 { r.start_ns / 1000 } else { 0 };
    let key = (
        r.vlan,
        proto,
        r.src_ip.to_string(),
        sport,
        r.dest_ip.to_string(),
        r.dest_port,
        start,
    );
    let state = serde_json::to_value(r.state).unwrap();
    let reason = match r.reason {
        events::FlowEndReason::TcpReuse => serde_json::json!("timeout"),
        other => serde_json::to_value(other).unwrap(),
    };
    let e = flows.entry(key).or_default();
    // Echo connections of one address pair are one flow to Suricata (see the module docs).
    e.pkts_toserver += r.pkts_toserver;
    e.pkts_toclient += r.pkts_toclient;
    e.bytes_toserver += r.bytes_toserver;
    e.bytes_toclient += r.bytes_toclient;
    let state = state.as_str().unwrap();
    if e.state.is_empty() || state == "established" {
        e.state = state.to_string();
    }
    e.reason = reason.as_str().unwrap().to_string();
}

fn our_flows(capture: &Path) -> BTreeMap<FlowKey, FlowSummary> {
    let config = ConnConfig {
        max_connections: 100_000,
        seed: Some(1),
        ..ConnConfig::default()
    };
    let mut outer = ConnTable::new(config);
    let mut inner = ConnTable::new(config);
    let mut defrag = conn::Defrag::new(conn::DefragConfig::default());
    let mut buf = vec![0u8; conn::MAX_REASSEMBLED_FRAME];
    let mut ended: Vec<(u8, ConnRecord)> = Vec::new();
    let mut reader = CaptureReader::open(capture).unwrap();
    while let Some(pkt) = reader.next_packet().unwrap() {
        let now = u64::try_from(pkt.timestamp.as_nanos()).unwrap();
        let p = parse_link(pkt.data, pkt.link);
        let vlan = if p.vlan_count > 0 {
            p.vlans[0].vid()
        } else {
            0
        };
        let (frame, p) = match defrag.push(pkt.data, &p, vlan, now, &mut buf) {
            conn::DefragOutcome::NotFragment => (pkt.data, p),
            conn::DefragOutcome::Complete { len } => {
                let q = parse_link(&buf[..len], pkt.link);
                (&buf[..len], q)
            }
            conn::DefragOutcome::Held | conn::DefragOutcome::Dropped(_) => continue,
        };
        // As the datapath does: from the flow key where it reads the packet, else the parse.
        let mut end = |r| ended.push((0, r));
        let fast = (pkt.link == capture::LinkType::Ethernet)
            .then(|| flow::FlowKey::from_frame(0, frame))
            .flatten()
            .map(|(key, _)| outer.track_key(frame, &key, vlan, now, &mut end));
        if !matches!(fast, Some(Ok(_))) {
            outer.track(frame, &p, vlan, now, &mut end);
        }
        if p.tunnel.kind == TunnelKind::Vxlan {
            // Suricata's VXLAN decoder hands on the inner IP datagram without its Ethernet
            // header (so that is what its inner flows count), under the outer VLAN.
            let inner_frame = &frame[usize::from(p.tunnel.inner_offset)..];
            let q = parse_packet(inner_frame);
            if matches!(q.l3, wire::L3::Ipv4 | wire::L3::Ipv6) {
                let ip = &inner_frame[usize::from(q.l3_offset)..];
                let q = parse_link(ip, wire::LinkType::RawIp);
                inner.track(ip, &q, vlan, now, &mut |r| ended.push((1, r)));
            }
        }
    }
    outer.drain(|r| ended.push((0, r)));
    inner.drain(|r| ended.push((1, r)));
    let mut flows = BTreeMap::new();
    for (_, r) in &ended {
        add(&mut flows, r);
    }
    flows
}

fn compare(capture: &Path) {
    let Some(bin) = suricata() else {
        println!("skipped: `suricata` not found in PATH (scripts/setup installs it)");
        return;
    };
    let (theirs, skipped) = suricata_flows(&bin, capture);
    let ours = our_flows(capture);
    let mut diffs = Vec::new();
    for (k, s) in &theirs {
        match ours.get(k) {
            None => diffs.push(format!("only Suricata: {k:?} {s:?}")),
            Some(o) if o != s => diffs.push(format!(
                "differs: {k:?}\n   suricata {s:?}\n   ours     {o:?}"
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
        "{}: {} Suricata flows, {} ours, {} ICMPv6-error flows left out",
        capture.display(),
        theirs.len(),
        ours.len(),
        skipped
    );
    assert!(
        diffs.is_empty(),
        "{}: {} differences:\n{}",
        capture.display(),
        diffs.len(),
        diffs.join("\n")
    );
    assert!(!theirs.is_empty(), "{}: no flows at all", capture.display());
}

#[test]
fn sample_netns_mix() {
    compare(&repo_root().join("samples/netns-mix.pcapng"));
}

#[test]
fn sample_two_bridges() {
    compare(&repo_root().join("samples/two-bridges.pcapng"));
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

#[test]
fn netns_lifecycle() {
    compare(&data("lifecycle.pcap"));
}

#[test]
fn netns_midstream() {
    compare(&data("midstream.pcap"));
}

#[test]
fn tcp_port_reuse() {
    compare(&data("reuse.pcap"));
}
