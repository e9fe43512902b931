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
//! Upcalls are metered per input port ([`UpcallMeter`]). A decision that read the forwarding
//! database for a unicast destination says so ([`Decision::depends_on`]); when that MAC is
//! learnt, moves or is forgotten, [`SlowPath::apply`] names it and the worker removes exactly
//! the flows that depend on it (their next packet is decided again). Port changes alter every
//! flood, so they raise [`SlowPath::generation`] instead and the worker revalidates all its
//! flows with [`SlowPath::decide`] before its next packet.
//!
//! This layer may allocate (it installs flows), but it is entered once per new flow, never per
//! packet of a known flow.

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
    /// The unicast destination MAC whose place in the forwarding database the decision read
    /// (known or not): when that entry changes, flows of this decision must go.
    pub depends_on: Option<[u8; 6]>,
    /// The bridge whose ports the decision flooded to (or found none in): a port added to it
    /// changes the decision.
    pub floods: Option<u16>,
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
            depends_on: None,
            floods: None,
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

/// Which installed flows a change makes stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stale {
    Nothing,
    /// Those whose decision read this MAC.
    Mac([u8; 6]),
    /// Those that flood in this bridge.
    Floods(u16),
    /// Every flow (the generation was raised: revalidate).
    All,
}

/// The port groups flood actions name: every port of a bridge that carries a VLAN, tagged or
/// untagged (a flood skips the input port when it expands the group). Interned as decisions
/// need them; emptied when the port table changes, which raises the generation, so every flow
/// that names a group is decided again before its next packet.
#[derive(Debug, Default, Clone)]
pub struct PortGroups {
    groups: Vec<Vec<PortId>>,
    index: std::collections::HashMap<(u16, u16, bool), flow::GroupId, foldhash::fast::RandomState>,
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

    /// The groups of the ports of `bridge` that carry `vlan` untagged and tagged (each sorted
    /// by port id), interned on first use.
    fn of_vlan(
        &mut self,
        bridge: u16,
        vlan: u16,
        ports: &PortTable,
    ) -> (flow::GroupId, flow::GroupId) {
        let mut group = |tagged: bool| {
            let key = (bridge, vlan, tagged);
            if let Some(&g) = self.index.get(&key) {
                return g;
            }
            let members: Vec<PortId> = ports
                .iter()
                .filter(|(_, p)| {
                    usize::from(bridge) == p.bridge
                        && p.vlan.egress(vlan).is_some_and(|e| e.is_some() == tagged)
                })
                .map(|(id, _)| id)
                .collect();
            let g = self.groups.len() as flow::GroupId;
            self.groups.push(members);
            self.index.insert(key, g);
            g
        };
        (group(false), group(true))
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
            counters: SlowPathCounters::default(),
        }
    }

    /// Applies one of the learner's changes and says which installed flows it makes stale:
    /// those that read a MAC (see [`Decision::depends_on`]), those that flood in a bridge that
    /// gained a port (see [`Decision::floods`]), or, when a port changes its VLANs, every flow
    /// (the generation is raised).
    pub fn apply(&mut self, change: &SwitchChange) -> Stale {
        match change {
            SwitchChange::Fdb(c) => {
                self.fdb.apply(c);
                let (FdbChange::Learnt { mac, .. }
                | FdbChange::Moved { mac, .. }
                | FdbChange::Forgotten { mac, .. }) = *c;
                Stale::Mac(mac)
            }
            SwitchChange::PortAdded(p) => {
                self.groups.clear();
                match self.ports.add(p.clone()) {
                    Some(_) => {
                        self.meter.set_ports(self.ports.len());
                        Stale::Floods(p.bridge as u16)
                    }
                    None => Stale::Nothing,
                }
            }
            SwitchChange::PortVlan { port, vlan } => {
                self.groups.clear();
                if let Some(p) = self.ports.get_mut(*port) {
                    p.vlan = vlan.clone();
                    self.generation += 1;
                }
                Stale::All
            }
        }
    }

    /// The decision generation: changes when the port table does.
    pub fn generation(&self) -> u64 {
        self.generation
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
        d.depends_on = None;
        d.floods = None;
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
        // Whatever follows for a unicast destination depends on where (or whether) it is learnt.
        d.depends_on = (dst[0] & 1 == 0).then_some(dst);
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
        // Flood: to the ports of the bridge that carry the VLAN untagged, and those that carry
        // it tagged (each set interned once as a port group), but the input port; starting with
        // the frame's own tag state so that the common case needs no rewrite at all.
        d.floods = Some(bridge as u16);
        let (untagged, tagged) = self.groups.of_vlan(bridge as u16, vlan, &self.ports);
        let others = |g: flow::GroupId| {
            let ports = self.groups.ports(g);
            ports.len() - usize::from(ports.binary_search(&in_port).is_ok())
        };
        let (n_untagged, n_tagged) = (others(untagged), others(tagged));
        if n_untagged + n_tagged == 0 {
            return drop(d, &wc, DropReason::NoDestination);
        }
        let order = if wire_tag.is_some() {
            [(Some(vlan), tagged, n_tagged), (None, untagged, n_untagged)]
        } else {
            [(None, untagged, n_untagged), (Some(vlan), tagged, n_tagged)]
        };
        let mut state = wire_tag;
        for (egress, g, n) in order {
            if n == 0 {
                continue;
            }
            retag(&mut d.actions, state, egress);
            state = egress.map(|v| v & 0x0fff);
            if n == 1 {
                let only = self.groups.ports(g).iter().copied().find(|&p| p != in_port);
                if let Some(p) = only {
                    d.actions.push(Action::Output(p));
                }
            } else {
                // One action whatever the bridge's size; the flood skips the input port.
                d.actions.push(Action::Flood(g));
            }
        }
        d.mask = wc.mask();
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
