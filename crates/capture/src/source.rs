//! The reader's one reusable buffer over a `Read`: big reads in, records handed out as slices.
//!
//! It must never grow past the largest record asked for (the caller bounds that by
//! [`MAX_BLOCK_LEN`](crate::MAX_BLOCK_LEN)), never issue a read per record when the data is
//! already buffered, and never trust a `Read` that claims more bytes than it was given room for.

use std::io::{self, Read};

/// Initial buffer size: big enough that a read brings in many small packets at once.
const INITIAL_BUFFER: usize = 256 * 1024;

/// Bytes read from `inner` but not yet consumed live in `buf[start..end]`; `buf[start]` is byte
/// `consumed` of the stream.
pub(crate) struct Source<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    consumed: u64,
    pulled: u64,
    eof: bool,
}

impl<R: Read> Source<R> {
    pub(crate) fn new(inner: R) -> Self {
        Source {
            inner,
            buf: vec![0; INITIAL_BUFFER],
            start: 0,
            end: 0,
            consumed: 0,
            pulled: 0,
            eof: false,
        }
    }
}

impl<R> Source<R> {
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
    pub(crate) fn available(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or(&[])
    }

    /// The buffer itself; `available()` starts at `position()`.
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
        // Less than one record is buffered, so moving it to the front is cheap, and it leaves the
        // whole rest of the buffer free for one big read.
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if want > self.buf.len() {
            self.buf.resize(want.next_power_of_two(), 0);
        }
        while self.end - self.start < want {
            let Some(space) = self.buf.get_mut(self.end..) else {
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
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.consumed += n as u64;
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

    /// Returns at most `chunk` bytes per read, and claims more than it copied on request.
    struct Dribble<'a> {
        data: &'a [u8],
        chunk: usize,
        interrupt_every: usize,
        calls: usize,
    }

    impl Read for Dribble<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.interrupt_every > 0 && self.calls.is_multiple_of(self.interrupt_every) {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = self.chunk.min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

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
