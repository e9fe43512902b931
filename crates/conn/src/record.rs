//! What a connection leaves behind when it ends: a [`ConnRecord`] with everything an EVE `flow`
//! event needs, in Suricata's terms, and its conversion to that event.
//!
//! A record is plain data (no allocation, no reference into the table), handed to the caller
//! by [`crate::ConnTable::expire`], [`crate::ConnTable::drain`] and the callback of
//! [`crate::ConnTable::track`] (evictions and TCP reuse).

use std::net::IpAddr;

use events::{
    Endpoints, EveEvent, FlowEndReason, FlowEvent, FlowState, FlowTcp, IcmpTypeCode, Timestamp,
};

use crate::ConnHandle;

/// The summary of a connection that ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnRecord {
    /// The handle the connection had (its slot may already be reused).
    pub handle: ConnHandle,
    /// The connection's `flow_id`.
    pub flow_id: u64,
    /// The bridge-internal VLAN it was tracked under.
    pub vlan: u16,
    /// The initiator (the sender of the first packet) and its port; ports are 0 for protocols
    /// without them.
    pub src_ip: IpAddr,
    pub src_port: u16,
    /// The responder.
    pub dest_ip: IpAddr,
    pub dest_port: u16,
    /// IP protocol.
    pub proto: u8,
    /// ICMP type and code of the first packet, for ICMP connections.
    pub icmp: Option<(u8, u8)>,
    /// ICMP type and code of the first packet to the client.
    pub response_icmp: Option<(u8, u8)>,
    /// Application protocol, if an engine set it.
    pub app_proto: Option<&'static str>,
    pub pkts_toserver: u64,
    pub pkts_toclient: u64,
    /// Bytes of whole frames, as captured (Suricata's `GET_PKT_LEN`).
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    /// ICMP errors related to the connection that Suricata does not count in it (all but
    /// ICMPv4 unreachables quoting TCP or UDP), and their bytes.
    pub related_pkts: u64,
    pub related_bytes: u64,
    /// Time of the first and last packet, nanoseconds since the epoch.
    pub start_ns: u64,
    pub end_ns: u64,
    /// Flow state when it ended.
    pub state: FlowState,
    /// Why it ended.
    pub reason: FlowEndReason,
    /// Whether an engine marked it alerted.
    pub alerted: bool,
    /// The `tcp` object, for TCP.
    pub tcp: Option<FlowTcp>,
}

fn ts(ns: u64) -> Timestamp {
    Timestamp::new((ns / 1_000_000_000) as i64, (ns % 1_000_000_000) as u32)
}

impl ConnRecord {
    /// The EVE `flow` event of this record, timestamped at its last packet. The header's `vlan`
    /// is left empty: the record holds the bridge-internal VLAN, not the wire tags the caller
    /// may want to log; `in_iface` and `host` are the caller's too.
    pub fn to_eve(&self) -> EveEvent<'static> {
        let start = ts(self.start_ns);
        let end = ts(self.end_ns);
        let flow = FlowEvent {
            pkts_toserver: self.pkts_toserver,
            pkts_toclient: self.pkts_toclient,
            bytes_toserver: self.bytes_toserver,
            bytes_toclient: self.bytes_toclient,
            start,
            end,
            age: FlowEvent::age_between(start, end),
            state: self.state,
            reason: self.reason,
            alerted: self.alerted,
            tcp: self.tcp,
            response_icmp: self.response_icmp.map(|(t, c)| IcmpTypeCode {
                icmp_type: t,
                icmp_code: c,
            }),
        };
        let mut event = EveEvent::new(end, flow);
        event.flow_id = Some(self.flow_id);
        event.endpoints = Some(Endpoints::new(
            self.src_ip,
            self.src_port,
            self.dest_ip,
            self.dest_port,
            self.proto,
        ));
        event.icmp = self.icmp.map(|(t, c)| IcmpTypeCode {
            icmp_type: t,
            icmp_code: c,
        });
        event.app_proto = self.app_proto.map(std::borrow::Cow::Borrowed);
        event
    }
}
