//! `rampart decode FILE`: prints every packet of a pcap or pcapng file, one line each, in the
//! manner of `tcpdump -n -tt -S` (see [`text`]), or with `--json` one JSON object per line.
//!
//! Built for speed over large files: lines are formatted straight into big output buffers
//! written to standard output whole, integers and addresses are formatted by hand in fixed-size
//! chunks (see [`line`]), and the texts that repeat along a flow (a text line's
//! `SRC.PORT > DST.PORT: `, IPv6 addresses) are remembered in small per-thread caches.
//!
//! A file of a few MiB or more is decoded on every core ([`decode_parallel`]): each thread in
//! turn takes the reader to walk the next read buffer's records, then formats those packets in
//! place (the buffer is shared, not copied: [`capture::SharedBytes`]) while another thread reads,
//! and the batches of lines are written in file order. The walk takes the records that lie whole
//! in the buffer in one go ([`CaptureReader::next_buffered`], no per-record read checks), so a
//! thread holds the reader mostly for the `read` itself, and one waiting for it spins a little
//! before it sleeps ([`lock_spinning`]). Smaller files, and `--count` below a few thousand, stay
//! on one thread ([`decode_serial`]), where starting threads would cost more than they save. The
//! output is the same bytes either way.
//!
//! It must never allocate per packet or panic on any input. Packets read before a read error are
//! all printed, then the error (which names the file) is returned. When the reader of standard
//! output goes away (`rampart decode big.pcap | head`), decoding stops and the command succeeds.
//!
//! # JSON schema
//!
//! One object per packet, one per line; every key is always present, in this order, with `null`
//! (or `[]`) for a layer the packet does not have. Numbers are JSON numbers, addresses strings.
//!
//! | key | value |
//! |---|---|
//! | `number` | packet number in the file, from 1 |
//! | `ts` | capture time, string `"SECS.FRAC"` (6 digits, 9 for nanosecond captures) |
//! | `caplen`, `orig_len` | bytes captured, bytes on the wire |
//! | `interface` | pcapng interface index (0 for pcap) |
//! | `link` | `"ethernet"`, `"raw_ip"`, `"linux_sll"` or `"linux_sll2"` |
//! | `eth` | `{src, dst, type}`: MACs as `"aa:bb:cc:dd:ee:ff"`, `type` the outer ethertype (0x8100 when tagged) |
//! | `vlan` | `[{id, pcp, dei, tpid}]`, outermost first, at most two |
//! | `ethertype` | the innermost ethertype (the SLL protocol; 0x0800/0x86dd for raw IP) |
//! | `arp` | `{htype, ptype, op, sha, spa, tha, tpa}` (addresses `null` unless Ethernet/IPv4) |
//! | `ip` | IPv4: `{version: 4, src, dst, proto, ttl, len, hdr_len, id, df, mf, frag_offset, fragment, hdr_checksum_ok}` |
//! | | IPv6: `{version: 6, src, dst, proto, next_header, ttl, len, payload_len, traffic_class, flow_label, ext, frag_id, mf, frag_offset, fragment}` |
//! | `l4` | `{proto, number, sport, dport, tcp, udp, icmp, checksum_ok}` |
//! | `payload_len` | L4 payload bytes present in the capture (Ethernet padding excluded) |
//! | `truncated` | the layer at which the capture was cut (`"link"`, `"vlan"`, `"network"`, `"ipv6-extension"`, `"transport"`, `"tunnel"`, `"payload"`) or `null` |
//! | `tunnel` | `{kind: "vxlan" \| "geneve", vni, inner_offset}` or `null` |
//! | `anomalies` | names of values the formats forbid: `vlan_too_deep`, `ip_bad_version`, `ipv4_bad_ihl`, `ip_bad_length`, `ipv6_bad_ext_chain`, `tcp_bad_offset`, `udp_bad_length`, `llc_frame`, `tunnel_bad_header` |
//!
//! In `ip`: `proto` is the transport protocol (for IPv6, the next header after the extension
//! headers), `next_header` the fixed header's field, `ttl` the TTL or hop limit, `len` the
//! datagram length per its header(s) (IPv6: 40 + payload length), `frag_offset` in bytes,
//! `fragment` one of `"no"`, `"first"`, `"later"`, `ext` the IPv6 extension headers in order
//! (`hop_by_hop`, `routing`, `fragment`, `destination_options`, `authentication`),
//! `hdr_checksum_ok` `null` when the IPv4 options are cut off.
//!
//! In `l4`: `proto` is `"tcp"`, `"udp"`, `"icmp"`, `"icmpv6"` or `"other"` and `number` the IP
//! protocol number; `sport`/`dport` are `null` unless TCP/UDP with the ports captured;
//! `tcp` is `{flags, flags_str, seq, ack, win, hdr_len}` (`flags` the 12-bit field as a number,
//! `flags_str` tcpdump's letters such as `"S."`), `udp` is `{len}` (the UDP length field), `icmp`
//! is `{type, code}` for ICMP and ICMPv6. `checksum_ok` is `true`/`false`, or `null` when it
//! cannot be judged: the segment is cut, the packet is an IP fragment, the protocol is not one of
//! the four, or it is UDP over IPv4 with a zero checksum.

mod fields;
mod json;
mod line;
mod text;

use std::io::{self, Read, Write};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError, TryLockError};

use capture::{CaptureError, CaptureReader, Packet, SharedBytes, TsResolution};
use clap::Args;
use line::{LINE_ROOM, Line, Lines, Stamp, Stamper};
use wire::LinkType;

/// Arguments of `rampart decode`.
#[derive(Debug, Args)]
#[command(after_help = concat!(
    "Examples:\n",
    "  rampart decode samples/netns-mix.pcapng\n",
    "  rampart decode --json --count 10 capture.pcap | jq .l4\n",
    "  rampart decode big.pcap | head\n\n",
    exit_status_help!()
))]
pub struct DecodeArgs {
    /// The capture to read: pcap (microsecond or nanosecond) or pcapng, detected by its magic.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// One JSON object per packet instead of a text line (schema in the crate documentation).
    #[arg(long)]
    pub json: bool,

    /// Stop after printing N packets.
    #[arg(short = 'c', long, value_name = "N")]
    pub count: Option<u64>,
}

/// One packet and what `decode` prints about it besides its bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Record<'a> {
    /// 1-based position in the file.
    pub number: u64,
    /// The capture time as printed, `SECS.FRAC` (see [`line::Stamper`]).
    pub ts: &'a Stamp,
    /// Bytes captured (`data.len()`).
    pub caplen: u32,
    /// Bytes on the wire.
    pub orig_len: u32,
    /// pcapng interface index (0 for pcap).
    pub interface: u32,
    /// How `data` begins.
    pub link: LinkType,
    /// The captured bytes.
    pub data: &'a [u8],
}

/// Bytes of output gathered before a write to standard output.
const OUT_BUFFER: usize = 256 * 1024;

/// Appends the line for one packet (text or JSON, newline included) to `line`, and returns the
/// range of `line` that holds the timestamp.
#[inline]
pub(crate) fn format_record(line: &mut Line<'_>, rec: &Record<'_>, json_out: bool) -> Range<usize> {
    let parsed = wire::parse_link(rec.data, rec.link);
    if json_out {
        json::write(line, rec, &parsed)
    } else {
        text::write(line, rec, &parsed)
    }
}

/// The line for one packet as a vector, and where its timestamp is (for tests).
#[cfg(test)]
pub(crate) fn format_to_vec(rec: &Record<'_>, json_out: bool) -> (Vec<u8>, Range<usize>) {
    let mut lines = Lines::with_capacity(0);
    let at = lines.push(|line| format_record(line, rec, json_out));
    (lines.text().to_vec(), at)
}

/// Fractional digits for a timestamp resolution: 9 when finer than a microsecond, else 6.
fn ts_digits(res: TsResolution) -> u8 {
    match res {
        TsResolution::Decimal(n) if n > 6 => 9,
        TsResolution::Binary(n) if n > 20 => 9,
        _ => 6,
    }
}

/// What stopped the output side.
#[derive(Debug)]
enum Sink {
    /// The reader went away: stop quietly.
    Closed,
    /// Writing failed otherwise.
    Failed(io::Error),
}

fn sink_error(e: io::Error) -> Sink {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Sink::Closed
    } else {
        Sink::Failed(e)
    }
}

/// How a decoding run ended.
#[derive(Debug)]
struct Outcome {
    /// Lines written (or handed to the writer when it failed).
    printed: u64,
    /// Why writing stopped, if it did.
    sink: Option<Sink>,
    /// The read error after the last good packet, if any.
    read_error: Option<CaptureError>,
}

/// Runs `rampart decode`.
pub fn run(args: &DecodeArgs) -> anyhow::Result<()> {
    let path = &args.file;
    let mut reader = match CaptureReader::open(path) {
        Ok(r) => r,
        // This one names the path already.
        Err(e @ CaptureError::Open { .. }) => return Err(e.into()),
        Err(e) => return Err(anyhow::Error::new(e).context(path.display().to_string())),
    };
    tracing::info!(file = %path.display(), format = %reader.format(), "decoding");
    let limit = args.count.unwrap_or(u64::MAX);
    let plan = Plan::choose(std::fs::metadata(path).ok().map(|m| m.len()), limit);
    let outcome = decode(&mut reader, &mut io::stdout(), args.json, limit, plan);
    tracing::info!(
        packets = outcome.printed,
        bytes = reader.bytes_read(),
        threads = plan.threads,
        "decoded"
    );
    match outcome {
        Outcome {
            sink: Some(Sink::Closed),
            ..
        } => Ok(()),
        Outcome {
            sink: Some(Sink::Failed(e)),
            ..
        } => Err(anyhow::Error::new(e).context("writing to standard output")),
        Outcome {
            read_error: Some(e),
            ..
        } => Err(anyhow::Error::new(e).context(path.display().to_string())),
        Outcome { .. } => Ok(()),
    }
}

/// How the work is spread: threads (below 2: all on the calling thread) and the most packets one
/// takes at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Plan {
    threads: usize,
    batch: usize,
}

impl Plan {
    /// All on the calling thread.
    const SINGLE: Plan = Plan {
        threads: 1,
        batch: 0,
    };

    /// The plan for a file of `len` bytes (`None`: unknown, a pipe) when at most `limit` packets
    /// are wanted: threads pay off only where there is enough to do.
    fn choose(len: Option<u64>, limit: u64) -> Plan {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        match len {
            Some(len)
                if cores > 1 && len >= PARALLEL_MIN_BYTES && limit >= PARALLEL_MIN_PACKETS =>
            {
                Plan {
                    threads: cores.min(MAX_THREADS),
                    batch: BATCH,
                }
            }
            _ => Plan::SINGLE,
        }
    }
}

/// Smallest file decoded on several threads: below it, starting them costs more than they save.
const PARALLEL_MIN_BYTES: u64 = 4 << 20;
/// Fewest packets asked for (`--count`) that are decoded on several threads.
const PARALLEL_MIN_PACKETS: u64 = 8192;
/// Most packets in a batch. A batch also ends where the reader's buffer does, so it is usually
/// what one 256 KiB read brings in: still in the cache of the core that read it when that core
/// formats it.
const BATCH: usize = 4096;
/// Threads at most.
const MAX_THREADS: usize = 8;
/// Batches formatted ahead of the next one to write, at most; a thread that would go further
/// waits.
const MAX_WAITING: usize = 8;

/// Prints every packet of `reader` (at most `limit`) to `out`, on the calling thread or, when the
/// plan says so, on several.
fn decode<R: Read + Send>(
    reader: &mut CaptureReader<R>,
    out: &mut (impl Write + Send),
    json: bool,
    limit: u64,
    plan: Plan,
) -> Outcome {
    if plan.threads < 2 || plan.batch == 0 {
        return decode_serial(reader, out, json, limit);
    }
    decode_parallel(reader, out, json, limit, plan)
}

/// Fractional digits of the timestamps of the packets on interface `iface` of `reader`.
fn digits_for<R: Read>(reader: &CaptureReader<R>, iface: u32) -> u8 {
    reader
        .interfaces()
        .get(iface as usize)
        .map_or(6, |i| ts_digits(i.ts_resolution))
}

fn decode_serial<R: Read>(
    reader: &mut CaptureReader<R>,
    out: &mut impl Write,
    json: bool,
    limit: u64,
) -> Outcome {
    // Lines are formatted straight into one output buffer, written out when it is full: the
    // buffering of a `BufWriter` without copying every line into it.
    let mut lines = Lines::with_capacity(OUT_BUFFER + LINE_ROOM);
    let mut stamper = Stamper::default();
    let mut printed = 0u64;
    let mut read_error = None;
    let mut sink = None;
    // The packet borrows the reader, so its interface's resolution is looked up after the line
    // is built: the line is built with the digits of the previous packet (one resolution per
    // file is the rule) and its timestamp rewritten in the rare case they differ.
    let mut digits = 6u8;
    while printed < limit {
        let line_at = lines.text().len();
        let (iface, ts, ts_at) = match reader.next_packet() {
            Ok(Some(pkt)) => {
                let ts = pkt.timestamp;
                let rec = Record {
                    number: pkt.number,
                    ts: stamper.render(ts.secs, ts.nanos, digits),
                    caplen: pkt.caplen,
                    orig_len: pkt.orig_len,
                    interface: pkt.interface,
                    link: pkt.link,
                    data: pkt.data,
                };
                let at = lines.push(|line| format_record(line, &rec, json));
                (pkt.interface, ts, at)
            }
            Ok(None) => break,
            Err(e) => {
                read_error = Some(e);
                break;
            }
        };
        let wanted = digits_for(reader, iface);
        if wanted != digits {
            digits = wanted;
            let fixed = stamper.render(ts.secs, ts.nanos, digits);
            lines.replace(line_at + ts_at.start..line_at + ts_at.end, fixed.text());
        }
        printed += 1;
        if lines.text().len() >= OUT_BUFFER {
            if let Err(e) = out.write_all(lines.text()) {
                sink = Some(sink_error(e));
                break;
            }
            lines.clear();
        }
    }
    if sink.is_none()
        && let Err(e) = out.write_all(lines.text()).and_then(|()| out.flush())
    {
        sink = Some(sink_error(e));
    }
    Outcome {
        printed,
        sink,
        read_error,
    }
}

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
fn decode_parallel<R: Read + Send>(
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

#[cfg(test)]
mod tests {
    use capture::{PcapNgWriter, PcapWriter, Timestamp};
    use etherparse::PacketBuilder;

    use super::*;

    /// The `i`-th frame of a varied mix: TCP, UDP and ICMP over both IP versions, VLAN tags,
    /// ARP, and a frame cut short.
    fn frame(i: u32) -> Vec<u8> {
        let eth = || PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
        let a = [10, (i >> 8) as u8, i as u8, 1];
        let mut v = Vec::new();
        let built = match i % 7 {
            0 => eth()
                .ipv4(a, [10, 0, 0, 2], 64)
                .tcp(40000 + (i % 50) as u16, 80, i, 502)
                .ack(i / 3)
                .write(&mut v, &[0x41; 20]),
            1 => eth()
                .ipv4(a, [10, 0, 0, 2], 64)
                .udp(5353, 53)
                .write(&mut v, &[0; 12]),
            2 => eth()
                .ipv6([0xfd; 16], [0xfe; 16], 64)
                .tcp(1, 2, i, 9)
                .syn()
                .write(&mut v, &[]),
            3 => eth()
                .single_vlan(etherparse::VlanId::try_new((i % 4000) as u16 + 1).unwrap())
                .ipv4(a, [10, 0, 0, 3], 64)
                .icmpv4_echo_request(7, i as u16)
                .write(&mut v, &[0; 24]),
            4 => eth()
                .ipv6([1; 16], [2; 16], 255)
                .icmpv6_echo_reply(3, i as u16)
                .write(&mut v, &[0; 8]),
            5 => {
                v.extend_from_slice(&[0xff; 6]);
                v.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
                v.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1]);
                v.extend_from_slice(&a);
                v.extend_from_slice(&[0, 0, 0, 0, 0, 0, 10, 0, 0, 2]);
                Ok(())
            }
            _ => {
                let r = eth()
                    .ipv4(a, [10, 0, 0, 4], 64)
                    .tcp(9, 10, i, 3)
                    .write(&mut v, &[1; 40]);
                v.truncate(45);
                r
            }
        };
        built.unwrap();
        v
    }

    /// A classic pcap of `n` packets, microsecond timestamps.
    fn pcap(n: u32) -> Vec<u8> {
        let mut w = PcapWriter::new(Vec::new(), LinkType::Ethernet, 65535, false).unwrap();
        for i in 0..n {
            let f = frame(i);
            let ts = Timestamp::new(1_700_000_000 + i64::from(i / 1000), i % 1000 * 997_000);
            w.write_packet(ts, f.len() as u32 + i % 3, &f).unwrap();
        }
        w.into_inner()
    }

    /// A pcapng of `n` packets on two interfaces, one with microsecond and one with nanosecond
    /// timestamps, so that the fraction's digits change along the file.
    fn pcapng(n: u32) -> Vec<u8> {
        let mut w = PcapNgWriter::new(Vec::new()).unwrap();
        w.add_interface_with_resolution(LinkType::Ethernet, 65535, None, TsResolution::MICROS)
            .unwrap();
        w.add_interface_with_resolution(LinkType::Ethernet, 65535, None, TsResolution::NANOS)
            .unwrap();
        for i in 0..n {
            let f = frame(i);
            let iface = u32::from(i % 1000 < 300);
            let ts = Timestamp::new(
                1_700_000_000 + i64::from(i / 1000),
                i * 7919 % 1_000_000_000,
            );
            w.write_packet(iface, ts, f.len() as u32, &f).unwrap();
        }
        w.into_inner()
    }

    /// Serves `data` in reads of at most `chunk` bytes, so that records are cut by the end of the
    /// reader's buffer at many places.
    struct Chunks<'a> {
        data: &'a [u8],
        chunk: usize,
    }

    impl Read for Chunks<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.chunk.min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    /// Accepts `left` bytes, then fails with `kind`.
    struct Fails {
        out: Vec<u8>,
        left: usize,
        kind: io::ErrorKind,
    }

    impl Write for Fails {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            if self.left == 0 {
                return Err(self.kind.into());
            }
            let n = b.len().min(self.left);
            self.out.extend_from_slice(&b[..n]);
            self.left -= n;
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// What one run printed, how many lines it counted, and how it ended.
    fn run_with(
        bytes: &[u8],
        chunk: usize,
        json: bool,
        limit: u64,
        plan: Plan,
    ) -> (Vec<u8>, u64, String) {
        let mut r = CaptureReader::new(Chunks { data: bytes, chunk }).unwrap();
        let mut out = Vec::new();
        let o = decode(&mut r, &mut out, json, limit, plan);
        let end = format!("{:?} {:?}", o.sink, o.read_error.map(|e| e.to_string()));
        (out, o.printed, end)
    }

    const PLANS: [Plan; 3] = [
        Plan {
            threads: 2,
            batch: 4096,
        },
        Plan {
            threads: 2,
            batch: 61,
        },
        Plan {
            threads: 3,
            batch: 7,
        },
    ];

    #[test]
    fn threads_print_what_one_thread_prints() {
        let pcap = pcap(30_000);
        let ng = pcapng(20_000);
        assert!(
            pcap.len() > 2 << 20 && ng.len() > 1 << 20,
            "{} {}",
            pcap.len(),
            ng.len()
        );
        // A cut last record, and a corrupt one in the middle of a pcapng.
        let cut = &pcap[..pcap.len() - 30];
        let mut bad = ng.clone();
        let at = {
            let mut r = CaptureReader::new(&ng[..]).unwrap();
            let mut at = 0;
            while let Some(p) = r.next_packet().unwrap() {
                if p.number == 10_000 {
                    at = p.offset as usize;
                    break;
                }
            }
            at
        };
        // The block's length, made one no block can have.
        bad[at + 4..at + 8].copy_from_slice(&7u32.to_le_bytes());
        // A pcap record in the middle with a length past the limit: where the packets already
        // in the buffer stop and the error comes from the checked read.
        let mut absurd = pcap.clone();
        let at = {
            let mut r = CaptureReader::new(&pcap[..]).unwrap();
            while r.next_packet().unwrap().unwrap().number < 15_000 {}
            r.offset() as usize
        };
        absurd[at + 8..at + 12].copy_from_slice(&(capture::MAX_CAPLEN + 1).to_le_bytes());
        for (name, bytes) in [
            ("pcap", &pcap[..]),
            ("pcapng", &ng),
            ("cut", cut),
            ("corrupt", &bad),
            ("absurd", &absurd),
        ] {
            for json in [false, true] {
                for limit in [u64::MAX, 0, 1, 4097, 12_345] {
                    let want = run_with(bytes, 1 << 20, json, limit, Plan::SINGLE);
                    if limit == u64::MAX && matches!(name, "cut" | "corrupt" | "absurd") {
                        assert!(want.2.contains("Some(\"record"), "{name}: {}", want.2);
                    }
                    for (plan, chunk) in PLANS.iter().zip([1 << 20, 9_999, 100_003]) {
                        let got = run_with(bytes, chunk, json, limit, *plan);
                        assert_eq!(got.1, want.1, "{name} json {json} limit {limit} {plan:?}");
                        assert!(
                            got.0 == want.0,
                            "{name} json {json} limit {limit} {plan:?}: output differs"
                        );
                        assert_eq!(got.2, want.2, "{name} json {json} limit {limit} {plan:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_closed_pipe_stops_quietly_and_other_write_errors_are_returned() {
        let bytes = pcap(20_000);
        let (all, _, _) = run_with(&bytes, 1 << 20, false, u64::MAX, Plan::SINGLE);
        for plan in [Plan::SINGLE, PLANS[0], PLANS[2]] {
            for (kind, left) in [
                (io::ErrorKind::BrokenPipe, 1000),
                (io::ErrorKind::Other, 300_000),
            ] {
                let mut r = CaptureReader::new(&bytes[..]).unwrap();
                let mut out = Fails {
                    out: Vec::new(),
                    left,
                    kind,
                };
                let o = decode(&mut r, &mut out, false, u64::MAX, plan);
                match (kind, o.sink) {
                    (io::ErrorKind::BrokenPipe, Some(Sink::Closed)) => {}
                    (io::ErrorKind::Other, Some(Sink::Failed(e))) => assert_eq!(e.kind(), kind),
                    (_, s) => panic!("{plan:?} {kind:?}: {s:?}"),
                }
                assert!(o.read_error.is_none());
                assert_eq!(
                    out.out,
                    all[..left],
                    "{plan:?}: what was written is the start"
                );
            }
        }
    }

    #[test]
    fn small_files_and_counts_stay_on_one_thread() {
        assert_eq!(Plan::choose(Some(1 << 20), u64::MAX), Plan::SINGLE);
        assert_eq!(Plan::choose(None, u64::MAX), Plan::SINGLE);
        assert_eq!(Plan::choose(Some(1 << 30), 100), Plan::SINGLE);
        let big = Plan::choose(Some(1 << 30), u64::MAX);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(big.threads > 1, cores > 1, "{big:?}");
    }
}
