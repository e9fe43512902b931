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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use wire::parse_packet;

    const SEC: u64 = 1_000_000_000;

    /// Ethernet + IPv4 fragment of protocol `proto` carrying `data` at byte offset `off`.
    fn v4(id: u16, off: u32, more: bool, data: &[u8], proto: u8) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20];
        f[12] = 0x08;
        f[14] = 0x45;
        let total = (20 + data.len()) as u16;
        f[16..18].copy_from_slice(&total.to_be_bytes());
        f[18..20].copy_from_slice(&id.to_be_bytes());
        let fo = (off / 8) as u16 | if more { 0x2000 } else { 0 };
        f[20..22].copy_from_slice(&fo.to_be_bytes());
        f[22] = 64;
        f[23] = proto;
        f[26..30].copy_from_slice(&[192, 0, 2, 1]);
        f[30..34].copy_from_slice(&[192, 0, 2, 2]);
        let sum = wire::checksum::checksum(&f[14..34]);
        f[24..26].copy_from_slice(&sum.to_be_bytes());
        f.extend_from_slice(data);
        f
    }

    /// Ethernet + IPv6 + hop-by-hop + fragment header carrying `data` at `off`.
    fn v6(id: u32, off: u32, more: bool, data: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 40 + 8 + 8];
        f[12] = 0x86;
        f[13] = 0xdd;
        f[14] = 0x60;
        let plen = (16 + data.len()) as u16;
        f[18..20].copy_from_slice(&plen.to_be_bytes());
        f[20] = ip_proto::HOPOPT;
        f[21] = 64;
        f[22..38].copy_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        f[38..54].copy_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        // Hop-by-hop: next = fragment, length 0, PadN.
        f[54] = ip_proto::IPV6_FRAG;
        f[56] = 1;
        f[57] = 4;
        f[62] = ip_proto::ICMPV6;
        let fo = (off as u16) | u16::from(more);
        f[64..66].copy_from_slice(&fo.to_be_bytes());
        f[66..70].copy_from_slice(&id.to_be_bytes());
        f.extend_from_slice(data);
        f
    }

    fn push(d: &mut Defrag, f: &[u8], at: u64, out: &mut [u8]) -> DefragOutcome {
        d.push(f, &parse_packet(f), 0, at, out)
    }

    /// The Novak/Sturges pattern of Suricata's `DefragSturgesNovak*` tests: (letter, offset,
    /// length), originals first, then the overlapping ones; the last (Q) ends the datagram.
    const PATTERN: [(u8, u32, usize); 17] = [
        (b'A', 0, 24),
        (b'B', 32, 16),
        (b'C', 48, 24),
        (b'D', 80, 8),
        (b'E', 104, 16),
        (b'F', 120, 24),
        (b'G', 144, 16),
        (b'H', 160, 16),
        (b'I', 176, 8),
        (b'J', 8, 32),
        (b'K', 48, 24),
        (b'L', 72, 24),
        (b'M', 96, 24),
        (b'N', 128, 8),
        (b'O', 152, 8),
        (b'P', 160, 8),
        (b'Q', 176, 16),
    ];

    fn expected(policy: OverlapPolicy) -> &'static [u8; 24] {
        match policy {
            OverlapPolicy::Bsd => b"AAAJJBCCCLLLMMMFFFGGHHIQ",
            OverlapPolicy::Linux => b"AAAJJBKKKLLLMMMFFFGGPHQQ",
            OverlapPolicy::Windows => b"AAAJBBCCCLLLMEEFFFGGHHIQ",
            OverlapPolicy::Solaris => b"AAAJBBCCCLLLMMMFFFGGHHIQ",
            OverlapPolicy::First => b"AAAJBBCCCLDLMEEFFFGGHHIQ",
            OverlapPolicy::Last => b"AJJJJBKKKLLLMMMFNFGOPHQQ",
        }
    }

    fn unit_letters(payload: &[u8]) -> Vec<u8> {
        payload.chunks(8).map(|c| c[0]).collect()
    }

    #[test]
    fn sturges_novak_overlaps_under_every_policy() {
        for policy in OverlapPolicy::ALL {
            for ipv6 in [false, true] {
                let mut d = Defrag::new(DefragConfig {
                    policy,
                    ..DefragConfig::default()
                });
                let mut out = vec![0u8; MAX_REASSEMBLED_FRAME];
                let mut result = None;
                for (n, &(letter, off, len)) in PATTERN.iter().enumerate() {
                    let data = vec![letter; len];
                    let more = n != PATTERN.len() - 1;
                    let f = if ipv6 {
                        v6(9, off, more, &data)
                    } else {
                        v4(9, off, more, &data, 1)
                    };
                    result = Some(push(&mut d, &f, SEC, &mut out));
                    if more {
                        assert_eq!(result, Some(DefragOutcome::Held), "{policy:?} {n}");
                    }
                }
                let Some(DefragOutcome::Complete { len }) = result else {
                    panic!("{policy:?} v6={ipv6}: {result:?}");
                };
                let hdr = if ipv6 { 14 + 40 + 8 } else { 14 + 20 };
                assert_eq!(len, hdr + 192);
                assert_eq!(
                    unit_letters(&out[hdr..len]),
                    expected(policy).to_vec(),
                    "{policy:?} v6={ipv6}"
                );
                assert_eq!(d.pending(), 0);
                assert_eq!(d.held_bytes(), 0);
            }
        }
    }

    #[test]
    fn reassembled_headers_are_fixed() {
        let mut d = Defrag::new(DefragConfig::default());
        let mut out = vec![0u8; MAX_REASSEMBLED_FRAME];
        let payload: Vec<u8> = (0..100u8).collect();
        assert_eq!(
            push(&mut d, &v4(1, 48, false, &payload[48..], 17), 0, &mut out),
            DefragOutcome::Held
        );
        let DefragOutcome::Complete { len } =
            push(&mut d, &v4(1, 0, true, &payload[..48], 17), 0, &mut out)
        else {
            panic!("not complete");
        };
        let f = &out[..len];
        let p = parse_packet(f);
        assert_eq!(p.fragment, Fragment::No);
        assert_eq!(p.ip_len, 120);
        assert_eq!(
            wire::checksum::checksum(&f[14..34]),
            0,
            "header checksum verifies"
        );
        assert_eq!(&f[34..], &payload[..]);

        let DefragOutcome::Held = push(&mut d, &v6(5, 0, true, &payload[..48]), 0, &mut out) else {
            panic!("not held");
        };
        let DefragOutcome::Complete { len } =
            push(&mut d, &v6(5, 48, false, &payload[48..]), 0, &mut out)
        else {
            panic!("not complete");
        };
        let f = &out[..len];
        let p = parse_packet(f);
        assert_eq!(p.fragment, Fragment::No);
        assert_eq!(p.ipv6_ext, 0b1, "hop-by-hop kept, fragment header gone");
        assert_eq!(p.ip_proto, ip_proto::ICMPV6);
        assert_eq!(p.ip_len as usize, 40 + 8 + 100);
        assert_eq!(&f[14 + 48..], &payload[..]);
        assert_eq!(d.counters().reassembled, 2);
    }

    #[test]
    fn not_fragments_pass_through() {
        let mut d = Defrag::new(DefragConfig::default());
        let mut out = vec![0u8; 100];
        let f = v4(1, 0, false, b"whole", 17);
        assert_eq!(push(&mut d, &f, 0, &mut out), DefragOutcome::NotFragment);
        assert_eq!(
            push(&mut d, &[0u8; 10], 0, &mut out),
            DefragOutcome::NotFragment
        );
    }

    #[test]
    fn duplicates_and_other_protocols_do_not_disturb() {
        let mut d = Defrag::new(DefragConfig::default());
        let mut out = vec![0u8; MAX_REASSEMBLED_FRAME];
        push(&mut d, &v4(3, 0, true, &[1; 8], 1), 0, &mut out);
        push(&mut d, &v4(3, 0, true, &[1; 8], 1), 0, &mut out);
        // Same id, another protocol: another datagram (Suricata's DefragTestBadProto).
        assert_eq!(
            push(&mut d, &v4(3, 8, false, &[9; 8], 17), 0, &mut out),
            DefragOutcome::Held
        );
        let r = push(&mut d, &v4(3, 8, false, &[2; 8], 1), 0, &mut out);
        assert_eq!(r, DefragOutcome::Complete { len: 14 + 20 + 16 });
        assert_eq!(
            &out[34..50],
            &[1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2]
        );
        assert_eq!(d.pending(), 1);
    }

    #[test]
    fn fragments_beyond_the_end_are_left_out() {
        // Suricata's DefragMfIpv4Test: offsets 2 (MF), 0 (MF), 1 (last) give 16 bytes.
        let mut d = Defrag::new(DefragConfig::default());
        let mut out = vec![0u8; MAX_REASSEMBLED_FRAME];
        push(&mut d, &v4(9, 16, true, &[3; 8], 1), 0, &mut out);
        push(&mut d, &v4(9, 0, true, &[1; 8], 1), 0, &mut out);
        let r = push(&mut d, &v4(9, 8, false, &[2; 8], 1), 0, &mut out);
        assert_eq!(r, DefragOutcome::Complete { len: 14 + 20 + 16 });
    }

    #[test]
    fn limits_are_enforced_and_counted() {
        let mut out = vec![0u8; MAX_REASSEMBLED_FRAME];
        // Too many fragments: the datagram goes.
        let mut d = Defrag::new(DefragConfig {
            max_fragments: 3,
            ..DefragConfig::default()
        });
        for off in [0, 8, 16] {
            assert_eq!(
                push(&mut d, &v4(1, off, true, &[0; 8], 1), 0, &mut out),
                DefragOutcome::Held
            );
        }
        let r = push(&mut d, &v4(1, 24, false, &[0; 8], 1), 0, &mut out);
        assert_eq!(r, DefragOutcome::Dropped(DefragDrop::TooManyFragments));
        assert_eq!((d.pending(), d.held_bytes()), (0, 0));
        // Too large: past 65,535 bytes of datagram (Suricata's DefragIPv4TooLargeTest).
        let r = push(&mut d, &v4(2, 8183 * 8, false, &[0; 71], 1), 0, &mut out);
        assert_eq!(r, DefragOutcome::Dropped(DefragDrop::TooLarge));
        // Malformed: a middle fragment not a multiple of 8, an empty one.
        let r = push(&mut d, &v4(3, 0, true, &[0; 7], 1), 0, &mut out);
        assert_eq!(r, DefragOutcome::Dropped(DefragDrop::Malformed));
        let r = push(&mut d, &v4(3, 8, false, &[], 1), 0, &mut out);
        assert_eq!(r, DefragOutcome::Dropped(DefragDrop::Malformed));
        // Memory cap.
        let mut d = Defrag::new(DefragConfig {
            memcap: 20,
            ..DefragConfig::default()
        });
        assert_eq!(
            push(&mut d, &v4(1, 0, true, &[0; 16], 1), 0, &mut out),
            DefragOutcome::Held
        );
        let r = push(&mut d, &v4(2, 0, true, &[0; 8], 1), 0, &mut out);
        assert_eq!(r, DefragOutcome::Dropped(DefragDrop::Memcap));
        assert_eq!(d.counters().dropped_memcap, 1);
        assert_eq!(
            d.pending(),
            1,
            "the refused fragment leaves no tracker behind"
        );
        // The caller's buffer.
        let mut d = Defrag::new(DefragConfig::default());
        let mut small = vec![0u8; 40];
        push(&mut d, &v4(1, 0, true, &[0; 16], 1), 0, &mut small);
        let r = push(&mut d, &v4(1, 16, false, &[0; 16], 1), 0, &mut small);
        assert_eq!(r, DefragOutcome::Dropped(DefragDrop::BufferTooSmall));
    }

    #[test]
    fn timeouts_and_eviction() {
        let mut out = vec![0u8; MAX_REASSEMBLED_FRAME];
        let mut d = Defrag::new(DefragConfig::default());
        push(&mut d, &v4(1, 0, true, &[0; 8], 1), 10 * SEC, &mut out);
        push(&mut d, &v4(2, 0, true, &[0; 8], 1), 40 * SEC, &mut out);
        d.expire(70 * SEC);
        assert_eq!(d.pending(), 2, "not yet: 60 s from the first fragment");
        d.expire(71 * SEC);
        assert_eq!((d.pending(), d.counters().timed_out), (1, 1));
        // A late fragment of a timed-out datagram starts over instead of completing it.
        let r = push(
            &mut d,
            &v4(2, 8, false, &[0; 8], 1),
            101 * SEC + 1,
            &mut out,
        );
        assert_eq!(r, DefragOutcome::Held);
        assert_eq!(d.counters().timed_out, 2);
        // Full: the oldest datagram makes room.
        let mut d = Defrag::new(DefragConfig {
            max_trackers: 2,
            ..DefragConfig::default()
        });
        for id in 1..=3 {
            push(
                &mut d,
                &v4(id, 0, true, &[0; 8], 1),
                u64::from(id) * SEC,
                &mut out,
            );
        }
        assert_eq!((d.pending(), d.counters().evicted), (2, 1));
        let r = push(&mut d, &v4(1, 8, false, &[0; 8], 1), 5 * SEC, &mut out);
        assert_eq!(r, DefragOutcome::Held, "datagram 1 was the one evicted");
    }

    proptest! {
        #[test]
        fn any_fragmentation_in_any_order_gives_the_datagram_back(
            payload in proptest::collection::vec(any::<u8>(), 1..3000),
            cuts in proptest::collection::vec(1usize..400, 1..20),
            order in any::<u64>(),
            dup in any::<bool>(),
            ipv6 in any::<bool>(),
            policy in 0usize..6,
        ) {
            let mut frags = Vec::new();
            let mut off = 0usize;
            for c in cuts.iter().copied().cycle() {
                if off >= payload.len() { break; }
                let len = (c * 8).min(payload.len() - off);
                let len = if off + len < payload.len() { len - len % 8 } else { len };
                let len = if len == 0 { 8.min(payload.len() - off) } else { len };
                frags.push((off, len));
                off += len;
            }
            let last = frags.len() - 1;
            let mut built: Vec<Vec<u8>> = frags.iter().enumerate().map(|(n, &(o, l))| {
                let data = &payload[o..o + l];
                if ipv6 { v6(77, o as u32, n != last, data) } else { v4(77, o as u32, n != last, data, 17) }
            }).collect();
            if dup { let again = built[0].clone(); built.push(again); }
            // A deterministic shuffle from `order`.
            let mut s = order | 1;
            for i in (1..built.len()).rev() {
                s ^= s << 13; s ^= s >> 7; s ^= s << 17;
                built.swap(i, (s % (i as u64 + 1)) as usize);
            }
            let mut d = Defrag::new(DefragConfig { policy: OverlapPolicy::ALL[policy], ..DefragConfig::default() });
            let mut out = vec![0u8; MAX_REASSEMBLED_FRAME];
            let mut complete = None;
            for f in &built {
                match push(&mut d, f, 0, &mut out) {
                    DefragOutcome::Complete { len } => { complete = Some(len); break; }
                    DefragOutcome::Held => {}
                    other if frags.len() == 1 => prop_assert_eq!(other, DefragOutcome::NotFragment),
                    other => prop_assert!(false, "unexpected {:?}", other),
                }
            }
            if frags.len() > 1 {
                let len = complete.expect("complete");
                let hdr = if ipv6 { 14 + 48 } else { 34 };
                prop_assert_eq!(&out[hdr..len], &payload[..]);
                let p = parse_packet(&out[..len]);
                prop_assert_eq!(p.fragment, Fragment::No);
                prop_assert_eq!(p.ip_len as usize, len - 14);
            }
        }
    }
}
