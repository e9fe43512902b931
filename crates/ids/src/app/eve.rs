//! EVE records of application-layer transactions, as Suricata 7 writes them: [`http_record`],
//! [`dns_records`], [`tls_record`]. The bodies borrow from the transaction where the wire's
//! bytes can be written as they are.
//!
//! Bytes become JSON strings as Suricata's `set_string_from_bytes` makes them: valid UTF-8 is
//! kept; otherwise bytes below 0x80 are kept and the others written as the four characters
//! `\xNN`. Header names and values in the header arrays are cut at 255 and 2,047 bytes and at a
//! NUL byte, as Suricata's fixed buffers cut them.

use std::borrow::Cow;
use std::fmt::Write as _;

use events::{
    ContentRange, DnsAnswer, DnsEntry, DnsQuery, DnsRdata, DnsRecord, HttpHeaderRecord, HttpRecord,
    TlsRecord,
};

use super::dns::{DnsName, DnsRData, DnsRecord as WireRecord, DnsTx, rrtype};
use super::http::{HttpHeaders, HttpTx};
use super::tls::{TlsState, version_name};

/// A JSON string for wire bytes (see the module documentation).
pub fn eve_str(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => {
            let mut out = String::with_capacity(bytes.len() + 8);
            for &b in bytes {
                if b < 0x80 {
                    out.push(b as char);
                } else {
                    let _ = write!(out, "\\x{b:02x}");
                }
            }
            Cow::Owned(out)
        }
    }
}

/// Cut at the first NUL and at `max` bytes, as a C buffer of `max + 1` would.
fn c_buffer(bytes: &[u8], max: usize) -> &[u8] {
    let end = bytes
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(bytes.len())
        .min(max);
    &bytes[..end]
}

fn header_array(headers: &HttpHeaders) -> Vec<HttpHeaderRecord<'_>> {
    headers
        .iter()
        .map(|h| HttpHeaderRecord {
            name: eve_str(c_buffer(&h.name, 255)),
            value: eve_str(c_buffer(&h.value, 2047)),
        })
        .collect()
}

/// `bytes START-END/SIZE` (with `*` for an unknown size).
fn content_range(raw: &[u8]) -> ContentRange<'_> {
    let text = super::http::uri::trim(raw);
    let spec = text
        .strip_prefix(b"bytes")
        .map(super::http::uri::trim)
        .unwrap_or(text);
    let number = |s: &[u8]| std::str::from_utf8(s).ok()?.trim().parse::<u64>().ok();
    let (range, size) = match spec.iter().position(|&c| c == b'/') {
        Some(slash) => (&spec[..slash], number(&spec[slash + 1..])),
        None => (spec, None),
    };
    let (start, end) = match range.iter().position(|&c| c == b'-') {
        Some(dash) => (number(&range[..dash]), number(&range[dash + 1..])),
        None => (None, None),
    };
    ContentRange {
        raw: eve_str(raw),
        start,
        end,
        size,
    }
}

/// The `http` record of a transaction (extended, with every header).
pub fn http_record(tx: &HttpTx) -> HttpRecord<'_> {
    let request = &tx.request.headers;
    let response = &tx.response.headers;
    let content_type = response.get(b"content-type").map(|v| {
        let end = v.iter().position(|&c| c == b';').unwrap_or(v.len());
        eve_str(&v[..end])
    });
    let status = tx.status().filter(|s| !s.is_empty());
    HttpRecord {
        hostname: tx.hostname().map(eve_str),
        http_port: u16::try_from(tx.port).ok(),
        url: tx.uri_raw().map(eve_str),
        http_user_agent: request.get(b"user-agent").map(eve_str),
        xff: request.get(b"x-forwarded-for").map(eve_str),
        http_content_type: content_type,
        content_range: response.get(b"content-range").map(content_range),
        http_refer: request.get(b"referer").map(eve_str),
        http_method: tx.method().map(eve_str),
        protocol: tx.request.protocol().map(eve_str),
        status: tx.status_number,
        status_string: if tx.status_number.is_none() {
            status.map(eve_str)
        } else {
            None
        },
        redirect: response.get(b"location").map(eve_str),
        length: tx.response.message_len,
        request_headers: header_array(request),
        response_headers: header_array(response),
    }
}

/// A record type's name as Suricata writes it, or its number.
pub fn rrtype_name(code: u16) -> Cow<'static, str> {
    const NAMES: &[(u16, &str)] = &[
        (1, "A"),
        (2, "NS"),
        (3, "MD"),
        (4, "MF"),
        (5, "CNAME"),
        (6, "SOA"),
        (7, "MB"),
        (8, "MG"),
        (9, "MR"),
        (10, "NULL"),
        (11, "WKS"),
        (12, "PTR"),
        (13, "HINFO"),
        (14, "MINFO"),
        (15, "MX"),
        (16, "TXT"),
        (17, "RP"),
        (18, "AFSDB"),
        (19, "X25"),
        (20, "ISDN"),
        (21, "RT"),
        (22, "NSAP"),
        (23, "NSAPPTR"),
        (24, "SIG"),
        (25, "KEY"),
        (26, "PX"),
        (27, "GPOS"),
        (28, "AAAA"),
        (29, "LOC"),
        (33, "SRV"),
        (34, "ATMA"),
        (35, "NAPTR"),
        (36, "KX"),
        (37, "CERT"),
        (38, "A6"),
        (39, "DNAME"),
        (41, "OPT"),
        (42, "APL"),
        (43, "DS"),
        (44, "SSHFP"),
        (45, "IPSECKEY"),
        (46, "RRSIG"),
        (47, "NSEC"),
        (48, "DNSKEY"),
        (49, "DHCID"),
        (50, "NSEC3"),
        (51, "NSEC3PARAM"),
        (52, "TLSA"),
        (55, "HIP"),
        (59, "CDS"),
        (60, "CDNSKEY"),
        (99, "SPF"),
        (249, "TKEY"),
        (250, "TSIG"),
        (253, "MAILA"),
        (255, "ANY"),
        (256, "URI"),
    ];
    match NAMES.iter().find(|(c, _)| *c == code) {
        Some((_, name)) => Cow::Borrowed(name),
        None => Cow::Owned(code.to_string()),
    }
}

/// A response code's name as Suricata writes it, or its number.
pub fn rcode_name(code: u8) -> Cow<'static, str> {
    const NAMES: [&str; 11] = [
        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
        "NXRRSET", "NOTAUTH", "NOTZONE",
    ];
    match NAMES.get(usize::from(code)) {
        Some(name) => Cow::Borrowed(name),
        None => Cow::Owned(code.to_string()),
    }
}

fn name(n: &DnsName) -> Cow<'_, str> {
    eve_str(&n.value)
}

/// An IPv6 address with every group written in full, as Suricata does.
fn ipv6_full(addr: &[u8; 16]) -> String {
    let mut out = String::with_capacity(39);
    for (i, pair) in addr.chunks(2).enumerate() {
        if i > 0 {
            out.push(':');
        }
        let _ = write!(out, "{:02x}{:02x}", pair[0], pair[1]);
    }
    out
}

/// The entries of one record (a TXT record gives one per string).
fn entries<'a>(record: &'a WireRecord, out: &mut Vec<DnsEntry<'a>>) {
    let entry = |rdata| DnsEntry {
        rrname: name(&record.name),
        rrtype: rrtype_name(record.rrtype),
        ttl: record.ttl,
        rdata,
    };
    match &record.data {
        DnsRData::A(a) => out.push(entry(DnsRdata::Text(Cow::Owned(format!(
            "{}.{}.{}.{}",
            a[0], a[1], a[2], a[3]
        ))))),
        DnsRData::Aaaa(a) => out.push(entry(DnsRdata::Text(Cow::Owned(ipv6_full(a))))),
        DnsRData::Cname(n) | DnsRData::Ns(n) | DnsRData::Ptr(n) => {
            out.push(entry(DnsRdata::Text(name(n))))
        }
        DnsRData::Mx { exchange, .. } => out.push(entry(DnsRdata::Text(name(exchange)))),
        DnsRData::Txt(strings) => {
            for s in strings {
                out.push(entry(DnsRdata::Text(eve_str(s))));
            }
        }
        DnsRData::Null(bytes) => out.push(entry(DnsRdata::Text(eve_str(bytes)))),
        DnsRData::Soa {
            mname,
            rname,
            serial,
            refresh,
            retry,
            expire,
            minimum,
        } => out.push(entry(DnsRdata::Soa {
            mname: name(mname),
            rname: name(rname),
            serial: *serial,
            refresh: *refresh,
            retry: *retry,
            expire: *expire,
            minimum: *minimum,
        })),
        DnsRData::Srv {
            priority,
            weight,
            port,
            target,
        } => out.push(entry(DnsRdata::Srv {
            priority: *priority,
            weight: *weight,
            port: *port,
            name: name(target),
        })),
        DnsRData::Sshfp {
            algo,
            fp_type,
            fingerprint,
        } => {
            let mut hex = String::with_capacity(fingerprint.len() * 3);
            for (i, b) in fingerprint.iter().enumerate() {
                if i > 0 {
                    hex.push(':');
                }
                let _ = write!(hex, "{b:02x}");
            }
            out.push(entry(DnsRdata::Sshfp {
                fingerprint: Cow::Owned(hex),
                algo: *algo,
                fp_type: *fp_type,
            }))
        }
        DnsRData::Other(_) => out.push(entry(DnsRdata::None)),
    }
}

/// The `dns` records of a transaction: one `query` per question of its request, then one
/// `answer` for its response.
pub fn dns_records(tx: &DnsTx) -> Vec<DnsRecord<'_>> {
    let mut out = Vec::new();
    if let Some(request) = &tx.request {
        for q in &request.questions {
            out.push(DnsRecord::Query(DnsQuery {
                id: request.header.id,
                rrname: name(&q.name),
                rrname_truncated: q.name.truncated,
                rrtype: rrtype_name(q.rrtype),
                tx_id: tx.id,
                opcode: request.header.opcode(),
            }));
        }
    }
    if let Some(response) = &tx.response {
        let first = response.questions.first();
        let mut answers = Vec::new();
        for record in &response.answers {
            entries(record, &mut answers);
        }
        let mut authorities = Vec::new();
        for record in &response.authorities {
            if record.rrtype != rrtype::OPT {
                entries(record, &mut authorities);
            }
        }
        out.push(DnsRecord::Answer(DnsAnswer {
            id: response.header.id,
            flags: response.header.flags,
            rrname: first.map(|q| name(&q.name)),
            rrtype: first.map(|q| rrtype_name(q.rrtype)),
            rcode: rcode_name(response.header.rcode()),
            answers,
            authorities,
            detailed: true,
            grouped: true,
        }));
    }
    out
}

/// The `tls` record of a connection's handshake (server name and version; the certificate
/// fields come with issue 14).
pub fn tls_record(state: &TlsState) -> TlsRecord<'_> {
    TlsRecord {
        sni: state.sni().map(eve_str),
        version: Cow::Owned(version_name(state.version())),
        ..TlsRecord::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_from_bytes_like_suricata() {
        assert_eq!(eve_str(b"plain"), "plain");
        assert_eq!(eve_str("caf\u{e9}".as_bytes()), "caf\u{e9}");
        assert_eq!(eve_str(b"bad\xe9\x01"), "bad\\xe9\x01");
        assert_eq!(c_buffer(b"ab\0cd", 10), b"ab");
        assert_eq!(
            ipv6_full(&[0xfd, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]),
            "fd77:0000:0000:0000:0000:0000:0000:0002"
        );
        assert_eq!(rrtype_name(28), "AAAA");
        assert_eq!(rrtype_name(65), "65");
        assert_eq!(rcode_name(3), "NXDOMAIN");
        let r = content_range(b"bytes 0-99/1000");
        assert_eq!((r.start, r.end, r.size), (Some(0), Some(99), Some(1000)));
    }
}
