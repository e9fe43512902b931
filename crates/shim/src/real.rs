//! The functions the shim hooks, as the next library (libc) defines them, found with
//! `dlsym(RTLD_NEXT, name)` once and cached in an atomic.
//!
//! Resolution happens in the library's constructor, or on first use when a hook runs earlier
//! (another library's constructor). `dlsym` may allocate, but only then, never on a later call.
//! A symbol libc lacks (an old glibc without `execveat`) resolves to `None`, and the hook
//! falls back to the raw system call or fails with `ENOSYS`.

use std::ffi::c_void;
use std::sync::atomic::{AtomicPtr, Ordering};

use libc::{c_char, c_int, pid_t, sockaddr, socklen_t};

/// A lazily resolved symbol. The null pointer means "not looked up yet"; a failed lookup is
/// stored as [`MISSING`].
pub struct RealFn {
    name: &'static std::ffi::CStr,
    ptr: AtomicPtr<c_void>,
}

/// Marks a symbol `dlsym` did not find (never a valid function address).
const MISSING: *mut c_void = std::ptr::without_provenance_mut(1);

impl RealFn {
    const fn new(name: &'static std::ffi::CStr) -> Self {
        RealFn {
            name,
            ptr: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// The address, looked up on first use.
    pub fn addr(&self) -> Option<*mut c_void> {
        let mut p = self.ptr.load(Ordering::Acquire);
        if p.is_null() {
            // SAFETY: dlsym with RTLD_NEXT and a C string name; racing threads store the same
            // answer.
            p = unsafe { libc::dlsym(libc::RTLD_NEXT, self.name.as_ptr()) };
            if p.is_null() {
                p = MISSING;
            }
            self.ptr.store(p, Ordering::Release);
        }
        (p != MISSING).then_some(p)
    }
}

pub static EXECVE: RealFn = RealFn::new(c"execve");
pub static EXECV: RealFn = RealFn::new(c"execv");
pub static EXECVP: RealFn = RealFn::new(c"execvp");
pub static EXECVPE: RealFn = RealFn::new(c"execvpe");
pub static EXECVEAT: RealFn = RealFn::new(c"execveat");
pub static FEXECVE: RealFn = RealFn::new(c"fexecve");
pub static POSIX_SPAWN: RealFn = RealFn::new(c"posix_spawn");
pub static POSIX_SPAWNP: RealFn = RealFn::new(c"posix_spawnp");
pub static OPENAT: RealFn = RealFn::new(c"openat");
pub static FOPEN: RealFn = RealFn::new(c"fopen");
pub static FOPEN64: RealFn = RealFn::new(c"fopen64");
pub static CONNECT: RealFn = RealFn::new(c"connect");

/// Looks every symbol up now (from the constructor, while the process is single-threaded).
pub fn resolve_all() {
    for f in [
        &EXECVE,
        &EXECV,
        &EXECVP,
        &EXECVPE,
        &EXECVEAT,
        &FEXECVE,
        &POSIX_SPAWN,
        &POSIX_SPAWNP,
        &OPENAT,
        &FOPEN,
        &FOPEN64,
        &CONNECT,
    ] {
        let _ = f.addr();
    }
}

pub type Argv = *const *const c_char;
type ExecveFn = unsafe extern "C" fn(*const c_char, Argv, Argv) -> c_int;
type ExecvFn = unsafe extern "C" fn(*const c_char, Argv) -> c_int;
type ExecveatFn = unsafe extern "C" fn(c_int, *const c_char, Argv, Argv, c_int) -> c_int;
type FexecveFn = unsafe extern "C" fn(c_int, Argv, Argv) -> c_int;
type SpawnFn = unsafe extern "C" fn(
    *mut pid_t,
    *const c_char,
    *const libc::posix_spawn_file_actions_t,
    *const libc::posix_spawnattr_t,
    Argv,
    Argv,
) -> c_int;
type OpenatFn = unsafe extern "C" fn(c_int, *const c_char, c_int, libc::mode_t) -> c_int;
type FopenFn = unsafe extern "C" fn(*const c_char, *const c_char) -> *mut libc::FILE;
type ConnectFn = unsafe extern "C" fn(c_int, *const sockaddr, socklen_t) -> c_int;

fn enosys() -> c_int {
    crate::sys::set_errno(libc::ENOSYS);
    -1
}

/// The real `execve`, or the raw system call.
///
/// # Safety
/// The arguments are the caller's, passed on unchanged.
pub unsafe fn execve(path: *const c_char, argv: Argv, envp: Argv) -> c_int {
    match EXECVE.addr() {
        // SAFETY: the address dlsym gave for "execve" has execve's signature.
        Some(p) => unsafe { std::mem::transmute::<*mut c_void, ExecveFn>(p)(path, argv, envp) },
        // SAFETY: the caller's arguments, passed on.
        None => unsafe { libc::syscall(libc::SYS_execve, path, argv, envp) as c_int },
    }
}

/// The real `execv`, `execvp`.
///
/// # Safety
/// As for [`execve`].
pub unsafe fn execv(f: &RealFn, path: *const c_char, argv: Argv) -> c_int {
    match f.addr() {
        // SAFETY: execv and execvp share this signature.
        Some(p) => unsafe { std::mem::transmute::<*mut c_void, ExecvFn>(p)(path, argv) },
        None => enosys(),
    }
}

/// The real `execvpe`.
///
/// # Safety
/// As for [`execve`].
pub unsafe fn execvpe(path: *const c_char, argv: Argv, envp: Argv) -> c_int {
    match EXECVPE.addr() {
        // SAFETY: execvpe has execve's signature.
        Some(p) => unsafe { std::mem::transmute::<*mut c_void, ExecveFn>(p)(path, argv, envp) },
        None => enosys(),
    }
}

/// The real `execveat`, or the raw system call.
///
/// # Safety
/// As for [`execve`].
pub unsafe fn execveat(
    dirfd: c_int,
    path: *const c_char,
    argv: Argv,
    envp: Argv,
    flags: c_int,
) -> c_int {
    match EXECVEAT.addr() {
        // SAFETY: the address has execveat's signature.
        Some(p) => unsafe {
            std::mem::transmute::<*mut c_void, ExecveatFn>(p)(dirfd, path, argv, envp, flags)
        },
        // SAFETY: the caller's arguments, passed on.
        None => unsafe {
            libc::syscall(libc::SYS_execveat, dirfd, path, argv, envp, flags) as c_int
        },
    }
}

/// The real `fexecve`.
///
/// # Safety
/// As for [`execve`].
pub unsafe fn fexecve(fd: c_int, argv: Argv, envp: Argv) -> c_int {
    match FEXECVE.addr() {
        // SAFETY: the address has fexecve's signature.
        Some(p) => unsafe { std::mem::transmute::<*mut c_void, FexecveFn>(p)(fd, argv, envp) },
        None => enosys(),
    }
}

/// The real `posix_spawn` or `posix_spawnp` (which return an error number).
///
/// # Safety
/// As for [`execve`].
pub unsafe fn spawn(
    f: &RealFn,
    pid: *mut pid_t,
    path: *const c_char,
    actions: *const libc::posix_spawn_file_actions_t,
    attr: *const libc::posix_spawnattr_t,
    argv: Argv,
    envp: Argv,
) -> c_int {
    match f.addr() {
        // SAFETY: posix_spawn and posix_spawnp share this signature.
        Some(p) => unsafe {
            std::mem::transmute::<*mut c_void, SpawnFn>(p)(pid, path, actions, attr, argv, envp)
        },
        None => libc::ENOSYS,
    }
}

/// The real `openat`, or the raw system call.
///
/// # Safety
/// `path` is the caller's pointer, passed on unchanged.
pub unsafe fn openat(dirfd: c_int, path: *const c_char, flags: c_int, mode: u32) -> c_int {
    match OPENAT.addr() {
        // SAFETY: the address has openat's signature (its mode is variadic; passing it always
        // is what a C caller does too).
        Some(p) => unsafe {
            std::mem::transmute::<*mut c_void, OpenatFn>(p)(dirfd, path, flags, mode)
        },
        // SAFETY: the caller's arguments, passed on.
        None => unsafe { libc::syscall(libc::SYS_openat, dirfd, path, flags, mode) as c_int },
    }
}

/// The real `fopen` or `fopen64`.
///
/// # Safety
/// The caller's pointers, passed on unchanged.
pub unsafe fn fopen(f: &RealFn, path: *const c_char, mode: *const c_char) -> *mut libc::FILE {
    match f.addr() {
        // SAFETY: fopen and fopen64 share this signature.
        Some(p) => unsafe { std::mem::transmute::<*mut c_void, FopenFn>(p)(path, mode) },
        None => {
            crate::sys::set_errno(libc::ENOSYS);
            std::ptr::null_mut()
        }
    }
}

/// The real `connect`, or the raw system call.
///
/// # Safety
/// The caller's arguments, passed on unchanged.
pub unsafe fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    match CONNECT.addr() {
        // SAFETY: the address has connect's signature.
        Some(p) => unsafe { std::mem::transmute::<*mut c_void, ConnectFn>(p)(fd, addr, len) },
        // SAFETY: the caller's arguments, passed on.
        None => unsafe { libc::syscall(libc::SYS_connect, fd, addr, len) as c_int },
    }
}
