//! A batch of up to 32 received packets in preallocated buffers, with their times and numbers.
//!
//! The buffers are allocated once and reused for every batch; loading a frame copies it into
//! the next free buffer and never allocates.

use flow::{OffloadMeta, PacketBuf};

use crate::MAX_BATCH;
use crate::port::PortId;

/// Size of every packet buffer: a 64 KB GSO super-frame plus headroom for tags and tunnels.
pub const BUF_SIZE: usize = 65_535 + 256;

/// A batch of received packets in preallocated buffers.
#[derive(Debug)]
pub struct Batch {
    pub(super) bufs: Vec<PacketBuf>,
    pub(super) len: usize,
    pub(super) times: [u64; MAX_BATCH],
    pub(super) numbers: [u64; MAX_BATCH],
    pub(super) positions: [u64; MAX_BATCH],
}

/// Where and when a packet arrived, and its place in the order of output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    pub in_port: PortId,
    pub time_ns: u64,
    /// The packet's number at its source (capture record number), reported to observers.
    pub number: u64,
    /// Its place in the arrival order (see [`Arrival::position_of`]): what the packet emits
    /// sorts by it, whichever worker handled the packet.
    pub position: u64,
}

impl Arrival {
    /// The position of the `sub`-th packet that enters the switch with packet `number` (0 for
    /// the packet itself; more when a runtime releases held packets with it).
    pub const fn position_of(number: u64, sub: u16) -> u64 {
        (number << 16) | sub as u64
    }
}

impl Batch {
    /// A batch with its 32 buffers allocated once.
    pub fn new() -> Self {
        Batch {
            bufs: (0..MAX_BATCH)
                .map(|_| PacketBuf::new(BUF_SIZE, PacketBuf::DEFAULT_HEADROOM))
                .collect(),
            len: 0,
            times: [0; MAX_BATCH],
            numbers: [0; MAX_BATCH],
            positions: [0; MAX_BATCH],
        }
    }

    /// Empties the batch (buffers are kept).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Number of packets in the batch.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the batch holds no packet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when the batch holds 32 packets.
    pub fn is_full(&self) -> bool {
        self.len == MAX_BATCH
    }

    /// Copies a received frame into the next buffer. `number` identifies the packet to
    /// observers (its record number in a capture) and gives its position. Returns false when
    /// the batch is full or the frame is larger than a buffer.
    pub fn push(
        &mut self,
        frame: &[u8],
        in_port: PortId,
        time_ns: u64,
        number: u64,
        meta: OffloadMeta,
    ) -> bool {
        let at = Arrival {
            in_port,
            time_ns,
            number,
            position: Arrival::position_of(number, 0),
        };
        self.push_at(frame, at, meta)
    }

    /// [`Batch::push`] with the arrival spelt out (a runtime that orders output itself).
    pub fn push_at(&mut self, frame: &[u8], at: Arrival, meta: OffloadMeta) -> bool {
        if self.len == MAX_BATCH {
            return false;
        }
        let b = &mut self.bufs[self.len];
        if b.load(frame).is_err() {
            return false;
        }
        b.in_port = at.in_port;
        b.meta = meta;
        self.times[self.len] = at.time_ns;
        self.numbers[self.len] = at.number;
        self.positions[self.len] = at.position;
        self.len += 1;
        true
    }

    /// True when a frame of `len` bytes fits a buffer (larger ones are not frames any port
    /// could carry: [`Batch::push_at`] refuses them).
    pub const fn fits(len: usize) -> bool {
        len <= BUF_SIZE - PacketBuf::DEFAULT_HEADROOM
    }

    /// The position of the last packet (0 when empty).
    pub fn last_position(&self) -> u64 {
        self.len.checked_sub(1).map_or(0, |i| self.positions[i])
    }

    /// The frame in slot `i` (as it is now: after processing, as rewritten).
    pub fn frame(&self, i: usize) -> &[u8] {
        self.bufs.get(i).map_or(&[], |b| b.frame())
    }
}

impl Default for Batch {
    fn default() -> Self {
        Batch::new()
    }
}
