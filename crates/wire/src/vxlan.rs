//! VXLAN (RFC 7348): a zero-copy view of the 8-byte header that follows UDP port 4789 and
//! precedes the inner Ethernet frame, and a typed [`VxlanRepr`].
//!
//! Nothing here allocates or panics on any input. [`VxlanHeader::new_checked`] validates the
//! length once; on an unchecked view over a short buffer, reads of missing bytes give zero and
//! writes are dropped. Emission writes every header byte (reserved fields as zero) and never
//! trusts a reused buffer.
//!
//! ```
//! use wire::vxlan::{VxlanHeader, VxlanRepr};
//! let mut buf = [0xffu8; 8];
//! VxlanRepr::new(5001).emit(&mut VxlanHeader::new_unchecked(&mut buf[..])).unwrap();
//! assert_eq!(buf, [0x08, 0, 0, 0, 0x00, 0x13, 0x89, 0]);
//! let header = VxlanHeader::new_checked(&buf[..]).unwrap();
//! assert_eq!(VxlanRepr::parse(&header).map(|r| r.vni), Ok(5001));
//! ```

use crate::bytes::{put_range as put, put_u8, u8_at, u32_at};
use crate::{Error, Result};

mod field {
    use core::ops::Range;

    pub const FLAGS: usize = 0;
    /// Reserved (used by extensions such as VXLAN-GBP for a group policy identifier).
    pub const RESERVED0: Range<usize> = 1..4;
    pub const VNI: Range<usize> = 4..7;
    pub const RESERVED1: usize = 7;
    pub const PAYLOAD: usize = 8;
}

/// Length of the VXLAN header.
pub const HEADER_LEN: usize = field::PAYLOAD;

/// The I flag: the VNI is valid. RFC 7348 requires it set.
pub const FLAG_I: u8 = 0x08;

/// Largest VNI (24 bits).
pub const MAX_VNI: u32 = 0x00ff_ffff;

/// A zero-copy view of a VXLAN header and the inner frame after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VxlanHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> VxlanHeader<T> {
    /// Wraps a buffer without checking it: on a buffer too short for a field, reading it
    /// gives zero and writing it is dropped. Use it on buffers you sized yourself (for
    /// emission); untrusted bytes go through [`new_checked`](Self::new_checked).
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        VxlanHeader { buffer }
    }

    /// Wraps a buffer after [`check_len`](Self::check_len): every field is then in the buffer.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let header = Self::new_unchecked(buffer);
        header.check_len()?;
        Ok(header)
    }

    /// Checks that the 8-byte header fits ([`Error::Truncated`] otherwise).
    #[inline]
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// Returns the underlying buffer.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The flags byte (see [`FLAG_I`]).
    #[inline]
    pub fn flags(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::FLAGS)
    }

    /// The 24 reserved bits after the flags.
    #[inline]
    pub fn reserved0(&self) -> u32 {
        u32_at(self.buffer.as_ref(), 0) & 0x00ff_ffff
    }

    /// The VXLAN network identifier (24 bits).
    #[inline]
    pub fn vni(&self) -> u32 {
        u32_at(self.buffer.as_ref(), field::VNI.start) >> 8
    }

    /// The reserved byte after the VNI.
    #[inline]
    pub fn reserved1(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::RESERVED1)
    }

    /// The inner Ethernet frame.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(field::PAYLOAD..).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> VxlanHeader<T> {
    /// Sets the flags byte.
    #[inline]
    pub fn set_flags(&mut self, value: u8) {
        put_u8(self.buffer.as_mut(), field::FLAGS, value);
    }

    /// Sets the 24 reserved bits after the flags (the high byte of `value` is ignored).
    #[inline]
    pub fn set_reserved0(&mut self, value: u32) {
        put(
            self.buffer.as_mut(),
            field::RESERVED0,
            &value.to_be_bytes()[1..],
        );
    }

    /// Sets the VNI (the high byte of `value` is ignored).
    #[inline]
    pub fn set_vni(&mut self, value: u32) {
        put(self.buffer.as_mut(), field::VNI, &value.to_be_bytes()[1..]);
    }

    /// Sets the reserved byte after the VNI.
    #[inline]
    pub fn set_reserved1(&mut self, value: u8) {
        put_u8(self.buffer.as_mut(), field::RESERVED1, value);
    }

    /// The inner Ethernet frame, mutable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        self.buffer
            .as_mut()
            .get_mut(field::PAYLOAD..)
            .unwrap_or(&mut [])
    }
}

/// A parsed VXLAN header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VxlanRepr {
    /// The flags byte as sent ([`FLAG_I`] is always set after a successful parse).
    pub flags: u8,
    /// The VXLAN network identifier (24 bits).
    pub vni: u32,
}

impl VxlanRepr {
    /// A header for `vni` with only the I flag set.
    #[inline]
    pub const fn new(vni: u32) -> VxlanRepr {
        VxlanRepr { flags: FLAG_I, vni }
    }

    /// Reads a VXLAN header. Fails with [`Error::Truncated`] if it does not fit, or
    /// [`Error::Malformed`] if the I flag is clear (the VNI is then meaningless). Reserved
    /// bits are ignored, as RFC 7348 asks of receivers.
    pub fn parse<T: AsRef<[u8]>>(header: &VxlanHeader<T>) -> Result<VxlanRepr> {
        header.check_len()?;
        if header.flags() & FLAG_I == 0 {
            return Err(Error::Malformed("vxlan I flag clear"));
        }
        Ok(VxlanRepr {
            flags: header.flags(),
            vni: header.vni(),
        })
    }

    /// Length of the header [`emit`](Self::emit) writes.
    #[inline]
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Number of bytes [`emit`](Self::emit) writes: the header alone (the inner frame is
    /// the caller's).
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header (flags as given, reserved fields zero) into the first 8 bytes of
    /// `header`. Fails with [`Error::Truncated`] if the buffer is too short, or
    /// [`Error::Malformed`] if the VNI does not fit 24 bits.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, header: &mut VxlanHeader<T>) -> Result<()> {
        if self.vni > MAX_VNI {
            return Err(Error::Malformed("vxlan vni over 24 bits"));
        }
        header.check_len()?;
        header.set_flags(self.flags);
        header.set_reserved0(0);
        header.set_vni(self.vni);
        header.set_reserved1(0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A VXLAN header for VNI 123 laid out as RFC 7348 section 5 draws it, followed by the
    /// first bytes of an inner frame.
    const PACKET: [u8; 12] = [
        0x08, 0, 0, 0, 0x00, 0x00, 0x7b, 0x00, 0xaa, 0xbb, 0xcc, 0xdd,
    ];

    #[test]
    fn parses_and_emits() {
        let h = VxlanHeader::new_checked(&PACKET[..]).unwrap();
        assert_eq!(
            (h.flags(), h.reserved0(), h.vni(), h.reserved1()),
            (FLAG_I, 0, 123, 0)
        );
        assert_eq!(h.payload(), &[0xaa, 0xbb, 0xcc, 0xdd]);
        let repr = VxlanRepr::parse(&h).unwrap();
        assert_eq!(repr, VxlanRepr::new(123));
        let mut out = [0xffu8; 12];
        out[8..].copy_from_slice(&PACKET[8..]);
        repr.emit(&mut VxlanHeader::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(out, PACKET);
    }

    #[test]
    fn i_flag_required_and_reserved_ignored() {
        let mut b = PACKET;
        b[0] = 0;
        assert_eq!(
            VxlanRepr::parse(&VxlanHeader::new_checked(&b[..]).unwrap()),
            Err(Error::Malformed("vxlan I flag clear"))
        );
        // VXLAN-GBP: G flag and a group policy id in the reserved bits.
        let mut b = PACKET;
        b[0] = 0x88;
        b[2..4].copy_from_slice(&[0x12, 0x34]);
        b[7] = 9;
        let h = VxlanHeader::new_checked(&b[..]).unwrap();
        assert_eq!((h.reserved0(), h.reserved1()), (0x1234, 9));
        assert_eq!(
            VxlanRepr::parse(&h),
            Ok(VxlanRepr {
                flags: 0x88,
                vni: 123
            })
        );
    }

    #[test]
    fn setters_cover_every_field() {
        let mut b = [0u8; 8];
        let mut h = VxlanHeader::new_unchecked(&mut b[..]);
        h.set_flags(0xff);
        h.set_reserved0(0xab_cdef);
        h.set_vni(0xff12_3456);
        h.set_reserved1(0x77);
        assert_eq!(b, [0xff, 0xab, 0xcd, 0xef, 0x12, 0x34, 0x56, 0x77]);
    }

    #[test]
    fn unchecked_short_buffers_never_panic() {
        for n in 0..HEADER_LEN {
            let mut b = vec![0xffu8; n];
            let mut h = VxlanHeader::new_unchecked(&mut b[..]);
            h.set_flags(1);
            h.set_reserved0(2);
            h.set_vni(3);
            h.set_reserved1(4);
            let _ = h.payload_mut().len();
            let _ = (
                h.flags(),
                h.reserved0(),
                h.vni(),
                h.reserved1(),
                h.payload(),
            );
        }
    }

    #[test]
    fn truncated_at_every_length() {
        for n in 0..HEADER_LEN {
            assert_eq!(
                VxlanHeader::new_checked(&PACKET[..n]).unwrap_err(),
                Error::Truncated
            );
            assert_eq!(
                VxlanRepr::parse(&VxlanHeader::new_unchecked(&PACKET[..n])),
                Err(Error::Truncated)
            );
            let mut b = vec![0u8; n];
            assert_eq!(
                VxlanRepr::new(1).emit(&mut VxlanHeader::new_unchecked(&mut b[..])),
                Err(Error::Truncated)
            );
        }
        let mut b = [0u8; 8];
        assert!(
            VxlanRepr::new(1 << 24)
                .emit(&mut VxlanHeader::new_unchecked(&mut b[..]))
                .is_err()
        );
    }

    proptest! {
        #[test]
        fn repr_round_trips(flags in any::<u8>(), vni in 0..=MAX_VNI, junk in any::<[u8; 8]>()) {
            let repr = VxlanRepr { flags: flags | FLAG_I, vni };
            let mut b = junk;
            repr.emit(&mut VxlanHeader::new_unchecked(&mut b[..])).unwrap();
            let h = VxlanHeader::new_checked(&b[..]).unwrap();
            prop_assert_eq!((h.reserved0(), h.reserved1()), (0, 0));
            prop_assert_eq!(VxlanRepr::parse(&h).unwrap(), repr);
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..16)) {
            if let Ok(h) = VxlanHeader::new_checked(&b[..]) {
                let _ = (h.flags(), h.reserved0(), h.vni(), h.reserved1(), h.payload());
            }
            let _ = VxlanRepr::parse(&VxlanHeader::new_unchecked(&b[..]));
        }
    }
}
