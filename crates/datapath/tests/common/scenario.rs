//! A capture of mixed traffic between VMs on two bridges, with the configuration that describes
//! them, and what each port must transmit when it is replayed. Shared by the replay test and the
//! `two_bridges` example that writes `samples/two-bridges.*`.
//!
//! br0: vm1, vm2, vm3 (untagged). br1: web (VLAN 10), db (VLAN 10), mgmt (VLAN 20) and an uplink
//! trunking VLANs 10 and 20. Each VM's packets are captured on its own pcapng interface, the
//! uplink's on a sixth one (with their 802.1Q tags).

#![allow(dead_code)]

use std::io::Write;

use capture::{LinkType, PcapNgWriter, Timestamp};
use etherparse::PacketBuilder;

pub const CONFIG: &str = r#"# Two bridges of VMs, for `rampart replay samples/two-bridges.pcapng`.
[datapath]
emc_insert_inv_prob = 1

[[bridge]]
name = "br0"

[[bridge]]
name = "br1"

[[port]]
name = "vm1"
kind = "vm"
bridge = "br0"
macs = ["02:00:00:00:00:01"]
ips = ["10.0.0.1"]
interface = 0

[[port]]
name = "vm2"
kind = "vm"
bridge = "br0"
macs = ["02:00:00:00:00:02"]
ips = ["10.0.0.2", "fd00::2"]
interface = 1

[[port]]
name = "vm3"
kind = "vm"
bridge = "br0"
macs = ["02:00:00:00:00:03"]
ips = ["10.0.0.3", "fd00::3"]
interface = 2

[[port]]
name = "web"
kind = "vm"
bridge = "br1"
vlan = 10
macs = ["02:00:00:00:01:0a"]
ips = ["192.168.10.10"]
interface = 3

[[port]]
name = "db"
kind = "vm"
bridge = "br1"
vlan = 10
macs = ["02:00:00:00:01:0b"]
ips = ["192.168.10.11"]
interface = 4

[[port]]
name = "mgmt"
kind = "vm"
bridge = "br1"
vlan = 20
macs = ["02:00:00:00:02:0c"]
ips = ["192.168.20.12"]
interface = 5

[[port]]
name = "uplink"
kind = "uplink"
bridge = "br1"
trunk = [10, 20]
interface = 6
"#;

pub const VM1: [u8; 6] = [2, 0, 0, 0, 0, 1];
pub const VM2: [u8; 6] = [2, 0, 0, 0, 0, 2];
pub const VM3: [u8; 6] = [2, 0, 0, 0, 0, 3];
pub const WEB: [u8; 6] = [2, 0, 0, 0, 1, 0x0a];
pub const DB: [u8; 6] = [2, 0, 0, 0, 1, 0x0b];
pub const MGMT: [u8; 6] = [2, 0, 0, 0, 2, 0x0c];
pub const GW: [u8; 6] = [2, 0, 0, 0, 9, 0x99];
pub const BCAST: [u8; 6] = [0xff; 6];

/// Port names in id order (as the configuration defines them).
pub const PORTS: [&str; 7] = ["vm1", "vm2", "vm3", "web", "db", "mgmt", "uplink"];

/// Packets each port must transmit, in port order:
/// - vm1: ARP reply, SYN-ACK, HTTP response, FIN-ACK and ACK from vm2; vm3's ARP request
///   (flooded), echo request and IPv6 neighbour solicitation (multicast, flooded): 8.
/// - vm2: vm1's ARP request (flooded), SYN, ACK, request, FIN-ACK; vm3's ARP request and
///   neighbour solicitation (flooded) and IPv6 echo request: 8.
/// - vm3: vm1's ARP request (flooded), echo reply, vm2's neighbour advertisement and IPv6 echo
///   reply: 4.
/// - web: db's ARP reply and SYN-ACK, the gateway's SYN-ACK from the uplink (untagged): 3.
/// - db: web's ARP request (flooded), SYN and ACK, the gateway's SYN-ACK: 4.
/// - mgmt: the gateway's VLAN 20 broadcast: 1.
/// - uplink: web's ARP request tagged 10, mgmt's ARP reply tagged 20: 2.
///
/// The VLAN 30 frame from the uplink is dropped (`vlan-not-allowed`).
pub const EXPECTED_TX: [u64; 7] = [8, 8, 4, 3, 4, 1, 2];

/// Frames are (pcapng interface, frame).
pub fn scenario() -> Vec<(u32, Vec<u8>)> {
    let mut out = Vec::new();
    let mut push = |iface: u32, f: Vec<u8>| out.push((iface, f));
    let ip = |n: u8| [10, 0, 0, n];
    let v6 = |n: u8| {
        let mut a = [0u8; 16];
        a[0] = 0xfd;
        a[15] = n;
        a
    };

    // --- br0 ---------------------------------------------------------------------------
    push(0, arp(VM1, BCAST, 1, ip(1), ip(2), None)); // vm1 who-has vm2: flood to vm2, vm3
    push(1, arp(VM2, VM1, 2, ip(2), ip(1), None)); // vm2 is-at: unicast to vm1
    // TCP vm1:40000 -> vm2:80
    push(0, tcp(VM1, VM2, ip(1), ip(2), 40000, 80, 0x02, b"", None)); // SYN
    push(1, tcp(VM2, VM1, ip(2), ip(1), 80, 40000, 0x12, b"", None)); // SYN-ACK
    push(0, tcp(VM1, VM2, ip(1), ip(2), 40000, 80, 0x10, b"", None)); // ACK
    push(
        0,
        tcp(
            VM1,
            VM2,
            ip(1),
            ip(2),
            40000,
            80,
            0x18,
            b"GET / HTTP/1.1\r\n\r\n",
            None,
        ),
    );
    push(
        1,
        tcp(
            VM2,
            VM1,
            ip(2),
            ip(1),
            80,
            40000,
            0x18,
            b"HTTP/1.1 200 OK\r\n\r\n",
            None,
        ),
    );
    push(1, tcp(VM2, VM1, ip(2), ip(1), 80, 40000, 0x11, b"", None)); // FIN-ACK
    push(0, tcp(VM1, VM2, ip(1), ip(2), 40000, 80, 0x11, b"", None)); // FIN-ACK
    push(1, tcp(VM2, VM1, ip(2), ip(1), 80, 40000, 0x10, b"", None)); // ACK
    // vm3: ARP for vm1 (flood to vm1, vm2), then ping vm1 (vm1 known: unicast).
    push(2, arp(VM3, BCAST, 1, ip(3), ip(1), None));
    push(2, icmp_echo(VM3, VM1, ip(3), ip(1), 8));
    push(0, icmp_echo(VM1, VM3, ip(1), ip(3), 0)); // reply: vm3 learnt
    // IPv6 between vm3 and vm2: NS to the solicited-node multicast group (flood), NA, pings.
    push(2, ipv6_ns(VM3, v6(3), v6(2)));
    push(1, ipv6_na(VM2, VM3, v6(2), v6(3)));
    push(2, ipv6_echo(VM3, VM2, v6(3), v6(2), 128));
    push(1, ipv6_echo(VM2, VM3, v6(2), v6(3), 129));

    // --- br1 ---------------------------------------------------------------------------
    let b1 = |n: u8| [192, 168, 10, n];
    push(3, arp(WEB, BCAST, 1, b1(10), b1(11), None)); // flood: db + uplink (tagged 10)
    push(4, arp(DB, WEB, 2, b1(11), b1(10), None)); // unicast to web
    push(
        3,
        tcp(WEB, DB, b1(10), b1(11), 50000, 5432, 0x02, b"", None),
    );
    push(
        4,
        tcp(DB, WEB, b1(11), b1(10), 5432, 50000, 0x12, b"", None),
    );
    push(
        3,
        tcp(WEB, DB, b1(10), b1(11), 50000, 5432, 0x10, b"", None),
    );
    // From the physical network: a gateway on VLAN 10 talks to web (learnt: unicast, untagged).
    push(
        6,
        tcp(
            GW,
            WEB,
            [192, 168, 10, 1],
            b1(10),
            443,
            50001,
            0x12,
            b"",
            Some(10),
        ),
    );
    // ... and to db.
    push(
        6,
        tcp(
            GW,
            DB,
            [192, 168, 10, 1],
            b1(11),
            443,
            50002,
            0x12,
            b"",
            Some(10),
        ),
    );
    // A broadcast on VLAN 20 from the uplink reaches mgmt only.
    push(
        6,
        arp(
            GW,
            BCAST,
            1,
            [192, 168, 20, 1],
            [192, 168, 20, 12],
            Some(20),
        ),
    );
    // mgmt answers the gateway (learnt behind the uplink on VLAN 20): tagged 20 on the trunk...
    // ...counted in uplink's 2 with web's flood; mgmt never sees VLAN 10 traffic.
    push(
        5,
        arp(MGMT, GW, 2, [192, 168, 20, 12], [192, 168, 20, 1], None),
    );
    // A frame tagged VLAN 30 on the trunk is not allowed: dropped.
    push(
        6,
        arp(GW, BCAST, 1, [192, 168, 30, 1], [192, 168, 30, 2], Some(30)),
    );
    out
}

#[allow(clippy::too_many_arguments)]
pub fn tcp(
    s: [u8; 6],
    d: [u8; 6],
    si: [u8; 4],
    di: [u8; 4],
    sp: u16,
    dp: u16,
    flags: u8,
    payload: &[u8],
    vlan: Option<u16>,
) -> Vec<u8> {
    let mut f = Vec::new();
    macro_rules! finish {
        ($eth:expr) => {{
            let mut b = $eth.ipv4(si, di, 64).tcp(sp, dp, 1000, 64240);
            if flags & 0x02 != 0 {
                b = b.syn();
            }
            if flags & 0x10 != 0 {
                b = b.ack(2000);
            }
            if flags & 0x08 != 0 {
                b = b.psh();
            }
            if flags & 0x01 != 0 {
                b = b.fin();
            }
            b.write(&mut f, payload).unwrap();
        }};
    }
    match vlan {
        Some(v) => finish!(
            PacketBuilder::ethernet2(s, d).single_vlan(etherparse::VlanId::try_new(v).unwrap())
        ),
        None => finish!(PacketBuilder::ethernet2(s, d)),
    }
    f
}

pub fn arp(
    s: [u8; 6],
    d: [u8; 6],
    op: u16,
    spa: [u8; 4],
    tpa: [u8; 4],
    vlan: Option<u16>,
) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&d);
    f.extend_from_slice(&s);
    if let Some(v) = vlan {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&v.to_be_bytes());
    }
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4]);
    f.extend_from_slice(&op.to_be_bytes());
    f.extend_from_slice(&s);
    f.extend_from_slice(&spa);
    f.extend_from_slice(&if op == 1 { [0; 6] } else { d });
    f.extend_from_slice(&tpa);
    f.resize(f.len().max(60), 0);
    f
}

pub fn icmp_echo(s: [u8; 6], d: [u8; 6], si: [u8; 4], di: [u8; 4], ty: u8) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(s, d).ipv4(si, di, 64);
    let b = if ty == 8 {
        b.icmpv4_echo_request(7, 1)
    } else {
        b.icmpv4_echo_reply(7, 1)
    };
    let mut f = Vec::new();
    b.write(&mut f, &[0x61; 32]).unwrap();
    f
}

pub fn ipv6_echo(s: [u8; 6], d: [u8; 6], si: [u8; 16], di: [u8; 16], ty: u8) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(s, d).ipv6(si, di, 64);
    let b = if ty == 128 {
        b.icmpv6_echo_request(9, 1)
    } else {
        b.icmpv6_echo_reply(9, 1)
    };
    let mut f = Vec::new();
    b.write(&mut f, &[0x62; 32]).unwrap();
    f
}

/// A neighbour solicitation for `target` to its solicited-node multicast group.
pub fn ipv6_ns(s: [u8; 6], si: [u8; 16], target: [u8; 16]) -> Vec<u8> {
    let mut group = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0];
    group[13..16].copy_from_slice(&target[13..16]);
    let dmac = [0x33, 0x33, 0xff, target[13], target[14], target[15]];
    let mut body = vec![0u8; 4];
    body.extend_from_slice(&target);
    body.extend_from_slice(&[1, 1]);
    body.extend_from_slice(&s);
    let b = PacketBuilder::ethernet2(s, dmac)
        .ipv6(si, group, 255)
        .icmpv6(etherparse::Icmpv6Type::Unknown {
            type_u8: 135,
            code_u8: 0,
            bytes5to8: [0; 4],
        });
    let mut f = Vec::new();
    b.write(&mut f, &body[4..]).unwrap();
    f
}

pub fn ipv6_na(s: [u8; 6], d: [u8; 6], si: [u8; 16], di: [u8; 16]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&si);
    body.extend_from_slice(&[2, 1]);
    body.extend_from_slice(&s);
    let b =
        PacketBuilder::ethernet2(s, d)
            .ipv6(si, di, 255)
            .icmpv6(etherparse::Icmpv6Type::Unknown {
                type_u8: 136,
                code_u8: 0,
                bytes5to8: [0x60, 0, 0, 0],
            });
    let mut f = Vec::new();
    b.write(&mut f, &body).unwrap();
    f
}

/// Writes the scenario as pcapng, one interface per port, 1 ms apart from 2026-11-23 00:00 UTC.
pub fn write_capture(w: impl Write) -> std::io::Result<()> {
    let mut out = PcapNgWriter::new(w)?;
    for name in PORTS {
        out.add_interface(LinkType::Ethernet, 262_144, Some(name))?;
    }
    for (n, (iface, f)) in scenario().into_iter().enumerate() {
        let ts = Timestamp::new(1_795_392_000, n as u32 * 1_000_000);
        out.write_packet(iface, ts, f.len() as u32, &f)?;
    }
    out.flush()
}
