//! `rampart run` with real processes: the shim (LD_PRELOAD) holding a shell and the programs
//! it starts to a policy (denied and allowed opens, executions and connections, path tricks,
//! threads, fork then exec, audit mode), and the seccomp supervisor holding a static binary.
//! Each test reads the EVE lines the run wrote.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;

use common::{eve, missing, output, rampart, text, write};
use serde_json::Value;

/// Runs `rampart run --policy POLICY --eve EVE [extra] -- ARGS`; returns (status, stdout,
/// stderr, events).
fn run(
    dir: &Path,
    policy: &str,
    extra: &[&str],
    args: &[&str],
) -> (i32, String, String, Vec<Value>) {
    let p = write(dir, "policy.toml", policy);
    let e = dir.join("eve.json");
    let _ = std::fs::remove_file(&e);
    let mut a = vec![
        "run",
        "--policy",
        p.to_str().unwrap(),
        "--eve",
        e.to_str().unwrap(),
    ];
    a.extend_from_slice(extra);
    a.push("--");
    a.extend_from_slice(args);
    let o = output(&mut rampart(&a));
    (
        o.status.code().unwrap_or(-1),
        text(&o.stdout),
        text(&o.stderr),
        eve(&e),
    )
}

fn of_type<'a>(events: &'a [Value], t: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event_type"] == t).collect()
}

#[test]
fn a_shell_is_denied_the_shadow_file_and_allowed_the_hostname() {
    let tmp = tempfile::tempdir().unwrap();
    let hostname = std::fs::read_to_string("/etc/hostname").unwrap();
    let (code, out, err, events) = run(
        tmp.path(),
        "[files]\ndeny = [\"/etc/shadow\"]\n",
        &[],
        &[
            "sh",
            "-c",
            "cat /etc/hostname; cat /etc/shadow; echo \"cat=$?\"",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with(&hostname), "{out}");
    assert!(out.ends_with("cat=1\n"), "{out}");
    assert!(err.contains("cat: /etc/shadow: Permission denied"), "{err}");
    let files = of_type(&events, "file");
    assert_eq!(files.len(), 1, "{events:?}");
    let e = files[0];
    assert_eq!(e["file"]["path"], "/etc/shadow");
    assert_eq!(e["file"]["access"], "read");
    assert_eq!(
        (e["decision"].as_str(), e["action"].as_str()),
        (Some("deny"), Some("blocked"))
    );
    assert_eq!(e["errno"], "EACCES");
    assert_eq!(e["mode"], "enforce");
    assert_eq!(e["rule"], "files.deny[0] /etc/shadow");
    assert!(e["executable"].as_str().unwrap().ends_with("/cat"), "{e}");
    assert!(e["pid"].as_i64().unwrap() > 1);
    assert_eq!(e["policy_generation"], 1);
    if common::is_root() {
        // Without the shim, root reads it: the denial above was the shim's.
        let o = output(
            std::process::Command::new("cat")
                .arg("/etc/shadow")
                .stdout(std::process::Stdio::null()),
        );
        assert!(o.status.success());
    }
}

#[test]
fn a_forbidden_program_is_not_executed() {
    let tmp = tempfile::tempdir().unwrap();
    let marker = tmp.path().join("ran");
    let prog = write(
        tmp.path(),
        "forbidden",
        &format!("#!/bin/sh\ntouch {}\n", marker.display()),
    );
    std::fs::set_permissions(&prog, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let policy = format!("[exec]\ndeny = [\"{}\"]\n", prog.display());
    let dir = tmp.path().to_str().unwrap();
    // By path (execve), through env (execvp with a path) and by name along PATH (execvp).
    let script = format!(
        "{p}; echo \"direct=$?\"; env {p}; echo \"env=$?\"; PATH={dir}:$PATH; forbidden; echo \"path=$?\"",
        p = prog.display()
    );
    let (code, out, err, events) = run(tmp.path(), &policy, &[], &["sh", "-c", &script]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("direct=126") && out.contains("env=126") && out.contains("path=126"),
        "{out}\n{err}"
    );
    assert!(err.contains("Operation not permitted"), "{err}");
    assert!(!marker.exists(), "the forbidden program ran");
    let procs = of_type(&events, "process");
    assert!(procs.len() >= 3, "{events:?}");
    for e in &procs {
        assert_eq!(e["process"]["path"], prog.to_str().unwrap());
        assert_eq!(
            (e["decision"].as_str(), e["errno"].as_str()),
            (Some("deny"), Some("EPERM"))
        );
    }
    assert!(
        procs
            .iter()
            .any(|e| e["executable"].as_str().unwrap().ends_with("/env"))
    );
    assert!(procs.iter().any(|e| e["process"]["argv0"] == "forbidden"));
}

#[test]
fn a_connection_to_a_forbidden_port_is_refused() {
    if missing(false, &["bash"]).is_some() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let denied = TcpListener::bind("127.0.0.1:0").unwrap();
    let allowed = TcpListener::bind("127.0.0.1:0").unwrap();
    let (dp, ap) = (
        denied.local_addr().unwrap().port(),
        allowed.local_addr().unwrap().port(),
    );
    let policy = format!("[network]\ndeny = [\"127.0.0.1:{dp}\"]\n");
    let script = format!(
        "echo one > /dev/tcp/127.0.0.1/{dp}; echo \"denied=$?\"; echo two > /dev/tcp/127.0.0.1/{ap}; echo \"allowed=$?\""
    );
    let (code, out, err, events) = run(tmp.path(), &policy, &[], &["bash", "-c", &script]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("denied=1") && out.contains("allowed=0"),
        "{out}\n{err}"
    );
    assert!(err.contains("Connection refused"), "{err}");
    denied.set_nonblocking(true).unwrap();
    assert!(denied.accept().is_err(), "the denied port got a connection");
    let (mut conn, _) = allowed.accept().unwrap();
    let mut got = String::new();
    conn.read_to_string(&mut got).unwrap();
    assert_eq!(got, "two\n");
    let conns = of_type(&events, "connection");
    assert_eq!(conns.len(), 1, "{events:?}");
    let e = conns[0];
    assert_eq!(
        (e["dest_ip"].as_str(), e["dest_port"].as_u64()),
        (Some("127.0.0.1"), Some(u64::from(dp)))
    );
    assert_eq!(e["connection"]["family"], "inet");
    assert_eq!(e["errno"], "ECONNREFUSED");
    assert_eq!(e["rule"], format!("network.deny[0] 127.0.0.1:{dp}"));
}

#[test]
fn path_tricks_are_seen_through() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path().canonicalize().unwrap();
    let etc = t.join("etc");
    std::fs::create_dir(&etc).unwrap();
    let secret = write(&etc, "secret", "s3cret\n");
    std::os::unix::fs::symlink(&secret, t.join("link")).unwrap();
    std::os::unix::fs::symlink(&etc, t.join("dirlink")).unwrap();
    let t_s = t.to_str().unwrap();
    let policy = format!("[files]\ndeny = [\"{t_s}/etc/**\"]\n");
    // Each line must fail; none may print the secret or create the file.
    let script = format!(
        "cat {t_s}/etc/../etc/secret; cat {t_s}/etc/./secret
         cd {t_s}/etc && cat secret; cd / && cat .{t_s}/etc/secret
         cd {t_s} && cat link; cat dirlink/secret; cat {t_s}/link
         echo overwritten > {t_s}/link; echo created > {t_s}/dirlink/new
         echo done"
    );
    let (code, out, err, events) = run(&t, &policy, &[], &["sh", "-c", &script]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "done\n", "{err}");
    assert_eq!(err.matches("Permission denied").count(), 9, "{err}");
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "s3cret\n");
    assert!(
        !etc.join("new").exists(),
        "created through a linked directory"
    );
    let files = of_type(&events, "file");
    assert_eq!(files.len(), 9, "{events:?}");
    let resolved: Vec<&str> = files
        .iter()
        .filter_map(|e| e["file"]["resolved"].as_str())
        .collect();
    let secret_s = secret.to_str().unwrap();
    // Four were caught as written, five after following a link.
    assert_eq!(
        resolved.iter().filter(|r| **r == secret_s).count(),
        4,
        "{files:?}"
    );
    assert!(
        resolved.contains(&etc.join("new").to_str().unwrap()),
        "{files:?}"
    );
    assert!(
        files.iter().any(|e| e["file"]["access"] == "write+create"),
        "{files:?}"
    );
    // A file outside the denied directory is still readable through a link.
    let ok = write(&t, "ok", "fine\n");
    std::os::unix::fs::symlink(&ok, t.join("oklink")).unwrap();
    let (_, out, err, _) = run(
        &t,
        &policy,
        &[],
        &["cat", t.join("oklink").to_str().unwrap()],
    );
    assert_eq!(out, "fine\n", "{err}");
}

#[test]
fn a_threaded_program_is_held_in_every_thread() {
    if missing(false, &["python3"]).is_some() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let secret = write(tmp.path(), "secret", "s\n");
    let fine = write(tmp.path(), "fine", "f\n");
    let policy = format!("[files]\ndeny = [\"{}\"]\n", secret.display());
    let py = format!(
        r#"
import threading
results = []
def work():
    denied = opened = 0
    for _ in range(100):
        try:
            open({s:?}).read(); 
        except PermissionError:
            denied += 1
        opened += len(open({f:?}).read()) == 2
    results.append((denied, opened))
threads = [threading.Thread(target=work) for _ in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
print(sum(d for d, _ in results), sum(o for _, o in results))
"#,
        s = secret.to_str().unwrap(),
        f = fine.to_str().unwrap()
    );
    let (code, out, err, events) = run(tmp.path(), &policy, &[], &["python3", "-c", &py]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "800 800", "{err}");
    let dropped: usize = err
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .find(|w| w[1] == "events")
        .and_then(|w| w[0].parse().ok())
        .unwrap_or(0);
    let files = of_type(&events, "file");
    assert_eq!(files.len() + dropped, 800, "{err}");
    assert!(
        files
            .iter()
            .all(|e| e["file"]["path"] == secret.to_str().unwrap())
    );
}

#[test]
fn fork_then_exec() {
    if missing(false, &["python3"]).is_some() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let secret = write(tmp.path(), "secret", "s\n");
    let policy = format!(
        "[files]\ndeny = [\"{}\"]\n[exec]\ndeny = [\"/usr/bin/id\"]\n",
        secret.display()
    );
    let py = format!(
        r#"
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execv("/usr/bin/id", ["id"])
    except PermissionError:
        print("child: id denied", flush=True)
    os.execv("/bin/cat", ["cat", {s:?}])
_, status = os.waitpid(pid, 0)
print("child exit", os.waitstatus_to_exitcode(status), flush=True)
try:
    open({s:?})
except PermissionError:
    print("parent: denied", flush=True)
"#,
        s = secret.to_str().unwrap()
    );
    let (code, out, err, events) = run(tmp.path(), &policy, &[], &["python3", "-c", &py]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out, "child: id denied\nchild exit 1\nparent: denied\n",
        "{err}"
    );
    let procs = of_type(&events, "process");
    assert_eq!(procs.len(), 1, "{events:?}");
    assert_eq!(procs[0]["process"]["path"], "/usr/bin/id");
    let files = of_type(&events, "file");
    assert_eq!(files.len(), 2, "{events:?}");
    assert!(
        files
            .iter()
            .any(|e| e["executable"].as_str().unwrap().ends_with("/cat"))
    );
    assert!(
        files
            .iter()
            .any(|e| e["executable"].as_str().unwrap().contains("python3"))
    );
}

#[test]
fn audit_mode_reports_and_lets_through() {
    let tmp = tempfile::tempdir().unwrap();
    let secret = write(tmp.path(), "secret", "s3cret\n");
    let policy = format!(
        "mode = \"audit\"\naudit_rate = 1000\n[files]\ndeny = [\"{}\"]\n",
        secret.display()
    );
    let script = format!("cat {}; cat /etc/hostname >/dev/null", secret.display());
    let (code, out, err, events) = run(tmp.path(), &policy, &[], &["sh", "-c", &script]);
    assert_eq!((code, out.as_str()), (0, "s3cret\n"), "{err}");
    let denied: Vec<&Value> = events.iter().filter(|e| e["decision"] == "deny").collect();
    assert_eq!(denied.len(), 1, "{events:?}");
    assert_eq!(
        (denied[0]["action"].as_str(), denied[0]["mode"].as_str()),
        (Some("allowed"), Some("audit"))
    );
    assert!(denied[0].get("errno").is_none());
    // Allowed calls are reported too in audit mode: the executions of cat, the other open.
    let allowed = |t: &str| {
        events
            .iter()
            .any(|e| e["event_type"] == t && e["decision"] == "allow" && e["action"] == "allowed")
    };
    assert!(allowed("process") && allowed("file"), "{events:?}");
    assert!(
        events.iter().any(|e| e["file"]["path"] == "/etc/hostname"),
        "{events:?}"
    );
}

#[test]
fn a_static_binary_is_held_by_the_seccomp_supervisor() {
    if missing(false, &["busybox"]).is_some() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let secret = write(tmp.path(), "secret", "s3cret\n");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let s = secret.to_str().unwrap();
    let policy = format!(
        "[files]\ndeny = [\"{s}\"]\n[exec]\ndeny = [\"/usr/bin/id\"]\n[network]\ndeny = [\"127.0.0.1:{port}\"]\n"
    );
    let script = format!(
        "cat {s}; echo \"cat=$?\"; cat /etc/hostname >/dev/null; echo \"hostname=$?\"; /usr/bin/id; echo \"id=$?\"; echo x | nc 127.0.0.1 {port}; echo \"nc=$?\""
    );
    // Through the shim, busybox is not held: rampart says so, and the file is read.
    let (_, out, err, _) = run(tmp.path(), &policy, &[], &["busybox", "cat", s]);
    assert!(err.contains("statically linked"), "{err}");
    assert_eq!(out, "s3cret\n");
    // Under the supervisor, it is.
    let (code, out, err, events) = run(
        tmp.path(),
        &policy,
        &["--seccomp"],
        &["busybox", "sh", "-c", &script],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("cat=1")
            && out.contains("hostname=0")
            && out.contains("id=126")
            && out.contains("nc=1"),
        "{out}\n{err}"
    );
    assert!(!out.contains("s3cret"));
    listener.set_nonblocking(true).unwrap();
    assert!(
        listener.accept().is_err(),
        "the denied port got a connection"
    );
    let kinds: Vec<&str> = events
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert_eq!(kinds, ["file", "process", "connection"], "{events:?}");
    assert!(events.iter().all(|e| e["action"] == "blocked"));
    assert_eq!(events[0]["file"]["path"], s);
    assert_eq!(events[1]["errno"], "EPERM");
    assert_eq!(events[2]["dest_port"], u64::from(port));
}

#[test]
fn a_bad_policy_is_a_usage_level_error_with_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, _, err, _) = run(
        tmp.path(),
        "[files]\ndeny = [\"etc/shadow\"]\n",
        &[],
        &["true"],
    );
    assert_eq!(code, 1);
    assert!(
        err.starts_with("rampart: error: ") && err.contains("policy.toml:2: files.deny[0]"),
        "{err}"
    );
}

#[test]
fn fopen_creat_and_posix_spawn_are_held() {
    if missing(false, &["python3"]).is_some() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let secret = write(tmp.path(), "secret", "s\n");
    let fine = write(tmp.path(), "fine", "f\n");
    let locked = tmp.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    let policy = format!(
        "[files]\ndeny = [\"{}\", {{ path = \"{}/**\", access = \"create\" }}]\n[exec]\ndeny = [\"/usr/bin/id\"]\n",
        secret.display(),
        locked.display()
    );
    // Through libc itself (ctypes), as a C program calls them.
    let py = format!(
        r#"
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.fopen.restype = ctypes.c_void_p
print("fopen secret", libc.fopen({s:?}.encode(), b"r") is None, os.strerror(ctypes.get_errno()))
f = libc.fopen({f:?}.encode(), b"re")
print("fopen fine", f is not None)
print("creat locked", libc.creat({l:?}.encode(), 0o644), os.strerror(ctypes.get_errno()))
try:
    os.posix_spawn("/usr/bin/id", ["id"], dict(os.environ))
    print("spawned id")
except PermissionError:
    print("posix_spawn id denied")
"#,
        s = secret.to_str().unwrap(),
        f = fine.to_str().unwrap(),
        l = locked.join("new").to_str().unwrap()
    );
    let (code, out, err, events) = run(tmp.path(), &policy, &[], &["python3", "-c", &py]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "fopen secret True Permission denied\nfopen fine True\ncreat locked -1 Permission denied\nposix_spawn id denied\n",
        "{err}"
    );
    assert!(!locked.join("new").exists());
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["event_type"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("file", "blocked"),
            ("file", "blocked"),
            ("process", "blocked")
        ],
        "{events:?}"
    );
    assert_eq!(events[1]["file"]["access"], "write+create");
}

/// Opens through links of every kind, with and without the shim (under a policy that allows
/// them all but is not trivial): the shim must not change any answer or any effect.
#[test]
fn allowed_opens_behave_as_without_the_shim() {
    if missing(false, &["python3"]).is_some() {
        return;
    }
    let py = r#"
import os, sys, errno, shutil
base = sys.argv[1]
def fresh():
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base + "/d/sub")
    open(base + "/d/file", "w").write("data")
    os.symlink("file", base + "/d/rel")                 # relative, same directory
    os.symlink(base + "/d/file", base + "/abs")         # absolute
    os.symlink("rel", base + "/d/chain")                # link to a link
    os.symlink("../file", base + "/d/sub/up")           # target with ..
    os.symlink(base + "/d", base + "/dirlink")          # linked directory
    os.symlink("missing", base + "/d/dangling")         # dangling
    os.symlink("loop2", base + "/d/loop1"); os.symlink("loop1", base + "/d/loop2")
cases = [
    ("d/rel", os.O_RDONLY), ("abs", os.O_RDONLY), ("d/chain", os.O_RDONLY),
    ("d/sub/up", os.O_RDONLY), ("dirlink/file", os.O_RDONLY), ("dirlink/rel", os.O_RDONLY),
    ("d/rel", os.O_RDONLY | os.O_NOFOLLOW), ("d/rel", os.O_WRONLY | os.O_APPEND),
    ("d/rel", os.O_WRONLY | os.O_CREAT | os.O_EXCL), ("d/dangling", os.O_RDONLY),
    ("d/dangling", os.O_WRONLY | os.O_CREAT), ("d/loop1", os.O_RDONLY),
    ("d/rel", os.O_RDONLY | os.O_DIRECTORY), ("dirlink", os.O_RDONLY | os.O_DIRECTORY),
    ("d/nothere", os.O_RDONLY), ("d/file/x", os.O_RDONLY),
]
for rel, flags in cases:
    fresh()
    try:
        fd = os.open(base + "/" + rel, flags, 0o600)
        got = "ok " + os.readlink("/proc/self/fd/%d" % fd).replace(base, "B")
        os.close(fd)
    except OSError as e:
        got = errno.errorcode[e.errno]
    made = sorted(os.listdir(base + "/d"))
    print(rel, flags, got, made)
"#;
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("t");
    let bare =
        output(std::process::Command::new("python3").args(["-c", py, base.to_str().unwrap()]));
    assert!(bare.status.success(), "{}", text(&bare.stderr));
    let (code, shim, err, events) = run(
        tmp.path(),
        "[files]\ndeny = [\"/nonexistent/**\"]\n",
        &[],
        &["python3", "-c", py, base.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(shim, text(&bare.stdout));
    assert!(
        shim.contains("ELOOP") && shim.contains("EEXIST") && shim.contains("ok B/d/missing"),
        "{shim}"
    );
    assert!(events.is_empty(), "{events:?}");
}
