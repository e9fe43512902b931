//! The connection table of one worker: a preallocated slab of entries, an open-addressing index
//! over it, and per-state timer lists.
//!
//! * **Slab**: entries live in one `Vec` reserved at the configured maximum, so a slot index is
//!   dense (engines keep per-connection state in a `Vec` indexed by [`ConnHandle::index`]) and
//!   growth never reallocates. A slot's generation changes each time it is freed, so a stale
//!   handle is detected rather than misread. An entry is three cache lines, in the order a
//!   packet needs them: the key with what every lookup reads and returns (last-seen time,
//!   generation, state, `flow_id`), then the counters, then the TCP session; what only the
//!   timers and the records read (timer links, application protocol) is in a parallel `Vec`.
//!   A packet of an established UDP connection touches two lines of its entry, a TCP one
//!   three.
//! * **Index**: linear probing over a power-of-two array at least twice the maximum, each slot
//!   holding the entry's 32-bit hash and index; deletion shifts later entries back (no
//!   tombstones). The hash is keyed with a per-table secret (see `hash.rs`).
//! * **Batches**: [`ConnTable::lookup_key`] computes a packet's key and hash and prefetches its
//!   index slot; [`ConnTable::prefetch_entry`] then prefetches the entry the slot names. A
//!   caller that does both for a whole batch before tracking any packet
//!   ([`ConnTable::track_lookup`]) overlaps the batch's cache misses instead of taking them
//!   one after the other. The slab and the index ask for transparent huge pages, so that a
//!   table of a million connections does not miss the TLB on every packet as well.
//! * **Timers**: a timing wheel per protocol class and flow state (the twelve timeout classes
//!   of [`crate::Timeouts`]): one list per second, the entry filed under the second it was
//!   placed. A packet only stamps its entry's last-seen time; the entry moves on lazily, when
//!   [`ConnTable::expire`] reaches its second and finds it refreshed (it is filed again under
//!   its last-seen second), or at once when its state (and so its timeout) changes. Expiry
//!   touches only due entries and entries that were refreshed, never the whole table, and ends
//!   every entry at the first call after its timeout whatever else the table holds (so a
//!   worker's timeouts do not depend on which other connections share its table, nor on the
//!   number of workers). A lookup that finds an entry already past its timeout ends it first
//!   (as Suricata's `FlowIsTimedOut` in the hash lookup).
//!
//! When the table is full, a new connection early-drops the least recently placed entry among
//! the heads of the *new* and *closed* lists (never an established one), with reason
//! `forced`; if there is none, the packet gets no connection. Both are counted.
//!
//! The table is single-threaded and never locks, blocks or allocates after construction: ended
//! connections go to a caller's closure as plain [`ConnRecord`]s.

use events::{FlowEndReason, FlowState, FlowTcp};
use flow::FlowKey;
use wire::{L4, ParsedPacket, ip_proto};

use crate::hash::{Keys, fold_mul};
use crate::key::{Class, ConnKey, ConnLookup, PacketTuple, Untracked, classify, classify_key};
use crate::mem::{advise_huge_pages, prefetch};
use crate::tcp::{AcceptAll, Segment, SegmentCheck, TcpState, TcpTrack};
use crate::{ConnRecord, ConnState, Direction, Timeouts};

const NIL: u32 = u32::MAX;
const CLASSES: usize = 12;
const NANOS: u64 = 1_000_000_000;

/// How a table is sized and timed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnConfig {
    /// The most connections held at once (at least 1).
    pub max_connections: u32,
    /// Idle timeouts.
    pub timeouts: Timeouts,
    /// Seed of the index hash; `None` draws a secret one from the OS (use a fixed seed only in
    /// tests and benchmarks).
    pub seed: Option<u64>,
}

impl Default for ConnConfig {
    fn default() -> Self {
        ConnConfig {
            max_connections: 65_536,
            timeouts: Timeouts::SURICATA_7,
            seed: None,
        }
    }
}

/// A connection's identity while it lives: its slot in the table and the slot's generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnHandle {
    index: u32,
    generation: u32,
}

impl ConnHandle {
    /// The slot: dense, below the table's maximum, reused after the connection ends.
    #[inline]
    pub fn index(self) -> usize {
        self.index as usize
    }

    /// Changes every time the slot is reused.
    #[inline]
    pub fn generation(self) -> u32 {
        self.generation
    }
}

/// [`ConnTable::track_key`] cannot read this packet from its flow key: track it with its
/// parse ([`ConnTable::track`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NeedsParse;

/// What the table says about one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tracked {
    pub handle: ConnHandle,
    pub direction: Direction,
    pub state: ConnState,
    /// 1 for the connection's first packet, counting every packet given to it (related ICMP
    /// errors included).
    pub packet_number: u64,
    pub flow_id: u64,
}

/// A live connection's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnCounters {
    pub pkts_toserver: u64,
    pub pkts_toclient: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    /// Related ICMP errors not counted above (see [`ConnRecord::related_pkts`]).
    pub related_pkts: u64,
    pub start_ns: u64,
    pub last_ns: u64,
}

/// The table's own counters, for `stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableCounters {
    /// Packets given to [`ConnTable::track`].
    pub packets: u64,
    /// Packets that found their connection.
    pub hits: u64,
    /// Connections created.
    pub created: u64,
    /// ICMP errors related to a live connection.
    pub related: u64,
    /// Packets whose state was `Invalid`.
    pub invalid: u64,
    /// Connections ended, by reason.
    pub ended_timeout: u64,
    pub ended_forced: u64,
    pub ended_tcp_reuse: u64,
    pub ended_shutdown: u64,
    /// Connections early-dropped to make room (also counted in `ended_forced`).
    pub early_drops: u64,
    /// Packets that got no connection because the table was full of established ones.
    pub table_full: u64,
    /// Packets that got no connection, by reason.
    pub not_ip: u64,
    pub fragments: u64,
    pub malformed: u64,
    pub icmp_error_unreadable: u64,
    /// ICMP errors whose quoted connection is not in the table.
    pub icmp_error_orphan: u64,
}

mod flag {
    pub const INIT_LOW: u8 = 1;
    pub const SEEN_TS: u8 = 2;
    pub const SEEN_TC: u8 = 4;
    pub const ALERTED: u8 = 8;
    pub const HAS_ICMP: u8 = 16;
    pub const HAS_RESPONSE: u8 = 32;
    pub const LIVE: u8 = 64;
}

const FS_NEW: u8 = 0;
const FS_ESTABLISHED: u8 = 1;
const FS_CLOSED: u8 = 2;

/// One connection, in three cache lines (see the module documentation).
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(64))]
struct Entry {
    // Line 0: every lookup.
    key: ConnKey,
    last_ns: u64,
    flow_id: u64,
    generation: u32,
    /// Timer class: protocol class * 3 + flow state.
    class: u8,
    flow_state: u8,
    flags: u8,
    // Line 1: every packet's counters, and the rest of the record.
    pkts: [u64; 2],
    bytes: [u64; 2],
    related_pkts: u64,
    related_bytes: u64,
    start_ns: u64,
    hash: u32,
    icmp_first: (u8, u8),
    icmp_response: (u8, u8),
    // Line 2: TCP only.
    tcp: TcpTrack,
}

const _: () = assert!(size_of::<Entry>() == 192);
const _: () = assert!(std::mem::offset_of!(Entry, pkts) == 64);
const _: () = assert!(std::mem::offset_of!(Entry, tcp) == 128);

impl Entry {
    #[inline(always)]
    fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }
}

/// What only the timers and the records of a connection read.
#[derive(Clone, Copy, Debug, Default)]
struct Cold {
    prev: u32,
    next: u32,
    /// When the entry was last placed at the tail of its timer list, in whole seconds.
    placed_secs: u64,
    app_proto: Option<&'static str>,
}

/// The protocol class of a key's protocol: 0 TCP, 1 UDP, 2 ICMP, 3 other (Suricata's
/// `FlowGetProtoMapping`: ICMPv6 is "other").
fn proto_class(proto: u8) -> usize {
    match proto {
        ip_proto::TCP => 0,
        ip_proto::UDP => 1,
        ip_proto::ICMP => 2,
        _ => 3,
    }
}

fn class_of(proto: u8, flow_state: u8) -> u8 {
    (proto_class(proto) * 3 + usize::from(flow_state)) as u8
}

/// Suricata's flow state for a TCP session state (`StreamTcpPacketSetState`).
#[inline(always)]
fn tcp_flow_state(s: TcpState) -> Option<u8> {
    match s {
        TcpState::None | TcpState::SynSent | TcpState::SynRecv => None,
        TcpState::Established
        | TcpState::FinWait1
        | TcpState::FinWait2
        | TcpState::Closing
        | TcpState::CloseWait => Some(FS_ESTABLISHED),
        TcpState::LastAck | TcpState::TimeWait | TcpState::Closed => Some(FS_CLOSED),
    }
}

#[inline(always)]
fn tcp_conn_state(t: &TcpTrack) -> ConnState {
    if !t.session {
        return ConnState::Invalid;
    }
    match t.state {
        TcpState::None | TcpState::SynSent | TcpState::SynRecv => ConnState::New,
        TcpState::Established => ConnState::Established,
        TcpState::FinWait1
        | TcpState::FinWait2
        | TcpState::CloseWait
        | TcpState::Closing
        | TcpState::LastAck => ConnState::Closing,
        TcpState::TimeWait | TcpState::Closed => ConnState::Closed,
    }
}

/// The connection table of one worker (see the module documentation). `C` is the firewall's
/// sequence-window check, [`AcceptAll`] by default.
#[derive(Debug)]
pub struct ConnTable<C: SegmentCheck = AcceptAll> {
    entries: Vec<Entry>,
    cold: Vec<Cold>,
    free: Vec<u32>,
    slots: Vec<u64>,
    mask: usize,
    wheels: [Wheel; CLASSES],
    live: usize,
    max: usize,
    keys: Keys,
    /// The timeout of each timer class, in seconds (16 entries: indexed by a masked class).
    class_timeout: [u64; 16],
    check: C,
    counters: TableCounters,
}

impl ConnTable<AcceptAll> {
    /// A table that judges TCP by flags alone.
    pub fn new(config: ConnConfig) -> Self {
        ConnTable::with_check(config, AcceptAll)
    }
}

impl<C: SegmentCheck> ConnTable<C> {
    /// A table that asks `check` about every TCP segment of a session.
    pub fn with_check(config: ConnConfig, check: C) -> Self {
        let max = config.max_connections.clamp(1, u32::MAX - 1) as usize;
        let slots = (max * 2).next_power_of_two().max(16);
        let mut entries = Vec::with_capacity(max);
        advise_huge_pages(entries.spare_capacity_mut());
        let mut cold = Vec::with_capacity(max);
        advise_huge_pages(cold.spare_capacity_mut());
        // Zeroed memory straight from the kernel: the pages are made on first touch, so the
        // advice still applies to them.
        let mut slot_array = vec![0u64; slots];
        advise_huge_pages(&mut slot_array);
        let mut class_timeout = [0u64; 16];
        for (class, t) in class_timeout.iter_mut().enumerate().take(CLASSES) {
            *t = u64::from(config.timeouts.of_class(class));
        }
        ConnTable {
            entries,
            cold,
            free: Vec::with_capacity(max),
            slots: slot_array,
            mask: slots - 1,
            wheels: std::array::from_fn(|class| Wheel::new(class_timeout[class])),
            live: 0,
            max,
            keys: config.seed.map_or_else(Keys::random, Keys::from_seed),
            class_timeout,
            check,
            counters: TableCounters::default(),
        }
    }

    /// Live connections.
    pub fn len(&self) -> usize {
        self.live
    }

    /// True when no connection is live.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The most connections the table holds; every [`ConnHandle::index`] is below it.
    pub fn capacity(&self) -> usize {
        self.max
    }

    /// The table's counters.
    pub fn counters(&self) -> &TableCounters {
        &self.counters
    }

    /// The segment check, to read or reconfigure it.
    pub fn check_mut(&mut self) -> &mut C {
        &mut self.check
    }

    /// Looks up (or creates) the connection of one packet and updates it.
    ///
    /// `frame` is the whole frame as captured (its length is what the byte counters add), `p`
    /// its parse, `vlan` the bridge-internal VLAN, `now_ns` the packet's time. Connections that
    /// end because of this packet (found timed out, early-dropped for room, replaced by a new
    /// TCP connection on the same tuple) are handed to `ended` before the packet's own
    /// connection is updated. Returns `None` for packets without a connection (not IP, a
    /// fragment, unreadable, an ICMP error quoting nothing known, or a full table), each
    /// counted.
    #[inline]
    pub fn track(
        &mut self,
        frame: &[u8],
        p: &ParsedPacket,
        vlan: u16,
        now_ns: u64,
        ended: &mut impl FnMut(ConnRecord),
    ) -> Option<Tracked> {
        self.counters.packets += 1;
        match classify(frame, p) {
            Class::Conn { tuple, icmp } => {
                let seg = if p.l4 == L4::Tcp {
                    Segment::read(frame, usize::from(p.l4_offset), p.payload_len)
                } else {
                    None
                };
                let mut l = ConnLookup::new(frame.len(), &tuple, icmp, seg, vlan);
                l.hash = self.hash(&l.key);
                self.track_conn(&l, now_ns, ended)
            }
            Class::IcmpError {
                quoted,
                outer_src,
                counted,
            } => self.track_related(
                frame.len(),
                &quoted,
                outer_src,
                counted,
                vlan,
                now_ns,
                ended,
            ),
            Class::Untracked(why) => {
                let c = &mut self.counters;
                match why {
                    Untracked::NotIp => c.not_ip += 1,
                    Untracked::Fragment => c.fragments += 1,
                    Untracked::Malformed => c.malformed += 1,
                    Untracked::BadIcmpError => c.icmp_error_unreadable += 1,
                }
                None
            }
        }
    }

    /// [`ConnTable::track`] without the parse: the same answer, the same records and counters,
    /// for a packet whose flow key `key` (from `FlowKey::from_frame`, or `FlowKey::extract` of
    /// its parse) shows a shape read straight from the bytes: up to two VLAN tags, IPv4
    /// without options or IPv6 without extension headers, not a fragment, then TCP, UDP, SCTP,
    /// ICMP or ICMPv6 other than an error, or any other protocol, with its transport header
    /// whole. The few bytes the key does not hold (TCP sequence numbers, window and options,
    /// an echo identifier) are read from `frame` at the offsets the key implies, checked
    /// against the frame.
    ///
    /// `Err(NeedsParse)` for every other packet (ICMP errors, IPv6 extension headers, IPv4
    /// options, fragments, a cut header), with the table untouched: call
    /// [`ConnTable::track`] with its parse. A key of another frame gives a wrong answer, never
    /// a panic.
    #[inline(always)]
    pub fn track_key(
        &mut self,
        frame: &[u8],
        key: &FlowKey,
        vlan: u16,
        now_ns: u64,
        ended: &mut impl FnMut(ConnRecord),
    ) -> Result<Option<Tracked>, NeedsParse> {
        // Built in place and used where it lies (a `ConnLookup` moved about costs more than
        // its hash).
        let mut found = classify_key(frame, key, vlan);
        let Some(l) = &mut found else {
            return Err(NeedsParse);
        };
        l.hash = self.hash(&l.key);
        Ok(self.track_lookup(l, now_ns, ended))
    }

    /// The first half of [`ConnTable::track_key`]: reads the packet's connection key from its
    /// flow key and frame (the same shapes, the same `NeedsParse`) and hashes it. Changes
    /// nothing, and depends on nothing the table holds but its hash key.
    #[inline(always)]
    pub fn lookup_key(
        &self,
        frame: &[u8],
        key: &FlowKey,
        vlan: u16,
    ) -> Result<ConnLookup, NeedsParse> {
        let mut l = classify_key(frame, key, vlan).ok_or(NeedsParse)?;
        l.hash = self.hash(&l.key);
        Ok(l)
    }

    /// Prefetches the index slot of `l`'s connection. A hint only.
    #[inline(always)]
    pub fn prefetch_index(&self, l: &ConnLookup) {
        prefetch(
            self.slots
                .as_ptr()
                .wrapping_add(l.hash as usize & self.mask),
        );
    }

    /// Prefetches the entry `l`'s index slot names (best after the slot itself has had time to
    /// arrive: a batch's [`ConnTable::prefetch_index`]es first, then its `prefetch_entry`s).
    /// A hint only.
    #[inline(always)]
    pub fn prefetch_entry(&self, l: &ConnLookup) {
        // The first few slots of the probe sequence (a cache line holds eight): at half load
        // a third of the connections are not in their home slot.
        let mut at = l.hash as usize & self.mask;
        for _ in 0..4 {
            let Some(&s) = self.slots.get(at) else {
                return;
            };
            if s == 0 {
                return;
            }
            if (s >> 32) as u32 == l.hash {
                let e = self
                    .entries
                    .as_ptr()
                    .wrapping_add((s as u32).wrapping_sub(1) as usize);
                prefetch(e);
                prefetch(e.cast::<u8>().wrapping_add(64));
                if l.seg.is_some() {
                    prefetch(e.cast::<u8>().wrapping_add(128));
                }
                return;
            }
            at = (at + 1) & self.mask;
        }
    }

    /// The second half of [`ConnTable::track_key`]: tracks the packet `l` was made from,
    /// exactly as `track_key` would have.
    #[inline(always)]
    pub fn track_lookup(
        &mut self,
        l: &ConnLookup,
        now_ns: u64,
        ended: &mut impl FnMut(ConnRecord),
    ) -> Option<Tracked> {
        self.counters.packets += 1;
        if !l.ip {
            self.counters.not_ip += 1;
            return None;
        }
        self.track_conn(l, now_ns, ended)
    }

    /// The connection of a packet of its own connection: found (ended first if it timed out
    /// or a SYN reuses its tuple) or created, then updated.
    #[inline(always)]
    fn track_conn(
        &mut self,
        l: &ConnLookup,
        now_ns: u64,
        ended: &mut impl FnMut(ConnRecord),
    ) -> Option<Tracked> {
        let now_secs = now_ns / NANOS;
        let i = match self.find(l.hash, &l.key) {
            Some(i) if !self.due(i, now_secs) && !self.reused(i, l) => {
                self.counters.hits += 1;
                i
            }
            found => self.replace(found, l.key, l.hash, l.src_low, now_ns, ended)?,
        };
        let e = &mut self.entries[i];
        let dir = direction(e, l.src_low);
        let d = dir as usize;
        e.pkts[d] += 1;
        e.bytes[d] += u64::from(l.len);
        e.last_ns = now_ns;
        e.flags |= if dir == Direction::ToServer {
            flag::SEEN_TS
        } else {
            flag::SEEN_TC
        };
        if let Some(ty) = l.icmp {
            if !e.has(flag::HAS_ICMP) {
                e.icmp_first = ty;
                e.flags |= flag::HAS_ICMP;
            } else if dir == Direction::ToClient && !e.has(flag::HAS_RESPONSE) {
                e.icmp_response = ty;
                e.flags |= flag::HAS_RESPONSE;
            }
        }
        let (state, flow_state) = match &l.seg {
            Some(s) => {
                let ok = e.tcp.segment(dir, s, &mut self.check);
                let fs = if e.tcp.session {
                    tcp_flow_state(e.tcp.state).unwrap_or(e.flow_state)
                } else {
                    e.flow_state
                };
                let st = if ok {
                    tcp_conn_state(&e.tcp)
                } else {
                    ConnState::Invalid
                };
                (st, fs)
            }
            None if e.has(flag::SEEN_TS) && e.has(flag::SEEN_TC) => {
                (ConnState::Established, FS_ESTABLISHED)
            }
            None => (ConnState::New, e.flow_state),
        };
        let t = Tracked {
            handle: ConnHandle {
                index: i as u32,
                generation: e.generation,
            },
            direction: dir,
            state,
            packet_number: e.pkts[0] + e.pkts[1] + e.related_pkts,
            flow_id: e.flow_id,
        };
        if flow_state != e.flow_state {
            self.set_flow_state(i, flow_state, now_secs);
        }
        if state == ConnState::Invalid {
            self.counters.invalid += 1;
        }
        Some(t)
    }

    /// Whether `l`'s packet is a SYN that starts a new connection on the tuple of entry `i`.
    #[inline(always)]
    fn reused(&self, i: usize, l: &ConnLookup) -> bool {
        match &l.seg {
            Some(s) if TcpTrack::is_stream_starter(s.flags) => {
                let e = &self.entries[i];
                e.tcp.reuse_by_syn(direction(e, l.src_low), s.seq)
            }
            _ => false,
        }
    }

    /// The slow side of a lookup: ends the connection found (`found`: timed out, or its tuple
    /// reused by a SYN) and creates the packet's. (Its arguments by value: a reference to the
    /// lookup would keep the caller's copy of it in memory.)
    #[inline(never)]
    fn replace(
        &mut self,
        found: Option<usize>,
        key: ConnKey,
        hash: u32,
        src_low: bool,
        now_ns: u64,
        ended: &mut impl FnMut(ConnRecord),
    ) -> Option<usize> {
        if let Some(i) = found {
            let reason = if self.due(i, now_ns / NANOS) {
                FlowEndReason::Timeout
            } else {
                FlowEndReason::TcpReuse
            };
            self.end(i, reason, ended);
        }
        self.create(key, hash, src_low, now_ns, ended)
    }

    /// Moves entry `i` to the timer list of its new flow state.
    #[inline(never)]
    fn set_flow_state(&mut self, i: usize, flow_state: u8, now_secs: u64) {
        let proto = self.entries[i].key.proto();
        self.entries[i].flow_state = flow_state;
        self.unlink(i);
        self.push_tail(i, class_of(proto, flow_state), now_secs);
    }

    #[allow(clippy::too_many_arguments)]
    fn track_related(
        &mut self,
        len: usize,
        quoted: &PacketTuple,
        outer_src: (u64, u64),
        counted: bool,
        vlan: u16,
        now_ns: u64,
        ended: &mut impl FnMut(ConnRecord),
    ) -> Option<Tracked> {
        let (key, _) = quoted.key(vlan);
        let hash = self.hash(&key);
        let Some(i) = self.find(hash, &key) else {
            self.counters.icmp_error_orphan += 1;
            return None;
        };
        if self.due(i, now_ns / NANOS) {
            self.end(i, FlowEndReason::Timeout, ended);
            self.counters.icmp_error_orphan += 1;
            return None;
        }
        self.counters.related += 1;
        let e = &mut self.entries[i];
        // Suricata's FlowGetPacketDirection for ICMP: to the server when it comes from the
        // initiator's address.
        let init_addr = e.key.addr_words(!e.has(flag::INIT_LOW));
        let dir = if outer_src == init_addr {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        if counted {
            e.pkts[dir as usize] += 1;
            e.bytes[dir as usize] += len as u64;
            e.last_ns = now_ns;
        } else {
            e.related_pkts += 1;
            e.related_bytes += len as u64;
        }
        Some(Tracked {
            handle: ConnHandle {
                index: i as u32,
                generation: e.generation,
            },
            direction: dir,
            state: ConnState::Related,
            packet_number: e.pkts[0] + e.pkts[1] + e.related_pkts,
            flow_id: e.flow_id,
        })
    }

    /// Ends every connection idle past its timeout at `now_ns`, handing each to `ended` with
    /// reason `timeout`. Cost: the due connections, those refreshed since they were last
    /// filed, and one step per second of time passed per class.
    pub fn expire(&mut self, now_ns: u64, mut ended: impl FnMut(ConnRecord)) {
        let now_secs = now_ns / NANOS;
        for class in 0..CLASSES {
            let timeout = self.class_timeout[class];
            let w = &self.wheels[class];
            // Due: last + timeout < now, that is last <= target.
            let Some(target) = now_secs.checked_sub(timeout + 1) else {
                continue;
            };
            let Some(from) = w.next_second(target) else {
                continue;
            };
            let seconds = (target - from + 1).min(w.buckets());
            for s in from..from + seconds {
                let b = self.wheels[class].bucket(s);
                let mut i = self.wheels[class].heads[b];
                while i != NIL {
                    let at = i as usize;
                    i = self.cold[at].next;
                    if self.cold[at].placed_secs > target {
                        continue; // filed under a later turn of the wheel
                    }
                    let last_secs = self.entries[at].last_ns / NANOS;
                    if last_secs <= target {
                        self.end(at, FlowEndReason::Timeout, &mut ended);
                    } else {
                        // Refreshed: filed again under its last second (after `target`, so
                        // not met again in this call unless skipped as above).
                        self.unlink(at);
                        self.push_tail(at, class as u8, last_secs);
                    }
                }
            }
            self.wheels[class].finished(target);
        }
    }

    /// Ends every connection (end of input), reason `shutdown`, oldest first per class.
    pub fn drain(&mut self, mut ended: impl FnMut(ConnRecord)) {
        for class in 0..CLASSES {
            let Some(from) = self.wheels[class].next_second(u64::MAX) else {
                continue;
            };
            for s in from..from.saturating_add(self.wheels[class].buckets()) {
                let b = self.wheels[class].bucket(s);
                while self.wheels[class].heads[b] != NIL {
                    let i = self.wheels[class].heads[b] as usize;
                    self.end(i, FlowEndReason::Shutdown, &mut ended);
                }
            }
        }
    }

    /// Marks a connection alerted (its record says `alerted: true`). False for a stale handle.
    pub fn set_alerted(&mut self, h: ConnHandle) -> bool {
        match self.entry_mut(h) {
            Some(e) => {
                e.flags |= flag::ALERTED;
                true
            }
            None => false,
        }
    }

    /// Sets a connection's application protocol. False for a stale handle.
    pub fn set_app_proto(&mut self, h: ConnHandle, app_proto: &'static str) -> bool {
        if self.entry(h).is_none() {
            return false;
        }
        match self.cold.get_mut(h.index()) {
            Some(c) => {
                c.app_proto = Some(app_proto);
                true
            }
            None => false,
        }
    }

    /// A live connection's counters; `None` for a stale handle.
    pub fn counters_of(&self, h: ConnHandle) -> Option<ConnCounters> {
        self.entry(h).map(|e| ConnCounters {
            pkts_toserver: e.pkts[0],
            pkts_toclient: e.pkts[1],
            bytes_toserver: e.bytes[0],
            bytes_toclient: e.bytes[1],
            related_pkts: e.related_pkts,
            start_ns: e.start_ns,
            last_ns: e.last_ns,
        })
    }

    /// A live TCP connection's session (state, flags, both sides' sequence records).
    pub fn tcp(&self, h: ConnHandle) -> Option<&TcpTrack> {
        self.entry(h)
            .filter(|e| e.key.proto() == ip_proto::TCP)
            .map(|e| &e.tcp)
    }

    /// The record the connection would leave if it ended now with `reason`.
    pub fn snapshot(&self, h: ConnHandle, reason: FlowEndReason) -> Option<ConnRecord> {
        let e = self.entry(h)?;
        Some(record(e, self.cold.get(h.index())?, h.index(), reason))
    }

    /// The key of a live connection.
    pub fn key(&self, h: ConnHandle) -> Option<ConnKey> {
        self.entry(h).map(|e| e.key)
    }

    fn entry(&self, h: ConnHandle) -> Option<&Entry> {
        self.entries
            .get(h.index())
            .filter(|e| e.generation == h.generation && e.has(flag::LIVE))
    }

    fn entry_mut(&mut self, h: ConnHandle) -> Option<&mut Entry> {
        self.entries
            .get_mut(h.index())
            .filter(|e| e.generation == h.generation && e.has(flag::LIVE))
    }

    #[inline(always)]
    fn hash(&self, key: &ConnKey) -> u32 {
        self.keys.hash5(&key.w) as u32
    }

    /// Whether entry `i` is idle past its timeout at `now_secs`.
    #[inline(always)]
    fn due(&self, i: usize, now_secs: u64) -> bool {
        let e = &self.entries[i];
        e.last_ns / NANOS + self.class_timeout[usize::from(e.class) & 15] < now_secs
    }

    #[inline(always)]
    fn find(&self, hash: u32, key: &ConnKey) -> Option<usize> {
        let mut at = hash as usize & self.mask;
        loop {
            let s = self.slots[at];
            if s == 0 {
                return None;
            }
            if (s >> 32) as u32 == hash {
                let i = (s as u32 - 1) as usize;
                if self.entries[i].key == *key {
                    return Some(i);
                }
            }
            at = (at + 1) & self.mask;
        }
    }

    fn insert_slot(&mut self, hash: u32, index: usize) {
        let mut at = hash as usize & self.mask;
        while self.slots[at] != 0 {
            at = (at + 1) & self.mask;
        }
        self.slots[at] = (u64::from(hash) << 32) | (index as u64 + 1);
    }

    fn remove_slot(&mut self, hash: u32, index: usize) {
        let want = (u64::from(hash) << 32) | (index as u64 + 1);
        let mut at = hash as usize & self.mask;
        while self.slots[at] != want {
            debug_assert_ne!(self.slots[at], 0, "entry missing from the index");
            at = (at + 1) & self.mask;
        }
        // Backward-shift deletion: pull later members of the cluster into the hole when their
        // home slot does not lie between the hole and their position.
        let mut hole = at;
        let mut j = at;
        loop {
            j = (j + 1) & self.mask;
            let s = self.slots[j];
            if s == 0 {
                break;
            }
            let home = (s >> 32) as usize & self.mask;
            let between = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !between {
                self.slots[hole] = s;
                hole = j;
            }
        }
        self.slots[hole] = 0;
    }

    fn create(
        &mut self,
        key: ConnKey,
        hash: u32,
        src_low: bool,
        now_ns: u64,
        ended: &mut impl FnMut(ConnRecord),
    ) -> Option<usize> {
        if self.live >= self.max && !self.early_drop(ended) {
            self.counters.table_full += 1;
            return None;
        }
        let i = match self.free.pop() {
            Some(i) => i as usize,
            None => {
                self.entries.push(Entry::default());
                self.cold.push(Cold::default());
                self.entries.len() - 1
            }
        };
        let generation = self.entries[i].generation;
        let class = class_of(key.proto(), FS_NEW);
        self.entries[i] = Entry {
            key,
            hash,
            generation,
            start_ns: now_ns,
            last_ns: now_ns,
            flow_id: flow_id(&key, src_low, now_ns),
            class,
            flow_state: FS_NEW,
            flags: flag::LIVE | if src_low { flag::INIT_LOW } else { 0 },
            ..Entry::default()
        };
        self.cold[i] = Cold {
            prev: NIL,
            next: NIL,
            ..Cold::default()
        };
        self.insert_slot(hash, i);
        self.push_tail(i, class, now_ns / NANOS);
        self.live += 1;
        self.counters.created += 1;
        Some(i)
    }

    /// Ends the least recently placed connection among the oldest of the new and closed
    /// wheels.
    fn early_drop(&mut self, ended: &mut impl FnMut(ConnRecord)) -> bool {
        for _ in 0..16 {
            let mut best: Option<usize> = None;
            for class in 0..CLASSES {
                if class % 3 == usize::from(FS_ESTABLISHED) {
                    continue;
                }
                let Some(i) = self.wheels[class].oldest() else {
                    continue;
                };
                let i = i as usize;
                if best.is_none_or(|b| self.cold[i].placed_secs < self.cold[b].placed_secs) {
                    best = Some(i);
                }
            }
            let Some(i) = best else {
                return false;
            };
            let last_secs = self.entries[i].last_ns / NANOS;
            if self.cold[i].placed_secs < last_secs {
                // Refreshed since it was placed: not the oldest after all.
                let class = self.entries[i].class;
                self.unlink(i);
                self.push_tail(i, class, last_secs);
                continue;
            }
            self.counters.early_drops += 1;
            self.end(i, FlowEndReason::Forced, ended);
            return true;
        }
        false
    }

    fn end(&mut self, i: usize, reason: FlowEndReason, ended: &mut impl FnMut(ConnRecord)) {
        let rec = record(&self.entries[i], &self.cold[i], i, reason);
        let hash = self.entries[i].hash;
        self.unlink(i);
        self.remove_slot(hash, i);
        let e = &mut self.entries[i];
        e.flags = 0;
        e.generation = e.generation.wrapping_add(1);
        self.cold[i].app_proto = None;
        self.free.push(i as u32);
        self.live -= 1;
        let c = &mut self.counters;
        match reason {
            FlowEndReason::Timeout => c.ended_timeout += 1,
            FlowEndReason::Forced => c.ended_forced += 1,
            FlowEndReason::TcpReuse => c.ended_tcp_reuse += 1,
            FlowEndReason::Shutdown | FlowEndReason::Unknown => c.ended_shutdown += 1,
        }
        ended(rec);
    }

    fn unlink(&mut self, i: usize) {
        let (prev, next) = (self.cold[i].prev, self.cold[i].next);
        let w = &mut self.wheels[usize::from(self.entries[i].class)];
        let b = w.bucket(self.cold[i].placed_secs);
        if prev == NIL {
            w.heads[b] = next;
        } else {
            self.cold[prev as usize].next = next;
        }
        if next == NIL {
            w.tails[b] = prev;
        } else {
            self.cold[next as usize].prev = prev;
        }
        let c = &mut self.cold[i];
        c.prev = NIL;
        c.next = NIL;
    }

    /// Files entry `i` in class `class` under second `placed_secs` (or the first second the
    /// wheel has not passed, when time went backwards).
    fn push_tail(&mut self, i: usize, class: u8, placed_secs: u64) {
        let w = &mut self.wheels[usize::from(class)];
        let placed_secs = w.file(placed_secs);
        let b = w.bucket(placed_secs);
        let tail = w.tails[b];
        self.entries[i].class = class;
        {
            let cold = &mut self.cold[i];
            cold.placed_secs = placed_secs;
            cold.prev = tail;
            cold.next = NIL;
        }
        if tail == NIL {
            w.heads[b] = i as u32;
        } else {
            self.cold[tail as usize].next = i as u32;
        }
        w.tails[b] = i as u32;
    }
}

/// The timer lists of one class: one per second, modulo the wheel's size (a power of two
/// above the class's timeout, at most [`Wheel::MAX_BUCKETS`]; a longer timeout files some
/// entries a turn ahead, which expiry skips until their turn).
#[derive(Debug)]
struct Wheel {
    heads: Box<[u32]>,
    tails: Box<[u32]>,
    mask: u64,
    /// Every second up to this one has been expired (`None`: nothing filed yet).
    done: Option<u64>,
    /// No entry is filed under an earlier second (a hint for [`Wheel::oldest`]).
    low: u64,
}

impl Wheel {
    const MAX_BUCKETS: u64 = 4096;

    fn new(timeout: u64) -> Wheel {
        let n = (timeout + 2)
            .next_power_of_two()
            .clamp(8, Self::MAX_BUCKETS) as usize;
        Wheel {
            heads: vec![NIL; n].into_boxed_slice(),
            tails: vec![NIL; n].into_boxed_slice(),
            mask: n as u64 - 1,
            done: None,
            low: 0,
        }
    }

    #[inline(always)]
    fn bucket(&self, second: u64) -> usize {
        (second & self.mask) as usize
    }

    fn buckets(&self) -> u64 {
        self.mask + 1
    }

    /// The second an entry placed at `placed_secs` is filed under: never one already passed.
    fn file(&mut self, placed_secs: u64) -> u64 {
        let s = match self.done {
            Some(d) => placed_secs.max(d + 1),
            None => {
                self.done = Some(placed_secs.saturating_sub(1));
                self.low = placed_secs;
                placed_secs
            }
        };
        self.low = self.low.min(s);
        s
    }

    /// The first second to expire when time has reached `target`, if any.
    fn next_second(&self, target: u64) -> Option<u64> {
        let from = self.done? + 1;
        (from <= target).then_some(from)
    }

    /// Every second up to `target` has been expired.
    fn finished(&mut self, target: u64) {
        self.done = Some(target);
        self.low = self.low.max(target + 1);
    }

    /// The first entry of the earliest non-empty second.
    fn oldest(&mut self) -> Option<u32> {
        let from = self.done? + 1;
        let start = self.low.max(from);
        for s in start..start + self.buckets() {
            let h = self.heads[self.bucket(s)];
            if h != NIL {
                self.low = s;
                return Some(h);
            }
        }
        None
    }
}

#[inline(always)]
fn direction(e: &Entry, src_low: bool) -> Direction {
    if src_low == e.has(flag::INIT_LOW) {
        Direction::ToServer
    } else {
        Direction::ToClient
    }
}

/// A deterministic `flow_id`: a public hash of the key as the initiator sees it and the first
/// packet's time, below 2^53 (exact in JSON readers that hold numbers as doubles) and never 0.
fn flow_id(key: &ConnKey, init_low: bool, start_ns: u64) -> u64 {
    let k = Keys::PUBLIC.0;
    let h = Keys::PUBLIC.hash5(&key.w);
    let id = fold_mul(h ^ start_ns ^ k[6], k[7] ^ u64::from(init_low)) & ((1 << 53) - 1);
    id.max(1)
}

fn record(e: &Entry, c: &Cold, index: usize, reason: FlowEndReason) -> ConnRecord {
    let (init, resp) = if e.has(flag::INIT_LOW) {
        (e.key.endpoint(false), e.key.endpoint(true))
    } else {
        (e.key.endpoint(true), e.key.endpoint(false))
    };
    let proto = e.key.proto();
    let transport = e.key.port_kind() == crate::PortKind::Transport;
    let state = match e.flow_state {
        FS_NEW => FlowState::New,
        FS_ESTABLISHED => FlowState::Established,
        _ => FlowState::Closed,
    };
    let tcp = (proto == ip_proto::TCP).then(|| {
        if e.tcp.session {
            FlowTcp {
                tcp_flags: e.tcp.flags,
                tcp_flags_ts: e.tcp.peers[0].flags,
                tcp_flags_tc: e.tcp.peers[1].flags,
                state: Some(e.tcp.state.eve()),
                ..FlowTcp::default()
            }
        } else {
            FlowTcp::default()
        }
    });
    ConnRecord {
        handle: ConnHandle {
            index: index as u32,
            generation: e.generation,
        },
        flow_id: e.flow_id,
        vlan: e.key.vlan(),
        src_ip: init.0,
        src_port: if transport { init.1 } else { 0 },
        dest_ip: resp.0,
        dest_port: if transport { resp.1 } else { 0 },
        proto,
        icmp: e.has(flag::HAS_ICMP).then_some(e.icmp_first),
        response_icmp: (e.has(flag::HAS_RESPONSE) && e.pkts[1] > 0).then_some(e.icmp_response),
        app_proto: c.app_proto,
        pkts_toserver: e.pkts[0],
        pkts_toclient: e.pkts[1],
        bytes_toserver: e.bytes[0],
        bytes_toclient: e.bytes[1],
        related_pkts: e.related_pkts,
        related_bytes: e.related_bytes,
        start_ns: e.start_ns,
        end_ns: e.last_ns,
        state,
        reason,
        alerted: e.has(flag::ALERTED),
        tcp,
    }
}

#[cfg(test)]
mod tests;
