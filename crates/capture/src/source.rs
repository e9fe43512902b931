//! The reader's source of bytes: one buffer over a `Read`, big reads in, records handed out as
//! slices of it. The buffer is a [`SharedBytes`]: whoever wants a packet to outlive the next
//! call holds a clone of it, and then the source leaves that buffer alone and goes on in another
//! (a spare whose holders have let go, or a new one); otherwise the one buffer is reused.
//!
//! It must never grow past the largest record asked for (the caller bounds that by
//! [`MAX_BLOCK_LEN`](crate::MAX_BLOCK_LEN)), never write into a buffer someone else holds, never
//! issue a read per record when the data is already buffered, and never trust a `Read` that
//! claims more bytes than it was given room for.

use std::fs::File;
use std::io::{self, Read};

use crate::shared::{SharedBytes, Spares};

/// Initial buffer size: big enough that a read brings in many small packets at once, small
/// enough that they are still in the core's cache when they are walked.
const INITIAL_BUFFER: usize = 256 * 1024;

/// How far ahead of the record being read the buffer is prefetched, in bytes.
const PREFETCH_AHEAD: usize = 4096;
/// Bytes prefetched at a time (four cache lines).
const PREFETCH_BLOCK: usize = 256;

/// Bytes read from `inner` but not yet consumed live in `buf[start..end]`; `buf[start]` is byte
/// `consumed` of the stream.
pub(crate) struct Source<R> {
    inner: R,
    buf: SharedBytes,
    /// Buffers moved on from while someone held them, for reuse once they let go.
    spares: Spares,
    start: usize,
    end: usize,
    consumed: u64,
    pulled: u64,
    eof: bool,
    /// `buf` has been prefetched up to here (see [`Source::consume`]).
    prefetched: usize,
}

impl<R: Read> Source<R> {
    pub(crate) fn new(inner: R) -> Self {
        Source {
            inner,
            buf: SharedBytes::new(vec![0; INITIAL_BUFFER]),
            spares: Spares::default(),
            start: 0,
            end: 0,
            consumed: 0,
            pulled: 0,
            eof: false,
            prefetched: 0,
        }
    }
}

impl<R> Source<R> {
    /// The buffer, for a clone that keeps the records lent out of it.
    pub(crate) fn shared(&self) -> &SharedBytes {
        &self.buf
    }

    /// Stream offset of the first unconsumed byte.
    pub(crate) fn offset(&self) -> u64 {
        self.consumed
    }

    /// Bytes pulled from the inner reader so far (consumed or buffered).
    pub(crate) fn pulled(&self) -> u64 {
        self.pulled
    }

    /// The inner reader, for tests that count its calls.
    #[cfg(test)]
    pub(crate) fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Current buffer size, for the constant-memory tests.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// The buffered, unconsumed bytes.
    #[inline(always)]
    pub(crate) fn available(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or(&[])
    }

    /// The buffer itself; `available()` starts at `position()`.
    #[inline(always)]
    pub(crate) fn buffer(&self) -> &[u8] {
        &self.buf
    }

    /// Index in `buffer()` of the first unconsumed byte.
    pub(crate) fn position(&self) -> usize {
        self.start
    }
}

impl<R: Read> Source<R> {
    /// Makes at least `want` bytes available unless the stream ends first; returns how many are
    /// available (fewer than `want` only at end of stream). Slices of `buffer()` taken before
    /// this call are invalidated by it (the borrow checker enforces that).
    #[inline]
    pub(crate) fn fill(&mut self, want: usize) -> io::Result<usize> {
        if self.end - self.start >= want || self.eof {
            return Ok(self.end - self.start);
        }
        self.refill(want)
    }

    /// [`Source::fill`] when the buffer holds less than `want`: compacts, grows if needed, reads.
    #[inline(never)]
    fn refill(&mut self, want: usize) -> io::Result<usize> {
        if !self.buf.is_unique() {
            // Someone holds the packets lent out of it: leave it as it is, and go on in another
            // buffer with the unconsumed bytes.
            let held = self.end - self.start;
            let mut fresh = self.spares.take(self.buf.len());
            if let (Some(to), Some(from)) =
                (fresh.get_mut(..held), self.buf.get(self.start..self.end))
            {
                to.copy_from_slice(from);
            }
            let old = std::mem::replace(&mut self.buf, SharedBytes::new(fresh));
            self.spares.retire(old);
            self.start = 0;
            self.end = held;
        }
        // The buffer's bytes move: prefetch from the start again.
        self.prefetched = 0;
        let Some(buf) = self.buf.get_mut() else {
            // It was just made unique; a shared buffer is never written.
            return Err(io::Error::other("capture read buffer still shared"));
        };
        // Less than one record is buffered, so moving it to the front is cheap, and it leaves the
        // whole rest of the buffer free for one big read.
        if self.start > 0 {
            buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if want > buf.len() {
            buf.resize(want.next_power_of_two(), 0);
        }
        while self.end - self.start < want {
            let Some(space) = buf.get_mut(self.end..) else {
                break;
            };
            let room = space.len();
            match self.inner.read(space) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => {
                    let n = n.min(room);
                    self.end += n;
                    self.pulled += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.end - self.start)
    }

    /// Marks `n` available bytes consumed (at most what is available).
    #[inline(always)]
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.consumed += n as u64;
        // Records are walked one after the other, each header's address known only from the
        // previous one: without a hint every header is a cache miss waited for in turn. Two
        // blocks at most per record: a long record's payload is not worth the hints.
        let target = self.start + PREFETCH_AHEAD;
        if self.prefetched < target {
            let from = self.prefetched.max(target - 2 * PREFETCH_BLOCK);
            crate::prefetch::block(&self.buf, from);
            crate::prefetch::block(&self.buf, from + PREFETCH_BLOCK);
            self.prefetched = from + 2 * PREFETCH_BLOCK;
        }
    }

    /// Consumes up to `n` bytes without keeping them, reading through the buffer a chunk at a
    /// time; returns how many were skipped (fewer than `n` only at end of stream).
    pub(crate) fn skip(&mut self, n: u64) -> io::Result<u64> {
        let mut left = n;
        while left > 0 {
            let mut avail = self.end - self.start;
            if avail == 0 {
                avail = self.fill(1)?;
                if avail == 0 {
                    break;
                }
            }
            let take = usize::try_from(left).map_or(avail, |l| l.min(avail));
            self.consume(take);
            left -= take as u64;
        }
        Ok(n - left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Dribble;

    #[test]
    fn fill_consume_skip_track_offsets() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let mut s = Source::new(Dribble {
            data: &data,
            chunk: 7,
            interrupt_every: 3,
            calls: 0,
        });
        assert!(s.fill(10).unwrap() >= 10);
        assert_eq!(&s.available()[..10], &data[..10]);
        s.consume(10);
        assert_eq!(s.offset(), 10);
        assert_eq!(s.skip(500).unwrap(), 500);
        assert_eq!(s.offset(), 510);
        assert!(s.fill(4).unwrap() >= 4);
        assert_eq!(&s.available()[..4], &data[510..514]);
        assert_eq!(s.skip(10_000).unwrap(), 490);
        assert_eq!(s.fill(1).unwrap(), 0);
        assert_eq!(s.pulled(), 1000);
    }

    #[test]
    fn grows_only_to_the_largest_request() {
        let data = vec![1u8; 3 * INITIAL_BUFFER];
        let mut s = Source::new(&data[..]);
        assert_eq!(s.fill(INITIAL_BUFFER + 1).unwrap(), 2 * INITIAL_BUFFER);
        assert_eq!(s.capacity(), 2 * INITIAL_BUFFER);
        s.consume(2 * INITIAL_BUFFER - 5);
        assert_eq!(s.fill(10).unwrap(), INITIAL_BUFFER + 5);
        assert_eq!(s.capacity(), 2 * INITIAL_BUFFER);
        assert_eq!(s.position(), 0, "compacted before reading");
    }

    #[test]
    fn capture_file_reads_the_file_through_its_hints() {
        let data: Vec<u8> = (0..3 * HINT_AHEAD + 12_345)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let mut f = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut f, &data).unwrap();
        std::io::Seek::rewind(&mut f).unwrap();
        let mut s = Source::new(CaptureFile::new(f));
        let mut read = Vec::new();
        while s.fill(1).unwrap() > 0 {
            read.extend_from_slice(s.available());
            let n = s.available().len();
            s.consume(n);
        }
        assert!(read == data);
        assert!(s.get_ref().hinted >= data.len() as u64);
    }

    /// A reader that lies about how much it wrote must not corrupt the bookkeeping.
    struct Liar;
    impl Read for Liar {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            Ok(out.len() + 100)
        }
    }

    #[test]
    fn lying_reader_is_clamped() {
        let mut s = Source::new(Liar);
        assert_eq!(s.fill(1).unwrap(), INITIAL_BUFFER);
        assert_eq!(s.available().len(), INITIAL_BUFFER);
    }
}

/// Bytes of a [`CaptureFile`] asked for ahead of its reads, at least.
const HINT_AHEAD: u64 = 32 << 20;
/// Bytes asked for at a time.
const HINT_STEP: u64 = 8 << 20;

/// A capture file read front to back, as [`CaptureReader::open`](crate::CaptureReader::open)
/// reads it: a [`File`] that asks the kernel for the next few MiB ahead of its reads, so that the
/// parts of a file not in the page cache come from the disk while the bytes before them are
/// decoded, rather than in the reads. The bytes are the file's either way.
#[derive(Debug)]
pub struct CaptureFile {
    file: File,
    /// Bytes read so far, and how far the kernel has been asked for.
    at: u64,
    hinted: u64,
}

impl CaptureFile {
    /// `file`, read from its current position (its start, once just opened).
    pub fn new(file: File) -> Self {
        CaptureFile {
            file,
            at: 0,
            hinted: 0,
        }
    }
}

impl Read for CaptureFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.hinted < self.at + HINT_AHEAD {
            let from = self.hinted.max(self.at);
            crate::prefetch::file_range(&self.file, from, HINT_STEP);
            self.hinted = from + HINT_STEP;
        }
        let n = self.file.read(buf)?;
        self.at += n as u64;
        Ok(n)
    }
}
