//! `rampart run`: one command (and its children) under a policy, through the shim
//! (`LD_PRELOAD`) or through the seccomp supervisor.
//!
//! With the shim, a private shim directory is made in `/dev/shm` (or `$TMPDIR`; see
//! [`scratch_base`]), the
//! command is started with the library preloaded, and a reader thread turns the FIFO's records
//! into EVE lines as they come. When the command exits, what is left in the FIFO is read, the
//! counters are collected and the directory is removed. A process the command leaves running
//! keeps its policy but its later events are not read.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use shim_abi::pages::Counter;

use crate::elf::{self, Linkage};
use crate::eve::{self, EveSink};
use crate::pipe::EventPipe;
use crate::policy::Policy;
use crate::shimdir::{ShimDir, ShimDirError};
use crate::sys;

/// Why a command could not be run under a policy.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The shim directory could not be made.
    #[error(transparent)]
    ShimDir(#[from] ShimDirError),
    /// An I/O error, with what was being done.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// No command was given.
    #[error("no command to run")]
    NoCommand,
    /// The policy could not be compiled.
    #[error("compiling the policy: {0}")]
    Compile(#[from] shim_abi::build::BuildError),
    /// The seccomp filter could not be installed in the command.
    #[error(
        "installing the seccomp filter in {program}: {source} (seccomp user notification needs Linux 5.5 or later)"
    )]
    Seccomp {
        /// The command.
        program: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> RunError {
    let what = what.into();
    move |source| RunError::Io { what, source }
}

/// What `rampart run` needs.
pub struct RunOptions {
    /// The policy.
    pub policy: Policy,
    /// Its source text (kept beside the image).
    pub source: String,
    /// The command and its arguments.
    pub command: Vec<OsString>,
    /// Where EVE lines go.
    pub eve: Box<dyn Write + Send>,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("policy", &self.policy)
            .field("command", &self.command)
            .finish_non_exhaustive()
    }
}

/// How it went.
#[derive(Debug)]
pub struct RunOutcome {
    /// The command's exit status.
    pub status: ExitStatus,
    /// Events written as EVE lines.
    pub events: u64,
    /// The shim's counters (empty under the supervisor).
    pub counters: Vec<(Counter, u64)>,
}

/// Finds `program` the way `execvp` would (a name without `/` along `PATH`).
pub fn find_program(program: &Path) -> Option<PathBuf> {
    if program.as_os_str().to_string_lossy().contains('/') {
        return Some(program.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/bin:/usr/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// A warning to print when the shim cannot hold `program` (it is static), if so.
pub fn static_warning(program: &Path) -> Option<String> {
    let found = find_program(program)?;
    match elf::file_linkage(&found) {
        Ok(Linkage::Static) => Some(format!(
            "{} is statically linked: the shim cannot hold it (use --seccomp)",
            found.display()
        )),
        _ => None,
    }
}

/// Where a run's throwaway shim directory can go: `/dev/shm` (memory: syncing its files costs
/// nothing) unless `TMPDIR` says otherwise, else the temporary directory, `/var/tmp` or `/run`;
/// the first that is a directory on a file system that allows mapping code (`/dev/shm` is
/// often mounted `noexec` in containers, and the loader cannot preload a library from there).
pub fn scratch_base() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if std::env::var_os("TMPDIR").is_none() {
        candidates.push("/dev/shm".into());
    }
    candidates.extend([std::env::temp_dir(), "/var/tmp".into(), "/run".into()]);
    candidates
        .into_iter()
        .find(|d| d.is_dir() && sys::allows_exec(d).unwrap_or(false))
}

/// A new private directory for the run's shim, under [`scratch_base`].
fn private_dir() -> Result<PathBuf, RunError> {
    let base = scratch_base().ok_or_else(|| {
        io("finding a directory for the shim")(std::io::Error::other(
            "/dev/shm, the temporary directory, /var/tmp and /run are all missing or mounted noexec: set TMPDIR to a directory that allows executables",
        ))
    })?;
    for attempt in 0..100u32 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = base.join(format!(
            "rampart-run.{}.{nanos:x}{attempt}",
            std::process::id()
        ));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io(format!("creating {}", dir.display()))(e)),
        }
    }
    Err(io("creating a private directory")(std::io::Error::other(
        "too many attempts",
    )))
}

/// Removes the directory on drop, whatever happened.
pub(crate) struct Cleanup(pub(crate) PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the command with the shim at `library` preloaded.
pub fn run_with_shim(opts: RunOptions, library: &Path) -> Result<RunOutcome, RunError> {
    let (program, args) = opts.command.split_first().ok_or(RunError::NoCommand)?;
    let dir_path = private_dir()?;
    let _cleanup = Cleanup(dir_path.clone());
    let (dir, _) = ShimDir::create(&dir_path, library, &opts.policy, &opts.source)?;
    let pipe = EventPipe::open(&dir.events())
        .map_err(io(format!("opening {}", dir.events().display())))?;

    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = Arc::clone(&stop);
        let mut sink = EveSink::new(opts.eve);
        let mut pipe = pipe;
        thread::spawn(move || -> std::io::Result<u64> {
            loop {
                let last = stop.load(Ordering::Acquire);
                // A short wait: when the command exits, the last pass follows within 10 ms.
                sys::poll_readable(&[pipe.raw_fd()], 10)?;
                let mut failed = None;
                pipe.drain(|r| {
                    if failed.is_none()
                        && let Err(e) = sink.write_line(&eve::decision_line(r, None, None))
                    {
                        failed = Some(e);
                    }
                })?;
                if let Some(e) = failed {
                    return Err(e);
                }
                if last {
                    return Ok(sink.lines());
                }
            }
        })
    };

    let mut preload = dir.library().into_os_string();
    if let Some(existing) = std::env::var_os("LD_PRELOAD").filter(|v| !v.is_empty()) {
        preload.push(" ");
        preload.push(existing);
    }
    let mut child = Command::new(program)
        .args(args)
        .env("LD_PRELOAD", &preload)
        .spawn()
        .map_err(io(format!("starting {}", program.to_string_lossy())))?;
    let status = {
        let _quiet = sys::IgnoreInterrupts::new();
        child.wait().map_err(io("waiting for the command"))?
    };
    stop.store(true, Ordering::Release);
    let events = match reader.join() {
        Ok(r) => r.map_err(io("writing events"))?,
        Err(_) => {
            return Err(io("reading events")(std::io::Error::other(
                "the reader thread panicked",
            )));
        }
    };
    // Records are written before the hooked call returns, so everything the command reported
    // was in the FIFO when it exited, and the reader's last pass took it.
    let counters = dir.counters().unwrap_or_default();
    Ok(RunOutcome {
        status,
        events,
        counters,
    })
}
