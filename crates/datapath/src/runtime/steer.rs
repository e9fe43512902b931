//! Which worker a packet goes to: both directions of a connection, its ICMP errors and every
//! fragment of its datagrams must meet on the worker that owns the connection's entry.
//!
//! The hash is [`conn::SteeringKey`]'s (keyed with a secret drawn once per process), over the
//! bridge-internal VLAN and the connection tuple; an ICMP error goes by the tuple it quotes,
//! frames that are not IP by their MAC pair. Plain IPv4 TCP and UDP, most of the traffic, are
//! read straight from the bytes; the rest is parsed.
//!
//! Fragments carry no ports after the first, so the steering remembers, per datagram (source,
//! destination, protocol, identification), where its first fragment went, and sends the others
//! after it. A fragment that arrives before its first is held here until the first comes, then
//! released right after it, at the first fragment's position in the arrival order; held
//! fragments whose first never comes are dropped after the reassembly timeout (`defrag-timeout`)
//! and past a memory cap (`defrag-limit`). The answer depends only on the packets that came
//! before, never on the number of workers, so output stays the same for any worker count.
//!
//! Allocation: none per packet on the common path; held fragments are copied.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use conn::{Class, SteeringKey};
use flow::FlowKey;
use wire::{Fragment, L3, L4, parse_packet};

use crate::port::PortId;

/// How long the steering remembers a datagram, and holds its early fragments (Suricata's
/// default defragmentation timeout).
pub const FRAGMENT_TIMEOUT_NS: u64 = 60_000_000_000;
/// Most bytes of early fragments held at once.
pub const HELD_BYTES_MAX: usize = 16 << 20;
/// Most datagrams remembered at once.
pub const DATAGRAMS_MAX: usize = 65_536;

/// A datagram's identity, as its fragments carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct DatagramId {
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    id: u32,
    vlan: u16,
}

/// A fragment held until its datagram's first fragment arrives.
#[derive(Debug, Clone)]
pub struct Held {
    pub frame: Vec<u8>,
    pub port: PortId,
    pub time_ns: u64,
    pub number: u64,
}

/// What to do with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Steer {
    /// Send it to this worker.
    To(usize),
    /// Keep it: a fragment whose first fragment has not been seen (the steering holds a copy).
    Held,
    /// Drop it: a fragment the steering cannot hold (its memory cap is reached).
    Dropped,
}

/// Counters of the steering.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SteerCounters {
    /// Fragments held until their first fragment came.
    pub fragments_held: u64,
    /// Held fragments released with their first fragment.
    pub fragments_released: u64,
    /// Held fragments dropped when their datagram timed out.
    pub fragments_timed_out: u64,
    /// Fragments dropped because the held memory was full.
    pub fragments_over_limit: u64,
}

/// The steering of one runtime.
#[derive(Debug)]
pub struct Steering {
    key: SteeringKey,
    workers: usize,
    /// Datagrams whose first fragment was seen: their hash and when they are forgotten.
    datagrams: HashMap<DatagramId, (u32, u64)>,
    /// Expiry order of `datagrams`.
    datagram_order: VecDeque<(DatagramId, u64)>,
    held: HashMap<DatagramId, Vec<Held>>,
    held_order: VecDeque<(DatagramId, u64)>,
    held_bytes: usize,
    counters: SteerCounters,
}

impl Steering {
    /// Steering over `workers` workers with the secret `key`.
    pub fn new(key: SteeringKey, workers: usize) -> Steering {
        Steering {
            key,
            workers: workers.max(1),
            datagrams: HashMap::new(),
            datagram_order: VecDeque::new(),
            held: HashMap::new(),
            held_order: VecDeque::new(),
            held_bytes: 0,
            counters: SteerCounters::default(),
        }
    }

    /// Counters so far.
    pub fn counters(&self) -> SteerCounters {
        self.counters
    }

    /// The worker of a hash.
    #[inline]
    fn worker(&self, hash: u32) -> usize {
        SteeringKey::worker(hash, self.workers as u32) as usize
    }

    /// Steers the Ethernet `frame` that entered a port whose internal VLAN for it is `vlan`.
    /// A first fragment also releases the fragments of its datagram held so far into
    /// `released` (to send right after it, to the same worker).
    pub fn steer(
        &mut self,
        frame: &[u8],
        vlan: u16,
        port: PortId,
        time_ns: u64,
        number: u64,
        released: &mut Vec<Held>,
    ) -> Steer {
        if self.workers == 1 {
            return Steer::To(0);
        }
        // The common case straight from the bytes.
        // (Untagged IPv4 without options, TCP or UDP, not a fragment: the addresses and ports
        // are at fixed offsets.)
        if let Some((key, _)) = FlowKey::from_plain_ipv4_frame(0, frame)
            && let Some(b) = frame.get(26..38)
        {
            let h = self.key.conn_hash(
                vlan,
                IpAddr::from([b[0], b[1], b[2], b[3]]),
                u16::from_be_bytes([b[8], b[9]]),
                IpAddr::from([b[4], b[5], b[6], b[7]]),
                u16::from_be_bytes([b[10], b[11]]),
                key.nw_proto(),
            );
            return Steer::To(self.worker(h));
        }
        let p = parse_packet(frame);
        if p.fragment == Fragment::No {
            let h = match conn::classify(frame, &p) {
                Class::Conn { tuple, .. } => self.key.tuple_hash(vlan, &tuple),
                Class::IcmpError { quoted, .. } => self.key.tuple_hash(vlan, &quoted),
                Class::Untracked(_) => self.other_hash(frame, &p, vlan),
            };
            return Steer::To(self.worker(h));
        }
        let Some(id) = datagram_id(frame, &p, vlan) else {
            let h = self.other_hash(frame, &p, vlan);
            return Steer::To(self.worker(h));
        };
        if p.fragment == Fragment::First {
            let h = match first_fragment_tuple(frame, &p) {
                Some((sport, dport)) => self
                    .key
                    .conn_hash(vlan, id.src, sport, id.dst, dport, id.proto),
                None => self.key.addr_pair_hash(vlan, id.src, id.dst, id.proto),
            };
            self.remember(id, h, time_ns);
            if let Some(held) = self.held.remove(&id) {
                for h in held {
                    self.held_bytes -= h.frame.len();
                    self.counters.fragments_released += 1;
                    released.push(h);
                }
            }
            return Steer::To(self.worker(h));
        }
        if let Some(&(h, _)) = self.datagrams.get(&id) {
            return Steer::To(self.worker(h));
        }
        if self.held_bytes + frame.len() > HELD_BYTES_MAX {
            self.counters.fragments_over_limit += 1;
            return Steer::Dropped;
        }
        self.held_bytes += frame.len();
        self.counters.fragments_held += 1;
        let list = self.held.entry(id).or_default();
        if list.is_empty() {
            self.held_order
                .push_back((id, time_ns.saturating_add(FRAGMENT_TIMEOUT_NS)));
        }
        list.push(Held {
            frame: frame.to_vec(),
            port,
            time_ns,
            number,
        });
        Steer::Held
    }

    fn remember(&mut self, id: DatagramId, hash: u32, now: u64) {
        let expires = now.saturating_add(FRAGMENT_TIMEOUT_NS);
        if self.datagrams.insert(id, (hash, expires)).is_none() {
            self.datagram_order.push_back((id, expires));
        }
        while self.datagrams.len() > DATAGRAMS_MAX {
            match self.datagram_order.pop_front() {
                Some((old, _)) => {
                    self.datagrams.remove(&old);
                }
                None => break,
            }
        }
    }

    /// Forgets datagrams and drops held fragments past their timeout at `now`; the dropped
    /// fragments go to `dropped` (in a fixed order).
    pub fn expire(&mut self, now: u64, dropped: &mut Vec<Held>) {
        while let Some(&(id, t)) = self.datagram_order.front() {
            if t > now {
                break;
            }
            self.datagram_order.pop_front();
            if self.datagrams.get(&id).is_some_and(|&(_, e)| e <= now) {
                self.datagrams.remove(&id);
            }
        }
        while let Some(&(id, t)) = self.held_order.front() {
            if t > now {
                break;
            }
            self.held_order.pop_front();
            if let Some(list) = self.held.remove(&id) {
                for h in list {
                    self.held_bytes -= h.frame.len();
                    self.counters.fragments_timed_out += 1;
                    dropped.push(h);
                }
            }
        }
    }

    /// Every fragment still held (end of input), in arrival order.
    pub fn drain(&mut self, dropped: &mut Vec<Held>) {
        let mut all: Vec<Held> = self.held.drain().flat_map(|(_, v)| v).collect();
        all.sort_by_key(|h| h.number);
        self.counters.fragments_timed_out += all.len() as u64;
        self.held_bytes = 0;
        self.held_order.clear();
        dropped.extend(all);
    }

    fn other_hash(&self, frame: &[u8], p: &wire::ParsedPacket, vlan: u16) -> u32 {
        match (p.l3, addresses(frame, p)) {
            (L3::Ipv4 | L3::Ipv6, Some((a, b))) => self.key.addr_pair_hash(vlan, a, b, p.ip_proto),
            _ => {
                let mac = |at: usize| {
                    let mut m = [0u8; 6];
                    if let Some(s) = frame.get(at..at + 6) {
                        m.copy_from_slice(s);
                    }
                    m
                };
                self.key.mac_pair_hash(vlan, mac(0), mac(6), p.ethertype)
            }
        }
    }
}

fn addresses(frame: &[u8], p: &wire::ParsedPacket) -> Option<(IpAddr, IpAddr)> {
    match p.l3 {
        L3::Ipv4 => p
            .ipv4_addrs(frame)
            .map(|(s, d)| (IpAddr::from(s), IpAddr::from(d))),
        L3::Ipv6 => p
            .ipv6_addrs(frame)
            .map(|(s, d)| (IpAddr::from(s), IpAddr::from(d))),
        _ => None,
    }
}

/// The identity of the datagram a fragment belongs to.
fn datagram_id(frame: &[u8], p: &wire::ParsedPacket, vlan: u16) -> Option<DatagramId> {
    let (src, dst) = addresses(frame, p)?;
    let l3 = usize::from(p.l3_offset);
    let id = match p.l3 {
        L3::Ipv4 => u32::from(u16::from_be_bytes([
            *frame.get(l3 + 4)?,
            *frame.get(l3 + 5)?,
        ])),
        L3::Ipv6 => ipv6_fragment_id(frame, l3)?,
        _ => return None,
    };
    Some(DatagramId {
        src,
        dst,
        proto: p.ip_proto,
        id,
        vlan,
    })
}

/// The identification of an IPv6 fragment header (walking the extension headers before it).
fn ipv6_fragment_id(frame: &[u8], l3: usize) -> Option<u32> {
    let mut next = *frame.get(l3 + 6)?;
    let mut at = l3 + 40;
    for _ in 0..8 {
        match next {
            0 | 43 | 60 => {
                next = *frame.get(at)?;
                at += (usize::from(*frame.get(at + 1)?) + 1) * 8;
            }
            44 => {
                let b = frame.get(at + 4..at + 8)?;
                return Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
            }
            _ => return None,
        }
    }
    None
}

/// The ports of a first fragment's transport header (TCP, UDP, SCTP; an ICMP echo's id twice).
fn first_fragment_tuple(frame: &[u8], p: &wire::ParsedPacket) -> Option<(u16, u16)> {
    let l4 = usize::from(p.l4_offset);
    if l4 == 0 {
        return None;
    }
    let be16 = |at: usize| -> Option<u16> {
        Some(u16::from_be_bytes([*frame.get(at)?, *frame.get(at + 1)?]))
    };
    match p.l4 {
        L4::Tcp | L4::Udp => Some((be16(l4)?, be16(l4 + 2)?)),
        L4::Other if p.ip_proto == conn::IPPROTO_SCTP => Some((be16(l4)?, be16(l4 + 2)?)),
        L4::Icmpv4 | L4::Icmpv6 => {
            let ty = *frame.get(l4)?;
            let echo = matches!(ty, 0 | 8 | 128 | 129);
            echo.then(|| be16(l4 + 4).map(|id| (id, id))).flatten()
        }
        _ => None,
    }
}
