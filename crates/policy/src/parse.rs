//! The TOML form of a policy: reading the file ([`Document`]) and turning it into a validated
//! [`Model`], with every name resolved and every value checked.
//!
//! The text is untrusted operator input: anything at all must give either a model or one
//! [`PolicyError`] naming the file, line and key, never a panic. Unknown keys are errors (a
//! misspelt key must not silently leave a rule wider than meant). Keys and their defaults are
//! documented in the README's "Writing a policy" and in the crate documentation.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use toml::Spanned;

use crate::addr::{AddrSet, Cidr, parse_mac};
use crate::error::{PolicyError, TextIndex};
use crate::model::{
    ANY, Action, AddressGroup, ConnState, DefaultRule, DestinationNat, FloodAction, FloodGuard,
    FloodKind, FloodPer, Inventory, L4Match, Member, Model, OneToOne, PortGuard, PortKind,
    ProtoSet, Rule, Service, ServiceGroup, SourceNat, SpoofAction, StateSet, WAN, Zone, ZoneId,
    ZoneMember, ZoneSet, proto,
};
use crate::ranges::RangeSet;

/// Largest policy file accepted (a policy of many thousands of rules fits well inside).
pub const MAX_FILE_BYTES: usize = 16 << 20;

/// A string or an integer, as a list item or a single value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scalar {
    Int(i64),
    Str(String),
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Int(n) => write!(f, "{n}"),
            Scalar::Str(s) => write!(f, "{s:?}"),
        }
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an integer")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
        i64::try_from(v)
            .map(Scalar::Int)
            .map_err(|_| E::custom(format!("{v} is too large")))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar::Str(v))
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

/// One value or a list of values (`from = "lan"` or `from = ["lan", "dmz"]`). A single value
/// has no span of its own: [`items`] gives it the span of the whole value.
#[derive(Debug, Clone)]
struct Items {
    single: bool,
    items: Vec<Spanned<Scalar>>,
}

struct ItemsVisitor;

impl<'de> Visitor<'de> for ItemsVisitor {
    type Value = Items;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, an integer, or a list of them")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Items, E> {
        single(ScalarVisitor.visit_i64(v)?)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Items, E> {
        single(ScalarVisitor.visit_u64(v)?)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Items, E> {
        single(Scalar::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Items, E> {
        single(Scalar::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Items, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element::<Spanned<Scalar>>()? {
            items.push(v);
        }
        Ok(Items {
            single: false,
            items,
        })
    }
}

fn single<E>(s: Scalar) -> Result<Items, E> {
    Ok(Items {
        single: true,
        items: vec![Spanned::new(0..0, s)],
    })
}

impl<'de> Deserialize<'de> for Items {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ItemsVisitor)
    }
}

/// The items of a value with their spans (a single value takes the value's span).
fn items(v: &Spanned<Items>) -> Vec<(Scalar, Range<usize>)> {
    let inner = v.get_ref();
    inner
        .items
        .iter()
        .map(|i| {
            let span = if inner.single { v.span() } else { i.span() };
            (i.get_ref().clone(), span)
        })
        .collect()
}

type Str = Spanned<String>;
type List = Spanned<Items>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    switch: Option<Str>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, List>,
    #[serde(default)]
    zone: Vec<Spanned<RawZone>>,
    #[serde(default)]
    address_group: Vec<Spanned<RawAddressGroup>>,
    #[serde(default)]
    service: Vec<Spanned<RawService>>,
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
    #[serde(default)]
    default: Option<Spanned<RawDefault>>,
    #[serde(default)]
    snat: Vec<Spanned<RawSnat>>,
    #[serde(default)]
    dnat: Vec<Spanned<RawDnat>>,
    #[serde(default)]
    one_to_one: Vec<Spanned<RawOneToOne>>,
    #[serde(default)]
    flood: Vec<Spanned<RawFlood>>,
    #[serde(default)]
    anti_spoof: Vec<Spanned<RawAntiSpoof>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawZone {
    name: Str,
    #[serde(default)]
    members: Option<List>,
    /// Notes for the operator; accepted and not used.
    #[serde(default, rename = "description")]
    _description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAddressGroup {
    name: Str,
    addresses: List,
    /// Notes for the operator; accepted and not used.
    #[serde(default, rename = "description")]
    _description: Option<String>,
}

/// The keys that describe a service, shared by `[[service]]` and `[[rule]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServiceSpec {
    #[serde(default)]
    proto: Option<List>,
    #[serde(default)]
    ports: Option<List>,
    #[serde(default)]
    source_ports: Option<List>,
    #[serde(default)]
    icmp_type: Option<Spanned<Scalar>>,
    #[serde(default)]
    icmp_code: Option<Spanned<Scalar>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    name: Str,
    /// Notes for the operator; accepted and not used.
    #[serde(default, rename = "description")]
    _description: Option<String>,
    #[serde(default)]
    services: Option<List>,
    #[serde(default)]
    proto: Option<List>,
    #[serde(default)]
    ports: Option<List>,
    #[serde(default)]
    source_ports: Option<List>,
    #[serde(default)]
    icmp_type: Option<Spanned<Scalar>>,
    #[serde(default)]
    icmp_code: Option<Spanned<Scalar>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    id: Option<Spanned<i64>>,
    #[serde(default)]
    name: Option<Str>,
    /// Notes for the operator; accepted and not used.
    #[serde(default, rename = "description")]
    _description: Option<String>,
    #[serde(default)]
    from: Option<List>,
    #[serde(default)]
    to: Option<List>,
    #[serde(default)]
    source: Option<List>,
    #[serde(default)]
    destination: Option<List>,
    #[serde(default)]
    services: Option<List>,
    #[serde(default)]
    proto: Option<List>,
    #[serde(default)]
    ports: Option<List>,
    #[serde(default)]
    source_ports: Option<List>,
    #[serde(default)]
    icmp_type: Option<Spanned<Scalar>>,
    #[serde(default)]
    icmp_code: Option<Spanned<Scalar>>,
    #[serde(default)]
    state: Option<List>,
    action: Str,
    #[serde(default)]
    log: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefault {
    /// Notes for the operator; accepted and not used.
    #[serde(default, rename = "description")]
    _description: Option<String>,
    action: Str,
    #[serde(default)]
    log: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSnat {
    #[serde(default)]
    name: Option<Str>,
    /// Notes for the operator; accepted and not used.
    #[serde(default, rename = "description")]
    _description: Option<String>,
    #[serde(default)]
    from: Option<List>,
    #[serde(default)]
    to: Option<List>,
    #[serde(default)]
    source: Option<List>,
    #[serde(default)]
    destination: Option<List>,
    #[serde(default)]
    to_address: Option<Str>,
    #[serde(default)]
    masquerade: Option<Str>,
    #[serde(default)]
    ports: Option<Spanned<Scalar>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDnat {
    #[serde(default)]
    name: Option<Str>,
    /// Notes for the operator; accepted and not used.
    #[serde(default, rename = "description")]
    _description: Option<String>,
    #[serde(default)]
    from: Option<List>,
    proto: List,
    address: Str,
    port: Spanned<Scalar>,
    to_address: Str,
    #[serde(default)]
    to_port: Option<Spanned<Scalar>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOneToOne {
    #[serde(default)]
    name: Option<Str>,
    /// Notes for the operator; accepted and not used.
    #[serde(default, rename = "description")]
    _description: Option<String>,
    internal: Str,
    external: Str,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFlood {
    #[serde(default)]
    name: Option<Str>,
    /// Notes for the operator; accepted and not used.
    #[serde(default, rename = "description")]
    _description: Option<String>,
    kind: Str,
    #[serde(default)]
    per: Option<Str>,
    rate: Spanned<i64>,
    #[serde(default)]
    burst: Option<Spanned<i64>>,
    #[serde(default)]
    action: Option<Str>,
    #[serde(default)]
    block_seconds: Option<Spanned<i64>>,
    #[serde(default)]
    from: Option<List>,
    #[serde(default)]
    to: Option<List>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAntiSpoof {
    /// Notes for the operator; accepted and not used.
    #[serde(default, rename = "description")]
    _description: Option<String>,
    ports: List,
    #[serde(default)]
    macs: Option<List>,
    #[serde(default)]
    ips: Option<List>,
    #[serde(default)]
    action: Option<Str>,
}

/// A policy file read and checked against the schema (syntax, known keys, value types), not
/// yet validated: [`Document::validate`] resolves names and checks values.
#[derive(Debug)]
pub struct Document {
    file: PathBuf,
    text: String,
    raw: RawPolicy,
}

impl Document {
    /// Reads a policy file.
    pub fn read(path: &Path) -> Result<Document, PolicyError> {
        let whole = |message: String| PolicyError {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            key: String::new(),
            message,
        };
        let meta = std::fs::metadata(path).map_err(|e| whole(format!("cannot read: {e}")))?;
        if meta.len() > MAX_FILE_BYTES as u64 {
            return Err(whole(format!(
                "{} bytes is larger than the {MAX_FILE_BYTES} bytes a policy may have",
                meta.len()
            )));
        }
        let bytes = std::fs::read(path).map_err(|e| whole(format!("cannot read: {e}")))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let at = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(&e.as_bytes()[..at]).into_owned();
            let (line, column) = TextIndex::new(&text).line_col(at);
            PolicyError {
                line,
                column,
                ..whole(format!("not UTF-8 text (byte offset {at})"))
            }
        })?;
        Document::parse(text, path)
    }

    /// Parses policy text; `file` names it in messages and anchors `switch = "..."`.
    pub fn parse(text: String, file: &Path) -> Result<Document, PolicyError> {
        let raw: RawPolicy = match toml::from_str(&text) {
            Ok(r) => r,
            Err(e) => {
                let index = TextIndex::new(&text);
                let at = e.span().map_or(0, |s| s.start);
                let (line, column) = if e.span().is_some() {
                    index.line_col(at)
                } else {
                    (0, 0)
                };
                let key = if e.span().is_some() {
                    index.key_at(at)
                } else {
                    String::new()
                };
                return Err(PolicyError {
                    file: file.to_path_buf(),
                    line,
                    column,
                    key,
                    message: e.message().trim_end().replace('\n', "; "),
                });
            }
        };
        Ok(Document {
            file: file.to_path_buf(),
            text,
            raw,
        })
    }

    /// The file this policy was read from.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The switch configuration the file names (`switch = "..."`), relative to the file's
    /// directory.
    pub fn switch(&self) -> Option<PathBuf> {
        let s = self.raw.switch.as_ref()?.get_ref();
        let dir = self.file.parent().unwrap_or(Path::new(""));
        Some(dir.join(s))
    }

    /// The file's top-level `description`.
    pub fn description(&self) -> Option<&str> {
        self.raw.description.as_deref()
    }

    /// Resolves every name and checks every value. With an inventory (the switch's ports),
    /// port names, labels and masquerade addresses are resolved against it; without one, port
    /// names are taken on trust and what needs a port's address is refused.
    pub fn validate(&self, inventory: Option<&Inventory>) -> Result<Model, PolicyError> {
        let ctx = Ctx {
            file: &self.file,
            index: TextIndex::new(&self.text),
            inventory,
        };
        ctx.model(&self.raw)
    }
}

/// What validation reads from: the file's text (for lines) and the switch's ports.
struct Ctx<'a> {
    file: &'a Path,
    index: TextIndex<'a>,
    inventory: Option<&'a Inventory>,
}

type Res<T> = Result<T, PolicyError>;

/// Names a validated model refers to while it is being built.
#[derive(Default)]
struct Names {
    zones: HashMap<String, ZoneId>,
    groups: HashMap<String, usize>,
    services: HashMap<String, usize>,
    labels: HashMap<String, Vec<String>>,
}

impl Ctx<'_> {
    fn err(
        &self,
        span: Range<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> PolicyError {
        let (line, column) = self.index.line_col(span.start);
        PolicyError {
            file: self.file.to_path_buf(),
            line,
            column,
            key: key.into(),
            message: message.into(),
        }
    }

    fn line(&self, span: Range<usize>) -> usize {
        self.index.line_col(span.start).0
    }

    fn model(&self, raw: &RawPolicy) -> Res<Model> {
        let mut names = Names::default();
        let labels = self.labels(raw, &mut names)?;
        let zones = self.zones(raw, &mut names)?;
        let address_groups = self.address_groups(raw, &mut names)?;
        let service_groups = self.service_groups(raw, &mut names)?;
        let rules = self.rules(raw, &names, &address_groups, &service_groups)?;
        let default = match &raw.default {
            None => DefaultRule {
                action: Action::Deny,
                log: false,
                line: 0,
            },
            Some(d) => DefaultRule {
                action: self.action(&d.get_ref().action, "default.action")?,
                log: d.get_ref().log.unwrap_or(false),
                line: self.line(d.span()),
            },
        };
        let snat = self.snats(raw, &names, &address_groups)?;
        let dnat = self.dnats(raw, &names)?;
        let one_to_one = self.one_to_ones(raw)?;
        let floods = self.floods(raw, &names)?;
        let anti_spoof = self.anti_spoof(raw)?;
        Ok(Model {
            file: self.file.to_path_buf(),
            switch: raw.switch.as_ref().map(|s| PathBuf::from(s.get_ref())),
            zones,
            labels,
            address_groups,
            service_groups,
            rules,
            default,
            snat,
            dnat,
            one_to_one,
            floods,
            anti_spoof,
        })
    }

    /// `[labels]`: label name to port names (checked against the inventory when there is one);
    /// the inventory's own labels are added.
    fn labels(&self, raw: &RawPolicy, names: &mut Names) -> Res<Vec<(String, Vec<String>)>> {
        let mut out = Vec::new();
        for (label, ports) in &raw.labels {
            let key = format!("labels.{label}");
            if !valid_name(label) {
                return Err(self.err(ports.span(), key, bad_name(label)));
            }
            let mut list = Vec::new();
            for (port, span) in items(ports) {
                let Scalar::Str(port) = port else {
                    return Err(self.err(span, key, format!("{port} is not a port name")));
                };
                self.known_port(&port, span, &key)?;
                list.push(port);
            }
            names.labels.insert(label.clone(), list.clone());
            out.push((label.clone(), list));
        }
        if let Some(inv) = self.inventory {
            for p in &inv.ports {
                for l in &p.labels {
                    names
                        .labels
                        .entry(l.clone())
                        .or_default()
                        .push(p.name.clone());
                }
            }
        }
        Ok(out)
    }

    /// Checks that a port exists, when the switch's ports are known.
    fn known_port(&self, port: &str, span: Range<usize>, key: &str) -> Res<()> {
        if port.is_empty() {
            return Err(self.err(span, key, "a port name must not be empty"));
        }
        match self.inventory {
            Some(inv) if inv.port(port).is_none() => Err(self.err(
                span,
                key,
                format!("no port named {port:?} in {}", inv.describe()),
            )),
            _ => Ok(()),
        }
    }

    fn zones(&self, raw: &RawPolicy, names: &mut Names) -> Res<Vec<Zone>> {
        let mut zones = vec![Zone {
            id: ZoneId::WAN,
            name: WAN.into(),
            line: 0,
            members: Vec::new(),
        }];
        names.zones.insert(WAN.into(), ZoneId::WAN);
        for (i, z) in raw.zone.iter().enumerate() {
            let key = |k: &str| format!("zone[{i}].{k}");
            let name = &z.get_ref().name;
            if name.get_ref() == WAN || name.get_ref() == ANY {
                return Err(self.err(
                    name.span(),
                    key("name"),
                    format!(
                        "{:?} is built in: `wan` is every address no zone claims, `any` matches \
                         every zone; choose another name",
                        name.get_ref()
                    ),
                ));
            }
            if !valid_name(name.get_ref()) {
                return Err(self.err(name.span(), key("name"), bad_name(name.get_ref())));
            }
            let id = u16::try_from(zones.len())
                .map(ZoneId)
                .map_err(|_| self.err(name.span(), key("name"), "more than 65535 zones"))?;
            if names.zones.insert(name.get_ref().clone(), id).is_some() {
                return Err(self.err(
                    name.span(),
                    key("name"),
                    format!("zone {:?} is defined twice", name.get_ref()),
                ));
            }
            let mut members = Vec::new();
            for (m, span) in z.get_ref().members.iter().flat_map(items) {
                let Scalar::Str(text) = m else {
                    return Err(self.err(
                        span,
                        key("members"),
                        format!("{m} is not a zone member: write a CIDR, a port name, a MAC or label:NAME"),
                    ));
                };
                let member = self.member(&text, span.clone(), &key("members"), names)?;
                members.push(ZoneMember {
                    member,
                    line: self.line(span),
                });
            }
            zones.push(Zone {
                id,
                name: name.get_ref().clone(),
                line: self.line(z.span()),
                members,
            });
        }
        Ok(zones)
    }

    /// A zone member: a CIDR or address, a MAC, `label:NAME`, or a port name.
    fn member(&self, text: &str, span: Range<usize>, key: &str, names: &Names) -> Res<Member> {
        if let Some(label) = text.strip_prefix("label:") {
            if !names.labels.contains_key(label) {
                return Err(self.err(
                    span,
                    key,
                    format!("no label {label:?}: define it under [labels] (label = [ports])"),
                ));
            }
            return Ok(Member::Label(label.to_owned()));
        }
        if text.contains('/') || text.parse::<IpAddr>().is_ok() {
            return Cidr::parse(text)
                .map(Member::Cidr)
                .map_err(|m| self.err(span, key, m));
        }
        if let Some(mac) = parse_mac(text) {
            if mac[0] & 1 != 0 {
                return Err(self.err(span, key, format!("{text} is a multicast MAC address")));
            }
            return Ok(Member::Mac(mac));
        }
        let port = text.strip_prefix("port:").unwrap_or(text);
        if !valid_name(port) {
            return Err(self.err(
                span,
                key,
                format!("{text:?} is not a CIDR, a MAC address, label:NAME or a port name"),
            ));
        }
        self.known_port(port, span, key)?;
        Ok(Member::Port(port.to_owned()))
    }

    fn address_groups(&self, raw: &RawPolicy, names: &mut Names) -> Res<Vec<AddressGroup>> {
        let mut out = Vec::new();
        for (i, g) in raw.address_group.iter().enumerate() {
            let key = |k: &str| format!("address_group[{i}].{k}");
            let name = &g.get_ref().name;
            if !valid_name(name.get_ref()) || name.get_ref() == ANY {
                return Err(self.err(name.span(), key("name"), bad_name(name.get_ref())));
            }
            if names.groups.insert(name.get_ref().clone(), i).is_some() {
                return Err(self.err(
                    name.span(),
                    key("name"),
                    format!("address group {:?} is defined twice", name.get_ref()),
                ));
            }
            let mut cidrs = Vec::new();
            for (a, span) in items(&g.get_ref().addresses) {
                cidrs.push(self.cidr(&a, span, &key("addresses"))?);
            }
            out.push(AddressGroup {
                name: name.get_ref().clone(),
                line: self.line(g.span()),
                addresses: AddrSet::from_cidrs(&cidrs),
            });
        }
        Ok(out)
    }

    fn cidr(&self, v: &Scalar, span: Range<usize>, key: &str) -> Res<Cidr> {
        match v {
            Scalar::Str(s) => Cidr::parse(s).map_err(|m| self.err(span, key, m)),
            Scalar::Int(_) => Err(self.err(span, key, format!("{v} is not an address"))),
        }
    }

    fn service_groups(&self, raw: &RawPolicy, names: &mut Names) -> Res<Vec<ServiceGroup>> {
        for (i, s) in raw.service.iter().enumerate() {
            let name = &s.get_ref().name;
            if !valid_name(name.get_ref()) || name.get_ref() == ANY {
                return Err(self.err(
                    name.span(),
                    format!("service[{i}].name"),
                    bad_name(name.get_ref()),
                ));
            }
            if names.services.insert(name.get_ref().clone(), i).is_some() {
                return Err(self.err(
                    name.span(),
                    format!("service[{i}].name"),
                    format!("service {:?} is defined twice", name.get_ref()),
                ));
            }
        }
        // Services may include others: resolve depth first, refusing cycles.
        let mut done: Vec<Option<Vec<Service>>> = vec![None; raw.service.len()];
        for i in 0..raw.service.len() {
            let mut path = Vec::new();
            self.resolve_service(raw, names, i, &mut done, &mut path)?;
        }
        Ok(raw
            .service
            .iter()
            .zip(done)
            .map(|(s, services)| ServiceGroup {
                name: s.get_ref().name.get_ref().clone(),
                line: self.line(s.span()),
                services: services.unwrap_or_default(),
            })
            .collect())
    }

    fn resolve_service(
        &self,
        raw: &RawPolicy,
        names: &Names,
        i: usize,
        done: &mut Vec<Option<Vec<Service>>>,
        path: &mut Vec<usize>,
    ) -> Res<()> {
        if done[i].is_some() {
            return Ok(());
        }
        let s = raw.service[i].get_ref();
        let key = |k: &str| format!("service[{i}].{k}");
        path.push(i);
        let spec = RawServiceSpec {
            proto: s.proto.clone(),
            ports: s.ports.clone(),
            source_ports: s.source_ports.clone(),
            icmp_type: s.icmp_type.clone(),
            icmp_code: s.icmp_code.clone(),
        };
        let mut services = Vec::new();
        if let Some(own) = self.service_spec(&spec, &format!("service[{i}]"))? {
            services.push(own);
        }
        for (n, span) in s.services.iter().flat_map(items) {
            let Scalar::Str(n) = n else {
                return Err(self.err(span, key("services"), format!("{n} is not a service name")));
            };
            let Some(&j) = names.services.get(&n) else {
                return Err(self.err(span, key("services"), format!("no service named {n:?}")));
            };
            if path.contains(&j) {
                return Err(self.err(
                    span,
                    key("services"),
                    format!(
                        "service {n:?} includes itself (through {:?})",
                        s.name.get_ref()
                    ),
                ));
            }
            self.resolve_service(raw, names, j, done, path)?;
            services.extend(done[j].iter().flatten().cloned());
        }
        if services.is_empty() {
            return Err(self.err(
                raw.service[i].span(),
                format!("service[{i}]"),
                "a service needs proto (with ports or icmp_type) or services",
            ));
        }
        dedup(&mut services);
        path.pop();
        done[i] = Some(services);
        Ok(())
    }

    /// The service described by `proto`, `ports`, `source_ports`, `icmp_type` and `icmp_code`;
    /// `None` when none of them is given.
    fn service_spec(&self, s: &RawServiceSpec, at: &str) -> Res<Option<Service>> {
        let key = |k: &str| format!("{at}.{k}");
        if s.proto.is_none()
            && s.ports.is_none()
            && s.source_ports.is_none()
            && s.icmp_type.is_none()
            && s.icmp_code.is_none()
        {
            return Ok(None);
        }
        let mut protos = ProtoSet::NONE;
        let mut proto_span = None;
        match &s.proto {
            None => protos = ProtoSet::ANY,
            Some(list) => {
                proto_span = Some(list.span());
                if list.get_ref().items.is_empty() {
                    return Err(self.err(list.span(), key("proto"), "the list is empty"));
                }
                for (p, span) in items(list) {
                    match p {
                        Scalar::Str(n) if n == "any" => protos = ProtoSet::ANY,
                        Scalar::Str(n) => match proto::by_name(&n) {
                            Some(num) => protos.insert(num),
                            None => {
                                return Err(self.err(
                                    span,
                                    key("proto"),
                                    format!(
                                        "unknown protocol {n:?}; expected tcp, udp, icmp, icmpv6, \
                                         sctp, gre, esp, ah, dccp, udplite, any or a number 0-255"
                                    ),
                                ));
                            }
                        },
                        Scalar::Int(n) => match u8::try_from(n) {
                            Ok(num) => protos.insert(num),
                            Err(_) => {
                                return Err(self.err(
                                    span,
                                    key("proto"),
                                    format!("protocol number {n} is out of range 0-255"),
                                ));
                            }
                        },
                    }
                }
            }
        }
        let has_ports = s.ports.is_some() || s.source_ports.is_some();
        let has_icmp = s.icmp_type.is_some() || s.icmp_code.is_some();
        if has_ports && has_icmp {
            let span = s
                .icmp_type
                .as_ref()
                .or(s.icmp_code.as_ref())
                .map(|v| v.span());
            return Err(self.err(
                span.unwrap_or(0..0),
                key(if s.icmp_type.is_some() {
                    "icmp_type"
                } else {
                    "icmp_code"
                }),
                "ports and ICMP type/code cannot be in one service: write two services",
            ));
        }
        let l4 =
            if has_ports {
                if proto_span.is_none() {
                    // `ports` without `proto`: TCP and UDP.
                    protos = ProtoSet::one(proto::TCP);
                    protos.insert(proto::UDP);
                }
                if let Some(bad) = protos.iter().find(|p| !proto::has_ports(*p)) {
                    let k = if s.ports.is_some() {
                        "ports"
                    } else {
                        "source_ports"
                    };
                    return Err(self.err(
                        proto_span.unwrap_or(0..0),
                        key(k),
                        format!(
                            "ports need protocols that have them (tcp, udp, sctp, dccp, udplite); \
                         the list holds {}",
                            proto::name(bad).map_or_else(|| bad.to_string(), str::to_owned)
                        ),
                    ));
                }
                L4Match::Ports {
                    src: match &s.source_ports {
                        Some(l) => self.ports(l, &key("source_ports"))?,
                        None => RangeSet::full(),
                    },
                    dst: match &s.ports {
                        Some(l) => self.ports(l, &key("ports"))?,
                        None => RangeSet::full(),
                    },
                }
            } else if has_icmp {
                let family =
                    match protos.iter().collect::<Vec<_>>().as_slice() {
                        [proto::ICMP] => proto::ICMP,
                        [proto::ICMPV6] => proto::ICMPV6,
                        _ => {
                            let span = s
                                .icmp_type
                                .as_ref()
                                .or(s.icmp_code.as_ref())
                                .map(|v| v.span());
                            return Err(self.err(
                        span.unwrap_or(0..0),
                        key(if s.icmp_type.is_some() { "icmp_type" } else { "icmp_code" }),
                        "icmp_type and icmp_code need proto = \"icmp\" or proto = \"icmpv6\"",
                    ));
                        }
                    };
                let ty = match &s.icmp_type {
                    Some(v) => Some(self.icmp_type(v, family, &key("icmp_type"))?),
                    None => None,
                };
                let code = match &s.icmp_code {
                    Some(v) => Some(match v.get_ref() {
                        Scalar::Int(n) => u8::try_from(*n).map_err(|_| {
                            self.err(
                                v.span(),
                                key("icmp_code"),
                                format!("ICMP code {n} is out of range 0-255"),
                            )
                        })?,
                        Scalar::Str(t) => {
                            return Err(self.err(
                                v.span(),
                                key("icmp_code"),
                                format!("{t:?} is not an ICMP code (a number 0-255)"),
                            ));
                        }
                    }),
                    None => None,
                };
                L4Match::Icmp { ty, code }
            } else {
                L4Match::Any
            };
        Ok(Some(Service { protos, l4 }))
    }

    fn icmp_type(&self, v: &Spanned<Scalar>, family: u8, key: &str) -> Res<u8> {
        match v.get_ref() {
            Scalar::Int(n) => u8::try_from(*n).map_err(|_| {
                self.err(
                    v.span(),
                    key,
                    format!("ICMP type {n} is out of range 0-255"),
                )
            }),
            Scalar::Str(t) => icmp_type_by_name(family, t).ok_or_else(|| {
                let names: Vec<&str> = icmp_type_names(family).iter().map(|(n, _)| *n).collect();
                self.err(
                    v.span(),
                    key,
                    format!(
                        "unknown {} type {t:?}; write a number or one of {}",
                        proto::name(family).unwrap_or("icmp"),
                        names.join(", ")
                    ),
                )
            }),
        }
    }

    /// Ports: numbers and `"LO-HI"` ranges.
    fn ports(&self, list: &List, key: &str) -> Res<RangeSet<u16>> {
        if list.get_ref().items.is_empty() {
            return Err(self.err(
                list.span(),
                key,
                "the list is empty (leave the key out for any port)",
            ));
        }
        let mut ranges = Vec::new();
        for (p, span) in items(list) {
            ranges.push(self.port_range(&p, span, key)?);
        }
        Ok(RangeSet::from_ranges(ranges))
    }

    /// One port or a `"LO-HI"` range.
    fn port_range(&self, p: &Scalar, span: Range<usize>, key: &str) -> Res<(u16, u16)> {
        let num = |n: i64| {
            u16::try_from(n).map_err(|_| {
                self.err(
                    span.clone(),
                    key,
                    format!("port {n} is out of range 0-65535"),
                )
            })
        };
        let text = |t: &str| -> Res<u16> {
            match t.trim().parse::<i64>() {
                Ok(n) if !t.trim().starts_with('+') => num(n),
                _ => Err(self.err(
                    span.clone(),
                    key,
                    format!("{p} is not a port or a range (80, \"8000-8080\")"),
                )),
            }
        };
        match p {
            Scalar::Int(n) => {
                let n = num(*n)?;
                Ok((n, n))
            }
            Scalar::Str(s) => {
                let (lo, hi) = match s.split_once('-') {
                    Some((a, b)) => (text(a)?, text(b)?),
                    None => {
                        let n = text(s)?;
                        (n, n)
                    }
                };
                if lo > hi {
                    return Err(self.err(
                        span,
                        key,
                        format!("range {s:?} runs backwards (write \"{hi}-{lo}\")"),
                    ));
                }
                Ok((lo, hi))
            }
        }
    }

    /// A zone list: names, `wan`, or `any`; absent means any.
    fn zone_set(&self, list: Option<&List>, key: &str, names: &Names) -> Res<ZoneSet> {
        let Some(list) = list else {
            return Ok(ZoneSet::Any);
        };
        if list.get_ref().items.is_empty() {
            return Err(self.err(
                list.span(),
                key,
                "the list is empty (write \"any\" or leave the key out)",
            ));
        }
        let mut zones = Vec::new();
        for (z, span) in items(list) {
            let Scalar::Str(z) = z else {
                return Err(self.err(span, key, format!("{z} is not a zone name")));
            };
            if z == ANY {
                return Ok(ZoneSet::Any);
            }
            let Some(&id) = names.zones.get(&z) else {
                let mut known: Vec<&str> = names.zones.keys().map(String::as_str).collect();
                known.sort_unstable();
                return Err(self.err(
                    span,
                    key,
                    format!("no zone named {z:?} (zones: {}, or any)", known.join(", ")),
                ));
            };
            zones.push(id);
        }
        Ok(ZoneSet::of(zones))
    }

    /// An address list: CIDRs, addresses, address group names, or `any`; absent means any.
    fn addr_set(
        &self,
        list: Option<&List>,
        key: &str,
        names: &Names,
        groups: &[AddressGroup],
    ) -> Res<AddrSet> {
        let Some(list) = list else {
            return Ok(AddrSet::any());
        };
        if list.get_ref().items.is_empty() {
            return Err(self.err(
                list.span(),
                key,
                "the list is empty (leave the key out for any address)",
            ));
        }
        let mut set = AddrSet::default();
        for (a, span) in items(list) {
            let Scalar::Str(text) = &a else {
                return Err(self.err(span, key, format!("{a} is not an address")));
            };
            if text == ANY {
                return Ok(AddrSet::any());
            }
            if let Some(&g) = names.groups.get(text) {
                set = AddrSet {
                    v4: set.v4.union(&groups[g].addresses.v4),
                    v6: set.v6.union(&groups[g].addresses.v6),
                };
                continue;
            }
            let looks_like_address = text.contains('/') || text.parse::<IpAddr>().is_ok();
            if !looks_like_address {
                return Err(self.err(
                    span,
                    key,
                    format!("{text:?} is neither an address nor an address group"),
                ));
            }
            let c = self.cidr(&a, span, key)?;
            set = AddrSet {
                v4: set.v4.union(&AddrSet::from_cidrs(&[c]).v4),
                v6: set.v6.union(&AddrSet::from_cidrs(&[c]).v6),
            };
        }
        Ok(set)
    }

    fn action(&self, v: &Str, key: &str) -> Res<Action> {
        Action::by_name(v.get_ref()).ok_or_else(|| {
            self.err(
                v.span(),
                key,
                format!(
                    "unknown action {:?}; expected allow, deny, reject, alert or drop-alert",
                    v.get_ref()
                ),
            )
        })
    }

    fn rules(
        &self,
        raw: &RawPolicy,
        names: &Names,
        groups: &[AddressGroup],
        service_groups: &[ServiceGroup],
    ) -> Res<Vec<Rule>> {
        let mut rules: Vec<Rule> = Vec::with_capacity(raw.rule.len());
        let mut ids: HashMap<u32, usize> = HashMap::new();
        let mut rule_names: HashSet<String> = HashSet::new();
        for (i, r) in raw.rule.iter().enumerate() {
            let at = format!("rule[{i}]");
            let key = |k: &str| format!("{at}.{k}");
            let rr = r.get_ref();
            let id = match &rr.id {
                Some(v) => u32::try_from(*v.get_ref())
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| {
                        self.err(
                            v.span(),
                            key("id"),
                            format!("{} is not an id (1 to 4294967295)", v.get_ref()),
                        )
                    })?,
                None => u32::try_from(i + 1)
                    .map_err(|_| self.err(r.span(), at.clone(), "too many rules"))?,
            };
            if let Some(prev) = ids.insert(id, i) {
                let span = rr.id.as_ref().map_or(r.span(), |v| v.span());
                return Err(self.err(
                    span,
                    key("id"),
                    format!(
                        "id {id} is already rule[{prev}]'s (a rule without `id` takes its position \
                         from 1)"
                    ),
                ));
            }
            let name = match &rr.name {
                Some(n) => {
                    if n.get_ref().is_empty() {
                        return Err(self.err(n.span(), key("name"), "must not be empty"));
                    }
                    if !rule_names.insert(n.get_ref().clone()) {
                        return Err(self.err(
                            n.span(),
                            key("name"),
                            format!("rule {:?} is defined twice", n.get_ref()),
                        ));
                    }
                    n.get_ref().clone()
                }
                None => format!("rule-{id}"),
            };
            let spec = RawServiceSpec {
                proto: rr.proto.clone(),
                ports: rr.ports.clone(),
                source_ports: rr.source_ports.clone(),
                icmp_type: rr.icmp_type.clone(),
                icmp_code: rr.icmp_code.clone(),
            };
            let inline = self.service_spec(&spec, &at)?;
            let mut services = Vec::new();
            if let Some(list) = &rr.services {
                if inline.is_some() {
                    return Err(self.err(
                        list.span(),
                        key("services"),
                        "write either services or proto/ports/icmp_type, not both",
                    ));
                }
                for (s, span) in items(list) {
                    let Scalar::Str(s) = s else {
                        return Err(self.err(
                            span,
                            key("services"),
                            format!("{s} is not a service name"),
                        ));
                    };
                    if s == ANY {
                        services.push(Service::any());
                        continue;
                    }
                    let Some(&g) = names.services.get(&s) else {
                        return Err(self.err(
                            span,
                            key("services"),
                            format!("no service named {s:?}"),
                        ));
                    };
                    services.extend(service_groups[g].services.iter().cloned());
                }
                if services.is_empty() {
                    return Err(self.err(list.span(), key("services"), "the list is empty"));
                }
            } else {
                services.push(inline.unwrap_or_else(Service::any));
            }
            dedup(&mut services);
            let mut states = StateSet::ANY;
            if let Some(list) = &rr.state {
                states = StateSet(0);
                for (s, span) in items(list) {
                    let st = match &s {
                        Scalar::Str(n) => ConnState::ALL.into_iter().find(|c| c.name() == n),
                        Scalar::Int(_) => None,
                    };
                    let Some(st) = st else {
                        return Err(self.err(
                            span,
                            key("state"),
                            format!("unknown connection state {s}; expected new, established, related or invalid"),
                        ));
                    };
                    states.0 |= st.bit();
                }
                if states.0 == 0 {
                    return Err(self.err(list.span(), key("state"), "the list is empty"));
                }
            }
            rules.push(Rule {
                id,
                name,
                line: self.line(r.span()),
                from: self.zone_set(rr.from.as_ref(), &key("from"), names)?,
                to: self.zone_set(rr.to.as_ref(), &key("to"), names)?,
                source: self.addr_set(rr.source.as_ref(), &key("source"), names, groups)?,
                destination: self.addr_set(
                    rr.destination.as_ref(),
                    &key("destination"),
                    names,
                    groups,
                )?,
                services,
                states,
                action: self.action(&rr.action, &key("action"))?,
                log: rr.log.as_ref().is_some_and(|l| *l.get_ref()),
            });
        }
        Ok(rules)
    }

    /// The address a port is bound to, for masquerade and port mappings written with a port
    /// name: its first IPv4 address, else its first IPv6 address.
    fn port_address(&self, port: &Str, key: &str) -> Res<IpAddr> {
        let Some(inv) = self.inventory else {
            return Err(self.err(
                port.span(),
                key,
                format!(
                    "{:?} is not an address, and without the switch configuration (`switch = \
                     \"FILE\"` or --config) no port's address is known",
                    port.get_ref()
                ),
            ));
        };
        let Some(p) = inv.port(port.get_ref()) else {
            return Err(self.err(
                port.span(),
                key,
                format!(
                    "{:?} is neither an address nor a port of {}",
                    port.get_ref(),
                    inv.describe()
                ),
            ));
        };
        p.ips
            .iter()
            .find(|a| a.is_ipv4())
            .or(p.ips.first())
            .copied()
            .ok_or_else(|| {
                self.err(
                    port.span(),
                    key,
                    format!(
                        "port {:?} has no address in {} (give it `ips = [...]`)",
                        port.get_ref(),
                        inv.describe()
                    ),
                )
            })
    }

    /// An address, or a port name standing for the port's address.
    fn address_or_port(&self, v: &Str, key: &str) -> Res<(IpAddr, Option<String>)> {
        match v.get_ref().parse::<IpAddr>() {
            Ok(a) => Ok((a, None)),
            Err(_) => Ok((self.port_address(v, key)?, Some(v.get_ref().clone()))),
        }
    }

    fn nat_name(
        &self,
        name: &Option<Str>,
        kind: &str,
        i: usize,
        seen: &mut HashSet<String>,
    ) -> Res<String> {
        match name {
            Some(n) => {
                if !seen.insert(n.get_ref().clone()) {
                    return Err(self.err(
                        n.span(),
                        format!("{kind}[{i}].name"),
                        format!("{kind} {:?} is defined twice", n.get_ref()),
                    ));
                }
                Ok(n.get_ref().clone())
            }
            None => Ok(format!("{kind}-{}", i + 1)),
        }
    }

    fn snats(
        &self,
        raw: &RawPolicy,
        names: &Names,
        groups: &[AddressGroup],
    ) -> Res<Vec<SourceNat>> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for (i, s) in raw.snat.iter().enumerate() {
            let key = |k: &str| format!("snat[{i}].{k}");
            let sr = s.get_ref();
            let name = self.nat_name(&sr.name, "snat", i, &mut seen)?;
            let (address, masquerade) = match (&sr.to_address, &sr.masquerade) {
                (Some(a), None) => {
                    let ip = a.get_ref().parse::<IpAddr>().map_err(|_| {
                        self.err(
                            a.span(),
                            key("to_address"),
                            format!("{:?} is not an IP address", a.get_ref()),
                        )
                    })?;
                    (ip, None)
                }
                (None, Some(port)) => (
                    self.port_address(port, &key("masquerade"))?,
                    Some(port.get_ref().clone()),
                ),
                (Some(a), Some(_)) => {
                    return Err(self.err(
                        a.span(),
                        key("to_address"),
                        "write either to_address or masquerade, not both",
                    ));
                }
                (None, None) => {
                    return Err(self.err(
                        s.span(),
                        format!("snat[{i}]"),
                        "needs to_address = \"ADDRESS\" or masquerade = \"UPLINK-PORT\"",
                    ));
                }
            };
            let ports = match &sr.ports {
                None => (1024, 65535),
                Some(p) => self.port_range(p.get_ref(), p.span(), &key("ports"))?,
            };
            if ports.0 == 0 {
                let span = sr.ports.as_ref().map_or(s.span(), |p| p.span());
                return Err(self.err(span, key("ports"), "port 0 cannot be a source port"));
            }
            if sr.from.is_none() && sr.source.is_none() {
                return Err(self.err(
                    s.span(),
                    format!("snat[{i}]"),
                    "needs from = ZONE or source = [ADDRESSES]: which connections to translate",
                ));
            }
            let mut source = self.addr_set(sr.source.as_ref(), &key("source"), names, groups)?;
            // Only connections of the translated address's family can take it.
            if address.is_ipv4() {
                source.v6 = RangeSet::empty();
            } else {
                source.v4 = RangeSet::empty();
            }
            out.push(SourceNat {
                name,
                line: self.line(s.span()),
                from: self.zone_set(sr.from.as_ref(), &key("from"), names)?,
                to: match &sr.to {
                    None => ZoneSet::of([ZoneId::WAN]),
                    Some(_) => self.zone_set(sr.to.as_ref(), &key("to"), names)?,
                },
                source,
                destination: self.addr_set(
                    sr.destination.as_ref(),
                    &key("destination"),
                    names,
                    groups,
                )?,
                address,
                masquerade,
                ports,
            });
        }
        Ok(out)
    }

    fn dnats(&self, raw: &RawPolicy, names: &Names) -> Res<Vec<DestinationNat>> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for (i, d) in raw.dnat.iter().enumerate() {
            let key = |k: &str| format!("dnat[{i}].{k}");
            let dr = d.get_ref();
            let name = self.nat_name(&dr.name, "dnat", i, &mut seen)?;
            let mut protos = ProtoSet::NONE;
            for (p, span) in items(&dr.proto) {
                let num = match &p {
                    Scalar::Str(n) if n == "tcp" => proto::TCP,
                    Scalar::Str(n) if n == "udp" => proto::UDP,
                    _ => {
                        return Err(self.err(
                            span,
                            key("proto"),
                            format!("a port mapping is for tcp or udp, not {p}"),
                        ));
                    }
                };
                protos.insert(num);
            }
            if protos == ProtoSet::NONE {
                return Err(self.err(dr.proto.span(), key("proto"), "the list is empty"));
            }
            let (address, _) = self.address_or_port(&dr.address, &key("address"))?;
            let to_address = dr.to_address.get_ref().parse::<IpAddr>().map_err(|_| {
                self.err(
                    dr.to_address.span(),
                    key("to_address"),
                    format!("{:?} is not an IP address", dr.to_address.get_ref()),
                )
            })?;
            if address.is_ipv4() != to_address.is_ipv4() {
                return Err(self.err(
                    dr.to_address.span(),
                    key("to_address"),
                    format!("{to_address} and {address} are of different IP versions"),
                ));
            }
            let ports = self.port_range(dr.port.get_ref(), dr.port.span(), &key("port"))?;
            let to_ports = match &dr.to_port {
                None => ports,
                Some(p) => self.port_range(p.get_ref(), p.span(), &key("to_port"))?,
            };
            if to_ports.0 != to_ports.1 && to_ports.1 - to_ports.0 != ports.1 - ports.0 {
                let span = dr.to_port.as_ref().map_or(d.span(), |p| p.span());
                return Err(self.err(
                    span,
                    key("to_port"),
                    format!(
                        "maps {} ports onto {}: give one port, or a range as long as `port`",
                        u32::from(ports.1 - ports.0) + 1,
                        u32::from(to_ports.1 - to_ports.0) + 1
                    ),
                ));
            }
            out.push(DestinationNat {
                name,
                line: self.line(d.span()),
                from: self.zone_set(dr.from.as_ref(), &key("from"), names)?,
                protos,
                address,
                ports,
                to_address,
                to_ports,
            });
        }
        Ok(out)
    }

    fn one_to_ones(&self, raw: &RawPolicy) -> Res<Vec<OneToOne>> {
        let mut out: Vec<OneToOne> = Vec::new();
        let mut seen = HashSet::new();
        for (i, m) in raw.one_to_one.iter().enumerate() {
            let key = |k: &str| format!("one_to_one[{i}].{k}");
            let mr = m.get_ref();
            let name = self.nat_name(&mr.name, "one_to_one", i, &mut seen)?;
            let internal = Cidr::parse(mr.internal.get_ref())
                .map_err(|e| self.err(mr.internal.span(), key("internal"), e))?;
            let external = Cidr::parse(mr.external.get_ref())
                .map_err(|e| self.err(mr.external.span(), key("external"), e))?;
            if internal.is_ipv4() != external.is_ipv4() || internal.len() != external.len() {
                return Err(self.err(
                    mr.external.span(),
                    key("external"),
                    format!("{external} and {internal} must be of one IP version and one size"),
                ));
            }
            // Two mappings that share an address would make the translation ambiguous.
            for (j, prev) in out.iter().enumerate() {
                let clash = if prev.internal.covers(internal) || internal.covers(prev.internal) {
                    Some(("internal", &mr.internal))
                } else if prev.external.covers(external) || external.covers(prev.external) {
                    Some(("external", &mr.external))
                } else {
                    None
                };
                if let Some((k, v)) = clash {
                    return Err(self.err(
                        v.span(),
                        key(k),
                        format!(
                            "overlaps one_to_one[{j}] {:?}: a 1:1 mapping must be unambiguous",
                            prev.name
                        ),
                    ));
                }
            }
            out.push(OneToOne {
                name,
                line: self.line(m.span()),
                internal,
                external,
            });
        }
        Ok(out)
    }

    fn floods(&self, raw: &RawPolicy, names: &Names) -> Res<Vec<FloodGuard>> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for (i, f) in raw.flood.iter().enumerate() {
            let key = |k: &str| format!("flood[{i}].{k}");
            let fr = f.get_ref();
            let name = self.nat_name(&fr.name, "flood", i, &mut seen)?;
            let kind = match fr.kind.get_ref().as_str() {
                "syn" => FloodKind::Syn,
                "udp" => FloodKind::Udp,
                "icmp" => FloodKind::Icmp,
                other => {
                    return Err(self.err(
                        fr.kind.span(),
                        key("kind"),
                        format!("unknown flood kind {other:?}; expected syn, udp or icmp"),
                    ));
                }
            };
            let per = match fr.per.as_ref().map(|p| (p.get_ref().as_str(), p.span())) {
                None | Some(("destination", _)) => FloodPer::Destination,
                Some(("source", _)) => FloodPer::Source,
                Some((other, span)) => {
                    return Err(self.err(
                        span,
                        key("per"),
                        format!("{other:?}: expected destination or source"),
                    ));
                }
            };
            let positive = |v: &Spanned<i64>, k: &str| -> Res<u32> {
                u32::try_from(*v.get_ref())
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| {
                        self.err(
                            v.span(),
                            key(k),
                            format!("{} must be from 1 to 4294967295", v.get_ref()),
                        )
                    })
            };
            let rate = positive(&fr.rate, "rate")?;
            let burst = match &fr.burst {
                Some(b) => positive(b, "burst")?,
                None => rate,
            };
            let action = match fr.action.as_ref().map(|a| (a.get_ref().as_str(), a.span())) {
                None | Some(("alert", _)) => FloodAction::Alert,
                Some(("block", _)) => FloodAction::Block,
                Some((other, span)) => {
                    return Err(self.err(
                        span,
                        key("action"),
                        format!("unknown flood action {other:?}; expected alert or block"),
                    ));
                }
            };
            let block_seconds = match &fr.block_seconds {
                Some(b) => {
                    if action == FloodAction::Alert {
                        return Err(self.err(
                            b.span(),
                            key("block_seconds"),
                            "only applies with action = \"block\"",
                        ));
                    }
                    positive(b, "block_seconds")?
                }
                None => 60,
            };
            out.push(FloodGuard {
                name,
                line: self.line(f.span()),
                kind,
                per,
                rate,
                burst,
                action,
                block_seconds,
                from: self.zone_set(fr.from.as_ref(), &key("from"), names)?,
                to: self.zone_set(fr.to.as_ref(), &key("to"), names)?,
            });
        }
        Ok(out)
    }

    fn anti_spoof(&self, raw: &RawPolicy) -> Res<Vec<PortGuard>> {
        let mut out: Vec<PortGuard> = Vec::new();
        for (i, a) in raw.anti_spoof.iter().enumerate() {
            let key = |k: &str| format!("anti_spoof[{i}].{k}");
            let ar = a.get_ref();
            let action = match ar.action.as_ref().map(|a| (a.get_ref().as_str(), a.span())) {
                None | Some(("drop-alert", _)) => SpoofAction::DropAlert,
                Some(("drop", _)) => SpoofAction::Drop,
                Some(("alert", _)) => SpoofAction::Alert,
                Some((other, span)) => {
                    return Err(self.err(
                        span,
                        key("action"),
                        format!("unknown action {other:?}; expected drop, drop-alert or alert"),
                    ));
                }
            };
            let mut extra_macs = Vec::new();
            for (m, span) in ar.macs.iter().flat_map(items) {
                let mac = match &m {
                    Scalar::Str(s) => parse_mac(s),
                    Scalar::Int(_) => None,
                };
                let Some(mac) = mac else {
                    return Err(self.err(
                        span,
                        key("macs"),
                        format!("{m} is not a MAC address (aa:bb:cc:dd:ee:ff)"),
                    ));
                };
                extra_macs.push(mac);
            }
            let mut extra_ips = Vec::new();
            for (ip, span) in ar.ips.iter().flat_map(items) {
                extra_ips.push(self.cidr(&ip, span, &key("ips"))?);
            }
            // The ports: names, or "*" for every VM port of the switch configuration.
            let mut ports: Vec<(String, Range<usize>)> = Vec::new();
            for (p, span) in items(&ar.ports) {
                let Scalar::Str(p) = p else {
                    return Err(self.err(span, key("ports"), format!("{p} is not a port name")));
                };
                if p == "*" {
                    let Some(inv) = self.inventory else {
                        return Err(self.err(
                            span,
                            key("ports"),
                            "\"*\" (every VM port) needs the switch configuration (`switch = \"FILE\"` or --config)",
                        ));
                    };
                    ports.extend(
                        inv.ports
                            .iter()
                            .filter(|p| p.kind == PortKind::Vm)
                            .map(|p| (p.name.clone(), span.clone())),
                    );
                    continue;
                }
                self.known_port(&p, span.clone(), &key("ports"))?;
                ports.push((p, span));
            }
            for (port, span) in ports {
                if let Some(prev) = out.iter().find(|g| g.port == port) {
                    return Err(self.err(
                        span,
                        key("ports"),
                        format!("port {port:?} is already guarded (line {})", prev.line),
                    ));
                }
                let bound = self.inventory.and_then(|inv| inv.port(&port));
                let mut macs = extra_macs.clone();
                let mut cidrs = extra_ips.clone();
                if let Some(b) = bound {
                    macs.extend(&b.macs);
                    cidrs.extend(b.ips.iter().map(|ip| Cidr::host(*ip)));
                }
                if macs.is_empty() && cidrs.is_empty() {
                    return Err(self.err(
                        span,
                        key("ports"),
                        format!(
                            "port {port:?} has no bound MAC or address to hold it to: give macs/ips \
                             here or in the switch configuration"
                        ),
                    ));
                }
                macs.sort_unstable();
                macs.dedup();
                out.push(PortGuard {
                    port: port.clone(),
                    port_id: bound.map(|b| b.id),
                    line: self.line(a.span()),
                    macs,
                    addresses: AddrSet::from_cidrs(&cidrs),
                    action,
                });
            }
        }
        Ok(out)
    }
}

/// Names of zones, groups, services and labels: letters, digits, `_`, `-`, `.`.
fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
}

fn bad_name(s: &str) -> String {
    format!("{s:?} is not a usable name: 1 to 64 letters, digits, '_', '-' or '.'")
}

/// Removes repeated services, keeping the first of each.
fn dedup(services: &mut Vec<Service>) {
    let mut seen = HashSet::new();
    services.retain(|s| seen.insert(s.clone()));
}

/// ICMP and ICMPv6 type names a policy may use.
pub fn icmp_type_names(family: u8) -> &'static [(&'static str, u8)] {
    if family == proto::ICMPV6 {
        &[
            ("destination-unreachable", 1),
            ("packet-too-big", 2),
            ("time-exceeded", 3),
            ("parameter-problem", 4),
            ("echo-request", 128),
            ("echo-reply", 129),
            ("router-solicitation", 133),
            ("router-advertisement", 134),
            ("neighbor-solicitation", 135),
            ("neighbor-advertisement", 136),
            ("redirect", 137),
        ]
    } else {
        &[
            ("echo-reply", 0),
            ("destination-unreachable", 3),
            ("source-quench", 4),
            ("redirect", 5),
            ("echo-request", 8),
            ("router-advertisement", 9),
            ("router-solicitation", 10),
            ("time-exceeded", 11),
            ("parameter-problem", 12),
            ("timestamp-request", 13),
            ("timestamp-reply", 14),
        ]
    }
}

fn icmp_type_by_name(family: u8, name: &str) -> Option<u8> {
    icmp_type_names(family)
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
}

#[cfg(test)]
mod tests;
