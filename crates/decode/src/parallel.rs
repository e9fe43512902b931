//! Decoding on several threads, with the same output as on one: each thread in turn takes the
//! reader to walk the next read buffer's records, then formats those packets in place (the buffer
//! is shared, not copied: [`SharedBytes`]) while another thread reads, and the batches of lines
//! are written in file order. The walk takes the records that lie whole in the buffer in one go
//! ([`CaptureReader::next_buffered`], no per-record read checks), so a thread holds the reader
//! mostly for the `read` itself, and one waiting for it spins a little before it sleeps
//! ([`lock_spinning`]).
//!
//! Like the rest of the crate it must never allocate per packet (batches and their buffers are
//! reused) nor panic on any input; a thread that panics anyway (a bug) passes the panic on when
//! the scope ends, and the others stop with the data the lock held.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError, TryLockError};

use capture::{CaptureError, CaptureReader, Packet, SharedBytes};
use wire::LinkType;

use crate::line::{Lines, Stamper};
use crate::{MAX_WAITING, Outcome, Plan, Record, Sink, digits_for, format_record, sink_error};

/// One packet as a thread found it: where its bytes lie in the batch's buffer and what its record
/// said.
#[derive(Clone, Copy, Debug)]
struct Found {
    at: usize,
    caplen: u32,
    orig_len: u32,
    interface: u32,
    nanos: u32,
    secs: i64,
    link: LinkType,
    digits: u8,
}

impl Found {
    /// What the formatter needs of `p`, whose bytes are at `at` of their buffer, with
    /// `digits` digits of fraction in its time.
    fn of(p: &Packet<'_>, at: usize, digits: u8) -> Found {
        Found {
            at,
            caplen: p.caplen,
            orig_len: p.orig_len,
            interface: p.interface,
            nanos: p.timestamp.nanos,
            secs: p.timestamp.secs,
            link: p.link,
            digits,
        }
    }
}

/// Consecutive packets lent out of one buffer, and their lines once formatted.
#[derive(Debug)]
struct Batch {
    /// Its place in the output: batches are written in this order.
    seq: u64,
    /// The buffer the packets lie in, held so that they stay there.
    held: Option<SharedBytes>,
    /// Number of the first packet in the file.
    first: u64,
    found: Vec<Found>,
    lines: Lines,
}

impl Batch {
    fn new(packets: usize) -> Batch {
        Batch {
            seq: 0,
            held: None,
            first: 0,
            found: Vec::with_capacity(packets),
            lines: Lines::with_capacity(packets * 160),
        }
    }

    /// Formats every packet of the batch into its lines.
    fn format(&mut self, json: bool, stamper: &mut Stamper) {
        self.lines.clear();
        let bytes = self.held.as_deref().unwrap_or(&[]);
        for (n, f) in (self.first..).zip(&self.found) {
            // The reader checked each packet to lie wholly in its buffer.
            let data = bytes.get(f.at..f.at + f.caplen as usize).unwrap_or(&[]);
            let rec = Record {
                number: n,
                ts: stamper.render(f.secs, f.nanos, f.digits),
                caplen: f.caplen,
                orig_len: f.orig_len,
                interface: f.interface,
                link: f.link,
                data,
            };
            self.lines.push(|line| format_record(line, &rec, json));
        }
    }
}

/// The reading side, one thread at a time.
struct ReadSide<'r, R> {
    reader: &'r mut CaptureReader<R>,
    /// Packets read so far, and the most wanted.
    read: u64,
    limit: u64,
    /// The packet read last that did not go into the batch being filled, as it lies in a buffer
    /// the batch does not hold: the first of the next batch.
    carry: Option<(Found, u64)>,
    /// The next batch's place in the output.
    seq: u64,
    /// Set once there is nothing more to read: the end, the count reached, or an error.
    ended: bool,
    error: Option<CaptureError>,
}

impl<R: Read> ReadSide<'_, R> {
    /// Refills `batch` with the next packets, at most `max`, all lent out of one buffer; leaves
    /// it empty when there are none left.
    fn fill(&mut self, batch: &mut Batch, max: usize) {
        batch.found.clear();
        batch.held = None;
        if let Some((found, number)) = self.carry.take() {
            batch.held = Some(self.reader.shared_bytes().clone());
            batch.first = number;
            batch.found.push(found);
        }
        while !self.ended && batch.found.len() < max {
            if self.read >= self.limit {
                self.ended = true;
                break;
            }
            if self.fill_buffered(batch, max) > 0 {
                continue;
            }
            let (found, number) = match self.reader.next_packet() {
                Ok(Some(p)) => (Found::of(&p, 0, 6), p.number),
                Ok(None) => {
                    self.ended = true;
                    break;
                }
                Err(e) => {
                    self.error = Some(e);
                    self.ended = true;
                    break;
                }
            };
            self.read += 1;
            let found = Found {
                at: self.reader.last_packet_range().start,
                digits: digits_for(self.reader, found.interface),
                ..found
            };
            match &batch.held {
                Some(h) if SharedBytes::same(h, self.reader.shared_bytes()) => {}
                Some(_) => {
                    // The reader moved on to another buffer: this packet starts the next batch.
                    self.carry = Some((found, number));
                    break;
                }
                None => {
                    batch.held = Some(self.reader.shared_bytes().clone());
                    batch.first = number;
                }
            }
            batch.found.push(found);
        }
        batch.seq = self.seq;
        self.seq += 1;
    }

    /// Adds to `batch` (up to `max` packets) those that lie wholly in the reader's buffer
    /// already, without the per-packet checks of a read ([`CaptureReader::next_buffered`]);
    /// returns how many.
    fn fill_buffered(&mut self, batch: &mut Batch, max: usize) -> usize {
        if batch
            .held
            .as_ref()
            .is_some_and(|h| !SharedBytes::same(h, self.reader.shared_bytes()))
        {
            return 0;
        }
        let room = max
            .saturating_sub(batch.found.len())
            .min(usize::try_from(self.limit - self.read).unwrap_or(usize::MAX));
        let digits = digits_for(self.reader, 0);
        let (found, mut first) = (&mut batch.found, None);
        let n = self.reader.next_buffered(room, |p, at| {
            first.get_or_insert(p.number);
            found.push(Found::of(p, at, digits));
        });
        self.read += n as u64;
        if let (None, Some(first)) = (&batch.held, first) {
            batch.held = Some(self.reader.shared_bytes().clone());
            batch.first = first;
        }
        n
    }
}

/// The writing side: batches are written in the order they were filled, by whichever thread
/// finishes the next one; one finished early waits here.
struct WriteSide<'o, W> {
    out: &'o mut W,
    next: u64,
    waiting: Vec<Batch>,
    /// Batches written, to be refilled.
    spare: Vec<Batch>,
    printed: u64,
    sink: Option<Sink>,
}

impl<W: Write> WriteSide<'_, W> {
    /// Writes `batch` if it is next, and then any waiting one that has become next; keeps it
    /// waiting otherwise. False once writing has failed.
    fn submit(&mut self, batch: Batch) -> bool {
        if batch.seq != self.next {
            self.waiting.push(batch);
            return self.sink.is_none();
        }
        let mut batch = Some(batch);
        while let Some(mut b) = batch.take() {
            if self.sink.is_none() {
                match self.out.write_all(b.lines.text()) {
                    Ok(()) => self.printed += b.found.len() as u64,
                    Err(e) => self.sink = Some(sink_error(e)),
                }
            }
            self.next += 1;
            // Let go of the buffer, for the reader to reuse.
            b.held = None;
            self.spare.push(b);
            if let Some(i) = self.waiting.iter().position(|w| w.seq == self.next) {
                batch = Some(self.waiting.swap_remove(i));
            }
        }
        self.sink.is_none()
    }
}

/// Locks `m`, going on with the data of a thread that panicked (the scope passes the panic on).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Locks `m`, first trying for a while without sleeping: the reading side is held for the read
/// and walk of one buffer (tens of microseconds), and a thread put to sleep for that long on a
/// virtual machine's CPU may wake up much later than the lock is let go.
fn lock_spinning<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    for _ in 0..LOCK_SPINS {
        match m.try_lock() {
            Ok(g) => return g,
            Err(TryLockError::Poisoned(p)) => return p.into_inner(),
            Err(TryLockError::WouldBlock) => {
                for _ in 0..16 {
                    std::hint::spin_loop();
                }
            }
        }
    }
    lock(m)
}

/// Tries of [`lock_spinning`] before it sleeps: some 100 microseconds.
const LOCK_SPINS: usize = 400;

/// Every thread (the calling one and `plan.workers - 1` more) takes the reader in turn to fill a
/// batch with the next packets (descriptors, [`Found`]: where in the reader's buffer the bytes
/// are, nothing copied; the batch holds the buffer), formats it with its own caches and
/// [`Stamper`] while another reads, and hands it to the writing side, which writes the batches in
/// the order they were filled. So the output is the same bytes as [`decode_serial`]'s, in the
/// same order, and the read error comes after the last good packet's line, as there. A thread
/// formats the packets it has just read, still in its own caches.
pub(crate) fn decode_parallel<R: Read + Send>(
    reader: &mut CaptureReader<R>,
    out: &mut (impl Write + Send),
    json: bool,
    limit: u64,
    plan: Plan,
) -> Outcome {
    let read_side = Mutex::new(ReadSide {
        reader,
        read: 0,
        limit,
        carry: None,
        seq: 0,
        ended: false,
        error: None,
    });
    let write_side = Mutex::new(WriteSide {
        out,
        next: 0,
        waiting: Vec::new(),
        spare: Vec::new(),
        printed: 0,
        sink: None,
    });
    let stop = AtomicBool::new(false);
    let written = Condvar::new();
    let work = || {
        let mut stamper = Stamper::default();
        let mut batch = Batch::new(plan.batch);
        while !stop.load(Ordering::Relaxed) {
            {
                let mut rs = lock_spinning(&read_side);
                if rs.ended && rs.carry.is_none() {
                    break;
                }
                rs.fill(&mut batch, plan.batch);
            }
            if batch.found.is_empty() {
                // Nothing read, but its place in the order must still be passed.
                batch.lines.clear();
            } else {
                batch.format(json, &mut stamper);
            }
            let mut ws = lock(&write_side);
            if !ws.submit(batch) {
                stop.store(true, Ordering::Relaxed);
            }
            written.notify_all();
            // A thread far ahead of the one with the next batch (descheduled, say) waits for it
            // rather than holding ever more batches and read buffers.
            while ws.waiting.len() >= MAX_WAITING && !stop.load(Ordering::Relaxed) {
                ws = written.wait(ws).unwrap_or_else(PoisonError::into_inner);
            }
            batch = ws.spare.pop().unwrap_or_else(|| Batch::new(plan.batch));
        }
        // Whoever waits for this thread's batches has them all now.
        written.notify_all();
    };
    std::thread::scope(|scope| {
        for _ in 1..plan.threads {
            scope.spawn(work);
        }
        work();
    });
    let rs = read_side
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    let mut ws = write_side
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    if ws.sink.is_none()
        && let Err(e) = ws.out.flush()
    {
        ws.sink = Some(sink_error(e));
    }
    Outcome {
        printed: ws.printed,
        sink: ws.sink,
        read_error: rs.error,
    }
}
