//! Translation: after ingress inspection, the packets of a connection an engine translates
//! (address and port translation: source NAT, port mapping) are rewritten by the flow
//! actions the engine gave for their direction, before the flow lookup, so that forwarding
//! and egress inspection see the packet as translated. Its flow key is read again.
//!
//! Only packets of translated connections pay anything here: one probe of the connection's
//! flags per packet with a connection, and nothing else, once no translation exists.

use super::egress::{ORIGINAL_HEAD, OriginalHead};
use super::{Batch, Worker};
use crate::counters::DropReason;

impl Worker {
    /// Rewrites the admitted packets of translated connections. A packet the rewrite cannot
    /// apply to (a header it needs is missing) is dropped.
    pub(super) fn translate_stage(&mut self, batch: &mut Batch, obs: &mut dyn super::Observer) {
        if self.translated == 0 {
            return;
        }
        let save_original = !self.egress.is_empty();
        for i in 0..batch.len {
            if !self.admitted.is_admitted(i) {
                continue;
            }
            let Some(c) = self.conn_info[i] else {
                continue;
            };
            let Some(t) = self.conn_flags.get(c.handle).and_then(|f| f.translation) else {
                continue;
            };
            self.rewrite_actions.clear();
            self.rewrite_actions.extend(t.for_direction(c.direction));
            if self.rewrite_actions.is_empty() {
                continue;
            }
            let b = &mut batch.bufs[i];
            if save_original && self.originals[i].is_none() {
                let frame = b.frame();
                let len = frame.len().min(ORIGINAL_HEAD);
                let mut bytes = [0u8; ORIGINAL_HEAD];
                bytes[..len].copy_from_slice(&frame[..len]);
                self.originals[i] = Some(OriginalHead {
                    bytes,
                    len: len as u16,
                    parsed: *b.parsed(),
                });
            }
            self.outputs.clear();
            match flow::execute(&self.rewrite_actions, b, &mut self.outputs) {
                Ok(()) => {
                    self.rewritten |= 1 << i;
                    self.counters.translated += 1;
                    let p = b.parsed();
                    self.keys[i] = flow::FlowKey::extract(b.in_port, b.frame(), p);
                    self.tcp_flags[i] = p.tcp_flags;
                }
                Err(_) => {
                    self.admitted.revoke(i);
                    self.counters.drop(DropReason::ActionFailed);
                    super::observer::notify_drop(
                        obs,
                        batch,
                        i,
                        DropReason::ActionFailed.name(),
                        Some(c),
                    );
                }
            }
        }
    }
}
