//! `rampart probe`: the container probe (see `container::probe`) and its one-shot commands:
//! list containers, inject or remove the shim, change a policy live, show counters.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, anyhow};
use clap::{Args, Subcommand};
use container::discovery::{self, HostPaths};
use container::eve::EveSink;
use container::inject::{self, Removal};
use container::policy::Policy;
use container::probe::{self, ProbeConfig, WatchOptions};
use container::shimdir::ShimDir;

use crate::run::shim_library;

/// Arguments of `rampart probe`.
#[derive(Debug, Args)]
#[command(after_help = concat!(
    "CONTAINER is a running container's name, id or id prefix (4 characters or more), or \
     the path of a root directory (to inject before it starts).\n\n\
     Examples:\n  rampart probe list\n  rampart probe inject web --policy web.toml\n  \
     rampart probe policy set web strict.toml\n  rampart probe watch --config probe.toml --eve containers.json\n\n",
    exit_status_help!()
))]
pub struct ProbeArgs {
    /// What to do.
    #[command(subcommand)]
    pub what: ProbeWhat,
}

/// The probe's commands.
#[derive(Debug, Subcommand)]
pub enum ProbeWhat {
    /// Run the probe: inject the containers the configuration selects, read every protected
    /// container's events, report processes the shim does not hold; until SIGTERM or SIGINT.
    #[command(after_help = exit_status_help!())]
    Watch(WatchArgs),
    /// List the containers on this host and whether they are protected.
    #[command(after_help = exit_status_help!())]
    List,
    /// Put the shim and a policy into a container (its /etc/ld.so.preload and /.rampart).
    #[command(after_help = exit_status_help!())]
    Inject(InjectArgs),
    /// Take the shim out of a container: /etc/ld.so.preload back as it was, /.rampart gone.
    #[command(after_help = exit_status_help!())]
    Remove(ContainerArg),
    /// Show or change a protected container's policy.
    #[command(after_help = exit_status_help!())]
    Policy(PolicyArgs),
    /// Print a protected container's counters (events written and dropped, policy loads).
    #[command(after_help = exit_status_help!())]
    Stats(ContainerArg),
}

/// Arguments of `rampart probe watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The probe configuration (TOML: which policy for which containers). Without it the probe
    /// only attaches to containers already injected.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Append events as EVE JSON lines to FILE (default: standard output).
    #[arg(long, value_name = "FILE")]
    pub eve: Option<PathBuf>,
    /// The shim library to inject [default: beside the rampart binary, else /usr/lib/rampart].
    #[arg(long, value_name = "PATH", env = "RAMPART_SHIM")]
    pub shim: Option<PathBuf>,
    /// Rescan period in milliseconds (overrides the configuration's interval_ms).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
    pub interval: Option<u64>,
    /// One round (discover, inject, read what is there) and exit.
    #[arg(long)]
    pub once: bool,
    /// Only this container (name, id, id prefix or root directory); repeat for more.
    #[arg(long, value_name = "CONTAINER")]
    pub container: Vec<String>,
}

/// A container argument.
#[derive(Debug, Args)]
pub struct ContainerArg {
    /// The container (name, id, id prefix, or root directory).
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// Arguments of `rampart probe inject`.
#[derive(Debug, Args)]
pub struct InjectArgs {
    /// The container (name, id, id prefix, or root directory).
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// Its policy (TOML).
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// The shim library [default: beside the rampart binary, else /usr/lib/rampart].
    #[arg(long, value_name = "PATH", env = "RAMPART_SHIM")]
    pub shim: Option<PathBuf>,
}

/// Arguments of `rampart probe policy`.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// What to do.
    #[command(subcommand)]
    pub what: PolicyWhat,
}

/// Policy commands.
#[derive(Debug, Subcommand)]
pub enum PolicyWhat {
    /// Compile FILE and make it the container's policy now: every process takes it on its next
    /// hooked call.
    #[command(after_help = exit_status_help!())]
    Set {
        /// The container (name, id, id prefix, or root directory).
        #[arg(value_name = "CONTAINER")]
        container: String,
        /// The new policy (TOML).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Print the container's current policy and its generation.
    #[command(after_help = exit_status_help!())]
    Show(ContainerArg),
}

/// Runs `rampart probe`.
pub fn run(args: &ProbeArgs) -> anyhow::Result<()> {
    let paths = HostPaths::default();
    match &args.what {
        ProbeWhat::Watch(a) => watch(a, paths),
        ProbeWhat::List => list(&paths),
        ProbeWhat::Inject(a) => {
            let (root, _) = probe::locate(&paths, &a.container).map_err(|e| anyhow!(e))?;
            let (policy, source) = Policy::load(&a.policy)?;
            let library = shim_library(a.shim.as_ref())?;
            let inj = inject::inject(&root, &library, &policy, &source)?;
            println!(
                "{}: shim injected, policy generation {} ({} rules, mode {}); /etc/ld.so.preload {}",
                a.container,
                inj.generation,
                policy.rule_count(),
                policy.mode.name(),
                match (inj.preload_changed, inj.preload_created) {
                    (false, _) => "already named the shim",
                    (true, true) => "created",
                    (true, false) => "extended",
                }
            );
            Ok(())
        }
        ProbeWhat::Remove(a) => {
            let (root, _) = probe::locate(&paths, &a.container).map_err(|e| anyhow!(e))?;
            let what = match inject::remove(&root)? {
                Removal::Restored => "restored as it was",
                Removal::LineRemoved => "changed since injection: only the shim's line removed",
                Removal::NotInjected => "did not name the shim",
            };
            println!("{}: shim removed; /etc/ld.so.preload {what}", a.container);
            Ok(())
        }
        ProbeWhat::Policy(p) => match &p.what {
            PolicyWhat::Set { container, file } => {
                let dir = shim_dir(&paths, container)?;
                let (policy, source) = Policy::load(file)?;
                let generation = dir.set_policy(&policy, &source)?;
                println!(
                    "{container}: policy generation {generation} ({} rules, mode {}) in place",
                    policy.rule_count(),
                    policy.mode.name()
                );
                Ok(())
            }
            PolicyWhat::Show(a) => {
                let dir = shim_dir(&paths, &a.container)?;
                println!("# generation {}", dir.control_generation()?);
                print!("{}", dir.source()?);
                Ok(())
            }
        },
        ProbeWhat::Stats(a) => {
            let dir = shim_dir(&paths, &a.container)?;
            println!("policy_generation {}", dir.control_generation()?);
            for (counter, value) in dir.counters()? {
                println!("{} {value}", counter.name());
            }
            Ok(())
        }
    }
}

/// The shim directory of a protected container.
fn shim_dir(paths: &HostPaths, wanted: &str) -> anyhow::Result<ShimDir> {
    let (root, _) = probe::locate(paths, wanted).map_err(|e| anyhow!(e))?;
    ShimDir::open_in_root(&root)
        .with_context(|| format!("{wanted} is not protected (inject it first)"))
}

fn watch(a: &WatchArgs, paths: HostPaths) -> anyhow::Result<()> {
    let mut config = match &a.config {
        Some(path) => ProbeConfig::load(path)?,
        None => ProbeConfig {
            interval_ms: 1000,
            ..ProbeConfig::default()
        },
    };
    if let Some(ms) = a.interval {
        config.interval_ms = ms;
    }
    let library = if config.containers.is_empty() {
        None
    } else {
        Some(shim_library(a.shim.as_ref())?)
    };
    let out: Box<dyn Write> = match &a.eve {
        Some(path) => Box::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout()),
    };
    let stats = probe::watch(WatchOptions {
        config,
        library,
        paths,
        eve: EveSink::new(out),
        once: a.once,
        only: a.container.clone(),
    })?;
    tracing::info!(?stats, "probe stopped");
    Ok(())
}

fn list(paths: &HostPaths) -> anyhow::Result<()> {
    let containers =
        discovery::discover(paths).with_context(|| format!("scanning {}", paths.proc.display()))?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<14} {:<10} {:<20} {:<24} {:>5} POLICY",
        "ID", "RUNTIME", "NAME", "IMAGE", "PIDS"
    )?;
    for c in &containers {
        let policy = match ShimDir::open_in_root(&c.root).and_then(|d| d.control_generation()) {
            Ok(g) => format!("generation {g}"),
            Err(_) => "-".to_owned(),
        };
        let id: String = if c.id.starts_with("rootfs:") {
            c.id.clone()
        } else {
            c.id.chars().take(12).collect()
        };
        writeln!(
            out,
            "{:<14} {:<10} {:<20} {:<24} {:>5} {policy}",
            id,
            c.runtime.name(),
            c.name,
            c.image.as_deref().unwrap_or("-"),
            c.pids.len()
        )?;
    }
    if containers.is_empty() {
        writeln!(out, "(no containers)")?;
    }
    Ok(())
}
