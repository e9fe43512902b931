//! `rampart policy check FILE`: validates a firewall policy and prints what it compiles to
//! (zones, rules, NAT, flood guards, anti-spoofing) and its warnings.
//!
//! Wiring only: reading, validation, compilation and the warnings are the `policy` crate's; the
//! switch configuration is read with `datapath::config` and handed over as a plain port list.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use datapath::config::Config;
use datapath::port::PortKind as SwitchPortKind;
use policy::{
    Compiled, Document, FloodAction, FloodPer, Inventory, InventoryPort, Member, Policy, PortKind,
    ZoneSet, proto,
};

/// Arguments of `rampart policy`.
#[derive(Debug, Args)]
#[command(after_help = concat!(
    "The policy format (zones, rules, NAT, flood guards, anti-spoofing) is described in the \
     README, \"Writing a policy\"; examples/ holds complete policies with their switch \
     configurations.\n\n",
    "Examples:\n  rampart policy check examples/small-office/policy.toml\n\n",
    exit_status_help!()
))]
pub struct PolicyArgs {
    /// What to do with the policy.
    #[command(subcommand)]
    pub what: PolicyWhat,
}

/// Policy subcommands.
#[derive(Debug, Subcommand)]
pub enum PolicyWhat {
    /// Validate a policy file and print what it compiles to and its warnings.
    Check(CheckArgs),
}

/// Arguments of `rampart policy check`.
#[derive(Debug, Args)]
#[command(after_help = concat!(
    "Port names, labels and masquerade addresses are checked against the switch configuration: \
     --config, else the file the policy names with `switch = \"FILE\"` (relative to the policy), \
     else they are taken on trust with a warning.\n\n\
     On success the report goes to standard output: the switch configuration, zones with their \
     members, rules compiled, the default, NAT rules, flood guards, anti-spoofing, then each \
     warning as `warning: FILE:LINE: KEY: message`. An error is one line on standard error, \
     `rampart: error: FILE:LINE: KEY: what is wrong`.\n\n\
     With --strict a policy with warnings exits with status 1.\n\n\
     Examples:\n  rampart policy check examples/small-office/policy.toml\n  \
     rampart policy check policy.toml --config switch.toml --strict\n\n",
    exit_status_help!()
))]
pub struct CheckArgs {
    /// The policy file (TOML).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// The switch configuration the policy's port names refer to (overrides `switch = ...`).
    #[arg(long, value_name = "SWITCH")]
    pub config: Option<PathBuf>,

    /// Treat warnings as errors (exit status 1 when there is any).
    #[arg(long)]
    pub strict: bool,
}

/// Runs `rampart policy`.
pub fn run(args: &PolicyArgs) -> anyhow::Result<()> {
    match &args.what {
        PolicyWhat::Check(a) => check(a),
    }
}

fn check(args: &CheckArgs) -> anyhow::Result<()> {
    let doc = Document::read(&args.file)?;
    let switch = args.config.clone().or_else(|| doc.switch());
    let inventory = match &switch {
        Some(path) => {
            let config = Config::load(path).with_context(|| {
                if args.config.is_some() {
                    "switch configuration (--config)".to_string()
                } else {
                    format!("switch configuration named by {}", args.file.display())
                }
            })?;
            Some(inventory(&config, path))
        }
        None => None,
    };
    let model = doc.validate(inventory.as_ref())?;
    let compiled = Policy::compile(model, inventory.as_ref());
    let text = report(&compiled, &args.file, inventory.as_ref());
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // A reader that went away (`| head`) is not an error.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(anyhow::Error::new(e).context("writing the report"));
        }
        _ => {}
    }
    if args.strict && !compiled.warnings.is_empty() {
        anyhow::bail!(
            "{}: {} warning{} (--strict)",
            args.file.display(),
            compiled.warnings.len(),
            if compiled.warnings.len() == 1 {
                ""
            } else {
                "s"
            }
        );
    }
    Ok(())
}

/// The switch's ports as the policy sees them; a port's id is its position in the file, as
/// the datapath numbers ports.
pub fn inventory(config: &Config, file: &Path) -> Inventory {
    Inventory {
        file: Some(file.to_path_buf()),
        ports: config
            .ports
            .iter()
            .enumerate()
            .map(|(i, p)| InventoryPort {
                id: u16::try_from(i).unwrap_or(u16::MAX),
                name: p.name.clone(),
                kind: match p.kind {
                    SwitchPortKind::Vm => PortKind::Vm,
                    SwitchPortKind::Uplink => PortKind::Uplink,
                    SwitchPortKind::Gateway => PortKind::Gateway,
                    SwitchPortKind::Internal => PortKind::Internal,
                },
                macs: p.macs.clone(),
                ips: p.ips.clone(),
                labels: Vec::new(),
            })
            .collect(),
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The report of a valid policy.
fn report(c: &Compiled, file: &Path, inventory: Option<&Inventory>) -> String {
    let p = &c.policy;
    let m = p.model();
    let zones = |s: &ZoneSet| match s.listed() {
        None => "any".to_string(),
        Some(list) => list
            .iter()
            .map(|z| p.zones().name(*z))
            .collect::<Vec<_>>()
            .join(","),
    };
    let mut s = String::new();
    let _ = writeln!(s, "policy {}: valid", file.display());
    match inventory {
        Some(inv) => {
            let _ = writeln!(
                s,
                "switch: {} ({})",
                inv.describe(),
                plural(inv.ports.len(), "port", "ports")
            );
        }
        None => s.push_str("switch: none (port names not checked)\n"),
    }
    let _ = writeln!(s, "zones: {} and wan", m.zones.len().saturating_sub(1));
    for z in &m.zones[1..] {
        let count = |f: fn(&Member) -> bool| z.members.iter().filter(|x| f(&x.member)).count();
        let parts = [
            (count(|x| matches!(x, Member::Cidr(_))), "CIDR", "CIDRs"),
            (count(|x| matches!(x, Member::Port(_))), "port", "ports"),
            (count(|x| matches!(x, Member::Mac(_))), "MAC", "MACs"),
            (count(|x| matches!(x, Member::Label(_))), "label", "labels"),
        ];
        let parts: Vec<String> = parts
            .iter()
            .filter(|(n, _, _)| *n > 0)
            .map(|(n, one, many)| plural(*n, one, many))
            .collect();
        let _ = writeln!(
            s,
            "  {}: {}",
            z.name,
            if parts.is_empty() {
                "no members".into()
            } else {
                parts.join(", ")
            }
        );
    }
    s.push_str("  wan: every address no zone claims\n");
    let cl = p.classifier();
    let _ = writeln!(
        s,
        "rules: {} compiled ({}, {} bit vectors, {} KiB)",
        m.rules.len(),
        plural(cl.entries(), "classifier entry", "classifier entries"),
        cl.vectors(),
        cl.memory_bytes().div_ceil(1024)
    );
    let d = p.default_rule();
    let _ = writeln!(
        s,
        "default: {}{}",
        d.action,
        if d.log { ", logged" } else { "" }
    );
    let nat = p.nat();
    let _ = writeln!(
        s,
        "nat: {} source, {} destination (port mappings), {} one-to-one",
        nat.snat().len(),
        nat.dnat().len(),
        nat.one_to_one().len()
    );
    for (i, n) in nat.snat().iter().enumerate() {
        let _ = writeln!(
            s,
            "  snat[{i}] {:?}: {} -> {} as {} ports {}-{}{}",
            n.name,
            zones(&n.from),
            zones(&n.to),
            n.address,
            n.ports.0,
            n.ports.1,
            n.masquerade
                .as_ref()
                .map_or(String::new(), |p| format!(" (masquerade {p})"))
        );
    }
    for (i, n) in nat.dnat().iter().enumerate() {
        let protos: Vec<&str> = n.protos.iter().filter_map(proto::name).collect();
        let range = |(a, b): (u16, u16)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        };
        let _ = writeln!(
            s,
            "  dnat[{i}] {:?}: {} {}:{} -> {}:{} from {}",
            n.name,
            protos.join(","),
            n.address,
            range(n.ports),
            n.to_address,
            range(n.to_ports),
            zones(&n.from)
        );
    }
    for (i, n) in nat.one_to_one().iter().enumerate() {
        let _ = writeln!(
            s,
            "  one_to_one[{i}] {:?}: {} <-> {}",
            n.name, n.internal, n.external
        );
    }
    let floods = p.floods().guards();
    let _ = writeln!(s, "flood guards: {}", floods.len());
    for (i, f) in floods.iter().enumerate() {
        let _ = writeln!(
            s,
            "  flood[{i}] {:?}: {} per {}, {}/s burst {}, {}, {} -> {}",
            f.name,
            f.kind.name(),
            match f.per {
                FloodPer::Destination => "destination",
                FloodPer::Source => "source",
            },
            f.rate,
            f.burst,
            match f.action {
                FloodAction::Alert => "alert".to_string(),
                FloodAction::Block => format!("block {} s", f.block_seconds),
            },
            zones(&f.from),
            zones(&f.to)
        );
    }
    let guards = p.anti_spoof().guards();
    let _ = writeln!(
        s,
        "anti-spoofing: {}{}",
        plural(guards.len(), "port", "ports"),
        if guards.is_empty() {
            String::new()
        } else {
            format!(
                " ({})",
                guards
                    .iter()
                    .map(|g| g.port.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
    let _ = writeln!(s, "warnings: {}", c.warnings.len());
    for w in &c.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    s
}
