//! Mapping between the numeric link types of pcap/pcapng headers and [`LinkType`].
//!
//! Only the link types the packet walk in `wire` decodes are mapped; anything else is `None`,
//! which the reader turns into [`CaptureError::UnsupportedLinkType`](crate::CaptureError).

use wire::LinkType;

/// `LINKTYPE_ETHERNET`.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// `LINKTYPE_RAW`: IPv4 or IPv6, told apart by the version nibble.
pub const LINKTYPE_RAW: u32 = 101;
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
/// Besides the canonical 1, 101, 113 and 276 this accepts 228 (raw IPv4), 229 (raw IPv6), and
/// 12 and 14, the `DLT_RAW` values some BSDs wrote into files before `LINKTYPE_RAW` existed.
pub fn linktype_from_raw(raw: u32) -> Option<LinkType> {
    match raw {
        LINKTYPE_ETHERNET => Some(LinkType::Ethernet),
        LINKTYPE_RAW | LINKTYPE_IPV4 | LINKTYPE_IPV6 | 12 | 14 => Some(LinkType::RawIp),
        LINKTYPE_LINUX_SLL => Some(LinkType::LinuxSll),
        LINKTYPE_LINUX_SLL2 => Some(LinkType::LinuxSll2),
        _ => None,
    }
}

/// The canonical link-type number written for a [`LinkType`]: 1, 101, 113 or 276.
pub fn linktype_to_raw(link: LinkType) -> u32 {
    match link {
        LinkType::Ethernet => LINKTYPE_ETHERNET,
        LinkType::RawIp => LINKTYPE_RAW,
        LinkType::LinuxSll => LINKTYPE_LINUX_SLL,
        LinkType::LinuxSll2 => LINKTYPE_LINUX_SLL2,
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
        ] {
            assert_eq!(linktype_from_raw(linktype_to_raw(link)), Some(link));
        }
        assert_eq!(
            [1, 101, 113, 276].map(linktype_from_raw),
            [
                Some(LinkType::Ethernet),
                Some(LinkType::RawIp),
                Some(LinkType::LinuxSll),
                Some(LinkType::LinuxSll2)
            ]
        );
        for raw in [12, 14, 228, 229] {
            assert_eq!(linktype_from_raw(raw), Some(LinkType::RawIp), "{raw}");
        }
        for raw in [0, 105, 127, 147, 189, 0x0400_0001, u32::MAX] {
            assert_eq!(linktype_from_raw(raw), None, "{raw}");
        }
    }
}
