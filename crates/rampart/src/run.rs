//! `rampart run`: runs one command (and its children) under a container policy, through the
//! preload shim or, with `--seccomp`, the seccomp supervisor (see `container::run`), writing
//! each reported decision as an EVE JSON line, and exits with the command's status.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use container::policy::Policy;
use container::run::{RunOptions, RunOutcome};

/// Arguments of `rampart run`.
#[derive(Debug, Args)]
#[command(after_help = concat!(
    "The policy is the container policy format (see the README, \"Protecting a container\"). \
     Through the shim, only dynamically linked programs are held; --seccomp holds every \
     program, static ones too, at the cost of a round trip to the supervisor on each \
     execve, open and connect.\n\n\
     Examples:\n  rampart run --policy web.toml -- /bin/sh -c 'cat /etc/shadow'\n  \
     rampart run --seccomp --policy web.toml --eve events.json -- /bin/busybox cat /etc/shadow\n\n",
    "Exit status:
  N    the command's own exit status (128+S when it was killed by signal S)
  1    also a runtime error of rampart itself (one line on stderr, `rampart: error: ...`)
  2    usage error: unknown option, missing or invalid argument"
))]
pub struct RunArgs {
    /// The container policy (TOML).
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// Hold the command with the seccomp supervisor (user notification) instead of the shim.
    #[arg(long)]
    pub seccomp: bool,
    /// The shim library [default: librampart_shim.so beside the rampart binary, else
    /// /usr/lib/rampart/librampart_shim.so].
    #[arg(long, value_name = "PATH", env = "RAMPART_SHIM")]
    pub shim: Option<PathBuf>,
    /// Append events as EVE JSON lines to FILE (default: standard error).
    #[arg(long, value_name = "FILE")]
    pub eve: Option<PathBuf>,
    /// The command and its arguments.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<OsString>,
}

/// The shim library to use: the one given, else beside this executable, else the system one.
pub fn shim_library(given: Option<&PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(p) = given {
        if !p.is_file() {
            bail!("shim library {}: no such file", p.display());
        }
        return Ok(p.clone());
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join(container::shimdir::LIBRARY)));
    let system = PathBuf::from("/usr/lib/rampart").join(container::shimdir::LIBRARY);
    beside
        .into_iter()
        .chain([system])
        .find(|p| p.is_file())
        .context("no shim library (librampart_shim.so) beside the rampart binary or in /usr/lib/rampart: build it with `cargo build -p rampart-shim`, or give --shim")
}

/// Runs `rampart run`; on success it exits the process with the command's status.
pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    let (policy, source) = Policy::load(&args.policy)?;
    let eve: Box<dyn Write + Send> = match &args.eve {
        Some(path) => Box::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening {}", path.display()))?,
        ),
        None => Box::new(std::io::stderr()),
    };
    let opts = RunOptions {
        policy,
        source,
        command: args.command.clone(),
        eve,
    };
    let outcome = if args.seccomp {
        container::supervisor::run(opts)?
    } else {
        let library = shim_library(args.shim.as_ref())?;
        if let Some(warning) = container::run::static_warning(args.command[0].as_ref()) {
            tracing::warn!("{warning}");
            eprintln!("rampart: warning: {warning}");
        }
        container::run::run_with_shim(opts, &library)?
    };
    report(&outcome);
    std::process::exit(exit_code(&outcome));
}

/// Logs the counters, and says on standard error when events were lost.
fn report(outcome: &RunOutcome) {
    use shim_abi::pages::Counter;
    tracing::info!(events = outcome.events, status = %outcome.status, "command finished");
    for (counter, value) in &outcome.counters {
        tracing::debug!("{} = {value}", counter.name());
    }
    let dropped: u64 = outcome
        .counters
        .iter()
        .filter(|(c, _)| {
            matches!(
                c,
                Counter::DroppedNoReader | Counter::DroppedFull | Counter::DroppedError
            )
        })
        .map(|(_, v)| v)
        .sum();
    if dropped > 0 {
        eprintln!("rampart: warning: {dropped} events dropped (the event pipe was full or gone)");
    }
}

fn exit_code(outcome: &RunOutcome) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (outcome.status.code(), outcome.status.signal()) {
        (Some(code), _) => code,
        (None, Some(sig)) => 128 + sig,
        (None, None) => 1,
    }
}
