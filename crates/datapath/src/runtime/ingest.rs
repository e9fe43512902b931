//! The front of the runtime: what port a received frame enters by, and an Ethernet header for
//! frames that come without one.
//!
//! A frame's input port is, in order: the port its source names (memory, live ports); the port
//! fed by its capture interface (`interface = N` in the configuration); the port a bound MAC
//! (`macs`) or, for a frame without Ethernet, a bound IP address (`ips`) names; with the
//! built-in default configuration, a VM port made for each new source MAC (until the port
//! table is full); else the uplink. A multicast source MAC enters nowhere.
//!
//! Frames without an Ethernet header (raw IP, Linux cooked capture, BSD loopback, Cisco HDLC)
//! get one, with locally administered MACs made from their IP addresses (`02:00:a:b:c:d` for
//! IPv4 `a.b.c.d`, `02:06:` and the last four bytes for IPv6), so both ends of a conversation
//! keep their own MAC and the switch forwards them like any other frame. A frame without
//! Ethernet that carries no IP has nothing to be switched on and is dropped (`not-ethernet`).
//!
//! Nothing here allocates per packet except when a port is made; the synthesized frame is
//! built in a reused buffer.

type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
use std::net::IpAddr;

use wire::{L3, LinkType, parse_link};

use crate::counters::DropReason;
use crate::learn::{Learner, SwitchChange};
use crate::port::{Port, PortId, PortKind, VlanMode};

use super::source::RxFrame;

/// The name of the uplink port of the built-in default configuration.
pub const DEFAULT_UPLINK: &str = "uplink";

/// Where a frame enters, or why it does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// It enters `port`; its Ethernet frame is [`Ingest::frame`]'s answer.
    Port(PortId),
    /// It is dropped before the switch.
    Drop(DropReason),
}

/// Port mapping and Ethernet synthesis for one source of frames.
#[derive(Debug)]
pub struct Ingest {
    auto: bool,
    uplink: Option<PortId>,
    by_iface: HashMap<u32, PortId>,
    by_mac: HashMap<[u8; 6], PortId>,
    by_ip: HashMap<IpAddr, PortId>,
    /// The synthesized frame of the last call, when it needed one.
    synth: Vec<u8>,
    synthesized: bool,
    /// VM ports made (built-in default only).
    pub ports_made: u64,
}

impl Ingest {
    /// Mapping for the learner's ports; `auto` makes a VM port per new source MAC.
    pub fn new(learner: &Learner, auto: bool) -> Ingest {
        let mut m = Ingest {
            auto,
            uplink: None,
            by_iface: HashMap::default(),
            by_mac: HashMap::default(),
            by_ip: HashMap::default(),
            synth: Vec::with_capacity(2048),
            synthesized: false,
            ports_made: 0,
        };
        for (id, p) in learner.ports().iter() {
            m.index(id, p);
        }
        m
    }

    fn index(&mut self, id: PortId, p: &Port) {
        if let Some(i) = p.interface {
            self.by_iface.entry(i).or_insert(id);
        }
        for mac in &p.macs {
            self.by_mac.entry(*mac).or_insert(id);
        }
        for ip in &p.ips {
            self.by_ip.entry(*ip).or_insert(id);
        }
        if p.kind == PortKind::Uplink && self.uplink.is_none() {
            self.uplink = Some(id);
        }
    }

    /// Decides where `rx` enters (making a port through the learner when the built-in default
    /// asks for one; the change goes to `changes`). When it enters, [`Ingest::frame`] gives
    /// the Ethernet frame to switch.
    pub fn admit(
        &mut self,
        rx: &RxFrame<'_>,
        learner: &mut Learner,
        changes: &mut Vec<SwitchChange>,
    ) -> Admit {
        self.synthesized = false;
        let mut src_ip = None;
        if rx.link != LinkType::Ethernet {
            match self.synthesize(rx.data, rx.link) {
                Some(ip) => src_ip = Some(ip),
                None => return Admit::Drop(DropReason::NotEthernet),
            }
        }
        if let Some(port) = rx.port {
            return Admit::Port(port);
        }
        if let Some(&port) = self.by_iface.get(&rx.interface) {
            return Admit::Port(port);
        }
        let frame = if self.synthesized {
            &self.synth[..]
        } else {
            rx.data
        };
        let Some(src) = frame.get(6..12) else {
            return match self.uplink {
                // Too short to say; the pipeline drops it as malformed, counted at its port.
                Some(u) => Admit::Port(u),
                None => Admit::Drop(DropReason::Malformed),
            };
        };
        let mac = [src[0], src[1], src[2], src[3], src[4], src[5]];
        if mac[0] & 1 != 0 {
            return Admit::Drop(DropReason::InvalidSourceMac);
        }
        if let Some(&port) = self.by_mac.get(&mac) {
            return Admit::Port(port);
        }
        if let Some(ip) = src_ip
            && let Some(&port) = self.by_ip.get(&ip)
        {
            return Admit::Port(port);
        }
        if self.auto {
            let port = Port {
                name: format!(
                    "vm-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
                    mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]
                ),
                kind: PortKind::Vm,
                bridge: 0,
                // Carries every VLAN as it came: the capture decides.
                vlan: VlanMode::Trunk {
                    allowed: Vec::new(),
                    native: Some(0),
                },
                macs: vec![mac],
                ips: Vec::new(),
                interface: None,
            };
            if let Some(id) = learner.add_port(port, changes) {
                self.by_mac.insert(mac, id);
                self.ports_made += 1;
                return Admit::Port(id);
            }
        }
        match self.uplink {
            Some(u) => Admit::Port(u),
            None => Admit::Drop(DropReason::NoInputPort),
        }
    }

    /// The Ethernet frame of the last admitted `rx`: its own bytes, or the synthesized frame.
    pub fn frame<'a>(&'a self, rx: &RxFrame<'a>) -> &'a [u8] {
        if self.synthesized {
            &self.synth
        } else {
            rx.data
        }
    }

    /// Builds an Ethernet frame for an IP packet of another link type; returns its source
    /// address, or `None` when it carries no IP.
    fn synthesize(&mut self, data: &[u8], link: LinkType) -> Option<IpAddr> {
        let p = parse_link(data, link);
        let l3 = usize::from(p.l3_offset);
        let (src, dst, ethertype) = match p.l3 {
            L3::Ipv4 => {
                let (s, d) = p.ipv4_addrs(data)?;
                (IpAddr::from(s), IpAddr::from(d), 0x0800u16)
            }
            L3::Ipv6 => {
                let (s, d) = p.ipv6_addrs(data)?;
                (IpAddr::from(s), IpAddr::from(d), 0x86dd)
            }
            _ => return None,
        };
        self.synth.clear();
        self.synth.extend_from_slice(&mac_of(dst));
        self.synth.extend_from_slice(&mac_of(src));
        self.synth.extend_from_slice(&ethertype.to_be_bytes());
        self.synth.extend_from_slice(data.get(l3..)?);
        self.synthesized = true;
        Some(src)
    }

    /// Notes a port made elsewhere (so frames from its MACs enter it).
    pub fn port_added(&mut self, id: PortId, p: &Port) {
        self.index(id, p);
    }
}

/// The locally administered MAC standing for an IP address.
pub fn mac_of(ip: IpAddr) -> [u8; 6] {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            [0x02, 0x00, o[0], o[1], o[2], o[3]]
        }
        IpAddr::V6(v6) => {
            let o = v6.octets();
            [0x02, 0x06, o[12], o[13], o[14], o[15]]
        }
    }
}

/// The built-in default configuration: one bridge `br0` whose uplink (`uplink`, every VLAN,
/// untagged frames native) receives unknown unicast and floods; VM ports are made per source
/// MAC as frames arrive.
pub fn default_config() -> crate::config::Config {
    let mut c = crate::config::Config::default();
    c.ports.push(Port {
        name: DEFAULT_UPLINK.into(),
        kind: PortKind::Uplink,
        bridge: 0,
        vlan: VlanMode::Trunk {
            allowed: Vec::new(),
            native: Some(0),
        },
        macs: Vec::new(),
        ips: Vec::new(),
        interface: None,
    });
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_ipv4(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
        let mut f = vec![0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0];
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f.extend_from_slice(&[0, 53, 0, 53, 0, 8, 0, 0]);
        f
    }

    fn rx(data: &[u8], link: LinkType) -> RxFrame<'_> {
        RxFrame {
            data,
            time_ns: 0,
            number: 1,
            port: None,
            interface: 0,
            link,
        }
    }

    #[test]
    fn default_config_makes_vm_ports_and_synthesizes_ethernet() {
        let cfg = default_config();
        let mut learner = Learner::new(&cfg);
        let mut ingest = Ingest::new(&learner, true);
        let mut changes = Vec::new();
        let a = raw_ipv4([10, 0, 0, 1], [10, 0, 0, 2]);
        let r = rx(&a, LinkType::RawIp);
        let Admit::Port(p) = ingest.admit(&r, &mut learner, &mut changes) else {
            panic!("dropped")
        };
        assert_eq!(p, 1, "the uplink is port 0, the new VM port 1");
        let f = ingest.frame(&r);
        assert_eq!(&f[0..12], &[2, 0, 10, 0, 0, 2, 2, 0, 10, 0, 0, 1]);
        assert_eq!(&f[12..14], &[0x08, 0x00]);
        assert_eq!(&f[14..], &a[..]);
        assert_eq!(changes.len(), 1);
        // The same source again: the same port, nothing made.
        let r = rx(&a, LinkType::RawIp);
        assert_eq!(ingest.admit(&r, &mut learner, &mut changes), Admit::Port(1));
        assert_eq!(changes.len(), 1);
        // Not IP, not Ethernet: nothing to switch on.
        let r = rx(&[0x60], LinkType::RawIp);
        assert_eq!(
            ingest.admit(&r, &mut learner, &mut changes),
            Admit::Drop(DropReason::NotEthernet)
        );
    }

    #[test]
    fn a_configured_switch_sends_strangers_to_its_uplink() {
        let cfg = crate::config::Config::parse(
            r#"
            [[bridge]]
            name = "br0"
            [[port]]
            name = "vm1"
            kind = "vm"
            bridge = "br0"
            macs = ["02:00:00:00:00:01"]
            [[port]]
            name = "wan"
            kind = "uplink"
            bridge = "br0"
            "#,
            "t.toml".as_ref(),
        )
        .unwrap();
        let mut learner = Learner::new(&cfg);
        let mut ingest = Ingest::new(&learner, false);
        let mut changes = Vec::new();
        let mut f = vec![0xffu8; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 8, 6]);
        assert_eq!(
            ingest.admit(&rx(&f, LinkType::Ethernet), &mut learner, &mut changes),
            Admit::Port(0)
        );
        f[11] = 9;
        assert_eq!(
            ingest.admit(&rx(&f, LinkType::Ethernet), &mut learner, &mut changes),
            Admit::Port(1),
            "an unknown source MAC comes from outside"
        );
        f[6] = 1;
        assert_eq!(
            ingest.admit(&rx(&f, LinkType::Ethernet), &mut learner, &mut changes),
            Admit::Drop(DropReason::InvalidSourceMac)
        );
        assert!(changes.is_empty());
    }
}
