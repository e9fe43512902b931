//! Detection state that outlives one packet: per connection ([`FlowState`]: flowbits, `by_flow`
//! thresholds, whether a pass rule ended inspection) and engine-wide ([`ThresholdState`]: the
//! `by_src`, `by_dst`, `by_both` and `by_rule` tables of `threshold` and `detection_filter`).
//!
//! The engine-wide tables are bounded: they are allocated once at their full size and, when
//! full, expired entries are swept; a new key that still finds no room is not tracked (it
//! counts as a first occurrence) and [`ThresholdState::untracked`] counts it. Nothing here
//! allocates per packet.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::rules::{Threshold, ThresholdKind};

/// A threshold's counting window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Start of the current window, nanoseconds.
    start_ns: u64,
    count: u32,
}

/// What a threshold decides for one match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThresholdOutcome {
    /// Alert and apply the rule's action.
    Alert,
    /// No alert, but apply the rule's action (a `limit` or `both` past its count).
    Silent,
    /// Neither (a `threshold` or `detection_filter` below its count).
    Suppressed,
}

/// Applies one match to a threshold entry, exactly as Suricata 7's `ThresholdHandlePacket`.
/// `entry` is `None` when this key has no entry yet; the returned flag says whether a new
/// entry (count 1, window starting now) must be stored.
pub(crate) fn apply(
    t: &Threshold,
    entry: Option<&mut Entry>,
    now_ns: u64,
) -> (ThresholdOutcome, bool) {
    use ThresholdOutcome::*;
    let window_ns = u64::from(t.seconds) * 1_000_000_000;
    match entry {
        None => {
            let out = match t.kind {
                ThresholdKind::Limit => Alert,
                ThresholdKind::Threshold | ThresholdKind::Both if t.count == 1 => Alert,
                _ => Suppressed,
            };
            // `threshold` with count 1 alerts on every match and keeps no entry.
            let store = !(t.kind == ThresholdKind::Threshold && t.count == 1);
            (out, store)
        }
        Some(e) => {
            let within = now_ns <= e.start_ns.saturating_add(window_ns);
            let out = if within {
                e.count = e.count.saturating_add(1);
                match t.kind {
                    ThresholdKind::Limit => {
                        if e.count <= t.count {
                            Alert
                        } else {
                            Silent
                        }
                    }
                    ThresholdKind::Threshold => {
                        if e.count >= t.count {
                            e.count = 0;
                            Alert
                        } else {
                            Suppressed
                        }
                    }
                    ThresholdKind::Both => {
                        if e.count == t.count {
                            Alert
                        } else if e.count > t.count {
                            Silent
                        } else {
                            Suppressed
                        }
                    }
                    ThresholdKind::DetectionFilter => {
                        if e.count > t.count {
                            Alert
                        } else {
                            Suppressed
                        }
                    }
                }
            } else {
                e.start_ns = now_ns;
                e.count = 1;
                match t.kind {
                    ThresholdKind::Limit => Alert,
                    ThresholdKind::Both if t.count == 1 => Alert,
                    _ => Suppressed,
                }
            };
            (out, false)
        }
    }
}

impl Entry {
    pub(crate) fn new(now_ns: u64) -> Entry {
        Entry {
            start_ns: now_ns,
            count: 1,
        }
    }
}

/// The key of an engine-wide threshold entry: the rule, and the address(es) it tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TrackKey {
    Src(u32, IpAddr),
    Dst(u32, IpAddr),
    /// The pair, ordered so both directions share it.
    Both(u32, IpAddr, IpAddr),
}

/// Engine-wide threshold tables, shared by the connections a worker handles.
#[derive(Debug)]
pub struct ThresholdState {
    by_key: HashMap<TrackKey, (Entry, u32), foldhash::fast::RandomState>,
    /// One slot per rule number for `by_rule`.
    by_rule: Vec<Option<Entry>>,
    capacity: usize,
    /// New keys that found the table full even after sweeping expired entries.
    pub untracked: u64,
}

/// Default bound of the address tables.
pub const DEFAULT_THRESHOLD_ENTRIES: usize = 65_536;

impl ThresholdState {
    /// Tables for an engine of `rules` rules, holding at most `capacity` address entries.
    pub fn new(rules: usize, capacity: usize) -> Self {
        ThresholdState {
            by_key: HashMap::with_capacity_and_hasher(capacity, Default::default()),
            by_rule: vec![None; rules],
            capacity,
            untracked: 0,
        }
    }

    /// Number of address entries held.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// True when no address entry is held.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    pub(crate) fn rule_entry(&mut self, num: u32) -> Option<&mut Option<Entry>> {
        self.by_rule.get_mut(num as usize)
    }

    /// Applies a match to the entry of `key` (windows of `seconds` seconds).
    pub(crate) fn apply_keyed(
        &mut self,
        t: &Threshold,
        key: TrackKey,
        now_ns: u64,
    ) -> ThresholdOutcome {
        if let Some((e, _)) = self.by_key.get_mut(&key) {
            return apply(t, Some(e), now_ns).0;
        }
        let (out, store) = apply(t, None, now_ns);
        if store {
            if self.by_key.len() >= self.capacity {
                self.sweep(now_ns);
            }
            if self.by_key.len() < self.capacity {
                self.by_key.insert(key, (Entry::new(now_ns), t.seconds));
            } else {
                self.untracked += 1;
            }
        }
        out
    }

    /// Drops the entries whose window has ended.
    fn sweep(&mut self, now_ns: u64) {
        self.by_key.retain(|_, (e, secs)| {
            now_ns <= e.start_ns.saturating_add(u64::from(*secs) * 1_000_000_000)
        });
    }
}

/// Per-connection detection state, stored by the caller with the connection.
#[derive(Debug, Clone, Default)]
pub struct FlowState {
    /// Flowbits, one bit per name known to the engine.
    bits: Vec<u64>,
    /// `by_flow` threshold entries by rule number.
    thresholds: Vec<(u32, Entry)>,
    /// A `pass` rule matched in a way that applies to the flow: no more inspection.
    pub passed: bool,
    /// A `drop` or `reject` rule matched in a way that applies to the flow.
    pub dropped: bool,
}

impl FlowState {
    pub(crate) fn with_bits(nbits: usize) -> Self {
        FlowState {
            bits: vec![0; nbits.div_ceil(64)],
            ..FlowState::default()
        }
    }

    /// Whether flowbit `id` is set.
    pub(crate) fn is_set(&self, id: u32) -> bool {
        self.bits
            .get(id as usize / 64)
            .is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    fn word(&mut self, id: u32) -> &mut u64 {
        let i = id as usize / 64;
        if i >= self.bits.len() {
            // A state made for a smaller rule set (before a reload): grow once.
            self.bits.resize(i + 1, 0);
        }
        &mut self.bits[i]
    }

    pub(crate) fn set(&mut self, id: u32) {
        *self.word(id) |= 1 << (id % 64);
    }

    pub(crate) fn unset(&mut self, id: u32) {
        *self.word(id) &= !(1 << (id % 64));
    }

    pub(crate) fn toggle(&mut self, id: u32) {
        *self.word(id) ^= 1 << (id % 64);
    }

    pub(crate) fn apply_threshold(
        &mut self,
        t: &Threshold,
        num: u32,
        now_ns: u64,
    ) -> ThresholdOutcome {
        if let Some((_, e)) = self.thresholds.iter_mut().find(|(n, _)| *n == num) {
            return apply(t, Some(e), now_ns).0;
        }
        let (out, store) = apply(t, None, now_ns);
        if store {
            self.thresholds.push((num, Entry::new(now_ns)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Track;

    const S: u64 = 1_000_000_000;

    fn run(
        kind: ThresholdKind,
        count: u32,
        seconds: u32,
        times_s: &[u64],
    ) -> Vec<ThresholdOutcome> {
        let t = Threshold {
            kind,
            track: Track::BySrc,
            count,
            seconds,
        };
        let mut entry: Option<Entry> = None;
        times_s
            .iter()
            .map(|&s| {
                let (out, store) = apply(&t, entry.as_mut(), s * S);
                if store {
                    entry = Some(Entry::new(s * S));
                }
                out
            })
            .collect()
    }

    use ThresholdOutcome::*;

    #[test]
    fn limit_alerts_count_times_per_window() {
        assert_eq!(
            run(ThresholdKind::Limit, 2, 10, &[0, 1, 2, 3, 11, 12]),
            vec![Alert, Alert, Silent, Silent, Alert, Alert]
        );
    }

    #[test]
    fn threshold_alerts_every_count_th() {
        assert_eq!(
            run(ThresholdKind::Threshold, 3, 10, &[0, 1, 2, 3, 4, 5, 6]),
            vec![
                Suppressed, Suppressed, Alert, Suppressed, Suppressed, Alert, Suppressed
            ]
        );
        assert_eq!(
            run(ThresholdKind::Threshold, 1, 10, &[0, 1]),
            vec![Alert, Alert]
        );
    }

    #[test]
    fn both_alerts_once_at_count() {
        assert_eq!(
            run(ThresholdKind::Both, 2, 10, &[0, 1, 2, 3, 20, 21]),
            vec![Suppressed, Alert, Silent, Silent, Suppressed, Alert]
        );
    }

    #[test]
    fn detection_filter_alerts_after_count() {
        assert_eq!(
            run(ThresholdKind::DetectionFilter, 2, 10, &[0, 1, 2, 3, 30]),
            vec![Suppressed, Suppressed, Alert, Alert, Suppressed]
        );
    }

    #[test]
    fn window_end_is_inclusive() {
        // Suricata compares packet time <= start + seconds.
        assert_eq!(
            run(ThresholdKind::Limit, 1, 10, &[0, 10, 11]),
            vec![Alert, Silent, Alert]
        );
    }

    #[test]
    fn bounded_table_sweeps_then_stops_tracking() {
        let t = Threshold {
            kind: ThresholdKind::DetectionFilter,
            track: Track::BySrc,
            count: 1,
            seconds: 1,
        };
        let mut s = ThresholdState::new(1, 2);
        let ip = |n: u8| IpAddr::from([10, 0, 0, n]);
        s.apply_keyed(&t, TrackKey::Src(0, ip(1)), 0);
        s.apply_keyed(&t, TrackKey::Src(0, ip(2)), 0);
        s.apply_keyed(&t, TrackKey::Src(0, ip(3)), 0);
        assert_eq!((s.len(), s.untracked), (2, 1));
        // After the windows end, a sweep makes room.
        s.apply_keyed(&t, TrackKey::Src(0, ip(4)), 5 * S);
        assert_eq!((s.len(), s.untracked), (1, 1));
    }

    #[test]
    fn flowbits() {
        let mut f = FlowState::with_bits(70);
        assert!(!f.is_set(65));
        f.set(65);
        assert!(f.is_set(65));
        f.toggle(65);
        assert!(!f.is_set(65));
        f.toggle(3);
        f.unset(3);
        assert!(!f.is_set(3));
        f.set(200);
        assert!(f.is_set(200));
    }
}
