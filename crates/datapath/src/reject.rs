//! Answers to a reject verdict: a TCP RST for TCP, an ICMP (or ICMPv6) destination unreachable
//! for anything else over IP, sent back to the sender out of the port the packet came in by.
//!
//! The answer is built into a caller-supplied buffer; nothing allocates. Packets that must never
//! be answered (RSTs, ICMP errors, non-first fragments, broadcast or multicast destinations)
//! get no answer, as RFC 1122 and RFC 4443 require. Answers are rate-limited per input port
//! ([`ReplyLimiter`]), so that spoofed sources cannot turn a reject rule into a reflector.

use wire::checksum;

use crate::meter::TokenBucket;
use crate::port::PortId;
use wire::{Fragment, L3, L4, ParsedPacket};

/// Largest answer built: an IPv6 minimum MTU's worth (RFC 4443 section 2.4 (c)).
pub const MAX_REPLY: usize = 14 + 8 + 1280;

/// At most `rate` answers per second per input port, with bursts of `burst`, on the pipeline's
/// clock. No allocation after a port is first seen.
#[derive(Debug, Clone)]
pub struct ReplyLimiter {
    rate_milli: u64,
    cap_milli: u64,
    buckets: Vec<TokenBucket>,
}

impl ReplyLimiter {
    /// A limiter of `rate` answers per second and bursts of `burst` per input port (0 and 0:
    /// never answer).
    pub fn new(rate: u64, burst: u64) -> Self {
        ReplyLimiter {
            rate_milli: rate.saturating_mul(1000),
            cap_milli: burst.saturating_mul(1000),
            buckets: Vec::new(),
        }
    }

    /// Asks to answer a packet that came in by `port` at `now` (ns). True when allowed.
    pub fn admit(&mut self, port: PortId, now: u64) -> bool {
        let i = usize::from(port);
        if i >= self.buckets.len() {
            self.buckets.resize(i + 1, TokenBucket::default());
        }
        self.buckets[i].take(now, self.cap_milli, self.rate_milli)
    }
}

/// Builds the answer to `frame` into `out` and returns its length, or `None` when the packet
/// must not be answered.
pub fn build_reply(frame: &[u8], p: &ParsedPacket, out: &mut [u8]) -> Option<usize> {
    if !p.has_ethernet || p.truncated.is_some_and(|l| l != wire::Layer::Payload) {
        return None;
    }
    let eth_dst = frame.get(0..6)?;
    if eth_dst[0] & 1 != 0 {
        return None;
    }
    let l3 = usize::from(p.l3_offset);
    // Ethernet + VLAN tags are copied as they came, with the MACs swapped.
    let l2 = frame.get(..l3)?;
    if out.len() < l3 {
        return None;
    }
    out[..l3].copy_from_slice(l2);
    out[0..6].copy_from_slice(&frame[6..12]);
    out[6..12].copy_from_slice(&frame[0..6]);
    let body = match (p.l3, p.l4) {
        (_, L4::Tcp) if p.fragment != Fragment::Later => tcp_rst(frame, p, &mut out[l3..])?,
        (L3::Ipv4, L4::Icmpv4) if is_icmp_error(p.src_port as u8, false) => return None,
        (L3::Ipv6, L4::Icmpv6) if is_icmp_error(p.src_port as u8, true) => return None,
        (L3::Ipv4, _) if p.fragment != Fragment::Later => icmp4_unreach(frame, p, &mut out[l3..])?,
        (L3::Ipv6, _) if p.fragment != Fragment::Later => icmp6_unreach(frame, p, &mut out[l3..])?,
        _ => return None,
    };
    Some(l3 + body)
}

fn is_icmp_error(ty: u8, v6: bool) -> bool {
    if v6 {
        ty < 128
    } else {
        matches!(ty, 3 | 4 | 5 | 11 | 12)
    }
}

fn tcp_rst(frame: &[u8], p: &ParsedPacket, out: &mut [u8]) -> Option<usize> {
    if p.tcp_flags & 0x004 != 0 {
        return None; // never answer a RST
    }
    let l4 = usize::from(p.l4_offset);
    let tcp = frame.get(l4..l4 + 20)?;
    let seq = u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]);
    let ack = u32::from_be_bytes([tcp[8], tcp[9], tcp[10], tcp[11]]);
    let syn_fin = u32::from(p.tcp_flags & 0x001 != 0) + u32::from(p.tcp_flags & 0x002 != 0);
    let seg_len = p.payload_len + syn_fin;
    // RFC 793: if the incoming segment has ACK, the RST takes its sequence number from the ACK
    // field; otherwise seq 0 and ACK of everything received.
    let (r_seq, r_ack, flags) = if p.tcp_flags & 0x010 != 0 {
        (ack, 0, 0x004u8)
    } else {
        (0, seq.wrapping_add(seg_len), 0x014u8)
    };
    let ip_hdr = match p.l3 {
        L3::Ipv4 => 20,
        L3::Ipv6 => 40,
        _ => return None,
    };
    if out.len() < ip_hdr + 20 {
        return None;
    }
    let mut seg = [0u8; 20];
    seg[0..2].copy_from_slice(&tcp[2..4]);
    seg[2..4].copy_from_slice(&tcp[0..2]);
    seg[4..8].copy_from_slice(&r_seq.to_be_bytes());
    seg[8..12].copy_from_slice(&r_ack.to_be_bytes());
    seg[12] = 5 << 4;
    seg[13] = flags;
    write_ip(frame, p, ip_hdr, wire::ip_proto::TCP, &seg, 16, out)
}

fn icmp4_unreach(frame: &[u8], p: &ParsedPacket, out: &mut [u8]) -> Option<usize> {
    let l3 = usize::from(p.l3_offset);
    let ihl = usize::from(frame.get(l3)? & 0x0f) * 4;
    // Quote the IP header and the first 8 bytes of its payload (RFC 792).
    let end = (l3 + ihl + 8).min(frame.len());
    let quote = frame.get(l3..end)?;
    let mut msg = [0u8; 8 + 60 + 8];
    msg[0] = 3; // destination unreachable
    msg[1] = if p.l4 == L4::Udp || p.l4 == L4::Tcp {
        3
    } else {
        2
    }; // port / protocol
    msg[8..8 + quote.len()].copy_from_slice(quote);
    let n = 8 + quote.len();
    let c = checksum::checksum(&msg[..n]);
    msg[2..4].copy_from_slice(&c.to_be_bytes());
    write_ip(
        frame,
        p,
        20,
        wire::ip_proto::ICMP,
        &msg[..n],
        usize::MAX,
        out,
    )
}

fn icmp6_unreach(frame: &[u8], p: &ParsedPacket, out: &mut [u8]) -> Option<usize> {
    let l3 = usize::from(p.l3_offset);
    let avail = (l3 + p.ip_len as usize).min(frame.len());
    let room = (1280 - 40 - 8).min(out.len().saturating_sub(48));
    let quote = frame.get(l3..avail.min(l3 + room))?;
    let mut msg = [0u8; 1280 - 40];
    msg[0] = 1; // destination unreachable
    msg[1] = 4; // port unreachable
    msg[8..8 + quote.len()].copy_from_slice(quote);
    let n = 8 + quote.len();
    write_ip(frame, p, 40, wire::ip_proto::ICMPV6, &msg[..n], 2, out)
}

/// Writes an IP header answering the packet, then `l4` with its checksum at
/// `csum_at` filled using the pseudo-header (`usize::MAX`: already filled).
#[allow(clippy::too_many_arguments)]
fn write_ip(
    frame: &[u8],
    p: &ParsedPacket,
    hdr: usize,
    proto: u8,
    l4: &[u8],
    csum_at: usize,
    out: &mut [u8],
) -> Option<usize> {
    let total = hdr + l4.len();
    if out.len() < total {
        return None;
    }
    let (ip, rest) = out.split_at_mut(hdr);
    let seg = &mut rest[..l4.len()];
    seg.copy_from_slice(l4);
    match p.l3 {
        L3::Ipv4 => {
            let (src, dst) = p.ipv4_addrs(frame)?;
            if dst[0] >= 224 || dst == [255; 4] {
                return None;
            }
            ip.fill(0);
            ip[0] = 0x45;
            ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
            ip[6] = 0x40; // DF
            ip[8] = 64;
            ip[9] = proto;
            ip[12..16].copy_from_slice(&dst);
            ip[16..20].copy_from_slice(&src);
            let c = checksum::checksum(ip);
            ip[10..12].copy_from_slice(&c.to_be_bytes());
            if csum_at != usize::MAX {
                let ph = checksum::pseudo_header_v4(dst, src, proto, l4.len() as u32);
                let c = checksum::l4_checksum(ph, seg);
                seg[csum_at..csum_at + 2].copy_from_slice(&c.to_be_bytes());
            }
        }
        L3::Ipv6 => {
            let (src, dst) = p.ipv6_addrs(frame)?;
            if dst[0] == 0xff {
                return None;
            }
            ip.fill(0);
            ip[0] = 0x60;
            ip[4..6].copy_from_slice(&(l4.len() as u16).to_be_bytes());
            ip[6] = proto;
            ip[7] = 64;
            ip[8..24].copy_from_slice(&dst);
            ip[24..40].copy_from_slice(&src);
            let ph = checksum::pseudo_header_v6(dst, src, proto, l4.len() as u32);
            let c = checksum::l4_checksum(ph, seg);
            seg[csum_at..csum_at + 2].copy_from_slice(&c.to_be_bytes());
        }
        _ => return None,
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{PacketBuilder, SlicedPacket, TransportSlice};

    fn answer(frame: &[u8]) -> Option<Vec<u8>> {
        let p = wire::parse_packet(frame);
        let mut out = [0u8; MAX_REPLY];
        build_reply(frame, &p, &mut out).map(|n| out[..n].to_vec())
    }

    #[test]
    fn rst_for_syn() {
        let mut f = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 80, 1000, 64240)
            .syn()
            .write(&mut f, &[])
            .unwrap();
        let r = answer(&f).unwrap();
        let s = SlicedPacket::from_ethernet(&r).unwrap();
        let Some(TransportSlice::Tcp(t)) = s.transport else {
            panic!()
        };
        assert!(t.rst() && t.ack());
        assert_eq!((t.source_port(), t.destination_port()), (80, 40000));
        assert_eq!(t.acknowledgment_number(), 1001);
        let p = wire::parse_packet(&r);
        let (src, dst) = p.ipv4_addrs(&r).unwrap();
        assert_eq!((src, dst), ([10, 0, 0, 2], [10, 0, 0, 1]));
        assert_eq!(&r[0..6], &[2, 0, 0, 0, 0, 1]);
        // Checksums verify.
        assert_eq!(checksum::checksum(&r[14..34]), 0);
        let ph = checksum::pseudo_header_v4(src, dst, 6, 20);
        assert_eq!(checksum::l4_checksum(ph, &r[34..54]), 0);
        // Never answer a RST.
        assert!(answer(&r).is_none());
    }

    #[test]
    fn icmp_for_udp_v4_and_v6() {
        let mut f = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(5000, 53)
            .write(&mut f, b"query")
            .unwrap();
        let r = answer(&f).unwrap();
        let p = wire::parse_packet(&r);
        assert_eq!((p.l4, p.src_port, p.dst_port), (L4::Icmpv4, 3, 3));
        assert_eq!(checksum::checksum(&r[34..]), 0);
        assert!(answer(&r).is_none(), "no error about an error");

        let mut f = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv6([0xfd; 16], [0xfe; 16], 64)
            .udp(5000, 53)
            .write(&mut f, b"query")
            .unwrap();
        let r = answer(&f).unwrap();
        let p = wire::parse_packet(&r);
        assert_eq!((p.l4, p.src_port, p.dst_port), (L4::Icmpv6, 1, 4));
        let (s, d) = p.ipv6_addrs(&r).unwrap();
        let ph = checksum::pseudo_header_v6(s, d, 58, (r.len() - 54) as u32);
        assert_eq!(checksum::l4_checksum(ph, &r[54..]), 0);
    }

    #[test]
    fn broadcast_is_not_answered() {
        let mut f = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [0xff; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 255], 64)
            .udp(5000, 53)
            .write(&mut f, b"x")
            .unwrap();
        assert!(answer(&f).is_none());
    }

    #[test]
    fn garbage_never_panics() {
        let mut out = [0u8; MAX_REPLY];
        for len in 0..120 {
            for seed in 0..50u8 {
                let f: Vec<u8> = (0..len)
                    .map(|i| (i as u8).wrapping_mul(seed).wrapping_add(seed))
                    .collect();
                let p = wire::parse_packet(&f);
                let _ = build_reply(&f, &p, &mut out);
            }
        }
    }
}
