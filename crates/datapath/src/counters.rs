//! Counters of the pipeline: one per stage, one per drop reason.
//!
//! Every packet that enters is counted once at receive and ends in exactly one of: forwarded
//! (one or more copies transmitted) or dropped (one reason). Every frame transmitted (output
//! copies and reject answers alike) is counted once at egress inspection and once at transmit,
//! so `tx_packets == egress_passed`; a frame cannot reach transmit without both inspections (the
//! pipeline's `Cleared` type sees to that). Counters are plain integers owned by one worker;
//! reports add the workers' counters together.

use std::collections::BTreeMap;

pub use flow::DropReason;

use engine::{Reason, Stage};

/// Calls `$m!` with every per-stage counter field of [`DatapathCounters`], once, so that
/// summing and naming them cannot drift apart.
macro_rules! counter_fields {
    ($m:ident) => {
        $m!(
            rx_packets,
            rx_bytes,
            ingress_inspected,
            ingress_passed,
            ingress_alerts,
            lookups,
            emc_hits,
            megaflow_hits,
            misses,
            upcalls,
            flows_installed,
            install_failures,
            flows_expired,
            flows_evicted,
            revalidations,
            flows_revalidated_updated,
            flows_revalidated_deleted,
            flows_invalidated,
            copies,
            egress_inspected,
            egress_passed,
            egress_alerts,
            tx_packets,
            tx_bytes,
            rejects_sent,
            rejects_limited,
            fragments_held,
            datagrams_reassembled,
            defrag_datagrams_timed_out,
            connections_ended,
            translated
        )
    };
}

/// Counters of one worker (or the sum of several).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatapathCounters {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub ingress_inspected: u64,
    pub ingress_passed: u64,
    pub ingress_alerts: u64,
    pub lookups: u64,
    pub emc_hits: u64,
    pub megaflow_hits: u64,
    pub misses: u64,
    pub upcalls: u64,
    pub flows_installed: u64,
    pub install_failures: u64,
    pub flows_expired: u64,
    pub flows_evicted: u64,
    pub revalidations: u64,
    pub flows_revalidated_deleted: u64,
    pub flows_revalidated_updated: u64,
    /// Flows removed because the MAC their decision read was learnt, moved or forgotten.
    pub flows_invalidated: u64,
    /// Copies made for multi-port output (flooding with different VLAN treatment).
    pub copies: u64,
    pub egress_inspected: u64,
    pub egress_passed: u64,
    pub egress_alerts: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// TCP RST or ICMP unreachable answers sent for reject verdicts.
    pub rejects_sent: u64,
    /// Reject answers not sent: the input port's reply rate was exceeded.
    pub rejects_limited: u64,
    /// IP fragments taken by reassembly (they leave within a datagram, or with it when it
    /// times out).
    pub fragments_held: u64,
    /// Datagrams reassembled (each goes on in the slot of the fragment that completed it).
    pub datagrams_reassembled: u64,
    /// Datagrams given up at their reassembly timeout (their fragments were held).
    pub defrag_datagrams_timed_out: u64,
    /// Connections that ended and were reported.
    pub connections_ended: u64,
    /// Packets rewritten by an engine's translation of their connection.
    pub translated: u64,
    /// Packets (or copies) dropped by the datapath, by reason, indexed by `DropReason as usize`.
    pub drops: [u64; DropReason::ALL.len()],
    /// Packets (or copies) dropped or rejected by inspection engines.
    pub verdict_drops: BTreeMap<(Stage, &'static str, &'static str), u64>,
}

impl DatapathCounters {
    /// Counts one datapath drop.
    #[inline]
    pub fn drop(&mut self, reason: DropReason) {
        self.drops[reason as usize] += 1;
    }

    /// Counts one drop or reject by an engine (not on the per-packet fast path: only dropped
    /// packets get here).
    pub fn verdict_drop(&mut self, stage: Stage, reason: Reason) {
        *self
            .verdict_drops
            .entry((stage, reason.engine, reason.code))
            .or_insert(0) += 1;
    }

    /// Drops for one datapath reason.
    pub fn drops_for(&self, reason: DropReason) -> u64 {
        self.drops[reason as usize]
    }

    /// All drops: datapath reasons plus engine verdicts.
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum::<u64>() + self.verdict_drops.values().sum::<u64>()
    }

    /// Every per-stage counter with its name, in report order (drops are in
    /// [`DatapathCounters::drop_table`]).
    pub fn named(&self) -> [(&'static str, u64); 31] {
        macro_rules! named {
            ($($f:ident),*) => { [$( (stringify!($f), self.$f), )*] };
        }
        counter_fields!(named)
    }

    /// Adds another worker's counters to these.
    pub fn add(&mut self, o: &DatapathCounters) {
        macro_rules! add {
            ($($f:ident),*) => { $( self.$f += o.$f; )* };
        }
        counter_fields!(add);
        for (a, b) in self.drops.iter_mut().zip(o.drops.iter()) {
            *a += b;
        }
        for (k, v) in &o.verdict_drops {
            *self.verdict_drops.entry(*k).or_insert(0) += v;
        }
    }

    /// Every drop reason with a non-zero count, as (name, count); engine verdicts are named
    /// `<stage>:<engine>:<code>`.
    pub fn drop_table(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = DropReason::ALL
            .iter()
            .filter(|r| self.drops_for(**r) > 0)
            .map(|r| (r.name().to_string(), self.drops_for(*r)))
            .collect();
        for ((stage, engine, code), n) in &self.verdict_drops {
            out.push((format!("{}:{engine}:{code}", stage.name()), *n));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_and_table() {
        let mut a = DatapathCounters {
            rx_packets: 3,
            ..Default::default()
        };
        a.drop(DropReason::Hairpin);
        let mut b = DatapathCounters {
            rx_packets: 4,
            ..Default::default()
        };
        b.drop(DropReason::Hairpin);
        b.verdict_drop(
            Stage::Egress,
            Reason {
                engine: "fw",
                code: "deny",
            },
        );
        a.add(&b);
        assert_eq!(a.rx_packets, 7);
        assert_eq!(a.total_drops(), 3);
        assert_eq!(
            a.drop_table(),
            vec![
                ("hairpin".to_string(), 2),
                ("egress:fw:deny".to_string(), 1)
            ]
        );
    }
}
