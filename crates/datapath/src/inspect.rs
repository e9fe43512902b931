//! Inspection: the engines that look at every packet twice, once as it was sent (ingress) and
//! once as the receiver will get it (egress), and the verdicts they return.
//!
//! An engine implements [`Inspector`]; a [`Chain`] runs engines in order and stops at the first
//! drop or reject. Each worker owns its own engine instances (built by an [`InspectorFactory`]),
//! so an engine may keep per-flow state without locks. Engines are called with a whole batch
//! and must not allocate or block per packet.

use flow::{FlowKey, OffloadMeta};
use wire::ParsedPacket;

use crate::port::PortId;

/// Where in the pipeline an inspection happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// The packet as the sender sent it, before the flow table.
    Ingress,
    /// The packet as the receiver will get it, after the flow's actions, per output port.
    Egress,
}

impl Stage {
    /// Lower-case name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Ingress => "ingress",
            Stage::Egress => "egress",
        }
    }
}

/// Why an engine did what it did: the engine's name and a short reason code, both static so a
/// verdict costs nothing to return. Reason codes are kebab-case (`port-security`, `zone-deny`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Reason {
    pub engine: &'static str,
    pub code: &'static str,
}

/// What an engine decided about one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Verdict {
    /// Let it through.
    #[default]
    Pass,
    /// Let it through and raise an alarm.
    Alert(Reason),
    /// Discard it (silently to the sender).
    Drop(Reason),
    /// Discard it and tell the sender: TCP RST for TCP, ICMP port unreachable otherwise.
    Reject(Reason),
}

impl Verdict {
    /// True when the packet goes on.
    #[inline]
    pub fn passes(&self) -> bool {
        matches!(self, Verdict::Pass | Verdict::Alert(_))
    }
}

/// What an engine sees of a packet.
#[derive(Debug, Clone, Copy)]
pub struct PacketView<'a> {
    pub stage: Stage,
    pub in_port: PortId,
    /// The port it is about to leave by (egress only).
    pub out_port: Option<PortId>,
    pub frame: &'a [u8],
    pub parsed: &'a ParsedPacket,
    pub key: &'a FlowKey,
    pub meta: &'a OffloadMeta,
    /// Time of the packet in ns (capture time in replay).
    pub time_ns: u64,
}

/// An inspection engine.
pub trait Inspector: Send {
    /// The engine's name, used in counters and events.
    fn name(&self) -> &'static str;

    /// Judges one packet.
    fn inspect(&mut self, pkt: &PacketView<'_>) -> Verdict;

    /// Judges a batch; `verdicts[i]` is for `pkts[i]`. The default calls [`Inspector::inspect`]
    /// for each; engines that gain from batching (a multi-pattern scan) override it.
    fn inspect_batch(&mut self, pkts: &[PacketView<'_>], verdicts: &mut [Verdict]) {
        for (p, v) in pkts.iter().zip(verdicts.iter_mut()) {
            *v = self.inspect(p);
        }
    }
}

/// Builds a fresh engine for each worker.
pub type InspectorFactory = Box<dyn Fn() -> Box<dyn Inspector> + Send + Sync>;

/// The ordered engines of one stage of one worker.
#[derive(Default)]
pub struct Chain {
    engines: Vec<Box<dyn Inspector>>,
    scratch: Vec<Verdict>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.engines.iter().map(|e| e.name()))
            .finish()
    }
}

impl Chain {
    /// A chain of these engines, run in order.
    pub fn new(engines: Vec<Box<dyn Inspector>>) -> Self {
        Chain {
            engines,
            scratch: Vec::with_capacity(crate::MAX_BATCH),
        }
    }

    /// True when no engine is configured (the stage still counts every packet).
    pub fn is_empty(&self) -> bool {
        self.engines.is_empty()
    }

    /// Names of the engines in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.engines.iter().map(|e| e.name()).collect()
    }

    /// Runs the chain over a batch. `verdicts[i]` ends as the first drop or reject any engine
    /// gave packet `i`, else the first alert, else pass. Every engine sees the whole batch (so
    /// that stateful engines keep their view of a stream whole); the chain stops early only when
    /// every packet of the batch is already dropped.
    pub fn run(&mut self, pkts: &[PacketView<'_>], verdicts: &mut [Verdict]) {
        let n = pkts.len().min(verdicts.len());
        verdicts[..n].fill(Verdict::Pass);
        if self.engines.is_empty() {
            return;
        }
        self.scratch.clear();
        self.scratch.resize(n, Verdict::Pass);
        for engine in &mut self.engines {
            engine.inspect_batch(&pkts[..n], &mut self.scratch[..n]);
            for (v, s) in verdicts[..n].iter_mut().zip(&self.scratch[..n]) {
                match (*v, *s) {
                    (Verdict::Drop(_) | Verdict::Reject(_), _) => {}
                    (_, Verdict::Drop(_) | Verdict::Reject(_)) => *v = *s,
                    (Verdict::Pass, Verdict::Alert(_)) => *v = *s,
                    _ => {}
                }
            }
            if verdicts[..n].iter().all(|v| !v.passes()) {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct DropOdd;
    impl Inspector for DropOdd {
        fn name(&self) -> &'static str {
            "drop-odd"
        }
        fn inspect(&mut self, p: &PacketView<'_>) -> Verdict {
            if p.in_port % 2 == 1 {
                Verdict::Drop(Reason {
                    engine: "drop-odd",
                    code: "odd-port",
                })
            } else {
                Verdict::Pass
            }
        }
    }
    struct AlertAll;
    impl Inspector for AlertAll {
        fn name(&self) -> &'static str {
            "alert-all"
        }
        fn inspect(&mut self, _: &PacketView<'_>) -> Verdict {
            Verdict::Alert(Reason {
                engine: "alert-all",
                code: "seen",
            })
        }
    }

    #[test]
    fn chain_combines_verdicts() {
        let parsed = ParsedPacket::default();
        let key = FlowKey::default();
        let meta = OffloadMeta::default();
        let mk = |port| PacketView {
            stage: Stage::Ingress,
            in_port: port,
            out_port: None,
            frame: &[],
            parsed: &parsed,
            key: &key,
            meta: &meta,
            time_ns: 0,
        };
        let pkts = [mk(0), mk(1), mk(2)];
        let mut v = [Verdict::Pass; 3];
        let mut c = Chain::new(vec![Box::new(AlertAll), Box::new(DropOdd)]);
        c.run(&pkts, &mut v);
        assert!(matches!(v[0], Verdict::Alert(_)));
        assert!(matches!(v[1], Verdict::Drop(r) if r.code == "odd-port"));
        assert!(matches!(v[2], Verdict::Alert(_)));
        let mut empty = Chain::default();
        empty.run(&pkts, &mut v);
        assert!(v.iter().all(|v| *v == Verdict::Pass));
    }
}
