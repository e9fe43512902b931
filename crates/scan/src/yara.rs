//! YARA rules: compiled by `boreal` (a pure-Rust, YARA-compatible engine), plus what the
//! shared prefilter needs to skip files no rule can match.
//!
//! boreal evaluates rules over a whole buffer, so a file's bytes are kept (up to the size cap)
//! until its end. Running it on every file would cost a second full pass; instead each rule is
//! analysed once at load time:
//! - its condition *requires a string* when it cannot be true unless one of the rule's strings
//!   matched (`$a`, `any of them`, `#a > 0`, `$a and ...`, `... or ...` where every side
//!   requires one, ...);
//! - each string gets one or more *forms* (a pattern with an atom): text strings whole (ASCII
//!   and/or UTF-16LE, with or without case), hex strings as a superset pattern (jumps and
//!   alternatives widened), regexes as a literal they must contain.
//!
//! The scanner verifies a form around each atom hit; a file where no form of any string
//! verified, and where every rule requires a string, cannot match any rule, so boreal is not
//! run on it. A rule the analysis cannot prove (`xor`/`base64` strings, a condition on
//! `filesize` or a module alone, `include`s) makes boreal run on every file: slower, never
//! wrong.

use std::path::Path;

use boreal_parser::expression::{Expression, ExpressionKind, ForSelection};
use boreal_parser::file::YaraFileComponent;
use boreal_parser::hex_string::{Mask, Token as HexToken};
use boreal_parser::regex::{Node, RepetitionKind, RepetitionRange};
use boreal_parser::rule::{Rule, VariableDeclarationValue, VariableModifiers};

use crate::pattern::{Pattern, Token};

/// A form of a YARA string for the prefilter.
#[derive(Debug, Clone)]
pub(crate) struct StringForm {
    pub pattern: Pattern,
    pub fold: bool,
}

/// What one rules file adds to the set.
#[derive(Debug)]
pub(crate) struct YaraFile {
    /// Every form of every string of every rule that the prefilter can stand for.
    pub forms: Vec<StringForm>,
    /// Some rule must be evaluated on every file.
    pub always: bool,
    /// Rules in the file.
    pub rules: usize,
}

/// Analyses a parsed YARA file.
pub(crate) fn analyse(text: &str) -> Result<YaraFile, String> {
    let file = boreal_parser::parse(text).map_err(|e| {
        let d = e.to_diagnostic();
        let at = d.labels.first().map_or(0, |l| l.range.start);
        format!("line {}: {}", line_of(text, at), d.message)
    })?;
    let mut out = YaraFile {
        forms: Vec::new(),
        always: false,
        rules: 0,
    };
    for c in &file.components {
        match c {
            YaraFileComponent::Rule(rule) => {
                out.rules += 1;
                analyse_rule(rule, &mut out);
            }
            YaraFileComponent::Include(_) => out.always = true,
            YaraFileComponent::Import(_) => {}
        }
    }
    Ok(out)
}

/// 1-based line of byte offset `at`.
pub(crate) fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn analyse_rule(rule: &Rule, out: &mut YaraFile) {
    let mut forms = Vec::new();
    let mut every_string_has_forms = true;
    for v in &rule.variables {
        match string_forms(&v.value, &v.modifiers) {
            Some(f) if !f.is_empty() => forms.extend(f),
            _ => every_string_has_forms = false,
        }
    }
    if rule.variables.is_empty() || !every_string_has_forms || !requires_string(&rule.condition) {
        out.always = true;
    }
    out.forms.extend(forms);
}

/// Does `e` being true imply that some string of the rule matched?
fn requires_string(e: &Expression) -> bool {
    match &e.expr {
        ExpressionKind::Variable(_)
        | ExpressionKind::VariableAt { .. }
        | ExpressionKind::VariableIn { .. } => true,
        ExpressionKind::And(v) => v.iter().any(requires_string),
        ExpressionKind::Or(v) => !v.is_empty() && v.iter().all(requires_string),
        ExpressionKind::For {
            selection, body, ..
        } => selection_requires(selection) && body.is_none(),
        ExpressionKind::ForIn { selection, .. } | ExpressionKind::ForAt { selection, .. } => {
            selection_requires(selection)
        }
        ExpressionKind::Cmp {
            left,
            right,
            less_than: false,
            can_be_equal,
        } => match (&left.expr, &right.expr) {
            (ExpressionKind::Count(_), ExpressionKind::Integer(n)) => {
                *n >= 1 || (*n >= 0 && !can_be_equal)
            }
            _ => false,
        },
        ExpressionKind::Eq(left, right) => matches!(
            (&left.expr, &right.expr),
            (ExpressionKind::Count(_), ExpressionKind::Integer(n)) if *n >= 1
        ),
        _ => false,
    }
}

fn selection_requires(s: &ForSelection) -> bool {
    match s {
        ForSelection::Any | ForSelection::All => true,
        ForSelection::None => false,
        ForSelection::Expr { expr, .. } => {
            matches!(expr.expr, ExpressionKind::Integer(n) if n >= 1)
        }
    }
}

fn widen_bytes(b: &[u8]) -> Vec<u8> {
    b.iter().flat_map(|&c| [c, 0]).collect()
}

/// The prefilter forms of one string; `None` when it has none.
fn string_forms(
    value: &VariableDeclarationValue,
    m: &VariableModifiers,
) -> Option<Vec<StringForm>> {
    if m.xor.is_some() || m.base64.is_some() {
        return None;
    }
    let (plain, wide) = (m.ascii || !m.wide, m.wide);
    let literal_forms = |lit: &[u8], fold: bool| -> Option<Vec<StringForm>> {
        let mut v = Vec::new();
        if plain {
            v.push(StringForm {
                pattern: Pattern::literal(lit)?,
                fold,
            });
        }
        if wide {
            v.push(StringForm {
                pattern: Pattern::literal(&widen_bytes(lit))?,
                fold,
            });
        }
        Some(v)
    };
    match value {
        VariableDeclarationValue::Bytes(b) => literal_forms(b, m.nocase),
        VariableDeclarationValue::Regex(r) => {
            let lit = required_literal(&r.ast)?;
            literal_forms(&lit, m.nocase || r.case_insensitive)
        }
        VariableDeclarationValue::HexString(tokens) => {
            let mut parts = vec![(Vec::new(), 0u64)];
            hex_tokens(tokens, &mut parts)?;
            let pattern =
                Pattern::from_tokens(parts.into_iter().filter(|p| !p.0.is_empty()).collect())
                    .ok()
                    .filter(|p| !p.segments.is_empty())?;
            // Every segment must have been kept: a dropped one would leave a hole in the
            // superset only if it were empty, and empty ones carry no bytes.
            Some(vec![StringForm {
                pattern,
                fold: false,
            }])
        }
    }
}

/// Converts boreal hex tokens to pattern tokens, widening what the verifier does not model
/// (negations, alternatives with wildcards) to a superset. Unbounded jumps split segments.
fn hex_tokens(tokens: &[HexToken], parts: &mut Vec<(Vec<Token>, u64)>) -> Option<()> {
    for t in tokens {
        let cur = &mut parts.last_mut().expect("at least one part").0;
        match t {
            HexToken::Byte(b) => cur.push(Token::Byte(*b)),
            HexToken::NotByte(b) => cur.push(Token::NotAlt(vec![*b])),
            HexToken::MaskedByte(b, Mask::Left) => cur.push(Token::Masked {
                value: b & 0x0f,
                mask: 0x0f,
            }),
            HexToken::MaskedByte(b, Mask::Right) => cur.push(Token::Masked {
                value: b & 0xf0,
                mask: 0xf0,
            }),
            HexToken::MaskedByte(_, Mask::All) | HexToken::NotMaskedByte(..) => {
                cur.push(Token::Any)
            }
            HexToken::Jump(j) => match j.to {
                Some(to) => cur.push(Token::Gap {
                    min: j.from,
                    max: to,
                }),
                None => parts.push((Vec::new(), u64::from(j.from))),
            },
            HexToken::Alternatives(alts) => {
                let lits: Option<Vec<Vec<u8>>> = alts
                    .iter()
                    .map(|a| {
                        a.iter()
                            .map(|t| match t {
                                HexToken::Byte(b) => Some(*b),
                                _ => None,
                            })
                            .collect()
                    })
                    .collect();
                match lits {
                    Some(l) if l.iter().all(|a| !a.is_empty()) => cur.push(Token::Alt(l)),
                    _ => {
                        let (lo, hi) = alts.iter().map(|a| hex_span(a)).try_fold(
                            (u32::MAX, 0u32),
                            |(lo, hi), s| {
                                let (a, b) = s?;
                                Some((lo.min(a), hi.max(b)))
                            },
                        )?;
                        cur.push(Token::Gap { min: lo, max: hi });
                    }
                }
            }
        }
    }
    Some(())
}

/// Fewest and most bytes boreal hex tokens take; `None` with an unbounded jump.
fn hex_span(tokens: &[HexToken]) -> Option<(u32, u32)> {
    let mut lo = 0u32;
    let mut hi = 0u32;
    for t in tokens {
        let (a, b) = match t {
            HexToken::Jump(j) => (j.from, j.to?),
            HexToken::Alternatives(alts) => {
                alts.iter()
                    .map(|a| hex_span(a))
                    .try_fold((u32::MAX, 0u32), |(lo, hi), s| {
                        let (a, b) = s?;
                        Some((lo.min(a), hi.max(b)))
                    })?
            }
            _ => (1, 1),
        };
        lo = lo.saturating_add(a);
        hi = hi.saturating_add(b);
    }
    Some((lo, hi))
}

/// The best literal every match of the regex contains, if one of two bytes or more exists.
fn required_literal(node: &Node) -> Option<Vec<u8>> {
    let mut best: Option<Vec<u8>> = None;
    let mut consider = |cand: Vec<u8>| {
        if cand.len() >= 2
            && best.as_ref().is_none_or(|b| {
                (cand.len().min(4), crate::pattern::atom_score(&cand))
                    > (b.len().min(4), crate::pattern::atom_score(b))
            })
        {
            best = Some(cand);
        }
    };
    match node {
        Node::Concat(nodes) => {
            let mut run = Vec::new();
            for n in nodes {
                match literal_bytes(n) {
                    Some(b) => run.extend(b),
                    None => {
                        consider(std::mem::take(&mut run));
                        if let Some(inner) = required_literal(n) {
                            consider(inner);
                        }
                    }
                }
            }
            consider(run);
        }
        Node::Group(n) => return required_literal(n),
        Node::Repetition { node, kind, .. } if repetition_min(kind) >= 1 => {
            return required_literal(node);
        }
        other => {
            if let Some(b) = literal_bytes(other) {
                consider(b);
            }
        }
    }
    best
}

fn repetition_min(kind: &RepetitionKind) -> u32 {
    match kind {
        RepetitionKind::ZeroOrOne | RepetitionKind::ZeroOrMore => 0,
        RepetitionKind::OneOrMore => 1,
        RepetitionKind::Range(RepetitionRange::Exactly(n) | RepetitionRange::AtLeast(n))
        | RepetitionKind::Range(RepetitionRange::Bounded(n, _)) => *n,
    }
}

/// The bytes of a literal node (or a group of literals).
fn literal_bytes(n: &Node) -> Option<Vec<u8>> {
    match n {
        Node::Literal(l) => Some(vec![l.byte]),
        Node::Char(c) => {
            let mut buf = [0u8; 4];
            Some(c.c.encode_utf8(&mut buf).as_bytes().to_vec())
        }
        Node::Group(inner) => literal_bytes(inner),
        Node::Concat(v) => v
            .iter()
            .map(literal_bytes)
            .try_fold(Vec::new(), |mut acc, b| {
                acc.extend(b?);
                Some(acc)
            }),
        _ => None,
    }
}

/// Compiles one rules file on its own (to learn whether it compiles) and, when it does, adds
/// it to `compiler` in a namespace named after the file.
pub(crate) fn compile_file(
    compiler: &mut boreal::Compiler,
    path: &Path,
    namespace: &str,
) -> Result<(), String> {
    let mut probe = new_compiler();
    probe
        .add_rules_file_in_namespace(path, namespace)
        .map_err(|e| describe(&e))?;
    compiler
        .add_rules_file_in_namespace(path, namespace)
        .map_err(|e| describe(&e))?;
    Ok(())
}

/// A boreal compiler with the modules this build has.
pub(crate) fn new_compiler() -> boreal::Compiler {
    boreal::Compiler::new()
}

/// One line of a boreal error: `file:line:column: message`.
fn describe(e: &boreal::compiler::AddRuleError) -> String {
    e.to_string()
        .lines()
        .next()
        .unwrap_or("YARA error")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(src: &str) -> YaraFile {
        analyse(src).unwrap()
    }

    #[test]
    fn string_dependent_rules_do_not_force_a_full_run() {
        let f = file(
            r#"rule a { strings: $a = "hello world" $b = { 41 42 ?? 43 [2-4] 44 45 } condition: any of them }
                        rule b { strings: $r = /plant4-marker-[0-9]{6}-zz/ condition: $r and filesize < 100 }
                        rule c { strings: $a = "abcdef" nocase wide ascii condition: #a > 2 }"#,
        );
        assert!(!f.always);
        assert_eq!(f.rules, 3);
        assert_eq!(f.forms.len(), 5);
    }

    #[test]
    fn rules_the_prefilter_cannot_stand_for() {
        for src in [
            "rule a { condition: filesize < 10 }",
            r#"rule a { strings: $a = "abcd" condition: not $a }"#,
            r#"rule a { strings: $a = "abcd" condition: $a or filesize < 10 }"#,
            r#"rule a { strings: $a = "abcd" xor condition: $a }"#,
            r#"rule a { strings: $a = /[a-z]+/ condition: $a }"#,
            r#"rule a { strings: $a = "abcd" condition: #a == 0 }"#,
            r#"rule a { strings: $a = "abcd" condition: none of them }"#,
        ] {
            assert!(file(src).always, "{src}");
        }
    }

    #[test]
    fn regex_literals() {
        let lit = |re: &str| {
            let f = analyse(&format!("rule a {{ strings: $a = /{re}/ condition: $a }}")).unwrap();
            f.forms.first().map(|f| f.pattern.segments[0].tokens.len())
        };
        assert_eq!(lit("plant4-marker-[0-9]{6}-zz"), Some(14));
        assert_eq!(lit("[a-z]{3}(hello)+x"), Some(5));
        assert_eq!(lit("a|b"), None);
    }

    #[test]
    fn parse_errors_name_the_line() {
        let e = analyse("rule a {\n strings: $a = \"x\"\n condition: $b }\n").err();
        // boreal's parser accepts an undefined $b (the compiler refuses it); a syntax error
        // is the parser's.
        assert!(e.is_none());
        let e = analyse("rule a {\n\n condition: ( }\n").unwrap_err();
        assert!(e.starts_with("line 3"), "{e}");
    }
}
