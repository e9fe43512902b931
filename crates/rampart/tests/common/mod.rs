//! Helpers shared by the container tests: the binaries under test, policies and EVE files,
//! a minimal container root directory, and processes that are killed when a test ends.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

pub const RAMPART: &str = env!("CARGO_BIN_EXE_rampart");

/// `librampart_shim.so`, built for this test run (`cargo build -p rampart-shim`, which is quick
/// when `cargo test --workspace` already built it).
pub fn shim() -> &'static Path {
    static SHIM: OnceLock<PathBuf> = OnceLock::new();
    SHIM.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .args(["build", "-q", "-p", "rampart-shim", "--message-format=json"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stderr(Stdio::inherit())
            .output()
            .expect("run cargo build -p rampart-shim");
        assert!(out.status.success(), "cargo build -p rampart-shim failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|m| m["reason"] == "compiler-artifact")
            .flat_map(|m| m["filenames"].as_array().cloned().unwrap_or_default())
            .filter_map(|f| f.as_str().map(PathBuf::from))
            .find(|f| f.file_name().is_some_and(|n| n == "librampart_shim.so"))
            .expect("cargo reported no librampart_shim.so")
    })
}

/// `rampart ARGS`, with the shim it should use and no log settings from outside.
pub fn rampart(args: &[&str]) -> Command {
    let mut c = Command::new(RAMPART);
    c.args(args)
        .env("RAMPART_SHIM", shim())
        .env_remove("RUST_LOG")
        .env_remove("RUST_BACKTRACE")
        .env_remove("LD_PRELOAD")
        .stdin(Stdio::null());
    c
}

/// Runs a command to completion, capturing its output.
pub fn output(cmd: &mut Command) -> Output {
    cmd.output().expect("start the command")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Every JSON line of an EVE file (none if it does not exist).
pub fn eve(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad EVE line {l:?}: {e}")))
        .collect()
}

/// Polls `f` every 50 ms for up to `secs` seconds.
pub fn wait_until(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| text(&o.stdout).trim() == "0")
}

pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Why this machine cannot run a test that needs `root` and these tools, if it cannot. Under
/// CI (`CI` set) a missing prerequisite fails the test instead.
pub fn missing(needs_root: bool, tools: &[&str]) -> Option<String> {
    let why = if needs_root && !is_root() {
        Some("not running as root".to_owned())
    } else {
        tools
            .iter()
            .find(|t| !have(t))
            .map(|t| format!("`{t}` is not installed (run scripts/setup)"))
    };
    if let Some(w) = &why {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run this test: {w}"
        );
        println!("skipped: {w}");
    }
    why
}

/// A child process killed (with its process group) when dropped.
pub struct Running(pub Child);

impl Running {
    pub fn spawn(cmd: &mut Command) -> Running {
        use std::os::unix::process::CommandExt;
        Running(cmd.process_group(0).spawn().expect("start the process"))
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Sends `signal` to the process alone.
    pub fn signal(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status();
    }

    /// Waits up to `secs` for it to exit.
    pub fn wait_exit(&mut self, secs: u64) -> Option<std::process::ExitStatus> {
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Ok(Some(s)) = self.0.try_wait() {
                return Some(s);
            }
            if Instant::now() >= end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.pid())])
                .status();
            let _ = self.0.wait();
        }
    }
}

/// A minimal container root: `sh`, `cat`, `sleep` and `env` (dynamically linked, with the
/// libraries they and the shim need), a static `busybox`, `/etc/hostname`, `/etc/shadow` and
/// `/etc/secret`, `/dev/null`, `/proc` and `/tmp`.
pub struct Rootfs {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
}

impl Rootfs {
    pub fn new() -> Rootfs {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("rootfs");
        for d in [
            "bin",
            "dev",
            "etc",
            "proc",
            "tmp",
            "lib64",
            "lib/x86_64-linux-gnu",
        ] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        // /dev/null for the shell's redirections (mknod needs root, as the container does).
        if is_root() {
            let null = root.join("dev/null");
            assert!(
                output(
                    Command::new("mknod")
                        .args(["-m", "666"])
                        .arg(&null)
                        .args(["c", "1", "3"])
                )
                .status
                .success()
            );
        }
        let bins = ["/bin/sh", "/bin/cat", "/bin/sleep", "/usr/bin/env"];
        for b in bins.iter().chain(&["/bin/busybox"]) {
            let name = Path::new(b).file_name().unwrap();
            std::fs::copy(b, root.join("bin").join(name)).unwrap_or_else(|e| panic!("{b}: {e}"));
        }
        let mut ldd = Command::new("ldd");
        ldd.args(bins).arg(shim());
        let libs = text(&output(&mut ldd).stdout);
        for lib in libs
            .split_whitespace()
            .filter(|w| w.starts_with('/') && !w.ends_with(':'))
        {
            let name = Path::new(lib).file_name().unwrap();
            let to = if name.to_string_lossy().starts_with("ld-linux") {
                root.join("lib64").join(name)
            } else {
                root.join("lib/x86_64-linux-gnu").join(name)
            };
            std::fs::copy(lib, to).unwrap_or_else(|e| panic!("{lib}: {e}"));
        }
        std::fs::write(root.join("etc/hostname"), "box\n").unwrap();
        std::fs::write(root.join("etc/shadow"), "root:secret-hash:::\n").unwrap();
        std::fs::write(root.join("etc/secret"), "s3cret\n").unwrap();
        std::fs::set_permissions(
            root.join("tmp"),
            std::os::unix::fs::PermissionsExt::from_mode(0o1777),
        )
        .unwrap();
        Rootfs { _dir: dir, root }
    }

    pub fn path(&self) -> &str {
        self.root.to_str().unwrap()
    }

    /// Starts `/bin/sh -c SCRIPT` as a container: new mount and pid namespaces, its own /proc,
    /// this directory as its root.
    pub fn start(&self, script: &str) -> Running {
        Running::spawn(
            Command::new("unshare")
                .args([
                    "--mount",
                    "--pid",
                    "--fork",
                    "--kill-child",
                    "--mount-proc=/proc",
                ])
                .arg(format!("--root={}", self.path()))
                .args(["/bin/sh", "-c", script])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
    }

    /// Runs `/bin/sh -c SCRIPT` as a container to completion (at most 20 s); returns its
    /// standard output and error together.
    pub fn run(&self, script: &str) -> String {
        let o = output(
            Command::new("timeout")
                .args([
                    "20",
                    "unshare",
                    "--mount",
                    "--pid",
                    "--fork",
                    "--kill-child",
                    "--mount-proc=/proc",
                ])
                .arg(format!("--root={}", self.path()))
                .args(["/bin/sh", "-c", &format!("exec 2>&1; {script}")])
                .stdin(Stdio::null()),
        );
        text(&o.stdout)
    }

    /// A file of the container, read from the host.
    pub fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.root.join(path.trim_start_matches('/'))).unwrap_or_default()
    }
}
