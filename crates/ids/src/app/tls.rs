//! TLS (and SSLv3) handshakes as far as a passive observer can read them: the record layer
//! (records split across segments, handshake messages split across records), the ClientHello
//! (legacy version, supported_versions, server name) and the ServerHello (legacy version, the
//! version chosen through supported_versions). Encrypted records are counted and skipped.
//!
//! Certificates (TLS 1.2 and earlier) are recognised but not decoded yet (issue 14 adds the
//! chain, subject, issuer and fingerprints). Nothing is trusted: a record or handshake length
//! only bounds how much is buffered, and buffering stops at the record maximum (16 KiB plus
//! expansion) for a record and 64 KiB for a handshake message.

use thiserror::Error;

use crate::stream::Direction;

/// Why a handshake message could not be read.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum TlsError {
    /// The message ends inside a field.
    #[error("TLS {message} truncated at byte {offset} reading {what}")]
    Truncated {
        /// The handshake message.
        message: &'static str,
        /// Offset within the message body.
        offset: usize,
        /// The field being read.
        what: &'static str,
    },
}

/// Record content types.
mod content {
    pub const CHANGE_CIPHER_SPEC: u8 = 20;
    pub const ALERT: u8 = 21;
    pub const HANDSHAKE: u8 = 22;
    pub const APPLICATION_DATA: u8 = 23;
}

/// Handshake message types.
mod handshake {
    pub const CLIENT_HELLO: u8 = 1;
    pub const SERVER_HELLO: u8 = 2;
    pub const CERTIFICATE: u8 = 11;
}

/// TLS extension numbers.
mod ext {
    pub const SERVER_NAME: u16 = 0;
    pub const SUPPORTED_VERSIONS: u16 = 43;
}

/// Protocol versions on the wire.
pub mod version {
    /// SSL 3.0.
    pub const SSL3: u16 = 0x0300;
    /// TLS 1.0.
    pub const TLS10: u16 = 0x0301;
    /// TLS 1.1.
    pub const TLS11: u16 = 0x0302;
    /// TLS 1.2.
    pub const TLS12: u16 = 0x0303;
    /// TLS 1.3.
    pub const TLS13: u16 = 0x0304;
}

/// A version as Suricata's EVE writes it (`SSLVersionToString`).
pub fn version_name(version: u16) -> String {
    match version {
        0 => "UNDETERMINED".into(),
        0x0002 => "SSLv2".into(),
        version::SSL3 => "SSLv3".into(),
        version::TLS10 => "TLSv1".into(),
        version::TLS11 => "TLS 1.1".into(),
        version::TLS12 => "TLS 1.2".into(),
        version::TLS13 => "TLS 1.3".into(),
        0x7f00..=0x7fff => format!("TLS 1.3 draft-{}", version & 0xff),
        other => format!("0x{other:04x}"),
    }
}

/// What a ClientHello says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// `legacy_version`.
    pub legacy_version: u16,
    /// The supported_versions extension's list, if present.
    pub supported_versions: Vec<u16>,
    /// The server name (SNI), as sent.
    pub server_name: Option<Vec<u8>>,
    /// Cipher suites offered.
    pub cipher_suites: Vec<u16>,
    /// Extension types, in order.
    pub extensions: Vec<u16>,
}

/// What a ServerHello says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerHello {
    /// `legacy_version`.
    pub legacy_version: u16,
    /// The version chosen: supported_versions if present, else `legacy_version`.
    pub version: u16,
    /// The cipher suite chosen.
    pub cipher_suite: u16,
}

/// A bounds-checked reader over one handshake message body.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
    message: &'static str,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], TlsError> {
        match self.data.get(self.at..self.at + n) {
            Some(out) => {
                self.at += n;
                Ok(out)
            }
            None => Err(TlsError::Truncated {
                message: self.message,
                offset: self.at,
                what,
            }),
        }
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, TlsError> {
        Ok(self.bytes(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, TlsError> {
        let b = self.bytes(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A vector with a one- or two-byte length.
    fn vec8(&mut self, what: &'static str) -> Result<&'a [u8], TlsError> {
        let n = usize::from(self.u8(what)?);
        self.bytes(n, what)
    }

    fn vec16(&mut self, what: &'static str) -> Result<&'a [u8], TlsError> {
        let n = usize::from(self.u16(what)?);
        self.bytes(n, what)
    }

    fn done(&self) -> bool {
        self.at >= self.data.len()
    }
}

/// Calls `each(type, data)` for every extension of an extensions block.
fn extensions<'a>(
    block: &'a [u8],
    message: &'static str,
    mut each: impl FnMut(u16, &'a [u8]) -> Result<(), TlsError>,
) -> Result<(), TlsError> {
    let mut r = Reader {
        data: block,
        at: 0,
        message,
    };
    while !r.done() {
        let kind = r.u16("extension type")?;
        let data = r.vec16("extension data")?;
        each(kind, data)?;
    }
    Ok(())
}

impl ClientHello {
    /// Parses a ClientHello body (after the handshake header).
    pub fn parse(body: &[u8]) -> Result<ClientHello, TlsError> {
        let message = "ClientHello";
        let mut r = Reader {
            data: body,
            at: 0,
            message,
        };
        let mut hello = ClientHello {
            legacy_version: r.u16("legacy_version")?,
            ..ClientHello::default()
        };
        r.bytes(32, "random")?;
        r.vec8("session_id")?;
        let suites = r.vec16("cipher_suites")?;
        hello.cipher_suites = suites
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        r.vec8("compression_methods")?;
        if r.done() {
            return Ok(hello);
        }
        let block = r.vec16("extensions")?;
        extensions(block, message, |kind, data| {
            hello.extensions.push(kind);
            let mut e = Reader {
                data,
                at: 0,
                message,
            };
            match kind {
                ext::SERVER_NAME => {
                    let list = e.vec16("server_name_list")?;
                    let mut l = Reader {
                        data: list,
                        at: 0,
                        message,
                    };
                    while !l.done() {
                        let name_type = l.u8("server name type")?;
                        let name = l.vec16("server name")?;
                        if name_type == 0 && hello.server_name.is_none() {
                            hello.server_name = Some(name.to_vec());
                        }
                    }
                }
                ext::SUPPORTED_VERSIONS => {
                    let list = e.vec8("supported_versions")?;
                    hello.supported_versions = list
                        .chunks_exact(2)
                        .map(|c| u16::from_be_bytes([c[0], c[1]]))
                        .collect();
                }
                _ => {}
            }
            Ok(())
        })?;
        Ok(hello)
    }
}

impl ServerHello {
    /// Parses a ServerHello body (after the handshake header).
    pub fn parse(body: &[u8]) -> Result<ServerHello, TlsError> {
        let message = "ServerHello";
        let mut r = Reader {
            data: body,
            at: 0,
            message,
        };
        let legacy_version = r.u16("legacy_version")?;
        r.bytes(32, "random")?;
        r.vec8("session_id")?;
        let mut hello = ServerHello {
            legacy_version,
            version: legacy_version,
            cipher_suite: r.u16("cipher_suite")?,
        };
        r.u8("compression_method")?;
        if r.done() {
            return Ok(hello);
        }
        let block = r.vec16("extensions")?;
        extensions(block, message, |kind, data| {
            if kind == ext::SUPPORTED_VERSIONS && data.len() == 2 {
                hello.version = u16::from_be_bytes([data[0], data[1]]);
            }
            Ok(())
        })?;
        Ok(hello)
    }
}

/// Largest record body accepted: 2^14 plus the 2,048 bytes of expansion TLS allows.
const MAX_RECORD: usize = (1 << 14) + 2048;
/// Largest handshake message buffered across records.
const MAX_HANDSHAKE: usize = 64 * 1024;

/// One direction of a TLS connection.
#[derive(Debug, Default)]
struct TlsSide {
    /// A record being assembled: its 5-byte header and body.
    record: Vec<u8>,
    /// A handshake message being assembled across records.
    handshake: Vec<u8>,
    /// ChangeCipherSpec seen (or TLS 1.3 keys in use): handshake records are encrypted.
    encrypted: bool,
    records: u64,
    /// The stream does not look like TLS records (or a gap broke the framing).
    lost: bool,
}

/// The TLS state of one connection: what Suricata's `tls.*` buffers and EVE `tls` records need.
#[derive(Debug, Default)]
pub struct TlsState {
    sides: [TlsSide; 2],
    /// The client's hello.
    pub client_hello: Option<ClientHello>,
    /// The server's hello.
    pub server_hello: Option<ServerHello>,
    /// The server sent a Certificate message in the clear (TLS 1.2 and earlier).
    pub certificate_seen: bool,
    /// Handshake messages that did not parse.
    pub malformed: u64,
    /// Records with an alert.
    pub alerts: u64,
}

impl TlsState {
    /// The server name the client asked for (`tls.sni`).
    pub fn sni(&self) -> Option<&[u8]> {
        self.client_hello.as_ref()?.server_name.as_deref()
    }

    /// The negotiated version: the ServerHello's, else 0 (Suricata's `UNDETERMINED`).
    pub fn version(&self) -> u16 {
        self.server_hello.map_or(0, |h| h.version)
    }

    /// Whether the handshake has gone far enough to log: both hellos seen, and for TLS 1.3
    /// (whose certificate is encrypted) or once the certificate or encryption started.
    pub fn handshake_seen(&self) -> bool {
        self.client_hello.is_some()
            && self.server_hello.is_some()
            && (self.version() == version::TLS13
                || self.certificate_seen
                || self.sides.iter().any(|s| s.encrypted))
    }

    /// Whether `data` starts like a TLS handshake record (or an SSLv3/TLS alert): for protocol
    /// detection. `None` when more bytes are needed to tell.
    pub fn probe(data: &[u8]) -> Option<bool> {
        match data {
            [] => None,
            [t, ..] if *t != content::HANDSHAKE => Some(false),
            [_] => None,
            [_, major, ..] if *major != 3 => Some(false),
            [_, _] => None,
            [_, _, minor, ..] => Some(*minor <= 4),
        }
    }

    /// Takes in-order stream bytes of `direction`.
    pub fn feed(&mut self, direction: Direction, mut data: &[u8]) {
        let d = direction.index();
        while !data.is_empty() && !self.sides[d].lost {
            let side = &mut self.sides[d];
            // Header first, then body up to the length the header gives.
            let want = if side.record.len() < 5 {
                5 - side.record.len()
            } else {
                let len = usize::from(u16::from_be_bytes([side.record[3], side.record[4]]));
                5 + len - side.record.len()
            };
            let take = want.min(data.len());
            side.record.extend_from_slice(&data[..take]);
            data = &data[take..];
            if side.record.len() == 5 {
                let len = usize::from(u16::from_be_bytes([side.record[3], side.record[4]]));
                if side.record[1] != 3 || len > MAX_RECORD {
                    side.lost = true;
                    side.record.clear();
                    return;
                }
                if len > 0 {
                    continue;
                }
            }
            if take == want {
                let record = std::mem::take(&mut self.sides[d].record);
                self.on_record(direction, &record);
                let mut record = record;
                record.clear();
                self.sides[d].record = record;
            }
        }
    }

    /// Bytes of `direction` were lost: record boundaries are no longer known.
    pub fn gap(&mut self, direction: Direction) {
        let side = &mut self.sides[direction.index()];
        side.lost = true;
        side.record.clear();
        side.handshake.clear();
    }

    fn on_record(&mut self, direction: Direction, record: &[u8]) {
        let d = direction.index();
        self.sides[d].records += 1;
        let body = &record[5..];
        match record[0] {
            content::CHANGE_CIPHER_SPEC => self.sides[d].encrypted = true,
            content::ALERT => self.alerts += 1,
            content::HANDSHAKE if !self.sides[d].encrypted => {
                self.on_handshake_bytes(direction, body)
            }
            content::APPLICATION_DATA => self.sides[d].encrypted = true,
            _ => {}
        }
    }

    fn on_handshake_bytes(&mut self, direction: Direction, mut body: &[u8]) {
        let d = direction.index();
        while !body.is_empty() {
            let side = &mut self.sides[d];
            let want = if side.handshake.len() < 4 {
                4 - side.handshake.len()
            } else {
                let h = &side.handshake;
                let len = usize::from(h[1]) << 16 | usize::from(h[2]) << 8 | usize::from(h[3]);
                4 + len - h.len()
            };
            let take = want.min(body.len());
            side.handshake.extend_from_slice(&body[..take]);
            body = &body[take..];
            if side.handshake.len() < 4 {
                continue;
            }
            let h = &side.handshake;
            let len = usize::from(h[1]) << 16 | usize::from(h[2]) << 8 | usize::from(h[3]);
            if len > MAX_HANDSHAKE {
                side.lost = true;
                side.handshake.clear();
                return;
            }
            if side.handshake.len() == 4 + len {
                let message = std::mem::take(&mut self.sides[d].handshake);
                self.on_handshake(direction, message[0], &message[4..]);
                let mut message = message;
                message.clear();
                self.sides[d].handshake = message;
            }
        }
    }

    fn on_handshake(&mut self, direction: Direction, kind: u8, body: &[u8]) {
        match (direction, kind) {
            (Direction::ToServer, handshake::CLIENT_HELLO) if self.client_hello.is_none() => {
                match ClientHello::parse(body) {
                    Ok(hello) => self.client_hello = Some(hello),
                    Err(_) => self.malformed += 1,
                }
            }
            (Direction::ToClient, handshake::SERVER_HELLO) if self.server_hello.is_none() => {
                match ServerHello::parse(body) {
                    Ok(hello) => {
                        if hello.version == version::TLS13 {
                            // Everything after the ServerHello is encrypted.
                            self.sides[Direction::ToClient.index()].encrypted = true;
                        }
                        self.server_hello = Some(hello);
                    }
                    Err(_) => self.malformed += 1,
                }
            }
            (Direction::ToClient, handshake::CERTIFICATE) => self.certificate_seen = true,
            _ => {}
        }
    }

    /// Records seen in `direction`.
    pub fn records(&self, direction: Direction) -> u64 {
        self.sides[direction.index()].records
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A ClientHello record with the given SNI and supported_versions.
    pub(crate) fn client_hello(sni: &[u8], versions: &[u16]) -> Vec<u8> {
        let mut exts = Vec::new();
        let mut sni_ext = Vec::new();
        sni_ext.extend_from_slice(&((sni.len() + 3) as u16).to_be_bytes());
        sni_ext.push(0);
        sni_ext.extend_from_slice(&(sni.len() as u16).to_be_bytes());
        sni_ext.extend_from_slice(sni);
        exts.extend_from_slice(&0u16.to_be_bytes());
        exts.extend_from_slice(&(sni_ext.len() as u16).to_be_bytes());
        exts.extend_from_slice(&sni_ext);
        if !versions.is_empty() {
            exts.extend_from_slice(&43u16.to_be_bytes());
            exts.extend_from_slice(&((versions.len() * 2 + 1) as u16).to_be_bytes());
            exts.push((versions.len() * 2) as u8);
            for v in versions {
                exts.extend_from_slice(&v.to_be_bytes());
            }
        }
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.push(0);
        body.extend_from_slice(&[0, 4, 0x13, 0x01, 0xc0, 0x2f]);
        body.extend_from_slice(&[1, 0]);
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(&exts);
        record(22, &handshake_message(1, &body))
    }

    pub(crate) fn server_hello(version: Option<u16>) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[9; 32]);
        body.push(0);
        body.extend_from_slice(&[0x13, 0x01, 0]);
        if let Some(v) = version {
            body.extend_from_slice(&[0, 6, 0, 43, 0, 2]);
            body.extend_from_slice(&v.to_be_bytes());
        }
        record(22, &handshake_message(2, &body))
    }

    pub(crate) fn handshake_message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![kind];
        out.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        out.extend_from_slice(body);
        out
    }

    pub(crate) fn record(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![kind, 3, 1];
        out.extend_from_slice(&(body.len() as u16).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn hellos_in_any_segmentation() {
        let ch = client_hello(b"tls.example", &[0x0304, 0x0303]);
        let sh = server_hello(Some(0x0304));
        for piece in [1, 2, 5, 1000] {
            let mut state = TlsState::default();
            for c in ch.chunks(piece) {
                state.feed(Direction::ToServer, c);
            }
            for c in sh.chunks(piece) {
                state.feed(Direction::ToClient, c);
            }
            assert_eq!(state.sni(), Some(&b"tls.example"[..]));
            let hello = state.client_hello.as_ref().unwrap();
            assert_eq!(hello.supported_versions, [0x0304, 0x0303]);
            assert_eq!(hello.cipher_suites, [0x1301, 0xc02f]);
            assert_eq!(state.version(), version::TLS13);
            assert_eq!(version_name(state.version()), "TLS 1.3");
            assert!(state.handshake_seen());
        }
    }

    #[test]
    fn a_handshake_message_split_across_records() {
        let ch = client_hello(b"split.example", &[]);
        let message = &ch[5..];
        let (a, b) = message.split_at(20);
        let mut stream = record(22, a);
        stream.extend_from_slice(&record(22, b));
        let mut state = TlsState::default();
        state.feed(Direction::ToServer, &stream);
        assert_eq!(state.sni(), Some(&b"split.example"[..]));
        assert_eq!(state.records(Direction::ToServer), 2);
        let mut state2 = TlsState::default();
        state2.feed(Direction::ToClient, &server_hello(None));
        assert_eq!(state2.version(), version::TLS12);
        assert!(!state2.handshake_seen());
    }

    #[test]
    fn not_tls_stops_and_truncation_is_an_error() {
        assert_eq!(TlsState::probe(b"\x16\x03\x01"), Some(true));
        assert_eq!(TlsState::probe(b"\x16\x03"), None);
        assert_eq!(TlsState::probe(b"GET "), Some(false));
        let mut state = TlsState::default();
        state.feed(Direction::ToServer, b"GET / HTTP/1.1\r\n\r\n");
        assert!(state.client_hello.is_none());
        let err = ClientHello::parse(&[3, 3, 1]).unwrap_err();
        assert_eq!(
            err,
            TlsError::Truncated {
                message: "ClientHello",
                offset: 2,
                what: "random"
            }
        );
        let mut state = TlsState::default();
        state.feed(
            Direction::ToServer,
            &record(22, &handshake_message(1, &[3, 3])),
        );
        assert_eq!(state.malformed, 1);
    }
}

#[cfg(test)]
mod properties {
    use super::tests::{client_hello, server_hello};
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Hellos with any server name and version list read back, however they are cut.
        #[test]
        fn hellos_read_back_in_any_segmentation(
            sni in proptest::collection::vec(any::<u8>(), 1..200),
            versions in proptest::collection::vec(any::<u16>(), 0..10),
            chosen in any::<u16>(),
            cuts in proptest::collection::vec(1usize..50, 0..20),
        ) {
            let mut stream = client_hello(&sni, &versions);
            let reply = server_hello(Some(chosen));
            let mut state = TlsState::default();
            let mut at = 0;
            for cut in cuts {
                let end = (at + cut).min(stream.len());
                state.feed(Direction::ToServer, &stream[at..end]);
                at = end;
            }
            state.feed(Direction::ToServer, &stream[at..]);
            state.feed(Direction::ToClient, &reply);
            prop_assert_eq!(state.sni(), Some(sni.as_slice()));
            prop_assert_eq!(&state.client_hello.as_ref().unwrap().supported_versions, &versions);
            prop_assert_eq!(state.version(), chosen);
            stream.clear();
        }

        /// Any bytes in any direction: no panic, and no hello out of nothing but records.
        #[test]
        fn arbitrary_bytes_are_survived(
            a in proptest::collection::vec(any::<u8>(), 0..800),
            b in proptest::collection::vec(any::<u8>(), 0..800),
        ) {
            let mut state = TlsState::default();
            state.feed(Direction::ToServer, &a);
            state.feed(Direction::ToClient, &b);
            let _ = (state.sni(), state.version(), state.handshake_seen());
        }
    }
}
