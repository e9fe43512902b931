//! Rampart's IDS/IPS engine: Suricata 7 rules over reassembled TCP streams and HTTP, DNS and
//! TLS buffers.
//!
//! - [`rules`]: the rule language (parse, variables, classification) into typed signatures.
//! - [`detect`]: the matcher (rule groups, fast-pattern prefilter, keyword verification).
//! - [`stream`]: TCP reassembly per connection, both directions: Suricata's target-based
//!   overlap policies, IDS (acknowledged data) and inline delivery, gaps, depth and memory
//!   caps, in-order chunks for the app layer and raw-stream chunks for stream rules.
//! - [`app`]: application-layer detection by content and parsers (HTTP/1.x with libhtp's
//!   `IDS` personality, DNS over UDP and TCP, TLS hellos) into transactions that expose
//!   Suricata's sticky buffers and EVE `http`, `dns` and `tls` records, with HTTP bodies
//!   streamed to a file sink.
//!
//! How a pipeline drives the last two, per connection: look up the overlap policies once
//! ([`stream::HostOsPolicy`]), create a [`stream::TcpStreamTracker`] and an
//! [`app::AppLayer`]; for every TCP segment call `handle_segment`, then drain
//! `next_app_chunk` of both directions into `AppLayer::on_chunk` (and `next_raw_chunk` into
//! the stream rules); hand UDP payloads to `AppLayer::on_datagram`; inspect and log the
//! parsers' transactions; at the connection's end call `finish`, drain again, and `release`
//! the tracker. `examples/app_replay.rs` and `tests/suricata_eve.rs` do exactly this.
//!
//! # How the pipeline calls the matcher
//!
//! At start-up and on reload, once: load the rules ([`rules::RuleSet::load`], with
//! [`rules::Vars`] and [`rules::Classifications`]), report what failed, and compile an
//! immutable [`detect::Engine`] to share between workers.
//!
//! Per worker: one [`detect::Scratch`], one [`detect::ThresholdState`] (the `by_src`,
//! `by_dst`, `by_both` and `by_rule` tables; bounded) and one [`detect::Alerts`] buffer.
//! Per connection: one [`detect::FlowState`] (flowbits, `by_flow` thresholds, pass/drop),
//! stored with the connection and dropped with it.
//!
//! Per packet, after the stream and application layers have run: one call to
//! [`detect::Engine::inspect`] with the packet's [`detect::PacketContext`] and the
//! [`detect::Buffers`] those layers offer now (the new reassembled stream data as
//! [`detect::BufferId::RawStream`], the current transaction's sticky buffers, the flow's
//! [`detect::AppProto`]). The alerts come back in Suricata's order; the [`detect::Verdict`]
//! says whether to drop or reject the packet, and whether the flow is now passed
//! ([`detect::FlowState::passed`]: later calls return at once) or dropped
//! ([`detect::FlowState::dropped`]: the caller drops the rest of the connection). The call does
//! not allocate, block or trust any byte it is given.
//!
//! ```
//! use ids::detect::{Alerts, BufferId, BufferList, AppProto, Engine, FlowDirection, PacketContext};
//! use ids::rules::{Classifications, RuleSet, Vars};
//!
//! let mut set = RuleSet::default();
//! set.add_source(
//!     "local.rules".as_ref(),
//!     r#"alert http any any -> any any (msg:"admin"; http.uri; content:"/admin"; sid:1;)"#,
//!     &Vars::suricata_defaults(),
//!     &Classifications::suricata_default(),
//! );
//! let (engine, errors) = Engine::build(&set.rules);
//! assert!(errors.is_empty());
//!
//! let (mut scratch, mut thresholds) = (engine.new_scratch(), engine.new_threshold_state());
//! let mut flow = engine.new_flow_state();
//! let mut alerts = Alerts::default();
//! let http = BufferList::new(AppProto::Http).with(BufferId::HttpUri, b"/admin/login");
//! let pkt = PacketContext {
//!     src: [10, 0, 0, 1].into(),
//!     dst: [10, 0, 0, 2].into(),
//!     src_port: 40000,
//!     dst_port: 80,
//!     ip_proto: 6,
//!     direction: FlowDirection::ToServer,
//!     established: true,
//!     tcp_flags: 0x18,
//!     payload: b"GET /admin/login HTTP/1.1\r\n\r\n",
//!     stream_added: false,
//!     fragment: false,
//!     time_ns: 0,
//! };
//! let verdict = engine.inspect(&pkt, &http, &mut flow, &mut thresholds, &mut scratch, &mut alerts);
//! assert_eq!(alerts.as_slice()[0].sid, 1);
//! assert!(!verdict.drop);
//! ```

pub mod app;
pub mod detect;
pub mod rules;
pub mod stream;
