//! The matcher: rules compiled into groups with a fast-pattern prefilter, run over one
//! inspection point at a time.
//!
//! [`Engine::build`] compiles parsed [`crate::rules::Rule`]s once. The pipeline then calls
//! [`Engine::inspect`] for each packet with a [`PacketContext`] (addresses, ports, direction,
//! flow state, payload), the [`Buffers`] the stream and application layers have for this
//! packet (the reassembled stream, the current transaction's HTTP/DNS/TLS buffers), the
//! connection's [`FlowState`], the worker's [`ThresholdState`] and [`Scratch`], and an
//! [`Alerts`] output buffer. Nothing is allocated per packet.

mod buffer;
mod engine;
mod inspect;
mod pcre;
mod state;

pub use buffer::{AppProto, BufferDirection, BufferId, BufferList, Buffers, NoBuffers};
pub use engine::{
    Alert, Alerts, BuildError, BuildOptions, Engine, EngineStats, FlowDirection, PacketContext,
    Scratch, Verdict,
};
pub use pcre::{RegexEngine, regex_check};
pub use state::{DEFAULT_THRESHOLD_ENTRIES, FlowState, ThresholdOutcome, ThresholdState};

/// The Aho-Corasick implementation choices of [`BuildOptions::prefilter_kind`].
pub use aho_corasick::AhoCorasickKind;
