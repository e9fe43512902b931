//! Software prefetch: the only `unsafe` in this crate.
//!
//! A reader walks records one after the other, each header's place known only from the one
//! before; a hint for the bytes a little ahead lets those cache misses overlap with the work on
//! the current record instead of being waited for in turn. Likewise a file read front to back
//! asks the kernel for the pages ahead of its reads ([`file_range`]), so that those not in the
//! page cache come from the disk while the bytes before them are decoded. A prefetch is only a
//! hint: nothing may ever depend on it, and this module must never do anything but issue it.
#![allow(unsafe_code)]

use std::fs::File;

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

/// Asks the kernel to start bringing `len` bytes of `file` from `offset` on into its page cache
/// (`posix_fadvise(POSIX_FADV_WILLNEED)`), without waiting for them; nothing where that is not
/// available. Pages already there are left alone.
#[cfg(target_os = "linux")]
pub(crate) fn file_range(file: &File, offset: u64, len: u64) {
    use std::ffi::c_int;
    use std::os::fd::AsRawFd;

    // From the C library std links on Linux; `off_t` is 64 bits on the 64-bit targets.
    unsafe extern "C" {
        fn posix_fadvise(fd: c_int, offset: i64, len: i64, advice: c_int) -> c_int;
    }
    const POSIX_FADV_WILLNEED: c_int = 3;
    #[cfg(target_pointer_width = "64")]
    if let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) {
        // The call reads its four integers and nothing else; `file` keeps the descriptor open
        // across it; it changes no memory of this process, and its result is an error code
        // that a hint has no use for.
        // SAFETY: a hint only, on a descriptor `file` holds open, with no pointers passed.
        let _ = unsafe { posix_fadvise(file.as_raw_fd(), offset, len, POSIX_FADV_WILLNEED) };
    }
    #[cfg(not(target_pointer_width = "64"))]
    let _ = (file, offset, len);
}

/// [`file_range`] where the kernel has no such hint: nothing.
#[cfg(not(target_os = "linux"))]
pub(crate) fn file_range(file: &File, offset: u64, len: u64) {
    let _ = (file, offset, len);
}
