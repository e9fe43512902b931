//! [`SignatureSet`]: every signature a scan uses, parsed and compiled once, immutable
//! afterwards, shared by all threads (`Arc<SignatureSet>`). A reload builds a new set and the
//! owner swaps the `Arc`; scans in flight finish on the set they started with.
//!
//! Loading never stops at a bad line: each one is reported in the [`LoadReport`] as
//! `file:line: reason` and the rest load.

use std::path::{Path, PathBuf};

use foldhash::HashMap;

use crate::clamav::{self, Anchor, BodySpec, Expr, HashKind, Target};
use crate::prefilter::{ATOM_LEN, Prefilter, PrefilterBuilder};
use crate::yara;

/// ClamAV's name for the EICAR test file in its official database (`daily.cvd`, hash
/// signature `44d88612fea8a8f36de82e1278abb02f:68:Win.Test.EICAR_HDB-1`): clamscan and clamd
/// report it so, for example `instream(...): Win.Test.EICAR_HDB-1(44d886...:68) FOUND` in
/// clamd's log quoted in keysas-fr/keysas issue 59, and the name clients see "consistently
/// with the main and daily dbs" (artefactual-labs/clamav-client pull request 8). The built-in
/// set carries that one line, so its name has no `.UNOFFICIAL` suffix.
pub const EICAR_NAME: &str = "Win.Test.EICAR_HDB-1";

/// The built-in hash signature line for EICAR (MD5 of the 68-byte file, as ClamAV ships it).
const EICAR_HDB: &str = "44d88612fea8a8f36de82e1278abb02f:68:Win.Test.EICAR_HDB-1";

/// The 68-byte EICAR test file.
pub const EICAR: &[u8] = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// Index of a signature (its reported name) in a set.
pub type SigId = u32;

/// A database file format, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    /// `.hdb`: MD5 hash signatures.
    Hdb,
    /// `.hsb`: SHA-1/SHA-256 hash signatures.
    Hsb,
    /// `.ndb`: extended body signatures.
    Ndb,
    /// `.ldb`: logical signatures.
    Ldb,
    /// `.yar`/`.yara`: YARA rules.
    Yara,
}

impl DbKind {
    /// The kind a file's extension names, if it is one this scanner loads.
    pub fn of_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()? {
            "hdb" => Some(DbKind::Hdb),
            "hsb" => Some(DbKind::Hsb),
            "ndb" => Some(DbKind::Ndb),
            "ldb" => Some(DbKind::Ldb),
            "yar" | "yara" => Some(DbKind::Yara),
            _ => None,
        }
    }
}

/// A signature that failed to load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {reason}", file.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct LoadFailure {
    pub file: PathBuf,
    /// 1-based line, when the failure is one line's.
    pub line: Option<usize>,
    pub reason: String,
}

/// What loading did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Signatures loaded, by kind: hash, body (ndb), logical (ldb), YARA rules.
    pub hash: usize,
    pub body: usize,
    pub logical: usize,
    pub yara: usize,
    /// Files read.
    pub files: usize,
    /// Files in a database directory that are not signature files (named, not loaded).
    pub ignored_files: Vec<PathBuf>,
    pub failed: Vec<LoadFailure>,
}

impl LoadReport {
    /// Signatures loaded in all.
    pub fn loaded(&self) -> usize {
        self.hash + self.body + self.logical + self.yara
    }
}

/// Who a body matcher entry reports to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// An `.ndb` signature.
    Sig(SigId),
    /// Subsignature `sub` of logical signature `logical`.
    Sub { logical: u32, sub: u16 },
    /// A YARA string form: a hit means boreal must run on the file.
    Yara,
}

/// A body pattern the scanner verifies after atom hits.
#[derive(Debug)]
pub(crate) struct Entry {
    pub spec: BodySpec,
    pub owner: Owner,
}

#[derive(Debug)]
pub(crate) struct Logical {
    pub sig: SigId,
    pub expr: Expr,
    pub monotonic: bool,
    pub file_size: Option<(u64, u64)>,
    pub nsubs: usize,
}

/// Hash signatures keyed by digest kind, size and digest.
#[derive(Debug, Default)]
pub(crate) struct HashIndex {
    /// Digest kinds any signature of that exact size uses.
    pub sizes: HashMap<u64, u8>,
    /// Digest kinds of signatures with size `*`.
    pub any_size: u8,
    /// (kind, size or `None` for `*`, digest) → signatures.
    pub sigs: HashMap<(HashKind, Option<u64>, Vec<u8>), Vec<SigId>>,
    pub len: usize,
}

impl HashIndex {
    /// Digest kinds to compute for a file of `size` bytes (`None`: not known yet).
    pub(crate) fn kinds_for(&self, size: Option<u64>) -> u8 {
        match size {
            Some(s) => self.any_size | self.sizes.get(&s).copied().unwrap_or(0),
            None => self.any_size | self.sizes.values().fold(0, |a, k| a | k),
        }
    }
}

/// The compiled YARA side.
pub(crate) struct YaraSide {
    pub scanner: boreal::Scanner,
    /// Some rule must run on every file.
    pub always: bool,
}

/// Every signature a scan uses. Build with [`SignatureSet::builder`], [`SignatureSet::load`] or
/// [`SignatureSet::builtin`].
pub struct SignatureSet {
    pub(crate) names: Vec<String>,
    pub(crate) hashes: HashIndex,
    pub(crate) entries: Vec<Entry>,
    /// Prefilter target → (entry, segment).
    pub(crate) atom_targets: Vec<(u32, u16)>,
    pub(crate) prefilter: Prefilter,
    pub(crate) logicals: Vec<Logical>,
    pub(crate) yara: Option<YaraSide>,
    /// Bytes of a stream the scanner keeps behind its newest byte.
    pub(crate) window: usize,
    /// Some entry needs the file kind or entry point.
    pub(crate) needs_head: bool,
    /// Every prefilter entry stands for a YARA string (so a first hit settles the file).
    pub(crate) only_yara: bool,
    report: LoadReport,
}

impl std::fmt::Debug for SignatureSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureSet")
            .field("signatures", &self.names.len())
            .field("entries", &self.entries.len())
            .field("prefilter", &self.prefilter)
            .field("yara", &self.yara.as_ref().map(|y| y.always))
            .field("window", &self.window)
            .finish()
    }
}

impl AsRef<SignatureSet> for SignatureSet {
    fn as_ref(&self) -> &SignatureSet {
        self
    }
}

impl SignatureSet {
    /// A builder to add databases to.
    pub fn builder() -> SignatureSetBuilder {
        SignatureSetBuilder::default()
    }

    /// The built-in set: EICAR as ClamAV's official database names it ([`EICAR_NAME`]).
    pub fn builtin() -> Self {
        let mut b = Self::builder();
        b.add_text(DbKind::Hdb, EICAR_HDB, Path::new("<built-in>"), true);
        b.build()
    }

    /// Loads every database file in `paths` (files, or directories whose `.hdb`, `.hsb`,
    /// `.ndb`, `.ldb`, `.yar` and `.yara` files load in name order).
    pub fn load<P: AsRef<Path>>(paths: &[P]) -> Self {
        let mut b = Self::builder();
        for p in paths {
            b.add_path(p.as_ref());
        }
        b.build()
    }

    /// What loading did.
    pub fn report(&self) -> &LoadReport {
        &self.report
    }

    /// The name of signature `id` as ClamAV reports it.
    pub fn name(&self, id: SigId) -> &str {
        &self.names[id as usize]
    }

    /// Number of signatures (hash, body, logical; YARA rules are reported by boreal).
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when the set has no signature and no YARA rule.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.yara.is_none()
    }

    /// True when scanning needs the whole file in memory (YARA rules are loaded).
    pub fn buffers_whole_file(&self) -> bool {
        self.yara.is_some()
    }
}

/// Collects databases; [`SignatureSetBuilder::build`] compiles them into a [`SignatureSet`].
#[derive(Default)]
pub struct SignatureSetBuilder {
    names: Vec<String>,
    hashes: HashIndex,
    entries: Vec<Entry>,
    logicals: Vec<Logical>,
    yara: Option<boreal::Compiler>,
    yara_forms: Vec<yara::StringForm>,
    yara_always: bool,
    report: LoadReport,
}

impl std::fmt::Debug for SignatureSetBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureSetBuilder")
            .field("signatures", &self.names.len())
            .finish()
    }
}

impl SignatureSetBuilder {
    fn name(&mut self, name: &str, official: bool) -> SigId {
        let id = self.names.len() as SigId;
        self.names.push(if official {
            name.to_owned()
        } else {
            format!("{name}.UNOFFICIAL")
        });
        id
    }

    fn fail(&mut self, file: &Path, line: Option<usize>, reason: impl Into<String>) {
        self.report.failed.push(LoadFailure {
            file: file.to_owned(),
            line,
            reason: reason.into(),
        });
    }

    /// Adds a database file, or every database file of a directory (not recursing).
    pub fn add_path(&mut self, path: &Path) {
        if path.is_dir() {
            let mut files: Vec<PathBuf> = match std::fs::read_dir(path) {
                Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
                Err(e) => {
                    self.fail(path, None, format!("cannot read directory: {e}"));
                    return;
                }
            };
            files.sort();
            for f in files {
                if f.is_file() {
                    if DbKind::of_path(&f).is_some() {
                        self.add_file(&f);
                    } else {
                        self.report.ignored_files.push(f);
                    }
                }
            }
        } else {
            self.add_file(path);
        }
    }

    /// Adds one database file; its kind comes from its extension.
    pub fn add_file(&mut self, path: &Path) {
        let Some(kind) = DbKind::of_path(path) else {
            self.fail(
                path,
                None,
                "not a signature file (.hdb, .hsb, .ndb, .ldb, .yar, .yara)",
            );
            return;
        };
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                self.fail(path, None, format!("cannot read: {e}"));
                return;
            }
        };
        self.report.files += 1;
        if kind == DbKind::Yara {
            let Ok(text) = String::from_utf8(bytes) else {
                self.fail(path, None, "YARA rules are not UTF-8 text");
                return;
            };
            self.add_yara(&text, path, Some(path));
            return;
        }
        let text = String::from_utf8_lossy(&bytes);
        self.add_text(kind, &text, path, false);
    }

    /// Adds database text of `kind`; `origin` names it in failures. `official` keeps names
    /// as written; otherwise they get ClamAV's `.UNOFFICIAL` suffix, as clamscan does for any
    /// database that is not a signed `.cvd`/`.cld`.
    pub fn add_text(&mut self, kind: DbKind, text: &str, origin: &Path, official: bool) {
        if kind == DbKind::Yara {
            self.add_yara(text, origin, None);
            return;
        }
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let r = match kind {
                DbKind::Hdb | DbKind::Hsb => clamav::parse_hash_line(line).map(|h| {
                    let id = self.name(&h.name, official);
                    let bit = h.kind.bit();
                    match h.size {
                        Some(s) => *self.hashes.sizes.entry(s).or_default() |= bit,
                        None => self.hashes.any_size |= bit,
                    }
                    self.hashes
                        .sigs
                        .entry((h.kind, h.size, h.digest))
                        .or_default()
                        .push(id);
                    self.hashes.len += 1;
                    self.report.hash += 1;
                }),
                DbKind::Ndb => clamav::parse_ndb_line(line).map(|(name, spec)| {
                    let id = self.name(&name, official);
                    self.entries.push(Entry {
                        spec,
                        owner: Owner::Sig(id),
                    });
                    self.report.body += 1;
                }),
                DbKind::Ldb => clamav::parse_ldb_line(line).map(|l| {
                    let id = self.name(&l.name, official);
                    let logical = self.logicals.len() as u32;
                    let nsubs = l.subs.len();
                    for (sub, forms) in l.subs.into_iter().enumerate() {
                        for spec in forms {
                            self.entries.push(Entry {
                                spec,
                                owner: Owner::Sub {
                                    logical,
                                    sub: sub as u16,
                                },
                            });
                        }
                    }
                    self.logicals.push(Logical {
                        sig: id,
                        nsubs,
                        expr: l.expr,
                        monotonic: l.monotonic,
                        file_size: l.file_size,
                    });
                    self.report.logical += 1;
                }),
                DbKind::Yara => unreachable!("handled above"),
            };
            if let Err(reason) = r {
                self.fail(origin, Some(i + 1), reason);
            }
        }
    }

    /// Adds YARA rules: analysed for the prefilter, compiled by boreal (from `file` when
    /// given, so that includes resolve next to it).
    fn add_yara(&mut self, text: &str, origin: &Path, file: Option<&Path>) {
        let analysis = match yara::analyse(text) {
            Ok(a) => a,
            Err(e) => {
                let (line, reason) = split_line(&e);
                self.fail(origin, line, reason);
                return;
            }
        };
        let namespace = origin.display().to_string();
        let compiler = self.yara.get_or_insert_with(yara::new_compiler);
        let compiled = match file {
            Some(path) => yara::compile_file(compiler, path, &namespace),
            None => {
                let mut probe = yara::new_compiler();
                probe
                    .add_rules_str_in_namespace(text, &namespace)
                    .map(|_| ())
                    .and_then(|()| {
                        compiler
                            .add_rules_str_in_namespace(text, &namespace)
                            .map(|_| ())
                    })
                    .map_err(|e| {
                        e.to_string()
                            .lines()
                            .next()
                            .unwrap_or("YARA error")
                            .to_owned()
                    })
            }
        };
        match compiled {
            Ok(()) => {
                self.report.yara += analysis.rules;
                self.yara_forms.extend(analysis.forms);
                self.yara_always |= analysis.always;
            }
            Err(e) => {
                // boreal prints `file:line:col: error...`; keep the line, drop the path
                // (ours leads the failure).
                let rest = e.strip_prefix(&format!("{namespace}:")).unwrap_or(&e);
                let line = rest.split(':').next().and_then(|l| l.parse().ok());
                self.fail(origin, line, e.clone());
            }
        }
    }

    /// Compiles the collected signatures.
    pub fn build(mut self) -> SignatureSet {
        let yara = self.yara.take().map(|c| YaraSide {
            scanner: c.finalize(),
            always: self.yara_always,
        });
        for form in std::mem::take(&mut self.yara_forms) {
            self.entries.push(Entry {
                spec: BodySpec {
                    pattern: form.pattern,
                    anchor: Anchor::Any,
                    target: Target::Any,
                    fold: form.fold,
                },
                owner: Owner::Yara,
            });
        }
        let mut pf = PrefilterBuilder::default();
        let mut atom_targets = Vec::new();
        let mut window = 4096usize;
        let mut needs_head = false;
        for (e, entry) in self.entries.iter().enumerate() {
            let spec = &entry.spec;
            needs_head |= spec.target != Target::Any || matches!(spec.anchor, Anchor::Ep { .. });
            for (s, seg) in spec.pattern.segments.iter().enumerate() {
                let target = atom_targets.len() as u32;
                atom_targets.push((e as u32, s as u16));
                for variant in atom_variants(&seg.atom, spec.fold) {
                    pf.add(&variant, target);
                }
                window = window.max(2 * seg.max_len + ATOM_LEN);
            }
            if let Anchor::Eof { back, shift } = spec.anchor {
                window = window.max((back + shift) as usize + spec.pattern.segments[0].max_len);
            }
        }
        let only_yara = self.entries.iter().all(|e| e.owner == Owner::Yara);
        SignatureSet {
            names: self.names,
            hashes: self.hashes,
            entries: self.entries,
            atom_targets,
            prefilter: pf.build(),
            logicals: self.logicals,
            yara,
            window,
            needs_head,
            only_yara,
            report: self.report,
        }
    }
}

/// Splits `line N: reason` into its parts.
fn split_line(e: &str) -> (Option<usize>, String) {
    if let Some(rest) = e.strip_prefix("line ")
        && let Some((n, reason)) = rest.split_once(": ")
        && let Ok(n) = n.parse()
    {
        return (Some(n), reason.to_owned());
    }
    (None, e.to_owned())
}

/// The atom as the prefilter sees it: its first [`ATOM_LEN`] bytes, in every ASCII case when
/// the entry ignores case.
fn atom_variants(atom: &[u8], fold: bool) -> Vec<Vec<u8>> {
    let atom = &atom[..atom.len().min(ATOM_LEN)];
    let mut out = vec![Vec::with_capacity(atom.len())];
    for &b in atom {
        if fold && b.is_ascii_alphabetic() {
            let mut next = Vec::with_capacity(out.len() * 2);
            for v in out {
                let mut lo = v.clone();
                lo.push(b.to_ascii_lowercase());
                let mut up = v;
                up.push(b.to_ascii_uppercase());
                next.push(lo);
                next.push(up);
            }
            out = next;
        } else {
            for v in &mut out {
                v.push(b);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_has_eicar_by_its_clamav_name() {
        let s = SignatureSet::builtin();
        assert_eq!(s.len(), 1);
        assert_eq!(s.name(0), EICAR_NAME);
        assert!(s.report().failed.is_empty());
        assert_eq!(s.hashes.kinds_for(Some(68)), HashKind::Md5.bit());
        assert_eq!(s.hashes.kinds_for(Some(69)), 0);
    }

    #[test]
    fn bad_lines_are_reported_and_the_rest_load() {
        let mut b = SignatureSet::builder();
        b.add_text(
            DbKind::Ndb,
            "Good.A:0:*:41424344\n# comment\n\nBad.B:0:*:4142zz\nGood.C:0:10:45464748\nBad.D:3:*:41424344\n",
            Path::new("x.ndb"),
            false,
        );
        let s = b.build();
        assert_eq!(s.report().body, 2);
        let failed: Vec<String> = s.report().failed.iter().map(ToString::to_string).collect();
        assert_eq!(failed.len(), 2);
        assert!(
            failed[0].starts_with("x.ndb:4: hex pattern at byte 4"),
            "{}",
            failed[0]
        );
        assert!(
            failed[1].starts_with("x.ndb:6: target type 3"),
            "{}",
            failed[1]
        );
        assert_eq!(s.name(0), "Good.A.UNOFFICIAL");
    }

    #[test]
    fn yara_errors_name_file_and_line() {
        let mut b = SignatureSet::builder();
        b.add_text(
            DbKind::Yara,
            "rule ok { strings: $a = \"abcdef\" condition: $a }",
            Path::new("a.yar"),
            false,
        );
        b.add_text(
            DbKind::Yara,
            "rule bad {\n condition: $nope\n}",
            Path::new("b.yar"),
            false,
        );
        b.add_text(
            DbKind::Yara,
            "rule bad2 {\n\n condition: ( \n}",
            Path::new("c.yar"),
            false,
        );
        let s = b.build();
        assert_eq!(s.report().yara, 1);
        let failed: Vec<String> = s.report().failed.iter().map(ToString::to_string).collect();
        assert_eq!(failed.len(), 2, "{failed:?}");
        assert!(failed[0].starts_with("b.yar"), "{}", failed[0]);
        assert!(
            failed[1].starts_with("c.yar:4") || failed[1].starts_with("c.yar:3"),
            "{}",
            failed[1]
        );
    }

    #[test]
    fn case_variants_of_atoms() {
        assert_eq!(atom_variants(b"a1", true).len(), 2);
        assert_eq!(atom_variants(b"abcdef", true).len(), 16);
        assert_eq!(atom_variants(b"abcd", false), vec![b"abcd".to_vec()]);
    }
}
