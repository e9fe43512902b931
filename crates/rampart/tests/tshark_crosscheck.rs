//! The acceptance test of `rampart decode`: real traffic between two network namespaces
//! (`netns-traffic.sh`: ARP, ICMP, ICMPv6 with NDP and MLD, TCP over IPv4 and IPv6, DNS over UDP
//! and TCP, IPv4 and IPv6 fragments, VLAN 100, VXLAN) is captured by tcpdump (pcap) and dumpcap
//! (pcapng), and every packet of both files is compared field by field between
//! `rampart decode --json` and `tshark -T fields`, checksum verdicts included.
//!
//! Link types Linux cannot capture on (BSD null and loopback, Cisco HDLC) are written by this
//! test ([`link_type_captures`], deterministic) and compared the same way, their link headers
//! included; their text lines are compared with `tcpdump -n -tt -S`'s.
//!
//! Needs root, `ip netns` and the tools `scripts/setup` installs. Without them the test prints
//! why it is skipped and passes, except under CI (`CI` set), where a missing prerequisite fails.
//! The namespaces and every process in them are torn down by a drop guard, even on failure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const RAMPART: &str = env!("CARGO_BIN_EXE_rampart");

/// The tshark fields compared, in the order passed to `-e`.
const FIELDS: &[&str] = &[
    "frame.number",
    "frame.time_epoch",
    "frame.len",
    "frame.cap_len",
    "frame.protocols",
    "eth.src",
    "eth.dst",
    "eth.type",
    "vlan.id",
    "vlan.priority",
    "arp.opcode",
    "arp.src.hw_mac",
    "arp.src.proto_ipv4",
    "arp.dst.proto_ipv4",
    "ip.src",
    "ip.dst",
    "ip.proto",
    "ip.len",
    "ip.hdr_len",
    "ip.ttl",
    "ip.id",
    "ip.flags.df",
    "ip.flags.mf",
    "ip.frag_offset",
    "ip.checksum.status",
    "ipv6.src",
    "ipv6.dst",
    "ipv6.plen",
    "ipv6.nxt",
    "ipv6.hlim",
    "ipv6.tclass",
    "ipv6.flow",
    "ipv6.fraghdr.ident",
    "ipv6.fraghdr.offset",
    "ipv6.fraghdr.more",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.flags",
    "tcp.seq_raw",
    "tcp.ack_raw",
    "tcp.window_size_value",
    "tcp.hdr_len",
    "tcp.len",
    "tcp.checksum.status",
    "udp.srcport",
    "udp.dstport",
    "udp.length",
    "udp.checksum.status",
    "icmp.type",
    "icmp.code",
    "icmp.checksum.status",
    "icmpv6.type",
    "icmpv6.code",
    "icmpv6.checksum.status",
    "vxlan.vni",
    "null.family",
    "chdlc.address",
    "chdlc.control",
    "chdlc.protocol",
];

/// Tears the namespaces of one run down when dropped, whatever happened.
struct NetnsGuard {
    script: PathBuf,
    tag: String,
}

impl Drop for NetnsGuard {
    fn drop(&mut self) {
        let _ = Command::new("timeout")
            .args(["30", "bash"])
            .arg(&self.script)
            .args(["--cleanup", &self.tag])
            .status();
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/netns-traffic.sh")
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Why this machine cannot run the test, if it cannot.
fn missing_prerequisite() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("not running as root (network namespaces need it)".into());
    }
    for tool in [
        "ip", "tcpdump", "dumpcap", "tshark", "ping", "curl", "dig", "dnsmasq", "python3",
        "ethtool", "ss", "timeout",
    ] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Some(format!("`{tool}` is not installed (run scripts/setup)"));
        }
    }
    let probe = format!("rpprobe{}", std::process::id());
    let added = Command::new("timeout")
        .args(["10", "ip", "netns", "add", &probe])
        .output()
        .ok()?;
    if !added.status.success() {
        return Some(format!(
            "`ip netns add` fails here: {}",
            String::from_utf8_lossy(&added.stderr).trim()
        ));
    }
    let _ = Command::new("timeout")
        .args(["10", "ip", "netns", "del", &probe])
        .status();
    None
}

/// Capture time as nanoseconds from a `SECS.FRAC` string with up to 9 fractional digits.
fn nanos(s: &str) -> i128 {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut frac = frac.to_owned();
    frac.truncate(9);
    while frac.len() < 9 {
        frac.push('0');
    }
    let secs: i128 = secs.parse().unwrap_or_else(|_| panic!("bad time {s}"));
    secs * 1_000_000_000 + frac.parse::<i128>().unwrap()
}

/// A tshark number, decimal or `0x` hex.
fn num(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// A tshark checksum status: 0 bad, 1 good, 2 unverified, 3 not present, 4 illegal.
fn status(s: &str) -> Value {
    match s {
        "1" => Value::Bool(true),
        "0" | "4" => Value::Bool(false),
        _ => Value::Null,
    }
}

/// The outer protocol stack tshark found: link, VLAN count, network, transport, tunnel.
#[derive(Debug, PartialEq)]
struct Stack<'a> {
    /// tshark's name of the link layer: `eth`, `null` (for both BSD loopback link types),
    /// `chdlc`, `raw`, `sll`.
    link: Option<&'a str>,
    eth: bool,
    vlans: usize,
    l3: Option<&'a str>,
    l4: Option<&'a str>,
    vxlan: bool,
}

fn tshark_stack(protocols: &str) -> Stack<'_> {
    let toks: Vec<&str> = protocols.split(':').collect();
    let l3_at = toks
        .iter()
        .position(|t| matches!(*t, "ip" | "ipv6" | "arp"));
    let vlans = toks
        .iter()
        .take(l3_at.unwrap_or(toks.len()))
        .filter(|t| **t == "vlan")
        .count();
    let mut l4 = None;
    let mut vxlan = false;
    if let Some(at) = l3_at {
        for (i, t) in toks.iter().enumerate().skip(at + 1) {
            match *t {
                "tcp" | "udp" | "icmp" | "icmpv6" => {
                    l4 = Some(*t);
                    vxlan = toks.get(i + 1) == Some(&"vxlan");
                    break;
                }
                "data" | "ip" | "ipv6" => break,
                _ => {}
            }
        }
    }
    Stack {
        link: toks.first().copied(),
        eth: toks.first() == Some(&"eth"),
        vlans,
        l3: l3_at.and_then(|i| toks.get(i).copied()),
        l4,
        vxlan,
    }
}

fn rampart_stack(r: &Value) -> Stack<'_> {
    Stack {
        link: match r["link"].as_str() {
            Some("ethernet") => Some("eth"),
            Some("null" | "loop") => Some("null"),
            Some("c_hdlc") => Some("chdlc"),
            Some("raw_ip") => Some("raw"),
            Some("linux_sll" | "linux_sll2") => Some("sll"),
            _ => None,
        },
        eth: !r["eth"].is_null(),
        vlans: r["vlan"].as_array().map_or(0, Vec::len),
        l3: if !r["arp"].is_null() {
            Some("arp")
        } else {
            match r["ip"]["version"].as_u64() {
                Some(4) => Some("ip"),
                Some(6) => Some("ipv6"),
                _ => None,
            }
        },
        l4: match r["l4"]["proto"].as_str() {
            Some(p @ ("tcp" | "udp" | "icmp" | "icmpv6")) => Some(p),
            _ => None,
        },
        vxlan: r["tunnel"]["kind"] == "vxlan",
    }
}

/// Counts of what the file held, to prove the traffic was as varied as intended.
#[derive(Debug, Default)]
struct Seen(BTreeMap<&'static str, usize>);

impl Seen {
    fn add(&mut self, what: &'static str) {
        *self.0.entry(what).or_default() += 1;
    }
    fn get(&self, what: &str) -> usize {
        self.0.get(what).copied().unwrap_or(0)
    }
}

/// Compares every packet of `file` (at least `min_packets`); returns what was seen.
fn compare(file: &Path, min_packets: usize) -> Seen {
    let ours = run(Command::new("timeout")
        .arg("60")
        .arg(RAMPART)
        .args(["decode", "--json"])
        .arg(file));
    let ours: Vec<Value> = String::from_utf8(ours.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON {e}: {l}")))
        .collect();

    let mut tshark = Command::new("timeout");
    tshark.args(["60", "tshark", "-n", "-r"]).arg(file).args([
        "-o",
        "ip.defragment:FALSE",
        "-o",
        "ipv6.defragment:FALSE",
        "-o",
        "ip.check_checksum:TRUE",
        "-o",
        "tcp.check_checksum:TRUE",
        "-o",
        "udp.check_checksum:TRUE",
        "-T",
        "fields",
        "-E",
        "occurrence=f",
        "-E",
        "separator=/t",
    ]);
    for f in FIELDS {
        tshark.args(["-e", f]);
    }
    let theirs = run(&mut tshark);
    let theirs: Vec<BTreeMap<&str, String>> = String::from_utf8(theirs.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            FIELDS
                .iter()
                .copied()
                .zip(l.split('\t').map(str::to_owned))
                .collect()
        })
        .collect();

    assert_eq!(
        ours.len(),
        theirs.len(),
        "{}: rampart and tshark disagree on the packet count",
        file.display()
    );
    assert!(
        ours.len() >= min_packets,
        "{}: only {} packets",
        file.display(),
        ours.len()
    );

    let mut seen = Seen::default();
    let mut bad = Vec::new();
    for (r, t) in ours.iter().zip(&theirs) {
        let tf = |k: &str| t.get(k).map_or("", String::as_str);
        let n = r["number"].as_u64().unwrap_or(0);
        let mut check = |what: &str, ours: Value, theirs: Value| {
            if ours != theirs {
                bad.push(format!(
                    "packet {n}: {what}: rampart {ours}, tshark {theirs}"
                ));
            }
        };
        let tnum = |k: &str| num(tf(k)).map_or(Value::Null, Value::from);
        let tstr = |k: &str| match tf(k) {
            "" => Value::Null,
            s => Value::from(s),
        };

        check("frame.number", r["number"].clone(), tnum("frame.number"));
        check("frame.len", r["orig_len"].clone(), tnum("frame.len"));
        check("frame.cap_len", r["caplen"].clone(), tnum("frame.cap_len"));
        check(
            "frame.time_epoch",
            Value::from(nanos(r["ts"].as_str().unwrap_or("0")) as i64),
            Value::from(nanos(tf("frame.time_epoch")) as i64),
        );
        let ts = tshark_stack(tf("frame.protocols"));
        let rs = rampart_stack(r);
        if ts != rs {
            bad.push(format!(
                "packet {n}: protocol stack: rampart {rs:?}, tshark {ts:?} ({})",
                tf("frame.protocols")
            ));
            continue;
        }
        match r["link"].as_str() {
            Some(link @ ("null" | "loop")) => {
                seen.add(if link == "null" { "null" } else { "loop" });
                check(
                    "null.family",
                    r["link_header"]["family"].clone(),
                    tnum("null.family"),
                );
            }
            Some("c_hdlc") => {
                seen.add("c_hdlc");
                let h = &r["link_header"];
                check("chdlc.address", h["address"].clone(), tnum("chdlc.address"));
                check("chdlc.control", h["control"].clone(), tnum("chdlc.control"));
                check(
                    "chdlc.protocol",
                    h["protocol"].clone(),
                    tnum("chdlc.protocol"),
                );
                if h["protocol"] == 0x8035 {
                    seen.add("slarp");
                }
            }
            _ => {}
        }
        if rs.eth {
            check("eth.src", r["eth"]["src"].clone(), tstr("eth.src"));
            check("eth.dst", r["eth"]["dst"].clone(), tstr("eth.dst"));
            check("eth.type", r["eth"]["type"].clone(), tnum("eth.type"));
        }
        if rs.vlans > 0 {
            seen.add("vlan");
            check("vlan.id", r["vlan"][0]["id"].clone(), tnum("vlan.id"));
            check(
                "vlan.priority",
                r["vlan"][0]["pcp"].clone(),
                tnum("vlan.priority"),
            );
        }
        match rs.l3 {
            Some("arp") => {
                seen.add("arp");
                let a = &r["arp"];
                check("arp.opcode", a["op"].clone(), tnum("arp.opcode"));
                check("arp.src.hw_mac", a["sha"].clone(), tstr("arp.src.hw_mac"));
                check(
                    "arp.src.proto_ipv4",
                    a["spa"].clone(),
                    tstr("arp.src.proto_ipv4"),
                );
                check(
                    "arp.dst.proto_ipv4",
                    a["tpa"].clone(),
                    tstr("arp.dst.proto_ipv4"),
                );
            }
            Some("ip") => {
                seen.add("ipv4");
                let ip = &r["ip"];
                check("ip.src", ip["src"].clone(), tstr("ip.src"));
                check("ip.dst", ip["dst"].clone(), tstr("ip.dst"));
                check("ip.proto", ip["proto"].clone(), tnum("ip.proto"));
                check("ip.len", ip["len"].clone(), tnum("ip.len"));
                check("ip.hdr_len", ip["hdr_len"].clone(), tnum("ip.hdr_len"));
                check("ip.ttl", ip["ttl"].clone(), tnum("ip.ttl"));
                check("ip.id", ip["id"].clone(), tnum("ip.id"));
                check(
                    "ip.flags.df",
                    Value::from(u64::from(ip["df"] == true)),
                    tnum("ip.flags.df"),
                );
                check(
                    "ip.flags.mf",
                    Value::from(u64::from(ip["mf"] == true)),
                    tnum("ip.flags.mf"),
                );
                check(
                    "ip.frag_offset",
                    ip["frag_offset"].clone(),
                    num(tf("ip.frag_offset")).map_or(Value::Null, |v| Value::from(v * 8)),
                );
                check(
                    "ip.checksum.status",
                    ip["hdr_checksum_ok"].clone(),
                    status(tf("ip.checksum.status")),
                );
                match ip["fragment"].as_str() {
                    Some("first") => seen.add("ipv4 first fragment"),
                    Some("later") => seen.add("ipv4 later fragment"),
                    _ => {}
                }
            }
            Some("ipv6") => {
                seen.add("ipv6");
                let ip = &r["ip"];
                check("ipv6.src", ip["src"].clone(), tstr("ipv6.src"));
                check("ipv6.dst", ip["dst"].clone(), tstr("ipv6.dst"));
                check("ipv6.plen", ip["payload_len"].clone(), tnum("ipv6.plen"));
                check("ipv6.nxt", ip["next_header"].clone(), tnum("ipv6.nxt"));
                check("ipv6.hlim", ip["ttl"].clone(), tnum("ipv6.hlim"));
                check(
                    "ipv6.tclass",
                    ip["traffic_class"].clone(),
                    tnum("ipv6.tclass"),
                );
                check("ipv6.flow", ip["flow_label"].clone(), tnum("ipv6.flow"));
                check(
                    "ipv6.fraghdr.ident",
                    ip["frag_id"].clone(),
                    tnum("ipv6.fraghdr.ident"),
                );
                if !ip["frag_id"].is_null() {
                    seen.add("ipv6 fragment");
                    check(
                        "ipv6.fraghdr.offset",
                        ip["frag_offset"].clone(),
                        num(tf("ipv6.fraghdr.offset")).map_or(Value::Null, |v| Value::from(v * 8)),
                    );
                    check(
                        "ipv6.fraghdr.more",
                        Value::from(u64::from(ip["mf"] == true)),
                        tnum("ipv6.fraghdr.more"),
                    );
                }
                if ip["ext"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|x| x == "hop_by_hop"))
                {
                    seen.add("ipv6 hop-by-hop");
                }
            }
            _ => {}
        }
        let l4 = &r["l4"];
        match rs.l4 {
            Some("tcp") => {
                seen.add("tcp");
                check("tcp.srcport", l4["sport"].clone(), tnum("tcp.srcport"));
                check("tcp.dstport", l4["dport"].clone(), tnum("tcp.dstport"));
                check("tcp.flags", l4["tcp"]["flags"].clone(), tnum("tcp.flags"));
                check("tcp.seq_raw", l4["tcp"]["seq"].clone(), tnum("tcp.seq_raw"));
                check("tcp.ack_raw", l4["tcp"]["ack"].clone(), tnum("tcp.ack_raw"));
                check(
                    "tcp.window_size_value",
                    l4["tcp"]["win"].clone(),
                    tnum("tcp.window_size_value"),
                );
                check(
                    "tcp.hdr_len",
                    l4["tcp"]["hdr_len"].clone(),
                    tnum("tcp.hdr_len"),
                );
                // tshark's length is the segment's per the IP header; for a packet cut in its
                // payload (and without a link trailer, as the cut ones here) that is the bytes
                // present and the bytes the capture left out.
                let missing = if r["truncated"] == "payload" {
                    r["orig_len"].as_u64().unwrap_or(0) - r["caplen"].as_u64().unwrap_or(0)
                } else {
                    0
                };
                check(
                    "tcp.len",
                    Value::from(r["payload_len"].as_u64().unwrap_or(0) + missing),
                    tnum("tcp.len"),
                );
                check(
                    "tcp.checksum.status",
                    l4["checksum_ok"].clone(),
                    status(tf("tcp.checksum.status")),
                );
            }
            Some("udp") => {
                seen.add("udp");
                if l4["checksum_ok"].is_null() && r["ip"]["fragment"] == "no" {
                    seen.add("udp without checksum");
                }
                check("udp.srcport", l4["sport"].clone(), tnum("udp.srcport"));
                check("udp.dstport", l4["dport"].clone(), tnum("udp.dstport"));
                check("udp.length", l4["udp"]["len"].clone(), tnum("udp.length"));
                check(
                    "udp.checksum.status",
                    l4["checksum_ok"].clone(),
                    status(tf("udp.checksum.status")),
                );
            }
            Some("icmp") => {
                seen.add("icmp");
                check("icmp.type", l4["icmp"]["type"].clone(), tnum("icmp.type"));
                check("icmp.code", l4["icmp"]["code"].clone(), tnum("icmp.code"));
                check(
                    "icmp.checksum.status",
                    l4["checksum_ok"].clone(),
                    status(tf("icmp.checksum.status")),
                );
            }
            Some("icmpv6") => {
                seen.add("icmpv6");
                check(
                    "icmpv6.type",
                    l4["icmp"]["type"].clone(),
                    tnum("icmpv6.type"),
                );
                check(
                    "icmpv6.code",
                    l4["icmp"]["code"].clone(),
                    tnum("icmpv6.code"),
                );
                check(
                    "icmpv6.checksum.status",
                    l4["checksum_ok"].clone(),
                    status(tf("icmpv6.checksum.status")),
                );
            }
            _ => {}
        }
        if rs.vxlan {
            seen.add("vxlan");
            check("vxlan.vni", r["tunnel"]["vni"].clone(), tnum("vxlan.vni"));
        }
        if l4["checksum_ok"] == true {
            seen.add("l4 checksum verified");
        }
    }
    assert!(
        bad.is_empty(),
        "{}: {} mismatches between rampart and tshark:\n{}",
        file.display(),
        bad.len(),
        bad.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );
    seen
}

/// What a capture of netns-traffic.sh must hold at least.
const VARIETY: &[(&str, usize)] = &[
    ("arp", 4),
    ("vlan", 6),
    ("ipv4", 20),
    ("ipv6", 10),
    ("tcp", 20),
    ("udp", 4),
    ("icmp", 6),
    ("icmpv6", 6),
    ("ipv4 first fragment", 2),
    ("ipv4 later fragment", 4),
    ("ipv6 fragment", 6),
    ("ipv6 hop-by-hop", 1),
    ("vxlan", 4),
    ("udp without checksum", 2),
    ("l4 checksum verified", 40),
];

fn assert_variety(name: &str, seen: &Seen) {
    for &(what, at_least) in VARIETY {
        assert!(
            seen.get(what) >= at_least,
            "{name}: expected at least {at_least} packets with {what}, saw {}: {:?}",
            seen.get(what),
            seen.0
        );
    }
}

#[test]
fn decode_agrees_with_tshark_on_real_traffic() {
    if let Some(why) = missing_prerequisite() {
        if std::env::var_os("CI").is_some() {
            panic!("CI must run the tshark cross-check, but {why}");
        }
        println!("SKIP decode_agrees_with_tshark_on_real_traffic: {why}");
        eprintln!("SKIP decode_agrees_with_tshark_on_real_traffic: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tag = std::process::id().to_string();
    let guard = NetnsGuard {
        script: script(),
        tag: tag.clone(),
    };
    run(Command::new("timeout")
        .args(["150", "bash"])
        .arg(&guard.script)
        .arg(dir.path())
        .arg(&tag));
    drop(guard);

    if let Some(keep) = std::env::var_os("RAMPART_KEEP_CAPTURES") {
        std::fs::create_dir_all(&keep).unwrap();
        for f in ["tcpdump.pcap", "dumpcap.pcapng"] {
            std::fs::copy(dir.path().join(f), Path::new(&keep).join(f)).unwrap();
        }
    }

    for file in ["tcpdump.pcap", "dumpcap.pcapng"] {
        let seen = compare(&dir.path().join(file), 60);
        println!("{file}: {:?}", seen.0);
        assert_variety(file, &seen);
    }
}

/// The sample the README decodes (made by this test's script) against tshark: needs only tshark.
#[test]
fn committed_sample_agrees_with_tshark() {
    let found = Command::new("sh")
        .args(["-c", "command -v tshark"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var_os("CI").is_some() {
            panic!("CI must run the tshark cross-check, but tshark is not installed");
        }
        println!(
            "SKIP committed_sample_agrees_with_tshark: tshark is not installed (run scripts/setup)"
        );
        return;
    }
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/netns-mix.pcapng");
    let seen = compare(&sample, 60);
    assert_variety("samples/netns-mix.pcapng", &seen);
}

/// Whether `tool` is on the path; under CI its absence fails the test, elsewhere it is a skip
/// (printed, with the test's name).
fn have_tool(tool: &str, test: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var_os("CI").is_some() {
            panic!("CI must run {test}, but {tool} is not installed");
        }
        println!("SKIP {test}: {tool} is not installed (run scripts/setup)");
    }
    found
}

/// The IP packets of the link-type captures: TCP (SYN with options, data), UDP over both
/// versions, ICMP and ICMPv6 echo, an IPv4 datagram in two fragments. Ports are ones tcpdump
/// has no printer for, so that its lines stay comparable.
fn ip_packets() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    use etherparse::{PacketBuilder, TcpOptionElement};
    let (a4, b4) = ([192, 0, 2, 1], [198, 51, 100, 2]);
    let mut a6 = [0u8; 16];
    a6[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    let mut b6 = a6;
    a6[15] = 1;
    b6[15] = 2;
    let build = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut v = Vec::new();
        f(&mut v);
        v
    };
    let mut v4 = vec![
        build(&|v| {
            PacketBuilder::ipv4(a4, b4, 64)
                .tcp(40000, 40001, 1_000_000, 65535)
                .syn()
                .options(&[
                    TcpOptionElement::MaximumSegmentSize(1460),
                    TcpOptionElement::SelectiveAcknowledgementPermitted,
                    TcpOptionElement::Timestamp(7, 0),
                    TcpOptionElement::Noop,
                    TcpOptionElement::WindowScale(7),
                ])
                .unwrap()
                .write(v, &[])
                .unwrap()
        }),
        build(&|v| {
            PacketBuilder::ipv4(b4, a4, 63)
                .tcp(40001, 40000, 7, 502)
                .psh()
                .ack(1_000_001)
                .write(v, b"hello over a serial line")
                .unwrap()
        }),
        build(&|v| {
            PacketBuilder::ipv4(a4, b4, 64)
                .udp(40002, 40003)
                .write(v, &[0x5a; 100])
                .unwrap()
        }),
        build(&|v| {
            PacketBuilder::ipv4(a4, b4, 64)
                .icmpv4_echo_request(0x4242, 1)
                .write(v, &[0; 56])
                .unwrap()
        }),
        build(&|v| {
            PacketBuilder::ipv4(b4, a4, 64)
                .icmpv4_echo_reply(0x4242, 1)
                .write(v, &[0; 56])
                .unwrap()
        }),
    ];
    // One UDP datagram of 1,208 bytes in two fragments: 1,200 bytes at 0, 8 at 1,200.
    let whole = build(&|v| {
        PacketBuilder::ipv4(a4, b4, 64)
            .udp(40004, 40005)
            .write(v, &[0x11; 1200])
            .unwrap()
    });
    let l4 = &whole[20..];
    for (at, more) in [(0usize, true), (1200, false)] {
        let part = &l4[at..(at + 1200).min(l4.len())];
        let mut h = whole[..20].to_vec();
        h[2..4].copy_from_slice(&(20 + part.len() as u16).to_be_bytes());
        h[4..6].copy_from_slice(&0x0badu16.to_be_bytes());
        let frag = (at / 8) as u16 | if more { 0x2000 } else { 0 };
        h[6..8].copy_from_slice(&frag.to_be_bytes());
        h[10..12].fill(0);
        let sum = !h.chunks(2).fold(0u32, |s, w| {
            let s = s + u32::from(u16::from_be_bytes([w[0], w[1]]));
            (s & 0xffff) + (s >> 16)
        }) as u16;
        h[10..12].copy_from_slice(&sum.to_be_bytes());
        h.extend_from_slice(part);
        v4.push(h);
    }
    let v6 = vec![
        build(&|v| {
            PacketBuilder::ipv6(a6, b6, 64)
                .tcp(40006, 40007, 5, 1024)
                .syn()
                .write(v, &[])
                .unwrap()
        }),
        build(&|v| {
            PacketBuilder::ipv6(b6, a6, 64)
                .udp(40008, 40009)
                .write(v, b"six")
                .unwrap()
        }),
        build(&|v| {
            PacketBuilder::ipv6(a6, b6, 255)
                .icmpv6_echo_request(9, 3)
                .write(v, b"ping6")
                .unwrap()
        }),
    ];
    (v4, v6)
}

/// The frames of one link type, headers included: every IP packet behind each header variant
/// (both host byte orders for NULL, each BSD's IPv6 family), then what is not IP (an unknown and
/// an OSI family, SLARP keepalive, request and reply, CDP), then one frame cut by the snapshot
/// length.
fn link_frames(link: capture::LinkType) -> Vec<(Vec<u8>, u32)> {
    use capture::LinkType;
    let (v4, v6) = ip_packets();
    let heads_v4: Vec<[u8; 4]> = match link {
        LinkType::Null => vec![2u32.to_le_bytes(), 2u32.to_be_bytes()],
        LinkType::Loop => vec![2u32.to_be_bytes()],
        _ => vec![[0x0f, 0, 0x08, 0x00]],
    };
    let heads_v6: Vec<[u8; 4]> = match link {
        LinkType::Null => vec![
            24u32.to_le_bytes(),
            28u32.to_le_bytes(),
            30u32.to_le_bytes(),
            30u32.to_be_bytes(),
        ],
        LinkType::Loop => vec![24u32.to_be_bytes(), 28u32.to_be_bytes()],
        _ => vec![[0x0f, 0, 0x86, 0xdd]],
    };
    let mut frames = Vec::new();
    for (heads, packets) in [(&heads_v4, &v4), (&heads_v6, &v6)] {
        for h in heads {
            for p in packets {
                frames.push([&h[..], p].concat());
            }
        }
    }
    let slarp = |code: u32, a: u32, b: u32, uptime: Option<u32>| {
        let mut f = vec![0x8f, 0, 0x80, 0x35];
        for w in [code, a, b] {
            f.extend_from_slice(&w.to_be_bytes());
        }
        f.extend_from_slice(&0xffffu16.to_be_bytes());
        if let Some(ms) = uptime {
            f.extend_from_slice(&ms.to_be_bytes());
        }
        f
    };
    match link {
        LinkType::CiscoHdlc => {
            frames.push(slarp(2, 0x2a, 0x29, Some(3_725_000)));
            frames.push(slarp(2, 0x2b, 0x2a, None));
            frames.push(slarp(0, 0, 0, None));
            frames.push(slarp(1, 0xc000_0201, 0xffff_fffc, None));
            frames.push(vec![0x8f, 0, 0x20, 0x00, 0x02, 0xb4, 0x00, 0x00]);
        }
        _ => {
            let order = |f: u32| {
                if link == LinkType::Null {
                    f.to_le_bytes()
                } else {
                    f.to_be_bytes()
                }
            };
            frames.push([&order(99)[..], &[0xab; 20]].concat());
            frames.push([&order(7)[..], &[0x81, 0x1c, 0x01, 0x00]].concat());
        }
    }
    let mut out: Vec<(Vec<u8>, u32)> = frames
        .into_iter()
        .map(|f| {
            let len = f.len() as u32;
            (f, len)
        })
        .collect();
    // The TCP data segment again, cut 10 bytes into its payload.
    let (seg, len) = out[1].clone();
    out.push((seg[..4 + 20 + 20 + 10].to_vec(), len));
    out
}

/// Writes the link-type captures into `dir`: one classic pcap per link type and one pcapng with
/// an interface of each. Returns their paths and packet counts.
fn link_type_captures(dir: &Path) -> Vec<(PathBuf, usize)> {
    use capture::{LinkType, PcapNgWriter, PcapWriter, Timestamp};
    let links = [
        (LinkType::Null, "null.pcap"),
        (LinkType::Loop, "loop.pcap"),
        (LinkType::CiscoHdlc, "c_hdlc.pcap"),
    ];
    let ts = |i: usize| {
        Timestamp::new(
            1_800_000_000 + i as i64,
            (i as u32 * 7919) % 1_000_000 * 1000,
        )
    };
    let mut files = Vec::new();
    let mut ng = PcapNgWriter::new(Vec::new()).unwrap();
    let mut ng_count = 0;
    for (link, name) in links {
        let frames = link_frames(link);
        let mut w = PcapWriter::new(Vec::new(), link, 65535, false).unwrap();
        let iface = ng.add_interface(link, 65535, Some(name)).unwrap();
        for (i, (f, orig)) in frames.iter().enumerate() {
            w.write_packet(ts(i), *orig, f).unwrap();
            ng.write_packet(iface, ts(ng_count + i), *orig, f).unwrap();
        }
        ng_count += frames.len();
        let path = dir.join(name);
        std::fs::write(&path, w.into_inner()).unwrap();
        files.push((path, frames.len()));
    }
    let path = dir.join("null-loop-c_hdlc.pcapng");
    std::fs::write(&path, ng.into_inner()).unwrap();
    files.push((path, ng_count));
    files
}

/// BSD null and loopback and Cisco HDLC captures: every packet agrees with tshark, link headers
/// included.
#[test]
fn link_types_agree_with_tshark() {
    use capture::LinkType;
    if !have_tool("tshark", "link_types_agree_with_tshark") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (file, count) in link_type_captures(dir.path()) {
        let seen = compare(&file, count);
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        println!("{name}: {:?}", seen.0);
        let link = name.split(['.', '-']).next().unwrap();
        let mut want = vec![
            ("ipv4", 7),
            ("ipv6", 3),
            ("tcp", 3),
            ("udp", 2),
            ("icmp", 2),
            ("icmpv6", 1),
            ("ipv4 first fragment", 1),
            ("ipv4 later fragment", 1),
            ("l4 checksum verified", 8),
        ];
        match link {
            "c_hdlc" => want.extend([("c_hdlc", count), ("slarp", 4)]),
            "null" if name.ends_with(".pcapng") => {
                let [null, r#loop, c_hdlc] = [LinkType::Null, LinkType::Loop, LinkType::CiscoHdlc]
                    .map(|l| link_frames(l).len());
                want.extend([
                    ("null", null),
                    ("loop", r#loop),
                    ("c_hdlc", c_hdlc),
                    ("slarp", 4),
                ]);
            }
            link => want.push((if link == "null" { "null" } else { "loop" }, count)),
        }
        for (what, at_least) in want {
            assert!(
                seen.get(what) >= at_least,
                "{name}: expected at least {at_least} packets with {what}, saw {}: {:?}",
                seen.get(what),
                seen.0
            );
        }
    }
}

/// tcpdump's text, for the lines it prints alike: all but IP fragments (rampart adds the fragment
/// data), the OSI family (tcpdump decodes OSI, rampart names the family) and a cut payload
/// (rampart marks it). tcpdump's hex dumps (lines that start with a tab) and the `: ` before
/// them, and runs of spaces, are not compared.
#[test]
fn link_types_print_as_tcpdump_does() {
    if !have_tool("tcpdump", "link_types_print_as_tcpdump_does") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let normal = |l: &str| {
        l.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .trim_end_matches(':')
            .to_owned()
    };
    // libpcap reads one link type per file: the classic pcaps only.
    for (file, count) in link_type_captures(dir.path()).into_iter().take(3) {
        let ours = run(Command::new(RAMPART).arg("decode").arg(&file));
        let ours = String::from_utf8(ours.stdout).unwrap();
        let theirs = run(Command::new("tcpdump")
            .args(["-n", "-tt", "-S", "-r"])
            .arg(&file));
        let theirs: Vec<String> = String::from_utf8_lossy(&theirs.stdout)
            .lines()
            .filter(|l| !l.starts_with('\t'))
            .map(normal)
            .collect();
        let ours: Vec<String> = ours.lines().map(normal).collect();
        assert_eq!(
            (ours.len(), theirs.len()),
            (count, count),
            "{}",
            file.display()
        );
        let mut compared = 0;
        for (n, (o, t)) in ours.iter().zip(&theirs).enumerate() {
            if o.contains("(frag ") || o.contains(" AF ISO (7)") || o.ends_with("[truncated]") {
                continue;
            }
            assert_eq!(o, t, "{} packet {}", file.display(), n + 1);
            compared += 1;
        }
        assert!(
            compared + 6 >= count,
            "{}: only {compared} lines compared",
            file.display()
        );
    }
}

#[test]
fn stacks_are_read_from_tshark_protocol_lists() {
    let s = tshark_stack("eth:ethertype:vlan:ethertype:ip:icmp:data");
    assert_eq!((s.vlans, s.l3, s.l4), (1, Some("ip"), Some("icmp")));
    let s = tshark_stack("eth:ethertype:ip:icmp:ip:udp:vxlan:eth:ethertype:ipv6:icmpv6");
    assert_eq!((s.l3, s.l4, s.vxlan), (Some("ip"), Some("icmp"), false));
    let s = tshark_stack("eth:ethertype:ip:udp:vxlan:eth:ethertype:arp");
    assert_eq!((s.l3, s.l4, s.vxlan), (Some("ip"), Some("udp"), true));
    let s = tshark_stack("eth:ethertype:ipv6:ipv6.fraghdr:data");
    assert_eq!((s.l3, s.l4), (Some("ipv6"), None));
    let s = tshark_stack("chdlc:slarp");
    assert_eq!((s.link, s.eth, s.l3), (Some("chdlc"), false, None));
    let s = tshark_stack("null:ipv6:icmpv6:data");
    assert_eq!(
        (s.link, s.l3, s.l4),
        (Some("null"), Some("ipv6"), Some("icmpv6"))
    );
    assert_eq!(nanos("1.5"), 1_500_000_000);
    assert_eq!(nanos("1795461274.960204414"), 1_795_461_274_960_204_414);
    assert_eq!(num("0x0012"), Some(18));
}
