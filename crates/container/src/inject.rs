//! Putting the shim into a container and taking it out again.
//!
//! Injection makes `/.rampart` in the container's root (the shim directory: library, policy,
//! pages, FIFO; see [`crate::shimdir`]) and adds `/.rampart/librampart_shim.so` to the
//! container's `/etc/ld.so.preload`, creating the file if there is none. Every process the
//! container starts from then on loads the shim; processes already running do not (the probe
//! reports them). Removal puts `/etc/ld.so.preload` back exactly as it was (bytes, mode,
//! owner, modification time), or deletes it if injection created it; if someone else changed
//! the file meanwhile, only the shim's line is taken out. Then `/.rampart` goes.
//!
//! The container's root is reached from the host (a rootfs directory, or `/proc/PID/root`),
//! where a symbolic link inside it could point at the host's own files. So `/etc` and
//! `/.rampart` are opened without following links, and `ld.so.preload` is only read and
//! replaced through the descriptor of its directory, never followed if it is a link.

use std::fs::{self, OpenOptions};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::policy::Policy;
use crate::shimdir::{self, CONTAINER_DIR, LIBRARY, ShimDir, ShimDirError};

/// The line injection adds to `/etc/ld.so.preload`.
pub fn preload_line() -> String {
    format!("/{CONTAINER_DIR}/{LIBRARY}")
}

/// Why injection or removal failed.
#[derive(Debug, thiserror::Error)]
pub enum InjectError {
    /// The shim directory could not be made or read.
    #[error(transparent)]
    ShimDir(#[from] ShimDirError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file (as the host names it).
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The root holds no dynamic loader: no process there could load the shim.
    #[error(
        "{0}: no dynamic loader (lib64/ld-linux-*.so.2 or lib/ld-linux-*.so.*): its programs are static or not glibc ones, and the shim cannot hold them; use `rampart run --seccomp`"
    )]
    NoLoader(PathBuf),
    /// The container's `/etc/ld.so.preload` (or `/etc`) is not a plain file (directory).
    #[error("{0}: not a regular file (a symbolic link?): left alone")]
    NotPlain(PathBuf),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> InjectError + use<> {
    let path = path.to_path_buf();
    move |source| InjectError::Io { path, source }
}

/// What `/etc/ld.so.preload` was before injection, kept in the shim directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Saved {
    existed: bool,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    mtime_nsec: i64,
    /// What injection wrote, to tell later whether anyone changed the file since.
    written: Vec<u8>,
}

const SAVED_BYTES: &str = "ld.so.preload.orig";
const SAVED_META: &str = "ld.so.preload.json";

/// What an injection did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injection {
    /// The policy generation now in place.
    pub generation: u64,
    /// Whether `/etc/ld.so.preload` was changed (false if the line was already there).
    pub preload_changed: bool,
    /// Whether `/etc/ld.so.preload` was created.
    pub preload_created: bool,
}

/// What a removal did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// The file was put back as it was (or deleted, as it had not existed).
    Restored,
    /// The file had changed since injection: only the shim's line was removed.
    LineRemoved,
    /// Nothing of the shim was found in the file.
    NotInjected,
}

/// True if the root holds a glibc dynamic loader (x86-64 or AArch64).
pub fn has_loader(root: &Path) -> bool {
    [
        "lib64/ld-linux-x86-64.so.2",
        "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
        "usr/lib64/ld-linux-x86-64.so.2",
        "lib/ld-linux-aarch64.so.1",
        "lib/aarch64-linux-gnu/ld-linux-aarch64.so.1",
    ]
    .iter()
    .any(|l| root.join(l).exists())
}

/// Opens `<root>/etc` without following links (creating it if missing).
fn etc_dir(root: &Path) -> Result<(OwnedFd, PathBuf), InjectError> {
    let shown = root.join("etc");
    let root_fd = shimdir::open_dir(root).map_err(io_err(root))?;
    let inside = shimdir::fd_path(&root_fd).join("etc");
    match fs::create_dir(&inside) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_err(&shown)(e)),
    }
    match shimdir::open_dir(&inside) {
        Ok(fd) => Ok((fd, shown)),
        Err(e)
            if e.raw_os_error() == Some(libc::ELOOP) || e.raw_os_error() == Some(libc::ENOTDIR) =>
        {
            Err(InjectError::NotPlain(shown))
        }
        Err(e) => Err(io_err(&shown)(e)),
    }
}

/// Injects the shim into the container whose root is `root`, with `policy`.
pub fn inject(
    root: &Path,
    library: &Path,
    policy: &Policy,
    source: &str,
) -> Result<Injection, InjectError> {
    if !has_loader(root) {
        return Err(InjectError::NoLoader(root.to_path_buf()));
    }
    let (dir, generation) = ShimDir::create_in_root(root, library, policy, source)?;
    let (etc, etc_shown) = etc_dir(root)?;
    let preload = shimdir::fd_path(&etc).join("ld.so.preload");
    let shown = etc_shown.join("ld.so.preload");
    let (current, meta) = match fs::symlink_metadata(&preload) {
        Ok(m) if m.file_type().is_file() => (
            Some(shimdir::read_nofollow(&preload).map_err(io_err(&shown))?),
            Some(m),
        ),
        Ok(_) => return Err(InjectError::NotPlain(shown)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => (None, None),
        Err(e) => return Err(io_err(&shown)(e)),
    };
    let line = preload_line();
    let before = current.clone().unwrap_or_default();
    if has_line(&before, &line) {
        return Ok(Injection {
            generation,
            preload_changed: false,
            preload_created: false,
        });
    }
    let mut written = before.clone();
    if !written.is_empty() && !written.ends_with(b"\n") {
        written.push(b'\n');
    }
    written.extend_from_slice(line.as_bytes());
    written.push(b'\n');
    let saved = Saved {
        existed: current.is_some(),
        mode: meta.as_ref().map_or(0o644, |m| m.mode() & 0o7777),
        uid: meta.as_ref().map_or(0, |m| m.uid()),
        gid: meta.as_ref().map_or(0, |m| m.gid()),
        mtime: meta.as_ref().map_or(0, |m| m.mtime()),
        mtime_nsec: meta.as_ref().map_or(0, |m| m.mtime_nsec()),
        written: written.clone(),
    };
    dir.write(SAVED_BYTES, &before, 0o600)?;
    let json =
        serde_json::to_vec(&saved).map_err(|e| io_err(&dir.shown().join(SAVED_META))(e.into()))?;
    dir.write(SAVED_META, &json, 0o600)?;
    shimdir::write_atomically(&preload, &written, saved.mode).map_err(io_err(&shown))?;
    chown_nofollow(&preload, saved.uid, saved.gid).map_err(io_err(&shown))?;
    Ok(Injection {
        generation,
        preload_changed: true,
        preload_created: current.is_none(),
    })
}

fn has_line(content: &[u8], line: &str) -> bool {
    content
        .split(|&b| b == b'\n' || b == b' ' || b == b'\t')
        .any(|l| l == line.as_bytes())
}

/// Takes the shim out of the container whose root is `root`.
pub fn remove(root: &Path) -> Result<Removal, InjectError> {
    let (etc, etc_shown) = etc_dir(root)?;
    let preload = shimdir::fd_path(&etc).join("ld.so.preload");
    let shown = etc_shown.join("ld.so.preload");
    let dir = ShimDir::open_in_root(root).ok();
    let saved: Option<(Saved, Vec<u8>)> = dir.as_ref().and_then(|d| {
        let meta = d.read(SAVED_META).ok()?;
        let bytes = d.read(SAVED_BYTES).ok()?;
        Some((serde_json::from_slice(&meta).ok()?, bytes))
    });
    let current = match fs::symlink_metadata(&preload) {
        Ok(m) if m.file_type().is_file() => {
            Some(shimdir::read_nofollow(&preload).map_err(io_err(&shown))?)
        }
        Ok(_) => return Err(InjectError::NotPlain(shown)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_err(&shown)(e)),
    };
    let line = preload_line();
    let outcome = match (&saved, &current) {
        (Some((s, original)), Some(now)) if *now == s.written => {
            if s.existed {
                shimdir::write_atomically(&preload, original, s.mode).map_err(io_err(&shown))?;
                chown_nofollow(&preload, s.uid, s.gid).map_err(io_err(&shown))?;
                set_mtime(&preload, s.mtime, s.mtime_nsec).map_err(io_err(&shown))?;
            } else {
                fs::remove_file(&preload).map_err(io_err(&shown))?;
            }
            Removal::Restored
        }
        (_, Some(now)) if has_line(now, &line) => {
            let kept: Vec<&[u8]> = now
                .split(|&b| b == b'\n')
                .filter(|l| *l != line.as_bytes())
                .collect();
            let mode = fs::symlink_metadata(&preload).map_or(0o644, |m| m.mode() & 0o7777);
            shimdir::write_atomically(&preload, &kept.join(&b"\n"[..]), mode)
                .map_err(io_err(&shown))?;
            Removal::LineRemoved
        }
        _ => Removal::NotInjected,
    };
    drop(dir);
    let shim_dir = root.join(CONTAINER_DIR);
    match fs::symlink_metadata(&shim_dir) {
        Ok(m) if m.file_type().is_dir() => {
            fs::remove_dir_all(&shim_dir).map_err(io_err(&shim_dir))?
        }
        _ => {}
    }
    Ok(outcome)
}

fn chown_nofollow(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
}

/// Sets a regular file's modification time through a descriptor (not following links).
fn set_mtime(path: &Path, secs: i64, nsec: i64) -> io::Result<()> {
    let f = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    let time = std::time::UNIX_EPOCH
        + std::time::Duration::new(secs.max(0) as u64, nsec.clamp(0, 999_999_999) as u32);
    f.set_modified(time)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn rootfs() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join("lib64")).unwrap();
        fs::write(t.path().join("lib64/ld-linux-x86-64.so.2"), b"loader").unwrap();
        t
    }

    fn policy() -> (Policy, &'static str) {
        let text = "[files]\ndeny = [\"/etc/shadow\"]\n";
        (Policy::parse(text, Path::new("p.toml")).unwrap(), text)
    }

    fn library(t: &Path) -> PathBuf {
        let lib = t.join("lib.so");
        fs::write(&lib, b"\x7fELF").unwrap();
        lib
    }

    #[test]
    fn inject_into_a_root_without_preload_and_remove() {
        let root = rootfs();
        let lib_dir = tempfile::tempdir().unwrap();
        let (p, text) = policy();
        let inj = inject(root.path(), &library(lib_dir.path()), &p, text).unwrap();
        assert_eq!(
            inj,
            Injection {
                generation: 1,
                preload_changed: true,
                preload_created: true
            }
        );
        let preload = root.path().join("etc/ld.so.preload");
        assert_eq!(
            fs::read_to_string(&preload).unwrap(),
            "/.rampart/librampart_shim.so\n"
        );
        assert!(root.path().join(".rampart/librampart_shim.so").is_file());
        // Injecting again changes nothing in the file.
        let again = inject(root.path(), &library(lib_dir.path()), &p, text).unwrap();
        assert_eq!((again.generation, again.preload_changed), (2, false));
        assert_eq!(remove(root.path()).unwrap(), Removal::Restored);
        assert!(!preload.exists());
        assert!(!root.path().join(".rampart").exists());
        assert_eq!(remove(root.path()).unwrap(), Removal::NotInjected);
    }

    #[test]
    fn an_existing_preload_comes_back_exactly() {
        let root = rootfs();
        let lib_dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.path().join("etc")).unwrap();
        let preload = root.path().join("etc/ld.so.preload");
        let original = b"/usr/lib/libfoo.so"; // no final newline
        fs::write(&preload, original).unwrap();
        fs::set_permissions(&preload, fs::Permissions::from_mode(0o640)).unwrap();
        let old = std::time::UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 123_456_789);
        OpenOptions::new()
            .write(true)
            .open(&preload)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let (p, text) = policy();
        inject(root.path(), &library(lib_dir.path()), &p, text).unwrap();
        assert_eq!(
            fs::read_to_string(&preload).unwrap(),
            "/usr/lib/libfoo.so\n/.rampart/librampart_shim.so\n"
        );
        assert_eq!(
            fs::metadata(&preload).unwrap().permissions().mode() & 0o7777,
            0o640
        );
        assert_eq!(remove(root.path()).unwrap(), Removal::Restored);
        let m = fs::metadata(&preload).unwrap();
        assert_eq!(fs::read(&preload).unwrap(), original);
        assert_eq!(m.permissions().mode() & 0o7777, 0o640);
        assert_eq!(m.modified().unwrap(), old);
    }

    #[test]
    fn a_file_changed_meanwhile_loses_only_the_shim_line() {
        let root = rootfs();
        let lib_dir = tempfile::tempdir().unwrap();
        let (p, text) = policy();
        inject(root.path(), &library(lib_dir.path()), &p, text).unwrap();
        let preload = root.path().join("etc/ld.so.preload");
        let mut now = fs::read(&preload).unwrap();
        now.extend_from_slice(b"/opt/other.so\n");
        fs::write(&preload, &now).unwrap();
        assert_eq!(remove(root.path()).unwrap(), Removal::LineRemoved);
        assert_eq!(fs::read_to_string(&preload).unwrap(), "/opt/other.so\n");
    }

    #[test]
    fn links_that_lead_out_of_the_root_are_not_followed() {
        let root = rootfs();
        let lib_dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim");
        fs::write(&victim, b"host file").unwrap();
        fs::create_dir_all(root.path().join("etc")).unwrap();
        symlink(&victim, root.path().join("etc/ld.so.preload")).unwrap();
        let (p, text) = policy();
        let e = inject(root.path(), &library(lib_dir.path()), &p, text).unwrap_err();
        assert!(matches!(e, InjectError::NotPlain(_)), "{e}");
        assert_eq!(fs::read(&victim).unwrap(), b"host file");

        // A .rampart that is a link to a host directory is refused too.
        let root = rootfs();
        symlink(outside.path(), root.path().join(".rampart")).unwrap();
        assert!(inject(root.path(), &library(lib_dir.path()), &p, text).is_err());
        assert!(!outside.path().join("control").exists());
    }

    #[test]
    fn a_root_without_a_loader_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let lib_dir = tempfile::tempdir().unwrap();
        let (p, text) = policy();
        let e = inject(root.path(), &library(lib_dir.path()), &p, text).unwrap_err();
        assert!(e.to_string().contains("no dynamic loader"), "{e}");
    }
}
