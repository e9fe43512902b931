//! The flow key: the 64 bytes of a packet's headers that the flow table matches on; the mask
//! of a megaflow over those bytes; and the wildcard tracker the slow path fills in while it
//! decides, so the installed megaflow is as wide as the decision allows.
//!
//! [`FlowKey::extract`] runs once per packet on the hot path: it must never allocate, never
//! panic on any frame (even one that does not match its [`ParsedPacket`]), and it builds the key
//! in registers and stores it as eight whole words. (The C reference bench measured 19-23 ns
//! instead of 12 ns for an EMC hit when the key was written field by field: the hash's 64-bit
//! loads then stall on the pending narrow stores.)
//!
//! # Layout
//!
//! The key is a fixed 64-byte image; multi-byte fields are in network byte order, as on the
//! wire. Word `i` is bytes `8i..8i+8` read little-endian, so on x86 and arm64 a word is a plain
//! load of the image and a field's bytes sit where the packet has them.
//!
//! | bytes | field | notes |
//! |---|---|---|
//! | 0-1 | `in_port` | |
//! | 2-3 | outer VLAN TCI | PCP, DEI and VID as on the wire |
//! | 4-5 | inner VLAN TCI | QinQ: the second tag |
//! | 6-7 | `dl_type` | the innermost ethertype |
//! | 8-13 | `dl_dst` | |
//! | 14 | `nw_proto` | IP protocol (last IPv6 next header); ARP: the opcode if it is below 256 |
//! | 15 | `nw_frag` | bit 0: a fragment; bit 1: not the first (as OVS) |
//! | 16-21 | `dl_src` | |
//! | 22-23 | `tp_src` | TCP/UDP source port; ICMP/ICMPv6 type |
//! | 24-25 | `tp_dst` | TCP/UDP destination port; ICMP/ICMPv6 code |
//! | 26 | VLAN flags | bit 0: outer tag present; bit 1: inner tag present |
//! | 27-31 | reserved | always zero |
//! | 32-47 | `nw_src` | IPv6 address; IPv4 (and ARP SPA) in bytes 32-35, bytes 36-47 zero |
//! | 48-63 | `nw_dst` | likewise (ARP TPA) |
//!
//! IPv4 addresses use the *first-four-bytes* layout, not v4-mapped: an IPv4 prefix then touches
//! one word, and a prefix mask has the same shape for both families. IPv4 and IPv6 keys are told
//! apart by `dl_type`, which [`Wildcards`] always unwildcards together with an address.
//!
//! The TTL and TCP flags are *not* in the key: a megaflow must not split on them. VLAN presence
//! has its own flag bits, so a priority-tagged frame (TCI 0) differs from an untagged one and the
//! DEI bit is kept.

use core::fmt;

use wire::{Anomalies, Fragment, L3, L4, ParsedPacket, ethertype, ip_proto};

use crate::PortId;

/// Byte offsets of the fields in the key image (see the module docs for the table).
pub mod field {
    /// `in_port`, 2 bytes.
    pub const IN_PORT: usize = 0;
    /// Outer VLAN TCI, 2 bytes.
    pub const VLAN_TCI: usize = 2;
    /// Inner VLAN TCI, 2 bytes.
    pub const INNER_VLAN_TCI: usize = 4;
    /// `dl_type`, 2 bytes.
    pub const DL_TYPE: usize = 6;
    /// `dl_dst`, 6 bytes.
    pub const DL_DST: usize = 8;
    /// `nw_proto`, 1 byte.
    pub const NW_PROTO: usize = 14;
    /// `nw_frag`, 1 byte.
    pub const NW_FRAG: usize = 15;
    /// `dl_src`, 6 bytes.
    pub const DL_SRC: usize = 16;
    /// `tp_src`, 2 bytes.
    pub const TP_SRC: usize = 22;
    /// `tp_dst`, 2 bytes.
    pub const TP_DST: usize = 24;
    /// VLAN presence flags, 1 byte.
    pub const VLAN_FLAGS: usize = 26;
    /// `nw_src`, 16 bytes.
    pub const NW_SRC: usize = 32;
    /// `nw_dst`, 16 bytes.
    pub const NW_DST: usize = 48;
    /// Bit in the `VLAN_FLAGS` byte: an outer tag is present.
    pub const VLAN_PRESENT: u8 = 1;
    /// Bit in the `VLAN_FLAGS` byte: an inner tag is present.
    pub const INNER_VLAN_PRESENT: u8 = 2;
}

/// Where a packet sits in a fragmented IP datagram, as encoded in the key's `nw_frag` byte.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum NwFrag {
    /// Not a fragment.
    #[default]
    None,
    /// The first fragment (offset zero, more fragments): it carries the transport header.
    First,
    /// A later fragment: no transport header, ports are zero.
    Later,
}

impl NwFrag {
    /// Bit 0 of `nw_frag`: the packet is a fragment.
    pub const ANY: u8 = 1;
    /// Bit 1 of `nw_frag`: the packet is a non-first fragment.
    pub const LATER: u8 = 2;

    /// The key encoding.
    #[inline]
    pub fn bits(self) -> u8 {
        match self {
            NwFrag::None => 0,
            NwFrag::First => Self::ANY,
            NwFrag::Later => Self::ANY | Self::LATER,
        }
    }

    /// Decodes the key encoding (bit 1 alone is read as `Later`).
    #[inline]
    pub fn from_bits(b: u8) -> NwFrag {
        if b & Self::LATER != 0 {
            NwFrag::Later
        } else if b & Self::ANY != 0 {
            NwFrag::First
        } else {
            NwFrag::None
        }
    }
}

impl From<Fragment> for NwFrag {
    fn from(f: Fragment) -> NwFrag {
        match f {
            Fragment::No => NwFrag::None,
            Fragment::First => NwFrag::First,
            Fragment::Later => NwFrag::Later,
        }
    }
}

/// A field of the flow key, as masks and the wildcard tracker name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// The ingress port.
    InPort,
    /// The outer VLAN tag: its TCI and its presence bit.
    Vlan,
    /// The inner (QinQ) VLAN tag: its TCI and its presence bit.
    InnerVlan,
    /// The source MAC.
    DlSrc,
    /// The destination MAC.
    DlDst,
    /// The innermost ethertype.
    DlType,
    /// The 16-byte source address field.
    NwSrc,
    /// The 16-byte destination address field.
    NwDst,
    /// The IP protocol (ARP opcode).
    NwProto,
    /// The fragment state.
    NwFrag,
    /// The transport source port (ICMP type).
    TpSrc,
    /// The transport destination port (ICMP code).
    TpDst,
}

impl Field {
    /// Every field, in key order.
    pub const ALL: [Field; 12] = [
        Field::InPort,
        Field::Vlan,
        Field::InnerVlan,
        Field::DlType,
        Field::DlDst,
        Field::NwProto,
        Field::NwFrag,
        Field::DlSrc,
        Field::TpSrc,
        Field::TpDst,
        Field::NwSrc,
        Field::NwDst,
    ];

    /// The lower-case name used in logs and dumps.
    pub fn name(self) -> &'static str {
        match self {
            Field::InPort => "in_port",
            Field::Vlan => "vlan",
            Field::InnerVlan => "inner_vlan",
            Field::DlSrc => "dl_src",
            Field::DlDst => "dl_dst",
            Field::DlType => "dl_type",
            Field::NwSrc => "nw_src",
            Field::NwDst => "nw_dst",
            Field::NwProto => "nw_proto",
            Field::NwFrag => "nw_frag",
            Field::TpSrc => "tp_src",
            Field::TpDst => "tp_dst",
        }
    }

    /// The bits of the key this field occupies.
    #[inline]
    pub const fn mask(self) -> FlowMask {
        let w = match self {
            Field::InPort => bytes_mask([0; 8], field::IN_PORT, 2),
            Field::Vlan => bit_mask(
                bytes_mask([0; 8], field::VLAN_TCI, 2),
                field::VLAN_FLAGS,
                field::VLAN_PRESENT,
            ),
            Field::InnerVlan => bit_mask(
                bytes_mask([0; 8], field::INNER_VLAN_TCI, 2),
                field::VLAN_FLAGS,
                field::INNER_VLAN_PRESENT,
            ),
            Field::DlSrc => bytes_mask([0; 8], field::DL_SRC, 6),
            Field::DlDst => bytes_mask([0; 8], field::DL_DST, 6),
            Field::DlType => bytes_mask([0; 8], field::DL_TYPE, 2),
            Field::NwSrc => bytes_mask([0; 8], field::NW_SRC, 16),
            Field::NwDst => bytes_mask([0; 8], field::NW_DST, 16),
            Field::NwProto => bytes_mask([0; 8], field::NW_PROTO, 1),
            Field::NwFrag => bytes_mask([0; 8], field::NW_FRAG, 1),
            Field::TpSrc => bytes_mask([0; 8], field::TP_SRC, 2),
            Field::TpDst => bytes_mask([0; 8], field::TP_DST, 2),
        };
        FlowMask { w }
    }

    /// Fields whose meaning depends on this one, which [`Wildcards::read`] unwildcards with it
    /// (as OVS's prerequisites): an address or protocol is only meaningful under its `dl_type`,
    /// a port only under its protocol and fragment state.
    pub const fn prerequisites(self) -> &'static [Field] {
        match self {
            Field::NwSrc | Field::NwDst | Field::NwProto | Field::NwFrag => &[Field::DlType],
            Field::TpSrc | Field::TpDst => &[Field::DlType, Field::NwProto, Field::NwFrag],
            Field::InnerVlan => &[Field::Vlan],
            _ => &[],
        }
    }
}

/// Sets `len` whole bytes from byte `start` of a key image held as words.
const fn bytes_mask(mut w: [u64; 8], start: usize, len: usize) -> [u64; 8] {
    let mut i = start;
    while i < start + len {
        w[i / 8] |= 0xff << ((i % 8) * 8);
        i += 1;
    }
    w
}

/// Sets the bits `bits` of byte `at` of a key image held as words.
const fn bit_mask(mut w: [u64; 8], at: usize, bits: u8) -> [u64; 8] {
    w[at / 8] |= (bits as u64) << ((at % 8) * 8);
    w
}

/// True for the ethertypes that introduce a VLAN tag (as [`wire::parse_packet`] walks them).
#[inline(always)]
fn is_vlan_tpid(et: u16) -> bool {
    matches!(et, ethertype::VLAN | ethertype::QINQ | ethertype::QINQ_OLD)
}

/// A 16-bit value in network byte order at byte `at` of a word (`at` < 7).
#[inline(always)]
const fn put16(v: u16, at: u32) -> u64 {
    (v.swap_bytes() as u64) << (at * 8)
}

/// Reads the key image word at `at` of `frame`, keeping the low `n` bytes; bytes past the end of
/// `frame` read as zero.
#[inline(always)]
fn load_word(frame: &[u8], at: usize, n: u32) -> u64 {
    let keep = if n >= 8 {
        u64::MAX
    } else {
        (1u64 << (n * 8)) - 1
    };
    if let Some(Ok(b)) = frame.get(at..at + 8).map(<[u8; 8]>::try_from) {
        return u64::from_le_bytes(b) & keep;
    }
    let mut v = 0u64;
    for i in 0..n as usize {
        if let Some(&b) = frame.get(at + i) {
            v |= u64::from(b) << (i * 8);
        }
    }
    v
}

/// A 4-byte field of `frame` at `at` as the low half of a key word; zero if out of range.
#[inline(always)]
fn load_u32(frame: &[u8], at: usize) -> u64 {
    match frame.get(at..at + 4).map(<[u8; 4]>::try_from) {
        Some(Ok(b)) => u64::from(u32::from_le_bytes(b)),
        _ => 0,
    }
}

/// The first six bytes of a word: a MAC address.
const MAC48: u64 = (1 << 48) - 1;

/// The eight bytes at `at` of a fixed-size block, little-endian (0 past its end: never, for
/// the constant offsets used, which fold away).
#[inline(always)]
fn le_u64<const N: usize>(b: &[u8; N], at: usize) -> u64 {
    b.get(at..at + 8)
        .and_then(|s| <[u8; 8]>::try_from(s).ok())
        .map_or(0, u64::from_le_bytes)
}

/// The four bytes at `at` of a fixed-size block, little-endian, widened.
#[inline(always)]
fn le_u32<const N: usize>(b: &[u8; N], at: usize) -> u64 {
    b.get(at..at + 4)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map_or(0, |x| u64::from(u32::from_le_bytes(x)))
}

/// The folded 64x64->128 multiply at the heart of the hash (as in foldhash/wyhash).
#[inline(always)]
const fn fold_mul(x: u64, y: u64) -> u64 {
    let r = (x as u128) * (y as u128);
    (r as u64) ^ ((r >> 64) as u64)
}

/// The last step of [`HashSeed::hash_words`]: the four products, rotated apart, folded to 32
/// bits.
#[inline(always)]
const fn combine(a: u64, b: u64, c: u64, d: u64) -> u32 {
    let h = a ^ b.rotate_left(16) ^ c.rotate_left(32) ^ d.rotate_left(48);
    (h ^ (h >> 32)) as u32
}

/// The products [`HashSeed::hash_words`] computes for a pair of zero words.
const fn zero_pairs(k: &[u64; 9]) -> [u64; 4] {
    [
        fold_mul(k[0], k[1]),
        fold_mul(k[2], k[3]),
        fold_mul(k[4], k[5]),
        fold_mul(k[6], k[7] ^ k[8]),
    ]
}

/// Secrets of the key hash, derived from a seed. Each half of each multiply is xored with a
/// secret, so a key word cannot zero a product unless the secrets are known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashSeed {
    k: [u64; 9],
    /// The product of each word pair when both words are zero (see `hash_masked_pairs`).
    z: [u64; 4],
}

/// Digits of pi: arbitrary, public constants.
const PI: [u64; 9] = [
    0x243f_6a88_85a3_08d3,
    0x1319_8a2e_0370_7344,
    0xa409_3822_299f_31d0,
    0x082e_fa98_ec4e_6c89,
    0x4528_21e6_38d0_1377,
    0xbe54_66cf_34e9_0c6c,
    0xc0ac_29b7_c97c_50dd,
    0x3f84_d5b5_b547_0917,
    0x9216_d5d9_8979_fb1b,
];

impl HashSeed {
    /// The fixed seed of [`FlowKey::hash`] and [`FlowKey::symmetric_hash`].
    pub const DEFAULT: HashSeed = HashSeed {
        k: PI,
        z: zero_pairs(&PI),
    };

    /// Secrets derived from `seed` (use a random one per table so that colliding keys cannot
    /// be crafted from outside).
    pub fn new(seed: u64) -> HashSeed {
        let mut k = PI;
        let mut s = seed;
        for (i, k) in k.iter_mut().enumerate() {
            s = fold_mul(s ^ PI[(i + 3) % 9], PI[i] | 1).wrapping_add(i as u64);
            *k ^= s;
        }
        HashSeed {
            z: zero_pairs(&k),
            k,
        }
    }

    /// A seed from the process's random hasher keys (std's `RandomState`): different per table.
    pub fn random() -> HashSeed {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0x5eed);
        HashSeed::new(h.finish())
    }

    /// Hashes eight words: four independent multiplies (each pair of words xored with
    /// secrets, the 128-bit product folded), combined with rotations and folded to 32 bits.
    #[inline(always)]
    pub fn hash_words(&self, w: &[u64; 8]) -> u32 {
        let k = &self.k;
        let a = fold_mul(w[0] ^ k[0], w[1] ^ k[1]);
        let b = fold_mul(w[2] ^ k[2], w[3] ^ k[3]);
        let c = fold_mul(w[4] ^ k[4], w[5] ^ k[5]);
        let d = fold_mul(w[6] ^ k[6], w[7] ^ k[7] ^ k[8]);
        combine(a, b, c, d)
    }

    /// Hashes `key & mask` without materialising it elsewhere.
    #[inline(always)]
    pub fn hash_masked(&self, key: &FlowKey, mask: &FlowMask) -> u32 {
        let mut m = [0u64; 8];
        for (o, (k, m2)) in m.iter_mut().zip(key.w.iter().zip(mask.w.iter())) {
            *o = k & m2;
        }
        self.hash_words(&m)
    }

    /// Which word pairs of `mask` have a bit set: bit `p` for words `2p` and `2p + 1`.
    #[inline]
    pub fn active_pairs(mask: &FlowMask) -> u8 {
        let w = &mask.w;
        (0..4).fold(0u8, |a, p| {
            a | (u8::from(w[2 * p] | w[2 * p + 1] != 0) << p)
        })
    }

    /// [`HashSeed::hash_masked`] for a mask whose [`HashSeed::active_pairs`] are `active`: the
    /// product of a pair the mask leaves out entirely is a constant of the seed, so only the
    /// other pairs are multiplied (a megaflow mask seldom covers all four). Equal to
    /// `hash_masked(key, mask)` whenever `active` is right for `mask`.
    #[inline(always)]
    pub fn hash_masked_pairs(&self, key: &FlowKey, mask: &FlowMask, active: u8) -> u32 {
        let (k, w, m) = (&self.k, &key.w, &mask.w);
        let a = if active & 1 != 0 {
            fold_mul((w[0] & m[0]) ^ k[0], (w[1] & m[1]) ^ k[1])
        } else {
            self.z[0]
        };
        let b = if active & 2 != 0 {
            fold_mul((w[2] & m[2]) ^ k[2], (w[3] & m[3]) ^ k[3])
        } else {
            self.z[1]
        };
        let c = if active & 4 != 0 {
            fold_mul((w[4] & m[4]) ^ k[4], (w[5] & m[5]) ^ k[5])
        } else {
            self.z[2]
        };
        let d = if active & 8 != 0 {
            fold_mul((w[6] & m[6]) ^ k[6], (w[7] & m[7]) ^ k[7] ^ k[8])
        } else {
            self.z[3]
        };
        combine(a, b, c, d)
    }

    /// Hashes a key.
    #[inline(always)]
    pub fn hash_key(&self, key: &FlowKey) -> u32 {
        self.hash_words(&key.w)
    }
}

/// The 64-byte flow key (see the module docs for the layout).
#[derive(Clone, Copy, Default, Eq)]
#[repr(C, align(64))]
pub struct FlowKey {
    w: [u64; 8],
}

const _: () = assert!(size_of::<FlowKey>() == 64);

impl PartialEq for FlowKey {
    /// Branch-free over the eight words (the derived comparison calls `memcmp`, which showed
    /// up as a fifth of an EMC hit).
    #[inline(always)]
    fn eq(&self, o: &FlowKey) -> bool {
        let mut d = 0u64;
        for (a, b) in self.w.iter().zip(o.w.iter()) {
            d |= a ^ b;
        }
        d == 0
    }
}

impl core::hash::Hash for FlowKey {
    fn hash<H: core::hash::Hasher>(&self, h: &mut H) {
        self.w.hash(h);
    }
}

impl FlowKey {
    /// The key of a parsed frame arriving on `in_port`.
    ///
    /// Reads only the fields `p` says are present, and bounds-checks every read anyway, so a
    /// `ParsedPacket` that does not belong to `frame` gives a wrong key but never a panic.
    /// Non-Ethernet frames (raw IP, Linux cooked capture) get zero MACs.
    #[inline]
    pub fn extract(in_port: PortId, frame: &[u8], p: &ParsedPacket) -> FlowKey {
        let mut w0 = put16(in_port, 0) | put16(p.ethertype, 6);
        let mut w3 = 0u64;
        if p.vlan_count > 0 {
            w0 |= put16(p.vlans[0].tci, 2);
            w3 |= u64::from(field::VLAN_PRESENT) << 16;
            if p.vlan_count > 1 {
                w0 |= put16(p.vlans[1].tci, 4);
                w3 |= u64::from(field::INNER_VLAN_PRESENT) << 16;
            }
        }
        let (mut w1, mut w2) = if p.has_ethernet {
            (load_word(frame, 0, 6), load_word(frame, 6, 6))
        } else {
            (0, 0)
        };
        let (mut w4, mut w5, mut w6, mut w7) = (0u64, 0u64, 0u64, 0u64);
        let mut proto = 0u8;
        let frag = NwFrag::from(p.fragment).bits();
        let o = usize::from(p.l3_offset);
        let bad_ip = p.anomalies.contains(Anomalies::IP_BAD_VERSION)
            || p.anomalies.contains(Anomalies::IPV4_BAD_IHL);
        match p.l3 {
            L3::Ipv4 if !bad_ip => {
                w4 = load_u32(frame, o + 12);
                w6 = load_u32(frame, o + 16);
                proto = p.ip_proto;
            }
            L3::Ipv6 if !bad_ip => {
                if frame.len() >= o + 40 {
                    w4 = load_word(frame, o + 8, 8);
                    w5 = load_word(frame, o + 16, 8);
                    w6 = load_word(frame, o + 24, 8);
                    w7 = load_word(frame, o + 32, 8);
                }
                proto = p.ip_proto;
            }
            L3::Arp => {
                // Ethernet/IPv4 ARP only, as OVS: opcode in nw_proto, SPA/TPA as addresses.
                if let Some(a) = frame.get(o..o + 28)
                    && a[0..6] == [0, 1, 0x08, 0x00, 6, 4]
                {
                    let op = u16::from_be_bytes([a[6], a[7]]);
                    proto = u8::try_from(op).unwrap_or(0);
                    w4 = load_u32(frame, o + 14);
                    w6 = load_u32(frame, o + 24);
                }
            }
            _ => {}
        }
        let (tp_src, tp_dst) = match p.l4 {
            L4::Tcp | L4::Udp | L4::Icmpv4 | L4::Icmpv6 => (p.src_port, p.dst_port),
            _ => (0, 0),
        };
        let frag = if matches!(p.l3, L3::Ipv4 | L3::Ipv6) {
            frag
        } else {
            0
        };
        w1 |= (u64::from(proto) << 48) | (u64::from(frag) << 56);
        w2 |= put16(tp_src, 6);
        w3 |= put16(tp_dst, 0);
        FlowKey {
            w: [w0, w1, w2, w3, w4, w5, w6, w7],
        }
    }

    /// The key and TCP flags of an Ethernet frame arriving on `in_port`, read straight from the
    /// bytes with no [`ParsedPacket`] in between: the datapath's per-packet path.
    ///
    /// Handles the shapes nearly all traffic has: up to two VLAN tags, then IPv4 without options,
    /// IPv6 without extension headers (TCP, UDP, ICMP, ICMPv6 or anything else), ARP, or any
    /// other ethertype. Everything else (IPv4 options or bad header fields, IPv6 extension
    /// headers, a third VLAN tag, a frame cut inside the Ethernet, VLAN or IP header) gives
    /// `None`: parse the frame and use [`FlowKey::extract`]. Whenever it gives a key, that key
    /// and the TCP flags are exactly those of `FlowKey::extract(in_port, frame,
    /// &parse_packet(frame))` and `parse_packet(frame).tcp_flags` (a property test holds the two
    /// to that on generated and random frames). Never panics, never allocates.
    // Always inlined: as a call it returns the 80-byte answer through memory, which cost more
    // than half the function again (callgrind).
    #[inline(always)]
    pub fn from_frame(in_port: PortId, f: &[u8]) -> Option<(FlowKey, u16)> {
        if let Some(k) = Self::from_plain_ipv4_frame(in_port, f) {
            return Some(k);
        }
        Self::from_frame_general(in_port, f)
    }

    /// [`FlowKey::from_frame`] without its plain-IPv4 shortcut.
    #[inline(always)]
    fn from_frame_general(in_port: PortId, f: &[u8]) -> Option<(FlowKey, u16)> {
        let eth = f.get(..14)?;
        let w1 = load_word(eth, 0, 6);
        let w2 = load_word(eth, 6, 6);
        let mut et = u16::from_be_bytes([eth[12], eth[13]]);
        let mut w0 = put16(in_port, 0);
        let mut w3 = 0u64;
        let mut off = 14;
        // Every TPID is at least 0x8100: IPv4 and ARP skip the tag checks.
        if et >= ethertype::VLAN && is_vlan_tpid(et) {
            let t = f.get(14..18)?;
            w0 |= put16(u16::from_be_bytes([t[0], t[1]]), 2);
            w3 |= u64::from(field::VLAN_PRESENT) << 16;
            et = u16::from_be_bytes([t[2], t[3]]);
            off = 18;
            if is_vlan_tpid(et) {
                let t = f.get(18..22)?;
                w0 |= put16(u16::from_be_bytes([t[0], t[1]]), 4);
                w3 |= u64::from(field::INNER_VLAN_PRESENT) << 16;
                et = u16::from_be_bytes([t[2], t[3]]);
                off = 22;
                if is_vlan_tpid(et) {
                    return None;
                }
            }
        }
        w0 |= put16(et, 6);
        let (mut w4, mut w5, mut w6, mut w7) = (0u64, 0u64, 0u64, 0u64);
        let (proto, frag, ports_at) = match et {
            ethertype::IPV4 => {
                let h = f.get(off..off + 20)?;
                let total = u16::from_be_bytes([h[2], h[3]]);
                if h[0] != 0x45 || total < 20 {
                    return None;
                }
                w4 = load_u32(h, 12);
                w6 = load_u32(h, 16);
                let fo = u16::from_be_bytes([h[6], h[7]]);
                let frag = if fo & 0x1fff != 0 {
                    NwFrag::ANY | NwFrag::LATER
                } else if fo & 0x2000 != 0 {
                    NwFrag::ANY
                } else {
                    0
                };
                // A later fragment carries no transport header.
                let at = (frag & NwFrag::LATER == 0).then_some(off + 20);
                (h[9], frag, at)
            }
            ethertype::IPV6 => {
                let h = f.get(off..off + 40)?;
                let next = h[6];
                if h[0] >> 4 != 6
                    || matches!(
                        next,
                        ip_proto::HOPOPT
                            | ip_proto::IPV6_ROUTE
                            | ip_proto::IPV6_FRAG
                            | ip_proto::IPV6_OPTS
                            | ip_proto::AH
                    )
                {
                    return None;
                }
                w4 = load_word(h, 8, 8);
                w5 = load_word(h, 16, 8);
                w6 = load_word(h, 24, 8);
                w7 = load_word(h, 32, 8);
                (next, 0, Some(off + 40))
            }
            ethertype::ARP => {
                // Ethernet/IPv4 ARP only, as in `extract`.
                let mut op = 0u8;
                if let Some(a) = f.get(off..off + 28)
                    && a[0..6] == [0, 1, 0x08, 0x00, 6, 4]
                {
                    op = u8::try_from(u16::from_be_bytes([a[6], a[7]])).unwrap_or(0);
                    w4 = load_u32(a, 14);
                    w6 = load_u32(a, 24);
                }
                (op, 0, None)
            }
            _ => (0, 0, None),
        };
        let (mut tp_src, mut tp_dst, mut tcp_flags) = (0u16, 0u16, 0u16);
        if let Some(at) = ports_at {
            match proto {
                ip_proto::TCP => {
                    if let Some(t) = f.get(at..at + 20) {
                        tp_src = u16::from_be_bytes([t[0], t[1]]);
                        tp_dst = u16::from_be_bytes([t[2], t[3]]);
                        tcp_flags = u16::from_be_bytes([t[12], t[13]]) & 0x0fff;
                    }
                }
                ip_proto::UDP => {
                    if let Some(t) = f.get(at..at + 8) {
                        tp_src = u16::from_be_bytes([t[0], t[1]]);
                        tp_dst = u16::from_be_bytes([t[2], t[3]]);
                    }
                }
                ip_proto::ICMP | ip_proto::ICMPV6 => {
                    if let Some(t) = f.get(at..at + 4) {
                        tp_src = u16::from(t[0]);
                        tp_dst = u16::from(t[1]);
                    }
                }
                _ => {}
            }
        }
        let w1 = w1 | (u64::from(proto) << 48) | (u64::from(frag) << 56);
        let w2 = w2 | put16(tp_src, 6);
        w3 |= put16(tp_dst, 0);
        Some((
            FlowKey {
                w: [w0, w1, w2, w3, w4, w5, w6, w7],
            },
            tcp_flags,
        ))
    }

    /// [`FlowKey::from_frame`] for the commonest shape of all, read with no branch on the
    /// layout: untagged Ethernet, IPv4 without options and not a fragment, then a whole TCP or
    /// UDP header. `None` for anything else: `from_frame` takes it. Straight-line code matters
    /// here: merged into the general reading, the IPv6 and ARP words kept a dozen values on
    /// the stack for every IPv4 packet, so the datapath runs this alone over a batch first.
    /// Whenever it gives a key, that key is `from_frame`'s (and `extract`'s).
    #[inline(always)]
    pub fn from_plain_ipv4_frame(in_port: PortId, f: &[u8]) -> Option<(FlowKey, u16)> {
        // Room for a TCP header whatever the protocol: one bounds check. A UDP frame shorter
        // than 54 bytes (never on an Ethernet wire, whose minimum is 60) is left to the
        // general reading.
        let b = f.first_chunk::<54>()?;
        // Each word read as it lies in memory: the key keeps fields in network byte order.
        let dst = le_u64(b, 0) & MAC48;
        let src = le_u64(b, 6) & MAC48;
        let type_version = le_u32(b, 12);
        let ip = le_u64(b, 14);
        let ttl_proto_src = le_u64(b, 22);
        let (dst_ip, ports) = (le_u32(b, 30), le_u32(b, 34));
        // Ethertype 0x0800 then version 4 with a 20-byte header (bytes 08 00 45), total
        // length at least 20, no fragment offset and no "more fragments" (bytes 20 and 21,
        // less the DF bit).
        let total = u16::from_be_bytes([b[16], b[17]]);
        if type_version & 0x00ff_ffff != u64::from(u32::from_le_bytes([0x08, 0x00, 0x45, 0]))
            || total < 20
            || ip & 0xff3f << 48 != 0
        {
            return None;
        }
        let proto = (ttl_proto_src >> 8) as u8;
        let tcp_flags = match proto {
            ip_proto::TCP => u16::from_be_bytes([b[46], b[47]]) & 0x0fff,
            ip_proto::UDP => 0,
            _ => return None,
        };
        let w = [
            put16(in_port, 0) | put16(ethertype::IPV4, 6),
            dst | u64::from(proto) << 48,
            src | (ports & 0xffff) << 48,
            ports >> 16,
            ttl_proto_src >> 32,
            0,
            dst_ip,
            0,
        ];
        Some((FlowKey { w }, tcp_flags))
    }

    /// The key with every field zero (in_port 0, no VLAN, ...).
    #[inline]
    pub const fn zero() -> FlowKey {
        FlowKey { w: [0; 8] }
    }

    /// The key's eight words (word `i` = bytes `8i..8i+8` read little-endian).
    #[inline]
    pub fn words(&self) -> &[u64; 8] {
        &self.w
    }

    /// A key from its words. Reserved bits are cleared.
    pub fn from_words(w: [u64; 8]) -> FlowKey {
        FlowMask::EXACT.apply(&FlowKey { w })
    }

    /// The 64-byte image (see the module docs for the layout).
    pub fn to_bytes(&self) -> [u8; 64] {
        let mut b = [0u8; 64];
        for (c, w) in b.chunks_exact_mut(8).zip(self.w.iter()) {
            c.copy_from_slice(&w.to_le_bytes());
        }
        b
    }

    /// A key from its 64-byte image. Reserved bits are cleared.
    pub fn from_bytes(b: &[u8; 64]) -> FlowKey {
        let mut w = [0u64; 8];
        for (w, c) in w.iter_mut().zip(b.chunks_exact(8)) {
            let mut a = [0u8; 8];
            a.copy_from_slice(c);
            *w = u64::from_le_bytes(a);
        }
        FlowKey::from_words(w)
    }

    /// The hash the exact-match cache would use with the default seed. The flow table uses its
    /// own random seed (see [`HashSeed`]); this one is fixed and public, so use it for
    /// steering or logging, never for a table an attacker can fill.
    #[inline]
    pub fn hash(&self) -> u32 {
        HashSeed::DEFAULT.hash_key(self)
    }

    /// A hash equal for both directions of a conversation, for steering packets to workers.
    ///
    /// Covers the outer VLAN, `dl_type`, `nw_proto`, `nw_frag` and the *unordered* pair of
    /// endpoints `{(nw_src, tp_src), (nw_dst, tp_dst)}`. Not covered, on purpose:
    /// * `in_port`: the two directions arrive on different ports;
    /// * MACs of IP and ARP packets: a routed reply may come back through another router
    ///   (MACs are used, unordered, for other ethertypes, which have nothing else);
    /// * ICMP/ICMPv6 type and code: an echo request and its reply differ there;
    /// * ports of fragments: later fragments have none, so all fragments of a datagram, first
    ///   included, hash on addresses and protocol alone. (A flow's unfragmented packets still
    ///   hash with ports: a worker that reassembles must hand the datagram to the flow's owner.)
    pub fn symmetric_hash(&self) -> u32 {
        let dl_type = self.dl_type();
        let proto = self.nw_proto();
        let frag = self.nw_frag();
        let ip = dl_type == ethertype::IPV4 || dl_type == ethertype::IPV6;
        let icmp = (dl_type == ethertype::IPV4 && proto == ip_proto::ICMP)
            || (dl_type == ethertype::IPV6 && proto == ip_proto::ICMPV6);
        let ports = ip && frag == NwFrag::None && !icmp;
        let (tps, tpd) = if ports {
            (self.tp_src(), self.tp_dst())
        } else {
            (0, 0)
        };
        let a = (self.w[4], self.w[5], tps);
        let b = (self.w[6], self.w[7], tpd);
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let (m_lo, m_hi) = if ip || dl_type == ethertype::ARP {
            (0, 0)
        } else {
            let s = self.w[2] & 0xffff_ffff_ffff;
            let d = self.w[1] & 0xffff_ffff_ffff;
            (s.min(d), s.max(d))
        };
        let vlan = Field::Vlan.mask();
        let x = [
            (self.w[0] & (vlan.w[0] | Field::DlType.mask().w[0])) | (self.w[3] & vlan.w[3]),
            u64::from(proto) | (u64::from(frag.bits()) << 8),
            lo.0,
            lo.1,
            hi.0,
            hi.1,
            m_lo | (u64::from(lo.2) << 48),
            m_hi | (u64::from(hi.2) << 48),
        ];
        HashSeed::DEFAULT.hash_words(&x)
    }

    #[inline]
    fn byte(&self, i: usize) -> u8 {
        (self.w[(i / 8) % 8] >> ((i % 8) * 8)) as u8
    }

    #[inline]
    fn set_byte(&mut self, i: usize, v: u8) {
        let w = &mut self.w[(i / 8) % 8];
        let sh = (i % 8) * 8;
        *w = (*w & !(0xff << sh)) | (u64::from(v) << sh);
    }

    fn get_be16(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.byte(at), self.byte(at + 1)])
    }

    fn set_be16(&mut self, at: usize, v: u16) {
        let [a, b] = v.to_be_bytes();
        self.set_byte(at, a);
        self.set_byte(at + 1, b);
    }

    fn get_array<const N: usize>(&self, at: usize) -> [u8; N] {
        let mut a = [0u8; N];
        for (i, b) in a.iter_mut().enumerate() {
            *b = self.byte(at + i);
        }
        a
    }

    fn set_array(&mut self, at: usize, v: &[u8]) {
        for (i, b) in v.iter().enumerate() {
            self.set_byte(at + i, *b);
        }
    }

    /// The ingress port.
    pub fn in_port(&self) -> PortId {
        self.get_be16(field::IN_PORT)
    }
    /// The outer VLAN TCI, if the frame was tagged.
    pub fn vlan(&self) -> Option<u16> {
        (self.byte(field::VLAN_FLAGS) & field::VLAN_PRESENT != 0)
            .then(|| self.get_be16(field::VLAN_TCI))
    }
    /// The inner (QinQ) VLAN TCI, if the frame had two tags.
    pub fn inner_vlan(&self) -> Option<u16> {
        (self.byte(field::VLAN_FLAGS) & field::INNER_VLAN_PRESENT != 0)
            .then(|| self.get_be16(field::INNER_VLAN_TCI))
    }
    /// The source MAC.
    pub fn dl_src(&self) -> [u8; 6] {
        self.get_array(field::DL_SRC)
    }
    /// The destination MAC.
    pub fn dl_dst(&self) -> [u8; 6] {
        self.get_array(field::DL_DST)
    }
    /// The innermost ethertype.
    pub fn dl_type(&self) -> u16 {
        self.get_be16(field::DL_TYPE)
    }
    /// The 16-byte source address field (IPv4 in the first four bytes).
    pub fn nw_src(&self) -> [u8; 16] {
        self.get_array(field::NW_SRC)
    }
    /// The 16-byte destination address field (IPv4 in the first four bytes).
    pub fn nw_dst(&self) -> [u8; 16] {
        self.get_array(field::NW_DST)
    }
    /// The IPv4 source (or ARP sender) address, if `dl_type` is IPv4 or ARP.
    pub fn ipv4_src(&self) -> Option<[u8; 4]> {
        matches!(self.dl_type(), ethertype::IPV4 | ethertype::ARP)
            .then(|| self.get_array(field::NW_SRC))
    }
    /// The IPv4 destination (or ARP target) address, if `dl_type` is IPv4 or ARP.
    pub fn ipv4_dst(&self) -> Option<[u8; 4]> {
        matches!(self.dl_type(), ethertype::IPV4 | ethertype::ARP)
            .then(|| self.get_array(field::NW_DST))
    }
    /// The IP protocol (ARP: the opcode).
    pub fn nw_proto(&self) -> u8 {
        self.byte(field::NW_PROTO)
    }
    /// The fragment state.
    pub fn nw_frag(&self) -> NwFrag {
        NwFrag::from_bits(self.byte(field::NW_FRAG))
    }
    /// The transport source port (ICMP: type).
    pub fn tp_src(&self) -> u16 {
        self.get_be16(field::TP_SRC)
    }
    /// The transport destination port (ICMP: code).
    pub fn tp_dst(&self) -> u16 {
        self.get_be16(field::TP_DST)
    }

    /// Sets the ingress port.
    pub fn set_in_port(&mut self, v: PortId) {
        self.set_be16(field::IN_PORT, v);
    }
    /// Sets (or, with `None`, clears) the outer VLAN tag.
    pub fn set_vlan(&mut self, tci: Option<u16>) {
        self.set_be16(field::VLAN_TCI, tci.unwrap_or(0));
        let f = self.byte(field::VLAN_FLAGS) & !field::VLAN_PRESENT;
        let p = if tci.is_some() {
            field::VLAN_PRESENT
        } else {
            0
        };
        self.set_byte(field::VLAN_FLAGS, f | p);
    }
    /// Sets (or clears) the inner VLAN tag.
    pub fn set_inner_vlan(&mut self, tci: Option<u16>) {
        self.set_be16(field::INNER_VLAN_TCI, tci.unwrap_or(0));
        let f = self.byte(field::VLAN_FLAGS) & !field::INNER_VLAN_PRESENT;
        let p = if tci.is_some() {
            field::INNER_VLAN_PRESENT
        } else {
            0
        };
        self.set_byte(field::VLAN_FLAGS, f | p);
    }
    /// Sets the source MAC.
    pub fn set_dl_src(&mut self, v: [u8; 6]) {
        self.set_array(field::DL_SRC, &v);
    }
    /// Sets the destination MAC.
    pub fn set_dl_dst(&mut self, v: [u8; 6]) {
        self.set_array(field::DL_DST, &v);
    }
    /// Sets the ethertype.
    pub fn set_dl_type(&mut self, v: u16) {
        self.set_be16(field::DL_TYPE, v);
    }
    /// Sets the 16-byte source address field.
    pub fn set_nw_src(&mut self, v: [u8; 16]) {
        self.set_array(field::NW_SRC, &v);
    }
    /// Sets the 16-byte destination address field.
    pub fn set_nw_dst(&mut self, v: [u8; 16]) {
        self.set_array(field::NW_DST, &v);
    }
    /// Sets an IPv4 source address (first four bytes; the other twelve become zero).
    pub fn set_ipv4_src(&mut self, v: [u8; 4]) {
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&v);
        self.set_nw_src(a);
    }
    /// Sets an IPv4 destination address (first four bytes; the other twelve become zero).
    pub fn set_ipv4_dst(&mut self, v: [u8; 4]) {
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&v);
        self.set_nw_dst(a);
    }
    /// Sets the IP protocol (ARP: opcode).
    pub fn set_nw_proto(&mut self, v: u8) {
        self.set_byte(field::NW_PROTO, v);
    }
    /// Sets the fragment state.
    pub fn set_nw_frag(&mut self, v: NwFrag) {
        self.set_byte(field::NW_FRAG, v.bits());
    }
    /// Sets the transport source port (ICMP: type).
    pub fn set_tp_src(&mut self, v: u16) {
        self.set_be16(field::TP_SRC, v);
    }
    /// Sets the transport destination port (ICMP: code).
    pub fn set_tp_dst(&mut self, v: u16) {
        self.set_be16(field::TP_DST, v);
    }
}

/// Formats an address field: dotted IPv4 when only the first four bytes are set, hex otherwise.
fn fmt_nw(f: &mut fmt::Formatter<'_>, a: &[u8; 16]) -> fmt::Result {
    if a[4..].iter().all(|b| *b == 0) {
        write!(f, "{}.{}.{}.{}", a[0], a[1], a[2], a[3])
    } else {
        write!(f, "{}", std::net::Ipv6Addr::from(*a))
    }
}

fn fmt_mac(f: &mut fmt::Formatter<'_>, m: &[u8; 6]) -> fmt::Result {
    write!(
        f,
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

impl fmt::Debug for FlowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FlowKey(in_port={}", self.in_port())?;
        if let Some(t) = self.vlan() {
            write!(f, ",vlan={t:#06x}")?;
        }
        if let Some(t) = self.inner_vlan() {
            write!(f, ",inner_vlan={t:#06x}")?;
        }
        f.write_str(",dl_src=")?;
        fmt_mac(f, &self.dl_src())?;
        f.write_str(",dl_dst=")?;
        fmt_mac(f, &self.dl_dst())?;
        write!(f, ",dl_type={:#06x},nw_src=", self.dl_type())?;
        fmt_nw(f, &self.nw_src())?;
        f.write_str(",nw_dst=")?;
        fmt_nw(f, &self.nw_dst())?;
        write!(
            f,
            ",nw_proto={},nw_frag={:?},tp_src={},tp_dst={})",
            self.nw_proto(),
            self.nw_frag(),
            self.tp_src(),
            self.tp_dst()
        )
    }
}

/// Which bits of a key a megaflow matches on: same layout as [`FlowKey`], a one bit means
/// "must equal". Masks contain only bits of defined fields (never the reserved bytes).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
#[repr(C, align(64))]
pub struct FlowMask {
    w: [u64; 8],
}

impl FlowMask {
    /// Matches nothing in particular: every key.
    pub const CATCHALL: FlowMask = FlowMask { w: [0; 8] };

    /// Every bit of every field.
    pub const EXACT: FlowMask = {
        let mut w = [0u64; 8];
        let mut i = 0;
        while i < Field::ALL.len() {
            let m = Field::ALL[i].mask();
            let mut j = 0;
            while j < 8 {
                w[j] |= m.w[j];
                j += 1;
            }
            i += 1;
        }
        FlowMask { w }
    };

    /// Adds every bit of `f`.
    #[inline]
    pub const fn with(self, f: Field) -> FlowMask {
        self.union(&f.mask())
    }

    /// Removes every bit of `f`.
    #[inline]
    pub const fn without(self, f: Field) -> FlowMask {
        let m = f.mask();
        let mut w = self.w;
        let mut j = 0;
        while j < 8 {
            w[j] &= !m.w[j];
            j += 1;
        }
        FlowMask { w }
    }

    /// Both masks' bits.
    #[inline]
    pub const fn union(self, o: &FlowMask) -> FlowMask {
        let mut w = self.w;
        let mut j = 0;
        while j < 8 {
            w[j] |= o.w[j];
            j += 1;
        }
        FlowMask { w }
    }

    /// Adds the leading `bits` bits of `nw_src` (a CIDR prefix; IPv4 prefixes are at most 32
    /// as the address sits in the first four bytes). `bits` above 128 count as 128.
    pub fn with_nw_src_prefix(self, bits: u8) -> FlowMask {
        self.with_prefix(field::NW_SRC, bits)
    }

    /// Adds the leading `bits` bits of `nw_dst`.
    pub fn with_nw_dst_prefix(self, bits: u8) -> FlowMask {
        self.with_prefix(field::NW_DST, bits)
    }

    fn with_prefix(self, at: usize, bits: u8) -> FlowMask {
        let mut k = FlowKey { w: self.w };
        let mut left = u32::from(bits.min(128));
        let mut i = at;
        while left > 0 {
            let take = left.min(8);
            let b = 0xffu8 << (8 - take);
            k.set_byte(i, k.byte(i) | b);
            left -= take;
            i += 1;
        }
        FlowMask { w: k.w }
    }

    /// Adds the bits of `mask` (host order) of the transport source port.
    pub fn with_tp_src_bits(self, mask: u16) -> FlowMask {
        let mut k = FlowKey { w: self.w };
        k.set_be16(field::TP_SRC, k.get_be16(field::TP_SRC) | mask);
        FlowMask { w: k.w }
    }

    /// Adds the bits of `mask` (host order) of the transport destination port.
    pub fn with_tp_dst_bits(self, mask: u16) -> FlowMask {
        let mut k = FlowKey { w: self.w };
        k.set_be16(field::TP_DST, k.get_be16(field::TP_DST) | mask);
        FlowMask { w: k.w }
    }

    /// `key` with every bit outside the mask cleared.
    #[inline(always)]
    pub fn apply(&self, key: &FlowKey) -> FlowKey {
        let mut w = [0u64; 8];
        for (o, (k, m)) in w.iter_mut().zip(key.w.iter().zip(self.w.iter())) {
            *o = k & m;
        }
        FlowKey { w }
    }

    /// True when `key` and `other` agree on every bit of the mask.
    #[inline(always)]
    pub fn matches(&self, masked: &FlowKey, key: &FlowKey) -> bool {
        let mut d = 0u64;
        for ((m, a), b) in self.w.iter().zip(masked.w.iter()).zip(key.w.iter()) {
            d |= (a ^ b) & m;
        }
        d == 0
    }

    /// True when every bit of `f` is in the mask.
    pub fn covers(&self, f: Field) -> bool {
        self.contains(&f.mask())
    }

    /// True when some bit of `f` is in the mask.
    pub fn touches(&self, f: Field) -> bool {
        let m = f.mask();
        self.w.iter().zip(m.w.iter()).any(|(a, b)| a & b != 0)
    }

    /// True when every bit of `other` is in this mask (this mask is at least as specific).
    pub fn contains(&self, other: &FlowMask) -> bool {
        self.w.iter().zip(other.w.iter()).all(|(a, b)| b & !a == 0)
    }

    /// True when no bit is set.
    pub fn is_catchall(&self) -> bool {
        self.w == [0; 8]
    }

    /// The mask's words (same layout as [`FlowKey::words`]).
    #[inline]
    pub fn words(&self) -> &[u64; 8] {
        &self.w
    }

    /// A mask from words; bits outside defined fields are dropped.
    pub fn from_words(w: [u64; 8]) -> FlowMask {
        let mut out = [0u64; 8];
        for ((o, a), e) in out.iter_mut().zip(w.iter()).zip(FlowMask::EXACT.w.iter()) {
            *o = a & e;
        }
        FlowMask { w: out }
    }
}

impl fmt::Debug for FlowMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FlowMask(")?;
        let mut first = true;
        for fl in Field::ALL {
            let part = self.touches(fl);
            if part {
                if !first {
                    f.write_str(",")?;
                }
                first = false;
                f.write_str(fl.name())?;
                if !self.covers(fl) {
                    f.write_str("/partial")?;
                }
            }
        }
        f.write_str(")")
    }
}

/// The fields a slow-path decision read, so the megaflow installed for it matches exactly the
/// packets the same decision would be made for.
///
/// The slow path calls [`Wildcards::read`] (or reads through [`Wildcards::track`]) for every
/// field it looks at, then installs with [`Wildcards::mask`]. Reading a field also unwildcards
/// its [`Field::prerequisites`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Wildcards {
    mask: FlowMask,
}

impl Wildcards {
    /// Nothing read yet: the catch-all mask.
    pub fn new() -> Wildcards {
        Wildcards::default()
    }

    /// Marks a field (and its prerequisites) as read.
    #[inline]
    pub fn read(&mut self, f: Field) {
        self.mask = self.mask.with(f);
        for p in f.prerequisites() {
            self.mask = self.mask.with(*p);
        }
    }

    /// Marks the leading `bits` of `nw_src` as read (a prefix match), with `dl_type`.
    pub fn read_nw_src_prefix(&mut self, bits: u8) {
        self.mask = self.mask.with_nw_src_prefix(bits).with(Field::DlType);
    }

    /// Marks the leading `bits` of `nw_dst` as read (a prefix match), with `dl_type`.
    pub fn read_nw_dst_prefix(&mut self, bits: u8) {
        self.mask = self.mask.with_nw_dst_prefix(bits).with(Field::DlType);
    }

    /// Marks every bit of `m` as read (no prerequisites are added).
    pub fn read_mask(&mut self, m: &FlowMask) {
        self.mask = self.mask.union(m);
    }

    /// The mask to install the megaflow with.
    pub fn mask(&self) -> FlowMask {
        self.mask
    }

    /// A view of `key` whose getters mark what they return as read.
    pub fn track<'a>(&'a mut self, key: &'a FlowKey) -> TrackedKey<'a> {
        TrackedKey { key, wc: self }
    }
}

/// A key whose getters record the field read in a [`Wildcards`].
#[derive(Debug)]
pub struct TrackedKey<'a> {
    key: &'a FlowKey,
    wc: &'a mut Wildcards,
}

macro_rules! tracked {
    ($($(#[$doc:meta])* $name:ident: $field:ident -> $ty:ty;)*) => {
        impl TrackedKey<'_> {
            $(
                $(#[$doc])*
                pub fn $name(&mut self) -> $ty {
                    self.wc.read(Field::$field);
                    self.key.$name()
                }
            )*
        }
    };
}

tracked! {
    /// The ingress port (marks `in_port`).
    in_port: InPort -> PortId;
    /// The outer VLAN TCI (marks `vlan`).
    vlan: Vlan -> Option<u16>;
    /// The inner VLAN TCI (marks `inner_vlan`).
    inner_vlan: InnerVlan -> Option<u16>;
    /// The source MAC (marks `dl_src`).
    dl_src: DlSrc -> [u8; 6];
    /// The destination MAC (marks `dl_dst`).
    dl_dst: DlDst -> [u8; 6];
    /// The ethertype (marks `dl_type`).
    dl_type: DlType -> u16;
    /// The source address field (marks `nw_src`).
    nw_src: NwSrc -> [u8; 16];
    /// The destination address field (marks `nw_dst`).
    nw_dst: NwDst -> [u8; 16];
    /// The IPv4 source (marks `nw_src`).
    ipv4_src: NwSrc -> Option<[u8; 4]>;
    /// The IPv4 destination (marks `nw_dst`).
    ipv4_dst: NwDst -> Option<[u8; 4]>;
    /// The IP protocol (marks `nw_proto`).
    nw_proto: NwProto -> u8;
    /// The fragment state (marks `nw_frag`).
    nw_frag: NwFrag -> NwFrag;
    /// The transport source port (marks `tp_src`).
    tp_src: TpSrc -> u16;
    /// The transport destination port (marks `tp_dst`).
    tp_dst: TpDst -> u16;
}

impl TrackedKey<'_> {
    /// The key itself, without marking anything (for logging).
    pub fn untracked(&self) -> &FlowKey {
        self.key
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{PacketBuilder, VlanId};
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;
    use wire::parse_packet;

    const A: [u8; 6] = [0x02, 0, 0, 0, 0, 0xaa];
    const B: [u8; 6] = [0x02, 0, 0, 0, 0, 0xbb];

    fn key_of(port: PortId, f: &[u8]) -> FlowKey {
        FlowKey::extract(port, f, &parse_packet(f))
    }

    #[test]
    fn ipv4_tcp() {
        let mut f = Vec::new();
        PacketBuilder::ethernet2(A, B)
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(1234, 80, 1, 100)
            .syn()
            .write(&mut f, b"x")
            .unwrap();
        let k = key_of(7, &f);
        assert_eq!(k.in_port(), 7);
        assert_eq!(k.vlan(), None);
        assert_eq!(k.dl_src(), A);
        assert_eq!(k.dl_dst(), B);
        assert_eq!(k.dl_type(), 0x0800);
        assert_eq!(k.ipv4_src(), Some([10, 0, 0, 1]));
        assert_eq!(k.ipv4_dst(), Some([10, 0, 0, 2]));
        assert_eq!(k.nw_src()[4..], [0; 12]);
        assert_eq!(k.nw_proto(), 6);
        assert_eq!(k.nw_frag(), NwFrag::None);
        assert_eq!((k.tp_src(), k.tp_dst()), (1234, 80));
        // Bytes land where the layout table says, in network order.
        let b = k.to_bytes();
        assert_eq!(&b[0..2], &[0, 7]);
        assert_eq!(&b[6..8], &[0x08, 0x00]);
        assert_eq!(&b[8..14], &B);
        assert_eq!(&b[16..22], &A);
        assert_eq!(&b[22..26], &[0x04, 0xd2, 0, 80]);
        assert_eq!(&b[32..36], &[10, 0, 0, 1]);
        assert_eq!(&b[48..52], &[10, 0, 0, 2]);
        assert_eq!(b[26..32], [0; 6]);
        // TTL and TCP flags are not in the key.
        let mut g = Vec::new();
        PacketBuilder::ethernet2(A, B)
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 3)
            .tcp(1234, 80, 99, 100)
            .ack(5)
            .write(&mut g, b"x")
            .unwrap();
        assert_eq!(key_of(7, &g), k);
    }

    #[test]
    fn ipv6_udp_with_vlan_and_qinq() {
        let s6: [u8; 16] = [0x20, 0x01, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let d6: [u8; 16] = [0x20, 0x01, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        let mut f = Vec::new();
        PacketBuilder::ethernet2(A, B)
            .single_vlan(VlanId::try_new(100).unwrap())
            .ipv6(s6, d6, 9)
            .udp(5353, 53)
            .write(&mut f, b"q")
            .unwrap();
        let k = key_of(1, &f);
        assert_eq!(k.vlan(), Some(100));
        assert_eq!(k.inner_vlan(), None);
        assert_eq!(k.dl_type(), 0x86dd);
        assert_eq!(k.nw_src(), s6);
        assert_eq!(k.nw_dst(), d6);
        assert_eq!(k.ipv4_src(), None);
        assert_eq!((k.nw_proto(), k.tp_src(), k.tp_dst()), (17, 5353, 53));

        let mut g = Vec::new();
        PacketBuilder::ethernet2(A, B)
            .double_vlan(VlanId::try_new(10).unwrap(), VlanId::try_new(20).unwrap())
            .ipv6(s6, d6, 9)
            .udp(5353, 53)
            .write(&mut g, b"q")
            .unwrap();
        let q = key_of(1, &g);
        assert_eq!((q.vlan(), q.inner_vlan()), (Some(10), Some(20)));
        // A priority tag (TCI 0) is not "untagged".
        let mut untagged = k;
        untagged.set_vlan(None);
        let mut prio = k;
        prio.set_vlan(Some(0));
        assert_ne!(untagged, prio);
    }

    #[test]
    fn arp_as_ovs() {
        use etherparse::{ArpHardwareId, ArpOperation, ArpPacket, EtherType};
        let arp = ArpPacket::new(
            ArpHardwareId::ETHERNET,
            EtherType::IPV4,
            ArpOperation::REQUEST,
            &A,
            &[192, 168, 1, 5],
            &[0; 6],
            &[192, 168, 1, 1],
        )
        .unwrap();
        let mut f = Vec::new();
        PacketBuilder::ethernet2(A, [0xff; 6])
            .arp(arp)
            .write(&mut f)
            .unwrap();
        let k = key_of(3, &f);
        assert_eq!(k.dl_type(), 0x0806);
        assert_eq!(k.nw_proto(), 1);
        assert_eq!(k.ipv4_src(), Some([192, 168, 1, 5]));
        assert_eq!(k.ipv4_dst(), Some([192, 168, 1, 1]));
        assert_eq!((k.tp_src(), k.tp_dst()), (0, 0));
        // A truncated ARP gives no L3 fields, and no panic.
        let t = key_of(3, &f[..30]);
        assert_eq!((t.nw_proto(), t.ipv4_src()), (0, Some([0; 4])));
    }

    #[test]
    fn icmp_type_and_code() {
        let mut f = Vec::new();
        PacketBuilder::ethernet2(A, B)
            .ipv4([1, 1, 1, 1], [2, 2, 2, 2], 64)
            .icmpv4_echo_request(0x1234, 1)
            .write(&mut f, b"ping")
            .unwrap();
        let k = key_of(0, &f);
        assert_eq!((k.nw_proto(), k.tp_src(), k.tp_dst()), (1, 8, 0));
        let mut g = Vec::new();
        PacketBuilder::ethernet2(A, B)
            .ipv6([1; 16], [2; 16], 64)
            .icmpv6_echo_reply(1, 2)
            .write(&mut g, b"pong")
            .unwrap();
        let k = key_of(0, &g);
        assert_eq!((k.nw_proto(), k.tp_src(), k.tp_dst()), (58, 129, 0));
    }

    #[test]
    fn fragments() {
        let mut f = Vec::new();
        PacketBuilder::ethernet2(A, B)
            .ipv4([1, 1, 1, 1], [2, 2, 2, 2], 64)
            .udp(1, 2)
            .write(&mut f, &[0; 16])
            .unwrap();
        // More-fragments set, offset 0: first fragment, ports kept.
        f[20] = 0x20;
        let k = key_of(0, &f);
        assert_eq!((k.nw_frag(), k.tp_src()), (NwFrag::First, 1));
        // Offset 8: later fragment, no ports.
        f[20] = 0x20;
        f[21] = 1;
        let k = key_of(0, &f);
        assert_eq!(
            (k.nw_frag(), k.tp_src(), k.nw_proto()),
            (NwFrag::Later, 0, 17)
        );
    }

    #[test]
    fn never_panics_on_mismatched_parse() {
        let mut f = Vec::new();
        PacketBuilder::ethernet2(A, B)
            .ipv6([1; 16], [2; 16], 64)
            .udp(1, 2)
            .write(&mut f, b"")
            .unwrap();
        let p = parse_packet(&f);
        for n in 0..f.len() {
            let _ = FlowKey::extract(0, &f[..n], &p);
            let _ = FlowKey::extract(0, &f[..n], &parse_packet(&f[..n]));
        }
    }

    #[test]
    fn symmetric_hash_both_ways() {
        let mut f = Vec::new();
        PacketBuilder::ethernet2(A, B)
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 443, 1, 100)
            .write(&mut f, b"")
            .unwrap();
        let mut r = Vec::new();
        PacketBuilder::ethernet2(B, A)
            .ipv4([10, 0, 0, 2], [10, 0, 0, 1], 64)
            .tcp(443, 40000, 1, 100)
            .write(&mut r, b"")
            .unwrap();
        let (k, q) = (key_of(1, &f), key_of(2, &r));
        assert_ne!(k.hash(), q.hash());
        assert_eq!(k.symmetric_hash(), q.symmetric_hash());
        // Another conversation between the same hosts differs.
        let mut o = k;
        o.set_tp_src(40001);
        assert_ne!(o.symmetric_hash(), k.symmetric_hash());
        // Non-IP: MACs swapped.
        let mut l2 = FlowKey::zero();
        l2.set_dl_type(0x88cc);
        l2.set_dl_src(A);
        l2.set_dl_dst(B);
        let mut l2r = l2;
        l2r.set_dl_src(B);
        l2r.set_dl_dst(A);
        assert_eq!(l2.symmetric_hash(), l2r.symmetric_hash());
    }

    #[test]
    fn hash_spreads() {
        // 2^16 keys differing only in one port: their low 13 bits (the EMC index) must spread.
        let mut k = FlowKey::zero();
        k.set_dl_type(0x0800);
        let seed = HashSeed::new(42);
        let mut buckets = vec![0u32; 8192];
        for p in 0..=u16::MAX {
            k.set_tp_src(p);
            buckets[(seed.hash_key(&k) & 8191) as usize] += 1;
        }
        let max = *buckets.iter().max().unwrap();
        let empty = buckets.iter().filter(|b| **b == 0).count();
        // Poisson(8): P(>24) is about 1e-6 per bucket; P(0) about 3.4e-4 (about 3 buckets).
        assert!(max <= 24, "max bucket {max}");
        assert!(empty <= 20, "{empty} empty buckets");
        assert_ne!(HashSeed::new(1).hash_key(&k), HashSeed::new(2).hash_key(&k));
    }

    #[test]
    fn masks_and_wildcards() {
        assert!(FlowMask::EXACT.covers(Field::NwDst));
        assert_eq!(
            FlowMask::EXACT.words()[3] >> 24,
            0,
            "reserved bytes stay clear"
        );
        let m = FlowMask::CATCHALL.with_nw_src_prefix(24);
        assert!(m.touches(Field::NwSrc) && !m.covers(Field::NwSrc));
        let mut k = FlowKey::zero();
        k.set_ipv4_src([10, 1, 2, 3]);
        assert_eq!(m.apply(&k).nw_src()[..4], [10, 1, 2, 0]);
        assert_eq!(
            FlowMask::CATCHALL.with_nw_src_prefix(13).apply(&k).nw_src()[..4],
            [10, 0, 0, 0]
        );
        let mut wc = Wildcards::new();
        wc.read(Field::TpDst);
        let got = wc.mask();
        for f in [Field::TpDst, Field::DlType, Field::NwProto, Field::NwFrag] {
            assert!(got.covers(f), "{f:?}");
        }
        assert!(!got.touches(Field::TpSrc));
        let mut wc = Wildcards::new();
        let mut t = wc.track(&k);
        assert_eq!(t.ipv4_src(), None);
        assert!(wc.mask().covers(Field::NwSrc) && wc.mask().covers(Field::DlType));
        assert!(FlowMask::EXACT.contains(&wc.mask()));
        assert!(!wc.mask().contains(&FlowMask::EXACT));
        assert_eq!(FlowKey::from_bytes(&k.to_bytes()), k);
    }

    /// A frame of one of the shapes `from_frame` handles or declines, with random fields.
    fn shaped_frame() -> impl Strategy<Value = Vec<u8>> {
        (
            any::<[u8; 12]>(),
            proptest::collection::vec(
                (
                    prop_oneof![Just(0x8100u16), Just(0x88a8), Just(0x9100)],
                    any::<u16>(),
                ),
                0..4,
            ),
            prop_oneof![
                Just(0x0800u16),
                Just(0x86dd),
                Just(0x0806),
                Just(0x0800),
                any::<u16>()
            ],
            prop_oneof![
                Just(0x45u8),
                Just(0x45),
                Just(0x46),
                Just(0x60),
                any::<u8>()
            ],
            prop_oneof![
                Just(0u16),
                Just(0x2000),
                Just(0x0010),
                Just(0x4000),
                any::<u16>()
            ],
            prop_oneof![
                Just(6u8),
                Just(17),
                Just(1),
                Just(58),
                Just(59),
                Just(0),
                Just(43),
                Just(44),
                Just(60),
                Just(51),
                any::<u8>()
            ],
            proptest::collection::vec(any::<u8>(), 60..80),
            any::<bool>(),
            0usize..140,
        )
            .prop_map(|(macs, tags, et, vihl, frag, proto, body, good_arp, cut)| {
                let mut f = macs.to_vec();
                for (tpid, tci) in tags {
                    f.extend_from_slice(&tpid.to_be_bytes());
                    f.extend_from_slice(&tci.to_be_bytes());
                }
                f.extend_from_slice(&et.to_be_bytes());
                let l3 = f.len();
                f.extend_from_slice(&body);
                match et {
                    0x0800 => {
                        f[l3] = vihl;
                        let total = if cut % 3 == 0 { 10 } else { body.len() as u16 };
                        f[l3 + 2..l3 + 4].copy_from_slice(&total.to_be_bytes());
                        f[l3 + 6..l3 + 8].copy_from_slice(&frag.to_be_bytes());
                        f[l3 + 9] = proto;
                    }
                    0x86dd => {
                        f[l3] = if vihl == 0x45 { 0x60 } else { vihl };
                        f[l3 + 6] = proto;
                    }
                    0x0806 if good_arp => {
                        f[l3..l3 + 6].copy_from_slice(&[0, 1, 8, 0, 6, 4]);
                    }
                    _ => {}
                }
                let keep = f.len().saturating_sub(cut % 70);
                f.truncate(if cut >= 70 { keep } else { f.len() });
                f
            })
    }

    /// Each reading straight from the bytes (the plain-IPv4 one, the general one, and
    /// `from_frame`, which is the first else the second) gives the full parse's key and TCP
    /// flags whenever it gives one; true when `from_frame` gave one.
    fn same_as_full_parse(port: PortId, f: &[u8]) -> Result<bool, TestCaseError> {
        let p = parse_packet(f);
        let readings = [
            ("plain IPv4", FlowKey::from_plain_ipv4_frame(port, f)),
            ("general", FlowKey::from_frame_general(port, f)),
            ("from_frame", FlowKey::from_frame(port, f)),
        ];
        for (name, r) in readings {
            if let Some((k, flags)) = r {
                prop_assert_eq!(
                    k,
                    FlowKey::extract(port, f, &p),
                    "{} reading of {:02x?}",
                    name,
                    f
                );
                prop_assert_eq!(flags, p.tcp_flags, "{} reading of {:02x?}", name, f);
            }
        }
        Ok(readings[2].1.is_some())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// The fast key is the full parse's key, whenever it gives one.
        #[test]
        fn from_frame_agrees_with_extract(port: u16, f in shaped_frame()) {
            same_as_full_parse(port, &f)?;
        }

        #[test]
        fn from_frame_agrees_on_random_bytes(
            port: u16,
            mut f in proptest::collection::vec(any::<u8>(), 0..90),
            et in prop_oneof![Just(0x0800u16), Just(0x86dd), Just(0x0806), Just(0x8100)],
        ) {
            if f.len() >= 14 {
                f[12..14].copy_from_slice(&et.to_be_bytes());
            }
            same_as_full_parse(port, &f)?;
        }

        /// Skipping the pairs a mask leaves out changes nothing in the hash.
        #[test]
        fn masked_hash_by_pairs_is_the_masked_hash(
            w: [u64; 8], m: [u64; 8], drop in 0u8..16, seed: u64,
        ) {
            let mut m = m;
            for p in 0..4 {
                if drop & (1 << p) != 0 {
                    m[2 * p] = 0;
                    m[2 * p + 1] = 0;
                }
            }
            let key = FlowKey { w };
            let mask = FlowMask { w: m };
            for s in [HashSeed::DEFAULT, HashSeed::new(seed)] {
                let active = HashSeed::active_pairs(&mask);
                prop_assert_eq!(s.hash_masked_pairs(&key, &mask, active), s.hash_masked(&key, &mask));
                prop_assert_eq!(s.hash_masked(&key, &mask), s.hash_key(&mask.apply(&key)));
            }
        }

        /// The common shapes take the fast way (the fallback is for the rare ones only).
        #[test]
        fn common_frames_take_the_fast_way(
            sport: u16, dport: u16, tagged: bool, v6: bool, proto in 0u8..3,
        ) {
            let mut f = Vec::new();
            let b = PacketBuilder::ethernet2(A, B);
            let b = if v6 { b.ipv6([1; 16], [2; 16], 64) } else { b.ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64) };
            match proto {
                0 => b.tcp(sport, dport, 1, 100).write(&mut f, b"data"),
                1 => b.udp(sport, dport).write(&mut f, b"data"),
                _ if v6 => b.icmpv6_echo_request(1, 2).write(&mut f, b"data"),
                _ => b.icmpv4_echo_request(1, 2).write(&mut f, b"data"),
            }
            .unwrap();
            if tagged {
                f.splice(12..12, [0x81, 0x00, 0x20, 0x07]);
            }
            prop_assert!(same_as_full_parse(3, &f)?, "fast way declined {:02x?}", f);
        }
    }
}
