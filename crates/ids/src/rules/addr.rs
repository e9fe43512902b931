//! Address and port sets of a rule header: `any`, variables, lists, ranges, CIDR blocks and
//! negation, evaluated once at load time into sorted, disjoint intervals so that a packet is
//! tested with a binary search.
//!
//! Variables expand the way Suricata expands them, as text: `$EXTERNAL_NET` whose value is
//! `!$HOME_NET` is a negated element wherever it is used, so `[$EXTERNAL_NET,1.2.3.4]` means
//! `1.2.3.4` minus `$HOME_NET`. A set that ends up empty (`!any`, `[1.2.3.4,!1.2.3.4]`) is an
//! error, as in Suricata. Nothing here runs per packet but [`IpSet::contains`] and
//! [`PortSet::contains`], which never allocate.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::vars::Vars;

/// Sorted, disjoint, non-adjacent closed intervals of integers up to `max`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Ranges {
    max: u128,
    spans: Vec<(u128, u128)>,
}

impl Ranges {
    fn empty(max: u128) -> Self {
        Ranges {
            max,
            spans: Vec::new(),
        }
    }

    fn full(max: u128) -> Self {
        Ranges {
            max,
            spans: vec![(0, max)],
        }
    }

    fn is_full(&self) -> bool {
        self.spans == [(0, self.max)]
    }

    fn add(&mut self, lo: u128, hi: u128) {
        self.spans.push((lo.min(hi), hi.max(lo)));
        self.normalize();
    }

    fn normalize(&mut self) {
        self.spans.sort_unstable();
        let mut out: Vec<(u128, u128)> = Vec::with_capacity(self.spans.len());
        for &(lo, hi) in &self.spans {
            match out.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => out.push((lo, hi)),
            }
        }
        self.spans = out;
    }

    fn union(&self, other: &Ranges) -> Ranges {
        let mut r = self.clone();
        r.spans.extend_from_slice(&other.spans);
        r.normalize();
        r
    }

    fn complement(&self) -> Ranges {
        let mut out = Vec::new();
        let mut next = 0u128;
        let mut done = false;
        for &(lo, hi) in &self.spans {
            if lo > next {
                out.push((next, lo - 1));
            }
            if hi == self.max {
                done = true;
                break;
            }
            next = hi + 1;
        }
        if !done {
            out.push((next, self.max));
        }
        Ranges {
            max: self.max,
            spans: out,
        }
    }

    fn minus(&self, other: &Ranges) -> Ranges {
        // a \ b = complement(complement(a) ∪ b)
        self.complement().union(other).complement()
    }

    fn contains(&self, v: u128) -> bool {
        // The last span starting at or before v.
        let i = self.spans.partition_point(|&(lo, _)| lo <= v);
        i > 0 && self.spans[i - 1].1 >= v
    }

    /// The boundaries where membership changes: each span's start and one past its end.
    fn cuts(&self, out: &mut Vec<u128>) {
        for &(lo, hi) in &self.spans {
            out.push(lo);
            if hi < self.max {
                out.push(hi + 1);
            }
        }
    }
}

const V4_MAX: u128 = u32::MAX as u128;
const V6_MAX: u128 = u128::MAX;
const PORT_MAX: u128 = u16::MAX as u128;

/// A set of IPv4 and IPv6 addresses.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IpSet {
    v4: Ranges,
    v6: Ranges,
}

impl IpSet {
    /// Every address.
    pub fn any() -> Self {
        IpSet {
            v4: Ranges::full(V4_MAX),
            v6: Ranges::full(V6_MAX),
        }
    }

    fn empty() -> Self {
        IpSet {
            v4: Ranges::empty(V4_MAX),
            v6: Ranges::empty(V6_MAX),
        }
    }

    /// True when the set holds every address (`any`).
    pub fn is_any(&self) -> bool {
        self.v4.is_full() && self.v6.is_full()
    }

    fn is_empty(&self) -> bool {
        self.v4.spans.is_empty() && self.v6.spans.is_empty()
    }

    /// Whether `ip` is in the set.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => self.v4.contains(u128::from(u32::from(a))),
            IpAddr::V6(a) => self.v6.contains(u128::from(a)),
        }
    }

    fn union(&self, o: &IpSet) -> IpSet {
        IpSet {
            v4: self.v4.union(&o.v4),
            v6: self.v6.union(&o.v6),
        }
    }

    fn minus(&self, o: &IpSet) -> IpSet {
        IpSet {
            v4: self.v4.minus(&o.v4),
            v6: self.v6.minus(&o.v6),
        }
    }

    fn complement(&self) -> IpSet {
        IpSet {
            v4: self.v4.complement(),
            v6: self.v6.complement(),
        }
    }
}

/// A set of TCP/UDP ports.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PortSet(Ranges);

impl PortSet {
    /// Every port.
    pub fn any() -> Self {
        PortSet(Ranges::full(PORT_MAX))
    }

    /// True when the set holds every port (`any`).
    pub fn is_any(&self) -> bool {
        self.0.is_full()
    }

    /// Whether `port` is in the set.
    pub fn contains(&self, port: u16) -> bool {
        self.0.contains(u128::from(port))
    }

    /// How many ports the set holds.
    pub fn count(&self) -> u32 {
        self.0
            .spans
            .iter()
            .map(|&(lo, hi)| (hi - lo + 1) as u32)
            .sum()
    }

    /// The union of two sets.
    pub fn union(&self, other: &PortSet) -> PortSet {
        PortSet(self.0.union(&other.0))
    }

    /// Adds to `out` the ports where membership in this set changes (span starts and the
    /// port after each span's end), for cutting the port space into groups.
    pub fn cuts(&self, out: &mut Vec<u16>) {
        let mut v = Vec::new();
        self.0.cuts(&mut v);
        out.extend(v.into_iter().filter_map(|c| u16::try_from(c).ok()));
    }
}

/// Why an address or port expression was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetError {
    #[error("unknown variable ${0}")]
    UnknownVar(String),
    #[error("variable ${0} refers to itself")]
    Recursive(String),
    #[error("bad address {0:?}")]
    BadAddress(String),
    #[error("bad port {0:?}")]
    BadPort(String),
    #[error("unbalanced brackets in {0:?}")]
    Brackets(String),
    #[error("{0:?} matches nothing (complete negation)")]
    Empty(String),
    #[error("empty element in {0:?}")]
    EmptyElement(String),
}

/// Which kind of set an expression builds.
#[derive(Clone, Copy)]
enum Kind {
    Address,
    Port,
}

/// The value of one element: whether it is negated, and its set (as intervals per family).
struct Element {
    negated: bool,
    set: Value,
}

#[derive(Clone)]
enum Value {
    Ip(IpSet),
    Port(Ranges),
}

impl Value {
    fn any(kind: Kind) -> Value {
        match kind {
            Kind::Address => Value::Ip(IpSet::any()),
            Kind::Port => Value::Port(Ranges::full(PORT_MAX)),
        }
    }
    fn empty(kind: Kind) -> Value {
        match kind {
            Kind::Address => Value::Ip(IpSet::empty()),
            Kind::Port => Value::Port(Ranges::empty(PORT_MAX)),
        }
    }
    fn union(&self, o: &Value) -> Value {
        match (self, o) {
            (Value::Ip(a), Value::Ip(b)) => Value::Ip(a.union(b)),
            (Value::Port(a), Value::Port(b)) => Value::Port(a.union(b)),
            _ => unreachable!("one kind per expression"),
        }
    }
    fn minus(&self, o: &Value) -> Value {
        match (self, o) {
            (Value::Ip(a), Value::Ip(b)) => Value::Ip(a.minus(b)),
            (Value::Port(a), Value::Port(b)) => Value::Port(a.minus(b)),
            _ => unreachable!("one kind per expression"),
        }
    }
    fn complement(&self) -> Value {
        match self {
            Value::Ip(a) => Value::Ip(a.complement()),
            Value::Port(a) => Value::Port(a.complement()),
        }
    }
    fn is_empty(&self) -> bool {
        match self {
            Value::Ip(a) => a.is_empty(),
            Value::Port(a) => a.spans.is_empty(),
        }
    }
}

/// Parses an address expression of a rule header (`any`, `$HOME_NET`, `[10.0.0.0/8,!10.1.0.0/16]`).
pub fn parse_addresses(text: &str, vars: &Vars) -> Result<IpSet, SetError> {
    match parse_top(text, vars, Kind::Address)? {
        Value::Ip(s) => Ok(s),
        Value::Port(_) => unreachable!("address expression"),
    }
}

/// Parses a port expression of a rule header (`any`, `$HTTP_PORTS`, `[80,1024:]`, `!22`).
pub fn parse_ports(text: &str, vars: &Vars) -> Result<PortSet, SetError> {
    match parse_top(text, vars, Kind::Port)? {
        Value::Port(r) => Ok(PortSet(r)),
        Value::Ip(_) => unreachable!("port expression"),
    }
}

fn parse_top(text: &str, vars: &Vars, kind: Kind) -> Result<Value, SetError> {
    let mut stack = Vec::new();
    let e = element(text.trim(), vars, kind, &mut stack)?;
    let v = if e.negated { e.set.complement() } else { e.set };
    if v.is_empty() {
        return Err(SetError::Empty(text.to_owned()));
    }
    Ok(v)
}

fn element(
    text: &str,
    vars: &Vars,
    kind: Kind,
    stack: &mut Vec<String>,
) -> Result<Element, SetError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(SetError::EmptyElement(text.to_owned()));
    }
    if let Some(rest) = text.strip_prefix('!') {
        let mut e = element(rest, vars, kind, stack)?;
        e.negated = !e.negated;
        return Ok(e);
    }
    if let Some(name) = text.strip_prefix('$') {
        if stack.iter().any(|s| s == name) {
            return Err(SetError::Recursive(name.to_owned()));
        }
        let value = match kind {
            Kind::Address => vars.address(name),
            Kind::Port => vars.port(name),
        }
        .ok_or_else(|| SetError::UnknownVar(name.to_owned()))?
        .to_owned();
        stack.push(name.to_owned());
        let e = element(&value, vars, kind, stack);
        stack.pop();
        return e;
    }
    if text.starts_with('[') {
        if !text.ends_with(']') {
            return Err(SetError::Brackets(text.to_owned()));
        }
        let inner = &text[1..text.len() - 1];
        let mut include: Option<Value> = None;
        let mut exclude = Value::empty(kind);
        for part in split_list(inner).ok_or_else(|| SetError::Brackets(text.to_owned()))? {
            let e = element(part, vars, kind, stack)?;
            if e.negated {
                exclude = exclude.union(&e.set);
            } else {
                include = Some(match include {
                    Some(i) => i.union(&e.set),
                    None => e.set,
                });
            }
        }
        let base = include.unwrap_or_else(|| Value::any(kind));
        return Ok(Element {
            negated: false,
            set: base.minus(&exclude),
        });
    }
    if text.eq_ignore_ascii_case("any") {
        return Ok(Element {
            negated: false,
            set: Value::any(kind),
        });
    }
    let set = match kind {
        Kind::Address => Value::Ip(single_address(text)?),
        Kind::Port => Value::Port(single_port(text)?),
    };
    Ok(Element {
        negated: false,
        set,
    })
}

/// Splits a list body on the commas at bracket depth zero.
fn split_list(s: &str) -> Option<Vec<&str>> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
            }
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return None;
    }
    out.push(&s[start..]);
    Some(out)
}

fn single_address(text: &str) -> Result<IpSet, SetError> {
    let bad = || SetError::BadAddress(text.to_owned());
    let mut set = IpSet::empty();
    if let Some((a, b)) = text.split_once('-') {
        let (a, b) = (
            a.trim().parse::<IpAddr>().map_err(|_| bad())?,
            b.trim().parse::<IpAddr>().map_err(|_| bad())?,
        );
        match (a, b) {
            (IpAddr::V4(a), IpAddr::V4(b)) => set
                .v4
                .add(u128::from(u32::from(a)), u128::from(u32::from(b))),
            (IpAddr::V6(a), IpAddr::V6(b)) => set.v6.add(u128::from(a), u128::from(b)),
            _ => return Err(bad()),
        }
        return Ok(set);
    }
    let (addr, mask) = match text.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (text, None),
    };
    let addr: IpAddr = addr.parse().map_err(|_| bad())?;
    match addr {
        IpAddr::V4(a) => {
            let bits = match mask {
                None => 32,
                Some(m) => match m.parse::<u32>() {
                    Ok(n) if n <= 32 => n,
                    Ok(_) => return Err(bad()),
                    Err(_) => {
                        netmask_bits(m.parse::<Ipv4Addr>().map_err(|_| bad())?).ok_or_else(bad)?
                    }
                },
            };
            let a = u32::from(a);
            let host = if bits == 0 {
                u32::MAX
            } else {
                (1u32 << (32 - bits)).wrapping_sub(1)
            };
            let lo = a & !host;
            set.v4.add(u128::from(lo), u128::from(lo | host));
        }
        IpAddr::V6(a) => {
            let bits = match mask {
                None => 128,
                Some(m) => match m.parse::<u32>() {
                    Ok(n) if n <= 128 => n,
                    _ => return Err(bad()),
                },
            };
            let a = u128::from(a);
            let host = if bits == 0 {
                u128::MAX
            } else {
                (1u128 << (128 - bits)).wrapping_sub(1)
            };
            let lo = a & !host;
            set.v6.add(lo, lo | host);
        }
    }
    Ok(set)
}

/// The prefix length of a dotted netmask, if it is a contiguous one.
fn netmask_bits(mask: Ipv4Addr) -> Option<u32> {
    let m = u32::from(mask);
    let ones = m.leading_ones();
    (m.checked_shl(ones).unwrap_or(0) == 0).then_some(ones)
}

fn single_port(text: &str) -> Result<Ranges, SetError> {
    let bad = || SetError::BadPort(text.to_owned());
    let num = |s: &str| s.trim().parse::<u16>().map_err(|_| bad());
    let mut r = Ranges::empty(PORT_MAX);
    match text.split_once(':') {
        Some((a, b)) => {
            let lo = if a.trim().is_empty() { 0 } else { num(a)? };
            let hi = if b.trim().is_empty() {
                u16::MAX
            } else {
                num(b)?
            };
            if lo > hi {
                return Err(bad());
            }
            r.add(u128::from(lo), u128::from(hi));
        }
        None => {
            let p = num(text)?;
            r.add(u128::from(p), u128::from(p));
        }
    }
    Ok(r)
}

/// Parses a single address for tests and callers that hold one.
pub fn ip(s: &str) -> Option<IpAddr> {
    s.parse::<Ipv4Addr>()
        .map(IpAddr::V4)
        .or_else(|_| s.parse::<Ipv6Addr>().map(IpAddr::V6))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        Vars::suricata_defaults()
    }

    fn a(s: &str) -> IpSet {
        parse_addresses(s, &vars()).unwrap()
    }

    fn p(s: &str) -> PortSet {
        parse_ports(s, &vars()).unwrap()
    }

    #[test]
    fn single_addresses_and_blocks() {
        let s = a("10.1.2.0/24");
        assert!(s.contains(ip("10.1.2.0").unwrap()));
        assert!(s.contains(ip("10.1.2.255").unwrap()));
        assert!(!s.contains(ip("10.1.3.0").unwrap()));
        assert!(!s.contains(ip("::1").unwrap()));
        let m = a("10.1.2.0/255.255.255.0");
        assert_eq!(m, s);
        let r = a("1.1.1.5-1.1.1.7");
        assert!(r.contains(ip("1.1.1.6").unwrap()) && !r.contains(ip("1.1.1.8").unwrap()));
        let v6 = a("2001:db8::/32");
        assert!(v6.contains(ip("2001:db8:1::9").unwrap()));
        assert!(!v6.contains(ip("2001:db9::").unwrap()));
        assert!(a("0.0.0.0/0").contains(ip("255.255.255.255").unwrap()));
    }

    #[test]
    fn variables_expand_as_text() {
        let home = a("$HOME_NET");
        assert!(home.contains(ip("192.168.1.1").unwrap()));
        assert!(home.contains(ip("172.20.0.1").unwrap()));
        assert!(!home.contains(ip("8.8.8.8").unwrap()));
        let ext = a("$EXTERNAL_NET");
        assert!(ext.contains(ip("8.8.8.8").unwrap()));
        assert!(!ext.contains(ip("10.0.0.1").unwrap()));
        // Negated inside a list, the variable's own negation carries: 1.2.3.4 minus HOME_NET.
        let mixed = a("[$EXTERNAL_NET,8.8.8.8]");
        assert!(mixed.contains(ip("8.8.8.8").unwrap()));
        assert!(!mixed.contains(ip("8.8.4.4").unwrap()));
        // Double negation.
        assert_eq!(a("!$EXTERNAL_NET"), home);
    }

    #[test]
    fn lists_with_exclusions() {
        let s = a("[10.0.0.0/8,!10.1.0.0/16]");
        assert!(s.contains(ip("10.2.0.1").unwrap()));
        assert!(!s.contains(ip("10.1.0.1").unwrap()));
        let only_neg = a("[!$HOME_NET,!8.8.8.8]");
        assert!(only_neg.contains(ip("1.1.1.1").unwrap()));
        assert!(!only_neg.contains(ip("8.8.8.8").unwrap()));
        assert!(!only_neg.contains(ip("10.0.0.1").unwrap()));
        let nested = a("[1.0.0.0/8,![1.2.0.0/16,1.3.0.0/16]]");
        assert!(nested.contains(ip("1.1.0.1").unwrap()));
        assert!(!nested.contains(ip("1.2.0.1").unwrap()));
    }

    #[test]
    fn bad_and_empty_sets_are_errors() {
        let v = vars();
        assert!(matches!(
            parse_addresses("!any", &v),
            Err(SetError::Empty(_))
        ));
        assert!(matches!(
            parse_addresses("[1.2.3.4,!1.2.3.4]", &v),
            Err(SetError::Empty(_))
        ));
        assert!(matches!(
            parse_addresses("$NOPE", &v),
            Err(SetError::UnknownVar(_))
        ));
        assert!(matches!(
            parse_addresses("[1.2.3.4", &v),
            Err(SetError::Brackets(_))
        ));
        assert!(matches!(
            parse_addresses("1.2.3.4/33", &v),
            Err(SetError::BadAddress(_))
        ));
        assert!(matches!(
            parse_addresses("1.2.3.4,", &v),
            Err(SetError::BadAddress(_))
        ));
        assert!(matches!(
            parse_ports("70000", &v),
            Err(SetError::BadPort(_))
        ));
        assert!(matches!(
            parse_ports("90:80", &v),
            Err(SetError::BadPort(_))
        ));
        let mut rec = Vars::suricata_defaults();
        rec.set("LOOP", "$LOOP");
        assert!(matches!(
            parse_addresses("$LOOP", &rec),
            Err(SetError::Recursive(_))
        ));
    }

    #[test]
    fn ports() {
        assert!(p("any").is_any());
        let s = p("[80,8000:8080,!8008]");
        assert!(s.contains(80) && s.contains(8000) && s.contains(8080));
        assert!(!s.contains(8008) && !s.contains(81));
        let hi = p("1024:");
        assert!(hi.contains(65535) && hi.contains(1024) && !hi.contains(1023));
        let lo = p(":1023");
        assert!(lo.contains(0) && !lo.contains(1024));
        let not80 = p("!80");
        assert!(not80.contains(81) && !not80.contains(80));
        let files = p("$FILE_DATA_PORTS");
        assert!(files.contains(80) && files.contains(110) && files.contains(143));
        let mut cuts = Vec::new();
        p("[80,1024:]").cuts(&mut cuts);
        assert_eq!(cuts, vec![80, 81, 1024]);
    }
}
