//! DNS messages (RFC 1035) over UDP and over TCP (each message after a two-byte length), and
//! the transactions Suricata makes of them: a request and the response with the same ID.
//!
//! [`DnsMessage::parse`] reads the header, questions and resource records, with the common
//! record types decoded (A, AAAA, CNAME, NS, PTR, MX, TXT, SOA, SRV, SSHFP, NULL; others kept
//! as bytes). Names are expanded from compression pointers with loop protection: a pointer must
//! point before the label that holds it, at most 128 pointers are followed, and a name stops at
//! 255 bytes (flagged truncated, as Suricata does). Errors say what was being read and at which
//! byte offset. [`DnsTcpFramer`] cuts a TCP stream into messages; [`DnsState`] keeps a
//! connection's transactions (one per message, as in Suricata 7) for the `dns.query` buffer and
//! the EVE `dns` records.
//!
//! Never trusts a count or a length: a header claiming 65,535 answers costs nothing until the
//! bytes are there, and nothing is allocated from a length field.

use std::collections::VecDeque;

use thiserror::Error;

use crate::stream::Direction;

/// Why a DNS message could not be read.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum DnsError {
    /// The message ends inside a field.
    #[error("DNS message truncated at byte {offset} reading {what}")]
    Truncated {
        /// Where the missing bytes start.
        offset: usize,
        /// The field being read.
        what: &'static str,
    },
    /// A compression pointer that does not point strictly backwards, or too many of them.
    #[error("DNS name compression loop or forward pointer at byte {offset}")]
    BadPointer {
        /// Offset of the pointer.
        offset: usize,
    },
    /// A label type other than a length (0b00) or a pointer (0b11).
    #[error("DNS label type {label:#04x} not supported at byte {offset}")]
    BadLabel {
        /// Offset of the label byte.
        offset: usize,
        /// The label byte.
        label: u8,
    },
}

/// The fixed header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DnsHeader {
    /// Transaction ID.
    pub id: u16,
    /// Flags word (QR, opcode, AA, TC, RD, RA, Z, rcode).
    pub flags: u16,
    /// Question count as claimed.
    pub qdcount: u16,
    /// Answer count as claimed.
    pub ancount: u16,
    /// Authority count as claimed.
    pub nscount: u16,
    /// Additional count as claimed.
    pub arcount: u16,
}

impl DnsHeader {
    /// A response (QR set).
    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }

    /// The opcode (0 query, 4 notify, 5 update, ...).
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xf) as u8
    }

    /// The response code.
    pub fn rcode(&self) -> u8 {
        (self.flags & 0xf) as u8
    }
}

/// A name in dotted form, as its labels' bytes joined by `.`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DnsName {
    /// The name, without a trailing dot; empty for the root.
    pub value: Vec<u8>,
    /// The name was longer than 255 bytes and was cut.
    pub truncated: bool,
}

/// A question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsQuestion {
    /// The name asked about.
    pub name: DnsName,
    /// The record type asked for.
    pub rrtype: u16,
    /// The class (1, IN).
    pub rrclass: u16,
}

/// Decoded record data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnsRData {
    /// An IPv4 address.
    A([u8; 4]),
    /// An IPv6 address.
    Aaaa([u8; 16]),
    /// A canonical name.
    Cname(DnsName),
    /// A name server.
    Ns(DnsName),
    /// A pointer.
    Ptr(DnsName),
    /// A mail exchanger.
    Mx {
        /// Preference.
        preference: u16,
        /// The exchange host.
        exchange: DnsName,
    },
    /// Text: one or more character strings.
    Txt(Vec<Vec<u8>>),
    /// Start of authority.
    Soa {
        /// Primary name server.
        mname: DnsName,
        /// Responsible mailbox.
        rname: DnsName,
        /// Serial.
        serial: u32,
        /// Refresh interval.
        refresh: u32,
        /// Retry interval.
        retry: u32,
        /// Expiry.
        expire: u32,
        /// Negative-caching TTL.
        minimum: u32,
    },
    /// A service location.
    Srv {
        /// Priority.
        priority: u16,
        /// Weight.
        weight: u16,
        /// Port.
        port: u16,
        /// Target host.
        target: DnsName,
    },
    /// An SSH key fingerprint.
    Sshfp {
        /// Key algorithm.
        algo: u8,
        /// Fingerprint type.
        fp_type: u8,
        /// The fingerprint.
        fingerprint: Vec<u8>,
    },
    /// NULL record data.
    Null(Vec<u8>),
    /// Any other type, as bytes (OPT included).
    Other(Vec<u8>),
}

/// A resource record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsRecord {
    /// Owner name.
    pub name: DnsName,
    /// Type.
    pub rrtype: u16,
    /// Class.
    pub rrclass: u16,
    /// Time to live.
    pub ttl: u32,
    /// The data.
    pub data: DnsRData,
}

/// A parsed message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DnsMessage {
    /// The header.
    pub header: DnsHeader,
    /// Questions.
    pub questions: Vec<DnsQuestion>,
    /// Answers.
    pub answers: Vec<DnsRecord>,
    /// Authority records.
    pub authorities: Vec<DnsRecord>,
    /// Additional records.
    pub additionals: Vec<DnsRecord>,
}

/// Record type numbers.
pub mod rrtype {
    /// IPv4 address.
    pub const A: u16 = 1;
    /// Name server.
    pub const NS: u16 = 2;
    /// Canonical name.
    pub const CNAME: u16 = 5;
    /// Start of authority.
    pub const SOA: u16 = 6;
    /// NULL.
    pub const NULL: u16 = 10;
    /// Pointer.
    pub const PTR: u16 = 12;
    /// Mail exchanger.
    pub const MX: u16 = 15;
    /// Text.
    pub const TXT: u16 = 16;
    /// IPv6 address.
    pub const AAAA: u16 = 28;
    /// Service.
    pub const SRV: u16 = 33;
    /// EDNS options.
    pub const OPT: u16 = 41;
    /// SSH fingerprint.
    pub const SSHFP: u16 = 44;
}

const MAX_NAME: usize = 255;
const MAX_POINTERS: usize = 128;

/// A bounds-checked reader over one message.
struct Reader<'a> {
    msg: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DnsError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.msg.len());
        let Some(end) = end else {
            return Err(DnsError::Truncated {
                offset: self.at,
                what,
            });
        };
        let out = &self.msg[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, DnsError> {
        Ok(self.bytes(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, DnsError> {
        let b = self.bytes(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, DnsError> {
        let b = self.bytes(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A possibly compressed name at the reader's position; the reader moves past it.
    fn name(&mut self) -> Result<DnsName, DnsError> {
        let mut name = DnsName::default();
        let mut pos = self.at;
        // Where the reader continues: after the first pointer, or after the final label.
        let mut resume = None;
        let mut pointers = 0;
        // Labels must come from before this offset once a pointer has been followed.
        let mut limit = self.msg.len();
        loop {
            let Some(&len) = self.msg.get(pos).filter(|_| pos < limit) else {
                return Err(DnsError::Truncated {
                    offset: pos,
                    what: "name label",
                });
            };
            match len >> 6 {
                0b00 => {
                    if len == 0 {
                        pos += 1;
                        break;
                    }
                    let start = pos + 1;
                    let end = start + usize::from(len);
                    let Some(label) = self.msg.get(start..end) else {
                        return Err(DnsError::Truncated {
                            offset: start,
                            what: "name label",
                        });
                    };
                    if name.value.len() <= MAX_NAME {
                        if !name.value.is_empty() {
                            name.value.push(b'.');
                        }
                        name.value.extend_from_slice(label);
                    }
                    pos = end;
                }
                0b11 => {
                    let Some(&low) = self.msg.get(pos + 1) else {
                        return Err(DnsError::Truncated {
                            offset: pos + 1,
                            what: "name pointer",
                        });
                    };
                    let target = usize::from(u16::from_be_bytes([len & 0x3f, low]));
                    pointers += 1;
                    // Strictly backwards: every jump lowers the limit, so no loop survives.
                    if target >= pos || pointers > MAX_POINTERS {
                        return Err(DnsError::BadPointer { offset: pos });
                    }
                    if resume.is_none() {
                        resume = Some(pos + 2);
                    }
                    limit = pos;
                    pos = target;
                }
                _ => {
                    return Err(DnsError::BadLabel {
                        offset: pos,
                        label: len,
                    });
                }
            }
        }
        if name.value.len() > MAX_NAME {
            name.value.truncate(MAX_NAME);
            name.truncated = true;
        }
        self.at = resume.unwrap_or(pos);
        Ok(name)
    }

    fn record(&mut self) -> Result<DnsRecord, DnsError> {
        let name = self.name()?;
        let rrtype = self.u16("record type")?;
        let rrclass = self.u16("record class")?;
        let ttl = self.u32("record TTL")?;
        let rdlength = usize::from(self.u16("record data length")?);
        let rdata_start = self.at;
        let rdata = self.bytes(rdlength, "record data")?;
        // Names inside the data may point anywhere before them in the message.
        let mut inner = Reader {
            msg: &self.msg[..rdata_start + rdlength],
            at: rdata_start,
        };
        let data = match rrtype {
            rrtype::A if rdlength == 4 => DnsRData::A([rdata[0], rdata[1], rdata[2], rdata[3]]),
            rrtype::AAAA if rdlength == 16 => {
                let mut addr = [0; 16];
                addr.copy_from_slice(rdata);
                DnsRData::Aaaa(addr)
            }
            rrtype::CNAME => DnsRData::Cname(inner.name()?),
            rrtype::NS => DnsRData::Ns(inner.name()?),
            rrtype::PTR => DnsRData::Ptr(inner.name()?),
            rrtype::MX => DnsRData::Mx {
                preference: inner.u16("MX preference")?,
                exchange: inner.name()?,
            },
            rrtype::TXT => {
                let mut strings = Vec::new();
                while inner.at < inner.msg.len() {
                    let n = usize::from(inner.u8("TXT length")?);
                    strings.push(inner.bytes(n, "TXT string")?.to_vec());
                }
                DnsRData::Txt(strings)
            }
            rrtype::SOA => DnsRData::Soa {
                mname: inner.name()?,
                rname: inner.name()?,
                serial: inner.u32("SOA serial")?,
                refresh: inner.u32("SOA refresh")?,
                retry: inner.u32("SOA retry")?,
                expire: inner.u32("SOA expire")?,
                minimum: inner.u32("SOA minimum")?,
            },
            rrtype::SRV => DnsRData::Srv {
                priority: inner.u16("SRV priority")?,
                weight: inner.u16("SRV weight")?,
                port: inner.u16("SRV port")?,
                target: inner.name()?,
            },
            rrtype::SSHFP if rdlength >= 2 => DnsRData::Sshfp {
                algo: rdata[0],
                fp_type: rdata[1],
                fingerprint: rdata[2..].to_vec(),
            },
            rrtype::NULL => DnsRData::Null(rdata.to_vec()),
            _ => DnsRData::Other(rdata.to_vec()),
        };
        Ok(DnsRecord {
            name,
            rrtype,
            rrclass,
            ttl,
            data,
        })
    }
}

impl DnsMessage {
    /// Parses one message (a UDP payload, or one message of a TCP stream without its length).
    pub fn parse(msg: &[u8]) -> Result<DnsMessage, DnsError> {
        let mut r = Reader { msg, at: 0 };
        let header = DnsHeader {
            id: r.u16("header ID")?,
            flags: r.u16("header flags")?,
            qdcount: r.u16("question count")?,
            ancount: r.u16("answer count")?,
            nscount: r.u16("authority count")?,
            arcount: r.u16("additional count")?,
        };
        let mut out = DnsMessage {
            header,
            ..DnsMessage::default()
        };
        for _ in 0..header.qdcount {
            let name = r.name()?;
            out.questions.push(DnsQuestion {
                name,
                rrtype: r.u16("question type")?,
                rrclass: r.u16("question class")?,
            });
        }
        for _ in 0..header.ancount {
            out.answers.push(r.record()?);
        }
        for _ in 0..header.nscount {
            out.authorities.push(r.record()?);
        }
        for _ in 0..header.arcount {
            out.additionals.push(r.record()?);
        }
        Ok(out)
    }

    /// Whether `data` looks like the start of a DNS request: a plausible header (query, a
    /// standard opcode, one to a few questions, no answers) and a first question that parses.
    /// Used by protocol detection.
    pub fn probe_request(data: &[u8]) -> bool {
        Self::probe(data, false)
    }

    /// Whether `data` looks like the start of a DNS response: a plausible header (response, a
    /// standard opcode, one to a few questions) and a first question that parses.
    pub fn probe_response(data: &[u8]) -> bool {
        Self::probe(data, true)
    }

    fn probe(data: &[u8], response: bool) -> bool {
        let mut r = Reader { msg: data, at: 0 };
        let (Ok(_id), Ok(flags), Ok(qd), Ok(an)) = (r.u16(""), r.u16(""), r.u16(""), r.u16(""))
        else {
            return false;
        };
        if r.bytes(4, "").is_err() {
            return false;
        }
        let header = DnsHeader {
            flags,
            ..DnsHeader::default()
        };
        if header.is_response() != response
            || header.opcode() > 5
            || !(1..=16).contains(&qd)
            || (!response && an > 0)
            || flags & 0x0040 != 0
        {
            return false;
        }
        r.name().is_ok() && r.u16("").is_ok() && r.u16("").is_ok()
    }
}

/// Cuts a TCP stream into DNS messages (RFC 1035 4.2.2: a two-byte length, then the message).
#[derive(Debug, Default)]
pub struct DnsTcpFramer {
    buf: Vec<u8>,
    lost: bool,
}

impl DnsTcpFramer {
    /// Adds stream bytes; calls `on_message` for every complete message.
    pub fn feed(&mut self, mut data: &[u8], on_message: &mut dyn FnMut(&[u8])) {
        if self.lost {
            return;
        }
        // Whole messages straight from `data` when nothing is buffered.
        while self.buf.is_empty() && data.len() >= 2 {
            let len = usize::from(u16::from_be_bytes([data[0], data[1]]));
            if data.len() < 2 + len {
                break;
            }
            on_message(&data[2..2 + len]);
            data = &data[2 + len..];
        }
        self.buf.extend_from_slice(data);
        loop {
            if self.buf.len() < 2 {
                return;
            }
            let len = usize::from(u16::from_be_bytes([self.buf[0], self.buf[1]]));
            if self.buf.len() < 2 + len {
                return;
            }
            on_message(&self.buf[2..2 + len]);
            self.buf.drain(..2 + len);
        }
    }

    /// Bytes were lost: message boundaries are no longer known, so framing stops.
    pub fn gap(&mut self) {
        self.lost = true;
        self.buf.clear();
    }

    /// Whether a gap stopped framing.
    pub fn is_lost(&self) -> bool {
        self.lost
    }
}

/// One DNS transaction: one message, a request or a response (Suricata 7's model).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsTx {
    /// Position in the connection, from 0 (Suricata's `tx_id`).
    pub id: u64,
    /// The request, if seen.
    pub request: Option<DnsMessage>,
    /// The response, if seen.
    pub response: Option<DnsMessage>,
}

impl DnsTx {
    /// The names asked about (the `dns.query` buffers), from the request, else the response.
    pub fn query_names(&self) -> impl Iterator<Item = &[u8]> {
        self.request
            .as_ref()
            .or(self.response.as_ref())
            .into_iter()
            .flat_map(|m| m.questions.iter().map(|q| q.name.value.as_slice()))
    }
}

/// The DNS transactions of one connection (one UDP flow or one TCP connection).
#[derive(Debug, Default)]
pub struct DnsState {
    txs: VecDeque<DnsTx>,
    next_id: u64,
    framers: [DnsTcpFramer; 2],
    /// Messages that did not parse.
    pub malformed: u64,
}

/// Transactions kept before the oldest are dropped unanswered.
const MAX_DNS_TXS: usize = 256;

impl DnsState {
    /// Takes one message travelling in `direction` and returns its transaction's id. As in
    /// Suricata 7, every message is a transaction of its own: a request's carries the request,
    /// a response's the response (so a flow's second query is transaction 2, after the first
    /// query and its answer).
    pub fn on_message(&mut self, direction: Direction, data: &[u8]) -> Result<u64, DnsError> {
        let msg = DnsMessage::parse(data).inspect_err(|_| self.malformed += 1)?;
        let is_response = msg.header.is_response() || direction == Direction::ToClient;
        if self.txs.len() >= MAX_DNS_TXS {
            self.txs.pop_front();
        }
        let id = self.next_id;
        self.next_id += 1;
        let (request, response) = if is_response {
            (None, Some(msg))
        } else {
            (Some(msg), None)
        };
        self.txs.push_back(DnsTx {
            id,
            request,
            response,
        });
        Ok(id)
    }

    /// Takes in-order TCP stream bytes of `direction`; returns the ids of transactions that
    /// changed.
    pub fn on_stream(&mut self, direction: Direction, data: &[u8], changed: &mut Vec<u64>) {
        let mut framer = std::mem::take(&mut self.framers[direction.index()]);
        framer.feed(data, &mut |msg| {
            if let Ok(id) = self.on_message(direction, msg) {
                changed.push(id);
            }
        });
        self.framers[direction.index()] = framer;
    }

    /// A gap in the TCP stream of `direction`.
    pub fn on_gap(&mut self, direction: Direction) {
        self.framers[direction.index()].gap();
    }

    /// The transactions held, oldest first.
    pub fn transactions(&self) -> impl Iterator<Item = &DnsTx> {
        self.txs.iter()
    }

    /// The transaction `id`, if held.
    pub fn tx(&self, id: u64) -> Option<&DnsTx> {
        self.txs.iter().find(|tx| tx.id == id)
    }

    /// Removes and returns the oldest transaction (after it was logged).
    pub fn pop(&mut self) -> Option<DnsTx> {
        self.txs.pop_front()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A message with the given question and answer sections (already encoded).
    pub(crate) fn message(id: u16, flags: u16, counts: [u16; 4], body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&flags.to_be_bytes());
        for c in counts {
            out.extend_from_slice(&c.to_be_bytes());
        }
        out.extend_from_slice(body);
        out
    }

    pub(crate) fn name(dotted: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for label in dotted.split('.').filter(|l| !l.is_empty()) {
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
        out.push(0);
        out
    }

    #[test]
    fn a_response_with_compression_and_common_types() {
        let mut body = name("www.example.com");
        body.extend_from_slice(&[0, 1, 0, 1]);
        // CNAME www -> host.example.com (host + pointer to "example.com" at offset 16).
        body.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 7, 4]);
        body.extend_from_slice(b"host");
        body.extend_from_slice(&[0xc0, 16]);
        // A for the CNAME target (pointer to its name in the previous rdata).
        let target = 12 + 17 + 4 + 12;
        body.extend_from_slice(&[
            0xc0,
            target as u8,
            0,
            1,
            0,
            1,
            0,
            0,
            1,
            0,
            0,
            4,
            192,
            0,
            2,
            7,
        ]);
        // MX and TXT and SRV under example.com.
        body.extend_from_slice(&[
            0xc0,
            16,
            0,
            15,
            0,
            1,
            0,
            0,
            0,
            1,
            0,
            4,
            0,
            10,
            0xc0,
            target as u8,
        ]);
        body.extend_from_slice(&[
            0xc0, 16, 0, 16, 0, 1, 0, 0, 0, 1, 0, 6, 2, b'h', b'i', 2, b'y', b'o',
        ]);
        body.extend_from_slice(&[
            0xc0,
            16,
            0,
            33,
            0,
            1,
            0,
            0,
            0,
            1,
            0,
            8,
            0,
            1,
            0,
            2,
            0,
            80,
            0xc0,
            target as u8,
        ]);
        let msg = message(0x1234, 0x8180, [1, 5, 0, 0], &body);
        let m = DnsMessage::parse(&msg).unwrap();
        assert!(m.header.is_response());
        assert_eq!(m.questions[0].name.value, b"www.example.com");
        assert_eq!(
            m.answers[0].data,
            DnsRData::Cname(DnsName {
                value: b"host.example.com".to_vec(),
                truncated: false
            })
        );
        assert_eq!(m.answers[1].name.value, b"host.example.com");
        assert_eq!(m.answers[1].data, DnsRData::A([192, 0, 2, 7]));
        assert_eq!(m.answers[1].ttl, 256);
        assert!(
            matches!(&m.answers[2].data, DnsRData::Mx { preference: 10, exchange } if exchange.value == b"host.example.com")
        );
        assert_eq!(
            m.answers[3].data,
            DnsRData::Txt(vec![b"hi".to_vec(), b"yo".to_vec()])
        );
        assert!(matches!(&m.answers[4].data, DnsRData::Srv { port: 80, .. }));
    }

    #[test]
    fn pointer_loops_and_forward_pointers_are_refused() {
        // A question whose name points at itself.
        let msg = message(1, 0, [1, 0, 0, 0], &[0xc0, 12, 0, 1, 0, 1]);
        assert_eq!(
            DnsMessage::parse(&msg),
            Err(DnsError::BadPointer { offset: 12 })
        );
        // Two labels pointing at each other: the second pointer is not strictly backwards.
        let msg = message(
            1,
            0,
            [1, 0, 0, 0],
            &[1, b'a', 0xc0, 16, 1, b'b', 0xc0, 12, 0, 1, 0, 1],
        );
        assert!(matches!(
            DnsMessage::parse(&msg),
            Err(DnsError::BadPointer { .. })
        ));
        let msg = message(1, 0, [1, 0, 0, 0], &[0x80, 0]);
        assert_eq!(
            DnsMessage::parse(&msg),
            Err(DnsError::BadLabel {
                offset: 12,
                label: 0x80
            })
        );
    }

    #[test]
    fn truncation_says_where() {
        let msg = message(1, 0, [1, 0, 0, 0], &name("a.b"));
        assert_eq!(
            DnsMessage::parse(&msg),
            Err(DnsError::Truncated {
                offset: 17,
                what: "question type"
            })
        );
        assert_eq!(
            DnsMessage::parse(&[0; 5]),
            Err(DnsError::Truncated {
                offset: 4,
                what: "question count"
            })
        );
        let err = DnsMessage::parse(&msg).unwrap_err().to_string();
        assert!(
            err.contains("byte 17") && err.contains("question type"),
            "{err}"
        );
    }

    #[test]
    fn long_names_are_cut_at_255() {
        let label = "a".repeat(63);
        let long = [label.as_str(); 5].join(".");
        let mut body = name(&long);
        body.extend_from_slice(&[0, 1, 0, 1]);
        let m = DnsMessage::parse(&message(1, 0, [1, 0, 0, 0], &body)).unwrap();
        assert_eq!(m.questions[0].name.value.len(), 255);
        assert!(m.questions[0].name.truncated);
    }

    #[test]
    fn tcp_framing_and_transactions() {
        let mut q = name("example.com");
        q.extend_from_slice(&[0, 1, 0, 1]);
        let query = message(7, 0x0100, [1, 0, 0, 0], &q);
        assert!(DnsMessage::probe_request(&query));
        let mut a = q.clone();
        a.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 0, 0, 1]);
        let answer = message(7, 0x8180, [1, 1, 0, 0], &a);
        assert!(!DnsMessage::probe_request(&answer));
        let mut stream = (query.len() as u16).to_be_bytes().to_vec();
        stream.extend_from_slice(&query);
        let mut state = DnsState::default();
        let mut changed = Vec::new();
        for piece in stream.chunks(3) {
            state.on_stream(Direction::ToServer, piece, &mut changed);
        }
        let mut reply = (answer.len() as u16).to_be_bytes().to_vec();
        reply.extend_from_slice(&answer);
        state.on_stream(Direction::ToClient, &reply, &mut changed);
        assert_eq!(
            changed,
            [0, 1],
            "the query and the answer are transactions of their own"
        );
        let query = state.pop().unwrap();
        assert_eq!(
            query.query_names().collect::<Vec<_>>(),
            [&b"example.com"[..]]
        );
        let answer = state.pop().unwrap();
        assert_eq!(
            answer.response.unwrap().answers[0].data,
            DnsRData::A([10, 0, 0, 1])
        );
        state.on_gap(Direction::ToServer);
        state.on_stream(Direction::ToServer, &stream, &mut changed);
        assert_eq!(changed.len(), 2, "no framing after a gap");
    }
}

#[cfg(test)]
mod properties {
    use super::tests::{message, name};
    use super::*;
    use proptest::prelude::*;

    fn dotted() -> impl Strategy<Value = String> {
        proptest::collection::vec("[a-z0-9-]{1,20}", 1..5).prop_map(|labels| labels.join("."))
    }

    proptest! {
        /// Any bytes: no panic, and whatever parses has names of at most 255 bytes.
        #[test]
        fn arbitrary_bytes_are_survived(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(msg) = DnsMessage::parse(&data) {
                for q in &msg.questions {
                    prop_assert!(q.name.value.len() <= 255);
                }
                for r in msg.answers.iter().chain(&msg.authorities).chain(&msg.additionals) {
                    prop_assert!(r.name.value.len() <= 255);
                }
            }
            let _ = DnsMessage::probe_request(&data);
        }

        /// A message built from names and records reads back the same, with answers whose
        /// owner is a compression pointer to the question.
        #[test]
        fn built_messages_read_back(
            id in any::<u16>(),
            qname in dotted(),
            addrs in proptest::collection::vec(any::<[u8; 4]>(), 0..5),
            texts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..3),
        ) {
            let mut body = name(&qname);
            body.extend_from_slice(&[0, 1, 0, 1]);
            for a in &addrs {
                body.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
                body.extend_from_slice(a);
            }
            for t in &texts {
                body.extend_from_slice(&[0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60]);
                body.extend_from_slice(&((t.len() + 1) as u16).to_be_bytes());
                body.push(t.len() as u8);
                body.extend_from_slice(t);
            }
            let count = (addrs.len() + texts.len()) as u16;
            let m = DnsMessage::parse(&message(id, 0x8180, [1, count, 0, 0], &body)).unwrap();
            prop_assert_eq!(m.header.id, id);
            prop_assert_eq!(&m.questions[0].name.value, qname.as_bytes());
            for (record, a) in m.answers.iter().zip(&addrs) {
                prop_assert_eq!(&record.name.value, qname.as_bytes());
                prop_assert_eq!(&record.data, &DnsRData::A(*a));
            }
            for (record, t) in m.answers[addrs.len()..].iter().zip(&texts) {
                prop_assert_eq!(&record.data, &DnsRData::Txt(vec![t.clone()]));
            }
        }
    }
}
