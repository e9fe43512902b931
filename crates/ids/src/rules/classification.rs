//! Classification config (`config classification: shortname,description,priority`): what a
//! rule's `classtype` means, and the priority it gives a rule that sets none. Suricata 7's
//! default file ships inside the crate.

use std::collections::HashMap;

/// Suricata 7's default classification.config, as shipped.
pub const SURICATA_DEFAULT: &str = include_str!("classification.config");

/// One classtype: its description (the alert's `category`) and default priority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classtype {
    pub description: String,
    pub priority: u8,
}

/// Classtypes by short name.
#[derive(Debug, Clone, Default)]
pub struct Classifications {
    by_name: HashMap<String, Classtype>,
}

/// A line of a classification config that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ClassificationError {
    pub line: usize,
    pub reason: String,
}

impl Classifications {
    /// Suricata's defaults.
    pub fn suricata_default() -> Self {
        Self::parse(SURICATA_DEFAULT).expect("the shipped classification.config parses")
    }

    /// Parses a classification config. Comments and blank lines are skipped.
    pub fn parse(text: &str) -> Result<Self, ClassificationError> {
        let mut by_name = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |reason: &str| ClassificationError {
                line: i + 1,
                reason: reason.to_owned(),
            };
            let body = line.strip_prefix("config classification:").ok_or_else(|| {
                err("expected `config classification: name,description,priority`")
            })?;
            let mut parts = body.splitn(3, ',');
            let (Some(name), Some(desc), Some(prio)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(err("expected three comma-separated fields"));
            };
            let priority = prio
                .trim()
                .parse::<u8>()
                .map_err(|_| err("priority is not a number 0-255"))?;
            by_name.insert(
                name.trim().to_ascii_lowercase(),
                Classtype {
                    description: desc.trim().to_owned(),
                    priority,
                },
            );
        }
        Ok(Classifications { by_name })
    }

    /// The classtype of that short name (case-insensitive, as Suricata).
    pub fn get(&self, name: &str) -> Option<&Classtype> {
        self.by_name.get(&name.to_ascii_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_file_has_suricatas_classtypes() {
        let c = Classifications::suricata_default();
        let t = c.get("trojan-activity").unwrap();
        assert_eq!(t.description, "A Network Trojan was detected");
        assert_eq!(t.priority, 1);
        assert_eq!(c.get("Bad-Unknown").unwrap().priority, 2);
        assert!(c.get("nope").is_none());
    }

    #[test]
    fn bad_lines_name_their_line() {
        let e = Classifications::parse("# c\nconfig classification: a,b,x\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(Classifications::parse("config classification: a,b\n").is_err());
        assert!(Classifications::parse("classification: a,b,1\n").is_err());
    }
}
