//! The body of an `http` event: Suricata's `http` object, one HTTP transaction.
//!
//! Field names and order are Suricata 7's (`output-json-http.c` with `extended: yes` and
//! `dump-all-headers`): `hostname`, `http_port`, `url`, `http_user_agent`, `xff`,
//! `http_content_type` (up to the first `;`), `content_range`, then `http_refer`,
//! `http_method`, `protocol`, `status` (or `status_string` when the code is not a number),
//! `redirect`, `length` (response body bytes on the wire, chunk framing included), then the
//! `request_headers` and `response_headers` arrays. Absent values are omitted; empty header
//! arrays are omitted. The values are strings the caller made from the wire's bytes; this crate
//! knows nothing of the parser that produced them.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// One header as the `request_headers` and `response_headers` arrays write it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpHeaderRecord<'a> {
    /// The header's name.
    pub name: Cow<'a, str>,
    /// Its value.
    pub value: Cow<'a, str>,
}

/// `content_range`: the response's Content-Range header, raw and parsed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentRange<'a> {
    /// The header's value.
    pub raw: Cow<'a, str>,
    /// First byte of the range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<u64>,
    /// Last byte of the range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<u64>,
    /// Size of the whole resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// One HTTP transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRecord<'a> {
    /// The host: an absolute URI's, else the Host header's, lowercased, without port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<Cow<'a, str>>,
    /// The port given with the host, if any (Suricata writes 0 for an HTTP/0.9 request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_port: Option<u16>,
    /// The request URI as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Cow<'a, str>>,
    /// The User-Agent header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_user_agent: Option<Cow<'a, str>>,
    /// The X-Forwarded-For header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xff: Option<Cow<'a, str>>,
    /// The response's Content-Type, up to the first `;`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_content_type: Option<Cow<'a, str>>,
    /// The response's Content-Range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_range: Option<ContentRange<'a>>,
    /// The Referer header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_refer: Option<Cow<'a, str>>,
    /// The request method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_method: Option<Cow<'a, str>>,
    /// The request's protocol (`HTTP/1.1`); absent for HTTP/0.9.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Cow<'a, str>>,
    /// The response status code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The status as sent, when it is not a number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_string: Option<Cow<'a, str>>,
    /// The response's Location header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<Cow<'a, str>>,
    /// Response body bytes on the wire.
    pub length: u64,
    /// Every request header (after folding and joining).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_headers: Vec<HttpHeaderRecord<'a>>,
    /// Every response header.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response_headers: Vec<HttpHeaderRecord<'a>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_suricata_7() {
        // From Suricata 7.0.10's eve.json on tests/captures/http.pcap of crates/ids.
        let suricata = concat!(
            r#"{"hostname":"edge.rampart.test.","url":"/a/./b/../C%2fd//e%u0041\\f?x=%41+1&y=%u0042#frag","#,
            r#""http_user_agent":"Folded/1.0","http_content_type":"text/html","#,
            r#""http_refer":"http://ref.rampart.test/page","http_method":"GET","protocol":"HTTP/1.1","#,
            r#""status":200,"length":987,"request_headers":[{"name":"Host","value":"EDGE.Rampart.Test."},"#,
            r#"{"name":"X-Folded","value":"first  second\tthird"}],"response_headers":[{"name":"Server","value":"RampartEdge/1.0"}]}"#
        );
        let record: HttpRecord<'_> = serde_json::from_str(suricata).unwrap();
        assert_eq!(record.status, Some(200));
        assert_eq!(record.request_headers[1].value, "first  second\tthird");
        assert_eq!(serde_json::to_string(&record).unwrap(), suricata);

        let bare = HttpRecord {
            http_port: Some(0),
            url: Some(Cow::Borrowed("/simple")),
            http_method: Some(Cow::Borrowed("GET")),
            length: 987,
            ..HttpRecord::default()
        };
        assert_eq!(
            serde_json::to_string(&bare).unwrap(),
            r#"{"http_port":0,"url":"/simple","http_method":"GET","length":987}"#
        );
    }
}
