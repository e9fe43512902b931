//! ICMPv6 (RFC 4443) with neighbour discovery (RFC 4861): a zero-copy view of a message with
//! its checksum over the IPv6 pseudo-header, an allocation-free iterator and emitter for NDP
//! options, and a typed [`Icmpv6Repr`] for echo, the four error messages, router and neighbour
//! solicitation and advertisement, and redirect, with every other message kept as type, code
//! and the raw rest-of-header word.
//!
//! Nothing here allocates or panics on any input. [`Icmpv6Packet::new_checked`] validates the
//! lengths once (the 8-byte header, and the fixed part of an NDP message); on an unchecked
//! view over a short buffer, reads of missing bytes give zero (or `None` for the NDP fields
//! past byte 8) and writes are dropped. Parsing never rejects a bad checksum (callers verify
//! it separately); emission writes every header field, option byte and the checksum and never
//! trusts a reused buffer.
//!
//! ```
//! use wire::icmpv6::{Icmpv6Packet, Icmpv6Repr, NdpOption};
//! let src = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
//! let dst = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 2];
//! let target = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
//! let ns = Icmpv6Repr::NeighborSolicit { target_addr: target, source_lladdr: Some([2, 0, 0, 0, 0, 1]) };
//! let mut buf = vec![0u8; ns.buffer_len()];
//! ns.emit(&mut Icmpv6Packet::new_unchecked(&mut buf[..]), src, dst, |_| {}).unwrap();
//! let packet = Icmpv6Packet::new_checked(&buf[..]).unwrap();
//! assert!(packet.verify_checksum_v6(src, dst));
//! assert_eq!(packet.target_addr(), Some(target));
//! let mut options = packet.ndp_options_iter();
//! assert_eq!(options.next(), Some(Ok(NdpOption::SourceLinkLayerAddr(&[2, 0, 0, 0, 0, 1]))));
//! assert_eq!(Icmpv6Repr::parse(&packet), Ok(ns));
//! ```

use core::ops::Range;

use crate::bytes::{put_range as put, put_u8, u8_at, u16_at, u32_at};
use crate::{Error, Result, checksum, ip_proto};

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
    /// Packet too big: MTU. Parameter problem: pointer.
    pub const MTU: Range<usize> = 4..8;
    pub const POINTER: Range<usize> = 4..8;
    /// Router advertisement.
    pub const CUR_HOP_LIMIT: usize = 4;
    pub const ROUTER_FLAGS: usize = 5;
    pub const ROUTER_LIFETIME: Range<usize> = 6..8;
    pub const REACHABLE_TIME: Range<usize> = 8..12;
    pub const RETRANS_TIME: Range<usize> = 12..16;
    /// Neighbour advertisement: R, S, O bits.
    pub const NEIGHBOR_FLAGS: usize = 4;
    /// Neighbour solicitation and advertisement, redirect.
    pub const TARGET_ADDR: Range<usize> = 8..24;
    /// Redirect.
    pub const DEST_ADDR: Range<usize> = 24..40;
    pub const DATA: usize = 8;
}

/// Length of the ICMPv6 header every message has (type, code, checksum, rest-of-header).
pub const HEADER_LEN: usize = field::DATA;

/// ICMPv6 message types.
pub mod msg_type {
    /// Destination unreachable.
    pub const DST_UNREACHABLE: u8 = 1;
    /// Packet too big.
    pub const PACKET_TOO_BIG: u8 = 2;
    /// Time exceeded.
    pub const TIME_EXCEEDED: u8 = 3;
    /// Parameter problem.
    pub const PARAM_PROBLEM: u8 = 4;
    /// Echo request.
    pub const ECHO_REQUEST: u8 = 128;
    /// Echo reply.
    pub const ECHO_REPLY: u8 = 129;
    /// Multicast listener query (MLD, RFC 2710).
    pub const MLD_QUERY: u8 = 130;
    /// Multicast listener report (MLDv1).
    pub const MLD_REPORT: u8 = 131;
    /// Multicast listener done (MLDv1).
    pub const MLD_DONE: u8 = 132;
    /// Router solicitation.
    pub const ROUTER_SOLICIT: u8 = 133;
    /// Router advertisement.
    pub const ROUTER_ADVERT: u8 = 134;
    /// Neighbour solicitation.
    pub const NEIGHBOR_SOLICIT: u8 = 135;
    /// Neighbour advertisement.
    pub const NEIGHBOR_ADVERT: u8 = 136;
    /// Redirect.
    pub const REDIRECT: u8 = 137;
    /// Multicast listener report (MLDv2, RFC 3810).
    pub const MLDV2_REPORT: u8 = 143;
}

/// Router advertisement flag bits (the byte after the hop limit).
pub mod router_flags {
    /// Managed address configuration.
    pub const MANAGED: u8 = 0x80;
    /// Other configuration.
    pub const OTHER: u8 = 0x40;
}

/// Neighbour advertisement flag bits (the first byte after the checksum).
pub mod neighbor_flags {
    /// The sender is a router.
    pub const ROUTER: u8 = 0x80;
    /// Sent in response to a solicitation.
    pub const SOLICITED: u8 = 0x40;
    /// Override an existing cache entry.
    pub const OVERRIDE: u8 = 0x20;
}

/// NDP option types.
pub mod ndp_option {
    /// Source link-layer address.
    pub const SOURCE_LLADDR: u8 = 1;
    /// Target link-layer address.
    pub const TARGET_LLADDR: u8 = 2;
    /// Prefix information.
    pub const PREFIX_INFO: u8 = 3;
    /// Redirected header.
    pub const REDIRECTED_HEADER: u8 = 4;
    /// MTU.
    pub const MTU: u8 = 5;
}

/// Where a type's NDP options start, or `None` for a type without them.
const fn ndp_options_offset(msg_type: u8) -> Option<usize> {
    match msg_type {
        msg_type::ROUTER_SOLICIT => Some(8),
        msg_type::ROUTER_ADVERT => Some(16),
        msg_type::NEIGHBOR_SOLICIT | msg_type::NEIGHBOR_ADVERT => Some(24),
        msg_type::REDIRECT => Some(40),
        _ => None,
    }
}

#[inline]
fn addr16(d: &[u8], range: Range<usize>) -> Option<[u8; 16]> {
    d.get(range).and_then(|s| s.try_into().ok())
}

/// A zero-copy view of an ICMPv6 message.
///
/// The view should span exactly the IP payload: the checksum covers the whole buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Icmpv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    /// Wraps a buffer without checking it: on a buffer too short for a field, reading it
    /// gives zero and writing it is dropped. Use it on buffers you sized yourself (for
    /// emission); untrusted bytes go through [`new_checked`](Self::new_checked).
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        Icmpv6Packet { buffer }
    }

    /// Wraps a buffer after [`check_len`](Self::check_len): every field is then in the buffer.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the 8-byte header fits, and for NDP messages that their fixed part does
    /// (16 bytes for a router advertisement, 24 for neighbour messages, 40 for a redirect);
    /// [`Error::Truncated`] otherwise.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        match ndp_options_offset(self.msg_type()) {
            Some(fixed) if len < fixed => Err(Error::Truncated),
            _ => Ok(()),
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

    /// MTU (meaningful for packet too big).
    #[inline]
    pub fn mtu(&self) -> u32 {
        u32_at(self.buffer.as_ref(), field::MTU.start)
    }

    /// Pointer to the offending octet (meaningful for parameter problem).
    #[inline]
    pub fn pointer(&self) -> u32 {
        u32_at(self.buffer.as_ref(), field::POINTER.start)
    }

    /// Current hop limit (meaningful for router advertisement).
    #[inline]
    pub fn cur_hop_limit(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::CUR_HOP_LIMIT)
    }

    /// Flags (see [`router_flags`]; meaningful for router advertisement).
    #[inline]
    pub fn router_flags(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::ROUTER_FLAGS)
    }

    /// Router lifetime in seconds (meaningful for router advertisement).
    #[inline]
    pub fn router_lifetime(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::ROUTER_LIFETIME.start)
    }

    /// Flags (see [`neighbor_flags`]; meaningful for neighbour advertisement).
    #[inline]
    pub fn neighbor_flags(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::NEIGHBOR_FLAGS)
    }

    /// Reachable time in milliseconds (meaningful for router advertisement); `None` when
    /// the message is too short to hold it.
    #[inline]
    pub fn reachable_time(&self) -> Option<u32> {
        let d = self.buffer.as_ref();
        d.get(field::REACHABLE_TIME).map(|s| u32_at(s, 0))
    }

    /// Retransmission timer in milliseconds (meaningful for router advertisement); `None`
    /// when the message is too short to hold it.
    #[inline]
    pub fn retrans_time(&self) -> Option<u32> {
        let d = self.buffer.as_ref();
        d.get(field::RETRANS_TIME).map(|s| u32_at(s, 0))
    }

    /// Target address (meaningful for neighbour solicitation and advertisement, and
    /// redirect); `None` when the message is too short to hold it.
    #[inline]
    pub fn target_addr(&self) -> Option<[u8; 16]> {
        addr16(self.buffer.as_ref(), field::TARGET_ADDR)
    }

    /// Destination address (meaningful for redirect); `None` when the message is too short
    /// to hold it.
    #[inline]
    pub fn dest_addr(&self) -> Option<[u8; 16]> {
        addr16(self.buffer.as_ref(), field::DEST_ADDR)
    }

    /// The bytes after the 8-byte header: echo data, the quoted datagram of an error
    /// message, or the rest of an NDP message (its fixed fields and options).
    #[inline]
    pub fn data(&self) -> &[u8] {
        self.buffer.as_ref().get(field::DATA..).unwrap_or(&[])
    }

    /// The NDP options area (empty for a type without options).
    #[inline]
    pub fn ndp_options(&self) -> &[u8] {
        ndp_options_offset(self.msg_type())
            .and_then(|at| self.buffer.as_ref().get(at..))
            .unwrap_or(&[])
    }

    /// Iterates over the NDP options (none for a type without options).
    #[inline]
    pub fn ndp_options_iter(&self) -> NdpOptionsIter<'_> {
        NdpOptionsIter::new(self.ndp_options())
    }

    /// Verifies the checksum over the IPv6 pseudo-header and the whole buffer.
    pub fn verify_checksum_v6(&self, src: [u8; 16], dst: [u8; 16]) -> bool {
        let data = self.buffer.as_ref();
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let pseudo = checksum::pseudo_header_v6(src, dst, ip_proto::ICMPV6, len);
        checksum::l4_checksum(pseudo, data) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv6Packet<T> {
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

    /// Sets the packet-too-big MTU.
    #[inline]
    pub fn set_mtu(&mut self, value: u32) {
        put(self.buffer.as_mut(), field::MTU, &value.to_be_bytes());
    }

    /// Sets the parameter-problem pointer.
    #[inline]
    pub fn set_pointer(&mut self, value: u32) {
        put(self.buffer.as_mut(), field::POINTER, &value.to_be_bytes());
    }

    /// Sets the router advertisement's current hop limit.
    #[inline]
    pub fn set_cur_hop_limit(&mut self, value: u8) {
        put_u8(self.buffer.as_mut(), field::CUR_HOP_LIMIT, value);
    }

    /// Sets the router advertisement's flags.
    #[inline]
    pub fn set_router_flags(&mut self, value: u8) {
        put_u8(self.buffer.as_mut(), field::ROUTER_FLAGS, value);
    }

    /// Sets the router lifetime.
    #[inline]
    pub fn set_router_lifetime(&mut self, value: u16) {
        put(
            self.buffer.as_mut(),
            field::ROUTER_LIFETIME,
            &value.to_be_bytes(),
        );
    }

    /// Sets the neighbour advertisement's flags.
    #[inline]
    pub fn set_neighbor_flags(&mut self, value: u8) {
        put_u8(self.buffer.as_mut(), field::NEIGHBOR_FLAGS, value);
    }

    /// Sets the reachable time; [`Error::Truncated`] if the buffer cannot hold it.
    #[inline]
    pub fn set_reachable_time(&mut self, value: u32) -> Result<()> {
        self.put_checked(field::REACHABLE_TIME, &value.to_be_bytes())
    }

    /// Sets the retransmission timer; [`Error::Truncated`] if the buffer cannot hold it.
    #[inline]
    pub fn set_retrans_time(&mut self, value: u32) -> Result<()> {
        self.put_checked(field::RETRANS_TIME, &value.to_be_bytes())
    }

    /// Sets the target address; [`Error::Truncated`] if the buffer cannot hold it.
    #[inline]
    pub fn set_target_addr(&mut self, value: [u8; 16]) -> Result<()> {
        self.put_checked(field::TARGET_ADDR, &value)
    }

    /// Sets the redirect destination address; [`Error::Truncated`] if the buffer cannot hold
    /// it.
    #[inline]
    pub fn set_dest_addr(&mut self, value: [u8; 16]) -> Result<()> {
        self.put_checked(field::DEST_ADDR, &value)
    }

    fn put_checked(&mut self, range: Range<usize>, bytes: &[u8]) -> Result<()> {
        self.buffer
            .as_mut()
            .get_mut(range)
            .ok_or(Error::Truncated)?
            .copy_from_slice(bytes);
        Ok(())
    }

    /// The bytes after the 8-byte header, mutable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        self.buffer
            .as_mut()
            .get_mut(field::DATA..)
            .unwrap_or(&mut [])
    }

    /// The NDP options area, mutable (empty for a type without options).
    #[inline]
    pub fn ndp_options_mut(&mut self) -> &mut [u8] {
        match ndp_options_offset(self.msg_type()) {
            Some(at) => self.buffer.as_mut().get_mut(at..).unwrap_or(&mut []),
            None => &mut [],
        }
    }

    /// Computes and writes the checksum over the IPv6 pseudo-header and the whole buffer.
    pub fn fill_checksum_v6(&mut self, src: [u8; 16], dst: [u8; 16]) {
        self.set_checksum(0);
        let data = self.buffer.as_ref();
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let pseudo = checksum::pseudo_header_v6(src, dst, ip_proto::ICMPV6, len);
        let sum = checksum::l4_checksum(pseudo, data);
        self.set_checksum(sum);
    }
}

/// The NDP prefix information option (RFC 4861 section 4.6.2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct NdpPrefixInfo {
    /// Number of leading bits of `prefix` that are valid.
    pub prefix_len: u8,
    /// L (on-link, 0x80) and A (autonomous, 0x40) bits, and the reserved bits as sent.
    pub flags: u8,
    /// Valid lifetime in seconds (all ones: infinite).
    pub valid_lifetime: u32,
    /// Preferred lifetime in seconds.
    pub preferred_lifetime: u32,
    /// The prefix.
    pub prefix: [u8; 16],
}

/// One NDP option as found in (or to be written to) an NDP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NdpOption<'a> {
    /// Type 1: the sender's link-layer address (6 bytes on Ethernet; any padding included).
    SourceLinkLayerAddr(&'a [u8]),
    /// Type 2: the target's link-layer address (6 bytes on Ethernet; any padding included).
    TargetLinkLayerAddr(&'a [u8]),
    /// Type 3: prefix information.
    PrefixInformation(NdpPrefixInfo),
    /// Type 4: the start of the redirected packet (after the 6 reserved bytes).
    RedirectedHeader(&'a [u8]),
    /// Type 5: the link MTU.
    Mtu(u32),
    /// Any other type, with its data (the bytes after type and length).
    Unknown {
        /// The option type.
        kind: u8,
        /// The option data.
        data: &'a [u8],
    },
}

/// Rounds an option length up to whole 8-byte units.
#[inline]
const fn round8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

impl<'a> NdpOption<'a> {
    /// Reads one option from the front of `buffer` and returns it with the rest of the
    /// buffer. Fails with [`Error::Malformed`] when fewer than 2 bytes remain, the length is
    /// zero or overruns the buffer, or a known type has the wrong length.
    pub fn parse(buffer: &'a [u8]) -> Result<(&'a [u8], NdpOption<'a>)> {
        let &[kind, units, ..] = buffer else {
            return Err(Error::Malformed("ndp option cut short"));
        };
        if units == 0 {
            return Err(Error::Malformed("ndp option length zero"));
        }
        let (opt, rest) = buffer
            .split_at_checked(usize::from(units) * 8)
            .ok_or(Error::Malformed("ndp option overruns message"))?;
        let data = &opt[2..];
        let option = match kind {
            ndp_option::SOURCE_LLADDR => NdpOption::SourceLinkLayerAddr(data),
            ndp_option::TARGET_LLADDR => NdpOption::TargetLinkLayerAddr(data),
            ndp_option::PREFIX_INFO => {
                if units != 4 {
                    return Err(Error::Malformed("ndp prefix information length"));
                }
                let mut prefix = [0; 16];
                prefix.copy_from_slice(&opt[16..32]);
                NdpOption::PrefixInformation(NdpPrefixInfo {
                    prefix_len: opt[2],
                    flags: opt[3],
                    valid_lifetime: u32_at(opt, 4),
                    preferred_lifetime: u32_at(opt, 8),
                    prefix,
                })
            }
            ndp_option::REDIRECTED_HEADER => NdpOption::RedirectedHeader(&opt[8..]),
            ndp_option::MTU => {
                if units != 1 {
                    return Err(Error::Malformed("ndp mtu option length"));
                }
                NdpOption::Mtu(u32_at(opt, 4))
            }
            _ => NdpOption::Unknown { kind, data },
        };
        Ok((rest, option))
    }

    /// Number of bytes [`emit`](Self::emit) writes (a multiple of 8).
    pub fn buffer_len(&self) -> usize {
        match self {
            NdpOption::SourceLinkLayerAddr(d)
            | NdpOption::TargetLinkLayerAddr(d)
            | NdpOption::Unknown { data: d, .. } => round8(2 + d.len()),
            NdpOption::PrefixInformation(_) => 32,
            NdpOption::RedirectedHeader(d) => round8(8 + d.len()),
            NdpOption::Mtu(_) => 8,
        }
    }

    /// Writes the option, zero-padded to a multiple of 8 bytes, at the front of `buffer` and
    /// returns the number of bytes written. Fails with [`Error::Truncated`] if `buffer` is
    /// too short, or [`Error::Malformed`] if the option would exceed 2040 bytes.
    pub fn emit(&self, buffer: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        let units =
            u8::try_from(len / 8).map_err(|_| Error::Malformed("ndp option over 2040 bytes"))?;
        let out = buffer.get_mut(..len).ok_or(Error::Truncated)?;
        out.fill(0);
        out[1] = units;
        match *self {
            NdpOption::SourceLinkLayerAddr(d) => {
                out[0] = ndp_option::SOURCE_LLADDR;
                out[2..2 + d.len()].copy_from_slice(d);
            }
            NdpOption::TargetLinkLayerAddr(d) => {
                out[0] = ndp_option::TARGET_LLADDR;
                out[2..2 + d.len()].copy_from_slice(d);
            }
            NdpOption::Unknown { kind, data } => {
                out[0] = kind;
                out[2..2 + data.len()].copy_from_slice(data);
            }
            NdpOption::PrefixInformation(p) => {
                out[0] = ndp_option::PREFIX_INFO;
                out[2] = p.prefix_len;
                out[3] = p.flags;
                out[4..8].copy_from_slice(&p.valid_lifetime.to_be_bytes());
                out[8..12].copy_from_slice(&p.preferred_lifetime.to_be_bytes());
                out[16..32].copy_from_slice(&p.prefix);
            }
            NdpOption::RedirectedHeader(d) => {
                out[0] = ndp_option::REDIRECTED_HEADER;
                out[8..8 + d.len()].copy_from_slice(d);
            }
            NdpOption::Mtu(mtu) => {
                out[0] = ndp_option::MTU;
                out[4..8].copy_from_slice(&mtu.to_be_bytes());
            }
        }
        Ok(len)
    }
}

/// Iterates over the options of an NDP message without allocating.
///
/// Yields `Ok` for each option, or one `Err` for a malformed option, after which it stops.
#[derive(Debug, Clone)]
pub struct NdpOptionsIter<'a> {
    rest: &'a [u8],
}

impl<'a> NdpOptionsIter<'a> {
    /// Iterates over `options` (the bytes after the message's fixed part).
    #[inline]
    pub const fn new(options: &'a [u8]) -> Self {
        NdpOptionsIter { rest: options }
    }
}

impl<'a> Iterator for NdpOptionsIter<'a> {
    type Item = Result<NdpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match NdpOption::parse(self.rest) {
            Ok((rest, option)) => {
                self.rest = rest;
                Some(Ok(option))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

impl core::iter::FusedIterator for NdpOptionsIter<'_> {}

/// A parsed ICMPv6 message. Echo data and quoted datagrams are not copied: each variant
/// carries its length, and it sits at [`Icmpv6Repr::data_range`] in the message.
///
/// For NDP messages the representation keeps the options a neighbour cache or an RA guard
/// acts on (an Ethernet link-layer address, the MTU, the first prefix); the others, and
/// link-layer addresses that are not 6 bytes long, stay reachable through
/// [`Icmpv6Packet::ndp_options_iter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Icmpv6Repr {
    /// Destination unreachable (type 1).
    DstUnreachable {
        /// Reason.
        code: u8,
        /// Bytes of the quoted original packet.
        quoted_len: usize,
    },
    /// Packet too big (type 2, code 0).
    PacketTooBig {
        /// The MTU of the next-hop link.
        mtu: u32,
        /// Bytes of the quoted original packet.
        quoted_len: usize,
    },
    /// Time exceeded (type 3).
    TimeExceeded {
        /// Reason (0 hop limit, 1 fragment reassembly).
        code: u8,
        /// Bytes of the quoted original packet.
        quoted_len: usize,
    },
    /// Parameter problem (type 4).
    ParamProblem {
        /// Reason.
        code: u8,
        /// Offset of the offending octet in the quoted packet.
        pointer: u32,
        /// Bytes of the quoted original packet.
        quoted_len: usize,
    },
    /// Echo request (type 128, code 0).
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Bytes of echo data.
        data_len: usize,
    },
    /// Echo reply (type 129, code 0).
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Bytes of echo data.
        data_len: usize,
    },
    /// Router solicitation (type 133, code 0).
    RouterSolicit {
        /// Source link-layer address option.
        source_lladdr: Option<[u8; 6]>,
    },
    /// Router advertisement (type 134, code 0).
    RouterAdvert {
        /// Current hop limit (0: unspecified).
        hop_limit: u8,
        /// Flags byte (see [`router_flags`]).
        flags: u8,
        /// Router lifetime in seconds (0: not a default router).
        router_lifetime: u16,
        /// Reachable time in milliseconds.
        reachable_time: u32,
        /// Retransmission timer in milliseconds.
        retrans_time: u32,
        /// Source link-layer address option.
        source_lladdr: Option<[u8; 6]>,
        /// MTU option.
        mtu: Option<u32>,
        /// First prefix information option.
        prefix_info: Option<NdpPrefixInfo>,
    },
    /// Neighbour solicitation (type 135, code 0).
    NeighborSolicit {
        /// The address being resolved.
        target_addr: [u8; 16],
        /// Source link-layer address option.
        source_lladdr: Option<[u8; 6]>,
    },
    /// Neighbour advertisement (type 136, code 0).
    NeighborAdvert {
        /// Flags byte (see [`neighbor_flags`]).
        flags: u8,
        /// The address advertised.
        target_addr: [u8; 16],
        /// Target link-layer address option.
        target_lladdr: Option<[u8; 6]>,
    },
    /// Redirect (type 137, code 0).
    Redirect {
        /// The better first hop.
        target_addr: [u8; 16],
        /// The destination being redirected.
        dest_addr: [u8; 16],
        /// Target link-layer address option.
        target_lladdr: Option<[u8; 6]>,
    },
    /// Any other message, or a known one with a code its RFC does not allow: kept as sent.
    Other {
        /// Message type.
        msg_type: u8,
        /// Message code.
        code: u8,
        /// The rest-of-header word.
        rest: u32,
        /// Bytes after the 8-byte header.
        data_len: usize,
    },
}

/// The NDP options an [`Icmpv6Repr`] keeps.
#[derive(Default)]
struct NdpSummary {
    source_lladdr: Option<[u8; 6]>,
    target_lladdr: Option<[u8; 6]>,
    mtu: Option<u32>,
    prefix_info: Option<NdpPrefixInfo>,
}

impl NdpSummary {
    fn read<T: AsRef<[u8]>>(packet: &Icmpv6Packet<T>) -> Result<NdpSummary> {
        let mut s = NdpSummary::default();
        for option in packet.ndp_options_iter() {
            match option? {
                NdpOption::SourceLinkLayerAddr(d) => {
                    s.source_lladdr = d.try_into().ok().or(s.source_lladdr)
                }
                NdpOption::TargetLinkLayerAddr(d) => {
                    s.target_lladdr = d.try_into().ok().or(s.target_lladdr)
                }
                NdpOption::Mtu(mtu) => s.mtu = Some(mtu),
                NdpOption::PrefixInformation(p) => s.prefix_info = s.prefix_info.or(Some(p)),
                NdpOption::RedirectedHeader(_) | NdpOption::Unknown { .. } => {}
            }
        }
        Ok(s)
    }
}

/// Bytes an optional Ethernet link-layer address option takes.
#[inline]
const fn lladdr_len(lladdr: &Option<[u8; 6]>) -> usize {
    if lladdr.is_some() { 8 } else { 0 }
}

impl Icmpv6Repr {
    /// Reads an ICMPv6 message. Checks lengths like [`Icmpv6Packet::check_len`] and fails
    /// on a malformed NDP option; does not verify the checksum.
    pub fn parse<T: AsRef<[u8]>>(packet: &Icmpv6Packet<T>) -> Result<Icmpv6Repr> {
        packet.check_len()?;
        let data_len = packet.data().len();
        let target = || packet.target_addr().ok_or(Error::Truncated);
        Ok(match (packet.msg_type(), packet.msg_code()) {
            (msg_type::DST_UNREACHABLE, code) => Icmpv6Repr::DstUnreachable {
                code,
                quoted_len: data_len,
            },
            (msg_type::PACKET_TOO_BIG, 0) => Icmpv6Repr::PacketTooBig {
                mtu: packet.mtu(),
                quoted_len: data_len,
            },
            (msg_type::TIME_EXCEEDED, code) => Icmpv6Repr::TimeExceeded {
                code,
                quoted_len: data_len,
            },
            (msg_type::PARAM_PROBLEM, code) => Icmpv6Repr::ParamProblem {
                code,
                pointer: packet.pointer(),
                quoted_len: data_len,
            },
            (msg_type::ECHO_REQUEST, 0) => Icmpv6Repr::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data_len,
            },
            (msg_type::ECHO_REPLY, 0) => Icmpv6Repr::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data_len,
            },
            (msg_type::ROUTER_SOLICIT, 0) => Icmpv6Repr::RouterSolicit {
                source_lladdr: NdpSummary::read(packet)?.source_lladdr,
            },
            (msg_type::ROUTER_ADVERT, 0) => {
                let s = NdpSummary::read(packet)?;
                Icmpv6Repr::RouterAdvert {
                    hop_limit: packet.cur_hop_limit(),
                    flags: packet.router_flags(),
                    router_lifetime: packet.router_lifetime(),
                    reachable_time: packet.reachable_time().ok_or(Error::Truncated)?,
                    retrans_time: packet.retrans_time().ok_or(Error::Truncated)?,
                    source_lladdr: s.source_lladdr,
                    mtu: s.mtu,
                    prefix_info: s.prefix_info,
                }
            }
            (msg_type::NEIGHBOR_SOLICIT, 0) => Icmpv6Repr::NeighborSolicit {
                target_addr: target()?,
                source_lladdr: NdpSummary::read(packet)?.source_lladdr,
            },
            (msg_type::NEIGHBOR_ADVERT, 0) => Icmpv6Repr::NeighborAdvert {
                flags: packet.neighbor_flags(),
                target_addr: target()?,
                target_lladdr: NdpSummary::read(packet)?.target_lladdr,
            },
            (msg_type::REDIRECT, 0) => Icmpv6Repr::Redirect {
                target_addr: target()?,
                dest_addr: packet.dest_addr().ok_or(Error::Truncated)?,
                target_lladdr: NdpSummary::read(packet)?.target_lladdr,
            },
            (msg_type, code) => Icmpv6Repr::Other {
                msg_type,
                code,
                rest: packet.rest_of_header(),
                data_len,
            },
        })
    }

    /// Bytes of echo data, quoted packet or other data after the header (zero for NDP
    /// messages, whose body `emit` writes itself).
    pub const fn data_len(&self) -> usize {
        match *self {
            Icmpv6Repr::EchoRequest { data_len, .. }
            | Icmpv6Repr::EchoReply { data_len, .. }
            | Icmpv6Repr::Other { data_len, .. } => data_len,
            Icmpv6Repr::DstUnreachable { quoted_len, .. }
            | Icmpv6Repr::PacketTooBig { quoted_len, .. }
            | Icmpv6Repr::TimeExceeded { quoted_len, .. }
            | Icmpv6Repr::ParamProblem { quoted_len, .. } => quoted_len,
            Icmpv6Repr::RouterSolicit { .. }
            | Icmpv6Repr::RouterAdvert { .. }
            | Icmpv6Repr::NeighborSolicit { .. }
            | Icmpv6Repr::NeighborAdvert { .. }
            | Icmpv6Repr::Redirect { .. } => 0,
        }
    }

    /// Where the data of [`data_len`](Self::data_len) sits in the message (empty for NDP).
    pub const fn data_range(&self) -> Range<usize> {
        let start = self.header_len();
        start..start + self.data_len()
    }

    /// Length of the header and fixed fields [`emit`](Self::emit) writes before the data or
    /// NDP options.
    pub const fn header_len(&self) -> usize {
        match self {
            Icmpv6Repr::RouterAdvert { .. } => 16,
            Icmpv6Repr::NeighborSolicit { .. } | Icmpv6Repr::NeighborAdvert { .. } => 24,
            Icmpv6Repr::Redirect { .. } => 40,
            _ => HEADER_LEN,
        }
    }

    /// Length of the whole message [`emit`](Self::emit) writes.
    pub const fn buffer_len(&self) -> usize {
        let options = match self {
            Icmpv6Repr::RouterSolicit { source_lladdr } => lladdr_len(source_lladdr),
            Icmpv6Repr::RouterAdvert {
                source_lladdr,
                mtu,
                prefix_info,
                ..
            } => {
                lladdr_len(source_lladdr)
                    + if mtu.is_some() { 8 } else { 0 }
                    + if prefix_info.is_some() { 32 } else { 0 }
            }
            Icmpv6Repr::NeighborSolicit { source_lladdr, .. } => lladdr_len(source_lladdr),
            Icmpv6Repr::NeighborAdvert { target_lladdr, .. }
            | Icmpv6Repr::Redirect { target_lladdr, .. } => lladdr_len(target_lladdr),
            _ => 0,
        };
        self.header_len() + options + self.data_len()
    }

    /// Writes the message into the first [`buffer_len`](Self::buffer_len) bytes of
    /// `packet`: header, fixed fields and NDP options (router advertisement options in
    /// radvd's order: prefix, MTU, source link-layer address), then lets `fill_data` write
    /// the data (an empty slice for NDP messages; bytes it leaves alone are sent as they
    /// are), then fills the checksum over the IPv6 pseudo-header of `src` and `dst` and those
    /// bytes (so the view should be exactly that long).
    ///
    /// Fails with [`Error::Truncated`] if the buffer is too short.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Icmpv6Packet<T>,
        src: [u8; 16],
        dst: [u8; 16],
        fill_data: impl FnOnce(&mut [u8]),
    ) -> Result<()> {
        let total = self.buffer_len();
        let buf = packet
            .buffer
            .as_mut()
            .get_mut(..total)
            .ok_or(Error::Truncated)?;
        let mut msg = Icmpv6Packet::new_unchecked(buf);
        let echo = |ident: u16, seq_no: u16| (u32::from(ident) << 16) | u32::from(seq_no);
        let (ty, code, rest) = match *self {
            Icmpv6Repr::DstUnreachable { code, .. } => (msg_type::DST_UNREACHABLE, code, 0),
            Icmpv6Repr::PacketTooBig { mtu, .. } => (msg_type::PACKET_TOO_BIG, 0, mtu),
            Icmpv6Repr::TimeExceeded { code, .. } => (msg_type::TIME_EXCEEDED, code, 0),
            Icmpv6Repr::ParamProblem { code, pointer, .. } => {
                (msg_type::PARAM_PROBLEM, code, pointer)
            }
            Icmpv6Repr::EchoRequest { ident, seq_no, .. } => {
                (msg_type::ECHO_REQUEST, 0, echo(ident, seq_no))
            }
            Icmpv6Repr::EchoReply { ident, seq_no, .. } => {
                (msg_type::ECHO_REPLY, 0, echo(ident, seq_no))
            }
            Icmpv6Repr::RouterSolicit { .. } => (msg_type::ROUTER_SOLICIT, 0, 0),
            Icmpv6Repr::RouterAdvert {
                hop_limit,
                flags,
                router_lifetime,
                ..
            } => (
                msg_type::ROUTER_ADVERT,
                0,
                (u32::from(hop_limit) << 24)
                    | (u32::from(flags) << 16)
                    | u32::from(router_lifetime),
            ),
            Icmpv6Repr::NeighborSolicit { .. } => (msg_type::NEIGHBOR_SOLICIT, 0, 0),
            Icmpv6Repr::NeighborAdvert { flags, .. } => {
                (msg_type::NEIGHBOR_ADVERT, 0, u32::from(flags) << 24)
            }
            Icmpv6Repr::Redirect { .. } => (msg_type::REDIRECT, 0, 0),
            Icmpv6Repr::Other {
                msg_type,
                code,
                rest,
                ..
            } => (msg_type, code, rest),
        };
        msg.set_msg_type(ty);
        msg.set_msg_code(code);
        msg.set_rest_of_header(rest);
        self.emit_ndp_body(&mut msg)?;
        let data = self.data_range();
        fill_data(msg.buffer.get_mut(data).unwrap_or(&mut []));
        msg.fill_checksum_v6(src, dst);
        Ok(())
    }

    /// Writes the fixed fields after the 8-byte header and the NDP options.
    fn emit_ndp_body(&self, msg: &mut Icmpv6Packet<&mut [u8]>) -> Result<()> {
        let mut opts = [None; 3];
        match *self {
            Icmpv6Repr::RouterSolicit { source_lladdr } => {
                opts[0] = source_lladdr.map(EmittedOption::Source);
            }
            Icmpv6Repr::RouterAdvert {
                reachable_time,
                retrans_time,
                source_lladdr,
                mtu,
                prefix_info,
                ..
            } => {
                msg.set_reachable_time(reachable_time)?;
                msg.set_retrans_time(retrans_time)?;
                opts[0] = prefix_info.map(EmittedOption::Prefix);
                opts[1] = mtu.map(EmittedOption::Mtu);
                opts[2] = source_lladdr.map(EmittedOption::Source);
            }
            Icmpv6Repr::NeighborSolicit {
                target_addr,
                source_lladdr,
            } => {
                msg.set_target_addr(target_addr)?;
                opts[0] = source_lladdr.map(EmittedOption::Source);
            }
            Icmpv6Repr::NeighborAdvert {
                target_addr,
                target_lladdr,
                ..
            } => {
                msg.set_target_addr(target_addr)?;
                opts[0] = target_lladdr.map(EmittedOption::Target);
            }
            Icmpv6Repr::Redirect {
                target_addr,
                dest_addr,
                target_lladdr,
            } => {
                msg.set_target_addr(target_addr)?;
                msg.set_dest_addr(dest_addr)?;
                opts[0] = target_lladdr.map(EmittedOption::Target);
            }
            _ => return Ok(()),
        }
        let area = msg.ndp_options_mut();
        let mut at = 0;
        for opt in opts.iter().flatten() {
            let option = match opt {
                EmittedOption::Source(a) => NdpOption::SourceLinkLayerAddr(a),
                EmittedOption::Target(a) => NdpOption::TargetLinkLayerAddr(a),
                EmittedOption::Mtu(m) => NdpOption::Mtu(*m),
                EmittedOption::Prefix(p) => NdpOption::PrefixInformation(*p),
            };
            at += option.emit(area.get_mut(at..).ok_or(Error::Truncated)?)?;
        }
        Ok(())
    }
}

/// An NDP option a [`Icmpv6Repr`] emits, owned so it can sit in a fixed array.
#[derive(Clone, Copy)]
enum EmittedOption {
    Source([u8; 6]),
    Target([u8; 6]),
    Mtu(u32),
    Prefix(NdpPrefixInfo),
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RS_SRC: [u8; 16] = [
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x10, 0x2b, 0xd3, 0xb5, 0x9b, 0x19, 0x21, 0x9e,
    ];
    const ALL_ROUTERS: [u8; 16] = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    /// Router solicitation with a source link-layer address option, from a real capture
    /// (pcap-parser's `wireshark_samples-test.pcapng`, frame 80).
    const RS: [u8; 16] = [
        0x85, 0x00, 0x7f, 0x1e, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x48, 0xa1, 0x95, 0xd2, 0x7e,
        0x03,
    ];

    const RA_SRC: [u8; 16] = [
        0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x5a, 0xef, 0x68, 0xff, 0xfe, 0x10, 0x8f, 0x69,
    ];
    const ALL_NODES: [u8; 16] = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    /// Router advertisement with MTU 1500 and source link-layer address options, from the
    /// same capture (frame 241).
    const RA: [u8; 32] = [
        0x86, 0x00, 0x8e, 0x2f, 0x40, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00, 0x05, 0xdc, 0x01, 0x01, 0x58, 0xef, 0x68, 0x10,
        0x8f, 0x69,
    ];

    fn emit_vec(repr: &Icmpv6Repr, src: [u8; 16], dst: [u8; 16], data: &[u8]) -> Vec<u8> {
        let mut b = vec![0xc3u8; repr.buffer_len()];
        repr.emit(
            &mut Icmpv6Packet::new_unchecked(&mut b[..]),
            src,
            dst,
            |d| d.copy_from_slice(data),
        )
        .unwrap();
        b
    }

    #[test]
    fn real_router_solicit() {
        let p = Icmpv6Packet::new_checked(&RS[..]).unwrap();
        assert!(p.verify_checksum_v6(RS_SRC, ALL_ROUTERS));
        assert!(!p.verify_checksum_v6(RS_SRC, ALL_NODES));
        let repr = Icmpv6Repr::parse(&p).unwrap();
        assert_eq!(
            repr,
            Icmpv6Repr::RouterSolicit {
                source_lladdr: Some([0x48, 0xa1, 0x95, 0xd2, 0x7e, 0x03])
            }
        );
        assert_eq!(emit_vec(&repr, RS_SRC, ALL_ROUTERS, &[]), RS);
    }

    #[test]
    fn real_router_advert() {
        let p = Icmpv6Packet::new_checked(&RA[..]).unwrap();
        assert!(p.verify_checksum_v6(RA_SRC, ALL_NODES));
        let opts: Vec<_> = p.ndp_options_iter().map(|o| o.unwrap()).collect();
        assert_eq!(
            opts,
            [
                NdpOption::Mtu(1500),
                NdpOption::SourceLinkLayerAddr(&[0x58, 0xef, 0x68, 0x10, 0x8f, 0x69])
            ]
        );
        let repr = Icmpv6Repr::parse(&p).unwrap();
        assert_eq!(
            repr,
            Icmpv6Repr::RouterAdvert {
                hop_limit: 64,
                flags: router_flags::OTHER,
                router_lifetime: 0,
                reachable_time: 0,
                retrans_time: 0,
                source_lladdr: Some([0x58, 0xef, 0x68, 0x10, 0x8f, 0x69]),
                mtu: Some(1500),
                prefix_info: None,
            }
        );
        assert_eq!(emit_vec(&repr, RA_SRC, ALL_NODES, &[]), RA);
    }

    #[test]
    fn echo_and_too_big_match_etherparse() {
        let src = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let dst = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        let data: Vec<u8> = (0u8..40).collect();
        let cases = [
            (
                etherparse::Icmpv6Type::EchoRequest(etherparse::IcmpEchoHeader { id: 77, seq: 3 }),
                Icmpv6Repr::EchoRequest {
                    ident: 77,
                    seq_no: 3,
                    data_len: 40,
                },
            ),
            (
                etherparse::Icmpv6Type::EchoReply(etherparse::IcmpEchoHeader { id: 1, seq: 65535 }),
                Icmpv6Repr::EchoReply {
                    ident: 1,
                    seq_no: 65535,
                    data_len: 40,
                },
            ),
            (
                etherparse::Icmpv6Type::PacketTooBig { mtu: 1280 },
                Icmpv6Repr::PacketTooBig {
                    mtu: 1280,
                    quoted_len: 40,
                },
            ),
        ];
        for (ty, repr) in cases {
            let h = etherparse::Icmpv6Header::with_checksum(ty, src, dst, &data).unwrap();
            let mut want = h.to_bytes().to_vec();
            want.extend_from_slice(&data);
            let got = emit_vec(&repr, src, dst, &data);
            assert_eq!(got, want, "{repr:?}");
            let p = Icmpv6Packet::new_checked(&got[..]).unwrap();
            assert!(p.verify_checksum_v6(src, dst));
            assert_eq!(Icmpv6Repr::parse(&p), Ok(repr));
            assert_eq!(&got[repr.data_range()], &data[..]);
        }
    }

    #[test]
    fn neighbor_solicit_layout() {
        let target = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];
        let repr = Icmpv6Repr::NeighborSolicit {
            target_addr: target,
            source_lladdr: Some([2, 0, 0, 0, 0, 1]),
        };
        let b = emit_vec(&repr, RS_SRC, ALL_NODES, &[]);
        assert_eq!(b.len(), 32);
        assert_eq!(&b[..2], &[135, 0]);
        assert_eq!(&b[4..8], &[0; 4]);
        assert_eq!(&b[8..24], &target);
        assert_eq!(&b[24..], &[1, 1, 2, 0, 0, 0, 0, 1]);
        let p = Icmpv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.target_addr(), Some(target));
        assert_eq!(p.dest_addr(), None);
        assert_eq!(Icmpv6Repr::parse(&p), Ok(repr));
    }

    #[test]
    fn ndp_option_errors_fail_parse() {
        let mut b = RS.to_vec();
        b[9] = 0;
        let p = Icmpv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!(
            Icmpv6Repr::parse(&p),
            Err(Error::Malformed("ndp option length zero"))
        );
        b[9] = 2;
        let p = Icmpv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!(
            Icmpv6Repr::parse(&p),
            Err(Error::Malformed("ndp option overruns message"))
        );
        let cases: [(&[u8], &str); 3] = [
            (&[1], "ndp option cut short"),
            (&[3, 1, 0, 0, 0, 0, 0, 0], "ndp prefix information length"),
            (
                &[5, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                "ndp mtu option length",
            ),
        ];
        for (bytes, what) in cases {
            let mut it = NdpOptionsIter::new(bytes);
            assert_eq!(it.next(), Some(Err(Error::Malformed(what))));
            assert_eq!(it.next(), None);
        }
    }

    #[test]
    fn ndp_options_emit_and_parse() {
        let prefix = NdpPrefixInfo {
            prefix_len: 64,
            flags: 0xc0,
            valid_lifetime: 86400,
            preferred_lifetime: 14400,
            prefix: [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        };
        let hdr = [0x60u8, 0, 0, 0, 0, 8, 17, 64];
        let options = [
            NdpOption::PrefixInformation(prefix),
            NdpOption::RedirectedHeader(&hdr),
            NdpOption::Unknown {
                kind: 25,
                data: &[1, 2, 3],
            },
            NdpOption::TargetLinkLayerAddr(&[1, 2, 3, 4, 5, 6]),
        ];
        let mut buf = [0xffu8; 80];
        let mut at = 0;
        for o in &options {
            at += o.emit(&mut buf[at..]).unwrap();
        }
        assert_eq!(at, 32 + 16 + 8 + 8);
        let back: Vec<_> = NdpOptionsIter::new(&buf[..at])
            .map(|o| o.unwrap())
            .collect();
        assert_eq!(back[0], options[0]);
        assert_eq!(back[1], NdpOption::RedirectedHeader(&hdr));
        assert_eq!(
            back[2],
            NdpOption::Unknown {
                kind: 25,
                data: &[1, 2, 3, 0, 0, 0]
            }
        );
        assert_eq!(back[3], options[3]);
        assert_eq!(NdpOption::Mtu(1).emit(&mut [0u8; 7]), Err(Error::Truncated));
        let big = [0u8; 2040];
        assert!(
            NdpOption::Unknown {
                kind: 9,
                data: &big
            }
            .emit(&mut [0u8; 2048])
            .is_err()
        );
    }

    #[test]
    fn codes_outside_the_rfc_are_other() {
        let mut b = RS;
        b[1] = 1;
        let p = Icmpv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!(
            Icmpv6Repr::parse(&p),
            Ok(Icmpv6Repr::Other {
                msg_type: 133,
                code: 1,
                rest: 0,
                data_len: 8
            })
        );
    }

    #[test]
    fn view_setters() {
        let mut b = [0u8; 40];
        let mut p = Icmpv6Packet::new_unchecked(&mut b[..]);
        p.set_msg_type(msg_type::REDIRECT);
        p.set_target_addr([1; 16]).unwrap();
        p.set_dest_addr([2; 16]).unwrap();
        assert_eq!(
            (p.target_addr(), p.dest_addr()),
            (Some([1; 16]), Some([2; 16]))
        );
        assert_eq!(
            p.reachable_time(),
            Some(0x0101_0101),
            "overlaps the target address"
        );
        p.set_reachable_time(5).unwrap();
        assert_eq!(p.reachable_time(), Some(5));
        p.set_retrans_time(6).unwrap();
        assert_eq!(p.retrans_time(), Some(6));
        p.set_cur_hop_limit(255);
        p.set_router_flags(0x80);
        p.set_router_lifetime(1800);
        assert_eq!(
            (p.cur_hop_limit(), p.router_flags(), p.router_lifetime()),
            (255, 0x80, 1800)
        );
        p.set_neighbor_flags(0x60);
        assert_eq!(p.neighbor_flags(), 0x60);
        p.set_mtu(1280);
        assert_eq!(p.mtu(), 1280);
        p.set_pointer(40);
        assert_eq!(p.pointer(), 40);
        p.set_echo_ident(1);
        p.set_echo_seq_no(2);
        assert_eq!(
            (p.echo_ident(), p.echo_seq_no(), p.rest_of_header()),
            (1, 2, 0x0001_0002)
        );
        assert!(p.ndp_options().is_empty());
        let mut short = [0u8; 8];
        let mut p = Icmpv6Packet::new_unchecked(&mut short[..]);
        assert_eq!(p.set_target_addr([0; 16]), Err(Error::Truncated));
        assert_eq!(p.set_reachable_time(0), Err(Error::Truncated));
        assert_eq!(p.target_addr(), None);
    }

    #[test]
    fn unchecked_short_buffers_never_panic() {
        for n in 0..HEADER_LEN {
            let mut b = vec![0xffu8; n];
            let mut p = Icmpv6Packet::new_unchecked(&mut b[..]);
            p.set_msg_type(135);
            p.set_msg_code(0);
            p.set_checksum(3);
            p.set_rest_of_header(4);
            p.set_echo_ident(5);
            p.set_echo_seq_no(6);
            p.set_mtu(7);
            p.set_pointer(8);
            p.set_cur_hop_limit(9);
            p.set_router_flags(10);
            p.set_router_lifetime(11);
            p.set_neighbor_flags(12);
            p.fill_checksum_v6([0; 16], [0; 16]);
            let _ = (p.data_mut().len(), p.ndp_options_mut().len());
            let _ = (
                p.msg_type(),
                p.msg_code(),
                p.checksum(),
                p.rest_of_header(),
                p.mtu(),
            );
            let _ = (
                p.echo_ident(),
                p.echo_seq_no(),
                p.pointer(),
                p.cur_hop_limit(),
            );
            let _ = (
                p.router_flags(),
                p.router_lifetime(),
                p.neighbor_flags(),
                p.data(),
            );
            let _ = (
                p.target_addr(),
                p.dest_addr(),
                p.reachable_time(),
                p.retrans_time(),
            );
            let _ = (
                p.ndp_options_iter().count(),
                p.verify_checksum_v6([0; 16], [0; 16]),
            );
        }
    }

    #[test]
    fn truncated_at_every_length() {
        let na = Icmpv6Repr::NeighborAdvert {
            flags: neighbor_flags::SOLICITED | neighbor_flags::OVERRIDE,
            target_addr: [7; 16],
            target_lladdr: Some([1, 2, 3, 4, 5, 6]),
        };
        let redirect = Icmpv6Repr::Redirect {
            target_addr: [1; 16],
            dest_addr: [2; 16],
            target_lladdr: Some([1, 2, 3, 4, 5, 6]),
        };
        for bytes in [
            RS.to_vec(),
            RA.to_vec(),
            emit_vec(&na, RS_SRC, ALL_NODES, &[]),
            emit_vec(&redirect, RS_SRC, ALL_NODES, &[]),
        ] {
            let fixed = ndp_options_offset(bytes[0]).unwrap();
            for n in 0..bytes.len() {
                let r = Icmpv6Packet::new_checked(&bytes[..n]);
                if n < fixed {
                    assert_eq!(
                        r.unwrap_err(),
                        Error::Truncated,
                        "type {} len {n}",
                        bytes[0]
                    );
                }
                // Cut at an option boundary the message is shorter but whole.
                let whole = n >= fixed && (n - fixed).is_multiple_of(8);
                let parsed = Icmpv6Repr::parse(&Icmpv6Packet::new_unchecked(&bytes[..n]));
                assert!(
                    parsed.is_err() != whole,
                    "type {} len {n}: {parsed:?}",
                    bytes[0]
                );
            }
            let repr = Icmpv6Repr::parse(&Icmpv6Packet::new_checked(&bytes[..]).unwrap()).unwrap();
            let mut short = vec![0u8; bytes.len() - 1];
            assert_eq!(
                repr.emit(
                    &mut Icmpv6Packet::new_unchecked(&mut short[..]),
                    RS_SRC,
                    ALL_NODES,
                    |_| {}
                ),
                Err(Error::Truncated)
            );
        }
    }

    fn arb_lladdr() -> impl Strategy<Value = Option<[u8; 6]>> {
        any::<Option<[u8; 6]>>()
    }

    fn arb_prefix() -> impl Strategy<Value = Option<NdpPrefixInfo>> {
        any::<Option<(u8, u8, u32, u32, [u8; 16])>>().prop_map(|o| {
            o.map(
                |(prefix_len, flags, valid_lifetime, preferred_lifetime, prefix)| NdpPrefixInfo {
                    prefix_len,
                    flags,
                    valid_lifetime,
                    preferred_lifetime,
                    prefix,
                },
            )
        })
    }

    fn arb_repr() -> impl Strategy<Value = Icmpv6Repr> {
        prop_oneof![
            (any::<u8>(), 0usize..64)
                .prop_map(|(code, quoted_len)| Icmpv6Repr::DstUnreachable { code, quoted_len }),
            (any::<u32>(), 0usize..64)
                .prop_map(|(mtu, quoted_len)| Icmpv6Repr::PacketTooBig { mtu, quoted_len }),
            (any::<u8>(), 0usize..64)
                .prop_map(|(code, quoted_len)| Icmpv6Repr::TimeExceeded { code, quoted_len }),
            (any::<u8>(), any::<u32>(), 0usize..64).prop_map(|(code, pointer, quoted_len)| {
                Icmpv6Repr::ParamProblem {
                    code,
                    pointer,
                    quoted_len,
                }
            }),
            (any::<u16>(), any::<u16>(), 0usize..64).prop_map(|(ident, seq_no, data_len)| {
                Icmpv6Repr::EchoRequest {
                    ident,
                    seq_no,
                    data_len,
                }
            }),
            (any::<u16>(), any::<u16>(), 0usize..64).prop_map(|(ident, seq_no, data_len)| {
                Icmpv6Repr::EchoReply {
                    ident,
                    seq_no,
                    data_len,
                }
            }),
            arb_lladdr().prop_map(|source_lladdr| Icmpv6Repr::RouterSolicit { source_lladdr }),
            (
                any::<(u8, u8, u16, u32, u32)>(),
                arb_lladdr(),
                any::<Option<u32>>(),
                arb_prefix()
            )
                .prop_map(
                    |(
                        (hop_limit, flags, router_lifetime, reachable_time, retrans_time),
                        source_lladdr,
                        mtu,
                        prefix_info,
                    )| {
                        Icmpv6Repr::RouterAdvert {
                            hop_limit,
                            flags,
                            router_lifetime,
                            reachable_time,
                            retrans_time,
                            source_lladdr,
                            mtu,
                            prefix_info,
                        }
                    }
                ),
            (any::<[u8; 16]>(), arb_lladdr()).prop_map(|(target_addr, source_lladdr)| {
                Icmpv6Repr::NeighborSolicit {
                    target_addr,
                    source_lladdr,
                }
            }),
            (any::<u8>(), any::<[u8; 16]>(), arb_lladdr()).prop_map(
                |(flags, target_addr, target_lladdr)| Icmpv6Repr::NeighborAdvert {
                    flags,
                    target_addr,
                    target_lladdr
                }
            ),
            (any::<[u8; 16]>(), any::<[u8; 16]>(), arb_lladdr()).prop_map(
                |(target_addr, dest_addr, target_lladdr)| Icmpv6Repr::Redirect {
                    target_addr,
                    dest_addr,
                    target_lladdr
                }
            ),
            (any::<u8>(), any::<u8>(), any::<u32>(), 0usize..64)
                .prop_filter("not a type with its own variant", |(t, c, _, _)| {
                    !matches!((*t, *c), (1 | 3 | 4, _) | (2 | 128 | 129 | 133..=137, 0))
                })
                .prop_filter("a length the type allows", |(t, _, _, len)| {
                    ndp_options_offset(*t).is_none_or(|fixed| HEADER_LEN + len >= fixed)
                })
                .prop_map(|(msg_type, code, rest, data_len)| Icmpv6Repr::Other {
                    msg_type,
                    code,
                    rest,
                    data_len
                }),
        ]
    }

    proptest! {
        #[test]
        fn repr_round_trips(repr in arb_repr(), src in any::<[u8; 16]>(), dst in any::<[u8; 16]>(), junk in any::<u8>()) {
            let mut b = vec![junk; repr.buffer_len()];
            repr.emit(&mut Icmpv6Packet::new_unchecked(&mut b[..]), src, dst, |d| d.fill(0x5e)).unwrap();
            let p = Icmpv6Packet::new_checked(&b[..]).unwrap();
            prop_assert!(p.verify_checksum_v6(src, dst));
            prop_assert_eq!(Icmpv6Repr::parse(&p).unwrap(), repr);
            prop_assert!(b[repr.data_range()].iter().all(|&x| x == 0x5e));
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..96), ty in 128u8..140) {
            for bytes in [b.clone(), { let mut c = b.clone(); if let Some(t) = c.first_mut() { *t = ty; } c }] {
                if let Ok(p) = Icmpv6Packet::new_checked(&bytes[..]) {
                    let _ = (p.msg_type(), p.msg_code(), p.checksum(), p.rest_of_header(), p.mtu(), p.pointer());
                    let _ = (p.cur_hop_limit(), p.router_flags(), p.router_lifetime(), p.neighbor_flags());
                    let _ = (p.reachable_time(), p.retrans_time(), p.target_addr(), p.dest_addr(), p.data());
                    let _ = p.verify_checksum_v6([0; 16], [1; 16]);
                    let _ = p.ndp_options_iter().count();
                    let _ = Icmpv6Repr::parse(&p);
                }
                let _ = Icmpv6Repr::parse(&Icmpv6Packet::new_unchecked(&bytes[..]));
                let _ = NdpOptionsIter::new(&bytes).count();
            }
        }
    }
}
