//! Software prefetch: the only `unsafe` in this crate.
//!
//! A reader walks records one after the other, each header's place known only from the one
//! before; a hint for the bytes a little ahead lets those cache misses overlap with the work on
//! the current record instead of being waited for in turn. A prefetch is only a hint: nothing may
//! ever depend on it, and this module must never do anything but issue it.
#![allow(unsafe_code)]

/// Hints the CPU to bring the four cache lines from `bytes[at]` on into its caches, if they are
/// all in `bytes`; nothing otherwise.
#[inline(always)]
pub(crate) fn block(bytes: &[u8], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(block) = bytes.get(at..).and_then(|b| b.first_chunk::<256>()) {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let p = block.as_ptr().cast::<i8>();
        // `prefetcht0` has no effect the program can see and cannot fault (not even on an
        // invalid address), and SSE is in the x86_64 baseline.
        // SAFETY: a hint only, on addresses of live bytes of `block`.
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(p);
            _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(64));
            _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(128));
            _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(192));
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (bytes, at);
}
