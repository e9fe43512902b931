//! Read buffers that the packets lent out of them can outlive: [`SharedBytes`], and the spares a
//! reader recycles them through.
//!
//! A buffer is written only while the reader is its one holder; once a clone of it has been
//! handed out it is never written again until every clone is gone. That is what makes a packet's
//! bytes, found again through
//! [`CaptureReader::last_packet_range`](crate::CaptureReader::last_packet_range), stay what they
//! were when it was read.
//! Nothing here may copy a packet or allocate per packet: only the bytes of a record cut by the
//! end of one buffer move to the next, and buffers are reused once their holders let go.

use std::collections::VecDeque;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// A read buffer of a [`CaptureReader`](crate::CaptureReader), shared with whoever holds a clone
/// of it (cloning is a reference-count increment): see
/// [`CaptureReader::shared_bytes`](crate::CaptureReader::shared_bytes). The bytes never change
/// while a clone is held.
#[derive(Clone)]
pub struct SharedBytes {
    buf: Arc<Vec<u8>>,
}

impl fmt::Debug for SharedBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedBytes")
            .field("len", &self.buf.len())
            .finish_non_exhaustive()
    }
}

impl Deref for SharedBytes {
    type Target = [u8];

    #[inline(always)]
    fn deref(&self) -> &[u8] {
        &self.buf
    }
}

impl SharedBytes {
    pub(crate) fn new(buf: Vec<u8>) -> Self {
        SharedBytes { buf: Arc::new(buf) }
    }

    /// Whether no clone of it is held elsewhere.
    pub(crate) fn is_unique(&mut self) -> bool {
        Arc::get_mut(&mut self.buf).is_some()
    }

    /// The buffer, to write into, when no clone of it is held elsewhere.
    pub(crate) fn get_mut(&mut self) -> Option<&mut Vec<u8>> {
        Arc::get_mut(&mut self.buf)
    }

    /// Whether `a` and `b` are the same buffer (not just equal bytes).
    #[inline]
    pub fn same(a: &SharedBytes, b: &SharedBytes) -> bool {
        Arc::ptr_eq(&a.buf, &b.buf)
    }
}

/// Buffers the reader has moved on from, oldest first, to be reused once no one holds them.
#[derive(Default)]
pub(crate) struct Spares {
    retired: VecDeque<SharedBytes>,
}

/// Buffers kept for reuse at most; past that the oldest is let go (its holders keep it alive).
const MAX_SPARES: usize = 64;

impl Spares {
    /// A buffer of at least `size` bytes that no one else holds: a retired one whose holders
    /// have all let go, or a new one.
    pub(crate) fn take(&mut self, size: usize) -> Vec<u8> {
        let free = self.retired.iter_mut().position(SharedBytes::is_unique);
        let reused = free
            .and_then(|i| self.retired.remove(i))
            .and_then(|b| Arc::try_unwrap(b.buf).ok());
        let mut buf = reused.unwrap_or_default();
        if buf.len() < size {
            buf.resize(size, 0);
        }
        buf
    }

    /// Keeps `buf` for reuse.
    pub(crate) fn retire(&mut self, buf: SharedBytes) {
        if self.retired.len() >= MAX_SPARES {
            self.retired.pop_front();
        }
        self.retired.push_back(buf);
    }
}
