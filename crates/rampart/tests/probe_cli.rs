//! `rampart probe` with a real container: a minimal root directory (dynamically linked `sh`,
//! `cat` and `sleep` with their libraries, a static `busybox`) started under
//! `unshare --mount --pid --root`, the shim injected through its `/etc/ld.so.preload`. The
//! probe finds it, reads its events and reports its unhooked processes; policies change
//! while a process runs; a probe that dies leaves the container running with its events
//! counted as dropped; an unreadable policy leaves the fallback in charge; removal restores
//! the container.
//!
//! Needs root (namespaces, chroot) and `unshare` and `busybox` (scripts/setup); without them
//! each test says why it is skipped, except under CI where that fails.

mod common;

use std::process::Command;

use common::{Rootfs, Running, eve, missing, output, rampart, text, wait_until, write};
use serde_json::Value;

fn prerequisites() -> bool {
    missing(true, &["unshare", "busybox", "ldd"]).is_none()
}

fn ok(cmd: &mut Command) -> String {
    let o = output(cmd);
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

/// Starts `rampart probe watch --eve EVE --interval 100 --container ROOT` (and ARGS): tests
/// run in parallel, and a probe must not read another test's container.
fn probe(eve_path: &std::path::Path, root: &str, args: &[&str]) -> Running {
    let eve_s = eve_path.to_str().unwrap();
    let mut a = vec![
        "probe",
        "watch",
        "--interval",
        "100",
        "--eve",
        eve_s,
        "--container",
        root,
    ];
    a.extend_from_slice(args);
    Running::spawn(
        rampart(&a)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    )
}

fn counter(root: &str, name: &str) -> u64 {
    let stats = ok(&mut rampart(&["probe", "stats", root]));
    stats
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {stats}"))
}

#[test]
fn a_busybox_container_under_unshare() {
    if !prerequisites() {
        return;
    }
    let rootfs = Rootfs::new();
    let root = rootfs.path();
    let tmp = tempfile::tempdir().unwrap();
    let policy = write(
        tmp.path(),
        "p.toml",
        "[files]\ndeny = [\"/etc/shadow\"]\n[exec]\ndeny = [\"/bin/env\"]\n",
    );
    let said = ok(&mut rampart(&[
        "probe",
        "inject",
        root,
        "--policy",
        policy.to_str().unwrap(),
    ]));
    assert!(
        said.contains("policy generation 1") && said.contains("created"),
        "{said}"
    );
    assert_eq!(
        rootfs.read("/etc/ld.so.preload"),
        "/.rampart/librampart_shim.so\n"
    );

    let events = tmp.path().join("eve.json");
    let _probe = probe(&events, root, &[]);
    // The container waits for the probe to attach (it rescans every 100 ms), then works; the
    // static busybox it starts is not hooked.
    let _c = rootfs.start(
        "sleep 1; cat /etc/hostname > /tmp/out; cat /etc/shadow 2>> /tmp/out; \
         echo \"cat=$?\" >> /tmp/out; env true 2>> /tmp/out; echo \"env=$?\" >> /tmp/out; \
         /bin/busybox sleep 3",
    );
    let id = format!("rootfs:{root}");
    // A probe attaches to every injected root on the host, other tests' too: keep ours.
    let ours = || -> Vec<Value> {
        eve(&events)
            .into_iter()
            .filter(|e| e["container"]["id"] == id.as_str())
            .collect()
    };
    assert!(
        wait_until(20, || rootfs.read("/tmp/out").contains("env=")
            && ours().len() >= 3),
        "out: {}\nevents: {:?}",
        rootfs.read("/tmp/out"),
        eve(&events)
    );
    let out = rootfs.read("/tmp/out");
    assert!(
        out.starts_with("box\n")
            && out.contains("Permission denied")
            && out.contains("cat=1")
            && out.contains("env=126"),
        "{out}"
    );

    let list = ok(&mut rampart(&["probe", "list"]));
    let line = list
        .lines()
        .find(|l| l.contains(root))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(
        line.contains("rootfs") && line.contains("generation 1"),
        "{line}"
    );

    assert!(
        wait_until(10, || ours().iter().any(|e| e["hooked"] == false)),
        "{:?}",
        eve(&events)
    );
    let all = ours();
    for e in &all {
        assert_eq!(e["container"]["runtime"], "rootfs");
        assert_eq!(e["container"]["name"], "rootfs");
    }
    let file = all.iter().find(|e| e["event_type"] == "file").unwrap();
    assert_eq!(
        (file["file"]["path"].as_str(), file["action"].as_str()),
        (Some("/etc/shadow"), Some("blocked"))
    );
    assert_eq!(file["executable"], "/bin/cat");
    let exec = all
        .iter()
        .find(|e| e["event_type"] == "process" && e["decision"] == "deny")
        .unwrap();
    assert_eq!(exec["process"]["path"], "/bin/env");
    let unhooked = all.iter().find(|e| e["hooked"] == false).unwrap();
    assert!(
        unhooked["executable"]
            .as_str()
            .unwrap()
            .ends_with("/bin/busybox"),
        "{unhooked}"
    );
    assert!(
        unhooked["reason"]
            .as_str()
            .unwrap()
            .contains("statically linked")
    );
    assert!(counter(root, "shim_loads") >= 3);
}

#[test]
fn a_policy_changes_while_a_process_runs() {
    if !prerequisites() {
        return;
    }
    let rootfs = Rootfs::new();
    let root = rootfs.path();
    let tmp = tempfile::tempdir().unwrap();
    let open = write(
        tmp.path(),
        "open.toml",
        "[files]\ndeny = [\"/etc/shadow\"]\n",
    );
    let closed = write(
        tmp.path(),
        "closed.toml",
        "[files]\ndeny = [\"/etc/secret\"]\n",
    );
    ok(&mut rampart(&[
        "probe",
        "inject",
        root,
        "--policy",
        open.to_str().unwrap(),
    ]));
    // One shell process reads /etc/secret through a redirection (its own open) over and over.
    let _c = rootfs.start(
        "echo $$ > /tmp/pid; while :; do if read x < /etc/secret; then echo \"$$ read $x\"; \
         else echo \"$$ denied\"; fi >> /tmp/out; sleep 0.1; done 2>/dev/null",
    );
    let lines = || rootfs.read("/tmp/out");
    assert!(
        wait_until(10, || lines().contains("read s3cret")),
        "{}",
        lines()
    );
    let pid = rootfs.read("/tmp/pid").trim().to_owned();
    let said = ok(&mut rampart(&[
        "probe",
        "policy",
        "set",
        root,
        closed.to_str().unwrap(),
    ]));
    assert!(said.contains("policy generation 2"), "{said}");
    assert!(
        wait_until(10, || lines().ends_with(&format!("{pid} denied\n"))),
        "{}",
        lines()
    );
    ok(&mut rampart(&[
        "probe",
        "policy",
        "set",
        root,
        open.to_str().unwrap(),
    ]));
    assert!(
        wait_until(10, || lines().ends_with(&format!("{pid} read s3cret\n"))),
        "{}",
        lines()
    );
    // The same process did all three.
    assert!(lines().lines().all(|l| l.starts_with(&pid)), "{}", lines());
    let shown = ok(&mut rampart(&["probe", "policy", "show", root]));
    assert!(
        shown.starts_with("# generation 3\n") && shown.contains("/etc/shadow"),
        "{shown}"
    );
    assert!(counter(root, "policy_loads") >= 3);
}

#[test]
fn a_dead_probe_leaves_the_container_running_and_counts_dropped_events() {
    if !prerequisites() {
        return;
    }
    let rootfs = Rootfs::new();
    let root = rootfs.path();
    let tmp = tempfile::tempdir().unwrap();
    let policy = write(tmp.path(), "p.toml", "[files]\ndeny = [\"/etc/shadow\"]\n");
    ok(&mut rampart(&[
        "probe",
        "inject",
        root,
        "--policy",
        policy.to_str().unwrap(),
    ]));
    let events = tmp.path().join("eve.json");
    let mut probe = probe(&events, root, &[]);
    let _c = rootfs.start(
        "sleep 0.5; n=0; while :; do n=$((n+1)); cat /etc/shadow 2>/dev/null || echo \"denied $n\" >> /tmp/out; sleep 0.1; done",
    );
    let id = format!("rootfs:{root}");
    let ours = || {
        eve(&events)
            .into_iter()
            .filter(|e| e["container"]["id"] == id.as_str())
            .count()
    };
    assert!(wait_until(10, || ours() >= 3), "{:?}", eve(&events));
    probe.signal("KILL");
    assert!(probe.wait_exit(5).is_some());
    let before = rootfs.read("/tmp/out").lines().count();
    let dropped = || counter(root, "events_dropped_no_reader");
    let dropped_at_kill = dropped();
    assert!(
        wait_until(10, || dropped() >= dropped_at_kill + 5),
        "dropped {}",
        dropped()
    );
    let after = rootfs.read("/tmp/out").lines().count();
    assert!(
        after >= before + 5,
        "the container stopped: {before} -> {after}"
    );
    assert!(
        rootfs
            .read("/tmp/out")
            .lines()
            .all(|l| l.starts_with("denied"))
    );
    let written = counter(root, "events_written");
    assert!(written >= 3 && written as usize >= ours(), "{written}");
}

#[test]
fn without_a_readable_policy_the_fallback_decides() {
    if !prerequisites() {
        return;
    }
    let rootfs = Rootfs::new();
    let root = rootfs.path();
    let tmp = tempfile::tempdir().unwrap();
    let policy = write(tmp.path(), "p.toml", "fallback = \"deny\"\n");
    ok(&mut rampart(&[
        "probe",
        "inject",
        root,
        "--policy",
        policy.to_str().unwrap(),
    ]));
    let run_cat = || rootfs.run("cat /etc/hostname; echo \"cat=$?\"");
    assert_eq!(run_cat(), "box\ncat=0\n");
    // A broken image, announced as a new generation: the fallback (deny) takes over.
    std::fs::write(rootfs.root.join(".rampart/policy"), b"not a policy").unwrap();
    let control = rootfs.root.join(".rampart/control");
    let mut page = std::fs::read(&control).unwrap();
    page[16] += 1;
    std::fs::write(&control, &page).unwrap();
    // Every open and execution is denied now: the shell cannot even start cat.
    let out = run_cat();
    assert!(
        out.contains("cat: Operation not permitted") && out.ends_with("cat=126\n"),
        "{out}"
    );
    assert!(counter(root, "policy_errors") >= 1);
    assert!(counter(root, "fallback_decisions") >= 1);
    // A good policy again, and all is well.
    ok(&mut rampart(&[
        "probe",
        "policy",
        "set",
        root,
        policy.to_str().unwrap(),
    ]));
    assert_eq!(run_cat(), "box\ncat=0\n");
}

#[test]
fn probe_injects_what_its_configuration_selects_and_remove_restores() {
    if !prerequisites() {
        return;
    }
    let rootfs = Rootfs::new();
    let root = rootfs.path();
    std::fs::write(rootfs.root.join("etc/ld.so.preload"), "# site preload\n").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "p.toml", "[files]\ndeny = [\"/etc/shadow\"]\n");
    let config = write(
        tmp.path(),
        "probe.toml",
        &format!(
            "host = \"test-node\"\n\n[[container]]\nrootfs = \"{root}\"\npolicy = \"p.toml\"\n"
        ),
    );
    // Running before the probe injects it: the first process is not hooked, later ones are.
    let _c =
        rootfs.start("sleep 2; cat /etc/shadow 2>/dev/null; echo \"cat=$?\" > /tmp/out; sleep 5");
    let events = tmp.path().join("eve.json");
    let _probe = probe(&events, root, &["--config", config.to_str().unwrap()]);
    assert!(
        wait_until(15, || rootfs.read("/tmp/out") == "cat=1\n"),
        "{}",
        rootfs.read("/tmp/out")
    );
    assert_eq!(
        rootfs.read("/etc/ld.so.preload"),
        "# site preload\n/.rampart/librampart_shim.so\n"
    );
    let id = format!("rootfs:{root}");
    let ours = || -> Vec<Value> {
        eve(&events)
            .into_iter()
            .filter(|e| e["container"]["id"] == id.as_str())
            .collect()
    };
    assert!(
        wait_until(10, || ours().iter().any(|e| e["event_type"] == "file")),
        "{:?}",
        eve(&events)
    );
    let all = ours();
    assert!(all.iter().all(|e| e["host"] == "test-node"), "{all:?}");
    assert!(
        all.iter().any(|e| e["hooked"] == false
            && e["reason"]
                .as_str()
                .unwrap()
                .contains("started before injection")),
        "{all:?}"
    );
    drop(_c);
    let said = ok(&mut rampart(&["probe", "remove", root]));
    assert!(said.contains("restored as it was"), "{said}");
    assert_eq!(rootfs.read("/etc/ld.so.preload"), "# site preload\n");
    assert!(!rootfs.root.join(".rampart").exists());
}

#[test]
fn bad_containers_and_files_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let fail = |args: &[&str]| {
        let o = output(&mut rampart(args));
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o.stderr));
        let err = text(&o.stderr);
        assert!(
            err.starts_with("rampart: error: ") && err.lines().count() == 1,
            "{err}"
        );
        err
    };
    let policy = write(tmp.path(), "p.toml", "[files]\ndeny = [\"/etc/shadow\"]\n");
    let p = policy.to_str().unwrap();
    let err = fail(&["probe", "policy", "set", "no-such-container-xyz", p]);
    assert!(
        err.contains("no running container named or with an id starting \"no-such-container-xyz\""),
        "{err}"
    );
    // A directory that was never injected.
    let dir = tmp.path().to_str().unwrap();
    let err = fail(&["probe", "stats", dir]);
    assert!(err.contains("is not protected (inject it first)"), "{err}");
    // A root without a dynamic loader cannot hold the shim.
    let err = fail(&["probe", "inject", dir, "--policy", p]);
    assert!(
        err.contains("no dynamic loader") && err.contains("--seccomp"),
        "{err}"
    );
    let bad = write(
        tmp.path(),
        "bad.toml",
        "mode = \"enforce\"\n[network]\nallow = [\"300.1.1.1\"]\n",
    );
    let err = fail(&["probe", "inject", dir, "--policy", bad.to_str().unwrap()]);
    assert!(
        err.contains("bad.toml:3: network.allow[0]: \"300.1.1.1\""),
        "{err}"
    );
    let config = write(
        tmp.path(),
        "probe.toml",
        "[[container]]\npolicy = \"missing.toml\"\n",
    );
    let err = fail(&[
        "probe",
        "watch",
        "--config",
        config.to_str().unwrap(),
        "--once",
    ]);
    assert!(err.contains("missing.toml: cannot read"), "{err}");
}
