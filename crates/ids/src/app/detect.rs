//! Application-protocol detection by content, not port, per direction.
//!
//! Each direction's first bytes are offered to the probers of the connection's transport, in
//! the order of [`PROBERS`]; the first that recognises them names the protocol of the whole
//! connection (Suricata's rule: whichever direction decides first, usually the client's). A
//! direction whose first [`MAX_PROBE`] bytes no prober wants, or that starts with a gap, has
//! failed; when both have, the connection is [`AppProto::Unknown`]. Adding a protocol (SMTP,
//! FTP, SSH, SMB, DCERPC) is a variant of [`AppProto`] and one entry in [`PROBERS`].
//!
//! Probers look at a prefix only and never allocate; the detector buffers at most
//! [`MAX_PROBE`] bytes per direction.

use crate::stream::Direction;

use super::dns::DnsMessage;
use super::tls::TlsState;

/// An application protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AppProto {
    /// HTTP/1.x.
    Http,
    /// DNS.
    Dns,
    /// TLS (and SSLv3).
    Tls,
    /// Detection ran and no prober recognised the traffic.
    Unknown,
}

impl AppProto {
    /// The protocol's name in rules and logs (`http`, `dns`, `tls`, `unknown`).
    pub fn name(self) -> &'static str {
        match self {
            AppProto::Http => "http",
            AppProto::Dns => "dns",
            AppProto::Tls => "tls",
            AppProto::Unknown => "unknown",
        }
    }

    /// The name Suricata writes in EVE's `app_proto`: `failed` for a connection whose
    /// detection failed.
    pub fn eve_name(self) -> &'static str {
        match self {
            AppProto::Unknown => "failed",
            other => other.name(),
        }
    }
}

/// The transport a connection runs over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// A TCP stream (in-order chunks from the reassembler).
    Tcp,
    /// UDP datagrams.
    Udp,
}

/// A prober's answer about a prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// This is the protocol.
    Match,
    /// This is not the protocol.
    NoMatch,
    /// Too few bytes to tell.
    NeedMore,
}

/// One protocol's recogniser.
#[derive(Clone, Copy, Debug)]
pub struct Prober {
    /// The protocol it recognises.
    pub proto: AppProto,
    /// The transport it applies to.
    pub transport: Transport,
    /// Looks at the first bytes of one direction (for UDP: one datagram).
    pub probe: fn(&[u8], Direction) -> Probe,
}

/// Bytes of a direction looked at, at most.
pub const MAX_PROBE: usize = 256;

/// The probers, in the order they are asked.
pub const PROBERS: &[Prober] = &[
    Prober {
        proto: AppProto::Http,
        transport: Transport::Tcp,
        probe: probe_http,
    },
    Prober {
        proto: AppProto::Tls,
        transport: Transport::Tcp,
        probe: probe_tls,
    },
    Prober {
        proto: AppProto::Dns,
        transport: Transport::Tcp,
        probe: probe_dns_tcp,
    },
    Prober {
        proto: AppProto::Dns,
        transport: Transport::Udp,
        probe: probe_dns_udp,
    },
];

/// Request methods Suricata's HTTP detection knows (followed by a space or tab).
const HTTP_METHODS: &[&[u8]] = &[
    b"GET",
    b"PUT",
    b"POST",
    b"HEAD",
    b"TRACE",
    b"OPTIONS",
    b"CONNECT",
    b"DELETE",
    b"PATCH",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"CHECKOUT",
    b"UNCHECKOUT",
    b"CHECKIN",
    b"UPDATE",
    b"LABEL",
    b"REPORT",
    b"MKWORKSPACE",
    b"MKACTIVITY",
    b"MERGE",
    b"INVALID",
    b"VERSION-CONTROL",
    b"BASELINE-CONTROL",
];

/// HTTP: a known method and a space or tab to the server; `HTTP/` to the client.
pub fn probe_http(data: &[u8], direction: Direction) -> Probe {
    match direction {
        Direction::ToServer => {
            let mut need_more = false;
            for method in HTTP_METHODS {
                match data.get(method.len()) {
                    Some(&sep) if data.starts_with(method) && (sep == b' ' || sep == b'\t') => {
                        return Probe::Match;
                    }
                    None if method.starts_with(data) => need_more = true,
                    _ => {}
                }
            }
            if need_more {
                Probe::NeedMore
            } else {
                Probe::NoMatch
            }
        }
        Direction::ToClient => {
            if data.len() < 5 {
                if b"HTTP/".starts_with(data) {
                    Probe::NeedMore
                } else {
                    Probe::NoMatch
                }
            } else if data.starts_with(b"HTTP/") {
                Probe::Match
            } else {
                Probe::NoMatch
            }
        }
    }
}

/// TLS: a handshake record header.
pub fn probe_tls(data: &[u8], _direction: Direction) -> Probe {
    match TlsState::probe(data) {
        Some(true) => Probe::Match,
        Some(false) => Probe::NoMatch,
        None => Probe::NeedMore,
    }
}

/// DNS over TCP: a length, then a plausible request (or, to the client, a response).
pub fn probe_dns_tcp(data: &[u8], direction: Direction) -> Probe {
    let Some(len) = data
        .get(..2)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
    else {
        return Probe::NeedMore;
    };
    if len < 12 {
        return Probe::NoMatch;
    }
    let body = &data[2..];
    if body.len() >= 12 && !plausible_dns_header(&body[..12], direction) {
        return Probe::NoMatch;
    }
    if body.len() < len.min(MAX_PROBE - 2) {
        return Probe::NeedMore;
    }
    probe_dns_udp(&body[..len.min(body.len())], direction)
}

/// A DNS header that could start a request (to the server) or a response (to the client).
fn plausible_dns_header(header: &[u8], direction: Direction) -> bool {
    let flags = u16::from_be_bytes([header[2], header[3]]);
    let qdcount = u16::from_be_bytes([header[4], header[5]]);
    let response = flags & 0x8000 != 0;
    response == (direction == Direction::ToClient)
        && (flags >> 11) & 0xf <= 5
        && (1..=16).contains(&qdcount)
}

/// DNS over UDP: a plausible request, or to the client a plausible response.
pub fn probe_dns_udp(data: &[u8], direction: Direction) -> Probe {
    let ok = match direction {
        Direction::ToServer => DnsMessage::probe_request(data),
        Direction::ToClient => DnsMessage::probe_response(data),
    };
    if ok { Probe::Match } else { Probe::NoMatch }
}

/// Detection state of one connection.
#[derive(Debug)]
pub struct ProtoDetector {
    transport: Transport,
    result: Option<AppProto>,
    prefix: [Vec<u8>; 2],
    failed: [bool; 2],
}

impl ProtoDetector {
    /// A detector for a new connection.
    pub fn new(transport: Transport) -> Self {
        ProtoDetector {
            transport,
            result: None,
            prefix: [Vec::new(), Vec::new()],
            failed: [false; 2],
        }
    }

    /// The protocol, once decided.
    pub fn result(&self) -> Option<AppProto> {
        self.result
    }

    /// Offers the next bytes of `direction` (for UDP, one datagram). Returns the protocol once
    /// decided.
    pub fn feed(&mut self, direction: Direction, data: &[u8]) -> Option<AppProto> {
        if self.result.is_some() || self.failed[direction.index()] {
            return self.result;
        }
        let d = direction.index();
        let prefix: &[u8] = if self.transport == Transport::Udp {
            &data[..data.len().min(MAX_PROBE)]
        } else {
            let room = MAX_PROBE - self.prefix[d].len();
            self.prefix[d].extend_from_slice(&data[..data.len().min(room)]);
            &self.prefix[d]
        };
        let mut need_more = false;
        for prober in PROBERS.iter().filter(|p| p.transport == self.transport) {
            match (prober.probe)(prefix, direction) {
                Probe::Match => {
                    self.result = Some(prober.proto);
                    self.prefix = [Vec::new(), Vec::new()];
                    return self.result;
                }
                Probe::NeedMore => need_more = true,
                Probe::NoMatch => {}
            }
        }
        let full = self.transport == Transport::Udp || prefix.len() >= MAX_PROBE;
        if !need_more || full {
            self.fail(direction);
        }
        self.result
    }

    /// A gap at the start of `direction`: it cannot be probed.
    pub fn fail(&mut self, direction: Direction) {
        self.failed[direction.index()] = true;
        self.prefix[direction.index()] = Vec::new();
        if self.failed == [true, true] && self.result.is_none() {
            self.result = Some(AppProto::Unknown);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Direction::{ToClient, ToServer};

    #[test]
    fn content_not_port_decides() {
        let mut d = ProtoDetector::new(Transport::Tcp);
        assert_eq!(d.feed(ToServer, b"GE"), None);
        assert_eq!(d.feed(ToServer, b"T /x HTTP/1.1\r\n"), Some(AppProto::Http));

        let mut d = ProtoDetector::new(Transport::Tcp);
        assert_eq!(
            d.feed(ToClient, b"HTTP/1.1 200 OK\r\n"),
            Some(AppProto::Http)
        );

        let mut d = ProtoDetector::new(Transport::Tcp);
        assert_eq!(
            d.feed(ToServer, b"\x16\x03\x01\x00\x10"),
            Some(AppProto::Tls)
        );

        let mut d = ProtoDetector::new(Transport::Tcp);
        assert_eq!(d.feed(ToServer, b"SSH-2.0-OpenSSH_9.2\r\n"), None);
        assert_eq!(
            d.feed(ToClient, b"SSH-2.0-OpenSSH_9.2\r\n"),
            Some(AppProto::Unknown)
        );
        assert_eq!(AppProto::Unknown.eve_name(), "failed");
    }

    #[test]
    fn dns_over_tcp_and_udp() {
        use crate::app::dns::tests::{message, name};
        let mut q = name("example.com");
        q.extend_from_slice(&[0, 1, 0, 1]);
        let query = message(9, 0x0100, [1, 0, 0, 0], &q);
        let mut d = ProtoDetector::new(Transport::Udp);
        assert_eq!(d.feed(ToServer, &query), Some(AppProto::Dns));
        let mut framed = (query.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&query);
        let mut d = ProtoDetector::new(Transport::Tcp);
        assert_eq!(d.feed(ToServer, &framed[..10]), None);
        assert_eq!(d.feed(ToServer, &framed[10..]), Some(AppProto::Dns));
        let mut d = ProtoDetector::new(Transport::Udp);
        assert_eq!(d.feed(ToServer, b"\x00\x01hello world, not dns"), None);
        assert_eq!(d.feed(ToClient, b"nope"), Some(AppProto::Unknown));
    }

    #[test]
    fn the_probe_is_bounded() {
        let mut d = ProtoDetector::new(Transport::Tcp);
        for _ in 0..100 {
            d.feed(ToServer, b"G");
        }
        d.fail(ToClient);
        assert_eq!(d.result(), Some(AppProto::Unknown));
    }
}
