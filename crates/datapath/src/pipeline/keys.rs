//! The flow key of each packet that the plain-IPv4 reading did not cover: read from the bytes
//! where [`FlowKey::from_frame`] can, else from a full parse that is kept in the buffer.
//!
//! Frames without a whole link header are dropped here as malformed. Nothing here allocates.

use flow::FlowKey;
use wire::Layer;

use super::observer::notify_drop;
use super::{Batch, Observer, Worker};
use crate::counters::DropReason;

impl Worker {
    /// Keys of the packets in `other` (bit `i` for slot `i`): read by [`FlowKey::from_frame`]
    /// where it can, else from a full parse (kept in the buffer for whoever needs it next);
    /// drops those without a whole link header. Returns how many it dropped.
    pub(super) fn other_keys(
        &mut self,
        batch: &Batch,
        other: u32,
        obs: &mut dyn Observer,
    ) -> usize {
        let mut dropped = 0;
        let mut m = other;
        while m != 0 {
            let i = m.trailing_zeros() as usize;
            m &= m - 1;
            let Some(b) = batch.bufs.get(i) else {
                continue;
            };
            if let Some((key, flags)) = FlowKey::from_frame(b.in_port, b.frame()) {
                self.keys[i] = key;
                self.tcp_flags[i] = flags;
                continue;
            }
            let p = b.parsed();
            if p.truncated == Some(Layer::Link) {
                self.alive[i] = false;
                dropped += 1;
                self.counters.drop(DropReason::Malformed);
                notify_drop(obs, batch, i, DropReason::Malformed.name(), None);
                continue;
            }
            self.keys[i] = FlowKey::extract(b.in_port, b.frame(), p);
            self.tcp_flags[i] = p.tcp_flags;
        }
        dropped
    }
}
