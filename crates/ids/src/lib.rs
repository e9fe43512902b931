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

pub mod app;
pub mod detect;
pub mod rules;
pub mod stream;
