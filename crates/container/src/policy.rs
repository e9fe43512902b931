//! A container policy as an operator writes it (TOML), validated, and compiled into the image
//! the shim maps.
//!
//! ```toml
//! mode = "enforce"        # enforce | audit | off
//! default = "allow"       # allow | deny: when no rule matches
//! fallback = "allow"      # allow | deny | audit: while no policy can be read
//! audit_rate = 20         # allowed calls reported per second per process in audit mode
//!
//! [exec]                  # programs, by path as called or as resolved
//! deny = ["/usr/bin/wget", { path = "/**", argv0 = "nc*" }]
//!
//! [files]                 # file opens; access = read | write | create, joined by "+"
//! deny = ["/etc/shadow", { path = "/etc/**", access = "write+create" }]
//!
//! [network]               # CIDR[:ports], [v6 CIDR]:ports, *:ports, unix:PATH, family:NAME
//! default = "deny"        # each table may override the top-level default
//! allow = ["10.0.0.0/8", "127.0.0.1:8080", "unix:/run/app.sock"]
//! errno = "ECONNREFUSED"  # each table may choose its errno
//! ```
//!
//! Deny wins over allow. Paths are globs (`*` within a segment, `**` across segments, `?`);
//! see `shim_abi::glob`. Every error names the file, the line and the key. Parsing trusts
//! nothing in the file: it is the operator's, but it comes through the probe's command line
//! and the manager later.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use shim_abi::build::{BuildError, ImageBuilder, NetRule as ImageNetRule, NetTarget, PathRule};
use shim_abi::{Access, Fallback, Mode, Verdict};
use toml::Spanned;

/// A policy error: where (file, line, key) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// The policy file.
    pub file: PathBuf,
    /// 1-based line; 0 when the error concerns the file as a whole.
    pub line: usize,
    /// Dotted key (`files.deny[2]`); empty when unknown.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for PolicyError {}

/// One table of rules (`[exec]`, `[files]` or `[network]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table<R> {
    /// What happens when no rule matches.
    pub default: Verdict,
    /// The errno of a denied call.
    pub errno: i32,
    /// Rules that allow.
    pub allow: Vec<R>,
    /// Rules that deny (they win).
    pub deny: Vec<R>,
}

/// An `[exec]` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecRule {
    /// Program path glob.
    pub path: String,
    /// `argv[0]` glob, if any.
    pub argv0: Option<String>,
    /// Line in the policy file.
    pub line: usize,
}

/// A `[files]` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRule {
    /// Path glob.
    pub path: String,
    /// The access it covers.
    pub access: Access,
    /// Line in the policy file.
    pub line: usize,
}

/// A `[network]` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetRule {
    /// The rule as written (`10.0.0.0/8:443`).
    pub spec: String,
    /// What it matches (`*` gives an IPv4 and an IPv6 target).
    pub targets: Vec<NetTarget>,
    /// Line in the policy file.
    pub line: usize,
}

/// A validated container policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// enforce, audit or off.
    pub mode: Mode,
    /// How the shim decides while it cannot read a policy.
    pub fallback: Fallback,
    /// Allowed calls reported per second per process in audit mode.
    pub audit_rate: u32,
    /// Program execution.
    pub exec: Table<ExecRule>,
    /// File opens.
    pub files: Table<FileRule>,
    /// Connections.
    pub network: Table<NetRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    mode: Option<Spanned<String>>,
    default: Option<Spanned<String>>,
    fallback: Option<Spanned<String>>,
    audit_rate: Option<Spanned<i64>>,
    exec: Option<Spanned<RawTable>>,
    files: Option<Spanned<RawTable>>,
    network: Option<Spanned<RawTable>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawTable {
    default: Option<Spanned<String>>,
    errno: Option<Spanned<String>>,
    #[serde(default)]
    allow: Vec<Spanned<toml::Value>>,
    #[serde(default)]
    deny: Vec<Spanned<toml::Value>>,
}

/// Byte offsets to 1-based lines.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    fn line_of(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }
}

struct Ctx<'a> {
    file: &'a Path,
    lines: LineIndex,
}

impl Ctx<'_> {
    fn err(
        &self,
        span: Option<std::ops::Range<usize>>,
        key: &str,
        message: impl Into<String>,
    ) -> PolicyError {
        PolicyError {
            file: self.file.to_path_buf(),
            line: span.map_or(0, |s| self.lines.line_of(s.start)),
            key: key.to_owned(),
            message: message.into(),
        }
    }

    fn line(&self, span: std::ops::Range<usize>) -> usize {
        self.lines.line_of(span.start)
    }

    fn choice<T: Copy>(
        &self,
        v: &Option<Spanned<String>>,
        key: &str,
        choices: &[(&str, T)],
        default: T,
    ) -> Result<T, PolicyError> {
        let Some(v) = v else { return Ok(default) };
        choices
            .iter()
            .find(|(name, _)| *name == v.get_ref())
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
                self.err(
                    Some(v.span()),
                    key,
                    format!("{:?}: expected one of {}", v.get_ref(), names.join(", ")),
                )
            })
    }
}

const VERDICTS: &[(&str, Verdict)] = &[("allow", Verdict::Allow), ("deny", Verdict::Deny)];

impl Policy {
    /// Reads and validates a policy file.
    pub fn load(path: &Path) -> Result<(Policy, String), PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|e| PolicyError {
            file: path.to_path_buf(),
            line: 0,
            key: String::new(),
            message: format!("cannot read: {e}"),
        })?;
        let policy = Policy::parse(&text, path)?;
        Ok((policy, text))
    }

    /// Parses and validates policy text; `file` names it in errors.
    pub fn parse(text: &str, file: &Path) -> Result<Policy, PolicyError> {
        let cx = Ctx {
            file,
            lines: LineIndex::new(text),
        };
        let raw: RawPolicy = toml::from_str(text)
            .map_err(|e| cx.err(e.span(), "", e.message().trim_end().replace('\n', "; ")))?;
        let mode = cx.choice(
            &raw.mode,
            "mode",
            &[
                ("enforce", Mode::Enforce),
                ("audit", Mode::Audit),
                ("off", Mode::Off),
            ],
            Mode::Enforce,
        )?;
        let default = cx.choice(&raw.default, "default", VERDICTS, Verdict::Allow)?;
        let fallback = cx.choice(
            &raw.fallback,
            "fallback",
            &[
                ("allow", Fallback::Allow),
                ("deny", Fallback::Deny),
                ("audit", Fallback::Audit),
            ],
            Fallback::Allow,
        )?;
        let audit_rate = match &raw.audit_rate {
            None => 20,
            Some(r) => u32::try_from(*r.get_ref())
                .ok()
                .filter(|&r| r <= 100_000)
                .ok_or_else(|| {
                    cx.err(
                        Some(r.span()),
                        "audit_rate",
                        "expected 0..=100000 events a second",
                    )
                })?,
        };
        let exec = table(&cx, raw.exec, "exec", default, libc::EPERM, exec_rule)?;
        let files = table(&cx, raw.files, "files", default, libc::EACCES, file_rule)?;
        let network = table(
            &cx,
            raw.network,
            "network",
            default,
            libc::ECONNREFUSED,
            net_rule,
        )?;
        Ok(Policy {
            mode,
            fallback,
            audit_rate,
            exec,
            files,
            network,
        })
    }

    /// The number of rules in all tables.
    pub fn rule_count(&self) -> usize {
        self.exec.allow.len()
            + self.exec.deny.len()
            + self.files.allow.len()
            + self.files.deny.len()
            + self.network.allow.len()
            + self.network.deny.len()
    }

    /// Compiles the policy into an image of this generation.
    pub fn compile(&self, generation: u64) -> Result<Vec<u8>, BuildError> {
        let mut b = ImageBuilder::new(generation);
        b.mode = self.mode;
        b.audit_rate = self.audit_rate;
        b.exec_default = self.exec.default;
        b.file_default = self.files.default;
        b.net_default = self.network.default;
        b.exec_errno = self.exec.errno;
        b.file_errno = self.files.errno;
        b.net_errno = self.network.errno;
        for (list, effect) in [
            (&self.exec.deny, Verdict::Deny),
            (&self.exec.allow, Verdict::Allow),
        ] {
            for (i, r) in list.iter().enumerate() {
                let mut label = format!("exec.{}[{i}] {}", effect.name(), r.path);
                if let Some(a) = &r.argv0 {
                    label.push_str(&format!(" argv0={a}"));
                }
                let mut rule = PathRule::new(&r.path, effect, label)?;
                if let Some(a) = &r.argv0 {
                    rule = rule.with_argv0(a)?;
                }
                b.exec_rule(rule);
            }
        }
        for (list, effect) in [
            (&self.files.deny, Verdict::Deny),
            (&self.files.allow, Verdict::Allow),
        ] {
            for (i, r) in list.iter().enumerate() {
                let mut label = format!("files.{}[{i}] {}", effect.name(), r.path);
                if r.access != Access::ALL {
                    label.push_str(&format!(" ({})", r.access.name()));
                }
                b.file_rule(PathRule::new(&r.path, effect, label)?.with_access(r.access));
            }
        }
        for (list, effect) in [
            (&self.network.deny, Verdict::Deny),
            (&self.network.allow, Verdict::Allow),
        ] {
            for (i, r) in list.iter().enumerate() {
                let label = format!("network.{}[{i}] {}", effect.name(), r.spec);
                for t in &r.targets {
                    b.net_rule(ImageNetRule::new(t.clone(), effect, label.clone())?);
                }
            }
        }
        b.build()
    }
}

fn table<R>(
    cx: &Ctx<'_>,
    raw: Option<Spanned<RawTable>>,
    name: &str,
    default: Verdict,
    errno: i32,
    rule: fn(&Ctx<'_>, &Spanned<toml::Value>, &str) -> Result<R, PolicyError>,
) -> Result<Table<R>, PolicyError> {
    let raw = raw.map(|t| t.into_inner()).unwrap_or_default();
    let default = cx.choice(&raw.default, &format!("{name}.default"), VERDICTS, default)?;
    let errno = match &raw.errno {
        None => errno,
        Some(e) => errno_value(e.get_ref()).ok_or_else(|| {
            let names: Vec<&str> = shim_abi::ERRNO_NAMES.iter().map(|(n, _)| *n).collect();
            cx.err(
                Some(e.span()),
                &format!("{name}.errno"),
                format!(
                    "{:?}: expected one of {} or a number 1..=4095",
                    e.get_ref(),
                    names.join(", ")
                ),
            )
        })?,
    };
    let rules = |list: &[Spanned<toml::Value>], kind: &str| -> Result<Vec<R>, PolicyError> {
        list.iter()
            .enumerate()
            .map(|(i, v)| rule(cx, v, &format!("{name}.{kind}[{i}]")))
            .collect()
    };
    Ok(Table {
        default,
        errno,
        allow: rules(&raw.allow, "allow")?,
        deny: rules(&raw.deny, "deny")?,
    })
}

fn errno_value(s: &str) -> Option<i32> {
    shim_abi::ERRNO_NAMES
        .iter()
        .find(|(n, _)| *n == s)
        .map(|(_, e)| *e)
        .or_else(|| s.parse::<i32>().ok().filter(|e| (1..4096).contains(e)))
}

/// The string, or the keys of an inline table (anything else is an error).
fn entry<'v>(
    cx: &Ctx<'_>,
    v: &'v Spanned<toml::Value>,
    key: &str,
    keys: &[&str],
) -> Result<Result<&'v str, &'v toml::Table>, PolicyError> {
    match v.get_ref() {
        toml::Value::String(s) => Ok(Ok(s)),
        toml::Value::Table(t) => {
            if let Some(bad) = t.keys().find(|k| !keys.contains(&k.as_str())) {
                return Err(cx.err(
                    Some(v.span()),
                    key,
                    format!("unknown key {bad:?}: expected {}", keys.join(", ")),
                ));
            }
            Ok(Err(t))
        }
        other => Err(cx.err(
            Some(v.span()),
            key,
            format!(
                "expected a string or an inline table, found a {}",
                other.type_str()
            ),
        )),
    }
}

fn string_key<'t>(
    cx: &Ctx<'_>,
    v: &Spanned<toml::Value>,
    t: &'t toml::Table,
    key: &str,
    name: &str,
) -> Result<Option<&'t str>, PolicyError> {
    match t.get(name) {
        None => Ok(None),
        Some(toml::Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(cx.err(
            Some(v.span()),
            &format!("{key}.{name}"),
            format!("expected a string, found a {}", other.type_str()),
        )),
    }
}

fn check_glob(
    cx: &Ctx<'_>,
    v: &Spanned<toml::Value>,
    key: &str,
    pattern: &str,
) -> Result<(), PolicyError> {
    shim_abi::glob::validate(pattern.as_bytes())
        .map_err(|e| cx.err(Some(v.span()), key, format!("{pattern:?}: {e}")))
}

fn exec_rule(cx: &Ctx<'_>, v: &Spanned<toml::Value>, key: &str) -> Result<ExecRule, PolicyError> {
    let (path, argv0) = match entry(cx, v, key, &["path", "argv0"])? {
        Ok(s) => (s.to_owned(), None),
        Err(t) => {
            let argv0 = string_key(cx, v, t, key, "argv0")?;
            let path = string_key(cx, v, t, key, "path")?;
            if path.is_none() && argv0.is_none() {
                return Err(cx.err(Some(v.span()), key, "needs `path`, `argv0` or both"));
            }
            (path.unwrap_or("/**").to_owned(), argv0.map(str::to_owned))
        }
    };
    check_glob(cx, v, key, &path)?;
    if let Some(a) = &argv0
        && (a.is_empty() || a.contains('\0'))
    {
        return Err(cx.err(
            Some(v.span()),
            &format!("{key}.argv0"),
            "must be a non-empty pattern",
        ));
    }
    Ok(ExecRule {
        path,
        argv0,
        line: cx.line(v.span()),
    })
}

/// `read`, `write`, `create` joined by `+` (or `,`), or their letters `r`, `w`, `c` together.
pub fn parse_access(s: &str) -> Option<Access> {
    let mut a = 0u8;
    let words: Vec<&str> = s.split(['+', ',']).map(str::trim).collect();
    let letters =
        words.len() == 1 && !words[0].is_empty() && words[0].chars().all(|c| "rwc".contains(c));
    if letters {
        for c in words[0].chars() {
            a |= match c {
                'r' => Access::READ.0,
                'w' => Access::WRITE.0,
                _ => Access::CREATE.0,
            };
        }
        return Some(Access(a));
    }
    for w in words {
        a |= match w {
            "read" => Access::READ.0,
            "write" => Access::WRITE.0,
            "create" => Access::CREATE.0,
            "any" | "all" => Access::ALL.0,
            _ => return None,
        };
    }
    Some(Access(a))
}

fn file_rule(cx: &Ctx<'_>, v: &Spanned<toml::Value>, key: &str) -> Result<FileRule, PolicyError> {
    let (path, access) = match entry(cx, v, key, &["path", "access"])? {
        Ok(s) => (s, Access::ALL),
        Err(t) => {
            let path = string_key(cx, v, t, key, "path")?
                .ok_or_else(|| cx.err(Some(v.span()), key, "needs `path`"))?;
            let access = match string_key(cx, v, t, key, "access")? {
                None => Access::ALL,
                Some(a) => parse_access(a)
                    .filter(|a| *a != Access::NONE)
                    .ok_or_else(|| {
                        cx.err(
                            Some(v.span()),
                            &format!("{key}.access"),
                            format!("{a:?}: expected read, write, create joined by + (or r, w, c)"),
                        )
                    })?,
            };
            (path, access)
        }
    };
    check_glob(cx, v, key, path)?;
    Ok(FileRule {
        path: path.to_owned(),
        access,
        line: cx.line(v.span()),
    })
}

fn net_rule(cx: &Ctx<'_>, v: &Spanned<toml::Value>, key: &str) -> Result<NetRule, PolicyError> {
    let spec = match v.get_ref() {
        toml::Value::String(s) => s.as_str(),
        other => {
            return Err(cx.err(
                Some(v.span()),
                key,
                format!(
                    "expected a string (CIDR[:ports], unix:PATH, family:NAME), found a {}",
                    other.type_str()
                ),
            ));
        }
    };
    let targets =
        parse_net(spec).map_err(|m| cx.err(Some(v.span()), key, format!("{spec:?}: {m}")))?;
    Ok(NetRule {
        spec: spec.to_owned(),
        targets,
        line: cx.line(v.span()),
    })
}

/// Address families by name (`family:NAME`).
const FAMILIES: &[(&str, i32)] = &[
    ("unix", libc::AF_UNIX),
    ("inet", libc::AF_INET),
    ("inet6", libc::AF_INET6),
    ("netlink", libc::AF_NETLINK),
    ("packet", libc::AF_PACKET),
    ("vsock", libc::AF_VSOCK),
    ("bluetooth", libc::AF_BLUETOOTH),
    ("can", libc::AF_CAN),
    ("alg", libc::AF_ALG),
    ("tipc", libc::AF_TIPC),
    ("xdp", libc::AF_XDP),
];

/// Parses a network rule: `CIDR`, `CIDR:PORTS`, `[V6CIDR]:PORTS`, `V6CIDR`, `*`, `*:PORTS`,
/// `unix:PATH`, `unix:@NAME`, `family:NAME`. PORTS is `N` or `N-M`.
pub fn parse_net(spec: &str) -> Result<Vec<NetTarget>, String> {
    if let Some(path) = spec.strip_prefix("unix:") {
        let checked = match path.strip_prefix('@') {
            Some("") => Err("an empty abstract name".to_owned()),
            Some(name) => {
                shim_abi::glob::validate_relative(name.as_bytes()).map_err(|e| e.to_string())
            }
            None => shim_abi::glob::validate(path.as_bytes()).map_err(|e| e.to_string()),
        };
        checked?;
        return Ok(vec![NetTarget::Unix(path.to_owned())]);
    }
    if let Some(name) = spec.strip_prefix("family:") {
        let names: Vec<&str> = FAMILIES.iter().map(|(n, _)| *n).collect();
        return FAMILIES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| vec![NetTarget::Family(*f as u16)])
            .ok_or_else(|| format!("unknown family: expected one of {}", names.join(", ")));
    }
    let (addr, ports) = if let Some(rest) = spec.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or("missing `]`")?;
        let ports = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("expected `:PORTS` after `]`")?),
        };
        (inside, ports)
    } else if spec.matches(':').count() > 1 {
        (spec, None)
    } else {
        match spec.split_once(':') {
            Some((a, p)) => (a, Some(p)),
            None => (spec, None),
        }
    };
    let ports = match ports {
        None => (0, u16::MAX),
        Some(p) => parse_ports(p)?,
    };
    if addr == "*" {
        return Ok(vec![
            NetTarget::V4 {
                addr: Ipv4Addr::UNSPECIFIED,
                prefix: 0,
                ports,
            },
            NetTarget::V6 {
                addr: Ipv6Addr::UNSPECIFIED,
                prefix: 0,
                ports,
            },
        ]);
    }
    let (ip, prefix) = match addr.split_once('/') {
        Some((ip, p)) => (ip, Some(p.parse::<u8>().map_err(|_| "bad prefix length")?)),
        None => (addr, None),
    };
    if let Ok(v4) = ip.parse::<Ipv4Addr>() {
        let prefix = prefix.unwrap_or(32);
        if prefix > 32 {
            return Err("IPv4 prefix longer than 32".into());
        }
        let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
        if u32::from(v4) & !mask != 0 {
            return Err(format!(
                "host bits set: write {}/{prefix}",
                Ipv4Addr::from(u32::from(v4) & mask)
            ));
        }
        return Ok(vec![NetTarget::V4 {
            addr: v4,
            prefix,
            ports,
        }]);
    }
    if let Ok(v6) = ip.parse::<Ipv6Addr>() {
        let prefix = prefix.unwrap_or(128);
        if prefix > 128 {
            return Err("IPv6 prefix longer than 128".into());
        }
        let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
        if u128::from(v6) & !mask != 0 {
            return Err(format!(
                "host bits set: write {}/{prefix}",
                Ipv6Addr::from(u128::from(v6) & mask)
            ));
        }
        return Ok(vec![NetTarget::V6 {
            addr: v6,
            prefix,
            ports,
        }]);
    }
    Err("expected an IPv4 or IPv6 address or CIDR, `*`, `unix:PATH` or `family:NAME`".into())
}

fn parse_ports(p: &str) -> Result<(u16, u16), String> {
    let port = |s: &str| {
        s.parse::<u16>()
            .map_err(|_| format!("bad port {s:?} (0..=65535)"))
    };
    match p.split_once('-') {
        Some((lo, hi)) => {
            let (lo, hi) = (port(lo)?, port(hi)?);
            if lo > hi {
                return Err(format!("port range {lo}-{hi} runs backwards"));
            }
            Ok((lo, hi))
        }
        None => {
            let n = port(p)?;
            Ok((n, n))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shim_abi::image::{ConnectTarget, NO_RULE, PolicyImage};

    fn parse(text: &str) -> Result<Policy, PolicyError> {
        Policy::parse(text, Path::new("p.toml"))
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    const FULL: &str = r#"
mode = "audit"
default = "allow"
fallback = "deny"
audit_rate = 5

[exec]
deny = ["/usr/bin/wget", { argv0 = "nc*" }]

[files]
errno = "EPERM"
deny = ["/etc/shadow", { path = "/etc/**", access = "write+create" }]
allow = [{ path = "/etc/app/**", access = "rw" }]

[network]
default = "deny"
allow = ["10.0.0.0/8", "127.0.0.1:8080", "[::1]:443", "unix:/run/app.sock", "*:53"]
deny = ["10.9.0.0/16:22-23", "family:netlink"]
"#;

    #[test]
    fn a_full_policy() {
        let p = parse(FULL).unwrap();
        assert_eq!(
            (p.mode, p.fallback, p.audit_rate),
            (Mode::Audit, Fallback::Deny, 5)
        );
        assert_eq!(p.exec.default, Verdict::Allow);
        assert_eq!(p.exec.deny[1].path, "/**");
        assert_eq!(p.exec.deny[1].argv0.as_deref(), Some("nc*"));
        assert_eq!(p.files.errno, libc::EPERM);
        assert_eq!(p.files.deny[1].access.name(), "write+create");
        assert_eq!(p.files.allow[0].access.name(), "read+write");
        assert_eq!(p.files.deny[0].line, 12);
        assert_eq!(p.network.default, Verdict::Deny);
        assert_eq!(p.network.errno, libc::ECONNREFUSED);
        assert_eq!(p.network.allow[4].targets.len(), 2);
        assert_eq!(p.rule_count(), 12);

        let bytes = p.compile(4).unwrap();
        let img = PolicyImage::new_checked(&bytes).unwrap();
        assert_eq!(img.mode(), Mode::Audit);
        let d = img.decide_file(b"/etc/shadow", Access::READ);
        assert_eq!(
            (d.verdict, img.label(d.rule)),
            (Verdict::Deny, &b"files.deny[0] /etc/shadow"[..])
        );
        let d = img.decide_file(b"/etc/passwd", Access(Access::WRITE.0));
        assert_eq!(img.label(d.rule), b"files.deny[1] /etc/** (write+create)");
        let d = img.decide_file(b"/etc/passwd", Access::READ);
        assert_eq!((d.verdict, d.rule), (Verdict::Allow, NO_RULE));
        let d = img.decide_connect(&ConnectTarget::Inet {
            addr: [10, 9, 1, 1],
            port: 22,
        });
        assert_eq!(img.label(d.rule), b"network.deny[0] 10.9.0.0/16:22-23");
        let d = img.decide_connect(&ConnectTarget::Inet {
            addr: [10, 9, 1, 1],
            port: 80,
        });
        assert_eq!(img.label(d.rule), b"network.allow[0] 10.0.0.0/8");
        let d = img.decide_connect(&ConnectTarget::Inet {
            addr: [192, 0, 2, 1],
            port: 80,
        });
        assert_eq!((d.verdict, d.rule), (Verdict::Deny, NO_RULE));
        let d = img.decide_connect(&ConnectTarget::Inet6 {
            addr: Ipv6Addr::LOCALHOST.octets(),
            port: 443,
        });
        assert_eq!(img.label(d.rule), b"network.allow[2] [::1]:443");
        let d = img.decide_connect(&ConnectTarget::Inet {
            addr: [8, 8, 8, 8],
            port: 53,
        });
        assert_eq!(img.label(d.rule), b"network.allow[4] *:53");
        let d = img.decide_exec(b"/usr/bin/nc", None, b"nc");
        assert_eq!(img.label(d.rule), b"exec.deny[1] /** argv0=nc*");
    }

    #[test]
    fn the_empty_policy_enforces_nothing() {
        let p = parse("").unwrap();
        assert_eq!(
            (p.mode, p.exec.default, p.rule_count()),
            (Mode::Enforce, Verdict::Allow, 0)
        );
        assert_eq!((p.exec.errno, p.files.errno), (libc::EPERM, libc::EACCES));
    }

    #[test]
    fn errors_name_file_line_and_key() {
        assert_eq!(
            err("mode = \"strict\""),
            "p.toml:1: mode: \"strict\": expected one of enforce, audit, off"
        );
        assert_eq!(
            err("\n[files]\ndeny = [\"/etc/**x\"]"),
            "p.toml:3: files.deny[0]: \"/etc/**x\": `**` must be a whole path segment (like /var/**/log); use `*` within a segment"
        );
        assert_eq!(
            err("[files]\ndeny = [{ path = \"/x\", access = \"exec\" }]"),
            "p.toml:2: files.deny[0].access: \"exec\": expected read, write, create joined by + (or r, w, c)"
        );
        assert_eq!(
            err("[network]\nallow = [\"10.0.0.1/8\"]"),
            "p.toml:2: network.allow[0]: \"10.0.0.1/8\": host bits set: write 10.0.0.0/8"
        );
        assert_eq!(
            err("[network]\nallow = [\"1.2.3.4:99999\"]"),
            "p.toml:2: network.allow[0]: \"1.2.3.4:99999\": bad port \"99999\" (0..=65535)"
        );
        assert_eq!(
            err("[exec]\ndeny = [{}]"),
            "p.toml:2: exec.deny[0]: needs `path`, `argv0` or both"
        );
        assert_eq!(
            err("[exec]\nerrno = \"EWHAT\""),
            "p.toml:2: exec.errno: \"EWHAT\": expected one of EACCES, EPERM, ENOENT, ECONNREFUSED, ENETUNREACH, EHOSTUNREACH, ETIMEDOUT, EROFS or a number 1..=4095"
        );
        assert!(err("[files]\nallow = [\"relative\"]").contains("files.allow[0]"));
        assert!(
            err("[files]\nallow = [3]")
                .ends_with("expected a string or an inline table, found a integer")
        );
        assert!(
            err("colour = 1").starts_with("p.toml:1: unknown field `colour`"),
            "{}",
            err("colour = 1")
        );
        assert!(err("[network]\ndeny = [\"family:x25\"]").contains("unknown family"));
    }

    #[test]
    fn network_specs() {
        assert_eq!(
            parse_net("[2001:db8::/32]:443-444").unwrap(),
            vec![NetTarget::V6 {
                addr: "2001:db8::".parse().unwrap(),
                prefix: 32,
                ports: (443, 444)
            }]
        );
        assert_eq!(
            parse_net("::1").unwrap(),
            vec![NetTarget::V6 {
                addr: Ipv6Addr::LOCALHOST,
                prefix: 128,
                ports: (0, 65535)
            }]
        );
        assert_eq!(
            parse_net("unix:@x11-*").unwrap(),
            vec![NetTarget::Unix("@x11-*".into())]
        );
        assert!(parse_net("unix:relative").is_err());
        assert!(parse_net("1.2.3.4:9-1").unwrap_err().contains("backwards"));
        assert!(parse_net("[::1").is_err());
        assert!(parse_net("example.com").is_err());
    }

    #[test]
    fn access_words_and_letters() {
        assert_eq!(parse_access("read"), Some(Access::READ));
        assert_eq!(parse_access("rwc"), Some(Access::ALL));
        assert_eq!(parse_access("read+create").unwrap().name(), "read+create");
        assert_eq!(
            parse_access("write, create").unwrap().name(),
            "write+create"
        );
        assert_eq!(parse_access("x"), None);
    }
}
