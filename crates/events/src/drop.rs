//! The body of a `drop` event: Suricata's `drop` object, describing the headers of a packet the
//! engine discarded and why.
//!
//! Field names and order are Suricata 7's (`output-json-drop.c`): IPv4 `len`, `tos`, `ttl`,
//! `ipid` or IPv6 `len`, `tc`, `hoplimit`, `flowlbl`; then TCP `tcpseq` … `tcpurgp`, UDP `udplen`
//! or ICMP `icmp_id`, `icmp_seq`; then `reason`. The reason is a caller's string: this crate knows
//! nothing of any engine's verdict types and must never depend on them. Building a `DropEvent`
//! never allocates when the reason is a `&'static str`.

use std::borrow::Cow;

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Headers of a dropped packet and the reason it was dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DropEvent<'a> {
    /// The IP header's fields, if the packet had one.
    pub ip: Option<DropIp>,
    /// The transport header's fields, if the packet had one the engine decoded.
    pub transport: Option<DropTransport>,
    /// Why it was dropped. Suricata's own reasons are lower-case phrases such as `"rules"`,
    /// `"flow drop"`, `"decode error"`, `"stream error"`; Rampart engines supply theirs.
    pub reason: Option<Cow<'a, str>>,
}

/// The IP header fields of a `drop` object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropIp {
    /// An IPv4 header.
    V4(DropIpv4),
    /// An IPv6 header.
    V6(DropIpv6),
}

/// IPv4 fields of a `drop` object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropIpv4 {
    /// Total length from the header.
    pub len: u16,
    /// Type of service byte (DSCP and ECN).
    pub tos: u8,
    /// Time to live.
    pub ttl: u8,
    /// Identification.
    pub ipid: u16,
}

/// IPv6 fields of a `drop` object.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropIpv6 {
    /// Payload length from the header.
    pub len: u16,
    /// Traffic class.
    pub tc: u8,
    /// Hop limit.
    pub hoplimit: u8,
    /// Flow label (20 bits).
    pub flowlbl: u32,
}

/// The transport header fields of a `drop` object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropTransport {
    /// A TCP header.
    Tcp(DropTcp),
    /// A UDP header: its length field, `udplen`.
    Udp {
        /// Length from the UDP header.
        udplen: u16,
    },
    /// An ICMP echo-style header: `icmp_id` and `icmp_seq`.
    Icmp {
        /// Identifier.
        icmp_id: u16,
        /// Sequence number.
        icmp_seq: u16,
    },
}

/// TCP fields of a `drop` object, named as Suricata names them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropTcp {
    /// Sequence number.
    pub tcpseq: u32,
    /// Acknowledgement number.
    pub tcpack: u32,
    /// Window (unscaled, as on the wire).
    pub tcpwin: u16,
    /// SYN flag.
    pub syn: bool,
    /// ACK flag.
    pub ack: bool,
    /// PSH flag.
    pub psh: bool,
    /// RST flag.
    pub rst: bool,
    /// URG flag.
    pub urg: bool,
    /// FIN flag.
    pub fin: bool,
    /// The four reserved bits after the data offset.
    pub tcpres: u8,
    /// Urgent pointer.
    pub tcpurgp: u16,
}

impl DropTcp {
    /// The fields from header values; `flags` is the TCP flags byte (FIN 0x01, SYN 0x02, RST
    /// 0x04, PSH 0x08, ACK 0x10, URG 0x20; ECE and CWR are not logged by Suricata).
    pub fn from_header(
        seq: u32,
        ack: u32,
        window: u16,
        flags: u8,
        reserved: u8,
        urgent: u16,
    ) -> Self {
        DropTcp {
            tcpseq: seq,
            tcpack: ack,
            tcpwin: window,
            syn: flags & 0x02 != 0,
            ack: flags & 0x10 != 0,
            psh: flags & 0x08 != 0,
            rst: flags & 0x04 != 0,
            urg: flags & 0x20 != 0,
            fin: flags & 0x01 != 0,
            tcpres: reserved,
            tcpurgp: urgent,
        }
    }
}

impl Serialize for DropEvent<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match &self.ip {
            Some(DropIp::V4(v4)) => {
                map.serialize_entry("len", &v4.len)?;
                map.serialize_entry("tos", &v4.tos)?;
                map.serialize_entry("ttl", &v4.ttl)?;
                map.serialize_entry("ipid", &v4.ipid)?;
            }
            Some(DropIp::V6(v6)) => {
                map.serialize_entry("len", &v6.len)?;
                map.serialize_entry("tc", &v6.tc)?;
                map.serialize_entry("hoplimit", &v6.hoplimit)?;
                map.serialize_entry("flowlbl", &v6.flowlbl)?;
            }
            None => {}
        }
        match &self.transport {
            Some(DropTransport::Tcp(tcp)) => {
                map.serialize_entry("tcpseq", &tcp.tcpseq)?;
                map.serialize_entry("tcpack", &tcp.tcpack)?;
                map.serialize_entry("tcpwin", &tcp.tcpwin)?;
                map.serialize_entry("syn", &tcp.syn)?;
                map.serialize_entry("ack", &tcp.ack)?;
                map.serialize_entry("psh", &tcp.psh)?;
                map.serialize_entry("rst", &tcp.rst)?;
                map.serialize_entry("urg", &tcp.urg)?;
                map.serialize_entry("fin", &tcp.fin)?;
                map.serialize_entry("tcpres", &tcp.tcpres)?;
                map.serialize_entry("tcpurgp", &tcp.tcpurgp)?;
            }
            Some(DropTransport::Udp { udplen }) => map.serialize_entry("udplen", udplen)?,
            Some(DropTransport::Icmp { icmp_id, icmp_seq }) => {
                map.serialize_entry("icmp_id", icmp_id)?;
                map.serialize_entry("icmp_seq", icmp_seq)?;
            }
            None => {}
        }
        if let Some(reason) = &self.reason {
            map.serialize_entry("reason", reason)?;
        }
        map.end()
    }
}

/// Every field a `drop` object may carry; sorted into groups by [`DropEvent::deserialize`].
#[derive(Deserialize)]
struct RawDrop<'a> {
    len: Option<u16>,
    tos: Option<u8>,
    ttl: Option<u8>,
    ipid: Option<u16>,
    tc: Option<u8>,
    hoplimit: Option<u8>,
    flowlbl: Option<u32>,
    tcpseq: Option<u32>,
    tcpack: Option<u32>,
    tcpwin: Option<u16>,
    syn: Option<bool>,
    ack: Option<bool>,
    psh: Option<bool>,
    rst: Option<bool>,
    urg: Option<bool>,
    fin: Option<bool>,
    tcpres: Option<u8>,
    tcpurgp: Option<u16>,
    udplen: Option<u16>,
    icmp_id: Option<u16>,
    icmp_seq: Option<u16>,
    reason: Option<Cow<'a, str>>,
}

impl<'de, 'a> Deserialize<'de> for DropEvent<'a> {
    /// Reads a `drop` object. A group of fields (IPv4, IPv6, TCP, …) must be complete or absent:
    /// a partial group is an error that names the first missing field.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let raw = RawDrop::deserialize(deserializer)?;
        let missing = |field: &'static str| D::Error::missing_field(field);

        let ip = if raw.tos.is_some() || raw.ttl.is_some() || raw.ipid.is_some() {
            Some(DropIp::V4(DropIpv4 {
                len: raw.len.ok_or_else(|| missing("len"))?,
                tos: raw.tos.ok_or_else(|| missing("tos"))?,
                ttl: raw.ttl.ok_or_else(|| missing("ttl"))?,
                ipid: raw.ipid.ok_or_else(|| missing("ipid"))?,
            }))
        } else if raw.tc.is_some() || raw.hoplimit.is_some() || raw.flowlbl.is_some() {
            Some(DropIp::V6(DropIpv6 {
                len: raw.len.ok_or_else(|| missing("len"))?,
                tc: raw.tc.ok_or_else(|| missing("tc"))?,
                hoplimit: raw.hoplimit.ok_or_else(|| missing("hoplimit"))?,
                flowlbl: raw.flowlbl.ok_or_else(|| missing("flowlbl"))?,
            }))
        } else if raw.len.is_some() {
            return Err(missing("tos"));
        } else {
            None
        };

        let transport = if raw.tcpseq.is_some() || raw.tcpack.is_some() || raw.tcpwin.is_some() {
            Some(DropTransport::Tcp(DropTcp {
                tcpseq: raw.tcpseq.ok_or_else(|| missing("tcpseq"))?,
                tcpack: raw.tcpack.ok_or_else(|| missing("tcpack"))?,
                tcpwin: raw.tcpwin.ok_or_else(|| missing("tcpwin"))?,
                syn: raw.syn.ok_or_else(|| missing("syn"))?,
                ack: raw.ack.ok_or_else(|| missing("ack"))?,
                psh: raw.psh.ok_or_else(|| missing("psh"))?,
                rst: raw.rst.ok_or_else(|| missing("rst"))?,
                urg: raw.urg.ok_or_else(|| missing("urg"))?,
                fin: raw.fin.ok_or_else(|| missing("fin"))?,
                tcpres: raw.tcpres.ok_or_else(|| missing("tcpres"))?,
                tcpurgp: raw.tcpurgp.ok_or_else(|| missing("tcpurgp"))?,
            }))
        } else if let Some(udplen) = raw.udplen {
            Some(DropTransport::Udp { udplen })
        } else if raw.icmp_id.is_some() || raw.icmp_seq.is_some() {
            Some(DropTransport::Icmp {
                icmp_id: raw.icmp_id.ok_or_else(|| missing("icmp_id"))?,
                icmp_seq: raw.icmp_seq.ok_or_else(|| missing("icmp_seq"))?,
            })
        } else {
            None
        };

        Ok(DropEvent {
            ip,
            transport,
            reason: raw.reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_byte_maps_to_suricata_flags() {
        let syn_ack = DropTcp::from_header(1, 2, 3, 0x12, 0, 0);
        assert!(syn_ack.syn && syn_ack.ack);
        assert!(!(syn_ack.fin || syn_ack.rst || syn_ack.psh || syn_ack.urg));
        let all = DropTcp::from_header(0, 0, 0, 0x3f, 0xf, 9);
        assert!(all.syn && all.ack && all.fin && all.rst && all.psh && all.urg);
        assert_eq!((all.tcpres, all.tcpurgp), (0xf, 9));
        let ece_cwr = DropTcp::from_header(0, 0, 0, 0xc0, 0, 0);
        assert_eq!(ece_cwr, DropTcp::default());
    }

    #[test]
    fn ipv6_udp_drop_serializes_in_suricata_order() {
        let event = DropEvent {
            ip: Some(DropIp::V6(DropIpv6 {
                len: 40,
                tc: 0,
                hoplimit: 64,
                flowlbl: 0xabcde,
            })),
            transport: Some(DropTransport::Udp { udplen: 40 }),
            reason: Some(Cow::Borrowed("flow drop")),
        };
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(
            json,
            r#"{"len":40,"tc":0,"hoplimit":64,"flowlbl":703710,"udplen":40,"reason":"flow drop"}"#
        );
        assert_eq!(serde_json::from_str::<DropEvent<'_>>(&json).unwrap(), event);
    }

    #[test]
    fn icmp_and_empty_drops_round_trip() {
        let icmp = DropEvent {
            ip: Some(DropIp::V4(DropIpv4 {
                len: 84,
                tos: 0,
                ttl: 1,
                ipid: 7,
            })),
            transport: Some(DropTransport::Icmp {
                icmp_id: 99,
                icmp_seq: 3,
            }),
            reason: None,
        };
        let json = serde_json::to_string(&icmp).unwrap();
        assert_eq!(
            json,
            r#"{"len":84,"tos":0,"ttl":1,"ipid":7,"icmp_id":99,"icmp_seq":3}"#
        );
        assert_eq!(serde_json::from_str::<DropEvent<'_>>(&json).unwrap(), icmp);

        let empty = DropEvent::default();
        assert_eq!(serde_json::to_string(&empty).unwrap(), "{}");
        assert_eq!(serde_json::from_str::<DropEvent<'_>>("{}").unwrap(), empty);
    }

    #[test]
    fn partial_groups_are_refused() {
        let err =
            serde_json::from_str::<DropEvent<'_>>(r#"{"len":1,"tos":0,"ttl":1}"#).unwrap_err();
        assert!(err.to_string().contains("ipid"), "{err}");
        let err = serde_json::from_str::<DropEvent<'_>>(r#"{"len":1}"#).unwrap_err();
        assert!(err.to_string().contains("tos"), "{err}");
        let err = serde_json::from_str::<DropEvent<'_>>(r#"{"tcpseq":1,"tcpack":2}"#).unwrap_err();
        assert!(err.to_string().contains("tcpwin"), "{err}");
        let err = serde_json::from_str::<DropEvent<'_>>(r#"{"icmp_seq":1}"#).unwrap_err();
        assert!(err.to_string().contains("icmp_id"), "{err}");
        assert!(serde_json::from_str::<DropEvent<'_>>(r#"{"ttl":300}"#).is_err());
    }
}
