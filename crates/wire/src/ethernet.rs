//! Ethernet II frames: the [`EthernetAddress`] (MAC) used across Rampart, a zero-copy
//! [`EthernetFrame`] view over the 14-byte header and its payload, and the typed
//! [`EthernetRepr`].
//!
//! Nothing here allocates or panics on any input. [`EthernetFrame::new_checked`] proves the
//! buffer holds the header, so every accessor of a checked view reads real bytes; on an
//! unchecked view over a too-short buffer, reads of missing bytes give zero and writes to them
//! are dropped rather than panicking.
//!
//! ```
//! use wire::ethernet::{EthernetAddress, EthernetFrame, EthernetRepr};
//! let mut buf = [0u8; 14 + 2];
//! let repr = EthernetRepr {
//!     src_addr: EthernetAddress([0x02, 0, 0, 0, 0, 1]),
//!     dst_addr: EthernetAddress::BROADCAST,
//!     ethertype: wire::ethertype::ARP,
//! };
//! repr.emit(&mut EthernetFrame::new_unchecked(&mut buf[..])).unwrap();
//! let frame = EthernetFrame::new_checked(&buf[..]).unwrap();
//! assert_eq!(EthernetRepr::parse(&frame).unwrap(), repr);
//! assert_eq!(frame.payload().len(), 2);
//! assert_eq!(repr.src_addr.to_string(), "02:00:00:00:00:01");
//! ```

use core::fmt;
use core::str::FromStr;

use crate::{Error, Result};

use crate::bytes::{array, put, put_u16, slice_mut, u16_at};

/// A 48-bit IEEE 802 MAC address. Displays as `aa:bb:cc:dd:ee:ff`; parses from that form or
/// with `-` separators.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct EthernetAddress(pub [u8; 6]);

impl EthernetAddress {
    /// `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: EthernetAddress = EthernetAddress([0xff; 6]);
    /// `00:00:00:00:00:00`, as in an ARP request's unknown target.
    pub const ZERO: EthernetAddress = EthernetAddress([0; 6]);

    /// The address in `data`, which must be exactly six bytes long.
    pub fn from_bytes(data: &[u8]) -> Option<EthernetAddress> {
        <[u8; 6]>::try_from(data).ok().map(EthernetAddress)
    }

    /// The six octets, first on the wire first.
    pub const fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }

    /// All ones.
    pub const fn is_broadcast(&self) -> bool {
        matches!(self.0, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
    }

    /// The group bit (least significant bit of the first octet) is set; true for broadcast.
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// The group bit is clear: the address names one interface.
    pub const fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }

    /// The locally-administered bit (second least significant of the first octet) is set, as
    /// in most virtual NICs' generated addresses.
    pub const fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }

    /// All zeros.
    pub const fn is_zero(&self) -> bool {
        matches!(self.0, [0, 0, 0, 0, 0, 0])
    }
}

impl From<[u8; 6]> for EthernetAddress {
    fn from(b: [u8; 6]) -> Self {
        EthernetAddress(b)
    }
}

impl From<EthernetAddress> for [u8; 6] {
    fn from(a: EthernetAddress) -> Self {
        a.0
    }
}

impl fmt::Display for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl fmt::Debug for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EthernetAddress({self})")
    }
}

impl FromStr for EthernetAddress {
    type Err = Error;

    /// Parses six two-digit hex octets separated by `:` (or all by `-`), in either case.
    fn from_str(s: &str) -> Result<Self> {
        const BAD: Error =
            Error::Malformed("ethernet address: expected six hex octets like aa:bb:cc:dd:ee:ff");
        let b = s.as_bytes();
        if b.len() != 17 {
            return Err(BAD);
        }
        let sep = b.get(2).copied().ok_or(BAD)?;
        if sep != b':' && sep != b'-' {
            return Err(BAD);
        }
        let mut out = [0u8; 6];
        for (i, o) in out.iter_mut().enumerate() {
            let at = i * 3;
            let hex = s.get(at..at + 2).ok_or(BAD)?;
            if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(BAD);
            }
            *o = u8::from_str_radix(hex, 16).map_err(|_| BAD)?;
            if i < 5 && b.get(at + 2) != Some(&sep) {
                return Err(BAD);
            }
        }
        Ok(EthernetAddress(out))
    }
}

/// Byte layout of the Ethernet II header (IEEE 802.3 clause 3.1.1, type interpretation).
mod field {
    use core::ops::{Range, RangeFrom};

    pub const DESTINATION: Range<usize> = 0..6;
    pub const SOURCE: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
    pub const PAYLOAD: RangeFrom<usize> = 14..;
}

/// Length of the Ethernet II header (no FCS: captures and virtual NICs carry none).
pub const HEADER_LEN: usize = field::PAYLOAD.start;

/// A zero-copy view of an Ethernet II frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Wraps `buffer` without checking it; use for buffers you sized yourself (emission).
    pub const fn new_unchecked(buffer: T) -> EthernetFrame<T> {
        EthernetFrame { buffer }
    }

    /// Wraps `buffer` after checking it holds the 14-byte header.
    pub fn new_checked(buffer: T) -> Result<EthernetFrame<T>> {
        let frame = Self::new_unchecked(buffer);
        frame.check_len()?;
        Ok(frame)
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

    /// The header length, 14.
    pub const fn header_len() -> usize {
        HEADER_LEN
    }

    /// The length of a frame carrying `payload_len` bytes.
    pub const fn buffer_len(payload_len: usize) -> usize {
        HEADER_LEN + payload_len
    }

    /// The destination MAC.
    #[inline]
    pub fn dst_addr(&self) -> EthernetAddress {
        EthernetAddress(array(self.buffer.as_ref(), field::DESTINATION.start))
    }

    /// The source MAC.
    #[inline]
    pub fn src_addr(&self) -> EthernetAddress {
        EthernetAddress(array(self.buffer.as_ref(), field::SOURCE.start))
    }

    /// The ethertype (a value below 0x0600 is an 802.3 length instead).
    #[inline]
    pub fn ethertype(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::ETHERTYPE.start)
    }

    /// Everything after the header (Ethernet padding included: only the layer above knows its
    /// own length).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(field::PAYLOAD).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Sets the destination MAC.
    #[inline]
    pub fn set_dst_addr(&mut self, addr: EthernetAddress) {
        put(self.buffer.as_mut(), field::DESTINATION.start, &addr.0);
    }

    /// Sets the source MAC.
    #[inline]
    pub fn set_src_addr(&mut self, addr: EthernetAddress) {
        put(self.buffer.as_mut(), field::SOURCE.start, &addr.0);
    }

    /// Sets the ethertype.
    #[inline]
    pub fn set_ethertype(&mut self, ethertype: u16) {
        put_u16(self.buffer.as_mut(), field::ETHERTYPE.start, ethertype);
    }

    /// Everything after the header, mutably.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let b = self.buffer.as_mut();
        let len = b.len();
        slice_mut(b, HEADER_LEN..len)
    }
}

/// The fields of an Ethernet II header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EthernetRepr {
    /// The sending interface.
    pub src_addr: EthernetAddress,
    /// The receiving interface, group or broadcast.
    pub dst_addr: EthernetAddress,
    /// What the payload is (see [`crate::ethertype`]); below 0x0600 an 802.3 length.
    pub ethertype: u16,
}

impl EthernetRepr {
    /// Reads the header of `frame` (checking its length first). Any ethertype is accepted.
    pub fn parse<T: AsRef<[u8]>>(frame: &EthernetFrame<T>) -> Result<EthernetRepr> {
        frame.check_len()?;
        Ok(EthernetRepr {
            src_addr: frame.src_addr(),
            dst_addr: frame.dst_addr(),
            ethertype: frame.ethertype(),
        })
    }

    /// The header length, 14.
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes every header field into `frame`; the payload is left alone.
    /// `Err(Truncated)` when the buffer cannot hold the header.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut EthernetFrame<T>) -> Result<()> {
        frame.check_len()?;
        frame.set_dst_addr(self.dst_addr);
        frame.set_src_addr(self.src_addr);
        frame.set_ethertype(self.ethertype);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // An ARP request as captured on a LAN, minus the ARP body.
    const FRAME: [u8; 16] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x06, 0xaa,
        0xbb,
    ];

    #[test]
    fn parse_then_emit_round_trips() {
        let f = EthernetFrame::new_checked(&FRAME[..]).unwrap();
        let r = EthernetRepr::parse(&f).unwrap();
        assert_eq!(r.dst_addr, EthernetAddress::BROADCAST);
        assert_eq!(
            r.src_addr,
            EthernetAddress([0x52, 0x54, 0x00, 0x12, 0x34, 0x56])
        );
        assert_eq!(r.ethertype, crate::ethertype::ARP);
        assert_eq!(f.payload(), &[0xaa, 0xbb]);
        // Emission over a dirty buffer must overwrite every header byte.
        let mut out = [0x5au8; 16];
        out[14..].copy_from_slice(&FRAME[14..]);
        r.emit(&mut EthernetFrame::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(out, FRAME);
    }

    #[test]
    fn truncated_at_every_length() {
        for n in 0..HEADER_LEN {
            assert_eq!(
                EthernetFrame::new_checked(&FRAME[..n]),
                Err(Error::Truncated)
            );
            assert_eq!(
                EthernetRepr::parse(&EthernetFrame::new_unchecked(&FRAME[..n])),
                Err(Error::Truncated)
            );
            let mut short = [0u8; HEADER_LEN];
            let r = EthernetRepr::parse(&EthernetFrame::new_checked(&FRAME[..]).unwrap()).unwrap();
            assert_eq!(
                r.emit(&mut EthernetFrame::new_unchecked(&mut short[..n])),
                Err(Error::Truncated)
            );
        }
        assert!(EthernetFrame::new_checked(&FRAME[..HEADER_LEN]).is_ok());
    }

    #[test]
    fn unchecked_short_buffer_reads_zero_and_drops_writes() {
        let mut b = [0x11u8; 8];
        let mut f = EthernetFrame::new_unchecked(&mut b[..]);
        assert_eq!(f.ethertype(), 0);
        assert_eq!(f.src_addr(), EthernetAddress::ZERO);
        assert_eq!(f.dst_addr(), EthernetAddress([0x11; 6]));
        assert!(f.payload().is_empty());
        f.set_ethertype(0x0800);
        f.set_src_addr(EthernetAddress::BROADCAST);
        assert!(f.payload_mut().is_empty());
        assert_eq!(b, [0x11; 8]);
    }

    #[test]
    fn address_classes_and_text() {
        let a = EthernetAddress([0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb]);
        assert!(a.is_multicast() && !a.is_unicast() && !a.is_broadcast());
        assert!(
            EthernetAddress::BROADCAST.is_multicast() && EthernetAddress::BROADCAST.is_broadcast()
        );
        let u = EthernetAddress([0x02, 0x42, 0xac, 0x11, 0x00, 0x02]);
        assert!(u.is_unicast() && u.is_local() && !u.is_zero());
        assert!(EthernetAddress::ZERO.is_zero());
        assert_eq!(u.to_string(), "02:42:ac:11:00:02");
        assert_eq!(format!("{u:?}"), "EthernetAddress(02:42:ac:11:00:02)");
        assert_eq!("02:42:AC:11:00:02".parse::<EthernetAddress>(), Ok(u));
        assert_eq!("02-42-ac-11-00-02".parse::<EthernetAddress>(), Ok(u));
        for bad in [
            "",
            "02:42:ac:11:00",
            "02:42:ac:11:00:0g",
            "02:42-ac:11:00:02",
            "02:42:ac:11:00:02:",
            "+2:42:ac:11:00:02",
            "02:42:ac:11:00:é",
        ] {
            assert!(bad.parse::<EthernetAddress>().is_err(), "{bad:?} parsed");
        }
        assert_eq!(
            EthernetAddress::from_bytes(&[1, 2, 3, 4, 5, 6]),
            Some(EthernetAddress([1, 2, 3, 4, 5, 6]))
        );
        assert_eq!(EthernetAddress::from_bytes(&[1, 2, 3]), None);
    }

    #[test]
    fn agrees_with_etherparse() {
        let e = etherparse::Ethernet2HeaderSlice::from_slice(&FRAME).unwrap();
        let f = EthernetFrame::new_checked(&FRAME[..]).unwrap();
        assert_eq!(f.dst_addr().0, e.destination());
        assert_eq!(f.src_addr().0, e.source());
        assert_eq!(f.ethertype(), e.ether_type().0);
    }

    fn any_addr() -> impl Strategy<Value = EthernetAddress> {
        any::<[u8; 6]>().prop_map(EthernetAddress)
    }

    proptest! {
        #[test]
        fn repr_emit_parse_round_trips(src in any_addr(), dst in any_addr(), ethertype in any::<u16>(), junk in any::<u8>()) {
            let r = EthernetRepr { src_addr: src, dst_addr: dst, ethertype };
            let mut buf = [junk; HEADER_LEN];
            r.emit(&mut EthernetFrame::new_unchecked(&mut buf[..])).unwrap();
            prop_assert_eq!(EthernetRepr::parse(&EthernetFrame::new_checked(&buf[..]).unwrap()), Ok(r));
        }

        #[test]
        fn address_text_round_trips(a in any_addr()) {
            prop_assert_eq!(a.to_string().parse::<EthernetAddress>(), Ok(a));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40), text in ".{0,20}") {
            let f = EthernetFrame::new_unchecked(&bytes[..]);
            let _ = (f.dst_addr(), f.src_addr(), f.ethertype(), f.payload());
            match EthernetFrame::new_checked(&bytes[..]) {
                Ok(f) => {
                    let r = EthernetRepr::parse(&f).unwrap();
                    prop_assert_eq!(r.ethertype, u16::from_be_bytes([bytes[12], bytes[13]]));
                    prop_assert_eq!(f.payload(), &bytes[14..]);
                }
                Err(e) => prop_assert!(e == Error::Truncated && bytes.len() < HEADER_LEN),
            }
            let _ = text.parse::<EthernetAddress>();
        }
    }
}
