//! GENEVE (RFC 8926): a zero-copy view of the header that follows UDP port 6081, an
//! allocation-free iterator and emitter for its option TLVs, and a typed [`GeneveRepr`].
//!
//! Nothing here allocates or panics on any input. [`GeneveHeader::new_checked`] validates the
//! lengths once (the fixed header and the options it announces); on an unchecked view over a
//! short buffer, reads of missing bytes give zero and writes are dropped. Emission writes every
//! fixed header field (reserved bits as zero) and never trusts a reused buffer.
//!
//! ```
//! use wire::geneve::{GeneveHeader, GeneveOption, GeneveRepr};
//! let repr = GeneveRepr { version: 0, opt_len: 2, oam: false, critical: false, protocol: 0x6558, vni: 42 };
//! let mut buf = vec![0u8; repr.buffer_len()];
//! repr.emit(&mut GeneveHeader::new_unchecked(&mut buf[..]), |options| {
//!     GeneveOption { class: 0x0102, opt_type: 0x01, data: &[1, 2, 3, 4] }.emit(options).unwrap();
//! })
//! .unwrap();
//! let header = GeneveHeader::new_checked(&buf[..]).unwrap();
//! assert_eq!(GeneveRepr::parse(&header), Ok(repr));
//! let option = header.options_iter().next().unwrap().unwrap();
//! assert_eq!((option.class, option.data), (0x0102, &[1u8, 2, 3, 4][..]));
//! ```

use crate::bytes::{put_range as put, put_u8, u8_at, u16_at, u32_at};
use crate::{Error, Result};

mod field {
    use core::ops::Range;

    /// Version (2 bits) and options length in 4-byte words (6 bits).
    pub const VER_OPT_LEN: usize = 0;
    /// O (OAM) bit, C (critical options) bit, 6 reserved bits.
    pub const FLAGS: usize = 1;
    pub const PROTOCOL: Range<usize> = 2..4;
    pub const VNI: Range<usize> = 4..7;
    pub const RESERVED: usize = 7;
    pub const OPTIONS: usize = 8;

    /// Option TLV: class, type, 3 reserved bits and the data length in 4-byte words.
    pub const OPT_CLASS: Range<usize> = 0..2;
    pub const OPT_TYPE: usize = 2;
    pub const OPT_LEN: usize = 3;
    pub const OPT_DATA: usize = 4;
}

/// Length of the fixed GENEVE header.
pub const HEADER_LEN: usize = field::OPTIONS;

/// Largest VNI (24 bits).
pub const MAX_VNI: u32 = 0x00ff_ffff;

/// Largest options area (63 words).
pub const MAX_OPTIONS_LEN: usize = 63 * 4;

const FLAG_OAM: u8 = 0x80;
const FLAG_CRITICAL: u8 = 0x40;

/// A zero-copy view of a GENEVE header, its options and the tunnelled payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeneveHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> GeneveHeader<T> {
    /// Wraps a buffer without checking it: on a buffer too short for a field, reading it
    /// gives zero and writing it is dropped. Use it on buffers you sized yourself (for
    /// emission); untrusted bytes go through [`new_checked`](Self::new_checked).
    #[inline]
    pub const fn new_unchecked(buffer: T) -> Self {
        GeneveHeader { buffer }
    }

    /// Wraps a buffer after [`check_len`](Self::check_len): every field is then in the buffer.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self> {
        let header = Self::new_unchecked(buffer);
        header.check_len()?;
        Ok(header)
    }

    /// Checks that the fixed header and the options area it announces fit
    /// ([`Error::Truncated`] otherwise).
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN || self.header_len() > len {
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

    /// The version (0 is the only one defined).
    #[inline]
    pub fn version(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::VER_OPT_LEN) >> 6
    }

    /// The options length in 4-byte words.
    #[inline]
    pub fn opt_len(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::VER_OPT_LEN) & 0x3f
    }

    /// The options length in bytes.
    #[inline]
    pub fn options_len(&self) -> usize {
        usize::from(self.opt_len()) * 4
    }

    /// The header length in bytes, options included.
    #[inline]
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options_len()
    }

    /// The O bit: the packet is an OAM (control) message.
    #[inline]
    pub fn oam(&self) -> bool {
        u8_at(self.buffer.as_ref(), field::FLAGS) & FLAG_OAM != 0
    }

    /// The C bit: critical options are present.
    #[inline]
    pub fn critical(&self) -> bool {
        u8_at(self.buffer.as_ref(), field::FLAGS) & FLAG_CRITICAL != 0
    }

    /// The 6 reserved bits after O and C.
    #[inline]
    pub fn reserved0(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::FLAGS) & 0x3f
    }

    /// The protocol type of the payload, an ethertype (0x6558 for an Ethernet frame).
    #[inline]
    pub fn protocol(&self) -> u16 {
        u16_at(self.buffer.as_ref(), field::PROTOCOL.start)
    }

    /// The virtual network identifier (24 bits).
    #[inline]
    pub fn vni(&self) -> u32 {
        u32_at(self.buffer.as_ref(), field::VNI.start) >> 8
    }

    /// The reserved byte after the VNI.
    #[inline]
    pub fn reserved1(&self) -> u8 {
        u8_at(self.buffer.as_ref(), field::RESERVED)
    }

    /// The options area.
    #[inline]
    pub fn options(&self) -> &[u8] {
        let end = self.header_len();
        self.buffer.as_ref().get(field::OPTIONS..end).unwrap_or(&[])
    }

    /// Iterates over the option TLVs.
    #[inline]
    pub fn options_iter(&self) -> GeneveOptionsIter<'_> {
        GeneveOptionsIter::new(self.options())
    }

    /// The tunnelled payload after the options.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let start = self.header_len();
        self.buffer.as_ref().get(start..).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> GeneveHeader<T> {
    /// Sets the version (low 2 bits of `value`).
    #[inline]
    pub fn set_version(&mut self, value: u8) {
        self.update(field::VER_OPT_LEN, |b| (b & 0x3f) | ((value & 0x03) << 6));
    }

    /// Sets the options length in 4-byte words (low 6 bits of `value`).
    #[inline]
    pub fn set_opt_len(&mut self, value: u8) {
        self.update(field::VER_OPT_LEN, |b| (b & 0xc0) | (value & 0x3f));
    }

    /// Sets the O bit.
    #[inline]
    pub fn set_oam(&mut self, value: bool) {
        self.set_flag(FLAG_OAM, value);
    }

    /// Sets the C bit.
    #[inline]
    pub fn set_critical(&mut self, value: bool) {
        self.set_flag(FLAG_CRITICAL, value);
    }

    fn set_flag(&mut self, bit: u8, value: bool) {
        self.update(field::FLAGS, |b| if value { b | bit } else { b & !bit });
    }

    fn update(&mut self, at: usize, f: impl FnOnce(u8) -> u8) {
        let d = self.buffer.as_mut();
        put_u8(d, at, f(u8_at(d, at)));
    }

    /// Sets the 6 reserved bits after O and C (low 6 bits of `value`).
    #[inline]
    pub fn set_reserved0(&mut self, value: u8) {
        self.update(field::FLAGS, |b| (b & 0xc0) | (value & 0x3f));
    }

    /// Sets the protocol type.
    #[inline]
    pub fn set_protocol(&mut self, value: u16) {
        put(self.buffer.as_mut(), field::PROTOCOL, &value.to_be_bytes());
    }

    /// Sets the VNI (the high byte of `value` is ignored).
    #[inline]
    pub fn set_vni(&mut self, value: u32) {
        put(self.buffer.as_mut(), field::VNI, &value.to_be_bytes()[1..]);
    }

    /// Sets the reserved byte after the VNI.
    #[inline]
    pub fn set_reserved1(&mut self, value: u8) {
        put_u8(self.buffer.as_mut(), field::RESERVED, value);
    }

    /// The options area, mutable.
    #[inline]
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        self.buffer
            .as_mut()
            .get_mut(field::OPTIONS..end)
            .unwrap_or(&mut [])
    }

    /// The tunnelled payload, mutable.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        self.buffer.as_mut().get_mut(start..).unwrap_or(&mut [])
    }
}

/// One GENEVE option TLV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GeneveOption<'a> {
    /// The option class (the namespace for `opt_type`, IANA-assigned).
    pub class: u16,
    /// The type; its high bit marks the option critical.
    pub opt_type: u8,
    /// The option data (a multiple of 4 bytes, at most 124).
    pub data: &'a [u8],
}

impl<'a> GeneveOption<'a> {
    /// True when the type's high bit is set: a receiver that does not know the option must
    /// drop the packet.
    #[inline]
    pub const fn critical(&self) -> bool {
        self.opt_type & 0x80 != 0
    }

    /// Reads one option from the front of `buffer` and returns it with the rest of the
    /// buffer. Fails with [`Error::Malformed`] if fewer than 4 bytes remain or the data
    /// overruns the buffer. The 3 reserved bits are ignored.
    pub fn parse(buffer: &'a [u8]) -> Result<(&'a [u8], GeneveOption<'a>)> {
        let &[c0, c1, opt_type, len, ..] = buffer else {
            return Err(Error::Malformed("geneve option header cut short"));
        };
        let end = field::OPT_DATA + usize::from(len & 0x1f) * 4;
        let (opt, rest) = buffer
            .split_at_checked(end)
            .ok_or(Error::Malformed("geneve option overruns options"))?;
        Ok((
            rest,
            GeneveOption {
                class: u16::from_be_bytes([c0, c1]),
                opt_type,
                data: &opt[field::OPT_DATA..],
            },
        ))
    }

    /// Number of bytes [`emit`](Self::emit) writes.
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        field::OPT_DATA + self.data.len()
    }

    /// Writes the option at the front of `buffer` (reserved bits zero) and returns the
    /// number of bytes written. Fails with [`Error::Malformed`] if the data is not a
    /// multiple of 4 bytes or longer than 124, or [`Error::Truncated`] if `buffer` is too
    /// short.
    pub fn emit(&self, buffer: &mut [u8]) -> Result<usize> {
        if !self.data.len().is_multiple_of(4) || self.data.len() > 31 * 4 {
            return Err(Error::Malformed("geneve option data length"));
        }
        let len = self.buffer_len();
        let out = buffer.get_mut(..len).ok_or(Error::Truncated)?;
        out[field::OPT_CLASS].copy_from_slice(&self.class.to_be_bytes());
        out[field::OPT_TYPE] = self.opt_type;
        out[field::OPT_LEN] = (self.data.len() / 4) as u8;
        out[field::OPT_DATA..].copy_from_slice(self.data);
        Ok(len)
    }
}

/// Iterates over GENEVE option TLVs without allocating.
///
/// Yields `Ok` for each option, or one `Err` for a malformed one, after which it stops.
#[derive(Debug, Clone)]
pub struct GeneveOptionsIter<'a> {
    rest: &'a [u8],
}

impl<'a> GeneveOptionsIter<'a> {
    /// Iterates over `options` (the options area of a header).
    #[inline]
    pub const fn new(options: &'a [u8]) -> Self {
        GeneveOptionsIter { rest: options }
    }
}

impl<'a> Iterator for GeneveOptionsIter<'a> {
    type Item = Result<GeneveOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match GeneveOption::parse(self.rest) {
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

impl core::iter::FusedIterator for GeneveOptionsIter<'_> {}

/// A parsed GENEVE header. The options are not copied: they sit in the `4 * opt_len` bytes
/// after the fixed header (see [`GeneveHeader::options_iter`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GeneveRepr {
    /// Version (always 0 after a successful parse; any 2-bit value can be emitted).
    pub version: u8,
    /// Options length in 4-byte words (at most 63).
    pub opt_len: u8,
    /// O bit: OAM packet.
    pub oam: bool,
    /// C bit: critical options present.
    pub critical: bool,
    /// Protocol type of the payload (an ethertype).
    pub protocol: u16,
    /// Virtual network identifier (24 bits).
    pub vni: u32,
}

impl GeneveRepr {
    /// Reads a GENEVE header. Fails with [`Error::Truncated`] if it or its options do not
    /// fit, or [`Error::Malformed`] for a version other than 0 (RFC 8926 says to drop it).
    /// Reserved bits are ignored; the options are not read.
    pub fn parse<T: AsRef<[u8]>>(header: &GeneveHeader<T>) -> Result<GeneveRepr> {
        header.check_len()?;
        if header.version() != 0 {
            return Err(Error::Malformed("geneve version not 0"));
        }
        Ok(GeneveRepr {
            version: header.version(),
            opt_len: header.opt_len(),
            oam: header.oam(),
            critical: header.critical(),
            protocol: header.protocol(),
            vni: header.vni(),
        })
    }

    /// Length of the header [`emit`](Self::emit) writes, options included.
    #[inline]
    pub const fn header_len(&self) -> usize {
        HEADER_LEN + self.opt_len as usize * 4
    }

    /// Number of bytes [`emit`](Self::emit) writes: the header with its options (the
    /// payload is the caller's).
    #[inline]
    pub const fn buffer_len(&self) -> usize {
        self.header_len()
    }

    /// Writes the fixed header (reserved bits zero) into `header`, then lets
    /// `fill_options` write the `4 * opt_len` option bytes (bytes it leaves alone are sent as
    /// they are, so `|_| {}` keeps options already in place; see [`GeneveOption::emit`]).
    ///
    /// Fails with [`Error::Malformed`] if the version does not fit 2 bits, `opt_len` 6 bits
    /// or the VNI 24 bits, or [`Error::Truncated`] if the buffer is too short.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        header: &mut GeneveHeader<T>,
        fill_options: impl FnOnce(&mut [u8]),
    ) -> Result<()> {
        if self.version > 3 {
            return Err(Error::Malformed("geneve version over 2 bits"));
        }
        if self.opt_len > 63 {
            return Err(Error::Malformed("geneve options length over 6 bits"));
        }
        if self.vni > MAX_VNI {
            return Err(Error::Malformed("geneve vni over 24 bits"));
        }
        if header.buffer.as_ref().len() < self.header_len() {
            return Err(Error::Truncated);
        }
        put_u8(
            header.buffer.as_mut(),
            field::VER_OPT_LEN,
            (self.version << 6) | self.opt_len,
        );
        put_u8(header.buffer.as_mut(), field::FLAGS, 0);
        header.set_oam(self.oam);
        header.set_critical(self.critical);
        header.set_protocol(self.protocol);
        header.set_vni(self.vni);
        header.set_reserved1(0);
        fill_options(header.options_mut());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ethertype;
    use proptest::prelude::*;

    /// A GENEVE header as RFC 8926 lays it out: VNI 0x123456, C bit, Ethernet payload, one
    /// critical option (class 0x0102, type 0x80, 4 bytes) and one empty option (class
    /// 0xffff, type 0x01), then the start of the inner frame.
    const PACKET: [u8; 24] = [
        0x03, 0x40, 0x65, 0x58, 0x12, 0x34, 0x56, 0x00, // fixed header, 3 option words
        0x01, 0x02, 0x80, 0x01, 0xde, 0xad, 0xbe, 0xef, // option 1
        0xff, 0xff, 0x01, 0x00, // option 2
        0x02, 0x00, 0x00, 0x01, // inner frame
    ];

    #[test]
    fn parses_and_emits() {
        let h = GeneveHeader::new_checked(&PACKET[..]).unwrap();
        assert_eq!((h.version(), h.opt_len(), h.header_len()), (0, 3, 20));
        assert!(!h.oam() && h.critical());
        assert_eq!((h.reserved0(), h.reserved1()), (0, 0));
        assert_eq!((h.protocol(), h.vni()), (ethertype::TEB, 0x12_3456));
        assert_eq!(h.payload(), &[2, 0, 0, 1]);
        let opts: Vec<_> = h.options_iter().map(|o| o.unwrap()).collect();
        let want = [
            GeneveOption {
                class: 0x0102,
                opt_type: 0x80,
                data: &[0xde, 0xad, 0xbe, 0xef],
            },
            GeneveOption {
                class: 0xffff,
                opt_type: 0x01,
                data: &[],
            },
        ];
        assert_eq!(opts, want);
        assert!(opts[0].critical() && !opts[1].critical());
        let repr = GeneveRepr::parse(&h).unwrap();
        assert_eq!(
            repr,
            GeneveRepr {
                version: 0,
                opt_len: 3,
                oam: false,
                critical: true,
                protocol: ethertype::TEB,
                vni: 0x12_3456
            }
        );
        let mut out = [0xffu8; 24];
        out[20..].copy_from_slice(&PACKET[20..]);
        repr.emit(&mut GeneveHeader::new_unchecked(&mut out[..]), |o| {
            let n = want[0].emit(o).unwrap();
            want[1].emit(&mut o[n..]).unwrap();
        })
        .unwrap();
        assert_eq!(out, PACKET);
    }

    #[test]
    fn version_must_be_zero() {
        let mut b = PACKET;
        b[0] |= 0x40;
        let h = GeneveHeader::new_checked(&b[..]).unwrap();
        assert_eq!(h.version(), 1);
        assert_eq!(
            GeneveRepr::parse(&h),
            Err(Error::Malformed("geneve version not 0"))
        );
    }

    #[test]
    fn setters_cover_every_field() {
        let mut b = [0u8; 8];
        let mut h = GeneveHeader::new_unchecked(&mut b[..]);
        h.set_version(2);
        h.set_opt_len(0x3f);
        h.set_oam(true);
        h.set_critical(true);
        h.set_reserved0(0x15);
        h.set_protocol(0x86dd);
        h.set_vni(0xaa_bbcc);
        h.set_reserved1(7);
        assert_eq!(b, [0xbf, 0xd5, 0x86, 0xdd, 0xaa, 0xbb, 0xcc, 7]);
        let mut h = GeneveHeader::new_unchecked(&mut b[..]);
        h.set_oam(false);
        h.set_version(0);
        assert_eq!(&b[..2], &[0x3f, 0x55]);
    }

    #[test]
    fn bad_options() {
        let cases: [(&[u8], &str); 2] = [
            (&[0, 1, 2], "geneve option header cut short"),
            (&[0, 1, 2, 2, 0, 0, 0, 0], "geneve option overruns options"),
        ];
        for (bytes, what) in cases {
            let mut it = GeneveOptionsIter::new(bytes);
            assert_eq!(it.next(), Some(Err(Error::Malformed(what))));
            assert_eq!(it.next(), None);
        }
        let mut out = [0u8; 200];
        assert!(
            GeneveOption {
                class: 1,
                opt_type: 1,
                data: &[1, 2, 3]
            }
            .emit(&mut out)
            .is_err()
        );
        assert!(
            GeneveOption {
                class: 1,
                opt_type: 1,
                data: &[0; 128]
            }
            .emit(&mut out)
            .is_err()
        );
        assert_eq!(
            GeneveOption {
                class: 1,
                opt_type: 1,
                data: &[0; 4]
            }
            .emit(&mut out[..7]),
            Err(Error::Truncated)
        );
    }

    #[test]
    fn unchecked_short_buffers_never_panic() {
        for n in 0..HEADER_LEN {
            let mut b = vec![0xffu8; n];
            let mut h = GeneveHeader::new_unchecked(&mut b[..]);
            h.set_version(1);
            h.set_opt_len(2);
            h.set_oam(true);
            h.set_critical(false);
            h.set_reserved0(3);
            h.set_protocol(4);
            h.set_vni(5);
            h.set_reserved1(6);
            let _ = (h.options_mut().len(), h.payload_mut().len());
            let _ = (
                h.version(),
                h.opt_len(),
                h.oam(),
                h.critical(),
                h.reserved0(),
            );
            let _ = (
                h.protocol(),
                h.vni(),
                h.reserved1(),
                h.options(),
                h.payload(),
            );
            let _ = (h.header_len(), h.options_iter().count());
        }
    }

    #[test]
    fn truncated_at_every_length() {
        for n in 0..20 {
            assert_eq!(
                GeneveHeader::new_checked(&PACKET[..n]).unwrap_err(),
                Error::Truncated,
                "len {n}"
            );
            assert_eq!(
                GeneveRepr::parse(&GeneveHeader::new_unchecked(&PACKET[..n])),
                Err(Error::Truncated)
            );
        }
        let repr = GeneveRepr::parse(&GeneveHeader::new_checked(&PACKET[..]).unwrap()).unwrap();
        let mut b = [0u8; 19];
        assert_eq!(
            repr.emit(&mut GeneveHeader::new_unchecked(&mut b[..]), |_| {}),
            Err(Error::Truncated)
        );
        for bad in [
            GeneveRepr { version: 4, ..repr },
            GeneveRepr {
                opt_len: 64,
                ..repr
            },
            GeneveRepr {
                vni: 1 << 24,
                ..repr
            },
        ] {
            let mut b = [0u8; 300];
            assert!(matches!(
                bad.emit(&mut GeneveHeader::new_unchecked(&mut b[..]), |_| {}),
                Err(Error::Malformed(_))
            ));
        }
    }

    prop_compose! {
        fn arb_repr()(
            opt_len in 0u8..=63,
            oam in any::<bool>(),
            critical in any::<bool>(),
            protocol in any::<u16>(),
            vni in 0..=MAX_VNI,
        ) -> GeneveRepr {
            GeneveRepr { version: 0, opt_len, oam, critical, protocol, vni }
        }
    }

    proptest! {
        #[test]
        fn repr_round_trips(repr in arb_repr(), junk in any::<u8>()) {
            let mut b = vec![junk; repr.buffer_len()];
            repr.emit(&mut GeneveHeader::new_unchecked(&mut b[..]), |o| {
                // Fill with 4-byte empty options.
                for chunk in o.chunks_exact_mut(4) {
                    GeneveOption { class: 0x0101, opt_type: 7, data: &[] }.emit(chunk).unwrap();
                }
            }).unwrap();
            let h = GeneveHeader::new_checked(&b[..]).unwrap();
            prop_assert_eq!((h.reserved0(), h.reserved1()), (0, 0));
            prop_assert_eq!(GeneveRepr::parse(&h).unwrap(), repr);
            prop_assert_eq!(h.options_iter().count(), usize::from(repr.opt_len));
            prop_assert!(h.options_iter().all(|o| o.is_ok()));
        }

        #[test]
        fn option_round_trips(class in any::<u16>(), opt_type in any::<u8>(), words in 0usize..=31, fill in any::<u8>()) {
            let data = vec![fill; words * 4];
            let o = GeneveOption { class, opt_type, data: &data };
            let mut b = [0u8; 128];
            let n = o.emit(&mut b).unwrap();
            let (rest, back) = GeneveOption::parse(&b[..n]).unwrap();
            prop_assert!(rest.is_empty());
            prop_assert_eq!(back, o);
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(h) = GeneveHeader::new_checked(&b[..]) {
                let _ = (h.version(), h.opt_len(), h.oam(), h.critical(), h.reserved0());
                let _ = (h.protocol(), h.vni(), h.reserved1(), h.options(), h.payload());
                let _ = h.options_iter().count();
                let _ = GeneveRepr::parse(&h);
            }
            let _ = GeneveRepr::parse(&GeneveHeader::new_unchecked(&b[..]));
            let _ = GeneveOptionsIter::new(&b).count();
        }
    }
}
