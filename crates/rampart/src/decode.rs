//! `rampart decode FILE`: prints every packet of a pcap or pcapng file, one line each, in the
//! manner of `tcpdump -n -tt -S` (see [`text`]), or with `--json` one JSON object per line.
//!
//! Built for speed over large files: lines are formatted straight into one 256 KiB output
//! buffer written to locked standard output when full, integers and addresses are formatted by
//! hand in fixed-size chunks (see [`line`]), and the texts that repeat along a flow (a text
//! line's `SRC.PORT > DST.PORT: `, IPv6 addresses) are remembered in small per-thread caches.
//! All on one thread: on the two-core machines this runs on, a reading thread cost more CPU
//! (copies between threads, wake-ups) than it saved. It must never allocate per packet or panic
//! on any input. Packets read before a read error are all
//! printed, then the error (which names the file) is returned. When the reader of standard
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

use std::io::{self, Write};
use std::ops::Range;
use std::path::PathBuf;

use capture::{CaptureError, CaptureReader, TsResolution};
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

    // Lines are formatted straight into one output buffer, written out when it is full: the
    // buffering of a `BufWriter` without copying every line into it.
    let mut stdout = io::stdout().lock();
    let mut out = Lines::with_capacity(OUT_BUFFER + LINE_ROOM);
    let mut stamper = Stamper::default();
    let limit = args.count.unwrap_or(u64::MAX);
    let mut printed = 0u64;
    let mut read_error = None;
    let mut sink = None;
    // The packet borrows the reader, so its interface's resolution is looked up after the line
    // is built: the line is built with the digits of the previous packet (one resolution per
    // file is the rule) and its timestamp rewritten in the rare case they differ.
    let mut digits = 6u8;
    while printed < limit {
        let line_at = out.text().len();
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
                let at = out.push(|line| format_record(line, &rec, args.json));
                (pkt.interface, ts, at)
            }
            Ok(None) => break,
            Err(e) => {
                read_error = Some(e);
                break;
            }
        };
        let wanted = reader
            .interfaces()
            .get(iface as usize)
            .map_or(6, |i| ts_digits(i.ts_resolution));
        if wanted != digits {
            digits = wanted;
            let fixed = stamper.render(ts.secs, ts.nanos, digits);
            out.replace(line_at + ts_at.start..line_at + ts_at.end, fixed.text());
        }
        printed += 1;
        if out.text().len() >= OUT_BUFFER {
            if let Err(e) = stdout.write_all(out.text()) {
                sink = Some(sink_error(e));
                break;
            }
            out.clear();
        }
    }
    if sink.is_none()
        && let Err(e) = stdout.write_all(out.text()).and_then(|()| stdout.flush())
    {
        sink = Some(sink_error(e));
    }
    tracing::info!(packets = printed, bytes = reader.bytes_read(), "decoded");
    match (sink, read_error) {
        (Some(Sink::Closed), _) => Ok(()),
        (Some(Sink::Failed(e)), _) => {
            Err(anyhow::Error::new(e).context("writing to standard output"))
        }
        (None, Some(e)) => Err(anyhow::Error::new(e).context(path.display().to_string())),
        (None, None) => Ok(()),
    }
}
