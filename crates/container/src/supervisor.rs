//! `rampart run --seccomp`: the command runs under a seccomp filter whose trapped calls
//! (`execve`, `execveat`, `open`, `openat`, `openat2`, `creat`, `connect`) wait for this
//! supervisor's answer, so every program is held, static and raw-syscall ones too.
//!
//! The supervisor reads each call's arguments from the caller's memory (`process_vm_readv`),
//! normalises paths against the caller's working directory or directory descriptor, resolves
//! symbolic links inside the caller's root (`openat2` with `RESOLVE_IN_ROOT` under
//! `/proc/PID/root`), decides with the same compiled image and evaluator as the shim, checks
//! the notification is still valid (the caller has not died and its pid been reused), and
//! answers: a denial fails the call with the policy's errno; an allowed call continues as the
//! caller made it (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`).
//!
//! **The limit of `CONTINUE`** (time of check to time of use): the kernel runs the call with
//! the caller's own arguments, read again from its memory after the supervisor's answer. A
//! program that changes a path or address in another thread between the supervisor's read
//! and the kernel's can get past the decision, and a symbolic link can be swapped between the
//! resolution and the open. So the supervisor holds programs that do not race it on purpose
//! (static binaries, shells, tools); against a hostile program it is a tripwire, not a wall.
//! Opening files on the caller's behalf (`SECCOMP_IOCTL_NOTIF_ADDFD`) would close the gap for
//! opens, at the cost of opening with the supervisor's own privileges.
//!
//! The supervisor answers until no process uses the filter any more: `rampart run --seccomp`
//! returns when the command and everything it started have exited. Events are EVE lines, as
//! from the shim; their `pid` is the host's pid.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;

use shim_abi::image::{ConnectTarget, FamilyClass, NO_RULE, PolicyImage, Uniform};
use shim_abi::path::normalise_into;
use shim_abi::record::{self, EventMode, EventRecord, MAX_RECORD, RecordHead, RecordStrings};
use shim_abi::sockaddr::{self, SockAddr};
use shim_abi::{Access, Kind, Mode, Verdict};

use crate::eve::{self, EveSink};
use crate::run::{RunError, RunOptions, RunOutcome, io};
use crate::seccomp::{self, Answer, Listener, Notification, Trapped, Wait};
use crate::sys;

/// Room for a path read from a caller (PATH_MAX).
const PATH_MAX: usize = 4096;

/// The calls the filter must trap for this policy: a table whose every answer is "allow" (in
/// enforce mode) needs no trap at all.
pub fn trapped_groups(image: &PolicyImage<'_>) -> Vec<Trapped> {
    let audit = image.mode() == Mode::Audit;
    if image.mode() == Mode::Off {
        return Vec::new();
    }
    let mut groups = Vec::new();
    if audit || image.exec_uniform() != Uniform::Allow {
        groups.push(Trapped::Exec);
    }
    if audit || (1..8).any(|a| image.file_uniform(Access(a)) != Uniform::Allow) {
        groups.push(Trapped::Open);
    }
    let classes = [
        FamilyClass::Inet,
        FamilyClass::Inet6,
        FamilyClass::Unix,
        FamilyClass::Other,
    ];
    if audit
        || classes
            .iter()
            .any(|c| image.net_uniform(*c) != Uniform::Allow)
    {
        groups.push(Trapped::Connect);
    }
    groups
}

/// Runs the command under the supervisor.
pub fn run(opts: RunOptions) -> Result<RunOutcome, RunError> {
    let (program, args) = opts.command.split_first().ok_or(RunError::NoCommand)?;
    let image_bytes = opts.policy.compile(1)?;
    let groups = {
        let image = PolicyImage::new_checked(&image_bytes).map_err(|e| {
            io("checking the compiled policy")(std::io::Error::other(e.to_string()))
        })?;
        trapped_groups(&image)
    };
    let prog = seccomp::filter(&groups);
    let (parent_sock, child_sock) = seccomp::socket_pair().map_err(io("creating a socket pair"))?;
    let child_raw = child_sock.as_raw_fd();

    let mut sink = EveSink::new(opts.eve);
    let supervisor = thread::spawn(move || -> Result<u64, RunError> {
        let image = PolicyImage::new_checked(&image_bytes).map_err(|e| {
            io("checking the compiled policy")(std::io::Error::other(e.to_string()))
        })?;
        let Some(fd) =
            seccomp::recv_fd(parent_sock.as_raw_fd()).map_err(io("receiving the listener"))?
        else {
            return Ok(0);
        };
        let mut s = Supervisor {
            image,
            listener: Listener::new(fd),
            sink: &mut sink,
            audit_window: (0, 0),
        };
        s.serve()?;
        Ok(s.sink.lines())
    });

    let mut cmd = Command::new(program);
    cmd.args(args);
    // SAFETY: the closure runs in the child between fork and exec and only makes system
    // calls (seccomp, prctl, sendmsg, close) on memory prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            let fd = seccomp::install_in_child(&prog).map_err(std::io::Error::from_raw_os_error)?;
            seccomp::send_fd(child_raw, fd).map_err(std::io::Error::from_raw_os_error)?;
            libc::close(fd);
            Ok(())
        });
    }
    let spawned = cmd.spawn();
    drop(child_sock);
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            let _ = supervisor.join();
            return Err(RunError::Seccomp {
                program: program.to_string_lossy().into_owned(),
                source: e,
            });
        }
    };
    let status = {
        let _quiet = sys::IgnoreInterrupts::new();
        child.wait().map_err(io("waiting for the command"))?
    };
    let events = match supervisor.join() {
        Ok(r) => r?,
        Err(_) => {
            return Err(io("supervising")(std::io::Error::other(
                "the supervisor thread panicked",
            )));
        }
    };
    Ok(RunOutcome {
        status,
        events,
        counters: Vec::new(),
    })
}

struct Supervisor<'a, W: Write> {
    image: PolicyImage<'a>,
    listener: Listener,
    sink: &'a mut EveSink<W>,
    /// Audit reports of allowed calls: (second, count).
    audit_window: (u64, u32),
}

/// A trapped call's subject, for decisions and events.
#[derive(Default)]
struct Subject {
    kind: Option<Kind>,
    access: Access,
    path: Vec<u8>,
    resolved: Vec<u8>,
    arg: Vec<u8>,
    family: u16,
    port: u16,
    addr: [u8; 16],
}

impl<W: Write> Supervisor<'_, W> {
    fn serve(&mut self) -> Result<(), RunError> {
        loop {
            match self
                .listener
                .wait(1000)
                .map_err(io("waiting for notifications"))?
            {
                Wait::Gone => return Ok(()),
                Wait::Timeout => continue,
                Wait::Ready => {}
            }
            let Some(n) = self
                .listener
                .recv()
                .map_err(io("receiving a notification"))?
            else {
                continue;
            };
            let answer = match self.decide(&n) {
                Some((answer, subject, verdict, rule)) => {
                    if !self.listener.still_valid(n.id) {
                        continue;
                    }
                    self.report(&n, &subject, verdict, rule, answer)?;
                    answer
                }
                None => Answer::Continue,
            };
            self.listener
                .answer(n.id, answer)
                .map_err(io("answering a notification"))?;
        }
    }

    /// The decision on one call; `None` to let it through unreported.
    fn decide(&mut self, n: &Notification) -> Option<(Answer, Subject, Verdict, u32)> {
        let a = n.args;
        #[cfg(target_arch = "x86_64")]
        match n.nr {
            libc::SYS_open => return self.open(n, libc::AT_FDCWD, a[0], a[1] as i32),
            libc::SYS_creat => {
                return self.open(
                    n,
                    libc::AT_FDCWD,
                    a[0],
                    libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC,
                );
            }
            _ => {}
        }
        match n.nr {
            libc::SYS_openat => self.open(n, a[0] as i32, a[1], a[2] as i32),
            libc::SYS_openat2 => {
                // struct open_how starts with the flags (u64).
                let mut how = [0u8; 8];
                if a[3] < 8 || seccomp::read_memory(n.pid, a[2], &mut how).ok()? != 8 {
                    return None;
                }
                self.open(n, a[0] as i32, a[1], u64::from_ne_bytes(how) as i32)
            }
            libc::SYS_execve => self.exec(n, libc::AT_FDCWD, a[0], a[1], 0),
            libc::SYS_execveat => self.exec(n, a[0] as i32, a[1], a[2], a[4] as i32),
            libc::SYS_connect => self.connect(n, a[1], a[2]),
            _ => None,
        }
    }

    fn verdict(
        &self,
        subject: Subject,
        verdict: Verdict,
        rule: u32,
        errno: i32,
        audit_report: bool,
    ) -> Option<(Answer, Subject, Verdict, u32)> {
        match (verdict, self.image.mode()) {
            (Verdict::Deny, Mode::Enforce) => Some((Answer::Fail(errno), subject, verdict, rule)),
            (Verdict::Deny, _) => Some((Answer::Continue, subject, verdict, rule)),
            (Verdict::Allow, Mode::Audit) if audit_report => {
                Some((Answer::Continue, subject, verdict, rule))
            }
            _ => None,
        }
    }

    fn audit_token(&mut self) -> bool {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if self.audit_window.0 != now {
            self.audit_window = (now, 0);
        }
        self.audit_window.1 += 1;
        self.audit_window.1 <= self.image.audit_rate()
    }

    fn open(
        &mut self,
        n: &Notification,
        dirfd: i32,
        path_ptr: u64,
        flags: i32,
    ) -> Option<(Answer, Subject, Verdict, u32)> {
        let access = Access::from_open_flags(flags);
        let uniform = self.image.file_uniform(access);
        let audit = self.image.mode() == Mode::Audit;
        if access == Access::NONE || (uniform == Uniform::Allow && !audit) {
            return None;
        }
        let raw = seccomp::read_c_string(n.pid, path_ptr, PATH_MAX).ok()?;
        let view = TargetView::of(n.pid).ok()?;
        let written = view.normalise(dirfd, &raw)?;
        let mut subject = Subject {
            kind: Some(Kind::File),
            access,
            path: written,
            ..Subject::default()
        };
        let lexical = self.image.decide_file(&subject.path, access);
        if lexical.verdict == Verdict::Deny {
            return self.verdict(
                subject,
                Verdict::Deny,
                lexical.rule,
                self.image.file_errno(),
                false,
            );
        }
        let nofollow = flags & libc::O_NOFOLLOW;
        let resolved = view.resolve(&subject.path, nofollow).or_else(|| {
            (flags & libc::O_CREAT != 0)
                .then(|| view.resolve_parent(&subject.path))
                .flatten()
        });
        let d = match resolved {
            Some(r) => {
                let d = self.image.decide_file(&r, access);
                if r != subject.path {
                    subject.resolved = r;
                }
                d
            }
            None => lexical,
        };
        let report = audit && self.audit_token();
        self.verdict(subject, d.verdict, d.rule, self.image.file_errno(), report)
    }

    fn exec(
        &mut self,
        n: &Notification,
        dirfd: i32,
        path_ptr: u64,
        argv_ptr: u64,
        flags: i32,
    ) -> Option<(Answer, Subject, Verdict, u32)> {
        let audit = self.image.mode() == Mode::Audit;
        if self.image.exec_uniform() == Uniform::Allow && !audit {
            return None;
        }
        let raw = seccomp::read_c_string(n.pid, path_ptr, PATH_MAX).ok()?;
        let mut argv0_ptr = [0u8; 8];
        let argv0 = match seccomp::read_memory(n.pid, argv_ptr, &mut argv0_ptr) {
            Ok(8) if u64::from_ne_bytes(argv0_ptr) != 0 => {
                seccomp::read_c_string(n.pid, u64::from_ne_bytes(argv0_ptr), PATH_MAX)
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        };
        let view = TargetView::of(n.pid).ok()?;
        let (written, resolved) = if raw.is_empty() && flags & libc::AT_EMPTY_PATH != 0 {
            let p = view.dir_of(dirfd)?;
            (p.clone(), Some(p))
        } else {
            let w = view.normalise(dirfd, &raw)?;
            let r = view.resolve(&w, 0);
            (w, r)
        };
        let d = self.image.decide_exec(
            &written,
            resolved.as_deref().filter(|r| *r != written.as_slice()),
            &argv0,
        );
        let subject = Subject {
            kind: Some(Kind::Exec),
            resolved: resolved.filter(|r| *r != written).unwrap_or_default(),
            path: written,
            arg: argv0,
            ..Subject::default()
        };
        let report = audit && self.audit_token();
        self.verdict(subject, d.verdict, d.rule, self.image.exec_errno(), report)
    }

    fn connect(
        &mut self,
        n: &Notification,
        addr_ptr: u64,
        len: u64,
    ) -> Option<(Answer, Subject, Verdict, u32)> {
        let mut sa = [0u8; std::mem::size_of::<libc::sockaddr_storage>()];
        let len = (len as usize).min(sa.len());
        let got = seccomp::read_memory(n.pid, addr_ptr, &mut sa[..len]).ok()?;
        let sa = &sa[..got];
        let decoded = sockaddr::decode(sa);
        let family = match decoded {
            SockAddr::Unspec | SockAddr::Malformed => return None,
            _ => u16::from_ne_bytes([sa[0], sa[1]]),
        };
        let audit = self.image.mode() == Mode::Audit;
        if self.image.net_uniform(FamilyClass::of(family)) == Uniform::Allow && !audit {
            return None;
        }
        let mut subject = Subject {
            kind: Some(Kind::Connect),
            family,
            ..Subject::default()
        };
        let target_path: Vec<u8>;
        let target = match decoded {
            SockAddr::Inet { addr, port } => {
                subject.port = port;
                subject.addr[..4].copy_from_slice(&addr);
                ConnectTarget::Inet { addr, port }
            }
            SockAddr::Inet6 { addr, port } => {
                subject.port = port;
                subject.addr = addr;
                ConnectTarget::Inet6 { addr, port }
            }
            SockAddr::UnixAbstract(name) => {
                target_path = [&b"@"[..], name].concat();
                subject.path = target_path.clone();
                ConnectTarget::Unix(&target_path)
            }
            SockAddr::UnixPath(p) => {
                let view = TargetView::of(n.pid).ok()?;
                target_path = view.normalise(libc::AT_FDCWD, p)?;
                subject.path = target_path.clone();
                ConnectTarget::Unix(&target_path)
            }
            SockAddr::Other(f) => ConnectTarget::Other(f),
            SockAddr::Unspec | SockAddr::Malformed => return None,
        };
        let d = self.image.decide_connect(&target);
        let report = audit && self.audit_token();
        self.verdict(subject, d.verdict, d.rule, self.image.net_errno(), report)
    }

    fn report(
        &mut self,
        n: &Notification,
        s: &Subject,
        verdict: Verdict,
        rule: u32,
        answer: Answer,
    ) -> Result<(), RunError> {
        let Some(kind) = s.kind else { return Ok(()) };
        let exe = std::fs::read_link(format!("/proc/{}/exe", n.pid)).unwrap_or_default();
        let uid = std::fs::metadata(format!("/proc/{}", n.pid))
            .map_or(0, |m| std::os::unix::fs::MetadataExt::uid(&m));
        let blocked = matches!(answer, Answer::Fail(_));
        let head = RecordHead {
            kind,
            verdict,
            blocked,
            mode: if self.image.mode() == Mode::Audit {
                EventMode::Audit
            } else {
                EventMode::Enforce
            },
            access: s.access.0,
            pid: n.pid as i32,
            uid,
            rule,
            generation: self.image.generation(),
            time_ns: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
            errno: match answer {
                Answer::Fail(e) => e as u16,
                Answer::Continue => 0,
            },
            family: s.family,
            port: s.port,
            addr: s.addr,
        };
        let label = if rule == NO_RULE {
            &[][..]
        } else {
            self.image.label(rule)
        };
        let strings = RecordStrings {
            path: &s.path,
            resolved: &s.resolved,
            arg: &s.arg,
            exe: exe.as_os_str().as_bytes(),
            label,
        };
        let mut buf = [0u8; MAX_RECORD];
        let len = record::encode(&mut buf, &head, &strings);
        let rec = EventRecord::new_checked(&buf[..len])
            .map_err(|e| io("encoding an event")(std::io::Error::other(e.to_string())))?;
        self.sink
            .write_line(&eve::decision_line(&rec, None, None))
            .map_err(io("writing events"))
    }
}

/// A trapped process's view of the file system: its root (as a host path) and its working
/// directory (inside that root).
struct TargetView {
    pid: u32,
    root: PathBuf,
}

impl TargetView {
    fn of(pid: u32) -> std::io::Result<TargetView> {
        Ok(TargetView {
            pid,
            root: std::fs::read_link(format!("/proc/{pid}/root"))?,
        })
    }

    /// A host path as a path inside the target's root.
    fn inside(&self, host: &Path) -> Option<Vec<u8>> {
        if self.root == Path::new("/") {
            return Some(host.as_os_str().as_bytes().to_vec());
        }
        let rel = host.strip_prefix(&self.root).ok()?;
        Some([&b"/"[..], rel.as_os_str().as_bytes()].concat())
    }

    /// The directory a `dirfd` (or `AT_FDCWD`) stands for, inside the root.
    fn dir_of(&self, dirfd: i32) -> Option<Vec<u8>> {
        let link = if dirfd == libc::AT_FDCWD {
            format!("/proc/{}/cwd", self.pid)
        } else {
            format!("/proc/{}/fd/{dirfd}", self.pid)
        };
        self.inside(&std::fs::read_link(link).ok()?)
    }

    fn normalise(&self, dirfd: i32, path: &[u8]) -> Option<Vec<u8>> {
        let base = if path.first() == Some(&b'/') {
            b"/".to_vec()
        } else {
            self.dir_of(dirfd)?
        };
        let mut out = vec![0u8; base.len() + path.len() + 2];
        let n = normalise_into(&base, path, &mut out).ok()?;
        out.truncate(n);
        Some(out)
    }

    /// Where `path` (absolute inside the root) leads, symbolic links followed inside the root
    /// (the last one too unless `nofollow`); `None` if it does not exist.
    fn resolve(&self, path: &[u8], nofollow: i32) -> Option<Vec<u8>> {
        let root = std::fs::File::open(format!("/proc/{}/root", self.pid)).ok()?;
        let rel = path.strip_prefix(b"/").unwrap_or(path);
        let rel = if rel.is_empty() { &b"."[..] } else { rel };
        let fd = sys::openat_in_root(
            root.as_raw_fd(),
            rel,
            libc::O_PATH | libc::O_CLOEXEC | nofollow,
        )
        .ok()?;
        let host = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()?;
        self.inside(&host)
    }

    /// For a file about to be created: its resolved parent directory and its name.
    fn resolve_parent(&self, path: &[u8]) -> Option<Vec<u8>> {
        let slash = path.iter().rposition(|&b| b == b'/')?;
        let parent = if slash == 0 {
            &b"/"[..]
        } else {
            &path[..slash]
        };
        let mut dir = self.resolve(parent, 0)?;
        if dir != b"/" {
            dir.push(b'/');
        }
        dir.extend_from_slice(&path[slash + 1..]);
        Some(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;

    fn groups(text: &str) -> Vec<Trapped> {
        let p = Policy::parse(text, Path::new("p.toml")).unwrap();
        let bytes = p.compile(1).unwrap();
        trapped_groups(&PolicyImage::new_checked(&bytes).unwrap())
    }

    #[test]
    fn only_what_the_policy_can_deny_is_trapped() {
        assert_eq!(groups(""), vec![]);
        assert_eq!(groups("mode = \"off\"\n[files]\ndeny = [\"/x\"]"), vec![]);
        assert_eq!(groups("[files]\ndeny = [\"/x\"]"), vec![Trapped::Open]);
        assert_eq!(
            groups("[network]\ndeny = [\"*:25\"]"),
            vec![Trapped::Connect]
        );
        assert_eq!(groups("[exec]\ndefault = \"deny\""), vec![Trapped::Exec]);
        assert_eq!(
            groups("mode = \"audit\""),
            vec![Trapped::Exec, Trapped::Open, Trapped::Connect]
        );
    }

    #[test]
    fn our_own_view() {
        let view = TargetView::of(std::process::id()).unwrap();
        assert_eq!(
            view.normalise(libc::AT_FDCWD, b"/etc/../etc/hostname")
                .unwrap(),
            b"/etc/hostname"
        );
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            view.normalise(libc::AT_FDCWD, b"x").unwrap(),
            cwd.join("x").as_os_str().as_bytes()
        );
        assert_eq!(view.resolve(b"/etc/hostname", 0).unwrap(), b"/etc/hostname");
        assert!(view.resolve(b"/no/such/file", 0).is_none());
        let tmp = tempfile::tempdir().unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink("/etc/hostname", &link).unwrap();
        let link = link.as_os_str().as_bytes();
        assert_eq!(view.resolve(link, 0).unwrap(), b"/etc/hostname");
        assert_eq!(view.resolve(link, libc::O_NOFOLLOW).unwrap(), link);
        let new = tmp.path().join("new");
        assert_eq!(
            view.resolve_parent(new.as_os_str().as_bytes()).unwrap(),
            new.as_os_str().as_bytes()
        );
    }
}
