//! Ingress inspection: the ingress chain judges each live packet as its sender sent it, before
//! the flow table. A dropped packet goes no further; a rejected one is answered.
//!
//! This stage is the only maker of [`PassedIngress`], the proof that a packet of the current
//! batch passed ingress inspection: the egress stage needs one to clear a packet for transmit.
//! [`Admissions`] holds this batch's proofs; it is reset here for every batch, so no proof
//! outlives its batch, and later stages can only revoke a proof (drop the packet), never make
//! one.
//!
//! Nothing here allocates per packet: views are built in a recycled vector.

use super::egress::RejectAt;
use super::{AlertNotice, Batch, DropNotice, Observer, Worker, recycle};
use crate::MAX_BATCH;
use crate::inspect::{PacketView, Stage, Verdict};

/// Proof that the packet in a slot of the current batch passed ingress inspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PassedIngress {
    slot: u8,
}

impl PassedIngress {
    /// The packet's slot in the batch.
    #[inline]
    pub(super) fn slot(self) -> usize {
        usize::from(self.slot)
    }
}

/// This batch's ingress proofs, one per slot that passed.
#[derive(Debug, Clone)]
pub(super) struct Admissions {
    passed: [Option<PassedIngress>; MAX_BATCH],
}

impl Admissions {
    /// No packet admitted.
    pub(super) fn new() -> Self {
        Admissions {
            passed: [None; MAX_BATCH],
        }
    }

    /// The proof for slot `i`, if its packet passed ingress and was not dropped since.
    #[inline]
    pub(super) fn get(&self, i: usize) -> Option<PassedIngress> {
        self.passed.get(i).copied().flatten()
    }

    /// True when slot `i` holds a proof.
    #[inline]
    pub(super) fn is_admitted(&self, i: usize) -> bool {
        self.get(i).is_some()
    }

    /// Takes slot `i`'s proof away: its packet was dropped after ingress.
    #[inline]
    pub(super) fn revoke(&mut self, i: usize) {
        if let Some(p) = self.passed.get_mut(i) {
            *p = None;
        }
    }

    /// Admits exactly the slots below `n` whose `alive` is set (every other proof goes).
    fn admit_alive(&mut self, alive: &[bool], n: usize) {
        for (i, p) in self.passed.iter_mut().enumerate() {
            *p = (i < n && alive.get(i).copied().unwrap_or(false))
                .then_some(PassedIngress { slot: i as u8 });
        }
    }
}

impl Worker {
    /// Runs the ingress chain over the packets still alive and admits those that pass; returns
    /// how many were admitted.
    pub(super) fn ingress_stage(
        &mut self,
        batch: &Batch,
        live: usize,
        obs: &mut dyn Observer,
    ) -> usize {
        let n = batch.len;
        self.counters.ingress_inspected += live as u64;
        if self.ingress.is_empty() {
            self.counters.ingress_passed += live as u64;
            self.admitted.admit_alive(&self.alive, n);
            return live;
        }
        let mut views = recycle(std::mem::take(&mut self.views));
        let mut map = [0u8; MAX_BATCH];
        for i in 0..n {
            if self.alive[i] {
                map[views.len()] = i as u8;
                let b = &batch.bufs[i];
                views.push(PacketView {
                    stage: Stage::Ingress,
                    in_port: b.in_port,
                    out_port: None,
                    frame: b.frame(),
                    parsed: b.parsed(),
                    key: &self.keys[i],
                    meta: &b.meta,
                    time_ns: batch.times[i],
                });
            }
        }
        let m = views.len();
        self.ingress.run(&views, &mut self.verdicts[..m]);
        let mut rejected = 0u32;
        for j in 0..m {
            let i = usize::from(map[j]);
            let v = self.verdicts[j];
            match v {
                Verdict::Pass => self.counters.ingress_passed += 1,
                Verdict::Alert(reason) => {
                    self.counters.ingress_passed += 1;
                    self.counters.ingress_alerts += 1;
                    obs.on_alert(&AlertNotice {
                        time_ns: batch.times[i],
                        number: batch.numbers[i],
                        position: batch.positions[i],
                        in_port: views[j].in_port,
                        out_port: None,
                        frame: views[j].frame,
                        parsed: views[j].parsed,
                        reason,
                        stage: Stage::Ingress,
                    });
                }
                Verdict::Drop(reason) | Verdict::Reject(reason) => {
                    self.alive[i] = false;
                    self.counters.verdict_drop(Stage::Ingress, reason);
                    let name = format!("ingress:{}:{}", reason.engine, reason.code);
                    obs.on_drop(&DropNotice {
                        time_ns: batch.times[i],
                        number: batch.numbers[i],
                        position: batch.positions[i],
                        in_port: views[j].in_port,
                        out_port: None,
                        frame: views[j].frame,
                        parsed: views[j].parsed,
                        reason: &name,
                        stage: Some(Stage::Ingress),
                    });
                    if matches!(v, Verdict::Reject(_)) {
                        rejected |= 1 << i;
                    }
                }
            }
        }
        self.views = recycle(views);
        self.admitted.admit_alive(&self.alive, n);
        // Answers are queued once the views are gone (they need the worker's copy pool).
        while rejected != 0 {
            let i = rejected.trailing_zeros() as usize;
            rejected &= rejected - 1;
            self.queue_reply(batch, i, RejectAt::Ingress);
        }
        self.alive[..n].iter().filter(|a| **a).count()
    }
}
