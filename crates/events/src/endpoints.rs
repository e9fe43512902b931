//! The addressing fields of an EVE header: `src_ip`, `src_port`, `dest_ip`, `dest_port`, `proto`
//! and `icmp_type`/`icmp_code`, and the IP protocol names Suricata prints in `proto`.
//!
//! Names come from a fixed table (no lookup in `/etc/protocols`, no allocation): Suricata 7's
//! `known_proto`, which holds the IANA keywords for protocols 0–143 (`"TCP"`, `"UDP"`, `"ICMP"`,
//! `"IPv6-ICMP"`, `"SCTP"`, `"GRE"`, …). Protocols 144–255 have no name there and Suricata 7
//! prints the decimal number (`"253"`), so this module does the same. (Suricata's `fast.log`, and
//! EVE in releases before the IANA table, zero-pad unknown numbers to three digits, `"047"`; EVE 7
//! does not.)

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// IANA keyword for each protocol number Suricata 7 names; index = protocol number.
///
/// Five numbers (61, 63, 68, 99, 114) are IANA "any …" placeholders and all print as `"Any"`.
#[rustfmt::skip]
const PROTO_NAMES: [&str; 144] = [
    "HOPOPT", "ICMP", "IGMP", "GGP", "IP-in-IP", "ST", "TCP", "CBT", "EGP", "IGP", // 0-9
    "BBN-RCC-MON", "NVP-II", "PUP", "ARGUS", "EMCON", "XNET", "CHAOS", "UDP", "MUX", "DCN-MEAS", // 10-19
    "HMP", "PRM", "XNS-IDP", "TRUNK-1", "TRUNK-2", "LEAF-1", "LEAF-2", "RDP", "IRTP", "ISO-TP4", // 20-29
    "NETBLT", "MFE-NSP", "MERIT-INP", "DCCP", "3PC", "IDPR", "XTP", "DDP", "IDPR-CMTP", "TP++", // 30-39
    "IL", "IPv6", "SDRP", "IPv6-Route", "IPv6-Frag", "IDRP", "RSVP", "GRE", "DSR", "BNA", // 40-49
    "ESP", "AH", "I-NLSP", "SwIPe", "NARP", "MOBILE", "TLSP", "SKIP", "IPv6-ICMP", "IPv6-NoNxt", // 50-59
    "IPv6-Opts", "Any", "CFTP", "Any", "SAT-EXPAK", "KRYPTOLAN", "RVD", "IPPC", "Any", "SAT-MON", // 60-69
    "VISA", "IPCU", "CPNX", "CPHB", "WSN", "PVP", "BR-SAT-MON", "SUN-ND", "WB-MON", "WB-EXPAK", // 70-79
    "ISO-IP", "VMTP", "SECURE-VMTP", "VINES", "TTP", "NSFNET-IGP", "DGP", "TCF", "EIGRP", "OSPF", // 80-89
    "Sprite-RPC", "LARP", "MTP", "AX.25", "OS", "MICP", "SCC-SP", "ETHERIP", "ENCAP", "Any", // 90-99
    "GMTP", "IFMP", "PNNI", "PIM", "ARIS", "SCPS", "QNX", "A/N", "IPComp", "SNP", // 100-109
    "Compaq-Peer", "IPX-in-IP", "VRRP", "PGM", "Any", "L2TP", "DDX", "IATP", "STP", "SRP", // 110-119
    "UTI", "SMP", "SM", "PTP", "IS-IS", "FIRE", "CRTP", "CRUDP", "SSCOPMCE", "IPLT", // 120-129
    "SPS", "PIPE", "SCTP", "FC", "RSVP-E2E-IGNORE", "Mobility", "UDPLite", "MPLS-in-IP", "manet", "HIP", // 130-139
    "Shim6", "WESP", "ROHC", "Ethernet", // 140-143
];

/// IP protocol number of ICMP.
pub const IPPROTO_ICMP: u8 = 1;
/// IP protocol number of TCP.
pub const IPPROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const IPPROTO_UDP: u8 = 17;
/// IP protocol number of ICMPv6.
pub const IPPROTO_ICMPV6: u8 = 58;
/// IP protocol number of SCTP.
pub const IPPROTO_SCTP: u8 = 132;

/// The name Suricata 7 prints in `proto` for an IP protocol number, or `None` for 144–255, which
/// it prints as the decimal number (see [`EveProto`]).
pub fn eve_proto_name(proto: u8) -> Option<&'static str> {
    PROTO_NAMES.get(usize::from(proto)).copied()
}

/// The protocol number for an EVE `proto` value: a name from Suricata's table (exact case, as
/// Suricata prints it) or a decimal number 0–255 (with or without leading zeros).
///
/// `"Any"` names five reserved numbers; it reads as the first, 61.
pub fn parse_eve_proto(text: &str) -> Option<u8> {
    if let Some(number) = PROTO_NAMES.iter().position(|name| *name == text) {
        return u8::try_from(number).ok();
    }
    if !text.is_empty() && text.len() <= 3 && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    None
}

/// Whether Suricata logs ports for this protocol (TCP, UDP and SCTP); for all others it omits
/// `src_port` and `dest_port`.
pub fn proto_has_ports(proto: u8) -> bool {
    matches!(proto, IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP)
}

/// An IP protocol number that displays, serializes and parses as EVE's `proto` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EveProto(pub u8);

impl fmt::Display for EveProto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match eve_proto_name(self.0) {
            Some(name) => f.write_str(name),
            None => write!(f, "{}", self.0),
        }
    }
}

impl Serialize for EveProto {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match eve_proto_name(self.0) {
            Some(name) => serializer.serialize_str(name),
            None => serializer.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for EveProto {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = EveProto;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an IP protocol name such as \"TCP\" or a number 0-255")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<EveProto, E> {
                parse_eve_proto(v)
                    .map(EveProto)
                    .ok_or_else(|| E::custom(format_args!("unknown IP protocol {v:?}")))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<EveProto, E> {
                u8::try_from(v)
                    .map(EveProto)
                    .map_err(|_| E::custom(format_args!("IP protocol {v} is above 255")))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// The 5-tuple of an event, in the packet's direction (or the flow's, for flow events).
///
/// Serialized as the flat header fields `src_ip`, `src_port`, `dest_ip`, `dest_port`, `proto`;
/// a port that is `None` is omitted. Build with [`Endpoints::new`] to get Suricata's rule (ports
/// only for TCP, UDP and SCTP) from a flow key whose port fields may hold something else, such as
/// the ICMP type and code an OVS-style key keeps there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Endpoints {
    /// Source address.
    pub src_ip: IpAddr,
    /// Source port, `None` for protocols without ports.
    pub src_port: Option<u16>,
    /// Destination address.
    pub dest_ip: IpAddr,
    /// Destination port, `None` for protocols without ports.
    pub dest_port: Option<u16>,
    /// IP protocol number (IPv4 protocol, or IPv6 upper-layer next header).
    pub proto: u8,
}

impl Endpoints {
    /// The 5-tuple from raw values; the ports are kept only if [`proto_has_ports`], as Suricata
    /// does.
    pub fn new(src_ip: IpAddr, src_port: u16, dest_ip: IpAddr, dest_port: u16, proto: u8) -> Self {
        let ports = proto_has_ports(proto);
        Endpoints {
            src_ip,
            src_port: ports.then_some(src_port),
            dest_ip,
            dest_port: ports.then_some(dest_port),
            proto,
        }
    }

    /// The same 5-tuple seen from the other side (source and destination swapped).
    pub fn reversed(&self) -> Self {
        Endpoints {
            src_ip: self.dest_ip,
            src_port: self.dest_port,
            dest_ip: self.src_ip,
            dest_port: self.src_port,
            proto: self.proto,
        }
    }

    /// The `proto` value as EVE prints it.
    pub fn eve_proto(&self) -> EveProto {
        EveProto(self.proto)
    }
}

/// ICMP or ICMPv6 type and code, printed in the header as `icmp_type` and `icmp_code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IcmpTypeCode {
    /// ICMP message type.
    pub icmp_type: u8,
    /// ICMP message code.
    pub icmp_code: u8,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_suricata_7() {
        assert_eq!(eve_proto_name(0), Some("HOPOPT"));
        assert_eq!(eve_proto_name(1), Some("ICMP"));
        assert_eq!(eve_proto_name(4), Some("IP-in-IP"));
        assert_eq!(eve_proto_name(6), Some("TCP"));
        assert_eq!(eve_proto_name(17), Some("UDP"));
        assert_eq!(eve_proto_name(41), Some("IPv6"));
        assert_eq!(eve_proto_name(47), Some("GRE"));
        assert_eq!(eve_proto_name(50), Some("ESP"));
        assert_eq!(eve_proto_name(58), Some("IPv6-ICMP"));
        assert_eq!(eve_proto_name(89), Some("OSPF"));
        assert_eq!(eve_proto_name(103), Some("PIM"));
        assert_eq!(eve_proto_name(112), Some("VRRP"));
        assert_eq!(eve_proto_name(132), Some("SCTP"));
        assert_eq!(eve_proto_name(136), Some("UDPLite"));
        assert_eq!(eve_proto_name(143), Some("Ethernet"));
        assert_eq!(eve_proto_name(144), None);
        assert_eq!(eve_proto_name(255), None);
    }

    #[test]
    fn unnamed_protocols_print_as_plain_decimal() {
        assert_eq!(EveProto(144).to_string(), "144");
        assert_eq!(EveProto(253).to_string(), "253");
        assert_eq!(serde_json::to_string(&EveProto(255)).unwrap(), "\"255\"");
        assert_eq!(
            serde_json::to_string(&EveProto(58)).unwrap(),
            "\"IPv6-ICMP\""
        );
    }

    #[test]
    fn every_number_parses_back_except_the_any_aliases() {
        for n in 0..=255u8 {
            let parsed = parse_eve_proto(&EveProto(n).to_string());
            if eve_proto_name(n) == Some("Any") {
                assert_eq!(parsed, Some(61));
            } else {
                assert_eq!(parsed, Some(n), "{n}");
            }
        }
        assert_eq!(parse_eve_proto("047"), Some(47));
        assert_eq!(parse_eve_proto("tcp"), None);
        assert_eq!(parse_eve_proto("256"), None);
        assert_eq!(parse_eve_proto("0047"), None);
        assert_eq!(parse_eve_proto(""), None);
        assert_eq!(
            serde_json::from_str::<EveProto>("\"UDP\"").unwrap(),
            EveProto(17)
        );
        assert_eq!(serde_json::from_str::<EveProto>("6").unwrap(), EveProto(6));
        assert!(serde_json::from_str::<EveProto>("300").is_err());
        assert!(serde_json::from_str::<EveProto>("\"Tcp\"").is_err());
    }

    #[test]
    fn ports_only_for_port_protocols() {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let tcp = Endpoints::new(a, 1234, b, 80, IPPROTO_TCP);
        assert_eq!((tcp.src_port, tcp.dest_port), (Some(1234), Some(80)));
        let sctp = Endpoints::new(a, 1, b, 2, IPPROTO_SCTP);
        assert_eq!((sctp.src_port, sctp.dest_port), (Some(1), Some(2)));
        let icmp = Endpoints::new(a, 8, b, 0, IPPROTO_ICMP);
        assert_eq!((icmp.src_port, icmp.dest_port), (None, None));
        let gre = Endpoints::new(a, 0, b, 0, 47);
        assert_eq!(gre.src_port, None);
        let back = tcp.reversed();
        assert_eq!(
            (back.src_ip, back.src_port, back.dest_port),
            (b, Some(80), Some(1234))
        );
        assert_eq!(back.eve_proto().to_string(), "TCP");
    }
}
