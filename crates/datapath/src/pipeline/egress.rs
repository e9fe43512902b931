//! Egress inspection and the one way out: each output copy is judged as its receiver will get
//! it, and only then handed to the sink.
//!
//! This module owns the proof that a frame may leave. A [`Cleared`] frame is the only thing a
//! [`TxSink`] accepts, and only this module can make one: from an egress list entry whose
//! admission is a [`PassedIngress`] (which only the ingress stage makes, for a packet it let
//! through in this batch) or a [`ReplyTicket`] (which only [`Worker::queue_reply`] makes, for a
//! reject answer built from a frame as it was received), after the egress chain passed it. The
//! direct burst of one-output hits is cleared here too, by [`NoEgressEngines::clear`], which
//! exists only while the egress chain is empty (every verdict there is "pass"). So no code path,
//! present or future, can transmit a frame that skipped a stage: it would not compile.
//!
//! Nothing here allocates per packet: views are built in a recycled vector, replies are built in
//! pooled copy buffers.

use flow::{OffloadMeta, PacketBuf};
use wire::ParsedPacket;

use engine::{Action, Chain, PacketView, Stage};

use super::actions::Src;
use super::ingress::{AlertSite, PassedIngress, block_rest_of_batch, note_outcome, report_alerts};
use super::{BUF_SIZE, Batch, DropNotice, Observer, TxSink, Worker};
use crate::MAX_BATCH;
use crate::counters::DropReason;
use crate::port::PortId;
use crate::reject;

/// Proof that a reject answer was built from a frame as its sender sent it, once for that
/// packet, within the input port's reply rate. Made only by [`Worker::queue_reply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ReplyTicket {
    slot: u8,
}

/// Why a frame is in the egress list: a received packet that passed ingress, or a generated
/// answer to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Admission {
    Received(PassedIngress),
    Reply(ReplyTicket),
}

impl Admission {
    /// The batch slot of the packet the frame comes from (or answers).
    #[inline]
    pub(super) fn slot(self) -> usize {
        match self {
            Admission::Received(p) => p.slot(),
            Admission::Reply(t) => usize::from(t.slot),
        }
    }
}

/// One frame waiting for egress inspection: where its bytes are, why it may be here, the port
/// it leaves by, and its place among the frames of its packet (for ordering outputs).
#[derive(Debug, Clone, Copy)]
pub(super) struct Egress {
    pub(super) src: Src,
    pub(super) admission: Admission,
    pub(super) port: PortId,
    pub(super) copy: u16,
}

/// The `copy` index of a reject answer: after every output of its packet.
pub const REPLY_COPY: u16 = u16::MAX;

/// A frame that passed both inspections, on its way out of `port`. Only this module makes one.
#[derive(Debug, Clone, Copy)]
pub struct Cleared<'a> {
    port: PortId,
    frame: &'a [u8],
    meta: &'a OffloadMeta,
    time_ns: u64,
    number: u64,
    position: u64,
    copy: u16,
}

impl<'a> Cleared<'a> {
    /// The output port.
    #[inline]
    pub fn port(&self) -> PortId {
        self.port
    }
    /// The frame as its receiver gets it.
    #[inline]
    pub fn frame(&self) -> &'a [u8] {
        self.frame
    }
    /// Offload metadata (checksum and segmentation work left to the transmitter).
    #[inline]
    pub fn meta(&self) -> &'a OffloadMeta {
        self.meta
    }
    /// Time of the packet it comes from (capture time in replay).
    #[inline]
    pub fn time_ns(&self) -> u64 {
        self.time_ns
    }
    /// Number of the received packet it comes from (its capture record number in replay).
    #[inline]
    pub fn number(&self) -> u64 {
        self.number
    }
    /// The position in the arrival order of the received packet it comes from.
    #[inline]
    pub fn position(&self) -> u64 {
        self.position
    }
    /// Its place among the frames sent for that packet: output copies in action order from 0,
    /// then [`REPLY_COPY`] for a reject answer. With `number`, a total order of all output.
    #[inline]
    pub fn copy(&self) -> u16 {
        self.copy
    }
}

/// A one-output hit cleared to leave in the batch's direct burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ClearedSlot {
    slot: u8,
    port: PortId,
}

/// Witness that the egress chain is empty, so every egress verdict is "pass".
#[derive(Debug, Clone, Copy)]
pub(super) struct NoEgressEngines(());

impl NoEgressEngines {
    /// The witness, when `chain` has no engine.
    #[inline]
    pub(super) fn of(chain: &Chain) -> Option<NoEgressEngines> {
        chain.is_empty().then_some(NoEgressEngines(()))
    }

    /// Clears a packet that passed ingress to leave by `port` in the direct burst.
    #[inline]
    pub(super) fn clear(self, pass: PassedIngress, port: PortId) -> ClearedSlot {
        ClearedSlot {
            slot: pass.slot() as u8,
            port,
        }
    }
}

/// Packets of one batch leaving together, each cleared. Only the pipeline makes one.
#[derive(Debug, Clone, Copy)]
pub struct TxBurst<'a> {
    bufs: &'a [PacketBuf],
    times: &'a [u64],
    numbers: &'a [u64],
    positions: &'a [u64],
    list: &'a [ClearedSlot],
}

impl<'a> TxBurst<'a> {
    /// The burst of `list`, the packets of `batch` cleared by [`NoEgressEngines::clear`].
    pub(super) fn new(batch: &'a Batch, list: &'a [ClearedSlot]) -> TxBurst<'a> {
        TxBurst {
            bufs: &batch.bufs,
            times: &batch.times,
            numbers: &batch.numbers,
            positions: &batch.positions,
            list,
        }
    }

    /// Number of packets.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True when the burst is empty.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The output port of each packet, in order (a sink that only counts needs no more).
    pub fn ports(&self) -> impl ExactSizeIterator<Item = PortId> + 'a {
        self.list.iter().map(|c| c.port)
    }

    /// The packets, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Cleared<'a>> + 'a {
        let (bufs, times, numbers, positions) =
            (self.bufs, self.times, self.numbers, self.positions);
        self.list.iter().map(move |c| {
            let slot = usize::from(c.slot);
            let b = &bufs[slot];
            Cleared {
                port: c.port,
                frame: b.frame(),
                meta: &b.meta,
                time_ns: times[slot],
                number: numbers[slot],
                position: positions[slot],
                copy: 0,
            }
        })
    }
}

/// Bytes of a rewritten packet kept as it was received, for a reject answer at egress: room
/// for the link, IP and transport headers and the start of the payload that ICMP quotes.
pub(super) const ORIGINAL_HEAD: usize = 256;

/// The start of a packet as received, saved before its actions rewrote it.
#[derive(Debug, Clone, Copy)]
pub(super) struct OriginalHead {
    pub(super) bytes: [u8; ORIGINAL_HEAD],
    pub(super) len: u16,
    pub(super) parsed: ParsedPacket,
}

/// Which frame a reject answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RejectAt {
    /// At ingress: the batch buffer still holds the frame as received.
    Ingress,
    /// At egress: the frame as received is the saved head when actions rewrote the packet,
    /// else the batch buffer.
    Egress,
}

impl Worker {
    /// Answers the packet in `slot` with a TCP RST or ICMP unreachable, built from the frame as
    /// its sender sent it, and queues the answer for egress inspection on its way back out of
    /// the input port. One answer per packet, however many of its copies were rejected; at most
    /// the input port's reply rate (the rest are counted, not sent).
    pub(super) fn queue_reply(&mut self, batch: &Batch, slot: usize, at: RejectAt) {
        let bit = 1u32 << slot;
        if self.replied & bit != 0 {
            return;
        }
        self.replied |= bit;
        let b = &batch.bufs[slot];
        let in_port = b.in_port;
        // Copied out (the rare reject path), so the worker stays free to lend a copy buffer.
        let saved = if at == RejectAt::Egress {
            self.originals[slot]
        } else {
            None
        };
        let (frame, parsed) = match &saved {
            Some(h) => (&h.bytes[..usize::from(h.len)], &h.parsed),
            None => (b.frame(), b.parsed()),
        };
        let Some(c) = self.take_copy() else {
            self.counters.drop(DropReason::PoolExhausted);
            return;
        };
        let copy = &mut self.copies[c];
        let built = reject::build_reply(frame, parsed, copy.receive_area())
            .is_some_and(|n| copy.commit(n).is_ok());
        if !built {
            // Not to be answered (an RST, an ICMP error, a broadcast, a later fragment).
            self.copies_used -= 1;
            return;
        }
        if !self.reply_limiter.admit(in_port, batch.times[slot]) {
            self.copies_used -= 1;
            self.counters.rejects_limited += 1;
            return;
        }
        let copy = &mut self.copies[c];
        copy.in_port = in_port;
        copy.meta = OffloadMeta::default();
        self.counters.rejects_sent += 1;
        self.egress_list.push(Egress {
            src: Src::Copy(c as u16),
            admission: Admission::Reply(ReplyTicket { slot: slot as u8 }),
            port: in_port,
            copy: REPLY_COPY,
        });
    }

    /// A copy buffer from the pool (grown to its limit on first need), or `None` when every
    /// copy is in use.
    pub(super) fn take_copy(&mut self) -> Option<usize> {
        if self.copies_used == self.copies.len() {
            if self.copies.len() >= self.copies_max {
                return None;
            }
            self.copies
                .push(PacketBuf::new(BUF_SIZE, PacketBuf::DEFAULT_HEADROOM));
        }
        self.copies_used += 1;
        Some(self.copies_used - 1)
    }

    /// Inspects every frame of the egress list (output copies, then answers queued on the way)
    /// and transmits those that pass.
    pub(super) fn egress_stage(
        &mut self,
        batch: &Batch,
        sink: &mut dyn TxSink,
        obs: &mut dyn Observer,
    ) {
        // With no engine every copy passes: no views, no verdicts, the same counts.
        let engines = !self.egress.is_empty();
        let mut start = 0;
        // Answers to egress rejects join the list as it is walked, so walk it in chunks of at
        // most a batch, inspecting each chunk before judging it.
        while start < self.egress_list.len() {
            let end = (start + MAX_BATCH).min(self.egress_list.len());
            self.counters.egress_inspected += (end - start) as u64;
            if engines {
                self.inspect_egress_chunk(batch, start, end, obs);
            }
            for k in start..end {
                let e = self.egress_list[k];
                let verdict = if engines {
                    self.egress_verdicts[k - start]
                } else {
                    Action::Pass
                };
                self.judge_egress(batch, e, verdict, sink, obs);
            }
            start = end;
        }
    }

    /// Runs the egress chain over entries `start..end` of the egress list into
    /// `egress_verdicts[..end - start]`, each judged as its receiver will get it: its frame,
    /// parse and flow key as rewritten.
    fn inspect_egress_chunk(
        &mut self,
        batch: &Batch,
        start: usize,
        end: usize,
        obs: &mut dyn Observer,
    ) {
        self.egress_verdicts.clear();
        self.egress_verdicts.resize(end - start, Action::Pass);
        self.egress_keys.clear();
        for e in &self.egress_list[start..end] {
            let i = e.admission.slot();
            let same =
                matches!(e.admission, Admission::Received(_)) && self.rewritten & (1 << i) == 0;
            let key = if same {
                self.keys[i]
            } else {
                let b = frame_of(batch, &self.copies, e.src);
                match flow::FlowKey::from_frame(b.in_port, b.frame()) {
                    Some((k, _)) => k,
                    None => flow::FlowKey::extract(b.in_port, b.frame(), b.parsed()),
                }
            };
            self.egress_keys.push(key);
        }
        let mut views = self.views.take();
        let mut map = [0u8; MAX_BATCH];
        let mut ports = [0 as PortId; MAX_BATCH];
        let mut skip = [0u32; MAX_BATCH];
        for (j, e) in self.egress_list[start..end].iter().enumerate() {
            let b = frame_of(batch, &self.copies, e.src);
            let i = e.admission.slot();
            map[j] = i as u8;
            ports[j] = e.port;
            let conn = self.conn_info[i];
            skip[j] = conn
                .and_then(|c| self.conn_flags.get(c.handle))
                .map_or(0, |f| f.egress_bypass);
            let mut v = PacketView::new(
                Stage::Egress,
                b,
                &self.egress_keys[j],
                Some(e.port),
                batch.times[i],
                batch.numbers[i],
                conn,
            );
            v.in_port = batch.bufs[i].in_port;
            views.push(v);
        }
        let m = views.len();
        self.alerts.clear();
        self.egress
            .run(&views, &skip[..m], &mut self.outcome, &mut self.alerts);
        block_rest_of_batch(&views, &mut self.outcome);
        let site = AlertSite {
            batch,
            views: &views,
            map: &map[..m],
            stage: Stage::Egress,
            out_ports: Some(&ports[..m]),
        };
        report_alerts(
            &site,
            &self.alerts,
            &self.outcome,
            &mut self.conns,
            &mut self.counters,
            obs,
        );
        for (j, &slot) in map[..m].iter().enumerate() {
            self.egress_verdicts[j] = self.outcome.actions[j];
            let conn = self.conn_info[usize::from(slot)];
            note_outcome(
                &mut self.conns,
                &mut self.conn_flags,
                &self.outcome,
                j,
                conn,
                Stage::Egress,
            );
        }
        self.views.put(views);
    }

    /// Acts on one egress verdict: transmits a frame that passed, reports a drop, answers a
    /// reject.
    fn judge_egress(
        &mut self,
        batch: &Batch,
        e: Egress,
        verdict: Action,
        sink: &mut dyn TxSink,
        obs: &mut dyn Observer,
    ) {
        let i = e.admission.slot();
        let b = frame_of(batch, &self.copies, e.src);
        if let Some(reason) = verdict.reason() {
            self.counters.verdict_drop(Stage::Egress, reason);
            let name = format!("egress:{}:{}", reason.engine, reason.code);
            obs.on_drop(&DropNotice {
                time_ns: batch.times[i],
                number: batch.numbers[i],
                position: batch.positions[i],
                in_port: batch.bufs[i].in_port,
                out_port: Some(e.port),
                frame: b.frame(),
                parsed: b.parsed(),
                reason: &name,
                stage: Some(Stage::Egress),
                conn: self.conn_info[i],
            });
            // An answer is never answered: a rejected answer is only dropped.
            if matches!(verdict, Action::Reject(_)) && matches!(e.admission, Admission::Received(_))
            {
                self.queue_reply(batch, i, RejectAt::Egress);
            }
            return;
        }
        self.counters.egress_passed += 1;
        self.counters.tx_packets += 1;
        self.counters.tx_bytes += b.len() as u64;
        sink.transmit(&Cleared {
            port: e.port,
            frame: b.frame(),
            meta: &b.meta,
            time_ns: batch.times[i],
            number: batch.numbers[i],
            position: batch.positions[i],
            copy: e.copy,
        });
    }
}

/// The buffer an egress entry's frame is in.
#[inline]
fn frame_of<'a>(batch: &'a Batch, copies: &'a [PacketBuf], src: Src) -> &'a PacketBuf {
    match src {
        Src::Batch(i) => &batch.bufs[usize::from(i)],
        Src::Copy(c) => &copies[usize::from(c)],
    }
}
