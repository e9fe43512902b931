//! The per-worker flow table: the exact-match cache in front of the megaflow classifier, and
//! the store of flows (actions, statistics, policy generation).
//!
//! A lookup goes EMC (see `emc.rs`) then classifier (see `classifier.rs`); a classifier hit may
//! be cached in the EMC. [`FlowTable::hit_batch`], the datapath's call, also counts each
//! packet against the flow it found while it has the flow's line. Lookups, `actions` and
//! `record` never allocate; `install` and `revalidate` may (slow path).
//!
//! **Flow store**: a slab of slots with a free list. A [`FlowId`] is a slot index plus the
//! slot's *version*, bumped when the flow is removed; an id of a removed flow is therefore
//! detected (its `actions` are `[ToSlowPath]`, `record` ignores it, `stats` is `None`) even
//! after the slot is reused. The EMC stores the same (index, version) pair, so removing a
//! flow invalidates its cache entries without touching them.
//!
//! Per flow, the data a hit needs (version, actions, statistics, second-chance bit) is one
//! 64-byte line; the masked key lives in the classifier, the generation in a side array.
//!
//! * **Capacity**: `max_flows`. Installing into a full table evicts one flow chosen by a
//!   *clock* (second chance): counting a packet (`hit_batch`, `record`) sets a flow's
//!   referenced bit; the hand clears set bits and evicts the first flow found without one.
//!   That approximates LRU at O(1) amortised.
//! * **Idle timeout**: [`FlowTable::expire_idle`] removes flows no packet was counted against
//!   for `idle_timeout_ns`.
//! * **Revalidation**: [`FlowTable::revalidate`] re-decides every flow installed under an
//!   older policy generation; kept flows get the new generation, replaced ones new actions
//!   under the same id (lookups read actions through the id, so the old ones are never served
//!   again), deleted ones are removed.
//! * **EMC and priorities**: an EMC entry caches the best match *at insertion time*. Installing
//!   a megaflow whose priority is higher than that of some live flow could make it the better
//!   match for a cached key, so such an install (and any priority change) flushes the EMC
//!   (an O(1) epoch bump). When all flows share a priority this never happens. Installing an
//!   equal-priority overlap leaves cached answers standing, which the classifier's tie rule
//!   allows.
//! * **Same key and mask installed twice** (two packets of one new flow in a burst): the
//!   existing flow is updated in place (actions, priority, generation) and its id returned.

use std::collections::BTreeMap;

use thiserror::Error;

use crate::action::{self, Action, ActionError};
use crate::classifier::{BATCH, Classifier, NONE};
use crate::emc::Emc;
use crate::key::{FlowKey, FlowMask, HashSeed};
use crate::prefetch::prefetch;

/// Sizing and policy of a [`FlowTable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowTableConfig {
    /// EMC entries, rounded up to a power of two (at most 2^22); 0 disables the EMC.
    pub emc_entries: usize,
    /// Insert into the EMC with probability 1/N after a classifier hit; 1 = always, 0 = never.
    pub emc_insert_inv_prob: u32,
    /// Most flows; installing beyond evicts (at most `u32::MAX - 1`).
    pub max_flows: usize,
    /// Flows unused for this long are removed by [`FlowTable::expire_idle`]; 0 = never.
    pub idle_timeout_ns: u64,
}

impl Default for FlowTableConfig {
    /// OVS's defaults: 8192 EMC entries, 1/100 insertion, 200k flows, 10 s idle.
    fn default() -> Self {
        FlowTableConfig {
            emc_entries: 8192,
            emc_insert_inv_prob: 100,
            max_flows: 200_000,
            idle_timeout_ns: 10_000_000_000,
        }
    }
}

/// A flow in a [`FlowTable`]: slot index and slot version (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowId {
    index: u32,
    version: u32,
}

impl FlowId {
    /// The slot index (dense, below the table's high-water mark; reused after removal).
    pub fn index(self) -> u32 {
        self.index
    }
}

/// Per-flow statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowStats {
    /// Packets recorded.
    pub packets: u64,
    /// Bytes recorded.
    pub bytes: u64,
    /// Time of the last `record` (or of the install), in the caller's clock (nanoseconds).
    pub last_used: u64,
    /// OR of the TCP flags seen.
    pub tcp_flags: u16,
    /// Time of the install.
    pub created: u64,
}

/// Why a flow could not be installed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum InstallError {
    /// `max_flows` is 0: the table holds nothing.
    #[error("the flow table holds no flows (max_flows = {max_flows})")]
    Full {
        /// The configured maximum.
        max_flows: usize,
    },
    /// The action list is malformed.
    #[error("invalid actions: {0}")]
    InvalidActions(#[from] ActionError),
    /// The flow needs a new mask but the classifier already has its maximum of subtables.
    #[error("too many distinct megaflow masks (at most {max}); widen or reuse masks")]
    TooManySubtables {
        /// [`MAX_SUBTABLES`](crate::MAX_SUBTABLES).
        max: usize,
    },
}

/// What [`FlowTable::revalidate`]'s closure decides for one flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revalidation {
    /// Still right: the flow gets the current generation.
    Keep,
    /// Right match, new actions (the flow keeps its id and statistics).
    Replace(Vec<Action>),
    /// Remove the flow (the decision changed in a way its mask cannot express, or it is gone).
    Delete,
}

/// Outcome of a revalidation pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RevalidateStats {
    /// Flows older than the current generation, handed to the closure.
    pub examined: usize,
    /// Kept and moved to the current generation.
    pub kept: usize,
    /// Given new actions.
    pub replaced: usize,
    /// Deleted on request, or because the replacement actions were invalid.
    pub deleted: usize,
}

/// Counters of a [`FlowTable`], readable at runtime.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowTableCounters {
    /// Lookups answered by the EMC.
    pub emc_hits: u64,
    /// Lookups the EMC could not answer (including a disabled EMC's: none counted then).
    pub emc_misses: u64,
    /// Classifier answers cached in the EMC.
    pub emc_inserts: u64,
    /// Whole-EMC invalidations (higher-priority installs, priority changes, `flush_emc`).
    pub emc_flushes: u64,
    /// Lookups answered by the classifier.
    pub megaflow_hits: u64,
    /// Lookups with no flow at all (upcalls).
    pub megaflow_misses: u64,
    /// (key, subtable) probes: divide by megaflow lookups for subtables visited per lookup.
    pub subtables_probed: u64,
    /// New flows installed.
    pub installs: u64,
    /// Installs that found the same key and mask and updated that flow.
    pub install_updates: u64,
    /// Explicit removals (`remove`).
    pub removals: u64,
    /// Flows evicted to make room (clock).
    pub evictions: u64,
    /// Flows removed by `expire_idle`.
    pub expirations: u64,
    /// Revalidation outcomes, summed over passes.
    pub revalidated_kept: u64,
    /// See `revalidated_kept`.
    pub revalidated_replaced: u64,
    /// See `revalidated_kept`.
    pub revalidated_deleted: u64,
}

/// A flow as seen by [`FlowTable::iter`] and [`FlowTable::flow`].
#[derive(Clone, Copy, Debug)]
pub struct FlowView<'a> {
    /// The flow's id.
    pub id: FlowId,
    /// The masked key (bits outside the mask are zero).
    pub key: &'a FlowKey,
    /// The megaflow's mask.
    pub mask: &'a FlowMask,
    /// Higher wins where flows overlap.
    pub priority: u32,
    /// The policy generation it was decided (or last revalidated) under.
    pub generation: u64,
    /// Packet and byte counts, times.
    pub stats: &'a FlowStats,
    /// The actions.
    pub actions: &'a [Action],
}

/// What a hit touches: one cache line.
#[derive(Debug, Default)]
#[repr(C, align(64))]
struct FlowHot {
    stats: FlowStats,
    actions: Box<[Action]>,
    version: u32,
    live: bool,
    referenced: bool,
    /// `port + 1` when the actions are exactly `[Output(port)]` (the commonest flow by far),
    /// else 0: a hit on such a flow never reads its action list.
    single_output: u16,
}

const _: () = assert!(size_of::<FlowHot>() == 64);

impl FlowHot {
    /// Counts a packet of `bytes` bytes at `now`.
    #[inline(always)]
    fn count(&mut self, bytes: u32, tcp_flags: u16, now: u64) {
        self.stats.packets += 1;
        self.stats.bytes += u64::from(bytes);
        self.stats.tcp_flags |= tcp_flags;
        self.stats.last_used = self.stats.last_used.max(now);
        self.referenced = true;
    }

    fn set_actions(&mut self, actions: Box<[Action]>) {
        self.single_output = match *actions {
            [Action::Output(port)] => port.wrapping_add(1),
            _ => 0,
        };
        self.actions = actions;
    }
}

/// The packets of a burst as [`FlowTable::hit_batch`] counts them against their flows: packet
/// `i` has `bytes[i]` bytes and the TCP flags `tcp_flags[i]` (0 if not TCP), and arrived at
/// `times[i]` (ns).
#[derive(Clone, Copy, Debug)]
pub struct BatchPackets<'a> {
    pub bytes: &'a [u32],
    pub tcp_flags: &'a [u16],
    pub times: &'a [u64],
}

impl BatchPackets<'_> {
    /// Packets described (the shortest of the three slices).
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.bytes
            .len()
            .min(self.tcp_flags.len())
            .min(self.times.len())
    }

    /// True when no packet is described.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Flows a table reserves address space for when it is made (about 150 bytes each, committed
/// only as flows arrive); a table allowed more grows past this by doubling.
pub const RESERVED_FLOWS: usize = 1 << 22;

/// The answer for a stale id: let the slow path decide again.
static STALE_ACTIONS: [Action; 1] = [Action::ToSlowPath];

/// The per-worker flow table (see the module docs).
#[derive(Debug)]
pub struct FlowTable {
    cfg: FlowTableConfig,
    max_flows: usize,
    seed: HashSeed,
    emc: Emc,
    cls: Classifier,
    hot: Vec<FlowHot>,
    generation: Vec<u64>,
    free: Vec<u32>,
    len: usize,
    clock_hand: usize,
    rng: u64,
    emc_threshold: u32,
    /// Live flows per priority: the minimum decides whether an install may shadow a cached
    /// EMC answer.
    priorities: BTreeMap<u32, u32>,
    counters: FlowTableCounters,
}

/// How many keys of a burst every slice covers, at most [`BATCH`]: index loops up to it need
/// no bounds checks.
#[inline(always)]
fn burst_len(
    keys: &[FlowKey],
    packets: Option<&BatchPackets<'_>>,
    results: &[Option<FlowId>],
    outputs: &[u16],
) -> usize {
    let n = keys.len().min(results.len()).min(outputs.len()).min(BATCH);
    packets.map_or(n, |p| n.min(p.len()))
}

/// The exact-match probe of a burst whose hashes are known: `results[i]`, `outputs[i]` (see
/// [`FlowTable::hit_batch`]) for each key the cache holds a live flow for, each counted
/// against its flow when `packets` is given; returns the misses (bit `i` for key `i`).
///
/// A function of its own so that the cache and the flows come in as separate references: the
/// compiler then knows the counting's writes leave the cache alone and keeps its fields in
/// registers across the burst instead of reloading them for every key.
#[inline(always)]
fn probe_emc(
    emc: &Emc,
    hot: &mut [FlowHot],
    hashes: &[u32; BATCH],
    keys: &[FlowKey],
    packets: Option<&BatchPackets<'_>>,
    results: &mut [Option<FlowId>],
    outputs: &mut [u16],
) -> u32 {
    let n = burst_len(keys, packets, results, outputs);
    let mut miss = 0u32;
    // Each outcome writes its own answer (no values merged after the branches: that kept
    // them on the stack).
    for i in 0..n {
        if let Some((index, version)) = emc.lookup(hashes[i], &keys[i])
            && let Some(h) = hot.get_mut(index as usize)
            && h.live
            && h.version == version
        {
            if let Some(p) = packets {
                h.count(p.bytes[i], p.tcp_flags[i], p.times[i]);
            }
            results[i] = Some(FlowId { index, version });
            outputs[i] = h.single_output;
        } else {
            results[i] = None;
            outputs[i] = 0;
            miss |= 1 << i;
        }
    }
    miss
}

impl FlowTable {
    /// An empty table; allocates the EMC now.
    pub fn new(cfg: FlowTableConfig) -> FlowTable {
        let seed = HashSeed::random();
        let rng = u64::from(seed.hash_key(&FlowKey::zero())) << 32 | 0x9e37_79b9;
        let emc_threshold = match cfg.emc_insert_inv_prob {
            0 => 0,
            n => u32::MAX / n,
        };
        let max_flows = cfg.max_flows.min(u32::MAX as usize - 1);
        // Address space for the flows up front (up to RESERVED_FLOWS), so that filling the
        // table never copies it: pages are committed as flows first use them.
        let reserve = max_flows.min(RESERVED_FLOWS);
        let mut cls = Classifier::new(seed);
        cls.reserve(reserve);
        FlowTable {
            cfg,
            max_flows,
            seed,
            emc: Emc::new(
                cfg.emc_entries,
                seed.hash_key(&FlowKey::from_words([u64::MAX; 8])),
            ),
            cls,
            hot: Vec::with_capacity(reserve),
            generation: Vec::with_capacity(reserve),
            free: Vec::new(),
            len: 0,
            clock_hand: 0,
            rng,
            emc_threshold,
            priorities: BTreeMap::new(),
            counters: FlowTableCounters::default(),
        }
    }

    /// The configuration the table was built with.
    pub fn config(&self) -> &FlowTableConfig {
        &self.cfg
    }

    #[inline(always)]
    fn valid(&self, index: u32, version: u32) -> Option<FlowId> {
        self.hot
            .get(index as usize)
            .filter(|h| h.live && h.version == version)
            .map(|_| FlowId { index, version })
    }

    /// xorshift64: decides EMC insertion.
    #[inline(always)]
    fn emc_should_insert(&mut self) -> bool {
        if self.emc_threshold == 0 || self.emc.capacity() == 0 {
            return false;
        }
        if self.emc_threshold == u32::MAX {
            return true;
        }
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        ((x >> 32) as u32) <= self.emc_threshold
    }

    /// Looks up a burst: `results[i]` = the flow for `keys[i]`, or `None` (an upcall); returns
    /// how many missed. Keys beyond `results.len()` are ignored; bursts over 32 are split.
    /// Nothing is counted against the flows (see [`FlowTable::hit_batch`]). Never allocates.
    pub fn lookup_batch(&mut self, keys: &[FlowKey], results: &mut [Option<FlowId>]) -> usize {
        let n = keys.len().min(results.len());
        let mut missed = 0;
        let mut outputs = [0u16; BATCH];
        for (k, r) in keys[..n].chunks(BATCH).zip(results[..n].chunks_mut(BATCH)) {
            missed += self.lookup_chunk(k, None, r, &mut outputs);
        }
        missed
    }

    /// The datapath's per-batch call: looks up a burst as [`FlowTable::lookup_batch`] does and
    /// counts packet `i` (`packets.bytes[i]` bytes, its TCP flags, at `packets.times[i]`)
    /// against the flow it found, reading each flow's entry once. `outputs[i]` is `port + 1`
    /// when that flow's actions are exactly `[Output(port)]` (send the packet there unchanged,
    /// without reading the action list), else 0 (run [`FlowTable::actions`]; a miss is 0 too).
    /// Keys beyond the shortest slice are ignored. Never allocates.
    pub fn hit_batch(
        &mut self,
        keys: &[FlowKey],
        packets: &BatchPackets<'_>,
        results: &mut [Option<FlowId>],
        outputs: &mut [u16],
    ) -> usize {
        let n = keys
            .len()
            .min(results.len())
            .min(outputs.len())
            .min(packets.len());
        let mut missed = 0;
        let mut at = 0;
        while at < n {
            let end = (at + BATCH).min(n);
            let p = BatchPackets {
                bytes: &packets.bytes[at..end],
                tcp_flags: &packets.tcp_flags[at..end],
                times: &packets.times[at..end],
            };
            missed += self.lookup_chunk(
                &keys[at..end],
                Some(&p),
                &mut results[at..end],
                &mut outputs[at..end],
            );
            at = end;
        }
        missed
    }

    /// Looks up one key (a burst of one).
    pub fn lookup(&mut self, key: &FlowKey) -> Option<FlowId> {
        let mut r = [None];
        let mut o = [0];
        self.lookup_chunk(std::slice::from_ref(key), None, &mut r, &mut o);
        r[0]
    }

    /// One burst of at most [`BATCH`]; returns how many missed. Counts each hit when
    /// `packets` is given (always inlined, so each caller gets its own loop without the test).
    #[inline(always)]
    fn lookup_chunk(
        &mut self,
        keys: &[FlowKey],
        packets: Option<&BatchPackets<'_>>,
        results: &mut [Option<FlowId>],
        outputs: &mut [u16],
    ) -> usize {
        let n = burst_len(keys, packets, results, outputs);
        let (keys, results, outputs) = (&keys[..n], &mut results[..n], &mut outputs[..n]);
        let mut hashes = [0u32; BATCH];
        let miss;
        if self.emc.capacity() > 0 {
            // Index loops: `i < n <= BATCH` and `n` is at most every slice's length, so the
            // bounds checks fold away (the iterator chains cost a dozen instructions a key).
            for i in 0..n {
                let h = self.emc.hash(&self.seed, &keys[i]);
                hashes[i] = h;
                self.emc.prefetch(h);
            }
            miss = probe_emc(
                &self.emc,
                &mut self.hot,
                &hashes,
                keys,
                packets,
                results,
                outputs,
            );
            let misses = u64::from(miss.count_ones());
            self.counters.emc_hits += n as u64 - misses;
            self.counters.emc_misses += misses;
        } else {
            results.fill(None);
            outputs.fill(0);
            miss = if n == BATCH {
                u32::MAX
            } else {
                (1u32 << n) - 1
            };
        }
        if miss == 0 {
            return 0;
        }
        let mut found = [NONE; BATCH];
        self.counters.subtables_probed += self.cls.lookup_batch(keys, miss, &mut found);
        // The flows found are mostly out of cache when there are many: fetch them all at once
        // before the first is read.
        let mut m = miss;
        while m != 0 {
            let i = m.trailing_zeros() as usize;
            m &= m - 1;
            if let Some(h) = self.hot.get(found[i] as usize) {
                prefetch(h);
            }
        }
        let mut m = miss;
        let mut missed = 0;
        while m != 0 {
            let i = m.trailing_zeros() as usize;
            m &= m - 1;
            let idx = found[i];
            let Some(hot) = self.hot.get_mut(idx as usize).filter(|_| idx != NONE) else {
                self.counters.megaflow_misses += 1;
                missed += 1;
                continue;
            };
            if let Some(p) = packets
                && let (Some(&b), Some(&f), Some(&t)) =
                    (p.bytes.get(i), p.tcp_flags.get(i), p.times.get(i))
            {
                hot.count(b, f, t);
            }
            let id = FlowId {
                index: idx,
                version: hot.version,
            };
            if let (Some(r), Some(o)) = (results.get_mut(i), outputs.get_mut(i)) {
                *r = Some(id);
                *o = hot.single_output;
            }
            self.counters.megaflow_hits += 1;
            if self.emc_should_insert()
                && let Some(k) = keys.get(i)
            {
                let hot = &self.hot;
                self.emc.insert(hashes[i], k, idx, id.version, |ix, v| {
                    hot.get(ix as usize)
                        .is_some_and(|h| h.live && h.version == v)
                });
                self.counters.emc_inserts += 1;
            }
        }
        missed
    }

    /// The actions of a flow; `[ToSlowPath]` if the id is stale (the flow was removed).
    #[inline]
    pub fn actions(&self, id: FlowId) -> &[Action] {
        match self.hot.get(id.index as usize) {
            Some(h) if h.live && h.version == id.version => &h.actions,
            _ => &STALE_ACTIONS,
        }
    }

    /// Counts a packet of `bytes` bytes against a flow at time `now`; ignored for a stale id.
    #[inline]
    pub fn record(&mut self, id: FlowId, bytes: u32, tcp_flags: u16, now: u64) {
        if let Some(h) = self.hot.get_mut(id.index as usize)
            && h.live
            && h.version == id.version
        {
            h.count(bytes, tcp_flags, now);
        }
    }

    /// True when `id` names a live flow.
    pub fn contains(&self, id: FlowId) -> bool {
        self.valid(id.index, id.version).is_some()
    }

    /// Installs the megaflow `key & mask` with `priority` (higher wins where flows overlap),
    /// `actions`, and the policy `generation` it was decided under, at time `now`.
    ///
    /// The same key and mask already installed is updated in place and keeps its id. At
    /// `max_flows` the clock evicts one flow first. May allocate.
    pub fn install(
        &mut self,
        key: &FlowKey,
        mask: &FlowMask,
        priority: u32,
        actions: &[Action],
        generation: u64,
        now: u64,
    ) -> Result<FlowId, InstallError> {
        action::validate(actions)?;
        if self.max_flows == 0 {
            return Err(InstallError::Full { max_flows: 0 });
        }
        let mut loc = self.cls.locate(key, mask);
        if let Some(idx) = loc.found {
            let old = self.cls.priority(idx);
            if old != priority {
                self.forget_priority(old);
                self.cls.set_priority(idx, priority);
                *self.priorities.entry(priority).or_insert(0) += 1;
                self.flush_emc();
            }
            if let Some(g) = self.generation.get_mut(idx as usize) {
                *g = generation;
            }
            let Some(h) = self.hot.get_mut(idx as usize) else {
                return Err(InstallError::Full { max_flows: 0 });
            };
            h.set_actions(actions.into());
            h.referenced = true;
            self.counters.install_updates += 1;
            return Ok(FlowId {
                index: idx,
                version: h.version,
            });
        }
        if !self.cls.has_room_at(&loc) {
            return Err(InstallError::TooManySubtables {
                max: crate::classifier::MAX_SUBTABLES,
            });
        }
        if self.len >= self.max_flows {
            while self.len >= self.max_flows {
                if !self.evict_one() {
                    return Err(InstallError::Full {
                        max_flows: self.max_flows,
                    });
                }
            }
            // An eviction may have emptied (and freed) the subtable `loc` names.
            if !self.cls.still_valid(&loc) {
                loc = self.cls.locate(key, mask);
            }
        }
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.hot.push(FlowHot::default());
                self.generation.push(0);
                (self.hot.len() - 1) as u32
            }
        };
        if self.cls.insert_at(index, &loc, mask, priority).is_err() {
            self.free.push(index);
            return Err(InstallError::TooManySubtables {
                max: crate::classifier::MAX_SUBTABLES,
            });
        }
        // A higher priority than some live flow may outrank a cached EMC answer.
        if self
            .priorities
            .first_key_value()
            .is_some_and(|(min, _)| *min < priority)
        {
            self.flush_emc();
        }
        *self.priorities.entry(priority).or_insert(0) += 1;
        if let Some(g) = self.generation.get_mut(index as usize) {
            *g = generation;
        }
        let Some(h) = self.hot.get_mut(index as usize) else {
            return Err(InstallError::Full { max_flows: 0 });
        };
        h.stats = FlowStats {
            last_used: now,
            created: now,
            ..FlowStats::default()
        };
        h.set_actions(actions.into());
        h.live = true;
        h.referenced = true;
        let id = FlowId {
            index,
            version: h.version,
        };
        self.len += 1;
        self.counters.installs += 1;
        Ok(id)
    }

    fn forget_priority(&mut self, p: u32) {
        if let Some(c) = self.priorities.get_mut(&p) {
            *c -= 1;
            if *c == 0 {
                self.priorities.remove(&p);
            }
        }
    }

    /// Second-chance clock over the slots: evicts one live flow. False if there is none.
    fn evict_one(&mut self) -> bool {
        let n = self.hot.len();
        if n == 0 || self.len == 0 {
            return false;
        }
        for _ in 0..=2 * n {
            let i = self.clock_hand % n;
            self.clock_hand = (i + 1) % n;
            let Some(h) = self.hot.get_mut(i) else {
                continue;
            };
            if !h.live {
                continue;
            }
            if h.referenced {
                h.referenced = false;
                continue;
            }
            self.remove_index(i as u32);
            self.counters.evictions += 1;
            return true;
        }
        false
    }

    fn remove_index(&mut self, index: u32) -> bool {
        let Some(h) = self.hot.get_mut(index as usize).filter(|h| h.live) else {
            return false;
        };
        h.live = false;
        h.version = h.version.wrapping_add(1);
        h.set_actions(Box::default());
        h.referenced = false;
        let p = self.cls.priority(index);
        self.cls.remove(index);
        self.forget_priority(p);
        self.free.push(index);
        self.len -= 1;
        true
    }

    /// Removes a flow (no-op for a stale id). Its EMC entries stop validating at once.
    pub fn remove(&mut self, id: FlowId) {
        if self.contains(id) && self.remove_index(id.index) {
            self.counters.removals += 1;
        }
    }

    /// Removes every flow idle for `idle_timeout_ns` or more at `now`; returns how many.
    /// Scans all slots: call it periodically (e.g. every second), not per packet.
    pub fn expire_idle(&mut self, now: u64) -> usize {
        let t = self.cfg.idle_timeout_ns;
        if t == 0 {
            return 0;
        }
        let mut n = 0;
        for i in 0..self.hot.len() {
            let idle = self
                .hot
                .get(i)
                .is_some_and(|h| h.live && now.saturating_sub(h.stats.last_used) >= t);
            if idle && self.remove_index(i as u32) {
                n += 1;
            }
        }
        self.counters.expirations += n as u64;
        n
    }

    /// Re-decides every flow whose generation is below `current_generation`: `f` gets the
    /// flow's masked key, mask and actions and re-runs the slow-path decision.
    ///
    /// A new decision is only valid for the whole megaflow if it reads no field outside the
    /// flow's mask: when the new `Wildcards` mask is not contained in the flow's mask
    /// ([`FlowMask::contains`]), return [`Revalidation::Delete`] and let the next packet
    /// install a correctly shaped flow.
    pub fn revalidate(
        &mut self,
        current_generation: u64,
        mut f: impl FnMut(&FlowKey, &FlowMask, &[Action]) -> Revalidation,
    ) -> RevalidateStats {
        let mut st = RevalidateStats::default();
        for i in 0..self.hot.len() as u32 {
            let old = self
                .generation
                .get(i as usize)
                .is_some_and(|g| *g < current_generation);
            let Some(h) = self.hot.get(i as usize).filter(|h| h.live && old) else {
                continue;
            };
            let (Some(key), Some(mask)) = (self.cls.key(i), self.cls.mask(i)) else {
                continue;
            };
            st.examined += 1;
            let decision = f(key, mask, &h.actions);
            let keep = match decision {
                Revalidation::Keep => {
                    st.kept += 1;
                    true
                }
                Revalidation::Replace(acts) if action::validate(&acts).is_ok() => {
                    if let Some(h) = self.hot.get_mut(i as usize) {
                        h.set_actions(acts.into_boxed_slice());
                    }
                    st.replaced += 1;
                    true
                }
                Revalidation::Replace(_) | Revalidation::Delete => {
                    self.remove_index(i);
                    st.deleted += 1;
                    false
                }
            };
            if keep && let Some(g) = self.generation.get_mut(i as usize) {
                *g = current_generation;
            }
        }
        self.counters.revalidated_kept += st.kept as u64;
        self.counters.revalidated_replaced += st.replaced as u64;
        self.counters.revalidated_deleted += st.deleted as u64;
        st
    }

    /// A flow's statistics, if the id is live.
    pub fn stats(&self, id: FlowId) -> Option<&FlowStats> {
        self.hot
            .get(id.index as usize)
            .filter(|h| h.live && h.version == id.version)
            .map(|h| &h.stats)
    }

    /// Everything about one flow, if the id is live.
    pub fn flow(&self, id: FlowId) -> Option<FlowView<'_>> {
        self.contains(id).then_some(())?;
        self.view(id.index)
    }

    fn view(&self, i: u32) -> Option<FlowView<'_>> {
        let h = self.hot.get(i as usize).filter(|h| h.live)?;
        Some(FlowView {
            id: FlowId {
                index: i,
                version: h.version,
            },
            key: self.cls.key(i)?,
            mask: self.cls.mask(i)?,
            priority: self.cls.priority(i),
            generation: self.generation.get(i as usize).copied().unwrap_or(0),
            stats: &h.stats,
            actions: &h.actions,
        })
    }

    /// Every live flow, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = FlowView<'_>> + '_ {
        (0..self.hot.len() as u32).filter_map(|i| self.view(i))
    }

    /// The counters.
    pub fn counters(&self) -> &FlowTableCounters {
        &self.counters
    }

    /// Live flows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no flow is installed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Distinct masks (classifier subtables).
    pub fn subtable_count(&self) -> usize {
        self.cls.subtable_count()
    }

    /// Re-sorts the classifier's subtables by recent hits now (it also happens every
    /// 1024 lookups).
    pub fn rank_subtables(&mut self) {
        self.cls.rank();
    }

    /// Invalidates every EMC entry (O(1)).
    pub fn flush_emc(&mut self) {
        self.emc.flush();
        self.counters.emc_flushes += 1;
    }

    /// EMC entries holding a current key (scans the EMC: for tests and dumps).
    pub fn emc_occupancy(&self) -> usize {
        self.emc.occupied()
    }

    /// Approximate heap and inline bytes used by the table (EMC, classifier, flow store,
    /// action lists): flow slots in use, not the address space reserved for more (never
    /// touched, so not resident). Divide by `len()` for bytes per flow.
    pub fn memory_bytes(&self) -> usize {
        let actions: usize = self
            .hot
            .iter()
            .map(|h| h.actions.len() * size_of::<Action>())
            .sum();
        size_of::<FlowTable>()
            + self.emc.memory_bytes()
            + self.cls.memory_bytes()
            + self.hot.len() * size_of::<FlowHot>()
            + self.generation.len() * size_of::<u64>()
            + self.free.capacity() * size_of::<u32>()
            + self.priorities.len() * 4 * size_of::<u32>()
            + actions
    }

    #[cfg(test)]
    pub(crate) fn check(&self) {
        self.cls.check();
        assert_eq!(self.len, self.hot.iter().filter(|h| h.live).count());
        assert_eq!(
            self.len,
            self.priorities.values().map(|c| *c as usize).sum::<usize>()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{Field, NwFrag};
    use proptest::prelude::*;

    fn cfg(emc: usize, inv: u32, max: usize) -> FlowTableConfig {
        FlowTableConfig {
            emc_entries: emc,
            emc_insert_inv_prob: inv,
            max_flows: max,
            idle_timeout_ns: 1000,
        }
    }

    fn key(port: u16, src: [u8; 4], dport: u16) -> FlowKey {
        let mut k = FlowKey::zero();
        k.set_in_port(port);
        k.set_dl_type(0x0800);
        k.set_ipv4_src(src);
        k.set_ipv4_dst([10, 0, 0, 1]);
        k.set_nw_proto(6);
        k.set_tp_src(40000);
        k.set_tp_dst(dport);
        k
    }

    const OUT1: &[Action] = &[Action::Output(1)];
    const OUT2: &[Action] = &[Action::Output(2)];

    #[test]
    fn emc_hit_after_install() {
        let mut t = FlowTable::new(cfg(64, 1, 100));
        let k = key(1, [1, 1, 1, 1], 80);
        assert_eq!(t.lookup(&k), None);
        assert_eq!(t.counters().megaflow_misses, 1);
        let id = t.install(&k, &FlowMask::EXACT, 0, OUT1, 1, 0).unwrap();
        assert_eq!(t.lookup(&k), Some(id));
        assert_eq!(t.counters().megaflow_hits, 1);
        assert_eq!(t.counters().emc_inserts, 1);
        assert_eq!(t.lookup(&k), Some(id));
        assert_eq!(t.counters().emc_hits, 1);
        assert_eq!(t.actions(id), OUT1);
        t.record(id, 100, 0x12, 5);
        t.record(id, 50, 0x01, 7);
        let s = t.stats(id).unwrap();
        assert_eq!(
            (s.packets, s.bytes, s.tcp_flags, s.last_used),
            (2, 150, 0x13, 7)
        );
        t.check();
    }

    #[test]
    fn batch_agrees_with_single_lookups() {
        let mut t = FlowTable::new(cfg(64, 1, 1000));
        let by_src = FlowMask::CATCHALL
            .with(Field::DlType)
            .with_nw_src_prefix(32);
        for i in 0..40u8 {
            t.install(&key(0, [10, 0, 0, i], 0), &by_src, 0, OUT1, 0, 0)
                .unwrap();
        }
        let keys: Vec<FlowKey> = (0..70u8)
            .map(|i| key(u16::from(i), [10, 0, 0, i], 1))
            .collect();
        let mut res = vec![None; 70];
        t.lookup_batch(&keys, &mut res);
        for (k, r) in keys.iter().zip(&res) {
            assert_eq!(t.lookup(k), *r);
            assert_eq!(r.is_some(), k.nw_src()[3] < 40);
        }
        // A short result slice: the extra keys are ignored, nothing panics.
        let mut short = [None; 3];
        t.lookup_batch(&keys, &mut short);
        assert!(short.iter().all(Option::is_some));
        assert_eq!(
            t.counters().megaflow_misses,
            60,
            "30 in the batch, 30 single"
        );
    }

    #[test]
    fn insertion_probability() {
        let mut t = FlowTable::new(cfg(8192, 100, 10_000));
        let mask = FlowMask::CATCHALL.with(Field::InPort);
        t.install(&key(1, [0; 4], 0), &mask, 0, OUT1, 0, 0).unwrap();
        for i in 0..20_000u16 {
            t.lookup(&key(1, [0; 4], i));
        }
        let ins = t.counters().emc_inserts;
        // Binomial(20000, 0.01): mean 200, sd 14.
        assert!((120..=280).contains(&ins), "{ins} inserts");
        let mut never = FlowTable::new(cfg(8192, 0, 10));
        never
            .install(&key(1, [0; 4], 0), &mask, 0, OUT1, 0, 0)
            .unwrap();
        never.lookup(&key(1, [0; 4], 0));
        assert_eq!(never.counters().emc_inserts, 0);
    }

    #[test]
    fn wildcards_and_priority_overlap() {
        let mut t = FlowTable::new(cfg(64, 1, 100));
        let by_port = FlowMask::CATCHALL.with(Field::InPort);
        let by_net = by_port.with(Field::DlType).with_nw_src_prefix(24);
        let low = t
            .install(&key(1, [0; 4], 0), &by_port, 1, OUT1, 0, 0)
            .unwrap();
        let k = key(1, [192, 168, 1, 77], 443);
        // Warm the EMC with the low-priority answer.
        assert_eq!(t.lookup(&k), Some(low));
        assert_eq!(t.lookup(&k), Some(low));
        let high = t
            .install(&key(1, [192, 168, 1, 0], 0), &by_net, 9, OUT2, 0, 0)
            .unwrap();
        assert_eq!(
            t.counters().emc_flushes,
            1,
            "higher priority flushes the EMC"
        );
        assert_eq!(t.lookup(&k), Some(high));
        assert_eq!(t.lookup(&k), Some(high));
        assert_eq!(t.lookup(&key(1, [192, 168, 2, 1], 443)), Some(low));
        assert_eq!(t.lookup(&key(2, [192, 168, 1, 1], 443)), None);
        // Lower priority than everything: no flush.
        t.install(&key(3, [0; 4], 0), &by_port, 0, OUT1, 0, 0)
            .unwrap();
        assert_eq!(t.counters().emc_flushes, 1);
        assert_eq!(t.subtable_count(), 2);
        t.remove(high);
        assert_eq!(t.lookup(&k), Some(low));
        assert_eq!(t.subtable_count(), 1);
        t.check();
    }

    #[test]
    fn reinstall_updates_in_place() {
        let mut t = FlowTable::new(cfg(64, 1, 100));
        let k = key(1, [1; 4], 1);
        let a = t.install(&k, &FlowMask::EXACT, 0, OUT1, 1, 0).unwrap();
        t.record(a, 10, 0, 1);
        let b = t.install(&k, &FlowMask::EXACT, 0, OUT2, 2, 0).unwrap();
        assert_eq!(a, b);
        assert_eq!((t.len(), t.actions(a)), (1, OUT2));
        assert_eq!(t.stats(a).unwrap().packets, 1);
        assert_eq!(t.counters().install_updates, 1);
    }

    /// `hit_batch` of one packet: (the flow found, the output answer).
    fn hit_one(
        t: &mut FlowTable,
        k: &FlowKey,
        bytes: u32,
        flags: u16,
        now: u64,
    ) -> (Option<FlowId>, u16) {
        let (mut r, mut o) = ([None], [7u16]);
        let p = BatchPackets {
            bytes: &[bytes],
            tcp_flags: &[flags],
            times: &[now],
        };
        t.hit_batch(std::slice::from_ref(k), &p, &mut r, &mut o);
        (r[0], o[0])
    }

    #[test]
    fn a_hit_on_a_one_output_flow_answers_with_its_port() {
        let mut t = FlowTable::new(cfg(64, 1, 100));
        let k = key(1, [1; 4], 1);
        let a = t.install(&k, &FlowMask::EXACT, 0, OUT1, 1, 0).unwrap();
        // Port 1 is answered as 2 (0 means "read the list").
        assert_eq!(hit_one(&mut t, &k, 60, 0x10, 5), (Some(a), 2));
        let s = t.stats(a).unwrap();
        assert_eq!(
            (s.packets, s.bytes, s.tcp_flags, s.last_used),
            (1, 60, 0x10, 5)
        );
        // Updated to a rewrite then an output: the list, and the same statistics.
        let rewrite = [Action::SetTpDst(8080), Action::Output(1)];
        t.install(&k, &FlowMask::EXACT, 0, &rewrite, 2, 0).unwrap();
        assert_eq!(hit_one(&mut t, &k, 60, 0, 6), (Some(a), 0));
        assert_eq!(t.actions(a), &rewrite);
        assert_eq!(t.stats(a).unwrap().packets, 2);
        // Revalidated back to one output.
        t.revalidate(3, |_, _, _| Revalidation::Replace(vec![Action::Output(7)]));
        assert_eq!(hit_one(&mut t, &k, 60, 0, 7), (Some(a), 8));
        // The largest port id cannot be told from "no single output": it takes the list.
        let kb = key(2, [1; 4], 1);
        let b = t
            .install(&kb, &FlowMask::EXACT, 0, &[Action::Output(u16::MAX)], 3, 0)
            .unwrap();
        assert_eq!(hit_one(&mut t, &kb, 60, 0, 8), (Some(b), 0));
        assert_eq!(t.actions(b), &[Action::Output(u16::MAX)]);
        // A removed flow: a miss, nothing counted, and the other flow unaffected.
        t.remove(a);
        assert_eq!(hit_one(&mut t, &k, 60, 0, 9), (None, 0));
        assert_eq!(t.actions(a), &[Action::ToSlowPath]);
        assert_eq!(hit_one(&mut t, &kb, 60, 0, 9), (Some(b), 0));
        assert_eq!(t.stats(b).unwrap().packets, 2);
    }

    /// Every packet of a burst is counted against the flow it hit, whether the exact-match
    /// cache or the classifier answered, and a miss is counted against nothing.
    #[test]
    fn hit_batch_counts_each_packet_against_its_flow() {
        for emc in [0, 64] {
            let mut t = FlowTable::new(cfg(emc, 1, 100));
            // One megaflow for port 1 whatever the source, one exact flow on port 2.
            let wide = FlowMask::CATCHALL.with(Field::InPort);
            let a = t.install(&key(1, [1; 4], 1), &wide, 0, OUT1, 1, 0).unwrap();
            let kb = key(2, [9; 4], 1);
            let b = t.install(&kb, &FlowMask::EXACT, 0, OUT2, 1, 0).unwrap();
            let keys: Vec<FlowKey> = (0..40u8)
                .map(|i| match i % 4 {
                    0 | 1 => key(1, [i; 4], 1),
                    2 => kb,
                    _ => key(3, [i; 4], 1),
                })
                .collect();
            let bytes: Vec<u32> = (0..40).map(|i| 60 + i).collect();
            let flags: Vec<u16> = (0..40).map(|i| 1 << (i % 9)).collect();
            let times: Vec<u64> = (0..40).map(|i| 100 + i).collect();
            let p = BatchPackets {
                bytes: &bytes,
                tcp_flags: &flags,
                times: &times,
            };
            let (mut r, mut o) = (vec![None; 40], vec![0u16; 40]);
            // Twice: the second pass finds the first's keys in the exact-match cache.
            for pass in 1..=2u64 {
                assert_eq!(t.hit_batch(&keys, &p, &mut r, &mut o), 10, "emc {emc}");
                for i in 0..40 {
                    let (want, out) = match i % 4 {
                        0 | 1 => (Some(a), 2),
                        2 => (Some(b), 3),
                        _ => (None, 0),
                    };
                    assert_eq!((r[i], o[i]), (want, out), "emc {emc}, packet {i}");
                }
                for (id, of) in [(a, [0, 1]), (b, [2, 2])] {
                    let mine: Vec<usize> = (0..40).filter(|i| of.contains(&(i % 4))).collect();
                    let s = t.stats(id).unwrap();
                    assert_eq!(s.packets, pass * mine.len() as u64);
                    let sum: u64 = mine.iter().map(|&i| u64::from(bytes[i])).sum();
                    assert_eq!(s.bytes, pass * sum);
                    let or = mine.iter().fold(0, |f, &i| f | flags[i]);
                    assert_eq!(s.tcp_flags, or);
                    assert_eq!(s.last_used, times[*mine.last().unwrap()]);
                }
            }
        }
    }

    #[test]
    fn an_install_whose_eviction_frees_its_own_subtable_still_lands() {
        // One flow at most: the second install of the same mask evicts the first, the
        // subtable's only flow, which frees the subtable the install had looked up.
        let mut t = FlowTable::new(cfg(64, 1, 1));
        let mask = FlowMask::CATCHALL.with(Field::InPort);
        let a = t.install(&key(1, [1; 4], 1), &mask, 0, OUT1, 0, 0).unwrap();
        let b = t.install(&key(2, [1; 4], 1), &mask, 0, OUT2, 0, 0).unwrap();
        assert!(!t.contains(a));
        assert_eq!(t.len(), 1);
        assert_eq!(t.lookup(&key(2, [9; 4], 7)), Some(b));
        assert_eq!(t.lookup(&key(1, [1; 4], 1)), None);
        assert_eq!(t.actions(b), OUT2);
        assert_eq!(t.subtable_count(), 1);
    }

    #[test]
    fn eviction_at_max_flows() {
        let mut t = FlowTable::new(cfg(64, 1, 4));
        let ids: Vec<_> = (0..4)
            .map(|i| {
                t.install(&key(i, [1; 4], 1), &FlowMask::EXACT, 0, OUT1, 0, 0)
                    .unwrap()
            })
            .collect();
        // Every flow still has its install-time bit: the hand clears them all, then takes
        // the first.
        assert!(t.evict_one());
        assert!(!t.contains(ids[0]));
        // Flows 1 and 3 are used again; 2 is not, so it is the next victim.
        t.record(ids[1], 1, 0, 1);
        t.record(ids[3], 1, 0, 1);
        let n = t
            .install(&key(9, [1; 4], 1), &FlowMask::EXACT, 0, OUT1, 0, 0)
            .unwrap();
        assert_eq!(t.len(), 4);
        assert!(t.contains(n));
        let n2 = t
            .install(&key(10, [1; 4], 1), &FlowMask::EXACT, 0, OUT1, 0, 0)
            .unwrap();
        assert!(!t.contains(ids[2]) && t.contains(ids[1]) && t.contains(ids[3]));
        assert!(t.contains(n2));
        assert_eq!(t.counters().evictions, 2);
        // The evicted flow's id is stale: slow path, no stats.
        assert_eq!(t.actions(ids[2]), &[Action::ToSlowPath]);
        assert!(t.stats(ids[2]).is_none());
        assert_eq!(
            FlowTable::new(cfg(0, 0, 0)).install(
                &key(1, [1; 4], 1),
                &FlowMask::EXACT,
                0,
                OUT1,
                0,
                0
            ),
            Err(InstallError::Full { max_flows: 0 })
        );
        t.check();
    }

    #[test]
    fn idle_expiry() {
        let mut t = FlowTable::new(cfg(64, 1, 100));
        let a = t
            .install(&key(1, [1; 4], 1), &FlowMask::EXACT, 0, OUT1, 0, 100)
            .unwrap();
        let b = t
            .install(&key(2, [1; 4], 1), &FlowMask::EXACT, 0, OUT1, 0, 100)
            .unwrap();
        assert_eq!(t.lookup(&key(1, [1; 4], 1)), Some(a));
        t.record(a, 1, 0, 900);
        assert_eq!(t.expire_idle(1099), 0);
        assert_eq!(t.expire_idle(1100), 1);
        assert!(t.contains(a) && !t.contains(b));
        assert_eq!(t.expire_idle(1900), 1);
        assert!(t.is_empty());
        assert_eq!(
            t.lookup(&key(1, [1; 4], 1)),
            None,
            "EMC entry of an expired flow is stale"
        );
        assert_eq!(t.counters().expirations, 2);
        t.check();
    }

    #[test]
    fn revalidation_keep_replace_delete() {
        let mut t = FlowTable::new(cfg(64, 1, 100));
        let ks: Vec<_> = (0..3).map(|i| key(i, [1; 4], 1)).collect();
        let ids: Vec<_> = ks
            .iter()
            .map(|k| t.install(k, &FlowMask::EXACT, 0, OUT1, 1, 0).unwrap())
            .collect();
        // Cache all three in the EMC.
        for k in &ks {
            t.lookup(k);
            t.lookup(k);
        }
        let newer = t
            .install(&key(7, [1; 4], 1), &FlowMask::EXACT, 0, OUT1, 2, 0)
            .unwrap();
        let st = t.revalidate(2, |k, m, a| {
            assert_eq!(*m, FlowMask::EXACT);
            assert_eq!(a, OUT1);
            match k.in_port() {
                0 => Revalidation::Keep,
                1 => Revalidation::Replace(vec![Action::Output(2)]),
                _ => Revalidation::Delete,
            }
        });
        assert_eq!(
            st,
            RevalidateStats {
                examined: 3,
                kept: 1,
                replaced: 1,
                deleted: 1
            }
        );
        assert_eq!(t.lookup(&ks[0]).map(|id| t.actions(id)), Some(OUT1));
        assert_eq!(
            t.lookup(&ks[1]).map(|id| t.actions(id)),
            Some(OUT2),
            "never the old actions"
        );
        assert_eq!(t.actions(ids[1]), OUT2);
        assert_eq!(
            t.lookup(&ks[2]),
            None,
            "deleted flow not served from the EMC"
        );
        assert!(t.contains(newer));
        // Everything is at generation 2 now: nothing to examine.
        assert_eq!(t.revalidate(2, |_, _, _| Revalidation::Delete).examined, 0);
        // An invalid replacement deletes.
        let st = t.revalidate(3, |_, _, _| {
            Revalidation::Replace(vec![Action::ToSlowPath, Action::Output(1)])
        });
        assert_eq!((st.examined, st.deleted), (3, 3));
        assert!(t.is_empty());
        t.check();
    }

    #[test]
    fn iter_and_memory() {
        let mut t = FlowTable::new(cfg(64, 1, 100));
        let m = FlowMask::CATCHALL.with(Field::InPort).with(Field::NwFrag);
        let mut k = key(5, [1; 4], 1);
        k.set_nw_frag(NwFrag::Later);
        let id = t.install(&k, &m, 3, OUT2, 4, 9).unwrap();
        let v: Vec<_> = t.iter().collect();
        assert_eq!(v.len(), 1);
        assert_eq!((v[0].id, v[0].priority, v[0].generation), (id, 3, 4));
        assert_eq!(*v[0].key, m.apply(&k));
        assert_eq!(v[0].stats.created, 9);
        assert!(t.memory_bytes() > 64 * 64);
        assert_eq!(t.flow(id).unwrap().actions, OUT2);
    }

    /// Masks built from a few fields, including prefixes, so random flows overlap often.
    fn mask_from(bits: u8, prefix: u8) -> FlowMask {
        let mut m = FlowMask::CATCHALL;
        if bits & 1 != 0 {
            m = m.with(Field::InPort);
        }
        if bits & 2 != 0 {
            m = m.with(Field::TpDst);
        }
        if bits & 4 != 0 {
            m = m.with_nw_src_prefix(prefix % 33);
        }
        if bits & 8 != 0 {
            m = m.with(Field::NwProto);
        }
        m
    }

    fn small_key(port: u8, src: u8, dport: u8, proto: bool) -> FlowKey {
        let mut k = key(
            u16::from(port % 3),
            [10, src % 4, src / 4 % 4, src],
            u16::from(dport % 3),
        );
        k.set_nw_proto(if proto { 6 } else { 17 });
        k
    }

    #[derive(Debug, Clone)]
    enum Op {
        Install {
            mask: u8,
            prefix: u8,
            key: (u8, u8, u8, bool),
            prio: u8,
        },
        Remove(usize),
        Lookup((u8, u8, u8, bool)),
    }

    fn op() -> impl Strategy<Value = Op> {
        let k = (any::<u8>(), any::<u8>(), any::<u8>(), any::<bool>());
        prop_oneof![
            3 => (0u8..16, any::<u8>(), k, any::<u8>())
                .prop_map(|(mask, prefix, key, prio)| Op::Install { mask, prefix, key, prio }),
            1 => any::<usize>().prop_map(Op::Remove),
            6 => k.prop_map(Op::Lookup),
        ]
    }

    fn run_model(ops: Vec<Op>, prio_range: u8, max_flows: usize) -> Result<(), TestCaseError> {
        let mut t = FlowTable::new(cfg(16, 1, max_flows));
        // Model: every live flow with its masked key, mask, priority.
        let mut live: Vec<(FlowId, FlowKey, FlowMask, u32)> = Vec::new();
        for op in ops {
            match op {
                Op::Install {
                    mask,
                    prefix,
                    key: (a, b, c, d),
                    prio,
                } => {
                    let m = mask_from(mask, prefix);
                    let k = small_key(a, b, c, d);
                    let p = u32::from(prio % prio_range);
                    let id = t
                        .install(&k, &m, p, &[Action::Output(u16::from(prio))], 0, 0)
                        .unwrap();
                    live.retain(|(i, ..)| t.contains(*i) && *i != id);
                    live.push((id, m.apply(&k), m, p));
                }
                Op::Remove(i) => {
                    if !live.is_empty() {
                        let (id, ..) = live.remove(i % live.len());
                        t.remove(id);
                    }
                }
                Op::Lookup((a, b, c, d)) => {
                    let k = small_key(a, b, c, d);
                    let best = live
                        .iter()
                        .filter(|(_, mk, m, _)| m.matches(mk, &k))
                        .map(|f| f.3)
                        .max();
                    // Twice: once through the classifier, once more possibly through the EMC.
                    for _ in 0..2 {
                        let got = t.lookup(&k);
                        match (got, best) {
                            (None, None) => {}
                            (Some(id), Some(bp)) => {
                                let f = live.iter().find(|f| f.0 == id);
                                prop_assert!(f.is_some(), "returned a dead flow");
                                let f = f.unwrap();
                                prop_assert!(f.2.matches(&f.1, &k), "returned a non-matching flow");
                                prop_assert_eq!(f.3, bp, "not the highest priority");
                            }
                            (g, b) => {
                                prop_assert!(false, "lookup {:?} vs model {:?} for {:?}", g, b, k)
                            }
                        }
                    }
                }
            }
            prop_assert_eq!(t.len(), live.len());
        }
        t.check();
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        /// Few priorities: many equal-priority overlaps (tie rule: any of the best).
        #[test]
        fn classifier_matches_linear_scan_with_ties(ops in proptest::collection::vec(op(), 1..300)) {
            run_model(ops, 3, 10_000)?;
        }

        /// Many priorities and eviction pressure.
        #[test]
        fn classifier_matches_linear_scan_with_eviction(ops in proptest::collection::vec(op(), 1..300)) {
            run_model(ops, 255, 12)?;
        }
    }
}
