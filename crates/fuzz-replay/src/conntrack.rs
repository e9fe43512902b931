//! The `conn_table` target: arbitrary frames through defragmentation and a small connection
//! table, as the pipeline would feed them, checking the table's invariants after every packet.
//!
//! Input: a sequence of records, each a one-byte length `n`, a one-byte time step (in units
//! of 250 ms, so timeouts are reached), a one-byte VLAN, then `n` bytes of Ethernet frame.
//! The table holds eight connections so that early drop and the full-table path run, and the
//! defragmenter a small memory cap and few trackers. A second table is fed the same packets
//! through `track_key` (the datapath's way: the flow key read from the bytes, the parse only
//! when asked for) and must answer, end connections and count exactly as the first.

use conn::{ConnConfig, ConnRecord, ConnTable, Defrag, DefragConfig, DefragOutcome, NeedsParse};
use flow::FlowKey;

/// Feeds the records in `data`; panics when an invariant breaks.
pub fn conn_table(data: &[u8]) {
    let config = ConnConfig {
        max_connections: 8,
        seed: Some(5),
        ..ConnConfig::default()
    };
    let mut table = ConnTable::new(config);
    let mut by_key = ConnTable::new(config);
    let mut ended_by_key: Vec<ConnRecord> = Vec::new();
    let mut defrag = Defrag::new(DefragConfig {
        max_fragments: 8,
        memcap: 4096,
        max_trackers: 4,
        ..DefragConfig::default()
    });
    let mut buf = vec![0u8; conn::MAX_REASSEMBLED_FRAME];
    let mut ended: Vec<ConnRecord> = Vec::new();
    let mut now = 1_000_000_000_000u64;
    let mut rest = data;
    while let [n, step, vlan, tail @ ..] = rest {
        let n = usize::from(*n).min(tail.len());
        let (frame, next) = tail.split_at(n);
        rest = next;
        now += u64::from(*step) * 250_000_000;
        let vlan = u16::from(*vlan);
        let p = wire::parse_packet(frame);
        let (frame, p) = match defrag.push(frame, &p, vlan, now, &mut buf) {
            DefragOutcome::NotFragment => (frame, p),
            DefragOutcome::Complete { len } => {
                assert!(len <= buf.len());
                let whole = &buf[..len];
                let q = wire::parse_packet(whole);
                assert_eq!(
                    q.fragment,
                    wire::Fragment::No,
                    "a reassembled datagram is whole"
                );
                (whole, q)
            }
            DefragOutcome::Held | DefragOutcome::Dropped(_) => continue,
        };
        let before = ended.len();
        let live_before = table.len();
        let tracked = table.track(frame, &p, vlan, now, &mut |r| ended.push(r));
        let keyed = FlowKey::from_frame(0, frame)
            .ok_or(NeedsParse)
            .and_then(|(key, _)| {
                by_key.track_key(frame, &key, vlan, now, &mut |r| ended_by_key.push(r))
            })
            .unwrap_or_else(|NeedsParse| {
                by_key.track(frame, &p, vlan, now, &mut |r| ended_by_key.push(r))
            });
        assert_eq!(tracked, keyed, "track_key answers as track");
        assert_eq!(ended, ended_by_key, "track_key ends what track ends");
        assert_eq!(table.counters(), by_key.counters());
        if let Some(t) = tracked {
            assert_eq!(table.tcp(t.handle), by_key.tcp(t.handle));
            assert_eq!(table.counters_of(t.handle), by_key.counters_of(t.handle));
        }
        let gone = ended.len() - before;
        assert!(gone <= 1, "one packet ends at most one connection");
        if let Some(t) = tracked {
            assert!(t.handle.index() < table.capacity());
            assert!(t.packet_number >= 1);
            assert!(t.flow_id > 0 && t.flow_id < 1 << 53);
            let key = table.key(t.handle).expect("the handle just given is live");
            assert_eq!(key.vlan(), vlan);
            assert!(table.counters_of(t.handle).is_some());
            for r in &ended[before..] {
                assert_ne!(
                    (r.handle.index(), r.handle.generation()),
                    (t.handle.index(), t.handle.generation()),
                    "an ended connection's handle is never handed out again"
                );
            }
        } else {
            assert!(
                table.len() <= live_before,
                "no connection made for an untracked packet"
            );
        }
        assert!(table.len() <= table.capacity());
        let c = table.counters();
        let ends = c.ended_timeout + c.ended_forced + c.ended_tcp_reuse + c.ended_shutdown;
        assert_eq!(
            c.created - ends,
            table.len() as u64,
            "created = ended + live"
        );
        assert_eq!(ends as usize, ended.len(), "every end was handed over");
        assert!(defrag.held_bytes() <= 4096);
        assert!(defrag.pending() <= 4);
    }
    let live = table.len();
    let before = ended.len();
    table.expire(now + 400_000_000_000, |r| ended.push(r));
    assert!(table.is_empty(), "every connection times out eventually");
    assert_eq!(ended.len() - before, live);
    for r in &ended {
        assert!(r.end_ns >= r.start_ns || r.pkts_toserver + r.pkts_toclient > 1);
        let _ = serde_json_free_check(r);
    }
    defrag.expire(now + 400_000_000_000);
    assert_eq!((defrag.pending(), defrag.held_bytes()), (0, 0));
}

/// The record converts to an EVE event whose tuple is the record's.
fn serde_json_free_check(r: &ConnRecord) -> bool {
    let eve = r.to_eve();
    let ends = eve.endpoints.expect("a flow event has endpoints");
    assert_eq!(
        (ends.src_ip, ends.dest_ip, ends.proto),
        (r.src_ip, r.dest_ip, r.proto)
    );
    true
}
