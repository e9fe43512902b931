//! In-memory ports: the same pipeline as every other mode, fed from and delivering to memory.
//! Tests use it to check forwarding decisions; benchmarks use it (with frames discarded rather
//! than kept) to measure the pipeline alone.

use flow::OffloadMeta;

use crate::config::Config;
use crate::counters::DatapathCounters;
use crate::learn::{Learner, SwitchChange};
use crate::pipeline::{
    AlertNotice, Batch, Cleared, DropNotice, FlowNotice, Observer, TxBurst, TxSink, Worker,
};
use crate::port::PortId;
use crate::slowpath::SlowPath;
use conn::ConnRecord;
use engine::Chain;

/// Frames transmitted, per output port.
///
/// Frames are kept in the order of the packets they come from (the received packet's number,
/// then its copy index): the order a switch that handles one packet at a time would send them
/// in, whatever order the pipeline's stages transmitted a batch in.
#[derive(Debug, Default)]
pub struct MemorySink {
    keep: bool,
    frames: Vec<Vec<Vec<u8>>>,
    order: Vec<Vec<(u64, u16)>>,
    counts: Vec<u64>,
}

impl MemorySink {
    /// A sink that keeps copies of frames (`keep`) or only counts them.
    pub fn new(keep: bool) -> Self {
        MemorySink {
            keep,
            frames: Vec::new(),
            order: Vec::new(),
            counts: Vec::new(),
        }
    }

    /// Frames transmitted on every port.
    pub fn transmitted_total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The frames kept for `port` (empty unless made with `keep`).
    pub fn frames(&self, port: PortId) -> &[Vec<u8>] {
        self.frames
            .get(usize::from(port))
            .map_or(&[], Vec::as_slice)
    }

    fn grow(&mut self, p: usize) {
        if self.counts.len() <= p {
            self.counts.resize(p + 1, 0);
            if self.keep {
                self.frames.resize_with(p + 1, Vec::new);
                self.order.resize_with(p + 1, Vec::new);
            }
        }
    }
}

impl TxSink for MemorySink {
    fn transmit(&mut self, pkt: &Cleared<'_>) {
        let p = usize::from(pkt.port());
        if !self.keep
            && let Some(c) = self.counts.get_mut(p)
        {
            // Counting only, port seen before: the benchmark's path.
            *c += 1;
            return;
        }
        self.grow(p);
        self.counts[p] += 1;
        if self.keep {
            let key = (pkt.number(), pkt.copy());
            let order = &mut self.order[p];
            // Almost always the last: search from the end.
            let at = order.len() - order.iter().rev().take_while(|k| **k > key).count();
            order.insert(at, key);
            self.frames[p].insert(at, pkt.frame().to_vec());
        }
    }

    fn transmit_burst(&mut self, burst: &TxBurst<'_>) {
        if self.keep {
            for p in burst.iter() {
                self.transmit(&p);
            }
            return;
        }
        // Counting only: the benchmark's path.
        for port in burst.ports() {
            match self.counts.get_mut(usize::from(port)) {
                Some(c) => *c += 1,
                None => {
                    self.grow(usize::from(port));
                    self.counts[usize::from(port)] += 1;
                }
            }
        }
    }
}

/// A drop or alert seen by a [`MemorySwitch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub number: u64,
    pub in_port: PortId,
    pub out_port: Option<PortId>,
    pub reason: String,
    pub alert: bool,
}

#[derive(Debug, Default)]
struct Recorder {
    keep: bool,
    notices: Vec<Notice>,
    flows: Vec<ConnRecord>,
}

impl Observer for Recorder {
    fn on_drop(&mut self, n: &DropNotice<'_>) {
        if self.keep {
            self.notices.push(Notice {
                number: n.number,
                in_port: n.in_port,
                out_port: n.out_port,
                reason: n.reason.to_string(),
                alert: false,
            });
        }
    }
    fn on_alert(&mut self, n: &AlertNotice<'_>) {
        if self.keep {
            self.notices.push(Notice {
                number: n.number,
                in_port: n.in_port,
                out_port: n.out_port,
                reason: format!(
                    "{}:{}:{}",
                    n.stage.name(),
                    n.alert.engine,
                    n.alerts.msg(n.alert)
                ),
                alert: true,
            });
        }
    }
    fn on_flow(&mut self, n: &FlowNotice<'_>) {
        if self.keep {
            self.flows.push(*n.record);
        }
    }
}

/// One worker with in-memory ports, behind a learner that sees every packet first.
#[derive(Debug)]
pub struct MemorySwitch {
    learner: Learner,
    changes: Vec<SwitchChange>,
    worker: Worker,
    batch: Batch,
    sink: MemorySink,
    recorder: Recorder,
    batch_size: usize,
    sent: u64,
}

impl MemorySwitch {
    /// A switch for `config` with empty inspection chains, keeping every frame it transmits.
    pub fn new(config: &Config) -> Self {
        Self::with_chains(config, Chain::default(), Chain::default(), true)
    }

    /// A switch with the given inspection chains; `keep` says whether transmitted frames and
    /// notices are kept (tests) or only counted (benchmarks).
    pub fn with_chains(config: &Config, ingress: Chain, egress: Chain, keep: bool) -> Self {
        MemorySwitch {
            learner: Learner::new(config),
            changes: Vec::new(),
            worker: Worker::new(0, &config.limits, SlowPath::new(config), ingress, egress),
            batch: Batch::new(),
            sink: MemorySink::new(keep),
            recorder: Recorder {
                keep,
                notices: Vec::new(),
                flows: Vec::new(),
            },
            batch_size: config.limits.batch_size,
            sent: 0,
        }
    }

    /// Queues a frame entering `port` at `time_ns`; the batch is processed when it is full.
    /// The learner sees the frame first; when it changes what the switch knows, the packets
    /// queued before are processed under the old knowledge, then the worker takes the change.
    pub fn send(&mut self, port: PortId, frame: &[u8], time_ns: u64) {
        self.sent += 1;
        if self
            .learner
            .observe(port, frame, time_ns, &mut self.changes)
        {
            self.apply_changes();
        }
        if !self
            .batch
            .push(frame, port, time_ns, self.sent, OffloadMeta::default())
        {
            // Larger than a buffer: count it as received and malformed.
            self.flush();
            let empty: &[u8] = &[];
            self.batch
                .push(empty, port, time_ns, self.sent, OffloadMeta::default());
        }
        if self.batch.len() >= self.batch_size {
            self.flush();
        }
    }

    fn apply_changes(&mut self) {
        self.flush();
        for c in self.changes.drain(..) {
            self.worker.apply(&c);
        }
    }

    /// Processes whatever is queued.
    pub fn flush(&mut self) {
        if !self.batch.is_empty() {
            self.worker
                .process(&mut self.batch, &mut self.sink, &mut self.recorder);
            self.batch.clear();
        }
    }

    /// Frames transmitted out of `port` so far (empty when frames are not kept).
    pub fn received(&self, port: PortId) -> &[Vec<u8>] {
        self.sink
            .frames
            .get(usize::from(port))
            .map_or(&[], |v| v.as_slice())
    }

    /// Forgets the frames received so far on every port.
    pub fn clear_received(&mut self) {
        for f in &mut self.sink.frames {
            f.clear();
        }
        for o in &mut self.sink.order {
            o.clear();
        }
        self.recorder.notices.clear();
    }

    /// Frames transmitted out of `port` so far (counted even when not kept).
    pub fn transmitted(&self, port: PortId) -> u64 {
        self.sink
            .counts
            .get(usize::from(port))
            .copied()
            .unwrap_or(0)
    }

    /// Drops and alerts seen so far (when kept).
    pub fn notices(&self) -> &[Notice] {
        &self.recorder.notices
    }

    /// The pipeline's counters.
    pub fn counters(&self) -> &DatapathCounters {
        self.worker.counters()
    }

    /// The worker (its flow table, ...).
    pub fn worker(&self) -> &Worker {
        &self.worker
    }

    /// Runs periodic maintenance at `now` (MAC aging, connection and flow expiry,
    /// revalidation), as a runtime tick would.
    pub fn maintain(&mut self, now: u64) {
        self.flush();
        self.learner.age(now, &mut self.changes);
        self.apply_changes();
        self.worker.tick(now, u64::MAX - 1, &mut self.recorder);
    }

    /// Ends the input: every connection ends and is reported.
    pub fn finish(&mut self, now: u64) {
        self.flush();
        self.worker.finish(now, &mut self.recorder);
    }

    /// Connections that ended so far (when kept).
    pub fn flows(&self) -> &[ConnRecord] {
        &self.recorder.flows
    }

    /// The learner: the authoritative port table and forwarding database.
    pub fn learner(&self) -> &Learner {
        &self.learner
    }

    /// Changes a port's VLAN treatment, between packets (queued packets go first).
    pub fn set_port_vlan(&mut self, port: PortId, vlan: crate::port::VlanMode) -> bool {
        let ok = self.learner.set_port_vlan(port, vlan, &mut self.changes);
        self.apply_changes();
        ok
    }
}
