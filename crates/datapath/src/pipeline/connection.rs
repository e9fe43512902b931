//! The connection stage, between receive and ingress inspection: IP fragments are reassembled,
//! then each packet is placed in the worker's connection table, which gives it a connection
//! handle, a direction and a state for the engines. A packet of a connection an engine said to
//! drop whole is dropped here, before any engine sees it.
//!
//! Connections that end (found timed out, evicted for room, replaced by a new TCP connection
//! on the same tuple, at ticks, at the end of input) are handed to both engine chains
//! ([`Chain::conn_end`]) and reported to the observer as flow records before their slot can
//! serve another connection.
//!
//! Nothing here allocates per packet: the table and its slots are sized at start; the
//! reassembly buffer is the worker's; a reassembled datagram is loaded into its packet's
//! buffer in place of the fragment that completed it.

use conn::{ConnRecord, DefragDrop, DefragOutcome};
use engine::{ConnInfo, Reason};

use super::observer::{FlowNotice, notify_drop};
use super::{Batch, Observer, Worker};
use crate::counters::DropReason;

/// What the datapath keeps per connection.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct ConnFlags {
    /// An engine said to drop the rest of the connection, with this reason.
    pub(super) blocked: Option<(engine::Stage, Reason)>,
    /// Bit `k`: ingress engine `k` asked not to see the connection again.
    pub(super) ingress_bypass: u32,
    /// Bit `k`: egress engine `k` asked not to see the connection again.
    pub(super) egress_bypass: u32,
    /// How the connection's packets are rewritten (an engine's address translation).
    pub(super) translation: Option<engine::Translation>,
}

impl Worker {
    /// Reassembles fragments and tracks the connection of every packet of `batch` still
    /// alive; returns how many died here (dropped, or held for reassembly).
    pub(super) fn connection_stage(&mut self, batch: &mut Batch, obs: &mut dyn Observer) -> usize {
        let n = batch.len;
        let mut gone = 0;
        for i in 0..n {
            self.conn_info[i] = None;
            if !self.alive[i] {
                continue;
            }
            let key = &self.keys[i];
            let dl_type = key.dl_type();
            if dl_type != 0x0800 && dl_type != 0x86dd {
                continue;
            }
            let in_port = batch.bufs[i].in_port;
            let vlan = self
                .slow
                .ports()
                .get(in_port)
                .and_then(|p| p.vlan.admit(key.vlan().map(|tci| tci & 0x0fff)))
                .unwrap_or(0);
            let now = batch.times[i];
            if key.nw_frag() != flow::NwFrag::None {
                match self.reassemble(batch, i, vlan, now) {
                    Reassembly::Whole => {}
                    Reassembly::Held => {
                        self.alive[i] = false;
                        self.counters.fragments_held += 1;
                        gone += 1;
                        continue;
                    }
                    Reassembly::Dropped(reason) => {
                        self.alive[i] = false;
                        self.counters.drop(reason);
                        notify_drop(obs, batch, i, reason.name(), None);
                        gone += 1;
                        continue;
                    }
                }
            }
            let b = &batch.bufs[i];
            let ended = &mut self.ended;
            let Some(t) = self
                .conns
                .track(b.frame(), b.parsed(), vlan, now, &mut |r| ended.push(r))
            else {
                continue;
            };
            let info = ConnInfo {
                handle: t.handle,
                direction: t.direction,
                state: t.state,
                packet_number: t.packet_number,
                flow_id: t.flow_id,
            };
            self.conn_info[i] = Some(info);
            if !self.ended.is_empty() {
                self.end_connections(batch.positions[i], obs);
            }
            if let Some((stage, reason)) = self.conn_flags.get(t.handle).and_then(|f| f.blocked) {
                self.alive[i] = false;
                self.counters.verdict_drop(stage, reason);
                let name = format!("{}:{}:{}", stage.name(), reason.engine, reason.code);
                notify_drop(obs, batch, i, &name, Some(info));
                gone += 1;
            }
        }
        gone
    }

    /// Hands the connections in `self.ended` to the engines and the observer, at the point
    /// before the packet at `position`.
    pub(super) fn end_connections(&mut self, position: u64, obs: &mut dyn Observer) {
        let mut ended = std::mem::take(&mut self.ended);
        for rec in ended.drain(..) {
            self.end_connection(&rec, position, obs);
        }
        self.ended = ended;
    }

    fn end_connection(&mut self, rec: &ConnRecord, position: u64, obs: &mut dyn Observer) {
        self.conn_alerts.clear();
        self.ingress.conn_end(rec, &mut self.conn_alerts);
        self.egress.conn_end(rec, &mut self.conn_alerts);
        self.conn_flags.take(rec.handle);
        let alerted = rec.alerted || !self.conn_alerts.records().is_empty();
        let rec = ConnRecord { alerted, ..*rec };
        obs.on_flow(&FlowNotice {
            position,
            record: &rec,
            alerts: &self.conn_alerts,
        });
        self.counters.connections_ended += 1;
    }

    /// Expires idle connections and stale fragments at `now`, before the packet at `position`.
    pub(super) fn expire_connections(&mut self, now: u64, position: u64, obs: &mut dyn Observer) {
        let ended = &mut self.ended;
        self.conns.expire(now, |r| ended.push(r));
        self.end_connections(position, obs);
        let before = self.defrag.counters().timed_out;
        self.defrag.expire(now);
        self.counters.defrag_datagrams_timed_out += self.defrag.counters().timed_out - before;
    }

    /// Ends every connection (the end of input), after telling the engines.
    pub(super) fn drain_connections(&mut self, obs: &mut dyn Observer) {
        self.ingress.end_of_input();
        self.egress.end_of_input();
        let ended = &mut self.ended;
        self.conns.drain(|r| ended.push(r));
        self.end_connections(u64::MAX, obs);
    }

    /// Pushes the fragment in slot `i` to reassembly; a completed datagram replaces it.
    fn reassemble(&mut self, batch: &mut Batch, i: usize, vlan: u16, now: u64) -> Reassembly {
        let b = &batch.bufs[i];
        match self
            .defrag
            .push(b.frame(), b.parsed(), vlan, now, &mut self.reassembly)
        {
            DefragOutcome::NotFragment => Reassembly::Whole,
            DefragOutcome::Held => Reassembly::Held,
            DefragOutcome::Complete { len } => {
                let b = &mut batch.bufs[i];
                if b.load(&self.reassembly[..len]).is_err() {
                    return Reassembly::Dropped(DropReason::DefragLimit);
                }
                let p = b.parsed();
                self.keys[i] = flow::FlowKey::extract(b.in_port, b.frame(), p);
                self.tcp_flags[i] = p.tcp_flags;
                self.lens[i] = b.len() as u32;
                self.counters.datagrams_reassembled += 1;
                Reassembly::Whole
            }
            DefragOutcome::Dropped(why) => Reassembly::Dropped(match why {
                DefragDrop::Malformed => DropReason::DefragInvalid,
                DefragDrop::TooLarge
                | DefragDrop::TooManyFragments
                | DefragDrop::Memcap
                | DefragDrop::BufferTooSmall => DropReason::DefragLimit,
            }),
        }
    }
}

enum Reassembly {
    /// Not a fragment, or the datagram it completed now fills the slot.
    Whole,
    Held,
    Dropped(DropReason),
}
