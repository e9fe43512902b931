//! Egress inspection and transmit: each output copy is judged as its receiver will get it, and
//! only a copy that passed both inspections is handed to the sink.
//!
//! Nothing here allocates per packet: views are built in a recycled vector.

use flow::{OffloadMeta, PacketBuf};
use wire::ParsedPacket;

use super::actions::Src;
use super::{AlertNotice, Batch, DropNotice, Observer, TxSink, Worker, recycle};
use crate::MAX_BATCH;
use crate::counters::{DatapathCounters, DropReason};
use crate::inspect::{PacketView, Stage, Verdict};
use crate::port::PortId;
use crate::reject;

impl Worker {
    pub(super) fn egress_stage(
        &mut self,
        batch: &Batch,
        sink: &mut dyn TxSink,
        obs: &mut dyn Observer,
    ) {
        let total = self.egress_list.len();
        if total == 0 {
            return;
        }
        self.counters.egress_inspected += total as u64;
        let copies = &self.copies;
        let frame_of = |src: Src| -> &PacketBuf {
            match src {
                Src::Batch(i) => &batch.bufs[usize::from(i)],
                Src::Copy(c) => &copies[usize::from(c)],
            }
        };
        // With no engine every copy passes: no verdicts to collect, the same checks and counts.
        let engines = !self.egress.is_empty();
        // A copy is parsed here only when an engine will look at it and no parse was made
        // before (or a rewrite could not keep it in step); otherwise the parse the ingress
        // stage or the actions made, kept up to date by the actions, stands.
        if engines {
            self.egress_verdicts.clear();
            self.egress_verdicts.resize(total, Verdict::Pass);
            let mut views = recycle(std::mem::take(&mut self.views));
            let mut start = 0;
            while start < total {
                let end = (start + MAX_BATCH).min(total);
                views.clear();
                for e in &self.egress_list[start..end] {
                    let b = frame_of(e.src);
                    let i = usize::from(e.pkt);
                    views.push(PacketView {
                        stage: Stage::Egress,
                        in_port: b.in_port,
                        out_port: Some(e.port),
                        frame: b.frame(),
                        parsed: b.parsed(),
                        key: &self.keys[i],
                        meta: &b.meta,
                        time_ns: batch.times[i],
                    });
                }
                self.egress
                    .run(&views, &mut self.egress_verdicts[start..end]);
                start = end;
            }
            self.views = recycle(views);
        }
        for (k, e) in self.egress_list.iter().enumerate() {
            let b = frame_of(e.src);
            let i = usize::from(e.pkt);
            let verdict = if engines {
                self.egress_verdicts[k]
            } else {
                Verdict::Pass
            };
            match verdict {
                Verdict::Pass => {}
                Verdict::Alert(reason) => {
                    self.counters.egress_alerts += 1;
                    obs.on_alert(&AlertNotice {
                        time_ns: batch.times[i],
                        number: batch.numbers[i],
                        in_port: b.in_port,
                        out_port: Some(e.port),
                        frame: b.frame(),
                        parsed: b.parsed(),
                        reason,
                        stage: Stage::Egress,
                    });
                }
                v @ (Verdict::Drop(reason) | Verdict::Reject(reason)) => {
                    self.counters.verdict_drop(Stage::Egress, reason);
                    let name = format!("egress:{}:{}", reason.engine, reason.code);
                    obs.on_drop(&DropNotice {
                        time_ns: batch.times[i],
                        number: batch.numbers[i],
                        in_port: b.in_port,
                        out_port: Some(e.port),
                        frame: b.frame(),
                        parsed: b.parsed(),
                        reason: &name,
                        stage: Some(Stage::Egress),
                    });
                    if matches!(v, Verdict::Reject(_)) {
                        // Answer the sender with the packet as it sent it.
                        let orig = &batch.bufs[i];
                        send_reject(
                            &mut self.reply,
                            &mut self.counters,
                            sink,
                            orig.frame(),
                            orig.parsed(),
                            orig.in_port,
                            batch.times[i],
                        );
                    }
                    continue;
                }
            }
            self.counters.egress_passed += 1;
            // Both stages ran for this copy: ingress (it was alive after ingress) and egress
            // (just now). The check guards against a future code path that skips one.
            if !self.alive[i] {
                self.counters.drop(DropReason::Uninspected);
                continue;
            }
            self.counters.tx_packets += 1;
            self.counters.tx_bytes += b.len() as u64;
            sink.transmit(e.port, b.frame(), &b.meta, batch.times[i]);
        }
    }
}

pub(super) fn send_reject(
    reply: &mut [u8],
    counters: &mut DatapathCounters,
    sink: &mut dyn TxSink,
    frame: &[u8],
    parsed: &ParsedPacket,
    port: PortId,
    time_ns: u64,
) {
    if let Some(len) = reject::build_reply(frame, parsed, reply) {
        counters.rejects_sent += 1;
        sink.transmit(port, &reply[..len], &OffloadMeta::default(), time_ns);
    }
}
