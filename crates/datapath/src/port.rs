//! The port model: what a port is (a VM's vNIC, the uplink, a gateway vNIC, an internal port),
//! which bridge it belongs to, how it treats VLAN tags, and which addresses are bound to it.
//!
//! The port table is read by the slow path only; the fast path knows ports by [`PortId`].

use std::net::IpAddr;

pub use flow::PortId;

/// What sits behind a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortKind {
    /// A virtual machine's vNIC (TAP, vhost-user, veth).
    Vm,
    /// The uplink to the physical network.
    Uplink,
    /// A vNIC of the security gateway between subnets.
    Gateway,
    /// A port of the host itself.
    Internal,
}

impl PortKind {
    /// The name used in configuration files and reports.
    pub fn name(self) -> &'static str {
        match self {
            PortKind::Vm => "vm",
            PortKind::Uplink => "uplink",
            PortKind::Gateway => "gateway",
            PortKind::Internal => "internal",
        }
    }
}

/// How a port treats 802.1Q tags.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VlanMode {
    /// No VLANs: frames are untagged and belong to the bridge's untagged domain (VLAN 0).
    Untagged,
    /// Access port: frames on the wire are untagged and belong to this VLAN inside the bridge.
    Access(u16),
    /// Trunk: tagged frames carry their VLAN (only `allowed` ones, or all when empty); untagged
    /// frames belong to `native` (dropped when `None`).
    Trunk {
        allowed: Vec<u16>,
        native: Option<u16>,
    },
}

impl VlanMode {
    /// The bridge-internal VLAN of a frame entering with tag `tag` (`None` = untagged), or
    /// `None` when the port does not admit it. VLAN 0 is the untagged domain. A priority tag
    /// (VID 0) counts as untagged.
    pub fn admit(&self, tag: Option<u16>) -> Option<u16> {
        let tag = tag.filter(|&v| v != 0);
        match (self, tag) {
            (VlanMode::Untagged, None) => Some(0),
            (VlanMode::Untagged, Some(_)) => None,
            (VlanMode::Access(v), None) => Some(*v),
            (VlanMode::Access(_), Some(_)) => None,
            (VlanMode::Trunk { native, .. }, None) => *native,
            (VlanMode::Trunk { allowed, native }, Some(v)) => {
                if Some(v) == *native {
                    // A native VLAN arriving tagged is accepted as that VLAN.
                    Some(v)
                } else if allowed.is_empty() || allowed.binary_search(&v).is_ok() {
                    Some(v)
                } else {
                    None
                }
            }
        }
    }

    /// How a frame of bridge VLAN `vlan` leaves this port: `None` when it may not,
    /// `Some(None)` untagged, `Some(Some(v))` tagged with `v`.
    pub fn egress(&self, vlan: u16) -> Option<Option<u16>> {
        match self {
            VlanMode::Untagged => (vlan == 0).then_some(None),
            VlanMode::Access(v) => (*v == vlan).then_some(None),
            VlanMode::Trunk { allowed, native } => {
                if *native == Some(vlan) {
                    Some(None)
                } else if vlan != 0 && (allowed.is_empty() || allowed.binary_search(&vlan).is_ok())
                {
                    Some(Some(vlan))
                } else {
                    None
                }
            }
        }
    }
}

/// One port of a bridge, as configured. Its [`PortId`] is its index in the [`PortTable`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    pub name: String,
    pub kind: PortKind,
    /// Index into the configuration's bridges.
    pub bridge: usize,
    pub vlan: VlanMode,
    /// MAC addresses bound to the port; in replay, frames from these source MACs enter here.
    pub macs: Vec<[u8; 6]>,
    pub ips: Vec<IpAddr>,
    /// The pcapng interface id whose packets enter this port in replay.
    pub interface: Option<u32>,
}

/// All ports, indexed by [`PortId`] (ids are dense, starting at 0).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortTable {
    ports: Vec<Port>,
}

impl PortTable {
    /// An empty table.
    pub fn new() -> Self {
        PortTable::default()
    }

    /// Adds a port and returns its id. Fails when the id space is used up.
    pub fn add(&mut self, port: Port) -> Option<PortId> {
        let id = PortId::try_from(self.ports.len())
            .ok()
            .filter(|&id| id < crate::MAX_PORTS)?;
        self.ports.push(port);
        Some(id)
    }

    /// The port with this id.
    pub fn get(&self, id: PortId) -> Option<&Port> {
        self.ports.get(usize::from(id))
    }

    /// Mutable access to a port (configuration changes).
    pub fn get_mut(&mut self, id: PortId) -> Option<&mut Port> {
        self.ports.get_mut(usize::from(id))
    }

    /// Every port with its id, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (PortId, &Port)> {
        self.ports.iter().enumerate().map(|(i, p)| (i as PortId, p))
    }

    /// Number of ports.
    pub fn len(&self) -> usize {
        self.ports.len()
    }

    /// True when there is no port.
    pub fn is_empty(&self) -> bool {
        self.ports.is_empty()
    }

    /// The port a name refers to.
    pub fn by_name(&self, name: &str) -> Option<(PortId, &Port)> {
        self.iter().find(|(_, p)| p.name == name)
    }

    /// The port bound to a MAC address.
    pub fn by_mac(&self, mac: [u8; 6]) -> Option<(PortId, &Port)> {
        self.iter().find(|(_, p)| p.macs.contains(&mac))
    }

    /// The port fed by a pcapng interface id.
    pub fn by_interface(&self, interface: u32) -> Option<(PortId, &Port)> {
        self.iter().find(|(_, p)| p.interface == Some(interface))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_port() {
        let m = VlanMode::Access(10);
        assert_eq!(m.admit(None), Some(10));
        assert_eq!(m.admit(Some(0)), Some(10), "priority tag is untagged");
        assert_eq!(m.admit(Some(10)), None);
        assert_eq!(m.egress(10), Some(None));
        assert_eq!(m.egress(20), None);
    }

    #[test]
    fn trunk_port() {
        let m = VlanMode::Trunk {
            allowed: vec![10, 20],
            native: Some(1),
        };
        assert_eq!(m.admit(Some(10)), Some(10));
        assert_eq!(m.admit(Some(30)), None);
        assert_eq!(m.admit(None), Some(1));
        assert_eq!(m.admit(Some(1)), Some(1));
        assert_eq!(m.egress(20), Some(Some(20)));
        assert_eq!(m.egress(1), Some(None));
        assert_eq!(m.egress(30), None);
        assert_eq!(m.egress(0), None);
        let all = VlanMode::Trunk {
            allowed: vec![],
            native: None,
        };
        assert_eq!(all.admit(Some(4094)), Some(4094));
        assert_eq!(all.admit(None), None);
        assert_eq!(all.egress(7), Some(Some(7)));
    }

    #[test]
    fn untagged_port() {
        let m = VlanMode::Untagged;
        assert_eq!(m.admit(None), Some(0));
        assert_eq!(m.admit(Some(5)), None);
        assert_eq!(m.egress(0), Some(None));
        assert_eq!(m.egress(5), None);
    }
}
