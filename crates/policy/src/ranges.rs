//! Sets of keys as sorted ranges, and maps from a partition of a key space to values: the one
//! structure behind every run-time lookup of this crate (zones by longest prefix, the
//! classifier's per-field bit vectors, NAT by address and port).
//!
//! A [`RangeMap`] cuts the whole key space (ports, IPv4 or IPv6 addresses) into elementary
//! intervals and gives each one a value; a lookup is one binary search over the interval
//! starts. Building one may allocate and take time (it is done once per policy load); a lookup
//! must never allocate, and never panics whatever key it is given.

use std::collections::BTreeSet;
use std::fmt::Debug;

/// A key of an ordered, bounded space: ports, ICMP type/code, IPv4 and IPv6 addresses.
pub trait Point: Copy + Ord + Debug + Default + 'static {
    /// The smallest key.
    const MIN: Self;
    /// The largest key.
    const MAX: Self;
    /// The next key, `None` after [`Point::MAX`].
    fn succ(self) -> Option<Self>;
    /// The previous key, `None` before [`Point::MIN`].
    fn pred(self) -> Option<Self>;
}

macro_rules! point {
    ($($t:ty),*) => {$(
        impl Point for $t {
            const MIN: Self = <$t>::MIN;
            const MAX: Self = <$t>::MAX;
            fn succ(self) -> Option<Self> {
                self.checked_add(1)
            }
            fn pred(self) -> Option<Self> {
                self.checked_sub(1)
            }
        }
    )*};
}
point!(u8, u16, u32, u128);

/// A set of keys: sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct RangeSet<P> {
    ranges: Vec<(P, P)>,
}

impl<P: Point> RangeSet<P> {
    /// The empty set.
    pub fn empty() -> Self {
        RangeSet { ranges: Vec::new() }
    }

    /// Every key.
    pub fn full() -> Self {
        RangeSet {
            ranges: vec![(P::MIN, P::MAX)],
        }
    }

    /// One range, `lo..=hi` (empty when `lo > hi`).
    pub fn range(lo: P, hi: P) -> Self {
        Self::from_ranges([(lo, hi)])
    }

    /// The union of inclusive ranges given in any order; ranges with `lo > hi` are ignored.
    pub fn from_ranges(ranges: impl IntoIterator<Item = (P, P)>) -> Self {
        let mut v: Vec<(P, P)> = ranges.into_iter().filter(|(lo, hi)| lo <= hi).collect();
        v.sort_unstable();
        let mut out: Vec<(P, P)> = Vec::with_capacity(v.len());
        for (lo, hi) in v {
            if let Some(last) = out.last_mut() {
                // Merge overlapping and adjacent ranges, so that equal sets compare equal.
                if last.1.succ().is_none_or(|next| lo <= next) {
                    last.1 = last.1.max(hi);
                    continue;
                }
            }
            out.push((lo, hi));
        }
        RangeSet { ranges: out }
    }

    /// The ranges, sorted, disjoint and non-adjacent.
    pub fn ranges(&self) -> &[(P, P)] {
        &self.ranges
    }

    /// True when no key is in the set.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// True when every key is in the set.
    pub fn is_full(&self) -> bool {
        self.ranges == [(P::MIN, P::MAX)]
    }

    /// True when `p` is in the set.
    pub fn contains(&self, p: P) -> bool {
        let i = self.ranges.partition_point(|r| r.0 <= p);
        i > 0 && self.ranges[i - 1].1 >= p
    }

    /// True when every key of `other` is in `self`.
    pub fn is_superset(&self, other: &Self) -> bool {
        other.ranges.iter().all(|&(lo, hi)| {
            let i = self.ranges.partition_point(|r| r.0 <= lo);
            i > 0 && self.ranges[i - 1].1 >= hi
        })
    }

    /// True when some key is in both sets.
    pub fn intersects(&self, other: &Self) -> bool {
        let (mut i, mut j) = (0, 0);
        while i < self.ranges.len() && j < other.ranges.len() {
            let (a, b) = (self.ranges[i], other.ranges[j]);
            if a.1 < b.0 {
                i += 1;
            } else if b.1 < a.0 {
                j += 1;
            } else {
                return true;
            }
        }
        false
    }

    /// The union of both sets.
    pub fn union(&self, other: &Self) -> Self {
        Self::from_ranges(self.ranges.iter().chain(&other.ranges).copied())
    }
}

/// A partition of the whole key space into intervals, each carrying a value. Adjacent
/// intervals with equal values are merged, so the map is as small as the answers allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeMap<P, V> {
    /// Start of each interval; `starts[0] == P::MIN`, strictly increasing.
    starts: Vec<P>,
    values: Vec<V>,
}

impl<P: Point, V: Copy + Eq> RangeMap<P, V> {
    /// One value for every key.
    pub fn constant(value: V) -> Self {
        RangeMap {
            starts: vec![P::MIN],
            values: vec![value],
        }
    }

    /// Builds the map from ranges with a rank each: every key takes the value of the covering
    /// range of lowest rank (ties: the earlier range), or `default` when no range covers it.
    /// Longest-prefix match is the rank `(Reverse(prefix length), order)`; first match wins is
    /// the rank `order`.
    pub fn build<R: Ord + Clone>(items: &[(P, P, R, V)], default: V) -> Self {
        // Sweep the boundaries in order, keeping the ranges that cover the current point.
        let mut events: Vec<(P, bool, usize)> = Vec::with_capacity(items.len() * 2);
        for (i, (lo, hi, _, _)) in items.iter().enumerate() {
            if lo > hi {
                continue;
            }
            events.push((*lo, true, i));
            if let Some(end) = hi.succ() {
                events.push((end, false, i));
            }
        }
        events.sort_unstable_by_key(|e| e.0);
        let mut active: BTreeSet<(R, usize)> = BTreeSet::new();
        let mut map = RangeMap::constant(default);
        let mut k = 0;
        while k < events.len() {
            let at = events[k].0;
            while k < events.len() && events[k].0 == at {
                let (_, add, i) = events[k];
                let key = (items[i].2.clone(), i);
                if add {
                    active.insert(key);
                } else {
                    active.remove(&key);
                }
                k += 1;
            }
            let value = active.first().map_or(default, |(_, i)| items[*i].3);
            map.push(at, value);
        }
        map
    }

    /// Builds a map from interval starts in increasing order, each with its value; keys before
    /// the first start take `default`.
    pub(crate) fn from_points(default: V, points: impl IntoIterator<Item = (P, V)>) -> Self {
        let mut map = RangeMap::constant(default);
        for (at, value) in points {
            if map.starts.last().is_some_and(|last| at < *last) {
                continue;
            }
            map.push(at, value);
        }
        map
    }

    /// Appends an interval starting at `at` (after every start so far), merging it into the
    /// previous one when the value is the same.
    fn push(&mut self, at: P, value: V) {
        if self.values.last() == Some(&value) {
            return;
        }
        if self.starts.last() == Some(&at) {
            let last = self.values.len() - 1;
            self.values[last] = value;
            // The previous interval may now equal the one before it.
            if last > 0 && self.values[last - 1] == value {
                self.starts.pop();
                self.values.pop();
            }
            return;
        }
        self.starts.push(at);
        self.values.push(value);
    }

    /// The value of the interval that holds `p`. One binary search; never allocates.
    #[inline]
    pub fn get(&self, p: P) -> V {
        // starts[0] == P::MIN, so at least one start is <= p.
        let i = self.starts.partition_point(|s| *s <= p);
        self.values[i.saturating_sub(1)]
    }

    /// Number of intervals.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Never true: a map covers the whole key space with at least one interval.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// The intervals as `(first key, last key, value)`.
    pub fn intervals(&self) -> impl Iterator<Item = (P, P, V)> + '_ {
        self.starts.iter().enumerate().map(|(i, &lo)| {
            let hi = self
                .starts
                .get(i + 1)
                .and_then(|next| next.pred())
                .unwrap_or(P::MAX);
            (lo, hi, self.values[i])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sets_merge_overlapping_and_adjacent_ranges() {
        let s = RangeSet::from_ranges([(10u16, 20), (21, 30), (5, 12), (40, 39), (50, 50)]);
        assert_eq!(s.ranges(), &[(5, 30), (50, 50)]);
        assert!(s.contains(5) && s.contains(30) && s.contains(50));
        assert!(!s.contains(4) && !s.contains(31) && !s.contains(49) && !s.contains(51));
        assert!(RangeSet::from_ranges([(0u8, 100), (101, 255)]).is_full());
        assert!(RangeSet::<u16>::range(3, 2).is_empty());
    }

    #[test]
    fn superset_and_intersection() {
        let a = RangeSet::from_ranges([(0u32, 100), (200, 300)]);
        assert!(a.is_superset(&RangeSet::range(10, 20)));
        assert!(a.is_superset(&RangeSet::from_ranges([(0, 5), (250, 300)])));
        assert!(!a.is_superset(&RangeSet::range(90, 210)));
        assert!(a.is_superset(&RangeSet::empty()));
        assert!(a.intersects(&RangeSet::range(300, 400)));
        assert!(!a.intersects(&RangeSet::range(101, 199)));
    }

    #[test]
    fn map_takes_the_lowest_rank_and_merges_equal_neighbours() {
        // A /8-like range and a /16-like range inside it: the narrower (rank 0) wins inside.
        let m = RangeMap::build(&[(0u32, 255, 1, 'a'), (16, 31, 0, 'b')], '-');
        assert_eq!(m.get(0), 'a');
        assert_eq!(m.get(16), 'b');
        assert_eq!(m.get(31), 'b');
        assert_eq!(m.get(32), 'a');
        assert_eq!(m.get(256), '-');
        assert_eq!(m.get(u32::MAX), '-');
        assert_eq!(m.len(), 4);
        let merged = RangeMap::build(&[(0u16, 9, 0, 1), (10, 19, 0, 1)], 0);
        assert_eq!(merged.len(), 2);
        let top = RangeMap::build(&[(u16::MAX, u16::MAX, 0, 7)], 0);
        assert_eq!(top.get(u16::MAX), 7);
        assert_eq!(top.get(u16::MAX - 1), 0);
    }

    proptest! {
        /// The map agrees with a scan of the ranges for every key of a small space.
        #[test]
        fn map_agrees_with_a_scan(items in prop::collection::vec((any::<u8>(), any::<u8>(), 0u8..4), 0..12)) {
            let items: Vec<(u8, u8, u8, usize)> =
                items.iter().enumerate().map(|(i, &(a, b, r))| (a, b, r, i + 1)).collect();
            let m = RangeMap::build(&items, 0usize);
            for p in 0..=255u8 {
                let want = items
                    .iter()
                    .enumerate()
                    .filter(|(_, (lo, hi, _, _))| *lo <= p && p <= *hi)
                    .min_by_key(|(i, (_, _, r, _))| (*r, *i))
                    .map_or(0, |(_, it)| it.3);
                prop_assert_eq!(m.get(p), want, "key {}", p);
            }
            let covered: usize = m.intervals().map(|(lo, hi, _)| usize::from(hi - lo) + 1).sum();
            prop_assert_eq!(covered, 256);
        }

        /// Set operations agree with membership of every key.
        #[test]
        fn set_ops_agree_with_membership(
            a in prop::collection::vec((any::<u8>(), any::<u8>()), 0..6),
            b in prop::collection::vec((any::<u8>(), any::<u8>()), 0..6),
        ) {
            let (sa, sb) = (RangeSet::from_ranges(a.clone()), RangeSet::from_ranges(b.clone()));
            let member = |v: &[(u8, u8)], p: u8| v.iter().any(|&(lo, hi)| lo <= p && p <= hi);
            let mut superset = true;
            let mut meet = false;
            for p in 0..=255u8 {
                prop_assert_eq!(sa.contains(p), member(&a, p));
                prop_assert_eq!(sa.union(&sb).contains(p), member(&a, p) || member(&b, p));
                superset &= !member(&b, p) || member(&a, p);
                meet |= member(&a, p) && member(&b, p);
            }
            prop_assert_eq!(sa.is_superset(&sb), superset);
            prop_assert_eq!(sa.intersects(&sb), meet);
        }
    }
}
