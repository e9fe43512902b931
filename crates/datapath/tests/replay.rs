//! `replay` end to end: a capture of mixed traffic between VMs on two bridges produces the
//! right per-port pcaps, counters and EVE events.

mod common;

use std::fs::File;
use std::io::BufWriter;

use capture::CaptureReader;
use common::scenario;
use datapath::config::Config;
use datapath::counters::DropReason;
use datapath::replay::{ReplayOptions, replay};
use wire::parse_packet;

fn read_all(path: &std::path::Path) -> Vec<Vec<u8>> {
    let mut r = CaptureReader::open(path).unwrap();
    let mut out = Vec::new();
    while let Some(p) = r.next_packet().unwrap() {
        out.push(p.data.to_vec());
    }
    out
}

fn setup() -> (tempfile::TempDir, std::path::PathBuf, Config) {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("two-bridges.pcapng");
    scenario::write_capture(BufWriter::new(File::create(&cap).unwrap())).unwrap();
    let cfg = Config::parse(scenario::CONFIG, "two-bridges.toml".as_ref()).unwrap();
    (dir, cap, cfg)
}

fn check(workers: usize) {
    let (dir, cap, cfg) = setup();
    let out = dir.path().join("out");
    let eve = dir.path().join("eve.json");
    let report = replay(
        &cap,
        ReplayOptions {
            config: Some(cfg),
            out_dir: Some(out.clone()),
            eve: Some(eve.clone()),
            workers: Some(workers),
            ..Default::default()
        },
        &mut |_| {},
    )
    .unwrap();
    assert!(report.error.is_none());
    let n = scenario::scenario().len() as u64;
    assert_eq!(report.packets_read, n);
    let c = &report.counters;
    assert_eq!(c.rx_packets, n);
    assert_eq!(c.drops_for(DropReason::VlanNotAllowed), 1, "{c:#?}");
    assert_eq!(c.total_drops(), 1, "{c:#?}");
    // Learning is decided in capture order whatever the worker count: the same copies.
    assert_eq!(
        c.tx_packets,
        scenario::EXPECTED_TX.iter().sum::<u64>(),
        "{c:#?}"
    );
    assert_eq!(c.tx_packets, c.egress_passed);
    assert_eq!(c.ingress_inspected, n);
    for (i, name) in scenario::PORTS.iter().enumerate() {
        let p = &report.ports[i];
        assert_eq!(p.name, *name);
        let frames = read_all(&out.join(format!("{name}.pcap")));
        assert_eq!(frames.len() as u64, p.tx_packets, "{name}.pcap");
        assert_eq!(
            p.tx_packets,
            scenario::EXPECTED_TX[i],
            "port {name}: {:#?}",
            report.ports
        );
        for f in &frames {
            let p = parse_packet(f);
            match *name {
                // The trunk carries tags; access and untagged ports never do.
                "uplink" => assert!(p.vlan_count == 1 && [10, 20].contains(&p.vlans[0].vid())),
                _ => assert_eq!(p.vlan_count, 0, "{name} got a tagged frame"),
            }
            if *name == "mgmt" {
                assert_eq!(p.ethertype, 0x0806);
            }
        }
    }
    // vm3 never sees br1's traffic, mgmt never sees VLAN 10's.
    let vm3 = read_all(&out.join("vm3.pcap"));
    assert!(vm3.iter().all(|f| f[6..9] == [2, 0, 0]));
    // EVE: one drop event (the VLAN 30 frame) and a final stats event whose counters match.
    let text = std::fs::read_to_string(&eve).unwrap();
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let drops: Vec<_> = events
        .iter()
        .filter(|e| e["event_type"] == "drop")
        .collect();
    assert_eq!(drops.len(), 1);
    assert_eq!(drops[0]["drop"]["reason"], "vlan-not-allowed");
    assert_eq!(drops[0]["in_iface"], "uplink");
    assert_eq!(drops[0]["vlan"][0], 30);
    let stats = events.last().unwrap();
    assert_eq!(stats["event_type"], "stats");
    assert_eq!(stats["stats"]["decoder"]["pkts"], n);
    assert_eq!(
        stats["stats"]["rampart"]["datapath"]["tx_packets"],
        c.tx_packets
    );
    assert_eq!(
        stats["stats"]["rampart"]["datapath"]["drops"]["vlan-not-allowed"],
        1
    );
}

#[test]
fn two_bridges_one_worker() {
    check(1);
}

#[test]
fn two_bridges_two_workers() {
    check(2);
}

#[test]
fn default_config_gives_each_mac_a_port() {
    let (dir, cap, _) = setup();
    let report = replay(
        &cap,
        ReplayOptions {
            out_dir: Some(dir.path().join("out")),
            ..Default::default()
        },
        &mut |_| {},
    )
    .unwrap();
    // The uplink, then seven source MACs (vm1..vm3, web, db, mgmt, the gateway) get seven VM
    // ports on one bridge, which carry tags as they came.
    assert_eq!(report.ports.len(), 8, "{:#?}", report.ports);
    assert_eq!(report.ports[0].name, "uplink");
    assert!(
        report.ports[1..]
            .iter()
            .all(|p| p.name.starts_with("vm-02"))
    );
    assert_eq!(
        report.counters.rx_packets,
        scenario::scenario().len() as u64
    );
    assert!(report.counters.tx_packets > 0);
    for p in &report.ports {
        assert!(
            dir.path()
                .join("out")
                .join(format!("{}.pcap", p.name))
                .exists()
        );
    }
}

#[test]
fn truncated_capture_replays_what_came_before_and_reports() {
    let (dir, cap, cfg) = setup();
    let bytes = std::fs::read(&cap).unwrap();
    let cut = dir.path().join("cut.pcapng");
    std::fs::write(&cut, &bytes[..bytes.len() - 30]).unwrap();
    let report = replay(
        &cut,
        ReplayOptions {
            config: Some(cfg),
            ..Default::default()
        },
        &mut |_| {},
    )
    .unwrap();
    let e = report.error.expect("the cut is reported");
    assert!(e.to_string().contains("byte offset"), "{e}");
    assert_eq!(report.packets_read, scenario::scenario().len() as u64 - 1);
    assert_eq!(report.counters.rx_packets, report.packets_read);
}

#[test]
fn not_a_capture_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.pcap");
    std::fs::write(&p, b"hello world, not a capture").unwrap();
    let e = replay(&p, ReplayOptions::default(), &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("not a pcap"), "{e}");
}
