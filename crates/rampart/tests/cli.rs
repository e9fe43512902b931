//! The `rampart` binary as a user meets it: version, help of every subcommand, completions, exit
//! statuses, one-line errors that name the file, `decode` output on hand-made captures (count,
//! snaplen cut, truncated file) and a reader that goes away (`| head -1`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use etherparse::PacketBuilder;

const RAMPART: &str = env!("CARGO_BIN_EXE_rampart");

fn rampart(args: &[&str]) -> Output {
    Command::new(RAMPART)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A classic pcap file (microseconds, little-endian, Ethernet) of `(caplen-cut, frame)` records.
fn pcap(records: &[(Option<usize>, Vec<u8>)]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&65535u32.to_le_bytes());
    f.extend_from_slice(&1u32.to_le_bytes());
    for (i, (cut, frame)) in records.iter().enumerate() {
        let caplen = cut.unwrap_or(frame.len()).min(frame.len());
        f.extend_from_slice(&(1_700_000_000u32 + i as u32).to_le_bytes());
        f.extend_from_slice(&123_456u32.to_le_bytes());
        f.extend_from_slice(&(caplen as u32).to_le_bytes());
        f.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        f.extend_from_slice(&frame[..caplen]);
    }
    f
}

fn tcp_syn(sport: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(sport, 80, 1, 65535)
        .syn()
        .options(&[
            etherparse::TcpOptionElement::MaximumSegmentSize(1460),
            etherparse::TcpOptionElement::SelectiveAcknowledgementPermitted,
            etherparse::TcpOptionElement::Timestamp(1, 0),
            etherparse::TcpOptionElement::Noop,
            etherparse::TcpOptionElement::WindowScale(7),
        ])
        .unwrap()
        .write(&mut v, &[])
        .unwrap();
    v
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Asserts a runtime error: exit 1, nothing but one `rampart: error:` line on stderr, naming
/// `what`.
fn assert_one_line_error(o: &Output, what: &str) {
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(o));
    let err = stderr(o);
    assert_eq!(err.lines().count(), 1, "not one line: {err:?}");
    assert!(err.starts_with("rampart: error: "), "{err:?}");
    assert!(err.contains(what), "{err:?} does not name {what}");
    assert!(!err.contains("backtrace"), "{err:?}");
}

#[test]
fn version_names_the_binary() {
    let o = rampart(&["--version"]);
    assert!(o.status.success());
    assert_eq!(
        stdout(&o).trim(),
        format!("rampart {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn every_subcommand_has_complete_help() {
    let top = rampart(&["--help"]);
    assert!(top.status.success());
    let top = stdout(&top);
    for needle in [
        "decode",
        "completions",
        "--verbose",
        "RUST_LOG",
        "Exit status:",
    ] {
        assert!(
            top.contains(needle),
            "top-level help lacks {needle}:\n{top}"
        );
    }
    for (sub, needles) in [
        ("decode", &["FILE", "--json", "--count", "Examples:"][..]),
        ("completions", &["bash", "zsh", "fish"][..]),
    ] {
        for flag in ["--help", "-h"] {
            let o = rampart(&[sub, flag]);
            assert!(o.status.success(), "{sub} {flag}");
            let help = stdout(&o);
            for needle in needles.iter().chain(&["Exit status:", "2  usage error"]) {
                assert!(
                    help.contains(needle),
                    "`{sub} {flag}` lacks {needle}:\n{help}"
                );
            }
        }
        let o = rampart(&["help", sub]);
        assert!(o.status.success(), "help {sub}");
    }
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let o = rampart(&["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        let script = stdout(&o);
        assert!(
            script.contains("rampart") && script.contains("decode"),
            "{shell}"
        );
    }
    // The bash script at least parses.
    let o = rampart(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    let p = write_file(dir.path(), "rampart.bash", &o.stdout);
    let check = Command::new("bash").arg("-n").arg(&p).output().unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["frobnicate"][..],
        &["decode"][..],
        &["decode", "--count", "many", "x.pcap"][..],
        &["decode", "--no-such-flag", "x.pcap"][..],
        &["completions", "tcsh"][..],
    ] {
        let o = rampart(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            !stderr(&o).is_empty(),
            "{args:?}: usage errors explain themselves"
        );
    }
}

#[test]
fn missing_file_is_one_line_naming_it() {
    let o = rampart(&["decode", "/nonexistent/capture.pcap"]);
    assert_one_line_error(&o, "/nonexistent/capture.pcap");
    assert_eq!(
        stderr(&o).matches("No such file").count(),
        1,
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty());
}

#[test]
fn bad_magic_is_one_line_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_file(
        dir.path(),
        "notes.txt",
        b"this is not a capture file at all\n",
    );
    let o = rampart(&["decode", path_str(&p)]);
    assert_one_line_error(&o, path_str(&p));
    assert!(
        stderr(&o).contains("not a pcap or pcapng file"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn truncated_file_prints_good_packets_then_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = pcap(&[
        (None, tcp_syn(1000)),
        (None, tcp_syn(1001)),
        (None, tcp_syn(1002)),
    ]);
    bytes.truncate(bytes.len() - 10);
    let p = write_file(dir.path(), "cut.pcap", &bytes);
    for json in [false, true] {
        let mut args = vec!["decode", path_str(&p)];
        if json {
            args.push("--json");
        }
        let o = rampart(&args);
        assert_one_line_error(&o, path_str(&p));
        assert_eq!(stdout(&o).lines().count(), 2, "{}", stdout(&o));
    }
}

#[test]
fn decode_text_looks_like_tcpdump() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_file(dir.path(), "syn.pcap", &pcap(&[(None, tcp_syn(1234))]));
    let o = rampart(&["decode", path_str(&p)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "1700000000.123456 IP 10.0.0.1.1234 > 10.0.0.2.80: Flags [S], seq 1, win 65535, \
         options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0\n"
    );
    assert!(stderr(&o).is_empty(), "quiet without -v: {}", stderr(&o));
}

#[test]
fn count_stops_early() {
    let dir = tempfile::tempdir().unwrap();
    let recs: Vec<_> = (0..10).map(|i| (None, tcp_syn(2000 + i))).collect();
    let p = write_file(dir.path(), "ten.pcap", &pcap(&recs));
    for (count, want) in [("3", 3), ("0", 0), ("50", 10)] {
        let o = rampart(&["decode", "--count", count, path_str(&p)]);
        assert!(o.status.success());
        assert_eq!(stdout(&o).lines().count(), want, "--count {count}");
        let o = rampart(&["decode", "-c", count, "--json", path_str(&p)]);
        assert_eq!(stdout(&o).lines().count(), want, "-c {count} --json");
    }
}

#[test]
fn snaplen_cut_packet_is_marked_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = Vec::new();
    PacketBuilder::ethernet2([2; 6], [4; 6])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(5353, 53)
        .write(&mut v, &[7; 200])
        .unwrap();
    // Cut inside the TCP options, and after the UDP header.
    let p = write_file(
        dir.path(),
        "snap.pcap",
        &pcap(&[(Some(60), tcp_syn(4321)), (Some(64), v)]),
    );
    let o = rampart(&["decode", path_str(&p)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let lines: Vec<_> = text.lines().collect();
    assert!(lines[0].ends_with("[|tcp]"), "{}", lines[0]);
    assert!(
        lines[1].ends_with("UDP, length 200 [truncated]"),
        "{}",
        lines[1]
    );

    let o = rampart(&["decode", "--json", path_str(&p)]);
    let v: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(v[0]["truncated"], "transport");
    assert_eq!(v[0]["caplen"], 60);
    assert_eq!(v[0]["orig_len"], 74);
    assert_eq!(v[0]["l4"]["checksum_ok"], serde_json::Value::Null);
    assert_eq!(v[1]["truncated"], "payload");
    assert_eq!(v[1]["payload_len"], 64 - 42);
}

#[test]
fn json_lines_have_every_key() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_file(dir.path(), "one.pcap", &pcap(&[(None, tcp_syn(1))]));
    let o = rampart(&["decode", "--json", path_str(&p)]);
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
    for k in [
        "number",
        "ts",
        "caplen",
        "orig_len",
        "interface",
        "link",
        "eth",
        "vlan",
        "ethertype",
        "arp",
        "ip",
        "l4",
        "payload_len",
        "truncated",
        "tunnel",
        "anomalies",
    ] {
        assert!(keys.iter().any(|x| x == k), "missing {k} in {v}");
    }
    assert_eq!(v["ts"], "1700000000.123456");
    assert_eq!(v["l4"]["tcp"]["flags_str"], "S");
    assert_eq!(v["l4"]["checksum_ok"], true);
    assert_eq!(v["ip"]["hdr_checksum_ok"], true);
}

#[test]
fn closed_pipe_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    // ~6 MB of text: far more than the pipe and the output buffer hold.
    let recs: Vec<_> = (0..40_000u32).map(|i| (None, tcp_syn(i as u16))).collect();
    let p = write_file(dir.path(), "big.pcap", &pcap(&recs));
    for extra in ["", "--json"] {
        let o = Command::new("bash")
            .args([
                "-c",
                &format!("set -o pipefail; \"$0\" decode {extra} \"$1\" | head -1"),
                RAMPART,
                path_str(&p),
            ])
            .env_remove("RUST_BACKTRACE")
            .output()
            .unwrap();
        assert!(o.status.success(), "{extra}: status {:?}", o.status);
        assert_eq!(stdout(&o).lines().count(), 1);
        assert!(stderr(&o).is_empty(), "{extra}: {}", stderr(&o));
    }
}

#[test]
fn verbose_and_rust_log_go_to_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_file(dir.path(), "one.pcap", &pcap(&[(None, tcp_syn(1))]));
    let o = rampart(&["-v", "decode", path_str(&p)]);
    assert!(o.status.success());
    assert_eq!(stdout(&o).lines().count(), 1, "logs must not reach stdout");
    assert!(stderr(&o).contains("decoded"), "{}", stderr(&o));

    let o = Command::new(RAMPART)
        .args(["decode", path_str(&p)])
        .env("RUST_LOG", "rampart=debug")
        .output()
        .unwrap();
    assert!(stderr(&o).contains("decoded"), "{}", stderr(&o));
    let o = Command::new(RAMPART)
        .args(["-vvv", "decode", path_str(&p)])
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(
        stderr(&o).is_empty(),
        "RUST_LOG overrides -v: {}",
        stderr(&o)
    );
}

#[test]
fn logs_written_to_a_file_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_file(dir.path(), "one.pcap", &pcap(&[(None, tcp_syn(1))]));
    let log = dir.path().join("stderr.log");
    let o = Command::new(RAMPART)
        .args(["-vv", "decode", path_str(&p)])
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .output()
        .unwrap();
    assert!(o.status.success());
    let logged = std::fs::read(&log).unwrap();
    let text = String::from_utf8_lossy(&logged);
    assert!(
        text.contains("INFO") && text.contains("decoded"),
        "-vv logs nothing: {text}"
    );
    assert!(
        !logged.contains(&0x1b),
        "escape codes in a log file: {text:?}"
    );
}

#[test]
fn backtrace_only_when_asked() {
    let o = Command::new(RAMPART)
        .args(["decode", "/nonexistent/x.pcap"])
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.starts_with("rampart: error: "), "{err}");
    assert!(
        err.lines().count() > 1,
        "RUST_BACKTRACE=1 shows a backtrace: {err}"
    );
}

/// `rampart ARGS` with `input` written to its standard input through a pipe.
fn rampart_piped(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(RAMPART)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // Written from another thread, as a capture program would, while the output is read.
    let writer = std::thread::spawn(move || {
        let _ = std::io::Write::write_all(&mut stdin, &input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

#[test]
fn dash_reads_the_capture_from_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/netns-mix.pcapng");
    // Big enough (6 MB) that a named file is decoded on several threads.
    let recs: Vec<_> = (0..40_000u32).map(|i| (None, tcp_syn(i as u16))).collect();
    let big = write_file(dir.path(), "big.pcap", &pcap(&recs));
    let small = write_file(dir.path(), "small.pcap", &pcap(&recs[..3]));
    for file in [&sample, &big, &small] {
        for json in [false, true] {
            let mut args = vec!["decode"];
            if json {
                args.push("--json");
            }
            let named = rampart(&[&args[..], &[path_str(file)]].concat());
            assert!(named.status.success(), "{}", stderr(&named));
            args.push("-");
            // Through a pipe, and redirected from the file itself.
            let piped = rampart_piped(&args, &std::fs::read(file).unwrap());
            assert!(piped.status.success(), "{}", stderr(&piped));
            assert!(
                piped.stdout == named.stdout,
                "{file:?} json {json}: piped output differs"
            );
            let redirected = Command::new(RAMPART)
                .args(&args)
                .stdin(std::fs::File::open(file).unwrap())
                .output()
                .unwrap();
            assert!(redirected.status.success(), "{}", stderr(&redirected));
            assert!(
                redirected.stdout == named.stdout,
                "{file:?} json {json}: redirected output differs"
            );
        }
    }
    // Errors name standard input; a cut capture prints its good packets first.
    let o = rampart_piped(&["decode", "-"], b"not a capture at all");
    assert_one_line_error(&o, "standard input: not a pcap or pcapng file");
    let o = rampart_piped(&["decode", "-"], b"");
    assert_one_line_error(&o, "standard input: empty file");
    let mut cut = std::fs::read(&small).unwrap();
    cut.truncate(cut.len() - 10);
    let o = rampart_piped(&["decode", "-"], &cut);
    assert_one_line_error(&o, "standard input: record 3");
    assert_eq!(stdout(&o).lines().count(), 2);
}

#[test]
fn committed_sample_decodes() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/netns-mix.pcapng");
    let o = rampart(&["decode", path_str(&sample)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for needle in [
        "ARP, Request who-has",
        "vlan 100, p 0, ARP",
        "ICMP echo request",
        "ICMP6, neighbor solicitation",
        "HBH ICMP6, multicast listener report v2",
        "Flags [S.]",
        "UDP, length",
        "VXLAN, flags [I] (0x08), vni 4242: IP 10.201.0.1 > 10.201.0.2: ICMP echo request",
        "frag (1448|1448)",
        "udp port 9999 unreachable",
    ] {
        assert!(text.contains(needle), "sample output lacks {needle:?}");
    }
    let o = rampart(&["decode", "--json", path_str(&sample)]);
    assert!(o.status.success());
    for l in stdout(&o).lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(
            v["ts"].as_str().unwrap().split('.').nth(1).unwrap().len(),
            9
        );
    }
}
