//! Test helpers: hand-built pcap and pcapng bytes (including what the writers never produce),
//! and an owned copy of every packet a reader delivers.

use std::io::Read;

use crate::{CaptureError, CaptureReader, LinkType, Packet, Timestamp};

/// Returns at most `chunk` bytes per read (so that records are cut by the end of the reader's
/// buffer), and fails with `Interrupted` every `interrupt_every` calls when that is not 0.
pub(crate) struct Dribble<'a> {
    pub data: &'a [u8],
    pub chunk: usize,
    pub interrupt_every: usize,
    pub calls: usize,
}

impl<'a> Dribble<'a> {
    /// `data` in reads of at most `chunk` bytes, never interrupted.
    pub fn new(data: &'a [u8], chunk: usize) -> Self {
        Dribble {
            data,
            chunk,
            interrupt_every: 0,
            calls: 0,
        }
    }
}

impl Read for Dribble<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        self.calls += 1;
        if self.interrupt_every > 0 && self.calls.is_multiple_of(self.interrupt_every) {
            return Err(std::io::ErrorKind::Interrupted.into());
        }
        let n = self.chunk.min(out.len()).min(self.data.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// An owned copy of a [`Packet`], to compare whole reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Owned {
    pub number: u64,
    pub offset: u64,
    pub timestamp: Timestamp,
    pub caplen: u32,
    pub orig_len: u32,
    pub interface: u32,
    pub link: LinkType,
    pub data: Vec<u8>,
}

impl From<Packet<'_>> for Owned {
    fn from(p: Packet<'_>) -> Self {
        assert_eq!(p.caplen as usize, p.data.len());
        Owned {
            number: p.number,
            offset: p.offset,
            timestamp: p.timestamp,
            caplen: p.caplen,
            orig_len: p.orig_len,
            interface: p.interface,
            link: p.link,
            data: p.data.to_vec(),
        }
    }
}

/// Every packet until the end or the first error; checks that reading stays finished after.
pub(crate) fn read_all<R: Read>(r: &mut CaptureReader<R>) -> (Vec<Owned>, Option<CaptureError>) {
    let mut out = Vec::new();
    let err = loop {
        match r.next_packet() {
            Ok(Some(p)) => out.push(Owned::from(p)),
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    assert!(
        r.next_packet().unwrap().is_none(),
        "reading must stay finished"
    );
    (out, err)
}

/// Opens `bytes` and reads every packet; an error from `new` comes back with no packets.
pub(crate) fn read_bytes(bytes: &[u8]) -> (Vec<Owned>, Option<CaptureError>) {
    match CaptureReader::new(bytes) {
        Ok(mut r) => read_all(&mut r),
        Err(e) => (Vec::new(), Some(e)),
    }
}

fn put16(out: &mut Vec<u8>, v: u16, be: bool) {
    out.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
}

fn put32(out: &mut Vec<u8>, v: u32, be: bool) {
    out.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
}

/// A classic pcap file under construction.
pub(crate) struct Pcap {
    pub be: bool,
    pub out: Vec<u8>,
}

impl Pcap {
    pub fn new(be: bool, nanos: bool, snaplen: u32, linktype: u32) -> Self {
        let mut out = Vec::new();
        put32(&mut out, if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }, be);
        put16(&mut out, 2, be);
        put16(&mut out, 4, be);
        put32(&mut out, 0, be);
        put32(&mut out, 0, be);
        put32(&mut out, snaplen, be);
        put32(&mut out, linktype, be);
        Pcap { be, out }
    }

    /// Appends a record whose header says `caplen` (which may differ from `data.len()`);
    /// returns its offset.
    pub fn record(&mut self, secs: u32, frac: u32, caplen: u32, orig_len: u32, data: &[u8]) -> u64 {
        let at = self.out.len() as u64;
        for v in [secs, frac, caplen, orig_len] {
            put32(&mut self.out, v, self.be);
        }
        self.out.extend_from_slice(data);
        at
    }

    /// Appends a consistent record.
    pub fn packet(&mut self, secs: u32, frac: u32, orig_len: u32, data: &[u8]) -> u64 {
        self.record(secs, frac, data.len() as u32, orig_len, data)
    }
}

/// A pcapng file under construction.
pub(crate) struct Ng {
    pub be: bool,
    pub out: Vec<u8>,
}

impl Ng {
    pub fn new(be: bool) -> Self {
        Ng {
            be,
            out: Vec::new(),
        }
    }

    /// Appends a block with `body` padded to 4 bytes; returns its offset.
    pub fn block(&mut self, btype: u32, body: &[u8]) -> u64 {
        let at = self.out.len() as u64;
        let padded = body.len().next_multiple_of(4);
        let blen = (12 + padded) as u32;
        put32(&mut self.out, btype, self.be);
        put32(&mut self.out, blen, self.be);
        self.out.extend_from_slice(body);
        self.out.resize(self.out.len() + padded - body.len(), 0);
        put32(&mut self.out, blen, self.be);
        at
    }

    /// Options with an end-of-options marker (none at all if `opts` is empty).
    pub fn options(&self, opts: &[(u16, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (code, value) in opts {
            put16(&mut out, *code, self.be);
            put16(&mut out, value.len() as u16, self.be);
            out.extend_from_slice(value);
            out.resize(out.len().next_multiple_of(4), 0);
        }
        if !opts.is_empty() {
            out.extend_from_slice(&[0; 4]);
        }
        out
    }

    /// Switches byte order and appends a Section Header Block in it.
    pub fn shb(&mut self, be: bool) -> u64 {
        self.be = be;
        let mut body = Vec::new();
        put32(&mut body, 0x1a2b_3c4d, be);
        put16(&mut body, 1, be);
        put16(&mut body, 0, be);
        body.extend_from_slice(&[0xff; 8]);
        let opts = self.options(&[(4, b"hand-built")]);
        body.extend_from_slice(&opts);
        self.block(0x0a0d_0d0a, &body)
    }

    pub fn idb(&mut self, linktype: u16, snaplen: u32, opts: &[(u16, &[u8])]) -> u64 {
        let mut body = Vec::new();
        put16(&mut body, linktype, self.be);
        put16(&mut body, 0, self.be);
        put32(&mut body, snaplen, self.be);
        let opts = self.options(opts);
        body.extend_from_slice(&opts);
        self.block(1, &body)
    }

    /// An Enhanced Packet Block (`btype` 6) or obsolete Packet Block (`btype` 2).
    pub fn packet_block(
        &mut self,
        btype: u32,
        iface: u32,
        ticks: u64,
        orig_len: u32,
        data: &[u8],
        opts: &[(u16, &[u8])],
    ) -> u64 {
        let mut body = Vec::new();
        if btype == 2 {
            put16(&mut body, iface as u16, self.be);
            put16(&mut body, 0, self.be);
        } else {
            put32(&mut body, iface, self.be);
        }
        put32(&mut body, (ticks >> 32) as u32, self.be);
        put32(&mut body, ticks as u32, self.be);
        put32(&mut body, data.len() as u32, self.be);
        put32(&mut body, orig_len, self.be);
        body.extend_from_slice(data);
        body.resize(body.len().next_multiple_of(4), 0);
        let opts = self.options(opts);
        body.extend_from_slice(&opts);
        self.block(btype, &body)
    }

    pub fn epb(&mut self, iface: u32, ticks: u64, orig_len: u32, data: &[u8]) -> u64 {
        self.packet_block(6, iface, ticks, orig_len, data, &[])
    }

    pub fn spb(&mut self, orig_len: u32, data: &[u8]) -> u64 {
        let mut body = Vec::new();
        put32(&mut body, orig_len, self.be);
        body.extend_from_slice(data);
        self.block(3, &body)
    }

    /// Overwrites a `u32` at `at` in the current byte order.
    pub fn set32(&mut self, at: usize, v: u32) {
        let b = if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.out[at..at + 4].copy_from_slice(&b);
    }
}
