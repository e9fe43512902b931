//! The writers' files as tshark and tcpdump read them: same packets, lengths, timestamps and
//! interfaces as this crate's reader. Each test says so and passes when the tool is not
//! installed (`apt-get install tshark tcpdump`).

mod common;

use std::path::Path;
use std::process::Command;

use capture::{CaptureReader, LinkType, PcapNgWriter, PcapWriter, Timestamp};
use common::{Owned, drain, pcap_sample, pcapng_sample};

fn installed(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipping: {tool} is not installed");
    }
    ok
}

fn ours(bytes: &[u8]) -> Vec<Owned> {
    let mut r = CaptureReader::new(bytes).unwrap();
    let (got, e) = drain(&mut r, bytes.len());
    assert!(e.is_none(), "{e:?}");
    got
}

fn run(tool: &str, args: &[&str], file: &Path) -> String {
    let out = Command::new(tool).args(args).arg(file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{tool} failed on {}: {stderr}",
        file.display()
    );
    String::from_utf8(out.stdout).unwrap()
}

/// tshark's view: (interface name, epoch time with 9 digits, wire length, captured length).
fn tshark(file: &Path) -> Vec<(String, String, u32, u32)> {
    let fields = [
        "-e",
        "frame.interface_name",
        "-e",
        "frame.time_epoch",
        "-e",
        "frame.len",
        "-e",
        "frame.cap_len",
    ];
    let mut args = vec!["-T", "fields", "-E", "separator=/t", "-r"];
    args.splice(0..0, fields);
    run("tshark", &args, file)
        .lines()
        .map(|l| {
            let f: Vec<_> = l.split('\t').collect();
            (
                f[0].to_owned(),
                f[1].to_owned(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
            )
        })
        .collect()
}

fn pcap_variants() -> Vec<(&'static str, Vec<u8>)> {
    let variants = [
        ("le-us-ethernet", false, false, LinkType::Ethernet),
        ("le-ns-raw", true, false, LinkType::RawIp),
        ("be-us-sll", false, true, LinkType::LinuxSll),
        ("be-ns-sll2", true, true, LinkType::LinuxSll2),
    ];
    variants
        .into_iter()
        .map(|(name, nanos, be, link)| {
            // The sample's frames, rewritten under this variant's link type.
            let s = pcap_sample(21, 60, 1600, nanos, be);
            let mut w = PcapWriter::with_byte_order(Vec::new(), link, 65535, nanos, be).unwrap();
            for p in ours(&s.bytes) {
                w.write_packet(p.timestamp, p.orig_len, &p.data).unwrap();
            }
            (name, w.into_inner())
        })
        .collect()
}

#[test]
fn tshark_reads_what_the_writers_write() {
    if !installed("tshark") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut files = pcap_variants();
    files.push(("ng-le", pcapng_sample(22, 60, 1600, false).bytes));
    files.push(("ng-be", pcapng_sample(23, 60, 1600, true).bytes));
    for (name, bytes) in files {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let theirs = tshark(&path);
        let ours = ours(&bytes);
        assert_eq!(theirs.len(), ours.len(), "{name}");
        for (t, o) in theirs.iter().zip(&ours) {
            if name.starts_with("ng") {
                assert_eq!(
                    t.0,
                    ["eth0", "tun0", "any"][o.interface as usize],
                    "{name} #{}",
                    o.number
                );
            }
            assert_eq!(
                t.1,
                o.timestamp.fmt_nanos().to_string(),
                "{name} #{}",
                o.number
            );
            assert_eq!((t.2, t.3), (o.orig_len, o.caplen), "{name} #{}", o.number);
        }
    }
}

#[test]
fn tcpdump_reads_what_the_writers_write() {
    if !installed("tcpdump") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut files = pcap_variants();
    // libpcap reads pcapng with one link type only.
    for be in [false, true] {
        let mut w = PcapNgWriter::with_byte_order(Vec::new(), be).unwrap();
        let id = w
            .add_interface(LinkType::Ethernet, 65535, Some("eth0"))
            .unwrap();
        for i in 0..20u32 {
            let frame = vec![i as u8; 60 + i as usize];
            w.write_packet(
                id,
                Timestamp::new(1_700_000_000 + i64::from(i), i * 1001),
                2000,
                &frame,
            )
            .unwrap();
        }
        files.push((if be { "ng-be" } else { "ng-le" }, w.into_inner()));
    }
    for (name, bytes) in files {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let out = run("tcpdump", &["-tt", "-nn", "-q", "-r"], &path);
        let stamps: Vec<&str> = out.lines().map(|l| l.split(' ').next().unwrap()).collect();
        let ours: Vec<String> = ours(&bytes)
            .iter()
            .map(|p| p.timestamp.fmt_micros().to_string())
            .collect();
        assert_eq!(stamps, ours, "{name}");
    }
}
