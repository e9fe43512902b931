//! The connection stage, between receive and ingress inspection: IP fragments are reassembled,
//! then each packet is placed in the worker's connection table, which gives it a connection
//! handle, a direction and a state for the engines. A packet of a connection an engine said to
//! drop whole is dropped here, before any engine sees it.
//!
//! Connections that end (found timed out, evicted for room, replaced by a new TCP connection
//! on the same tuple, at ticks, at the end of input) are handed to both engine chains
//! ([`Chain::conn_end`]) and reported to the observer as flow records before their slot can
//! serve another connection.
//!
//! A packet's connection is found from its flow key and a few bytes of its TCP or ICMP header
//! ([`conn::ConnTable::track_key`]): a plain TCP, UDP or ICMP echo packet is never parsed here.
//! The parse is made only for what the key cannot say (ICMP errors, IPv6 extension headers,
//! IPv4 options, fragments).
//!
//! Nothing here allocates per packet: the table and its slots are sized at start; the
//! reassembly buffer is the worker's; a reassembled datagram is loaded into its packet's
//! buffer in place of the fragment that completed it.

use conn::{ConnRecord, DefragDrop, DefragOutcome, NeedsParse};
use engine::{ConnInfo, Reason};

use super::observer::{FlowNotice, notify_drop};
use super::{Batch, Observer, Worker};
use crate::MAX_BATCH;
use crate::counters::DropReason;

/// From how many live connections the stage looks a batch's connections up ahead and
/// prefetches their entries: about 1.5 MB of entries, the size of this machine's L2 cache.
/// Below it, the table's lines are in the caches anyway.
const CONN_PREFETCH_FROM: usize = 8192;

/// What the datapath keeps per connection.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct ConnFlags {
    /// An engine said to drop the rest of the connection, with this reason.
    pub(super) blocked: Option<(engine::Stage, Reason)>,
    /// Bit `k`: ingress engine `k` asked not to see the connection again.
    pub(super) ingress_bypass: u32,
    /// Bit `k`: egress engine `k` asked not to see the connection again.
    pub(super) egress_bypass: u32,
    /// How the connection's packets are rewritten (an engine's address translation).
    pub(super) translation: Option<engine::Translation>,
}

impl Worker {
    /// Reassembles fragments and tracks the connection of every packet of `batch` still
    /// alive; returns how many died here (dropped, or held for reassembly).
    ///
    /// With many connections, in three passes, so that the batch's cache misses in the
    /// connection table overlap: each IP packet's connection key and hash (the table
    /// prefetches its index slot), then the entries those slots name, then the packets in
    /// order. A lookup depends only on its packet, so one made before the packets ahead of it
    /// were tracked is still right. Fragments are looked up in the last pass, after
    /// reassembly. With few connections the table is in the caches, and each packet is looked
    /// up and tracked at once (the passes would only add work).
    // A function of its own: inlined into `process` its loop competed with the rest of the
    // pipeline for registers and spilled.
    #[inline(never)]
    pub(super) fn connection_stage(&mut self, batch: &mut Batch, obs: &mut dyn Observer) -> usize {
        let n = batch.len.min(MAX_BATCH);
        let batched = self.conns.len() >= CONN_PREFETCH_FROM;
        let mut todo = if n == MAX_BATCH {
            u32::MAX
        } else {
            (1u32 << n) - 1
        };
        if batched {
            let mut ip = 0u32;
            for i in 0..n {
                let Some(vlan) = self.conn_vlan(batch, i) else {
                    continue;
                };
                self.conn_vlans[i] = vlan;
                ip |= 1 << i;
                let key = &self.keys[i];
                if key.nw_frag() == flow::NwFrag::None {
                    let l = self.conns.lookup_key(batch.bufs[i].frame(), key, vlan);
                    if let Ok(l) = &l {
                        self.conns.prefetch_index(l);
                    }
                    self.conn_lookups[i] = l;
                }
            }
            let mut m = ip;
            while m != 0 {
                let i = m.trailing_zeros() as usize;
                m &= m - 1;
                if let Some(Ok(l)) = self.conn_lookups.get(i) {
                    self.conns.prefetch_entry(l);
                }
            }
            todo = ip;
        }
        let mut gone = 0;
        while todo != 0 {
            let i = todo.trailing_zeros() as usize;
            todo &= todo - 1;
            let vlan = if batched {
                self.conn_vlans[i]
            } else {
                match self.conn_vlan(batch, i) {
                    Some(v) => v,
                    None => continue,
                }
            };
            let now = batch.times[i];
            let whole = self.keys[i].nw_frag() == flow::NwFrag::None;
            if !whole {
                match self.reassemble(batch, i, vlan, now) {
                    Reassembly::Whole => {}
                    Reassembly::Held => {
                        self.alive[i] = false;
                        self.counters.fragments_held += 1;
                        gone += 1;
                        continue;
                    }
                    Reassembly::Dropped(reason) => {
                        self.alive[i] = false;
                        self.counters.drop(reason);
                        notify_drop(obs, batch, i, reason.name(), None);
                        gone += 1;
                        continue;
                    }
                }
            }
            let b = &batch.bufs[i];
            // From the flow key and a few bytes; the parse only for what that cannot read.
            let (conns, ended) = (&mut self.conns, &mut self.ended);
            let mut end = |r| ended.push(r);
            let tracked = if batched && whole {
                match &self.conn_lookups[i] {
                    Ok(l) => Ok(conns.track_lookup(l, now, &mut end)),
                    Err(NeedsParse) => Err(NeedsParse),
                }
            } else {
                conns.track_key(b.frame(), &self.keys[i], vlan, now, &mut end)
            }
            .unwrap_or_else(|NeedsParse| conns.track(b.frame(), b.parsed(), vlan, now, &mut end));
            let Some(t) = tracked else {
                continue;
            };
            let info = ConnInfo {
                handle: t.handle,
                direction: t.direction,
                state: t.state,
                packet_number: t.packet_number,
                flow_id: t.flow_id,
            };
            self.conn_info[i] = Some(info);
            if !self.ended.is_empty() {
                self.end_connections(batch.positions[i], obs);
            }
            if let Some((stage, reason)) = self.conn_flags.get(t.handle).and_then(|f| f.blocked) {
                self.alive[i] = false;
                self.counters.verdict_drop(stage, reason);
                let name = format!("{}:{}:{}", stage.name(), reason.engine, reason.code);
                notify_drop(obs, batch, i, &name, Some(info));
                gone += 1;
            }
        }
        gone
    }

    /// The VLAN the connection of packet `i` is tracked under, or `None` when it gets no
    /// connection (dropped already, not IP); clears its connection either way.
    #[inline(always)]
    fn conn_vlan(&mut self, batch: &Batch, i: usize) -> Option<u16> {
        self.conn_info[i] = None;
        if !self.alive[i] {
            return None;
        }
        let key = &self.keys[i];
        let dl_type = key.dl_type();
        if dl_type != 0x0800 && dl_type != 0x86dd {
            return None;
        }
        let in_port = batch.bufs[i].in_port;
        Some(
            self.slow
                .ports()
                .get(in_port)
                .and_then(|p| p.vlan.admit(key.vlan().map(|tci| tci & 0x0fff)))
                .unwrap_or(0),
        )
    }

    /// Hands the connections in `self.ended` to the engines and the observer, at the point
    /// before the packet at `position`.
    pub(super) fn end_connections(&mut self, position: u64, obs: &mut dyn Observer) {
        let mut ended = std::mem::take(&mut self.ended);
        for rec in ended.drain(..) {
            self.end_connection(&rec, position, obs);
        }
        self.ended = ended;
    }

    fn end_connection(&mut self, rec: &ConnRecord, position: u64, obs: &mut dyn Observer) {
        self.conn_alerts.clear();
        self.ingress.conn_end(rec, &mut self.conn_alerts);
        self.egress.conn_end(rec, &mut self.conn_alerts);
        self.conn_flags.take(rec.handle);
        let alerted = rec.alerted || !self.conn_alerts.records().is_empty();
        let rec = ConnRecord { alerted, ..*rec };
        obs.on_flow(&FlowNotice {
            position,
            record: &rec,
            alerts: &self.conn_alerts,
        });
        self.counters.connections_ended += 1;
    }

    /// Expires idle connections and stale fragments at `now`, before the packet at `position`.
    pub(super) fn expire_connections(&mut self, now: u64, position: u64, obs: &mut dyn Observer) {
        let ended = &mut self.ended;
        self.conns.expire(now, |r| ended.push(r));
        self.end_connections(position, obs);
        let before = self.defrag.counters().timed_out;
        self.defrag.expire(now);
        self.counters.defrag_datagrams_timed_out += self.defrag.counters().timed_out - before;
    }

    /// Ends every connection (the end of input), after telling the engines.
    pub(super) fn drain_connections(&mut self, obs: &mut dyn Observer) {
        self.ingress.end_of_input();
        self.egress.end_of_input();
        let ended = &mut self.ended;
        self.conns.drain(|r| ended.push(r));
        self.end_connections(u64::MAX, obs);
    }

    /// Pushes the fragment in slot `i` to reassembly; a completed datagram replaces it.
    fn reassemble(&mut self, batch: &mut Batch, i: usize, vlan: u16, now: u64) -> Reassembly {
        let b = &batch.bufs[i];
        match self
            .defrag
            .push(b.frame(), b.parsed(), vlan, now, &mut self.reassembly)
        {
            DefragOutcome::NotFragment => Reassembly::Whole,
            DefragOutcome::Held => Reassembly::Held,
            DefragOutcome::Complete { len } => {
                let b = &mut batch.bufs[i];
                if b.load(&self.reassembly[..len]).is_err() {
                    return Reassembly::Dropped(DropReason::DefragLimit);
                }
                let p = b.parsed();
                self.keys[i] = flow::FlowKey::extract(b.in_port, b.frame(), p);
                self.tcp_flags[i] = p.tcp_flags;
                self.lens[i] = b.len() as u32;
                self.counters.datagrams_reassembled += 1;
                Reassembly::Whole
            }
            DefragOutcome::Dropped(why) => Reassembly::Dropped(match why {
                DefragDrop::Malformed => DropReason::DefragInvalid,
                DefragDrop::TooLarge
                | DefragDrop::TooManyFragments
                | DefragDrop::Memcap
                | DefragDrop::BufferTooSmall => DropReason::DefragLimit,
            }),
        }
    }
}

enum Reassembly {
    /// Not a fragment, or the datagram it completed now fills the slot.
    Whole,
    Held,
    Dropped(DropReason),
}

#[cfg(test)]
mod tests {
    use etherparse::{PacketBuilder, PacketBuilderStep, TcpHeader};

    use super::super::{Batch, NoObserver, Worker};
    use crate::config::Config;
    use crate::learn::Learner;
    use crate::memory::MemorySink;
    use crate::port::{Port, PortKind, VlanMode};
    use crate::slowpath::SlowPath;

    const A: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const B: [u8; 6] = [2, 0, 0, 0, 0, 2];
    const IP_A: [u8; 4] = [10, 0, 0, 1];
    const IP_B: [u8; 4] = [10, 0, 0, 2];
    const IP6_A: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const IP6_B: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

    fn ipv4(from_a: bool) -> PacketBuilderStep<etherparse::IpHeaders> {
        let (s, d, si, di) = if from_a {
            (A, B, IP_A, IP_B)
        } else {
            (B, A, IP_B, IP_A)
        };
        PacketBuilder::ethernet2(s, d).ipv4(si, di, 64)
    }

    fn ipv6(from_a: bool) -> PacketBuilderStep<etherparse::IpHeaders> {
        let (s, d, si, di) = if from_a {
            (A, B, IP6_A, IP6_B)
        } else {
            (B, A, IP6_B, IP6_A)
        };
        PacketBuilder::ethernet2(s, d).ipv6(si, di, 64)
    }

    fn ip(v6: bool, from_a: bool) -> PacketBuilderStep<etherparse::IpHeaders> {
        if v6 { ipv6(from_a) } else { ipv4(from_a) }
    }

    /// A TCP segment between A's port 40000 and B's port 80.
    fn tcp(v6: bool, from_a: bool, flags: u8, seq: u32, ack: u32) -> Vec<u8> {
        let (sp, dp) = if from_a { (40000, 80) } else { (80, 40000) };
        let mut h = TcpHeader::new(sp, dp, seq, 1000);
        h.syn = flags & 2 != 0;
        h.ack = flags & 0x10 != 0;
        h.acknowledgment_number = ack;
        let mut v = Vec::new();
        ip(v6, from_a).tcp_header(h).write(&mut v, &[]).unwrap();
        v
    }

    fn udp(ip: PacketBuilderStep<etherparse::IpHeaders>) -> Vec<u8> {
        let mut v = Vec::new();
        ip.udp(5000, 53).write(&mut v, b"query").unwrap();
        v
    }

    /// A worker of one bridge with VMs A (port 0) and B (port 1), both learnt.
    fn worker() -> Worker {
        let mut cfg = Config::default();
        for n in 0..2 {
            cfg.ports.push(Port {
                name: format!("vm{n}"),
                kind: PortKind::Vm,
                bridge: 0,
                vlan: VlanMode::Untagged,
                macs: Vec::new(),
                ips: Vec::new(),
                interface: None,
            });
        }
        let mut w = Worker::new(
            0,
            &cfg.limits,
            SlowPath::new(&cfg),
            Default::default(),
            Default::default(),
        );
        let mut learner = Learner::new(&cfg);
        let mut changes = Vec::new();
        let mut batch = Batch::new();
        for (port, mac) in [(0u16, A), (1, B)] {
            let mut f = vec![0xff; 6];
            f.extend_from_slice(&mac);
            f.extend_from_slice(&[0x08, 0x06]);
            f.resize(60, 0);
            learner.observe(port, &f, 0, &mut changes);
            assert!(batch.push(&f, port, 0, 0, Default::default()));
        }
        for c in &changes {
            w.apply(c);
        }
        w.process(&mut batch, &mut MemorySink::new(false), &mut NoObserver);
        w
    }

    #[test]
    fn plain_packets_are_tracked_without_a_parse() {
        let mut w = worker();
        // A TCP handshake and data each way over IPv4 and IPv6, UDP both ways, an echo and its
        // reply; last, a port unreachable quoting the UDP, which only the parse can read.
        let mut frames = Vec::new();
        for v6 in [false, true] {
            frames.push((0, tcp(v6, true, 0x02, 100, 0)));
            frames.push((1, tcp(v6, false, 0x12, 500, 101)));
            frames.push((0, tcp(v6, true, 0x10, 101, 501)));
            frames.push((1, tcp(v6, false, 0x10, 501, 101)));
            frames.push((0, udp(ip(v6, true))));
        }
        let mut echo = Vec::new();
        ipv4(true)
            .icmpv4_echo_request(7, 1)
            .write(&mut echo, b"ping")
            .unwrap();
        frames.push((0, echo));
        let mut error = Vec::new();
        let quoted = &udp(ipv4(true))[14..];
        ipv4(false)
            .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(
                etherparse::icmpv4::DestUnreachableHeader::Port,
            ))
            .write(&mut error, quoted)
            .unwrap();
        frames.push((1, error));
        let n = frames.len();
        let mut sink = MemorySink::new(false);
        let mut batch = Batch::new();
        // Twice: first the upcalls install the flows (the slow path may parse), then every
        // packet is a flow hit, and only the ICMP error needs its parse.
        for pass in 0..2u64 {
            for (i, (port, f)) in frames.iter().enumerate() {
                let t = 1_000_000_000 * (pass + 1) + i as u64;
                assert!(batch.push(f, *port, t, i as u64, Default::default()));
            }
            let tracked_before = w.connections().counters().packets;
            let misses_before = w.counters().misses;
            w.process(&mut batch, &mut sink, &mut NoObserver);
            assert_eq!(
                w.connections().counters().packets - tracked_before,
                n as u64
            );
            if pass == 1 {
                let parsed: Vec<usize> = (0..n).filter(|&i| batch.bufs[i].is_parsed()).collect();
                assert_eq!(parsed, [n - 1], "only the ICMP error was parsed");
                assert_eq!(
                    w.counters().misses,
                    misses_before,
                    "every packet a flow hit"
                );
            }
            batch.clear();
        }
        let c = w.connections().counters();
        assert_eq!((c.created, c.related, c.invalid), (5, 2, 0), "{c:?}");
        assert_eq!(sink.transmitted_total(), 2 * n as u64);
    }
}
