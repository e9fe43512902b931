//! The application layer against Suricata 7, on real traffic.
//!
//! The captures in `tests/captures/` (real HTTP, DNS and TLS between two network namespaces,
//! made by `tests/captures/make-captures.sh`) are replayed through the stream tracker and the
//! app layer, the way the pipeline will drive them, and every EVE `http`, `dns` and `tls`
//! record is compared field by field, in order, with the records Suricata writes for the same
//! capture (`suricata -r CAPTURE -k none` with `tests/suricata/suricata.yaml`). Then the HTTP,
//! DNS and TLS sticky buffers are checked: for each buffer a rule matching its exact expected
//! content must fire in Suricata, and the same transaction's buffer here must equal it.
//!
//! Without `suricata` on the PATH the Suricata half is skipped with a printed reason; the
//! records are still produced and checked against the expectations below.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use capture::CaptureReader;
use events::{Endpoints, EveEvent, Timestamp};
use ids::app::eve::{dns_records, http_record, tls_record};
use ids::app::http::HttpBuffer;
use ids::app::{AppConfig, AppLayer, NoFiles, Transport};
use ids::stream::{
    Direction, OverlapPolicy, ReassemblyPool, Segment, StreamConfig, TcpFlags, TcpStreamTracker,
};
use wire::tcp::TcpPacket;
use wire::{L3, L4};

fn captures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/captures")
}

/// One connection of the replay.
struct Flow {
    client: (IpAddr, u16),
    server: (IpAddr, u16),
    proto: u8,
    tracker: Option<TcpStreamTracker>,
    app: AppLayer,
    dns_logged: HashSet<(u64, bool)>,
    tls_logged: bool,
    log_http: bool,
}

/// An EVE record of ours: its key for matching, and the line.
struct Record {
    key: String,
    line: String,
}

impl Flow {
    fn event(&self, body: impl Into<events::EventBody<'static>>, tx_id: Option<u64>) -> String {
        let mut event = EveEvent::new(Timestamp::new(0, 0), body);
        event.endpoints = Some(Endpoints::new(
            self.client.0,
            self.client.1,
            self.server.0,
            self.server.1,
            self.proto,
        ));
        event.tx_id = tx_id;
        serde_json::to_string(&event).expect("serialize")
    }

    /// Records of what completed since the last call.
    fn emit(&mut self, out: &mut Vec<Record>, ending: bool) {
        let port = self.client.1;
        if let Some(http) = self.app.http_mut().filter(|_| self.log_http) {
            let mut done = Vec::new();
            while let Some(tx) = http.pop_complete() {
                done.push(tx);
            }
            for tx in done {
                let body: events::HttpRecord<'static> = owned(&http_record(&tx));
                let line = self.event(body, Some(tx.id));
                out.push(Record {
                    key: format!("http {port} {}", tx.id),
                    line,
                });
                if let Some(http) = self.app.http_mut() {
                    http.recycle(tx);
                }
            }
        }
        if let Some(dns) = self.app.dns() {
            let mut lines = Vec::new();
            for tx in dns.transactions() {
                for record in dns_records(tx) {
                    let is_answer = matches!(record, events::DnsRecord::Answer(_));
                    if !self.dns_logged.insert((tx.id, is_answer)) {
                        continue;
                    }
                    let (kind, id) = match &record {
                        events::DnsRecord::Query(q) => ("query", q.id),
                        events::DnsRecord::Answer(a) => ("answer", a.id),
                    };
                    let key = format!("dns {port} {kind} {id}");
                    let record: events::DnsRecord<'static> = owned(&record);
                    lines.push((key, record));
                }
            }
            for (key, record) in lines {
                out.push(Record {
                    key,
                    line: self.event(record, None),
                });
            }
        }
        if let Some(tls) = self.app.tls()
            && !self.tls_logged
            && (tls.handshake_seen() || (ending && tls.client_hello.is_some()))
        {
            self.tls_logged = true;
            let body: events::TlsRecord<'static> = owned(&tls_record(tls));
            out.push(Record {
                key: format!("tls {port}"),
                line: self.event(body, None),
            });
        }
    }
}

/// A record with owned strings (through its JSON), so it outlives the transaction.
fn owned<T: serde::de::DeserializeOwned>(value: &impl serde::Serialize) -> T {
    serde_json::from_value(serde_json::to_value(value).expect("to value")).expect("from value")
}

/// Replays a capture through reassembly and the app layer; returns every EVE record and the
/// app layers of the connections (for the buffer checks).
fn replay(pcap: &Path) -> (Vec<Record>, Vec<AppLayer>) {
    replay_with(pcap, true)
}

fn replay_with(pcap: &Path, log_http: bool) -> (Vec<Record>, Vec<AppLayer>) {
    let mut reader = CaptureReader::open(pcap).expect("open capture");
    let mut pool = ReassemblyPool::default();
    let stream_config = StreamConfig::default();
    let app_config = AppConfig::default();
    let mut flows: Vec<Flow> = Vec::new();
    let mut index: HashMap<(IpAddr, u16, IpAddr, u16, u8), usize> = HashMap::new();
    let mut out = Vec::new();
    while let Some(packet) = reader.next_packet().expect("read packet") {
        let frame = packet.data;
        let p = wire::parse_link(frame, packet.link);
        let (src, dst) = match p.l3 {
            L3::Ipv4 => {
                let (s, d) = p.ipv4_addrs(frame).expect("ipv4");
                (IpAddr::from(s), IpAddr::from(d))
            }
            L3::Ipv6 => {
                let (s, d) = p.ipv6_addrs(frame).expect("ipv6");
                (IpAddr::from(s), IpAddr::from(d))
            }
            _ => continue,
        };
        if !matches!(p.l4, L4::Tcp | L4::Udp) {
            continue;
        }
        let a = (src, p.src_port);
        let b = (dst, p.dst_port);
        let key = if a <= b {
            (a.0, a.1, b.0, b.1, p.ip_proto)
        } else {
            (b.0, b.1, a.0, a.1, p.ip_proto)
        };
        let transport = if p.l4 == L4::Tcp {
            Transport::Tcp
        } else {
            Transport::Udp
        };
        let at = *index.entry(key).or_insert_with(|| {
            flows.push(Flow {
                client: a,
                server: b,
                proto: p.ip_proto,
                tracker: (transport == Transport::Tcp).then(|| {
                    let mut t = TcpStreamTracker::new(
                        &stream_config,
                        OverlapPolicy::Bsd,
                        OverlapPolicy::Bsd,
                    );
                    t.set_raw_enabled(Direction::ToServer, false);
                    t.set_raw_enabled(Direction::ToClient, false);
                    t
                }),
                app: AppLayer::new(transport, &app_config),
                dns_logged: HashSet::new(),
                tls_logged: false,
                log_http,
            });
            flows.len() - 1
        });
        let flow = &mut flows[at];
        let direction = if a == flow.client {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let payload = p.payload(frame);
        match flow.tracker.as_mut() {
            Some(tracker) => {
                let tcp = TcpPacket::new_unchecked(&frame[usize::from(p.l4_offset)..]);
                let seg = Segment {
                    direction,
                    seq: tcp.seq_number(),
                    ack: tcp.ack_number(),
                    flags: TcpFlags(p.tcp_flags as u8),
                    window: tcp.window_len(),
                    payload,
                    time_ns: packet.timestamp.secs as u64 * 1_000_000_000
                        + u64::from(packet.timestamp.nanos),
                };
                tracker.handle_segment(&seg, &mut pool);
                drain(tracker, &mut flow.app);
            }
            None => flow.app.on_datagram(direction, payload),
        }
        flow.emit(&mut out, false);
    }
    for flow in &mut flows {
        if let Some(tracker) = flow.tracker.as_mut() {
            tracker.finish();
            drain(tracker, &mut flow.app);
        }
        flow.emit(&mut out, true);
    }
    (out, flows.into_iter().map(|f| f.app).collect())
}

fn drain(tracker: &mut TcpStreamTracker, app: &mut AppLayer) {
    for direction in Direction::BOTH {
        while let Some(chunk) = tracker.next_app_chunk(direction) {
            app.on_chunk(direction, chunk, &mut NoFiles);
        }
        if !app.wants_stream(direction) {
            tracker.set_app_enabled(direction, false);
        }
    }
}

/// JSON with object keys in document order, for comparing field order.
#[derive(Clone, Debug, PartialEq)]
enum Json {
    Object(Vec<(String, Json)>),
    Array(Vec<Json>),
    Text(String),
    Number(String),
    Bool(bool),
    Null,
}

fn parse_json(text: &str) -> Json {
    fn ws(s: &[u8], i: &mut usize) {
        while *i < s.len() && s[*i].is_ascii_whitespace() {
            *i += 1;
        }
    }
    fn string(s: &[u8], i: &mut usize) -> String {
        let start = *i;
        *i += 1;
        while s[*i] != b'"' {
            *i += if s[*i] == b'\\' { 2 } else { 1 };
        }
        *i += 1;
        serde_json::from_slice(&s[start..*i]).expect("string")
    }
    fn value(s: &[u8], i: &mut usize) -> Json {
        ws(s, i);
        match s[*i] {
            b'{' => {
                *i += 1;
                let mut fields = Vec::new();
                loop {
                    ws(s, i);
                    if s[*i] == b'}' {
                        *i += 1;
                        return Json::Object(fields);
                    }
                    if s[*i] == b',' {
                        *i += 1;
                        ws(s, i);
                    }
                    let key = string(s, i);
                    ws(s, i);
                    assert_eq!(s[*i], b':');
                    *i += 1;
                    fields.push((key, value(s, i)));
                }
            }
            b'[' => {
                *i += 1;
                let mut items = Vec::new();
                loop {
                    ws(s, i);
                    match s[*i] {
                        b']' => {
                            *i += 1;
                            return Json::Array(items);
                        }
                        b',' => *i += 1,
                        _ => items.push(value(s, i)),
                    }
                }
            }
            b'"' => Json::Text(string(s, i)),
            b't' => {
                *i += 4;
                Json::Bool(true)
            }
            b'f' => {
                *i += 5;
                Json::Bool(false)
            }
            b'n' => {
                *i += 4;
                Json::Null
            }
            _ => {
                let start = *i;
                while *i < s.len()
                    && matches!(s[*i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    *i += 1;
                }
                Json::Number(String::from_utf8_lossy(&s[start..*i]).into_owned())
            }
        }
    }
    value(text.as_bytes(), &mut 0)
}

/// The fields of `line` that both sides model: the header's addressing and the body.
fn comparable(line: &str) -> Json {
    let Json::Object(fields) = parse_json(line) else {
        panic!("not an object: {line}");
    };
    let keep = [
        "event_type",
        "src_ip",
        "src_port",
        "dest_ip",
        "dest_port",
        "proto",
        "tx_id",
        "http",
        "dns",
        "tls",
    ];
    let mut fields: Vec<(String, Json)> = fields
        .into_iter()
        .filter(|(k, _)| keep.contains(&k.as_str()))
        .collect();
    // Suricata writes `grouped` from a hash map: its key order means nothing.
    for (_, body) in fields.iter_mut() {
        if let Json::Object(inner) = body {
            for (k, v) in inner.iter_mut() {
                if k == "grouped"
                    && let Json::Object(groups) = v
                {
                    groups.sort_by(|a, b| a.0.cmp(&b.0));
                }
            }
        }
    }
    Json::Object(fields)
}

fn suricata_available() -> bool {
    match Command::new("suricata").arg("-V").output() {
        Ok(out) if out.status.success() => true,
        _ => {
            println!(
                "SKIPPED (Suricata half): `suricata` is not installed (scripts/setup installs it)"
            );
            false
        }
    }
}

/// Runs Suricata on `pcap` with `rules`; returns its eve.json lines.
fn run_suricata(pcap: &Path, rules: &str) -> Vec<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules_path = dir.path().join("probe.rules");
    std::fs::write(&rules_path, rules).expect("write rules");
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/suricata/suricata.yaml");
    let out = Command::new("suricata")
        .arg("-c")
        .arg(&config)
        .arg("-r")
        .arg(pcap)
        .arg("-S")
        .arg(&rules_path)
        .args(["-k", "none", "--runmode", "single", "-l"])
        .arg(dir.path())
        .args([
            "--set",
            "classification-file=/dev/null",
            "--set",
            "reference-config-file=/dev/null",
        ])
        .output()
        .expect("run suricata");
    assert!(
        out.status.success(),
        "suricata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = std::fs::read_to_string(dir.path().join("suricata.log")).unwrap_or_default();
    assert!(
        !log.contains("error parsing signature"),
        "a probe rule did not load:\n{log}"
    );
    let eve = std::fs::read_to_string(dir.path().join("eve.json")).expect("eve.json");
    eve.lines().map(str::to_owned).collect()
}

/// The key of one of Suricata's records, as ours are keyed.
fn suricata_key(line: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let port = v["src_port"].as_u64()?;
    match v["event_type"].as_str()? {
        "http" => Some(format!("http {port} {}", v["tx_id"].as_u64()?)),
        "dns" => Some(format!(
            "dns {port} {} {}",
            v["dns"]["type"].as_str()?,
            v["dns"]["id"].as_u64()?
        )),
        "tls" => Some(format!("tls {port}")),
        _ => None,
    }
}

/// The certificate fields of `tls` records: issue 14 decodes certificates.
const TLS_CERTIFICATE_FIELDS: [&str; 6] = [
    "subject",
    "issuerdn",
    "serial",
    "fingerprint",
    "notbefore",
    "notafter",
];

fn without_certificate_fields(json: Json) -> Json {
    let Json::Object(fields) = json else {
        return json;
    };
    Json::Object(
        fields
            .into_iter()
            .map(|(k, v)| match (k.as_str(), v) {
                ("tls", Json::Object(inner)) => (
                    k,
                    Json::Object(
                        inner
                            .into_iter()
                            .filter(|(f, _)| !TLS_CERTIFICATE_FIELDS.contains(&f.as_str()))
                            .collect(),
                    ),
                ),
                (_, v) => (k, v),
            })
            .collect(),
    )
}

fn compare_with_suricata(name: &str, expected_records: usize) {
    let pcap = captures().join(name);
    let (ours, _) = replay(&pcap);
    assert_eq!(
        ours.len(),
        expected_records,
        "records of {name}: {:#?}",
        ours.iter().map(|r| &r.key).collect::<Vec<_>>()
    );
    let keys: HashSet<&str> = ours.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys.len(), ours.len(), "duplicate records");
    if !suricata_available() {
        return;
    }
    let theirs: HashMap<String, String> = run_suricata(&pcap, "")
        .into_iter()
        .filter_map(|line| Some((suricata_key(&line)?, line)))
        .collect();
    let mut report = String::new();
    for record in &ours {
        let Some(line) = theirs.get(&record.key) else {
            let _ = writeln!(
                report,
                "{}: Suricata has no such record; ours: {}",
                record.key, record.line
            );
            continue;
        };
        let (mut mine, mut suricata) = (comparable(&record.line), comparable(line));
        if record.key.starts_with("tls") {
            mine = without_certificate_fields(mine);
            suricata = without_certificate_fields(suricata);
        }
        if mine != suricata {
            let _ = writeln!(
                report,
                "{}:\n  ours:     {}\n  suricata: {}",
                record.key, record.line, line
            );
        }
    }
    for key in theirs.keys() {
        if !keys.contains(key.as_str()) {
            let _ = writeln!(report, "{key}: only Suricata has it: {}", theirs[key]);
        }
    }
    assert!(report.is_empty(), "{name} differs from Suricata:\n{report}");
    println!(
        "{name}: {} records equal to Suricata's, field by field and in order",
        ours.len()
    );
}

#[test]
fn http_records_equal_suricatas() {
    compare_with_suricata("http.pcap", 20);
}

#[test]
fn dns_records_equal_suricatas() {
    compare_with_suricata("dns.pcap", 28);
}

#[test]
fn tls_records_equal_suricatas() {
    compare_with_suricata("tls.pcap", 2);
}

/// A sticky buffer, the direction it is inspected in, and its exact expected content on some
/// transaction of the capture.
type Probe = (&'static str, Direction, HttpBuffer, &'static [u8]);

const HTTP_PROBES: &[Probe] = &[
    ("http.uri", Direction::ToServer, HttpBuffer::Uri, b"/a/C/d/eA/f?x=A+1&y=%u0042#frag"),
    ("http.uri", Direction::ToServer, HttpBuffer::Uri, b"/abs/path?q=1"),
    ("http.uri", Direction::ToServer, HttpBuffer::Uri, b"/simple"),
    ("http.uri.raw", Direction::ToServer, HttpBuffer::UriRaw, b"/a/./b/../C%2fd//e%u0041\\f?x=%41+1&y=%u0042#frag"),
    ("http.method", Direction::ToServer, HttpBuffer::Method, b"HEAD"),
    ("http.request_line", Direction::ToServer, HttpBuffer::RequestLine, b"GET /slow HTTP/1.1"),
    ("http.request_line", Direction::ToServer, HttpBuffer::RequestLine, b"GET /simple"),
    ("http.response_line", Direction::ToClient, HttpBuffer::ResponseLine, b"HTTP/1.1 302 Found"),
    ("http.protocol", Direction::ToClient, HttpBuffer::Protocol, b"HTTP/1.1"),
    ("http.header", Direction::ToServer, HttpBuffer::Header, b"Host: EDGE.Rampart.Test.\r\nUser-Agent: Folded/1.0\r\nX-Folded: first  second\tthird\r\nX-Repeat: one, two\r\nReferer: http://ref.rampart.test/page\r\nX-Trailing-Space: value\r\n"),
    ("http.header", Direction::ToServer, HttpBuffer::Header, b"Host: edge.rampart.test\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\nX-Sum: 11\r\n"),
    ("http.header.raw", Direction::ToServer, HttpBuffer::HeaderRaw, b"Host: EDGE.Rampart.Test.\r\nUser-Agent: Folded/1.0\r\nX-Folded: first\r\n  second\r\n\tthird\r\nX-Repeat: one\r\nx-repeat: two\r\nCookie: a=1; b=2\r\nReferer: http://ref.rampart.test/page\r\nX-Trailing-Space: value   \r\n\r\n"),
    ("http.header.raw", Direction::ToClient, HttpBuffer::HeaderRaw, b"Server: RampartEdge/1.0\r\nDate: Tue, 08 Dec 2026 00:00:00 GMT\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\nX-Checksum: 42\r\n\r\n"),
    ("http.header_names", Direction::ToServer, HttpBuffer::HeaderNames, b"\r\nHost\r\nUser-Agent\r\nX-Folded\r\nX-Repeat\r\nCookie\r\nReferer\r\nX-Trailing-Space\r\n\r\n"),
    ("http.header_names", Direction::ToClient, HttpBuffer::HeaderNames, b"\r\nServer\r\nDate\r\n\r\n"),
    ("http.start", Direction::ToServer, HttpBuffer::Start, b"GET /slow HTTP/1.1\r\nHost: edge.rampart.test\r\n\r\n"),
    ("http.start", Direction::ToClient, HttpBuffer::Start, b"HTTP/1.1 204 No Content\r\nServer: RampartEdge/1.0\r\nDate: Tue, 08 Dec 2026 00:00:00 GMT\r\n\r\n"),
    ("http.host", Direction::ToServer, HttpBuffer::Host, b"edge.rampart.test."),
    ("http.host", Direction::ToServer, HttpBuffer::Host, b"proxy.rampart.test"),
    ("http.host", Direction::ToServer, HttpBuffer::Host, b"10.77.0.2"),
    ("http.host.raw", Direction::ToServer, HttpBuffer::HostRaw, b"EDGE.Rampart.Test."),
    ("http.host.raw", Direction::ToServer, HttpBuffer::HostRaw, b"proxy.rampart.test"),
    ("http.host.raw", Direction::ToServer, HttpBuffer::HostRaw, b"10.77.0.2:8081"),
    ("http.user_agent", Direction::ToServer, HttpBuffer::UserAgent, b"Pipeliner/1"),
    ("http.cookie", Direction::ToServer, HttpBuffer::Cookie, b"a=1; b=2"),
    ("http.cookie", Direction::ToClient, HttpBuffer::Cookie, b"session=abc123; Path=/"),
    ("http.referer", Direction::ToServer, HttpBuffer::Referer, b"http://ref.rampart.test/page"),
    ("http.content_type", Direction::ToServer, HttpBuffer::ContentType, b"application/octet-stream"),
    ("http.content_type", Direction::ToClient, HttpBuffer::ContentType, b"text/html; charset=utf-8"),
    ("http.content_len", Direction::ToServer, HttpBuffer::ContentLen, b"3000"),
    ("http.server", Direction::ToClient, HttpBuffer::Server, b"SimpleHTTP/0.6 Python/3.11.7"),
    ("http.location", Direction::ToClient, HttpBuffer::Location, b"http://edge.rampart.test/landing"),
    ("http.stat_code", Direction::ToClient, HttpBuffer::StatCode, b"304"),
    ("http.stat_msg", Direction::ToClient, HttpBuffer::StatMsg, b"Not Modified"),
    ("http.request_body", Direction::ToServer, HttpBuffer::RequestBody, b"hello world"),
    ("http.response_body", Direction::ToClient, HttpBuffer::ResponseBody, b"<html><head><title>Rampart</title></head><body>static page</body></html>\n"),
    ("file.data", Direction::ToClient, HttpBuffer::FileData, b"<html><head><title>Rampart</title></head><body>static page</body></html>\n"),
];

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn rule(sid: usize, proto: &str, flow: &str, buffer: &str, content: &[u8]) -> String {
    format!(
        "alert {proto} any any -> any any (msg:\"probe {sid} {buffer}\"; flow:{flow}; {buffer}; content:\"|{}|\"; startswith; endswith; sid:{sid};)\n",
        hex(content)
    )
}

/// Sids of the alerts in `eve`.
fn fired(eve: &[String]) -> HashSet<usize> {
    eve.iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|v| v["event_type"] == "alert")
        .filter_map(|v| v["alert"]["signature_id"].as_u64().map(|s| s as usize))
        .collect()
}

#[test]
fn http_sticky_buffers_equal_suricatas() {
    let pcap = captures().join("http.pcap");
    let (_, apps) = replay_keeping_transactions(&pcap);
    let mut scratch = Vec::new();
    let mut rules = String::new();
    for (i, (keyword, direction, buffer, expected)) in HTTP_PROBES.iter().enumerate() {
        let found = apps
            .iter()
            .filter_map(|app| app.http())
            .flat_map(|h| h.transactions())
            .any(|tx| tx.buffer(*buffer, *direction, &mut scratch) == Some(*expected));
        assert!(
            found,
            "no transaction has {keyword} = {:?}",
            String::from_utf8_lossy(expected)
        );
        let flow = match direction {
            Direction::ToServer => "to_server",
            Direction::ToClient => "to_client",
        };
        rules.push_str(&rule(i + 1, "http", flow, keyword, expected));
    }
    if !suricata_available() {
        return;
    }
    let fired = fired(&run_suricata(&pcap, &rules));
    let missing: Vec<_> = (1..=HTTP_PROBES.len())
        .filter(|sid| !fired.contains(sid))
        .map(|sid| HTTP_PROBES[sid - 1].0)
        .collect();
    assert!(
        missing.is_empty(),
        "Suricata does not see these buffers so: {missing:?}"
    );
    println!("{} HTTP buffers equal to Suricata's", HTTP_PROBES.len());
}

#[test]
fn dns_query_and_tls_sni_buffers_equal_suricatas() {
    let dns = captures().join("dns.pcap");
    let (_, apps) = replay_keeping_transactions(&dns);
    let names: HashSet<Vec<u8>> = apps
        .iter()
        .filter_map(|a| a.dns())
        .flat_map(|d| d.transactions())
        .flat_map(|tx| tx.query_names().map(<[u8]>::to_vec))
        .collect();
    let expected: [&[u8]; 6] = [
        b"host.rampart.test",
        b"www.rampart.test",
        b"rampart.test",
        b"_http._tcp.rampart.test",
        b"missing.rampart.test",
        b"2.0.77.10.in-addr.arpa",
    ];
    for name in expected {
        assert!(
            names.contains(name),
            "dns.query {:?} missing",
            String::from_utf8_lossy(name)
        );
    }
    let tls = captures().join("tls.pcap");
    let (_, apps) = replay_keeping_transactions(&tls);
    let snis: Vec<&[u8]> = apps
        .iter()
        .filter_map(|a| a.tls())
        .filter_map(|t| t.sni())
        .collect();
    assert_eq!(snis, [&b"tls.rampart.test"[..]; 2]);
    if !suricata_available() {
        return;
    }
    let mut rules = String::new();
    for (i, name) in expected.iter().enumerate() {
        rules.push_str(&rule(i + 1, "dns", "to_server", "dns.query", name));
    }
    let fired_dns = fired(&run_suricata(&dns, &rules));
    assert_eq!(fired_dns, (1..=expected.len()).collect(), "dns.query");
    let fired_tls = fired(&run_suricata(
        &tls,
        &rule(1, "tls", "to_server", "tls.sni", b"tls.rampart.test"),
    ));
    assert_eq!(fired_tls, HashSet::from([1]), "tls.sni");
}

/// Like [`replay`], but HTTP transactions stay in the parsers (none is popped for logging).
fn replay_keeping_transactions(pcap: &Path) -> (Vec<Record>, Vec<AppLayer>) {
    replay_with(pcap, false)
}
