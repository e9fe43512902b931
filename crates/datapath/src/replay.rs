//! Capture replay: feeds a pcap or pcapng file (or standard input) through the runtime as if its
//! packets arrived on the switch's ports, and writes what each port would transmit and the EVE
//! record of what happened.
//!
//! Input ports, Ethernet for frames without it, learning, steering and ordering are the
//! runtime's (see [`crate::runtime`]); this module adds the outputs. Time is the capture's:
//! timeouts, MAC aging and the meters run on packet timestamps, so a replay gives the same
//! result however fast it runs and with any number of workers.
//!
//! Outputs are buffered: per-port captures in memory per port (a budget shared by all ports),
//! appended to their files in large writes without keeping a descriptor open per port, so a
//! capture with thousands of VMs needs neither thousands of descriptors nor a syscall per
//! packet; EVE through one large buffer. Per-port files are named after the port at the end
//! (`<port>.pcap`; one file per port, also for ports that sent nothing).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use capture::CaptureError;
use conn::SteeringKey;

use crate::config::Config;
use crate::pipeline::Worker;
use crate::port::PortId;
use crate::runtime::{
    self, CaptureSource, OrderKey, OutputSink, PacketSource, RunReport, RuntimeSetup,
};
use engine::{Chain, EngineFactory};

pub use crate::runtime::PortReport;

/// How to replay.
#[derive(Default)]
pub struct ReplayOptions {
    /// The configuration; `None` for the built-in default (one bridge with an uplink, a VM port
    /// per source MAC).
    pub config: Option<Config>,
    /// Write `<port>.pcap` per port here.
    pub out_dir: Option<PathBuf>,
    /// Write EVE JSON (`drop` events, then a final `stats` event) here.
    pub eve: Option<PathBuf>,
    /// Workers; overrides the configuration's `datapath.workers`.
    pub workers: Option<usize>,
    /// Engines of the ingress chain, in order (one instance per worker).
    pub ingress: Vec<Arc<EngineFactory>>,
    /// Engines of the egress chain, in order.
    pub egress: Vec<Arc<EngineFactory>>,
    /// The steering secret; `None` draws one from the OS.
    pub steering_key: Option<SteeringKey>,
}

impl std::fmt::Debug for ReplayOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayOptions")
            .field("config", &self.config)
            .field("out_dir", &self.out_dir)
            .field("eve", &self.eve)
            .field("workers", &self.workers)
            .finish_non_exhaustive()
    }
}

/// Why a replay could not run (or stopped).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error("{}: {source}", path.display())]
    Output {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What a replay did: the runtime's report (EVE events counted with the final `stats`).
pub type ReplayReport = RunReport;

/// Most bytes of per-port captures buffered in memory before the largest buffers are written.
const PCAP_BUDGET: usize = 64 << 20;
/// A port's buffer is written out when it reaches this (or the budget's share).
const PCAP_CHUNK: usize = 1 << 20;

/// Per-port captures, buffered in memory and appended to `port<id>.pcap` files; renamed to the
/// ports' names at the end.
struct PcapDir {
    dir: PathBuf,
    buffers: Vec<Vec<u8>>,
    started: Vec<bool>,
    buffered: usize,
    error: Option<ReplayError>,
}

impl PcapDir {
    fn temp_path(&self, port: PortId) -> PathBuf {
        self.dir.join(format!(".port{port}.pcap.part"))
    }

    /// The pcap file header: nanosecond-resolution magic, version 2.4, Ethernet.
    fn header() -> [u8; 24] {
        let mut h = [0u8; 24];
        h[0..4].copy_from_slice(&0xa1b2_3c4du32.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        h[16..20].copy_from_slice(&262_144u32.to_le_bytes());
        h[20..24].copy_from_slice(&1u32.to_le_bytes());
        h
    }

    fn add(&mut self, port: PortId, time_ns: u64, frame: &[u8]) {
        let p = usize::from(port);
        if self.buffers.len() <= p {
            self.buffers.resize_with(p + 1, Vec::new);
            self.started.resize(p + 1, false);
        }
        let share = (PCAP_BUDGET / self.buffers.len()).clamp(16 << 10, PCAP_CHUNK);
        let b = &mut self.buffers[p];
        let before = b.len();
        if !self.started[p] && b.is_empty() {
            b.extend_from_slice(&Self::header());
        }
        let secs = (time_ns / 1_000_000_000) as u32;
        let nanos = (time_ns % 1_000_000_000) as u32;
        let len = frame.len() as u32;
        b.extend_from_slice(&secs.to_le_bytes());
        b.extend_from_slice(&nanos.to_le_bytes());
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(frame);
        self.buffered += b.len() - before;
        if b.len() >= share {
            self.write_out(p);
        }
        if self.buffered > PCAP_BUDGET {
            // Over budget (many ports each holding a little): write them all.
            for p in 0..self.buffers.len() {
                self.write_out(p);
            }
        }
    }

    /// Appends port `p`'s buffer to its file.
    fn write_out(&mut self, p: usize) {
        let Some(b) = self.buffers.get_mut(p) else {
            return;
        };
        if b.is_empty() {
            return;
        }
        let path = self.dir.join(format!(".port{p}.pcap.part"));
        let res = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(b));
        self.buffered -= b.len();
        b.clear();
        self.started[p] = true;
        if let Err(source) = res {
            self.error
                .get_or_insert(ReplayError::Output { path, source });
        }
    }

    /// Writes everything out and names each port's file `<name>.pcap` (empty captures for
    /// ports that sent nothing).
    fn finish(&mut self, ports: &[PortReport]) -> Result<(), ReplayError> {
        for p in 0..self.buffers.len() {
            self.write_out(p);
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        for port in ports {
            let temp = self.temp_path(port.id);
            let path = self.dir.join(format!("{}.pcap", safe_name(&port.name)));
            let res = if self
                .started
                .get(usize::from(port.id))
                .copied()
                .unwrap_or(false)
            {
                std::fs::rename(&temp, &path)
            } else {
                File::create(&path).and_then(|mut f| f.write_all(&Self::header()))
            };
            res.map_err(|source| ReplayError::Output { path, source })?;
        }
        Ok(())
    }
}

/// A port name as a file name: letters, digits, `-`, `_` and `.` kept, the rest `_`.
pub fn safe_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The replay's outputs.
struct ReplayOutput {
    pcaps: Option<PcapDir>,
    eve: Option<(PathBuf, BufWriter<File>)>,
    eve_error: Option<ReplayError>,
}

impl OutputSink for ReplayOutput {
    fn frame(&mut self, _key: OrderKey, port: PortId, time_ns: u64, frame: &[u8]) {
        if let Some(p) = &mut self.pcaps {
            p.add(port, time_ns, frame);
        }
    }

    fn event(&mut self, _key: OrderKey, line: &[u8]) {
        if let Some((path, w)) = &mut self.eve {
            match w.write_all(line) {
                Ok(()) => {}
                Err(source) => {
                    self.eve_error.get_or_insert(ReplayError::Output {
                        path: path.clone(),
                        source,
                    });
                }
            }
        }
    }
}

/// Replays the capture at `path` (`-` for standard input). `progress` is called now and then
/// with the bytes read.
pub fn replay(
    path: &Path,
    opts: ReplayOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<ReplayReport, ReplayError> {
    tracing::info!(capture = %path.display(), "replay");
    if path.as_os_str() == "-" {
        let mut src = CaptureSource::from_reader(std::io::stdin().lock())?;
        replay_source(&mut src, opts, progress)
    } else {
        let mut src = CaptureSource::open(path)?;
        replay_source(&mut src, opts, progress)
    }
}

/// Replays any source of frames.
pub fn replay_source(
    source: &mut dyn PacketSource,
    opts: ReplayOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<ReplayReport, ReplayError> {
    let auto = opts.config.is_none();
    let config = opts.config.unwrap_or_else(runtime::default_config);
    let workers = opts.workers.unwrap_or(config.limits.workers).clamp(1, 64);
    if let Some(dir) = &opts.out_dir {
        std::fs::create_dir_all(dir).map_err(|source| ReplayError::Output {
            path: dir.clone(),
            source,
        })?;
    }
    let eve = match &opts.eve {
        Some(p) => {
            let f = File::create(p).map_err(|source| ReplayError::Output {
                path: p.clone(),
                source,
            })?;
            Some((p.clone(), BufWriter::with_capacity(1 << 20, f)))
        }
        None => None,
    };
    let mut output = ReplayOutput {
        pcaps: opts.out_dir.clone().map(|dir| PcapDir {
            dir,
            buffers: Vec::new(),
            started: Vec::new(),
            buffered: 0,
            error: None,
        }),
        eve,
        eve_error: None,
    };
    let limits = config.limits.clone();
    let make_worker = |id: usize, slow| {
        Worker::new(
            id,
            &limits,
            slow,
            Chain::from_factories(&opts.ingress),
            Chain::from_factories(&opts.egress),
        )
    };
    let setup = RuntimeSetup {
        config,
        auto_ports: auto,
        workers,
        keep_frames: output.pcaps.is_some(),
        eve: output.eve.is_some(),
        steering_key: opts.steering_key.unwrap_or_else(SteeringKey::random),
        make_worker: &make_worker,
    };
    let mut report = runtime::run(source, setup, &mut output, progress);
    if let Some(p) = &mut output.pcaps {
        p.finish(&report.ports)?;
        tracing::info!(dir = %p.dir.display(), ports = report.ports.len(), "per-port captures written");
    }
    if let Some(e) = output.eve_error.take() {
        return Err(e);
    }
    if let Some((path, mut lines)) = output.eve.take() {
        let stats = crate::eve::stats_event(
            report.last_time_ns,
            report.elapsed,
            &report.counters,
            &report.slow_path,
            &report.learning,
            report.flows_active,
        );
        let res = serde_json::to_writer(&mut lines, &stats)
            .map_err(std::io::Error::from)
            .and_then(|()| lines.write_all(b"\n"))
            .and_then(|()| lines.flush());
        res.map_err(|source| ReplayError::Output { path, source })?;
        report.eve_events += 1;
    }
    Ok(report)
}
