//! A stage's engines in order: the [`Chain`] runs each over a batch, showing each only the
//! packets still alive and not bypassed by it, and collects actions, bypasses, application
//! protocols and alerts. It also owns each engine's per-connection state and delivers the
//! hooks.
//!
//! Engines are held as trait objects of a private trait, so a chain can hold engines with
//! different state types; [`factory`] makes one engine per worker.

use conn::ConnRecord;

use crate::alerts::Alerts;
use crate::slots::ConnSlots;
use crate::view::PacketView;
use crate::{Action, CounterSink, Engine, Inspection, Snapshot, Translation};

/// Most engines in one chain (a bypass is a bit per engine).
pub const MAX_ENGINES: usize = 32;

/// The object-safe face of an engine with its per-connection state.
trait Hosted: Send {
    fn name(&self) -> &'static str;
    #[allow(clippy::too_many_arguments)]
    fn inspect(
        &mut self,
        views: &[PacketView<'_>],
        shown: u64,
        actions: &mut [Action],
        bypass: &mut u64,
        app_protos: &mut [Option<&'static str>],
        translations: &mut [Option<Translation>],
        alerts: &mut Alerts,
    );
    fn conn_end(&mut self, end: &ConnRecord, alerts: &mut Alerts);
    fn timer(&mut self, now_ns: u64);
    fn end_of_input(&mut self);
    fn reload(&mut self, s: &Snapshot) -> bool;
    fn counters(&self, out: &mut CounterSink<'_>);
    fn live_states(&self) -> usize;
}

struct Hosting<E: Engine> {
    engine: E,
    states: ConnSlots<E::ConnState>,
}

impl<E: Engine> Hosted for Hosting<E> {
    fn name(&self) -> &'static str {
        self.engine.name()
    }

    fn inspect(
        &mut self,
        views: &[PacketView<'_>],
        shown: u64,
        actions: &mut [Action],
        bypass: &mut u64,
        app_protos: &mut [Option<&'static str>],
        translations: &mut [Option<Translation>],
        alerts: &mut Alerts,
    ) {
        let name = self.engine.name();
        let mut ins = Inspection::new(
            name,
            views,
            shown,
            actions,
            bypass,
            app_protos,
            translations,
            alerts,
            &mut self.states,
        );
        self.engine.inspect(&mut ins);
    }

    fn conn_end(&mut self, end: &ConnRecord, alerts: &mut Alerts) {
        if let Some(state) = self.states.take(end.handle) {
            self.engine.conn_end(end, state, alerts);
        }
    }

    fn timer(&mut self, now_ns: u64) {
        self.engine.timer(now_ns);
    }

    fn end_of_input(&mut self) {
        self.engine.end_of_input();
    }

    fn reload(&mut self, s: &Snapshot) -> bool {
        self.engine.reload(s)
    }

    fn counters(&self, out: &mut CounterSink<'_>) {
        self.engine.counters(out);
    }

    fn live_states(&self) -> usize {
        self.states.len()
    }
}

/// An engine ready for a chain (with its per-connection state storage).
pub struct HostedEngine(Box<dyn Hosted>);

impl HostedEngine {
    /// Hosts `engine`.
    pub fn new<E: Engine>(engine: E) -> HostedEngine {
        HostedEngine(Box::new(Hosting {
            engine,
            states: ConnSlots::new(),
        }))
    }

    /// The engine's name.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }
}

impl std::fmt::Debug for HostedEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name())
    }
}

/// Makes a fresh engine for each worker.
pub type EngineFactory = Box<dyn Fn() -> HostedEngine + Send + Sync>;

/// A factory of engines made by `make`.
pub fn factory<E: Engine, F: Fn() -> E + Send + Sync + 'static>(make: F) -> EngineFactory {
    Box::new(move || HostedEngine::new(make()))
}

/// What a chain decided about a batch, per packet.
#[derive(Debug, Default)]
pub struct ChainOutcome {
    /// The first drop, reject or connection drop any engine gave, else pass.
    pub actions: Vec<Action>,
    /// Bit `k`: engine `k` of the chain asked not to see the connection again.
    pub bypassed: Vec<u32>,
    /// The application protocol an engine found.
    pub app_protos: Vec<Option<&'static str>>,
    /// A translation an engine set for the packet's connection.
    pub translations: Vec<Option<Translation>>,
}

impl ChainOutcome {
    /// Resets for `n` packets.
    pub fn reset(&mut self, n: usize) {
        self.actions.clear();
        self.actions.resize(n, Action::Pass);
        self.bypassed.clear();
        self.bypassed.resize(n, 0);
        self.app_protos.clear();
        self.app_protos.resize(n, None);
        self.translations.clear();
        self.translations.resize(n, None);
    }
}

/// The engines of one stage of one worker, in order.
#[derive(Debug, Default)]
pub struct Chain {
    engines: Vec<HostedEngine>,
}

impl Chain {
    /// A chain of these engines (at most [`MAX_ENGINES`]; more are left out).
    pub fn new(mut engines: Vec<HostedEngine>) -> Chain {
        engines.truncate(MAX_ENGINES);
        Chain { engines }
    }

    /// A chain with one engine of each factory.
    pub fn from_factories(factories: &[std::sync::Arc<EngineFactory>]) -> Chain {
        Chain::new(factories.iter().map(|f| f()).collect())
    }

    /// True when no engine is configured.
    pub fn is_empty(&self) -> bool {
        self.engines.is_empty()
    }

    /// Names of the engines in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.engines.iter().map(|e| e.name()).collect()
    }

    /// Runs every engine over `views` (at most 64). `skip[i]` has bit `k` set when engine `k`
    /// bypassed packet `i`'s connection. Packets dropped by an engine are shown to no later
    /// engine; alerts go to `alerts` with the view index as their packet.
    pub fn run(
        &mut self,
        views: &[PacketView<'_>],
        skip: &[u32],
        out: &mut ChainOutcome,
        alerts: &mut Alerts,
    ) {
        let n = views.len().min(64);
        out.reset(n);
        if self.engines.is_empty() || n == 0 {
            return;
        }
        let all = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
        let mut alive = all;
        for (k, e) in self.engines.iter_mut().enumerate() {
            let mut shown = alive;
            for (i, s) in skip.iter().take(n).enumerate() {
                if s & (1 << k) != 0 {
                    shown &= !(1 << i);
                }
            }
            if shown == 0 {
                continue;
            }
            let mut bypass = 0u64;
            e.0.inspect(
                &views[..n],
                shown,
                &mut out.actions[..n],
                &mut bypass,
                &mut out.app_protos[..n],
                &mut out.translations[..n],
                alerts,
            );
            let mut b = bypass;
            while b != 0 {
                let i = b.trailing_zeros() as usize;
                b &= b - 1;
                out.bypassed[i] |= 1 << k;
            }
            for (i, a) in out.actions[..n].iter().enumerate() {
                if !a.passes() {
                    alive &= !(1 << i);
                }
            }
            if alive == 0 {
                break;
            }
        }
    }

    /// A connection ended: each engine holding state for it is told and its state freed.
    pub fn conn_end(&mut self, end: &ConnRecord, alerts: &mut Alerts) {
        for e in &mut self.engines {
            e.0.conn_end(end, alerts);
        }
    }

    /// Time passes.
    pub fn timer(&mut self, now_ns: u64) {
        for e in &mut self.engines {
            e.0.timer(now_ns);
        }
    }

    /// The input ended.
    pub fn end_of_input(&mut self) {
        for e in &mut self.engines {
            e.0.end_of_input();
        }
    }

    /// Offers a snapshot to every engine; returns how many took it.
    pub fn reload(&mut self, s: &Snapshot) -> usize {
        let mut took = 0;
        for e in &mut self.engines {
            if e.0.reload(s) {
                took += 1;
            }
        }
        took
    }

    /// Every engine's counters, each name prefixed with the engine's name and a dot, plus
    /// `<engine>.conn_states` (connections it holds state for).
    pub fn counters(&self, out: &mut CounterSink<'_>) {
        for e in &self.engines {
            let name = e.0.name();
            e.0.counters(&mut |k, v| out(&format!("{name}.{k}"), v));
            out(&format!("{name}.conn_states"), e.0.live_states() as u64);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use conn::{ConnConfig, ConnTable};
    use flow::{FlowKey, PacketBuf};

    use super::*;
    use crate::view::{ConnInfo, Stage};
    use crate::{Alert, Reason};

    /// A TCP frame from 10.0.0.1:`sport` to 10.0.0.2:80.
    fn tcp(sport: u16, flags: u8) -> Vec<u8> {
        let mut f = vec![0u8; 54];
        f[12] = 0x08;
        f[14] = 0x45;
        f[17] = 40;
        f[22] = 64;
        f[23] = 6;
        f[26..30].copy_from_slice(&[10, 0, 0, 1]);
        f[30..34].copy_from_slice(&[10, 0, 0, 2]);
        f[34..36].copy_from_slice(&sport.to_be_bytes());
        f[36..38].copy_from_slice(&80u16.to_be_bytes());
        f[46] = 0x50;
        f[47] = flags;
        f
    }

    type Log = Arc<Mutex<Vec<String>>>;

    /// Alerts on every packet it sees and drops those whose source port is odd.
    struct Picky(Log);
    impl Engine for Picky {
        type ConnState = u32;
        fn name(&self) -> &'static str {
            "picky"
        }
        fn inspect(&mut self, b: &mut Inspection<'_, '_, u32>) {
            for i in b.packets() {
                if let Some(n) = b.state(i) {
                    *n += 1;
                }
                b.alert(i, &Alert::new(1, 10, 1, "seen", "", 3));
                if b.view(i).parsed().src_port % 2 == 1 {
                    b.drop(i, Reason::new("picky", "odd"));
                }
                self.0.lock().unwrap().push(format!("picky {i}"));
            }
        }
        fn conn_end(&mut self, end: &ConnRecord, state: u32, _: &mut Alerts) {
            self.0
                .lock()
                .unwrap()
                .push(format!("end {} after {state}", end.src_port));
        }
    }

    /// Records what it sees; bypasses connections from port 1002.
    struct Second(Log);
    impl Engine for Second {
        type ConnState = ();
        fn name(&self) -> &'static str {
            "second"
        }
        fn inspect(&mut self, b: &mut Inspection<'_, '_, ()>) {
            for i in b.packets() {
                b.state(i);
                self.0.lock().unwrap().push(format!("second {i}"));
                if b.view(i).parsed().src_port == 1002 {
                    b.bypass(i);
                }
            }
        }
        fn conn_end(&mut self, end: &ConnRecord, _: (), _: &mut Alerts) {
            self.0
                .lock()
                .unwrap()
                .push(format!("second end {}", end.src_port));
        }
    }

    #[test]
    fn drops_stop_later_engines_alerts_stay_bypass_and_ends_fire_once() {
        let log = Log::default();
        let mut chain = Chain::new(vec![
            HostedEngine::new(Picky(log.clone())),
            HostedEngine::new(Second(log.clone())),
        ]);
        let mut table = ConnTable::new(ConnConfig::default());
        let frames: Vec<Vec<u8>> = [1001u16, 1002, 1004].iter().map(|&p| tcp(p, 2)).collect();
        let bufs: Vec<PacketBuf> = frames.iter().map(|f| PacketBuf::from_frame(f)).collect();
        let key = FlowKey::zero();
        let mut ended = Vec::new();
        let views: Vec<PacketView<'_>> = bufs
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let t = table
                    .track(b.frame(), b.parsed(), 0, i as u64, &mut |r| ended.push(r))
                    .unwrap();
                let conn = ConnInfo {
                    handle: t.handle,
                    direction: t.direction,
                    state: t.state,
                    packet_number: t.packet_number,
                    flow_id: t.flow_id,
                };
                PacketView::new(Stage::Ingress, b, &key, None, 0, i as u64 + 1, Some(conn))
            })
            .collect();
        let mut out = ChainOutcome::default();
        let mut alerts = Alerts::new();
        chain.run(&views, &[0, 0, 0], &mut out, &mut alerts);
        assert_eq!(out.actions[0], Action::Drop(Reason::new("picky", "odd")));
        assert!(out.actions[1].passes() && out.actions[2].passes());
        assert_eq!(alerts.len(), 3, "the dropped packet's alert is kept");
        assert_eq!(alerts.records()[0].packet, 0);
        assert_eq!(out.bypassed, vec![0, 1 << 1, 0]);
        let seen: Vec<String> = log.lock().unwrap().drain(..).collect();
        assert!(!seen.contains(&"second 0".to_string()), "{seen:?}");
        assert!(seen.contains(&"second 1".to_string()) && seen.contains(&"second 2".to_string()));
        // The next batch: engine 1 no longer sees the bypassed connection.
        let skip = [out.bypassed[1]];
        chain.run(&views[1..2], &skip, &mut out, &mut alerts);
        let seen: Vec<String> = log.lock().unwrap().drain(..).collect();
        assert_eq!(seen, vec!["picky 0".to_string()]);
        // Ends: each engine that made state is told once, with its state.
        table.drain(|r| ended.push(r));
        for r in &ended {
            chain.conn_end(r, &mut alerts);
            chain.conn_end(r, &mut alerts);
        }
        let mut seen: Vec<String> = log.lock().unwrap().drain(..).collect();
        seen.sort();
        assert_eq!(
            seen,
            vec![
                "end 1001 after 1",
                "end 1002 after 2",
                "end 1004 after 1",
                "second end 1002",
                "second end 1004",
            ]
        );
    }
}
