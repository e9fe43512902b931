//! The Internet checksum (RFC 1071): full computation, the IPv4 and IPv6 pseudo-headers, and
//! incremental update after a field change (RFC 1624, equation 3).
//!
//! Sums are kept in a `u32`/`u64` accumulator and folded once at the end. Nothing here allocates
//! or panics; odd lengths are padded with a zero byte as the RFC says.

/// Adds `data` to a running one's-complement sum (not yet folded).
///
/// Words are taken big-endian from the start of `data`; call it on consecutive pieces only
/// if every piece but the last has an even length.
#[inline]
pub fn sum(mut acc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        // Add the four 16-bit words via two 32-bit halves; carries accumulate in the high bits.
        acc += (w >> 32) + (w & 0xffff_ffff);
    }
    let rest = chunks.remainder();
    let mut pairs = rest.chunks_exact(2);
    for p in &mut pairs {
        acc += u64::from(u16::from_be_bytes([p[0], p[1]]));
    }
    if let [last] = pairs.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

/// Folds a running sum into 16 bits (not complemented).
#[inline]
pub fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The checksum field value for `data` alone: `!fold(sum(0, data))`.
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(0, data))
}

/// The unfolded sum of the IPv4 pseudo-header (source, destination, zero, protocol, length).
#[inline]
pub fn pseudo_header_v4(src: [u8; 4], dst: [u8; 4], proto: u8, l4_len: u32) -> u64 {
    let mut acc = sum(0, &src);
    acc = sum(acc, &dst);
    acc + u64::from(proto) + u64::from(l4_len)
}

/// The unfolded sum of the IPv6 pseudo-header (RFC 8200 section 8.1).
#[inline]
pub fn pseudo_header_v6(src: [u8; 16], dst: [u8; 16], next_header: u8, l4_len: u32) -> u64 {
    let mut acc = sum(0, &src);
    acc = sum(acc, &dst);
    acc + u64::from(next_header) + u64::from(l4_len >> 16) + u64::from(l4_len & 0xffff)
}

/// The checksum of an upper-layer segment with its pseudo-header already summed in `pseudo`.
/// The segment's own checksum field must be zero (when computing) or present (when verifying:
/// a correct segment gives 0).
#[inline]
pub fn l4_checksum(pseudo: u64, segment: &[u8]) -> u16 {
    !fold(sum(pseudo, segment))
}

/// RFC 1624 eqn. 3: the new checksum `HC'` after a 16-bit word changes from `old` to `new`,
/// given the old checksum field `hc`: `HC' = ~(~HC + ~m + m')`.
#[inline]
pub fn update16(hc: u16, old: u16, new: u16) -> u16 {
    let acc = u64::from(!hc) + u64::from(!old) + u64::from(new);
    !fold(acc)
}

/// Incremental update for a 32-bit field (an IPv4 address), as two 16-bit words.
#[inline]
pub fn update32(hc: u16, old: u32, new: u32) -> u16 {
    let acc = u64::from(!hc)
        + u64::from(!(old >> 16) as u16)
        + u64::from(!(old as u16))
        + u64::from((new >> 16) as u16)
        + u64::from(new as u16);
    !fold(acc)
}

/// Incremental update for an arbitrary byte field of even length (an IPv6 address, a MAC is
/// not covered by any checksum). `old` and `new` must have the same, even length; a field
/// starting at an odd offset must be passed with its neighbouring byte so words line up.
#[inline]
pub fn update_bytes(hc: u16, old: &[u8], new: &[u8]) -> u16 {
    debug_assert_eq!(old.len(), new.len());
    let mut acc = u64::from(!hc);
    for (o, n) in old.chunks(2).zip(new.chunks(2)) {
        let ow = u16::from_be_bytes([o[0], *o.get(1).unwrap_or(&0)]);
        let nw = u16::from_be_bytes([n[0], *n.get(1).unwrap_or(&0)]);
        acc += u64::from(!ow) + u64::from(nw);
    }
    !fold(acc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(0, &d)), 0xddf2);
        assert_eq!(checksum(&d), !0xddf2);
    }

    #[test]
    fn ipv4_header_verifies() {
        // A real IPv4 header (from a capture) with its checksum 0xb861 in place.
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&h), 0);
        let mut z = h;
        z[10] = 0;
        z[11] = 0;
        assert_eq!(checksum(&z), 0xb861);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(fold(sum(0, &[0xab])), 0xab00);
        assert_eq!(fold(sum(0, &[0x12, 0x34, 0x56])), 0x1234 + 0x5600);
    }

    proptest! {
        #[test]
        fn incremental_matches_full(
            mut data in proptest::collection::vec(any::<u8>(), 2..256),
            word in any::<prop::sample::Index>(),
            new in any::<u16>(),
        ) {
            let words = data.len() / 2;
            let i = word.index(words) * 2;
            let hc = checksum(&data);
            let old = u16::from_be_bytes([data[i], data[i + 1]]);
            data[i..i + 2].copy_from_slice(&new.to_be_bytes());
            let full = checksum(&data);
            let inc = update16(hc, old, new);
            // One's complement has two zeros; both encodings verify the same way.
            prop_assert!(inc == full || (inc == 0xffff && full == 0) || (inc == 0 && full == 0xffff),
                "inc {inc:#x} full {full:#x}");
        }

        #[test]
        fn incremental32_and_bytes_match_full(
            mut data in proptest::collection::vec(any::<u8>(), 20..64),
            new in any::<[u8; 16]>(),
        ) {
            let hc = checksum(&data);
            let old4 = u32::from_be_bytes([data[12], data[13], data[14], data[15]]);
            let new4 = u32::from_be_bytes([new[0], new[1], new[2], new[3]]);
            let mut d4 = data.clone();
            d4[12..16].copy_from_slice(&new4.to_be_bytes());
            let a = update32(hc, old4, new4);
            let b = checksum(&d4);
            prop_assert!(a == b || (a ^ b == 0xffff && (a == 0 || b == 0)));

            let old16: Vec<u8> = data[2..18].to_vec();
            data[2..18].copy_from_slice(&new);
            let c = update_bytes(hc, &old16, &new);
            let d = checksum(&data);
            prop_assert!(c == d || (c ^ d == 0xffff && (c == 0 || d == 0)));
        }

        #[test]
        fn sum_splits_at_even_boundaries(data in proptest::collection::vec(any::<u8>(), 0..200), cut in any::<prop::sample::Index>()) {
            let at = cut.index(data.len() + 1) & !1;
            prop_assert_eq!(fold(sum(sum(0, &data[..at]), &data[at..])), fold(sum(0, &data)));
        }
    }
}
