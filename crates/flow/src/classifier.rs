//! The megaflow classifier: tuple-space search over wildcarded flows, as OVS's dpcls.
//!
//! * **Keys on** `key & mask` for each distinct mask: one *subtable* per mask, holding every
//!   megaflow installed with that mask. A subtable is an open-addressing table (linear
//!   probing, load factor at most 1/2, power-of-two size, at least 16 slots) of 8-byte slots
//!   `(hash of the masked key, flow index + 1)`. The hash is taken over the masked words only
//!   (bits outside the mask are zero), under the table's secret seed so that an outsider cannot
//!   build long probe chains. A probe compares the stored hash first and the 64-byte masked key
//!   only on a hash match.
//! * **Size**: grows by doubling on install (slow path); a subtable whose last flow leaves is
//!   freed. At most [`MAX_SUBTABLES`] masks.
//! * **Eviction / invalidation**: none of its own; the flow table removes entries.
//!
//! **Priorities.** In OVS's datapath megaflows never overlap, so the first subtable that matches
//! wins. Here the slow path may install overlapping megaflows with priorities, so a lookup must
//! return a match of the *highest* priority. Probing every subtable always would cost about
//! 4 ns per subtable per packet; instead subtables are visited in rank order (highest
//! `max_priority` first, then most hits) and each rank carries the maximum priority of itself
//! and every later subtable (`suffix_max`). A packet stops as soon as its best match so far has
//! a priority `>= suffix_max`: no later subtable can beat it. When all flows share one
//! priority — what a megaflow generator without explicit priorities produces — this is exactly
//! OVS's "stop at the first hit", and hit-count ranking keeps the busiest subtable first.
//! The correctness of the early stop depends only on `suffix_max`, which is recomputed on every
//! change of the order or of a subtable's maximum priority, never on the sort order.
//!
//! **Ties.** Among matching megaflows of equal (highest) priority, which one is returned is
//! unspecified (it depends on the current rank order). That is sound when overlapping
//! megaflows of one priority carry the same actions for the packets they share, which holds for
//! megaflows derived from one policy snapshot. Give overlapping flows distinct priorities when
//! the answer must be unique.
//!
//! Ranking: subtables are re-sorted by hit count every [`RANK_INTERVAL`] looked-up keys (an
//! in-place sort of at most a few hundred entries, no allocation), after which hit counts are
//! halved so the order follows recent traffic.
//!
//! Lookups never allocate: a burst is processed per subtable in three passes over the packets
//! still pending (hash + prefetch slot; find the hash + prefetch the stored key; compare), or
//! in one pass when the subtable is small enough to stay in cache.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use crate::key::{FlowKey, FlowMask, HashSeed};
use crate::prefetch::prefetch;

/// Packets per lookup burst.
pub const BATCH: usize = 32;
/// Most distinct masks (subtables) a classifier holds; each costs a probe per missing packet.
pub const MAX_SUBTABLES: usize = 4096;
/// Keys looked up between two re-rankings of the subtables.
pub const RANK_INTERVAL: u32 = 1024;

/// Subtables of at most this many slots (32 KB) are probed in one pass without prefetching:
/// they stay in cache, and the three-pass walk only pays off when lines must be fetched.
const SMALL_SUBTABLE_SLOTS: usize = 4096;

/// "No flow" in index outputs.
pub(crate) const NONE: u32 = u32::MAX;

/// A fast hasher for the mask -> subtable map (installs look it up; SipHash over 64 bytes was a
/// tenth of an install). Masks are chosen by our slow path, not by packets.
#[derive(Default)]
struct MaskHasher(u64);

impl Hasher for MaskHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut c = bytes.chunks_exact(8);
        for w in &mut c {
            let mut a = [0u8; 8];
            a.copy_from_slice(w);
            self.write_u64(u64::from_le_bytes(a));
        }
        for b in c.remainder() {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, x: u64) {
        let r = u128::from(self.0 ^ x) * 0x9e37_79b9_7f4a_7c15;
        self.0 = (r as u64) ^ ((r >> 64) as u64);
    }
    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }
}

type MaskMap = HashMap<FlowMask, u32, BuildHasherDefault<MaskHasher>>;

/// Where a masked key is or would go in the classifier ([`Classifier::locate`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Location {
    masked: FlowKey,
    hash: u32,
    /// The mask's subtable, if it exists.
    subtable: Option<u32>,
    /// The flow installed with this masked key and mask, if any.
    pub(crate) found: Option<u32>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    hash: u32,
    /// Flow index + 1; 0 = empty.
    idx: u32,
}

#[derive(Debug)]
struct Subtable {
    mask: FlowMask,
    /// [`HashSeed::active_pairs`] of the mask.
    pairs: u8,
    slots: Vec<Slot>,
    len: u32,
    hits: u64,
    max_priority: u32,
    /// How many flows of each priority: gives `max_priority` after removals.
    priorities: BTreeMap<u32, u32>,
    live: bool,
}

impl Subtable {
    fn new(mask: FlowMask) -> Subtable {
        Subtable {
            mask,
            pairs: HashSeed::active_pairs(&mask),
            slots: vec![Slot::default(); 16],
            len: 0,
            hits: 0,
            max_priority: 0,
            priorities: BTreeMap::new(),
            live: true,
        }
    }

    #[inline(always)]
    fn smask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    fn grow_if_needed(&mut self) {
        if (self.len as usize + 1) * 2 <= self.slots.len() {
            return;
        }
        let n = (self.slots.len() * 2).max(16);
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); n]);
        for s in old.into_iter().filter(|s| s.idx != 0) {
            self.put(s);
        }
    }

    fn put(&mut self, s: Slot) {
        let m = self.smask();
        let mut pos = s.hash as usize & m;
        while let Some(cur) = self.slots.get_mut(pos) {
            if cur.idx == 0 {
                *cur = s;
                return;
            }
            pos = (pos + 1) & m;
        }
    }

    /// Removes the slot of flow `index` (stored under `hash`) by backward-shift deletion, so no
    /// tombstones accumulate.
    fn delete(&mut self, hash: u32, index: u32) -> bool {
        let m = self.smask();
        let mut pos = hash as usize & m;
        loop {
            match self.slots.get(pos) {
                Some(s) if s.idx == index + 1 => break,
                Some(s) if s.idx != 0 => pos = (pos + 1) & m,
                _ => return false,
            }
        }
        let mut hole = pos;
        let mut j = pos;
        loop {
            j = (j + 1) & m;
            let Some(&s) = self.slots.get(j) else {
                return false;
            };
            if s.idx == 0 {
                break;
            }
            let home = s.hash as usize & m;
            // The entry at j may move to the hole unless its home lies cyclically in (hole, j].
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                if let Some(h) = self.slots.get_mut(hole) {
                    *h = s;
                }
                hole = j;
            }
        }
        if let Some(h) = self.slots.get_mut(hole) {
            *h = Slot::default();
        }
        true
    }

    fn add_priority(&mut self, p: u32) -> bool {
        *self.priorities.entry(p).or_insert(0) += 1;
        self.refresh_max()
    }

    fn remove_priority(&mut self, p: u32) -> bool {
        if let Some(c) = self.priorities.get_mut(&p) {
            *c -= 1;
            if *c == 0 {
                self.priorities.remove(&p);
            }
        }
        self.refresh_max()
    }

    /// Recomputes `max_priority`; true when it changed.
    fn refresh_max(&mut self) -> bool {
        let m = self.priorities.last_key_value().map_or(0, |(p, _)| *p);
        let changed = m != self.max_priority;
        self.max_priority = m;
        changed
    }
}

#[derive(Clone, Copy, Debug)]
struct Rank {
    subtable: u32,
    /// Highest priority in this and every later subtable of the order.
    suffix_max: u32,
}

#[derive(Clone, Copy, Debug, Default)]
struct EntryMeta {
    subtable: u32,
    priority: u32,
    hash: u32,
    live: bool,
}

/// The classifier would need a new subtable but already has [`MAX_SUBTABLES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TooManySubtables;

/// Tuple-space search over megaflows. Entries are addressed by a flow index chosen by the
/// owner (the flow table), which also owns the flows' actions and statistics.
#[derive(Debug)]
pub(crate) struct Classifier {
    seed: HashSeed,
    /// Masked key of each flow index.
    keys: Vec<FlowKey>,
    meta: Vec<EntryMeta>,
    subtables: Vec<Subtable>,
    free_subtables: Vec<u32>,
    by_mask: MaskMap,
    order: Vec<Rank>,
    since_rank: u32,
}

impl Classifier {
    pub(crate) fn new(seed: HashSeed) -> Classifier {
        Classifier {
            seed,
            keys: Vec::new(),
            meta: Vec::new(),
            subtables: Vec::new(),
            free_subtables: Vec::new(),
            by_mask: MaskMap::default(),
            order: Vec::new(),
            since_rank: 0,
        }
    }

    /// Reserves capacity for `n` flows without touching it.
    pub(crate) fn reserve(&mut self, n: usize) {
        self.keys.reserve_exact(n);
        self.meta.reserve_exact(n);
    }

    /// Reserves room for flow indices below `n` (slow path).
    pub(crate) fn reserve_index(&mut self, index: u32) {
        let need = index as usize + 1;
        if self.keys.len() < need {
            self.keys.resize(need, FlowKey::zero());
            self.meta.resize(need, EntryMeta::default());
        }
    }

    /// Number of subtables (distinct masks).
    pub(crate) fn subtable_count(&self) -> usize {
        self.order.len()
    }

    /// The index of the flow installed with exactly this masked key and mask.
    #[cfg(test)]
    pub(crate) fn find(&self, key: &FlowKey, mask: &FlowMask) -> Option<u32> {
        self.locate(key, mask).found
    }

    /// Where `key & mask` is or would go: one mask-map lookup and one hash, shared by the
    /// check for an existing flow and the insert that follows it ([`Classifier::insert_at`]).
    pub(crate) fn locate(&self, key: &FlowKey, mask: &FlowMask) -> Location {
        let masked = mask.apply(key);
        let hash = self.seed.hash_key(&masked);
        let subtable = self.by_mask.get(mask).copied();
        let found = subtable
            .and_then(|sid| self.subtables.get(sid as usize))
            .and_then(|st| {
                let m = st.smask();
                let mut pos = hash as usize & m;
                loop {
                    let s = st.slots.get(pos)?;
                    if s.idx == 0 {
                        return None;
                    }
                    if s.hash == hash && self.keys.get(s.idx as usize - 1) == Some(&masked) {
                        return Some(s.idx - 1);
                    }
                    pos = (pos + 1) & m;
                }
            });
        Location {
            masked,
            hash,
            subtable,
            found,
        }
    }

    /// True when `loc` may still be passed to [`Classifier::insert_at`] after flows were
    /// removed since it was made: its subtable, if it had one, is still there. (Removals only
    /// free slots; the insert probes afresh.)
    pub(crate) fn still_valid(&self, loc: &Location) -> bool {
        loc.subtable
            .is_none_or(|sid| self.subtables.get(sid as usize).is_some_and(|st| st.live))
    }

    /// True when a flow at `loc` can be inserted (its subtable exists or may be created).
    pub(crate) fn has_room_at(&self, loc: &Location) -> bool {
        loc.subtable.is_some() || self.order.len() < MAX_SUBTABLES
    }

    /// Inserts flow `index` (not currently inserted) as `key & mask` with `priority`.
    #[cfg(test)]
    pub(crate) fn insert(
        &mut self,
        index: u32,
        key: &FlowKey,
        mask: &FlowMask,
        priority: u32,
    ) -> Result<(), TooManySubtables> {
        let loc = self.locate(key, mask);
        self.insert_at(index, &loc, mask, priority)
    }

    /// [`Classifier::insert`] at a [`Classifier::locate`] answer made for the same key and
    /// mask, with nothing inserted or removed since.
    pub(crate) fn insert_at(
        &mut self,
        index: u32,
        loc: &Location,
        mask: &FlowMask,
        priority: u32,
    ) -> Result<(), TooManySubtables> {
        let sid = match loc.subtable {
            Some(s) => s,
            None => self.create_subtable(mask)?,
        };
        self.reserve_index(index);
        let (masked, hash) = (loc.masked, loc.hash);
        if let (Some(k), Some(m)) = (
            self.keys.get_mut(index as usize),
            self.meta.get_mut(index as usize),
        ) {
            *k = masked;
            *m = EntryMeta {
                subtable: sid,
                priority,
                hash,
                live: true,
            };
        }
        let mut reorder = false;
        if let Some(st) = self.subtables.get_mut(sid as usize) {
            st.grow_if_needed();
            st.put(Slot {
                hash,
                idx: index + 1,
            });
            st.len += 1;
            reorder = st.add_priority(priority);
        }
        if reorder {
            self.reorder();
        }
        Ok(())
    }

    fn create_subtable(&mut self, mask: &FlowMask) -> Result<u32, TooManySubtables> {
        if self.order.len() >= MAX_SUBTABLES {
            return Err(TooManySubtables);
        }
        let st = Subtable::new(*mask);
        let sid = match self.free_subtables.pop() {
            Some(id) => {
                if let Some(slot) = self.subtables.get_mut(id as usize) {
                    *slot = st;
                }
                id
            }
            None => {
                self.subtables.push(st);
                (self.subtables.len() - 1) as u32
            }
        };
        self.by_mask.insert(*mask, sid);
        self.order.push(Rank {
            subtable: sid,
            suffix_max: 0,
        });
        self.reorder();
        Ok(sid)
    }

    /// Removes flow `index`; false if it was not inserted.
    pub(crate) fn remove(&mut self, index: u32) -> bool {
        let Some(meta) = self.meta.get_mut(index as usize) else {
            return false;
        };
        if !meta.live {
            return false;
        }
        meta.live = false;
        let meta = *meta;
        let Some(st) = self.subtables.get_mut(meta.subtable as usize) else {
            return false;
        };
        if st.delete(meta.hash, index) {
            st.len -= 1;
        }
        let mut reorder = st.remove_priority(meta.priority);
        if st.len == 0 {
            st.live = false;
            st.slots = Vec::new();
            st.priorities.clear();
            let mask = st.mask;
            self.by_mask.remove(&mask);
            self.free_subtables.push(meta.subtable);
            self.order.retain(|r| r.subtable != meta.subtable);
            reorder = true;
        }
        if reorder {
            self.reorder();
        }
        true
    }

    /// Changes the priority of an inserted flow.
    pub(crate) fn set_priority(&mut self, index: u32, priority: u32) {
        let Some(meta) = self.meta.get_mut(index as usize).filter(|m| m.live) else {
            return;
        };
        let old = std::mem::replace(&mut meta.priority, priority);
        let sid = meta.subtable;
        if let Some(st) = self.subtables.get_mut(sid as usize) {
            let a = st.remove_priority(old);
            let b = st.add_priority(priority);
            if a || b {
                self.reorder();
            }
        }
    }

    /// The stored (masked) key of flow `index`.
    pub(crate) fn key(&self, index: u32) -> Option<&FlowKey> {
        self.keys.get(index as usize)
    }

    /// The mask of flow `index`.
    pub(crate) fn mask(&self, index: u32) -> Option<&FlowMask> {
        let m = self.meta.get(index as usize).filter(|m| m.live)?;
        self.subtables.get(m.subtable as usize).map(|s| &s.mask)
    }

    /// The priority of flow `index` (0 if not inserted).
    pub(crate) fn priority(&self, index: u32) -> u32 {
        self.meta.get(index as usize).map_or(0, |m| m.priority)
    }

    /// Re-sorts subtables by hit count (within equal maximum priority) and halves the counts.
    pub(crate) fn rank(&mut self) {
        self.reorder();
        for st in self.subtables.iter_mut() {
            st.hits /= 2;
        }
        self.since_rank = 0;
    }

    /// Sorts the order by (max priority desc, hits desc, id) and recomputes `suffix_max`.
    fn reorder(&mut self) {
        let subs = &self.subtables;
        let key = |r: &Rank| {
            subs.get(r.subtable as usize)
                .map_or((0, 0), |s| (s.max_priority, s.hits))
        };
        self.order.sort_unstable_by(|a, b| {
            let (pa, ha) = key(a);
            let (pb, hb) = key(b);
            pb.cmp(&pa)
                .then(hb.cmp(&ha))
                .then(a.subtable.cmp(&b.subtable))
        });
        let mut m = 0u32;
        for r in self.order.iter_mut().rev() {
            m = m.max(subs.get(r.subtable as usize).map_or(0, |s| s.max_priority));
            r.suffix_max = m;
        }
    }

    /// Looks up `keys[i]` for every bit `i` of `pending` (at most [`BATCH`] keys); `out[i]` gets
    /// the index of the best match or [`NONE`]. Returns how many (key, subtable) probes ran.
    pub(crate) fn lookup_batch(
        &mut self,
        keys: &[FlowKey],
        pending: u32,
        out: &mut [u32; BATCH],
    ) -> u64 {
        let n = keys.len().min(BATCH);
        let valid = if n == BATCH {
            u32::MAX
        } else {
            (1u32 << n) - 1
        };
        let mut pending = pending & valid;
        out.fill(NONE);
        let mut best = [0u32; BATCH];
        let mut found = 0u32;
        let mut hashes = [0u32; BATCH];
        let mut cand = [0u32; BATCH];
        let mut cpos = [0usize; BATCH];
        let mut probes = 0u64;
        self.since_rank = self.since_rank.saturating_add(pending.count_ones());
        let Classifier {
            seed,
            keys: stored,
            meta,
            subtables,
            order,
            ..
        } = self;
        for rank in order.iter() {
            let mut m = pending & found;
            while m != 0 {
                let i = m.trailing_zeros() as usize;
                m &= m - 1;
                if best[i] >= rank.suffix_max {
                    pending &= !(1 << i);
                }
            }
            if pending == 0 {
                break;
            }
            let Some(st) = subtables.get_mut(rank.subtable as usize) else {
                continue;
            };
            let smask = st.smask();
            probes += u64::from(pending.count_ones());
            if st.slots.len() <= SMALL_SUBTABLE_SLOTS {
                // A small subtable stays in cache: one pass, no prefetching. The probe loop
                // is compiled once per set of active word pairs, so the hash has no
                // branches and multiplies only the pairs the mask covers.
                let mut probe = Probe {
                    keys,
                    stored,
                    meta,
                    out: &mut *out,
                    best: &mut best,
                    found: &mut found,
                };
                match st.pairs {
                    1 => probe.small::<1>(seed, st, pending),
                    2 => probe.small::<2>(seed, st, pending),
                    3 => probe.small::<3>(seed, st, pending),
                    4 => probe.small::<4>(seed, st, pending),
                    5 => probe.small::<5>(seed, st, pending),
                    6 => probe.small::<6>(seed, st, pending),
                    7 => probe.small::<7>(seed, st, pending),
                    8 => probe.small::<8>(seed, st, pending),
                    9 => probe.small::<9>(seed, st, pending),
                    10 => probe.small::<10>(seed, st, pending),
                    11 => probe.small::<11>(seed, st, pending),
                    12 => probe.small::<12>(seed, st, pending),
                    13 => probe.small::<13>(seed, st, pending),
                    14 => probe.small::<14>(seed, st, pending),
                    15 => probe.small::<15>(seed, st, pending),
                    _ => probe.small::<0>(seed, st, pending),
                }
                continue;
            }
            // Pass 1: masked hash, prefetch the home slot.
            let mut m = pending;
            while m != 0 {
                let i = m.trailing_zeros() as usize;
                m &= m - 1;
                if let Some(k) = keys.get(i) {
                    let h = seed.hash_masked_pairs(k, &st.mask, st.pairs);
                    hashes[i] = h;
                    if let Some(s) = st.slots.get(h as usize & smask) {
                        prefetch(s);
                    }
                }
            }
            // Pass 2: walk the probe chain to the first slot with the same hash.
            let mut cands = 0u32;
            let mut m = pending;
            while m != 0 {
                let i = m.trailing_zeros() as usize;
                m &= m - 1;
                let h = hashes[i];
                let mut pos = h as usize & smask;
                while let Some(s) = st.slots.get(pos) {
                    if s.idx == 0 {
                        break;
                    }
                    if s.hash == h {
                        cand[i] = s.idx - 1;
                        cpos[i] = pos;
                        cands |= 1 << i;
                        if let Some(e) = stored.get(cand[i] as usize) {
                            prefetch(e);
                        }
                        break;
                    }
                    pos = (pos + 1) & smask;
                }
            }
            // Pass 3: compare the masked key; on a hash collision keep probing.
            let mut m = cands;
            while m != 0 {
                let i = m.trailing_zeros() as usize;
                m &= m - 1;
                let Some(k) = keys.get(i) else { continue };
                let hit = match stored.get(cand[i] as usize) {
                    Some(e) if st.mask.matches(e, k) => Some(cand[i]),
                    _ => find_from(st, stored, k, hashes[i], (cpos[i] + 1) & smask),
                };
                if let Some(e) = hit {
                    st.hits += 1;
                    let p = meta.get(e as usize).map_or(0, |m| m.priority);
                    if found & (1 << i) == 0 || p > best[i] {
                        out[i] = e;
                        best[i] = p;
                        found |= 1 << i;
                    }
                }
            }
        }
        if self.since_rank >= RANK_INTERVAL {
            self.rank();
        }
        probes
    }

    /// Approximate heap bytes.
    pub(crate) fn memory_bytes(&self) -> usize {
        let subs: usize = self
            .subtables
            .iter()
            .map(|s| {
                size_of::<Subtable>()
                    + s.slots.capacity() * size_of::<Slot>()
                    + s.priorities.len() * 4 * size_of::<u32>()
            })
            .sum();
        // Slots in use: capacity reserved up front is not touched, hence not resident.
        self.keys.len() * size_of::<FlowKey>()
            + self.meta.len() * size_of::<EntryMeta>()
            + subs
            + self.by_mask.capacity() * (size_of::<FlowMask>() + 2 * size_of::<u32>())
            + self.order.capacity() * size_of::<Rank>()
            + self.free_subtables.capacity() * size_of::<u32>()
    }

    /// Checks the internal invariants (tests): every live entry is findable, slot counts match.
    #[cfg(test)]
    pub(crate) fn check(&self) {
        let mut total = 0usize;
        for r in &self.order {
            let st = &self.subtables[r.subtable as usize];
            assert!(st.live);
            let used = st.slots.iter().filter(|s| s.idx != 0).count();
            assert_eq!(used, st.len as usize);
            assert!(used * 2 <= st.slots.len());
            total += used;
        }
        let live = self.meta.iter().filter(|m| m.live).count();
        assert_eq!(total, live);
        for (i, m) in self.meta.iter().enumerate().filter(|(_, m)| m.live) {
            let mask = self.subtables[m.subtable as usize].mask;
            assert_eq!(self.find(&self.keys[i], &mask), Some(i as u32));
        }
        for w in self.order.windows(2) {
            assert!(w[0].suffix_max >= w[1].suffix_max);
        }
    }
}

/// What a lookup burst's probe of one small subtable reads and updates.
struct Probe<'a> {
    keys: &'a [FlowKey],
    stored: &'a [FlowKey],
    meta: &'a [EntryMeta],
    out: &'a mut [u32; BATCH],
    best: &'a mut [u32; BATCH],
    found: &'a mut u32,
}

impl Probe<'_> {
    /// Probes subtable `st` (whose active pairs are `P`) for every key of `pending`, in one
    /// pass, and records each match that outranks the key's best so far.
    #[inline(always)]
    fn small<const P: u8>(&mut self, seed: &HashSeed, st: &mut Subtable, pending: u32) {
        // The subtable is only read in the loop (its hit count is added after it), so the
        // compiler may keep its mask and slots in registers across the burst.
        let mut hits = 0;
        let st_read: &Subtable = st;
        let smask = st_read.smask();
        let mut m = pending;
        while m != 0 {
            let i = m.trailing_zeros() as usize;
            m &= m - 1;
            let Some(k) = self.keys.get(i) else { continue };
            let h = seed.hash_masked_pairs(k, &st_read.mask, P);
            let home = h as usize & smask;
            // The home slot is checked here: an empty one is the usual answer in a subtable
            // that does not hold the packet's flow.
            let hit = match st_read.slots.get(home) {
                None => None,
                Some(s) if s.idx == 0 => None,
                Some(s)
                    if s.hash == h
                        && self
                            .stored
                            .get(s.idx as usize - 1)
                            .is_some_and(|e| st_read.mask.matches(e, k)) =>
                {
                    Some(s.idx - 1)
                }
                Some(_) => find_from(st_read, self.stored, k, h, (home + 1) & smask),
            };
            if let Some(e) = hit {
                hits += 1;
                let p = self.meta.get(e as usize).map_or(0, |m| m.priority);
                if *self.found & (1 << i) == 0 || p > self.best[i] {
                    self.out[i] = e;
                    self.best[i] = p;
                    *self.found |= 1 << i;
                }
            }
        }
        st.hits += hits;
    }
}

/// Continues a probe after a hash match whose key differed.
#[inline(always)]
fn find_from(
    st: &Subtable,
    stored: &[FlowKey],
    key: &FlowKey,
    h: u32,
    mut pos: usize,
) -> Option<u32> {
    let m = st.smask();
    loop {
        let s = st.slots.get(pos)?;
        if s.idx == 0 {
            return None;
        }
        if s.hash == h
            && let Some(e) = stored.get(s.idx as usize - 1)
            && st.mask.matches(e, key)
        {
            return Some(s.idx - 1);
        }
        pos = (pos + 1) & m;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Field;

    fn k(port: u16, tp: u16) -> FlowKey {
        let mut k = FlowKey::zero();
        k.set_in_port(port);
        k.set_tp_dst(tp);
        k
    }

    fn one(c: &mut Classifier, key: &FlowKey) -> Option<u32> {
        let mut out = [NONE; BATCH];
        c.lookup_batch(std::slice::from_ref(key), 1, &mut out);
        (out[0] != NONE).then_some(out[0])
    }

    #[test]
    fn backward_shift_delete_keeps_chains() {
        // A seed whose hashes we do not control: insert many into one subtable, delete half in
        // a scrambled order, and check every survivor is still found.
        let mut c = Classifier::new(HashSeed::new(7));
        let mask = FlowMask::CATCHALL.with(Field::InPort);
        for i in 0..500u32 {
            c.insert(i, &k(i as u16, 0), &mask, 0).unwrap();
        }
        c.check();
        for i in (0..500u32).filter(|i| (i * 7919) % 3 == 0) {
            assert!(c.remove(i));
        }
        c.check();
        for i in 0..500u32 {
            let want = ((i * 7919) % 3 != 0).then_some(i);
            assert_eq!(one(&mut c, &k(i as u16, 99)), want, "{i}");
        }
    }

    #[test]
    fn empty_subtable_is_freed_and_reused() {
        let mut c = Classifier::new(HashSeed::new(1));
        let m1 = FlowMask::CATCHALL.with(Field::InPort);
        let m2 = FlowMask::CATCHALL.with(Field::TpDst);
        c.insert(0, &k(1, 1), &m1, 0).unwrap();
        c.insert(1, &k(1, 1), &m2, 0).unwrap();
        assert_eq!(c.subtable_count(), 2);
        c.remove(0);
        assert_eq!(c.subtable_count(), 1);
        assert_eq!(one(&mut c, &k(1, 1)), Some(1));
        c.insert(0, &k(2, 2), &m1, 0).unwrap();
        assert_eq!(c.subtable_count(), 2);
        assert_eq!(c.subtables.len(), 2, "slot reused");
        c.check();
    }

    #[test]
    fn priority_beats_rank_order() {
        let mut c = Classifier::new(HashSeed::new(3));
        let wide = FlowMask::CATCHALL.with(Field::InPort);
        let narrow = wide.with(Field::TpDst);
        c.insert(0, &k(1, 0), &wide, 1).unwrap();
        c.insert(1, &k(1, 80), &narrow, 5).unwrap();
        // Make the wide subtable the busiest.
        for _ in 0..3000 {
            assert_eq!(one(&mut c, &k(1, 22)), Some(0));
        }
        assert_eq!(one(&mut c, &k(1, 80)), Some(1));
        c.set_priority(1, 0);
        assert_eq!(one(&mut c, &k(1, 80)), Some(0));
        c.check();
    }

    /// Both lookup walks (one pass for small subtables, three passes with prefetching for large
    /// ones) give the same answers as a linear scan, for bursts that mix hits and misses.
    #[test]
    fn small_and_large_subtables_agree_with_a_scan() {
        let mut c = Classifier::new(HashSeed::new(11));
        let by_port = FlowMask::CATCHALL.with(Field::InPort);
        let by_port_tp = by_port.with(Field::TpDst);
        let mut flows = Vec::new();
        // 6000 flows in one mask (a large subtable: over 4096 slots), 300 in another (small),
        // overlapping with a higher priority.
        for i in 0..6000u32 {
            flows.push((i, k(i as u16, 0), by_port, 1));
        }
        for j in 0..300u32 {
            flows.push((6000 + j, k((j * 20) as u16, 443), by_port_tp, 2));
        }
        for (id, key, mask, prio) in &flows {
            c.insert(*id, key, mask, *prio).unwrap();
        }
        assert!(
            c.subtables
                .iter()
                .any(|st| st.slots.len() > SMALL_SUBTABLE_SLOTS)
        );
        assert!(
            c.subtables
                .iter()
                .any(|st| st.slots.len() <= SMALL_SUBTABLE_SLOTS)
        );
        c.check();
        let scan = |key: &FlowKey| scan(&flows, key);
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..40 {
            let mut burst = [FlowKey::zero(); BATCH];
            for b in &mut burst {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let tp = if x & 4 == 0 { 443 } else { (x >> 40) as u16 };
                *b = k((x >> 16) as u16 % 7000, tp);
            }
            let mut out = [NONE; BATCH];
            c.lookup_batch(&burst, u32::MAX, &mut out);
            for (key, got) in burst.iter().zip(out) {
                assert_eq!((got != NONE).then_some(got), scan(key), "{key:?}");
            }
        }
    }

    /// The flow a linear scan of `flows` (id, key, mask, priority) picks for `key`.
    fn scan(flows: &[(u32, FlowKey, FlowMask, u32)], key: &FlowKey) -> Option<u32> {
        flows
            .iter()
            .filter(|(_, fk, m, _)| m.apply(key) == m.apply(fk))
            .max_by_key(|(_, _, _, p)| *p)
            .map(|(id, ..)| *id)
    }

    #[test]
    fn every_set_of_active_word_pairs_probes_right() {
        // One small subtable for each of the 16 sets of word pairs a mask can cover (the probe
        // loop is compiled once per set); keys agree with a linear scan, hits and misses.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut c = Classifier::new(HashSeed::new(5));
        let mut flows: Vec<(u32, FlowKey, FlowMask, u32)> = Vec::new();
        for p in 0..16u8 {
            // A few bits of each covered word: keys that differ only elsewhere still match.
            let mut w = [0u64; 8];
            for pair in 0..4 {
                if p & (1 << pair) != 0 {
                    w[2 * pair] = 0x0000_00ff_0000_0f0f << pair;
                    w[2 * pair + 1] = 0x00f0_0000_ff00_0000 >> pair;
                }
            }
            let mask = FlowMask::from_words(w);
            assert_eq!(HashSeed::active_pairs(&mask), p);
            for e in 0..20u32 {
                let id = u32::from(p) * 20 + e;
                let key = FlowKey::from_words(std::array::from_fn(|_| next()));
                // One flow per masked key (the table never inserts a duplicate).
                if flows
                    .iter()
                    .any(|(_, fk, m, _)| *m == mask && m.apply(fk) == mask.apply(&key))
                {
                    continue;
                }
                c.insert(id, &key, &mask, u32::from(p)).unwrap();
                flows.push((id, key, mask, u32::from(p)));
            }
        }
        assert!(
            c.subtables
                .iter()
                .all(|st| st.slots.len() <= SMALL_SUBTABLE_SLOTS)
        );
        c.check();
        let scan = |key: &FlowKey| scan(&flows, key);
        for round in 0..64 {
            let burst: [FlowKey; BATCH] = std::array::from_fn(|_| {
                let r = FlowKey::from_words(std::array::from_fn(|_| next()));
                if round % 4 == 0 {
                    return r;
                }
                // A stored key with its unmasked bits scrambled: must still hit.
                let (_, fk, m, _) = flows[next() as usize % flows.len()];
                let w: [u64; 8] = std::array::from_fn(|i| {
                    (fk.words()[i] & m.words()[i]) | (r.words()[i] & !m.words()[i])
                });
                FlowKey::from_words(w)
            });
            let mut out = [NONE; BATCH];
            c.lookup_batch(&burst, u32::MAX, &mut out);
            for (key, got) in burst.iter().zip(out) {
                let want = scan(key);
                if round % 4 != 0 {
                    assert!(want.is_some());
                }
                assert_eq!((got != NONE).then_some(got), want, "{key:?}");
            }
        }
    }
}
