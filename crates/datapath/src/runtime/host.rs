//! A worker in the runtime: the pipeline [`Worker`] and what it writes into, handling the
//! dispatcher's messages in order.
//!
//! The host turns everything the worker emits into entries of an output [`Chunk`], each with
//! its [`OrderKey`]: transmitted frames (bytes kept only when someone writes them), and EVE
//! `drop` events serialized here, on the worker's thread, so JSON formatting runs in parallel.
//! One chunk per message; the dispatcher merges them.
//!
//! A host never blocks except on its queue, and allocates only when its output buffers first
//! grow or a port is added.

use std::sync::Arc;

use crate::learn::SwitchChange;
use flow::OffloadMeta;

use crate::pipeline::{
    AlertNotice, Arrival, Batch, Cleared, DropNotice, FlowNotice, LogNotice, Observer, TxBurst,
    TxSink, Worker,
};
use crate::port::PortId;

use super::order::{Chunk, OrderKey};

/// Frames on their way to a worker thread, packed back to back with their arrivals. (A
/// [`Batch`] has a 64 KiB buffer per packet; a block takes what the frames take, so the
/// frames in flight between threads stay few pages and warm in cache.)
#[derive(Debug, Default)]
pub struct FrameBlock {
    bytes: Vec<u8>,
    frames: Vec<(Arrival, u32, u32)>,
}

impl FrameBlock {
    /// Appends `frame` (one that [`Batch::fits`]).
    pub fn push(&mut self, frame: &[u8], at: Arrival) {
        let start = self.bytes.len() as u32;
        self.bytes.extend_from_slice(frame);
        self.frames.push((at, start, frame.len() as u32));
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True when it holds no frame.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Empties it, keeping its memory.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.frames.clear();
    }

    /// The frames in order, with their arrivals.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], Arrival)> {
        self.frames.iter().map(|&(at, start, len)| {
            let (start, len) = (start as usize, len as usize);
            (self.bytes.get(start..start + len).unwrap_or(&[]), at)
        })
    }
}

/// What the dispatcher sends a worker, in arrival order.
#[derive(Debug)]
pub enum Work {
    /// Packets to process; the batch comes back empty (boxed: it travels back and forth).
    Batch(Box<Batch>),
    /// Packets to process in batches of the worker's own; the block comes back empty.
    Frames(FrameBlock),
    /// The learner's changes, to apply before the packet at `pos`.
    Changes {
        pos: u64,
        changes: Arc<[SwitchChange]>,
    },
    /// Packet time has reached `time_ns` by the packet at `pos`: periodic work is due.
    Tick { pos: u64, time_ns: u64 },
    /// The end of input, at packet time `time_ns`.
    Finish { time_ns: u64 },
}

/// The `seq` of a packet's events: after all its frames (whose `seq` is their copy index).
const EVENT_SEQ: u64 = 1 << 32;

/// Where a host's transmitted frames go: counted per port, and, when someone writes them,
/// entries of the current chunk.
#[derive(Debug)]
pub struct FrameOut {
    chunk: Chunk,
    keep_frames: bool,
    /// Frames out of each port.
    pub tx: Vec<u64>,
}

impl FrameOut {
    /// An emitter; `keep_frames` passes frames on (per-port captures are written).
    pub fn new(keep_frames: bool) -> FrameOut {
        FrameOut {
            chunk: Chunk::new(),
            keep_frames,
            tx: Vec::new(),
        }
    }

    #[inline]
    fn count(&mut self, port: PortId) {
        let p = usize::from(port);
        if self.tx.len() <= p {
            self.tx.resize(p + 1, 0);
        }
        self.tx[p] += 1;
    }
}

impl TxSink for FrameOut {
    fn transmit(&mut self, pkt: &Cleared<'_>) {
        self.count(pkt.port());
        if self.keep_frames {
            let key = OrderKey::packet(pkt.position(), u64::from(pkt.copy()));
            self.chunk
                .push_frame(key, pkt.port(), pkt.time_ns(), pkt.frame(), true);
        }
    }

    fn transmit_burst(&mut self, burst: &TxBurst<'_>) {
        if self.keep_frames {
            for p in burst.iter() {
                self.transmit(&p);
            }
        } else {
            for port in burst.ports() {
                self.count(port);
            }
        }
    }
}

/// Where a host's events go: EVE lines, serialized here.
#[derive(Debug)]
pub struct EventOut {
    chunk: Chunk,
    eve: bool,
    /// Port names by id, for `in_iface`.
    names: Vec<String>,
    events: u64,
}

impl EventOut {
    /// An emitter of EVE lines (`eve` false: none).
    pub fn new(eve: bool, names: Vec<String>) -> EventOut {
        EventOut {
            chunk: Chunk::new(),
            eve,
            names,
            events: 0,
        }
    }

    /// A port's name.
    pub fn name(&self, port: PortId) -> String {
        self.names
            .get(usize::from(port))
            .cloned()
            .unwrap_or_else(|| format!("port{port}"))
    }

    /// The key of the next event of the packet at `position`.
    fn event_key(&mut self, position: u64) -> OrderKey {
        self.events += 1;
        OrderKey::packet(position, EVENT_SEQ + self.events)
    }

    /// Writes `ev` at `key`.
    pub fn write(&mut self, key: OrderKey, ev: &events::EveEvent<'_>) {
        if !self.eve {
            return;
        }
        // An event that cannot be serialized leaves nothing (serde_json fails only on
        // non-string map keys, which these events do not have).
        let _ = self.chunk.push_event(key, |b| {
            serde_json::to_writer(&mut *b, ev)?;
            b.push(b'\n');
            Ok::<(), serde_json::Error>(())
        });
    }
}

impl Observer for EventOut {
    fn on_drop(&mut self, n: &DropNotice<'_>) {
        if !self.eve {
            return;
        }
        let key = self.event_key(n.position);
        let mut ev = crate::eve::drop_event(
            n.time_ns,
            Some(self.name(n.in_port)),
            n.frame,
            n.parsed,
            n.reason,
        );
        ev.flow_id = n.conn.map(|c| c.flow_id);
        self.write(key, &ev);
    }

    fn on_alert(&mut self, n: &AlertNotice<'_>) {
        if !self.eve {
            return;
        }
        let key = self.event_key(n.position);
        let iface = Some(self.name(n.in_port));
        let _ = self
            .chunk
            .push_event(key, |b| crate::eve::alert_line(n, iface, b));
    }

    fn on_log(&mut self, n: &LogNotice<'_>) {
        if !self.eve {
            return;
        }
        let key = self.event_key(n.position);
        let iface = self.name(n.in_port);
        let _ = self.chunk.push_event(key, |b| {
            crate::eve::log_line(
                n.time_ns,
                n.conn.map(|c| c.flow_id),
                Some(&iface),
                n.log.event_type,
                Some((n.frame, n.parsed)),
                None,
                n.app_proto,
                n.number,
                n.alerts.members(n.log),
                b,
            )
        });
    }

    fn on_flow(&mut self, n: &FlowNotice<'_>) {
        if !self.eve {
            return;
        }
        let rec = n.record;
        for l in n.alerts.logs() {
            let key = OrderKey::before(n.position, rec.flow_id);
            let _ = self.chunk.push_event(key, |b| {
                crate::eve::log_line(
                    rec.end_ns,
                    Some(rec.flow_id),
                    None,
                    l.event_type,
                    None,
                    Some(rec),
                    rec.app_proto,
                    0,
                    n.alerts.members(l),
                    b,
                )
            });
        }
        for a in n.alerts.records() {
            let key = OrderKey::before(n.position, rec.flow_id);
            let _ = self
                .chunk
                .push_event(key, |b| crate::eve::conn_alert_line(rec, n.alerts, a, b));
        }
        let key = OrderKey::before(n.position, rec.flow_id);
        let _ = self
            .chunk
            .push_event(key, |b| crate::eve::flow_line(rec, b));
    }
}

/// A worker and its output, driven by [`Work`] messages.
#[derive(Debug)]
pub struct Host {
    pub worker: Worker,
    pub frames: FrameOut,
    pub events: EventOut,
    /// The batch [`Work::Frames`] are processed in, and its size.
    batch: Box<Batch>,
    batch_size: usize,
}

impl Host {
    /// A host of `worker`, processing frame blocks in batches of `batch_size` packets.
    pub fn new(
        worker: Worker,
        keep_frames: bool,
        eve: bool,
        names: Vec<String>,
        batch_size: usize,
    ) -> Host {
        Host {
            worker,
            frames: FrameOut::new(keep_frames),
            events: EventOut::new(eve, names),
            batch: Box::default(),
            batch_size: batch_size.clamp(1, crate::MAX_BATCH),
        }
    }

    fn process_batch(&mut self) {
        if !self.batch.is_empty() {
            self.worker
                .process(&mut self.batch, &mut self.frames, &mut self.events);
            self.batch.clear();
        }
    }

    /// Handles one message; returns the watermark it reached (no later output of this host
    /// will have a position below it).
    pub fn handle(&mut self, work: &mut Work) -> u64 {
        let mark = match work {
            Work::Batch(batch) => {
                if batch.is_empty() {
                    return 0;
                }
                let last = batch.last_position();
                self.worker
                    .process(batch, &mut self.frames, &mut self.events);
                batch.clear();
                last + 1
            }
            Work::Frames(block) => {
                let Some(&(last, _, _)) = block.frames.last() else {
                    return 0;
                };
                for (frame, at) in block.iter() {
                    // The dispatcher sends only frames that fit (`Batch::fits`).
                    let _ = self.batch.push_at(frame, at, OffloadMeta::default());
                    if self.batch.len() >= self.batch_size {
                        self.process_batch();
                    }
                }
                self.process_batch();
                block.clear();
                last.position + 1
            }
            Work::Changes { pos, changes } => {
                for c in changes.iter() {
                    if let SwitchChange::PortAdded(p) = c {
                        self.events.names.push(p.name.clone());
                    }
                    self.worker.apply(c);
                }
                *pos
            }
            Work::Tick { pos, time_ns } => {
                self.worker.tick(*time_ns, *pos, &mut self.events);
                *pos
            }
            Work::Finish { time_ns } => {
                self.worker.finish(*time_ns, &mut self.events);
                u64::MAX
            }
        };
        if !self.events.chunk.is_empty() {
            self.frames.chunk.append(&mut self.events.chunk);
        }
        mark
    }

    /// Hands over the output of the messages handled so far and starts `fresh`.
    pub fn take_output(&mut self, fresh: Chunk) -> Chunk {
        std::mem::replace(&mut self.frames.chunk, fresh)
    }
}
