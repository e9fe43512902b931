//! HTTP/1.x: an incremental parser of both directions of a connection into transactions that
//! expose Suricata's HTTP sticky buffers, and stream their bodies as files.
//!
//! Drive it with the in-order chunks of the stream tracker: [`HttpParser::feed`] for data,
//! [`HttpParser::gap`] for a gap and [`HttpParser::end`] at the end of each direction. Inspect
//! [`HttpParser::transactions`] as they progress ([`HttpTx::buffer`]), and take complete ones
//! with [`HttpParser::pop_complete`] to log them, then [`HttpParser::recycle`] them.
//!
//! The behaviour follows libhtp 0.5 with Suricata 7's default configuration (personality
//! `IDS`, request and response bodies decompressed, body limits 100 KiB); see [`uri`] for the
//! URI normalisation.

mod decode;
mod parser;
mod tx;
pub mod uri;

pub use decode::{Coding, ContentDecoder, DecodeStatus, Encodings};
pub use parser::{HttpConfig, HttpParser};
pub use tx::{HttpBuffer, HttpEvents, HttpHeader, HttpHeaders, HttpMessage, HttpTx, Progress};
