//! The CRC32-C instruction (SSE4.2), for the exact-match cache's hash: the only other `unsafe`
//! in this crate besides the prefetch hint.
//!
//! Compiled only when SSE4.2 is enabled for the whole build (the workspace enables it in
//! `.cargo/config.toml`), so the instruction exists on every CPU the binary may run on. Elsewhere the cache uses the table's multiply hash and this module is empty. It must
//! never do anything but compute the checksum.
#![allow(unsafe_code)]

/// One step of CRC32-C: `crc` updated with the eight bytes of `v` (little-endian).
#[cfg(all(target_arch = "x86_64", target_feature = "sse4.2"))]
#[inline(always)]
pub(crate) fn crc32c_u64(crc: u64, v: u64) -> u64 {
    // SAFETY: `_mm_crc32_u64` only needs SSE4.2, and this function exists only when the build
    // enables SSE4.2 for every function (the cfg above): no CPU without it may run the binary.
    unsafe { core::arch::x86_64::_mm_crc32_u64(crc, v) }
}

#[cfg(all(test, target_arch = "x86_64", target_feature = "sse4.2"))]
mod tests {
    use super::*;

    /// The instruction computes CRC32-C (Castagnoli), reflected, without the final inversion:
    /// the standard check value of "123456789" is 0xE3069283 with both inversions.
    #[test]
    fn matches_the_castagnoli_check_value() {
        let data = b"123456789\0\0\0\0\0\0\0";
        // Bytes one at a time through the 64-bit step is not possible; use a bitwise reference.
        let reference = |init: u32, bytes: &[u8]| -> u32 {
            let mut c = init;
            for &b in bytes {
                c ^= u32::from(b);
                for _ in 0..8 {
                    c = if c & 1 != 0 {
                        (c >> 1) ^ 0x82f6_3b78
                    } else {
                        c >> 1
                    };
                }
            }
            c
        };
        assert_eq!(!reference(!0, &data[..9]), 0xe306_9283);
        let w0 = u64::from_le_bytes(data[..8].try_into().unwrap());
        let w1 = u64::from_le_bytes(data[8..].try_into().unwrap());
        let got = crc32c_u64(crc32c_u64(0x1234_5678, w0), w1) as u32;
        assert_eq!(got, reference(0x1234_5678, &data[..]));
    }
}
