//! The application layer of one connection: protocol detection, then the protocol's parser.
//!
//! [`AppLayer`] takes what the stream tracker hands on ([`AppChunk`]s of both directions) or,
//! for UDP, datagrams. Until a protocol is detected it keeps each direction's first bytes
//! (at most [`super::detect::MAX_PROBE`] plus one chunk) and replays them into the parser once
//! it knows which one, to-server bytes first. After detection fails, or a tunnel starts, it
//! says so through [`AppLayer::wants_stream`] so the caller can stop handing it data (and stop
//! the tracker from holding it).

use crate::stream::{AppChunk, Direction};

use super::detect::{AppProto, ProtoDetector, Transport};
use super::dns::DnsState;
use super::files::FileSink;
use super::http::{HttpConfig, HttpParser};
use super::tls::TlsState;

/// Settings of the application-layer parsers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppConfig {
    /// HTTP settings.
    pub http: HttpConfig,
}

/// The parser of a connection, once its protocol is known.
#[derive(Debug)]
pub enum AppParser {
    /// Still detecting.
    Detecting,
    /// HTTP/1.x.
    Http(Box<HttpParser>),
    /// DNS.
    Dns(Box<DnsState>),
    /// TLS.
    Tls(Box<TlsState>),
    /// Detection failed: nothing is parsed.
    Unknown,
}

/// Detection and parsing for one connection.
#[derive(Debug)]
pub struct AppLayer {
    config: AppConfig,
    detector: ProtoDetector,
    parser: AppParser,
    /// Bytes of each direction seen before detection decided.
    pending: [Vec<u8>; 2],
    /// Each direction's stream ended before detection decided.
    ended: [bool; 2],
    dns_changed: Vec<u64>,
}

impl AppLayer {
    /// The application layer of a new connection over `transport`.
    pub fn new(transport: Transport, config: &AppConfig) -> Self {
        AppLayer {
            config: *config,
            detector: ProtoDetector::new(transport),
            parser: AppParser::Detecting,
            pending: [Vec::new(), Vec::new()],
            ended: [false; 2],
            dns_changed: Vec::new(),
        }
    }

    /// The detected protocol, once known.
    pub fn proto(&self) -> Option<AppProto> {
        self.detector.result()
    }

    /// The parser.
    pub fn parser(&self) -> &AppParser {
        &self.parser
    }

    /// The HTTP parser, if the connection is HTTP.
    pub fn http(&self) -> Option<&HttpParser> {
        match &self.parser {
            AppParser::Http(p) => Some(p),
            _ => None,
        }
    }

    /// The HTTP parser, mutably (to pop and recycle transactions).
    pub fn http_mut(&mut self) -> Option<&mut HttpParser> {
        match &mut self.parser {
            AppParser::Http(p) => Some(p),
            _ => None,
        }
    }

    /// The DNS state, if the connection is DNS.
    pub fn dns(&self) -> Option<&DnsState> {
        match &self.parser {
            AppParser::Dns(p) => Some(p),
            _ => None,
        }
    }

    /// The DNS state, mutably.
    pub fn dns_mut(&mut self) -> Option<&mut DnsState> {
        match &mut self.parser {
            AppParser::Dns(p) => Some(p),
            _ => None,
        }
    }

    /// The TLS state, if the connection is TLS.
    pub fn tls(&self) -> Option<&TlsState> {
        match &self.parser {
            AppParser::Tls(p) => Some(p),
            _ => None,
        }
    }

    /// Whether the stream of `direction` is still of use: false once detection failed, or an
    /// HTTP connection became a tunnel. The caller may then turn off app-layer delivery in the
    /// tracker for that direction.
    pub fn wants_stream(&self, direction: Direction) -> bool {
        let _ = direction;
        match &self.parser {
            AppParser::Unknown => false,
            AppParser::Http(p) => !p.is_tunnel(),
            _ => true,
        }
    }

    /// DNS transactions that changed during the last call (for logging their records).
    pub fn dns_changed(&self) -> &[u64] {
        &self.dns_changed
    }

    /// Takes the next piece of `direction`'s stream (a TCP connection).
    pub fn on_chunk(
        &mut self,
        direction: Direction,
        chunk: AppChunk<'_>,
        files: &mut dyn FileSink,
    ) {
        self.dns_changed.clear();
        let d = direction.index();
        if matches!(self.parser, AppParser::Detecting) {
            match chunk {
                AppChunk::Data { data, .. } => {
                    self.pending[d].extend_from_slice(data);
                    if self.detector.feed(direction, data).is_some() {
                        self.start_parser(files);
                    }
                }
                AppChunk::Gap { .. } => {
                    self.detector.fail(direction);
                    self.pending[d].clear();
                    if self.detector.result().is_some() {
                        self.start_parser(files);
                    }
                }
                AppChunk::End(_) => {
                    self.ended[d] = true;
                    self.detector.fail(direction);
                    if self.detector.result().is_some() {
                        self.start_parser(files);
                    }
                }
            }
            return;
        }
        self.deliver(direction, chunk, files);
    }

    /// Takes one UDP datagram travelling in `direction`.
    pub fn on_datagram(&mut self, direction: Direction, payload: &[u8]) {
        self.dns_changed.clear();
        if matches!(self.parser, AppParser::Detecting) {
            match self.detector.feed(direction, payload) {
                Some(AppProto::Dns) => self.parser = AppParser::Dns(Box::default()),
                Some(_) => self.parser = AppParser::Unknown,
                None => return,
            }
        }
        if let AppParser::Dns(dns) = &mut self.parser
            && let Ok(id) = dns.on_message(direction, payload)
        {
            self.dns_changed.push(id);
        }
    }

    /// Creates the parser for the detected protocol and replays what was held.
    fn start_parser(&mut self, files: &mut dyn FileSink) {
        self.parser = match self.detector.result() {
            Some(AppProto::Http) => AppParser::Http(Box::new(HttpParser::new(self.config.http))),
            Some(AppProto::Dns) => AppParser::Dns(Box::default()),
            Some(AppProto::Tls) => AppParser::Tls(Box::default()),
            Some(AppProto::Unknown) | None => AppParser::Unknown,
        };
        for direction in Direction::BOTH {
            let held = std::mem::take(&mut self.pending[direction.index()]);
            if !held.is_empty() {
                self.deliver(
                    direction,
                    AppChunk::Data {
                        offset: 0,
                        data: &held,
                    },
                    files,
                );
            }
            if self.ended[direction.index()] {
                self.deliver(
                    direction,
                    AppChunk::End(crate::stream::StreamEnd::Finish),
                    files,
                );
            }
        }
    }

    fn deliver(&mut self, direction: Direction, chunk: AppChunk<'_>, files: &mut dyn FileSink) {
        match (&mut self.parser, chunk) {
            (AppParser::Http(p), AppChunk::Data { data, .. }) => p.feed(direction, data, files),
            (AppParser::Http(p), AppChunk::Gap { len, .. }) => p.gap(direction, len, files),
            (AppParser::Http(p), AppChunk::End(_)) => p.end(direction, files),
            (AppParser::Dns(p), AppChunk::Data { data, .. }) => {
                p.on_stream(direction, data, &mut self.dns_changed)
            }
            (AppParser::Dns(p), AppChunk::Gap { .. }) => p.on_gap(direction),
            (AppParser::Tls(p), AppChunk::Data { data, .. }) => p.feed(direction, data),
            (AppParser::Tls(p), AppChunk::Gap { .. }) => p.gap(direction),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::files::NoFiles;
    use crate::stream::StreamEnd;
    use Direction::{ToClient, ToServer};

    fn data(data: &[u8]) -> AppChunk<'_> {
        AppChunk::Data { offset: 0, data }
    }

    #[test]
    fn held_bytes_are_replayed_after_detection() {
        let mut app = AppLayer::new(Transport::Tcp, &AppConfig::default());
        app.on_chunk(ToServer, data(b"GE"), &mut NoFiles);
        assert!(app.http().is_none());
        app.on_chunk(ToServer, data(b"T /x HTTP/1.1\r\n\r\n"), &mut NoFiles);
        app.on_chunk(
            ToClient,
            data(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
            &mut NoFiles,
        );
        let http = app.http().expect("http");
        let tx = http.tx(0).unwrap();
        assert_eq!(tx.uri_raw(), Some(&b"/x"[..]));
        assert!(tx.is_complete());
        assert_eq!(app.proto(), Some(AppProto::Http));
    }

    #[test]
    fn failed_detection_stops_the_stream() {
        let mut app = AppLayer::new(Transport::Tcp, &AppConfig::default());
        app.on_chunk(ToServer, data(b"SSH-2.0-x\r\n"), &mut NoFiles);
        app.on_chunk(ToClient, AppChunk::End(StreamEnd::Fin), &mut NoFiles);
        assert_eq!(app.proto(), None, "too short to rule out DNS over TCP yet");
        app.on_chunk(ToServer, AppChunk::End(StreamEnd::Fin), &mut NoFiles);
        assert_eq!(app.proto(), Some(AppProto::Unknown));
        assert!(!app.wants_stream(ToServer));
    }

    #[test]
    fn udp_dns() {
        use crate::app::dns::tests::{message, name};
        let mut q = name("a.test");
        q.extend_from_slice(&[0, 1, 0, 1]);
        let mut app = AppLayer::new(Transport::Udp, &AppConfig::default());
        app.on_datagram(ToServer, &message(3, 0x0100, [1, 0, 0, 0], &q));
        assert_eq!(app.dns_changed(), [0]);
        app.on_datagram(ToClient, &message(3, 0x8180, [1, 0, 0, 0], &q));
        assert_eq!(app.dns_changed(), [1]);
        assert!(app.dns().unwrap().tx(1).unwrap().response.is_some());
    }
}
