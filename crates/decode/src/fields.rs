//! The header fields `decode` prints beyond what [`ParsedPacket`] records: read directly from the
//! frame at the offsets the walk found, each read bounds-checked, plus checksum verification.
//!
//! Nothing here may allocate or panic on any bytes; a field that is not in the frame is `None`.

use wire::checksum::{checksum, l4_checksum, pseudo_header_v4, pseudo_header_v6};
use wire::{Fragment, L3, L4, ParsedPacket, ip_proto};

/// A big-endian u16 at `at`, if in bounds.
#[inline]
pub(crate) fn be16(f: &[u8], at: usize) -> Option<u16> {
    match f.get(at..at.checked_add(2)?) {
        Some(&[a, b]) => Some(u16::from_be_bytes([a, b])),
        _ => None,
    }
}

/// A big-endian u32 at `at`, if in bounds.
#[inline]
pub(crate) fn be32(f: &[u8], at: usize) -> Option<u32> {
    match f.get(at..at.checked_add(4)?) {
        Some(&[a, b, c, d]) => Some(u32::from_be_bytes([a, b, c, d])),
        _ => None,
    }
}

/// Four bytes at `at` (an IPv4 address), if in bounds.
#[inline]
pub(crate) fn arr4(f: &[u8], at: usize) -> Option<[u8; 4]> {
    f.get(at..at.checked_add(4)?)?.try_into().ok()
}

/// Six bytes at `at` (a MAC address), if in bounds.
#[inline]
pub(crate) fn arr6(f: &[u8], at: usize) -> Option<[u8; 6]> {
    f.get(at..at.checked_add(6)?)?.try_into().ok()
}

/// Sixteen bytes at `at` (an IPv6 address), if in bounds.
#[inline]
pub(crate) fn arr16(f: &[u8], at: usize) -> Option<[u8; 16]> {
    f.get(at..at.checked_add(16)?)?.try_into().ok()
}

/// The IPv4 header fields beyond the walk's, when the 20 fixed bytes are present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ipv4Fields {
    pub src: [u8; 4],
    pub dst: [u8; 4],
    /// Header length in bytes.
    pub ihl: usize,
    /// The total length field.
    pub total_len: u16,
    /// Identification.
    pub id: u16,
    /// Don't fragment.
    pub df: bool,
    /// More fragments.
    pub mf: bool,
    /// In bytes.
    pub frag_offset: u32,
}

/// Reads the IPv4 header at the packet's network offset.
pub(crate) fn ipv4(p: &ParsedPacket, f: &[u8]) -> Option<Ipv4Fields> {
    if p.l3 != L3::Ipv4 {
        return None;
    }
    let o = usize::from(p.l3_offset);
    let h: &[u8; 20] = f.get(o..o + 20)?.try_into().ok()?;
    let frag = u16::from_be_bytes([h[6], h[7]]);
    Some(Ipv4Fields {
        src: [h[12], h[13], h[14], h[15]],
        dst: [h[16], h[17], h[18], h[19]],
        ihl: usize::from(h[0] & 0x0f) * 4,
        total_len: u16::from_be_bytes([h[2], h[3]]),
        id: u16::from_be_bytes([h[4], h[5]]),
        df: frag & 0x4000 != 0,
        mf: frag & 0x2000 != 0,
        frag_offset: u32::from(frag & 0x1fff) * 8,
    })
}

/// Whether the IPv4 header checksum verifies; `None` when the options are cut off (a header
/// length under 20 bytes fails). Apart from [`ipv4`], as only the JSON form prints it.
pub(crate) fn ipv4_hdr_checksum_ok(h: &Ipv4Fields, p: &ParsedPacket, f: &[u8]) -> Option<bool> {
    if h.ihl < 20 {
        return Some(false);
    }
    let o = usize::from(p.l3_offset);
    f.get(o..o + h.ihl).map(|hdr| checksum(hdr) == 0)
}

/// An IPv6 extension header kind, in the order met.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ipv6Ext {
    /// Hop-by-hop options (next header 0).
    HopByHop,
    Routing,
    Fragment,
    DestinationOptions,
    Authentication,
}

impl Ipv6Ext {
    /// The JSON name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Ipv6Ext::HopByHop => "hop_by_hop",
            Ipv6Ext::Routing => "routing",
            Ipv6Ext::Fragment => "fragment",
            Ipv6Ext::DestinationOptions => "destination_options",
            Ipv6Ext::Authentication => "authentication",
        }
    }
}

/// The IPv6 fixed header fields and the extension chain, when the 40 fixed bytes are present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ipv6Fields {
    pub src: [u8; 16],
    pub dst: [u8; 16],
    /// The payload length field.
    pub payload_len: u16,
    /// The next-header field of the fixed header.
    pub next_header: u8,
    /// The 20-bit flow label.
    pub flow_label: u32,
    /// The 8-bit traffic class.
    pub traffic_class: u8,
    /// Extension headers met, in order; `ext_count` of them are valid (at most 8 are walked).
    pub ext: [Ipv6Ext; 8],
    pub ext_count: u8,
    /// The fragment header, if there is one.
    pub frag: Option<Ipv6Frag>,
}

/// An IPv6 fragment header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ipv6Frag {
    /// Identification.
    pub id: u32,
    /// Fragment offset in bytes.
    pub offset: u32,
    /// More fragments follow.
    pub more: bool,
    /// Frame offset of the first byte after the fragment header.
    pub data_at: usize,
}

impl Ipv6Fields {
    /// The extension headers met, in order.
    pub(crate) fn exts(&self) -> &[Ipv6Ext] {
        self.ext.get(..usize::from(self.ext_count)).unwrap_or(&[])
    }
}

/// Reads the IPv6 header at the packet's network offset and walks its extension headers.
pub(crate) fn ipv6(p: &ParsedPacket, f: &[u8]) -> Option<Ipv6Fields> {
    if p.l3 != L3::Ipv6 {
        return None;
    }
    let o = usize::from(p.l3_offset);
    let h: &[u8; 40] = f.get(o..o + 40)?.try_into().ok()?;
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src.copy_from_slice(&h[8..24]);
    dst.copy_from_slice(&h[24..40]);
    let mut v = Ipv6Fields {
        src,
        dst,
        payload_len: u16::from_be_bytes([h[4], h[5]]),
        next_header: h[6],
        flow_label: u32::from_be_bytes([0, h[1] & 0x0f, h[2], h[3]]),
        traffic_class: (h[0] << 4) | (h[1] >> 4),
        ext: [Ipv6Ext::HopByHop; 8],
        ext_count: 0,
        frag: None,
    };
    let mut next = h[6];
    let mut at = o + 40;
    for slot in 0..8 {
        let kind = match next {
            ip_proto::HOPOPT => Ipv6Ext::HopByHop,
            ip_proto::IPV6_ROUTE => Ipv6Ext::Routing,
            ip_proto::IPV6_FRAG => Ipv6Ext::Fragment,
            ip_proto::IPV6_OPTS => Ipv6Ext::DestinationOptions,
            ip_proto::AH => Ipv6Ext::Authentication,
            _ => break,
        };
        v.ext[slot] = kind;
        v.ext_count += 1;
        let Some(e) = f.get(at..at + 8) else { break };
        let len = match kind {
            Ipv6Ext::Fragment => {
                let fo = u16::from_be_bytes([e[2], e[3]]);
                let id = u32::from_be_bytes([e[4], e[5], e[6], e[7]]);
                v.frag = Some(Ipv6Frag {
                    id,
                    offset: u32::from(fo >> 3) * 8,
                    more: fo & 1 != 0,
                    data_at: at + 8,
                });
                8
            }
            Ipv6Ext::Authentication => (usize::from(e[1]) + 2) * 4,
            _ => (usize::from(e[1]) + 1) * 8,
        };
        next = e[0];
        at += len;
    }
    Some(v)
}

/// The TCP header fields beyond ports and flags, when the 20 fixed bytes are present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TcpFields {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Window (unscaled).
    pub win: u16,
    /// Urgent pointer.
    pub urg_ptr: u16,
    /// Header length in bytes (data offset × 4).
    pub hdr_len: usize,
}

/// Reads the TCP header at the packet's transport offset.
pub(crate) fn tcp(p: &ParsedPacket, f: &[u8]) -> Option<TcpFields> {
    if p.l4 != L4::Tcp {
        return None;
    }
    let o = usize::from(p.l4_offset);
    let h: &[u8; 20] = f.get(o..o + 20)?.try_into().ok()?;
    Some(TcpFields {
        seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
        ack: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
        win: u16::from_be_bytes([h[14], h[15]]),
        urg_ptr: u16::from_be_bytes([h[18], h[19]]),
        hdr_len: usize::from(h[12] >> 4) * 4,
    })
}

/// Source and destination ports of a TCP or UDP header, if its first four bytes are present.
pub(crate) fn ports(p: &ParsedPacket, f: &[u8]) -> Option<(u16, u16)> {
    if !matches!(p.l4, L4::Tcp | L4::Udp) {
        return None;
    }
    let o = usize::from(p.l4_offset);
    Some((be16(f, o)?, be16(f, o + 2)?))
}

/// ICMP or ICMPv6 type and code, if present.
pub(crate) fn icmp_type_code(p: &ParsedPacket, f: &[u8]) -> Option<(u8, u8)> {
    if !matches!(p.l4, L4::Icmpv4 | L4::Icmpv6) {
        return None;
    }
    let o = usize::from(p.l4_offset);
    match f.get(o..o + 2) {
        Some(&[t, c]) => Some((t, c)),
        _ => None,
    }
}

/// Where the IP datagram ends per its length field(s), as a frame offset.
#[inline]
pub(crate) fn ip_end(p: &ParsedPacket) -> usize {
    usize::from(p.l3_offset) + p.ip_len as usize
}

/// The transport-layer length per the IP header(s): bytes from the transport header to the end of
/// the datagram, whether or not they were captured.
#[inline]
pub(crate) fn l4_len(p: &ParsedPacket) -> usize {
    ip_end(p).saturating_sub(usize::from(p.l4_offset))
}

/// Whether the TCP, UDP, ICMP or ICMPv6 checksum verifies. `None` when it cannot be judged: the
/// segment is not all in the frame, the packet is a fragment, the protocol has no checksum we
/// check, or it is IPv4 UDP with checksum 0 (none computed). The pseudo-header uses the
/// addresses in the IP header (an IPv6 routing header's final destination is not looked up).
pub(crate) fn l4_checksum_ok(p: &ParsedPacket, f: &[u8]) -> Option<bool> {
    if p.fragment != Fragment::No || !matches!(p.l4, L4::Tcp | L4::Udp | L4::Icmpv4 | L4::Icmpv6) {
        return None;
    }
    let o = usize::from(p.l4_offset);
    let mut seg = f.get(o..ip_end(p))?;
    if p.l4 == L4::Udp {
        let csum = be16(seg, 6)?;
        if csum == 0 && p.l3 == L3::Ipv4 {
            return None;
        }
        // The UDP length field, when sane, bounds what the checksum covers.
        let ulen = usize::from(be16(seg, 4)?);
        if (8..=seg.len()).contains(&ulen) {
            seg = seg.get(..ulen)?;
        }
    }
    let len = u32::try_from(seg.len()).ok()?;
    let pseudo = match (p.l3, p.l4) {
        (_, L4::Icmpv4) => 0,
        (L3::Ipv4, _) => {
            let (s, d) = p.ipv4_addrs(f)?;
            pseudo_header_v4(s, d, p.ip_proto, len)
        }
        (L3::Ipv6, _) => {
            let (s, d) = p.ipv6_addrs(f)?;
            pseudo_header_v6(s, d, p.ip_proto, len)
        }
        _ => return None,
    };
    Some(l4_checksum(pseudo, seg) == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;
    use wire::parse_packet;

    /// Writes one frame with etherparse.
    type Build = fn(&mut Vec<u8>, &[u8]);

    fn build(b: Build, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        b(&mut v, payload);
        v
    }

    #[test]
    fn checksums_verify_and_detect_corruption() {
        let cases: [Build; 5] = [
            |v, p| {
                PacketBuilder::ethernet2([1; 6], [2; 6])
                    .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                    .tcp(1, 2, 3, 4)
                    .write(v, p)
                    .unwrap()
            },
            |v, p| {
                PacketBuilder::ethernet2([1; 6], [2; 6])
                    .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                    .udp(1, 2)
                    .write(v, p)
                    .unwrap()
            },
            |v, p| {
                PacketBuilder::ethernet2([1; 6], [2; 6])
                    .ipv6([1; 16], [2; 16], 64)
                    .udp(1, 2)
                    .write(v, p)
                    .unwrap()
            },
            |v, p| {
                PacketBuilder::ethernet2([1; 6], [2; 6])
                    .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                    .icmpv4_echo_request(7, 9)
                    .write(v, p)
                    .unwrap()
            },
            |v, p| {
                PacketBuilder::ethernet2([1; 6], [2; 6])
                    .ipv6([1; 16], [2; 16], 64)
                    .icmpv6_echo_request(7, 9)
                    .write(v, p)
                    .unwrap()
            },
        ];
        for (i, b) in cases.iter().enumerate() {
            let mut f = build(*b, b"hello world");
            let p = parse_packet(&f);
            assert_eq!(l4_checksum_ok(&p, &f), Some(true), "case {i}");
            if let Some(v4) = ipv4(&p, &f) {
                assert_eq!(ipv4_hdr_checksum_ok(&v4, &p, &f), Some(true));
            }
            let last = f.len() - 1;
            f[last] ^= 0x55;
            assert_eq!(l4_checksum_ok(&p, &f), Some(false), "case {i} corrupted");
            // Cut: cannot judge.
            let p = parse_packet(&f[..last]);
            assert_eq!(l4_checksum_ok(&p, &f[..last]), None, "case {i} cut");
        }
    }

    #[test]
    fn udp_v4_zero_checksum_is_unjudged() {
        let mut f = build(
            |v, p| {
                PacketBuilder::ethernet2([1; 6], [2; 6])
                    .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                    .udp(1, 2)
                    .write(v, p)
                    .unwrap()
            },
            b"x",
        );
        f[14 + 20 + 6] = 0;
        f[14 + 20 + 7] = 0;
        let p = parse_packet(&f);
        assert_eq!(l4_checksum_ok(&p, &f), None);
    }

    #[test]
    fn ipv4_fields_and_bad_header_checksum() {
        let mut f = build(
            |v, p| {
                PacketBuilder::ethernet2([1; 6], [2; 6])
                    .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                    .udp(1, 2)
                    .write(v, p)
                    .unwrap()
            },
            b"abc",
        );
        let p = parse_packet(&f);
        let v4 = ipv4(&p, &f).unwrap();
        assert_eq!((v4.ihl, v4.total_len, v4.frag_offset), (20, 31, 0));
        assert_eq!(v4.src, [10, 0, 0, 1]);
        f[14 + 10] ^= 1;
        assert_eq!(ipv4_hdr_checksum_ok(&v4, &p, &f), Some(false));
        // Nothing but the first bytes: no fields, no panic.
        let p = parse_packet(&f[..20]);
        assert_eq!(ipv4(&p, &f[..20]), None);
    }

    #[test]
    fn ipv6_chain_is_listed_in_order() {
        let mut f = vec![0u8; 14];
        f[12] = 0x86;
        f[13] = 0xdd;
        let mut ip = [0u8; 40];
        ip[0] = 0x60;
        ip[4..6].copy_from_slice(&24u16.to_be_bytes());
        ip[6] = ip_proto::HOPOPT;
        f.extend_from_slice(&ip);
        f.extend_from_slice(&[ip_proto::IPV6_FRAG, 0, 5, 2, 1, 0, 0, 0]);
        f.extend_from_slice(&[ip_proto::UDP, 0, 0x05, 0xc9, 0, 0, 0x12, 0x34]);
        f.extend_from_slice(&[0, 1, 0, 2, 0, 8, 0, 0]);
        let p = parse_packet(&f);
        let v6 = ipv6(&p, &f).unwrap();
        assert_eq!(v6.exts(), &[Ipv6Ext::HopByHop, Ipv6Ext::Fragment]);
        assert_eq!(
            v6.frag,
            Some(Ipv6Frag {
                id: 0x1234,
                offset: 0x05c8,
                more: true,
                data_at: 14 + 40 + 16
            })
        );
        assert_eq!(v6.next_header, 0);
        // A chain cut inside an extension header stops without panicking.
        for n in 0..f.len() {
            let p = parse_packet(&f[..n]);
            let _ = ipv6(&p, &f[..n]);
            let _ = l4_checksum_ok(&p, &f[..n]);
        }
    }
}
