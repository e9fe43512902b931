//! Request-target parsing and normalisation, as libhtp 0.5 does it for Suricata 7's default
//! personality, `IDS` (the one `suricata.yaml` ships with).
//!
//! [`normalized_uri`] builds the `http.uri` buffer: the path, percent-decoded (including `%2f`
//! and `%u` encodings), with backslashes turned into slashes, runs of slashes compressed, UTF-8
//! sequences reduced to one byte by best-fit mapping, and dot segments removed (RFC 3986
//! 5.2.4); then `?` and the query, percent-decoded with `+` left alone and no `%u` decoding;
//! then `#` and the fragment. Unlike what libhtp's personality table suggests, the path keeps its
//! case: Suricata's `http.uri` is not lowercased (checked against Suricata 7.0.10 in
//! `tests/suricata_eve.rs`). An absolute URI (`http://host:port/path`) contributes its
//! path, query and fragment; its host and port go to `http.host`.
//!
//! Best-fit mapping: libhtp maps a decoded code point to one byte with Windows' best-fit
//! table, else `?`. This module maps ASCII (including overlong encodings) to itself and the
//! full-width forms U+FF01 to U+FF5E to their ASCII twins (the evasion the table exists for);
//! every other non-ASCII code point becomes `?`.
//!
//! Invalid percent encodings keep their `%` (libhtp's default, `PRESERVE_PERCENT`). Nothing here
//! trusts the input: every index is bounds-checked, output is never longer than the input.

/// The parts of a request-target, as slices of it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UriParts<'a> {
    /// `http` in `http://host/`.
    pub scheme: Option<&'a [u8]>,
    /// User name of the authority's user information.
    pub username: Option<&'a [u8]>,
    /// Password of the authority's user information.
    pub password: Option<&'a [u8]>,
    /// Host of an absolute URI (or of a CONNECT request's authority).
    pub hostname: Option<&'a [u8]>,
    /// Port text after the host.
    pub port: Option<&'a [u8]>,
    /// The path.
    pub path: Option<&'a [u8]>,
    /// After `?`, without it.
    pub query: Option<&'a [u8]>,
    /// After `#`, without it.
    pub fragment: Option<&'a [u8]>,
}

/// Splits a request-target the way libhtp's `htp_parse_uri` does: an origin form (`/path?q`),
/// an absolute form (`scheme://authority/path?q#f`), or anything else as a path.
pub fn parse_uri(raw: &[u8]) -> UriParts<'_> {
    let mut parts = UriParts::default();
    if raw.is_empty() {
        return parts;
    }
    let mut rest = raw;
    if raw[0] != b'/' {
        // A scheme ends at the first ':' followed by "//", before any '/', '?' or '#'.
        if let Some(colon) = raw
            .iter()
            .position(|&c| matches!(c, b':' | b'/' | b'?' | b'#'))
            && raw[colon] == b':'
            && raw[colon + 1..].starts_with(b"//")
        {
            parts.scheme = Some(&raw[..colon]);
            let after = &raw[colon + 3..];
            let end = after
                .iter()
                .position(|&c| matches!(c, b'/' | b'?' | b'#'))
                .unwrap_or(after.len());
            let authority = &after[..end];
            rest = &after[end..];
            let host_port = match authority.iter().rposition(|&c| c == b'@') {
                Some(at) => {
                    let userinfo = &authority[..at];
                    match userinfo.iter().position(|&c| c == b':') {
                        Some(c) => {
                            parts.username = Some(&userinfo[..c]);
                            parts.password = Some(&userinfo[c + 1..]);
                        }
                        None => parts.username = Some(userinfo),
                    }
                    &authority[at + 1..]
                }
                None => authority,
            };
            let (host, port) = split_host_port(host_port);
            parts.hostname = Some(host);
            parts.port = port;
        }
    }
    let path_end = rest
        .iter()
        .position(|&c| c == b'?' || c == b'#')
        .unwrap_or(rest.len());
    if path_end > 0 {
        parts.path = Some(&rest[..path_end]);
    }
    rest = &rest[path_end..];
    if let Some(q) = rest.strip_prefix(b"?") {
        let end = q.iter().position(|&c| c == b'#').unwrap_or(q.len());
        parts.query = Some(&q[..end]);
        rest = &q[end..];
    }
    if let Some(f) = rest.strip_prefix(b"#") {
        parts.fragment = Some(f);
    }
    parts
}

/// Splits `host[:port]` (or `[v6]:port`); the port is the text after the last colon outside
/// brackets.
pub fn split_host_port(text: &[u8]) -> (&[u8], Option<&[u8]>) {
    if text.first() == Some(&b'[') {
        if let Some(close) = text.iter().position(|&c| c == b']') {
            let host = &text[..=close];
            return match text[close + 1..].strip_prefix(b":") {
                Some(port) => (host, Some(port)),
                None => (host, None),
            };
        }
        return (text, None);
    }
    match text.iter().rposition(|&c| c == b':') {
        Some(colon) => (&text[..colon], Some(&text[colon + 1..])),
        None => (text, None),
    }
}

/// A port number from its text, as libhtp reads it: digits with surrounding whitespace,
/// 1 to 65535.
pub fn parse_port(text: &[u8]) -> Option<u16> {
    let digits = trim(text);
    if digits.is_empty() || digits.len() > 5 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = digits
        .iter()
        .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
    u16::try_from(value).ok().filter(|&p| p > 0)
}

/// Leading and trailing spaces and tabs (and CR, LF) removed.
pub(crate) fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if matches!(first, b' ' | b'\t' | b'\r' | b'\n') {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if matches!(last, b' ' | b'\t' | b'\r' | b'\n') {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Writes the `http.uri` buffer of `raw` (a request-target) into `out` (cleared first).
/// `connect` marks a CONNECT request, whose target is an authority without a path.
pub fn normalized_uri(raw: &[u8], connect: bool, out: &mut Vec<u8>) {
    out.clear();
    if connect {
        return;
    }
    let parts = parse_uri(raw);
    if let Some(path) = parts.path {
        normalize_path(path, out);
    }
    if let Some(query) = parts.query {
        out.push(b'?');
        urldecode_query(query, out);
    }
    if let Some(fragment) = parts.fragment {
        out.push(b'#');
        urldecode_fragment(fragment, out);
    }
}

/// The value of two hexadecimal digits.
fn hex_pair(hi: u8, lo: u8) -> Option<u8> {
    let digit = |c: u8| (c as char).to_digit(16);
    Some((digit(hi)? * 16 + digit(lo)?) as u8)
}

/// `%uHHHH` at `at` (pointing at the `%`), if four hex digits follow.
fn u_escape(s: &[u8], at: usize) -> Option<u32> {
    let digits = s.get(at + 2..at + 6)?;
    let hi = hex_pair(digits[0], digits[1])?;
    let lo = hex_pair(digits[2], digits[3])?;
    Some(u32::from(hi) << 8 | u32::from(lo))
}

/// One byte for a code point: ASCII as itself, full-width forms as their ASCII twins, anything
/// else as `?` (see the module documentation).
pub fn best_fit(code_point: u32) -> u8 {
    match code_point {
        0..=0x7f => code_point as u8,
        0xff01..=0xff5e => (code_point - 0xfee0) as u8,
        _ => b'?',
    }
}

/// Appends `path` decoded and normalised for `http.uri` (see the module documentation).
pub fn normalize_path(path: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    // 1. Percent and %u decoding, backslashes, separator compression.
    let mut decoded = Vec::with_capacity(path.len());
    let mut i = 0;
    let mut previous_was_separator = false;
    while i < path.len() {
        let mut c = path[i];
        if c == b'%' {
            if i + 2 < path.len() {
                if matches!(path[i + 1], b'u' | b'U') {
                    match u_escape(path, i) {
                        Some(cp) => {
                            c = best_fit(cp);
                            i += 6;
                        }
                        None => i += 1,
                    }
                } else {
                    match hex_pair(path[i + 1], path[i + 2]) {
                        Some(byte) => {
                            c = byte;
                            i += 3;
                        }
                        None => i += 1,
                    }
                }
            } else {
                i += 1;
            }
        } else {
            i += 1;
        }
        if c == b'\\' {
            c = b'/';
        }
        if c == b'/' {
            if previous_was_separator {
                continue;
            }
            previous_was_separator = true;
        } else {
            previous_was_separator = false;
        }
        decoded.push(c);
    }
    // 2. UTF-8 sequences to one byte each.
    let mut single = Vec::with_capacity(decoded.len());
    utf8_best_fit(&decoded, &mut single);
    // 3. Dot segments.
    remove_dot_segments(&single, out);
    debug_assert!(out.len() - start <= path.len());
}

/// Decodes UTF-8 (overlong forms allowed) to one byte per character with [`best_fit`]; an
/// invalid sequence becomes one `?`, and a sequence cut off by the end is dropped, as libhtp's
/// `htp_utf8_decode_path_inplace` does.
fn utf8_best_fit(input: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < input.len() {
        let lead = input[i];
        let (len, init) = match lead {
            0x00..=0x7f => {
                out.push(lead);
                i += 1;
                continue;
            }
            0xc0..=0xdf => (2, u32::from(lead & 0x1f)),
            0xe0..=0xef => (3, u32::from(lead & 0x0f)),
            0xf0..=0xf4 => (4, u32::from(lead & 0x07)),
            _ => {
                out.push(b'?');
                i += 1;
                continue;
            }
        };
        let mut cp = init;
        let mut j = 1;
        while j < len {
            match input.get(i + j) {
                Some(&b) if b & 0xc0 == 0x80 => cp = cp << 6 | u32::from(b & 0x3f),
                Some(_) => break,
                None => return,
            }
            j += 1;
        }
        if j == len {
            out.push(best_fit(cp));
            i += len;
        } else {
            // The byte that broke the sequence starts the next character.
            out.push(b'?');
            i += j;
        }
    }
}

/// RFC 3986 section 5.2.4, in libhtp's single-pass form (`htp_normalize_uri_path_inplace`).
fn remove_dot_segments(input: &[u8], out: &mut Vec<u8>) {
    let base = out.len();
    let len = input.len();
    let mut r = 0;
    let mut pending: Option<u8> = None;
    // Like libhtp, stop when the input is used up, even with a separator pending: "/a/b/."
    // becomes "/a/b", not RFC 3986's "/a/b/".
    while r < len {
        let c = match pending.take() {
            Some(c) => c,
            None => {
                let c = input[r];
                r += 1;
                c
            }
        };
        let at = |k: usize| input.get(r + k).copied();
        if c == b'.' {
            // A. "../" or "./" prefix.
            if at(0) == Some(b'.') && at(1) == Some(b'/') {
                r += 2;
                continue;
            }
            if at(0) == Some(b'/') {
                r += 1;
                continue;
            }
        }
        if c == b'/' {
            // B. "/./" or "/." at the end.
            if at(0) == Some(b'.') && at(1) == Some(b'/') {
                pending = Some(b'/');
                r += 2;
                continue;
            }
            if at(0) == Some(b'.') && r + 1 == len {
                pending = Some(b'/');
                r += 1;
                continue;
            }
            // C. "/../" or "/.." at the end: drop the last output segment.
            let up = at(0) == Some(b'.') && at(1) == Some(b'.');
            if up && (at(2) == Some(b'/') || r + 2 == len) {
                r += if at(2) == Some(b'/') { 3 } else { 2 };
                pending = Some(b'/');
                while out.len() > base && out[out.len() - 1] != b'/' {
                    out.pop();
                }
                if out.len() > base {
                    out.pop();
                }
                continue;
            }
        }
        // D. "." or ".." alone.
        if c == b'.' && r == len {
            continue;
        }
        if c == b'.' && r + 1 == len && at(0) == Some(b'.') {
            r += 1;
            continue;
        }
        // E. Move the segment to the output.
        out.push(c);
        while r < len && input[r] != b'/' {
            out.push(input[r]);
            r += 1;
        }
    }
}

/// Appends a query string percent-decoded as libhtp's `URLENCODED` context does under
/// Suricata: `%HH` decoded, `+` kept, `%u` not decoded, invalid escapes kept.
pub fn urldecode_query(query: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < query.len() {
        let c = query[i];
        if c == b'%'
            && i + 2 < query.len()
            && let Some(byte) = hex_pair(query[i + 1], query[i + 2])
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(c);
        i += 1;
    }
}

/// Appends a fragment (or URI host) percent-decoded as libhtp's `URL_PATH` context does:
/// `%HH` and `%uHHHH` decoded, `+` as a space.
pub fn urldecode_fragment(fragment: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < fragment.len() {
        let c = fragment[i];
        if c == b'%' && i + 2 < fragment.len() {
            if matches!(fragment[i + 1], b'u' | b'U') {
                if let Some(cp) = u_escape(fragment, i) {
                    out.push(if cp >> 8 == 0 { cp as u8 } else { best_fit(cp) });
                    i += 6;
                    continue;
                }
            } else if let Some(byte) = hex_pair(fragment[i + 1], fragment[i + 2]) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(if c == b'+' { b' ' } else { c });
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(raw: &str) -> String {
        let mut out = Vec::new();
        normalized_uri(raw.as_bytes(), false, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn suricata_checked_normalisation() {
        // The request of the committed capture; Suricata 7.0.10 gives exactly this http.uri.
        assert_eq!(
            uri(r"/a/./b/../C%2fd//e%u0041\f?x=%41+1&y=%u0042#frag"),
            "/a/C/d/eA/f?x=A+1&y=%u0042#frag"
        );
        assert_eq!(
            uri("http://Proxy.Rampart.Test:8081/abs/path?q=1"),
            "/abs/path?q=1"
        );
        assert_eq!(uri("/simple"), "/simple");
    }

    #[test]
    fn dot_segments_follow_rfc3986() {
        // RFC 3986 5.4 examples, as paths.
        assert_eq!(uri("/a/b/c/./../../g"), "/a/g");
        assert_eq!(uri("/a/b/c/../../../g"), "/g");
        // libhtp drops the separator RFC 3986 would keep at the very end.
        assert_eq!(uri("/a/b/.."), "/a");
        assert_eq!(uri("/a/b/."), "/a/b");
        assert_eq!(uri("/../etc/passwd"), "/etc/passwd");
        assert_eq!(uri("/a/.../b"), "/a/.../b");
        assert_eq!(uri("/a/..b/c"), "/a/..b/c");
    }

    #[test]
    fn decoding_details() {
        assert_eq!(uri("/%2e%2e/%2E%2e/x"), "/x");
        assert_eq!(uri("/a%5c..%5cwin.ini"), "/win.ini");
        assert_eq!(uri("/%zz/%4"), "/%zz/%4");
        assert_eq!(uri("/%u002e%u002e/%uFF41"), "/a");
        assert_eq!(uri("/%c0%ae%c0%ae/x"), "/x", "overlong dots");
        assert_eq!(uri("/caf%C3%A9"), "/caf?");
        assert_eq!(uri("/bad%ff/"), "/bad?/");
        assert_eq!(uri("/cut%e2%82"), "/cut");
        assert_eq!(uri("/broken%e2x"), "/broken?x");
        assert_eq!(uri("////a"), "/a");
        assert_eq!(uri("/?a=%2f+%uZZ"), "/?a=/+%uZZ");
    }

    #[test]
    fn absolute_uris_split() {
        let p = parse_uri(b"http://user:pw@Example.COM:8080/p/a?q=1#f");
        assert_eq!(p.scheme, Some(&b"http"[..]));
        assert_eq!(p.username, Some(&b"user"[..]));
        assert_eq!(p.password, Some(&b"pw"[..]));
        assert_eq!(p.hostname, Some(&b"Example.COM"[..]));
        assert_eq!(p.port, Some(&b"8080"[..]));
        assert_eq!(p.path, Some(&b"/p/a"[..]));
        assert_eq!(p.query, Some(&b"q=1"[..]));
        assert_eq!(p.fragment, Some(&b"f"[..]));
        let p = parse_uri(b"http://[::1]:81");
        assert_eq!(
            (p.hostname, p.port, p.path),
            (Some(&b"[::1]"[..]), Some(&b"81"[..]), None)
        );
        assert_eq!(parse_port(b" 8081 "), Some(8081));
        assert_eq!(parse_port(b"0"), None);
        assert_eq!(parse_port(b"70000"), None);
        assert_eq!(parse_uri(b"*").path, Some(&b"*"[..]));
    }
}
