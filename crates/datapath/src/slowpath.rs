//! The slow path: what happens to a packet the flow table has no entry for.
//!
//! A miss goes up as an upcall (the input port and the flow key); the slow path decides the
//! packet's fate as a learning switch (per bridge and VLAN: forward to the port that owns the
//! destination MAC, or flood broadcast, multicast and unknown unicast to every other port of the
//! bridge and VLAN, adding or removing the 802.1Q tag each output port wants), and answers with a
//! [`Decision`]: the actions and the **narrowest-needed megaflow mask**, made of only the fields
//! the decision read (recorded through [`flow::Wildcards`]). The fast path installs it and
//! applies the actions; it never calls into policy code itself.
//!
//! Each worker has a slow path of its own: shared nothing, no lock. It does not learn; it keeps
//! a copy of the port table and the forwarding database that changes only when the worker
//! applies the [`crate::learn::Learner`]'s [`SwitchChange`]s, which the runtime hands it between
//! the packets they fall between. So a decision depends only on the packets that arrived before
//! it, with one worker or many.
//!
//! Upcalls are metered per input port ([`UpcallMeter`]). Every change that can alter an installed
//! flow's decision raises [`SlowPath::generation`]: a MAC moved or forgotten, a port added or
//! changed, or a new MAC learnt that some installed flow flooded to as unknown unicast (the slow
//! path remembers which unknown destinations it flooded, so that the common case of a new MAC
//! nobody was looking for changes nothing). The worker then revalidates its installed flows with
//! [`SlowPath::decide`] before its next packet.
//!
//! This layer may allocate (it installs flows), but it is entered once per new flow, never per
//! packet of a known flow.

type HashSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;

use flow::{Action, Field, FlowKey, FlowMask, Wildcards};

use crate::config::Config;
use crate::counters::DropReason;
use crate::fdb::{FdbChange, FdbView};
use crate::learn::SwitchChange;
use crate::meter::UpcallMeter;
use crate::port::{PortId, PortTable};

/// 802.1Q tag protocol identifier used when the switch pushes a tag.
pub const TPID_8021Q: u16 = 0x8100;

/// The slow path's answer to an upcall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Actions in order; outputs see the packet as the actions before them left it.
    pub actions: Vec<Action>,
    /// The fields the decision depended on; everything else is wildcarded.
    pub mask: FlowMask,
    /// Priority of the megaflow (all learning-switch flows share one; policy flows rank above).
    pub priority: u32,
    /// The generation the decision was made under.
    pub generation: u64,
    /// Why the packet is dropped, when the actions drop it.
    pub drop: Option<DropReason>,
    /// Set when the packet was flooded because its unicast destination is unknown: (bridge,
    /// VLAN, MAC). Learning that MAC later must revalidate this flow.
    pub unknown_destination: Option<(u16, u16, [u8; 6])>,
}

impl Decision {
    /// A decision to fill with [`SlowPath::decide_into`] or [`SlowPath::upcall_into`].
    pub fn empty() -> Decision {
        Decision {
            actions: Vec::new(),
            mask: FlowMask::CATCHALL,
            priority: SWITCH_PRIORITY,
            generation: 0,
            drop: None,
            unknown_destination: None,
        }
    }
}

/// Counters of the slow path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlowPathCounters {
    pub upcalls: u64,
    pub upcalls_refused: u64,
    pub unicast: u64,
    pub flooded: u64,
    pub dropped: u64,
}

impl SlowPathCounters {
    /// Adds another worker's counters to these.
    pub fn add(&mut self, o: &SlowPathCounters) {
        self.upcalls += o.upcalls;
        self.upcalls_refused += o.upcalls_refused;
        self.unicast += o.unicast;
        self.flooded += o.flooded;
        self.dropped += o.dropped;
    }
}

/// The port groups flood actions name: every port of a bridge that carries a VLAN, tagged or
/// untagged (a flood skips the input port when it expands the group). Interned as decisions
/// need them; emptied when the port table changes, which raises the generation, so every flow
/// that names a group is decided again before its next packet.
#[derive(Debug, Default, Clone)]
pub struct PortGroups {
    groups: Vec<Vec<PortId>>,
    index: std::collections::HashMap<(u16, u16, bool), flow::GroupId>,
}

impl PortGroups {
    /// The ports of group `g` (empty for an unknown group).
    #[inline]
    pub fn ports(&self, g: flow::GroupId) -> &[PortId] {
        self.groups.get(g as usize).map_or(&[], Vec::as_slice)
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// True when there is no group.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    fn intern(
        &mut self,
        key: (u16, u16, bool),
        make: impl FnOnce() -> Vec<PortId>,
    ) -> flow::GroupId {
        if let Some(&g) = self.index.get(&key) {
            return g;
        }
        let g = self.groups.len() as flow::GroupId;
        self.groups.push(make());
        self.index.insert(key, g);
        g
    }

    fn clear(&mut self) {
        self.groups.clear();
        self.index.clear();
    }
}

/// A worker's learning-switch slow path for every bridge.
#[derive(Debug)]
pub struct SlowPath {
    ports: PortTable,
    bridges: Vec<String>,
    fdb: FdbView,
    groups: PortGroups,
    meter: UpcallMeter,
    generation: u64,
    /// Unicast destinations flooded as unknown by some installed flow.
    flooded_unknown: HashSet<(u16, u16, [u8; 6])>,
    counters: SlowPathCounters,
}

/// Priority of learning-switch megaflows.
pub const SWITCH_PRIORITY: u32 = 100;

impl SlowPath {
    /// A slow path for the bridges and ports of `config`, knowing no MAC yet.
    pub fn new(config: &Config) -> Self {
        let l = &config.limits;
        let mut ports = PortTable::new();
        for p in &config.ports {
            // Config validation bounds the port count, so `add` cannot fail here.
            let _ = ports.add(p.clone());
        }
        let n = ports.len();
        SlowPath {
            ports,
            bridges: config.bridges.iter().map(|b| b.name.clone()).collect(),
            fdb: FdbView::new(),
            groups: PortGroups::default(),
            meter: UpcallMeter::new(l.upcall_rate, l.upcall_burst, n.max(1)),
            generation: 1,
            flooded_unknown: HashSet::default(),
            counters: SlowPathCounters::default(),
        }
    }

    /// Applies one of the learner's changes; raises the generation when an installed flow's
    /// decision may have changed.
    pub fn apply(&mut self, change: &SwitchChange) {
        match change {
            SwitchChange::Fdb(c) => {
                self.fdb.apply(c);
                match *c {
                    FdbChange::Learnt {
                        bridge, vlan, mac, ..
                    } => {
                        // A MAC nobody flooded to changes no installed decision.
                        if !self.flooded_unknown.is_empty()
                            && self.flooded_unknown.remove(&(bridge, vlan, mac))
                        {
                            self.generation += 1;
                        }
                    }
                    FdbChange::Moved { .. } | FdbChange::Forgotten { .. } => {
                        self.generation += 1;
                    }
                }
            }
            SwitchChange::PortAdded(p) => {
                self.groups.clear();
                if self.ports.add(p.clone()).is_some() {
                    self.meter.set_ports(self.ports.len());
                    // A new port changes flooding decisions.
                    self.generation += 1;
                }
            }
            SwitchChange::PortVlan { port, vlan } => {
                self.groups.clear();
                if let Some(p) = self.ports.get_mut(*port) {
                    p.vlan = vlan.clone();
                    self.generation += 1;
                }
            }
        }
    }

    /// The decision generation: changes whenever an installed flow's decision may be stale.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Records that an installed flow floods to an unknown destination.
    pub fn note_decision(&mut self, d: &Decision) {
        if let Some(k) = d.unknown_destination
            && self.flooded_unknown.len() < 1 << 20
        {
            self.flooded_unknown.insert(k);
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

    /// The port groups flood actions name.
    pub fn groups(&self) -> &PortGroups {
        &self.groups
    }

    /// This worker's copy of the forwarding database.
    pub fn fdb(&self) -> &FdbView {
        &self.fdb
    }

    /// The upcall meter.
    pub fn meter(&self) -> &UpcallMeter {
        &self.meter
    }

    /// Counters since creation.
    pub fn counters(&self) -> SlowPathCounters {
        self.counters
    }

    /// Handles one upcall: meters it and decides, into a decision the caller keeps from one
    /// upcall to the next (its action list is reused, so a decision allocates nothing). False
    /// when the meter refused the upcall (the packet is dropped, nothing is installed; `d` is
    /// left as it was).
    pub fn upcall_into(&mut self, key: &FlowKey, now: u64, d: &mut Decision) -> bool {
        self.counters.upcalls += 1;
        if !self.meter.admit(key.in_port(), now) {
            self.counters.upcalls_refused += 1;
            return false;
        }
        self.decide_into(key, d);
        self.note_decision(d);
        match &d.drop {
            Some(_) => self.counters.dropped += 1,
            None if d
                .actions
                .iter()
                .filter(|a| matches!(a, Action::Output(_) | Action::Flood(_)))
                .count()
                > 1
                || d.actions.iter().any(|a| matches!(a, Action::Flood(_))) =>
            {
                self.counters.flooded += 1
            }
            None => self.counters.unicast += 1,
        }
        true
    }

    /// Decides what to do with packets of `key`. Used for upcalls and to revalidate installed
    /// flows.
    pub fn decide(&mut self, key: &FlowKey) -> Decision {
        let mut d = Decision::empty();
        self.decide_into(key, &mut d);
        d
    }

    /// [`SlowPath::decide`] into `d`, reusing its action list.
    pub fn decide_into(&mut self, key: &FlowKey, d: &mut Decision) {
        let mut wc = Wildcards::new();
        d.actions.clear();
        d.priority = SWITCH_PRIORITY;
        d.generation = self.generation();
        d.drop = None;
        d.unknown_destination = None;
        let drop = |d: &mut Decision, wc: &Wildcards, reason: DropReason| {
            d.actions.clear();
            d.actions.push(Action::Drop(reason));
            d.mask = wc.mask();
            d.drop = Some(reason);
        };
        wc.read(Field::InPort);
        let in_port = key.in_port();
        let Some(port) = self.ports.get(in_port) else {
            return drop(d, &wc, DropReason::UnknownPort);
        };
        wc.read(Field::Vlan);
        let tag = key.vlan().map(|tci| tci & 0x0fff);
        let Some(vlan) = port.vlan.admit(tag) else {
            return drop(d, &wc, DropReason::VlanNotAllowed);
        };
        // The source MAC is read for learning: a new source must come up to be learnt.
        wc.read(Field::DlSrc);
        let src = key.dl_src();
        if src[0] & 1 != 0 {
            return drop(d, &wc, DropReason::InvalidSourceMac);
        }
        wc.read(Field::DlDst);
        let dst = key.dl_dst();
        let bridge = port.bridge;
        // The frame's tag state on input: a priority tag (VID 0) is kept as it came.
        let wire_tag = key.vlan();
        if dst[0] & 1 == 0
            && let Some(out) = self.fdb.lookup(bridge as u16, vlan, dst)
        {
            if out == in_port {
                return drop(d, &wc, DropReason::Hairpin);
            }
            if let Some(op) = self.ports.get(out)
                && op.bridge == bridge
                && let Some(egress) = op.vlan.egress(vlan)
            {
                retag(&mut d.actions, wire_tag, egress);
                d.actions.push(Action::Output(out));
                d.mask = wc.mask();
                return;
            }
            // The learnt port cannot carry this VLAN any more: flood instead.
        }
        let unknown_destination = (dst[0] & 1 == 0).then_some((bridge as u16, vlan, dst));
        // Flood: group output ports by the tag they want, starting with the frame's own state
        // so that the common case needs no rewrite at all.
        let mut untagged: Vec<PortId> = Vec::new();
        let mut tagged: Vec<PortId> = Vec::new();
        for (id, p) in self.ports.iter() {
            if id == in_port || p.bridge != bridge {
                continue;
            }
            match p.vlan.egress(vlan) {
                Some(None) => untagged.push(id),
                Some(Some(_)) => tagged.push(id),
                None => {}
            }
        }
        if untagged.is_empty() && tagged.is_empty() {
            // Dropped for want of a port to flood to, but learning that destination later
            // (on the input port: a hairpin) changes the reason: revalidate this flow then.
            drop(d, &wc, DropReason::NoDestination);
            d.unknown_destination = unknown_destination;
            return;
        }
        let groups: [(Option<u16>, &Vec<PortId>); 2] = if wire_tag.is_some() {
            [(Some(vlan), &tagged), (None, &untagged)]
        } else {
            [(None, &untagged), (Some(vlan), &tagged)]
        };
        let mut state = wire_tag;
        for (egress, ports) in groups {
            if ports.is_empty() {
                continue;
            }
            retag(&mut d.actions, state, egress);
            state = egress.map(|v| v & 0x0fff);
            if let [p] = ports[..] {
                d.actions.push(Action::Output(p));
            } else {
                // Every port of the bridge that carries the VLAN this way, the input port
                // included (the flood skips it): one action whatever the bridge's size.
                let tagged = egress.is_some();
                let table = &self.ports;
                let g = self.groups.intern((bridge as u16, vlan, tagged), || {
                    table
                        .iter()
                        .filter(|(_, p)| {
                            p.bridge == bridge
                                && p.vlan.egress(vlan).is_some_and(|e| e.is_some() == tagged)
                        })
                        .map(|(id, _)| id)
                        .collect()
                });
                d.actions.push(Action::Flood(g));
            }
        }
        d.mask = wc.mask();
        d.unknown_destination = unknown_destination;
    }
}

/// Appends the actions that turn a frame tagged `from` (a TCI, or untagged) into one tagged
/// `to` (a VID, or untagged).
fn retag(actions: &mut Vec<Action>, from: Option<u16>, to: Option<u16>) {
    match (from, to) {
        (None, None) => {}
        (Some(tci), Some(vid)) if tci & 0x0fff == vid => {}
        (Some(_), None) => actions.push(Action::PopVlan),
        (None, Some(vid)) => actions.push(Action::PushVlan {
            tpid: TPID_8021Q,
            tci: vid,
        }),
        (Some(_), Some(vid)) => {
            actions.push(Action::PopVlan);
            actions.push(Action::PushVlan {
                tpid: TPID_8021Q,
                tci: vid,
            });
        }
    }
}
