//! Upcalls: the batch's misses go to the worker's slow path, which decides each and installs a
//! megaflow; the decision's actions are kept for the packet that asked.
//!
//! The slow path may allocate (it installs flows); it is entered once per new flow, never per
//! packet of a known flow.

use flow::{FlowId, FlowKey};

use super::observer::notify_drop;
use super::{Batch, Observer, Worker};
use crate::counters::DropReason;

/// An upcalled packet of the batch: its slot, the flow installed for it (if any) and the
/// range of its actions in `Worker::decided_actions`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Decided {
    pub(super) slot: u8,
    pub(super) flow: Option<FlowId>,
    pub(super) actions: (u32, u32),
}

/// A flow installed by an earlier upcall of the batch.
#[derive(Debug, Clone, Copy)]
pub(super) struct BatchInstall {
    pub(super) masked: FlowKey,
    /// `masked.hash()`: told apart before the keys are compared.
    pub(super) hash: u32,
    /// Index in `Worker::batch_masks`.
    pub(super) mask: u8,
    pub(super) priority: u32,
    /// Index in `Worker::decided`.
    pub(super) decided: u8,
}

impl Worker {
    /// Sends the batch's misses to the slow path, installs what it decides, and
    /// keeps each decision's actions for the packet that asked.
    pub(super) fn upcall_stage(&mut self, batch: &Batch, now: u64, obs: &mut dyn Observer) {
        let n = batch.len;
        self.decided.clear();
        self.decided_actions.clear();
        self.batch_installs.clear();
        self.batch_masks.clear();
        for i in 0..n {
            if !self.admitted.is_admitted(i) || self.flows[i].is_some() {
                continue;
            }
            self.counters.misses += 1;
            // The packet missed the table as it was before this batch, so only a flow installed
            // for an earlier packet of this batch can match it now: check those (at most 31)
            // instead of probing the whole table again.
            if !self.no_install[i]
                && let Some(k) = self.installed_this_batch(i)
            {
                let Decided { flow, actions, .. } = self.decided[k];
                self.decided.push(Decided {
                    slot: i as u8,
                    flow,
                    actions,
                });
                continue;
            }
            self.counters.upcalls += 1;
            let d = &mut self.decision;
            if !self
                .slow
                .upcall_into(&self.keys[i], batch.times[i].max(now), d)
            {
                self.admitted.revoke(i);
                self.counters.drop(DropReason::UpcallMeter);
                notify_drop(
                    obs,
                    batch,
                    i,
                    DropReason::UpcallMeter.name(),
                    self.conn_info[i],
                );
                continue;
            }
            let start = self.decided_actions.len() as u32;
            self.decided_actions.extend_from_slice(&d.actions);
            let actions = (start, self.decided_actions.len() as u32);
            if self.no_install[i] {
                self.decided.push(Decided {
                    slot: i as u8,
                    flow: None,
                    actions,
                });
                continue;
            }
            let evicted_before = self.table.counters().evictions;
            let key = &self.keys[i];
            match self
                .table
                .install(key, &d.mask, d.priority, &d.actions, d.generation, now)
            {
                Ok(id) => {
                    self.counters.flows_installed += 1;
                    if let Some(mac) = d.depends_on {
                        self.dependents.entry(mac).or_default().push(id);
                    }
                    if let Some(bridge) = d.floods {
                        self.flooders.entry(bridge).or_default().push(id);
                    }
                    let mask = match self.batch_masks.iter().position(|m| *m == d.mask) {
                        Some(m) => m,
                        None => {
                            self.batch_masks.push(d.mask);
                            self.batch_masks.len() - 1
                        }
                    };
                    let masked = d.mask.apply(key);
                    self.batch_installs.push(BatchInstall {
                        hash: masked.hash(),
                        masked,
                        mask: mask as u8,
                        priority: d.priority,
                        decided: self.decided.len() as u8,
                    });
                    self.decided.push(Decided {
                        slot: i as u8,
                        flow: Some(id),
                        actions,
                    });
                }
                Err(_) => {
                    self.counters.install_failures += 1;
                    self.decided.push(Decided {
                        slot: i as u8,
                        flow: None,
                        actions,
                    });
                }
            }
            self.counters.flows_evicted += self.table.counters().evictions - evicted_before;
        }
    }

    /// The entry of `decided` whose flow, installed earlier in this batch, matches packet `i`
    /// (the highest priority one). Each distinct mask is applied to the key once, and the
    /// installs are told apart by hash before their keys are compared.
    pub(super) fn installed_this_batch(&self, i: usize) -> Option<usize> {
        if self.batch_installs.is_empty() {
            return None;
        }
        let key = &self.keys[i];
        let mut best: Option<(u32, usize)> = None;
        for (m, mask) in self.batch_masks.iter().enumerate() {
            let masked = mask.apply(key);
            let hash = masked.hash();
            for e in &self.batch_installs {
                if e.hash == hash
                    && usize::from(e.mask) == m
                    && e.masked == masked
                    && best.is_none_or(|(p, _)| e.priority > p)
                {
                    best = Some((e.priority, usize::from(e.decided)));
                }
            }
        }
        best.map(|(_, k)| k)
    }
}
