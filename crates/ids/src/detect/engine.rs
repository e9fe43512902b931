//! The compiled rule set ([`Engine`]) and one inspection ([`Engine::inspect`]).
//!
//! Built once from parsed rules: rules are numbered in Suricata's order (action order, then
//! flowbit setters before readers, then priority, then sid), grouped by IP protocol class,
//! direction and destination port, and each rule's fast pattern goes into one Aho-Corasick
//! automaton per buffer per group. An inspection finds its group, runs the automata over the
//! buffers present, verifies only the candidate rules in rule order, then applies thresholds,
//! `pass`, `noalert` and actions as Suricata's `PacketAlertFinalize` does.
//!
//! An inspection never allocates once its [`Scratch`] and [`Alerts`] have grown to the rule
//! set (both are sized at creation), never blocks, and treats every buffer as untrusted.

use std::collections::HashMap;
use std::net::IpAddr;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

use super::buffer::{BufferId, Buffers};
use super::inspect::{InspectList, compile_rule_lists, inspect};
use super::pcre::{CompiledRegex, RegexEngine};
use super::state::{FlowState, ThresholdOutcome, ThresholdState, TrackKey};
use crate::rules::{
    Action, Content, Direction, FlagsMode, FlowbitCmd, Inspect, IpSet, PortSet, Protocol, Rule,
    Threshold, Track,
};

/// Which way a packet goes on its connection, as Suricata defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowDirection {
    ToServer,
    ToClient,
}

/// What the matcher needs to know of the packet at this inspection point.
#[derive(Debug, Clone, Copy)]
pub struct PacketContext<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...).
    pub ip_proto: u8,
    pub direction: FlowDirection,
    /// The connection is established (TCP handshake seen, or UDP traffic both ways).
    pub established: bool,
    /// TCP flags byte (FIN 0x01 ... CWR 0x80); 0 for other protocols.
    pub tcp_flags: u8,
    /// The packet's payload (`pkt_data`; `dsize` is its length).
    pub payload: &'a [u8],
    /// The payload went into the stream reassembly (TCP): payload rules that may inspect the
    /// stream then skip the bare packet, as Suricata does.
    pub stream_added: bool,
    /// The packet is an IP fragment (`flow:only_frag` / `no_frag`).
    pub fragment: bool,
    /// Packet time in nanoseconds since the epoch (thresholds count in its seconds).
    pub time_ns: u64,
}

/// One rule that matched and raised (or silently applied) its action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alert {
    /// The rule's number in this engine (index into [`Engine::rule`]).
    pub rule: u32,
    pub sid: u32,
    pub gid: u32,
    pub rev: u32,
    pub action: Action,
    /// Matched on the reassembled stream.
    pub stream_match: bool,
    /// Matched on application-layer buffers (a transaction).
    pub app_match: bool,
    /// The action applies to the whole connection (stream or app-layer match, or a rule
    /// without payload inspection), not only to this packet.
    pub applies_to_flow: bool,
}

/// The caller's output buffer of alerts: reused across inspections, bounded (Suricata's
/// `packet-alert-max`, 15 by default); alerts past the bound are counted, not stored.
#[derive(Debug)]
pub struct Alerts {
    items: Vec<Alert>,
    max: usize,
    /// Alerts not stored because the buffer was full, over its lifetime.
    pub discarded: u64,
}

impl Alerts {
    /// A buffer holding at most `max` alerts per inspection.
    pub fn with_max(max: usize) -> Self {
        Alerts {
            items: Vec::with_capacity(max),
            max,
            discarded: 0,
        }
    }

    /// The alerts of the last inspection, in rule order.
    pub fn as_slice(&self) -> &[Alert] {
        &self.items
    }

    fn push(&mut self, a: Alert) {
        if self.items.len() < self.max {
            self.items.push(a);
        } else {
            self.discarded += 1;
        }
    }
}

impl Default for Alerts {
    fn default() -> Self {
        Alerts::with_max(15)
    }
}

/// What the packet's matches decided, besides the alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Verdict {
    /// Drop this packet (a `drop` or `reject` rule matched, alerting or not).
    pub drop: bool,
    /// Answer with a reset or unreachable (`reject`).
    pub reject: bool,
    /// A `pass` rule matched: the packet's other alerts were discarded.
    pub pass: bool,
    /// The flow was not inspected: an earlier `pass` applies to it.
    pub skipped: bool,
    /// Rules verified after the prefilter (for counters).
    pub candidates: u32,
}

/// Per-worker scratch space, sized to the engine once.
#[derive(Debug)]
pub struct Scratch {
    seen: Vec<u64>,
    candidates: Vec<u32>,
    queue: Vec<Queued>,
    transformed: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
struct Queued {
    num: u32,
    stream: bool,
    app: bool,
}

impl Scratch {
    fn mark(&mut self, num: u32) {
        let (w, b) = (num as usize / 64, num % 64);
        if self.seen[w] & (1 << b) == 0 {
            self.seen[w] |= 1 << b;
            self.candidates.push(num);
        }
    }
}

/// A flowbit command with the name interned.
#[derive(Debug, Clone)]
struct BitOp {
    cmd: FlowbitCmd,
    ids: Vec<u32>,
}

/// A rule compiled for matching.
#[derive(Debug)]
struct Sig {
    rule: Rule,
    lists: Vec<(BufferId, bool, InspectList)>,
    /// Index in `lists` of the packet payload list.
    payload: Option<usize>,
    bit_checks: Vec<BitOp>,
    bit_sets: Vec<BitOp>,
    to_server: bool,
    to_client: bool,
    /// Rule without payload or app-layer inspection (Suricata's IP-only and similar): its
    /// action applies to the flow.
    packet_only: bool,
    has_app_lists: bool,
}

/// Fast-pattern bytes (lowercased) and the rules that chose them.
type PatternRules = HashMap<Vec<u8>, Vec<u32>>;

/// Prefilter of one group: an automaton per buffer, and the rules behind each pattern.
#[derive(Debug)]
struct Group {
    always: Vec<u32>,
    /// (buffer, automaton, rules per pattern id). `PktData` automata also scan the stream.
    matchers: Vec<(BufferId, AhoCorasick, Vec<Vec<u32>>)>,
}

/// Groups of one (protocol class, direction): a group for the rules whose ports are any or
/// wide (always scanned), and the narrow-port rules by port interval.
#[derive(Debug, Default)]
struct PortTable {
    common: Option<u32>,
    /// (first port of the interval, group index of its narrow-port rules), sorted by port.
    starts: Vec<(u16, Option<u32>)>,
}

impl PortTable {
    fn narrow(&self, port: u16) -> Option<u32> {
        let i = self.starts.partition_point(|&(p, _)| p <= port);
        if i > 0 { self.starts[i - 1].1 } else { None }
    }
}

/// A rule whose port set holds more ports than this goes into its table's common group: the
/// prefilter lets it through on other ports too, and the header check refuses them.
const WIDE_PORT_SET: u32 = 1024;

/// Largest pattern set given a DFA by default.
const DFA_MAX_PATTERNS: usize = 1_000;

/// Options of [`Engine::build_with`].
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildOptions {
    /// Force one regex engine for every pcre (benchmarks and differential tests).
    pub regex_engine: Option<RegexEngine>,
    /// Aho-Corasick implementation of the prefilter (`None`: a DFA up to 1,000 patterns, a
    /// contiguous NFA beyond).
    pub prefilter_kind: Option<AhoCorasickKind>,
}

/// A rule that loaded but could not be compiled for matching.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sid {sid}: {reason}")]
pub struct BuildError {
    pub sid: u32,
    pub reason: String,
}

/// Counts of a built engine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    pub rules: usize,
    pub groups: usize,
    pub patterns: usize,
    pub always_candidates: usize,
    pub pcre_rust: usize,
    pub pcre_pcre2: usize,
}

/// The compiled rule set.
#[derive(Debug)]
pub struct Engine {
    sigs: Vec<Sig>,
    groups: Vec<Group>,
    /// Indexed by protocol class (tcp, udp, icmp, other) * 2 + direction (0 to server).
    tables: [PortTable; 8],
    nbits: usize,
    stats: EngineStats,
}

fn proto_class(ip_proto: u8) -> usize {
    match ip_proto {
        6 => 0,
        17 => 1,
        1 | 58 => 2,
        _ => 3,
    }
}

/// Suricata's `PatternStrength`: distinct letters 3, distinct printable/0x00/0x01/0xff 4,
/// other distinct bytes 6, repeats 1.
fn pattern_strength(p: &[u8]) -> u32 {
    let mut seen = [false; 256];
    let mut s = 0;
    for &b in p {
        if seen[b as usize] {
            s += 1;
        } else {
            seen[b as usize] = true;
            s += if b.is_ascii_alphabetic() {
                3
            } else if b.is_ascii_graphic() || b == b' ' || b == 0 || b == 1 || b == 0xff {
                4
            } else {
                6
            };
        }
    }
    s
}

/// The fast pattern of a rule as Suricata picks it: an explicit `fast_pattern`, else among the
/// non-negated contents (negated ones only when there is nothing else) the longest, then the
/// strongest, then the first. Returns the buffer, the bytes for the prefilter, and whether the
/// content is negated.
pub(crate) fn fast_pattern(rule: &Rule) -> Option<(BufferId, Vec<u8>, bool)> {
    let contents = || {
        rule.buffers.iter().flat_map(|b| {
            b.keywords.iter().filter_map(move |k| match k {
                Inspect::Content(c) => Some((b.buffer, c)),
                _ => None,
            })
        })
    };
    let bytes = |c: &Content| match c.fast_pattern.and_then(|f| f.chop) {
        Some((o, l)) => c.pattern[usize::from(o)..usize::from(o) + usize::from(l)].to_vec(),
        None => c.pattern.clone(),
    };
    if let Some((b, c)) = contents().find(|(_, c)| c.fast_pattern.is_some()) {
        return Some((b, bytes(c), c.negated));
    }
    let any_plain = contents().any(|(_, c)| !c.negated);
    let pool = || contents().filter(move |(_, c)| c.negated != any_plain);
    let max_len = pool().map(|(_, c)| c.pattern.len()).max()?;
    let mut best: Option<(BufferId, &Content)> = None;
    for (b, c) in pool().filter(|(_, c)| c.pattern.len() == max_len) {
        match best {
            None => best = Some((b, c)),
            Some((_, bc)) => {
                if pattern_strength(&c.pattern) > pattern_strength(&bc.pattern) {
                    best = Some((b, c));
                }
            }
        }
    }
    best.map(|(b, c)| (b, bytes(c), c.negated))
}

/// Flowbit usage class for ordering: 4 sets only, 3 sets and reads, 2 reads only, 1 none.
fn flowbit_class(rule: &Rule) -> u8 {
    let reads = rule
        .flowbits
        .iter()
        .any(|f| matches!(f.cmd, FlowbitCmd::IsSet | FlowbitCmd::IsNotSet));
    let writes = rule.flowbits.iter().any(|f| {
        matches!(
            f.cmd,
            FlowbitCmd::Set | FlowbitCmd::Unset | FlowbitCmd::Toggle
        )
    });
    match (reads, writes) {
        (false, true) => 4,
        (true, true) => 3,
        (true, false) => 2,
        (false, false) => 1,
    }
}

impl Engine {
    /// Compiles rules with the default options.
    pub fn build(rules: &[Rule]) -> (Engine, Vec<BuildError>) {
        Self::build_with(rules, BuildOptions::default())
    }

    /// Compiles rules. A rule whose pcre neither engine compiles is left out and reported.
    pub fn build_with(rules: &[Rule], opts: BuildOptions) -> (Engine, Vec<BuildError>) {
        let mut order: Vec<&Rule> = rules.iter().collect();
        // Suricata's SCSigOrderSignatures: action, flowbits, priority, then sid.
        order.sort_by(|a, b| {
            a.action
                .order()
                .cmp(&b.action.order())
                .then(flowbit_class(b).cmp(&flowbit_class(a)))
                .then(a.priority.cmp(&b.priority))
                .then(a.sid.cmp(&b.sid))
        });
        let mut errors = Vec::new();
        let mut bit_names: HashMap<String, u32> = HashMap::new();
        let mut stats = EngineStats::default();
        let mut sigs = Vec::with_capacity(order.len());
        for rule in order {
            let mut regex = |p: &crate::rules::Pcre| {
                let r = CompiledRegex::compile(p, opts.regex_engine)?;
                match r.engine() {
                    RegexEngine::Rust => stats.pcre_rust += 1,
                    RegexEngine::Pcre2 => stats.pcre_pcre2 += 1,
                }
                Ok(r)
            };
            let lists = match compile_rule_lists(rule, &mut regex) {
                Ok(l) => l,
                Err(reason) => {
                    errors.push(BuildError {
                        sid: rule.sid,
                        reason,
                    });
                    continue;
                }
            };
            let mut intern = |n: &String| {
                let next = bit_names.len() as u32;
                *bit_names.entry(n.clone()).or_insert(next)
            };
            let mut bit_checks = Vec::new();
            let mut bit_sets = Vec::new();
            for f in &rule.flowbits {
                let op = BitOp {
                    cmd: f.cmd.clone(),
                    ids: f.names.iter().map(&mut intern).collect(),
                };
                match f.cmd {
                    FlowbitCmd::IsSet | FlowbitCmd::IsNotSet => bit_checks.push(op),
                    _ => bit_sets.push(op),
                }
            }
            let (to_server, to_client) = rule.directions();
            let lists: Vec<(BufferId, bool, InspectList)> = rule
                .buffers
                .iter()
                .zip(lists)
                .map(|(b, l)| (b.buffer, b.dotprefix, l))
                .collect();
            let payload = lists.iter().position(|(b, _, _)| *b == BufferId::PktData);
            let has_app_lists = lists.iter().any(|(b, _, _)| b.is_app_layer());
            sigs.push(Sig {
                packet_only: lists.is_empty() && rule.app_proto.is_none(),
                has_app_lists,
                rule: rule.clone(),
                lists,
                payload,
                bit_checks,
                bit_sets,
                to_server,
                to_client,
            });
        }
        stats.rules = sigs.len();
        let mut engine = Engine {
            sigs,
            groups: Vec::new(),
            tables: Default::default(),
            nbits: bit_names.len(),
            stats,
        };
        engine.build_groups(opts);
        (engine, errors)
    }

    fn build_groups(&mut self, opts: BuildOptions) {
        let mut dedup: HashMap<Vec<u32>, u32> = HashMap::new();
        let mut group_of = |this: &mut Engine, members: Vec<u32>| -> Option<u32> {
            if members.is_empty() {
                return None;
            }
            if let Some(&g) = dedup.get(&members) {
                return Some(g);
            }
            let g = this.groups.len() as u32;
            let group = this.make_group(&members, opts);
            this.groups.push(group);
            dedup.insert(members, g);
            Some(g)
        };
        let classes: [&[u8]; 4] = [&[6], &[17], &[1, 58], &[]];
        for (class, protos) in classes.iter().enumerate() {
            for dir in 0..2 {
                let members: Vec<u32> = self
                    .sigs
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| {
                        let proto_ok = if protos.is_empty() {
                            matches!(s.rule.protocol, Protocol::Ip)
                        } else {
                            protos.iter().any(|&p| s.rule.protocol.allows_ip_proto(p))
                        };
                        proto_ok && if dir == 0 { s.to_server } else { s.to_client }
                    })
                    .map(|(i, _)| i as u32)
                    .collect();
                let ports = |s: &Sig| -> Option<PortSet> {
                    if class >= 2 {
                        return None;
                    }
                    let p = match s.rule.direction {
                        Direction::OneWay => s.rule.dst_ports.clone(),
                        Direction::Both => s.rule.dst_ports.union(&s.rule.src_ports),
                    };
                    (p.count() <= WIDE_PORT_SET).then_some(p)
                };
                let mut common = Vec::new();
                let mut narrow: Vec<(u32, PortSet)> = Vec::new();
                for &m in &members {
                    match ports(&self.sigs[m as usize]) {
                        Some(p) => narrow.push((m, p)),
                        None => common.push(m),
                    }
                }
                let common = group_of(self, common);
                let mut cuts = vec![0u16];
                for (_, p) in &narrow {
                    p.cuts(&mut cuts);
                }
                cuts.sort_unstable();
                cuts.dedup();
                let mut starts: Vec<(u16, Option<u32>)> = Vec::with_capacity(cuts.len());
                for &cut in &cuts {
                    let here: Vec<u32> = narrow
                        .iter()
                        .filter(|(_, p)| p.contains(cut))
                        .map(|&(m, _)| m)
                        .collect();
                    let g = group_of(self, here);
                    if starts.last().is_none_or(|&(_, last)| last != g) {
                        starts.push((cut, g));
                    }
                }
                self.tables[class * 2 + dir] = PortTable { common, starts };
            }
        }
        self.stats.groups = self.groups.len();
    }

    fn make_group(&mut self, members: &[u32], opts: BuildOptions) -> Group {
        let mut always = Vec::new();
        // Per buffer: pattern bytes (lowercased) -> rules.
        let mut per_buffer: Vec<(BufferId, PatternRules)> = Vec::new();
        for &m in members {
            let rule = &self.sigs[m as usize].rule;
            let fp = fast_pattern(rule).and_then(|(buffer, bytes, negated)| {
                // The prefilter scans the buffer before `dotprefix`: a pattern found in
                // "." + buffer is in the buffer, or starts with that dot.
                let dotted = rule
                    .buffers
                    .iter()
                    .any(|b| b.buffer == buffer && b.dotprefix);
                let bytes = match bytes.strip_prefix(b".") {
                    Some(rest) if dotted => rest.to_vec(),
                    _ => bytes,
                };
                (!bytes.is_empty()).then_some((buffer, bytes, negated))
            });
            match fp {
                Some((buffer, bytes, false)) => {
                    let i = match per_buffer.iter().position(|(b, _)| *b == buffer) {
                        Some(i) => i,
                        None => {
                            per_buffer.push((buffer, HashMap::new()));
                            per_buffer.len() - 1
                        }
                    };
                    per_buffer[i]
                        .1
                        .entry(bytes.to_ascii_lowercase())
                        .or_default()
                        .push(m);
                }
                _ => always.push(m),
            }
        }
        self.stats.always_candidates += always.len();
        let mut matchers = Vec::new();
        for (buffer, pats) in per_buffer {
            let mut pats: Vec<(Vec<u8>, Vec<u32>)> = pats.into_iter().collect();
            pats.sort();
            self.stats.patterns += pats.len();
            // A DFA scans fastest (measured: BENCHMARKS.md) but its size grows with the
            // patterns; past DFA_MAX_PATTERNS the contiguous NFA keeps memory in bounds.
            let kind = opts
                .prefilter_kind
                .or(Some(if pats.len() <= DFA_MAX_PATTERNS {
                    AhoCorasickKind::DFA
                } else {
                    AhoCorasickKind::ContiguousNFA
                }));
            let ac = AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .kind(kind)
                .build(pats.iter().map(|(p, _)| p))
                .or_else(|_| {
                    AhoCorasickBuilder::new()
                        .ascii_case_insensitive(true)
                        .match_kind(MatchKind::Standard)
                        .build(pats.iter().map(|(p, _)| p))
                })
                .expect("Aho-Corasick builds from non-empty byte patterns");
            matchers.push((buffer, ac, pats.into_iter().map(|(_, r)| r).collect()));
        }
        Group { always, matchers }
    }

    /// Counts of the compiled engine.
    pub fn stats(&self) -> EngineStats {
        self.stats
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.sigs.len()
    }

    /// True when the engine has no rule.
    pub fn is_empty(&self) -> bool {
        self.sigs.is_empty()
    }

    /// The rule numbered `num` (the [`Alert::rule`] of its alerts).
    pub fn rule(&self, num: u32) -> Option<&Rule> {
        self.sigs.get(num as usize).map(|s| &s.rule)
    }

    /// Fresh detection state for a new connection.
    pub fn new_flow_state(&self) -> FlowState {
        FlowState::with_bits(self.nbits)
    }

    /// Fresh engine-wide threshold tables.
    pub fn new_threshold_state(&self) -> ThresholdState {
        ThresholdState::new(self.sigs.len(), super::state::DEFAULT_THRESHOLD_ENTRIES)
    }

    /// Scratch space for one worker.
    pub fn new_scratch(&self) -> Scratch {
        Scratch {
            seen: vec![0; self.sigs.len().div_ceil(64) + 1],
            candidates: Vec::with_capacity(self.sigs.len()),
            queue: Vec::with_capacity(self.sigs.len().min(4096)),
            transformed: Vec::with_capacity(4096),
        }
    }

    /// Inspects one packet (and the stream and transaction buffers `bufs` offers with it).
    ///
    /// `flow` is the connection's [`FlowState`] (flowbits, `by_flow` thresholds, pass/drop);
    /// `thresholds` the worker's engine-wide tables. `alerts` is cleared and refilled.
    pub fn inspect(
        &self,
        pkt: &PacketContext<'_>,
        bufs: &dyn Buffers,
        flow: &mut FlowState,
        thresholds: &mut ThresholdState,
        scratch: &mut Scratch,
        alerts: &mut Alerts,
    ) -> Verdict {
        alerts.items.clear();
        let mut verdict = Verdict::default();
        if flow.passed {
            verdict.skipped = true;
            return verdict;
        }
        let class = proto_class(pkt.ip_proto);
        let dir = match pkt.direction {
            FlowDirection::ToServer => 0,
            FlowDirection::ToClient => 1,
        };
        let port = if class < 2 { pkt.dst_port } else { 0 };
        let table = &self.tables[class * 2 + dir];

        // Prefilter: the common group, then the narrow-port group of this port.
        scratch.candidates.clear();
        let groups = [table.common, table.narrow(port)];
        for group in groups.iter().flatten().map(|&g| &self.groups[g as usize]) {
            for &m in &group.always {
                scratch.mark(m);
            }
            for (buffer, ac, rules) in &group.matchers {
                let scan = |hay: &[u8], scratch: &mut Scratch| {
                    for mat in ac.find_overlapping_iter(hay) {
                        for &r in &rules[mat.pattern().as_usize()] {
                            scratch.mark(r);
                        }
                    }
                };
                if *buffer == BufferId::PktData {
                    scan(pkt.payload, scratch);
                    if let Some(s) = bufs.buffer(BufferId::RawStream) {
                        scan(s, scratch);
                    }
                } else if let Some(b) = bufs.buffer(*buffer) {
                    scan(b, scratch);
                }
            }
        }
        for &c in &scratch.candidates {
            scratch.seen[c as usize / 64] = 0;
        }
        // Packet rules first, then transaction rules, each in rule order (Suricata runs
        // DetectRulePacketRules before DetectRunTx).
        let sigs = &self.sigs;
        scratch
            .candidates
            .sort_unstable_by_key(|&n| (sigs[n as usize].has_app_lists, n));
        verdict.candidates = scratch.candidates.len() as u32;

        // Verify.
        scratch.queue.clear();
        for i in 0..scratch.candidates.len() {
            let num = scratch.candidates[i];
            let sig = &self.sigs[num as usize];
            if let Some((stream, app)) =
                self.matches(sig, pkt, bufs, flow, &mut scratch.transformed)
            {
                for op in &sig.bit_sets {
                    for &id in &op.ids {
                        match op.cmd {
                            FlowbitCmd::Set => flow.set(id),
                            FlowbitCmd::Unset => flow.unset(id),
                            FlowbitCmd::Toggle => flow.toggle(id),
                            FlowbitCmd::IsSet | FlowbitCmd::IsNotSet => {}
                        }
                    }
                }
                scratch.queue.push(Queued { num, stream, app });
            }
        }

        // Finalize, as PacketAlertFinalize: rule order, thresholds, actions, pass, noalert.
        scratch.queue.sort_unstable_by_key(|q| q.num);
        for q in &scratch.queue {
            let sig = &self.sigs[q.num as usize];
            let rule = &sig.rule;
            let outcome = match rule.threshold.as_ref().or(rule.detection_filter.as_ref()) {
                None => ThresholdOutcome::Alert,
                Some(t) => self.threshold(t, q.num, pkt, flow, thresholds),
            };
            if outcome == ThresholdOutcome::Suppressed {
                continue;
            }
            let applies_to_flow = q.stream || q.app || sig.packet_only || rule.app_proto.is_some();
            match rule.action {
                Action::Drop | Action::Reject(_) => {
                    verdict.drop = true;
                    verdict.reject |= matches!(rule.action, Action::Reject(_));
                    if applies_to_flow && !flow.passed {
                        flow.dropped = true;
                    }
                }
                Action::Pass => {
                    verdict.pass = true;
                    if applies_to_flow && !flow.dropped {
                        flow.passed = true;
                    }
                }
                Action::Alert => {}
            }
            if outcome == ThresholdOutcome::Alert && !rule.noalert && rule.action != Action::Pass {
                alerts.push(Alert {
                    rule: q.num,
                    sid: rule.sid,
                    gid: rule.gid,
                    rev: rule.rev,
                    action: rule.action,
                    stream_match: q.stream,
                    app_match: q.app,
                    applies_to_flow,
                });
            }
            if verdict.pass {
                // Alerts of lower priority than a pass are discarded.
                break;
            }
        }
        verdict
    }

    fn threshold(
        &self,
        t: &Threshold,
        num: u32,
        pkt: &PacketContext<'_>,
        flow: &mut FlowState,
        tables: &mut ThresholdState,
    ) -> ThresholdOutcome {
        let now = pkt.time_ns;
        match t.track {
            Track::BySrc => tables.apply_keyed(t, TrackKey::Src(num, pkt.src), now),
            Track::ByDst => tables.apply_keyed(t, TrackKey::Dst(num, pkt.dst), now),
            Track::ByBoth => {
                let (a, b) = if pkt.src <= pkt.dst {
                    (pkt.src, pkt.dst)
                } else {
                    (pkt.dst, pkt.src)
                };
                tables.apply_keyed(t, TrackKey::Both(num, a, b), now)
            }
            Track::ByFlow => flow.apply_threshold(t, num, now),
            Track::ByRule => match tables.rule_entry(num) {
                Some(slot) => {
                    let (out, store) = super::state::apply(t, slot.as_mut(), now);
                    if store {
                        *slot = Some(super::state::Entry::new(now));
                    }
                    out
                }
                None => ThresholdOutcome::Alert,
            },
        }
    }

    /// Whether the rule matches; on a match, whether it matched on the stream and on
    /// application-layer buffers.
    fn matches(
        &self,
        sig: &Sig,
        pkt: &PacketContext<'_>,
        bufs: &dyn Buffers,
        flow: &FlowState,
        transformed: &mut Vec<u8>,
    ) -> Option<(bool, bool)> {
        let rule = &sig.rule;
        if !rule.protocol.allows_ip_proto(pkt.ip_proto) {
            return None;
        }
        if !header_matches(rule, pkt) {
            return None;
        }
        let f = &rule.flow;
        match pkt.direction {
            FlowDirection::ToServer if !sig.to_server => return None,
            FlowDirection::ToClient if !sig.to_client => return None,
            _ => {}
        }
        if (f.established && !pkt.established) || (f.not_established && pkt.established) {
            return None;
        }
        if (f.only_frag && !pkt.fragment) || (f.no_frag && pkt.fragment) {
            return None;
        }
        if rule.app_proto.is_some_and(|p| bufs.app_proto() != p) {
            return None;
        }
        if rule
            .app_layer_protocol
            .is_some_and(|a| (bufs.app_proto() == a.proto) == a.negated)
        {
            return None;
        }
        if let Some(fl) = rule.tcp_flags {
            if pkt.ip_proto != 6 {
                return None;
            }
            let flags = pkt.tcp_flags & !fl.ignore;
            let ok = match fl.mode {
                FlagsMode::Exact => flags == fl.flags,
                FlagsMode::All => flags & fl.flags == fl.flags,
                FlagsMode::Any => flags & fl.flags != 0,
                FlagsMode::Not => flags & fl.flags != fl.flags,
            };
            if !ok {
                return None;
            }
        }
        if rule
            .dsize
            .is_some_and(|d| !d.matches(pkt.payload.len() as u64))
        {
            return None;
        }
        for op in &sig.bit_checks {
            let ok = match op.cmd {
                FlowbitCmd::IsSet => op.ids.iter().any(|&i| flow.is_set(i)),
                _ => op.ids.iter().any(|&i| !flow.is_set(i)),
            };
            if !ok {
                return None;
            }
        }
        // Payload: the stream first (TCP, unless the rule needs the packet), then the packet.
        let mut stream_match = false;
        if let Some(pi) = sig.payload {
            let (_, _, list) = &sig.lists[pi];
            let requires_packet = f.no_stream || rule.dsize.is_some();
            let may_stream = pkt.ip_proto == 6 && !requires_packet;
            let mut ok = false;
            if may_stream {
                if let Some(s) = bufs.buffer(BufferId::RawStream) {
                    ok = inspect(list, s);
                    stream_match = ok;
                }
                if !ok && pkt.stream_added {
                    return None;
                }
            }
            if !ok {
                if f.only_stream {
                    return None;
                }
                if !inspect(list, pkt.payload) {
                    return None;
                }
            }
        } else if rule.app_proto.is_none()
            && !sig.has_app_lists
            && (f.only_stream && pkt.ip_proto == 6 && bufs.buffer(BufferId::RawStream).is_none())
        {
            return None;
        }
        // Application-layer buffers: each must be present and match.
        let mut app_match = false;
        for (i, (buffer, dotprefix, list)) in sig.lists.iter().enumerate() {
            if Some(i) == sig.payload {
                continue;
            }
            let data = bufs.buffer(*buffer)?;
            let ok = if *dotprefix {
                transformed.clear();
                transformed.push(b'.');
                transformed.extend_from_slice(data);
                inspect(list, transformed)
            } else {
                inspect(list, data)
            };
            if !ok {
                return None;
            }
            app_match = true;
        }
        Some((stream_match, app_match))
    }
}

fn side_matches(ips: &IpSet, ports: &PortSet, ip: IpAddr, port: u16, use_ports: bool) -> bool {
    ips.contains(ip) && (!use_ports || ports.contains(port))
}

fn header_matches(rule: &Rule, pkt: &PacketContext<'_>) -> bool {
    let ports = matches!(pkt.ip_proto, 6 | 17);
    let fwd = side_matches(&rule.src, &rule.src_ports, pkt.src, pkt.src_port, ports)
        && side_matches(&rule.dst, &rule.dst_ports, pkt.dst, pkt.dst_port, ports);
    fwd || (rule.direction == Direction::Both
        && side_matches(&rule.src, &rule.src_ports, pkt.dst, pkt.dst_port, ports)
        && side_matches(&rule.dst, &rule.dst_ports, pkt.src, pkt.src_port, ports))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{AppProto, BufferList, NoBuffers};
    use crate::rules::{Classifications, RuleSet, Vars};

    fn engine(rules: &str) -> Engine {
        let mut set = RuleSet::default();
        set.add_source(
            std::path::Path::new("t.rules"),
            rules,
            &Vars::suricata_defaults(),
            &Classifications::suricata_default(),
        );
        assert!(set.failures.is_empty(), "{:?}", set.failures);
        assert!(set.unsupported.is_empty(), "{:?}", set.unsupported);
        let (e, errs) = Engine::build(&set.rules);
        assert!(errs.is_empty(), "{errs:?}");
        e
    }

    fn pkt(payload: &[u8]) -> PacketContext<'_> {
        PacketContext {
            src: "10.0.0.1".parse().unwrap(),
            dst: "192.0.2.7".parse().unwrap(),
            src_port: 40000,
            dst_port: 80,
            ip_proto: 6,
            direction: FlowDirection::ToServer,
            established: true,
            tcp_flags: 0x18,
            payload,
            stream_added: false,
            fragment: false,
            time_ns: 1_000_000_000,
        }
    }

    /// Runs packets through one flow; returns the sids alerted per packet.
    struct Run {
        e: Engine,
        flow: FlowState,
        th: ThresholdState,
        scratch: Scratch,
        alerts: Alerts,
    }

    impl Run {
        fn new(rules: &str) -> Run {
            let e = engine(rules);
            Run {
                flow: e.new_flow_state(),
                th: e.new_threshold_state(),
                scratch: e.new_scratch(),
                alerts: Alerts::default(),
                e,
            }
        }
        fn sids(&mut self, p: &PacketContext<'_>, b: &dyn Buffers) -> (Vec<u32>, Verdict) {
            let v = self.e.inspect(
                p,
                b,
                &mut self.flow,
                &mut self.th,
                &mut self.scratch,
                &mut self.alerts,
            );
            (self.alerts.as_slice().iter().map(|a| a.sid).collect(), v)
        }
        fn payload(&mut self, payload: &[u8]) -> Vec<u32> {
            self.sids(&pkt(payload), &NoBuffers).0
        }
    }

    #[test]
    fn header_addresses_ports_and_direction() {
        let mut r = Run::new(
            "alert tcp $HOME_NET any -> any 80 (content:\"x\"; sid:1;)\n\
             alert tcp any any -> $HOME_NET any (content:\"x\"; sid:2;)\n\
             alert tcp any 80 <> any any (content:\"x\"; sid:3;)\n\
             alert udp any any -> any any (content:\"x\"; sid:4;)\n\
             alert ip any any -> any any (content:\"x\"; sid:5;)\n\
             alert tcp any any -> any 81 (content:\"x\"; sid:6;)\n\
             alert tcp any any -> any any (flow:to_client; content:\"x\"; sid:7;)\n",
        );
        assert_eq!(r.payload(b"x"), vec![1, 3, 5]);
    }

    #[test]
    fn action_order_pass_and_noalert() {
        let mut r = Run::new(
            "alert tcp any any -> any any (content:\"a\"; sid:1;)\n\
             drop tcp any any -> any any (content:\"a\"; sid:2;)\n\
             alert tcp any any -> any any (content:\"a\"; noalert; sid:3;)\n",
        );
        let (sids, v) = r.sids(&pkt(b"a"), &NoBuffers);
        // Drop rules are ordered before alert rules; noalert raises nothing.
        assert_eq!(sids, vec![2, 1]);
        assert!(v.drop && !v.pass);
        let mut r = Run::new(
            "alert tcp any any -> any any (content:\"a\"; sid:1;)\n\
             pass tcp any any -> any any (content:\"b\"; sid:2;)\n",
        );
        assert_eq!(r.payload(b"a"), vec![1]);
        let (sids, v) = r.sids(&pkt(b"ab"), &NoBuffers);
        assert!(sids.is_empty() && v.pass);
        // A packet-payload pass does not pass the flow.
        assert!(!r.flow.passed);
        assert_eq!(r.payload(b"a"), vec![1]);
        // A pass without payload keywords passes the whole flow.
        let mut r = Run::new(
            "alert tcp any any -> any any (content:\"a\"; sid:1;)\n\
             pass tcp any any -> any 80 (sid:2;)\n",
        );
        assert!(r.payload(b"a").is_empty());
        assert!(r.flow.passed);
        let (_, v) = r.sids(&pkt(b"a"), &NoBuffers);
        assert!(v.skipped);
    }

    #[test]
    fn flowbits_order_within_and_across_packets() {
        // The setter sorts before the reader, so both fire on the same packet.
        let mut r = Run::new(
            "alert tcp any any -> any any (content:\"login\"; flowbits:isset,seen; sid:1;)\n\
             alert tcp any any -> any any (content:\"user\"; flowbits:set,seen; flowbits:noalert; sid:2;)\n\
             alert tcp any any -> any any (content:\"x\"; flowbits:isnotset,seen; sid:3;)\n\
             alert tcp any any -> any any (content:\"y\"; flowbits:toggle,seen; sid:4;)\n\
             alert tcp any any -> any any (content:\"z\"; flowbits:unset,seen; sid:5;)\n",
        );
        assert_eq!(r.payload(b"x login"), vec![3]);
        assert_eq!(r.payload(b"user login"), vec![1]);
        assert_eq!(r.payload(b"x"), Vec::<u32>::new());
        assert_eq!(r.payload(b"z"), vec![5]);
        assert_eq!(r.payload(b"x"), vec![3]);
        assert_eq!(r.payload(b"y"), vec![4]);
        assert_eq!(r.payload(b"login"), vec![1]);
        // Another flow has its own bits.
        let mut other = r.e.new_flow_state();
        std::mem::swap(&mut r.flow, &mut other);
        assert_eq!(r.payload(b"login x"), vec![3]);
    }

    #[test]
    fn thresholds_by_source_across_packets() {
        let mut r = Run::new(
            "alert tcp any any -> any any (content:\"a\"; threshold:type limit, track by_src, count 2, seconds 60; sid:1;)\n\
             alert tcp any any -> any any (content:\"b\"; detection_filter:track by_dst, count 2, seconds 60; sid:2;)\n\
             alert tcp any any -> any any (content:\"c\"; threshold:type threshold, track by_rule, count 2, seconds 60; sid:3;)\n",
        );
        let got: Vec<Vec<u32>> = (0..4).map(|_| r.payload(b"abc")).collect();
        assert_eq!(got, vec![vec![1], vec![1, 3], vec![2], vec![2, 3]]);
        // Another source starts its own limit.
        let mut p = pkt(b"a");
        p.src = "10.9.9.9".parse().unwrap();
        assert_eq!(r.sids(&p, &NoBuffers).0, vec![1]);
    }

    #[test]
    fn flow_keyword_and_packet_fields() {
        let mut r = Run::new(
            "alert tcp any any -> any any (flow:established,to_server; content:\"a\"; sid:1;)\n\
             alert tcp any any -> any any (flow:not_established; content:\"a\"; sid:2;)\n\
             alert tcp any any -> any any (flags:PA; dsize:1; sid:3;)\n\
             alert tcp any any -> any any (flags:S; sid:4;)\n\
             alert tcp any any -> any any (dsize:>5; content:\"a\"; sid:5;)\n",
        );
        assert_eq!(r.payload(b"a"), vec![1, 3]);
        let mut p = pkt(b"a");
        p.established = false;
        p.tcp_flags = 0x02;
        assert_eq!(r.sids(&p, &NoBuffers).0, vec![2, 4]);
    }

    #[test]
    fn stream_before_packet() {
        let mut r = Run::new(
            "alert tcp any any -> any any (content:\"split\"; sid:1;)\n\
             alert tcp any any -> any any (flow:only_stream; content:\"pkt\"; sid:2;)\n\
             alert tcp any any -> any any (flow:no_stream; content:\"pkt\"; sid:3;)\n",
        );
        let stream = BufferList::new(AppProto::Unknown).with(BufferId::RawStream, b"..split..");
        let mut p = pkt(b"lit.. pkt");
        p.stream_added = true;
        let (sids, _) = r.sids(&p, &stream);
        assert_eq!(sids, vec![1, 3]);
        assert!(r.alerts.as_slice()[0].stream_match);
        // Without stream data, a packet not added to the stream is inspected itself.
        assert_eq!(r.payload(b"split pkt"), vec![1, 3]);
    }

    #[test]
    fn app_layer_buffers_and_protocol() {
        let mut r = Run::new(
            "alert http any any -> any any (http.uri; content:\"/admin\"; http.method; content:\"POST\"; sid:1;)\n\
             alert dns any any -> any any (dns.query; dotprefix; content:\".evil.com\"; endswith; sid:2;)\n\
             alert tcp any any -> any any (app-layer-protocol:http; sid:3;)\n\
             alert tcp any any -> any any (app-layer-protocol:!http; content:\"q\"; sid:4;)\n\
             alert http any any -> any any (content:\"raw\"; sid:5;)\n",
        );
        let http = BufferList::new(AppProto::Http)
            .with(BufferId::HttpUri, b"/admin/x")
            .with(BufferId::HttpMethod, b"POST");
        // Alerts come in rule order (here: by sid).
        assert_eq!(r.sids(&pkt(b"raw q"), &http).0, vec![1, 3, 5]);
        let get = BufferList::new(AppProto::Http)
            .with(BufferId::HttpUri, b"/admin/x")
            .with(BufferId::HttpMethod, b"GET");
        assert_eq!(r.sids(&pkt(b""), &get).0, vec![3]);
        let dns = BufferList::new(AppProto::Dns).with(BufferId::DnsQuery, b"evil.com");
        let mut p = pkt(b"q");
        p.ip_proto = 17;
        assert_eq!(r.sids(&p, &dns).0, vec![2]);
        let dns = BufferList::new(AppProto::Dns).with(BufferId::DnsQuery, b"notevil.com");
        assert!(r.sids(&p, &dns).0.is_empty());
    }

    #[test]
    fn fast_pattern_choice_follows_suricata() {
        let rule = |opts: &str| {
            crate::rules::parse_rule(
                &format!("alert tcp any any -> any any ({opts} sid:1;)"),
                &Vars::suricata_defaults(),
                &Classifications::suricata_default(),
            )
            .unwrap()
        };
        let fp = |opts: &str| fast_pattern(&rule(opts)).map(|(_, p, n)| (p, n));
        assert_eq!(
            fp(r#"content:"ab"; content:"abcd";"#),
            Some((b"abcd".to_vec(), false))
        );
        assert_eq!(
            fp(r#"content:"abcd"; fast_pattern; content:"abcdef";"#),
            Some((b"abcd".to_vec(), false))
        );
        assert_eq!(
            fp(r#"content:"abcdef"; fast_pattern:2,3;"#),
            Some((b"cde".to_vec(), false))
        );
        assert_eq!(
            fp(r#"content:!"abcdef"; content:"ab";"#),
            Some((b"ab".to_vec(), false))
        );
        assert_eq!(fp(r#"content:!"abc";"#), Some((b"abc".to_vec(), true)));
        // Same length: the stronger (more distinct, non-letter bytes) wins.
        assert_eq!(
            fp(r#"content:"aaaa"; content:"|01 02 03 04|";"#),
            Some((vec![1, 2, 3, 4], false))
        );
        assert_eq!(fp("dsize:1;"), None);
        assert_eq!(pattern_strength(b"aab"), 3 + 1 + 3);
    }

    #[test]
    fn prefilter_never_hides_a_match() {
        // Every rule matched by direct verification is found through the groups.
        let rules = "alert tcp any any -> any 80 (content:\"GET\"; nocase; content:\"/x\"; sid:1;)\n\
                     alert tcp any any -> any [80,443] (content:\"ab\"; fast_pattern:0,1; sid:2;)\n\
                     alert tcp any any -> any !22 (content:!\"zz\"; sid:3;)\n\
                     alert tcp any any -> any 1024: (content:\"GET\"; sid:4;)\n\
                     alert tcp any any <> any 80 (content:\"et /\"; sid:5;)\n";
        let mut r = Run::new(rules);
        for (port, payload, want) in [
            (80u16, &b"get /x"[..], vec![1, 3, 5]),
            (443, b"ab", vec![2, 3]),
            (22, b"GET", vec![]),
            (8080, b"GET", vec![3, 4]),
        ] {
            let mut p = pkt(payload);
            p.dst_port = port;
            let mut got = r.sids(&p, &NoBuffers).0;
            got.sort();
            assert_eq!(got, want, "port {port}");
        }
    }

    /// A UDP flow of ten packets checked against Suricata 7.0.10 (`suricata -r` with the
    /// benchmark kit's suricata.yaml): flowbit order within a packet, limit, both,
    /// detection_filter, a packet-only pass, toggle with noalert.
    #[test]
    fn agrees_with_suricata_7_0_10_across_packets() {
        let mut r = Run::new(
            "alert udp any any -> any 7000 (content:\"p\"; flowbits:isset,x; sid:1;)\n\
             alert udp any any -> any 7000 (content:\"p\"; flowbits:set,x; sid:2;)\n\
             alert udp any any -> any 7000 (content:\"L\"; threshold:type limit, track by_src, count 1, seconds 60; sid:3;)\n\
             alert udp any any -> any 7000 (content:\"B\"; threshold:type both, track by_dst, count 2, seconds 60; sid:4;)\n\
             alert udp any any -> any 7000 (content:\"D\"; detection_filter:track by_src, count 2, seconds 60; sid:5;)\n\
             pass udp any any -> any 7000 (content:\"Q\"; sid:6;)\n\
             alert udp any any -> any 7000 (content:\"q\"; nocase; sid:7;)\n\
             alert udp any any -> any 7000 (content:\"T\"; flowbits:toggle,y; flowbits:noalert; sid:8;)\n\
             alert udp any any -> any 7000 (content:\"Y\"; flowbits:isset,y; sid:9;)\n",
        );
        let payloads: [&[u8]; 10] = [
            b"p", b"p", b"LBD", b"LBD", b"LBD", b"Q q", b"q", b"TY", b"TY", b"TY",
        ];
        let want: [&[u32]; 10] = [
            &[2, 1],
            &[2, 1],
            &[3],
            &[4],
            &[5],
            &[],
            &[7],
            &[9],
            &[],
            &[9],
        ];
        for (i, (payload, want)) in payloads.iter().zip(want).enumerate() {
            let mut p = pkt(payload);
            p.ip_proto = 17;
            p.dst_port = 7000;
            p.time_ns = (1_700_000_000 + i as u64) * 1_000_000_000;
            assert_eq!(r.sids(&p, &NoBuffers).0, want, "packet {}", i + 1);
        }
    }

    /// Checked against Suricata 7.0.10: a pass rule without payload keywords passes the whole
    /// flow, with or without a port in its header (the second packet of each flow is quiet).
    #[test]
    fn pass_without_payload_passes_the_flow_like_suricata() {
        for pass in [
            "pass udp 10.0.0.1 any -> 192.0.2.7 7001 (sid:1;)",
            "pass udp 10.0.0.1 any -> 192.0.2.7 any (sid:3;)",
        ] {
            let mut r = Run::new(&format!(
                "{pass}\nalert udp any any -> any any (content:\"a\"; sid:2;)\n"
            ));
            for _ in 0..2 {
                let mut p = pkt(b"a");
                p.ip_proto = 17;
                p.dst_port = 7001;
                assert!(r.sids(&p, &NoBuffers).0.is_empty(), "{pass}");
            }
            assert!(r.flow.passed);
        }
    }

    #[test]
    fn alerts_buffer_is_bounded() {
        let rules: String = (1..=20)
            .map(|i| format!("alert tcp any any -> any any (content:\"a\"; sid:{i};)\n"))
            .collect();
        let mut r = Run::new(&rules);
        r.alerts = Alerts::with_max(15);
        assert_eq!(r.payload(b"a").len(), 15);
        assert_eq!(r.alerts.discarded, 5);
    }
}
