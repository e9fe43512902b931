//! ICMP for IPv4 (RFC 792, RFC 1191): a zero-copy view of a message with its checksum (over
//! the message alone, no pseudo-header), and a typed [`Icmpv4Repr`] for echo, destination
//! unreachable and time exceeded, with every other message kept as type, code and the raw
//! rest-of-header word.
//!
//! Nothing here allocates or panics on any input. [`Icmpv4Packet::new_checked`] validates the
//! length once, after which every field is in the buffer; on an unchecked view over a short
//! buffer, reads of missing bytes give zero and writes are dropped. Parsing never rejects a bad
//! checksum (callers verify it separately); emission writes every header field and the
//! checksum and never trusts a reused buffer.
//!
//! ```
//! use wire::icmpv4::{Icmpv4Packet, Icmpv4Repr};
//! let ping = Icmpv4Repr::EchoRequest { ident: 7, seq_no: 1, data_len: 4 };
//! let mut buf = vec![0u8; ping.buffer_len()];
//! ping.emit(&mut Icmpv4Packet::new_unchecked(&mut buf[..]), |d| d.copy_from_slice(b"abcd"))
//!     .unwrap();
//! let packet = Icmpv4Packet::new_checked(&buf[..]).unwrap();
//! assert!(packet.verify_checksum());
//! assert_eq!(Icmpv4Repr::parse(&packet), Ok(ping));
//! assert_eq!(&buf[ping.data_range()], b"abcd");
//! ```

use core::ops::Range;

use crate::bytes::{put_range as put, put_u8, u8_at, u16_at, u32_at};
use crate::{Error, Result, checksum};

mod field {
    use core::ops::Range;

    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    /// The 4-byte rest-of-header, whose meaning depends on the type.
    pub const REST: Range<usize> = 4..8;
    /// Echo: identifier and sequence number.
    pub const ECHO_IDENT: Range<usize> = 4..6;
    pub const ECHO_SEQNO: Range<usize> = 6..8;
    /// Destination unreachable, fragmentation needed (RFC 1191): next-hop MTU.
    pub const NEXT_HOP_MTU: Range<usize> = 6..8;
    /// Parameter problem: pointer to the offending octet.
    pub const POINTER: usize = 4;
    /// Redirect: the gateway address.
    pub const GATEWAY: Range<usize> = 4..8;
    pub const DATA: usize = 8;
}

/// Length of the ICMPv4 header (type, code, checksum, rest-of-header).
pub const HEADER_LEN: usize = field::DATA;

/// ICMPv4 message types.
pub mod msg_type {
    /// Echo reply.
    pub const ECHO_REPLY: u8 = 0;
    /// Destination unreachable.
    pub const DST_UNREACHABLE: u8 = 3;
    /// Redirect.
    pub const REDIRECT: u8 = 5;
    /// Echo request.
    pub const ECHO_REQUEST: u8 = 8;
    /// Router advertisement (RFC 1256).
    pub const ROUTER_ADVERT: u8 = 9;
    /// Router solicitation (RFC 1256).
    pub const ROUTER_SOLICIT: u8 = 10;
    /// Time exceeded.
    pub const TIME_EXCEEDED: u8 = 11;
    /// Parameter problem.
    pub const PARAM_PROBLEM: u8 = 12;
    /// Timestamp request.
    pub const TIMESTAMP: u8 = 13;
    /// Timestamp reply.
    pub const TIMESTAMP_REPLY: u8 = 14;
}

/// Destination unreachable codes.
pub mod unreachable_code {
    /// Network unreachable.
    pub const NET: u8 = 0;
    /// Host unreachable.
    pub const HOST: u8 = 1;
    /// Protocol unreachable.
    pub const PROTOCOL: u8 = 2;
    /// Port unreachable.
    pub const PORT: u8 = 3;
    /// Fragmentation needed and DF set (carries the next-hop MTU, RFC 1191).
    pub const FRAG_NEEDED: u8 = 4;
    /// Communication administratively prohibited (RFC 1812).
    pub const ADMIN_PROHIBITED: u8 = 13;
}

/// A zero-copy view of an ICMPv4 message.
///
/// The view should span exactly the IP payload: the checksum covers the whole buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Icmpv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv4Packet<T> {
    /// Wraps a buffer without checking it: on a buffer too short for a field, reading it
    /// gives zero and writing it is dropped. Use it on buffers you sized yourself (for
    /// emission); untrusted bytes go through [`new_checked`](Self::new_checked).
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        Icmpv4Packet { buffer }
    }

    /// Wraps a buffer after [`check_len`](Self::check_len): every field is then in the buffer.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
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

    /// The message type (see [`msg_type`]).
    #[inline]
    pub fn msg_type(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::TYPE)
    }

    /// The message code.
    #[inline]
    pub fn msg_code(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::CODE)
    }

    /// The checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// The 4-byte rest-of-header as one word.
    #[inline]
    pub fn rest_of_header(&self) -> u32 {
        u32_at(self.buffer.as_ref(), field::REST.start)
    }

    /// Echo identifier (meaningful for echo request and reply).
    #[inline]
    pub fn echo_ident(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::ECHO_IDENT.start)
    }

    /// Echo sequence number (meaningful for echo request and reply).
    #[inline]
    pub fn echo_seq_no(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::ECHO_SEQNO.start)
    }

    /// Next-hop MTU (meaningful for destination unreachable, fragmentation needed).
    #[inline]
    pub fn next_hop_mtu(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::NEXT_HOP_MTU.start)
    }

    /// Pointer to the offending octet (meaningful for parameter problem).
    #[inline]
    pub fn pointer(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::POINTER)
    }

    /// Gateway address (meaningful for redirect).
    #[inline]
    pub fn gateway(&self) -> [u8; 4] {
        self.rest_of_header().to_be_bytes()
    }

    /// The bytes after the header: echo data, or for error messages the quoted IP header
    /// and leading bytes of the datagram that caused the error.
    #[inline]
    pub fn data(&self) -> &[u8] {
        self.buffer.as_ref().get(field::DATA..).unwrap_or(&[])
    }

    /// Verifies the checksum over the whole message.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum::checksum(self.buffer.as_ref()) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv4Packet<T> {
    /// Sets the message type.
    #[inline]
    pub fn set_msg_type(&mut self, value: u8) {
        put_u8(self.buffer.as_mut(), field::TYPE, value);
    }

    /// Sets the message code.
    #[inline]
    pub fn set_msg_code(&mut self, value: u8) {
        put_u8(self.buffer.as_mut(), field::CODE, value);
    }

    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, value: u16) {
        put(self.buffer.as_mut(), field::CHECKSUM, &value.to_be_bytes());
    }

    /// Sets the rest-of-header word.
    #[inline]
    pub fn set_rest_of_header(&mut self, value: u32) {
        put(self.buffer.as_mut(), field::REST, &value.to_be_bytes());
    }

    /// Sets the echo identifier.
    #[inline]
    pub fn set_echo_ident(&mut self, value: u16) {
        put(
            self.buffer.as_mut(),
            field::ECHO_IDENT,
            &value.to_be_bytes(),
        );
    }

    /// Sets the echo sequence number.
    #[inline]
    pub fn set_echo_seq_no(&mut self, value: u16) {
        put(
            self.buffer.as_mut(),
            field::ECHO_SEQNO,
            &value.to_be_bytes(),
        );
    }

    /// Sets the next-hop MTU.
    #[inline]
    pub fn set_next_hop_mtu(&mut self, value: u16) {
        put(
            self.buffer.as_mut(),
            field::NEXT_HOP_MTU,
            &value.to_be_bytes(),
        );
    }

    /// Sets the parameter-problem pointer.
    #[inline]
    pub fn set_pointer(&mut self, value: u8) {
        put_u8(self.buffer.as_mut(), field::POINTER, value);
    }

    /// Sets the redirect gateway address.
    #[inline]
    pub fn set_gateway(&mut self, value: [u8; 4]) {
        put(self.buffer.as_mut(), field::GATEWAY, &value);
    }

    /// The bytes after the header, mutable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        self.buffer
            .as_mut()
            .get_mut(field::DATA..)
            .unwrap_or(&mut [])
    }

    /// Computes and writes the checksum over the whole message.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = checksum::checksum(self.buffer.as_ref());
        self.set_checksum(sum);
    }
}

/// A parsed ICMPv4 message. The data after the header is not copied: each variant carries
/// its length, and it sits at [`Icmpv4Repr::data_range`] in the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Icmpv4Repr {
    /// Echo request (type 8, code 0).
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Bytes of echo data.
        data_len: usize,
    },
    /// Echo reply (type 0, code 0).
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Bytes of echo data.
        data_len: usize,
    },
    /// Destination unreachable (type 3).
    DstUnreachable {
        /// Reason (see [`unreachable_code`]).
        code: u8,
        /// Next-hop MTU (RFC 1191; zero unless code is fragmentation needed).
        next_hop_mtu: u16,
        /// Bytes of the quoted original datagram (its IP header and leading bytes).
        quoted_len: usize,
    },
    /// Time exceeded (type 11; code 0 TTL, 1 fragment reassembly).
    TimeExceeded {
        /// Reason.
        code: u8,
        /// Bytes of the quoted original datagram.
        quoted_len: usize,
    },
    /// Any other message, or echo with a non-zero code: kept as sent.
    Other {
        /// Message type.
        msg_type: u8,
        /// Message code.
        code: u8,
        /// The rest-of-header word.
        rest: u32,
        /// Bytes after the header.
        data_len: usize,
    },
}

impl Icmpv4Repr {
    /// Reads an ICMPv4 header. Checks the length; does not verify the checksum. Unused
    /// rest-of-header bytes of destination unreachable and time exceeded are ignored.
    pub fn parse<T: AsRef<[u8]>>(packet: &Icmpv4Packet<T>) -> Result<Icmpv4Repr> {
        packet.check_len()?;
        let data_len = packet.data().len();
        Ok(match (packet.msg_type(), packet.msg_code()) {
            (msg_type::ECHO_REQUEST, 0) => Icmpv4Repr::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data_len,
            },
            (msg_type::ECHO_REPLY, 0) => Icmpv4Repr::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data_len,
            },
            (msg_type::DST_UNREACHABLE, code) => Icmpv4Repr::DstUnreachable {
                code,
                next_hop_mtu: packet.next_hop_mtu(),
                quoted_len: data_len,
            },
            (msg_type::TIME_EXCEEDED, code) => Icmpv4Repr::TimeExceeded {
                code,
                quoted_len: data_len,
            },
            (msg_type, code) => Icmpv4Repr::Other {
                msg_type,
                code,
                rest: packet.rest_of_header(),
                data_len,
            },
        })
    }

    /// Bytes after the header.
    pub const fn data_len(&self) -> usize {
        match *self {
            Icmpv4Repr::EchoRequest { data_len, .. }
            | Icmpv4Repr::EchoReply { data_len, .. }
            | Icmpv4Repr::Other { data_len, .. } => data_len,
            Icmpv4Repr::DstUnreachable { quoted_len, .. }
            | Icmpv4Repr::TimeExceeded { quoted_len, .. } => quoted_len,
        }
    }

    /// Where the data (echo data, or the quoted datagram) sits in the message.
    pub const fn data_range(&self) -> Range<usize> {
        HEADER_LEN..HEADER_LEN + self.data_len()
    }

    /// Length of the header [`emit`](Self::emit) writes.
    #[inline]
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Length of the whole message [`emit`](Self::emit) writes.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.data_len()
    }

    /// Writes the header into the first [`buffer_len`](Self::buffer_len) bytes of `packet`,
    /// lets `fill_data` write the data (bytes it leaves alone are sent as they are), then
    /// fills the checksum over those bytes (so the view should be exactly that long).
    ///
    /// Fails with [`Error::Truncated`] if the buffer is too short.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Icmpv4Packet<T>,
        fill_data: impl FnOnce(&mut [u8]),
    ) -> Result<()> {
        let buf = packet
            .buffer
            .as_mut()
            .get_mut(..self.buffer_len())
            .ok_or(Error::Truncated)?;
        let mut msg = Icmpv4Packet::new_unchecked(buf);
        let (ty, code, rest) = match *self {
            Icmpv4Repr::EchoRequest { ident, seq_no, .. } => {
                (msg_type::ECHO_REQUEST, 0, echo_rest(ident, seq_no))
            }
            Icmpv4Repr::EchoReply { ident, seq_no, .. } => {
                (msg_type::ECHO_REPLY, 0, echo_rest(ident, seq_no))
            }
            Icmpv4Repr::DstUnreachable {
                code, next_hop_mtu, ..
            } => (msg_type::DST_UNREACHABLE, code, u32::from(next_hop_mtu)),
            Icmpv4Repr::TimeExceeded { code, .. } => (msg_type::TIME_EXCEEDED, code, 0),
            Icmpv4Repr::Other {
                msg_type,
                code,
                rest,
                ..
            } => (msg_type, code, rest),
        };
        msg.set_msg_type(ty);
        msg.set_msg_code(code);
        msg.set_rest_of_header(rest);
        fill_data(msg.data_mut());
        msg.fill_checksum();
        Ok(())
    }
}

#[inline]
fn echo_rest(ident: u16, seq_no: u16) -> u32 {
    (u32::from(ident) << 16) | u32::from(seq_no)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Echo request 10.154.0.3 -> 8.8.8.8, id 0x0fd7 seq 1, 56 bytes of Linux ping data,
    /// from a real capture (pcap-parser's `modified-format.pcap`, frame 1).
    const PING: [u8; 64] = [
        0x08, 0x00, 0x32, 0x06, 0x0f, 0xd7, 0x00, 0x01, 0x95, 0xb2, 0x16, 0x66, 0x00, 0x00, 0x00,
        0x00, 0x40, 0x36, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
        0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24,
        0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33,
        0x34, 0x35, 0x36, 0x37,
    ];

    #[test]
    fn real_ping_verifies_and_round_trips() {
        let p = Icmpv4Packet::new_checked(&PING[..]).unwrap();
        assert!(p.verify_checksum());
        let repr = Icmpv4Repr::parse(&p).unwrap();
        assert_eq!(
            repr,
            Icmpv4Repr::EchoRequest {
                ident: 0x0fd7,
                seq_no: 1,
                data_len: 56
            }
        );
        assert_eq!(&PING[repr.data_range()], p.data());
        let mut out = [0xeeu8; 64];
        repr.emit(&mut Icmpv4Packet::new_unchecked(&mut out[..]), |d| {
            d.copy_from_slice(p.data())
        })
        .unwrap();
        assert_eq!(out, PING);
        out[30] ^= 0x80;
        assert!(
            !Icmpv4Packet::new_checked(&out[..])
                .unwrap()
                .verify_checksum()
        );
    }

    #[test]
    fn unreachable_matches_etherparse() {
        use etherparse::icmpv4::DestUnreachableHeader;
        // A port unreachable quoting 28 bytes of a UDP datagram, and a fragmentation-needed.
        let quoted: Vec<u8> = (0u8..28).collect();
        for (ep, repr) in [
            (
                DestUnreachableHeader::Port,
                Icmpv4Repr::DstUnreachable {
                    code: 3,
                    next_hop_mtu: 0,
                    quoted_len: 28,
                },
            ),
            (
                DestUnreachableHeader::FragmentationNeeded { next_hop_mtu: 1400 },
                Icmpv4Repr::DstUnreachable {
                    code: 4,
                    next_hop_mtu: 1400,
                    quoted_len: 28,
                },
            ),
        ] {
            let h = etherparse::Icmpv4Header::with_checksum(
                etherparse::Icmpv4Type::DestinationUnreachable(ep),
                &quoted,
            );
            let mut want = h.to_bytes().to_vec();
            want.extend_from_slice(&quoted);
            let mut got = vec![0x77u8; repr.buffer_len()];
            repr.emit(&mut Icmpv4Packet::new_unchecked(&mut got[..]), |d| {
                d.copy_from_slice(&quoted)
            })
            .unwrap();
            assert_eq!(got, want);
            assert_eq!(
                Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&got[..]).unwrap()),
                Ok(repr)
            );
        }
    }

    #[test]
    fn echo_with_nonzero_code_is_other() {
        let mut b = PING;
        b[1] = 9;
        let repr = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(&b[..]).unwrap()).unwrap();
        assert_eq!(
            repr,
            Icmpv4Repr::Other {
                msg_type: 8,
                code: 9,
                rest: 0x0fd7_0001,
                data_len: 56
            }
        );
    }

    #[test]
    fn field_accessors() {
        let mut b = [0u8; 8];
        let mut p = Icmpv4Packet::new_unchecked(&mut b[..]);
        p.set_msg_type(msg_type::REDIRECT);
        p.set_gateway([192, 0, 2, 1]);
        assert_eq!(p.gateway(), [192, 0, 2, 1]);
        assert_eq!(p.rest_of_header(), 0xc000_0201);
        p.set_pointer(20);
        assert_eq!(p.pointer(), 20);
        p.set_next_hop_mtu(1280);
        assert_eq!(p.next_hop_mtu(), 1280);
        p.set_echo_ident(7);
        p.set_echo_seq_no(9);
        assert_eq!((p.echo_ident(), p.echo_seq_no()), (7, 9));
        assert!(p.data().is_empty());
    }

    #[test]
    fn unchecked_short_buffers_never_panic() {
        for n in 0..HEADER_LEN {
            let mut b = vec![0xffu8; n];
            let mut p = Icmpv4Packet::new_unchecked(&mut b[..]);
            p.set_msg_type(1);
            p.set_msg_code(2);
            p.set_checksum(3);
            p.set_rest_of_header(4);
            p.set_echo_ident(5);
            p.set_echo_seq_no(6);
            p.set_next_hop_mtu(7);
            p.set_pointer(8);
            p.set_gateway([9; 4]);
            p.fill_checksum();
            let _ = p.data_mut().len();
            let _ = (
                p.msg_type(),
                p.msg_code(),
                p.checksum(),
                p.rest_of_header(),
                p.gateway(),
            );
            let _ = (
                p.echo_ident(),
                p.echo_seq_no(),
                p.next_hop_mtu(),
                p.pointer(),
                p.data(),
            );
            let _ = p.verify_checksum();
        }
    }

    #[test]
    fn truncated_at_every_length() {
        for n in 0..HEADER_LEN {
            assert_eq!(
                Icmpv4Packet::new_checked(&PING[..n]).unwrap_err(),
                Error::Truncated
            );
            assert_eq!(
                Icmpv4Repr::parse(&Icmpv4Packet::new_unchecked(&PING[..n])),
                Err(Error::Truncated)
            );
        }
        for n in HEADER_LEN..=PING.len() {
            let p = Icmpv4Packet::new_checked(&PING[..n]).unwrap();
            assert_eq!(Icmpv4Repr::parse(&p).unwrap().data_len(), n - HEADER_LEN);
        }
        let repr = Icmpv4Repr::TimeExceeded {
            code: 0,
            quoted_len: 4,
        };
        let mut b = [0u8; 11];
        assert_eq!(
            repr.emit(&mut Icmpv4Packet::new_unchecked(&mut b[..]), |_| {}),
            Err(Error::Truncated)
        );
    }

    fn arb_repr() -> impl Strategy<Value = Icmpv4Repr> {
        prop_oneof![
            (any::<u16>(), any::<u16>(), 0usize..64).prop_map(|(ident, seq_no, data_len)| {
                Icmpv4Repr::EchoRequest {
                    ident,
                    seq_no,
                    data_len,
                }
            }),
            (any::<u16>(), any::<u16>(), 0usize..64).prop_map(|(ident, seq_no, data_len)| {
                Icmpv4Repr::EchoReply {
                    ident,
                    seq_no,
                    data_len,
                }
            }),
            (any::<u8>(), any::<u16>(), 0usize..64).prop_map(|(code, next_hop_mtu, quoted_len)| {
                Icmpv4Repr::DstUnreachable {
                    code,
                    next_hop_mtu,
                    quoted_len,
                }
            }),
            (any::<u8>(), 0usize..64)
                .prop_map(|(code, quoted_len)| Icmpv4Repr::TimeExceeded { code, quoted_len }),
            (any::<u8>(), any::<u8>(), any::<u32>(), 0usize..64)
                .prop_filter("not a type with its own variant", |(t, c, _, _)| {
                    !matches!((*t, *c), (0 | 8, 0) | (3 | 11, _))
                })
                .prop_map(|(msg_type, code, rest, data_len)| Icmpv4Repr::Other {
                    msg_type,
                    code,
                    rest,
                    data_len
                }),
        ]
    }

    proptest! {
        #[test]
        fn repr_round_trips(repr in arb_repr(), junk in any::<u8>()) {
            let mut b = vec![junk; repr.buffer_len()];
            repr.emit(&mut Icmpv4Packet::new_unchecked(&mut b[..]), |d| d.fill(0x33)).unwrap();
            let p = Icmpv4Packet::new_checked(&b[..]).unwrap();
            prop_assert!(p.verify_checksum());
            prop_assert_eq!(Icmpv4Repr::parse(&p).unwrap(), repr);
            prop_assert!(p.data().iter().all(|&x| x == 0x33));
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(p) = Icmpv4Packet::new_checked(&b[..]) {
                let _ = (p.msg_type(), p.msg_code(), p.checksum(), p.rest_of_header(), p.gateway());
                let _ = (p.echo_ident(), p.echo_seq_no(), p.next_hop_mtu(), p.pointer(), p.data());
                let _ = p.verify_checksum();
                prop_assert!(Icmpv4Repr::parse(&p).is_ok());
            }
            let _ = Icmpv4Repr::parse(&Icmpv4Packet::new_unchecked(&b[..]));
        }
    }
}
