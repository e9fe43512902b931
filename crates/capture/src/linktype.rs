//! Mapping between the numeric link types of pcap/pcapng headers and [`LinkType`].
//!
//! Only the link types the packet walk in `wire` decodes are mapped; anything else is `None`,
//! which the reader turns into [`CaptureError::UnsupportedLinkType`](crate::CaptureError).

use wire::LinkType;

/// `LINKTYPE_NULL`: BSD loopback, the address family in the capturing host's byte order.
pub const LINKTYPE_NULL: u32 = 0;
/// `LINKTYPE_ETHERNET`.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// `LINKTYPE_RAW`: IPv4 or IPv6, told apart by the version nibble.
pub const LINKTYPE_RAW: u32 = 101;
/// `LINKTYPE_C_HDLC`: Cisco HDLC.
pub const LINKTYPE_C_HDLC: u32 = 104;
/// `LINKTYPE_LOOP`: OpenBSD loopback, the address family in network byte order.
pub const LINKTYPE_LOOP: u32 = 108;
/// `LINKTYPE_LINUX_SLL`: Linux cooked capture v1.
pub const LINKTYPE_LINUX_SLL: u32 = 113;
/// `LINKTYPE_IPV4`: raw IPv4 only.
pub const LINKTYPE_IPV4: u32 = 228;
/// `LINKTYPE_IPV6`: raw IPv6 only.
pub const LINKTYPE_IPV6: u32 = 229;
/// `LINKTYPE_LINUX_SLL2`: Linux cooked capture v2.
pub const LINKTYPE_LINUX_SLL2: u32 = 276;

/// The [`LinkType`] of a pcap/pcapng link-type number, or `None` if it is not supported.
///
/// Besides the canonical 0, 1, 101, 104, 108, 113 and 276 this accepts 228 (raw IPv4), 229
/// (raw IPv6), and 12 and 14, the `DLT_RAW` values some BSDs wrote into files before
/// `LINKTYPE_RAW` existed (OpenBSD's `DLT_LOOP` is also 12, but libpcap writes it to files as
/// 108).
pub fn linktype_from_raw(raw: u32) -> Option<LinkType> {
    match raw {
        LINKTYPE_ETHERNET => Some(LinkType::Ethernet),
        LINKTYPE_RAW | LINKTYPE_IPV4 | LINKTYPE_IPV6 | 12 | 14 => Some(LinkType::RawIp),
        LINKTYPE_LINUX_SLL => Some(LinkType::LinuxSll),
        LINKTYPE_LINUX_SLL2 => Some(LinkType::LinuxSll2),
        LINKTYPE_NULL => Some(LinkType::Null),
        LINKTYPE_LOOP => Some(LinkType::Loop),
        LINKTYPE_C_HDLC => Some(LinkType::CiscoHdlc),
        _ => None,
    }
}

/// The canonical link-type number written for a [`LinkType`]: 1, 101, 113, 276, 0, 108 or 104.
pub fn linktype_to_raw(link: LinkType) -> u32 {
    match link {
        LinkType::Ethernet => LINKTYPE_ETHERNET,
        LinkType::RawIp => LINKTYPE_RAW,
        LinkType::LinuxSll => LINKTYPE_LINUX_SLL,
        LinkType::LinuxSll2 => LINKTYPE_LINUX_SLL2,
        LinkType::Null => LINKTYPE_NULL,
        LinkType::Loop => LINKTYPE_LOOP,
        LinkType::CiscoHdlc => LINKTYPE_C_HDLC,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_aliases() {
        for link in [
            LinkType::Ethernet,
            LinkType::RawIp,
            LinkType::LinuxSll,
            LinkType::LinuxSll2,
            LinkType::Null,
            LinkType::Loop,
            LinkType::CiscoHdlc,
        ] {
            assert_eq!(linktype_from_raw(linktype_to_raw(link)), Some(link));
        }
        assert_eq!(
            [1, 101, 113, 276, 0, 108, 104].map(linktype_from_raw),
            [
                Some(LinkType::Ethernet),
                Some(LinkType::RawIp),
                Some(LinkType::LinuxSll),
                Some(LinkType::LinuxSll2),
                Some(LinkType::Null),
                Some(LinkType::Loop),
                Some(LinkType::CiscoHdlc),
            ]
        );
        for raw in [12, 14, 228, 229] {
            assert_eq!(linktype_from_raw(raw), Some(LinkType::RawIp), "{raw}");
        }
        for raw in [9, 105, 127, 147, 189, 0x0400_0001, u32::MAX] {
            assert_eq!(linktype_from_raw(raw), None, "{raw}");
        }
    }
}
