//! The JSON-lines form of a packet: one object per line, every key always present (`null` or
//! `[]` when a layer is absent), keys in a fixed order. The schema is in the crate documentation.
//!
//! Written straight into the line buffer: no `serde_json::Value`, no allocation per packet, no
//! panic. Every string written is ASCII from fixed tables or formatted numbers and addresses, so
//! no escaping is needed.

use std::ops::Range;

use wire::chdlc::ChdlcHeader;
use wire::loopback::LoopbackHeader;
use wire::{Anomalies, Fragment, L3, L4, LinkType, ParsedPacket, TunnelKind};

use super::Record;
use super::fields::{self, arr4, arr6, be16};
use super::line::{Line, LineExt};
use super::text::tcp_flags_str;

/// Anomaly bits and their JSON names.
const ANOMALY_NAMES: [(u16, &str); 9] = [
    (Anomalies::VLAN_TOO_DEEP, "vlan_too_deep"),
    (Anomalies::IP_BAD_VERSION, "ip_bad_version"),
    (Anomalies::IPV4_BAD_IHL, "ipv4_bad_ihl"),
    (Anomalies::IP_BAD_LENGTH, "ip_bad_length"),
    (Anomalies::IPV6_BAD_EXT_CHAIN, "ipv6_bad_ext_chain"),
    (Anomalies::TCP_BAD_OFFSET, "tcp_bad_offset"),
    (Anomalies::UDP_BAD_LENGTH, "udp_bad_length"),
    (Anomalies::LLC_FRAME, "llc_frame"),
    (Anomalies::TUNNEL_BAD_HEADER, "tunnel_bad_header"),
];

/// The JSON name of a link type.
pub(crate) fn link_name(link: LinkType) -> &'static str {
    match link {
        LinkType::Ethernet => "ethernet",
        LinkType::RawIp => "raw_ip",
        LinkType::LinuxSll => "linux_sll",
        LinkType::LinuxSll2 => "linux_sll2",
        LinkType::Null => "null",
        LinkType::Loop => "loop",
        LinkType::CiscoHdlc => "c_hdlc",
    }
}

fn str_val(l: &mut Line<'_>, s: &str) {
    l.push(b'"');
    l.s(s);
    l.push(b'"');
}

fn opt_u(l: &mut Line<'_>, v: Option<u64>) {
    match v {
        Some(v) => l.u(v),
        None => l.s("null"),
    }
}

fn opt_b(l: &mut Line<'_>, v: Option<bool>) {
    match v {
        Some(v) => l.b(v),
        None => l.s("null"),
    }
}

/// Appends the JSON object for one packet, newline included; returns where the timestamp is.
pub(crate) fn write(l: &mut Line<'_>, r: &Record<'_>, p: &ParsedPacket) -> Range<usize> {
    let f = r.data;
    l.s("{\"number\":");
    l.u(r.number);
    l.s(",\"ts\":\"");
    let start = l.len();
    l.stamp(r.ts);
    let ts_at = start..l.len();
    l.s("\",\"caplen\":");
    l.u(u64::from(r.caplen));
    l.s(",\"orig_len\":");
    l.u(u64::from(r.orig_len));
    l.s(",\"interface\":");
    l.u(u64::from(r.interface));
    l.s(",\"link\":");
    str_val(l, link_name(r.link));
    l.s(",\"link_header\":");
    link_header(l, r.link, f);

    l.s(",\"eth\":");
    match (p.has_ethernet, arr6(f, 0), arr6(f, 6), be16(f, 12)) {
        (true, Some(dst), Some(src), Some(ty)) => {
            l.s("{\"src\":\"");
            l.mac(&src);
            l.s("\",\"dst\":\"");
            l.mac(&dst);
            l.s("\",\"type\":");
            l.u(u64::from(ty));
            l.push(b'}');
        }
        _ => l.s("null"),
    }

    l.s(",\"vlan\":[");
    for (i, tag) in p.vlans.iter().take(usize::from(p.vlan_count)).enumerate() {
        if i > 0 {
            l.push(b',');
        }
        l.s("{\"id\":");
        l.u(u64::from(tag.vid()));
        l.s(",\"pcp\":");
        l.u(u64::from(tag.pcp()));
        l.s(",\"dei\":");
        l.b(tag.dei());
        l.s(",\"tpid\":");
        l.u(u64::from(tag.tpid));
        l.push(b'}');
    }
    l.s("],\"ethertype\":");
    l.u(u64::from(p.ethertype));

    l.s(",\"arp\":");
    arp(l, p, f);
    l.s(",\"ip\":");
    ip(l, p, f);
    l.s(",\"l4\":");
    l4(l, p, f);

    l.s(",\"payload_len\":");
    l.u(u64::from(p.payload_len));
    l.s(",\"truncated\":");
    match p.truncated {
        Some(layer) => str_val(l, layer.name()),
        None => l.s("null"),
    }
    l.s(",\"tunnel\":");
    match p.tunnel.kind {
        TunnelKind::None => l.s("null"),
        kind => {
            l.s("{\"kind\":");
            str_val(
                l,
                if kind == TunnelKind::Vxlan {
                    "vxlan"
                } else {
                    "geneve"
                },
            );
            l.s(",\"vni\":");
            l.u(u64::from(p.tunnel.vni));
            l.s(",\"inner_offset\":");
            l.u(u64::from(p.tunnel.inner_offset));
            l.push(b'}');
        }
    }
    l.s(",\"anomalies\":[");
    let mut first = true;
    for bit in 0u16..16 {
        let mask = 1u16 << bit;
        if !p.anomalies.contains(mask) {
            continue;
        }
        if !first {
            l.push(b',');
        }
        first = false;
        match ANOMALY_NAMES.iter().find(|(m, _)| *m == mask) {
            Some((_, name)) => str_val(l, name),
            None => {
                l.s("\"anomaly_bit_");
                l.u(u64::from(bit));
                l.push(b'"');
            }
        }
    }
    l.s("]}\n");
    ts_at
}

/// The fields of a BSD loopback or Cisco HDLC header, or `null`.
fn link_header(l: &mut Line<'_>, link: LinkType, f: &[u8]) {
    match link {
        LinkType::Null | LinkType::Loop => match LoopbackHeader::new_checked(f) {
            Ok(h) => {
                l.s("{\"family\":");
                l.u(u64::from(if link == LinkType::Null {
                    h.null_family().0
                } else {
                    h.loop_family()
                }));
                l.push(b'}');
            }
            Err(_) => l.s("null"),
        },
        LinkType::CiscoHdlc => match ChdlcHeader::new_checked(f) {
            Ok(h) => {
                l.s("{\"address\":");
                l.u(u64::from(h.address()));
                l.s(",\"control\":");
                l.u(u64::from(h.control()));
                l.s(",\"protocol\":");
                l.u(u64::from(h.protocol()));
                l.push(b'}');
            }
            Err(_) => l.s("null"),
        },
        LinkType::Ethernet | LinkType::RawIp | LinkType::LinuxSll | LinkType::LinuxSll2 => {
            l.s("null");
        }
    }
}

fn arp(l: &mut Line<'_>, p: &ParsedPacket, f: &[u8]) {
    let o = usize::from(p.l3_offset);
    let Some(op) = be16(f, o + 6).filter(|_| p.l3 == L3::Arp) else {
        l.s("null");
        return;
    };
    l.s("{\"htype\":");
    opt_u(l, be16(f, o).map(u64::from));
    l.s(",\"ptype\":");
    opt_u(l, be16(f, o + 2).map(u64::from));
    l.s(",\"op\":");
    l.u(u64::from(op));
    let eth_ipv4 = (be16(f, o), be16(f, o + 2), f.get(o + 4), f.get(o + 5))
        == (Some(1), Some(0x0800), Some(&6), Some(&4));
    let addrs = (
        arr6(f, o + 8),
        arr4(f, o + 14),
        arr6(f, o + 18),
        arr4(f, o + 24),
    );
    if let (true, (Some(sha), Some(spa), Some(tha), Some(tpa))) = (eth_ipv4, addrs) {
        l.s(",\"sha\":\"");
        l.mac(&sha);
        l.s("\",\"spa\":\"");
        l.ipv4(spa);
        l.s("\",\"tha\":\"");
        l.mac(&tha);
        l.s("\",\"tpa\":\"");
        l.ipv4(tpa);
        l.s("\"}");
    } else {
        l.s(",\"sha\":null,\"spa\":null,\"tha\":null,\"tpa\":null}");
    }
}

fn fragment_name(p: &ParsedPacket) -> &'static str {
    match p.fragment {
        Fragment::No => "no",
        Fragment::First => "first",
        Fragment::Later => "later",
    }
}

fn ip(l: &mut Line<'_>, p: &ParsedPacket, f: &[u8]) {
    if let Some(h) = fields::ipv4(p, f) {
        l.s("{\"version\":4,\"src\":\"");
        l.ipv4(h.src);
        l.s("\",\"dst\":\"");
        l.ipv4(h.dst);
        l.s("\",\"proto\":");
        l.u(u64::from(p.ip_proto));
        l.s(",\"ttl\":");
        l.u(u64::from(p.ttl));
        l.s(",\"len\":");
        l.u(u64::from(h.total_len));
        l.s(",\"hdr_len\":");
        l.u(h.ihl as u64);
        l.s(",\"id\":");
        l.u(u64::from(h.id));
        l.s(",\"df\":");
        l.b(h.df);
        l.s(",\"mf\":");
        l.b(h.mf);
        l.s(",\"frag_offset\":");
        l.u(u64::from(h.frag_offset));
        l.s(",\"fragment\":");
        str_val(l, fragment_name(p));
        l.s(",\"hdr_checksum_ok\":");
        opt_b(l, fields::ipv4_hdr_checksum_ok(&h, p, f));
        l.push(b'}');
    } else if let Some(h) = fields::ipv6(p, f) {
        l.s("{\"version\":6,\"src\":\"");
        l.ipv6(h.src);
        l.s("\",\"dst\":\"");
        l.ipv6(h.dst);
        l.s("\",\"proto\":");
        l.u(u64::from(p.ip_proto));
        l.s(",\"next_header\":");
        l.u(u64::from(h.next_header));
        l.s(",\"ttl\":");
        l.u(u64::from(p.ttl));
        l.s(",\"len\":");
        l.u(u64::from(p.ip_len));
        l.s(",\"payload_len\":");
        l.u(u64::from(h.payload_len));
        l.s(",\"traffic_class\":");
        l.u(u64::from(h.traffic_class));
        l.s(",\"flow_label\":");
        l.u(u64::from(h.flow_label));
        l.s(",\"ext\":[");
        for (i, e) in h.exts().iter().enumerate() {
            if i > 0 {
                l.push(b',');
            }
            str_val(l, e.name());
        }
        l.s("],\"frag_id\":");
        opt_u(l, h.frag.map(|fr| u64::from(fr.id)));
        l.s(",\"mf\":");
        l.b(h.frag.is_some_and(|fr| fr.more));
        l.s(",\"frag_offset\":");
        l.u(h.frag.map_or(0, |fr| u64::from(fr.offset)));
        l.s(",\"fragment\":");
        str_val(l, fragment_name(p));
        l.push(b'}');
    } else {
        l.s("null");
    }
}

fn l4(l: &mut Line<'_>, p: &ParsedPacket, f: &[u8]) {
    let name = match p.l4 {
        L4::None => {
            l.s("null");
            return;
        }
        L4::Tcp => "tcp",
        L4::Udp => "udp",
        L4::Icmpv4 => "icmp",
        L4::Icmpv6 => "icmpv6",
        L4::Other => "other",
    };
    l.s("{\"proto\":");
    str_val(l, name);
    l.s(",\"number\":");
    l.u(u64::from(p.ip_proto));
    let ports = fields::ports(p, f);
    l.s(",\"sport\":");
    opt_u(l, ports.map(|(s, _)| u64::from(s)));
    l.s(",\"dport\":");
    opt_u(l, ports.map(|(_, d)| u64::from(d)));

    l.s(",\"tcp\":");
    match fields::tcp(p, f) {
        Some(t) => {
            l.s("{\"flags\":");
            l.u(u64::from(p.tcp_flags));
            l.s(",\"flags_str\":\"");
            tcp_flags_str(l, p.tcp_flags);
            l.s("\",\"seq\":");
            l.u(u64::from(t.seq));
            l.s(",\"ack\":");
            l.u(u64::from(t.ack));
            l.s(",\"win\":");
            l.u(u64::from(t.win));
            l.s(",\"hdr_len\":");
            l.u(t.hdr_len as u64);
            l.push(b'}');
        }
        None => l.s("null"),
    }
    l.s(",\"udp\":");
    match be16(f, usize::from(p.l4_offset) + 4).filter(|_| p.l4 == L4::Udp) {
        Some(len) => {
            l.s("{\"len\":");
            l.u(u64::from(len));
            l.push(b'}');
        }
        None => l.s("null"),
    }
    l.s(",\"icmp\":");
    match fields::icmp_type_code(p, f) {
        Some((ty, code)) => {
            l.s("{\"type\":");
            l.u(u64::from(ty));
            l.s(",\"code\":");
            l.u(u64::from(code));
            l.push(b'}');
        }
        None => l.s("null"),
    }
    l.s(",\"checksum_ok\":");
    opt_b(l, fields::l4_checksum_ok(p, f));
    l.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::super::line::{Stamp, Stamper};
    use super::super::{Record, format_to_vec};
    use proptest::prelude::*;
    use wire::LinkType;

    /// `-0.750000000`.
    fn stamp() -> Stamp {
        *Stamper::default().render(-1, 250_000_000, 9)
    }

    fn record<'a>(data: &'a [u8], link: LinkType, ts: &'a Stamp) -> Record<'a> {
        Record {
            number: 7,
            ts,
            caplen: data.len() as u32,
            orig_len: data.len() as u32 + 3,
            interface: 2,
            link,
            data,
        }
    }

    #[test]
    fn empty_frame_is_valid_json() {
        let ts = stamp();
        let (l, at) = format_to_vec(&record(&[], LinkType::Ethernet, &ts), true);
        let v: serde_json::Value = serde_json::from_slice(&l).unwrap();
        assert_eq!(v["ts"], "-0.750000000");
        assert_eq!(&l[at], b"-0.750000000");
        assert_eq!(v["truncated"], "link");
        assert_eq!(v["eth"], serde_json::Value::Null);
        assert_eq!(v["interface"], 2);
    }

    #[test]
    fn link_headers_of_loopback_and_hdlc() {
        let ts = stamp();
        let json = |link, data: &[u8]| -> serde_json::Value {
            serde_json::from_slice(&format_to_vec(&record(data, link, &ts), true).0).unwrap()
        };
        let ip = [
            0x45, 0, 0, 20, 0, 0, 0, 0, 64, 59, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        for (link, head, name, header) in [
            (LinkType::Null, [0, 0, 0, 2], "null", r#"{"family":2}"#),
            (LinkType::Loop, [0, 0, 0, 2], "loop", r#"{"family":2}"#),
            (
                LinkType::CiscoHdlc,
                [0x8f, 0, 0x08, 0],
                "c_hdlc",
                r#"{"address":143,"control":0,"protocol":2048}"#,
            ),
        ] {
            let v = json(link, &[&head[..], &ip].concat());
            assert_eq!(v["link"], name);
            assert_eq!(
                v["link_header"],
                serde_json::from_str::<serde_json::Value>(header).unwrap()
            );
            assert_eq!(
                (v["ethertype"].as_u64(), v["ip"]["src"].as_str()),
                (Some(0x0800), Some("10.0.0.1"))
            );
            assert_eq!(v["eth"], serde_json::Value::Null);
            let v = json(link, &head[..3]);
            assert_eq!(
                (&v["link_header"], &v["truncated"]),
                (&serde_json::Value::Null, &serde_json::Value::from("link"))
            );
        }
        let v = json(LinkType::Null, &[7, 0, 0, 0, 0x81]);
        assert_eq!(
            (v["link_header"]["family"].as_u64(), v["ethertype"].as_u64()),
            (Some(7), Some(0))
        );
        assert_eq!(
            json(LinkType::Ethernet, &[0; 60])["link_header"],
            serde_json::Value::Null
        );
    }

    proptest! {
        /// Any bytes on any link type: one line of valid JSON and one line of text, no panic.
        #[test]
        fn any_bytes_give_one_valid_line(
            bytes in proptest::collection::vec(any::<u8>(), 0..300),
            link in prop_oneof![
                Just(LinkType::Ethernet), Just(LinkType::RawIp),
                Just(LinkType::LinuxSll), Just(LinkType::LinuxSll2),
                Just(LinkType::Null), Just(LinkType::Loop), Just(LinkType::CiscoHdlc),
            ],
            ethertype in prop_oneof![Just(0x0800u16), Just(0x86dd), Just(0x8100), Just(0x0806)],
        ) {
            let mut bytes = bytes;
            // Steer most inputs past the link layer.
            let family: u32 = if ethertype == 0x86dd { 28 } else { 2 };
            match link {
                LinkType::Ethernet if bytes.len() >= 14 => {
                    bytes[12..14].copy_from_slice(&ethertype.to_be_bytes());
                }
                LinkType::Null if bytes.len() >= 4 => {
                    bytes[..4].copy_from_slice(&family.to_le_bytes());
                }
                LinkType::Loop if bytes.len() >= 4 => {
                    bytes[..4].copy_from_slice(&family.to_be_bytes());
                }
                LinkType::CiscoHdlc if bytes.len() >= 4 => {
                    bytes[2..4].copy_from_slice(&ethertype.to_be_bytes());
                }
                _ => {}
            }
            let ts = stamp();
            let rec = record(&bytes, link, &ts);
            let (l, _) = format_to_vec(&rec, true);
            prop_assert_eq!(l.iter().filter(|&&b| b == b'\n').count(), 1);
            let v: serde_json::Value = serde_json::from_slice(&l)
                .map_err(|e| TestCaseError::fail(format!("{e}: {}", String::from_utf8_lossy(&l))))?;
            prop_assert!(v.is_object());
            let (l, _) = format_to_vec(&rec, false);
            prop_assert_eq!(l.iter().filter(|&&b| b == b'\n').count(), 1);
            prop_assert!(std::str::from_utf8(&l).is_ok());
        }
    }
}
