//! `rampart policy check` as an operator runs it: every example policy under `examples/` (with
//! the switch configuration it names) validates and reports what it holds; a broken policy
//! exits with 1 and one `file:line: key: what` line; `--config`, `--strict` and `--help`.

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

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The number after `prefix` on the report line that starts with it.
fn figure(report: &str, prefix: &str) -> usize {
    let line = report
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in:\n{report}"));
    line[prefix.len()..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {prefix:?}: {line}"))
}

/// Warnings each example is expected to have (a deliberate overlap in security-gateway).
const EXPECTED_WARNINGS: &[(&str, usize)] = &[
    ("small-office", 0),
    ("three-tier", 0),
    ("security-gateway", 1),
];

#[test]
fn every_example_policy_checks() {
    let dir = repo().join("examples");
    let mut examples: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("policy.toml").is_file())
        .collect();
    examples.sort();
    assert!(examples.len() >= 3, "examples/: {examples:?}");
    for ex in &examples {
        let name = ex.file_name().unwrap().to_str().unwrap();
        let policy = ex.join("policy.toml");
        let source = std::fs::read_to_string(&policy).unwrap();
        assert!(
            source.contains("switch = \"") && ex.join("switch.toml").is_file(),
            "{name}: every example names the switch configuration beside it"
        );
        let out = rampart(&["policy", "check", policy.to_str().unwrap()]);
        let report = text(&out.stdout);
        assert!(
            out.status.success(),
            "{name}: {}\n{report}",
            text(&out.stderr)
        );
        assert!(
            report.starts_with(&format!("policy {}: valid\n", policy.display())),
            "{report}"
        );
        assert!(
            report.contains("switch.toml ("),
            "{name}: the switch was read:\n{report}"
        );
        // What the issue asks of the examples: two or more zones and the WAN, NAT, a port
        // mapping, a flood guard.
        assert!(figure(&report, "zones: ") >= 2, "{name}:\n{report}");
        assert!(report.contains("  wan: every address no zone claims"));
        let rules = source.matches("\n[[rule]]").count();
        assert_eq!(figure(&report, "rules: "), rules, "{name}:\n{report}");
        assert!(
            figure(&report, "nat: ") >= 1,
            "{name}: source NAT\n{report}"
        );
        let dnat = report
            .lines()
            .find(|l| l.starts_with("nat: "))
            .and_then(|l| l.split(", ").nth(1))
            .and_then(|p| p.split(' ').next())
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap();
        assert!(dnat >= 1, "{name}: a port mapping\n{report}");
        assert!(figure(&report, "flood guards: ") >= 1, "{name}:\n{report}");
        let want = EXPECTED_WARNINGS
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, w)| *w);
        assert_eq!(figure(&report, "warnings: "), want, "{name}:\n{report}");
        assert_eq!(
            report.matches("\nwarning: ").count(),
            want,
            "{name}:\n{report}"
        );
        // With --strict, exactly the examples with warnings fail.
        let strict = rampart(&["policy", "check", "--strict", policy.to_str().unwrap()]);
        assert_eq!(
            strict.status.success(),
            want == 0,
            "{name}: {}",
            text(&strict.stderr)
        );
    }
}

#[test]
fn a_broken_policy_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(
        &path,
        "[[zone]]\nname = \"lan\"\nmembers = [\"10.0.0.0/8\"]\n\n[[rule]]\nfrom = \"lan\"\nto = \"dmz\"\naction = \"allow\"\n",
    )
    .unwrap();
    let out = rampart(&["policy", "check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    let err = text(&out.stderr);
    assert_eq!(
        err,
        format!(
            "rampart: error: {}:7: rule[0].to: no zone named \"dmz\" (zones: lan, wan, or any)\n",
            path.display()
        )
    );

    std::fs::write(&path, "[[rule]]\naction = \"allow\"\nprot = \"tcp\"\n").unwrap();
    let out = rampart(&["policy", "check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.starts_with(&format!(
            "rampart: error: {}:3: rule[0].prot: unknown field `prot`",
            path.display()
        )),
        "{err}"
    );

    let out = rampart(&[
        "policy",
        "check",
        dir.path().join("none.toml").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("none.toml: cannot read"));
}

#[test]
fn the_switch_configuration_is_checked_and_can_be_overridden() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.toml");
    let switch = dir.path().join("sw.toml");
    std::fs::write(
        &switch,
        "[[bridge]]\nname = \"br0\"\n[[port]]\nname = \"vm1\"\nkind = \"vm\"\nbridge = \"br0\"\nips = [\"10.0.0.1\"]\n",
    )
    .unwrap();
    std::fs::write(
        &policy,
        "switch = \"sw.toml\"\n[[zone]]\nname = \"z\"\nmembers = [\"vm2\"]\n",
    )
    .unwrap();
    let out = rampart(&["policy", "check", policy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("p.toml:4: zone[0].members: no port named \"vm2\" in "),
        "{err}"
    );
    assert!(err.contains("sw.toml"), "{err}");

    // --config wins over `switch = ...`.
    let other = dir.path().join("other.toml");
    std::fs::write(
        &other,
        std::fs::read_to_string(&switch)
            .unwrap()
            .replace("vm1", "vm2"),
    )
    .unwrap();
    let out = rampart(&[
        "policy",
        "check",
        policy.to_str().unwrap(),
        "--config",
        other.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(report.contains("other.toml (1 port)"), "{report}");
    // The zone is not named by any rule: a warning.
    assert!(
        report.contains("warning: ") && report.contains("zone[0]: zone \"z\" is not named"),
        "{report}"
    );

    // A broken switch configuration is reported as such.
    std::fs::write(&switch, "[[bridge]]\nname = 3\n").unwrap();
    let out = rampart(&["policy", "check", policy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("switch configuration named by") && err.contains("sw.toml:2"),
        "{err}"
    );

    // Without any switch configuration, port names are taken on trust, with a warning.
    std::fs::write(
        &policy,
        "[[zone]]\nname = \"z\"\nmembers = [\"vm2\"]\n[[rule]]\nto = \"z\"\naction = \"deny\"\n",
    )
    .unwrap();
    let out = rampart(&["policy", "check", policy.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(
        report.contains("switch: none (port names not checked)"),
        "{report}"
    );
    assert!(
        report.contains("port names not checked") && report.contains(": vm2"),
        "{report}"
    );
}

#[test]
fn help_documents_the_exit_status() {
    for args in [&["policy", "--help"][..], &["policy", "check", "--help"]] {
        let out = rampart(args);
        assert!(out.status.success());
        let help = text(&out.stdout);
        assert!(help.contains("Exit status:"), "{help}");
        assert!(help.contains("examples/small-office/policy.toml"), "{help}");
    }
}
