//! The body of a `tls` event: Suricata's `tls` object, one TLS handshake.
//!
//! Field names and order are Suricata 7's extended TLS log (`output-json-tls.c`):
//! `subject`, `issuerdn`, `session_resumed`, `serial`, `fingerprint`, `sni`, `version`,
//! `notbefore`, `notafter`, `ja3`, `ja3s`, `client`, then `from_proto`. Only `version` is always
//! present (`"UNDETERMINED"` without a ServerHello).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// A JA3 or JA3S fingerprint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ja3<'a> {
    /// MD5 of the string, hexadecimal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<Cow<'a, str>>,
    /// The fingerprint string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string: Option<Cow<'a, str>>,
}

/// The client certificate's fields.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsClientCert<'a> {
    /// Subject distinguished name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Cow<'a, str>>,
    /// Issuer distinguished name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuerdn: Option<Cow<'a, str>>,
    /// SHA-1 fingerprint, lowercase hex pairs joined by colons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<Cow<'a, str>>,
    /// Serial number, uppercase hex pairs joined by colons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<Cow<'a, str>>,
    /// Start of validity, `2026-12-08T00:34:31`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notbefore: Option<Cow<'a, str>>,
    /// End of validity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notafter: Option<Cow<'a, str>>,
}

/// One TLS handshake.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsRecord<'a> {
    /// The server certificate's subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Cow<'a, str>>,
    /// The server certificate's issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuerdn: Option<Cow<'a, str>>,
    /// The session was resumed (no certificate, not TLS 1.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_resumed: Option<bool>,
    /// The server certificate's serial number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<Cow<'a, str>>,
    /// The server certificate's SHA-1 fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<Cow<'a, str>>,
    /// The server name the client asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni: Option<Cow<'a, str>>,
    /// The negotiated version: `TLS 1.3`, `TLS 1.2`, `TLS 1.1`, `TLSv1`, `SSLv3`, ...
    pub version: Cow<'a, str>,
    /// The server certificate's start of validity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notbefore: Option<Cow<'a, str>>,
    /// The server certificate's end of validity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notafter: Option<Cow<'a, str>>,
    /// The client's JA3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ja3: Option<Ja3<'a>>,
    /// The server's JA3S.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ja3s: Option<Ja3<'a>>,
    /// The client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<TlsClientCert<'a>>,
    /// The protocol the connection started as (STARTTLS, HTTP CONNECT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_proto: Option<Cow<'a, str>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_suricata_7() {
        // From Suricata 7.0.10's eve.json on tests/captures/tls.pcap of crates/ids.
        for suricata in [
            r#"{"sni":"tls.rampart.test","version":"TLS 1.3"}"#,
            concat!(
                r#"{"subject":"CN=tls.rampart.test, O=Rampart","issuerdn":"CN=tls.rampart.test, O=Rampart","#,
                r#""serial":"47:D6:1A:ED:7F:BC:45:70:03:D0:FB:49:E7:F0:52:1B:60:20:B1:95","#,
                r#""fingerprint":"92:3a:20:94:7a:ad:6d:c4:d9:78:0e:ee:f1:f2:d7:e5:9b:5b:e6:4b","#,
                r#""sni":"tls.rampart.test","version":"TLS 1.2","notbefore":"2026-12-08T00:34:31","#,
                r#""notafter":"2036-12-05T00:34:31"}"#
            ),
        ] {
            let record: TlsRecord<'_> = serde_json::from_str(suricata).unwrap();
            assert_eq!(serde_json::to_string(&record).unwrap(), suricata);
        }
        assert!(
            serde_json::from_str::<TlsRecord<'_>>(r#"{"sni":"x"}"#).is_err(),
            "version is required"
        );
    }
}
