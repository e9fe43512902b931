//! The `policy` fuzz target: arbitrary bytes as a policy file, read, validated (with and
//! without a switch inventory) and compiled; then what the policy crate promises about the
//! result.
//!
//! Promises checked: reading and validating never panic; an error names a line inside the text
//! (and a column when it names a line); a compiled policy's classifier gives, for packets
//! derived from the input, the same first rule as trying the rules in order; zone resolution
//! and the NAT and anti-spoofing lookups answer for any address; warnings name lines inside
//! the text. Like the other targets, this function panics on purpose when a promise breaks.

use std::net::IpAddr;
use std::path::Path;

use policy::{
    ConnState, Document, FirstPacket, Inventory, InventoryPort, Policy, PolicyError, PortKind,
    Transport, ZoneId,
};

/// The switch the fuzzed policies may name: a few VMs with addresses and a label, and an uplink.
fn inventory() -> Inventory {
    let port = |id: u16, name: &str, kind, ips: &[[u8; 4]], labels: &[&str]| InventoryPort {
        id,
        name: name.into(),
        kind,
        macs: vec![[2, 0, 0, 0, 0, id as u8 + 1]],
        ips: ips.iter().map(|a| IpAddr::from(*a)).collect(),
        labels: labels.iter().map(|s| s.to_string()).collect(),
    };
    Inventory {
        file: Some("switch.toml".into()),
        ports: vec![
            port(0, "vm-web1", PortKind::Vm, &[[192, 168, 122, 10]], &["web"]),
            port(1, "vm-web2", PortKind::Vm, &[[192, 168, 122, 11]], &["web"]),
            port(2, "vm-db", PortKind::Vm, &[[10, 1, 0, 5]], &["database"]),
            port(3, "uplink", PortKind::Uplink, &[[203, 0, 113, 1]], &[]),
        ],
    }
}

/// Reads `data` (as UTF-8, lossily) as a policy file with and without the inventory.
pub fn policy(data: &[u8]) {
    let text = String::from_utf8_lossy(data).into_owned();
    let lines = text.lines().count() + 1;
    let inv = inventory();
    for inventory in [None, Some(&inv)] {
        let doc = match Document::parse(text.clone(), Path::new("fuzz.toml")) {
            Ok(d) => d,
            Err(e) => {
                check_error(&e, lines);
                return;
            }
        };
        let _ = (doc.switch(), doc.description(), format!("{doc:?}").len());
        let model = match doc.validate(inventory) {
            Ok(m) => m,
            Err(e) => {
                check_error(&e, lines);
                continue;
            }
        };
        let compiled = Policy::compile(model, inventory);
        for w in &compiled.warnings {
            assert!(w.line <= lines, "warning past the end: {w}");
            assert!(!w.to_string().is_empty());
        }
        check_lookups(&compiled.policy, data);
    }
}

fn check_error(e: &PolicyError, lines: usize) {
    let shown = e.to_string();
    assert!(shown.starts_with("fuzz.toml"), "{shown}");
    assert!(
        e.line <= lines,
        "error past the end ({lines} lines): {shown}"
    );
    assert!(
        e.line == 0 || e.column >= 1,
        "a line without a column: {shown}"
    );
    assert!(!e.message.is_empty(), "an error without a message");
}

/// Packets derived from the input bytes: the classifier against the rules tried in order.
fn check_lookups(p: &Policy, data: &[u8]) {
    let zones = p.zones().len() as u16;
    let byte = |i: usize| data.get(i % data.len().max(1)).copied().unwrap_or(0);
    let hosts: [IpAddr; 6] = [
        IpAddr::from([192, 168, 122, 10]),
        IpAddr::from([10, 1, 0, byte(3)]),
        IpAddr::from([203, 0, 113, byte(5)]),
        IpAddr::from([byte(7), byte(11), byte(13), byte(17)]),
        IpAddr::from([0xfd00, 0, 0, 0, 0, 0, 0, u16::from(byte(19))]),
        IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]),
    ];
    for k in 0..24usize {
        let b = byte(k * 7 + 1);
        let src = hosts[k % hosts.len()];
        let dst = hosts[(k / hosts.len() + usize::from(b)) % hosts.len()];
        let (proto, transport) = match b % 5 {
            0 => (
                6,
                Transport::Ports {
                    src: u16::from(byte(k)) << 8,
                    dst: u16::from(b),
                },
            ),
            1 => (
                17,
                Transport::Ports {
                    src: 53,
                    dst: u16::from(b) * 251,
                },
            ),
            2 => (
                1,
                Transport::Icmp {
                    ty: b % 16,
                    code: byte(k + 2) % 4,
                },
            ),
            3 => (58, Transport::Icmp { ty: 128, code: 0 }),
            _ => (b, Transport::Other),
        };
        let by_ip = |ip| p.zones().by_ip(ip);
        let packet = FirstPacket {
            src_zone: if k % 7 == 6 {
                ZoneId(zones + u16::from(b))
            } else {
                by_ip(src)
            },
            dst_zone: by_ip(dst),
            src,
            dst,
            proto,
            transport,
            state: ConnState::ALL[k % 4],
        };
        let want = p.model().first_match(&packet).map(|i| i as u32);
        let got = p.classify(&packet);
        assert_eq!(
            got.rule, want,
            "classifier and linear scan differ on {packet:?}"
        );
        if let Some(i) = got.rule {
            assert_eq!(
                got.action,
                p.rule(i).expect("the verdict's rule exists").action
            );
        }
        let _ = p
            .zones()
            .resolve(Some(u16::from(b)), Some([2, 0, 0, 0, 0, b]), Some(src));
        let _ = p.zones().resolve_named("vm-web1", None, Some(dst));
        let _ = p.nat().outbound(packet.src_zone, packet.dst_zone, src, dst);
        let _ = p.nat().inbound(packet.src_zone, dst, proto, u16::from(b));
        let _ = p
            .anti_spoof()
            .check(u16::from(b % 6), [2, 0, 0, 0, 0, b], Some(src));
        let _ = p
            .floods()
            .applicable(policy::FloodKind::Syn, packet.src_zone, packet.dst_zone)
            .count();
    }
}
