//! Flow lookup: the batch's live packets against the exact-match cache and the megaflow
//! classifier, each hit counted against its flow. Misses are left for the upcall stage.
//!
//! Nothing here allocates or locks.

use flow::BatchPackets;

use super::{Batch, Worker};

impl Worker {
    /// Looks up the `m` packets still alive; returns true when some missed.
    pub(super) fn lookup_stage(&mut self, batch: &Batch, m: usize) -> bool {
        let n = batch.len;
        self.no_install[..n].fill(false);
        if m == 0 {
            self.flows[..n].fill(None);
            return false;
        }
        self.counters.lookups += m as u64;
        let before = *self.table.counters();
        // Each hit is counted against its flow here, where the lookup has the flow's entry.
        let missed = if m == n {
            // The common case: nothing was dropped before the lookup, no compaction.
            let packets = BatchPackets {
                bytes: &self.lens[..n],
                tcp_flags: &self.tcp_flags[..n],
                times: &batch.times[..n],
            };
            self.table.hit_batch(
                &self.keys[..n],
                &packets,
                &mut self.flows[..n],
                &mut self.single_output[..n],
            )
        } else {
            let mut j = 0;
            for i in 0..n {
                self.flows[i] = None;
                self.single_output[i] = 0;
                if self.admitted.is_admitted(i) {
                    self.lookup_keys[j] = self.keys[i];
                    self.lookup_lens[j] = self.lens[i];
                    self.lookup_flags[j] = self.tcp_flags[i];
                    self.lookup_times[j] = batch.times[i];
                    self.lookup_idx[j] = i as u8;
                    j += 1;
                }
            }
            let packets = BatchPackets {
                bytes: &self.lookup_lens[..m],
                tcp_flags: &self.lookup_flags[..m],
                times: &self.lookup_times[..m],
            };
            let missed = self.table.hit_batch(
                &self.lookup_keys[..m],
                &packets,
                &mut self.lookup_out[..m],
                &mut self.lookup_single[..m],
            );
            for j in 0..m {
                let i = usize::from(self.lookup_idx[j]);
                self.flows[i] = self.lookup_out[j];
                self.single_output[i] = self.lookup_single[j];
            }
            missed
        };
        let after = self.table.counters();
        self.counters.emc_hits += after.emc_hits - before.emc_hits;
        self.counters.megaflow_hits += after.megaflow_hits - before.megaflow_hits;
        missed > 0
    }
}
