//! The body of a `flow` event: Suricata's `flow` object, the summary of a flow when it ends.
//!
//! Field names, order and values are Suricata 7's (`output-json-flow.c`): `pkts_toserver`,
//! `pkts_toclient`, `bytes_toserver`, `bytes_toclient`, `start`, `end`, `age`, `state`, `reason`,
//! `alerted`. The header's 5-tuple of a flow event is the flow's, in the direction of its first
//! packet (client to server). This module must never depend on any flow table's types.
//!
//! Two parts of a Suricata flow record sit outside the `flow` object and are carried here so a
//! flow table fills one value: the `tcp` object Suricata writes after `flow` for TCP flows
//! ([`FlowTcp`]), and `response_icmp_type`/`response_icmp_code`, which it writes in the header
//! after `icmp_code` once the flow has a packet to the client ([`FlowEvent::response_icmp`]).
//! [`crate::EveEvent`] writes both where Suricata does.

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{IcmpTypeCode, Timestamp};

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
    /// The `tcp` object, for TCP flows; written after `flow`, not inside it.
    #[serde(skip)]
    pub tcp: Option<FlowTcp>,
    /// The ICMP type and code of the first packet to the client, for ICMP flows that have one;
    /// written in the header as `response_icmp_type` and `response_icmp_code`.
    #[serde(skip)]
    pub response_icmp: Option<IcmpTypeCode>,
}

/// A TCP session's state as Suricata 7's stream engine names it (`StreamTcpStateAsString`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FlowTcpState {
    /// No session state yet.
    #[serde(rename = "none")]
    None,
    /// SYN seen from the client.
    #[serde(rename = "syn_sent")]
    SynSent,
    /// SYN-ACK seen from the server.
    #[serde(rename = "syn_recv")]
    SynRecv,
    /// Handshake complete.
    #[serde(rename = "established")]
    Established,
    /// The server sent a FIN first.
    #[serde(rename = "fin_wait1")]
    FinWait1,
    /// The client acknowledged the server's FIN.
    #[serde(rename = "fin_wait2")]
    FinWait2,
    /// Both FINs seen after the server closed first.
    #[serde(rename = "time_wait")]
    TimeWait,
    /// Both FINs seen after the client closed first; waiting for the last ACK.
    #[serde(rename = "last_ack")]
    LastAck,
    /// The client sent a FIN first.
    #[serde(rename = "close_wait")]
    CloseWait,
    /// Both sides sent a FIN before either was acknowledged.
    #[serde(rename = "closing")]
    Closing,
    /// Closed by RST or by the last ACK.
    #[serde(rename = "closed")]
    Closed,
}

/// The `tcp` object of a TCP flow record, as Suricata 7 writes it (`EveFlowLogJSON`):
/// `tcp_flags`, `tcp_flags_ts`, `tcp_flags_tc` as two hex digits, then `syn`, `fin`, `rst`,
/// `psh`, `ack`, `urg`, `ecn`, `cwr` for each flag seen (set ones only, always `true`), then
/// `state`, `ts_gap`/`tc_gap` when true, and the stream buffers' `ts_max_regions` and
/// `tc_max_regions`. Suricata writes everything after the flag booleans only for flows that
/// have a TCP session (began with a SYN), and all-zero flags for the others.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowTcp {
    /// Union of the TCP flags (the low eight bits: CWR ECE URG ACK PSH RST SYN FIN) seen.
    pub tcp_flags: u8,
    /// Flags seen to the server.
    pub tcp_flags_ts: u8,
    /// Flags seen to the client.
    pub tcp_flags_tc: u8,
    /// The session's state, if there is a session.
    pub state: Option<FlowTcpState>,
    /// A gap (lost data) in the stream to the server.
    pub ts_gap: bool,
    /// A gap in the stream to the client.
    pub tc_gap: bool,
    /// Stream-reassembly detail Suricata reports: the most regions the stream to the server
    /// needed. `None` where no reassembly ran (a connection table alone has none to report).
    pub ts_max_regions: Option<u32>,
    /// The same for the stream to the client.
    pub tc_max_regions: Option<u32>,
}

/// `(bit, name)` in the order Suricata's `EveTcpFlags` writes them.
const TCP_FLAG_NAMES: [(u8, &str); 8] = [
    (0x02, "syn"),
    (0x01, "fin"),
    (0x04, "rst"),
    (0x08, "psh"),
    (0x10, "ack"),
    (0x20, "urg"),
    (0x40, "ecn"),
    (0x80, "cwr"),
];

/// Two lower-case hex digits, as Suricata's `%02x`.
struct Hex2(u8);

impl Serialize for Hex2 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let b = [
            DIGITS[usize::from(self.0 >> 4)],
            DIGITS[usize::from(self.0 & 15)],
        ];
        serializer.serialize_str(std::str::from_utf8(&b).unwrap_or("00"))
    }
}

impl Serialize for FlowTcp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("tcp_flags", &Hex2(self.tcp_flags))?;
        map.serialize_entry("tcp_flags_ts", &Hex2(self.tcp_flags_ts))?;
        map.serialize_entry("tcp_flags_tc", &Hex2(self.tcp_flags_tc))?;
        for (bit, name) in TCP_FLAG_NAMES {
            if self.tcp_flags & bit != 0 {
                map.serialize_entry(name, &true)?;
            }
        }
        if let Some(state) = &self.state {
            map.serialize_entry("state", state)?;
        }
        if self.tc_gap {
            map.serialize_entry("tc_gap", &true)?;
        }
        if self.ts_gap {
            map.serialize_entry("ts_gap", &true)?;
        }
        if let Some(n) = &self.ts_max_regions {
            map.serialize_entry("ts_max_regions", n)?;
        }
        if let Some(n) = &self.tc_max_regions {
            map.serialize_entry("tc_max_regions", n)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for FlowTcp {
    /// Reads the object back; the flag booleans are implied by `tcp_flags` and not read.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        #[derive(Deserialize)]
        struct Raw<'a> {
            #[serde(borrow)]
            tcp_flags: std::borrow::Cow<'a, str>,
            #[serde(borrow)]
            tcp_flags_ts: std::borrow::Cow<'a, str>,
            #[serde(borrow)]
            tcp_flags_tc: std::borrow::Cow<'a, str>,
            state: Option<FlowTcpState>,
            #[serde(default)]
            ts_gap: bool,
            #[serde(default)]
            tc_gap: bool,
            ts_max_regions: Option<u32>,
            tc_max_regions: Option<u32>,
        }
        let raw = Raw::deserialize(deserializer)?;
        let hex = |key: &'static str, text: &str| {
            u8::from_str_radix(text, 16).map_err(|_| {
                D::Error::custom(format_args!("{key}: {text:?} is not two hex digits"))
            })
        };
        Ok(FlowTcp {
            tcp_flags: hex("tcp_flags", &raw.tcp_flags)?,
            tcp_flags_ts: hex("tcp_flags_ts", &raw.tcp_flags_ts)?,
            tcp_flags_tc: hex("tcp_flags_tc", &raw.tcp_flags_tc)?,
            state: raw.state,
            ts_gap: raw.ts_gap,
            tc_gap: raw.tc_gap,
            ts_max_regions: raw.ts_max_regions,
            tc_max_regions: raw.tc_max_regions,
        })
    }
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
            tcp: None,
            response_icmp: None,
        };
        let json = serde_json::to_string(&flow).unwrap();
        assert_eq!(
            json,
            r#"{"pkts_toserver":5,"pkts_toclient":4,"bytes_toserver":400,"bytes_toclient":3000,"start":"2026-11-23T18:51:40.000010+0000","end":"2026-11-23T18:52:00.000005+0000","age":20,"state":"closed","reason":"tcp_reuse","alerted":false}"#
        );
        assert_eq!(serde_json::from_str::<FlowEvent>(&json).unwrap(), flow);
    }

    #[test]
    fn tcp_object_matches_suricata_7() {
        // Suricata 7.0.10's `tcp` object of a refused connection (SYN, then RST-ACK).
        let suricata = r#"{"tcp_flags":"16","tcp_flags_ts":"02","tcp_flags_tc":"14","syn":true,"rst":true,"ack":true,"state":"closed","ts_max_regions":1,"tc_max_regions":1}"#;
        let tcp: FlowTcp = serde_json::from_str(suricata).unwrap();
        assert_eq!(
            tcp,
            FlowTcp {
                tcp_flags: 0x16,
                tcp_flags_ts: 0x02,
                tcp_flags_tc: 0x14,
                state: Some(FlowTcpState::Closed),
                ts_gap: false,
                tc_gap: false,
                ts_max_regions: Some(1),
                tc_max_regions: Some(1),
            }
        );
        assert_eq!(serde_json::to_string(&tcp).unwrap(), suricata);
        // A flow without a session: zero flags, no state.
        let none = FlowTcp::default();
        assert_eq!(
            serde_json::to_string(&none).unwrap(),
            r#"{"tcp_flags":"00","tcp_flags_ts":"00","tcp_flags_tc":"00"}"#
        );
        let all = FlowTcp {
            tcp_flags: 0xff,
            state: Some(FlowTcpState::FinWait1),
            ..FlowTcp::default()
        };
        assert_eq!(
            serde_json::to_string(&all).unwrap(),
            r#"{"tcp_flags":"ff","tcp_flags_ts":"00","tcp_flags_tc":"00","syn":true,"fin":true,"rst":true,"psh":true,"ack":true,"urg":true,"ecn":true,"cwr":true,"state":"fin_wait1"}"#
        );
        assert!(
            serde_json::from_str::<FlowTcp>(
                r#"{"tcp_flags":"zz","tcp_flags_ts":"00","tcp_flags_tc":"00"}"#
            )
            .is_err()
        );
    }

    #[test]
    fn age_never_underflows() {
        let t = |s| Timestamp::new(s, 0);
        assert_eq!(FlowEvent::age_between(t(10), t(5)), 0);
        assert_eq!(FlowEvent::age_between(t(i64::MIN), t(i64::MAX)), u64::MAX);
        assert_eq!(FlowEvent::age_between(t(-1), t(1)), 2);
    }
}
