//! The runtime: packets from a [`PacketSource`] through the pipeline's workers into an
//! [`OutputSink`], on as many threads as asked, with the same result for any number.
//!
//! # Threading model
//!
//! One **dispatcher** (the caller's thread) reads the source in order and, for each frame:
//! decides its input port and gives it an Ethernet header if it has none ([`ingest`]); lets the
//! [`Learner`] learn its source MAC; picks its worker by the symmetric steering hash
//! ([`steer`]); and appends it to that worker's open batch. Each **worker** (a thread of its
//! own, or the dispatcher itself when there is one) owns a pipeline [`Worker`]: flow table,
//! slow path copy, connection state, engines. Nothing is shared between workers and nothing is
//! locked on the packet path; the threads talk through bounded channels of whole batches.
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

pub use host::{Host, Work};
pub use ingest::{Admit, Ingest, default_config};
pub use order::{Chunk, Merger, OrderKey, OutputSink};
pub use source::{CaptureSource, MemorySource, PacketSource, RxFrame};
pub use steer::{Held, Steer, SteerCounters, Steering};

/// Every this many packets a tick goes to every worker (so output keeps flowing and timers
/// run even in a second of packet time that carries a million packets).
pub const TICK_PACKETS: u64 = 4096;
/// Every this much packet time a tick goes to every worker.
pub const TICK_INTERVAL_NS: u64 = 1_000_000_000;
/// Batches a worker's queue holds before the dispatcher waits.
const QUEUE: usize = 8;

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

/// Where the dispatcher sends work: a worker of its own thread, or threads.
enum Workers<'s> {
    Inline(Box<Host>),
    Threads {
        senders: Vec<mpsc::SyncSender<Work>>,
        batches: Vec<mpsc::Receiver<Box<Batch>>>,
        outputs: mpsc::Receiver<(usize, Chunk, u64)>,
        handles: Vec<std::thread::ScopedJoinHandle<'s, Host>>,
    },
}

/// The dispatcher's state.
struct Dispatch {
    open: Vec<Option<Box<Batch>>>,
    batch_size: usize,
    merger: Merger,
    /// The dispatcher's own events (drops before any worker) go out as this source.
    own: usize,
    counters: DatapathCounters,
    rx: Vec<u64>,
    eve: bool,
    /// Batches made per worker (threads recycle them through their return channel).
    allocated: Vec<usize>,
    /// The inline worker's batch, back for reuse.
    spare_batch: Option<Box<Batch>>,
}

impl Dispatch {
    /// A batch for worker `w`: the open one, else one the worker returned, else a new one
    /// while fewer than a queue's worth exist, else the next one the worker returns.
    fn batch_for<'b>(&'b mut self, w: usize, workers: &mut Workers<'_>) -> Option<&'b mut Batch> {
        if self.open[w].is_none() {
            let b = match workers {
                Workers::Inline(_) => self.spare_batch.take().unwrap_or_default(),
                Workers::Threads { batches, .. } => match batches[w].try_recv() {
                    Ok(b) => b,
                    Err(_) if self.allocated[w] < QUEUE + 2 => {
                        self.allocated[w] += 1;
                        Box::default()
                    }
                    Err(_) => batches[w].recv().ok()?,
                },
            };
            self.open[w] = Some(b);
        }
        self.open[w].as_deref_mut()
    }

    fn send(&mut self, w: usize, work: Work, workers: &mut Workers<'_>, out: &mut dyn OutputSink) {
        match workers {
            Workers::Inline(host) => {
                let mut work = work;
                let mark = host.handle(&mut work);
                let chunk = host.take_output(self.merger.spare());
                self.merger.push(0, chunk, mark);
                self.merger.release(out);
                if let Work::Batch(b) = work {
                    self.spare_batch = Some(b);
                }
            }
            Workers::Threads {
                senders, outputs, ..
            } => {
                // A worker that is gone (it panicked) is found when it is joined.
                let _ = senders[w].send(work);
                while let Ok((w, chunk, mark)) = outputs.try_recv() {
                    self.merger.push(w, chunk, mark);
                }
                self.merger.release(out);
            }
        }
    }

    fn flush(&mut self, w: usize, workers: &mut Workers<'_>, out: &mut dyn OutputSink) {
        if let Some(b) = self.open[w].take() {
            if b.is_empty() {
                self.open[w] = Some(b);
            } else {
                self.send(w, Work::Batch(b), workers, out);
            }
        }
    }

    /// Sends every open batch, then `make(w)` to every worker.
    fn broadcast(
        &mut self,
        workers: &mut Workers<'_>,
        out: &mut dyn OutputSink,
        make: impl Fn() -> Work,
    ) {
        for w in 0..self.open.len() {
            self.flush(w, workers, out);
        }
        for w in 0..self.open.len() {
            self.send(w, make(), workers, out);
        }
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
        open: (0..workers_n).map(|_| None).collect(),
        batch_size: config.limits.batch_size.clamp(1, crate::MAX_BATCH),
        merger: Merger::new(workers_n + 1),
        own: workers_n,
        counters: DatapathCounters::default(),
        rx: Vec::new(),
        eve: setup.eve,
        allocated: vec![0; workers_n],
        spare_batch: None,
    };
    let first_names = names.clone();
    let make_host = |w: usize| {
        Host::new(
            (setup.make_worker)(w, SlowPath::new(&config)),
            setup.keep_frames,
            setup.eve,
            first_names.clone(),
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
        let mut workers = if workers_n == 1 {
            Workers::Inline(Box::new(make_host(0)))
        } else {
            let (out_tx, out_rx) = mpsc::channel();
            let mut senders = Vec::new();
            let mut batches = Vec::new();
            let mut handles = Vec::new();
            for w in 0..workers_n {
                let (tx, rx) = mpsc::sync_channel::<Work>(QUEUE);
                let (back_tx, back_rx) = mpsc::channel::<Box<Batch>>();
                let out_tx = out_tx.clone();
                let mut host = make_host(w);
                handles.push(scope.spawn(move || {
                    while let Ok(mut work) = rx.recv() {
                        let finish = matches!(work, Work::Finish { .. });
                        let mark = host.handle(&mut work);
                        let chunk = host.take_output(Chunk::new());
                        if out_tx.send((w, chunk, mark)).is_err() {
                            break;
                        }
                        if let Work::Batch(b) = work {
                            let _ = back_tx.send(b);
                        }
                        if finish {
                            break;
                        }
                    }
                    host
                }));
                senders.push(tx);
                batches.push(back_rx);
            }
            Workers::Threads {
                senders,
                batches,
                outputs: out_rx,
                handles,
            }
        };

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
                    d.broadcast(&mut workers, out, || Work::Tick {
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
                d.broadcast(&mut workers, out, || Work::Changes {
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
            push(&mut d, w, frame, arrival, &mut workers, out);
            for (k, h) in released.drain(..).enumerate() {
                let arrival = Arrival {
                    in_port: h.port,
                    time_ns: h.time_ns,
                    number: h.number,
                    position: Arrival::position_of(rx.number, (k + 1).min(0xffff) as u16),
                };
                push(&mut d, w, &h.frame, arrival, &mut workers, out);
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
        d.broadcast(&mut workers, out, || Work::Finish { time_ns: last_time });
        match workers {
            Workers::Inline(host) => vec![*host],
            Workers::Threads {
                senders,
                outputs,
                handles,
                ..
            } => {
                drop(senders);
                let mut hosts = Vec::new();
                for h in handles {
                    match h.join() {
                        Ok(host) => hosts.push(host),
                        Err(p) => std::panic::resume_unwind(p),
                    }
                }
                while let Ok((w, chunk, mark)) = outputs.try_recv() {
                    d.merger.push(w, chunk, mark);
                }
                hosts
            }
        }
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

/// Appends a frame to worker `w`'s open batch, sending the batch when it is full.
fn push(
    d: &mut Dispatch,
    w: usize,
    frame: &[u8],
    arrival: Arrival,
    workers: &mut Workers<'_>,
    out: &mut dyn OutputSink,
) {
    let batch_size = d.batch_size;
    let pushed = match d.batch_for(w, workers) {
        Some(b) => b.push_at(frame, arrival, OffloadMeta::default()),
        None => return,
    };
    if !pushed {
        // Larger than a packet buffer: not a frame any port could carry.
        d.flush(w, workers, out);
        let at = Here {
            position: arrival.position,
            port: Some(arrival.in_port),
            time_ns: arrival.time_ns,
        };
        d.drop_here(at, frame, DropReason::Malformed, &[], out);
        if let Some(p) = d.rx.get_mut(usize::from(arrival.in_port)) {
            *p = p.saturating_sub(1);
        }
        return;
    }
    if d.open[w].as_ref().is_some_and(|b| b.len() >= batch_size) {
        d.flush(w, workers, out);
    }
}
