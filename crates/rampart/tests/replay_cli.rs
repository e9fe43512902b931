//! `rampart replay` and `rampart bench` as a user meets them: the sample with and without its
//! configuration, per-port outputs, EVE output, and clear errors for bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

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

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../samples")
        .join(name)
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

#[test]
fn replay_two_bridges_with_config() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let eve = dir.path().join("eve.json");
    let o = rampart(&[
        "replay",
        sample("two-bridges.pcapng").to_str().unwrap(),
        "--config",
        sample("two-bridges.toml").to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
        "--eve",
        eve.to_str().unwrap(),
    ]);
    let s = text(&o.stdout);
    assert!(o.status.success(), "{s}\n{}", text(&o.stderr));
    assert!(s.starts_with("replayed 27 packets"), "{s}");
    // The per-port table: name, kind, bridge, rx, tx.
    for (port, kind, bridge, rx, tx) in [
        ("vm1", "vm", "br0", 6, 8),
        ("vm2", "vm", "br0", 7, 8),
        ("vm3", "vm", "br0", 4, 4),
        ("web", "vm", "br1", 3, 3),
        ("db", "vm", "br1", 2, 4),
        ("mgmt", "vm", "br1", 1, 1),
        ("uplink", "uplink", "br1", 4, 2),
    ] {
        let line = s
            .lines()
            .find(|l| l.split_whitespace().next() == Some(port))
            .unwrap_or_else(|| panic!("no line for {port}: {s}"));
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            f,
            [port, kind, bridge, &rx.to_string(), &tx.to_string()],
            "{line}"
        );
        assert!(out.join(format!("{port}.pcap")).exists());
    }
    assert!(s.contains("vlan-not-allowed"), "{s}");
    assert!(s.contains("transmitted                      30"), "{s}");
    let events = std::fs::read_to_string(&eve).unwrap();
    let types: Vec<String> = events
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["event_type"].as_str().unwrap().to_string()
        })
        .collect();
    let count = |t: &str| types.iter().filter(|x| *x == t).count();
    assert_eq!(count("drop"), 1, "{events}");
    assert_eq!(count("flow"), 8, "a flow record per connection: {events}");
    assert_eq!(types.last().map(String::as_str), Some("stats"), "{events}");
}

#[test]
fn replay_with_built_in_defaults() {
    let o = rampart(&["replay", sample("netns-mix.pcapng").to_str().unwrap()]);
    let s = text(&o.stdout);
    assert!(o.status.success(), "{s}\n{}", text(&o.stderr));
    assert!(s.starts_with("replayed 100 packets"), "{s}");
    assert!(s.contains("vm-"), "auto-created ports: {s}");
}

/// `rampart replay ... | head`: the reader going away is not an error (exit 0, no panic).
#[test]
fn replay_into_a_closed_pipe_is_not_an_error() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = Command::new(RAMPART)
        .args(["replay", sample("netns-mix.pcapng").to_str().unwrap()])
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = text(&o.stderr);
    assert!(o.status.success(), "{:?}: {err}", o.status);
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn replay_errors_are_one_line_and_say_where() {
    let dir = tempfile::tempdir().unwrap();
    // A missing capture.
    let o = rampart(&["replay", "/nonexistent/x.pcap"]);
    assert_eq!(o.status.code(), Some(1));
    let e = text(&o.stderr);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        e.starts_with("rampart: error: ") && e.contains("/nonexistent/x.pcap"),
        "{e}"
    );
    // A bad configuration names file, line and key.
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[[bridge]]\nname = \"br0\"\n\n[[port]]\nname = \"p\"\nkind = \"vm\"\nbridge = \"br0\"\nvlan = 9999\n").unwrap();
    let o = rampart(&[
        "replay",
        sample("two-bridges.pcapng").to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let e = text(&o.stderr);
    assert!(
        e.contains("bad.toml:8: port[0].vlan: VLAN 9999 is out of range"),
        "{e}"
    );
    // A truncated capture: what came before is replayed and summarised, then the error.
    let bytes = std::fs::read(sample("two-bridges.pcapng")).unwrap();
    let cut = dir.path().join("cut.pcapng");
    std::fs::write(&cut, &bytes[..bytes.len() - 20]).unwrap();
    let o = rampart(&["replay", cut.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stdout).starts_with("replayed 26 packets"),
        "{}",
        text(&o.stdout)
    );
    let e = text(&o.stderr);
    assert!(e.contains("byte offset") && e.contains("cut.pcapng"), "{e}");
    // Usage errors exit 2.
    let o = rampart(&["replay", "x.pcap", "--workers", "0"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn bench_datapath_quick_prints_a_table() {
    let o = rampart(&[
        "bench", "datapath", "--quick", "--reps", "1", "--only", "megaflow",
    ]);
    let s = text(&o.stdout);
    assert!(o.status.success(), "{s}\n{}", text(&o.stderr));
    assert!(s.starts_with("| case |"), "{s}");
    assert!(s.contains("| megaflow 10/first"), "{s}");
    assert!(s.contains("| megaflow 10/last (10.0 probed)"), "{s}");
}
