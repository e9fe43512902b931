//! The runtime: packets from a [`PacketSource`] through the pipeline's workers into an
//! [`OutputSink`], on as many threads as asked, with the same result for any number.
//!
//! # Threading model
//!
//! One **dispatcher** (the caller's thread) reads the source in order and, for each frame:
//! decides its input port and gives it an Ethernet header if it has none ([`ingest`]); lets the
//! [`Learner`] learn its source MAC; picks its worker by the symmetric steering hash
//! ([`steer`]); and appends it to that worker's open batch. Each **worker** owns a pipeline
//! [`Worker`]: flow table, slow path copy, connection state, engines. Worker 0 runs on the
//! dispatcher's thread, between reads, so `n` workers take `n` threads; the others have a
//! thread each. Nothing is shared between workers and nothing is locked on the packet path;
//! the threads talk through bounded channels of messages of several batches (one wakeup per
//! message, not per batch).
//!
//! What must be the same for every worker count is decided by the dispatcher, in arrival
//! order, and reaches every worker at the same point of its own stream:
//!
//! * **learning**: a change of the forwarding database or the port table is broadcast as
//!   [`Work::Changes`] before the packet it precedes, after every open batch has been sent; a
//!   worker applies it, then revalidates its flows. So every decision sees exactly the MACs
//!   learnt from the packets before it.
//! * **time**: a [`Work::Tick`] goes to every worker each second of packet time and every
//!   [`TICK_PACKETS`] packets (both depend only on the input), so timeouts fire at the same
//!   points whatever the batching.
//! * **steering**: both directions of a connection, its ICMP errors and all fragments of its
//!   datagrams meet on one worker, which holds its connection entry.
//!
//! Every output carries an [`OrderKey`] made from the packet's position in the arrival order;
//! the dispatcher merges the workers' chunks below their common watermark ([`Merger`]), so
//! per-port captures and EVE come out in arrival order for any worker count. What still depends
//! on the worker count is resource exhaustion in a worker (its flow table, its upcall meter, its
//! copy pool, its connection table): each worker has its own, so a capture that fills them can
//! give other drops with more workers. Below those limits the results are identical; the
//! property test of the pipeline checks it.
//!
//! A worker never blocks but on its queue; the dispatcher blocks only when a worker's queue is
//! full (back-pressure).

pub mod host;
pub mod ingest;
pub mod order;
pub mod source;
pub mod steer;

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use capture::CaptureError;
use conn::SteeringKey;
use flow::OffloadMeta;

use crate::config::Config;
use crate::counters::{DatapathCounters, DropReason};
use crate::learn::{LearnCounters, Learner, SwitchChange};
use crate::pipeline::{Arrival, Batch, Worker};
use crate::port::{PortId, PortKind};
use crate::slowpath::{SlowPath, SlowPathCounters};

pub use host::{FrameBlock, Host, Work};
pub use ingest::{Admit, Ingest, default_config};
pub use order::{Chunk, Merger, OrderKey, OutputSink};
pub use source::{CaptureSource, MemorySource, PacketSource, RxFrame};
pub use steer::{Held, Steer, SteerCounters, Steering};

/// Every this many packets a tick goes to every worker (so output keeps flowing and timers
/// run even in a second of packet time that carries a million packets).
pub const TICK_PACKETS: u64 = 4096;
/// Every this much packet time a tick goes to every worker.
pub const TICK_INTERVAL_NS: u64 = 1_000_000_000;
/// Messages a worker's queue holds before the dispatcher waits.
const QUEUE: usize = 2;

/// Builds the pipeline worker of each worker thread (the caller chooses its engines).
pub type WorkerFactory<'a> = dyn Fn(usize, SlowPath) -> Worker + Sync + 'a;

/// How to run.
pub struct RuntimeSetup<'a> {
    pub config: Config,
    /// Make a VM port per new source MAC (the built-in default configuration).
    pub auto_ports: bool,
    pub workers: usize,
    /// Keep transmitted frames' bytes for the output (per-port captures are written).
    pub keep_frames: bool,
    /// Write EVE events.
    pub eve: bool,
    pub steering_key: SteeringKey,
    pub make_worker: &'a WorkerFactory<'a>,
}

impl std::fmt::Debug for RuntimeSetup<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeSetup")
            .field("workers", &self.workers)
            .field("auto_ports", &self.auto_ports)
            .finish_non_exhaustive()
    }
}

/// One port's traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortReport {
    pub id: PortId,
    pub name: String,
    pub kind: PortKind,
    pub bridge: String,
    pub rx_packets: u64,
    pub tx_packets: u64,
}

/// What a run did.
#[derive(Debug)]
pub struct RunReport {
    pub packets_read: u64,
    pub bytes_read: u64,
    /// Pipeline counters of every worker and of the dispatcher, summed.
    pub counters: DatapathCounters,
    pub slow_path: SlowPathCounters,
    pub learning: LearnCounters,
    pub steering: SteerCounters,
    pub ports: Vec<PortReport>,
    /// Megaflows installed at the end, summed over workers.
    pub flows_active: usize,
    pub macs_learnt: usize,
    pub workers: usize,
    /// Packet time of the last packet.
    pub last_time_ns: u64,
    pub elapsed: Duration,
    /// The source error that ended the run early, after every packet before it was handled.
    pub error: Option<CaptureError>,
    /// Outputs merged out of order (a bug if ever non-zero).
    pub out_of_order: u64,
    /// EVE lines written.
    pub eve_events: u64,
}

/// Counts the events written and passes the output on.
struct Counting<'a> {
    inner: &'a mut dyn OutputSink,
    events: u64,
}

impl OutputSink for Counting<'_> {
    fn frame(&mut self, key: OrderKey, port: PortId, time_ns: u64, frame: &[u8]) {
        self.inner.frame(key, port, time_ns, frame);
    }
    fn event(&mut self, key: OrderKey, line: &[u8]) {
        self.events += 1;
        self.inner.event(key, line);
    }
}

/// Where and when a packet the dispatcher drops arrived.
#[derive(Debug, Clone, Copy)]
struct Here {
    position: u64,
    port: Option<PortId>,
    time_ns: u64,
}

/// Work items a message to a worker thread carries at most.
const MESSAGE_ITEMS: usize = 8;
/// Frames a message carries: it is sent when it holds this many (one wakeup per message).
const MESSAGE_FRAMES: usize = 256;

/// A worker on a thread of its own, seen from the dispatcher.
struct Remote {
    tx: mpsc::SyncSender<Vec<Work>>,
    /// Messages handled, back with their (empty) frame blocks.
    back: mpsc::Receiver<Vec<Work>>,
    /// The block frames are appended to.
    open: Option<FrameBlock>,
    /// Items not sent yet, in order, and the frames they hold.
    pending: Vec<Work>,
    pending_frames: usize,
    free_blocks: Vec<FrameBlock>,
    free_messages: Vec<Vec<Work>>,
    /// Blocks made for this worker (they circulate).
    allocated: usize,
}

impl Remote {
    fn new(tx: mpsc::SyncSender<Vec<Work>>, back: mpsc::Receiver<Vec<Work>>) -> Remote {
        Remote {
            tx,
            back,
            open: None,
            pending: Vec::with_capacity(MESSAGE_ITEMS),
            pending_frames: 0,
            free_blocks: Vec::new(),
            free_messages: Vec::new(),
            allocated: 0,
        }
    }

    fn recycle(&mut self, mut m: Vec<Work>) {
        for w in m.drain(..) {
            if let Work::Frames(b) = w {
                self.free_blocks.push(b);
            }
        }
        self.free_messages.push(m);
    }

    /// The open block: a free one, else a new one while few exist, else the next one back.
    fn block(&mut self) -> Option<&mut FrameBlock> {
        if self.open.is_none() {
            if self.free_blocks.is_empty() {
                while let Ok(m) = self.back.try_recv() {
                    self.recycle(m);
                }
            }
            let b = match self.free_blocks.pop() {
                Some(b) => b,
                None if self.allocated < (QUEUE + 2) * MESSAGE_ITEMS => {
                    self.allocated += 1;
                    FrameBlock::default()
                }
                None => {
                    // Every block is in flight: what is pending goes, and the next message
                    // that comes back brings blocks.
                    self.send();
                    let m = self.back.recv().ok()?;
                    self.recycle(m);
                    self.free_blocks.pop()?
                }
            };
            self.open = Some(b);
        }
        self.open.as_mut()
    }

    /// Queues `work` after the open block; sends the message when it is full or `now`.
    fn queue(&mut self, work: Option<Work>, now: bool) {
        if let Some(b) = self.open.take() {
            if b.is_empty() {
                self.open = Some(b);
            } else {
                self.pending_frames += b.len();
                self.pending.push(Work::Frames(b));
            }
        }
        if let Some(work) = work {
            self.pending.push(work);
        }
        if now || self.pending.len() >= MESSAGE_ITEMS || self.pending_frames >= MESSAGE_FRAMES {
            self.send();
        }
    }

    /// Sends the pending items (blocks while the worker's queue is full).
    fn send(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let fresh = self.free_messages.pop().unwrap_or_default();
        let m = std::mem::replace(&mut self.pending, fresh);
        self.pending_frames = 0;
        // A worker that is gone (it panicked) is found when it is joined.
        let _ = self.tx.send(m);
    }
}

/// Where the dispatcher sends work. Worker 0 runs on the dispatcher's own thread (so `n`
/// workers are `n` threads) and gets its batches as they fill; the others are threads fed
/// messages of frame blocks and other work, up to [`MESSAGE_FRAMES`] frames a message, so a
/// worker wakes once per message rather than once per batch.
struct Workers<'s> {
    local: Box<Host>,
    /// The local worker's open batch.
    open: Option<Box<Batch>>,
    /// Workers `1..n`, at index `w - 1`.
    remote: Vec<Remote>,
    outputs: Option<mpsc::Receiver<(usize, Chunk, u64)>>,
    handles: Vec<std::thread::ScopedJoinHandle<'s, Host>>,
}

/// The dispatcher's state.
struct Dispatch {
    batch_size: usize,
    merger: Merger,
    /// The dispatcher's own events (drops before any worker) go out as this source.
    own: usize,
    counters: DatapathCounters,
    rx: Vec<u64>,
    eve: bool,
}

impl Dispatch {
    /// Appends a frame for worker `w`, sending what is full.
    fn push(
        &mut self,
        w: usize,
        frame: &[u8],
        arrival: Arrival,
        workers: &mut Workers<'_>,
        out: &mut dyn OutputSink,
    ) {
        if w == 0 {
            let b = workers.open.get_or_insert_with(Box::default);
            // Cannot fail: the caller checked `Batch::fits`, and a full batch was sent.
            let _ = b.push_at(frame, arrival, OffloadMeta::default());
            if b.len() >= self.batch_size {
                self.flush_local(workers, out);
            }
        } else {
            let r = &mut workers.remote[w - 1];
            let Some(b) = r.block() else {
                return;
            };
            b.push(frame, arrival);
            if b.len() >= MESSAGE_FRAMES {
                r.queue(None, false);
            }
        }
    }

    /// Runs the local worker on its open batch.
    fn flush_local(&mut self, workers: &mut Workers<'_>, out: &mut dyn OutputSink) {
        if let Some(b) = workers.open.take() {
            if b.is_empty() {
                workers.open = Some(b);
            } else {
                self.run_local(Work::Batch(b), workers, out);
            }
        }
    }

    /// Handles `work` on the local worker and passes its output on.
    fn run_local(&mut self, mut work: Work, workers: &mut Workers<'_>, out: &mut dyn OutputSink) {
        let mark = workers.local.handle(&mut work);
        let chunk = workers.local.take_output(self.merger.spare());
        self.merger.push(0, chunk, mark);
        if let Work::Batch(b) = work {
            workers.open = Some(b);
        }
        self.collect(workers);
        self.merger.release(out);
    }

    /// Takes the output the worker threads have sent.
    fn collect(&mut self, workers: &mut Workers<'_>) {
        if let Some(outputs) = &workers.outputs {
            while let Ok((w, chunk, mark)) = outputs.try_recv() {
                self.merger.push(w, chunk, mark);
            }
        }
    }

    /// Sends every open batch, then `make()` to every worker; `now` sends the messages
    /// without waiting for them to fill.
    fn broadcast(
        &mut self,
        workers: &mut Workers<'_>,
        out: &mut dyn OutputSink,
        now: bool,
        make: impl Fn() -> Work,
    ) {
        self.flush_local(workers, out);
        self.run_local(make(), workers, out);
        for r in &mut workers.remote {
            r.queue(Some(make()), now);
        }
        self.collect(workers);
        self.merger.release(out);
    }

    /// A packet dropped before any worker: counted, and reported as an EVE `drop`.
    fn drop_here(
        &mut self,
        at: Here,
        frame: &[u8],
        reason: DropReason,
        names: &[String],
        out: &mut dyn OutputSink,
    ) {
        let Here {
            position,
            port,
            time_ns,
        } = at;
        self.counters.rx_packets += 1;
        self.counters.rx_bytes += frame.len() as u64;
        self.counters.drop(reason);
        if self.eve {
            let parsed = wire::parse_packet(frame);
            let iface = port.and_then(|p| names.get(usize::from(p)).cloned());
            let ev = crate::eve::drop_event(time_ns, iface, frame, &parsed, reason.name());
            let mut chunk = self.merger.spare();
            let _ = chunk.push_event(OrderKey::packet(position, u64::MAX), |b| {
                serde_json::to_writer(&mut *b, &ev)?;
                b.push(b'\n');
                Ok::<(), serde_json::Error>(())
            });
            self.merger.push(self.own, chunk, position + 1);
        } else {
            self.merger.advance(self.own, position + 1);
        }
        self.merger.release(out);
    }
}

/// Runs `source` through the pipeline into `output`. `progress` is called now and then with
/// the bytes read.
pub fn run(
    source: &mut dyn PacketSource,
    setup: RuntimeSetup<'_>,
    output: &mut dyn OutputSink,
    progress: &mut dyn FnMut(u64),
) -> RunReport {
    let started = Instant::now();
    let config = setup.config;
    let workers_n = setup.workers.clamp(1, 64);
    let mut learner = Learner::new(&config);
    let mut ingest = Ingest::new(&learner, setup.auto_ports);
    let mut steering = Steering::new(setup.steering_key, workers_n);
    let mut names: Vec<String> = learner
        .ports()
        .iter()
        .map(|(_, p)| p.name.clone())
        .collect();
    let mut counting = Counting {
        inner: output,
        events: 0,
    };
    let out: &mut dyn OutputSink = &mut counting;
    let mut d = Dispatch {
        batch_size: config.limits.batch_size.clamp(1, crate::MAX_BATCH),
        merger: Merger::new(workers_n + 1),
        own: workers_n,
        counters: DatapathCounters::default(),
        rx: Vec::new(),
        eve: setup.eve,
    };
    let first_names = names.clone();
    let make_host = |w: usize| {
        Host::new(
            (setup.make_worker)(w, SlowPath::new(&config)),
            setup.keep_frames,
            setup.eve,
            first_names.clone(),
            config.limits.batch_size,
        )
    };

    tracing::info!(
        workers = workers_n,
        ports = learner.ports().len(),
        bridges = learner.bridges().len(),
        auto_ports = setup.auto_ports,
        batch = d.batch_size,
        "runtime starts"
    );
    let mut packets_read = 0u64;
    let mut last_time = 0u64;
    let mut next_tick_time: Option<u64> = None;
    let mut error = None;
    let mut changes: Vec<SwitchChange> = Vec::new();
    let mut released: Vec<Held> = Vec::new();
    let mut dropped: Vec<Held> = Vec::new();
    let mut bytes_reported = 0u64;

    let hosts: Vec<Host> = std::thread::scope(|scope| {
        let mut workers = Workers {
            local: Box::new(make_host(0)),
            open: None,
            remote: Vec::new(),
            outputs: None,
            handles: Vec::new(),
        };
        if workers_n > 1 {
            let (out_tx, out_rx) = mpsc::channel();
            for w in 1..workers_n {
                let (tx, rx) = mpsc::sync_channel::<Vec<Work>>(QUEUE);
                let (back_tx, back_rx) = mpsc::channel::<Vec<Work>>();
                let out_tx = out_tx.clone();
                let mut host = make_host(w);
                workers.handles.push(scope.spawn(move || {
                    while let Ok(mut message) = rx.recv() {
                        let mut finish = false;
                        let mut mark = 0;
                        for work in message.iter_mut() {
                            finish |= matches!(work, Work::Finish { .. });
                            mark = mark.max(host.handle(work));
                        }
                        let chunk = host.take_output(Chunk::new());
                        if out_tx.send((w, chunk, mark)).is_err() {
                            break;
                        }
                        let _ = back_tx.send(message);
                        if finish {
                            break;
                        }
                    }
                    host
                }));
                workers.remote.push(Remote::new(tx, back_rx));
            }
            workers.outputs = Some(out_rx);
        }

        let mut since_tick = 0u64;
        loop {
            let rx = match source.next() {
                Ok(Some(rx)) => rx,
                Ok(None) => break,
                Err(e) => {
                    error = Some(e);
                    break;
                }
            };
            packets_read += 1;
            since_tick += 1;
            let time = rx.time_ns;
            last_time = last_time.max(time);
            let position = Arrival::position_of(rx.number, 0);
            if next_tick_time.is_none_or(|t| time >= t) || since_tick >= TICK_PACKETS {
                if next_tick_time.is_some() {
                    d.broadcast(&mut workers, out, true, || Work::Tick {
                        pos: position,
                        time_ns: time,
                    });
                    steering.expire(time, &mut dropped);
                    for h in dropped.drain(..) {
                        let pos = Arrival::position_of(h.number, 0);
                        let at = Here {
                            position: pos,
                            port: Some(h.port),
                            time_ns: h.time_ns,
                        };
                        d.drop_here(at, &h.frame, DropReason::DefragTimeout, &names, out);
                    }
                }
                next_tick_time = Some(time.saturating_add(TICK_INTERVAL_NS));
                since_tick = 0;
            }
            let port = match ingest.admit(&rx, &mut learner, &mut changes) {
                Admit::Port(p) => p,
                Admit::Drop(reason) => {
                    let at = Here {
                        position,
                        port: None,
                        time_ns: time,
                    };
                    d.drop_here(at, rx.data, reason, &names, out);
                    continue;
                }
            };
            let frame = ingest.frame(&rx);
            learner.observe(port, frame, time, &mut changes);
            if !changes.is_empty() {
                for c in &changes {
                    match c {
                        SwitchChange::PortAdded(p) => {
                            tracing::debug!(port = %p.name, number = rx.number, "port made for a new source MAC");
                            names.push(p.name.clone());
                        }
                        SwitchChange::Fdb(f) => tracing::trace!(?f, number = rx.number, "learning"),
                        SwitchChange::PortVlan { port, vlan } => {
                            tracing::debug!(port, ?vlan, "port VLAN changed")
                        }
                    }
                }
                let shared: Arc<[SwitchChange]> = changes.drain(..).collect();
                d.broadcast(&mut workers, out, false, || Work::Changes {
                    pos: position,
                    changes: Arc::clone(&shared),
                });
            }
            let p = usize::from(port);
            if d.rx.len() <= p {
                d.rx.resize(p + 1, 0);
            }
            d.rx[p] += 1;
            let vlan = learner.internal_vlan(port, frame).unwrap_or(0);
            let w = match steering.steer(frame, vlan, port, time, rx.number, &mut released) {
                Steer::To(w) => w,
                Steer::Held => continue,
                Steer::Dropped => {
                    d.rx[p] -= 1;
                    let at = Here {
                        position,
                        port: Some(port),
                        time_ns: time,
                    };
                    d.drop_here(at, frame, DropReason::DefragLimit, &names, out);
                    continue;
                }
            };
            let arrival = Arrival {
                in_port: port,
                time_ns: time,
                number: rx.number,
                position,
            };
            push(&mut d, w, frame, arrival, &names, &mut workers, out);
            for (k, h) in released.drain(..).enumerate() {
                let arrival = Arrival {
                    in_port: h.port,
                    time_ns: h.time_ns,
                    number: h.number,
                    position: Arrival::position_of(rx.number, (k + 1).min(0xffff) as u16),
                };
                push(&mut d, w, &h.frame, arrival, &names, &mut workers, out);
            }
            let read = source.bytes_read();
            if read.saturating_sub(bytes_reported) >= 1 << 20 {
                bytes_reported = read;
                progress(read);
            }
        }
        // End of input: held fragments are dropped, every worker finishes.
        steering.drain(&mut dropped);
        for h in dropped.drain(..) {
            let pos = Arrival::position_of(h.number, 0);
            let at = Here {
                position: pos,
                port: Some(h.port),
                time_ns: h.time_ns,
            };
            d.drop_here(at, &h.frame, DropReason::DefragTimeout, &names, out);
        }
        d.merger.advance(d.own, u64::MAX);
        d.broadcast(&mut workers, out, true, || Work::Finish {
            time_ns: last_time,
        });
        let Workers {
            local,
            remote,
            outputs,
            handles,
            ..
        } = workers;
        drop(remote);
        let mut hosts = vec![*local];
        for h in handles {
            match h.join() {
                Ok(host) => hosts.push(host),
                Err(p) => std::panic::resume_unwind(p),
            }
        }
        if let Some(outputs) = outputs {
            while let Ok((w, chunk, mark)) = outputs.try_recv() {
                d.merger.push(w, chunk, mark);
            }
        }
        hosts
    });
    d.merger.finish(out);
    progress(source.bytes_read());
    if let Some(e) = &error {
        tracing::warn!(packets = packets_read, "input ended early: {e}");
    }

    let mut counters = d.counters.clone();
    let mut slow = SlowPathCounters::default();
    let mut flows_active = 0;
    for h in &hosts {
        counters.add(h.worker.counters());
        slow.add(&h.worker.slow_path().counters());
        flows_active += h.worker.flow_table().len();
    }
    tracing::info!(
        packets = packets_read,
        rx = counters.rx_packets,
        tx = counters.tx_packets,
        drops = counters.total_drops(),
        connections = counters.connections_ended,
        events = counting.events,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "runtime done"
    );
    let mut tx: Vec<u64> = Vec::new();
    for h in &hosts {
        if tx.len() < h.frames.tx.len() {
            tx.resize(h.frames.tx.len(), 0);
        }
        for (t, n) in tx.iter_mut().zip(&h.frames.tx) {
            *t += n;
        }
    }
    let ports = learner
        .ports()
        .iter()
        .map(|(id, p)| PortReport {
            id,
            name: p.name.clone(),
            kind: p.kind,
            bridge: learner.bridges().get(p.bridge).cloned().unwrap_or_default(),
            rx_packets: d.rx.get(usize::from(id)).copied().unwrap_or(0),
            tx_packets: tx.get(usize::from(id)).copied().unwrap_or(0),
        })
        .collect();
    RunReport {
        packets_read,
        bytes_read: source.bytes_read(),
        counters,
        slow_path: slow,
        learning: learner.counters(),
        steering: steering.counters(),
        ports,
        flows_active,
        macs_learnt: learner.fdb().len(),
        workers: workers_n,
        last_time_ns: last_time,
        elapsed: started.elapsed(),
        error,
        out_of_order: d.merger.out_of_order(),
        eve_events: counting.events,
    }
}

/// Appends a frame for worker `w`; one too large for a packet buffer is dropped.
fn push(
    d: &mut Dispatch,
    w: usize,
    frame: &[u8],
    arrival: Arrival,
    names: &[String],
    workers: &mut Workers<'_>,
    out: &mut dyn OutputSink,
) {
    if !Batch::fits(frame.len()) {
        // Not a frame any port could carry.
        let at = Here {
            position: arrival.position,
            port: Some(arrival.in_port),
            time_ns: arrival.time_ns,
        };
        d.drop_here(at, frame, DropReason::Malformed, names, out);
        if let Some(p) = d.rx.get_mut(usize::from(arrival.in_port)) {
            *p = p.saturating_sub(1);
        }
        return;
    }
    d.push(w, frame, arrival, workers, out);
}
