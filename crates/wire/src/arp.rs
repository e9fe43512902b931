//! ARP (RFC 826): a zero-copy [`ArpPacket`] view over any hardware/protocol address sizes, and
//! the typed [`ArpRepr`] for the one combination Rampart acts on, Ethernet and IPv4.
//!
//! The view reads the address lengths from the packet itself; [`ArpPacket::new_checked`] proves
//! the buffer holds the fixed part and all four addresses. Nothing here allocates or panics on
//! any input: reads of bytes an unchecked buffer lacks give zero or an empty slice.
//!
//! ```
//! use std::net::Ipv4Addr;
//! use wire::arp::{ArpOperation, ArpPacket, ArpRepr};
//! use wire::ethernet::EthernetAddress;
//! let who_has = ArpRepr {
//!     operation: ArpOperation::Request,
//!     sender_hardware_addr: EthernetAddress([0x02, 0, 0, 0, 0, 1]),
//!     sender_protocol_addr: Ipv4Addr::new(10, 0, 0, 1),
//!     target_hardware_addr: EthernetAddress::ZERO,
//!     target_protocol_addr: Ipv4Addr::new(10, 0, 0, 2),
//! };
//! let mut buf = [0u8; 28];
//! who_has.emit(&mut ArpPacket::new_unchecked(&mut buf[..])).unwrap();
//! assert_eq!(ArpRepr::parse(&ArpPacket::new_checked(&buf[..]).unwrap()), Ok(who_has));
//! ```

use core::net::Ipv4Addr;

use crate::bytes::{array, put, put_u8, put_u16, slice, slice_mut, u8_at, u16_at};
use crate::ethernet::EthernetAddress;
use crate::{Error, Result, ethertype};

/// Byte layout of an ARP packet (RFC 826, "Packet format"). The four addresses follow the fixed
/// part back to back, sized by HLEN and PLEN.
mod field {
    use core::ops::Range;

    /// Hardware type (1 for Ethernet).
    pub const HTYPE: Range<usize> = 0..2;
    /// Protocol type (an ethertype: 0x0800 for IPv4).
    pub const PTYPE: Range<usize> = 2..4;
    /// Hardware address length.
    pub const HLEN: usize = 4;
    /// Protocol address length.
    pub const PLEN: usize = 5;
    /// Operation (1 request, 2 reply).
    pub const OPER: Range<usize> = 6..8;

    /// Sender hardware address.
    pub const fn sha(hlen: u8, _plen: u8) -> Range<usize> {
        let start = OPER.end;
        start..start + hlen as usize
    }
    /// Sender protocol address.
    pub const fn spa(hlen: u8, plen: u8) -> Range<usize> {
        let start = sha(hlen, plen).end;
        start..start + plen as usize
    }
    /// Target hardware address.
    pub const fn tha(hlen: u8, plen: u8) -> Range<usize> {
        let start = spa(hlen, plen).end;
        start..start + hlen as usize
    }
    /// Target protocol address.
    pub const fn tpa(hlen: u8, plen: u8) -> Range<usize> {
        let start = tha(hlen, plen).end;
        start..start + plen as usize
    }
}

/// Length of the fixed part, before the addresses.
pub const FIXED_LEN: usize = field::OPER.end;

/// Hardware type for Ethernet.
pub const HTYPE_ETHERNET: u16 = 1;

/// Length of an Ethernet/IPv4 ARP packet.
pub const ETHERNET_IPV4_LEN: usize = FIXED_LEN + 2 * (6 + 4);

/// An ARP operation code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArpOperation {
    /// 1: who has this protocol address?
    Request,
    /// 2: this hardware address has it.
    Reply,
    /// Any other code (RARP 3/4, InARP 8/9, ...), kept as is.
    Other(u16),
}

impl From<u16> for ArpOperation {
    fn from(v: u16) -> Self {
        match v {
            1 => ArpOperation::Request,
            2 => ArpOperation::Reply,
            v => ArpOperation::Other(v),
        }
    }
}

impl From<ArpOperation> for u16 {
    fn from(op: ArpOperation) -> u16 {
        match op {
            ArpOperation::Request => 1,
            ArpOperation::Reply => 2,
            ArpOperation::Other(v) => v,
        }
    }
}

/// A zero-copy view of an ARP packet of any address sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Wraps `buffer` without checking it; use for buffers you sized yourself (emission).
    pub const fn new_unchecked(buffer: T) -> ArpPacket<T> {
        ArpPacket { buffer }
    }

    /// Wraps `buffer` after checking it holds the fixed part and the four addresses.
    pub fn new_checked(buffer: T) -> Result<ArpPacket<T>> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// `Err(Truncated)` when the buffer is shorter than [`packet_len`](Self::packet_len).
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < FIXED_LEN || len < self.packet_len() {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The length the header fields say the packet has: 8 + 2 × (HLEN + PLEN). Bytes after it
    /// (Ethernet padding) are not part of ARP.
    #[inline]
    pub fn packet_len(&self) -> usize {
        field::tpa(self.hardware_len(), self.protocol_len()).end
    }

    /// The hardware type (1: Ethernet).
    #[inline]
    pub fn hardware_type(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::HTYPE.start)
    }

    /// The protocol type, an ethertype (0x0800: IPv4).
    #[inline]
    pub fn protocol_type(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::PTYPE.start)
    }

    /// The hardware address length in bytes.
    #[inline]
    pub fn hardware_len(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::HLEN)
    }

    /// The protocol address length in bytes.
    #[inline]
    pub fn protocol_len(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::PLEN)
    }

    /// The operation code.
    #[inline]
    pub fn operation(&self) -> ArpOperation {
        ArpOperation::from(u16_at(self.buffer.as_ref(), field::OPER.start))
    }

    /// The sender hardware address, HLEN bytes.
    #[inline]
    pub fn sender_hardware_addr(&self) -> &[u8] {
        slice(
            self.buffer.as_ref(),
            field::sha(self.hardware_len(), self.protocol_len()),
        )
    }

    /// The sender protocol address, PLEN bytes.
    #[inline]
    pub fn sender_protocol_addr(&self) -> &[u8] {
        slice(
            self.buffer.as_ref(),
            field::spa(self.hardware_len(), self.protocol_len()),
        )
    }

    /// The target hardware address, HLEN bytes.
    #[inline]
    pub fn target_hardware_addr(&self) -> &[u8] {
        slice(
            self.buffer.as_ref(),
            field::tha(self.hardware_len(), self.protocol_len()),
        )
    }

    /// The target protocol address, PLEN bytes.
    #[inline]
    pub fn target_protocol_addr(&self) -> &[u8] {
        slice(
            self.buffer.as_ref(),
            field::tpa(self.hardware_len(), self.protocol_len()),
        )
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    /// Sets the hardware type.
    #[inline]
    pub fn set_hardware_type(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::HTYPE.start, v);
    }

    /// Sets the protocol type.
    #[inline]
    pub fn set_protocol_type(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::PTYPE.start, v);
    }

    /// Sets the hardware address length (this moves where the addresses are).
    #[inline]
    pub fn set_hardware_len(&mut self, v: u8) {
        put_u8(self.buffer.as_mut(), field::HLEN, v);
    }

    /// Sets the protocol address length (this moves where the addresses are).
    #[inline]
    pub fn set_protocol_len(&mut self, v: u8) {
        put_u8(self.buffer.as_mut(), field::PLEN, v);
    }

    /// Sets the operation code.
    #[inline]
    pub fn set_operation(&mut self, op: ArpOperation) {
        put_u16(self.buffer.as_mut(), field::OPER.start, op.into());
    }

    /// Copies `addr` into the address field at `r`: `Malformed` when its length is not the one
    /// the header declares, `Truncated` when the buffer does not reach the field.
    fn set_addr(&mut self, r: core::ops::Range<usize>, addr: &[u8]) -> Result<()> {
        if addr.len() != r.len() {
            return Err(Error::Malformed(
                "arp address length differs from the header's",
            ));
        }
        let buf = self.buffer.as_mut();
        if buf.len() < r.end {
            return Err(Error::Truncated);
        }
        put(buf, r.start, addr);
        Ok(())
    }

    /// Sets the sender hardware address; `addr` must be HLEN bytes.
    pub fn set_sender_hardware_addr(&mut self, addr: &[u8]) -> Result<()> {
        let r = field::sha(self.hardware_len(), self.protocol_len());
        self.set_addr(r, addr)
    }

    /// Sets the sender protocol address; `addr` must be PLEN bytes.
    pub fn set_sender_protocol_addr(&mut self, addr: &[u8]) -> Result<()> {
        let r = field::spa(self.hardware_len(), self.protocol_len());
        self.set_addr(r, addr)
    }

    /// Sets the target hardware address; `addr` must be HLEN bytes.
    pub fn set_target_hardware_addr(&mut self, addr: &[u8]) -> Result<()> {
        let r = field::tha(self.hardware_len(), self.protocol_len());
        self.set_addr(r, addr)
    }

    /// Sets the target protocol address; `addr` must be PLEN bytes.
    pub fn set_target_protocol_addr(&mut self, addr: &[u8]) -> Result<()> {
        let r = field::tpa(self.hardware_len(), self.protocol_len());
        self.set_addr(r, addr)
    }

    /// The whole packet as the header fields size it, mutably.
    pub fn packet_mut(&mut self) -> &mut [u8] {
        let end = self.packet_len();
        slice_mut(self.buffer.as_mut(), 0..end)
    }
}

/// An Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArpRepr {
    /// Request, reply or another code.
    pub operation: ArpOperation,
    /// The sender's MAC.
    pub sender_hardware_addr: EthernetAddress,
    /// The sender's IPv4 address.
    pub sender_protocol_addr: Ipv4Addr,
    /// The target's MAC (zero in a request).
    pub target_hardware_addr: EthernetAddress,
    /// The IPv4 address asked about or answered for.
    pub target_protocol_addr: Ipv4Addr,
}

impl ArpRepr {
    /// Reads an Ethernet/IPv4 ARP packet. `Malformed` when the hardware type is not Ethernet,
    /// the protocol type not IPv4, the address lengths not 6 and 4, or the operation 0
    /// (reserved).
    pub fn parse<T: AsRef<[u8]>>(packet: &ArpPacket<T>) -> Result<ArpRepr> {
        packet.check_len()?;
        if packet.hardware_type() != HTYPE_ETHERNET {
            return Err(Error::Malformed("arp hardware type is not ethernet"));
        }
        if packet.protocol_type() != ethertype::IPV4 {
            return Err(Error::Malformed("arp protocol type is not ipv4"));
        }
        if packet.hardware_len() != 6 || packet.protocol_len() != 4 {
            return Err(Error::Malformed(
                "arp address lengths are not 6 and 4 for ethernet/ipv4",
            ));
        }
        let operation = packet.operation();
        if operation == ArpOperation::Other(0) {
            return Err(Error::Malformed("arp operation 0 is reserved"));
        }
        let b = packet.buffer.as_ref();
        let ip = |r: core::ops::Range<usize>| Ipv4Addr::from(array::<4>(b, r.start));
        let mac = |r: core::ops::Range<usize>| EthernetAddress(array(b, r.start));
        Ok(ArpRepr {
            operation,
            sender_hardware_addr: mac(field::sha(6, 4)),
            sender_protocol_addr: ip(field::spa(6, 4)),
            target_hardware_addr: mac(field::tha(6, 4)),
            target_protocol_addr: ip(field::tpa(6, 4)),
        })
    }

    /// The packet length, 28.
    pub const fn buffer_len(&self) -> usize {
        ETHERNET_IPV4_LEN
    }

    /// The packet length, 28 (ARP has no payload).
    pub const fn header_len(&self) -> usize {
        ETHERNET_IPV4_LEN
    }

    /// Writes every field. `Malformed` for operation 0, `Truncated` when the buffer is shorter
    /// than 28 bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut ArpPacket<T>) -> Result<()> {
        if self.operation == ArpOperation::Other(0) {
            return Err(Error::Malformed("arp operation 0 is reserved"));
        }
        if packet.buffer.as_ref().len() < ETHERNET_IPV4_LEN {
            return Err(Error::Truncated);
        }
        packet.set_hardware_type(HTYPE_ETHERNET);
        packet.set_protocol_type(ethertype::IPV4);
        packet.set_hardware_len(6);
        packet.set_protocol_len(4);
        packet.set_operation(self.operation);
        packet.set_sender_hardware_addr(&self.sender_hardware_addr.0)?;
        packet.set_sender_protocol_addr(&self.sender_protocol_addr.octets())?;
        packet.set_target_hardware_addr(&self.target_hardware_addr.0)?;
        packet.set_target_protocol_addr(&self.target_protocol_addr.octets())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // "Who has 192.168.1.1? Tell 192.168.1.23" followed by Ethernet padding.
    const REQUEST: [u8; 32] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0xc0,
        0xa8, 0x01, 0x17, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xa8, 0x01, 0x01, 0, 0, 0, 0,
    ];

    #[test]
    fn parse_then_emit_round_trips() {
        let p = ArpPacket::new_checked(&REQUEST[..]).unwrap();
        assert_eq!(p.packet_len(), 28);
        let r = ArpRepr::parse(&p).unwrap();
        assert_eq!(r.operation, ArpOperation::Request);
        assert_eq!(
            r.sender_hardware_addr,
            EthernetAddress([0x52, 0x54, 0, 0x12, 0x34, 0x56])
        );
        assert_eq!(r.sender_protocol_addr, Ipv4Addr::new(192, 168, 1, 23));
        assert_eq!(r.target_hardware_addr, EthernetAddress::ZERO);
        assert_eq!(r.target_protocol_addr, Ipv4Addr::new(192, 168, 1, 1));
        let mut out = [0xeeu8; 28];
        r.emit(&mut ArpPacket::new_unchecked(&mut out[..])).unwrap();
        assert_eq!(out[..], REQUEST[..28]);
    }

    #[test]
    fn truncated_at_every_length() {
        let r = ArpRepr::parse(&ArpPacket::new_checked(&REQUEST[..]).unwrap()).unwrap();
        for n in 0..ETHERNET_IPV4_LEN {
            assert_eq!(ArpPacket::new_checked(&REQUEST[..n]), Err(Error::Truncated));
            assert_eq!(
                ArpRepr::parse(&ArpPacket::new_unchecked(&REQUEST[..n])),
                Err(Error::Truncated)
            );
            let mut b = [0u8; ETHERNET_IPV4_LEN];
            assert_eq!(
                r.emit(&mut ArpPacket::new_unchecked(&mut b[..n])),
                Err(Error::Truncated)
            );
        }
        // Larger address lengths demand more bytes.
        let mut big = REQUEST;
        big[4] = 9;
        assert_eq!(ArpPacket::new_checked(&big[..]), Err(Error::Truncated));
    }

    #[test]
    fn malformed_fields() {
        let cases: [(usize, u8, &str); 5] = [
            (1, 6, "arp hardware type is not ethernet"),
            (2, 0x86, "arp protocol type is not ipv4"),
            (
                4,
                5,
                "arp address lengths are not 6 and 4 for ethernet/ipv4",
            ),
            (
                5,
                2,
                "arp address lengths are not 6 and 4 for ethernet/ipv4",
            ),
            (7, 0, "arp operation 0 is reserved"),
        ];
        for (at, v, what) in cases {
            let mut b = REQUEST;
            b[at] = v;
            let p = ArpPacket::new_checked(&b[..]).unwrap();
            assert_eq!(ArpRepr::parse(&p), Err(Error::Malformed(what)), "byte {at}");
        }
        let mut r = ArpRepr::parse(&ArpPacket::new_checked(&REQUEST[..]).unwrap()).unwrap();
        r.operation = ArpOperation::Other(0);
        let mut b = [0u8; 28];
        assert_eq!(
            r.emit(&mut ArpPacket::new_unchecked(&mut b[..])),
            Err(Error::Malformed("arp operation 0 is reserved"))
        );
    }

    #[test]
    fn view_handles_other_address_sizes() {
        // A made-up 2-byte hardware / 16-byte protocol layout: the view follows the lengths.
        let mut b = [0u8; 8 + 2 * (2 + 16)];
        let mut p = ArpPacket::new_unchecked(&mut b[..]);
        p.set_hardware_len(2);
        p.set_protocol_len(16);
        p.set_operation(ArpOperation::Other(9));
        p.set_sender_hardware_addr(&[0xab, 0xcd]).unwrap();
        p.set_target_protocol_addr(&[0x20; 16]).unwrap();
        assert_eq!(
            p.set_sender_protocol_addr(&[1, 2, 3, 4]),
            Err(Error::Malformed(
                "arp address length differs from the header's"
            ))
        );
        p.set_protocol_len(17);
        assert_eq!(
            p.set_target_protocol_addr(&[0x20; 17]),
            Err(Error::Truncated)
        );
        p.set_protocol_len(16);
        let p = ArpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(p.operation(), ArpOperation::Other(9));
        assert_eq!(p.sender_hardware_addr(), &[0xab, 0xcd]);
        assert_eq!(&b[8..10], &[0xab, 0xcd]);
        assert_eq!(&b[28..44], &[0x20; 16]);
    }

    #[test]
    fn agrees_with_etherparse() {
        let e = etherparse::ArpPacketSlice::from_slice(&REQUEST).unwrap();
        let p = ArpPacket::new_checked(&REQUEST[..]).unwrap();
        assert_eq!(p.hardware_type(), e.hw_addr_type().0);
        assert_eq!(p.protocol_type(), e.proto_addr_type().0);
        assert_eq!(u16::from(p.operation()), e.operation().0);
        assert_eq!(p.sender_hardware_addr(), e.sender_hw_addr());
        assert_eq!(p.sender_protocol_addr(), e.sender_protocol_addr());
        assert_eq!(p.target_hardware_addr(), e.target_hw_addr());
        assert_eq!(p.target_protocol_addr(), e.target_protocol_addr());
    }

    fn any_repr() -> impl Strategy<Value = ArpRepr> {
        (
            1u16..,
            any::<[u8; 6]>(),
            any::<[u8; 4]>(),
            any::<[u8; 6]>(),
            any::<[u8; 4]>(),
        )
            .prop_map(|(op, sha, spa, tha, tpa)| ArpRepr {
                operation: op.into(),
                sender_hardware_addr: EthernetAddress(sha),
                sender_protocol_addr: spa.into(),
                target_hardware_addr: EthernetAddress(tha),
                target_protocol_addr: tpa.into(),
            })
    }

    proptest! {
        #[test]
        fn repr_emit_parse_round_trips(r in any_repr(), junk in any::<u8>()) {
            let mut buf = [junk; ETHERNET_IPV4_LEN];
            r.emit(&mut ArpPacket::new_unchecked(&mut buf[..])).unwrap();
            prop_assert_eq!(ArpRepr::parse(&ArpPacket::new_checked(&buf[..]).unwrap()), Ok(r));
        }

        #[test]
        fn arbitrary_bytes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..80), ethernet_ipv4 in any::<bool>()) {
            if ethernet_ipv4 && bytes.len() >= 6 {
                bytes[..6].copy_from_slice(&[0, 1, 8, 0, 6, 4]);
            }
            let p = ArpPacket::new_unchecked(&bytes[..]);
            let _ = (p.hardware_type(), p.protocol_type(), p.operation(), p.packet_len());
            let _ = (p.sender_hardware_addr(), p.sender_protocol_addr(), p.target_hardware_addr(), p.target_protocol_addr());
            match ArpPacket::new_checked(&bytes[..]) {
                Ok(p) => {
                    prop_assert_eq!(p.target_protocol_addr().len(), usize::from(p.protocol_len()));
                    if let Ok(r) = ArpRepr::parse(&p) {
                        prop_assert_eq!(&r.target_protocol_addr.octets()[..], p.target_protocol_addr());
                    }
                }
                Err(e) => prop_assert_eq!(e, Error::Truncated),
            }
        }
    }
}
