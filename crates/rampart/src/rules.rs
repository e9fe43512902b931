//! `rampart rules check FILE...`: loads Suricata rule files as the IDS would (variables,
//! classification, every keyword, then the compiled matcher) and reports what did not load:
//! one line per failed rule (`file:line: sid N: keyword: reason`), the keywords not supported
//! yet with how many rules each kept out, and last `N of M rules loaded`.
//!
//! It reads the rule and variable files and writes the report to standard output; it never
//! changes a file.

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};
use ids::detect::Engine;
use ids::rules::{Classifications, RuleSet, Vars};

/// Arguments of `rampart rules`.
#[derive(Debug, Args)]
#[command(after_help = exit_status_help!())]
pub struct RulesArgs {
    #[command(subcommand)]
    pub command: RulesCommand,
}

/// What to do with rules.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Parse Suricata rule files and report the rules that did not load.
    Check(CheckArgs),
}

/// Arguments of `rampart rules check`.
#[derive(Debug, Args)]
#[command(after_help = concat!(
    "Prints each rule that did not load as `file:line: sid N: keyword: reason`, then the\n",
    "keywords not supported yet with the number of rules each kept out, then one line\n",
    "`N of M rules loaded`. Variables start as Suricata's defaults, then --vars, then --var.\n\n",
    "Examples:\n",
    "  rampart rules check emerging-all.rules\n",
    "  rampart rules check local.rules --vars /etc/suricata/suricata.yaml --var HOME_NET=[10.0.0.0/8]\n\n",
    exit_status_help!(),
    "\n  (1 also when a rule failed to parse; rules that only use unsupported keywords do not count)"
))]
pub struct CheckArgs {
    /// Rule files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Set a variable, e.g. HOME_NET=[10.0.0.0/8] or HTTP_PORTS=[80,8080] (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Read variables from the `vars:` section of a suricata.yaml.
    #[arg(long = "vars", value_name = "FILE")]
    pub vars_file: Option<PathBuf>,
    /// Classification config to use instead of Suricata's default.
    #[arg(long, value_name = "FILE")]
    pub classification: Option<PathBuf>,
}

/// Dispatches `rampart rules`.
pub fn run(args: &RulesArgs) -> anyhow::Result<()> {
    match &args.command {
        RulesCommand::Check(c) => check(c),
    }
}

fn check(args: &CheckArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut vars = Vars::suricata_defaults();
    if let Some(f) = &args.vars_file {
        vars.load_yaml(f)?;
    }
    for v in &args.vars {
        vars.assign(v)?;
    }
    let classes = match &args.classification {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Classifications::parse(&text).with_context(|| format!("{}", p.display()))?
        }
        None => Classifications::suricata_default(),
    };
    let set = RuleSet::load(&args.files, &vars, &classes)?;
    let (engine, build_errors) = Engine::build(&set.rules);
    let stats = engine.stats();
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        groups = stats.groups,
        patterns = stats.patterns,
        pcre_regex = stats.pcre_rust,
        pcre_pcre2 = stats.pcre_pcre2,
        "rules compiled"
    );
    let mut out = io::stdout().lock();
    let report = write_report(&mut out, &set, &build_errors);
    match report {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
        r => r.context("writing the report to standard output")?,
    }
    let failed = set.failures.len() + set.duplicates.len() + build_errors.len();
    if failed > 0 {
        anyhow::bail!("{failed} rules failed to load");
    }
    Ok(())
}

/// Writes the report: failures, unsupported keywords, and the summary line.
fn write_report(
    out: &mut impl Write,
    set: &RuleSet,
    build_errors: &[ids::detect::BuildError],
) -> io::Result<()> {
    for f in set.failures.iter().chain(&set.duplicates) {
        writeln!(out, "{f}")?;
    }
    for e in build_errors {
        writeln!(out, "{e}")?;
    }
    let unsupported = set.unsupported_counts();
    if !unsupported.is_empty() {
        writeln!(out, "unsupported keywords:")?;
        for (k, n) in &unsupported {
            writeln!(out, "  {k}: {n} rules")?;
        }
    }
    let loaded = set.rules.len() - build_errors.len();
    writeln!(out, "{loaded} of {} rules loaded", set.total())?;
    out.flush()
}
