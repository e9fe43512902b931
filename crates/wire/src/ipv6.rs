//! IPv6 (RFC 8200) and its extension headers: zero-copy views [`Ipv6Packet`],
//! [`Ipv6OptionsHeader`] (hop-by-hop and destination options, with an allocation-free
//! [`Ipv6OptionIter`]), [`Ipv6RoutingHeader`] and [`Ipv6FragmentHeader`], and their typed
//! `Repr`s. The options and routing `Repr`s borrow their variable part from the packet.
//!
//! Each `new_checked` validates the lengths once (the fixed header against its payload length;
//! an extension header against its Hdr Ext Len), after which no accessor reads a missing byte;
//! on an unchecked view over a too-short buffer, reads of missing bytes give zero or an empty
//! slice and writes are dropped. Nothing here allocates or panics on any input. Addresses are
//! `std::net::Ipv6Addr`. Walking a whole extension-header chain is [`crate::parse_packet`]'s
//! job; these views read one header each.
//!
//! ```
//! use std::net::Ipv6Addr;
//! use wire::ipv6::{Ipv6Packet, Ipv6Repr};
//! let repr = Ipv6Repr {
//!     src_addr: Ipv6Addr::LOCALHOST,
//!     dst_addr: Ipv6Addr::LOCALHOST,
//!     next_header: wire::ip_proto::IPV6_NONXT,
//!     payload_len: 0,
//!     hop_limit: 64,
//!     traffic_class: 0,
//!     flow_label: 0x12345,
//! };
//! let mut buf = [0u8; 40];
//! repr.emit(&mut Ipv6Packet::new_unchecked(&mut buf[..])).unwrap();
//! assert_eq!(Ipv6Repr::parse(&Ipv6Packet::new_checked(&buf[..]).unwrap()), Ok(repr));
//! ```

use core::net::Ipv6Addr;

use crate::bytes::{array, put, put_u8, put_u16, put_u32, slice, slice_mut, u8_at, u16_at, u32_at};
use crate::{Error, Result};

/// Byte layouts of the fixed header (RFC 8200 section 3) and the extension headers (sections
/// 4.3 to 4.6).
mod field {
    use core::ops::Range;

    /// Version (4 bits), traffic class (8 bits), flow label (20 bits).
    pub const VER_TC_FLOW: Range<usize> = 0..4;
    /// Payload length: the bytes after this 40-byte header, extension headers included.
    pub const LENGTH: Range<usize> = 4..6;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC_ADDR: Range<usize> = 8..24;
    pub const DST_ADDR: Range<usize> = 24..40;

    /// Fields every extension header but the fragment header starts with.
    pub mod ext {
        pub const NXT_HDR: usize = 0;
        /// Header length in 8-octet units, not counting the first 8 octets.
        pub const LENGTH: usize = 1;
    }

    /// Hop-by-hop and destination options headers (section 4.3, 4.6).
    pub mod opts {
        /// Type-length-value options run from here to the header length.
        pub const OPTIONS: usize = 2;
    }

    /// Routing header (section 4.4).
    pub mod routing {
        pub const TYPE: usize = 2;
        pub const SEG_LEFT: usize = 3;
        /// Type-specific data runs from here to the header length.
        pub const DATA: usize = 4;
    }

    /// Fragment header (section 4.5): fixed 8 bytes.
    pub mod frag {
        use core::ops::Range;

        pub const NXT_HDR: usize = 0;
        pub const RESERVED: usize = 1;
        /// Fragment offset in 8-octet units (13 bits), reserved (2 bits), M flag (1 bit).
        pub const OFF_M: Range<usize> = 2..4;
        pub const IDENT: Range<usize> = 4..8;
    }
}

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = field::DST_ADDR.end;

/// The largest flow label (20 bits).
pub const MAX_FLOW_LABEL: u32 = 0x000f_ffff;

/// Length of the fragment header.
pub const FRAGMENT_HEADER_LEN: usize = field::frag::IDENT.end;

/// The longest hop-by-hop, destination options or routing header: (255 + 1) × 8.
pub const MAX_EXT_HEADER_LEN: usize = 2048;

/// The largest fragment offset, in 8-octet units.
pub const MAX_FRAG_OFFSET: u16 = 0x1fff;

/// A zero-copy view of an IPv6 packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Wraps `buffer` without checking it; use for buffers you sized yourself (emission).
    pub const fn new_unchecked(buffer: T) -> Ipv6Packet<T> {
        Ipv6Packet { buffer }
    }

    /// Wraps `buffer` after [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Ipv6Packet<T>> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// `Truncated` when the buffer is shorter than 40 bytes plus the payload length. (A payload
    /// length of zero, as in a jumbogram or a segmentation-offload super-frame, gives an empty
    /// [`payload`](Self::payload); read such frames with [`crate::parse_packet`].) The version is
    /// checked by [`Ipv6Repr::parse`].
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN || len < HEADER_LEN + usize::from(self.payload_len()) {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The fixed header length, 40.
    pub const fn header_len() -> usize {
        HEADER_LEN
    }

    fn ver_tc_flow(&self) -> u32 {
        u32_at(self.buffer.as_ref(), field::VER_TC_FLOW.start)
    }

    /// The version nibble (6 for a valid packet).
    #[inline]
    pub fn version(&self) -> u8 {
        (self.ver_tc_flow() >> 28) as u8
    }

    /// The traffic class (DSCP in the high six bits, ECN in the low two).
    #[inline]
    pub fn traffic_class(&self) -> u8 {
        (self.ver_tc_flow() >> 20) as u8
    }

    /// The DSCP part of the traffic class.
    #[inline]
    pub fn dscp(&self) -> u8 {
        self.traffic_class() >> 2
    }

    /// The ECN part of the traffic class.
    #[inline]
    pub fn ecn(&self) -> u8 {
        self.traffic_class() & 0x03
    }

    /// The 20-bit flow label.
    #[inline]
    pub fn flow_label(&self) -> u32 {
        self.ver_tc_flow() & MAX_FLOW_LABEL
    }

    /// The payload length field.
    #[inline]
    pub fn payload_len(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::LENGTH.start)
    }

    /// The type of the header after this one (see [`crate::ip_proto`]).
    #[inline]
    pub fn next_header(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::NXT_HDR)
    }

    /// The hop limit.
    #[inline]
    pub fn hop_limit(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::HOP_LIMIT)
    }

    /// The source address.
    #[inline]
    pub fn src_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(array::<16>(self.buffer.as_ref(), field::SRC_ADDR.start))
    }

    /// The destination address.
    #[inline]
    pub fn dst_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(array::<16>(self.buffer.as_ref(), field::DST_ADDR.start))
    }

    /// The payload: the payload-length bytes after the fixed header (padding excluded).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        slice(
            self.buffer.as_ref(),
            HEADER_LEN..HEADER_LEN + usize::from(self.payload_len()),
        )
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    fn set_ver_tc_flow(&mut self, v: u32) {
        put_u32(self.buffer.as_mut(), field::VER_TC_FLOW.start, v);
    }

    /// Sets the version nibble.
    #[inline]
    pub fn set_version(&mut self, version: u8) {
        let v = (self.ver_tc_flow() & 0x0fff_ffff) | (u32::from(version & 0x0f) << 28);
        self.set_ver_tc_flow(v);
    }

    /// Sets the traffic class.
    #[inline]
    pub fn set_traffic_class(&mut self, tc: u8) {
        let v = (self.ver_tc_flow() & 0xf00f_ffff) | (u32::from(tc) << 20);
        self.set_ver_tc_flow(v);
    }

    /// Sets the flow label (low 20 bits used).
    #[inline]
    pub fn set_flow_label(&mut self, label: u32) {
        let v = (self.ver_tc_flow() & !MAX_FLOW_LABEL) | (label & MAX_FLOW_LABEL);
        self.set_ver_tc_flow(v);
    }

    /// Sets the payload length.
    #[inline]
    pub fn set_payload_len(&mut self, len: u16) {
        put_u16(self.buffer.as_mut(), field::LENGTH.start, len);
    }

    /// Sets the next header.
    #[inline]
    pub fn set_next_header(&mut self, next: u8) {
        put_u8(self.buffer.as_mut(), field::NXT_HDR, next);
    }

    /// Sets the hop limit.
    #[inline]
    pub fn set_hop_limit(&mut self, hops: u8) {
        put_u8(self.buffer.as_mut(), field::HOP_LIMIT, hops);
    }

    /// Sets the source address.
    #[inline]
    pub fn set_src_addr(&mut self, addr: Ipv6Addr) {
        put(self.buffer.as_mut(), field::SRC_ADDR.start, &addr.octets());
    }

    /// Sets the destination address.
    #[inline]
    pub fn set_dst_addr(&mut self, addr: Ipv6Addr) {
        put(self.buffer.as_mut(), field::DST_ADDR.start, &addr.octets());
    }

    /// The payload, mutably.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        slice_mut(self.buffer.as_mut(), HEADER_LEN..end)
    }
}

/// The fields of the fixed IPv6 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Repr {
    /// The source address.
    pub src_addr: Ipv6Addr,
    /// The destination address.
    pub dst_addr: Ipv6Addr,
    /// The type of the header after this one (see [`crate::ip_proto`]).
    pub next_header: u8,
    /// Bytes after the fixed header, extension headers included (0-65535).
    pub payload_len: usize,
    /// The hop limit.
    pub hop_limit: u8,
    /// Traffic class: DSCP in the high six bits, ECN in the low two.
    pub traffic_class: u8,
    /// 20-bit flow label.
    pub flow_label: u32,
}

impl Ipv6Repr {
    /// Reads the fixed header (checking lengths first). `Malformed` when the version is not 6.
    pub fn parse<T: AsRef<[u8]>>(packet: &Ipv6Packet<T>) -> Result<Ipv6Repr> {
        packet.check_len()?;
        if packet.version() != 6 {
            return Err(Error::Malformed("ipv6 version is not 6"));
        }
        Ok(Ipv6Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            next_header: packet.next_header(),
            payload_len: usize::from(packet.payload_len()),
            hop_limit: packet.hop_limit(),
            traffic_class: packet.traffic_class(),
            flow_label: packet.flow_label(),
        })
    }

    /// The fixed header length, 40.
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// The packet length: 40 plus the payload.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len
    }

    /// Writes every field of the fixed header; the payload is left alone. `Malformed` for a
    /// flow label above 20 bits or a payload longer than 65535; `Truncated` when the buffer
    /// cannot hold 40 bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Ipv6Packet<T>) -> Result<()> {
        if self.flow_label > MAX_FLOW_LABEL {
            return Err(Error::Malformed("ipv6 flow label above 20 bits"));
        }
        let plen = u16::try_from(self.payload_len)
            .map_err(|_| Error::Malformed("ipv6 payload length above 65535"))?;
        if packet.buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        packet.set_ver_tc_flow((6 << 28) | (u32::from(self.traffic_class) << 20) | self.flow_label);
        packet.set_payload_len(plen);
        packet.set_next_header(self.next_header);
        packet.set_hop_limit(self.hop_limit);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
        Ok(())
    }
}

/// `Truncated` unless `b` holds the 8-octet minimum and the whole header its Hdr Ext Len gives.
fn check_ext_len(b: &[u8]) -> Result<()> {
    if b.len() < 8 || b.len() < ext_header_len(b) {
        Err(Error::Truncated)
    } else {
        Ok(())
    }
}

/// (Hdr Ext Len + 1) × 8.
fn ext_header_len(b: &[u8]) -> usize {
    (usize::from(u8_at(b, field::ext::LENGTH)) + 1) * 8
}

/// The Hdr Ext Len value for a header of `len` bytes: `Malformed` unless `len` is a multiple of
/// 8 between 8 and 2048.
fn hdr_ext_len_for(len: usize, what: &'static str) -> Result<u8> {
    if !len.is_multiple_of(8) || !(8..=MAX_EXT_HEADER_LEN).contains(&len) {
        return Err(Error::Malformed(what));
    }
    u8::try_from(len / 8 - 1).map_err(|_| Error::Malformed(what))
}

/// A zero-copy view of a hop-by-hop or destination options header (same layout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv6OptionsHeader<T: AsRef<[u8]>> {
    buffer: T,
}

/// A hop-by-hop options header (next header 0).
pub type Ipv6HopByHop<T> = Ipv6OptionsHeader<T>;

/// A destination options header (next header 60).
pub type Ipv6DestOptions<T> = Ipv6OptionsHeader<T>;

impl<T: AsRef<[u8]>> Ipv6OptionsHeader<T> {
    /// Wraps `buffer` without checking it; use for buffers you sized yourself (emission).
    pub const fn new_unchecked(buffer: T) -> Ipv6OptionsHeader<T> {
        Ipv6OptionsHeader { buffer }
    }

    /// Wraps `buffer` after checking it holds the whole header its Hdr Ext Len gives.
    pub fn new_checked(buffer: T) -> Result<Ipv6OptionsHeader<T>> {
        let h = Self::new_unchecked(buffer);
        h.check_len()?;
        Ok(h)
    }

    /// `Truncated` when the buffer is shorter than 8 bytes or than the header length.
    pub fn check_len(&self) -> Result<()> {
        check_ext_len(self.buffer.as_ref())
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The type of the header after this one.
    #[inline]
    pub fn next_header(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::ext::NXT_HDR)
    }

    /// The raw Hdr Ext Len field.
    #[inline]
    pub fn hdr_ext_len(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::ext::LENGTH)
    }

    /// The header length in bytes: (Hdr Ext Len + 1) × 8.
    #[inline]
    pub fn header_len(&self) -> usize {
        ext_header_len(self.buffer.as_ref())
    }

    /// The raw options area (after the first two bytes).
    #[inline]
    pub fn options(&self) -> &[u8] {
        slice(
            self.buffer.as_ref(),
            field::opts::OPTIONS..self.header_len(),
        )
    }

    /// The options, one TLV at a time.
    #[inline]
    pub fn options_iter(&self) -> Ipv6OptionIter<'_> {
        Ipv6OptionIter::new(self.options())
    }

    /// Everything after this header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(self.header_len()..).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6OptionsHeader<T> {
    /// Sets the next header.
    #[inline]
    pub fn set_next_header(&mut self, next: u8) {
        put_u8(self.buffer.as_mut(), field::ext::NXT_HDR, next);
    }

    /// Sets the raw Hdr Ext Len field.
    #[inline]
    pub fn set_hdr_ext_len(&mut self, v: u8) {
        put_u8(self.buffer.as_mut(), field::ext::LENGTH, v);
    }

    /// The raw options area, mutably.
    #[inline]
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        slice_mut(self.buffer.as_mut(), field::opts::OPTIONS..end)
    }

    /// Everything after this header, mutably.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        let b = self.buffer.as_mut();
        let len = b.len();
        slice_mut(b, start..len)
    }
}

/// One option of a hop-by-hop or destination options header (RFC 8200 section 4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ipv6Option<'a> {
    /// Type 0: one byte of padding.
    Pad1,
    /// Type 1: padding of 2 + `data.len()` bytes (the data should be zeros).
    PadN(&'a [u8]),
    /// Any other option: its type byte (whose top two bits say what a node that does not know
    /// it must do) and its data.
    Other { option_type: u8, data: &'a [u8] },
}

impl Ipv6Option<'_> {
    /// The option type byte.
    pub fn option_type(&self) -> u8 {
        match self {
            Ipv6Option::Pad1 => 0,
            Ipv6Option::PadN(_) => 1,
            Ipv6Option::Other { option_type, .. } => *option_type,
        }
    }

    /// Bytes the option takes on the wire.
    pub fn len(&self) -> usize {
        match self {
            Ipv6Option::Pad1 => 1,
            Ipv6Option::PadN(d) | Ipv6Option::Other { data: d, .. } => 2 + d.len(),
        }
    }

    /// Always false: an option takes at least one byte.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// An iterator over the options of an options header. It yields `Err(Malformed)` once, then
/// stops, when an option runs past the end of the header.
#[derive(Debug, Clone)]
pub struct Ipv6OptionIter<'a> {
    rest: &'a [u8],
}

impl<'a> Ipv6OptionIter<'a> {
    /// Iterates over the TLVs in `options` (the area after next-header and Hdr Ext Len).
    pub fn new(options: &'a [u8]) -> Ipv6OptionIter<'a> {
        Ipv6OptionIter { rest: options }
    }
}

impl<'a> Iterator for Ipv6OptionIter<'a> {
    type Item = Result<Ipv6Option<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&option_type, after_type) = self.rest.split_first()?;
        if option_type == 0 {
            self.rest = after_type;
            return Some(Ok(Ipv6Option::Pad1));
        }
        let tlv = after_type
            .split_first()
            .and_then(|(&len, after_len)| after_len.split_at_checked(usize::from(len)));
        let Some((data, rest)) = tlv else {
            self.rest = &[];
            return Some(Err(Error::Malformed("ipv6 option runs past its header")));
        };
        self.rest = rest;
        Some(Ok(if option_type == 1 {
            Ipv6Option::PadN(data)
        } else {
            Ipv6Option::Other { option_type, data }
        }))
    }
}

/// Checks the options area as a receiver does: every TLV inside the header, PadN carrying only
/// zeros, and no run of padding longer than 7 bytes (RFC 4942 section 2.1.9.5; Linux drops
/// such packets).
fn validate_options(options: &[u8]) -> Result<()> {
    let mut pad_run = 0usize;
    for opt in Ipv6OptionIter::new(options) {
        match opt? {
            Ipv6Option::Pad1 => pad_run += 1,
            Ipv6Option::PadN(data) => {
                if data.iter().any(|&b| b != 0) {
                    return Err(Error::Malformed("ipv6 padn carries non-zero bytes"));
                }
                pad_run += 2 + data.len();
            }
            Ipv6Option::Other { .. } => pad_run = 0,
        }
        if pad_run > 7 {
            return Err(Error::Malformed("ipv6 padding longer than 7 bytes"));
        }
    }
    Ok(())
}

/// A hop-by-hop or destination options header; the options are borrowed raw, padding
/// included, so that emission reproduces them exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6OptionsRepr<'a> {
    /// The type of the header after this one.
    pub next_header: u8,
    /// The options area: 2 + its length must be a multiple of 8.
    pub options: &'a [u8],
}

impl<'a> Ipv6OptionsRepr<'a> {
    /// Reads an options header. `Malformed` when an option runs past the header, a PadN holds
    /// non-zero bytes, or padding runs longer than 7 bytes.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        header: &Ipv6OptionsHeader<&'a T>,
    ) -> Result<Ipv6OptionsRepr<'a>> {
        header.check_len()?;
        let b: &'a [u8] = T::as_ref(header.buffer);
        let options = slice(b, field::opts::OPTIONS..ext_header_len(b));
        validate_options(options)?;
        Ok(Ipv6OptionsRepr {
            next_header: header.next_header(),
            options,
        })
    }

    /// The header length: 2 plus the options.
    pub const fn header_len(&self) -> usize {
        field::opts::OPTIONS + self.options.len()
    }

    /// Writes the whole header. `Malformed` when the header would not be a multiple of 8 bytes
    /// up to 2048, or the options would not parse back; `Truncated` when the buffer is short.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        header: &mut Ipv6OptionsHeader<T>,
    ) -> Result<()> {
        let ext_len = hdr_ext_len_for(
            self.header_len(),
            "ipv6 options header not a multiple of 8 bytes up to 2048",
        )?;
        validate_options(self.options)?;
        if header.buffer.as_ref().len() < self.header_len() {
            return Err(Error::Truncated);
        }
        header.set_next_header(self.next_header);
        header.set_hdr_ext_len(ext_len);
        put(header.buffer.as_mut(), field::opts::OPTIONS, self.options);
        Ok(())
    }
}

/// A zero-copy view of a routing header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv6RoutingHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6RoutingHeader<T> {
    /// Wraps `buffer` without checking it; use for buffers you sized yourself (emission).
    pub const fn new_unchecked(buffer: T) -> Ipv6RoutingHeader<T> {
        Ipv6RoutingHeader { buffer }
    }

    /// Wraps `buffer` after checking it holds the whole header its Hdr Ext Len gives.
    pub fn new_checked(buffer: T) -> Result<Ipv6RoutingHeader<T>> {
        let h = Self::new_unchecked(buffer);
        h.check_len()?;
        Ok(h)
    }

    /// `Truncated` when the buffer is shorter than 8 bytes or than the header length.
    pub fn check_len(&self) -> Result<()> {
        check_ext_len(self.buffer.as_ref())
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The type of the header after this one.
    #[inline]
    pub fn next_header(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::ext::NXT_HDR)
    }

    /// The raw Hdr Ext Len field.
    #[inline]
    pub fn hdr_ext_len(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::ext::LENGTH)
    }

    /// The header length in bytes: (Hdr Ext Len + 1) × 8.
    #[inline]
    pub fn header_len(&self) -> usize {
        ext_header_len(self.buffer.as_ref())
    }

    /// The routing type (0 deprecated, 2 Mobile IPv6, 3 RPL, 4 segment routing).
    #[inline]
    pub fn routing_type(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::routing::TYPE)
    }

    /// Route segments still to visit.
    #[inline]
    pub fn segments_left(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::routing::SEG_LEFT)
    }

    /// The type-specific data (after the first four bytes).
    #[inline]
    pub fn data(&self) -> &[u8] {
        slice(
            self.buffer.as_ref(),
            field::routing::DATA..self.header_len(),
        )
    }

    /// Everything after this header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(self.header_len()..).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6RoutingHeader<T> {
    /// Sets the next header.
    #[inline]
    pub fn set_next_header(&mut self, next: u8) {
        put_u8(self.buffer.as_mut(), field::ext::NXT_HDR, next);
    }

    /// Sets the raw Hdr Ext Len field.
    #[inline]
    pub fn set_hdr_ext_len(&mut self, v: u8) {
        put_u8(self.buffer.as_mut(), field::ext::LENGTH, v);
    }

    /// Sets the routing type.
    #[inline]
    pub fn set_routing_type(&mut self, v: u8) {
        put_u8(self.buffer.as_mut(), field::routing::TYPE, v);
    }

    /// Sets segments left.
    #[inline]
    pub fn set_segments_left(&mut self, v: u8) {
        put_u8(self.buffer.as_mut(), field::routing::SEG_LEFT, v);
    }

    /// The type-specific data, mutably.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        slice_mut(self.buffer.as_mut(), field::routing::DATA..end)
    }

    /// Everything after this header, mutably.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        let b = self.buffer.as_mut();
        let len = b.len();
        slice_mut(b, start..len)
    }
}

/// A routing header; the type-specific data is borrowed raw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6RoutingRepr<'a> {
    /// The type of the header after this one.
    pub next_header: u8,
    /// The routing type (2 Mobile IPv6, 3 RPL, 4 segment routing).
    pub routing_type: u8,
    /// Route segments still to visit.
    pub segments_left: u8,
    /// The type-specific data: 4 + its length must be a multiple of 8.
    pub data: &'a [u8],
}

const RH0_MSG: &str = "ipv6 routing type 0 with segments left (deprecated by RFC 5095)";

impl<'a> Ipv6RoutingRepr<'a> {
    /// Reads a routing header. `Malformed` for a type 0 header with segments left, which RFC
    /// 5095 forbids a node to process (it enables traffic amplification).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        header: &Ipv6RoutingHeader<&'a T>,
    ) -> Result<Ipv6RoutingRepr<'a>> {
        header.check_len()?;
        if header.routing_type() == 0 && header.segments_left() != 0 {
            return Err(Error::Malformed(RH0_MSG));
        }
        let b: &'a [u8] = T::as_ref(header.buffer);
        Ok(Ipv6RoutingRepr {
            next_header: header.next_header(),
            routing_type: header.routing_type(),
            segments_left: header.segments_left(),
            data: slice(b, field::routing::DATA..ext_header_len(b)),
        })
    }

    /// The header length: 4 plus the data.
    pub const fn header_len(&self) -> usize {
        field::routing::DATA + self.data.len()
    }

    /// Writes the whole header. `Malformed` when the header would not be a multiple of 8 bytes
    /// up to 2048 or is type 0 with segments left; `Truncated` when the buffer is short.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        header: &mut Ipv6RoutingHeader<T>,
    ) -> Result<()> {
        let ext_len = hdr_ext_len_for(
            self.header_len(),
            "ipv6 routing header not a multiple of 8 bytes up to 2048",
        )?;
        if self.routing_type == 0 && self.segments_left != 0 {
            return Err(Error::Malformed(RH0_MSG));
        }
        if header.buffer.as_ref().len() < self.header_len() {
            return Err(Error::Truncated);
        }
        header.set_next_header(self.next_header);
        header.set_hdr_ext_len(ext_len);
        header.set_routing_type(self.routing_type);
        header.set_segments_left(self.segments_left);
        put(header.buffer.as_mut(), field::routing::DATA, self.data);
        Ok(())
    }
}

/// A zero-copy view of a fragment header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv6FragmentHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6FragmentHeader<T> {
    /// Wraps `buffer` without checking it; use for buffers you sized yourself (emission).
    pub const fn new_unchecked(buffer: T) -> Ipv6FragmentHeader<T> {
        Ipv6FragmentHeader { buffer }
    }

    /// Wraps `buffer` after checking it holds the 8-byte header.
    pub fn new_checked(buffer: T) -> Result<Ipv6FragmentHeader<T>> {
        let h = Self::new_unchecked(buffer);
        h.check_len()?;
        Ok(h)
    }

    /// `Truncated` when the buffer is shorter than 8 bytes.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < FRAGMENT_HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The header length, 8.
    pub const fn header_len() -> usize {
        FRAGMENT_HEADER_LEN
    }

    /// The type of the header after this one (in the reassembled packet).
    #[inline]
    pub fn next_header(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::frag::NXT_HDR)
    }

    fn off_m(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::frag::OFF_M.start)
    }

    /// The fragment offset in 8-octet units, as on the wire.
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        self.off_m() >> 3
    }

    /// More fragments follow.
    #[inline]
    pub fn more_frags(&self) -> bool {
        self.off_m() & 1 != 0
    }

    /// The identification, shared by the fragments of one packet.
    #[inline]
    pub fn ident(&self) -> u32 {
        u32_at(self.buffer.as_ref(), field::frag::IDENT.start)
    }

    /// The fragment data after this header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        self.buffer
            .as_ref()
            .get(FRAGMENT_HEADER_LEN..)
            .unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6FragmentHeader<T> {
    /// Sets the next header.
    #[inline]
    pub fn set_next_header(&mut self, next: u8) {
        put_u8(self.buffer.as_mut(), field::frag::NXT_HDR, next);
    }

    /// Zeroes the two reserved fields (byte 1 and the two bits before M).
    #[inline]
    pub fn clear_reserved(&mut self) {
        put_u8(self.buffer.as_mut(), field::frag::RESERVED, 0);
        let v = self.off_m() & !0x0006;
        put_u16(self.buffer.as_mut(), field::frag::OFF_M.start, v);
    }

    /// Sets the fragment offset in 8-octet units (low 13 bits used).
    #[inline]
    pub fn set_frag_offset(&mut self, units: u16) {
        let v = (self.off_m() & 0x0007) | ((units & MAX_FRAG_OFFSET) << 3);
        put_u16(self.buffer.as_mut(), field::frag::OFF_M.start, v);
    }

    /// Sets or clears more-fragments.
    #[inline]
    pub fn set_more_frags(&mut self, on: bool) {
        let v = (self.off_m() & !1) | u16::from(on);
        put_u16(self.buffer.as_mut(), field::frag::OFF_M.start, v);
    }

    /// Sets the identification.
    #[inline]
    pub fn set_ident(&mut self, ident: u32) {
        put_u32(self.buffer.as_mut(), field::frag::IDENT.start, ident);
    }

    /// The fragment data, mutably.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let b = self.buffer.as_mut();
        let len = b.len();
        slice_mut(b, FRAGMENT_HEADER_LEN..len)
    }
}

/// The fields of a fragment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6FragmentRepr {
    /// The type of the header after this one.
    pub next_header: u8,
    /// Fragment offset in 8-octet units, as on the wire (0-8191).
    pub frag_offset: u16,
    /// More fragments follow.
    pub more_frags: bool,
    /// Identification, shared by the fragments of one packet.
    pub ident: u32,
}

impl Ipv6FragmentRepr {
    /// Reads a fragment header. The reserved bits are ignored, as RFC 8200 says a receiver must.
    pub fn parse<T: AsRef<[u8]>>(header: &Ipv6FragmentHeader<T>) -> Result<Ipv6FragmentRepr> {
        header.check_len()?;
        Ok(Ipv6FragmentRepr {
            next_header: header.next_header(),
            frag_offset: header.frag_offset(),
            more_frags: header.more_frags(),
            ident: header.ident(),
        })
    }

    /// The header length, 8.
    pub const fn header_len(&self) -> usize {
        FRAGMENT_HEADER_LEN
    }

    /// Writes the whole header, reserved fields zeroed. `Malformed` for an offset above 8191,
    /// `Truncated` when the buffer cannot hold 8 bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        header: &mut Ipv6FragmentHeader<T>,
    ) -> Result<()> {
        if self.frag_offset > MAX_FRAG_OFFSET {
            return Err(Error::Malformed("ipv6 fragment offset above 8191"));
        }
        header.check_len()?;
        header.set_next_header(self.next_header);
        put_u8(header.buffer.as_mut(), field::frag::RESERVED, 0);
        put_u16(
            header.buffer.as_mut(),
            field::frag::OFF_M.start,
            (self.frag_offset << 3) | u16::from(self.more_frags),
        );
        header.set_ident(self.ident);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip_proto;
    use proptest::prelude::*;

    // fe80::1 -> ff02::16, hop limit 1, TC 0xb8, flow 0xabcde; hop-by-hop with router alert
    // (type 5, value 0) and PadN(0); then a fragment header; then 4 bytes; then 2 of padding.
    fn packet() -> Vec<u8> {
        let mut p = vec![0x6b, 0x8a, 0xbc, 0xde, 0x00, 0x14, ip_proto::HOPOPT, 0x01];
        p.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        p.extend_from_slice(&[0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x16]);
        p.extend_from_slice(&[ip_proto::IPV6_FRAG, 0, 0x05, 0x02, 0, 0, 0x01, 0x00]);
        p.extend_from_slice(&[ip_proto::ICMPV6, 0, 0x00, 0x51, 0xde, 0xad, 0xbe, 0xef]);
        p.extend_from_slice(&[0x8f, 0, 0x12, 0x34, 0, 0]);
        p
    }

    #[test]
    fn fixed_header_round_trips() {
        let b = packet();
        let p = Ipv6Packet::new_checked(&b[..]).unwrap();
        let r = Ipv6Repr::parse(&p).unwrap();
        assert_eq!(r.src_addr, "fe80::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(r.dst_addr, "ff02::16".parse::<Ipv6Addr>().unwrap());
        assert_eq!((r.traffic_class, r.flow_label), (0xb8, 0xabcde));
        assert_eq!((p.dscp(), p.ecn()), (46, 0));
        assert_eq!((r.next_header, r.hop_limit, r.payload_len), (0, 1, 20));
        assert_eq!(p.payload().len(), 20);
        let mut out = vec![0xa5u8; b.len()];
        out[40..].copy_from_slice(&b[40..]);
        r.emit(&mut Ipv6Packet::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(out, b);
    }

    #[test]
    fn extension_chain_round_trips() {
        let b = packet();
        let p = Ipv6Packet::new_checked(&b[..]).unwrap();
        let hbh = Ipv6HopByHop::new_checked(p.payload()).unwrap();
        assert_eq!(
            (hbh.next_header(), hbh.header_len()),
            (ip_proto::IPV6_FRAG, 8)
        );
        let opts: Vec<_> = hbh.options_iter().collect();
        assert_eq!(
            opts,
            vec![
                Ok(Ipv6Option::Other {
                    option_type: 5,
                    data: &[0, 0]
                }),
                Ok(Ipv6Option::PadN(&[]))
            ]
        );
        let hr = Ipv6OptionsRepr::parse(&hbh).unwrap();
        let mut out = [0xffu8; 8];
        hr.emit(&mut Ipv6OptionsHeader::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(out[..], b[40..48]);

        let frag = Ipv6FragmentHeader::new_checked(hbh.payload()).unwrap();
        let fr = Ipv6FragmentRepr::parse(&frag).unwrap();
        assert_eq!(
            fr,
            Ipv6FragmentRepr {
                next_header: ip_proto::ICMPV6,
                frag_offset: 10,
                more_frags: true,
                ident: 0xdead_beef
            }
        );
        let mut out = [0xffu8; 8];
        fr.emit(&mut Ipv6FragmentHeader::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(out[..], b[48..56]);
        assert_eq!(frag.payload(), &[0x8f, 0, 0x12, 0x34]);
    }

    #[test]
    fn routing_header_round_trips() {
        // Type 4 (segment routing) with one 16-byte segment, segments left 1.
        let mut b = vec![ip_proto::TCP, 2, 4, 1, 0, 0, 0, 0];
        b.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
        b.extend_from_slice(&[1, 2, 3]);
        let h = Ipv6RoutingHeader::new_checked(&b[..]).unwrap();
        assert_eq!(
            (h.header_len(), h.routing_type(), h.segments_left()),
            (24, 4, 1)
        );
        assert_eq!(h.payload(), &[1, 2, 3]);
        let r = Ipv6RoutingRepr::parse(&h).unwrap();
        assert_eq!(r.data.len(), 20);
        let mut out = [0xeeu8; 24];
        r.emit(&mut Ipv6RoutingHeader::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(out[..], b[..24]);
    }

    #[test]
    fn truncated_at_every_length() {
        let b = packet();
        for n in 0..60 {
            assert_eq!(
                Ipv6Packet::new_checked(&b[..n]),
                Err(Error::Truncated),
                "{n}"
            );
            assert_eq!(
                Ipv6Repr::parse(&Ipv6Packet::new_unchecked(&b[..n])),
                Err(Error::Truncated)
            );
        }
        assert!(Ipv6Packet::new_checked(&b[..60]).is_ok());
        for n in 0..8 {
            let ext = &b[40..40 + n];
            assert_eq!(Ipv6OptionsHeader::new_checked(ext), Err(Error::Truncated));
            assert_eq!(Ipv6RoutingHeader::new_checked(ext), Err(Error::Truncated));
            assert_eq!(Ipv6FragmentHeader::new_checked(ext), Err(Error::Truncated));
            assert_eq!(
                Ipv6OptionsRepr::parse(&Ipv6OptionsHeader::new_unchecked(ext)),
                Err(Error::Truncated)
            );
            let mut out = [0u8; 8];
            let fr = Ipv6FragmentRepr {
                next_header: 6,
                frag_offset: 1,
                more_frags: true,
                ident: 7,
            };
            assert_eq!(
                fr.emit(&mut Ipv6FragmentHeader::new_unchecked(&mut out[..n])),
                Err(Error::Truncated)
            );
        }
        let mut out = [0u8; 39];
        let r = Ipv6Repr::parse(&Ipv6Packet::new_checked(&b[..]).unwrap()).unwrap();
        assert_eq!(
            r.emit(&mut Ipv6Packet::new_unchecked(&mut out[..])),
            Err(Error::Truncated)
        );
        // A Hdr Ext Len reaching past the buffer.
        let long = [6u8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            Ipv6OptionsHeader::new_checked(&long[..]),
            Err(Error::Truncated)
        );
        assert_eq!(
            Ipv6RoutingHeader::new_checked(&long[..]),
            Err(Error::Truncated)
        );
    }

    #[test]
    fn malformed_fields() {
        let mut b = packet();
        b[0] = 0x4b;
        assert_eq!(
            Ipv6Repr::parse(&Ipv6Packet::new_checked(&b[..]).unwrap()),
            Err(Error::Malformed("ipv6 version is not 6"))
        );
        let opts = |o: [u8; 8]| {
            Ipv6OptionsRepr::parse(&Ipv6OptionsHeader::new_checked(&o[..]).unwrap())
                .map(|r| r.next_header)
        };
        assert_eq!(
            opts([6, 0, 5, 5, 0, 0, 0, 0]),
            Err(Error::Malformed("ipv6 option runs past its header"))
        );
        assert_eq!(
            opts([6, 0, 1, 4, 0, 0, 7, 0]),
            Err(Error::Malformed("ipv6 padn carries non-zero bytes"))
        );
        let mut sixteen = [0u8; 16];
        sixteen[1] = 1;
        sixteen[2] = 1;
        sixteen[3] = 12;
        assert_eq!(
            Ipv6OptionsRepr::parse(&Ipv6OptionsHeader::new_checked(&sixteen[..]).unwrap()),
            Err(Error::Malformed("ipv6 padding longer than 7 bytes"))
        );
        assert!(opts([6, 0, 0, 0, 0, 0, 0, 0]).is_ok());
        let rh0 = [6u8, 0, 0, 1, 0, 0, 0, 0];
        assert_eq!(
            Ipv6RoutingRepr::parse(&Ipv6RoutingHeader::new_checked(&rh0[..]).unwrap()),
            Err(Error::Malformed(RH0_MSG))
        );

        let mut out = [0u8; 64];
        let r = Ipv6Repr::parse(&Ipv6Packet::new_checked(&packet()[..]).unwrap()).unwrap();
        let mut v = Ipv6Packet::new_unchecked(&mut out[..]);
        assert_eq!(
            Ipv6Repr {
                flow_label: 1 << 20,
                ..r
            }
            .emit(&mut v),
            Err(Error::Malformed("ipv6 flow label above 20 bits"))
        );
        assert_eq!(
            Ipv6Repr {
                payload_len: 65536,
                ..r
            }
            .emit(&mut v),
            Err(Error::Malformed("ipv6 payload length above 65535"))
        );
        let or = Ipv6OptionsRepr {
            next_header: 6,
            options: &[0; 5],
        };
        assert_eq!(
            or.emit(&mut Ipv6OptionsHeader::new_unchecked(&mut out[..])),
            Err(Error::Malformed(
                "ipv6 options header not a multiple of 8 bytes up to 2048"
            ))
        );
        let rr = Ipv6RoutingRepr {
            next_header: 6,
            routing_type: 0,
            segments_left: 2,
            data: &[0; 4],
        };
        assert_eq!(
            rr.emit(&mut Ipv6RoutingHeader::new_unchecked(&mut out[..])),
            Err(Error::Malformed(RH0_MSG))
        );
        let fr = Ipv6FragmentRepr {
            next_header: 6,
            frag_offset: 0x2000,
            more_frags: false,
            ident: 0,
        };
        assert_eq!(
            fr.emit(&mut Ipv6FragmentHeader::new_unchecked(&mut out[..])),
            Err(Error::Malformed("ipv6 fragment offset above 8191"))
        );
    }

    #[test]
    fn setters_keep_neighbouring_bits() {
        let mut b = packet();
        let mut p = Ipv6Packet::new_unchecked(&mut b[..]);
        p.set_flow_label(0xfff_ffff);
        assert_eq!(
            (p.version(), p.traffic_class(), p.flow_label()),
            (6, 0xb8, 0xfffff)
        );
        p.set_traffic_class(0x01);
        assert_eq!(
            (p.version(), p.traffic_class(), p.flow_label()),
            (6, 0x01, 0xfffff)
        );
        p.set_version(4);
        assert_eq!(
            (p.version(), p.traffic_class(), p.flow_label()),
            (4, 0x01, 0xfffff)
        );
        let mut f = [0xffu8; 8];
        let mut h = Ipv6FragmentHeader::new_unchecked(&mut f[..]);
        h.clear_reserved();
        assert_eq!((h.frag_offset(), h.more_frags()), (0x1fff, true));
        h.set_frag_offset(3);
        h.set_more_frags(false);
        assert_eq!(f[..4], [0xff, 0, 0, 0x18]);
    }

    #[test]
    fn option_iterator_stops_after_error() {
        let mut it = Ipv6OptionIter::new(&[0, 0xc2, 4, 0, 1, 0, 0, 5, 9]);
        assert_eq!(it.next(), Some(Ok(Ipv6Option::Pad1)));
        let jumbo = it.next().unwrap().unwrap();
        assert_eq!((jumbo.option_type(), jumbo.len()), (0xc2, 6));
        assert!(it.next().unwrap().is_err());
        assert_eq!(it.next(), None);
    }

    #[test]
    fn agrees_with_etherparse() {
        let b = packet();
        let e = etherparse::Ipv6HeaderSlice::from_slice(&b).unwrap();
        let p = Ipv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.traffic_class(), e.traffic_class());
        assert_eq!(p.flow_label(), e.flow_label().value());
        assert_eq!(p.payload_len(), e.payload_length());
        assert_eq!(p.next_header(), e.next_header().0);
        assert_eq!(
            (p.src_addr(), p.dst_addr()),
            (e.source_addr(), e.destination_addr())
        );
        let ef = etherparse::Ipv6FragmentHeaderSlice::from_slice(&b[48..]).unwrap();
        let f = Ipv6FragmentHeader::new_checked(&b[48..]).unwrap();
        assert_eq!(f.frag_offset(), ef.fragment_offset().value());
        assert_eq!(f.more_frags(), ef.more_fragments());
        assert_eq!(f.ident(), ef.identification());
        let eh = etherparse::Ipv6RawExtHeaderSlice::from_slice(&b[40..]).unwrap();
        let h = Ipv6OptionsHeader::new_checked(&b[40..]).unwrap();
        assert_eq!(h.header_len(), eh.slice().len());
        assert_eq!(h.next_header(), eh.next_header().0);
    }

    fn any_repr() -> impl Strategy<Value = Ipv6Repr> {
        (
            any::<[u8; 16]>(),
            any::<[u8; 16]>(),
            any::<u8>(),
            0usize..=65535,
            any::<u8>(),
            any::<u8>(),
            0..=MAX_FLOW_LABEL,
        )
            .prop_map(|(s, d, nh, plen, hl, tc, fl)| Ipv6Repr {
                src_addr: s.into(),
                dst_addr: d.into(),
                next_header: nh,
                payload_len: plen,
                hop_limit: hl,
                traffic_class: tc,
                flow_label: fl,
            })
    }

    /// Options a sender could emit: each real option preceded by up to two Pad1, then padding
    /// to a multiple of 8.
    fn any_options() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            (
                0usize..3,
                2u8..,
                proptest::collection::vec(any::<u8>(), 0..12),
            ),
            0..5,
        )
        .prop_map(|opts| {
            let mut v = Vec::new();
            for (pads, t, data) in opts {
                v.extend(std::iter::repeat_n(0, pads));
                v.push(t);
                v.push(data.len() as u8);
                v.extend_from_slice(&data);
            }
            match (8 - (2 + v.len()) % 8) % 8 {
                0 => {}
                1 => v.push(0),
                n => {
                    v.push(1);
                    v.push(n as u8 - 2);
                    v.extend(std::iter::repeat_n(0, n - 2));
                }
            }
            v
        })
    }

    proptest! {
        #[test]
        fn repr_emit_parse_round_trips(r in any_repr(), junk in any::<u8>()) {
            let mut buf = vec![junk; r.buffer_len()];
            r.emit(&mut Ipv6Packet::new_unchecked(&mut buf[..])).unwrap();
            prop_assert_eq!(Ipv6Repr::parse(&Ipv6Packet::new_checked(&buf[..]).unwrap()), Ok(r));
        }

        #[test]
        fn options_repr_round_trips(nh in any::<u8>(), options in any_options(), junk in any::<u8>()) {
            let r = Ipv6OptionsRepr { next_header: nh, options: &options };
            let mut buf = vec![junk; r.header_len()];
            r.emit(&mut Ipv6OptionsHeader::new_unchecked(&mut buf[..])).unwrap();
            let h = Ipv6OptionsHeader::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(Ipv6OptionsRepr::parse(&h), Ok(r));
            let total: usize = h.options_iter().map(|o| o.unwrap().len()).sum();
            prop_assert_eq!(total, options.len());
        }

        #[test]
        fn routing_repr_round_trips(nh in any::<u8>(), rt in 1u8.., sl in any::<u8>(), words in 0usize..10, fill in any::<u8>(), junk in any::<u8>()) {
            let data = vec![fill; 4 + words * 8];
            let r = Ipv6RoutingRepr { next_header: nh, routing_type: rt, segments_left: sl, data: &data };
            let mut buf = vec![junk; r.header_len()];
            r.emit(&mut Ipv6RoutingHeader::new_unchecked(&mut buf[..])).unwrap();
            prop_assert_eq!(Ipv6RoutingRepr::parse(&Ipv6RoutingHeader::new_checked(&buf[..]).unwrap()), Ok(r));
        }

        #[test]
        fn fragment_repr_round_trips(nh in any::<u8>(), off in 0..=MAX_FRAG_OFFSET, m in any::<bool>(), ident in any::<u32>(), junk in any::<u8>()) {
            let r = Ipv6FragmentRepr { next_header: nh, frag_offset: off, more_frags: m, ident };
            let mut buf = [junk; FRAGMENT_HEADER_LEN];
            r.emit(&mut Ipv6FragmentHeader::new_unchecked(&mut buf[..])).unwrap();
            prop_assert_eq!(Ipv6FragmentRepr::parse(&Ipv6FragmentHeader::new_checked(&buf[..]).unwrap()), Ok(r));
            prop_assert_eq!(buf[1], 0);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            let p = Ipv6Packet::new_unchecked(&bytes[..]);
            let _ = (p.version(), p.flow_label(), p.payload_len(), p.src_addr(), p.dst_addr(), p.payload());
            if let Ok(p) = Ipv6Packet::new_checked(&bytes[..]) {
                prop_assert_eq!(p.payload().len(), usize::from(p.payload_len()));
                let _ = Ipv6Repr::parse(&p);
            }
            let o = Ipv6OptionsHeader::new_unchecked(&bytes[..]);
            let _ = (o.next_header(), o.header_len(), o.options(), o.payload(), o.options_iter().count());
            if let Ok(o) = Ipv6OptionsHeader::new_checked(&bytes[..]) {
                prop_assert_eq!(o.options().len() + 2, o.header_len());
                if let Ok(r) = Ipv6OptionsRepr::parse(&o) {
                    let mut out = vec![0u8; r.header_len()];
                    r.emit(&mut Ipv6OptionsHeader::new_unchecked(&mut out[..])).unwrap();
                    prop_assert_eq!(&out[..], &bytes[..r.header_len()]);
                }
            }
            let rt = Ipv6RoutingHeader::new_unchecked(&bytes[..]);
            let _ = (rt.routing_type(), rt.segments_left(), rt.data(), rt.payload());
            if let Ok(rt) = Ipv6RoutingHeader::new_checked(&bytes[..]) {
                let _ = Ipv6RoutingRepr::parse(&rt);
            }
            let f = Ipv6FragmentHeader::new_unchecked(&bytes[..]);
            let _ = (f.frag_offset(), f.more_frags(), f.ident(), f.payload());
            if let Ok(f) = Ipv6FragmentHeader::new_checked(&bytes[..]) {
                prop_assert!(Ipv6FragmentRepr::parse(&f).is_ok());
            }
        }
    }
}
