//! Why a capture file could not be read, and where.
//!
//! Every variant about the file's contents names the record at fault: its 1-based number and the
//! byte offset where it starts. Records are counted as the format defines them: in classic pcap
//! the file header is record 0 and the packet records are 1, 2, …; in pcapng every block is a
//! record (the first Section Header Block is record 1). An error never names a record after one
//! that was not delivered: every good record before it has been.

use std::io;
use std::path::PathBuf;

/// Why a capture file could not be read.
///
/// `record` is the 1-based number of the record at fault and `offset` the byte offset where it
/// starts. In classic pcap the file header is record 0 and the packet records are 1, 2, …; in
/// pcapng every block is a record, the first Section Header Block being record 1. Every good
/// record before the one named was delivered.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened.
    #[error("cannot open {}: {source}", path.display())]
    Open {
        /// The path given to [`CaptureReader::open`](crate::CaptureReader::open).
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// Reading failed while the given record was being read.
    #[error("record {record} at byte offset {offset}: read failed: {source}")]
    Io {
        /// The record being read.
        record: u64,
        /// Where it starts.
        offset: u64,
        /// What the reader said.
        #[source]
        source: io::Error,
    },
    /// The file has no bytes at all.
    #[error("empty file: no pcap or pcapng header")]
    Empty,
    /// The first four bytes are neither a pcap nor a pcapng magic number.
    #[error(
        "not a pcap or pcapng file: it starts with {:02x} {:02x} {:02x} {:02x}",
        found[0], found[1], found[2], found[3]
    )]
    BadMagic {
        /// The first four bytes of the file.
        found: [u8; 4],
    },
    /// The file ends inside the fixed-size header of a record (the pcap file header, a pcap
    /// packet header, a pcapng block header).
    #[error(
        "record {record} at byte offset {offset}: truncated {what}: need {need} bytes, {have} remain"
    )]
    TruncatedHeader {
        /// The record whose header is cut.
        record: u64,
        /// Where it starts.
        offset: u64,
        /// Which header: "file header", "pcap file header", "packet header", "block header".
        what: &'static str,
        /// The header's size.
        need: u64,
        /// The bytes left in the file from `offset` on.
        have: u64,
    },
    /// The file ends inside a record's body. In pcap `need` is the captured length from the packet
    /// header and `have` the bytes after that header; in pcapng `need` is the block's total length
    /// and `have` the bytes from the start of the block.
    #[error(
        "record {record} at byte offset {offset}: truncated record: header says {need} bytes, {have} remain"
    )]
    TruncatedRecord {
        /// The record that is cut.
        record: u64,
        /// Where it starts.
        offset: u64,
        /// The length its header announces.
        need: u64,
        /// The bytes actually left.
        have: u64,
    },
    /// A length field is beyond what this crate will buffer ([`MAX_CAPLEN`](crate::MAX_CAPLEN)
    /// for a packet, [`MAX_BLOCK_LEN`](crate::MAX_BLOCK_LEN) for a pcapng block): the file is
    /// corrupt, and reading on would need unbounded memory.
    #[error(
        "record {record} at byte offset {offset}: absurd length: header says {len} bytes, the limit is {limit}"
    )]
    AbsurdLength {
        /// The record with the length field.
        record: u64,
        /// Where it starts.
        offset: u64,
        /// The length it claims.
        len: u64,
        /// The limit it breaks.
        limit: u64,
    },
    /// The file header (pcap) or an Interface Description Block (pcapng) names a link type this
    /// crate does not decode.
    #[error(
        "record {record} at byte offset {offset}: unsupported link type {linktype} \
         (supported: 1 Ethernet, 101/228/229/12/14 raw IP, 113 Linux SLL, 276 Linux SLL2)"
    )]
    UnsupportedLinkType {
        /// The file header (0) or the Interface Description Block.
        record: u64,
        /// Where it starts.
        offset: u64,
        /// The link type found (pcap: the low 16 bits of the header field).
        linktype: u32,
    },
    /// A pcapng packet block names an interface its section has not described.
    #[error(
        "record {record} at byte offset {offset}: packet names interface {interface}, \
         but its section describes {defined} interface(s)"
    )]
    UnknownInterface {
        /// The packet block.
        record: u64,
        /// Where it starts.
        offset: u64,
        /// The interface id in the block.
        interface: u32,
        /// How many Interface Description Blocks the section had before it.
        defined: u32,
    },
    /// A record violates its format in another way (bad block length or trailer, unsupported
    /// version, captured length past the block, malformed option, ...).
    #[error("record {record} at byte offset {offset}: corrupt: {what}")]
    Corrupt {
        /// The record at fault.
        record: u64,
        /// Where it starts.
        offset: u64,
        /// What is wrong, in words.
        what: String,
    },
}

impl CaptureError {
    /// The record at fault, for variants that concern one.
    pub fn record(&self) -> Option<u64> {
        self.location().map(|(record, _)| record)
    }

    /// The byte offset of the record at fault, for variants that concern one.
    pub fn offset(&self) -> Option<u64> {
        self.location().map(|(_, offset)| offset)
    }

    fn location(&self) -> Option<(u64, u64)> {
        match *self {
            CaptureError::Open { .. } | CaptureError::Empty | CaptureError::BadMagic { .. } => None,
            CaptureError::Io { record, offset, .. }
            | CaptureError::TruncatedHeader { record, offset, .. }
            | CaptureError::TruncatedRecord { record, offset, .. }
            | CaptureError::AbsurdLength { record, offset, .. }
            | CaptureError::UnsupportedLinkType { record, offset, .. }
            | CaptureError::UnknownInterface { record, offset, .. }
            | CaptureError::Corrupt { record, offset, .. } => Some((record, offset)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_record_and_offset() {
        let e = CaptureError::TruncatedRecord {
            record: 17,
            offset: 4242,
            need: 1514,
            have: 300,
        };
        assert_eq!(
            e.to_string(),
            "record 17 at byte offset 4242: truncated record: header says 1514 bytes, 300 remain"
        );
        assert_eq!((e.record(), e.offset()), (Some(17), Some(4242)));
        let e = CaptureError::BadMagic {
            found: [0xde, 0xad, 0xbe, 0xef],
        };
        assert_eq!(
            e.to_string(),
            "not a pcap or pcapng file: it starts with de ad be ef"
        );
        assert_eq!(e.record(), None);
    }
}
