//! Fuzz bodies of the IDS's stream reassembly and application-layer parsers: HTTP/1.x, DNS,
//! TLS and TCP reassembly, each driven the way the pipeline drives it and held to the
//! invariants its module documents.
//!
//! Input layouts (the seeds in `fuzz/seeds/<target>/` follow them):
//! - [`http_parser`], [`tls_handshake`]: two bytes (little-endian) giving the length of the
//!   client's bytes, one byte giving the size of the pieces they are fed in (0: whole), then
//!   the client's bytes and the server's bytes.
//! - [`dns_message`]: one DNS message (also fed to the TCP framer with its length, cut in two).
//! - [`tcp_reassembly`]: a byte of configuration (mode, policy), then segments of five header
//!   bytes (direction and flags, sequence offset as two bytes, length, acknowledgement step)
//!   each followed by its payload.

use ids::app::dns::{DnsMessage, DnsState, DnsTcpFramer};
use ids::app::eve::{dns_records, http_record, tls_record};
use ids::app::files::{FileEnd, FileSink, FileStart};
use ids::app::http::{HttpBuffer, HttpConfig, HttpParser};
use ids::app::tls::TlsState;
use ids::stream::{
    AppChunk, Direction, OverlapPolicy, ReassemblyMode, ReassemblyPool, Segment, StreamConfig,
    TcpFlags, TcpStreamTracker,
};

/// Splits an input of the two-sided layout into (piece size, client bytes, server bytes).
fn two_sides(data: &[u8]) -> Option<(usize, &[u8], &[u8])> {
    let (head, rest) = data.split_first_chunk::<3>()?;
    let split = usize::from(u16::from_le_bytes([head[0], head[1]])).min(rest.len());
    let piece = match head[2] {
        0 => usize::MAX,
        n => usize::from(n),
    };
    let (client, server) = rest.split_at(split);
    Some((piece, client, server))
}

/// Every HTTP sticky buffer.
const BUFFERS: [HttpBuffer; 28] = [
    HttpBuffer::Uri,
    HttpBuffer::UriRaw,
    HttpBuffer::Method,
    HttpBuffer::Protocol,
    HttpBuffer::RequestLine,
    HttpBuffer::ResponseLine,
    HttpBuffer::Header,
    HttpBuffer::HeaderRaw,
    HttpBuffer::HeaderNames,
    HttpBuffer::Start,
    HttpBuffer::Host,
    HttpBuffer::HostRaw,
    HttpBuffer::UserAgent,
    HttpBuffer::Cookie,
    HttpBuffer::Referer,
    HttpBuffer::ContentType,
    HttpBuffer::ContentLen,
    HttpBuffer::Server,
    HttpBuffer::Location,
    HttpBuffer::Accept,
    HttpBuffer::AcceptEnc,
    HttpBuffer::AcceptLang,
    HttpBuffer::Connection,
    HttpBuffer::StatCode,
    HttpBuffer::StatMsg,
    HttpBuffer::RequestBody,
    HttpBuffer::ResponseBody,
    HttpBuffer::FileData,
];

/// Checks that files open, stream and close in order, and that sizes add up.
#[derive(Default)]
struct FileChecker {
    open: [Option<(u64, u64)>; 2],
}

impl FileSink for FileChecker {
    fn file_start(&mut self, file: &FileStart<'_>) {
        let slot = &mut self.open[file.direction.index()];
        assert!(
            slot.is_none(),
            "a second file opened before the first closed"
        );
        *slot = Some((file.tx_id, 0));
    }

    fn file_data(&mut self, tx_id: u64, direction: Direction, data: &[u8]) {
        let slot = self.open[direction.index()]
            .as_mut()
            .expect("data without an open file");
        assert_eq!(slot.0, tx_id, "data for another transaction's file");
        assert!(!data.is_empty(), "empty file data");
        slot.1 += data.len() as u64;
    }

    fn file_end(&mut self, tx_id: u64, direction: Direction, size: u64, _end: FileEnd) {
        let (open_tx, seen) = self.open[direction.index()]
            .take()
            .expect("end without an open file");
        assert_eq!(open_tx, tx_id, "another transaction's file ended");
        assert_eq!(seen, size, "file size differs from the data given");
    }
}

/// The HTTP parser over both directions, fed in pieces, with a small field limit: every
/// buffer of every transaction is read and every record written; lines and bodies stay within
/// their limits, transaction ids grow by one, and after both ends every transaction is complete.
pub fn http_parser(data: &[u8]) {
    let Some((piece, client, server)) = two_sides(data) else {
        return;
    };
    let config = HttpConfig {
        field_limit: 512,
        request_body_limit: 1024,
        response_body_limit: 1024,
        bomb_limit: 64 * 1024,
        ..HttpConfig::default()
    };
    let mut parser = HttpParser::new(config);
    let mut files = FileChecker::default();
    // Interleave the two sides piece by piece, as a conversation arrives.
    let (mut c, mut s) = (client.chunks(piece.max(1)), server.chunks(piece.max(1)));
    loop {
        let (a, b) = (c.next(), s.next());
        if a.is_none() && b.is_none() {
            break;
        }
        if let Some(a) = a {
            parser.feed(Direction::ToServer, a, &mut files);
        }
        if let Some(b) = b {
            parser.feed(Direction::ToClient, b, &mut files);
        }
    }
    parser.end(Direction::ToServer, &mut files);
    parser.end(Direction::ToClient, &mut files);
    let mut scratch = Vec::new();
    for (i, tx) in parser.transactions().enumerate() {
        assert_eq!(tx.id, i as u64, "transaction ids");
        assert!(
            tx.is_complete(),
            "transaction {i} incomplete after both ends"
        );
        assert!(tx.request.line.len() <= config.field_limit);
        assert!(tx.response.line.len() <= config.field_limit);
        assert!(tx.request.body.len() <= config.request_body_limit);
        assert!(tx.response.body.len() <= config.response_body_limit);
        assert!(tx.request.body.len() as u64 <= tx.request.body_len);
        for which in BUFFERS {
            for dir in Direction::BOTH {
                let _ = tx.buffer(which, dir, &mut scratch);
            }
        }
        serde_json::to_string(&http_record(tx)).expect("http record");
    }
    assert!(
        files.open.iter().all(Option::is_none),
        "a file left open after both ends"
    );
}

/// A DNS message: parse (names at most 255 bytes, no more records than claimed), its EVE
/// records, and the same message through the TCP framer in two pieces.
pub fn dns_message(data: &[u8]) {
    let _ = DnsMessage::probe_request(data);
    let _ = DnsMessage::probe_response(data);
    if let Ok(msg) = DnsMessage::parse(data) {
        assert!(msg.questions.len() <= usize::from(msg.header.qdcount));
        assert!(msg.answers.len() <= usize::from(msg.header.ancount));
        for q in &msg.questions {
            assert!(q.name.value.len() <= 255, "name longer than 255");
        }
    }
    let mut state = DnsState::default();
    let direction = if data.first().is_some_and(|b| b & 1 == 1) {
        Direction::ToClient
    } else {
        Direction::ToServer
    };
    let _ = state.on_message(direction, data);
    let mut framed = Vec::with_capacity(data.len() + 2);
    framed.extend_from_slice(&(data.len().min(usize::from(u16::MAX)) as u16).to_be_bytes());
    framed.extend_from_slice(&data[..data.len().min(usize::from(u16::MAX))]);
    let cut = data.len() / 2;
    let mut messages = 0;
    let mut framer = DnsTcpFramer::default();
    framer.feed(&framed[..cut], &mut |_| messages += 1);
    framer.feed(&framed[cut..], &mut |m| {
        messages += 1;
        assert_eq!(m, &data[..m.len()]);
    });
    assert_eq!(messages, 1, "one framed message");
    let mut changed = Vec::new();
    state.on_stream(direction, &framed, &mut changed);
    for tx in state.transactions() {
        for record in dns_records(tx) {
            serde_json::to_string(&record).expect("dns record");
        }
        let _ = tx.query_names().count();
    }
}

/// TLS records of both directions, fed in pieces: the hellos and record counts must not
/// depend on how the bytes were cut.
pub fn tls_handshake(data: &[u8]) {
    let Some((piece, client, server)) = two_sides(data) else {
        return;
    };
    let mut whole = TlsState::default();
    whole.feed(Direction::ToServer, client);
    whole.feed(Direction::ToClient, server);
    let mut cut = TlsState::default();
    for c in client.chunks(piece.max(1)) {
        cut.feed(Direction::ToServer, c);
    }
    for s in server.chunks(piece.max(1)) {
        cut.feed(Direction::ToClient, s);
    }
    assert_eq!(
        whole.client_hello, cut.client_hello,
        "ClientHello depends on segmentation"
    );
    assert_eq!(
        whole.server_hello, cut.server_hello,
        "ServerHello depends on segmentation"
    );
    for dir in Direction::BOTH {
        assert_eq!(
            whole.records(dir),
            cut.records(dir),
            "record count depends on segmentation"
        );
    }
    let _ = TlsState::probe(client);
    serde_json::to_string(&tls_record(&cut)).expect("tls record");
}

/// Segments of one connection, after a handshake, in any order and overlap: the app layer's
/// chunks come in order without holes between them, never past what was received or lost, and
/// all memory goes back to the pool.
pub fn tcp_reassembly(data: &[u8]) {
    let Some((&setup, mut rest)) = data.split_first() else {
        return;
    };
    let config = StreamConfig {
        mode: if setup & 1 == 0 {
            ReassemblyMode::Ids
        } else {
            ReassemblyMode::Inline
        },
        depth: if setup & 2 == 0 { 0 } else { 4096 },
        connection_memcap: 16 * 1024,
        to_server_chunk: 64,
        to_client_chunk: 64,
        min_inspect_depth: u32::from(setup >> 4),
        ..StreamConfig::default()
    };
    let policy = OverlapPolicy::ALL[usize::from(setup >> 2) % OverlapPolicy::ALL.len()];
    let mut pool = ReassemblyPool::new(64 * 1024, 2);
    let mut tracker = TcpStreamTracker::new(&config, policy, policy);
    let isn = [1_000u32, u32::MAX - 40];
    let syn = |direction, seq, ack, flags| Segment {
        direction,
        seq,
        ack,
        flags,
        window: 1000,
        payload: &[],
        time_ns: 0,
    };
    tracker.handle_segment(
        &syn(Direction::ToServer, isn[0], 0, TcpFlags::SYN),
        &mut pool,
    );
    tracker.handle_segment(
        &syn(
            Direction::ToClient,
            isn[1],
            isn[0].wrapping_add(1),
            TcpFlags::SYN | TcpFlags::ACK,
        ),
        &mut pool,
    );
    let mut progress = [0u64; 2];
    let mut ended = [false; 2];
    let mut check = |tracker: &mut TcpStreamTracker| {
        for dir in Direction::BOTH {
            let d = dir.index();
            while let Some(chunk) = tracker.next_app_chunk(dir) {
                assert!(!ended[d], "a chunk after the end");
                match chunk {
                    AppChunk::Data { offset, data } => {
                        assert_eq!(offset, progress[d], "data out of order");
                        assert!(!data.is_empty(), "empty data chunk");
                        progress[d] += data.len() as u64;
                    }
                    AppChunk::Gap { offset, len } => {
                        assert_eq!(offset, progress[d], "gap out of order");
                        assert!(len > 0, "empty gap");
                        progress[d] += len;
                    }
                    AppChunk::End(_) => ended[d] = true,
                }
            }
            while let Some(raw) = tracker.next_raw_chunk(dir) {
                assert!(!raw.data.is_empty(), "empty raw chunk");
            }
        }
    };
    while let Some((head, tail)) = rest.split_first_chunk::<5>() {
        let direction = if head[0] & 0x80 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let flags = TcpFlags(head[0] & 0x3f | TcpFlags::ACK.0);
        let offset = u32::from(u16::from_le_bytes([head[1], head[2]]));
        let len = usize::from(head[3]).min(tail.len());
        let (payload, next) = tail.split_at(len);
        rest = next;
        let d = direction.index();
        let seg = Segment {
            direction,
            seq: isn[d].wrapping_add(1).wrapping_add(offset),
            ack: isn[1 - d]
                .wrapping_add(1)
                .wrapping_add(u32::from(head[4]) * 16),
            flags,
            window: 1000,
            payload,
            time_ns: 0,
        };
        tracker.handle_segment(&seg, &mut pool);
        assert!(
            tracker.held() <= config.connection_memcap + 64,
            "connection cap exceeded"
        );
        check(&mut tracker);
    }
    tracker.finish();
    check(&mut tracker);
    assert!(
        ended.iter().all(|&e| e),
        "a direction did not end after finish"
    );
    tracker.release(&mut pool);
    assert_eq!(pool.in_use(), 0, "memory not returned to the pool");
}
