//! `rampart rules check` as a user runs it: real rule and variable files on disk, the report
//! on standard output, the exit status.

use std::process::{Command, Output, Stdio};

const RAMPART: &str = env!("CARGO_BIN_EXE_rampart");

fn rampart(args: &[&str]) -> Output {
    Command::new(RAMPART)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn reports_failures_unsupported_and_the_count() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("local.rules");
    std::fs::write(
        &rules,
        "# local rules\n\
         alert http $HOME_NET any -> $EXTERNAL_NET $HTTP_PORTS (msg:\"ok\"; http.uri; \\\n\
         \tcontent:\"/x\"; sid:1; rev:1;)\n\
         alert tcp any any -> any any (msg:\"bad depth\"; content:\"abcd\"; depth:2; sid:2;)\n\
         alert tcp any any -> any $WEB_PORTS (msg:\"needs a var\"; sid:3;)\n\
         alert tcp any any -> any any (msg:\"later\"; content:\"a\"; byte_extract:1,0,n; sid:4;)\n\
         alert ssh any any -> any any (msg:\"later too\"; sid:5;)\n",
    )
    .unwrap();
    let out = rampart(&["rules", "check", rules.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    let file = rules.display().to_string();
    assert!(
        text.contains(&format!(
            "{file}:4: sid 2: depth: depth 2 is smaller than the pattern length 4"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{file}:5: sid 3: destination port: unknown variable $WEB_PORTS"
        )),
        "{text}"
    );
    assert!(text.contains("  byte_extract: 1 rules"), "{text}");
    assert!(text.contains("  protocol ssh: 1 rules"), "{text}");
    assert!(text.ends_with("1 of 5 rules loaded\n"), "{text}");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("rampart: error: 2 rules failed to load"),
        "{err}"
    );

    // With the variable given and the bad rule gone, the rest load and the status is 0.
    let yaml = dir.path().join("suricata.yaml");
    std::fs::write(
        &yaml,
        "%YAML 1.1\n---\nvars:\n  port-groups:\n    WEB_PORTS: \"[80,8080]\"\n",
    )
    .unwrap();
    let good = dir.path().join("good.rules");
    std::fs::write(
        &good,
        "alert tcp any any -> $HOME_NET $WEB_PORTS (sid:3;)\n\
         alert tcp any any -> $HOME_NET any (content:\"x\"; sid:6;)\n",
    )
    .unwrap();
    let out = rampart(&[
        "rules",
        "check",
        good.to_str().unwrap(),
        "--vars",
        yaml.to_str().unwrap(),
        "--var",
        "HOME_NET=[10.0.0.0/8]",
    ]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "2 of 2 rules loaded\n"
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn missing_files_and_bad_arguments() {
    let out = rampart(&["rules", "check", "/nonexistent/x.rules"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("/nonexistent/x.rules"), "{err}");
    let out = rampart(&["rules", "check"]);
    assert_eq!(out.status.code(), Some(2));
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a.rules");
    std::fs::write(&f, "").unwrap();
    let out = rampart(&["rules", "check", f.to_str().unwrap(), "--var", "NOEQUALS"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "");
}

#[test]
fn the_benchmark_rule_set_loads_whole() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let Some(kit) = ["../shared", "../../shared"]
        .iter()
        .map(|s| repo.join(s).join("bench/ids"))
        .find(|p| p.join("rules/rules-1000.rules").exists())
    else {
        eprintln!("skipped: the IDS benchmark kit (../shared/bench/ids) is absent");
        return;
    };
    let out = rampart(&[
        "rules",
        "check",
        kit.join("rules/rules-1000.rules").to_str().unwrap(),
        "--vars",
        kit.join("suricata/suricata.yaml").to_str().unwrap(),
    ]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "1000 of 1000 rules loaded\n"
    );
    assert_eq!(out.status.code(), Some(0));
}
