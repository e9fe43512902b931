//! Writing a policy image from typed rules: the probe's side of [`crate::image`].
//!
//! The builder anchors each path rule in its trie, sorts every node's children by name,
//! assigns rule ids in the order rules were added (the id indexes the label table, so events
//! can name the rule), and precomputes the answers that need no path. It validates every
//! pattern, so an image it writes always passes [`PolicyImage::new_checked`].
//!
//! [`PolicyImage::new_checked`]: crate::image::PolicyImage::new_checked

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::glob::{self, GlobError};
use crate::image::{
    FamilyClass, HEADER_LEN, MAGIC, NO_NODE, RuleKind, Section, Uniform, VERSION, field,
};
use crate::{Access, Effect, Mode, Verdict};

/// Why an image could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// A path or Unix socket pattern is not valid.
    Pattern {
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        error: GlobError,
    },
    /// An `argv0` pattern is empty or holds a NUL.
    Argv0(String),
    /// The image would pass 4 GiB, or a table 2^32 records.
    TooBig,
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::Pattern { pattern, error } => write!(f, "pattern {pattern:?}: {error}"),
            BuildError::Argv0(p) => write!(f, "argv0 pattern {p:?}: must be non-empty, no NUL"),
            BuildError::TooBig => f.write_str("policy too big for an image (4 GiB)"),
        }
    }
}

impl std::error::Error for BuildError {}

/// A rule on a path: a file to open, or a program to execute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRule {
    pattern: Vec<u8>,
    effect: Effect,
    access: Access,
    argv0: Option<Vec<u8>>,
    label: String,
}

impl PathRule {
    /// A rule on an absolute path pattern (see [`crate::glob`]) covering every access.
    /// `label` is how events name the rule.
    pub fn new(
        pattern: &str,
        effect: Effect,
        label: impl Into<String>,
    ) -> Result<Self, BuildError> {
        glob::validate(pattern.as_bytes()).map_err(|error| BuildError::Pattern {
            pattern: pattern.to_owned(),
            error,
        })?;
        Ok(PathRule {
            pattern: pattern.as_bytes().to_vec(),
            effect,
            access: Access::ALL,
            argv0: None,
            label: label.into(),
        })
    }

    /// Restricts a file rule to some access (a deny rule then matches opens asking for any of
    /// it, an allow rule opens asking for no more than it).
    pub fn with_access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    /// Adds an `argv0` pattern to an exec rule (`*` and `?`; `/` is an ordinary byte).
    pub fn with_argv0(mut self, argv0: &str) -> Result<Self, BuildError> {
        if argv0.is_empty() || argv0.contains('\0') || argv0.len() > glob::MAX_PATTERN {
            return Err(BuildError::Argv0(argv0.to_owned()));
        }
        self.argv0 = Some(argv0.as_bytes().to_vec());
        Ok(self)
    }
}

/// What a network rule matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetTarget {
    /// IPv4 addresses in a prefix, and ports in a range (inclusive).
    V4 {
        /// Network address.
        addr: Ipv4Addr,
        /// Prefix length, 0..=32.
        prefix: u8,
        /// Port range.
        ports: (u16, u16),
    },
    /// IPv6 addresses in a prefix, and ports in a range (inclusive).
    V6 {
        /// Network address.
        addr: Ipv6Addr,
        /// Prefix length, 0..=128.
        prefix: u8,
        /// Port range.
        ports: (u16, u16),
    },
    /// Unix socket paths: an absolute path pattern, or `@name` (a pattern) for abstract
    /// sockets.
    Unix(String),
    /// Every connection of one address family (`sa_family`).
    Family(u16),
}

/// A rule on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetRule {
    target: NetTarget,
    effect: Effect,
    label: String,
}

impl NetRule {
    /// A network rule. Unix patterns are validated like path patterns.
    pub fn new(
        target: NetTarget,
        effect: Effect,
        label: impl Into<String>,
    ) -> Result<Self, BuildError> {
        if let NetTarget::Unix(p) = &target {
            let checked = match p.strip_prefix('@') {
                Some("") => Err(GlobError::Empty),
                Some(name) => glob::validate_relative(name.as_bytes()),
                None => glob::validate(p.as_bytes()),
            };
            checked.map_err(|error| BuildError::Pattern {
                pattern: p.clone(),
                error,
            })?;
        }
        let target = match target {
            NetTarget::V4 {
                addr,
                prefix,
                ports,
            } => NetTarget::V4 {
                addr,
                prefix: prefix.min(32),
                ports,
            },
            NetTarget::V6 {
                addr,
                prefix,
                ports,
            } => NetTarget::V6 {
                addr,
                prefix: prefix.min(128),
                ports,
            },
            other => other,
        };
        Ok(NetRule {
            target,
            effect,
            label: label.into(),
        })
    }
}

/// Builds one policy image.
#[derive(Debug, Clone)]
pub struct ImageBuilder {
    /// The generation written into the image.
    pub generation: u64,
    /// The mode.
    pub mode: Mode,
    /// Default of the files table.
    pub file_default: Verdict,
    /// Default of the exec table.
    pub exec_default: Verdict,
    /// Default of the network table.
    pub net_default: Verdict,
    /// errno of a denied execution.
    pub exec_errno: i32,
    /// errno of a denied open.
    pub file_errno: i32,
    /// errno of a denied connect.
    pub net_errno: i32,
    /// Allowed calls reported per second per process in audit mode.
    pub audit_rate: u32,
    labels: Vec<String>,
    file_rules: Vec<(PathRule, u32)>,
    exec_rules: Vec<(PathRule, u32)>,
    net_rules: Vec<(NetRule, u32)>,
}

impl ImageBuilder {
    /// An empty policy of this generation: enforce, allow by default, `EPERM` for exec,
    /// `EACCES` for files, `ECONNREFUSED` for connect, 20 audit events a second.
    pub fn new(generation: u64) -> Self {
        ImageBuilder {
            generation,
            mode: Mode::Enforce,
            file_default: Verdict::Allow,
            exec_default: Verdict::Allow,
            net_default: Verdict::Allow,
            exec_errno: libc::EPERM,
            file_errno: libc::EACCES,
            net_errno: libc::ECONNREFUSED,
            audit_rate: 20,
            labels: Vec::new(),
            file_rules: Vec::new(),
            exec_rules: Vec::new(),
            net_rules: Vec::new(),
        }
    }

    fn next_id(&mut self, label: &str) -> u32 {
        self.labels.push(label.to_owned());
        (self.labels.len() - 1) as u32
    }

    /// Adds a files rule; returns its id.
    pub fn file_rule(&mut self, rule: PathRule) -> u32 {
        let id = self.next_id(&rule.label);
        self.file_rules.push((rule, id));
        id
    }

    /// Adds an exec rule; returns its id.
    pub fn exec_rule(&mut self, rule: PathRule) -> u32 {
        let id = self.next_id(&rule.label);
        self.exec_rules.push((rule, id));
        id
    }

    /// Adds a network rule; returns its id.
    pub fn net_rule(&mut self, rule: NetRule) -> u32 {
        let id = self.next_id(&rule.label);
        self.net_rules.push((rule, id));
        id
    }

    /// Writes the image.
    pub fn build(&self) -> Result<Vec<u8>, BuildError> {
        let mut w = Writer::default();
        let file_root = w.trie(&self.file_rules)?;
        let exec_root = w.trie(&self.exec_rules)?;
        for label in &self.labels {
            let label = clip(label.as_bytes(), 1024);
            let off = w.string(label)?;
            w.labels.extend_from_slice(&off.to_le_bytes());
            w.labels
                .extend_from_slice(&(label.len() as u32).to_le_bytes());
        }
        for (rule, id) in &self.net_rules {
            let effect = rule.effect as u8;
            match &rule.target {
                NetTarget::V4 {
                    addr,
                    prefix,
                    ports,
                } => {
                    let mut r = [0u8; 16];
                    r[..4].copy_from_slice(&addr.octets());
                    r[4] = *prefix;
                    r[5] = effect;
                    r[6..8].copy_from_slice(&ports.0.to_le_bytes());
                    r[8..10].copy_from_slice(&ports.1.to_le_bytes());
                    r[12..16].copy_from_slice(&id.to_le_bytes());
                    w.net4.extend_from_slice(&r);
                }
                NetTarget::V6 {
                    addr,
                    prefix,
                    ports,
                } => {
                    let mut r = [0u8; 28];
                    r[..16].copy_from_slice(&addr.octets());
                    r[16] = *prefix;
                    r[17] = effect;
                    r[18..20].copy_from_slice(&ports.0.to_le_bytes());
                    r[20..22].copy_from_slice(&ports.1.to_le_bytes());
                    r[24..28].copy_from_slice(&id.to_le_bytes());
                    w.net6.extend_from_slice(&r);
                }
                NetTarget::Unix(pattern) => {
                    let off = w.string(pattern.as_bytes())?;
                    let mut r = [0u8; 12];
                    r[..4].copy_from_slice(&off.to_le_bytes());
                    r[4..6].copy_from_slice(&(pattern.len() as u16).to_le_bytes());
                    r[6] = effect;
                    r[8..12].copy_from_slice(&id.to_le_bytes());
                    w.unix.extend_from_slice(&r);
                }
                NetTarget::Family(family) => {
                    let mut r = [0u8; 8];
                    r[..2].copy_from_slice(&family.to_le_bytes());
                    r[2] = effect;
                    r[4..8].copy_from_slice(&id.to_le_bytes());
                    w.family.extend_from_slice(&r);
                }
            }
        }

        let mut header = [0u8; HEADER_LEN];
        header[field::MAGIC].copy_from_slice(&MAGIC);
        header[field::VERSION].copy_from_slice(&VERSION.to_le_bytes());
        header[field::HEADER_LEN].copy_from_slice(&(HEADER_LEN as u32).to_le_bytes());
        header[field::GENERATION].copy_from_slice(&self.generation.to_le_bytes());
        header[field::MODE] = self.mode as u8;
        header[field::FILE_DEFAULT] = self.file_default as u8;
        header[field::EXEC_DEFAULT] = self.exec_default as u8;
        header[field::NET_DEFAULT] = self.net_default as u8;
        header[field::EXEC_ERRNO].copy_from_slice(&(self.exec_errno as u16).to_le_bytes());
        header[field::FILE_ERRNO].copy_from_slice(&(self.file_errno as u16).to_le_bytes());
        header[field::NET_ERRNO].copy_from_slice(&(self.net_errno as u16).to_le_bytes());
        header[field::AUDIT_RATE].copy_from_slice(&self.audit_rate.to_le_bytes());
        for a in 0..8u8 {
            header[field::FILE_UNIFORM.start + usize::from(a)] = self.file_uniform(Access(a)) as u8;
        }
        header[field::EXEC_UNIFORM] = self.exec_uniform() as u8;
        for class in [
            FamilyClass::Inet,
            FamilyClass::Inet6,
            FamilyClass::Unix,
            FamilyClass::Other,
        ] {
            header[field::NET_UNIFORM.start + class as usize] = self.net_uniform(class) as u8;
        }
        header[field::FILE_ROOT].copy_from_slice(&file_root.to_le_bytes());
        header[field::EXEC_ROOT].copy_from_slice(&exec_root.to_le_bytes());

        let sections: [(&[u8], Section); 9] = [
            (&w.strings, Section::Strings),
            (&w.nodes, Section::Nodes),
            (&w.edges, Section::Edges),
            (&w.rules, Section::Rules),
            (&w.labels, Section::Labels),
            (&w.net4, Section::Net4),
            (&w.net6, Section::Net6),
            (&w.unix, Section::Unix),
            (&w.family, Section::Family),
        ];
        let mut out = header.to_vec();
        for (i, (bytes, section)) in sections.iter().enumerate() {
            // Records start 4-byte aligned (not needed by the reader, kind to a debugger).
            while out.len() % 4 != 0 {
                out.push(0);
            }
            let off = u32::try_from(out.len()).map_err(|_| BuildError::TooBig)?;
            let count = u32::try_from(bytes.len() / section.record_len())
                .map_err(|_| BuildError::TooBig)?;
            let at = field::SECTIONS.start + 8 * i;
            out[at..at + 4].copy_from_slice(&off.to_le_bytes());
            out[at + 4..at + 8].copy_from_slice(&count.to_le_bytes());
            out.extend_from_slice(bytes);
        }
        let total = u32::try_from(out.len()).map_err(|_| BuildError::TooBig)?;
        out[field::TOTAL_LEN].copy_from_slice(&total.to_le_bytes());
        Ok(out)
    }

    /// The files answer for `access` that no path can change, if there is one.
    fn file_uniform(&self, access: Access) -> Uniform {
        if access == Access::NONE {
            return Uniform::Allow;
        }
        let deny_possible = self
            .file_rules
            .iter()
            .any(|(r, _)| r.effect == Verdict::Deny && r.access.intersects(access));
        let allow_possible = self
            .file_rules
            .iter()
            .any(|(r, _)| r.effect == Verdict::Allow && r.access.contains(access));
        uniform(self.file_default, deny_possible, allow_possible)
    }

    fn exec_uniform(&self) -> Uniform {
        let has = |e| self.exec_rules.iter().any(|(r, _)| r.effect == e);
        uniform(self.exec_default, has(Verdict::Deny), has(Verdict::Allow))
    }

    fn net_uniform(&self, class: FamilyClass) -> Uniform {
        let applies = |t: &NetTarget| match (t, class) {
            (NetTarget::V4 { .. }, FamilyClass::Inet | FamilyClass::Inet6) => true,
            (NetTarget::V6 { .. }, FamilyClass::Inet6) => true,
            (NetTarget::Unix(_), FamilyClass::Unix) => true,
            (NetTarget::Family(f), c) => FamilyClass::of(*f) == c,
            _ => false,
        };
        let has = |e| {
            self.net_rules
                .iter()
                .any(|(r, _)| r.effect == e && applies(&r.target))
        };
        uniform(self.net_default, has(Verdict::Deny), has(Verdict::Allow))
    }
}

fn uniform(default: Verdict, deny_possible: bool, allow_possible: bool) -> Uniform {
    match default {
        Verdict::Allow if !deny_possible => Uniform::Allow,
        Verdict::Deny if !allow_possible => Uniform::Deny,
        _ => Uniform::Depends,
    }
}

fn clip(s: &[u8], max: usize) -> &[u8] {
    &s[..s.len().min(max)]
}

/// A trie node while building: children by segment name, and the rules anchored here.
#[derive(Default)]
struct Node {
    children: BTreeMap<Vec<u8>, usize>,
    rules: Vec<usize>,
}

/// The sections being written.
#[derive(Default)]
struct Writer {
    strings: Vec<u8>,
    nodes: Vec<u8>,
    edges: Vec<u8>,
    rules: Vec<u8>,
    labels: Vec<u8>,
    net4: Vec<u8>,
    net6: Vec<u8>,
    unix: Vec<u8>,
    family: Vec<u8>,
    node_count: u32,
}

impl Writer {
    fn string(&mut self, s: &[u8]) -> Result<u32, BuildError> {
        let off = u32::try_from(self.strings.len()).map_err(|_| BuildError::TooBig)?;
        self.strings.extend_from_slice(s);
        Ok(off)
    }

    /// Writes the trie of `rules`; returns its root node (or [`NO_NODE`] without rules).
    fn trie(&mut self, rules: &[(PathRule, u32)]) -> Result<u32, BuildError> {
        if rules.is_empty() {
            return Ok(NO_NODE);
        }
        let mut nodes = vec![Node::default()];
        let mut rests: Vec<(&[u8], RuleKind)> = Vec::with_capacity(rules.len());
        for (i, (rule, _)) in rules.iter().enumerate() {
            let body = &rule.pattern[1..];
            let mut node = 0usize;
            let mut rest: &[u8] = body;
            while !rest.is_empty() {
                let (seg, after) = match rest.iter().position(|&b| b == b'/') {
                    Some(i) => (&rest[..i], &rest[i + 1..]),
                    None => (rest, &[][..]),
                };
                if glob::has_wildcard(seg) {
                    break;
                }
                node = match nodes[node].children.get(seg) {
                    Some(&child) => child,
                    None => {
                        nodes.push(Node::default());
                        let child = nodes.len() - 1;
                        nodes[node].children.insert(seg.to_vec(), child);
                        child
                    }
                };
                rest = after;
            }
            let kind = match rest {
                b"" => RuleKind::End,
                b"**" => RuleKind::Any,
                _ => RuleKind::Glob,
            };
            nodes[node].rules.push(i);
            rests.push((rest, kind));
        }

        // Breadth-first numbering, so that a node's children are contiguous.
        let base = self.node_count;
        let mut order = vec![0usize];
        let mut number = vec![0u32; nodes.len()];
        let mut i = 0;
        while i < order.len() {
            let n = order[i];
            number[n] = base + i as u32;
            order.extend(nodes[n].children.values().copied());
            i += 1;
        }
        for &n in &order {
            let node = &nodes[n];
            let edge_start = (self.edges.len() / Section::Edges.record_len()) as u32;
            let rule_start = (self.rules.len() / Section::Rules.record_len()) as u32;
            for (name, &child) in &node.children {
                let off = self.string(name)?;
                self.edges.extend_from_slice(&off.to_le_bytes());
                self.edges
                    .extend_from_slice(&(name.len() as u32).to_le_bytes());
                self.edges.extend_from_slice(&number[child].to_le_bytes());
            }
            for &r in &node.rules {
                let (rule, id) = &rules[r];
                let (rest, kind) = rests[r];
                let pat_off = self.string(rest)?;
                let argv0 = rule.argv0.as_deref().unwrap_or(&[]);
                let argv0_off = self.string(argv0)?;
                let mut rec = [0u8; 20];
                rec[..4].copy_from_slice(&pat_off.to_le_bytes());
                rec[4..8].copy_from_slice(&argv0_off.to_le_bytes());
                rec[8..12].copy_from_slice(&id.to_le_bytes());
                rec[12..14].copy_from_slice(&(rest.len() as u16).to_le_bytes());
                rec[14..16].copy_from_slice(&(argv0.len() as u16).to_le_bytes());
                rec[16] = rule.effect as u8;
                rec[17] = rule.access.0;
                rec[18] = kind as u8;
                self.rules.extend_from_slice(&rec);
            }
            self.nodes.extend_from_slice(&edge_start.to_le_bytes());
            self.nodes
                .extend_from_slice(&(node.children.len() as u32).to_le_bytes());
            self.nodes.extend_from_slice(&rule_start.to_le_bytes());
            self.nodes
                .extend_from_slice(&(node.rules.len() as u32).to_le_bytes());
        }
        self.node_count += order.len() as u32;
        Ok(base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{ConnectTarget, NO_RULE, PolicyImage};
    use proptest::prelude::*;

    fn rule(p: &str, e: Effect) -> PathRule {
        PathRule::new(p, e, format!("{} {p}", e.name())).unwrap()
    }

    fn image(b: &ImageBuilder) -> Vec<u8> {
        let bytes = b.build().unwrap();
        PolicyImage::new_checked(&bytes).unwrap();
        bytes
    }

    #[test]
    fn deny_wins_and_default_decides_the_rest() {
        let mut b = ImageBuilder::new(3);
        let shadow = b.file_rule(rule("/etc/shadow", Verdict::Deny));
        let etc = b.file_rule(rule("/etc/**", Verdict::Allow));
        let keys = b.file_rule(rule("/etc/ssh/*_key", Verdict::Deny));
        let logs = b.file_rule(
            rule("/var/log/**", Verdict::Deny)
                .with_access(Access(Access::WRITE.0 | Access::CREATE.0)),
        );
        b.file_default = Verdict::Deny;
        let bytes = image(&b);
        let img = PolicyImage::new_checked(&bytes).unwrap();
        let d = |p: &str, a| img.decide_file(p.as_bytes(), a);
        assert_eq!(d("/etc/shadow", Access::READ).rule, shadow);
        assert_eq!(d("/etc/shadow", Access::READ).verdict, Verdict::Deny);
        assert_eq!(d("/etc/hostname", Access::READ).rule, etc);
        assert_eq!(d("/etc/hostname", Access::READ).verdict, Verdict::Allow);
        assert_eq!(d("/etc", Access::READ).rule, etc);
        assert_eq!(d("/etc/ssh/ssh_host_rsa_key", Access::READ).rule, keys);
        assert_eq!(d("/etc/ssh/ssh_host_rsa_key.pub", Access::READ).rule, etc);
        // Not under any rule: the files default (deny).
        assert_eq!(d("/usr/bin/ls", Access::READ).rule, NO_RULE);
        assert_eq!(d("/usr/bin/ls", Access::READ).verdict, Verdict::Deny);
        // The log rule denies writes only.
        assert_eq!(d("/var/log/syslog", Access::WRITE).rule, logs);
        assert_eq!(d("/var/log/syslog", Access::READ).rule, NO_RULE);
        // O_PATH is never denied.
        assert_eq!(d("/etc/shadow", Access::NONE).verdict, Verdict::Allow);
        assert_eq!(img.label(shadow), b"deny /etc/shadow");
        assert_eq!(img.label(NO_RULE), b"");
        assert_eq!(img.generation(), 3);
    }

    #[test]
    fn an_allow_rule_must_cover_all_the_access_asked() {
        let mut b = ImageBuilder::new(1);
        b.file_default = Verdict::Deny;
        let ro = b.file_rule(rule("/data/**", Verdict::Allow).with_access(Access::READ));
        let bytes = image(&b);
        let img = PolicyImage::new_checked(&bytes).unwrap();
        assert_eq!(img.decide_file(b"/data/x", Access::READ).rule, ro);
        let rw = img.decide_file(b"/data/x", Access(Access::READ.0 | Access::WRITE.0));
        assert_eq!((rw.verdict, rw.rule), (Verdict::Deny, NO_RULE));
    }

    #[test]
    fn precomputed_answers() {
        let mut b = ImageBuilder::new(1);
        b.file_rule(rule("/etc/shadow", Verdict::Deny).with_access(Access::WRITE));
        let bytes = image(&b);
        let img = PolicyImage::new_checked(&bytes).unwrap();
        // Reads cannot be denied by any rule: allowed whatever the path.
        assert_eq!(img.file_uniform(Access::READ), Uniform::Allow);
        assert_eq!(img.file_uniform(Access::WRITE), Uniform::Depends);
        assert_eq!(img.exec_uniform(), Uniform::Allow);
        assert_eq!(img.net_uniform(FamilyClass::Inet), Uniform::Allow);

        let mut b = ImageBuilder::new(1);
        b.net_default = Verdict::Deny;
        b.net_rule(
            NetRule::new(
                NetTarget::V4 {
                    addr: Ipv4Addr::new(10, 0, 0, 0),
                    prefix: 8,
                    ports: (0, 65535),
                },
                Verdict::Allow,
                "allow 10/8",
            )
            .unwrap(),
        );
        let bytes = image(&b);
        let img = PolicyImage::new_checked(&bytes).unwrap();
        assert_eq!(img.net_uniform(FamilyClass::Inet), Uniform::Depends);
        assert_eq!(img.net_uniform(FamilyClass::Inet6), Uniform::Depends);
        assert_eq!(img.net_uniform(FamilyClass::Unix), Uniform::Deny);
    }

    #[test]
    fn exec_by_written_or_resolved_path_and_argv0() {
        let mut b = ImageBuilder::new(1);
        b.exec_default = Verdict::Deny;
        let ls = b.exec_rule(rule("/bin/ls", Verdict::Allow));
        let nc = b.exec_rule(rule("/**", Verdict::Deny).with_argv0("nc*").unwrap());
        let bytes = image(&b);
        let img = PolicyImage::new_checked(&bytes).unwrap();
        // busybox: /bin/ls links to /bin/busybox; the name it was called by is allowed.
        let d = img.decide_exec(b"/bin/ls", Some(b"/bin/busybox"), b"ls");
        assert_eq!((d.verdict, d.rule), (Verdict::Allow, ls));
        let d = img.decide_exec(b"/bin/busybox", None, b"ls");
        assert_eq!((d.verdict, d.rule), (Verdict::Deny, NO_RULE));
        let d = img.decide_exec(b"/bin/ls", None, b"nc.openbsd");
        assert_eq!((d.verdict, d.rule), (Verdict::Deny, nc));
    }

    #[test]
    fn connections() {
        let mut b = ImageBuilder::new(1);
        let smtp = b.net_rule(
            NetRule::new(
                NetTarget::V4 {
                    addr: Ipv4Addr::UNSPECIFIED,
                    prefix: 0,
                    ports: (25, 25),
                },
                Verdict::Deny,
                "deny *:25",
            )
            .unwrap(),
        );
        let v6 = b.net_rule(
            NetRule::new(
                NetTarget::V6 {
                    addr: "2001:db8::".parse().unwrap(),
                    prefix: 32,
                    ports: (1000, 2000),
                },
                Verdict::Deny,
                "deny [2001:db8::/32]:1000-2000",
            )
            .unwrap(),
        );
        let docker = b.net_rule(
            NetRule::new(NetTarget::Unix("/run/*.sock".into()), Verdict::Deny, "unix").unwrap(),
        );
        let abs = b.net_rule(
            NetRule::new(NetTarget::Unix("@x11-*".into()), Verdict::Deny, "abstract").unwrap(),
        );
        let netlink = b.net_rule(
            NetRule::new(
                NetTarget::Family(libc::AF_NETLINK as u16),
                Verdict::Deny,
                "netlink",
            )
            .unwrap(),
        );
        let bytes = image(&b);
        let img = PolicyImage::new_checked(&bytes).unwrap();
        let d = |t: ConnectTarget<'_>| img.decide_connect(&t).rule;
        assert_eq!(
            d(ConnectTarget::Inet {
                addr: [1, 2, 3, 4],
                port: 25
            }),
            smtp
        );
        assert_eq!(
            d(ConnectTarget::Inet {
                addr: [1, 2, 3, 4],
                port: 26
            }),
            NO_RULE
        );
        let mapped = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4];
        assert_eq!(
            d(ConnectTarget::Inet6 {
                addr: mapped,
                port: 25
            }),
            smtp
        );
        let doc: Ipv6Addr = "2001:db8::5".parse().unwrap();
        assert_eq!(
            d(ConnectTarget::Inet6 {
                addr: doc.octets(),
                port: 1500
            }),
            v6
        );
        assert_eq!(
            d(ConnectTarget::Inet6 {
                addr: doc.octets(),
                port: 999
            }),
            NO_RULE
        );
        assert_eq!(d(ConnectTarget::Unix(b"/run/docker.sock")), docker);
        assert_eq!(d(ConnectTarget::Unix(b"/run/x/docker.sock")), NO_RULE);
        assert_eq!(d(ConnectTarget::Unix(b"@x11-display")), abs);
        assert_eq!(d(ConnectTarget::Unix(b"/x11-display")), NO_RULE);
        assert_eq!(d(ConnectTarget::Other(libc::AF_NETLINK as u16)), netlink);
    }

    #[test]
    fn bad_patterns_are_named() {
        let e = PathRule::new("/etc/**x", Verdict::Deny, "").unwrap_err();
        assert_eq!(
            e.to_string(),
            "pattern \"/etc/**x\": `**` must be a whole path segment (like /var/**/log); use `*` within a segment"
        );
        assert!(PathRule::new("relative", Verdict::Deny, "").is_err());
        assert!(NetRule::new(NetTarget::Unix("@".into()), Verdict::Deny, "").is_err());
        assert!(
            PathRule::new("/bin/x", Verdict::Deny, "")
                .unwrap()
                .with_argv0("")
                .is_err()
        );
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_is_refused_or_harmless() {
        let mut b = ImageBuilder::new(9);
        b.file_rule(rule("/etc/shadow", Verdict::Deny));
        b.file_rule(rule("/home/*/.ssh/**", Verdict::Deny));
        b.exec_rule(rule("/usr/bin/wget", Verdict::Deny));
        let bytes = image(&b);
        for cut in 0..bytes.len() {
            assert!(
                PolicyImage::new_checked(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0xa5;
            if let Ok(img) = PolicyImage::new_checked(&bad) {
                let _ = img.decide_file(b"/home/a/.ssh/id", Access::READ);
                let _ = img.decide_exec(b"/usr/bin/wget", None, b"wget");
            }
        }
    }

    /// The reference decision: every rule tried on the whole path with the glob matcher. Returns
    /// the verdict and the ids of every rule that could be named for it (none: the default).
    fn reference(
        rules: &[(String, Verdict, u8)],
        default: Verdict,
        path: &str,
        access: Access,
    ) -> (Verdict, Vec<u32>) {
        let matching = |effect: Verdict| -> Vec<u32> {
            rules
                .iter()
                .enumerate()
                .filter(|(_, (p, e, a))| {
                    let ra = Access(*a);
                    *e == effect
                        && match effect {
                            Verdict::Deny => ra.intersects(access),
                            Verdict::Allow => ra.contains(access),
                        }
                        && glob::matches(&p.as_bytes()[1..], &path.as_bytes()[1..])
                })
                .map(|(id, _)| id as u32)
                .collect()
        };
        let deny = matching(Verdict::Deny);
        if !deny.is_empty() {
            return (Verdict::Deny, deny);
        }
        let allow = matching(Verdict::Allow);
        if !allow.is_empty() {
            return (Verdict::Allow, allow);
        }
        (default, Vec::new())
    }

    fn seg() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("a".to_owned()),
            Just("b".to_owned()),
            Just("ab".to_owned())
        ]
    }

    fn pattern_seg() -> impl Strategy<Value = String> {
        prop_oneof![
            seg(),
            Just("*".to_owned()),
            Just("**".to_owned()),
            Just("a*".to_owned()),
            Just("?".to_owned())
        ]
    }

    proptest! {
        #[test]
        fn the_trie_agrees_with_trying_every_rule(
            rules in proptest::collection::vec(
                (proptest::collection::vec(pattern_seg(), 1..4), any::<bool>(), 1u8..8), 0..8),
            default_deny in any::<bool>(),
            paths in proptest::collection::vec(proptest::collection::vec(seg(), 0..5), 1..8),
            access in 1u8..8,
        ) {
            let rules: Vec<(String, Verdict, u8)> = rules
                .into_iter()
                .map(|(segs, deny, a)| (format!("/{}", segs.join("/")), if deny { Verdict::Deny } else { Verdict::Allow }, a))
                .collect();
            let default = if default_deny { Verdict::Deny } else { Verdict::Allow };
            let mut b = ImageBuilder::new(1);
            b.file_default = default;
            for (p, e, a) in &rules {
                b.file_rule(PathRule::new(p, *e, p.clone()).unwrap().with_access(Access(*a)));
            }
            let bytes = b.build().unwrap();
            let img = PolicyImage::new_checked(&bytes).unwrap();
            for segs in paths {
                let path = format!("/{}", segs.join("/"));
                let got = img.decide_file(path.as_bytes(), Access(access));
                let (verdict, ids) = reference(&rules, default, &path, Access(access));
                prop_assert_eq!(got.verdict, verdict, "{} {:?}", path, rules);
                if ids.is_empty() {
                    prop_assert_eq!(got.rule, NO_RULE, "{} {:?}", path, rules);
                } else {
                    prop_assert!(ids.contains(&got.rule), "{} {:?} {:?}", path, rules, got);
                }
                if let Some(v) = img.file_uniform(Access(access)).verdict() {
                    prop_assert_eq!(v, verdict);
                }
            }
        }
    }
}
