//! `rampart bench shim`: what the shim and the seccomp supervisor add to each hooked call.
//!
//! A driver process (the `rampart` binary itself, `rampart bench shim-driver CASE N`) makes
//! one kind of call N times in a loop and prints the mean time per call: the thread's CPU time
//! (user and system; a shared machine's other processes do not count), or for `exec`, whose
//! work is in child processes, the wall clock. The harness runs the
//! driver in turn without the shim, with the shim (`LD_PRELOAD`) and under the supervisor
//! (`rampart run --seccomp`), round after round, so that all three see the same machine
//! weather, and reports medians and the median of the per-round differences. The policy is a
//! typical block list (`/etc/shadow`, `/root/**`, `/usr/bin/wget`, port 25), so every call
//! below is looked up and allowed:
//!
//! - `open-plain`: `openat` + `close` of `/etc/hostname`: no symbolic link on the way, so the
//!   path as written decides (the rules' trie is walked into `/etc`);
//! - `open-symlink`: the same through a symbolic link (`/dev/shm/...`), decided again on the
//!   resolved path;
//! - `open-denied`: `/etc/shadow`, denied, its event dropped (no probe reads the FIFO);
//! - `open-missing`: `/nonexistent`, which fails with `ENOENT` after one lookup in the kernel:
//!   the call the shim's own work weighs most in;
//! - `connect`: `connect` of a UDP socket to 127.0.0.1:9 (no handshake: the call itself);
//! - `exec`: `fork`, `execve("/bin/true")`, `wait`: the shim is loaded and set up in the new
//!   process too.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::policy::Policy;
use crate::run::Cleanup;
use crate::shimdir::ShimDir;

/// The policy every case runs under.
pub const POLICY: &str = r#"[files]
deny = ["/etc/shadow", "/root/**"]
[exec]
deny = ["/usr/bin/wget"]
[network]
deny = ["*:25"]
"#;

/// The cases, in report order, and whether the supervisor column applies.
pub const CASES: &[(&str, bool)] = &[
    ("open-plain", true),
    ("open-symlink", true),
    ("open-denied", false),
    ("open-missing", true),
    ("connect", true),
    ("exec", true),
];

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Unknown case name.
    #[error(
        "unknown case {0:?}: expected one of open-plain, open-symlink, open-denied, connect, exec"
    )]
    Case(String),
    /// A system call or a file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The driver did not print a figure.
    #[error("driver {case} ({how}): {message}")]
    Driver {
        /// The case.
        case: String,
        /// bare, shim or seccomp.
        how: &'static str,
        /// What went wrong.
        message: String,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BenchError {
    let what = what.into();
    move |source| BenchError::Io { what, source }
}

/// The symbolic link `open-symlink` opens (made by the harness in /dev/shm).
fn symlink_path(dir: &Path) -> PathBuf {
    dir.join("hostname-link")
}

/// Runs one case `n` times in this process and returns the mean ns per call: (CPU, wall).
/// `dir` holds the link for `open-symlink`.
pub fn driver(case: &str, n: u64, dir: &Path) -> Result<(f64, f64), BenchError> {
    let n = n.max(1);
    let c =
        |p: &Path| CString::new(p.as_os_str().as_encoded_bytes()).map_err(|e| io("path")(e.into()));
    match case {
        "open-plain" | "open-symlink" | "open-denied" | "open-missing" => {
            let path = match case {
                "open-plain" => c(Path::new("/etc/hostname"))?,
                "open-symlink" => c(&symlink_path(dir))?,
                "open-missing" => c(Path::new("/nonexistent"))?,
                _ => c(Path::new("/etc/shadow"))?,
            };
            let open = || {
                // SAFETY: path is a C string; the descriptor, if any, is closed at once.
                unsafe {
                    let fd = libc::openat(
                        libc::AT_FDCWD,
                        path.as_ptr(),
                        libc::O_RDONLY | libc::O_CLOEXEC,
                    );
                    if fd >= 0 {
                        libc::close(fd);
                    }
                    fd
                }
            };
            // The denied case opens nothing under the shim and /etc/shadow without it (as root);
            // the missing one never opens.
            if case != "open-denied" && case != "open-missing" && open() < 0 {
                return Err(io(format!("{case}: first open"))(
                    std::io::Error::last_os_error(),
                ));
            }
            time(n, open)
        }
        "connect" => {
            // SAFETY: a new UDP socket, connected over and over to the same address, closed
            // at the end; sockaddr_in is plain data.
            unsafe {
                let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
                if s < 0 {
                    return Err(io("socket")(std::io::Error::last_os_error()));
                }
                let mut sa: libc::sockaddr_in = std::mem::zeroed();
                sa.sin_family = libc::AF_INET as libc::sa_family_t;
                sa.sin_port = 9u16.to_be();
                sa.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
                let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
                let sap = &sa as *const libc::sockaddr_in as *const libc::sockaddr;
                if libc::connect(s, sap, len) != 0 {
                    return Err(io("connect")(std::io::Error::last_os_error()));
                }
                let r = time(n, || libc::connect(s, sap, len));
                libc::close(s);
                r
            }
        }
        "exec" => {
            let prog = c(Path::new("/bin/true"))?;
            let argv = [prog.as_ptr(), std::ptr::null()];
            let envp = environ_pointers();
            let envp_ptrs: Vec<*const libc::c_char> = envp
                .iter()
                .map(|e| e.as_ptr())
                .chain([std::ptr::null()])
                .collect();
            time(n, || {
                // SAFETY: the child only calls execve and _exit; argv and envp are prepared
                // before the fork and NULL-terminated.
                unsafe {
                    let pid = libc::fork();
                    if pid == 0 {
                        libc::execve(prog.as_ptr(), argv.as_ptr(), envp_ptrs.as_ptr());
                        libc::_exit(127);
                    }
                    let mut status = 0;
                    libc::waitpid(pid, &mut status, 0);
                    status
                }
            })
        }
        other => Err(BenchError::Case(other.to_owned())),
    }
}

fn environ_pointers() -> Vec<CString> {
    std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.into_encoded_bytes();
            kv.push(b'=');
            kv.extend_from_slice(v.as_encoded_bytes());
            CString::new(kv).ok()
        })
        .collect()
}

/// This thread's CPU time (user and system) in ns: unlike the wall clock, it does not count
/// the time the thread waits while other processes run, which on a shared machine is most of
/// the noise.
fn thread_cpu_ns() -> u128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

/// Mean ns per call of `f` over `n` calls, this thread's CPU time and the wall clock, after
/// n/10 (at least 3) calls of warm-up.
fn time<T>(n: u64, mut f: impl FnMut() -> T) -> Result<(f64, f64), BenchError> {
    for _ in 0..(n / 10).max(3) {
        std::hint::black_box(f());
    }
    let (cpu, wall) = (thread_cpu_ns(), Instant::now());
    for _ in 0..n {
        std::hint::black_box(f());
    }
    let n = n as f64;
    Ok((
        (thread_cpu_ns() - cpu) as f64 / n,
        wall.elapsed().as_nanos() as f64 / n,
    ))
}

/// How the driver ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// No shim, no supervisor.
    Bare,
    /// With the shim preloaded.
    Shim,
    /// Under `rampart run --seccomp`.
    Seccomp,
}

impl How {
    fn name(self) -> &'static str {
        match self {
            How::Bare => "bare",
            How::Shim => "shim",
            How::Seccomp => "seccomp",
        }
    }
}

/// One case's figures: medians over rounds, in ns per call. The shim is measured in the
/// calling thread's CPU time (its work is in that thread; other processes' time is not
/// counted), the supervisor and `exec` in wall-clock time (their work is in other processes).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The case.
    pub case: &'static str,
    /// Calls per run.
    pub calls: u64,
    /// Without the shim (CPU; wall for exec).
    pub bare: f64,
    /// With the shim (CPU; wall for exec).
    pub shim: f64,
    /// Median over rounds of (shim - bare).
    pub shim_added: f64,
    /// Without the shim, wall clock.
    pub bare_wall: f64,
    /// Under the supervisor, wall clock, where measured.
    pub seccomp: Option<f64>,
    /// Median over rounds of (seccomp - bare), wall clock.
    pub seccomp_added: Option<f64>,
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// The `rampart` binary (driver and supervisor).
    pub exe: PathBuf,
    /// The shim library.
    pub library: PathBuf,
    /// Rounds (each runs every variant once).
    pub rounds: usize,
    /// Calls per run for the cheap cases (exec runs a fiftieth of it).
    pub calls: u64,
    /// Only cases whose name contains this.
    pub only: Option<String>,
    /// Where to make the shim directory and the link (tmpfs: /dev/shm).
    pub scratch: PathBuf,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Runs the benchmark; `each` gets every row as it is done.
pub fn run(opts: &BenchOptions, mut each: impl FnMut(&Row)) -> Result<Vec<Row>, BenchError> {
    let dir = opts
        .scratch
        .join(format!("rampart-bench-shim.{}", std::process::id()));
    let _cleanup = Cleanup(dir.clone());
    let policy = Policy::parse(POLICY, Path::new("bench policy")).expect("the bench policy parses");
    let policy_file = dir.join("policy.bench.toml");
    let (shim_dir, _) = ShimDir::create(&dir, &opts.library, &policy, POLICY)
        .map_err(|e| io("shim directory")(std::io::Error::other(e)))?;
    std::fs::write(&policy_file, POLICY).map_err(io("policy file"))?;
    let link = symlink_path(&dir);
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink("/etc/hostname", &link).map_err(io("symlink"))?;

    let mut rows = Vec::new();
    for &(case, supervised) in CASES {
        if opts
            .only
            .as_ref()
            .is_some_and(|o| !case.contains(o.as_str()))
        {
            continue;
        }
        let calls = if case == "exec" {
            (opts.calls / 50).max(20)
        } else {
            opts.calls
        };
        // [bare, shim, seccomp] x [cpu, wall]
        let mut figures: [[Vec<f64>; 2]; 3] = Default::default();
        let mut hows = vec![How::Bare, How::Shim];
        if supervised {
            hows.push(How::Seccomp);
        }
        for _ in 0..opts.rounds.max(1) {
            for &how in &hows {
                let library = shim_dir.library();
                let (cpu, wall) = run_driver(opts, &library, &policy_file, &dir, case, calls, how)?;
                figures[how as usize][0].push(cpu);
                figures[how as usize][1].push(wall);
            }
        }
        // The shim's figure is CPU time, except for exec (its work is in the children).
        let m = usize::from(case == "exec");
        let diff = |i: usize, m: usize| -> Vec<f64> {
            figures[i][m]
                .iter()
                .zip(&figures[0][m])
                .map(|(x, b)| x - b)
                .collect()
        };
        let row = Row {
            case,
            calls,
            bare: median(&mut figures[0][m].clone()),
            shim: median(&mut figures[1][m].clone()),
            shim_added: median(&mut diff(1, m)),
            bare_wall: median(&mut figures[0][1].clone()),
            seccomp: supervised.then(|| median(&mut figures[2][1].clone())),
            seccomp_added: supervised.then(|| median(&mut diff(2, 1))),
        };
        each(&row);
        rows.push(row);
    }
    Ok(rows)
}

fn run_driver(
    opts: &BenchOptions,
    library: &Path,
    policy: &Path,
    dir: &Path,
    case: &str,
    calls: u64,
    how: How,
) -> Result<(f64, f64), BenchError> {
    let n = calls.to_string();
    let driver_args = [
        "bench",
        "shim-driver",
        case,
        &n,
        "--dir",
        dir.to_str().unwrap_or("/"),
    ];
    let mut cmd = match how {
        How::Bare | How::Shim => {
            let mut c = Command::new(&opts.exe);
            c.args(driver_args);
            c
        }
        How::Seccomp => {
            let mut c = Command::new(&opts.exe);
            c.args(["run", "--seccomp", "--eve", "/dev/null", "--policy"])
                .arg(policy)
                .arg("--")
                .arg(&opts.exe)
                .args(driver_args);
            c
        }
    };
    cmd.env_remove("LD_PRELOAD")
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    if how == How::Shim {
        cmd.env("LD_PRELOAD", library);
    }
    let out = cmd.output().map_err(io("starting the driver"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let fail = |message: String| BenchError::Driver {
        case: case.to_owned(),
        how: how.name(),
        message,
    };
    if !out.status.success() {
        return Err(fail(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let mut figures = text.split_whitespace().map(str::parse::<f64>);
    match (figures.next(), figures.next()) {
        (Some(Ok(cpu)), Some(Ok(wall))) => Ok((cpu, wall)),
        _ => Err(fail(format!("printed {:?}", text.trim()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_driver_measures_every_case_here() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc/hostname", symlink_path(dir.path())).unwrap();
        for (case, _) in CASES {
            let (cpu, wall) = driver(case, 200, dir.path()).unwrap();
            assert!(
                cpu > 0.0 && wall > 0.0 && wall.is_finite(),
                "{case}: {cpu} {wall}"
            );
        }
        assert!(matches!(
            driver("nothing", 1, dir.path()),
            Err(BenchError::Case(_))
        ));
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&mut []).is_nan());
    }

    #[test]
    fn the_policy_parses() {
        assert_eq!(
            Policy::parse(POLICY, Path::new("p")).unwrap().rule_count(),
            4
        );
    }
}
