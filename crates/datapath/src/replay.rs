//! Capture replay: feeds a pcap or pcapng file through the pipeline as if its packets arrived on
//! the switch's ports, and writes what each port would transmit.
//!
//! The input port of a packet is, in order: the port fed by its pcapng interface id
//! (`interface = N` in the configuration), the port bound to its source MAC, or, with the
//! built-in default configuration, a VM port created for each new source MAC (so any capture
//! replays with no set-up). Time is the capture's: flow idle timeouts, MAC aging and the upcall
//! meter all run on packet timestamps, so a replay gives the same result however fast it runs.
//!
//! With several workers a reader thread steers each packet by the symmetric hash of its flow key
//! (both directions of a connection meet on one worker) in batches over bounded channels;
//! batches are recycled, so the reader never allocates per packet either.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use capture::{CaptureError, CaptureReader, LinkType, PcapWriter, Timestamp};
use events::{EveEvent, EveWriter};
use flow::{FlowKey, OffloadMeta};
use wire::parse_packet;

use crate::config::Config;
use crate::counters::{DatapathCounters, DropReason};
use crate::inspect::{Chain, InspectorFactory};
use crate::pipeline::{
    AlertNotice, Batch, Cleared, DropNotice, Observer, SharedSlowPath, TxSink, Worker,
};
use crate::port::Port;
use crate::port::{PortId, PortKind, VlanMode};
use crate::slowpath::{SlowPath, SlowPathCounters};

/// How to replay.
#[derive(Default)]
pub struct ReplayOptions {
    /// The configuration; `None` for the built-in default (one bridge, a VM port per source MAC).
    pub config: Option<Config>,
    /// Write `<port>.pcap` per port here.
    pub out_dir: Option<PathBuf>,
    /// Write EVE JSON (`drop` events, then a final `stats` event) here.
    pub eve: Option<PathBuf>,
    /// Workers; overrides the configuration's `datapath.workers`.
    pub workers: Option<usize>,
    /// Engines of the ingress chain, in order (one instance per worker).
    pub ingress: Vec<Arc<InspectorFactory>>,
    /// Engines of the egress chain, in order.
    pub egress: Vec<Arc<InspectorFactory>>,
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
    #[error(
        "packet {number}: interface {interface} has link type {link:?}; the switch needs Ethernet frames"
    )]
    NotEthernet {
        number: u64,
        interface: u32,
        link: LinkType,
    },
    #[error("packet {number}: more than {max} ports would be needed", max = crate::MAX_PORTS)]
    TooManyPorts { number: u64 },
}

/// One port's traffic in a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortReport {
    pub id: PortId,
    pub name: String,
    pub kind: PortKind,
    pub bridge: String,
    pub rx_packets: u64,
    pub tx_packets: u64,
}

/// What a replay did.
#[derive(Debug)]
pub struct ReplayReport {
    pub packets_read: u64,
    pub bytes_read: u64,
    pub counters: DatapathCounters,
    pub slow_path: SlowPathCounters,
    pub ports: Vec<PortReport>,
    /// Megaflows installed at the end, summed over workers.
    pub flows_active: usize,
    pub macs_learnt: usize,
    pub workers: usize,
    pub elapsed: Duration,
    /// The capture error that ended the replay early, after every packet before it was
    /// processed and written.
    pub error: Option<CaptureError>,
    /// EVE events written.
    pub eve_events: u64,
}

fn ts_ns(t: Timestamp) -> u64 {
    let s = u64::try_from(t.secs).unwrap_or(0);
    s.saturating_mul(1_000_000_000)
        .saturating_add(u64::from(t.nanos))
}

fn ns_ts(ns: u64) -> Timestamp {
    Timestamp {
        secs: (ns / 1_000_000_000) as i64,
        nanos: (ns % 1_000_000_000) as u32,
    }
}

/// Per-port pcap files, opened as ports first transmit.
struct PcapOutputs {
    dir: PathBuf,
    names: Vec<String>,
    writers: HashMap<PortId, PcapWriter<BufWriter<File>>>,
    tx: Vec<u64>,
    error: Option<ReplayError>,
}

impl PcapOutputs {
    fn path(&self, port: PortId) -> PathBuf {
        let name = self
            .names
            .get(usize::from(port))
            .cloned()
            .unwrap_or_else(|| format!("port{port}"));
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(format!("{safe}.pcap"))
    }

    fn writer(&mut self, port: PortId) -> Option<&mut PcapWriter<BufWriter<File>>> {
        if !self.writers.contains_key(&port) {
            let path = self.path(port);
            let opened = File::create(&path).and_then(|f| {
                PcapWriter::new(BufWriter::new(f), LinkType::Ethernet, 262_144, true)
            });
            match opened {
                Ok(w) => {
                    self.writers.insert(port, w);
                }
                Err(source) => {
                    self.error
                        .get_or_insert(ReplayError::Output { path, source });
                    return None;
                }
            }
        }
        self.writers.get_mut(&port)
    }

    fn count(&mut self, port: PortId) {
        let p = usize::from(port);
        if self.tx.len() <= p {
            self.tx.resize(p + 1, 0);
        }
        self.tx[p] += 1;
    }
}

/// A worker's transmit side: stages a batch's frames, then writes them under one lock.
struct ReplaySink {
    outputs: Arc<Mutex<PcapOutputs>>,
    write: bool,
    arena: Vec<u8>,
    staged: Vec<(PortId, u64, usize, usize)>,
}

impl TxSink for ReplaySink {
    fn transmit(&mut self, pkt: &Cleared<'_>) {
        let (port, frame, time_ns) = (pkt.port(), pkt.frame(), pkt.time_ns());
        let start = self.arena.len();
        if self.write {
            self.arena.extend_from_slice(frame);
        }
        self.staged.push((port, time_ns, start, frame.len()));
    }

    fn flush(&mut self) {
        if self.staged.is_empty() {
            return;
        }
        let mut out = self.outputs.lock().unwrap_or_else(|e| e.into_inner());
        for &(port, t, start, len) in &self.staged {
            out.count(port);
            if !self.write || out.error.is_some() {
                continue;
            }
            let frame = &self.arena[start..start + len];
            let res = match out.writer(port) {
                Some(w) => w.write_packet(ns_ts(t), len as u32, frame),
                None => continue,
            };
            if let Err(source) = res {
                let path = out.path(port);
                out.error
                    .get_or_insert(ReplayError::Output { path, source });
            }
        }
        self.staged.clear();
        self.arena.clear();
    }
}

/// A worker's EVE side: drop events staged per batch, written under one lock.
struct EveObserver {
    eve: Option<Arc<Mutex<EveWriter<BufWriter<File>>>>>,
    names: Arc<Vec<String>>,
    staged: Vec<EveEvent<'static>>,
}

impl EveObserver {
    fn iface(&self, port: PortId) -> String {
        self.names
            .get(usize::from(port))
            .cloned()
            .unwrap_or_else(|| format!("port{port}"))
    }

    fn flush(&mut self) {
        let Some(eve) = &self.eve else {
            return;
        };
        if self.staged.is_empty() {
            return;
        }
        let mut w = eve.lock().unwrap_or_else(|e| e.into_inner());
        for ev in self.staged.drain(..) {
            // Write errors surface when the writer is flushed at the end.
            let _ = w.write(&ev);
        }
    }
}

impl Observer for EveObserver {
    fn on_drop(&mut self, n: &DropNotice<'_>) {
        if self.eve.is_none() {
            return;
        }
        let ev = crate::eve::drop_event(
            n.time_ns,
            Some(self.iface(n.in_port)),
            n.frame,
            n.parsed,
            n.reason,
        );
        self.staged.push(ev);
    }

    fn on_alert(&mut self, _n: &AlertNotice<'_>) {}
}

/// Decides the input port of each packet.
struct PortMapper {
    by_iface: HashMap<u32, PortId>,
    by_mac: HashMap<[u8; 6], PortId>,
    auto: bool,
}

struct Shared {
    slow: Arc<SharedSlowPath>,
    outputs: Arc<Mutex<PcapOutputs>>,
    eve: Option<Arc<Mutex<EveWriter<BufWriter<File>>>>>,
}

/// Replays `path` through the pipeline. `progress` is called now and then with the bytes read.
pub fn replay(
    path: &Path,
    opts: ReplayOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<ReplayReport, ReplayError> {
    let started = Instant::now();
    let auto = opts.config.is_none();
    let config = opts.config.unwrap_or_default();
    let workers = opts.workers.unwrap_or(config.limits.workers).clamp(1, 64);
    let mut reader = CaptureReader::open(path)?;

    let slow = SlowPath::new(&config);
    let mut mapper = PortMapper {
        by_iface: HashMap::new(),
        by_mac: HashMap::new(),
        auto,
    };
    for (id, p) in slow.ports().iter() {
        if let Some(i) = p.interface {
            mapper.by_iface.insert(i, id);
        }
        for m in &p.macs {
            mapper.by_mac.insert(*m, id);
        }
    }
    let slow = SharedSlowPath::new(slow);

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
            Some(Arc::new(Mutex::new(EveWriter::new(BufWriter::new(f)))))
        }
        None => None,
    };
    let shared = Shared {
        slow: Arc::clone(&slow),
        outputs: Arc::new(Mutex::new(PcapOutputs {
            dir: opts.out_dir.clone().unwrap_or_default(),
            names: port_names(&slow.lock()),
            writers: HashMap::new(),
            tx: Vec::new(),
            error: None,
        })),
        eve: eve.clone(),
    };
    let write = opts.out_dir.is_some();
    let make_chain = |fs: &[Arc<InspectorFactory>]| Chain::new(fs.iter().map(|f| f()).collect());

    let mut rx_per_port: Vec<u64> = Vec::new();
    let mut packets_read = 0u64;
    let mut bytes_last = 0u64;
    let mut last_time = 0u64;
    let mut no_port_drops = DatapathCounters::default();
    let mut capture_error = None;
    let mut names = Arc::new(port_names(&slow.lock()));

    let new_worker = |id: usize, names: &Arc<Vec<String>>| {
        let w = Worker::new(
            id,
            &config.limits,
            Arc::clone(&shared.slow),
            make_chain(&opts.ingress),
            make_chain(&opts.egress),
        );
        let sink = ReplaySink {
            outputs: Arc::clone(&shared.outputs),
            write,
            arena: Vec::new(),
            staged: Vec::new(),
        };
        let obs = EveObserver {
            eve: shared.eve.clone(),
            names: Arc::clone(names),
            staged: Vec::new(),
        };
        (w, sink, obs)
    };

    // Reads the next packet, maps it to a port and returns (port, time, number) with the frame
    // loaded into `batch`; `None` at the end or on error.
    let mut finished: Vec<(Worker, ReplaySink, EveObserver)> = Vec::new();
    let result: Result<(), ReplayError> = std::thread::scope(|scope| {
        let mut senders = Vec::new();
        let mut recyclers = Vec::new();
        let mut handles = Vec::new();
        let mut inline = None;
        if workers == 1 {
            inline = Some(new_worker(0, &names));
        } else {
            for id in 0..workers {
                let (tx, rx) = mpsc::sync_channel::<Batch>(4);
                let (back_tx, back_rx) = mpsc::channel::<Batch>();
                for _ in 0..4 {
                    let _ = back_tx.send(Batch::new());
                }
                let (mut w, mut sink, mut obs) = new_worker(id, &names);
                handles.push(scope.spawn(move || {
                    while let Ok(mut b) = rx.recv() {
                        w.process(&mut b, &mut sink, &mut obs);
                        obs.flush();
                        b.clear();
                        let _ = back_tx.send(b);
                    }
                    (w, sink, obs)
                }));
                senders.push(tx);
                recyclers.push(back_rx);
            }
        }
        let mut open: Vec<Option<Batch>> = (0..workers).map(|_| None).collect();
        if let Some((_, _, _)) = &inline {
            open[0] = Some(Batch::new());
        }

        loop {
            let pkt = match reader.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) => {
                    capture_error = Some(e);
                    break;
                }
            };
            packets_read += 1;
            if pkt.link != LinkType::Ethernet {
                return Err(ReplayError::NotEthernet {
                    number: pkt.number,
                    interface: pkt.interface,
                    link: pkt.link,
                });
            }
            let time = ts_ns(pkt.timestamp);
            last_time = last_time.max(time);
            let src_mac: Option<[u8; 6]> = pkt.data.get(6..12).and_then(|m| m.try_into().ok());
            let port = match mapper.by_iface.get(&pkt.interface) {
                Some(p) => Some(*p),
                None => match src_mac {
                    Some(mac) => match mapper.by_mac.get(&mac) {
                        Some(p) => Some(*p),
                        None if mapper.auto && mac[0] & 1 == 0 => {
                            let name = format!(
                                "vm-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
                                mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]
                            );
                            let id = slow
                                .lock()
                                .add_port(Port {
                                    name,
                                    kind: PortKind::Vm,
                                    bridge: 0,
                                    // Carries every VLAN as it came: the capture decides.
                                    vlan: VlanMode::Trunk {
                                        allowed: Vec::new(),
                                        native: Some(0),
                                    },
                                    macs: vec![mac],
                                    ips: Vec::new(),
                                    interface: None,
                                })
                                .ok_or(ReplayError::TooManyPorts { number: pkt.number })?;
                            mapper.by_mac.insert(mac, id);
                            names = Arc::new(port_names(&slow.lock()));
                            shared
                                .outputs
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .names = names.to_vec();
                            if let Some((_, _, obs)) = &mut inline {
                                obs.names = Arc::clone(&names);
                            }
                            Some(id)
                        }
                        None => None,
                    },
                    None => None,
                },
            };
            let Some(port) = port else {
                no_port_drops.rx_packets += 1;
                no_port_drops.rx_bytes += pkt.data.len() as u64;
                no_port_drops.drop(DropReason::NoInputPort);
                if let Some(eve) = &shared.eve {
                    let parsed = parse_packet(pkt.data);
                    let ev = crate::eve::drop_event(
                        time,
                        None,
                        pkt.data,
                        &parsed,
                        DropReason::NoInputPort.name(),
                    );
                    let _ = eve.lock().unwrap_or_else(|e| e.into_inner()).write(&ev);
                }
                continue;
            };
            let p = usize::from(port);
            if rx_per_port.len() <= p {
                rx_per_port.resize(p + 1, 0);
            }
            rx_per_port[p] += 1;
            let meta = OffloadMeta::default();
            let w = if workers == 1 {
                0
            } else {
                let key = match FlowKey::from_frame(port, pkt.data) {
                    Some((key, _)) => key,
                    None => FlowKey::extract(port, pkt.data, &parse_packet(pkt.data)),
                };
                key.symmetric_hash() as usize % workers
            };
            if open[w].is_none() {
                // Wait for a batch the worker has finished with.
                match recyclers[w].recv() {
                    Ok(b) => open[w] = Some(b),
                    Err(_) => return Ok(()),
                }
            }
            let Some(batch) = open[w].as_mut() else {
                continue;
            };
            if !batch.push(pkt.data, port, time, pkt.number, meta) {
                // Larger than a packet buffer (not a valid frame for any port).
                no_port_drops.rx_packets += 1;
                no_port_drops.drop(DropReason::Malformed);
                continue;
            }
            if batch.is_full() || batch.len() >= config.limits.batch_size {
                if let Some((wk, sink, obs)) = &mut inline {
                    wk.process(batch, sink, obs);
                    obs.flush();
                    batch.clear();
                } else if let Some(b) = open[w].take() {
                    let _ = senders[w].send(b);
                }
                let read = reader.bytes_read();
                if read - bytes_last >= 1 << 20 {
                    bytes_last = read;
                    progress(read);
                }
            }
        }
        // Last partial batches.
        for (w, slot) in open.iter_mut().enumerate() {
            if let Some(mut b) = slot.take() {
                if b.is_empty() {
                    continue;
                }
                if let Some((wk, sink, obs)) = &mut inline {
                    wk.process(&mut b, sink, obs);
                    obs.flush();
                } else {
                    let _ = senders[w].send(b);
                }
            }
        }
        drop(senders);
        if let Some(x) = inline.take() {
            finished.push(x);
        }
        for h in handles {
            match h.join() {
                Ok(x) => finished.push(x),
                Err(p) => std::panic::resume_unwind(p),
            }
        }
        Ok(())
    });
    result?;
    progress(reader.bytes_read());

    // Settle: expire, age and revalidate at the capture's last moment.
    let mut counters = no_port_drops;
    let mut flows_active = 0;
    for (w, sink, obs) in &mut finished {
        w.maintain_now(last_time);
        sink.flush();
        obs.flush();
        counters.add(w.counters());
        flows_active += w.flow_table().len();
    }
    finished.sort_by_key(|(w, _, _)| w.id());

    let sp = slow.lock();
    let mut outputs = shared.outputs.lock().unwrap_or_else(|e| e.into_inner());
    outputs.names = port_names(&sp);
    let ports: Vec<PortReport> = sp
        .ports()
        .iter()
        .map(|(id, p)| PortReport {
            id,
            name: p.name.clone(),
            kind: p.kind,
            bridge: sp.bridges().get(p.bridge).cloned().unwrap_or_default(),
            rx_packets: rx_per_port.get(usize::from(id)).copied().unwrap_or(0),
            tx_packets: outputs.tx.get(usize::from(id)).copied().unwrap_or(0),
        })
        .collect();
    if write {
        // One file per port, even for ports that sent nothing.
        for p in &ports {
            let _ = outputs.writer(p.id);
        }
        let mut failed = None;
        for (port, w) in outputs.writers.iter_mut() {
            if let Err(source) = w.flush() {
                failed.get_or_insert((*port, source));
            }
        }
        if let Some((port, source)) = failed {
            let path = outputs.path(port);
            outputs
                .error
                .get_or_insert(ReplayError::Output { path, source });
        }
    }
    if let Some(e) = outputs.error.take() {
        return Err(e);
    }
    let slow_counters = sp.counters();
    let macs = sp.fdb().len();
    drop(outputs);
    drop(sp);

    let mut eve_events = 0;
    if let (Some(eve), Some(path)) = (eve, &opts.eve) {
        let mut w = eve.lock().unwrap_or_else(|e| e.into_inner());
        let stats = crate::eve::stats_event(
            last_time,
            started.elapsed(),
            &counters,
            &slow_counters,
            flows_active,
        );
        let res = w.write(&stats).and_then(|_| w.flush());
        res.map_err(|source| ReplayError::Output {
            path: path.clone(),
            source,
        })?;
        eve_events = w.events_written();
    }

    Ok(ReplayReport {
        packets_read,
        bytes_read: reader.bytes_read(),
        counters,
        slow_path: slow_counters,
        ports,
        flows_active,
        macs_learnt: macs,
        workers,
        elapsed: started.elapsed(),
        error: capture_error,
        eve_events,
    })
}

fn port_names(slow: &SlowPath) -> Vec<String> {
    slow.ports().iter().map(|(_, p)| p.name.clone()).collect()
}
