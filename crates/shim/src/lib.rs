//! `librampart_shim.so`: the library preloaded into a protected container's processes (through
//! the container's `/etc/ld.so.preload`, or `LD_PRELOAD` under `rampart run`) that holds them
//! to the container's policy.
//!
//! It interposes libc's `execve`, `execv`, `execvp`, `execvpe`, `execveat`, `fexecve`,
//! `posix_spawn`, `posix_spawnp`, `open`, `open64`, `openat`, `openat64`, `__open_2`,
//! `__open64_2`, `__openat_2`, `__openat64_2`, `creat`, `creat64`, `fopen`, `fopen64` and
//! `connect`, decides each call against the compiled policy image it maps read-only
//! (`shim_abi::image`), fails a denied call with the policy's errno without doing anything,
//! and reports decisions to the probe's FIFO (`shim_abi::record`).
//!
//! Everything it uses sits in the directory the library was loaded from: `policy` (the image,
//! replaced by rename), `control` (the generation and fallback), `counters` and `events` (the
//! FIFO). A directory without a `control` page was not set up by a probe, and the shim then
//! lets every call through.
//!
//! The hooks must never allocate, lock, print or block beyond the call they wrap; they are
//! safe in threads, in a child after `fork`, in signal handlers that open files, and before
//! the library's constructor has run. They trust nothing a process passes them beyond libc's
//! own contract, and nothing in the mapped files beyond what `shim_abi` validates. Static and
//! raw-syscall programs never meet them: `rampart run --seccomp` holds those.

mod decide;
mod hooks;
mod real;
mod report;
mod state;
mod sys;

/// Runs the shim's set-up when the library is loaded, while the process is single-threaded.
#[used]
#[unsafe(link_section = ".init_array")]
static CONSTRUCTOR: extern "C" fn() = state::constructor;
