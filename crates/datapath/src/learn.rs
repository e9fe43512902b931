//! MAC learning in arrival order: the [`Learner`] keeps the authoritative port table and
//! forwarding database, sees every received frame before any worker does, and reports each
//! change as a [`SwitchChange`] that every worker's slow path applies in the same order.
//!
//! Why here and not in the workers: a worker sees only the packets steered to it, yet its
//! decisions (unicast or flood) depend on MACs learnt from every packet. Deciding learning
//! once, in arrival order, and handing the changes to every worker between the packets they
//! fall between, makes each decision depend only on the packets that came before it: the same
//! with one worker or many, whatever the batches. Aging runs here too, at fixed points of the
//! pipeline clock (every [`AGING_INTERVAL_NS`] of packet time), so it is as deterministic.
//!
//! Learning respects the ports' bound MACs (`macs` in the configuration): a port with bound
//! MACs learns only those, and a MAC bound to one port is never learnt on another. A VM that
//! forges a neighbour's MAC therefore cannot steal its traffic, even though learning happens
//! before its frames are inspected (and possibly dropped) by a worker.
//!
//! The learner is on the receive path of every packet: [`Learner::observe`] reads the source
//! MAC and VLAN tag from the bytes and refreshes a known station with one hash probe; it
//! allocates only when the table changes.

use crate::config::Config;
use crate::fdb::{Fdb, FdbChange, Learned};
use crate::port::{Port, PortId, PortTable, VlanMode};

/// How often (in packet time) learnt MACs are aged.
pub const AGING_INTERVAL_NS: u64 = 1_000_000_000;

/// A change every worker's slow path applies, in the learner's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwitchChange {
    /// The forwarding database changed.
    Fdb(FdbChange),
    /// A port was added (its id is the next in the table).
    PortAdded(Port),
    /// A port's VLAN treatment changed; the MACs learnt on it are forgotten (reported as
    /// `Fdb` changes before this one).
    PortVlan { port: PortId, vlan: VlanMode },
}

/// Counters of learning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LearnCounters {
    /// Frames seen.
    pub observed: u64,
    /// New MACs.
    pub macs_learnt: u64,
    /// MACs seen on a new port.
    pub station_moves: u64,
    /// MACs forgotten (aged, evicted, flushed).
    pub macs_forgotten: u64,
    /// Frames not learnt from: a source MAC the port is not bound to, or bound to another port.
    pub refused: u64,
}

/// The authoritative port table and forwarding database, changed in arrival order.
#[derive(Debug)]
pub struct Learner {
    ports: PortTable,
    bridges: Vec<String>,
    fdb: Fdb,
    /// The port each bound MAC belongs to.
    bound: std::collections::HashMap<[u8; 6], PortId, foldhash::fast::RandomState>,
    fdb_changes: Vec<FdbChange>,
    next_aging: Option<u64>,
    counters: LearnCounters,
}

impl Learner {
    /// A learner for the bridges and ports of `config`.
    pub fn new(config: &Config) -> Self {
        let mut ports = PortTable::new();
        let mut bound = std::collections::HashMap::default();
        for p in &config.ports {
            // Config validation bounds the port count, so `add` cannot fail here.
            if let Some(id) = ports.add(p.clone()) {
                for m in &p.macs {
                    bound.entry(*m).or_insert(id);
                }
            }
        }
        let l = &config.limits;
        Learner {
            ports,
            bridges: config.bridges.iter().map(|b| b.name.clone()).collect(),
            fdb: Fdb::new(
                l.mac_table_size,
                l.mac_aging_s.saturating_mul(1_000_000_000),
            ),
            bound,
            fdb_changes: Vec::new(),
            next_aging: None,
            counters: LearnCounters::default(),
        }
    }

    /// The port table.
    pub fn ports(&self) -> &PortTable {
        &self.ports
    }

    /// Bridge names, by index.
    pub fn bridges(&self) -> &[String] {
        &self.bridges
    }

    /// The forwarding database.
    pub fn fdb(&self) -> &Fdb {
        &self.fdb
    }

    /// Counters since creation.
    pub fn counters(&self) -> LearnCounters {
        self.counters
    }

    /// Learns from a frame that entered `in_port` at `now`: the source MAC on the frame's
    /// bridge-internal VLAN (nothing for a VLAN the port does not admit, or a multicast
    /// source). Ages the table first when an aging point has passed. Appends every change to
    /// `out`; returns true when there was any.
    #[inline]
    pub fn observe(
        &mut self,
        in_port: PortId,
        frame: &[u8],
        now: u64,
        out: &mut Vec<SwitchChange>,
    ) -> bool {
        self.counters.observed += 1;
        let before = out.len();
        if self.next_aging.is_none_or(|t| now >= t) {
            self.age(now, out);
        }
        if let (Some(src), Some(port)) = (frame.get(6..12), self.ports.get(in_port))
            && src[0] & 1 == 0
            && let Some(vlan) = port.vlan.admit(wire_vid(frame))
        {
            let mac = [src[0], src[1], src[2], src[3], src[4], src[5]];
            if (!port.macs.is_empty() && !port.macs.contains(&mac))
                || (!self.bound.is_empty()
                    && self.bound.get(&mac).is_some_and(|&owner| owner != in_port))
            {
                self.counters.refused += 1;
                return out.len() > before;
            }
            let learned = self.fdb.learn(
                port.bridge as u16,
                vlan,
                mac,
                in_port,
                now,
                &mut self.fdb_changes,
            );
            match learned {
                Learned::New => self.counters.macs_learnt += 1,
                Learned::Moved { .. } => self.counters.station_moves += 1,
                Learned::Refreshed | Learned::Ignored => {}
            }
            self.drain_fdb_changes(out);
        }
        out.len() > before
    }

    /// The bridge-internal VLAN of a frame entering `port` (`None` when the port does not
    /// exist or does not admit the frame's tag).
    #[inline]
    pub fn internal_vlan(&self, port: PortId, frame: &[u8]) -> Option<u16> {
        self.ports.get(port)?.vlan.admit(wire_vid(frame))
    }

    /// Forgets MACs unused for the aging time; called by [`Learner::observe`] at each aging
    /// point, and by drivers at the end of input.
    pub fn age(&mut self, now: u64, out: &mut Vec<SwitchChange>) {
        self.next_aging = Some(now.saturating_add(AGING_INTERVAL_NS));
        self.fdb.age(now, &mut self.fdb_changes);
        self.drain_fdb_changes(out);
    }

    /// Adds a port (a VM appeared); returns its id, or `None` when the id space is full.
    pub fn add_port(&mut self, port: Port, out: &mut Vec<SwitchChange>) -> Option<PortId> {
        let id = self.ports.add(port.clone())?;
        for m in &port.macs {
            self.bound.entry(*m).or_insert(id);
        }
        out.push(SwitchChange::PortAdded(port));
        Some(id)
    }

    /// Changes a port's VLAN treatment; the MACs learnt on it are forgotten.
    pub fn set_port_vlan(
        &mut self,
        port: PortId,
        vlan: VlanMode,
        out: &mut Vec<SwitchChange>,
    ) -> bool {
        let Some(p) = self.ports.get_mut(port) else {
            return false;
        };
        p.vlan = vlan.clone();
        self.fdb.flush_port(port, &mut self.fdb_changes);
        self.drain_fdb_changes(out);
        out.push(SwitchChange::PortVlan { port, vlan });
        true
    }

    fn drain_fdb_changes(&mut self, out: &mut Vec<SwitchChange>) {
        for c in self.fdb_changes.drain(..) {
            if matches!(c, FdbChange::Forgotten { .. }) {
                self.counters.macs_forgotten += 1;
            }
            out.push(SwitchChange::Fdb(c));
        }
    }
}

/// The VLAN id of a frame's outermost 802.1Q/802.1ad tag (`None` when untagged).
#[inline]
fn wire_vid(frame: &[u8]) -> Option<u16> {
    let tpid = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    if tpid == 0x8100 || tpid == 0x88a8 {
        Some(u16::from_be_bytes([*frame.get(14)?, *frame.get(15)?]) & 0x0fff)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::port::PortKind;

    const S: u64 = 1_000_000_000;

    fn learner() -> Learner {
        let cfg = Config::parse(
            r#"
            [datapath]
            mac_aging_s = 5
            [[bridge]]
            name = "br0"
            [[port]]
            name = "a"
            kind = "vm"
            bridge = "br0"
            vlan = 10
            [[port]]
            name = "t"
            kind = "uplink"
            bridge = "br0"
            trunk = [10, 20]
            "#,
            "t.toml".as_ref(),
        )
        .unwrap();
        Learner::new(&cfg)
    }

    fn frame(src: u8, tag: Option<u16>) -> Vec<u8> {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 0, src]);
        if let Some(v) = tag {
            f.extend_from_slice(&[0x81, 0, (v >> 8) as u8, v as u8]);
        }
        f.extend_from_slice(&[0x08, 0x06]);
        f
    }

    #[test]
    fn learns_on_the_internal_vlan_and_reports_only_changes() {
        let mut l = learner();
        let mut out = Vec::new();
        assert!(l.observe(0, &frame(1, None), 0, &mut out));
        assert_eq!(l.fdb().lookup(0, 10, [2, 0, 0, 0, 0, 1]), Some(0));
        out.clear();
        assert!(!l.observe(0, &frame(1, None), S / 2, &mut out), "a refresh");
        // The same MAC tagged 10 on the trunk: a move; tagged 30: not admitted, not learnt.
        assert!(l.observe(1, &frame(1, Some(10)), S / 2, &mut out));
        assert!(matches!(
            out[0],
            SwitchChange::Fdb(FdbChange::Moved { to: 1, .. })
        ));
        out.clear();
        assert!(!l.observe(1, &frame(2, Some(30)), S / 2, &mut out));
        assert!(!l.observe(1, &[0; 10], S / 2, &mut out), "too short");
        assert_eq!(l.counters().station_moves, 1);
    }

    #[test]
    fn bound_macs_are_learnt_only_on_their_port() {
        let cfg = Config::parse(
            r#"
            [[bridge]]
            name = "br0"
            [[port]]
            name = "a"
            kind = "vm"
            bridge = "br0"
            macs = ["02:00:00:00:00:01"]
            [[port]]
            name = "b"
            kind = "vm"
            bridge = "br0"
            "#,
            "t.toml".as_ref(),
        )
        .unwrap();
        let mut l = Learner::new(&cfg);
        let mut out = Vec::new();
        // b forges a's MAC: not learnt; a sends another MAC: not learnt either.
        assert!(!l.observe(1, &frame(1, None), 0, &mut out));
        assert!(!l.observe(0, &frame(2, None), 0, &mut out));
        assert_eq!(l.counters().refused, 2);
        assert!(l.observe(0, &frame(1, None), 0, &mut out));
        assert!(
            l.observe(1, &frame(3, None), 0, &mut out),
            "b learns its own"
        );
        assert_eq!(l.fdb().lookup(0, 0, [2, 0, 0, 0, 0, 1]), Some(0));
    }

    #[test]
    fn ages_at_fixed_points_of_packet_time() {
        let mut l = learner();
        let mut out = Vec::new();
        l.observe(0, &frame(1, None), 0, &mut out);
        l.observe(0, &frame(2, None), 4 * S, &mut out);
        out.clear();
        // MAC 1 unused for more than 5 s by t = 6 s; MAC 2 is not.
        l.observe(1, &frame(3, Some(20)), 6 * S, &mut out);
        assert!(out.contains(&SwitchChange::Fdb(FdbChange::Forgotten {
            bridge: 0,
            vlan: 10,
            mac: [2, 0, 0, 0, 0, 1]
        })));
        assert_eq!(l.fdb().len(), 2);
    }

    #[test]
    fn port_changes_are_reported() {
        let mut l = learner();
        let mut out = Vec::new();
        l.observe(0, &frame(1, None), 0, &mut out);
        out.clear();
        assert!(l.set_port_vlan(0, VlanMode::Access(20), &mut out));
        assert!(matches!(
            out[0],
            SwitchChange::Fdb(FdbChange::Forgotten { .. })
        ));
        assert!(matches!(out[1], SwitchChange::PortVlan { port: 0, .. }));
        let id = l.add_port(
            Port {
                name: "b".into(),
                kind: PortKind::Vm,
                bridge: 0,
                vlan: VlanMode::Untagged,
                macs: vec![],
                ips: vec![],
                interface: None,
            },
            &mut out,
        );
        assert_eq!(id, Some(2));
        assert!(matches!(out[2], SwitchChange::PortAdded(_)));
    }
}
