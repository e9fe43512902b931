//! Path globs as the policy image stores them, and their matching.
//!
//! A pattern is matched on its text directly: there is no compiled form beyond the validation
//! done once by [`validate`] when the policy is built. Matching works on two levels, path
//! segments (split at `/`) and bytes within one segment:
//!
//! - `**` as a whole segment matches zero or more segments;
//! - `*` matches any run of bytes within one segment, `?` exactly one byte;
//! - every other byte matches itself.
//!
//! Each level is the classic wildcard walk with one backtracking point (the last star seen),
//! which is complete for patterns whose only variable-length element is one kind of star: at
//! the segment level that star is `**`, and a pattern segment matches exactly one path segment.
//! It runs in O(pattern × text) time, never allocates and never recurses, so it may run inside
//! the shim's hooks on any bytes a process passes.

/// Why a pattern was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobError {
    /// The pattern is empty (or only `/`, which would name the root with an empty remainder).
    Empty,
    /// The pattern holds a NUL byte.
    Nul,
    /// `**` next to other bytes in one segment (`a**`, `**b`): write `*` or a `**` segment.
    DoubleStarInSegment,
    /// An empty segment (`//`), a `.` or a `..` segment: write the normalised path.
    NotNormalised,
    /// Longer than [`MAX_PATTERN`].
    TooLong,
}

impl std::fmt::Display for GlobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            GlobError::Empty => "empty pattern",
            GlobError::Nul => "NUL byte in pattern",
            GlobError::DoubleStarInSegment => {
                "`**` must be a whole path segment (like /var/**/log); use `*` within a segment"
            }
            GlobError::NotNormalised => {
                "empty, `.` or `..` segment: write the path without `//`, `/./` or `/../`"
            }
            GlobError::TooLong => "pattern longer than 4096 bytes",
        })
    }
}

impl std::error::Error for GlobError {}

/// The longest pattern accepted (`PATH_MAX`).
pub const MAX_PATTERN: usize = 4096;

/// Checks a relative pattern (segments separated by `/`, no leading `/`): every segment
/// non-empty, no `.` or `..`, `**` only as a whole segment. The empty pattern is valid here and
/// matches only the empty text.
pub fn validate_relative(pattern: &[u8]) -> Result<(), GlobError> {
    if pattern.len() > MAX_PATTERN {
        return Err(GlobError::TooLong);
    }
    if pattern.contains(&0) {
        return Err(GlobError::Nul);
    }
    if pattern.is_empty() {
        return Ok(());
    }
    for seg in pattern.split(|&b| b == b'/') {
        if seg.is_empty() || seg == b"." || seg == b".." {
            return Err(GlobError::NotNormalised);
        }
        if seg != b"**" && seg.windows(2).any(|w| w == b"**") {
            return Err(GlobError::DoubleStarInSegment);
        }
    }
    Ok(())
}

/// Checks an absolute pattern (`/` followed by a valid relative pattern). `/` alone is refused:
/// write `/**` for everything.
pub fn validate(pattern: &[u8]) -> Result<(), GlobError> {
    match pattern.split_first() {
        Some((b'/', rest)) if !rest.is_empty() => validate_relative(rest),
        Some((b'/', _)) | None => Err(GlobError::Empty),
        Some(_) => Err(GlobError::NotNormalised),
    }
}

/// True if `segment` holds a wildcard (`*` or `?`).
pub fn has_wildcard(segment: &[u8]) -> bool {
    segment.iter().any(|&b| b == b'*' || b == b'?')
}

/// The segment of `s` that starts at `at`, and where the next one starts (past the `/`).
/// `at >= s.len()` means there are no more segments.
#[inline]
fn segment(s: &[u8], at: usize) -> (&[u8], usize) {
    let rest = s.get(at..).unwrap_or(&[]);
    match rest.iter().position(|&b| b == b'/') {
        Some(i) => (&rest[..i], at + i + 1),
        None => (rest, s.len() + 1),
    }
}

/// Matches a relative path `text` (normalised: no empty, `.` or `..` segments) against a
/// relative `pattern` (see [`validate_relative`]). The empty pattern matches only the empty
/// text; `**` matches everything, the empty text included.
pub fn matches(pattern: &[u8], text: &[u8]) -> bool {
    let (plen, tlen) = (pattern.len(), text.len());
    let (mut pi, mut ti) = (0usize, 0usize);
    // The pattern position just after the last `**`, and the text position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < plen {
            let (pseg, pnext) = segment(pattern, pi);
            if pseg == b"**" {
                star = Some((pnext, ti));
                pi = pnext;
                continue;
            }
            if ti < tlen {
                let (tseg, tnext) = segment(text, ti);
                if matches_segment(pseg, tseg) {
                    pi = pnext;
                    ti = tnext;
                    continue;
                }
            }
        } else if ti >= tlen {
            return true;
        }
        // Mismatch: let the last `**` take one more segment, if any is left.
        match star {
            Some((after, tried)) if tried < tlen => {
                let (_, next) = segment(text, tried);
                star = Some((after, next));
                pi = after;
                ti = next;
            }
            _ => return false,
        }
    }
}

/// Matches one segment (or any byte string, `/` being an ordinary byte here) against a pattern
/// of literal bytes, `*` (any run) and `?` (one byte).
pub fn matches_segment(pattern: &[u8], text: &[u8]) -> bool {
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < text.len() {
        match pattern.get(pi) {
            Some(b'*') => {
                star = Some((pi + 1, ti));
                pi += 1;
            }
            Some(&p) if p == b'?' || p == text[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((after, tried)) => {
                    star = Some((after, tried + 1));
                    pi = after;
                    ti = tried + 1;
                }
                None => return false,
            },
        }
    }
    pattern[pi.min(pattern.len())..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn segments_and_stars() {
        assert!(matches(b"", b""));
        assert!(!matches(b"", b"a"));
        assert!(matches(b"**", b""));
        assert!(matches(b"**", b"a/b/c"));
        assert!(matches(b"shadow", b"shadow"));
        assert!(!matches(b"shadow", b"shadow/x"));
        assert!(matches(b"*.key", b"server.key"));
        assert!(!matches(b"*.key", b"ssl/server.key"));
        assert!(matches(b"**/*.key", b"ssl/server.key"));
        assert!(matches(b"**/*.key", b"server.key"));
        assert!(matches(b"*/.ssh/**", b"alice/.ssh/id_rsa"));
        assert!(matches(b"*/.ssh/**", b"alice/.ssh"));
        assert!(!matches(b"*/.ssh/**", b"alice/x/.ssh/id_rsa"));
        assert!(matches(b"a/**/b/**/c", b"a/x/b/y/z/c"));
        assert!(matches(b"a/**/b/**/c", b"a/b/c"));
        assert!(!matches(b"a/**/b/**/c", b"a/x/y/c"));
        assert!(matches(b"ssh_host_*_key", b"ssh_host_rsa_key"));
        assert!(!matches(b"ssh_host_*_key", b"ssh_host_rsa_key.pub"));
        assert!(matches(b"?", b"x"));
        assert!(!matches(b"?", b"xy"));
    }

    #[test]
    fn segment_level_backtracking() {
        // The first `*a` candidate must be given up for a later one.
        assert!(matches_segment(b"*a*b", b"xaxxab"));
        assert!(matches_segment(b"a*", b"a"));
        assert!(matches_segment(b"***", b""));
        assert!(!matches_segment(b"a*c", b"abcd"));
        assert!(matches_segment(b"*/sh", b"/bin/sh"));
    }

    #[test]
    fn validation_names_the_fault() {
        assert_eq!(validate(b"/etc/shadow"), Ok(()));
        assert_eq!(validate(b"/**"), Ok(()));
        assert_eq!(validate(b"/"), Err(GlobError::Empty));
        assert_eq!(validate(b""), Err(GlobError::Empty));
        assert_eq!(validate(b"etc"), Err(GlobError::NotNormalised));
        assert_eq!(validate(b"/etc//x"), Err(GlobError::NotNormalised));
        assert_eq!(validate(b"/etc/../x"), Err(GlobError::NotNormalised));
        assert_eq!(validate(b"/etc/"), Err(GlobError::NotNormalised));
        assert_eq!(validate(b"/a**"), Err(GlobError::DoubleStarInSegment));
        assert_eq!(validate(b"/a\0"), Err(GlobError::Nul));
    }

    /// A recursive reference matcher written straight from the definition: segments first, then
    /// bytes. Slow (exponential at worst) but obviously right.
    fn reference(pattern: &[&[u8]], text: &[&[u8]]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some((p, prest)) if *p == b"**" => {
                (0..=text.len()).any(|skip| reference(prest, &text[skip..]))
            }
            Some((p, prest)) => match text.split_first() {
                Some((t, trest)) => reference_segment(p, t) && reference(prest, trest),
                None => false,
            },
        }
    }

    fn reference_segment(p: &[u8], t: &[u8]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some((b'*', rest)) => (0..=t.len()).any(|skip| reference_segment(rest, &t[skip..])),
            Some((&c, rest)) => match t.split_first() {
                Some((&d, trest)) => (c == b'?' || c == d) && reference_segment(rest, trest),
                None => false,
            },
        }
    }

    fn split(s: &[u8]) -> Vec<&[u8]> {
        if s.is_empty() {
            Vec::new()
        } else {
            s.split(|&b| b == b'/').collect()
        }
    }

    fn pattern_segment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("**".to_owned()),
            "[ab*?]{1,4}".prop_filter("no ** inside a segment", |s| !s.contains("**")),
        ]
    }

    proptest! {
        #[test]
        fn agrees_with_the_reference(
            p in proptest::collection::vec(pattern_segment(), 0..5),
            t in proptest::collection::vec("[ab]{1,3}", 0..6),
        ) {
            let pattern = p.join("/");
            let text = t.join("/");
            prop_assert_eq!(validate_relative(pattern.as_bytes()), Ok(()));
            let want = reference(&split(pattern.as_bytes()), &split(text.as_bytes()));
            prop_assert_eq!(matches(pattern.as_bytes(), text.as_bytes()), want,
                "pattern {:?} text {:?}", pattern, text);
        }

        #[test]
        fn any_bytes_never_panic(p in proptest::collection::vec(any::<u8>(), 0..40),
                                 t in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = matches(&p, &t);
            let _ = matches_segment(&p, &t);
            let _ = validate(&p);
        }
    }
}
