//! The whole pipeline against a reference model: which frames must leave which port.
//!
//! A scenario (made from arbitrary bytes, so the fuzzer and the property test share it) is a
//! sequence of frames entering the ports of a switch of two bridges with untagged, access and
//! trunk ports, from hosts that sometimes move, to known, unknown and broadcast destinations,
//! with short frames in runs (whole batches that die before the lookup) and repeated flows
//! (hits). Two test engines give verdicts that are a function of the bytes they see: at ingress
//! pass, alert, drop, reject or drop-the-connection (UDP); at egress, per output copy, pass,
//! alert, drop or reject.
//!
//! The [`Model`] handles one packet at a time, as the pipeline's documentation says it behaves:
//! learning from every frame that enters, in arrival order; a packet of a connection dropped
//! whole is dropped before the engines; the ingress verdict; the learning-switch decision (VLAN
//! admission, invalid source, hairpin, unicast or flood with each port's tag); the egress
//! verdict per copy; a reject answered once per packet from the frame as received, out of the
//! input port, after its own egress inspection. The real pipeline runs the same frames through
//! the runtime with a random batch size, worker count and steering key, and must send exactly
//! the model's frames out of each port, in arrival order; its EVE output must be the same for
//! one worker and for several; and every frame out must have passed both stages.
//!
//! Limits are set high: a worker's own limits (upcall meter, reject rate, tables) are the one
//! place results may depend on the worker count, and they are tested elsewhere.

use conn::SteeringKey;
use datapath::config::Config;
use datapath::pipeline::Worker;
use datapath::port::{Port, PortId, PortKind, VlanMode};
use datapath::runtime::{self, MemorySource, OrderKey, OutputSink, RuntimeSetup};
use engine::{Alert, Chain, Engine, HostedEngine, Inspection, Reason};
use std::collections::{HashMap, HashSet};
use wire::{L3, L4};

/// Bytes read one at a time, 0 once exhausted.
struct Bytes<'a> {
    data: &'a [u8],
    at: usize,
}

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }
    fn done(&self) -> bool {
        self.at >= self.data.len()
    }
}

/// A frame and the port it enters by.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub port: PortId,
    pub time_ns: u64,
    pub frame: Vec<u8>,
}

/// A scenario: the switch's settings and the frames.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub batch_size: usize,
    pub workers: usize,
    pub steering_seed: u64,
    pub verdict_seed: u64,
    pub arrivals: Vec<Arrival>,
}

const HOSTS: u8 = 8;

fn host_mac(h: u8) -> [u8; 6] {
    [2, 0, 0, 0, 0, h + 1]
}

/// The ports: br0 has two untagged ports, an access port of VLAN 10 and a trunk of VLANs 10
/// and 20 with untagged frames native to VLAN 0... (see [`config`]); br1 has an untagged port
/// and an access port of VLAN 20.
fn ports() -> Vec<Port> {
    let port = |name: &str, bridge: usize, vlan: VlanMode| Port {
        name: name.into(),
        kind: PortKind::Vm,
        bridge,
        vlan,
        macs: Vec::new(),
        ips: Vec::new(),
        interface: None,
    };
    vec![
        port("a0", 0, VlanMode::Untagged),
        port("a1", 0, VlanMode::Untagged),
        port("a10", 0, VlanMode::Access(10)),
        port(
            "trunk",
            0,
            VlanMode::Trunk {
                allowed: vec![10, 20],
                native: Some(0),
            },
        ),
        port("b0", 1, VlanMode::Untagged),
        port("b20", 1, VlanMode::Access(20)),
    ]
}

fn config(batch_size: usize) -> Config {
    let mut c = Config::parse(
        "[[bridge]]\nname = \"br0\"\n[[bridge]]\nname = \"br1\"\n",
        "model.toml".as_ref(),
    )
    .unwrap_or_default();
    c.ports = ports();
    c.limits.batch_size = batch_size;
    c.limits.emc_insert_inv_prob = 1;
    c.limits.upcall_rate = 1 << 40;
    c.limits.upcall_burst = 1 << 40;
    c.limits.reject_rate = 1 << 30;
    c.limits.reject_burst = 1 << 30;
    c
}

/// A frame from host `src` to `dst` (a MAC), tagged `tag`, of kind `kind`.
fn frame(src: u8, dst: [u8; 6], tag: Option<u16>, kind: u8, sport: u16, dport: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(80);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&host_mac(src));
    if let Some(t) = tag {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&t.to_be_bytes());
    }
    if kind % 5 == 4 {
        // ARP request.
        f.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
        f.extend_from_slice(&host_mac(src));
        f.extend_from_slice(&[10, 0, 0, src + 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 99]);
        return f;
    }
    f.extend_from_slice(&[0x08, 0x00]);
    let (proto, l4): (u8, Vec<u8>) = match kind % 5 {
        0 | 1 => {
            let mut t = vec![0u8; 20];
            t[0..2].copy_from_slice(&sport.to_be_bytes());
            t[2..4].copy_from_slice(&dport.to_be_bytes());
            t[4..8].copy_from_slice(&u32::from(sport).to_be_bytes());
            t[12] = 5 << 4;
            t[13] = if kind.is_multiple_of(5) { 0x02 } else { 0x18 };
            t.extend_from_slice(b"payload");
            (6, t)
        }
        2 => {
            let mut u = vec![0u8; 8];
            u[0..2].copy_from_slice(&sport.to_be_bytes());
            u[2..4].copy_from_slice(&dport.to_be_bytes());
            u[4..6].copy_from_slice(&12u16.to_be_bytes());
            u.extend_from_slice(b"data");
            (17, u)
        }
        _ => {
            let mut i = vec![8u8, 0, 0, 0];
            i.extend_from_slice(&sport.to_be_bytes());
            i.extend_from_slice(&1u16.to_be_bytes());
            (1, i)
        }
    };
    let dst_ip = dst[5].wrapping_sub(1);
    let total = 20 + l4.len();
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&(total as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0x40, 0, 64, proto, 0, 0]);
    ip.extend_from_slice(&[10, 0, 0, src + 1, 10, 0, 0, dst_ip.wrapping_add(1)]);
    let c = wire::checksum::checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&l4);
    f
}

impl Scenario {
    /// A scenario drawn from `data`.
    pub fn from_bytes(data: &[u8]) -> Scenario {
        let mut b = Bytes { data, at: 0 };
        let batch_size = usize::from(b.byte() % 32) + 1;
        let workers = usize::from(b.byte() % 3) + 1;
        let steering_seed = u64::from(b.byte()).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let verdict_seed = u64::from(b.byte()).wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
        let mut arrivals = Vec::new();
        let mut time = 1_700_000_000_000_000_000u64;
        let ports = ports();
        while !b.done() && arrivals.len() < 400 {
            let op = b.byte();
            time += u64::from(b.byte()) * 100_000;
            let src = b.byte() % HOSTS;
            // Hosts live on port `src % 6`; one time in eight they show up elsewhere.
            let port = if op & 0x38 == 0 {
                PortId::from(b.byte() % 6)
            } else {
                PortId::from(src % 6)
            };
            if op & 0x07 == 7 {
                // A run of frames too short for Ethernet: batches that die before the lookup.
                let n = usize::from(b.byte() % 40) + 1;
                for k in 0..n {
                    arrivals.push(Arrival {
                        port,
                        time_ns: time,
                        frame: vec![k as u8; 10 + k % 4],
                    });
                }
                continue;
            }
            let d = b.byte();
            let dst = match d % 8 {
                0 => [0xff; 6],
                1 => [2, 0, 0, 0, 0xee, d],
                _ => host_mac(d % HOSTS),
            };
            let mode = &ports[usize::from(port)].vlan;
            let t = b.byte();
            let tag = match (mode, t % 8) {
                (_, 0) => Some(u16::from(t)),
                (VlanMode::Trunk { .. }, 1..=3) => Some(10),
                (VlanMode::Trunk { .. }, 4..=5) => Some(20),
                _ => None,
            };
            let kind = b.byte();
            let sport = 1000 + u16::from(b.byte() % 4);
            let dport = [80u16, 53, 22, 443][usize::from(kind / 8 % 4)];
            let repeat = usize::from(b.byte() % 4) + 1;
            let mut fr = frame(src, dst, tag, kind, sport, dport);
            if op & 0xc0 == 0xc0 {
                fr[6] |= 1; // a multicast source
            }
            for _ in 0..repeat {
                arrivals.push(Arrival {
                    port,
                    time_ns: time,
                    frame: fr.clone(),
                });
            }
        }
        Scenario {
            batch_size,
            workers,
            steering_seed,
            verdict_seed,
            arrivals,
        }
    }
}

/// What an engine does with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pass,
    Alert,
    Drop,
    Reject,
    DropConnection,
}

fn mix(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^ (h >> 29)
}

/// The verdict of the test engine at `stage` (0 ingress, 1 egress) on `frame` at `port`.
fn verdict(seed: u64, stage: u8, frame: &[u8], port: PortId) -> Kind {
    let h = mix(seed ^ (u64::from(stage) << 56) ^ u64::from(port), frame) % 100;
    let udp = {
        let p = wire::parse_packet(frame);
        p.l3 == L3::Ipv4 && p.l4 == L4::Udp
    };
    match (stage, h) {
        (0, 0..70) | (1, 0..80) => Kind::Pass,
        (0, 70..80) | (1, 80..88) => Kind::Alert,
        (0, 80..87) | (1, 88..94) => Kind::Drop,
        (0, 87..94) | (1, _) => Kind::Reject,
        (_, _) if udp => Kind::DropConnection,
        _ => Kind::Drop,
    }
}

/// The test engine of one stage.
struct ByteEngine {
    seed: u64,
    stage: u8,
}

impl Engine for ByteEngine {
    type ConnState = ();
    fn name(&self) -> &'static str {
        if self.stage == 0 {
            "model-in"
        } else {
            "model-out"
        }
    }
    fn inspect(&mut self, b: &mut Inspection<'_, '_, ()>) {
        for i in b.packets() {
            let v = b.view(i);
            let port = v.out_port.unwrap_or(v.in_port);
            match verdict(self.seed, self.stage, v.frame(), port) {
                Kind::Pass => {}
                Kind::Alert => b.alert(i, &Alert::new(1, 7, 1, "model", "", 3)),
                Kind::Drop => b.drop(i, Reason::new("model", "drop")),
                Kind::Reject => b.reject(i, Reason::new("model", "reject")),
                Kind::DropConnection => b.drop_connection(i, Reason::new("model", "conn")),
            }
        }
    }
}

/// A UDP connection: internal VLAN and its endpoints, ordered.
type UdpConn = (u16, [u8; 4], u16, [u8; 4], u16);

/// The reference: one packet at a time.
struct Model {
    ports: Vec<Port>,
    fdb: HashMap<(usize, u16, [u8; 6]), PortId>,
    blocked: HashSet<UdpConn>,
    seed: u64,
    out: Vec<Vec<Vec<u8>>>,
}

fn wire_tci(f: &[u8]) -> Option<u16> {
    match f.get(12..16) {
        Some(&[0x81, 0x00, a, b]) | Some(&[0x88, 0xa8, a, b]) => Some(u16::from_be_bytes([a, b])),
        _ => None,
    }
}

/// The frame with its tag state changed from `tci` (as it came) to `to` (as the port wants).
fn retag(f: &[u8], tci: Option<u16>, to: Option<u16>) -> Vec<u8> {
    let untagged: Vec<u8> = match tci {
        Some(_) => [&f[..12], &f[16..]].concat(),
        None => f.to_vec(),
    };
    match (tci, to) {
        (Some(t), Some(v)) if t & 0x0fff == v => f.to_vec(),
        (_, None) => untagged,
        (_, Some(v)) => {
            let mut g = untagged[..12].to_vec();
            g.extend_from_slice(&[0x81, 0x00]);
            g.extend_from_slice(&v.to_be_bytes());
            g.extend_from_slice(&untagged[12..]);
            g
        }
    }
}

/// The UDP connection of a frame under `vlan`, endpoints ordered.
fn udp_conn(f: &[u8], vlan: u16) -> Option<UdpConn> {
    let p = wire::parse_packet(f);
    if p.l4 != L4::Udp {
        return None;
    }
    let (s, d) = p.ipv4_addrs(f)?;
    let a = (s, p.src_port);
    let b = (d, p.dst_port);
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    Some((vlan, lo.0, lo.1, hi.0, hi.1))
}

impl Model {
    fn emit(&mut self, port: PortId, f: Vec<u8>) {
        self.out[usize::from(port)].push(f);
    }

    /// The answer to a rejected packet, out of its input port after egress inspection.
    fn answer(&mut self, received: &[u8], in_port: PortId) {
        let mut buf = vec![0u8; datapath::reject::MAX_REPLY];
        let p = wire::parse_packet(received);
        if let Some(n) = datapath::reject::build_reply(received, &p, &mut buf) {
            buf.truncate(n);
            if verdict(self.seed, 1, &buf, in_port) == Kind::Pass
                || verdict(self.seed, 1, &buf, in_port) == Kind::Alert
            {
                self.emit(in_port, buf);
            }
        }
    }

    fn packet(&mut self, a: &Arrival) {
        let f = &a.frame;
        let in_port = a.port;
        let port = self.ports[usize::from(in_port)].clone();
        let tci = wire_tci(f);
        let vlan = port.vlan.admit(tci.map(|t| t & 0x0fff));
        // Learning, for every frame that enters.
        if f.len() >= 12
            && f[6] & 1 == 0
            && let Some(v) = vlan
        {
            let mut src = [0u8; 6];
            src.copy_from_slice(&f[6..12]);
            self.fdb.insert((port.bridge, v, src), in_port);
        }
        if f.len() < 14 {
            return; // malformed
        }
        let conn = udp_conn(f, vlan.unwrap_or(0));
        if conn.is_some_and(|c| self.blocked.contains(&c)) {
            return;
        }
        match verdict(self.seed, 0, f, in_port) {
            Kind::Pass | Kind::Alert => {}
            Kind::Drop => return,
            Kind::Reject => {
                self.answer(f, in_port);
                return;
            }
            Kind::DropConnection => {
                if let Some(c) = conn {
                    self.blocked.insert(c);
                }
                return;
            }
        }
        let Some(vlan) = vlan else {
            return; // VLAN not allowed
        };
        if f[6] & 1 != 0 {
            return; // invalid source
        }
        let mut dst = [0u8; 6];
        dst.copy_from_slice(&f[0..6]);
        let mut outs: Vec<(PortId, Option<u16>)> = Vec::new();
        let known = (dst[0] & 1 == 0)
            .then(|| self.fdb.get(&(port.bridge, vlan, dst)).copied())
            .flatten();
        let mut unicast = false;
        if let Some(o) = known {
            if o == in_port {
                return; // hairpin
            }
            if let Some(e) = self.ports[usize::from(o)].vlan.egress(vlan) {
                outs.push((o, e));
                unicast = true;
            }
        }
        if !unicast {
            for (id, p) in self.ports.iter().enumerate() {
                let id = id as PortId;
                if id != in_port
                    && p.bridge == port.bridge
                    && let Some(e) = p.vlan.egress(vlan)
                {
                    outs.push((id, e));
                }
            }
        }
        let mut answered = false;
        for (o, e) in outs {
            let g = retag(f, tci, e);
            match verdict(self.seed, 1, &g, o) {
                Kind::Pass | Kind::Alert => self.emit(o, g),
                Kind::Reject if !answered => {
                    answered = true;
                    self.answer(f, in_port);
                }
                _ => {}
            }
        }
    }
}

/// Frames out of each port, in arrival order, and EVE lines.
#[derive(Default)]
struct Collect {
    out: Vec<Vec<Vec<u8>>>,
    eve: Vec<u8>,
    last: Option<OrderKey>,
    out_of_order: bool,
}

impl OutputSink for Collect {
    fn frame(&mut self, key: OrderKey, port: PortId, _: u64, frame: &[u8]) {
        if self.last.is_some_and(|l| key < l) {
            self.out_of_order = true;
        }
        self.last = Some(key);
        let p = usize::from(port);
        if self.out.len() <= p {
            self.out.resize(p + 1, Vec::new());
        }
        self.out[p].push(frame.to_vec());
    }
    fn event(&mut self, _: OrderKey, line: &[u8]) {
        self.eve.extend_from_slice(line);
    }
}

fn run_real(s: &Scenario, workers: usize) -> (Collect, datapath::runtime::RunReport) {
    let cfg = config(s.batch_size);
    let mut source = MemorySource::new();
    for a in &s.arrivals {
        source.push(a.port, a.time_ns, a.frame.clone());
    }
    let seed = s.verdict_seed;
    let limits = cfg.limits.clone();
    let make = move |id: usize, slow| {
        Worker::new(
            id,
            &limits,
            slow,
            Chain::new(vec![HostedEngine::new(ByteEngine { seed, stage: 0 })]),
            Chain::new(vec![HostedEngine::new(ByteEngine { seed, stage: 1 })]),
        )
    };
    let setup = RuntimeSetup {
        config: cfg,
        auto_ports: false,
        workers,
        keep_frames: true,
        eve: true,
        steering_key: SteeringKey::from_seed(s.steering_seed),
        make_worker: &make,
    };
    let mut out = Collect::default();
    let report = runtime::run(&mut source, setup, &mut out, &mut |_| {});
    (out, report)
}

/// Runs `s` through the model and the pipeline; the first difference, if any.
pub fn check(s: &Scenario) -> Result<(), String> {
    let mut model = Model {
        ports: ports(),
        fdb: HashMap::new(),
        blocked: HashSet::new(),
        seed: s.verdict_seed,
        out: vec![Vec::new(); ports().len()],
    };
    for a in &s.arrivals {
        model.packet(a);
    }
    let (real, report) = run_real(s, s.workers);

    let c = &report.counters;
    if c.tx_packets != c.egress_passed {
        return Err(format!("a frame left without passing egress: {c:#?}"));
    }
    if real.out_of_order || report.out_of_order != 0 {
        return Err("output merged out of arrival order".into());
    }
    let total: usize = real.out.iter().map(Vec::len).sum();
    if total as u64 != c.tx_packets {
        return Err(format!("{total} frames out, {} counted", c.tx_packets));
    }
    for (p, want) in model.out.iter().enumerate() {
        let got = real.out.get(p).map_or(&[][..], Vec::as_slice);
        if got != &want[..] {
            let first = got
                .iter()
                .zip(want)
                .position(|(a, b)| a != b)
                .unwrap_or(got.len().min(want.len()));
            return Err(format!(
                "port {p}: {} frames out, the model says {}; first difference at {first}: got {:02x?}, want {:02x?}",
                got.len(),
                want.len(),
                got.get(first),
                want.get(first)
            ));
        }
    }
    // The same EVE (drops, alerts, flows) with one worker and with several.
    if s.workers != 1 {
        let (one, _) = run_real(s, 1);
        if one.eve != real.eve {
            let a = String::from_utf8_lossy(&one.eve);
            let b = String::from_utf8_lossy(&real.eve);
            let line = a
                .lines()
                .zip(b.lines())
                .position(|(x, y)| x != y)
                .unwrap_or(a.lines().count().min(b.lines().count()));
            return Err(format!(
                "EVE differs between 1 and {} workers at line {line}: {:?} vs {:?}",
                s.workers,
                a.lines().nth(line),
                b.lines().nth(line)
            ));
        }
        if one.out != real.out {
            return Err("outputs differ between 1 worker and several".into());
        }
    }
    Ok(())
}

/// The fuzz target: any bytes make a scenario, and model and pipeline must agree.
pub fn pipeline_model(data: &[u8]) {
    let s = Scenario::from_bytes(data);
    if let Err(e) = check(&s) {
        panic!(
            "{e}\nscenario: batch {} workers {}",
            s.batch_size, s.workers
        );
    }
}
