//! Verification of one buffer against one rule's inspection list (content, pcre, byte_test,
//! byte_jump, isdataat, bsize, urilen), with Suricata's recursive backtracking: when a keyword
//! after a match fails and depends on that match (distance, within, relative pcre, relative
//! byte keywords), the earlier keyword is retried at its next occurrence.
//!
//! Runs per packet: it never allocates, never panics on any buffer, and stops after a bounded
//! number of steps (Suricata's `inspection-recursion-limit`).

use memchr::memmem;

use super::pcre::CompiledRegex;
use crate::rules::{
    ByteJump, ByteOp, ByteTest, Content, Endian, Inspect, IsDataAt, NumMatch, NumberFormat, Pcre,
    Rule,
};

/// Suricata's default `detect.inspection-recursion-limit`.
pub(crate) const RECURSION_LIMIT: u32 = 3000;

/// A content compiled for searching.
#[derive(Debug)]
pub(crate) struct ContentMatcher {
    pub(crate) c: Content,
    /// Lowercased pattern for `nocase`.
    lower: Vec<u8>,
    finder: memmem::Finder<'static>,
    /// Absolute end of the search window from offset+depth (non-relative contents).
    abs_depth: Option<u32>,
}

impl ContentMatcher {
    fn new(c: &Content) -> Self {
        let abs_depth = c.depth.map(|d| d + c.offset.unwrap_or(0));
        ContentMatcher {
            lower: c.pattern.to_ascii_lowercase(),
            finder: memmem::Finder::new(&c.pattern).into_owned(),
            c: c.clone(),
            abs_depth,
        }
    }

    /// The first occurrence in `hay`.
    #[inline]
    fn find(&self, hay: &[u8]) -> Option<usize> {
        if self.c.nocase {
            find_nocase(hay, &self.lower)
        } else {
            self.finder.find(hay)
        }
    }
}

/// First occurrence of `needle` (already lowercase) in `hay`, ASCII case-insensitively.
fn find_nocase(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    if hay.len() < needle.len() {
        return None;
    }
    let last_start = hay.len() - needle.len();
    let upper = first.to_ascii_uppercase();
    let mut from = 0;
    while from <= last_start {
        let i = from + memchr::memchr2(first, upper, &hay[from..=last_start])?;
        if hay[i + 1..i + needle.len()]
            .iter()
            .zip(rest)
            .all(|(h, n)| h.to_ascii_lowercase() == *n)
        {
            return Some(i);
        }
        from = i + 1;
    }
    None
}

/// One keyword of a compiled inspection list.
#[derive(Debug)]
pub(crate) enum Item {
    Content(Box<ContentMatcher>),
    Pcre(Box<(Pcre, CompiledRegex)>),
    ByteTest(ByteTest),
    ByteJump(ByteJump),
    IsDataAt(IsDataAt),
    Len(NumMatch),
}

/// A compiled list with, per keyword, whether a later keyword is relative to it.
#[derive(Debug)]
pub(crate) struct InspectList {
    pub(crate) items: Vec<Item>,
    /// `relative_next[i]`: the keyword after `i` uses `i`'s match position.
    relative_next: Vec<bool>,
}

impl InspectList {
    pub(crate) fn compile(
        keywords: &[Inspect],
        regex: &mut impl FnMut(&Pcre) -> Result<CompiledRegex, String>,
    ) -> Result<InspectList, String> {
        let mut items = Vec::with_capacity(keywords.len());
        for k in keywords {
            items.push(match k {
                Inspect::Content(c) => Item::Content(Box::new(ContentMatcher::new(c))),
                Inspect::Pcre(p) => Item::Pcre(Box::new((p.clone(), regex(p)?))),
                Inspect::ByteTest(t) => Item::ByteTest(*t),
                Inspect::ByteJump(j) => Item::ByteJump(*j),
                Inspect::IsDataAt(i) => Item::IsDataAt(*i),
                Inspect::Bsize(m) | Inspect::Urilen(m) => Item::Len(*m),
            });
        }
        let relative_next = (0..items.len())
            .map(|i| items.get(i + 1).is_some_and(is_relative))
            .collect();
        Ok(InspectList {
            items,
            relative_next,
        })
    }
}

fn is_relative(i: &Item) -> bool {
    match i {
        Item::Content(c) => c.c.is_relative(),
        Item::Pcre(b) => b.0.relative,
        Item::ByteTest(t) => t.relative,
        Item::ByteJump(j) => j.relative,
        Item::IsDataAt(d) => d.relative,
        Item::Len(_) => false,
    }
}

/// Outcome of inspecting from one keyword on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Match,
    NoMatch,
    /// No match, and no retry of earlier keywords can change that.
    Discontinue,
}

/// Inspection state for one buffer.
struct Ctx<'a> {
    list: &'a InspectList,
    buf: &'a [u8],
    steps: u32,
}

/// Whether `buf` satisfies the whole list.
pub(crate) fn inspect(list: &InspectList, buf: &[u8]) -> bool {
    let mut ctx = Ctx {
        list,
        buf,
        steps: 0,
    };
    ctx.run(0, 0) == Step::Match
}

impl Ctx<'_> {
    /// Inspects keyword `i` and the rest, the previous match having ended at `offset`.
    fn run(&mut self, i: usize, offset: usize) -> Step {
        self.steps += 1;
        if self.steps > RECURSION_LIMIT {
            return Step::Discontinue;
        }
        let Some(item) = self.list.items.get(i) else {
            return Step::Match;
        };
        match item {
            Item::Content(c) => self.content(i, c, offset),
            Item::Pcre(b) => self.pcre(i, &b.0, &b.1, offset),
            Item::ByteTest(t) => {
                if byte_test(t, self.buf, offset) {
                    self.run(i + 1, offset)
                } else {
                    Step::NoMatch
                }
            }
            Item::ByteJump(j) => match byte_jump(j, self.buf, offset) {
                Some(next) => self.run(i + 1, next),
                None => Step::NoMatch,
            },
            Item::IsDataAt(d) => {
                let len = self.buf.len();
                if d.relative {
                    let missing = offset + d.position as usize > len;
                    match (missing, d.negated) {
                        (true, true) | (false, false) => self.run(i + 1, offset),
                        (true, false) => Step::Discontinue,
                        (false, true) => Step::NoMatch,
                    }
                } else {
                    let present = (d.position as usize) < len;
                    if present != d.negated {
                        self.run(i + 1, offset)
                    } else {
                        Step::Discontinue
                    }
                }
            }
            Item::Len(m) => {
                if m.matches(self.buf.len() as u64) {
                    self.run(i + 1, offset)
                } else {
                    Step::Discontinue
                }
            }
        }
    }

    fn content(&mut self, i: usize, m: &ContentMatcher, prev_end: usize) -> Step {
        let c = &m.c;
        let len = self.buf.len() as i64;
        let plen = c.pattern.len() as i64;
        // The window [start, end) for the first search.
        let (mut start, end) = if c.is_relative() {
            let prev = prev_end as i64;
            let distance = i64::from(c.distance.unwrap_or(0));
            let start = if distance < 0 && -distance > prev {
                0
            } else {
                prev + distance
            };
            let mut end = len;
            if let Some(w) = c.within {
                // Suricata computes this limit in unsigned arithmetic: a negative one wraps
                // and then clamps to the buffer length (checked against Suricata 7.0.10).
                let limit = prev + i64::from(w) + distance;
                if limit >= 0 {
                    end = end.min(limit);
                }
            }
            (start, end)
        } else {
            let end = m.abs_depth.map_or(len, |d| i64::from(d).min(len));
            (i64::from(c.offset.unwrap_or(0)), end)
        };
        let end = end.min(len);
        loop {
            if start > end || end <= 0 {
                return if c.negated {
                    self.run(i + 1, prev_end)
                } else {
                    Step::NoMatch
                };
            }
            let window = &self.buf[start as usize..end as usize];
            let found = if (c.endswith && end < len) || plen > window.len() as i64 {
                None
            } else {
                m.find(window)
            };
            let Some(at) = found else {
                if c.negated {
                    return self.run(i + 1, prev_end);
                }
                return if c.is_relative() {
                    Step::NoMatch
                } else {
                    // Independent of earlier matches: nothing can make it match.
                    Step::Discontinue
                };
            };
            let match_end = start + at as i64 + plen;
            if c.negated {
                if c.endswith && match_end != end {
                    return self.run(i + 1, prev_end);
                }
                return if !c.is_relative() && !self.list.relative_next[i] {
                    Step::Discontinue
                } else {
                    Step::NoMatch
                };
            }
            if !c.endswith || match_end == len {
                if i + 1 == self.list.items.len() {
                    return Step::Match;
                }
                match self.run(i + 1, match_end as usize) {
                    Step::Match => return Step::Match,
                    Step::Discontinue => return Step::Discontinue,
                    Step::NoMatch => {}
                }
                if !self.list.relative_next[i] {
                    // The next keywords do not depend on where this one matched.
                    return Step::Discontinue;
                }
            }
            // Retry from one past this occurrence's start.
            start = match_end - plen + 1;
            self.steps += 1;
            if self.steps > RECURSION_LIMIT {
                return Step::Discontinue;
            }
        }
    }

    fn pcre(&mut self, i: usize, p: &Pcre, re: &CompiledRegex, prev_end: usize) -> Step {
        let base = if p.relative {
            prev_end.min(self.buf.len())
        } else {
            0
        };
        let hay = &self.buf[base..];
        if p.negated {
            return if re.find_at(hay, 0).is_some() {
                Step::NoMatch
            } else {
                self.run(i + 1, prev_end)
            };
        }
        let mut from = 0;
        loop {
            let Some((s, e)) = re.find_at(hay, from) else {
                return Step::NoMatch;
            };
            if !self.list.relative_next[i] {
                return self.run(i + 1, base + e);
            }
            match self.run(i + 1, base + e) {
                Step::Match => return Step::Match,
                Step::Discontinue => return Step::Discontinue,
                Step::NoMatch => {}
            }
            from = s + 1;
            self.steps += 1;
            if self.steps > RECURSION_LIMIT || from > hay.len() {
                return Step::NoMatch;
            }
        }
    }
}

/// strtoull over at most `bytes`: leading white space, a sign, `0x` in base 16, digits.
/// `None` when no digit was read or the value overflows.
fn parse_text_number(bytes: &[u8], base: u32) -> Option<u64> {
    let mut i = 0;
    while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let mut neg = false;
    if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
        neg = bytes[i] == b'-';
        i += 1;
    }
    if base == 16
        && i + 2 < bytes.len() + 1
        && bytes.get(i) == Some(&b'0')
        && matches!(bytes.get(i + 1), Some(b'x' | b'X'))
        && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    {
        i += 2;
    }
    let mut v: u64 = 0;
    let mut digits = 0;
    while let Some(d) = bytes.get(i).and_then(|&b| (b as char).to_digit(base)) {
        v = v.checked_mul(u64::from(base))?.checked_add(u64::from(d))?;
        digits += 1;
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Reads the number of a byte_test/byte_jump at `pos`: the value and how many bytes it took.
fn extract(buf: &[u8], pos: usize, nbytes: usize, format: NumberFormat) -> Option<(u64, usize)> {
    let bytes = buf.get(pos..pos.checked_add(nbytes)?)?;
    match format {
        NumberFormat::Binary(e) => {
            let mut v: u64 = 0;
            match e {
                Endian::Big => bytes.iter().for_each(|&b| v = v << 8 | u64::from(b)),
                Endian::Little => bytes.iter().rev().for_each(|&b| v = v << 8 | u64::from(b)),
            }
            Some((v, nbytes))
        }
        NumberFormat::String(base) => parse_text_number(bytes, base).map(|v| (v, nbytes)),
    }
}

fn apply_bitmask(v: u64, mask: Option<u64>) -> u64 {
    match mask {
        Some(m) => (v & m) >> m.trailing_zeros(),
        None => v,
    }
}

/// `byte_test` at the previous match end `offset`.
fn byte_test(t: &ByteTest, buf: &[u8], offset: usize) -> bool {
    let base = if t.relative { offset as i64 } else { 0 };
    let pos = base + i64::from(t.offset);
    if pos < 0 || (t.relative && pos >= buf.len() as i64) {
        return false;
    }
    let Some((v, _)) = extract(buf, pos as usize, usize::from(t.nbytes), t.format) else {
        return false;
    };
    let v = apply_bitmask(v, t.bitmask);
    let m = match t.op {
        ByteOp::Lt => v < t.value,
        ByteOp::Gt => v > t.value,
        ByteOp::Eq => v == t.value,
        ByteOp::Le => v <= t.value,
        ByteOp::Ge => v >= t.value,
        ByteOp::And => v & t.value != 0,
        ByteOp::Xor => v ^ t.value != 0,
    };
    m != t.negated
}

/// `byte_jump`: the new position, or `None` when the jump leaves the buffer.
fn byte_jump(j: &ByteJump, buf: &[u8], offset: usize) -> Option<usize> {
    let len = buf.len() as i64;
    let mut pos: i64 = 0;
    if j.relative {
        pos = offset as i64;
        if len - pos <= 0 {
            return None;
        }
    }
    pos += i64::from(j.offset);
    if pos < 0 {
        return None;
    }
    let (v, took) = extract(buf, pos as usize, usize::from(j.nbytes), j.format)?;
    let mut v = apply_bitmask(v, j.bitmask) as i64;
    v = v.wrapping_mul(i64::from(j.multiplier));
    if j.align && v % 4 != 0 {
        v += 4 - v % 4;
    }
    v = v.wrapping_add(i64::from(j.post_offset));
    let target = if j.from_beginning {
        v
    } else if j.from_end {
        len.wrapping_add(v)
    } else {
        (pos + took as i64).wrapping_add(v)
    };
    // Suricata 7.0.10 lets a jump land exactly at the end (checked against it: a relative
    // `isdataat:!1` then matches), not past it; before the start it clamps to the start.
    let target = target.max(0);
    if target > len {
        return None;
    }
    Some(target as usize)
}

/// The compiled inspection lists of a rule, by buffer.
pub(crate) fn compile_rule_lists(
    rule: &Rule,
    regex: &mut impl FnMut(&Pcre) -> Result<CompiledRegex, String>,
) -> Result<Vec<InspectList>, String> {
    rule.buffers
        .iter()
        .map(|b| InspectList::compile(&b.keywords, regex))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Classifications, Vars, parse_rule};

    /// Whether the payload list of `opts` matches `buf`.
    fn m(opts: &str, buf: &[u8]) -> bool {
        let rule = parse_rule(
            &format!("alert tcp any any -> any any ({opts} sid:1;)"),
            &Vars::suricata_defaults(),
            &Classifications::suricata_default(),
        )
        .unwrap();
        let lists = compile_rule_lists(&rule, &mut |p| CompiledRegex::compile(p, None)).unwrap();
        inspect(&lists[0], buf)
    }

    #[test]
    fn content_positions() {
        assert!(m(r#"content:"abc";"#, b"xxabcxx"));
        assert!(!m(r#"content:"abd";"#, b"xxabcxx"));
        assert!(m(r#"content:"ABC"; nocase;"#, b"xxabcxx"));
        assert!(!m(r#"content:"ABC";"#, b"xxabcxx"));
        assert!(m(r#"content:"abc"; offset:2;"#, b"xxabcxx"));
        assert!(!m(r#"content:"abc"; offset:3;"#, b"xxabcxx"));
        // depth counts from offset.
        assert!(m(r#"content:"abc"; offset:2; depth:3;"#, b"xxabcxx"));
        assert!(!m(r#"content:"abc"; depth:4;"#, b"xxabcxx"));
        assert!(m(r#"content:"abc"; depth:5;"#, b"xxabcxx"));
        assert!(m(r#"content:"xx"; startswith;"#, b"xxabc"));
        assert!(!m(r#"content:"ab"; startswith;"#, b"xxabc"));
        assert!(m(r#"content:"bc"; endswith;"#, b"xxabc"));
        assert!(!m(r#"content:"ab"; endswith;"#, b"xxabc"));
        // endswith looks past an earlier occurrence.
        assert!(m(r#"content:"ab"; endswith;"#, b"abxab"));
        assert!(!m(r#"content:"abc"; depth:3;"#, b"ab"));
    }

    #[test]
    fn relative_contents_backtrack() {
        // The first "a" is followed by "b" too far away; the second is close enough.
        assert!(m(r#"content:"a"; content:"b"; within:2;"#, b"a...ab"));
        assert!(!m(r#"content:"a"; content:"b"; within:2;"#, b"a...a..b"));
        assert!(m(r#"content:"a"; content:"b"; distance:3;"#, b"ab..b"));
        assert!(!m(r#"content:"a"; content:"b"; distance:3;"#, b"ab.b"));
        assert!(m(
            r#"content:"a"; content:"b"; distance:1; within:1;"#,
            b"a.b"
        ));
        assert!(!m(
            r#"content:"a"; content:"b"; distance:1; within:1;"#,
            b"ab"
        ));
        // Negative distance reaches back before the previous match.
        assert!(m(
            r#"content:"b"; content:"a"; distance:-2; within:1;"#,
            b"ab"
        ));
        // Three-level chain needing the second occurrence of the first content.
        assert!(m(
            r#"content:"X"; content:"Y"; distance:0; within:2; content:"Z"; distance:0; within:2;"#,
            b"XY..Z XYZ"
        ));
        // distance:0 on the first content is relative to the buffer start.
        assert!(m(r#"content:"a"; distance:0;"#, b"xa"));
        assert!(!m(r#"content:"a"; within:1;"#, b"xa"));
    }

    #[test]
    fn negated_contents() {
        assert!(m(r#"content:!"evil";"#, b"good"));
        assert!(!m(r#"content:!"evil";"#, b"so evil"));
        // A negated relative content: some "a" must not be followed by "b" within 2.
        assert!(m(r#"content:"a"; content:!"b"; within:2;"#, b"ab...a.."));
        assert!(!m(r#"content:"a"; content:!"b"; within:2;"#, b"ab...ab"));
        assert!(m(r#"content:!"b"; depth:2;"#, b"aab"));
        assert!(!m(r#"content:!"b"; depth:3;"#, b"aab"));
        // A window that cannot hold the pattern matches a negated content.
        assert!(m(r#"content:"a"; content:!"bcd"; within:3;"#, b"ab"));
    }

    #[test]
    fn pcre_relative_and_retry() {
        assert!(m(r#"pcre:"/UNION\s+SELECT/i";"#, b"x union  select y"));
        assert!(m(r#"content:"id="; pcre:"/^[0-9]+&/R";"#, b"id=x&id=42&"));
        assert!(!m(r#"content:"id="; pcre:"/^[0-9]+&/R";"#, b"id=x&id=4"));
        // pcre then a content relative to it: the second pcre match satisfies the content.
        assert!(m(r#"pcre:"/a[0-9]/"; content:"z"; within:1;"#, b"a1 a2z"));
        assert!(m(r#"pcre:!"/evil/";"#, b"nice"));
        assert!(!m(r#"pcre:!"/evil/";"#, b"evil"));
    }

    #[test]
    fn byte_test_options() {
        assert!(m("byte_test:2,=,0x0102,0;", b"\x01\x02"));
        assert!(m("byte_test:2,=,0x0201,0,little;", b"\x01\x02"));
        assert!(m("byte_test:2,>,5,1;", b"\x00\x00\x06"));
        assert!(!m("byte_test:2,>,5,2;", b"\x00\x00\x06"));
        assert!(m("byte_test:2,!=,5,0;", b"\x00\x06") || m("byte_test:2,!>,5,0;", b"\x00\x05"));
        assert!(m("byte_test:1,&,0x80,0;", b"\x81"));
        assert!(m("byte_test:1,^,0x81,0;", b"\x80"));
        assert!(!m("byte_test:1,^,0x81,0;", b"\x81"));
        assert!(m("byte_test:3,=,123,0,string,dec;", b"123"));
        assert!(m("byte_test:3,=,26,0,string,hex;", b"1a "));
        assert!(m("byte_test:2,=,8,0,string,oct;", b"10"));
        assert!(!m("byte_test:3,=,0,0,string,dec;", b"abc"));
        // relative, from the end of the previous content.
        assert!(m(
            r#"content:"LEN"; byte_test:1,>=,3,0,relative;"#,
            b"LEN\x03"
        ));
        assert!(m(
            r#"content:"LEN"; byte_test:1,=,0x4e,-1,relative;"#,
            b"LEN\x03"
        ));
        // bitmask shifts by the mask's trailing zeros.
        assert!(m("byte_test:1,=,3,0,bitmask 0x30;", b"\x3f"));
    }

    #[test]
    fn byte_jump_options() {
        // Skip a 1-byte length field then expect "X".
        assert!(m(r#"byte_jump:1,0; content:"X"; within:1;"#, b"\x02abX"));
        assert!(!m(r#"byte_jump:1,0; content:"X"; within:1;"#, b"\x01abX"));
        assert!(m(
            r#"byte_jump:1,0,multiplier 2; content:"X"; within:1;"#,
            b"\x01abX"
        ));
        assert!(m(
            r#"byte_jump:1,0,align; content:"X"; within:1;"#,
            b"\x01abc.X"
        ));
        assert!(!m(
            r#"byte_jump:1,0,align; content:"X"; within:1;"#,
            b"\x01aX"
        ));
        assert!(m(
            r#"byte_jump:1,0,from_beginning; content:"X"; within:1;"#,
            b"\x03abX"
        ));
        assert!(m(
            r#"byte_jump:1,0,post_offset 1; content:"X"; within:1;"#,
            b"\x01abX"
        ));
        assert!(m(
            r#"byte_jump:2,0,string,dec; content:"X"; within:1;"#,
            b"02abX"
        ));
        // A jump past the end fails; one to the very end does not.
        assert!(!m("byte_jump:1,0;", b"\x09ab"));
        assert!(m("byte_jump:1,0; isdataat:!1,relative;", b"\x02ab"));
        assert!(m(
            r#"content:"L"; byte_jump:1,0,relative; content:"X"; within:1;"#,
            b"L\x01aX"
        ));
    }

    #[test]
    fn isdataat_forms() {
        assert!(m("isdataat:3;", b"abcd"));
        assert!(!m("isdataat:4;", b"abcd"));
        assert!(m("isdataat:!4;", b"abcd"));
        assert!(m(r#"content:"ab"; isdataat:2,relative;"#, b"abcd"));
        assert!(!m(r#"content:"ab"; isdataat:3,relative;"#, b"abcd"));
        assert!(m(r#"content:"ab"; isdataat:!3,relative;"#, b"abcd"));
    }

    /// Cases checked against Suricata 7.0.10 (`suricata -r` over one UDP datagram per case
    /// with the benchmark kit's suricata.yaml): the payload, and whether Suricata alerted.
    #[test]
    fn agrees_with_suricata_7_0_10() {
        let cases: &[(&str, &[u8], bool)] = &[
            ("byte_jump:1,0; isdataat:!1,relative;", b"\x03abc", true),
            (
                r#"byte_jump:1,0; content:"c"; distance:-1;"#,
                b"\x03abc",
                true,
            ),
            (r#"content:"ab"; isdataat:2,relative;"#, b"xabcd", true),
            (r#"content:"ab"; isdataat:3,relative;"#, b"xabcd", false),
            ("byte_test:3,=,12,0,string,dec;", b" 12x", true),
            (
                r#"content:"b"; content:"a"; distance:-5; within:1;"#,
                b"ab",
                true,
            ),
            (r#"pcre:"/abc$/";"#, b"abc\n", true),
            (r#"content:"a"; within:1;"#, b"xa", false),
            (
                r#"content:"a"; content:!"b"; distance:0; within:2;"#,
                b"ab..a..",
                true,
            ),
            (r#"content:"BC"; nocase; endswith;"#, b"abc", true),
            (
                r#"byte_jump:1,0,from_end,post_offset -2; content:"c";"#,
                b"\x00abc",
                true,
            ),
            ("isdataat:4;", b"abcd", false),
            (
                "byte_test:1,&,0x80,0; byte_test:1,^,0x81,0;",
                b"\x81",
                false,
            ),
            (
                r#"content:"ab"; byte_jump:1,0,relative,align; content:"X"; within:1;"#,
                b"ab\x01...X",
                false,
            ),
            (r#"byte_jump:1,0; content:"Z"; within:1;"#, b"\x02..Z", true),
            ("byte_test:2,=,0x0102,0,bitmask 0x0ff0;", b"\x10\x20", false),
            (
                r#"content:"a"; pcre:"/^b/R"; content:"c"; within:1;"#,
                b"ab.abc",
                true,
            ),
            (r#"content:!"zz"; content:"q";"#, b"q", true),
        ];
        for (opts, payload, want) in cases {
            assert_eq!(m(opts, payload), *want, "{opts} on {payload:?}");
        }
    }

    #[test]
    fn text_numbers_follow_strtoull() {
        assert_eq!(parse_text_number(b" 12x", 10), Some(12));
        assert_eq!(parse_text_number(b"0x1f", 16), Some(31));
        assert_eq!(parse_text_number(b"-1", 10), Some(u64::MAX));
        assert_eq!(parse_text_number(b"zz", 10), None);
        assert_eq!(parse_text_number(b"99999999999999999999999", 10), None);
    }

    #[test]
    fn nocase_search() {
        assert_eq!(find_nocase(b"xxAbC", b"abc"), Some(2));
        assert_eq!(find_nocase(b"ab", b"abc"), None);
        assert_eq!(find_nocase(b"aBaBc", b"abc"), Some(2));
    }

    #[test]
    fn recursion_is_bounded() {
        let buf = vec![b'a'; 5000];
        // Every "a" is retried and every later keyword fails: bounded, then no match.
        assert!(!m(
            r#"content:"a"; content:"a"; distance:0; content:"b"; distance:0;"#,
            &buf
        ));
    }
}
