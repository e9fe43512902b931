//! The learning switch and the dual-inspection pipeline, end to end on in-memory ports.

use datapath::config::Config;
use datapath::counters::{DatapathCounters, DropReason};
use datapath::memory::MemorySwitch;
use datapath::port::VlanMode;
use engine::{Alert, Chain, Engine, HostedEngine, Inspection, Reason};
use etherparse::PacketBuilder;
use wire::{L4, parse_packet};

const S: u64 = 1_000_000_000;

fn mac(n: u8) -> [u8; 6] {
    [2, 0, 0, 0, 0, n]
}

/// A TCP frame from MAC `s` to MAC `d` with ports, optionally VLAN-tagged.
fn tcp(s: u8, d: u8, sport: u16, dport: u16, vlan: Option<u16>) -> Vec<u8> {
    let mut f = Vec::new();
    let eth = PacketBuilder::ethernet2(mac(s), mac(d));
    let ip = |b: etherparse::PacketBuilderStep<etherparse::Ethernet2Header>| {
        b.ipv4([10, 0, 0, s], [10, 0, 0, d], 64)
    };
    match vlan {
        None => ip(eth)
            .tcp(sport, dport, 1, 1000)
            .write(&mut f, b"data")
            .unwrap(),
        Some(v) => eth
            .single_vlan(etherparse::VlanId::try_new(v).unwrap())
            .ipv4([10, 0, 0, s], [10, 0, 0, d], 64)
            .tcp(sport, dport, 1, 1000)
            .write(&mut f, b"data")
            .unwrap(),
    }
    f
}

fn broadcast(s: u8, vlan: Option<u16>) -> Vec<u8> {
    let mut f = tcp(s, 0, 1, 2, vlan);
    f[0..6].copy_from_slice(&[0xff; 6]);
    f
}

fn vid_of(frame: &[u8]) -> Option<u16> {
    let p = parse_packet(frame);
    (p.vlan_count > 0).then(|| p.vlans[0].vid())
}

/// Every transmitted copy passed both inspections, and every received packet is accounted for.
fn assert_counters_add_up(c: &DatapathCounters) {
    assert_eq!(c.tx_packets, c.egress_passed, "{c:#?}");
    assert!(c.egress_passed <= c.egress_inspected, "{c:#?}");
    assert!(c.ingress_passed <= c.ingress_inspected, "{c:#?}");
    assert!(c.ingress_inspected <= c.rx_packets, "{c:#?}");
    assert_eq!(
        c.lookups, c.ingress_passed,
        "every packet that passed ingress was looked up: {c:#?}"
    );
    assert_eq!(c.lookups, c.emc_hits + c.megaflow_hits + c.misses, "{c:#?}");
}

const ONE_BRIDGE: &str = r#"
[datapath]
emc_insert_inv_prob = 1

[[bridge]]
name = "br0"

[[bridge]]
name = "br1"

[[port]]
name = "vm1"
kind = "vm"
bridge = "br0"

[[port]]
name = "vm2"
kind = "vm"
bridge = "br0"

[[port]]
name = "vm3"
kind = "vm"
bridge = "br0"

[[port]]
name = "other"
kind = "vm"
bridge = "br1"
"#;

fn switch(cfg: &str) -> MemorySwitch {
    MemorySwitch::new(&Config::parse(cfg, "test.toml".as_ref()).unwrap())
}

#[test]
fn learning_then_unicast() {
    let mut sw = switch(ONE_BRIDGE);
    // vm1 -> vm2, vm2 unknown: flooded to vm2 and vm3, never back to vm1 nor to br1.
    sw.send(0, &tcp(1, 2, 1000, 80, None), 0);
    sw.flush();
    assert_eq!(sw.received(0).len(), 0);
    assert_eq!(sw.received(1).len(), 1);
    assert_eq!(sw.received(2).len(), 1);
    assert_eq!(sw.received(3).len(), 0, "other bridge");
    // vm2 answers: vm1 was learnt, so unicast.
    sw.send(1, &tcp(2, 1, 80, 1000, None), S);
    sw.flush();
    assert_eq!(sw.received(0).len(), 1);
    assert_eq!(sw.received(2).len(), 1, "vm3 sees no unicast");
    // vm1 -> vm2 again: vm2 is known now; the flooding flow, which depended on where vm2's
    // MAC is, went when it was learnt, and the new decision is unicast.
    sw.send(0, &tcp(1, 2, 1000, 80, None), 2 * S);
    sw.flush();
    assert_eq!(sw.received(1).len(), 2);
    assert_eq!(sw.received(2).len(), 1, "no more flooding to vm3");
    let c = sw.counters();
    assert!(c.flows_invalidated >= 1, "{c:#?}");
    assert_counters_add_up(c);
    assert_eq!(sw.learner().fdb().len(), 2);
}

#[test]
fn flow_install_then_hit_and_megaflow_wildcards() {
    let mut sw = switch(ONE_BRIDGE);
    // Learn both ends first.
    sw.send(0, &tcp(1, 2, 1, 1, None), 0);
    sw.send(1, &tcp(2, 1, 1, 1, None), 0);
    sw.flush();
    let upcalls = sw.counters().upcalls;
    // 200 different TCP connections between the same two MACs: the learning switch only
    // read in_port, VLAN and MACs, so one megaflow per direction covers them all.
    for i in 0..200u16 {
        sw.send(0, &tcp(1, 2, 10_000 + i, 80, None), S);
    }
    sw.flush();
    let c = sw.counters();
    assert!(c.upcalls - upcalls <= 1, "{c:#?}");
    assert_eq!(sw.received(1).len(), 201);
    // The first batch misses (the flooding flow of the first packet went when vm2's MAC was
    // learnt; its packets share the one upcall); every later packet hits.
    assert!(c.megaflow_hits + c.emc_hits >= 200 - 32, "{c:#?}");
    // The same connection again, a packet per batch: the first is a megaflow hit that fills
    // the exact-match cache, which answers the rest.
    let emc = c.emc_hits;
    for _ in 0..10 {
        sw.send(0, &tcp(1, 2, 10_000, 80, None), 2 * S);
        sw.flush();
    }
    assert!(sw.counters().emc_hits >= emc + 9, "{:#?}", sw.counters());
    assert_counters_add_up(sw.counters());
}

const VLANS: &str = r#"
[[bridge]]
name = "br0"

[[port]]
name = "a10"
kind = "vm"
bridge = "br0"
vlan = 10

[[port]]
name = "b10"
kind = "vm"
bridge = "br0"
vlan = 10

[[port]]
name = "c20"
kind = "vm"
bridge = "br0"
vlan = 20

[[port]]
name = "trunk"
kind = "uplink"
bridge = "br0"
trunk = [10, 20]
"#;

#[test]
fn vlan_isolation_and_trunking() {
    let mut sw = switch(VLANS);
    // Broadcast from an access port in VLAN 10: the other VLAN-10 port gets it untagged, the
    // trunk gets it tagged 10, VLAN 20 never sees it.
    sw.send(0, &broadcast(1, None), 0);
    sw.flush();
    assert_eq!(sw.received(1).len(), 1);
    assert_eq!(vid_of(&sw.received(1)[0]), None);
    assert_eq!(sw.received(2).len(), 0, "VLAN 20 is isolated");
    assert_eq!(sw.received(3).len(), 1);
    assert_eq!(vid_of(&sw.received(3)[0]), Some(10));
    // The tagged copy is the same frame with a tag: checksums still verify.
    let t = &sw.received(3)[0];
    assert_eq!(parse_packet(t).l4, L4::Tcp);
    assert_eq!(&t[18..], &broadcast(1, None)[14..]);

    // From the trunk, tagged 20: delivered untagged to c20 only.
    sw.send(3, &broadcast(9, Some(20)), S);
    sw.flush();
    assert_eq!(sw.received(2).len(), 1);
    assert_eq!(vid_of(&sw.received(2)[0]), None);
    assert_eq!(sw.received(0).len(), 0);
    assert_eq!(sw.received(1).len(), 1);

    // VLAN 30 is not allowed on the trunk; tagged frames on an access port are not either.
    sw.send(3, &broadcast(9, Some(30)), 2 * S);
    sw.send(0, &broadcast(1, Some(10)), 2 * S);
    sw.flush();
    assert_eq!(sw.counters().drops_for(DropReason::VlanNotAllowed), 2);
    // Unicast across the trunk after learning: a10 -> mac 9 (learnt in VLAN 20 only) floods in
    // VLAN 10, since learning is per VLAN.
    sw.clear_received();
    sw.send(0, &tcp(1, 9, 1, 2, None), 3 * S);
    sw.flush();
    assert_eq!(sw.received(1).len(), 1);
    assert_eq!(sw.received(3).len(), 1);
    assert_eq!(sw.received(2).len(), 0);
    assert_counters_add_up(sw.counters());
}

#[test]
fn station_move_revalidates_flows() {
    let mut sw = switch(ONE_BRIDGE);
    sw.send(1, &tcp(2, 1, 1, 1, None), 0); // mac 2 on vm2
    sw.send(0, &tcp(1, 2, 1, 1, None), 0); // to mac 2: unicast to vm2, flow installed
    sw.flush();
    assert_eq!(sw.received(1).len(), 1);
    // mac 2 now appears behind vm3 (live migration).
    sw.send(2, &tcp(2, 1, 5, 5, None), S);
    sw.flush();
    assert_eq!(sw.learner().counters().station_moves, 1);
    sw.clear_received();
    sw.send(0, &tcp(1, 2, 1, 1, None), 2 * S);
    sw.flush();
    assert_eq!(sw.received(1).len(), 0, "old port no longer gets it");
    assert_eq!(sw.received(2).len(), 1, "new port does");
    let c = sw.counters();
    assert!(c.flows_invalidated >= 1, "{c:#?}");
    assert_counters_add_up(c);
}

#[test]
fn config_change_revalidates() {
    let mut sw = switch(VLANS);
    sw.send(0, &broadcast(1, None), 0);
    sw.flush();
    assert_eq!(sw.received(1).len(), 1);
    // Move b10 into VLAN 20: the installed flooding flow must stop reaching it.
    sw.set_port_vlan(1, VlanMode::Access(20));
    sw.clear_received();
    sw.send(0, &broadcast(1, None), S);
    sw.flush();
    assert_eq!(sw.received(1).len(), 0);
    assert_eq!(sw.received(3).len(), 1);
    assert_counters_add_up(sw.counters());
}

#[test]
fn idle_flows_expire_and_macs_age() {
    let cfg = ONE_BRIDGE.replace(
        "emc_insert_inv_prob = 1",
        "emc_insert_inv_prob = 1\nidle_timeout_ms = 2000\nmac_aging_s = 5",
    );
    let mut sw = switch(&cfg);
    sw.send(0, &tcp(1, 2, 1, 1, None), 0);
    sw.send(1, &tcp(2, 1, 1, 1, None), 0);
    sw.flush();
    // The first flow (a flood to vm2's unknown MAC) went when vm2's MAC was learnt.
    assert_eq!(sw.worker().flow_table().len(), 1);
    sw.maintain(3 * S);
    assert_eq!(sw.worker().flow_table().len(), 0);
    assert_eq!(sw.counters().flows_expired, 1);
    // MACs age out after 5 s without traffic.
    sw.maintain(10 * S);
    assert_eq!(sw.learner().fdb().len(), 0);
}

#[test]
fn active_flows_keep_their_macs() {
    let cfg = ONE_BRIDGE.replace(
        "emc_insert_inv_prob = 1",
        "emc_insert_inv_prob = 1\nmac_aging_s = 5",
    );
    let mut sw = switch(&cfg);
    // Traffic keeps flowing through the flow cache (no upcalls) for 20 s.
    for t in 0..20 {
        sw.send(0, &tcp(1, 2, 1, 1, None), t * S);
        sw.send(1, &tcp(2, 1, 1, 1, None), t * S);
        sw.flush();
    }
    assert_eq!(
        sw.learner().fdb().len(),
        2,
        "MACs of active flows must not age out"
    );
}

#[test]
fn eviction_at_flow_limit() {
    let cfg = ONE_BRIDGE.replace(
        "emc_insert_inv_prob = 1",
        "emc_insert_inv_prob = 1\nmax_flows = 4",
    );
    let mut sw = switch(&cfg);
    for s in 10..30u8 {
        sw.send(0, &tcp(s, 2, 1, 1, None), u64::from(s) * 1000);
    }
    sw.flush();
    assert!(sw.worker().flow_table().len() <= 4);
    assert!(sw.counters().flows_evicted >= 16, "{:#?}", sw.counters());
    // Every packet was still forwarded.
    assert_eq!(sw.received(1).len(), 20);
    assert_counters_add_up(sw.counters());
}

#[test]
fn upcall_meter_under_new_flow_flood() {
    let cfg = ONE_BRIDGE.replace(
        "emc_insert_inv_prob = 1",
        "emc_insert_inv_prob = 1\nupcall_rate = 4000\nupcall_burst = 400",
    );
    let mut sw = switch(&cfg);
    // vm1 floods 20,000 new flows (new source MACs) in one second; vm2 opens one new flow
    // every 10 ms.
    let mut quiet_sent = 0;
    for t in 0..20_000u64 {
        let b = (t as u32).to_be_bytes();
        let mut f = tcp(1, 2, 1, 1, None);
        f[6..12].copy_from_slice(&[2, 1, b[0], b[1], b[2], b[3]]);
        sw.send(0, &f, t * 50_000);
        if t % 200 == 0 {
            let mut g = tcp(2, 3, 1, 1, None);
            g[11] = 100 + (quiet_sent % 100) as u8;
            g[10] = 7;
            sw.send(1, &g, t * 50_000);
            quiet_sent += 1;
        }
    }
    sw.flush();
    let sp = sw.worker().slow_path();
    let refused_flood = sp.meter().refused(0);
    let refused_quiet = sp.meter().refused(1);
    assert_eq!(refused_quiet, 0, "the quiet port's upcalls all pass");
    assert!(refused_flood > 15_000, "flood refused: {refused_flood}");
    let c = sw.counters();
    assert_eq!(c.drops_for(DropReason::UpcallMeter), refused_flood);
    assert_counters_add_up(c);
}

struct DropToPort(u16);
impl Engine for DropToPort {
    type ConnState = ();
    fn name(&self) -> &'static str {
        "test-egress"
    }
    fn inspect(&mut self, b: &mut Inspection<'_, '_, ()>) {
        for i in b.packets() {
            if b.view(i).out_port == Some(self.0) {
                b.reject(i, Reason::new("test-egress", "blocked-port"));
            }
        }
    }
}

struct AlertOnTcp80;
impl Engine for AlertOnTcp80 {
    type ConnState = ();
    fn name(&self) -> &'static str {
        "test-ingress"
    }
    fn inspect(&mut self, b: &mut Inspection<'_, '_, ()>) {
        for i in b.packets() {
            let p = b.view(i).parsed();
            if p.l4 == L4::Tcp && p.dst_port == 80 {
                b.alert(i, &Alert::new(1, 80, 1, "http", "", 3));
            } else if p.dst_port == 23 {
                b.drop(i, Reason::new("test-ingress", "telnet"));
            }
        }
    }
}

#[test]
fn both_inspections_see_every_forwarded_packet() {
    let cfg = Config::parse(ONE_BRIDGE, "t.toml".as_ref()).unwrap();
    let mut sw = MemorySwitch::with_chains(
        &cfg,
        Chain::new(vec![HostedEngine::new(AlertOnTcp80)]),
        Chain::new(vec![HostedEngine::new(DropToPort(2))]),
        true,
    );
    // Flood from vm1: vm2 gets it, vm3's copy is rejected at egress (and vm1 gets a RST).
    sw.send(0, &tcp(1, 2, 1000, 80, None), 0);
    // Telnet is dropped at ingress: never looked up, never upcalled.
    sw.send(0, &tcp(1, 2, 1000, 23, None), 0);
    sw.flush();
    assert_eq!(sw.received(1).len(), 1);
    assert_eq!(sw.received(2).len(), 0);
    assert_eq!(sw.received(0).len(), 1, "RST back to the sender");
    let rst = parse_packet(&sw.received(0)[0]);
    assert_eq!(rst.l4, L4::Tcp);
    assert_eq!(rst.tcp_flags & 0x004, 0x004);
    let c = sw.counters();
    assert_eq!(c.ingress_alerts, 1);
    assert_eq!(c.ingress_inspected, 2);
    assert_eq!(c.ingress_passed, 1);
    assert_eq!(c.upcalls, 1);
    assert_eq!(c.egress_inspected, 3, "two copies and the RST");
    assert_eq!(c.egress_passed, 2);
    assert_eq!(c.rejects_sent, 1);
    assert_eq!(c.tx_packets, 2, "the copy to vm2 and the RST");
    let table = c.drop_table();
    assert!(
        table.contains(&("ingress:test-ingress:telnet".into(), 1)),
        "{table:?}"
    );
    assert!(
        table.contains(&("egress:test-egress:blocked-port".into(), 1)),
        "{table:?}"
    );
    let notices = sw.notices();
    assert!(
        notices
            .iter()
            .any(|n| n.alert && n.reason == "ingress:test-ingress:http")
    );
    assert_counters_add_up(c);
}

#[test]
fn hairpin_and_malformed_are_counted() {
    let mut sw = switch(ONE_BRIDGE);
    sw.send(0, &tcp(1, 2, 1, 1, None), 0);
    sw.flush();
    // A frame from vm1 to its own MAC: dropped as hairpin.
    sw.send(0, &tcp(5, 1, 1, 1, None), S);
    sw.send(0, &[1, 2, 3], S);
    sw.flush();
    let c = sw.counters();
    assert_eq!(c.drops_for(DropReason::Hairpin), 1);
    assert_eq!(c.drops_for(DropReason::Malformed), 1);
    assert_eq!(c.rx_packets, 3);
}

mod random_traffic {
    //! Random frames on a switch with access, trunk and untagged ports on two bridges: whatever
    //! arrives, the counters add up and no frame crosses a bridge or VLAN or returns to its
    //! sender.
    use super::*;
    use proptest::prelude::*;

    const CFG: &str = r#"
[datapath]
max_flows = 64
emc_entries = 16
emc_insert_inv_prob = 2
upcall_rate = 2000
upcall_burst = 50

[[bridge]]
name = "a"

[[bridge]]
name = "b"

[[port]]
name = "a-untagged"
kind = "vm"
bridge = "a"

[[port]]
name = "b-10"
kind = "vm"
bridge = "b"
vlan = 10

[[port]]
name = "b-10-bis"
kind = "vm"
bridge = "b"
vlan = 10

[[port]]
name = "b-20"
kind = "vm"
bridge = "b"
vlan = 20

[[port]]
name = "b-trunk"
kind = "uplink"
bridge = "b"
trunk = [10, 20]
native_vlan = 20

[[port]]
name = "a-10"
kind = "vm"
bridge = "a"
vlan = 10
"#;

    /// (input port, source MAC index, destination MAC index or broadcast, VLAN tag, ms)
    fn arb_packet() -> impl Strategy<Value = (u16, u8, Option<u8>, Option<u16>, u64)> {
        (
            0u16..6,
            1u8..8,
            proptest::option::weighted(0.8, 1u8..8),
            proptest::option::weighted(0.3, prop_oneof![Just(10u16), Just(20), Just(30)]),
            0u64..5_000,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn invariants_hold(mut pkts in proptest::collection::vec(arb_packet(), 1..300)) {
            pkts.sort_by_key(|p| p.4);
            let cfg = Config::parse(CFG, "t.toml".as_ref()).unwrap();
            let mut sw = MemorySwitch::new(&cfg);
            let bridge_of = [0, 1, 1, 1, 1, 0];
            for (port, s, d, vlan, ms) in &pkts {
                let mut f = tcp(*s, d.unwrap_or(0), 1, 2, *vlan);
                if d.is_none() {
                    f[0..6].copy_from_slice(&[0xff; 6]);
                }
                // Each frame carries its input port in the IP TTL so deliveries can be checked.
                let ttl_at = if vlan.is_some() { 18 + 8 } else { 14 + 8 };
                f[ttl_at] = *port as u8 + 1;
                sw.send(*port, &f, ms * 1_000_000);
            }
            sw.flush();
            let c = sw.counters().clone();
            assert_counters_add_up(&c);
            prop_assert_eq!(c.rx_packets, pkts.len() as u64);
            // Every packet is forwarded at least once or dropped exactly once.
            let dropped = c.total_drops();
            prop_assert!(c.tx_packets + dropped >= c.rx_packets);
            for out in 0..6u16 {
                for f in sw.received(out) {
                    let p = parse_packet(f);
                    let ttl = f[usize::from(p.l3_offset) + 8];
                    let from = u16::from(ttl) - 1;
                    prop_assert_ne!(from, out, "a frame went back out of its input port");
                    prop_assert_eq!(bridge_of[usize::from(from)], bridge_of[usize::from(out)], "crossed bridges");
                    let tag = (p.vlan_count > 0).then(|| p.vlans[0].vid());
                    match out {
                        0..=3 | 5 => prop_assert_eq!(tag, None),
                        _ => prop_assert!(tag.is_none() || tag == Some(10), "trunk sends only VLAN 10 tagged (20 is native): {:?}", tag),
                    }
                    // VLAN membership on bridge b: 10 for ports 1, 2; 20 for port 3.
                    if bridge_of[usize::from(out)] == 1 {
                        let vlan_in = match from {
                            1 | 2 => 10,
                            3 => 20,
                            _ => 0,
                        };
                        let vlan_out = match out {
                            1 | 2 => 10,
                            3 => 20,
                            _ => tag.unwrap_or(20),
                        };
                        if from != 4 {
                            prop_assert_eq!(vlan_in, vlan_out, "crossed VLANs: {} -> {}", from, out);
                        }
                    }
                }
            }
        }
    }
}

/// Output copies (an output that must see the packet before a later rewrite) come from a pool
/// that grows on first need up to `pool_buffers`; past it, each output that found no copy is
/// dropped and counted, and the packet's last output still goes out.
#[test]
fn output_copies_grow_to_the_pool_limit_then_are_counted_as_exhausted() {
    use datapath::memory::MemorySink;
    use datapath::pipeline::{Batch, NoObserver, Worker};
    use datapath::slowpath::SlowPath;
    use engine::Chain;
    use flow::{Action, FlowKey, FlowMask, OffloadMeta};

    let mut cfg = Config::parse(VLANS, "test.toml".as_ref()).unwrap();
    cfg.limits.pool_buffers = 64;
    let slow = SlowPath::new(&cfg);
    let mut w = Worker::new(0, &cfg.limits, slow, Chain::default(), Chain::default());
    // Every frame from port 0: three outputs that each see a different source MAC, then a
    // fourth: three copies per packet.
    let f = tcp(1, 2, 1000, 80, None);
    let key = FlowKey::from_frame(0, &f).unwrap().0;
    let actions = [
        Action::Output(1),
        Action::SetEthSrc(mac(0x31)),
        Action::Output(2),
        Action::SetEthSrc(mac(0x32)),
        Action::Output(3),
        Action::SetEthSrc(mac(0x33)),
        Action::Output(1),
    ];
    w.flow_table_mut()
        .install(&key, &FlowMask::EXACT, 10, &actions, u64::MAX, 0)
        .unwrap();
    let mut sink = MemorySink::new(true);
    let mut batch = Batch::new();
    let send = |w: &mut Worker, batch: &mut Batch, sink: &mut MemorySink, n: usize, t: u64| {
        for _ in 0..n {
            assert!(batch.push(&f, 0, t, 1, OffloadMeta::default()));
        }
        w.process(batch, sink, &mut NoObserver);
        batch.clear();
    };
    // 10 packets: 30 copies, all made on demand.
    send(&mut w, &mut batch, &mut sink, 10, 1);
    assert_eq!(w.counters().copies, 30);
    assert_eq!(w.counters().drops_for(DropReason::PoolExhausted), 0);
    assert_eq!(sink.frames(1).len(), 20);
    // 32 packets want 96 copies: 64 are made (the pool's limit), 32 outputs are dropped.
    send(&mut w, &mut batch, &mut sink, 32, 2);
    assert_eq!(w.counters().copies, 30 + 64);
    assert_eq!(w.counters().drops_for(DropReason::PoolExhausted), 32);
    // Each packet's final output has its last rewrite.
    let last = sink.frames(1).last().unwrap();
    assert_eq!(&last[6..12], &mac(0x33));
    assert_counters_add_up(w.counters());
}

/// A sink that implements only `transmit`: bursts reach it through the trait's default.
#[derive(Default)]
struct OrderSink {
    sent: Vec<(u16, u16)>,
}

impl datapath::pipeline::TxSink for OrderSink {
    fn transmit(&mut self, pkt: &datapath::pipeline::Cleared<'_>) {
        let p = parse_packet(pkt.frame());
        self.sent.push((pkt.port(), p.src_port));
    }
}

/// A worker of `ONE_BRIDGE` (no inspection engines) that has learnt the three VMs of br0
/// (MACs 1, 2, 3 on ports 0, 1, 2), and an empty batch.
fn worker_with_three_vms() -> (datapath::pipeline::Worker, datapath::pipeline::Batch) {
    use datapath::learn::Learner;
    use datapath::pipeline::{Batch, NoObserver, Worker};
    use datapath::slowpath::SlowPath;
    use engine::Chain;

    let cfg = Config::parse(ONE_BRIDGE, "test.toml".as_ref()).unwrap();
    let mut w = Worker::new(
        0,
        &cfg.limits,
        SlowPath::new(&cfg),
        Chain::default(),
        Chain::default(),
    );
    let mut learner = Learner::new(&cfg);
    let mut changes = Vec::new();
    let mut batch = Batch::new();
    for (port, m) in [(0u16, 1u8), (1, 2), (2, 3)] {
        learner.observe(port, &broadcast(m, None), 0, &mut changes);
        assert!(batch.push(&broadcast(m, None), port, 0, 0, Default::default()));
    }
    for c in &changes {
        w.apply(c);
    }
    w.process(&mut batch, &mut OrderSink::default(), &mut NoObserver);
    batch.clear();
    (w, batch)
}

#[test]
fn packets_leave_in_batch_order_whether_upcalled_or_hit() {
    use datapath::memory::MemorySink;
    use datapath::pipeline::{Batch, NoObserver};

    let (mut w, mut batch) = worker_with_three_vms();
    let mut sink = OrderSink::default();
    // 32 packets round the triangle vm1 -> vm2 -> vm3 -> vm1, each with its own source port.
    let fill = |batch: &mut Batch| {
        let mut expect = Vec::new();
        for i in 0..32u16 {
            let (inp, s, d, out) = match i % 3 {
                0 => (0, 1, 2, 1),
                1 => (1, 2, 3, 2),
                _ => (2, 3, 1, 0),
            };
            assert!(batch.push(
                &tcp(s, d, 1000 + i, 80, None),
                inp,
                S,
                u64::from(i),
                flow::OffloadMeta::default()
            ));
            expect.push((out, 1000 + i));
        }
        expect
    };
    // First pass: every packet is upcalled; second pass: every packet hits and leaves in
    // one burst from the action stage.
    for pass in 0..2 {
        sink.sent.clear();
        let expect = fill(&mut batch);
        w.process(&mut batch, &mut sink, &mut NoObserver);
        batch.clear();
        assert_eq!(sink.sent, expect, "pass {pass}");
    }
    assert_eq!(w.counters().misses, 3 + 32, "{:#?}", w.counters());
    assert_counters_add_up(w.counters());
    // A counting sink (its own burst path) sees the same number.
    let mut counting = MemorySink::new(false);
    fill(&mut batch);
    w.process(&mut batch, &mut counting, &mut NoObserver);
    assert_eq!(counting.transmitted_total(), 32);
    assert_counters_add_up(w.counters());
}

/// One batch with every kind of packet the action stage tells apart: hits on one-output
/// flows (sent in one burst), a hit whose flow rewrites (its action list), and a miss (the
/// upcall). The burst stops at the first packet that needs its list; one-output hits after
/// it wait in the egress list behind it, so a flow's packets never overtake each other.
#[test]
fn one_output_hits_list_hits_and_misses_in_one_batch() {
    use datapath::pipeline::NoObserver;
    use flow::{Action, FlowKey, FlowMask};

    let (mut w, mut batch) = worker_with_three_vms();
    let mut sink = OrderSink::default();
    // vm1 -> vm2: source port 1000 leaves unchanged, 1001 leaves as 9000.
    let (plain, rewritten) = (tcp(1, 2, 1000, 80, None), tcp(1, 2, 1001, 80, None));
    let generation = w.slow_path().generation();
    let key = |f: &[u8]| FlowKey::from_frame(0, f).unwrap().0;
    let t = w.flow_table_mut();
    t.install(
        &key(&plain),
        &FlowMask::EXACT,
        0,
        &[Action::Output(1)],
        generation,
        0,
    )
    .unwrap();
    let rewrite = [Action::SetTpSrc(9000), Action::Output(1)];
    t.install(
        &key(&rewritten),
        &FlowMask::EXACT,
        0,
        &rewrite,
        generation,
        0,
    )
    .unwrap();
    // vm2 -> vm3 is new: upcalled on the first pass, a one-output hit on the second.
    let new = tcp(2, 3, 1002, 80, None);
    let expect = [
        vec![(1, 1000), (1, 9000), (1, 1000), (2, 1002)],
        vec![(1, 1000), (2, 1002), (1, 9000), (1, 1000)],
    ];
    for (pass, expect) in expect.iter().enumerate() {
        sink.sent.clear();
        for (f, port) in [(&plain, 0), (&new, 1), (&rewritten, 0), (&plain, 0)] {
            assert!(batch.push(f, port, S, 0, Default::default()));
        }
        w.process(&mut batch, &mut sink, &mut NoObserver);
        batch.clear();
        assert_eq!(&sink.sent, expect, "pass {pass}");
    }
    let c = w.counters();
    assert_eq!(c.misses, 3 + 1, "{c:#?}");
    assert_counters_add_up(c);
    // Every hit was counted against its flow once.
    let t = w.flow_table();
    let packets = |f: &[u8]| {
        let id = t.iter().find(|v| *v.key == key(f)).unwrap().id;
        t.stats(id).unwrap().packets
    };
    assert_eq!((packets(&plain), packets(&rewritten)), (4, 2));
}

/// A batch whose every packet dies before the flow lookup must transmit nothing: the
/// one-output burst once went out with the previous batch's ports (issue 10).
#[test]
fn a_batch_dropped_whole_before_lookup_transmits_nothing() {
    let mut sw = switch(ONE_BRIDGE);
    sw.send(0, &tcp(1, 2, 1000, 80, None), 0);
    sw.send(1, &tcp(2, 1, 80, 1000, None), 0);
    sw.flush();
    for _ in 0..64 {
        sw.send(0, &tcp(1, 2, 1000, 80, None), S);
    }
    sw.flush();
    let before: Vec<u64> = (0..4).map(|p| sw.transmitted(p)).collect();
    // A lone 13-byte frame (too short for Ethernet) in a batch of its own.
    sw.send(0, &[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8], S);
    sw.flush();
    let after: Vec<u64> = (0..4).map(|p| sw.transmitted(p)).collect();
    assert_eq!(before, after, "the malformed frame left a port");
    assert_eq!(sw.counters().drops_for(DropReason::Malformed), 1);
    assert_counters_add_up(sw.counters());
}

/// Frames an engine saw, with the port each was leaving by.
type Seen = std::sync::Arc<std::sync::Mutex<Vec<(u16, Vec<u8>)>>>;

/// An egress engine that rejects every frame leaving by one port, and remembers what it saw.
struct RejectOutOf {
    port: u16,
    seen: Seen,
}
impl Engine for RejectOutOf {
    type ConnState = ();
    fn name(&self) -> &'static str {
        "reject-out"
    }
    fn inspect(&mut self, b: &mut Inspection<'_, '_, ()>) {
        for i in b.packets() {
            let v = b.view(i);
            let out = v.out_port.unwrap_or(u16::MAX);
            self.seen.lock().unwrap().push((out, v.frame().to_vec()));
            if out == self.port {
                b.reject(i, Reason::new("reject-out", "port"));
            }
        }
    }
}

const ACCESS_AND_TRUNK: &str = r#"
[datapath]
reject_rate = 2
reject_burst = 3

[[bridge]]
name = "br0"

[[port]]
name = "access"
kind = "vm"
bridge = "br0"
vlan = 10

[[port]]
name = "trunk"
kind = "uplink"
bridge = "br0"
trunk = [10]

[[port]]
name = "other"
kind = "vm"
bridge = "br0"
vlan = 10
"#;

/// Reject answers are built from the frame as its sender sent it (untagged on an access port,
/// though the flood copy rejected at egress was tagged for the trunk), sent once per packet
/// however many copies were rejected, inspected at egress on their way out, counted in tx, and
/// limited per input port.
#[test]
fn reject_answers_use_the_frame_as_received_once_per_packet_within_the_rate() {
    let cfg = Config::parse(ACCESS_AND_TRUNK, "t.toml".as_ref()).unwrap();
    let seen = Seen::default();
    let engine = RejectOutOf {
        port: 1,
        seen: seen.clone(),
    };
    let mut sw = MemorySwitch::with_chains(
        &cfg,
        Chain::default(),
        Chain::new(vec![HostedEngine::new(engine)]),
        true,
    );
    // Unknown unicast from the access port: flooded, tagged to the trunk (rejected), untagged
    // to "other" (passes).
    sw.send(0, &tcp(1, 9, 1000, 80, None), 0);
    sw.flush();
    assert_eq!(sw.received(2).len(), 1, "the other copy still passes");
    assert_eq!(sw.received(1).len(), 0);
    let answers = sw.received(0);
    assert_eq!(answers.len(), 1);
    assert_eq!(
        vid_of(&answers[0]),
        None,
        "untagged, as the access port sent it"
    );
    let rst = parse_packet(&answers[0]);
    assert_eq!((rst.l4, rst.tcp_flags & 0x004), (L4::Tcp, 0x004));
    assert_eq!((rst.src_port, rst.dst_port), (80, 1000));
    // The answer itself went through egress inspection, out of the access port.
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .any(|(port, f)| *port == 0 && f == &answers[0]),
        "the RST was inspected at egress"
    );
    let c = sw.counters().clone();
    assert_eq!(c.rejects_sent, 1);
    assert_eq!(c.tx_packets, 2, "the copy to 'other' and the RST");
    assert_counters_add_up(&c);

    // A burst of 10 rejected packets at one instant: the burst of 3 is answered, less the one
    // answer already sent; the rate refills 2 a second.
    for i in 0..10 {
        sw.send(0, &tcp(1, 9, 2000 + i, 80, None), 0);
    }
    sw.flush();
    assert_eq!(sw.received(0).len(), 3);
    assert_eq!(sw.counters().rejects_limited, 8);
    for i in 0..3 {
        sw.send(0, &tcp(1, 9, 3000 + i, 80, None), S);
    }
    sw.flush();
    assert_eq!(sw.received(0).len(), 5, "two more a second later");
    assert_eq!(sw.counters().rejects_limited, 9);
    assert_counters_add_up(sw.counters());
}

/// A broadcast on a bridge as large as the configuration allows reaches every other port, and
/// its flow is installed (one port-group action, not thousands of outputs), so the next
/// broadcast is a hit.
#[test]
fn floods_reach_every_port_of_the_largest_bridge_and_install_a_flow() {
    use datapath::port::{Port, PortKind};
    let mut cfg = Config::parse("[[bridge]]\nname = \"br0\"\n", "t.toml".as_ref()).unwrap();
    cfg.limits.emc_insert_inv_prob = 1;
    let n = usize::from(datapath::MAX_PORTS);
    for i in 0..n {
        cfg.ports.push(Port {
            name: format!("vm{i}"),
            kind: PortKind::Vm,
            bridge: 0,
            vlan: VlanMode::Untagged,
            macs: Vec::new(),
            ips: Vec::new(),
            interface: None,
        });
    }
    let mut sw = MemorySwitch::new(&cfg);
    for t in 0..2 {
        sw.send(7, &broadcast(1, None), t * S);
        sw.flush();
    }
    let c = sw.counters();
    assert_eq!(c.tx_packets, 2 * (n as u64 - 1), "{c:#?}");
    assert_eq!(sw.transmitted(7), 0, "never back to the sender");
    assert!(
        (0..n as u16)
            .filter(|&p| p != 7)
            .all(|p| sw.transmitted(p) == 2)
    );
    assert_eq!(
        c.upcalls, 1,
        "the second broadcast hit the installed flood flow"
    );
    assert_eq!(c.total_drops(), 0, "{c:#?}");
    assert_counters_add_up(c);
}

/// Translates UDP from 10.0.0.1 to 203.0.113.1:40000 (source NAT), remembering what egress saw.
struct Snat;
impl Engine for Snat {
    type ConnState = ();
    fn name(&self) -> &'static str {
        "snat"
    }
    fn inspect(&mut self, b: &mut Inspection<'_, '_, ()>) {
        for i in b.packets() {
            let p = b.view(i).parsed();
            if p.l4 == L4::Udp && b.view(i).conn.is_some_and(|c| c.packet_number == 1) {
                let mut t = engine::Translation::default();
                t.to_server[0] = Some(flow::Action::SetIpv4Src([203, 0, 113, 1]));
                t.to_server[1] = Some(flow::Action::SetTpSrc(40000));
                b.translate(i, t);
            }
        }
    }
}

/// An engine's translation rewrites its connection's packets after ingress, before the
/// lookup: every packet of the connection leaves translated (checksums right) and egress
/// engines see it translated.
#[test]
fn a_translated_connection_leaves_rewritten() {
    let cfg = Config::parse(ONE_BRIDGE, "t.toml".as_ref()).unwrap();
    let seen = Seen::default();
    let egress = RejectOutOf {
        port: u16::MAX,
        seen: seen.clone(),
    };
    let mut sw = MemorySwitch::with_chains(
        &cfg,
        Chain::new(vec![HostedEngine::new(Snat)]),
        Chain::new(vec![HostedEngine::new(egress)]),
        true,
    );
    let mut udp = Vec::new();
    etherparse::PacketBuilder::ethernet2(mac(1), mac(2))
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(5000, 53)
        .write(&mut udp, b"query")
        .unwrap();
    for t in 0..3 {
        sw.send(0, &udp, t * S);
        sw.flush();
    }
    let out = sw.received(1);
    assert_eq!(out.len(), 3);
    for f in out {
        let s = etherparse::SlicedPacket::from_ethernet(f).unwrap();
        let Some(etherparse::NetSlice::Ipv4(ip)) = s.net else {
            panic!("not IPv4")
        };
        assert_eq!(ip.header().source(), [203, 0, 113, 1]);
        assert_eq!(
            ip.header().to_header().calc_header_checksum(),
            ip.header().header_checksum()
        );
        let Some(etherparse::TransportSlice::Udp(u)) = s.transport else {
            panic!("not UDP")
        };
        assert_eq!(u.source_port(), 40000);
        let want = u
            .to_header()
            .calc_checksum_ipv4(&ip.header().to_header(), u.payload())
            .unwrap();
        assert_eq!(u.checksum(), want, "UDP checksum updated");
    }
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .all(|(_, f)| f[26..30] == [203, 0, 113, 1]),
        "egress saw the translated frames"
    );
    assert_eq!(sw.counters().translated, 3);
    assert_counters_add_up(sw.counters());
}
