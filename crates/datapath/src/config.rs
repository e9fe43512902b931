//! The datapath's configuration file: bridges, ports and limits, in TOML.
//!
//! ```toml
//! [datapath]
//! workers = 1
//! max_flows = 200000
//!
//! [[bridge]]
//! name = "br0"
//!
//! [[port]]
//! name = "vm1"
//! kind = "vm"                # vm | uplink | gateway | internal
//! bridge = "br0"
//! vlan = 10                  # access port in VLAN 10 (omit for untagged)
//! macs = ["02:00:00:00:00:01"]
//! ips = ["10.0.0.1", "fd00::1"]
//! interface = 0              # pcapng interface id that feeds this port in `rampart replay`
//!
//! [[port]]
//! name = "eth0"
//! kind = "uplink"
//! bridge = "br0"
//! trunk = [10, 20]           # trunk carrying VLANs 10 and 20 tagged ...
//! native_vlan = 1            # ... and VLAN 1 untagged
//! ```
//!
//! Every error names the file, the line and the key at fault. Loading never panics, whatever
//! the file holds.

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::port::{Port, PortKind, VlanMode};

/// A configuration error: where (file, line, key) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line; 0 when the error concerns the file as a whole.
    pub line: usize,
    /// Dotted path of the key, e.g. `port[2].vlan`; empty when unknown.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
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

impl std::error::Error for ConfigError {}

/// Datapath limits and tuning.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Worker threads (shared-nothing; a symmetric flow hash picks the worker).
    pub workers: usize,
    /// Packets per batch (1..=32).
    pub batch_size: usize,
    /// Installed megaflows per worker; the least recently used is evicted past this.
    pub max_flows: usize,
    /// Exact-match cache entries per worker (a power of two).
    pub emc_entries: usize,
    /// The exact-match cache inserts a missed flow with probability 1/N (1 = always).
    pub emc_insert_inv_prob: u32,
    /// A flow unused for this long is removed.
    pub idle_timeout_ms: u64,
    /// A learnt MAC address unused for this long is forgotten.
    pub mac_aging_s: u64,
    /// Most MAC addresses learnt per bridge.
    pub mac_table_size: usize,
    /// Upcalls admitted per second, shared equally among input ports.
    pub upcall_rate: u64,
    /// Upcall burst, shared equally among input ports.
    pub upcall_burst: u64,
    /// Packet buffers preallocated per worker.
    pub pool_buffers: usize,
    /// Connections tracked per worker at most; past it the oldest connections not yet
    /// established are dropped early.
    pub max_connections: u32,
    /// Reject answers (TCP RST, ICMP unreachable) sent per second per input port at most, so a
    /// reject rule cannot be turned into a reflector by spoofed sources.
    pub reject_rate: u64,
    /// Reject answer burst per input port.
    pub reject_burst: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            workers: 1,
            batch_size: 32,
            max_flows: 200_000,
            emc_entries: 8192,
            emc_insert_inv_prob: 100,
            idle_timeout_ms: 10_000,
            mac_aging_s: 300,
            mac_table_size: 65_536,
            upcall_rate: 1_000_000,
            upcall_burst: 100_000,
            pool_buffers: 1024,
            max_connections: 262_144,
            reject_rate: 100,
            reject_burst: 200,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    datapath: Option<Spanned<Limits>>,
    #[serde(default)]
    bridge: Vec<Spanned<RawBridge>>,
    #[serde(default)]
    port: Vec<Spanned<RawPort>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBridge {
    name: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPort {
    name: Spanned<String>,
    kind: Spanned<String>,
    bridge: Spanned<String>,
    #[serde(default)]
    vlan: Option<Spanned<i64>>,
    #[serde(default)]
    trunk: Option<Spanned<Vec<Spanned<i64>>>>,
    #[serde(default)]
    native_vlan: Option<Spanned<i64>>,
    #[serde(default)]
    macs: Vec<Spanned<String>>,
    #[serde(default)]
    ips: Vec<Spanned<String>>,
    #[serde(default)]
    interface: Option<Spanned<i64>>,
}

/// A bridge: one L2 broadcast domain per VLAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeConfig {
    pub name: String,
}

/// A validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub limits: Limits,
    pub bridges: Vec<BridgeConfig>,
    pub ports: Vec<Port>,
}

impl Default for Config {
    /// The built-in default: one bridge `br0` and no ports; replay then creates a VM port per
    /// source MAC it sees.
    fn default() -> Self {
        Config {
            limits: Limits::default(),
            bridges: vec![BridgeConfig { name: "br0".into() }],
            ports: Vec::new(),
        }
    }
}

/// Parses a MAC address written `aa:bb:cc:dd:ee:ff` (or with `-`).
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = s.split([':', '-']);
    for b in &mut out {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// The dotted name of the key whose value is at byte `at` of `text` (`datapath.workers`,
/// `port[2].vlan`): the key on that line, under the last table header above it. Empty when the
/// line holds no `key =`.
fn key_at(text: &str, at: usize) -> String {
    let at = at.min(text.len());
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    let line = &text[start..end];
    let Some((key, _)) = line.split_once('=') else {
        return String::new();
    };
    let key = key.trim().trim_matches('"');
    let mut table = String::new();
    let mut counts: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for l in text[..start].lines() {
        let l = l.trim();
        if let Some(name) = l.strip_prefix("[[").and_then(|r| r.strip_suffix("]]")) {
            let name = name.trim().to_string();
            let n = counts.entry(name.clone()).or_insert(0);
            table = format!("{name}[{n}]");
            *n += 1;
        } else if let Some(name) = l.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            table = name.trim().to_string();
        }
    }
    if table.is_empty() {
        key.to_string()
    } else {
        format!("{table}.{key}")
    }
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            line: 0,
            key: String::new(),
            message: format!("cannot read: {e}"),
        })?;
        Config::parse(&text, path)
    }

    /// Parses and validates configuration text; `file` is used in error messages.
    pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
        let lines = LineIndex::new(text);
        let err =
            |span: Option<std::ops::Range<usize>>, key: String, message: String| ConfigError {
                file: file.to_path_buf(),
                line: span.map_or(0, |s| lines.line_of(s.start)),
                key,
                message,
            };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let key = e.span().map(|s| key_at(text, s.start)).unwrap_or_default();
            err(e.span(), key, e.message().trim_end().replace('\n', "; "))
        })?;

        let limits = match raw.datapath {
            Some(l) => {
                let span = l.span();
                let l = l.into_inner();
                // Limits are read as one table; point at the key's own line inside it.
                let bad = |key: &str, msg: &str| {
                    let at = text
                        .get(span.start..)
                        .and_then(|t| {
                            let mut off = 0;
                            for (n, line) in t.split_inclusive('\n').enumerate() {
                                let l = line.trim_start();
                                if n > 0 && l.starts_with('[') {
                                    break;
                                }
                                if l.strip_prefix(key)
                                    .is_some_and(|r| r.trim_start().starts_with('='))
                                {
                                    return Some(span.start + off);
                                }
                                off += line.len();
                            }
                            None
                        })
                        .unwrap_or(span.start);
                    Err(err(
                        Some(at..at),
                        format!("datapath.{key}"),
                        msg.to_string(),
                    ))
                };
                if l.workers == 0 || l.workers > 64 {
                    return bad("workers", "must be between 1 and 64");
                }
                if l.batch_size == 0 || l.batch_size > crate::MAX_BATCH {
                    return bad("batch_size", "must be between 1 and 32");
                }
                if l.max_flows == 0 || l.max_flows > (1 << 26) {
                    return bad("max_flows", "must be between 1 and 67108864");
                }
                if !l.emc_entries.is_power_of_two() || l.emc_entries > (1 << 22) {
                    return bad(
                        "emc_entries",
                        "must be a power of two no larger than 4194304",
                    );
                }
                if l.emc_insert_inv_prob == 0 {
                    return bad(
                        "emc_insert_inv_prob",
                        "must be at least 1 (1 = always insert)",
                    );
                }
                if l.upcall_rate == 0 || l.upcall_burst == 0 {
                    return bad(
                        "upcall_rate",
                        "upcall_rate and upcall_burst must be at least 1",
                    );
                }
                if l.pool_buffers < crate::MAX_BATCH * 2 {
                    return bad("pool_buffers", "must be at least 64");
                }
                if l.max_connections == 0 || l.max_connections > 1 << 24 {
                    return bad("max_connections", "must be between 1 and 16777216");
                }
                if l.mac_table_size == 0 {
                    return bad("mac_table_size", "must be at least 1");
                }
                l
            }
            None => Limits::default(),
        };

        let mut bridges = Vec::new();
        let mut names = HashSet::new();
        for (i, b) in raw.bridge.iter().enumerate() {
            let name = b.get_ref().name.get_ref();
            if name.is_empty() {
                return Err(err(
                    Some(b.get_ref().name.span()),
                    format!("bridge[{i}].name"),
                    "must not be empty".into(),
                ));
            }
            if !names.insert(name.clone()) {
                return Err(err(
                    Some(b.get_ref().name.span()),
                    format!("bridge[{i}].name"),
                    format!("bridge {name:?} is defined twice"),
                ));
            }
            bridges.push(BridgeConfig { name: name.clone() });
        }
        if bridges.is_empty() && !raw.port.is_empty() {
            return Err(err(
                Some(raw.port[0].span()),
                "bridge".into(),
                "ports are defined but no [[bridge]] is".into(),
            ));
        }
        if bridges.is_empty() {
            bridges.push(BridgeConfig { name: "br0".into() });
        }

        let mut ports = Vec::new();
        let mut port_names = HashSet::new();
        let mut macs_seen = HashSet::new();
        let mut ifaces_seen = HashSet::new();
        for (i, p) in raw.port.iter().enumerate() {
            let p = p.get_ref();
            let key = |k: &str| format!("port[{i}].{k}");
            let name = p.name.get_ref().clone();
            if name.is_empty() {
                return Err(err(
                    Some(p.name.span()),
                    key("name"),
                    "must not be empty".into(),
                ));
            }
            if !port_names.insert(name.clone()) {
                return Err(err(
                    Some(p.name.span()),
                    key("name"),
                    format!("port {name:?} is defined twice"),
                ));
            }
            let kind = match p.kind.get_ref().as_str() {
                "vm" => PortKind::Vm,
                "uplink" => PortKind::Uplink,
                "gateway" => PortKind::Gateway,
                "internal" => PortKind::Internal,
                other => {
                    return Err(err(
                        Some(p.kind.span()),
                        key("kind"),
                        format!(
                            "unknown port kind {other:?}; expected vm, uplink, gateway or internal"
                        ),
                    ));
                }
            };
            let Some(bridge) = bridges.iter().position(|b| b.name == *p.bridge.get_ref()) else {
                return Err(err(
                    Some(p.bridge.span()),
                    key("bridge"),
                    format!("no bridge named {:?}", p.bridge.get_ref()),
                ));
            };
            let vid = |v: &Spanned<i64>, k: &str| -> Result<u16, ConfigError> {
                let n = *v.get_ref();
                if (1..=4094).contains(&n) {
                    Ok(n as u16)
                } else {
                    Err(err(
                        Some(v.span()),
                        key(k),
                        format!("VLAN {n} is out of range 1..=4094"),
                    ))
                }
            };
            let vlan = match (&p.vlan, &p.trunk) {
                (Some(v), None) => {
                    if let Some(n) = &p.native_vlan {
                        return Err(err(
                            Some(n.span()),
                            key("native_vlan"),
                            "native_vlan only applies to a trunk port".into(),
                        ));
                    }
                    VlanMode::Access(vid(v, "vlan")?)
                }
                (None, Some(t)) => {
                    let mut allowed = Vec::new();
                    for v in t.get_ref() {
                        allowed.push(vid(v, "trunk")?);
                    }
                    allowed.sort_unstable();
                    allowed.dedup();
                    let native = match &p.native_vlan {
                        Some(n) => Some(vid(n, "native_vlan")?),
                        None => None,
                    };
                    VlanMode::Trunk { allowed, native }
                }
                (Some(v), Some(_)) => {
                    return Err(err(
                        Some(v.span()),
                        key("vlan"),
                        "a port is either an access port (vlan) or a trunk (trunk), not both"
                            .into(),
                    ));
                }
                (None, None) => match (&p.native_vlan, kind) {
                    (Some(n), _) => {
                        return Err(err(
                            Some(n.span()),
                            key("native_vlan"),
                            "native_vlan only applies to a trunk port".into(),
                        ));
                    }
                    // An uplink with no VLAN setting carries every VLAN: the physical network
                    // decides.
                    (None, PortKind::Uplink) => VlanMode::Trunk {
                        allowed: Vec::new(),
                        native: None,
                    },
                    (None, _) => VlanMode::Untagged,
                },
            };
            let mut macs = Vec::new();
            for m in &p.macs {
                let Some(mac) = parse_mac(m.get_ref()) else {
                    return Err(err(
                        Some(m.span()),
                        key("macs"),
                        format!("{:?} is not a MAC address (aa:bb:cc:dd:ee:ff)", m.get_ref()),
                    ));
                };
                if mac[0] & 1 != 0 {
                    return Err(err(
                        Some(m.span()),
                        key("macs"),
                        format!("{} is a multicast address", m.get_ref()),
                    ));
                }
                if !macs_seen.insert(mac) {
                    return Err(err(
                        Some(m.span()),
                        key("macs"),
                        format!("{} is bound to two ports", m.get_ref()),
                    ));
                }
                macs.push(mac);
            }
            let mut ips = Vec::new();
            for a in &p.ips {
                let ip: IpAddr = a.get_ref().parse().map_err(|_| {
                    err(
                        Some(a.span()),
                        key("ips"),
                        format!("{:?} is not an IPv4 or IPv6 address", a.get_ref()),
                    )
                })?;
                ips.push(ip);
            }
            let interface = match &p.interface {
                Some(v) => {
                    let n = *v.get_ref();
                    let Ok(id) = u32::try_from(n) else {
                        return Err(err(
                            Some(v.span()),
                            key("interface"),
                            format!("{n} is not a valid interface id"),
                        ));
                    };
                    if !ifaces_seen.insert(id) {
                        return Err(err(
                            Some(v.span()),
                            key("interface"),
                            format!("interface {id} feeds two ports"),
                        ));
                    }
                    Some(id)
                }
                None => None,
            };
            ports.push(Port {
                name,
                kind,
                bridge,
                vlan,
                macs,
                ips,
                interface,
            });
        }
        if ports.len() > usize::from(crate::MAX_PORTS) {
            return Err(err(
                None,
                "port".into(),
                format!(
                    "{} ports defined; at most {} are supported",
                    ports.len(),
                    crate::MAX_PORTS
                ),
            ));
        }
        Ok(Config {
            limits,
            bridges,
            ports,
        })
    }
}

/// Byte offset to 1-based line number.
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

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[datapath]
workers = 2
max_flows = 1000

[[bridge]]
name = "br0"

[[bridge]]
name = "br1"

[[port]]
name = "vm1"
kind = "vm"
bridge = "br0"
vlan = 10
macs = ["02:00:00:00:00:01"]
ips = ["10.0.0.1", "fd00::1"]
interface = 0

[[port]]
name = "up"
kind = "uplink"
bridge = "br0"
trunk = [20, 10, 10]
native_vlan = 1

[[port]]
name = "vm2"
kind = "vm"
bridge = "br1"
"#;

    fn parse(s: &str) -> Result<Config, ConfigError> {
        Config::parse(s, Path::new("dp.toml"))
    }

    #[test]
    fn good_file() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.limits.workers, 2);
        assert_eq!(c.limits.max_flows, 1000);
        assert_eq!(c.limits.batch_size, 32);
        assert_eq!(c.bridges.len(), 2);
        assert_eq!(c.ports[0].vlan, VlanMode::Access(10));
        assert_eq!(c.ports[0].macs, vec![[2, 0, 0, 0, 0, 1]]);
        assert_eq!(c.ports[0].interface, Some(0));
        assert_eq!(
            c.ports[1].vlan,
            VlanMode::Trunk {
                allowed: vec![10, 20],
                native: Some(1)
            }
        );
        assert_eq!(c.ports[2].bridge, 1);
        assert_eq!(c.ports[2].vlan, VlanMode::Untagged);
    }

    fn expect_err(s: &str, line: usize, key: &str, msg_part: &str) {
        let e = parse(s).unwrap_err();
        assert_eq!(e.line, line, "{e}");
        assert_eq!(e.key, key, "{e}");
        assert!(e.message.contains(msg_part), "{e}");
        assert!(e.to_string().starts_with(&format!("dp.toml:{line}")), "{e}");
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_key() {
        let text = "[datapath]\nbatch_size = 8\nworkers = \"ten\"\n\n[[bridge]]\nname = \"br0\"\n\n[[port]]\nname = \"a\"\nkind = \"vm\"\nbridge = \"br0\"\n\n[[port]]\nname = \"b\"\nkind = \"vm\"\nbridge = \"br0\"\nvlan = \"ten\"\n";
        let cut = text.replace("vlan = \"ten\"", "vlan = 10");
        let e = Config::parse(&cut, "cfg.toml".as_ref()).unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (3, "datapath.workers"), "{e}");
        assert!(
            e.to_string()
                .starts_with("cfg.toml:3: datapath.workers: invalid type"),
            "{e}"
        );
        let e = Config::parse(
            &text.replace("workers = \"ten\"", "workers = 2"),
            "cfg.toml".as_ref(),
        )
        .unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (17, "port[1].vlan"), "{e}");
    }

    #[test]
    fn errors_name_line_and_key() {
        expect_err(
            &GOOD.replace("vlan = 10", "vlan = 5000"),
            16,
            "port[0].vlan",
            "out of range",
        );
        expect_err(
            &GOOD.replace(
                "kind = \"vm\"\nbridge = \"br1\"",
                "kind = \"vm\"\nbridge = \"br9\"",
            ),
            31,
            "port[2].bridge",
            "no bridge",
        );
        expect_err(
            &GOOD.replace("02:00:00:00:00:01", "02:00:00:00:01"),
            17,
            "port[0].macs",
            "not a MAC",
        );
        expect_err(
            &GOOD.replace("fd00::1", "fd00::zz"),
            18,
            "port[0].ips",
            "not an IPv4",
        );
        expect_err(
            &GOOD.replace("kind = \"uplink\"", "kind = \"router\""),
            23,
            "port[1].kind",
            "unknown port kind",
        );
        expect_err(
            &GOOD.replace("name = \"vm2\"", "name = \"vm1\""),
            29,
            "port[2].name",
            "twice",
        );
        expect_err(
            &GOOD.replace("workers = 2", "workers = 0"),
            3,
            "datapath.workers",
            "between",
        );
        expect_err(
            &GOOD.replace("trunk = [20, 10, 10]", "trunk = [20, 0]"),
            25,
            "port[1].trunk",
            "out of range",
        );
    }

    #[test]
    fn syntax_and_unknown_keys() {
        let e = parse("[[bridge]]\nname = \"a\"\ncolour = 3\n").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("colour"), "{e}");
        let e = parse("[[bridge]\n").unwrap_err();
        assert_eq!(e.line, 1, "{e}");
        let e = parse("[datapath]\nworkers = \"two\"\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
    }

    #[test]
    fn empty_file_is_the_default() {
        assert_eq!(parse("").unwrap(), Config::default());
    }

    #[test]
    fn mac_syntax() {
        assert_eq!(
            parse_mac("aa:BB:cc:dd:ee:ff"),
            Some([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff])
        );
        assert_eq!(
            parse_mac("aa-bb-cc-dd-ee-ff"),
            Some([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff])
        );
        assert_eq!(parse_mac("aa:bb:cc:dd:ee"), None);
        assert_eq!(parse_mac("aa:bb:cc:dd:ee:ff:00"), None);
        assert_eq!(parse_mac("a:bb:cc:dd:ee:ff"), None);
        assert_eq!(parse_mac("zz:bb:cc:dd:ee:ff"), None);
    }
}
