//! The application layer: protocol detection by content, and parsers of HTTP/1.x, DNS and TLS
//! that turn in-order stream data (or UDP payloads) into transactions exposing Suricata's
//! sticky buffers, with files streamed to a [`FileSink`].
//!
//! Nothing here trusts the bytes it parses: every length is checked against the data, every
//! buffer is bounded, and a parser that loses track stops rather than guesses.

pub mod files;
pub mod http;

pub use files::{FileEnd, FileSink, FileStart, NoFiles};
