//! The sample files under `tests/data/`: made by this crate's writers from frames built here,
//! compared byte for byte with what the writers make now, and decoded end to end with `wire`.
//! Regenerate them after an intended format change with `RAMPART_BLESS=1 cargo test -p
//! rampart-capture --test samples`.

mod common;

use std::path::PathBuf;

use capture::{
    CaptureFormat, CaptureReader, LinkType, PcapNgWriter, PcapWriter, Timestamp, TsResolution,
};
use common::drain;
use wire::{L3, L4, parse_link};

fn checksum(bytes: &[u8]) -> u16 {
    let mut sum = 0u32;
    for pair in bytes.chunks(2) {
        sum += u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0x12, 0x34, 0x40, 0, 64, proto, 0, 0]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    let c = checksum(&p);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    p.extend_from_slice(&[next, 64]);
    p.extend_from_slice(&V6_SRC);
    p.extend_from_slice(&V6_DST);
    p.extend_from_slice(payload);
    p
}

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&sport.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]); // no checksum (allowed over IPv4)
    p.extend_from_slice(payload);
    p
}

fn tcp_syn(sport: u16, dport: u16) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&sport.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&0x0102_0304u32.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0, 0x50, 0x02, 0xfa, 0xf0, 0, 0, 0, 0]);
    p
}

/// An ICMP (type 8) or ICMPv6 (type 128) echo request; `pseudo` is the IPv6 pseudo-header sum
/// input, empty for ICMP over IPv4.
fn echo(kind: u8, pseudo: &[u8]) -> Vec<u8> {
    let mut m = vec![kind, 0, 0, 0, 0x12, 0x34, 0, 1, b'p', b'i', b'n', b'g'];
    let mut sum_input = pseudo.to_vec();
    sum_input.extend_from_slice(&m);
    let c = checksum(&sum_input);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

const V6_SRC: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const V6_DST: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

fn icmpv6_echo() -> Vec<u8> {
    let mut pseudo = V6_SRC.to_vec();
    pseudo.extend_from_slice(&V6_DST);
    pseudo.extend_from_slice(&12u32.to_be_bytes());
    pseudo.extend_from_slice(&58u32.to_be_bytes());
    ipv6(58, &echo(128, &pseudo))
}

fn ethernet(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn sll2(protocol: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&protocol.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1, 4, 6]); // reserved, ifindex 2, ARPHRD_ETHER, outgoing, 6
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 0, 0]);
    f.extend_from_slice(payload);
    f
}

const A: [u8; 4] = [192, 0, 2, 1];
const B: [u8; 4] = [192, 0, 2, 53];

fn dns_query() -> Vec<u8> {
    let mut q = vec![0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    q.extend_from_slice(b"\x07example\x03com\x00\x00\x01\x00\x01");
    ethernet(0x0800, &ipv4(17, A, B, &udp(40000, 53, &q)))
}

/// Ethernet, microseconds, snaplen 96: DNS query, TCP SYN, ICMP echo, a 300-byte datagram cut.
fn sample_pcap() -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), LinkType::Ethernet, 96, false).unwrap();
    let frames = [
        dns_query(),
        ethernet(0x0800, &ipv4(6, A, B, &tcp_syn(40001, 443))),
        ethernet(0x0800, &ipv4(1, A, B, &echo(8, &[]))),
        ethernet(0x0800, &ipv4(17, A, B, &udp(40002, 9999, &[0x5a; 258]))),
    ];
    for (i, f) in frames.iter().enumerate() {
        let ts = Timestamp::new(1_700_000_000 + i as i64, 250_000_000 + i as u32 * 1000);
        w.write_packet(ts, f.len() as u32, f).unwrap();
    }
    w.into_inner()
}

/// pcapng with Ethernet (ns), raw IP (us) and Linux SLL2 (ns) interfaces.
fn sample_pcapng() -> Vec<u8> {
    let mut w = PcapNgWriter::new(Vec::new()).unwrap();
    let eth = w
        .add_interface(LinkType::Ethernet, 65535, Some("eth0"))
        .unwrap();
    let tun = w
        .add_interface_with_resolution(LinkType::RawIp, 65535, Some("tun0"), TsResolution::MICROS)
        .unwrap();
    let any = w
        .add_interface(LinkType::LinuxSll2, 65535, Some("any"))
        .unwrap();
    let t = |n: u32| Timestamp::new(1_700_000_100, 123_456_789 + n);
    let f = dns_query();
    w.write_packet(eth, t(0), f.len() as u32, &f).unwrap();
    let f = icmpv6_echo();
    w.write_packet(tun, t(1000), f.len() as u32, &f).unwrap();
    let f = sll2(0x0800, &ipv4(6, A, B, &tcp_syn(40003, 22)));
    w.write_packet(any, t(2), f.len() as u32, &f).unwrap();
    let f = ethernet(0x0800, &ipv4(17, A, B, &udp(40004, 9999, &[0xa5; 1000])));
    w.write_packet(eth, t(3), 1514, &f[..80]).unwrap();
    w.into_inner()
}

fn data_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn check_or_bless(name: &str, bytes: &[u8]) {
    let path = data_file(name);
    if std::env::var_os("RAMPART_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
    }
    let stored = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        stored == bytes,
        "{} differs from what the writers make now",
        path.display()
    );
}

#[test]
fn sample_files_are_what_the_writers_make() {
    check_or_bless("sample.pcap", &sample_pcap());
    check_or_bless("sample.pcapng", &sample_pcapng());
}

#[test]
fn sample_pcap_decodes_end_to_end() {
    let mut r = CaptureReader::open(&data_file("sample.pcap")).unwrap();
    assert_eq!(
        r.format(),
        CaptureFormat::Pcap {
            nanos: false,
            big_endian: false
        }
    );
    assert_eq!(r.interfaces()[0].snaplen, 96);
    let (pkts, e) = drain(&mut r, 1 << 20);
    assert!(e.is_none());
    let l4: Vec<_> = pkts
        .iter()
        .map(|p| parse_link(&p.data, p.link).l4)
        .collect();
    assert_eq!(l4, [L4::Udp, L4::Tcp, L4::Icmpv4, L4::Udp]);
    assert_eq!(pkts[0].timestamp.to_string(), "1700000000.250000");
    let cut = &pkts[3];
    assert_eq!((cut.caplen, cut.orig_len), (96, 300));
    assert!(
        parse_link(&cut.data, cut.link).truncated.is_some(),
        "the walk marks the cut datagram"
    );
}

#[test]
fn sample_pcapng_decodes_end_to_end() {
    let mut r = CaptureReader::open(&data_file("sample.pcapng")).unwrap();
    let (pkts, e) = drain(&mut r, 1 << 20);
    assert!(e.is_none());
    let got: Vec<_> = pkts
        .iter()
        .map(|p| {
            let parsed = parse_link(&p.data, p.link);
            (p.interface, p.link, parsed.l3, parsed.l4)
        })
        .collect();
    assert_eq!(
        got,
        [
            (0, LinkType::Ethernet, L3::Ipv4, L4::Udp),
            (1, LinkType::RawIp, L3::Ipv6, L4::Icmpv6),
            (2, LinkType::LinuxSll2, L3::Ipv4, L4::Tcp),
            (0, LinkType::Ethernet, L3::Ipv4, L4::Udp),
        ]
    );
    assert_eq!(
        pkts[0].timestamp.fmt_nanos().to_string(),
        "1700000100.123456789"
    );
    assert_eq!(
        pkts[1].timestamp.fmt_nanos().to_string(),
        "1700000100.123457000",
        "microsecond interface"
    );
    assert_eq!((pkts[3].caplen, pkts[3].orig_len), (80, 1514));
    let names: Vec<_> = r
        .interfaces()
        .iter()
        .map(|i| i.name.as_deref().unwrap())
        .collect();
    assert_eq!(names, ["eth0", "tun0", "any"]);
}
