//! Reporting a decision: one event record, one non-blocking `write` to the probe's FIFO.
//!
//! The FIFO is opened for each event (`O_WRONLY | O_NONBLOCK`) rather than kept open: a
//! process may close or `dup2` over any descriptor, and a cached one could end up pointing at
//! the application's own file. With no reader (the probe is gone) the open fails with `ENXIO`;
//! with the pipe full the write fails with `EAGAIN`; either way the event is counted as dropped
//! in the counters page and the call goes on. `SIGPIPE` is blocked around the write, and one
//! our write raised is taken back, so a probe that dies between the open and the write cannot
//! kill the process. Never allocates; the record is built on the stack.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use shim_abi::image::PolicyImage;
use shim_abi::pages::Counter;
use shim_abi::record::{self, EventMode, MAX_RECORD, RecordHead, RecordStrings};
use shim_abi::{Access, Kind, Verdict};

use crate::state::Shim;
use crate::sys;

/// The connection fields of an event.
#[derive(Clone, Copy, Default)]
pub struct NetFields {
    /// Address family.
    pub family: u16,
    /// Port, host order.
    pub port: u16,
    /// Address, IPv4 in the first 4 bytes.
    pub addr: [u8; 16],
}

/// One decision to report.
pub struct Event<'a> {
    /// What the call was.
    pub kind: Kind,
    /// What the policy (or the fallback) said.
    pub verdict: Verdict,
    /// Whether the call failed because of it.
    pub blocked: bool,
    /// Under which regime.
    pub mode: EventMode,
    /// File access asked for.
    pub access: Access,
    /// Deciding rule id.
    pub rule: u32,
    /// errno returned, when blocked.
    pub errno: i32,
    /// Connection fields.
    pub net: NetFields,
    /// The path as written (normalised).
    pub path: &'a [u8],
    /// The path after symbolic links, when it was resolved and differs.
    pub resolved: &'a [u8],
    /// argv[0] of an execution.
    pub arg: &'a [u8],
}

/// Writes the event to the FIFO, or counts it as dropped. `errno` is left as it was.
pub fn report(shim: &Shim, image: Option<&PolicyImage<'_>>, ev: &Event<'_>) {
    let saved = sys::errno();
    let head = RecordHead {
        kind: ev.kind,
        verdict: ev.verdict,
        blocked: ev.blocked,
        mode: ev.mode,
        access: ev.access.0,
        pid: sys::getpid(),
        uid: sys::getuid(),
        rule: ev.rule,
        generation: image.map_or(0, |i| i.generation()),
        time_ns: sys::realtime_ns(),
        errno: if ev.blocked { ev.errno as u16 } else { 0 },
        family: ev.net.family,
        port: ev.net.port,
        addr: ev.net.addr,
    };
    let resolved = if ev.resolved == ev.path {
        &[][..]
    } else {
        ev.resolved
    };
    let strings = RecordStrings {
        path: ev.path,
        resolved,
        arg: ev.arg,
        exe: shim.exe(),
        label: image.map_or(&[][..], |i| i.label(ev.rule)),
    };
    let mut buf = [0u8; MAX_RECORD];
    let len = record::encode(&mut buf, &head, &strings);
    send(shim, &buf[..len]);
    sys::set_errno(saved);
}

fn send(shim: &Shim, record: &[u8]) {
    let flags = libc::O_WRONLY | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOFOLLOW;
    let fd = match sys::openat(libc::AT_FDCWD, shim.fifo_path(), flags, 0) {
        Ok(fd) => fd,
        Err(libc::ENXIO | libc::ENOENT) => {
            shim.bump(Counter::DroppedNoReader);
            return;
        }
        Err(_) => {
            shim.bump(Counter::DroppedError);
            return;
        }
    };
    let mask = sys::block_sigpipe();
    let written = sys::write(fd, record);
    sys::unblock_sigpipe(mask, written == Err(libc::EPIPE));
    sys::close(fd);
    shim.bump(match written {
        Ok(n) if n == record.len() => Counter::EventsWritten,
        Err(libc::EAGAIN) => Counter::DroppedFull,
        Err(libc::EPIPE) => Counter::DroppedNoReader,
        _ => Counter::DroppedError,
    });
}

/// The audit-mode limiter: at most `rate` allowed calls reported per second per process
/// (denials are never limited). A fixed one-second window on the vDSO's coarse clock; two
/// threads crossing a second boundary at once may let a few more through, never fewer.
pub fn audit_token(shim: &Shim, rate: u32) -> bool {
    static WINDOW: AtomicU64 = AtomicU64::new(0);
    static SPENT: AtomicU32 = AtomicU32::new(0);
    let now = sys::coarse_seconds();
    if WINDOW.load(Ordering::Relaxed) != now {
        WINDOW.store(now, Ordering::Relaxed);
        SPENT.store(0, Ordering::Relaxed);
    }
    let ok = SPENT.fetch_add(1, Ordering::Relaxed) < rate;
    if !ok {
        shim.bump(Counter::AuditSuppressed);
    }
    ok
}
