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

use conn::ConnTable;
use engine::{Action, Alerts, ChainOutcome, ConnInfo, ConnSlots, PacketView, Stage};

use super::connection::ConnFlags;
use super::egress::RejectAt;
use super::{AlertNotice, Batch, DropNotice, LogNotice, Observer, Worker};
use crate::MAX_BATCH;
use crate::counters::DatapathCounters;
use crate::port::PortId;

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
        let mut views = self.views.take();
        let mut map = [0u8; MAX_BATCH];
        let mut skip = [0u32; MAX_BATCH];
        for i in 0..n {
            if self.alive[i] {
                let j = views.len();
                map[j] = i as u8;
                let conn = self.conn_info[i];
                skip[j] = conn
                    .and_then(|c| self.conn_flags.get(c.handle))
                    .map_or(0, |f| f.ingress_bypass);
                views.push(PacketView::new(
                    Stage::Ingress,
                    &batch.bufs[i],
                    &self.keys[i],
                    None,
                    batch.times[i],
                    batch.numbers[i],
                    conn,
                ));
            }
        }
        let m = views.len();
        self.alerts.clear();
        self.ingress
            .run(&views, &skip[..m], &mut self.outcome, &mut self.alerts);
        block_rest_of_batch(&views, &mut self.outcome);
        let site = AlertSite {
            batch,
            views: &views,
            map: &map[..m],
            stage: Stage::Ingress,
            out_ports: None,
        };
        report_alerts(
            &site,
            &self.alerts,
            &self.outcome,
            &mut self.conns,
            &mut self.counters,
            obs,
        );
        let mut rejected = 0u32;
        for j in 0..m {
            let i = usize::from(map[j]);
            if self.outcome.translations[j].is_some() {
                self.translated += 1;
            }
            note_outcome(
                &mut self.conns,
                &mut self.conn_flags,
                &self.outcome,
                j,
                self.conn_info[i],
                Stage::Ingress,
            );
            let action = self.outcome.actions[j];
            let Some(reason) = action.reason() else {
                self.counters.ingress_passed += 1;
                continue;
            };
            self.alive[i] = false;
            self.counters.verdict_drop(Stage::Ingress, reason);
            let name = format!("ingress:{}:{}", reason.engine, reason.code);
            obs.on_drop(&DropNotice {
                time_ns: batch.times[i],
                number: batch.numbers[i],
                position: batch.positions[i],
                in_port: views[j].in_port,
                out_port: None,
                frame: views[j].frame(),
                parsed: views[j].parsed(),
                reason: &name,
                stage: Some(Stage::Ingress),
                conn: self.conn_info[i],
            });
            if matches!(action, Action::Reject(_)) {
                rejected |= 1 << i;
            }
        }
        self.views.put(views);
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

/// A connection dropped whole by one packet loses its later packets of the same batch too
/// (they went through the connection stage before the verdict existed).
pub(super) fn block_rest_of_batch(views: &[PacketView<'_>], outcome: &mut ChainOutcome) {
    for j in 0..views.len() {
        let (Action::DropConnection(reason), Some(c)) = (outcome.actions[j], views[j].conn) else {
            continue;
        };
        for (k, v) in views.iter().enumerate().skip(j + 1) {
            if v.conn.is_some_and(|o| o.handle == c.handle) && outcome.actions[k].passes() {
                outcome.actions[k] = Action::Drop(reason);
            }
        }
    }
}

/// Applies what a chain said of view `j` to its connection: a drop of the whole connection,
/// bypasses, the application protocol.
pub(super) fn note_outcome(
    conns: &mut ConnTable,
    conn_flags: &mut ConnSlots<ConnFlags>,
    outcome: &ChainOutcome,
    j: usize,
    conn: Option<ConnInfo>,
    stage: Stage,
) {
    let Some(c) = conn else {
        return;
    };
    let action = outcome.actions[j];
    let bypass = outcome.bypassed[j];
    let translation = outcome.translations[j];
    if matches!(action, Action::DropConnection(_)) || bypass != 0 || translation.is_some() {
        let f = conn_flags.get_or_default(c.handle);
        if translation.is_some() {
            f.translation = translation;
        }
        if let Action::DropConnection(r) = action {
            f.blocked = Some((stage, r));
        }
        match stage {
            Stage::Ingress => f.ingress_bypass |= bypass,
            Stage::Egress => f.egress_bypass |= bypass,
        }
    }
    if let Some(p) = outcome.app_protos[j] {
        conns.set_app_proto(c.handle, p);
    }
}

/// Where a chain run's alerts are reported from.
pub(super) struct AlertSite<'a, 'v> {
    pub(super) batch: &'a Batch,
    pub(super) views: &'a [PacketView<'v>],
    /// `map[j]`: the batch slot of view `j`.
    pub(super) map: &'a [u8],
    pub(super) stage: Stage,
    /// The output port of each view (egress).
    pub(super) out_ports: Option<&'a [PortId]>,
}

/// Reports the alerts of the last chain run and marks their connections alerted.
pub(super) fn report_alerts(
    site: &AlertSite<'_, '_>,
    alerts: &Alerts,
    outcome: &ChainOutcome,
    conns: &mut ConnTable,
    counters: &mut DatapathCounters,
    obs: &mut dyn Observer,
) {
    if alerts.is_empty() {
        return;
    }
    match site.stage {
        Stage::Ingress => counters.ingress_alerts += alerts.len() as u64,
        Stage::Egress => counters.egress_alerts += alerts.len() as u64,
    }
    let batch = site.batch;
    for a in alerts.records() {
        let j = usize::from(a.packet);
        let (Some(v), Some(&slot)) = (site.views.get(j), site.map.get(j)) else {
            continue;
        };
        let i = usize::from(slot);
        let app_proto = outcome.app_protos.get(j).copied().flatten().or_else(|| {
            v.conn
                .and_then(|c| conns.snapshot(c.handle, events::FlowEndReason::Unknown))
                .and_then(|r| r.app_proto)
        });
        if let Some(c) = v.conn {
            conns.set_alerted(c.handle);
        }
        obs.on_alert(&AlertNotice {
            time_ns: batch.times[i],
            number: batch.numbers[i],
            position: batch.positions[i],
            in_port: v.in_port,
            out_port: site.out_ports.and_then(|p| p.get(j).copied()),
            frame: v.frame(),
            parsed: v.parsed(),
            stage: site.stage,
            conn: v.conn,
            app_proto,
            alerts,
            alert: a,
        });
    }
    for l in alerts.logs() {
        let j = usize::from(l.packet);
        let (Some(v), Some(&slot)) = (site.views.get(j), site.map.get(j)) else {
            continue;
        };
        let i = usize::from(slot);
        let app_proto = outcome.app_protos.get(j).copied().flatten().or_else(|| {
            v.conn
                .and_then(|c| conns.snapshot(c.handle, events::FlowEndReason::Unknown))
                .and_then(|r| r.app_proto)
        });
        obs.on_log(&LogNotice {
            time_ns: batch.times[i],
            number: batch.numbers[i],
            position: batch.positions[i],
            in_port: v.in_port,
            frame: v.frame(),
            parsed: v.parsed(),
            conn: v.conn,
            app_proto,
            alerts,
            log: l,
        });
    }
}
