//! Threat intelligence: [`IntelSet`], indicators of compromise (IPv4/IPv6 addresses and
//! networks, domains, URLs, file hashes) from CSV, STIX 2.1 and MISP feeds, looked up at
//! connection setup and at each DNS, TLS and HTTP transaction.
//!
//! A lookup is a handful of hash-map probes and never allocates, except [`IntelSet::match_url`],
//! which normalises the URL into one string:
//! - addresses: one map per prefix length present in the set, probed from the longest, so the
//!   most specific network wins (longest-prefix match);
//! - domains: the name, then each parent (`a.b.example.com`, `b.example.com`, `example.com`):
//!   a domain indicator covers its subdomains;
//! - URLs: exact match after normalisation ([`normalize_url`]);
//! - hashes: by kind and digest.
//!
//! Feeds are untrusted: a malformed entry is reported ([`IntelFailure`]: file, line or JSON
//! path, reason) and skipped, and the rest load. Like [`crate::SignatureSet`], a set is
//! immutable once built and is swapped whole on reload.
//!
//! # CSV
//!
//! One indicator per line: `type,value[,id[,description]]`. `type` is `ip` (an address or a
//! CIDR network; `cidr` is accepted too), `domain`, `url`, `md5`, `sha1` or `sha256`. Fields
//! may be double-quoted (`""` inside quotes is a quote). Empty lines, lines starting with `#`
//! and a first line starting with `type,` are skipped. The feed's name is the file's stem.
//!
//! # STIX 2.1
//!
//! A bundle's `indicator` objects with `pattern_type` `stix` and patterns made of comparisons
//! `[ipv4-addr:value = '…']`, `[ipv6-addr:value = '…']`, `[domain-name:value = '…']`,
//! `[url:value = '…']`, `[file:hashes.'SHA-256' = '…']` (also `MD5`, `SHA-1`, `SHA256`,
//! `SHA1`), joined by `OR` inside or between brackets. Other operators (`AND`, `LIKE`,
//! `MATCHES`, `FOLLOWEDBY`, qualifiers) are reported as unsupported. Revoked indicators are
//! skipped. The indicator's id names it.
//!
//! # MISP
//!
//! An event (`{"Event": …}`, or a `{"response": [{"Event": …}]}` export): the attributes of
//! the event and of its objects of types `ip-src`, `ip-dst`, `ip-src|port`, `ip-dst|port`,
//! `domain`, `hostname`, `domain|ip`, `url`, `md5`, `sha1`, `sha256` and `filename|md5`,
//! `filename|sha1`, `filename|sha256`. Other types are counted as ignored.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use foldhash::HashMap;
use serde_json::Value;

use crate::HashKind;

/// What an indicator is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IndicatorKind {
    Ip,
    Domain,
    Url,
    Hash(HashKind),
}

/// One indicator of compromise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indicator {
    pub kind: IndicatorKind,
    /// The value as the feed gave it (normalised for URLs, networks and domains).
    pub value: String,
    /// The feed's id for it (STIX id, MISP attribute uuid, CSV third column), if any.
    pub id: Option<String>,
    /// A description (STIX name, MISP event info, CSV fourth column), if any.
    pub description: Option<String>,
    /// The feed it came from.
    pub feed: Arc<str>,
    /// Where in the feed: `file:line` or `file#json.path`.
    pub source: String,
}

/// A lookup that hit: the indicator (with its feed).
pub type IntelHit<'a> = &'a Indicator;

/// A feed entry that failed to load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {reason}", file.display(), at)]
pub struct IntelFailure {
    pub file: PathBuf,
    /// `:LINE` for CSV, `#PATH` (a JSON path such as `objects[3].pattern`) for JSON feeds.
    pub at: String,
    pub reason: String,
}

/// What loading feeds did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntelLoadReport {
    pub loaded: usize,
    /// Entries of kinds this set does not match (MISP attribute types, revoked STIX).
    pub ignored: usize,
    pub failed: Vec<IntelFailure>,
}

/// A set of indicators.
#[derive(Debug, Default)]
pub struct IntelSet {
    indicators: Vec<Indicator>,
    /// (prefix length, network → indicator), longest prefix first.
    v4: Vec<(u8, HashMap<u32, u32>)>,
    v6: Vec<(u8, HashMap<u128, u32>)>,
    domains: HashMap<String, u32>,
    urls: HashMap<String, u32>,
    hashes: HashMap<(HashKind, [u8; 32]), u32>,
    report: IntelLoadReport,
}

fn mask4(len: u8) -> u32 {
    if len == 0 { 0 } else { u32::MAX << (32 - len) }
}

fn mask6(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    }
}

fn digest_key(d: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 32];
    k[..d.len().min(32)].copy_from_slice(&d[..d.len().min(32)]);
    k
}

impl IntelSet {
    pub fn builder() -> IntelSetBuilder {
        IntelSetBuilder::default()
    }

    /// Loads feeds from files (`.csv`, `.json` as STIX or MISP by content) and directories
    /// of them.
    pub fn load<P: AsRef<Path>>(paths: &[P]) -> Self {
        let mut b = Self::builder();
        for p in paths {
            b.add_path(p.as_ref());
        }
        b.build()
    }

    pub fn report(&self) -> &IntelLoadReport {
        &self.report
    }

    pub fn len(&self) -> usize {
        self.indicators.len()
    }

    /// Every indicator, in load order.
    pub fn indicators(&self) -> &[Indicator] {
        &self.indicators
    }

    pub fn is_empty(&self) -> bool {
        self.indicators.is_empty()
    }

    /// The most specific network or address indicator holding `ip`.
    pub fn match_ip(&self, ip: IpAddr) -> Option<IntelHit<'_>> {
        let i = match ip {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.v4
                    .iter()
                    .find_map(|(len, m)| m.get(&(a & mask4(*len))))
            }
            IpAddr::V6(a) => {
                if let Some(v4) = a.to_ipv4_mapped() {
                    return self.match_ip(IpAddr::V4(v4));
                }
                let a = u128::from(a);
                self.v6
                    .iter()
                    .find_map(|(len, m)| m.get(&(a & mask6(*len))))
            }
        };
        i.map(|&i| &self.indicators[i as usize])
    }

    /// A domain indicator for `name` or any of its parents (case and a trailing dot ignored).
    pub fn match_domain(&self, name: &str) -> Option<IntelHit<'_>> {
        if self.domains.is_empty() {
            return None;
        }
        let mut buf = [0u8; 256];
        let name = name.strip_suffix('.').unwrap_or(name).as_bytes();
        if name.is_empty() || name.len() > buf.len() {
            return None;
        }
        let lower = &mut buf[..name.len()];
        for (d, s) in lower.iter_mut().zip(name) {
            *d = s.to_ascii_lowercase();
        }
        let lower = std::str::from_utf8(lower).ok()?;
        let mut rest = lower;
        loop {
            if let Some(&i) = self.domains.get(rest) {
                return Some(&self.indicators[i as usize]);
            }
            match rest.split_once('.') {
                Some((_, parent)) if !parent.is_empty() => rest = parent,
                _ => return None,
            }
        }
    }

    /// A URL indicator equal to `url` after normalisation.
    pub fn match_url(&self, url: &str) -> Option<IntelHit<'_>> {
        if self.urls.is_empty() {
            return None;
        }
        let n = normalize_url(url)?;
        self.urls.get(&n).map(|&i| &self.indicators[i as usize])
    }

    /// A hash indicator for this digest.
    pub fn match_hash(&self, kind: HashKind, digest: &[u8]) -> Option<IntelHit<'_>> {
        self.hashes
            .get(&(kind, digest_key(digest)))
            .map(|&i| &self.indicators[i as usize])
    }
}

/// Normalises a URL for comparison: scheme and host in lower case (`http://` assumed when
/// there is no scheme), no trailing dot on the host, no default port, no user info, no
/// fragment, an empty path as `/`, `.` and `..` segments resolved, percent-escapes of
/// unreserved characters decoded and the others in upper case. The query is kept as is.
/// `None` when there is no host, or the text has spaces or control characters.
pub fn normalize_url(url: &str) -> Option<String> {
    let url = url.trim();
    if url.bytes().any(|c| c <= b' ' || c == 0x7f) {
        return None;
    }
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r))
            if !s.is_empty()
                && s.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"+-.".contains(&c)) =>
        {
            (s.to_ascii_lowercase(), r)
        }
        _ => ("http".to_owned(), url),
    };
    let rest = rest.split('#').next().unwrap_or("");
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path_query) = rest.split_at(split);
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') && h.ends_with(']') => {
            if p.is_empty() {
                (h, None)
            } else if p.bytes().all(|c| c.is_ascii_digit()) {
                (h, Some(p))
            } else {
                (authority, None)
            }
        }
        _ => (authority, None),
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let bracketed = host.starts_with('[') && host.ends_with(']');
    if host.is_empty() || (!bracketed && host.contains([':', '[', ']'])) {
        return None;
    }
    let default = matches!(
        (scheme.as_str(), port),
        ("http", Some("80")) | ("https", Some("443"))
    );
    let (path, query) = match path_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_query, None),
    };
    let mut segments: Vec<String> = Vec::new();
    let decoded = decode_unreserved(path);
    let trailing = decoded.ends_with('/') || decoded.ends_with("/.") || decoded.ends_with("/..");
    for seg in decoded.split('/').skip(1) {
        match seg {
            "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s.to_owned()),
        }
    }
    let mut out = format!("{scheme}://{host}");
    if let (Some(p), false) = (port, default) {
        out.push(':');
        out.push_str(p);
    }
    out.push('/');
    let n = segments.len();
    for (i, s) in segments.into_iter().enumerate() {
        if s.is_empty() && i + 1 == n {
            break;
        }
        out.push_str(&s);
        if i + 1 < n {
            out.push('/');
        }
    }
    if trailing && !out.ends_with('/') {
        out.push('/');
    }
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Some(out)
}

/// Decodes `%XX` of unreserved characters; upper-cases the hex of the others.
fn decode_unreserved(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && b[i + 1].is_ascii_hexdigit()
            && b[i + 2].is_ascii_hexdigit()
        {
            let hex = &s[i + 1..i + 3];
            if let Ok(v) = u8::from_str_radix(hex, 16) {
                if v.is_ascii_alphanumeric() || b"-._~".contains(&v) {
                    out.push(v as char);
                } else {
                    out.push('%');
                    out.push_str(&hex.to_ascii_uppercase());
                }
                i += 3;
                continue;
            }
        }
        let c = s[i..].chars().next().expect("in bounds");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// Collects feeds; [`IntelSetBuilder::build`] makes the set.
#[derive(Debug, Default)]
pub struct IntelSetBuilder {
    set: IntelSet,
    v4: HashMap<u8, HashMap<u32, u32>>,
    v6: HashMap<u8, HashMap<u128, u32>>,
}

/// An entry as parsed, before it is added.
struct Entry<'a> {
    kind: &'a str,
    value: &'a str,
    id: Option<String>,
    description: Option<String>,
}

impl IntelSetBuilder {
    fn fail(&mut self, file: &Path, at: String, reason: impl Into<String>) {
        self.set.report.failed.push(IntelFailure {
            file: file.to_owned(),
            at,
            reason: reason.into(),
        });
    }

    /// Adds a feed file (`.csv`, or `.json` holding a STIX bundle or a MISP event), or every
    /// such file of a directory.
    pub fn add_path(&mut self, path: &Path) {
        if path.is_dir() {
            let mut files: Vec<PathBuf> = match std::fs::read_dir(path) {
                Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
                Err(e) => {
                    self.fail(path, String::new(), format!("cannot read directory: {e}"));
                    return;
                }
            };
            files.sort();
            for f in files.iter().filter(|f| f.is_file()) {
                if matches!(f.extension().and_then(|e| e.to_str()), Some("csv" | "json")) {
                    self.add_path(f);
                }
            }
            return;
        }
        let text = match std::fs::read(path) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => {
                self.fail(path, String::new(), format!("cannot read: {e}"));
                return;
            }
        };
        let feed = path
            .file_stem()
            .map_or_else(|| "feed".to_owned(), |s| s.to_string_lossy().into_owned());
        match path.extension().and_then(|e| e.to_str()) {
            Some("csv") => self.add_csv(&text, path, &feed),
            Some("json") => self.add_json(&text, path, &feed),
            _ => self.fail(path, String::new(), "not a feed file (.csv or .json)"),
        }
    }

    /// Adds JSON feed text: a STIX 2.1 bundle or a MISP event, told apart by content.
    pub fn add_json(&mut self, text: &str, origin: &Path, feed: &str) {
        let v: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                self.fail(origin, format!(":{}", e.line()), format!("not JSON: {e}"));
                return;
            }
        };
        if v.get("type").and_then(Value::as_str) == Some("bundle") {
            self.add_stix_value(&v, origin, feed);
        } else if v.get("Event").is_some() || v.get("response").is_some() {
            self.add_misp_value(&v, origin, feed);
        } else {
            self.fail(
                origin,
                String::new(),
                "neither a STIX bundle (\"type\": \"bundle\") nor a MISP event (\"Event\")",
            );
        }
    }

    fn add_entry(
        &mut self,
        e: Entry<'_>,
        feed: &Arc<str>,
        origin: &Path,
        at: &str,
    ) -> Result<(), String> {
        let source = format!("{}{at}", origin.display());
        let value = e.value.trim();
        let index = self.set.indicators.len() as u32;
        let (kind, value) = match e.kind {
            "ip" | "cidr" => {
                let (addr, len) = match value.split_once('/') {
                    Some((a, l)) => (
                        a,
                        Some(
                            l.parse::<u8>()
                                .map_err(|_| format!("prefix length {l:?}"))?,
                        ),
                    ),
                    None => (value, None),
                };
                let ip: IpAddr = addr
                    .parse()
                    .map_err(|_| format!("{value:?} is not an IP address or network"))?;
                match ip {
                    IpAddr::V4(a) => {
                        let len = len.unwrap_or(32);
                        if len > 32 {
                            return Err(format!("prefix length {len} > 32"));
                        }
                        let net = u32::from(a) & mask4(len);
                        self.v4.entry(len).or_default().entry(net).or_insert(index);
                        (IndicatorKind::Ip, format!("{}/{len}", Ipv4Addr::from(net)))
                    }
                    IpAddr::V6(a) => {
                        let len = len.unwrap_or(128);
                        if len > 128 {
                            return Err(format!("prefix length {len} > 128"));
                        }
                        let net = u128::from(a) & mask6(len);
                        self.v6.entry(len).or_default().entry(net).or_insert(index);
                        (IndicatorKind::Ip, format!("{}/{len}", Ipv6Addr::from(net)))
                    }
                }
            }
            "domain" => {
                let d = value.strip_prefix("*.").unwrap_or(value);
                let d = d.strip_suffix('.').unwrap_or(d).to_ascii_lowercase();
                let ok = !d.is_empty()
                    && d.len() <= 253
                    && d.split('.').all(|l| {
                        !l.is_empty()
                            && l.len() <= 63
                            && l.bytes()
                                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
                    });
                if !ok {
                    return Err(format!("{value:?} is not a domain name"));
                }
                self.set.domains.entry(d.clone()).or_insert(index);
                (IndicatorKind::Domain, d)
            }
            "url" => {
                let n = normalize_url(value).ok_or_else(|| format!("{value:?} is not a URL"))?;
                self.set.urls.entry(n.clone()).or_insert(index);
                (IndicatorKind::Url, n)
            }
            "md5" | "sha1" | "sha256" => {
                let want = match e.kind {
                    "md5" => HashKind::Md5,
                    "sha1" => HashKind::Sha1,
                    _ => HashKind::Sha256,
                };
                let kind = HashKind::from_hex_len(value.len())
                    .filter(|k| *k == want)
                    .ok_or_else(|| format!("{value:?} is not a {} digest", e.kind))?;
                let digest = value
                    .as_bytes()
                    .chunks(2)
                    .map(|p| {
                        std::str::from_utf8(p)
                            .ok()
                            .and_then(|p| u8::from_str_radix(p, 16).ok())
                    })
                    .collect::<Option<Vec<u8>>>()
                    .ok_or_else(|| format!("{value:?} is not hexadecimal"))?;
                self.set
                    .hashes
                    .entry((kind, digest_key(&digest)))
                    .or_insert(index);
                (IndicatorKind::Hash(kind), value.to_ascii_lowercase())
            }
            other => return Err(format!("unknown indicator type {other:?}")),
        };
        self.set.indicators.push(Indicator {
            kind,
            value,
            id: e.id,
            description: e.description,
            feed: feed.clone(),
            source,
        });
        self.set.report.loaded += 1;
        Ok(())
    }

    /// Adds CSV feed text (see the module documentation for the columns).
    pub fn add_csv(&mut self, text: &str, origin: &Path, feed: &str) {
        let feed: Arc<str> = Arc::from(feed);
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty()
                || line.starts_with('#')
                || (i == 0 && line.starts_with("type,"))
            {
                continue;
            }
            let at = format!(":{}", i + 1);
            let fields = match csv_fields(line) {
                Ok(f) => f,
                Err(e) => {
                    self.fail(origin, at, e);
                    continue;
                }
            };
            if fields.len() < 2 || fields.len() > 4 {
                self.fail(
                    origin,
                    at,
                    format!(
                        "expected type,value[,id[,description]], got {} fields",
                        fields.len()
                    ),
                );
                continue;
            }
            let kind = fields[0].trim().to_ascii_lowercase();
            let entry = Entry {
                kind: &kind,
                value: &fields[1],
                id: fields.get(2).filter(|s| !s.is_empty()).cloned(),
                description: fields.get(3).filter(|s| !s.is_empty()).cloned(),
            };
            if let Err(e) = self.add_entry(entry, &feed, origin, &at) {
                self.fail(origin, at, e);
            }
        }
    }

    /// Adds a STIX 2.1 bundle's text.
    pub fn add_stix(&mut self, text: &str, origin: &Path, feed: &str) {
        match serde_json::from_str::<Value>(text) {
            Ok(v) => self.add_stix_value(&v, origin, feed),
            Err(e) => self.fail(origin, format!(":{}", e.line()), format!("not JSON: {e}")),
        }
    }

    fn add_stix_value(&mut self, v: &Value, origin: &Path, feed: &str) {
        let feed: Arc<str> = Arc::from(feed);
        let Some(objects) = v.get("objects").and_then(Value::as_array) else {
            self.fail(
                origin,
                "#objects".into(),
                "a bundle needs an \"objects\" array",
            );
            return;
        };
        for (i, o) in objects.iter().enumerate() {
            if o.get("type").and_then(Value::as_str) != Some("indicator") {
                continue;
            }
            let at = format!("#objects[{i}]");
            if o.get("revoked").and_then(Value::as_bool) == Some(true) {
                self.set.report.ignored += 1;
                continue;
            }
            let ptype = o
                .get("pattern_type")
                .and_then(Value::as_str)
                .unwrap_or("stix");
            if ptype != "stix" {
                self.set.report.ignored += 1;
                continue;
            }
            let Some(pattern) = o.get("pattern").and_then(Value::as_str) else {
                self.fail(
                    origin,
                    format!("{at}.pattern"),
                    "an indicator needs a \"pattern\" string",
                );
                continue;
            };
            let comparisons = match stix_pattern(pattern) {
                Ok(c) => c,
                Err(e) => {
                    self.fail(origin, format!("{at}.pattern"), e);
                    continue;
                }
            };
            let id = o.get("id").and_then(Value::as_str).map(str::to_owned);
            let name = o.get("name").and_then(Value::as_str).map(str::to_owned);
            for (kind, value) in comparisons {
                let entry = Entry {
                    kind,
                    value: &value,
                    id: id.clone(),
                    description: name.clone(),
                };
                if let Err(e) = self.add_entry(entry, &feed, origin, &at) {
                    self.fail(origin, format!("{at}.pattern"), e);
                }
            }
        }
    }

    /// Adds a MISP event's text.
    pub fn add_misp(&mut self, text: &str, origin: &Path, feed: &str) {
        match serde_json::from_str::<Value>(text) {
            Ok(v) => self.add_misp_value(&v, origin, feed),
            Err(e) => self.fail(origin, format!(":{}", e.line()), format!("not JSON: {e}")),
        }
    }

    fn add_misp_value(&mut self, v: &Value, origin: &Path, feed: &str) {
        let feed: Arc<str> = Arc::from(feed);
        let mut events = Vec::new();
        if let Some(e) = v.get("Event") {
            events.push(("#Event".to_owned(), e));
        }
        if let Some(list) = v.get("response").and_then(Value::as_array) {
            for (i, r) in list.iter().enumerate() {
                if let Some(e) = r.get("Event") {
                    events.push((format!("#response[{i}].Event"), e));
                }
            }
        }
        for (path, event) in events {
            let info = event.get("info").and_then(Value::as_str).map(str::to_owned);
            let mut lists = vec![(format!("{path}.Attribute"), event.get("Attribute"))];
            if let Some(objs) = event.get("Object").and_then(Value::as_array) {
                for (k, o) in objs.iter().enumerate() {
                    lists.push((format!("{path}.Object[{k}].Attribute"), o.get("Attribute")));
                }
            }
            for (lpath, list) in lists {
                let Some(list) = list else { continue };
                let Some(list) = list.as_array() else {
                    self.fail(origin, lpath, "\"Attribute\" is not an array");
                    continue;
                };
                for (j, a) in list.iter().enumerate() {
                    let at = format!("{lpath}[{j}]");
                    let (Some(t), Some(value)) = (
                        a.get("type").and_then(Value::as_str),
                        a.get("value").and_then(Value::as_str),
                    ) else {
                        self.fail(
                            origin,
                            at,
                            "an attribute needs string \"type\" and \"value\"",
                        );
                        continue;
                    };
                    let id = a.get("uuid").and_then(Value::as_str).map(str::to_owned);
                    let parts: Vec<(&str, &str)> = match t {
                        "ip-src" | "ip-dst" => vec![("ip", value)],
                        "ip-src|port" | "ip-dst|port" => {
                            vec![("ip", value.rsplit_once('|').map_or(value, |(ip, _)| ip))]
                        }
                        "domain" | "hostname" => vec![("domain", value)],
                        "domain|ip" => match value.split_once('|') {
                            Some((d, ip)) => vec![("domain", d), ("ip", ip)],
                            None => vec![("domain", value)],
                        },
                        "url" => vec![("url", value)],
                        "md5" | "sha1" | "sha256" => vec![(t, value)],
                        "filename|md5" | "filename|sha1" | "filename|sha256" => {
                            let kind = &t["filename|".len()..];
                            match value.rsplit_once('|') {
                                Some((_, h)) => vec![(kind, h)],
                                None => {
                                    self.fail(origin, at, format!("{t} value without '|'"));
                                    continue;
                                }
                            }
                        }
                        _ => {
                            self.set.report.ignored += 1;
                            continue;
                        }
                    };
                    for (kind, v) in parts {
                        let entry = Entry {
                            kind,
                            value: v,
                            id: id.clone(),
                            description: info.clone(),
                        };
                        if let Err(e) = self.add_entry(entry, &feed, origin, &at) {
                            self.fail(origin, at.clone(), e);
                        }
                    }
                }
            }
        }
    }

    pub fn build(mut self) -> IntelSet {
        let mut v4: Vec<_> = self.v4.drain().collect();
        v4.sort_by_key(|e| std::cmp::Reverse(e.0));
        let mut v6: Vec<_> = self.v6.drain().collect();
        v6.sort_by_key(|e| std::cmp::Reverse(e.0));
        self.set.v4 = v4;
        self.set.v6 = v6;
        self.set
    }
}

/// Splits one CSV line into fields (double quotes, `""` escapes).
fn csv_fields(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', false) if cur.is_empty() && !was_quoted => {
                quoted = true;
                was_quoted = true;
            }
            ('"', true) => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    quoted = false;
                }
            }
            (',', false) => {
                out.push(std::mem::take(&mut cur));
                was_quoted = false;
            }
            ('"', false) => return Err("a quote inside an unquoted field".into()),
            (c, _) => {
                if was_quoted && !quoted {
                    return Err("text after a closing quote".into());
                }
                cur.push(c);
            }
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    out.push(cur);
    Ok(out)
}

/// Parses the supported STIX patterns into (indicator type, value) pairs.
fn stix_pattern(p: &str) -> Result<Vec<(&'static str, String)>, String> {
    let b = p.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    let skip_ws = |i: &mut usize| {
        while b.get(*i).is_some_and(u8::is_ascii_whitespace) {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if b.get(i) != Some(&b'[') {
            return Err(format!("expected '[' at byte {i}"));
        }
        i += 1;
        loop {
            skip_ws(&mut i);
            let start = i;
            while b
                .get(i)
                .is_some_and(|c| !c.is_ascii_whitespace() && *c != b'=' && *c != b'!')
            {
                if b[i] == b'\'' {
                    // a quoted hash name: file:hashes.'SHA-256'
                    i += 1;
                    while b.get(i).is_some_and(|&c| c != b'\'') {
                        i += 1;
                    }
                }
                i += 1;
            }
            let path = p.get(start..i.min(p.len())).unwrap_or("");
            skip_ws(&mut i);
            if b.get(i) != Some(&b'=') {
                return Err(format!("only '=' comparisons are supported (at byte {i})"));
            }
            i += 1;
            skip_ws(&mut i);
            if b.get(i) != Some(&b'\'') {
                return Err(format!("expected a quoted string at byte {i}"));
            }
            i += 1;
            let mut value = String::new();
            loop {
                match b.get(i) {
                    None => return Err("unterminated string".into()),
                    Some(b'\\') => {
                        let c = p
                            .get(i + 1..)
                            .and_then(|r| r.chars().next())
                            .ok_or("unterminated string")?;
                        value.push(c);
                        i += 1 + c.len_utf8();
                    }
                    Some(b'\'') => {
                        i += 1;
                        break;
                    }
                    Some(_) => {
                        let c = p
                            .get(i..)
                            .and_then(|r| r.chars().next())
                            .ok_or("bad text")?;
                        value.push(c);
                        i += c.len_utf8();
                    }
                }
            }
            let kind = match path {
                "ipv4-addr:value" | "ipv6-addr:value" => "ip",
                "domain-name:value" => "domain",
                "url:value" => "url",
                "file:hashes.MD5" | "file:hashes.'MD5'" => "md5",
                "file:hashes.'SHA-1'" | "file:hashes.SHA1" | "file:hashes.'SHA1'" => "sha1",
                "file:hashes.'SHA-256'" | "file:hashes.SHA256" | "file:hashes.'SHA256'" => "sha256",
                other => return Err(format!("object path {other:?} is not supported")),
            };
            out.push((kind, value));
            skip_ws(&mut i);
            if p.get(i..).unwrap_or("").starts_with("OR") {
                i += 2;
                continue;
            }
            if b.get(i) == Some(&b']') {
                i += 1;
                break;
            }
            let word: String = p
                .get(i..)
                .unwrap_or("")
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect();
            return Err(format!(
                "{word:?} is not supported (only OR of '=' comparisons)"
            ));
        }
        skip_ws(&mut i);
        if i == b.len() {
            return Ok(out);
        }
        if p.get(i..).unwrap_or("").starts_with("OR") {
            i += 2;
            continue;
        }
        let word: String = p
            .get(i..)
            .unwrap_or("")
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect();
        return Err(format!(
            "{word:?} between observations is not supported (only OR)"
        ));
    }
}

#[cfg(test)]
mod tests;
