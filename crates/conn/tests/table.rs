//! The connection table through its public API, on packets built byte for byte: TCP life
//! cycles, tuple reuse, timeouts per state, UDP, ICMP echo and errors, the size limit and early
//! drop, handle generations, and `flow_id`.

use conn::{ConnConfig, ConnHandle, ConnRecord, ConnState, ConnTable, Direction, Tracked};
use etherparse::PacketBuilder;
use events::{FlowEndReason, FlowState, FlowTcpState};

const A: [u8; 4] = [10, 0, 0, 1];
const B: [u8; 4] = [10, 0, 0, 2];
const SEC: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000 * SEC;

const FIN: u8 = 1;
const SYN: u8 = 2;
const RST: u8 = 4;
const PSH: u8 = 8;
const ACK: u8 = 16;

#[allow(clippy::too_many_arguments)]
fn tcp(
    src: [u8; 4],
    sp: u16,
    dst: [u8; 4],
    dp: u16,
    flags: u8,
    seq: u32,
    ack: u32,
    data: &[u8],
) -> Vec<u8> {
    let mut b = PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv4(src, dst, 64)
        .tcp(sp, dp, seq, 1000);
    if flags & SYN != 0 {
        b = b.syn();
    }
    if flags & ACK != 0 {
        b = b.ack(ack);
    }
    if flags & FIN != 0 {
        b = b.fin();
    }
    if flags & RST != 0 {
        b = b.rst();
    }
    if flags & PSH != 0 {
        b = b.psh();
    }
    let mut v = Vec::new();
    b.write(&mut v, data).unwrap();
    v
}

fn udp(src: [u8; 4], sp: u16, dst: [u8; 4], dp: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv4(src, dst, 64)
        .udp(sp, dp)
        .write(&mut v, b"data")
        .unwrap();
    v
}

fn echo(src: [u8; 4], dst: [u8; 4], request: bool, id: u16) -> Vec<u8> {
    let mut v = Vec::new();
    let b = PacketBuilder::ethernet2([1; 6], [2; 6]).ipv4(src, dst, 64);
    let b = if request {
        b.icmpv4_echo_request(id, 1)
    } else {
        b.icmpv4_echo_reply(id, 1)
    };
    b.write(&mut v, b"ping").unwrap();
    v
}

fn unreachable(from: [u8; 4], to: [u8; 4], quoted_ip: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2([2; 6], [1; 6])
        .ipv4(from, to, 64)
        .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(
            etherparse::icmpv4::DestUnreachableHeader::Port,
        ))
        .write(&mut v, quoted_ip)
        .unwrap();
    v
}

struct Harness {
    table: ConnTable,
    ended: Vec<ConnRecord>,
}

impl Harness {
    fn new(max: u32) -> Self {
        Harness {
            table: ConnTable::new(ConnConfig {
                max_connections: max,
                seed: Some(7),
                ..ConnConfig::default()
            }),
            ended: Vec::new(),
        }
    }

    fn push(&mut self, frame: &[u8], at: u64) -> Option<Tracked> {
        let p = wire::parse_packet(frame);
        let ended = &mut self.ended;
        self.table.track(frame, &p, 0, at, &mut |r| ended.push(r))
    }

    fn expire(&mut self, at: u64) {
        let ended = &mut self.ended;
        self.table.expire(at, |r| ended.push(r));
    }

    fn drain(&mut self) {
        let ended = &mut self.ended;
        self.table.drain(|r| ended.push(r));
    }
}

#[test]
fn tcp_handshake_data_and_close_both_ways() {
    let mut h = Harness::new(16);
    let steps: [(Vec<u8>, Direction, ConnState); 8] = [
        (
            tcp(A, 40000, B, 80, SYN, 100, 0, b""),
            Direction::ToServer,
            ConnState::New,
        ),
        (
            tcp(B, 80, A, 40000, SYN | ACK, 500, 101, b""),
            Direction::ToClient,
            ConnState::New,
        ),
        (
            tcp(A, 40000, B, 80, ACK, 101, 501, b""),
            Direction::ToServer,
            ConnState::Established,
        ),
        (
            tcp(A, 40000, B, 80, ACK | PSH, 101, 501, b"GET /"),
            Direction::ToServer,
            ConnState::Established,
        ),
        (
            tcp(B, 80, A, 40000, ACK | FIN, 501, 106, b""),
            Direction::ToClient,
            ConnState::Closing,
        ),
        (
            tcp(A, 40000, B, 80, ACK, 106, 502, b""),
            Direction::ToServer,
            ConnState::Closing,
        ),
        (
            tcp(A, 40000, B, 80, ACK | FIN, 106, 502, b""),
            Direction::ToServer,
            ConnState::Closed,
        ),
        (
            tcp(B, 80, A, 40000, ACK, 502, 107, b""),
            Direction::ToClient,
            ConnState::Closed,
        ),
    ];
    let mut handle = None;
    let mut bytes = [0u64; 2];
    for (n, (frame, dir, state)) in steps.iter().enumerate() {
        let t = h.push(frame, T0 + n as u64 * 1000).expect("tracked");
        assert_eq!((t.direction, t.state), (*dir, *state), "packet {n}");
        assert_eq!(t.packet_number, n as u64 + 1);
        assert_eq!(*handle.get_or_insert(t.handle), t.handle);
        bytes[*dir as usize] += frame.len() as u64;
    }
    let handle = handle.unwrap();
    let c = h.table.counters_of(handle).unwrap();
    assert_eq!((c.pkts_toserver, c.pkts_toclient), (5, 3));
    assert_eq!((c.bytes_toserver, c.bytes_toclient), (bytes[0], bytes[1]));
    h.drain();
    let r = &h.ended[0];
    assert_eq!(r.state, FlowState::Closed);
    assert_eq!(r.reason, FlowEndReason::Shutdown);
    assert_eq!(
        (r.src_ip.to_string(), r.src_port),
        ("10.0.0.1".into(), 40000)
    );
    let tcp = r.tcp.unwrap();
    assert_eq!(tcp.state, Some(FlowTcpState::Closed));
    assert_eq!(tcp.tcp_flags_ts, SYN | ACK | PSH | FIN);
    assert_eq!(tcp.tcp_flags_tc, SYN | ACK | FIN);
    assert!(h.table.is_empty());
    assert_eq!(
        h.table.counters_of(handle),
        None,
        "the handle is stale once ended"
    );
}

#[test]
fn rst_closes_a_refused_connection() {
    let mut h = Harness::new(16);
    h.push(&tcp(A, 40001, B, 9, SYN, 7, 0, b""), T0).unwrap();
    let t = h
        .push(&tcp(B, 9, A, 40001, RST | ACK, 0, 8, b""), T0 + 10)
        .unwrap();
    assert_eq!(
        (t.direction, t.state),
        (Direction::ToClient, ConnState::Closed)
    );
    h.drain();
    assert_eq!(h.ended[0].state, FlowState::Closed);
    assert_eq!(h.ended[0].tcp.unwrap().tcp_flags, SYN | RST | ACK);
}

#[test]
fn simultaneous_open_is_established() {
    let mut h = Harness::new(16);
    h.push(&tcp(A, 5000, B, 6000, SYN, 100, 0, b""), T0)
        .unwrap();
    let t = h
        .push(&tcp(B, 6000, A, 5000, SYN, 900, 0, b""), T0 + 1)
        .unwrap();
    assert_eq!(
        (t.direction, t.state),
        (Direction::ToClient, ConnState::New)
    );
    h.push(&tcp(A, 5000, B, 6000, SYN | ACK, 100, 901, b""), T0 + 2)
        .unwrap();
    h.push(&tcp(B, 6000, A, 5000, SYN | ACK, 900, 101, b""), T0 + 3)
        .unwrap();
    let t = h
        .push(&tcp(B, 6000, A, 5000, ACK, 901, 101, b""), T0 + 4)
        .unwrap();
    assert_eq!(t.state, ConnState::Established);
}

#[test]
fn a_new_syn_on_a_closed_tuple_starts_a_new_connection() {
    let mut h = Harness::new(16);
    let first = h.push(&tcp(A, 40002, B, 80, SYN, 1, 0, b""), T0).unwrap();
    h.push(&tcp(B, 80, A, 40002, RST | ACK, 0, 2, b""), T0 + 1)
        .unwrap();
    // A retransmitted SYN of the closed connection is not a new one (Suricata: same ISN)...
    let again = h
        .push(&tcp(A, 40002, B, 80, SYN, 1, 0, b""), T0 + 2)
        .unwrap();
    assert_eq!(again.handle, first.handle);
    assert!(h.ended.is_empty());
    // ...a SYN with another ISN is.
    let second = h
        .push(&tcp(A, 40002, B, 80, SYN, 5000, 0, b""), T0 + 3)
        .unwrap();
    assert_ne!(second.handle, first.handle);
    assert_eq!(second.packet_number, 1);
    assert_eq!(h.ended.len(), 1);
    assert_eq!(h.ended[0].reason, FlowEndReason::TcpReuse);
    assert_eq!(h.ended[0].handle, first.handle);
    assert_eq!(h.ended[0].pkts_toserver, 2);
    assert_ne!(h.ended[0].flow_id, second.flow_id);
    // An established connection is not replaced by a stray SYN.
    let mut h = Harness::new(16);
    h.push(&tcp(A, 1, B, 2, SYN, 10, 0, b""), T0).unwrap();
    h.push(&tcp(B, 2, A, 1, SYN | ACK, 20, 11, b""), T0 + 1)
        .unwrap();
    h.push(&tcp(A, 1, B, 2, ACK, 11, 21, b""), T0 + 2).unwrap();
    h.push(&tcp(A, 1, B, 2, SYN, 99, 0, b""), T0 + 3).unwrap();
    assert!(h.ended.is_empty());
    assert_eq!(h.table.counters().ended_tcp_reuse, 0);
}

#[test]
fn timeouts_per_state_follow_suricata() {
    // (packets, idle seconds that keep it, idle seconds that end it)
    let new_tcp = vec![tcp(A, 1, B, 2, SYN, 10, 0, b"")];
    let est_tcp = vec![
        tcp(A, 1, B, 2, SYN, 10, 0, b""),
        tcp(B, 2, A, 1, SYN | ACK, 20, 11, b""),
        tcp(A, 1, B, 2, ACK, 11, 21, b""),
    ];
    let closed_tcp = vec![
        tcp(A, 1, B, 2, SYN, 10, 0, b""),
        tcp(B, 2, A, 1, RST | ACK, 0, 11, b""),
    ];
    let new_udp = vec![udp(A, 53000, B, 53)];
    let est_udp = vec![udp(A, 53000, B, 53), udp(B, 53, A, 53000)];
    let cases = [
        (new_tcp, 30, FlowState::New),
        (est_tcp, 300, FlowState::Established),
        (closed_tcp, 10, FlowState::Closed),
        (new_udp, 30, FlowState::New),
        (est_udp, 300, FlowState::Established),
    ];
    for (packets, timeout, state) in cases {
        let mut h = Harness::new(16);
        for (i, f) in packets.iter().enumerate() {
            h.push(f, T0 + i as u64).unwrap();
        }
        // Due once the whole second passes last + timeout (Suricata's `timeout_at < now`).
        h.expire(T0 + timeout * SEC + SEC - 1);
        assert!(h.ended.is_empty(), "{state:?}: ended before {timeout} s");
        h.expire(T0 + (timeout + 1) * SEC);
        assert_eq!(h.ended.len(), 1, "{state:?}: not ended after {timeout} s");
        assert_eq!(h.ended[0].reason, FlowEndReason::Timeout);
        assert_eq!(h.ended[0].state, state);
        assert!(h.table.is_empty());
    }
}

#[test]
fn a_packet_after_the_timeout_ends_the_old_connection_first() {
    let mut h = Harness::new(16);
    let first = h.push(&udp(A, 1, B, 2), T0).unwrap();
    // Refreshed within the timeout: the same connection.
    let t = h.push(&udp(A, 1, B, 2), T0 + 25 * SEC).unwrap();
    assert_eq!(t.handle, first.handle);
    // Past it, without any call to expire: a new one.
    let t = h.push(&udp(A, 1, B, 2), T0 + 60 * SEC).unwrap();
    assert_ne!(t.handle, first.handle);
    assert_eq!(t.packet_number, 1);
    assert_eq!(h.ended.len(), 1);
    assert_eq!(h.ended[0].reason, FlowEndReason::Timeout);
    assert_eq!(h.ended[0].pkts_toserver, 2);
}

#[test]
fn expire_keeps_refreshed_connections() {
    let mut h = Harness::new(64);
    for port in 0..10u16 {
        h.push(&udp(A, 1000 + port, B, 53), T0).unwrap();
    }
    // Half of them see traffic later on.
    for port in 0..5u16 {
        h.push(&udp(A, 1000 + port, B, 53), T0 + 20 * SEC).unwrap();
    }
    h.expire(T0 + 40 * SEC);
    let mut ports: Vec<u16> = h.ended.iter().map(|r| r.src_port).collect();
    ports.sort();
    assert_eq!(ports, (1005..1010).collect::<Vec<_>>());
    h.ended.clear();
    h.expire(T0 + 60 * SEC);
    assert_eq!(h.ended.len(), 5);
}

/// A connection ends at the first expiry after its timeout, whatever other connections the
/// table holds: with one timer list per class, a refreshed entry moved to the tail behind a
/// younger one waited for that one (so a worker's timeouts depended on its neighbours, and
/// EVE differed between worker counts).
#[test]
fn expiry_does_not_wait_for_younger_connections() {
    let new_udp = u64::from(ConnConfig::default().timeouts.udp.new);
    let mut h = Harness::new(64);
    h.push(&udp(A, 1000, B, 53), T0).unwrap(); // X
    h.push(&udp(A, 1000, B, 53), T0 + 20 * SEC).unwrap(); // X refreshed
    h.push(&udp(A, 2000, B, 53), T0 + 25 * SEC).unwrap(); // Y, younger
    // X's first placement is past its timeout: X is looked at, found refreshed, filed again.
    h.expire(T0 + (new_udp + 1) * SEC);
    assert!(h.ended.is_empty(), "{:?}", h.ended);
    // X is due one second after 20 + timeout; Y is not, and must not hold X back.
    h.expire(T0 + (20 + new_udp) * SEC);
    assert!(h.ended.is_empty(), "{:?}", h.ended);
    h.expire(T0 + (21 + new_udp) * SEC);
    let ports: Vec<u16> = h.ended.iter().map(|r| r.src_port).collect();
    assert_eq!(ports, [1000]);
    h.expire(T0 + (26 + new_udp) * SEC);
    assert_eq!(h.ended.len(), 2);
}

/// Time that jumps far ahead (a capture with a gap longer than the timer wheel) still ends
/// every connection once, and time that goes backwards loses none.
#[test]
fn expiry_across_long_gaps_and_backward_time() {
    let mut h = Harness::new(256);
    for port in 0..100u16 {
        h.push(&udp(A, 1000 + port, B, 53), T0 + u64::from(port) * SEC)
            .unwrap();
    }
    // A packet from the past, for a connection of its own.
    h.push(&udp(A, 9, B, 53), T0 - 500 * SEC).unwrap();
    h.expire(T0 + 50 * SEC);
    h.expire(T0 + 100_000 * SEC);
    assert_eq!(h.ended.len(), 101);
    let mut ports: Vec<u16> = h.ended.iter().map(|r| r.src_port).collect();
    ports.sort();
    ports.dedup();
    assert_eq!(ports.len(), 101);
    assert_eq!(h.table.len(), 0);
}

#[test]
fn udp_is_new_until_both_directions_are_seen() {
    let mut h = Harness::new(16);
    let t = h.push(&udp(A, 5353, B, 53), T0).unwrap();
    assert_eq!(t.state, ConnState::New);
    let t = h.push(&udp(A, 5353, B, 53), T0 + 1).unwrap();
    assert_eq!(t.state, ConnState::New);
    let t = h.push(&udp(B, 53, A, 5353), T0 + 2).unwrap();
    assert_eq!(
        (t.direction, t.state),
        (Direction::ToClient, ConnState::Established)
    );
    h.drain();
    assert_eq!(h.ended[0].state, FlowState::Established);
    assert_eq!((h.ended[0].pkts_toserver, h.ended[0].pkts_toclient), (2, 1));
}

#[test]
fn icmp_echo_by_identifier() {
    let mut h = Harness::new(16);
    let a = h.push(&echo(A, B, true, 1), T0).unwrap();
    let b = h.push(&echo(A, B, true, 2), T0 + 1).unwrap();
    assert_ne!(a.handle, b.handle);
    let r = h.push(&echo(B, A, false, 1), T0 + 2).unwrap();
    assert_eq!(r.handle, a.handle);
    assert_eq!(
        (r.direction, r.state),
        (Direction::ToClient, ConnState::Established)
    );
    h.drain();
    let rec = h.ended.iter().find(|r| r.handle == a.handle).unwrap();
    assert_eq!(rec.icmp, Some((8, 0)));
    assert_eq!(rec.response_icmp, Some((0, 0)));
    let eve = serde_json::to_string(&rec.to_eve()).unwrap();
    assert!(eve.contains(r#""proto":"ICMP","icmp_type":8,"icmp_code":0,"response_icmp_type":0,"response_icmp_code":0,"flow":"#), "{eve}");
}

#[test]
fn icmp_errors_are_related_to_the_connection_they_quote() {
    let mut h = Harness::new(16);
    let request = udp(A, 5000, B, 5999);
    let conn = h.push(&request, T0).unwrap();
    let error = unreachable(B, A, &request[14..]);
    let t = h.push(&error, T0 + 1).unwrap();
    assert_eq!(t.handle, conn.handle);
    assert_eq!(
        (t.state, t.direction),
        (ConnState::Related, Direction::ToClient)
    );
    // Counted in the connection (as Suricata does for an unreachable quoting UDP) without
    // making it established.
    let c = h.table.counters_of(conn.handle).unwrap();
    assert_eq!((c.pkts_toserver, c.pkts_toclient), (1, 1));
    assert_eq!(c.bytes_toclient, error.len() as u64);
    // An error from a router on the way is to the client too; one quoting nothing known has
    // no connection.
    let t = h
        .push(&unreachable([10, 0, 0, 254], A, &request[14..]), T0 + 2)
        .unwrap();
    assert_eq!(t.direction, Direction::ToClient);
    let other = udp(A, 5001, B, 5999);
    assert_eq!(h.push(&unreachable(B, A, &other[14..]), T0 + 3), None);
    assert_eq!(h.table.counters().icmp_error_orphan, 1);
    h.drain();
    assert_eq!(h.ended[0].state, FlowState::New);
}

#[test]
fn a_connection_already_running_is_invalid_until_a_syn() {
    let mut h = Harness::new(16);
    let t = h
        .push(&tcp(A, 7, B, 8, ACK | PSH, 50, 60, b"mid"), T0)
        .unwrap();
    assert_eq!(t.state, ConnState::Invalid);
    let t = h.push(&tcp(B, 8, A, 7, ACK, 60, 53, b""), T0 + 1).unwrap();
    assert_eq!(t.state, ConnState::Invalid);
    assert_eq!(h.table.counters().invalid, 2);
    h.drain();
    let r = &h.ended[0];
    assert_eq!(r.state, FlowState::New);
    assert_eq!(
        r.tcp.unwrap(),
        events::FlowTcp::default(),
        "no session, no flags"
    );
}

#[test]
fn a_full_table_early_drops_the_oldest_unestablished() {
    let mut h = Harness::new(4);
    // Two established, two new.
    for port in [1u16, 2] {
        h.push(&udp(A, port, B, 53), T0).unwrap();
        h.push(&udp(B, 53, A, port), T0).unwrap();
    }
    h.push(&udp(A, 3, B, 53), T0 + SEC).unwrap();
    h.push(&udp(A, 4, B, 53), T0 + 2 * SEC).unwrap();
    assert_eq!(h.table.len(), 4);
    h.push(&udp(A, 5, B, 53), T0 + 3 * SEC).unwrap();
    assert_eq!(h.ended.len(), 1);
    assert_eq!(
        (h.ended[0].src_port, h.ended[0].reason),
        (3, FlowEndReason::Forced)
    );
    h.push(&udp(A, 6, B, 53), T0 + 3 * SEC).unwrap();
    h.push(&udp(A, 7, B, 53), T0 + 3 * SEC).unwrap();
    assert_eq!(h.table.counters().early_drops, 3);
    // Now make everything established: nothing can go, the packet gets no connection.
    for port in [6u16, 7] {
        h.push(&udp(B, 53, A, port), T0 + 4 * SEC).unwrap();
    }
    assert_eq!(h.push(&udp(A, 8, B, 53), T0 + 5 * SEC), None);
    assert_eq!(h.table.counters().table_full, 1);
    assert_eq!(h.table.len(), 4);
}

#[test]
fn handles_are_dense_and_generations_change_on_reuse() {
    let mut h = Harness::new(2);
    let a = h.push(&udp(A, 1, B, 2), T0).unwrap().handle;
    let b = h.push(&udp(A, 3, B, 4), T0).unwrap().handle;
    assert!(a.index() < 2 && b.index() < 2 && a.index() != b.index());
    assert!(h.table.set_alerted(a));
    assert!(h.table.set_app_proto(a, "dns"));
    h.expire(T0 + 100 * SEC);
    assert_eq!(h.ended.len(), 2);
    let rec = h.ended.iter().find(|r| r.handle == a).unwrap();
    assert!(rec.alerted);
    assert_eq!(rec.app_proto, Some("dns"));
    let c: ConnHandle = h.push(&udp(A, 5, B, 6), T0 + 100 * SEC).unwrap().handle;
    assert!(c.index() < 2);
    let reused = if c.index() == a.index() { a } else { b };
    assert_ne!(c.generation(), reused.generation());
    assert!(!h.table.set_alerted(reused), "a stale handle is refused");
    assert_eq!(h.table.counters_of(reused), None);
}

#[test]
fn flow_id_is_a_function_of_the_connection_only() {
    let run = |seed: u64| {
        let mut t = ConnTable::new(ConnConfig {
            max_connections: 8,
            seed: Some(seed),
            ..ConnConfig::default()
        });
        let f = tcp(A, 40000, B, 80, SYN, 1, 0, b"");
        let p = wire::parse_packet(&f);
        t.track(&f, &p, 3, T0, &mut |_| {}).unwrap().flow_id
    };
    let id = run(1);
    assert_eq!(id, run(2));
    assert!(id > 0 && id < 1 << 53);
}

#[test]
fn non_ip_gets_no_connection() {
    let mut h = Harness::new(4);
    let mut arp = vec![0u8; 42];
    arp[12] = 0x08;
    arp[13] = 0x06;
    assert_eq!(h.push(&arp, T0), None);
    assert_eq!(h.push(&[0u8; 5], T0), None);
    assert_eq!(h.table.counters().not_ip, 2);
}
