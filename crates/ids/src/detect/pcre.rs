//! `pcre` expressions compiled once at engine build: by the `regex` crate when it gives the
//! same answer as PCRE (most rule expressions), else by PCRE2 with its JIT, which Suricata
//! itself uses (backreferences, lookaround, possessive quantifiers, `\v`, PCRE's `$`).
//!
//! Both engines run over bytes without Unicode, as Suricata runs PCRE2. Matching never
//! allocates (the `regex` crate and the `pcre2` crate keep per-thread scratch in pools).

use crate::rules::Pcre;

/// Which engine runs an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegexEngine {
    /// The `regex` crate (a lazy DFA and friends; no backtracking).
    Rust,
    /// PCRE2 with JIT.
    Pcre2,
}

/// A compiled `pcre` expression.
pub(crate) enum CompiledRegex {
    Rust(regex::bytes::Regex),
    Pcre2(pcre2::bytes::Regex),
}

impl std::fmt::Debug for CompiledRegex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CompiledRegex::Rust(r) => write!(f, "Rust({:?})", r.as_str()),
            CompiledRegex::Pcre2(r) => write!(f, "Pcre2({:?})", r.as_str()),
        }
    }
}

impl CompiledRegex {
    /// Compiles with the `regex` crate when that is equivalent, else with PCRE2; `force`
    /// picks one engine (for benchmarks and differential tests).
    pub(crate) fn compile(p: &Pcre, force: Option<RegexEngine>) -> Result<CompiledRegex, String> {
        let want_rust = match force {
            Some(RegexEngine::Pcre2) => false,
            Some(RegexEngine::Rust) => true,
            None => rust_equivalent(p),
        };
        if want_rust {
            match rust_regex(p) {
                Ok(r) => return Ok(CompiledRegex::Rust(r)),
                Err(e) if force == Some(RegexEngine::Rust) => return Err(e),
                Err(_) => {}
            }
        }
        pcre2_regex(p, true).map(CompiledRegex::Pcre2)
    }

    /// Which engine this is.
    pub(crate) fn engine(&self) -> RegexEngine {
        match self {
            CompiledRegex::Rust(_) => RegexEngine::Rust,
            CompiledRegex::Pcre2(_) => RegexEngine::Pcre2,
        }
    }

    /// The first match in `hay` at or after `start` (anchors such as `^` still see the whole
    /// of `hay`). A PCRE2 error (match limit) counts as no match, as in Suricata.
    #[inline]
    pub(crate) fn find_at(&self, hay: &[u8], start: usize) -> Option<(usize, usize)> {
        if start > hay.len() {
            return None;
        }
        match self {
            CompiledRegex::Rust(r) => r.find_at(hay, start).map(|m| (m.start(), m.end())),
            CompiledRegex::Pcre2(r) => match r.find_at(hay, start) {
                Ok(Some(m)) => Some((m.start(), m.end())),
                _ => None,
            },
        }
    }
}

/// Checks that PCRE2 accepts the expression (what Suricata requires of a rule).
pub fn regex_check(p: &Pcre) -> Result<(), String> {
    pcre2_regex(p, false).map(|_| ())
}

/// Whether the `regex` crate gives PCRE's answer for this expression: no flags it lacks, and
/// no syntax that it reads differently while still compiling (`$` before a final newline,
/// `\v` as a class).
fn rust_equivalent(p: &Pcre) -> bool {
    if p.extended || p.anchored {
        return false;
    }
    let mut escaped = false;
    let mut in_class = false;
    for c in p.source.chars() {
        if escaped {
            escaped = false;
            if c == 'v' || c == 'Z' || c == 'G' {
                return false;
            }
            continue;
        }
        match c {
            '\\' => escaped = true,
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '$' if !in_class && !p.multiline && !p.dollar_endonly => return false,
            _ => {}
        }
    }
    true
}

fn rust_regex(p: &Pcre) -> Result<regex::bytes::Regex, String> {
    regex::bytes::RegexBuilder::new(&p.source)
        .unicode(false)
        .case_insensitive(p.caseless)
        .dot_matches_new_line(p.dotall)
        .multi_line(p.multiline)
        .swap_greed(p.ungreedy)
        .size_limit(16 << 20)
        .build()
        .map_err(|e| e.to_string())
}

/// The expression as PCRE2 compiles it: `A` becomes a leading `\G` (anchored where the search
/// starts), `E` turns `$` outside classes into `\z`, `G` is `(?U)`.
fn pcre2_source(p: &Pcre) -> String {
    let mut s = String::with_capacity(p.source.len() + 8);
    if p.ungreedy {
        s.push_str("(?U)");
    }
    if p.anchored {
        s.push_str("\\G(?:");
    }
    if p.dollar_endonly && !p.multiline {
        let mut escaped = false;
        let mut in_class = false;
        for c in p.source.chars() {
            if escaped {
                escaped = false;
                s.push(c);
                continue;
            }
            match c {
                '\\' => escaped = true,
                '[' if !in_class => in_class = true,
                ']' if in_class => in_class = false,
                '$' if !in_class => {
                    s.push_str("\\z");
                    continue;
                }
                _ => {}
            }
            s.push(c);
        }
    } else {
        s.push_str(&p.source);
    }
    if p.anchored {
        s.push(')');
    }
    s
}

fn pcre2_regex(p: &Pcre, jit: bool) -> Result<pcre2::bytes::Regex, String> {
    pcre2::bytes::RegexBuilder::new()
        .caseless(p.caseless)
        .dotall(p.dotall)
        .multi_line(p.multiline)
        .extended(p.extended)
        .utf(false)
        .ucp(false)
        .jit_if_available(jit)
        .build(&pcre2_source(p))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcre(src: &str, flags: &str) -> Pcre {
        Pcre {
            source: src.to_owned(),
            negated: false,
            caseless: flags.contains('i'),
            dotall: flags.contains('s'),
            multiline: flags.contains('m'),
            extended: flags.contains('x'),
            anchored: flags.contains('A'),
            dollar_endonly: flags.contains('E'),
            ungreedy: flags.contains('G'),
            relative: flags.contains('R'),
        }
    }

    fn both(p: &Pcre) -> [CompiledRegex; 2] {
        [
            CompiledRegex::compile(p, Some(RegexEngine::Rust)).unwrap(),
            CompiledRegex::compile(p, Some(RegexEngine::Pcre2)).unwrap(),
        ]
    }

    #[test]
    fn engine_choice() {
        let plain = CompiledRegex::compile(&pcre(r"UNION\s+SELECT", "i"), None).unwrap();
        assert_eq!(plain.engine(), RegexEngine::Rust);
        let backref = CompiledRegex::compile(&pcre(r"(a)\1", ""), None).unwrap();
        assert_eq!(backref.engine(), RegexEngine::Pcre2);
        let look = CompiledRegex::compile(&pcre(r"foo(?!bar)", ""), None).unwrap();
        assert_eq!(look.engine(), RegexEngine::Pcre2);
        let dollar = CompiledRegex::compile(&pcre(r"abc$", ""), None).unwrap();
        assert_eq!(dollar.engine(), RegexEngine::Pcre2);
        let dollar_m = CompiledRegex::compile(&pcre(r"abc$", "m"), None).unwrap();
        assert_eq!(dollar_m.engine(), RegexEngine::Rust);
        assert!(regex_check(&pcre("(", "")).is_err());
        assert!(regex_check(&pcre(r"a{2,1}", "")).is_err());
    }

    #[test]
    fn the_engines_agree_on_bytes_and_flags() {
        let cases: &[(&str, &str, &[u8])] = &[
            (r"\x27\s+OR\s+\x27?[0-9a-z]+", "i", b"id=1' or '1'='1"),
            (r"^GET", "", b"GET / HTTP/1.1"),
            (r"^Host: .*$", "m", b"GET /\r\nHost: x\r\nA: b"),
            (r"a.c", "s", b"a\nc"),
            (r"a.c", "", b"a\nc"),
            (r"\xff\x00", "", b"\x01\xff\x00"),
            (r"\w+", "", b"\xe9abc"),
            (r"a+", "G", b"aaa"),
            (r"[$]x", "", b"$x"),
            (r"abc$", "E", b"abc\n"),
        ];
        for (src, flags, hay) in cases {
            let p = pcre(src, flags);
            let [r, c] = both(&p);
            assert_eq!(
                r.find_at(hay, 0),
                c.find_at(hay, 0),
                "{src} /{flags} on {hay:?}"
            );
        }
    }

    #[test]
    fn pcre_dollar_matches_before_a_final_newline() {
        let p = pcre("abc$", "");
        let c = CompiledRegex::compile(&p, None).unwrap();
        assert_eq!(c.find_at(b"abc\n", 0), Some((0, 3)));
        let e = CompiledRegex::compile(&pcre("abc$", "E"), None).unwrap();
        assert_eq!(e.find_at(b"abc\n", 0), None);
    }

    #[test]
    fn anchored_flag_anchors_at_the_search_start() {
        let c = CompiledRegex::compile(&pcre("b", "A"), None).unwrap();
        assert_eq!(c.find_at(b"ab", 0), None);
        assert_eq!(c.find_at(b"ab", 1), Some((1, 2)));
    }

    #[test]
    fn vertical_space_class_is_pcres() {
        let c = CompiledRegex::compile(&pcre(r"a\vb", ""), None).unwrap();
        assert_eq!(c.engine(), RegexEngine::Pcre2);
        assert!(c.find_at(b"a\nb", 0).is_some());
    }
}
