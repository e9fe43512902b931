//! The system calls the shim makes for itself, as raw `syscall(2)`s with a safe API.
//!
//! Raw, never through libc's wrappers: inside this library the names `open`, `openat`,
//! `connect` and the exec family are the shim's own hooks, so calling them would recurse.
//! Every function here preserves nothing: callers that must hand `errno` back to the
//! application set it last, with [`set_errno`]. Nothing here allocates or blocks (except
//! [`write`] to a FIFO opened with `O_NONBLOCK`, which cannot).

use std::ffi::CStr;
use std::mem::MaybeUninit;

use libc::{c_int, c_long};

/// A positive errno value.
pub type Errno = c_int;

/// The calling thread's errno.
pub fn errno() -> Errno {
    // SAFETY: __errno_location returns the thread's own errno slot, valid for the thread's life.
    unsafe { *libc::__errno_location() }
}

/// Sets the calling thread's errno.
pub fn set_errno(e: Errno) {
    // SAFETY: as in `errno`.
    unsafe { *libc::__errno_location() = e }
}

fn result(ret: c_long) -> Result<c_long, Errno> {
    if ret < 0 { Err(errno()) } else { Ok(ret) }
}

/// `openat(dirfd, path, flags, mode)`.
pub fn openat(dirfd: c_int, path: &CStr, flags: c_int, mode: u32) -> Result<c_int, Errno> {
    // SAFETY: path is a valid C string for the call; the kernel copies it.
    let ret = unsafe { libc::syscall(libc::SYS_openat, dirfd, path.as_ptr(), flags, mode) };
    result(ret).map(|fd| fd as c_int)
}

/// The flags `openat2` accepts (`VALID_OPEN_FLAGS` in the kernel): `openat` ignores any other
/// bit, `openat2` refuses it, so the others are dropped to keep `openat`'s behaviour.
const VALID_OPEN_FLAGS: c_int = libc::O_RDONLY
    | libc::O_WRONLY
    | libc::O_RDWR
    | libc::O_CREAT
    | libc::O_EXCL
    | libc::O_NOCTTY
    | libc::O_TRUNC
    | libc::O_APPEND
    | libc::O_NONBLOCK
    | libc::O_DSYNC
    | libc::O_ASYNC
    | libc::O_DIRECT
    | libc::O_LARGEFILE
    | libc::O_DIRECTORY
    | libc::O_NOFOLLOW
    | libc::O_NOATIME
    | libc::O_CLOEXEC
    | libc::O_PATH
    | libc::O_TMPFILE
    | libc::O_SYNC;

/// `openat2(dirfd, path, {flags, mode, RESOLVE_NO_SYMLINKS})`: `openat`, except that any
/// symbolic link on the way fails with `ELOOP`. `mode` is passed only with `O_CREAT` or
/// `O_TMPFILE` (an `open` without them receives whatever was in the register, which `openat`
/// ignores and `openat2` would refuse).
pub fn openat_no_symlinks(
    dirfd: c_int,
    path: &CStr,
    flags: c_int,
    mode: u32,
) -> Result<c_int, Errno> {
    let flags = flags & VALID_OPEN_FLAGS;
    let wants_mode = flags & libc::O_CREAT != 0 || flags & libc::O_TMPFILE == libc::O_TMPFILE;
    // SAFETY: open_how is plain integers; all-zero is valid.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = flags as u32 as u64;
    how.mode = if wants_mode {
        u64::from(mode & 0o7777)
    } else {
        0
    };
    how.resolve = libc::RESOLVE_NO_SYMLINKS;
    // SAFETY: path and how are valid for the call; the kernel copies both.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd,
            path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    result(ret).map(|fd| fd as c_int)
}

/// `close(fd)`, errors ignored (the descriptor is gone either way on Linux).
pub fn close(fd: c_int) {
    // SAFETY: closing a descriptor this library opened.
    unsafe { libc::syscall(libc::SYS_close, fd) };
}

/// An uninitialised stack buffer (creating it costs nothing; the kernel or the normaliser
/// fills what is used).
pub fn buffer<const N: usize>() -> [MaybeUninit<u8>; N] {
    [const { MaybeUninit::uninit() }; N]
}

/// The first `n` bytes of `out`, which the kernel has just written.
fn written(out: &[MaybeUninit<u8>], n: usize) -> &[u8] {
    // SAFETY: the caller passes the count the kernel reported writing, at most out.len();
    // MaybeUninit<u8> has u8's layout.
    unsafe { std::slice::from_raw_parts(out.as_ptr().cast::<u8>(), n.min(out.len())) }
}

/// `readlinkat(dirfd, path)` into `out`; returns the target (not NUL-terminated).
pub fn readlinkat<'o>(
    dirfd: c_int,
    path: &CStr,
    out: &'o mut [MaybeUninit<u8>],
) -> Result<&'o [u8], Errno> {
    // SAFETY: path is a C string, out is writable for out.len() bytes (uninitialised memory
    // may be written by the kernel).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_readlinkat,
            dirfd,
            path.as_ptr(),
            out.as_mut_ptr(),
            out.len(),
        )
    };
    let n = result(ret)? as usize;
    // A full buffer may be a cut name.
    if n >= out.len() {
        return Err(libc::ENAMETOOLONG);
    }
    Ok(written(out, n))
}

/// `readlinkat(AT_FDCWD, path)`.
pub fn readlink<'o>(path: &CStr, out: &'o mut [MaybeUninit<u8>]) -> Result<&'o [u8], Errno> {
    readlinkat(libc::AT_FDCWD, path, out)
}

/// The path a descriptor refers to, from `/proc/self/fd/N` (needs `/proc`).
pub fn fd_path(fd: c_int, out: &mut [MaybeUninit<u8>]) -> Result<&[u8], Errno> {
    let mut name = [0u8; 32];
    readlink(proc_fd_name(fd, &mut name), out)
}

/// `/proc/self/fd/N` as a C string in `out`.
pub fn proc_fd_name(fd: c_int, out: &mut [u8; 32]) -> &CStr {
    let prefix = b"/proc/self/fd/";
    out[..prefix.len()].copy_from_slice(prefix);
    let n = prefix.len() + write_decimal(fd as u32 as u64, &mut out[prefix.len()..31]);
    out[n] = 0;
    CStr::from_bytes_until_nul(&out[..]).unwrap_or(c"")
}

/// Writes `v` in decimal at the start of `out`; returns the number of digits.
pub fn write_decimal(mut v: u64, out: &mut [u8]) -> usize {
    let mut digits = [0u8; 20];
    let mut n = 0;
    loop {
        digits[n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for i in 0..n.min(out.len()) {
        out[i] = digits[n - 1 - i];
    }
    n.min(out.len())
}

/// The current directory into `out`.
pub fn getcwd(out: &mut [MaybeUninit<u8>]) -> Result<&[u8], Errno> {
    // SAFETY: out is writable for out.len() bytes.
    let ret = unsafe { libc::syscall(libc::SYS_getcwd, out.as_mut_ptr(), out.len()) };
    let n = result(ret)? as usize;
    // The kernel's length counts the NUL.
    Ok(written(out, n.saturating_sub(1)))
}

/// `faccessat(AT_FDCWD, path, X_OK)`: is it an executable file.
pub fn executable(path: &CStr) -> bool {
    // SAFETY: path is a C string.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_faccessat,
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::X_OK,
        )
    };
    ret == 0
}

/// `write(fd, bytes)`; returns the count written.
pub fn write(fd: c_int, bytes: &[u8]) -> Result<usize, Errno> {
    // SAFETY: bytes is readable for its length.
    let ret = unsafe { libc::syscall(libc::SYS_write, fd, bytes.as_ptr(), bytes.len()) };
    result(ret).map(|n| n as usize)
}

/// `getpid()`.
pub fn getpid() -> i32 {
    // SAFETY: no arguments.
    unsafe { libc::syscall(libc::SYS_getpid) as i32 }
}

/// `getuid()`.
pub fn getuid() -> u32 {
    // SAFETY: no arguments.
    unsafe { libc::syscall(libc::SYS_getuid) as u32 }
}

/// Wall-clock time in ns since 1970 (vDSO: no system call).
pub fn realtime_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec to write; clock_gettime is not hooked.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// Coarse monotonic seconds (vDSO: no system call).
pub fn coarse_seconds() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: as in `realtime_ns`.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    ts.tv_sec as u64
}

/// The signal mask state around a write that may raise `SIGPIPE`.
pub struct SigpipeBlocked {
    old: libc::sigset_t,
    was_pending: bool,
}

/// Blocks `SIGPIPE` for the calling thread and notes whether one was already pending.
pub fn block_sigpipe() -> SigpipeBlocked {
    // SAFETY: sigset_t is plain data; the calls only write the sets passed to them, and
    // rt_sigprocmask takes the kernel's sigset size (8 bytes on Linux).
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        let mut pending: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_BLOCK,
            &set as *const libc::sigset_t,
            &mut old as *mut libc::sigset_t,
            8usize,
        );
        libc::syscall(
            libc::SYS_rt_sigpending,
            &mut pending as *mut libc::sigset_t,
            8usize,
        );
        SigpipeBlocked {
            old,
            was_pending: libc::sigismember(&pending, libc::SIGPIPE) == 1,
        }
    }
}

/// Restores the mask; first takes away a `SIGPIPE` that our own write raised.
pub fn unblock_sigpipe(state: SigpipeBlocked, raised: bool) {
    // SAFETY: as in `block_sigpipe`; the zero timeout makes rt_sigtimedwait return at once.
    unsafe {
        if raised && !state.was_pending {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGPIPE);
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            libc::syscall(
                libc::SYS_rt_sigtimedwait,
                &set as *const libc::sigset_t,
                std::ptr::null_mut::<libc::siginfo_t>(),
                &zero as *const libc::timespec,
                8usize,
            );
        }
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &state.old as *const libc::sigset_t,
            std::ptr::null_mut::<libc::sigset_t>(),
            8usize,
        );
    }
}

/// A read-only or read-write shared mapping of a whole small file.
pub struct Mapping {
    /// Start of the mapping.
    pub base: *mut u8,
    /// Its length.
    pub len: usize,
}

/// Maps the file at `path` (`MAP_SHARED`), if it is at least `min` and at most `max` bytes.
/// With `writable`, the mapping and the descriptor are read-write.
pub fn map_file(path: &CStr, writable: bool, min: usize, max: usize) -> Result<Mapping, Errno> {
    let flags = libc::O_CLOEXEC
        | libc::O_NOFOLLOW
        | if writable {
            libc::O_RDWR
        } else {
            libc::O_RDONLY
        };
    let fd = openat(libc::AT_FDCWD, path, flags, 0)?;
    // SAFETY: st is plain data written by fstat; mmap gets a length matching the file, and the
    // mapping outlives the descriptor (closed right after, which mmap allows).
    let mapped = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::syscall(libc::SYS_fstat, fd, &mut st as *mut libc::stat) < 0 {
            Err(errno())
        } else if (st.st_mode & libc::S_IFMT) != libc::S_IFREG {
            Err(libc::EINVAL)
        } else {
            let len = st.st_size as usize;
            if len < min || len > max {
                Err(libc::EINVAL)
            } else {
                let prot = libc::PROT_READ | if writable { libc::PROT_WRITE } else { 0 };
                let p = libc::mmap(std::ptr::null_mut(), len, prot, libc::MAP_SHARED, fd, 0);
                if p == libc::MAP_FAILED {
                    Err(errno())
                } else {
                    Ok(Mapping {
                        base: p.cast(),
                        len,
                    })
                }
            }
        }
    };
    close(fd);
    mapped
}

/// Unmaps a mapping made by [`map_file`]. The caller guarantees no reference into it remains.
pub fn unmap(m: Mapping) {
    // SAFETY: base and len are those mmap returned; the caller guarantees no live references.
    unsafe { libc::munmap(m.base.cast(), m.len) };
}
