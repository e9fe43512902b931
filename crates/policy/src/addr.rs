//! Addresses as a policy writes them: CIDR prefixes (`192.168.122.0/24`, `fd00::/64`, a bare
//! address for one host), MAC addresses (`02:00:00:00:00:01`), and sets of addresses of both
//! families.
//!
//! Parsing takes operator text and must refuse what is ambiguous rather than guess: a prefix
//! with host bits set (`192.168.1.1/24`) is an error, not silently `192.168.1.0/24`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::ranges::RangeSet;

/// An IPv4 or IPv6 prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cidr {
    V4 { addr: u32, len: u8 },
    V6 { addr: u128, len: u8 },
}

impl Cidr {
    /// Parses `ADDR` (one host) or `ADDR/LEN`. The message of an error says what to write.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an IPv4 or IPv6 address or prefix"))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => max,
            Some(l) => match l.parse::<u8>() {
                Ok(n) if n <= max && !l.starts_with('+') => n,
                _ => {
                    return Err(format!(
                        "{s:?}: the prefix length must be a number from 0 to {max}"
                    ));
                }
            },
        };
        let cidr = Cidr::new(ip, len);
        if cidr.network() != ip {
            return Err(format!(
                "{s:?} has host bits set; the prefix is {}",
                Cidr::new(ip, len).normalized()
            ));
        }
        Ok(cidr)
    }

    /// The prefix of `ip` with `len` bits (host bits kept as given; see [`Cidr::normalized`]).
    fn new(ip: IpAddr, len: u8) -> Cidr {
        match ip {
            IpAddr::V4(a) => Cidr::V4 {
                addr: u32::from(a),
                len: len.min(32),
            },
            IpAddr::V6(a) => Cidr::V6 {
                addr: u128::from(a),
                len: len.min(128),
            },
        }
    }

    /// One host.
    pub fn host(ip: IpAddr) -> Cidr {
        Cidr::new(ip, if ip.is_ipv4() { 32 } else { 128 })
    }

    /// The same prefix with its host bits cleared.
    pub fn normalized(self) -> Cidr {
        match self {
            Cidr::V4 { addr, len } => Cidr::V4 {
                addr: addr & mask32(len),
                len,
            },
            Cidr::V6 { addr, len } => Cidr::V6 {
                addr: addr & mask128(len),
                len,
            },
        }
    }

    /// The first address of the prefix.
    pub fn network(self) -> IpAddr {
        match self.normalized() {
            Cidr::V4 { addr, .. } => IpAddr::V4(Ipv4Addr::from(addr)),
            Cidr::V6 { addr, .. } => IpAddr::V6(Ipv6Addr::from(addr)),
        }
    }

    /// The prefix length.
    pub fn len(self) -> u8 {
        match self {
            Cidr::V4 { len, .. } | Cidr::V6 { len, .. } => len,
        }
    }

    /// True for a zero-length prefix (every address of its family).
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// True for an IPv4 prefix.
    pub fn is_ipv4(self) -> bool {
        matches!(self, Cidr::V4 { .. })
    }

    /// True when `ip` lies inside the prefix.
    pub fn contains(self, ip: IpAddr) -> bool {
        match (self, ip) {
            (Cidr::V4 { addr, len }, IpAddr::V4(a)) => u32::from(a) & mask32(len) == addr,
            (Cidr::V6 { addr, len }, IpAddr::V6(a)) => u128::from(a) & mask128(len) == addr,
            _ => false,
        }
    }

    /// True when every address of `other` lies inside `self`.
    pub fn covers(self, other: Cidr) -> bool {
        other.len() >= self.len() && self.contains(other.network())
    }

    /// The first and last address of an IPv4 prefix.
    pub fn v4_range(self) -> Option<(u32, u32)> {
        match self {
            Cidr::V4 { addr, len } => Some((addr, addr | !mask32(len))),
            Cidr::V6 { .. } => None,
        }
    }

    /// The first and last address of an IPv6 prefix.
    pub fn v6_range(self) -> Option<(u128, u128)> {
        match self {
            Cidr::V6 { addr, len } => Some((addr, addr | !mask128(len))),
            Cidr::V4 { .. } => None,
        }
    }

    /// Number of addresses minus one (so that `/0` fits): the offset of the last address.
    pub fn last_offset(self) -> u128 {
        match self {
            Cidr::V4 { len, .. } => u128::from(!mask32(len)),
            Cidr::V6 { len, .. } => !mask128(len),
        }
    }

    /// The address `offset` past the first one; `None` past the prefix's end.
    pub fn nth(self, offset: u128) -> Option<IpAddr> {
        if offset > self.last_offset() {
            return None;
        }
        Some(match self {
            Cidr::V4 { addr, .. } => IpAddr::V4(Ipv4Addr::from(addr | offset as u32)),
            Cidr::V6 { addr, .. } => IpAddr::V6(Ipv6Addr::from(addr | offset)),
        })
    }

    /// The offset of `ip` from the first address, when `ip` is inside.
    pub fn offset_of(self, ip: IpAddr) -> Option<u128> {
        match (self, ip) {
            (Cidr::V4 { len, .. }, IpAddr::V4(a)) if self.contains(ip) => {
                Some(u128::from(u32::from(a) & !mask32(len)))
            }
            (Cidr::V6 { len, .. }, IpAddr::V6(a)) if self.contains(ip) => {
                Some(u128::from(a) & !mask128(len))
            }
            _ => None,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network(), self.len())
    }
}

fn mask32(len: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(len.min(32)))
        .unwrap_or(0)
}

fn mask128(len: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(len.min(128)))
        .unwrap_or(0)
}

/// Parses a MAC address written `aa:bb:cc:dd:ee:ff` (or with `-`).
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = s.split([':', '-']);
    for b in &mut out {
        let p = parts.next()?;
        if p.len() != 2 || !p.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// A MAC address as a sortable integer.
pub fn mac_key(mac: [u8; 6]) -> u64 {
    let mut b = [0u8; 8];
    b[2..].copy_from_slice(&mac);
    u64::from_be_bytes(b)
}

/// A MAC address written `aa:bb:cc:dd:ee:ff`.
pub fn fmt_mac(mac: [u8; 6]) -> String {
    let [a, b, c, d, e, g] = mac;
    format!("{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
}

/// A set of IPv4 and IPv6 addresses.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct AddrSet {
    pub v4: RangeSet<u32>,
    pub v6: RangeSet<u128>,
}

impl AddrSet {
    /// Every address of both families.
    pub fn any() -> Self {
        AddrSet {
            v4: RangeSet::full(),
            v6: RangeSet::full(),
        }
    }

    /// The union of prefixes.
    pub fn from_cidrs<'a>(cidrs: impl IntoIterator<Item = &'a Cidr>) -> Self {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for c in cidrs {
            if let Some(r) = c.v4_range() {
                v4.push(r);
            }
            if let Some(r) = c.v6_range() {
                v6.push(r);
            }
        }
        AddrSet {
            v4: RangeSet::from_ranges(v4),
            v6: RangeSet::from_ranges(v6),
        }
    }

    /// True when `ip` is in the set.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => self.v4.contains(u32::from(a)),
            IpAddr::V6(a) => self.v6.contains(u128::from(a)),
        }
    }

    /// True when the set holds every address of both families.
    pub fn is_any(&self) -> bool {
        self.v4.is_full() && self.v6.is_full()
    }

    /// True when the set holds no address.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// True when every address of `other` is in `self`.
    pub fn is_superset(&self, other: &AddrSet) -> bool {
        self.v4.is_superset(&other.v4) && self.v6.is_superset(&other.v6)
    }

    /// True when some address is in both sets.
    pub fn intersects(&self, other: &AddrSet) -> bool {
        self.v4.intersects(&other.v4) || self.v6.intersects(&other.v6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_parse_and_refuse_host_bits() {
        assert_eq!(
            Cidr::parse("192.168.122.0/24").unwrap().to_string(),
            "192.168.122.0/24"
        );
        assert_eq!(Cidr::parse("10.0.0.1").unwrap().len(), 32);
        assert_eq!(Cidr::parse("fd00::/8").unwrap().to_string(), "fd00::/8");
        assert_eq!(Cidr::parse("::1").unwrap().len(), 128);
        assert_eq!(
            Cidr::parse("0.0.0.0/0").unwrap().v4_range(),
            Some((0, u32::MAX))
        );
        let e = Cidr::parse("192.168.1.1/24").unwrap_err();
        assert!(
            e.contains("host bits") && e.contains("192.168.1.0/24"),
            "{e}"
        );
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("10.0.0.0/+8").is_err());
        assert!(Cidr::parse("10.0.0/8").is_err());
        assert!(Cidr::parse("vm-web1").is_err());
    }

    #[test]
    fn containment_and_offsets() {
        let c = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(c.contains("10.1.255.255".parse().unwrap()));
        assert!(!c.contains("10.2.0.0".parse().unwrap()));
        assert!(!c.contains("::a01:0".parse().unwrap()));
        assert!(c.covers(Cidr::parse("10.1.2.0/24").unwrap()));
        assert!(!c.covers(Cidr::parse("10.0.0.0/8").unwrap()));
        assert_eq!(c.offset_of("10.1.0.9".parse().unwrap()), Some(9));
        assert_eq!(c.nth(9), Some("10.1.0.9".parse().unwrap()));
        assert_eq!(c.nth(65536), None);
        let v6 = Cidr::parse("fd00::/120").unwrap();
        assert_eq!(v6.nth(255), Some("fd00::ff".parse().unwrap()));
        assert_eq!(v6.offset_of("fd00::10".parse().unwrap()), Some(16));
    }

    #[test]
    fn macs() {
        assert_eq!(parse_mac("02:00:00:00:00:0A"), Some([2, 0, 0, 0, 0, 10]));
        assert_eq!(parse_mac("02-00-00-00-00-0a"), Some([2, 0, 0, 0, 0, 10]));
        assert_eq!(parse_mac("02:00:00:00:00"), None);
        assert_eq!(parse_mac("02:00:00:00:00:0a:0b"), None);
        assert_eq!(parse_mac("+2:00:00:00:00:0a"), None);
        assert_eq!(fmt_mac([2, 0, 0, 0, 0, 10]), "02:00:00:00:00:0a");
        assert!(mac_key([0, 0, 0, 0, 0, 2]) > mac_key([0, 0, 0, 0, 0, 1]));
    }

    #[test]
    fn address_sets() {
        let s = AddrSet::from_cidrs(&[
            Cidr::parse("10.0.0.0/8").unwrap(),
            Cidr::parse("fd00::/16").unwrap(),
        ]);
        assert!(s.contains("10.9.9.9".parse().unwrap()));
        assert!(s.contains("fd00::1".parse().unwrap()));
        assert!(!s.contains("11.0.0.0".parse().unwrap()));
        let narrow = AddrSet::from_cidrs(&[Cidr::parse("10.1.0.0/16").unwrap()]);
        assert!(s.is_superset(&narrow) && !narrow.is_superset(&s));
        assert!(AddrSet::any().is_superset(&s) && AddrSet::any().is_any());
    }
}
