//! IPv4 (RFC 791): a zero-copy [`Ipv4Packet`] view with header-checksum verification and
//! filling, and the typed [`Ipv4Repr`], whose options live in a fixed 40-byte [`Ipv4Options`]
//! so that a `Repr` is `Copy` and never allocates.
//!
//! [`Ipv4Packet::new_checked`] validates the lengths once: IHL ≥ 5, the header fits the
//! buffer, and the total length covers the header and fits the buffer (bytes past the total
//! length, such as Ethernet padding, are ignored; a capture cut short of the total length is
//! `Truncated` — use [`crate::parse_packet`] for snapped captures). After it no accessor can
//! read a missing byte; on an unchecked view over a too-short buffer, reads of missing bytes
//! give zero and writes are dropped. Nothing here allocates or panics on any input. Addresses
//! are `std::net::Ipv4Addr`.
//!
//! ```
//! use std::net::Ipv4Addr;
//! use wire::ipv4::{Ipv4Options, Ipv4Packet, Ipv4Repr};
//! let repr = Ipv4Repr {
//!     src_addr: Ipv4Addr::new(10, 0, 0, 1),
//!     dst_addr: Ipv4Addr::new(10, 0, 0, 2),
//!     protocol: wire::ip_proto::UDP,
//!     payload_len: 8,
//!     ttl: 64,
//!     dscp: 0,
//!     ecn: 0,
//!     ident: 0x1234,
//!     dont_frag: true,
//!     more_frags: false,
//!     frag_offset: 0,
//!     options: Ipv4Options::EMPTY,
//! };
//! let mut buf = vec![0u8; repr.buffer_len()];
//! repr.emit(&mut Ipv4Packet::new_unchecked(&mut buf[..])).unwrap();
//! let packet = Ipv4Packet::new_checked(&buf[..]).unwrap();
//! assert!(packet.verify_checksum());
//! assert_eq!(Ipv4Repr::parse(&packet), Ok(repr));
//! ```

use core::fmt;
use core::net::Ipv4Addr;

use crate::bytes::{array, put, put_u8, put_u16, slice, slice_mut, u8_at, u16_at};
use crate::checksum;
use crate::{Error, Result};

/// Byte layout of the IPv4 header (RFC 791 section 3.1).
mod field {
    use core::ops::Range;

    /// Version (4 bits) and IHL, the header length in 32-bit words (4 bits).
    pub const VER_IHL: usize = 0;
    /// DSCP (6 bits, RFC 2474) and ECN (2 bits, RFC 3168), once the type of service.
    pub const DSCP_ECN: usize = 1;
    /// Total length of the datagram, header included.
    pub const LENGTH: Range<usize> = 2..4;
    /// Identification, shared by the fragments of one datagram.
    pub const IDENT: Range<usize> = 4..6;
    /// Flags (reserved, DF, MF: 3 bits) and fragment offset in 8-octet units (13 bits).
    pub const FLG_OFF: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC_ADDR: Range<usize> = 12..16;
    pub const DST_ADDR: Range<usize> = 16..20;
    /// Options run from here to the header length.
    pub const OPTIONS: usize = 20;
}

/// Length of a header without options.
pub const MIN_HEADER_LEN: usize = field::OPTIONS;

/// Longest options field: IHL 15 × 4 − 20.
pub const MAX_OPTIONS_LEN: usize = 40;

/// The largest fragment offset, in 8-octet units.
pub const MAX_FRAG_OFFSET: u16 = 0x1fff;

const FLAG_RESERVED: u16 = 0x8000;
const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;

/// A zero-copy view of an IPv4 datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wraps `buffer` without checking it; use for buffers you sized yourself (emission).
    pub const fn new_unchecked(buffer: T) -> Ipv4Packet<T> {
        Ipv4Packet { buffer }
    }

    /// Wraps `buffer` after [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Ipv4Packet<T>> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the lengths: `Truncated` when the buffer is shorter than 20 bytes, than the
    /// header length, or than the total length; `Malformed` when IHL is below 5 or the total
    /// length is below the header length. The version is checked by [`Ipv4Repr::parse`].
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < MIN_HEADER_LEN {
            return Err(Error::Truncated);
        }
        let hlen = self.header_len();
        if hlen < MIN_HEADER_LEN {
            return Err(Error::Malformed("ipv4 ihl below 5"));
        }
        if len < hlen {
            return Err(Error::Truncated);
        }
        let total = usize::from(self.total_len());
        if total < hlen {
            return Err(Error::Malformed("ipv4 total length below header length"));
        }
        if len < total {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The version nibble (4 for a valid packet).
    #[inline]
    pub fn version(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::VER_IHL) >> 4
    }

    /// The header length in bytes (IHL × 4).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(u8_at(self.buffer.as_ref(), field::VER_IHL) & 0x0f) * 4
    }

    /// The differentiated services code point.
    #[inline]
    pub fn dscp(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::DSCP_ECN) >> 2
    }

    /// The explicit congestion notification bits.
    #[inline]
    pub fn ecn(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::DSCP_ECN) & 0x03
    }

    /// The total length of the datagram, header included.
    #[inline]
    pub fn total_len(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::LENGTH.start)
    }

    /// The identification.
    #[inline]
    pub fn ident(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::IDENT.start)
    }

    fn flags_offset(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::FLG_OFF.start)
    }

    /// The reserved flag (must be zero; RFC 3514's "evil bit").
    #[inline]
    pub fn reserved_flag(&self) -> bool {
        self.flags_offset() & FLAG_RESERVED != 0
    }

    /// Don't fragment.
    #[inline]
    pub fn dont_frag(&self) -> bool {
        self.flags_offset() & FLAG_DF != 0
    }

    /// More fragments follow.
    #[inline]
    pub fn more_frags(&self) -> bool {
        self.flags_offset() & FLAG_MF != 0
    }

    /// The fragment offset in 8-octet units, as on the wire.
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        self.flags_offset() & MAX_FRAG_OFFSET
    }

    /// True when this datagram is a fragment (MF set or a non-zero offset).
    #[inline]
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }

    /// Time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::TTL)
    }

    /// The protocol of the payload (see [`crate::ip_proto`]).
    #[inline]
    pub fn protocol(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::PROTOCOL)
    }

    /// The header checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// The source address.
    #[inline]
    pub fn src_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(array::<4>(self.buffer.as_ref(), field::SRC_ADDR.start))
    }

    /// The destination address.
    #[inline]
    pub fn dst_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(array::<4>(self.buffer.as_ref(), field::DST_ADDR.start))
    }

    /// The header, options included.
    #[inline]
    pub fn header(&self) -> &[u8] {
        slice(self.buffer.as_ref(), 0..self.header_len())
    }

    /// The raw options: the header bytes after the first 20.
    #[inline]
    pub fn options(&self) -> &[u8] {
        slice(
            self.buffer.as_ref(),
            field::OPTIONS..self.header_len().max(field::OPTIONS),
        )
    }

    /// True when the header checksum verifies (false when the header is not all there).
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        let h = self.header();
        h.len() >= MIN_HEADER_LEN && checksum::checksum(h) == 0
    }

    /// The payload: from the header length to the total length (padding excluded).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        slice(
            self.buffer.as_ref(),
            self.header_len()..usize::from(self.total_len()),
        )
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Sets the version nibble.
    #[inline]
    pub fn set_version(&mut self, version: u8) {
        let b = u8_at(self.buffer.as_ref(), field::VER_IHL);
        put_u8(
            self.buffer.as_mut(),
            field::VER_IHL,
            (b & 0x0f) | (version << 4),
        );
    }

    /// Sets IHL from a header length in bytes (rounded down to 4; at most 60 is representable).
    #[inline]
    pub fn set_header_len(&mut self, len: usize) {
        let b = u8_at(self.buffer.as_ref(), field::VER_IHL);
        let ihl = ((len / 4) & 0x0f) as u8;
        put_u8(self.buffer.as_mut(), field::VER_IHL, (b & 0xf0) | ihl);
    }

    /// Sets the DSCP (low six bits used).
    #[inline]
    pub fn set_dscp(&mut self, dscp: u8) {
        let b = u8_at(self.buffer.as_ref(), field::DSCP_ECN);
        put_u8(
            self.buffer.as_mut(),
            field::DSCP_ECN,
            (b & 0x03) | (dscp << 2),
        );
    }

    /// Sets the ECN bits (low two bits used).
    #[inline]
    pub fn set_ecn(&mut self, ecn: u8) {
        let b = u8_at(self.buffer.as_ref(), field::DSCP_ECN);
        put_u8(
            self.buffer.as_mut(),
            field::DSCP_ECN,
            (b & 0xfc) | (ecn & 0x03),
        );
    }

    /// Sets the total length.
    #[inline]
    pub fn set_total_len(&mut self, len: u16) {
        put_u16(self.buffer.as_mut(), field::LENGTH.start, len);
    }

    /// Sets the identification.
    #[inline]
    pub fn set_ident(&mut self, ident: u16) {
        put_u16(self.buffer.as_mut(), field::IDENT.start, ident);
    }

    fn set_flags_offset(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::FLG_OFF.start, v);
    }

    /// Clears the three flag bits, keeping the offset.
    #[inline]
    pub fn clear_flags(&mut self) {
        let v = self.flags_offset() & MAX_FRAG_OFFSET;
        self.set_flags_offset(v);
    }

    /// Sets or clears don't-fragment.
    #[inline]
    pub fn set_dont_frag(&mut self, on: bool) {
        let v = (self.flags_offset() & !FLAG_DF) | if on { FLAG_DF } else { 0 };
        self.set_flags_offset(v);
    }

    /// Sets or clears more-fragments.
    #[inline]
    pub fn set_more_frags(&mut self, on: bool) {
        let v = (self.flags_offset() & !FLAG_MF) | if on { FLAG_MF } else { 0 };
        self.set_flags_offset(v);
    }

    /// Sets the fragment offset in 8-octet units (low 13 bits used).
    #[inline]
    pub fn set_frag_offset(&mut self, units: u16) {
        let v = (self.flags_offset() & !MAX_FRAG_OFFSET) | (units & MAX_FRAG_OFFSET);
        self.set_flags_offset(v);
    }

    /// Sets the time to live.
    #[inline]
    pub fn set_ttl(&mut self, ttl: u8) {
        put_u8(self.buffer.as_mut(), field::TTL, ttl);
    }

    /// Sets the protocol.
    #[inline]
    pub fn set_protocol(&mut self, protocol: u8) {
        put_u8(self.buffer.as_mut(), field::PROTOCOL, protocol);
    }

    /// Sets the checksum field as is (see [`fill_checksum`](Self::fill_checksum) and
    /// [`crate::checksum::update32`] for rewrites).
    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::CHECKSUM.start, v);
    }

    /// Sets the source address (the checksum is not updated).
    #[inline]
    pub fn set_src_addr(&mut self, addr: Ipv4Addr) {
        put(self.buffer.as_mut(), field::SRC_ADDR.start, &addr.octets());
    }

    /// Sets the destination address (the checksum is not updated).
    #[inline]
    pub fn set_dst_addr(&mut self, addr: Ipv4Addr) {
        put(self.buffer.as_mut(), field::DST_ADDR.start, &addr.octets());
    }

    /// Computes the header checksum and stores it.
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(self.header());
        self.set_checksum(c);
    }

    /// The raw options, mutably.
    #[inline]
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len().max(field::OPTIONS);
        slice_mut(self.buffer.as_mut(), field::OPTIONS..end)
    }

    /// The payload (header length to total length), mutably.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let r = self.header_len()..usize::from(self.total_len());
        slice_mut(self.buffer.as_mut(), r)
    }
}

/// Up to 40 bytes of raw IPv4 options, stored inline. The bytes are kept as found (no TLV
/// validation: routers forward options they do not understand).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Options {
    // Invariant: bytes[len..] are zero, so derived equality and hashing see only the options.
    bytes: [u8; MAX_OPTIONS_LEN],
    len: u8,
}

impl Ipv4Options {
    /// No options.
    pub const EMPTY: Ipv4Options = Ipv4Options {
        bytes: [0; MAX_OPTIONS_LEN],
        len: 0,
    };

    /// Copies `options`: `Malformed` unless its length is a multiple of 4 and at most 40 (pad
    /// with End-of-Options (0) bytes to reach a multiple of 4).
    pub fn new(options: &[u8]) -> Result<Ipv4Options> {
        if options.len() > MAX_OPTIONS_LEN {
            return Err(Error::Malformed("ipv4 options longer than 40 bytes"));
        }
        if !options.len().is_multiple_of(4) {
            return Err(Error::Malformed("ipv4 options not a multiple of 4 bytes"));
        }
        let mut o = Ipv4Options::EMPTY;
        put(&mut o.bytes, 0, options);
        o.len = options.len() as u8;
        Ok(o)
    }

    /// The option bytes.
    pub fn as_bytes(&self) -> &[u8] {
        slice(&self.bytes, 0..usize::from(self.len))
    }

    /// How many option bytes there are.
    pub const fn len(&self) -> usize {
        self.len as usize
    }

    /// True when there are no options.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Default for Ipv4Options {
    fn default() -> Self {
        Ipv4Options::EMPTY
    }
}

impl fmt::Debug for Ipv4Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Ipv4Options")
            .field(&self.as_bytes())
            .finish()
    }
}

/// The fields of an IPv4 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Repr {
    /// The source address.
    pub src_addr: Ipv4Addr,
    /// The destination address.
    pub dst_addr: Ipv4Addr,
    /// The protocol of the payload (see [`crate::ip_proto`]).
    pub protocol: u8,
    /// Bytes after the header: total length − header length.
    pub payload_len: usize,
    /// Time to live.
    pub ttl: u8,
    /// Differentiated services code point, 0-63.
    pub dscp: u8,
    /// Explicit congestion notification, 0-3.
    pub ecn: u8,
    /// Identification, shared by the fragments of one datagram.
    pub ident: u16,
    /// Don't fragment.
    pub dont_frag: bool,
    /// More fragments follow.
    pub more_frags: bool,
    /// Fragment offset in 8-octet units, as on the wire (0-8191).
    pub frag_offset: u16,
    /// Raw options, at most 40 bytes.
    pub options: Ipv4Options,
}

impl Ipv4Repr {
    /// Reads a header (checking lengths first). `Malformed` when the version is not 4 or the
    /// reserved flag is set, `Checksum` when the header checksum does not verify.
    pub fn parse<T: AsRef<[u8]>>(packet: &Ipv4Packet<T>) -> Result<Ipv4Repr> {
        packet.check_len()?;
        if packet.version() != 4 {
            return Err(Error::Malformed("ipv4 version is not 4"));
        }
        if packet.reserved_flag() {
            return Err(Error::Malformed("ipv4 reserved flag set"));
        }
        if !packet.verify_checksum() {
            return Err(Error::Checksum);
        }
        Ok(Ipv4Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            protocol: packet.protocol(),
            payload_len: usize::from(packet.total_len()).saturating_sub(packet.header_len()),
            ttl: packet.ttl(),
            dscp: packet.dscp(),
            ecn: packet.ecn(),
            ident: packet.ident(),
            dont_frag: packet.dont_frag(),
            more_frags: packet.more_frags(),
            frag_offset: packet.frag_offset(),
            options: Ipv4Options::new(packet.options())?,
        })
    }

    /// The header length: 20 plus the options.
    pub const fn header_len(&self) -> usize {
        MIN_HEADER_LEN + self.options.len()
    }

    /// The datagram length: header plus payload.
    pub const fn buffer_len(&self) -> usize {
        self.header_len() + self.payload_len
    }

    /// Writes every header field, options and checksum included; the payload is left alone.
    /// `Malformed` for a DSCP above 63, an ECN above 3, a fragment offset above 8191 or a
    /// datagram longer than 65535 bytes; `Truncated` when the buffer cannot hold the header.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Ipv4Packet<T>) -> Result<()> {
        if self.dscp > 63 {
            return Err(Error::Malformed("ipv4 dscp above 63"));
        }
        if self.ecn > 3 {
            return Err(Error::Malformed("ipv4 ecn above 3"));
        }
        if self.frag_offset > MAX_FRAG_OFFSET {
            return Err(Error::Malformed("ipv4 fragment offset above 8191"));
        }
        let total = u16::try_from(self.buffer_len())
            .map_err(|_| Error::Malformed("ipv4 total length above 65535"))?;
        let hlen = self.header_len();
        if packet.buffer.as_ref().len() < hlen {
            return Err(Error::Truncated);
        }
        packet.set_version(4);
        packet.set_header_len(hlen);
        packet.set_dscp(self.dscp);
        packet.set_ecn(self.ecn);
        packet.set_total_len(total);
        packet.set_ident(self.ident);
        packet.set_flags_offset(
            if self.dont_frag { FLAG_DF } else { 0 }
                | if self.more_frags { FLAG_MF } else { 0 }
                | self.frag_offset,
        );
        packet.set_ttl(self.ttl);
        packet.set_protocol(self.protocol);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
        put(
            packet.buffer.as_mut(),
            field::OPTIONS,
            self.options.as_bytes(),
        );
        packet.fill_checksum();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip_proto;
    use proptest::prelude::*;

    // A captured DNS query header (UDP, DF, TTL 64) with 4 payload bytes and 2 bytes padding.
    const PACKET: [u8; 26] = [
        0x45, 0x00, 0x00, 0x18, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x00,
    ];

    fn packet() -> [u8; 26] {
        let mut p = PACKET;
        let c = checksum::checksum(&p[..20]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p
    }

    // Router alert (RFC 2113): type 148, length 4, value 0.
    const WITH_OPTIONS: [u8; 24] = [
        0x46, 0xc0, 0x00, 0x18, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x0a, 0x00, 0x00,
        0x01, 0xe0, 0x00, 0x00, 0x16, 0x94, 0x04, 0x00, 0x00,
    ];

    #[test]
    fn parse_then_emit_round_trips() {
        let b = packet();
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert!(p.verify_checksum());
        let r = Ipv4Repr::parse(&p).unwrap();
        assert_eq!(r.src_addr, Ipv4Addr::new(192, 168, 0, 1));
        assert_eq!(r.dst_addr, Ipv4Addr::new(192, 168, 0, 199));
        assert_eq!((r.protocol, r.ttl, r.ident), (ip_proto::UDP, 64, 0x1c46));
        assert!(r.dont_frag && !r.more_frags && r.frag_offset == 0);
        assert_eq!(r.payload_len, 4);
        assert_eq!(p.payload(), &[0xde, 0xad, 0xbe, 0xef]);
        assert!(r.options.is_empty());
        let mut out = [0x77u8; 26];
        out[20..].copy_from_slice(&b[20..]);
        r.emit(&mut Ipv4Packet::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(out, b);
    }

    #[test]
    fn options_round_trip() {
        let mut b = WITH_OPTIONS;
        Ipv4Packet::new_unchecked(&mut b[..]).fill_checksum();
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.options(), &[0x94, 0x04, 0x00, 0x00]);
        assert_eq!((p.dscp(), p.ecn()), (48, 0));
        let r = Ipv4Repr::parse(&p).unwrap();
        assert_eq!(r.options.as_bytes(), &[0x94, 0x04, 0x00, 0x00]);
        assert_eq!((r.header_len(), r.payload_len), (24, 0));
        let mut out = [0xffu8; 24];
        r.emit(&mut Ipv4Packet::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(out, b);
    }

    #[test]
    fn truncated_at_every_length() {
        let b = packet();
        let r = Ipv4Repr::parse(&Ipv4Packet::new_checked(&b[..]).unwrap()).unwrap();
        // Up to the total length (24) every cut is Truncated; padding may be cut freely.
        for n in 0..24 {
            assert_eq!(
                Ipv4Packet::new_checked(&b[..n]),
                Err(Error::Truncated),
                "{n}"
            );
            assert_eq!(
                Ipv4Repr::parse(&Ipv4Packet::new_unchecked(&b[..n])),
                Err(Error::Truncated)
            );
        }
        for n in 24..=26 {
            assert!(Ipv4Packet::new_checked(&b[..n]).is_ok());
        }
        for n in 0..20 {
            let mut out = [0u8; 20];
            assert_eq!(
                r.emit(&mut Ipv4Packet::new_unchecked(&mut out[..n])),
                Err(Error::Truncated)
            );
        }
        let mut o = WITH_OPTIONS;
        o[3] = 100;
        assert_eq!(Ipv4Packet::new_checked(&o[..22]), Err(Error::Truncated));
    }

    #[test]
    fn malformed_fields() {
        let b = packet();
        let mut ihl4 = b;
        ihl4[0] = 0x44;
        assert_eq!(
            Ipv4Packet::new_checked(&ihl4[..]),
            Err(Error::Malformed("ipv4 ihl below 5"))
        );
        let mut short_total = b;
        short_total[3] = 19;
        assert_eq!(
            Ipv4Packet::new_checked(&short_total[..]),
            Err(Error::Malformed("ipv4 total length below header length"))
        );
        let reparse = |mut x: [u8; 26]| {
            let mut p = Ipv4Packet::new_unchecked(&mut x[..]);
            p.fill_checksum();
            Ipv4Repr::parse(&Ipv4Packet::new_checked(&x[..]).unwrap())
        };
        let mut v6 = b;
        v6[0] = 0x65;
        assert_eq!(reparse(v6), Err(Error::Malformed("ipv4 version is not 4")));
        let mut evil = b;
        evil[6] |= 0x80;
        assert_eq!(
            reparse(evil),
            Err(Error::Malformed("ipv4 reserved flag set"))
        );
        let mut bad_sum = b;
        bad_sum[11] ^= 1;
        assert_eq!(
            Ipv4Repr::parse(&Ipv4Packet::new_checked(&bad_sum[..]).unwrap()),
            Err(Error::Checksum)
        );

        let r = Ipv4Repr::parse(&Ipv4Packet::new_checked(&b[..]).unwrap()).unwrap();
        let mut out = [0u8; 64];
        let mut v = Ipv4Packet::new_unchecked(&mut out[..]);
        for (bad, what) in [
            (Ipv4Repr { dscp: 64, ..r }, "ipv4 dscp above 63"),
            (Ipv4Repr { ecn: 4, ..r }, "ipv4 ecn above 3"),
            (
                Ipv4Repr {
                    frag_offset: 0x2000,
                    ..r
                },
                "ipv4 fragment offset above 8191",
            ),
            (
                Ipv4Repr {
                    payload_len: 65516,
                    ..r
                },
                "ipv4 total length above 65535",
            ),
        ] {
            assert_eq!(bad.emit(&mut v), Err(Error::Malformed(what)));
        }
        assert!(
            Ipv4Repr {
                payload_len: 65515,
                ..r
            }
            .emit(&mut v)
            .is_ok()
        );
        assert_eq!(
            Ipv4Options::new(&[1, 1, 1]),
            Err(Error::Malformed("ipv4 options not a multiple of 4 bytes"))
        );
        assert_eq!(
            Ipv4Options::new(&[1; 44]),
            Err(Error::Malformed("ipv4 options longer than 40 bytes"))
        );
    }

    #[test]
    fn setters_and_fragments() {
        let mut b = packet();
        let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
        p.set_frag_offset(0xffff);
        p.set_more_frags(true);
        p.set_dont_frag(false);
        assert_eq!(
            (p.frag_offset(), p.more_frags(), p.dont_frag()),
            (0x1fff, true, false)
        );
        assert!(p.is_fragment());
        p.clear_flags();
        assert_eq!(
            (p.frag_offset(), p.more_frags(), p.reserved_flag()),
            (0x1fff, false, false)
        );
        p.set_ecn(3);
        p.set_dscp(46);
        assert_eq!((p.dscp(), p.ecn()), (46, 3));
        p.set_ttl(1);
        p.set_src_addr(Ipv4Addr::new(1, 2, 3, 4));
        assert!(!p.verify_checksum());
        p.fill_checksum();
        assert!(p.verify_checksum());
        p.payload_mut().copy_from_slice(b"abcd");
        assert_eq!(&b[20..24], b"abcd");
        assert_eq!(&b[24..], &[0, 0]);
    }

    #[test]
    fn agrees_with_etherparse() {
        let mut b = WITH_OPTIONS;
        b[6] = 0x20; // MF
        b[7] = 0x09;
        Ipv4Packet::new_unchecked(&mut b[..]).fill_checksum();
        let e = etherparse::Ipv4HeaderSlice::from_slice(&b).unwrap();
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.header_len(), usize::from(e.ihl()) * 4);
        assert_eq!(p.dscp(), e.dcp().value());
        assert_eq!(p.ecn(), e.ecn().value());
        assert_eq!(p.total_len(), e.total_len());
        assert_eq!(p.more_frags(), e.more_fragments());
        assert_eq!(p.frag_offset(), e.fragments_offset().value());
        assert_eq!(p.protocol(), e.protocol().0);
        assert_eq!(p.src_addr(), e.source_addr());
        assert_eq!(p.options(), e.options());
        assert_eq!(p.checksum(), e.to_header().calc_header_checksum());
    }

    fn any_repr() -> impl Strategy<Value = Ipv4Repr> {
        (
            (
                any::<[u8; 4]>(),
                any::<[u8; 4]>(),
                any::<u8>(),
                0usize..2000,
                any::<u8>(),
            ),
            (
                0u8..64,
                0u8..4,
                any::<u16>(),
                any::<bool>(),
                any::<bool>(),
                0..=MAX_FRAG_OFFSET,
            ),
            (0usize..=10).prop_flat_map(|words| proptest::collection::vec(any::<u8>(), words * 4)),
        )
            .prop_map(
                |(
                    (src, dst, protocol, payload_len, ttl),
                    (dscp, ecn, ident, df, mf, off),
                    opts,
                )| Ipv4Repr {
                    src_addr: src.into(),
                    dst_addr: dst.into(),
                    protocol,
                    payload_len,
                    ttl,
                    dscp,
                    ecn,
                    ident,
                    dont_frag: df,
                    more_frags: mf,
                    frag_offset: off,
                    options: Ipv4Options::new(&opts).unwrap(),
                },
            )
    }

    proptest! {
        #[test]
        fn repr_emit_parse_round_trips(r in any_repr(), junk in any::<u8>()) {
            let mut buf = vec![junk; r.buffer_len()];
            r.emit(&mut Ipv4Packet::new_unchecked(&mut buf[..])).unwrap();
            let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(Ipv4Repr::parse(&p), Ok(r));
            let e = etherparse::Ipv4HeaderSlice::from_slice(&buf).unwrap();
            prop_assert_eq!(e.identification(), r.ident);
            prop_assert_eq!(e.dont_fragment(), r.dont_frag);
            prop_assert_eq!(e.header_checksum(), e.to_header().calc_header_checksum());
        }

        #[test]
        fn arbitrary_bytes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..100), fix in any::<bool>()) {
            if fix && bytes.len() >= 20 {
                // Steer half the cases past the length checks.
                let ihl = bytes[0] & 0x0f;
                bytes[0] = 0x40 | ihl.max(5);
                let total = (bytes.len() as u16).min(u16::from(bytes[3]).max(u16::from(ihl.max(5)) * 4));
                bytes[2..4].copy_from_slice(&total.to_be_bytes());
                Ipv4Packet::new_unchecked(&mut bytes[..]).fill_checksum();
            }
            let p = Ipv4Packet::new_unchecked(&bytes[..]);
            let _ = (p.version(), p.header_len(), p.total_len(), p.options(), p.payload(), p.verify_checksum());
            let _ = (p.src_addr(), p.dst_addr(), p.frag_offset(), p.is_fragment(), p.checksum());
            if let Ok(p) = Ipv4Packet::new_checked(&bytes[..]) {
                prop_assert_eq!(p.payload().len() + p.header_len(), usize::from(p.total_len()));
                if let Ok(r) = Ipv4Repr::parse(&p) {
                    prop_assert_eq!(r.buffer_len(), usize::from(p.total_len()));
                    let mut out = vec![0u8; r.header_len()];
                    r.emit(&mut Ipv4Packet::new_unchecked(&mut out[..])).unwrap();
                    prop_assert_eq!(&out[..], p.header());
                }
            }
        }
    }
}
