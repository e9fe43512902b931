//! Throughput of TCP reassembly and HTTP parsing, in bytes of payload per second.
//!
//! - `reassembly/in_order`: one 4 MiB to-server stream in 1,448-byte segments, the server
//!   acknowledging every second segment, app-layer chunks drained as they come (IDS mode,
//!   the default), raw inspection off.
//! - `reassembly/reordered`: the same with every pair of segments swapped and one segment in
//!   eight sent twice.
//! - `http/pipelined`: 200 browser-like requests and 10 KiB Content-Length responses, fed in
//!   1,448-byte pieces to both sides.
//! - `http/chunked_gzip`: the same responses chunked and gzip-encoded (decoded while parsed).
//!
//! Run: `cargo bench -p rampart-ids --bench reassembly_http`.

use std::hint::black_box;
use std::io::Write;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ids::app::NoFiles;
use ids::app::http::HttpParser;
use ids::stream::{
    AppChunk, Direction, OverlapPolicy, ReassemblyPool, Segment, StreamConfig, TcpFlags,
    TcpStreamTracker,
};

const MSS: usize = 1448;

fn stream(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// Segment start offsets in the order they are sent.
fn order(len: usize, reorder: bool) -> Vec<usize> {
    let starts: Vec<usize> = (0..len).step_by(MSS).collect();
    if !reorder {
        return starts;
    }
    let mut out = Vec::with_capacity(starts.len() * 9 / 8);
    for pair in starts.chunks(2) {
        out.extend(pair.iter().rev());
        if (pair[0] / MSS).is_multiple_of(8) {
            out.push(pair[0]);
        }
    }
    out
}

fn reassemble(data: &[u8], order: &[usize], pool: &mut ReassemblyPool) -> u64 {
    let config = StreamConfig {
        depth: 0,
        connection_memcap: 64 << 20,
        ..StreamConfig::default()
    };
    let mut t = TcpStreamTracker::new(&config, OverlapPolicy::Bsd, OverlapPolicy::Bsd);
    t.set_raw_enabled(Direction::ToServer, false);
    t.set_raw_enabled(Direction::ToClient, false);
    let (cisn, sisn) = (1_000_000u32, 7u32);
    let seg = |direction, seq, ack, flags, payload| Segment {
        direction,
        seq,
        ack,
        flags,
        window: 65535,
        payload,
        time_ns: 0,
    };
    t.handle_segment(&seg(Direction::ToServer, cisn, 0, TcpFlags::SYN, &[]), pool);
    t.handle_segment(
        &seg(
            Direction::ToClient,
            sisn,
            cisn + 1,
            TcpFlags::SYN | TcpFlags::ACK,
            &[],
        ),
        pool,
    );
    let mut received = 0u64;
    // The receiver acknowledges what it holds contiguously.
    let mut have = vec![false; data.len().div_ceil(MSS)];
    let mut contiguous = 0usize;
    for (i, &start) in order.iter().enumerate() {
        let end = (start + MSS).min(data.len());
        t.handle_segment(
            &seg(
                Direction::ToServer,
                cisn + 1 + start as u32,
                sisn + 1,
                TcpFlags::ACK,
                &data[start..end],
            ),
            pool,
        );
        have[start / MSS] = true;
        while contiguous < have.len() && have[contiguous] {
            contiguous += 1;
        }
        let acked = (contiguous * MSS).min(data.len());
        if i % 2 == 1 || i + 1 == order.len() {
            t.handle_segment(
                &seg(
                    Direction::ToClient,
                    sisn + 1,
                    cisn + 1 + acked as u32,
                    TcpFlags::ACK,
                    &[],
                ),
                pool,
            );
            while let Some(chunk) = t.next_app_chunk(Direction::ToServer) {
                if let AppChunk::Data { data, .. } = chunk {
                    received += black_box(data).len() as u64;
                }
            }
        }
    }
    t.release(pool);
    received
}

fn bench_reassembly(c: &mut Criterion) {
    let data = stream(4 << 20);
    let mut group = c.benchmark_group("reassembly");
    group.throughput(Throughput::Bytes(data.len() as u64));
    let mut pool = ReassemblyPool::default();
    for (name, reorder) in [("in_order", false), ("reordered", true)] {
        let order = order(data.len(), reorder);
        assert_eq!(
            reassemble(&data, &order, &mut pool),
            data.len() as u64,
            "{name}"
        );
        group.bench_function(name, |b| b.iter(|| reassemble(&data, &order, &mut pool)));
    }
    group.finish();
}

fn conversation(chunked_gzip: bool) -> (Vec<u8>, Vec<u8>) {
    let mut requests = Vec::new();
    let mut responses = Vec::new();
    let line = b"<div class=\"item\">rampart</div>\n";
    let body: Vec<u8> = (0..10 * 1024).map(|i| line[i % line.len()]).collect();
    for i in 0..200 {
        write!(
            requests,
            "GET /static/js/app.{i}.js?v=1.2.{i} HTTP/1.1\r\nHost: www.example.test\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\nAccept: */*\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\nReferer: https://www.example.test/index.html\r\nCookie: session=0123456789abcdef; theme=dark\r\nConnection: keep-alive\r\n\r\n"
        )
        .unwrap();
        if chunked_gzip {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&body).unwrap();
            let gz = e.finish().unwrap();
            write!(responses, "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/javascript\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
            for part in gz.chunks(4000) {
                write!(responses, "{:x}\r\n", part.len()).unwrap();
                responses.extend_from_slice(part);
                responses.extend_from_slice(b"\r\n");
            }
            responses.extend_from_slice(b"0\r\n\r\n");
        } else {
            write!(responses, "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/javascript\r\nContent-Length: {}\r\nCache-Control: max-age=3600\r\n\r\n", body.len()).unwrap();
            responses.extend_from_slice(&body);
        }
    }
    (requests, responses)
}

fn parse(requests: &[u8], responses: &[u8], parser: &mut HttpParser) -> u64 {
    *parser = HttpParser::default();
    for (req, res) in requests.chunks(MSS).zip(responses.chunks(MSS)) {
        parser.feed(Direction::ToServer, req, &mut NoFiles);
        parser.feed(Direction::ToClient, res, &mut NoFiles);
    }
    for res in responses.chunks(MSS).skip(requests.len().div_ceil(MSS)) {
        parser.feed(Direction::ToClient, res, &mut NoFiles);
    }
    let mut n = 0;
    while let Some(tx) = parser.pop_complete() {
        n += 1;
        parser.recycle(tx);
    }
    n
}

fn bench_http(c: &mut Criterion) {
    let mut group = c.benchmark_group("http");
    for (name, gz) in [("pipelined", false), ("chunked_gzip", true)] {
        let (requests, responses) = conversation(gz);
        group.throughput(Throughput::Bytes((requests.len() + responses.len()) as u64));
        let mut parser = HttpParser::default();
        assert_eq!(parse(&requests, &responses, &mut parser), 200, "{name}");
        group.bench_function(name, |b| {
            b.iter(|| parse(&requests, &responses, &mut parser))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_reassembly, bench_http);
criterion_main!(benches);
