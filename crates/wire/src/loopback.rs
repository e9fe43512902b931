//! BSD loopback headers, the 4-byte address family that precedes the packets of a loopback or
//! tunnel interface captured on a BSD or macOS host: [`LoopbackHeader`] and [`LoopbackRepr`].
//!
//! Two link types share the layout and differ in byte order: LINKTYPE_NULL (0) writes the family
//! in the byte order of the host that captured, which the file does not record, and
//! LINKTYPE_LOOP (108, OpenBSD) in network byte order. The BSDs agree on `AF_INET` (2) but not on
//! `AF_INET6` (24 on NetBSD and OpenBSD, 28 on FreeBSD, 30 on macOS): [`ethertype_of`] knows all
//! three. The header has no field a sender cannot set, so parsing only ever fails with
//! `Truncated`. Nothing here allocates or panics on any input: reads of bytes an unchecked
//! buffer lacks give zero and writes to them are dropped.
//!
//! ```
//! use wire::loopback::{ByteOrder, LoopbackHeader, LoopbackRepr, ethertype_of, family};
//! // A macOS capture of lo0: IPv6, the family in the capturing host's (little-endian) order.
//! let frame = [30, 0, 0, 0, 0x60, 0, 0, 0];
//! let h = LoopbackHeader::new_checked(&frame[..]).unwrap();
//! let r = LoopbackRepr::parse_null(&h).unwrap();
//! assert_eq!(r, LoopbackRepr { family: family::INET6_DARWIN, order: ByteOrder::Little });
//! assert_eq!(ethertype_of(r.family), Some(wire::ethertype::IPV6));
//! assert_eq!(h.payload()[0] >> 4, 6);
//! ```

use crate::bytes::{array, put, slice_mut};
use crate::{Error, Result, ethertype};

/// The BSD `AF_*` values a loopback header carries, as tcpdump knows them.
pub mod family {
    /// IPv4, on every BSD.
    pub const INET: u32 = 2;
    /// Xerox NS.
    pub const NS: u32 = 6;
    /// OSI.
    pub const ISO: u32 = 7;
    /// AppleTalk.
    pub const APPLETALK: u32 = 16;
    /// Novell IPX.
    pub const IPX: u32 = 23;
    /// IPv6 on NetBSD, OpenBSD and BSD/OS.
    pub const INET6_BSD: u32 = 24;
    /// IPv6 on FreeBSD and DragonFly.
    pub const INET6_FREEBSD: u32 = 28;
    /// IPv6 on macOS.
    pub const INET6_DARWIN: u32 = 30;

    /// tcpdump's name of a family ("IPv4", "IPv6", ...), or `None` for one it does not know.
    pub const fn name(family: u32) -> Option<&'static str> {
        Some(match family {
            INET => "IPv4",
            NS => "NS",
            ISO => "ISO",
            APPLETALK => "Appletalk",
            IPX => "IPX",
            INET6_BSD | INET6_FREEBSD | INET6_DARWIN => "IPv6",
            _ => return None,
        })
    }
}

/// The ethertype of the packet after a header of this family: IPv4 for `AF_INET`, IPv6 for the
/// three `AF_INET6` values, `None` for the rest.
#[inline]
pub const fn ethertype_of(family: u32) -> Option<u16> {
    match family {
        family::INET => Some(ethertype::IPV4),
        family::INET6_BSD | family::INET6_FREEBSD | family::INET6_DARWIN => Some(ethertype::IPV6),
        _ => None,
    }
}

/// The byte order of the family field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// Little-endian: a LINKTYPE_NULL capture from an x86 or ARM host.
    #[default]
    Little,
    /// Big-endian: LINKTYPE_LOOP, or LINKTYPE_NULL from a big-endian host.
    Big,
}

/// Byte layout of the header.
mod field {
    use core::ops::{Range, RangeFrom};

    /// The address family, 32 bits.
    pub const FAMILY: Range<usize> = 0..4;
    pub const PAYLOAD: RangeFrom<usize> = 4..;
}

/// Length of the header.
pub const HEADER_LEN: usize = field::PAYLOAD.start;

/// A zero-copy view of a BSD loopback header and the packet after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopbackHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> LoopbackHeader<T> {
    /// Wraps `buffer` without checking it; use for buffers you sized yourself (emission).
    pub const fn new_unchecked(buffer: T) -> LoopbackHeader<T> {
        LoopbackHeader { buffer }
    }

    /// Wraps `buffer` after checking it holds the 4-byte header.
    pub fn new_checked(buffer: T) -> Result<LoopbackHeader<T>> {
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

    /// The family field's four bytes as they are.
    #[inline]
    pub fn family_field(&self) -> [u8; 4] {
        array(self.buffer.as_ref(), field::FAMILY.start)
    }

    /// The family of a LINKTYPE_NULL header and the byte order it was written in. The order is
    /// the capturing host's, which the file does not say; families are below 65536, so the
    /// field is read in the order that leaves its upper 16 bits zero (little-endian when both
    /// do), as tcpdump and Wireshark read it.
    #[inline]
    pub fn null_family(&self) -> (u32, ByteOrder) {
        let b = self.family_field();
        let little = u32::from_le_bytes(b);
        if little & 0xffff_0000 == 0 {
            (little, ByteOrder::Little)
        } else {
            (u32::from_be_bytes(b), ByteOrder::Big)
        }
    }

    /// The family of a LINKTYPE_LOOP header: network byte order.
    #[inline]
    pub fn loop_family(&self) -> u32 {
        u32::from_be_bytes(self.family_field())
    }

    /// Everything after the header.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(field::PAYLOAD).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> LoopbackHeader<T> {
    /// Writes `family` in `order`.
    #[inline]
    pub fn set_family(&mut self, family: u32, order: ByteOrder) {
        let bytes = match order {
            ByteOrder::Little => family.to_le_bytes(),
            ByteOrder::Big => family.to_be_bytes(),
        };
        put(self.buffer.as_mut(), field::FAMILY.start, &bytes);
    }

    /// Everything after the header, mutably.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let b = self.buffer.as_mut();
        let len = b.len();
        slice_mut(b, HEADER_LEN..len)
    }
}

/// The fields of a BSD loopback header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LoopbackRepr {
    /// The BSD address family (see [`family`]).
    pub family: u32,
    /// The order it is written in: always [`ByteOrder::Big`] for LINKTYPE_LOOP.
    pub order: ByteOrder,
}

impl LoopbackRepr {
    /// Reads a LINKTYPE_NULL header (checking its length first), its byte order guessed as
    /// [`LoopbackHeader::null_family`] says.
    pub fn parse_null<T: AsRef<[u8]>>(header: &LoopbackHeader<T>) -> Result<LoopbackRepr> {
        header.check_len()?;
        let (family, order) = header.null_family();
        Ok(LoopbackRepr { family, order })
    }

    /// Reads a LINKTYPE_LOOP header (checking its length first).
    pub fn parse_loop<T: AsRef<[u8]>>(header: &LoopbackHeader<T>) -> Result<LoopbackRepr> {
        header.check_len()?;
        Ok(LoopbackRepr {
            family: header.loop_family(),
            order: ByteOrder::Big,
        })
    }

    /// The header length, 4.
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the family in its order. `Truncated` when the buffer cannot hold 4 bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, header: &mut LoopbackHeader<T>) -> Result<()> {
        header.check_len()?;
        header.set_family(self.family, self.order);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // IPv4 from an x86 FreeBSD host's lo0, then the first IPv4 byte.
    const NULL_V4: [u8; 5] = [2, 0, 0, 0, 0x45];
    // IPv6 on OpenBSD's enc0 (LINKTYPE_LOOP), then the first IPv6 byte.
    const LOOP_V6: [u8; 5] = [0, 0, 0, 24, 0x60];

    #[test]
    fn null_and_loop_round_trip() {
        let h = LoopbackHeader::new_checked(&NULL_V4[..]).unwrap();
        let r = LoopbackRepr::parse_null(&h).unwrap();
        assert_eq!((r.family, r.order), (family::INET, ByteOrder::Little));
        assert_eq!(h.payload(), &[0x45]);
        let mut out = [0xffu8; 5];
        out[4] = 0x45;
        r.emit(&mut LoopbackHeader::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(out, NULL_V4);

        let h = LoopbackHeader::new_checked(&LOOP_V6[..]).unwrap();
        let r = LoopbackRepr::parse_loop(&h).unwrap();
        assert_eq!((r.family, r.order), (family::INET6_BSD, ByteOrder::Big));
        let mut out = [0xffu8; 5];
        out[4] = 0x60;
        r.emit(&mut LoopbackHeader::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(out, LOOP_V6);
    }

    #[test]
    fn null_family_from_a_big_endian_host_is_read_the_other_way_round() {
        for f in [family::INET, family::INET6_FREEBSD, family::INET6_DARWIN] {
            let h = LoopbackHeader::new_unchecked(f.to_be_bytes());
            assert_eq!(h.null_family(), (f, ByteOrder::Big));
            let h = LoopbackHeader::new_unchecked(f.to_le_bytes());
            assert_eq!(h.null_family(), (f, ByteOrder::Little));
        }
        // A LOOP header is not guessed: read little-endian it is another family.
        let h = LoopbackHeader::new_unchecked(2u32.to_le_bytes());
        assert_eq!(h.loop_family(), 0x0200_0000);
    }

    #[test]
    fn families_map_to_ethertypes() {
        assert_eq!(ethertype_of(2), Some(ethertype::IPV4));
        for f in [24, 28, 30] {
            assert_eq!(ethertype_of(f), Some(ethertype::IPV6), "{f}");
            assert_eq!(family::name(f), Some("IPv6"));
        }
        for f in [0, 1, 7, 10, 23, 0x0200_0000] {
            assert_eq!(ethertype_of(f), None, "{f}");
        }
        assert_eq!(family::name(7), Some("ISO"));
        assert_eq!(family::name(99), None);
    }

    #[test]
    fn truncated_at_every_length() {
        let r =
            LoopbackRepr::parse_null(&LoopbackHeader::new_checked(&NULL_V4[..]).unwrap()).unwrap();
        for n in 0..HEADER_LEN {
            assert_eq!(
                LoopbackHeader::new_checked(&NULL_V4[..n]),
                Err(Error::Truncated)
            );
            let h = LoopbackHeader::new_unchecked(&NULL_V4[..n]);
            assert_eq!(LoopbackRepr::parse_null(&h), Err(Error::Truncated));
            assert_eq!(LoopbackRepr::parse_loop(&h), Err(Error::Truncated));
            assert!(h.payload().is_empty());
            let mut b = [0u8; HEADER_LEN];
            assert_eq!(
                r.emit(&mut LoopbackHeader::new_unchecked(&mut b[..n])),
                Err(Error::Truncated)
            );
            assert_eq!(b, [0; HEADER_LEN], "nothing written to a short buffer");
        }
    }

    proptest! {
        /// Any family a BSD has (below 65536) comes back from a NULL header in either order, and
        /// any 32-bit value from a LOOP header.
        #[test]
        fn repr_round_trips(
            family in 1u32..0x1_0000,
            big in any::<bool>(),
            any_family in any::<u32>(),
            junk in any::<u8>(),
        ) {
            let order = if big { ByteOrder::Big } else { ByteOrder::Little };
            let r = LoopbackRepr { family, order };
            let mut buf = [junk; HEADER_LEN + 1];
            r.emit(&mut LoopbackHeader::new_unchecked(&mut buf[..])).unwrap();
            let h = LoopbackHeader::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(LoopbackRepr::parse_null(&h), Ok(r));
            prop_assert_eq!(h.payload(), &[junk]);

            let r = LoopbackRepr { family: any_family, order: ByteOrder::Big };
            r.emit(&mut LoopbackHeader::new_unchecked(&mut buf[..])).unwrap();
            let h = LoopbackHeader::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(LoopbackRepr::parse_loop(&h), Ok(r));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
            let h = LoopbackHeader::new_unchecked(&bytes[..]);
            let _ = (h.null_family(), h.loop_family(), h.family_field(), h.payload());
            match LoopbackHeader::new_checked(&bytes[..]) {
                Ok(h) => {
                    let (family, _) = LoopbackRepr::parse_null(&h).map(|r| (r.family, r.order)).unwrap();
                    // The guess always leaves a family that fits in 16 bits, or a field whose
                    // two halves are both set.
                    prop_assert!(family < 0x1_0000 || (family & 0xffff != 0 && family >> 16 != 0));
                    prop_assert_eq!(h.payload().len(), bytes.len() - HEADER_LEN);
                }
                Err(e) => prop_assert!(e == Error::Truncated && bytes.len() < HEADER_LEN),
            }
        }
    }
}
