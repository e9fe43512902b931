//! The pipeline one worker runs over each batch of up to 32 packets:
//!
//! 1. **receive**: the batch arrives in preallocated buffers ([`Batch`]);
//! 2. **flow key** of each packet, read straight from the bytes ([`FlowKey::from_frame`]) for
//!    the common shapes, from a full parse ([`FlowKey::extract`]) for the rest. The full parse
//!    ([`wire::ParsedPacket`]) is otherwise made only when something needs it (an inspection
//!    engine, a rewrite action, a drop report), once per packet, and kept in the buffer;
//! 3. **ingress inspection** of the packet as the sender sent it;
//! 4. **flow lookup**: exact-match cache, then megaflow classifier, as one batch; a miss goes up
//!    to the [`SlowPath`] (under its lock, once per batch), which installs a megaflow;
//! 5. **actions**: rewrite the frame in place (set fields, push/pop VLAN) and collect outputs; a
//!    copy is made only when an output must see the packet before a later rewrite;
//! 6. **egress inspection** of each output copy as its receiver will get it;
//! 7. **transmit** to the [`TxSink`], checking that the copy passed both inspections.
//!
//! The hot path must never allocate, lock or block per packet: scratch arrays live in the
//! [`Worker`], the slow path's lock is taken at most once per batch and only when a packet
//! missed, and buffers are recycled (the pool of output copies grows to its limit as copies are
//! first needed, then is only reused). Only the slow path (upcalls, installs) and the report of
//! a dropped or alerted packet to the [`Observer`] may allocate. A worker is shared-nothing: it
//! owns its flow table and its inspection engines; only the slow path (MAC learning,
//! decisions) is shared.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use flow::{
    Action, BatchPackets, FlowId, FlowKey, FlowMask, FlowTable, FlowTableConfig, OffloadMeta,
    OutputSet, PacketBuf, Step,
};
use wire::{Layer, ParsedPacket};

use crate::MAX_BATCH;
use crate::config::Limits;
use crate::counters::{DatapathCounters, DropReason};
use crate::inspect::{Chain, PacketView, Reason, Stage, Verdict};
use crate::port::PortId;
use crate::reject;
use crate::slowpath::{Decision, SlowPath};

/// Size of every packet buffer: a 64 KB GSO super-frame plus headroom for tags and tunnels.
pub const BUF_SIZE: usize = 65_535 + 256;

/// How often (in pipeline time) a worker expires idle flows and refreshes MAC learning.
pub const MAINTENANCE_INTERVAL_NS: u64 = 1_000_000_000;

/// The slow path shared by every worker, with its generation published for lock-free checks.
#[derive(Debug)]
pub struct SharedSlowPath {
    inner: Mutex<SlowPath>,
    generation: AtomicU64,
}

/// The slow path, locked; publishes the generation when released.
#[derive(Debug)]
pub struct SlowPathGuard<'a> {
    guard: MutexGuard<'a, SlowPath>,
    generation: &'a AtomicU64,
}

impl std::ops::Deref for SlowPathGuard<'_> {
    type Target = SlowPath;
    fn deref(&self) -> &SlowPath {
        &self.guard
    }
}

impl std::ops::DerefMut for SlowPathGuard<'_> {
    fn deref_mut(&mut self) -> &mut SlowPath {
        &mut self.guard
    }
}

impl Drop for SlowPathGuard<'_> {
    fn drop(&mut self) {
        self.generation
            .store(self.guard.generation(), Ordering::Release);
    }
}

impl SharedSlowPath {
    /// Shares a slow path.
    pub fn new(slow: SlowPath) -> Arc<Self> {
        let g = slow.generation();
        Arc::new(SharedSlowPath {
            inner: Mutex::new(slow),
            generation: AtomicU64::new(g),
        })
    }

    /// Locks the slow path. A worker that panicked while holding it cannot leave it in a state
    /// worse than stale decisions, so a poisoned lock is taken over.
    pub fn lock(&self) -> SlowPathGuard<'_> {
        SlowPathGuard {
            guard: self.inner.lock().unwrap_or_else(|e| e.into_inner()),
            generation: &self.generation,
        }
    }

    /// The last published generation (no lock).
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}

/// A batch of received packets in preallocated buffers.
#[derive(Debug)]
pub struct Batch {
    bufs: Vec<PacketBuf>,
    len: usize,
    times: [u64; MAX_BATCH],
    numbers: [u64; MAX_BATCH],
}

impl Batch {
    /// A batch with its 32 buffers allocated once.
    pub fn new() -> Self {
        Batch {
            bufs: (0..MAX_BATCH)
                .map(|_| PacketBuf::new(BUF_SIZE, PacketBuf::DEFAULT_HEADROOM))
                .collect(),
            len: 0,
            times: [0; MAX_BATCH],
            numbers: [0; MAX_BATCH],
        }
    }

    /// Empties the batch (buffers are kept).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Number of packets in the batch.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the batch holds no packet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when the batch holds 32 packets.
    pub fn is_full(&self) -> bool {
        self.len == MAX_BATCH
    }

    /// Copies a received frame into the next buffer. `number` identifies the packet to
    /// observers (its record number in a capture). Returns false when the batch is full or the
    /// frame is larger than a buffer.
    pub fn push(
        &mut self,
        frame: &[u8],
        in_port: PortId,
        time_ns: u64,
        number: u64,
        meta: OffloadMeta,
    ) -> bool {
        if self.len == MAX_BATCH {
            return false;
        }
        let b = &mut self.bufs[self.len];
        if b.load(frame).is_err() {
            return false;
        }
        b.in_port = in_port;
        b.meta = meta;
        self.times[self.len] = time_ns;
        self.numbers[self.len] = number;
        self.len += 1;
        true
    }

    /// The frame in slot `i` (as it is now: after processing, as rewritten).
    pub fn frame(&self, i: usize) -> &[u8] {
        self.bufs.get(i).map_or(&[], |b| b.frame())
    }
}

impl Default for Batch {
    fn default() -> Self {
        Batch::new()
    }
}

/// Where transmitted packets go.
pub trait TxSink {
    /// Sends one frame out of `port`.
    fn transmit(&mut self, port: PortId, frame: &[u8], meta: &OffloadMeta, time_ns: u64);
    /// Sends a burst of a batch's packets, in order. The default hands each to
    /// [`TxSink::transmit`]; sinks that can send many at once (counters, `sendmmsg`, a ring)
    /// override it and save a call per packet.
    fn transmit_burst(&mut self, burst: &TxBurst<'_>) {
        for p in burst.iter() {
            self.transmit(p.port, p.frame, p.meta, p.time_ns);
        }
    }
    /// Called after every batch, so sinks can hand a batch on at once.
    fn flush(&mut self) {}
}

/// One packet of a [`TxBurst`].
#[derive(Debug, Clone, Copy)]
pub struct TxPacket<'a> {
    pub port: PortId,
    pub frame: &'a [u8],
    pub meta: &'a OffloadMeta,
    pub time_ns: u64,
}

/// Packets of one batch leaving together: each is a slot of the batch and its output port.
#[derive(Debug, Clone, Copy)]
pub struct TxBurst<'a> {
    bufs: &'a [PacketBuf],
    times: &'a [u64],
    list: &'a [(u8, PortId)],
}

impl<'a> TxBurst<'a> {
    /// Number of packets.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True when the burst is empty.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The output port of each packet, in order (a sink that only counts needs no more).
    pub fn ports(&self) -> impl ExactSizeIterator<Item = PortId> + 'a {
        self.list.iter().map(|&(_, port)| port)
    }

    /// The packets, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = TxPacket<'a>> + 'a {
        let (bufs, times) = (self.bufs, self.times);
        self.list.iter().map(move |&(slot, port)| {
            let slot = usize::from(slot);
            let b = &bufs[slot];
            TxPacket {
                port,
                frame: b.frame(),
                meta: &b.meta,
                time_ns: times[slot],
            }
        })
    }
}

/// A dropped packet, as reported to an [`Observer`].
#[derive(Debug, Clone, Copy)]
pub struct DropNotice<'a> {
    pub time_ns: u64,
    /// The packet's number at its source (capture record number).
    pub number: u64,
    pub in_port: PortId,
    pub out_port: Option<PortId>,
    pub frame: &'a [u8],
    pub parsed: &'a ParsedPacket,
    /// `upcall-meter`, `hairpin`, ... or `<stage>:<engine>:<code>` for an engine's verdict.
    pub reason: &'a str,
    pub stage: Option<Stage>,
}

/// An alert raised by an inspection engine on a packet that went on.
#[derive(Debug, Clone, Copy)]
pub struct AlertNotice<'a> {
    pub time_ns: u64,
    pub number: u64,
    pub in_port: PortId,
    pub out_port: Option<PortId>,
    pub frame: &'a [u8],
    pub parsed: &'a ParsedPacket,
    pub reason: Reason,
    pub stage: Stage,
}

/// Receives drops and alerts as they happen (EVE output, tests). Called only for dropped or
/// alerted packets, never for plain forwarding.
pub trait Observer {
    /// A packet (or one output copy) was dropped.
    fn on_drop(&mut self, _notice: &DropNotice<'_>) {}
    /// An engine raised an alert.
    fn on_alert(&mut self, _notice: &AlertNotice<'_>) {}
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;
impl Observer for NoObserver {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Src {
    Batch(u8),
    Copy(u16),
}

#[derive(Debug, Clone, Copy)]
struct Egress {
    src: Src,
    pkt: u8,
    port: PortId,
}

/// An upcalled packet of the batch: its slot, the flow installed for it (if any) and the
/// range of its actions in `Worker::decided_actions`.
#[derive(Debug, Clone, Copy)]
struct Decided {
    slot: u8,
    flow: Option<FlowId>,
    actions: (u32, u32),
}

/// A flow installed by an earlier upcall of the batch.
#[derive(Debug, Clone, Copy)]
struct BatchInstall {
    masked: FlowKey,
    /// `masked.hash()`: told apart before the keys are compared.
    hash: u32,
    /// Index in `Worker::batch_masks`.
    mask: u8,
    priority: u32,
    /// Index in `Worker::decided`.
    decided: u8,
}

/// One datapath worker.
pub struct Worker {
    id: usize,
    table: FlowTable,
    slow: Arc<SharedSlowPath>,
    seen_generation: u64,
    ingress: Chain,
    egress: Chain,
    counters: DatapathCounters,
    /// Output copies, made on first need up to `copies_max` (64 KB each: most workers never
    /// need more than a few, and a pool allocated up front cost 64 MB of memory per worker).
    copies: Vec<PacketBuf>,
    copies_max: usize,
    copies_used: usize,
    reply: Box<[u8]>,
    last_maintenance: Option<u64>,
    // Per-batch scratch, sized once.
    keys: [FlowKey; MAX_BATCH],
    /// TCP flags of each packet (for the flow statistics).
    tcp_flags: [u16; MAX_BATCH],
    /// Length of each packet as received (for the flow statistics).
    lens: [u32; MAX_BATCH],
    alive: [bool; MAX_BATCH],
    flows: [Option<FlowId>; MAX_BATCH],
    verdicts: [Verdict; MAX_BATCH],
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
    egress_verdicts: Vec<Verdict>,
    views: Vec<PacketView<'static>>,
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

/// Reuses a vector's allocation for views of another lifetime (the in-place collect of an
/// emptied vector keeps its buffer).
fn recycle<'a, 'b>(mut v: Vec<PacketView<'a>>) -> Vec<PacketView<'b>> {
    v.clear();
    v.into_iter()
        .map(|_| unreachable!("the vector is empty"))
        .collect()
}

impl Worker {
    /// A worker with its own flow table and inspection chains.
    pub fn new(
        id: usize,
        limits: &Limits,
        slow: Arc<SharedSlowPath>,
        ingress: Chain,
        egress: Chain,
    ) -> Self {
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
            copies: Vec::with_capacity(copies_max),
            copies_max,
            copies_used: 0,
            reply: vec![0u8; reject::MAX_REPLY].into_boxed_slice(),
            last_maintenance: None,
            keys: [FlowKey::zero(); MAX_BATCH],
            tcp_flags: [0; MAX_BATCH],
            lens: [0; MAX_BATCH],
            alive: [false; MAX_BATCH],
            flows: [None; MAX_BATCH],
            verdicts: [Verdict::Pass; MAX_BATCH],
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
            egress_verdicts: Vec::with_capacity(MAX_BATCH * 4),
            views: Vec::with_capacity(MAX_BATCH),
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

    /// The shared slow path.
    pub fn slow_path(&self) -> &Arc<SharedSlowPath> {
        &self.slow
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
            self.revalidate(now);
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

        let live = self.ingress_stage(batch, live, sink, obs);
        let missed = self.lookup_stage(batch, live);
        self.egress_list.clear();
        // Hits run their actions before any upcall installs a flow: an install at the flow
        // limit may evict a flow another packet of this batch hit.
        let to_slow_path = self.action_stage(batch, sink, obs, false);
        if missed || to_slow_path {
            self.upcall_stage(batch, now, obs);
            self.action_stage(batch, sink, obs, true);
        }
        self.egress_stage(batch, sink, obs);

        self.copies_used = 0;
        sink.flush();
        if self
            .last_maintenance
            .is_none_or(|t| now.saturating_sub(t) >= MAINTENANCE_INTERVAL_NS)
        {
            self.maintain(now);
        }
    }

    /// Keys of the packets in `other` (bit `i` for slot `i`): read by [`FlowKey::from_frame`]
    /// where it can, else from a full parse (kept in the buffer for whoever needs it next);
    /// drops those without a whole link header. Returns how many it dropped.
    fn other_keys(&mut self, batch: &Batch, other: u32, obs: &mut dyn Observer) -> usize {
        let mut dropped = 0;
        let mut m = other;
        while m != 0 {
            let i = m.trailing_zeros() as usize;
            m &= m - 1;
            let Some(b) = batch.bufs.get(i) else {
                continue;
            };
            if let Some((key, flags)) = FlowKey::from_frame(b.in_port, b.frame()) {
                self.keys[i] = key;
                self.tcp_flags[i] = flags;
                continue;
            }
            let p = b.parsed();
            if p.truncated == Some(Layer::Link) {
                self.alive[i] = false;
                dropped += 1;
                self.counters.drop(DropReason::Malformed);
                notify_drop(obs, batch, i, DropReason::Malformed);
                continue;
            }
            self.keys[i] = FlowKey::extract(b.in_port, b.frame(), p);
            self.tcp_flags[i] = p.tcp_flags;
        }
        dropped
    }

    /// Runs the ingress chain over the `live` packets still alive; returns how many remain.
    fn ingress_stage(
        &mut self,
        batch: &Batch,
        live: usize,
        sink: &mut dyn TxSink,
        obs: &mut dyn Observer,
    ) -> usize {
        let n = batch.len;
        self.counters.ingress_inspected += live as u64;
        if self.ingress.is_empty() {
            self.counters.ingress_passed += live as u64;
            return live;
        }
        let mut views = recycle(std::mem::take(&mut self.views));
        let mut map = [0u8; MAX_BATCH];
        for i in 0..n {
            if self.alive[i] {
                map[views.len()] = i as u8;
                let b = &batch.bufs[i];
                views.push(PacketView {
                    stage: Stage::Ingress,
                    in_port: b.in_port,
                    out_port: None,
                    frame: b.frame(),
                    parsed: b.parsed(),
                    key: &self.keys[i],
                    meta: &b.meta,
                    time_ns: batch.times[i],
                });
            }
        }
        let m = views.len();
        self.ingress.run(&views, &mut self.verdicts[..m]);
        for j in 0..m {
            let i = usize::from(map[j]);
            let v = self.verdicts[j];
            match v {
                Verdict::Pass => self.counters.ingress_passed += 1,
                Verdict::Alert(reason) => {
                    self.counters.ingress_passed += 1;
                    self.counters.ingress_alerts += 1;
                    obs.on_alert(&AlertNotice {
                        time_ns: batch.times[i],
                        number: batch.numbers[i],
                        in_port: views[j].in_port,
                        out_port: None,
                        frame: views[j].frame,
                        parsed: views[j].parsed,
                        reason,
                        stage: Stage::Ingress,
                    });
                }
                Verdict::Drop(reason) | Verdict::Reject(reason) => {
                    self.alive[i] = false;
                    self.counters.verdict_drop(Stage::Ingress, reason);
                    let name = format!("ingress:{}:{}", reason.engine, reason.code);
                    obs.on_drop(&DropNotice {
                        time_ns: batch.times[i],
                        number: batch.numbers[i],
                        in_port: views[j].in_port,
                        out_port: None,
                        frame: views[j].frame,
                        parsed: views[j].parsed,
                        reason: &name,
                        stage: Some(Stage::Ingress),
                    });
                    if matches!(v, Verdict::Reject(_)) {
                        send_reject(
                            &mut self.reply,
                            &mut self.counters,
                            sink,
                            views[j].frame,
                            views[j].parsed,
                            views[j].in_port,
                            batch.times[i],
                        );
                    }
                }
            }
        }
        self.views = recycle(views);
        self.alive[..n].iter().filter(|a| **a).count()
    }

    /// Looks up the `m` packets still alive; returns true when some missed.
    fn lookup_stage(&mut self, batch: &Batch, m: usize) -> bool {
        let n = batch.len;
        self.no_install[..n].fill(false);
        if m == 0 {
            self.flows[..n].fill(None);
            return false;
        }
        self.counters.lookups += m as u64;
        let before = *self.table.counters();
        // Each hit is counted against its flow here, where the lookup has the flow's entry.
        let missed = if m == n {
            // The common case: nothing was dropped before the lookup, no compaction.
            let packets = BatchPackets {
                bytes: &self.lens[..n],
                tcp_flags: &self.tcp_flags[..n],
                times: &batch.times[..n],
            };
            self.table.hit_batch(
                &self.keys[..n],
                &packets,
                &mut self.flows[..n],
                &mut self.single_output[..n],
            )
        } else {
            let mut j = 0;
            for i in 0..n {
                self.flows[i] = None;
                self.single_output[i] = 0;
                if self.alive[i] {
                    self.lookup_keys[j] = self.keys[i];
                    self.lookup_lens[j] = self.lens[i];
                    self.lookup_flags[j] = self.tcp_flags[i];
                    self.lookup_times[j] = batch.times[i];
                    self.lookup_idx[j] = i as u8;
                    j += 1;
                }
            }
            let packets = BatchPackets {
                bytes: &self.lookup_lens[..m],
                tcp_flags: &self.lookup_flags[..m],
                times: &self.lookup_times[..m],
            };
            let missed = self.table.hit_batch(
                &self.lookup_keys[..m],
                &packets,
                &mut self.lookup_out[..m],
                &mut self.lookup_single[..m],
            );
            for j in 0..m {
                let i = usize::from(self.lookup_idx[j]);
                self.flows[i] = self.lookup_out[j];
                self.single_output[i] = self.lookup_single[j];
            }
            missed
        };
        let after = self.table.counters();
        self.counters.emc_hits += after.emc_hits - before.emc_hits;
        self.counters.megaflow_hits += after.megaflow_hits - before.megaflow_hits;
        missed > 0
    }

    /// Sends the batch's misses to the slow path under one lock, installs what it decides, and
    /// keeps each decision's actions for the packet that asked.
    fn upcall_stage(&mut self, batch: &Batch, now: u64, obs: &mut dyn Observer) {
        let n = batch.len;
        self.decided.clear();
        self.decided_actions.clear();
        self.batch_installs.clear();
        self.batch_masks.clear();
        let slow = Arc::clone(&self.slow);
        let mut sp = slow.lock();
        for i in 0..n {
            if !self.alive[i] || self.flows[i].is_some() {
                continue;
            }
            self.counters.misses += 1;
            // The packet missed the table as it was before this batch, so only a flow installed
            // for an earlier packet of this batch can match it now: check those (at most 31)
            // instead of probing the whole table again.
            if !self.no_install[i]
                && let Some(k) = self.installed_this_batch(i)
            {
                let Decided { flow, actions, .. } = self.decided[k];
                self.decided.push(Decided {
                    slot: i as u8,
                    flow,
                    actions,
                });
                continue;
            }
            self.counters.upcalls += 1;
            let d = &mut self.decision;
            if !sp.upcall_into(&self.keys[i], batch.times[i].max(now), d) {
                self.alive[i] = false;
                self.counters.drop(DropReason::UpcallMeter);
                notify_drop(obs, batch, i, DropReason::UpcallMeter);
                continue;
            }
            let start = self.decided_actions.len() as u32;
            self.decided_actions.extend_from_slice(&d.actions);
            let actions = (start, self.decided_actions.len() as u32);
            if self.no_install[i] {
                self.decided.push(Decided {
                    slot: i as u8,
                    flow: None,
                    actions,
                });
                continue;
            }
            let evicted_before = self.table.counters().evictions;
            let key = &self.keys[i];
            match self
                .table
                .install(key, &d.mask, d.priority, &d.actions, d.generation, now)
            {
                Ok(id) => {
                    self.counters.flows_installed += 1;
                    let mask = match self.batch_masks.iter().position(|m| *m == d.mask) {
                        Some(m) => m,
                        None => {
                            self.batch_masks.push(d.mask);
                            self.batch_masks.len() - 1
                        }
                    };
                    let masked = d.mask.apply(key);
                    self.batch_installs.push(BatchInstall {
                        hash: masked.hash(),
                        masked,
                        mask: mask as u8,
                        priority: d.priority,
                        decided: self.decided.len() as u8,
                    });
                    self.decided.push(Decided {
                        slot: i as u8,
                        flow: Some(id),
                        actions,
                    });
                }
                Err(_) => {
                    self.counters.install_failures += 1;
                    self.decided.push(Decided {
                        slot: i as u8,
                        flow: None,
                        actions,
                    });
                }
            }
            self.counters.flows_evicted += self.table.counters().evictions - evicted_before;
        }
        drop(sp);
        // Our own learning raised the generation; the flows just installed carry it already.
    }

    /// The entry of `decided` whose flow, installed earlier in this batch, matches packet `i`
    /// (the highest priority one). Each distinct mask is applied to the key once, and the
    /// installs are told apart by hash before their keys are compared.
    fn installed_this_batch(&self, i: usize) -> Option<usize> {
        if self.batch_installs.is_empty() {
            return None;
        }
        let key = &self.keys[i];
        let mut best: Option<(u32, usize)> = None;
        for (m, mask) in self.batch_masks.iter().enumerate() {
            let masked = mask.apply(key);
            let hash = masked.hash();
            for e in &self.batch_installs {
                if e.hash == hash
                    && usize::from(e.mask) == m
                    && e.masked == masked
                    && best.is_none_or(|(p, _)| e.priority > p)
                {
                    best = Some((e.priority, usize::from(e.decided)));
                }
            }
        }
        best.map(|(_, k)| k)
    }

    /// Runs the actions of the packets that hit (`upcalled == false`) or of those the slow
    /// path just decided (`upcalled == true`).
    /// Returns true when a hit's flow says "to slow path" (the packet joins the upcalls).
    ///
    /// A one-output flow's packet is transmitted right here when no egress engine is configured
    /// (its egress verdict can only be "pass") and no earlier packet of the batch is waiting in
    /// the egress list (so the order of transmission is that of the batch).
    fn action_stage(
        &mut self,
        batch: &mut Batch,
        sink: &mut dyn TxSink,
        obs: &mut dyn Observer,
        upcalled: bool,
    ) -> bool {
        let mut to_slow_path = false;
        let direct = self.egress.is_empty();
        // Packets sent straight from here, as one burst at the end of the stage.
        let mut burst = [(0u8, 0 as PortId); MAX_BATCH];
        let (mut direct_packets, mut direct_bytes) = (0usize, 0u64);
        let n = if upcalled {
            self.decided.len()
        } else {
            batch.len
        };
        // The hits' common case in a loop of its own: one-output flows go into the burst and
        // misses wait for the upcall, up to the first hit that needs its action list. The
        // loop below takes it from there, with the same rules.
        let mut start = 0;
        if !upcalled && direct && self.egress_list.is_empty() {
            let n = n.min(MAX_BATCH);
            while start < n {
                if let Some(port) = self.single_output[start].checked_sub(1) {
                    burst[direct_packets] = (start as u8, port);
                    direct_packets += 1;
                    direct_bytes += u64::from(self.lens[start]);
                } else if self.flows[start].is_some() {
                    break;
                }
                start += 1;
            }
        }
        for k in start..n {
            let len;
            let actions: &[Action] = if upcalled {
                let Decided {
                    slot,
                    flow,
                    actions: (start, end),
                } = self.decided[k];
                let i = usize::from(slot);
                len = batch.bufs[i].len() as u32;
                if let Some(id) = flow {
                    self.table
                        .record(id, len, self.tcp_flags[i], batch.times[i]);
                }
                self.decided_actions
                    .get(start as usize..end as usize)
                    .unwrap_or_default()
            } else {
                let Some(id) = self.flows[k].filter(|_| self.alive[k]) else {
                    continue;
                };
                // Already counted against the flow by the lookup.
                len = self.lens[k];
                if let Some(port) = self.single_output[k].checked_sub(1) {
                    // The commonest flow by far: one output, no rewrite.
                    if direct && self.egress_list.is_empty() && direct_packets < MAX_BATCH {
                        burst[direct_packets] = (k as u8, port);
                        direct_packets += 1;
                        direct_bytes += u64::from(len);
                        continue;
                    }
                    self.egress_list.push(Egress {
                        src: Src::Batch(k as u8),
                        pkt: k as u8,
                        port,
                    });
                    continue;
                }
                let actions = self.table.actions(id);
                if actions.first() == Some(&Action::ToSlowPath) {
                    // Decided afresh by the slow path, nothing installed.
                    self.flows[k] = None;
                    self.no_install[k] = true;
                    to_slow_path = true;
                    continue;
                }
                actions
            };
            let i = if upcalled {
                usize::from(self.decided[k].slot)
            } else {
                k
            };
            let outcome = run_actions(
                actions,
                i,
                &mut batch.bufs,
                &mut self.copies,
                self.copies_max,
                &mut self.copies_used,
                &mut self.outputs,
                &mut self.egress_list,
                &mut self.counters,
            );
            if let Err(reason) = outcome {
                self.alive[i] = false;
                self.counters.drop(reason);
                notify_drop(obs, batch, i, reason);
            }
        }
        if direct_packets > 0 {
            // Before anything in the egress list: every packet of the burst came earlier in
            // the batch than the first packet listed there.
            sink.transmit_burst(&TxBurst {
                bufs: &batch.bufs,
                times: &batch.times,
                list: &burst[..direct_packets],
            });
            // Transmitted without an egress list entry: both egress counts and the transmit.
            let d = direct_packets as u64;
            self.counters.egress_inspected += d;
            self.counters.egress_passed += d;
            self.counters.tx_packets += d;
            self.counters.tx_bytes += direct_bytes;
        }
        to_slow_path
    }

    fn egress_stage(&mut self, batch: &Batch, sink: &mut dyn TxSink, obs: &mut dyn Observer) {
        let total = self.egress_list.len();
        if total == 0 {
            return;
        }
        self.counters.egress_inspected += total as u64;
        let copies = &self.copies;
        let frame_of = |src: Src| -> &PacketBuf {
            match src {
                Src::Batch(i) => &batch.bufs[usize::from(i)],
                Src::Copy(c) => &copies[usize::from(c)],
            }
        };
        // With no engine every copy passes: no verdicts to collect, the same checks and counts.
        let engines = !self.egress.is_empty();
        // A copy is parsed here only when an engine will look at it and no parse was made
        // before (or a rewrite could not keep it in step); otherwise the parse the ingress
        // stage or the actions made, kept up to date by the actions, stands.
        if engines {
            self.egress_verdicts.clear();
            self.egress_verdicts.resize(total, Verdict::Pass);
            let mut views = recycle(std::mem::take(&mut self.views));
            let mut start = 0;
            while start < total {
                let end = (start + MAX_BATCH).min(total);
                views.clear();
                for e in &self.egress_list[start..end] {
                    let b = frame_of(e.src);
                    let i = usize::from(e.pkt);
                    views.push(PacketView {
                        stage: Stage::Egress,
                        in_port: b.in_port,
                        out_port: Some(e.port),
                        frame: b.frame(),
                        parsed: b.parsed(),
                        key: &self.keys[i],
                        meta: &b.meta,
                        time_ns: batch.times[i],
                    });
                }
                self.egress
                    .run(&views, &mut self.egress_verdicts[start..end]);
                start = end;
            }
            self.views = recycle(views);
        }
        for (k, e) in self.egress_list.iter().enumerate() {
            let b = frame_of(e.src);
            let i = usize::from(e.pkt);
            let verdict = if engines {
                self.egress_verdicts[k]
            } else {
                Verdict::Pass
            };
            match verdict {
                Verdict::Pass => {}
                Verdict::Alert(reason) => {
                    self.counters.egress_alerts += 1;
                    obs.on_alert(&AlertNotice {
                        time_ns: batch.times[i],
                        number: batch.numbers[i],
                        in_port: b.in_port,
                        out_port: Some(e.port),
                        frame: b.frame(),
                        parsed: b.parsed(),
                        reason,
                        stage: Stage::Egress,
                    });
                }
                v @ (Verdict::Drop(reason) | Verdict::Reject(reason)) => {
                    self.counters.verdict_drop(Stage::Egress, reason);
                    let name = format!("egress:{}:{}", reason.engine, reason.code);
                    obs.on_drop(&DropNotice {
                        time_ns: batch.times[i],
                        number: batch.numbers[i],
                        in_port: b.in_port,
                        out_port: Some(e.port),
                        frame: b.frame(),
                        parsed: b.parsed(),
                        reason: &name,
                        stage: Some(Stage::Egress),
                    });
                    if matches!(v, Verdict::Reject(_)) {
                        // Answer the sender with the packet as it sent it.
                        let orig = &batch.bufs[i];
                        send_reject(
                            &mut self.reply,
                            &mut self.counters,
                            sink,
                            orig.frame(),
                            orig.parsed(),
                            orig.in_port,
                            batch.times[i],
                        );
                    }
                    continue;
                }
            }
            self.counters.egress_passed += 1;
            // Both stages ran for this copy: ingress (it was alive after ingress) and egress
            // (just now). The check guards against a future code path that skips one.
            if !self.alive[i] {
                self.counters.drop(DropReason::Uninspected);
                continue;
            }
            self.counters.tx_packets += 1;
            self.counters.tx_bytes += b.len() as u64;
            sink.transmit(e.port, b.frame(), &b.meta, batch.times[i]);
        }
    }

    /// Re-decides every flow installed under an older slow-path generation.
    fn revalidate(&mut self, now: u64) {
        let slow = Arc::clone(&self.slow);
        let mut sp = slow.lock();
        let current = sp.generation();
        let stats = self.table.revalidate(current, |key, mask, actions| {
            let d = sp.decide(key, now);
            sp.note_decision(&d);
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

    /// Periodic work: expire idle flows, keep MACs of active flows learnt, age the FDB.
    fn maintain(&mut self, now: u64) {
        let since = self.last_maintenance.unwrap_or(0);
        self.last_maintenance = Some(now);
        self.counters.flows_expired += self.table.expire_idle(now) as u64;
        let slow = Arc::clone(&self.slow);
        let mut sp = slow.lock();
        for f in self.table.iter() {
            if f.stats.last_used > since {
                sp.refresh_from_flow(f.key, f.stats.last_used);
            }
        }
        sp.age(now);
    }

    /// Forces maintenance at `now` (end of a replay, tests).
    pub fn maintain_now(&mut self, now: u64) {
        self.maintain(now);
        if self.slow.generation() != self.seen_generation {
            self.revalidate(now);
        }
    }
}

/// Tells `obs` that the packet in slot `i` was dropped for `reason` by the datapath itself
/// (no inspection stage, no output): the frame as it is now, with its parse.
fn notify_drop(obs: &mut dyn Observer, batch: &Batch, i: usize, reason: DropReason) {
    if let (Some(b), Some(&time_ns), Some(&number)) =
        (batch.bufs.get(i), batch.times.get(i), batch.numbers.get(i))
    {
        obs.on_drop(&DropNotice {
            time_ns,
            number,
            in_port: b.in_port,
            out_port: None,
            frame: b.frame(),
            parsed: b.parsed(),
            reason: reason.name(),
            stage: None,
        });
    }
}

/// Applies a flow's actions to packet `i`, appending its outputs to `egress`. Outputs that
/// must see the packet before a later rewrite get a copy from the worker's pool.
#[allow(clippy::too_many_arguments)]
fn run_actions(
    actions: &[Action],
    i: usize,
    bufs: &mut [PacketBuf],
    copies: &mut Vec<PacketBuf>,
    copies_max: usize,
    copies_used: &mut usize,
    outputs: &mut OutputSet,
    egress: &mut Vec<Egress>,
    counters: &mut DatapathCounters,
) -> Result<(), DropReason> {
    let outputs_before = egress.len();
    // The commonest flow by far: one output, no rewrite.
    if let [Action::Output(port)] = actions {
        egress.push(Egress {
            src: Src::Batch(i as u8),
            pkt: i as u8,
            port: *port,
        });
        return Ok(());
    }
    let buf = &mut bufs[i];
    outputs.clear();
    let mut start = 0;
    loop {
        match flow::execute_from(actions, start, buf, outputs) {
            Err(_) => {
                egress.truncate(outputs_before);
                return Err(DropReason::ActionFailed);
            }
            Ok(Step::Resume(next)) => {
                // These outputs see the packet as it is now; later actions rewrite it.
                if *copies_used == copies.len() && copies.len() < copies_max {
                    // The pool grows to its maximum as copies are first needed, then is reused.
                    copies.push(PacketBuf::new(BUF_SIZE, PacketBuf::DEFAULT_HEADROOM));
                }
                let loaded = match copies.get_mut(*copies_used) {
                    Some(c) => c.load_copy(buf).is_ok(),
                    None => false,
                };
                if loaded {
                    counters.copies += 1;
                    for &port in outputs.ports() {
                        egress.push(Egress {
                            src: Src::Copy(*copies_used as u16),
                            pkt: i as u8,
                            port,
                        });
                    }
                    *copies_used += 1;
                } else {
                    for _ in outputs.ports() {
                        counters.drop(DropReason::PoolExhausted);
                    }
                }
                outputs.clear_ports();
                start = next;
            }
            Ok(Step::Done) => break,
        }
    }
    if let Some(reason) = outputs.drop_reason() {
        egress.truncate(outputs_before);
        return Err(DropReason::from(reason));
    }
    if outputs.to_slow_path() {
        // Only meaningful as a flow's first action, where the lookup stage handles it;
        // anywhere else the action list is malformed.
        egress.truncate(outputs_before);
        return Err(DropReason::ActionFailed);
    }
    for &port in outputs.ports() {
        egress.push(Egress {
            src: Src::Batch(i as u8),
            pkt: i as u8,
            port,
        });
    }
    if egress.len() == outputs_before {
        return Err(DropReason::NoDestination);
    }
    Ok(())
}

fn send_reject(
    reply: &mut [u8],
    counters: &mut DatapathCounters,
    sink: &mut dyn TxSink,
    frame: &[u8],
    parsed: &ParsedPacket,
    port: PortId,
    time_ns: u64,
) {
    if let Some(len) = reject::build_reply(frame, parsed, reply) {
        counters.rejects_sent += 1;
        sink.transmit(port, &reply[..len], &OffloadMeta::default(), time_ns);
    }
}
