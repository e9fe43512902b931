//! `rampart bench datapath`: measures the pipeline on in-memory ports (see the `datapath` module)
//! and prints a table fit for BENCHMARKS.md.

use clap::{Args, Subcommand};
mod datapath;

use self::datapath::{BenchOptions, BenchResult, run as run_datapath};

/// Arguments of `rampart bench`.
#[derive(Debug, Args)]
#[command(after_help = concat!(
    "Figures are wall-clock medians over repeated passes on one core; run on a quiet machine, \
     pinned with taskset, and quote them with the command.\n\n\
     Examples:\n  taskset -c 1 rampart bench datapath\n  rampart bench datapath --quick\n\n",
    exit_status_help!()
))]
pub struct BenchArgs {
    /// What to measure.
    #[command(subcommand)]
    pub what: BenchWhat,
}

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchWhat {
    /// The datapath pipeline, 64-byte frames, both (empty) inspection stages: exact-match hits
    /// with 1k/100k/1M flows, megaflow hits with 1/10/50 subtables (match first and last),
    /// established connections (1k/100k/1M) and new connections, flow setup through the slow
    /// path.
    #[command(after_help = exit_status_help!())]
    Datapath(DatapathBenchArgs),
    /// What the container shim and the seccomp supervisor add to openat (with and without a
    /// symbolic link, allowed, denied, missing), connect and execve, against the bare calls:
    /// medians over rounds; the shim in the caller's CPU time, the supervisor and execve in
    /// wall-clock time.
    #[command(after_help = exit_status_help!())]
    Shim(ShimBenchArgs),
    /// The driver `bench shim` runs: one kind of call N times, prints CPU and wall ns per call.
    #[command(hide = true, after_help = exit_status_help!())]
    ShimDriver(ShimDriverArgs),
}

/// Arguments of `rampart bench shim`.
#[derive(Debug, Args)]
pub struct ShimBenchArgs {
    /// Rounds; each runs the driver bare, with the shim and under the supervisor, in turn.
    #[arg(long, value_name = "N", default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub rounds: u32,
    /// Calls per run (execve: a fiftieth of it).
    #[arg(long, value_name = "N", default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(100..))]
    pub calls: u64,
    /// Only cases whose name contains TEXT (open-plain, open-symlink, open-denied, open-missing,
    /// connect, exec).
    #[arg(long, value_name = "TEXT")]
    pub only: Option<String>,
    /// The shim library [default: beside the rampart binary, else /usr/lib/rampart].
    #[arg(long, value_name = "PATH", env = "RAMPART_SHIM")]
    pub shim: Option<std::path::PathBuf>,
}

/// Arguments of `rampart bench shim-driver`.
#[derive(Debug, Args)]
pub struct ShimDriverArgs {
    /// The case.
    pub case: String,
    /// Calls.
    pub calls: u64,
    /// The harness's scratch directory (holds the symbolic link).
    #[arg(long, value_name = "DIR")]
    pub dir: std::path::PathBuf,
}

/// Arguments of `rampart bench datapath`.
#[derive(Debug, Args)]
pub struct DatapathBenchArgs {
    /// Fewer packets and flows (a smoke run in seconds; figures are not meaningful).
    #[arg(long)]
    pub quick: bool,
    /// Repetitions per case.
    #[arg(long, value_name = "N", default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub reps: u32,
    /// Only one group of cases: emc, megaflow, conn or setup (any part of the name will do).
    #[arg(long, value_name = "TEXT")]
    pub only: Option<String>,
    /// The largest flow (and connection) count to measure: the cases above it are left out,
    /// and the setup and new-connection cases send this many.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1000..=(1 << 20)))]
    pub max_flows: Option<u32>,
    /// Time the hit and connection cases without the learner: every MAC is learnt before
    /// timing, and the timed passes skip it, so the figures are the worker's alone (as issue 4
    /// measured them, before MAC learning moved ahead of the workers). The setup cases always
    /// learn.
    #[arg(long)]
    pub no_learner: bool,
}

/// Runs `rampart bench`.
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    match &args.what {
        BenchWhat::Datapath(a) => {
            let mut opts = BenchOptions {
                reps: a.reps as usize,
                only: a.only.clone(),
                learner: !a.no_learner,
                ..BenchOptions::default()
            };
            if a.quick {
                opts.packets = 1 << 16;
                opts.max_flows = 1 << 14;
                opts.reps = opts.reps.min(3);
            }
            if let Some(m) = a.max_flows {
                opts.max_flows = opts.max_flows.min(m as usize);
            }
            println!(
                "| case | traffic flows | megaflows | ns/packet median (min) | Mpps | EMC hits | bytes/flow |"
            );
            println!("|---|---:|---:|---:|---:|---:|---:|");
            run_datapath(&opts, &mut |r| println!("{}", row(r)));
            Ok(())
        }
        BenchWhat::Shim(a) => {
            let opts = container::bench::BenchOptions {
                exe: std::env::current_exe()?,
                library: crate::run::shim_library(a.shim.as_ref())?,
                rounds: a.rounds as usize,
                calls: a.calls,
                only: a.only.clone(),
                scratch: container::run::scratch_base().unwrap_or_else(std::env::temp_dir),
            };
            println!(
                "| call | calls/run | bare ns | with shim ns | shim adds | bare wall ns | seccomp wall ns | seccomp adds |"
            );
            println!("|---|---:|---:|---:|---:|---:|---:|---:|");
            container::bench::run(&opts, |r| {
                let opt = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.0}"));
                println!(
                    "| {} | {} | {:.0} | {:.0} | {:+.0} | {:.0} | {} | {} |",
                    r.case,
                    r.calls,
                    r.bare,
                    r.shim,
                    r.shim_added,
                    r.bare_wall,
                    opt(r.seccomp),
                    r.seccomp_added
                        .map_or("-".to_owned(), |v| format!("{v:+.0}"))
                );
            })?;
            Ok(())
        }
        BenchWhat::ShimDriver(a) => {
            let (cpu, wall) = container::bench::driver(&a.case, a.calls, &a.dir)?;
            println!("{cpu:.1} {wall:.1}");
            Ok(())
        }
    }
}

fn row(r: &BenchResult) -> String {
    format!(
        "| {} | {} | {} | {:.1} ({:.1}) | {:.1} | {:.1}% | {} |",
        r.case,
        r.flows,
        r.megaflows,
        r.median_ns,
        r.min_ns,
        r.mpps(),
        100.0 * r.emc_hit_rate,
        r.bytes_per_flow.map_or("-".into(), |b| format!("{b:.0}"))
    )
}
