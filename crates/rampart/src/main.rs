//! The `rampart` binary: parses the command line, sets up logging, runs one subcommand and turns
//! its outcome into an exit status.
//!
//! This file is wiring only; it must never hold the logic of a subcommand. Each subcommand is a
//! module with an arguments struct (a variant of [`cli::Command`]) and a `run` function.
//!
//! Exit status: 0 success, 1 runtime error, 2 usage error (clap exits with 2 itself). A runtime
//! error is printed as one line, `rampart: error: <context>: <cause>: ...`, with a backtrace
//! only when `RUST_BACKTRACE` (or `RUST_LIB_BACKTRACE`) asks for one.
#![forbid(unsafe_code)]

/// The exit status table, shown at the end of every `--help` (a macro so that `concat!` can join
/// it to a subcommand's examples).
macro_rules! exit_status_help {
    () => {
        "Exit status:
  0  success (also when the reader of standard output went away, as with `| head`)
  1  runtime error: unreadable or malformed input, I/O failure
  2  usage error: unknown option, missing or invalid argument"
    };
}

mod bench;
mod cli;
mod completions;
mod decode;
mod policy;
mod probe;
mod replay;
mod rules;
mod run;
mod scan;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    install_panic_hook();
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match &cli.command {
        Command::Decode(args) => decode::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Rules(args) => rules::run(args),
        Command::Policy(args) => policy::run(args),
        Command::Scan(args) => return scan::run(args),
        Command::Run(args) => run::run(args),
        Command::Probe(args) => probe::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("rampart: error: {}", one_line(&err));
            if backtrace_wanted() {
                eprintln!("{}", err.backtrace());
            }
            ExitCode::FAILURE
        }
    }
}

/// The error and its chain of causes on one line, joined by ": ", with any line breaks inside a
/// message flattened so the error stays one line. A cause whose message its parent already
/// ends with (errors that print their source themselves) is not repeated.
fn one_line(err: &anyhow::Error) -> String {
    let mut s = String::new();
    for cause in err.chain() {
        let msg = cause.to_string();
        let msg = msg.split_whitespace().collect::<Vec<_>>().join(" ");
        if s.ends_with(&msg) {
            continue;
        }
        if !s.is_empty() {
            s.push_str(": ");
        }
        s.push_str(&msg);
    }
    s
}

/// True when `RUST_BACKTRACE` or `RUST_LIB_BACKTRACE` is set to anything but "0".
fn backtrace_wanted() -> bool {
    ["RUST_LIB_BACKTRACE", "RUST_BACKTRACE"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty() && s != "0"))
}

/// A panic is a bug: say so on one line, and leave the full report to the default hook only when
/// a backtrace was asked for.
fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if backtrace_wanted() {
            default(info);
            return;
        }
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".to_owned());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "rampart: internal error (a bug, please report it): {}{at}",
            msg.split_whitespace().collect::<Vec<_>>().join(" ")
        );
    }));
}

/// Logs go to standard error, in colour only when it is a terminal (a log file or a pipe gets no
/// escape codes). `RUST_LOG`, when set and valid, wins over `-v`.
fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let mut bad_rust_log = None;
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => match EnvFilter::try_new(&spec) {
            Ok(f) => f,
            Err(e) => {
                bad_rust_log = Some(format!("ignoring RUST_LOG={spec:?}: {e}"));
                EnvFilter::new(level)
            }
        },
        _ => EnvFilter::new(level),
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter)
        .with_target(true)
        .init();
    if let Some(msg) = bad_rust_log {
        tracing::warn!("{msg}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_chain_is_one_line() {
        let err = anyhow::anyhow!("bad magic\nat offset 0")
            .context("reading x.pcap")
            .context("decode");
        assert_eq!(
            one_line(&err),
            "decode: reading x.pcap: bad magic at offset 0"
        );
    }

    #[test]
    fn a_source_printed_by_its_parent_is_not_repeated() {
        #[derive(Debug)]
        struct Open(std::io::Error);
        impl std::fmt::Display for Open {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "cannot open x.pcap: {}", self.0)
            }
        }
        impl std::error::Error for Open {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let err = anyhow::Error::new(Open(std::io::Error::other("denied")));
        assert_eq!(one_line(&err), "cannot open x.pcap: denied");
    }
}
