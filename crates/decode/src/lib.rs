//! Prints every packet of a pcap or pcapng capture, one line each, in the manner of
//! `tcpdump -n -tt -S` ([`Format::Text`]), or one JSON object per line ([`Format::Json`], schema
//! below). This is what `rampart decode` runs; the binary only opens the input and the output.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use capture::{CaptureReader, LinkType, PcapWriter, Timestamp};
//! use decode::{Format, Options};
//!
//! // A capture of one raw-IP packet: IPv4 + UDP 10.0.0.1:1000 -> 10.0.0.2:2000, 4 bytes of data.
//! let mut ip = vec![0x45, 0, 0, 32, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
//! ip.extend_from_slice(&[0x03, 0xe8, 0x07, 0xd0, 0, 12, 0, 0, 1, 2, 3, 4]);
//! let mut w = PcapWriter::new(Vec::new(), LinkType::RawIp, 65535, false)?;
//! w.write_packet(Timestamp::new(1_700_000_000, 250_000_000), 32, &ip)?;
//! let file = w.into_inner();
//!
//! let mut reader = CaptureReader::new(&file[..])?;
//! let mut out = Vec::new();
//! let summary = decode::print_capture(&mut reader, &mut out, &Options::new(Format::Text))?;
//! assert_eq!(summary.printed, 1);
//! assert_eq!(
//!     String::from_utf8(out)?,
//!     "1700000000.250000 IP 10.0.0.1.1000 > 10.0.0.2.2000: UDP, length 4\n"
//! );
//! # Ok(()) }
//! ```
//!
//! Built for speed over large files: lines are formatted straight into big output buffers
//! written out whole, integers and addresses are formatted by hand in fixed-size chunks (the
//! `line` module), and the texts that repeat along a flow (a text line's `SRC.PORT > DST.PORT: `,
//! IPv6 addresses) are remembered in small per-thread caches. A file of a few MiB or more is
//! decoded on every core ([`Options::threads_for`]; the `parallel` module); smaller files, and
//! counts below a few thousand packets, stay on one thread, where starting threads would cost
//! more than they save. The output is the same bytes either way.
//!
//! It must never allocate per packet or panic on any input. Packets read before a read error are
//! all printed, then the error is returned ([`DecodeError::Read`]). When the reader of the output
//! goes away (a broken pipe: `rampart decode big.pcap | head`), decoding stops quietly
//! ([`Summary::output_closed`]).
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
//! | `link` | `"ethernet"`, `"raw_ip"`, `"linux_sll"`, `"linux_sll2"`, `"null"` (BSD loopback), `"loop"` (OpenBSD loopback) or `"c_hdlc"` (Cisco HDLC) |
//! | `link_header` | `null` and `loop`: `{family}`, the BSD address family; `c_hdlc`: `{address, control, protocol}`; `null` for the other link types and a cut header |
//! | `eth` | `{src, dst, type}`: MACs as `"aa:bb:cc:dd:ee:ff"`, `type` the outer ethertype (0x8100 when tagged) |
//! | `vlan` | `[{id, pcp, dei, tpid}]`, outermost first, at most two |
//! | `ethertype` | the innermost ethertype (the SLL or Cisco HDLC protocol; 0x0800/0x86dd for raw IP and the IP families of a loopback header, 0 for its other families) |
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

#![forbid(unsafe_code)]

mod fields;
mod json;
mod line;
mod parallel;
mod text;

use std::io::{self, Read, Write};
use std::ops::Range;

use capture::{CaptureError, CaptureReader, TsResolution};
use line::{LINE_ROOM, Line, Lines, Stamp, Stamper};
use wire::LinkType;

/// How each packet is printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Format {
    /// One line after `tcpdump -n -tt -S`.
    #[default]
    Text,
    /// One JSON object per line (schema in the crate documentation).
    Json,
}

/// What [`print_capture`] prints, and on how many threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Text or JSON.
    pub format: Format,
    /// The most packets printed.
    pub limit: u64,
    /// Threads that format packets, the calling one included; 1 (or 0) keeps all the work on the
    /// calling thread. [`Options::threads_for`] says what pays off.
    pub threads: usize,
}

impl Options {
    /// Every packet in `format`, on the calling thread.
    pub fn new(format: Format) -> Options {
        Options {
            format,
            limit: u64::MAX,
            threads: 1,
        }
    }

    /// The threads worth using for a capture of `len` bytes (`None` when unknown, as for a pipe)
    /// of which at most `limit` packets are printed: every core (up to 8) for a file of a few
    /// MiB or more, else 1, as starting threads would cost more than they save.
    pub fn threads_for(len: Option<u64>, limit: u64) -> usize {
        Plan::choose(len, limit).threads
    }

    fn plan(&self) -> Plan {
        if self.threads < 2 {
            Plan::SINGLE
        } else {
            Plan {
                threads: self.threads,
                batch: BATCH,
            }
        }
    }
}

/// How a [`print_capture`] that did not fail ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Lines written.
    pub printed: u64,
    /// The reader of the output went away (a broken pipe), so printing stopped early. Not an
    /// error: `rampart decode big.pcap | head` succeeds.
    pub output_closed: bool,
}

/// Why [`print_capture`] stopped before the end of the capture.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The capture could not be read further. Every packet before the fault was printed.
    #[error("reading the capture after {printed} packets printed")]
    Read {
        /// Lines written before the fault.
        printed: u64,
        /// What is wrong, and at which record and byte offset.
        #[source]
        source: CaptureError,
    },
    /// Writing the output failed (other than by a broken pipe).
    #[error("writing the output after {printed} packets printed")]
    Write {
        /// Lines handed to the output before it failed.
        printed: u64,
        /// The write error.
        #[source]
        source: io::Error,
    },
}

/// Prints the packets of `reader` (at most `options.limit`) to `out`, one line each, on the
/// threads `options` asks for; the output is the same bytes however many there are.
pub fn print_capture<R: Read + Send, W: Write + Send>(
    reader: &mut CaptureReader<R>,
    out: &mut W,
    options: &Options,
) -> Result<Summary, DecodeError> {
    let json = options.format == Format::Json;
    let outcome = decode(reader, out, json, options.limit, options.plan());
    let printed = outcome.printed;
    match outcome {
        Outcome {
            sink: Some(Sink::Closed),
            ..
        } => Ok(Summary {
            printed,
            output_closed: true,
        }),
        Outcome {
            sink: Some(Sink::Failed(source)),
            ..
        } => Err(DecodeError::Write { printed, source }),
        Outcome {
            read_error: Some(source),
            ..
        } => Err(DecodeError::Read { printed, source }),
        Outcome { .. } => Ok(Summary {
            printed,
            output_closed: false,
        }),
    }
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
    parallel::decode_parallel(reader, out, json, limit, plan)
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
        assert_eq!(Options::threads_for(Some(1 << 30), u64::MAX), big.threads);
    }

    #[test]
    fn print_capture_says_how_it_ended() {
        let bytes = pcap(5_000);
        let cut = &bytes[..bytes.len() - 30];
        for threads in [1, 3] {
            let options = Options {
                threads,
                ..Options::new(Format::Json)
            };
            let mut out = Vec::new();
            let mut r = CaptureReader::new(&bytes[..]).unwrap();
            let s = print_capture(&mut r, &mut out, &options).unwrap();
            assert_eq!((s.printed, s.output_closed), (5_000, false));
            assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 5_000);

            let mut r = CaptureReader::new(cut).unwrap();
            match print_capture(&mut r, &mut Vec::new(), &options) {
                Err(DecodeError::Read {
                    printed: 4_999,
                    source,
                }) => {
                    assert!(source.to_string().contains("record 5000"), "{source}");
                }
                other => panic!("{threads} threads: {other:?}"),
            }

            for (kind, want_closed) in [
                (io::ErrorKind::BrokenPipe, true),
                (io::ErrorKind::Other, false),
            ] {
                let mut out = Fails {
                    out: Vec::new(),
                    left: 100_000,
                    kind,
                };
                let mut r = CaptureReader::new(&bytes[..]).unwrap();
                match print_capture(&mut r, &mut out, &options) {
                    Ok(s) if want_closed => assert!(s.output_closed && s.printed < 5_000, "{s:?}"),
                    Err(DecodeError::Write { source, printed }) if !want_closed => {
                        assert_eq!(source.kind(), kind);
                        assert!(printed < 5_000);
                    }
                    other => panic!("{threads} threads, {kind:?}: {other:?}"),
                }
            }
        }
    }
}
