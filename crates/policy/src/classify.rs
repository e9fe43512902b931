//! The compiled rule classifier: given a connection's first packet (zones, addresses,
//! protocol, ports or ICMP type/code, connection state), the first rule that matches it.
//!
//! It is the bit-vector scheme of Lakshman and Stiliadis (SIGCOMM 1998). A rule with several
//! services becomes several *entries*, one per service, numbered in rule order, so that entry
//! order is rule order. Each field (source zone, destination zone, source address, destination
//! address, protocol, the two transport fields, state) cuts its key space into elementary
//! intervals, and each interval carries the bit vector of the entries whose match on that field
//! covers it. A lookup finds the interval of each field (a table index or one binary search),
//! ANDs the fields' bit vectors word by word and stops at the first word with a bit set: its
//! lowest bit is the first matching entry. Fields that no entry constrains are left out, and
//! equal bit vectors are stored once.
//!
//! Cost: with `E` entries a lookup reads at most `8 × ⌈E/64⌉` words after at most six binary
//! searches over at most `2E + 1` intervals; 1,000 single-service rules are 16 words a field.
//! Memory: at most `(2E + 1)` distinct vectors per range field, usually far fewer.
//!
//! A lookup must never allocate or panic, whatever it is asked (an unknown zone id matches no
//! rule that names zones). Building the classifier is done once per policy load.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::addr::AddrSet;
use crate::model::{FirstPacket, ZoneId};
use crate::model::{L4Match, ProtoSet, Rule, StateSet, ZoneSet};
use crate::ranges::{Point, RangeMap, RangeSet};

/// One rule's match for one of its services: a product of one set per field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Index of the rule in the policy.
    pub rule: u32,
    pub from: ZoneSet,
    pub to: ZoneSet,
    pub source: AddrSet,
    pub destination: AddrSet,
    pub protos: ProtoSet,
    /// Source port, or ICMP type.
    pub first: RangeSet<u16>,
    /// Destination port, or ICMP code.
    pub second: RangeSet<u16>,
    pub states: StateSet,
}

impl Entry {
    /// True when every packet this entry matches is also matched by `earlier`.
    pub(crate) fn covered_by(&self, earlier: &Entry, zones: usize) -> bool {
        earlier.from.is_superset(&self.from, zones)
            && earlier.to.is_superset(&self.to, zones)
            && earlier.source.is_superset(&self.source)
            && earlier.destination.is_superset(&self.destination)
            && earlier.protos.is_superset(self.protos)
            && earlier.first.is_superset(&self.first)
            && earlier.second.is_superset(&self.second)
            && earlier.states.is_superset(self.states)
    }

    /// True when the entry can match no packet at all (an empty field).
    pub(crate) fn is_void(&self) -> bool {
        self.source.is_empty()
            || self.destination.is_empty()
            || self.protos == ProtoSet::NONE
            || self.first.is_empty()
            || self.second.is_empty()
            || self.states.0 == 0
            || matches!(&self.from, ZoneSet::Some(v) if v.is_empty())
            || matches!(&self.to, ZoneSet::Some(v) if v.is_empty())
    }
}

/// The entries of the rules, in rule order.
pub(crate) fn entries(rules: &[Rule]) -> Vec<Entry> {
    let mut out = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        for s in &r.services {
            let one = |v: Option<u8>| {
                v.map_or_else(RangeSet::full, |t| {
                    RangeSet::range(u16::from(t), u16::from(t))
                })
            };
            let (first, second) = match &s.l4 {
                L4Match::Any => (RangeSet::full(), RangeSet::full()),
                L4Match::Ports { src, dst } => (src.clone(), dst.clone()),
                L4Match::Icmp { ty, code } => (one(*ty), one(*code)),
            };
            out.push(Entry {
                rule: i as u32,
                from: r.from.clone(),
                to: r.to.clone(),
                source: r.source.clone(),
                destination: r.destination.clone(),
                protos: s.protos,
                first,
                second,
                states: r.states,
            });
        }
    }
    out
}

/// Index of a bit vector in [`Classifier::vectors`].
type VecId = u32;
/// The vector with no bit set.
const NONE: VecId = 0;
/// The vector with every entry's bit set.
const ALL: VecId = 1;

/// Fields, in the order the lookup ANDs them.
const FIELDS: usize = 8;

/// The compiled classifier of one policy snapshot.
#[derive(Debug, Clone)]
pub struct Classifier {
    /// Words per bit vector.
    words: usize,
    /// Rule index of each entry.
    entry_rule: Vec<u32>,
    /// Every distinct bit vector, `words` words each; vector 0 is empty, vector 1 full.
    vectors: Vec<u64>,
    /// Words of a vector's summary: `⌈words / 64⌉`.
    summary_words: usize,
    /// Per vector, its summary: bit `k` is set when word `k` of the vector is not zero. ANDing
    /// the fields' summaries first names the only words worth ANDing (the aggregated bit
    /// vectors of Baboescu and Varghese), so a late match or a miss costs a few words.
    summaries: Vec<u64>,
    /// By zone id; the last slot is for ids beyond the policy's zones.
    src_zone: Vec<VecId>,
    dst_zone: Vec<VecId>,
    src_v4: RangeMap<u32, VecId>,
    src_v6: RangeMap<u128, VecId>,
    dst_v4: RangeMap<u32, VecId>,
    dst_v6: RangeMap<u128, VecId>,
    proto: Box<[VecId; 256]>,
    first: RangeMap<u16, VecId>,
    second: RangeMap<u16, VecId>,
    state: [VecId; 4],
    /// Which fields some entry constrains (the others are skipped).
    used: [bool; FIELDS],
}

/// Interns bit vectors while building.
struct Pool {
    words: usize,
    entries: usize,
    vectors: Vec<u64>,
    ids: HashMap<Vec<u64>, VecId>,
}

impl Pool {
    fn new(entries: usize) -> Pool {
        let words = entries.div_ceil(64).max(1);
        let mut pool = Pool {
            words,
            entries,
            vectors: Vec::new(),
            ids: HashMap::new(),
        };
        pool.intern(&vec![0; words]);
        let mut all = vec![0u64; words];
        for e in 0..entries {
            all[e / 64] |= 1 << (e % 64);
        }
        pool.intern(&all);
        pool
    }

    fn intern(&mut self, v: &[u64]) -> VecId {
        if let Some(&id) = self.ids.get(v) {
            return id;
        }
        let id = (self.vectors.len() / self.words) as VecId;
        self.vectors.extend_from_slice(v);
        self.ids.insert(v.to_vec(), id);
        id
    }

    /// The vector of the entries for which `pred` holds.
    fn vector_of(&mut self, pred: impl Fn(usize) -> bool) -> VecId {
        let mut v = vec![0u64; self.words];
        for e in 0..self.entries {
            if pred(e) {
                v[e / 64] |= 1 << (e % 64);
            }
        }
        self.intern(&v)
    }

    /// A range field: each entry's set of keys, swept into intervals with their vectors.
    fn ranges<P: Point>(&mut self, sets: &[&RangeSet<P>]) -> RangeMap<P, VecId> {
        let mut events: Vec<(P, bool, usize)> = Vec::new();
        for (e, set) in sets.iter().enumerate() {
            for &(lo, hi) in set.ranges() {
                events.push((lo, true, e));
                if let Some(end) = hi.succ() {
                    events.push((end, false, e));
                }
            }
        }
        events.sort_unstable_by_key(|ev| ev.0);
        let mut cur = vec![0u64; self.words];
        let mut points = Vec::new();
        let mut k = 0;
        while k < events.len() {
            let at = events[k].0;
            while k < events.len() && events[k].0 == at {
                let (_, add, e) = events[k];
                if add {
                    cur[e / 64] |= 1 << (e % 64);
                } else {
                    cur[e / 64] &= !(1 << (e % 64));
                }
                k += 1;
            }
            points.push((at, self.intern(&cur)));
        }
        RangeMap::from_points(NONE, points)
    }
}

impl Classifier {
    /// Compiles the rules (`zones`: how many zones the policy has, `wan` included).
    pub fn new(rules: &[Rule], zones: usize) -> Classifier {
        let entries = entries(rules);
        let mut pool = Pool::new(entries.len());
        // One vector per zone id, and a last one for ids the policy does not have (they match
        // only `any`).
        let zone_vectors = |pool: &mut Pool, pick: fn(&Entry) -> &ZoneSet| -> Vec<VecId> {
            let mut v: Vec<VecId> = (0..zones)
                .map(|z| {
                    let z = ZoneId(z as u16);
                    pool.vector_of(|e| pick(&entries[e]).contains(z))
                })
                .collect();
            v.push(pool.vector_of(|e| pick(&entries[e]) == &ZoneSet::Any));
            v
        };
        let src_zone = zone_vectors(&mut pool, |e| &e.from);
        let dst_zone = zone_vectors(&mut pool, |e| &e.to);
        let sets = |f: fn(&Entry) -> &AddrSet| entries.iter().map(f).collect::<Vec<_>>();
        let (src, dst) = (sets(|e| &e.source), sets(|e| &e.destination));
        let src_v4 = pool.ranges(&src.iter().map(|s| &s.v4).collect::<Vec<_>>());
        let src_v6 = pool.ranges(&src.iter().map(|s| &s.v6).collect::<Vec<_>>());
        let dst_v4 = pool.ranges(&dst.iter().map(|s| &s.v4).collect::<Vec<_>>());
        let dst_v6 = pool.ranges(&dst.iter().map(|s| &s.v6).collect::<Vec<_>>());
        let mut proto = Box::new([NONE; 256]);
        for (p, slot) in proto.iter_mut().enumerate() {
            *slot = pool.vector_of(|e| entries[e].protos.contains(p as u8));
        }
        let first = pool.ranges(&entries.iter().map(|e| &e.first).collect::<Vec<_>>());
        let second = pool.ranges(&entries.iter().map(|e| &e.second).collect::<Vec<_>>());
        let mut state = [NONE; 4];
        for (s, slot) in state.iter_mut().enumerate() {
            *slot = pool.vector_of(|e| entries[e].states.0 & (1 << s) != 0);
        }
        // A field is left out of lookups when every key of it gives the full vector.
        fn all_in(mut ids: impl Iterator<Item = VecId>) -> bool {
            ids.all(|id| id == ALL)
        }
        let used = [
            !all_in(src_zone.iter().copied()),
            !all_in(dst_zone.iter().copied()),
            !(all_in(src_v4.intervals().map(|i| i.2)) && all_in(src_v6.intervals().map(|i| i.2))),
            !(all_in(dst_v4.intervals().map(|i| i.2)) && all_in(dst_v6.intervals().map(|i| i.2))),
            !all_in(proto.iter().copied()),
            !all_in(first.intervals().map(|i| i.2)),
            !all_in(second.intervals().map(|i| i.2)),
            !all_in(state.iter().copied()),
        ];
        let summary_words = pool.words.div_ceil(64);
        let mut summaries = Vec::with_capacity(pool.vectors.len() / pool.words * summary_words);
        for v in pool.vectors.chunks(pool.words) {
            let mut sum = vec![0u64; summary_words];
            for (k, word) in v.iter().enumerate() {
                if *word != 0 {
                    sum[k / 64] |= 1 << (k % 64);
                }
            }
            summaries.extend(sum);
        }
        Classifier {
            words: pool.words,
            entry_rule: entries.iter().map(|e| e.rule).collect(),
            vectors: pool.vectors,
            summary_words,
            summaries,
            src_zone,
            dst_zone,
            src_v4,
            src_v6,
            dst_v4,
            dst_v6,
            proto,
            first,
            second,
            state,
            used,
        }
    }

    /// The index of the first rule that matches `p`, or `None` (the default applies).
    /// Allocation-free.
    #[inline]
    pub fn first_match(&self, p: &FirstPacket) -> Option<u32> {
        let zone = |t: &[VecId], z: ZoneId| {
            t.get(z.index().min(t.len().saturating_sub(1)))
                .copied()
                .unwrap_or(NONE)
        };
        let (a, b) = p.transport.key();
        // The vectors of the fields some entry constrains, in `ids[..n]`: table lookups first,
        // then binary searches. A field that no entry matches decides at once (common: no rule
        // names this protocol or port).
        let mut ids = [ALL; FIELDS];
        let mut n = 0;
        macro_rules! field {
            ($used:expr, $id:expr) => {
                if $used {
                    let id = $id;
                    if id == NONE {
                        return None;
                    }
                    ids[n] = id;
                    n += 1;
                }
            };
        }
        field!(self.used[4], self.proto[usize::from(p.proto)]);
        field!(self.used[7], self.state[p.state as usize]);
        field!(self.used[0], zone(&self.src_zone, p.src_zone));
        field!(self.used[1], zone(&self.dst_zone, p.dst_zone));
        field!(self.used[6], self.second.get(b));
        field!(self.used[5], self.first.get(a));
        field!(
            self.used[3],
            match p.dst {
                IpAddr::V4(x) => self.dst_v4.get(u32::from(x)),
                IpAddr::V6(x) => self.dst_v6.get(u128::from(x)),
            }
        );
        field!(
            self.used[2],
            match p.src {
                IpAddr::V4(x) => self.src_v4.get(u32::from(x)),
                IpAddr::V6(x) => self.src_v6.get(u128::from(x)),
            }
        );
        let ids = &ids[..n];
        let entry = self.intersect(ids)?;
        self.entry_rule.get(entry).copied()
    }

    /// The first entry set in every given vector: the summaries say which words can hold one,
    /// and only those words are ANDed, in order.
    #[inline]
    fn intersect(&self, ids: &[VecId]) -> Option<usize> {
        let (w, sw) = (self.words, self.summary_words);
        // Every id was made by this classifier, so every index is in range; `get` keeps a
        // wrong id from panicking (it then matches nothing).
        let summary = |id: VecId, s: usize| {
            self.summaries
                .get(id as usize * sw + s)
                .copied()
                .unwrap_or(0)
        };
        let word =
            |id: VecId, k: usize| self.vectors.get(id as usize * w + k).copied().unwrap_or(0);
        for s in 0..sw {
            let mut candidates = u64::MAX;
            for &id in ids {
                candidates &= summary(id, s);
            }
            while candidates != 0 {
                let k = s * 64 + candidates.trailing_zeros() as usize;
                candidates &= candidates - 1;
                let mut acc = u64::MAX;
                for &id in ids {
                    acc &= word(id, k);
                }
                if acc != 0 {
                    return Some(k * 64 + acc.trailing_zeros() as usize);
                }
            }
        }
        None
    }

    /// Number of entries (rules times their services).
    pub fn entries(&self) -> usize {
        self.entry_rule.len()
    }

    /// Number of distinct bit vectors stored.
    pub fn vectors(&self) -> usize {
        self.vectors.len() / self.words
    }

    /// Bytes of the bit vectors and interval tables.
    pub fn memory_bytes(&self) -> usize {
        let ranges = (self.src_v4.len() + self.dst_v4.len()) * 8
            + (self.src_v6.len() + self.dst_v6.len()) * 20
            + (self.first.len() + self.second.len()) * 6;
        (self.vectors.len() + self.summaries.len()) * 8
            + ranges
            + 256 * 4
            + self.entry_rule.len() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Action, ConnState, L4Match, Service, Transport, proto};
    use crate::ranges::RangeSet;
    use proptest::prelude::*;

    fn rule(from: ZoneSet, to: ZoneSet, services: Vec<Service>, action: Action) -> Rule {
        Rule {
            id: 0,
            name: String::new(),
            line: 0,
            from,
            to,
            source: AddrSet::any(),
            destination: AddrSet::any(),
            services,
            states: StateSet::ANY,
            action,
            log: false,
        }
    }

    fn tcp(dst: &[(u16, u16)]) -> Service {
        Service {
            protos: ProtoSet::one(proto::TCP),
            l4: L4Match::Ports {
                src: RangeSet::full(),
                dst: RangeSet::from_ranges(dst.iter().copied()),
            },
        }
    }

    fn packet(src_zone: u16, dst_zone: u16, proto: u8, transport: Transport) -> FirstPacket {
        FirstPacket {
            src_zone: ZoneId(src_zone),
            dst_zone: ZoneId(dst_zone),
            src: "10.0.0.1".parse().unwrap(),
            dst: "192.0.2.1".parse().unwrap(),
            proto,
            transport,
            state: ConnState::New,
        }
    }

    #[test]
    fn first_rule_wins_and_no_match_is_none() {
        let rules = vec![
            rule(
                ZoneSet::of([ZoneId(1)]),
                ZoneSet::Any,
                vec![tcp(&[(22, 22)])],
                Action::Deny,
            ),
            rule(
                ZoneSet::Any,
                ZoneSet::Any,
                vec![tcp(&[(1, 1024)])],
                Action::Allow,
            ),
            rule(
                ZoneSet::Any,
                ZoneSet::of([ZoneId(2)]),
                vec![Service::any()],
                Action::Reject,
            ),
        ];
        let c = Classifier::new(&rules, 3);
        let ssh = Transport::Ports { src: 5000, dst: 22 };
        assert_eq!(c.first_match(&packet(1, 0, 6, ssh)), Some(0));
        assert_eq!(c.first_match(&packet(2, 0, 6, ssh)), Some(1));
        assert_eq!(c.first_match(&packet(2, 2, 17, ssh)), Some(2));
        assert_eq!(c.first_match(&packet(0, 0, 17, ssh)), None);
        // A zone id this policy does not have matches only rules that name no zone.
        assert_eq!(c.first_match(&packet(9, 9, 6, ssh)), Some(1));
        assert_eq!(c.first_match(&packet(9, 9, 17, ssh)), None);
        assert_eq!(c.entries(), 3);
    }

    #[test]
    fn several_services_of_one_rule_keep_rule_order() {
        let echo = Service {
            protos: ProtoSet::one(proto::ICMP),
            l4: L4Match::Icmp {
                ty: Some(8),
                code: None,
            },
        };
        let rules = vec![
            rule(
                ZoneSet::Any,
                ZoneSet::Any,
                vec![tcp(&[(80, 80)]), echo],
                Action::Allow,
            ),
            rule(
                ZoneSet::Any,
                ZoneSet::Any,
                vec![Service::any()],
                Action::Deny,
            ),
        ];
        let c = Classifier::new(&rules, 1);
        assert_eq!(c.entries(), 3);
        assert_eq!(
            c.first_match(&packet(0, 0, 1, Transport::Icmp { ty: 8, code: 0 })),
            Some(0)
        );
        assert_eq!(
            c.first_match(&packet(0, 0, 1, Transport::Icmp { ty: 0, code: 0 })),
            Some(1)
        );
        assert_eq!(
            c.first_match(&packet(0, 0, 6, Transport::Ports { src: 1, dst: 80 })),
            Some(0)
        );
        // ICMP type 0 code 80 is not TCP port 80.
        assert_eq!(
            c.first_match(&packet(0, 0, 1, Transport::Icmp { ty: 0, code: 80 })),
            Some(1)
        );
    }

    #[test]
    fn no_rules_never_match() {
        let c = Classifier::new(&[], 1);
        assert_eq!(c.first_match(&packet(0, 0, 6, Transport::Other)), None);
    }

    #[test]
    fn more_than_64_entries_span_words() {
        let mut rules: Vec<Rule> = (0..200u16)
            .map(|p| {
                rule(
                    ZoneSet::Any,
                    ZoneSet::Any,
                    vec![tcp(&[(p, p)])],
                    Action::Deny,
                )
            })
            .collect();
        rules.push(rule(
            ZoneSet::Any,
            ZoneSet::Any,
            vec![Service::any()],
            Action::Allow,
        ));
        let c = Classifier::new(&rules, 1);
        for p in [0u16, 63, 64, 130, 199] {
            let t = Transport::Ports { src: 9, dst: p };
            assert_eq!(c.first_match(&packet(0, 0, 6, t)), Some(u32::from(p)));
        }
        let t = Transport::Ports { src: 9, dst: 200 };
        assert_eq!(c.first_match(&packet(0, 0, 6, t)), Some(200));
    }

    #[test]
    fn more_than_4096_entries_span_summary_words() {
        let mut rules: Vec<Rule> = (0..5000u16)
            .map(|p| {
                rule(
                    ZoneSet::Any,
                    ZoneSet::Any,
                    vec![tcp(&[(p, p)])],
                    Action::Deny,
                )
            })
            .collect();
        rules.push(rule(
            ZoneSet::Any,
            ZoneSet::Any,
            vec![tcp(&[(9000, 9000)])],
            Action::Allow,
        ));
        let c = Classifier::new(&rules, 1);
        assert_eq!(c.summary_words, 2);
        for p in [0u16, 4095, 4096, 4500, 4999, 9000] {
            let t = Transport::Ports { src: 9, dst: p };
            let want = if p == 9000 { 5000 } else { u32::from(p) };
            assert_eq!(c.first_match(&packet(0, 0, 6, t)), Some(want), "port {p}");
        }
        let t = Transport::Ports { src: 9, dst: 5000 };
        assert_eq!(c.first_match(&packet(0, 0, 6, t)), None);
    }

    // --- property test: the classifier agrees with trying every rule in order -------------

    /// Small domains, so that random packets hit random rules often.
    fn zone_set(zones: u16) -> impl Strategy<Value = ZoneSet> {
        prop_oneof![
            2 => Just(ZoneSet::Any),
            3 => prop::collection::vec(0..zones, 1..3).prop_map(|v| ZoneSet::of(v.into_iter().map(ZoneId))),
        ]
    }

    /// Addresses from 10.0.0.0/28 and fd00::/124, as CIDRs of random lengths.
    fn addr_set() -> impl Strategy<Value = AddrSet> {
        let v4 = (0u8..16, 28u8..=32).prop_map(|(a, l)| {
            let host = u32::from(std::net::Ipv4Addr::from([10, 0, 0, a]));
            let mask = u32::MAX.checked_shl(32 - u32::from(l)).unwrap_or(0);
            crate::addr::Cidr::V4 {
                addr: host & mask,
                len: l,
            }
        });
        let v6 = (0u128..16, 124u8..=128).prop_map(|(a, l)| {
            let base = u128::from(0xfd00u16) << 112;
            let mask = u128::MAX.checked_shl(128 - u32::from(l)).unwrap_or(0);
            crate::addr::Cidr::V6 {
                addr: (base | a) & mask,
                len: l,
            }
        });
        prop_oneof![
            2 => Just(AddrSet::any()),
            3 => prop::collection::vec(prop_oneof![v4, v6], 1..3).prop_map(|c| AddrSet::from_cidrs(&c)),
        ]
    }

    fn ports() -> impl Strategy<Value = RangeSet<u16>> {
        prop_oneof![
            1 => Just(RangeSet::full()),
            3 => prop::collection::vec((0u16..12, 0u16..4), 1..3)
                .prop_map(|v| RangeSet::from_ranges(v.into_iter().map(|(lo, n)| (lo, lo + n)))),
        ]
    }

    fn service() -> impl Strategy<Value = Service> {
        let port_protos = prop_oneof![
            Just(ProtoSet::one(proto::TCP)),
            Just(ProtoSet::one(proto::UDP)),
            Just({
                let mut p = ProtoSet::one(proto::TCP);
                p.insert(proto::UDP);
                p
            }),
        ];
        prop_oneof![
            1 => Just(Service::any()),
            1 => prop_oneof![Just(proto::GRE), Just(proto::TCP), Just(proto::ICMP)]
                .prop_map(|p| Service { protos: ProtoSet::one(p), l4: L4Match::Any }),
            4 => (port_protos, ports(), ports()).prop_map(|(protos, src, dst)| Service {
                protos,
                l4: L4Match::Ports { src, dst },
            }),
            2 => (prop::option::of(0u8..4), prop::option::of(0u8..3)).prop_map(|(ty, code)| Service {
                protos: ProtoSet::one(proto::ICMP),
                l4: L4Match::Icmp { ty, code },
            }),
        ]
    }

    fn random_rule(zones: u16) -> impl Strategy<Value = Rule> {
        (
            zone_set(zones),
            zone_set(zones),
            addr_set(),
            addr_set(),
            prop::collection::vec(service(), 1..3),
            prop_oneof![3 => Just(StateSet::ANY), 1 => (1u8..16).prop_map(StateSet)],
            0usize..5,
        )
            .prop_map(
                |(from, to, source, destination, services, states, a)| Rule {
                    id: 0,
                    name: String::new(),
                    line: 0,
                    from,
                    to,
                    source,
                    destination,
                    services,
                    states,
                    action: Action::ALL[a],
                    log: a % 2 == 0,
                },
            )
    }

    fn random_packet(zones: u16) -> impl Strategy<Value = FirstPacket> {
        let addr = prop_oneof![
            (0u8..18).prop_map(|a| IpAddr::from([10, 0, 0, a])),
            (0u16..18).prop_map(|a| IpAddr::from([0xfd00, 0, 0, 0, 0, 0, 0, a])),
        ];
        let transport = prop_oneof![
            (0u16..16, 0u16..16).prop_map(|(src, dst)| (proto::TCP, Transport::Ports { src, dst })),
            (0u16..16, 0u16..16).prop_map(|(src, dst)| (proto::UDP, Transport::Ports { src, dst })),
            (0u8..5, 0u8..4).prop_map(|(ty, code)| (proto::ICMP, Transport::Icmp { ty, code })),
            Just((proto::GRE, Transport::Other)),
        ];
        (
            0..zones + 1,
            0..zones + 1,
            addr.clone(),
            addr,
            transport,
            0usize..4,
        )
            .prop_map(
                move |(sz, dz, src, dst, (proto, transport), st)| FirstPacket {
                    src_zone: ZoneId(sz),
                    dst_zone: ZoneId(dz),
                    src,
                    dst,
                    proto,
                    transport,
                    state: ConnState::ALL[st],
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// On random policies (up to 150 rules, so entries span several words) and random
        /// packets, the classifier's answer is the first rule that matches in a linear scan.
        #[test]
        fn agrees_with_linear_evaluation(
            rules in prop::collection::vec(random_rule(4), 0..150),
            packets in prop::collection::vec(random_packet(4), 64),
        ) {
            let c = Classifier::new(&rules, 4);
            for p in &packets {
                let want = rules.iter().position(|r| r.matches(p)).map(|i| i as u32);
                prop_assert_eq!(c.first_match(p), want, "packet {:?}", p);
            }
        }

        /// Coverage, on which shadowing warnings rest, is sound: a rule whose every entry is
        /// covered by an earlier entry is never the first match.
        #[test]
        fn a_covered_rule_never_matches_first(
            rules in prop::collection::vec(random_rule(3), 1..40),
            packets in prop::collection::vec(random_packet(2), 128),
        ) {
            let all = entries(&rules);
            let covered: Vec<bool> = (0..rules.len())
                .map(|j| {
                    let mine: Vec<&Entry> = all.iter().filter(|e| e.rule as usize == j).collect();
                    let earlier: Vec<&Entry> = all.iter().filter(|e| (e.rule as usize) < j).collect();
                    mine.iter().all(|e| earlier.iter().any(|x| e.covered_by(x, 3)))
                })
                .collect();
            for p in &packets {
                if let Some(i) = rules.iter().position(|r| r.matches(p)) {
                    prop_assert!(!covered[i], "rule {} is covered but matched {:?}", i, p);
                }
            }
        }
    }
}
