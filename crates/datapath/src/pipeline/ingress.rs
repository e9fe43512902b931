//! Ingress inspection: the ingress chain judges each live packet as its sender sent it, before
//! the flow table. A dropped packet goes no further; a rejected one is answered.
//!
//! Nothing here allocates per packet: views are built in a recycled vector.

use super::egress::send_reject;
use super::{AlertNotice, Batch, DropNotice, Observer, TxSink, Worker, recycle};
use crate::MAX_BATCH;
use crate::inspect::{PacketView, Stage, Verdict};

impl Worker {
    /// Runs the ingress chain over the `live` packets still alive; returns how many remain.
    pub(super) fn ingress_stage(
        &mut self,
        batch: &Batch,
        live: usize,
        sink: &mut dyn TxSink,
        obs: &mut dyn Observer,
    ) -> usize {
        let n = batch.len;
        self.counters.ingress_inspected += live as u64;
        if self.ingress.is_empty() {
            self.counters.ingress_passed += live as u64;
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
                        in_port: views[j].in_port,
                        out_port: None,
                        frame: views[j].frame,
                        parsed: views[j].parsed,
                        reason: &name,
                        stage: Some(Stage::Ingress),
                    });
                    if matches!(v, Verdict::Reject(_)) {
                        send_reject(
                            &mut self.reply,
                            &mut self.counters,
                            sink,
                            views[j].frame,
                            views[j].parsed,
                            views[j].in_port,
                            batch.times[i],
                        );
                    }
                }
            }
        }
        self.views = recycle(views);
        self.alive[..n].iter().filter(|a| **a).count()
    }
}
