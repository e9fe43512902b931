//! The Suricata 7 rule language: rule files in, typed [`Rule`]s out.
//!
//! [`RuleSet::load`] reads rule files (comments, blank lines, backslash continuations),
//! parses every rule, and keeps going past a bad one: each failure is reported with its file,
//! line, sid when known, and the keyword at fault ([`RuleFailure`]); a rule using a Suricata
//! keyword this engine does not support yet is not loaded (loading it without the keyword would
//! change what it matches) and is counted by keyword. [`parse_rule`] parses one rule's text.
//!
//! Everything here runs at load time. Nothing here trusts the rule text: any input gives a
//! rule or an error, never a panic.

pub mod addr;
pub mod classification;
mod keywords;
mod parse;
pub mod vars;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use addr::{IpSet, PortSet};
pub use classification::Classifications;
pub use parse::parse_rule;
pub use vars::Vars;

use crate::detect::{AppProto, BufferId};

/// What a matching rule does (Suricata's action order is the declaration order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Stop inspecting (the packet, or the flow), raise nothing.
    Pass,
    /// Drop the packet (and the flow, for stream and app-layer matches) and alert.
    Drop,
    /// Drop and answer with a TCP reset or ICMP unreachable, and alert.
    Reject(RejectTarget),
    /// Alert only.
    Alert,
}

/// Who receives the reset of a `reject` rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectTarget {
    /// `reject` / `rejectsrc`: the packet's sender.
    Source,
    /// `rejectdst`.
    Destination,
    /// `rejectboth`.
    Both,
}

impl Action {
    /// The action's rank in Suricata's default action order (pass, drop, reject, alert).
    pub fn order(self) -> u8 {
        match self {
            Action::Pass => 0,
            Action::Drop => 1,
            Action::Reject(_) => 2,
            Action::Alert => 3,
        }
    }

    /// The name in the rule text.
    pub fn name(self) -> &'static str {
        match self {
            Action::Pass => "pass",
            Action::Drop => "drop",
            Action::Reject(RejectTarget::Source) => "reject",
            Action::Reject(RejectTarget::Destination) => "rejectdst",
            Action::Reject(RejectTarget::Both) => "rejectboth",
            Action::Alert => "alert",
        }
    }
}

/// The protocol of a rule header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// `ip`: every IP packet.
    Ip,
    /// `tcp`: packets and the reassembled stream.
    Tcp,
    /// `tcp-pkt`: TCP packets only.
    TcpPkt,
    /// `tcp-stream`: the reassembled stream only.
    TcpStream,
    Udp,
    /// `icmp`: ICMPv4 and ICMPv6.
    Icmp,
    Icmpv4,
    Icmpv6,
    /// An application protocol (`http`, `dns`, `tls`): the flow's detected protocol must be it.
    App(AppProto),
}

impl Protocol {
    /// Whether packets of this IP protocol number can match.
    pub fn allows_ip_proto(self, proto: u8) -> bool {
        match self {
            Protocol::Ip => true,
            Protocol::Tcp | Protocol::TcpPkt | Protocol::TcpStream => proto == 6,
            Protocol::Udp => proto == 17,
            Protocol::Icmp => proto == 1 || proto == 58,
            Protocol::Icmpv4 => proto == 1,
            Protocol::Icmpv6 => proto == 58,
            Protocol::App(AppProto::Dns) => proto == 6 || proto == 17,
            Protocol::App(_) => proto == 6,
        }
    }
}

/// The direction operator of a rule header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `->`
    OneWay,
    /// `<>`: either way.
    Both,
}

/// A numeric comparison of Suricata's integer keywords (`dsize`, `bsize`, `urilen`):
/// `N`, `<N`, `<=N`, `>N`, `>=N`, `!N`, and the exclusive range `A<>B` (or `A-B`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumMatch {
    Eq(u64),
    Ne(u64),
    Lt(u64),
    Le(u64),
    Gt(u64),
    Ge(u64),
    /// Strictly between the two.
    Range(u64, u64),
}

impl NumMatch {
    /// Whether `v` satisfies the comparison.
    pub fn matches(self, v: u64) -> bool {
        match self {
            NumMatch::Eq(n) => v == n,
            NumMatch::Ne(n) => v != n,
            NumMatch::Lt(n) => v < n,
            NumMatch::Le(n) => v <= n,
            NumMatch::Gt(n) => v > n,
            NumMatch::Ge(n) => v >= n,
            NumMatch::Range(a, b) => v > a && v < b,
        }
    }
}

/// `fast_pattern` as written on a content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FastPattern {
    /// `fast_pattern:only` (deprecated in Suricata 7, same as plain `fast_pattern`).
    pub only: bool,
    /// `fast_pattern:offset,length`: only these bytes of the content go to the prefilter.
    pub chop: Option<(u16, u16)>,
}

/// A `content` and its modifiers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Content {
    /// The bytes to find (hex `|..|` decoded, escapes removed).
    pub pattern: Vec<u8>,
    /// `content:!"..."`: the rule matches where the pattern is absent.
    pub negated: bool,
    pub nocase: bool,
    pub offset: Option<u32>,
    pub depth: Option<u32>,
    pub distance: Option<i32>,
    pub within: Option<i32>,
    /// `endswith`: the match must end at the end of the buffer.
    pub endswith: bool,
    /// `startswith` was given (it sets depth to the pattern length and offset 0).
    pub startswith: bool,
    pub fast_pattern: Option<FastPattern>,
    /// `rawbytes` was given (a no-op in Suricata 7, kept for reporting).
    pub rawbytes: bool,
}

impl Content {
    /// True when this content is placed relative to the previous match (distance or within).
    pub fn is_relative(&self) -> bool {
        self.distance.is_some() || self.within.is_some()
    }
}

/// A `pcre` and its flags.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pcre {
    /// The expression between the slashes, as written.
    pub source: String,
    pub negated: bool,
    /// `i`
    pub caseless: bool,
    /// `s`
    pub dotall: bool,
    /// `m`
    pub multiline: bool,
    /// `x`
    pub extended: bool,
    /// `A`
    pub anchored: bool,
    /// `E`
    pub dollar_endonly: bool,
    /// `G`
    pub ungreedy: bool,
    /// `R`: match from the end of the previous match in the buffer.
    pub relative: bool,
}

/// Byte order of `byte_test` and `byte_jump`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endian {
    Big,
    Little,
}

/// How `byte_test`/`byte_jump` read their number: raw bytes, or text in a base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumberFormat {
    Binary(Endian),
    /// `string,hex|dec|oct`: the bytes are text in that base (16, 10 or 8).
    String(u32),
}

/// The operator of `byte_test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteOp {
    Lt,
    Gt,
    Eq,
    Le,
    Ge,
    /// `&`: any of the value's bits set.
    And,
    /// `^`: the value differs (Suricata's bitwise exclusive or, true when non-zero).
    Xor,
}

/// `byte_test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ByteTest {
    pub nbytes: u8,
    pub op: ByteOp,
    pub negated: bool,
    pub value: u64,
    pub offset: i32,
    pub relative: bool,
    pub format: NumberFormat,
    pub bitmask: Option<u64>,
}

/// `byte_jump`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ByteJump {
    pub nbytes: u8,
    pub offset: i32,
    pub relative: bool,
    pub format: NumberFormat,
    pub multiplier: u32,
    pub align: bool,
    pub from_beginning: bool,
    pub from_end: bool,
    pub post_offset: i32,
    pub bitmask: Option<u64>,
}

/// `isdataat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IsDataAt {
    pub position: u32,
    pub relative: bool,
    pub negated: bool,
}

/// One keyword of a buffer's inspection list, in rule order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Inspect {
    Content(Content),
    Pcre(Pcre),
    ByteTest(ByteTest),
    ByteJump(ByteJump),
    IsDataAt(IsDataAt),
    /// `bsize`: the buffer's length.
    Bsize(NumMatch),
    /// `urilen`: the URI buffer's length.
    Urilen(NumMatch),
}

/// The keywords that inspect one buffer, in rule order, with the buffer's transforms.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BufferInspection {
    pub buffer: BufferId,
    /// `dotprefix`: inspect `"." + buffer`.
    pub dotprefix: bool,
    pub keywords: Vec<Inspect>,
}

/// The `flow` keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FlowMatch {
    pub to_server: bool,
    pub to_client: bool,
    pub established: bool,
    pub not_established: bool,
    pub stateless: bool,
    pub only_stream: bool,
    pub no_stream: bool,
    pub only_frag: bool,
    pub no_frag: bool,
}

/// A `flowbits` command.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FlowbitCmd {
    Set,
    Unset,
    Toggle,
    /// `isset,a|b`: any of the bits is set.
    IsSet,
    /// `isnotset,a|b`: any of the bits is not set.
    IsNotSet,
}

/// One `flowbits` keyword (names interned to small ids at engine build).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Flowbit {
    pub cmd: FlowbitCmd,
    pub names: Vec<String>,
}

/// `threshold` type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThresholdKind {
    Limit,
    Threshold,
    Both,
    /// `detection_filter`.
    DetectionFilter,
}

/// What a threshold counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Track {
    BySrc,
    ByDst,
    ByRule,
    ByBoth,
    ByFlow,
}

/// `threshold` or `detection_filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Threshold {
    pub kind: ThresholdKind,
    pub track: Track,
    pub count: u32,
    pub seconds: u32,
}

/// `app-layer-protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AppLayerMatch {
    pub proto: AppProto,
    pub negated: bool,
}

/// `flags` (TCP flags): the bits that must be set, how the others are judged, and the bits to
/// ignore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TcpFlagsMatch {
    /// The flags named (F S R P A U C E as bits 0..7 of the TCP header's flag byte).
    pub flags: u8,
    pub mode: FlagsMode,
    /// Bits masked off before comparing (the `,12` part).
    pub ignore: u8,
}

/// How `flags` compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlagsMode {
    /// Exactly these flags (after the ignore mask).
    Exact,
    /// `+`: these and any others.
    All,
    /// `*`: any of these.
    Any,
    /// `!`: none of these.
    Not,
}

/// `target`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    SrcIp,
    DestIp,
}

/// One parsed rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub action: Action,
    pub protocol: Protocol,
    pub src: IpSet,
    pub src_ports: PortSet,
    pub direction: Direction,
    pub dst: IpSet,
    pub dst_ports: PortSet,
    pub msg: String,
    pub sid: u32,
    pub rev: u32,
    pub gid: u32,
    pub classtype: Option<String>,
    /// The alert's category: the classtype's description.
    pub category: Option<String>,
    /// `priority`, else the classtype's, else 3.
    pub priority: u8,
    pub references: Vec<(String, String)>,
    pub metadata: Vec<String>,
    pub target: Option<Target>,
    pub flow: FlowMatch,
    pub flowbits: Vec<Flowbit>,
    /// `flowbits:noalert` or `noalert`.
    pub noalert: bool,
    pub dsize: Option<NumMatch>,
    pub tcp_flags: Option<TcpFlagsMatch>,
    pub threshold: Option<Threshold>,
    pub detection_filter: Option<Threshold>,
    pub app_layer_protocol: Option<AppLayerMatch>,
    /// The application protocol the rule is bound to (from its header or its buffers).
    pub app_proto: Option<AppProto>,
    /// The buffers inspected, each once, in the order the rule first names them.
    pub buffers: Vec<BufferInspection>,
}

impl Rule {
    /// Whether this rule only ever matches in the to-server direction, to-client, or either
    /// (from `flow` and from the direction of the buffers it inspects).
    pub fn directions(&self) -> (bool, bool) {
        let mut ts = !self.flow.to_client;
        let mut tc = !self.flow.to_server;
        for b in &self.buffers {
            match b.buffer.direction() {
                crate::detect::BufferDirection::ToServer => tc = false,
                crate::detect::BufferDirection::ToClient => ts = false,
                crate::detect::BufferDirection::Both => {}
            }
        }
        (ts, tc)
    }

    /// The inspection list of the packet payload, if the rule has one.
    pub fn payload(&self) -> Option<&BufferInspection> {
        self.buffers.iter().find(|b| b.buffer == BufferId::PktData)
    }
}

/// Why a rule could not be loaded: its keyword and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{keyword}: {reason}")]
pub struct RuleError {
    /// The keyword (or header part: `action`, `protocol`, `source`, ...) at fault.
    pub keyword: String,
    pub reason: String,
    /// True when the keyword is valid Suricata that this engine does not support yet.
    pub unsupported: bool,
}

impl RuleError {
    pub(crate) fn new(keyword: &str, reason: impl Into<String>) -> Self {
        RuleError {
            keyword: keyword.to_owned(),
            reason: reason.into(),
            unsupported: false,
        }
    }

    pub(crate) fn unsupported(keyword: &str) -> Self {
        RuleError {
            keyword: keyword.to_owned(),
            reason: "keyword not supported yet".to_owned(),
            unsupported: true,
        }
    }
}

/// A rule that was not loaded: where it is, its sid when it could be read, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {}{error}", file.display(), sid.map(|s| format!("sid {s}: ")).unwrap_or_default())]
pub struct RuleFailure {
    pub file: PathBuf,
    pub line: usize,
    pub sid: Option<u32>,
    pub error: RuleError,
}

/// A rule file that could not be read at all.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct RuleFileError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Rules loaded from files, with what failed and what is not supported.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    /// The rules that loaded, in file order.
    pub rules: Vec<Rule>,
    /// Rules that did not parse (unsupported keywords excluded).
    pub failures: Vec<RuleFailure>,
    /// Rules not loaded because of a keyword not supported yet, and where.
    pub unsupported: Vec<RuleFailure>,
    /// Rules skipped because an earlier rule had the same gid and sid.
    pub duplicates: Vec<RuleFailure>,
}

/// Where a rule's text starts, and the text with continuations joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleText {
    pub line: usize,
    pub text: String,
}

/// Splits a rule file into rules: `#` comment lines and blank lines are skipped, a line ending
/// in a backslash continues on the next.
pub fn split_rules(source: &str) -> Vec<RuleText> {
    let mut out = Vec::new();
    let mut current: Option<RuleText> = None;
    for (i, line) in source.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let (body, continues) = match line.trim_end().strip_suffix('\\') {
            Some(b) => (b, true),
            None => (line, false),
        };
        match current.as_mut() {
            Some(r) => r.text.push_str(body),
            None => {
                let t = body.trim_start();
                if t.is_empty() || t.starts_with('#') {
                    if !continues {
                        continue;
                    }
                    // A continued comment stays a comment.
                    if t.starts_with('#') {
                        current = Some(RuleText {
                            line: i + 1,
                            text: "#".to_owned(),
                        });
                        continue;
                    }
                }
                current = Some(RuleText {
                    line: i + 1,
                    text: t.to_owned(),
                });
            }
        }
        if !continues
            && let Some(r) = current.take()
            && !r.text.trim().is_empty()
            && !r.text.starts_with('#')
        {
            out.push(r);
        }
    }
    if let Some(r) = current.take()
        && !r.text.trim().is_empty()
        && !r.text.starts_with('#')
    {
        out.push(r);
    }
    out
}

impl RuleSet {
    /// Loads every rule of these files. A file that cannot be read is an error; a rule that
    /// cannot be parsed is recorded and the others still load.
    pub fn load(
        files: &[PathBuf],
        vars: &Vars,
        classes: &Classifications,
    ) -> Result<RuleSet, RuleFileError> {
        let mut set = RuleSet::default();
        for path in files {
            let text = std::fs::read(path).map_err(|source| RuleFileError {
                path: path.clone(),
                source,
            })?;
            set.add_source(path, &String::from_utf8_lossy(&text), vars, classes);
        }
        Ok(set)
    }

    /// Parses the rules of one file's text and adds them.
    pub fn add_source(
        &mut self,
        path: &Path,
        source: &str,
        vars: &Vars,
        classes: &Classifications,
    ) {
        let mut seen: std::collections::HashSet<(u32, u32)> =
            self.rules.iter().map(|r| (r.gid, r.sid)).collect();
        for rt in split_rules(source) {
            match parse_rule(&rt.text, vars, classes) {
                Ok(rule) => {
                    if !seen.insert((rule.gid, rule.sid)) {
                        self.duplicates.push(RuleFailure {
                            file: path.to_owned(),
                            line: rt.line,
                            sid: Some(rule.sid),
                            error: RuleError::new(
                                "sid",
                                format!("duplicate signature (gid {} sid {})", rule.gid, rule.sid),
                            ),
                        });
                        continue;
                    }
                    self.rules.push(rule);
                }
                Err(error) => {
                    let failure = RuleFailure {
                        file: path.to_owned(),
                        line: rt.line,
                        sid: parse::sid_of(&rt.text),
                        error,
                    };
                    if failure.error.unsupported {
                        self.unsupported.push(failure);
                    } else {
                        self.failures.push(failure);
                    }
                }
            }
        }
    }

    /// How many rules were read (loaded, failed, unsupported and duplicates).
    pub fn total(&self) -> usize {
        self.rules.len() + self.failures.len() + self.unsupported.len() + self.duplicates.len()
    }

    /// Unsupported keywords with the number of rules each kept from loading, most first.
    pub fn unsupported_counts(&self) -> Vec<(String, usize)> {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for f in &self.unsupported {
            *counts.entry(&f.error.keyword).or_default() += 1;
        }
        let mut v: Vec<(String, usize)> =
            counts.into_iter().map(|(k, n)| (k.to_owned(), n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_handles_comments_blanks_and_continuations() {
        let src = "# a comment\n\nalert tcp any any -> any any (msg:\"x\"; \\\n  sid:1;)\r\n   \
                   # indented comment\nalert udp any any -> any any (sid:2;)\n#alert ip any any -> any any (sid:3;) \\\nstill comment\nalert ip any any -> any any (sid:4;)";
        let rules = split_rules(src);
        assert_eq!(rules.len(), 3, "{rules:?}");
        assert_eq!(rules[0].line, 3);
        assert_eq!(
            rules[0].text,
            "alert tcp any any -> any any (msg:\"x\";   sid:1;)"
        );
        assert_eq!(rules[1].line, 6);
        assert_eq!(rules[2].line, 9);
    }

    #[test]
    fn num_match_semantics() {
        assert!(NumMatch::Range(1, 5).matches(2));
        assert!(!NumMatch::Range(1, 5).matches(1));
        assert!(!NumMatch::Range(1, 5).matches(5));
        assert!(NumMatch::Ne(3).matches(4) && !NumMatch::Ne(3).matches(3));
        assert!(NumMatch::Le(3).matches(3) && NumMatch::Ge(3).matches(3));
    }

    #[test]
    fn load_reports_failures_unsupported_and_duplicates() {
        let mut set = RuleSet::default();
        let src = "alert tcp any any -> any any (msg:\"ok\"; content:\"a\"; sid:1;)\n\
                   alert tcp any any -> any any (msg:\"bad\"; content:\"a\"; depth:-5; sid:2;)\n\
                   alert tcp any any -> any any (msg:\"later\"; byte_extract:1,0,v; sid:3;)\n\
                   alert tcp any any -> any any (msg:\"dup\"; sid:1;)\n";
        set.add_source(
            Path::new("t.rules"),
            src,
            &Vars::suricata_defaults(),
            &Classifications::suricata_default(),
        );
        assert_eq!(set.rules.len(), 1);
        assert_eq!(set.failures.len(), 1);
        let f = &set.failures[0];
        assert_eq!(f.line, 2);
        assert_eq!(f.sid, Some(2));
        assert_eq!(f.error.keyword, "depth");
        assert!(
            f.to_string().starts_with("t.rules:2: sid 2: depth: "),
            "{f}"
        );
        assert_eq!(
            set.unsupported_counts(),
            vec![("byte_extract".to_owned(), 1)]
        );
        assert_eq!(set.duplicates.len(), 1);
        assert_eq!(set.total(), 4);
    }
}

#[cfg(test)]
mod bench_rules {
    use super::*;

    /// The benchmark kit's rule files, beside the repository (`../shared`), when present.
    fn shared(rel: &str) -> Option<PathBuf> {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        // `../shared` beside a clone; `../../shared` beside a worktree under `wt/`.
        ["../shared", "../../shared"]
            .iter()
            .map(|s| repo.join(s).join(rel))
            .find(|p| p.exists())
    }

    #[test]
    fn every_rule_of_the_1000_rule_benchmark_set_loads() {
        let Some(path) = shared("bench/ids/rules/rules-1000.rules") else {
            eprintln!("skipped: ../shared/bench/ids/rules/rules-1000.rules is absent");
            return;
        };
        // The rules use the kit's variables ($HTTPS_PORTS is not a Suricata default).
        let mut vars = Vars::suricata_defaults();
        vars.load_yaml(&shared("bench/ids/suricata/suricata.yaml").unwrap())
            .unwrap();
        let set = RuleSet::load(&[path], &vars, &Classifications::suricata_default()).unwrap();
        let problems: Vec<String> = set
            .failures
            .iter()
            .chain(&set.unsupported)
            .chain(&set.duplicates)
            .map(|f| f.to_string())
            .collect();
        assert!(problems.is_empty(), "{problems:#?}");
        assert_eq!(set.rules.len(), 1000);
    }
}

/// Rules at the edge of the grammar, and which of them Suricata 7.0.10 refuses (`suricata -T`
/// with the benchmark kit's suricata.yaml reports these lines): the loader must refuse exactly
/// the same ones.
#[cfg(test)]
mod suricata_edge_cases {
    use super::*;

    const RULES: &str = include_str!("testdata/suricata_7_0_10_edge_cases.rules");
    const SURICATA_REFUSES: &[usize] = &[
        1, 2, 5, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 23, 24, 25, 26, 27, 30, 31, 32, 33,
        34, 36, 39,
    ];

    #[test]
    fn refused_lines_are_suricatas() {
        let mut set = RuleSet::default();
        set.add_source(
            Path::new("edge.rules"),
            RULES,
            &Vars::suricata_defaults(),
            &Classifications::suricata_default(),
        );
        let mut refused: Vec<usize> = set
            .failures
            .iter()
            .chain(&set.unsupported)
            .chain(&set.duplicates)
            .map(|f| f.line)
            .collect();
        refused.sort_unstable();
        assert_eq!(refused, SURICATA_REFUSES);
        assert_eq!(set.total(), 40);
    }
}
