//! Streaming pcap and pcapng reading and writing, with errors that name the record at fault.
//!
//! [`CaptureReader`] reads classic pcap (microsecond and nanosecond, both byte orders) and pcapng
//! (Section Header, Interface Description, Enhanced, Simple and obsolete Packet Blocks; several
//! sections and interfaces, each interface with its own link type, `if_tsresol` and
//! `if_tsoffset`; other blocks skipped) from any [`std::io::Read`], one [`Packet`] at a time.
//! Link types: Ethernet, raw IP, Linux cooked SLL and SLL2, BSD null/loopback and Cisco HDLC
//! ([`linktype_from_raw`]).
//! [`PcapWriter`] and [`PcapNgWriter`] write both formats.
//!
//! Memory is constant in the file's size: one reusable buffer, bounded by the largest record the
//! limits allow ([`MAX_CAPLEN`] per packet, [`MAX_BLOCK_LEN`] per pcapng block held whole). A
//! caller that keeps packets past the next call, or hands them to other threads, holds clones of
//! that buffer ([`SharedBytes`], [`CaptureReader::shared_bytes`]); the reader then goes on in
//! another one, so memory grows only by the buffers held.
//! A truncated or corrupt file delivers every good packet before the fault, then a
//! [`CaptureError`] naming the record's number and byte offset; a packet the capture cut short
//! (`caplen < orig_len`) is not an error ([`Packet::is_cut`]).
//!
//! This crate must never panic on any input, never allocate per packet, and never size a buffer
//! from a length field before checking it against those limits.
//!
//! The format parsers are written here over `std::io::Read` rather than taken from
//! `pcap-parser` 0.17: its streaming readers report a failure as a bare nom error kind or
//! `UnexpectedEof` (no record, no lengths), turn any read error into `ReadError` (dropping the
//! `io::Error`, and failing on `Interrupted`), need whole unknown blocks in the buffer, and collect
//! Enhanced Packet Block options into a `Vec` per packet. It is kept as a dev-dependency to
//! cross-check the writers against an independent reader.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use capture::{CaptureFormat, CaptureReader, LinkType, PcapNgWriter, Timestamp};
//!
//! let mut w = PcapNgWriter::new(Vec::new())?;
//! let eth = w.add_interface(LinkType::Ethernet, 65535, Some("eth0"))?;
//! let tun = w.add_interface(LinkType::RawIp, 65535, Some("tun0"))?;
//! w.write_packet(eth, Timestamp::new(1_700_000_000, 1), 1514, &[0u8; 96])?;
//! w.write_packet(tun, Timestamp::new(1_700_000_001, 2), 40, &[0x45; 40])?;
//! let file = w.into_inner();
//!
//! let mut r = CaptureReader::new(&file[..])?;
//! assert_eq!(r.format(), CaptureFormat::PcapNg);
//! let p = r.next_packet()?.expect("first packet");
//! assert_eq!((p.number, p.interface, p.link, p.caplen, p.orig_len), (1, 0, LinkType::Ethernet, 96, 1514));
//! assert!(p.is_cut());
//! assert_eq!(p.timestamp.fmt_nanos().to_string(), "1700000000.000000001");
//! let p = r.next_packet()?.expect("second packet");
//! assert_eq!((p.interface, p.link), (1, LinkType::RawIp));
//! assert!(r.next_packet()?.is_none());
//! assert_eq!(r.interfaces()[1].name.as_deref(), Some("tun0"));
//! # Ok(()) }
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod linktype;
mod prefetch;
mod reader;
mod shared;
mod source;
#[cfg(test)]
mod testutil;
mod timestamp;
mod writer;

pub use error::CaptureError;
pub use linktype::{
    LINKTYPE_C_HDLC, LINKTYPE_ETHERNET, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2, LINKTYPE_LOOP, LINKTYPE_NULL, LINKTYPE_RAW, linktype_from_raw,
    linktype_to_raw,
};
pub use reader::{CaptureFormat, CaptureReader, InterfaceInfo, Packet};
pub use shared::SharedBytes;
pub use source::CaptureFile;
pub use timestamp::{Timestamp, TsResolution};
pub use wire::LinkType;
pub use writer::{PcapNgWriter, PcapWriter};

/// The largest captured length accepted for one packet: 16 MiB.
///
/// libpcap never captures more than 256 KiB, and the largest packets on the supported link types
/// (GRO/TSO super-frames, IPv6 jumbograms as captured) stay far below this; a larger length field
/// means a corrupt file, reported as [`CaptureError::AbsurdLength`] before anything is allocated.
/// The snapshot length in a file header is not used as the limit: real files carry records
/// longer than their header's snaplen, and snaplen 0.
pub const MAX_CAPLEN: u32 = 16 << 20;

/// The largest pcapng block held whole (Section Header, Interface Description and packet blocks):
/// 32 MiB, room for a [`MAX_CAPLEN`] packet and its options. Other blocks are skipped however
/// long they claim to be.
pub const MAX_BLOCK_LEN: u32 = 32 << 20;
