//! Idle timeouts per protocol and flow state, in whole seconds, with Suricata 7's defaults.
//!
//! Source: Suricata 7.0 `src/flow-private.h` (`FLOW_IPPROTO_TCP_NEW_TIMEOUT` and friends),
//! which apply when `flow-timeouts` is absent from `suricata.yaml`:
//!
//! | protocol | new | established | closed |
//! |---|---|---|---|
//! | TCP | 30 | 300 | 10 |
//! | UDP | 30 | 300 | 0 |
//! | ICMP | 30 | 300 | 0 |
//! | other (default) | 30 | 300 | 0 |
//!
//! (Suricata maps ICMPv6 and SCTP to the default row, which has the same values as ICMP.) The
//! `suricata.yaml` Suricata ships overrides some of these (TCP established 120 s, for one);
//! the comparison with `suricata -r` in this crate's tests runs without that file, so the
//! built-in values are the ones to match. As in Suricata (`FlowIsTimedOut`), a connection whose
//! last packet was at second `s` times out once the clock's whole second is beyond
//! `s + timeout`.

/// Timeouts of one protocol, by flow state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateTimeouts {
    /// Packets seen one way only (TCP: handshake not complete).
    pub new: u32,
    /// Both ways seen (TCP: handshake complete, until closing).
    pub established: u32,
    /// TCP closed by FIN or RST.
    pub closed: u32,
}

/// Timeouts for every protocol class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    pub tcp: StateTimeouts,
    pub udp: StateTimeouts,
    pub icmp: StateTimeouts,
    /// Every other protocol, ICMPv6 and SCTP included.
    pub other: StateTimeouts,
}

impl Timeouts {
    /// Suricata 7's built-in defaults (see the module documentation).
    pub const SURICATA_7: Timeouts = Timeouts {
        tcp: StateTimeouts {
            new: 30,
            established: 300,
            closed: 10,
        },
        udp: StateTimeouts {
            new: 30,
            established: 300,
            closed: 0,
        },
        icmp: StateTimeouts {
            new: 30,
            established: 300,
            closed: 0,
        },
        other: StateTimeouts {
            new: 30,
            established: 300,
            closed: 0,
        },
    };

    /// The timeout of timer class `class` (see `table::class_of`).
    pub(crate) fn of_class(&self, class: usize) -> u32 {
        let p = match class / 3 {
            0 => &self.tcp,
            1 => &self.udp,
            2 => &self.icmp,
            _ => &self.other,
        };
        match class % 3 {
            0 => p.new,
            1 => p.established,
            _ => p.closed,
        }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts::SURICATA_7
    }
}
