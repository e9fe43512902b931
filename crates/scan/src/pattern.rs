//! Body patterns: ClamAV's hex signature language (`.ndb` bodies, `.ldb` subsignatures) parsed
//! into segments of tokens, each segment with one fixed atom for the prefilter, and the
//! verifier that confirms a candidate around an atom hit.
//!
//! A pattern is a list of segments separated by unbounded gaps (`*`, `{n-}`); inside a segment
//! every gap is bounded, so a segment spans at most [`MAX_SEGMENT_SPAN`] bytes and can be
//! verified from a window of the stream. Verification is a breadth-first walk over the set of
//! positions a segment can reach (no backtracking), so its cost is bounded by the segment's
//! tokens times the width of its gaps, whatever bytes the file holds.
//!
//! This module parses signature text, which is trusted no more than the file it came from:
//! every malformed form is an error naming the byte offset in the hex string, never a panic.

/// The longest a segment (a part of a pattern between unbounded gaps) may span. Longer bounded
/// gaps make the streaming window, and the verifier's position sets, too big.
pub const MAX_SEGMENT_SPAN: usize = 64 * 1024;

/// Most alternatives in one `(aa|bb|...)` group.
const MAX_ALTERNATIVES: usize = 256;

/// One element of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// Exactly this byte.
    Byte(u8),
    /// A byte whose masked bits equal `value` (`a?`, `?a`).
    Masked { value: u8, mask: u8 },
    /// Any one byte (`??`).
    Any,
    /// One of these byte strings (`(aa|bbcc)`); each at least one byte long.
    Alt(Vec<Vec<u8>>),
    /// Any one byte but these (`!(aa|bb)`).
    NotAlt(Vec<u8>),
    /// Between `min` and `max` bytes of anything (`{n-m}`, `{n}`, `{-m}`, `[n-m]`).
    Gap { min: u32, max: u32 },
}

/// A part of a pattern with bounded span, found through its atom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment {
    pub tokens: Vec<Token>,
    /// The fixed bytes the prefilter looks for.
    pub atom: Vec<u8>,
    /// Index of the token where the atom starts (a run of `Byte` tokens).
    pub atom_token: usize,
    /// Fewest and most bytes the tokens before the atom take.
    pub prefix_min: usize,
    pub prefix_max: usize,
    /// Most bytes the whole segment spans.
    pub max_len: usize,
    /// Fewest bytes of anything between the previous segment's end and this one's start.
    pub gap_before: u64,
}

/// A parsed body pattern: segments in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    pub segments: Vec<Segment>,
}

/// Why a hex pattern was refused; `at` is the byte offset in the hex text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("hex pattern at byte {at}: {what}")]
pub struct PatternError {
    pub at: usize,
    pub what: String,
}

fn err<T>(at: usize, what: impl Into<String>) -> Result<T, PatternError> {
    Err(PatternError {
        at,
        what: what.into(),
    })
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Parses a decimal number at `s[*i..]`.
fn number(s: &[u8], i: &mut usize) -> Option<u32> {
    let start = *i;
    let mut v: u32 = 0;
    while let Some(&c) = s.get(*i) {
        if !c.is_ascii_digit() {
            break;
        }
        v = v.checked_mul(10)?.checked_add(u32::from(c - b'0'))?;
        *i += 1;
    }
    (*i > start).then_some(v)
}

/// A token or a segment break as read from the hex text.
enum Item {
    Token(Token),
    /// An unbounded gap of at least this many bytes (`*` is 0, `{n-}` is n).
    Break(u64),
}

/// Reads ClamAV hex: pairs of hex digits, `??`, `a?`, `?a`, `*`, `{n}`, `{n-m}`, `{-m}`,
/// `{n-}`, `[n-m]`, `(aa|bb)`, `!(aa|bb)`.
fn tokenize(hex: &[u8]) -> Result<Vec<Item>, PatternError> {
    let mut items = Vec::new();
    let mut i = 0;
    while i < hex.len() {
        let c = hex[i];
        match c {
            b'*' => {
                items.push(Item::Break(0));
                i += 1;
            }
            b'{' | b'[' => {
                let close = if c == b'{' { b'}' } else { b']' };
                let at = i;
                i += 1;
                let min = number(hex, &mut i);
                let (min, max) = if hex.get(i) == Some(&b'-') {
                    i += 1;
                    let max = number(hex, &mut i);
                    (min.unwrap_or(0), max)
                } else {
                    let Some(n) = min else {
                        return err(at, "a jump needs a number");
                    };
                    (n, Some(n))
                };
                if hex.get(i) != Some(&close) {
                    return err(
                        at,
                        format!("unterminated jump, expected '{}'", close as char),
                    );
                }
                i += 1;
                if c == b'[' && !single_byte_side(&items, &hex[i..]) {
                    return err(
                        at,
                        "[n-m] needs a single byte on one side (aa[n-m]HEX or HEX[n-m]aa)",
                    );
                }
                match max {
                    Some(max) if max < min => return err(at, format!("jump {{{min}-{max}}}")),
                    Some(max) => items.push(Item::Token(Token::Gap { min, max })),
                    None if c == b'[' => return err(at, "[n-] needs an upper bound"),
                    None => items.push(Item::Break(u64::from(min))),
                }
            }
            b'!' | b'(' => {
                let at = i;
                let negated = c == b'!';
                if negated {
                    i += 1;
                    if hex.get(i) != Some(&b'(') {
                        return err(at, "'!' must be followed by '('");
                    }
                }
                i += 1;
                let Some(len) = hex[i..].iter().position(|&b| b == b')') else {
                    return err(at, "unterminated '('");
                };
                let body = &hex[i..i + len];
                i += len + 1;
                if matches!(body, b"B" | b"L" | b"W") {
                    return err(at, format!("anchor ({}) is not supported", body[0] as char));
                }
                let mut alts = Vec::new();
                for (k, alt) in body.split(|&b| b == b'|').enumerate() {
                    if alt.is_empty() || alt.len() % 2 != 0 {
                        return err(at, format!("alternative {k} is not whole hex bytes"));
                    }
                    let mut bytes = Vec::with_capacity(alt.len() / 2);
                    for pair in alt.chunks_exact(2) {
                        match (hex_val(pair[0]), hex_val(pair[1])) {
                            (Some(h), Some(l)) => bytes.push(h << 4 | l),
                            _ => return err(at, format!("alternative {k} has a non-hex digit")),
                        }
                    }
                    alts.push(bytes);
                }
                if alts.len() > MAX_ALTERNATIVES {
                    return err(at, "more than 256 alternatives");
                }
                if negated {
                    if alts.iter().any(|a| a.len() != 1) {
                        return err(at, "negated alternatives must be single bytes");
                    }
                    items.push(Item::Token(Token::NotAlt(
                        alts.into_iter().map(|a| a[0]).collect(),
                    )));
                } else {
                    items.push(Item::Token(Token::Alt(alts)));
                }
            }
            _ => {
                let Some(&d) = hex.get(i + 1) else {
                    return err(i, "odd number of hex digits");
                };
                let tok = match (c, d) {
                    (b'?', b'?') => Token::Any,
                    (b'?', l) => match hex_val(l) {
                        Some(l) => Token::Masked {
                            value: l,
                            mask: 0x0f,
                        },
                        None => return err(i, format!("bad hex digit {:?}", l as char)),
                    },
                    (h, b'?') => match hex_val(h) {
                        Some(h) => Token::Masked {
                            value: h << 4,
                            mask: 0xf0,
                        },
                        None => return err(i, format!("bad hex digit {:?}", h as char)),
                    },
                    (h, l) => match (hex_val(h), hex_val(l)) {
                        (Some(h), Some(l)) => Token::Byte(h << 4 | l),
                        _ => {
                            let bad = if hex_val(h).is_none() { h } else { l };
                            return err(i, format!("bad hex character {:?}", bad as char));
                        }
                    },
                };
                items.push(Item::Token(tok));
                i += 2;
            }
        }
    }
    Ok(items)
}

/// ClamAV's rule for `[n-m]`: the byte before it stands alone (no byte token before that), or
/// the hex after it is a single byte followed by no further byte.
fn single_byte_side(before: &[Item], after: &[u8]) -> bool {
    let is_byte = |i: Option<&Item>| matches!(i, Some(Item::Token(Token::Byte(_))));
    let n = before.len();
    let lone_before =
        n >= 1 && is_byte(before.get(n - 1)) && (n == 1 || !is_byte(before.get(n - 2)));
    let hexdig = |c: Option<&u8>| c.is_some_and(u8::is_ascii_hexdigit);
    let lone_after = hexdig(after.first()) && hexdig(after.get(1)) && !hexdig(after.get(2));
    lone_before || lone_after
}

/// Fewest and most bytes a token takes.
fn token_span(t: &Token) -> (usize, usize) {
    match t {
        Token::Byte(_) | Token::Masked { .. } | Token::Any | Token::NotAlt(_) => (1, 1),
        Token::Alt(alts) => (
            alts.iter().map(Vec::len).min().unwrap_or(1),
            alts.iter().map(Vec::len).max().unwrap_or(1),
        ),
        Token::Gap { min, max } => (*min as usize, *max as usize),
    }
}

/// How useful a byte is in an atom: rare bytes score high, the padding and filler bytes that
/// fill files (zero, 0xff, space, int3, nop) low.
fn byte_score(b: u8) -> u32 {
    match b {
        0x00 | 0xff | 0x20 | 0xcc | 0x90 => 1,
        b'a'..=b'z' | b'0'..=b'9' => 6,
        b'A'..=b'Z' => 8,
        0x01..=0x1f | 0x7f..=0xfe => 10,
        _ => 8,
    }
}

/// Scores a candidate atom: byte scores plus a bonus for distinct bytes.
pub(crate) fn atom_score(a: &[u8]) -> u32 {
    let mut seen = [false; 256];
    let mut distinct = 0;
    let mut s = 0;
    for &b in a {
        s += byte_score(b);
        if !seen[b as usize] {
            seen[b as usize] = true;
            distinct += 1;
        }
    }
    s + 4 * distinct
}

/// The best window of at most [`crate::prefilter::ATOM_LEN`] bytes in `run`: its offset.
pub(crate) fn best_window(run: &[u8]) -> (usize, usize) {
    let len = run.len().min(crate::prefilter::ATOM_LEN);
    let mut best = (0, 0);
    for start in 0..=run.len() - len {
        let s = atom_score(&run[start..start + len]);
        if s > best.1 {
            best = (start, s);
        }
    }
    (best.0, len)
}

impl Segment {
    /// Builds a segment from its tokens: picks the atom, works out spans.
    fn new(tokens: Vec<Token>, gap_before: u64, hex_at: usize) -> Result<Self, PatternError> {
        if tokens.is_empty() {
            return err(hex_at, "empty pattern part (around '*')");
        }
        // Longest-scoring run of exact bytes.
        let mut best: Option<(usize, usize, usize, u32)> = None; // token, offset in run, len, score
        let mut i = 0;
        while i < tokens.len() {
            if let Token::Byte(_) = tokens[i] {
                let start = i;
                let mut run = Vec::new();
                while let Some(Token::Byte(b)) = tokens.get(i) {
                    run.push(*b);
                    i += 1;
                }
                let (off, len) = best_window(&run);
                let score = atom_score(&run[off..off + len]) + 16 * len as u32;
                if best.is_none_or(|b| score > b.3) {
                    best = Some((start + off, off, len, score));
                }
            } else {
                i += 1;
            }
        }
        let Some((atom_token, _, len, _)) = best else {
            return err(hex_at, "no fixed byte to anchor on (need at least two)");
        };
        if len < 2 {
            return err(hex_at, "no run of two fixed bytes to anchor on");
        }
        let atom = tokens[atom_token..atom_token + len]
            .iter()
            .map(|t| match t {
                Token::Byte(b) => *b,
                _ => unreachable!("atom tokens are bytes"),
            })
            .collect();
        let (mut prefix_min, mut prefix_max, mut max_len) = (0, 0, 0);
        for (k, t) in tokens.iter().enumerate() {
            let (lo, hi) = token_span(t);
            if k < atom_token {
                prefix_min += lo;
                prefix_max += hi;
            }
            max_len += hi;
        }
        if max_len > MAX_SEGMENT_SPAN {
            return err(
                hex_at,
                format!("a part spans up to {max_len} bytes, more than {MAX_SEGMENT_SPAN}"),
            );
        }
        Ok(Segment {
            tokens,
            atom,
            atom_token,
            prefix_min,
            prefix_max,
            max_len,
            gap_before,
        })
    }

    /// Verifies the segment in `buf` starting at any position in `starts` (sorted, deduplicated,
    /// in bounds): the earliest end of a match, if any. `buf` must hold `max_len` bytes after
    /// the last start, or end where the file ends.
    pub(crate) fn match_from(
        &self,
        buf: &[u8],
        starts: &[usize],
        fold: bool,
        scratch: &mut Positions,
    ) -> Option<usize> {
        let same = |c: u8, b: u8| c == b || (fold && c.eq_ignore_ascii_case(&b));
        scratch.cur.clear();
        scratch.cur.extend_from_slice(starts);
        for t in &self.tokens {
            scratch.next.clear();
            if let Token::Gap { min, max } = t {
                // `cur` is sorted: the union of the ranges is built once, in order, so a gap
                // costs what it outputs, not positions times width.
                let mut next_free = 0usize;
                for &p in &scratch.cur {
                    let lo = (p + *min as usize).max(next_free);
                    let hi = (p + *max as usize).min(buf.len());
                    if lo <= hi {
                        scratch.next.extend(lo..=hi);
                        next_free = hi + 1;
                    }
                }
                #[cfg(test)]
                {
                    scratch.steps += scratch.next.len();
                }
                std::mem::swap(&mut scratch.cur, &mut scratch.next);
                if scratch.cur.is_empty() {
                    return None;
                }
                continue;
            }
            for &p in &scratch.cur {
                match t {
                    Token::Byte(b) => {
                        if buf.get(p).is_some_and(|&c| same(c, *b)) {
                            scratch.next.push(p + 1);
                        }
                    }
                    Token::Masked { value, mask } => {
                        if buf.get(p).is_some_and(|&c| c & mask == *value) {
                            scratch.next.push(p + 1);
                        }
                    }
                    Token::Any => {
                        if p < buf.len() {
                            scratch.next.push(p + 1);
                        }
                    }
                    Token::NotAlt(set) => {
                        if buf.get(p).is_some_and(|c| !set.contains(c)) {
                            scratch.next.push(p + 1);
                        }
                    }
                    Token::Alt(alts) => {
                        for a in alts {
                            let hit = buf
                                .get(p..p + a.len())
                                .is_some_and(|w| w.iter().zip(a).all(|(&c, &b)| same(c, b)));
                            if hit {
                                scratch.next.push(p + a.len());
                            }
                        }
                    }
                    Token::Gap { .. } => unreachable!("gaps are handled above"),
                }
            }
            #[cfg(test)]
            {
                scratch.steps += scratch.next.len();
            }
            scratch.next.sort_unstable();
            scratch.next.dedup();
            std::mem::swap(&mut scratch.cur, &mut scratch.next);
            if scratch.cur.is_empty() {
                return None;
            }
        }
        scratch.cur.first().copied()
    }
}

/// Reusable position sets for [`Segment::match_from`].
#[derive(Debug, Default)]
pub(crate) struct Positions {
    cur: Vec<usize>,
    next: Vec<usize>,
    /// Positions pushed so far, before deduplication (the verifier's work), for tests.
    #[cfg(test)]
    pub steps: usize,
}

impl Pattern {
    /// Parses ClamAV hex pattern text.
    pub(crate) fn parse(hex: &str) -> Result<Self, PatternError> {
        let bytes = hex.as_bytes();
        if bytes.is_empty() {
            return err(0, "empty pattern");
        }
        let items = tokenize(bytes)?;
        let mut segments = Vec::new();
        let mut tokens = Vec::new();
        let mut gap: u64 = 0;
        for item in items {
            match item {
                Item::Token(t) => tokens.push(t),
                Item::Break(min) => {
                    segments.push(Segment::new(std::mem::take(&mut tokens), gap, 0)?);
                    gap = min;
                }
            }
        }
        segments.push(Segment::new(tokens, gap, bytes.len())?);
        Ok(Pattern { segments })
    }

    /// A pattern of one literal segment (YARA text strings, case variants handled by the caller).
    pub(crate) fn literal(bytes: &[u8]) -> Option<Self> {
        let tokens = bytes.iter().map(|&b| Token::Byte(b)).collect();
        Segment::new(tokens, 0, 0)
            .ok()
            .map(|s| Pattern { segments: vec![s] })
    }

    /// A pattern from tokens already built (YARA hex strings).
    pub(crate) fn from_tokens(parts: Vec<(Vec<Token>, u64)>) -> Result<Self, PatternError> {
        let segments = parts
            .into_iter()
            .map(|(t, gap)| Segment::new(t, gap, 0))
            .collect::<Result<_, _>>()?;
        Ok(Pattern { segments })
    }

    /// Does the pattern occur anywhere in `data`? (A plain reference search used by tests and
    /// by signatures evaluated on a tail window; the scanner finds candidates through atoms.)
    #[cfg(test)]
    pub(crate) fn find_in(
        &self,
        data: &[u8],
        first_start: std::ops::RangeInclusive<usize>,
    ) -> Option<usize> {
        let mut scratch = Positions::default();
        let first = &self.segments[0];
        let hi = (*first_start.end()).min(data.len());
        if *first_start.start() > hi {
            return None;
        }
        let starts: Vec<usize> = (*first_start.start()..=hi).collect();
        let mut end = first.match_from(data, &starts, false, &mut scratch)?;
        for seg in &self.segments[1..] {
            let from = end + seg.gap_before as usize;
            if from > data.len() {
                return None;
            }
            let starts: Vec<usize> = (from..=data.len()).collect();
            end = seg.match_from(data, &starts, false, &mut scratch)?;
        }
        Some(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(hex: &str, data: &[u8]) -> bool {
        let p = Pattern::parse(hex).unwrap();
        (0..=data.len()).any(|s| p.find_in(data, s..=s).is_some())
    }

    #[test]
    fn literal_wildcards_and_nibbles() {
        assert!(matches("414243", b"xxABCxx"));
        assert!(!matches("414243", b"xxABxCx"));
        assert!(matches("4142??43", b"AB_C"));
        assert!(matches("4142?143", b"ABqC")); // 'q' = 0x71
        assert!(matches("41424?43", b"ABOC")); // 'O' = 0x4f
        assert!(!matches("41424?43", b"AB_C"));
    }

    #[test]
    fn gaps_and_breaks() {
        assert!(matches("4142{2-3}4344", b"AB..CD"));
        assert!(matches("4142{2-3}4344", b"AB...CD"));
        assert!(!matches("4142{2-3}4344", b"AB....CD"));
        assert!(!matches("4142{2-3}4344", b"AB.CD"));
        assert!(matches("4142{2}4344", b"AB..CD"));
        assert!(matches("4142{-2}4344", b"ABCD"));
        assert!(matches("4142[1-2]43", b"AB.C"));
        assert!(
            Pattern::parse("4142[1-2]4344").is_err(),
            "ClamAV wants one side a single byte"
        );
        assert!(matches("4142*4344", b"AB and much later CD"));
        assert!(!matches("4142*4344", b"CD before AB"));
        assert!(matches("4142{3-}4344", b"AB...CD"));
        assert!(!matches("4142{3-}4344", b"AB..CD"));
    }

    #[test]
    fn wide_gaps_cost_what_they_output() {
        // Two gaps of 30,000 over 60,000 bytes: positions times width would be 9e8 steps.
        let p = Pattern::parse("4142{0-30000}??{0-30000}4344").unwrap();
        let mut data = vec![b'.'; 60_010];
        data[..2].copy_from_slice(b"AB");
        data[60_000..60_002].copy_from_slice(b"CD");
        let seg = &p.segments[0];
        let mut scratch = Positions::default();
        assert!(seg.match_from(&data, &[0], false, &mut scratch).is_some());
        assert!(scratch.steps < 200_000, "{} position steps", scratch.steps);
    }

    #[test]
    fn alternatives() {
        assert!(matches("4142(43|4444)45", b"ABCE"));
        assert!(matches("4142(43|4444)45", b"ABDDE"));
        assert!(!matches("4142(43|4444)45", b"ABDE"));
        assert!(matches("4142!(43|44)45", b"ABXE"));
        assert!(!matches("4142!(43|44)45", b"ABCE"));
    }

    #[test]
    fn errors_name_the_offset() {
        assert_eq!(Pattern::parse("41424").unwrap_err().at, 4);
        assert_eq!(Pattern::parse("4142zz").unwrap_err().at, 4);
        assert!(
            Pattern::parse("4142{5-2}4344")
                .unwrap_err()
                .what
                .contains("jump")
        );
        assert!(
            Pattern::parse("41(42")
                .unwrap_err()
                .what
                .contains("unterminated")
        );
        assert!(
            Pattern::parse("??41??").is_err(),
            "one fixed byte is not enough"
        );
        assert!(Pattern::parse("4142*").is_err(), "empty part after '*'");
        assert!(Pattern::parse("4142{0-70000}4344").is_err(), "span cap");
        assert!(
            Pattern::parse("(B)4142")
                .unwrap_err()
                .what
                .contains("anchor")
        );
    }

    #[test]
    fn atom_prefers_rare_bytes_and_spans_are_right() {
        let p = Pattern::parse("0000000000??4d5a9000e8").unwrap();
        let s = &p.segments[0];
        assert_eq!(s.atom, vec![0x5a, 0x90, 0x00, 0xe8], "not the zeros");
        assert_eq!((s.prefix_min, s.prefix_max), (7, 7));
        assert_eq!(s.max_len, 11);
        let p = Pattern::parse("41{1-4}42434445").unwrap();
        assert_eq!((p.segments[0].prefix_min, p.segments[0].prefix_max), (2, 5));
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Any text in the hex alphabet parses or fails with an offset inside the text.
        #[test]
        fn parse_never_panics(hex in "[0-9a-fA-F?*{}()|!\\[\\]-]{0,40}") {
            match Pattern::parse(&hex) {
                Ok(p) => {
                    for s in &p.segments {
                        prop_assert!(s.atom.len() >= 2);
                        prop_assert!(s.prefix_min <= s.prefix_max && s.prefix_max < s.max_len);
                        prop_assert!(s.max_len <= MAX_SEGMENT_SPAN);
                    }
                }
                Err(e) => prop_assert!(e.at <= hex.len(), "{e}"),
            }
        }
    }
}
