//! The command line of the `rampart` binary: one clap derive [`Cli`] with global options and a
//! [`Command`] enum, one variant per subcommand, each carrying the arguments struct of the module
//! that runs it.
//!
//! This module only describes arguments. It must never do work of its own: adding a subcommand
//! is a new variant here, a new module, and one line in `main`'s dispatch.

use clap::{ArgAction, Parser, Subcommand};

use crate::bench::BenchArgs;
use crate::completions::CompletionsArgs;
use crate::decode::DecodeArgs;
use crate::policy::PolicyArgs;
use crate::probe::ProbeArgs;
use crate::replay::ReplayArgs;
use crate::rules::RulesArgs;
use crate::run::RunArgs;
use crate::scan::ScanArgs;

/// Rampart: inline security datapath, inspection and access control for VM and container hosts.
#[derive(Debug, Parser)]
#[command(
    name = "rampart",
    version,
    about,
    long_about = "Rampart protects the workloads of a virtualization or container host: it inspects \
                  every packet between virtual machines on its way in and on its way out.\n\n\
                  Logs go to standard error: -v for info, -vv for debug, -vvv for trace; the \
                  RUST_LOG environment variable (e.g. RUST_LOG=capture=debug) overrides -v.",
    after_help = exit_status_help!(),
    propagate_version = true,
    subcommand_required = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// More log output on standard error (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands. Each variant's arguments struct lives in the module that runs it.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print every packet of a pcap or pcapng file, one line each (like `tcpdump -n -tt`) or one
    /// JSON object each.
    Decode(DecodeArgs),
    /// Feed a capture through the datapath (flow table, slow path, both inspections) and write
    /// what each port transmits.
    Replay(ReplayArgs),
    /// Measure Rampart's engines (in memory, one core).
    Bench(BenchArgs),
    /// Work with Suricata IDS rules (`rules check`: parse and report what does not load).
    Rules(RulesArgs),
    /// Work with firewall policies: `rampart policy check FILE` validates one.
    Policy(PolicyArgs),
    /// Scan files and folders with ClamAV and YARA signatures, like clamscan.
    Scan(ScanArgs),
    /// Print a shell completion script to standard output.
    Completions(CompletionsArgs),
    /// Run a command (and its children) under a container policy: through the preload shim,
    /// or the seccomp supervisor with --seccomp.
    Run(RunArgs),
    /// The container probe: find containers, inject the shim, change policies live, forward
    /// events.
    Probe(ProbeArgs),
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn verbose_counts_and_is_global() {
        let cli = Cli::try_parse_from(["rampart", "decode", "-vv", "x.pcap"]).unwrap();
        assert_eq!(cli.verbose, 2);
        let cli = Cli::try_parse_from(["rampart", "-v", "decode", "x.pcap"]).unwrap();
        assert_eq!(cli.verbose, 1);
    }

    #[test]
    fn every_subcommand_documents_exit_status() {
        let mut cmd = Cli::command();
        for sub in cmd.get_subcommands_mut() {
            let long = sub.render_long_help().to_string();
            let short = sub.render_help().to_string();
            for help in [long, short] {
                assert!(help.contains("Exit status:"), "{}: {help}", sub.get_name());
            }
        }
    }
}
