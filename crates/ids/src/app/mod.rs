//! The application layer: protocol detection by content, and parsers of HTTP/1.x, DNS and TLS
//! that turn in-order stream data (or UDP payloads) into transactions exposing Suricata's
//! sticky buffers, with files streamed to a [`FileSink`], and their EVE records ([`eve`]).
//!
//! [`AppLayer`] is the per-connection entry point: it detects the protocol ([`detect`]) and
//! drives the parser ([`http`], [`dns`], [`tls`]).
//!
//! Nothing here trusts the bytes it parses: every length is checked against the data, every
//! buffer is bounded, and a parser that loses track stops rather than guesses.

pub mod detect;
pub mod dns;
pub mod eve;
pub mod files;
pub mod http;
mod layer;
pub mod tls;

pub use detect::{AppProto, ProtoDetector, Transport};
pub use files::{FileEnd, FileSink, FileStart, NoFiles};
pub use layer::{AppConfig, AppLayer, AppParser};
