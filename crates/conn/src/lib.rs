//! The connection layer of a Rampart worker: IP defragmentation, the connection table with its
//! TCP life cycle and timeouts, the flow records connections leave when they end, and the
//! symmetric hash that steers both directions of a connection to one worker.
//!
//! # How the pipeline calls it
//!
//! Each worker owns one [`ConnTable`] (and one [`Defrag`]); nothing here is shared or locked.
//! Between receive and ingress inspection, for each packet of a batch:
//!
//! 1. an IP fragment goes to [`Defrag::push`]; `Held` and `Dropped` end the packet's way
//!    (counted); `Complete` writes the reassembled datagram as one Ethernet frame into the
//!    caller's buffer, which the caller parses afresh and carries on with;
//! 2. [`ConnTable::track_key`] gives the packet its [`ConnHandle`], [`Direction`],
//!    [`ConnState`] and packet number in the connection, or `None` (not IP, unreadable, table
//!    full), from the packet's flow key and a few of its bytes, with no parse; for what the key
//!    cannot say (ICMP errors, IPv6 extension headers, IPv4 options, fragments) it answers
//!    [`NeedsParse`], and [`ConnTable::track`] gives the same from the packet's full parse;
//!    with many connections, a batch's [`ConnTable::lookup_key`]s are made first, their index
//!    slots and entries prefetched ([`ConnTable::prefetch_index`],
//!    [`ConnTable::prefetch_entry`]), then the packets tracked in order
//!    ([`ConnTable::track_lookup`]), so that the batch's cache misses overlap;
//! 3. connections that end meanwhile (found timed out, early-dropped, replaced by a new TCP
//!    connection on the same tuple) reach the closure passed to `track` as [`ConnRecord`]s,
//!    before any engine sees a packet of a connection that reuses the slot;
//! 4. now and then (the pipeline's maintenance tick, in packet time), [`ConnTable::expire`]
//!    and [`Defrag::expire`]; at the end of input, [`ConnTable::drain`].
//!
//! A [`ConnRecord`] becomes an EVE `flow` event with [`ConnRecord::to_eve`], with Suricata's
//! field names and the same packet and byte counts, state and reason that Suricata 7 gives
//! for the same capture (`tests/suricata.rs` checks this on real captures).
//!
//! ```
//! use conn::{ConnConfig, ConnState, ConnTable, Direction};
//!
//! let mut table = ConnTable::new(ConnConfig { max_connections: 1024, ..ConnConfig::default() });
//! let frame = etherparse_syn(); // an Ethernet + IPv4 + TCP SYN, 10.0.0.1:40000 -> 10.0.0.2:80
//! let parsed = wire::parse_packet(&frame);
//! let mut ended = Vec::new();
//! let t = table.track(&frame, &parsed, 0, 1_000_000_000, &mut |r| ended.push(r)).unwrap();
//! assert_eq!((t.direction, t.state, t.packet_number), (Direction::ToServer, ConnState::New, 1));
//! table.drain(|r| ended.push(r));
//! let eve = serde_json::to_string(&ended[0].to_eve())?;
//! assert!(eve.contains(r#""src_ip":"10.0.0.1","src_port":40000,"dest_ip":"10.0.0.2","dest_port":80,"proto":"TCP""#));
//! assert!(eve.contains(r#""state":"new","reason":"shutdown""#));
//! # fn etherparse_syn() -> Vec<u8> {
//! #     let mut f = vec![0u8; 54];
//! #     f[12] = 0x08; f[14] = 0x45; f[17] = 40; f[22] = 64; f[23] = 6;
//! #     f[26..30].copy_from_slice(&[10, 0, 0, 1]); f[30..34].copy_from_slice(&[10, 0, 0, 2]);
//! #     f[34..36].copy_from_slice(&40000u16.to_be_bytes()); f[36..38].copy_from_slice(&80u16.to_be_bytes());
//! #     f[46] = 0x50; f[47] = 0x02;
//! #     f
//! # }
//! # Ok::<(), serde_json::Error>(())
//! ```
//!
//! # What it must never do
//!
//! Allocate, lock or block per packet (the table's slab and index are sized at construction;
//! defragmentation keeps its buffers once grown); trust a packet (every read is bounds-checked,
//! a parse that does not match its frame gives a wrong key, never a panic); lose a connection
//! silently (every end is handed over, every packet without a connection is counted); or
//! depend on a secret or on the number of workers for what it writes (`flow_id` is a public
//! function of the connection). The only `unsafe` is in `mem.rs`: a prefetch hint and the
//! request for huge pages, neither of which any result may depend on.
//!
//! # Timeouts
//!
//! Suricata 7's built-in `flow-timeouts` ([`Timeouts::SURICATA_7`]): TCP new 30 s, established
//! 300 s, closed 10 s; UDP, ICMP and others new 30 s, established 300 s; fragments 60 s
//! ([`DefragConfig`]). Sources are given where each is defined.

mod defrag;
mod hash;
mod key;
mod mem;
mod record;
mod steer;
mod table;
pub mod tcp;
mod timeouts;

pub use defrag::{
    Defrag, DefragConfig, DefragCounters, DefragDrop, DefragOutcome, MAX_REASSEMBLED_FRAME,
    OverlapPolicy,
};
pub use key::{
    Class, ConnKey, ConnLookup, IPPROTO_SCTP, PacketTuple, PortKind, Untracked, classify,
    icmpv4_counterpart, icmpv4_is_error, icmpv6_counterpart, icmpv6_is_error,
};
pub use record::ConnRecord;
pub use steer::SteeringKey;
pub use table::{
    ConnConfig, ConnCounters, ConnHandle, ConnTable, NeedsParse, TableCounters, Tracked,
};
pub use tcp::{AcceptAll, Segment, SegmentCheck, TcpPeer, TcpState, TcpTrack};
pub use timeouts::{StateTimeouts, Timeouts};

/// Which way a packet goes within its connection, as Suricata defines it: to the server is
/// from the side that sent the connection's first packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Direction {
    ToServer = 0,
    ToClient = 1,
}

/// A packet's standing in its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnState {
    /// The connection is not established yet (TCP handshake under way; other protocols: one
    /// direction seen so far).
    New,
    /// Established (TCP handshake complete; others: both directions seen).
    Established,
    /// TCP: a FIN was seen, the connection is closing.
    Closing,
    /// TCP: closed by RST or by the final ACK.
    Closed,
    /// An ICMP error about the connection (it quotes one of its packets).
    Related,
    /// TCP: the packet does not fit a session: no SYN began one (a connection already running
    /// when tracking started), or the segment check refused it.
    Invalid,
}
