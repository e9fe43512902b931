//! One HTTP transaction (a request and its response) and the Suricata sticky buffers it
//! exposes.
//!
//! A transaction keeps what libhtp's `htp_tx_t` keeps for Suricata: the request and response
//! lines, header tables (a name seen twice is one entry whose values are joined with `", "`,
//! as libhtp does; trailers of chunked bodies are appended), the raw header blocks, and the
//! decoded bodies up to the configured limits. [`HttpTx::buffer`] returns each sticky buffer
//! with the content Suricata 7 gives it; where Suricata builds a buffer (`http.header`,
//! `http.header_names`, `http.start`), the bytes are written into a scratch vector the caller
//! reuses, so inspection allocates nothing once warm. Transactions are recycled by the parser
//! with their capacity.

use crate::stream::Direction;

/// How far one side of a transaction has been parsed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Progress {
    /// Nothing seen yet.
    #[default]
    NotStarted,
    /// The request or status line has been seen.
    Line,
    /// The headers are complete; the body (if any) is being read.
    Body,
    /// The trailer of a chunked body is being read.
    Trailer,
    /// This side of the transaction is complete.
    Complete,
}

/// One header: the name as first seen, the value with surrounding whitespace removed, folded
/// continuation lines appended as they were (without the line break), repeats joined.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpHeader {
    /// The name.
    pub name: Vec<u8>,
    /// The value.
    pub value: Vec<u8>,
    /// How many times the name appeared.
    pub count: u16,
}

/// A header table in order of first appearance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpHeaders {
    entries: Vec<HttpHeader>,
    used: usize,
}

/// libhtp keeps at most this many repetitions of headers per message.
const MAX_REPETITIONS: u16 = 64;

impl HttpHeaders {
    /// The headers, in order.
    pub fn iter(&self) -> impl Iterator<Item = &HttpHeader> {
        self.entries[..self.used].iter()
    }

    /// How many distinct names.
    pub fn len(&self) -> usize {
        self.used
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    /// The value of `name` (ASCII case-insensitive).
    pub fn get(&self, name: &[u8]) -> Option<&[u8]> {
        self.iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_slice())
    }

    pub(crate) fn clear(&mut self) {
        self.used = 0;
    }

    /// Adds a header the way libhtp's table does: a repeated name joins its value to the
    /// first's with `", "`, except `Content-Length`, whose first value stays. Returns false
    /// when the table is full or the repetition limit is reached (the header is dropped).
    pub(crate) fn add(&mut self, name: &[u8], value: &[u8], max_headers: usize) -> bool {
        if let Some(existing) = self.entries[..self.used]
            .iter_mut()
            .find(|h| h.name.eq_ignore_ascii_case(name))
        {
            if existing.count >= MAX_REPETITIONS {
                return false;
            }
            existing.count += 1;
            if !name.eq_ignore_ascii_case(b"content-length") {
                existing.value.extend_from_slice(b", ");
                existing.value.extend_from_slice(value);
            }
            return true;
        }
        if self.used >= max_headers {
            return false;
        }
        if self.used == self.entries.len() {
            self.entries.push(HttpHeader::default());
        }
        let slot = &mut self.entries[self.used];
        slot.name.clear();
        slot.name.extend_from_slice(name);
        slot.value.clear();
        slot.value.extend_from_slice(value);
        slot.count = 1;
        self.used += 1;
        true
    }
}

/// Anomalies seen while parsing, as bits (libhtp's warnings and Suricata's `http` app-layer
/// events, for those the parser can tell).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HttpEvents(pub u32);

impl HttpEvents {
    /// A chunk size line that is not a hexadecimal number: the rest of the body is read until
    /// the connection closes.
    pub const INVALID_CHUNK_SIZE: HttpEvents = HttpEvents(1 << 0);
    /// A header line without a colon (kept, with an empty name).
    pub const HEADER_WITHOUT_COLON: HttpEvents = HttpEvents(1 << 1);
    /// A line longer than the field limit (cut).
    pub const LINE_TOO_LONG: HttpEvents = HttpEvents(1 << 2);
    /// More headers than the limit (the rest dropped).
    pub const TOO_MANY_HEADERS: HttpEvents = HttpEvents(1 << 3);
    /// A Content-Length that is not a number.
    pub const INVALID_CONTENT_LENGTH: HttpEvents = HttpEvents(1 << 4);
    /// Both Transfer-Encoding: chunked and Content-Length (chunked wins).
    pub const CHUNKED_AND_LENGTH: HttpEvents = HttpEvents(1 << 5);
    /// A Content-Encoding other than gzip or deflate: the body is kept as sent.
    pub const UNKNOWN_ENCODING: HttpEvents = HttpEvents(1 << 6);
    /// Decompression failed: the rest of the body is kept as sent.
    pub const DECOMPRESSION_FAILED: HttpEvents = HttpEvents(1 << 7);
    /// The decompression bomb limit stopped decompression; the body is truncated.
    pub const COMPRESSION_BOMB: HttpEvents = HttpEvents(1 << 8);
    /// More content encodings than the layer limit (the outer ones are not decoded).
    pub const TOO_MANY_ENCODINGS: HttpEvents = HttpEvents(1 << 9);
    /// Bytes of the body were lost in a stream gap.
    pub const BODY_GAP: HttpEvents = HttpEvents(1 << 10);
    /// A response line that is not a status line: it and the rest are the body.
    pub const RESPONSE_LINE_INVALID: HttpEvents = HttpEvents(1 << 11);
    /// A response without a request to match.
    pub const UNSOLICITED_RESPONSE: HttpEvents = HttpEvents(1 << 12);
    /// The stream ended before this side was complete.
    pub const INCOMPLETE: HttpEvents = HttpEvents(1 << 13);
    /// A repeated Host header, or a Host header that disagrees with an absolute URI.
    pub const HOST_AMBIGUOUS: HttpEvents = HttpEvents(1 << 14);

    /// Whether every bit of `other` is set.
    pub fn contains(self, other: HttpEvents) -> bool {
        self.0 & other.0 == other.0
    }

    pub(crate) fn insert(&mut self, other: HttpEvents) {
        self.0 |= other.0;
    }
}

/// A Suricata HTTP sticky buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HttpBuffer {
    /// `http.uri`: the normalised request URI.
    Uri,
    /// `http.uri.raw`: the request URI as sent.
    UriRaw,
    /// `http.method`.
    Method,
    /// `http.protocol`: the protocol of the request or status line.
    Protocol,
    /// `http.request_line`: the request line without its line break.
    RequestLine,
    /// `http.response_line`: the status line without its line break.
    ResponseLine,
    /// `http.header`: `Name: value\r\n` for every header but Cookie (request) or Set-Cookie
    /// (response), trailers included.
    Header,
    /// `http.header.raw`: the header block as sent, with its final empty line, then the
    /// trailer block as sent.
    HeaderRaw,
    /// `http.header_names`: `\r\n`, each name followed by `\r\n`, then `\r\n`.
    HeaderNames,
    /// `http.start`: the request or status line, `\r\n`, every header as in `http.header`
    /// (cookies included), and `\r\n`.
    Start,
    /// `http.host`: the host of an absolute URI, else of the Host header, lowercased, without
    /// port.
    Host,
    /// `http.host.raw`: the Host header's value as sent; for an absolute URI, its host
    /// normalised as in `http.host` (what Suricata 7 gives).
    HostRaw,
    /// `http.user_agent`.
    UserAgent,
    /// `http.cookie`: Cookie (request) or Set-Cookie (response).
    Cookie,
    /// `http.referer`.
    Referer,
    /// `http.content_type` of the request or response.
    ContentType,
    /// `http.content_len` of the request or response.
    ContentLen,
    /// `http.server`.
    Server,
    /// `http.location`.
    Location,
    /// `http.accept`.
    Accept,
    /// `http.accept_enc`.
    AcceptEnc,
    /// `http.accept_lang`.
    AcceptLang,
    /// `http.connection`.
    Connection,
    /// `http.stat_code`: the status code as sent.
    StatCode,
    /// `http.stat_msg`: the reason phrase.
    StatMsg,
    /// `http.request_body`: the decoded request body, up to the request body limit.
    RequestBody,
    /// `http.response_body`: the decoded response body, up to the response body limit.
    ResponseBody,
    /// `file.data`: the decoded body of the direction asked for.
    FileData,
}

/// A range of a line, as offsets.
type Span = (u32, u32);

fn span_of(span: Option<Span>, line: &[u8]) -> Option<&[u8]> {
    let (a, b) = span?;
    line.get(a as usize..b as usize)
}

/// One side (request or response) of a transaction.
#[derive(Clone, Debug, Default)]
pub struct HttpMessage {
    /// The request or status line, without its line break.
    pub line: Vec<u8>,
    pub(crate) protocol: Option<Span>,
    /// The headers (and trailers).
    pub headers: HttpHeaders,
    /// The header block as sent, then the trailer block.
    pub headers_raw: Vec<u8>,
    /// The decoded body, up to the body limit.
    pub body: Vec<u8>,
    /// Decoded body bytes seen, stored or not.
    pub body_len: u64,
    /// Body bytes on the wire, chunk framing included (Suricata's `length`).
    pub message_len: u64,
    /// How far this side has been parsed.
    pub progress: Progress,
    /// The body was cut by the limit, a gap, the bomb limit or the stream's end.
    pub body_truncated: bool,
}

impl HttpMessage {
    fn clear(&mut self) {
        self.line.clear();
        self.protocol = None;
        self.headers.clear();
        self.headers_raw.clear();
        self.body.clear();
        self.body_len = 0;
        self.message_len = 0;
        self.progress = Progress::NotStarted;
        self.body_truncated = false;
    }

    /// The protocol of the line (`HTTP/1.1`), if it has one.
    pub fn protocol(&self) -> Option<&[u8]> {
        span_of(self.protocol, &self.line)
    }
}

/// One HTTP transaction.
#[derive(Clone, Debug, Default)]
pub struct HttpTx {
    /// Position in the connection, from 0 (Suricata's `tx_id`).
    pub id: u64,
    /// The request.
    pub request: HttpMessage,
    /// The response.
    pub response: HttpMessage,
    pub(crate) method: Option<Span>,
    pub(crate) uri: Option<Span>,
    /// The normalised URI (`http.uri`).
    pub uri_normalized: Vec<u8>,
    /// `http.host`.
    pub host: Vec<u8>,
    /// `http.host.raw`.
    pub host_raw: Vec<u8>,
    pub(crate) has_host: bool,
    /// Port from the Host header or absolute URI (`-1` absent, `0` for HTTP/0.9, as libhtp).
    pub port: i32,
    pub(crate) status: Option<Span>,
    pub(crate) status_message: Option<Span>,
    /// The status code as a number, when it is one.
    pub status_number: Option<u16>,
    /// The request was HTTP/0.9 (a request line without protocol, no headers).
    pub http09: bool,
    /// Anomalies.
    pub events: HttpEvents,
    /// Some interim (1xx) responses were skipped before this response.
    pub interim_responses: u8,
}

impl HttpTx {
    pub(crate) fn reset(&mut self, id: u64) {
        self.id = id;
        self.request.clear();
        self.response.clear();
        self.method = None;
        self.uri = None;
        self.uri_normalized.clear();
        self.host.clear();
        self.host_raw.clear();
        self.has_host = false;
        self.port = -1;
        self.status = None;
        self.status_message = None;
        self.status_number = None;
        self.http09 = false;
        self.events = HttpEvents::default();
        self.interim_responses = 0;
    }

    /// The request method.
    pub fn method(&self) -> Option<&[u8]> {
        span_of(self.method, &self.request.line)
    }

    /// The request URI as sent.
    pub fn uri_raw(&self) -> Option<&[u8]> {
        span_of(self.uri, &self.request.line)
    }

    /// The status code as sent.
    pub fn status(&self) -> Option<&[u8]> {
        span_of(self.status, &self.response.line)
    }

    /// The reason phrase.
    pub fn status_message(&self) -> Option<&[u8]> {
        span_of(self.status_message, &self.response.line)
    }

    /// The normalised host, if the request named one.
    pub fn hostname(&self) -> Option<&[u8]> {
        self.has_host.then_some(self.host.as_slice())
    }

    /// Both sides are complete.
    pub fn is_complete(&self) -> bool {
        self.request.progress == Progress::Complete && self.response.progress == Progress::Complete
    }

    /// The message of `direction` (the request to the server, the response to the client).
    pub fn message(&self, direction: Direction) -> &HttpMessage {
        match direction {
            Direction::ToServer => &self.request,
            Direction::ToClient => &self.response,
        }
    }

    /// The sticky buffer `which` for the message travelling in `direction`, or `None` when the
    /// transaction does not have it (yet). Buffers that are built rather than stored are
    /// written into `scratch`, which the caller keeps and reuses.
    pub fn buffer<'a>(
        &'a self,
        which: HttpBuffer,
        direction: Direction,
        scratch: &'a mut Vec<u8>,
    ) -> Option<&'a [u8]> {
        use HttpBuffer::*;
        let msg = self.message(direction);
        let headers_done = msg.progress >= Progress::Body;
        let request_header = |name: &[u8]| {
            (self.request.progress >= Progress::Body)
                .then(|| self.request.headers.get(name))
                .flatten()
        };
        let response_header = |name: &[u8]| {
            (self.response.progress >= Progress::Body)
                .then(|| self.response.headers.get(name))
                .flatten()
        };
        match which {
            Uri => self.uri.map(|_| self.uri_normalized.as_slice()),
            UriRaw => self.uri_raw(),
            Method => self.method(),
            Protocol => msg.protocol(),
            RequestLine => {
                (self.request.progress >= Progress::Line).then_some(&self.request.line[..])
            }
            ResponseLine => (self.response.progress >= Progress::Line && self.status.is_some())
                .then_some(&self.response.line[..]),
            Header => {
                if !headers_done {
                    return None;
                }
                let skip: &[u8] = match direction {
                    Direction::ToServer => b"cookie",
                    Direction::ToClient => b"set-cookie",
                };
                scratch.clear();
                for h in msg
                    .headers
                    .iter()
                    .filter(|h| !h.name.eq_ignore_ascii_case(skip))
                {
                    write_header(scratch, h);
                }
                Some(&scratch[..])
            }
            HeaderRaw => headers_done.then_some(&msg.headers_raw[..]),
            HeaderNames => {
                if !headers_done {
                    return None;
                }
                scratch.clear();
                scratch.extend_from_slice(b"\r\n");
                for h in msg.headers.iter() {
                    scratch.extend_from_slice(&h.name);
                    scratch.extend_from_slice(b"\r\n");
                }
                scratch.extend_from_slice(b"\r\n");
                Some(&scratch[..])
            }
            Start => {
                if !headers_done {
                    return None;
                }
                scratch.clear();
                scratch.extend_from_slice(&msg.line);
                scratch.extend_from_slice(b"\r\n");
                for h in msg.headers.iter() {
                    write_header(scratch, h);
                }
                scratch.extend_from_slice(b"\r\n");
                Some(&scratch[..])
            }
            Host => self.hostname(),
            HostRaw => self.has_host.then_some(&self.host_raw[..]),
            UserAgent => request_header(b"user-agent"),
            Referer => request_header(b"referer"),
            Accept => request_header(b"accept"),
            AcceptEnc => request_header(b"accept-encoding"),
            AcceptLang => request_header(b"accept-language"),
            Connection => request_header(b"connection"),
            Cookie => match direction {
                Direction::ToServer => request_header(b"cookie"),
                Direction::ToClient => response_header(b"set-cookie"),
            },
            ContentType => headers_done
                .then(|| msg.headers.get(b"content-type"))
                .flatten(),
            ContentLen => headers_done
                .then(|| msg.headers.get(b"content-length"))
                .flatten(),
            Server => response_header(b"server"),
            Location => response_header(b"location"),
            StatCode => self.status(),
            StatMsg => self.status_message(),
            RequestBody => (self.request.body_len > 0).then_some(&self.request.body[..]),
            ResponseBody => (self.response.body_len > 0).then_some(&self.response.body[..]),
            FileData => (msg.body_len > 0).then_some(&msg.body[..]),
        }
    }
}

fn write_header(out: &mut Vec<u8>, h: &HttpHeader) {
    out.extend_from_slice(&h.name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(&h.value);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_headers_join_like_libhtp() {
        let mut table = HttpHeaders::default();
        assert!(table.add(b"X-Repeat", b"one", 8));
        assert!(table.add(b"x-repeat", b"two", 8));
        assert!(table.add(b"Content-Length", b"5", 8));
        assert!(table.add(b"content-length", b"7", 8));
        assert_eq!(table.get(b"X-REPEAT"), Some(&b"one, two"[..]));
        assert_eq!(table.get(b"content-length"), Some(&b"5"[..]));
        assert_eq!(table.len(), 2);
        assert!(table.add(b"A", b"1", 3));
        assert!(!table.add(b"B", b"2", 3), "table full");
        table.clear();
        assert!(table.is_empty());
        assert!(table.add(b"C", b"3", 3));
        assert_eq!(
            table.iter().map(|h| h.name.clone()).collect::<Vec<_>>(),
            [b"C".to_vec()]
        );
    }
}
