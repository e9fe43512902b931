//! Memory hints for the connection table: software prefetch and transparent huge pages. The
//! only `unsafe` in this crate.
//!
//! With a million connections the table's index and entries are hundreds of megabytes, so a
//! packet's lookup misses the caches and, on 4 KB pages, the TLB too. The batch lookup hashes a
//! whole batch and prefetches each packet's index slot, then its entry, so the misses overlap;
//! huge pages make the page walks go away. Both are hints: nothing may depend on them for
//! correctness, and this module must never do anything but give one.
#![allow(unsafe_code)]

/// Hints the CPU to bring the cache line at `p` into L1. Any address will do, even one outside
/// every allocation: the instruction ignores it. A no-op on other architectures.
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: `prefetcht0` is a hint: no access visible to the program, it cannot fault
        // (even on an invalid or dangling address), and SSE is in the x86_64 baseline.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>()) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = p;
    }
}

/// The size of a transparent huge page on x86-64 and arm64 with 4 KB base pages.
const HUGE_PAGE: usize = 2 << 20;

/// Asks the kernel to back the whole 2 MB pages inside `region` with transparent huge pages
/// (`madvise(MADV_HUGEPAGE)`: Debian's default THP mode gives them only on request). Call it
/// before the memory is first written: pages faulted in later come as huge pages when the
/// kernel has them to spare. Nothing happens when `region` holds no whole huge page, on other
/// systems, or when the kernel refuses (the memory then stays on small pages).
pub(crate) fn advise_huge_pages<T>(region: &mut [T]) {
    #[cfg(target_os = "linux")]
    {
        use std::ffi::{c_int, c_void};
        // From the C library std links on Linux.
        unsafe extern "C" {
            fn madvise(addr: *mut c_void, len: usize, advice: c_int) -> c_int;
        }
        const MADV_HUGEPAGE: c_int = 14;
        let start = region.as_mut_ptr() as usize;
        let end = start + std::mem::size_of_val(region);
        let first = start.next_multiple_of(HUGE_PAGE);
        let last = end / HUGE_PAGE * HUGE_PAGE;
        if last > first {
            // `first..last` lies inside `region`, memory this process owns through the
            // exclusive borrow; MADV_HUGEPAGE changes how its pages are backed, never their
            // contents or the mapping's protection, so no Rust value can observe it. The result
            // is an error code that a hint has no use for.
            // SAFETY: a hint on a range of memory we own, with no pointer kept past the call.
            let _ = unsafe {
                madvise(
                    region
                        .as_mut_ptr()
                        .cast::<u8>()
                        .wrapping_add(first - start)
                        .cast(),
                    last - first,
                    MADV_HUGEPAGE,
                )
            };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = region;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_leave_memory_as_it_was() {
        let mut v = vec![7u64; (3 * HUGE_PAGE) / 8];
        advise_huge_pages(&mut v);
        advise_huge_pages(&mut v[..3]);
        advise_huge_pages::<u64>(&mut []);
        prefetch(v.as_ptr());
        prefetch(std::ptr::null::<u8>());
        assert!(v.iter().all(|&x| x == 7));
        let mut spare: Vec<u32> = Vec::with_capacity(HUGE_PAGE);
        advise_huge_pages(spare.spare_capacity_mut());
        spare.extend(0..1000);
        assert_eq!(spare[999], 999);
    }
}
