//! Scanning files on disk: small files are read into a reused buffer, large ones mapped
//! (one read pass, no copy), then scanned whole with [`crate::scan_bytes`].
//!
//! The only `unsafe` of the crate is the mapping, kept here behind [`scan_path`].

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::{Digests, ScanLimits, ScanReport, SignatureSet, scan_bytes};

/// Files at least this big are mapped rather than read.
pub const MAP_THRESHOLD: u64 = 1 << 20;

/// Scans the regular file at `path`. `buf` is reused between calls to read small files.
pub fn scan_path(
    set: &SignatureSet,
    path: &Path,
    limits: ScanLimits,
    digests: Digests,
    buf: &mut Vec<u8>,
) -> io::Result<ScanReport> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let len = meta.len();
    if len >= MAP_THRESHOLD {
        // SAFETY: the map is read-only and private to this call, and the slice does not
        // outlive it. Another process may still change or truncate the file while it is
        // mapped: changed bytes only change what is scanned (the scanner assumes nothing
        // about them), and a truncation makes reads past the new end fault (SIGBUS), the
        // risk every mapping scanner (ClamAV, ripgrep) accepts for a single copy-free pass.
        let map = unsafe { memmap2::MmapOptions::new().map(&file)? };
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Sequential);
        let report = scan_bytes(set, &map, limits, digests);
        // A file that grew after `metadata` is scanned as it was mapped.
        return Ok(report);
    }
    buf.clear();
    let cap = limits.max_file_size;
    (&file).take(cap.saturating_add(1)).read_to_end(buf)?;
    let mut report = scan_bytes(set, buf, limits, digests);
    if buf.len() as u64 > cap {
        // The file is bigger than the cap: size it from its metadata.
        report.size = report.size.max(len);
    }
    Ok(report)
}
