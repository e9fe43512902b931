//! Software segmentation of TSO/GSO super-frames: a frame of up to 64 KB that a guest handed
//! over with `virtio_net_hdr.gso_type` set is cut into wire-sized packets, each with its own
//! headers and complete checksums, as Linux's `skb_gso_segment` does.
//!
//! Super-frames travel through the pipeline whole; the datapath calls [`segment`] only where
//! wire-sized packets are needed: just before transmitting to a port without TSO/USO, and just
//! before an inspector that must see packets as they would be on the wire. A frame without
//! segmentation offload passes through, its `NEEDS_CSUM` checksum completed if it has one.
//!
//! What it must never do: allocate (each segment is built in the caller's `scratch` buffer and
//! handed to a callback before the next one overwrites it), panic on any bytes or metadata, or
//! trust the guest: the offload metadata is checked against a fresh parse of the bytes, every
//! read is bounds-checked, and the transport checksums are computed from scratch rather than
//! completed from the guest's partial sum. Validation happens before the first segment is
//! emitted, so an error means nothing was emitted.
//!
//! Per segment (as Linux's `tcp_gso_segment`/`__udp_gso_segment` and `inet_gso_segment`):
//! L2 header (VLAN tags included), IP header with its options or IPv6 extension headers, and
//! the transport header are copied; IPv4 total length or IPv6 payload length is fixed, the IPv4
//! identification goes up by one per segment and its header checksum is recomputed. TCP: the
//! sequence number advances by the bytes already sent, FIN and PSH stay only on the last
//! segment, CWR only on the first. UDP: each datagram gets its own length. The transport
//! checksum always covers the pseudo-header (with the final destination when an IPv6 routing
//! header has segments left) and the segment, so the output is valid on the wire whatever
//! `NEEDS_CSUM` said. Emitted segments carry `gso_type` `None` and the `DATA_VALID` flag.
//!
//! The ECN bit of the offload metadata changes nothing: CWR is cleared after the first segment
//! either way. IPv4 super-frames must carry their real total length (no "BIG TCP" zero);
//! an IPv6 payload length of zero means "the rest of the frame", as [`wire::parse_packet`] reads it.

use thiserror::Error;
use wire::checksum::{checksum, fold, l4_checksum, pseudo_header_v4, pseudo_header_v6, sum};
use wire::{Fragment, L3, L4, Layer, LinkType, ip_proto};

use crate::buf::{GsoType, OffloadMeta, PacketBuf};

/// Why a frame could not be segmented (or its checksum completed). Nothing was emitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum GsoError {
    /// Segmentation asked for with a segment size of zero.
    #[error("{gso:?} segmentation asked for with gso_size 0")]
    ZeroGsoSize {
        /// The segmentation type asked for.
        gso: GsoType,
    },
    /// The buffer's parse ([`PacketBuf::parsed`]) does not describe the frame's bytes.
    #[error("the buffer's parse does not describe its bytes (stale PacketBuf::parsed)")]
    StaleParse,
    /// The headers are not those the segmentation type needs.
    #[error("{gso:?} segmentation needs {needs}, the frame has {l3:?}/{l4:?}")]
    WrongHeaders {
        /// The segmentation type asked for.
        gso: GsoType,
        /// What it needs.
        needs: &'static str,
        /// Network layer found.
        l3: L3,
        /// Transport layer found.
        l4: L4,
    },
    /// The frame is cut short.
    #[error("the super-frame is cut short at the {layer} layer")]
    Truncated {
        /// Where (a [`Layer`] name).
        layer: &'static str,
    },
    /// The headers are present but cannot be segmented as they are.
    #[error("cannot segment: {what}")]
    Unsupported {
        /// What is wrong.
        what: &'static str,
    },
    /// An IPv6 routing header with segments left whose final destination is not known here.
    #[error(
        "IPv6 routing header type {routing_type} with segments left: its final destination (for the pseudo-header) is not known"
    )]
    RoutingHeader {
        /// The routing type (only 2 and 4 are handled).
        routing_type: u8,
    },
    /// `hdr_len` says the headers end past the frame.
    #[error("hdr_len {hdr_len} lies past the end of the {len}-byte frame")]
    BadHdrLen {
        /// `OffloadMeta::hdr_len`.
        hdr_len: u16,
        /// Frame length.
        len: usize,
    },
    /// `NEEDS_CSUM` offsets that do not point at the transport checksum field.
    #[error("NEEDS_CSUM with csum_start {csum_start} and csum_offset {csum_offset}: {why}")]
    BadCsumOffsets {
        /// `OffloadMeta::csum_start`.
        csum_start: u16,
        /// `OffloadMeta::csum_offset`.
        csum_offset: u16,
        /// What is wrong with them.
        why: &'static str,
    },
    /// A segment would not fit the IP or UDP length field.
    #[error("a {len}-byte segment overflows the {field} length field")]
    LengthOverflow {
        /// The field.
        field: &'static str,
        /// The value it would need.
        len: usize,
    },
    /// The scratch buffer is too small for one segment.
    #[error("a {needed}-byte segment does not fit the scratch buffer's {room} bytes of room")]
    ScratchTooSmall {
        /// Bytes of the largest segment.
        needed: usize,
        /// Room after the scratch buffer's headroom.
        room: usize,
    },
}

const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_CWR: u8 = 0x80;
/// IPv4 loose and strict source-route options: the pseudo-header would need the final hop.
const IPV4_OPT_LSRR: u8 = 131;
const IPV4_OPT_SSRR: u8 = 137;

/// Writes every wire-sized packet of `buf` into `scratch`, one at a time, and calls `emit` with
/// each; returns how many were emitted.
///
/// * `gso_type` [`GsoType::None`]: `buf` itself is emitted unchanged, or, with
///   [`OffloadMeta::NEEDS_CSUM`], a copy with the checksum completed (`csum_start` to the end).
/// * [`GsoType::TcpV4`], [`GsoType::TcpV6`], [`GsoType::UdpL4`]: the payload is cut into
///   `gso_size` pieces (at least one segment, even with no payload).
///
/// `scratch` needs room (capacity minus its headroom) for the headers plus `gso_size`; its
/// contents, `meta`, parse and `in_port` are overwritten for every segment. Emitted segments
/// are parsed when asked, have `in_port` from `buf`, and `meta` with only `DATA_VALID` set.
pub fn segment(
    buf: &PacketBuf,
    scratch: &mut PacketBuf,
    emit: &mut dyn FnMut(&PacketBuf),
) -> Result<usize, GsoError> {
    let (proto, l3) = match buf.meta.gso_type {
        GsoType::None => return complete(buf, scratch, emit),
        GsoType::TcpV4 => (Proto::Tcp, Some(L3::Ipv4)),
        GsoType::TcpV6 => (Proto::Tcp, Some(L3::Ipv6)),
        GsoType::UdpL4 => (Proto::Udp, None),
    };
    let plan = Plan::new(buf, scratch, proto, l3)?;
    plan.run(buf, scratch, emit)
}

/// The non-segmenting case: pass through, or complete a partial checksum in a copy.
fn complete(
    buf: &PacketBuf,
    scratch: &mut PacketBuf,
    emit: &mut dyn FnMut(&PacketBuf),
) -> Result<usize, GsoError> {
    let meta = buf.meta;
    if !meta.needs_csum() {
        emit(buf);
        return Ok(1);
    }
    let frame = buf.frame();
    let start = usize::from(meta.csum_start);
    let at = start + usize::from(meta.csum_offset);
    let bad = |why| GsoError::BadCsumOffsets {
        csum_start: meta.csum_start,
        csum_offset: meta.csum_offset,
        why,
    };
    if at + 2 > frame.len() {
        return Err(bad("the checksum field lies past the end of the frame"));
    }
    if !meta.csum_offset.is_multiple_of(2) {
        return Err(bad(
            "the checksum field is not 16-bit aligned with csum_start",
        ));
    }
    let area = scratch.receive_area();
    let room = area.len();
    let dst = area
        .get_mut(..frame.len())
        .ok_or(GsoError::ScratchTooSmall {
            needed: frame.len(),
            room,
        })?;
    dst.copy_from_slice(frame);
    // The field holds the pseudo-header sum; summing over it completes the checksum.
    let c = !fold(sum(0, dst.get(start..).unwrap_or(&[])));
    put(dst, at, &mangle_zero(c).to_be_bytes())?;
    finish(scratch, frame.len(), buf)?;
    emit(scratch);
    Ok(1)
}

/// A computed checksum of 0 is sent as 0xffff (equal in one's complement), as Linux's
/// `CSUM_MANGLED_0`: for UDP a zero field would mean "no checksum".
fn mangle_zero(c: u16) -> u16 {
    if c == 0 { 0xffff } else { c }
}

/// Marks `scratch`'s first `len` receive-area bytes as the frame, parses them and sets the
/// metadata of a finished packet.
fn finish(scratch: &mut PacketBuf, len: usize, from: &PacketBuf) -> Result<(), GsoError> {
    let room = scratch.capacity().saturating_sub(scratch.headroom());
    scratch
        .commit(len)
        .map_err(|_| GsoError::ScratchTooSmall { needed: len, room })?;
    if from.link() != LinkType::Ethernet {
        scratch.set_link(from.link());
    }
    scratch.meta = OffloadMeta {
        flags: OffloadMeta::DATA_VALID,
        ..OffloadMeta::default()
    };
    scratch.in_port = from.in_port;
    Ok(())
}

/// Copies `v` into `b` at `at`; a field outside `b` cannot happen after validation, but is an
/// error rather than a panic.
fn put(b: &mut [u8], at: usize, v: &[u8]) -> Result<(), GsoError> {
    match b.get_mut(at..at + v.len()) {
        Some(d) => {
            d.copy_from_slice(v);
            Ok(())
        }
        None => Err(GsoError::Truncated {
            layer: "segment header",
        }),
    }
}

fn array<const N: usize>(b: &[u8], at: usize, layer: &'static str) -> Result<[u8; N], GsoError> {
    b.get(at..at + N)
        .and_then(|s| s.try_into().ok())
        .ok_or(GsoError::Truncated { layer })
}

/// The transport protocol being segmented.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Proto {
    Tcp,
    Udp,
}

/// Everything [`segment`] needs, read and validated once from the super-frame.
struct Plan {
    proto: Proto,
    ipv4: bool,
    l3: usize,
    l4: usize,
    /// Start of the payload = length of the headers repeated in every segment.
    pay: usize,
    payload_len: usize,
    mss: usize,
    /// Pseudo-header sum without the length.
    pseudo: u64,
    ipv4_id: u16,
    seq: u32,
}

impl Plan {
    /// Validates `buf` for segmentation of `proto` over `l3` (IPv4 or IPv6 when `None`).
    fn new(
        buf: &PacketBuf,
        scratch: &mut PacketBuf,
        proto: Proto,
        l3: Option<L3>,
    ) -> Result<Plan, GsoError> {
        let frame = buf.frame();
        let meta = buf.meta;
        let gso = meta.gso_type;
        if meta.gso_size == 0 {
            return Err(GsoError::ZeroGsoSize { gso });
        }
        let p = wire::parse_link(frame, buf.link());
        if p != *buf.parsed() {
            return Err(GsoError::StaleParse);
        }
        match p.truncated {
            None | Some(Layer::Tunnel) => {}
            Some(layer) => {
                return Err(GsoError::Truncated {
                    layer: layer.name(),
                });
            }
        }
        let needs = match (proto, l3) {
            (Proto::Tcp, Some(L3::Ipv4)) => "IPv4 and TCP",
            (Proto::Tcp, _) => "IPv6 and TCP",
            (Proto::Udp, _) => "IPv4 or IPv6 and UDP",
        };
        let l3_ok = match l3 {
            Some(want) => p.l3 == want,
            None => matches!(p.l3, L3::Ipv4 | L3::Ipv6),
        };
        let l4_ok = match proto {
            Proto::Tcp => p.l4 == L4::Tcp,
            Proto::Udp => p.l4 == L4::Udp,
        };
        if !l3_ok || !l4_ok {
            return Err(GsoError::WrongHeaders {
                gso,
                needs,
                l3: p.l3,
                l4: p.l4,
            });
        }
        if p.fragment != Fragment::No {
            return Err(GsoError::Unsupported {
                what: "the frame is an IP fragment",
            });
        }
        let ipv4 = p.l3 == L3::Ipv4;
        let (l3, l4, pay) = (
            usize::from(p.l3_offset),
            usize::from(p.l4_offset),
            usize::from(p.payload_offset),
        );
        let (min_l3, min_l4) = (
            if ipv4 { 20 } else { 40 },
            if proto == Proto::Tcp { 20 } else { 8 },
        );
        if l4 < l3 + min_l3 {
            return Err(GsoError::Unsupported {
                what: "the IP header is shorter than its minimum",
            });
        }
        if p.payload_offset == 0 || pay < l4 + min_l4 {
            return Err(GsoError::Unsupported {
                what: "the transport header length is invalid or exceeds the IP datagram",
            });
        }
        if p.ipv6_ext & (1 << 4) != 0 {
            return Err(GsoError::Unsupported {
                what: "an IPv6 authentication header would not verify on the segments",
            });
        }
        if usize::from(meta.hdr_len) > frame.len() {
            return Err(GsoError::BadHdrLen {
                hdr_len: meta.hdr_len,
                len: frame.len(),
            });
        }
        let field = if proto == Proto::Tcp { 16 } else { 6 };
        if meta.needs_csum()
            && (usize::from(meta.csum_start) != l4 || usize::from(meta.csum_offset) != field)
        {
            return Err(GsoError::BadCsumOffsets {
                csum_start: meta.csum_start,
                csum_offset: meta.csum_offset,
                why: "they do not point at the transport checksum field",
            });
        }

        let payload_len = p.payload_len as usize;
        let mss = usize::from(meta.gso_size);
        let largest = pay + mss.min(payload_len);
        let ip_len = largest - l3 - if ipv4 { 0 } else { 40 };
        if ip_len > usize::from(u16::MAX) {
            return Err(GsoError::LengthOverflow {
                field: if ipv4 { "IPv4 total" } else { "IPv6 payload" },
                len: ip_len,
            });
        }
        let room = scratch.receive_area().len();
        if largest > room {
            return Err(GsoError::ScratchTooSmall {
                needed: largest,
                room,
            });
        }

        let (pseudo, ipv4_id) = if ipv4 {
            check_ipv4_options(frame.get(l3 + 20..l4).unwrap_or(&[]))?;
            let src = array::<4>(frame, l3 + 12, "network")?;
            let dst = array::<4>(frame, l3 + 16, "network")?;
            let id = u16::from_be_bytes(array::<2>(frame, l3 + 4, "network")?);
            (pseudo_header_v4(src, dst, p.ip_proto, 0), id)
        } else {
            let src = array::<16>(frame, l3 + 8, "network")?;
            let dst = ipv6_final_destination(frame, l3, l4)?;
            (pseudo_header_v6(src, dst, p.ip_proto, 0), 0)
        };
        let seq = match proto {
            Proto::Tcp => u32::from_be_bytes(array::<4>(frame, l4 + 4, "transport")?),
            Proto::Udp => 0,
        };
        Ok(Plan {
            proto,
            ipv4,
            l3,
            l4,
            pay,
            payload_len,
            mss,
            pseudo,
            ipv4_id,
            seq,
        })
    }

    fn run(
        &self,
        buf: &PacketBuf,
        scratch: &mut PacketBuf,
        emit: &mut dyn FnMut(&PacketBuf),
    ) -> Result<usize, GsoError> {
        let frame = buf.frame();
        let headers = frame
            .get(..self.pay)
            .ok_or(GsoError::Truncated { layer: "transport" })?;
        let payload = frame
            .get(self.pay..self.pay + self.payload_len)
            .ok_or(GsoError::Truncated { layer: "payload" })?;
        let count = self.payload_len.div_ceil(self.mss).max(1);
        for i in 0..count {
            let off = i * self.mss;
            let chunk = payload
                .get(off..payload.len().min(off + self.mss))
                .unwrap_or(&[]);
            let len = self.pay + chunk.len();
            let area = scratch.receive_area();
            let room = area.len();
            let seg = area
                .get_mut(..len)
                .ok_or(GsoError::ScratchTooSmall { needed: len, room })?;
            put(seg, 0, headers)?;
            put(seg, self.pay, chunk)?;
            self.patch(seg, i, off, i + 1 == count)?;
            finish(scratch, len, buf)?;
            emit(scratch);
        }
        Ok(count)
    }

    /// Fixes the copied headers of segment `i` (payload from byte `off`), `seg` being the whole
    /// segment.
    fn patch(&self, seg: &mut [u8], i: usize, off: usize, last: bool) -> Result<(), GsoError> {
        let len = seg.len();
        let (l3, l4) = (self.l3, self.l4);
        if self.ipv4 {
            put(seg, l3 + 2, &((len - l3) as u16).to_be_bytes())?;
            let id = self.ipv4_id.wrapping_add(i as u16);
            put(seg, l3 + 4, &id.to_be_bytes())?;
            put(seg, l3 + 10, &[0, 0])?;
            let c = checksum(seg.get(l3..l4).unwrap_or(&[]));
            put(seg, l3 + 10, &c.to_be_bytes())?;
        } else {
            put(seg, l3 + 4, &((len - l3 - 40) as u16).to_be_bytes())?;
        }
        let l4_len = len - l4;
        let field = match self.proto {
            Proto::Tcp => {
                let seq = self.seq.wrapping_add(off as u32);
                put(seg, l4 + 4, &seq.to_be_bytes())?;
                let mut flags = seg.get(l4 + 13).copied().unwrap_or(0);
                if !last {
                    flags &= !(TCP_FIN | TCP_PSH);
                }
                if i != 0 {
                    flags &= !TCP_CWR;
                }
                put(seg, l4 + 13, &[flags])?;
                l4 + 16
            }
            Proto::Udp => {
                put(seg, l4 + 4, &(l4_len as u16).to_be_bytes())?;
                l4 + 6
            }
        };
        put(seg, field, &[0, 0])?;
        let pseudo = self.pseudo + (l4_len as u64 >> 16) + (l4_len as u64 & 0xffff);
        let c = l4_checksum(pseudo, seg.get(l4..).unwrap_or(&[]));
        let c = match self.proto {
            Proto::Tcp => c,
            Proto::Udp => mangle_zero(c),
        };
        put(seg, field, &c.to_be_bytes())
    }
}

/// Rejects IPv4 source-route options: with them the TCP/UDP pseudo-header uses the final hop,
/// not the header's destination.
fn check_ipv4_options(opts: &[u8]) -> Result<(), GsoError> {
    let mut at = 0;
    while let Some(&kind) = opts.get(at) {
        match kind {
            0 => break,
            1 => at += 1,
            IPV4_OPT_LSRR | IPV4_OPT_SSRR => {
                return Err(GsoError::Unsupported {
                    what: "an IPv4 source-route option",
                });
            }
            _ => match opts.get(at + 1) {
                Some(&n) if n >= 2 => at += usize::from(n),
                _ => {
                    return Err(GsoError::Unsupported {
                        what: "a malformed IPv4 option",
                    });
                }
            },
        }
    }
    Ok(())
}

/// The destination for the IPv6 pseudo-header (RFC 8200 section 8.1): the header's, unless a
/// routing header still has segments left, then the last address of the route (the home
/// address of a type 2 header, segment list[0] of a type 4 segment routing header).
fn ipv6_final_destination(frame: &[u8], l3: usize, l4: usize) -> Result<[u8; 16], GsoError> {
    const EXT: &str = "ipv6-extension";
    let mut dst = array::<16>(frame, l3 + 24, "network")?;
    let mut next = frame
        .get(l3 + 6)
        .copied()
        .ok_or(GsoError::Truncated { layer: "network" })?;
    let mut at = l3 + 40;
    // Each header is at least 8 bytes long, so this ends within (l4 - l3) / 8 turns.
    while at < l4 {
        let e = array::<8>(frame, at, EXT)?;
        let len = match next {
            ip_proto::IPV6_FRAG => 8,
            ip_proto::AH => (usize::from(e[1]) + 2) * 4,
            _ => (usize::from(e[1]) + 1) * 8,
        };
        if next == ip_proto::IPV6_ROUTE && e[3] != 0 {
            match e[2] {
                2 | 4 => dst = array::<16>(frame, at + 8, EXT)?,
                t => return Err(GsoError::RoutingHeader { routing_type: t }),
            }
        }
        next = e[0];
        at += len;
    }
    Ok(dst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{PacketBuilder, VlanId};
    use proptest::prelude::*;
    use wire::ParsedPacket;
    use wire::checksum::{checksum, l4_checksum, pseudo_header_v4, pseudo_header_v6};
    use wire::parse_packet;

    const A: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const B: [u8; 6] = [2, 0, 0, 0, 0, 2];
    const SEQ: u32 = 0xffff_f000;
    const IPV4_ID: u16 = 0xfffe;
    const MSS: u16 = 1448;
    const FINAL: [u8; 16] = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99];

    #[derive(Clone, Copy, Debug)]
    enum Net {
        V4,
        V6,
        V4Vlan,
        /// IPv6 with hop-by-hop and destination options headers.
        V6Ext,
        /// IPv6 with a segment routing header whose final destination is `FINAL`.
        V6Srh,
    }

    fn payload(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    /// A frame as a guest's stack would build it before TSO: all headers, the whole payload.
    fn super_frame(net: Net, tcp: bool, data: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        let eth = PacketBuilder::ethernet2(A, B);
        macro_rules! fin {
            ($ip:expr) => {
                if tcp {
                    $ip.tcp(40000, 443, SEQ, 65535)
                        .ack(77)
                        .psh()
                        .fin()
                        .cwr()
                        .ece()
                        .write(&mut f, data)
                        .unwrap()
                } else {
                    $ip.udp(5000, 443).write(&mut f, data).unwrap()
                }
            };
        }
        match net {
            Net::V4 => fin!(eth.ipv4([10, 0, 0, 1], [192, 168, 7, 9], 64)),
            Net::V4Vlan => {
                fin!(eth.single_vlan(VlanId::try_new(42).unwrap()).ipv4(
                    [10, 0, 0, 1],
                    [192, 168, 7, 9],
                    64
                ))
            }
            Net::V6 | Net::V6Ext | Net::V6Srh => fin!(eth.ipv6([0x20; 16], [0xfe; 16], 64)),
        }
        let ext: Vec<u8> = match net {
            Net::V6Ext => [
                [60, 0, 1, 4, 0, 0, 0, 0],
                [if tcp { 6 } else { 17 }, 0, 1, 4, 0, 0, 0, 0],
            ]
            .concat(),
            Net::V6Srh => {
                let mut h = vec![if tcp { 6 } else { 17 }, 4, 4, 1, 1, 0, 0, 0];
                h.extend_from_slice(&FINAL);
                h.extend_from_slice(&[0xfe; 16]);
                h
            }
            _ => Vec::new(),
        };
        if !ext.is_empty() {
            let plen = u16::from_be_bytes([f[18], f[19]]) + ext.len() as u16;
            f[18..20].copy_from_slice(&plen.to_be_bytes());
            f[20] = if matches!(net, Net::V6Ext) { 0 } else { 43 };
            f.splice(54..54, ext);
        }
        let p = parse_packet(&f);
        if p.l3 == L3::Ipv4 {
            let o = usize::from(p.l3_offset);
            f[o + 4..o + 6].copy_from_slice(&IPV4_ID.to_be_bytes());
        }
        f
    }

    /// The buffer a guest hands over: the transport checksum field holds the partial
    /// pseudo-header sum (`NEEDS_CSUM`), or garbage when `partial` is false.
    fn guest(f: &[u8], gso_type: GsoType, mss: u16, partial: bool) -> PacketBuf {
        let mut b = PacketBuf::from_frame(f);
        let p = *b.parsed();
        let l4 = usize::from(p.l4_offset);
        let field = if p.l4 == L4::Tcp { 16 } else { 6 };
        let len = (usize::from(p.l3_offset) + p.ip_len as usize - l4) as u32;
        let ph = match p.l3 {
            L3::Ipv4 => {
                let (s, d) = p.ipv4_addrs(f).unwrap();
                pseudo_header_v4(s, d, p.ip_proto, len)
            }
            _ => {
                let (s, d) = p.ipv6_addrs(f).unwrap();
                pseudo_header_v6(s, d, p.ip_proto, len)
            }
        };
        let v = if partial { fold(ph) } else { 0xdead };
        b.frame_mut()[l4 + field..l4 + field + 2].copy_from_slice(&v.to_be_bytes());
        b.in_port = 7;
        b.meta = OffloadMeta {
            flags: if partial { OffloadMeta::NEEDS_CSUM } else { 0 },
            gso_type,
            gso_ecn: false,
            hdr_len: p.payload_offset,
            gso_size: mss,
            csum_start: if partial { l4 as u16 } else { 0 },
            csum_offset: if partial { field as u16 } else { 0 },
        };
        b
    }

    struct Emitted {
        frame: Vec<u8>,
        parsed: ParsedPacket,
        meta: OffloadMeta,
        in_port: u16,
    }

    fn run(b: &PacketBuf, scratch: &mut PacketBuf) -> (Result<usize, GsoError>, Vec<Emitted>) {
        let mut out = Vec::new();
        let r = segment(b, scratch, &mut |s: &PacketBuf| {
            out.push(Emitted {
                frame: s.frame().to_vec(),
                parsed: *s.parsed(),
                meta: s.meta,
                in_port: s.in_port,
            })
        });
        (r, out)
    }

    fn scratch() -> PacketBuf {
        PacketBuf::new(
            PacketBuf::DEFAULT_HEADROOM + 70_000,
            PacketBuf::DEFAULT_HEADROOM,
        )
    }

    /// Segments `b` and checks every segment from scratch against the super-frame; returns the
    /// segment count.
    fn segment_and_verify(b: &PacketBuf, final_dst: Option<[u8; 16]>) -> usize {
        let orig = b.frame();
        let op = parse_packet(orig);
        let (l3, l4, pay) = (
            usize::from(op.l3_offset),
            usize::from(op.l4_offset),
            usize::from(op.payload_offset),
        );
        let tcp = op.l4 == L4::Tcp;
        let mss = usize::from(b.meta.gso_size);
        let (r, segs) = run(b, &mut scratch());
        let n = r.unwrap();
        assert_eq!(n, segs.len());
        assert_eq!(n, (op.payload_len as usize).div_ceil(mss).max(1));
        let mut data = Vec::new();
        for (k, s) in segs.iter().enumerate() {
            let (f, last) = (&s.frame[..], k + 1 == n);
            let p = parse_packet(f);
            assert_eq!(p, s.parsed, "segment {k}: parsed kept in step");
            assert!(p.truncated.is_none() && p.anomalies.is_empty(), "{p:?}");
            assert_eq!((p.l3, p.l4), (op.l3, op.l4));
            assert_eq!(
                (p.l3_offset, p.l4_offset, p.payload_offset),
                (op.l3_offset, op.l4_offset, op.payload_offset)
            );
            assert_eq!(s.in_port, b.in_port);
            assert_eq!(
                s.meta,
                OffloadMeta {
                    flags: OffloadMeta::DATA_VALID,
                    ..OffloadMeta::default()
                }
            );
            assert_eq!(&f[..l3], &orig[..l3], "L2 header and VLAN tags copied");
            let body = &f[pay..];
            assert!(body.len() == mss || (last && body.len() <= mss));
            assert!(!body.is_empty() || op.payload_len == 0);
            let pseudo = if op.l3 == L3::Ipv4 {
                assert_eq!(checksum(&f[l3..l4]), 0, "IPv4 header checksum");
                assert_eq!(
                    usize::from(u16::from_be_bytes([f[l3 + 2], f[l3 + 3]])),
                    f.len() - l3
                );
                let id = u16::from_be_bytes([f[l3 + 4], f[l3 + 5]]);
                assert_eq!(id, IPV4_ID.wrapping_add(k as u16));
                let (sa, da) = p.ipv4_addrs(f).unwrap();
                pseudo_header_v4(sa, da, p.ip_proto, (f.len() - l4) as u32)
            } else {
                let plen = usize::from(u16::from_be_bytes([f[l3 + 4], f[l3 + 5]]));
                assert_eq!(plen, f.len() - l3 - 40);
                assert_eq!(
                    &f[l3 + 40..l4],
                    &orig[l3 + 40..l4],
                    "extension headers kept"
                );
                let (sa, da) = p.ipv6_addrs(f).unwrap();
                pseudo_header_v6(
                    sa,
                    final_dst.unwrap_or(da),
                    p.ip_proto,
                    (f.len() - l4) as u32,
                )
            };
            assert_eq!(l4_checksum(pseudo, &f[l4..]), 0, "segment {k}: L4 checksum");
            if tcp {
                let seq = u32::from_be_bytes(f[l4 + 4..l4 + 8].try_into().unwrap());
                assert_eq!(
                    seq,
                    SEQ.wrapping_add(data.len() as u32),
                    "contiguous sequence"
                );
                assert_eq!(&f[l4 + 8..l4 + 12], &orig[l4 + 8..l4 + 12], "ack number");
                let fl = f[l4 + 13];
                assert_eq!(
                    fl & (TCP_FIN | TCP_PSH) != 0,
                    last,
                    "FIN/PSH on the last only"
                );
                assert_eq!(
                    fl & (TCP_FIN | TCP_PSH),
                    if last { TCP_FIN | TCP_PSH } else { 0 }
                );
                assert_eq!(fl & TCP_CWR != 0, k == 0, "CWR on the first only");
                assert_eq!(fl & 0x50, 0x50, "ACK and ECE kept");
            } else {
                let ulen = usize::from(u16::from_be_bytes([f[l4 + 4], f[l4 + 5]]));
                assert_eq!(ulen, f.len() - l4);
                assert_eq!(&f[l4..l4 + 4], &orig[l4..l4 + 4], "ports");
            }
            data.extend_from_slice(body);
        }
        assert_eq!(data, op.payload(orig), "payload reassembles");
        n
    }

    #[test]
    fn tso_64k_v4_v6_vlan() {
        let data = payload(64_000);
        for net in [Net::V4, Net::V6, Net::V4Vlan, Net::V6Ext] {
            for partial in [true, false] {
                let gso = match net {
                    Net::V4 | Net::V4Vlan => GsoType::TcpV4,
                    _ => GsoType::TcpV6,
                };
                let b = guest(&super_frame(net, true, &data), gso, MSS, partial);
                assert_eq!(segment_and_verify(&b, None), 45, "{net:?}");
            }
        }
    }

    #[test]
    fn udp_gso_v4_v6() {
        let data = payload(60_000);
        for net in [Net::V4, Net::V6, Net::V4Vlan, Net::V6Ext] {
            let b = guest(&super_frame(net, false, &data), GsoType::UdpL4, MSS, true);
            assert_eq!(segment_and_verify(&b, None), 42, "{net:?}");
        }
    }

    #[test]
    fn routing_header_uses_final_destination() {
        for (tcp, gso) in [(true, GsoType::TcpV6), (false, GsoType::UdpL4)] {
            let b = guest(
                &super_frame(Net::V6Srh, tcp, &payload(5000)),
                gso,
                MSS,
                true,
            );
            assert_eq!(segment_and_verify(&b, Some(FINAL)), 4);
        }
        // A type 0 routing header with segments left: final destination unknown here.
        let mut f = super_frame(Net::V6Srh, true, &payload(100));
        f[56] = 0;
        let b = guest(&f, GsoType::TcpV6, MSS, true);
        assert_eq!(
            run(&b, &mut scratch()).0,
            Err(GsoError::RoutingHeader { routing_type: 0 })
        );
    }

    #[test]
    fn segment_counts() {
        let m = usize::from(MSS);
        for (len, n) in [(3 * m, 3), (3 * m + 1, 4), (m - 1, 1), (m, 1), (0, 1)] {
            for (tcp, gso) in [(true, GsoType::TcpV4), (false, GsoType::UdpL4)] {
                let b = guest(&super_frame(Net::V4, tcp, &payload(len)), gso, MSS, true);
                assert_eq!(segment_and_verify(&b, None), n, "{len} bytes, tcp {tcp}");
            }
        }
    }

    #[test]
    fn ipv6_zero_payload_length_super_frame() {
        // Beyond 64 KB an IPv6 super-frame carries payload length 0 (the frame gives the end).
        let mut f = super_frame(Net::V6, true, &payload(100));
        f.extend(payload(70_000).iter().map(|b| b ^ 0x5a));
        f[18..20].copy_from_slice(&[0, 0]);
        let b = guest(&f, GsoType::TcpV6, MSS, false);
        assert_eq!(segment_and_verify(&b, None), 70_100usize.div_ceil(1448));
        let mut big = guest(&f, GsoType::TcpV6, u16::MAX, false);
        assert_eq!(
            run(&big, &mut scratch()).0,
            Err(GsoError::LengthOverflow {
                field: "IPv6 payload",
                len: 20 + 65535
            })
        );
        big.meta.gso_size = 20_000;
        let (r, segs) = run(&big, &mut PacketBuf::new(20_000, 0));
        assert!(
            matches!(
                r,
                Err(GsoError::ScratchTooSmall {
                    needed: 20_074,
                    room: 20_000
                })
            ),
            "{r:?}"
        );
        assert!(segs.is_empty(), "nothing emitted on error");
    }

    #[test]
    fn no_gso_passes_through_or_completes_checksum() {
        let f = super_frame(Net::V4Vlan, false, b"small datagram");
        let mut plain = PacketBuf::from_frame(&f);
        plain.meta.flags = OffloadMeta::DATA_VALID;
        let (r, segs) = run(&plain, &mut scratch());
        assert_eq!(r, Ok(1));
        assert_eq!((&segs[0].frame[..], segs[0].meta), (&f[..], plain.meta));

        for net in [Net::V4, Net::V6Ext] {
            for tcp in [true, false] {
                let mut b = guest(
                    &super_frame(net, tcp, b"0123456789a"),
                    GsoType::None,
                    0,
                    true,
                );
                b.meta.gso_type = GsoType::None;
                let (r, segs) = run(&b, &mut scratch());
                assert_eq!(r, Ok(1));
                let s = &segs[0];
                assert_eq!(s.meta.flags, OffloadMeta::DATA_VALID);
                let p = parse_packet(&s.frame);
                let l4 = usize::from(p.l4_offset);
                let len = (s.frame.len() - l4) as u32;
                let ph = match p.ipv4_addrs(&s.frame) {
                    Some((sa, da)) => pseudo_header_v4(sa, da, p.ip_proto, len),
                    None => {
                        let (sa, da) = p.ipv6_addrs(&s.frame).unwrap();
                        pseudo_header_v6(sa, da, p.ip_proto, len)
                    }
                };
                assert_eq!(l4_checksum(ph, &s.frame[l4..]), 0, "{net:?} tcp {tcp}");
                let mut bad = b;
                bad.meta.csum_offset = 2000;
                assert!(matches!(
                    run(&bad, &mut scratch()).0,
                    Err(GsoError::BadCsumOffsets { .. })
                ));
            }
        }
    }

    #[test]
    fn errors() {
        let tcp = super_frame(Net::V4, true, &payload(4000));
        let b = guest(&tcp, GsoType::TcpV4, 0, true);
        let err = |b: &PacketBuf| {
            let (r, segs) = run(b, &mut scratch());
            assert!(segs.is_empty(), "nothing emitted on error");
            r.unwrap_err()
        };
        assert_eq!(
            err(&b),
            GsoError::ZeroGsoSize {
                gso: GsoType::TcpV4
            }
        );

        let cut = guest(&tcp, GsoType::TcpV4, MSS, true);
        let mut cut_buf = PacketBuf::from_frame(&cut.frame()[..14 + 20 + 10]);
        cut_buf.meta = cut.meta;
        cut_buf.meta.hdr_len = 0;
        assert_eq!(err(&cut_buf), GsoError::Truncated { layer: "transport" });
        let mut short = PacketBuf::from_frame(&cut.frame()[..3000]);
        short.meta = cut.meta;
        assert_eq!(err(&short), GsoError::Truncated { layer: "payload" });

        let mut udp_on_tcp = guest(&tcp, GsoType::UdpL4, MSS, false);
        udp_on_tcp.meta.gso_type = GsoType::UdpL4;
        assert!(matches!(
            err(&udp_on_tcp),
            GsoError::WrongHeaders {
                gso: GsoType::UdpL4,
                l3: L3::Ipv4,
                l4: L4::Tcp,
                ..
            }
        ));
        let v6_on_v4 = guest(&tcp, GsoType::TcpV6, MSS, false);
        assert!(matches!(err(&v6_on_v4), GsoError::WrongHeaders { .. }));

        let mut stale = guest(&tcp, GsoType::TcpV4, MSS, true);
        stale.parsed_mut().payload_offset += 4;
        assert_eq!(err(&stale), GsoError::StaleParse);

        let mut hdr = guest(&tcp, GsoType::TcpV4, MSS, true);
        hdr.meta.hdr_len = 5000;
        assert!(matches!(
            err(&hdr),
            GsoError::BadHdrLen { hdr_len: 5000, .. }
        ));

        let mut csum = guest(&tcp, GsoType::TcpV4, MSS, true);
        csum.meta.csum_offset = 6;
        assert!(matches!(err(&csum), GsoError::BadCsumOffsets { .. }));

        let mut frag = tcp.clone();
        frag[20] |= 0x20; // more fragments
        let frag = guest(&frag, GsoType::TcpV4, MSS, true);
        assert!(matches!(err(&frag), GsoError::Unsupported { .. }));

        let mut lsrr = super_frame(Net::V4, true, &payload(3000));
        // IHL 6 with a 4-byte loose source-route option in front of the TCP header.
        lsrr.splice(34..34, [131, 3, 4, 0]);
        lsrr[14] = 0x46;
        let tl = u16::from_be_bytes([lsrr[16], lsrr[17]]) + 4;
        lsrr[16..18].copy_from_slice(&tl.to_be_bytes());
        let lsrr = guest(&lsrr, GsoType::TcpV4, MSS, true);
        assert_eq!(
            err(&lsrr),
            GsoError::Unsupported {
                what: "an IPv4 source-route option"
            }
        );

        // Error messages name what is wrong.
        assert_eq!(
            GsoError::ScratchTooSmall {
                needed: 1514,
                room: 1000
            }
            .to_string(),
            "a 1514-byte segment does not fit the scratch buffer's 1000 bytes of room"
        );
    }

    #[test]
    fn ipv4_options_are_copied() {
        let mut f = super_frame(Net::V4, true, &payload(5000));
        // IHL 7: a record-route-like option padded with NOPs and an end-of-list.
        f.splice(34..34, [7, 7, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
        f[14] = 0x48;
        let tl = u16::from_be_bytes([f[16], f[17]]) + 12;
        f[16..18].copy_from_slice(&tl.to_be_bytes());
        let b = guest(&f, GsoType::TcpV4, MSS, true);
        assert_eq!(segment_and_verify(&b, None), 4);
    }

    fn net_strategy() -> impl Strategy<Value = Net> {
        prop_oneof![
            Just(Net::V4),
            Just(Net::V6),
            Just(Net::V4Vlan),
            Just(Net::V6Ext),
            Just(Net::V6Srh)
        ]
    }

    fn gso_strategy() -> impl Strategy<Value = GsoType> {
        prop_oneof![
            Just(GsoType::None),
            Just(GsoType::TcpV4),
            Just(GsoType::TcpV6),
            Just(GsoType::UdpL4)
        ]
    }

    proptest! {
        #[test]
        fn random_sizes_reassemble(
            net in net_strategy(),
            tcp in any::<bool>(),
            partial in any::<bool>(),
            len in 0usize..20_000,
            mss in prop_oneof![1u16..64, 64u16..3000, 3000u16..30_000],
        ) {
            let gso = match (tcp, net) {
                (false, _) => GsoType::UdpL4,
                (true, Net::V4 | Net::V4Vlan) => GsoType::TcpV4,
                (true, _) => GsoType::TcpV6,
            };
            let b = guest(&super_frame(net, tcp, &payload(len)), gso, mss, partial);
            let final_dst = matches!(net, Net::V6Srh).then_some(FINAL);
            segment_and_verify(&b, final_dst);
        }

        #[test]
        fn random_bytes_and_meta_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..300),
            gso in gso_strategy(),
            flags in 0u8..4, hdr_len in any::<u16>(), gso_size in 0u16..400,
            csum_start in 0u16..400, csum_offset in 0u16..40,
            stale in any::<bool>(), room in 0usize..600,
        ) {
            let mut b = PacketBuf::from_frame(&bytes);
            b.meta = OffloadMeta { flags, gso_type: gso, gso_ecn: false, hdr_len, gso_size, csum_start, csum_offset };
            if stale {
                b.parsed_mut().l4_offset = b.parsed().l4_offset.wrapping_add(1);
            }
            let mut s = PacketBuf::new(room, room / 8);
            let _ = segment(&b, &mut s, &mut |_| {});
        }

        #[test]
        fn mutated_super_frames_never_panic(
            net in net_strategy(), tcp in any::<bool>(), gso in gso_strategy(),
            len in 0usize..4000, mss in 1u16..2000, partial in any::<bool>(),
            flips in proptest::collection::vec((0usize..120, any::<u8>()), 1..6),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut f = super_frame(net, tcp, &payload(len));
            for (at, v) in flips {
                if let Some(x) = f.get_mut(at) { *x = v; }
            }
            let keep = cut.index(f.len() + 1).max(f.len().saturating_sub(200));
            f.truncate(keep);
            let mut b = PacketBuf::from_frame(&f);
            b.meta = OffloadMeta {
                flags: if partial { OffloadMeta::NEEDS_CSUM } else { 0 },
                gso_type: gso,
                gso_size: mss,
                csum_start: b.parsed().l4_offset,
                csum_offset: if tcp { 16 } else { 6 },
                ..OffloadMeta::default()
            };
            let (r, segs) = run(&b, &mut scratch());
            if let Ok(n) = r {
                prop_assert_eq!(n, segs.len());
                for s in &segs {
                    prop_assert_eq!(s.parsed, parse_packet(&s.frame));
                    if gso != GsoType::None {
                        prop_assert!(s.frame.len() <= usize::from(b.parsed().payload_offset) + usize::from(mss));
                    }
                }
            } else {
                prop_assert!(segs.is_empty());
            }
        }
    }
}
