//! TCP (RFC 9293): a zero-copy view of a segment, its checksum over the IPv4 or IPv6
//! pseudo-header, an allocation-free iterator and emitter for the options (RFC 9293 MSS,
//! RFC 7323 window scale and timestamps, RFC 2018 SACK), the [`TcpFlags`] set printed the way
//! `tcpdump -n` prints it, and a typed [`TcpRepr`].
//!
//! Nothing here allocates or panics on any input. [`TcpPacket::new_checked`] validates the
//! lengths once, after which every field is in the buffer; on an unchecked view over a short
//! buffer, reads of missing bytes give zero and writes are dropped. Parsing never rejects a bad
//! checksum (callers verify it separately); emission writes every header field and option byte
//! and never trusts a reused buffer.
//!
//! ```
//! use wire::tcp::{TcpFlags, TcpPacket, TcpRepr};
//! use wire::udp::IpPair;
//! let ips = IpPair::V4 { src: [10, 0, 0, 1], dst: [10, 0, 0, 2] };
//! let syn = TcpRepr {
//!     src_port: 40000,
//!     dst_port: 443,
//!     seq_number: 1,
//!     flags: TcpFlags::SYN,
//!     window_len: 64240,
//!     max_seg_size: Some(1460),
//!     window_scale: Some(7),
//!     sack_permitted: true,
//!     ..TcpRepr::default()
//! };
//! let mut buf = vec![0u8; syn.buffer_len()];
//! syn.emit(&mut TcpPacket::new_unchecked(&mut buf[..]), &ips, |_| {}).unwrap();
//! let packet = TcpPacket::new_checked(&buf[..]).unwrap();
//! assert!(packet.verify_checksum(&ips));
//! assert_eq!(packet.flags().to_string(), "S");
//! assert_eq!(TcpRepr::parse(&packet), Ok(syn));
//! ```

use core::fmt;
use core::ops::{BitAnd, BitOr, BitOrAssign};

use crate::bytes::{put_range as put, u8_at, u16_at, u32_at};
use crate::udp::IpPair;
use crate::{Error, Result, checksum, ip_proto};

mod field {
    use core::ops::Range;

    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const SEQ_NUM: Range<usize> = 4..8;
    pub const ACK_NUM: Range<usize> = 8..12;
    /// Data offset (4 bits), reserved (3 bits), then the nine flag bits NS..FIN.
    pub const FLAGS: Range<usize> = 12..14;
    pub const WIN_SIZE: Range<usize> = 14..16;
    pub const CHECKSUM: Range<usize> = 16..18;
    pub const URGENT: Range<usize> = 18..20;
    pub const OPTIONS: usize = 20;

    pub const OPT_END: u8 = 0;
    pub const OPT_NOP: u8 = 1;
    pub const OPT_MSS: u8 = 2;
    pub const OPT_WS: u8 = 3;
    pub const OPT_SACKPERM: u8 = 4;
    pub const OPT_SACKRNG: u8 = 5;
    pub const OPT_TSTAMP: u8 = 8;
}

/// Length of the TCP header without options.
pub const HEADER_LEN: usize = field::OPTIONS;
/// Largest TCP header (data offset 15).
pub const MAX_HEADER_LEN: usize = 60;
/// Largest options area.
pub const MAX_OPTIONS_LEN: usize = MAX_HEADER_LEN - HEADER_LEN;
/// Most SACK blocks one option can carry in a 40-byte options area.
pub const MAX_SACK_RANGES: usize = 4;

/// The TCP control bits: the low 12 bits of header bytes 12-13 (three reserved bits, then
/// NS, CWR, ECE, URG, ACK, PSH, RST, SYN, FIN).
///
/// `Display` prints them like `tcpdump -n` inside its `Flags [...]`: `F S R P . U E W` in that
/// order (so SYN+ACK is `S.`, FIN+PSH+ACK is `FP.`), `none` when no flag is set. The NS bit,
/// which tcpdump 4.99 does not print, is shown as a trailing `N`; reserved bits are not shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u16);

impl TcpFlags {
    /// No more data from sender.
    pub const FIN: TcpFlags = TcpFlags(0x001);
    /// Synchronise sequence numbers.
    pub const SYN: TcpFlags = TcpFlags(0x002);
    /// Reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x004);
    /// Push.
    pub const PSH: TcpFlags = TcpFlags(0x008);
    /// The acknowledgement number is significant.
    pub const ACK: TcpFlags = TcpFlags(0x010);
    /// The urgent pointer is significant.
    pub const URG: TcpFlags = TcpFlags(0x020);
    /// ECN echo (RFC 3168).
    pub const ECE: TcpFlags = TcpFlags(0x040);
    /// Congestion window reduced (RFC 3168).
    pub const CWR: TcpFlags = TcpFlags(0x080);
    /// ECN nonce sum (RFC 3540, historic; AccECN's AE bit).
    pub const NS: TcpFlags = TcpFlags(0x100);
    /// Every bit this type can hold (the nine flags and the three reserved bits).
    pub const ALL: TcpFlags = TcpFlags(0xfff);

    /// The raw bits.
    #[inline]
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// True when every bit of `other` is set in `self`.
    #[inline]
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// True when at least one bit of `other` is set in `self`.
    #[inline]
    pub const fn intersects(self, other: TcpFlags) -> bool {
        self.0 & other.0 != 0
    }

    /// True when no bit is set.
    #[inline]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl BitOr for TcpFlags {
    type Output = TcpFlags;
    #[inline]
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

impl BitOrAssign for TcpFlags {
    #[inline]
    fn bitor_assign(&mut self, rhs: TcpFlags) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for TcpFlags {
    type Output = TcpFlags;
    #[inline]
    fn bitand(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 & rhs.0)
    }
}

impl fmt::Display for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // tcpdump's print-tcp.c table order.
        const LETTERS: [(TcpFlags, &str); 9] = [
            (TcpFlags::FIN, "F"),
            (TcpFlags::SYN, "S"),
            (TcpFlags::RST, "R"),
            (TcpFlags::PSH, "P"),
            (TcpFlags::ACK, "."),
            (TcpFlags::URG, "U"),
            (TcpFlags::ECE, "E"),
            (TcpFlags::CWR, "W"),
            (TcpFlags::NS, "N"),
        ];
        let mut any = false;
        for (flag, letter) in LETTERS {
            if self.contains(flag) {
                f.write_str(letter)?;
                any = true;
            }
        }
        if !any {
            f.write_str("none")?;
        }
        Ok(())
    }
}

/// A zero-copy view of a TCP segment (header, options and payload).
///
/// The view should span exactly the IP payload: the checksum covers the whole buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wraps a buffer without checking it: on a buffer too short for a field, reading it
    /// gives zero and writing it is dropped. Use it on buffers you sized yourself (for
    /// emission); untrusted bytes go through [`new_checked`](Self::new_checked).
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        TcpPacket { buffer }
    }

    /// Wraps a buffer after [`check_len`](Self::check_len): every field is then in the buffer.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the fixed header fits ([`Error::Truncated`]), that the data offset is at
    /// least 5 ([`Error::Malformed`]) and that the header with its options fits
    /// ([`Error::Truncated`]).
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let header_len = self.header_len();
        if header_len < HEADER_LEN {
            Err(Error::Malformed("tcp data offset below 5"))
        } else if header_len > len {
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

    /// The sequence number.
    #[inline]
    pub fn seq_number(&self) -> u32 {
        u32_at(self.buffer.as_ref(), field::SEQ_NUM.start)
    }

    /// The acknowledgement number.
    #[inline]
    pub fn ack_number(&self) -> u32 {
        u32_at(self.buffer.as_ref(), field::ACK_NUM.start)
    }

    /// The header length in bytes (data offset times 4), options included.
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(u8_at(self.buffer.as_ref(), field::FLAGS.start) >> 4) * 4
    }

    /// The control bits, reserved bits included.
    #[inline]
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(u16_at(self.buffer.as_ref(), field::FLAGS.start) & TcpFlags::ALL.0)
    }

    /// The FIN flag.
    #[inline]
    pub fn fin(&self) -> bool {
        self.flags().contains(TcpFlags::FIN)
    }

    /// The SYN flag.
    #[inline]
    pub fn syn(&self) -> bool {
        self.flags().contains(TcpFlags::SYN)
    }

    /// The RST flag.
    #[inline]
    pub fn rst(&self) -> bool {
        self.flags().contains(TcpFlags::RST)
    }

    /// The PSH flag.
    #[inline]
    pub fn psh(&self) -> bool {
        self.flags().contains(TcpFlags::PSH)
    }

    /// The ACK flag.
    #[inline]
    pub fn ack(&self) -> bool {
        self.flags().contains(TcpFlags::ACK)
    }

    /// The URG flag.
    #[inline]
    pub fn urg(&self) -> bool {
        self.flags().contains(TcpFlags::URG)
    }

    /// The ECE flag.
    #[inline]
    pub fn ece(&self) -> bool {
        self.flags().contains(TcpFlags::ECE)
    }

    /// The CWR flag.
    #[inline]
    pub fn cwr(&self) -> bool {
        self.flags().contains(TcpFlags::CWR)
    }

    /// The NS flag.
    #[inline]
    pub fn ns(&self) -> bool {
        self.flags().contains(TcpFlags::NS)
    }

    /// The advertised window (unscaled).
    #[inline]
    pub fn window_len(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::WIN_SIZE.start)
    }

    /// The checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// The urgent pointer.
    #[inline]
    pub fn urgent_at(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::URGENT.start)
    }

    /// The options area (empty when the data offset is 5, or out of range).
    #[inline]
    pub fn options(&self) -> &[u8] {
        let end = self.header_len();
        self.buffer.as_ref().get(field::OPTIONS..end).unwrap_or(&[])
    }

    /// Iterates over the options.
    #[inline]
    pub fn options_iter(&self) -> TcpOptionsIter<'_> {
        TcpOptionsIter::new(self.options())
    }

    /// The payload: the bytes after the header (empty if the data offset is out of range).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let start = self.header_len().max(HEADER_LEN);
        self.buffer.as_ref().get(start..).unwrap_or(&[])
    }

    /// The sequence space the segment occupies: payload length plus one for SYN and one for
    /// FIN.
    #[inline]
    pub fn segment_len(&self) -> usize {
        self.payload().len() + usize::from(self.syn()) + usize::from(self.fin())
    }

    /// Verifies the checksum over an IPv4 pseudo-header.
    pub fn verify_checksum_v4(&self, src: [u8; 4], dst: [u8; 4]) -> bool {
        self.verify_checksum(&IpPair::V4 { src, dst })
    }

    /// Verifies the checksum over an IPv6 pseudo-header.
    pub fn verify_checksum_v6(&self, src: [u8; 16], dst: [u8; 16]) -> bool {
        self.verify_checksum(&IpPair::V6 { src, dst })
    }

    /// Verifies the checksum over the pseudo-header of `ips`.
    pub fn verify_checksum(&self, ips: &IpPair) -> bool {
        let data = self.buffer.as_ref();
        checksum::l4_checksum(ips.pseudo_header(ip_proto::TCP, data.len()), data) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
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

    /// Sets the sequence number.
    #[inline]
    pub fn set_seq_number(&mut self, value: u32) {
        put(self.buffer.as_mut(), field::SEQ_NUM, &value.to_be_bytes());
    }

    /// Sets the acknowledgement number.
    #[inline]
    pub fn set_ack_number(&mut self, value: u32) {
        put(self.buffer.as_mut(), field::ACK_NUM, &value.to_be_bytes());
    }

    /// Sets the header length in bytes (rounded down to a multiple of 4, at most 60),
    /// keeping the flags.
    #[inline]
    pub fn set_header_len(&mut self, value: usize) {
        let words = (value.min(MAX_HEADER_LEN) / 4) as u8;
        let d = self.buffer.as_mut();
        let b = u8_at(d, field::FLAGS.start);
        put(
            d,
            field::FLAGS.start..field::FLAGS.start + 1,
            &[(b & 0x0f) | (words << 4)],
        );
    }

    /// Sets the control bits (the low 12 bits of `value`), keeping the data offset.
    #[inline]
    pub fn set_flags(&mut self, value: TcpFlags) {
        let d = self.buffer.as_mut();
        let offset = u16::from(u8_at(d, field::FLAGS.start) & 0xf0) << 8;
        put(
            d,
            field::FLAGS,
            &(offset | (value.0 & TcpFlags::ALL.0)).to_be_bytes(),
        );
    }

    /// Sets the advertised window.
    #[inline]
    pub fn set_window_len(&mut self, value: u16) {
        put(self.buffer.as_mut(), field::WIN_SIZE, &value.to_be_bytes());
    }

    /// Sets the checksum field.
    #[inline]
    pub fn set_checksum(&mut self, value: u16) {
        put(self.buffer.as_mut(), field::CHECKSUM, &value.to_be_bytes());
    }

    /// Sets the urgent pointer.
    #[inline]
    pub fn set_urgent_at(&mut self, value: u16) {
        put(self.buffer.as_mut(), field::URGENT, &value.to_be_bytes());
    }

    /// The options area, mutable (same bounds as [`options`](TcpPacket::options)).
    #[inline]
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        self.buffer
            .as_mut()
            .get_mut(field::OPTIONS..end)
            .unwrap_or(&mut [])
    }

    /// The payload, mutable (same bounds as [`payload`](TcpPacket::payload)).
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len().max(HEADER_LEN);
        self.buffer.as_mut().get_mut(start..).unwrap_or(&mut [])
    }

    /// Computes and writes the checksum over an IPv4 pseudo-header.
    pub fn fill_checksum_v4(&mut self, src: [u8; 4], dst: [u8; 4]) {
        self.fill_checksum(&IpPair::V4 { src, dst });
    }

    /// Computes and writes the checksum over an IPv6 pseudo-header.
    pub fn fill_checksum_v6(&mut self, src: [u8; 16], dst: [u8; 16]) {
        self.fill_checksum(&IpPair::V6 { src, dst });
    }

    /// Computes and writes the checksum over the pseudo-header of `ips`, covering the whole
    /// buffer.
    pub fn fill_checksum(&mut self, ips: &IpPair) {
        self.set_checksum(0);
        let data = self.buffer.as_ref();
        let sum = checksum::l4_checksum(ips.pseudo_header(ip_proto::TCP, data.len()), data);
        self.set_checksum(sum);
    }
}

/// One TCP option as found in (or to be written to) the options area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TcpOption<'a> {
    /// Kind 0: end of the option list; what follows is padding.
    EndOfList,
    /// Kind 1: no operation (alignment).
    NoOperation,
    /// Kind 2: maximum segment size.
    MaxSegmentSize(u16),
    /// Kind 3: window scale shift count (RFC 7323; values above 14 are carried as sent).
    WindowScale(u8),
    /// Kind 4: SACK permitted (RFC 2018).
    SackPermitted,
    /// Kind 5: SACK blocks as (left edge, right edge), filled from the front; one to four.
    SackRange([Option<(u32, u32)>; MAX_SACK_RANGES]),
    /// Kind 8: timestamps (RFC 7323).
    Timestamps {
        /// The sender's timestamp value.
        tsval: u32,
        /// The echoed timestamp.
        tsecr: u32,
    },
    /// Any other kind, with its data (the bytes after kind and length).
    Unknown {
        /// The option kind.
        kind: u8,
        /// The option data.
        data: &'a [u8],
    },
}

impl<'a> TcpOption<'a> {
    /// Reads one option from the front of `buffer` and returns it with the rest of the
    /// buffer. Fails with [`Error::Malformed`] when the length byte is missing, below 2,
    /// beyond the buffer, or wrong for a known kind; [`Error::Truncated`] on an empty buffer.
    pub fn parse(buffer: &'a [u8]) -> Result<(&'a [u8], TcpOption<'a>)> {
        let (&kind, after_kind) = buffer.split_first().ok_or(Error::Truncated)?;
        match kind {
            field::OPT_END => return Ok((after_kind, TcpOption::EndOfList)),
            field::OPT_NOP => return Ok((after_kind, TcpOption::NoOperation)),
            _ => {}
        }
        let len = usize::from(
            *after_kind
                .first()
                .ok_or(Error::Malformed("tcp option length missing"))?,
        );
        if len < 2 {
            return Err(Error::Malformed("tcp option length below 2"));
        }
        let (opt, rest) = buffer
            .split_at_checked(len)
            .ok_or(Error::Malformed("tcp option overruns options area"))?;
        let data = &opt[2..];
        let option = match kind {
            field::OPT_MSS => match data {
                &[a, b] => TcpOption::MaxSegmentSize(u16::from_be_bytes([a, b])),
                _ => return Err(Error::Malformed("tcp mss option length")),
            },
            field::OPT_WS => match data {
                &[shift] => TcpOption::WindowScale(shift),
                _ => return Err(Error::Malformed("tcp window scale option length")),
            },
            field::OPT_SACKPERM => match data {
                [] => TcpOption::SackPermitted,
                _ => return Err(Error::Malformed("tcp sack-permitted option length")),
            },
            field::OPT_SACKRNG => {
                if data.is_empty()
                    || !data.len().is_multiple_of(8)
                    || data.len() / 8 > MAX_SACK_RANGES
                {
                    return Err(Error::Malformed("tcp sack option length"));
                }
                let mut ranges = [None; MAX_SACK_RANGES];
                for (slot, block) in ranges.iter_mut().zip(data.chunks_exact(8)) {
                    *slot = Some((u32_at(block, 0), u32_at(block, 4)));
                }
                TcpOption::SackRange(ranges)
            }
            field::OPT_TSTAMP => match data.len() {
                8 => TcpOption::Timestamps {
                    tsval: u32_at(data, 0),
                    tsecr: u32_at(data, 4),
                },
                _ => return Err(Error::Malformed("tcp timestamps option length")),
            },
            _ => TcpOption::Unknown { kind, data },
        };
        Ok((rest, option))
    }

    /// Number of bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        match self {
            TcpOption::EndOfList | TcpOption::NoOperation => 1,
            TcpOption::MaxSegmentSize(_) => 4,
            TcpOption::WindowScale(_) => 3,
            TcpOption::SackPermitted => 2,
            TcpOption::SackRange(r) => 2 + 8 * r.iter().flatten().count(),
            TcpOption::Timestamps { .. } => 10,
            TcpOption::Unknown { data, .. } => 2 + data.len(),
        }
    }

    /// Writes the option at the front of `buffer` and returns the number of bytes written.
    /// Fails with [`Error::Truncated`] if `buffer` is too short, or [`Error::Malformed`] for
    /// a SACK option without blocks or an unknown option longer than 255 bytes.
    pub fn emit(&self, buffer: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        let out = buffer.get_mut(..len).ok_or(Error::Truncated)?;
        match *self {
            TcpOption::EndOfList => out[0] = field::OPT_END,
            TcpOption::NoOperation => out[0] = field::OPT_NOP,
            TcpOption::MaxSegmentSize(mss) => {
                out[..2].copy_from_slice(&[field::OPT_MSS, 4]);
                out[2..].copy_from_slice(&mss.to_be_bytes());
            }
            TcpOption::WindowScale(shift) => out.copy_from_slice(&[field::OPT_WS, 3, shift]),
            TcpOption::SackPermitted => out.copy_from_slice(&[field::OPT_SACKPERM, 2]),
            TcpOption::SackRange(ranges) => {
                if len == 2 {
                    return Err(Error::Malformed("tcp sack option without blocks"));
                }
                out[..2].copy_from_slice(&[field::OPT_SACKRNG, len as u8]);
                for (block, (left, right)) in
                    out[2..].chunks_exact_mut(8).zip(ranges.iter().flatten())
                {
                    block[..4].copy_from_slice(&left.to_be_bytes());
                    block[4..].copy_from_slice(&right.to_be_bytes());
                }
            }
            TcpOption::Timestamps { tsval, tsecr } => {
                out[..2].copy_from_slice(&[field::OPT_TSTAMP, 10]);
                out[2..6].copy_from_slice(&tsval.to_be_bytes());
                out[6..].copy_from_slice(&tsecr.to_be_bytes());
            }
            TcpOption::Unknown { kind, data } => {
                let len =
                    u8::try_from(len).map_err(|_| Error::Malformed("tcp option over 255 bytes"))?;
                out[..2].copy_from_slice(&[kind, len]);
                out[2..].copy_from_slice(data);
            }
        }
        Ok(len)
    }
}

/// Iterates over the options of an options area without allocating.
///
/// Yields `Ok` for each option up to and including [`TcpOption::EndOfList`] (the padding
/// after it is not read), or one `Err` for a malformed option, after which it stops.
#[derive(Debug, Clone)]
pub struct TcpOptionsIter<'a> {
    rest: &'a [u8],
}

impl<'a> TcpOptionsIter<'a> {
    /// Iterates over `options` (the bytes between the fixed header and the payload).
    #[inline]
    pub const fn new(options: &'a [u8]) -> Self {
        TcpOptionsIter { rest: options }
    }
}

impl<'a> Iterator for TcpOptionsIter<'a> {
    type Item = Result<TcpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match TcpOption::parse(self.rest) {
            Ok((rest, option)) => {
                self.rest = if option == TcpOption::EndOfList {
                    &[]
                } else {
                    rest
                };
                Some(Ok(option))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

impl core::iter::FusedIterator for TcpOptionsIter<'_> {}

/// The RFC 7323 timestamps option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TcpTimestamps {
    /// The sender's timestamp value.
    pub tsval: u32,
    /// The echoed timestamp.
    pub tsecr: u32,
}

/// A parsed TCP header with the options a TCP stack or an inspector acts on.
///
/// Unknown options are skipped by [`parse`](Self::parse) and not emitted; when an option
/// appears twice the last one wins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TcpRepr {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq_number: u32,
    /// Acknowledgement number (as sent, whether or not ACK is set).
    pub ack_number: u32,
    /// Control bits, reserved bits included.
    pub flags: TcpFlags,
    /// Advertised window (unscaled).
    pub window_len: u16,
    /// Urgent pointer (as sent, whether or not URG is set).
    pub urgent_at: u16,
    /// Maximum segment size option.
    pub max_seg_size: Option<u16>,
    /// Window scale option.
    pub window_scale: Option<u8>,
    /// SACK-permitted option present.
    pub sack_permitted: bool,
    /// SACK blocks, filled from the front (all `None`: no SACK option).
    pub sack_ranges: [Option<(u32, u32)>; MAX_SACK_RANGES],
    /// Timestamps option.
    pub timestamps: Option<TcpTimestamps>,
    /// Bytes of payload after the header.
    pub payload_len: usize,
}

impl TcpRepr {
    /// Reads a TCP header and its options. Validates lengths like
    /// [`TcpPacket::check_len`] and fails on a malformed option; does not verify the
    /// checksum.
    pub fn parse<T: AsRef<[u8]>>(packet: &TcpPacket<T>) -> Result<TcpRepr> {
        packet.check_len()?;
        let mut repr = TcpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            seq_number: packet.seq_number(),
            ack_number: packet.ack_number(),
            flags: packet.flags(),
            window_len: packet.window_len(),
            urgent_at: packet.urgent_at(),
            payload_len: packet.payload().len(),
            ..TcpRepr::default()
        };
        for option in packet.options_iter() {
            match option? {
                TcpOption::MaxSegmentSize(mss) => repr.max_seg_size = Some(mss),
                TcpOption::WindowScale(shift) => repr.window_scale = Some(shift),
                TcpOption::SackPermitted => repr.sack_permitted = true,
                TcpOption::SackRange(ranges) => repr.sack_ranges = ranges,
                TcpOption::Timestamps { tsval, tsecr } => {
                    repr.timestamps = Some(TcpTimestamps { tsval, tsecr })
                }
                TcpOption::EndOfList | TcpOption::NoOperation | TcpOption::Unknown { .. } => {}
            }
        }
        Ok(repr)
    }

    /// Number of SACK blocks [`emit`](Self::emit) writes.
    fn sack_count(&self) -> usize {
        self.sack_ranges.iter().flatten().count()
    }

    /// Length of the options [`emit`](Self::emit) writes, a multiple of 4 (may exceed 40,
    /// which `emit` refuses).
    pub fn options_len(&self) -> usize {
        let mut len = 0;
        if self.max_seg_size.is_some() {
            len += 4;
        }
        // SACK-permitted fills the two bytes before the timestamps that would otherwise be
        // NOPs; alone, it takes two NOPs.
        if self.timestamps.is_some() {
            len += 12;
        } else if self.sack_permitted {
            len += 4;
        }
        if self.window_scale.is_some() {
            len += 4;
        }
        let sacks = self.sack_count();
        if sacks > 0 {
            len += 4 + 8 * sacks;
        }
        len
    }

    /// Length of the header [`emit`](Self::emit) writes.
    #[inline]
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options_len()
    }

    /// Length of the whole segment [`emit`](Self::emit) writes.
    #[inline]
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload_len
    }

    /// Writes the header and options into the first [`buffer_len`](Self::buffer_len) bytes
    /// of `packet`, lets `fill_payload` write the payload (bytes it leaves alone are sent as
    /// they are, so `|_| {}` keeps a payload already in place), then fills the checksum over
    /// `ips` and the first `buffer_len()` bytes (so the view should be exactly that long).
    ///
    /// Options are laid out the way Linux sends them: MSS, SACK-permitted and timestamps
    /// (NOP-padded when alone), NOP + window scale, NOP NOP + SACK blocks.
    ///
    /// Fails with [`Error::Malformed`] if the options exceed 40 bytes, or
    /// [`Error::Truncated`] if the buffer is too short.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut TcpPacket<T>,
        ips: &IpPair,
        fill_payload: impl FnOnce(&mut [u8]),
    ) -> Result<()> {
        let header_len = self.header_len();
        if header_len > MAX_HEADER_LEN {
            return Err(Error::Malformed("tcp options exceed 40 bytes"));
        }
        let total = header_len + self.payload_len;
        let buf = packet
            .buffer
            .as_mut()
            .get_mut(..total)
            .ok_or(Error::Truncated)?;
        let mut segment = TcpPacket::new_unchecked(buf);
        segment.set_src_port(self.src_port);
        segment.set_dst_port(self.dst_port);
        segment.set_seq_number(self.seq_number);
        segment.set_ack_number(self.ack_number);
        segment.set_header_len(header_len);
        segment.set_flags(self.flags);
        segment.set_window_len(self.window_len);
        segment.set_urgent_at(self.urgent_at);
        self.emit_options(segment.options_mut())?;
        fill_payload(segment.payload_mut());
        segment.fill_checksum(ips);
        Ok(())
    }

    fn emit_options(&self, buf: &mut [u8]) -> Result<()> {
        let mut at = 0;
        let mut put = |option: TcpOption<'_>| -> Result<()> {
            at += option.emit(buf.get_mut(at..).ok_or(Error::Truncated)?)?;
            Ok(())
        };
        if let Some(mss) = self.max_seg_size {
            put(TcpOption::MaxSegmentSize(mss))?;
        }
        match (self.sack_permitted, self.timestamps) {
            (true, Some(ts)) => {
                put(TcpOption::SackPermitted)?;
                put(TcpOption::Timestamps {
                    tsval: ts.tsval,
                    tsecr: ts.tsecr,
                })?;
            }
            (false, Some(ts)) => {
                put(TcpOption::NoOperation)?;
                put(TcpOption::NoOperation)?;
                put(TcpOption::Timestamps {
                    tsval: ts.tsval,
                    tsecr: ts.tsecr,
                })?;
            }
            (true, None) => {
                put(TcpOption::NoOperation)?;
                put(TcpOption::NoOperation)?;
                put(TcpOption::SackPermitted)?;
            }
            (false, None) => {}
        }
        if let Some(shift) = self.window_scale {
            put(TcpOption::NoOperation)?;
            put(TcpOption::WindowScale(shift))?;
        }
        if self.sack_count() > 0 {
            put(TcpOption::NoOperation)?;
            put(TcpOption::NoOperation)?;
            put(TcpOption::SackRange(self.sack_ranges))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// SYN-ACK 93.184.216.34:443 -> 192.168.178.113:54652 from a real capture
    /// (pcap-parser's `err-buffertoosmall.pcapng`, frame 2): MSS 1452, NOP NOP SACK-permitted,
    /// NOP WS 9.
    const SYNACK_SRC: [u8; 4] = [93, 184, 216, 34];
    const SYNACK_DST: [u8; 4] = [192, 168, 178, 113];
    const SYNACK: [u8; 32] = [
        0x01, 0xbb, 0xd5, 0x7c, 0x9b, 0xcd, 0xf3, 0x6d, 0x07, 0x0f, 0xb3, 0xcb, 0x80, 0x12, 0xff,
        0xff, 0xa4, 0xc4, 0x00, 0x00, 0x02, 0x04, 0x05, 0xac, 0x01, 0x01, 0x04, 0x02, 0x01, 0x03,
        0x03, 0x09,
    ];

    /// PSH+ACK 192.168.152.1:139 -> 192.168.152.101:38832 with NOP NOP TS and 4 bytes of
    /// payload, from a real capture (pcap-parser's `wireshark_samples-test.pcapng`, frame 58).
    const PSH_SRC: [u8; 4] = [192, 168, 152, 1];
    const PSH_DST: [u8; 4] = [192, 168, 152, 101];
    const PSH: [u8; 36] = [
        0x00, 0x8b, 0x97, 0xb0, 0x60, 0x3e, 0x30, 0xd6, 0x56, 0x3b, 0xf0, 0x34, 0x80, 0x18, 0x01,
        0xe6, 0x22, 0x3b, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x0f, 0x85, 0x9a, 0xc2, 0x8b, 0xb6,
        0x76, 0x19, 0x85, 0x00, 0x00, 0x00,
    ];

    fn v4(src: [u8; 4], dst: [u8; 4]) -> IpPair {
        IpPair::V4 { src, dst }
    }

    #[test]
    fn real_syn_ack_parses_and_verifies() {
        let p = TcpPacket::new_checked(&SYNACK[..]).unwrap();
        assert!(p.verify_checksum_v4(SYNACK_SRC, SYNACK_DST));
        assert!(!p.verify_checksum_v4(SYNACK_DST, SYNACK_DST));
        assert_eq!(p.flags().to_string(), "S.");
        let opts: Vec<_> = p.options_iter().map(|o| o.unwrap()).collect();
        assert_eq!(
            opts,
            [
                TcpOption::MaxSegmentSize(1452),
                TcpOption::NoOperation,
                TcpOption::NoOperation,
                TcpOption::SackPermitted,
                TcpOption::NoOperation,
                TcpOption::WindowScale(9),
            ]
        );
        let repr = TcpRepr::parse(&p).unwrap();
        assert_eq!(
            repr,
            TcpRepr {
                src_port: 443,
                dst_port: 54652,
                seq_number: 0x9bcd_f36d,
                ack_number: 0x070f_b3cb,
                flags: TcpFlags::SYN | TcpFlags::ACK,
                window_len: 65535,
                urgent_at: 0,
                max_seg_size: Some(1452),
                window_scale: Some(9),
                sack_permitted: true,
                sack_ranges: [None; 4],
                timestamps: None,
                payload_len: 0,
            }
        );
        // Our layout for these options is Linux's, which is what this server sent.
        let mut out = [0x5au8; 32];
        repr.emit(
            &mut TcpPacket::new_unchecked(&mut out[..]),
            &v4(SYNACK_SRC, SYNACK_DST),
            |_| {},
        )
        .unwrap();
        assert_eq!(out, SYNACK);
    }

    #[test]
    fn real_psh_ack_with_timestamps_round_trips() {
        let p = TcpPacket::new_checked(&PSH[..]).unwrap();
        assert!(p.verify_checksum(&v4(PSH_SRC, PSH_DST)));
        assert_eq!(p.flags().to_string(), "P.");
        assert_eq!(p.payload(), &[0x85, 0, 0, 0]);
        let repr = TcpRepr::parse(&p).unwrap();
        assert_eq!(
            repr.timestamps,
            Some(TcpTimestamps {
                tsval: 260414146,
                tsecr: 2343990809
            })
        );
        assert_eq!(repr.payload_len, 4);
        let mut out = [0u8; 36];
        repr.emit(
            &mut TcpPacket::new_unchecked(&mut out[..]),
            &v4(PSH_SRC, PSH_DST),
            |pl| pl.copy_from_slice(p.payload()),
        )
        .unwrap();
        assert_eq!(out, PSH);
    }

    #[test]
    fn linux_syn_matches_etherparse() {
        // A Linux SYN: MSS 1460, SACK-permitted, TS, NOP, WS 7, over IPv6.
        let src = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let dst = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        let mut h = etherparse::TcpHeader::new(40000, 443, 0x1234_5678, 64240);
        h.syn = true;
        h.set_options(&[
            etherparse::TcpOptionElement::MaximumSegmentSize(1460),
            etherparse::TcpOptionElement::SelectiveAcknowledgementPermitted,
            etherparse::TcpOptionElement::Timestamp(0xdead_beef, 0),
            etherparse::TcpOptionElement::Noop,
            etherparse::TcpOptionElement::WindowScale(7),
        ])
        .unwrap();
        h.checksum = h.calc_checksum_ipv6_raw(src, dst, &[]).unwrap();
        let want = h.to_bytes();
        let repr = TcpRepr {
            src_port: 40000,
            dst_port: 443,
            seq_number: 0x1234_5678,
            flags: TcpFlags::SYN,
            window_len: 64240,
            max_seg_size: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamps: Some(TcpTimestamps {
                tsval: 0xdead_beef,
                tsecr: 0,
            }),
            ..TcpRepr::default()
        };
        assert_eq!(repr.header_len(), 40);
        let mut got = [0xffu8; 40];
        repr.emit(
            &mut TcpPacket::new_unchecked(&mut got[..]),
            &IpPair::V6 { src, dst },
            |_| {},
        )
        .unwrap();
        assert_eq!(&got[..], &want[..]);
        let p = TcpPacket::new_checked(&got[..]).unwrap();
        assert!(p.verify_checksum_v6(src, dst));
        assert_eq!(TcpRepr::parse(&p).unwrap(), repr);
    }

    #[test]
    fn sack_blocks_match_etherparse() {
        let mut h = etherparse::TcpHeader::new(1, 2, 3, 4);
        h.ack = true;
        h.acknowledgment_number = 100;
        h.set_options(&[
            etherparse::TcpOptionElement::Noop,
            etherparse::TcpOptionElement::Noop,
            etherparse::TcpOptionElement::SelectiveAcknowledgement(
                (200, 300),
                [Some((400, 500)), Some((600, 700)), None],
            ),
        ])
        .unwrap();
        let ips = v4([10, 0, 0, 1], [10, 0, 0, 2]);
        h.checksum = h
            .calc_checksum_ipv4_raw([10, 0, 0, 1], [10, 0, 0, 2], &[])
            .unwrap();
        let want = h.to_bytes();
        let repr = TcpRepr {
            src_port: 1,
            dst_port: 2,
            seq_number: 3,
            ack_number: 100,
            flags: TcpFlags::ACK,
            window_len: 4,
            sack_ranges: [Some((200, 300)), Some((400, 500)), Some((600, 700)), None],
            ..TcpRepr::default()
        };
        let mut got = vec![0x11u8; repr.buffer_len()];
        repr.emit(&mut TcpPacket::new_unchecked(&mut got[..]), &ips, |_| {})
            .unwrap();
        assert_eq!(&got[..], &want[..]);
        assert_eq!(
            TcpRepr::parse(&TcpPacket::new_checked(&got[..]).unwrap()).unwrap(),
            repr
        );
    }

    #[test]
    fn flags_print_like_tcpdump() {
        // Expected strings are tcpdump 4.99.3 `-n` output for the same bits.
        let cases = [
            (0x002, "S"),
            (0x012, "S."),
            (0x018, "P."),
            (0x019, "FP."),
            (0x011, "F."),
            (0x004, "R"),
            (0x014, "R."),
            (0x0c2, "SEW"),
            (0x052, "S.E"),
            (0x020, "U"),
            (0x0ff, "FSRP.UEW"),
            (0x000, "none"),
            (0x200, "none"),
        ];
        for (bits, want) in cases {
            assert_eq!(TcpFlags(bits).to_string(), want, "{bits:#x}");
        }
        assert_eq!(TcpFlags(0x1ff).to_string(), "FSRP.UEWN");
        assert_eq!(TcpFlags::NS.to_string(), "N");
    }

    #[test]
    fn flag_accessors_and_setters() {
        let mut b = SYNACK;
        let mut p = TcpPacket::new_unchecked(&mut b[..]);
        assert!(p.syn() && p.ack() && !p.fin() && !p.rst() && !p.psh());
        p.set_flags(
            TcpFlags::FIN
                | TcpFlags::PSH
                | TcpFlags::URG
                | TcpFlags::ECE
                | TcpFlags::CWR
                | TcpFlags::NS
                | TcpFlags::RST,
        );
        assert_eq!(p.header_len(), 32, "set_flags keeps the data offset");
        assert!(p.fin() && p.psh() && p.urg() && p.ece() && p.cwr() && p.ns() && p.rst());
        assert!(!p.syn() && !p.ack());
        p.set_header_len(20);
        assert_eq!(p.flags().0, 0x1ed, "set_header_len keeps the flags");
        assert_eq!(
            p.segment_len(),
            12 + 1,
            "options now count as payload, plus FIN"
        );
    }

    #[test]
    fn header_checks() {
        let mut b = SYNACK;
        b[12] = 0x40;
        assert_eq!(
            TcpPacket::new_checked(&b[..]).unwrap_err(),
            Error::Malformed("tcp data offset below 5")
        );
        b[12] = 0x90;
        assert_eq!(
            TcpPacket::new_checked(&b[..]).unwrap_err(),
            Error::Truncated
        );
        let p = TcpPacket::new_unchecked(&b[..]);
        assert!(p.options().is_empty() && p.payload().is_empty());
    }

    #[test]
    fn unchecked_short_buffers_never_panic() {
        for n in 0..HEADER_LEN {
            let mut b = vec![0xffu8; n];
            let mut p = TcpPacket::new_unchecked(&mut b[..]);
            p.set_src_port(1);
            p.set_dst_port(2);
            p.set_seq_number(3);
            p.set_ack_number(4);
            p.set_header_len(24);
            p.set_flags(TcpFlags::SYN);
            p.set_window_len(5);
            p.set_checksum(6);
            p.set_urgent_at(7);
            p.fill_checksum_v4([0; 4], [0; 4]);
            let _ = (p.options_mut().len(), p.payload_mut().len());
            let _ = (
                p.src_port(),
                p.dst_port(),
                p.seq_number(),
                p.ack_number(),
                p.flags(),
            );
            let _ = (
                p.window_len(),
                p.checksum(),
                p.urgent_at(),
                p.options(),
                p.payload(),
            );
            let _ = (p.header_len(), p.segment_len(), p.options_iter().count());
            let _ = p.verify_checksum_v6([0; 16], [0; 16]);
        }
        let p = TcpPacket::new_unchecked(&[0xffu8; 11][..]);
        assert_eq!(
            (p.src_port(), p.seq_number(), p.ack_number()),
            (0xffff, 0xffff_ffff, 0)
        );
    }

    #[test]
    fn truncated_at_every_length() {
        for n in 0..SYNACK.len() {
            assert_eq!(
                TcpPacket::new_checked(&SYNACK[..n]).unwrap_err(),
                Error::Truncated,
                "len {n}"
            );
            assert!(TcpRepr::parse(&TcpPacket::new_unchecked(&SYNACK[..n])).is_err());
        }
        // Cutting the options area anywhere is either a short option or a clean end.
        let opts = &SYNACK[20..];
        for n in 0..opts.len() {
            let _ = TcpOptionsIter::new(&opts[..n]).count();
        }
    }

    #[test]
    fn bad_option_lengths() {
        let cases: [(&[u8], &str); 8] = [
            (&[2], "tcp option length missing"),
            (&[2, 1], "tcp option length below 2"),
            (&[2, 5, 0, 0], "tcp option overruns options area"),
            (&[2, 3, 0], "tcp mss option length"),
            (&[3, 4, 0, 0], "tcp window scale option length"),
            (&[4, 3, 0], "tcp sack-permitted option length"),
            (&[5, 2], "tcp sack option length"),
            (&[8, 6, 0, 0, 0, 0], "tcp timestamps option length"),
        ];
        for (bytes, what) in cases {
            let mut it = TcpOptionsIter::new(bytes);
            assert_eq!(it.next(), Some(Err(Error::Malformed(what))), "{bytes:?}");
            assert_eq!(it.next(), None);
        }
        assert_eq!(TcpOption::parse(&[]), Err(Error::Truncated));
        let mut sack5 = vec![5u8, 42];
        sack5.resize(42, 0);
        assert_eq!(
            TcpOption::parse(&sack5),
            Err(Error::Malformed("tcp sack option length"))
        );
    }

    #[test]
    fn end_of_list_stops_and_unknown_is_kept() {
        let bytes = [30, 4, 0xab, 0xcd, 0, 2, 4, 5, 180];
        let got: Vec<_> = TcpOptionsIter::new(&bytes).collect();
        assert_eq!(
            got,
            [
                Ok(TcpOption::Unknown {
                    kind: 30,
                    data: &[0xab, 0xcd]
                }),
                Ok(TcpOption::EndOfList)
            ]
        );
        let mut out = [0u8; 4];
        assert_eq!(
            TcpOption::Unknown {
                kind: 30,
                data: &[0xab, 0xcd]
            }
            .emit(&mut out),
            Ok(4)
        );
        assert_eq!(out, [30, 4, 0xab, 0xcd]);
    }

    #[test]
    fn option_emit_errors() {
        let mut small = [0u8; 3];
        assert_eq!(
            TcpOption::MaxSegmentSize(1).emit(&mut small),
            Err(Error::Truncated)
        );
        assert_eq!(
            TcpOption::SackRange([None; 4]).emit(&mut small),
            Err(Error::Malformed("tcp sack option without blocks"))
        );
        let big = [0u8; 300];
        let mut out = [0u8; 302];
        assert!(
            TcpOption::Unknown {
                kind: 99,
                data: &big
            }
            .emit(&mut out)
            .is_err()
        );
    }

    #[test]
    fn repr_emit_refuses_oversized_options_and_short_buffers() {
        let repr = TcpRepr {
            max_seg_size: Some(1),
            timestamps: Some(TcpTimestamps { tsval: 1, tsecr: 2 }),
            sack_ranges: [Some((1, 2)); 4],
            ..TcpRepr::default()
        };
        let ips = v4([0; 4], [0; 4]);
        let mut b = [0u8; 80];
        assert_eq!(
            repr.emit(&mut TcpPacket::new_unchecked(&mut b[..]), &ips, |_| {}),
            Err(Error::Malformed("tcp options exceed 40 bytes"))
        );
        let repr = TcpRepr {
            payload_len: 10,
            ..TcpRepr::default()
        };
        let mut b = [0u8; 29];
        assert_eq!(
            repr.emit(&mut TcpPacket::new_unchecked(&mut b[..]), &ips, |_| {}),
            Err(Error::Truncated)
        );
    }

    fn arb_ips() -> impl Strategy<Value = IpPair> {
        prop_oneof![
            any::<([u8; 4], [u8; 4])>().prop_map(|(src, dst)| IpPair::V4 { src, dst }),
            any::<([u8; 16], [u8; 16])>().prop_map(|(src, dst)| IpPair::V6 { src, dst }),
        ]
    }

    prop_compose! {
        fn arb_repr()(
            ports in any::<(u16, u16)>(),
            seq in any::<(u32, u32)>(),
            flags in 0u16..0x1000,
            window_len in any::<u16>(),
            urgent_at in any::<u16>(),
            max_seg_size in any::<Option<u16>>(),
            window_scale in any::<Option<u8>>(),
            sack_permitted in any::<bool>(),
            timestamps in any::<Option<(u32, u32)>>(),
            sacks in proptest::collection::vec(any::<(u32, u32)>(), 0..=4),
            payload_len in 0usize..64,
        ) -> TcpRepr {
            let mut sack_ranges = [None; 4];
            for (slot, r) in sack_ranges.iter_mut().zip(sacks) {
                *slot = Some(r);
            }
            TcpRepr {
                src_port: ports.0,
                dst_port: ports.1,
                seq_number: seq.0,
                ack_number: seq.1,
                flags: TcpFlags(flags),
                window_len,
                urgent_at,
                max_seg_size,
                window_scale,
                sack_permitted,
                sack_ranges,
                timestamps: timestamps.map(|(tsval, tsecr)| TcpTimestamps { tsval, tsecr }),
                payload_len,
            }
        }
    }

    proptest! {
        #[test]
        fn repr_round_trips(repr in arb_repr(), ips in arb_ips(), junk in any::<u8>()) {
            let mut b = vec![junk; repr.buffer_len()];
            let result = repr.emit(&mut TcpPacket::new_unchecked(&mut b[..]), &ips, |pl| pl.fill(0x42));
            if repr.header_len() > MAX_HEADER_LEN {
                prop_assert!(result.is_err());
                return Ok(());
            }
            result.unwrap();
            let p = TcpPacket::new_checked(&b[..]).unwrap();
            prop_assert_eq!(p.header_len(), repr.header_len());
            prop_assert!(p.verify_checksum(&ips));
            prop_assert_eq!(TcpRepr::parse(&p).unwrap(), repr);
            prop_assert!(p.payload().iter().all(|&x| x == 0x42));
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(p) = TcpPacket::new_checked(&b[..]) {
                let _ = (p.src_port(), p.dst_port(), p.seq_number(), p.ack_number(), p.flags());
                let _ = (p.window_len(), p.checksum(), p.urgent_at(), p.payload(), p.segment_len());
                let _ = p.verify_checksum_v4([1; 4], [2; 4]);
                let _ = p.options_iter().count();
                let _ = TcpRepr::parse(&p);
            }
            let _ = TcpRepr::parse(&TcpPacket::new_unchecked(&b[..]));
            let _ = TcpOptionsIter::new(&b).count();
        }

        #[test]
        fn option_emit_then_parse(o in prop_oneof![
            any::<u16>().prop_map(TcpOption::MaxSegmentSize),
            any::<u8>().prop_map(TcpOption::WindowScale),
            Just(TcpOption::SackPermitted),
            Just(TcpOption::NoOperation),
            any::<(u32, u32)>().prop_map(|(tsval, tsecr)| TcpOption::Timestamps { tsval, tsecr }),
            proptest::collection::vec(any::<(u32, u32)>(), 1..=4).prop_map(|v| {
                let mut r = [None; 4];
                for (s, x) in r.iter_mut().zip(v) { *s = Some(x); }
                TcpOption::SackRange(r)
            }),
        ]) {
            let mut b = [0u8; 40];
            let n = o.emit(&mut b).unwrap();
            prop_assert_eq!(n, o.buffer_len());
            let (rest, back) = TcpOption::parse(&b[..n]).unwrap();
            prop_assert!(rest.is_empty());
            prop_assert_eq!(back, o);
        }
    }
}
