//! The connection key: what makes two packets belong to one connection, read from a packet's
//! bytes and its [`ParsedPacket`] without allocating and without trusting either.
//!
//! A key holds the bridge-internal VLAN the caller passes (never the wire tag), the IP family,
//! the protocol, and the two endpoints in a canonical order (the smaller first), so that both
//! directions of a connection give the same key; [`PacketTuple::key`] also says which side the
//! packet came from. What an endpoint's "port" is depends on the protocol:
//!
//! | protocol | port of an endpoint |
//! |---|---|
//! | TCP, UDP, SCTP | the transport port |
//! | ICMP/ICMPv6 echo request and reply | the echo identifier (both endpoints) |
//! | other ICMP/ICMPv6 messages | the sender's type, and the type the other side answers with (as Suricata keys them: a neighbour solicitation and its advertisement meet) |
//! | anything else | none (address pair and protocol) |
//!
//! ICMP errors (destination unreachable, packet too big, time exceeded, parameter problem) do
//! not get a key of their own: [`classify`] returns the tuple of the packet they quote, which
//! the table looks up.
//!
//! [`classify`] reads a packet through its full parse. The datapath's per-packet path has no
//! parse: it has the flow key, read straight from the bytes, and `classify_key` builds the
//! same tuple from that key and the few bytes it does not hold (the TCP header's sequence
//! numbers, an echo identifier), at the offsets the key's shape implies. It covers the shapes
//! nearly all traffic has (up to two VLAN tags, then IPv4 without options or IPv6 without
//! extension headers, not a fragment, a whole transport header) and declines everything else
//! (ICMP errors included), for the caller to parse. Where it answers, its answer is
//! `classify`'s: a property test in `table.rs` holds the two to that.

use flow::FlowKey;
use wire::{Fragment, L3, L4, ParsedPacket, ethertype, ip_proto};

use crate::tcp::Segment;

/// IP protocol number of SCTP.
pub const IPPROTO_SCTP: u8 = 132;

/// What kind of endpoint "ports" a key holds (see the module table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PortKind {
    /// No ports: address pair and protocol.
    None = 0,
    /// TCP, UDP or SCTP ports.
    Transport = 1,
    /// ICMP echo identifier.
    Echo = 2,
    /// ICMP message type and its counterpart.
    IcmpType = 3,
}

/// A connection key: 40 bytes, compared and hashed as five words.
///
/// Words 0-1 are the lower endpoint's address, 2-3 the higher one's (IPv4 in the first four
/// bytes, the rest zero); word 4 packs the lower and higher port, the protocol, the family and
/// port kind, and the VLAN.
#[derive(Clone, Copy, Default, Eq)]
pub struct ConnKey {
    pub(crate) w: [u64; 5],
}

impl core::hash::Hash for ConnKey {
    fn hash<H: core::hash::Hasher>(&self, h: &mut H) {
        self.w.hash(h);
    }
}

impl PartialEq for ConnKey {
    /// Branch-free over the five words (the derived comparison calls `memcmp`, which was a
    /// fifth of an established packet's time).
    #[inline(always)]
    fn eq(&self, o: &ConnKey) -> bool {
        let mut d = 0u64;
        for (a, b) in self.w.iter().zip(o.w.iter()) {
            d |= a ^ b;
        }
        d == 0
    }
}

impl core::fmt::Debug for ConnKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let (a, ap) = self.endpoint(false);
        let (b, bp) = self.endpoint(true);
        write!(
            f,
            "ConnKey(vlan {} proto {} {}:{} <-> {}:{})",
            self.vlan(),
            self.proto(),
            a,
            ap,
            b,
            bp
        )
    }
}

impl ConnKey {
    /// The VLAN the caller tracked the connection under.
    pub fn vlan(&self) -> u16 {
        (self.w[4] >> 48) as u16
    }

    /// The IP protocol.
    pub fn proto(&self) -> u8 {
        (self.w[4] >> 32) as u8
    }

    /// True for IPv6.
    pub fn is_ipv6(&self) -> bool {
        (self.w[4] >> 40) & 0x80 != 0
    }

    /// What the ports hold.
    pub fn port_kind(&self) -> PortKind {
        match (self.w[4] >> 40) & 0x7f {
            1 => PortKind::Transport,
            2 => PortKind::Echo,
            3 => PortKind::IcmpType,
            _ => PortKind::None,
        }
    }

    /// One endpoint: the lower (`false`) or the higher (`true`), as address and port.
    pub fn endpoint(&self, high: bool) -> (std::net::IpAddr, u16) {
        let (w0, w1, port) = if high {
            (self.w[2], self.w[3], (self.w[4] >> 16) as u16)
        } else {
            (self.w[0], self.w[1], self.w[4] as u16)
        };
        (addr_from_words(w0, w1, self.is_ipv6()), port)
    }

    pub(crate) fn addr_words(&self, high: bool) -> (u64, u64) {
        if high {
            (self.w[2], self.w[3])
        } else {
            (self.w[0], self.w[1])
        }
    }
}

/// An address from the two words a key stores it in.
pub(crate) fn addr_from_words(w0: u64, w1: u64, v6: bool) -> std::net::IpAddr {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&w0.to_le_bytes());
    b[8..].copy_from_slice(&w1.to_le_bytes());
    if v6 {
        std::net::IpAddr::from(b)
    } else {
        std::net::IpAddr::from([b[0], b[1], b[2], b[3]])
    }
}

/// One packet's view of its connection: source and destination endpoints as the packet has
/// them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketTuple {
    pub(crate) src: (u64, u64),
    pub(crate) dst: (u64, u64),
    pub(crate) sport: u16,
    pub(crate) dport: u16,
    pub(crate) proto: u8,
    pub(crate) v6: bool,
    pub(crate) kind: u8,
}

impl PacketTuple {
    /// The key under `vlan`, and whether the packet's source is the key's lower endpoint.
    #[inline(always)]
    pub fn key(&self, vlan: u16) -> (ConnKey, bool) {
        let src_low = (self.src.0, self.src.1, self.sport) <= (self.dst.0, self.dst.1, self.dport);
        let (lo, hi, lp, hp) = if src_low {
            (self.src, self.dst, self.sport, self.dport)
        } else {
            (self.dst, self.src, self.dport, self.sport)
        };
        let meta = u64::from(self.kind) | if self.v6 { 0x80 } else { 0 };
        let w4 = u64::from(lp)
            | (u64::from(hp) << 16)
            | (u64::from(self.proto) << 32)
            | (meta << 40)
            | (u64::from(vlan) << 48);
        (
            ConnKey {
                w: [lo.0, lo.1, hi.0, hi.1, w4],
            },
            src_low,
        )
    }

    /// The IP protocol.
    pub fn proto(&self) -> u8 {
        self.proto
    }
}

/// How the table should treat a packet, from [`classify`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// A packet of its own connection.
    Conn {
        tuple: PacketTuple,
        /// ICMP type and code, for ICMP packets (kept for the flow record).
        icmp: Option<(u8, u8)>,
    },
    /// An ICMP error quoting a packet of the connection `quoted`.
    IcmpError {
        quoted: PacketTuple,
        /// The error's own source address (to tell its direction).
        outer_src: (u64, u64),
        /// Whether Suricata 7 counts it in the quoted flow's packets: an ICMPv4 destination
        /// unreachable quoting TCP or UDP (`ICMPV4_DEST_UNREACH_IS_VALID`). Other errors are
        /// related but counted apart.
        counted: bool,
    },
    /// No connection: why.
    Untracked(Untracked),
}

/// Why a packet gets no connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Untracked {
    /// Not IPv4 or IPv6 (ARP, other ethertypes).
    NotIp,
    /// An IP fragment: reassemble it first.
    Fragment,
    /// A header is cut short or malformed, so the key cannot be read.
    Malformed,
    /// An ICMP error whose quoted packet cannot be read.
    BadIcmpError,
}

#[inline(always)]
fn words16(b: &[u8]) -> (u64, u64) {
    let mut a = [0u8; 8];
    let mut c = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    c.copy_from_slice(&b[8..16]);
    (u64::from_le_bytes(a), u64::from_le_bytes(c))
}

#[inline(always)]
fn words4(b: &[u8]) -> (u64, u64) {
    (u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])), 0)
}

#[inline(always)]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    match b.get(at..at + 2) {
        Some(&[x, y]) => Some(u16::from_be_bytes([x, y])),
        _ => None,
    }
}

/// The counterpart of an ICMPv4 type (the type the other side answers with), as Suricata's
/// `ICMPv4GetCounterpart`; 0 when there is none.
pub fn icmpv4_counterpart(t: u8) -> u8 {
    match t {
        8 => 0,
        0 => 8,
        13 => 14,
        14 => 13,
        15 => 16,
        16 => 15,
        17 => 18,
        18 => 17,
        10 => 9,
        9 => 10,
        _ => 0,
    }
}

/// The counterpart of an ICMPv6 type, as Suricata's `ICMPv6GetCounterpart`; 0 when none.
pub fn icmpv6_counterpart(t: u8) -> u8 {
    match t {
        128 => 129,
        129 => 128,
        130 => 131,
        131 => 130,
        133 => 134,
        134 => 133,
        135 => 136,
        136 => 135,
        139 => 140,
        140 => 139,
        144 => 145,
        145 => 144,
        146 => 147,
        147 => 146,
        148 => 149,
        149 => 148,
        _ => 0,
    }
}

/// True for the ICMPv4 error types (`ICMPV4_IS_ERROR_MSG`): unreachable, source quench,
/// redirect, time exceeded, parameter problem.
pub fn icmpv4_is_error(t: u8) -> bool {
    matches!(t, 3 | 4 | 5 | 11 | 12)
}

/// True for the ICMPv6 error types: unreachable, packet too big, time exceeded, parameter
/// problem.
pub fn icmpv6_is_error(t: u8) -> bool {
    matches!(t, 1..=4)
}

/// Reads the connection tuple of a packet. Every read is bounds-checked: a `ParsedPacket` that
/// does not belong to `frame` gives a wrong tuple or `Untracked`, never a panic.
#[inline]
pub fn classify(frame: &[u8], p: &ParsedPacket) -> Class {
    let v6 = match p.l3 {
        L3::Ipv4 => false,
        L3::Ipv6 => true,
        _ => return Class::Untracked(Untracked::NotIp),
    };
    if p.fragment != Fragment::No {
        return Class::Untracked(Untracked::Fragment);
    }
    let l3 = usize::from(p.l3_offset);
    let (src, dst) = if v6 {
        match frame.get(l3 + 8..l3 + 40) {
            Some(a) => (words16(&a[..16]), words16(&a[16..])),
            None => return Class::Untracked(Untracked::Malformed),
        }
    } else {
        match frame.get(l3 + 12..l3 + 20) {
            Some(a) => (words4(&a[..4]), words4(&a[4..])),
            None => return Class::Untracked(Untracked::Malformed),
        }
    };
    let mut t = PacketTuple {
        src,
        dst,
        sport: 0,
        dport: 0,
        proto: p.ip_proto,
        v6,
        kind: PortKind::None as u8,
    };
    let l4 = usize::from(p.l4_offset);
    match p.l4 {
        L4::Tcp | L4::Udp => {
            let need = if p.l4 == L4::Tcp { 20 } else { 8 };
            if frame.len() < l4 + need || p.truncated == Some(wire::Layer::Transport) {
                return Class::Untracked(Untracked::Malformed);
            }
            t.sport = p.src_port;
            t.dport = p.dst_port;
            t.kind = PortKind::Transport as u8;
        }
        L4::Icmpv4 | L4::Icmpv6 => {
            let (Some(&ty), Some(&code)) = (frame.get(l4), frame.get(l4 + 1)) else {
                return Class::Untracked(Untracked::Malformed);
            };
            let is_error = if v6 {
                icmpv6_is_error(ty)
            } else {
                icmpv4_is_error(ty)
            };
            if is_error {
                return icmp_error(frame, l4 + 8, v6, ty, src);
            }
            let echo = if v6 {
                ty == 128 || ty == 129
            } else {
                ty == 8 || ty == 0
            };
            if echo {
                let Some(id) = be16(frame, l4 + 4) else {
                    return Class::Untracked(Untracked::Malformed);
                };
                t.sport = id;
                t.dport = id;
                t.kind = PortKind::Echo as u8;
            } else {
                t.sport = u16::from(ty);
                t.dport = u16::from(if v6 {
                    icmpv6_counterpart(ty)
                } else {
                    icmpv4_counterpart(ty)
                });
                t.kind = PortKind::IcmpType as u8;
            }
            return Class::Conn {
                tuple: t,
                icmp: Some((ty, code)),
            };
        }
        L4::Other if p.ip_proto == IPPROTO_SCTP => {
            let (Some(s), Some(d)) = (be16(frame, l4), be16(frame, l4 + 2)) else {
                return Class::Untracked(Untracked::Malformed);
            };
            t.sport = s;
            t.dport = d;
            t.kind = PortKind::Transport as u8;
        }
        L4::Other => {}
        L4::None => {
            // IPv6 with no next header, or a cut header: only a complete network layer keys.
            if p.truncated.is_some() || !p.anomalies.is_empty() {
                return Class::Untracked(Untracked::Malformed);
            }
        }
    }
    Class::Conn {
        tuple: t,
        icmp: None,
    }
}

/// A packet's connection key and hash, read from its flow key by
/// [`crate::ConnTable::lookup_key`] ahead of [`crate::ConnTable::track_lookup`], so that a
/// batch's index slots and entries can be prefetched before any packet of it is tracked. It
/// depends only on the packet, its VLAN and the table's hash key, never on the table's
/// contents: made early, it is still right whatever the packets before it did to the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnLookup {
    pub(crate) key: ConnKey,
    pub(crate) hash: u32,
    /// The frame's length (what the byte counters add).
    pub(crate) len: u32,
    pub(crate) seg: Option<Segment>,
    pub(crate) icmp: Option<(u8, u8)>,
    /// The packet's source is the key's lower endpoint.
    pub(crate) src_low: bool,
    /// False for a packet that is not IP (no connection, counted).
    pub(crate) ip: bool,
}

impl ConnLookup {
    /// The lookup of a packet of the connection `tuple` under `vlan`, its hash not yet made.
    #[inline(always)]
    pub(crate) fn new(
        len: usize,
        tuple: &PacketTuple,
        icmp: Option<(u8, u8)>,
        seg: Option<Segment>,
        vlan: u16,
    ) -> ConnLookup {
        let (key, src_low) = tuple.key(vlan);
        ConnLookup {
            key,
            hash: 0,
            len: len as u32,
            seg,
            icmp,
            src_low,
            ip: true,
        }
    }
}

/// [`classify`] (and the TCP segment the table reads) from the packet's flow key instead of
/// its parse, as the lookup of the packet under `vlan` (its hash not yet made). `key` must be
/// the key of `frame` (`FlowKey::from_frame` or `FlowKey::extract` of its parse); with another
/// frame's key the answer is wrong, never a panic. `None` when the packet is not of a shape
/// read here: parse it and call [`classify`].
///
/// The key says which ethertype follows how many VLAN tags; the frame's ethertype field at
/// that place is checked against it (so a third tag, which the key cannot show, declines),
/// then the IP header's version and length, then the transport header's length, so that the
/// offsets used are the parse's.
#[inline(always)]
pub(crate) fn classify_key(frame: &[u8], key: &FlowKey, vlan: u16) -> Option<ConnLookup> {
    let v6 = match key.dl_type() {
        ethertype::IPV4 => false,
        ethertype::IPV6 => true,
        // Without an IP ethertype after at most two tags the parse finds no IP header either.
        _ => {
            return Some(ConnLookup {
                key: ConnKey::default(),
                hash: 0,
                len: 0,
                seg: None,
                icmp: None,
                src_low: false,
                ip: false,
            });
        }
    };
    let w = key.words();
    let tags = (w[3] >> 16) as usize & 3;
    if !v6
        && tags == 0
        && let Some(l) = plain_ipv4(frame, vlan)
    {
        return Some(l);
    }
    let l3 = 14 + 4 * ((tags & 1) + (tags >> 1));
    if frame.get(l3 - 2..l3)? != key.dl_type().to_be_bytes() {
        return None;
    }
    let (src, dst, proto, l4, ip_end) = if v6 {
        let h = frame.get(l3..l3 + 40)?;
        let next = h[6];
        if h[0] >> 4 != 6
            || matches!(
                next,
                ip_proto::HOPOPT
                    | ip_proto::IPV6_ROUTE
                    | ip_proto::IPV6_FRAG
                    | ip_proto::IPV6_OPTS
                    | ip_proto::AH
                    | ip_proto::IPV6_NONXT
            )
        {
            return None;
        }
        // A zero payload length (jumbogram, GSO super-frame): the frame's end, as the parse.
        let plen = usize::from(u16::from_be_bytes([h[4], h[5]]));
        let ip_end = if plen == 0 {
            frame.len()
        } else {
            l3 + 40 + plen
        };
        ((w[4], w[5]), (w[6], w[7]), next, l3 + 40, ip_end)
    } else {
        let h = frame.get(l3..l3 + 20)?;
        let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
        // Version 4 without options, a sane length, not a fragment (MF and offset clear).
        if h[0] != 0x45 || total < 20 || u16::from_be_bytes([h[6], h[7]]) & 0x3fff != 0 {
            return None;
        }
        ((w[4], 0), (w[6], 0), h[9], l3 + 20, l3 + total)
    };
    let mut t = PacketTuple {
        src,
        dst,
        sport: 0,
        dport: 0,
        proto,
        v6,
        kind: PortKind::None as u8,
    };
    let mut icmp = None;
    let mut seg = None;
    match proto {
        ip_proto::TCP => {
            let h = frame.get(l4..l4 + 20)?;
            let doff = usize::from(h[12] >> 4) * 4;
            // As the parse: no payload behind a data offset below 20 or beyond the datagram,
            // and a header cut short by the frame is malformed (left to `classify`).
            let payload_len = if doff < 20 {
                0
            } else if l4 + doff > frame.len() {
                return None;
            } else {
                ip_end.min(frame.len()).saturating_sub(l4 + doff)
            };
            t.sport = key.tp_src();
            t.dport = key.tp_dst();
            t.kind = PortKind::Transport as u8;
            seg = Some(Segment::read(frame, l4, payload_len as u32)?);
        }
        ip_proto::UDP => {
            frame.get(l4..l4 + 8)?;
            t.sport = key.tp_src();
            t.dport = key.tp_dst();
            t.kind = PortKind::Transport as u8;
        }
        ip_proto::ICMP | ip_proto::ICMPV6 => {
            // The parse takes either protocol number as ICMP, and the family says which.
            let (&ty, &code) = (frame.get(l4)?, frame.get(l4 + 1)?);
            let (is_error, echo, counterpart) = if v6 {
                (
                    icmpv6_is_error(ty),
                    ty == 128 || ty == 129,
                    icmpv6_counterpart(ty),
                )
            } else {
                (
                    icmpv4_is_error(ty),
                    ty == 8 || ty == 0,
                    icmpv4_counterpart(ty),
                )
            };
            if is_error {
                return None;
            }
            if echo {
                let id = be16(frame, l4 + 4)?;
                t.sport = id;
                t.dport = id;
                t.kind = PortKind::Echo as u8;
            } else {
                t.sport = u16::from(ty);
                t.dport = u16::from(counterpart);
                t.kind = PortKind::IcmpType as u8;
            }
            icmp = Some((ty, code));
        }
        IPPROTO_SCTP => {
            t.sport = be16(frame, l4)?;
            t.dport = be16(frame, l4 + 2)?;
            t.kind = PortKind::Transport as u8;
        }
        _ => {}
    }
    Some(ConnLookup::new(frame.len(), &t, icmp, seg, vlan))
}

/// [`classify_key`] for the commonest shape, read with one bounds check at fixed offsets:
/// untagged IPv4 without options, not a fragment, then a whole TCP header with its data offset
/// within the frame, or a UDP header (the frame at least 54 bytes either way). `None` for
/// anything else, which the general reading takes.
#[inline(always)]
fn plain_ipv4(frame: &[u8], vlan: u16) -> Option<ConnLookup> {
    let b = frame.first_chunk::<54>()?;
    let total = usize::from(u16::from_be_bytes([b[16], b[17]]));
    if b[12..15] != [0x08, 0x00, 0x45] || total < 20 || b[20] & 0x3f != 0 || b[21] != 0 {
        return None;
    }
    let mut seg = None;
    match b[23] {
        ip_proto::TCP => {
            let doff = usize::from(b[46] >> 4) * 4;
            if doff < 20 || 34 + doff > frame.len() {
                return None;
            }
            let payload_len = (14 + total).min(frame.len()).saturating_sub(34 + doff);
            let flags = b[47];
            seg = Some(Segment {
                seq: u32::from_be_bytes([b[38], b[39], b[40], b[41]]),
                ack: u32::from_be_bytes([b[42], b[43], b[44], b[45]]),
                window: u16::from_be_bytes([b[48], b[49]]),
                flags,
                payload_len: payload_len as u32,
                wscale: if flags & crate::tcp::flags::SYN != 0 {
                    crate::tcp::window_scale(frame, 34, b[46])
                } else {
                    None
                },
            });
        }
        ip_proto::UDP => {}
        _ => return None,
    }
    let t = PacketTuple {
        src: (
            u64::from(u32::from_le_bytes([b[26], b[27], b[28], b[29]])),
            0,
        ),
        dst: (
            u64::from(u32::from_le_bytes([b[30], b[31], b[32], b[33]])),
            0,
        ),
        sport: u16::from_be_bytes([b[34], b[35]]),
        dport: u16::from_be_bytes([b[36], b[37]]),
        proto: b[23],
        v6: false,
        kind: PortKind::Transport as u8,
    };
    Some(ConnLookup::new(frame.len(), &t, None, seg, vlan))
}

/// The tuple of the packet an ICMP error quotes, starting at `at` (after the 8-byte ICMP
/// header).
fn icmp_error(frame: &[u8], at: usize, v6: bool, ty: u8, outer_src: (u64, u64)) -> Class {
    let bad = Class::Untracked(Untracked::BadIcmpError);
    let (src, dst, mut proto, mut l4) = if v6 {
        let Some(h) = frame.get(at..at + 40) else {
            return bad;
        };
        if h[0] >> 4 != 6 {
            return bad;
        }
        (words16(&h[8..24]), words16(&h[24..40]), h[6], at + 40)
    } else {
        let Some(h) = frame.get(at..at + 20) else {
            return bad;
        };
        let ihl = usize::from(h[0] & 0x0f) * 4;
        if h[0] >> 4 != 4 || ihl < 20 {
            return bad;
        }
        // A quoted non-first fragment has no transport header to key on.
        if u16::from_be_bytes([h[6], h[7]]) & 0x1fff != 0 {
            return bad;
        }
        (words4(&h[12..16]), words4(&h[16..20]), h[9], at + ihl)
    };
    if v6 {
        // Skip the quoted extension headers (at most eight, as the parser allows).
        for _ in 0..8 {
            match proto {
                ip_proto::HOPOPT | ip_proto::IPV6_ROUTE | ip_proto::IPV6_OPTS => {
                    let (Some(&n), Some(&len)) = (frame.get(l4), frame.get(l4 + 1)) else {
                        return bad;
                    };
                    proto = n;
                    l4 += (usize::from(len) + 1) * 8;
                }
                ip_proto::IPV6_FRAG => {
                    let (Some(&n), Some(off)) = (frame.get(l4), be16(frame, l4 + 2)) else {
                        return bad;
                    };
                    if off >> 3 != 0 {
                        return bad;
                    }
                    proto = n;
                    l4 += 8;
                }
                _ => break,
            }
        }
    }
    let mut quoted = PacketTuple {
        src,
        dst,
        sport: 0,
        dport: 0,
        proto,
        v6,
        kind: PortKind::None as u8,
    };
    match proto {
        ip_proto::TCP | ip_proto::UDP | IPPROTO_SCTP => {
            let (Some(s), Some(d)) = (be16(frame, l4), be16(frame, l4 + 2)) else {
                return bad;
            };
            quoted.sport = s;
            quoted.dport = d;
            quoted.kind = PortKind::Transport as u8;
        }
        ip_proto::ICMP | ip_proto::ICMPV6 => {
            let Some(&qt) = frame.get(l4) else {
                return bad;
            };
            let echo = if v6 {
                qt == 128 || qt == 129
            } else {
                qt == 8 || qt == 0
            };
            if echo {
                let Some(id) = be16(frame, l4 + 4) else {
                    return bad;
                };
                quoted.sport = id;
                quoted.dport = id;
                quoted.kind = PortKind::Echo as u8;
            } else {
                quoted.sport = u16::from(qt);
                quoted.dport = u16::from(if v6 {
                    icmpv6_counterpart(qt)
                } else {
                    icmpv4_counterpart(qt)
                });
                quoted.kind = PortKind::IcmpType as u8;
            }
        }
        _ => {}
    }
    let counted = !v6 && ty == 3 && (proto == ip_proto::TCP || proto == ip_proto::UDP);
    Class::IcmpError {
        quoted,
        outer_src,
        counted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;
    use wire::parse_packet;

    fn tcp(src: [u8; 4], sp: u16, dst: [u8; 4], dp: u16) -> Vec<u8> {
        let mut v = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4(src, dst, 64)
            .tcp(sp, dp, 1, 100)
            .syn()
            .write(&mut v, &[])
            .unwrap();
        v
    }

    fn tuple(f: &[u8]) -> PacketTuple {
        match classify(f, &parse_packet(f)) {
            Class::Conn { tuple, .. } => tuple,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn both_directions_give_one_key() {
        let a = tuple(&tcp([10, 0, 0, 1], 1000, [10, 0, 0, 2], 80));
        let b = tuple(&tcp([10, 0, 0, 2], 80, [10, 0, 0, 1], 1000));
        let (ka, la) = a.key(7);
        let (kb, lb) = b.key(7);
        assert_eq!(ka, kb);
        assert_ne!(la, lb);
        assert_eq!(ka.vlan(), 7);
        assert_eq!(ka.proto(), 6);
        assert!(!ka.is_ipv6());
        assert_eq!(ka.port_kind(), PortKind::Transport);
        assert_ne!(ka, a.key(8).0, "the VLAN is part of the key");
        let (addr, port) = ka.endpoint(false);
        assert_eq!((addr.to_string(), port), ("10.0.0.1".to_string(), 1000));
    }

    #[test]
    fn same_address_pair_differs_by_port() {
        let a = tuple(&tcp([10, 0, 0, 1], 1000, [10, 0, 0, 2], 80)).key(0).0;
        let b = tuple(&tcp([10, 0, 0, 1], 1001, [10, 0, 0, 2], 80)).key(0).0;
        assert_ne!(a, b);
    }

    #[test]
    fn echo_request_and_reply_meet_by_id() {
        let echo = |src: [u8; 4], dst: [u8; 4], ty: u8, id: u16| {
            let mut v = Vec::new();
            let b = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4(src, dst, 64);
            let b = if ty == 8 {
                b.icmpv4_echo_request(id, 1)
            } else {
                b.icmpv4_echo_reply(id, 1)
            };
            b.write(&mut v, b"ping").unwrap();
            tuple(&v).key(0).0
        };
        let req = echo([10, 0, 0, 1], [10, 0, 0, 2], 8, 77);
        assert_eq!(req, echo([10, 0, 0, 2], [10, 0, 0, 1], 0, 77));
        assert_ne!(req, echo([10, 0, 0, 1], [10, 0, 0, 2], 8, 78));
        assert_eq!(req.port_kind(), PortKind::Echo);
    }

    #[test]
    fn icmp_error_quotes_the_original_tuple() {
        // Port unreachable from 10.0.0.2 quoting UDP 10.0.0.1:5000 -> 10.0.0.2:53.
        let mut quoted = Vec::new();
        PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(5000, 53)
            .write(&mut quoted, b"q")
            .unwrap();
        let mut f = Vec::new();
        PacketBuilder::ethernet2([2; 6], [1; 6])
            .ipv4([10, 0, 0, 2], [10, 0, 0, 1], 64)
            .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(
                etherparse::icmpv4::DestUnreachableHeader::Port,
            ))
            .write(&mut f, &quoted)
            .unwrap();
        let p = parse_packet(&f);
        let Class::IcmpError {
            quoted, counted, ..
        } = classify(&f, &p)
        else {
            panic!("not an error");
        };
        assert!(counted);
        let mut udp = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(5000, 53)
            .write(&mut udp, b"q")
            .unwrap();
        assert_eq!(quoted.key(3).0, tuple(&udp).key(3).0);
        // Cut inside the quoted header: no tuple.
        let cut = &f[..14 + 20 + 8 + 10];
        assert_eq!(
            classify(cut, &parse_packet(cut)),
            Class::Untracked(Untracked::BadIcmpError)
        );
    }

    #[test]
    fn non_ip_and_fragments_are_untracked() {
        let mut arp = vec![0u8; 42];
        arp[12] = 0x08;
        arp[13] = 0x06;
        assert_eq!(
            classify(&arp, &parse_packet(&arp)),
            Class::Untracked(Untracked::NotIp)
        );
        let mut f = tcp([10, 0, 0, 1], 1, [10, 0, 0, 2], 2);
        f[20] = 0x20; // MF
        assert_eq!(
            classify(&f, &parse_packet(&f)),
            Class::Untracked(Untracked::Fragment)
        );
    }
}
