//! TCP reassembly of one connection, both directions, driven by plain segment values.
//!
//! The tracker learns each direction's initial sequence number from the handshake (or, when
//! midstream pick-up is on, from the first segment and its acknowledgement), stores payload by
//! stream offset with the destination host's overlap policy, and hands the bytes on twice:
//!
//! - to the **application layer**, in order, through [`TcpStreamTracker::next_app_chunk`]:
//!   data, [`AppChunk::Gap`] where bytes were lost, and one [`AppChunk::End`]. In IDS mode a
//!   byte is handed on once the other side has acknowledged it (so a segment the receiver
//!   never accepted is never parsed); in inline mode as soon as it is in order. Suricata does
//!   the same (`stream.inline`).
//! - to **raw-stream inspection** (rules on the reassembled stream rather than on an app-layer
//!   buffer), through [`TcpStreamTracker::next_raw_chunk`], with Suricata's IDS-mode rhythm:
//!   acknowledged data is inspected once at least a chunk (2,560 bytes by default) has
//!   accumulated, when the app layer asks for it ([`TcpStreamTracker::trigger_raw`], as after a
//!   complete HTTP request), or when the stream ends. In inline mode
//!   [`TcpStreamTracker::raw_window`] gives the last chunk of in-order data ending at the
//!   current packet.
//!
//! Bytes handed to either consumer are final: a later segment overlapping them does not change
//! them (it is counted, and compared). In inline mode every overlap keeps the first copy, as
//! Suricata's inline normalisation does.
//!
//! Must never: allocate per packet beyond growing a stream's region for data that must be held
//! (recycled through [`ReassemblyPool`]); trust a sequence number (every offset is checked
//! against a 1 GiB window and the memory caps); lose data silently (every byte not handed on is
//! a gap or a counter); panic.

use super::buffer::StreamBuffer;
use super::policy::{Extent, OverlapPolicy};
use super::pool::ReassemblyPool;

/// Which way a segment travels, in Suricata's terms: to the server is from the side that
/// opened the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the client (the connection's initiator) to the server.
    ToServer,
    /// From the server to the client.
    ToClient,
}

impl Direction {
    /// `0` to the server, `1` to the client: an index for per-direction arrays.
    pub const fn index(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }

    /// The other direction.
    pub const fn opposite(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }

    /// Both directions, to the server first.
    pub const BOTH: [Direction; 2] = [Direction::ToServer, Direction::ToClient];
}

/// TCP header flags, as the low byte of the header's flags field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// No more data from the sender.
    pub const FIN: TcpFlags = TcpFlags(0x01);
    /// Synchronise sequence numbers.
    pub const SYN: TcpFlags = TcpFlags(0x02);
    /// Reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x04);
    /// Push.
    pub const PSH: TcpFlags = TcpFlags(0x08);
    /// The acknowledgement number is valid.
    pub const ACK: TcpFlags = TcpFlags(0x10);
    /// Urgent pointer valid.
    pub const URG: TcpFlags = TcpFlags(0x20);

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

/// One TCP segment as the tracker needs it. The connection table decides the direction.
#[derive(Clone, Copy, Debug)]
pub struct Segment<'a> {
    /// Which way it travels.
    pub direction: Direction,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number (meaningful with [`TcpFlags::ACK`]).
    pub ack: u32,
    /// Header flags.
    pub flags: TcpFlags,
    /// Advertised window, unscaled. Window validation is the connection tracker's job; the
    /// reassembler records it only.
    pub window: u16,
    /// The TCP payload.
    pub payload: &'a [u8],
    /// Capture or arrival time, nanoseconds since the Unix epoch.
    pub time_ns: u64,
}

/// When data is handed to the application layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReassemblyMode {
    /// Once the other side has acknowledged it (Suricata's default, `stream.inline: no`).
    #[default]
    Ids,
    /// As soon as it arrives in order; overlaps keep the first copy (`stream.inline: yes`).
    Inline,
}

/// Reassembly settings, Suricata's `stream` section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamConfig {
    /// IDS or inline delivery.
    pub mode: ReassemblyMode,
    /// Track sessions whose handshake was not seen (`stream.midstream`, off by default).
    pub midstream: bool,
    /// Bytes per direction reassembled at most (`stream.reassembly.depth`, 1 MiB); 0 is no
    /// limit.
    pub depth: u64,
    /// Bytes one connection may hold, both directions together.
    pub connection_memcap: u64,
    /// Raw inspection happens once this much new acknowledged data has accumulated, to the
    /// server (`stream.reassembly.toserver-chunk-size`).
    pub to_server_chunk: u32,
    /// The same, to the client.
    pub to_client_chunk: u32,
    /// When the app layer triggers raw inspection, the chunk starts this far before the app
    /// layer's progress, so a pattern across the previous boundary is still seen.
    pub min_inspect_depth: u32,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            mode: ReassemblyMode::Ids,
            midstream: false,
            depth: 1 << 20,
            connection_memcap: 4 << 20,
            to_server_chunk: 2560,
            to_client_chunk: 2560,
            min_inspect_depth: 0,
        }
    }
}

/// Why a direction's stream ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamEnd {
    /// A FIN, after all data before it.
    Fin,
    /// An RST: what was received is handed on, holes as gaps.
    Reset,
    /// The reassembly depth was reached; later data is not reassembled.
    Depth,
    /// The caller finished the connection ([`TcpStreamTracker::finish`]): end of input, timeout
    /// or eviction.
    Finish,
}

/// One step of a direction's in-order stream for the application layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppChunk<'a> {
    /// Bytes at stream offset `offset` (0 is the first byte after the SYN).
    Data {
        /// Stream offset of `data[0]`.
        offset: u64,
        /// The bytes.
        data: &'a [u8],
    },
    /// `len` bytes at `offset` were lost: the receiver acknowledged them (or the stream ended)
    /// but they never reached the tracker or were not stored.
    Gap {
        /// Stream offset of the hole.
        offset: u64,
        /// Its length.
        len: u64,
    },
    /// The stream ended; nothing follows.
    End(StreamEnd),
}

/// Reassembled bytes for raw-stream inspection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawChunk<'a> {
    /// Stream offset of `data[0]`.
    pub offset: u64,
    /// The bytes, contiguous.
    pub data: &'a [u8],
}

/// What became of a segment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Disposition {
    /// No payload (pure ACK, SYN, FIN, RST): only the state was updated.
    #[default]
    NoPayload,
    /// Payload stored.
    Stored,
    /// Payload entirely in data already handed on.
    Retransmission,
    /// The session is not tracked (midstream pick-up off and no SYN seen).
    Untracked,
    /// The sequence number is more than 1 GiB from the stream's position.
    OutOfWindow,
    /// Not stored: the connection's memory cap.
    MemcapConnection,
    /// Not stored: the worker's total memory cap.
    MemcapTotal,
    /// Entirely beyond the reassembly depth.
    BeyondDepth,
    /// This direction is no longer reassembled (both consumers off, or the stream ended).
    NotReassembled,
}

/// The result of [`TcpStreamTracker::handle_segment`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SegmentOutcome {
    /// What happened to the payload.
    pub disposition: Disposition,
    /// Stream offsets the payload covers (after a SYN's sequence number), when known.
    pub extent: Option<Extent>,
    /// The payload overlapped stored segments.
    pub overlap: bool,
    /// ... with different bytes somewhere.
    pub overlap_different: bool,
}

/// Per-direction figures of one connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Bytes handed to the application layer.
    pub app_bytes: u64,
    /// Gaps handed to the application layer.
    pub gaps: u64,
    /// Bytes in those gaps.
    pub gap_bytes: u64,
}

/// Sequence numbers further than this from a stream's position are refused.
const WINDOW_LIMIT: i64 = 1 << 30;

#[derive(Debug)]
struct HalfStream {
    policy: OverlapPolicy,
    started: bool,
    /// Sequence number of stream offset 0.
    origin: u32,
    /// An offset near the stream's activity, the reference for unwrapping sequence numbers.
    anchor: u64,
    buf: Option<StreamBuffer>,
    app_progress: u64,
    raw_progress: u64,
    /// Offsets below this are acknowledged by the other side.
    acked: u64,
    /// The last acknowledgement number the other side sent: where this side's next byte is,
    /// used to start this side when its SYN was not seen.
    peer_ack: Option<u32>,
    fin: Option<u64>,
    app_enabled: bool,
    raw_enabled: bool,
    app_done: bool,
    raw_trigger: bool,
    depth_counted: bool,
    stats: StreamStats,
}

impl HalfStream {
    fn new(policy: OverlapPolicy) -> Self {
        HalfStream {
            policy,
            started: false,
            origin: 0,
            anchor: 0,
            buf: None,
            app_progress: 0,
            raw_progress: 0,
            acked: 0,
            peer_ack: None,
            fin: None,
            app_enabled: true,
            raw_enabled: true,
            app_done: false,
            raw_trigger: false,
            depth_counted: false,
            stats: StreamStats::default(),
        }
    }

    /// Starts the stream so that `origin` is the sequence number of offset 0, dropping any
    /// state of an earlier start (a SYN retransmitted with a new ISN before any data).
    fn start(&mut self, origin: u32, pool: &mut ReassemblyPool) {
        if let Some(buf) = self.buf.take() {
            pool.account(buf.held(), 0);
            pool.give_back(buf);
        }
        let policy = self.policy;
        let (app_enabled, raw_enabled) = (self.app_enabled, self.raw_enabled);
        *self = HalfStream::new(policy);
        self.app_enabled = app_enabled;
        self.raw_enabled = raw_enabled;
        self.started = true;
        self.origin = origin;
    }

    /// Whether anything of this stream has been stored or handed on.
    fn has_data(&self) -> bool {
        self.buf.as_ref().is_some_and(|b| b.high() > 0) || self.app_progress > 0
    }

    /// Whether a SYN may (re)start this stream: it has not started, or it started but nothing
    /// of it was stored, handed on or ended (a SYN retransmitted with a new ISN).
    fn may_restart(&self) -> bool {
        !self.started
            || (!self.has_data() && self.fin.is_none() && !self.app_done && self.raw_progress == 0)
    }

    /// The stream offset of `seq` (negative before the stream's first byte), if within the
    /// window around the stream's position.
    fn offset_of(&self, seq: u32) -> Option<i64> {
        let at_anchor = self.origin.wrapping_add(self.anchor as u32);
        let diff = i64::from(seq.wrapping_sub(at_anchor) as i32);
        (diff.abs() < WINDOW_LIMIT).then_some(self.anchor as i64 + diff)
    }

    /// Offsets below this are final: handed to a consumer.
    fn floor(&self) -> u64 {
        self.app_progress.max(self.raw_progress)
    }

    fn high(&self) -> u64 {
        self.buf.as_ref().map_or(0, StreamBuffer::high)
    }

    /// Acknowledged data: the acknowledgement, not counting the FIN's sequence number.
    fn acked_data(&self) -> u64 {
        self.fin.map_or(self.acked, |fin| self.acked.min(fin))
    }

    fn contiguous_end(&self, from: u64) -> u64 {
        self.buf.as_ref().map_or(from, |b| b.contiguous_end(from))
    }

    fn reassembling(&self) -> bool {
        (self.app_enabled && !self.app_done) || self.raw_enabled
    }
}

/// Reassembly state of one TCP connection. Hang it on the connection's entry; feed it every
/// segment of both directions with [`TcpStreamTracker::handle_segment`]; after each segment,
/// drain [`TcpStreamTracker::next_app_chunk`] (and raw chunks, if raw rules are loaded) for
/// both directions; call [`TcpStreamTracker::finish`] when the connection ends and drain
/// again; then [`TcpStreamTracker::release`] its memory.
///
/// ```
/// use ids::stream::{
///     AppChunk, Direction, ReassemblyPool, Segment, StreamConfig, StreamEnd, TcpFlags,
///     TcpStreamTracker,
/// };
/// use ids::stream::OverlapPolicy;
///
/// let mut pool = ReassemblyPool::default();
/// let mut conn = TcpStreamTracker::new(&StreamConfig::default(), OverlapPolicy::Bsd, OverlapPolicy::Bsd);
/// let seg = |direction, seq, ack, flags, payload| Segment {
///     direction, seq, ack, flags, window: 64240, payload, time_ns: 0,
/// };
/// use Direction::{ToClient, ToServer};
/// let (syn, ack, psh) = (TcpFlags::SYN, TcpFlags::ACK, TcpFlags::PSH | TcpFlags::ACK);
/// conn.handle_segment(&seg(ToServer, 100, 0, syn, b""), &mut pool);
/// conn.handle_segment(&seg(ToClient, 900, 101, syn | ack, b""), &mut pool);
/// conn.handle_segment(&seg(ToServer, 101, 901, psh, b"GET / HTTP/1.0\r\n\r\n"), &mut pool);
/// // IDS mode: nothing is handed on before the server acknowledges it.
/// assert_eq!(conn.next_app_chunk(Direction::ToServer), None);
/// conn.handle_segment(&seg(ToClient, 901, 119, ack, b""), &mut pool);
/// assert_eq!(
///     conn.next_app_chunk(Direction::ToServer),
///     Some(AppChunk::Data { offset: 0, data: b"GET / HTTP/1.0\r\n\r\n" })
/// );
/// conn.finish();
/// assert_eq!(conn.next_app_chunk(Direction::ToServer), Some(AppChunk::End(StreamEnd::Finish)));
/// conn.release(&mut pool);
/// assert_eq!(pool.in_use(), 0);
/// ```
#[derive(Debug)]
pub struct TcpStreamTracker {
    config: StreamConfig,
    halves: [HalfStream; 2],
    /// A client SYN opened the session.
    opened_with_syn: bool,
    midstream: bool,
    /// Set by an RST or [`Self::finish`]: hand on everything received, then end.
    flush: Option<StreamEnd>,
    last_time_ns: u64,
    last_window: [u16; 2],
    /// Gaps handed on since the worker's counters last heard of them.
    unreported_gaps: (u64, u64),
}

impl TcpStreamTracker {
    /// A tracker for a new connection. `to_server_policy` is the overlap policy of the server
    /// (it receives the to-server stream), `to_client_policy` that of the client; look them up
    /// once per connection in a [`super::HostOsPolicy`].
    pub fn new(
        config: &StreamConfig,
        to_server_policy: OverlapPolicy,
        to_client_policy: OverlapPolicy,
    ) -> Self {
        let effective = |policy| match config.mode {
            ReassemblyMode::Ids => policy,
            ReassemblyMode::Inline => OverlapPolicy::First,
        };
        TcpStreamTracker {
            config: *config,
            halves: [
                HalfStream::new(effective(to_server_policy)),
                HalfStream::new(effective(to_client_policy)),
            ],
            opened_with_syn: false,
            midstream: false,
            flush: None,
            last_time_ns: 0,
            last_window: [0; 2],
            unreported_gaps: (0, 0),
        }
    }

    /// Takes one segment: updates the handshake and acknowledgement state and stores the
    /// payload. Then drain both directions' chunks.
    pub fn handle_segment(
        &mut self,
        seg: &Segment<'_>,
        pool: &mut ReassemblyPool,
    ) -> SegmentOutcome {
        pool.counters.segments += 1;
        self.report_gaps(pool);
        self.last_time_ns = self.last_time_ns.max(seg.time_ns);
        let d = seg.direction.index();
        let p = seg.direction.opposite().index();
        self.last_window[d] = seg.window;
        for half in &mut self.halves {
            Self::prune(half, &self.config, pool);
        }

        if !self.start_if_needed(seg, pool) {
            pool.counters.untracked += 1;
            return SegmentOutcome {
                disposition: Disposition::Untracked,
                ..SegmentOutcome::default()
            };
        }

        // The segment's acknowledgement covers the other direction's data.
        if seg.flags.contains(TcpFlags::ACK) {
            let peer = &mut self.halves[p];
            peer.peer_ack = Some(seg.ack);
            if peer.started
                && let Some(acked) = peer.offset_of(seg.ack).filter(|&a| a > 0)
            {
                peer.acked = peer.acked.max(acked as u64);
                peer.anchor = peer.anchor.max(acked as u64);
            }
        }

        if seg.flags.contains(TcpFlags::RST) {
            if self.flush.is_none() {
                self.flush = Some(StreamEnd::Reset);
                pool.counters.resets += 1;
            }
            return SegmentOutcome::default();
        }

        let half = &self.halves[d];
        let Some(seq_offset) = half.offset_of(seg.seq) else {
            pool.counters.out_of_window += 1;
            return SegmentOutcome {
                disposition: Disposition::OutOfWindow,
                ..SegmentOutcome::default()
            };
        };
        // A SYN takes one sequence number: its data starts after it.
        let start = seq_offset + i64::from(seg.flags.contains(TcpFlags::SYN));
        let end = start + seg.payload.len() as i64;
        if seg.flags.contains(TcpFlags::FIN) && self.halves[d].fin.is_none() {
            self.halves[d].fin = Some(end.max(0) as u64);
        }
        let extent = Extent::new(start.max(0) as u64, end.max(0) as u64);
        if seg.payload.is_empty() {
            return SegmentOutcome {
                disposition: Disposition::NoPayload,
                extent: Some(extent),
                ..SegmentOutcome::default()
            };
        }
        if end <= 0 {
            // Entirely before the stream's first byte: a retransmission from before pick-up.
            pool.counters.retransmissions += 1;
            return SegmentOutcome {
                disposition: Disposition::Retransmission,
                extent: Some(extent),
                ..SegmentOutcome::default()
            };
        }
        let payload = &seg.payload[(-start).max(0) as usize..];
        let mut outcome = self.store(d, extent.start, payload, pool);
        outcome.extent = Some(extent);
        outcome
    }

    /// Starts the directions the segment tells about; false if the session is not tracked.
    fn start_if_needed(&mut self, seg: &Segment<'_>, pool: &mut ReassemblyPool) -> bool {
        let d = seg.direction.index();
        let p = seg.direction.opposite().index();
        let flags = seg.flags;
        if self.flush.is_some() {
            // Reset or finished: a SYN now belongs to a new connection, not to this one.
            return self.halves[d].started;
        }
        if flags.contains(TcpFlags::SYN) {
            if !flags.contains(TcpFlags::ACK) {
                // The client's SYN (again, perhaps with a new ISN while no data was sent).
                if self.halves[d].may_restart() {
                    self.halves[d].start(seg.seq.wrapping_add(1), pool);
                    self.opened_with_syn = true;
                }
                return true;
            }
            // SYN/ACK: the server's ISN, and the client's next sequence number.
            if !self.halves[p].started {
                if !self.config.midstream {
                    return false;
                }
                self.halves[p].start(seg.ack, pool);
                self.midstream = true;
                pool.counters.midstream_pickups += 1;
            }
            if self.halves[d].may_restart() {
                self.halves[d].start(seg.seq.wrapping_add(1), pool);
            }
            return true;
        }
        if self.halves[d].started {
            return true;
        }
        if self.halves[p].started && (self.opened_with_syn || self.midstream) {
            // The other side is known, this one's SYN/ACK was missed: start where the other
            // side acknowledged, or at this segment.
            let origin = self.halves[d].peer_ack.unwrap_or(seg.seq);
            self.halves[d].start(origin, pool);
            return true;
        }
        if !self.config.midstream {
            return false;
        }
        self.midstream = true;
        pool.counters.midstream_pickups += 1;
        self.halves[d].start(seg.seq, pool);
        if flags.contains(TcpFlags::ACK) && !self.halves[p].started {
            self.halves[p].start(seg.ack, pool);
        }
        true
    }

    /// Stores payload `data` at stream offset `start` of direction `d`.
    fn store(
        &mut self,
        d: usize,
        start: u64,
        data: &[u8],
        pool: &mut ReassemblyPool,
    ) -> SegmentOutcome {
        let depth = self.config.depth;
        let conn_held: u64 = self
            .halves
            .iter()
            .map(|h| h.buf.as_ref().map_or(0, StreamBuffer::held))
            .sum();
        let half = &mut self.halves[d];
        let refuse = |disposition| SegmentOutcome {
            disposition,
            ..SegmentOutcome::default()
        };
        if !half.reassembling() || half.app_done && !half.raw_enabled {
            return refuse(Disposition::NotReassembled);
        }
        let mut end = start + data.len() as u64;
        if let Some(fin) = half.fin {
            // Nothing after the FIN's sequence number is data.
            end = end.min(fin.max(start));
        }
        if depth > 0 && end > depth {
            if !half.depth_counted {
                half.depth_counted = true;
                pool.counters.depth_reached += 1;
            }
            end = end.min(depth);
            if end <= start {
                return refuse(Disposition::BeyondDepth);
            }
        }
        let floor = half.floor();
        if end <= floor {
            pool.counters.retransmissions += 1;
            if let Some(buf) = &half.buf
                && !buf.matches_held(start, &data[..(end - start) as usize])
            {
                pool.counters.retransmissions_different += 1;
            }
            return refuse(Disposition::Retransmission);
        }
        let buf = half.buf.get_or_insert_with(|| {
            let mut buf = pool.take();
            buf.start_at(floor);
            buf
        });
        let growth = buf.growth_for(end);
        if conn_held + growth > self.config.connection_memcap {
            pool.counters.memcap_connection += 1;
            return refuse(Disposition::MemcapConnection);
        }
        if !pool.fits(growth) {
            pool.counters.memcap_total += 1;
            return refuse(Disposition::MemcapTotal);
        }
        let expected = buf.contiguous_end(floor);
        let before = buf.held();
        let written = buf.write(
            Extent::new(start, end),
            &data[..(end - start) as usize],
            floor,
            half.policy,
        );
        pool.account(before, buf.held());
        half.anchor = half.anchor.max(end);
        if written.overlap {
            pool.counters.overlaps += 1;
        }
        if written.different {
            pool.counters.overlaps_different += 1;
        }
        if start.max(floor) > expected {
            pool.counters.out_of_order += 1;
        } else if !written.overlap {
            pool.counters.in_order += 1;
        }
        SegmentOutcome {
            disposition: Disposition::Stored,
            extent: None,
            overlap: written.overlap,
            overlap_different: written.different,
        }
    }

    /// Lets go of what no consumer needs any more.
    fn prune(half: &mut HalfStream, config: &StreamConfig, pool: &mut ReassemblyPool) {
        let floor = half.floor();
        let Some(buf) = half.buf.as_mut() else {
            return;
        };
        let before = buf.held();
        let app_wants = half.app_enabled && !half.app_done;
        if !app_wants && !half.raw_enabled {
            let buf = half.buf.take().expect("checked above");
            pool.account(before, 0);
            pool.give_back(buf);
            return;
        }
        let mut keep_from = u64::MAX;
        if app_wants {
            keep_from = half.app_progress;
        }
        if half.raw_enabled {
            // Raw inspection may look back: after a trigger, `min_inspect_depth` before the app
            // layer's progress (IDS); a chunk before the in-order end (inline).
            let look_back_to = match config.mode {
                ReassemblyMode::Ids if app_wants => half
                    .app_progress
                    .saturating_sub(u64::from(config.min_inspect_depth)),
                ReassemblyMode::Ids => half.raw_progress,
                ReassemblyMode::Inline => floor.saturating_sub(u64::from(
                    config.to_server_chunk.max(config.to_client_chunk),
                )),
            };
            keep_from = keep_from.min(half.raw_progress).min(look_back_to);
        }
        buf.forget_segments_below(floor);
        buf.release_before(keep_from);
        pool.account(before, buf.held());
    }

    fn report_gaps(&mut self, pool: &mut ReassemblyPool) {
        let (gaps, bytes) = std::mem::take(&mut self.unreported_gaps);
        pool.counters.gaps += gaps;
        pool.counters.gap_bytes += bytes;
    }

    /// How far the application layer of direction `d` may read now.
    fn app_limit(&self, d: usize) -> u64 {
        let half = &self.halves[d];
        let mut limit = if self.flush.is_some() {
            half.high().max(half.acked_data())
        } else {
            match self.config.mode {
                ReassemblyMode::Ids => half.acked_data(),
                ReassemblyMode::Inline => half
                    .contiguous_end(half.app_progress)
                    .max(half.acked_data()),
            }
        };
        if let Some(fin) = half.fin {
            limit = limit.min(fin);
        }
        if self.config.depth > 0 {
            limit = limit.min(self.config.depth);
        }
        limit
    }

    /// Why direction `d`, whose consumer is at `progress`, has ended, if it has.
    fn end_reason(&self, d: usize, progress: u64) -> Option<StreamEnd> {
        let half = &self.halves[d];
        if let Some(fin) = half.fin {
            let fin_final = self.flush.is_some()
                || self.config.mode == ReassemblyMode::Inline
                || half.acked > fin;
            if progress >= fin && fin_final {
                return Some(StreamEnd::Fin);
            }
        }
        if self.config.depth > 0 && progress >= self.config.depth {
            return Some(StreamEnd::Depth);
        }
        self.flush
    }

    /// The next piece of direction `direction`'s stream for the application layer, in order;
    /// `None` when nothing more is available now. After [`AppChunk::End`], always `None`.
    pub fn next_app_chunk(&mut self, direction: Direction) -> Option<AppChunk<'_>> {
        let d = direction.index();
        let limit = self.app_limit(d);
        let half = &self.halves[d];
        if !half.app_enabled || half.app_done {
            return None;
        }
        if !half.started {
            // A direction that never started still ends when the connection does.
            let reason = self.flush?;
            self.halves[d].app_done = true;
            return Some(AppChunk::End(reason));
        }
        let progress = half.app_progress;
        if progress < limit {
            let present_end = half.contiguous_end(progress);
            if present_end > progress {
                let end = present_end.min(limit);
                let half = &mut self.halves[d];
                half.app_progress = end;
                half.stats.app_bytes += end - progress;
                let data = half
                    .buf
                    .as_ref()
                    .map_or(&[][..], |b| b.slice(progress, end));
                return Some(AppChunk::Data {
                    offset: progress,
                    data,
                });
            }
            let next = half
                .buf
                .as_ref()
                .and_then(|b| b.next_present(progress))
                .unwrap_or(limit);
            let end = next.min(limit);
            let half = &mut self.halves[d];
            half.app_progress = end;
            half.stats.gaps += 1;
            half.stats.gap_bytes += end - progress;
            self.unreported_gaps.0 += 1;
            self.unreported_gaps.1 += end - progress;
            return Some(AppChunk::Gap {
                offset: progress,
                len: end - progress,
            });
        }
        let reason = self.end_reason(d, progress)?;
        self.halves[d].app_done = true;
        Some(AppChunk::End(reason))
    }

    /// How far raw inspection of direction `d` may read now, and whether it should.
    fn raw_limit(&self, d: usize) -> (u64, bool) {
        let half = &self.halves[d];
        let chunk = u64::from(match d {
            0 => self.config.to_server_chunk,
            _ => self.config.to_client_chunk,
        });
        let mut right = if self.flush.is_some() {
            half.high()
        } else {
            match self.config.mode {
                ReassemblyMode::Ids => half.acked_data(),
                ReassemblyMode::Inline => half.contiguous_end(half.raw_progress),
            }
        };
        if self.config.depth > 0 {
            right = right.min(self.config.depth);
        }
        let ended = self.flush.is_some()
            || half.fin.is_some_and(|fin| right >= fin)
            || (self.config.depth > 0 && right >= self.config.depth);
        let due = self.config.mode == ReassemblyMode::Inline
            || ended
            || half.raw_trigger
            || right.saturating_sub(half.raw_progress) >= chunk;
        (right, due)
    }

    /// The next reassembled bytes of direction `direction` that raw-stream rules should
    /// inspect, if inspection is due (see the module documentation); each byte is returned
    /// once, except for the `min_inspect_depth` look-back after [`Self::trigger_raw`]. Call
    /// until `None`: a hole splits the data into several chunks.
    pub fn next_raw_chunk(&mut self, direction: Direction) -> Option<RawChunk<'_>> {
        let d = direction.index();
        let (right, due) = self.raw_limit(d);
        let lookback = u64::from(self.config.min_inspect_depth);
        let half = &mut self.halves[d];
        if !half.started || !half.raw_enabled || !due || half.raw_progress >= right {
            return None;
        }
        let buf = half.buf.as_ref()?;
        let mut start = half.raw_progress;
        if half.raw_trigger && lookback > 0 {
            start = start
                .min(half.app_progress.saturating_sub(lookback))
                .max(buf.base());
        }
        half.raw_trigger = false;
        if buf.contiguous_end(start) == start {
            match buf.next_present(start).filter(|&next| next < right) {
                Some(next) => start = next,
                None => {
                    half.raw_progress = right;
                    return None;
                }
            }
        }
        let end = buf.contiguous_end(start).min(right);
        half.raw_progress = half.raw_progress.max(end);
        Some(RawChunk {
            offset: start,
            data: buf.slice(start, end),
        })
    }

    /// Inline mode: the last `max_len` bytes of direction `direction`'s in-order stream,
    /// ending where the data received in order ends (the current packet, when it arrived in
    /// order). What Suricata's inline raw inspection sees around a packet.
    pub fn raw_window(&self, direction: Direction, max_len: usize) -> RawChunk<'_> {
        let half = &self.halves[direction.index()];
        let Some(buf) = half.buf.as_ref() else {
            return RawChunk {
                offset: half.app_progress,
                data: &[],
            };
        };
        let end = buf.contiguous_end(half.floor().max(buf.base()));
        // Within the run of present bytes that ends at `end`.
        let start = end
            .saturating_sub(max_len as u64)
            .max(buf.run_start(end.saturating_sub(1)))
            .min(end);
        RawChunk {
            offset: start,
            data: buf.slice(start, end),
        }
    }

    /// Asks for raw inspection of `direction` now, whatever the chunk size (Suricata's
    /// `AppLayerTriggerRawStreamReassembly`, used when a request or response completes).
    pub fn trigger_raw(&mut self, direction: Direction) {
        self.halves[direction.index()].raw_trigger = true;
    }

    /// Turns application-layer delivery of `direction` on or off (off when no parser wants
    /// it, such as after protocol detection failed, so its bytes are not held).
    pub fn set_app_enabled(&mut self, direction: Direction, enabled: bool) {
        self.halves[direction.index()].app_enabled = enabled;
    }

    /// Turns raw-stream inspection of `direction` on or off (off when no loaded rule inspects
    /// the raw stream).
    pub fn set_raw_enabled(&mut self, direction: Direction, enabled: bool) {
        self.halves[direction.index()].raw_enabled = enabled;
    }

    /// Ends the connection: every byte received is handed on (holes as gaps), then
    /// [`StreamEnd::Finish`] (or the FIN or RST that came first).
    pub fn finish(&mut self) {
        if self.flush.is_none() {
            self.flush = Some(StreamEnd::Finish);
        }
    }

    /// Gives the connection's memory back to the worker's pool, with the gaps not yet counted.
    pub fn release(mut self, pool: &mut ReassemblyPool) {
        self.report_gaps(pool);
        for half in &mut self.halves {
            if let Some(buf) = half.buf.take() {
                pool.account(buf.held(), 0);
                pool.give_back(buf);
            }
        }
    }

    /// Whether nothing more will come out of this tracker: in both directions the app layer has
    /// had its [`AppChunk::End`] (or is off) and raw inspection is off or has read everything
    /// up to the end. The connection can then be released.
    pub fn is_finished(&self) -> bool {
        self.halves.iter().enumerate().all(|(d, half)| {
            let app_done = half.app_done || !half.app_enabled;
            let raw_done = !half.raw_enabled
                || (self.end_reason(d, half.raw_progress).is_some()
                    && half.raw_progress >= half.high());
            app_done && raw_done
        })
    }

    /// The overlap policy applied to `direction`'s stream.
    pub fn policy(&self, direction: Direction) -> OverlapPolicy {
        self.halves[direction.index()].policy
    }

    /// Whether the session was picked up without its handshake.
    pub fn is_midstream(&self) -> bool {
        self.midstream
    }

    /// Whether `direction` has started (its first sequence number is known).
    pub fn is_started(&self, direction: Direction) -> bool {
        self.halves[direction.index()].started
    }

    /// Offset up to which the application layer of `direction` has been given the stream.
    pub fn app_progress(&self, direction: Direction) -> u64 {
        self.halves[direction.index()].app_progress
    }

    /// Offset up to which raw inspection of `direction` has been given the stream.
    pub fn raw_progress(&self, direction: Direction) -> u64 {
        self.halves[direction.index()].raw_progress
    }

    /// Figures of `direction`.
    pub fn stats(&self, direction: Direction) -> StreamStats {
        self.halves[direction.index()].stats
    }

    /// Bytes this connection holds now.
    pub fn held(&self) -> u64 {
        self.halves
            .iter()
            .map(|h| h.buf.as_ref().map_or(0, StreamBuffer::held))
            .sum()
    }

    /// The latest segment time seen.
    pub fn last_time_ns(&self) -> u64 {
        self.last_time_ns
    }

    /// The last window advertised by the sender of `direction`.
    pub fn last_window(&self, direction: Direction) -> u16 {
        self.last_window[direction.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Direction::{ToClient, ToServer};

    const SYN: TcpFlags = TcpFlags::SYN;
    const ACK: TcpFlags = TcpFlags::ACK;
    const FIN: TcpFlags = TcpFlags::FIN;
    const RST: TcpFlags = TcpFlags::RST;

    struct Conn {
        tracker: TcpStreamTracker,
        pool: ReassemblyPool,
        client_isn: u32,
        server_isn: u32,
    }

    impl Conn {
        fn new(
            config: StreamConfig,
            policy: OverlapPolicy,
            client_isn: u32,
            server_isn: u32,
        ) -> Conn {
            let mut conn = Conn {
                tracker: TcpStreamTracker::new(&config, policy, policy),
                pool: ReassemblyPool::default(),
                client_isn,
                server_isn,
            };
            conn.send(ToServer, client_isn, 0, SYN, b"");
            conn.send(
                ToClient,
                server_isn,
                client_isn.wrapping_add(1),
                SYN | ACK,
                b"",
            );
            conn.send(
                ToServer,
                client_isn.wrapping_add(1),
                server_isn.wrapping_add(1),
                ACK,
                b"",
            );
            conn
        }

        fn ids(policy: OverlapPolicy, isn: u32) -> Conn {
            Conn::new(StreamConfig::default(), policy, isn, 5000)
        }

        fn send(
            &mut self,
            dir: Direction,
            seq: u32,
            ack: u32,
            flags: TcpFlags,
            payload: &[u8],
        ) -> SegmentOutcome {
            let seg = Segment {
                direction: dir,
                seq,
                ack,
                flags,
                window: 65535,
                payload,
                time_ns: 1,
            };
            self.tracker.handle_segment(&seg, &mut self.pool)
        }

        /// Client data at `rel` bytes after the client's ISN (1 is the first byte).
        fn client(&mut self, rel: u32, payload: &[u8]) -> SegmentOutcome {
            let ack = self.server_isn.wrapping_add(1);
            self.send(
                ToServer,
                self.client_isn.wrapping_add(rel),
                ack,
                ACK,
                payload,
            )
        }

        /// The server acknowledges client data up to `rel` bytes after the client's ISN.
        fn server_acks(&mut self, rel: u32) {
            let seq = self.server_isn.wrapping_add(1);
            self.send(ToClient, seq, self.client_isn.wrapping_add(rel), ACK, b"");
        }

        fn drain(&mut self, dir: Direction) -> Vec<String> {
            let mut out = Vec::new();
            while let Some(chunk) = self.tracker.next_app_chunk(dir) {
                out.push(match chunk {
                    AppChunk::Data { offset, data } => {
                        format!("{offset}:{}", String::from_utf8_lossy(data))
                    }
                    AppChunk::Gap { offset, len } => format!("{offset}:gap{len}"),
                    AppChunk::End(end) => format!("end:{end:?}"),
                });
            }
            out
        }

        /// What the client's stream holds, from offset 0, with `.` for holes.
        fn held(&self) -> String {
            let buf = self.tracker.halves[0].buf.as_ref().unwrap();
            let mut out = String::new();
            for offset in 0..buf.high() {
                if buf.contiguous_end(offset) > offset {
                    out.push(buf.slice(offset, offset + 1)[0] as char);
                } else {
                    out.push('.');
                }
            }
            out
        }
    }

    #[test]
    fn overlap_vectors_hold_across_sequence_wrap() {
        // Suricata runs its overlap vectors with ISNs 0, 1, UINT_MAX and UINT_MAX - 10.
        for isn in [0, 1, u32::MAX, u32::MAX - 10] {
            let mut conn = Conn::ids(OverlapPolicy::Bsd, isn);
            for (rel, data) in [
                (2, "AAA"),
                (6, "BB"),
                (8, "CCC"),
                (12, "D"),
                (15, "EE"),
                (3, "JJJJ"),
                (11, "LLL"),
            ] {
                conn.client(rel, data.as_bytes());
            }
            assert_eq!(conn.held(), ".AAAJJBCCCLLL.EE", "isn {isn}");
            let mut conn = Conn::ids(OverlapPolicy::Solaris, isn);
            for (rel, data) in [(2, "AAA"), (6, "BB"), (3, "JJJJ"), (1, "0")] {
                conn.client(rel, data.as_bytes());
            }
            assert_eq!(conn.held(), "0AJJJBB", "isn {isn}");
            conn.server_acks(8);
            assert_eq!(conn.drain(ToServer), ["0:0AJJJBB"]);
        }
    }

    #[test]
    fn ids_mode_hands_on_acknowledged_data_only() {
        let mut conn = Conn::ids(OverlapPolicy::Bsd, 1000);
        conn.client(1, b"hello ");
        conn.client(7, b"world");
        assert!(conn.drain(ToServer).is_empty());
        conn.server_acks(4);
        assert_eq!(conn.drain(ToServer), ["0:hel"]);
        conn.server_acks(12);
        assert_eq!(conn.drain(ToServer), ["3:lo world"]);
        assert_eq!(conn.tracker.stats(ToServer).app_bytes, 11);
        assert_eq!(conn.pool.counters.in_order, 2);
    }

    #[test]
    fn acknowledged_data_never_seen_is_a_gap() {
        let mut conn = Conn::ids(OverlapPolicy::Bsd, 7);
        conn.client(1, b"abc");
        conn.client(8, b"hij");
        conn.server_acks(11);
        assert_eq!(conn.drain(ToServer), ["0:abc", "3:gap4", "7:hij"]);
        conn.tracker.handle_segment(
            &Segment {
                direction: ToServer,
                seq: 0,
                ack: 0,
                flags: ACK,
                window: 0,
                payload: b"",
                time_ns: 2,
            },
            &mut conn.pool,
        );
        assert_eq!(conn.pool.counters.gaps, 1);
        assert_eq!(conn.pool.counters.gap_bytes, 4);
        assert_eq!(conn.pool.counters.out_of_order, 1);
        // The late segment is a retransmission of consumed offsets now.
        assert_eq!(
            conn.client(4, b"defg").disposition,
            Disposition::Retransmission
        );
    }

    #[test]
    fn out_of_order_data_waits_for_the_hole() {
        let mut conn = Conn::ids(OverlapPolicy::Bsd, 7);
        conn.client(4, b"def");
        conn.server_acks(1);
        assert!(conn.drain(ToServer).is_empty());
        conn.client(1, b"abc");
        conn.server_acks(7);
        assert_eq!(conn.drain(ToServer), ["0:abcdef"]);
    }

    #[test]
    fn finished_once_both_directions_ended() {
        let mut conn = Conn::ids(OverlapPolicy::Bsd, 7);
        for dir in Direction::BOTH {
            conn.tracker.set_raw_enabled(dir, false);
        }
        conn.client(1, b"x");
        conn.server_acks(2);
        conn.drain(ToServer);
        assert!(!conn.tracker.is_finished());
        conn.send(ToClient, conn.server_isn + 1, 0, RST, b"");
        conn.drain(ToServer);
        assert!(
            !conn.tracker.is_finished(),
            "the client side has not had its end yet"
        );
        conn.drain(ToClient);
        assert!(conn.tracker.is_finished());
    }

    #[test]
    fn fin_ends_the_stream_once_acknowledged() {
        let mut conn = Conn::ids(OverlapPolicy::Bsd, 7);
        conn.client(1, b"bye");
        let seq = conn.client_isn.wrapping_add(4);
        conn.send(ToServer, seq, conn.server_isn + 1, FIN | ACK, b"");
        conn.server_acks(4);
        assert_eq!(conn.drain(ToServer), ["0:bye"]);
        conn.server_acks(5);
        assert_eq!(conn.drain(ToServer), ["end:Fin"]);
        assert!(conn.drain(ToServer).is_empty());
    }

    #[test]
    fn reset_flushes_what_was_received() {
        let mut conn = Conn::ids(OverlapPolicy::Bsd, 7);
        conn.client(1, b"abc");
        conn.client(6, b"fg");
        conn.send(ToClient, conn.server_isn + 1, 0, RST, b"");
        assert_eq!(
            conn.drain(ToServer),
            ["0:abc", "3:gap2", "5:fg", "end:Reset"]
        );
        assert_eq!(conn.drain(ToClient), ["end:Reset"]);
        assert_eq!(conn.pool.counters.resets, 1);
    }

    #[test]
    fn inline_mode_hands_on_in_order_data_and_keeps_the_first_copy() {
        let config = StreamConfig {
            mode: ReassemblyMode::Inline,
            ..StreamConfig::default()
        };
        let mut conn = Conn::new(config, OverlapPolicy::Last, 10, 20);
        assert_eq!(conn.tracker.policy(ToServer), OverlapPolicy::First);
        conn.client(1, b"GET /");
        assert_eq!(conn.drain(ToServer), ["0:GET /"]);
        conn.client(8, b"XY");
        let outcome = conn.client(6, b"abZZ");
        assert!(outcome.overlap_different);
        assert_eq!(conn.drain(ToServer), ["5:abXY"]);
        assert_eq!(conn.tracker.raw_window(ToServer, 4).data, b"abXY");
        assert_eq!(conn.tracker.raw_window(ToServer, 100).data, b"GET /abXY");
    }

    #[test]
    fn depth_stops_reassembly() {
        let config = StreamConfig {
            depth: 8,
            ..StreamConfig::default()
        };
        let mut conn = Conn::new(config, OverlapPolicy::Bsd, 10, 20);
        conn.client(1, b"12345");
        conn.client(6, b"67890");
        assert_eq!(
            conn.client(11, b"abc").disposition,
            Disposition::BeyondDepth
        );
        conn.server_acks(14);
        assert_eq!(conn.drain(ToServer), ["0:12345678", "end:Depth"]);
        assert_eq!(conn.pool.counters.depth_reached, 1);
    }

    #[test]
    fn memory_caps_refuse_segments_and_count_them() {
        let config = StreamConfig {
            connection_memcap: 64,
            ..StreamConfig::default()
        };
        let mut conn = Conn::new(config, OverlapPolicy::Bsd, 10, 20);
        // Only the app layer consumes here: raw inspection would keep its bytes.
        conn.tracker.set_raw_enabled(ToServer, false);
        assert_eq!(conn.client(1, &[b'a'; 40]).disposition, Disposition::Stored);
        assert_eq!(
            conn.client(41, &[b'b'; 40]).disposition,
            Disposition::MemcapConnection
        );
        assert_eq!(conn.pool.counters.memcap_connection, 1);
        // Once consumed, the memory is free again.
        conn.server_acks(41);
        assert_eq!(conn.drain(ToServer).len(), 1);
        assert_eq!(
            conn.client(41, &[b'b'; 40]).disposition,
            Disposition::Stored
        );

        let mut conn = Conn::ids(OverlapPolicy::Bsd, 10);
        conn.pool = ReassemblyPool::new(30, 4);
        assert_eq!(
            conn.client(1, &[b'a'; 40]).disposition,
            Disposition::MemcapTotal
        );
        assert_eq!(conn.pool.counters.memcap_total, 1);
        // The lost bytes surface as a gap when the receiver acknowledges them.
        conn.server_acks(41);
        assert_eq!(conn.drain(ToServer), ["0:gap40"]);
    }

    #[test]
    fn midstream_pickup_only_when_enabled() {
        let seg = Segment {
            direction: ToServer,
            seq: 777,
            ack: 999,
            flags: ACK,
            window: 1,
            payload: b"data",
            time_ns: 0,
        };
        let mut pool = ReassemblyPool::default();
        let mut off = TcpStreamTracker::new(
            &StreamConfig::default(),
            OverlapPolicy::Bsd,
            OverlapPolicy::Bsd,
        );
        assert_eq!(
            off.handle_segment(&seg, &mut pool).disposition,
            Disposition::Untracked
        );
        assert_eq!(pool.counters.untracked, 1);

        let config = StreamConfig {
            midstream: true,
            ..StreamConfig::default()
        };
        let mut on = TcpStreamTracker::new(&config, OverlapPolicy::Bsd, OverlapPolicy::Bsd);
        assert_eq!(
            on.handle_segment(&seg, &mut pool).disposition,
            Disposition::Stored
        );
        assert!(on.is_midstream());
        let reply = Segment {
            direction: ToClient,
            seq: 999,
            ack: 781,
            payload: b"ok",
            ..seg
        };
        on.handle_segment(&reply, &mut pool);
        let mut chunks = Vec::new();
        while let Some(AppChunk::Data { data, .. }) = on.next_app_chunk(ToServer) {
            chunks.push(data.to_vec());
        }
        assert_eq!(chunks, [b"data".to_vec()]);
        assert_eq!(pool.counters.midstream_pickups, 1);
    }

    #[test]
    fn raw_chunks_follow_the_chunk_size() {
        let config = StreamConfig {
            to_server_chunk: 10,
            ..StreamConfig::default()
        };
        let mut conn = Conn::new(config, OverlapPolicy::Bsd, 10, 20);
        conn.client(1, b"abcdef");
        conn.server_acks(7);
        assert_eq!(
            conn.tracker.next_raw_chunk(ToServer),
            None,
            "6 < chunk size"
        );
        conn.client(7, b"ghijkl");
        conn.server_acks(13);
        let chunk = conn.tracker.next_raw_chunk(ToServer).unwrap();
        assert_eq!((chunk.offset, chunk.data), (0, &b"abcdefghijkl"[..]));
        assert_eq!(conn.tracker.next_raw_chunk(ToServer), None);
        conn.client(13, b"mn");
        conn.server_acks(15);
        assert_eq!(conn.tracker.next_raw_chunk(ToServer), None);
        conn.tracker.trigger_raw(ToServer);
        assert_eq!(conn.tracker.next_raw_chunk(ToServer).unwrap().data, b"mn");
    }

    #[test]
    fn raw_lookback_after_a_trigger() {
        let config = StreamConfig {
            min_inspect_depth: 4,
            ..StreamConfig::default()
        };
        let mut conn = Conn::new(config, OverlapPolicy::Bsd, 10, 20);
        conn.client(1, b"0123456789");
        conn.server_acks(11);
        assert_eq!(conn.drain(ToServer).len(), 1);
        conn.tracker.trigger_raw(ToServer);
        assert_eq!(
            conn.tracker.next_raw_chunk(ToServer).unwrap().data,
            b"0123456789"
        );
        conn.client(11, b"ab");
        conn.server_acks(13);
        assert_eq!(conn.drain(ToServer).len(), 1);
        conn.tracker.trigger_raw(ToServer);
        let chunk = conn.tracker.next_raw_chunk(ToServer).unwrap();
        assert_eq!((chunk.offset, chunk.data), (8, &b"89ab"[..]));
    }

    #[test]
    fn memory_goes_back_to_the_pool() {
        let mut conn = Conn::ids(OverlapPolicy::Bsd, 1);
        conn.client(5, b"later");
        assert!(conn.pool.in_use() > 0);
        let Conn {
            tracker, mut pool, ..
        } = conn;
        tracker.release(&mut pool);
        assert_eq!(pool.in_use(), 0);
        assert_eq!(pool.spare_buffers(), 1);
    }

    #[test]
    fn far_sequence_numbers_are_refused() {
        let mut conn = Conn::ids(OverlapPolicy::Bsd, 1);
        assert_eq!(
            conn.client(1 << 31, b"x").disposition,
            Disposition::OutOfWindow
        );
        assert_eq!(conn.pool.counters.out_of_window, 1);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Segments of `data`, cut at `cuts`, plus retransmissions of arbitrary (re-cut) ranges.
    fn segments(data: &[u8], cuts: &[usize], extra: &[(usize, usize)]) -> Vec<(usize, usize)> {
        let mut points: Vec<usize> = cuts.iter().map(|c| c % data.len()).collect();
        points.push(0);
        points.push(data.len());
        points.sort_unstable();
        points.dedup();
        let mut segs: Vec<(usize, usize)> = points.windows(2).map(|w| (w[0], w[1])).collect();
        for &(a, len) in extra {
            let start = a % data.len();
            let end = (start + 1 + len % 300).min(data.len());
            segs.push((start, end));
        }
        segs
    }

    /// Feeds the client's segments in the given order; the server acknowledges, after each,
    /// what it has received contiguously. Returns the app-layer chunks of the client stream.
    fn run(
        data: &[u8],
        order: &[(usize, usize)],
        isn: u32,
        mode: ReassemblyMode,
        policy: OverlapPolicy,
        lost: &[bool],
    ) -> (Vec<u8>, Vec<(u64, u64)>, ReassemblyPool) {
        let config = StreamConfig {
            mode,
            depth: 0,
            connection_memcap: u64::MAX,
            ..StreamConfig::default()
        };
        let mut tracker = TcpStreamTracker::new(&config, policy, policy);
        let mut pool = ReassemblyPool::default();
        let server_isn = isn.wrapping_mul(7).wrapping_add(3);
        let mut send =
            |tracker: &mut TcpStreamTracker, direction, seq, ack, flags, payload: &[u8]| {
                let seg = Segment {
                    direction,
                    seq,
                    ack,
                    flags,
                    window: 65535,
                    payload,
                    time_ns: 0,
                };
                tracker.handle_segment(&seg, &mut pool);
            };
        let (syn, ack) = (TcpFlags::SYN, TcpFlags::ACK);
        send(&mut tracker, Direction::ToServer, isn, 0, syn, b"");
        send(
            &mut tracker,
            Direction::ToClient,
            server_isn,
            isn.wrapping_add(1),
            syn | ack,
            b"",
        );
        let mut received = vec![false; data.len()];
        let mut out = Vec::new();
        let mut gaps = Vec::new();
        let drain =
            |tracker: &mut TcpStreamTracker, out: &mut Vec<u8>, gaps: &mut Vec<(u64, u64)>| {
                while let Some(chunk) = tracker.next_app_chunk(Direction::ToServer) {
                    match chunk {
                        AppChunk::Data { offset, data } => {
                            assert_eq!(offset as usize, out.len(), "chunks must be in order");
                            out.extend_from_slice(data);
                        }
                        AppChunk::Gap { offset, len } => {
                            assert_eq!(offset as usize, out.len(), "gaps must be in order");
                            gaps.push((offset, len));
                            out.extend(std::iter::repeat_n(0u8, len as usize));
                        }
                        AppChunk::End(_) => {}
                    }
                }
            };
        for (i, &(start, end)) in order.iter().enumerate() {
            if lost.get(i).copied().unwrap_or(false) {
                continue;
            }
            let seq = isn.wrapping_add(1).wrapping_add(start as u32);
            send(
                &mut tracker,
                Direction::ToServer,
                seq,
                server_isn.wrapping_add(1),
                ack,
                &data[start..end],
            );
            received[start..end].iter_mut().for_each(|r| *r = true);
            let contiguous = received.iter().take_while(|r| **r).count();
            send(
                &mut tracker,
                Direction::ToClient,
                server_isn.wrapping_add(1),
                isn.wrapping_add(1).wrapping_add(contiguous as u32),
                ack,
                b"",
            );
            drain(&mut tracker, &mut out, &mut gaps);
        }
        // The receiver got everything in the end (the sensor may not have).
        send(
            &mut tracker,
            Direction::ToClient,
            server_isn.wrapping_add(1),
            isn.wrapping_add(1).wrapping_add(data.len() as u32),
            ack,
            b"",
        );
        drain(&mut tracker, &mut out, &mut gaps);
        tracker.finish();
        drain(&mut tracker, &mut out, &mut gaps);
        tracker.release(&mut pool);
        (out, gaps, pool)
    }

    fn policy() -> impl Strategy<Value = OverlapPolicy> {
        proptest::sample::select(OverlapPolicy::ALL.to_vec())
    }

    fn mode() -> impl Strategy<Value = ReassemblyMode> {
        prop_oneof![Just(ReassemblyMode::Ids), Just(ReassemblyMode::Inline)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Any segmentation, order and duplication of the same bytes reassembles to them.
        #[test]
        fn segmentation_reordering_and_duplication_give_the_input(
            data in proptest::collection::vec(any::<u8>(), 1..3000),
            cuts in proptest::collection::vec(any::<usize>(), 0..40),
            extra in proptest::collection::vec((any::<usize>(), any::<usize>()), 0..10),
            shuffle_seed in any::<u64>(),
            isn in any::<u32>(),
            mode in mode(),
            policy in policy(),
        ) {
            let mut order = segments(&data, &cuts, &extra);
            // Deterministic shuffle from the seed (Fisher-Yates with a small LCG).
            let mut state = shuffle_seed | 1;
            for i in (1..order.len()).rev() {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                order.swap(i, (state >> 33) as usize % (i + 1));
            }
            let (out, gaps, pool) = run(&data, &order, isn, mode, policy, &[]);
            prop_assert!(gaps.is_empty(), "gaps {gaps:?}");
            prop_assert_eq!(out, data);
            prop_assert_eq!(pool.in_use(), 0);
        }

        /// Segments the sensor never saw come out as gaps exactly where they were; every other
        /// byte is the input's.
        #[test]
        fn lost_segments_become_gaps_at_their_offsets(
            data in proptest::collection::vec(any::<u8>(), 1..2000),
            cuts in proptest::collection::vec(any::<usize>(), 1..20),
            lost in proptest::collection::vec(any::<bool>(), 20),
            isn in any::<u32>(),
            mode in mode(),
        ) {
            let order = segments(&data, &cuts, &[]);
            let (out, gaps, _) = run(&data, &order, isn, mode, OverlapPolicy::Bsd, &lost);
            prop_assert_eq!(out.len(), data.len());
            let mut missing = vec![false; data.len()];
            for (i, &(a, b)) in order.iter().enumerate() {
                if lost.get(i).copied().unwrap_or(false) {
                    missing[a..b].iter_mut().for_each(|m| *m = true);
                }
            }
            let mut in_gap = vec![false; data.len()];
            for (offset, len) in gaps {
                in_gap[offset as usize..(offset + len) as usize].iter_mut().for_each(|g| *g = true);
            }
            prop_assert_eq!(&in_gap, &missing);
            for i in 0..data.len() {
                if !missing[i] {
                    prop_assert_eq!(out[i], data[i], "byte {}", i);
                }
            }
        }
    }
}
