//! The body of a `stats` event: Suricata's `stats` object, a tree of named counters.
//!
//! The tree is open: an engine adds its counters by dotted path (`"decoder.pkts"`,
//! `"rampart.datapath.emc_hits"`) without any change to this crate, the way Suricata builds its
//! tree from counter names. Sections and counters keep the order they were first set in, so
//! output can follow Suricata's order (`uptime`, `capture`, `decoder`, `flow`, …). Counters that
//! Suricata also has must use Suricata's names and places (`decoder.pkts`, `decoder.ipv4`,
//! `decoder.vlan_qinq`, `decoder.too_many_layers`, `flow.memcap`, …); counters only Rampart has
//! go under [`RAMPART_SECTION`], one subsection per engine. Lookups are linear scans: stats events
//! are built every few seconds, never per packet.

use std::fmt;

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The top-level section that holds Rampart-only counters, one subsection per engine
/// (`stats.rampart.datapath`, `stats.rampart.firewall`, …).
pub const RAMPART_SECTION: &str = "rampart";

/// One node of the counter tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatsValue {
    /// A counter or gauge.
    Counter(u64),
    /// A nested section.
    Section(StatsSection),
}

/// A section of the counter tree: named counters and subsections, in insertion order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsSection {
    entries: Vec<(String, StatsValue)>,
}

/// Why a dotted counter path could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StatsPathError {
    /// The path is empty, or has an empty component (`"decoder..pkts"`, `".x"`).
    #[error("stats path {path:?}: empty name")]
    EmptyName {
        /// The path given.
        path: String,
    },
    /// A component that must be a section is already a counter.
    #[error("stats path {path:?}: {name:?} is a counter, not a section")]
    NotASection {
        /// The path given.
        path: String,
        /// The component at fault.
        name: String,
    },
    /// The last component, which must be a counter, is already a section.
    #[error("stats path {path:?}: {name:?} is a section, not a counter")]
    NotACounter {
        /// The path given.
        path: String,
        /// The component at fault.
        name: String,
    },
}

/// Refuses a dotted path that is empty or has an empty component.
fn check_path(path: &str) -> Result<(), StatsPathError> {
    if path.split('.').any(str::is_empty) {
        return Err(StatsPathError::EmptyName { path: path.into() });
    }
    Ok(())
}

impl StatsSection {
    /// An empty section.
    pub fn new() -> Self {
        StatsSection::default()
    }

    /// Number of direct entries (counters and subsections).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the section has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The direct entries, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &StatsValue)> {
        self.entries
            .iter()
            .map(|(name, value)| (name.as_str(), value))
    }

    fn entry(&self, name: &str) -> Option<&StatsValue> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    fn entry_mut(&mut self, name: &str) -> Option<&mut StatsValue> {
        self.entries
            .iter_mut()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// The value at a dotted path (`"decoder.pkts"`, `"flow"`), if present.
    pub fn get(&self, path: &str) -> Option<&StatsValue> {
        let mut node = self;
        let mut names = path.split('.').peekable();
        while let Some(name) = names.next() {
            let value = node.entry(name)?;
            if names.peek().is_none() {
                return Some(value);
            }
            match value {
                StatsValue::Section(section) => node = section,
                StatsValue::Counter(_) => return None,
            }
        }
        None
    }

    /// The counter at a dotted path, if present and a counter.
    pub fn counter(&self, path: &str) -> Option<u64> {
        match self.get(path)? {
            StatsValue::Counter(value) => Some(*value),
            StatsValue::Section(_) => None,
        }
    }

    /// The section at a dotted path, if present and a section.
    pub fn section(&self, path: &str) -> Option<&StatsSection> {
        match self.get(path)? {
            StatsValue::Section(section) => Some(section),
            StatsValue::Counter(_) => None,
        }
    }

    /// The section at a dotted path, created (with any missing parents, each appended to its
    /// parent) if absent.
    pub fn section_mut(&mut self, path: &str) -> Result<&mut StatsSection, StatsPathError> {
        check_path(path)?;
        let mut node = self;
        for name in path.split('.') {
            node = node.child_section(name, path)?;
        }
        Ok(node)
    }

    fn child_section(
        &mut self,
        name: &str,
        path: &str,
    ) -> Result<&mut StatsSection, StatsPathError> {
        let index = match self.entries.iter().position(|(n, _)| n == name) {
            Some(index) => index,
            None => {
                self.entries
                    .push((name.to_owned(), StatsValue::Section(StatsSection::new())));
                self.entries.len() - 1
            }
        };
        match self.entries.get_mut(index).map(|(_, v)| v) {
            Some(StatsValue::Section(section)) => Ok(section),
            _ => Err(StatsPathError::NotASection {
                path: path.into(),
                name: name.into(),
            }),
        }
    }

    /// Sets the counter at a dotted path, creating missing sections. An existing counter keeps
    /// its place; a new one is appended to its section.
    pub fn set(&mut self, path: &str, value: u64) -> Result<(), StatsPathError> {
        check_path(path)?;
        let (parent, name) = match path.rsplit_once('.') {
            Some((parent, name)) => (Some(parent), name),
            None => (None, path),
        };
        let section = match parent {
            Some(parent) => {
                let mut node = &mut *self;
                for component in parent.split('.') {
                    node = node.child_section(component, path)?;
                }
                node
            }
            None => self,
        };
        match section.entry_mut(name) {
            Some(StatsValue::Counter(counter)) => *counter = value,
            Some(StatsValue::Section(_)) => {
                return Err(StatsPathError::NotACounter {
                    path: path.into(),
                    name: name.into(),
                });
            }
            None => section
                .entries
                .push((name.to_owned(), StatsValue::Counter(value))),
        }
        Ok(())
    }

    /// Sets several counters of this section from `(dotted path, value)` pairs, in order.
    pub fn set_all<'p>(
        &mut self,
        counters: impl IntoIterator<Item = (&'p str, u64)>,
    ) -> Result<(), StatsPathError> {
        counters
            .into_iter()
            .try_for_each(|(path, value)| self.set(path, value))
    }
}

/// The `stats` object: the counter tree, whose first entry is `uptime`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct StatsEvent {
    /// The whole tree, `uptime` included. Engines add their counters with
    /// [`StatsSection::set`] or through [`StatsEvent::rampart_mut`].
    pub counters: StatsSection,
}

impl StatsEvent {
    /// A stats object holding only `uptime`, in whole seconds since the engine started.
    pub fn new(uptime_secs: u64) -> Self {
        StatsEvent {
            counters: StatsSection {
                entries: vec![("uptime".to_owned(), StatsValue::Counter(uptime_secs))],
            },
        }
    }

    /// Seconds since the engine started, if the tree has `uptime`.
    pub fn uptime(&self) -> Option<u64> {
        self.counters.counter("uptime")
    }

    /// Sets a counter by dotted path (see [`StatsSection::set`]).
    pub fn set(&mut self, path: &str, value: u64) -> Result<(), StatsPathError> {
        self.counters.set(path, value)
    }

    /// The counter at a dotted path.
    pub fn counter(&self, path: &str) -> Option<u64> {
        self.counters.counter(path)
    }

    /// The section for one Rampart engine's own counters, `rampart.<engine>`, created if absent.
    pub fn rampart_mut(&mut self, engine: &str) -> Result<&mut StatsSection, StatsPathError> {
        if engine.contains('.') || engine.is_empty() {
            return Err(StatsPathError::EmptyName {
                path: format!("{RAMPART_SECTION}.{engine}"),
            });
        }
        self.counters
            .section_mut(RAMPART_SECTION)?
            .section_mut(engine)
    }
}

impl<'de> Deserialize<'de> for StatsEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        StatsSection::deserialize(deserializer).map(|counters| StatsEvent { counters })
    }
}

impl Serialize for StatsSection {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (name, value) in &self.entries {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl Serialize for StatsValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            StatsValue::Counter(value) => serializer.serialize_u64(*value),
            StatsValue::Section(section) => section.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for StatsSection {
    /// Reads an object of counters and nested objects, keeping the input's order. A repeated
    /// name replaces the earlier value in its place.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = StatsSection;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of counters and sections")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<StatsSection, A::Error> {
                let mut section = StatsSection::new();
                while let Some((name, value)) = map.next_entry::<String, StatsValue>()? {
                    match section.entry_mut(&name) {
                        Some(slot) => *slot = value,
                        None => section.entries.push((name, value)),
                    }
                }
                Ok(section)
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

impl<'de> Deserialize<'de> for StatsValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = StatsValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative integer counter or an object of counters")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<StatsValue, E> {
                Ok(StatsValue::Counter(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<StatsValue, E> {
                u64::try_from(v)
                    .map(StatsValue::Counter)
                    .map_err(|_| E::custom(format_args!("negative counter {v}")))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<StatsValue, A::Error> {
                let section =
                    StatsSection::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(StatsValue::Section(section))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_tree_in_insertion_order() {
        let mut stats = StatsEvent::new(12);
        stats.set("decoder.pkts", 10).unwrap();
        stats.set("decoder.bytes", 900).unwrap();
        stats.set("flow.memcap", 0).unwrap();
        stats.set("decoder.pkts", 11).unwrap();
        stats
            .rampart_mut("datapath")
            .unwrap()
            .set("emc.hits", 4)
            .unwrap();
        let json = serde_json::to_string(&stats).unwrap();
        assert_eq!(
            json,
            r#"{"uptime":12,"decoder":{"pkts":11,"bytes":900},"flow":{"memcap":0},"rampart":{"datapath":{"emc":{"hits":4}}}}"#
        );
        assert_eq!(stats.uptime(), Some(12));
        assert_eq!(stats.counter("rampart.datapath.emc.hits"), Some(4));
        assert_eq!(stats.counter("decoder"), None);
        assert_eq!(stats.counter("decoder.pkts.x"), None);
        assert_eq!(
            stats.counters.section("decoder").map(StatsSection::len),
            Some(2)
        );
        assert!(stats.counters.section("decoder.pkts").is_none());
        assert!(stats.counters.get("nothing").is_none());
        let names: Vec<&str> = stats.counters.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["uptime", "decoder", "flow", "rampart"]);
    }

    #[test]
    fn refuses_bad_paths() {
        let mut stats = StatsEvent::new(0);
        stats.set("decoder.pkts", 1).unwrap();
        for bad in ["", ".", "decoder.", ".pkts", "decoder..pkts"] {
            assert_eq!(
                stats.set(bad, 1),
                Err(StatsPathError::EmptyName { path: bad.into() }),
                "{bad:?}"
            );
        }
        assert_eq!(
            stats.set("decoder.pkts.ipv4", 1),
            Err(StatsPathError::NotASection {
                path: "decoder.pkts.ipv4".into(),
                name: "pkts".into()
            })
        );
        assert_eq!(
            stats.set("decoder", 1),
            Err(StatsPathError::NotACounter {
                path: "decoder".into(),
                name: "decoder".into()
            })
        );
        assert!(stats.counters.section_mut("uptime").is_err());
        assert!(stats.counters.section_mut("a..b").is_err());
        assert!(stats.rampart_mut("data.path").is_err());
        assert!(stats.rampart_mut("").is_err());
        // Failed calls left nothing behind.
        let json = serde_json::to_string(&stats).unwrap();
        assert_eq!(json, r#"{"uptime":0,"decoder":{"pkts":1}}"#);
    }

    #[test]
    fn set_all_stops_at_the_first_error() {
        let mut section = StatsSection::new();
        let result = section.set_all([("a", 1), ("b", 2), ("a.x", 3), ("c", 4)]);
        assert!(matches!(result, Err(StatsPathError::NotASection { .. })));
        assert_eq!(serde_json::to_string(&section).unwrap(), r#"{"a":1,"b":2}"#);
    }

    #[test]
    fn parses_in_order_and_refuses_non_counters() {
        let json = r#"{"uptime":3,"z":{"b":1,"a":2},"y":5,"y":6}"#;
        let stats: StatsEvent = serde_json::from_str(json).unwrap();
        assert_eq!(
            serde_json::to_string(&stats).unwrap(),
            r#"{"uptime":3,"z":{"b":1,"a":2},"y":6}"#
        );
        assert!(serde_json::from_str::<StatsEvent>(r#"{"x":-1}"#).is_err());
        assert!(serde_json::from_str::<StatsEvent>(r#"{"x":1.5}"#).is_err());
        assert!(serde_json::from_str::<StatsEvent>(r#"{"x":"1"}"#).is_err());
        assert!(serde_json::from_str::<StatsEvent>(r#"[1]"#).is_err());
        let deep = "{\"a\":".repeat(200) + "1" + &"}".repeat(200);
        assert!(serde_json::from_str::<StatsEvent>(&deep).is_err());
    }
}
