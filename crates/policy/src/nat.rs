//! Compiled NAT lookups: which translation applies to a new connection.
//!
//! Outbound (a connection leaving toward the destination zone): a 1:1 mapping of the source
//! address first, else the first source NAT rule that applies. Inbound (a connection arriving
//! at a translated address): the first port mapping (destination NAT) for the address, protocol
//! and port, else a 1:1 mapping of the destination address. Choosing the translated source port
//! of a source NAT is the firewall's (it knows which ports are in use); this module only says
//! which rule and which address.
//!
//! Lookups must never allocate: 1:1 mappings and port mappings are interval maps searched in
//! O(log n); source NAT rules, usually a handful per uplink, are tried in order.

use std::net::IpAddr;

use crate::model::{DestinationNat, Model, OneToOne, SourceNat, ZoneId, proto};
use crate::ranges::RangeMap;

/// Index into a rule list plus one; 0 = none.
type Slot = u32;

/// The translation of a new outbound connection's source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outbound<'a> {
    /// The source address is mapped 1:1; the source port is kept.
    OneToOne {
        rule: usize,
        mapping: &'a OneToOne,
        address: IpAddr,
    },
    /// The source becomes `nat.address` with a port from `nat.ports`.
    Source { rule: usize, nat: &'a SourceNat },
}

/// The translation of a new inbound connection's destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inbound<'a> {
    /// A port mapping: the destination becomes `address`:`port`.
    Port {
        rule: usize,
        nat: &'a DestinationNat,
        address: IpAddr,
        port: u16,
    },
    /// The destination address is mapped 1:1; the port is kept.
    OneToOne {
        rule: usize,
        mapping: &'a OneToOne,
        address: IpAddr,
    },
}

/// Port mappings of one (address, protocol): destination port to the first mapping covering it.
#[derive(Debug, Clone)]
struct PortMap {
    address: IpAddr,
    proto: u8,
    ports: RangeMap<u16, Slot>,
}

/// The compiled NAT of one policy snapshot.
#[derive(Debug, Clone)]
pub struct NatTable {
    snat: Vec<SourceNat>,
    dnat: Vec<DestinationNat>,
    one_to_one: Vec<OneToOne>,
    /// Sorted by (address, protocol).
    port_maps: Vec<PortMap>,
    internal_v4: RangeMap<u32, Slot>,
    internal_v6: RangeMap<u128, Slot>,
    external_v4: RangeMap<u32, Slot>,
    external_v6: RangeMap<u128, Slot>,
}

impl NatTable {
    pub(crate) fn new(model: &Model) -> NatTable {
        let mut keys: Vec<(IpAddr, u8)> = Vec::new();
        for d in &model.dnat {
            for p in [proto::TCP, proto::UDP] {
                if d.protos.contains(p) && !keys.contains(&(d.address, p)) {
                    keys.push((d.address, p));
                }
            }
        }
        keys.sort_unstable();
        let port_maps = keys
            .into_iter()
            .map(|(address, p)| {
                let items: Vec<(u16, u16, usize, Slot)> = model
                    .dnat
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| d.address == address && d.protos.contains(p))
                    .map(|(i, d)| (d.ports.0, d.ports.1, i, i as Slot + 1))
                    .collect();
                PortMap {
                    address,
                    proto: p,
                    ports: RangeMap::build(&items, 0),
                }
            })
            .collect();
        let side = |pick: fn(&OneToOne) -> crate::addr::Cidr| {
            let mut v4 = Vec::new();
            let mut v6 = Vec::new();
            for (i, m) in model.one_to_one.iter().enumerate() {
                let c = pick(m);
                if let Some((lo, hi)) = c.v4_range() {
                    v4.push((lo, hi, i, i as Slot + 1));
                }
                if let Some((lo, hi)) = c.v6_range() {
                    v6.push((lo, hi, i, i as Slot + 1));
                }
            }
            (RangeMap::build(&v4, 0), RangeMap::build(&v6, 0))
        };
        let (internal_v4, internal_v6) = side(|m| m.internal);
        let (external_v4, external_v6) = side(|m| m.external);
        NatTable {
            snat: model.snat.clone(),
            dnat: model.dnat.clone(),
            one_to_one: model.one_to_one.clone(),
            port_maps,
            internal_v4,
            internal_v6,
            external_v4,
            external_v6,
        }
    }

    /// How a new connection from `src` (zone `src_zone`) to `dst` (zone `dst_zone`) leaves:
    /// 1:1 first, then source NAT; `None` when neither applies.
    pub fn outbound(
        &self,
        src_zone: ZoneId,
        dst_zone: ZoneId,
        src: IpAddr,
        dst: IpAddr,
    ) -> Option<Outbound<'_>> {
        if let Some((rule, address)) = self.one_to_one_outbound(src) {
            return Some(Outbound::OneToOne {
                rule,
                mapping: &self.one_to_one[rule],
                address,
            });
        }
        self.source_nat(src_zone, dst_zone, src, dst)
            .map(|(rule, nat)| Outbound::Source { rule, nat })
    }

    /// How a new connection to `dst`:`port` from zone `src_zone` arrives: a port mapping
    /// first, then 1:1; `None` when neither applies.
    pub fn inbound(
        &self,
        src_zone: ZoneId,
        dst: IpAddr,
        proto: u8,
        port: u16,
    ) -> Option<Inbound<'_>> {
        if let Some((rule, nat)) = self.destination_nat(src_zone, dst, proto, port) {
            return Some(Inbound::Port {
                rule,
                nat,
                address: nat.to_address,
                port: nat.to_port(port),
            });
        }
        self.one_to_one_inbound(dst)
            .map(|(rule, address)| Inbound::OneToOne {
                rule,
                mapping: &self.one_to_one[rule],
                address,
            })
    }

    /// The first source NAT rule that applies.
    pub fn source_nat(
        &self,
        src_zone: ZoneId,
        dst_zone: ZoneId,
        src: IpAddr,
        dst: IpAddr,
    ) -> Option<(usize, &SourceNat)> {
        self.snat
            .iter()
            .enumerate()
            .find(|(_, s)| s.applies(src_zone, dst_zone, src, dst))
    }

    /// The first port mapping that applies.
    pub fn destination_nat(
        &self,
        src_zone: ZoneId,
        dst: IpAddr,
        proto: u8,
        port: u16,
    ) -> Option<(usize, &DestinationNat)> {
        let i = self
            .port_maps
            .binary_search_by(|m| (m.address, m.proto).cmp(&(dst, proto)))
            .ok()?;
        let first = self.port_maps[i].ports.get(port).checked_sub(1)? as usize;
        // The first mapping covering the port; when it is for other zones, a later one may
        // still apply (rare: mappings of one port that differ by zone).
        self.dnat
            .iter()
            .enumerate()
            .skip(first)
            .find(|(_, d)| d.applies(src_zone, dst, proto, port))
    }

    /// The outside address of an inside address mapped 1:1.
    pub fn one_to_one_outbound(&self, src: IpAddr) -> Option<(usize, IpAddr)> {
        let slot = match src {
            IpAddr::V4(a) => self.internal_v4.get(u32::from(a)),
            IpAddr::V6(a) => self.internal_v6.get(u128::from(a)),
        };
        let rule = slot.checked_sub(1)? as usize;
        let m = self.one_to_one.get(rule)?;
        Some((rule, m.external.nth(m.internal.offset_of(src)?)?))
    }

    /// The inside address of an outside address mapped 1:1.
    pub fn one_to_one_inbound(&self, dst: IpAddr) -> Option<(usize, IpAddr)> {
        let slot = match dst {
            IpAddr::V4(a) => self.external_v4.get(u32::from(a)),
            IpAddr::V6(a) => self.external_v6.get(u128::from(a)),
        };
        let rule = slot.checked_sub(1)? as usize;
        let m = self.one_to_one.get(rule)?;
        Some((rule, m.internal.nth(m.external.offset_of(dst)?)?))
    }

    /// The source NAT rules, in order.
    pub fn snat(&self) -> &[SourceNat] {
        &self.snat
    }

    /// The port mappings, in order.
    pub fn dnat(&self) -> &[DestinationNat] {
        &self.dnat
    }

    /// The 1:1 mappings, in order.
    pub fn one_to_one(&self) -> &[OneToOne] {
        &self.one_to_one
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::compile;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const NAT: &str = r#"
[[zone]]
name = "lan"
members = ["192.168.122.0/24", "fd00::/64"]
[[zone]]
name = "dmz"
members = ["10.1.0.0/24"]
[[zone]]
name = "partners"
members = ["198.51.100.0/24"]

[[one_to_one]]
name = "db"
internal = "10.1.0.0/28"
external = "203.0.113.16/28"

[[snat]]
name = "lan-out"
from = "lan"
masquerade = "uplink"
ports = "20000-29999"

[[snat]]
name = "dmz-to-partners"
from = "dmz"
to = "partners"
to_address = "203.0.113.2"

[[snat]]
name = "v6"
source = ["fd00::/64"]
to_address = "2001:db8::1"

[[dnat]]
name = "web"
proto = "tcp"
address = "203.0.113.1"
port = 443
to_address = "192.168.122.10"
to_port = 8443

[[dnat]]
name = "range"
proto = ["tcp", "udp"]
address = "203.0.113.1"
port = "5000-5009"
to_address = "192.168.122.11"
to_port = "6000-6009"

[[dnat]]
name = "partners-only"
from = "partners"
proto = "tcp"
address = "203.0.113.1"
port = 22
to_address = "10.1.0.20"

[[dnat]]
name = "ssh-others"
proto = "tcp"
address = "203.0.113.1"
port = 22
to_address = "10.1.0.21"
to_port = 2222
"#;

    #[test]
    fn outbound_one_to_one_first_then_source_nat() {
        let p = compile(NAT).policy;
        let (z, nat) = (p.zones(), p.nat());
        let out = |src: &str, dst: &str| {
            let (s, d) = (ip(src), ip(dst));
            nat.outbound(z.by_ip(s), z.by_ip(d), s, d)
        };
        match out("10.1.0.9", "8.8.8.8") {
            Some(Outbound::OneToOne {
                rule: 0, address, ..
            }) => assert_eq!(address, ip("203.0.113.25")),
            other => panic!("{other:?}"),
        }
        match out("192.168.122.7", "8.8.8.8") {
            Some(Outbound::Source { rule: 0, nat }) => {
                assert_eq!(
                    (nat.address, nat.ports),
                    (ip("203.0.113.1"), (20000, 29999))
                );
            }
            other => panic!("{other:?}"),
        }
        // dmz beyond the 1:1 range: only toward partners.
        assert!(matches!(
            out("10.1.0.100", "198.51.100.7"),
            Some(Outbound::Source { rule: 1, .. })
        ));
        assert_eq!(out("10.1.0.100", "8.8.8.8"), None);
        // IPv6 takes the IPv6 rule, never the IPv4 masquerade.
        assert!(matches!(
            out("fd00::5", "2001:db8:ffff::1"),
            Some(Outbound::Source { rule: 2, .. })
        ));
        // Traffic between internal zones is not translated unless a rule says so.
        assert_eq!(out("192.168.122.7", "10.1.0.100"), None);
    }

    #[test]
    fn inbound_port_mappings_then_one_to_one() {
        let p = compile(NAT).policy;
        let nat = p.nat();
        let wan = ZoneId::WAN;
        let partners = p.zones().id("partners").unwrap();
        let port_of = |i: Option<Inbound<'_>>| match i {
            Some(Inbound::Port {
                rule,
                address,
                port,
                ..
            }) => Some((rule, address, port)),
            _ => None,
        };
        let up = ip("203.0.113.1");
        assert_eq!(
            port_of(nat.inbound(wan, up, 6, 443)),
            Some((0, ip("192.168.122.10"), 8443))
        );
        assert_eq!(
            port_of(nat.inbound(wan, up, 17, 443)),
            None,
            "443 is mapped for TCP only"
        );
        assert_eq!(
            port_of(nat.inbound(wan, up, 17, 5003)),
            Some((1, ip("192.168.122.11"), 6003))
        );
        assert_eq!(port_of(nat.inbound(wan, up, 6, 5010)), None);
        assert_eq!(port_of(nat.inbound(wan, up, 6, 4999)), None);
        // The same port mapped per source zone: the first rule for the zone.
        assert_eq!(
            port_of(nat.inbound(partners, up, 6, 22)),
            Some((2, ip("10.1.0.20"), 22))
        );
        assert_eq!(
            port_of(nat.inbound(wan, up, 6, 22)),
            Some((3, ip("10.1.0.21"), 2222))
        );
        assert_eq!(port_of(nat.inbound(wan, ip("203.0.113.9"), 6, 443)), None);
        // 1:1 takes any protocol and port.
        match nat.inbound(wan, ip("203.0.113.31"), 1, 0) {
            Some(Inbound::OneToOne {
                rule: 0, address, ..
            }) => assert_eq!(address, ip("10.1.0.15")),
            other => panic!("{other:?}"),
        }
        assert_eq!(nat.inbound(wan, ip("203.0.113.32"), 1, 0), None);
    }

    #[test]
    fn one_to_one_round_trips_every_address() {
        let p = compile(NAT).policy;
        let nat = p.nat();
        for last in 0..16u8 {
            let inside = IpAddr::from([10, 1, 0, last]);
            let (_, outside) = nat.one_to_one_outbound(inside).unwrap();
            assert_eq!(outside, IpAddr::from([203, 0, 113, 16 + last]));
            assert_eq!(nat.one_to_one_inbound(outside), Some((0, inside)));
        }
        assert_eq!(nat.one_to_one_outbound(ip("10.1.0.16")), None);
        assert_eq!(nat.one_to_one_inbound(ip("203.0.113.15")), None);
    }
}
