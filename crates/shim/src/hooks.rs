//! The exported hooks: libc's names, libc's signatures. Each turns the caller's pointers into
//! slices, asks `decide`, and either fails the call with an errno or makes the real call
//! (`real`) with the caller's arguments unchanged.
//!
//! Variadic functions (`open`, `openat`, `open64`, ...) are defined with their optional
//! `mode` as a fixed argument: on the x86-64 and AArch64 Linux ABIs a variadic integer
//! argument travels in the same register as a fixed one, and when the caller passed none the
//! register holds garbage that is used only with `O_CREAT`/`O_TMPFILE`, exactly as in libc.
//!
//! A pointer the caller passes must be what libc requires (a C string, a `sockaddr` of
//! `addrlen` bytes, a NULL-terminated `argv`). A NULL path is passed on untouched (the kernel
//! answers `EFAULT`); any other invalid pointer faults in the shim where libc's own wrapper
//! (`fopen`, `execvp`) would fault too.

use std::ffi::CStr;

use libc::{FILE, c_char, c_int, mode_t, pid_t, sockaddr, socklen_t};

use crate::decide::{self, Program};
use crate::real::{self, Argv};
use crate::sys;

/// The caller's C string, or `None` for NULL.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string that lives through the call.
unsafe fn cstr<'a>(p: *const c_char) -> Option<&'a CStr> {
    // SAFETY: per this function's contract.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) })
}

/// `argv[0]` as bytes, or empty.
///
/// # Safety
/// `argv` is NULL or a NULL-terminated array of C strings.
unsafe fn argv0<'a>(argv: Argv) -> &'a [u8] {
    if argv.is_null() {
        return &[];
    }
    // SAFETY: argv points at least at its terminating NULL.
    let first = unsafe { *argv };
    // SAFETY: a non-NULL entry is a C string.
    unsafe { cstr(first) }.map_or(&[], |s| s.to_bytes())
}

fn open_common(dirfd: c_int, path: *const c_char, flags: c_int, mode: u32) -> c_int {
    // SAFETY: the caller's path is a C string or NULL (see the module documentation).
    let Some(p) = (unsafe { cstr(path) }) else {
        // SAFETY: passed on unchanged.
        return unsafe { real::openat(dirfd, path, flags, mode) };
    };
    // SAFETY: passed on unchanged.
    decide::open(dirfd, p, flags, mode, || unsafe {
        real::openat(dirfd, path, flags, mode)
    })
}

/// `open(2)`.
///
/// # Safety
/// As libc's `open`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn open(path: *const c_char, flags: c_int, mode: mode_t) -> c_int {
    open_common(libc::AT_FDCWD, path, flags, mode)
}

/// `open64(2)` (the same as `open` on 64-bit Linux).
///
/// # Safety
/// As libc's `open64`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn open64(path: *const c_char, flags: c_int, mode: mode_t) -> c_int {
    open_common(libc::AT_FDCWD, path, flags, mode)
}

/// `openat(2)`.
///
/// # Safety
/// As libc's `openat`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn openat(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mode: mode_t,
) -> c_int {
    open_common(dirfd, path, flags, mode)
}

/// `openat64(2)`.
///
/// # Safety
/// As libc's `openat64`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn openat64(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mode: mode_t,
) -> c_int {
    open_common(dirfd, path, flags, mode)
}

/// `__open_2`, what `open` becomes under `_FORTIFY_SOURCE` when no mode is passed.
///
/// # Safety
/// As libc's `__open_2`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __open_2(path: *const c_char, flags: c_int) -> c_int {
    open_common(libc::AT_FDCWD, path, flags, 0)
}

/// `__open64_2`.
///
/// # Safety
/// As libc's `__open64_2`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __open64_2(path: *const c_char, flags: c_int) -> c_int {
    open_common(libc::AT_FDCWD, path, flags, 0)
}

/// `__openat_2`.
///
/// # Safety
/// As libc's `__openat_2`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __openat_2(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int {
    open_common(dirfd, path, flags, 0)
}

/// `__openat64_2`.
///
/// # Safety
/// As libc's `__openat64_2`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __openat64_2(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int {
    open_common(dirfd, path, flags, 0)
}

/// `creat(2)`.
///
/// # Safety
/// As libc's `creat`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn creat(path: *const c_char, mode: mode_t) -> c_int {
    open_common(
        libc::AT_FDCWD,
        path,
        libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC,
        mode,
    )
}

/// `creat64(2)`.
///
/// # Safety
/// As libc's `creat64`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn creat64(path: *const c_char, mode: mode_t) -> c_int {
    open_common(
        libc::AT_FDCWD,
        path,
        libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC,
        mode,
    )
}

fn fopen_common(f: &real::RealFn, path: *const c_char, mode: *const c_char) -> *mut FILE {
    // SAFETY: the caller's C strings (or NULL).
    let (p, m) = unsafe { (cstr(path), cstr(mode)) };
    let flags = m.and_then(|m| shim_abi::fopen_flags(m.to_bytes()));
    let (Some(p), Some(flags)) = (p, flags) else {
        // SAFETY: passed on unchanged; libc reports the bad argument.
        return unsafe { real::fopen(f, path, mode) };
    };
    if decide::open_is_free(flags) {
        // SAFETY: passed on unchanged.
        return unsafe { real::fopen(f, path, mode) };
    }
    // fopen opens inside libc, out of the hooks' reach: open here, decided like `open`, and
    // give the descriptor a stream.
    let fd = decide::open(libc::AT_FDCWD, p, flags, 0o666, || {
        // SAFETY: the caller's path, passed on.
        unsafe { real::openat(libc::AT_FDCWD, path, flags, 0o666) }
    });
    if fd < 0 {
        return std::ptr::null_mut();
    }
    // SAFETY: fd is ours to give; mode is the caller's C string. fdopen is not hooked.
    let stream = unsafe { libc::fdopen(fd, mode) };
    if stream.is_null() {
        let e = sys::errno();
        sys::close(fd);
        sys::set_errno(e);
    }
    stream
}

/// `fopen(3)`.
///
/// # Safety
/// As libc's `fopen`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fopen(path: *const c_char, mode: *const c_char) -> *mut FILE {
    fopen_common(&real::FOPEN, path, mode)
}

/// `fopen64(3)`.
///
/// # Safety
/// As libc's `fopen64`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fopen64(path: *const c_char, mode: *const c_char) -> *mut FILE {
    fopen_common(&real::FOPEN64, path, mode)
}

/// Decides an exec of `path` (relative to `dirfd`); `Err(errno)` if denied.
///
/// # Safety
/// `path` and `argv` as libc's `execve` requires.
unsafe fn exec_check<'a>(
    program: impl FnOnce(&'a CStr) -> Program<'a>,
    path: *const c_char,
    argv: Argv,
) -> Result<(), c_int> {
    // SAFETY: the caller's C string and argv.
    let (p, a0) = unsafe { (cstr(path), argv0(argv)) };
    match p {
        Some(p) => decide::exec(program(p), a0).map_or(Ok(()), Err),
        None => Ok(()),
    }
}

/// `execve(2)`.
///
/// # Safety
/// As libc's `execve`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn execve(path: *const c_char, argv: Argv, envp: Argv) -> c_int {
    // SAFETY: the caller's arguments.
    match unsafe { exec_check(|p| Program::Path(libc::AT_FDCWD, p), path, argv) } {
        // SAFETY: passed on unchanged.
        Ok(()) => unsafe { real::execve(path, argv, envp) },
        Err(e) => {
            sys::set_errno(e);
            -1
        }
    }
}

/// `execv(3)`.
///
/// # Safety
/// As libc's `execv`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn execv(path: *const c_char, argv: Argv) -> c_int {
    // SAFETY: the caller's arguments.
    match unsafe { exec_check(|p| Program::Path(libc::AT_FDCWD, p), path, argv) } {
        // SAFETY: passed on unchanged.
        Ok(()) => unsafe { real::execv(&real::EXECV, path, argv) },
        Err(e) => {
            sys::set_errno(e);
            -1
        }
    }
}

/// `execvp(3)`: the program is looked up in `PATH` as libc will.
///
/// # Safety
/// As libc's `execvp`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn execvp(file: *const c_char, argv: Argv) -> c_int {
    // SAFETY: the caller's arguments.
    match unsafe { exec_check(Program::Search, file, argv) } {
        // SAFETY: passed on unchanged.
        Ok(()) => unsafe { real::execv(&real::EXECVP, file, argv) },
        Err(e) => {
            sys::set_errno(e);
            -1
        }
    }
}

/// `execvpe(3)`.
///
/// # Safety
/// As libc's `execvpe`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn execvpe(file: *const c_char, argv: Argv, envp: Argv) -> c_int {
    // SAFETY: the caller's arguments.
    match unsafe { exec_check(Program::Search, file, argv) } {
        // SAFETY: passed on unchanged.
        Ok(()) => unsafe { real::execvpe(file, argv, envp) },
        Err(e) => {
            sys::set_errno(e);
            -1
        }
    }
}

/// `execveat(2)`.
///
/// # Safety
/// As libc's `execveat`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn execveat(
    dirfd: c_int,
    path: *const c_char,
    argv: Argv,
    envp: Argv,
    flags: c_int,
) -> c_int {
    // SAFETY: the caller's C string (or NULL).
    let empty = unsafe { cstr(path) }.is_none_or(|p| p.to_bytes().is_empty());
    let check = if empty && flags & libc::AT_EMPTY_PATH != 0 {
        // SAFETY: the caller's argv.
        decide::exec(Program::Fd(dirfd), unsafe { argv0(argv) }).map_or(Ok(()), Err)
    } else {
        // SAFETY: the caller's arguments.
        unsafe { exec_check(|p| Program::Path(dirfd, p), path, argv) }
    };
    match check {
        // SAFETY: passed on unchanged.
        Ok(()) => unsafe { real::execveat(dirfd, path, argv, envp, flags) },
        Err(e) => {
            sys::set_errno(e);
            -1
        }
    }
}

/// `fexecve(3)`.
///
/// # Safety
/// As libc's `fexecve`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fexecve(fd: c_int, argv: Argv, envp: Argv) -> c_int {
    // SAFETY: the caller's argv.
    match decide::exec(Program::Fd(fd), unsafe { argv0(argv) }) {
        // SAFETY: passed on unchanged.
        None => unsafe { real::fexecve(fd, argv, envp) },
        Some(e) => {
            sys::set_errno(e);
            -1
        }
    }
}

/// `posix_spawn(3)`: a denial is returned as the error number, as posix_spawn does.
///
/// # Safety
/// As libc's `posix_spawn`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn posix_spawn(
    pid: *mut pid_t,
    path: *const c_char,
    actions: *const libc::posix_spawn_file_actions_t,
    attr: *const libc::posix_spawnattr_t,
    argv: Argv,
    envp: Argv,
) -> c_int {
    // SAFETY: the caller's arguments.
    match unsafe { exec_check(|p| Program::Path(libc::AT_FDCWD, p), path, argv) } {
        // SAFETY: passed on unchanged.
        Ok(()) => unsafe { real::spawn(&real::POSIX_SPAWN, pid, path, actions, attr, argv, envp) },
        Err(e) => e,
    }
}

/// `posix_spawnp(3)`.
///
/// # Safety
/// As libc's `posix_spawnp`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn posix_spawnp(
    pid: *mut pid_t,
    file: *const c_char,
    actions: *const libc::posix_spawn_file_actions_t,
    attr: *const libc::posix_spawnattr_t,
    argv: Argv,
    envp: Argv,
) -> c_int {
    // SAFETY: the caller's arguments.
    match unsafe { exec_check(Program::Search, file, argv) } {
        // SAFETY: passed on unchanged.
        Ok(()) => unsafe { real::spawn(&real::POSIX_SPAWNP, pid, file, actions, attr, argv, envp) },
        Err(e) => e,
    }
}

/// `connect(2)`.
///
/// # Safety
/// As libc's `connect`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    if !addr.is_null() {
        // Copied out once: the decision is made on these bytes.
        let mut sa = [0u8; std::mem::size_of::<libc::sockaddr_storage>()];
        let n = (len as usize).min(sa.len());
        // SAFETY: the caller's addr is readable for len bytes; we read at most that.
        unsafe { std::ptr::copy_nonoverlapping(addr.cast::<u8>(), sa.as_mut_ptr(), n) };
        if let Some(e) = decide::connect(&sa[..n]) {
            sys::set_errno(e);
            return -1;
        }
    }
    // SAFETY: passed on unchanged.
    unsafe { real::connect(fd, addr, len) }
}
