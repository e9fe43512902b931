//! The body of a `dns` event: Suricata's `dns` object (EVE DNS version 2), one record per
//! question of a request (`"type":"query"`) and one per response (`"type":"answer"`).
//!
//! Field names and order are Suricata 7's (`rust/src/dns/log.rs`, formats `detailed` and
//! `grouped`): a query is `version`, `type`, `id`, `rrname`, `rrtype`, `tx_id`, `opcode`; an
//! answer is `version`, `type`, `id`, `flags` (hexadecimal), the set flag bits `qr`, `aa`, `tc`,
//! `rd`, `ra`, `z`, `opcode`, the first question's `rrname` and `rrtype`, `rcode`, then
//! `answers` (one object per record: `rrname`, `rrtype`, `ttl` and `rdata`, or `srv`, `soa`,
//! `sshfp` objects; one per string of a TXT record), `grouped` (values by record type) and
//! `authorities`. `grouped` is derived from the answers when written, in order of first
//! appearance (Suricata's order is a hash map's), and ignored when read.

use std::borrow::Cow;

use serde::de::Error as _;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A `dns` event body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnsRecord<'a> {
    /// One question of a request.
    Query(DnsQuery<'a>),
    /// A response.
    Answer(DnsAnswer<'a>),
}

/// One question of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsQuery<'a> {
    /// The message ID.
    pub id: u16,
    /// The name asked about.
    pub rrname: Cow<'a, str>,
    /// The name was longer than 255 bytes and was cut.
    pub rrname_truncated: bool,
    /// The type asked for (`A`, `AAAA`, ... or the number).
    pub rrtype: Cow<'a, str>,
    /// The transaction's position in the flow.
    pub tx_id: u64,
    /// The opcode.
    pub opcode: u8,
}

/// A response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsAnswer<'a> {
    /// The message ID.
    pub id: u16,
    /// The flags word.
    pub flags: u16,
    /// The first question's name.
    pub rrname: Option<Cow<'a, str>>,
    /// The first question's type.
    pub rrtype: Option<Cow<'a, str>>,
    /// The response code's name (`NOERROR`, `NXDOMAIN`, ...).
    pub rcode: Cow<'a, str>,
    /// The answer section.
    pub answers: Vec<DnsEntry<'a>>,
    /// The authority section.
    pub authorities: Vec<DnsEntry<'a>>,
    /// Write `answers` (Suricata's `detailed` format).
    pub detailed: bool,
    /// Write `grouped`.
    pub grouped: bool,
}

/// One resource record of a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsEntry<'a> {
    /// Owner name.
    pub rrname: Cow<'a, str>,
    /// Type name.
    pub rrtype: Cow<'a, str>,
    /// Time to live.
    pub ttl: u32,
    /// The data, for the types Suricata logs.
    pub rdata: DnsRdata<'a>,
}

/// Record data as Suricata logs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnsRdata<'a> {
    /// A type Suricata does not log the data of.
    None,
    /// `rdata`: an address, a name, one TXT string, NULL data.
    Text(Cow<'a, str>),
    /// `srv`.
    Srv {
        /// Priority.
        priority: u16,
        /// Weight.
        weight: u16,
        /// Port.
        port: u16,
        /// Target.
        name: Cow<'a, str>,
    },
    /// `soa`.
    Soa {
        /// Primary name server.
        mname: Cow<'a, str>,
        /// Responsible mailbox.
        rname: Cow<'a, str>,
        /// Serial.
        serial: u32,
        /// Refresh.
        refresh: u32,
        /// Retry.
        retry: u32,
        /// Expire.
        expire: u32,
        /// Minimum.
        minimum: u32,
    },
    /// `sshfp`.
    Sshfp {
        /// Fingerprint, lowercase hex pairs joined by colons.
        fingerprint: Cow<'a, str>,
        /// Algorithm.
        algo: u8,
        /// Fingerprint type.
        fp_type: u8,
    },
}

/// The object form of structured record data (for `answers` entries and `grouped`).
struct RdataObject<'b, 'a>(&'b DnsRdata<'a>);

impl Serialize for RdataObject<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match self.0 {
            DnsRdata::Srv {
                priority,
                weight,
                port,
                name,
            } => {
                map.serialize_entry("priority", priority)?;
                map.serialize_entry("weight", weight)?;
                map.serialize_entry("port", port)?;
                map.serialize_entry("name", name)?;
            }
            DnsRdata::Soa {
                mname,
                rname,
                serial,
                refresh,
                retry,
                expire,
                minimum,
            } => {
                map.serialize_entry("mname", mname)?;
                map.serialize_entry("rname", rname)?;
                map.serialize_entry("serial", serial)?;
                map.serialize_entry("refresh", refresh)?;
                map.serialize_entry("retry", retry)?;
                map.serialize_entry("expire", expire)?;
                map.serialize_entry("minimum", minimum)?;
            }
            DnsRdata::Sshfp {
                fingerprint,
                algo,
                fp_type,
            } => {
                map.serialize_entry("fingerprint", fingerprint)?;
                map.serialize_entry("algo", algo)?;
                map.serialize_entry("type", fp_type)?;
            }
            DnsRdata::None | DnsRdata::Text(_) => {}
        }
        map.end()
    }
}

/// A `grouped` value: a string or an object.
struct GroupedValue<'b, 'a>(&'b DnsRdata<'a>);

impl Serialize for GroupedValue<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            DnsRdata::Text(text) => serializer.serialize_str(text),
            other => RdataObject(other).serialize(serializer),
        }
    }
}

impl Serialize for DnsEntry<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("rrname", &self.rrname)?;
        map.serialize_entry("rrtype", &self.rrtype)?;
        map.serialize_entry("ttl", &self.ttl)?;
        match &self.rdata {
            DnsRdata::None => {}
            DnsRdata::Text(text) => map.serialize_entry("rdata", text)?,
            DnsRdata::Srv { .. } => map.serialize_entry("srv", &RdataObject(&self.rdata))?,
            DnsRdata::Soa { .. } => map.serialize_entry("soa", &RdataObject(&self.rdata))?,
            DnsRdata::Sshfp { .. } => map.serialize_entry("sshfp", &RdataObject(&self.rdata))?,
        }
        map.end()
    }
}

/// The `grouped` object: values by type, types in order of first appearance.
struct Grouped<'b, 'a>(&'b [DnsEntry<'a>]);

impl Serialize for Grouped<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        let entries = self.0;
        for (i, entry) in entries.iter().enumerate() {
            if entry.rdata == DnsRdata::None
                || entries[..i]
                    .iter()
                    .any(|e| e.rrtype == entry.rrtype && e.rdata != DnsRdata::None)
            {
                continue;
            }
            map.serialize_entry(&entry.rrtype, &GroupValues(entries, &entry.rrtype))?;
        }
        map.end()
    }
}

struct GroupValues<'b, 'a>(&'b [DnsEntry<'a>], &'b str);

impl Serialize for GroupValues<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        for entry in self
            .0
            .iter()
            .filter(|e| e.rrtype == self.1 && e.rdata != DnsRdata::None)
        {
            seq.serialize_element(&GroupedValue(&entry.rdata))?;
        }
        seq.end()
    }
}

impl Serialize for DnsRecord<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("version", &2)?;
        match self {
            DnsRecord::Query(q) => {
                map.serialize_entry("type", "query")?;
                map.serialize_entry("id", &q.id)?;
                map.serialize_entry("rrname", &q.rrname)?;
                if q.rrname_truncated {
                    map.serialize_entry("rrname_truncated", &true)?;
                }
                map.serialize_entry("rrtype", &q.rrtype)?;
                map.serialize_entry("tx_id", &q.tx_id)?;
                map.serialize_entry("opcode", &q.opcode)?;
            }
            DnsRecord::Answer(a) => {
                map.serialize_entry("type", "answer")?;
                map.serialize_entry("id", &a.id)?;
                map.serialize_entry("flags", &format_args!("{:x}", a.flags))?;
                for (bit, name) in [
                    (0x8000, "qr"),
                    (0x0400, "aa"),
                    (0x0200, "tc"),
                    (0x0100, "rd"),
                    (0x0080, "ra"),
                    (0x0040, "z"),
                ] {
                    if a.flags & bit != 0 {
                        map.serialize_entry(name, &true)?;
                    }
                }
                map.serialize_entry("opcode", &((a.flags >> 11) & 0xf))?;
                if let Some(rrname) = &a.rrname {
                    map.serialize_entry("rrname", rrname)?;
                }
                if let Some(rrtype) = &a.rrtype {
                    map.serialize_entry("rrtype", rrtype)?;
                }
                map.serialize_entry("rcode", &a.rcode)?;
                if !a.answers.is_empty() {
                    if a.detailed {
                        map.serialize_entry("answers", &a.answers)?;
                    }
                    if a.grouped {
                        map.serialize_entry("grouped", &Grouped(&a.answers))?;
                    }
                }
                if !a.authorities.is_empty() {
                    map.serialize_entry("authorities", &a.authorities)?;
                }
            }
        }
        map.end()
    }
}

#[derive(Deserialize)]
struct RawSrv<'a> {
    priority: u16,
    weight: u16,
    port: u16,
    name: Cow<'a, str>,
}

#[derive(Deserialize)]
struct RawSoa<'a> {
    mname: Cow<'a, str>,
    rname: Cow<'a, str>,
    serial: u32,
    refresh: u32,
    retry: u32,
    expire: u32,
    minimum: u32,
}

#[derive(Deserialize)]
struct RawSshfp<'a> {
    fingerprint: Cow<'a, str>,
    algo: u8,
    #[serde(rename = "type")]
    fp_type: u8,
}

#[derive(Deserialize)]
struct RawEntry<'a> {
    rrname: Cow<'a, str>,
    rrtype: Cow<'a, str>,
    ttl: u32,
    #[serde(default)]
    rdata: Option<Cow<'a, str>>,
    #[serde(default)]
    srv: Option<RawSrv<'a>>,
    #[serde(default)]
    soa: Option<RawSoa<'a>>,
    #[serde(default)]
    sshfp: Option<RawSshfp<'a>>,
}

impl<'a> From<RawEntry<'a>> for DnsEntry<'a> {
    fn from(raw: RawEntry<'a>) -> Self {
        let rdata = if let Some(text) = raw.rdata {
            DnsRdata::Text(text)
        } else if let Some(s) = raw.srv {
            DnsRdata::Srv {
                priority: s.priority,
                weight: s.weight,
                port: s.port,
                name: s.name,
            }
        } else if let Some(s) = raw.soa {
            DnsRdata::Soa {
                mname: s.mname,
                rname: s.rname,
                serial: s.serial,
                refresh: s.refresh,
                retry: s.retry,
                expire: s.expire,
                minimum: s.minimum,
            }
        } else if let Some(s) = raw.sshfp {
            DnsRdata::Sshfp {
                fingerprint: s.fingerprint,
                algo: s.algo,
                fp_type: s.fp_type,
            }
        } else {
            DnsRdata::None
        };
        DnsEntry {
            rrname: raw.rrname,
            rrtype: raw.rrtype,
            ttl: raw.ttl,
            rdata,
        }
    }
}

#[derive(Deserialize)]
struct RawDns<'a> {
    version: u8,
    #[serde(rename = "type")]
    kind: Cow<'a, str>,
    id: u16,
    #[serde(default)]
    flags: Option<Cow<'a, str>>,
    #[serde(default)]
    rrname: Option<Cow<'a, str>>,
    #[serde(default)]
    rrname_truncated: bool,
    #[serde(default)]
    rrtype: Option<Cow<'a, str>>,
    #[serde(default)]
    tx_id: u64,
    #[serde(default)]
    opcode: u8,
    #[serde(default)]
    rcode: Option<Cow<'a, str>>,
    #[serde(default)]
    answers: Vec<RawEntry<'a>>,
    #[serde(default)]
    grouped: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    authorities: Vec<RawEntry<'a>>,
}

impl<'de, 'a> Deserialize<'de> for DnsRecord<'a> {
    /// Reads a version 2 record of either type.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawDns::deserialize(deserializer)?;
        if raw.version != 2 {
            return Err(D::Error::custom(format_args!(
                "dns version {} (only 2 is read)",
                raw.version
            )));
        }
        match raw.kind.as_ref() {
            "query" => Ok(DnsRecord::Query(DnsQuery {
                id: raw.id,
                rrname: raw
                    .rrname
                    .ok_or_else(|| D::Error::missing_field("rrname"))?,
                rrname_truncated: raw.rrname_truncated,
                rrtype: raw
                    .rrtype
                    .ok_or_else(|| D::Error::missing_field("rrtype"))?,
                tx_id: raw.tx_id,
                opcode: raw.opcode,
            })),
            "answer" => {
                let flags = raw.flags.ok_or_else(|| D::Error::missing_field("flags"))?;
                let flags = u16::from_str_radix(&flags, 16).map_err(|_| {
                    D::Error::custom(format_args!("flags {flags:?} is not hexadecimal"))
                })?;
                Ok(DnsRecord::Answer(DnsAnswer {
                    id: raw.id,
                    flags,
                    rrname: raw.rrname,
                    rrtype: raw.rrtype,
                    rcode: raw.rcode.ok_or_else(|| D::Error::missing_field("rcode"))?,
                    detailed: true,
                    grouped: raw.grouped.is_some(),
                    answers: raw.answers.into_iter().map(DnsEntry::from).collect(),
                    authorities: raw.authorities.into_iter().map(DnsEntry::from).collect(),
                }))
            }
            other => Err(D::Error::unknown_variant(other, &["query", "answer"])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_suricata_7() {
        // From Suricata 7.0.10's eve.json on a capture of crates/ids/tests/captures/make-captures.sh.
        for suricata in [
            r#"{"version":2,"type":"query","id":32237,"rrname":"host.rampart.test","rrtype":"A","tx_id":0,"opcode":0}"#,
            concat!(
                r#"{"version":2,"type":"answer","id":20037,"flags":"8580","qr":true,"aa":true,"rd":true,"ra":true,"opcode":0,"#,
                r#""rrname":"www.rampart.test","rrtype":"A","rcode":"NOERROR","answers":[{"rrname":"www.rampart.test","#,
                r#""rrtype":"CNAME","ttl":0,"rdata":"host.rampart.test"},{"rrname":"host.rampart.test","rrtype":"A","#,
                r#""ttl":0,"rdata":"10.77.0.2"}],"grouped":{"CNAME":["host.rampart.test"],"A":["10.77.0.2"]}}"#
            ),
            concat!(
                r#"{"version":2,"type":"answer","id":13464,"flags":"8580","qr":true,"aa":true,"rd":true,"ra":true,"#,
                r#""opcode":0,"rrname":"_http._tcp.rampart.test","rrtype":"SRV","rcode":"NOERROR","answers":[{"#,
                r#""rrname":"_http._tcp.rampart.test","rrtype":"SRV","ttl":0,"srv":{"priority":0,"weight":5,"port":80,"#,
                r#""name":"host.rampart.test"}}],"grouped":{"SRV":[{"priority":0,"weight":5,"port":80,"name":"host.rampart.test"}]}}"#
            ),
            r#"{"version":2,"type":"answer","id":9214,"flags":"8183","qr":true,"rd":true,"ra":true,"opcode":0,"rrname":"missing.rampart.test","rrtype":"A","rcode":"NXDOMAIN"}"#,
        ] {
            let record: DnsRecord<'_> = serde_json::from_str(suricata).unwrap();
            assert_eq!(serde_json::to_string(&record).unwrap(), suricata);
        }
        assert!(
            serde_json::from_str::<DnsRecord<'_>>(r#"{"version":1,"type":"query","id":1}"#)
                .is_err()
        );
    }

    #[test]
    fn soa_authorities_and_txt_strings() {
        let answer = DnsAnswer {
            id: 1,
            flags: 0x8183,
            rrname: Some("x.test".into()),
            rrtype: Some("A".into()),
            rcode: "NXDOMAIN".into(),
            answers: vec![
                DnsEntry {
                    rrname: "t.test".into(),
                    rrtype: "TXT".into(),
                    ttl: 5,
                    rdata: DnsRdata::Text("a".into()),
                },
                DnsEntry {
                    rrname: "t.test".into(),
                    rrtype: "TXT".into(),
                    ttl: 5,
                    rdata: DnsRdata::Text("b".into()),
                },
                DnsEntry {
                    rrname: "t.test".into(),
                    rrtype: "RRSIG".into(),
                    ttl: 5,
                    rdata: DnsRdata::None,
                },
            ],
            authorities: vec![DnsEntry {
                rrname: "test".into(),
                rrtype: "SOA".into(),
                ttl: 60,
                rdata: DnsRdata::Soa {
                    mname: "ns.test".into(),
                    rname: "root.test".into(),
                    serial: 1,
                    refresh: 2,
                    retry: 3,
                    expire: 4,
                    minimum: 5,
                },
            }],
            detailed: true,
            grouped: true,
        };
        let json = serde_json::to_string(&DnsRecord::Answer(answer.clone())).unwrap();
        assert!(json.contains(r#""grouped":{"TXT":["a","b"]}"#), "{json}");
        assert!(
            json.contains(r#"{"rrname":"t.test","rrtype":"RRSIG","ttl":5}"#),
            "{json}"
        );
        assert!(json.ends_with(r#""authorities":[{"rrname":"test","rrtype":"SOA","ttl":60,"soa":{"mname":"ns.test","rname":"root.test","serial":1,"refresh":2,"retry":3,"expire":4,"minimum":5}}]}"#), "{json}");
        assert_eq!(
            serde_json::from_str::<DnsRecord<'_>>(&json).unwrap(),
            DnsRecord::Answer(answer)
        );
    }
}
