//! The event record: what the shim writes to the probe's FIFO for each reported call.
//!
//! One record is one `write` of at most [`MAX_RECORD`] bytes (`PIPE_BUF`), so the kernel never
//! interleaves two processes' records. The shim encodes into a stack buffer with
//! [`encode`], without allocating; strings longer than their cap are cut and flagged. The
//! probe reads the FIFO as a byte stream and splits it with [`next_record`], which never
//! trusts a length: the FIFO is writable by every process in the container, so a record may be
//! forged or garbage, and the stream must resynchronise after it.
//!
//! # Layout (little-endian)
//!
//! | bytes | field |
//! |---|---|
//! | 0..4 | magic `RMEV` |
//! | 4..6 | record length |
//! | 6, 7, 8, 9 | kind, verdict, action (0 allowed, 1 blocked), [`EventMode`] |
//! | 10, 11 | file access bits, truncation flags |
//! | 12..16, 16..20 | pid (in the process's pid namespace), uid |
//! | 20..24 | rule id (`u32::MAX`: the table's default or the fallback) |
//! | 24..32, 32..40 | policy generation, wall-clock time in ns since 1970 |
//! | 40..42, 42..44, 44..46 | errno returned, address family, port |
//! | 46..48 | path length |
//! | 48..64 | address (IPv4 in the first 4 bytes) |
//! | 64..72 | lengths of: resolved path, argument, executable, rule label |
//! | 72.. | path, resolved path, argument, executable, rule label |

use crate::{Kind, Verdict};

/// The most bytes one record may take: `PIPE_BUF` on Linux.
pub const MAX_RECORD: usize = 4096;
/// Fixed part of a record.
pub const RECORD_HEADER: usize = 72;
/// Magic bytes at the start of every record.
pub const RECORD_MAGIC: [u8; 4] = *b"RMEV";

/// Caps on each string: path, resolved path, argument, executable, rule label. Their sum and
/// the header fit in [`MAX_RECORD`].
pub const CAPS: [usize; 5] = [1536, 1536, 256, 256, 256];

/// Truncation flag bits, one per string in [`CAPS`] order.
pub const TRUNCATED_PATH: u8 = 1;
/// The resolved path was cut.
pub const TRUNCATED_RESOLVED: u8 = 2;
/// The argument (argv0, or the command line) was cut.
pub const TRUNCATED_ARG: u8 = 4;
/// The executable path was cut.
pub const TRUNCATED_EXE: u8 = 8;
/// The rule label was cut.
pub const TRUNCATED_LABEL: u8 = 16;

/// Under which regime a call was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EventMode {
    /// Enforce mode: a deny was carried out.
    Enforce = 1,
    /// Audit mode: reported, nothing blocked.
    Audit = 2,
    /// No readable policy: the fallback decided.
    Fallback = 3,
}

impl EventMode {
    /// The mode from its byte, if valid.
    pub fn from_u8(b: u8) -> Option<EventMode> {
        match b {
            1 => Some(EventMode::Enforce),
            2 => Some(EventMode::Audit),
            3 => Some(EventMode::Fallback),
            _ => None,
        }
    }

    /// `"enforce"`, `"audit"` or `"fallback"`.
    pub fn name(self) -> &'static str {
        match self {
            EventMode::Enforce => "enforce",
            EventMode::Audit => "audit",
            EventMode::Fallback => "fallback",
        }
    }
}

/// The fixed fields of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHead {
    /// What the call was.
    pub kind: Kind,
    /// What the policy said.
    pub verdict: Verdict,
    /// Whether the call was made to fail.
    pub blocked: bool,
    /// Under which regime.
    pub mode: EventMode,
    /// File access bits ([`crate::Access`]), 0 for other kinds.
    pub access: u8,
    /// Process id in its own pid namespace.
    pub pid: i32,
    /// Real user id.
    pub uid: u32,
    /// Deciding rule id, or `u32::MAX`.
    pub rule: u32,
    /// Policy generation (0 when no policy was mapped).
    pub generation: u64,
    /// Wall-clock time, ns since 1970.
    pub time_ns: u64,
    /// errno the call returned when blocked, else 0.
    pub errno: u16,
    /// Address family of a connect, else 0.
    pub family: u16,
    /// Port of a connect, else 0.
    pub port: u16,
    /// Address of a connect (IPv4 in the first 4 bytes).
    pub addr: [u8; 16],
}

/// The variable fields of a record, in layout order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecordStrings<'a> {
    /// The path as written and normalised (file, program, Unix socket).
    pub path: &'a [u8],
    /// The path after symbolic links, when it differs.
    pub resolved: &'a [u8],
    /// `argv[0]` of an execution.
    pub arg: &'a [u8],
    /// The calling process's executable.
    pub exe: &'a [u8],
    /// The deciding rule's text.
    pub label: &'a [u8],
}

/// Encodes one record into `buf`; returns its length. Never allocates; strings over their cap
/// are cut and flagged.
pub fn encode(buf: &mut [u8; MAX_RECORD], head: &RecordHead, strings: &RecordStrings<'_>) -> usize {
    let fields = [
        strings.path,
        strings.resolved,
        strings.arg,
        strings.exe,
        strings.label,
    ];
    let mut flags = 0u8;
    let mut at = RECORD_HEADER;
    let mut lens = [0u16; 5];
    for (i, s) in fields.iter().enumerate() {
        let n = s.len().min(CAPS[i]);
        if n < s.len() {
            flags |= 1 << i;
        }
        buf[at..at + n].copy_from_slice(&s[..n]);
        lens[i] = n as u16;
        at += n;
    }
    buf[0..4].copy_from_slice(&RECORD_MAGIC);
    buf[4..6].copy_from_slice(&(at as u16).to_le_bytes());
    buf[6] = head.kind as u8;
    buf[7] = head.verdict as u8;
    buf[8] = u8::from(head.blocked);
    buf[9] = head.mode as u8;
    buf[10] = head.access;
    buf[11] = flags;
    buf[12..16].copy_from_slice(&head.pid.to_le_bytes());
    buf[16..20].copy_from_slice(&head.uid.to_le_bytes());
    buf[20..24].copy_from_slice(&head.rule.to_le_bytes());
    buf[24..32].copy_from_slice(&head.generation.to_le_bytes());
    buf[32..40].copy_from_slice(&head.time_ns.to_le_bytes());
    buf[40..42].copy_from_slice(&head.errno.to_le_bytes());
    buf[42..44].copy_from_slice(&head.family.to_le_bytes());
    buf[44..46].copy_from_slice(&head.port.to_le_bytes());
    buf[46..48].copy_from_slice(&lens[0].to_le_bytes());
    buf[48..64].copy_from_slice(&head.addr);
    for (i, len) in lens[1..].iter().enumerate() {
        buf[64 + 2 * i..66 + 2 * i].copy_from_slice(&len.to_le_bytes());
    }
    at
}

/// Why bytes are not a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordError {
    /// Fewer bytes than the header or the stated length.
    Truncated,
    /// Not [`RECORD_MAGIC`].
    BadMagic,
    /// Length below the header, above [`MAX_RECORD`], or not the sum of the strings.
    BadLength,
    /// Kind, verdict, action or mode out of range.
    BadField,
    /// A string longer than its cap.
    StringTooLong,
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RecordError::Truncated => "record truncated",
            RecordError::BadMagic => "bad record magic",
            RecordError::BadLength => "record length inconsistent",
            RecordError::BadField => "record field out of range",
            RecordError::StringTooLong => "record string over its cap",
        })
    }
}

impl std::error::Error for RecordError {}

/// A checked view of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRecord<'a> {
    bytes: &'a [u8],
    head: RecordHead,
    lens: [usize; 5],
    flags: u8,
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

impl<'a> EventRecord<'a> {
    /// Checks the record at the start of `bytes` (which may hold more after it).
    pub fn new_checked(bytes: &'a [u8]) -> Result<Self, RecordError> {
        if bytes.len() < 4 {
            return Err(RecordError::Truncated);
        }
        if bytes[..4] != RECORD_MAGIC {
            return Err(RecordError::BadMagic);
        }
        if bytes.len() < RECORD_HEADER {
            return Err(RecordError::Truncated);
        }
        let len = usize::from(le16(bytes, 4));
        if !(RECORD_HEADER..=MAX_RECORD).contains(&len) {
            return Err(RecordError::BadLength);
        }
        let lens = [
            usize::from(le16(bytes, 46)),
            usize::from(le16(bytes, 64)),
            usize::from(le16(bytes, 66)),
            usize::from(le16(bytes, 68)),
            usize::from(le16(bytes, 70)),
        ];
        if lens.iter().zip(CAPS).any(|(l, cap)| *l > cap) {
            return Err(RecordError::StringTooLong);
        }
        if RECORD_HEADER + lens.iter().sum::<usize>() != len {
            return Err(RecordError::BadLength);
        }
        if bytes.len() < len {
            return Err(RecordError::Truncated);
        }
        let (Some(kind), Some(verdict), Some(mode)) = (
            Kind::from_u8(bytes[6]),
            Verdict::from_u8(bytes[7]),
            EventMode::from_u8(bytes[9]),
        ) else {
            return Err(RecordError::BadField);
        };
        if bytes[8] > 1 {
            return Err(RecordError::BadField);
        }
        let mut addr = [0u8; 16];
        addr.copy_from_slice(&bytes[48..64]);
        let head = RecordHead {
            kind,
            verdict,
            blocked: bytes[8] == 1,
            mode,
            access: bytes[10],
            pid: le32(bytes, 12) as i32,
            uid: le32(bytes, 16),
            rule: le32(bytes, 20),
            generation: le64(bytes, 24),
            time_ns: le64(bytes, 32),
            errno: le16(bytes, 40),
            family: le16(bytes, 42),
            port: le16(bytes, 44),
            addr,
        };
        Ok(EventRecord {
            bytes: &bytes[..len],
            head,
            lens,
            flags: bytes[11],
        })
    }

    /// The record's length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Never true: a record holds at least its header.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The fixed fields.
    pub fn head(&self) -> &RecordHead {
        &self.head
    }

    /// Truncation flags (`TRUNCATED_*`).
    pub fn truncated(&self) -> u8 {
        self.flags
    }

    /// The strings.
    pub fn strings(&self) -> RecordStrings<'a> {
        let mut at = RECORD_HEADER;
        let mut take = |n: usize| {
            let s = &self.bytes[at..at + n];
            at += n;
            s
        };
        RecordStrings {
            path: take(self.lens[0]),
            resolved: take(self.lens[1]),
            arg: take(self.lens[2]),
            exe: take(self.lens[3]),
            label: take(self.lens[4]),
        }
    }
}

/// What lies at the start of a stream buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next<'a> {
    /// A whole record; consume `record.len()` bytes.
    Record(EventRecord<'a>),
    /// Bytes that are not a record: consume this many (at least one) and try again.
    Garbage(usize),
    /// The start of what may be a record: wait for more bytes.
    NeedMore,
}

/// Looks at the start of a stream buffer. Every byte is eventually consumed as a record or as
/// garbage: a bad record costs its magic, and the search resumes after it.
pub fn next_record(buf: &[u8]) -> Next<'_> {
    if buf.is_empty() {
        return Next::NeedMore;
    }
    if buf.len() < RECORD_MAGIC.len() {
        return if RECORD_MAGIC.starts_with(buf) {
            Next::NeedMore
        } else {
            Next::Garbage(1)
        };
    }
    match EventRecord::new_checked(buf) {
        Ok(r) => Next::Record(r),
        Err(RecordError::Truncated) => Next::NeedMore,
        Err(RecordError::BadMagic) => {
            // Skip to the next place the magic could start.
            let skip = buf[1..]
                .windows(4)
                .position(|w| w == RECORD_MAGIC)
                .map_or_else(|| resync_tail(buf), |i| i + 1);
            Next::Garbage(skip)
        }
        Err(_) => Next::Garbage(RECORD_MAGIC.len()),
    }
}

/// With no magic in `buf[1..]`: how many bytes to drop, keeping a tail that may be the start
/// of a magic.
fn resync_tail(buf: &[u8]) -> usize {
    for keep in (1..4.min(buf.len())).rev() {
        let tail = &buf[buf.len() - keep..];
        if RECORD_MAGIC.starts_with(tail) {
            return buf.len() - keep;
        }
    }
    buf.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn head() -> RecordHead {
        RecordHead {
            kind: Kind::File,
            verdict: Verdict::Deny,
            blocked: true,
            mode: EventMode::Enforce,
            access: 1,
            pid: 42,
            uid: 1000,
            rule: 3,
            generation: 9,
            time_ns: 1_795_459_920_000_000_000,
            errno: libc::EACCES as u16,
            family: 0,
            port: 0,
            addr: [0; 16],
        }
    }

    #[test]
    fn round_trip() {
        let mut buf = [0u8; MAX_RECORD];
        let strings = RecordStrings {
            path: b"/etc/shadow",
            resolved: b"",
            arg: b"",
            exe: b"/usr/bin/cat",
            label: b"files.deny[0] /etc/shadow",
        };
        let n = encode(&mut buf, &head(), &strings);
        let r = EventRecord::new_checked(&buf[..n]).unwrap();
        assert_eq!(r.len(), n);
        assert_eq!(*r.head(), head());
        assert_eq!(r.strings(), strings);
        assert_eq!(r.truncated(), 0);
        for cut in 0..n {
            assert_eq!(
                EventRecord::new_checked(&buf[..cut]).unwrap_err(),
                RecordError::Truncated,
                "cut at {cut}"
            );
            assert_eq!(next_record(&buf[..cut]), Next::NeedMore, "cut at {cut}");
        }
    }

    #[test]
    fn long_strings_are_cut_and_flagged() {
        let mut buf = [0u8; MAX_RECORD];
        let long = vec![b'a'; 5000];
        let strings = RecordStrings {
            path: &long,
            resolved: &long,
            arg: &long,
            exe: &long,
            label: &long,
        };
        let n = encode(&mut buf, &head(), &strings);
        assert!(n <= MAX_RECORD);
        let r = EventRecord::new_checked(&buf[..n]).unwrap();
        assert_eq!(r.truncated(), 0b11111);
        assert_eq!(r.strings().path.len(), CAPS[0]);
    }

    #[test]
    fn a_stream_resynchronises_after_garbage() {
        let mut buf = [0u8; MAX_RECORD];
        let n = encode(
            &mut buf,
            &head(),
            &RecordStrings {
                path: b"/x",
                ..Default::default()
            },
        );
        let record = buf[..n].to_vec();
        let mut stream = b"junkRM".to_vec();
        stream.extend_from_slice(&record);
        let mut forged = record.clone();
        forged[4] = 0xff; // a length that does not add up
        stream.extend_from_slice(&forged);
        stream.extend_from_slice(&record);
        let mut records = 0;
        let mut at = 0;
        while at < stream.len() {
            match next_record(&stream[at..]) {
                Next::Record(r) => {
                    assert_eq!(r.strings().path, b"/x");
                    records += 1;
                    at += r.len();
                }
                Next::Garbage(k) => at += k,
                Next::NeedMore => break,
            }
        }
        assert_eq!((records, at), (2, stream.len()));
    }

    proptest! {
        #[test]
        fn any_stream_is_consumed_without_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut at = 0;
            loop {
                match next_record(&data[at..]) {
                    Next::Record(r) => { prop_assert!(r.len() >= RECORD_HEADER); at += r.len(); }
                    Next::Garbage(k) => { prop_assert!(k >= 1); at += k; }
                    Next::NeedMore => break,
                }
            }
            prop_assert!(at <= data.len());
        }
    }
}
