//! ClamAV database lines: hash signatures (`.hdb`, `.hsb`), extended body signatures (`.ndb`)
//! and logical signatures (`.ldb`), parsed into typed records.
//!
//! Follows ClamAV's signature manual. Supported: hash signatures with a size or `*`; body
//! signatures of target types 0 (any), 1 (PE), 6 (ELF) and 9 (Mach-O) with offsets `*`, `n`,
//! `EOF-n`, `EP+n`, `EP-n`, each optionally `,maxshift`; logical signatures with `&`, `|`,
//! parentheses and `=X`, `>X`, `<X` (`,Y`: at least Y distinct subsignatures), the
//! target-description keys `Engine`, `Target` and `FileSize`, and subsignatures in body format
//! with an optional offset and the modifiers `i` (case-insensitive), `w` (UTF-16LE) and `a`.
//! Everything else (normalised-text and HTML targets, section offsets, PCRE and byte-compare
//! subsignatures, macros, `fullword`) is refused with a reason: a signature this scanner would
//! evaluate differently from ClamAV is reported, never loaded half-understood.
//!
//! Lines are untrusted text: any malformed field is an error naming the field, never a panic.

use crate::pattern::{Pattern, Token};

/// A digest kind of hash signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashKind {
    Md5,
    Sha1,
    Sha256,
}

impl HashKind {
    /// The kind whose hex digest has `len` characters.
    pub fn from_hex_len(len: usize) -> Option<Self> {
        match len {
            32 => Some(HashKind::Md5),
            40 => Some(HashKind::Sha1),
            64 => Some(HashKind::Sha256),
            _ => None,
        }
    }

    /// Bit of this kind in a [`crate::HashKinds`] mask.
    pub(crate) fn bit(self) -> u8 {
        match self {
            HashKind::Md5 => 1,
            HashKind::Sha1 => 2,
            HashKind::Sha256 => 4,
        }
    }
}

/// A hash signature line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HashSig {
    pub kind: HashKind,
    pub digest: Vec<u8>,
    /// `None` for `*` (any size).
    pub size: Option<u64>,
    pub name: String,
}

/// Where a body signature must start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Anchor {
    Any,
    /// At `start..=start + shift`.
    Abs {
        start: u64,
        shift: u64,
    },
    /// At `size - back ..= size - back + shift`.
    Eof {
        back: u64,
        shift: u64,
    },
    /// At `ep + delta ..= ep + delta + shift`.
    Ep {
        delta: i64,
        shift: u64,
    },
}

/// The executable kinds a body signature can be limited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Any,
    Pe,
    Elf,
    MachO,
}

/// A body pattern with where and in what it applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BodySpec {
    pub pattern: Pattern,
    pub anchor: Anchor,
    pub target: Target,
    /// Compare ASCII letters without case.
    pub fold: bool,
}

/// A logical expression over subsignature indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expr {
    Sub(usize),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Count {
        inner: Box<Expr>,
        op: CountOp,
        n: u32,
        distinct: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CountOp {
    Eq,
    Gt,
    Lt,
}

/// A logical signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogicalSig {
    pub name: String,
    pub expr: Expr,
    /// One entry per subsignature index: its forms (two for `::wa`).
    pub subs: Vec<Vec<BodySpec>>,
    pub file_size: Option<(u64, u64)>,
    /// True when the expression can only turn from false to true as matches come, so it may
    /// be decided before the end of the file.
    pub monotonic: bool,
}

/// Why a line was refused (the caller adds file and line).
pub(crate) type LineError = String;

fn parse_u64(s: &str, what: &str) -> Result<u64, LineError> {
    s.parse::<u64>()
        .map_err(|_| format!("{what}: {s:?} is not a number"))
}

/// Parses a hex digest of any supported kind.
fn parse_digest(s: &str) -> Result<(HashKind, Vec<u8>), LineError> {
    let kind = HashKind::from_hex_len(s.len()).ok_or_else(|| {
        format!(
            "hash {s:?}: {} hex digits is not MD5 (32), SHA-1 (40) or SHA-256 (64)",
            s.len()
        )
    })?;
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len() / 2);
    for pair in b.chunks_exact(2) {
        let v = std::str::from_utf8(pair)
            .ok()
            .and_then(|p| u8::from_str_radix(p, 16).ok())
            .ok_or_else(|| format!("hash {s:?}: not hexadecimal"))?;
        out.push(v);
    }
    Ok((kind, out))
}

/// `HASH:SIZE:NAME[:FLEVEL[:FLEVEL]]` (`.hdb`, `.hsb`; SIZE may be `*`).
pub(crate) fn parse_hash_line(line: &str) -> Result<HashSig, LineError> {
    let f: Vec<&str> = line.split(':').collect();
    if f.len() < 3 || f.len() > 5 {
        return Err(format!("expected HASH:SIZE:NAME, got {} fields", f.len()));
    }
    let (kind, digest) = parse_digest(f[0])?;
    let size = match f[1] {
        "*" => None,
        s => Some(parse_u64(s, "size")?),
    };
    let name = check_name(f[2])?;
    Ok(HashSig {
        kind,
        digest,
        size,
        name,
    })
}

fn check_name(n: &str) -> Result<String, LineError> {
    if n.is_empty() {
        return Err("empty signature name".into());
    }
    if n.chars().any(|c| c.is_control() || c == ' ') {
        return Err(format!(
            "signature name {n:?} has spaces or control characters"
        ));
    }
    Ok(n.to_owned())
}

fn parse_target(s: &str) -> Result<Target, LineError> {
    match s {
        "0" => Ok(Target::Any),
        "1" => Ok(Target::Pe),
        "6" => Ok(Target::Elf),
        "9" => Ok(Target::MachO),
        "2" | "3" | "4" | "5" | "7" | "8" | "10" | "11" | "12" | "13" | "14" => Err(format!(
            "target type {s} is not supported: ClamAV unpacks or normalises such files first"
        )),
        _ => Err(format!("target type {s:?} is unknown")),
    }
}

/// Parses an offset: `*`, `n`, `EOF-n`, `EP+n`, `EP-n`, each with an optional `,maxshift`.
fn parse_offset(s: &str, target: Target) -> Result<Anchor, LineError> {
    if s == "*" {
        return Ok(Anchor::Any);
    }
    let (base, shift) = match s.split_once(',') {
        Some((b, sh)) => (b, parse_u64(sh, "offset shift")?),
        None => (s, 0),
    };
    if let Some(n) = base.strip_prefix("EOF-") {
        return Ok(Anchor::Eof {
            back: parse_u64(n, "EOF offset")?,
            shift,
        });
    }
    if let Some(rest) = base.strip_prefix("EP") {
        if target == Target::Any {
            return Err("EP offsets need target type 1 (PE) or 6 (ELF)".into());
        }
        if target == Target::MachO {
            return Err("EP offsets of Mach-O files are not supported".into());
        }
        let delta = if let Some(n) = rest.strip_prefix('+') {
            i64::try_from(parse_u64(n, "EP offset")?).map_err(|_| "EP offset too large")?
        } else if let Some(n) = rest.strip_prefix('-') {
            -i64::try_from(parse_u64(n, "EP offset")?).map_err(|_| "EP offset too large")?
        } else {
            return Err(format!("offset {s:?}: EP must be followed by + or -"));
        };
        return Ok(Anchor::Ep { delta, shift });
    }
    if base.starts_with('S') || base.starts_with("VI") || base.starts_with('$') {
        return Err(format!(
            "offset {s:?}: section and version offsets are not supported"
        ));
    }
    Ok(Anchor::Abs {
        start: parse_u64(base, "offset")?,
        shift,
    })
}

/// `NAME:TARGET:OFFSET:HEX[:FLEVEL[:FLEVEL]]` (`.ndb`).
pub(crate) fn parse_ndb_line(line: &str) -> Result<(String, BodySpec), LineError> {
    let f: Vec<&str> = line.split(':').collect();
    if f.len() < 4 || f.len() > 6 {
        return Err(format!(
            "expected NAME:TARGET:OFFSET:HEX, got {} fields",
            f.len()
        ));
    }
    let name = check_name(f[0])?;
    let target = parse_target(f[1])?;
    let anchor = parse_offset(f[2], target)?;
    let pattern = Pattern::parse(f[3]).map_err(|e| e.to_string())?;
    let spec = BodySpec {
        pattern,
        anchor,
        target,
        fold: false,
    };
    check_spec(&spec)?;
    Ok((name, spec))
}

/// Limits the streaming window needs.
fn check_spec(spec: &BodySpec) -> Result<(), LineError> {
    if let Anchor::Eof { back, shift } = spec.anchor {
        if back > crate::MAX_EOF_BACK || shift > back {
            return Err(format!(
                "EOF-{back},{shift}: the scanner keeps at most {} bytes of a file's end",
                crate::MAX_EOF_BACK
            ));
        }
        if spec.pattern.segments.len() > 1 {
            return Err("EOF offsets with '*' or {n-} are not supported".into());
        }
    }
    Ok(())
}

/// UTF-16LE form of a token list: a zero byte after each byte.
fn widen(tokens: &[Token]) -> Vec<Token> {
    let mut out = Vec::with_capacity(tokens.len() * 2);
    for t in tokens {
        match t {
            Token::Gap { min, max } => out.push(Token::Gap {
                min: min * 2,
                max: max * 2,
            }),
            Token::Alt(alts) => out.push(Token::Alt(
                alts.iter()
                    .map(|a| a.iter().flat_map(|&b| [b, 0]).collect())
                    .collect(),
            )),
            other => {
                out.push(other.clone());
                out.push(Token::Byte(0));
            }
        }
    }
    out
}

/// One subsignature: `[OFFSET:]HEX[::MODIFIERS]`.
fn parse_subsig(s: &str, target: Target) -> Result<Vec<BodySpec>, LineError> {
    let (body, mods) = match s.split_once("::") {
        Some((b, m)) => (b, m),
        None => (s, ""),
    };
    if body.contains('/') {
        return Err("PCRE subsignatures are not supported".into());
    }
    if body.starts_with("${") {
        return Err("macro subsignatures are not supported".into());
    }
    let (anchor, hex) = match body.rsplit_once(':') {
        Some((off, hex)) => (parse_offset(off, target)?, hex),
        None => (Anchor::Any, body),
    };
    let (mut fold, mut wide, mut ascii) = (false, false, false);
    for m in mods.chars() {
        match m {
            'i' => fold = true,
            'w' => wide = true,
            'a' => ascii = true,
            'f' => return Err("the fullword modifier (f) is not supported".into()),
            other => return Err(format!("unknown subsignature modifier {other:?}")),
        }
    }
    let pattern = Pattern::parse(hex).map_err(|e| e.to_string())?;
    let mut forms = Vec::new();
    if !wide || ascii {
        forms.push(BodySpec {
            pattern: pattern.clone(),
            anchor,
            target,
            fold,
        });
    }
    if wide {
        let parts = pattern
            .segments
            .iter()
            .map(|s| (widen(&s.tokens), s.gap_before * 2))
            .collect();
        forms.push(BodySpec {
            pattern: Pattern::from_tokens(parts).map_err(|e| e.to_string())?,
            anchor,
            target,
            fold,
        });
    }
    for f in &forms {
        check_spec(f)?;
    }
    Ok(forms)
}

/// `NAME;TDB;EXPR;SUB0;SUB1;...` (`.ldb`).
pub(crate) fn parse_ldb_line(line: &str) -> Result<LogicalSig, LineError> {
    let f: Vec<&str> = line.split(';').collect();
    if f.len() < 4 {
        return Err(format!(
            "expected NAME;TARGETDESC;EXPRESSION;SUBSIG..., got {} fields",
            f.len()
        ));
    }
    let name = check_name(f[0])?;
    let mut target = Target::Any;
    let mut file_size = None;
    for kv in f[1].split(',') {
        let (k, v) = kv
            .split_once(':')
            .ok_or_else(|| format!("target description {kv:?}: expected Key:Value"))?;
        match k {
            "Engine" => {}
            "Target" => target = parse_target(v)?,
            "FileSize" => {
                let (lo, hi) = v
                    .split_once('-')
                    .ok_or_else(|| format!("FileSize {v:?}: expected min-max"))?;
                file_size = Some((parse_u64(lo, "FileSize")?, parse_u64(hi, "FileSize")?));
            }
            other => return Err(format!("target description key {other:?} is not supported")),
        }
    }
    let subs_text = &f[3..];
    if subs_text.len() > 64 {
        return Err("more than 64 subsignatures".into());
    }
    let mut subs = Vec::with_capacity(subs_text.len());
    for (i, s) in subs_text.iter().enumerate() {
        subs.push(parse_subsig(s, target).map_err(|e| format!("subsignature {i}: {e}"))?);
    }
    let expr = parse_expr(f[2], subs.len())?;
    let monotonic = is_monotonic(&expr);
    Ok(LogicalSig {
        name,
        expr,
        subs,
        file_size,
        monotonic,
    })
}

fn is_monotonic(e: &Expr) -> bool {
    match e {
        Expr::Sub(_) => true,
        Expr::And(v) | Expr::Or(v) => v.iter().all(is_monotonic),
        Expr::Count { op, .. } => *op == CountOp::Gt,
    }
}

/// Parses a logical expression over `nsubs` subsignatures.
pub(crate) fn parse_expr(s: &str, nsubs: usize) -> Result<Expr, LineError> {
    let b = s.as_bytes();
    let mut i = 0;
    let e = expr_or(b, &mut i, nsubs, 0)?;
    if i != b.len() {
        return Err(format!(
            "logical expression: unexpected {:?} at byte {i}",
            b[i] as char
        ));
    }
    Ok(e)
}

const MAX_DEPTH: usize = 64;

fn expr_or(b: &[u8], i: &mut usize, n: usize, depth: usize) -> Result<Expr, LineError> {
    let mut v = vec![expr_and(b, i, n, depth)?];
    while b.get(*i) == Some(&b'|') {
        *i += 1;
        v.push(expr_and(b, i, n, depth)?);
    }
    Ok(if v.len() == 1 {
        v.pop().expect("one")
    } else {
        Expr::Or(v)
    })
}

fn expr_and(b: &[u8], i: &mut usize, n: usize, depth: usize) -> Result<Expr, LineError> {
    let mut v = vec![expr_count(b, i, n, depth)?];
    while b.get(*i) == Some(&b'&') {
        *i += 1;
        v.push(expr_count(b, i, n, depth)?);
    }
    Ok(if v.len() == 1 {
        v.pop().expect("one")
    } else {
        Expr::And(v)
    })
}

fn num(b: &[u8], i: &mut usize) -> Result<u32, LineError> {
    let start = *i;
    while b.get(*i).is_some_and(u8::is_ascii_digit) {
        *i += 1;
    }
    std::str::from_utf8(&b[start..*i])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("logical expression: expected a number at byte {start}"))
}

fn expr_count(b: &[u8], i: &mut usize, n: usize, depth: usize) -> Result<Expr, LineError> {
    if depth > MAX_DEPTH {
        return Err("logical expression nested too deep".into());
    }
    let inner = if b.get(*i) == Some(&b'(') {
        *i += 1;
        let e = expr_or(b, i, n, depth + 1)?;
        if b.get(*i) != Some(&b')') {
            return Err(format!("logical expression: expected ')' at byte {}", *i));
        }
        *i += 1;
        e
    } else {
        let at = *i;
        let k = num(b, i)? as usize;
        if k >= n {
            return Err(format!(
                "logical expression: subsignature {k} at byte {at} does not exist ({n} given)"
            ));
        }
        Expr::Sub(k)
    };
    let op = match b.get(*i) {
        Some(b'=') => CountOp::Eq,
        Some(b'>') => CountOp::Gt,
        Some(b'<') => CountOp::Lt,
        _ => return Ok(inner),
    };
    *i += 1;
    let count = num(b, i)?;
    let distinct = if b.get(*i) == Some(&b',') {
        *i += 1;
        num(b, i)?
    } else {
        0
    };
    Ok(Expr::Count {
        inner: Box::new(inner),
        op,
        n: count,
        distinct,
    })
}

impl Expr {
    /// Sum of the match counts of the subsignatures under this node, and how many of them
    /// matched at all.
    fn tally(&self, counts: &[u32]) -> (u64, u32) {
        match self {
            Expr::Sub(k) => {
                let c = counts.get(*k).copied().unwrap_or(0);
                (u64::from(c), u32::from(c > 0))
            }
            Expr::And(v) | Expr::Or(v) => v.iter().fold((0, 0), |(a, d), e| {
                let (x, y) = e.tally(counts);
                (a + x, d + y)
            }),
            Expr::Count { inner, .. } => inner.tally(counts),
        }
    }

    /// Is the expression true for these per-subsignature match counts?
    pub(crate) fn eval(&self, counts: &[u32]) -> bool {
        match self {
            Expr::Sub(k) => counts.get(*k).is_some_and(|&c| c > 0),
            Expr::And(v) => v.iter().all(|e| e.eval(counts)),
            Expr::Or(v) => v.iter().any(|e| e.eval(counts)),
            Expr::Count {
                inner,
                op,
                n,
                distinct,
            } => {
                let (c, d) = inner.tally(counts);
                let n = u64::from(*n);
                let ok = match op {
                    CountOp::Eq => c == n,
                    CountOp::Gt => c > n,
                    CountOp::Lt => c < n,
                };
                ok && d >= *distinct
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_lines() {
        let h =
            parse_hash_line("44d88612fea8a8f36de82e1278abb02f:68:Win.Test.EICAR_HDB-1").unwrap();
        assert_eq!(
            (h.kind, h.size, h.digest.len()),
            (HashKind::Md5, Some(68), 16)
        );
        let h = parse_hash_line(&format!("{}:*:X:73", "ab".repeat(32))).unwrap();
        assert_eq!((h.kind, h.size), (HashKind::Sha256, None));
        assert!(
            parse_hash_line("abc:1:X")
                .unwrap_err()
                .contains("hex digits")
        );
        assert!(
            parse_hash_line(&format!("{}:x:X", "0".repeat(32)))
                .unwrap_err()
                .contains("size")
        );
        assert!(parse_hash_line(&format!("{}:1", "0".repeat(32))).is_err());
        assert!(parse_hash_line(&format!("{}:1:", "0".repeat(32))).is_err());
        assert!(parse_hash_line(&format!("{}:1:X", "g".repeat(32))).is_err());
    }

    #[test]
    fn ndb_lines() {
        let (n, s) = parse_ndb_line("Test.A:0:*:41424344").unwrap();
        assert_eq!(
            (n.as_str(), s.anchor, s.target),
            ("Test.A", Anchor::Any, Target::Any)
        );
        let (_, s) = parse_ndb_line("T:0:EOF-10,2:41424344").unwrap();
        assert_eq!(s.anchor, Anchor::Eof { back: 10, shift: 2 });
        let (_, s) = parse_ndb_line("T:6:EP-4:41424344:51").unwrap();
        assert_eq!(
            (s.anchor, s.target),
            (
                Anchor::Ep {
                    delta: -4,
                    shift: 0
                },
                Target::Elf
            )
        );
        let (_, s) = parse_ndb_line("T:0:100,5:41424344").unwrap();
        assert_eq!(
            s.anchor,
            Anchor::Abs {
                start: 100,
                shift: 5
            }
        );
        assert!(
            parse_ndb_line("T:3:*:41424344")
                .unwrap_err()
                .contains("normalises")
        );
        assert!(
            parse_ndb_line("T:0:EP+0:41424344")
                .unwrap_err()
                .contains("EP")
        );
        assert!(
            parse_ndb_line("T:1:S1+0:41424344")
                .unwrap_err()
                .contains("section")
        );
        assert!(
            parse_ndb_line("T:0:*:4142434")
                .unwrap_err()
                .contains("hex pattern")
        );
        assert!(parse_ndb_line("T:0:*").is_err());
    }

    #[test]
    fn ldb_lines_and_expressions() {
        let l =
            parse_ldb_line("Test.L;Engine:51-255,Target:0;0&(1|2);41424344;45464748::i;0:4d5a9000")
                .unwrap();
        assert_eq!(l.subs.len(), 3);
        assert!(l.subs[1][0].fold);
        assert_eq!(l.subs[2][0].anchor, Anchor::Abs { start: 0, shift: 0 });
        assert!(l.eval_counts(&[1, 0, 1]));
        assert!(!l.eval_counts(&[1, 0, 0]));
        let l = parse_ldb_line("T;Target:0;0>2;41424344::wa").unwrap();
        assert_eq!(l.subs[0].len(), 2, "ascii and wide forms");
        assert!(l.eval_counts(&[3]) && !l.eval_counts(&[2]));
        let l = parse_ldb_line("T;Target:0;(0|1)>1,2;41424344;45464748").unwrap();
        assert!(!l.eval_counts(&[2, 0]) && l.eval_counts(&[1, 1]));
        assert!(l.monotonic, "a > count only grows");
        assert!(
            parse_ldb_line("T;Target:0;0&3;41424344")
                .unwrap_err()
                .contains("does not exist")
        );
        assert!(
            parse_ldb_line("T;Target:0;0;4142/abc/")
                .unwrap_err()
                .contains("PCRE")
        );
        assert!(
            parse_ldb_line("T;Container:CL_TYPE_ZIP;0;41424344")
                .unwrap_err()
                .contains("not supported")
        );
        assert!(
            parse_ldb_line("T;Target:0;(0;41424344")
                .unwrap_err()
                .contains("')'")
        );
        assert!(!parse_ldb_line("T;Target:0;0=1;41424344").unwrap().monotonic);
    }

    impl LogicalSig {
        fn eval_counts(&self, c: &[u32]) -> bool {
            self.expr.eval(c)
        }
    }
}
