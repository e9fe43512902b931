//! The probe's end of a shim's event FIFO.
//!
//! The FIFO is opened read-write and non-blocking: holding a write end of its own keeps a
//! reader from seeing end-of-file whenever the last hooked process exits, and lets the shims'
//! non-blocking opens succeed while the probe runs (and fail with `ENXIO`, counted as dropped,
//! once it is gone). Reads take whatever is in the pipe; records are split with
//! `shim_abi::record::next_record`, which survives forged and garbage bytes (the FIFO is
//! writable by every process in the container). A record cut by the end of a read waits in the
//! buffer for the rest.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use shim_abi::record::{EventRecord, MAX_RECORD, Next, next_record};

/// An open event FIFO.
#[derive(Debug)]
pub struct EventPipe {
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
    garbage: u64,
    records: u64,
}

impl EventPipe {
    /// Opens the FIFO at `path`.
    pub fn open(path: &Path) -> io::Result<EventPipe> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
            .open(path)?;
        if !std::os::unix::fs::FileTypeExt::is_fifo(&file.metadata()?.file_type()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: not a FIFO", path.display()),
            ));
        }
        Ok(EventPipe {
            path: path.to_path_buf(),
            file,
            buf: Vec::with_capacity(4 * MAX_RECORD),
            garbage: 0,
            records: 0,
        })
    }

    /// The FIFO's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The descriptor, for `poll`.
    pub fn raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// Reads everything the pipe holds now and calls `each` with every whole record; returns
    /// how many there were.
    pub fn drain(&mut self, mut each: impl FnMut(&EventRecord<'_>)) -> io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        let mut n_records = 0;
        loop {
            match self.file.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            n_records += self.split(&mut each);
        }
        Ok(n_records)
    }

    fn split(&mut self, each: &mut impl FnMut(&EventRecord<'_>)) -> usize {
        let mut at = 0;
        let mut n = 0;
        while at < self.buf.len() {
            match next_record(&self.buf[at..]) {
                Next::Record(r) => {
                    each(&r);
                    at += r.len();
                    n += 1;
                }
                Next::Garbage(k) => {
                    at += k;
                    self.garbage += k as u64;
                }
                Next::NeedMore => break,
            }
        }
        self.buf.drain(..at);
        // A stalled "record" longer than any real one is garbage.
        if self.buf.len() > 2 * MAX_RECORD {
            self.garbage += self.buf.len() as u64;
            self.buf.clear();
        }
        self.records += n as u64;
        n
    }

    /// Bytes skipped because they were not records.
    pub fn garbage_bytes(&self) -> u64 {
        self.garbage
    }

    /// Records read so far.
    pub fn records(&self) -> u64 {
        self.records
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shim_abi::record::{EventMode, RecordHead, RecordStrings, encode};
    use shim_abi::{Kind, Verdict};
    use std::io::Write;

    #[test]
    fn records_garbage_and_a_split_record() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("events");
        crate::sys::mkfifo(&path, 0o622).unwrap();
        let mut pipe = EventPipe::open(&path).unwrap();
        let mut writer = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)
            .unwrap();
        let head = RecordHead {
            kind: Kind::File,
            verdict: Verdict::Deny,
            blocked: true,
            mode: EventMode::Enforce,
            access: 1,
            pid: 1,
            uid: 0,
            rule: 0,
            generation: 1,
            time_ns: 0,
            errno: 13,
            family: 0,
            port: 0,
            addr: [0; 16],
        };
        let mut buf = [0u8; MAX_RECORD];
        let n = encode(
            &mut buf,
            &head,
            &RecordStrings {
                path: b"/etc/shadow",
                ..Default::default()
            },
        );
        writer.write_all(b"forged!").unwrap();
        writer.write_all(&buf[..n]).unwrap();
        writer.write_all(&buf[..10]).unwrap();
        let mut paths = Vec::new();
        let got = pipe
            .drain(|r| paths.push(r.strings().path.to_vec()))
            .unwrap();
        assert_eq!((got, pipe.garbage_bytes()), (1, 7));
        writer.write_all(&buf[10..n]).unwrap();
        assert_eq!(
            pipe.drain(|r| paths.push(r.strings().path.to_vec()))
                .unwrap(),
            1
        );
        assert_eq!(paths, vec![b"/etc/shadow".to_vec(); 2]);
        assert_eq!(pipe.records(), 2);
        // Nothing more: poll says so, drain returns at once.
        assert_eq!(
            crate::sys::poll_readable(&[pipe.raw_fd()], 0).unwrap(),
            vec![false]
        );
        assert_eq!(pipe.drain(|_| {}).unwrap(), 0);
    }

    #[test]
    fn a_regular_file_is_refused() {
        let tmp = tempfile::NamedTempFile::new().unwrap();
        assert!(EventPipe::open(tmp.path()).is_err());
    }
}
