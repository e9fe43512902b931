//! The one-line text form of a packet, after `tcpdump -n -tt -S` (absolute TCP sequence numbers,
//! no name or port lookups): `TIME [vlan V, p P, ]PROTO SRC > DST: DETAILS, length N`.
//!
//! Parity with tcpdump holds for the common cases (TCP, UDP, ICMP echo and errors, ICMPv6
//! neighbour discovery and echo, ARP; over Ethernet, BSD null/loopback and Cisco HDLC, whose
//! headers tcpdump shows only with `-e`, and SLARP); elsewhere the line stays readable rather
//! than identical. A loopback family that is not IP shows as `-e` names it (`AF ISO (7)`).
//! Additions: VLAN tags as a `vlan 100, p 0, ` prefix; IP fragments as a ` (frag ID:SIZE@OFFSET+)`
//! suffix; a cut header as `[|tcp]` (tcpdump's marker), a cut payload as ` [truncated]`.
//!
//! This runs once per packet and must never allocate beyond the reused line buffer, nor panic.

use std::cell::RefCell;
use std::ops::Range;

use wire::loopback::{self, LoopbackHeader};
use wire::{
    Anomalies, Fragment, L3, L4, Layer, LinkType, ParsedPacket, TunnelKind, chdlc, ethertype,
    ip_proto,
};

use super::Record;
use super::fields::{self, arr4, arr6, arr16, be16, be32};
use super::line::{Line, LineExt, TextCache};

/// Appends the text line for one packet, newline included; returns where the timestamp is.
pub(crate) fn write(l: &mut Line<'_>, r: &Record<'_>, p: &ParsedPacket) -> Range<usize> {
    let f = r.data;
    let start = l.len();
    l.stamp(r.ts);
    let ts_at = start..l.len();
    l.push(b' ');
    body(l, r, p, f);
    inner_frame(l, r, p, f);
    l.push(b'\n');
    ts_at
}

/// The frame inside a VXLAN or GENEVE tunnel, on the same line after `: ` (one level deep).
fn inner_frame(l: &mut Line<'_>, r: &Record<'_>, p: &ParsedPacket, f: &[u8]) {
    if p.tunnel.kind == TunnelKind::None || p.tunnel.inner_proto != ethertype::TEB {
        return;
    }
    let at = usize::from(p.tunnel.inner_offset);
    let Some(inner) = f.get(at..) else { return };
    let q = wire::parse_packet(inner);
    let rec = Record {
        data: inner,
        caplen: inner.len() as u32,
        orig_len: r.orig_len.saturating_sub(at as u32),
        ..*r
    };
    l.s(": ");
    body(l, &rec, &q, inner);
}

fn body(l: &mut Line<'_>, r: &Record<'_>, p: &ParsedPacket, f: &[u8]) {
    for tag in p.vlans.iter().take(usize::from(p.vlan_count)) {
        l.s("vlan ");
        l.u(u64::from(tag.vid()));
        l.s(", p ");
        l.u(u64::from(tag.pcp()));
        if tag.dei() {
            l.s(", DEI");
        }
        l.s(", ");
    }
    if p.anomalies.contains(Anomalies::VLAN_TOO_DEEP) {
        l.s("more vlan tags, ");
    }
    match p.truncated {
        Some(Layer::Link) => {
            return l.s(match p.link {
                LinkType::Null | LinkType::Loop => "[|null]",
                LinkType::CiscoHdlc => "[|chdlc]",
                _ => "[|ether]",
            });
        }
        Some(Layer::Vlan) => return l.s("[|vlan]"),
        _ => {}
    }
    match p.l3 {
        L3::Ipv4 => ipv4_line(l, r, p, f),
        L3::Ipv6 => ipv6_line(l, p, f),
        L3::Arp => arp_line(l, r, p, f),
        L3::Other => match p.link {
            LinkType::Null | LinkType::Loop => family_line(l, r, p, f),
            LinkType::CiscoHdlc => chdlc_line(l, r, p, f),
            _ => other_line(l, r, p),
        },
        L3::None => l.s(match p.ethertype {
            ethertype::IPV4 => "IP [|ip]",
            ethertype::IPV6 => "IP6 [|ip6]",
            _ => "[|ether]",
        }),
    }
}

/// `SRC[.SPORT] > DST[.DPORT]: ` for either IP version, remembered per flow.
fn endpoints(l: &mut Line<'_>, p: &ParsedPacket, f: &[u8], src: Addr, dst: Addr) {
    let ports = if p.fragment == Fragment::Later {
        None
    } else {
        fields::ports(p, f)
    };
    let make = |l: &mut Line<'_>| endpoints_text(l, src, dst, ports);
    // The key: version, whether there are ports, the ports; the addresses.
    let (sport, dport) = ports.unwrap_or((0, 0));
    let head = u64::from(matches!(src, Addr::V6(_)))
        | (u64::from(ports.is_some()) << 1)
        | (u64::from(sport) << 16)
        | (u64::from(dport) << 32);
    let key = match (src, dst) {
        (Addr::V4(s), Addr::V4(d)) => [
            head,
            u64::from(u32::from_le_bytes(s)) | (u64::from(u32::from_le_bytes(d)) << 32),
            0,
            0,
            0,
        ],
        (Addr::V6(s), Addr::V6(d)) => {
            let (s, d) = (u128::from_le_bytes(s), u128::from_le_bytes(d));
            [head, s as u64, (s >> 64) as u64, d as u64, (d >> 64) as u64]
        }
        _ => return make(l),
    };
    let cached = ENDPOINT_TEXTS.try_with(|t| match t.try_borrow_mut() {
        Ok(mut t) => {
            t.put(l, &key, make);
            true
        }
        Err(_) => false,
    });
    if cached != Ok(true) {
        make(l);
    }
}

fn endpoints_text(l: &mut Line<'_>, src: Addr, dst: Addr, ports: Option<(u16, u16)>) {
    src.put(l);
    if let Some((s, _)) = ports {
        l.push(b'.');
        l.u(u64::from(s));
    }
    l.s(" > ");
    dst.put(l);
    if let Some((_, d)) = ports {
        l.push(b'.');
        l.u(u64::from(d));
    }
    l.s(": ");
}

/// Endpoint texts ([`endpoints`]): at most 95 bytes (two IPv6 addresses with ports), 256 slots,
/// 35 KiB.
type EndpointTexts = TextCache<5, 96, 256>;

thread_local! {
    static ENDPOINT_TEXTS: RefCell<EndpointTexts> = const { RefCell::new(EndpointTexts::new()) };
}

/// An IP address of either version, for [`endpoints`].
#[derive(Clone, Copy)]
enum Addr {
    V4([u8; 4]),
    V6([u8; 16]),
}

impl Addr {
    fn put(self, l: &mut Line<'_>) {
        match self {
            Addr::V4(a) => l.ipv4(a),
            Addr::V6(a) => l.ipv6(a),
        }
    }
}

fn ipv4_line(l: &mut Line<'_>, r: &Record<'_>, p: &ParsedPacket, f: &[u8]) {
    l.s("IP ");
    let Some(h) = fields::ipv4(p, f) else {
        l.s("[|ip]");
        return;
    };
    if p.anomalies.contains(Anomalies::IP_BAD_VERSION) {
        l.s("bad-version ");
        l.u(u64::from(
            f.get(usize::from(p.l3_offset)).map_or(0, |b| b >> 4),
        ));
        l.s(", length ");
        l.u(u64::from(r.orig_len));
        return;
    }
    if p.anomalies.contains(Anomalies::IPV4_BAD_IHL) {
        l.s("bad-hlen ");
        l.u(h.ihl as u64);
        return;
    }
    endpoints(l, p, f, Addr::V4(h.src), Addr::V4(h.dst));
    if p.anomalies.contains(Anomalies::IP_BAD_LENGTH) && p.l4 == L4::None {
        l.s("bad-len ");
        l.u(u64::from(h.total_len));
        return;
    }
    if p.truncated == Some(Layer::Network) {
        l.s("[|ip]");
        return;
    }
    l4_body(l, p, f);
    if p.fragment != Fragment::No {
        l.s(" (frag ");
        l.u(u64::from(h.id));
        l.push(b':');
        l.u(u64::from(h.total_len).saturating_sub(h.ihl as u64));
        l.push(b'@');
        l.u(u64::from(h.frag_offset));
        if h.mf {
            l.push(b'+');
        }
        l.push(b')');
    }
    truncation_suffix(l, p);
}

fn ipv6_line(l: &mut Line<'_>, p: &ParsedPacket, f: &[u8]) {
    l.s("IP6 ");
    let Some(h) = fields::ipv6(p, f) else {
        l.s("[|ip6]");
        return;
    };
    if p.anomalies.contains(Anomalies::IP_BAD_VERSION) {
        l.s("bad-version ");
        l.u(u64::from(
            f.get(usize::from(p.l3_offset)).map_or(0, |b| b >> 4),
        ));
        return;
    }
    endpoints(l, p, f, Addr::V6(h.src), Addr::V6(h.dst));
    // Extension headers as tcpdump names them, the fragment header as `frag (OFFSET|LENGTH)`.
    for e in h.exts() {
        match e {
            fields::Ipv6Ext::HopByHop => l.s("HBH "),
            fields::Ipv6Ext::Routing => l.s("srcrt "),
            fields::Ipv6Ext::DestinationOptions => l.s("DSTOPT "),
            fields::Ipv6Ext::Authentication => l.s("AH "),
            fields::Ipv6Ext::Fragment => {
                if let Some(fr) = h.frag {
                    l.s("frag (");
                    l.u(u64::from(fr.offset));
                    l.push(b'|');
                    l.u(fields::ip_end(p).saturating_sub(fr.data_at) as u64);
                    l.s(") ");
                }
            }
        }
    }
    if p.truncated == Some(Layer::Ipv6Extension) {
        l.s("[|ip6]");
        return;
    }
    if p.fragment == Fragment::Later {
        // Nothing but the fragment's bytes follow.
        if l.last() == Some(b' ') {
            l.pop();
        }
    } else {
        l4_body(l, p, f);
    }
    truncation_suffix(l, p);
}

/// The marker of a packet cut short, if it is.
#[inline(always)]
fn truncation_suffix(l: &mut Line<'_>, p: &ParsedPacket) {
    if p.truncated.is_some() {
        truncation_marker(l, p);
    }
}

fn truncation_marker(l: &mut Line<'_>, p: &ParsedPacket) {
    let marker = match p.truncated {
        Some(Layer::Transport) => match p.l4 {
            L4::Tcp => " [|tcp]",
            L4::Udp => " [|udp]",
            L4::Icmpv4 => " [|icmp]",
            L4::Icmpv6 => " [|icmp6]",
            _ => " [|transport]",
        },
        Some(Layer::Tunnel) => " [|tunnel]",
        Some(Layer::Payload) => " [truncated]",
        _ => return,
    };
    // The body may have said it already, where the cut stopped it.
    if !l.ends_with(marker.trim_start().as_bytes()) {
        l.s(marker);
    }
}

fn proto_name(proto: u8) -> Option<&'static str> {
    Some(match proto {
        ip_proto::TCP => "TCP",
        ip_proto::UDP => "UDP",
        ip_proto::ICMP => "ICMP",
        ip_proto::ICMPV6 => "ICMP6",
        ip_proto::ESP => "ESP",
        ip_proto::AH => "AH",
        47 => "GRE",
        132 => "SCTP",
        _ => return None,
    })
}

fn l4_body(l: &mut Line<'_>, p: &ParsedPacket, f: &[u8]) {
    match p.l4 {
        L4::Tcp => tcp_body(l, p, f),
        L4::Udp => udp_body(l, p, f),
        L4::Icmpv4 => icmpv4_body(l, p, f),
        L4::Icmpv6 => icmpv6_body(l, p, f),
        L4::Other | L4::None => {
            if p.l4 == L4::None && p.ip_proto == ip_proto::IPV6_NONXT {
                l.s("no next header");
                return;
            }
            match proto_name(p.ip_proto).filter(|_| p.fragment != Fragment::Later) {
                Some(n) => l.s(n),
                None => {
                    l.s("ip-proto-");
                    l.u(u64::from(p.ip_proto));
                }
            }
            if p.fragment != Fragment::Later {
                l.s(", length ");
                l.u(fields::l4_len(p) as u64);
            }
        }
    }
}

/// tcpdump's flag letters for each value of the low eight flag bits, in its order F S R P . U E
/// W, and how many there are; "none" when no flag is set.
const TCP_FLAGS: [([u8; 8], u8); 256] = {
    const LETTERS: [u8; 8] = *b"FSRP.UEW";
    let mut t = [([0u8; 8], 0u8); 256];
    let mut flags = 0;
    while flags < 256 {
        let (mut text, mut n) = ([0u8; 8], 0);
        let mut bit = 0;
        while bit < 8 {
            if flags & (1 << bit) != 0 {
                text[n] = LETTERS[bit];
                n += 1;
            }
            bit += 1;
        }
        t[flags] = if n == 0 {
            (*b"none\0\0\0\0", 4)
        } else {
            (text, n as u8)
        };
        flags += 1;
    }
    t
};

/// `Flags [LETTERS]` for each value of the low eight flag bits (see [`TCP_FLAGS`]), and its length.
const TCP_FLAGS_TEXT: [([u8; 16], u8); 256] = {
    let mut t = [([0u8; 16], 0u8); 256];
    let mut flags = 0;
    while flags < 256 {
        let (letters, n) = TCP_FLAGS[flags];
        let mut text = *b"Flags [\0\0\0\0\0\0\0\0\0";
        let mut i = 0;
        while i < n as usize {
            text[7 + i] = letters[i];
            i += 1;
        }
        text[7 + i] = b']';
        t[flags] = (text, 8 + n);
        flags += 1;
    }
    t
};

/// tcpdump's flag letters (see [`TCP_FLAGS`]).
fn tcp_flags(l: &mut Line<'_>, flags: u16) {
    let (text, n) = TCP_FLAGS[usize::from(flags & 0xff)];
    l.put(text, usize::from(n));
}

/// The tcpdump spelling of a TCP flags field, e.g. `S.` for SYN+ACK.
pub(crate) fn tcp_flags_str(l: &mut Line<'_>, flags: u16) {
    tcp_flags(l, flags);
}

fn tcp_body(l: &mut Line<'_>, p: &ParsedPacket, f: &[u8]) {
    let Some(t) = fields::tcp(p, f) else {
        l.s("[|tcp]");
        return;
    };
    let (text, n) = TCP_FLAGS_TEXT[usize::from(p.tcp_flags & 0xff)];
    l.put(text, usize::from(n));
    let data_len = fields::l4_len(p).saturating_sub(t.hdr_len);
    // Like tcpdump: a sequence number only when it means something (data, SYN, FIN or RST).
    if data_len > 0 || p.tcp_flags & 0x007 != 0 {
        l.s(", seq ");
        l.u(u64::from(t.seq));
        if data_len > 0 {
            l.push(b':');
            l.u(u64::from(t.seq.wrapping_add(data_len as u32)));
        }
    }
    if p.tcp_flags & 0x010 != 0 {
        l.s(", ack ");
        l.u(u64::from(t.ack));
    }
    l.s(", win ");
    l.u(u64::from(t.win));
    if p.tcp_flags & 0x020 != 0 {
        l.s(", urg ");
        l.u(u64::from(t.urg_ptr));
    }
    let o = usize::from(p.l4_offset);
    if t.hdr_len > 20 {
        let end = (o + t.hdr_len).min(f.len());
        if let Some(opts) = f.get(o + 20..end) {
            l.s(", options [");
            tcp_options(l, opts);
            l.push(b']');
        }
    }
    if p.anomalies.contains(Anomalies::TCP_BAD_OFFSET) {
        l.s(", bad-hlen ");
        l.u(t.hdr_len as u64);
    }
    l.s(", length ");
    l.u(data_len as u64);
}

fn tcp_options(l: &mut Line<'_>, o: &[u8]) {
    // The two layouts Linux sends, written without walking them: on every segment of a flow
    // with timestamps, and on its SYNs.
    if let Ok(&[1, 1, 8, 10, ts @ ..]) = <&[u8; 12]>::try_from(o) {
        l.s("nop,nop,");
        return timestamps(l, ts);
    }
    if let Ok(&[2, 4, m0, m1, 4, 2, 8, 10, ts @ .., 1, 3, 3, ws]) = <&[u8; 20]>::try_from(o) {
        l.s("mss ");
        l.u(u64::from(u16::from_be_bytes([m0, m1])));
        l.s(",sackOK,");
        timestamps(l, ts);
        l.s(",nop,wscale ");
        return l.u(u64::from(ws));
    }
    tcp_options_walk(l, o);
}

/// The timestamps option's text, from its eight bytes of values.
fn timestamps(l: &mut Line<'_>, [a0, a1, a2, a3, b0, b1, b2, b3]: [u8; 8]) {
    l.s("TS val ");
    l.u(u64::from(u32::from_be_bytes([a0, a1, a2, a3])));
    l.s(" ecr ");
    l.u(u64::from(u32::from_be_bytes([b0, b1, b2, b3])));
}

/// [`tcp_options`] for any layout: option by option.
fn tcp_options_walk(l: &mut Line<'_>, mut o: &[u8]) {
    let mut first = true;
    while let Some(&kind) = o.first() {
        if !first {
            l.push(b',');
        }
        first = false;
        match kind {
            0 => {
                l.s("eol");
                return;
            }
            1 => {
                l.s("nop");
                o = o.get(1..).unwrap_or(&[]);
                continue;
            }
            _ => {}
        }
        let Some(&len) = o.get(1) else {
            l.s("[|tcp]");
            return;
        };
        let len = usize::from(len);
        let Some(opt) = o.get(..len).filter(|_| len >= 2) else {
            l.s("bad opt");
            return;
        };
        match (kind, len) {
            (2, 4) => {
                l.s("mss ");
                l.u(u64::from(be16(opt, 2).unwrap_or(0)));
            }
            (3, 3) => {
                l.s("wscale ");
                l.u(u64::from(opt.get(2).copied().unwrap_or(0)));
            }
            (4, 2) => l.s("sackOK"),
            (5, _) => {
                let blocks = (len - 2) / 8;
                l.s("sack ");
                l.u(blocks as u64);
                for b in 0..blocks {
                    l.s(" {");
                    l.u(u64::from(be32(opt, 2 + b * 8).unwrap_or(0)));
                    l.push(b':');
                    l.u(u64::from(be32(opt, 6 + b * 8).unwrap_or(0)));
                    l.push(b'}');
                }
            }
            (8, 10) => {
                l.s("TS val ");
                l.u(u64::from(be32(opt, 2).unwrap_or(0)));
                l.s(" ecr ");
                l.u(u64::from(be32(opt, 6).unwrap_or(0)));
            }
            (30, _) => l.s("mptcp"),
            (34, _) => l.s("tfo"),
            _ => {
                l.s("unknown-");
                l.u(u64::from(kind));
            }
        }
        o = o.get(len..).unwrap_or(&[]);
    }
}

fn udp_body(l: &mut Line<'_>, p: &ParsedPacket, f: &[u8]) {
    let o = usize::from(p.l4_offset);
    let Some(ulen) = be16(f, o + 4) else {
        l.s("[|udp]");
        return;
    };
    match p.tunnel.kind {
        TunnelKind::Vxlan => {
            l.s("VXLAN, flags [I] (0x08), vni ");
            return l.u(u64::from(p.tunnel.vni));
        }
        TunnelKind::Geneve => {
            l.s("Geneve, vni ");
            l.u(u64::from(p.tunnel.vni));
            l.s(", proto ");
            return l.hex16(p.tunnel.inner_proto);
        }
        TunnelKind::None => {}
    }
    l.s("UDP, ");
    // A first fragment's UDP length covers the whole datagram, not this packet.
    if p.anomalies.contains(Anomalies::UDP_BAD_LENGTH) && p.fragment == Fragment::No {
        l.s("bad length ");
        l.u(u64::from(ulen));
        return;
    }
    l.s("length ");
    l.u(u64::from(ulen.saturating_sub(8)));
}

fn echo_ids(l: &mut Line<'_>, f: &[u8], o: usize) {
    if let (Some(id), Some(seq)) = (be16(f, o + 4), be16(f, o + 6)) {
        l.s(", id ");
        l.u(u64::from(id));
        l.s(", seq ");
        l.u(u64::from(seq));
    }
}

fn icmpv4_body(l: &mut Line<'_>, p: &ParsedPacket, f: &[u8]) {
    let Some((ty, code)) = fields::icmp_type_code(p, f) else {
        l.s("[|icmp]");
        return;
    };
    let o = usize::from(p.l4_offset);
    l.s("ICMP ");
    match ty {
        0 | 8 => {
            l.s(if ty == 0 {
                "echo reply"
            } else {
                "echo request"
            });
            echo_ids(l, f, o);
        }
        3 => icmpv4_unreachable(l, f, o, code),
        4 => l.s("source quench"),
        5 => l.s("redirect"),
        11 => l.s(if code == 1 {
            "ip reassembly time exceeded"
        } else {
            "time exceeded in-transit"
        }),
        12 => l.s("parameter problem"),
        13 => l.s("time stamp query"),
        14 => l.s("time stamp reply"),
        _ => {
            l.s("type-#");
            l.u(u64::from(ty));
        }
    }
    l.s(", length ");
    l.u(fields::l4_len(p) as u64);
}

/// `ICMP 10.0.0.2 udp port 53 unreachable` and friends, from the quoted IP header.
fn icmpv4_unreachable(l: &mut Line<'_>, f: &[u8], o: usize, code: u8) {
    let inner = o + 8;
    let quoted = f
        .get(inner)
        .map(|b| (usize::from(b & 0x0f) * 4, f.get(inner + 9)));
    let dst = arr4(f, inner + 16);
    let (Some((ihl, Some(&proto))), Some(dst)) = (quoted, dst) else {
        l.s("unreachable, code ");
        l.u(u64::from(code));
        return;
    };
    match code {
        0 => {
            l.s("net ");
            l.ipv4(dst);
            l.s(" unreachable");
        }
        1 => {
            l.s("host ");
            l.ipv4(dst);
            l.s(" unreachable");
        }
        2 => {
            l.ipv4(dst);
            l.s(" protocol ");
            l.u(u64::from(proto));
            l.s(" unreachable");
        }
        3 => {
            l.ipv4(dst);
            l.s(match proto {
                ip_proto::TCP => " tcp port ",
                ip_proto::UDP => " udp port ",
                _ => " port ",
            });
            match be16(f, inner + ihl + 2) {
                Some(port) => l.u(u64::from(port)),
                None => l.s("?"),
            }
            l.s(" unreachable");
        }
        4 => {
            l.ipv4(dst);
            l.s(" unreachable - need to frag (mtu ");
            l.u(u64::from(be16(f, o + 6).unwrap_or(0)));
            l.push(b')');
        }
        13 => {
            l.s("host ");
            l.ipv4(dst);
            l.s(" unreachable - admin prohibited filter");
        }
        _ => {
            l.ipv4(dst);
            l.s(" unreachable, code ");
            l.u(u64::from(code));
        }
    }
}

fn icmpv6_body(l: &mut Line<'_>, p: &ParsedPacket, f: &[u8]) {
    let Some((ty, code)) = fields::icmp_type_code(p, f) else {
        l.s("[|icmp6]");
        return;
    };
    let o = usize::from(p.l4_offset);
    l.s("ICMP6, ");
    match ty {
        1 => {
            l.s("destination unreachable, ");
            l.s(match code {
                0 => "no route",
                1 => "admin prohibited",
                2 => "beyond scope",
                3 => "unreachable address",
                4 => "unreachable port",
                _ => "unreachable",
            });
        }
        2 => {
            l.s("packet too big, mtu ");
            l.u(u64::from(be32(f, o + 4).unwrap_or(0)));
        }
        3 => l.s("time exceeded in-transit"),
        4 => l.s("parameter problem"),
        128 | 129 => {
            l.s(if ty == 128 {
                "echo request"
            } else {
                "echo reply"
            });
            echo_ids(l, f, o);
        }
        130 => l.s("multicast listener query"),
        131 => l.s("multicast listener report"),
        132 => l.s("multicast listener done"),
        133 => l.s("router solicitation"),
        134 => l.s("router advertisement"),
        135 | 136 => {
            l.s(if ty == 135 {
                "neighbor solicitation, who has "
            } else {
                "neighbor advertisement, tgt is "
            });
            match arr16(f, o + 8) {
                Some(t) => l.ipv6(t),
                None => l.s("[|icmp6]"),
            }
        }
        137 => l.s("redirect"),
        143 => {
            l.s("multicast listener report v2, ");
            l.u(u64::from(be16(f, o + 6).unwrap_or(0)));
            l.s(" group record(s)");
        }
        _ => {
            l.s("type ");
            l.u(u64::from(ty));
            l.s(", code ");
            l.u(u64::from(code));
        }
    }
    l.s(", length ");
    l.u(fields::l4_len(p) as u64);
}

fn arp_line(l: &mut Line<'_>, r: &Record<'_>, p: &ParsedPacket, f: &[u8]) {
    let o = usize::from(p.l3_offset);
    l.s("ARP, ");
    let fixed = (be16(f, o), be16(f, o + 2), f.get(o + 4), f.get(o + 5));
    let op = be16(f, o + 6);
    let is_eth_ipv4 = fixed == (Some(1), Some(0x0800), Some(&6), Some(&4));
    let addrs = (
        arr6(f, o + 8),
        arr4(f, o + 14),
        arr6(f, o + 18),
        arr4(f, o + 24),
    );
    match (is_eth_ipv4, op, addrs) {
        (true, Some(op), (Some(sha), Some(spa), Some(tha), Some(tpa))) => match op {
            1 => {
                l.s("Request who-has ");
                l.ipv4(tpa);
                if tha != [0; 6] {
                    l.s(" (");
                    l.mac(&tha);
                    l.push(b')');
                }
                l.s(" tell ");
                l.ipv4(spa);
            }
            2 => {
                l.s("Reply ");
                l.ipv4(spa);
                l.s(" is-at ");
                l.mac(&sha);
            }
            3 => {
                l.s("Reverse Request who-is ");
                l.mac(&tha);
                l.s(" tell ");
                l.mac(&sha);
            }
            4 => {
                l.s("Reverse Reply ");
                l.mac(&tha);
                l.s(" at ");
                l.ipv4(tpa);
            }
            _ => {
                l.s("op ");
                l.u(u64::from(op));
            }
        },
        (false, Some(op), _) => {
            l.s("hardware type ");
            l.u(u64::from(fixed.0.unwrap_or(0)));
            l.s(", protocol ");
            l.hex16(fixed.1.unwrap_or(0));
            l.s(", op ");
            l.u(u64::from(op));
        }
        _ => {
            l.s("[|arp]");
            return;
        }
    }
    l.s(", length ");
    l.u(u64::from(r.orig_len).saturating_sub(o as u64));
}

/// A BSD loopback packet of a family the walk does not parse: the family as tcpdump's `-e`
/// names it (tcpdump itself decodes OSI, AppleTalk and IPX, which this does not).
fn family_line(l: &mut Line<'_>, r: &Record<'_>, p: &ParsedPacket, f: &[u8]) {
    let h = LoopbackHeader::new_unchecked(f);
    let family = if p.link == LinkType::Null {
        h.null_family().0
    } else {
        h.loop_family()
    };
    l.s("AF ");
    l.s(loopback::family::name(family).unwrap_or("Unknown"));
    l.s(" (");
    l.u(u64::from(family));
    l.s("), length ");
    l.u(u64::from(r.orig_len));
}

/// A Cisco HDLC frame whose protocol is not IP or ARP: SLARP as tcpdump prints it, an ethertype
/// with a name as on Ethernet, tcpdump's words for the rest.
fn chdlc_line(l: &mut Line<'_>, r: &Record<'_>, p: &ParsedPacket, f: &[u8]) {
    if p.ethertype == chdlc::protocol::SLARP {
        return slarp(l, r, p, f);
    }
    if ethertype_name(p.ethertype).is_some() {
        return other_line(l, r, p);
    }
    l.s("unknown CHDLC protocol (");
    l.hex16(p.ethertype);
    l.push(b')');
}

/// Bytes of a SLARP packet up to the reliability field, and with the optional uptime.
const SLARP_LEN: usize = 14;
const SLARP_UPTIME_LEN: usize = 18;

/// A SLARP packet (Cisco's keepalives and address resolution on a serial link), after tcpdump:
/// `SLARP (length: N), keepalive: mineseen=0x.., yourseen=0x.., reliability=0x..`, `request`,
/// `reply ADDR/MASK`.
fn slarp(l: &mut Line<'_>, r: &Record<'_>, p: &ParsedPacket, f: &[u8]) {
    let o = usize::from(p.l3_offset);
    let len = u64::from(r.orig_len).saturating_sub(o as u64);
    l.s("SLARP (length: ");
    l.u(len);
    l.s("), ");
    let fixed = (be32(f, o), be32(f, o + 4), be32(f, o + 8), be16(f, o + 12));
    let (Some(code), Some(a), Some(b), Some(rel)) = fixed else {
        return l.s("[|chdlc_slarp]");
    };
    if len < SLARP_LEN as u64 {
        return l.s("[|chdlc_slarp]");
    }
    match code {
        0 => l.s("request"),
        1 => {
            l.s("reply ");
            l.ipv4(a.to_be_bytes());
            l.push(b'/');
            l.ipv4(b.to_be_bytes());
        }
        2 => {
            l.s("keepalive: mineseen=");
            hex(l, a, 8);
            l.s(", yourseen=");
            hex(l, b, 8);
            l.s(", reliability=");
            hex(l, u32::from(rel), 4);
            if len >= SLARP_UPTIME_LEN as u64 {
                let Some(ms) = be32(f, o + SLARP_LEN) else {
                    return l.s(" [|chdlc_slarp]");
                };
                let secs = ms / 1000;
                let (days, hours, mins, secs) =
                    (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
                l.s(", link uptime=");
                for (v, unit) in [(days, b'd'), (hours, b'h'), (mins, b'm'), (secs, b's')] {
                    l.u(u64::from(v));
                    l.push(unit);
                }
            }
        }
        _ => {
            hex(l, code, 2);
            l.s(" unknown");
        }
    }
}

/// `0x` and `v` in lower-case hex, at least `digits` digits.
fn hex(l: &mut Line<'_>, v: u32, digits: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    l.s("0x");
    let used = (32 - v.leading_zeros()).div_ceil(4).max(digits).min(8);
    for i in (0..used).rev() {
        l.push(HEX[((v >> (4 * i)) & 0xf) as usize]);
    }
}

/// The name `other_line` gives an ethertype, if it has one.
fn ethertype_name(et: u16) -> Option<&'static str> {
    Some(match et {
        0x88cc => "LLDP",
        0x888e => "EAPOL",
        0x8847 => "MPLS unicast",
        0x8848 => "MPLS multicast",
        0x8863 => "PPPoE D",
        0x8864 => "PPPoE S",
        0x88f7 => "PTP",
        0x88e5 => "MACsec",
        0x8035 => "Reverse ARP",
        ethertype::TEB => "Transparent Ethernet Bridging",
        _ => return None,
    })
}

fn other_line(l: &mut Line<'_>, r: &Record<'_>, p: &ParsedPacket) {
    if p.anomalies.contains(Anomalies::LLC_FRAME) {
        l.s("802.3, length ");
        l.u(u64::from(p.ethertype));
        return;
    }
    l.s("ethertype ");
    l.s(ethertype_name(p.ethertype).unwrap_or("Unknown"));
    l.s(" (");
    l.hex16(p.ethertype);
    l.s("), length ");
    l.u(u64::from(r.orig_len));
}

#[cfg(test)]
mod tests {
    use super::super::line::Stamper;
    use super::super::{Record, format_to_vec};
    use etherparse::PacketBuilder;
    use wire::LinkType;

    fn line(frame: &[u8]) -> String {
        line_cut(frame, frame.len())
    }

    /// The text line for `frame` cut to `caplen` bytes, without timestamp and newline.
    fn line_cut(frame: &[u8], caplen: usize) -> String {
        let mut stamper = Stamper::default();
        let rec = Record {
            number: 1,
            ts: stamper.render(1, 0, 6),
            caplen: caplen as u32,
            orig_len: frame.len() as u32,
            interface: 0,
            link: LinkType::Ethernet,
            data: &frame[..caplen],
        };
        let s = String::from_utf8(format_to_vec(&rec, false).0).unwrap();
        s.strip_prefix("1.000000 ")
            .unwrap()
            .strip_suffix('\n')
            .unwrap()
            .to_owned()
    }

    fn eth() -> etherparse::PacketBuilderStep<etherparse::Ethernet2Header> {
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
    }

    fn build(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut v = Vec::new();
        f(&mut v);
        v
    }

    #[test]
    fn tcp_data_and_ack() {
        let f = build(|v| {
            eth()
                .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                .tcp(40000, 80, 1000, 502)
                .psh()
                .ack(77)
                .write(v, b"GET / HTTP/1.1\r\n")
                .unwrap()
        });
        assert_eq!(
            line(&f),
            "IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [P.], seq 1000:1016, ack 77, win 502, length 16"
        );
        let f = build(|v| {
            eth()
                .ipv6(
                    [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                    [0xfd; 16],
                    64,
                )
                .tcp(1, 2, 5, 6)
                .ack(9)
                .write(v, &[])
                .unwrap()
        });
        // A bare ACK has no sequence number, as in tcpdump.
        assert_eq!(
            line(&f),
            "IP6 fd00::1.1 > fdfd:fdfd:fdfd:fdfd:fdfd:fdfd:fdfd:fdfd.2: Flags [.], ack 9, win 6, length 0"
        );
    }

    /// What `write` makes of `opts`.
    fn options_text(write: fn(&mut super::Line<'_>, &[u8]), opts: &[u8]) -> Vec<u8> {
        let mut lines = super::super::line::Lines::with_capacity(0);
        lines.push(|l| write(l, opts));
        lines.text().to_vec()
    }

    #[test]
    fn tcp_option_layouts_written_whole_read_as_walked() {
        let ts = [1, 1, 8, 10, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 7];
        let syn = [
            2, 4, 5, 0xb4, 4, 2, 8, 10, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1, 3, 3, 10,
        ];
        assert_eq!(
            options_text(super::tcp_options, &ts),
            b"nop,nop,TS val 3735928559 ecr 7"
        );
        assert_eq!(
            options_text(super::tcp_options, &syn),
            b"mss 1460,sackOK,TS val 4294967295 ecr 0,nop,wscale 10"
        );
        // Every byte of either layout changed, and either one cut or followed by more: written
        // as the walk writes it.
        for layout in [&ts[..], &syn[..]] {
            for i in 0..layout.len() {
                for v in [0, 1, 2, 3, 4, 8, 10, 0x80] {
                    let mut o = layout.to_vec();
                    o[i] = v;
                    for o in [&o[..], &o[..o.len() - 1], &[&o[..], &[1]].concat()[..]] {
                        assert_eq!(
                            options_text(super::tcp_options, o),
                            options_text(super::tcp_options_walk, o),
                            "{o:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn tcp_flags_text_is_the_letters_bracketed() {
        for flags in 0..256u16 {
            let mut want = b"Flags [".to_vec();
            want.extend(options_text(
                |l, o| super::tcp_flags_str(l, u16::from(o[0])),
                &[flags as u8],
            ));
            want.push(b']');
            let (text, n) = super::TCP_FLAGS_TEXT[usize::from(flags)];
            assert_eq!(&text[..usize::from(n)], &want[..], "{flags:#x}");
        }
    }

    proptest::proptest! {
        #[test]
        fn tcp_options_agree_with_the_walk(o in proptest::collection::vec(0u8..12, 0..44)) {
            proptest::prop_assert_eq!(
                options_text(super::tcp_options, &o),
                options_text(super::tcp_options_walk, &o)
            );
        }
    }

    #[test]
    fn endpoints_stay_right_through_cache_evictions() {
        // Far more flows than the endpoint cache has slots, twice over, both IP versions.
        for round in 0..2 {
            for i in 0..1500u16 {
                let a = [10, (i >> 8) as u8, i as u8, 1];
                let f = build(|v| {
                    eth()
                        .ipv4(a, [10, 0, 0, 2], 64)
                        .udp(i, 53)
                        .write(v, &[])
                        .unwrap()
                });
                let want = format!(
                    "IP 10.{}.{}.1.{i} > 10.0.0.2.53: UDP, length 0",
                    i >> 8,
                    i & 0xff
                );
                assert_eq!(line(&f), want, "round {round}");
                let mut s6 = [0u8; 16];
                s6[0] = 0x20;
                s6[1] = 0x01;
                s6[14..].copy_from_slice(&i.to_be_bytes());
                let f = build(|v| {
                    eth()
                        .ipv6(s6, [0xfd; 16], 64)
                        .udp(9, i)
                        .write(v, &[])
                        .unwrap()
                });
                let src = std::net::Ipv6Addr::from(s6);
                let want = format!(
                    "IP6 {src}.9 > fdfd:fdfd:fdfd:fdfd:fdfd:fdfd:fdfd:fdfd.{i}: UDP, length 0"
                );
                assert_eq!(line(&f), want, "round {round}");
            }
        }
    }

    #[test]
    fn udp_icmp_and_arp() {
        let f = build(|v| {
            eth()
                .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                .udp(5353, 53)
                .write(v, &[0; 20])
                .unwrap()
        });
        assert_eq!(line(&f), "IP 10.0.0.1.5353 > 10.0.0.2.53: UDP, length 20");
        let f = build(|v| {
            eth()
                .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                .icmpv4_echo_request(7, 3)
                .write(v, &[0; 56])
                .unwrap()
        });
        assert_eq!(
            line(&f),
            "IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 7, seq 3, length 64"
        );
        let f = build(|v| {
            eth()
                .ipv6([1; 16], [2; 16], 255)
                .icmpv6_echo_reply(7, 3)
                .write(v, &[0; 8])
                .unwrap()
        });
        assert!(
            line(&f).ends_with(": ICMP6, echo reply, id 7, seq 3, length 16"),
            "{}",
            line(&f)
        );
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
        f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1]);
        f.extend_from_slice(&[0, 0, 0, 0, 0, 0, 10, 0, 0, 2]);
        assert_eq!(
            line(&f),
            "ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28"
        );
        f[21] = 2;
        assert_eq!(
            line(&f),
            "ARP, Reply 10.0.0.1 is-at 02:00:00:00:00:01, length 28"
        );
    }

    #[test]
    fn icmp_port_unreachable_names_the_quoted_port() {
        let quoted = build(|v| {
            PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                .udp(40000, 9999)
                .write(v, &[0; 4])
                .unwrap()
        });
        let f = build(|v| {
            eth()
                .ipv4([10, 0, 0, 2], [10, 0, 0, 1], 64)
                .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(
                    etherparse::icmpv4::DestUnreachableHeader::Port,
                ))
                .write(v, &quoted)
                .unwrap()
        });
        assert_eq!(
            line(&f),
            "IP 10.0.0.2 > 10.0.0.1: ICMP 10.0.0.2 udp port 9999 unreachable, length 40"
        );
    }

    #[test]
    fn vlan_tags_prefix_the_line() {
        let f = build(|v| {
            eth()
                .double_vlan(
                    etherparse::VlanId::try_new(10).unwrap(),
                    etherparse::VlanId::try_new(20).unwrap(),
                )
                .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                .udp(1, 2)
                .write(v, &[])
                .unwrap()
        });
        assert_eq!(
            line(&f),
            "vlan 10, p 0, vlan 20, p 0, IP 10.0.0.1.1 > 10.0.0.2.2: UDP, length 0"
        );
    }

    #[test]
    fn cuts_are_marked_at_every_layer() {
        let f = build(|v| {
            eth()
                .single_vlan(etherparse::VlanId::try_new(5).unwrap())
                .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                .tcp(1, 2, 3, 4)
                .write(v, b"data")
                .unwrap()
        });
        assert_eq!(line_cut(&f, 10), "[|ether]");
        assert_eq!(line_cut(&f, 16), "[|vlan]");
        assert_eq!(line_cut(&f, 30), "vlan 5, p 0, IP [|ip]");
        assert_eq!(
            line_cut(&f, 45),
            "vlan 5, p 0, IP 10.0.0.1.1 > 10.0.0.2.2: [|tcp]"
        );
        assert!(line_cut(&f, f.len() - 1).ends_with("length 4 [truncated]"));
        // Every other cut decodes without panicking and stays one line.
        for n in 0..f.len() {
            assert!(!line_cut(&f, n).contains('\n'));
        }
    }

    #[test]
    fn vxlan_inner_frame_follows() {
        let inner = build(|v| {
            eth()
                .ipv4([192, 168, 0, 1], [192, 168, 0, 2], 64)
                .icmpv4_echo_request(1, 1)
                .write(v, &[])
                .unwrap()
        });
        let mut payload = vec![0x08, 0, 0, 0, 0, 0, 42, 0];
        payload.extend_from_slice(&inner);
        let f = build(|v| {
            eth()
                .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                .udp(50000, 4789)
                .write(v, &payload)
                .unwrap()
        });
        assert_eq!(
            line(&f),
            "IP 10.0.0.1.50000 > 10.0.0.2.4789: VXLAN, flags [I] (0x08), vni 42: \
             IP 192.168.0.1 > 192.168.0.2: ICMP echo request, id 1, seq 1, length 8"
        );
    }

    #[test]
    fn other_ethertypes_and_llc() {
        let mut f = vec![1; 12];
        f.extend_from_slice(&[0x88, 0xcc]);
        f.extend_from_slice(&[0; 46]);
        assert_eq!(line(&f), "ethertype LLDP (0x88cc), length 60");
        f[12] = 0;
        f[13] = 46;
        assert_eq!(line(&f), "802.3, length 46");
    }

    /// The text line for `frame` on `link`, without timestamp and newline.
    fn line_on(link: LinkType, frame: &[u8]) -> String {
        let mut stamper = Stamper::default();
        let rec = Record {
            number: 1,
            ts: stamper.render(1, 0, 6),
            caplen: frame.len() as u32,
            orig_len: frame.len() as u32,
            interface: 0,
            link,
            data: frame,
        };
        let s = String::from_utf8(format_to_vec(&rec, false).0).unwrap();
        s.strip_prefix("1.000000 ")
            .unwrap()
            .strip_suffix('\n')
            .unwrap()
            .to_owned()
    }

    fn udp_v4() -> Vec<u8> {
        build(|v| {
            PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                .udp(40000, 40001)
                .write(v, b"hello")
                .unwrap()
        })
    }

    #[test]
    fn bsd_loopback_shows_the_packet_or_the_family() {
        let ip = udp_v4();
        let v6 = build(|v| {
            PacketBuilder::ipv6([0xfd; 16], [0xfe; 16], 64)
                .udp(1, 2)
                .write(v, &[])
                .unwrap()
        });
        let want = "IP 10.0.0.1.40000 > 10.0.0.2.40001: UDP, length 5";
        for (link, head) in [
            (LinkType::Null, [2, 0, 0, 0]),
            (LinkType::Null, [0, 0, 0, 2]),
            (LinkType::Loop, [0, 0, 0, 2]),
        ] {
            assert_eq!(line_on(link, &[&head[..], &ip].concat()), want, "{link:?}");
        }
        for family in [24u32, 28, 30] {
            let l = line_on(LinkType::Null, &[&family.to_le_bytes()[..], &v6].concat());
            assert!(
                l.starts_with("IP6 fdfd:") && l.ends_with("UDP, length 0"),
                "{l}"
            );
        }
        // As tcpdump -e names the families it does not walk.
        let other = |link, head: [u8; 4]| line_on(link, &[&head[..], &ip].concat());
        assert_eq!(
            other(LinkType::Null, [99, 0, 0, 0]),
            "AF Unknown (99), length 37"
        );
        assert_eq!(other(LinkType::Null, [7, 0, 0, 0]), "AF ISO (7), length 37");
        // LOOP is network order only: little-endian 2 is another family.
        assert_eq!(
            other(LinkType::Loop, [2, 0, 0, 0]),
            "AF Unknown (33554432), length 37"
        );
        for n in 0..4 {
            assert_eq!(line_on(LinkType::Null, &[2, 0, 0, 0][..n]), "[|null]");
            assert_eq!(line_on(LinkType::Loop, &[0, 0, 0, 2][..n]), "[|null]");
        }
        assert_eq!(line_on(LinkType::Null, &[2, 0, 0, 0, 0x45]), "IP [|ip]");
    }

    #[test]
    fn cisco_hdlc_shows_ip_slarp_and_unknown_protocols() {
        let ip = udp_v4();
        assert_eq!(
            line_on(LinkType::CiscoHdlc, &[&[0x0f, 0, 8, 0][..], &ip].concat()),
            "IP 10.0.0.1.40000 > 10.0.0.2.40001: UDP, length 5"
        );
        let slarp = |code: u32, a: u32, b: u32, tail: &[u8]| {
            let mut f = vec![0x8f, 0, 0x80, 0x35];
            for w in [code, a, b] {
                f.extend_from_slice(&w.to_be_bytes());
            }
            f.extend_from_slice(&[0xff, 0xff]);
            f.extend_from_slice(tail);
            line_on(LinkType::CiscoHdlc, &f)
        };
        // What tcpdump 4.99 prints for the same frames.
        assert_eq!(
            slarp(2, 0x10, 0x0f, &123_456_789u32.to_be_bytes()),
            "SLARP (length: 18), keepalive: mineseen=0x00000010, yourseen=0x0000000f, \
             reliability=0xffff, link uptime=1d10h17m36s"
        );
        assert_eq!(
            slarp(2, 0x10, 0x0f, &[]),
            "SLARP (length: 14), keepalive: mineseen=0x00000010, yourseen=0x0000000f, \
             reliability=0xffff"
        );
        assert_eq!(slarp(0, 0, 0, &[]), "SLARP (length: 14), request");
        assert_eq!(
            slarp(1, 0x0a01_0101, 0xffff_fffc, &[]),
            "SLARP (length: 14), reply 10.1.1.1/255.255.255.252"
        );
        assert_eq!(slarp(7, 0, 0, &[]), "SLARP (length: 14), 0x07 unknown");
        assert_eq!(
            slarp(0x1234_5678, 0, 0, &[]),
            "SLARP (length: 14), 0x12345678 unknown"
        );
        assert_eq!(
            line_on(
                LinkType::CiscoHdlc,
                &[0x8f, 0, 0x80, 0x35, 0, 0, 0, 2, 0, 0, 0, 1]
            ),
            "SLARP (length: 8), [|chdlc_slarp]"
        );
        // Uptime announced by the length but cut by the capture.
        let mut f = vec![0x8f, 0, 0x80, 0x35, 0, 0, 0, 2];
        f.extend_from_slice(&[0; 10]);
        let mut stamper = Stamper::default();
        let rec = Record {
            number: 1,
            ts: stamper.render(1, 0, 6),
            caplen: f.len() as u32,
            orig_len: f.len() as u32 + 4,
            interface: 0,
            link: LinkType::CiscoHdlc,
            data: &f,
        };
        let text = String::from_utf8(format_to_vec(&rec, false).0).unwrap();
        assert!(
            text.ends_with("reliability=0x0000 [|chdlc_slarp]\n"),
            "{text}"
        );
        assert_eq!(
            line_on(LinkType::CiscoHdlc, &[0x8f, 0, 0x20, 0, 2, 0xb4]),
            "unknown CHDLC protocol (0x2000)"
        );
        assert_eq!(
            line_on(LinkType::CiscoHdlc, &[0x0f, 0, 0x00, 0xfe, 1]),
            "unknown CHDLC protocol (0x00fe)"
        );
        assert_eq!(
            line_on(LinkType::CiscoHdlc, &[0x0f, 0, 0x88, 0x47, 0, 0, 0, 0]),
            "ethertype MPLS unicast (0x8847), length 8"
        );
        for n in 0..4 {
            assert_eq!(
                line_on(LinkType::CiscoHdlc, &[0x0f, 0, 8, 0][..n]),
                "[|chdlc]"
            );
        }
    }
}
