//! `rampart replay CAPTURE`: feeds a capture through the datapath pipeline as if its packets
//! arrived on the switch's ports, then prints what happened.
//!
//! Wiring only: the pipeline, the port mapping and the outputs live in `datapath::replay`.
//! A progress bar is drawn on standard error when it is a terminal and the capture is large.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use datapath::config::Config;
use datapath::replay::{ReplayOptions, ReplayReport, replay};

/// Arguments of `rampart replay`.
#[derive(Debug, Args)]
#[command(after_help = concat!(
    "The input port of each packet is the port fed by its pcapng interface id (`interface = N` \
     in the configuration), else the port bound to its source MAC (or, for a frame without \
     Ethernet, its source IP), else the uplink. Without --config one bridge is built with an \
     uplink that receives unknown unicast, and each source MAC seen gets its own VM port, so \
     any capture replays as it is. Frames without Ethernet (raw IP, Linux cooked, BSD loopback, \
     Cisco HDLC) get a header with MACs made from their IP addresses. `-` reads the capture from \
     standard input. Results are the same for any number of workers.\n\n\
     Examples:\n  \
     rampart replay samples/two-bridges.pcapng --config samples/two-bridges.toml --out-dir out\n  \
     rampart replay traffic.pcap --eve eve.json --workers 2\n\n",
    exit_status_help!()
))]
pub struct ReplayArgs {
    /// The capture to replay (pcap or pcapng; `-` for standard input).
    #[arg(value_name = "CAPTURE")]
    pub capture: PathBuf,

    /// Datapath configuration (TOML: bridges, ports, limits); default: one bridge, a VM port
    /// per source MAC.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Write EVE JSON here: `drop`, `alert` and `flow` events in arrival order, then `stats`.
    #[arg(long, value_name = "OUT")]
    pub eve: Option<PathBuf>,

    /// Write one pcap per port here (`<port>.pcap`, what the port transmitted).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,

    /// Worker threads (default: the configuration's `datapath.workers`, else 1).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub workers: Option<u16>,
}

/// Runs `rampart replay`.
pub fn run(args: &ReplayArgs) -> anyhow::Result<()> {
    let config = match &args.config {
        Some(p) => Some(Config::load(p)?),
        None => None,
    };
    let size = std::fs::metadata(&args.capture)
        .map(|m| m.len())
        .unwrap_or(0);
    let bar = (std::io::stderr().is_terminal() && size > 16 << 20).then(|| {
        let b = indicatif::ProgressBar::new(size);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} replay [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let opts = ReplayOptions {
        config,
        out_dir: args.out_dir.clone(),
        eve: args.eve.clone(),
        workers: args.workers.map(usize::from),
        ..Default::default()
    };
    let report = replay(&args.capture, opts, &mut |read| {
        if let Some(b) = &bar {
            b.set_position(read);
        }
    })
    .with_context(|| format!("replay of {}", args.capture.display()))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    // A reader of standard output that went away (`| head`) is not an error.
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(summary(&report).as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(anyhow::Error::new(e).context("writing the summary to standard output"));
        }
        _ => {}
    }
    if let Some(e) = report.error {
        return Err(anyhow::Error::new(e).context(format!(
            "{} (the packets before it were replayed)",
            args.capture.display()
        )));
    }
    Ok(())
}

fn pct(n: u64, d: u64) -> String {
    if d == 0 {
        "-".into()
    } else {
        format!("{:.1}%", 100.0 * n as f64 / d as f64)
    }
}

/// The end-of-run table: packets in and out per port, drops by reason, flows and caches.
pub fn summary(r: &ReplayReport) -> String {
    use std::fmt::Write;
    let c = &r.counters;
    let mut s = String::new();
    let secs = r.elapsed.as_secs_f64().max(1e-9);
    let pps = r.packets_read as f64 / secs;
    let rate = if pps >= 1e6 {
        format!("{:.2} Mpps", pps / 1e6)
    } else {
        format!("{:.1} kpps", pps / 1e3)
    };
    let _ = writeln!(
        s,
        "replayed {} packets ({} bytes) in {:.3} s with {} worker{} ({rate})",
        r.packets_read,
        r.bytes_read,
        secs,
        r.workers,
        if r.workers == 1 { "" } else { "s" },
    );
    let _ = writeln!(
        s,
        "\n{:<20} {:<9} {:<8} {:>12} {:>12}",
        "port", "kind", "bridge", "rx packets", "tx packets"
    );
    for p in &r.ports {
        let _ = writeln!(
            s,
            "{:<20} {:<9} {:<8} {:>12} {:>12}",
            p.name,
            p.kind.name(),
            p.bridge,
            p.rx_packets,
            p.tx_packets
        );
    }
    let _ = writeln!(s, "\npipeline");
    for (k, v) in [
        ("received", c.rx_packets),
        ("ingress inspected", c.ingress_inspected),
        ("ingress passed", c.ingress_passed),
        ("flow lookups", c.lookups),
        ("egress inspected", c.egress_inspected),
        ("egress passed", c.egress_passed),
        ("transmitted", c.tx_packets),
        ("dropped", c.total_drops()),
        ("alerts", c.ingress_alerts + c.egress_alerts),
        ("rejects sent", c.rejects_sent),
    ] {
        let _ = writeln!(s, "  {k:<22} {v:>12}");
    }
    let drops = c.drop_table();
    if !drops.is_empty() {
        let _ = writeln!(s, "\ndrops by reason");
        for (reason, n) in drops {
            let _ = writeln!(s, "  {reason:<40} {n:>12}");
        }
    }
    let _ = writeln!(s, "\nflow table");
    let _ = writeln!(
        s,
        "  {:<22} {:>12}  {}",
        "exact-match hits",
        c.emc_hits,
        pct(c.emc_hits, c.lookups)
    );
    let _ = writeln!(
        s,
        "  {:<22} {:>12}  {}",
        "megaflow hits",
        c.megaflow_hits,
        pct(c.megaflow_hits, c.lookups)
    );
    let _ = writeln!(
        s,
        "  {:<22} {:>12}  {}",
        "misses",
        c.misses,
        pct(c.misses, c.lookups)
    );
    for (k, v) in [
        ("upcalls", c.upcalls),
        ("upcalls refused", r.slow_path.upcalls_refused),
        ("flows installed", c.flows_installed),
        ("flows active", r.flows_active as u64),
        ("flows expired", c.flows_expired),
        ("flows evicted", c.flows_evicted),
        ("revalidations", c.revalidations),
        ("MACs learnt", r.macs_learnt as u64),
        ("station moves", r.learning.station_moves),
    ] {
        let _ = writeln!(s, "  {k:<22} {v:>12}");
    }
    let _ = writeln!(s, "\nconnections");
    for (k, v) in [
        ("ended", c.connections_ended),
        ("fragments held", c.fragments_held),
        ("datagrams reassembled", c.datagrams_reassembled),
        ("fragments held early", r.steering.fragments_held),
    ] {
        let _ = writeln!(s, "  {k:<22} {v:>12}");
    }
    if r.eve_events > 0 {
        let _ = writeln!(s, "\n{} EVE events written", r.eve_events);
    }
    s
}
