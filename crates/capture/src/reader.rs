//! [`CaptureReader`]: one packet at a time from a pcap or pcapng stream, in constant memory.
//!
//! The reader pulls the stream through one reusable buffer in big reads and hands out each packet
//! as a slice of that buffer ([`Packet`] borrows the reader), so the work per packet is a header
//! decode and a bounds check: no allocation, no system call. Memory is bounded by the largest
//! record the limits allow ([`MAX_CAPLEN`], [`MAX_BLOCK_LEN`]); pcapng blocks that carry no packet
//! and are not needed (statistics, name resolution, custom and unknown blocks) are skipped
//! through the buffer without being held whole, whatever length they claim.
//!
//! It must never panic on any bytes, never allocate or read ahead beyond what a length field
//! checked against those limits asks for, and never deliver a record it has not fully checked.
//! After the first error every further call to [`CaptureReader::next_packet`] returns `Ok(None)`.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::ops::Range;
use std::path::Path;

use wire::LinkType;

use crate::source::{CaptureFile, Source};
use crate::{
    CaptureError, MAX_BLOCK_LEN, MAX_CAPLEN, SharedBytes, Timestamp, TsResolution,
    linktype_from_raw,
};

/// pcap magic numbers, as a little-endian read of the first four bytes.
const PCAP_MICROS: u32 = 0xa1b2_c3d4;
const PCAP_NANOS: u32 = 0xa1b2_3c4d;
/// pcapng block types.
pub(crate) const BT_SHB: u32 = 0x0a0d_0d0a;
pub(crate) const BT_IDB: u32 = 1;
pub(crate) const BT_OPB: u32 = 2;
pub(crate) const BT_SPB: u32 = 3;
pub(crate) const BT_EPB: u32 = 6;
/// The Section Header Block's byte-order magic.
pub(crate) const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
/// pcapng option codes used here.
pub(crate) const OPT_ENDOFOPT: u16 = 0;
pub(crate) const OPT_IF_NAME: u16 = 2;
pub(crate) const OPT_IF_TSRESOL: u16 = 9;
pub(crate) const OPT_IF_TSOFFSET: u16 = 14;

/// The container format of a capture file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CaptureFormat {
    /// Classic libpcap: one link type, microsecond or nanosecond timestamps, either byte order.
    Pcap {
        /// Nanosecond timestamps (magic `a1b23c4d`) rather than microseconds (`a1b2c3d4`).
        nanos: bool,
        /// Written big-endian.
        big_endian: bool,
    },
    /// pcapng: sections, several interfaces each with its own link type and resolution.
    PcapNg,
}

impl fmt::Display for CaptureFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CaptureFormat::Pcap { nanos, big_endian } => write!(
                f,
                "pcap ({}, {})",
                if nanos { "nanoseconds" } else { "microseconds" },
                if big_endian {
                    "big-endian"
                } else {
                    "little-endian"
                }
            ),
            CaptureFormat::PcapNg => f.write_str("pcapng"),
        }
    }
}

/// One capture interface: the pcap file header, or a pcapng Interface Description Block.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InterfaceInfo {
    /// How its frames begin.
    pub link: LinkType,
    /// The link-type number in the file (pcap: the low 16 bits of the header field, whose upper
    /// bits may carry FCS flags).
    pub linktype_raw: u32,
    /// The snapshot length: no packet on it was captured longer (0: unlimited, in pcapng).
    pub snaplen: u32,
    /// The `if_name` option (pcapng only).
    pub name: Option<String>,
    /// The unit of its timestamps (`if_tsresol`; pcap: micro- or nanoseconds).
    pub ts_resolution: TsResolution,
    /// Seconds added to every timestamp (`if_tsoffset`; 0 if absent).
    pub ts_offset: i64,
}

/// One captured packet, borrowed from the reader's buffer until the next call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    /// 1-based number of this packet in the file, counting packets only (Wireshark's
    /// `frame.number`).
    pub number: u64,
    /// Byte offset in the file of the record (pcap packet header, pcapng block) that holds it.
    pub offset: u64,
    /// When it was captured (pcapng Simple Packet Blocks carry none: 0).
    pub timestamp: Timestamp,
    /// Bytes captured: `data.len()`.
    pub caplen: u32,
    /// Length of the packet on the wire; more than `caplen` if the capture cut it.
    pub orig_len: u32,
    /// pcapng interface id within its section (always 0 for pcap).
    pub interface: u32,
    /// Link type of its interface.
    pub link: LinkType,
    /// The captured bytes, starting with the link-layer header.
    pub data: &'a [u8],
}

impl Packet<'_> {
    /// Whether the capture kept fewer bytes than were on the wire (snaplen cut): the packet is
    /// still delivered, and a decoder should mark it truncated rather than malformed.
    pub fn is_cut(&self) -> bool {
        self.caplen < self.orig_len
    }
}

/// Where a packet sits in the reader's buffer, and what its record said.
struct PacketAt {
    data_at: usize,
    caplen: u32,
    orig_len: u32,
    timestamp: Timestamp,
    interface: u32,
    link: LinkType,
    offset: u64,
}

/// What one pcapng block turned out to be.
enum Step {
    End,
    Packet(PacketAt),
    Other,
}

/// A streaming pcap/pcapng reader over any [`Read`].
///
/// It reads through one reusable buffer in big chunks and lends each packet out of it: no
/// allocation or system call per packet, memory bounded by [`MAX_BLOCK_LEN`] whatever the file
/// size. Every packet before a fault is delivered before the fault's [`CaptureError`]; after an
/// error or the end, [`CaptureReader::next_packet`] returns `Ok(None)` for good.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use capture::{CaptureReader, LinkType, PcapWriter, Timestamp};
/// let mut w = PcapWriter::new(Vec::new(), LinkType::Ethernet, 65535, false)?;
/// w.write_packet(Timestamp::new(1, 500_000_000), 60, &[0u8; 60])?;
/// let bytes = w.into_inner();
///
/// let mut r = CaptureReader::new(&bytes[..])?;
/// while let Some(p) = r.next_packet()? {
///     assert_eq!((p.number, p.offset, p.caplen, p.link), (1, 24, 60, LinkType::Ethernet));
///     assert_eq!(p.timestamp.to_string(), "1.500000");
/// }
/// # Ok(()) }
/// ```
pub struct CaptureReader<R> {
    src: Source<R>,
    format: CaptureFormat,
    /// Byte order of the pcap file or of the current pcapng section.
    big_endian: bool,
    /// pcap: the one synthesized interface; pcapng: the current section's IDBs.
    interfaces: Vec<InterfaceInfo>,
    /// Records fully consumed (pcap: packet records; pcapng: blocks); the next is `records + 1`.
    records: u64,
    packets: u64,
    finished: bool,
    /// Where the last packet lent out lies in the source's buffer.
    last: Range<usize>,
}

impl<R> fmt::Debug for CaptureReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaptureReader")
            .field("format", &self.format)
            .field("interfaces", &self.interfaces)
            .field("offset", &self.src.offset())
            .field("records", &self.records)
            .field("packets", &self.packets)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl CaptureReader<CaptureFile> {
    /// Opens a capture file and reads its header. The kernel is asked for the file's pages a few
    /// MiB ahead of the reads ([`CaptureFile`]).
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let file = File::open(path).map_err(|source| CaptureError::Open {
            path: path.to_owned(),
            source,
        })?;
        Self::new(CaptureFile::new(file))
    }
}

impl<R: Read> CaptureReader<R> {
    /// Reads the file header (pcap) or first Section Header Block (pcapng), telling the format
    /// by its magic number.
    pub fn new(reader: R) -> Result<Self, CaptureError> {
        let mut src = Source::new(reader);
        let have = src.fill(24).map_err(|source| CaptureError::Io {
            record: 0,
            offset: 0,
            source,
        })?;
        if have == 0 {
            return Err(CaptureError::Empty);
        }
        let Some(&magic) = src.available().first_chunk::<4>() else {
            return Err(truncated_header(0, 0, "file header", 4, have));
        };
        let (nanos, big_endian) = match u32::from_le_bytes(magic) {
            PCAP_MICROS => (false, false),
            PCAP_NANOS => (true, false),
            m if m.swap_bytes() == PCAP_MICROS => (false, true),
            m if m.swap_bytes() == PCAP_NANOS => (true, true),
            BT_SHB => {
                let mut reader = CaptureReader {
                    src,
                    format: CaptureFormat::PcapNg,
                    big_endian: false,
                    interfaces: Vec::new(),
                    records: 0,
                    packets: 0,
                    finished: false,
                    last: 0..0,
                };
                // The block type is that of a Section Header, so this step either reads it or
                // fails: it cannot produce a packet.
                reader.pcapng_block()?;
                reader.leading_interfaces()?;
                return Ok(reader);
            }
            _ => return Err(CaptureError::BadMagic { found: magic }),
        };
        let Some(h) = src.available().first_chunk::<24>() else {
            return Err(truncated_header(0, 0, "pcap file header", 24, have));
        };
        let (major, minor) = (u16_at(h, 4, big_endian), u16_at(h, 6, big_endian));
        let snaplen = u32_at(h, 16, big_endian);
        let linktype = u32_at(h, 20, big_endian) & 0xffff;
        if major != 2 {
            return Err(corrupt(
                0,
                0,
                format!("unsupported pcap version {major}.{minor}"),
            ));
        }
        let link = linktype_from_raw(linktype).ok_or(CaptureError::UnsupportedLinkType {
            record: 0,
            offset: 0,
            linktype,
        })?;
        src.consume(24);
        Ok(CaptureReader {
            src,
            format: CaptureFormat::Pcap { nanos, big_endian },
            big_endian,
            interfaces: vec![InterfaceInfo {
                link,
                linktype_raw: linktype,
                snaplen,
                name: None,
                ts_resolution: if nanos {
                    TsResolution::NANOS
                } else {
                    TsResolution::MICROS
                },
                ts_offset: 0,
            }],
            records: 0,
            packets: 0,
            finished: false,
            last: 0..0,
        })
    }

    /// Reads the Interface Description Blocks that follow, up to the first other block, so that
    /// [`CaptureReader::interfaces`] describes a typical pcapng file as soon as it is opened.
    fn leading_interfaces(&mut self) -> Result<(), CaptureError> {
        loop {
            let (record, offset) = (self.records + 1, self.src.offset());
            self.src.fill(8).map_err(|source| CaptureError::Io {
                record,
                offset,
                source,
            })?;
            match self.src.available().first_chunk::<8>() {
                Some(h) if u32_at(h, 0, self.big_endian) == BT_IDB => {
                    self.pcapng_block()?;
                }
                _ => return Ok(()),
            }
        }
    }

    /// The container format.
    pub fn format(&self) -> CaptureFormat {
        self.format
    }

    /// pcap: the one interface the file header describes. pcapng: the interfaces of the current
    /// section described so far: those right after the Section Header once the reader is made,
    /// later ones as the packets before them are read. A new section starts the list afresh, as
    /// its interface ids restart at 0.
    pub fn interfaces(&self) -> &[InterfaceInfo] {
        &self.interfaces
    }

    /// Bytes pulled from the underlying reader so far (for progress bars; read-ahead included).
    pub fn bytes_read(&self) -> u64 {
        self.src.pulled()
    }

    /// The buffer the last packet was lent out of. A clone of it keeps that packet's bytes, at
    /// [`CaptureReader::last_packet_range`], valid after the next call and on any thread, for
    /// as long as the clone lives: the reader never writes into a buffer someone else holds, it
    /// goes on in another one (a spare whose holders have let go, or a new one) and takes the
    /// part of a record cut by the end of the old one along. Nothing is copied or allocated per
    /// packet; memory grows only by the buffers that are held.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use capture::{CaptureReader, LinkType, PcapWriter, SharedBytes, Timestamp};
    /// let mut w = PcapWriter::new(Vec::new(), LinkType::Ethernet, 65535, false)?;
    /// w.write_packet(Timestamp::new(1, 0), 60, &[7u8; 60])?;
    /// w.write_packet(Timestamp::new(2, 0), 60, &[8u8; 60])?;
    /// let bytes = w.into_inner();
    ///
    /// let mut r = CaptureReader::new(&bytes[..])?;
    /// r.next_packet()?.expect("first packet");
    /// let (held, first) = (r.shared_bytes().clone(), r.last_packet_range());
    /// r.next_packet()?.expect("second packet");
    /// assert_eq!(&held[first], &[7u8; 60][..]);
    /// assert!(SharedBytes::same(&held, r.shared_bytes()));
    /// assert_eq!(&r.shared_bytes()[r.last_packet_range()], &[8u8; 60][..]);
    /// # Ok(()) }
    /// ```
    pub fn shared_bytes(&self) -> &SharedBytes {
        self.src.shared()
    }

    /// Where the bytes of the packet last lent out lie in [`CaptureReader::shared_bytes`] (it
    /// is that packet's `data`); `0..0` before the first.
    pub fn last_packet_range(&self) -> Range<usize> {
        self.last.clone()
    }

    /// Byte offset of the next record to read (everything before it has been delivered).
    pub fn offset(&self) -> u64 {
        self.src.offset()
    }

    /// The next packet, `Ok(None)` at the end of the file, or the error that stops reading.
    ///
    /// Lending iteration: the packet borrows the reader's buffer, so it must be dropped before
    /// the next call. Every packet before a fault is delivered before the fault's error; after
    /// an error (or the end) every further call returns `Ok(None)`.
    #[inline]
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        if self.finished {
            return Ok(None);
        }
        let step = match self.format {
            CaptureFormat::Pcap { nanos, .. } => self.pcap_record(nanos),
            CaptureFormat::PcapNg => self.pcapng_packet(),
        };
        let at = match step {
            Ok(Some(at)) => at,
            Ok(None) => {
                self.finished = true;
                return Ok(None);
            }
            Err(e) => {
                self.finished = true;
                return Err(e);
            }
        };
        self.packets += 1;
        let end = at.data_at + at.caplen as usize;
        self.last = at.data_at..end;
        // The record was checked to lie wholly in the buffer; nothing can have moved it since.
        let data = self.src.buffer().get(at.data_at..end).unwrap_or(&[]);
        Ok(Some(Packet {
            number: self.packets,
            offset: at.offset,
            timestamp: at.timestamp,
            caplen: at.caplen,
            orig_len: at.orig_len,
            interface: at.interface,
            link: at.link,
            data,
        }))
    }

    /// The packets after the last one delivered that lie wholly in the reader's buffer already,
    /// at most `max`, each passed to `each` with where its bytes start in
    /// [`CaptureReader::shared_bytes`]; returns how many. They are the packets, numbers and
    /// offsets that as many calls of [`CaptureReader::next_packet`] would deliver, without the
    /// checks those make for a read, an error or a pcapng block: this stops (returning 0 if it
    /// is the first) at the first record that needs any of that, for `next_packet` to handle.
    /// So a caller alternates the two, and the buffer never changes during a call: every packet
    /// it delivers lies in the one buffer.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use capture::{CaptureReader, LinkType, PcapWriter, Timestamp};
    /// let mut w = PcapWriter::new(Vec::new(), LinkType::Ethernet, 65535, false)?;
    /// for i in 0..10 {
    ///     w.write_packet(Timestamp::new(i, 0), 60, &[i as u8; 60])?;
    /// }
    /// let bytes = w.into_inner();
    ///
    /// let mut r = CaptureReader::new(&bytes[..])?;
    /// let first = r.next_packet()?.expect("a packet").number;
    /// let mut seen = vec![first];
    /// let held = r.shared_bytes().clone();
    /// let n = r.next_buffered(usize::MAX, |p, at| {
    ///     assert_eq!(&held[at..at + 60], p.data);
    ///     seen.push(p.number);
    /// });
    /// assert_eq!((n, seen), (9, (1..=10).collect::<Vec<u64>>()));
    /// assert!(r.next_packet()?.is_none());
    /// # Ok(()) }
    /// ```
    pub fn next_buffered(&mut self, max: usize, each: impl FnMut(&Packet<'_>, usize)) -> usize {
        let CaptureFormat::Pcap { nanos, .. } = self.format else {
            return 0;
        };
        if self.finished {
            return 0;
        }
        // The byte order is settled once for the run rather than at every field.
        match (self.big_endian, nanos) {
            (false, false) => self.buffered_records::<false, false>(max, each),
            (false, true) => self.buffered_records::<false, true>(max, each),
            (true, false) => self.buffered_records::<true, false>(max, each),
            (true, true) => self.buffered_records::<true, true>(max, each),
        }
    }

    /// [`CaptureReader::next_buffered`] for a pcap file in byte order `BE`, with nanosecond
    /// timestamps when `NANOS`.
    #[inline(always)]
    fn buffered_records<const BE: bool, const NANOS: bool>(
        &mut self,
        max: usize,
        mut each: impl FnMut(&Packet<'_>, usize),
    ) -> usize {
        let link = self
            .interfaces
            .first()
            .map_or(LinkType::Ethernet, |i| i.link);
        let mut n = 0;
        while n < max {
            let available = self.src.available();
            let Some(h) = available.first_chunk::<16>() else {
                break;
            };
            let [secs, frac, caplen, orig_len] = [0, 4, 8, 12].map(|at| u32_at(h, at, BE));
            let total = 16 + caplen as usize;
            if caplen > MAX_CAPLEN || total > available.len() {
                break;
            }
            let timestamp = pcap_timestamp(secs, frac, NANOS);
            let offset = self.src.offset();
            let data_at = self.src.position() + 16;
            self.src.consume(total);
            self.records += 1;
            self.packets += 1;
            self.last = data_at..data_at + caplen as usize;
            let data = self.src.buffer().get(self.last.clone()).unwrap_or(&[]);
            let packet = Packet {
                number: self.packets,
                offset,
                timestamp,
                caplen,
                orig_len,
                interface: 0,
                link,
                data,
            };
            each(&packet, data_at);
            n += 1;
        }
        n
    }

    /// One classic pcap packet record.
    #[inline]
    fn pcap_record(&mut self, nanos: bool) -> Result<Option<PacketAt>, CaptureError> {
        let (record, offset) = (self.records + 1, self.src.offset());
        let io = move |source| CaptureError::Io {
            record,
            offset,
            source,
        };
        let have = self.src.fill(16).map_err(io)?;
        if have == 0 {
            return Ok(None);
        }
        let Some(h) = self.src.available().first_chunk::<16>() else {
            return Err(truncated_header(record, offset, "packet header", 16, have));
        };
        let be = self.big_endian;
        let (secs, frac) = (u32_at(h, 0, be), u32_at(h, 4, be));
        let (caplen, orig_len) = (u32_at(h, 8, be), u32_at(h, 12, be));
        if caplen > MAX_CAPLEN {
            return Err(CaptureError::AbsurdLength {
                record,
                offset,
                len: caplen.into(),
                limit: MAX_CAPLEN.into(),
            });
        }
        let total = 16 + caplen as usize;
        let have = self.src.fill(total).map_err(io)?;
        if have < total {
            return Err(CaptureError::TruncatedRecord {
                record,
                offset,
                need: caplen.into(),
                have: have.saturating_sub(16) as u64,
            });
        }
        let timestamp = pcap_timestamp(secs, frac, nanos);
        let link = self
            .interfaces
            .first()
            .map_or(LinkType::Ethernet, |i| i.link);
        let data_at = self.src.position() + 16;
        self.src.consume(total);
        self.records += 1;
        Ok(Some(PacketAt {
            data_at,
            caplen,
            orig_len,
            timestamp,
            interface: 0,
            link,
            offset,
        }))
    }

    /// pcapng blocks up to and including the next packet.
    #[inline(never)]
    fn pcapng_packet(&mut self) -> Result<Option<PacketAt>, CaptureError> {
        loop {
            // Every block consumes at least 12 bytes, so this ends with the stream.
            match self.pcapng_block()? {
                Step::End => return Ok(None),
                Step::Packet(at) => return Ok(Some(at)),
                Step::Other => {}
            }
        }
    }

    /// One pcapng block: checked, applied to the reader's state, and consumed.
    fn pcapng_block(&mut self) -> Result<Step, CaptureError> {
        let (record, offset) = (self.records + 1, self.src.offset());
        let io = move |source| CaptureError::Io {
            record,
            offset,
            source,
        };
        let have = self.src.fill(12).map_err(io)?;
        if have == 0 {
            return Ok(Step::End);
        }
        let Some(&h) = self.src.available().first_chunk::<8>() else {
            return Err(truncated_header(record, offset, "block header", 8, have));
        };
        let mut be = self.big_endian;
        // The Section Header's type reads the same in both byte orders; its byte-order magic,
        // right after the length, says how to read the length and everything up to the next one.
        if u32_at(&h, 0, false) == BT_SHB {
            let Some(bom) = self.src.available().get(8..12) else {
                return Err(truncated_header(record, offset, "section header", 12, have));
            };
            be = match u32_at(bom, 0, true) {
                BYTE_ORDER_MAGIC => true,
                m if m.swap_bytes() == BYTE_ORDER_MAGIC => false,
                _ => {
                    let what =
                        format!("byte-order magic {bom:02x?} is not 1a2b3c4d in either order");
                    return Err(corrupt(record, offset, what));
                }
            };
        }
        let (btype, blen) = (u32_at(&h, 0, be), u32_at(&h, 4, be));
        if blen < 12 || blen % 4 != 0 {
            let what = format!("block length {blen} is not a multiple of 4 of at least 12");
            return Err(corrupt(record, offset, what));
        }
        if !matches!(btype, BT_SHB | BT_IDB | BT_EPB | BT_SPB | BT_OPB) {
            // Not needed to deliver packets: walk past it without holding it whole.
            let body = u64::from(blen) - 4;
            let skipped = self.src.skip(body).map_err(io)?;
            let have = self.src.fill(4).map_err(io)?;
            if skipped < body || have < 4 {
                let have = skipped + have.min(4) as u64;
                return Err(CaptureError::TruncatedRecord {
                    record,
                    offset,
                    need: blen.into(),
                    have,
                });
            }
            check_trailer(self.src.available(), 0, blen, be, record, offset)?;
            self.src.consume(4);
            self.records += 1;
            return Ok(Step::Other);
        }
        if blen > MAX_BLOCK_LEN {
            let (len, limit) = (blen.into(), MAX_BLOCK_LEN.into());
            return Err(CaptureError::AbsurdLength {
                record,
                offset,
                len,
                limit,
            });
        }
        let n = blen as usize;
        let have = self.src.fill(n).map_err(io)?;
        let Some(block) = self.src.available().get(..n) else {
            let have = have as u64;
            return Err(CaptureError::TruncatedRecord {
                record,
                offset,
                need: blen.into(),
                have,
            });
        };
        check_trailer(block, n - 4, blen, be, record, offset)?;
        let step = match btype {
            BT_SHB => {
                if n < 28 {
                    let what = format!("section header block of {n} bytes, the minimum is 28");
                    return Err(corrupt(record, offset, what));
                }
                let (major, minor) = (u16_at(block, 12, be), u16_at(block, 14, be));
                if major != 1 {
                    let what = format!("unsupported pcapng version {major}.{minor}");
                    return Err(corrupt(record, offset, what));
                }
                self.big_endian = be;
                self.interfaces.clear();
                Step::Other
            }
            BT_IDB => {
                let info = parse_idb(block, be, record, offset)?;
                self.interfaces.push(info);
                Step::Other
            }
            BT_EPB | BT_OPB => {
                if n < 32 {
                    let what = format!("packet block of {n} bytes, the minimum is 32");
                    return Err(corrupt(record, offset, what));
                }
                let interface = if btype == BT_EPB {
                    u32_at(block, 8, be)
                } else {
                    u32::from(u16_at(block, 8, be))
                };
                let ticks =
                    u64::from(u32_at(block, 12, be)) << 32 | u64::from(u32_at(block, 16, be));
                let (caplen, orig_len) = (u32_at(block, 20, be), u32_at(block, 24, be));
                if caplen > MAX_CAPLEN {
                    let (len, limit) = (caplen.into(), MAX_CAPLEN.into());
                    return Err(CaptureError::AbsurdLength {
                        record,
                        offset,
                        len,
                        limit,
                    });
                }
                if caplen as usize > n - 32 {
                    let what =
                        format!("captured length {caplen} does not fit in a {blen}-byte block");
                    return Err(corrupt(record, offset, what));
                }
                let info = self.interface(interface, record, offset)?;
                Step::Packet(PacketAt {
                    data_at: self.src.position() + 28,
                    caplen,
                    orig_len,
                    timestamp: info.ts_resolution.timestamp(ticks, info.ts_offset),
                    interface,
                    link: info.link,
                    offset,
                })
            }
            BT_SPB => {
                if n < 16 {
                    let what = format!("simple packet block of {n} bytes, the minimum is 16");
                    return Err(corrupt(record, offset, what));
                }
                let orig_len = u32_at(block, 8, be);
                let info = self.interface(0, record, offset)?;
                // The block holds min(original length, snaplen) bytes plus padding.
                let mut caplen = orig_len.min((n - 16) as u32);
                if info.snaplen != 0 {
                    caplen = caplen.min(info.snaplen);
                }
                if caplen > MAX_CAPLEN {
                    let (len, limit) = (caplen.into(), MAX_CAPLEN.into());
                    return Err(CaptureError::AbsurdLength {
                        record,
                        offset,
                        len,
                        limit,
                    });
                }
                Step::Packet(PacketAt {
                    data_at: self.src.position() + 12,
                    caplen,
                    orig_len,
                    timestamp: Timestamp::default(),
                    interface: 0,
                    link: info.link,
                    offset,
                })
            }
            // Every other type took the skip path above.
            _ => Step::Other,
        };
        self.src.consume(n);
        self.records += 1;
        Ok(step)
    }

    /// The current section's interface `id`, or the error naming the packet block.
    fn interface(&self, id: u32, record: u64, offset: u64) -> Result<&InterfaceInfo, CaptureError> {
        self.interfaces
            .get(id as usize)
            .ok_or(CaptureError::UnknownInterface {
                record,
                offset,
                interface: id,
                defined: u32::try_from(self.interfaces.len()).unwrap_or(u32::MAX),
            })
    }
}

/// An Interface Description Block: link type, snaplen and the options this crate uses.
fn parse_idb(
    block: &[u8],
    be: bool,
    record: u64,
    offset: u64,
) -> Result<InterfaceInfo, CaptureError> {
    if block.len() < 20 {
        let what = format!(
            "interface description block of {} bytes, the minimum is 20",
            block.len()
        );
        return Err(corrupt(record, offset, what));
    }
    let linktype = u32::from(u16_at(block, 8, be));
    let snaplen = u32_at(block, 12, be);
    let link = linktype_from_raw(linktype).ok_or(CaptureError::UnsupportedLinkType {
        record,
        offset,
        linktype,
    })?;
    let mut info = InterfaceInfo {
        link,
        linktype_raw: linktype,
        snaplen,
        name: None,
        ts_resolution: TsResolution::MICROS,
        ts_offset: 0,
    };
    let mut rest = block.get(16..block.len() - 4).unwrap_or(&[]);
    while let Some(h) = rest.first_chunk::<4>() {
        let (code, len) = (u16_at(h, 0, be), usize::from(u16_at(h, 2, be)));
        if code == OPT_ENDOFOPT {
            break;
        }
        let Some(value) = rest.get(4..4 + len) else {
            let what =
                format!("interface option {code} of {len} bytes runs past the end of the block");
            return Err(corrupt(record, offset, what));
        };
        match code {
            OPT_IF_NAME => {
                let name = String::from_utf8_lossy(value);
                info.name = Some(name.trim_end_matches('\0').to_owned());
            }
            OPT_IF_TSRESOL => {
                let &[raw] = value else {
                    let what = format!("if_tsresol option of {len} bytes, it must be 1");
                    return Err(corrupt(record, offset, what));
                };
                let res = TsResolution::from_raw(raw);
                if !res.is_supported() {
                    let what = format!(
                        "if_tsresol {raw:#04x} ({res:?}) is finer than 64-bit ticks can use"
                    );
                    return Err(corrupt(record, offset, what));
                }
                info.ts_resolution = res;
            }
            OPT_IF_TSOFFSET => {
                let Some(&v) = value.first_chunk::<8>().filter(|_| len == 8) else {
                    let what = format!("if_tsoffset option of {len} bytes, it must be 8");
                    return Err(corrupt(record, offset, what));
                };
                info.ts_offset = if be {
                    i64::from_be_bytes(v)
                } else {
                    i64::from_le_bytes(v)
                };
            }
            _ => {}
        }
        // Values are padded to 4 bytes; a writer that dropped the last option's padding loses
        // nothing.
        rest = rest.get(4 + len.next_multiple_of(4)..).unwrap_or(&[]);
    }
    Ok(info)
}

/// A pcap record's time: `frac` is in microseconds, or nanoseconds when `nanos`; a fraction of a
/// second or more (a sloppy writer) carries into the seconds.
#[inline(always)]
fn pcap_timestamp(secs: u32, frac: u32, nanos: bool) -> Timestamp {
    let (carry, nanos) = if nanos {
        (frac / 1_000_000_000, frac % 1_000_000_000)
    } else {
        (frac / 1_000_000, frac % 1_000_000 * 1000)
    };
    Timestamp {
        secs: i64::from(secs) + i64::from(carry),
        nanos,
    }
}

/// Checks the block-total-length copy at `at` against the leading one.
fn check_trailer(
    bytes: &[u8],
    at: usize,
    blen: u32,
    be: bool,
    record: u64,
    offset: u64,
) -> Result<(), CaptureError> {
    let trailer = u32_at(bytes, at, be);
    if trailer != blen {
        let what = format!("trailing block length {trailer} differs from the leading {blen}");
        return Err(corrupt(record, offset, what));
    }
    Ok(())
}

#[cold]
fn truncated_header(
    record: u64,
    offset: u64,
    what: &'static str,
    need: u64,
    have: usize,
) -> CaptureError {
    let have = (have as u64).min(need);
    CaptureError::TruncatedHeader {
        record,
        offset,
        what,
        need,
        have,
    }
}

fn corrupt(record: u64, offset: u64, what: String) -> CaptureError {
    CaptureError::Corrupt {
        record,
        offset,
        what,
    }
}

/// A `u16` at `at`; callers check the length first, so the zero fallback is never used.
#[inline(always)]
pub(crate) fn u16_at(b: &[u8], at: usize, be: bool) -> u16 {
    let v = b
        .get(at..)
        .and_then(|s| s.first_chunk::<2>())
        .copied()
        .unwrap_or_default();
    if be {
        u16::from_be_bytes(v)
    } else {
        u16::from_le_bytes(v)
    }
}

/// A `u32` at `at`; callers check the length first, so the zero fallback is never used.
#[inline(always)]
pub(crate) fn u32_at(b: &[u8], at: usize, be: bool) -> u32 {
    let v = b
        .get(at..)
        .and_then(|s| s.first_chunk::<4>())
        .copied()
        .unwrap_or_default();
    if be {
        u32::from_be_bytes(v)
    } else {
        u32::from_le_bytes(v)
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;
    use crate::testutil::{Dribble, Ng, Owned, Pcap, read_all, read_bytes};

    fn open_err(bytes: &[u8]) -> CaptureError {
        CaptureReader::new(bytes).unwrap_err()
    }

    fn frame(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    #[test]
    fn empty_file() {
        assert!(matches!(open_err(&[]), CaptureError::Empty));
    }

    #[test]
    fn wrong_magic() {
        let e = open_err(b"GIF89a\x01\x00");
        assert!(
            matches!(e, CaptureError::BadMagic { found } if found == *b"GIF8"),
            "{e}"
        );
        // A file too short for a magic number is a truncated header, not a bad magic.
        let e = open_err(&[0xd4, 0xc3]);
        assert!(
            matches!(
                e,
                CaptureError::TruncatedHeader {
                    record: 0,
                    offset: 0,
                    what: "file header",
                    need: 4,
                    have: 2
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn truncated_file_headers() {
        let p = Pcap::new(false, false, 65535, 1);
        let e = open_err(&p.out[..10]);
        assert!(
            matches!(
                e,
                CaptureError::TruncatedHeader {
                    record: 0,
                    offset: 0,
                    what: "pcap file header",
                    need: 24,
                    have: 10
                }
            ),
            "{e}"
        );
        let mut ng = Ng::new(false);
        ng.shb(false);
        let e = open_err(&ng.out[..6]);
        assert!(
            matches!(
                e,
                CaptureError::TruncatedHeader {
                    record: 1,
                    offset: 0,
                    what: "block header",
                    need: 8,
                    have: 6
                }
            ),
            "{e}"
        );
        let e = open_err(&ng.out[..10]);
        assert!(
            matches!(
                e,
                CaptureError::TruncatedHeader {
                    record: 1,
                    offset: 0,
                    what: "section header",
                    need: 12,
                    have: 10
                }
            ),
            "{e}"
        );
        let e = open_err(&ng.out[..20]);
        let need = ng.out.len() as u64;
        assert!(
            matches!(e, CaptureError::TruncatedRecord { record: 1, offset: 0, need: n, have: 20 } if n == need),
            "{e}"
        );
    }

    #[test]
    fn truncated_packet_header_after_good_records() {
        let mut p = Pcap::new(false, false, 65535, 1);
        p.packet(1, 0, 60, &frame(60, 1));
        p.packet(2, 0, 60, &frame(60, 2));
        p.out.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7]);
        let (pkts, e) = read_bytes(&p.out);
        assert_eq!(pkts.len(), 2);
        let e = e.unwrap();
        assert!(
            matches!(
                e,
                CaptureError::TruncatedHeader {
                    record: 3,
                    offset: 176,
                    what: "packet header",
                    need: 16,
                    have: 7
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn truncated_record_names_record_and_offset() {
        let mut p = Pcap::new(false, false, 65535, 1);
        for i in 0..16 {
            p.packet(1000 + i, i, 100, &frame(100, i as u8));
        }
        let at = p.record(2000, 0, 1514, 1514, &frame(300, 9));
        assert_eq!(at, 24 + 16 * 116);
        let (pkts, e) = read_bytes(&p.out);
        assert_eq!(
            pkts.len(),
            16,
            "every good record before the fault is delivered"
        );
        for (i, pk) in pkts.iter().enumerate() {
            assert_eq!(pk.number, i as u64 + 1);
            assert_eq!(pk.offset, 24 + i as u64 * 116);
            assert_eq!(pk.data, frame(100, i as u8));
        }
        let e = e.unwrap();
        assert_eq!(
            e.to_string(),
            "record 17 at byte offset 1880: truncated record: header says 1514 bytes, 300 remain"
        );
        assert!(matches!(
            e,
            CaptureError::TruncatedRecord {
                record: 17,
                offset: 1880,
                need: 1514,
                have: 300
            }
        ));
    }

    #[test]
    fn absurd_caplen_is_an_error_not_an_allocation() {
        for caplen in [MAX_CAPLEN + 1, u32::MAX] {
            let mut p = Pcap::new(false, false, 65535, 1);
            p.packet(1, 0, 60, &frame(60, 0));
            p.record(2, 0, caplen, caplen, &frame(64, 0));
            let mut r = CaptureReader::new(&p.out[..]).unwrap();
            let (pkts, e) = read_all(&mut r);
            assert_eq!(pkts.len(), 1);
            let e = e.unwrap();
            assert!(
                matches!(e, CaptureError::AbsurdLength { record: 2, offset: 100, len, limit }
                    if len == u64::from(caplen) && limit == u64::from(MAX_CAPLEN)),
                "{e}"
            );
            assert_eq!(
                r.src.capacity(),
                256 * 1024,
                "nothing allocated for the bogus length"
            );
        }
        // Exactly the limit is fine (here it is merely truncated).
        let mut p = Pcap::new(false, false, 65535, 1);
        p.record(2, 0, MAX_CAPLEN, MAX_CAPLEN, &[0; 10]);
        let e = read_bytes(&p.out).1.unwrap();
        assert!(
            matches!(
                e,
                CaptureError::TruncatedRecord {
                    record: 1,
                    offset: 24,
                    have: 10,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn snaplen_cut_packet_is_delivered_with_both_lengths() {
        let mut p = Pcap::new(false, false, 64, 1);
        p.packet(5, 6, 1514, &frame(64, 3));
        let (pkts, e) = read_bytes(&p.out);
        assert!(e.is_none());
        assert_eq!(
            (pkts[0].caplen, pkts[0].orig_len, pkts[0].data.len()),
            (64, 1514, 64)
        );
        let mut r = CaptureReader::new(&p.out[..]).unwrap();
        assert!(r.next_packet().unwrap().unwrap().is_cut());
    }

    #[test]
    fn pcap_variants_and_fields() {
        for be in [false, true] {
            for nanos in [false, true] {
                for (raw, link) in [
                    (1, LinkType::Ethernet),
                    (101, LinkType::RawIp),
                    (228, LinkType::RawIp),
                    (113, LinkType::LinuxSll),
                    (276, LinkType::LinuxSll2),
                    (0, LinkType::Null),
                    (108, LinkType::Loop),
                    (104, LinkType::CiscoHdlc),
                    // FCS flags in the upper bits do not change the link type.
                    (0x1400_0001, LinkType::Ethernet),
                ] {
                    let mut p = Pcap::new(be, nanos, 262_144, raw);
                    p.packet(1_700_000_000, 123_456, 70, &frame(70, 1));
                    // A fraction past one second carries.
                    let frac = if nanos { 1_500_000_000 } else { 1_500_000 };
                    p.packet(10, frac, 0, &[]);
                    let mut r = CaptureReader::new(&p.out[..]).unwrap();
                    assert_eq!(
                        r.format(),
                        CaptureFormat::Pcap {
                            nanos,
                            big_endian: be
                        }
                    );
                    let i = &r.interfaces()[0];
                    assert_eq!(
                        (i.link, i.linktype_raw & 0xffff, i.snaplen),
                        (link, raw & 0xffff, 262_144)
                    );
                    let (pkts, e) = read_all(&mut r);
                    assert!(e.is_none());
                    let sub = if nanos { 123_456 } else { 123_456_000 };
                    assert_eq!(
                        pkts[0],
                        Owned {
                            number: 1,
                            offset: 24,
                            timestamp: Timestamp::new(1_700_000_000, sub),
                            caplen: 70,
                            orig_len: 70,
                            interface: 0,
                            link,
                            data: frame(70, 1),
                        }
                    );
                    assert_eq!(pkts[1].timestamp, Timestamp::new(11, 500_000_000));
                    assert_eq!(
                        (pkts[1].number, pkts[1].offset, pkts[1].caplen),
                        (2, 110, 0)
                    );
                    assert_eq!(r.bytes_read(), p.out.len() as u64);
                    assert_eq!(r.offset(), p.out.len() as u64);
                }
            }
        }
    }

    #[test]
    fn pcap_unsupported_link_type_and_version() {
        let p = Pcap::new(false, false, 65535, 105);
        let e = open_err(&p.out);
        assert!(
            matches!(
                e,
                CaptureError::UnsupportedLinkType {
                    record: 0,
                    offset: 0,
                    linktype: 105
                }
            ),
            "{e}"
        );
        let mut p = Pcap::new(true, false, 65535, 1);
        p.out[4..6].copy_from_slice(&1u16.to_be_bytes());
        let e = open_err(&p.out);
        assert!(
            matches!(&e, CaptureError::Corrupt { record: 0, offset: 0, what } if what.contains("version 1.4")),
            "{e}"
        );
    }

    /// A two-interface section, a packet on each, and a second section with one interface.
    #[test]
    fn pcapng_sections_reset_interfaces() {
        let mut ng = Ng::new(false);
        ng.shb(false);
        ng.idb(1, 65535, &[(2, b"eth0")]);
        ng.idb(101, 65535, &[(2, b"tun0\0\0")]);
        let a = ng.epb(1, 7_000_001, 40, &frame(40, 1));
        let b = ng.epb(0, 8_000_002, 1514, &frame(60, 2));
        let shb2 = ng.shb(false);
        ng.idb(276, 0, &[]);
        let c = ng.epb(0, 9_000_003, 80, &frame(80, 3));
        let bad = ng.epb(1, 0, 10, &frame(10, 4));
        let mut r = CaptureReader::new(&ng.out[..]).unwrap();
        assert_eq!(r.format(), CaptureFormat::PcapNg);
        assert_eq!(
            r.interfaces().len(),
            2,
            "the leading IDBs are read by new()"
        );
        let p = Owned::from(r.next_packet().unwrap().unwrap());
        assert_eq!(
            p,
            Owned {
                number: 1,
                offset: a,
                timestamp: Timestamp::new(7, 1000),
                caplen: 40,
                orig_len: 40,
                interface: 1,
                link: LinkType::RawIp,
                data: frame(40, 1),
            }
        );
        assert_eq!(r.interfaces().len(), 2);
        assert_eq!(r.interfaces()[0].name.as_deref(), Some("eth0"));
        assert_eq!(r.interfaces()[1].name.as_deref(), Some("tun0"));
        assert_eq!(r.interfaces()[1].ts_resolution, TsResolution::MICROS);
        let p = Owned::from(r.next_packet().unwrap().unwrap());
        assert_eq!(
            (p.number, p.offset, p.interface, p.link),
            (2, b, 0, LinkType::Ethernet)
        );
        assert_eq!((p.caplen, p.orig_len), (60, 1514));
        let p = Owned::from(r.next_packet().unwrap().unwrap());
        assert_eq!(
            (p.number, p.offset, p.interface, p.link),
            (3, c, 0, LinkType::LinuxSll2)
        );
        assert_eq!(r.interfaces().len(), 1);
        assert_eq!(r.interfaces()[0].snaplen, 0);
        let e = r.next_packet().unwrap_err();
        // Blocks: SHB, IDB, IDB, EPB, EPB, SHB, IDB, EPB, EPB -> the bad one is record 9.
        assert!(
            matches!(e, CaptureError::UnknownInterface { record: 9, offset, interface: 1, defined: 1 } if offset == bad),
            "{e}"
        );
        assert!(shb2 < bad);
        assert!(r.next_packet().unwrap().is_none());
    }

    #[test]
    fn pcapng_skips_unknown_blocks_and_epb_options() {
        let mut ng = Ng::new(false);
        ng.shb(false);
        ng.block(4, &[1, 0, 4, 0, 10, 0, 0, 1, b'h', b'o', b's', b't']); // name resolution
        ng.idb(1, 65535, &[]);
        ng.block(0x0bad, &[0xde; 21]); // custom block
        ng.block(0x1234_5678, &[]); // unknown, empty body
        let a = ng.packet_block(
            6,
            0,
            1,
            60,
            &frame(60, 1),
            &[(1, &[0, 0, 0, 1]), (1, b"a comment")],
        );
        ng.block(5, &[0; 16]); // interface statistics
        let b = ng.epb(0, 2, 61, &frame(61, 2));
        let (pkts, e) = read_bytes(&ng.out);
        assert!(e.is_none(), "{e:?}");
        assert_eq!(pkts.len(), 2);
        assert_eq!(
            (pkts[0].offset, pkts[0].data.as_slice()),
            (a, &frame(60, 1)[..])
        );
        assert_eq!(
            (pkts[1].offset, pkts[1].data.as_slice()),
            (b, &frame(61, 2)[..])
        );
    }

    #[test]
    fn pcapng_timestamp_resolutions_and_offset() {
        let mut ng = Ng::new(false);
        ng.shb(false);
        ng.idb(1, 0, &[]); // default: microseconds
        ng.idb(1, 0, &[(9, &[9])]); // nanoseconds
        ng.idb(1, 0, &[(9, &[3])]); // milliseconds
        ng.idb(1, 0, &[(9, &[0x80 | 20])]); // 2^-20 s
        ng.idb(1, 0, &[(9, &[6]), (14, &(-100i64).to_le_bytes())]); // offset
        let ticks = 1_700_000_000_250_000u64;
        for iface in 0..5 {
            ng.epb(iface, ticks, 1, &[0]);
        }
        let (pkts, e) = read_bytes(&ng.out);
        assert!(e.is_none(), "{e:?}");
        let ts: Vec<_> = pkts.iter().map(|p| p.timestamp).collect();
        assert_eq!(ts[0], Timestamp::new(1_700_000_000, 250_000_000));
        assert_eq!(ts[1], Timestamp::new(1_700_000, 250_000));
        assert_eq!(ts[2], Timestamp::new(1_700_000_000_250, 0));
        let secs = ticks >> 20;
        let nanos = (((ticks & 0xf_ffff) as u128 * 1_000_000_000) >> 20) as u32;
        assert_eq!(ts[3], Timestamp::new(secs as i64, nanos));
        assert_eq!(ts[4], Timestamp::new(1_700_000_000 - 100, 250_000_000));
    }

    #[test]
    fn pcapng_big_endian_and_mixed_sections() {
        let mut ng = Ng::new(true);
        ng.shb(true);
        ng.idb(113, 65535, &[(9, &[9]), (14, &5i64.to_be_bytes())]);
        let a = ng.epb(0, 1_000_000_001, 100, &frame(33, 1));
        ng.shb(false);
        ng.idb(1, 65535, &[]);
        let b = ng.epb(0, 2_000_000, 50, &frame(50, 2));
        ng.shb(true);
        ng.idb(101, 65535, &[]);
        let c = ng.spb(20, &frame(20, 3));
        let (pkts, e) = read_bytes(&ng.out);
        assert!(e.is_none(), "{e:?}");
        let got: Vec<_> = pkts
            .iter()
            .map(|p| {
                (
                    p.offset,
                    p.link,
                    p.timestamp,
                    p.caplen,
                    p.orig_len,
                    p.data.clone(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    a,
                    LinkType::LinuxSll,
                    Timestamp::new(6, 1),
                    33,
                    100,
                    frame(33, 1)
                ),
                (
                    b,
                    LinkType::Ethernet,
                    Timestamp::new(2, 0),
                    50,
                    50,
                    frame(50, 2)
                ),
                (
                    c,
                    LinkType::RawIp,
                    Timestamp::default(),
                    20,
                    20,
                    frame(20, 3)
                ),
            ]
        );
    }

    #[test]
    fn pcapng_simple_and_obsolete_packet_blocks() {
        let mut ng = Ng::new(false);
        ng.shb(false);
        ng.idb(1, 64, &[]);
        // SPB: the captured part is min(original length, snaplen); padding is not data.
        ng.spb(1514, &frame(64, 1));
        ng.spb(3, &frame(3, 2));
        let opb = ng.packet_block(2, 0, 3_000_000, 70, &frame(64, 3), &[]);
        let (pkts, e) = read_bytes(&ng.out);
        assert!(e.is_none(), "{e:?}");
        assert_eq!(
            (pkts[0].caplen, pkts[0].orig_len, pkts[0].data.clone()),
            (64, 1514, frame(64, 1))
        );
        assert_eq!(
            (pkts[1].caplen, pkts[1].orig_len, pkts[1].data.clone()),
            (3, 3, frame(3, 2))
        );
        assert_eq!(
            (pkts[2].offset, pkts[2].timestamp, pkts[2].caplen),
            (opb, Timestamp::new(3, 0), 64)
        );
        // An SPB before any IDB has no interface to belong to.
        let mut ng = Ng::new(false);
        ng.shb(false);
        let at = ng.spb(10, &frame(10, 0));
        let e = read_bytes(&ng.out).1.unwrap();
        assert!(
            matches!(e, CaptureError::UnknownInterface { record: 2, offset, interface: 0, defined: 0 } if offset == at),
            "{e}"
        );
    }

    #[test]
    fn pcapng_unsupported_link_type_names_the_idb() {
        let mut ng = Ng::new(false);
        ng.shb(false);
        ng.idb(1, 65535, &[]);
        ng.epb(0, 1, 10, &frame(10, 0));
        let idb = ng.idb(189, 65535, &[]);
        ng.epb(1, 1, 10, &frame(10, 0));
        let (pkts, e) = read_bytes(&ng.out);
        assert_eq!(pkts.len(), 1);
        let e = e.unwrap();
        assert!(
            matches!(e, CaptureError::UnsupportedLinkType { record: 4, offset, linktype: 189 } if offset == idb),
            "{e}"
        );
    }

    #[test]
    fn pcapng_truncated_and_absurd_blocks() {
        let mut ng = Ng::new(false);
        ng.shb(false);
        ng.idb(1, 65535, &[]);
        ng.epb(0, 1, 100, &frame(100, 0));
        let full = ng.out.len();
        let at = ng.epb(0, 2, 100, &frame(100, 1)) as usize;
        // Cut inside the second EPB.
        let (pkts, e) = read_bytes(&ng.out[..at + 50]);
        assert_eq!(pkts.len(), 1);
        let e = e.unwrap();
        assert!(
            matches!(e, CaptureError::TruncatedRecord { record: 4, offset, need: 132, have: 50 } if offset as usize == at),
            "{e}"
        );
        // Cut inside its header.
        let e = read_bytes(&ng.out[..at + 5]).1.unwrap();
        assert!(
            matches!(
                e,
                CaptureError::TruncatedHeader {
                    record: 4,
                    what: "block header",
                    need: 8,
                    have: 5,
                    ..
                }
            ),
            "{e}"
        );
        // A block length beyond the limit.
        let mut bad = ng.out[..full].to_vec();
        let mut b = Ng::new(false);
        b.epb(0, 3, 10, &frame(10, 0));
        b.set32(4, MAX_BLOCK_LEN + 4);
        bad.extend_from_slice(&b.out);
        let e = read_bytes(&bad).1.unwrap();
        assert!(
            matches!(e, CaptureError::AbsurdLength { record: 4, len, .. } if len == u64::from(MAX_BLOCK_LEN) + 4),
            "{e}"
        );
        // A captured length beyond the limit, inside a small block.
        let mut bad = ng.out[..full].to_vec();
        let mut b = Ng::new(false);
        b.epb(0, 3, 10, &frame(10, 0));
        b.set32(20, u32::MAX);
        bad.extend_from_slice(&b.out);
        let e = read_bytes(&bad).1.unwrap();
        assert!(
            matches!(
                e,
                CaptureError::AbsurdLength {
                    record: 4,
                    len: 0xffff_ffff,
                    ..
                }
            ),
            "{e}"
        );
        // An unknown block claiming 4 GB is walked, not buffered, and found truncated.
        let mut bad = ng.out[..full].to_vec();
        let mut b = Ng::new(false);
        b.block(0x4444, &[7; 4000]);
        b.set32(4, 0xffff_fff0);
        bad.extend_from_slice(&b.out);
        let mut r = CaptureReader::new(&bad[..]).unwrap();
        let (pkts, e) = read_all(&mut r);
        assert_eq!(pkts.len(), 1);
        let e = e.unwrap();
        assert!(
            matches!(
                e,
                CaptureError::TruncatedRecord {
                    record: 4,
                    need: 0xffff_fff0,
                    have: 4012,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(r.src.capacity(), 256 * 1024);
    }

    #[test]
    fn pcapng_corrupt_blocks() {
        let base = {
            let mut ng = Ng::new(false);
            ng.shb(false);
            ng.idb(1, 65535, &[]);
            ng
        };
        let at = base.out.len();
        let check = |bytes: &[u8], needle: &str| {
            let (pkts, e) = read_bytes(bytes);
            assert!(pkts.is_empty());
            let e = e.unwrap();
            assert!(
                matches!(&e, CaptureError::Corrupt { record: 3, offset, what } if *offset as usize == at && what.contains(needle)),
                "{e} (wanted {needle:?})"
            );
        };
        // Length not a multiple of 4, too small, trailer mismatch.
        for (blen, needle) in [(30, "block length 30"), (8, "block length 8")] {
            let mut ng = Ng {
                be: false,
                out: base.out.clone(),
            };
            ng.epb(0, 1, 10, &frame(10, 0));
            ng.set32(at + 4, blen);
            check(&ng.out, needle);
        }
        let mut ng = Ng {
            be: false,
            out: base.out.clone(),
        };
        ng.epb(0, 1, 10, &frame(10, 0));
        let end = ng.out.len();
        ng.set32(end - 4, 999);
        check(&ng.out, "trailing block length 999");
        // Same for a skipped block.
        let mut ng = Ng {
            be: false,
            out: base.out.clone(),
        };
        ng.block(5, &[0; 8]);
        let end = ng.out.len();
        ng.set32(end - 4, 4);
        check(&ng.out, "trailing block length 4");
        // Captured length past the block.
        let mut ng = Ng {
            be: false,
            out: base.out.clone(),
        };
        ng.epb(0, 1, 10, &frame(10, 0));
        ng.set32(at + 20, 13);
        check(
            &ng.out,
            "captured length 13 does not fit in a 44-byte block",
        );
        // Too-short EPB.
        let mut ng = Ng {
            be: false,
            out: base.out.clone(),
        };
        ng.block(6, &[0; 12]);
        check(&ng.out, "packet block of 24 bytes");
        // Bad byte-order magic in a later section.
        let mut ng = Ng {
            be: false,
            out: base.out.clone(),
        };
        ng.shb(false);
        ng.set32(at + 8, 0x1234_5678);
        check(&ng.out, "byte-order magic");
        // Unsupported pcapng version.
        let mut ng = Ng {
            be: false,
            out: base.out.clone(),
        };
        ng.shb(false);
        ng.out[at + 12] = 2;
        check(&ng.out, "unsupported pcapng version 2.0");
        // Interface options that run past the block or are malformed.
        let mut ng = Ng {
            be: false,
            out: base.out.clone(),
        };
        let mut opts = ng.options(&[(2, b"eth0")]);
        opts[2] = 40;
        let mut body = vec![1, 0, 0, 0, 0xff, 0xff, 0, 0];
        body.extend_from_slice(&opts);
        ng.block(1, &body);
        check(&ng.out, "option 2 of 40 bytes runs past");
        for (opts, needle) in [
            (vec![(9u16, &[9u8, 9][..])], "if_tsresol option of 2 bytes"),
            (vec![(9, &[20][..])], "if_tsresol 0x14"),
            (vec![(9, &[0x80 | 64][..])], "if_tsresol 0xc0"),
            (vec![(14, &[0; 4][..])], "if_tsoffset option of 4 bytes"),
        ] {
            let mut ng = Ng {
                be: false,
                out: base.out.clone(),
            };
            ng.idb(1, 0, &opts);
            check(&ng.out, needle);
        }
    }

    #[test]
    fn pcapng_first_block_errors_come_from_new() {
        let mut ng = Ng::new(false);
        ng.shb(false);
        ng.set32(4, 22);
        let e = open_err(&ng.out);
        assert!(
            matches!(&e, CaptureError::Corrupt { record: 1, offset: 0, what } if what.contains("block length 22")),
            "{e}"
        );
        // The IDBs right after the Section Header are read by new(), and so are their faults.
        let mut ng = Ng::new(false);
        ng.shb(false);
        let idb = ng.idb(147, 0, &[]);
        ng.epb(0, 1, 1, &[0]);
        let e = open_err(&ng.out);
        assert!(
            matches!(e, CaptureError::UnsupportedLinkType { record: 2, offset, linktype: 147 } if offset == idb),
            "{e}"
        );
        let mut ng = Ng::new(false);
        ng.shb(false);
        ng.out[8] = 0;
        assert!(matches!(
            open_err(&ng.out),
            CaptureError::Corrupt {
                record: 1,
                offset: 0,
                ..
            }
        ));
    }

    /// Fails with an I/O error once `left` bytes have been served.
    struct FailAfter<'a> {
        data: &'a [u8],
        left: usize,
    }

    impl Read for FailAfter<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.left == 0 {
                return Err(io::Error::other("disk on fire"));
            }
            let n = out.len().min(self.left).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            self.left -= n;
            Ok(n)
        }
    }

    #[test]
    fn io_error_names_the_record_and_then_reading_stops() {
        let mut p = Pcap::new(false, true, 65535, 1);
        for i in 0..3 {
            p.packet(i, 0, 60, &frame(60, i as u8));
        }
        let mut r = CaptureReader::new(FailAfter {
            data: &p.out,
            left: 24 + 76 + 30,
        })
        .unwrap();
        let (pkts, e) = read_all(&mut r);
        assert_eq!(pkts.len(), 1);
        let e = e.unwrap();
        assert!(
            matches!(&e, CaptureError::Io { record: 2, offset: 100, source } if source.to_string() == "disk on fire"),
            "{e}"
        );
    }

    /// Serves a file header then `records_left` copies of one record, counting the reads.
    struct Endless {
        header: Vec<u8>,
        hdr_pos: usize,
        record: Vec<u8>,
        pos: usize,
        records_left: u64,
        reads: u64,
    }

    impl Read for Endless {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            self.reads += 1;
            let mut n = 0;
            while n < out.len() {
                if self.hdr_pos < self.header.len() {
                    let k = (self.header.len() - self.hdr_pos).min(out.len() - n);
                    out[n..n + k].copy_from_slice(&self.header[self.hdr_pos..self.hdr_pos + k]);
                    self.hdr_pos += k;
                    n += k;
                } else if self.records_left > 0 {
                    let k = (self.record.len() - self.pos).min(out.len() - n);
                    out[n..n + k].copy_from_slice(&self.record[self.pos..self.pos + k]);
                    self.pos += k;
                    n += k;
                    if self.pos == self.record.len() {
                        self.pos = 0;
                        self.records_left -= 1;
                    }
                } else {
                    break;
                }
            }
            Ok(n)
        }
    }

    #[test]
    fn constant_memory_and_big_reads() {
        let records = 300_000u64;
        let mut h = Pcap::new(false, false, 65535, 1);
        h.packet(1, 2, 64, &frame(64, 0));
        let record = h.out.split_off(24);
        let src = Endless {
            header: h.out,
            hdr_pos: 0,
            record,
            pos: 0,
            records_left: records,
            reads: 0,
        };
        let mut r = CaptureReader::new(src).unwrap();
        let mut n = 0u64;
        while let Some(p) = r.next_packet().unwrap() {
            n += 1;
            assert_eq!(p.caplen, 64);
        }
        assert_eq!(n, records);
        let total = 24 + records * 80;
        assert_eq!(r.bytes_read(), total);
        assert_eq!(r.src.capacity(), 256 * 1024, "the buffer never grew");
        let reads = r.src.get_ref().reads;
        assert!(
            reads < total / (128 * 1024) + 4,
            "{reads} reads for {total} bytes"
        );
    }

    /// Every packet, from `next_buffered` (at most `max` a call) wherever it delivers and from
    /// `next_packet` otherwise; checks that each buffered one lies where it says; the count of
    /// buffered ones.
    fn read_mixed<R: Read>(
        r: &mut CaptureReader<R>,
        max: usize,
    ) -> (Vec<Owned>, Option<CaptureError>, usize) {
        let (mut out, mut buffered) = (Vec::new(), 0);
        loop {
            let held = r.shared_bytes().clone();
            let n = r.next_buffered(max, |p, at| {
                assert_eq!(&held[at..at + p.caplen as usize], p.data);
                out.push(Owned::from(*p));
            });
            assert!(n <= max);
            buffered += n;
            match r.next_packet() {
                Ok(Some(p)) => out.push(Owned::from(p)),
                Ok(None) => return (out, None, buffered),
                Err(e) => return (out, Some(e), buffered),
            }
        }
    }

    #[test]
    fn buffered_packets_are_the_packets_next_packet_delivers() {
        for (be, nanos) in [(false, false), (true, false), (false, true), (true, true)] {
            let mut p = Pcap::new(be, nanos, 65535, 1);
            for i in 0..600u32 {
                // Now and then a fraction of a second or more, which carries into the seconds.
                let frac = if i % 97 == 0 { 2_500_000_123 } else { i * 1234 };
                let len = (i as usize * 37) % 300;
                p.packet(
                    1_700_000_000 + i,
                    frac,
                    len as u32 + i % 3,
                    &frame(len, i as u8),
                );
            }
            let good = p.out.clone();
            // Cut in the middle of the last record, and an absurd length in the middle.
            let cut = &good[..good.len() - 5];
            let mut absurd = good.clone();
            let at = {
                let mut r = CaptureReader::new(&good[..]).unwrap();
                while r.next_packet().unwrap().unwrap().number < 300 {}
                r.offset() as usize
            };
            absurd[at + 8..at + 12].copy_from_slice(&if be {
                (MAX_CAPLEN + 1).to_be_bytes()
            } else {
                (MAX_CAPLEN + 1).to_le_bytes()
            });
            for bytes in [&good[..], cut, &absurd] {
                let (want, want_err) = read_bytes(bytes);
                for chunk in [7, 1000, 65_536, usize::MAX] {
                    for max in [1, 3, usize::MAX] {
                        let mut r = CaptureReader::new(Dribble::new(bytes, chunk)).unwrap();
                        let (got, err, buffered) = read_mixed(&mut r, max);
                        assert!(got == want, "be {be} nanos {nanos} chunk {chunk} max {max}");
                        assert_eq!(
                            err.map(|e| e.to_string()),
                            want_err.as_ref().map(|e| e.to_string())
                        );
                        // A reader that serves little at a time leaves nothing buffered.
                        if chunk > 1000 {
                            assert!(buffered >= got.len() / 2, "{buffered} of {}", got.len());
                        }
                        assert!(r.next_packet().unwrap().is_none());
                        assert_eq!(r.next_buffered(max, |_, _| panic!("after the end")), 0);
                    }
                }
            }
        }
    }

    #[test]
    fn pcapng_packets_are_never_buffered() {
        let mut n = Ng::new(false);
        n.shb(false);
        n.idb(1, 65535, &[]);
        for i in 0..10 {
            n.epb(0, i, 60, &frame(60, i as u8));
        }
        let mut r = CaptureReader::new(&n.out[..]).unwrap();
        let (got, err, buffered) = read_mixed(&mut r, usize::MAX);
        assert_eq!((got.len(), err.is_none(), buffered), (10, true, 0));
    }
}
