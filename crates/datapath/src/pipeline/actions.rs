//! Actions: each packet's flow actions rewrite it in place and collect its outputs into the
//! egress list; one-output hits with no egress engine go straight into one transmit burst.
//!
//! A copy is made only when an output must see the packet before a later rewrite; copies come
//! from a pool that grows to its limit on first need and is then only reused.

use flow::{Action, OutputSet, PacketBuf, Step};

use super::egress::{Admission, Egress, NoEgressEngines, ORIGINAL_HEAD, OriginalHead};
use super::ingress::PassedIngress;
use super::observer::notify_drop;
use super::upcall::Decided;
use super::{BUF_SIZE, Batch, Observer, TxBurst, TxSink, Worker};
use crate::MAX_BATCH;
use crate::counters::{DatapathCounters, DropReason};
use crate::port::PortId;
use crate::slowpath::PortGroups;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Src {
    Batch(u8),
    Copy(u16),
}

impl Worker {
    /// Runs the actions of the packets that hit (`upcalled == false`) or of those the slow
    /// path just decided (`upcalled == true`).
    /// Returns true when a hit's flow says "to slow path" (the packet joins the upcalls).
    ///
    /// A one-output flow's packet is transmitted right here when no egress engine is configured
    /// (its egress verdict can only be "pass") and no earlier packet of the batch is waiting in
    /// the egress list (so the order of transmission is that of the batch).
    pub(super) fn action_stage(
        &mut self,
        batch: &mut Batch,
        sink: &mut dyn TxSink,
        obs: &mut dyn Observer,
        upcalled: bool,
    ) -> bool {
        let mut to_slow_path = false;
        let direct = NoEgressEngines::of(&self.egress);
        // A packet rewritten by its actions keeps its head as received for a reject answer at
        // egress; with no egress engine there is no such answer to make.
        let save_original = direct.is_none();
        // Packets sent straight from here, as one burst at the end of the stage.
        self.burst.clear();
        let mut direct_bytes = 0u64;
        let n = if upcalled {
            self.decided.len()
        } else {
            batch.len
        };
        // The hits' common case in a loop of its own: one-output flows go into the burst and
        // misses wait for the upcall, up to the first hit that needs its action list. The
        // loop below takes it from there, with the same rules.
        let mut start = 0;
        if !upcalled
            && let Some(direct) = direct
            && self.egress_list.is_empty()
        {
            let n = n.min(MAX_BATCH);
            while start < n {
                // A packet dropped since the lookup (or never admitted) has no proof and stays.
                if let Some(pass) = self.admitted.get(start) {
                    if let Some(port) = self.single_output[start].checked_sub(1) {
                        self.burst.push(direct.clear(pass, port));
                        direct_bytes += u64::from(self.lens[start]);
                    } else if self.flows[start].is_some() {
                        break;
                    }
                }
                start += 1;
            }
        }
        for k in start..n {
            let len;
            let actions: &[Action] = if upcalled {
                let Decided {
                    slot,
                    flow,
                    actions: (start, end),
                } = self.decided[k];
                let i = usize::from(slot);
                len = batch.bufs[i].len() as u32;
                if let Some(id) = flow {
                    self.table
                        .record(id, len, self.tcp_flags[i], batch.times[i]);
                }
                self.decided_actions
                    .get(start as usize..end as usize)
                    .unwrap_or_default()
            } else {
                let (Some(id), Some(pass)) = (self.flows[k], self.admitted.get(k)) else {
                    continue;
                };
                // Already counted against the flow by the lookup.
                len = self.lens[k];
                if let Some(port) = self.single_output[k].checked_sub(1) {
                    // The commonest flow by far: one output, no rewrite.
                    if let Some(direct) = direct
                        && self.egress_list.is_empty()
                    {
                        self.burst.push(direct.clear(pass, port));
                        direct_bytes += u64::from(len);
                        continue;
                    }
                    self.egress_list.push(Egress {
                        src: Src::Batch(k as u8),
                        admission: Admission::Received(pass),
                        port,
                        copy: 0,
                    });
                    continue;
                }
                let actions = self.table.actions(id);
                if actions.first() == Some(&Action::ToSlowPath) {
                    // Decided afresh by the slow path, nothing installed.
                    self.flows[k] = None;
                    self.no_install[k] = true;
                    to_slow_path = true;
                    continue;
                }
                actions
            };
            let i = if upcalled {
                usize::from(self.decided[k].slot)
            } else {
                k
            };
            let Some(pass) = self.admitted.get(i) else {
                continue;
            };
            if actions
                .iter()
                .any(|a| !matches!(a, Action::Output(_) | Action::Flood(_)))
            {
                self.rewritten |= 1 << i;
            }
            let outcome = run_actions(
                actions,
                pass,
                &mut batch.bufs,
                save_original.then_some(&mut self.originals[i]),
                &mut self.copies,
                self.copies_max,
                &mut self.copies_used,
                &mut self.outputs,
                self.slow.groups(),
                &mut self.egress_list,
                &mut self.counters,
            );
            if let Err(reason) = outcome {
                self.admitted.revoke(i);
                self.counters.drop(reason);
                notify_drop(obs, batch, i, reason.name(), self.conn_info[i]);
            }
        }
        if !self.burst.is_empty() {
            // Before anything in the egress list: every packet of the burst came earlier in
            // the batch than the first packet listed there.
            sink.transmit_burst(&TxBurst::new(batch, &self.burst));
            // Transmitted without an egress list entry: both egress counts and the transmit.
            let d = self.burst.len() as u64;
            self.counters.egress_inspected += d;
            self.counters.egress_passed += d;
            self.counters.tx_packets += d;
            self.counters.tx_bytes += direct_bytes;
        }
        to_slow_path
    }
}

/// Applies a flow's actions to packet `i`, appending its outputs to `egress`. Outputs that
/// must see the packet before a later rewrite get a copy from the worker's pool.
#[allow(clippy::too_many_arguments)]
pub(super) fn run_actions(
    actions: &[Action],
    pass: PassedIngress,
    bufs: &mut [PacketBuf],
    original: Option<&mut Option<OriginalHead>>,
    copies: &mut Vec<PacketBuf>,
    copies_max: usize,
    copies_used: &mut usize,
    outputs: &mut OutputSet,
    groups: &PortGroups,
    egress: &mut Vec<Egress>,
    counters: &mut DatapathCounters,
) -> Result<(), DropReason> {
    let i = pass.slot();
    let outputs_before = egress.len();
    let mut copy = 0u16;
    // The commonest flow by far: one output, no rewrite.
    if let [Action::Output(port)] = actions {
        egress.push(Egress {
            src: Src::Batch(i as u8),
            admission: Admission::Received(pass),
            port: *port,
            copy,
        });
        return Ok(());
    }
    let buf = &mut bufs[i];
    let in_port = buf.in_port;
    // The ports of the outputs collected: single ports, then each group's but the input port.
    let each_port = |outputs: &OutputSet, f: &mut dyn FnMut(PortId)| {
        for &p in outputs.ports() {
            f(p);
        }
        for &g in outputs.groups() {
            for &p in groups.ports(g) {
                if p != in_port {
                    f(p);
                }
            }
        }
    };
    let rewrites = actions
        .iter()
        .any(|a| !matches!(a, Action::Output(_) | Action::Flood(_)));
    if let Some(slot) = original
        && rewrites
    {
        let frame = buf.frame();
        let len = frame.len().min(ORIGINAL_HEAD);
        let mut bytes = [0u8; ORIGINAL_HEAD];
        bytes[..len].copy_from_slice(&frame[..len]);
        *slot = Some(OriginalHead {
            bytes,
            len: len as u16,
            parsed: *buf.parsed(),
        });
    }
    outputs.clear();
    let mut start = 0;
    loop {
        match flow::execute_from(actions, start, buf, outputs) {
            Err(_) => {
                egress.truncate(outputs_before);
                return Err(DropReason::ActionFailed);
            }
            Ok(Step::Resume(next)) => {
                // These outputs see the packet as it is now; later actions rewrite it.
                if *copies_used == copies.len() && copies.len() < copies_max {
                    // The pool grows to its maximum as copies are first needed, then is reused.
                    copies.push(PacketBuf::new(BUF_SIZE, PacketBuf::DEFAULT_HEADROOM));
                }
                let loaded = match copies.get_mut(*copies_used) {
                    Some(c) => c.load_copy(buf).is_ok(),
                    None => false,
                };
                if loaded {
                    counters.copies += 1;
                    let c = *copies_used as u16;
                    each_port(outputs, &mut |port| {
                        egress.push(Egress {
                            src: Src::Copy(c),
                            admission: Admission::Received(pass),
                            port,
                            copy,
                        });
                        copy = copy.saturating_add(1);
                    });
                    *copies_used += 1;
                } else {
                    each_port(outputs, &mut |_| counters.drop(DropReason::PoolExhausted));
                }
                outputs.clear_ports();
                start = next;
            }
            Ok(Step::Done) => break,
        }
    }
    if let Some(reason) = outputs.drop_reason() {
        egress.truncate(outputs_before);
        return Err(reason);
    }
    if outputs.to_slow_path() {
        // Only meaningful as a flow's first action, where the lookup stage handles it;
        // anywhere else the action list is malformed.
        egress.truncate(outputs_before);
        return Err(DropReason::ActionFailed);
    }
    each_port(outputs, &mut |port| {
        egress.push(Egress {
            src: Src::Batch(i as u8),
            admission: Admission::Received(pass),
            port,
            copy,
        });
        copy = copy.saturating_add(1);
    });
    if egress.len() == outputs_before {
        return Err(DropReason::NoDestination);
    }
    Ok(())
}
