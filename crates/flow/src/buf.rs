//! Packet buffers for the datapath: a frame with headroom in front, so pushing a VLAN tag or an
//! encapsulation header moves a few bytes instead of copying the frame, plus the virtio-net
//! offload metadata that travels with it.
//!
//! Buffers are allocated once (by a pool, at start-up) and reused: nothing here allocates after
//! [`PacketBuf::new`], and no method panics whatever the bytes or the lengths asked for.

use std::cell::OnceCell;

use thiserror::Error;
use wire::{LinkType, ParsedPacket};

use crate::PortId;

/// Why a buffer operation could not be done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum BufError {
    /// The frame does not fit in the buffer after its headroom.
    #[error("a {len}-byte frame does not fit: {room} bytes of room after the headroom")]
    TooLarge {
        /// Frame length.
        len: usize,
        /// Bytes available after the headroom.
        room: usize,
    },
    /// Not enough headroom to prepend.
    #[error("{needed} bytes of headroom needed, {available} available")]
    NoHeadroom {
        /// Bytes to prepend.
        needed: usize,
        /// Headroom left.
        available: usize,
    },
    /// The frame is shorter than the bytes to remove or keep.
    #[error("frame of {len} bytes is shorter than {needed}")]
    TooShort {
        /// Bytes asked for.
        needed: usize,
        /// Frame length.
        len: usize,
    },
}

/// Segmentation offload type, as `virtio_net_hdr.gso_type` (without the ECN bit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum GsoType {
    /// No segmentation.
    #[default]
    None,
    /// TCP over IPv4 (TSO).
    TcpV4,
    /// TCP over IPv6 (TSO).
    TcpV6,
    /// UDP segmentation (`VIRTIO_NET_HDR_GSO_UDP_L4`).
    UdpL4,
}

/// Why a `virtio_net_hdr` could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum OffloadError {
    /// Fewer than 10 bytes.
    #[error("virtio_net_hdr needs {needed} bytes, got {len}")]
    Truncated {
        /// Header length.
        needed: usize,
        /// Bytes given.
        len: usize,
    },
    /// A `gso_type` this datapath does not handle.
    #[error("virtio_net_hdr gso_type {0:#04x} is not supported (UFO or unknown)")]
    UnsupportedGso(
        /// The raw `gso_type` byte.
        u8,
    ),
}

/// Offload metadata, as `struct virtio_net_hdr` (the 10-byte legacy layout, little-endian).
///
/// With [`OffloadMeta::NEEDS_CSUM`] the transport checksum is *partial*: the field at
/// `csum_start + csum_offset` holds the folded, non-complemented pseudo-header sum, and whoever
/// transmits (NIC or kernel) sums from `csum_start` to the end and stores the complement there.
/// With [`OffloadMeta::DATA_VALID`] the checksums were already verified and are complete.
/// `csum_start` and `hdr_len` count from the start of the frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct OffloadMeta {
    /// `NEEDS_CSUM` and/or `DATA_VALID`.
    pub flags: u8,
    /// Segmentation offload requested.
    pub gso_type: GsoType,
    /// The ECN bit of `gso_type` (the sender may set CWR on segments).
    pub gso_ecn: bool,
    /// Length of the headers to repeat in every segment.
    pub hdr_len: u16,
    /// Payload bytes per segment.
    pub gso_size: u16,
    /// Where checksumming starts (`NEEDS_CSUM`), from the frame start.
    pub csum_start: u16,
    /// Where the checksum field is, from `csum_start`.
    pub csum_offset: u16,
}

impl OffloadMeta {
    /// `VIRTIO_NET_HDR_F_NEEDS_CSUM`.
    pub const NEEDS_CSUM: u8 = 1;
    /// `VIRTIO_NET_HDR_F_DATA_VALID`.
    pub const DATA_VALID: u8 = 2;
    /// Bytes of the legacy header.
    pub const VIRTIO_LEN: usize = 10;

    /// True when the transport checksum is still to be completed by the transmitter.
    #[inline]
    pub fn needs_csum(&self) -> bool {
        self.flags & Self::NEEDS_CSUM != 0
    }

    /// Reads a little-endian `virtio_net_hdr` (the first 10 bytes of `b`).
    pub fn from_virtio(b: &[u8]) -> Result<OffloadMeta, OffloadError> {
        let Some(h) = b.get(..Self::VIRTIO_LEN) else {
            return Err(OffloadError::Truncated {
                needed: Self::VIRTIO_LEN,
                len: b.len(),
            });
        };
        let le = |i: usize| u16::from_le_bytes([h[i], h[i + 1]]);
        let gso_type = match h[1] & 0x7f {
            0 => GsoType::None,
            1 => GsoType::TcpV4,
            4 => GsoType::TcpV6,
            5 => GsoType::UdpL4,
            _ => return Err(OffloadError::UnsupportedGso(h[1])),
        };
        Ok(OffloadMeta {
            flags: h[0],
            gso_type,
            gso_ecn: h[1] & 0x80 != 0,
            hdr_len: le(2),
            gso_size: le(4),
            csum_start: le(6),
            csum_offset: le(8),
        })
    }

    /// The little-endian `virtio_net_hdr` image.
    pub fn to_virtio(&self) -> [u8; 10] {
        let t = match self.gso_type {
            GsoType::None => 0,
            GsoType::TcpV4 => 1,
            GsoType::TcpV6 => 4,
            GsoType::UdpL4 => 5,
        } | if self.gso_ecn { 0x80 } else { 0 };
        let mut b = [0u8; 10];
        b[0] = self.flags;
        b[1] = t;
        b[2..4].copy_from_slice(&self.hdr_len.to_le_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_le_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_le_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_le_bytes());
        b
    }

    /// Moves the frame-relative offsets after `delta` bytes were inserted (positive) or removed
    /// (negative) in front of the L3 header. False when an offset would leave its range.
    pub(crate) fn shift(&mut self, delta: i32) -> bool {
        let mv = |v: u16| u16::try_from(i32::from(v) + delta).ok();
        if self.needs_csum() {
            match mv(self.csum_start) {
                Some(v) => self.csum_start = v,
                None => return false,
            }
        }
        if self.gso_type != GsoType::None && self.hdr_len != 0 {
            match mv(self.hdr_len) {
                Some(v) => self.hdr_len = v,
                None => return false,
            }
        }
        true
    }
}

/// A frame in a fixed buffer with headroom.
///
/// The full parse ([`wire::ParsedPacket`]) is made **lazily**: the hot path of a forwarded
/// packet needs only its flow key, which [`crate::FlowKey::from_frame`] reads straight from the
/// bytes, so the parse is made the first time something asks for it ([`PacketBuf::parsed`]: an
/// inspection engine, a rewrite action, a drop report). Once made, the actions keep it in step
/// with every change they make; until then, writes to the bytes need no bookkeeping, since the
/// parse will be made from the bytes as they are then.
pub struct PacketBuf {
    storage: Box<[u8]>,
    head: usize,
    len: usize,
    rx_headroom: usize,
    /// Offload metadata received with the frame (or to send with it).
    pub meta: OffloadMeta,
    /// The port the frame came in on.
    pub in_port: PortId,
    /// The link type of the frame (Ethernet unless set otherwise).
    link: LinkType,
    /// The parse of the current bytes, once asked for.
    parsed: OnceCell<ParsedPacket>,
}

impl Clone for PacketBuf {
    fn clone(&self) -> PacketBuf {
        PacketBuf {
            storage: self.storage.clone(),
            head: self.head,
            len: self.len,
            rx_headroom: self.rx_headroom,
            meta: self.meta,
            in_port: self.in_port,
            link: self.link,
            parsed: self.parsed.clone(),
        }
    }
}

impl core::fmt::Debug for PacketBuf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PacketBuf")
            .field("head", &self.head)
            .field("len", &self.len)
            .field("capacity", &self.storage.len())
            .field("meta", &self.meta)
            .field("in_port", &self.in_port)
            .field("link", &self.link)
            .field("parsed", &self.parsed.get())
            .finish()
    }
}

impl PacketBuf {
    /// Headroom reserved in front of a received frame by default: room for a VLAN tag or a
    /// VXLAN/GENEVE encapsulation with options.
    pub const DEFAULT_HEADROOM: usize = 128;

    /// An empty buffer of `capacity` bytes of which `headroom` stay free in front of a frame.
    /// This allocates: do it once, when the pool is built.
    pub fn new(capacity: usize, headroom: usize) -> PacketBuf {
        let headroom = headroom.min(capacity);
        PacketBuf {
            storage: vec![0u8; capacity].into_boxed_slice(),
            head: headroom,
            len: 0,
            rx_headroom: headroom,
            meta: OffloadMeta::default(),
            in_port: 0,
            link: LinkType::Ethernet,
            parsed: OnceCell::new(),
        }
    }

    /// A buffer holding a copy of `frame` with the default headroom, parsed (allocates; for
    /// tests and the slow path).
    pub fn from_frame(frame: &[u8]) -> PacketBuf {
        let mut b = PacketBuf::new(Self::DEFAULT_HEADROOM + frame.len(), Self::DEFAULT_HEADROOM);
        // Cannot fail: the buffer was sized for it.
        let _ = b.load(frame);
        b
    }

    /// Replaces the contents with a copy of `frame` (Ethernet) at the configured headroom and
    /// resets the offload metadata; the frame will be parsed when first asked.
    pub fn load(&mut self, frame: &[u8]) -> Result<(), BufError> {
        let room = self.storage.len() - self.rx_headroom;
        let Some(dst) = self
            .storage
            .get_mut(self.rx_headroom..self.rx_headroom + frame.len())
        else {
            return Err(BufError::TooLarge {
                len: frame.len(),
                room,
            });
        };
        dst.copy_from_slice(frame);
        self.head = self.rx_headroom;
        self.len = frame.len();
        self.meta = OffloadMeta::default();
        self.link = LinkType::Ethernet;
        self.parsed = OnceCell::new();
        Ok(())
    }

    /// Replaces the contents with a copy of `other`'s frame, metadata, port and parse (an
    /// output copy that must see the packet before a later rewrite).
    pub fn load_copy(&mut self, other: &PacketBuf) -> Result<(), BufError> {
        self.load(other.frame())?;
        self.meta = other.meta;
        self.in_port = other.in_port;
        self.link = other.link;
        self.parsed = other.parsed.clone();
        Ok(())
    }

    /// The bytes after the configured headroom, to receive a frame into directly; follow with
    /// [`PacketBuf::commit`]. Resets the frame to empty.
    pub fn receive_area(&mut self) -> &mut [u8] {
        self.head = self.rx_headroom;
        self.len = 0;
        self.storage.get_mut(self.rx_headroom..).unwrap_or(&mut [])
    }

    /// Sets the frame to the first `len` bytes of the receive area (Ethernet); it will be
    /// parsed when first asked.
    pub fn commit(&mut self, len: usize) -> Result<(), BufError> {
        let room = self.storage.len() - self.rx_headroom;
        if len > room {
            return Err(BufError::TooLarge { len, room });
        }
        self.head = self.rx_headroom;
        self.len = len;
        self.link = LinkType::Ethernet;
        self.parsed = OnceCell::new();
        Ok(())
    }

    /// The link type of the frame.
    #[inline]
    pub fn link(&self) -> LinkType {
        self.link
    }

    /// Declares the frame's link type (raw IP, Linux cooked); the parse is made again.
    pub fn set_link(&mut self, link: LinkType) {
        self.link = link;
        self.parsed = OnceCell::new();
    }

    /// The parse of the current bytes, made now if it was not yet ([`wire::parse_link`]).
    #[inline]
    pub fn parsed(&self) -> &ParsedPacket {
        self.parsed
            .get_or_init(|| wire::parse_link(self.frame(), self.link))
    }

    /// Whether the parse of the current bytes has been made (tests of the lazy parse).
    #[inline]
    pub fn is_parsed(&self) -> bool {
        self.parsed.get().is_some()
    }

    /// The parse, made now if needed, for an action that keeps it in step with its rewrite.
    #[inline]
    pub fn parsed_mut(&mut self) -> &mut ParsedPacket {
        if self.parsed.get().is_none() {
            let p = wire::parse_link(self.frame(), self.link);
            self.parsed = OnceCell::from(p);
        }
        match self.parsed.get_mut() {
            Some(p) => p,
            // Set just above.
            None => unreachable!("the parse was just made"),
        }
    }

    /// The parse if it has been made (no parsing).
    #[inline]
    pub fn parsed_if_made(&self) -> Option<&ParsedPacket> {
        self.parsed.get()
    }

    /// Replaces the parse (an action that computed the new one itself).
    #[inline]
    pub fn set_parsed(&mut self, p: ParsedPacket) {
        self.parsed = OnceCell::from(p);
    }

    /// Forgets the parse: the next [`PacketBuf::parsed`] makes it again from the bytes.
    #[inline]
    pub fn forget_parse(&mut self) {
        self.parsed = OnceCell::new();
    }

    /// Parses the current frame now.
    pub fn reparse(&mut self) {
        self.parsed = OnceCell::from(wire::parse_link(self.frame(), self.link));
    }

    /// The frame.
    #[inline]
    pub fn frame(&self) -> &[u8] {
        self.storage
            .get(self.head..self.head + self.len)
            .unwrap_or(&[])
    }

    /// The frame, writable.
    #[inline]
    pub fn frame_mut(&mut self) -> &mut [u8] {
        self.storage
            .get_mut(self.head..self.head + self.len)
            .unwrap_or(&mut [])
    }

    /// Frame length.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the frame is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Free bytes in front of the frame.
    #[inline]
    pub fn headroom(&self) -> usize {
        self.head
    }

    /// Total buffer size.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.storage.len()
    }

    /// Grows the frame by `n` bytes at the front (their content is whatever was there).
    pub fn push_front(&mut self, n: usize) -> Result<(), BufError> {
        if n > self.head {
            return Err(BufError::NoHeadroom {
                needed: n,
                available: self.head,
            });
        }
        self.head -= n;
        self.len += n;
        Ok(())
    }

    /// Removes `n` bytes from the front of the frame.
    pub fn pull_front(&mut self, n: usize) -> Result<(), BufError> {
        if n > self.len {
            return Err(BufError::TooShort {
                needed: n,
                len: self.len,
            });
        }
        self.head += n;
        self.len -= n;
        Ok(())
    }

    /// Shortens the frame to `len` bytes (no-op if already shorter).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headroom_push_pull() {
        let mut b = PacketBuf::new(64, 8);
        assert_eq!(
            b.load(&[0u8; 57]),
            Err(BufError::TooLarge { len: 57, room: 56 })
        );
        b.load(&[1, 2, 3]).unwrap();
        assert_eq!((b.headroom(), b.len()), (8, 3));
        b.push_front(8).unwrap();
        assert_eq!(b.len(), 11);
        assert!(matches!(b.push_front(1), Err(BufError::NoHeadroom { .. })));
        b.pull_front(8).unwrap();
        assert_eq!(b.frame(), &[1, 2, 3]);
        assert!(b.pull_front(4).is_err());
        let area = b.receive_area();
        area[..2].copy_from_slice(&[9, 9]);
        b.commit(2).unwrap();
        assert_eq!(b.frame(), &[9, 9]);
        assert!(b.commit(1000).is_err());
        b.truncate(1);
        assert_eq!(b.frame(), &[9]);
    }

    #[test]
    fn the_parse_is_made_on_first_ask_and_dropped_with_the_bytes() {
        let mut b = PacketBuf::new(256, 8);
        b.load(&[0u8; 60]).unwrap();
        assert!(!b.is_parsed());
        let _ = b.parsed();
        assert!(b.is_parsed());
        b.load(&[0u8; 60]).unwrap();
        assert!(!b.is_parsed(), "new bytes, no parse yet");
        let _ = b.parsed_mut();
        assert!(b.is_parsed());
        b.commit(60).unwrap();
        assert!(!b.is_parsed());
    }

    #[test]
    fn virtio_header_round_trip() {
        let m = OffloadMeta {
            flags: OffloadMeta::NEEDS_CSUM,
            gso_type: GsoType::TcpV6,
            gso_ecn: true,
            hdr_len: 74,
            gso_size: 1440,
            csum_start: 54,
            csum_offset: 16,
        };
        let b = m.to_virtio();
        assert_eq!(b[1], 0x84);
        assert_eq!(OffloadMeta::from_virtio(&b), Ok(m));
        assert!(OffloadMeta::from_virtio(&b[..9]).is_err());
        let mut ufo = b;
        ufo[1] = 3;
        assert_eq!(
            OffloadMeta::from_virtio(&ufo),
            Err(OffloadError::UnsupportedGso(3))
        );
    }
}
