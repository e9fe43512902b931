//! The forwarding database: MAC learning per bridge and VLAN.
//!
//! [`Fdb`] is the authoritative table, kept by the [`crate::learn::Learner`] in the order
//! packets arrive. Keyed on (bridge, VLAN, MAC); each entry holds the port the MAC was last seen
//! on and when. An entry unused for the aging time is forgotten ([`Fdb::age`]). When the table
//! is full the entry learnt longest ago is evicted (a FIFO of learn order, checked lazily, so
//! eviction is O(1) even under a MAC flood). A MAC seen on a new port moves there (station
//! move). Every change is reported as an [`FdbChange`].
//!
//! [`FdbView`] is a worker's copy: it holds only where each MAC is, and changes only by
//! applying the learner's [`FdbChange`]s, in the order the learner made them. So every worker's
//! slow path decides with the table as it stood when the packet arrived, whichever worker
//! handles the packet and however the packets were batched.
//!
//! The fast path never touches either table.

use std::collections::VecDeque;

// The FDB is keyed on MACs a guest chooses; foldhash is seeded per process, so it resists
// collision flooding while costing a fraction of SipHash on a 10-byte key.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

use crate::port::PortId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FdbKey {
    bridge: u16,
    vlan: u16,
    mac: [u8; 6],
}

#[derive(Debug, Clone, Copy)]
struct FdbEntry {
    port: PortId,
    last_seen: u64,
    /// Learn sequence number; matches the FIFO slot that owns eviction of this entry.
    seq: u64,
}

/// What [`Fdb::learn`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learned {
    /// Already known on this port; its time was refreshed.
    Refreshed,
    /// A new MAC.
    New,
    /// Known on another port; moved here.
    Moved { from: PortId },
    /// Not learnt: multicast or broadcast source, which is never learnt.
    Ignored,
}

/// A change of the table, as the learner made it; applied by every worker's [`FdbView`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FdbChange {
    /// A new MAC, on `port`.
    Learnt {
        bridge: u16,
        vlan: u16,
        mac: [u8; 6],
        port: PortId,
    },
    /// A known MAC seen on another port.
    Moved {
        bridge: u16,
        vlan: u16,
        mac: [u8; 6],
        from: PortId,
        to: PortId,
    },
    /// A MAC aged out, evicted, or flushed with its port.
    Forgotten {
        bridge: u16,
        vlan: u16,
        mac: [u8; 6],
    },
}

/// Counters of the table's life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FdbCounters {
    pub learned: u64,
    pub moved: u64,
    pub aged: u64,
    pub evicted: u64,
}

/// MAC learning table of every bridge.
#[derive(Debug)]
pub struct Fdb {
    entries: HashMap<FdbKey, FdbEntry>,
    order: VecDeque<(FdbKey, u64)>,
    capacity: usize,
    aging_ns: u64,
    next_seq: u64,
    counters: FdbCounters,
}

impl Fdb {
    /// A table holding at most `capacity` MACs, forgetting each after `aging_ns` unused.
    pub fn new(capacity: usize, aging_ns: u64) -> Self {
        Fdb {
            // Room for a typical host's MACs up front; more grow the table.
            entries: HashMap::with_capacity_and_hasher(capacity.clamp(1, 4096), Default::default()),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            aging_ns,
            next_seq: 0,
            counters: FdbCounters::default(),
        }
    }

    /// Counters since creation.
    pub fn counters(&self) -> FdbCounters {
        self.counters
    }

    /// Number of MACs known.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no MAC is known.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records that `mac` was seen entering `port` on `bridge`/`vlan` at `now` (ns), and appends
    /// what changed (an eviction to make room, the new MAC or its move) to `changes`.
    pub fn learn(
        &mut self,
        bridge: u16,
        vlan: u16,
        mac: [u8; 6],
        port: PortId,
        now: u64,
        changes: &mut Vec<FdbChange>,
    ) -> Learned {
        if mac[0] & 1 != 0 {
            return Learned::Ignored;
        }
        let key = FdbKey { bridge, vlan, mac };
        let seq = self.next_seq;
        // One probe of the table whether the MAC is known or new.
        match self.entries.entry(key) {
            std::collections::hash_map::Entry::Occupied(mut o) => {
                let e = o.get_mut();
                e.last_seen = e.last_seen.max(now);
                if e.port == port {
                    return Learned::Refreshed;
                }
                let from = e.port;
                e.port = port;
                self.counters.moved += 1;
                changes.push(FdbChange::Moved {
                    bridge,
                    vlan,
                    mac,
                    from,
                    to: port,
                });
                return Learned::Moved { from };
            }
            std::collections::hash_map::Entry::Vacant(_) => {}
        }
        while self.entries.len() >= self.capacity {
            let Some((k, seq)) = self.order.pop_front() else {
                break;
            };
            if self.entries.get(&k).is_some_and(|e| e.seq == seq) {
                self.entries.remove(&k);
                self.counters.evicted += 1;
                changes.push(FdbChange::Forgotten {
                    bridge: k.bridge,
                    vlan: k.vlan,
                    mac: k.mac,
                });
            }
        }
        self.entries.insert(
            key,
            FdbEntry {
                port,
                last_seen: now,
                seq,
            },
        );
        self.next_seq += 1;
        self.order.push_back((key, seq));
        // Keep the FIFO from growing without bound when entries age out before their turn.
        if self.order.len() > self.capacity.saturating_mul(2) {
            let entries = &self.entries;
            self.order
                .retain(|(k, s)| entries.get(k).is_some_and(|e| e.seq == *s));
        }
        self.counters.learned += 1;
        changes.push(FdbChange::Learnt {
            bridge,
            vlan,
            mac,
            port,
        });
        Learned::New
    }

    /// The port `mac` was learnt on, if it is known.
    pub fn lookup(&self, bridge: u16, vlan: u16, mac: [u8; 6]) -> Option<PortId> {
        self.entries
            .get(&FdbKey { bridge, vlan, mac })
            .map(|e| e.port)
    }

    /// Forgets entries unused for the aging time, appending each to `changes` (in a
    /// deterministic order); returns how many.
    pub fn age(&mut self, now: u64, changes: &mut Vec<FdbChange>) -> usize {
        let aging = self.aging_ns;
        let start = changes.len();
        self.entries.retain(|k, e| {
            let keep = now.saturating_sub(e.last_seen) <= aging;
            if !keep {
                changes.push(FdbChange::Forgotten {
                    bridge: k.bridge,
                    vlan: k.vlan,
                    mac: k.mac,
                });
            }
            keep
        });
        // The hash table's order is the process's own: sort so every run says the same.
        changes[start..].sort_unstable_by_key(forgotten_key);
        let n = changes.len() - start;
        self.counters.aged += n as u64;
        n
    }

    /// Forgets every MAC learnt on `port` (the port went away or changed VLAN), appending each
    /// to `changes`.
    pub fn flush_port(&mut self, port: PortId, changes: &mut Vec<FdbChange>) -> usize {
        let start = changes.len();
        self.entries.retain(|k, e| {
            let keep = e.port != port;
            if !keep {
                changes.push(FdbChange::Forgotten {
                    bridge: k.bridge,
                    vlan: k.vlan,
                    mac: k.mac,
                });
            }
            keep
        });
        changes[start..].sort_unstable_by_key(forgotten_key);
        changes.len() - start
    }
}

fn forgotten_key(c: &FdbChange) -> (u16, u16, [u8; 6]) {
    match *c {
        FdbChange::Forgotten { bridge, vlan, mac }
        | FdbChange::Learnt {
            bridge, vlan, mac, ..
        }
        | FdbChange::Moved {
            bridge, vlan, mac, ..
        } => (bridge, vlan, mac),
    }
}

/// A worker's copy of the forwarding database: where each MAC is, changed only by applying
/// the learner's changes in order.
#[derive(Debug, Default, Clone)]
pub struct FdbView {
    entries: HashMap<FdbKey, PortId>,
}

impl FdbView {
    /// An empty view.
    pub fn new() -> Self {
        FdbView::default()
    }

    /// Applies one change.
    pub fn apply(&mut self, change: &FdbChange) {
        match *change {
            FdbChange::Learnt {
                bridge,
                vlan,
                mac,
                port,
            } => {
                self.entries.insert(FdbKey { bridge, vlan, mac }, port);
            }
            FdbChange::Moved {
                bridge,
                vlan,
                mac,
                to,
                ..
            } => {
                self.entries.insert(FdbKey { bridge, vlan, mac }, to);
            }
            FdbChange::Forgotten { bridge, vlan, mac } => {
                self.entries.remove(&FdbKey { bridge, vlan, mac });
            }
        }
    }

    /// The port `mac` was learnt on, if it is known.
    #[inline]
    pub fn lookup(&self, bridge: u16, vlan: u16, mac: [u8; 6]) -> Option<PortId> {
        self.entries.get(&FdbKey { bridge, vlan, mac }).copied()
    }

    /// Number of MACs known.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no MAC is known.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;
    const A: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
    const B: [u8; 6] = [2, 0, 0, 0, 0, 0xb];

    #[test]
    fn learn_lookup_move_age_and_the_view_follows() {
        let mut f = Fdb::new(16, 300 * S);
        let mut view = FdbView::new();
        let mut ch = Vec::new();
        assert_eq!(f.learn(0, 10, A, 1, 0, &mut ch), Learned::New);
        assert_eq!(f.lookup(0, 10, A), Some(1));
        assert_eq!(f.lookup(0, 20, A), None, "VLANs are separate");
        assert_eq!(f.lookup(1, 10, A), None, "bridges are separate");
        assert_eq!(f.learn(0, 10, A, 1, 5 * S, &mut ch), Learned::Refreshed);
        assert_eq!(
            f.learn(0, 10, A, 2, 6 * S, &mut ch),
            Learned::Moved { from: 1 }
        );
        assert_eq!(f.lookup(0, 10, A), Some(2));
        assert_eq!(f.counters().moved, 1);
        assert_eq!(ch.len(), 2, "a refresh changes nothing: {ch:?}");
        ch.iter().for_each(|c| view.apply(c));
        assert_eq!(view.lookup(0, 10, A), Some(2));
        // Aging: unused since 6 s.
        ch.clear();
        assert_eq!(f.age(300 * S, &mut ch), 0);
        assert_eq!(f.age(400 * S, &mut ch), 1);
        assert!(f.is_empty());
        ch.iter().for_each(|c| view.apply(c));
        assert!(view.is_empty());
    }

    #[test]
    fn multicast_is_never_learnt() {
        let mut f = Fdb::new(16, 300 * S);
        let mut ch = Vec::new();
        assert_eq!(f.learn(0, 0, [0xff; 6], 1, 0, &mut ch), Learned::Ignored);
        assert_eq!(
            f.learn(0, 0, [0x01, 0, 0x5e, 0, 0, 1], 1, 0, &mut ch),
            Learned::Ignored
        );
        assert!(f.is_empty() && ch.is_empty());
    }

    #[test]
    fn full_table_evicts_oldest_learnt_and_says_so() {
        let mut f = Fdb::new(2, 300 * S);
        let mut ch = Vec::new();
        f.learn(0, 0, A, 1, 0, &mut ch);
        f.learn(0, 0, B, 1, 0, &mut ch);
        let c = [2, 0, 0, 0, 0, 0xc];
        ch.clear();
        f.learn(0, 0, c, 1, 0, &mut ch);
        assert_eq!(f.len(), 2);
        assert_eq!(f.lookup(0, 0, A), None);
        assert_eq!(f.lookup(0, 0, B), Some(1));
        assert_eq!(f.counters().evicted, 1);
        assert_eq!(
            ch[0],
            FdbChange::Forgotten {
                bridge: 0,
                vlan: 0,
                mac: A
            }
        );
        // A MAC flood keeps memory bounded.
        for i in 0..10_000u32 {
            let b = i.to_be_bytes();
            f.learn(0, 0, [2, 1, b[0], b[1], b[2], b[3]], 1, 0, &mut ch);
        }
        assert_eq!(f.len(), 2);
        assert!(f.order.len() <= 4);
    }

    #[test]
    fn flush_port_forgets_its_macs_in_a_fixed_order() {
        let mut f = Fdb::new(16, 300 * S);
        let mut ch = Vec::new();
        for m in [B, A, [2, 0, 0, 0, 0, 0xc]] {
            f.learn(0, 0, m, 1, 0, &mut ch);
        }
        f.learn(0, 0, [2, 0, 0, 0, 0, 0xd], 2, 0, &mut ch);
        ch.clear();
        assert_eq!(f.flush_port(1, &mut ch), 3);
        let macs: Vec<_> = ch.iter().map(forgotten_key).map(|k| k.2[5]).collect();
        assert_eq!(macs, vec![0xa, 0xb, 0xc]);
        assert_eq!(f.len(), 1);
    }
}
