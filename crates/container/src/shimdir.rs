//! The shim's directory: the library and the files it reads beside itself.
//!
//! | file | mode | what |
//! |---|---|---|
//! | `librampart_shim.so` | 0755 | the shim (its own directory is where it looks for the rest) |
//! | `policy` | 0644 | the compiled policy image; replaced by rename, never written in place |
//! | `policy.toml` | 0644 | the source the image was compiled from |
//! | `control` | 0644 | the control page: generation, fallback |
//! | `counters` | 0666 | the counters page every hooked process adds to |
//! | `events` | 0622 | the FIFO the shim writes event records to |
//!
//! Changing the policy ([`ShimDir::set_policy`]) writes the new image to a temporary file,
//! renames it over `policy`, and then publishes the new generation in the control page; the
//! shim in every process maps the new image on its next hooked call. Concurrent changes are
//! serialised by an `flock` on the control page.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use shim_abi::Fallback;
use shim_abi::image::PolicyImage;
use shim_abi::pages::{Control, Counter, Counters};

use crate::policy::Policy;
use crate::sys::{self, SharedPage};

/// The shim library's file name.
pub const LIBRARY: &str = "librampart_shim.so";

/// Errors around a shim directory; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ShimDirError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The directory holds no (valid) control page: not set up by Rampart.
    #[error("{0}: not a Rampart shim directory (no valid control page)")]
    NotShimDir(PathBuf),
    /// The policy could not be compiled.
    #[error("compiling the policy: {0}")]
    Compile(#[from] shim_abi::build::BuildError),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ShimDirError + use<> {
    let path = path.to_path_buf();
    move |source| ShimDirError::Io { path, source }
}

/// A shim directory on the host (for a container: `<rootfs>/.rampart`).
///
/// Inside a container every operation goes through a descriptor of the directory, opened
/// without following symbolic links, and names only files directly in it, opened with
/// `O_NOFOLLOW`: a container's root may hold links that, read from the host, point at the
/// host's own files, and the probe must never write (or read) through them.
#[derive(Debug, Clone)]
pub struct ShimDir {
    /// Where operations go: the directory, or `/proc/self/fd/N` of its descriptor.
    path: PathBuf,
    /// How messages name it.
    shown: PathBuf,
    /// Keeps `/proc/self/fd/N` valid.
    _fd: Option<Arc<OwnedFd>>,
}

/// The name of the shim directory in a container's root, and the line in its
/// `/etc/ld.so.preload`.
pub const CONTAINER_DIR: &str = ".rampart";

impl ShimDir {
    /// Creates (or refreshes) the directory at a host path Rampart owns (`rampart run`): the
    /// library copied in, a control page, zeroed counters, the FIFO, and the policy as
    /// generation 1 (or the next one, if a control page is already there).
    pub fn create(
        path: &Path,
        library: &Path,
        policy: &Policy,
        source: &str,
    ) -> Result<(ShimDir, u64), ShimDirError> {
        fs::create_dir_all(path).map_err(io_err(path))?;
        let fd = open_dir(path).map_err(io_err(path))?;
        ShimDir::create_at(fd, path, library, policy, source)
    }

    /// Creates (or refreshes) `.rampart` in a container's root (a rootfs directory, or
    /// `/proc/PID/root`), refusing a `.rampart` that is not a plain directory.
    pub fn create_in_root(
        root: &Path,
        library: &Path,
        policy: &Policy,
        source: &str,
    ) -> Result<(ShimDir, u64), ShimDirError> {
        let shown = root.join(CONTAINER_DIR);
        let root_fd = open_dir(root).map_err(io_err(root))?;
        let inside = fd_path(&root_fd).join(CONTAINER_DIR);
        match fs::create_dir(&inside) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_err(&shown)(e)),
        }
        let fd = open_dir(&inside).map_err(io_err(&shown))?;
        ShimDir::create_at(fd, &shown, library, policy, source)
    }

    fn create_at(
        fd: OwnedFd,
        shown: &Path,
        library: &Path,
        policy: &Policy,
        source: &str,
    ) -> Result<(ShimDir, u64), ShimDirError> {
        let dir_file = File::from(fd.try_clone().map_err(io_err(shown))?);
        dir_file
            .set_permissions(fs::Permissions::from_mode(0o755))
            .map_err(io_err(shown))?;
        let dir = ShimDir {
            path: fd_path(&fd),
            shown: shown.to_path_buf(),
            _fd: Some(Arc::new(fd)),
        };
        let lib = fs::read(library).map_err(io_err(library))?;
        dir.write(LIBRARY, &lib, 0o755)?;
        if dir.control_generation().is_err() {
            dir.write(
                "control",
                &Control::initial_bytes(policy.fallback, 0),
                0o644,
            )?;
        }
        if dir
            .read("counters")
            .ok()
            .and_then(|b| Counters::from_bytes(&b))
            .is_none()
        {
            dir.write("counters", &Counters::initial_bytes(), 0o666)?;
        }
        let events = dir.file("events");
        match fs::symlink_metadata(&events) {
            Ok(m) if std::os::unix::fs::FileTypeExt::is_fifo(&m.file_type()) => {}
            Ok(_) => {
                fs::remove_file(&events).map_err(dir.err("events"))?;
                sys::mkfifo(&events, 0o622).map_err(dir.err("events"))?;
            }
            Err(_) => sys::mkfifo(&events, 0o622).map_err(dir.err("events"))?,
        }
        let generation = dir.set_policy(policy, source)?;
        Ok((dir, generation))
    }

    /// An existing shim directory at a host path Rampart owns.
    pub fn open(path: &Path) -> Result<ShimDir, ShimDirError> {
        let fd = open_dir(path).map_err(io_err(path))?;
        ShimDir::open_at(fd, path)
    }

    /// The existing `.rampart` of a container's root.
    pub fn open_in_root(root: &Path) -> Result<ShimDir, ShimDirError> {
        let shown = root.join(CONTAINER_DIR);
        let root_fd = open_dir(root).map_err(io_err(root))?;
        let fd = open_dir(&fd_path(&root_fd).join(CONTAINER_DIR)).map_err(io_err(&shown))?;
        ShimDir::open_at(fd, &shown)
    }

    fn open_at(fd: OwnedFd, shown: &Path) -> Result<ShimDir, ShimDirError> {
        let dir = ShimDir {
            path: fd_path(&fd),
            shown: shown.to_path_buf(),
            _fd: Some(Arc::new(fd)),
        };
        dir.control_generation()?;
        Ok(dir)
    }

    fn err(&self, name: &str) -> impl FnOnce(io::Error) -> ShimDirError + use<> {
        let path = self.shown.join(name);
        move |source| ShimDirError::Io { path, source }
    }

    /// Reads a file of the directory (not through a symbolic link).
    pub fn read(&self, name: &str) -> Result<Vec<u8>, ShimDirError> {
        read_nofollow(&self.file(name)).map_err(self.err(name))
    }

    /// Replaces a file of the directory atomically.
    pub fn write(&self, name: &str, bytes: &[u8], mode: u32) -> Result<(), ShimDirError> {
        write_atomically(&self.file(name), bytes, mode).map_err(self.err(name))
    }

    /// Removes a file of the directory if it is there.
    pub fn remove(&self, name: &str) -> Result<(), ShimDirError> {
        match fs::remove_file(self.file(name)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.err(name)(e)),
        }
    }

    /// How the directory is named in messages.
    pub fn shown(&self) -> &Path {
        &self.shown
    }

    /// A file in the directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The library as processes on the host load it (under `rampart run`).
    pub fn library(&self) -> PathBuf {
        self.shown.join(LIBRARY)
    }

    /// The event FIFO.
    pub fn events(&self) -> PathBuf {
        self.file("events")
    }

    /// The generation in the control page.
    pub fn control_generation(&self) -> Result<u64, ShimDirError> {
        let bytes = self.read("control")?;
        control_words(&bytes).ok_or_else(|| ShimDirError::NotShimDir(self.shown.clone()))
    }

    /// Compiles `policy`, puts it in place as the next generation, and publishes it; returns
    /// the new generation.
    pub fn set_policy(&self, policy: &Policy, source: &str) -> Result<u64, ShimDirError> {
        let control_file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(self.file("control"))
            .map_err(self.err("control"))?;
        sys::lock_exclusive(&control_file).map_err(self.err("control"))?;
        let page = SharedPage::map(&control_file).map_err(self.err("control"))?;
        let control = Control::new_checked(page.words())
            .ok_or_else(|| ShimDirError::NotShimDir(self.shown.clone()))?;
        let generation = control.generation() + 1;
        let image = policy.compile(generation)?;
        self.write("policy", &image, 0o644)?;
        self.write("policy.toml", source.as_bytes(), 0o644)?;
        control.set_fallback(policy.fallback);
        control.set_generation(generation);
        Ok(generation)
    }

    /// The fallback in the control page.
    pub fn fallback(&self) -> Result<Fallback, ShimDirError> {
        let bytes = self.read("control")?;
        control_words(&bytes).ok_or_else(|| ShimDirError::NotShimDir(self.shown.clone()))?;
        // The fallback byte sits above the version in word 1.
        Ok(Fallback::from_u8(bytes[12]).unwrap_or(Fallback::Allow))
    }

    /// The current policy image's bytes.
    pub fn image(&self) -> Result<Vec<u8>, ShimDirError> {
        let bytes = self.read("policy")?;
        PolicyImage::new_checked(&bytes).map_err(|e| {
            self.err("policy")(io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
        })?;
        Ok(bytes)
    }

    /// The policy source the current image was compiled from.
    pub fn source(&self) -> Result<String, ShimDirError> {
        let bytes = self.read("policy.toml")?;
        String::from_utf8(bytes)
            .map_err(|e| self.err("policy.toml")(io::Error::new(io::ErrorKind::InvalidData, e)))
    }

    /// The counters, by name.
    pub fn counters(&self) -> Result<Vec<(Counter, u64)>, ShimDirError> {
        let bytes = self.read("counters")?;
        Counters::from_bytes(&bytes).ok_or_else(|| ShimDirError::NotShimDir(self.shown.clone()))
    }

    /// One counter.
    pub fn counter(&self, which: Counter) -> Result<u64, ShimDirError> {
        Ok(self
            .counters()?
            .into_iter()
            .find(|(c, _)| *c == which)
            .map_or(0, |(_, v)| v))
    }
}

/// The generation from a control page's bytes, if the page is valid.
fn control_words(bytes: &[u8]) -> Option<u64> {
    if bytes.len() < shim_abi::pages::PAGE_LEN || bytes[..8] != shim_abi::pages::CONTROL_MAGIC {
        return None;
    }
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[16..24]);
    Some(u64::from_le_bytes(w))
}

/// Writes `bytes` to a new temporary file beside `path` (never through a symbolic link),
/// sets its mode, syncs it, and renames it over `path`: a reader sees the old file or the new
/// one, never a part, and a link at `path` is replaced, not followed.
pub fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.tmp.{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Reads a file, refusing a symbolic link in its last component.
pub fn read_nofollow(path: &Path) -> io::Result<Vec<u8>> {
    let mut f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    let mut bytes = Vec::new();
    io::Read::read_to_end(&mut f, &mut bytes)?;
    Ok(bytes)
}

/// Opens a directory (not a symbolic link to one) for use as `/proc/self/fd/N`.
pub fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(path)?;
    Ok(OwnedFd::from(f))
}

/// `/proc/self/fd/N` of a descriptor.
pub fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileTypeExt;

    const POLICY: &str = "fallback = \"deny\"\n[files]\ndeny = [\"/etc/shadow\"]\n";

    fn policy(text: &str) -> Policy {
        Policy::parse(text, Path::new("p.toml")).unwrap()
    }

    #[test]
    fn create_then_change_the_policy() {
        let tmp = tempfile::tempdir().unwrap();
        let lib = tmp.path().join("lib.so");
        fs::write(&lib, b"\x7fELF not really").unwrap();
        let path = tmp.path().join("shim");
        let (dir, generation) = ShimDir::create(&path, &lib, &policy(POLICY), POLICY).unwrap();
        assert_eq!(generation, 1);
        assert_eq!(dir.control_generation().unwrap(), 1);
        assert_eq!(dir.fallback().unwrap(), Fallback::Deny);
        assert!(fs::metadata(dir.events()).unwrap().file_type().is_fifo());
        let mode = |n: &str| fs::metadata(dir.file(n)).unwrap().permissions().mode() & 0o7777;
        assert_eq!(
            (
                mode("control"),
                mode("counters"),
                mode("events"),
                mode(LIBRARY)
            ),
            (0o644, 0o666, 0o622, 0o755)
        );
        assert_eq!(fs::read(dir.library()).unwrap(), b"\x7fELF not really");
        let image = dir.image().unwrap();
        assert_eq!(PolicyImage::new_checked(&image).unwrap().generation(), 1);
        assert_eq!(dir.source().unwrap(), POLICY);
        assert_eq!(dir.counter(Counter::EventsWritten).unwrap(), 0);

        let next = "mode = \"audit\"\n";
        assert_eq!(dir.set_policy(&policy(next), next).unwrap(), 2);
        assert_eq!(dir.control_generation().unwrap(), 2);
        assert_eq!(dir.fallback().unwrap(), Fallback::Allow);
        let image = dir.image().unwrap();
        let image = PolicyImage::new_checked(&image).unwrap();
        assert_eq!(
            (image.generation(), image.mode()),
            (2, shim_abi::Mode::Audit)
        );
        // No temporary file is left behind.
        let names: Vec<String> = fs::read_dir(&path)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.contains(".tmp.")), "{names:?}");

        // Creating again keeps the generation going.
        let (_, g) = ShimDir::create(&path, &lib, &policy(POLICY), POLICY).unwrap();
        assert_eq!(g, 3);
    }

    #[test]
    fn a_directory_without_a_control_page_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(matches!(
            ShimDir::open(tmp.path()),
            Err(ShimDirError::Io { .. })
        ));
        fs::write(tmp.path().join("control"), vec![0u8; 4096]).unwrap();
        assert!(matches!(
            ShimDir::open(tmp.path()),
            Err(ShimDirError::NotShimDir(_))
        ));
    }
}
