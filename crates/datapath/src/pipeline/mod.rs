//! The pipeline one worker runs over each batch of up to 32 packets:
//!
//! 1. **receive**: the batch arrives in preallocated buffers ([`Batch`]);
//! 2. **flow key** of each packet, read straight from the bytes ([`FlowKey::from_frame`]) for
//!    the common shapes, from a full parse ([`FlowKey::extract`]) for the rest. The full parse
//!    ([`wire::ParsedPacket`]) is otherwise made only when something needs it (an inspection
//!    engine, a rewrite action, a drop report), once per packet, and kept in the buffer;
//! 3. **ingress inspection** of the packet as the sender sent it;
//! 4. **flow lookup**: exact-match cache, then megaflow classifier, as one batch; a miss goes up
//!    to the worker's own [`SlowPath`], which installs a megaflow;
//! 5. **actions**: rewrite the frame in place (set fields, push/pop VLAN) and collect outputs; a
//!    copy is made only when an output must see the packet before a later rewrite;
//! 6. **egress inspection** of each output copy as its receiver will get it;
//! 7. **transmit** to the [`TxSink`], checking that the copy passed both inspections.
//!
//! The hot path must never allocate, lock or block per packet: scratch arrays live in the
//! [`Worker`], and buffers are recycled (the pool of output copies grows to its limit as copies
//! are first needed, then is only reused). Only the slow path (upcalls, installs) and the report
//! of a dropped or alerted packet to the [`Observer`] may allocate. A worker is shared-nothing:
//! it owns its flow table, its slow path and its inspection engines. MAC learning happens before
//! the worker, in arrival order ([`crate::learn::Learner`]); the worker applies the learner's
//! changes ([`Worker::apply`]) between batches, and revalidates its flows before the next.

mod actions;
mod batch;
mod connection;
mod egress;
mod ingress;
mod keys;
mod lookup;
mod observer;
mod sink;
mod translate;
mod upcall;
mod views;

use flow::{Action, FlowId, FlowKey, FlowMask, FlowTable, FlowTableConfig, OutputSet, PacketBuf};

use crate::MAX_BATCH;
use crate::config::Limits;
use crate::counters::DatapathCounters;
use crate::learn::SwitchChange;
use crate::reject;
use crate::slowpath::{Decision, SlowPath, Stale};
use conn::{
    ConnConfig, ConnLookup, ConnRecord, ConnTable, Defrag, DefragConfig, MAX_REASSEMBLED_FRAME,
    NeedsParse,
};
use engine::{Action as EngineAction, Alerts, Chain, ChainOutcome, ConnInfo, ConnSlots};

use connection::ConnFlags;
use egress::{ClearedSlot, Egress, OriginalHead};
use ingress::Admissions;
use upcall::{BatchInstall, Decided};
use views::ViewPool;

pub use batch::{Arrival, BUF_SIZE, Batch};
pub use egress::{Cleared, REPLY_COPY, TxBurst};
pub use observer::{AlertNotice, DropNotice, FlowNotice, LogNotice, NoObserver, Observer};
pub use sink::TxSink;

/// How often (in pipeline time) a worker expires idle flows and refreshes MAC learning.
pub const MAINTENANCE_INTERVAL_NS: u64 = 1_000_000_000;

/// One datapath worker.
pub struct Worker {
    id: usize,
    table: FlowTable,
    slow: SlowPath,
    seen_generation: u64,
    ingress: Chain,
    egress: Chain,
    counters: DatapathCounters,
    /// Connections of this worker's packets (steering brings both directions here).
    conns: ConnTable,
    defrag: Defrag,
    /// Where a datagram is reassembled.
    reassembly: Box<[u8]>,
    /// What the datapath keeps per connection (a drop of the whole connection, bypasses).
    conn_flags: ConnSlots<ConnFlags>,
    /// Connections that ended and are not yet reported.
    ended: Vec<ConnRecord>,
    /// Each packet's connection.
    conn_info: [Option<ConnInfo>; MAX_BATCH],
    /// Each packet's connection lookup, made for the whole batch before any is tracked, and
    /// the VLAN it is tracked under.
    conn_lookups: [Result<ConnLookup, NeedsParse>; MAX_BATCH],
    conn_vlans: [u16; MAX_BATCH],
    /// Alerts of the last chain run, and those raised at connection ends.
    alerts: Alerts,
    conn_alerts: Alerts,
    /// What the last chain run said per packet.
    outcome: ChainOutcome,
    /// Slots whose actions rewrote the frame (bit per slot): their egress key is read anew.
    rewritten: u32,
    /// The flow keys of an egress chunk's frames as rewritten.
    egress_keys: Vec<FlowKey>,
    /// The flows whose decision read the forwarding database for a destination MAC, by MAC:
    /// removed when that MAC is learnt, moves or is forgotten (stale ids are harmless).
    dependents: std::collections::HashMap<[u8; 6], Vec<FlowId>, foldhash::fast::RandomState>,
    /// The flows whose decision flooded in a bridge, by bridge: removed when it gains a port.
    flooders: std::collections::HashMap<u16, Vec<FlowId>, foldhash::fast::RandomState>,
    /// Connections translated so far (the translate stage is skipped while none is).
    translated: u64,
    /// A translation's rewrites for one packet.
    rewrite_actions: Vec<Action>,
    /// Output copies, made on first need up to `copies_max` (64 KB each: most workers never
    /// need more than a few, and a pool allocated up front cost 64 MB of memory per worker).
    copies: Vec<PacketBuf>,
    copies_max: usize,
    copies_used: usize,
    /// Reject answers: at most so many per second per input port.
    reply_limiter: reject::ReplyLimiter,
    /// Slots of this batch already answered (one answer per packet).
    replied: u32,
    /// The head of each packet of this batch as received, saved when its actions rewrote it
    /// and an egress engine might reject it.
    originals: Box<[Option<OriginalHead>; MAX_BATCH]>,
    last_maintenance: Option<u64>,
    // Per-batch scratch, sized once.
    keys: [FlowKey; MAX_BATCH],
    /// TCP flags of each packet (for the flow statistics).
    tcp_flags: [u16; MAX_BATCH],
    /// Length of each packet as received (for the flow statistics).
    lens: [u32; MAX_BATCH],
    /// Packets not dropped before ingress inspection.
    alive: [bool; MAX_BATCH],
    /// Packets that passed ingress inspection and were not dropped since (the proofs).
    admitted: Admissions,
    flows: [Option<FlowId>; MAX_BATCH],
    lookup_keys: [FlowKey; MAX_BATCH],
    lookup_idx: [u8; MAX_BATCH],
    lookup_out: [Option<FlowId>; MAX_BATCH],
    lookup_lens: [u32; MAX_BATCH],
    lookup_flags: [u16; MAX_BATCH],
    lookup_times: [u64; MAX_BATCH],
    lookup_single: [u16; MAX_BATCH],
    /// `port + 1` for a packet whose flow's actions are exactly `[Output(port)]`, else 0.
    single_output: [u16; MAX_BATCH],
    /// Packets whose flow says "to slow path": decided afresh, nothing installed.
    no_install: [bool; MAX_BATCH],
    /// This batch's upcalled packets: slot, the flow installed (if any), and where its actions
    /// are in `decided_actions`.
    decided: Vec<Decided>,
    /// The actions of every decision of this batch, one after the other (no list per packet).
    decided_actions: Vec<Action>,
    /// The slow path's answer, reused from one upcall to the next.
    decision: Decision,
    /// Flows this batch's upcalls installed, and their distinct masks.
    batch_installs: Vec<BatchInstall>,
    batch_masks: Vec<FlowMask>,
    outputs: OutputSet,
    egress_list: Vec<Egress>,
    /// One-output hits cleared to leave in one burst from the action stage.
    burst: Vec<ClearedSlot>,
    egress_verdicts: Vec<EngineAction>,
    views: ViewPool,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("id", &self.id)
            .field("flows", &self.table.len())
            .field("ingress", &self.ingress)
            .field("egress", &self.egress)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// A worker with its own flow table and inspection chains.
    pub fn new(id: usize, limits: &Limits, slow: SlowPath, ingress: Chain, egress: Chain) -> Self {
        let table = FlowTable::new(FlowTableConfig {
            emc_entries: limits.emc_entries,
            emc_insert_inv_prob: limits.emc_insert_inv_prob,
            max_flows: limits.max_flows,
            idle_timeout_ns: limits.idle_timeout_ms.saturating_mul(1_000_000),
        });
        let copies_max = limits.pool_buffers.min(4096);
        Worker {
            id,
            table,
            seen_generation: slow.generation(),
            slow,
            ingress,
            egress,
            counters: DatapathCounters::default(),
            conns: ConnTable::new(ConnConfig {
                max_connections: limits.max_connections,
                ..ConnConfig::default()
            }),
            defrag: Defrag::new(DefragConfig::default()),
            reassembly: vec![0u8; MAX_REASSEMBLED_FRAME].into_boxed_slice(),
            conn_flags: ConnSlots::new(),
            ended: Vec::new(),
            conn_info: [None; MAX_BATCH],
            conn_lookups: [Err(NeedsParse); MAX_BATCH],
            conn_vlans: [0; MAX_BATCH],
            alerts: Alerts::new(),
            conn_alerts: Alerts::new(),
            outcome: ChainOutcome::default(),
            rewritten: 0,
            egress_keys: Vec::with_capacity(MAX_BATCH),
            dependents: Default::default(),
            flooders: Default::default(),
            translated: 0,
            rewrite_actions: Vec::with_capacity(engine::MAX_REWRITES),
            copies: Vec::with_capacity(copies_max),
            copies_max,
            copies_used: 0,
            reply_limiter: reject::ReplyLimiter::new(limits.reject_rate, limits.reject_burst),
            replied: 0,
            originals: Box::new([None; MAX_BATCH]),
            last_maintenance: None,
            keys: [FlowKey::zero(); MAX_BATCH],
            tcp_flags: [0; MAX_BATCH],
            lens: [0; MAX_BATCH],
            alive: [false; MAX_BATCH],
            admitted: Admissions::new(),
            flows: [None; MAX_BATCH],
            lookup_keys: [FlowKey::zero(); MAX_BATCH],
            lookup_idx: [0; MAX_BATCH],
            lookup_out: [None; MAX_BATCH],
            lookup_lens: [0; MAX_BATCH],
            lookup_flags: [0; MAX_BATCH],
            lookup_times: [0; MAX_BATCH],
            lookup_single: [0; MAX_BATCH],
            single_output: [0; MAX_BATCH],
            no_install: [false; MAX_BATCH],
            decided: Vec::with_capacity(MAX_BATCH),
            decided_actions: Vec::with_capacity(MAX_BATCH * 4),
            decision: Decision::empty(),
            batch_installs: Vec::with_capacity(MAX_BATCH),
            batch_masks: Vec::with_capacity(MAX_BATCH),
            outputs: OutputSet::new(),
            egress_list: Vec::with_capacity(MAX_BATCH * 4),
            burst: Vec::with_capacity(MAX_BATCH),
            egress_verdicts: Vec::with_capacity(MAX_BATCH * 4),
            views: ViewPool::new(MAX_BATCH),
        }
    }

    /// This worker's index.
    pub fn id(&self) -> usize {
        self.id
    }

    /// Counters so far.
    pub fn counters(&self) -> &DatapathCounters {
        &self.counters
    }

    /// The worker's flow table (tests, reports).
    pub fn flow_table(&self) -> &FlowTable {
        &self.table
    }

    /// The worker's flow table, to install flows directly (benchmarks, tests).
    pub fn flow_table_mut(&mut self) -> &mut FlowTable {
        &mut self.table
    }

    /// The worker's slow path.
    pub fn slow_path(&self) -> &SlowPath {
        &self.slow
    }

    /// The worker's connection table.
    pub fn connections(&self) -> &ConnTable {
        &self.conns
    }

    /// Periodic work at a point of the input every worker reaches alike (the runtime's ticks):
    /// connections and fragments past their timeouts end, reported before the packet at
    /// `position`; engines' timers run; idle flows expire.
    pub fn tick(&mut self, now: u64, position: u64, obs: &mut dyn Observer) {
        self.expire_connections(now, position, obs);
        self.ingress.timer(now);
        self.egress.timer(now);
        // The flow table's expiry scans every slot: once per maintenance interval at most.
        if self
            .last_maintenance
            .is_none_or(|t| now.saturating_sub(t) >= MAINTENANCE_INTERVAL_NS)
        {
            self.maintain(now);
        }
        if self.slow.generation() != self.seen_generation {
            self.revalidate();
        }
    }

    /// The end of input: engines flush, every connection ends and is reported.
    pub fn finish(&mut self, now: u64, obs: &mut dyn Observer) {
        self.drain_connections(obs);
        self.maintain_now(now);
    }

    /// The engines' counters, per stage (`ingress.<engine>.<name>`), and the connection
    /// layer's.
    pub fn engine_counters(&self, out: &mut dyn FnMut(&str, u64)) {
        self.ingress
            .counters(&mut |k, v| out(&format!("ingress.{k}"), v));
        self.egress
            .counters(&mut |k, v| out(&format!("egress.{k}"), v));
    }

    /// Offers a new snapshot to the engines; returns how many took it.
    pub fn reload(&mut self, s: &engine::Snapshot) -> usize {
        self.ingress.reload(s) + self.egress.reload(s)
    }

    /// Applies one of the learner's changes to this worker's slow path. Call between batches,
    /// at the point in the packet order where the learner made the change; flows it affects
    /// are revalidated before the next packet.
    pub fn apply(&mut self, change: &SwitchChange) {
        let flows = match self.slow.apply(change) {
            Stale::Mac(mac) => self.dependents.remove(&mac),
            Stale::Floods(bridge) => self.flooders.remove(&bridge),
            Stale::Nothing | Stale::All => None,
        };
        for id in flows.into_iter().flatten() {
            if self.table.contains(id) {
                self.table.remove(id);
                self.counters.flows_invalidated += 1;
            }
        }
    }

    /// Runs the whole pipeline over one batch. The batch is left holding the frames as
    /// rewritten; the caller clears it for reuse.
    pub fn process(&mut self, batch: &mut Batch, sink: &mut dyn TxSink, obs: &mut dyn Observer) {
        let n = batch.len;
        if n == 0 {
            return;
        }
        let now = batch.times[n - 1];
        if self.slow.generation() != self.seen_generation {
            self.revalidate();
        }
        self.counters.rx_packets += n as u64;

        // Lengths first, in a loop of their own: the key loop below is short of registers.
        let mut rx_bytes = 0u64;
        for i in 0..n {
            let len = batch.bufs[i].len();
            rx_bytes += len as u64;
            self.lens[i] = len as u32;
        }
        self.counters.rx_bytes += rx_bytes;
        self.alive[..n].fill(true);

        // Flow keys, read straight from the bytes: plain IPv4 TCP/UDP in a loop of its own
        // (it has the registers to itself), the other common shapes in a second loop, and the
        // rest parsed in full.
        let mut other = 0u32;
        for i in 0..n {
            let b = &batch.bufs[i];
            if let Some((key, flags)) = FlowKey::from_plain_ipv4_frame(b.in_port, b.frame()) {
                self.keys[i] = key;
                self.tcp_flags[i] = flags;
            } else {
                other |= 1 << i;
            }
        }
        let mut live = n;
        if other != 0 {
            live -= self.other_keys(batch, other, obs);
        }
        live -= self.connection_stage(batch, obs);

        // Per-batch output state starts empty: the egress list (ingress rejects queue answers
        // into it), the copy pool, the answered slots and the saved heads.
        self.egress_list.clear();
        self.copies_used = 0;
        self.replied = 0;
        self.rewritten = 0;
        self.originals[..n].fill(None);
        let live = self.ingress_stage(batch, live, obs);
        self.translate_stage(batch, obs);
        let missed = self.lookup_stage(batch, live);
        // Hits run their actions before any upcall installs a flow: an install at the flow
        // limit may evict a flow another packet of this batch hit.
        let to_slow_path = self.action_stage(batch, sink, obs, false);
        if missed || to_slow_path {
            self.upcall_stage(batch, now, obs);
            self.action_stage(batch, sink, obs, true);
        }
        self.egress_stage(batch, sink, obs);
        sink.flush();
        if self
            .last_maintenance
            .is_none_or(|t| now.saturating_sub(t) >= MAINTENANCE_INTERVAL_NS)
        {
            self.maintain(now);
        }
    }

    /// Re-decides every flow installed under an older slow-path generation.
    fn revalidate(&mut self) {
        let sp = &mut self.slow;
        let current = sp.generation();
        let stats = self.table.revalidate(current, |key, mask, actions| {
            let d = sp.decide(key);
            if d.mask != *mask {
                flow::Revalidation::Delete
            } else if d.actions.as_slice() == actions {
                flow::Revalidation::Keep
            } else {
                flow::Revalidation::Replace(d.actions)
            }
        });
        self.counters.revalidations += 1;
        self.counters.flows_revalidated_deleted += stats.deleted as u64;
        self.counters.flows_revalidated_updated += stats.replaced as u64;
        self.seen_generation = current;
    }

    /// Periodic work: expire idle flows; forget dependencies of flows that are gone once they
    /// outnumber the live flows.
    fn maintain(&mut self, now: u64) {
        self.last_maintenance = Some(now);
        self.counters.flows_expired += self.table.expire_idle(now) as u64;
        let recorded: usize = self.dependents.values().map(Vec::len).sum::<usize>()
            + self.flooders.values().map(Vec::len).sum::<usize>();
        if recorded > 4 * self.table.len() + 1024 {
            let table = &self.table;
            self.dependents.retain(|_, ids| {
                ids.retain(|id| table.contains(*id));
                !ids.is_empty()
            });
            self.flooders.retain(|_, ids| {
                ids.retain(|id| table.contains(*id));
                !ids.is_empty()
            });
        }
    }

    /// Forces maintenance at `now` (end of a replay, tests).
    pub fn maintain_now(&mut self, now: u64) {
        self.maintain(now);
        if self.slow.generation() != self.seen_generation {
            self.revalidate();
        }
    }
}
