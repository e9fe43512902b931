//! Warnings about a policy that loads but probably does not say what its author meant: rules
//! that can never match, zones nothing refers to or that hold nothing, members two zones claim,
//! NAT rules no connection can reach, port names that could not be checked.
//!
//! The checks are exact where they warn: a rule is reported shadowed only when earlier rules
//! provably take every connection it would match (each of its services is covered, field by
//! field, by one earlier rule's service); rules that are covered only by the union of several
//! earlier ones are not reported. Run once per load, never on a packet path.

use std::collections::BTreeSet;

use crate::classify::{Entry, entries};
use crate::error::{Warning, WarningKind};
use crate::model::{Inventory, Member, Model, ZoneId, ZoneSet};
use crate::zone::Overlap;

/// Every warning for a model, in file order of what they are about.
pub(crate) fn warnings(
    model: &Model,
    inventory: Option<&Inventory>,
    overlaps: &[Overlap],
) -> Vec<Warning> {
    let mut out = Vec::new();
    let mut warn = |kind, line, key: String, message: String| {
        out.push(Warning {
            kind,
            file: model.file.clone(),
            line,
            key,
            message,
        })
    };
    let zone_name = |z: ZoneId| model.zones.get(z.index()).map_or("?", |z| z.name.as_str());

    // Zones.
    let mut referenced: BTreeSet<ZoneId> = BTreeSet::new();
    let mut refer = |s: &ZoneSet| referenced.extend(s.listed().unwrap_or(&[]).iter().copied());
    for r in &model.rules {
        refer(&r.from);
        refer(&r.to);
    }
    for s in &model.snat {
        refer(&s.from);
        refer(&s.to);
    }
    for d in &model.dnat {
        refer(&d.from);
    }
    for f in &model.floods {
        refer(&f.from);
        refer(&f.to);
    }
    for (i, z) in model.zones.iter().enumerate().skip(1) {
        let key = format!("zone[{}]", i - 1);
        if z.members.is_empty() {
            warn(
                WarningKind::EmptyZone,
                z.line,
                key.clone(),
                format!("zone {:?} has no members: nothing is ever in it", z.name),
            );
        }
        if !referenced.contains(&z.id) {
            warn(
                WarningKind::UnreferencedZone,
                z.line,
                key,
                format!(
                    "zone {:?} is not named by any rule, NAT rule or flood guard: its traffic \
                     meets only rules for `any` and the default",
                    z.name
                ),
            );
        }
    }
    for o in overlaps {
        let zi = model
            .zones
            .iter()
            .position(|z| z.id == o.loser)
            .unwrap_or(1)
            .saturating_sub(1);
        let why = if o.nested {
            "the longer prefix wins"
        } else {
            "the zone declared first wins"
        };
        warn(
            WarningKind::OverlappingMembers,
            o.line,
            format!("zone[{zi}].members"),
            format!(
                "{} claimed by zones {:?} and {:?}: {} ({:?})",
                o.what,
                zone_name(o.winner),
                zone_name(o.loser),
                why,
                zone_name(o.winner)
            ),
        );
    }
    if inventory.is_none() {
        let ports: Vec<String> = model
            .zones
            .iter()
            .flat_map(|z| &z.members)
            .filter_map(|m| match &m.member {
                Member::Port(p) => Some(p.clone()),
                _ => None,
            })
            .chain(model.anti_spoof.iter().map(|g| g.port.clone()))
            .chain(
                model
                    .labels
                    .iter()
                    .flat_map(|(_, ports)| ports.iter().cloned()),
            )
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !ports.is_empty() {
            warn(
                WarningKind::Unchecked,
                0,
                String::new(),
                format!(
                    "port names not checked and ports' bound addresses unknown (no switch \
                     configuration: `switch = \"FILE\"` or --config): {}",
                    ports.join(", ")
                ),
            );
        }
    }

    // Rules.
    let zones = model.zones.len();
    let all = entries(&model.rules);
    let mut start = 0;
    for (j, rule) in model.rules.iter().enumerate() {
        let end = start + rule.services.len();
        let mine = &all[start..end];
        let earlier = &all[..start];
        start = end;
        let mut coverers: BTreeSet<u32> = BTreeSet::new();
        let mut shadowed = true;
        for e in mine {
            if e.is_void() {
                continue;
            }
            match earlier.iter().find(|x| e.covered_by(x, zones)) {
                Some(x) => {
                    coverers.insert(x.rule);
                }
                None => shadowed = false,
            }
        }
        let key = format!("rule[{j}]");
        if mine.iter().all(Entry::is_void) {
            warn(
                WarningKind::ShadowedRule,
                rule.line,
                key,
                format!(
                    "rule {:?} can match nothing (one of its fields is empty)",
                    rule.name
                ),
            );
            continue;
        }
        if !shadowed || coverers.is_empty() {
            continue;
        }
        let by: Vec<String> = coverers
            .iter()
            .map(|&i| {
                let r = &model.rules[i as usize];
                format!("rule[{i}] {:?} (line {}, {})", r.name, r.line, r.action)
            })
            .collect();
        let same = coverers
            .iter()
            .all(|&i| model.rules[i as usize].action == rule.action);
        warn(
            WarningKind::ShadowedRule,
            rule.line,
            key,
            format!(
                "rule {:?} ({}) never matches: {} {} every connection it would match{}",
                rule.name,
                rule.action,
                by.join(" and "),
                if by.len() == 1 { "takes" } else { "take" },
                if same {
                    " (same action: the rule is redundant)"
                } else {
                    ""
                }
            ),
        );
    }

    // NAT.
    for (j, s) in model.snat.iter().enumerate() {
        let key = format!("snat[{j}]");
        if s.source.is_empty() {
            warn(
                WarningKind::NatNeverApplies,
                s.line,
                key,
                format!(
                    "snat {:?} never applies: none of its source addresses is of {}'s IP version",
                    s.name, s.address
                ),
            );
            continue;
        }
        if let Some((i, e)) = model.snat[..j].iter().enumerate().find(|(_, e)| {
            e.from.is_superset(&s.from, zones)
                && e.to.is_superset(&s.to, zones)
                && e.source.is_superset(&s.source)
                && e.destination.is_superset(&s.destination)
        }) {
            warn(
                WarningKind::NatNeverApplies,
                s.line,
                key,
                format!(
                    "snat {:?} never applies: snat[{i}] {:?} (line {}) takes every connection it would",
                    s.name, e.name, e.line
                ),
            );
            continue;
        }
        let mapped = crate::addr::AddrSet::from_cidrs(model.one_to_one.iter().map(|m| &m.internal));
        if mapped.is_superset(&s.source) {
            warn(
                WarningKind::NatNeverApplies,
                s.line,
                key,
                format!(
                    "snat {:?} never applies: every source address it covers is mapped 1:1, and \
                     1:1 mappings come first",
                    s.name
                ),
            );
        }
    }
    for (j, d) in model.dnat.iter().enumerate() {
        if let Some((i, e)) = model.dnat[..j].iter().enumerate().find(|(_, e)| {
            e.address == d.address
                && e.from.is_superset(&d.from, zones)
                && e.protos.is_superset(d.protos)
                && e.ports.0 <= d.ports.0
                && d.ports.1 <= e.ports.1
        }) {
            warn(
                WarningKind::NatNeverApplies,
                d.line,
                format!("dnat[{j}]"),
                format!(
                    "dnat {:?} never applies: dnat[{i}] {:?} (line {}) maps the same address and \
                     ports first",
                    d.name, e.name, e.line
                ),
            );
        }
    }
    out.sort_by_key(|w| w.line);
    out
}
