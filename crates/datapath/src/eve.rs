//! The datapath's EVE JSON records: a `drop` event per dropped packet (headers taken from the
//! frame as it was when dropped) and the `stats` event with every pipeline counter.
//!
//! Built only for dropped packets and once for stats, never on the forwarding path.

use std::borrow::Cow;
use std::net::IpAddr;
use std::time::Duration;

use conn::ConnRecord;
use engine::{AlertRecord, Alerts};
use events::{
    AlertAction, AlertEvent, DropEvent, DropIp, DropIpv4, DropIpv6, DropTcp, DropTransport,
    Endpoints, EveEvent, IcmpTypeCode, PKT_SRC_WIRE, StatsEvent, Timestamp,
};
use wire::{L3, L4, ParsedPacket};

use crate::counters::DatapathCounters;
use crate::learn::LearnCounters;
use crate::pipeline::AlertNotice;
use crate::slowpath::SlowPathCounters;

/// Converts pipeline time (ns since the epoch) to an EVE timestamp.
pub fn timestamp(time_ns: u64) -> Timestamp {
    Timestamp::new(
        (time_ns / 1_000_000_000) as i64,
        (time_ns % 1_000_000_000) as u32,
    )
}

fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[x, y]) => u16::from_be_bytes([x, y]),
        _ => 0,
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(&[a, c, d, e]) => u32::from_be_bytes([a, c, d, e]),
        _ => 0,
    }
}

/// A `drop` event for a packet, with Suricata's `drop` fields filled from its headers.
pub fn drop_event(
    time_ns: u64,
    in_iface: Option<String>,
    frame: &[u8],
    p: &ParsedPacket,
    reason: &str,
) -> EveEvent<'static> {
    let l3 = usize::from(p.l3_offset);
    let l4 = usize::from(p.l4_offset);
    let mut body = DropEvent {
        ip: None,
        transport: None,
        reason: Some(Cow::Owned(reason.to_string())),
    };
    let addrs: Option<(IpAddr, IpAddr)> = match p.l3 {
        L3::Ipv4 => p.ipv4_addrs(frame).map(|(s, d)| {
            body.ip = Some(DropIp::V4(DropIpv4 {
                len: be16(frame, l3 + 2),
                tos: frame.get(l3 + 1).copied().unwrap_or(0),
                ttl: p.ttl,
                ipid: be16(frame, l3 + 4),
            }));
            (IpAddr::from(s), IpAddr::from(d))
        }),
        L3::Ipv6 => p.ipv6_addrs(frame).map(|(s, d)| {
            let w = be32(frame, l3);
            body.ip = Some(DropIp::V6(DropIpv6 {
                len: be16(frame, l3 + 4),
                tc: ((w >> 20) & 0xff) as u8,
                hoplimit: p.ttl,
                flowlbl: w & 0x000f_ffff,
            }));
            (IpAddr::from(s), IpAddr::from(d))
        }),
        _ => None,
    };
    let header_whole = p.truncated.is_none_or(|l| l == wire::Layer::Payload);
    body.transport = match p.l4 {
        L4::Tcp if header_whole => Some(DropTransport::Tcp(DropTcp::from_header(
            be32(frame, l4 + 4),
            be32(frame, l4 + 8),
            be16(frame, l4 + 14),
            p.tcp_flags as u8,
            frame.get(l4 + 12).map_or(0, |b| b & 0x0f),
            be16(frame, l4 + 18),
        ))),
        L4::Udp if header_whole => Some(DropTransport::Udp {
            udplen: be16(frame, l4 + 4),
        }),
        L4::Icmpv4 | L4::Icmpv6 if header_whole && matches!(p.src_port, 0 | 8 | 128 | 129) => {
            Some(DropTransport::Icmp {
                icmp_id: be16(frame, l4 + 4),
                icmp_seq: be16(frame, l4 + 6),
            })
        }
        _ => None,
    };
    let mut ev = EveEvent::new(timestamp(time_ns), body);
    ev.in_iface = in_iface.map(Cow::Owned);
    ev.pkt_src = Some(Cow::Borrowed(PKT_SRC_WIRE));
    let vlans: Vec<u16> = p.vlans[..usize::from(p.vlan_count)]
        .iter()
        .map(|v| v.vid())
        .collect();
    ev.vlan = Cow::Owned(vlans);
    if let Some((s, d)) = addrs {
        let ports = matches!(p.l4, L4::Tcp | L4::Udp);
        let (sp, dp) = if ports {
            (p.src_port, p.dst_port)
        } else {
            (0, 0)
        };
        ev.endpoints = Some(Endpoints::new(s, sp, d, dp, p.ip_proto));
        if matches!(p.l4, L4::Icmpv4 | L4::Icmpv6) {
            ev.icmp = Some(IcmpTypeCode {
                icmp_type: p.src_port as u8,
                icmp_code: p.dst_port as u8,
            });
        }
    }
    ev
}

/// The header fields an event about a packet takes from its headers: the 5-tuple (and ICMP
/// type and code) and the wire VLAN tags.
fn packet_header(ev: &mut EveEvent<'_>, frame: &[u8], p: &ParsedPacket) {
    let vlans: Vec<u16> = p.vlans[..usize::from(p.vlan_count)]
        .iter()
        .map(|v| v.vid())
        .collect();
    ev.vlan = Cow::Owned(vlans);
    let addrs: Option<(IpAddr, IpAddr)> = match p.l3 {
        L3::Ipv4 => p
            .ipv4_addrs(frame)
            .map(|(s, d)| (IpAddr::from(s), IpAddr::from(d))),
        L3::Ipv6 => p
            .ipv6_addrs(frame)
            .map(|(s, d)| (IpAddr::from(s), IpAddr::from(d))),
        _ => None,
    };
    if let Some((s, d)) = addrs {
        let ports = matches!(p.l4, L4::Tcp | L4::Udp);
        let (sp, dp) = if ports {
            (p.src_port, p.dst_port)
        } else {
            (0, 0)
        };
        ev.endpoints = Some(Endpoints::new(s, sp, d, dp, p.ip_proto));
        if matches!(p.l4, L4::Icmpv4 | L4::Icmpv6) {
            ev.icmp = Some(IcmpTypeCode {
                icmp_type: p.src_port as u8,
                icmp_code: p.dst_port as u8,
            });
        }
    }
}

/// Writes an `alert` event line (JSON and newline) for an engine's alert on a packet:
/// Suricata's header (timestamp, flow_id, in_iface, the packet's 5-tuple, pkt_src,
/// app_proto), the `alert` object, `pcap_cnt` (the capture record number) and the members the
/// engine added (the transaction's `http`, `dns` or `tls` object).
pub fn alert_line(
    n: &AlertNotice<'_>,
    in_iface: Option<String>,
    out: &mut Vec<u8>,
) -> std::io::Result<()> {
    let a = n.alert;
    let body = AlertEvent {
        action: if a.blocked {
            AlertAction::Blocked
        } else {
            AlertAction::Allowed
        },
        gid: a.gid,
        signature_id: a.sid,
        rev: a.rev,
        signature: Cow::Borrowed(n.alerts.msg(a)),
        category: Cow::Borrowed(n.alerts.class(a)),
        severity: a.severity,
    };
    let mut ev = EveEvent::new(timestamp(n.time_ns), body);
    ev.flow_id = n.conn.map(|c| c.flow_id);
    ev.in_iface = in_iface.map(Cow::Owned);
    ev.pkt_src = Some(Cow::Borrowed(PKT_SRC_WIRE));
    ev.app_proto = n.app_proto.map(Cow::Borrowed);
    packet_header(&mut ev, n.frame, n.parsed);
    write_with_members(&ev, n.number, n.alerts.extra(a), out)
}

/// Writes an `alert` event line for an alert an engine raised about a whole connection as it
/// ended (no packet: the connection's endpoints, as its flow record has them).
pub fn conn_alert_line(
    rec: &ConnRecord,
    alerts: &Alerts,
    a: &AlertRecord,
    out: &mut Vec<u8>,
) -> std::io::Result<()> {
    let body = AlertEvent {
        action: if a.blocked {
            AlertAction::Blocked
        } else {
            AlertAction::Allowed
        },
        gid: a.gid,
        signature_id: a.sid,
        rev: a.rev,
        signature: Cow::Borrowed(alerts.msg(a)),
        category: Cow::Borrowed(alerts.class(a)),
        severity: a.severity,
    };
    let mut ev = EveEvent::new(timestamp(rec.end_ns), body);
    ev.flow_id = Some(rec.flow_id);
    ev.endpoints = Some(Endpoints::new(
        rec.src_ip,
        rec.src_port,
        rec.dest_ip,
        rec.dest_port,
        rec.proto,
    ));
    ev.app_proto = rec.app_proto.map(Cow::Borrowed);
    write_with_members(&ev, 0, alerts.extra(a), out)
}

/// Serializes `ev` and adds `pcap_cnt` (when not 0) and `extra` members before its last brace.
fn write_with_members(
    ev: &EveEvent<'_>,
    pcap_cnt: u64,
    extra: &str,
    out: &mut Vec<u8>,
) -> std::io::Result<()> {
    let start = out.len();
    serde_json::to_writer(&mut *out, ev).map_err(std::io::Error::from)?;
    if out.last() == Some(&b'}') {
        out.pop();
        if pcap_cnt != 0 {
            use std::io::Write;
            write!(out, ",\"pcap_cnt\":{pcap_cnt}")?;
        }
        if !extra.is_empty() {
            out.push(b',');
            out.extend_from_slice(extra.as_bytes());
        }
        out.push(b'}');
    } else {
        out.truncate(start);
        return Err(std::io::Error::other("an event is not a JSON object"));
    }
    out.push(b'\n');
    Ok(())
}

/// Writes a connection's `flow` event line.
pub fn flow_line(rec: &ConnRecord, out: &mut Vec<u8>) -> std::io::Result<()> {
    let mut ev = rec.to_eve();
    // The bridge-internal VLAN the connection was tracked under (the wire tag on trunks).
    if rec.vlan != 0 {
        ev.vlan = Cow::Owned(vec![rec.vlan]);
    }
    serde_json::to_writer(&mut *out, &ev).map_err(std::io::Error::from)?;
    out.push(b'\n');
    Ok(())
}

/// The `stats` event: Suricata's `decoder` and `flow` sections where they apply, and every
/// datapath counter under `rampart.datapath` (drops under `rampart.datapath.drops.<reason>`).
pub fn stats_event(
    time_ns: u64,
    uptime: Duration,
    c: &DatapathCounters,
    s: &SlowPathCounters,
    l: &LearnCounters,
    flows_active: usize,
) -> EveEvent<'static> {
    let mut st = StatsEvent::new(uptime.as_secs());
    let mut set = |path: &str, v: u64| {
        // Paths are built from fixed names here, never empty.
        let _ = st.set(path, v);
    };
    set("decoder.pkts", c.rx_packets);
    set("decoder.bytes", c.rx_bytes);
    set(
        "decoder.invalid",
        c.drops_for(crate::counters::DropReason::Malformed),
    );
    set("flow.active", flows_active as u64);
    for (k, v) in c.named() {
        set(&format!("rampart.datapath.{k}"), v);
    }
    for (name, n) in c.drop_table() {
        // Engine reasons contain ':' (stage:engine:code); keep them as one path component.
        set(
            &format!("rampart.datapath.drops.{}", name.replace('.', "_")),
            n,
        );
    }
    for (k, v) in [
        ("upcalls", s.upcalls),
        ("upcalls_refused", s.upcalls_refused),
        ("unicast", s.unicast),
        ("flooded", s.flooded),
        ("dropped", s.dropped),
    ] {
        set(&format!("rampart.slow_path.{k}"), v);
    }
    for (k, v) in [
        ("macs_learnt", l.macs_learnt),
        ("station_moves", l.station_moves),
        ("macs_forgotten", l.macs_forgotten),
    ] {
        set(&format!("rampart.learning.{k}"), v);
    }
    EveEvent::new(timestamp(time_ns), st)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    #[test]
    fn drop_event_has_suricata_fields() {
        let mut f = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .single_vlan(etherparse::VlanId::try_new(10).unwrap())
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 61)
            .tcp(40000, 22, 7, 512)
            .syn()
            .write(&mut f, &[])
            .unwrap();
        let p = wire::parse_packet(&f);
        let ev = drop_event(
            1_700_000_000_000_001_000,
            Some("vm1".into()),
            &f,
            &p,
            "upcall-meter",
        );
        let mut w = events::EveWriter::new(Vec::new());
        w.write(&ev).unwrap();
        let line = String::from_utf8(w.into_inner().unwrap()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["event_type"], "drop");
        assert_eq!(v["in_iface"], "vm1");
        assert_eq!(v["src_ip"], "10.0.0.1");
        assert_eq!(v["dest_port"], 22);
        assert_eq!(v["proto"], "TCP");
        assert_eq!(v["vlan"][0], 10);
        assert_eq!(v["drop"]["syn"], true);
        assert_eq!(v["drop"]["ttl"], 61);
        assert_eq!(v["drop"]["tcpseq"], 7);
        assert_eq!(v["drop"]["reason"], "upcall-meter");
        assert!(
            v["timestamp"]
                .as_str()
                .unwrap()
                .starts_with("2023-11-14T22:13:20.000001")
        );
    }

    #[test]
    fn drop_event_of_garbage_is_still_an_event() {
        for n in 0..60 {
            let f: Vec<u8> = (0..n).map(|i| (i * 7) as u8).collect();
            let p = wire::parse_packet(&f);
            let ev = drop_event(0, None, &f, &p, "malformed");
            assert_eq!(ev.event_type(), "drop");
        }
    }
}
