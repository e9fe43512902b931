//! IEEE 802.1Q / 802.1ad VLAN tags: a zero-copy [`VlanHeader`] view over the four bytes that
//! follow a tag protocol identifier (TCI, then the inner ethertype) and the typed [`VlanRepr`].
//!
//! The TPID itself (0x8100, 0x88a8, 0x9100) is the ethertype of the header before the tag, so it
//! is not part of this view; [`is_tag_protocol`] recognises it. Nothing here allocates or
//! panics on any input: reads of bytes an unchecked buffer lacks give zero and writes to them
//! are dropped.
//!
//! ```
//! use wire::vlan::{VlanHeader, VlanRepr};
//! let tag = [0xa0, 0x64, 0x08, 0x00]; // PCP 5, VID 100, then IPv4
//! let r = VlanRepr::parse(&VlanHeader::new_checked(&tag[..]).unwrap()).unwrap();
//! assert_eq!(r, VlanRepr { pcp: 5, dei: false, vid: 100, ethertype: wire::ethertype::IPV4 });
//! ```

use crate::bytes::{put_u16, slice_mut, u16_at};
use crate::{Error, Result, ethertype};

/// Byte layout of one tag after its TPID (IEEE 802.1Q clause 9.6).
mod field {
    use core::ops::{Range, RangeFrom};

    /// Tag control information: PCP (3 bits), DEI (1 bit), VID (12 bits).
    pub const TCI: Range<usize> = 0..2;
    /// The ethertype of what follows the tag.
    pub const ETHERTYPE: Range<usize> = 2..4;
    pub const PAYLOAD: RangeFrom<usize> = 4..;
}

/// Length of a tag after its TPID.
pub const HEADER_LEN: usize = field::PAYLOAD.start;

/// The largest VID that may appear on the wire; 4095 is reserved by 802.1Q.
pub const MAX_VID: u16 = 4094;

/// True for the ethertypes that introduce a VLAN tag: 802.1Q (0x8100), 802.1ad (0x88a8) and
/// the pre-standard QinQ 0x9100.
#[inline]
pub const fn is_tag_protocol(ethertype: u16) -> bool {
    matches!(
        ethertype,
        ethertype::VLAN | ethertype::QINQ | ethertype::QINQ_OLD
    )
}

/// A zero-copy view of one VLAN tag (TCI and inner ethertype) and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VlanHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> VlanHeader<T> {
    /// Wraps `buffer` without checking it; use for buffers you sized yourself (emission).
    pub const fn new_unchecked(buffer: T) -> VlanHeader<T> {
        VlanHeader { buffer }
    }

    /// Wraps `buffer` after checking it holds the 4-byte tag.
    pub fn new_checked(buffer: T) -> Result<VlanHeader<T>> {
        let h = Self::new_unchecked(buffer);
        h.check_len()?;
        Ok(h)
    }

    /// `Err(Truncated)` when the buffer is shorter than the tag.
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

    /// The tag length, 4.
    pub const fn header_len() -> usize {
        HEADER_LEN
    }

    /// The raw tag control information.
    #[inline]
    pub fn tci(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::TCI.start)
    }

    /// The priority code point (0-7).
    #[inline]
    pub fn pcp(&self) -> u8 {
        (self.tci() >> 13) as u8
    }

    /// The drop-eligible indicator.
    #[inline]
    pub fn dei(&self) -> bool {
        self.tci() & 0x1000 != 0
    }

    /// The VLAN identifier (0 means priority-tagged only).
    #[inline]
    pub fn vid(&self) -> u16 {
        self.tci() & 0x0fff
    }

    /// The ethertype of what follows the tag.
    #[inline]
    pub fn ethertype(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::ETHERTYPE.start)
    }

    /// Everything after the tag.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(field::PAYLOAD).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> VlanHeader<T> {
    /// Sets the whole tag control information.
    #[inline]
    pub fn set_tci(&mut self, tci: u16) {
        put_u16(self.buffer.as_mut(), field::TCI.start, tci);
    }

    /// Sets the priority code point; bits above the low three are ignored.
    #[inline]
    pub fn set_pcp(&mut self, pcp: u8) {
        let tci = (self.tci() & 0x1fff) | (u16::from(pcp & 0x07) << 13);
        self.set_tci(tci);
    }

    /// Sets the drop-eligible indicator.
    #[inline]
    pub fn set_dei(&mut self, dei: bool) {
        let tci = (self.tci() & !0x1000) | if dei { 0x1000 } else { 0 };
        self.set_tci(tci);
    }

    /// Sets the VLAN identifier; bits above the low twelve are ignored.
    #[inline]
    pub fn set_vid(&mut self, vid: u16) {
        let tci = (self.tci() & 0xf000) | (vid & 0x0fff);
        self.set_tci(tci);
    }

    /// Sets the ethertype of what follows.
    #[inline]
    pub fn set_ethertype(&mut self, ethertype: u16) {
        put_u16(self.buffer.as_mut(), field::ETHERTYPE.start, ethertype);
    }

    /// Everything after the tag, mutably.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let b = self.buffer.as_mut();
        let len = b.len();
        slice_mut(b, HEADER_LEN..len)
    }
}

/// The fields of one VLAN tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VlanRepr {
    /// Priority code point, 0-7.
    pub pcp: u8,
    /// Drop-eligible indicator.
    pub dei: bool,
    /// VLAN identifier, 0-4094 (0: priority tag only).
    pub vid: u16,
    /// The ethertype of what follows the tag.
    pub ethertype: u16,
}

impl VlanRepr {
    /// Reads a tag. `Malformed` for VID 4095, which 802.1Q forbids on the wire.
    pub fn parse<T: AsRef<[u8]>>(tag: &VlanHeader<T>) -> Result<VlanRepr> {
        tag.check_len()?;
        if tag.vid() > MAX_VID {
            return Err(Error::Malformed("vlan vid 4095 is reserved"));
        }
        Ok(VlanRepr {
            pcp: tag.pcp(),
            dei: tag.dei(),
            vid: tag.vid(),
            ethertype: tag.ethertype(),
        })
    }

    /// The tag length, 4.
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// The tag control information these fields make.
    pub const fn tci(&self) -> u16 {
        ((self.pcp as u16 & 0x07) << 13) | if self.dei { 0x1000 } else { 0 } | (self.vid & 0x0fff)
    }

    /// Writes the whole tag. `Malformed` for a PCP above 7 or a VID above 4094, `Truncated`
    /// when the buffer cannot hold the tag.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, tag: &mut VlanHeader<T>) -> Result<()> {
        if self.pcp > 7 {
            return Err(Error::Malformed("vlan pcp above 7"));
        }
        if self.vid > MAX_VID {
            return Err(Error::Malformed("vlan vid above 4094"));
        }
        tag.check_len()?;
        tag.set_tci(self.tci());
        tag.set_ethertype(self.ethertype);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // PCP 3, DEI set, VID 0x123, IPv6, two payload bytes.
    const TAG: [u8; 6] = [0x71, 0x23, 0x86, 0xdd, 0x60, 0x00];

    #[test]
    fn parse_then_emit_round_trips() {
        let t = VlanHeader::new_checked(&TAG[..]).unwrap();
        let r = VlanRepr::parse(&t).unwrap();
        assert_eq!(
            r,
            VlanRepr {
                pcp: 3,
                dei: true,
                vid: 0x123,
                ethertype: ethertype::IPV6
            }
        );
        assert_eq!(t.tci(), 0x7123);
        assert_eq!(r.tci(), 0x7123);
        assert_eq!(t.payload(), &[0x60, 0x00]);
        let mut out = [0xffu8; 6];
        out[4..].copy_from_slice(&TAG[4..]);
        r.emit(&mut VlanHeader::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(out, TAG);
    }

    #[test]
    fn truncated_at_every_length() {
        let r = VlanRepr::parse(&VlanHeader::new_checked(&TAG[..]).unwrap()).unwrap();
        for n in 0..HEADER_LEN {
            assert_eq!(VlanHeader::new_checked(&TAG[..n]), Err(Error::Truncated));
            assert_eq!(
                VlanRepr::parse(&VlanHeader::new_unchecked(&TAG[..n])),
                Err(Error::Truncated)
            );
            let mut b = [0u8; HEADER_LEN];
            assert_eq!(
                r.emit(&mut VlanHeader::new_unchecked(&mut b[..n])),
                Err(Error::Truncated)
            );
        }
    }

    #[test]
    fn malformed_fields() {
        let tag = [0x0f, 0xff, 0x08, 0x00];
        assert_eq!(
            VlanRepr::parse(&VlanHeader::new_checked(&tag[..]).unwrap()),
            Err(Error::Malformed("vlan vid 4095 is reserved"))
        );
        let mut b = [0u8; 4];
        let mut v = VlanHeader::new_unchecked(&mut b[..]);
        let ok = VlanRepr {
            pcp: 7,
            dei: false,
            vid: MAX_VID,
            ethertype: 0x0800,
        };
        assert_eq!(
            VlanRepr { pcp: 8, ..ok }.emit(&mut v),
            Err(Error::Malformed("vlan pcp above 7"))
        );
        assert_eq!(
            VlanRepr { vid: 4095, ..ok }.emit(&mut v),
            Err(Error::Malformed("vlan vid above 4094"))
        );
        assert_eq!(ok.emit(&mut v), Ok(()));
    }

    #[test]
    fn setters_touch_only_their_bits() {
        let mut b = TAG;
        let mut t = VlanHeader::new_unchecked(&mut b[..]);
        t.set_vid(0xfff7);
        assert_eq!((t.pcp(), t.dei(), t.vid()), (3, true, 0xff7));
        t.set_pcp(0xfe);
        assert_eq!((t.pcp(), t.dei(), t.vid()), (6, true, 0xff7));
        t.set_dei(false);
        assert_eq!((t.pcp(), t.dei(), t.vid()), (6, false, 0xff7));
        assert_eq!(t.ethertype(), ethertype::IPV6);
        t.payload_mut()[0] = 0x45;
        assert_eq!(b[4], 0x45);
    }

    #[test]
    fn tag_protocols() {
        for et in [0x8100, 0x88a8, 0x9100] {
            assert!(is_tag_protocol(et));
        }
        assert!(!is_tag_protocol(0x0800));
    }

    #[test]
    fn agrees_with_etherparse() {
        let e = etherparse::SingleVlanHeaderSlice::from_slice(&TAG).unwrap();
        let t = VlanHeader::new_checked(&TAG[..]).unwrap();
        assert_eq!(t.pcp(), e.priority_code_point().value());
        assert_eq!(t.dei(), e.drop_eligible_indicator());
        assert_eq!(t.vid(), e.vlan_identifier().value());
        assert_eq!(t.ethertype(), e.ether_type().0);
    }

    proptest! {
        #[test]
        fn repr_emit_parse_round_trips(pcp in 0u8..8, dei in any::<bool>(), vid in 0..=MAX_VID, ethertype in any::<u16>(), junk in any::<u8>()) {
            let r = VlanRepr { pcp, dei, vid, ethertype };
            let mut buf = [junk; HEADER_LEN];
            r.emit(&mut VlanHeader::new_unchecked(&mut buf[..])).unwrap();
            prop_assert_eq!(VlanRepr::parse(&VlanHeader::new_checked(&buf[..]).unwrap()), Ok(r));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
            let t = VlanHeader::new_unchecked(&bytes[..]);
            let _ = (t.tci(), t.pcp(), t.dei(), t.vid(), t.ethertype(), t.payload());
            match VlanHeader::new_checked(&bytes[..]) {
                Ok(t) => match VlanRepr::parse(&t) {
                    Ok(r) => prop_assert_eq!(r.tci(), t.tci()),
                    Err(e) => prop_assert_eq!(e, Error::Malformed("vlan vid 4095 is reserved")),
                },
                Err(e) => prop_assert!(e == Error::Truncated && bytes.len() < HEADER_LEN),
            }
        }
    }
}
