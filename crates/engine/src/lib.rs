//! The engine interface: what an inspection engine (firewall, IDS, content scanner, threat
//! intelligence) sees of a packet, how it answers, where it keeps per-connection state, and the
//! hooks the datapath calls. Engines depend on this crate; the datapath runs engines through it
//! and never names one; the `rampart` binary chooses which engines run.
//!
//! # A batch at a time
//!
//! The datapath hands an engine the packets of a batch at one stage (ingress: as the sender
//! sent them; egress: as the receiver will get them, after the flow's rewrites) as an
//! [`Inspection`]. The engine walks [`Inspection::packets`] and, for each packet it has
//! something to say about, calls [`Inspection::drop`], [`Inspection::reject`],
//! [`Inspection::drop_connection`], [`Inspection::bypass`] or [`Inspection::alert`]. Saying
//! nothing passes the packet.
//!
//! Engines of a stage run in order. A packet one engine drops is shown to no later engine (its
//! state would otherwise advance on data the receiver never gets, an evasion). Alerts raised
//! before a drop are kept and written.
//!
//! # Per-connection state
//!
//! An engine declares the state it keeps per connection as [`Engine::ConnState`];
//! [`Inspection::state`] gives the state of a packet's connection, made with `Default` on first
//! use. When the connection ends the engine is told ([`Engine::conn_end`]) and given the state
//! by value; it is then freed. State is held in a [`ConnSlots`] indexed by the connection
//! handle, checked against its generation, so state can never leak from one connection into
//! the next that reuses the slot.
//!
//! # What an engine must never do
//!
//! Allocate, lock or block per packet on its common path; keep a reference to a packet after
//! its `inspect` returns; trust the packet's bytes (every read is bounds-checked). Alerts are
//! copied into a per-batch arena that is reused, so raising one allocates nothing once the arena
//! has grown.
//!
//! # Example
//!
//! ```
//! use engine::{Alert, Engine, Inspection, Reason};
//!
//! /// Drops telnet, alerts on the first packet of every connection to port 22.
//! #[derive(Default)]
//! struct Watch;
//!
//! impl Engine for Watch {
//!     type ConnState = u32; // packets seen per connection
//!     fn name(&self) -> &'static str {
//!         "watch"
//!     }
//!     fn inspect(&mut self, batch: &mut Inspection<'_, '_, u32>) {
//!         for i in batch.packets() {
//!             let port = batch.view(i).parsed().dst_port;
//!             if port == 23 {
//!                 batch.drop(i, Reason::new("watch", "telnet"));
//!             } else if port == 22 && batch.state(i).is_some_and(|n| { *n += 1; *n == 1 }) {
//!                 batch.alert(i, &Alert::new(1, 1_000_001, 1, "ssh connection", "misc-activity", 3));
//!             }
//!         }
//!     }
//! }
//! # let _ = engine::factory(Watch::default);
//! ```

pub mod alerts;
pub mod chain;
pub mod slots;
pub mod view;

use std::any::Any;
use std::sync::Arc;

pub use alerts::{Alert, AlertRecord, Alerts, LogRecord};
pub use chain::{Chain, ChainOutcome, EngineFactory, HostedEngine, MAX_ENGINES, factory};
pub use conn::{ConnHandle, ConnRecord, ConnState, Direction};
pub use flow::PortId;
pub use slots::ConnSlots;
pub use view::{ConnInfo, PacketView, Stage};

/// Why an engine did what it did: its name and a short kebab-case code (`zone-deny`,
/// `port-security`), both static so a verdict costs nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reason {
    pub engine: &'static str,
    pub code: &'static str,
}

impl Reason {
    /// A reason.
    pub const fn new(engine: &'static str, code: &'static str) -> Reason {
        Reason { engine, code }
    }
}

/// What happens to a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Action {
    /// It goes on.
    #[default]
    Pass,
    /// It is discarded, silently to the sender.
    Drop(Reason),
    /// It is discarded and the sender told: TCP RST for TCP, ICMP unreachable otherwise.
    Reject(Reason),
    /// It and every later packet of its connection, both ways, are discarded.
    DropConnection(Reason),
}

impl Action {
    /// True when the packet goes on.
    #[inline]
    pub fn passes(self) -> bool {
        matches!(self, Action::Pass)
    }

    /// The reason of a drop.
    pub fn reason(self) -> Option<Reason> {
        match self {
            Action::Pass => None,
            Action::Drop(r) | Action::Reject(r) | Action::DropConnection(r) => Some(r),
        }
    }
}

/// Most rewrite actions per direction of a [`Translation`].
pub const MAX_REWRITES: usize = 4;

/// How the packets of a connection are rewritten (address and port translation), per
/// direction. The datapath applies it to every packet of the connection after ingress
/// inspection and before the flow lookup, so forwarding and egress inspection see the
/// translated packet; the rewrites are flow actions (`SetIpv4Src`, `SetTpDst`, `SetEthDst`,
/// ...), with incremental checksums.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Translation {
    pub to_server: [Option<flow::Action>; MAX_REWRITES],
    pub to_client: [Option<flow::Action>; MAX_REWRITES],
}

impl Translation {
    /// The rewrites of packets going `direction`.
    pub fn for_direction(&self, direction: Direction) -> impl Iterator<Item = flow::Action> + '_ {
        let list = match direction {
            Direction::ToServer => &self.to_server,
            Direction::ToClient => &self.to_client,
        };
        list.iter().flatten().copied()
    }
}

/// A new compiled snapshot for engines (policy, rules, signatures), delivered by name to every
/// worker's engines; an engine takes the ones it knows by downcasting.
#[derive(Clone)]
pub struct Snapshot {
    /// What it is (`policy`, `rules`, `signatures`, ...).
    pub kind: &'static str,
    pub generation: u64,
    pub data: Arc<dyn Any + Send + Sync>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("kind", &self.kind)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// Where an engine's counters go: a name (`snake_case`, dots for sections) and a value.
pub type CounterSink<'a> = dyn FnMut(&str, u64) + 'a;

/// An inspection engine. One instance per worker and stage; the worker's thread is the only one
/// that calls it.
pub trait Engine: Send + 'static {
    /// What the engine keeps per connection.
    type ConnState: Default + Send + 'static;

    /// The engine's name, in counters and events.
    fn name(&self) -> &'static str;

    /// Judges a batch of packets.
    fn inspect(&mut self, batch: &mut Inspection<'_, '_, Self::ConnState>);

    /// A connection ended (timeout, close, eviction, end of input); `state` is the engine's
    /// state for it, if it made one, to finish with (flush a stream, log a transaction) and
    /// drop. Alerts about it go to `alerts`. Called exactly once per connection the engine
    /// made state for, before the connection's slot can serve another.
    fn conn_end(&mut self, end: &ConnRecord, state: Self::ConnState, alerts: &mut Alerts) {
        let _ = (end, state, alerts);
    }

    /// Time passes (packet time in replay, wall time live), about once a second.
    fn timer(&mut self, now_ns: u64) {
        let _ = now_ns;
    }

    /// The input ended: flush what is buffered (connections end after this, each with
    /// [`Engine::conn_end`]).
    fn end_of_input(&mut self) {}

    /// A new snapshot replaces the engine's compiled configuration (rules, policy); the engine
    /// keeps its per-connection state. Returns false when the snapshot is not for it.
    fn reload(&mut self, snapshot: &Snapshot) -> bool {
        let _ = snapshot;
        false
    }

    /// Reports the engine's counters.
    fn counters(&self, out: &mut CounterSink<'_>) {
        let _ = out;
    }
}

/// One engine's look at a batch: the packets it may see, and where its answers go.
pub struct Inspection<'v, 'a, S> {
    views: &'v [PacketView<'a>],
    /// Bit `i`: packet `i` is shown to this engine (alive, and its connection not bypassed).
    shown: u64,
    actions: &'v mut [Action],
    /// Bit `i`: this engine asked not to see packet `i`'s connection again.
    bypass: &'v mut u64,
    app_protos: &'v mut [Option<&'static str>],
    translations: &'v mut [Option<Translation>],
    alerts: &'v mut Alerts,
    engine: &'static str,
    states: &'v mut ConnSlots<S>,
}

impl<S> Inspection<'_, '_, S> {
    /// Number of packets this engine sees.
    pub fn len(&self) -> usize {
        self.shown.count_ones() as usize
    }

    /// True when the engine sees no packet.
    pub fn is_empty(&self) -> bool {
        self.shown == 0
    }
}

impl<S> std::fmt::Debug for Inspection<'_, '_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inspection")
            .field("engine", &self.engine)
            .field("packets", &self.len())
            .finish_non_exhaustive()
    }
}

impl<'v, 'a, S: Default> Inspection<'v, 'a, S> {
    /// An inspection of `views` for the engine named `engine` (the chain makes these; tests
    /// may too).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        engine: &'static str,
        views: &'v [PacketView<'a>],
        shown: u64,
        actions: &'v mut [Action],
        bypass: &'v mut u64,
        app_protos: &'v mut [Option<&'static str>],
        translations: &'v mut [Option<Translation>],
        alerts: &'v mut Alerts,
        states: &'v mut ConnSlots<S>,
    ) -> Self {
        Inspection {
            views,
            shown,
            actions,
            bypass,
            app_protos,
            translations,
            alerts,
            engine,
            states,
        }
    }

    /// The indices of the packets this engine sees, in order.
    pub fn packets(&self) -> impl Iterator<Item = usize> + use<S> {
        let mut m = self.shown;
        std::iter::from_fn(move || {
            if m == 0 {
                return None;
            }
            let i = m.trailing_zeros() as usize;
            m &= m - 1;
            Some(i)
        })
    }

    /// Packet `i`.
    #[inline]
    pub fn view(&self, i: usize) -> &PacketView<'a> {
        &self.views[i]
    }

    /// The engine's state for packet `i`'s connection (made with `Default` on first use);
    /// `None` for a packet without a connection.
    #[inline]
    pub fn state(&mut self, i: usize) -> Option<&mut S> {
        let h = self.views.get(i)?.conn?.handle;
        Some(self.states.get_or_default(h))
    }

    /// The view of packet `i` and the engine's state for its connection, together.
    #[inline]
    pub fn view_and_state(&mut self, i: usize) -> (&PacketView<'a>, Option<&mut S>) {
        let v = &self.views[i];
        let s = v.conn.map(|c| self.states.get_or_default(c.handle));
        (v, s)
    }

    fn set(&mut self, i: usize, a: Action) {
        if self.shown & (1 << i) == 0 {
            return;
        }
        if let Some(slot) = self.actions.get_mut(i)
            && slot.passes()
        {
            *slot = a;
        }
    }

    /// Drops packet `i`.
    pub fn drop(&mut self, i: usize, reason: Reason) {
        self.set(i, Action::Drop(reason));
    }

    /// Drops packet `i` and tells its sender (TCP RST or ICMP unreachable).
    pub fn reject(&mut self, i: usize, reason: Reason) {
        self.set(i, Action::Reject(reason));
    }

    /// Drops packet `i` and every later packet of its connection.
    pub fn drop_connection(&mut self, i: usize, reason: Reason) {
        self.set(i, Action::DropConnection(reason));
    }

    /// Stops sending packet `i`'s connection to this engine (packet `i` itself passes, as far
    /// as this engine is concerned).
    pub fn bypass(&mut self, i: usize) {
        if self.views.get(i).is_some_and(|v| v.conn.is_some()) {
            *self.bypass |= 1 << i;
        }
    }

    /// Raises an alert on packet `i` (it is written whatever happens to the packet later).
    pub fn alert(&mut self, i: usize, alert: &Alert<'_>) {
        if self.shown & (1 << i) != 0 {
            self.alerts.push(i as u16, self.engine, alert, |_| Ok(()));
        }
    }

    /// Raises an alert on packet `i` with more EVE fields: `extra` appends them to the alert
    /// event as JSON members (`"http":{...}`, with no leading comma).
    pub fn alert_with(
        &mut self,
        i: usize,
        alert: &Alert<'_>,
        extra: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>,
    ) {
        if self.shown & (1 << i) != 0 {
            self.alerts.push(i as u16, self.engine, alert, extra);
        }
    }

    /// Logs an EVE record of `event_type` about packet `i` (a protocol transaction): `members`
    /// appends its JSON members (`"http":{...}`, no leading comma). Written whatever happens
    /// to the packet later.
    pub fn log(
        &mut self,
        i: usize,
        event_type: &'static str,
        members: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>,
    ) {
        if self.shown & (1 << i) != 0 {
            self.alerts.log(i as u16, self.engine, event_type, members);
        }
    }

    /// Translates packet `i`'s connection from now on (it and every later packet of it, both
    /// ways): see [`Translation`]. Ignored for a packet without a connection.
    pub fn translate(&mut self, i: usize, t: Translation) {
        if self.shown & (1 << i) != 0
            && self.views.get(i).is_some_and(|v| v.conn.is_some())
            && let Some(slot) = self.translations.get_mut(i)
        {
            *slot = Some(t);
        }
    }

    /// Tells the connection of packet `i` which application protocol it carries.
    pub fn set_app_proto(&mut self, i: usize, proto: &'static str) {
        if let Some(p) = self.app_protos.get_mut(i) {
            *p = Some(proto);
        }
    }
}
