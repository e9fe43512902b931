//! The compiled policy image: its layout, the checked view the shim puts over a mapped file, and
//! the lookups the hooks run.
//!
//! The image is flat and position-independent (offsets, never pointers), little-endian, and is
//! never written in place: the probe writes a new file and renames it over the old one, so a
//! mapping always sees one whole image. [`PolicyImage::new_checked`] validates every offset,
//! count and index once, when the shim maps the file; after that no lookup can read out of
//! bounds or loop, whatever the bytes were. Lookups never allocate.
//!
//! # Layout
//!
//! A [`HEADER_LEN`]-byte header (see [`field`]) followed by sections, each an array of
//! fixed-size little-endian records:
//!
//! | section | record | what |
//! |---|---|---|
//! | strings | bytes | patterns, segment names, rule labels |
//! | nodes | 16 B: edge start, edge count, rule start, rule count | the path tries (files, exec) |
//! | edges | 12 B: name offset, name length, child node | a node's children, sorted by name |
//! | rules | 20 B: pattern, argv0 pattern, rule id, lengths, effect, access, kind | rules anchored at a node |
//! | labels | 8 B: offset, length | a rule's text by rule id, for events |
//! | net4 | 16 B: address, prefix, effect, port range, rule id | IPv4 rules |
//! | net6 | 28 B: address, prefix, effect, port range, rule id | IPv6 rules |
//! | unix | 12 B: pattern, effect, rule id | Unix socket path rules |
//! | family | 8 B: address family, effect, rule id | rules on a whole address family |
//!
//! # The path tries and the precomputed answers
//!
//! A path rule is anchored at the node of its longest literal prefix of whole segments
//! (`/etc/ssh/*_key` at `/etc/ssh`, `/etc/shadow` at `/etc/shadow`) and keeps the rest of its
//! pattern to match against the rest of the path. A lookup walks the trie one path segment at a
//! time, trying the rules anchored at each node it passes, and stops at the first segment with
//! no child: a path outside every rule's prefix (`/usr/lib/...` against rules under `/etc`)
//! costs one failed child search at the root. Deny wins: the walk stops at the first matching
//! deny rule.
//!
//! For each access (files), for exec, and for each address family (network), the header also
//! holds the answer when no rule can change it, whatever the path or address: then the shim
//! decides without looking at the path at all, and no symbolic-link resolution can matter.

use crate::{Access, Effect, Mode, Verdict, glob};

/// The image's magic bytes.
pub const MAGIC: [u8; 8] = *b"RMPOLICY";
/// The layout version this crate reads and writes.
pub const VERSION: u32 = 1;
/// The header's length in bytes.
pub const HEADER_LEN: usize = 144;
/// A node index meaning "no trie" (no rules in the table).
pub const NO_NODE: u32 = u32::MAX;
/// The rule id of a decision taken by a table's default (no rule matched).
pub const NO_RULE: u32 = u32::MAX;

/// Byte positions of the header fields.
pub mod field {
    use std::ops::Range;
    /// `b"RMPOLICY"`.
    pub const MAGIC: Range<usize> = 0..8;
    /// Layout version, u32.
    pub const VERSION: Range<usize> = 8..12;
    /// Header length, u32.
    pub const HEADER_LEN: Range<usize> = 12..16;
    /// Length of the whole image, u32.
    pub const TOTAL_LEN: Range<usize> = 16..20;
    /// Reserved flags, u32, zero.
    pub const FLAGS: Range<usize> = 20..24;
    /// The policy generation, u64: the probe's counter, also in the control page.
    pub const GENERATION: Range<usize> = 24..32;
    /// [`crate::Mode`], u8.
    pub const MODE: usize = 32;
    /// Default effect of the files table, u8.
    pub const FILE_DEFAULT: usize = 33;
    /// Default effect of the exec table, u8.
    pub const EXEC_DEFAULT: usize = 34;
    /// Default effect of the network table, u8.
    pub const NET_DEFAULT: usize = 35;
    /// errno of a denied execution, u16.
    pub const EXEC_ERRNO: Range<usize> = 36..38;
    /// errno of a denied open, u16.
    pub const FILE_ERRNO: Range<usize> = 38..40;
    /// errno of a denied connect, u16.
    pub const NET_ERRNO: Range<usize> = 40..42;
    /// Allowed calls reported per second per process in audit mode, u32.
    pub const AUDIT_RATE: Range<usize> = 44..48;
    /// One [`super::Uniform`] byte per access set 0..8.
    pub const FILE_UNIFORM: Range<usize> = 48..56;
    /// [`super::Uniform`] of the exec table.
    pub const EXEC_UNIFORM: usize = 56;
    /// [`super::Uniform`] per [`super::FamilyClass`]: inet, inet6, unix, other.
    pub const NET_UNIFORM: Range<usize> = 57..61;
    /// Root node of the files trie, u32 ([`super::NO_NODE`] if none).
    pub const FILE_ROOT: Range<usize> = 64..68;
    /// Root node of the exec trie, u32.
    pub const EXEC_ROOT: Range<usize> = 68..72;
    /// Nine (offset u32, count u32) pairs, in [`super::Section`] order.
    pub const SECTIONS: Range<usize> = 72..144;
}

/// The sections, in the order of their entries in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Section {
    /// Bytes.
    Strings = 0,
    /// Trie nodes.
    Nodes,
    /// Trie edges.
    Edges,
    /// Path rules.
    Rules,
    /// Rule labels by id.
    Labels,
    /// IPv4 rules.
    Net4,
    /// IPv6 rules.
    Net6,
    /// Unix socket rules.
    Unix,
    /// Address-family rules.
    Family,
}

impl Section {
    /// Every section, in header order.
    pub const ALL: [Section; 9] = [
        Section::Strings,
        Section::Nodes,
        Section::Edges,
        Section::Rules,
        Section::Labels,
        Section::Net4,
        Section::Net6,
        Section::Unix,
        Section::Family,
    ];

    /// Size of one record (1 for strings).
    pub const fn record_len(self) -> usize {
        match self {
            Section::Strings => 1,
            Section::Nodes => 16,
            Section::Edges => 12,
            Section::Rules => 20,
            Section::Labels => 8,
            Section::Net4 => 16,
            Section::Net6 => 28,
            Section::Unix => 12,
            Section::Family => 8,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Section::Strings => "strings",
            Section::Nodes => "nodes",
            Section::Edges => "edges",
            Section::Rules => "rules",
            Section::Labels => "labels",
            Section::Net4 => "net4",
            Section::Net6 => "net6",
            Section::Unix => "unix",
            Section::Family => "family",
        }
    }
}

/// A precomputed answer: whether a table's decision can depend on the path or address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Uniform {
    /// Rules may apply: look at the path (or address).
    Depends = 0,
    /// Every call is allowed, whatever the path.
    Allow = 1,
    /// Every call is denied, whatever the path.
    Deny = 2,
}

impl Uniform {
    /// The answer from its byte, if valid.
    pub fn from_u8(b: u8) -> Option<Uniform> {
        match b {
            0 => Some(Uniform::Depends),
            1 => Some(Uniform::Allow),
            2 => Some(Uniform::Deny),
            _ => None,
        }
    }

    /// The verdict, when it does not depend on the path.
    pub fn verdict(self) -> Option<Verdict> {
        match self {
            Uniform::Depends => None,
            Uniform::Allow => Some(Verdict::Allow),
            Uniform::Deny => Some(Verdict::Deny),
        }
    }
}

/// The network table's classes of address family, each with its own precomputed answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum FamilyClass {
    /// `AF_INET`.
    Inet = 0,
    /// `AF_INET6` (IPv4 rules also apply to v4-mapped addresses).
    Inet6 = 1,
    /// `AF_UNIX`.
    Unix = 2,
    /// Any other family (netlink, packet, vsock, ...).
    Other = 3,
}

impl FamilyClass {
    /// The class of a `sa_family` value.
    pub fn of(family: u16) -> FamilyClass {
        match i32::from(family) {
            libc::AF_INET => FamilyClass::Inet,
            libc::AF_INET6 => FamilyClass::Inet6,
            libc::AF_UNIX => FamilyClass::Unix,
            _ => FamilyClass::Other,
        }
    }
}

/// How an anchored rule matches the rest of the path below its node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RuleKind {
    /// The pattern's rest is a glob, matched with [`glob::matches`].
    Glob = 0,
    /// The path must end at the node (the pattern was all literal).
    End = 1,
    /// The rest is `**`: the node and everything below it.
    Any = 2,
}

/// The target of a `connect`, decoded from the caller's `sockaddr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectTarget<'a> {
    /// An IPv4 address and port.
    Inet {
        /// Address bytes in network order.
        addr: [u8; 4],
        /// Port in host order.
        port: u16,
    },
    /// An IPv6 address and port (a v4-mapped address is matched by IPv4 rules too).
    Inet6 {
        /// Address bytes in network order.
        addr: [u8; 16],
        /// Port in host order.
        port: u16,
    },
    /// A Unix socket: a normalised absolute path, or `@name` for an abstract socket.
    Unix(&'a [u8]),
    /// Any other family.
    Other(u16),
}

impl ConnectTarget<'_> {
    /// The address family class.
    pub fn class(&self) -> FamilyClass {
        match self {
            ConnectTarget::Inet { .. } => FamilyClass::Inet,
            ConnectTarget::Inet6 { .. } => FamilyClass::Inet6,
            ConnectTarget::Unix(_) => FamilyClass::Unix,
            ConnectTarget::Other(_) => FamilyClass::Other,
        }
    }

    /// The `sa_family` value.
    pub fn family(&self) -> u16 {
        match self {
            ConnectTarget::Inet { .. } => libc::AF_INET as u16,
            ConnectTarget::Inet6 { .. } => libc::AF_INET6 as u16,
            ConnectTarget::Unix(_) => libc::AF_UNIX as u16,
            ConnectTarget::Other(f) => *f,
        }
    }
}

/// A decision and the rule that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Allow or deny.
    pub verdict: Verdict,
    /// The deciding rule's id, or [`NO_RULE`] when the table's default decided.
    pub rule: u32,
}

impl Decision {
    fn default_of(verdict: Verdict) -> Decision {
        Decision {
            verdict,
            rule: NO_RULE,
        }
    }
}

/// Why bytes are not a policy image. Each names the offending section or field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageError {
    /// Shorter than the header.
    Truncated {
        /// Bytes available.
        len: usize,
    },
    /// Not [`MAGIC`].
    BadMagic,
    /// A version this build cannot read.
    Version(u32),
    /// A header field out of range.
    Header(&'static str),
    /// The header's total length is not the file's length.
    Length {
        /// From the header.
        header: u32,
        /// Of the bytes.
        actual: usize,
    },
    /// A section, or a record in it, points outside the image or at a missing record.
    Section {
        /// Section name.
        section: &'static str,
        /// Record index (0 for the section itself).
        index: usize,
        /// What is wrong.
        what: &'static str,
    },
}

impl std::fmt::Display for ImageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImageError::Truncated { len } => {
                write!(
                    f,
                    "policy image truncated: {len} bytes, header needs {HEADER_LEN}"
                )
            }
            ImageError::BadMagic => f.write_str("not a Rampart policy image (bad magic)"),
            ImageError::Version(v) => {
                write!(f, "policy image version {v}, this build reads {VERSION}")
            }
            ImageError::Header(what) => write!(f, "policy image header: bad {what}"),
            ImageError::Length { header, actual } => write!(
                f,
                "policy image length {actual} differs from its header's {header}"
            ),
            ImageError::Section {
                section,
                index,
                what,
            } => write!(f, "policy image section {section}, record {index}: {what}"),
        }
    }
}

impl std::error::Error for ImageError {}

#[inline]
fn le16(b: &[u8], at: usize) -> u16 {
    b.get(at..)
        .and_then(|s| s.first_chunk::<2>())
        .map_or(0, |c| u16::from_le_bytes(*c))
}

#[inline]
fn le32(b: &[u8], at: usize) -> u32 {
    b.get(at..)
        .and_then(|s| s.first_chunk::<4>())
        .map_or(0, |c| u32::from_le_bytes(*c))
}

#[inline]
fn le64(b: &[u8], at: usize) -> u64 {
    b.get(at..)
        .and_then(|s| s.first_chunk::<8>())
        .map_or(0, |c| u64::from_le_bytes(*c))
}

/// A section's place: byte offset and record count.
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    off: usize,
    count: usize,
}

/// A checked view over a policy image. Every accessor and lookup is total: after
/// [`new_checked`](Self::new_checked) succeeded nothing can read out of bounds, and even a
/// lookup on inconsistent records (which `new_checked` refuses) would only miss, not panic.
#[derive(Debug, Clone, Copy)]
pub struct PolicyImage<'a> {
    bytes: &'a [u8],
    spans: [Span; 9],
}

/// One path rule, read out of the rules section.
#[derive(Debug, Clone, Copy)]
struct PathRuleRef<'a> {
    pattern: &'a [u8],
    argv0: Option<&'a [u8]>,
    id: u32,
    effect: Effect,
    access: Access,
    kind: RuleKind,
}

impl<'a> PolicyImage<'a> {
    /// Validates the header, every section's bounds and every record's references.
    pub fn new_checked(bytes: &'a [u8]) -> Result<PolicyImage<'a>, ImageError> {
        if bytes.len() < HEADER_LEN {
            return Err(ImageError::Truncated { len: bytes.len() });
        }
        if bytes[field::MAGIC] != MAGIC {
            return Err(ImageError::BadMagic);
        }
        let version = le32(bytes, field::VERSION.start);
        if version != VERSION {
            return Err(ImageError::Version(version));
        }
        if le32(bytes, field::HEADER_LEN.start) as usize != HEADER_LEN {
            return Err(ImageError::Header("header length"));
        }
        let total = le32(bytes, field::TOTAL_LEN.start);
        if total as usize != bytes.len() {
            return Err(ImageError::Length {
                header: total,
                actual: bytes.len(),
            });
        }
        if Mode::from_u8(bytes[field::MODE]).is_none() {
            return Err(ImageError::Header("mode"));
        }
        for (at, what) in [
            (field::FILE_DEFAULT, "files default"),
            (field::EXEC_DEFAULT, "exec default"),
            (field::NET_DEFAULT, "network default"),
        ] {
            if Verdict::from_u8(bytes[at]).is_none() {
                return Err(ImageError::Header(what));
            }
        }
        let uniform = bytes[field::FILE_UNIFORM]
            .iter()
            .chain(&bytes[field::NET_UNIFORM])
            .chain([&bytes[field::EXEC_UNIFORM]]);
        for &u in uniform {
            if Uniform::from_u8(u).is_none() {
                return Err(ImageError::Header("precomputed answer"));
            }
        }
        let mut spans = [Span::default(); 9];
        for (i, section) in Section::ALL.into_iter().enumerate() {
            let at = field::SECTIONS.start + 8 * i;
            let off = le32(bytes, at) as usize;
            let count = le32(bytes, at + 4) as usize;
            let end = count
                .checked_mul(section.record_len())
                .and_then(|n| n.checked_add(off));
            if off < HEADER_LEN || end.is_none_or(|e| e > bytes.len()) {
                return Err(ImageError::Section {
                    section: section.name(),
                    index: 0,
                    what: "outside the image",
                });
            }
            spans[i] = Span { off, count };
        }
        let image = PolicyImage { bytes, spans };
        image.check_records()?;
        Ok(image)
    }

    fn check_records(&self) -> Result<(), ImageError> {
        let err = |section: Section, index: usize, what: &'static str| ImageError::Section {
            section: section.name(),
            index,
            what,
        };
        let strings = self.spans[Section::Strings as usize].count;
        let in_strings = |off: u32, len: usize| (off as usize).saturating_add(len) <= strings;
        let nodes = self.count(Section::Nodes);
        let edges = self.count(Section::Edges);
        let rules = self.count(Section::Rules);
        let labels = self.count(Section::Labels);
        for root in [self.file_root(), self.exec_root()] {
            if root != NO_NODE && root as usize >= nodes {
                return Err(ImageError::Header("trie root"));
            }
        }
        for i in 0..nodes {
            let r = self.record(Section::Nodes, i);
            let (es, ec, rs, rc) = (le32(r, 0), le32(r, 4), le32(r, 8), le32(r, 12));
            if (es as usize).saturating_add(ec as usize) > edges {
                return Err(err(Section::Nodes, i, "edges out of range"));
            }
            if (rs as usize).saturating_add(rc as usize) > rules {
                return Err(err(Section::Nodes, i, "rules out of range"));
            }
        }
        for i in 0..edges {
            let r = self.record(Section::Edges, i);
            if !in_strings(le32(r, 0), le32(r, 4) as usize) {
                return Err(err(Section::Edges, i, "name outside the strings"));
            }
            if le32(r, 8) as usize >= nodes {
                return Err(err(Section::Edges, i, "child out of range"));
            }
        }
        for i in 0..rules {
            let r = self.record(Section::Rules, i);
            if !in_strings(le32(r, 0), usize::from(le16(r, 12)))
                || !in_strings(le32(r, 4), usize::from(le16(r, 14)))
            {
                return Err(err(Section::Rules, i, "pattern outside the strings"));
            }
            if le32(r, 8) as usize >= labels {
                return Err(err(Section::Rules, i, "rule id without a label"));
            }
            if Verdict::from_u8(r[16]).is_none() || r[18] > RuleKind::Any as u8 {
                return Err(err(Section::Rules, i, "bad effect or kind"));
            }
        }
        for i in 0..labels {
            let r = self.record(Section::Labels, i);
            if !in_strings(le32(r, 0), le32(r, 4) as usize) {
                return Err(err(Section::Labels, i, "label outside the strings"));
            }
        }
        for (section, prefix_at, addr_bits, effect_at, id_at) in [
            (Section::Net4, 4, 32, 5, 12),
            (Section::Net6, 16, 128, 17, 24),
        ] {
            for i in 0..self.count(section) {
                let r = self.record(section, i);
                if u32::from(r[prefix_at]) > addr_bits || Verdict::from_u8(r[effect_at]).is_none() {
                    return Err(err(section, i, "bad prefix or effect"));
                }
                if le32(r, id_at) as usize >= labels {
                    return Err(err(section, i, "rule id without a label"));
                }
            }
        }
        for i in 0..self.count(Section::Unix) {
            let r = self.record(Section::Unix, i);
            if !in_strings(le32(r, 0), usize::from(le16(r, 4)))
                || Verdict::from_u8(r[6]).is_none()
                || le32(r, 8) as usize >= labels
            {
                return Err(err(Section::Unix, i, "bad pattern, effect or rule id"));
            }
        }
        for i in 0..self.count(Section::Family) {
            let r = self.record(Section::Family, i);
            if Verdict::from_u8(r[2]).is_none() || le32(r, 4) as usize >= labels {
                return Err(err(Section::Family, i, "bad effect or rule id"));
            }
        }
        Ok(())
    }

    fn count(&self, section: Section) -> usize {
        self.spans[section as usize].count
    }

    /// Record `i` of a section; empty if out of range (never, after validation).
    #[inline]
    fn record(&self, section: Section, i: usize) -> &'a [u8] {
        let span = self.spans[section as usize];
        if i >= span.count {
            return &[];
        }
        let len = section.record_len();
        let at = span.off + i * len;
        self.bytes.get(at..at + len).unwrap_or(&[])
    }

    #[inline]
    fn string(&self, off: u32, len: usize) -> &'a [u8] {
        let base = self.spans[Section::Strings as usize].off;
        let start = base.saturating_add(off as usize);
        self.bytes
            .get(start..start.saturating_add(len))
            .unwrap_or(&[])
    }

    /// The policy generation.
    pub fn generation(&self) -> u64 {
        le64(self.bytes, field::GENERATION.start)
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        Mode::from_u8(self.bytes[field::MODE]).unwrap_or(Mode::Enforce)
    }

    /// Allowed calls reported per second per process in audit mode.
    pub fn audit_rate(&self) -> u32 {
        le32(self.bytes, field::AUDIT_RATE.start)
    }

    /// errno of a denied execution.
    pub fn exec_errno(&self) -> i32 {
        i32::from(le16(self.bytes, field::EXEC_ERRNO.start))
    }

    /// errno of a denied open.
    pub fn file_errno(&self) -> i32 {
        i32::from(le16(self.bytes, field::FILE_ERRNO.start))
    }

    /// errno of a denied connect.
    pub fn net_errno(&self) -> i32 {
        i32::from(le16(self.bytes, field::NET_ERRNO.start))
    }

    fn default_at(&self, at: usize) -> Verdict {
        Verdict::from_u8(self.bytes[at]).unwrap_or(Verdict::Deny)
    }

    fn uniform_at(&self, at: usize) -> Uniform {
        Uniform::from_u8(self.bytes.get(at).copied().unwrap_or(0)).unwrap_or(Uniform::Depends)
    }

    /// The files table's answer for `access` when no rule can change it.
    pub fn file_uniform(&self, access: Access) -> Uniform {
        self.uniform_at(field::FILE_UNIFORM.start + usize::from(access.0 & 7))
    }

    /// The exec table's answer when no rule can change it.
    pub fn exec_uniform(&self) -> Uniform {
        self.uniform_at(field::EXEC_UNIFORM)
    }

    /// The network table's answer for a family class when no rule can change it.
    pub fn net_uniform(&self, class: FamilyClass) -> Uniform {
        self.uniform_at(field::NET_UNIFORM.start + class as usize)
    }

    fn file_root(&self) -> u32 {
        le32(self.bytes, field::FILE_ROOT.start)
    }

    fn exec_root(&self) -> u32 {
        le32(self.bytes, field::EXEC_ROOT.start)
    }

    /// The text of a rule, as the policy wrote it (`files.deny[0] /etc/shadow`); empty for
    /// [`NO_RULE`].
    pub fn label(&self, rule: u32) -> &'a [u8] {
        let r = self.record(Section::Labels, rule as usize);
        self.string(le32(r, 0), le32(r, 4) as usize)
    }

    /// Number of rules of all tables.
    pub fn rule_count(&self) -> usize {
        self.count(Section::Labels)
    }

    fn path_rule(&self, i: usize) -> Option<PathRuleRef<'a>> {
        let r = self.record(Section::Rules, i);
        if r.len() < Section::Rules.record_len() {
            return None;
        }
        let argv0_len = usize::from(le16(r, 14));
        Some(PathRuleRef {
            pattern: self.string(le32(r, 0), usize::from(le16(r, 12))),
            argv0: (argv0_len > 0).then(|| self.string(le32(r, 4), argv0_len)),
            id: le32(r, 8),
            effect: Verdict::from_u8(r[16])?,
            access: Access(r[17]),
            kind: match r[18] {
                0 => RuleKind::Glob,
                1 => RuleKind::End,
                2 => RuleKind::Any,
                _ => return None,
            },
        })
    }

    /// The child of `node` named `segment`: a scan of a few edges (names compared inline,
    /// length first: most differ there), a binary search over the sorted edges of a bigger
    /// node.
    #[inline]
    fn child(&self, node: &[u8], segment: &[u8]) -> Option<u32> {
        let (start, count) = (le32(node, 0) as usize, le32(node, 4) as usize);
        if count <= 8 {
            for i in start..start.saturating_add(count) {
                let e = self.record(Section::Edges, i);
                if le32(e, 4) as usize == segment.len() {
                    let name = self.string(le32(e, 0), segment.len());
                    if name.iter().zip(segment).all(|(a, b)| a == b) && name.len() == segment.len()
                    {
                        return Some(le32(e, 8));
                    }
                }
            }
            return None;
        }
        let (mut lo, mut hi) = (0usize, count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let e = self.record(Section::Edges, start + mid);
            let name = self.string(le32(e, 0), le32(e, 4) as usize);
            match name.cmp(segment) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(le32(e, 8)),
            }
        }
        None
    }

    /// Walks the trie from `root` along `path` (absolute, normalised), calling `visit` with
    /// each rule anchored on the way and the rest of the path below its node, until `visit`
    /// returns true. The walk takes one path segment per step, so it ends even on a corrupt
    /// trie with cycles.
    fn walk(&self, root: u32, path: &[u8], mut visit: impl FnMut(&PathRuleRef<'a>, &[u8]) -> bool) {
        let Some(mut rest) = path.strip_prefix(b"/") else {
            return;
        };
        let mut node = root;
        loop {
            let n = self.record(Section::Nodes, node as usize);
            if n.is_empty() {
                return;
            }
            let (rs, rc) = (le32(n, 8) as usize, le32(n, 12) as usize);
            for i in rs..rs.saturating_add(rc) {
                if let Some(rule) = self.path_rule(i)
                    && visit(&rule, rest)
                {
                    return;
                }
            }
            if rest.is_empty() {
                return;
            }
            let (segment, after) = match rest.iter().position(|&b| b == b'/') {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &[][..]),
            };
            match self.child(n, segment) {
                Some(child) => {
                    node = child;
                    rest = after;
                }
                None => return,
            }
        }
    }

    /// True if the anchored rule's pattern matches the rest of the path.
    #[inline]
    fn rest_matches(rule: &PathRuleRef<'_>, rest: &[u8]) -> bool {
        match rule.kind {
            RuleKind::End => rest.is_empty(),
            RuleKind::Any => true,
            RuleKind::Glob => glob::matches(rule.pattern, rest),
        }
    }

    /// The decision on opening `path` (absolute, normalised) for `access`. A deny rule matches
    /// when it covers any of the access asked for; an allow rule only when it covers all of
    /// it. Deny wins; without a match, the files table's default decides. An open for no
    /// access (`O_PATH`) is always allowed.
    pub fn decide_file(&self, path: &[u8], access: Access) -> Decision {
        let default = self.default_at(field::FILE_DEFAULT);
        if access == Access::NONE {
            return Decision::default_of(Verdict::Allow);
        }
        let mut allow = None;
        let mut deny = None;
        let root = self.file_root();
        if root != NO_NODE {
            self.walk(root, path, |rule, rest| {
                let applies = match rule.effect {
                    Verdict::Deny => rule.access.intersects(access),
                    Verdict::Allow => allow.is_none() && rule.access.contains(access),
                };
                if !applies || !Self::rest_matches(rule, rest) {
                    return false;
                }
                match rule.effect {
                    Verdict::Deny => {
                        deny = Some(rule.id);
                        true
                    }
                    Verdict::Allow => {
                        allow = Some(rule.id);
                        false
                    }
                }
            });
        }
        decide(deny, allow, default)
    }

    /// The decision on executing a program called as `path` (absolute, normalised), which
    /// resolves to `resolved` (when it differs) and is started with `argv0`. A deny rule
    /// matching either path denies; an allow rule matching either path allows: exec rules
    /// name programs as they are called (busybox's `/bin/ls` is a link to `/bin/busybox`). A
    /// rule with an `argv0` pattern also needs `argv0` to match it.
    pub fn decide_exec(&self, path: &[u8], resolved: Option<&[u8]>, argv0: &[u8]) -> Decision {
        let default = self.default_at(field::EXEC_DEFAULT);
        let root = self.exec_root();
        let mut allow = None;
        let mut deny = None;
        if root != NO_NODE {
            for p in [Some(path), resolved].into_iter().flatten() {
                self.walk(root, p, |rule, rest| {
                    if rule.effect == Verdict::Allow && allow.is_some() {
                        return false;
                    }
                    let argv0_ok = rule
                        .argv0
                        .is_none_or(|pat| glob::matches_segment(pat, argv0));
                    if !argv0_ok || !Self::rest_matches(rule, rest) {
                        return false;
                    }
                    match rule.effect {
                        Verdict::Deny => {
                            deny = Some(rule.id);
                            true
                        }
                        Verdict::Allow => {
                            allow = Some(rule.id);
                            false
                        }
                    }
                });
                if deny.is_some() {
                    break;
                }
            }
        }
        decide(deny, allow, default)
    }

    /// The decision on connecting to `target`.
    pub fn decide_connect(&self, target: &ConnectTarget<'_>) -> Decision {
        let default = self.default_at(field::NET_DEFAULT);
        let mut allow = None;
        let mut deny = None;
        let mut note = |effect: Effect, id: u32| match effect {
            Verdict::Deny => deny = deny.or(Some(id)),
            Verdict::Allow => allow = allow.or(Some(id)),
        };
        let family = target.family();
        for i in 0..self.count(Section::Family) {
            let r = self.record(Section::Family, i);
            if le16(r, 0) == family
                && let Some(effect) = Verdict::from_u8(r.get(2).copied().unwrap_or(9))
            {
                note(effect, le32(r, 4));
            }
        }
        let v4 = match target {
            ConnectTarget::Inet { addr, port } => Some((*addr, *port)),
            ConnectTarget::Inet6 {
                addr: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d],
                port,
            } => Some(([*a, *b, *c, *d], *port)),
            _ => None,
        };
        if let Some((addr, port)) = v4 {
            for i in 0..self.count(Section::Net4) {
                let r = self.record(Section::Net4, i);
                let Some(rule_addr) = r.first_chunk::<4>().filter(|_| r.len() == 16) else {
                    continue;
                };
                if prefix_matches(rule_addr, &addr, r[4])
                    && (le16(r, 6)..=le16(r, 8)).contains(&port)
                    && let Some(effect) = Verdict::from_u8(r[5])
                {
                    note(effect, le32(r, 12));
                }
            }
        }
        if let ConnectTarget::Inet6 { addr, port } = target {
            for i in 0..self.count(Section::Net6) {
                let r = self.record(Section::Net6, i);
                let Some(rule_addr) = r.first_chunk::<16>().filter(|_| r.len() == 28) else {
                    continue;
                };
                if prefix_matches(rule_addr, addr, r[16])
                    && (le16(r, 18)..=le16(r, 20)).contains(port)
                    && let Some(effect) = Verdict::from_u8(r[17])
                {
                    note(effect, le32(r, 24));
                }
            }
        }
        if let ConnectTarget::Unix(path) = target {
            for i in 0..self.count(Section::Unix) {
                let r = self.record(Section::Unix, i);
                if r.len() < 12 {
                    continue;
                }
                let pattern = self.string(le32(r, 0), usize::from(le16(r, 4)));
                // Patterns are `/...` or `@...`; both are matched segment by segment below
                // their first byte.
                let matched = match (pattern.split_first(), path.split_first()) {
                    (Some((p0, prest)), Some((t0, trest))) => {
                        p0 == t0 && glob::matches(prest, trest)
                    }
                    _ => false,
                };
                if matched && let Some(effect) = Verdict::from_u8(r[6]) {
                    note(effect, le32(r, 8));
                }
            }
        }
        decide(deny, allow, default)
    }
}

fn decide(deny: Option<u32>, allow: Option<u32>, default: Verdict) -> Decision {
    match (deny, allow) {
        (Some(rule), _) => Decision {
            verdict: Verdict::Deny,
            rule,
        },
        (None, Some(rule)) => Decision {
            verdict: Verdict::Allow,
            rule,
        },
        (None, None) => Decision::default_of(default),
    }
}

/// True if the first `prefix` bits of `a` and `b` agree.
fn prefix_matches<const N: usize>(a: &[u8; N], b: &[u8; N], prefix: u8) -> bool {
    let bits = usize::from(prefix).min(N * 8);
    let (whole, rest) = (bits / 8, bits % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    (a[whole] & mask) == (b[whole] & mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert!(prefix_matches(&[10, 0, 0, 0], &[10, 1, 2, 3], 8));
        assert!(!prefix_matches(&[10, 0, 0, 0], &[11, 1, 2, 3], 8));
        assert!(prefix_matches(&[192, 168, 0, 0], &[192, 168, 1, 1], 23));
        assert!(!prefix_matches(&[192, 168, 0, 0], &[192, 168, 2, 1], 23));
        assert!(prefix_matches(&[1, 2, 3, 4], &[5, 6, 7, 8], 0));
        assert!(prefix_matches(&[1, 2, 3, 4], &[1, 2, 3, 4], 32));
        assert!(!prefix_matches(&[1, 2, 3, 4], &[1, 2, 3, 5], 32));
        assert!(prefix_matches(&[1, 2, 3, 4], &[1, 2, 3, 4], 200));
    }

    #[test]
    fn short_and_foreign_bytes_are_refused() {
        assert_eq!(
            PolicyImage::new_checked(&[0; 10]).unwrap_err(),
            ImageError::Truncated { len: 10 }
        );
        assert_eq!(
            PolicyImage::new_checked(&[0; HEADER_LEN]).unwrap_err(),
            ImageError::BadMagic
        );
    }
}
