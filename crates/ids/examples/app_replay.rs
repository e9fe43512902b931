//! Replays a capture through TCP reassembly and the application layer, the way the pipeline
//! drives them, and prints what was parsed: a yardstick for `farm-bench` against
//! `suricata -r` on the same capture (see BENCHMARKS.md).
//!
//! ```text
//! cargo run --release -p rampart-ids --example app_replay -- CAPTURE
//! ```
//!
//! Per packet: parse the frame (`wire`), find the connection (a map on the 5-tuple; the first
//! packet's sender is the client), hand TCP segments to the connection's `TcpStreamTracker`
//! and drain both directions' app chunks into its `AppLayer`, or UDP payloads straight to it;
//! complete HTTP transactions are popped and recycled; a connection whose tracker is finished
//! (both directions ended) gives its memory back. At the end every connection still open is
//! finished and drained.

use std::collections::HashMap;
use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;

use capture::CaptureReader;
use ids::app::{AppConfig, AppLayer, NoFiles, Transport};
use ids::stream::{
    Direction, OverlapPolicy, ReassemblyPool, Segment, StreamConfig, TcpFlags, TcpStreamTracker,
};
use wire::tcp::TcpPacket;
use wire::{L3, L4};

struct Conn {
    client: (IpAddr, u16),
    tracker: Option<TcpStreamTracker>,
    /// `None` once the connection finished and its state was released.
    app: Option<AppLayer>,
}

fn drain(tracker: &mut TcpStreamTracker, app: &mut AppLayer, txs: &mut u64) {
    for direction in Direction::BOTH {
        while let Some(chunk) = tracker.next_app_chunk(direction) {
            app.on_chunk(direction, chunk, &mut NoFiles);
        }
        if !app.wants_stream(direction) {
            tracker.set_app_enabled(direction, false);
        }
    }
    if let Some(http) = app.http_mut() {
        while let Some(tx) = http.pop_complete() {
            *txs += 1;
            http.recycle(tx);
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path: PathBuf = std::env::args_os()
        .nth(1)
        .ok_or("usage: app_replay CAPTURE")?
        .into();
    let mut reader = CaptureReader::open(&path)?;
    let stream_config = StreamConfig::default();
    let app_config = AppConfig::default();
    let mut pool = ReassemblyPool::default();
    let mut conns: HashMap<(IpAddr, u16, IpAddr, u16, u8), Conn> = HashMap::new();
    let mut protos: HashMap<&str, u64> = HashMap::new();
    let (mut packets, mut payload_bytes, mut http_txs) = (0u64, 0u64, 0u64);
    while let Some(packet) = reader.next_packet()? {
        packets += 1;
        let frame = packet.data;
        let p = wire::parse_link(frame, packet.link);
        let (src, dst) = match p.l3 {
            L3::Ipv4 => p
                .ipv4_addrs(frame)
                .map(|(s, d)| (IpAddr::from(s), IpAddr::from(d))),
            L3::Ipv6 => p
                .ipv6_addrs(frame)
                .map(|(s, d)| (IpAddr::from(s), IpAddr::from(d))),
            _ => None,
        }
        .unzip();
        let (Some(src), Some(dst)) = (src, dst) else {
            continue;
        };
        if !matches!(p.l4, L4::Tcp | L4::Udp) || p.truncated.is_some() {
            continue;
        }
        let (a, b) = ((src, p.src_port), (dst, p.dst_port));
        let key = if a <= b {
            (a.0, a.1, b.0, b.1, p.ip_proto)
        } else {
            (b.0, b.1, a.0, a.1, p.ip_proto)
        };
        let tcp = p.l4 == L4::Tcp;
        let conn = conns.entry(key).or_insert_with(|| Conn {
            client: a,
            tracker: tcp.then(|| {
                let mut t =
                    TcpStreamTracker::new(&stream_config, OverlapPolicy::Bsd, OverlapPolicy::Bsd);
                t.set_raw_enabled(Direction::ToServer, false);
                t.set_raw_enabled(Direction::ToClient, false);
                t
            }),
            app: Some(AppLayer::new(
                if tcp { Transport::Tcp } else { Transport::Udp },
                &app_config,
            )),
        });
        let payload = p.payload(frame);
        payload_bytes += payload.len() as u64;
        let Some(app) = conn.app.as_mut() else {
            // Finished and released: what still comes (last ACKs) is not reassembled.
            continue;
        };
        let direction = if a == conn.client {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        match conn.tracker.as_mut() {
            Some(tracker) => {
                let t = TcpPacket::new_unchecked(&frame[usize::from(p.l4_offset)..]);
                let seg = Segment {
                    direction,
                    seq: t.seq_number(),
                    ack: t.ack_number(),
                    flags: TcpFlags(p.tcp_flags as u8),
                    window: t.window_len(),
                    payload,
                    time_ns: packet.timestamp.secs as u64 * 1_000_000_000
                        + u64::from(packet.timestamp.nanos),
                };
                tracker.handle_segment(&seg, &mut pool);
                drain(tracker, app, &mut http_txs);
                if tracker.is_finished() {
                    *protos
                        .entry(app.proto().map_or("none", |p| p.name()))
                        .or_default() += 1;
                    conn.app = None;
                    if let Some(tracker) = conn.tracker.take() {
                        tracker.release(&mut pool);
                    }
                }
            }
            None => app.on_datagram(direction, payload),
        }
    }
    for conn in conns.values_mut() {
        let Some(app) = conn.app.as_mut() else {
            continue;
        };
        if let Some(tracker) = conn.tracker.as_mut() {
            tracker.finish();
            drain(tracker, app, &mut http_txs);
        }
        *protos
            .entry(app.proto().map_or("none", |p| p.name()))
            .or_default() += 1;
    }
    let mut protos: Vec<_> = protos.into_iter().collect();
    protos.sort();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{packets} packets, {payload_bytes} payload bytes, {} connections {protos:?}, {http_txs} HTTP transactions",
        conns.len()
    )?;
    writeln!(out, "reassembly: {:?}", pool.counters)?;
    Ok(())
}
