//! Reports of dropped and alerted packets: the [`Observer`] trait and its notices.
//!
//! Observers are called only for dropped or alerted packets, never for plain forwarding, so
//! they may allocate; the forwarding path must never call them.

use wire::ParsedPacket;

use super::Batch;
use crate::counters::DropReason;
use crate::inspect::{Reason, Stage};
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
}

/// An alert raised by an inspection engine on a packet that went on.
#[derive(Debug, Clone, Copy)]
pub struct AlertNotice<'a> {
    pub time_ns: u64,
    pub number: u64,
    pub position: u64,
    pub in_port: PortId,
    pub out_port: Option<PortId>,
    pub frame: &'a [u8],
    pub parsed: &'a ParsedPacket,
    pub reason: Reason,
    pub stage: Stage,
}

/// Receives drops and alerts as they happen (EVE output, tests). Called only for dropped or
/// alerted packets, never for plain forwarding.
pub trait Observer {
    /// A packet (or one output copy) was dropped.
    fn on_drop(&mut self, _notice: &DropNotice<'_>) {}
    /// An engine raised an alert.
    fn on_alert(&mut self, _notice: &AlertNotice<'_>) {}
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;
impl Observer for NoObserver {}

/// Tells `obs` that the packet in slot `i` was dropped for `reason` by the datapath itself
/// (no inspection stage, no output): the frame as it is now, with its parse.
pub(super) fn notify_drop(obs: &mut dyn Observer, batch: &Batch, i: usize, reason: DropReason) {
    if let (Some(b), Some(&time_ns), Some(&number)) =
        (batch.bufs.get(i), batch.times.get(i), batch.numbers.get(i))
    {
        obs.on_drop(&DropNotice {
            time_ns,
            number,
            position: batch.positions[i],
            in_port: b.in_port,
            out_port: None,
            frame: b.frame(),
            parsed: b.parsed(),
            reason: reason.name(),
            stage: None,
        });
    }
}
