//! Where transmitted packets go: the [`TxSink`] trait.
//!
//! A sink takes only [`Cleared`] frames, which only the pipeline's egress stage makes, so no
//! caller can hand a sink a frame that skipped an inspection. A sink must not block the worker
//! for long; sinks that write files stage a batch's frames and hand them on at
//! [`TxSink::flush`].

use super::{Cleared, TxBurst};

/// Where transmitted packets go.
pub trait TxSink {
    /// Sends one frame out of its port.
    fn transmit(&mut self, pkt: &Cleared<'_>);
    /// Sends a burst of a batch's packets, in order. The default hands each to
    /// [`TxSink::transmit`]; sinks that can send many at once (counters, `sendmmsg`, a ring)
    /// override it and save a call per packet.
    fn transmit_burst(&mut self, burst: &TxBurst<'_>) {
        for p in burst.iter() {
            self.transmit(&p);
        }
    }
    /// Called after every batch, so sinks can hand a batch on at once.
    fn flush(&mut self) {}
}
