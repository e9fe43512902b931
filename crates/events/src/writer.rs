//! Writing events as EVE JSON lines: one object per line, buffered.
//!
//! Each event is serialized into a reused scratch buffer first and handed to the buffered sink
//! only when complete, so an event that fails to serialize never leaves half a line behind.
//! After the first few events no write allocates. Writing may block on the sink: it must never be
//! called from a packet-processing loop except for rate-limited events such as drops.

use std::io::{self, BufWriter, Write};

use crate::EveEvent;

/// Scratch space kept between events; a larger one (after an unusually big event) is released.
const SCRATCH_KEEP: usize = 64 * 1024;

/// Writes [`EveEvent`]s to `W` as newline-delimited JSON.
///
/// Output is buffered; call [`flush`](EveWriter::flush) to push it out (dropping the writer
/// flushes too, but cannot report an error).
#[derive(Debug)]
pub struct EveWriter<W: Write> {
    sink: BufWriter<W>,
    scratch: Vec<u8>,
    events: u64,
    bytes: u64,
}

impl<W: Write> EveWriter<W> {
    /// Default size of the output buffer.
    pub const DEFAULT_BUFFER: usize = 64 * 1024;

    /// A writer with a [`DEFAULT_BUFFER`](Self::DEFAULT_BUFFER)-byte output buffer.
    pub fn new(inner: W) -> Self {
        Self::with_capacity(Self::DEFAULT_BUFFER, inner)
    }

    /// A writer with an output buffer of `capacity` bytes.
    pub fn with_capacity(capacity: usize, inner: W) -> Self {
        EveWriter {
            sink: BufWriter::with_capacity(capacity, inner),
            scratch: Vec::with_capacity(1024),
            events: 0,
            bytes: 0,
        }
    }

    /// Writes one event and a newline. On error nothing of this event has reached the sink,
    /// unless the sink itself failed part-way through a write.
    pub fn write(&mut self, event: &EveEvent<'_>) -> io::Result<()> {
        self.scratch.clear();
        serde_json::to_writer(&mut self.scratch, event).map_err(io::Error::from)?;
        self.scratch.push(b'\n');
        let result = self.sink.write_all(&self.scratch);
        if result.is_ok() {
            self.events += 1;
            self.bytes += self.scratch.len() as u64;
        }
        if self.scratch.capacity() > SCRATCH_KEEP {
            self.scratch = Vec::with_capacity(1024);
        }
        result
    }

    /// Pushes buffered output to the sink and flushes it.
    pub fn flush(&mut self) -> io::Result<()> {
        self.sink.flush()
    }

    /// Events written so far (accepted into the buffer; [`flush`](Self::flush) to be sure they
    /// reached the sink).
    pub fn events_written(&self) -> u64 {
        self.events
    }

    /// Bytes written so far, newlines included, counted like [`events_written`](Self::events_written).
    pub fn bytes_written(&self) -> u64 {
        self.bytes
    }

    /// The sink.
    pub fn get_ref(&self) -> &W {
        self.sink.get_ref()
    }

    /// Flushes and returns the sink.
    pub fn into_inner(self) -> io::Result<W> {
        self.sink
            .into_inner()
            .map_err(io::IntoInnerError::into_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{StatsEvent, Timestamp};

    /// A sink that accepts `limit` bytes, then fails every write.
    struct Failing {
        written: Vec<u8>,
        limit: usize,
    }

    impl Write for Failing {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let room = self.limit.saturating_sub(self.written.len());
            if room == 0 {
                return Err(io::Error::other("disk full"));
            }
            let n = room.min(buf.len());
            self.written.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn stats_event(uptime: u64) -> EveEvent<'static> {
        EveEvent::new(Timestamp::new(0, 0), StatsEvent::new(uptime))
    }

    #[test]
    fn writes_one_line_per_event_and_counts() {
        let mut writer = EveWriter::new(Vec::new());
        writer.write(&stats_event(1)).unwrap();
        writer.write(&stats_event(2)).unwrap();
        assert_eq!(writer.events_written(), 2);
        // Still buffered.
        assert!(writer.get_ref().is_empty());
        let out = writer.into_inner().unwrap();
        let text = String::from_utf8(out).unwrap();
        let line = r#"{"timestamp":"1970-01-01T00:00:00.000000+0000","event_type":"stats","stats":{"uptime":1}}"#;
        assert_eq!(text, format!("{line}\n{}\n", line.replace(":1}", ":2}")));
    }

    #[test]
    fn counts_bytes_and_flushes_on_demand() {
        let mut writer = EveWriter::with_capacity(8, Vec::new());
        writer.write(&stats_event(7)).unwrap();
        writer.flush().unwrap();
        assert_eq!(writer.bytes_written(), writer.get_ref().len() as u64);
        assert_eq!(writer.get_ref().last(), Some(&b'\n'));
    }

    #[test]
    fn sink_errors_are_reported_and_not_counted() {
        let mut writer = EveWriter::with_capacity(
            0,
            Failing {
                written: Vec::new(),
                limit: 0,
            },
        );
        let err = writer.write(&stats_event(1)).unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert_eq!(writer.events_written(), 0);
        assert_eq!(writer.bytes_written(), 0);
    }

    #[test]
    fn huge_events_do_not_pin_scratch_memory() {
        let mut stats = StatsEvent::new(0);
        for i in 0..5000 {
            stats
                .set(&format!("rampart.datapath.counter_{i}"), i)
                .unwrap();
        }
        let mut writer = EveWriter::new(io::sink());
        writer
            .write(&EveEvent::new(Timestamp::UNIX_EPOCH, stats))
            .unwrap();
        assert!(writer.scratch.capacity() <= SCRATCH_KEEP);
        assert_eq!(writer.events_written(), 1);
        assert!(writer.bytes_written() > SCRATCH_KEEP as u64);
    }
}
