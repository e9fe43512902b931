//! One pass over a frame: [`parse_packet`] walks Ethernet, up to two VLAN tags, ARP, IPv4 or
//! IPv6 (with its extension headers), TCP/UDP/ICMP, and a VXLAN or GENEVE header, and records
//! where each header and the L4 payload start in a [`ParsedPacket`].
//!
//! This is the hot path of every engine: it must never allocate, never panic on any input, and
//! never read a byte past the slice it was given. Every read is preceded by a length check; a
//! header cut short stops the walk and is recorded in [`ParsedPacket::truncated`], a value the
//! format forbids is recorded in [`ParsedPacket::anomalies`] and the walk stops at that layer.
//! The typed views in the sibling modules are for callers that want named fields; this walk
//! reads the few fields it needs directly so that it stays a handful of nanoseconds.

use crate::chdlc::{self, ChdlcHeader};
use crate::loopback::{self, LoopbackHeader};
use crate::{ethertype, ip_proto, udp_port};

/// How a captured frame begins (pcap link types 1, 101/228, 113, 276, 0, 108 and 104).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum LinkType {
    #[default]
    Ethernet,
    /// No link header: the frame starts with an IPv4 or IPv6 header.
    RawIp,
    /// Linux "cooked" capture, 16-byte header.
    LinuxSll,
    /// Linux "cooked" capture v2, 20-byte header.
    LinuxSll2,
    /// BSD loopback: a 4-byte address family in the capturing host's byte order
    /// ([`crate::loopback`]).
    Null,
    /// OpenBSD loopback: the same 4-byte address family in network byte order.
    Loop,
    /// Cisco HDLC: address, control and a 16-bit protocol ([`crate::chdlc`]).
    CiscoHdlc,
}

/// One 802.1Q / 802.1ad tag as it appears on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct VlanTag {
    /// The tag protocol identifier that introduced this tag (0x8100, 0x88a8 or 0x9100).
    pub tpid: u16,
    /// Tag control information: PCP (3 bits), DEI (1 bit), VID (12 bits).
    pub tci: u16,
}

impl VlanTag {
    /// The VLAN identifier.
    #[inline]
    pub fn vid(&self) -> u16 {
        self.tci & 0x0fff
    }
    /// The priority code point.
    #[inline]
    pub fn pcp(&self) -> u8 {
        (self.tci >> 13) as u8
    }
    /// The drop-eligible indicator.
    #[inline]
    pub fn dei(&self) -> bool {
        self.tci & 0x1000 != 0
    }
}

/// The network layer found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum L3 {
    /// No network header (cut before it, or the frame had none).
    #[default]
    None,
    Ipv4,
    Ipv6,
    Arp,
    /// An ethertype this crate does not parse (see [`ParsedPacket::ethertype`]).
    Other,
}

/// The transport layer found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum L4 {
    /// No transport header: not IP, a non-first fragment, a cut header, or no next header.
    #[default]
    None,
    Tcp,
    Udp,
    Icmpv4,
    Icmpv6,
    /// Another IP protocol (see [`ParsedPacket::ip_proto`]); its header starts at `l4_offset`.
    Other,
}

/// Where this packet sits in a fragmented IP datagram.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Fragment {
    #[default]
    No,
    /// Offset zero with more-fragments set: it carries the transport header.
    First,
    /// A later fragment: no transport header in this packet.
    Later,
}

/// The layer at which a frame was cut short.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layer {
    Link,
    Vlan,
    Network,
    Ipv6Extension,
    Transport,
    Tunnel,
    /// All headers are present but the IP datagram is longer than the bytes captured.
    Payload,
}

impl Layer {
    /// A short lower-case name for logs and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Link => "link",
            Layer::Vlan => "vlan",
            Layer::Network => "network",
            Layer::Ipv6Extension => "ipv6-extension",
            Layer::Transport => "transport",
            Layer::Tunnel => "tunnel",
            Layer::Payload => "payload",
        }
    }
}

/// The tunnel protocol found over UDP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TunnelKind {
    #[default]
    None,
    Vxlan,
    Geneve,
}

/// A tunnel header over UDP. The inner frame is not walked: call [`parse_packet`] (VXLAN, or
/// GENEVE with protocol type 0x6558) on `&bytes[inner_offset..]` when a stage needs it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Tunnel {
    pub kind: TunnelKind,
    /// Offset of the VXLAN or GENEVE header.
    pub offset: u16,
    /// The 24-bit virtual network identifier.
    pub vni: u32,
    /// Offset of the encapsulated frame (after GENEVE options).
    pub inner_offset: u16,
    /// The encapsulated protocol: 0x6558 for Ethernet (always for VXLAN).
    pub inner_proto: u16,
}

/// Values a format forbids, or oddities worth flagging, met during the walk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Anomalies(pub u16);

impl Anomalies {
    /// More than two VLAN tags; the rest were skipped, not recorded.
    pub const VLAN_TOO_DEEP: u16 = 1 << 0;
    /// The IP version nibble does not match the ethertype.
    pub const IP_BAD_VERSION: u16 = 1 << 1;
    /// IPv4 IHL below 5.
    pub const IPV4_BAD_IHL: u16 = 1 << 2;
    /// The IP length field is smaller than the IP header(s).
    pub const IP_BAD_LENGTH: u16 = 1 << 3;
    /// More than eight IPv6 extension headers, or hop-by-hop not first.
    pub const IPV6_BAD_EXT_CHAIN: u16 = 1 << 4;
    /// TCP data offset below 5.
    pub const TCP_BAD_OFFSET: u16 = 1 << 5;
    /// UDP length field below 8 or beyond the IP payload.
    pub const UDP_BAD_LENGTH: u16 = 1 << 6;
    /// An ethertype below 0x0600: an 802.3 length field (LLC/SNAP frame).
    pub const LLC_FRAME: u16 = 1 << 7;
    /// A VXLAN header without the I (valid VNI) flag, or a GENEVE version other than 0.
    pub const TUNNEL_BAD_HEADER: u16 = 1 << 8;

    #[inline]
    pub fn contains(self, bit: u16) -> bool {
        self.0 & bit != 0
    }
    #[inline]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// What [`parse_packet`] learnt about a frame: the offset of each header and the few fields every
/// later stage needs. It is `Copy`, about 64 bytes, and holds no reference to the frame.
///
/// Offsets are from the start of the frame. A layer that is absent has its kind `None` and
/// offset 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ParsedPacket {
    pub link: LinkType,
    /// Bytes given to the parser.
    pub frame_len: u32,
    /// True when the frame starts with an Ethernet header (MACs at offsets 0 and 6).
    pub has_ethernet: bool,
    /// VLAN tags, outermost first; `vlan_count` of them are valid.
    pub vlans: [VlanTag; 2],
    pub vlan_count: u8,
    /// The innermost ethertype (or the SLL or Cisco HDLC protocol; 0x0800/0x86dd for raw IP and
    /// for the IP address families of a BSD loopback header, 0 for its other families).
    pub ethertype: u16,
    pub l3: L3,
    pub l3_offset: u16,
    /// Bytes of the IP datagram per its length field(s): IPv4 total length, or 40 + IPv6 payload
    /// length. Zero when not IP.
    pub ip_len: u32,
    /// The IPv4 protocol or the last IPv6 next-header value (after extension headers).
    pub ip_proto: u8,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    pub fragment: Fragment,
    /// Which IPv6 extension headers were present: bit 0 hop-by-hop, 1 routing, 2 fragment,
    /// 3 destination options, 4 authentication header.
    pub ipv6_ext: u8,
    pub l4: L4,
    pub l4_offset: u16,
    /// TCP/UDP source port; ICMP type.
    pub src_port: u16,
    /// TCP/UDP destination port; ICMP code.
    pub dst_port: u16,
    /// TCP flags (the 12 low bits of bytes 12-13: NS, CWR, ECE, URG, ACK, PSH, RST, SYN, FIN).
    pub tcp_flags: u16,
    /// Where the L4 payload starts, and how many of its bytes are in the frame (bounded by the IP
    /// length, so Ethernet padding is excluded). Zero when there is no L4 header.
    pub payload_offset: u16,
    pub payload_len: u32,
    pub tunnel: Tunnel,
    /// The layer at which the frame was cut, if it was.
    pub truncated: Option<Layer>,
    pub anomalies: Anomalies,
}

impl ParsedPacket {
    /// True when a VLAN tag is present (the outermost is `vlans[0]`).
    #[inline]
    pub fn has_vlan(&self) -> bool {
        self.vlan_count > 0
    }

    /// The IPv4 source and destination addresses, if the network layer is IPv4.
    #[inline]
    pub fn ipv4_addrs(&self, frame: &[u8]) -> Option<([u8; 4], [u8; 4])> {
        if self.l3 != L3::Ipv4 {
            return None;
        }
        let o = usize::from(self.l3_offset);
        let a = frame.get(o + 12..o + 20)?;
        Some(([a[0], a[1], a[2], a[3]], [a[4], a[5], a[6], a[7]]))
    }

    /// The IPv6 source and destination addresses, if the network layer is IPv6.
    #[inline]
    pub fn ipv6_addrs(&self, frame: &[u8]) -> Option<([u8; 16], [u8; 16])> {
        if self.l3 != L3::Ipv6 {
            return None;
        }
        let o = usize::from(self.l3_offset);
        let a = frame.get(o + 8..o + 40)?;
        let mut s = [0u8; 16];
        let mut d = [0u8; 16];
        s.copy_from_slice(&a[..16]);
        d.copy_from_slice(&a[16..]);
        Some((s, d))
    }

    /// The L4 payload bytes present in `frame`.
    #[inline]
    pub fn payload<'a>(&self, frame: &'a [u8]) -> &'a [u8] {
        let s = usize::from(self.payload_offset);
        let e = s.saturating_add(self.payload_len as usize);
        frame.get(s..e).unwrap_or(&[])
    }
}

#[inline(always)]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    match b.get(at..at + 2) {
        Some(&[x, y]) => Some(u16::from_be_bytes([x, y])),
        _ => None,
    }
}

/// Walks an Ethernet frame. Never panics; see [`ParsedPacket`] for what is recorded.
#[inline]
pub fn parse_packet(frame: &[u8]) -> ParsedPacket {
    let mut p = ParsedPacket {
        frame_len: frame.len() as u32,
        ..ParsedPacket::default()
    };
    let Some(mut et) = be16(frame, 12) else {
        p.truncated = Some(Layer::Link);
        return p;
    };
    p.has_ethernet = true;
    let mut off = 14usize;
    let mut depth = 0usize;
    while et == ethertype::VLAN || et == ethertype::QINQ || et == ethertype::QINQ_OLD {
        let (Some(tci), Some(next)) = (be16(frame, off), be16(frame, off + 2)) else {
            p.ethertype = et;
            p.truncated = Some(Layer::Vlan);
            return p;
        };
        if depth < 2 {
            p.vlans[depth] = VlanTag { tpid: et, tci };
            p.vlan_count += 1;
        } else {
            p.anomalies.0 |= Anomalies::VLAN_TOO_DEEP;
            if depth >= 8 {
                p.ethertype = next;
                p.l3 = L3::Other;
                p.l3_offset = (off + 4) as u16;
                return p;
            }
        }
        depth += 1;
        et = next;
        off += 4;
    }
    parse_l3(frame, off, et, &mut p);
    p
}

/// Walks a frame of any supported link type.
pub fn parse_link(frame: &[u8], link: LinkType) -> ParsedPacket {
    match link {
        LinkType::Ethernet => parse_packet(frame),
        LinkType::RawIp => {
            let mut p = ParsedPacket {
                link,
                frame_len: frame.len() as u32,
                ..ParsedPacket::default()
            };
            let Some(&first) = frame.first() else {
                p.truncated = Some(Layer::Network);
                return p;
            };
            let et = match first >> 4 {
                4 => ethertype::IPV4,
                6 => ethertype::IPV6,
                _ => {
                    p.anomalies.0 |= Anomalies::IP_BAD_VERSION;
                    p.l3 = L3::Other;
                    return p;
                }
            };
            parse_l3(frame, 0, et, &mut p);
            p
        }
        LinkType::LinuxSll | LinkType::LinuxSll2 => {
            let (proto_at, hdr) = if link == LinkType::LinuxSll {
                (14, 16)
            } else {
                (0, 20)
            };
            let mut p = ParsedPacket {
                link,
                frame_len: frame.len() as u32,
                ..ParsedPacket::default()
            };
            if frame.len() < hdr {
                p.truncated = Some(Layer::Link);
                return p;
            }
            let et = be16(frame, proto_at).unwrap_or(0);
            parse_l3(frame, hdr, et, &mut p);
            p
        }
        LinkType::Null | LinkType::Loop => {
            let mut p = ParsedPacket {
                link,
                frame_len: frame.len() as u32,
                ..ParsedPacket::default()
            };
            let Ok(h) = LoopbackHeader::new_checked(frame) else {
                p.truncated = Some(Layer::Link);
                return p;
            };
            let family = if link == LinkType::Null {
                h.null_family().0
            } else {
                h.loop_family()
            };
            match loopback::ethertype_of(family) {
                Some(et) => parse_l3(frame, loopback::HEADER_LEN, et, &mut p),
                None => {
                    // A family this walk does not parse (OSI, IPX, ...): what follows is not
                    // an ethertype's payload, so no ethertype is claimed for it.
                    p.l3 = L3::Other;
                    p.l3_offset = loopback::HEADER_LEN as u16;
                }
            }
            p
        }
        LinkType::CiscoHdlc => {
            let mut p = ParsedPacket {
                link,
                frame_len: frame.len() as u32,
                ..ParsedPacket::default()
            };
            let Ok(h) = ChdlcHeader::new_checked(frame) else {
                p.truncated = Some(Layer::Link);
                return p;
            };
            let protocol = h.protocol();
            if protocol < 0x0600 {
                // No ethertype (on Ethernet, an 802.3 length; Cisco HDLC has no LLC framing):
                // nothing this walk parses follows.
                p.ethertype = protocol;
                p.l3 = L3::Other;
                p.l3_offset = chdlc::HEADER_LEN as u16;
            } else {
                parse_l3(frame, chdlc::HEADER_LEN, protocol, &mut p);
            }
            p
        }
    }
}

#[inline(always)]
fn parse_l3(frame: &[u8], off: usize, et: u16, p: &mut ParsedPacket) {
    p.ethertype = et;
    p.l3_offset = off as u16;
    match et {
        ethertype::IPV4 => parse_ipv4(frame, off, p),
        ethertype::IPV6 => parse_ipv6(frame, off, p),
        ethertype::ARP => {
            p.l3 = L3::Arp;
            if frame.len() < off + 8 {
                p.truncated = Some(Layer::Network);
            }
        }
        _ => {
            if et < 0x0600 {
                p.anomalies.0 |= Anomalies::LLC_FRAME;
            }
            p.l3 = L3::Other;
        }
    }
}

#[inline(always)]
fn parse_ipv4(frame: &[u8], off: usize, p: &mut ParsedPacket) {
    let Some(h) = frame.get(off..off + 20) else {
        p.truncated = Some(Layer::Network);
        return;
    };
    p.l3 = L3::Ipv4;
    if h[0] >> 4 != 4 {
        p.anomalies.0 |= Anomalies::IP_BAD_VERSION;
        return;
    }
    let ihl = usize::from(h[0] & 0x0f) * 4;
    if ihl < 20 {
        p.anomalies.0 |= Anomalies::IPV4_BAD_IHL;
        return;
    }
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    p.ip_len = total as u32;
    p.ttl = h[8];
    p.ip_proto = h[9];
    let frag = u16::from_be_bytes([h[6], h[7]]);
    let frag_off = frag & 0x1fff;
    let more = frag & 0x2000 != 0;
    p.fragment = if frag_off != 0 {
        Fragment::Later
    } else if more {
        Fragment::First
    } else {
        Fragment::No
    };
    if frame.len() < off + ihl {
        p.truncated = Some(Layer::Network);
        return;
    }
    if total < ihl {
        p.anomalies.0 |= Anomalies::IP_BAD_LENGTH;
        return;
    }
    if p.fragment == Fragment::Later {
        // Later fragments carry no transport header; their bytes are payload of the datagram.
        set_ip_remainder(frame, off + ihl, off + total, p);
        return;
    }
    parse_l4(frame, off + ihl, off + total, p);
}

/// The bytes after the IP header(s) of a packet without a parsed transport header.
#[inline]
fn set_ip_remainder(frame: &[u8], at: usize, ip_end: usize, p: &mut ParsedPacket) {
    let end = ip_end.min(frame.len());
    p.payload_offset = at as u16;
    p.payload_len = end.saturating_sub(at) as u32;
    if ip_end > frame.len() {
        p.truncated = Some(Layer::Payload);
    }
}

#[inline(always)]
fn parse_ipv6(frame: &[u8], off: usize, p: &mut ParsedPacket) {
    let Some(h) = frame.get(off..off + 40) else {
        p.truncated = Some(Layer::Network);
        return;
    };
    p.l3 = L3::Ipv6;
    if h[0] >> 4 != 6 {
        p.anomalies.0 |= Anomalies::IP_BAD_VERSION;
        return;
    }
    let plen = usize::from(u16::from_be_bytes([h[4], h[5]]));
    // A zero payload length means a jumbogram (RFC 2675) or a TSO super-frame: use the frame.
    let ip_end = if plen == 0 {
        frame.len()
    } else {
        off + 40 + plen
    };
    p.ip_len = (ip_end - off) as u32;
    p.ttl = h[7];
    let mut next = h[6];
    let mut at = off + 40;
    let mut count = 0u32;
    loop {
        let bit = match next {
            ip_proto::HOPOPT => 0,
            ip_proto::IPV6_ROUTE => 1,
            ip_proto::IPV6_FRAG => 2,
            ip_proto::IPV6_OPTS => 3,
            ip_proto::AH => 4,
            _ => break,
        };
        if (next == ip_proto::HOPOPT && count != 0) || count == 8 {
            p.anomalies.0 |= Anomalies::IPV6_BAD_EXT_CHAIN;
            if count == 8 {
                p.ip_proto = next;
                return;
            }
        }
        count += 1;
        p.ipv6_ext |= 1 << bit;
        let Some(e) = frame.get(at..at + 8) else {
            p.ip_proto = next;
            p.truncated = Some(Layer::Ipv6Extension);
            return;
        };
        let len = match next {
            ip_proto::IPV6_FRAG => {
                let fo = u16::from_be_bytes([e[2], e[3]]);
                p.fragment = if fo >> 3 != 0 {
                    Fragment::Later
                } else if fo & 1 != 0 {
                    Fragment::First
                } else {
                    Fragment::No
                };
                8
            }
            // AH counts its length in 4-octet units, minus 2.
            ip_proto::AH => (usize::from(e[1]) + 2) * 4,
            _ => (usize::from(e[1]) + 1) * 8,
        };
        next = e[0];
        at += len;
        if at > frame.len() && at <= ip_end {
            // The header runs past the bytes captured.
            p.ip_proto = next;
            p.truncated = Some(Layer::Ipv6Extension);
            return;
        }
        if at > ip_end {
            p.anomalies.0 |= Anomalies::IP_BAD_LENGTH;
            p.ip_proto = next;
            return;
        }
        if p.fragment == Fragment::Later {
            p.ip_proto = next;
            set_ip_remainder(frame, at, ip_end, p);
            return;
        }
    }
    p.ip_proto = next;
    if next == ip_proto::IPV6_NONXT {
        set_ip_remainder(frame, at, ip_end, p);
        return;
    }
    parse_l4(frame, at, ip_end, p);
}

#[inline(always)]
fn parse_l4(frame: &[u8], at: usize, ip_end: usize, p: &mut ParsedPacket) {
    p.l4_offset = at as u16;
    let avail_end = ip_end.min(frame.len());
    let hdr_len = match p.ip_proto {
        ip_proto::TCP => {
            let Some(h) = frame.get(at..at + 20) else {
                p.l4 = L4::Tcp;
                p.truncated = Some(Layer::Transport);
                return;
            };
            p.l4 = L4::Tcp;
            p.src_port = u16::from_be_bytes([h[0], h[1]]);
            p.dst_port = u16::from_be_bytes([h[2], h[3]]);
            p.tcp_flags = u16::from_be_bytes([h[12], h[13]]) & 0x0fff;
            let doff = usize::from(h[12] >> 4) * 4;
            if doff < 20 {
                p.anomalies.0 |= Anomalies::TCP_BAD_OFFSET;
                return;
            }
            doff
        }
        ip_proto::UDP => {
            let Some(h) = frame.get(at..at + 8) else {
                p.l4 = L4::Udp;
                p.truncated = Some(Layer::Transport);
                return;
            };
            p.l4 = L4::Udp;
            p.src_port = u16::from_be_bytes([h[0], h[1]]);
            p.dst_port = u16::from_be_bytes([h[2], h[3]]);
            let ulen = usize::from(u16::from_be_bytes([h[4], h[5]]));
            // Zero is legal for IPv6 jumbograms and GSO super-frames; a first fragment's UDP
            // length covers the whole datagram, beyond this fragment.
            if ulen != 0 && (ulen < 8 || (at + ulen > ip_end && p.fragment == Fragment::No)) {
                p.anomalies.0 |= Anomalies::UDP_BAD_LENGTH;
            }
            8
        }
        ip_proto::ICMP | ip_proto::ICMPV6 => {
            p.l4 = if p.ip_proto == ip_proto::ICMP {
                L4::Icmpv4
            } else {
                L4::Icmpv6
            };
            let Some(h) = frame.get(at..at + 4) else {
                p.truncated = Some(Layer::Transport);
                return;
            };
            p.src_port = u16::from(h[0]);
            p.dst_port = u16::from(h[1]);
            // The fixed ICMP header is 8 bytes; what follows is the message body.
            8
        }
        _ => {
            p.l4 = L4::Other;
            0
        }
    };
    let pay = at + hdr_len;
    if pay > avail_end {
        if ip_end < pay {
            // The header claims more than the IP datagram holds.
            if p.l4 == L4::Tcp {
                p.anomalies.0 |= Anomalies::TCP_BAD_OFFSET;
            } else if frame.len() >= pay {
                p.anomalies.0 |= Anomalies::IP_BAD_LENGTH;
            }
        }
        if frame.len() < pay {
            p.truncated = Some(Layer::Transport);
        }
        return;
    }
    p.payload_offset = pay as u16;
    p.payload_len = (avail_end - pay) as u32;
    if ip_end > frame.len() {
        p.truncated = Some(Layer::Payload);
    }
    if p.l4 == L4::Udp && p.fragment == Fragment::No {
        parse_tunnel(frame, pay, avail_end, p);
    }
}

#[inline]
fn parse_tunnel(frame: &[u8], at: usize, end: usize, p: &mut ParsedPacket) {
    let kind = match p.dst_port {
        udp_port::VXLAN => TunnelKind::Vxlan,
        udp_port::GENEVE => TunnelKind::Geneve,
        _ => return,
    };
    let Some(h) = frame.get(at..at + 8).filter(|_| at + 8 <= end) else {
        p.truncated = p.truncated.or(Some(Layer::Tunnel));
        return;
    };
    let vni = u32::from_be_bytes([0, h[4], h[5], h[6]]);
    let (inner, proto) = match kind {
        TunnelKind::Vxlan => {
            if h[0] & 0x08 == 0 {
                p.anomalies.0 |= Anomalies::TUNNEL_BAD_HEADER;
                return;
            }
            (at + 8, ethertype::TEB)
        }
        _ => {
            if h[0] >> 6 != 0 {
                p.anomalies.0 |= Anomalies::TUNNEL_BAD_HEADER;
                return;
            }
            let opt = usize::from(h[0] & 0x3f) * 4;
            if at + 8 + opt > end {
                p.truncated = p.truncated.or(Some(Layer::Tunnel));
                return;
            }
            (at + 8 + opt, u16::from_be_bytes([h[2], h[3]]))
        }
    };
    p.tunnel = Tunnel {
        kind,
        offset: at as u16,
        vni,
        inner_offset: inner as u16,
        inner_proto: proto,
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;
    use proptest::prelude::*;

    fn eth_v4_tcp(payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(1234, 80, 1000, 65535)
            .syn();
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    #[test]
    fn ipv4_tcp() {
        let f = eth_v4_tcp(b"hello");
        let p = parse_packet(&f);
        assert_eq!(p.l3, L3::Ipv4);
        assert_eq!(p.l4, L4::Tcp);
        assert_eq!((p.src_port, p.dst_port), (1234, 80));
        assert_eq!(p.tcp_flags, 0x002);
        assert_eq!((p.l3_offset, p.l4_offset, p.payload_offset), (14, 34, 54));
        assert_eq!(p.payload(&f), b"hello");
        assert_eq!(p.ipv4_addrs(&f), Some(([10, 0, 0, 1], [10, 0, 0, 2])));
        assert_eq!(p.truncated, None);
        assert!(p.anomalies.is_empty());
    }

    #[test]
    fn padding_is_not_payload() {
        let mut f = eth_v4_tcp(b"");
        f.resize(60, 0);
        let p = parse_packet(&f);
        assert_eq!(p.payload_len, 0);
        assert_eq!(p.truncated, None);
    }

    #[test]
    fn qinq_ipv6_udp() {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .double_vlan(
                etherparse::VlanId::try_new(100).unwrap(),
                etherparse::VlanId::try_new(200).unwrap(),
            )
            .ipv6([0xfe; 16], [0xfd; 16], 7)
            .udp(5353, 53);
        let mut f = Vec::new();
        b.write(&mut f, b"abc").unwrap();
        f[18] |= 5 << 5; // inner tag PCP
        let p = parse_packet(&f);
        assert_eq!(p.vlan_count, 2);
        assert_eq!(p.vlans[0].vid(), 100);
        assert_eq!(p.vlans[1].vid(), 200);
        assert_eq!(p.vlans[1].pcp(), 5);
        assert_eq!(p.l3, L3::Ipv6);
        assert_eq!(p.l3_offset, 22);
        assert_eq!(p.l4, L4::Udp);
        assert_eq!(p.ttl, 7);
        assert_eq!(p.payload(&f), b"abc");
    }

    #[test]
    fn ipv6_fragment_chain() {
        // IPv6, hop-by-hop, fragment (offset 0, M=1), UDP.
        let mut f = vec![0u8; 14];
        f[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
        let mut ip = vec![0u8; 40];
        ip[0] = 0x60;
        ip[6] = ip_proto::HOPOPT;
        ip[7] = 64;
        let hbh = [ip_proto::IPV6_FRAG, 0, 1, 4, 0, 0, 0, 0];
        let frag = [ip_proto::UDP, 0, 0, 1, 0, 0, 0, 42];
        let udp = [0, 7, 0, 9, 0, 12, 0, 0, b'x', b'y', b'z', b'w'];
        let plen = (hbh.len() + frag.len() + udp.len()) as u16;
        ip[4..6].copy_from_slice(&plen.to_be_bytes());
        f.extend_from_slice(&ip);
        f.extend_from_slice(&hbh);
        f.extend_from_slice(&frag);
        f.extend_from_slice(&udp);
        let p = parse_packet(&f);
        assert_eq!(p.ipv6_ext, 0b101);
        assert_eq!(p.fragment, Fragment::First);
        assert_eq!(p.l4, L4::Udp);
        assert_eq!((p.src_port, p.dst_port), (7, 9));
        assert_eq!(p.l4_offset, 14 + 40 + 16);
        assert_eq!(p.payload(&f), b"xyzw");

        // The same with a non-zero fragment offset: no transport header.
        let at = 14 + 40 + 8 + 2;
        f[at..at + 2].copy_from_slice(&(8u16 << 3).to_be_bytes());
        let p = parse_packet(&f);
        assert_eq!(p.fragment, Fragment::Later);
        assert_eq!(p.l4, L4::None);
        assert_eq!(p.payload_len, 12);
    }

    #[test]
    fn vxlan_is_found() {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([1, 1, 1, 1], [2, 2, 2, 2], 64)
            .udp(40000, udp_port::VXLAN);
        let mut inner = vec![0x08, 0, 0, 0, 0, 0x12, 0x34, 0];
        inner.extend_from_slice(&eth_v4_tcp(b""));
        let mut f = Vec::new();
        b.write(&mut f, &inner).unwrap();
        let p = parse_packet(&f);
        assert_eq!(p.tunnel.kind, TunnelKind::Vxlan);
        assert_eq!(p.tunnel.vni, 0x1234);
        assert_eq!(p.tunnel.inner_offset, 14 + 20 + 8 + 8);
        let q = parse_packet(&f[usize::from(p.tunnel.inner_offset)..]);
        assert_eq!(q.l4, L4::Tcp);
    }

    #[test]
    fn every_truncation_is_reported() {
        let f = eth_v4_tcp(b"hello");
        for n in 0..f.len() {
            let p = parse_packet(&f[..n]);
            assert!(p.truncated.is_some(), "cut at {n} not flagged: {p:?}");
        }
        assert_eq!(parse_packet(&f[..13]).truncated, Some(Layer::Link));
        assert_eq!(parse_packet(&f[..30]).truncated, Some(Layer::Network));
        assert_eq!(parse_packet(&f[..40]).truncated, Some(Layer::Transport));
        assert_eq!(parse_packet(&f[..56]).truncated, Some(Layer::Payload));
    }

    #[test]
    fn raw_ip_and_sll() {
        let f = eth_v4_tcp(b"hi");
        let p = parse_link(&f[14..], LinkType::RawIp);
        assert_eq!(
            (p.l3, p.l4, p.l3_offset, p.payload_len),
            (L3::Ipv4, L4::Tcp, 0, 2)
        );
        let mut sll = vec![0u8; 16];
        sll[14..16].copy_from_slice(&0x0800u16.to_be_bytes());
        sll.extend_from_slice(&f[14..]);
        let p = parse_link(&sll, LinkType::LinuxSll);
        assert_eq!((p.l3, p.l4, p.l3_offset), (L3::Ipv4, L4::Tcp, 16));
        let mut sll2 = vec![0u8; 20];
        sll2[0..2].copy_from_slice(&0x0800u16.to_be_bytes());
        sll2.extend_from_slice(&f[14..]);
        let p = parse_link(&sll2, LinkType::LinuxSll2);
        assert_eq!((p.l3, p.l4, p.l3_offset), (L3::Ipv4, L4::Tcp, 20));
    }

    #[test]
    fn bsd_loopback_and_cisco_hdlc() {
        let f = eth_v4_tcp(b"hi");
        let ip = &f[14..];
        let with = |head: &[u8]| [head, ip].concat();
        // NULL in either host order, LOOP in network order: IPv4 after four bytes.
        for (link, head) in [
            (LinkType::Null, [2, 0, 0, 0]),
            (LinkType::Null, [0, 0, 0, 2]),
            (LinkType::Loop, [0, 0, 0, 2]),
            (LinkType::CiscoHdlc, [0x0f, 0, 0x08, 0x00]),
        ] {
            let frame = with(&head);
            let p = parse_link(&frame, link);
            assert_eq!(
                (p.link, p.l3, p.l4, p.l3_offset, p.ethertype, p.payload_len),
                (link, L3::Ipv4, L4::Tcp, 4, ethertype::IPV4, 2),
                "{link:?} {head:?}"
            );
            assert!(!p.has_ethernet && p.truncated.is_none() && p.anomalies.is_empty());
            // Cut inside the link header, then inside the IP header.
            for n in 0..4 {
                assert_eq!(parse_link(&frame[..n], link).truncated, Some(Layer::Link));
            }
            assert_eq!(
                parse_link(&frame[..10], link).truncated,
                Some(Layer::Network)
            );
        }
        // The three IPv6 families, in both orders for NULL.
        let mut v6 = vec![0x60, 0, 0, 0, 0, 0, 59, 64];
        v6.extend_from_slice(&[0; 32]);
        for family in [24u32, 28, 30] {
            for (link, head) in [
                (LinkType::Null, family.to_le_bytes()),
                (LinkType::Null, family.to_be_bytes()),
                (LinkType::Loop, family.to_be_bytes()),
            ] {
                let p = parse_link(&[&head[..], &v6].concat(), link);
                assert_eq!((p.l3, p.ethertype), (L3::Ipv6, ethertype::IPV6), "{family}");
            }
        }
        // LOOP is not guessed; unknown families and HDLC's other protocols stop at the link.
        for (link, head, et) in [
            (LinkType::Loop, [2, 0, 0, 0], 0),
            (LinkType::Null, [7, 0, 0, 0], 0),
            (LinkType::CiscoHdlc, [0x8f, 0, 0x80, 0x35], 0x8035),
            (LinkType::CiscoHdlc, [0x0f, 0, 0x00, 0xfe], 0x00fe),
        ] {
            let p = parse_link(&with(&head), link);
            assert_eq!(
                (p.l3, p.l4, p.l3_offset, p.ethertype),
                (L3::Other, L4::None, 4, et),
                "{link:?} {head:?}"
            );
            assert!(
                p.anomalies.is_empty(),
                "{link:?} {head:?}: {:?}",
                p.anomalies
            );
        }
    }

    proptest! {
        #[test]
        fn never_panics_and_stays_in_bounds(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            for link in [
                LinkType::Ethernet, LinkType::RawIp, LinkType::LinuxSll, LinkType::LinuxSll2,
                LinkType::Null, LinkType::Loop, LinkType::CiscoHdlc,
            ] {
                let p = parse_link(&bytes, link);
                prop_assert!(usize::from(p.l3_offset) <= bytes.len() || p.l3 == L3::None || p.truncated.is_some() || p.l3 == L3::Other);
                let s = usize::from(p.payload_offset);
                prop_assert!(s + p.payload_len as usize <= bytes.len());
            }
        }

        #[test]
        fn etherparse_agrees(
            sport in any::<u16>(), dport in any::<u16>(), v6 in any::<bool>(), tcp in any::<bool>(),
            vlan in proptest::option::of(0u16..4096), payload in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let eth = PacketBuilder::ethernet2([1; 6], [2; 6]);
            let mut f = Vec::new();
            macro_rules! fin { ($ip:expr) => {
                if tcp { $ip.tcp(sport, dport, 1, 100).ack(5).write(&mut f, &payload).unwrap() }
                else { $ip.udp(sport, dport).write(&mut f, &payload).unwrap() }
            }}
            match (vlan, v6) {
                (None, false) => fin!(eth.ipv4([1, 2, 3, 4], [5, 6, 7, 8], 9)),
                (None, true) => fin!(eth.ipv6([1; 16], [2; 16], 9)),
                (Some(v), false) => fin!(eth.single_vlan(etherparse::VlanId::try_new(v).unwrap()).ipv4([1, 2, 3, 4], [5, 6, 7, 8], 9)),
                (Some(v), true) => fin!(eth.single_vlan(etherparse::VlanId::try_new(v).unwrap()).ipv6([1; 16], [2; 16], 9)),
            }
            let p = parse_packet(&f);
            let e = etherparse::SlicedPacket::from_ethernet(&f).unwrap();
            prop_assert_eq!(p.vlan_count as usize, usize::from(vlan.is_some()));
            if let Some(v) = vlan { prop_assert_eq!(p.vlans[0].vid(), v); }
            prop_assert_eq!(p.l3, if v6 { L3::Ipv6 } else { L3::Ipv4 });
            prop_assert_eq!(p.l4, if tcp { L4::Tcp } else { L4::Udp });
            prop_assert_eq!((p.src_port, p.dst_port), (sport, dport));
            let want: &[u8] = match e.transport { Some(etherparse::TransportSlice::Tcp(t)) => t.payload(), Some(etherparse::TransportSlice::Udp(u)) => u.payload(), _ => unreachable!() };
            if p.tunnel.kind == TunnelKind::None {
                prop_assert_eq!(p.payload(&f), want);
            }
        }
    }
}
