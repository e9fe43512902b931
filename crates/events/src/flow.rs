//! The body of a `flow` event: Suricata's `flow` object, the summary of a flow when it ends.
//!
//! Field names, order and values are Suricata 7's (`output-json-flow.c`): `pkts_toserver`,
//! `pkts_toclient`, `bytes_toserver`, `bytes_toclient`, `start`, `end`, `age`, `state`, `reason`,
//! `alerted`. The header's 5-tuple of a flow event is the flow's, in the direction of its first
//! packet (client to server). This module must never depend on any flow table's types.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// The state a flow was in when it was logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowState {
    /// Packets seen in one direction only.
    New,
    /// Packets seen in both directions.
    Established,
    /// Closed by the protocol (TCP FIN or RST).
    Closed,
    /// Handed to a bypass (not inspected any further).
    Bypassed,
}

/// Why a flow ended and was logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowEndReason {
    /// Idle past its timeout.
    Timeout,
    /// Evicted early (memory pressure, table full, policy change).
    Forced,
    /// The engine shut down with the flow still open.
    Shutdown,
    /// A new TCP connection reused the flow's 5-tuple.
    TcpReuse,
    /// None of the above.
    Unknown,
}

/// Counters and lifetime of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowEvent {
    /// Packets from client to server.
    pub pkts_toserver: u64,
    /// Packets from server to client.
    pub pkts_toclient: u64,
    /// Bytes from client to server (whole packets, as Suricata counts them).
    pub bytes_toserver: u64,
    /// Bytes from server to client.
    pub bytes_toclient: u64,
    /// Time of the first packet.
    pub start: Timestamp,
    /// Time of the last packet.
    pub end: Timestamp,
    /// Whole seconds from `start` to `end`.
    pub age: u64,
    /// State when logged.
    pub state: FlowState,
    /// Why it was logged.
    pub reason: FlowEndReason,
    /// Whether any alert was raised on the flow.
    pub alerted: bool,
}

impl FlowEvent {
    /// Suricata's `age` for a flow from `start` to `end`: the difference of the whole seconds
    /// (0 if `end` is before `start`).
    pub fn age_between(start: Timestamp, end: Timestamp) -> u64 {
        u64::try_from(i128::from(end.secs()) - i128::from(start.secs())).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_in_suricata_order() {
        let start = Timestamp::new(1_795_459_900, 10_000);
        let end = Timestamp::new(1_795_459_920, 5_000);
        let flow = FlowEvent {
            pkts_toserver: 5,
            pkts_toclient: 4,
            bytes_toserver: 400,
            bytes_toclient: 3000,
            start,
            end,
            age: FlowEvent::age_between(start, end),
            state: FlowState::Closed,
            reason: FlowEndReason::TcpReuse,
            alerted: false,
        };
        let json = serde_json::to_string(&flow).unwrap();
        assert_eq!(
            json,
            r#"{"pkts_toserver":5,"pkts_toclient":4,"bytes_toserver":400,"bytes_toclient":3000,"start":"2026-11-23T18:51:40.000010+0000","end":"2026-11-23T18:52:00.000005+0000","age":20,"state":"closed","reason":"tcp_reuse","alerted":false}"#
        );
        assert_eq!(serde_json::from_str::<FlowEvent>(&json).unwrap(), flow);
    }

    #[test]
    fn age_never_underflows() {
        let t = |s| Timestamp::new(s, 0);
        assert_eq!(FlowEvent::age_between(t(10), t(5)), 0);
        assert_eq!(FlowEvent::age_between(t(i64::MIN), t(i64::MAX)), u64::MAX);
        assert_eq!(FlowEvent::age_between(t(-1), t(1)), 2);
    }
}
