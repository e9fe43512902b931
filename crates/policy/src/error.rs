//! Errors and warnings of a policy file, each naming the file, the line and column, and the key
//! (`rule[3].ports`: the fourth `[[rule]]` table, key `ports`); and the conversion from the
//! byte offsets that the `toml` crate reports to lines and keys.
//!
//! Finding a key from an offset reads the text as written; it must never panic, whatever the
//! offset or the text (the text may be anything a user or a fuzzer writes).

use std::fmt;
use std::path::{Path, PathBuf};

/// A policy the loader refuses: where, which key, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyError {
    pub file: PathBuf,
    /// 1-based line; 0 when the error concerns the file as a whole.
    pub line: usize,
    /// 1-based column (characters); 0 when unknown.
    pub column: usize,
    /// Dotted key, `rule[3].ports`; empty when the error has no key (a syntax error).
    pub key: String,
    pub message: String,
}

impl fmt::Display for PolicyError {
    /// `file:line: key: message`, the form `rampart policy check` prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_place(f, &self.file, self.line, &self.key)?;
        write!(f, ": {}", self.message)
    }
}

fn write_place(f: &mut fmt::Formatter<'_>, file: &Path, line: usize, key: &str) -> fmt::Result {
    write!(f, "{}", file.display())?;
    if line > 0 {
        write!(f, ":{line}")?;
    }
    if !key.is_empty() {
        write!(f, ": {key}")?;
    }
    Ok(())
}

/// What a warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WarningKind {
    /// A rule that can never match: earlier rules take every connection it would.
    ShadowedRule,
    /// A zone no rule, NAT rule or flood guard refers to.
    UnreferencedZone,
    /// A zone without members: nothing is ever in it.
    EmptyZone,
    /// One address, port or MAC claimed by two zones.
    OverlappingMembers,
    /// A NAT rule that no connection can reach.
    NatNeverApplies,
    /// Something the policy names that could not be checked or does nothing.
    Unchecked,
}

impl WarningKind {
    /// A short stable name, for machine-readable output.
    pub fn name(self) -> &'static str {
        match self {
            WarningKind::ShadowedRule => "shadowed-rule",
            WarningKind::UnreferencedZone => "unreferenced-zone",
            WarningKind::EmptyZone => "empty-zone",
            WarningKind::OverlappingMembers => "overlapping-members",
            WarningKind::NatNeverApplies => "nat-never-applies",
            WarningKind::Unchecked => "unchecked",
        }
    }
}

/// A policy that loads, with something the operator should look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub kind: WarningKind,
    pub file: PathBuf,
    pub line: usize,
    pub key: String,
    pub message: String,
}

impl fmt::Display for Warning {
    /// `file:line: key: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_place(f, &self.file, self.line, &self.key)?;
        write!(f, ": {}", self.message)
    }
}

/// Byte offsets of a text to lines and columns, and to the key written there.
#[derive(Debug, Clone)]
pub(crate) struct TextIndex<'a> {
    text: &'a str,
    /// Byte offset where each line starts.
    starts: Vec<usize>,
}

impl<'a> TextIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        TextIndex { text, starts }
    }

    /// 1-based line and column (in characters) of a byte offset; offsets past the end give the
    /// last position.
    pub(crate) fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let col = self
            .text
            .get(start..offset)
            .map_or(1, |s| s.chars().count() + 1);
        (line, col)
    }

    /// The dotted key at a byte offset, read from the text: the table header above it (with
    /// the index of an array-of-tables entry, `rule[2]`) and the `key =` of its line (or of the
    /// line a multi-line value started on). Best effort: empty when nothing can be read.
    pub(crate) fn key_at(&self, offset: usize) -> String {
        let offset = offset.min(self.text.len());
        let (line, _) = self.line_col(offset);
        // The key: this line's `name =`, else the nearest line above with one (a value spread
        // over several lines), stopping at a header.
        let mut key = String::new();
        for l in (0..line).rev() {
            let text = self.line(l).trim_start();
            if text.starts_with('[') {
                break;
            }
            if let Some(k) = assigned_key(text) {
                key = k.to_owned();
                break;
            }
        }
        // The header: the last `[name]` or `[[name]]` at or before this line, numbered among
        // the headers of the same name.
        let mut header = String::new();
        let mut counts: Vec<(String, usize)> = Vec::new();
        for l in 0..line {
            let text = self.line(l).trim_start();
            if let Some(name) = text
                .strip_prefix("[[")
                .and_then(|r| r.split_once("]]"))
                .map(|(n, _)| n.trim())
            {
                let n = match counts.iter_mut().find(|(k, _)| k == name) {
                    Some((_, c)) => {
                        *c += 1;
                        *c
                    }
                    None => {
                        counts.push((name.to_owned(), 0));
                        0
                    }
                };
                header = format!("{name}[{n}]");
            } else if let Some(name) = text
                .strip_prefix('[')
                .and_then(|r| r.split_once(']'))
                .map(|(n, _)| n.trim())
            {
                header = name.to_owned();
            }
        }
        match (header.is_empty(), key.is_empty()) {
            (_, true) => header,
            (true, false) => key,
            (false, false) => format!("{header}.{key}"),
        }
    }

    /// Line `l` (0-based), without its line break.
    fn line(&self, l: usize) -> &'a str {
        let start = self.starts.get(l).copied().unwrap_or(self.text.len());
        let end = self
            .starts
            .get(l + 1)
            .copied()
            .unwrap_or(self.text.len())
            .max(start);
        self.text
            .get(start..end)
            .unwrap_or("")
            .trim_end_matches(['\n', '\r'])
    }
}

/// The bare key a line assigns to (`name = ...`), if it is one.
fn assigned_key(line: &str) -> Option<&str> {
    let (k, _) = line.split_once('=')?;
    let k = k.trim();
    let bare = !k.is_empty()
        && k.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-');
    bare.then_some(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "switch = \"s.toml\"\n\n[[zone]]\nname = \"lan\"\n\n[[zone]]\nname = \"dmz\"\nmembers = [\n  \"10.0.0.0/8\",\n  \"x\",\n]\n[default]\naction = \"deny\"\n";

    #[test]
    fn lines_and_columns() {
        let t = TextIndex::new(TEXT);
        assert_eq!(t.line_col(0), (1, 1));
        assert_eq!(t.line_col(9), (1, 10));
        let at = TEXT.find("\"x\"").unwrap();
        assert_eq!(t.line_col(at), (10, 3));
        assert_eq!(t.line_col(usize::MAX).0, 14);
    }

    #[test]
    fn keys_from_offsets() {
        let t = TextIndex::new(TEXT);
        assert_eq!(t.key_at(0), "switch");
        assert_eq!(t.key_at(TEXT.find("\"lan\"").unwrap()), "zone[0].name");
        assert_eq!(t.key_at(TEXT.find("\"dmz\"").unwrap()), "zone[1].name");
        assert_eq!(t.key_at(TEXT.find("\"x\"").unwrap()), "zone[1].members");
        assert_eq!(t.key_at(TEXT.find("\"deny\"").unwrap()), "default.action");
        assert_eq!(t.key_at(TEXT.find("[default]").unwrap()), "default");
    }

    #[test]
    fn displays_file_line_key() {
        let e = PolicyError {
            file: "p.toml".into(),
            line: 7,
            column: 3,
            key: "rule[0].action".into(),
            message: "unknown action \"permit\"".into(),
        };
        assert_eq!(
            e.to_string(),
            "p.toml:7: rule[0].action: unknown action \"permit\""
        );
        let whole = PolicyError {
            line: 0,
            key: String::new(),
            ..e
        };
        assert_eq!(whole.to_string(), "p.toml: unknown action \"permit\"");
    }
}
