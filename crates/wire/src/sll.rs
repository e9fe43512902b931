//! Linux "cooked" capture headers, as libpcap writes them for `any`-interface captures:
//! [`SllHeader`] (LINKTYPE_LINUX_SLL, 113, 16 bytes) and [`Sll2Header`] (LINKTYPE_LINUX_SLL2,
//! 276, 20 bytes), with their typed [`SllRepr`] and [`Sll2Repr`].
//!
//! Layouts follow the tcpdump.org link-type pages. The link-layer address field is 8 bytes;
//! a longer address (InfiniBand's 20) is cut to 8 while its length field keeps the true value,
//! so a length above 8 is not an error. The header has no field a sender cannot set, so
//! parsing only ever fails with `Truncated`. Nothing here allocates or panics on any input:
//! reads of bytes an unchecked buffer lacks give zero and writes to them are dropped.
//!
//! ```
//! use wire::sll::{SllHeader, SllRepr, packet_type};
//! let repr = SllRepr {
//!     packet_type: packet_type::OUTGOING,
//!     arphrd_type: 1,
//!     addr_len: 6,
//!     addr: [0x52, 0x54, 0, 0x12, 0x34, 0x56, 0, 0],
//!     protocol: wire::ethertype::IPV4,
//! };
//! let mut buf = [0u8; 16];
//! repr.emit(&mut SllHeader::new_unchecked(&mut buf[..])).unwrap();
//! let h = SllHeader::new_checked(&buf[..]).unwrap();
//! assert_eq!(h.address(), &[0x52, 0x54, 0, 0x12, 0x34, 0x56]);
//! assert_eq!(SllRepr::parse(&h), Ok(repr));
//! ```

use crate::bytes::{array, put, put_u8, put_u16, put_u32, slice, slice_mut, u8_at, u16_at, u32_at};
use crate::{Error, Result};

/// Direction values of the packet type field (Linux `PACKET_*` constants).
pub mod packet_type {
    /// Sent to this host.
    pub const HOST: u16 = 0;
    /// Broadcast by another host.
    pub const BROADCAST: u16 = 1;
    /// Multicast by another host.
    pub const MULTICAST: u16 = 2;
    /// Sent by another host to another host (seen in promiscuous mode).
    pub const OTHERHOST: u16 = 3;
    /// Sent by this host.
    pub const OUTGOING: u16 = 4;
}

/// Length of the link-layer address field in both versions.
pub const ADDR_FIELD_LEN: usize = 8;

/// Byte layout of the SLL (v1) header.
mod field {
    use core::ops::Range;

    pub const PACKET_TYPE: Range<usize> = 0..2;
    /// The ARPHRD_ type of the interface (1 Ethernet, 772 loopback, ...).
    pub const ARPHRD_TYPE: Range<usize> = 2..4;
    pub const ADDR_LEN: Range<usize> = 4..6;
    pub const ADDR: Range<usize> = 6..14;
    /// An ethertype, or a Linux `ETH_P_*` value below 0x0600 for non-Ethernet-II framing.
    pub const PROTOCOL: Range<usize> = 14..16;
}

/// Byte layout of the SLL2 header.
mod field2 {
    use core::ops::Range;

    pub const PROTOCOL: Range<usize> = 0..2;
    /// Must be zero.
    pub const RESERVED: Range<usize> = 2..4;
    pub const IF_INDEX: Range<usize> = 4..8;
    pub const ARPHRD_TYPE: Range<usize> = 8..10;
    pub const PACKET_TYPE: usize = 10;
    pub const ADDR_LEN: usize = 11;
    pub const ADDR: Range<usize> = 12..20;
}

/// Length of the SLL header.
pub const HEADER_LEN: usize = field::PROTOCOL.end;

/// Length of the SLL2 header.
pub const SLL2_HEADER_LEN: usize = field2::ADDR.end;

/// The first `min(addr_len, 8)` bytes of the address field.
fn address_in(b: &[u8], field: core::ops::Range<usize>, addr_len: usize) -> &[u8] {
    let end = field.start + addr_len.min(ADDR_FIELD_LEN);
    slice(b, field.start..end)
}

/// A zero-copy view of an SLL (v1) header and the packet after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SllHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> SllHeader<T> {
    /// Wraps `buffer` without checking it; use for buffers you sized yourself (emission).
    pub const fn new_unchecked(buffer: T) -> SllHeader<T> {
        SllHeader { buffer }
    }

    /// Wraps `buffer` after checking it holds the 16-byte header.
    pub fn new_checked(buffer: T) -> Result<SllHeader<T>> {
        let h = Self::new_unchecked(buffer);
        h.check_len()?;
        Ok(h)
    }

    /// `Err(Truncated)` when the buffer is shorter than the header.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The header length, 16.
    pub const fn header_len() -> usize {
        HEADER_LEN
    }

    /// The direction (see [`packet_type`]).
    #[inline]
    pub fn packet_type(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::PACKET_TYPE.start)
    }

    /// The interface's ARPHRD_ type.
    #[inline]
    pub fn arphrd_type(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::ARPHRD_TYPE.start)
    }

    /// The true link-layer address length (may exceed 8).
    #[inline]
    pub fn addr_len(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::ADDR_LEN.start)
    }

    /// The whole 8-byte address field, padding included.
    #[inline]
    pub fn addr_field(&self) -> [u8; ADDR_FIELD_LEN] {
        array(self.buffer.as_ref(), field::ADDR.start)
    }

    /// The address bytes present: the first `min(addr_len, 8)` of the field.
    #[inline]
    pub fn address(&self) -> &[u8] {
        address_in(
            self.buffer.as_ref(),
            field::ADDR,
            usize::from(self.addr_len()),
        )
    }

    /// The protocol: an ethertype, or a Linux `ETH_P_*` value below 0x0600.
    #[inline]
    pub fn protocol(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::PROTOCOL.start)
    }

    /// Everything after the header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(HEADER_LEN..).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> SllHeader<T> {
    /// Sets the direction.
    #[inline]
    pub fn set_packet_type(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::PACKET_TYPE.start, v);
    }

    /// Sets the ARPHRD_ type.
    #[inline]
    pub fn set_arphrd_type(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::ARPHRD_TYPE.start, v);
    }

    /// Sets the address length.
    #[inline]
    pub fn set_addr_len(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::ADDR_LEN.start, v);
    }

    /// Sets the whole 8-byte address field.
    #[inline]
    pub fn set_addr_field(&mut self, addr: [u8; ADDR_FIELD_LEN]) {
        put(self.buffer.as_mut(), field::ADDR.start, &addr);
    }

    /// Sets the protocol.
    #[inline]
    pub fn set_protocol(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::PROTOCOL.start, v);
    }

    /// Everything after the header, mutably.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let b = self.buffer.as_mut();
        let len = b.len();
        slice_mut(b, HEADER_LEN..len)
    }
}

/// The fields of an SLL (v1) header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SllRepr {
    /// Direction (see [`packet_type`]).
    pub packet_type: u16,
    /// The interface's ARPHRD_ type (1 Ethernet, 772 loopback, ...).
    pub arphrd_type: u16,
    /// The true address length; only the first 8 bytes are carried.
    pub addr_len: u16,
    /// The address field as carried, padding included.
    pub addr: [u8; ADDR_FIELD_LEN],
    /// An ethertype, or a Linux `ETH_P_*` value below 0x0600.
    pub protocol: u16,
}

impl SllRepr {
    /// Reads the header (checking its length first).
    pub fn parse<T: AsRef<[u8]>>(header: &SllHeader<T>) -> Result<SllRepr> {
        header.check_len()?;
        Ok(SllRepr {
            packet_type: header.packet_type(),
            arphrd_type: header.arphrd_type(),
            addr_len: header.addr_len(),
            addr: header.addr_field(),
            protocol: header.protocol(),
        })
    }

    /// The header length, 16.
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes every field. `Truncated` when the buffer cannot hold 16 bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, header: &mut SllHeader<T>) -> Result<()> {
        header.check_len()?;
        header.set_packet_type(self.packet_type);
        header.set_arphrd_type(self.arphrd_type);
        header.set_addr_len(self.addr_len);
        header.set_addr_field(self.addr);
        header.set_protocol(self.protocol);
        Ok(())
    }
}

/// A zero-copy view of an SLL2 header and the packet after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sll2Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Sll2Header<T> {
    /// Wraps `buffer` without checking it; use for buffers you sized yourself (emission).
    pub const fn new_unchecked(buffer: T) -> Sll2Header<T> {
        Sll2Header { buffer }
    }

    /// Wraps `buffer` after checking it holds the 20-byte header.
    pub fn new_checked(buffer: T) -> Result<Sll2Header<T>> {
        let h = Self::new_unchecked(buffer);
        h.check_len()?;
        Ok(h)
    }

    /// `Err(Truncated)` when the buffer is shorter than the header.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < SLL2_HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The header length, 20.
    pub const fn header_len() -> usize {
        SLL2_HEADER_LEN
    }

    /// The protocol: an ethertype, or a Linux `ETH_P_*` value below 0x0600.
    #[inline]
    pub fn protocol(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field2::PROTOCOL.start)
    }

    /// The reserved field (zero when written by libpcap).
    #[inline]
    pub fn reserved(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field2::RESERVED.start)
    }

    /// The index of the interface the packet was captured on.
    #[inline]
    pub fn if_index(&self) -> u32 {
        u32_at(self.buffer.as_ref(), field2::IF_INDEX.start)
    }

    /// The interface's ARPHRD_ type.
    #[inline]
    pub fn arphrd_type(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field2::ARPHRD_TYPE.start)
    }

    /// The direction (see [`packet_type`]; one byte here).
    #[inline]
    pub fn packet_type(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field2::PACKET_TYPE)
    }

    /// The true link-layer address length (may exceed 8).
    #[inline]
    pub fn addr_len(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field2::ADDR_LEN)
    }

    /// The whole 8-byte address field, padding included.
    #[inline]
    pub fn addr_field(&self) -> [u8; ADDR_FIELD_LEN] {
        array(self.buffer.as_ref(), field2::ADDR.start)
    }

    /// The address bytes present: the first `min(addr_len, 8)` of the field.
    #[inline]
    pub fn address(&self) -> &[u8] {
        address_in(
            self.buffer.as_ref(),
            field2::ADDR,
            usize::from(self.addr_len()),
        )
    }

    /// Everything after the header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(SLL2_HEADER_LEN..).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Sll2Header<T> {
    /// Sets the protocol.
    #[inline]
    pub fn set_protocol(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field2::PROTOCOL.start, v);
    }

    /// Sets the reserved field.
    #[inline]
    pub fn set_reserved(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field2::RESERVED.start, v);
    }

    /// Sets the interface index.
    #[inline]
    pub fn set_if_index(&mut self, v: u32) {
        put_u32(self.buffer.as_mut(), field2::IF_INDEX.start, v);
    }

    /// Sets the ARPHRD_ type.
    #[inline]
    pub fn set_arphrd_type(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field2::ARPHRD_TYPE.start, v);
    }

    /// Sets the direction.
    #[inline]
    pub fn set_packet_type(&mut self, v: u8) {
        put_u8(self.buffer.as_mut(), field2::PACKET_TYPE, v);
    }

    /// Sets the address length.
    #[inline]
    pub fn set_addr_len(&mut self, v: u8) {
        put_u8(self.buffer.as_mut(), field2::ADDR_LEN, v);
    }

    /// Sets the whole 8-byte address field.
    #[inline]
    pub fn set_addr_field(&mut self, addr: [u8; ADDR_FIELD_LEN]) {
        put(self.buffer.as_mut(), field2::ADDR.start, &addr);
    }

    /// Everything after the header, mutably.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let b = self.buffer.as_mut();
        let len = b.len();
        slice_mut(b, SLL2_HEADER_LEN..len)
    }
}

/// The fields of an SLL2 header (the reserved field is written as zero and ignored when read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sll2Repr {
    /// An ethertype, or a Linux `ETH_P_*` value below 0x0600.
    pub protocol: u16,
    /// The index of the interface the packet was captured on.
    pub if_index: u32,
    /// The interface's ARPHRD_ type (1 Ethernet, 772 loopback, ...).
    pub arphrd_type: u16,
    /// Direction (see [`packet_type`]).
    pub packet_type: u8,
    /// The true address length; only the first 8 bytes are carried.
    pub addr_len: u8,
    /// The address field as carried, padding included.
    pub addr: [u8; ADDR_FIELD_LEN],
}

impl Sll2Repr {
    /// Reads the header (checking its length first).
    pub fn parse<T: AsRef<[u8]>>(header: &Sll2Header<T>) -> Result<Sll2Repr> {
        header.check_len()?;
        Ok(Sll2Repr {
            protocol: header.protocol(),
            if_index: header.if_index(),
            arphrd_type: header.arphrd_type(),
            packet_type: header.packet_type(),
            addr_len: header.addr_len(),
            addr: header.addr_field(),
        })
    }

    /// The header length, 20.
    pub const fn header_len(&self) -> usize {
        SLL2_HEADER_LEN
    }

    /// Writes every field, the reserved one as zero. `Truncated` when the buffer cannot hold
    /// 20 bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, header: &mut Sll2Header<T>) -> Result<()> {
        header.check_len()?;
        header.set_protocol(self.protocol);
        header.set_reserved(0);
        header.set_if_index(self.if_index);
        header.set_arphrd_type(self.arphrd_type);
        header.set_packet_type(self.packet_type);
        header.set_addr_len(self.addr_len);
        header.set_addr_field(self.addr);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ethertype;
    use proptest::prelude::*;

    // An outgoing IPv4 packet on an Ethernet interface, then the first IPv4 byte.
    const SLL: [u8; 17] = [
        0x00, 0x04, 0x00, 0x01, 0x00, 0x06, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x00, 0x00, 0x08,
        0x00, 0x45,
    ];
    // The same on interface 3 in SLL2 form.
    const SLL2: [u8; 21] = [
        0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x01, 0x04, 0x06, 0x52, 0x54, 0x00,
        0x12, 0x34, 0x56, 0x00, 0x00, 0x45,
    ];

    #[test]
    fn sll_round_trips() {
        let h = SllHeader::new_checked(&SLL[..]).unwrap();
        let r = SllRepr::parse(&h).unwrap();
        assert_eq!(r.packet_type, packet_type::OUTGOING);
        assert_eq!(
            (r.arphrd_type, r.addr_len, r.protocol),
            (1, 6, ethertype::IPV4)
        );
        assert_eq!(h.address(), &[0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
        assert_eq!(h.payload(), &[0x45]);
        let mut out = [0xffu8; 17];
        out[16] = 0x45;
        r.emit(&mut SllHeader::new_unchecked(&mut out[..])).unwrap();
        assert_eq!(out, SLL);
    }

    #[test]
    fn sll2_round_trips() {
        let h = Sll2Header::new_checked(&SLL2[..]).unwrap();
        let r = Sll2Repr::parse(&h).unwrap();
        assert_eq!(
            (
                r.protocol,
                r.if_index,
                r.arphrd_type,
                r.packet_type,
                r.addr_len
            ),
            (ethertype::IPV4, 3, 1, 4, 6)
        );
        assert_eq!(h.address(), &[0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
        assert_eq!(h.payload(), &[0x45]);
        let mut out = [0xffu8; 21];
        out[20] = 0x45;
        r.emit(&mut Sll2Header::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(out, SLL2);
    }

    #[test]
    fn long_addresses_are_cut_to_eight() {
        let mut b = SLL;
        b[5] = 20;
        let h = SllHeader::new_checked(&b[..]).unwrap();
        assert_eq!(h.addr_len(), 20);
        assert_eq!(h.address().len(), 8);
        let mut b2 = SLL2;
        b2[11] = 0;
        assert!(
            Sll2Header::new_checked(&b2[..])
                .unwrap()
                .address()
                .is_empty()
        );
    }

    #[test]
    fn truncated_at_every_length() {
        let r = SllRepr::parse(&SllHeader::new_checked(&SLL[..]).unwrap()).unwrap();
        for n in 0..HEADER_LEN {
            assert_eq!(SllHeader::new_checked(&SLL[..n]), Err(Error::Truncated));
            assert_eq!(
                SllRepr::parse(&SllHeader::new_unchecked(&SLL[..n])),
                Err(Error::Truncated)
            );
            let mut b = [0u8; HEADER_LEN];
            assert_eq!(
                r.emit(&mut SllHeader::new_unchecked(&mut b[..n])),
                Err(Error::Truncated)
            );
        }
        let r2 = Sll2Repr::parse(&Sll2Header::new_checked(&SLL2[..]).unwrap()).unwrap();
        for n in 0..SLL2_HEADER_LEN {
            assert_eq!(Sll2Header::new_checked(&SLL2[..n]), Err(Error::Truncated));
            assert_eq!(
                Sll2Repr::parse(&Sll2Header::new_unchecked(&SLL2[..n])),
                Err(Error::Truncated)
            );
            let mut b = [0u8; SLL2_HEADER_LEN];
            assert_eq!(
                r2.emit(&mut Sll2Header::new_unchecked(&mut b[..n])),
                Err(Error::Truncated)
            );
        }
    }

    #[test]
    fn agrees_with_etherparse() {
        let e = etherparse::LinuxSllHeaderSlice::from_slice(&SLL).unwrap();
        let h = SllHeader::new_checked(&SLL[..]).unwrap();
        assert_eq!(h.packet_type(), u16::from(e.packet_type()));
        assert_eq!(h.arphrd_type(), u16::from(e.arp_hardware_type()));
        assert_eq!(h.addr_len(), e.sender_address_valid_length());
        assert_eq!(h.addr_field(), e.sender_address_full());
    }

    fn any_sll() -> impl Strategy<Value = SllRepr> {
        (
            any::<u16>(),
            any::<u16>(),
            any::<u16>(),
            any::<[u8; 8]>(),
            any::<u16>(),
        )
            .prop_map(
                |(packet_type, arphrd_type, addr_len, addr, protocol)| SllRepr {
                    packet_type,
                    arphrd_type,
                    addr_len,
                    addr,
                    protocol,
                },
            )
    }

    fn any_sll2() -> impl Strategy<Value = Sll2Repr> {
        (
            any::<u16>(),
            any::<u32>(),
            any::<u16>(),
            any::<u8>(),
            any::<u8>(),
            any::<[u8; 8]>(),
        )
            .prop_map(
                |(protocol, if_index, arphrd_type, packet_type, addr_len, addr)| Sll2Repr {
                    protocol,
                    if_index,
                    arphrd_type,
                    packet_type,
                    addr_len,
                    addr,
                },
            )
    }

    proptest! {
        #[test]
        fn sll_repr_round_trips(r in any_sll(), junk in any::<u8>()) {
            let mut buf = [junk; HEADER_LEN];
            r.emit(&mut SllHeader::new_unchecked(&mut buf[..])).unwrap();
            prop_assert_eq!(SllRepr::parse(&SllHeader::new_checked(&buf[..]).unwrap()), Ok(r));
        }

        #[test]
        fn sll2_repr_round_trips(r in any_sll2(), junk in any::<u8>()) {
            let mut buf = [junk; SLL2_HEADER_LEN];
            r.emit(&mut Sll2Header::new_unchecked(&mut buf[..])).unwrap();
            let h = Sll2Header::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(h.reserved(), 0);
            prop_assert_eq!(Sll2Repr::parse(&h), Ok(r));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let h = SllHeader::new_unchecked(&bytes[..]);
            let _ = (h.packet_type(), h.addr_len(), h.address(), h.protocol(), h.payload());
            let h2 = Sll2Header::new_unchecked(&bytes[..]);
            let _ = (h2.if_index(), h2.addr_len(), h2.address(), h2.protocol(), h2.payload());
            match SllHeader::new_checked(&bytes[..]) {
                Ok(h) => {
                    prop_assert!(SllRepr::parse(&h).is_ok());
                    prop_assert_eq!(h.address().len(), usize::from(h.addr_len()).min(8));
                }
                Err(e) => prop_assert!(e == Error::Truncated && bytes.len() < HEADER_LEN),
            }
            match Sll2Header::new_checked(&bytes[..]) {
                Ok(h) => prop_assert!(Sll2Repr::parse(&h).is_ok()),
                Err(e) => prop_assert!(e == Error::Truncated && bytes.len() < SLL2_HEADER_LEN),
            }
        }
    }
}
