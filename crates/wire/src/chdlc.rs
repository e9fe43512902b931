//! Cisco HDLC framing (LINKTYPE_C_HDLC, 104), as captured on serial and POS links of Cisco and
//! Juniper routers: [`ChdlcHeader`] (address, control, 16-bit protocol) and [`ChdlcRepr`].
//!
//! The protocol is an ethertype (0x0800 IPv4, 0x86dd IPv6, 0x8847 MPLS) or one of Cisco's own,
//! [`protocol::SLARP`] (keepalives and address resolution over the link) and [`protocol::CDP`].
//! The header has no field a sender cannot set, so parsing only ever fails with `Truncated`.
//! Nothing here allocates or panics on any input: reads of bytes an unchecked buffer lacks give
//! zero and writes to them are dropped.
//!
//! ```
//! use wire::chdlc::{ChdlcHeader, ChdlcRepr, address};
//! let frame = [0x0f, 0x00, 0x08, 0x00, 0x45];
//! let h = ChdlcHeader::new_checked(&frame[..]).unwrap();
//! let r = ChdlcRepr::parse(&h).unwrap();
//! assert_eq!(r, ChdlcRepr { address: address::UNICAST, control: 0, protocol: wire::ethertype::IPV4 });
//! assert_eq!(h.payload(), &[0x45]);
//! ```

use crate::bytes::{put_u8, put_u16, slice_mut, u8_at, u16_at};
use crate::{Error, Result};

/// Values of the address byte.
pub mod address {
    /// A frame to the other end of the link.
    pub const UNICAST: u8 = 0x0f;
    /// A broadcast (SLARP keepalives, CDP).
    pub const BROADCAST: u8 = 0x8f;
}

/// Cisco's protocol numbers besides the ethertypes.
pub mod protocol {
    /// Serial Line Address Resolution Protocol: keepalives, address requests and replies.
    pub const SLARP: u16 = 0x8035;
    /// Cisco Discovery Protocol.
    pub const CDP: u16 = 0x2000;
}

/// Byte layout of the header.
mod field {
    use core::ops::{Range, RangeFrom};

    pub const ADDRESS: usize = 0;
    /// Always 0 in the frames routers send.
    pub const CONTROL: usize = 1;
    pub const PROTOCOL: Range<usize> = 2..4;
    pub const PAYLOAD: RangeFrom<usize> = 4..;
}

/// Length of the header.
pub const HEADER_LEN: usize = field::PAYLOAD.start;

/// A zero-copy view of a Cisco HDLC header and the packet after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChdlcHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ChdlcHeader<T> {
    /// Wraps `buffer` without checking it; use for buffers you sized yourself (emission).
    pub const fn new_unchecked(buffer: T) -> ChdlcHeader<T> {
        ChdlcHeader { buffer }
    }

    /// Wraps `buffer` after checking it holds the 4-byte header.
    pub fn new_checked(buffer: T) -> Result<ChdlcHeader<T>> {
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

    /// The header length, 4.
    pub const fn header_len() -> usize {
        HEADER_LEN
    }

    /// The address byte (see [`address`]).
    #[inline]
    pub fn address(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::ADDRESS)
    }

    /// The control byte.
    #[inline]
    pub fn control(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::CONTROL)
    }

    /// The protocol: an ethertype, or one of [`protocol`].
    #[inline]
    pub fn protocol(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::PROTOCOL.start)
    }

    /// Everything after the header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(field::PAYLOAD).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ChdlcHeader<T> {
    /// Sets the address byte.
    #[inline]
    pub fn set_address(&mut self, v: u8) {
        put_u8(self.buffer.as_mut(), field::ADDRESS, v);
    }

    /// Sets the control byte.
    #[inline]
    pub fn set_control(&mut self, v: u8) {
        put_u8(self.buffer.as_mut(), field::CONTROL, v);
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

/// The fields of a Cisco HDLC header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChdlcRepr {
    /// Unicast or broadcast (see [`address`]).
    pub address: u8,
    /// The control byte (0).
    pub control: u8,
    /// An ethertype, or one of [`protocol`].
    pub protocol: u16,
}

impl ChdlcRepr {
    /// Reads the header (checking its length first).
    pub fn parse<T: AsRef<[u8]>>(header: &ChdlcHeader<T>) -> Result<ChdlcRepr> {
        header.check_len()?;
        Ok(ChdlcRepr {
            address: header.address(),
            control: header.control(),
            protocol: header.protocol(),
        })
    }

    /// The header length, 4.
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes every field. `Truncated` when the buffer cannot hold 4 bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, header: &mut ChdlcHeader<T>) -> Result<()> {
        header.check_len()?;
        header.set_address(self.address);
        header.set_control(self.control);
        header.set_protocol(self.protocol);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ethertype;
    use proptest::prelude::*;

    // A SLARP keepalive broadcast, then the first byte of its code.
    const SLARP: [u8; 5] = [0x8f, 0x00, 0x80, 0x35, 0x00];

    #[test]
    fn round_trips() {
        let h = ChdlcHeader::new_checked(&SLARP[..]).unwrap();
        let r = ChdlcRepr::parse(&h).unwrap();
        assert_eq!(
            r,
            ChdlcRepr {
                address: address::BROADCAST,
                control: 0,
                protocol: protocol::SLARP
            }
        );
        assert_eq!(h.payload(), &[0]);
        let mut out = [0xffu8; 5];
        out[4] = 0;
        r.emit(&mut ChdlcHeader::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(out, SLARP);
        let v6 = [0x0f, 0, 0x86, 0xdd];
        let r = ChdlcRepr::parse(&ChdlcHeader::new_checked(&v6[..]).unwrap()).unwrap();
        assert_eq!((r.address, r.protocol), (address::UNICAST, ethertype::IPV6));
        assert!(
            ChdlcHeader::new_checked(&v6[..])
                .unwrap()
                .payload()
                .is_empty()
        );
    }

    #[test]
    fn truncated_at_every_length() {
        let r = ChdlcRepr::parse(&ChdlcHeader::new_checked(&SLARP[..]).unwrap()).unwrap();
        for n in 0..HEADER_LEN {
            assert_eq!(ChdlcHeader::new_checked(&SLARP[..n]), Err(Error::Truncated));
            assert_eq!(
                ChdlcRepr::parse(&ChdlcHeader::new_unchecked(&SLARP[..n])),
                Err(Error::Truncated)
            );
            let mut b = [0u8; HEADER_LEN];
            assert_eq!(
                r.emit(&mut ChdlcHeader::new_unchecked(&mut b[..n])),
                Err(Error::Truncated)
            );
            assert_eq!(b, [0; HEADER_LEN], "nothing written to a short buffer");
        }
    }

    proptest! {
        #[test]
        fn repr_round_trips(address: u8, control: u8, protocol: u16, junk: u8) {
            let r = ChdlcRepr { address, control, protocol };
            let mut buf = [junk; HEADER_LEN + 1];
            r.emit(&mut ChdlcHeader::new_unchecked(&mut buf[..])).unwrap();
            let h = ChdlcHeader::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(ChdlcRepr::parse(&h), Ok(r));
            prop_assert_eq!(h.payload(), &[junk]);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
            let h = ChdlcHeader::new_unchecked(&bytes[..]);
            let _ = (h.address(), h.control(), h.protocol(), h.payload());
            match ChdlcHeader::new_checked(&bytes[..]) {
                Ok(h) => {
                    prop_assert!(ChdlcRepr::parse(&h).is_ok());
                    prop_assert_eq!(h.payload().len(), bytes.len() - HEADER_LEN);
                }
                Err(e) => prop_assert!(e == Error::Truncated && bytes.len() < HEADER_LEN),
            }
        }
    }
}
