//! The multiply-fold hashes this crate uses: keyed ones for the table index and steering (a
//! secret per table or per process, so that colliding keys cannot be crafted from outside), and
//! a fixed public one for `flow_id`, which must not depend on any secret.

/// Digits of pi: public constants the secrets are mixed into.
const PI: [u64; 8] = [
    0x243f_6a88_85a3_08d3,
    0x1319_8a2e_0370_7344,
    0xa409_3822_299f_31d0,
    0x082e_fa98_ec4e_6c89,
    0x4528_21e6_38d0_1377,
    0xbe54_66cf_34e9_0c6c,
    0xc0ac_29b7_c97c_50dd,
    0x3f84_d5b5_b547_0917,
];

#[inline(always)]
pub(crate) fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// Eight secret words derived from a seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Keys(pub(crate) [u64; 8]);

impl Keys {
    pub(crate) const PUBLIC: Keys = Keys(PI);

    pub(crate) fn from_seed(seed: u64) -> Keys {
        let mut k = PI;
        let mut s = seed;
        for (i, k) in k.iter_mut().enumerate() {
            s = fold_mul(s ^ PI[(i + 3) % 8], PI[i] | 1).wrapping_add(i as u64);
            *k ^= s;
        }
        Keys(k)
    }

    /// A seed from the operating system's randomness, through std's `RandomState` (whose keys
    /// the standard library draws from the OS once per thread).
    pub(crate) fn random() -> Keys {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0x5eed_c0aa);
        Keys::from_seed(h.finish())
    }

    /// Hashes five words (a connection key).
    #[inline(always)]
    pub(crate) fn hash5(&self, w: &[u64; 5]) -> u64 {
        let k = &self.0;
        let a = fold_mul(w[0] ^ k[0], w[1] ^ k[1]);
        let b = fold_mul(w[2] ^ k[2], w[3] ^ k[3]);
        fold_mul(a ^ b.rotate_left(29) ^ w[4] ^ k[4], k[5] | 1)
    }
}
