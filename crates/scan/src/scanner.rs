//! The file scanner: [`FileScan`] for a file that arrives in chunks (an HTTP body, an SMTP
//! attachment), [`scan_bytes`] for a file already in memory (a mapped file on disk). Both run
//! the same matcher.
//!
//! Per chunk: the digests the hash signatures need (kinds chosen by the file's size when it is
//! known, see [`crate::set`]), one prefilter pass over the new bytes for every atom of every
//! body, logical and YARA pattern, and verification of each atom hit in a window of the
//! stream. A body signature that matches is reported by the [`FileScan::feed`] call whose bytes
//! complete it, so an inline caller can reset the connection before the rest of the file is
//! delivered. Hash signatures, `EOF-n` offsets, non-monotonic logical expressions and YARA
//! rules are decided at [`FileScan::finish`].
//!
//! Memory: the stream keeps only the set's window (twice its longest pattern part, at least
//! 4 KiB) — except when the set has YARA rules, which boreal evaluates over the whole file:
//! then the file is kept up to [`ScanLimits::max_file_size`]. Bytes past that cap are not
//! scanned (counted in the report, `capped`); a hash signature cannot match a capped file.
//!
//! The scanner never trusts the file: every offset is bounds-checked, verification is bounded
//! per candidate, and it does not allocate per byte (hits go into reused vectors). The ready
//! candidates of a one-part pattern are verified together, in one walk from the union of
//! their starts, so a file that repeats an atom at every byte costs one walk per chunk, not
//! one per repetition. Parts of multi-part patterns (`*`) and logical subsignatures (whose
//! matches are counted) are still verified one candidate at a time: there a wide bounded gap
//! (`{0-60000}`) under a dense atom costs up to the gap's width per repetition.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use md5::Digest as _;

use crate::clamav::{Anchor, HashKind, Target};
use crate::filetype::{self, FileKind, HEAD_LEN};
use crate::pattern::Positions;
use crate::prefilter::{ATOM_LEN, Hit};
use crate::set::{Owner, SigId, SignatureSet};

/// Per-file limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanLimits {
    /// Bytes of a file that are scanned (and, with YARA rules, kept); the rest is counted.
    pub max_file_size: u64,
}

impl Default for ScanLimits {
    /// 100 MiB, ClamAV's default `MaxFileSize`.
    fn default() -> Self {
        ScanLimits {
            max_file_size: 100 << 20,
        }
    }
}

/// Which digests a scan computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Digests {
    /// Only those some hash signature of the file's size needs (fastest).
    #[default]
    Needed,
    /// MD5, SHA-1 and SHA-256 always (for `fileinfo` records and hash IOCs).
    All,
}

/// The engine that made a detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    Hash,
    Body,
    Logical,
    Yara,
}

/// One signature that matched a file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Detection {
    /// The name as ClamAV reports it (`Name.UNOFFICIAL`, `YARA.rule.UNOFFICIAL`).
    pub name: String,
    pub engine: Engine,
    /// For body and logical signatures: the byte offset in the file where the match ended
    /// (the detection could be made once the file had reached it).
    pub end: Option<u64>,
}

/// What scanning one file found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanReport {
    pub detections: Vec<Detection>,
    /// Bytes the file had.
    pub size: u64,
    /// Bytes scanned (less than `size` when capped).
    pub scanned: u64,
    /// The file was larger than [`ScanLimits::max_file_size`].
    pub capped: bool,
    pub md5: Option<[u8; 16]>,
    pub sha1: Option<[u8; 20]>,
    pub sha256: Option<[u8; 32]>,
    /// boreal stopped with an error (its matches so far are kept).
    pub yara_error: Option<String>,
}

impl ScanReport {
    /// True when some signature matched.
    pub fn infected(&self) -> bool {
        !self.detections.is_empty()
    }
}

/// Counters over many files, per worker (add them up to read).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanCounters {
    pub files: u64,
    pub infected: u64,
    pub bytes: u64,
    pub bytes_scanned: u64,
    /// Files larger than the cap, and the bytes of them not scanned.
    pub capped_files: u64,
    pub capped_bytes: u64,
    pub yara_errors: u64,
}

impl ScanCounters {
    pub fn add(&mut self, r: &ScanReport) {
        self.files += 1;
        self.infected += u64::from(r.infected());
        self.bytes += r.size;
        self.bytes_scanned += r.scanned;
        if r.capped {
            self.capped_files += 1;
            self.capped_bytes += r.size - r.scanned;
        }
        self.yara_errors += u64::from(r.yara_error.is_some());
    }

    pub fn merge(&mut self, o: &ScanCounters) {
        self.files += o.files;
        self.infected += o.infected;
        self.bytes += o.bytes;
        self.bytes_scanned += o.bytes_scanned;
        self.capped_files += o.capped_files;
        self.capped_bytes += o.capped_bytes;
        self.yara_errors += o.yara_errors;
    }
}

/// The digests being computed.
#[derive(Default)]
struct Hashers {
    md5: Option<md5::Md5>,
    sha1: Option<sha1::Sha1>,
    sha256: Option<sha2::Sha256>,
}

impl Hashers {
    fn new(kinds: u8) -> Self {
        Hashers {
            md5: (kinds & HashKind::Md5.bit() != 0).then(md5::Md5::new),
            sha1: (kinds & HashKind::Sha1.bit() != 0).then(sha1::Sha1::new),
            sha256: (kinds & HashKind::Sha256.bit() != 0).then(sha2::Sha256::new),
        }
    }

    fn update(&mut self, b: &[u8]) {
        if let Some(h) = &mut self.md5 {
            h.update(b);
        }
        if let Some(h) = &mut self.sha1 {
            h.update(b);
        }
        if let Some(h) = &mut self.sha256 {
            h.update(b);
        }
    }

    fn finish(self, r: &mut ScanReport) {
        r.md5 = self.md5.map(|h| h.finalize().into());
        r.sha1 = self.sha1.map(|h| h.finalize().into());
        r.sha256 = self.sha256.map(|h| h.finalize().into());
    }
}

/// Matching state of one file.
struct Matcher {
    hits: Vec<Hit>,
    /// Atom hits not yet decided: (absolute atom offset, prefilter target).
    pending: Vec<(u64, u32)>,
    /// Absolute offset where the next prefilter pass starts.
    scanned_to: u64,
    /// Multi-part patterns: entry → earliest end of a chain through each part (`u64::MAX`:
    /// none yet).
    chains: HashMap<u32, Vec<u64>>,
    /// Logical signatures: match counts per subsignature.
    counts: HashMap<u32, Vec<u32>>,
    /// Entries and logical signatures already decided.
    done_entries: HashSet<u32>,
    done_logicals: HashSet<u32>,
    found: HashSet<SigId>,
    yara_hit: bool,
    detections: Vec<Detection>,
    positions: Positions,
    starts: Vec<usize>,
    blocked: Vec<u32>,
    /// Ready candidates of one-part patterns that only need one match (not logical
    /// subsignatures, which count): (entry, first start, last start), verified together.
    batch: Vec<(u32, u64, u64)>,
    /// File kind and entry point, once known.
    head: Option<(FileKind, Option<u64>)>,
}

/// What to do with a candidate.
enum Verdict {
    Drop,
    Wait,
}

impl Matcher {
    fn new(set: &SignatureSet) -> Self {
        Matcher {
            hits: Vec::new(),
            pending: Vec::new(),
            scanned_to: 0,
            chains: HashMap::new(),
            counts: HashMap::new(),
            done_entries: HashSet::new(),
            done_logicals: HashSet::new(),
            found: HashSet::new(),
            yara_hit: false,
            detections: Vec::new(),
            positions: Positions::default(),
            starts: Vec::new(),
            blocked: Vec::new(),
            batch: Vec::new(),
            head: (!set.needs_head).then_some((FileKind::Other, None)),
        }
    }

    /// Nothing the prefilter finds can change the outcome any more.
    fn prefilter_useless(&self, set: &SignatureSet) -> bool {
        let yara_settled = set.yara.as_ref().is_none_or(|y| y.always) || self.yara_hit;
        set.prefilter.is_empty() || (set.only_yara && yara_settled)
    }

    /// Runs the prefilter over the bytes of `buf` (whose first byte is at `base`) not yet
    /// scanned, and decides every candidate that can be decided. `size` is the file's size
    /// when known; `eof` says no byte follows `buf`.
    fn advance(&mut self, set: &SignatureSet, buf: &[u8], base: u64, size: Option<u64>, eof: bool) {
        let end = base + buf.len() as u64;
        if !self.prefilter_useless(set) {
            let from = (self.scanned_to.max(base) - base) as usize;
            let to = if eof {
                buf.len()
            } else {
                buf.len().saturating_sub(ATOM_LEN - 1)
            };
            if from < to {
                self.hits.clear();
                set.prefilter.scan(buf, from, to, &mut self.hits);
                for &(pos, target) in &self.hits {
                    self.pending.push((base + pos as u64, target));
                }
                self.scanned_to = base + to as u64;
            }
        }
        if self.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        self.blocked.clear();
        let mut keep = Vec::new();
        for (atom, target) in pending {
            let (e, _) = set.atom_targets[target as usize];
            if self.blocked.contains(&e) {
                keep.push((atom, target));
                continue;
            }
            match self.decide(set, buf, base, end, size, eof, atom, target) {
                Verdict::Drop => {}
                Verdict::Wait => {
                    if set.entries[e as usize].spec.pattern.segments.len() > 1 {
                        self.blocked.push(e);
                    }
                    keep.push((atom, target));
                }
            }
        }
        self.verify_batch(set, buf, base);
        // Candidates found while deciding are none (the prefilter ran first); keep order.
        keep.append(&mut self.pending);
        self.pending = keep;
    }

    /// Verifies one candidate, or says why it must wait or be dropped.
    #[allow(clippy::too_many_arguments)]
    fn decide(
        &mut self,
        set: &SignatureSet,
        buf: &[u8],
        base: u64,
        end: u64,
        size: Option<u64>,
        eof: bool,
        atom: u64,
        target: u32,
    ) -> Verdict {
        let (e, s) = set.atom_targets[target as usize];
        let entry = &set.entries[e as usize];
        if self.done_entries.contains(&e) || (entry.owner == Owner::Yara && self.yara_hit) {
            return Verdict::Drop;
        }
        if let Owner::Sub { logical, .. } = entry.owner
            && self.done_logicals.contains(&logical)
        {
            return Verdict::Drop;
        }
        let spec = &entry.spec;
        let seg = &spec.pattern.segments[s as usize];
        let needs_head = spec.target != Target::Any || matches!(spec.anchor, Anchor::Ep { .. });
        let mut ep = None;
        if needs_head {
            let Some((kind, entry_point)) = self.head else {
                return if eof { Verdict::Drop } else { Verdict::Wait };
            };
            let ok = match spec.target {
                Target::Any => true,
                Target::Pe => kind == FileKind::Pe,
                Target::Elf => kind == FileKind::Elf,
                Target::MachO => kind == FileKind::MachO,
            };
            if !ok {
                return Verdict::Drop;
            }
            ep = entry_point;
        }
        let Some(mut hi) = atom.checked_sub(seg.prefix_min as u64) else {
            return Verdict::Drop;
        };
        let mut lo = atom.saturating_sub(seg.prefix_max as u64);
        if s == 0 {
            let (a, shift) = match spec.anchor {
                Anchor::Any => (None, 0),
                Anchor::Abs { start, shift } => (Some(start), shift),
                Anchor::Ep { delta, shift } => {
                    let Some(ep) = ep else {
                        return Verdict::Drop;
                    };
                    match ep.checked_add_signed(delta) {
                        Some(a) => (Some(a), shift),
                        None => return Verdict::Drop,
                    }
                }
                Anchor::Eof { back, shift } => match size {
                    Some(size) => match size.checked_sub(back) {
                        Some(a) => (Some(a), shift),
                        None => return Verdict::Drop,
                    },
                    None => {
                        // The file is at least `end` long, so a start before `end - back`
                        // can never be `size - back` or later.
                        if hi.saturating_add(back) < end {
                            return Verdict::Drop;
                        }
                        return Verdict::Wait;
                    }
                },
            };
            if let Some(a) = a {
                lo = lo.max(a);
                hi = hi.min(a.saturating_add(shift));
            }
        } else {
            let prev = self.chains.get(&e).map_or(u64::MAX, |c| c[s as usize - 1]);
            if prev == u64::MAX {
                return Verdict::Drop;
            }
            lo = lo.max(prev.saturating_add(seg.gap_before));
        }
        if lo > hi {
            return Verdict::Drop;
        }
        if !eof && hi + seg.max_len as u64 > end {
            return Verdict::Wait;
        }
        // The window holds every byte a waiting candidate needs (see `SignatureSet::window`);
        // a start before it can only come from a pattern part wider than the window allows.
        let (lo, hi) = (lo.max(base), hi.min(end));
        if lo > hi {
            return Verdict::Drop;
        }
        if spec.pattern.segments.len() == 1 && !matches!(entry.owner, Owner::Sub { .. }) {
            self.batch.push((e, lo, hi));
            return Verdict::Drop;
        }
        self.starts.clear();
        self.starts
            .extend(((lo - base) as usize)..=((hi - base) as usize));
        let Some(match_end) = seg.match_from(buf, &self.starts, spec.fold, &mut self.positions)
        else {
            return Verdict::Drop;
        };
        self.matched(set, e, s, base + match_end as u64);
        Verdict::Drop
    }

    /// Verifies the batched candidates: per entry, one walk from the union of their starts
    /// (so a dense atom costs one walk per pass, not one per repetition).
    fn verify_batch(&mut self, set: &SignatureSet, buf: &[u8], base: u64) {
        if self.batch.is_empty() {
            return;
        }
        let mut batch = std::mem::take(&mut self.batch);
        batch.sort_unstable();
        let mut i = 0;
        while i < batch.len() {
            let e = batch[i].0;
            let entry = &set.entries[e as usize];
            self.starts.clear();
            let mut covered = 0u64;
            while i < batch.len() && batch[i].0 == e {
                let (_, lo, hi) = batch[i];
                let lo = lo.max(covered);
                if lo <= hi {
                    self.starts
                        .extend(((lo - base) as usize)..=((hi - base) as usize));
                    covered = hi + 1;
                }
                i += 1;
            }
            if self.done_entries.contains(&e) || (entry.owner == Owner::Yara && self.yara_hit) {
                continue;
            }
            let seg = &entry.spec.pattern.segments[0];
            if let Some(end) =
                seg.match_from(buf, &self.starts, entry.spec.fold, &mut self.positions)
            {
                self.matched(set, e, 0, base + end as u64);
            }
        }
        batch.clear();
        self.batch = batch;
    }

    /// Part `s` of entry `e` matched, ending at `match_end`.
    fn matched(&mut self, set: &SignatureSet, e: u32, s: u16, match_end: u64) {
        let entry = &set.entries[e as usize];
        let spec = &entry.spec;
        let nsegs = spec.pattern.segments.len();
        if (s as usize) + 1 < nsegs {
            let chain = self
                .chains
                .entry(e)
                .or_insert_with(|| vec![u64::MAX; nsegs]);
            let slot = &mut chain[s as usize];
            *slot = (*slot).min(match_end);
            return;
        }
        match entry.owner {
            Owner::Sig(id) => {
                self.done_entries.insert(e);
                self.report(set, id, crate::Engine::Body, Some(match_end));
            }
            Owner::Sub { logical, sub } => {
                let l = &set.logicals[logical as usize];
                let counts = self
                    .counts
                    .entry(logical)
                    .or_insert_with(|| vec![0; l.nsubs]);
                counts[sub as usize] = counts[sub as usize].saturating_add(1);
                if l.monotonic && l.file_size.is_none() && l.expr.eval(counts) {
                    self.done_logicals.insert(logical);
                    self.report(set, l.sig, crate::Engine::Logical, Some(match_end));
                }
            }
            Owner::Yara => self.yara_hit = true,
        }
    }

    fn report(&mut self, set: &SignatureSet, id: SigId, engine: crate::Engine, end: Option<u64>) {
        if self.found.insert(id) {
            self.detections.push(Detection {
                name: set.name(id).to_owned(),
                engine,
                end,
            });
        }
    }

    /// At the end of the file: logical signatures left to judge, hash signatures, YARA.
    fn conclude(&mut self, set: &SignatureSet, whole: Option<&[u8]>, report: &mut ScanReport) {
        for (i, l) in set.logicals.iter().enumerate() {
            let i = i as u32;
            if self.done_logicals.contains(&i) {
                continue;
            }
            if let Some((lo, hi)) = l.file_size
                && (report.size < lo || report.size > hi)
            {
                continue;
            }
            let zeros;
            let counts = match self.counts.get(&i) {
                Some(c) => c.as_slice(),
                None => {
                    zeros = vec![0; l.nsubs];
                    &zeros
                }
            };
            if l.expr.eval(counts) {
                self.done_logicals.insert(i);
                self.report(set, l.sig, crate::Engine::Logical, None);
            }
        }
        if !report.capped {
            let size = report.size;
            let digests: [(HashKind, Option<&[u8]>); 3] = [
                (HashKind::Md5, report.md5.as_ref().map(|d| &d[..])),
                (HashKind::Sha1, report.sha1.as_ref().map(|d| &d[..])),
                (HashKind::Sha256, report.sha256.as_ref().map(|d| &d[..])),
            ];
            for (kind, digest) in digests {
                let Some(digest) = digest else { continue };
                for key_size in [Some(size), None] {
                    let key = (kind, key_size, digest.to_vec());
                    if let Some(ids) = set.hashes.sigs.get(&key) {
                        for &id in ids {
                            self.report(set, id, crate::Engine::Hash, None);
                        }
                    }
                }
            }
        }
        if let (Some(y), Some(data)) = (&set.yara, whole)
            && (y.always || self.yara_hit)
        {
            let result = match y.scanner.scan_mem(data) {
                Ok(r) => r,
                Err((e, partial)) => {
                    report.yara_error = Some(format!("{e:?}"));
                    partial
                }
            };
            for rule in result.rules {
                self.detections.push(Detection {
                    name: format!("YARA.{}.UNOFFICIAL", rule.name),
                    engine: crate::Engine::Yara,
                    end: None,
                });
            }
        }
        report.detections = std::mem::take(&mut self.detections);
    }
}

/// Scans a whole file held in memory (for example a mapped file). `data` is the file; bytes
/// past `limits.max_file_size` are not scanned.
pub fn scan_bytes(
    set: &SignatureSet,
    data: &[u8],
    limits: ScanLimits,
    digests: Digests,
) -> ScanReport {
    let size = data.len() as u64;
    let cap = usize::try_from(limits.max_file_size).unwrap_or(usize::MAX);
    let scanned = &data[..data.len().min(cap)];
    let mut report = ScanReport {
        size,
        scanned: scanned.len() as u64,
        capped: scanned.len() < data.len(),
        ..ScanReport::default()
    };
    let kinds = match digests {
        Digests::All => 7,
        Digests::Needed => set.hashes.kinds_for(Some(size)),
    };
    if kinds != 0 {
        let mut h = Hashers::new(kinds);
        h.update(scanned);
        h.finish(&mut report);
    }
    let mut m = Matcher::new(set);
    if m.head.is_none() {
        m.head = Some(filetype::inspect(&scanned[..scanned.len().min(HEAD_LEN)]));
    }
    m.advance(set, scanned, 0, Some(size), true);
    m.conclude(set, Some(scanned), &mut report);
    report
}

/// A file being scanned as its bytes arrive. Create one per file with [`FileScan::new`],
/// [`FileScan::feed`] it chunks, and [`FileScan::finish`] it.
///
/// ```
/// let set = scan::SignatureSet::builtin();
/// let mut file = scan::FileScan::new(&set, scan::ScanLimits::default(), scan::Digests::Needed);
/// for chunk in scan::EICAR.chunks(10) {
///     file.feed(chunk);
/// }
/// let report = file.finish();
/// assert_eq!(report.detections[0].name, "Win.Test.EICAR_HDB-1");
/// ```
pub struct FileScan<S: AsRef<SignatureSet> = std::sync::Arc<SignatureSet>> {
    set: S,
    m: Matcher,
    limits: ScanLimits,
    digests: Digests,
    size_hint: Option<u64>,
    hashers: Option<Hashers>,
    /// The window (or, with YARA rules, the whole file so far) and the absolute offset of its
    /// first byte.
    buf: Vec<u8>,
    base: u64,
    /// Bytes fed, and bytes taken (at most the cap).
    fed: u64,
    taken: u64,
    head: Vec<u8>,
    reported: usize,
}

impl<S: AsRef<SignatureSet>> std::fmt::Debug for FileScan<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileScan")
            .field("fed", &self.fed)
            .field("window", &self.buf.len())
            .field("pending", &self.m.pending.len())
            .finish()
    }
}

impl<S: AsRef<SignatureSet>> FileScan<S> {
    /// Starts a file of unknown size. `set` is a `&SignatureSet`, or an `Arc<SignatureSet>`
    /// when the scan lives in per-connection state and must own its share of the set.
    pub fn new(set: S, limits: ScanLimits, digests: Digests) -> Self {
        FileScan {
            m: Matcher::new(set.as_ref()),
            set,
            limits,
            digests,
            size_hint: None,
            hashers: None,
            buf: Vec::new(),
            base: 0,
            fed: 0,
            taken: 0,
            head: Vec::new(),
            reported: 0,
        }
    }

    /// Tells the size the file will have (a `Content-Length`, a file's metadata), before the
    /// first chunk: only the digests a hash signature of that size needs are computed then.
    pub fn with_size_hint(mut self, size: u64) -> Self {
        self.size_hint = Some(size);
        self
    }

    /// Feeds the next bytes of the file. Returns the detections these bytes completed (body
    /// and logical signatures), so that a caller can act before the rest arrives.
    pub fn feed(&mut self, chunk: &[u8]) -> &[Detection] {
        self.fed += chunk.len() as u64;
        let room = self.limits.max_file_size.saturating_sub(self.taken);
        let chunk = &chunk[..chunk.len().min(usize::try_from(room).unwrap_or(usize::MAX))];
        if !chunk.is_empty() {
            let set = self.set.as_ref();
            let hashers = self.hashers.get_or_insert_with(|| {
                Hashers::new(match self.digests {
                    Digests::All => 7,
                    Digests::Needed => set.hashes.kinds_for(self.size_hint),
                })
            });
            hashers.update(chunk);
            self.taken += chunk.len() as u64;
            if self.m.head.is_none() {
                let want = HEAD_LEN - self.head.len();
                self.head.extend_from_slice(&chunk[..chunk.len().min(want)]);
                if self.head.len() >= HEAD_LEN {
                    self.m.head = Some(filetype::inspect(&self.head));
                }
            }
            self.buf.extend_from_slice(chunk);
            self.m
                .advance(set, &self.buf, self.base, self.size_hint, false);
            self.trim();
        }
        let new = &self.m.detections[self.reported..];
        self.reported = self.m.detections.len();
        new
    }

    /// Drops window bytes no candidate can need (never with YARA rules: boreal reads the
    /// whole file at the end).
    fn trim(&mut self) {
        let set = self.set.as_ref();
        if set.yara.is_some() {
            return;
        }
        let keep = set.window;
        if self.buf.len() > 2 * keep + (64 << 10) {
            let drop = self.buf.len() - keep;
            self.buf.drain(..drop);
            self.base += drop as u64;
        }
    }

    /// Ends the file: decides what is left and returns the report.
    pub fn finish(mut self) -> ScanReport {
        let mut report = ScanReport {
            size: self.fed,
            scanned: self.taken,
            capped: self.taken < self.fed,
            ..ScanReport::default()
        };
        if self.m.head.is_none() {
            self.m.head = Some(filetype::inspect(&self.head));
        }
        let set = self.set.as_ref();
        self.m
            .advance(set, &self.buf, self.base, Some(self.fed), true);
        let kinds_ok = match (self.digests, self.size_hint) {
            (Digests::Needed, Some(h)) => h == self.fed,
            _ => true,
        };
        match self.hashers.take() {
            Some(h) if kinds_ok => h.finish(&mut report),
            Some(_) => {
                // The size hint was wrong: hash again what we hold, if we hold it all.
                if self.base == 0 && self.buf.len() as u64 == self.taken {
                    let mut h = Hashers::new(7);
                    h.update(&self.buf);
                    h.finish(&mut report);
                }
            }
            None => {
                let kinds = match self.digests {
                    Digests::All => 7,
                    Digests::Needed => set.hashes.kinds_for(Some(0)),
                };
                Hashers::new(kinds).finish(&mut report);
            }
        }
        let whole = (self.base == 0).then_some(&self.buf[..]);
        self.m.conclude(set, whole, &mut report);
        report
    }
}

#[cfg(test)]
mod tests;
