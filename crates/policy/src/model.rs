//! The policy as validated, typed data: zones, rules, services, NAT, flood guards and
//! anti-spoofing, every name resolved and every value in range. This is what the TOML file
//! means; the compiled lookups ([`crate::Policy`]) are built from it, and [`Rule::matches`] is
//! the reference meaning of a rule that the classifier is tested against.
//!
//! Nothing here is on a packet path: the model may allocate freely. It never holds a value that
//! was not checked (a rule with an unknown zone cannot be expressed).

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

use crate::addr::{AddrSet, Cidr};
use crate::ranges::RangeSet;

/// A port of the switch, by the dense id the datapath gives it (its position in the switch
/// configuration's port list, from 0).
pub type PortId = u16;

/// A zone of one compiled policy. [`ZoneId::WAN`] is the built-in zone `wan`; declared zones
/// are numbered from 1 in the order of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ZoneId(pub u16);

impl ZoneId {
    /// Every address that no declared zone claims: the network behind the uplink.
    pub const WAN: ZoneId = ZoneId(0);

    /// The id as an index into [`Model::zones`].
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// The name of the built-in zone.
pub const WAN: &str = "wan";
/// The name that matches every zone in a rule's `from` and `to`.
pub const ANY: &str = "any";

/// What a zone holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Member {
    /// Every address inside the prefix (longest prefix wins between zones).
    Cidr(Cidr),
    /// Whatever enters by this switch port; with a switch configuration also the port's bound
    /// MACs and IP addresses.
    Port(String),
    /// Frames with this MAC address.
    Mac([u8; 6]),
    /// Every port carrying the label (policy `[labels]` or the switch inventory).
    Label(String),
}

impl fmt::Display for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Member::Cidr(c) => write!(f, "{c}"),
            Member::Port(p) => write!(f, "port {p}"),
            Member::Mac(m) => write!(f, "{}", crate::addr::fmt_mac(*m)),
            Member::Label(l) => write!(f, "label:{l}"),
        }
    }
}

/// One member with the line it was written on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneMember {
    pub member: Member,
    pub line: usize,
}

/// A security domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub id: ZoneId,
    pub name: String,
    /// Line of the `[[zone]]` table (0 for `wan`).
    pub line: usize,
    pub members: Vec<ZoneMember>,
}

/// A set of zones: `any`, or the listed ones.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ZoneSet {
    Any,
    /// Sorted, without duplicates.
    Some(Vec<ZoneId>),
}

impl ZoneSet {
    /// A set of the given zones.
    pub fn of(zones: impl IntoIterator<Item = ZoneId>) -> ZoneSet {
        let mut v: Vec<ZoneId> = zones.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        ZoneSet::Some(v)
    }

    /// True when `z` is in the set.
    pub fn contains(&self, z: ZoneId) -> bool {
        match self {
            ZoneSet::Any => true,
            ZoneSet::Some(v) => v.binary_search(&z).is_ok(),
        }
    }

    /// True when every zone of `other` is in `self` (`zones` = how many zones the policy has,
    /// `wan` included, so that a list of all of them counts as `any`).
    pub fn is_superset(&self, other: &ZoneSet, zones: usize) -> bool {
        match (self, other) {
            (ZoneSet::Any, _) => true,
            (ZoneSet::Some(a), ZoneSet::Any) => a.len() >= zones,
            (ZoneSet::Some(_), ZoneSet::Some(b)) => b.iter().all(|z| self.contains(*z)),
        }
    }

    /// The zones listed, or `None` for `any`.
    pub fn listed(&self) -> Option<&[ZoneId]> {
        match self {
            ZoneSet::Any => None,
            ZoneSet::Some(v) => Some(v),
        }
    }
}

/// A set of IP protocol numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProtoSet(pub [u64; 4]);

impl ProtoSet {
    /// Every protocol.
    pub const ANY: ProtoSet = ProtoSet([u64::MAX; 4]);
    /// No protocol.
    pub const NONE: ProtoSet = ProtoSet([0; 4]);

    /// One protocol.
    pub fn one(p: u8) -> ProtoSet {
        let mut s = ProtoSet::NONE;
        s.insert(p);
        s
    }

    /// Adds a protocol.
    pub fn insert(&mut self, p: u8) {
        self.0[usize::from(p >> 6)] |= 1 << (p & 63);
    }

    /// True when `p` is in the set.
    pub fn contains(self, p: u8) -> bool {
        self.0[usize::from(p >> 6)] & (1 << (p & 63)) != 0
    }

    /// True when every protocol of `other` is in `self`.
    pub fn is_superset(self, other: ProtoSet) -> bool {
        self.0.iter().zip(other.0).all(|(a, b)| b & !a == 0)
    }

    /// The protocols, in order.
    pub fn iter(self) -> impl Iterator<Item = u8> {
        (0..=255u8).filter(move |p| self.contains(*p))
    }

    /// True for every protocol.
    pub fn is_any(self) -> bool {
        self == ProtoSet::ANY
    }
}

/// IP protocol numbers the policy names.
pub mod proto {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const DCCP: u8 = 33;
    pub const GRE: u8 = 47;
    pub const ESP: u8 = 50;
    pub const AH: u8 = 51;
    pub const ICMPV6: u8 = 58;
    pub const SCTP: u8 = 132;
    pub const UDPLITE: u8 = 136;

    /// Protocols whose packets carry source and destination ports.
    pub fn has_ports(p: u8) -> bool {
        matches!(p, TCP | UDP | DCCP | SCTP | UDPLITE)
    }

    /// The name a policy uses for a protocol number, when it has one.
    pub fn name(p: u8) -> Option<&'static str> {
        Some(match p {
            ICMP => "icmp",
            TCP => "tcp",
            UDP => "udp",
            DCCP => "dccp",
            GRE => "gre",
            ESP => "esp",
            AH => "ah",
            ICMPV6 => "icmpv6",
            SCTP => "sctp",
            UDPLITE => "udplite",
            _ => return None,
        })
    }

    /// The protocol number a policy name stands for.
    pub fn by_name(s: &str) -> Option<u8> {
        (0..=255u8).find(|p| name(*p) == Some(s))
    }
}

/// The transport part of a service.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum L4Match {
    /// Any ports, any ICMP type.
    Any,
    /// Source and destination ports (the service's protocols all carry ports).
    Ports {
        src: RangeSet<u16>,
        dst: RangeSet<u16>,
    },
    /// ICMP or ICMPv6 type and code (`None`: any).
    Icmp { ty: Option<u8>, code: Option<u8> },
}

/// One service: protocols and, for protocols with ports or for ICMP, what the transport header
/// must hold. A service group is a list of these.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Service {
    pub protos: ProtoSet,
    pub l4: L4Match,
}

impl Service {
    /// Any protocol.
    pub fn any() -> Service {
        Service {
            protos: ProtoSet::ANY,
            l4: L4Match::Any,
        }
    }

    /// True when the packet's protocol and transport fields are in the service.
    pub fn matches(&self, proto: u8, transport: Transport) -> bool {
        if !self.protos.contains(proto) {
            return false;
        }
        let (a, b) = transport.key();
        match &self.l4 {
            L4Match::Any => true,
            L4Match::Ports { src, dst } => src.contains(a) && dst.contains(b),
            L4Match::Icmp { ty, code } => {
                ty.is_none_or(|t| u16::from(t) == a) && code.is_none_or(|c| u16::from(c) == b)
            }
        }
    }
}

/// What the transport header of a connection's first packet holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// TCP, UDP, SCTP, DCCP, UDP-Lite.
    Ports { src: u16, dst: u16 },
    /// ICMP or ICMPv6.
    Icmp { ty: u8, code: u8 },
    /// A protocol without ports.
    Other,
}

impl Transport {
    /// The two 16-bit transport fields the classifier matches on: the ports, or the ICMP type
    /// and code (as Open vSwitch does), or zeros.
    pub fn key(self) -> (u16, u16) {
        match self {
            Transport::Ports { src, dst } => (src, dst),
            Transport::Icmp { ty, code } => (u16::from(ty), u16::from(code)),
            Transport::Other => (0, 0),
        }
    }
}

/// The connection state a rule can ask for. The firewall maps the connection layer's states
/// (`conn::ConnState`) onto these: `New` and `Related` as they are, `Established`, `Closing`
/// and `Closed` as `Established`, `Invalid` as `Invalid` unless the firewall's loose mode picks
/// the connection up, which makes it `Established`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnState {
    /// The first packet of a connection.
    New,
    /// A packet of a connection that was already running: picked up mid-stream (loose mode),
    /// or judged again after a reload.
    Established,
    /// An ICMP error about a known connection.
    Related,
    /// A packet the connection layer could not place (no SYN began it, out of window).
    Invalid,
}

impl ConnState {
    /// Every state, in bit order.
    pub const ALL: [ConnState; 4] = [
        ConnState::New,
        ConnState::Established,
        ConnState::Related,
        ConnState::Invalid,
    ];

    /// The name used in policy files.
    pub fn name(self) -> &'static str {
        match self {
            ConnState::New => "new",
            ConnState::Established => "established",
            ConnState::Related => "related",
            ConnState::Invalid => "invalid",
        }
    }

    /// The bit of this state in a [`StateSet`].
    pub fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A set of connection states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StateSet(pub u8);

impl StateSet {
    /// Every state.
    pub const ANY: StateSet = StateSet(0b1111);

    /// True when `s` is in the set.
    pub fn contains(self, s: ConnState) -> bool {
        self.0 & s.bit() != 0
    }

    /// True when every state of `other` is in `self`.
    pub fn is_superset(self, other: StateSet) -> bool {
        other.0 & !self.0 == 0
    }
}

/// What a rule does with a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Let the connection through.
    Allow,
    /// Drop silently.
    Deny,
    /// Drop and answer: a TCP RST, or an ICMP port/administratively prohibited unreachable.
    Reject,
    /// Raise an alarm and let the connection through.
    Alert,
    /// Drop and raise an alarm.
    DropAlert,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 5] = [
        Action::Allow,
        Action::Deny,
        Action::Reject,
        Action::Alert,
        Action::DropAlert,
    ];

    /// The name used in policy files.
    pub fn name(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Deny => "deny",
            Action::Reject => "reject",
            Action::Alert => "alert",
            Action::DropAlert => "drop-alert",
        }
    }

    /// The action a policy name stands for.
    pub fn by_name(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == s)
    }

    /// True when the connection goes through (allow, alert).
    pub fn passes(self) -> bool {
        matches!(self, Action::Allow | Action::Alert)
    }

    /// True when an alarm is raised (alert, drop-alert).
    pub fn alarms(self) -> bool {
        matches!(self, Action::Alert | Action::DropAlert)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the classifier is asked about: a connection's first packet, its zones already resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FirstPacket {
    pub src_zone: ZoneId,
    pub dst_zone: ZoneId,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IP protocol number (IPv6: the upper-layer protocol after extension headers).
    pub proto: u8,
    pub transport: Transport,
    pub state: ConnState,
}

/// One ordered rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The id written in audit records (`id` in the file, else the rule's position from 1).
    pub id: u32,
    /// The name written in audit records (`name` in the file, else `rule-<id>`).
    pub name: String,
    /// Line of the `[[rule]]` table.
    pub line: usize,
    pub from: ZoneSet,
    pub to: ZoneSet,
    pub source: AddrSet,
    pub destination: AddrSet,
    /// The union of these services; never empty (no `proto`/`services` = [`Service::any`]).
    pub services: Vec<Service>,
    pub states: StateSet,
    pub action: Action,
    pub log: bool,
}

impl Rule {
    /// The reference meaning of a rule: true when it matches the packet. The classifier must
    /// give the same first match as trying every rule in order with this function.
    pub fn matches(&self, p: &FirstPacket) -> bool {
        self.from.contains(p.src_zone)
            && self.to.contains(p.dst_zone)
            && self.source.contains(p.src)
            && self.destination.contains(p.dst)
            && self.states.contains(p.state)
            && self
                .services
                .iter()
                .any(|s| s.matches(p.proto, p.transport))
    }
}

/// What happens to a new connection that no rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultRule {
    pub action: Action,
    pub log: bool,
    /// Line of the `[default]` table; 0 when the file has none (then: deny, no log).
    pub line: usize,
}

/// A named list of addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressGroup {
    pub name: String,
    pub line: usize,
    pub addresses: AddrSet,
}

/// A named list of services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceGroup {
    pub name: String,
    pub line: usize,
    pub services: Vec<Service>,
}

/// Source NAT: new connections from `from` to `to` leave with `address` as their source and a
/// source port from `ports` (chosen by the firewall).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceNat {
    pub name: String,
    pub line: usize,
    pub from: ZoneSet,
    pub to: ZoneSet,
    /// Source addresses it applies to, already limited to `address`'s family.
    pub source: AddrSet,
    pub destination: AddrSet,
    /// The address connections leave with.
    pub address: IpAddr,
    /// With `masquerade = PORT`: the port whose bound address `address` is.
    pub masquerade: Option<String>,
    /// Source ports to choose from, inclusive.
    pub ports: (u16, u16),
}

impl SourceNat {
    /// True when a new connection with these zones and addresses is translated by this rule
    /// (when no earlier rule or 1:1 mapping took it).
    pub fn applies(&self, src_zone: ZoneId, dst_zone: ZoneId, src: IpAddr, dst: IpAddr) -> bool {
        self.from.contains(src_zone)
            && self.to.contains(dst_zone)
            && self.source.contains(src)
            && self.destination.contains(dst)
    }
}

/// Destination NAT (port mapping): connections to `address`:`ports` go to
/// `to_address`:`to_ports` instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationNat {
    pub name: String,
    pub line: usize,
    pub from: ZoneSet,
    /// TCP, UDP or both (protocols with ports).
    pub protos: ProtoSet,
    pub address: IpAddr,
    pub ports: (u16, u16),
    pub to_address: IpAddr,
    /// Either one port (every mapped port goes to it) or a range as long as `ports`.
    pub to_ports: (u16, u16),
}

impl DestinationNat {
    /// True when a new connection to `dst`:`port` from `src_zone` is mapped by this rule.
    pub fn applies(&self, src_zone: ZoneId, dst: IpAddr, proto: u8, port: u16) -> bool {
        self.from.contains(src_zone)
            && self.protos.contains(proto)
            && dst == self.address
            && (self.ports.0..=self.ports.1).contains(&port)
    }

    /// The port a mapped connection to `port` goes to.
    pub fn to_port(&self, port: u16) -> u16 {
        if self.to_ports.0 == self.to_ports.1 {
            self.to_ports.0
        } else {
            self.to_ports.0 + (port - self.ports.0)
        }
    }
}

/// 1:1 mapping: each address of `internal` is seen outside as the address at the same offset
/// in `external`, both ways.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneToOne {
    pub name: String,
    pub line: usize,
    pub internal: Cidr,
    pub external: Cidr,
}

/// Which packets a flood guard counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FloodKind {
    /// TCP SYN without ACK.
    Syn,
    /// UDP packets.
    Udp,
    /// ICMP and ICMPv6 packets.
    Icmp,
}

impl FloodKind {
    /// The name used in policy files.
    pub fn name(self) -> &'static str {
        match self {
            FloodKind::Syn => "syn",
            FloodKind::Udp => "udp",
            FloodKind::Icmp => "icmp",
        }
    }
}

/// What a flood guard counts packets per.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FloodPer {
    /// One bucket per destination address (protects a target).
    Destination,
    /// One bucket per source address (stops a sender).
    Source,
}

/// What a flood guard does when a bucket runs dry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FloodAction {
    /// Alert once when the threshold is crossed; let everything through.
    Alert,
    /// Alert, then drop what exceeds the rate for `block_seconds`.
    Block,
}

/// A flood threshold: a token bucket of `rate` packets per second and `burst` packets per
/// address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloodGuard {
    pub name: String,
    pub line: usize,
    pub kind: FloodKind,
    pub per: FloodPer,
    pub rate: u32,
    pub burst: u32,
    pub action: FloodAction,
    /// How long a blocked address stays blocked.
    pub block_seconds: u32,
    /// The guard counts packets from these zones ...
    pub from: ZoneSet,
    /// ... to these zones.
    pub to: ZoneSet,
}

/// What anti-spoofing does with a frame from a source that is not bound to its port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpoofAction {
    Drop,
    DropAlert,
    Alert,
}

impl SpoofAction {
    /// The name used in policy files.
    pub fn name(self) -> &'static str {
        match self {
            SpoofAction::Drop => "drop",
            SpoofAction::DropAlert => "drop-alert",
            SpoofAction::Alert => "alert",
        }
    }
}

/// Anti-spoofing of one port: the port may send only from these MACs and addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortGuard {
    pub port: String,
    /// The port's id in the switch configuration, when one was given.
    pub port_id: Option<PortId>,
    pub line: usize,
    /// Allowed source MACs, sorted.
    pub macs: Vec<[u8; 6]>,
    /// Allowed source addresses.
    pub addresses: AddrSet,
    pub action: SpoofAction,
}

/// What sits behind a switch port (the datapath's port kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortKind {
    Vm,
    Uplink,
    Gateway,
    Internal,
}

/// A port of the switch as the policy sees it: taken from the switch configuration (or pushed
/// by a manager), never from packets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryPort {
    pub id: PortId,
    pub name: String,
    pub kind: PortKind,
    pub macs: Vec<[u8; 6]>,
    pub ips: Vec<IpAddr>,
    /// Labels given to the port outside the policy file.
    pub labels: Vec<String>,
}

/// The switch's ports, which port-name, label and masquerade references resolve against.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Inventory {
    /// The file they came from, for messages.
    pub file: Option<PathBuf>,
    pub ports: Vec<InventoryPort>,
}

impl Inventory {
    /// The port with this name.
    pub fn port(&self, name: &str) -> Option<&InventoryPort> {
        self.ports.iter().find(|p| p.name == name)
    }

    /// Where the ports came from, for messages.
    pub fn describe(&self) -> String {
        match &self.file {
            Some(f) => f.display().to_string(),
            None => "the switch configuration".into(),
        }
    }
}

/// A whole validated policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    pub file: PathBuf,
    /// `switch = "..."` of the file, relative to the file's directory.
    pub switch: Option<PathBuf>,
    /// `zones[0]` is `wan`; declared zones follow in file order (`zones[i].id == ZoneId(i)`).
    pub zones: Vec<Zone>,
    /// `[labels]`: label name to port names.
    pub labels: Vec<(String, Vec<String>)>,
    pub address_groups: Vec<AddressGroup>,
    pub service_groups: Vec<ServiceGroup>,
    pub rules: Vec<Rule>,
    pub default: DefaultRule,
    pub snat: Vec<SourceNat>,
    pub dnat: Vec<DestinationNat>,
    pub one_to_one: Vec<OneToOne>,
    pub floods: Vec<FloodGuard>,
    pub anti_spoof: Vec<PortGuard>,
}

impl Model {
    /// The zone with this name (`wan` included).
    pub fn zone(&self, name: &str) -> Option<&Zone> {
        self.zones.iter().find(|z| z.name == name)
    }

    /// The first rule that matches, by trying each in order: the reference the classifier is
    /// held to. `None` means the default applies.
    pub fn first_match(&self, p: &FirstPacket) -> Option<usize> {
        self.rules.iter().position(|r| r.matches(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_sets() {
        let s = ZoneSet::of([ZoneId(2), ZoneId(1), ZoneId(2)]);
        assert_eq!(s, ZoneSet::Some(vec![ZoneId(1), ZoneId(2)]));
        assert!(s.contains(ZoneId(1)) && !s.contains(ZoneId::WAN));
        assert!(ZoneSet::Any.is_superset(&s, 3));
        assert!(!s.is_superset(&ZoneSet::Any, 3));
        assert!(ZoneSet::of([ZoneId(0), ZoneId(1), ZoneId(2)]).is_superset(&ZoneSet::Any, 3));
        assert!(s.is_superset(&ZoneSet::of([ZoneId(2)]), 3));
    }

    #[test]
    fn protocols_and_states() {
        let mut p = ProtoSet::one(proto::TCP);
        p.insert(proto::UDPLITE);
        assert!(p.contains(6) && p.contains(136) && !p.contains(17));
        assert!(ProtoSet::ANY.is_superset(p) && !p.is_superset(ProtoSet::ANY));
        assert_eq!(p.iter().collect::<Vec<_>>(), vec![6, 136]);
        assert_eq!(proto::by_name("icmpv6"), Some(58));
        assert_eq!(proto::by_name("ipv4"), None);
        let s = StateSet(ConnState::New.bit() | ConnState::Related.bit());
        assert!(s.contains(ConnState::Related) && !s.contains(ConnState::Invalid));
        assert!(StateSet::ANY.is_superset(s) && !s.is_superset(StateSet::ANY));
    }

    #[test]
    fn services_match_ports_or_icmp() {
        let web = Service {
            protos: ProtoSet::one(proto::TCP),
            l4: L4Match::Ports {
                src: RangeSet::full(),
                dst: RangeSet::from_ranges([(80, 80), (8000, 8080)]),
            },
        };
        let t = |dst| Transport::Ports { src: 40000, dst };
        assert!(web.matches(6, t(80)) && web.matches(6, t(8080)));
        assert!(!web.matches(6, t(81)) && !web.matches(17, t(80)));
        let echo = Service {
            protos: ProtoSet::one(proto::ICMP),
            l4: L4Match::Icmp {
                ty: Some(8),
                code: None,
            },
        };
        assert!(echo.matches(1, Transport::Icmp { ty: 8, code: 3 }));
        assert!(!echo.matches(1, Transport::Icmp { ty: 0, code: 0 }));
        assert!(Service::any().matches(47, Transport::Other));
    }

    #[test]
    fn port_mapping_ranges() {
        let mut d = DestinationNat {
            name: "m".into(),
            line: 1,
            from: ZoneSet::Any,
            protos: ProtoSet::one(proto::TCP),
            address: "203.0.113.1".parse().unwrap(),
            ports: (8000, 8009),
            to_address: "10.0.0.5".parse().unwrap(),
            to_ports: (9000, 9009),
        };
        assert_eq!(d.to_port(8003), 9003);
        d.to_ports = (80, 80);
        assert_eq!(d.to_port(8003), 80);
        assert!(d.applies(ZoneId::WAN, d.address, 6, 8009));
        assert!(!d.applies(ZoneId::WAN, d.address, 17, 8009));
        assert!(!d.applies(ZoneId::WAN, d.address, 6, 8010));
    }
}
