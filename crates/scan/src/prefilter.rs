//! The atom prefilter: one pass over a file's bytes that finds every position where an atom of
//! any signature (ClamAV body and logical subsignatures, YARA strings) starts, so that only
//! those few positions are verified.
//!
//! Atoms are [`ATOM_LEN`] bytes where the signature allows. For those, each position of the
//! file costs one 4-byte load, a multiply and one bit test in a small bitmap (the *gram filter*,
//! [`FILTER_BITS`] bits, kept in L1/L2 cache); only the positions whose bit is set go to an
//! exact table of the atoms. Unlike an Aho-Corasick automaton walk, positions do not depend on
//! each other, so the CPU overlaps them. Atoms of two or three bytes (signatures with no longer
//! fixed run) go to an Aho-Corasick automaton of their own, run only when such atoms exist.
//!
//! Built once per signature set, read-only afterwards and shared by every thread. The scan
//! must never allocate per position: hits go into a caller-owned vector.

use aho_corasick::{AhoCorasick, AhoCorasickKind, Input, MatchKind};
use foldhash::{HashMap, HashMapExt};

/// Atom length for the gram filter.
pub const ATOM_LEN: usize = 4;

/// log2 of the gram filter's size in bits (64 KiB).
pub const FILTER_BITS: u32 = 19;

/// The gram filter's size in 64-bit words.
const FILTER_WORDS: usize = 1 << (FILTER_BITS - 6);

/// An atom hit: the atom starts at `pos` (in the buffer scanned) and belongs to `target`.
pub(crate) type Hit = (usize, u32);

/// Multiplicative hash of a 4-byte gram to a filter bit.
#[inline(always)]
fn slot(gram: u32) -> usize {
    (gram.wrapping_mul(0x9E37_79B1) >> (32 - FILTER_BITS)) as usize
}

/// Collects atoms and the targets they stand for.
#[derive(Debug, Default)]
pub(crate) struct PrefilterBuilder {
    grams: HashMap<u32, Vec<u32>>,
    short: HashMap<Vec<u8>, Vec<u32>>,
}

impl PrefilterBuilder {
    /// Adds an atom of 2 to [`ATOM_LEN`] bytes (longer ones are cut to their first
    /// [`ATOM_LEN`]).
    pub(crate) fn add(&mut self, atom: &[u8], target: u32) {
        debug_assert!(atom.len() >= 2, "atoms have at least two bytes");
        if atom.len() >= ATOM_LEN {
            let g = u32::from_le_bytes([atom[0], atom[1], atom[2], atom[3]]);
            self.grams.entry(g).or_default().push(target);
        } else {
            self.short.entry(atom.to_vec()).or_default().push(target);
        }
    }

    pub(crate) fn build(self) -> Prefilter {
        let mut bits: Box<[u64; FILTER_WORDS]> = vec![0u64; FILTER_WORDS]
            .into_boxed_slice()
            .try_into()
            .expect("FILTER_WORDS words");
        let mut table = HashMap::with_capacity(self.grams.len());
        let mut targets = Vec::new();
        let mut grams: Vec<_> = self.grams.into_iter().collect();
        grams.sort_unstable_by_key(|(g, _)| *g);
        for (g, ts) in grams {
            let h = slot(g);
            bits[h >> 6] |= 1 << (h & 63);
            table.insert(g, (targets.len() as u32, ts.len() as u32));
            targets.extend(ts);
        }
        let short = if self.short.is_empty() {
            None
        } else {
            let mut atoms: Vec<_> = self.short.into_iter().collect();
            atoms.sort_unstable();
            let mut ranges = Vec::with_capacity(atoms.len());
            for (_, ts) in &atoms {
                ranges.push((targets.len() as u32, ts.len() as u32));
                targets.extend(ts);
            }
            let ac = AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .kind(Some(AhoCorasickKind::DFA))
                .build(atoms.iter().map(|(a, _)| a))
                .or_else(|_| {
                    AhoCorasick::builder()
                        .match_kind(MatchKind::Standard)
                        .build(atoms.iter().map(|(a, _)| a))
                })
                .expect("a few thousand short atoms build an automaton");
            Some((ac, ranges))
        };
        Prefilter {
            bits,
            table,
            targets,
            short,
        }
    }
}

/// The built prefilter.
pub(crate) struct Prefilter {
    bits: Box<[u64; FILTER_WORDS]>,
    /// Exact 4-byte atoms: gram → range in `targets`.
    table: HashMap<u32, (u32, u32)>,
    targets: Vec<u32>,
    /// Atoms of 2 or 3 bytes, and each pattern's range in `targets`.
    short: Option<(AhoCorasick, Vec<(u32, u32)>)>,
}

impl std::fmt::Debug for Prefilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prefilter")
            .field("atoms", &self.table.len())
            .field("short_atoms", &self.short.as_ref().map(|s| s.1.len()))
            .finish()
    }
}

impl Prefilter {
    /// Is there any atom at all?
    pub(crate) fn is_empty(&self) -> bool {
        self.table.is_empty() && self.short.is_none()
    }

    /// Every atom that starts at a position in `from..to` of `buf` and lies whole in `buf`,
    /// appended to `hits` in position order. A position near the end whose atom is cut by the
    /// end of `buf` is not reported: the caller scans it again when more bytes came.
    pub(crate) fn scan(&self, buf: &[u8], from: usize, to: usize, hits: &mut Vec<Hit>) {
        let to = to.min(buf.len());
        if from >= to {
            return;
        }
        let first = hits.len();
        if !self.table.is_empty() && buf.len() >= ATOM_LEN {
            let last = to.min(buf.len() - (ATOM_LEN - 1));
            if from < last {
                self.scan_grams(&buf[from..last + ATOM_LEN - 1], from, hits);
            }
        }
        if let Some((ac, ranges)) = &self.short {
            let end = (to + ATOM_LEN - 2).min(buf.len());
            let before = hits.len();
            for m in ac.find_overlapping_iter(Input::new(&buf[..end]).range(from..end)) {
                if m.start() >= to {
                    continue;
                }
                let (s, n) = ranges[m.pattern().as_usize()];
                for &t in &self.targets[s as usize..(s + n) as usize] {
                    hits.push((m.start(), t));
                }
            }
            if before > first && hits.len() > before {
                hits[first..].sort_by_key(|h| h.0);
            }
        }
    }

    /// The gram filter over every 4-byte window of `window`, whose first byte is at `base`.
    ///
    /// Eight positions per step: eight grams from one 16-byte block, eight independent filter
    /// probes folded into one mask, one branch (rarely taken) per step. The bitmap is a fixed
    /// array indexed by a `FILTER_BITS`-bit hash, so no probe needs a bounds check.
    fn scan_grams(&self, window: &[u8], base: usize, hits: &mut Vec<Hit>) {
        let bits: &[u64; FILTER_WORDS] = &self.bits;
        let probe = |g: u32| -> u32 {
            let h = slot(g);
            ((bits[h >> 6] >> (h & 63)) & 1) as u32
        };
        let n = window.len();
        let mut i = 0;
        while i + 16 <= n {
            let block: &[u8; 16] = window[i..i + 16].try_into().expect("16 bytes");
            let mut mask = 0u32;
            for k in 0..8 {
                let g = u32::from_le_bytes([block[k], block[k + 1], block[k + 2], block[k + 3]]);
                mask |= probe(g) << k;
            }
            while mask != 0 {
                let k = mask.trailing_zeros() as usize;
                mask &= mask - 1;
                self.confirm(window, i + k, base, hits);
            }
            i += 8;
        }
        while i + ATOM_LEN <= n {
            let g = u32::from_le_bytes(window[i..i + 4].try_into().expect("4 bytes"));
            if probe(g) != 0 {
                self.confirm(window, i, base, hits);
            }
            i += 1;
        }
    }

    /// The exact table behind a filter hit at `window[i..i + 4]`.
    #[cold]
    fn confirm(&self, window: &[u8], i: usize, base: usize, hits: &mut Vec<Hit>) {
        let g = u32::from_le_bytes(window[i..i + 4].try_into().expect("4 bytes"));
        if let Some(&(s, n)) = self.table.get(&g) {
            for &t in &self.targets[s as usize..(s + n) as usize] {
                hits.push((base + i, t));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(atoms: &[(&[u8], u32)], buf: &[u8], from: usize, to: usize) -> Vec<Hit> {
        let mut out = Vec::new();
        for p in from..to.min(buf.len()) {
            for &(a, t) in atoms {
                let a = &a[..a.len().min(ATOM_LEN)];
                if buf[p..].starts_with(a) {
                    out.push((p, t));
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn finds_every_atom_like_a_naive_search() {
        let atoms: &[(&[u8], u32)] = &[
            (b"abcd", 1),
            (b"bcde", 2),
            (b"xy", 3),
            (b"zzz", 4),
            (b"abcd", 5),
        ];
        let mut b = PrefilterBuilder::default();
        for &(a, t) in atoms {
            b.add(a, t);
        }
        let p = b.build();
        let buf = b"..abcde.xyzzzz.abcdxy.abcd";
        for from in 0..buf.len() {
            for to in from..=buf.len() {
                let mut hits = Vec::new();
                p.scan(buf, from, to, &mut hits);
                hits.sort();
                assert_eq!(hits, naive(atoms, buf, from, to), "{from}..{to}");
            }
        }
    }
}
