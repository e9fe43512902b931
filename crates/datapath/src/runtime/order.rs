//! Putting the output of several workers back in arrival order.
//!
//! Everything a worker emits (a transmitted frame, an EVE event) carries an [`OrderKey`]: the
//! arrival position it belongs to, a phase, and a sequence number. Keys are a total order that
//! does not depend on the number of workers or on how packets were batched, so merging the
//! workers' output by key gives the same output for any worker count:
//!
//! * a packet's own output (its frames in action order, its reject answer, its drop and alert
//!   events) is at `(its number, PACKET, seq)`;
//! * what happens at a tick or a learning change just before a packet (connections that timed
//!   out) is at `(that packet's number, BEFORE, seq)`, `seq` being the connection's `flow_id`;
//! * what happens at the end of input is at `(u64::MAX, BEFORE, seq)`.
//!
//! A worker's output is in key order within each chunk it sends (the chunk is sorted when it is
//! closed) and chunks follow each other in order, because a worker handles its packets and
//! ticks in arrival order. [`Merger`] holds each worker's pending chunks and releases entries
//! below the lowest position every worker has passed (its watermark), smallest key first.
//!
//! Chunks are recycled; merging allocates nothing once the buffers have grown.

use std::collections::VecDeque;

use crate::port::PortId;

/// Phase of an output within its position: things that happen before the packet at that
/// position (timeouts), then the packet's own output.
pub const BEFORE: u8 = 0;
/// The packet's own output.
pub const PACKET: u8 = 1;

/// Where an output belongs in the arrival order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrderKey {
    /// Arrival position: the number of the packet it belongs to (or comes before).
    pub pos: u64,
    /// [`BEFORE`] or [`PACKET`].
    pub phase: u8,
    /// Order within the position and phase.
    pub seq: u64,
}

impl OrderKey {
    /// The key of output `seq` of packet `number`.
    pub fn packet(number: u64, seq: u64) -> OrderKey {
        OrderKey {
            pos: number,
            phase: PACKET,
            seq,
        }
    }

    /// The key of something that happens just before packet `pos` (or at the end of input,
    /// with `pos == u64::MAX`).
    pub fn before(pos: u64, seq: u64) -> OrderKey {
        OrderKey {
            pos,
            phase: BEFORE,
            seq,
        }
    }
}

/// One output: a frame leaving a port, or an EVE line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    /// A frame of `len` bytes at `start` of the chunk's bytes, leaving `port` at `time_ns`.
    Frame {
        port: PortId,
        time_ns: u64,
        start: u32,
        len: u32,
    },
    /// An EVE JSON line (newline included) of `len` bytes at `start`.
    Event { start: u32, len: u32 },
}

/// A run of outputs of one worker, with their bytes in one arena.
#[derive(Debug, Default)]
pub struct Chunk {
    entries: Vec<(OrderKey, Item)>,
    bytes: Vec<u8>,
    sorted: bool,
}

impl Chunk {
    /// An empty chunk.
    pub fn new() -> Chunk {
        Chunk::default()
    }

    /// True when there is nothing in it.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of outputs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Empties the chunk, keeping its buffers.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes.clear();
        self.sorted = true;
    }

    /// Adds a frame; `keep_bytes` false records only that it left (a counting run).
    pub fn push_frame(
        &mut self,
        key: OrderKey,
        port: PortId,
        time_ns: u64,
        frame: &[u8],
        keep_bytes: bool,
    ) {
        let start = self.bytes.len() as u32;
        let len = if keep_bytes {
            self.bytes.extend_from_slice(frame);
            frame.len() as u32
        } else {
            0
        };
        self.push(
            key,
            Item::Frame {
                port,
                time_ns,
                start,
                len,
            },
        );
    }

    /// Adds an EVE line written by `write` into the chunk's bytes (it appends the JSON and the
    /// newline). Nothing is added when `write` fails; its error is returned.
    pub fn push_event<E>(
        &mut self,
        key: OrderKey,
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        let start = self.bytes.len();
        match write(&mut self.bytes) {
            Ok(()) => {
                let len = (self.bytes.len() - start) as u32;
                self.push(
                    key,
                    Item::Event {
                        start: start as u32,
                        len,
                    },
                );
                Ok(())
            }
            Err(e) => {
                self.bytes.truncate(start);
                Err(e)
            }
        }
    }

    fn push(&mut self, key: OrderKey, item: Item) {
        if self.entries.last().is_some_and(|(k, _)| *k > key) {
            self.sorted = false;
        }
        self.entries.push((key, item));
    }

    /// Moves every entry of `other` to the end of this chunk (`other` is left empty).
    pub fn append(&mut self, other: &mut Chunk) {
        let base = self.bytes.len() as u32;
        self.bytes.extend_from_slice(&other.bytes);
        for (key, item) in other.entries.drain(..) {
            let item = match item {
                Item::Frame {
                    port,
                    time_ns,
                    start,
                    len,
                } => Item::Frame {
                    port,
                    time_ns,
                    start: start + base,
                    len,
                },
                Item::Event { start, len } => Item::Event {
                    start: start + base,
                    len,
                },
            };
            self.push(key, item);
        }
        other.clear();
    }

    /// Puts the entries in key order (stable: equal keys keep their order).
    pub fn sort(&mut self) {
        if !self.sorted {
            self.entries.sort_by_key(|(k, _)| *k);
            self.sorted = true;
        }
    }

    /// The bytes of an item.
    pub fn bytes_of(&self, item: &Item) -> &[u8] {
        let (start, len) = match *item {
            Item::Frame { start, len, .. } | Item::Event { start, len } => (start, len),
        };
        self.bytes
            .get(start as usize..(start + len) as usize)
            .unwrap_or(&[])
    }

    /// The entries, in the order they are (sorted after [`Chunk::sort`]).
    pub fn entries(&self) -> &[(OrderKey, Item)] {
        &self.entries
    }
}

/// Where merged output goes, in order.
pub trait OutputSink {
    /// A frame left `port` at `time_ns` (`frame` is empty in a counting run).
    fn frame(&mut self, key: OrderKey, port: PortId, time_ns: u64, frame: &[u8]);
    /// An EVE line (JSON and newline).
    fn event(&mut self, key: OrderKey, line: &[u8]);
}

/// Per-worker queues of sorted chunks, merged by key below the common watermark.
#[derive(Debug)]
pub struct Merger {
    queues: Vec<VecDeque<(Chunk, usize)>>,
    watermarks: Vec<u64>,
    spare: Vec<Chunk>,
    last: Option<OrderKey>,
    out_of_order: u64,
}

impl Merger {
    /// A merger of `sources` streams (workers, and the dispatcher's own events).
    pub fn new(sources: usize) -> Merger {
        Merger {
            queues: (0..sources).map(|_| VecDeque::new()).collect(),
            watermarks: vec![0; sources],
            spare: Vec::new(),
            last: None,
            out_of_order: 0,
        }
    }

    /// A chunk to fill (recycled when there is one).
    pub fn spare(&mut self) -> Chunk {
        let mut c = self.spare.pop().unwrap_or_default();
        c.clear();
        c
    }

    /// Takes a chunk from `source`, after which that source has passed every position below
    /// `watermark` (it will never send anything below it again).
    pub fn push(&mut self, source: usize, mut chunk: Chunk, watermark: u64) {
        if let Some(w) = self.watermarks.get_mut(source) {
            *w = (*w).max(watermark);
        }
        if chunk.is_empty() {
            self.spare.push(chunk);
            return;
        }
        chunk.sort();
        if let Some(q) = self.queues.get_mut(source) {
            q.push_back((chunk, 0));
        }
    }

    /// Raises a source's watermark without output.
    pub fn advance(&mut self, source: usize, watermark: u64) {
        if let Some(w) = self.watermarks.get_mut(source) {
            *w = (*w).max(watermark);
        }
    }

    /// Writes every pending entry below the common watermark, in key order.
    pub fn release(&mut self, sink: &mut dyn OutputSink) {
        let limit = self.watermarks.iter().copied().min().unwrap_or(0);
        self.drain(limit, sink);
    }

    /// Writes everything pending, in key order (every source has finished).
    pub fn finish(&mut self, sink: &mut dyn OutputSink) {
        self.drain(u64::MAX, sink);
        // Entries at the end-of-input position itself.
        self.drain_all(sink);
    }

    /// Entries written out of key order: a worker broke its promise (a bug if ever non-zero).
    pub fn out_of_order(&self) -> u64 {
        self.out_of_order
    }

    fn drain(&mut self, limit: u64, sink: &mut dyn OutputSink) {
        loop {
            let Some(s) = self.smallest(limit) else {
                return;
            };
            self.emit_head(s, sink);
        }
    }

    fn drain_all(&mut self, sink: &mut dyn OutputSink) {
        loop {
            let Some(s) = self.smallest_any() else {
                return;
            };
            self.emit_head(s, sink);
        }
    }

    /// The source whose head entry has the smallest key, if that key is below `limit`.
    fn smallest(&self, limit: u64) -> Option<usize> {
        self.smallest_any()
            .filter(|&s| self.head(s).is_some_and(|k| k.pos < limit))
    }

    fn smallest_any(&self) -> Option<usize> {
        let mut best: Option<(OrderKey, usize)> = None;
        for s in 0..self.queues.len() {
            if let Some(k) = self.head(s)
                && best.is_none_or(|(b, _)| k < b)
            {
                best = Some((k, s));
            }
        }
        best.map(|(_, s)| s)
    }

    fn head(&self, s: usize) -> Option<OrderKey> {
        let (chunk, at) = self.queues.get(s)?.front()?;
        chunk.entries().get(*at).map(|(k, _)| *k)
    }

    fn emit_head(&mut self, s: usize, sink: &mut dyn OutputSink) {
        let Some(q) = self.queues.get_mut(s) else {
            return;
        };
        let Some((chunk, at)) = q.front_mut() else {
            return;
        };
        if let Some(&(key, item)) = chunk.entries().get(*at) {
            if self.last.is_some_and(|l| key < l) {
                self.out_of_order += 1;
            }
            self.last = Some(key);
            let bytes = chunk.bytes_of(&item);
            match item {
                Item::Frame { port, time_ns, .. } => sink.frame(key, port, time_ns, bytes),
                Item::Event { .. } => sink.event(key, bytes),
            }
            *at += 1;
        }
        if *at >= chunk.len()
            && let Some((done, _)) = q.pop_front()
        {
            self.spare.push(done);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Vec<(OrderKey, String)>);
    impl OutputSink for Collect {
        fn frame(&mut self, key: OrderKey, port: PortId, _: u64, frame: &[u8]) {
            self.0
                .push((key, format!("p{port}:{}", String::from_utf8_lossy(frame))));
        }
        fn event(&mut self, key: OrderKey, line: &[u8]) {
            self.0
                .push((key, String::from_utf8_lossy(line).into_owned()));
        }
    }

    fn chunk(m: &mut Merger, items: &[(u64, u8, u64, &str)]) -> Chunk {
        let mut c = m.spare();
        for &(pos, phase, seq, text) in items {
            let key = OrderKey { pos, phase, seq };
            c.push_frame(key, 1, 0, text.as_bytes(), true);
        }
        c
    }

    #[test]
    fn merges_by_key_below_the_common_watermark() {
        let mut m = Merger::new(2);
        let mut out = Collect::default();
        // Worker 0 sends packets 1 and 4 (out of order within its chunk), worker 1 packet 2.
        let c = chunk(&mut m, &[(4, PACKET, 0, "d"), (1, PACKET, 0, "a")]);
        m.push(0, c, 5);
        m.release(&mut out);
        assert!(out.0.is_empty(), "worker 1 has not passed position 1 yet");
        let c = chunk(&mut m, &[(2, PACKET, 1, "c"), (2, PACKET, 0, "b")]);
        m.push(1, c, 3);
        m.release(&mut out);
        let texts: Vec<_> = out.0.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(texts, ["p1:a", "p1:b", "p1:c"], "below 3 only");
        // Timeouts before packet 4 come before it.
        let c = chunk(&mut m, &[(4, BEFORE, 77, "t")]);
        m.push(1, c, 10);
        m.release(&mut out);
        let texts: Vec<_> = out.0.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(texts, ["p1:a", "p1:b", "p1:c", "p1:t", "p1:d"]);
        assert_eq!(m.out_of_order(), 0);
    }

    #[test]
    fn finish_writes_the_end_of_input_too() {
        let mut m = Merger::new(2);
        let mut out = Collect::default();
        let c = chunk(&mut m, &[(u64::MAX, BEFORE, 2, "y")]);
        m.push(0, c, u64::MAX);
        let c = chunk(&mut m, &[(7, PACKET, 0, "x"), (u64::MAX, BEFORE, 1, "z")]);
        m.push(1, c, u64::MAX);
        m.finish(&mut out);
        let texts: Vec<_> = out.0.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(texts, ["p1:x", "p1:z", "p1:y"]);
    }

    #[test]
    fn a_failed_event_leaves_nothing_behind() {
        let mut c = Chunk::new();
        let r: Result<(), ()> = c.push_event(OrderKey::packet(1, 0), |b| {
            b.extend_from_slice(b"{\"half");
            Err(())
        });
        assert!(r.is_err());
        assert!(c.is_empty() && c.bytes_of(&Item::Event { start: 0, len: 3 }).is_empty());
    }
}
