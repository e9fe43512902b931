//! The few system calls the probe needs that std does not offer, with safe wrappers: making a
//! FIFO, an exclusive `flock`, and a shared mapping of a page file.
//!
//! Every `unsafe` block here has its reason beside it; nothing outside this module and
//! `seccomp` calls libc with pointers.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::AtomicU64;

use shim_abi::pages::{PAGE_LEN, PAGE_WORDS};

fn cpath(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))
}

/// `mkfifo(path, mode)`, then the mode set exactly (whatever the umask) through a descriptor
/// of the FIFO itself, never through a symbolic link that replaced it meanwhile.
pub fn mkfifo(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
    let c = cpath(path)?;
    // SAFETY: c is a valid C string for the call.
    if unsafe { libc::mkfifo(c.as_ptr(), mode) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let fifo = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(path)?;
    if !fifo.metadata()?.file_type().is_fifo() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "replaced while being made",
        ));
    }
    fifo.set_permissions(std::fs::Permissions::from_mode(mode))
}

/// Takes an exclusive `flock` on `file`, waiting for it; released when the file is closed.
pub fn lock_exclusive(file: &File) -> io::Result<()> {
    loop {
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// A shared, read-write mapping of a page file (the control page).
#[derive(Debug)]
pub struct SharedPage {
    base: *mut libc::c_void,
}

impl SharedPage {
    /// Maps the first [`PAGE_LEN`] bytes of `file` (opened read-write, at least that long).
    pub fn map(file: &File) -> io::Result<SharedPage> {
        if file.metadata()?.len() < PAGE_LEN as u64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "page file shorter than 4096 bytes",
            ));
        }
        // SAFETY: a fresh shared mapping of a file we hold open read-write; the kernel picks
        // the address.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                PAGE_LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(SharedPage { base })
    }

    /// The page as atomic words.
    pub fn words(&self) -> &[AtomicU64; PAGE_WORDS] {
        // SAFETY: the mapping is PAGE_LEN bytes, page-aligned, and lives as long as self;
        // every process touches these words only atomically.
        unsafe { &*self.base.cast::<[AtomicU64; PAGE_WORDS]>() }
    }
}

impl Drop for SharedPage {
    fn drop(&mut self) {
        // SAFETY: base is the mapping made in `map`; `words` borrows self, so no reference
        // outlives this.
        unsafe { libc::munmap(self.base, PAGE_LEN) };
    }
}

/// Waits up to `timeout_ms` for any of `fds` to be readable; returns which are.
pub fn poll_readable(fds: &[RawFd], timeout_ms: i32) -> io::Result<Vec<bool>> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: pfds is a valid array of pollfd for its length.
    let r = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout_ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(vec![false; fds.len()]);
        }
        return Err(e);
    }
    Ok(pfds.iter().map(|p| p.revents & libc::POLLIN != 0).collect())
}

/// While alive, `SIGINT` and `SIGQUIT` are ignored by this process (the terminal sends them to
/// the whole foreground group: the command run decides what to do with them, and the runner
/// stays to clean up after it). Set after the command is started, so it does not inherit the
/// ignored disposition.
#[derive(Debug)]
pub struct IgnoreInterrupts {
    old: [libc::sighandler_t; 2],
}

impl IgnoreInterrupts {
    /// Starts ignoring.
    pub fn new() -> Self {
        // SAFETY: setting the disposition of two signals to SIG_IGN; the old handlers are
        // kept and put back on drop.
        let old = unsafe {
            [
                libc::signal(libc::SIGINT, libc::SIG_IGN),
                libc::signal(libc::SIGQUIT, libc::SIG_IGN),
            ]
        };
        IgnoreInterrupts { old }
    }
}

impl Default for IgnoreInterrupts {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for IgnoreInterrupts {
    fn drop(&mut self) {
        // SAFETY: restoring the handlers saved in `new`.
        unsafe {
            libc::signal(libc::SIGINT, self.old[0]);
            libc::signal(libc::SIGQUIT, self.old[1]);
        }
    }
}

/// `openat2(dirfd, path, {flags, resolve: RESOLVE_IN_ROOT})`: opens `path` as if `dirfd` were
/// the root directory (absolute symbolic links resolve inside it, `..` stops at it). The
/// seccomp supervisor resolves a process's paths inside its root this way.
pub fn openat_in_root(dirfd: RawFd, path: &[u8], flags: i32) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    let c = CString::new(path)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))?;
    // SAFETY: open_how is plain integers; all-zero is valid.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = flags as u32 as u64;
    how.resolve = libc::RESOLVE_IN_ROOT;
    // SAFETY: c and how are valid for the call; the kernel copies them. A returned descriptor
    // is new and ours.
    unsafe {
        let fd = libc::syscall(
            libc::SYS_openat2,
            dirfd,
            c.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        );
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(std::os::fd::OwnedFd::from_raw_fd(fd as RawFd))
    }
}

static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn note_stop(_signal: libc::c_int) {
    STOP.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// From now on `SIGTERM` and `SIGINT` set a flag ([`stop_requested`]) instead of killing the
/// process, so a long-running loop can finish its work and exit.
pub fn catch_termination() {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, note_stop as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, note_stop as *const () as libc::sighandler_t);
    }
}

/// True once `SIGTERM` or `SIGINT` arrived after [`catch_termination`].
pub fn stop_requested() -> bool {
    STOP.load(std::sync::atomic::Ordering::Relaxed)
}

/// True if the file system holding `path` allows executing and mapping code (not `noexec`).
pub fn allows_exec(path: &Path) -> io::Result<bool> {
    let c = cpath(path)?;
    // SAFETY: statvfs fills the struct for a valid C string path.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st.f_flag & libc::ST_NOEXEC == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `noexec` as statvfs reports it agrees with the mount options in /proc/mounts.
    #[test]
    fn noexec_agrees_with_the_mount_table() {
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
        let mut checked = 0;
        for line in mounts.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (Some(point), Some(opts)) = (f.get(1), f.get(3)) else {
                continue;
            };
            // Mount points shadowed by a later mount report the later one's flags.
            if mounts
                .lines()
                .filter(|l| l.split_whitespace().nth(1) == Some(point))
                .count()
                > 1
            {
                continue;
            }
            let Ok(allowed) = allows_exec(Path::new(point)) else {
                continue;
            };
            assert_eq!(allowed, !opts.split(',').any(|o| o == "noexec"), "{line}");
            checked += 1;
        }
        assert!(checked > 0);
    }
}
