//! The forwarding database: MAC learning per bridge and VLAN.
//!
//! Keyed on (bridge, VLAN, MAC); each entry holds the port the MAC was last seen on and when.
//! An entry unused for the aging time is forgotten ([`Fdb::age`]). When the table is full the
//! entry learnt longest ago is evicted (a FIFO of learn order, checked lazily, so eviction is O(1)
//! even under a MAC flood). A MAC seen on a new port moves there (station move).
//!
//! [`Fdb::learn`], [`Fdb::age`] and [`Fdb::flush_port`] say what changed; the slow path turns
//! the changes that can alter an installed flow's decision into a new generation.
//!
//! Only the slow path touches this table; the fast path never does.

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

    /// Records that `mac` was seen entering `port` on `bridge`/`vlan` at `now` (ns).
    pub fn learn(
        &mut self,
        bridge: u16,
        vlan: u16,
        mac: [u8; 6],
        port: PortId,
        now: u64,
    ) -> Learned {
        if mac[0] & 1 != 0 {
            return Learned::Ignored;
        }
        let key = FdbKey { bridge, vlan, mac };
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            while self.entries.len() >= self.capacity {
                let Some((k, seq)) = self.order.pop_front() else {
                    break;
                };
                if self.entries.get(&k).is_some_and(|e| e.seq == seq) {
                    self.entries.remove(&k);
                    self.counters.evicted += 1;
                }
            }
        }
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
                return Learned::Moved { from };
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(FdbEntry {
                    port,
                    last_seen: now,
                    seq,
                });
            }
        }
        self.next_seq += 1;
        self.order.push_back((key, seq));
        // Keep the FIFO from growing without bound when entries age out before their turn.
        if self.order.len() > self.capacity.saturating_mul(2) {
            let entries = &self.entries;
            self.order
                .retain(|(k, s)| entries.get(k).is_some_and(|e| e.seq == *s));
        }
        self.counters.learned += 1;
        Learned::New
    }

    /// Refreshes an entry's time without a decision change (traffic seen in the flow cache).
    pub fn touch(&mut self, bridge: u16, vlan: u16, mac: [u8; 6], port: PortId, now: u64) {
        if let Some(e) = self.entries.get_mut(&FdbKey { bridge, vlan, mac })
            && e.port == port
        {
            e.last_seen = e.last_seen.max(now);
        }
    }

    /// The port `mac` was learnt on, if it is known and not expired.
    pub fn lookup(&self, bridge: u16, vlan: u16, mac: [u8; 6], now: u64) -> Option<PortId> {
        let e = self.entries.get(&FdbKey { bridge, vlan, mac })?;
        (now.saturating_sub(e.last_seen) <= self.aging_ns).then_some(e.port)
    }

    /// Forgets entries unused for the aging time; returns how many.
    pub fn age(&mut self, now: u64) -> usize {
        let aging = self.aging_ns;
        let before = self.entries.len();
        self.entries
            .retain(|_, e| now.saturating_sub(e.last_seen) <= aging);
        let n = before - self.entries.len();
        if n > 0 {
            self.counters.aged += n as u64;
        }
        n
    }

    /// Forgets every MAC learnt on `port` (the port went away or changed VLAN).
    pub fn flush_port(&mut self, port: PortId) -> usize {
        let before = self.entries.len();
        self.entries.retain(|_, e| e.port != port);
        before - self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;
    const A: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
    const B: [u8; 6] = [2, 0, 0, 0, 0, 0xb];

    #[test]
    fn learn_lookup_move_age() {
        let mut f = Fdb::new(16, 300 * S);
        assert_eq!(f.learn(0, 10, A, 1, 0), Learned::New);
        assert_eq!(f.lookup(0, 10, A, S), Some(1));
        assert_eq!(f.lookup(0, 20, A, S), None, "VLANs are separate");
        assert_eq!(f.lookup(1, 10, A, S), None, "bridges are separate");
        assert_eq!(f.learn(0, 10, A, 1, 5 * S), Learned::Refreshed);
        assert_eq!(f.learn(0, 10, A, 2, 6 * S), Learned::Moved { from: 1 });
        assert_eq!(f.lookup(0, 10, A, 6 * S), Some(2));
        assert_eq!(f.counters().moved, 1);
        // Aging.
        assert_eq!(f.lookup(0, 10, A, 400 * S), None);
        assert_eq!(f.age(400 * S), 1);
        assert!(f.is_empty());
    }

    #[test]
    fn multicast_is_never_learnt() {
        let mut f = Fdb::new(16, 300 * S);
        assert_eq!(f.learn(0, 0, [0xff; 6], 1, 0), Learned::Ignored);
        assert_eq!(
            f.learn(0, 0, [0x01, 0, 0x5e, 0, 0, 1], 1, 0),
            Learned::Ignored
        );
        assert!(f.is_empty());
    }

    #[test]
    fn full_table_evicts_oldest_learnt() {
        let mut f = Fdb::new(2, 300 * S);
        f.learn(0, 0, A, 1, 0);
        f.learn(0, 0, B, 1, 0);
        let c = [2, 0, 0, 0, 0, 0xc];
        f.learn(0, 0, c, 1, 0);
        assert_eq!(f.len(), 2);
        assert_eq!(f.lookup(0, 0, A, 0), None);
        assert_eq!(f.lookup(0, 0, B, 0), Some(1));
        assert_eq!(f.counters().evicted, 1);
        // A MAC flood keeps memory bounded.
        for i in 0..10_000u32 {
            let b = i.to_be_bytes();
            f.learn(0, 0, [2, 1, b[0], b[1], b[2], b[3]], 1, 0);
        }
        assert_eq!(f.len(), 2);
        assert!(f.order.len() <= 4);
    }

    #[test]
    fn touch_keeps_alive() {
        let mut f = Fdb::new(4, 10 * S);
        f.learn(0, 0, A, 1, 0);
        f.touch(0, 0, A, 1, 8 * S);
        assert_eq!(f.age(15 * S), 0);
        assert_eq!(f.lookup(0, 0, A, 15 * S), Some(1));
        f.touch(0, 0, A, 2, 16 * S); // wrong port: no refresh
        assert_eq!(f.age(19 * S), 1);
    }
}
