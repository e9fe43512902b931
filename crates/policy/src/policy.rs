//! The compiled policy: one immutable snapshot holding every run-time lookup (zones, rule
//! classifier, NAT, flood thresholds, anti-spoofing) and the model it was compiled from.
//!
//! A snapshot is built once per load and then only read, by any number of workers at once
//! (it is `Send + Sync`, shared through an `Arc`; see [`crate::PolicyCell`] for reloads). No
//! lookup on it allocates.

use std::path::Path;

use crate::classify::Classifier;
use crate::error::{PolicyError, Warning};
use crate::guard::{FloodTable, SpoofTable};
use crate::model::{Action, DefaultRule, FirstPacket, Inventory, Model, Rule};
use crate::nat::NatTable;
use crate::parse::Document;
use crate::zone::ZoneMap;

/// The decision for a connection's first packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Index of the matching rule in [`Policy::rules`]; `None` when the default decided.
    pub rule: Option<u32>,
    pub action: Action,
    /// True when the connection should be logged (the rule's or the default's `log`).
    pub log: bool,
}

/// A compiled policy snapshot.
#[derive(Debug, Clone)]
pub struct Policy {
    generation: u64,
    model: Model,
    zones: ZoneMap,
    classifier: Classifier,
    /// Action and log flag of each rule, by index: what a verdict needs, in one small table.
    verdicts: Vec<(Action, bool)>,
    nat: NatTable,
    floods: FloodTable,
    spoof: SpoofTable,
}

/// A compiled policy and what the operator should look at.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub policy: Policy,
    pub warnings: Vec<Warning>,
}

impl Policy {
    /// Compiles a validated model; the warnings come with it. `inventory` must be the one the
    /// model was validated against (port ids and bound addresses come from it).
    pub fn compile(model: Model, inventory: Option<&Inventory>) -> Compiled {
        let mut overlaps = Vec::new();
        let zones = ZoneMap::new(&model, inventory, &mut overlaps);
        let classifier = Classifier::new(&model.rules, model.zones.len());
        let verdicts = model.rules.iter().map(|r| (r.action, r.log)).collect();
        let nat = NatTable::new(&model);
        let floods = FloodTable::new(&model);
        let spoof = SpoofTable::new(&model);
        let warnings = crate::lint::warnings(&model, inventory, &overlaps);
        Compiled {
            policy: Policy {
                generation: 0,
                model,
                zones,
                classifier,
                verdicts,
                nat,
                floods,
                spoof,
            },
            warnings,
        }
    }

    /// Reads, validates and compiles a policy file. `inventory` is the switch's ports; pass
    /// `None` to take port names on trust (see [`Document::validate`]).
    pub fn load(path: &Path, inventory: Option<&Inventory>) -> Result<Compiled, PolicyError> {
        let doc = Document::read(path)?;
        let model = doc.validate(inventory)?;
        Ok(Policy::compile(model, inventory))
    }

    /// The decision for a connection's first packet: the first rule that matches, or the
    /// default. Allocation-free.
    #[inline]
    pub fn classify(&self, p: &FirstPacket) -> Verdict {
        match self
            .classifier
            .first_match(p)
            .and_then(|i| Some((i, *self.verdicts.get(i as usize)?)))
        {
            Some((i, (action, log))) => Verdict {
                rule: Some(i),
                action,
                log,
            },
            None => Verdict {
                rule: None,
                action: self.model.default.action,
                log: self.model.default.log,
            },
        }
    }

    /// The snapshot's generation: 0 until published by a [`crate::PolicyCell`], then 1, 2, …
    /// on each reload.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Numbers the snapshot, for a publisher other than [`crate::PolicyCell`] (which numbers
    /// its own): the engine interface's `Snapshot` carries a generation of its own, and the
    /// policy inside it should say the same.
    pub fn set_generation(&mut self, generation: u64) {
        self.generation = generation;
    }

    /// The rule a verdict names (id, name, line for audit records).
    pub fn rule(&self, index: u32) -> Option<&Rule> {
        self.model.rules.get(index as usize)
    }

    /// Every rule, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.model.rules
    }

    /// The default for new connections no rule matches.
    pub fn default_rule(&self) -> DefaultRule {
        self.model.default
    }

    /// Zone resolution.
    pub fn zones(&self) -> &ZoneMap {
        &self.zones
    }

    /// The rule classifier (sizes, for reports).
    pub fn classifier(&self) -> &Classifier {
        &self.classifier
    }

    /// NAT lookups.
    pub fn nat(&self) -> &NatTable {
        &self.nat
    }

    /// Flood thresholds.
    pub fn floods(&self) -> &FloodTable {
        &self.floods
    }

    /// Anti-spoofing.
    pub fn anti_spoof(&self) -> &SpoofTable {
        &self.spoof
    }

    /// The validated model this snapshot was compiled from.
    pub fn model(&self) -> &Model {
        &self.model
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ConnState, Transport, ZoneId};
    use crate::testutil::{compile, inventory};

    const RULES: &str = r#"
[[zone]]
name = "lan"
members = ["192.168.122.0/24"]
[[zone]]
name = "dmz"
members = ["10.1.0.0/24"]

[[rule]]
name = "no-telnet"
proto = "tcp"
ports = 23
action = "reject"

[[rule]]
name = "lan-web"
from = "lan"
to = "dmz"
proto = "tcp"
ports = [80, 443]
action = "allow"
log = true

[[rule]]
name = "lan-to-dmz-watched"
from = "lan"
to = "dmz"
action = "alert"

[[rule]]
name = "ping-anywhere"
proto = "icmp"
icmp_type = "echo-request"
state = "new"
action = "allow"

[default]
action = "drop-alert"
log = true
"#;

    fn packet(p: &Policy, src: &str, dst: &str, proto: u8, transport: Transport) -> FirstPacket {
        let (src, dst) = (src.parse().unwrap(), dst.parse().unwrap());
        FirstPacket {
            src_zone: p.zones().by_ip(src),
            dst_zone: p.zones().by_ip(dst),
            src,
            dst,
            proto,
            transport,
            state: ConnState::New,
        }
    }

    #[test]
    fn the_first_matching_rule_decides_else_the_default() {
        let p = compile(RULES).policy;
        let tcp = |dst| Transport::Ports { src: 40000, dst };
        let verdict = |src, dst, proto, t| {
            let v = p.classify(&packet(&p, src, dst, proto, t));
            (
                v.rule.map(|i| p.rule(i).unwrap().name.as_str()),
                v.action,
                v.log,
            )
        };
        let (lan, dmz, wan) = ("192.168.122.5", "10.1.0.7", "8.8.8.8");
        // Telnet is refused before the broader allow and alert rules below it.
        assert_eq!(
            verdict(lan, dmz, 6, tcp(23)),
            (Some("no-telnet"), Action::Reject, false)
        );
        assert_eq!(
            verdict(lan, dmz, 6, tcp(443)),
            (Some("lan-web"), Action::Allow, true)
        );
        assert_eq!(
            verdict(lan, dmz, 6, tcp(22)),
            (Some("lan-to-dmz-watched"), Action::Alert, false)
        );
        assert_eq!(
            verdict(lan, dmz, 17, tcp(53)),
            (Some("lan-to-dmz-watched"), Action::Alert, false)
        );
        assert_eq!(
            verdict(wan, dmz, 1, Transport::Icmp { ty: 8, code: 0 }),
            (Some("ping-anywhere"), Action::Allow, false)
        );
        // No rule: the default, with its log flag.
        assert_eq!(
            verdict(dmz, lan, 6, tcp(443)),
            (None, Action::DropAlert, true)
        );
        assert_eq!(
            verdict(wan, dmz, 1, Transport::Icmp { ty: 0, code: 0 }),
            (None, Action::DropAlert, true)
        );
        // The state is part of the match.
        let mut related = packet(&p, wan, dmz, 1, Transport::Icmp { ty: 8, code: 0 });
        related.state = ConnState::Related;
        assert_eq!(p.classify(&related).rule, None);
        assert_eq!(p.rule(1).map(|r| (r.id, r.line)), Some((2, 15)));
    }

    #[test]
    fn the_classifier_agrees_with_the_model_on_a_parsed_policy() {
        let p = compile(RULES).policy;
        let hosts = ["192.168.122.5", "10.1.0.7", "8.8.8.8"];
        for src in hosts {
            for dst in hosts {
                for (proto, t) in [
                    (6, Transport::Ports { src: 1, dst: 23 }),
                    (6, Transport::Ports { src: 1, dst: 80 }),
                    (17, Transport::Ports { src: 1, dst: 80 }),
                    (1, Transport::Icmp { ty: 8, code: 0 }),
                    (47, Transport::Other),
                ] {
                    let pk = packet(&p, src, dst, proto, t);
                    let want = p.model().first_match(&pk).map(|i| i as u32);
                    assert_eq!(p.classify(&pk).rule, want, "{pk:?}");
                }
            }
        }
        assert_eq!(p.zones().by_ip("10.1.0.7".parse().unwrap()), ZoneId(2));
    }

    #[test]
    fn load_reads_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.toml");
        std::fs::write(&path, RULES).unwrap();
        let c = Policy::load(&path, Some(&inventory())).unwrap();
        assert_eq!(c.policy.rules().len(), 4);
        assert_eq!(c.policy.classifier().entries(), 4);
        assert_eq!(c.policy.generation(), 0);
        std::fs::write(&path, "[[rule]]\naction = \"maybe\"\n").unwrap();
        let e = Policy::load(&path, None).unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (2, "rule[0].action"));
        assert!(e.file.ends_with("policy.toml"));
    }
}
