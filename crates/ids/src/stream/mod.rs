//! TCP stream reassembly: per connection, both directions, with Suricata's target-based
//! overlap policies, IDS (acknowledged data) and inline (in-order data) delivery, gaps, a
//! reassembly depth and memory caps per connection and per worker.
//!
//! - [`TcpStreamTracker`]: one connection's reassembly, fed [`Segment`]s, read as
//!   [`AppChunk`]s (in-order data, gaps, end) for the application layer and [`RawChunk`]s for
//!   raw-stream rules.
//! - [`ReassemblyPool`]: the worker's recycled buffers, total memory cap and
//!   [`ReassemblyCounters`].
//! - [`OverlapPolicy`], [`HostOsPolicy`]: which copy of overlapping data each destination host
//!   keeps, configured per network as in Suricata's `host-os-policy`.
//!
//! This module never allocates per packet beyond holding data that must wait (out-of-order
//! segments, unacknowledged data in IDS mode), never trusts a sequence number, and never drops
//! a byte without a gap or a counter saying so.

mod buffer;
mod policy;
mod pool;
mod tracker;

pub use policy::{Extent, HostOsPolicy, OverlapPolicy, PolicyError};
pub use pool::{ReassemblyCounters, ReassemblyPool};
pub use tracker::{
    AppChunk, Direction, Disposition, RawChunk, ReassemblyMode, Segment, SegmentOutcome,
    StreamConfig, StreamEnd, StreamStats, TcpFlags, TcpStreamTracker,
};
