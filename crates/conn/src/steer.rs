//! The symmetric steering hash: which worker a packet goes to, so that both directions of a
//! connection meet on the worker that owns its connection entry.
//!
//! The hash is `H(vlan, {addr_a, addr_b}, proto) ^ (sport ^ dport)`, where `H` is keyed with a
//! secret drawn from the OS once per process ([`SteeringKey::random`]) and the address pair is
//! taken unordered; the worker is the hash modulo the worker count. Swapping the endpoints
//! changes neither part, so the hash is symmetric. Ports enter outside `H`, linearly, for one
//! reason: a firewall doing source NAT must pick the translated port so that the *reply*
//! (from the server to the NAT address and that port) reaches the worker that holds the
//! connection, for any worker count. With the port XORed in after the keyed part,
//! [`SteeringKey::nat_port`] computes such a port directly: the low bits of `sport ^ dport`
//! that the modulus needs are solved for, the other bits are free to choose, so a port in any
//! range is found in a handful of steps (exactly the low bits when the worker count is a power
//! of two).
//!
//! The trade-off: whoever controls the ports of an address pair controls which worker that
//! pair's connections land on, without knowing the secret (the secret still hides the
//! per-pair offset, so connections of *different* address pairs cannot be aimed together).
//! A keyed hash over the ports too would deny that, but then no NAT port could be chosen to
//! come back, and the runtime would need a second lookup or a hand-off between workers for
//! every NATed reply. One address pair's connections on one worker is what IP fragments
//! already do ([`SteeringKey::addr_pair_hash`], the hash the runtime uses for fragments, which
//! carry no ports after the first), so the linear port term exposes no new imbalance.
//!
//! ICMP echo uses the identifier as both ports (so it cancels out: echo flows of a pair share
//! a worker); ICMP errors should be steered by the tuple they quote (reversed, which the
//! symmetry makes the same), and other protocols by addresses and protocol alone.

use std::net::IpAddr;

use crate::hash::{Keys, fold_mul};
use crate::key::{PacketTuple, addr_from_words};

/// The per-process secret of the steering hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SteeringKey {
    keys: Keys,
}

fn words(a: IpAddr) -> (u64, u64) {
    let b = match a {
        IpAddr::V4(v4) => {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&v4.octets());
            b[15] = 4;
            b
        }
        IpAddr::V6(v6) => v6.octets(),
    };
    let mut x = [0u8; 8];
    let mut y = [0u8; 8];
    x.copy_from_slice(&b[..8]);
    y.copy_from_slice(&b[8..]);
    (u64::from_le_bytes(x), u64::from_le_bytes(y))
}

impl SteeringKey {
    /// A secret from the operating system's randomness (through std's `RandomState`). Draw it
    /// once per process and give every worker and the dispatcher the same one.
    pub fn random() -> SteeringKey {
        SteeringKey {
            keys: Keys::random(),
        }
    }

    /// A fixed key, for tests and reproducible benchmarks.
    pub fn from_seed(seed: u64) -> SteeringKey {
        SteeringKey {
            keys: Keys::from_seed(seed),
        }
    }

    /// The keyed, symmetric hash of an address pair, protocol and VLAN (no ports). The hash
    /// the runtime uses for IP fragments.
    pub fn addr_pair_hash(&self, vlan: u16, a: IpAddr, b: IpAddr, proto: u8) -> u32 {
        let (a, b) = (words(a), words(b));
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let w4 = u64::from(proto) | (u64::from(vlan) << 16);
        let h = self.keys.hash5(&[lo.0, lo.1, hi.0, hi.1, w4]);
        (h ^ (h >> 32)) as u32
    }

    /// The hash of a connection: [`SteeringKey::addr_pair_hash`] XOR `sport ^ dport`.
    pub fn conn_hash(
        &self,
        vlan: u16,
        src: IpAddr,
        sport: u16,
        dst: IpAddr,
        dport: u16,
        proto: u8,
    ) -> u32 {
        self.addr_pair_hash(vlan, src, dst, proto) ^ u32::from(sport ^ dport)
    }

    /// [`SteeringKey::conn_hash`] of a packet's tuple (from [`crate::classify`]): for an ICMP
    /// error, pass the tuple it quotes; its reverse hashes the same.
    pub fn tuple_hash(&self, vlan: u16, t: &PacketTuple) -> u32 {
        let src = addr_from_words(t.src.0, t.src.1, t.v6);
        let dst = addr_from_words(t.dst.0, t.dst.1, t.v6);
        self.conn_hash(vlan, src, t.sport, dst, t.dport, t.proto)
    }

    /// The keyed, symmetric hash of a MAC pair and ethertype, for frames that are not IP.
    pub fn mac_pair_hash(&self, vlan: u16, a: [u8; 6], b: [u8; 6], ethertype: u16) -> u32 {
        let w = |m: [u8; 6]| u64::from_le_bytes([m[0], m[1], m[2], m[3], m[4], m[5], 0, 0]);
        let (lo, hi) = (w(a).min(w(b)), w(a).max(w(b)));
        let w4 = u64::from(ethertype) | (u64::from(vlan) << 16) | (1 << 40);
        let h = self.keys.hash5(&[lo, 0, hi, 0, w4]);
        (h ^ (h >> 32)) as u32
    }

    /// Slots the hash space is cut into for `workers` workers: worker 0 owns one, every
    /// other worker [`OTHER_WORKER_SLOTS`]. Worker 0 runs on the dispatcher's thread, which
    /// also reads, learns and steers every packet, so it takes a smaller share of the
    /// connections and the threads end up about equally busy.
    pub fn slots(workers: u32) -> u32 {
        match workers {
            0 | 1 => 1,
            n => 1 + OTHER_WORKER_SLOTS * (n - 1),
        }
    }

    /// The worker that owns `slot` (below [`SteeringKey::slots`]).
    fn slot_worker(slot: u32) -> u32 {
        if slot == 0 {
            0
        } else {
            (slot - 1) / OTHER_WORKER_SLOTS + 1
        }
    }

    /// The slots `worker` owns.
    fn worker_slots(worker: u32, workers: u32) -> std::ops::Range<u32> {
        match (worker, workers) {
            (_, 0 | 1) | (0, _) => 0..1,
            (w, _) => 1 + OTHER_WORKER_SLOTS * (w - 1)..1 + OTHER_WORKER_SLOTS * w,
        }
    }

    /// The worker of a hash among `workers` (at least 1).
    #[inline]
    pub fn worker(hash: u32, workers: u32) -> u32 {
        if workers <= 1 {
            return 0;
        }
        Self::slot_worker(hash % Self::slots(workers))
    }

    /// A source port `p` in `range` for a translated connection, such that the reply tuple
    /// (`server:server_port` to `nat_addr:p`, under `vlan`) hashes to `worker` of `workers`,
    /// and that `free(p)` accepts; `None` when no port of the range qualifies.
    #[allow(clippy::too_many_arguments)]
    pub fn nat_port(
        &self,
        vlan: u16,
        nat_addr: IpAddr,
        server: IpAddr,
        server_port: u16,
        proto: u8,
        worker: u32,
        workers: u32,
        range: std::ops::RangeInclusive<u16>,
        mut free: impl FnMut(u16) -> bool,
    ) -> Option<u16> {
        let workers = workers.max(1);
        let worker = worker % workers;
        let n = u64::from(Self::slots(workers));
        let h = self.addr_pair_hash(vlan, nat_addr, server, proto);
        // The hash is (h & !0xffff) | ((h & 0xffff) ^ x) with x = port ^ server_port; we need
        // (H + u) % n to be a slot of `worker`, for u = (h & 0xffff) ^ x, u < 65536: for slot
        // s, u = u0(s) + k * n.
        let high = u64::from(h & 0xffff_0000);
        let owned = Self::worker_slots(worker, workers);
        let first = |s: u32| (u64::from(s) + n - high % n) % n;
        let count = |s: u32| (65_536 - first(s)).div_ceil(n);
        let most = owned.clone().map(count).max().unwrap_or(0);
        // Start at a point that depends on the secret, so translated ports are not predictable.
        let start = fold_mul(u64::from(h) ^ 0x9e37_79b9, self.keys.0[6] | 1);
        for step in 0..most {
            for s in owned.clone() {
                let k = (start.wrapping_add(step)) % most;
                let u = first(s) + k * n;
                if u >= 65_536 {
                    continue;
                }
                let port = (u as u16) ^ (h as u16) ^ server_port;
                if range.contains(&port) && free(port) {
                    return Some(port);
                }
            }
        }
        None
    }
}

/// Slots of the hash space each worker but the first owns (the first owns one).
pub const OTHER_WORKER_SLOTS: u32 = 3;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn symmetric_and_keyed() {
        let k = SteeringKey::from_seed(1);
        let (a, b) = (ip("10.0.0.1"), ip("10.0.0.2"));
        assert_eq!(
            k.conn_hash(5, a, 1000, b, 80, 6),
            k.conn_hash(5, b, 80, a, 1000, 6)
        );
        assert_ne!(
            k.conn_hash(5, a, 1000, b, 80, 6),
            k.conn_hash(6, a, 1000, b, 80, 6)
        );
        let other = SteeringKey::from_seed(2);
        assert_ne!(
            k.addr_pair_hash(0, a, b, 6),
            other.addr_pair_hash(0, a, b, 6)
        );
        // IPv4 and its v4-mapped IPv6 form are different endpoints.
        assert_ne!(
            k.addr_pair_hash(0, a, b, 6),
            k.addr_pair_hash(0, ip("::ffff:10.0.0.1"), ip("::ffff:10.0.0.2"), 6)
        );
        let r = SteeringKey::random();
        assert_eq!(r.addr_pair_hash(0, a, b, 17), r.addr_pair_hash(0, b, a, 17));
    }

    #[test]
    fn tuple_hash_is_conn_hash_and_symmetric() {
        let k = SteeringKey::from_seed(9);
        let mut f = vec![0u8; 54];
        f[12] = 0x08;
        f[14] = 0x45;
        f[17] = 40;
        f[22] = 64;
        f[23] = 6;
        f[26..30].copy_from_slice(&[10, 0, 0, 1]);
        f[30..34].copy_from_slice(&[10, 0, 0, 2]);
        f[34..36].copy_from_slice(&40000u16.to_be_bytes());
        f[36..38].copy_from_slice(&80u16.to_be_bytes());
        f[46] = 0x50;
        let p = wire::parse_packet(&f);
        let crate::Class::Conn { tuple, .. } = crate::classify(&f, &p) else {
            panic!("not a connection")
        };
        assert_eq!(
            k.tuple_hash(3, &tuple),
            k.conn_hash(3, ip("10.0.0.2"), 80, ip("10.0.0.1"), 40000, 6)
        );
        let (a, b) = ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
        assert_eq!(
            k.mac_pair_hash(1, a, b, 0x0806),
            k.mac_pair_hash(1, b, a, 0x0806)
        );
        assert_ne!(
            k.mac_pair_hash(1, a, b, 0x0806),
            k.mac_pair_hash(2, a, b, 0x0806)
        );
    }

    #[test]
    fn spreads_connections_over_workers() {
        let k = SteeringKey::from_seed(3);
        let mut per = [0u32; 4];
        for i in 0..4000u32 {
            let src = IpAddr::from([10, 0, (i >> 8) as u8, i as u8]);
            let h = k.conn_hash(0, src, 30000 + (i % 1000) as u16, ip("10.9.9.9"), 443, 6);
            per[SteeringKey::worker(h, 4) as usize] += 1;
        }
        // Worker 0 (the dispatcher's thread) owns 1 slot of 10, the others 3 each.
        assert!((300..500).contains(&per[0]), "{per:?}");
        assert!(
            per[1..].iter().all(|&c| (1050..1350).contains(&c)),
            "{per:?}"
        );
    }

    proptest! {
        #[test]
        fn nat_ports_bring_the_reply_home(
            seed in any::<u64>(), workers in 1u32..13, worker in 0u32..13,
            nat in any::<[u8; 4]>(), server in any::<[u8; 4]>(), server_port in any::<u16>(),
            lo in 1024u16..60000, vlan in 0u16..4096,
        ) {
            let k = SteeringKey::from_seed(seed);
            let (nat, server) = (IpAddr::from(nat), IpAddr::from(server));
            let range = lo..=lo.saturating_add(2000);
            let mut tried = 0;
            let port = k.nat_port(vlan, nat, server, server_port, 6, worker, workers, range.clone(), |_| { tried += 1; true });
            let port = port.expect("a range of 2000 ports holds one for each worker");
            prop_assert!(range.contains(&port));
            prop_assert_eq!(tried, 1);
            let reply = k.conn_hash(vlan, server, server_port, nat, port, 6);
            prop_assert_eq!(SteeringKey::worker(reply, workers), worker % workers);
        }
    }
}
