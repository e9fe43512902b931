//! Reports of what happened to packets and connections: the [`Observer`] trait and its notices
//! (a dropped packet, an engine's alerts, a connection that ended).
//!
//! Observers are called only for dropped or alerted packets and ended connections, never for
//! plain forwarding, so they may allocate; the forwarding path must never call them.

use conn::ConnRecord;
use engine::{AlertRecord, Alerts, ConnInfo, Stage};
use wire::ParsedPacket;

use super::Batch;
use crate::port::PortId;

/// A dropped packet, as reported to an [`Observer`].
#[derive(Debug, Clone, Copy)]
pub struct DropNotice<'a> {
    pub time_ns: u64,
    /// The packet's number at its source (capture record number).
    pub number: u64,
    /// The packet's position in the arrival order.
    pub position: u64,
    pub in_port: PortId,
    pub out_port: Option<PortId>,
    pub frame: &'a [u8],
    pub parsed: &'a ParsedPacket,
    /// `upcall-meter`, `hairpin`, ... or `<stage>:<engine>:<code>` for an engine's verdict.
    pub reason: &'a str,
    pub stage: Option<Stage>,
    /// The packet's connection, when it had one.
    pub conn: Option<ConnInfo>,
}

/// An engine's alert on a packet (whatever happened to the packet after).
#[derive(Debug, Clone, Copy)]
pub struct AlertNotice<'a> {
    pub time_ns: u64,
    pub number: u64,
    pub position: u64,
    pub in_port: PortId,
    pub out_port: Option<PortId>,
    /// The packet as the engine saw it.
    pub frame: &'a [u8],
    pub parsed: &'a ParsedPacket,
    pub stage: Stage,
    pub conn: Option<ConnInfo>,
    /// The connection's application protocol, when known.
    pub app_proto: Option<&'static str>,
    /// The arena the alert is in, and the alert.
    pub alerts: &'a Alerts,
    pub alert: &'a AlertRecord,
}

/// A connection that ended, with the alerts engines raised about it as it ended.
#[derive(Debug, Clone, Copy)]
pub struct FlowNotice<'a> {
    /// The position in the arrival order it ended before (`u64::MAX`: the end of input).
    pub position: u64,
    pub record: &'a ConnRecord,
    pub alerts: &'a Alerts,
}

/// Receives drops, alerts and ended connections as they happen (EVE output, tests).
pub trait Observer {
    /// A packet (or one output copy) was dropped.
    fn on_drop(&mut self, _notice: &DropNotice<'_>) {}
    /// An engine raised an alert.
    fn on_alert(&mut self, _notice: &AlertNotice<'_>) {}
    /// A connection ended.
    fn on_flow(&mut self, _notice: &FlowNotice<'_>) {}
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;
impl Observer for NoObserver {}

/// Tells `obs` that the packet in slot `i` was dropped for `reason` by the datapath itself or
/// its connection stage (no inspection stage, no output): the frame as it is now.
pub(super) fn notify_drop(
    obs: &mut dyn Observer,
    batch: &Batch,
    i: usize,
    reason: &str,
    conn: Option<ConnInfo>,
) {
    if let (Some(b), Some(&time_ns), Some(&number), Some(&position)) = (
        batch.bufs.get(i),
        batch.times.get(i),
        batch.numbers.get(i),
        batch.positions.get(i),
    ) {
        obs.on_drop(&DropNotice {
            time_ns,
            number,
            position,
            in_port: b.in_port,
            out_port: None,
            frame: b.frame(),
            parsed: b.parsed(),
            reason,
            stage: None,
            conn,
        });
    }
}
