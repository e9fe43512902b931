//! Where received packets come from: the [`PacketSource`] trait, a capture file or standard
//! input ([`CaptureSource`]) and memory ([`MemorySource`]).
//!
//! A source hands out one frame at a time, borrowed until the next call; it never copies or
//! allocates per packet. Live ports (TAP, AF_PACKET, NFQUEUE) are sources of their own kind,
//! added by the live datapath.

use std::io::Read;
use std::path::Path;

use capture::{CaptureError, CaptureReader, Timestamp};
use wire::LinkType;

use crate::port::PortId;

/// One received frame.
#[derive(Debug, Clone, Copy)]
pub struct RxFrame<'a> {
    /// The bytes, starting with the link-layer header of `link`.
    pub data: &'a [u8],
    /// Arrival time in ns (capture time in replay).
    pub time_ns: u64,
    /// 1-based number of the frame in its source (capture record number).
    pub number: u64,
    /// The port it arrived on, when the source knows (memory, live ports); `None` lets the
    /// runtime's port mapping decide (captures).
    pub port: Option<PortId>,
    /// The capture interface it was recorded on (pcapng interface id; 0 otherwise).
    pub interface: u32,
    /// Its link-layer type.
    pub link: LinkType,
}

/// A source of received frames.
pub trait PacketSource {
    /// The next frame, or `None` at the end of input. After an error the source is done.
    fn next(&mut self) -> Result<Option<RxFrame<'_>>, CaptureError>;
    /// Bytes consumed so far (for progress reports); 0 when meaningless.
    fn bytes_read(&self) -> u64 {
        0
    }
}

/// Nanoseconds since the epoch of a capture timestamp (0 for times before it).
pub fn timestamp_ns(t: Timestamp) -> u64 {
    let s = u64::try_from(t.secs).unwrap_or(0);
    s.saturating_mul(1_000_000_000)
        .saturating_add(u64::from(t.nanos))
}

/// A pcap or pcapng capture, from a file or any reader (standard input).
#[derive(Debug)]
pub struct CaptureSource<R> {
    reader: CaptureReader<R>,
}

impl CaptureSource<capture::CaptureFile> {
    /// Opens a capture file.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        Ok(CaptureSource {
            reader: CaptureReader::open(path)?,
        })
    }
}

impl<R: Read> CaptureSource<R> {
    /// A capture read from `reader` (standard input, a pipe).
    pub fn from_reader(reader: R) -> Result<Self, CaptureError> {
        Ok(CaptureSource {
            reader: CaptureReader::new(reader)?,
        })
    }
}

impl<R: Read> PacketSource for CaptureSource<R> {
    fn next(&mut self) -> Result<Option<RxFrame<'_>>, CaptureError> {
        Ok(self.reader.next_packet()?.map(|p| RxFrame {
            data: p.data,
            time_ns: timestamp_ns(p.timestamp),
            number: p.number,
            port: None,
            interface: p.interface,
            link: p.link,
        }))
    }

    fn bytes_read(&self) -> u64 {
        self.reader.bytes_read()
    }
}

/// Frames held in memory, each with the port it arrives on (tests, the model check).
#[derive(Debug, Default, Clone)]
pub struct MemorySource {
    frames: Vec<(PortId, u64, Vec<u8>)>,
    at: usize,
}

impl MemorySource {
    /// An empty source.
    pub fn new() -> Self {
        MemorySource::default()
    }

    /// Adds an Ethernet frame arriving on `port` at `time_ns`; frames are numbered from 1 in
    /// the order they are added.
    pub fn push(&mut self, port: PortId, time_ns: u64, frame: Vec<u8>) {
        self.frames.push((port, time_ns, frame));
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True when there is no frame.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

impl PacketSource for MemorySource {
    fn next(&mut self) -> Result<Option<RxFrame<'_>>, CaptureError> {
        let Some((port, time_ns, data)) = self.frames.get(self.at) else {
            return Ok(None);
        };
        self.at += 1;
        Ok(Some(RxFrame {
            data,
            time_ns: *time_ns,
            number: self.at as u64,
            port: Some(*port),
            interface: 0,
            link: LinkType::Ethernet,
        }))
    }
}
