//! Compiled flood thresholds and anti-spoofing, as the firewall reads them per packet.
//!
//! The token buckets themselves (their state, per address) are the firewall's; this module
//! only says which thresholds apply to a packet and which sources a port may use. Lookups must
//! never allocate.

use std::net::IpAddr;

use crate::addr::mac_key;
use crate::model::{FloodGuard, FloodKind, Model, PortGuard, PortId, SpoofAction, ZoneId};

/// Flood thresholds by packet kind.
#[derive(Debug, Clone, Default)]
pub struct FloodTable {
    guards: Vec<FloodGuard>,
    /// Indexes into `guards`, per [`FloodKind`] (syn, udp, icmp).
    by_kind: [Vec<usize>; 3],
}

impl FloodTable {
    pub(crate) fn new(model: &Model) -> FloodTable {
        let mut by_kind: [Vec<usize>; 3] = Default::default();
        for (i, g) in model.floods.iter().enumerate() {
            by_kind[g.kind as usize].push(i);
        }
        FloodTable {
            guards: model.floods.clone(),
            by_kind,
        }
    }

    /// The guards that count a packet of this kind between these zones, with their indexes
    /// (stable for the snapshot: the firewall keys its buckets on them).
    pub fn applicable(
        &self,
        kind: FloodKind,
        src_zone: ZoneId,
        dst_zone: ZoneId,
    ) -> impl Iterator<Item = (usize, &FloodGuard)> {
        self.by_kind[kind as usize]
            .iter()
            .map(|&i| (i, &self.guards[i]))
            .filter(move |(_, g)| g.from.contains(src_zone) && g.to.contains(dst_zone))
    }

    /// Every guard, in file order.
    pub fn guards(&self) -> &[FloodGuard] {
        &self.guards
    }

    /// True when some guard counts packets of this kind.
    pub fn watches(&self, kind: FloodKind) -> bool {
        !self.by_kind[kind as usize].is_empty()
    }
}

/// The outcome of an anti-spoofing check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpoofCheck {
    /// The port is not guarded.
    Unguarded,
    /// The source MAC and address are bound to the port.
    Bound,
    /// The source MAC is not bound to the port.
    BadMac(SpoofAction),
    /// The source address is not bound to the port.
    BadAddress(SpoofAction),
}

/// Anti-spoofing of the guarded ports.
#[derive(Debug, Clone, Default)]
pub struct SpoofTable {
    guards: Vec<PortGuard>,
    /// Per guard: its MACs as sorted integers.
    macs: Vec<Vec<u64>>,
    /// Port id to guard index plus one (0: unguarded).
    by_port: Vec<u32>,
    /// Port name to guard index, sorted by name.
    by_name: Vec<(Box<str>, usize)>,
}

impl SpoofTable {
    pub(crate) fn new(model: &Model) -> SpoofTable {
        let mut by_port = Vec::new();
        let mut by_name = Vec::new();
        let mut macs = Vec::new();
        for (i, g) in model.anti_spoof.iter().enumerate() {
            if let Some(id) = g.port_id {
                let id = usize::from(id);
                if by_port.len() <= id {
                    by_port.resize(id + 1, 0);
                }
                by_port[id] = i as u32 + 1;
            }
            by_name.push((g.port.as_str().into(), i));
            let mut m: Vec<u64> = g.macs.iter().map(|m| mac_key(*m)).collect();
            m.sort_unstable();
            macs.push(m);
        }
        by_name.sort_unstable();
        SpoofTable {
            guards: model.anti_spoof.clone(),
            macs,
            by_port,
            by_name,
        }
    }

    /// Checks a frame that entered by port `port` (by id) with source `mac` and, for IP
    /// packets, source address `ip`. The unspecified addresses (0.0.0.0, ::) are always
    /// allowed: DHCP discovery and IPv6 duplicate address detection send from them.
    #[inline]
    pub fn check(&self, port: PortId, mac: [u8; 6], ip: Option<IpAddr>) -> SpoofCheck {
        match self.by_port.get(usize::from(port)).copied().unwrap_or(0) {
            0 => SpoofCheck::Unguarded,
            slot => self.check_guard(slot as usize - 1, mac, ip),
        }
    }

    /// As [`SpoofTable::check`], with the port given by name.
    pub fn check_named(&self, port: &str, mac: [u8; 6], ip: Option<IpAddr>) -> SpoofCheck {
        match self.by_name.binary_search_by(|(n, _)| (**n).cmp(port)) {
            Ok(i) => self.check_guard(self.by_name[i].1, mac, ip),
            Err(_) => SpoofCheck::Unguarded,
        }
    }

    fn check_guard(&self, i: usize, mac: [u8; 6], ip: Option<IpAddr>) -> SpoofCheck {
        let (Some(g), Some(macs)) = (self.guards.get(i), self.macs.get(i)) else {
            return SpoofCheck::Unguarded;
        };
        if !macs.is_empty() && macs.binary_search(&mac_key(mac)).is_err() {
            return SpoofCheck::BadMac(g.action);
        }
        match ip {
            Some(a)
                if !a.is_unspecified() && !g.addresses.is_empty() && !g.addresses.contains(a) =>
            {
                SpoofCheck::BadAddress(g.action)
            }
            _ => SpoofCheck::Bound,
        }
    }

    /// Every guarded port, in file order.
    pub fn guards(&self) -> &[PortGuard] {
        &self.guards
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::compile;

    #[test]
    fn anti_spoofing_holds_a_port_to_its_bound_sources() {
        let text = "[[anti_spoof]]\nports = \"*\"\naction = \"drop\"\n[[anti_spoof]]\nports = \"uplink\"\nips = [\"0.0.0.0/0\"]\naction = \"alert\"\n";
        let p = compile(text).policy;
        let s = p.anti_spoof();
        let web1 = [2, 0, 0, 0, 0, 0x10];
        let ip = |t: &str| Some(t.parse::<IpAddr>().unwrap());
        assert_eq!(s.check(0, web1, ip("192.168.122.10")), SpoofCheck::Bound);
        assert_eq!(
            s.check(0, web1, None),
            SpoofCheck::Bound,
            "ARP: the MAC alone"
        );
        assert_eq!(
            s.check(0, web1, ip("0.0.0.0")),
            SpoofCheck::Bound,
            "DHCP discover"
        );
        assert_eq!(s.check(0, web1, ip("::")), SpoofCheck::Bound, "IPv6 DAD");
        assert_eq!(
            s.check(0, web1, ip("192.168.122.11")),
            SpoofCheck::BadAddress(SpoofAction::Drop)
        );
        assert_eq!(
            s.check(0, [2, 0, 0, 0, 0, 0x11], ip("192.168.122.10")),
            SpoofCheck::BadMac(SpoofAction::Drop)
        );
        assert_eq!(
            s.check(1, [2, 0, 0, 0, 0, 0x11], ip("fd00::11")),
            SpoofCheck::Bound
        );
        // A port with a MAC and no address is held to its MAC only.
        assert_eq!(
            s.check(4, [2, 0, 0, 0, 0, 0x30], ip("10.9.9.9")),
            SpoofCheck::Bound
        );
        // The uplink: its own MAC, any IPv4 address.
        assert_eq!(
            s.check(3, [2, 0, 0, 0, 0, 0x99], ip("8.8.8.8")),
            SpoofCheck::Bound
        );
        assert_eq!(
            s.check(3, [2, 0, 0, 0, 0, 0x99], ip("2001:db8::1")),
            SpoofCheck::BadAddress(SpoofAction::Alert)
        );
        assert_eq!(s.check(99, web1, None), SpoofCheck::Unguarded);
        assert_eq!(
            s.check_named("vm-web1", web1, ip("192.168.122.11")),
            SpoofCheck::BadAddress(SpoofAction::Drop)
        );
        assert_eq!(s.check_named("nope", web1, None), SpoofCheck::Unguarded);
        assert_eq!(s.guards().len(), 5);
    }

    #[test]
    fn flood_guards_by_kind_and_zones() {
        let text = "[[zone]]\nname = \"dmz\"\nmembers = [\"10.1.0.0/24\"]\n[[flood]]\nkind = \"syn\"\nrate = 500\nto = \"dmz\"\n[[flood]]\nkind = \"syn\"\nper = \"source\"\nrate = 50\n[[flood]]\nkind = \"icmp\"\nrate = 10\n";
        let p = compile(text).policy;
        let f = p.floods();
        let dmz = p.zones().id("dmz").unwrap();
        let ids = |k, s, d| f.applicable(k, s, d).map(|(i, _)| i).collect::<Vec<_>>();
        assert_eq!(ids(FloodKind::Syn, ZoneId::WAN, dmz), [0, 1]);
        assert_eq!(ids(FloodKind::Syn, dmz, ZoneId::WAN), [1]);
        assert_eq!(ids(FloodKind::Icmp, dmz, dmz), [2]);
        assert_eq!(ids(FloodKind::Udp, dmz, dmz), Vec::<usize>::new());
        assert!(f.watches(FloodKind::Syn) && !f.watches(FloodKind::Udp));
    }
}
