//! The matcher: rules compiled into groups with a fast-pattern prefilter, run over one
//! inspection point at a time.

mod buffer;
mod pcre;

pub use buffer::{AppProto, BufferDirection, BufferId, BufferList, Buffers, NoBuffers};
pub use pcre::{RegexEngine, regex_check};
