//! Rampart's IDS/IPS engine: Suricata 7 rules over reassembled TCP streams and HTTP, DNS and
//! TLS buffers.
//!
//! - [`rules`]: the rule language (parse, variables, classification) into typed signatures.
//! - [`detect`]: the matcher (rule groups, fast-pattern prefilter, keyword verification).
//! - [`stream`]: TCP reassembly per direction.
//! - [`app`]: application-layer detection and parsers (HTTP/1.x, DNS, TLS).

pub mod app;
pub mod detect;
pub mod rules;
pub mod stream;
