//! Why the datapath drops a packet: one set of reasons for every layer (a flow's drop action,
//! the slow path's decision, the pipeline's own checks), counted per reason and named in EVE
//! `drop` events. Inspection engines give their own reasons (an engine name and a code) beside
//! these.

/// Why the datapath dropped a packet (inspection engines give their own reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// Too short to hold an Ethernet header, or otherwise not a frame the switch can handle.
    Malformed,
    /// The input port could not be determined (replay: a multicast source MAC).
    NoInputPort,
    /// The input port is not known to the slow path.
    UnknownPort,
    /// A new flow's upcall was refused by the upcall meter.
    UpcallMeter,
    /// The input port does not admit the frame's VLAN tag (or lack of one).
    VlanNotAllowed,
    /// A multicast or broadcast source MAC address.
    InvalidSourceMac,
    /// The destination MAC was learnt on the input port itself.
    Hairpin,
    /// Flooding found no other port in the bridge and VLAN, or no route.
    NoDestination,
    /// A policy rule said drop or deny (installed in the flow table).
    Policy,
    /// Port security: the source MAC/IP is not the port's.
    PortSecurity,
    /// A flood-guard threshold was exceeded.
    Flood,
    /// The TTL or hop limit ran out (`DecIpTtl` on 0 or 1).
    TtlExpired,
    /// An action could not be applied (no headroom, malformed header).
    ActionFailed,
    /// No packet buffer was free for a copy.
    PoolExhausted,
    /// A frame without an Ethernet header that carries no IP: nothing to switch it on.
    NotEthernet,
    /// An IP fragment whose datagram was not completed in time.
    DefragTimeout,
    /// An IP fragment over a reassembly limit (memory, fragments per datagram, size).
    DefragLimit,
    /// An IP fragment that overlaps another in a way the reassembly policy refuses.
    DefragInvalid,
}

impl DropReason {
    /// Every reason, in report order (and declaration order: `ALL[r as usize] == r`).
    pub const ALL: [DropReason; 18] = [
        DropReason::Malformed,
        DropReason::NoInputPort,
        DropReason::UnknownPort,
        DropReason::UpcallMeter,
        DropReason::VlanNotAllowed,
        DropReason::InvalidSourceMac,
        DropReason::Hairpin,
        DropReason::NoDestination,
        DropReason::Policy,
        DropReason::PortSecurity,
        DropReason::Flood,
        DropReason::TtlExpired,
        DropReason::ActionFailed,
        DropReason::PoolExhausted,
        DropReason::NotEthernet,
        DropReason::DefragTimeout,
        DropReason::DefragLimit,
        DropReason::DefragInvalid,
    ];

    /// The kebab-case name used in counters, reports and EVE `drop.reason`.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Malformed => "malformed",
            DropReason::NoInputPort => "no-input-port",
            DropReason::UnknownPort => "unknown-port",
            DropReason::UpcallMeter => "upcall-meter",
            DropReason::VlanNotAllowed => "vlan-not-allowed",
            DropReason::InvalidSourceMac => "invalid-source-mac",
            DropReason::Hairpin => "hairpin",
            DropReason::NoDestination => "no-destination",
            DropReason::Policy => "policy",
            DropReason::PortSecurity => "port-security",
            DropReason::Flood => "flood",
            DropReason::TtlExpired => "ttl-expired",
            DropReason::ActionFailed => "action-failed",
            DropReason::PoolExhausted => "pool-exhausted",
            DropReason::NotEthernet => "not-ethernet",
            DropReason::DefragTimeout => "defrag-timeout",
            DropReason::DefragLimit => "defrag-limit",
            DropReason::DefragInvalid => "defrag-invalid",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_all_is_in_declaration_order() {
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DropReason::ALL.len());
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
    }
}
