//! Seccomp user notification, by hand on libc: the BPF filter, installing it in a child with a
//! listener, passing the listener to the supervisor over a socket, receiving notifications,
//! reading the target's memory, and answering.
//!
//! This is the one module of the probe with `unsafe` beyond one-liners; each block says why it
//! is sound. [`install_in_child`] and [`send_fd`] run between `fork` and `exec` and must stay
//! async-signal-safe: no allocation, no locks, system calls only.
//!
//! The filter sends `execve`, `execveat`, `open`, `openat`, `openat2`, `creat` and `connect`
//! of the native architecture to the supervisor (only the calls the policy can deny), refuses
//! `open_by_handle_at` and `io_uring_setup` (they open files without a path the supervisor
//! could see), and refuses the same calls made through a foreign system-call ABI (i386 and
//! x32 on x86-64), whose arguments it does not decode. Everything else is allowed untouched.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use libc::sock_filter;

/// `AUDIT_ARCH_X86_64` (linux/audit.h).
#[cfg(target_arch = "x86_64")]
const NATIVE_ARCH: u32 = 0xc000_003e;
/// `AUDIT_ARCH_AARCH64`.
#[cfg(target_arch = "aarch64")]
const NATIVE_ARCH: u32 = 0xc000_00b7;
/// `AUDIT_ARCH_I386`.
#[cfg(target_arch = "x86_64")]
const I386_ARCH: u32 = 0x4000_0003;
/// `__X32_SYSCALL_BIT`.
#[cfg(target_arch = "x86_64")]
const X32_BIT: u32 = 0x4000_0000;

/// Offsets in `struct seccomp_data`.
const DATA_NR: u32 = 0;
const DATA_ARCH: u32 = 4;

/// The native system calls the supervisor can be asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trapped {
    /// `execve`, `execveat`.
    Exec,
    /// `open`, `openat`, `openat2`, `creat`.
    Open,
    /// `connect`.
    Connect,
}

/// The native numbers of each trapped group.
pub fn native_numbers(group: Trapped) -> &'static [i64] {
    match group {
        Trapped::Exec => &[libc::SYS_execve, libc::SYS_execveat],
        #[cfg(target_arch = "x86_64")]
        Trapped::Open => &[
            libc::SYS_open,
            libc::SYS_openat,
            libc::SYS_openat2,
            libc::SYS_creat,
        ],
        #[cfg(not(target_arch = "x86_64"))]
        Trapped::Open => &[libc::SYS_openat, libc::SYS_openat2],
        Trapped::Connect => &[libc::SYS_connect],
    }
}

fn stmt(code: u32, k: u32) -> sock_filter {
    sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u32, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

/// `if nr == n return action`, for each `n`.
fn returns(prog: &mut Vec<sock_filter>, numbers: impl IntoIterator<Item = u32>, action: u32) {
    for n in numbers {
        prog.push(jump(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, n, 0, 1));
        prog.push(stmt(libc::BPF_RET | libc::BPF_K, action));
    }
}

/// The filter: the groups in `trap` go to the supervisor.
pub fn filter(trap: &[Trapped]) -> Vec<sock_filter> {
    let notify = libc::SECCOMP_RET_USER_NOTIF;
    let eperm = libc::SECCOMP_RET_ERRNO | (libc::EPERM as u32 & libc::SECCOMP_RET_DATA);
    let allow = libc::SECCOMP_RET_ALLOW;
    let load = |off| stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, off);
    let refused: [i64; 2] = [libc::SYS_open_by_handle_at, libc::SYS_io_uring_setup];

    let mut native = vec![load(DATA_NR)];
    #[cfg(target_arch = "x86_64")]
    let x32_at = {
        // Any number with the x32 bit goes to the x32 block; its offset is patched below.
        native.push(jump(
            libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K,
            X32_BIT,
            0,
            0,
        ));
        native.len() - 1
    };
    returns(
        &mut native,
        trap.iter()
            .flat_map(|g| native_numbers(*g))
            .map(|&n| n as u32),
        notify,
    );
    returns(&mut native, refused.iter().map(|&n| n as u32), eperm);
    native.push(stmt(libc::BPF_RET | libc::BPF_K, allow));

    let mut prog = vec![load(DATA_ARCH)];
    #[cfg(target_arch = "x86_64")]
    {
        // x32 numbers of the same calls (execve and execveat have x32 numbers of their own).
        let mut x32 = Vec::new();
        let x32_numbers = [2u32, 85, 257, 437, 42, 520, 545, 304, 425].map(|n| n | X32_BIT);
        returns(&mut x32, x32_numbers, eperm);
        x32.push(stmt(libc::BPF_RET | libc::BPF_K, allow));
        // i386: open, creat, execve, socketcall, openat, open_by_handle_at, execveat, connect,
        // io_uring_setup, openat2.
        let mut i386 = vec![load(DATA_NR)];
        returns(
            &mut i386,
            [5u32, 8, 11, 102, 295, 342, 358, 362, 425, 437],
            eperm,
        );
        i386.push(stmt(libc::BPF_RET | libc::BPF_K, allow));

        let jt_x32 = (native.len() - x32_at - 1) as u8;
        native[x32_at].jt = jt_x32;
        // arch == native ? native : (arch == i386 ? i386 : kill)
        prog.push(jump(
            libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
            NATIVE_ARCH,
            0,
            (native.len() + x32.len()) as u8,
        ));
        prog.extend(native);
        prog.extend(x32);
        prog.push(jump(
            libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
            I386_ARCH,
            0,
            i386.len() as u8,
        ));
        prog.extend(i386);
        prog.push(stmt(
            libc::BPF_RET | libc::BPF_K,
            libc::SECCOMP_RET_KILL_PROCESS,
        ));
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        prog.push(jump(
            libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
            NATIVE_ARCH,
            0,
            native.len() as u8,
        ));
        prog.extend(native);
        prog.push(stmt(libc::BPF_RET | libc::BPF_K, eperm));
    }
    prog
}

/// Installs `prog` in the calling (child) process with a new listener and returns the
/// listener's descriptor. Sets `no_new_privs` first unless the process may install a filter
/// without it (`CAP_SYS_ADMIN`). Async-signal-safe.
pub fn install_in_child(prog: &[sock_filter]) -> Result<RawFd, i32> {
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_ptr().cast_mut(),
    };
    let install = || {
        // SAFETY: seccomp(2) reads the program through fprog, valid for the call.
        unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
                &fprog as *const libc::sock_fprog,
            )
        }
    };
    let mut fd = install();
    // SAFETY: errno of this thread.
    if fd < 0 && unsafe { *libc::__errno_location() } == libc::EACCES {
        // SAFETY: prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            // SAFETY: errno of this thread.
            return Err(unsafe { *libc::__errno_location() });
        }
        fd = install();
    }
    if fd < 0 {
        // SAFETY: errno of this thread.
        return Err(unsafe { *libc::__errno_location() });
    }
    Ok(fd as RawFd)
}

/// Sends descriptor `fd` over the Unix socket `sock` (`SCM_RIGHTS`). Async-signal-safe.
pub fn send_fd(sock: RawFd, fd: RawFd) -> Result<(), i32> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // Room for one descriptor's control message, 8-byte aligned.
    let mut cbuf = [0u64; 4];
    // SAFETY: msghdr is plain data; the control buffer is large enough for CMSG_SPACE(4)
    // (24 bytes on 64-bit) and aligned for cmsghdr; CMSG_FIRSTHDR points inside it.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as usize;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
        if libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) < 0 {
            return Err(*libc::__errno_location());
        }
    }
    Ok(())
}

/// Receives one descriptor sent with [`send_fd`]; `Ok(None)` if the peer closed the socket
/// without sending one.
pub fn recv_fd(sock: RawFd) -> io::Result<Option<OwnedFd>> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut cbuf = [0u64; 4];
    // SAFETY: as in `send_fd`; a received descriptor is owned by us from here on.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&cbuf);
        let n = loop {
            let n = libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC);
            if n >= 0 || *libc::__errno_location() != libc::EINTR {
                break n;
            }
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if n == 0 || cmsg.is_null() || (*cmsg).cmsg_type != libc::SCM_RIGHTS {
            return Ok(None);
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>());
        Ok(Some(OwnedFd::from_raw_fd(fd)))
    }
}

/// A connected pair of `SOCK_SEQPACKET` Unix sockets, close-on-exec.
pub fn socket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: socketpair writes two descriptors into fds, which we then own.
    unsafe {
        if libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        ) != 0
        {
            return Err(io::Error::last_os_error());
        }
        Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])))
    }
}

/// One notification: a trapped system call waiting for an answer.
#[derive(Debug, Clone, Copy)]
pub struct Notification {
    /// The kernel's id for the answer.
    pub id: u64,
    /// The calling thread (in the supervisor's pid namespace).
    pub pid: u32,
    /// The system call number.
    pub nr: i64,
    /// Its six arguments.
    pub args: [u64; 6],
}

/// The answer to a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Let the call run as the process made it (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`).
    Continue,
    /// Fail it with this errno without running it.
    Fail(i32),
}

/// What waiting on the listener found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// A notification is ready.
    Ready,
    /// Nothing in the time given.
    Timeout,
    /// No process uses the filter any more.
    Gone,
}

/// A seccomp notification listener.
#[derive(Debug)]
pub struct Listener {
    fd: OwnedFd,
}

impl Listener {
    /// Takes ownership of a listener descriptor.
    pub fn new(fd: OwnedFd) -> Self {
        Listener { fd }
    }

    /// Waits up to `timeout_ms`.
    pub fn wait(&self, timeout_ms: i32) -> io::Result<Wait> {
        let mut p = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut p, 1, timeout_ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(Wait::Timeout)
            } else {
                Err(e)
            };
        }
        Ok(if p.revents & libc::POLLIN != 0 {
            Wait::Ready
        } else if p.revents & (libc::POLLHUP | libc::POLLERR) != 0 {
            Wait::Gone
        } else {
            Wait::Timeout
        })
    }

    /// Receives a notification; `Ok(None)` if the caller went away before it was read.
    pub fn recv(&self) -> io::Result<Option<Notification>> {
        // SAFETY: the kernel requires a zeroed seccomp_notif and fills it.
        let mut n: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: the ioctl writes one seccomp_notif into n.
        let r = unsafe { libc::ioctl(self.fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut n) };
        if r < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::ENOENT | libc::EINTR) => Ok(None),
                _ => Err(e),
            };
        }
        Ok(Some(Notification {
            id: n.id,
            pid: n.pid,
            nr: i64::from(n.data.nr),
            args: n.data.args,
        }))
    }

    /// True if the notification is still pending (its caller has not died, so a pid read
    /// from it still names the same process).
    pub fn still_valid(&self, id: u64) -> bool {
        let mut id = id;
        // SAFETY: the ioctl reads one u64.
        unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_ID_VALID,
                &mut id,
            ) == 0
        }
    }

    /// Answers a notification. A caller that died meanwhile is not an error.
    pub fn answer(&self, id: u64, answer: Answer) -> io::Result<()> {
        // SAFETY: seccomp_notif_resp is plain data.
        let mut resp: libc::seccomp_notif_resp = unsafe { std::mem::zeroed() };
        resp.id = id;
        match answer {
            Answer::Continue => resp.flags = libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
            Answer::Fail(errno) => resp.error = -errno,
        }
        // SAFETY: the ioctl reads one seccomp_notif_resp.
        let r = unsafe {
            libc::ioctl(
                self.fd.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_SEND,
                &mut resp,
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ENOENT) {
                return Err(e);
            }
        }
        Ok(())
    }
}

/// Reads up to `out.len()` bytes of process `pid`'s memory at `addr`; returns how many.
pub fn read_memory(pid: u32, addr: u64, out: &mut [u8]) -> io::Result<usize> {
    let local = libc::iovec {
        iov_base: out.as_mut_ptr().cast(),
        iov_len: out.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as usize as *mut libc::c_void,
        iov_len: out.len(),
    };
    // SAFETY: local points at out for its length; the remote range is only read by the kernel
    // on the target's behalf (a bad address gives EFAULT, not a fault here).
    let n = unsafe { libc::process_vm_readv(pid as libc::pid_t, &local, 1, &remote, 1, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Reads a C string of at most `max` bytes from `pid` at `addr`, page by page (a string may
/// end right before an unmapped page).
pub fn read_c_string(pid: u32, addr: u64, max: usize) -> io::Result<Vec<u8>> {
    const PAGE: u64 = 4096;
    let mut out = Vec::new();
    let mut at = addr;
    while out.len() < max {
        let room = (PAGE - at % PAGE) as usize;
        let mut chunk = vec![0u8; room.min(max - out.len())];
        let n = read_memory(pid, at, &mut chunk)?;
        if n == 0 {
            return Err(io::Error::from_raw_os_error(libc::EFAULT));
        }
        if let Some(end) = chunk[..n].iter().position(|&b| b == 0) {
            out.extend_from_slice(&chunk[..end]);
            return Ok(out);
        }
        out.extend_from_slice(&chunk[..n]);
        at += n as u64;
    }
    Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the filter over one `seccomp_data` the way the kernel would (the subset of
    /// classic BPF it uses) and returns the action.
    fn run(prog: &[sock_filter], arch: u32, nr: u32) -> u32 {
        let mut pc = 0usize;
        let mut acc = 0u32;
        loop {
            let i = prog[pc];
            let code = u32::from(i.code);
            match code {
                c if c == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS => {
                    acc = if i.k == DATA_ARCH { arch } else { nr };
                    pc += 1;
                }
                c if c == libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K => {
                    pc += 1 + usize::from(if acc == i.k { i.jt } else { i.jf });
                }
                c if c == libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K => {
                    pc += 1 + usize::from(if acc >= i.k { i.jt } else { i.jf });
                }
                c if c == libc::BPF_RET | libc::BPF_K => return i.k,
                _ => panic!("unexpected instruction {code:#x}"),
            }
        }
    }

    #[test]
    fn the_filter_traps_what_it_should() {
        let all = [Trapped::Exec, Trapped::Open, Trapped::Connect];
        let prog = filter(&all);
        assert!(prog.len() < 200);
        let notify = libc::SECCOMP_RET_USER_NOTIF;
        let eperm = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
        for g in all {
            for &n in native_numbers(g) {
                assert_eq!(run(&prog, NATIVE_ARCH, n as u32), notify, "{n}");
            }
        }
        assert_eq!(
            run(&prog, NATIVE_ARCH, libc::SYS_read as u32),
            libc::SECCOMP_RET_ALLOW
        );
        assert_eq!(
            run(&prog, NATIVE_ARCH, libc::SYS_open_by_handle_at as u32),
            eperm
        );
        assert_eq!(
            run(&prog, NATIVE_ARCH, libc::SYS_io_uring_setup as u32),
            eperm
        );
        // Only what is asked for is trapped.
        let prog = filter(&[Trapped::Connect]);
        assert_eq!(
            run(&prog, NATIVE_ARCH, libc::SYS_openat as u32),
            libc::SECCOMP_RET_ALLOW
        );
        assert_eq!(run(&prog, NATIVE_ARCH, libc::SYS_connect as u32), notify);
        #[cfg(target_arch = "x86_64")]
        {
            assert_eq!(run(&prog, I386_ARCH, 11), eperm);
            assert_eq!(run(&prog, I386_ARCH, 3), libc::SECCOMP_RET_ALLOW);
            assert_eq!(run(&prog, NATIVE_ARCH, 520 | X32_BIT), eperm);
            assert_eq!(
                run(&prog, NATIVE_ARCH, libc::SYS_read as u32 | X32_BIT),
                libc::SECCOMP_RET_ALLOW
            );
            assert_eq!(run(&prog, 0x1234, 1), libc::SECCOMP_RET_KILL_PROCESS);
        }
    }

    #[test]
    fn reading_our_own_memory() {
        let s = b"/etc/hostname\0trailing";
        let got = read_c_string(std::process::id(), s.as_ptr() as u64, 4096).unwrap();
        assert_eq!(got, b"/etc/hostname");
        assert!(read_c_string(std::process::id(), 8, 4096).is_err());
        let long = [b'a'; 100];
        let e = read_c_string(std::process::id(), long.as_ptr() as u64, 50).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENAMETOOLONG));
    }
}
