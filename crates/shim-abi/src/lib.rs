//! What Rampart's container shim (`librampart_shim.so`, preloaded into container processes) and
//! its probe (`rampart probe`, `rampart run`) share, byte for byte:
//!
//! - [`image`]: the compiled policy image, a flat, position-independent file the probe writes
//!   and the shim maps read-only, with its checked view and its evaluator;
//! - [`build`]: writing an image from typed rules (the probe's side);
//! - [`pages`]: the control page (current generation, fallback mode) and the counters page
//!   (events written and dropped, policy loads) that both sides map;
//! - [`record`]: the event record the shim writes to the probe's FIFO, one `write` each;
//! - [`glob`] and [`path`]: pattern matching and lexical path normalisation;
//! - [`sockaddr`]: decoding a `connect` address.
//!
//! Everything the shim calls from a hook ([`image::PolicyImage`]'s lookups, [`glob::matches`],
//! [`path::normalise_into`], [`record::RecordWriter`]) must never allocate, block, lock or
//! panic, whatever bytes it is given: a process's paths and addresses are untrusted, and so is
//! an image or a record, which a process inside the container can overwrite or forge.
//!
//! # Example
//!
//! ```
//! use shim_abi::build::{ImageBuilder, PathRule};
//! use shim_abi::image::PolicyImage;
//! use shim_abi::{Access, Effect, Verdict};
//!
//! let mut b = ImageBuilder::new(7);
//! b.file_rule(PathRule::new("/etc/shadow", Effect::Deny, "files.deny[0] /etc/shadow")?);
//! let bytes = b.build()?;
//! let image = PolicyImage::new_checked(&bytes)?;
//! assert_eq!(image.generation(), 7);
//! assert_eq!(image.decide_file(b"/etc/shadow", Access::READ).verdict, Verdict::Deny);
//! assert_eq!(image.decide_file(b"/etc/hostname", Access::READ).verdict, Verdict::Allow);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod build;
pub mod glob;
pub mod image;
pub mod pages;
pub mod path;
pub mod record;
pub mod sockaddr;

/// What the shim does with a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Mode {
    /// Hooks pass every call through and report nothing.
    Off = 0,
    /// A denied call fails with the table's errno and is reported.
    Enforce = 1,
    /// Every call goes through; denials are reported, and allowed calls too (rate-limited).
    Audit = 2,
}

impl Mode {
    /// The mode from its byte, if valid.
    pub fn from_u8(b: u8) -> Option<Mode> {
        match b {
            0 => Some(Mode::Off),
            1 => Some(Mode::Enforce),
            2 => Some(Mode::Audit),
            _ => None,
        }
    }

    /// The name used in policy files and events.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Enforce => "enforce",
            Mode::Audit => "audit",
        }
    }
}

/// What the policy says about one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Verdict {
    /// The call may go ahead.
    Allow = 0,
    /// The call must fail (in enforce mode).
    Deny = 1,
}

impl Verdict {
    /// The verdict from its byte, if valid.
    pub fn from_u8(b: u8) -> Option<Verdict> {
        match b {
            0 => Some(Verdict::Allow),
            1 => Some(Verdict::Deny),
            _ => None,
        }
    }

    /// `"allow"` or `"deny"`.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Deny => "deny",
        }
    }
}

/// A rule's effect: what a match says.
pub type Effect = Verdict;

/// How the shim decides while it has no readable policy (before the first one is mapped, or
/// when the file is missing or malformed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Fallback {
    /// Allow every call, report nothing.
    Allow = 0,
    /// Deny every call that a policy could deny (opens, executions, connections).
    Deny = 1,
    /// Allow every call and report it (rate-limited).
    Audit = 2,
}

impl Fallback {
    /// The fallback from its byte, if valid.
    pub fn from_u8(b: u8) -> Option<Fallback> {
        match b {
            0 => Some(Fallback::Allow),
            1 => Some(Fallback::Deny),
            2 => Some(Fallback::Audit),
            _ => None,
        }
    }

    /// The name used in policy files.
    pub fn name(self) -> &'static str {
        match self {
            Fallback::Allow => "allow",
            Fallback::Deny => "deny",
            Fallback::Audit => "audit",
        }
    }
}

/// The access an open asks for: a set of [`READ`](Access::READ), [`WRITE`](Access::WRITE) and
/// [`CREATE`](Access::CREATE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Access(pub u8);

impl Access {
    /// Reading the file's data.
    pub const READ: Access = Access(1);
    /// Writing or truncating it.
    pub const WRITE: Access = Access(2);
    /// Creating it (`O_CREAT`, `O_TMPFILE`, `creat`).
    pub const CREATE: Access = Access(4);
    /// Every access.
    pub const ALL: Access = Access(7);
    /// No access (an `O_PATH` descriptor).
    pub const NONE: Access = Access(0);

    /// The access an `open`/`openat` with these flags asks for.
    pub fn from_open_flags(flags: i32) -> Access {
        if flags & libc::O_PATH != 0 {
            return Access::NONE;
        }
        let mut a = match flags & libc::O_ACCMODE {
            libc::O_WRONLY => Access::WRITE.0,
            libc::O_RDWR => Access::READ.0 | Access::WRITE.0,
            // O_RDONLY, and the invalid 3 that Linux reads as "ioctl only".
            _ => Access::READ.0,
        };
        if flags & libc::O_TRUNC != 0 {
            a |= Access::WRITE.0;
        }
        if flags & libc::O_CREAT != 0 {
            a |= Access::CREATE.0;
        }
        if flags & libc::O_TMPFILE == libc::O_TMPFILE {
            a |= Access::CREATE.0 | Access::WRITE.0;
        }
        Access(a)
    }

    /// True if every bit of `other` is in `self`.
    pub fn contains(self, other: Access) -> bool {
        self.0 & other.0 == other.0
    }

    /// True if `self` and `other` share a bit.
    pub fn intersects(self, other: Access) -> bool {
        self.0 & other.0 != 0
    }

    /// `read`, `write`, `create` joined by `+` (`read+write`), or `none`.
    pub fn name(self) -> &'static str {
        const NAMES: [&str; 8] = [
            "none",
            "read",
            "write",
            "read+write",
            "create",
            "read+create",
            "write+create",
            "read+write+create",
        ];
        NAMES[usize::from(self.0 & 7)]
    }
}

/// What a hooked call does, as events and counters name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    /// A program execution (`execve` and friends, `posix_spawn`).
    Exec = 1,
    /// A file open.
    File = 2,
    /// A socket connection.
    Connect = 3,
}

impl Kind {
    /// The kind from its byte, if valid.
    pub fn from_u8(b: u8) -> Option<Kind> {
        match b {
            1 => Some(Kind::Exec),
            2 => Some(Kind::File),
            3 => Some(Kind::Connect),
            _ => None,
        }
    }
}

/// `fopen` mode letters as `open` flags (`r`, `w`, `a`, then `+`, `x`, `e` in any order, up
/// to a `,`, as glibc reads them; other letters such as `b` and `m` change nothing here);
/// `None` for a mode `fopen` refuses. The shim decides `fopen` as the `open` it stands for.
pub fn fopen_flags(mode: &[u8]) -> Option<i32> {
    let (first, rest) = mode.split_first()?;
    let mut flags = match first {
        b'r' => libc::O_RDONLY,
        b'w' => libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
        b'a' => libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND,
        _ => return None,
    };
    for &c in rest.iter().take_while(|&&c| c != b',') {
        match c {
            b'+' => flags = (flags & !libc::O_ACCMODE) | libc::O_RDWR,
            b'x' => flags |= libc::O_EXCL,
            b'e' => flags |= libc::O_CLOEXEC,
            _ => {}
        }
    }
    Some(flags)
}

/// `errno` values a policy may choose for a denial, by name (and back).
pub const ERRNO_NAMES: &[(&str, i32)] = &[
    ("EACCES", libc::EACCES),
    ("EPERM", libc::EPERM),
    ("ENOENT", libc::ENOENT),
    ("ECONNREFUSED", libc::ECONNREFUSED),
    ("ENETUNREACH", libc::ENETUNREACH),
    ("EHOSTUNREACH", libc::EHOSTUNREACH),
    ("ETIMEDOUT", libc::ETIMEDOUT),
    ("EROFS", libc::EROFS),
];

/// The name of an errno value from [`ERRNO_NAMES`].
pub fn errno_name(errno: i32) -> Option<&'static str> {
    ERRNO_NAMES
        .iter()
        .find(|(_, e)| *e == errno)
        .map(|(n, _)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_from_open_flags() {
        assert_eq!(Access::from_open_flags(libc::O_RDONLY), Access::READ);
        assert_eq!(Access::from_open_flags(libc::O_WRONLY), Access::WRITE);
        assert_eq!(Access::from_open_flags(libc::O_RDWR).name(), "read+write");
        assert_eq!(
            Access::from_open_flags(libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC).name(),
            "write+create"
        );
        assert_eq!(
            Access::from_open_flags(libc::O_RDONLY | libc::O_TRUNC).name(),
            "read+write"
        );
        assert_eq!(
            Access::from_open_flags(libc::O_PATH | libc::O_RDWR),
            Access::NONE
        );
        assert_eq!(
            Access::from_open_flags(libc::O_TMPFILE | libc::O_RDWR).name(),
            "read+write+create"
        );
        // O_DIRECTORY shares a bit with O_TMPFILE, but is not O_TMPFILE.
        assert_eq!(
            Access::from_open_flags(libc::O_DIRECTORY | libc::O_RDONLY),
            Access::READ
        );
    }

    #[test]
    fn fopen_modes() {
        assert_eq!(fopen_flags(b"r"), Some(libc::O_RDONLY));
        assert_eq!(fopen_flags(b"rb"), Some(libc::O_RDONLY));
        assert_eq!(fopen_flags(b"r+"), Some(libc::O_RDWR));
        assert_eq!(
            fopen_flags(b"w"),
            Some(libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC)
        );
        assert_eq!(
            fopen_flags(b"wx"),
            Some(libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_EXCL)
        );
        assert_eq!(
            fopen_flags(b"a+e"),
            Some(libc::O_RDWR | libc::O_CREAT | libc::O_APPEND | libc::O_CLOEXEC)
        );
        assert_eq!(fopen_flags(b"r,ccs=UTF-8x"), Some(libc::O_RDONLY));
        assert_eq!(fopen_flags(b"q"), None);
        assert_eq!(fopen_flags(b""), None);
        assert_eq!(
            Access::from_open_flags(fopen_flags(b"a").unwrap()).name(),
            "write+create"
        );
    }

    #[test]
    fn bytes_round_trip() {
        for m in [Mode::Off, Mode::Enforce, Mode::Audit] {
            assert_eq!(Mode::from_u8(m as u8), Some(m));
        }
        for f in [Fallback::Allow, Fallback::Deny, Fallback::Audit] {
            assert_eq!(Fallback::from_u8(f as u8), Some(f));
        }
        for k in [Kind::Exec, Kind::File, Kind::Connect] {
            assert_eq!(Kind::from_u8(k as u8), Some(k));
        }
        assert_eq!(Mode::from_u8(3), None);
        assert_eq!(Verdict::from_u8(2), None);
        assert_eq!(errno_name(libc::EPERM), Some("EPERM"));
    }
}
