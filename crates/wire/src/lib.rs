//! Packet formats for Rampart.
//!
//! Two levels per protocol, in the manner of smoltcp's `wire` module:
//!
//! * a zero-copy **view** over bytes (`EthernetFrame<T>`, `Ipv4Packet<T>`, ...) whose
//!   `new_checked` validates the length once, after which no accessor can panic;
//! * a small typed **`Repr`** (`EthernetRepr`, `Ipv4Repr`, ...) with `parse(&view)` and
//!   `emit(&self, &mut view)`; emission writes every field and never trusts a reused buffer.
//!
//! [`parse_packet`] walks every layer of a frame once and records the offset of each header and
//! of the L4 payload in a [`ParsedPacket`], so later stages (flow key, inspection, rewrite) never
//! parse again. [`checksum`] holds the full and incremental (RFC 1624) Internet checksums.
//!
//! This crate must never allocate per packet, do I/O, or panic on any input.
//!
//! ```
//! use wire::{parse_packet, L3, L4};
//! // Ethernet + IPv4 + UDP 10.0.0.1:1000 -> 10.0.0.2:53, 4 bytes of payload.
//! let mut f = vec![0u8; 14 + 20 + 8 + 4];
//! f[12..14].copy_from_slice(&[0x08, 0x00]);
//! f[14] = 0x45;
//! f[16..18].copy_from_slice(&(20u16 + 8 + 4).to_be_bytes());
//! f[22] = 64;
//! f[23] = 17;
//! f[26..30].copy_from_slice(&[10, 0, 0, 1]);
//! f[30..34].copy_from_slice(&[10, 0, 0, 2]);
//! f[34..36].copy_from_slice(&1000u16.to_be_bytes());
//! f[36..38].copy_from_slice(&53u16.to_be_bytes());
//! f[38..40].copy_from_slice(&12u16.to_be_bytes());
//! let p = parse_packet(&f);
//! assert_eq!((p.l3, p.l4, p.src_port, p.dst_port), (L3::Ipv4, L4::Udp, 1000, 53));
//! assert_eq!((p.payload_offset, p.payload_len), (42, 4));
//! ```
#![forbid(unsafe_code)]

pub mod arp;
pub(crate) mod bytes;
pub mod chdlc;
pub mod checksum;
pub mod ethernet;
pub mod geneve;
pub mod icmpv4;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod loopback;
pub mod packet;
pub mod sll;
pub mod tcp;
pub mod udp;
pub mod vlan;
pub mod vxlan;

pub use packet::{
    Anomalies, Fragment, L3, L4, Layer, LinkType, ParsedPacket, Tunnel, TunnelKind, VlanTag,
    parse_link, parse_packet,
};

/// Why a view could not be built over some bytes or a `Repr` could not be parsed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// The buffer is shorter than the header (or than a length field inside it says).
    Truncated,
    /// A field holds a value the format does not allow (named).
    Malformed(&'static str),
    /// A checksum does not verify.
    Checksum,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Truncated => f.write_str("truncated header"),
            Error::Malformed(what) => write!(f, "malformed field: {what}"),
            Error::Checksum => f.write_str("bad checksum"),
        }
    }
}

impl std::error::Error for Error {}

/// The result of a view constructor or a `Repr::parse`.
pub type Result<T> = core::result::Result<T, Error>;

/// Ethertypes used across the crate.
pub mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const VLAN: u16 = 0x8100;
    pub const QINQ: u16 = 0x88a8;
    /// Pre-standard QinQ outer tag still seen on some switches.
    pub const QINQ_OLD: u16 = 0x9100;
    pub const IPV6: u16 = 0x86dd;
    /// Transparent Ethernet bridging (GENEVE/GRE payload is an Ethernet frame).
    pub const TEB: u16 = 0x6558;
}

/// IP protocol numbers (IPv4 protocol / IPv6 next header) used across the crate.
pub mod ip_proto {
    pub const HOPOPT: u8 = 0;
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const IPV6_ROUTE: u8 = 43;
    pub const IPV6_FRAG: u8 = 44;
    pub const ESP: u8 = 50;
    pub const AH: u8 = 51;
    pub const ICMPV6: u8 = 58;
    pub const IPV6_NONXT: u8 = 59;
    pub const IPV6_OPTS: u8 = 60;
}

/// Well-known UDP ports of the tunnels `parse_packet` recognises.
pub mod udp_port {
    pub const VXLAN: u16 = 4789;
    pub const GENEVE: u16 = 6081;
}
