//! Bounds-checked reads and writes of big-endian fields, shared by every view.
//!
//! A read past the end gives zeros and a write past the end is dropped, so that an unchecked
//! view over a short buffer can never panic; `new_checked` is what rejects short buffers.

use core::ops::Range;

/// The `N` bytes at `at`, or zeros when the buffer is too short.
#[inline(always)]
pub(crate) fn array<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    b.get(at..)
        .and_then(|s| s.get(..N))
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .unwrap_or([0; N])
}

#[inline(always)]
pub(crate) fn u8_at(b: &[u8], at: usize) -> u8 {
    b.get(at).copied().unwrap_or(0)
}

#[inline(always)]
pub(crate) fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes(array(b, at))
}

#[inline(always)]
pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(array(b, at))
}

/// `b[r]`, or the empty slice when `r` is not inside `b`.
#[inline(always)]
pub(crate) fn slice(b: &[u8], r: Range<usize>) -> &[u8] {
    b.get(r).unwrap_or(&[])
}

/// `b[r]` mutably, or the empty slice when `r` is not inside `b`.
#[inline(always)]
pub(crate) fn slice_mut(b: &mut [u8], r: Range<usize>) -> &mut [u8] {
    b.get_mut(r).unwrap_or(&mut [])
}

/// Copies `v` to `at`; nothing is written unless all of `v` fits.
#[inline(always)]
pub(crate) fn put(b: &mut [u8], at: usize, v: &[u8]) {
    if let Some(d) = b.get_mut(at..).and_then(|s| s.get_mut(..v.len())) {
        d.copy_from_slice(v);
    }
}

#[inline(always)]
pub(crate) fn put_u8(b: &mut [u8], at: usize, v: u8) {
    if let Some(d) = b.get_mut(at) {
        *d = v;
    }
}

#[inline(always)]
pub(crate) fn put_u16(b: &mut [u8], at: usize, v: u16) {
    put(b, at, &v.to_be_bytes());
}

#[inline(always)]
pub(crate) fn put_u32(b: &mut [u8], at: usize, v: u32) {
    put(b, at, &v.to_be_bytes());
}

/// Copies `v` into `r`; nothing is written unless `r` is inside `b` and as long as `v`.
#[inline(always)]
pub(crate) fn put_range(b: &mut [u8], r: Range<usize>, v: &[u8]) {
    if let Some(d) = b.get_mut(r)
        && d.len() == v.len()
    {
        d.copy_from_slice(v);
    }
}
