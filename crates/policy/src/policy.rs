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
        match self.classifier.first_match(p) {
            Some(i) => {
                let r = &self.model.rules[i as usize];
                Verdict {
                    rule: Some(i),
                    action: r.action,
                    log: r.log,
                }
            }
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

    pub(crate) fn set_generation(&mut self, generation: u64) {
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
