//! One rule's text into a [`Rule`]: the header (action, protocol, addresses, ports,
//! direction), then the options in order, each keyword checked the way Suricata 7 checks it.
//!
//! Never panics on any text; every refusal names the keyword at fault.

use super::addr::{SetError, parse_addresses, parse_ports};
use super::keywords::is_suricata_keyword;
use super::*;
use crate::detect::BufferId;

/// The sid of a rule's text, found without parsing the rest (for reporting a failed rule).
pub(crate) fn sid_of(text: &str) -> Option<u32> {
    let open = text.find('(')?;
    let body = text[open + 1..].trim_end();
    let body = body.strip_suffix(')').unwrap_or(body).trim_end();
    let body = if body.ends_with(';') {
        body.to_owned()
    } else {
        format!("{body};")
    };
    for (key, value) in split_options(&body).ok()? {
        if key == "sid" {
            return value.and_then(|v| v.trim().parse().ok());
        }
    }
    None
}

/// Parses one rule.
pub fn parse_rule(text: &str, vars: &Vars, classes: &Classifications) -> Result<Rule, RuleError> {
    let text = text.trim();
    let open = text
        .find('(')
        .ok_or_else(|| RuleError::new("rule", "no option list `( ... )`"))?;
    let header = &text[..open];
    let body = text[open + 1..]
        .trim_end()
        .strip_suffix(')')
        .ok_or_else(|| RuleError::new("rule", "option list does not end with `)`"))?;
    let mut rule = parse_header(header, vars)?;
    let options = split_options(body)?;
    let mut b = Builder::default();
    for (key, value) in options {
        b.option(&mut rule, key, value, classes)?;
    }
    b.finish(&mut rule, classes)?;
    Ok(rule)
}

/// Splits the option list into `(keyword, value)` pairs. Options end at a `;` that is not
/// escaped with a backslash; the value (after the first `:`) keeps its escapes.
fn split_options(body: &str) -> Result<Vec<(&str, Option<&str>)>, RuleError> {
    let mut out = Vec::new();
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // Skip whitespace between options.
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let start = i;
        let mut escaped = false;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' if !escaped => escaped = true,
                b';' if !escaped => break,
                _ => escaped = false,
            }
            i += 1;
        }
        let opt = &body[start..i];
        if i >= bytes.len() {
            return Err(RuleError::new(
                "rule",
                format!("option {:?} is not ended by `;`", opt.trim()),
            ));
        }
        i += 1; // the ';'
        let (key, value) = match opt.find(':') {
            Some(c) => (opt[..c].trim(), Some(opt[c + 1..].trim())),
            None => (opt.trim(), None),
        };
        if key.is_empty() {
            return Err(RuleError::new("rule", format!("empty option in {opt:?}")));
        }
        out.push((key, value));
    }
    Ok(out)
}

/// Splits a header into its seven fields, keeping bracketed lists whole.
fn header_fields(header: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0i32;
    for c in header.chars() {
        match c {
            '[' => {
                depth += 1;
                cur.push(c);
            }
            ']' => {
                depth -= 1;
                cur.push(c);
            }
            c if c.is_whitespace() => {
                if depth > 0 {
                    continue;
                }
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn set_error(part: &str, e: SetError) -> RuleError {
    RuleError::new(part, e.to_string())
}

fn parse_header(header: &str, vars: &Vars) -> Result<Rule, RuleError> {
    let f = header_fields(header);
    if f.len() != 7 {
        return Err(RuleError::new(
            "header",
            format!(
                "expected `action protocol src sport -> dst dport`, got {} fields",
                f.len()
            ),
        ));
    }
    let action = match f[0].as_str() {
        "alert" => Action::Alert,
        "drop" => Action::Drop,
        "pass" => Action::Pass,
        "reject" | "rejectsrc" => Action::Reject(RejectTarget::Source),
        "rejectdst" => Action::Reject(RejectTarget::Destination),
        "rejectboth" => Action::Reject(RejectTarget::Both),
        "config" => return Err(RuleError::unsupported("action config")),
        other => {
            return Err(RuleError::new(
                "action",
                format!("unknown action {other:?}"),
            ));
        }
    };
    let proto_name = f[1].to_ascii_lowercase();
    let protocol = match proto_name.as_str() {
        "ip" | "ipv4" | "ipv6" => Protocol::Ip,
        "tcp" => Protocol::Tcp,
        "tcp-pkt" => Protocol::TcpPkt,
        "tcp-stream" => Protocol::TcpStream,
        "udp" => Protocol::Udp,
        "icmp" => Protocol::Icmp,
        "icmpv4" => Protocol::Icmpv4,
        "icmpv6" => Protocol::Icmpv6,
        "sctp" => return Err(RuleError::unsupported("protocol sctp")),
        other => match AppProto::from_name(other) {
            Some(p @ (AppProto::Http | AppProto::Dns | AppProto::Tls)) => Protocol::App(p),
            Some(AppProto::Unknown | AppProto::Failed) | None => {
                return Err(RuleError::new(
                    "protocol",
                    format!("unknown protocol {other:?}"),
                ));
            }
            Some(_) => return Err(RuleError::unsupported(&format!("protocol {other}"))),
        },
    };
    let src = parse_addresses(&f[2], vars).map_err(|e| set_error("source", e))?;
    let src_ports = parse_ports(&f[3], vars).map_err(|e| set_error("source port", e))?;
    let direction = match f[4].as_str() {
        "->" => Direction::OneWay,
        "<>" => Direction::Both,
        other => {
            return Err(RuleError::new(
                "direction",
                format!("expected -> or <>, got {other:?}"),
            ));
        }
    };
    let dst = parse_addresses(&f[5], vars).map_err(|e| set_error("destination", e))?;
    let dst_ports = parse_ports(&f[6], vars).map_err(|e| set_error("destination port", e))?;
    let mut flow = FlowMatch::default();
    match protocol {
        Protocol::TcpPkt => flow.no_stream = true,
        Protocol::TcpStream => flow.only_stream = true,
        _ => {}
    }
    Ok(Rule {
        action,
        protocol,
        src,
        src_ports,
        direction,
        dst,
        dst_ports,
        msg: String::new(),
        sid: 0,
        rev: 0,
        gid: 1,
        classtype: None,
        category: None,
        priority: 3,
        references: Vec::new(),
        metadata: Vec::new(),
        target: None,
        flow,
        flowbits: Vec::new(),
        noalert: false,
        dsize: None,
        tcp_flags: None,
        threshold: None,
        detection_filter: None,
        app_layer_protocol: None,
        app_proto: match protocol {
            Protocol::App(p) => Some(p),
            _ => None,
        },
        buffers: Vec::new(),
    })
}

/// Where the last content/pcre/byte keyword went, for the modifiers that follow it.
#[derive(Clone, Copy)]
struct Slot {
    list: usize,
    index: usize,
}

/// Parsing state carried across options.
#[derive(Default)]
struct Builder {
    /// The sticky buffer in force (`None`: the packet payload).
    sticky: Option<BufferId>,
    last_content: Option<Slot>,
    sid_seen: bool,
    priority_set: bool,
    fast_pattern_seen: bool,
    /// Per content slot: which modifiers it has had (to refuse repeats).
    seen_mods: Vec<(usize, usize, &'static str)>,
}

fn need<'a>(key: &str, value: Option<&'a str>) -> Result<&'a str, RuleError> {
    match value {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(RuleError::new(key, "needs a value")),
    }
}

fn no_value(key: &str, value: Option<&str>) -> Result<(), RuleError> {
    match value {
        None => Ok(()),
        Some(v) => Err(RuleError::new(key, format!("takes no value, got {v:?}"))),
    }
}

/// Removes surrounding double quotes.
fn unquote<'a>(key: &str, v: &'a str) -> Result<&'a str, RuleError> {
    let v = v.trim();
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        Ok(&v[1..v.len() - 1])
    } else {
        Err(RuleError::new(
            key,
            format!("value must be in double quotes: {v}"),
        ))
    }
}

/// Removes `\` escapes from a quoted text value (`\"`, `\;`, `\\`, `\:` and others kept as the
/// escaped character).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut esc = false;
    for c in s.chars() {
        if esc {
            out.push(c);
            esc = false;
        } else if c == '\\' {
            esc = true;
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses a content string: text with `|hex|` blocks and backslash escapes.
fn parse_content_bytes(key: &str, s: &str) -> Result<Vec<u8>, RuleError> {
    let mut out = Vec::with_capacity(s.len());
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut hex = false;
    let mut nibble: Option<u8> = None;
    while i < bytes.len() {
        let c = bytes[i];
        if hex {
            match c {
                b'|' => {
                    if nibble.is_some() {
                        return Err(RuleError::new(key, "odd number of hex digits"));
                    }
                    hex = false;
                }
                b' ' | b'\t' => {
                    if nibble.is_some() {
                        return Err(RuleError::new(key, "space inside a hex byte"));
                    }
                }
                c if c.is_ascii_hexdigit() => {
                    let v = (c as char).to_digit(16).unwrap_or(0) as u8;
                    match nibble.take() {
                        Some(h) => out.push(h << 4 | v),
                        None => nibble = Some(v),
                    }
                }
                _ => {
                    return Err(RuleError::new(
                        key,
                        format!("invalid hex character {:?}", c as char),
                    ));
                }
            }
        } else {
            match c {
                b'|' => hex = true,
                b'\\' => {
                    let n = bytes.get(i + 1).copied();
                    match n {
                        Some(e @ (b'"' | b';' | b'\\' | b':' | b'|')) => {
                            out.push(e);
                            i += 1;
                        }
                        Some(e) => {
                            return Err(RuleError::new(
                                key,
                                format!("'\\{}' is not a valid escape", e as char),
                            ));
                        }
                        None => return Err(RuleError::new(key, "trailing backslash")),
                    }
                }
                b'"' => return Err(RuleError::new(key, "unescaped double quote")),
                b';' => return Err(RuleError::new(key, "unescaped semicolon")),
                c => out.push(c),
            }
        }
        i += 1;
    }
    if hex {
        return Err(RuleError::new(key, "unterminated |hex| block"));
    }
    if out.is_empty() {
        return Err(RuleError::new(key, "empty pattern"));
    }
    Ok(out)
}

/// A leading `!` (with optional spaces after it).
fn negation(v: &str) -> (bool, &str) {
    match v.trim().strip_prefix('!') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, v.trim()),
    }
}

fn parse_u32(key: &str, v: &str) -> Result<u32, RuleError> {
    v.trim()
        .parse::<u32>()
        .map_err(|_| RuleError::new(key, format!("expected a number, got {v:?}")))
}

/// A number that may be a `byte_extract` variable: variables are not supported yet.
fn number_or_var(key: &str, v: &str) -> Result<i64, RuleError> {
    let t = v.trim();
    if let Ok(n) = t.parse::<i64>() {
        return Ok(n);
    }
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X"))
        && let Ok(n) = i64::from_str_radix(h, 16)
    {
        return Ok(n);
    }
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        // A byte_extract/byte_math variable name.
        return Err(RuleError::unsupported("byte_extract"));
    }
    Err(RuleError::new(key, format!("expected a number, got {v:?}")))
}

/// Suricata's unsigned comparisons (`N`, `<N`, `<=N`, `>N`, `>=N`, `!N`, `A<>B`, `A-B`).
pub(crate) fn parse_num_match(key: &str, v: &str, max: u64) -> Result<NumMatch, RuleError> {
    let v = v.trim();
    let bad = || RuleError::new(key, format!("bad value {v:?}"));
    let num = |s: &str| -> Result<u64, RuleError> {
        let n = s.trim().parse::<u64>().map_err(|_| bad())?;
        if n > max {
            return Err(RuleError::new(key, format!("{n} is above {max}")));
        }
        Ok(n)
    };
    if let Some((a, b)) = v.split_once("<>").or_else(|| {
        // `A-B`, but not a negative number.
        v.find('-')
            .filter(|&i| i > 0)
            .map(|i| (&v[..i], &v[i + 1..]))
    }) {
        let (a, b) = (num(a)?, num(b)?);
        if a >= b {
            return Err(RuleError::new(key, format!("range {a}<>{b} is empty")));
        }
        return Ok(NumMatch::Range(a, b));
    }
    Ok(if let Some(r) = v.strip_prefix("<=") {
        NumMatch::Le(num(r)?)
    } else if let Some(r) = v.strip_prefix(">=") {
        NumMatch::Ge(num(r)?)
    } else if let Some(r) = v.strip_prefix('<') {
        NumMatch::Lt(num(r)?)
    } else if let Some(r) = v.strip_prefix('>') {
        NumMatch::Gt(num(r)?)
    } else if let Some(r) = v.strip_prefix('!') {
        NumMatch::Ne(num(r)?)
    } else if let Some(r) = v.strip_prefix('=') {
        NumMatch::Eq(num(r)?)
    } else {
        NumMatch::Eq(num(v)?)
    })
}

/// The sticky buffer a keyword selects, if it is one.
fn sticky_buffer(key: &str) -> Option<Option<BufferId>> {
    use BufferId::*;
    Some(Some(match key {
        "pkt_data" => return Some(None),
        "file.data" | "file_data" => FileData,
        "http.uri" => HttpUri,
        "http.uri.raw" => HttpUriRaw,
        "http.method" => HttpMethod,
        "http.header" => HttpHeader,
        "http.header.raw" => HttpHeaderRaw,
        "http.header_names" => HttpHeaderNames,
        "http.host" => HttpHost,
        "http.host.raw" => HttpHostRaw,
        "http.user_agent" => HttpUserAgent,
        "http.cookie" => HttpCookie,
        "http.referer" => HttpReferer,
        "http.content_type" => HttpContentType,
        "http.server" => HttpServer,
        "http.location" => HttpLocation,
        "http.request_line" | "http_request_line" => HttpRequestLine,
        "http.response_line" | "http_response_line" => HttpResponseLine,
        "http.request_body" => HttpRequestBody,
        "http.stat_code" => HttpStatCode,
        "http.stat_msg" => HttpStatMsg,
        "http.response_body" => HttpResponseBody,
        "dns.query" | "dns_query" => DnsQuery,
        "tls.sni" | "tls_sni" => TlsSni,
        _ => return None,
    }))
}

/// The buffer a pre-Suricata-5 content modifier moves the last content into.
fn content_modifier_buffer(key: &str) -> Option<BufferId> {
    use BufferId::*;
    Some(match key {
        "http_uri" => HttpUri,
        "http_raw_uri" => HttpUriRaw,
        "http_method" => HttpMethod,
        "http_header" => HttpHeader,
        "http_raw_header" => HttpHeaderRaw,
        "http_cookie" => HttpCookie,
        "http_user_agent" => HttpUserAgent,
        "http_host" => HttpHost,
        "http_raw_host" => HttpHostRaw,
        "http_stat_code" => HttpStatCode,
        "http_stat_msg" => HttpStatMsg,
        "http_client_body" => HttpRequestBody,
        "http_server_body" => HttpResponseBody,
        _ => return None,
    })
}

/// The buffer of a pcre buffer flag.
fn pcre_flag_buffer(flag: char) -> Option<BufferId> {
    use BufferId::*;
    Some(match flag {
        'U' => HttpUri,
        'I' => HttpUriRaw,
        'P' => HttpRequestBody,
        'Q' => HttpResponseBody,
        'H' => HttpHeader,
        'D' => HttpHeaderRaw,
        'M' => HttpMethod,
        'C' => HttpCookie,
        'S' => HttpStatCode,
        'Y' => HttpStatMsg,
        'V' => HttpUserAgent,
        'W' => HttpHost,
        'Z' => HttpHostRaw,
        _ => return None,
    })
}

impl Builder {
    /// The list for a buffer, created on first use.
    fn list(&mut self, rule: &mut Rule, buffer: BufferId) -> usize {
        if let Some(i) = rule.buffers.iter().position(|b| b.buffer == buffer) {
            return i;
        }
        rule.buffers.push(BufferInspection {
            buffer,
            dotprefix: false,
            keywords: Vec::new(),
        });
        rule.buffers.len() - 1
    }

    fn current_buffer(&self) -> BufferId {
        self.sticky.unwrap_or(BufferId::PktData)
    }

    fn push(&mut self, rule: &mut Rule, buffer: BufferId, k: Inspect) -> Slot {
        let list = self.list(rule, buffer);
        rule.buffers[list].keywords.push(k);
        Slot {
            list,
            index: rule.buffers[list].keywords.len() - 1,
        }
    }

    /// Whether the list has a content or pcre before `index` (for relative keywords).
    fn has_previous_match(rule: &Rule, list: usize, index: usize) -> bool {
        rule.buffers[list].keywords[..index]
            .iter()
            .any(|k| matches!(k, Inspect::Content(_) | Inspect::Pcre(_)))
    }

    /// The content a modifier applies to: with a sticky buffer, the last content in that
    /// buffer; otherwise the last content of the rule.
    fn modified<'r>(
        &mut self,
        rule: &'r mut Rule,
        key: &'static str,
        repeat_ok: bool,
    ) -> Result<&'r mut Content, RuleError> {
        let slot = match self.sticky {
            Some(b) => rule
                .buffers
                .iter()
                .position(|l| l.buffer == b)
                .and_then(|list| {
                    rule.buffers[list]
                        .keywords
                        .iter()
                        .rposition(|k| matches!(k, Inspect::Content(_)))
                        .map(|index| Slot { list, index })
                }),
            None => self.last_content,
        }
        .ok_or_else(|| RuleError::new(key, "no preceding content"))?;
        if !repeat_ok {
            if self
                .seen_mods
                .iter()
                .any(|&(l, i, k)| l == slot.list && i == slot.index && k == key)
            {
                return Err(RuleError::new(key, "given twice for one content"));
            }
            self.seen_mods.push((slot.list, slot.index, key));
        }
        match &mut rule.buffers[slot.list].keywords[slot.index] {
            Inspect::Content(c) => Ok(c),
            _ => Err(RuleError::new(key, "no preceding content")),
        }
    }

    fn option(
        &mut self,
        rule: &mut Rule,
        key: &str,
        value: Option<&str>,
        classes: &Classifications,
    ) -> Result<(), RuleError> {
        if let Some(sticky) = sticky_buffer(key) {
            no_value(key, value)?;
            self.sticky = sticky;
            if let Some(b) = sticky {
                self.list(rule, b);
            }
            return Ok(());
        }
        if let Some(buffer) = content_modifier_buffer(key) {
            no_value(key, value)?;
            return self.move_last_content(rule, key, buffer);
        }
        match key {
            "msg" => rule.msg = unescape(unquote(key, need(key, value)?)?),
            "sid" => {
                let n = parse_u32(key, need(key, value)?)?;
                if n == 0 {
                    return Err(RuleError::new(key, "sid 0 is not allowed"));
                }
                if self.sid_seen {
                    return Err(RuleError::new(key, "given twice"));
                }
                self.sid_seen = true;
                rule.sid = n;
            }
            "rev" => rule.rev = parse_u32(key, need(key, value)?)?,
            "gid" => rule.gid = parse_u32(key, need(key, value)?)?,
            "classtype" => {
                let name = need(key, value)?.trim();
                let c = classes
                    .get(name)
                    .ok_or_else(|| RuleError::new(key, format!("unknown classtype {name:?}")))?;
                if !self.priority_set {
                    rule.priority = c.priority;
                }
                rule.category = Some(c.description.clone());
                rule.classtype = Some(name.to_ascii_lowercase());
            }
            "priority" => {
                let n = parse_u32(key, need(key, value)?)?;
                if n > 255 {
                    return Err(RuleError::new(key, "must be 0-255"));
                }
                rule.priority = n as u8;
                self.priority_set = true;
            }
            "reference" => {
                let v = need(key, value)?;
                let (t, id) = v
                    .split_once(',')
                    .ok_or_else(|| RuleError::new(key, "expected type,value"))?;
                rule.references
                    .push((t.trim().to_owned(), unescape(id.trim())));
            }
            "metadata" => {
                for item in need(key, value)?.split(',') {
                    let item = item.trim();
                    if !item.is_empty() {
                        rule.metadata.push(item.to_owned());
                    }
                }
            }
            "target" => {
                rule.target = Some(match need(key, value)?.trim() {
                    "src_ip" => Target::SrcIp,
                    "dest_ip" => Target::DestIp,
                    other => {
                        return Err(RuleError::new(
                            key,
                            format!("expected src_ip or dest_ip, got {other:?}"),
                        ));
                    }
                })
            }
            "content" => self.content(rule, key, need(key, value)?, self.current_buffer())?,
            "uricontent" => {
                if self.sticky.is_some() {
                    return Err(RuleError::new(key, "cannot follow a sticky buffer"));
                }
                self.content(rule, key, need(key, value)?, BufferId::HttpUri)?;
            }
            "nocase" => {
                no_value(key, value)?;
                self.modified(rule, "nocase", false)?.nocase = true;
            }
            "rawbytes" => {
                no_value(key, value)?;
                self.modified(rule, "rawbytes", false)?.rawbytes = true;
            }
            "depth" | "offset" | "distance" | "within" => {
                self.position(rule, key, need(key, value)?)?
            }
            "startswith" => {
                no_value(key, value)?;
                let c = self.modified(rule, "startswith", false)?;
                if c.depth.is_some() || c.offset.is_some() || c.is_relative() {
                    return Err(RuleError::new(
                        key,
                        "cannot be combined with depth, offset, distance or within",
                    ));
                }
                if c.negated {
                    return Err(RuleError::new(key, "cannot be used on a negated content"));
                }
                c.startswith = true;
                c.depth = Some(c.pattern.len() as u32);
                c.offset = Some(0);
            }
            "endswith" => {
                no_value(key, value)?;
                let c = self.modified(rule, "endswith", false)?;
                if c.negated {
                    return Err(RuleError::new(key, "cannot be used on a negated content"));
                }
                c.endswith = true;
            }
            "fast_pattern" => self.fast_pattern(rule, value)?,
            "pcre" => self.pcre(rule, need(key, value)?)?,
            "byte_test" => self.byte_test(rule, need(key, value)?)?,
            "byte_jump" => self.byte_jump(rule, need(key, value)?)?,
            "isdataat" => self.isdataat(rule, need(key, value)?)?,
            "bsize" => {
                let m = parse_num_match(key, need(key, value)?, u64::MAX)?;
                let Some(b) = self.sticky else {
                    return Err(RuleError::new(key, "needs a sticky buffer before it"));
                };
                self.push(rule, b, Inspect::Bsize(m));
            }
            "urilen" => {
                let v = need(key, value)?;
                let (num, buffer) = match v.split_once(',') {
                    Some((n, "raw")) | Some((n, " raw")) => (n, BufferId::HttpUriRaw),
                    Some((n, m)) if m.trim() == "raw" => (n, BufferId::HttpUriRaw),
                    Some((n, m)) if m.trim() == "norm" => (n, BufferId::HttpUri),
                    // Suricata reads anything else as the normalised URI.
                    Some((n, _)) => (n, BufferId::HttpUri),
                    None => (v, BufferId::HttpUri),
                };
                let m = parse_num_match(key, num, u64::from(u16::MAX))?;
                self.push(rule, buffer, Inspect::Urilen(m));
            }
            "dotprefix" => {
                no_value(key, value)?;
                let Some(b) = self.sticky else {
                    return Err(RuleError::new(key, "needs a sticky buffer before it"));
                };
                let list = self.list(rule, b);
                if !rule.buffers[list].keywords.is_empty() {
                    return Err(RuleError::new(
                        key,
                        "transforms must come before the buffer's content keywords",
                    ));
                }
                rule.buffers[list].dotprefix = true;
            }
            "flow" => self.flow(rule, need(key, value)?)?,
            "flowbits" => self.flowbits(rule, need(key, value)?)?,
            "noalert" => {
                no_value(key, value)?;
                rule.noalert = true;
            }
            "dsize" => {
                if rule.dsize.is_some() {
                    return Err(RuleError::new(key, "given twice"));
                }
                rule.dsize = Some(parse_num_match(
                    key,
                    need(key, value)?,
                    u64::from(u16::MAX),
                )?);
            }
            "flags" => {
                if rule.tcp_flags.is_some() {
                    return Err(RuleError::new(key, "given twice"));
                }
                rule.tcp_flags = Some(parse_tcp_flags(key, need(key, value)?)?);
            }
            "threshold" | "detection_filter" => {
                if rule.threshold.is_some() || rule.detection_filter.is_some() {
                    return Err(RuleError::new(
                        key,
                        "only one threshold or detection_filter per rule",
                    ));
                }
                let t = parse_threshold(key, need(key, value)?)?;
                if key == "threshold" {
                    rule.threshold = Some(t);
                } else {
                    rule.detection_filter = Some(t);
                }
            }
            "app-layer-protocol" => {
                let v = need(key, value)?;
                let (name, mode) = match v.split_once(',') {
                    Some((n, m)) => (n, Some(m.trim())),
                    None => (v, None),
                };
                if let Some(m) = mode {
                    if !matches!(
                        m,
                        "either" | "final" | "original" | "to_server" | "to_client"
                    ) {
                        return Err(RuleError::new(key, format!("unknown mode {m:?}")));
                    }
                    if m != "either" && m != "final" {
                        return Err(RuleError::unsupported("app-layer-protocol mode"));
                    }
                }
                let (negated, name) = negation(name);
                let proto = AppProto::from_name(name)
                    .ok_or_else(|| RuleError::new(key, format!("unknown protocol {name:?}")))?;
                if rule.app_layer_protocol.is_some() {
                    return Err(RuleError::new(key, "given twice"));
                }
                rule.app_layer_protocol = Some(AppLayerMatch { proto, negated });
            }
            other if is_suricata_keyword(other) => return Err(RuleError::unsupported(other)),
            other => return Err(RuleError::new(other, "unknown keyword")),
        }
        Ok(())
    }

    fn content(
        &mut self,
        rule: &mut Rule,
        key: &str,
        v: &str,
        buffer: BufferId,
    ) -> Result<(), RuleError> {
        let (negated, v) = negation(v);
        let pattern = parse_content_bytes(key, unquote(key, v)?)?;
        if pattern.len() > usize::from(u16::MAX) {
            return Err(RuleError::new(key, "pattern longer than 65535 bytes"));
        }
        let slot = self.push(
            rule,
            buffer,
            Inspect::Content(Content {
                pattern,
                negated,
                nocase: false,
                offset: None,
                depth: None,
                distance: None,
                within: None,
                endswith: false,
                startswith: false,
                fast_pattern: None,
                rawbytes: false,
            }),
        );
        self.last_content = Some(slot);
        Ok(())
    }

    fn move_last_content(
        &mut self,
        rule: &mut Rule,
        key: &str,
        buffer: BufferId,
    ) -> Result<(), RuleError> {
        if self.sticky.is_some() {
            return Err(RuleError::new(key, "cannot be used after a sticky buffer"));
        }
        let slot = self
            .last_content
            .ok_or_else(|| RuleError::new(key, "no preceding content"))?;
        if rule.buffers[slot.list].buffer != BufferId::PktData {
            return Err(RuleError::new(
                key,
                "the preceding content already has a buffer modifier",
            ));
        }
        let k = rule.buffers[slot.list].keywords.remove(slot.index);
        // Modifier bookkeeping follows the content.
        let to = self.list(rule, buffer);
        rule.buffers[to].keywords.push(k);
        let new = Slot {
            list: to,
            index: rule.buffers[to].keywords.len() - 1,
        };
        for m in &mut self.seen_mods {
            if m.0 == slot.list && m.1 == slot.index {
                m.0 = new.list;
                m.1 = new.index;
            } else if m.0 == slot.list && m.1 > slot.index {
                m.1 -= 1;
            }
        }
        if rule.buffers[slot.list].keywords.is_empty() && slot.list != to {
            rule.buffers.remove(slot.list);
            let fix = |l: &mut usize| {
                if *l > slot.list {
                    *l -= 1;
                }
            };
            let mut new = new;
            fix(&mut new.list);
            for m in &mut self.seen_mods {
                fix(&mut m.0);
            }
            self.last_content = Some(new);
        } else {
            self.last_content = Some(new);
        }
        Ok(())
    }

    fn position(&mut self, rule: &mut Rule, key: &str, v: &str) -> Result<(), RuleError> {
        let static_key: &'static str = match key {
            "depth" => "depth",
            "offset" => "offset",
            "distance" => "distance",
            _ => "within",
        };
        let n = number_or_var(key, v)?;
        let c = self.modified(rule, static_key, false)?;
        if c.startswith {
            return Err(RuleError::new(key, "cannot be combined with startswith"));
        }
        let len = c.pattern.len() as i64;
        match key {
            "depth" | "offset" => {
                if c.is_relative() {
                    return Err(RuleError::new(
                        key,
                        "cannot mix depth/offset with distance/within on one content",
                    ));
                }
                let n = u32::try_from(n)
                    .ok()
                    .filter(|&n| n <= u32::from(u16::MAX))
                    .ok_or_else(|| RuleError::new(key, format!("{n} is not in 0-65535")))?;
                if key == "depth" {
                    if n == 0 {
                        return Err(RuleError::new(key, "depth 0 can never match"));
                    }
                    if i64::from(n) < len {
                        return Err(RuleError::new(
                            key,
                            format!("depth {n} is smaller than the pattern length {len}"),
                        ));
                    }
                    c.depth = Some(n);
                } else {
                    c.offset = Some(n);
                }
            }
            _ => {
                if c.depth.is_some() || c.offset.is_some() {
                    return Err(RuleError::new(
                        key,
                        "cannot mix distance/within with depth/offset on one content",
                    ));
                }
                let n = i32::try_from(n)
                    .ok()
                    .filter(|n| n.unsigned_abs() <= u32::from(u16::MAX))
                    .ok_or_else(|| RuleError::new(key, format!("{n} is out of range")))?;
                if key == "within" {
                    if i64::from(n) < len {
                        return Err(RuleError::new(
                            key,
                            format!("within {n} is smaller than the pattern length {len}"),
                        ));
                    }
                    c.within = Some(n);
                } else {
                    c.distance = Some(n);
                }
            }
        }
        Ok(())
    }

    fn fast_pattern(&mut self, rule: &mut Rule, value: Option<&str>) -> Result<(), RuleError> {
        let key = "fast_pattern";
        if self.fast_pattern_seen {
            return Err(RuleError::new(key, "only one fast_pattern per rule"));
        }
        self.fast_pattern_seen = true;
        let mut fp = FastPattern {
            only: false,
            chop: None,
        };
        match value.map(str::trim) {
            None => {}
            Some("only") => fp.only = true,
            Some(v) => {
                let (o, l) = v
                    .split_once(',')
                    .ok_or_else(|| RuleError::new(key, format!("bad value {v:?}")))?;
                let o = o
                    .trim()
                    .parse::<u16>()
                    .map_err(|_| RuleError::new(key, "bad offset"))?;
                let l = l
                    .trim()
                    .parse::<u16>()
                    .map_err(|_| RuleError::new(key, "bad length"))?;
                if l == 0 {
                    return Err(RuleError::new(key, "chop length 0"));
                }
                fp.chop = Some((o, l));
            }
        }
        let c = self.modified(rule, key, false)?;
        if let Some((o, l)) = fp.chop
            && usize::from(o) + usize::from(l) > c.pattern.len()
        {
            return Err(RuleError::new(
                key,
                format!(
                    "chop {o},{l} runs past the {}-byte pattern",
                    c.pattern.len()
                ),
            ));
        }
        if c.negated && (c.offset.is_some() || c.depth.is_some() || c.is_relative()) {
            return Err(RuleError::new(
                key,
                "cannot be used on a negated content with positional modifiers",
            ));
        }
        c.fast_pattern = Some(fp);
        Ok(())
    }

    fn pcre(&mut self, rule: &mut Rule, v: &str) -> Result<(), RuleError> {
        let key = "pcre";
        let (negated, v) = negation(v);
        let body = unquote(key, v)?;
        let body = body
            .strip_prefix('/')
            .ok_or_else(|| RuleError::new(key, "expected /expression/flags"))?;
        let end = body
            .rfind('/')
            .ok_or_else(|| RuleError::new(key, "no closing / of the expression"))?;
        let source = &body[..end];
        let flags = &body[end + 1..];
        let mut p = Pcre {
            source: source.to_owned(),
            negated,
            caseless: false,
            dotall: false,
            multiline: false,
            extended: false,
            anchored: false,
            dollar_endonly: false,
            ungreedy: false,
            relative: false,
        };
        let mut buffer: Option<BufferId> = None;
        for f in flags.chars() {
            match f {
                'i' => p.caseless = true,
                's' => p.dotall = true,
                'm' => p.multiline = true,
                'x' => p.extended = true,
                'A' => p.anchored = true,
                'E' => p.dollar_endonly = true,
                'G' => p.ungreedy = true,
                'R' => p.relative = true,
                'B' | 'O' => {}
                c => match pcre_flag_buffer(c) {
                    Some(b) => {
                        if buffer.is_some_and(|x| x != b) {
                            return Err(RuleError::new(key, "two buffer flags"));
                        }
                        buffer = Some(b);
                    }
                    None => return Err(RuleError::new(key, format!("unknown flag {c:?}"))),
                },
            }
        }
        if buffer.is_some() && self.sticky.is_some() && buffer != self.sticky {
            return Err(RuleError::new(
                key,
                "a buffer flag cannot be combined with a sticky buffer",
            ));
        }
        crate::detect::regex_check(&p).map_err(|e| RuleError::new(key, e))?;
        let buffer = buffer.unwrap_or_else(|| self.current_buffer());
        let slot = self.push(rule, buffer, Inspect::Pcre(p.clone()));
        if p.relative && !Self::has_previous_match(rule, slot.list, slot.index) {
            return Err(RuleError::new(
                key,
                "relative (R) needs a preceding content or pcre in the same buffer",
            ));
        }
        Ok(())
    }

    fn byte_test(&mut self, rule: &mut Rule, v: &str) -> Result<(), RuleError> {
        let key = "byte_test";
        let parts: Vec<&str> = v.split(',').map(str::trim).collect();
        if parts.len() < 4 {
            return Err(RuleError::new(
                key,
                "expected nbytes, operator, value, offset[, options]",
            ));
        }
        let nbytes = parse_u32(key, parts[0])?;
        let (negated, op) = negation(parts[1]);
        let op = match op {
            "<" => ByteOp::Lt,
            ">" => ByteOp::Gt,
            "=" => ByteOp::Eq,
            "<=" => ByteOp::Le,
            ">=" => ByteOp::Ge,
            "&" => ByteOp::And,
            "^" => ByteOp::Xor,
            o => return Err(RuleError::new(key, format!("unknown operator {o:?}"))),
        };
        let value = number_or_var(key, parts[2])?;
        let value =
            u64::try_from(value).map_err(|_| RuleError::new(key, "value must not be negative"))?;
        let offset = i32::try_from(number_or_var(key, parts[3])?)
            .map_err(|_| RuleError::new(key, "offset out of range"))?;
        let opts = ByteOptions::parse(key, &parts[4..], false)?;
        let format = opts.format()?;
        check_nbytes(key, nbytes, format)?;
        let t = ByteTest {
            nbytes: nbytes as u8,
            op,
            negated,
            value,
            offset,
            relative: opts.relative,
            format,
            bitmask: opts.bitmask,
        };
        let buffer = self.current_buffer();
        self.push(rule, buffer, Inspect::ByteTest(t));
        Ok(())
    }

    fn byte_jump(&mut self, rule: &mut Rule, v: &str) -> Result<(), RuleError> {
        let key = "byte_jump";
        let parts: Vec<&str> = v.split(',').map(str::trim).collect();
        if parts.len() < 2 {
            return Err(RuleError::new(key, "expected nbytes, offset[, options]"));
        }
        let nbytes = parse_u32(key, parts[0])?;
        let offset = i32::try_from(number_or_var(key, parts[1])?)
            .map_err(|_| RuleError::new(key, "offset out of range"))?;
        let opts = ByteOptions::parse(key, &parts[2..], true)?;
        let format = opts.format()?;
        check_nbytes(key, nbytes, format)?;
        if opts.from_beginning && opts.from_end {
            return Err(RuleError::new(key, "from_beginning and from_end together"));
        }
        let j = ByteJump {
            nbytes: nbytes as u8,
            offset,
            relative: opts.relative,
            format,
            multiplier: opts.multiplier.unwrap_or(1),
            align: opts.align,
            from_beginning: opts.from_beginning,
            from_end: opts.from_end,
            post_offset: opts.post_offset,
            bitmask: opts.bitmask,
        };
        let buffer = self.current_buffer();
        self.push(rule, buffer, Inspect::ByteJump(j));
        Ok(())
    }

    fn isdataat(&mut self, rule: &mut Rule, v: &str) -> Result<(), RuleError> {
        let key = "isdataat";
        let mut parts = v.split(',').map(str::trim);
        let (negated, pos) = negation(parts.next().unwrap_or(""));
        let position = u32::try_from(number_or_var(key, pos)?)
            .ok()
            .filter(|&n| n <= u32::from(u16::MAX))
            .ok_or_else(|| RuleError::new(key, "position must be 0-65535"))?;
        let mut relative = false;
        for p in parts {
            match p {
                "relative" => relative = true,
                "rawbytes" => {}
                o => return Err(RuleError::new(key, format!("unknown option {o:?}"))),
            }
        }
        let buffer = self.current_buffer();
        self.push(
            rule,
            buffer,
            Inspect::IsDataAt(IsDataAt {
                position,
                relative,
                negated,
            }),
        );
        Ok(())
    }

    fn flow(&mut self, rule: &mut Rule, v: &str) -> Result<(), RuleError> {
        let key = "flow";
        let f = &mut rule.flow;
        for opt in v.split(',').map(str::trim) {
            match opt {
                "to_server" | "from_client" => f.to_server = true,
                "to_client" | "from_server" => f.to_client = true,
                "established" => f.established = true,
                "not_established" => f.not_established = true,
                "stateless" => f.stateless = true,
                "only_stream" => f.only_stream = true,
                "no_stream" => f.no_stream = true,
                "only_frag" => f.only_frag = true,
                "no_frag" => f.no_frag = true,
                o => return Err(RuleError::new(key, format!("unknown option {o:?}"))),
            }
        }
        if f.to_server && f.to_client {
            return Err(RuleError::new(key, "to_server and to_client together"));
        }
        if f.established && (f.not_established || f.stateless) {
            return Err(RuleError::new(key, "conflicting flow states"));
        }
        if f.only_stream && f.no_stream {
            return Err(RuleError::new(key, "only_stream and no_stream together"));
        }
        if f.only_frag && f.no_frag {
            return Err(RuleError::new(key, "only_frag and no_frag together"));
        }
        Ok(())
    }

    fn flowbits(&mut self, rule: &mut Rule, v: &str) -> Result<(), RuleError> {
        let key = "flowbits";
        let (cmd, names) = match v.split_once(',') {
            Some((c, n)) => (c.trim(), Some(n.trim())),
            None => (v.trim(), None),
        };
        let cmd = match cmd {
            "noalert" => {
                if names.is_some() {
                    return Err(RuleError::new(key, "noalert takes no name"));
                }
                rule.noalert = true;
                return Ok(());
            }
            "set" => FlowbitCmd::Set,
            "unset" => FlowbitCmd::Unset,
            "toggle" => FlowbitCmd::Toggle,
            "isset" => FlowbitCmd::IsSet,
            "isnotset" => FlowbitCmd::IsNotSet,
            c => return Err(RuleError::new(key, format!("unknown command {c:?}"))),
        };
        let names = names.ok_or_else(|| RuleError::new(key, "needs a flowbit name"))?;
        // `a|b` means either bit for isset/isnotset; Suricata 7 takes it as one name otherwise.
        let names: Vec<String> = if matches!(cmd, FlowbitCmd::IsSet | FlowbitCmd::IsNotSet) {
            names.split('|').map(|n| n.trim().to_owned()).collect()
        } else {
            vec![names.to_owned()]
        };
        if names
            .iter()
            .any(|n| n.is_empty() || n.chars().any(|c| c.is_whitespace() || c == ',' || c == ';'))
        {
            return Err(RuleError::new(key, format!("bad flowbit name in {v:?}")));
        }
        rule.flowbits.push(Flowbit { cmd, names });
        Ok(())
    }

    /// Checks made once every option is read.
    fn finish(&mut self, rule: &mut Rule, _classes: &Classifications) -> Result<(), RuleError> {
        if !self.sid_seen {
            return Err(RuleError::new("sid", "missing"));
        }
        // Buffers bind the rule to their application protocol.
        for b in &rule.buffers {
            if let Some(p) = b.buffer.app_proto() {
                match rule.app_proto {
                    None => rule.app_proto = Some(p),
                    Some(q) if q == p => {}
                    Some(q) => {
                        return Err(RuleError::new(
                            b.buffer.name(),
                            format!("a {p:?} buffer in a {q:?} rule"),
                        ));
                    }
                }
            }
            if b.keywords.is_empty() {
                return Err(RuleError::new(
                    b.buffer.name(),
                    "sticky buffer with no content keyword after it",
                ));
            }
        }
        if let Some(p) = rule.app_proto
            && !rule.protocol.allows_ip_proto(6)
            && !rule.protocol.allows_ip_proto(17)
        {
            return Err(RuleError::new(
                "protocol",
                format!("{p:?} buffers in a rule for a protocol without it"),
            ));
        }
        let (ts, tc) = rule.directions();
        if !ts && !tc {
            return Err(RuleError::new(
                "flow",
                "the rule's buffers and flow direction contradict each other",
            ));
        }
        Ok(())
    }
}

/// The options after the fixed fields of `byte_test` and `byte_jump`.
#[derive(Default)]
struct ByteOptions {
    relative: bool,
    endian: Option<Endian>,
    string: bool,
    base: Option<u32>,
    bitmask: Option<u64>,
    multiplier: Option<u32>,
    align: bool,
    from_beginning: bool,
    from_end: bool,
    post_offset: i32,
    key: &'static str,
}

impl ByteOptions {
    fn parse(key: &'static str, parts: &[&str], jump: bool) -> Result<ByteOptions, RuleError> {
        let mut o = ByteOptions {
            key,
            ..ByteOptions::default()
        };
        for p in parts {
            let (word, arg) = match p.split_once(char::is_whitespace) {
                Some((w, a)) => (w, Some(a.trim())),
                None => (*p, None),
            };
            match (word, arg) {
                ("relative", None) => o.relative = true,
                ("big", None) => o.set_endian(Endian::Big)?,
                ("little", None) => o.set_endian(Endian::Little)?,
                ("string", None) => o.string = true,
                ("hex", None) => o.set_base(16)?,
                ("dec", None) => o.set_base(10)?,
                ("oct", None) => o.set_base(8)?,
                ("dce", None) => return Err(RuleError::unsupported(&format!("{key} dce"))),
                ("bitmask", Some(a)) => {
                    let h = a.trim_start_matches("0x").trim_start_matches("0X");
                    let m = u64::from_str_radix(h, 16)
                        .ok()
                        .filter(|&m| m != 0)
                        .ok_or_else(|| RuleError::new(key, format!("bad bitmask {a:?}")))?;
                    o.bitmask = Some(m);
                }
                ("align", None) if jump => o.align = true,
                ("from_beginning", None) if jump => o.from_beginning = true,
                ("from_end", None) if jump => o.from_end = true,
                ("multiplier", Some(a)) if jump => {
                    let m = a
                        .parse::<u32>()
                        .ok()
                        .filter(|&m| (1..=65535).contains(&m))
                        .ok_or_else(|| RuleError::new(key, format!("bad multiplier {a:?}")))?;
                    o.multiplier = Some(m);
                }
                ("post_offset", Some(a)) if jump => {
                    o.post_offset = i32::try_from(number_or_var(key, a)?)
                        .map_err(|_| RuleError::new(key, "post_offset out of range"))?;
                }
                _ => return Err(RuleError::new(key, format!("unknown option {p:?}"))),
            }
        }
        Ok(o)
    }

    fn set_endian(&mut self, e: Endian) -> Result<(), RuleError> {
        if self.endian.is_some() {
            return Err(RuleError::new(self.key, "endianness given twice"));
        }
        self.endian = Some(e);
        Ok(())
    }

    fn set_base(&mut self, b: u32) -> Result<(), RuleError> {
        if self.base.is_some() {
            return Err(RuleError::new(self.key, "number base given twice"));
        }
        self.base = Some(b);
        Ok(())
    }

    fn format(&self) -> Result<NumberFormat, RuleError> {
        if self.string {
            // Suricata accepts an endianness with `string` and ignores it.
            Ok(NumberFormat::String(self.base.unwrap_or(10)))
        } else {
            if self.base.is_some() {
                return Err(RuleError::new(self.key, "hex/dec/oct need `string`"));
            }
            Ok(NumberFormat::Binary(self.endian.unwrap_or(Endian::Big)))
        }
    }
}

fn check_nbytes(key: &str, nbytes: u32, format: NumberFormat) -> Result<(), RuleError> {
    let max = match format {
        NumberFormat::Binary(_) => 8,
        NumberFormat::String(_) => 23,
    };
    if nbytes == 0 || nbytes > max {
        return Err(RuleError::new(
            key,
            format!("cannot read {nbytes} bytes (1-{max} for this format)"),
        ));
    }
    Ok(())
}

/// `flags:[modifier]FLAGS[modifier][,IGNORE]`.
fn parse_tcp_flags(key: &str, v: &str) -> Result<TcpFlagsMatch, RuleError> {
    let (main, ignore) = match v.split_once(',') {
        Some((m, i)) => (m.trim(), Some(i.trim())),
        None => (v.trim(), None),
    };
    let bit = |c: char| -> Option<u8> {
        Some(match c.to_ascii_uppercase() {
            'F' => 0x01,
            'S' => 0x02,
            'R' => 0x04,
            'P' => 0x08,
            'A' => 0x10,
            'U' => 0x20,
            'E' | '2' => 0x40,
            'C' | '1' => 0x80,
            _ => return None,
        })
    };
    let mut mode = FlagsMode::Exact;
    let mut flags = 0u8;
    let mut zero = false;
    for c in main.chars() {
        match c {
            '+' | '*' | '!' => {
                if mode != FlagsMode::Exact {
                    return Err(RuleError::new(key, "two modifiers"));
                }
                mode = match c {
                    '+' => FlagsMode::All,
                    '*' => FlagsMode::Any,
                    _ => FlagsMode::Not,
                };
            }
            '0' => zero = true,
            c => {
                flags |= bit(c).ok_or_else(|| RuleError::new(key, format!("unknown flag {c:?}")))?
            }
        }
    }
    if zero && flags != 0 {
        return Err(RuleError::new(key, "0 (no flags) with other flags"));
    }
    if !zero && flags == 0 {
        return Err(RuleError::new(key, "no flags given"));
    }
    let mut ign = 0u8;
    if let Some(i) = ignore {
        for c in i.chars() {
            ign |= bit(c).ok_or_else(|| RuleError::new(key, format!("unknown flag {c:?}")))?;
        }
    }
    Ok(TcpFlagsMatch {
        flags,
        mode,
        ignore: ign,
    })
}

fn parse_threshold(key: &str, v: &str) -> Result<Threshold, RuleError> {
    let mut kind = if key == "detection_filter" {
        Some(ThresholdKind::DetectionFilter)
    } else {
        None
    };
    let (mut track, mut count, mut seconds) = (None, None, None);
    for part in v.split(',') {
        let mut it = part.split_whitespace();
        let (Some(name), Some(val), None) = (it.next(), it.next(), it.next()) else {
            return Err(RuleError::new(key, format!("bad part {:?}", part.trim())));
        };
        match name {
            "type" if key == "threshold" => {
                kind = Some(match val {
                    "limit" => ThresholdKind::Limit,
                    "threshold" => ThresholdKind::Threshold,
                    "both" => ThresholdKind::Both,
                    o => return Err(RuleError::new(key, format!("unknown type {o:?}"))),
                })
            }
            "track" => {
                track = Some(match val {
                    "by_src" => Track::BySrc,
                    "by_dst" => Track::ByDst,
                    "by_rule" => Track::ByRule,
                    "by_both" => Track::ByBoth,
                    "by_flow" => Track::ByFlow,
                    o => return Err(RuleError::new(key, format!("unknown track {o:?}"))),
                })
            }
            "count" => {
                let n = parse_u32(key, val)?;
                if n == 0 {
                    return Err(RuleError::new(key, "count must be at least 1"));
                }
                count = Some(n);
            }
            "seconds" => seconds = Some(parse_u32(key, val)?),
            o => return Err(RuleError::new(key, format!("unknown part {o:?}"))),
        }
    }
    match (kind, track, count, seconds) {
        (Some(kind), Some(track), Some(count), Some(seconds)) => Ok(Threshold {
            kind,
            track,
            count,
            seconds,
        }),
        _ => Err(RuleError::new(key, "needs type, track, count and seconds")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(opts: &str) -> Result<Rule, RuleError> {
        let end = if opts.trim_end().ends_with(';') {
            ""
        } else {
            ";"
        };
        parse_rule(
            &format!("alert tcp any any -> any any ({opts}{end})"),
            &Vars::suricata_defaults(),
            &Classifications::suricata_default(),
        )
    }

    fn ok(opts: &str) -> Rule {
        parse(opts).unwrap_or_else(|e| panic!("{opts}: {e}"))
    }

    fn err(opts: &str) -> RuleError {
        match parse(opts) {
            Ok(r) => panic!("{opts} parsed: {r:?}"),
            Err(e) => e,
        }
    }

    fn contents(r: &Rule, b: BufferId) -> Vec<Content> {
        r.buffers
            .iter()
            .find(|l| l.buffer == b)
            .map(|l| {
                l.keywords
                    .iter()
                    .filter_map(|k| match k {
                        Inspect::Content(c) => Some(c.clone()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn header_fields() {
        let v = Vars::suricata_defaults();
        let c = Classifications::suricata_default();
        let r = parse_rule(
            "drop http [$HOME_NET, 1.2.3.4] ![80,81] <> $EXTERNAL_NET $HTTP_PORTS (sid:5;)",
            &v,
            &c,
        )
        .unwrap();
        assert_eq!(r.action, Action::Drop);
        assert_eq!(r.protocol, Protocol::App(AppProto::Http));
        assert_eq!(r.app_proto, Some(AppProto::Http));
        assert_eq!(r.direction, Direction::Both);
        assert!(r.src.contains(crate::rules::addr::ip("1.2.3.4").unwrap()));
        assert!(!r.src_ports.contains(80) && r.src_ports.contains(82));
        assert!(r.dst_ports.contains(80));
        for (text, kw) in [
            ("alrt tcp any any -> any any (sid:1;)", "action"),
            ("alert tcpx any any -> any any (sid:1;)", "protocol"),
            ("alert tcp any any <- any any (sid:1;)", "direction"),
            ("alert tcp $NOPE any -> any any (sid:1;)", "source"),
            ("alert tcp any 99999 -> any any (sid:1;)", "source port"),
            ("alert tcp any any -> !any any (sid:1;)", "destination"),
            ("alert tcp any any -> any [1: (sid:1;)", "destination port"),
            ("alert tcp any any -> any (sid:1;)", "header"),
            ("alert tcp any any -> any any sid:1;", "rule"),
            ("alert tcp any any -> any any (sid:1;", "rule"),
            ("alert tcp any any -> any any (sid:1)", "rule"),
        ] {
            let e = parse_rule(text, &v, &c).unwrap_err();
            assert_eq!(e.keyword, kw, "{text}: {e}");
        }
        for (text, kw) in [
            ("alert ssh any any -> any any (sid:1;)", "protocol ssh"),
            ("alert sctp any any -> any any (sid:1;)", "protocol sctp"),
        ] {
            let e = parse_rule(text, &v, &c).unwrap_err();
            assert!(e.unsupported && e.keyword == kw, "{text}: {e:?}");
        }
        let r = parse_rule("reject tcp-pkt any any -> any any (sid:1;)", &v, &c).unwrap();
        assert_eq!(r.action, Action::Reject(RejectTarget::Source));
        assert!(r.flow.no_stream);
        let r = parse_rule("pass tcp-stream any any -> any any (sid:1;)", &v, &c).unwrap();
        assert!(r.flow.only_stream);
    }

    #[test]
    fn meta_keywords() {
        let r = ok(
            r#"msg:"a \"quoted\" \; msg"; sid:7; rev:3; gid:2; classtype:trojan-activity; reference:url,example.com/x; reference:cve,2021-44228; metadata:created_at 2020, deployment Perimeter; target:dest_ip"#,
        );
        assert_eq!(r.msg, "a \"quoted\" ; msg");
        assert_eq!((r.sid, r.rev, r.gid), (7, 3, 2));
        assert_eq!(r.priority, 1);
        assert_eq!(r.category.as_deref(), Some("A Network Trojan was detected"));
        assert_eq!(r.references.len(), 2);
        assert_eq!(r.metadata, vec!["created_at 2020", "deployment Perimeter"]);
        assert_eq!(r.target, Some(Target::DestIp));
        // An explicit priority wins over the classtype's, in either order.
        assert_eq!(
            ok("priority:4; classtype:trojan-activity; sid:1").priority,
            4
        );
        assert_eq!(
            ok("classtype:trojan-activity; priority:4; sid:1").priority,
            4
        );
        assert_eq!(ok("sid:1").priority, 3);
        assert_eq!(err("msg:\"x\"").keyword, "sid");
        assert_eq!(err("sid:0").keyword, "sid");
        assert_eq!(err("sid:1; sid:2").keyword, "sid");
        assert_eq!(err("sid:x").keyword, "sid");
        assert_eq!(err("classtype:nope; sid:1").keyword, "classtype");
        assert_eq!(err("priority:256; sid:1").keyword, "priority");
        assert_eq!(ok("priority:0; sid:1").priority, 0);
        assert_eq!(err("target:both; sid:1").keyword, "target");
        assert_eq!(err("msg:noquotes; sid:1").keyword, "msg");
        assert_eq!(err("reference:nocomma; sid:1").keyword, "reference");
        assert_eq!(err("contnet:\"a\"; sid:1").keyword, "contnet");
        assert!(!err("contnet:\"a\"; sid:1").unsupported);
        let u = err("sid:1; byte_math:bytes 1, offset 0, oper +, rvalue 1, result x");
        assert!(u.unsupported && u.keyword == "byte_math");
    }

    #[test]
    fn content_bytes_and_modifiers() {
        let r = ok(
            r#"content:"GET |20 2f|a\;b\"c\\"; nocase; offset:1; depth:20; content:!"x|0d0a|"; distance:-2; within:5; rawbytes; sid:1"#,
        );
        let c = contents(&r, BufferId::PktData);
        assert_eq!(c[0].pattern, b"GET  /a;b\"c\\");
        assert!(c[0].nocase && !c[0].negated);
        assert_eq!((c[0].offset, c[0].depth), (Some(1), Some(20)));
        assert_eq!(c[1].pattern, b"x\r\n");
        assert!(c[1].negated && c[1].rawbytes);
        assert_eq!((c[1].distance, c[1].within), (Some(-2), Some(5)));
        let s = ok(r#"content:"abc"; startswith; content:"z"; endswith; sid:1"#);
        let c = contents(&s, BufferId::PktData);
        assert!(c[0].startswith && c[0].depth == Some(3) && c[0].offset == Some(0));
        assert!(c[1].endswith);
        for (opts, kw) in [
            (r#"content:"a|4"; sid:1"#, "content"),
            (r#"content:"a|4g|"; sid:1"#, "content"),
            (r#"content:""; sid:1"#, "content"),
            (r#"content:"a\x"; sid:1"#, "content"),
            (r#"content:abc; sid:1"#, "content"),
            (r#"nocase; sid:1"#, "nocase"),
            (r#"content:"a"; nocase; nocase; sid:1"#, "nocase"),
            (r#"content:"abc"; depth:2; sid:1"#, "depth"),
            (r#"content:"abc"; depth:0; sid:1"#, "depth"),
            (r#"content:"abc"; within:2; sid:1"#, "within"),
            (r#"content:"abc"; offset:1; distance:1; sid:1"#, "distance"),
            (r#"content:"abc"; within:5; depth:5; sid:1"#, "depth"),
            (r#"content:"abc"; depth:5; depth:6; sid:1"#, "depth"),
            (r#"content:"abc"; depth:70000; sid:1"#, "depth"),
            (r#"content:"abc"; depth:-1; sid:1"#, "depth"),
            (r#"content:"abc"; startswith; depth:5; sid:1"#, "depth"),
            (
                r#"content:"abc"; offset:1; startswith; sid:1"#,
                "startswith",
            ),
            (r#"content:!"abc"; endswith; sid:1"#, "endswith"),
        ] {
            assert_eq!(err(opts).keyword, kw, "{opts}");
        }
        assert!(err(r#"content:"abc"; depth:lenvar; sid:1"#).unsupported);
    }

    #[test]
    fn fast_pattern_forms() {
        let r = ok(r#"content:"abcdef"; fast_pattern:1,3; content:"x"; sid:1"#);
        let c = contents(&r, BufferId::PktData);
        assert_eq!(
            c[0].fast_pattern,
            Some(FastPattern {
                only: false,
                chop: Some((1, 3))
            })
        );
        let r = ok(r#"content:"abc"; fast_pattern:only; sid:1"#);
        assert!(
            contents(&r, BufferId::PktData)[0]
                .fast_pattern
                .unwrap()
                .only
        );
        assert_eq!(
            err(r#"content:"abc"; fast_pattern:2,3; sid:1"#).keyword,
            "fast_pattern"
        );
        assert_eq!(
            err(r#"content:"a"; fast_pattern; content:"b"; fast_pattern; sid:1"#).keyword,
            "fast_pattern"
        );
        assert_eq!(
            err(r#"content:!"abc"; depth:4; fast_pattern; sid:1"#).keyword,
            "fast_pattern"
        );
        assert_eq!(err("fast_pattern; sid:1").keyword, "fast_pattern");
    }

    #[test]
    fn sticky_buffers_and_legacy_modifiers() {
        let r = ok(
            r#"http.method; content:"GET"; http.uri; content:"/a"; content:"b"; distance:0; pkt_data; content:"raw"; sid:1"#,
        );
        assert_eq!(r.app_proto, Some(AppProto::Http));
        assert_eq!(contents(&r, BufferId::HttpMethod).len(), 1);
        assert_eq!(contents(&r, BufferId::HttpUri).len(), 2);
        assert_eq!(contents(&r, BufferId::PktData)[0].pattern, b"raw");
        // Modifiers after a sticky buffer apply to that buffer's last content.
        let r = ok(r#"content:"a"; http.uri; content:"b"; nocase; sid:1"#);
        assert!(!contents(&r, BufferId::PktData)[0].nocase);
        assert!(contents(&r, BufferId::HttpUri)[0].nocase);
        let r = ok(
            r#"content:"GET"; http_method; content:"/x"; http_uri; content:"y"; distance:0; http_uri; uricontent:"z"; sid:1"#,
        );
        assert!(r.payload().is_none());
        assert_eq!(contents(&r, BufferId::HttpMethod)[0].pattern, b"GET");
        let uri = contents(&r, BufferId::HttpUri);
        assert_eq!(uri.len(), 3);
        assert_eq!(uri[1].distance, Some(0));
        for (name, id) in [
            ("file_data", BufferId::FileData),
            ("dns_query", BufferId::DnsQuery),
            ("tls_sni", BufferId::TlsSni),
            ("http.header_names", BufferId::HttpHeaderNames),
            ("http_request_line", BufferId::HttpRequestLine),
        ] {
            let r = ok(&format!(r#"{name}; content:"x"; sid:1"#));
            assert_eq!(r.buffers[0].buffer, id, "{name}");
        }
        assert_eq!(
            err(r#"http.uri; content:"x"; http_uri; sid:1"#).keyword,
            "http_uri"
        );
        assert_eq!(err(r#"http_uri; sid:1"#).keyword, "http_uri");
        assert_eq!(err(r#"http.uri; sid:1"#).keyword, "http.uri");
        assert_eq!(
            err(r#"dns.query; content:"x"; http.uri; content:"y"; sid:1"#).keyword,
            "http.uri"
        );
        assert_eq!(
            err(r#"http.uri; content:"x"; http.stat_code; content:"200"; sid:1"#).keyword,
            "flow"
        );
        assert_eq!(
            err(r#"flow:to_client; http.uri; content:"x"; sid:1"#).keyword,
            "flow"
        );
        let v = Vars::suricata_defaults();
        let c = Classifications::suricata_default();
        // Suricata 7.0.10 loads HTTP buffers in a udp rule (it can never match).
        let r = "alert udp any any -> any any (http.uri; content:\"x\"; sid:1;)";
        assert!(parse_rule(r, &v, &c).is_ok());
        assert!(
            parse_rule(
                "alert udp any any -> any 53 (dns.query; content:\"x\"; sid:1;)",
                &v,
                &c
            )
            .is_ok()
        );
    }

    #[test]
    fn pcre_flags_and_buffers() {
        let r = ok(r#"content:"a"; pcre:"/b[0-9]+c/smiRG"; pcre:!"/x/U"; sid:1"#);
        let p = &r.payload().unwrap().keywords[1];
        let Inspect::Pcre(p) = p else { panic!() };
        assert!(p.dotall && p.multiline && p.caseless && p.relative && p.ungreedy && !p.negated);
        let uri = &r
            .buffers
            .iter()
            .find(|b| b.buffer == BufferId::HttpUri)
            .unwrap()
            .keywords[0];
        assert!(matches!(uri, Inspect::Pcre(p) if p.negated));
        assert_eq!(err(r#"pcre:"/a/R"; sid:1"#).keyword, "pcre");
        assert_eq!(err(r#"pcre:"/a(/"; sid:1"#).keyword, "pcre");
        assert_eq!(err(r#"pcre:"/a/q"; sid:1"#).keyword, "pcre");
        assert_eq!(err(r#"pcre:"a"; sid:1"#).keyword, "pcre");
        assert_eq!(err(r#"http.uri; pcre:"/a/H"; sid:1"#).keyword, "pcre");
        // The flag of the sticky buffer itself is accepted, as by Suricata.
        ok(r#"http.uri; pcre:"/a/U"; sid:1"#);
        assert_eq!(err(r#"pcre:"/a/UH"; sid:1"#).keyword, "pcre");
        // Semicolons inside the expression must be escaped, as in Suricata.
        let r = ok(r#"pcre:"/a\;b/"; sid:1"#);
        let Inspect::Pcre(p) = &r.payload().unwrap().keywords[0] else {
            panic!()
        };
        assert_eq!(p.source, r"a\;b");
    }

    #[test]
    fn byte_keywords() {
        let r = ok(
            "content:\"a\"; byte_test:2,!>=,0x10,-1,relative,little,bitmask 0xff0; byte_jump:4,2,relative,multiplier 2,align,from_beginning,post_offset -3,string,hex; isdataat:!5,relative; sid:1",
        );
        let k = &r.payload().unwrap().keywords;
        let Inspect::ByteTest(t) = k[1] else { panic!() };
        assert_eq!(
            (t.nbytes, t.op, t.negated, t.value, t.offset),
            (2, ByteOp::Ge, true, 16, -1)
        );
        assert_eq!(t.format, NumberFormat::Binary(Endian::Little));
        assert_eq!(t.bitmask, Some(0xff0));
        let Inspect::ByteJump(j) = k[2] else { panic!() };
        assert_eq!(j.format, NumberFormat::String(16));
        assert!(j.relative && j.align && j.from_beginning);
        assert_eq!((j.multiplier, j.post_offset), (2, -3));
        let Inspect::IsDataAt(i) = k[3] else { panic!() };
        assert!(i.negated && i.relative && i.position == 5);
        for opts in [
            "byte_test:9,=,1,0; sid:1",
            "byte_test:2,~,1,0; sid:1",
            "byte_test:2,=,1; sid:1",
            "byte_test:2,=,1,0,big,little; sid:1",
            "byte_test:2,=,1,0,hex; sid:1",
            "byte_test:2,=,1,0,align; sid:1",
            "byte_test:24,=,1,0,string,dec; sid:1",
            "byte_jump:2; sid:1",
            "byte_jump:2,0,multiplier 0; sid:1",
            "byte_jump:2,0,from_beginning,from_end; sid:1",
            "isdataat:70000; sid:1",
            "isdataat:1,sideways; sid:1",
        ] {
            let e = err(opts);
            assert!(!e.unsupported, "{opts}: {e}");
            assert!(opts.starts_with(&e.keyword), "{opts}: {e}");
        }
        assert!(err("byte_test:2,=,1,0,dce; sid:1").unsupported);
        assert!(err("byte_jump:2,var; sid:1").unsupported);
    }

    #[test]
    fn packet_and_flow_keywords() {
        let r = ok(
            "flow:established,to_server,only_stream; dsize:10<>20; flags:SA+,12; flowbits:set,a; flowbits:isset,b|c; flowbits:noalert; sid:1",
        );
        assert!(r.flow.established && r.flow.to_server && r.flow.only_stream);
        assert_eq!(r.dsize, Some(NumMatch::Range(10, 20)));
        assert_eq!(
            r.tcp_flags,
            Some(TcpFlagsMatch {
                flags: 0x12,
                mode: FlagsMode::All,
                ignore: 0xc0
            })
        );
        assert_eq!(r.flowbits.len(), 2);
        assert_eq!(r.flowbits[1].names, vec!["b", "c"]);
        assert!(r.noalert);
        assert_eq!(ok("dsize:>5; sid:1").dsize, Some(NumMatch::Gt(5)));
        assert_eq!(ok("dsize:<=5; sid:1").dsize, Some(NumMatch::Le(5)));
        assert_eq!(ok("dsize:!5; sid:1").dsize, Some(NumMatch::Ne(5)));
        assert_eq!(ok("dsize:300; sid:1").dsize, Some(NumMatch::Eq(300)));
        assert_eq!(ok("flags:0; sid:1").tcp_flags.unwrap().flags, 0);
        assert_eq!(
            ok("flags:!R; sid:1").tcp_flags.unwrap().mode,
            FlagsMode::Not
        );
        assert!(ok("noalert; sid:1").noalert);
        for (opts, kw) in [
            ("flow:to_server,to_client; sid:1", "flow"),
            ("flow:established,stateless; sid:1", "flow"),
            ("flow:sideways; sid:1", "flow"),
            ("dsize:20<>10; sid:1", "dsize"),
            ("dsize:70000; sid:1", "dsize"),
            ("dsize:1; dsize:2; sid:1", "dsize"),
            ("flags:Q; sid:1", "flags"),
            ("flags:; sid:1", "flags"),
            ("flowbits:set; sid:1", "flowbits"),
            ("flowbits:frob,a; sid:1", "flowbits"),
            ("flowbits:noalert,a; sid:1", "flowbits"),
        ] {
            assert_eq!(err(opts).keyword, kw, "{opts}");
        }
        let v = Vars::suricata_defaults();
        let c = Classifications::suricata_default();
        // Suricata loads flags in a udp rule (it can never match).
        assert!(parse_rule("alert udp any any -> any any (flags:S; sid:1;)", &v, &c).is_ok());
        // `set,a|b` is one bit named "a|b" (Suricata 7 loads it).
        assert_eq!(ok("flowbits:set,a|b; sid:1").flowbits[0].names, vec!["a|b"]);
    }

    #[test]
    fn thresholds_and_app_layer() {
        let r = ok("threshold: type both, track by_src, count 10, seconds 60; sid:1");
        assert_eq!(
            r.threshold,
            Some(Threshold {
                kind: ThresholdKind::Both,
                track: Track::BySrc,
                count: 10,
                seconds: 60
            })
        );
        let r = ok("detection_filter:track by_rule, count 3, seconds 1; sid:1");
        assert_eq!(
            r.detection_filter.unwrap().kind,
            ThresholdKind::DetectionFilter
        );
        assert_eq!(
            ok("threshold:type limit,track by_flow,count 1,seconds 5; sid:1")
                .threshold
                .unwrap()
                .track,
            Track::ByFlow
        );
        for opts in [
            "threshold:type limit, track by_src, count 1; sid:1",
            "threshold:type often, track by_src, count 1, seconds 1; sid:1",
            "threshold:type limit, track by_ip, count 1, seconds 1; sid:1",
            "threshold:type limit, track by_src, count 0, seconds 1; sid:1",
            "threshold:type limit, track by_src, count 1, seconds 1; detection_filter:track by_src, count 1, seconds 1; sid:1",
        ] {
            assert!(!err(opts).unsupported, "{opts}");
        }
        let r = ok("app-layer-protocol:!tls; sid:1");
        assert_eq!(
            r.app_layer_protocol,
            Some(AppLayerMatch {
                proto: AppProto::Tls,
                negated: true
            })
        );
        assert_eq!(
            err("app-layer-protocol:gopher; sid:1").keyword,
            "app-layer-protocol"
        );
        assert!(err("app-layer-protocol:http,to_server; sid:1").unsupported);
    }

    #[test]
    fn size_keywords_and_transforms() {
        let r = ok(r#"dns.query; dotprefix; content:".evil.com"; endswith; bsize:<64; sid:1"#);
        assert!(r.buffers[0].dotprefix);
        assert!(matches!(
            r.buffers[0].keywords[1],
            Inspect::Bsize(NumMatch::Lt(64))
        ));
        let r = ok("urilen:>100; urilen:5<>10,raw; sid:1");
        assert_eq!(r.buffers[0].buffer, BufferId::HttpUri);
        assert_eq!(r.buffers[1].buffer, BufferId::HttpUriRaw);
        assert_eq!(err("bsize:5; sid:1").keyword, "bsize");
        assert_eq!(
            err(r#"http.uri; content:"a"; dotprefix; sid:1"#).keyword,
            "dotprefix"
        );
        assert_eq!(err("dotprefix; sid:1").keyword, "dotprefix");
        // Suricata reads an unknown urilen modifier as the normalised URI.
        assert_eq!(
            ok("urilen:5,sideways; sid:1").buffers[0].buffer,
            BufferId::HttpUri
        );
    }

    #[test]
    fn sid_is_found_in_broken_rules() {
        assert_eq!(
            sid_of("alert tcp any any -> any any (content:\"x\"; depth:q; sid:42;)"),
            Some(42)
        );
        assert_eq!(sid_of("garbage"), None);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn parse(text: &str) -> Result<Rule, RuleError> {
        parse_rule(
            text,
            &Vars::suricata_defaults(),
            &Classifications::suricata_default(),
        )
    }

    proptest! {
        /// Any text gives a rule or an error naming a keyword, never a panic.
        #[test]
        fn any_text_parses_or_names_a_keyword(s in "\\PC{0,200}") {
            if let Err(e) = parse(&s) {
                prop_assert!(!e.keyword.is_empty());
            }
        }

        /// Option lists built from real keywords and junk values never panic either.
        #[test]
        fn keyword_soup(parts in proptest::collection::vec(
            (prop::sample::select(vec![
                "content", "depth", "offset", "distance", "within", "nocase", "pcre",
                "byte_test", "byte_jump", "isdataat", "flow", "flowbits", "dsize", "flags",
                "threshold", "http.uri", "http_uri", "fast_pattern", "bsize", "urilen",
                "dotprefix", "app-layer-protocol", "startswith", "endswith", "sid",
            ]), "[ -~]{0,12}"), 0..8)) {
            let opts: String = parts.iter().map(|(k, v)| format!("{k}:{v}; ")).collect();
            let _ = parse(&format!("alert tcp any any -> any any ({opts}sid:1;)"));
        }

        /// Any bytes written as a hex content come back as the pattern, however the hex and
        /// text runs are split.
        #[test]
        fn hex_content_round_trips(bytes in proptest::collection::vec(any::<u8>(), 1..40)) {
            let mut text = String::new();
            for b in &bytes {
                if b.is_ascii_alphanumeric() {
                    text.push(*b as char);
                } else {
                    text.push_str(&format!("|{b:02x}|"));
                }
            }
            let r = parse(&format!("alert tcp any any -> any any (content:\"{text}\"; sid:1;)"))
                .unwrap();
            let Inspect::Content(c) = &r.buffers[0].keywords[0] else { panic!() };
            prop_assert_eq!(&c.pattern, &bytes);
        }
    }
}
