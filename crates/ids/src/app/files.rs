//! Files carried by application protocols, streamed to a consumer as they arrive.
//!
//! The content scanner (issue 16) judges files while they stream: it is told when a file
//! starts (with the name and content type the protocol gives it), receives the decoded bytes
//! in order, and learns how the file ended: complete, or truncated by a gap, the end of the
//! connection or a decoding limit. Parsers call a [`FileSink`]; [`NoFiles`] discards.
//! A sink must not block: it runs on the packet path.

use crate::stream::Direction;

/// A file that starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStart<'a> {
    /// The transaction it belongs to.
    pub tx_id: u64,
    /// Which way it travels: an upload to the server, a download to the client.
    pub direction: Direction,
    /// Its name: for HTTP, the filename of Content-Disposition, else the normalised URI path
    /// (what Suricata's `fileinfo.filename` shows).
    pub name: &'a [u8],
    /// The Content-Type the protocol gave it.
    pub content_type: Option<&'a [u8]>,
}

/// How a file ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileEnd {
    /// Every byte was seen.
    Complete,
    /// Bytes are missing: a stream gap, the connection ended early, or decoding stopped
    /// (decompression bomb limit).
    Truncated,
}

/// Receives the files of a connection as they stream. Every method has an empty default.
pub trait FileSink {
    /// A file of transaction `file.tx_id` starts; data follows.
    fn file_start(&mut self, file: &FileStart<'_>) {
        let _ = file;
    }

    /// The next decoded bytes of the file open in `direction` of transaction `tx_id`.
    fn file_data(&mut self, tx_id: u64, direction: Direction, data: &[u8]) {
        let _ = (tx_id, direction, data);
    }

    /// The file ends after `size` bytes.
    fn file_end(&mut self, tx_id: u64, direction: Direction, size: u64, end: FileEnd) {
        let _ = (tx_id, direction, size, end);
    }
}

/// A sink that ignores files.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoFiles;

impl FileSink for NoFiles {}
