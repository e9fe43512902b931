//! The decisions behind the hooks: which calls to let through, which to fail, which to report.
//!
//! Safe code over the caller's arguments already turned into slices by `hooks`. It must never
//! allocate, take a lock, print, or hold the policy guard across a call that can block for
//! long. Stack use is bounded (a few path buffers, about 20 KiB at the deepest).
//!
//! # Opening a file, fastest first
//!
//! 1. Mode `off`, no readable policy with an `allow` fallback, or an `O_PATH` open: the call
//!    goes straight to libc.
//! 2. The precomputed answer for the access asked says no rule can apply: straight to libc.
//! 3. Otherwise the path as written is normalised (joined to the current directory or the
//!    directory descriptor) and looked up. A denial is final: a path *written* under a denied
//!    prefix is denied whatever it resolves to.
//! 4. Allowed as written: the file is opened with `openat2(RESOLVE_NO_SYMLINKS)`, in place of
//!    the `openat` the caller asked for (same flags, same result). If no segment was a symbolic
//!    link, the written path is the path, and the decision stands: no extra system call.
//! 5. A symbolic link on the way (`ELOOP`). If it is the last component (a link to a file,
//!    the common case), its target is read, the decision is taken on it, and that very file is
//!    opened with `openat2(RESOLVE_NO_SYMLINKS)`: two system calls more than the caller's (the
//!    failed `openat2`, the `readlinkat`). Otherwise (a linked directory, or a target with
//!    `..`) the resolved path is read from `/proc/self/fd`: a read-only open is made first and
//!    closed again if the resolved path is denied; an open that can write or create is
//!    decided first, on an `O_PATH` descriptor, and then made by reopening that descriptor.
//!    Either way the file decided on is the file opened.

use std::ffi::CStr;
use std::mem::MaybeUninit;

use libc::c_int;
use shim_abi::image::{ConnectTarget, FamilyClass, NO_RULE, PolicyImage, Uniform};
use shim_abi::path::{is_normal, normalise};
use shim_abi::record::EventMode;
use shim_abi::sockaddr::{self, SockAddr};
use shim_abi::{Access, Fallback, Kind, Mode, Verdict};

use crate::report::{self, Event, NetFields};
use crate::state::{self, PolicyGuard, Shim};
use crate::sys;

/// Room for a normalised path (a relative path joined to a deep directory may pass
/// `PATH_MAX`; longer than this goes to the fallback).
const NORM_CAP: usize = 4096 + 512;
/// Room for a path read back from the kernel (at most `PATH_MAX`).
const KERNEL_PATH_CAP: usize = 4096;

/// How a call is to be decided.
pub enum Gate {
    /// Let it through untouched: the shim is not set up here, the mode is `off`, or set-up is
    /// in progress in another thread.
    Pass,
    /// No readable policy: the fallback decides.
    Fallback(&'static Shim, Fallback),
    /// The policy decides.
    Policy(&'static Shim, PolicyGuard),
}

/// Finds out how to decide the current call.
#[inline]
pub fn gate() -> Gate {
    let Some(shim) = state::setup() else {
        return Gate::Pass;
    };
    let Some(control) = shim.control.as_ref() else {
        return Gate::Pass;
    };
    match state::policy(shim) {
        Some(g) if g.image().mode() == Mode::Off => Gate::Pass,
        Some(g) => Gate::Policy(shim, g),
        None => {
            shim.bump(shim_abi::pages::Counter::FallbackDecisions);
            Gate::Fallback(shim, control.fallback())
        }
    }
}

/// The errno of a denial when no policy names one.
fn default_errno(kind: Kind) -> c_int {
    match kind {
        Kind::Exec => libc::EPERM,
        Kind::File => libc::EACCES,
        Kind::Connect => libc::ECONNREFUSED,
    }
}

/// The subject of a call, for its event.
#[derive(Clone, Copy)]
struct Subject<'a> {
    kind: Kind,
    access: Access,
    path: &'a [u8],
    resolved: &'a [u8],
    arg: &'a [u8],
    net: NetFields,
}

impl<'a> Subject<'a> {
    fn file(access: Access, path: &'a [u8]) -> Self {
        Subject {
            kind: Kind::File,
            access,
            path,
            resolved: &[],
            arg: &[],
            net: NetFields::default(),
        }
    }
}

/// Carries out a policy denial: reported always; in enforce mode the call must fail with the
/// returned errno, in audit mode it goes on (`None`).
fn deny(
    shim: &Shim,
    image: &PolicyImage<'_>,
    rule: u32,
    errno: c_int,
    s: &Subject<'_>,
) -> Option<c_int> {
    let enforce = image.mode() == Mode::Enforce;
    shim.bump(if enforce {
        shim_abi::pages::Counter::Denied
    } else {
        shim_abi::pages::Counter::AuditDenied
    });
    report::report(
        shim,
        Some(image),
        &Event {
            kind: s.kind,
            verdict: Verdict::Deny,
            blocked: enforce,
            mode: if enforce {
                EventMode::Enforce
            } else {
                EventMode::Audit
            },
            access: s.access,
            rule,
            errno,
            net: s.net,
            path: s.path,
            resolved: s.resolved,
            arg: s.arg,
        },
    );
    enforce.then_some(errno)
}

/// In audit mode, reports an allowed call (rate-limited).
fn audited_allow(shim: &Shim, image: &PolicyImage<'_>, rule: u32, s: &Subject<'_>) {
    if image.mode() == Mode::Audit && report::audit_token(shim, image.audit_rate()) {
        report::report(
            shim,
            Some(image),
            &Event {
                kind: s.kind,
                verdict: Verdict::Allow,
                blocked: false,
                mode: EventMode::Audit,
                access: s.access,
                rule,
                errno: 0,
                net: s.net,
                path: s.path,
                resolved: s.resolved,
                arg: s.arg,
            },
        );
    }
}

/// Decides by the fallback mode: `Some(errno)` when the call must fail.
fn fallback(shim: &Shim, fb: Fallback, s: &Subject<'_>) -> Option<c_int> {
    let (verdict, blocked) = match fb {
        Fallback::Allow => return None,
        Fallback::Deny => (Verdict::Deny, true),
        Fallback::Audit => {
            if !report::audit_token(shim, 20) {
                return None;
            }
            (Verdict::Allow, false)
        }
    };
    let errno = default_errno(s.kind);
    report::report(
        shim,
        None,
        &Event {
            kind: s.kind,
            verdict,
            blocked,
            mode: EventMode::Fallback,
            access: s.access,
            rule: NO_RULE,
            errno,
            net: s.net,
            path: s.path,
            resolved: s.resolved,
            arg: s.arg,
        },
    );
    blocked.then_some(errno)
}

/// The fallback of a set-up shim (allow if the control page went away, which it cannot).
fn fallback_of(shim: &Shim) -> Fallback {
    shim.control
        .as_ref()
        .map_or(Fallback::Allow, |c| c.fallback())
}

/// A buffer for a normalised path.
type NormBuf = [MaybeUninit<u8>; NORM_CAP];
/// A buffer for a path read back from the kernel.
type KernelBuf = [MaybeUninit<u8>; KERNEL_PATH_CAP];

/// The normalised absolute form of `path` relative to `dirfd` (or the current directory).
/// A path that is already absolute and normal is used as it is (no copy).
fn written_path<'o>(
    dirfd: c_int,
    path: &'o [u8],
    out: &'o mut [MaybeUninit<u8>],
) -> Option<&'o [u8]> {
    if is_normal(path) {
        return Some(path);
    }
    normalised_path(dirfd, path, out)
}

/// [`written_path`], always into `out`.
fn normalised_path<'o>(
    dirfd: c_int,
    path: &[u8],
    out: &'o mut [MaybeUninit<u8>],
) -> Option<&'o [u8]> {
    if path.first() == Some(&b'/') {
        return normalise(b"/", path, out).ok();
    }
    let mut base: KernelBuf = sys::buffer();
    let base = if dirfd == libc::AT_FDCWD {
        sys::getcwd(&mut base).ok()?
    } else {
        sys::fd_path(dirfd, &mut base).ok()?
    };
    normalise(base, path, out).ok()
}

/// Opening `path` relative to `dirfd` with `flags`; `real` makes the caller's call.
pub fn open(dirfd: c_int, path: &CStr, flags: c_int, mode: u32, real: impl Fn() -> c_int) -> c_int {
    let access = Access::from_open_flags(flags);
    let (shim, guard) = match gate() {
        Gate::Pass => return real(),
        Gate::Fallback(shim, fb) => {
            if fb == Fallback::Allow || access == Access::NONE {
                return real();
            }
            let mut buf: NormBuf = sys::buffer();
            let written = written_path(dirfd, path.to_bytes(), &mut buf).unwrap_or(&[]);
            return match fallback(shim, fb, &Subject::file(access, written)) {
                Some(e) => fail(e),
                None => real(),
            };
        }
        Gate::Policy(shim, guard) => (shim, guard),
    };
    if access == Access::NONE {
        return real();
    }
    let image = guard.image();
    let audit = image.mode() == Mode::Audit;
    let mut buf: NormBuf = sys::buffer();
    if image.file_uniform(access) == Uniform::Allow {
        if audit {
            let written = written_path(dirfd, path.to_bytes(), &mut buf).unwrap_or(&[]);
            audited_allow(shim, image, NO_RULE, &Subject::file(access, written));
        }
        drop(guard);
        return real();
    }
    let Some(written) = written_path(dirfd, path.to_bytes(), &mut buf) else {
        // The path cannot be placed (its directory is unreachable or it is too long).
        drop(guard);
        return match fallback(
            shim,
            fallback_of(shim),
            &Subject::file(access, path.to_bytes()),
        ) {
            Some(e) => fail(e),
            None => real(),
        };
    };
    let lexical = image.decide_file(written, access);
    if lexical.verdict == Verdict::Deny {
        let blocked = deny(
            shim,
            image,
            lexical.rule,
            image.file_errno(),
            &Subject::file(access, written),
        );
        drop(guard);
        return match blocked {
            Some(e) => fail(e),
            None => real(),
        };
    }
    drop(guard);

    if shim.openat2.load(std::sync::atomic::Ordering::Relaxed) {
        match sys::openat_no_symlinks(dirfd, path, flags, mode) {
            Ok(fd) => {
                if audit && let Some(g) = state::policy(shim) {
                    audited_allow(
                        shim,
                        g.image(),
                        lexical.rule,
                        &Subject::file(access, written),
                    );
                }
                return fd;
            }
            Err(libc::ELOOP | libc::EINVAL | libc::EPERM) => {}
            Err(libc::ENOSYS) => shim
                .openat2
                .store(false, std::sync::atomic::Ordering::Relaxed),
            Err(e) => return fail(e),
        }
    }
    shim.bump(shim_abi::pages::Counter::Resolved);
    match follow_final_links(shim, flags, mode, access, written) {
        Followed::Opened(fd) => fd,
        Followed::Failed(e) => fail(e),
        Followed::NotFinal => open_resolving(shim, dirfd, path, flags, mode, access, written, real),
    }
}

/// What following the last component's links found.
enum Followed {
    /// The file the path leads to, opened (decided on its resolved path).
    Opened(c_int),
    /// The call must fail with this errno (denied, or the open failed).
    Failed(c_int),
    /// A directory on the way is a link (or the link cannot be followed lexically): resolve
    /// through `/proc/self/fd` instead.
    NotFinal,
}

/// Step 5, the common case: the path's last component is a symbolic link (`/etc/localtime`,
/// a link to a file). Its target is read (`readlinkat`), joined to the link's directory,
/// decided on, and opened with `openat2(RESOLVE_NO_SYMLINKS)`: the file opened is the file
/// decided on, whatever the link says a moment later, for reads and writes alike. Up to eight
/// links in a row. A target with a `..` segment is left to the slow way: joined lexically it
/// could step out of a linked directory the kernel would step out of differently.
fn follow_final_links(
    shim: &Shim,
    flags: c_int,
    mode: u32,
    access: Access,
    written: &[u8],
) -> Followed {
    // The current path, NUL-terminated for the system calls.
    let mut c_path = [0u8; NORM_CAP + 1];
    let mut len = written.len();
    if len >= c_path.len() {
        return Followed::NotFinal;
    }
    c_path[..len].copy_from_slice(written);
    for hop in 0..8 {
        c_path[len] = 0;
        let Ok(c) = CStr::from_bytes_until_nul(&c_path[..=len]) else {
            return Followed::NotFinal;
        };
        let mut link: KernelBuf = sys::buffer();
        let Ok(target) = sys::readlinkat(libc::AT_FDCWD, c, &mut link) else {
            return Followed::NotFinal;
        };
        if hop == 0 && flags & libc::O_NOFOLLOW != 0 {
            return Followed::Failed(libc::ELOOP);
        }
        if hop == 0 && flags & (libc::O_CREAT | libc::O_EXCL) == (libc::O_CREAT | libc::O_EXCL) {
            // O_EXCL does not follow a last link: it exists.
            return Followed::Failed(libc::EEXIST);
        }
        if target.split(|&b| b == b'/').any(|seg| seg == b"..") {
            return Followed::NotFinal;
        }
        let dir = match c_path[..len].iter().rposition(|&b| b == b'/') {
            Some(0) | None => &b"/"[..],
            Some(i) => &c_path[..i],
        };
        let mut next: NormBuf = sys::buffer();
        let Ok(resolved) = normalise(dir, target, &mut next) else {
            return Followed::NotFinal;
        };
        if let Some(e) = decide_resolved(shim, access, written, Ok(resolved)) {
            return Followed::Failed(e);
        }
        len = resolved.len();
        c_path[..len].copy_from_slice(resolved);
        c_path[len] = 0;
        let Ok(c) = CStr::from_bytes_until_nul(&c_path[..=len]) else {
            return Followed::NotFinal;
        };
        match sys::openat_no_symlinks(libc::AT_FDCWD, c, flags, mode) {
            Ok(fd) => return Followed::Opened(fd),
            // Another link: follow it from here.
            Err(libc::ELOOP) => {}
            Err(e) => return Followed::Failed(e),
        }
    }
    Followed::Failed(libc::ELOOP)
}

/// Sets errno and returns -1.
fn fail(e: c_int) -> c_int {
    sys::set_errno(e);
    -1
}

/// Step 5 of the module documentation: the path holds a symbolic link (or `openat2` could not
/// tell), so the decision is taken on the resolved path.
#[allow(clippy::too_many_arguments)]
fn open_resolving(
    shim: &Shim,
    dirfd: c_int,
    path: &CStr,
    flags: c_int,
    mode: u32,
    access: Access,
    written: &[u8],
    real: impl Fn() -> c_int,
) -> c_int {
    let mut resolved: KernelBuf = sys::buffer();
    let writes = access.intersects(Access(Access::WRITE.0 | Access::CREATE.0));
    if !writes {
        let fd = real();
        if fd < 0 {
            return fd;
        }
        let target = sys::fd_path(fd, &mut resolved);
        return match decide_resolved(shim, access, written, target) {
            Some(e) => {
                sys::close(fd);
                fail(e)
            }
            None => fd,
        };
    }
    let nofollow = flags & libc::O_NOFOLLOW;
    match sys::openat(dirfd, path, libc::O_PATH | libc::O_CLOEXEC | nofollow, 0) {
        Ok(pfd) => {
            let target = sys::fd_path(pfd, &mut resolved);
            if let Some(e) = decide_resolved(shim, access, written, target) {
                sys::close(pfd);
                return fail(e);
            }
            if flags & (libc::O_CREAT | libc::O_EXCL) == (libc::O_CREAT | libc::O_EXCL) {
                // It exists: the caller's call fails with EEXIST and touches nothing.
                sys::close(pfd);
                return real();
            }
            // Reopen the very file decided on, not the path (which could change meanwhile).
            let mut name = [0u8; 32];
            let reopen_flags = flags & !(libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW);
            let reopened = sys::openat(
                libc::AT_FDCWD,
                sys::proc_fd_name(pfd, &mut name),
                reopen_flags,
                mode,
            );
            sys::close(pfd);
            match reopened {
                Ok(fd) => fd,
                // No /proc: open the path (the decision was made on /proc too, so this is not
                // reached in practice).
                Err(libc::ENOENT) => real(),
                Err(e) => fail(e),
            }
        }
        Err(libc::ENOENT) if flags & libc::O_CREAT != 0 => {
            let mut target: NormBuf = sys::buffer();
            let target = creation_target(dirfd, path.to_bytes(), &mut target).ok_or(libc::ENOENT);
            match decide_resolved(shim, access, written, target) {
                Some(e) => fail(e),
                None => real(),
            }
        }
        // The open will fail the same way without touching anything.
        Err(_) => real(),
    }
}

/// Where an `O_CREAT` open of a missing `path` would create the file: its parent directory,
/// resolved, and its last name, or the target of a dangling symbolic link there (one level,
/// joined lexically to the resolved parent).
fn creation_target<'o>(
    dirfd: c_int,
    path: &[u8],
    out: &'o mut [MaybeUninit<u8>],
) -> Option<&'o [u8]> {
    let (parent, name) = match path.iter().rposition(|&b| b == b'/') {
        Some(0) => (&b"/"[..], &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&b"."[..], path),
    };
    let mut parent_c = [0u8; KERNEL_PATH_CAP];
    let mut name_c = [0u8; 256];
    if parent.len() >= parent_c.len() || name.len() >= name_c.len() || name.is_empty() {
        return None;
    }
    parent_c[..parent.len()].copy_from_slice(parent);
    name_c[..name.len()].copy_from_slice(name);
    let parent_c = CStr::from_bytes_until_nul(&parent_c).ok()?;
    let name_c = CStr::from_bytes_until_nul(&name_c).ok()?;
    let pfd = sys::openat(
        dirfd,
        parent_c,
        libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        0,
    )
    .ok()?;
    let mut base: KernelBuf = sys::buffer();
    let mut link: KernelBuf = sys::buffer();
    let base = sys::fd_path(pfd, &mut base);
    let link = sys::readlinkat(pfd, name_c, &mut link);
    sys::close(pfd);
    match link {
        Ok(l) => normalise(base.ok()?, l, out).ok(),
        Err(_) => normalise(base.ok()?, name, out).ok(),
    }
}

/// The decision on the resolved path of an open allowed as written. `Err` means the path
/// could not be resolved (no `/proc`): the fallback decides.
fn decide_resolved(
    shim: &Shim,
    access: Access,
    written: &[u8],
    resolved: Result<&[u8], c_int>,
) -> Option<c_int> {
    let Ok(resolved) = resolved else {
        return fallback(shim, fallback_of(shim), &Subject::file(access, written));
    };
    let Some(guard) = state::policy(shim) else {
        return fallback(shim, fallback_of(shim), &Subject::file(access, written));
    };
    let image = guard.image();
    let subject = Subject {
        resolved,
        ..Subject::file(access, written)
    };
    let d = image.decide_file(resolved, access);
    if d.verdict == Verdict::Deny {
        return deny(shim, image, d.rule, image.file_errno(), &subject);
    }
    audited_allow(shim, image, d.rule, &subject);
    None
}

/// The program an exec call would run.
pub enum Program<'a> {
    /// A path, relative to a directory descriptor (or `AT_FDCWD`).
    Path(c_int, &'a CStr),
    /// An open descriptor (`fexecve`, `execveat` with `AT_EMPTY_PATH`).
    Fd(c_int),
    /// A name to look up in `PATH` (`execvp` and friends), or a path if it holds a `/`.
    Search(&'a CStr),
}

/// Executing `program` with `argv0`: `Some(errno)` if the call must fail.
pub fn exec(program: Program<'_>, argv0: &[u8]) -> Option<c_int> {
    let mut written: NormBuf = sys::buffer();
    let mut resolved: KernelBuf = sys::buffer();
    let (shim, guard) = match gate() {
        Gate::Pass | Gate::Fallback(_, Fallback::Allow) => return None,
        Gate::Fallback(shim, fb) => {
            let path =
                program_path(&program, &mut written, &mut resolved).map_or(&[][..], |(w, _)| w);
            let s = Subject {
                kind: Kind::Exec,
                arg: argv0,
                ..Subject::file(Access::NONE, path)
            };
            return fallback(shim, fb, &s);
        }
        Gate::Policy(shim, guard) => (shim, guard),
    };
    let image = guard.image();
    if image.exec_uniform() == Uniform::Allow && image.mode() != Mode::Audit {
        return None;
    }
    // Not found: the call fails on its own.
    let (written, resolved) = program_path(&program, &mut written, &mut resolved)?;
    let s = Subject {
        kind: Kind::Exec,
        access: Access::NONE,
        path: written,
        resolved: resolved.unwrap_or(&[]),
        arg: argv0,
        net: NetFields::default(),
    };
    let d = image.decide_exec(written, resolved, argv0);
    if d.verdict == Verdict::Deny {
        return deny(shim, image, d.rule, image.exec_errno(), &s);
    }
    audited_allow(shim, image, d.rule, &s);
    None
}

/// The written (normalised) path of a program, and its resolved path when it can be found.
fn program_path<'w, 'r>(
    program: &Program<'_>,
    written: &'w mut NormBuf,
    resolved: &'r mut KernelBuf,
) -> Option<(&'w [u8], Option<&'r [u8]>)> {
    let mut found = [0u8; NORM_CAP];
    let (dirfd, path) = match program {
        Program::Fd(fd) => {
            let r = sys::fd_path(*fd, resolved).ok()?;
            let w = normalise(b"/", r, written).ok()?;
            return Some((w, Some(r)));
        }
        Program::Path(dirfd, path) => (*dirfd, *path),
        Program::Search(name) if name.to_bytes().contains(&b'/') => (libc::AT_FDCWD, *name),
        Program::Search(name) => (libc::AT_FDCWD, search_path(name.to_bytes(), &mut found)?),
    };
    let w = normalised_path(dirfd, path.to_bytes(), written)?;
    let r = match sys::openat(dirfd, path, libc::O_PATH | libc::O_CLOEXEC, 0) {
        Ok(fd) => {
            let r = sys::fd_path(fd, resolved).ok();
            sys::close(fd);
            r
        }
        Err(_) => None,
    };
    Some((w, r.filter(|r| *r != w)))
}

/// The first `dir/name` along `PATH` that is an executable file (as `execvp` searches;
/// `/bin:/usr/bin` without `PATH`), as a C string in `out`.
fn search_path<'o>(name: &[u8], out: &'o mut [u8; NORM_CAP]) -> Option<&'o CStr> {
    // SAFETY: getenv reads the environment without allocating; the string it returns stays
    // valid until the environment is changed, and is copied out before this returns.
    let path_var = unsafe {
        let p = libc::getenv(c"PATH".as_ptr());
        if p.is_null() {
            &b"/bin:/usr/bin"[..]
        } else {
            CStr::from_ptr(p).to_bytes()
        }
    };
    let mut hit = None;
    for dir in path_var.split(|&b| b == b':') {
        let dir = if dir.is_empty() { &b"."[..] } else { dir };
        let n = dir.len() + 1 + name.len();
        if n + 1 > out.len() {
            continue;
        }
        out[..dir.len()].copy_from_slice(dir);
        out[dir.len()] = b'/';
        out[dir.len() + 1..n].copy_from_slice(name);
        out[n] = 0;
        let candidate = CStr::from_bytes_until_nul(&out[..]).ok()?;
        if sys::executable(candidate) {
            hit = Some(n);
            break;
        }
    }
    hit?;
    CStr::from_bytes_until_nul(&out[..]).ok()
}

/// Connecting to the address in `sa` (the caller's `sockaddr`, `addrlen` bytes): `Some(errno)`
/// if the call must fail.
pub fn connect(sa: &[u8]) -> Option<c_int> {
    let decoded = sockaddr::decode(sa);
    let family = match decoded {
        SockAddr::Unspec | SockAddr::Malformed => return None,
        _ => u16::from_ne_bytes([sa[0], sa[1]]),
    };
    let (shim, guard) = match gate() {
        Gate::Pass | Gate::Fallback(_, Fallback::Allow) => return None,
        Gate::Fallback(shim, fb) => {
            let s = Subject {
                kind: Kind::Connect,
                net: NetFields {
                    family,
                    ..NetFields::default()
                },
                ..Subject::file(Access::NONE, &[])
            };
            return fallback(shim, fb, &s);
        }
        Gate::Policy(shim, guard) => (shim, guard),
    };
    let image = guard.image();
    if image.net_uniform(FamilyClass::of(family)) == Uniform::Allow && image.mode() != Mode::Audit {
        return None;
    }
    let mut unix: NormBuf = sys::buffer();
    // `@` and an abstract socket's name (at most 107 bytes).
    let mut abstract_name = [0u8; 110];
    let mut net = NetFields {
        family,
        ..NetFields::default()
    };
    let target = match decoded {
        SockAddr::Inet { addr, port } => {
            net.port = port;
            net.addr[..4].copy_from_slice(&addr);
            ConnectTarget::Inet { addr, port }
        }
        SockAddr::Inet6 { addr, port } => {
            net.port = port;
            net.addr = addr;
            ConnectTarget::Inet6 { addr, port }
        }
        SockAddr::UnixAbstract(name) => {
            let len = name.len().min(abstract_name.len() - 1);
            abstract_name[0] = b'@';
            abstract_name[1..1 + len].copy_from_slice(&name[..len]);
            ConnectTarget::Unix(&abstract_name[..1 + len])
        }
        SockAddr::UnixPath(path) => {
            ConnectTarget::Unix(written_path(libc::AT_FDCWD, path, &mut unix)?)
        }
        SockAddr::Other(f) => ConnectTarget::Other(f),
        SockAddr::Unspec | SockAddr::Malformed => return None,
    };
    let path: &[u8] = match &target {
        ConnectTarget::Unix(p) => p,
        _ => &[],
    };
    let mut s = Subject {
        kind: Kind::Connect,
        net,
        ..Subject::file(Access::NONE, path)
    };
    let d = image.decide_connect(&target);
    if d.verdict == Verdict::Deny {
        return deny(shim, image, d.rule, image.net_errno(), &s);
    }
    // A socket path with a symbolic link on the way is decided again on where it leads.
    let mut resolved: KernelBuf = sys::buffer();
    if path.first() == Some(&b'/') {
        let mut c = [0u8; NORM_CAP + 1];
        c[..path.len()].copy_from_slice(path);
        if let Ok(cpath) = CStr::from_bytes_until_nul(&c)
            && let Ok(fd) = sys::openat(libc::AT_FDCWD, cpath, libc::O_PATH | libc::O_CLOEXEC, 0)
        {
            let r = sys::fd_path(fd, &mut resolved);
            sys::close(fd);
            if let Ok(r) = r
                && r != path
            {
                s.resolved = r;
                let again = image.decide_connect(&ConnectTarget::Unix(r));
                if again.verdict == Verdict::Deny {
                    return deny(shim, image, again.rule, image.net_errno(), &s);
                }
            }
        }
    }
    audited_allow(shim, image, d.rule, &s);
    None
}

/// True if an open asking for `flags` needs no decision at all right now (fopen uses the
/// plain libc call then).
pub fn open_is_free(flags: c_int) -> bool {
    let access = Access::from_open_flags(flags);
    match gate() {
        Gate::Pass | Gate::Fallback(_, Fallback::Allow) => true,
        Gate::Fallback(..) => false,
        Gate::Policy(_, guard) => {
            guard.image().mode() != Mode::Audit
                && guard.image().file_uniform(access) == Uniform::Allow
        }
    }
}
