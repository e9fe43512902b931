//! Events and alerts shared by every Rampart engine, and their Suricata EVE JSON form.
//!
//! Every engine (datapath, firewall, IDS, EDR) reports through these types, and the lines they
//! write are read by tools built for Suricata's EVE (jq pipelines, Splunk and Elastic ingest,
//! Evebox). So where Suricata 7 has a concept, the field names, order and value spellings here
//! are Suricata's; what only Rampart has lives under clearly Rampart names (such as
//! `stats.rampart.<engine>`). This crate must never depend on an engine's types: reasons,
//! signatures and counter names are strings its callers supply.
//!
//! - [`EveEvent`]: the common header (`timestamp`, `flow_id`, `in_iface`, `event_type`, `vlan`,
//!   the 5-tuple, …) and an [`EventBody`]: [`AlertEvent`], [`DropEvent`], [`FlowEvent`],
//!   [`StatsEvent`], or an app-layer transaction's [`HttpRecord`], [`DnsRecord`] or
//!   [`TlsRecord`].
//! - [`Timestamp`]: seconds and nanoseconds, written as `2026-11-23T18:52:00.123456+0000`.
//! - [`Endpoints`]: the 5-tuple from raw values, with Suricata's protocol names ([`EveProto`]).
//! - [`EveWriter`]: newline-delimited output, buffered, counting what it wrote.
//!
//! Everything serializes with serde and reads back; an event built from borrowed strings is
//! written without allocating.
//!
//! # Example
//!
//! ```
//! use std::borrow::Cow;
//! use events::{
//!     DropEvent, DropIp, DropIpv4, DropTcp, DropTransport, Endpoints, EveEvent, EveWriter,
//!     Timestamp, PKT_SRC_WIRE,
//! };
//!
//! let drop = DropEvent {
//!     ip: Some(DropIp::V4(DropIpv4 { len: 60, tos: 0, ttl: 64, ipid: 1 })),
//!     transport: Some(DropTransport::Tcp(DropTcp::from_header(1000, 0, 64240, 0x02, 0, 0))),
//!     reason: Some(Cow::Borrowed("zone policy")),
//! };
//! // EVE holds microseconds; sub-microsecond digits would not survive the round trip below.
//! let mut event = EveEvent::new(Timestamp::new(1_795_459_920, 123_456_000), drop);
//! event.in_iface = Some(Cow::Borrowed("vnet0"));
//! event.endpoints = Some(Endpoints::new(
//!     "10.0.0.2".parse()?, 40000, "10.0.0.3".parse()?, 22, 6,
//! ));
//! event.pkt_src = Some(Cow::Borrowed(PKT_SRC_WIRE));
//!
//! let mut writer = EveWriter::new(Vec::new());
//! writer.write(&event)?;
//! assert_eq!(writer.events_written(), 1);
//! let line = String::from_utf8(writer.into_inner()?)?;
//! assert!(line.starts_with(r#"{"timestamp":"2026-11-23T18:52:00.123456+0000","in_iface":"vnet0","event_type":"drop","src_ip":"10.0.0.2","src_port":40000,"#));
//! assert!(line.ends_with("\"tcpurgp\":0,\"reason\":\"zone policy\"}}\n"));
//!
//! let back: EveEvent = serde_json::from_str(&line)?;
//! assert_eq!(back, event);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod alert;
mod dns;
mod drop;
mod endpoints;
mod event;
mod flow;
mod http;
mod stats;
mod timestamp;
mod tls;
mod writer;

pub use alert::{AlertAction, AlertEvent};
pub use dns::{DnsAnswer, DnsEntry, DnsQuery, DnsRdata, DnsRecord};
pub use drop::{DropEvent, DropIp, DropIpv4, DropIpv6, DropTcp, DropTransport};
pub use endpoints::{
    Endpoints, EveProto, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP,
    IcmpTypeCode, eve_proto_name, parse_eve_proto, proto_has_ports,
};
pub use event::{EveEvent, EventBody, PKT_SRC_WIRE};
pub use flow::{FlowEndReason, FlowEvent, FlowState, FlowTcp, FlowTcpState};
pub use http::{ContentRange, HttpHeaderRecord, HttpRecord};
pub use stats::{RAMPART_SECTION, StatsEvent, StatsPathError, StatsSection, StatsValue};
pub use timestamp::{Timestamp, TimestampError, UtcDateTime};
pub use tls::{Ja3, TlsClientCert, TlsRecord};
pub use writer::EveWriter;
