//! UDP (RFC 768): a zero-copy view of a datagram with its checksum over the IPv4 or IPv6
//! pseudo-header, and a typed [`UdpRepr`]. Also home of [`IpPair`], the pseudo-header addresses
//! that the TCP, UDP and ICMPv6 checksums are computed over.
//!
//! Nothing here allocates or panics on any input. [`UdpPacket::new_checked`] validates the
//! lengths once, after which every field is in the buffer; on an unchecked view over a short
//! buffer, reads of missing bytes give zero and writes are dropped. Parsing never rejects a bad
//! checksum (callers verify it separately); emission writes every header field and never
//! trusts a reused buffer.
//!
//! ```
//! use wire::udp::{IpPair, UdpPacket, UdpRepr};
//! let ips = IpPair::V4 { src: [10, 0, 0, 1], dst: [10, 0, 0, 2] };
//! let repr = UdpRepr { src_port: 1000, dst_port: 53, payload_len: 4 };
//! let mut buf = vec![0u8; repr.buffer_len()];
//! let mut packet = UdpPacket::new_unchecked(&mut buf[..]);
//! repr.emit(&mut packet, &ips, |payload| payload.copy_from_slice(b"ping")).unwrap();
//! let packet = UdpPacket::new_checked(&buf[..]).unwrap();
//! assert!(packet.verify_checksum(&ips));
//! assert_eq!(packet.payload(), b"ping");
//! assert_eq!(UdpRepr::parse(&packet), Ok(repr));
//! ```

use crate::{Error, Result, checksum, ip_proto};

use crate::bytes::{put_range as put, u16_at};

mod field {
    use core::ops::Range;

    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const CHECKSUM: Range<usize> = 6..8;
    pub const PAYLOAD: usize = 8;
}

/// Length of the UDP header.
pub const HEADER_LEN: usize = field::PAYLOAD;

/// The source and destination addresses of the enclosing IP header, which the TCP, UDP and
/// ICMPv6 checksums cover through the pseudo-header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpPair {
    /// IPv4 source and destination.
    V4 {
        /// Source address.
        src: [u8; 4],
        /// Destination address.
        dst: [u8; 4],
    },
    /// IPv6 source and destination (the final destination when a routing header is present).
    V6 {
        /// Source address.
        src: [u8; 16],
        /// Destination address.
        dst: [u8; 16],
    },
}

impl From<(core::net::Ipv4Addr, core::net::Ipv4Addr)> for IpPair {
    /// `(source, destination)`.
    #[inline]
    fn from((src, dst): (core::net::Ipv4Addr, core::net::Ipv4Addr)) -> IpPair {
        IpPair::V4 {
            src: src.octets(),
            dst: dst.octets(),
        }
    }
}

impl From<(core::net::Ipv6Addr, core::net::Ipv6Addr)> for IpPair {
    /// `(source, destination)`.
    #[inline]
    fn from((src, dst): (core::net::Ipv6Addr, core::net::Ipv6Addr)) -> IpPair {
        IpPair::V6 {
            src: src.octets(),
            dst: dst.octets(),
        }
    }
}

impl IpPair {
    /// The unfolded pseudo-header sum for an upper-layer segment of `l4_len` bytes of protocol
    /// `proto`.
    #[inline]
    pub fn pseudo_header(&self, proto: u8, l4_len: usize) -> u64 {
        // A segment longer than 4 GiB cannot exist; saturate rather than wrap.
        let len = u32::try_from(l4_len).unwrap_or(u32::MAX);
        match *self {
            IpPair::V4 { src, dst } => checksum::pseudo_header_v4(src, dst, proto, len),
            IpPair::V6 { src, dst } => checksum::pseudo_header_v6(src, dst, proto, len),
        }
    }
}

/// A zero-copy view of a UDP datagram (header and payload).
///
/// The view should span exactly the IP payload: the length field is checked against it, and
/// the checksum covers the first `datagram_len()` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Wraps a buffer without checking it: on a buffer too short for a field, reading it
    /// gives zero and writing it is dropped. Use it on buffers you sized yourself (for
    /// emission); untrusted bytes go through [`new_checked`](Self::new_checked).
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        UdpPacket { buffer }
    }

    /// Wraps a buffer after [`check_len`](Self::check_len): every field is then in the buffer.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the header fits and that the length field is consistent with the buffer.
    ///
    /// A length field of zero is accepted and means "the whole buffer" (IPv6 jumbograms, GSO
    /// super-frames); otherwise it must be at least 8 ([`Error::Malformed`]) and at most the
    /// buffer length ([`Error::Truncated`]). Trailing bytes beyond it (Ethernet padding) are
    /// allowed and excluded from the payload.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let field_len = usize::from(self.length());
        if field_len == 0 {
            Ok(())
        } else if field_len < HEADER_LEN {
            Err(Error::Malformed("udp length below 8"))
        } else if field_len > len {
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

    /// The source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::SRC_PORT.start)
    }

    /// The destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::DST_PORT.start)
    }

    /// The length field as sent (header plus payload, or zero).
    #[inline]
    pub fn length(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::LENGTH.start)
    }

    /// The checksum field (zero over IPv4 means "not computed").
    #[inline]
    pub fn checksum(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// The datagram length in use: the length field, or the whole buffer when it is zero,
    /// never more than the buffer.
    #[inline]
    pub fn datagram_len(&self) -> usize {
        let buf_len = self.buffer.as_ref().len();
        match usize::from(self.length()) {
            0 => buf_len,
            n => n.min(buf_len),
        }
    }

    /// The payload: the bytes after the header up to [`datagram_len`](Self::datagram_len).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let end = self.datagram_len();
        self.buffer.as_ref().get(field::PAYLOAD..end).unwrap_or(&[])
    }

    /// Verifies the checksum over an IPv4 pseudo-header. A zero field means the sender did
    /// not compute one and verifies.
    pub fn verify_checksum_v4(&self, src: [u8; 4], dst: [u8; 4]) -> bool {
        self.checksum() == 0 || self.sum_is_zero(&IpPair::V4 { src, dst })
    }

    /// Verifies the checksum over an IPv6 pseudo-header. A zero field is invalid over IPv6
    /// (RFC 8200 section 8.1) and does not verify.
    pub fn verify_checksum_v6(&self, src: [u8; 16], dst: [u8; 16]) -> bool {
        self.checksum() != 0 && self.sum_is_zero(&IpPair::V6 { src, dst })
    }

    /// Verifies the checksum over the pseudo-header of `ips` (see the `_v4`/`_v6` variants).
    pub fn verify_checksum(&self, ips: &IpPair) -> bool {
        match *ips {
            IpPair::V4 { src, dst } => self.verify_checksum_v4(src, dst),
            IpPair::V6 { src, dst } => self.verify_checksum_v6(src, dst),
        }
    }

    fn sum_is_zero(&self, ips: &IpPair) -> bool {
        let len = self.datagram_len();
        let data = self.buffer.as_ref().get(..len).unwrap_or(&[]);
        checksum::l4_checksum(ips.pseudo_header(ip_proto::UDP, len), data) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    /// Sets the source port.
    #[inline]
    pub fn set_src_port(&mut self, value: u16) {
        put(self.buffer.as_mut(), field::SRC_PORT, &value.to_be_bytes());
    }

    /// Sets the destination port.
    #[inline]
    pub fn set_dst_port(&mut self, value: u16) {
        put(self.buffer.as_mut(), field::DST_PORT, &value.to_be_bytes());
    }

    /// Sets the length field.
    #[inline]
    pub fn set_length(&mut self, value: u16) {
        put(self.buffer.as_mut(), field::LENGTH, &value.to_be_bytes());
    }

    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, value: u16) {
        put(self.buffer.as_mut(), field::CHECKSUM, &value.to_be_bytes());
    }

    /// The payload, mutable (same bounds as [`payload`](UdpPacket::payload)).
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = self.datagram_len();
        self.buffer
            .as_mut()
            .get_mut(field::PAYLOAD..end)
            .unwrap_or(&mut [])
    }

    /// Computes and writes the checksum over an IPv4 pseudo-header. A computed zero is
    /// written as `0xffff`, since zero means "no checksum" over IPv4.
    pub fn fill_checksum_v4(&mut self, src: [u8; 4], dst: [u8; 4]) {
        self.fill_checksum(&IpPair::V4 { src, dst });
    }

    /// Computes and writes the checksum over an IPv6 pseudo-header (a computed zero is
    /// written as `0xffff`).
    pub fn fill_checksum_v6(&mut self, src: [u8; 16], dst: [u8; 16]) {
        self.fill_checksum(&IpPair::V6 { src, dst });
    }

    /// Computes and writes the checksum over the pseudo-header of `ips`.
    pub fn fill_checksum(&mut self, ips: &IpPair) {
        self.set_checksum(0);
        let len = self.datagram_len();
        let data = self.buffer.as_ref().get(..len).unwrap_or(&[]);
        let sum = checksum::l4_checksum(ips.pseudo_header(ip_proto::UDP, len), data);
        self.set_checksum(if sum == 0 { 0xffff } else { sum });
    }
}

/// A parsed UDP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UdpRepr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Bytes of payload after the header.
    pub payload_len: usize,
}

impl UdpRepr {
    /// Reads a UDP header. Validates lengths like [`UdpPacket::check_len`]; does not verify
    /// the checksum.
    pub fn parse<T: AsRef<[u8]>>(packet: &UdpPacket<T>) -> Result<UdpRepr> {
        packet.check_len()?;
        Ok(UdpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            payload_len: packet.datagram_len() - HEADER_LEN,
        })
    }

    /// Length of the header [`emit`](Self::emit) writes.
    #[inline]
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Length of the whole datagram [`emit`](Self::emit) writes.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len
    }

    /// Writes the header into the first [`buffer_len`](Self::buffer_len) bytes of `packet`,
    /// lets `fill_payload` write the payload (bytes it leaves alone are sent as they are, so
    /// `|_| {}` keeps a payload already in place), then fills the checksum over `ips`.
    ///
    /// Fails with [`Error::Truncated`] if the buffer is too short, or [`Error::Malformed`] if
    /// the datagram would not fit the 16-bit length field.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut UdpPacket<T>,
        ips: &IpPair,
        fill_payload: impl FnOnce(&mut [u8]),
    ) -> Result<()> {
        let total = self.buffer_len();
        let len_field =
            u16::try_from(total).map_err(|_| Error::Malformed("udp datagram over 65535 bytes"))?;
        if packet.buffer.as_ref().len() < total {
            return Err(Error::Truncated);
        }
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_length(len_field);
        fill_payload(
            packet
                .buffer
                .as_mut()
                .get_mut(HEADER_LEN..total)
                .unwrap_or(&mut []),
        );
        packet.fill_checksum(ips);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// NTP client request 192.168.1.95:123 -> 17.253.4.253:123 from a real capture
    /// (pcap-parser's `ntp.pcap`, frame 1), UDP header and payload.
    const NTP_SRC: [u8; 4] = [192, 168, 1, 95];
    const NTP_DST: [u8; 4] = [17, 253, 4, 253];
    const NTP: [u8; 56] = [
        0x00, 0x7b, 0x00, 0x7b, 0x00, 0x38, 0x3a, 0x80, 0xe3, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0xdb, 0xac, 0xa3, 0xe8, 0x77, 0xc4, 0x08, 0xac,
    ];

    #[test]
    fn real_capture_checksum_verifies() {
        let p = UdpPacket::new_checked(&NTP[..]).unwrap();
        assert_eq!((p.src_port(), p.dst_port(), p.length()), (123, 123, 56));
        assert!(p.verify_checksum_v4(NTP_SRC, NTP_DST));
        assert!(!p.verify_checksum_v4(NTP_SRC, [17, 253, 4, 254]));
        let mut b = NTP;
        b[20] ^= 1;
        assert!(
            !UdpPacket::new_checked(&b[..])
                .unwrap()
                .verify_checksum_v4(NTP_SRC, NTP_DST)
        );
    }

    #[test]
    fn ip_pair_from_std_addresses() {
        use core::net::{Ipv4Addr, Ipv6Addr};
        let v4 = IpPair::from((Ipv4Addr::from(NTP_SRC), Ipv4Addr::from(NTP_DST)));
        assert_eq!(
            v4,
            IpPair::V4 {
                src: NTP_SRC,
                dst: NTP_DST
            }
        );
        let v6 = IpPair::from((Ipv6Addr::LOCALHOST, Ipv6Addr::UNSPECIFIED));
        let mut one = [0u8; 16];
        one[15] = 1;
        assert_eq!(
            v6,
            IpPair::V6 {
                src: one,
                dst: [0; 16]
            }
        );
        assert!(
            UdpPacket::new_checked(&NTP[..])
                .unwrap()
                .verify_checksum(&v4)
        );
    }

    #[test]
    fn real_capture_round_trips() {
        let p = UdpPacket::new_checked(&NTP[..]).unwrap();
        let repr = UdpRepr::parse(&p).unwrap();
        assert_eq!(
            repr,
            UdpRepr {
                src_port: 123,
                dst_port: 123,
                payload_len: 48
            }
        );
        let mut out = [0xa5u8; 56];
        let ips = IpPair::V4 {
            src: NTP_SRC,
            dst: NTP_DST,
        };
        repr.emit(&mut UdpPacket::new_unchecked(&mut out[..]), &ips, |pl| {
            pl.copy_from_slice(p.payload())
        })
        .unwrap();
        assert_eq!(out, NTP);
    }

    #[test]
    fn zero_checksum_over_v4_verifies_but_not_over_v6() {
        let mut b = NTP;
        b[6] = 0;
        b[7] = 0;
        let p = UdpPacket::new_checked(&b[..]).unwrap();
        assert!(p.verify_checksum_v4(NTP_SRC, NTP_DST));
        assert!(!p.verify_checksum_v6([0; 16], [0; 16]));
    }

    #[test]
    fn computed_zero_is_written_as_ffff() {
        // Choose the payload word so the datagram's sum folds to 0xffff (checksum 0).
        let ips = IpPair::V4 {
            src: [10, 0, 0, 1],
            dst: [10, 0, 0, 2],
        };
        let mut b = [0u8; 10];
        let repr = UdpRepr {
            src_port: 1,
            dst_port: 2,
            payload_len: 2,
        };
        repr.emit(&mut UdpPacket::new_unchecked(&mut b[..]), &ips, |_| {})
            .unwrap();
        let partial = checksum::fold(checksum::sum(ips.pseudo_header(ip_proto::UDP, 10), &{
            let mut z = b;
            z[6] = 0;
            z[7] = 0;
            z
        }));
        let word = 0xffff - partial;
        repr.emit(&mut UdpPacket::new_unchecked(&mut b[..]), &ips, |pl| {
            pl.copy_from_slice(&word.to_be_bytes())
        })
        .unwrap();
        let p = UdpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(p.checksum(), 0xffff);
        assert!(p.verify_checksum(&ips));
    }

    #[test]
    fn matches_etherparse_v6() {
        let src = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let dst = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        let payload = b"hello, world";
        let h = etherparse::UdpHeader::with_ipv6_checksum(
            5353,
            53,
            &etherparse::Ipv6Header {
                source: src,
                destination: dst,
                ..Default::default()
            },
            payload,
        )
        .unwrap();
        let mut want = h.to_bytes().to_vec();
        want.extend_from_slice(payload);
        let mut got = vec![0xffu8; want.len()];
        let repr = UdpRepr {
            src_port: 5353,
            dst_port: 53,
            payload_len: payload.len(),
        };
        repr.emit(
            &mut UdpPacket::new_unchecked(&mut got[..]),
            &IpPair::V6 { src, dst },
            |pl| pl.copy_from_slice(payload),
        )
        .unwrap();
        assert_eq!(got, want);
        assert!(
            UdpPacket::new_checked(&got[..])
                .unwrap()
                .verify_checksum_v6(src, dst)
        );
    }

    #[test]
    fn length_field_rules() {
        let mut b = NTP;
        b[4..6].copy_from_slice(&7u16.to_be_bytes());
        assert_eq!(
            UdpPacket::new_checked(&b[..]).unwrap_err(),
            Error::Malformed("udp length below 8")
        );
        b[4..6].copy_from_slice(&57u16.to_be_bytes());
        assert_eq!(
            UdpPacket::new_checked(&b[..]).unwrap_err(),
            Error::Truncated
        );
        // Zero: the whole buffer is the datagram.
        b[4..6].copy_from_slice(&0u16.to_be_bytes());
        let p = UdpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(p.payload().len(), 48);
        // Shorter than the buffer: trailing padding is excluded.
        let mut padded = NTP.to_vec();
        padded.extend_from_slice(&[0; 6]);
        let p = UdpPacket::new_checked(&padded[..]).unwrap();
        assert_eq!(p.payload().len(), 48);
        assert!(p.verify_checksum_v4(NTP_SRC, NTP_DST));
    }

    #[test]
    fn unchecked_short_buffers_never_panic() {
        for n in 0..HEADER_LEN {
            let mut b = vec![0xffu8; n];
            let mut p = UdpPacket::new_unchecked(&mut b[..]);
            p.set_src_port(1);
            p.set_dst_port(2);
            p.set_length(3);
            p.set_checksum(4);
            p.fill_checksum_v6([0; 16], [0; 16]);
            let _ = p.payload_mut().len();
            let _ = (
                p.src_port(),
                p.dst_port(),
                p.length(),
                p.checksum(),
                p.payload(),
            );
            let _ = (p.datagram_len(), p.verify_checksum_v4([0; 4], [0; 4]));
        }
        let p = UdpPacket::new_unchecked(&[0xffu8; 5][..]);
        assert_eq!((p.dst_port(), p.length()), (0xffff, 0));
    }

    #[test]
    fn truncated_at_every_length() {
        for n in 0..NTP.len() {
            assert_eq!(
                UdpPacket::new_checked(&NTP[..n]).unwrap_err(),
                Error::Truncated,
                "len {n}"
            );
            assert!(UdpRepr::parse(&UdpPacket::new_unchecked(&NTP[..n])).is_err());
        }
    }

    #[test]
    fn emit_into_short_buffer_fails() {
        let repr = UdpRepr {
            src_port: 1,
            dst_port: 2,
            payload_len: 4,
        };
        let ips = IpPair::V4 {
            src: [0; 4],
            dst: [0; 4],
        };
        let mut b = [0u8; 11];
        assert_eq!(
            repr.emit(&mut UdpPacket::new_unchecked(&mut b[..]), &ips, |_| {}),
            Err(Error::Truncated)
        );
        let big = UdpRepr {
            payload_len: 65528,
            ..repr
        };
        assert!(matches!(
            big.emit(&mut UdpPacket::new_unchecked(&mut b[..]), &ips, |_| {}),
            Err(Error::Malformed(_))
        ));
    }

    fn arb_ips() -> impl Strategy<Value = IpPair> {
        prop_oneof![
            any::<([u8; 4], [u8; 4])>().prop_map(|(src, dst)| IpPair::V4 { src, dst }),
            any::<([u8; 16], [u8; 16])>().prop_map(|(src, dst)| IpPair::V6 { src, dst }),
        ]
    }

    proptest! {
        #[test]
        fn repr_round_trips(
            src_port in any::<u16>(),
            dst_port in any::<u16>(),
            payload in proptest::collection::vec(any::<u8>(), 0..64),
            ips in arb_ips(),
            junk in any::<u8>(),
        ) {
            let repr = UdpRepr { src_port, dst_port, payload_len: payload.len() };
            let mut b = vec![junk; repr.buffer_len()];
            let mut p = UdpPacket::new_unchecked(&mut b[..]);
            repr.emit(&mut p, &ips, |pl| pl.copy_from_slice(&payload)).unwrap();
            let p = UdpPacket::new_checked(&b[..]).unwrap();
            prop_assert_eq!(UdpRepr::parse(&p).unwrap(), repr);
            prop_assert_eq!(p.payload(), &payload[..]);
            prop_assert!(p.verify_checksum(&ips));
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(p) = UdpPacket::new_checked(&b[..]) {
                let _ = (p.src_port(), p.dst_port(), p.length(), p.checksum(), p.payload());
                let _ = p.verify_checksum_v4([1; 4], [2; 4]);
                let _ = p.verify_checksum_v6([1; 16], [2; 16]);
                prop_assert!(UdpRepr::parse(&p).is_ok());
            }
            let _ = UdpRepr::parse(&UdpPacket::new_unchecked(&b[..]));
        }
    }
}
