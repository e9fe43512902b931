//! The incremental HTTP/1.x parser of one connection: both directions, any segmentation.
//!
//! Requests create transactions, responses complete them in order (pipelining); bodies are
//! framed by Content-Length, chunked transfer coding (extensions ignored, trailers appended to
//! the headers) or, for responses, the connection's close; Content-Encoding gzip and deflate
//! are undone ([`super::decode`]); interim 1xx responses (100-continue) are skipped; a 2xx
//! answer to CONNECT and a 101 turn the connection into a tunnel that is no longer parsed;
//! HTTP/0.9 requests (no protocol) have no headers and their response is the body until close.
//! Where libhtp (Suricata 7's HTTP parser) has a documented behaviour, this follows it; the
//! comparison with Suricata on real traffic is `tests/suricata_eve.rs`.
//!
//! Must never: trust a length (Content-Length and chunk sizes only bound how much of the
//! arriving data is body; nothing is allocated from them), buffer more than the field limit for
//! a line, keep more than the body limits of a body, or lose data silently (anomalies are
//! [`HttpEvents`], truncation is flagged on the body and the file).

use std::collections::VecDeque;

use crate::app::files::{FileEnd, FileSink, FileStart};
use crate::stream::Direction;

use super::decode::{ContentDecoder, Encodings};
use super::tx::{HttpEvents, HttpTx, Progress};
use super::uri;

/// HTTP parser settings, named after Suricata's `libhtp` configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpConfig {
    /// Decoded request body bytes kept for `http.request_body` (`request-body-limit`, 100 KiB).
    pub request_body_limit: usize,
    /// Decoded response body bytes kept for `http.response_body` and `file.data`
    /// (`response-body-limit`, 100 KiB).
    pub response_body_limit: usize,
    /// Undo gzip and deflate Content-Encoding.
    pub decompress: bool,
    /// Stacked encodings undone at most (`response-body-decompress-layer-limit`, 2).
    pub decompress_layer_limit: usize,
    /// Decompression stops once its output passes this many bytes ...
    pub bomb_limit: u64,
    /// ... while being more than this many times its input (libhtp: 1 MiB and 2048).
    pub bomb_ratio: u64,
    /// Longest request, status or header line kept (libhtp's hard field limit, 18,000).
    pub field_limit: usize,
    /// Distinct headers kept per message.
    pub max_headers: usize,
    /// Transactions kept per connection before new requests are ignored.
    pub max_transactions: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            request_body_limit: 100 * 1024,
            response_body_limit: 100 * 1024,
            decompress: true,
            decompress_layer_limit: 2,
            bomb_limit: 1 << 20,
            bomb_ratio: 2048,
            field_limit: 18_000,
            max_headers: 1024,
            max_transactions: 4096,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Waiting for a request or status line.
    Line,
    Headers,
    Trailers,
    Identity {
        remaining: u64,
    },
    ChunkSize,
    ChunkData {
        remaining: u64,
    },
    /// The line break after a chunk's data.
    ChunkDataEnd,
    /// Response body delimited by the connection's close.
    UntilClose,
    /// Request side after CONNECT: held until the response says tunnel or not.
    WaitConnect,
    /// Tunnelled or after HTTP/0.9: the rest is not HTTP.
    Ignore,
    /// Lost track (gap outside a body, too many transactions): the rest is not parsed.
    Stopped,
}

/// One direction's parser state.
#[derive(Debug)]
struct Side {
    state: State,
    /// A line being assembled across chunks, with its terminator once complete.
    line: Vec<u8>,
    line_cut: bool,
    /// The transaction this side is parsing.
    tx: Option<u64>,
    /// A header waiting for possible continuation lines.
    pending_name: Vec<u8>,
    pending_value: Vec<u8>,
    has_pending: bool,
    decoder: Option<ContentDecoder>,
    file_open: bool,
    /// The file of the current message was closed early (a gap): no second file for the rest.
    file_done: bool,
    /// Request bytes that arrived while waiting for the answer to CONNECT.
    held: Vec<u8>,
    ended: bool,
}

impl Side {
    fn new() -> Side {
        Side {
            state: State::Line,
            line: Vec::new(),
            line_cut: false,
            tx: None,
            pending_name: Vec::new(),
            pending_value: Vec::new(),
            has_pending: false,
            decoder: None,
            file_open: false,
            file_done: false,
            held: Vec::new(),
            ended: false,
        }
    }
}

/// What [`HttpParser`] has, for the caller to decide what to inspect and log.
#[derive(Debug)]
pub struct HttpParser {
    config: HttpConfig,
    txs: VecDeque<HttpTx>,
    /// Id of `txs[0]`.
    first_id: u64,
    next_id: u64,
    /// Id of the transaction the next response belongs to.
    next_response: u64,
    spare: Vec<HttpTx>,
    request: Side,
    response: Side,
    tunnel: bool,
    scratch: Vec<u8>,
}

/// Strips the line terminator: every trailing CR and LF (libhtp's `htp_chomp`).
fn chomp(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b'\r' | b'\n') {
        end -= 1;
    }
    &line[..end]
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t')
}

/// Position of the first byte at or after `from` that is (`space`) or is not (`!space`) a space.
fn skip(line: &[u8], from: usize, space: bool) -> usize {
    line[from..]
        .iter()
        .position(|&c| is_space(c) != space)
        .map_or(line.len(), |p| from + p)
}

/// A Content-Length value: digits with surrounding whitespace.
fn parse_content_length(value: &[u8]) -> Option<u64> {
    let digits = uri::trim(value);
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0')),
    )
}

/// A chunk size line: hexadecimal digits after optional whitespace, ended by anything else
/// (an extension after `;`, whitespace). `None` if there is no digit or it overflows.
fn parse_chunk_size(line: &[u8]) -> Option<u64> {
    let start = skip(line, 0, true);
    let digits = line[start..]
        .iter()
        .take_while(|c| c.is_ascii_hexdigit())
        .count();
    if digits == 0 || digits > 15 {
        return None;
    }
    line[start..start + digits].iter().try_fold(0u64, |n, &d| {
        Some(n * 16 + u64::from((d as char).to_digit(16)?))
    })
}

impl Default for HttpParser {
    fn default() -> Self {
        HttpParser::new(HttpConfig::default())
    }
}

impl HttpParser {
    /// A parser for one connection.
    pub fn new(config: HttpConfig) -> Self {
        HttpParser {
            config,
            txs: VecDeque::new(),
            first_id: 0,
            next_id: 0,
            next_response: 0,
            spare: Vec::new(),
            request: Side::new(),
            response: Side::new(),
            tunnel: false,
            scratch: Vec::new(),
        }
    }

    /// The transactions still held, oldest first.
    pub fn transactions(&self) -> impl Iterator<Item = &HttpTx> {
        self.txs.iter()
    }

    /// The transaction with id `id`, if still held.
    pub fn tx(&self, id: u64) -> Option<&HttpTx> {
        let index = id.checked_sub(self.first_id)?;
        self.txs.get(usize::try_from(index).ok()?)
    }

    fn tx_mut(txs: &mut VecDeque<HttpTx>, first_id: u64, id: u64) -> Option<&mut HttpTx> {
        let index = id.checked_sub(first_id)?;
        txs.get_mut(usize::try_from(index).ok()?)
    }

    /// How many transactions have been started on this connection.
    pub fn tx_count(&self) -> u64 {
        self.next_id
    }

    /// Removes and returns the oldest transaction if both its sides are complete (log it,
    /// then give it back with [`Self::recycle`]).
    pub fn pop_complete(&mut self) -> Option<HttpTx> {
        if self.txs.front()?.is_complete() {
            self.first_id += 1;
            self.txs.pop_front()
        } else {
            None
        }
    }

    /// Gives a transaction back for reuse: its buffers keep their capacity.
    pub fn recycle(&mut self, tx: HttpTx) {
        if self.spare.len() < 8 {
            self.spare.push(tx);
        }
    }

    /// Whether the connection became a tunnel (CONNECT, Upgrade) and is no longer parsed.
    pub fn is_tunnel(&self) -> bool {
        self.tunnel
    }

    fn side(&mut self, direction: Direction) -> &mut Side {
        match direction {
            Direction::ToServer => &mut self.request,
            Direction::ToClient => &mut self.response,
        }
    }

    /// Parses the next in-order bytes of `direction`.
    pub fn feed(&mut self, direction: Direction, mut data: &[u8], files: &mut dyn FileSink) {
        while !data.is_empty() {
            if direction == Direction::ToClient
                && self.response.state == State::Line
                && self.response.line.is_empty()
                && self.tx(self.next_response).is_some_and(|tx| tx.http09)
            {
                // The answer to an HTTP/0.9 request has no status line: all of it is body.
                let id = self.next_response;
                self.response.tx = Some(id);
                if let Some(tx) = Self::tx_mut(&mut self.txs, self.first_id, id) {
                    tx.response.progress = Progress::Body;
                }
                self.response.state = State::UntilClose;
            }
            let state = self.side(direction).state;
            match state {
                State::Line
                | State::Headers
                | State::Trailers
                | State::ChunkSize
                | State::ChunkDataEnd => {
                    let limit = self.config.field_limit;
                    let side = self.side(direction);
                    let (used, complete) = match data.iter().position(|&c| c == b'\n') {
                        Some(lf) => (lf + 1, true),
                        None => (data.len(), false),
                    };
                    let room = limit.saturating_sub(side.line.len());
                    if used > room {
                        side.line_cut = true;
                    }
                    side.line.extend_from_slice(&data[..used.min(room)]);
                    data = &data[used..];
                    if complete {
                        let mut line = std::mem::take(&mut self.side(direction).line);
                        let cut = std::mem::replace(&mut self.side(direction).line_cut, false);
                        self.on_line(direction, &line, cut, files);
                        line.clear();
                        self.side(direction).line = line;
                    }
                }
                State::Identity { remaining } | State::ChunkData { remaining } => {
                    let n = (remaining.min(data.len() as u64)) as usize;
                    self.body_bytes(direction, &data[..n], true, files);
                    data = &data[n..];
                    let left = remaining - n as u64;
                    let side = self.side(direction);
                    match state {
                        State::Identity { .. } if left == 0 => self.body_complete(direction, files),
                        State::Identity { .. } => side.state = State::Identity { remaining: left },
                        _ if left == 0 => side.state = State::ChunkDataEnd,
                        _ => side.state = State::ChunkData { remaining: left },
                    }
                }
                State::UntilClose => {
                    self.body_bytes(direction, data, true, files);
                    data = &[];
                }
                State::WaitConnect => {
                    let room = self
                        .config
                        .field_limit
                        .saturating_sub(self.request.held.len());
                    let keep = data.len().min(room);
                    self.request.held.extend_from_slice(&data[..keep]);
                    data = &[];
                }
                State::Ignore | State::Stopped => data = &[],
            }
        }
    }

    /// `len` bytes of `direction` were lost (a stream gap).
    pub fn gap(&mut self, direction: Direction, len: u64, files: &mut dyn FileSink) {
        let state = self.side(direction).state;
        let tx_id = self.side(direction).tx;
        let mark = |txs: &mut VecDeque<HttpTx>, first: u64| {
            if let Some(tx) = tx_id.and_then(|id| Self::tx_mut(txs, first, id)) {
                tx.events.insert(HttpEvents::BODY_GAP);
                match direction {
                    Direction::ToServer => tx.request.body_truncated = true,
                    Direction::ToClient => tx.response.body_truncated = true,
                }
            }
        };
        match state {
            State::Identity { remaining } | State::ChunkData { remaining } if len <= remaining => {
                mark(&mut self.txs, self.first_id);
                self.lose_body(direction, len, files);
                let left = remaining - len;
                let side = self.side(direction);
                match state {
                    State::Identity { .. } if left == 0 => self.body_complete(direction, files),
                    State::Identity { .. } => side.state = State::Identity { remaining: left },
                    _ if left == 0 => side.state = State::ChunkDataEnd,
                    _ => side.state = State::ChunkData { remaining: left },
                }
            }
            State::UntilClose => {
                mark(&mut self.txs, self.first_id);
                self.lose_body(direction, len, files);
            }
            State::Ignore | State::Stopped => {}
            _ => {
                // Framing lost: nothing after this can be trusted as HTTP.
                if let Some(tx) =
                    tx_id.and_then(|id| Self::tx_mut(&mut self.txs, self.first_id, id))
                {
                    tx.events.insert(HttpEvents::INCOMPLETE);
                }
                self.close_file(direction, FileEnd::Truncated, files);
                self.side(direction).state = State::Stopped;
            }
        }
    }

    /// Body bytes lost in a gap: counted on the wire, the file ends truncated, decoding stops.
    fn lose_body(&mut self, direction: Direction, len: u64, files: &mut dyn FileSink) {
        if let Some(tx) = self
            .side(direction)
            .tx
            .and_then(|id| Self::tx_mut(&mut self.txs, self.first_id, id))
        {
            let msg = match direction {
                Direction::ToServer => &mut tx.request,
                Direction::ToClient => &mut tx.response,
            };
            msg.message_len += len;
        }
        self.side(direction).decoder = None;
        self.close_file(direction, FileEnd::Truncated, files);
    }

    /// The stream of `direction` ended (FIN, RST, end of capture).
    pub fn end(&mut self, direction: Direction, files: &mut dyn FileSink) {
        let side = self.side(direction);
        if side.ended {
            return;
        }
        side.ended = true;
        let state = side.state;
        let tx_id = side.tx;
        match state {
            State::UntilClose => self.body_complete(direction, files),
            State::Line if tx_id.is_none() => {}
            State::Ignore | State::WaitConnect => {}
            _ => {
                if let Some(tx) =
                    tx_id.and_then(|id| Self::tx_mut(&mut self.txs, self.first_id, id))
                {
                    tx.events.insert(HttpEvents::INCOMPLETE);
                    let msg = match direction {
                        Direction::ToServer => &mut tx.request,
                        Direction::ToClient => &mut tx.response,
                    };
                    if msg.progress >= Progress::Body {
                        msg.body_truncated = true;
                    }
                }
                self.close_file(direction, FileEnd::Truncated, files);
                self.finish_side(direction);
            }
        }
        self.side(direction).state = State::Stopped;
        // With the responses over, requests still waiting for one will not get it.
        if direction == Direction::ToClient {
            for tx in self.txs.iter_mut() {
                if tx.response.progress != Progress::Complete
                    && (tx.request.progress == Progress::Complete || self.request.ended)
                {
                    tx.response.progress = Progress::Complete;
                }
            }
        }
        if self.request.ended && self.response.ended {
            for tx in self.txs.iter_mut() {
                tx.request.progress = Progress::Complete;
                tx.response.progress = Progress::Complete;
            }
        }
    }

    /// Marks the side's transaction complete and forgets it.
    fn finish_side(&mut self, direction: Direction) {
        let side = self.side(direction);
        let Some(id) = side.tx.take() else {
            return;
        };
        side.decoder = None;
        side.has_pending = false;
        if let Some(tx) = Self::tx_mut(&mut self.txs, self.first_id, id) {
            match direction {
                Direction::ToServer => tx.request.progress = Progress::Complete,
                Direction::ToClient => tx.response.progress = Progress::Complete,
            }
        }
        if direction == Direction::ToClient {
            self.next_response = self.next_response.max(id + 1);
        }
    }

    fn on_line(&mut self, direction: Direction, raw: &[u8], cut: bool, files: &mut dyn FileSink) {
        let state = self.side(direction).state;
        match (direction, state) {
            (Direction::ToServer, State::Line) => self.request_line(raw, files),
            (Direction::ToClient, State::Line) => self.response_line(raw, files),
            _ => {}
        }
        if cut {
            // The line's transaction: the side's, or the one its start line just created.
            let id = self.side(direction).tx.or(self.next_id.checked_sub(1));
            if let Some(tx) = id.and_then(|id| Self::tx_mut(&mut self.txs, self.first_id, id)) {
                tx.events.insert(HttpEvents::LINE_TOO_LONG);
            }
            if state == State::Line {
                // Without the end of its start line (the protocol) the message cannot be
                // framed; like libhtp, stop parsing this direction.
                self.side(direction).state = State::Stopped;
            }
        }
        match (direction, state) {
            (_, State::Line) => {}
            (_, State::Headers) | (_, State::Trailers) => self.header_line(direction, raw, files),
            (_, State::ChunkSize) => {
                self.count_wire(direction, raw.len() as u64);
                let line = chomp(raw);
                if line.is_empty() {
                    return;
                }
                match parse_chunk_size(line) {
                    Some(0) => {
                        let side = self.side(direction);
                        side.state = State::Trailers;
                        if let Some(tx) = side
                            .tx
                            .and_then(|id| Self::tx_mut(&mut self.txs, self.first_id, id))
                        {
                            match direction {
                                Direction::ToServer => tx.request.progress = Progress::Trailer,
                                Direction::ToClient => tx.response.progress = Progress::Trailer,
                            }
                        }
                    }
                    Some(size) => self.side(direction).state = State::ChunkData { remaining: size },
                    None => {
                        // Not a chunk size: keep what follows as body until the connection
                        // closes, this line included, so that nothing goes uninspected.
                        if let Some(tx) = self
                            .side(direction)
                            .tx
                            .and_then(|id| Self::tx_mut(&mut self.txs, self.first_id, id))
                        {
                            tx.events.insert(HttpEvents::INVALID_CHUNK_SIZE);
                        }
                        self.side(direction).state = State::UntilClose;
                        self.body_bytes(direction, raw, false, files);
                    }
                }
            }
            (_, State::ChunkDataEnd) => {
                self.count_wire(direction, raw.len() as u64);
                self.side(direction).state = State::ChunkSize;
            }
            _ => {}
        }
    }

    /// Adds body bytes on the wire (framing included) to the side's message length.
    fn count_wire(&mut self, direction: Direction, n: u64) {
        if let Some(tx) = self
            .side(direction)
            .tx
            .and_then(|id| Self::tx_mut(&mut self.txs, self.first_id, id))
        {
            match direction {
                Direction::ToServer => tx.request.message_len += n,
                Direction::ToClient => tx.response.message_len += n,
            }
        }
    }

    fn new_tx(&mut self) -> Option<u64> {
        if self.txs.len() >= self.config.max_transactions {
            return None;
        }
        let id = self.next_id;
        self.next_id += 1;
        let mut tx = self.spare.pop().unwrap_or_default();
        tx.reset(id);
        self.txs.push_back(tx);
        Some(id)
    }

    fn request_line(&mut self, raw: &[u8], _files: &mut dyn FileSink) {
        let line = chomp(raw);
        if line.iter().all(|&c| is_space(c)) {
            // Empty lines between requests are ignored.
            return;
        }
        let Some(id) = self.new_tx() else {
            self.request.state = State::Stopped;
            return;
        };
        self.request.tx = Some(id);
        let tx = Self::tx_mut(&mut self.txs, self.first_id, id).expect("just added");
        tx.request.line.extend_from_slice(line);
        tx.request.progress = Progress::Line;
        let line = &tx.request.line;
        let method_start = skip(line, 0, true);
        let method_end = skip(line, method_start, false);
        let uri_start = skip(line, method_end, true);
        let uri_end = skip(line, uri_start, false);
        let proto_start = skip(line, uri_end, true);
        let mut proto_end = line.len();
        while proto_end > proto_start && is_space(line[proto_end - 1]) {
            proto_end -= 1;
        }
        tx.method = Some((method_start as u32, method_end as u32));
        if uri_end > uri_start {
            tx.uri = Some((uri_start as u32, uri_end as u32));
        }
        let connect = line[method_start..method_end].eq_ignore_ascii_case(b"CONNECT");
        let raw_uri = &line[uri_start..uri_end];
        uri::normalized_uri(raw_uri, connect, &mut tx.uri_normalized);
        if proto_end > proto_start {
            tx.request.protocol = Some((proto_start as u32, proto_end as u32));
            self.request.state = State::Headers;
        } else {
            // HTTP/0.9: no headers, no body; what follows on this side is not parsed.
            tx.http09 = true;
            tx.port = 0;
            tx.request.progress = Progress::Complete;
            self.request.tx = None;
            self.request.state = State::Ignore;
        }
    }

    fn response_line(&mut self, raw: &[u8], files: &mut dyn FileSink) {
        let line = chomp(raw);
        if line.is_empty() {
            return;
        }
        let id = match self.tx(self.next_response) {
            Some(_) => self.next_response,
            None => {
                let Some(id) = self.new_tx() else {
                    self.response.state = State::Stopped;
                    return;
                };
                let tx = Self::tx_mut(&mut self.txs, self.first_id, id).expect("just added");
                tx.events.insert(HttpEvents::UNSOLICITED_RESPONSE);
                tx.request.progress = Progress::Complete;
                self.next_response = id;
                id
            }
        };
        self.response.tx = Some(id);
        let tx = Self::tx_mut(&mut self.txs, self.first_id, id).expect("checked above");
        if tx.http09 || line.len() < 4 || !line[..4].eq_ignore_ascii_case(b"http") {
            // No status line: everything from here to the close is the body.
            if !tx.http09 {
                tx.events.insert(HttpEvents::RESPONSE_LINE_INVALID);
            }
            tx.response.progress = Progress::Body;
            self.response.state = State::UntilClose;
            self.body_bytes(Direction::ToClient, raw, true, files);
            return;
        }
        // A final response after an interim one replaces it.
        tx.response.line.clear();
        tx.response.headers.clear();
        tx.response.headers_raw.clear();
        tx.response.line.extend_from_slice(line);
        tx.response.progress = Progress::Line;
        let line = &tx.response.line;
        let proto_end = skip(line, 0, false);
        let status_start = skip(line, proto_end, true);
        let status_end = skip(line, status_start, false);
        let msg_start = skip(line, status_end, true);
        tx.response.protocol = Some((0, proto_end as u32));
        tx.status = Some((status_start as u32, status_end as u32));
        tx.status_message = Some((msg_start as u32, line.len() as u32));
        let status = &line[status_start..status_end];
        tx.status_number = (status.len() == 3 && status.iter().all(u8::is_ascii_digit))
            .then(|| {
                status
                    .iter()
                    .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'))
            })
            .filter(|&n| n >= 100);
        self.response.state = State::Headers;
    }

    fn header_line(&mut self, direction: Direction, raw: &[u8], files: &mut dyn FileSink) {
        let side = match direction {
            Direction::ToServer => &mut self.request,
            Direction::ToClient => &mut self.response,
        };
        let Some(id) = side.tx else {
            return;
        };
        let Some(tx) = Self::tx_mut(&mut self.txs, self.first_id, id) else {
            return;
        };
        let trailer = side.state == State::Trailers;
        let msg = match direction {
            Direction::ToServer => &mut tx.request,
            Direction::ToClient => &mut tx.response,
        };
        msg.headers_raw.extend_from_slice(raw);
        let line = chomp(raw);
        let max_headers = self.config.max_headers;
        if line.is_empty() {
            if side.has_pending {
                side.has_pending = false;
                if !msg.headers.add(
                    &side.pending_name,
                    uri::trim(&side.pending_value),
                    max_headers,
                ) {
                    tx.events.insert(HttpEvents::TOO_MANY_HEADERS);
                }
            }
            if trailer {
                self.body_complete(direction, files);
            } else {
                self.headers_complete(direction, files);
            }
            return;
        }
        if is_space(line[0]) && side.has_pending {
            // A folded continuation: appended as it is, leading whitespace included.
            side.pending_value.extend_from_slice(line);
            return;
        }
        if side.has_pending
            && !msg.headers.add(
                &side.pending_name,
                uri::trim(&side.pending_value),
                max_headers,
            )
        {
            tx.events.insert(HttpEvents::TOO_MANY_HEADERS);
        }
        side.pending_name.clear();
        side.pending_value.clear();
        match line.iter().position(|&c| c == b':') {
            Some(colon) => {
                let mut name = &line[..colon];
                while let [rest @ .., last] = name
                    && is_space(*last)
                {
                    name = rest;
                }
                side.pending_name.extend_from_slice(name);
                side.pending_value.extend_from_slice(&line[colon + 1..]);
            }
            None => {
                tx.events.insert(HttpEvents::HEADER_WITHOUT_COLON);
                side.pending_value.extend_from_slice(line);
            }
        }
        side.has_pending = true;
    }

    fn headers_complete(&mut self, direction: Direction, files: &mut dyn FileSink) {
        match direction {
            Direction::ToServer => self.request_headers_complete(files),
            Direction::ToClient => self.response_headers_complete(files),
        }
    }

    /// Sets up body decoding and framing for the message of `direction` after its headers.
    fn start_body(
        &mut self,
        direction: Direction,
        id: u64,
        until_close: bool,
        files: &mut dyn FileSink,
    ) {
        let config = self.config;
        let Some(tx) = Self::tx_mut(&mut self.txs, self.first_id, id) else {
            return;
        };
        let msg = match direction {
            Direction::ToServer => &mut tx.request,
            Direction::ToClient => &mut tx.response,
        };
        msg.progress = Progress::Body;
        let chunked = msg
            .headers
            .get(b"transfer-encoding")
            .is_some_and(|te| te.windows(7).any(|w| w.eq_ignore_ascii_case(b"chunked")));
        let length = msg.headers.get(b"content-length").map(parse_content_length);
        let encodings = msg
            .headers
            .get(b"content-encoding")
            .filter(|_| config.decompress)
            .map(|value| Encodings::parse(value, config.decompress_layer_limit));
        let mut events = HttpEvents::default();
        if let Some(enc) = &encodings {
            if enc.unknown {
                events.insert(HttpEvents::UNKNOWN_ENCODING);
            }
            if enc.too_many {
                events.insert(HttpEvents::TOO_MANY_ENCODINGS);
            }
        }
        if chunked && length.is_some() {
            events.insert(HttpEvents::CHUNKED_AND_LENGTH);
        }
        if !chunked && matches!(length, Some(None)) {
            events.insert(HttpEvents::INVALID_CONTENT_LENGTH);
        }
        tx.events.insert(events);
        let side = self.side(direction);
        side.decoder = encodings
            .as_ref()
            .and_then(|e| ContentDecoder::new(e, config.bomb_limit, config.bomb_ratio));
        side.file_open = false;
        side.file_done = false;
        let next = if chunked {
            Some(State::ChunkSize)
        } else {
            match length {
                Some(Some(0)) => None,
                Some(Some(n)) => Some(State::Identity { remaining: n }),
                Some(None) | None => until_close.then_some(State::UntilClose),
            }
        };
        match next {
            Some(state) => side.state = state,
            None => self.body_complete(direction, files),
        }
    }

    fn request_headers_complete(&mut self, files: &mut dyn FileSink) {
        let Some(id) = self.request.tx else {
            return;
        };
        let tx = Self::tx_mut(&mut self.txs, self.first_id, id).expect("side's tx");
        // Host and port: an absolute URI's authority wins over the Host header.
        // Field by field, so that the host can be written while the line is read.
        let line = &tx.request.line;
        let span = |s: Option<(u32, u32)>| s.and_then(|(a, b)| line.get(a as usize..b as usize));
        let raw_uri = span(tx.uri).unwrap_or_default();
        let connect = span(tx.method).is_some_and(|m| m.eq_ignore_ascii_case(b"CONNECT"));
        let parts = if connect {
            let (host, port) = uri::split_host_port(raw_uri);
            uri::UriParts {
                hostname: Some(host),
                port,
                ..uri::UriParts::default()
            }
        } else {
            uri::parse_uri(raw_uri)
        };
        self.scratch.clear();
        let mut port = -1;
        let mut has_host = false;
        if let Some(host) = parts.hostname {
            has_host = true;
            uri::urldecode_fragment(host, &mut tx.host);
            tx.host.make_ascii_lowercase();
            while tx.host.last() == Some(&b'.') {
                tx.host.pop();
            }
            // Suricata's http.host.raw of an absolute URI is libhtp's normalised host too.
            self.scratch.extend_from_slice(&tx.host);
            // With a Host header too, the URI wins, as in libhtp.
            port = parts.port.and_then(uri::parse_port).map_or(-1, i32::from);
        } else if let Some(value) = tx.request.headers.get(b"host") {
            has_host = true;
            self.scratch.extend_from_slice(value);
            let (host, port_text) = uri::split_host_port(uri::trim(value));
            tx.host.extend_from_slice(uri::trim(host));
            tx.host.make_ascii_lowercase();
            port = port_text.and_then(uri::parse_port).map_or(-1, i32::from);
            if value.windows(2).any(|w| w == b", ") {
                tx.events.insert(HttpEvents::HOST_AMBIGUOUS);
            }
        }
        tx.has_host = has_host;
        tx.host_raw.clear();
        tx.host_raw.extend_from_slice(&self.scratch);
        tx.port = port;
        if connect {
            tx.request.progress = Progress::Complete;
            self.request.state = State::WaitConnect;
            return;
        }
        self.start_body(Direction::ToServer, id, false, files);
    }

    fn response_headers_complete(&mut self, files: &mut dyn FileSink) {
        let Some(id) = self.response.tx else {
            return;
        };
        let tx = Self::tx_mut(&mut self.txs, self.first_id, id).expect("side's tx");
        let status = tx.status_number.unwrap_or(0);
        let method_is = |m: &[u8]| tx.method().is_some_and(|x| x.eq_ignore_ascii_case(m));
        let (head, connect) = (method_is(b"HEAD"), method_is(b"CONNECT"));
        if (100..200).contains(&status) && status != 101 {
            // Interim response (100 Continue, 102, 103): the real one follows.
            tx.interim_responses = tx.interim_responses.saturating_add(1);
            tx.response.progress = Progress::NotStarted;
            self.response.state = State::Line;
            return;
        }
        if status == 101 || (connect && (200..300).contains(&status)) {
            // The connection now carries another protocol.
            tx.response.progress = Progress::Complete;
            self.finish_side(Direction::ToClient);
            self.response.state = State::Ignore;
            self.request.state = State::Ignore;
            self.request.held.clear();
            self.tunnel = true;
            return;
        }
        if connect {
            // Refused CONNECT: the request side resumes with what it held.
            tx.response.progress = Progress::Body;
            self.body_complete(Direction::ToClient, files);
            if self.request.state == State::WaitConnect {
                self.request.state = State::Line;
                self.request.tx = None;
                let held = std::mem::take(&mut self.request.held);
                self.feed(Direction::ToServer, &held, files);
            }
            return;
        }
        if head || status == 204 || status == 304 {
            tx.response.progress = Progress::Body;
            self.body_complete(Direction::ToClient, files);
            return;
        }
        self.start_body(Direction::ToClient, id, true, files);
    }

    /// Hands decoded body bytes to the transaction (up to the body limit) and the file sink.
    /// `wire` says whether `raw` counts toward the message length on the wire.
    fn body_bytes(
        &mut self,
        direction: Direction,
        raw: &[u8],
        wire: bool,
        files: &mut dyn FileSink,
    ) {
        let (side, limit) = match direction {
            Direction::ToServer => (&mut self.request, self.config.request_body_limit),
            Direction::ToClient => (&mut self.response, self.config.response_body_limit),
        };
        let Some(id) = side.tx else {
            return;
        };
        let Some(tx) = Self::tx_mut(&mut self.txs, self.first_id, id) else {
            return;
        };
        if wire {
            let msg = match direction {
                Direction::ToServer => &mut tx.request,
                Direction::ToClient => &mut tx.response,
            };
            msg.message_len += raw.len() as u64;
        }
        let file_open = &mut side.file_open;
        let file_done = side.file_done;
        let mut deliver = |tx: &mut HttpTx, bytes: &[u8]| {
            if bytes.is_empty() {
                return;
            }
            if !*file_open && !file_done {
                *file_open = true;
                let path_end = tx
                    .uri_normalized
                    .iter()
                    .position(|&c| c == b'?' || c == b'#')
                    .unwrap_or(tx.uri_normalized.len());
                let msg = tx.message(direction);
                let disposition = msg
                    .headers
                    .get(b"content-disposition")
                    .and_then(filename_of);
                files.file_start(&FileStart {
                    tx_id: tx.id,
                    direction,
                    name: disposition.unwrap_or(&tx.uri_normalized[..path_end]),
                    content_type: msg.headers.get(b"content-type"),
                });
            }
            if *file_open {
                files.file_data(tx.id, direction, bytes);
            }
            let msg = match direction {
                Direction::ToServer => &mut tx.request,
                Direction::ToClient => &mut tx.response,
            };
            msg.body_len += bytes.len() as u64;
            let room = limit.saturating_sub(msg.body.len());
            if bytes.len() > room {
                msg.body_truncated = true;
            }
            msg.body.extend_from_slice(&bytes[..bytes.len().min(room)]);
        };
        match side.decoder.as_mut() {
            Some(decoder) => {
                let status = decoder.decode(raw, &mut |out| deliver(tx, out));
                if status.failed {
                    tx.events.insert(HttpEvents::DECOMPRESSION_FAILED);
                }
                if status.bomb {
                    tx.events.insert(HttpEvents::COMPRESSION_BOMB);
                    let msg = match direction {
                        Direction::ToServer => &mut tx.request,
                        Direction::ToClient => &mut tx.response,
                    };
                    msg.body_truncated = true;
                }
            }
            None => deliver(tx, raw),
        }
    }

    fn close_file(&mut self, direction: Direction, end: FileEnd, files: &mut dyn FileSink) {
        let side = self.side(direction);
        if !side.file_open {
            return;
        }
        side.file_open = false;
        side.file_done = true;
        let Some(id) = side.tx else {
            return;
        };
        if let Some(tx) = self.tx(id) {
            let size = tx.message(direction).body_len;
            files.file_end(id, direction, size, end);
        }
    }

    /// The body of `direction`'s message is complete: the transaction side is done and the
    /// parser waits for the next message.
    fn body_complete(&mut self, direction: Direction, files: &mut dyn FileSink) {
        let truncated = self
            .side(direction)
            .tx
            .and_then(|id| self.tx(id))
            .is_some_and(|tx| {
                tx.message(direction).body_truncated
                    && tx.events.contains(HttpEvents::COMPRESSION_BOMB)
            });
        self.close_file(
            direction,
            if truncated {
                FileEnd::Truncated
            } else {
                FileEnd::Complete
            },
            files,
        );
        self.finish_side(direction);
        let side = self.side(direction);
        if !matches!(side.state, State::Ignore | State::Stopped) {
            side.state = State::Line;
        }
    }
}

/// The `filename` parameter of a Content-Disposition value.
fn filename_of(value: &[u8]) -> Option<&[u8]> {
    let at = value
        .windows(9)
        .position(|w| w.eq_ignore_ascii_case(b"filename="))?;
    let rest = &value[at + 9..];
    let name = match rest.strip_prefix(b"\"") {
        Some(quoted) => {
            &quoted[..quoted
                .iter()
                .position(|&c| c == b'"')
                .unwrap_or(quoted.len())]
        }
        None => &rest[..rest.iter().position(|&c| c == b';').unwrap_or(rest.len())],
    };
    Some(uri::trim(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::files::NoFiles;
    use crate::app::http::HttpBuffer;
    use Direction::{ToClient, ToServer};

    /// Feeds a conversation, each side in pieces of `piece` bytes (requests first), and ends
    /// both directions.
    fn run(config: HttpConfig, request: &[u8], response: &[u8], piece: usize) -> HttpParser {
        let mut p = HttpParser::new(config);
        for chunk in request.chunks(piece.max(1)) {
            p.feed(ToServer, chunk, &mut NoFiles);
        }
        for chunk in response.chunks(piece.max(1)) {
            p.feed(ToClient, chunk, &mut NoFiles);
        }
        p.end(ToServer, &mut NoFiles);
        p.end(ToClient, &mut NoFiles);
        p
    }

    fn buf(tx: &HttpTx, which: HttpBuffer, dir: Direction) -> Option<String> {
        let mut scratch = Vec::new();
        tx.buffer(which, dir, &mut scratch)
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    fn txs(p: &HttpParser) -> Vec<&HttpTx> {
        p.transactions().collect()
    }

    const GET: &[u8] = b"GET /index.html?a=%41 HTTP/1.1\r\nHost: Example.COM:8080\r\nUser-Agent: test/1\r\nCookie: c=1\r\n\r\n";
    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nServer: unit\r\nContent-Type: text/html\r\nContent-Length: 5\r\nSet-Cookie: s=2\r\n\r\nhello";

    #[test]
    fn a_simple_exchange_fills_every_buffer() {
        for piece in [1, 3, 1000] {
            let p = run(HttpConfig::default(), GET, OK, piece);
            let t = txs(&p);
            assert_eq!(t.len(), 1);
            let tx = t[0];
            assert!(tx.is_complete());
            assert_eq!(
                buf(tx, HttpBuffer::Method, ToServer).as_deref(),
                Some("GET")
            );
            assert_eq!(
                buf(tx, HttpBuffer::Uri, ToServer).as_deref(),
                Some("/index.html?a=A")
            );
            assert_eq!(
                buf(tx, HttpBuffer::UriRaw, ToServer).as_deref(),
                Some("/index.html?a=%41")
            );
            assert_eq!(
                buf(tx, HttpBuffer::Host, ToServer).as_deref(),
                Some("example.com")
            );
            assert_eq!(
                buf(tx, HttpBuffer::HostRaw, ToServer).as_deref(),
                Some("Example.COM:8080")
            );
            assert_eq!(tx.port, 8080);
            assert_eq!(
                buf(tx, HttpBuffer::UserAgent, ToServer).as_deref(),
                Some("test/1")
            );
            assert_eq!(
                buf(tx, HttpBuffer::Cookie, ToServer).as_deref(),
                Some("c=1")
            );
            assert_eq!(
                buf(tx, HttpBuffer::Cookie, ToClient).as_deref(),
                Some("s=2")
            );
            assert_eq!(
                buf(tx, HttpBuffer::Header, ToServer).as_deref(),
                Some("Host: Example.COM:8080\r\nUser-Agent: test/1\r\n")
            );
            assert_eq!(
                buf(tx, HttpBuffer::HeaderRaw, ToServer).as_deref(),
                Some("Host: Example.COM:8080\r\nUser-Agent: test/1\r\nCookie: c=1\r\n\r\n")
            );
            assert_eq!(
                buf(tx, HttpBuffer::HeaderNames, ToServer).as_deref(),
                Some("\r\nHost\r\nUser-Agent\r\nCookie\r\n\r\n")
            );
            assert_eq!(
                buf(tx, HttpBuffer::StatCode, ToClient).as_deref(),
                Some("200")
            );
            assert_eq!(
                buf(tx, HttpBuffer::StatMsg, ToClient).as_deref(),
                Some("OK")
            );
            assert_eq!(
                buf(tx, HttpBuffer::ResponseLine, ToClient).as_deref(),
                Some("HTTP/1.1 200 OK")
            );
            assert_eq!(
                buf(tx, HttpBuffer::Protocol, ToClient).as_deref(),
                Some("HTTP/1.1")
            );
            assert_eq!(
                buf(tx, HttpBuffer::Server, ToClient).as_deref(),
                Some("unit")
            );
            assert_eq!(
                buf(tx, HttpBuffer::ContentType, ToClient).as_deref(),
                Some("text/html")
            );
            assert_eq!(
                buf(tx, HttpBuffer::ResponseBody, ToClient).as_deref(),
                Some("hello")
            );
            assert_eq!(
                buf(tx, HttpBuffer::FileData, ToClient).as_deref(),
                Some("hello")
            );
            assert_eq!(buf(tx, HttpBuffer::RequestBody, ToServer), None);
            assert_eq!(tx.response.message_len, 5);
            assert_eq!(tx.events, HttpEvents::default());
        }
    }

    #[test]
    fn pipelined_requests_match_responses_in_order() {
        let requests = b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n";
        let responses = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nAHTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nCC";
        for piece in [1, 7, 500] {
            let p = run(HttpConfig::default(), requests, responses, piece);
            let t = txs(&p);
            assert_eq!(t.len(), 3);
            let got: Vec<_> = t
                .iter()
                .map(|tx| {
                    (
                        buf(tx, HttpBuffer::Uri, ToServer).unwrap(),
                        tx.status_number,
                        tx.response.body.clone(),
                    )
                })
                .collect();
            assert_eq!(
                got,
                [
                    ("/1".into(), Some(200), b"A".to_vec()),
                    ("/2".into(), Some(200), Vec::new()),
                    ("/3".into(), Some(404), b"CC".to_vec())
                ]
            );
        }
    }

    #[test]
    fn chunked_bodies_with_extensions_and_trailers() {
        let request = b"GET / HTTP/1.1\r\n\r\n";
        let response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=\"x\"\r\nhello\r\n6\r\n world\r\n0\r\nX-Trail: 1\r\n\r\n";
        for piece in [1, 2, 1000] {
            let p = run(HttpConfig::default(), request, response, piece);
            let tx = txs(&p)[0];
            assert_eq!(tx.response.body, b"hello world");
            assert_eq!(tx.response.headers.get(b"x-trail"), Some(&b"1"[..]));
            assert!(
                buf(tx, HttpBuffer::HeaderRaw, ToClient)
                    .unwrap()
                    .ends_with("\r\n\r\nX-Trail: 1\r\n\r\n")
            );
            // Suricata's `length`: size lines, data and their line breaks, and the last "0\r\n".
            assert_eq!(tx.response.message_len, 11 + 5 + 2 + 3 + 6 + 2 + 3);
            assert!(tx.is_complete());
        }
    }

    #[test]
    fn a_bad_chunk_size_makes_the_rest_body() {
        let response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nmore data";
        let p = run(
            HttpConfig::default(),
            b"GET / HTTP/1.1\r\n\r\n",
            response,
            4,
        );
        let tx = txs(&p)[0];
        assert!(tx.events.contains(HttpEvents::INVALID_CHUNK_SIZE));
        assert_eq!(tx.response.body, b"zz\r\nmore data");
    }

    #[test]
    fn folded_and_repeated_headers() {
        let request = b"GET / HTTP/1.1\r\nX-Folded: first\r\n  second\r\n\tthird\r\nX-R: one\r\nx-r: two\r\nX-Trailing: value   \r\nNoColon\r\n\r\n";
        let p = run(HttpConfig::default(), request, b"", 3);
        let tx = txs(&p)[0];
        assert_eq!(
            tx.request.headers.get(b"x-folded"),
            Some(&b"first  second\tthird"[..])
        );
        assert_eq!(tx.request.headers.get(b"x-r"), Some(&b"one, two"[..]));
        assert_eq!(tx.request.headers.get(b"x-trailing"), Some(&b"value"[..]));
        assert!(tx.events.contains(HttpEvents::HEADER_WITHOUT_COLON));
        assert_eq!(tx.request.headers.get(b""), Some(&b"NoColon"[..]));
    }

    #[test]
    fn continue_responses_are_interim() {
        let request = b"POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody";
        let response =
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
        let p = run(HttpConfig::default(), request, response, 5);
        let t = txs(&p);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].status_number, Some(201));
        assert_eq!(t[0].interim_responses, 1);
        assert_eq!(t[0].request.body, b"body");
        assert_eq!(t[0].response.body, b"ok");
        assert_eq!(
            buf(t[0], HttpBuffer::ResponseLine, ToClient).as_deref(),
            Some("HTTP/1.1 201 Created")
        );
    }

    #[test]
    fn bodies_until_close_and_without_body() {
        let requests = b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n";
        let responses = b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\nHTTP/1.0 200 OK\r\n\r\nuntil the end";
        let p = run(HttpConfig::default(), requests, responses, 6);
        let t = txs(&p);
        assert_eq!(t.len(), 3);
        assert_eq!(t[0].status_number, Some(204));
        assert_eq!(t[1].status_number, Some(304));
        assert_eq!(t[2].response.body, b"until the end");
        assert!(t.iter().all(|tx| tx.is_complete()));
        assert!(!t[2].events.contains(HttpEvents::INCOMPLETE));
    }

    #[test]
    fn http09_has_no_headers_and_a_raw_response() {
        let p = run(
            HttpConfig::default(),
            b"GET /simple\r\n",
            b"<html>raw</html>",
            2,
        );
        let tx = txs(&p)[0];
        assert!(tx.http09);
        assert_eq!(tx.port, 0);
        assert_eq!(buf(tx, HttpBuffer::Protocol, ToServer), None);
        assert_eq!(
            buf(tx, HttpBuffer::RequestLine, ToServer).as_deref(),
            Some("GET /simple")
        );
        assert_eq!(buf(tx, HttpBuffer::StatCode, ToClient), None);
        assert_eq!(tx.response.body, b"<html>raw</html>");
        assert_eq!(tx.response.message_len, 16);
    }

    #[test]
    fn connect_tunnels_only_when_accepted() {
        let p = run(
            HttpConfig::default(),
            b"CONNECT host:443 HTTP/1.1\r\nHost: host:443\r\n\r\n\x16\x03\x01binary",
            b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03more",
            4,
        );
        assert!(p.is_tunnel());
        assert_eq!(p.tx_count(), 1);
        let tx = txs(&p)[0];
        assert_eq!(buf(tx, HttpBuffer::Host, ToServer).as_deref(), Some("host"));
        assert_eq!(tx.port, 443);
        assert_eq!(buf(tx, HttpBuffer::Uri, ToServer).as_deref(), Some(""));

        let mut p = HttpParser::default();
        p.feed(
            ToServer,
            b"CONNECT host:443 HTTP/1.1\r\n\r\nGET /next HTTP/1.1\r\n\r\n",
            &mut NoFiles,
        );
        assert_eq!(p.tx_count(), 1, "held until the answer");
        p.feed(
            ToClient,
            b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n",
            &mut NoFiles,
        );
        assert_eq!(p.tx_count(), 2);
        assert_eq!(txs(&p)[1].uri_raw(), Some(&b"/next"[..]));
    }

    #[test]
    fn gzip_bodies_are_decoded_in_any_segmentation() {
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write;
        let body = b"compressed content ".repeat(30);
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(&body).unwrap();
        let gz = e.finish().unwrap();
        let mut response = format!(
            "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
            gz.len()
        )
        .into_bytes();
        response.extend_from_slice(&gz);
        for piece in [1, 13, 5000] {
            let p = run(
                HttpConfig::default(),
                b"GET / HTTP/1.1\r\n\r\n",
                &response,
                piece,
            );
            let tx = txs(&p)[0];
            assert_eq!(tx.response.body, body);
            assert_eq!(tx.response.message_len, gz.len() as u64);
        }
    }

    #[test]
    fn body_limit_and_absolute_uris() {
        let config = HttpConfig {
            request_body_limit: 4,
            ..HttpConfig::default()
        };
        let p = run(
            config,
            b"POST http://Proxy.Example.:81/x/../y?q HTTP/1.1\r\nHost: other\r\nContent-Length: 10\r\n\r\n0123456789",
            b"",
            3,
        );
        let tx = txs(&p)[0];
        assert_eq!(tx.request.body, b"0123");
        assert_eq!(tx.request.body_len, 10);
        assert!(tx.request.body_truncated);
        assert_eq!(
            buf(tx, HttpBuffer::Host, ToServer).as_deref(),
            Some("proxy.example")
        );
        // As Suricata: an absolute URI's host is normalised in http.host.raw too.
        assert_eq!(
            buf(tx, HttpBuffer::HostRaw, ToServer).as_deref(),
            Some("proxy.example")
        );
        assert_eq!(buf(tx, HttpBuffer::Uri, ToServer).as_deref(), Some("/y?q"));
        assert_eq!(tx.port, 81);
    }

    #[derive(Default)]
    struct Recorder(Vec<String>);

    impl FileSink for Recorder {
        fn file_start(&mut self, f: &FileStart<'_>) {
            self.0.push(format!(
                "start {} {:?} {}",
                f.tx_id,
                f.direction,
                String::from_utf8_lossy(f.name)
            ));
        }
        fn file_data(&mut self, _: u64, _: Direction, data: &[u8]) {
            self.0
                .push(format!("data {}", String::from_utf8_lossy(data)));
        }
        fn file_end(&mut self, tx: u64, _: Direction, size: u64, end: FileEnd) {
            self.0.push(format!("end {tx} {size} {end:?}"));
        }
    }

    #[test]
    fn files_stream_and_gaps_truncate_them() {
        let mut p = HttpParser::default();
        let mut files = Recorder::default();
        p.feed(
            ToServer,
            b"GET /dl/a.bin?x=1 HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
            &mut files,
        );
        p.feed(
            ToClient,
            b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc",
            &mut files,
        );
        p.feed(ToClient, b"def", &mut files);
        p.feed(
            ToClient,
            b"HTTP/1.1 200 OK\r\nContent-Disposition: attachment; filename=\"x.exe\"\r\nContent-Length: 8\r\n\r\n12",
            &mut files,
        );
        p.gap(ToClient, 3, &mut files);
        p.feed(ToClient, b"678", &mut files);
        assert_eq!(
            files.0,
            [
                "start 0 ToClient /dl/a.bin",
                "data abc",
                "data def",
                "end 0 6 Complete",
                "start 1 ToClient x.exe",
                "data 12",
                "end 1 2 Truncated"
            ]
        );
        let tx = p.tx(1).unwrap();
        assert!(tx.events.contains(HttpEvents::BODY_GAP));
        assert_eq!(tx.response.body, b"12678");
        assert!(tx.is_complete());
        // A gap where the framing is needed stops the side.
        p.gap(ToServer, 5, &mut files);
        p.feed(ToServer, b"GET /c HTTP/1.1\r\n\r\n", &mut files);
        assert_eq!(p.tx_count(), 2);
    }

    #[test]
    fn long_lines_are_cut_not_buffered() {
        let config = HttpConfig {
            field_limit: 64,
            ..HttpConfig::default()
        };
        let mut request = b"GET /".to_vec();
        request.extend(std::iter::repeat_n(b'a', 1000));
        request.extend_from_slice(b" HTTP/1.1\r\nHost: h\r\n\r\n");
        let p = run(config, &request, b"", 100);
        let tx = txs(&p)[0];
        assert!(tx.request.line.len() <= 64);
        assert!(tx.events.contains(HttpEvents::LINE_TOO_LONG));
        assert_eq!(tx.request.headers.get(b"host"), None, "the side stopped");

        let mut request = b"GET / HTTP/1.1\r\nX-Long: ".to_vec();
        request.extend(std::iter::repeat_n(b'b', 1000));
        request.extend_from_slice(b"\r\nHost: h\r\n\r\n");
        let p = run(config, &request, b"", 100);
        let tx = txs(&p)[0];
        assert!(tx.events.contains(HttpEvents::LINE_TOO_LONG));
        assert_eq!(
            tx.request.headers.get(b"x-long").map(<[u8]>::len),
            Some(64 - 8)
        );
        assert_eq!(tx.request.headers.get(b"host"), Some(&b"h"[..]));
    }

    #[test]
    fn completed_transactions_are_popped_and_recycled() {
        let mut p = HttpParser::default();
        p.feed(ToServer, GET, &mut NoFiles);
        assert!(p.pop_complete().is_none());
        p.feed(ToClient, OK, &mut NoFiles);
        let tx = p.pop_complete().expect("complete");
        assert_eq!(tx.id, 0);
        p.recycle(tx);
        p.feed(ToServer, GET, &mut NoFiles);
        assert_eq!(p.tx(1).unwrap().id, 1);
        assert!(p.tx(0).is_none());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::app::files::NoFiles;
    use crate::app::http::HttpBuffer;
    use proptest::prelude::*;

    const CONVERSATION: (&[u8], &[u8]) = (
        b"GET /a/./b%2f?x=1 HTTP/1.1\r\nHost: h\r\nX-F: a\r\n b\r\n\r\nPOST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /0.9\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nxyzHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;e\r\nqq\r\n0\r\nT: 1\r\n\r\n",
    );

    /// Everything a rule or a log could see of the transactions.
    fn summary(p: &HttpParser) -> Vec<Vec<Option<Vec<u8>>>> {
        use HttpBuffer::*;
        let mut scratch = Vec::new();
        p.transactions()
            .map(|tx| {
                let mut row = Vec::new();
                for which in [
                    Uri,
                    UriRaw,
                    Method,
                    Header,
                    HeaderRaw,
                    Host,
                    RequestBody,
                    RequestLine,
                ] {
                    row.push(
                        tx.buffer(which, Direction::ToServer, &mut scratch)
                            .map(<[u8]>::to_vec),
                    );
                }
                for which in [Header, HeaderRaw, StatCode, ResponseBody, ResponseLine] {
                    row.push(
                        tx.buffer(which, Direction::ToClient, &mut scratch)
                            .map(<[u8]>::to_vec),
                    );
                }
                row.push(Some(tx.response.message_len.to_be_bytes().to_vec()));
                row
            })
            .collect()
    }

    fn feed_cut(p: &mut HttpParser, dir: Direction, data: &[u8], cuts: &[usize]) {
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
        points.sort_unstable();
        let mut at = 0;
        for &cut in &points {
            p.feed(dir, &data[at..cut], &mut NoFiles);
            at = cut;
        }
        p.feed(dir, &data[at..], &mut NoFiles);
    }

    proptest! {
        /// How the stream is cut into chunks never changes the transactions.
        #[test]
        fn segmentation_does_not_change_transactions(
            req_cuts in proptest::collection::vec(any::<usize>(), 0..30),
            res_cuts in proptest::collection::vec(any::<usize>(), 0..30),
        ) {
            let whole = {
                let mut p = HttpParser::default();
                p.feed(Direction::ToServer, CONVERSATION.0, &mut NoFiles);
                p.feed(Direction::ToClient, CONVERSATION.1, &mut NoFiles);
                summary(&p)
            };
            prop_assert_eq!(whole.len(), 3);
            let mut p = HttpParser::default();
            feed_cut(&mut p, Direction::ToServer, CONVERSATION.0, &req_cuts);
            feed_cut(&mut p, Direction::ToClient, CONVERSATION.1, &res_cuts);
            prop_assert_eq!(summary(&p), whole);
        }

        /// Arbitrary bytes in both directions: no panic, bounded transactions and lines.
        #[test]
        fn arbitrary_bytes_are_survived(
            req in proptest::collection::vec(any::<u8>(), 0..2000),
            res in proptest::collection::vec(any::<u8>(), 0..2000),
            gap in 0u64..100,
        ) {
            let config = HttpConfig { field_limit: 256, ..HttpConfig::default() };
            let mut p = HttpParser::new(config);
            p.feed(Direction::ToServer, &req, &mut NoFiles);
            p.feed(Direction::ToClient, &res, &mut NoFiles);
            p.gap(Direction::ToClient, gap, &mut NoFiles);
            p.feed(Direction::ToClient, &res, &mut NoFiles);
            p.end(Direction::ToServer, &mut NoFiles);
            p.end(Direction::ToClient, &mut NoFiles);
            for tx in p.transactions() {
                prop_assert!(tx.request.line.len() <= 256);
                prop_assert!(tx.request.body.len() <= config.request_body_limit);
                prop_assert!(tx.is_complete());
            }
        }
    }
}
