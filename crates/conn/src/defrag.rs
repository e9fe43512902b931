//! IPv4 and IPv6 reassembly before the connection table, with Suricata's overlap policies,
//! limits and timeout.
//!
//! [`Defrag::push`] takes a frame and its parse. A packet that is not a fragment is
//! `NotFragment`; a fragment is held (`Held`) until its datagram is complete, then the
//! datagram is written into the caller's buffer as one frame (`Complete`): the first
//! fragment's link header, its IP header without fragmentation (IPv4: flags and offset cleared,
//! total length and checksum fixed; IPv6: the fragment header removed, the payload length and
//! the previous next-header fixed), and the payload, so the caller parses it afresh. A fragment
//! the rules refuse is `Dropped` with the reason, counted.
//!
//! **Overlaps** are resolved per byte between the fragment arriving and the fragment that
//! holds the byte so far, by the target-based policies of Novak and Sturges that Suricata
//! implements (`defrag.c`; its `DefragSturgesNovak*` tests are reproduced here): `first` keeps
//! the old data, `last` takes the new; `bsd` takes the new fragment where it starts before the
//! old one, `linux` also where it starts at the same offset, `windows` where it starts before
//! and ends after it, `solaris` where it starts before and ends at or after it. Suricata's
//! default is `bsd`, and so is ours.
//!
//! **Limits**: fragments per datagram ([`DefragConfig::max_fragments`]), the reassembled size
//! (65,535 bytes of IP datagram), the bytes held in total ([`DefragConfig::memcap`]), the
//! datagrams in reassembly at once ([`DefragConfig::max_trackers`]; when full, the oldest is
//! dropped, as Suricata reuses its oldest tracker), and the timeout: 60 s from a datagram's
//! first fragment (Suricata's `defrag.timeout` default, `TIMEOUT_DEFAULT` in `defrag.c`).
//! Fragments are keyed by VLAN, addresses and IP id, plus the protocol for IPv4 (as Suricata:
//! fragments of another protocol never join a datagram).
//!
//! This module never trusts a length field (every read is checked against the frame) and
//! allocates only while its buffers grow to their working size; after that, nothing per packet.

use std::collections::{HashMap, VecDeque};

use wire::{Fragment, L3, ParsedPacket, ip_proto};

/// The largest frame [`Defrag::push`] can write: a 65,535-byte IPv4 datagram or an IPv6
/// datagram with a 65,535-byte payload, behind a link header of up to 256 bytes.
pub const MAX_REASSEMBLED_FRAME: usize = 256 + 40 + 65_535;

/// Which data wins where fragments overlap (see the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OverlapPolicy {
    First,
    Last,
    #[default]
    Bsd,
    Linux,
    Windows,
    Solaris,
}

impl OverlapPolicy {
    /// Every policy, for configuration parsers and tests.
    pub const ALL: [OverlapPolicy; 6] = [
        OverlapPolicy::First,
        OverlapPolicy::Last,
        OverlapPolicy::Bsd,
        OverlapPolicy::Linux,
        OverlapPolicy::Windows,
        OverlapPolicy::Solaris,
    ];

    /// Whether a fragment covering `new` wins a byte held by one covering `old` (offsets and
    /// ends in bytes of the fragmentable part).
    fn new_wins(self, new: (u32, u32), old: (u32, u32)) -> bool {
        match self {
            OverlapPolicy::First => false,
            OverlapPolicy::Last => true,
            OverlapPolicy::Bsd => new.0 < old.0,
            OverlapPolicy::Linux => new.0 <= old.0,
            OverlapPolicy::Windows => new.0 < old.0 && new.1 > old.1,
            OverlapPolicy::Solaris => new.0 < old.0 && new.1 >= old.1,
        }
    }
}

/// Limits and policy of a [`Defrag`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DefragConfig {
    pub policy: OverlapPolicy,
    /// Most fragments one datagram may have; one more drops the datagram.
    pub max_fragments: u16,
    /// Most bytes of fragment data held at once, over all datagrams.
    pub memcap: usize,
    /// Most datagrams in reassembly at once.
    pub max_trackers: u32,
    /// Seconds from a datagram's first fragment until it is given up.
    pub timeout_secs: u32,
}

impl Default for DefragConfig {
    fn default() -> Self {
        DefragConfig {
            policy: OverlapPolicy::Bsd,
            max_fragments: 256,
            memcap: 32 << 20,
            max_trackers: 4096,
            timeout_secs: 60,
        }
    }
}

/// Why a fragment (or its datagram) was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DefragDrop {
    /// The header is cut short, a length field lies, a fragment other than the last is not a
    /// multiple of 8 bytes or is empty, or two last fragments disagree on the end.
    Malformed,
    /// The datagram would exceed 65,535 bytes.
    TooLarge,
    /// The datagram has more fragments than allowed; it is dropped whole.
    TooManyFragments,
    /// Holding the fragment would pass the memory cap.
    Memcap,
    /// The caller's buffer cannot hold the reassembled frame.
    BufferTooSmall,
}

/// What became of a pushed packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefragOutcome {
    /// Not a fragment: track it as it is.
    NotFragment,
    /// Held until its datagram is complete.
    Held,
    /// The datagram is complete: `out[..len]` holds it as one frame.
    Complete { len: usize },
    /// Refused (counted).
    Dropped(DefragDrop),
}

/// Counters of a [`Defrag`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DefragCounters {
    pub fragments_v4: u64,
    pub fragments_v6: u64,
    pub reassembled: u64,
    pub dropped_malformed: u64,
    pub dropped_too_large: u64,
    pub dropped_too_many: u64,
    pub dropped_memcap: u64,
    pub dropped_buffer: u64,
    /// Datagrams given up at their timeout.
    pub timed_out: u64,
    /// Datagrams given up to make room for a new one.
    pub evicted: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct TrackerKey {
    src: [u8; 16],
    dst: [u8; 16],
    id: u32,
    /// IPv4 protocol; 0xffff marks IPv6 (keyed without a protocol).
    proto: u16,
    vlan: u16,
}

#[derive(Clone, Copy, Debug)]
struct Frag {
    off: u32,
    len: u32,
    at: u32,
}

#[derive(Debug, Default)]
struct Tracker {
    key: Option<TrackerKey>,
    generation: u32,
    start_secs: u64,
    frags: Vec<Frag>,
    data: Vec<u8>,
    /// Link header plus IP header (IPv6: up to the fragment header) of the first fragment.
    header: Vec<u8>,
    l3_in_header: usize,
    /// IPv6: where in `header` the next-header byte that named the fragment header is, and
    /// what the fragment header's own next header was.
    nh_at: usize,
    next_header: u8,
    has_first: bool,
    end: Option<u32>,
}

/// The fields of one fragment, read from its frame.
struct FragInfo<'a> {
    key: TrackerKey,
    v6: bool,
    off: u32,
    more: bool,
    payload: &'a [u8],
    /// Link + IP header bytes before the fragmentable part (IPv6: before the fragment header).
    header: &'a [u8],
    l3: usize,
    nh_at: usize,
    next_header: u8,
}

/// IPv4 and IPv6 reassembly for one worker (see the module documentation).
#[derive(Debug)]
pub struct Defrag {
    config: DefragConfig,
    trackers: Vec<Tracker>,
    free: Vec<usize>,
    index: HashMap<TrackerKey, usize>,
    /// Trackers in order of creation (which is their timeout order), with their generation.
    fifo: VecDeque<(usize, u32)>,
    held_bytes: usize,
    owner: Vec<u16>,
    spans: Vec<(u32, u32)>,
    counters: DefragCounters,
}

const NO_OWNER: u16 = u16::MAX;
const MAX_PAYLOAD: u32 = 65_535;

impl Defrag {
    pub fn new(config: DefragConfig) -> Self {
        let n = config.max_trackers.max(1) as usize;
        Defrag {
            config,
            trackers: Vec::new(),
            free: Vec::new(),
            index: HashMap::with_capacity(n),
            fifo: VecDeque::with_capacity(n),
            held_bytes: 0,
            owner: vec![NO_OWNER; MAX_PAYLOAD as usize + 1],
            spans: Vec::with_capacity(usize::from(config.max_fragments)),
            counters: DefragCounters::default(),
        }
    }

    pub fn counters(&self) -> &DefragCounters {
        &self.counters
    }

    /// Datagrams in reassembly.
    pub fn pending(&self) -> usize {
        self.index.len()
    }

    /// Bytes of fragment data held.
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// Takes one packet; see [`DefragOutcome`]. `vlan` is the bridge-internal VLAN, `now_ns`
    /// the packet's time, `out` where a completed datagram is written.
    pub fn push(
        &mut self,
        frame: &[u8],
        p: &ParsedPacket,
        vlan: u16,
        now_ns: u64,
        out: &mut [u8],
    ) -> DefragOutcome {
        if p.fragment == Fragment::No {
            return DefragOutcome::NotFragment;
        }
        let info = match p.l3 {
            L3::Ipv4 => read_v4(frame, usize::from(p.l3_offset), vlan),
            L3::Ipv6 => read_v6(frame, usize::from(p.l3_offset), vlan),
            _ => return DefragOutcome::NotFragment,
        };
        let info = match info {
            Ok(Some(info)) => info,
            Ok(None) => return DefragOutcome::NotFragment,
            Err(why) => return self.drop_fragment(why, p.l3 == L3::Ipv6),
        };
        if info.v6 {
            self.counters.fragments_v6 += 1;
        } else {
            self.counters.fragments_v4 += 1;
        }
        let len = info.payload.len() as u32;
        if len == 0 || (info.more && !len.is_multiple_of(8)) {
            return self.drop_fragment(DefragDrop::Malformed, info.v6);
        }
        let header_ip = info.header.len() - info.l3;
        let limit = if info.v6 {
            MAX_PAYLOAD - (header_ip as u32 - 40)
        } else {
            MAX_PAYLOAD - header_ip as u32
        };
        if info.off + len > limit {
            return self.drop_fragment(DefragDrop::TooLarge, info.v6);
        }
        let now_secs = now_ns / 1_000_000_000;
        let t = match self.index.get(&info.key).copied() {
            Some(t)
                if self.trackers[t].start_secs + u64::from(self.config.timeout_secs) < now_secs =>
            {
                self.release(t);
                self.counters.timed_out += 1;
                self.new_tracker(info.key, now_secs)
            }
            Some(t) => t,
            None => self.new_tracker(info.key, now_secs),
        };
        if self.trackers[t].frags.len() >= usize::from(self.config.max_fragments) {
            self.release(t);
            return self.drop_fragment(DefragDrop::TooManyFragments, info.v6);
        }
        if self.held_bytes + len as usize > self.config.memcap {
            if self.trackers[t].frags.is_empty() {
                self.release(t);
            }
            return self.drop_fragment(DefragDrop::Memcap, info.v6);
        }
        let tr = &mut self.trackers[t];
        if !info.more {
            let end = info.off + len;
            if tr.end.is_some_and(|e| e != end) {
                return self.drop_fragment(DefragDrop::Malformed, info.v6);
            }
            tr.end = Some(end);
        }
        if info.off == 0 && !tr.has_first {
            tr.has_first = true;
            tr.header.clear();
            tr.header.extend_from_slice(info.header);
            tr.l3_in_header = info.l3;
            tr.nh_at = info.nh_at;
            tr.next_header = info.next_header;
        }
        tr.frags.push(Frag {
            off: info.off,
            len,
            at: tr.data.len() as u32,
        });
        tr.data.extend_from_slice(info.payload);
        self.held_bytes += len as usize;
        match self.try_complete(t, info.v6, out) {
            Some(outcome) => outcome,
            None => DefragOutcome::Held,
        }
    }

    /// Gives up every datagram whose first fragment is older than the timeout at `now_ns`.
    pub fn expire(&mut self, now_ns: u64) {
        let now_secs = now_ns / 1_000_000_000;
        while let Some(&(t, generation)) = self.fifo.front() {
            let tr = &self.trackers[t];
            if tr.key.is_none() || tr.generation != generation {
                self.fifo.pop_front();
                continue;
            }
            if tr.start_secs + u64::from(self.config.timeout_secs) >= now_secs {
                break;
            }
            self.fifo.pop_front();
            self.release(t);
            self.counters.timed_out += 1;
        }
    }

    fn drop_fragment(&mut self, why: DefragDrop, _v6: bool) -> DefragOutcome {
        let c = &mut self.counters;
        match why {
            DefragDrop::Malformed => c.dropped_malformed += 1,
            DefragDrop::TooLarge => c.dropped_too_large += 1,
            DefragDrop::TooManyFragments => c.dropped_too_many += 1,
            DefragDrop::Memcap => c.dropped_memcap += 1,
            DefragDrop::BufferTooSmall => c.dropped_buffer += 1,
        }
        DefragOutcome::Dropped(why)
    }

    fn new_tracker(&mut self, key: TrackerKey, now_secs: u64) -> usize {
        if self.index.len() >= self.config.max_trackers.max(1) as usize {
            // Make room: the oldest datagram goes.
            while let Some((t, generation)) = self.fifo.pop_front() {
                let tr = &self.trackers[t];
                if tr.key.is_some() && tr.generation == generation {
                    self.release(t);
                    self.counters.evicted += 1;
                    break;
                }
            }
        }
        let t = match self.free.pop() {
            Some(t) => t,
            None => {
                self.trackers.push(Tracker::default());
                self.trackers.len() - 1
            }
        };
        let tr = &mut self.trackers[t];
        tr.key = Some(key);
        tr.start_secs = now_secs;
        tr.frags.clear();
        tr.data.clear();
        tr.header.clear();
        tr.has_first = false;
        tr.end = None;
        self.index.insert(key, t);
        self.fifo.push_back((t, tr.generation));
        t
    }

    fn release(&mut self, t: usize) {
        let tr = &mut self.trackers[t];
        if let Some(key) = tr.key.take() {
            self.index.remove(&key);
            self.held_bytes -= tr.data.len();
            tr.generation = tr.generation.wrapping_add(1);
            tr.frags.clear();
            tr.data.clear();
            self.free.push(t);
        }
    }

    /// Writes the datagram if tracker `t` covers it whole.
    fn try_complete(&mut self, t: usize, v6: bool, out: &mut [u8]) -> Option<DefragOutcome> {
        let tr = &self.trackers[t];
        let end = tr.end?;
        if !tr.has_first {
            return None;
        }
        self.spans.clear();
        self.spans
            .extend(tr.frags.iter().map(|f| (f.off, f.off + f.len)));
        self.spans.sort_unstable();
        let mut covered = 0u32;
        for &(s, e) in &self.spans {
            if s > covered {
                return None;
            }
            covered = covered.max(e);
        }
        if covered < end {
            return None;
        }
        let header_len = tr.header.len();
        let total = header_len + end as usize;
        if out.len() < total {
            self.release(t);
            return Some(self.drop_fragment(DefragDrop::BufferTooSmall, v6));
        }
        out[..header_len].copy_from_slice(&tr.header);
        let body = &mut out[header_len..total];
        let owner = &mut self.owner[..end as usize];
        owner.fill(NO_OWNER);
        let policy = self.config.policy;
        for (n, f) in tr.frags.iter().enumerate() {
            let new = (f.off, f.off + f.len);
            let stop = (f.off + f.len).min(end);
            for pos in f.off..stop {
                let o = owner[pos as usize];
                let wins = o == NO_OWNER || {
                    let old = &tr.frags[usize::from(o)];
                    policy.new_wins(new, (old.off, old.off + old.len))
                };
                if wins {
                    owner[pos as usize] = n as u16;
                    body[pos as usize] = tr.data[(f.at + pos - f.off) as usize];
                }
            }
        }
        let l3 = tr.l3_in_header;
        let ip = &mut out[l3..total];
        if v6 {
            let plen = (total - l3 - 40) as u16;
            ip[4..6].copy_from_slice(&plen.to_be_bytes());
            let nh_at = tr.nh_at - l3;
            ip[nh_at] = tr.next_header;
        } else {
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            let tot = (total - l3) as u16;
            ip[2..4].copy_from_slice(&tot.to_be_bytes());
            ip[6] = 0;
            ip[7] = 0;
            ip[10] = 0;
            ip[11] = 0;
            let sum = wire::checksum::checksum(&ip[..ihl]);
            ip[10..12].copy_from_slice(&sum.to_be_bytes());
        }
        self.release(t);
        self.counters.reassembled += 1;
        Some(DefragOutcome::Complete { len: total })
    }
}

fn read_v4(frame: &[u8], l3: usize, vlan: u16) -> Result<Option<FragInfo<'_>>, DefragDrop> {
    let h = frame.get(l3..l3 + 20).ok_or(DefragDrop::Malformed)?;
    let ihl = usize::from(h[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if ihl < 20 || total < ihl || frame.len() < l3 + total {
        return Err(DefragDrop::Malformed);
    }
    let fo = u16::from_be_bytes([h[6], h[7]]);
    let more = fo & 0x2000 != 0;
    let off = u32::from(fo & 0x1fff) * 8;
    if !more && off == 0 {
        return Ok(None);
    }
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src[..4].copy_from_slice(&h[12..16]);
    dst[..4].copy_from_slice(&h[16..20]);
    Ok(Some(FragInfo {
        key: TrackerKey {
            src,
            dst,
            id: u32::from(u16::from_be_bytes([h[4], h[5]])),
            proto: u16::from(h[9]),
            vlan,
        },
        v6: false,
        off,
        more,
        payload: &frame[l3 + ihl..l3 + total],
        header: &frame[..l3 + ihl],
        l3,
        nh_at: 0,
        next_header: h[9],
    }))
}

fn read_v6(frame: &[u8], l3: usize, vlan: u16) -> Result<Option<FragInfo<'_>>, DefragDrop> {
    let h = frame.get(l3..l3 + 40).ok_or(DefragDrop::Malformed)?;
    let end = l3 + 40 + usize::from(u16::from_be_bytes([h[4], h[5]]));
    if frame.len() < end {
        return Err(DefragDrop::Malformed);
    }
    let mut next = h[6];
    let mut nh_at = l3 + 6;
    let mut at = l3 + 40;
    for _ in 0..8 {
        match next {
            ip_proto::IPV6_FRAG => {
                let f = frame.get(at..at + 8).filter(|_| at + 8 <= end);
                let f = f.ok_or(DefragDrop::Malformed)?;
                let fo = u16::from_be_bytes([f[2], f[3]]);
                let off = u32::from(fo >> 3) * 8;
                let more = fo & 1 != 0;
                if !more && off == 0 {
                    return Ok(None);
                }
                let mut src = [0u8; 16];
                let mut dst = [0u8; 16];
                src.copy_from_slice(&h[8..24]);
                dst.copy_from_slice(&h[24..40]);
                return Ok(Some(FragInfo {
                    key: TrackerKey {
                        src,
                        dst,
                        id: u32::from_be_bytes([f[4], f[5], f[6], f[7]]),
                        proto: 0xffff,
                        vlan,
                    },
                    v6: true,
                    off,
                    more,
                    payload: &frame[at + 8..end],
                    header: &frame[..at],
                    l3,
                    nh_at,
                    next_header: f[0],
                }));
            }
            ip_proto::HOPOPT | ip_proto::IPV6_ROUTE | ip_proto::IPV6_OPTS => {
                let e = frame.get(at..at + 2).ok_or(DefragDrop::Malformed)?;
                nh_at = at;
                next = e[0];
                at += (usize::from(e[1]) + 1) * 8;
                if at > end {
                    return Err(DefragDrop::Malformed);
                }
            }
            _ => return Ok(None),
        }
    }
    Ok(None)
}
