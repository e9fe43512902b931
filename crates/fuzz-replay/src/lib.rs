//! The bodies of Rampart's fuzz targets: one function per parser of untrusted bytes, called
//! both by the cargo-fuzz targets in `fuzz/fuzz_targets/` (each a one-line wrapper) and by
//! `tests/replay.rs`, which runs every committed corpus input, seed and regression through them
//! under `cargo test`, so a fixed crash stays fixed.
//!
//! Each function takes arbitrary bytes and drives one parser the way a caller would: the
//! checked constructor, every getter, the `Repr` parse, and, when that succeeds, an emit into a
//! fresh buffer and a second parse that must give back an equal `Repr` (and, where the format
//! keeps every bit, the same bytes). Beyond "does not panic", they assert the invariants the
//! parsers document. A failed assertion is how libFuzzer and the replay test learn of a bug, so
//! unlike the library crates these functions panic on purpose; what they must never do is loop
//! without bound or allocate more than a small multiple of the input.
//!
//! ```
//! // A truncated Ethernet header: parsers must refuse it without panicking.
//! fuzz_replay::ethernet(&[0xff; 13]);
//! for (name, target) in fuzz_replay::TARGETS {
//!     target(name.as_bytes());
//! }
//! ```

mod conntrack;
mod pipeline_model;

pub use conntrack::conn_table;
pub use pipeline_model::{Scenario, check as check_pipeline, pipeline_model};
pub mod container;
mod ids_rules;
pub mod scan;

use std::io::Cursor;

mod ids_app;
pub mod policy;

pub use ids_app::{dns_message, http_parser, tcp_reassembly, tls_handshake};

use capture::{
    CaptureError, CaptureFormat, CaptureReader, LinkType, MAX_CAPLEN, PcapNgWriter, PcapWriter,
    Timestamp,
};
use wire::arp::{ArpPacket, ArpRepr};
use wire::chdlc::{ChdlcHeader, ChdlcRepr};
use wire::ethernet::{EthernetAddress, EthernetFrame, EthernetRepr};
use wire::geneve::{GeneveHeader, GeneveOption, GeneveOptionsIter, GeneveRepr};
use wire::icmpv4::{Icmpv4Packet, Icmpv4Repr};
use wire::icmpv6::{Icmpv6Packet, Icmpv6Repr, NdpOption, NdpOptionsIter};
use wire::ipv4::{Ipv4Packet, Ipv4Repr};
use wire::ipv6::{
    Ipv6FragmentHeader, Ipv6FragmentRepr, Ipv6OptionIter, Ipv6OptionsHeader, Ipv6OptionsRepr,
    Ipv6Packet, Ipv6Repr, Ipv6RoutingHeader, Ipv6RoutingRepr,
};
use wire::loopback::{ByteOrder, LoopbackHeader, LoopbackRepr};
use wire::sll::{Sll2Header, Sll2Repr, SllHeader, SllRepr};
use wire::tcp::{MAX_HEADER_LEN, TcpOption, TcpOptionsIter, TcpPacket, TcpRepr};
use wire::udp::{IpPair, UdpPacket, UdpRepr};
use wire::vlan::{VlanHeader, VlanRepr};
use wire::vxlan::{VxlanHeader, VxlanRepr};
use wire::{
    Anomalies, Error, Fragment, L3, L4, Layer, ParsedPacket, TunnelKind, ethertype, ip_proto,
};

/// A fuzz target body: takes any bytes, panics only on a bug.
pub type Target = fn(&[u8]);

pub use ids_rules::ids_rule;

/// Every fuzz target, by the name of its file in `fuzz/fuzz_targets/` and of its corpus
/// directory in `fuzz/corpus/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("parse_packet", parse_packet),
    ("pipeline_model", pipeline_model),
    ("ethernet", ethernet),
    ("vlan", vlan),
    ("arp", arp),
    ("ipv4", ipv4),
    ("ipv6", ipv6),
    ("tcp", tcp),
    ("udp", udp),
    ("icmpv4", icmpv4),
    ("icmpv6", icmpv6),
    ("vxlan", vxlan),
    ("geneve", geneve),
    ("sll", sll),
    ("loopback_chdlc", loopback_chdlc),
    ("capture_reader", capture_reader),
    ("capture_roundtrip", capture_roundtrip),
    ("flow_key", flow_key),
    ("conn_table", conn_table),
    ("http_parser", http_parser),
    ("dns_message", dns_message),
    ("tls_handshake", tls_handshake),
    ("tcp_reassembly", tcp_reassembly),
    ("ids_rule", ids_rule),
    ("policy", policy::policy),
    ("scan_signatures", scan::signatures),
    ("scan_file", scan::file),
    ("intel_feed", scan::intel_feed),
    ("shim_image", container::shim_image),
    ("shim_record", container::shim_record),
    ("elf_linkage", container::elf_linkage),
    ("policy_toml", container::policy_toml),
];

/// Pseudo-header addresses for the transport checksums (documentation ranges).
const IPS_V4: IpPair = IpPair::V4 {
    src: [192, 0, 2, 1],
    dst: [198, 51, 100, 2],
};
const SRC_V6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const DST_V6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const IPS_V6: IpPair = IpPair::V6 {
    src: SRC_V6,
    dst: DST_V6,
};

/// `wire::parse_link` on `data[1..]`, the link type chosen by `data[0]` modulo 7 (Ethernet, raw
/// IP, SLL, SLL2, BSD null, BSD loop, Cisco HDLC), then every invariant of [`ParsedPacket`]; a
/// tunnel's inner frame is walked too.
pub fn parse_packet(data: &[u8]) {
    let Some((&selector, frame)) = data.split_first() else {
        return;
    };
    let link = match selector % 7 {
        0 => LinkType::Ethernet,
        1 => LinkType::RawIp,
        2 => LinkType::LinuxSll,
        3 => LinkType::LinuxSll2,
        4 => LinkType::Null,
        5 => LinkType::Loop,
        _ => LinkType::CiscoHdlc,
    };
    walk(frame, link, true);
}

/// Parses `frame`, checks the result, and follows one level of tunnel.
fn walk(frame: &[u8], link: LinkType, follow_tunnel: bool) {
    let p = wire::parse_link(frame, link);
    check_parsed(frame, link, &p);
    if !follow_tunnel || p.tunnel.kind == TunnelKind::None {
        return;
    }
    let inner_link = match p.tunnel.inner_proto {
        ethertype::TEB => LinkType::Ethernet,
        ethertype::IPV4 | ethertype::IPV6 => LinkType::RawIp,
        _ => return,
    };
    let inner = frame
        .get(usize::from(p.tunnel.inner_offset)..)
        .expect("tunnel inner_offset within the frame (checked above)");
    walk(inner, inner_link, false);
}

/// The invariants [`ParsedPacket`] promises for `frame`, and agreement with the typed views.
pub fn check_parsed(frame: &[u8], link: LinkType, p: &ParsedPacket) {
    let len = frame.len();
    assert_eq!(p.link, link, "link type not recorded");
    assert_eq!(p.frame_len as usize, len, "frame_len");
    assert!(p.vlan_count <= 2, "vlan_count {} above 2", p.vlan_count);
    assert!(
        p.vlan_count == 0 || p.has_ethernet,
        "vlan tags without ethernet"
    );
    if link != LinkType::Ethernet {
        assert!(!p.has_ethernet, "has_ethernet on a {link:?} frame");
    }

    // The payload lies inside the frame, and `payload()` agrees with the recorded length.
    let payload_end = usize::from(p.payload_offset) + p.payload_len as usize;
    assert!(
        payload_end <= len,
        "payload {}+{} runs past the {len}-byte frame: {p:?}",
        p.payload_offset,
        p.payload_len
    );
    assert_eq!(p.payload(frame).len(), p.payload_len as usize, "payload()");

    // Each layer found lies in the frame.
    let l3 = usize::from(p.l3_offset);
    let l3_len = match p.l3 {
        L3::Ipv4 => 20,
        L3::Ipv6 => 40,
        L3::None | L3::Arp | L3::Other => 0,
    };
    if p.l3 != L3::None {
        assert!(
            l3 + l3_len <= len,
            "{:?} header at {l3} past the frame",
            p.l3
        );
    }
    assert_eq!(
        p.ipv4_addrs(frame).is_some(),
        p.l3 == L3::Ipv4,
        "ipv4_addrs"
    );
    assert_eq!(
        p.ipv6_addrs(frame).is_some(),
        p.l3 == L3::Ipv6,
        "ipv6_addrs"
    );

    let l4 = usize::from(p.l4_offset);
    let l4_len = match p.l4 {
        L4::Tcp => 20,
        L4::Udp => 8,
        L4::Icmpv4 | L4::Icmpv6 => 4,
        L4::None | L4::Other => 0,
    };
    let l4_present = p.l4 != L4::None && p.truncated != Some(Layer::Transport);
    if p.l4 != L4::None {
        assert!(
            matches!(p.l3, L3::Ipv4 | L3::Ipv6),
            "{:?} over {:?}",
            p.l4,
            p.l3
        );
        assert!(l4 >= l3 + l3_len, "l4_offset {l4} inside the IP header");
        assert_ne!(
            p.fragment,
            Fragment::Later,
            "transport header in a later fragment"
        );
    }
    if l4_present {
        assert!(
            l4 + l4_len <= len,
            "{:?} header at {l4} past the frame",
            p.l4
        );
        if p.payload_len > 0 {
            assert!(
                usize::from(p.payload_offset) >= l4 + l4_len,
                "payload starts inside the transport header"
            );
        }
    }

    // The fast walk reads the same fields as the typed views.
    if p.l3 == L3::Ipv4
        && !p.anomalies.contains(Anomalies::IP_BAD_VERSION)
        && !p.anomalies.contains(Anomalies::IPV4_BAD_IHL)
    {
        let ip = Ipv4Packet::new_unchecked(&frame[l3..]);
        assert_eq!(p.ttl, ip.ttl(), "ipv4 ttl");
        assert_eq!(p.ip_len, u32::from(ip.total_len()), "ipv4 ip_len");
        assert_eq!(p.ip_proto, ip.protocol(), "ipv4 protocol");
    }
    if p.l3 == L3::Ipv6 && !p.anomalies.contains(Anomalies::IP_BAD_VERSION) {
        let ip = Ipv6Packet::new_unchecked(&frame[l3..]);
        assert_eq!(p.ttl, ip.hop_limit(), "ipv6 hop limit");
        let ip_len = match ip.payload_len() {
            0 => len - l3,
            n => 40 + usize::from(n),
        };
        assert_eq!(p.ip_len as usize, ip_len, "ipv6 ip_len");
    }
    if l4_present {
        let seg = &frame[l4..];
        match p.l4 {
            L4::Tcp => {
                let t = TcpPacket::new_unchecked(seg);
                assert_eq!((p.src_port, p.dst_port), (t.src_port(), t.dst_port()));
                assert_eq!(p.tcp_flags, t.flags().bits() & 0x0fff, "tcp flags");
            }
            L4::Udp => {
                let u = UdpPacket::new_unchecked(seg);
                assert_eq!((p.src_port, p.dst_port), (u.src_port(), u.dst_port()));
            }
            L4::Icmpv4 => {
                let i = Icmpv4Packet::new_unchecked(seg);
                let (ty, code) = (u16::from(i.msg_type()), u16::from(i.msg_code()));
                assert_eq!((p.src_port, p.dst_port), (ty, code), "icmpv4 type/code");
            }
            L4::Icmpv6 => {
                let i = Icmpv6Packet::new_unchecked(seg);
                let (ty, code) = (u16::from(i.msg_type()), u16::from(i.msg_code()));
                assert_eq!((p.src_port, p.dst_port), (ty, code), "icmpv6 type/code");
            }
            L4::None | L4::Other => {}
        }
    }
    if p.has_ethernet && p.vlan_count == 0 && len >= 14 {
        let eth = EthernetFrame::new_unchecked(frame);
        assert_eq!(p.ethertype, eth.ethertype(), "ethertype");
    }
    if link == LinkType::LinuxSll && len >= 16 {
        assert_eq!(
            p.ethertype,
            SllHeader::new_unchecked(frame).protocol(),
            "sll"
        );
    }
    if link == LinkType::LinuxSll2 && len >= 20 {
        assert_eq!(
            p.ethertype,
            Sll2Header::new_unchecked(frame).protocol(),
            "sll2"
        );
    }
    if matches!(link, LinkType::Null | LinkType::Loop | LinkType::CiscoHdlc) {
        assert_eq!(
            p.truncated == Some(Layer::Link),
            len < 4,
            "a 4-byte link header cut or not"
        );
        if len >= 4 {
            assert_eq!(p.l3_offset, 4, "{link:?} network offset");
        }
    }
    if matches!(link, LinkType::Null | LinkType::Loop) && len >= 4 {
        let h = LoopbackHeader::new_unchecked(frame);
        let family = if link == LinkType::Null {
            h.null_family().0
        } else {
            h.loop_family()
        };
        match wire::loopback::ethertype_of(family) {
            Some(et) => assert_eq!(p.ethertype, et, "ethertype of family {family}"),
            None => assert_eq!(
                (p.l3, p.ethertype),
                (L3::Other, 0),
                "family {family} is not walked"
            ),
        }
    }
    if link == LinkType::CiscoHdlc && len >= 4 {
        assert_eq!(
            p.ethertype,
            ChdlcHeader::new_unchecked(frame).protocol(),
            "c_hdlc"
        );
    }

    // A tunnel sits in the UDP payload, and its inner frame in the frame.
    let t = &p.tunnel;
    if t.kind == TunnelKind::None {
        return;
    }
    assert_eq!(p.l4, L4::Udp, "tunnel over {:?}", p.l4);
    let at = usize::from(t.offset);
    assert_eq!(
        at,
        usize::from(p.payload_offset),
        "tunnel header not at the payload"
    );
    assert!(at + 8 <= len, "tunnel header at {at} past the frame");
    let inner = usize::from(t.inner_offset);
    assert!(
        at + 8 <= inner && inner <= len,
        "inner frame at {inner} outside {}..={len}",
        at + 8
    );
    assert!(t.vni <= 0x00ff_ffff, "vni above 24 bits");
    match t.kind {
        TunnelKind::Vxlan => {
            let h = VxlanHeader::new_unchecked(&frame[at..]);
            assert_eq!(t.vni, h.vni(), "vxlan vni");
            assert_eq!(t.inner_proto, ethertype::TEB, "vxlan inner protocol");
            assert_eq!(inner, at + 8, "vxlan inner offset");
        }
        TunnelKind::Geneve => {
            let h = GeneveHeader::new_unchecked(&frame[at..]);
            assert_eq!(t.vni, h.vni(), "geneve vni");
            assert_eq!(t.inner_proto, h.protocol(), "geneve inner protocol");
            assert_eq!(inner, at + h.header_len(), "geneve inner offset");
        }
        TunnelKind::None => {}
    }
}

/// Ethernet II: the view, [`EthernetAddress`] printing and parsing, and the `Repr` round trip.
pub fn ethernet(data: &[u8]) {
    let view = EthernetFrame::new_unchecked(data);
    let (dst, src, et) = (view.dst_addr(), view.src_addr(), view.ethertype());
    let _ = view.payload();
    for addr in [dst, src] {
        let _ = (addr.is_broadcast(), addr.is_multicast(), addr.is_unicast());
        let _ = (addr.is_local(), addr.is_zero(), format!("{addr:?}"));
        let text = addr.to_string();
        assert_eq!(
            text.parse::<EthernetAddress>(),
            Ok(addr),
            "{text} does not parse back"
        );
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = s.parse::<EthernetAddress>();
    }
    let _ = EthernetAddress::from_bytes(data);

    let checked = EthernetFrame::new_checked(data).is_ok();
    let repr = EthernetRepr::parse(&view);
    assert_eq!(checked, repr.is_ok(), "new_checked and parse disagree");
    rewrite_same(data, checked, |b| {
        let mut f = EthernetFrame::new_unchecked(b);
        let (d, s, e) = (f.dst_addr(), f.src_addr(), f.ethertype());
        f.set_dst_addr(d);
        f.set_src_addr(s);
        f.set_ethertype(e);
        let _ = f.payload_mut();
    });
    let Ok(repr) = repr else { return };
    assert_eq!(
        (repr.dst_addr, repr.src_addr, repr.ethertype),
        (dst, src, et)
    );
    assert_eq!(view.payload().len(), data.len() - repr.header_len());

    let mut out = vec![0u8; repr.header_len()];
    repr.emit(&mut EthernetFrame::new_unchecked(&mut out[..]))
        .expect("emit into header_len bytes");
    assert_eq!(out[..], data[..repr.header_len()], "emitted header differs");
    let again = EthernetFrame::new_checked(&out[..]).expect("emitted header checks");
    assert_eq!(EthernetRepr::parse(&again), Ok(repr), "ethernet round trip");
}

/// One 802.1Q/802.1ad tag: the view, the `Repr` round trip, and its TCI.
pub fn vlan(data: &[u8]) {
    let view = VlanHeader::new_unchecked(data);
    let (tci, pcp, dei, vid, et) = (
        view.tci(),
        view.pcp(),
        view.dei(),
        view.vid(),
        view.ethertype(),
    );
    let _ = (view.payload(), wire::vlan::is_tag_protocol(et));
    let checked = VlanHeader::new_checked(data).is_ok();
    rewrite_same(data, checked, |b| {
        let mut t = VlanHeader::new_unchecked(b);
        let (pcp, dei, vid, et) = (t.pcp(), t.dei(), t.vid(), t.ethertype());
        t.set_pcp(pcp);
        t.set_dei(dei);
        t.set_vid(vid);
        t.set_ethertype(et);
        let tci = t.tci();
        t.set_tci(tci);
        let _ = t.payload_mut();
    });
    let repr = VlanRepr::parse(&view);
    if !checked {
        assert!(repr.is_err(), "parse accepted what new_checked refused");
        return;
    }
    let Ok(repr) = repr else {
        assert_eq!(vid, 0x0fff, "only vid 4095 is refused");
        return;
    };
    assert_eq!(
        (repr.pcp, repr.dei, repr.vid, repr.ethertype),
        (pcp, dei, vid, et)
    );
    assert_eq!(repr.tci(), tci, "tci from the fields");

    let mut out = vec![0u8; repr.header_len()];
    repr.emit(&mut VlanHeader::new_unchecked(&mut out[..]))
        .expect("emit a parsed tag");
    assert_eq!(out[..], data[..repr.header_len()], "emitted tag differs");
    let again = VlanHeader::new_checked(&out[..]).expect("emitted tag checks");
    assert_eq!(VlanRepr::parse(&again), Ok(repr), "vlan round trip");
}

/// ARP of any address sizes through the view; Ethernet/IPv4 through the `Repr` round trip.
pub fn arp(data: &[u8]) {
    let view = ArpPacket::new_unchecked(data);
    let _ = (
        view.packet_len(),
        view.hardware_type(),
        view.protocol_type(),
    );
    let (hlen, plen) = (view.hardware_len(), view.protocol_len());
    let _ = u16::from(view.operation());
    let (sha, spa) = (view.sender_hardware_addr(), view.sender_protocol_addr());
    let (tha, tpa) = (view.target_hardware_addr(), view.target_protocol_addr());
    let checked = ArpPacket::new_checked(data).is_ok();
    if checked {
        assert!(
            view.packet_len() <= data.len(),
            "packet_len past the buffer"
        );
        assert_eq!(
            (sha.len(), tha.len()),
            (usize::from(hlen), usize::from(hlen))
        );
        assert_eq!(
            (spa.len(), tpa.len()),
            (usize::from(plen), usize::from(plen))
        );
    }
    rewrite_same(data, checked, |b| {
        let mut p = ArpPacket::new_unchecked(b);
        let (ht, pt, hl, pl, op) = (
            p.hardware_type(),
            p.protocol_type(),
            p.hardware_len(),
            p.protocol_len(),
            p.operation(),
        );
        p.set_hardware_type(ht);
        p.set_protocol_type(pt);
        p.set_hardware_len(hl);
        p.set_protocol_len(pl);
        p.set_operation(op);
        let (sha, spa) = (
            p.sender_hardware_addr().to_vec(),
            p.sender_protocol_addr().to_vec(),
        );
        let (tha, tpa) = (
            p.target_hardware_addr().to_vec(),
            p.target_protocol_addr().to_vec(),
        );
        let _ = p.set_sender_hardware_addr(&sha);
        let _ = p.set_sender_protocol_addr(&spa);
        let _ = p.set_target_hardware_addr(&tha);
        let _ = p.set_target_protocol_addr(&tpa);
        let _ = p.packet_mut();
    });
    let repr = ArpRepr::parse(&view);
    if !checked {
        assert!(repr.is_err(), "parse accepted what new_checked refused");
    }
    let Ok(repr) = repr else { return };
    assert_eq!(repr.sender_hardware_addr.0[..], sha[..]);
    assert_eq!(repr.sender_protocol_addr.octets()[..], spa[..]);
    assert_eq!(repr.target_hardware_addr.0[..], tha[..]);
    assert_eq!(repr.target_protocol_addr.octets()[..], tpa[..]);

    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut ArpPacket::new_unchecked(&mut out[..]))
        .expect("emit a parsed packet");
    assert_eq!(out[..], data[..repr.buffer_len()], "emitted packet differs");
    let again = ArpPacket::new_checked(&out[..]).expect("emitted packet checks");
    assert_eq!(ArpRepr::parse(&again), Ok(repr), "arp round trip");
}

/// IPv4: the view with its checksum, and the `Repr` round trip (options included).
pub fn ipv4(data: &[u8]) {
    let view = Ipv4Packet::new_unchecked(data);
    let _ = (view.version(), view.header_len(), view.dscp(), view.ecn());
    let _ = (
        view.total_len(),
        view.ident(),
        view.reserved_flag(),
        view.dont_frag(),
    );
    let _ = (
        view.more_frags(),
        view.frag_offset(),
        view.is_fragment(),
        view.ttl(),
    );
    let _ = (
        view.protocol(),
        view.checksum(),
        view.src_addr(),
        view.dst_addr(),
    );
    let _ = (
        view.header(),
        view.options(),
        view.verify_checksum(),
        view.payload(),
    );
    let checked = Ipv4Packet::new_checked(data).is_ok();
    if checked {
        let hl = view.header_len();
        assert_eq!(view.header().len(), hl, "header()");
        assert_eq!(view.options().len(), hl - 20, "options()");
        assert_eq!(
            view.payload().len(),
            usize::from(view.total_len()) - hl,
            "payload()"
        );
    }
    rewrite_same(data, checked, |b| {
        let mut p = Ipv4Packet::new_unchecked(b);
        let (v, hl, dscp, ecn, tl) = (
            p.version(),
            p.header_len(),
            p.dscp(),
            p.ecn(),
            p.total_len(),
        );
        let (id, df, mf, fo) = (p.ident(), p.dont_frag(), p.more_frags(), p.frag_offset());
        let (ttl, proto, ck, s, d) = (
            p.ttl(),
            p.protocol(),
            p.checksum(),
            p.src_addr(),
            p.dst_addr(),
        );
        p.set_version(v);
        p.set_header_len(hl);
        p.set_dscp(dscp);
        p.set_ecn(ecn);
        p.set_total_len(tl);
        p.set_ident(id);
        p.set_dont_frag(df);
        p.set_more_frags(mf);
        p.set_frag_offset(fo);
        p.set_ttl(ttl);
        p.set_protocol(proto);
        p.set_checksum(ck);
        p.set_src_addr(s);
        p.set_dst_addr(d);
        let _ = p.options_mut();
        let _ = p.payload_mut();
    });
    let mut scratch = data.to_vec();
    Ipv4Packet::new_unchecked(&mut scratch[..]).fill_checksum();
    if checked {
        assert!(
            Ipv4Packet::new_unchecked(&scratch[..]).verify_checksum(),
            "fill_checksum"
        );
    }

    let repr = Ipv4Repr::parse(&view);
    if !checked {
        assert!(repr.is_err(), "parse accepted what new_checked refused");
    }
    let Ok(repr) = repr else { return };
    let _ = format!("{:?}", repr.options);
    let hl = repr.header_len();
    assert_eq!(hl, view.header_len(), "header_len");
    assert_eq!(
        repr.buffer_len(),
        usize::from(view.total_len()),
        "buffer_len"
    );

    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut Ipv4Packet::new_unchecked(&mut out[..]))
        .expect("emit a parsed header");
    // Byte for byte, but for the checksum: 0 and 0xffff can both verify.
    assert_eq!(out[..10], data[..10], "emitted header differs");
    assert_eq!(out[12..hl], data[12..hl], "emitted header differs");
    let again = Ipv4Packet::new_checked(&out[..]).expect("emitted header checks");
    assert!(again.verify_checksum(), "emitted checksum");
    assert_eq!(Ipv4Repr::parse(&again), Ok(repr), "ipv4 round trip");
}

/// IPv6: the fixed header and its `Repr` round trip, the extension headers its next-header
/// chain leads to, and each extension-header view (and the options iterator) over the raw
/// bytes as well.
pub fn ipv6(data: &[u8]) {
    let view = Ipv6Packet::new_unchecked(data);
    let _ = (
        view.version(),
        view.traffic_class(),
        view.dscp(),
        view.ecn(),
    );
    let _ = (view.flow_label(), view.payload_len(), view.hop_limit());
    let _ = (view.src_addr(), view.dst_addr(), view.payload());
    let next = view.next_header();
    let checked = Ipv6Packet::new_checked(data).is_ok();
    if checked {
        assert_eq!(
            view.payload().len(),
            usize::from(view.payload_len()),
            "payload()"
        );
    }
    rewrite_same(data, checked, |b| {
        let mut p = Ipv6Packet::new_unchecked(b);
        let (v, tc, fl, pl) = (
            p.version(),
            p.traffic_class(),
            p.flow_label(),
            p.payload_len(),
        );
        let (nh, hl, s, d) = (p.next_header(), p.hop_limit(), p.src_addr(), p.dst_addr());
        p.set_version(v);
        p.set_traffic_class(tc);
        p.set_flow_label(fl);
        p.set_payload_len(pl);
        p.set_next_header(nh);
        p.set_hop_limit(hl);
        p.set_src_addr(s);
        p.set_dst_addr(d);
        let _ = p.payload_mut();
    });

    // Each extension-header view straight over the input.
    ipv6_options_header(data);
    ipv6_routing_header(data);
    ipv6_fragment_header(data);
    check_option_iter(data);

    let repr = Ipv6Repr::parse(&view);
    if !checked {
        assert!(repr.is_err(), "parse accepted what new_checked refused");
    }
    let Ok(repr) = repr else { return };
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut Ipv6Packet::new_unchecked(&mut out[..]))
        .expect("emit a parsed header");
    assert_eq!(out[..40], data[..40], "emitted header differs");
    let again = Ipv6Packet::new_checked(&out[..]).expect("emitted header checks");
    assert_eq!(Ipv6Repr::parse(&again), Ok(repr), "ipv6 round trip");

    // Follow the extension-header chain through the payload, as a receiver would.
    let mut rest = view.payload();
    let mut next = next;
    for _ in 0..8 {
        let (nh, len) = match next {
            ip_proto::HOPOPT | ip_proto::IPV6_OPTS => match ipv6_options_header(rest) {
                Some(x) => x,
                None => return,
            },
            ip_proto::IPV6_ROUTE => match ipv6_routing_header(rest) {
                Some(x) => x,
                None => return,
            },
            ip_proto::IPV6_FRAG => match ipv6_fragment_header(rest) {
                Some(x) => x,
                None => return,
            },
            _ => return,
        };
        next = nh;
        rest = &rest[len..];
    }
}

/// A hop-by-hop or destination options header: returns its next header and length if it
/// checks.
fn ipv6_options_header(data: &[u8]) -> Option<(u8, usize)> {
    let view = Ipv6OptionsHeader::new_unchecked(data);
    let _ = (
        view.next_header(),
        view.hdr_ext_len(),
        view.header_len(),
        view.payload(),
    );
    check_option_iter(view.options());
    let checked = Ipv6OptionsHeader::new_checked(data).is_ok();
    rewrite_same(data, checked, |b| {
        let mut h = Ipv6OptionsHeader::new_unchecked(b);
        let (nh, hel) = (h.next_header(), h.hdr_ext_len());
        h.set_next_header(nh);
        h.set_hdr_ext_len(hel);
        let _ = h.options_mut();
        let _ = h.payload_mut();
    });
    if !checked {
        assert!(
            Ipv6OptionsRepr::parse(&view).is_err(),
            "parse accepted a short header"
        );
        return None;
    }
    let hl = view.header_len();
    assert!(hl <= data.len(), "header_len past the buffer");
    assert_eq!(view.options().len(), hl - 2, "options()");
    assert_eq!(view.payload().len(), data.len() - hl, "payload()");
    if let Ok(repr) = Ipv6OptionsRepr::parse(&view) {
        assert_eq!(repr.header_len(), hl, "header_len");
        let mut out = vec![0u8; repr.header_len()];
        repr.emit(&mut Ipv6OptionsHeader::new_unchecked(&mut out[..]))
            .expect("emit a parsed options header");
        assert_eq!(out[..], data[..hl], "emitted options header differs");
        let again = Ipv6OptionsHeader::new_checked(&out[..]).expect("emitted header checks");
        assert_eq!(
            Ipv6OptionsRepr::parse(&again),
            Ok(repr),
            "options round trip"
        );
    }
    Some((view.next_header(), hl))
}

/// A routing header: returns its next header and length if it checks.
fn ipv6_routing_header(data: &[u8]) -> Option<(u8, usize)> {
    let view = Ipv6RoutingHeader::new_unchecked(data);
    let _ = (view.next_header(), view.hdr_ext_len(), view.header_len());
    let _ = (
        view.routing_type(),
        view.segments_left(),
        view.data(),
        view.payload(),
    );
    let checked = Ipv6RoutingHeader::new_checked(data).is_ok();
    rewrite_same(data, checked, |b| {
        let mut h = Ipv6RoutingHeader::new_unchecked(b);
        let (nh, hel, rt, sl) = (
            h.next_header(),
            h.hdr_ext_len(),
            h.routing_type(),
            h.segments_left(),
        );
        h.set_next_header(nh);
        h.set_hdr_ext_len(hel);
        h.set_routing_type(rt);
        h.set_segments_left(sl);
        let _ = h.data_mut();
        let _ = h.payload_mut();
    });
    if !checked {
        assert!(
            Ipv6RoutingRepr::parse(&view).is_err(),
            "parse accepted a short header"
        );
        return None;
    }
    let hl = view.header_len();
    assert!(hl <= data.len(), "header_len past the buffer");
    assert_eq!(view.data().len(), hl - 4, "data()");
    if let Ok(repr) = Ipv6RoutingRepr::parse(&view) {
        assert_eq!(repr.header_len(), hl, "header_len");
        let mut out = vec![0u8; repr.header_len()];
        repr.emit(&mut Ipv6RoutingHeader::new_unchecked(&mut out[..]))
            .expect("emit a parsed routing header");
        assert_eq!(out[..], data[..hl], "emitted routing header differs");
        let again = Ipv6RoutingHeader::new_checked(&out[..]).expect("emitted header checks");
        assert_eq!(
            Ipv6RoutingRepr::parse(&again),
            Ok(repr),
            "routing round trip"
        );
    }
    Some((view.next_header(), hl))
}

/// A fragment header: returns its next header and length if it checks.
fn ipv6_fragment_header(data: &[u8]) -> Option<(u8, usize)> {
    let view = Ipv6FragmentHeader::new_unchecked(data);
    let _ = (view.next_header(), view.frag_offset(), view.more_frags());
    let _ = (view.ident(), view.payload());
    let checked = Ipv6FragmentHeader::new_checked(data).is_ok();
    rewrite_same(data, checked, |b| {
        let mut h = Ipv6FragmentHeader::new_unchecked(b);
        let (nh, fo, mf, id) = (h.next_header(), h.frag_offset(), h.more_frags(), h.ident());
        h.set_next_header(nh);
        h.set_frag_offset(fo);
        h.set_more_frags(mf);
        h.set_ident(id);
        let _ = h.payload_mut();
    });
    let mut scratch = data.to_vec();
    Ipv6FragmentHeader::new_unchecked(&mut scratch[..]).clear_reserved();
    if checked {
        let cleared = Ipv6FragmentHeader::new_unchecked(&scratch[..]);
        assert_eq!(
            Ipv6FragmentRepr::parse(&cleared),
            Ipv6FragmentRepr::parse(&view)
        );
    }
    let repr = Ipv6FragmentRepr::parse(&view);
    if !checked {
        assert!(repr.is_err(), "parse accepted a short header");
        return None;
    }
    let repr = repr.expect("a checked fragment header parses");
    let mut out = vec![0u8; repr.header_len()];
    repr.emit(&mut Ipv6FragmentHeader::new_unchecked(&mut out[..]))
        .expect("emit a parsed fragment header");
    let again = Ipv6FragmentHeader::new_checked(&out[..]).expect("emitted header checks");
    assert_eq!(
        Ipv6FragmentRepr::parse(&again),
        Ok(repr),
        "fragment round trip"
    );
    Some((view.next_header(), repr.header_len()))
}

/// The IPv6 option TLVs of `options`: the iterator ends, the options tile the area up to the
/// first error, and the error (if any) comes last.
fn check_option_iter(options: &[u8]) {
    let mut used = 0usize;
    let mut failed = false;
    for (i, opt) in Ipv6OptionIter::new(options).enumerate() {
        assert!(i <= options.len(), "option iterator does not end");
        assert!(!failed, "option iterator goes on after an error");
        match opt {
            Ok(o) => {
                let _ = (o.option_type(), o.is_empty());
                used += o.len();
            }
            Err(e) => {
                assert!(matches!(e, Error::Malformed(_)), "option error {e:?}");
                failed = true;
            }
        }
    }
    if failed {
        assert!(
            used < options.len(),
            "error after the options filled the area"
        );
    } else {
        assert_eq!(used, options.len(), "options do not tile the area");
    }
}

/// TCP: the view with its checksum, every option through emit and parse, and the `Repr`
/// round trip with the payload carried over.
pub fn tcp(data: &[u8]) {
    let view = TcpPacket::new_unchecked(data);
    let _ = (
        view.src_port(),
        view.dst_port(),
        view.seq_number(),
        view.ack_number(),
    );
    let _ = (
        view.header_len(),
        view.window_len(),
        view.checksum(),
        view.urgent_at(),
    );
    let _ = (view.fin(), view.syn(), view.rst(), view.psh(), view.ack());
    let _ = (
        view.urg(),
        view.ece(),
        view.cwr(),
        view.ns(),
        view.segment_len(),
    );
    let _ = (view.options(), view.payload(), view.flags().to_string());
    let _ = (view.verify_checksum(&IPS_V4), view.verify_checksum(&IPS_V6));
    let checked = TcpPacket::new_checked(data).is_ok();
    rewrite_same(data, checked, |b| {
        let mut p = TcpPacket::new_unchecked(b);
        let (sp, dp, seq, ack) = (p.src_port(), p.dst_port(), p.seq_number(), p.ack_number());
        let (hl, fl, win, ck, urg) = (
            p.header_len(),
            p.flags(),
            p.window_len(),
            p.checksum(),
            p.urgent_at(),
        );
        p.set_src_port(sp);
        p.set_dst_port(dp);
        p.set_seq_number(seq);
        p.set_ack_number(ack);
        p.set_header_len(hl);
        p.set_flags(fl);
        p.set_window_len(win);
        p.set_checksum(ck);
        p.set_urgent_at(urg);
        let _ = p.options_mut();
        let _ = p.payload_mut();
    });
    check_tcp_options(view.options());
    check_tcp_options(data);

    let repr = TcpRepr::parse(&view);
    if !checked {
        assert!(repr.is_err(), "parse accepted what new_checked refused");
    }
    let Ok(repr) = repr else { return };
    assert_eq!(repr.payload_len, view.payload().len(), "payload_len");
    if repr.header_len() > MAX_HEADER_LEN {
        // Options Linux would lay out in more than 40 bytes (dense input, e.g. without NOPs).
        let mut out = vec![0u8; repr.buffer_len()];
        let r = repr.emit(&mut TcpPacket::new_unchecked(&mut out[..]), &IPS_V4, |_| {});
        assert!(
            matches!(r, Err(Error::Malformed(_))),
            "emit of over-long options: {r:?}"
        );
        return;
    }
    for ips in [IPS_V4, IPS_V6] {
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut TcpPacket::new_unchecked(&mut out[..]), &ips, |p| {
            p.copy_from_slice(view.payload())
        })
        .expect("emit a parsed segment");
        let again = TcpPacket::new_checked(&out[..]).expect("emitted segment checks");
        assert!(again.verify_checksum(&ips), "emitted checksum");
        assert_eq!(again.payload(), view.payload(), "payload");
        assert_eq!(TcpRepr::parse(&again), Ok(repr), "tcp round trip");
    }
}

/// TCP options: the iterator ends, errors come last, and each option emits and parses back.
fn check_tcp_options(options: &[u8]) {
    let mut failed = false;
    for (i, opt) in TcpOptionsIter::new(options).enumerate() {
        assert!(i <= options.len(), "option iterator does not end");
        assert!(!failed, "option iterator goes on after an error");
        let opt = match opt {
            Ok(o) => o,
            Err(_) => {
                failed = true;
                continue;
            }
        };
        let mut out = vec![0u8; opt.buffer_len()];
        let n = opt.emit(&mut out).expect("emit a parsed option");
        assert_eq!(n, opt.buffer_len(), "emit wrote other than buffer_len");
        let (rest, back) = TcpOption::parse(&out).expect("emitted option parses");
        assert!(rest.is_empty(), "emitted option longer than it says");
        assert_eq!(back, opt, "tcp option round trip");
    }
}

/// UDP: the view with its checksum, and the `Repr` round trip with the payload carried over.
pub fn udp(data: &[u8]) {
    let view = UdpPacket::new_unchecked(data);
    let _ = (
        view.src_port(),
        view.dst_port(),
        view.length(),
        view.checksum(),
    );
    let _ = (view.datagram_len(), view.payload());
    let _ = (view.verify_checksum(&IPS_V4), view.verify_checksum(&IPS_V6));
    let checked = UdpPacket::new_checked(data).is_ok();
    if checked {
        assert!(
            view.datagram_len() <= data.len(),
            "datagram_len past the buffer"
        );
        assert_eq!(view.payload().len(), view.datagram_len() - 8, "payload()");
    }
    rewrite_same(data, checked, |b| {
        let mut p = UdpPacket::new_unchecked(b);
        let (sp, dp, l, ck) = (p.src_port(), p.dst_port(), p.length(), p.checksum());
        p.set_src_port(sp);
        p.set_dst_port(dp);
        p.set_length(l);
        p.set_checksum(ck);
        let _ = p.payload_mut();
    });
    let repr = UdpRepr::parse(&view);
    if !checked {
        assert!(repr.is_err(), "parse accepted what new_checked refused");
    }
    let Ok(repr) = repr else { return };
    if repr.buffer_len() > usize::from(u16::MAX) {
        let mut out = vec![0u8; repr.buffer_len()];
        let r = repr.emit(&mut UdpPacket::new_unchecked(&mut out[..]), &IPS_V4, |_| {});
        assert!(
            matches!(r, Err(Error::Malformed(_))),
            "emit of a jumbogram: {r:?}"
        );
        return;
    }
    for ips in [IPS_V4, IPS_V6] {
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut UdpPacket::new_unchecked(&mut out[..]), &ips, |p| {
            p.copy_from_slice(view.payload())
        })
        .expect("emit a parsed datagram");
        assert_eq!(out[..4], data[..4], "ports");
        let again = UdpPacket::new_checked(&out[..]).expect("emitted datagram checks");
        assert!(again.verify_checksum(&ips), "emitted checksum");
        assert_eq!(again.payload(), view.payload(), "payload");
        assert_eq!(UdpRepr::parse(&again), Ok(repr), "udp round trip");
    }
}

/// ICMPv4: the view with its checksum, and the `Repr` round trip with the data carried over.
pub fn icmpv4(data: &[u8]) {
    let view = Icmpv4Packet::new_unchecked(data);
    let _ = (
        view.msg_type(),
        view.msg_code(),
        view.checksum(),
        view.rest_of_header(),
    );
    let _ = (view.echo_ident(), view.echo_seq_no(), view.next_hop_mtu());
    let _ = (
        view.pointer(),
        view.gateway(),
        view.data(),
        view.verify_checksum(),
    );
    let checked = Icmpv4Packet::new_checked(data).is_ok();
    rewrite_same(data, checked, |b| {
        let mut p = Icmpv4Packet::new_unchecked(b);
        let (ty, code, ck, rest) = (p.msg_type(), p.msg_code(), p.checksum(), p.rest_of_header());
        p.set_msg_type(ty);
        p.set_msg_code(code);
        p.set_checksum(ck);
        p.set_rest_of_header(rest);
        let (id, seq, mtu) = (p.echo_ident(), p.echo_seq_no(), p.next_hop_mtu());
        p.set_echo_ident(id);
        p.set_echo_seq_no(seq);
        p.set_next_hop_mtu(mtu);
        let (ptr, gw) = (p.pointer(), p.gateway());
        p.set_pointer(ptr);
        p.set_gateway(gw);
        let _ = p.data_mut();
    });
    let mut scratch = data.to_vec();
    Icmpv4Packet::new_unchecked(&mut scratch[..]).fill_checksum();
    if checked {
        assert!(
            Icmpv4Packet::new_unchecked(&scratch[..]).verify_checksum(),
            "fill_checksum"
        );
    }
    let repr = Icmpv4Repr::parse(&view);
    if !checked {
        assert!(repr.is_err(), "parse accepted what new_checked refused");
    }
    let Ok(repr) = repr else { return };
    assert_eq!(repr.data_len(), view.data().len(), "data_len");
    assert_eq!(repr.data_range().end, data.len(), "data_range");
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut Icmpv4Packet::new_unchecked(&mut out[..]), |d| {
        d.copy_from_slice(view.data())
    })
    .expect("emit a parsed message");
    assert_eq!(out[..2], data[..2], "type and code");
    let again = Icmpv4Packet::new_checked(&out[..]).expect("emitted message checks");
    assert!(again.verify_checksum(), "emitted checksum");
    assert_eq!(again.data(), view.data(), "data");
    assert_eq!(Icmpv4Repr::parse(&again), Ok(repr), "icmpv4 round trip");
}

/// ICMPv6 with NDP: the view with its checksum, every NDP option through emit and parse, and
/// the `Repr` round trip.
pub fn icmpv6(data: &[u8]) {
    let view = Icmpv6Packet::new_unchecked(data);
    let _ = (
        view.msg_type(),
        view.msg_code(),
        view.checksum(),
        view.rest_of_header(),
    );
    let _ = (
        view.echo_ident(),
        view.echo_seq_no(),
        view.mtu(),
        view.pointer(),
    );
    let _ = (
        view.cur_hop_limit(),
        view.router_flags(),
        view.router_lifetime(),
    );
    let _ = (
        view.neighbor_flags(),
        view.reachable_time(),
        view.retrans_time(),
    );
    let _ = (
        view.target_addr(),
        view.dest_addr(),
        view.data(),
        view.ndp_options(),
    );
    let _ = view.verify_checksum_v6(SRC_V6, DST_V6);
    let checked = Icmpv6Packet::new_checked(data).is_ok();
    rewrite_same(data, checked, |b| {
        let mut p = Icmpv6Packet::new_unchecked(b);
        let (ty, code, ck, rest) = (p.msg_type(), p.msg_code(), p.checksum(), p.rest_of_header());
        p.set_msg_type(ty);
        p.set_msg_code(code);
        p.set_checksum(ck);
        p.set_rest_of_header(rest);
        let (id, seq) = (p.echo_ident(), p.echo_seq_no());
        p.set_echo_ident(id);
        p.set_echo_seq_no(seq);
        let (mtu, ptr) = (p.mtu(), p.pointer());
        p.set_mtu(mtu);
        p.set_pointer(ptr);
        let (hl, rf, rl, nf) = (
            p.cur_hop_limit(),
            p.router_flags(),
            p.router_lifetime(),
            p.neighbor_flags(),
        );
        p.set_cur_hop_limit(hl);
        p.set_router_flags(rf);
        p.set_router_lifetime(rl);
        p.set_neighbor_flags(nf);
        if let Some(v) = p.reachable_time() {
            p.set_reachable_time(v)
                .expect("reachable_time was read, so it can be written");
        }
        if let Some(v) = p.retrans_time() {
            p.set_retrans_time(v)
                .expect("retrans_time was read, so it can be written");
        }
        if let Some(v) = p.target_addr() {
            p.set_target_addr(v)
                .expect("target_addr was read, so it can be written");
        }
        if let Some(v) = p.dest_addr() {
            p.set_dest_addr(v)
                .expect("dest_addr was read, so it can be written");
        }
        let _ = p.data_mut();
        let _ = p.ndp_options_mut();
    });
    let mut scratch = data.to_vec();
    Icmpv6Packet::new_unchecked(&mut scratch[..]).fill_checksum_v6(SRC_V6, DST_V6);
    if checked {
        let p = Icmpv6Packet::new_unchecked(&scratch[..]);
        assert!(p.verify_checksum_v6(SRC_V6, DST_V6), "fill_checksum_v6");
    }
    check_ndp_options(view.ndp_options());
    check_ndp_options(data);

    let repr = Icmpv6Repr::parse(&view);
    if !checked {
        assert!(repr.is_err(), "parse accepted what new_checked refused");
    }
    let Ok(repr) = repr else { return };
    let range = repr.data_range();
    let original = data
        .get(range.clone())
        .expect("data_range within the message");
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(
        &mut Icmpv6Packet::new_unchecked(&mut out[..]),
        SRC_V6,
        DST_V6,
        |d| d.copy_from_slice(original),
    )
    .expect("emit a parsed message");
    assert_eq!(out[..2], data[..2], "type and code");
    let again = Icmpv6Packet::new_checked(&out[..]).expect("emitted message checks");
    assert!(again.verify_checksum_v6(SRC_V6, DST_V6), "emitted checksum");
    assert_eq!(out.get(range), Some(original), "data");
    assert_eq!(Icmpv6Repr::parse(&again), Ok(repr), "icmpv6 round trip");
}

/// NDP options: the iterator ends, errors come last, and each option emits and parses back.
fn check_ndp_options(options: &[u8]) {
    let mut failed = false;
    for (i, opt) in NdpOptionsIter::new(options).enumerate() {
        assert!(i <= options.len(), "option iterator does not end");
        assert!(!failed, "option iterator goes on after an error");
        let opt = match opt {
            Ok(o) => o,
            Err(_) => {
                failed = true;
                continue;
            }
        };
        let mut out = vec![0u8; opt.buffer_len()];
        let n = opt.emit(&mut out).expect("emit a parsed option");
        assert_eq!(n, opt.buffer_len(), "emit wrote other than buffer_len");
        let (rest, back) = NdpOption::parse(&out).expect("emitted option parses");
        assert!(rest.is_empty(), "emitted option longer than it says");
        assert_eq!(back, opt, "ndp option round trip");
    }
}

/// VXLAN: the view and the `Repr` round trip.
pub fn vxlan(data: &[u8]) {
    let view = VxlanHeader::new_unchecked(data);
    let (flags, vni) = (view.flags(), view.vni());
    let _ = (view.reserved0(), view.reserved1(), view.payload());
    assert!(vni <= wire::vxlan::MAX_VNI, "vni above 24 bits");
    let checked = VxlanHeader::new_checked(data).is_ok();
    rewrite_same(data, checked, |b| {
        let mut h = VxlanHeader::new_unchecked(b);
        let (f, r0, v, r1) = (h.flags(), h.reserved0(), h.vni(), h.reserved1());
        h.set_flags(f);
        h.set_reserved0(r0);
        h.set_vni(v);
        h.set_reserved1(r1);
        let _ = h.payload_mut();
    });
    let repr = VxlanRepr::parse(&view);
    if !checked {
        assert!(repr.is_err(), "parse accepted what new_checked refused");
    }
    let Ok(repr) = repr else { return };
    assert_eq!((repr.flags, repr.vni), (flags, vni));
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut VxlanHeader::new_unchecked(&mut out[..]))
        .expect("emit a parsed header");
    let again = VxlanHeader::new_checked(&out[..]).expect("emitted header checks");
    assert_eq!(VxlanRepr::parse(&again), Ok(repr), "vxlan round trip");
}

/// GENEVE: the view, every option through emit and parse, and the `Repr` round trip with the
/// options carried over.
pub fn geneve(data: &[u8]) {
    let view = GeneveHeader::new_unchecked(data);
    let _ = (
        view.version(),
        view.opt_len(),
        view.options_len(),
        view.header_len(),
    );
    let _ = (
        view.oam(),
        view.critical(),
        view.reserved0(),
        view.protocol(),
    );
    let _ = (view.vni(), view.reserved1(), view.options(), view.payload());
    let checked = GeneveHeader::new_checked(data).is_ok();
    if checked {
        assert_eq!(view.options().len(), view.options_len(), "options()");
        assert_eq!(
            view.payload().len(),
            data.len() - view.header_len(),
            "payload()"
        );
    }
    rewrite_same(data, checked, |b| {
        let mut h = GeneveHeader::new_unchecked(b);
        let (v, ol, oam, c) = (h.version(), h.opt_len(), h.oam(), h.critical());
        let (r0, p, vni, r1) = (h.reserved0(), h.protocol(), h.vni(), h.reserved1());
        h.set_version(v);
        h.set_opt_len(ol);
        h.set_oam(oam);
        h.set_critical(c);
        h.set_reserved0(r0);
        h.set_protocol(p);
        h.set_vni(vni);
        h.set_reserved1(r1);
        let _ = h.options_mut();
        let _ = h.payload_mut();
    });
    check_geneve_options(view.options());
    check_geneve_options(data);

    let repr = GeneveRepr::parse(&view);
    if !checked {
        assert!(repr.is_err(), "parse accepted what new_checked refused");
    }
    let Ok(repr) = repr else { return };
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(&mut GeneveHeader::new_unchecked(&mut out[..]), |o| {
        o.copy_from_slice(view.options())
    })
    .expect("emit a parsed header");
    let again = GeneveHeader::new_checked(&out[..]).expect("emitted header checks");
    assert_eq!(again.options(), view.options(), "options");
    assert_eq!(GeneveRepr::parse(&again), Ok(repr), "geneve round trip");
    assert!(
        again.options_iter().eq(view.options_iter()),
        "options read back differently"
    );
}

/// GENEVE options: the iterator ends, errors come last, and each option emits and parses back.
fn check_geneve_options(options: &[u8]) {
    let mut failed = false;
    for (i, opt) in GeneveOptionsIter::new(options).enumerate() {
        assert!(i <= options.len(), "option iterator does not end");
        assert!(!failed, "option iterator goes on after an error");
        let opt = match opt {
            Ok(o) => o,
            Err(_) => {
                failed = true;
                continue;
            }
        };
        let _ = opt.critical();
        let mut out = vec![0u8; opt.buffer_len()];
        let n = opt.emit(&mut out).expect("emit a parsed option");
        assert_eq!(n, opt.buffer_len(), "emit wrote other than buffer_len");
        let (rest, back) = GeneveOption::parse(&out).expect("emitted option parses");
        assert!(rest.is_empty(), "emitted option longer than it says");
        assert_eq!(back, opt, "geneve option round trip");
    }
}

/// Linux cooked headers: SLL and SLL2 views over the same bytes, and both `Repr` round trips.
pub fn sll(data: &[u8]) {
    let v1 = SllHeader::new_unchecked(data);
    let _ = (
        v1.packet_type(),
        v1.arphrd_type(),
        v1.addr_field(),
        v1.protocol(),
    );
    let _ = v1.payload();
    let checked1 = SllHeader::new_checked(data).is_ok();
    if checked1 {
        let want = usize::from(v1.addr_len()).min(wire::sll::ADDR_FIELD_LEN);
        assert_eq!(v1.address().len(), want, "sll address()");
    }
    rewrite_same(data, checked1, |b| {
        let mut h = SllHeader::new_unchecked(b);
        let (pt, at, al, af, p) = (
            h.packet_type(),
            h.arphrd_type(),
            h.addr_len(),
            h.addr_field(),
            h.protocol(),
        );
        h.set_packet_type(pt);
        h.set_arphrd_type(at);
        h.set_addr_len(al);
        h.set_addr_field(af);
        h.set_protocol(p);
        let _ = h.payload_mut();
    });
    match SllRepr::parse(&v1) {
        Ok(repr) => {
            assert!(checked1, "parse accepted what new_checked refused");
            let mut out = vec![0u8; repr.header_len()];
            repr.emit(&mut SllHeader::new_unchecked(&mut out[..]))
                .expect("emit a parsed header");
            assert_eq!(
                out[..],
                data[..repr.header_len()],
                "emitted sll header differs"
            );
            let again = SllHeader::new_checked(&out[..]).expect("emitted header checks");
            assert_eq!(SllRepr::parse(&again), Ok(repr), "sll round trip");
        }
        Err(e) => assert_eq!((checked1, e), (false, Error::Truncated), "sll parse"),
    }

    let v2 = Sll2Header::new_unchecked(data);
    let _ = (
        v2.protocol(),
        v2.reserved(),
        v2.if_index(),
        v2.arphrd_type(),
    );
    let _ = (v2.packet_type(), v2.addr_field(), v2.payload());
    let checked2 = Sll2Header::new_checked(data).is_ok();
    if checked2 {
        let want = usize::from(v2.addr_len()).min(wire::sll::ADDR_FIELD_LEN);
        assert_eq!(v2.address().len(), want, "sll2 address()");
    }
    rewrite_same(data, checked2, |b| {
        let mut h = Sll2Header::new_unchecked(b);
        let (p, r, i, at) = (h.protocol(), h.reserved(), h.if_index(), h.arphrd_type());
        let (pt, al, af) = (h.packet_type(), h.addr_len(), h.addr_field());
        h.set_protocol(p);
        h.set_reserved(r);
        h.set_if_index(i);
        h.set_arphrd_type(at);
        h.set_packet_type(pt);
        h.set_addr_len(al);
        h.set_addr_field(af);
        let _ = h.payload_mut();
    });
    match Sll2Repr::parse(&v2) {
        Ok(repr) => {
            assert!(checked2, "parse accepted what new_checked refused");
            let hl = repr.header_len();
            let mut out = vec![0u8; hl];
            repr.emit(&mut Sll2Header::new_unchecked(&mut out[..]))
                .expect("emit a parsed header");
            // All but the reserved field, which is written as zero.
            assert_eq!(out[..2], data[..2], "emitted sll2 header differs");
            assert_eq!(out[4..hl], data[4..hl], "emitted sll2 header differs");
            let again = Sll2Header::new_checked(&out[..]).expect("emitted header checks");
            assert_eq!(Sll2Repr::parse(&again), Ok(repr), "sll2 round trip");
        }
        Err(e) => assert_eq!((checked2, e), (false, Error::Truncated), "sll2 parse"),
    }
}

/// BSD loopback (NULL and LOOP) and Cisco HDLC headers: the views, the byte-order guess of NULL,
/// and each `Repr` round trip, which gives back the same four bytes.
pub fn loopback_chdlc(data: &[u8]) {
    let lo = LoopbackHeader::new_unchecked(data);
    let _ = (lo.family_field(), lo.payload());
    let checked = LoopbackHeader::new_checked(data).is_ok();
    let (null_family, order) = lo.null_family();
    if checked {
        let field = lo.family_field();
        let read = match order {
            ByteOrder::Little => u32::from_le_bytes(field),
            ByteOrder::Big => u32::from_be_bytes(field),
        };
        assert_eq!(read, null_family, "null family read in the order it names");
        if order == ByteOrder::Big {
            assert_ne!(
                u32::from_le_bytes(field) & 0xffff_0000,
                0,
                "big-endian guessed where little-endian fits 16 bits"
            );
        }
        assert_eq!(lo.loop_family(), u32::from_be_bytes(field), "loop family");
    }
    rewrite_same(data, checked, |b| {
        let mut h = LoopbackHeader::new_unchecked(b);
        h.set_family(h.loop_family(), ByteOrder::Big);
        let _ = h.payload_mut();
    });
    for (name, parsed) in [
        ("null", LoopbackRepr::parse_null(&lo)),
        ("loop", LoopbackRepr::parse_loop(&lo)),
    ] {
        match parsed {
            Ok(repr) => {
                assert!(checked, "{name}: parse accepted what new_checked refused");
                let mut out = vec![0u8; repr.header_len()];
                repr.emit(&mut LoopbackHeader::new_unchecked(&mut out[..]))
                    .expect("emit a parsed header");
                assert_eq!(out[..], data[..4], "emitted {name} header differs");
                let again = LoopbackHeader::new_checked(&out[..]).expect("emitted header checks");
                let back = if name == "null" {
                    LoopbackRepr::parse_null(&again)
                } else {
                    LoopbackRepr::parse_loop(&again)
                };
                assert_eq!(back, Ok(repr), "{name} round trip");
            }
            Err(e) => assert_eq!((checked, e), (false, Error::Truncated), "{name} parse"),
        }
    }

    let h = ChdlcHeader::new_unchecked(data);
    let _ = (h.address(), h.control(), h.protocol(), h.payload());
    let checked = ChdlcHeader::new_checked(data).is_ok();
    rewrite_same(data, checked, |b| {
        let mut h = ChdlcHeader::new_unchecked(b);
        let (a, c, p) = (h.address(), h.control(), h.protocol());
        h.set_address(a);
        h.set_control(c);
        h.set_protocol(p);
        let _ = h.payload_mut();
    });
    match ChdlcRepr::parse(&h) {
        Ok(repr) => {
            assert!(checked, "c_hdlc: parse accepted what new_checked refused");
            let mut out = vec![0u8; repr.header_len()];
            repr.emit(&mut ChdlcHeader::new_unchecked(&mut out[..]))
                .expect("emit a parsed header");
            assert_eq!(out[..], data[..4], "emitted c_hdlc header differs");
            let again = ChdlcHeader::new_checked(&out[..]).expect("emitted header checks");
            assert_eq!(ChdlcRepr::parse(&again), Ok(repr), "c_hdlc round trip");
        }
        Err(e) => assert_eq!((checked, e), (false, Error::Truncated), "c_hdlc parse"),
    }
}

/// Runs `set_each_field_to_itself` over a copy of `data`. On a buffer the checked constructor
/// accepted, writing every field back must leave the bytes as they were (a setter that masks
/// or shifts wrongly shows here); on any other buffer it must merely not panic.
fn rewrite_same(data: &[u8], checked: bool, set_each_field_to_itself: impl FnOnce(&mut [u8])) {
    let mut copy = data.to_vec();
    set_each_field_to_itself(&mut copy);
    if checked {
        assert_eq!(copy, data, "writing fields back changed the bytes");
    }
}

/// The most packets a capture of `len` bytes can hold, plus one: every packet record takes at
/// least 12 bytes (a pcapng Simple Packet Block; a pcap record takes 16).
fn packet_bound(len: usize) -> usize {
    len / 12 + 1
}

/// `capture::CaptureReader` over the bytes as a file: every packet up to the end or the first
/// error, each checked against the reader's promises and walked with `wire::parse_link`.
pub fn capture_reader(data: &[u8]) {
    let Ok(mut reader) = CaptureReader::new(Cursor::new(data)) else {
        return;
    };
    let _ = (reader.format().to_string(), format!("{reader:?}"));
    let mut last: Option<(u64, u64)> = None;
    let mut ended = false;
    for _ in 0..=packet_bound(data.len()) {
        let format = reader.format();
        let interface = match reader.next_packet() {
            Ok(Some(p)) => {
                assert_eq!(p.caplen as usize, p.data.len(), "caplen is not data.len()");
                let _ = (p.is_cut(), p.timestamp.to_string(), p.timestamp.as_nanos());
                let _ = p.timestamp.fmt_nanos().to_string();
                assert!(
                    p.timestamp.nanos < 1_000_000_000,
                    "nanos {}",
                    p.timestamp.nanos
                );
                assert!(
                    (p.offset as usize) < data.len(),
                    "packet offset past the file"
                );
                if let Some((number, offset)) = last {
                    assert_eq!(p.number, number + 1, "packet numbers skip");
                    assert!(p.offset > offset, "packet offsets do not increase");
                } else {
                    assert_eq!(p.number, 1, "first packet number");
                }
                if matches!(format, CaptureFormat::Pcap { .. }) {
                    assert_eq!(p.interface, 0, "pcap interface");
                }
                last = Some((p.number, p.offset));
                let (frame, link) = (p.data, p.link);
                check_parsed(frame, link, &wire::parse_link(frame, link));
                p.interface
            }
            Ok(None) => {
                ended = true;
                break;
            }
            Err(e) => {
                check_capture_error(&e);
                ended = true;
                break;
            }
        };
        let known = reader.interfaces().len();
        assert!(
            (interface as usize) < known,
            "packet on interface {interface} of {known}"
        );
        assert!(reader.offset() <= data.len() as u64, "offset past the file");
    }
    assert!(
        ended,
        "more packets than a {}-byte file can hold",
        data.len()
    );
    assert!(
        matches!(reader.next_packet(), Ok(None)),
        "the reader goes on after its end or error"
    );
    assert!(
        reader.bytes_read() <= data.len() as u64,
        "bytes_read past the file"
    );
    buffered_walk_agrees(data);
}

/// Serves a byte slice at most `chunk` bytes per read, so that records straddle the reader's
/// buffer fills.
struct Chunked<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl std::io::Read for Chunked<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.chunk.min(out.len()).min(self.data.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// A packet as compared between the two walks.
type Seen = (u64, u64, u32, u32, i64, u32, u32, LinkType, Vec<u8>);

fn seen(p: &capture::Packet<'_>) -> Seen {
    (
        p.number,
        p.offset,
        p.caplen,
        p.orig_len,
        p.timestamp.secs,
        p.timestamp.nanos,
        p.interface,
        p.link,
        p.data.to_vec(),
    )
}

/// The bytes read packet by packet, and again taking whatever lies whole in the buffer with
/// `next_buffered` (bursts of 1 to 5, reads cut to a size taken from the data) and the rest
/// with `next_packet`: the same packets, then the same end or error.
fn buffered_walk_agrees(data: &[u8]) {
    let chunk = 1 + usize::from(data.last().copied().unwrap_or(0)) * 131;
    let plain = CaptureReader::new(Cursor::new(data));
    let fast = CaptureReader::new(Chunked { data, chunk });
    let (mut plain, mut fast) = match (plain, fast) {
        (Ok(p), Ok(f)) => (p, f),
        (Err(a), Err(b)) => {
            assert_eq!(a.to_string(), b.to_string(), "header errors differ");
            return;
        }
        (a, b) => panic!("one header read failed: {:?} / {:?}", a.err(), b.err()),
    };
    let end = |r: Result<Option<capture::Packet<'_>>, CaptureError>| match r {
        Ok(_) => None,
        Err(e) => Some((e.record(), e.offset(), e.to_string())),
    };
    let (mut want, mut got) = (Vec::new(), Vec::new());
    let want_end = loop {
        match plain.next_packet() {
            Ok(Some(p)) => want.push(seen(&p)),
            other => break end(other),
        }
        assert!(want.len() <= packet_bound(data.len()), "too many packets");
    };
    let mut burst = 0usize;
    let got_end = loop {
        burst += 1;
        let took = fast.next_buffered(1 + burst % 5, |p, at| {
            assert_eq!(p.data.len(), p.caplen as usize);
            let _ = at;
            got.push(seen(p));
        });
        if took == 0 {
            match fast.next_packet() {
                Ok(Some(p)) => got.push(seen(&p)),
                other => break end(other),
            }
        }
        assert!(got.len() <= packet_bound(data.len()), "too many packets");
    };
    assert_eq!(want.len(), got.len(), "packet counts differ");
    assert!(want == got, "packets differ");
    assert_eq!(want_end, got_end, "ends differ");
}

/// An error names its record and offset sensibly and prints.
fn check_capture_error(e: &CaptureError) {
    let _ = (e.to_string(), format!("{e:?}"), e.record(), e.offset());
    let mut source = std::error::Error::source(e);
    for _ in 0..8 {
        let Some(s) = source else { break };
        let _ = s.to_string();
        source = s.source();
    }
}

/// One packet as read, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Owned {
    link: LinkType,
    timestamp: Timestamp,
    orig_len: u32,
    data: Vec<u8>,
}

/// Reads every packet of `data` up to its end or first error.
fn read_all(data: &[u8]) -> Option<(CaptureFormat, Vec<Owned>)> {
    let mut reader = CaptureReader::new(Cursor::new(data)).ok()?;
    let format = reader.format();
    let mut packets = Vec::new();
    for _ in 0..=packet_bound(data.len()) {
        match reader.next_packet() {
            Ok(Some(p)) => packets.push(Owned {
                link: p.link,
                timestamp: p.timestamp,
                orig_len: p.orig_len,
                data: p.data.to_vec(),
            }),
            Ok(None) | Err(_) => return Some((format, packets)),
        }
    }
    panic!("more packets than a {}-byte file can hold", data.len());
}

/// Reads a capture, writes what it read with `PcapNgWriter` (and, for a pcap input,
/// `PcapWriter` in the same variant), and reads that back: the packets must come back the same.
pub fn capture_roundtrip(data: &[u8]) {
    let Some((format, packets)) = read_all(data) else {
        return;
    };
    for big_endian in [false, true] {
        let mut w = PcapNgWriter::with_byte_order(Vec::new(), big_endian).expect("to a Vec");
        let mut ids: Vec<LinkType> = Vec::new();
        let mut written = Vec::new();
        for p in &packets {
            let id = match ids.iter().position(|&l| l == p.link) {
                Some(i) => i,
                None => {
                    w.add_interface(p.link, 0, Some("fuzz"))
                        .expect("add interface");
                    ids.push(p.link);
                    ids.len() - 1
                }
            };
            let id = u32::try_from(id).expect("at most four link types");
            // A time before 1970 or past 2^64 ns cannot be written: the writer refuses it
            // before writing anything.
            if w.write_packet(id, p.timestamp, p.orig_len, &p.data).is_ok() {
                written.push(p.clone());
            }
        }
        let file = w.into_inner();
        let (f, back) = read_all(&file).expect("written pcapng opens");
        assert_eq!(f, CaptureFormat::PcapNg);
        assert_eq!(
            back, written,
            "pcapng round trip (big endian: {big_endian})"
        );
    }
    if let CaptureFormat::Pcap { nanos, big_endian } = format {
        let Some(link) = packets.first().map(|p| p.link) else {
            return;
        };
        let mut w = PcapWriter::with_byte_order(Vec::new(), link, MAX_CAPLEN, nanos, big_endian)
            .expect("to a Vec");
        let mut written = Vec::new();
        for p in &packets {
            // Seconds beyond 32 bits (a fraction that carried) cannot be written.
            if w.write_packet(p.timestamp, p.orig_len, &p.data).is_ok() {
                written.push(p.clone());
            }
        }
        let file = w.into_inner();
        let (f, back) = read_all(&file).expect("written pcap opens");
        assert_eq!(f, format, "pcap variant");
        assert_eq!(back, written, "pcap round trip");
    }
}

/// `flow::FlowKey::from_frame` on `data[2..]` arriving on port `data[0..2]`: whenever the fast
/// key extraction gives a key, it must be the key and TCP flags of the full parse
/// (`FlowKey::extract` over `wire::parse_packet`); it must decline only what it documents, so
/// every plain Ethernet/IPv4 (no options)/TCP frame must take the fast way.
pub fn flow_key(data: &[u8]) {
    let Some((port, frame)) = data.split_first_chunk::<2>() else {
        return;
    };
    let port = u16::from_be_bytes(*port);
    let p = wire::parse_packet(frame);
    // The plain-IPv4 reading the datapath runs first: the full parse's key whenever it
    // gives one.
    if let Some((key, flags)) = flow::FlowKey::from_plain_ipv4_frame(port, frame) {
        assert_eq!(
            key,
            flow::FlowKey::extract(port, frame, &p),
            "plain IPv4 key of {frame:02x?}"
        );
        assert_eq!(flags, p.tcp_flags, "plain IPv4 TCP flags of {frame:02x?}");
    }
    match flow::FlowKey::from_frame(port, frame) {
        Some((key, flags)) => {
            assert_eq!(
                key,
                flow::FlowKey::extract(port, frame, &p),
                "key of {frame:02x?}"
            );
            assert_eq!(flags, p.tcp_flags, "TCP flags of {frame:02x?}");
        }
        None => {
            let plain = p.vlan_count == 0
                && p.l3 == L3::Ipv4
                && frame.get(14) == Some(&0x45)
                && p.ip_len >= 20
                && p.l4 == L4::Tcp
                && p.truncated.is_none();
            assert!(!plain, "a plain IPv4/TCP frame declined: {frame:02x?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_target_survives_empty_and_short_inputs() {
        for (_, target) in TARGETS {
            for len in 0..64 {
                target(&vec![0u8; len]);
                target(&vec![0xffu8; len]);
            }
        }
    }

    #[test]
    fn rewrite_same_catches_a_setter_that_changes_bytes() {
        let caught = std::panic::catch_unwind(|| {
            rewrite_same(&[1, 2, 3], true, |b| b[0] = 9);
        });
        assert!(caught.is_err());
        rewrite_same(&[1, 2, 3], false, |b| b[0] = 9);
    }

    #[test]
    fn check_parsed_catches_a_payload_past_the_frame() {
        let frame = [0u8; 20];
        let mut p = wire::parse_packet(&frame);
        check_parsed(&frame, LinkType::Ethernet, &p);
        p.payload_offset = 18;
        p.payload_len = 4;
        let caught = std::panic::catch_unwind(|| check_parsed(&frame, LinkType::Ethernet, &p));
        assert!(caught.is_err());
    }
}
