//! The inspection buffers a rule can look into, and the trait through which the stream and
//! application layers hand them to the matcher.
//!
//! A buffer is borrowed for one inspection and never copied: the matcher only reads it.

/// Every buffer a rule can inspect: the packet payload, the reassembled stream, and the sticky
/// buffers of the application layer (with their pre-Suricata-5 content modifiers in the docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum BufferId {
    /// The packet's payload (`pkt_data`, and every content outside a sticky buffer).
    PktData,
    /// The reassembled TCP stream of this direction, the raw bytes (what TCP payload rules
    /// inspect first when the stream layer has new data).
    RawStream,
    /// `http.uri` / `http_uri` / `uricontent`: the normalised request URI.
    HttpUri,
    /// `http.uri.raw` / `http_raw_uri`.
    HttpUriRaw,
    /// `http.method` / `http_method`.
    HttpMethod,
    /// `http.header` / `http_header`: normalised headers, `Name: value\r\n` each, no Cookie.
    HttpHeader,
    /// `http.header.raw` / `http_raw_header`.
    HttpHeaderRaw,
    /// `http.header_names`: `\r\n` then each header name followed by `\r\n`, then `\r\n`.
    HttpHeaderNames,
    /// `http.host` / `http_host`: the lowercased Host header value.
    HttpHost,
    /// `http.host.raw` / `http_raw_host`.
    HttpHostRaw,
    /// `http.user_agent` / `http_user_agent`.
    HttpUserAgent,
    /// `http.cookie` / `http_cookie`: Cookie (requests) or Set-Cookie (responses).
    HttpCookie,
    /// `http.referer`.
    HttpReferer,
    /// `http.content_type`.
    HttpContentType,
    /// `http.server`.
    HttpServer,
    /// `http.location`.
    HttpLocation,
    /// `http.request_line` / `http_request_line`.
    HttpRequestLine,
    /// `http.response_line` / `http_response_line`.
    HttpResponseLine,
    /// `http.request_body` / `http_client_body`.
    HttpRequestBody,
    /// `http.stat_code` / `http_stat_code`.
    HttpStatCode,
    /// `http.stat_msg` / `http_stat_msg`.
    HttpStatMsg,
    /// `http.response_body` / `http_server_body`.
    HttpResponseBody,
    /// `file.data` / `file_data`: decoded file contents (HTTP bodies, SMTP attachments).
    FileData,
    /// `dns.query` / `dns_query`: one query name, dotted.
    DnsQuery,
    /// `tls.sni` / `tls_sni`.
    TlsSni,
}

/// Which way a buffer's data flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferDirection {
    ToServer,
    ToClient,
    Both,
}

impl BufferId {
    /// Every buffer, in declaration order (the index is `id as usize`).
    pub const ALL: [BufferId; 25] = [
        BufferId::PktData,
        BufferId::RawStream,
        BufferId::HttpUri,
        BufferId::HttpUriRaw,
        BufferId::HttpMethod,
        BufferId::HttpHeader,
        BufferId::HttpHeaderRaw,
        BufferId::HttpHeaderNames,
        BufferId::HttpHost,
        BufferId::HttpHostRaw,
        BufferId::HttpUserAgent,
        BufferId::HttpCookie,
        BufferId::HttpReferer,
        BufferId::HttpContentType,
        BufferId::HttpServer,
        BufferId::HttpLocation,
        BufferId::HttpRequestLine,
        BufferId::HttpResponseLine,
        BufferId::HttpRequestBody,
        BufferId::HttpStatCode,
        BufferId::HttpStatMsg,
        BufferId::HttpResponseBody,
        BufferId::FileData,
        BufferId::DnsQuery,
        BufferId::TlsSni,
    ];

    /// Number of buffers.
    pub const COUNT: usize = Self::ALL.len();

    /// The Suricata 5+ sticky buffer name.
    pub fn name(self) -> &'static str {
        match self {
            BufferId::PktData => "pkt_data",
            BufferId::RawStream => "stream",
            BufferId::HttpUri => "http.uri",
            BufferId::HttpUriRaw => "http.uri.raw",
            BufferId::HttpMethod => "http.method",
            BufferId::HttpHeader => "http.header",
            BufferId::HttpHeaderRaw => "http.header.raw",
            BufferId::HttpHeaderNames => "http.header_names",
            BufferId::HttpHost => "http.host",
            BufferId::HttpHostRaw => "http.host.raw",
            BufferId::HttpUserAgent => "http.user_agent",
            BufferId::HttpCookie => "http.cookie",
            BufferId::HttpReferer => "http.referer",
            BufferId::HttpContentType => "http.content_type",
            BufferId::HttpServer => "http.server",
            BufferId::HttpLocation => "http.location",
            BufferId::HttpRequestLine => "http.request_line",
            BufferId::HttpResponseLine => "http.response_line",
            BufferId::HttpRequestBody => "http.request_body",
            BufferId::HttpStatCode => "http.stat_code",
            BufferId::HttpStatMsg => "http.stat_msg",
            BufferId::HttpResponseBody => "http.response_body",
            BufferId::FileData => "file.data",
            BufferId::DnsQuery => "dns.query",
            BufferId::TlsSni => "tls.sni",
        }
    }

    /// The application protocol whose parser fills this buffer (`None` for packet data).
    pub fn app_proto(self) -> Option<AppProto> {
        use BufferId::*;
        match self {
            PktData | RawStream | FileData => None,
            DnsQuery => Some(AppProto::Dns),
            TlsSni => Some(AppProto::Tls),
            _ => Some(AppProto::Http),
        }
    }

    /// Which direction's traffic fills this buffer.
    pub fn direction(self) -> BufferDirection {
        use BufferId::*;
        match self {
            HttpUri | HttpUriRaw | HttpMethod | HttpHost | HttpHostRaw | HttpUserAgent
            | HttpReferer | HttpRequestLine | HttpRequestBody | DnsQuery | TlsSni => {
                BufferDirection::ToServer
            }
            HttpServer | HttpLocation | HttpResponseLine | HttpStatCode | HttpStatMsg
            | HttpResponseBody => BufferDirection::ToClient,
            PktData | RawStream | HttpHeader | HttpHeaderRaw | HttpHeaderNames | HttpCookie
            | HttpContentType | FileData => BufferDirection::Both,
        }
    }

    /// True for the buffers of an application-layer transaction (everything but the packet
    /// payload and the raw stream).
    pub fn is_app_layer(self) -> bool {
        !matches!(self, BufferId::PktData | BufferId::RawStream)
    }
}

/// Application-layer protocols, as the protocol detection of the flow names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AppProto {
    /// Not (yet) detected.
    #[default]
    Unknown,
    /// Detection gave up on this flow.
    Failed,
    Http,
    Http2,
    Dns,
    Tls,
    Ssh,
    Smtp,
    Ftp,
    FtpData,
    Smb,
    Dcerpc,
    Dhcp,
    Nfs,
    Ntp,
    Krb5,
    Snmp,
    Sip,
    Rdp,
    Mqtt,
    Rfb,
    Ike,
    Quic,
    Modbus,
    Dnp3,
    Enip,
    Tftp,
    Pgsql,
    Telnet,
    Imap,
    Pop3,
    BittorrentDht,
}

impl AppProto {
    /// The protocol of a Suricata name (`http`, `http1`, `tls`, `ssl`, `dns`, ...).
    pub fn from_name(name: &str) -> Option<AppProto> {
        use AppProto::*;
        Some(match name.to_ascii_lowercase().as_str() {
            "unknown" => Unknown,
            "failed" => Failed,
            "http" | "http1" => Http,
            "http2" => Http2,
            "dns" => Dns,
            "tls" | "ssl" => Tls,
            "ssh" => Ssh,
            "smtp" => Smtp,
            "ftp" => Ftp,
            "ftp-data" => FtpData,
            "smb" => Smb,
            "dcerpc" => Dcerpc,
            "dhcp" => Dhcp,
            "nfs" => Nfs,
            "ntp" => Ntp,
            "krb5" => Krb5,
            "snmp" => Snmp,
            "sip" => Sip,
            "rdp" => Rdp,
            "mqtt" => Mqtt,
            "rfb" => Rfb,
            "ike" | "ikev2" => Ike,
            "quic" => Quic,
            "modbus" => Modbus,
            "dnp3" => Dnp3,
            "enip" => Enip,
            "tftp" => Tftp,
            "pgsql" => Pgsql,
            "telnet" => Telnet,
            "imap" => Imap,
            "pop3" => Pop3,
            "bittorrent-dht" => BittorrentDht,
            _ => return None,
        })
    }
}

/// What the application layer offers at one inspection point: the buffers of the current
/// transaction in this direction, and the flow's detected protocol. Implemented by the stream
/// and application layers; the matcher calls it only for buffers that some candidate rule
/// inspects.
pub trait Buffers {
    /// The bytes of a buffer, or `None` when this inspection point does not have it (no
    /// transaction, not this direction, not parsed yet).
    fn buffer(&self, id: BufferId) -> Option<&[u8]>;

    /// The application protocol detected on the flow.
    fn app_proto(&self) -> AppProto;
}

/// No application layer: only the packet payload is inspected. For ICMP, UDP without a parser,
/// and tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBuffers;

impl Buffers for NoBuffers {
    fn buffer(&self, _id: BufferId) -> Option<&[u8]> {
        None
    }
    fn app_proto(&self) -> AppProto {
        AppProto::Unknown
    }
}

/// A fixed list of buffers, for tests, benchmarks and callers that gather buffers up front.
#[derive(Debug, Clone, Default)]
pub struct BufferList<'a> {
    /// The flow's application protocol.
    pub proto: AppProto,
    /// The buffers present, by id.
    pub entries: Vec<(BufferId, &'a [u8])>,
}

impl<'a> BufferList<'a> {
    /// An empty list for a flow of that protocol.
    pub fn new(proto: AppProto) -> Self {
        BufferList {
            proto,
            entries: Vec::new(),
        }
    }

    /// Adds a buffer.
    pub fn with(mut self, id: BufferId, data: &'a [u8]) -> Self {
        self.entries.push((id, data));
        self
    }
}

impl Buffers for BufferList<'_> {
    fn buffer(&self, id: BufferId) -> Option<&[u8]> {
        self.entries.iter().find(|(i, _)| *i == id).map(|(_, d)| *d)
    }
    fn app_proto(&self) -> AppProto {
        self.proto
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_declaration_order() {
        for (i, b) in BufferId::ALL.iter().enumerate() {
            assert_eq!(*b as usize, i, "{b:?}");
        }
    }

    #[test]
    fn names_round_trip_through_app_proto() {
        assert_eq!(AppProto::from_name("HTTP1"), Some(AppProto::Http));
        assert_eq!(AppProto::from_name("ssl"), Some(AppProto::Tls));
        assert_eq!(AppProto::from_name("gopher"), None);
        assert_eq!(BufferId::DnsQuery.app_proto(), Some(AppProto::Dns));
        assert_eq!(BufferId::FileData.app_proto(), None);
    }
}
