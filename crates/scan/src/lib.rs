//! Content scanning and threat intelligence for Rampart: ClamAV signatures (hash `.hdb`/`.hsb`,
//! body `.ndb`, logical `.ldb`) and YARA rules (through `boreal`) over files from disk or from
//! traffic, and IOC sets (addresses and networks, domains, URLs, file hashes) from CSV, STIX
//! 2.1 and MISP feeds.
//!
//! A [`SignatureSet`] is loaded once (with a [`LoadReport`] of what loaded and what failed,
//! `file:line: reason`), is immutable, and is shared by every thread behind an `Arc`; reloading
//! builds a new set and swaps the `Arc`. Files are scanned as they stream with [`FileScan`]
//! (created per file, fed chunks, finished) or whole with [`scan_bytes`]. All patterns of all
//! signatures share one prefilter pass per file ([`prefilter`]); hash digests are computed only
//! when a hash signature of the file's size exists.
//!
//! An [`IntelSet`] answers "is this address, domain, URL or hash an indicator, and of which
//! feed" in a few hash lookups, cheap enough for every connection setup and every DNS, TLS and
//! HTTP transaction.
//!
//! Nothing here trusts its input: signature files, feeds and scanned files are parsed with
//! every length checked; a malformed entry is reported and skipped, never a panic.
//!
//! ```
//! use scan::{Digests, ScanLimits, SignatureSet, scan_bytes, EICAR};
//! let set = SignatureSet::builtin();
//! let report = scan_bytes(&set, EICAR, ScanLimits::default(), Digests::Needed);
//! assert_eq!(report.detections[0].name, "Win.Test.EICAR_HDB-1");
//! ```

mod clamav;
mod disk;
mod filetype;
pub mod intel;
mod pattern;
pub mod prefilter;
mod scanner;
mod set;
mod yara;

pub use clamav::HashKind;
pub use disk::{MAP_THRESHOLD, scan_path};
pub use filetype::FileKind;
pub use intel::{Indicator, IndicatorKind, IntelHit, IntelLoadReport, IntelSet, IntelSetBuilder};
pub use scanner::{
    Detection, Digests, Engine, FileScan, ScanCounters, ScanLimits, ScanReport, scan_bytes,
};
pub use set::{
    DbKind, EICAR, EICAR_NAME, LoadFailure, LoadReport, SigId, SignatureSet, SignatureSetBuilder,
};

/// The most bytes an `EOF-n` offset may reach back (the stream keeps that much of a file's end).
pub const MAX_EOF_BACK: u64 = 1 << 20;
