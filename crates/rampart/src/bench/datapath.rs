//! `rampart bench datapath`: the whole pipeline on in-memory ports, one core, 64-byte frames.
//!
//! Every packet goes through what a live port's packets go through: MAC learning in arrival
//! order (the learner), load into a preallocated buffer, ingress inspection (an empty chain,
//! still counted), flow lookup, actions, egress inspection (empty), transmit to a counting
//! sink. The cases mirror
//! `../shared/bench/fastpath/` so the two can be quoted side by side:
//!
//! * `emc`: every flow installed, traffic cycling over N flows (1k fit the exact-match cache;
//!   100k and 1M do not, so those are megaflow hits behind a thrashing cache, as in OVS);
//! * `megaflow S/first|last`: the exact-match cache off, S subtables, the traffic's subtable
//!   probed first or last (pinned by priority), M = 1000 megaflows in all;
//! * `setup`: every packet a new flow: upcall, MAC learning, decision, install, then
//!   forwarding. Two kinds: new pairs of K client and K server MACs (K² flows; each client's
//!   MAC is learnt by its first flow and refreshed by the rest, as on a busy host), and a new
//!   source MAC per flow (a MAC flood: the FDB grows as large as the flow table).
//!
//! * `conn established`: N connections (half TCP, half UDP), each opened by a handshake in
//!   both directions beforehand, then traffic cycling over their clients' packets: the
//!   connection table finds an established connection for every packet, and the flow table
//!   an exact-match hit (1k) or a megaflow hit behind a thrashing cache (100k, 1M), as in
//!   `emc` (the server's reply flows are removed after the handshakes, so the flow table holds
//!   what `emc`'s does);
//! * `conn new`: every packet a new connection (a TCP SYN or a UDP datagram with a fresh
//!   address and port) from 1024 clients whose megaflows are installed; packet time runs so
//!   that connections time out after Suricata's 30 s and the worker's ticks expire them, so
//!   each connection is created, counted and ended once.
//!
//! Every case also tracks connections (the pipeline always does); `emc`'s TCP packets come
//! without a handshake, so their connections stay `invalid`, and its UDP ones stay `new`.
//!
//! Timing is wall-clock over whole passes (no per-packet timer), repeated; the median and the
//! minimum are reported. Nothing here is asserted: figures go to BENCHMARKS.md.

use std::hint::black_box;
use std::time::Instant;

use flow::{Action, Field, FlowKey, FlowMask, OffloadMeta};

use datapath::config::Config;
use datapath::learn::{Learner, SwitchChange};
use datapath::memory::MemorySink;
use datapath::pipeline::{Batch, NoObserver, Worker};
use datapath::port::{Port, PortId, PortKind, VlanMode};
use datapath::slowpath::SlowPath;
use engine::Chain;

/// One measured case.
#[derive(Debug, Clone)]
pub struct BenchResult {
    pub case: String,
    /// Distinct flows in the traffic.
    pub flows: usize,
    /// Megaflows installed while measuring.
    pub megaflows: usize,
    pub median_ns: f64,
    pub min_ns: f64,
    /// Share of lookups answered by the exact-match cache.
    pub emc_hit_rate: f64,
    /// Flow-table bytes per installed megaflow (EMC included, FDB not).
    pub bytes_per_flow: Option<f64>,
}

impl BenchResult {
    /// Million packets per second at the median.
    pub fn mpps(&self) -> f64 {
        1000.0 / self.median_ns
    }
}

/// How much to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Repetitions per case.
    pub reps: usize,
    /// Packets per repetition (setup: new flows per repetition).
    pub packets: u64,
    /// Largest flow count (1M by default; smaller for a quick run).
    pub max_flows: usize,
    /// Run only the group of cases (emc, megaflow, conn, setup) whose name contains this.
    pub only: Option<String>,
    /// Whether the timed passes of the hit and connection cases show every frame to the
    /// learner, as the runtime does (every MAC is learnt before timing either way; the setup
    /// cases always learn). Without it the figures are the worker's alone, as issue 4
    /// measured them before the learner existed.
    pub learner: bool,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            reps: 7,
            packets: 4 << 20,
            max_flows: 1 << 20,
            only: None,
            learner: true,
        }
    }
}

const SERVER: [u8; 6] = [2, 0xee, 0, 0, 0, 1];

fn client_mac(i: u32) -> [u8; 6] {
    let b = i.to_be_bytes();
    [2, 0x10, b[0], b[1], b[2], b[3]]
}

fn server_mac(i: u32) -> [u8; 6] {
    let b = i.to_be_bytes();
    [2, 0xee, b[0], b[1], b[2], b[3] ^ 1]
}

/// A 64-byte frame of flow `i`: client MAC i -> the server, IPv4, TCP or UDP.
fn frame(i: u32) -> [u8; 64] {
    frame_to(i, SERVER)
}

/// A 64-byte frame of flow `i` to the MAC `dst`.
fn frame_to(i: u32, dst: [u8; 6]) -> [u8; 64] {
    let mut f = [0u8; 64];
    f[0..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&client_mac(i));
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let ip = &mut f[14..34];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&50u16.to_be_bytes());
    ip[8] = 64;
    let tcp = i.is_multiple_of(2);
    ip[9] = if tcp { 6 } else { 17 };
    let b = i.to_be_bytes();
    ip[12..16].copy_from_slice(&[10, b[1], b[2], b[3]]);
    ip[16..20].copy_from_slice(&[10, 255, 0, 1]);
    let c = wire::checksum::checksum(ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let l4 = &mut f[34..];
    l4[0..2].copy_from_slice(&(1024 + (i % 60_000) as u16).to_be_bytes());
    l4[2..4].copy_from_slice(&80u16.to_be_bytes());
    if tcp {
        l4[12] = 5 << 4;
        l4[13] = 0x10;
    } else {
        l4[4..6].copy_from_slice(&30u16.to_be_bytes());
    }
    f
}

/// Sets the TCP flags, sequence and acknowledgement numbers of a [`frame`], and its IP total
/// length (40: no payload; 50: ten bytes), keeping the IP checksum right.
fn set_tcp(f: &mut [u8; 64], flags: u8, seq: u32, ack: u32, ip_len: u16) {
    f[16..18].copy_from_slice(&ip_len.to_be_bytes());
    f[24..26].fill(0);
    let c = wire::checksum::checksum(&f[14..34]);
    f[24..26].copy_from_slice(&c.to_be_bytes());
    f[38..42].copy_from_slice(&seq.to_be_bytes());
    f[42..46].copy_from_slice(&ack.to_be_bytes());
    f[47] = flags;
}

/// The server's answer to a [`frame`]: MACs, addresses and ports swapped (the IP checksum is
/// unchanged by a swap).
fn reply(f: &[u8; 64]) -> [u8; 64] {
    let mut r = *f;
    r[0..6].copy_from_slice(&f[6..12]);
    r[6..12].copy_from_slice(&f[0..6]);
    r[26..30].copy_from_slice(&f[30..34]);
    r[30..34].copy_from_slice(&f[26..30]);
    r[34..36].copy_from_slice(&f[36..38]);
    r[36..38].copy_from_slice(&f[34..36]);
    r
}

/// The server on port 0, clients on ports 1..=3 of one bridge.
fn config(max_flows: usize, emc: bool) -> Config {
    let mut c = Config::default();
    c.limits.max_flows = max_flows.max(1024) * 2;
    c.limits.mac_table_size = max_flows.max(1024) * 2;
    c.limits.upcall_rate = u64::MAX / 4;
    c.limits.upcall_burst = u64::MAX / 4;
    c.limits.idle_timeout_ms = 3_600_000;
    c.limits.mac_aging_s = 3_600;
    // Room for a connection per flow (the pipeline tracks every packet's connection; a full
    // table would early-drop one for every new one).
    c.limits.max_connections = (max_flows.max(1024) as u32).next_power_of_two();
    if !emc {
        c.limits.emc_insert_inv_prob = 0;
        c.limits.emc_entries = 0;
    }
    for n in 0..4 {
        c.ports.push(Port {
            name: format!("vm{n}"),
            kind: PortKind::Vm,
            bridge: 0,
            vlan: VlanMode::Untagged,
            macs: Vec::new(),
            ips: Vec::new(),
            interface: None,
        });
    }
    c
}

/// What the benchmark drives: the learner and one worker, as the runtime has them.
struct Rig {
    learner: Learner,
    /// False while timing without the learner (see [`BenchOptions::learner`]).
    learning: bool,
    w: Worker,
    batch: Batch,
    sink: MemorySink,
    changes: Vec<SwitchChange>,
}

impl Rig {
    fn new(cfg: &Config) -> Rig {
        Rig {
            learner: Learner::new(cfg),
            learning: true,
            w: Worker::new(
                0,
                &cfg.limits,
                SlowPath::new(cfg),
                Chain::default(),
                Chain::default(),
            ),
            batch: Batch::new(),
            sink: MemorySink::new(false),
            changes: Vec::new(),
        }
    }

    /// Processes the open batch.
    fn process(&mut self) {
        self.w
            .process(&mut self.batch, &mut self.sink, &mut NoObserver);
        self.batch.clear();
    }

    /// Learns from a frame as the runtime's dispatcher does; a change first sends the open
    /// batch, then reaches the worker.
    #[inline]
    fn learn(&mut self, port: PortId, frame: &[u8], now: u64) {
        if self.learning && self.learner.observe(port, frame, now, &mut self.changes) {
            if !self.batch.is_empty() {
                self.process();
            }
            for c in self.changes.drain(..) {
                self.w.apply(&c);
            }
        }
    }

    /// Sends one frame now (learning, then a batch of its own).
    fn send_one(&mut self, port: PortId, frame: &[u8], now: u64) {
        self.learn(port, frame, now);
        self.batch.push(frame, port, now, 0, OffloadMeta::default());
        self.process();
    }
}

fn in_port(i: u32) -> u16 {
    1 + (i % 3) as u16
}

/// Frames and the port each arrives on.
struct Traffic {
    frames: Vec<[u8; 64]>,
    ports: Vec<PortId>,
}

impl Traffic {
    /// Flow `i` from client `i` (on port `in_port(i)`) to the one server.
    fn clients(n: u32) -> Traffic {
        Traffic {
            frames: (0..n).map(frame).collect(),
            ports: (0..n).map(in_port).collect(),
        }
    }
}

/// Sends the traffic's frames through `w`, `count` packets starting at `start` (wrapping);
/// returns the next start. Time advances 1 ns per packet so no flow idles out.
fn pump(rig: &mut Rig, traffic: &Traffic, start: usize, count: u64, clock: &mut u64) -> usize {
    let n = traffic.frames.len().min(traffic.ports.len());
    if n == 0 {
        return start;
    }
    let (frames, ports) = (&traffic.frames[..n], &traffic.ports[..n]);
    let mut at = start;
    let mut left = count;
    while left > 0 {
        let k = left.min(32) as usize;
        let mut filled = 0;
        while filled < k {
            // A run of consecutive frames up to the end of the traffic (no per-packet wrap
            // or bounds check: the harness should cost little next to the pipeline).
            let take = (k - filled).min(n - at);
            for (f, &p) in frames[at..at + take].iter().zip(&ports[at..at + take]) {
                *clock += 1;
                rig.learn(p, f, *clock);
                rig.batch.push(f, p, *clock, 0, OffloadMeta::default());
            }
            filled += take;
            at += take;
            if at == n {
                at = 0;
            }
        }
        rig.process();
        left -= k as u64;
    }
    at
}

fn stats(samples: &mut [f64]) -> (f64, f64) {
    samples.sort_by(|a, b| a.total_cmp(b));
    (samples[samples.len() / 2], samples[0])
}

/// Teaches the switch where the server is (one frame from it).
fn learn_server(rig: &mut Rig) {
    let mut f = frame(0);
    f[0..6].copy_from_slice(&client_mac(0));
    f[6..12].copy_from_slice(&SERVER);
    rig.send_one(0, &f, 0);
}

fn bench_hits(opts: &BenchOptions, flows: usize, out: &mut Vec<BenchResult>) {
    let frames = Traffic::clients(flows as u32);
    let cfg = config(flows, true);
    let mut rig = Rig::new(&cfg);
    learn_server(&mut rig);
    let mut clock = 1;
    // Install every flow, then warm the caches.
    let mut at = pump(&mut rig, &frames, 0, flows as u64, &mut clock);
    at = pump(
        &mut rig,
        &frames,
        at,
        (2 * flows as u64).max(1 << 20),
        &mut clock,
    );
    let before = rig.w.counters().clone();
    rig.learning = opts.learner;
    let mut samples = Vec::new();
    for _ in 0..opts.reps {
        let t = Instant::now();
        at = pump(&mut rig, &frames, at, opts.packets, &mut clock);
        samples.push(t.elapsed().as_nanos() as f64 / opts.packets as f64);
    }
    let c = rig.w.counters();
    let lookups = (c.lookups - before.lookups).max(1);
    assert_eq!(
        c.misses, before.misses,
        "every flow was installed before timing"
    );
    let (median_ns, min_ns) = stats(&mut samples);
    let table = rig.w.flow_table();
    out.push(BenchResult {
        case: "emc".into(),
        flows,
        megaflows: table.len(),
        median_ns,
        min_ns,
        emc_hit_rate: (c.emc_hits - before.emc_hits) as f64 / lookups as f64,
        bytes_per_flow: Some(table.memory_bytes() as f64 / table.len().max(1) as f64),
    });
    black_box(rig.sink.transmitted_total());
}

fn decoy_mask(j: u32) -> FlowMask {
    let mut m = FlowMask::CATCHALL
        .with(Field::InPort)
        .with(Field::DlType)
        .with(Field::NwProto)
        .with_nw_src_prefix(1 + (j % 32) as u8);
    if j >= 32 {
        m = m.with(Field::TpDst);
    }
    m
}

fn bench_megaflow(
    opts: &BenchOptions,
    subtables: u32,
    last: bool,
    total: u32,
    out: &mut Vec<BenchResult>,
) {
    let per = total / subtables;
    let frames = Traffic::clients(per);
    let cfg = config(total as usize, false);
    let mut rig = Rig::new(&cfg);
    learn_server(&mut rig);
    let mut clock = 1;
    let mut at = pump(&mut rig, &frames, 0, u64::from(per), &mut clock);
    // Decoy subtables: other masks, entries the traffic never matches (in_ports it never
    // uses), ranked above the traffic's subtable when it must be probed last.
    let prio = if last { 1000 } else { 1 };
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for j in 0..subtables - 1 {
        for e in 0..per {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut k = FlowKey::zero();
            k.set_in_port(100 + ((j * per + e) % 3000) as u16);
            k.set_dl_type(0x0800);
            k.set_nw_proto(6);
            k.set_ipv4_src((x as u32).to_be_bytes());
            k.set_tp_dst(x as u16);
            let _ = rig.w.flow_table_mut().install(
                &k,
                &decoy_mask(j),
                prio,
                &[Action::Output(1)],
                u64::MAX,
                0,
            );
        }
    }
    at = pump(&mut rig, &frames, at, 1 << 20, &mut clock);
    let before = rig.w.counters().clone();
    let probes_before = rig.w.flow_table().counters().subtables_probed;
    rig.learning = opts.learner;
    let mut samples = Vec::new();
    for _ in 0..opts.reps {
        let t = Instant::now();
        at = pump(&mut rig, &frames, at, opts.packets, &mut clock);
        samples.push(t.elapsed().as_nanos() as f64 / opts.packets as f64);
    }
    let c = rig.w.counters();
    assert_eq!(c.misses, before.misses, "no upcall while timing");
    let hits = (c.megaflow_hits - before.megaflow_hits).max(1);
    let probed = rig.w.flow_table().counters().subtables_probed - probes_before;
    let (median_ns, min_ns) = stats(&mut samples);
    out.push(BenchResult {
        case: format!(
            "megaflow {subtables}/{} ({:.1} probed)",
            if last { "last" } else { "first" },
            probed as f64 / hits as f64
        ),
        flows: per as usize,
        megaflows: rig.w.flow_table().len(),
        median_ns,
        min_ns,
        emc_hit_rate: 0.0,
        bytes_per_flow: None,
    });
}

/// How the flows of the setup case differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setup {
    /// Every flow a new pair of known-to-be-active MACs: K clients each talking to K servers
    /// (K = the square root of the flow count), as on a busy host whose VMs open new
    /// conversations. The slow path refreshes the client's MAC and installs a megaflow.
    Pairs,
    /// Every flow from a new source MAC (a MAC flood): the slow path also learns a MAC per
    /// flow, in an FDB as large as the flow table.
    NewMacs,
}

fn bench_setup(opts: &BenchOptions, flows: usize, kind: Setup, out: &mut Vec<BenchResult>) {
    let k = (flows as f64).sqrt().ceil() as u32;
    let traffic = match kind {
        Setup::NewMacs => Traffic::clients(flows as u32),
        Setup::Pairs => {
            // Client-major: each client's first flow learns it, the rest refresh it.
            let (mut frames, mut ports) = (Vec::with_capacity(flows), Vec::with_capacity(flows));
            'all: for c in 0..k {
                for s in 0..k {
                    if frames.len() == flows {
                        break 'all;
                    }
                    frames.push(frame_to(c, server_mac(s)));
                    ports.push(in_port(c));
                }
            }
            Traffic { frames, ports }
        }
    };
    let cfg = config(flows, true);
    let mut samples = Vec::new();
    let mut installed = 0;
    for _ in 0..opts.reps {
        // A fresh worker and slow path per repetition (not timed): every flow is new.
        let mut rig = Rig::new(&cfg);
        learn_server(&mut rig);
        if kind == Setup::Pairs {
            learn_servers(&mut rig, k);
        }
        let mut clock = 1;
        let before = rig.w.counters().flows_installed;
        let t = Instant::now();
        pump(&mut rig, &traffic, 0, flows as u64, &mut clock);
        samples.push(t.elapsed().as_nanos() as f64 / flows as f64);
        installed = rig.w.counters().flows_installed - before;
        black_box(rig.sink.transmitted_total());
    }
    let (median_ns, min_ns) = stats(&mut samples);
    out.push(BenchResult {
        case: match kind {
            Setup::Pairs => format!("setup ({k}x{k} MACs)"),
            Setup::NewMacs => "setup (new MAC each)".into(),
        },
        flows,
        megaflows: installed as usize,
        median_ns,
        min_ns,
        emc_hit_rate: 0.0,
        bytes_per_flow: None,
    });
}

/// Teaches the switch `k` servers on port 0 (one broadcast frame from each; not timed).
fn learn_servers(rig: &mut Rig, k: u32) {
    for s in 0..k {
        let mut f = frame_to(0, [0xff; 6]);
        f[6..12].copy_from_slice(&server_mac(s));
        rig.learn(0, &f, 0);
        rig.batch.push(&f, 0, 0, 0, OffloadMeta::default());
        if rig.batch.is_full() {
            rig.process();
        }
    }
    rig.process();
}

/// Client and server sequence numbers of the handshakes.
const CLIENT_ISN: u32 = 1000;
const SERVER_ISN: u32 = 5000;

fn bench_conn_established(opts: &BenchOptions, conns: usize, out: &mut Vec<BenchResult>) {
    let n = conns as u32;
    let mut cfg = config(conns, true);
    cfg.limits.max_connections = n.next_power_of_two().max(1024);
    cfg.limits.max_flows = conns.max(1024) * 2 + 1024;
    let mut rig = Rig::new(&cfg);
    learn_server(&mut rig);
    // (Its packet, from the server to client 0 without a handshake, counted one invalid.)
    let invalid_before = rig.w.connections().counters().invalid;
    let mut clock = 1;
    // Three passes, as a TCP handshake goes: the client's first packet (TCP: SYN), the
    // server's answer (SYN-ACK; UDP: a reply), the client's (ACK; UDP: another datagram).
    let client = |i: u32, flags: u8, seq: u32, ack: u32, ip_len: u16| {
        let mut f = frame(i);
        if i.is_multiple_of(2) {
            set_tcp(&mut f, flags, seq, ack, ip_len);
        }
        f
    };
    let syn = Traffic {
        frames: (0..n).map(|i| client(i, 0x02, CLIENT_ISN, 0, 40)).collect(),
        ports: (0..n).map(in_port).collect(),
    };
    let answer = Traffic {
        frames: (0..n)
            .map(|i| {
                let mut f = reply(&frame(i));
                if i.is_multiple_of(2) {
                    set_tcp(&mut f, 0x12, SERVER_ISN, CLIENT_ISN + 1, 40);
                }
                f
            })
            .collect(),
        ports: vec![0; conns],
    };
    let ack = Traffic {
        frames: (0..n)
            .map(|i| client(i, 0x10, CLIENT_ISN + 1, SERVER_ISN + 1, 40))
            .collect(),
        ports: (0..n).map(in_port).collect(),
    };
    for t in [&syn, &answer, &ack] {
        pump(&mut rig, t, 0, u64::from(n), &mut clock);
    }
    // The server's flows served only the handshakes: without them the flow table holds what
    // `emc`'s does, the clients' flows.
    let server_flows: Vec<_> = rig
        .w
        .flow_table()
        .iter()
        .filter(|f| f.key.in_port() == 0)
        .map(|f| f.id)
        .collect();
    for id in server_flows {
        rig.w.flow_table_mut().remove(id);
    }
    let traffic = Traffic {
        frames: (0..n)
            .map(|i| client(i, 0x10, CLIENT_ISN + 1, SERVER_ISN + 1, 50))
            .collect(),
        ports: (0..n).map(in_port).collect(),
    };
    let at = pump(
        &mut rig,
        &traffic,
        0,
        (2 * u64::from(n)).max(1 << 20),
        &mut clock,
    );
    let conn_before = *rig.w.connections().counters();
    assert_eq!(rig.w.connections().len(), conns, "every connection is live");
    assert_eq!(
        conn_before.invalid, invalid_before,
        "every handshake completed: {conn_before:?}"
    );
    let before = rig.w.counters().clone();
    rig.learning = opts.learner;
    let mut samples = Vec::new();
    let mut at = at;
    for _ in 0..opts.reps {
        let t = Instant::now();
        at = pump(&mut rig, &traffic, at, opts.packets, &mut clock);
        samples.push(t.elapsed().as_nanos() as f64 / opts.packets as f64);
    }
    let c = rig.w.counters();
    assert_eq!(c.misses, before.misses, "no upcall while timing");
    let cc = rig.w.connections().counters();
    assert_eq!(
        (cc.created, cc.invalid, cc.hits - conn_before.hits),
        (
            conn_before.created,
            invalid_before,
            opts.packets * opts.reps as u64
        ),
        "every packet found its established connection"
    );
    let lookups = (c.lookups - before.lookups).max(1);
    let (median_ns, min_ns) = stats(&mut samples);
    let table = rig.w.flow_table();
    out.push(BenchResult {
        case: "conn established".into(),
        flows: conns,
        megaflows: table.len(),
        median_ns,
        min_ns,
        emc_hit_rate: (c.emc_hits - before.emc_hits) as f64 / lookups as f64,
        bytes_per_flow: Some(table.memory_bytes() as f64 / table.len().max(1) as f64),
    });
    black_box(rig.sink.transmitted_total());
}

/// Clients of the `conn new` case (each with its megaflow installed).
const NEW_CONN_CLIENTS: u32 = 1024;
/// Packet time between two new connections in the `conn new` case (at least): with
/// Suricata's 30 s timeout for new connections, about 256k are live at any time.
const NEW_CONN_STEP_NS: u64 = 117_000;

/// The `k`-th new connection: a TCP SYN (even `k`) or a UDP datagram from client
/// `k % NEW_CONN_CLIENTS`, with an address and source port no other `k` below 2^32 has.
fn new_conn_frame(k: u32) -> [u8; 64] {
    let c = k % NEW_CONN_CLIENTS;
    // TCP for even clients, UDP for odd ones, as `frame` has them.
    let mut f = frame_to(c, SERVER);
    if c.is_multiple_of(2) {
        set_tcp(&mut f, 0x02, CLIENT_ISN, 0, 40);
    }
    let addr = (k / NEW_CONN_CLIENTS).to_be_bytes();
    f[26..30].copy_from_slice(&[10 + addr[0] % 64, addr[1], addr[2], addr[3]]);
    f[24..26].fill(0);
    let sum = wire::checksum::checksum(&f[14..34]);
    f[24..26].copy_from_slice(&sum.to_be_bytes());
    f[34..36].copy_from_slice(&(1024 + (c % 60_000) as u16).to_be_bytes());
    f
}

fn bench_conn_new(opts: &BenchOptions, count: usize, out: &mut Vec<BenchResult>) {
    let mut cfg = config(NEW_CONN_CLIENTS as usize, true);
    cfg.limits.max_connections = 1 << 20;
    let mut rig = Rig::new(&cfg);
    learn_server(&mut rig);
    // `count` connections, sent again and again: by the time a tuple comes back (at least
    // 40 s of packet time later), its connection has timed out, so it is new again.
    let step = NEW_CONN_STEP_NS.max(40_000_000_000 / count.max(1) as u64);
    let frames: Vec<[u8; 64]> = (0..count as u32).map(new_conn_frame).collect();
    let ports: Vec<PortId> = (0..count as u32)
        .map(|k| in_port(k % NEW_CONN_CLIENTS))
        .collect();
    let mut clock = 1_000_000_000u64;
    let mut next_tick = clock;
    let mut run = |rig: &mut Rig, clock: &mut u64| {
        for (f, &p) in frames.iter().zip(&ports) {
            *clock += step;
            if *clock >= next_tick {
                // The runtime's tick, once a second of packet time, between batches.
                if !rig.batch.is_empty() {
                    rig.process();
                }
                rig.w.tick(*clock, 0, &mut NoObserver);
                next_tick += 1_000_000_000;
            }
            rig.learn(p, f, *clock);
            rig.batch.push(f, p, *clock, 0, OffloadMeta::default());
            if rig.batch.is_full() {
                rig.process();
            }
        }
        if !rig.batch.is_empty() {
            rig.process();
        }
    };
    // The first pass installs the clients' flows and fills the table to its steady state.
    run(&mut rig, &mut clock);
    let before = rig.w.counters().clone();
    let conn_before = *rig.w.connections().counters();
    rig.learning = opts.learner;
    let mut samples = Vec::new();
    for _ in 0..opts.reps {
        let t = Instant::now();
        run(&mut rig, &mut clock);
        samples.push(t.elapsed().as_nanos() as f64 / count as f64);
    }
    let c = rig.w.counters();
    let cc = rig.w.connections().counters();
    assert_eq!(c.misses, before.misses, "no upcall while timing");
    assert_eq!(
        cc.created - conn_before.created,
        (count * opts.reps) as u64,
        "every packet made a connection"
    );
    assert_eq!(
        cc.early_drops, 0,
        "connections time out, none is forced out"
    );
    let lookups = (c.lookups - before.lookups).max(1);
    let (median_ns, min_ns) = stats(&mut samples);
    out.push(BenchResult {
        case: format!("conn new ({}k live)", rig.w.connections().len() / 1000),
        flows: count,
        megaflows: rig.w.flow_table().len(),
        median_ns,
        min_ns,
        emc_hit_rate: (c.emc_hits - before.emc_hits) as f64 / lookups as f64,
        bytes_per_flow: None,
    });
}

/// Runs every case (or those matching `opts.only`), calling `done` after each.
pub fn run(opts: &BenchOptions, done: &mut dyn FnMut(&BenchResult)) -> Vec<BenchResult> {
    let mut out = Vec::new();
    let wanted = |name: &str| opts.only.as_deref().is_none_or(|o| name.contains(o));
    let mut report = |out: &mut Vec<BenchResult>, n: usize| {
        for r in &out[n..] {
            done(r);
        }
    };
    for flows in [1_000usize, 100_000, 1 << 20] {
        if flows <= opts.max_flows && wanted("emc") {
            let n = out.len();
            bench_hits(opts, flows.min(opts.max_flows), &mut out);
            report(&mut out, n);
        }
    }
    for (s, last) in [(1, false), (10, false), (10, true), (50, false), (50, true)] {
        if wanted(&format!(
            "megaflow {s}/{}",
            if last { "last" } else { "first" }
        )) {
            let n = out.len();
            bench_megaflow(opts, s, last, 1000, &mut out);
            report(&mut out, n);
        }
    }
    for conns in [1_000usize, 100_000, 1 << 20] {
        if conns <= opts.max_flows && wanted("conn established") {
            let n = out.len();
            bench_conn_established(opts, conns, &mut out);
            report(&mut out, n);
        }
    }
    if wanted("conn new") {
        let n = out.len();
        bench_conn_new(opts, opts.max_flows, &mut out);
        report(&mut out, n);
    }
    for (kind, name) in [
        (Setup::Pairs, "setup pairs"),
        (Setup::NewMacs, "setup new-macs"),
    ] {
        if wanted(name) {
            let n = out.len();
            bench_setup(opts, opts.max_flows, kind, &mut out);
            report(&mut out, n);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_parse_as_intended() {
        for i in 0..4 {
            let f = frame(i);
            let p = wire::parse_packet(&f);
            assert_eq!(p.l3, wire::L3::Ipv4);
            assert!(matches!(p.l4, wire::L4::Tcp | wire::L4::Udp));
            assert!(p.truncated.is_none() && p.anomalies.is_empty(), "{p:?}");
            assert_eq!(wire::checksum::checksum(&f[14..34]), 0);
        }
    }

    #[test]
    fn every_case_runs_small() {
        let opts = BenchOptions {
            reps: 1,
            packets: 2048,
            max_flows: 2048,
            only: None,
            learner: true,
        };
        let mut seen = 0;
        let r = run(&opts, &mut |_| seen += 1);
        assert_eq!(r.len(), seen);
        assert!(r.iter().any(|r| r.case == "emc" && r.emc_hit_rate > 0.9));
        assert!(r.iter().any(|r| r.case.starts_with("megaflow 10/last")));
        assert_eq!(
            r.iter()
                .filter(|r| r.case == "conn established")
                .map(|r| r.flows)
                .collect::<Vec<_>>(),
            [1000]
        );
        assert!(r.iter().any(|r| r.case.starts_with("conn new")));
        // Without the learner in the timed passes, the cases still hit what they hit (each
        // asserts that no packet went up to the slow path and no connection was made anew).
        let quiet = run(
            &BenchOptions {
                learner: false,
                only: Some("conn".into()),
                ..opts.clone()
            },
            &mut |_| {},
        );
        assert_eq!(quiet.len(), 2);
        let setups: Vec<_> = r.iter().filter(|r| r.case.starts_with("setup")).collect();
        assert_eq!(setups.len(), 2);
        for s in setups {
            assert_eq!(s.megaflows, 2048, "{s:?}");
        }
    }
}
