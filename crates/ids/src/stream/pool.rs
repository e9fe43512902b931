//! The worker's reassembly memory: recycled stream buffers, the total memory cap and the
//! counters every stream of the worker adds to.
//!
//! One pool per worker (workers share nothing, see DESIGN.md): the total cap is the worker's
//! share of the configured reassembly memcap. Buffers of finished streams go back here with
//! their capacity, so a worker that has seen its peak number of streams allocates nothing
//! more. Must never block or take a lock.

use super::buffer::StreamBuffer;

/// Reassembly counters of one worker, named after Suricata's `tcp.*` stats where one exists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReassemblyCounters {
    /// TCP segments handed to a tracker.
    pub segments: u64,
    /// Segments with payload stored in order (at the next expected offset).
    pub in_order: u64,
    /// Segments with payload stored ahead of a hole, held until the hole fills.
    pub out_of_order: u64,
    /// Segments whose payload lay entirely in data already handed on (`tcp.reassembly_gap`'s
    /// sibling: retransmissions of consumed data).
    pub retransmissions: u64,
    /// Segments that overlapped stored segments (`tcp.overlap`).
    pub overlaps: u64,
    /// Overlaps in which the copies differed (`tcp.overlap_diff_data`): an evasion attempt or
    /// a broken stack; the overlap policy decided which copy stayed.
    pub overlaps_different: u64,
    /// Retransmissions whose bytes differed from those already handed on.
    pub retransmissions_different: u64,
    /// Holes handed to consumers as gaps (`tcp.reassembly_gap`).
    pub gaps: u64,
    /// Bytes lost in those gaps.
    pub gap_bytes: u64,
    /// Segments not stored because the connection's memory cap was reached.
    pub memcap_connection: u64,
    /// Segments not stored because the worker's total memory cap was reached
    /// (`tcp.segment_memcap_drop`).
    pub memcap_total: u64,
    /// Streams that reached the reassembly depth.
    pub depth_reached: u64,
    /// Segments outside any plausible window (more than 1 GiB from the stream's position).
    pub out_of_window: u64,
    /// Sessions picked up without seeing their SYN (`tcp.midstream_pickups`).
    pub midstream_pickups: u64,
    /// Segments of sessions not tracked (midstream pick-up disabled and no SYN seen).
    pub untracked: u64,
    /// Streams reset by an RST.
    pub resets: u64,
}

impl ReassemblyCounters {
    /// The counters as `(name, value)` pairs, for a stats record.
    pub fn entries(&self) -> [(&'static str, u64); 16] {
        [
            ("segments", self.segments),
            ("in_order", self.in_order),
            ("out_of_order", self.out_of_order),
            ("retransmissions", self.retransmissions),
            ("overlaps", self.overlaps),
            ("overlaps_different", self.overlaps_different),
            ("retransmissions_different", self.retransmissions_different),
            ("gaps", self.gaps),
            ("gap_bytes", self.gap_bytes),
            ("memcap_connection", self.memcap_connection),
            ("memcap_total", self.memcap_total),
            ("depth_reached", self.depth_reached),
            ("out_of_window", self.out_of_window),
            ("midstream_pickups", self.midstream_pickups),
            ("untracked", self.untracked),
            ("resets", self.resets),
        ]
    }
}

/// A worker's stream buffers, memory accounting and counters.
#[derive(Debug)]
pub struct ReassemblyPool {
    spare: Vec<StreamBuffer>,
    max_spare: usize,
    in_use: u64,
    memcap: u64,
    /// What every stream of this worker has counted.
    pub counters: ReassemblyCounters,
}

impl Default for ReassemblyPool {
    /// 256 MiB, Suricata's default `stream.reassembly.memcap`, and 1,024 spare buffers.
    fn default() -> Self {
        ReassemblyPool::new(256 << 20, 1024)
    }
}

impl ReassemblyPool {
    /// A pool whose streams may hold `memcap` bytes in total, keeping up to `max_spare`
    /// finished buffers for reuse.
    pub fn new(memcap: u64, max_spare: usize) -> Self {
        ReassemblyPool {
            spare: Vec::new(),
            max_spare,
            in_use: 0,
            memcap,
            counters: ReassemblyCounters::default(),
        }
    }

    /// Bytes held by all streams of this worker now.
    pub fn in_use(&self) -> u64 {
        self.in_use
    }

    /// The total cap.
    pub fn memcap(&self) -> u64 {
        self.memcap
    }

    /// Buffers waiting for reuse.
    pub fn spare_buffers(&self) -> usize {
        self.spare.len()
    }

    pub(crate) fn take(&mut self) -> StreamBuffer {
        self.spare.pop().unwrap_or_default()
    }

    pub(crate) fn give_back(&mut self, mut buffer: StreamBuffer) {
        if self.spare.len() < self.max_spare {
            buffer.clear();
            self.spare.push(buffer);
        }
    }

    /// Whether `more` bytes fit under the total cap.
    pub(crate) fn fits(&self, more: u64) -> bool {
        self.in_use.saturating_add(more) <= self.memcap
    }

    /// Records a change in the bytes a stream holds.
    pub(crate) fn account(&mut self, before: u64, after: u64) {
        self.in_use = (self.in_use + after).saturating_sub(before);
    }
}
