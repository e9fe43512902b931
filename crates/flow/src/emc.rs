//! The exact-match cache (EMC): the first cache a packet meets in a worker.
//!
//! * **Keys on** the whole [`FlowKey`] (all 64 bytes) and its 32-bit hash under the table's
//!   secret seed; maps it to the megaflow the classifier chose for that key.
//! * **Size**: a fixed power of two of entries (default 8192, as OVS), allocated once. Each
//!   key may sit in one of **two** slots: `hash & mask` and `hash.rotate_right(log2 size) &
//!   mask`. Slot metadata (hash, flow, flow version, epoch: 16 bytes) and keys (64 bytes) are in
//!   separate arrays, so a miss usually touches only metadata lines.
//! * **Insertion** happens after a classifier hit, with probability `1/N` (`N` =
//!   `emc_insert_inv_prob`, drawn from a per-table xorshift generator). With more live flows
//!   than entries an always-insert cache evicts every entry before it is reused and only adds
//!   work (the C bench: 63 ns against 46 ns without it at 1M flows); rare insertion lets the
//!   heavy flows settle in. `N` = 0 disables insertion.
//! * **Eviction**: the insert takes a slot already holding the same key, else an empty or stale
//!   slot, else the one of the two with the smaller stored hash (OVS's pseudo-random choice).
//! * **Invalidation** never scans: each entry stores the flow's slot *version*, which the flow
//!   table bumps when it removes the flow, so an entry for a removed (or removed and reused)
//!   slot no longer validates. An *epoch* invalidates every entry at once (`flush`); the table
//!   flushes when a new megaflow might outrank a cached answer (see `table.rs`). A version
//!   counter wraps after 2^32 removals of one slot; an entry would have to survive all of them
//!   untouched to be wrongly revived.
//!
//! This module must never allocate after construction, and a lookup never writes.

use crate::key::{FlowKey, HashSeed};
use crate::prefetch::prefetch_ptr;

/// A slot's metadata. `index == EMPTY` marks a free slot.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(16))]
struct Slot {
    hash: u32,
    index: u32,
    version: u32,
    epoch: u32,
}

const EMPTY: u32 = u32::MAX;
const FREE: Slot = Slot {
    hash: 0,
    index: EMPTY,
    version: 0,
    epoch: 0,
};

/// The largest EMC accepted (2^22 entries: 336 MB); larger requests are clamped.
pub const MAX_EMC_ENTRIES: usize = 1 << 22;

/// The exact-match cache of one worker's flow table.
#[derive(Debug)]
pub(crate) struct Emc {
    slots: Vec<Slot>,
    keys: Vec<FlowKey>,
    mask: u32,
    shift: u32,
    epoch: u32,
    /// The start value of [`Emc::hash`], drawn from the table's secret seed.
    #[cfg_attr(
        not(all(target_arch = "x86_64", target_feature = "sse4.2")),
        allow(dead_code)
    )]
    basis: u32,
}

impl Emc {
    /// A cache of `entries` rounded up to a power of two (0 disables it).
    pub(crate) fn new(entries: usize, basis: u32) -> Emc {
        let n = if entries == 0 {
            0
        } else {
            entries.min(MAX_EMC_ENTRIES).next_power_of_two()
        };
        Emc {
            slots: vec![FREE; n],
            keys: vec![FlowKey::zero(); n],
            mask: (n as u32).wrapping_sub(1),
            shift: n.trailing_zeros(),
            epoch: 1,
            basis,
        }
    }

    /// The hash the cache files `key` under: CRC32-C of the eight words in two independent
    /// chains (eight `crc32` instructions, a third of the multiply hash's work) where SSE4.2
    /// is compiled in, as the workspace does (`.cargo/config.toml`); the table's keyed
    /// multiply hash elsewhere.
    ///
    /// CRC is not a keyed hash: an attacker who can choose keys can make them share slots.
    /// That costs no more here than any traffic with more flows than entries (the keys fall
    /// through to the classifier, whose hash stays keyed), which is why only this cache uses it.
    #[inline(always)]
    pub(crate) fn hash(&self, seed: &HashSeed, key: &FlowKey) -> u32 {
        #[cfg(all(target_arch = "x86_64", target_feature = "sse4.2"))]
        {
            use crate::crc::crc32c_u64 as crc;
            let _ = seed;
            let w = key.words();
            let b = u64::from(self.basis);
            let a = crc(crc(crc(crc(b, w[0]), w[1]), w[2]), w[3]);
            let c = crc(crc(crc(crc(!b, w[4]), w[5]), w[6]), w[7]);
            (a as u32) ^ (c as u32).rotate_left(16)
        }
        #[cfg(not(all(target_arch = "x86_64", target_feature = "sse4.2")))]
        {
            seed.hash_key(key)
        }
    }

    /// Number of entries (0 when disabled).
    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    #[inline(always)]
    fn positions(&self, h: u32) -> [usize; 2] {
        [self.first(h), self.second(h)]
    }

    /// The first of a key's two slots.
    #[inline(always)]
    fn first(&self, h: u32) -> usize {
        (h & self.mask) as usize
    }

    /// The second of a key's two slots.
    #[inline(always)]
    fn second(&self, h: u32) -> usize {
        (h.rotate_right(self.shift) & self.mask) as usize
    }

    /// Prefetches the lines a lookup of hash `h` will read.
    #[inline(always)]
    pub(crate) fn prefetch(&self, h: u32) {
        // Both metadata slots, and the key of the first position (where most entries sit):
        // prefetching the second key as well measured about 10% slower on the 1k-flow bench.
        // No bounds checks: the positions are within the arrays whenever the cache is
        // enabled, and a prefetch of any other address is ignored.
        let [p1, p2] = self.positions(h);
        prefetch_ptr(self.slots.as_ptr().wrapping_add(p1));
        prefetch_ptr(self.slots.as_ptr().wrapping_add(p2));
        prefetch_ptr(self.keys.as_ptr().wrapping_add(p1));
    }

    /// The (flow index, version) cached for `key`, not yet checked against the flow table.
    #[inline(always)]
    pub(crate) fn lookup(&self, h: u32, key: &FlowKey) -> Option<(u32, u32)> {
        // A slot of the current epoch is occupied: free slots have epoch 0, which the epoch
        // never is (see `flush`), so `index != EMPTY` need not be checked. The second position
        // is computed only when the first does not hold the key.
        let hit = |p: usize| match (self.slots.get(p), self.keys.get(p)) {
            (Some(s), Some(k)) if s.hash == h && s.epoch == self.epoch && k == key => {
                Some((s.index, s.version))
            }
            _ => None,
        };
        hit(self.first(h)).or_else(|| hit(self.second(h)))
    }

    /// Caches `key` -> flow `index` at `version`. `valid(index, version)` tells whether an
    /// occupied slot still refers to a live flow (a stale slot is reused first).
    pub(crate) fn insert(
        &mut self,
        h: u32,
        key: &FlowKey,
        index: u32,
        version: u32,
        valid: impl Fn(u32, u32) -> bool,
    ) {
        if self.slots.is_empty() {
            return;
        }
        let [p1, p2] = self.positions(h);
        let live =
            |s: &Slot| s.index != EMPTY && s.epoch == self.epoch && valid(s.index, s.version);
        let same = |p: usize| {
            self.slots
                .get(p)
                .is_some_and(|s| s.hash == h && s.index != EMPTY)
                && self.keys.get(p) == Some(key)
        };
        let (s1, s2) = match (self.slots.get(p1), self.slots.get(p2)) {
            (Some(a), Some(b)) => (*a, *b),
            _ => return,
        };
        let victim = if same(p1) {
            p1
        } else if same(p2) {
            p2
        } else if !live(&s1) {
            p1
        } else if !live(&s2) {
            p2
        } else if s1.hash <= s2.hash {
            p1
        } else {
            p2
        };
        if let (Some(s), Some(k)) = (self.slots.get_mut(victim), self.keys.get_mut(victim)) {
            *s = Slot {
                hash: h,
                index,
                version,
                epoch: self.epoch,
            };
            *k = *key;
        }
    }

    /// Invalidates every entry in O(1) (a full clear only when the epoch wraps).
    pub(crate) fn flush(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.slots.fill(FREE);
            self.epoch = 1;
        }
    }

    /// Entries currently holding a key of the current epoch (counts, for tests and dumps).
    pub(crate) fn occupied(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.index != EMPTY && s.epoch == self.epoch)
            .count()
    }

    /// Approximate heap bytes.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.slots.capacity() * size_of::<Slot>() + self.keys.capacity() * size_of::<FlowKey>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u16) -> FlowKey {
        let mut k = FlowKey::zero();
        k.set_tp_src(n);
        k
    }

    #[test]
    fn two_way_and_victims() {
        let mut e = Emc::new(5, 0);
        assert_eq!(e.capacity(), 8);
        let always = |_, _| true;
        // Three keys whose both positions are 0 and 0: the third evicts the smaller hash.
        let (h1, h2, h3) = (0x0000_0000u32, 0x0000_0008, 0x0000_0010);
        assert_eq!(e.positions(h2), [0, 1]);
        e.insert(h1, &key(1), 1, 0, always);
        assert_eq!(e.lookup(h1, &key(1)), Some((1, 0)));
        e.insert(h2, &key(2), 2, 0, always);
        assert_eq!(e.lookup(h1, &key(1)), Some((1, 0)));
        assert_eq!(e.lookup(h2, &key(2)), Some((2, 0)));
        // The wrong key under the right hash is a miss.
        assert_eq!(e.lookup(h1, &key(9)), None);
        // Same key again: replaced in place.
        e.insert(h1, &key(1), 11, 3, always);
        assert_eq!(e.lookup(h1, &key(1)), Some((11, 3)));
        assert_eq!(e.occupied(), 2);
        // A stale entry (valid() says no) is the victim before a live one.
        e.insert(h3, &key(3), 3, 0, |i, _| i != 11);
        assert_eq!(e.lookup(h3, &key(3)), Some((3, 0)));
        assert_eq!(e.lookup(h1, &key(1)), None);
        e.flush();
        assert_eq!(e.lookup(h3, &key(3)), None);
        assert_eq!(e.occupied(), 0);
    }

    /// Keys that differ in one field only (a port, an address) must spread over both of a
    /// key's slots in an 8192-entry cache, with the CRC hash as with the multiply hash.
    #[test]
    fn hash_spreads_over_both_slots() {
        let e = Emc::new(8192, 0x5eed_1234);
        let seed = HashSeed::new(42);
        let mut k = FlowKey::zero();
        k.set_dl_type(0x0800);
        k.set_ipv4_dst([10, 0, 0, 1]);
        for field in 0..2 {
            let (mut first, mut second) = (vec![0u32; 8192], vec![0u32; 8192]);
            for v in 0..=u16::MAX {
                match field {
                    0 => k.set_tp_src(v),
                    _ => k.set_ipv4_src([10, 1, (v >> 8) as u8, v as u8]),
                }
                let [p1, p2] = e.positions(e.hash(&seed, &k));
                first[p1] += 1;
                second[p2] += 1;
            }
            for (which, b) in [("first", &first), ("second", &second)] {
                let max = *b.iter().max().unwrap();
                let empty = b.iter().filter(|n| **n == 0).count();
                // Poisson(8): P(>24) is about 1e-6 per slot; P(0) about 3.4e-4.
                assert!(max <= 24, "field {field}, {which} slot: max {max}");
                assert!(empty <= 20, "field {field}, {which} slot: {empty} empty");
            }
        }
    }

    #[test]
    fn disabled_cache_is_inert() {
        let mut e = Emc::new(0, 0);
        e.insert(1, &key(1), 1, 1, |_, _| true);
        assert_eq!(e.lookup(1, &key(1)), None);
        e.prefetch(7);
        e.flush();
    }
}
