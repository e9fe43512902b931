//! Zone resolution at run time: which zone a packet's source or destination belongs to, from
//! the switch port it entered by (id or name), its MAC address and its IP address.
//!
//! Precedence: the port (a port member, or a port carrying a member label), then the MAC
//! address, then the IP address by longest prefix (a port member also claims the port's bound
//! MACs and addresses, so a VM's zone is the same whichever of the three the caller knows),
//! else `wan`. Between two zones claiming the same port, MAC or prefix, the zone declared
//! first wins; [`crate::lint`] warns about every such overlap.
//!
//! Lookups are a table index (port id), binary searches over sorted arrays (port name, MAC)
//! and one binary search over the interval partition of the address space (longest prefix);
//! they must never allocate.

use std::cmp::Reverse;
use std::net::IpAddr;

use crate::addr::{Cidr, fmt_mac, mac_key};
use crate::model::{Inventory, Member, Model, PortId, ZoneId};
use crate::ranges::RangeMap;

/// The compiled zone tables of one policy snapshot.
#[derive(Debug, Clone)]
pub struct ZoneMap {
    /// Zone names by id (`names[0] == "wan"`).
    names: Vec<String>,
    /// By port id: the zone, when the port is claimed.
    by_port: Vec<Option<ZoneId>>,
    /// By port name, sorted by name.
    by_port_name: Vec<(Box<str>, ZoneId)>,
    /// By MAC (as an integer), sorted.
    by_mac: Vec<(u64, ZoneId)>,
    v4: RangeMap<u32, ZoneId>,
    v6: RangeMap<u128, ZoneId>,
}

/// Two zones claiming one thing, found while building the tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Overlap {
    /// What both claim: `port vm1`, `02:00:..`, `10.0.0.0/24 and 10.0.0.5/32`.
    pub what: String,
    /// The zone of the earlier claim and the zone of the later one.
    pub zones: (ZoneId, ZoneId),
    /// The zone that wins.
    pub winner: ZoneId,
    /// The line of the later claim (a member of `zones.1`).
    pub line: usize,
    /// True when the two claims are of different prefix lengths (the longer wins by design);
    /// false for an exact tie, decided by declaration order.
    pub nested: bool,
}

/// A prefix claimed by a zone, with where it came from.
struct Claim {
    cidr: Cidr,
    zone: ZoneId,
    line: usize,
    /// The port it was derived from, or `None` for a CIDR member.
    via: Option<String>,
}

impl ZoneMap {
    /// Builds the tables; `overlaps` receives every claim that two zones make.
    pub(crate) fn new(
        model: &Model,
        inventory: Option<&Inventory>,
        overlaps: &mut Vec<Overlap>,
    ) -> ZoneMap {
        let mut ports: Vec<(String, ZoneId, usize)> = Vec::new();
        // (MAC, zone, line, the port it was derived from)
        let mut macs: Vec<([u8; 6], ZoneId, usize, Option<String>)> = Vec::new();
        let mut prefixes: Vec<Claim> = Vec::new();
        for zone in &model.zones[1..] {
            for m in &zone.members {
                let mut port_names: Vec<String> = Vec::new();
                match &m.member {
                    Member::Cidr(c) => prefixes.push(Claim {
                        cidr: *c,
                        zone: zone.id,
                        line: m.line,
                        via: None,
                    }),
                    Member::Mac(mac) => macs.push((*mac, zone.id, m.line, None)),
                    Member::Port(p) => port_names.push(p.clone()),
                    Member::Label(l) => {
                        for (name, list) in &model.labels {
                            if name == l {
                                port_names.extend(list.iter().cloned());
                            }
                        }
                        for p in inventory.iter().flat_map(|i| &i.ports) {
                            if p.labels.iter().any(|x| x == l) {
                                port_names.push(p.name.clone());
                            }
                        }
                    }
                }
                for name in port_names {
                    if let Some(p) = inventory.and_then(|i| i.port(&name)) {
                        macs.extend(
                            p.macs
                                .iter()
                                .map(|mac| (*mac, zone.id, m.line, Some(name.clone()))),
                        );
                        prefixes.extend(p.ips.iter().map(|ip| Claim {
                            cidr: Cidr::host(*ip),
                            zone: zone.id,
                            line: m.line,
                            via: Some(name.clone()),
                        }));
                    }
                    ports.push((name, zone.id, m.line));
                }
            }
        }

        // Ports and MACs: the first claim wins; a second claim by another zone is an overlap.
        let mut by_port_name: Vec<(Box<str>, ZoneId)> = Vec::new();
        for (name, zone, line) in &ports {
            match by_port_name.iter().find(|(n, _)| **n == **name) {
                Some((_, first)) if *first != *zone => overlaps.push(Overlap {
                    what: format!("port {name}"),
                    zones: (*first, *zone),
                    winner: *first,
                    line: *line,
                    nested: false,
                }),
                Some(_) => {}
                None => by_port_name.push((name.as_str().into(), *zone)),
            }
        }
        by_port_name.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut by_mac: Vec<(u64, ZoneId)> = Vec::new();
        for (i, (mac, zone, line, via)) in macs.iter().enumerate() {
            let k = mac_key(*mac);
            match by_mac.iter().find(|(m, _)| *m == k) {
                Some((_, first)) if *first != *zone => {
                    // Two zones naming one port claim its MACs too: the port's overlap says it.
                    let same_port = via.is_some()
                        && macs[..i]
                            .iter()
                            .any(|(m, z, _, v)| m == mac && z == first && v == via);
                    if !same_port {
                        overlaps.push(Overlap {
                            what: fmt_mac(*mac),
                            zones: (*first, *zone),
                            winner: *first,
                            line: *line,
                            nested: false,
                        });
                    }
                }
                Some(_) => {}
                None => by_mac.push((k, *zone)),
            }
        }
        by_mac.sort_unstable();
        let mut by_port = Vec::new();
        if let Some(inv) = inventory {
            let len = inv
                .ports
                .iter()
                .map(|p| usize::from(p.id) + 1)
                .max()
                .unwrap_or(0);
            by_port = vec![None; len];
            for p in &inv.ports {
                by_port[usize::from(p.id)] = by_port_name
                    .binary_search_by(|(n, _)| (**n).cmp(p.name.as_str()))
                    .ok()
                    .map(|i| by_port_name[i].1);
            }
        }

        // Prefixes between zones: the longest wins; an exact tie goes to the earlier zone.
        for (j, b) in prefixes.iter().enumerate() {
            for a in &prefixes[..j] {
                if a.zone == b.zone || !(a.cidr.covers(b.cidr) || b.cidr.covers(a.cidr)) {
                    continue;
                }
                if a.via.is_some() && a.via == b.via {
                    // One port named by two zones: reported once, as the port.
                    continue;
                }
                let show = |c: &Claim| match &c.via {
                    Some(p) => format!("{} (port {p})", c.cidr),
                    None => c.cidr.to_string(),
                };
                let (winner, nested) = if a.cidr.len() == b.cidr.len() {
                    (a.zone, false)
                } else if a.cidr.len() > b.cidr.len() {
                    (a.zone, true)
                } else {
                    (b.zone, true)
                };
                overlaps.push(Overlap {
                    what: format!("{} and {}", show(a), show(b)),
                    zones: (a.zone, b.zone),
                    winner,
                    line: b.line,
                    nested,
                });
            }
        }
        let rank = |c: &Claim| (Reverse(c.cidr.len()), c.zone);
        let v4: Vec<_> = prefixes
            .iter()
            .filter_map(|c| c.cidr.v4_range().map(|(lo, hi)| (lo, hi, rank(c), c.zone)))
            .collect();
        let v6: Vec<_> = prefixes
            .iter()
            .filter_map(|c| c.cidr.v6_range().map(|(lo, hi)| (lo, hi, rank(c), c.zone)))
            .collect();
        ZoneMap {
            names: model.zones.iter().map(|z| z.name.clone()).collect(),
            by_port,
            by_port_name,
            by_mac,
            v4: RangeMap::build(&v4, ZoneId::WAN),
            v6: RangeMap::build(&v6, ZoneId::WAN),
        }
    }

    /// The zone of a packet's source (or destination): by the port it entered by (or leaves
    /// by), else its MAC, else its IP address; `wan` when nothing claims it.
    #[inline]
    pub fn resolve(
        &self,
        port: Option<PortId>,
        mac: Option<[u8; 6]>,
        ip: Option<IpAddr>,
    ) -> ZoneId {
        port.and_then(|p| self.by_port(p))
            .or_else(|| mac.and_then(|m| self.by_mac(m)))
            .unwrap_or_else(|| ip.map_or(ZoneId::WAN, |a| self.by_ip(a)))
    }

    /// As [`ZoneMap::resolve`], with the port given by name.
    pub fn resolve_named(&self, port: &str, mac: Option<[u8; 6]>, ip: Option<IpAddr>) -> ZoneId {
        self.by_port_name(port)
            .or_else(|| mac.and_then(|m| self.by_mac(m)))
            .unwrap_or_else(|| ip.map_or(ZoneId::WAN, |a| self.by_ip(a)))
    }

    /// The zone that claims a port, by its id (needs the switch configuration at compile time).
    #[inline]
    pub fn by_port(&self, port: PortId) -> Option<ZoneId> {
        self.by_port.get(usize::from(port)).copied().flatten()
    }

    /// The zone that claims a port, by its name.
    pub fn by_port_name(&self, name: &str) -> Option<ZoneId> {
        self.by_port_name
            .binary_search_by(|(n, _)| (**n).cmp(name))
            .ok()
            .map(|i| self.by_port_name[i].1)
    }

    /// The zone that claims a MAC address.
    #[inline]
    pub fn by_mac(&self, mac: [u8; 6]) -> Option<ZoneId> {
        let k = mac_key(mac);
        self.by_mac
            .binary_search_by_key(&k, |(m, _)| *m)
            .ok()
            .map(|i| self.by_mac[i].1)
    }

    /// The zone of an address by longest prefix; `wan` when no zone claims it.
    #[inline]
    pub fn by_ip(&self, ip: IpAddr) -> ZoneId {
        match ip {
            IpAddr::V4(a) => self.v4.get(u32::from(a)),
            IpAddr::V6(a) => self.v6.get(u128::from(a)),
        }
    }

    /// The name of a zone (`?` for an id this policy does not have).
    pub fn name(&self, zone: ZoneId) -> &str {
        self.names.get(zone.index()).map_or("?", String::as_str)
    }

    /// The id of a zone by name (`wan` included).
    pub fn id(&self, name: &str) -> Option<ZoneId> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| ZoneId(i as u16))
    }

    /// Number of zones, `wan` included.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Never true: `wan` always exists.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Number of address intervals in the IPv4 and IPv6 tables.
    pub fn intervals(&self) -> (usize, usize) {
        (self.v4.len(), self.v6.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::compile;
    use proptest::prelude::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const NESTED: &str = r#"
[[zone]]
name = "a"
members = ["10.0.0.0/8", "fd00::/8"]
[[zone]]
name = "b"
members = ["10.1.0.0/16", "fd00:1::/32"]
[[zone]]
name = "c"
members = ["10.1.2.0/24"]
[[zone]]
name = "d"
members = ["10.1.2.3"]
"#;

    #[test]
    fn longest_prefix_wins() {
        let p = compile(NESTED).policy;
        let z = p.zones();
        let name = |s: &str| z.name(z.by_ip(ip(s)));
        assert_eq!(name("10.2.0.0"), "a");
        assert_eq!(name("10.0.0.0"), "a");
        assert_eq!(name("10.255.255.255"), "a");
        assert_eq!(name("10.1.0.0"), "b");
        assert_eq!(name("10.1.255.255"), "b");
        assert_eq!(name("10.1.3.0"), "b");
        assert_eq!(name("10.1.1.255"), "b");
        assert_eq!(name("10.1.2.0"), "c");
        assert_eq!(name("10.1.2.4"), "c");
        assert_eq!(name("10.1.2.3"), "d");
        assert_eq!(name("10.1.2.255"), "c");
        assert_eq!(name("fd00::1"), "a");
        assert_eq!(name("fd00:1::1"), "b");
        assert_eq!(name("fd00:2::1"), "a");
    }

    #[test]
    fn wan_is_what_no_zone_claims() {
        let p = compile(NESTED).policy;
        let z = p.zones();
        for s in [
            "9.255.255.255",
            "11.0.0.0",
            "0.0.0.0",
            "255.255.255.255",
            "fe00::1",
            "::ffff:10.1.2.3",
        ] {
            assert_eq!(z.by_ip(ip(s)), ZoneId::WAN, "{s}");
        }
        assert_eq!(z.resolve(None, None, None), ZoneId::WAN);
        // The uplink port is in no zone: its traffic is judged by address.
        assert_eq!(z.by_port(3), None);
        assert_eq!(
            z.resolve(Some(3), Some([2, 0, 0, 0, 0, 0x99]), Some(ip("10.1.2.3"))),
            z.id("d").unwrap()
        );
        let everything = compile("[[zone]]\nname = \"all4\"\nmembers = [\"0.0.0.0/0\"]\n").policy;
        assert_eq!(
            everything
                .zones()
                .name(everything.zones().by_ip(ip("1.2.3.4"))),
            "all4"
        );
        assert_eq!(everything.zones().by_ip(ip("::1")), ZoneId::WAN);
    }

    #[test]
    fn the_port_comes_first_then_the_mac_then_the_address() {
        let text = r#"
[[zone]]
name = "lan"
members = ["192.168.122.0/24"]
[[zone]]
name = "web"
members = ["vm-web1"]
[[zone]]
name = "by-mac"
members = ["02:00:00:00:00:11"]
[[zone]]
name = "db"
members = ["label:database"]
"#;
        let p = compile(text).policy;
        let z = p.zones();
        let (lan, web, by_mac, db) = (z.id("lan"), z.id("web"), z.id("by-mac"), z.id("db"));
        let web2_mac = Some([2, 0, 0, 0, 0, 0x11]);
        // By port id and name: the port's zone, whatever the addresses say.
        assert_eq!(
            Some(z.resolve(Some(0), web2_mac, Some(ip("192.168.122.50")))),
            web
        );
        assert_eq!(Some(z.resolve_named("vm-web1", web2_mac, None)), web);
        // By MAC, before the address.
        assert_eq!(
            Some(z.resolve(Some(1), web2_mac, Some(ip("192.168.122.11")))),
            by_mac
        );
        // By address: a port member also claims the port's bound address (a /32 inside lan).
        assert_eq!(Some(z.resolve(None, None, Some(ip("192.168.122.10")))), web);
        assert_eq!(Some(z.resolve(None, None, Some(ip("192.168.122.11")))), lan);
        // A label brings in the ports that carry it, with their MACs and addresses.
        assert_eq!(z.by_port(2), db);
        assert_eq!(z.by_port_name("vm-db"), db);
        assert_eq!(z.by_mac([2, 0, 0, 0, 0, 0x20]), db);
        assert_eq!(Some(z.by_ip(ip("10.1.0.5"))), db);
        // Unknown ports and MACs fall through.
        assert_eq!(z.by_port(999), None);
        assert_eq!(
            z.resolve_named("nope", None, Some(ip("8.8.8.8"))),
            ZoneId::WAN
        );
        assert_eq!((z.len(), z.name(ZoneId(77))), (5, "?"));
    }

    #[test]
    fn an_exact_tie_goes_to_the_zone_declared_first() {
        let text = "[[zone]]\nname = \"x\"\nmembers = [\"10.0.0.0/24\"]\n[[zone]]\nname = \"y\"\nmembers = [\"10.0.0.0/24\", \"02:00:00:00:00:10\"]\n[[zone]]\nname = \"z\"\nmembers = [\"vm-web1\"]\n";
        let c = compile(text);
        let z = c.policy.zones();
        assert_eq!(z.name(z.by_ip(ip("10.0.0.7"))), "x");
        // vm-web1's MAC: zone y named it first; the port itself is z's.
        assert_eq!(
            z.by_mac([2, 0, 0, 0, 0, 0x10]).map(|i| z.name(i)),
            Some("y")
        );
        assert_eq!(z.by_port(0).map(|i| z.name(i)), Some("z"));
        let overlaps = c
            .warnings
            .iter()
            .filter(|w| w.kind == crate::WarningKind::OverlappingMembers)
            .count();
        assert_eq!(overlaps, 2, "{:#?}", c.warnings);
    }

    proptest! {
        /// By address, resolution is the longest prefix over every zone's CIDRs (ties: the
        /// earlier zone), else wan.
        #[test]
        fn by_ip_is_the_longest_prefix(
            zones in prop::collection::vec(prop::collection::vec((any::<u8>(), 0u8..=8), 1..4), 1..6),
            probes in prop::collection::vec(any::<u8>(), 32),
        ) {
            // Prefixes inside 10.0.0.0/24: length 24 + n.
            let mut text = String::new();
            for (i, members) in zones.iter().enumerate() {
                let cidrs: Vec<String> = members
                    .iter()
                    .map(|(a, n)| {
                        let len = 24 + u32::from(*n);
                        let mask = u8::MAX.checked_shl(32 - len).unwrap_or(0);
                        format!("\"10.0.0.{}/{len}\"", a & mask)
                    })
                    .collect();
                text += &format!("[[zone]]\nname = \"z{i}\"\nmembers = [{}]\n", cidrs.join(", "));
            }
            let p = compile(&text).policy;
            for last in probes {
                let addr = IpAddr::from([10, 0, 0, last]);
                let want = zones
                    .iter()
                    .enumerate()
                    .flat_map(|(i, m)| m.iter().map(move |(a, n)| (i, *a, *n)))
                    .filter(|(_, a, n)| {
                        let mask = u8::MAX.checked_shl(8 - u32::from(*n)).unwrap_or(0);
                        last & mask == a & mask
                    })
                    .max_by_key(|(i, _, n)| (*n, std::cmp::Reverse(*i)))
                    .map_or(ZoneId::WAN, |(i, _, _)| ZoneId(i as u16 + 1));
                prop_assert_eq!(p.zones().by_ip(addr), want, "{}", addr);
            }
        }
    }
}
