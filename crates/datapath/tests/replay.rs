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

/// Writes `frames` as a pcap of link type `link`, one millisecond apart.
fn write_pcap(path: &std::path::Path, link: capture::LinkType, frames: &[Vec<u8>]) {
    let mut w = capture::PcapWriter::new(
        BufWriter::new(File::create(path).unwrap()),
        link,
        65535,
        false,
    )
    .unwrap();
    for (i, f) in frames.iter().enumerate() {
        let ts = capture::Timestamp {
            secs: 1_700_000_000,
            nanos: i as u32 * 1_000_000,
        };
        w.write_packet(ts, f.len() as u32, f).unwrap();
    }
    w.flush().unwrap();
}

fn syn(src_mac: [u8; 6], dst_mac: [u8; 6], src_ip: [u8; 4], sport: u16) -> Vec<u8> {
    let mut f = Vec::new();
    etherparse::PacketBuilder::ethernet2(src_mac, dst_mac)
        .ipv4(src_ip, [10, 9, 9, 9], 64)
        .tcp(sport, 80, 1, 1024)
        .syn()
        .write(&mut f, &[])
        .unwrap();
    f
}

/// A capture seen from one side (a SYN flood from spoofed addresses to a victim that never
/// answers): with the built-in defaults every packet is forwarded, to the uplink, the switch's
/// way out for unknown unicast; nothing is dropped.
#[test]
fn one_sided_capture_goes_out_of_the_uplink() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("flood.pcap");
    let frames: Vec<Vec<u8>> = (0..500u32)
        .map(|i| {
            let b = i.to_be_bytes();
            syn(
                [2, 0, 0, 0, 0, 1],
                [2, 0, 0, 0, 0, 0xee],
                [172, 16, b[2], b[3]],
                1024 + i as u16,
            )
        })
        .collect();
    write_pcap(&cap, capture::LinkType::Ethernet, &frames);
    let out = dir.path().join("out");
    let eve = dir.path().join("eve.json");
    let report = replay(
        &cap,
        ReplayOptions {
            out_dir: Some(out.clone()),
            eve: Some(eve.clone()),
            ..Default::default()
        },
        &mut |_| {},
    )
    .unwrap();
    let c = &report.counters;
    assert_eq!(c.total_drops(), 0, "{c:#?}");
    assert_eq!(c.tx_packets, 500);
    let uplink = report.ports.iter().find(|p| p.name == "uplink").unwrap();
    assert_eq!(uplink.tx_packets, 500);
    assert_eq!(read_all(&out.join("uplink.pcap")).len(), 500);
    // Every spoofed source is a connection of its own, written as a flow record.
    let flows = std::fs::read_to_string(&eve)
        .unwrap()
        .lines()
        .filter(|l| l.contains(r#""event_type":"flow""#))
        .count();
    assert_eq!(flows, 500);
}

/// Captures without Ethernet replay too: raw IP frames get MACs made from their addresses.
#[test]
fn raw_ip_capture_replays_with_synthesized_ethernet() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("raw.pcap");
    let mut frames = Vec::new();
    for i in 0..10u16 {
        let (a, b, sp, dp) = if i % 2 == 0 {
            ([10, 0, 0, 1], [10, 0, 0, 2], 5000, 53)
        } else {
            ([10, 0, 0, 2], [10, 0, 0, 1], 53, 5000)
        };
        let mut f = Vec::new();
        etherparse::PacketBuilder::ipv4(a, b, 64)
            .udp(sp, dp)
            .write(&mut f, &i.to_be_bytes())
            .unwrap();
        frames.push(f);
    }
    write_pcap(&cap, capture::LinkType::RawIp, &frames);
    let report = replay(&cap, ReplayOptions::default(), &mut |_| {}).unwrap();
    let c = &report.counters;
    assert_eq!(c.rx_packets, 10);
    assert_eq!(c.total_drops(), 0, "{c:#?}");
    // The two addresses became two VM ports; after the first packet each knows the other.
    assert!(report.ports.iter().any(|p| p.name == "vm-02000a000001"));
    assert!(report.ports.iter().any(|p| p.name == "vm-02000a000002"));
    assert_eq!(c.connections_ended, 1, "one UDP conversation");
}

/// Many connections over ten minutes of packet time, idle gaps on either side of their
/// timeouts, tuples coming back after they timed out: the EVE output (every flow, in order) is
/// the same byte for byte with 1, 2 and 3 workers, and timeouts really happen. (Each worker's
/// connection table holds a different mix of connections; a timer that depended on the mix
/// showed here.)
#[test]
fn timeouts_are_the_same_for_any_worker_count() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("timers.pcap");
    // (time in ms, frame)
    let mut packets: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rand = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mac = |ip: [u8; 4]| [2, 0, ip[0], ip[1], ip[2], ip[3]];
    let udp = |src: [u8; 4], sp: u16, dst: [u8; 4], dp: u16| {
        let mut f = Vec::new();
        etherparse::PacketBuilder::ethernet2(mac(src), mac(dst))
            .ipv4(src, dst, 64)
            .udp(sp, dp)
            .write(&mut f, b"query")
            .unwrap();
        f
    };
    let tcp = |src: [u8; 4], sp: u16, dst: [u8; 4], dp: u16, flags: &str, seq: u32, ack: u32| {
        let mut b = etherparse::PacketBuilder::ethernet2(mac(src), mac(dst))
            .ipv4(src, dst, 64)
            .tcp(sp, dp, seq, 64000);
        for c in flags.chars() {
            b = match c {
                'S' => b.syn(),
                'A' => b.ack(ack),
                'F' => b.fin(),
                'P' => b.psh(),
                _ => b,
            };
        }
        let mut f = Vec::new();
        b.write(&mut f, if flags.contains('P') { b"data" } else { b"" })
            .unwrap();
        f
    };
    let server = [10, 8, 0, 1];
    for c in 0..600u64 {
        let client = [10, 9, (c / 200) as u8, (c % 200) as u8 + 1];
        let sp = 20_000 + c as u16;
        let mut t = rand(300_000);
        match c % 4 {
            // One-way UDP (state new, 30 s): gaps of 10-25 s, or 35-60 s (timed out, the
            // tuple then starts a new flow).
            0 | 1 => {
                for _ in 0..1 + rand(6) {
                    packets.push((t, udp(client, sp, server, 53)));
                    t += if rand(2) == 0 {
                        10_000 + rand(15_000)
                    } else {
                        35_000 + rand(25_000)
                    };
                }
            }
            // TCP handshake, data, then idle or closed (closed: 10 s).
            2 => {
                let (s, a) = (1000u32, 5000u32);
                packets.push((t, tcp(client, sp, server, 80, "S", s, 0)));
                packets.push((t + 1, tcp(server, 80, client, sp, "SA", a, s + 1)));
                packets.push((t + 2, tcp(client, sp, server, 80, "A", s + 1, a + 1)));
                packets.push((t + 3, tcp(client, sp, server, 80, "PA", s + 1, a + 1)));
                if rand(2) == 0 {
                    t += 4 + rand(20_000);
                    packets.push((t, tcp(client, sp, server, 80, "FA", s + 5, a + 1)));
                    packets.push((t + 1, tcp(server, 80, client, sp, "FA", a + 1, s + 6)));
                    packets.push((t + 2, tcp(client, sp, server, 80, "A", s + 6, a + 2)));
                }
            }
            // A SYN nobody answers (new, 30 s), sometimes tried again after it timed out.
            _ => {
                packets.push((t, tcp(client, sp, server, 443, "S", 77, 0)));
                if rand(2) == 0 {
                    packets.push((
                        t + 40_000 + rand(20_000),
                        tcp(client, sp, server, 443, "S", 99_000, 0),
                    ));
                }
            }
        }
    }
    packets.sort_by_key(|(t, _)| *t);
    let mut w = capture::PcapWriter::new(
        BufWriter::new(File::create(&cap).unwrap()),
        capture::LinkType::Ethernet,
        65535,
        false,
    )
    .unwrap();
    for (t, f) in &packets {
        let ts = capture::Timestamp {
            secs: 1_700_000_000 + (t / 1000) as i64,
            nanos: (t % 1000) as u32 * 1_000_000,
        };
        w.write_packet(ts, f.len() as u32, f).unwrap();
    }
    w.flush().unwrap();
    drop(w);

    let mut first: Option<String> = None;
    for workers in [1, 2, 3] {
        let eve = dir.path().join(format!("eve-{workers}.json"));
        let report = replay(
            &cap,
            ReplayOptions {
                eve: Some(eve.clone()),
                workers: Some(workers),
                ..Default::default()
            },
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(report.packets_read, packets.len() as u64);
        let text: String = std::fs::read_to_string(&eve)
            .unwrap()
            .lines()
            .filter(|l| !l.contains(r#""event_type":"stats""#))
            .map(|l| format!("{l}\n"))
            .collect();
        let timeouts = text.matches(r#""reason":"timeout""#).count();
        assert!(
            timeouts > 300,
            "{workers} workers: only {timeouts} timeouts"
        );
        match &first {
            None => first = Some(text),
            Some(one) => {
                let diff = one
                    .lines()
                    .zip(text.lines())
                    .position(|(a, b)| a != b)
                    .map(|i| {
                        format!(
                            "first difference at line {}:\n{}\n{}",
                            i + 1,
                            one.lines().nth(i).unwrap_or(""),
                            text.lines().nth(i).unwrap_or("")
                        )
                    });
                assert!(
                    *one == text,
                    "{workers} workers differ from 1: {}",
                    diff.unwrap_or_else(|| "lengths differ".into())
                );
            }
        }
    }
}
