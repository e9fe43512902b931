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
        let why = if o.nested {
            "the longer prefix"
        } else {
            "declared first"
        };
        warn(
            WarningKind::OverlappingMembers,
            o.line,
            format!("zone[{}].members", o.zones.1.index().saturating_sub(1)),
            format!(
                "{} claimed by zones {:?} and {:?}: {:?} wins ({why})",
                o.what,
                zone_name(o.zones.0),
                zone_name(o.zones.1),
                zone_name(o.winner),
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

#[cfg(test)]
mod tests {
    use crate::WarningKind;
    use crate::testutil::compile;

    /// The warnings of a policy as `(kind, line, key)`, and their messages.
    fn warnings(text: &str) -> (Vec<(WarningKind, usize, String)>, Vec<String>) {
        let w = compile(text).warnings;
        (
            w.iter().map(|w| (w.kind, w.line, w.key.clone())).collect(),
            w.iter().map(|w| w.to_string()).collect(),
        )
    }

    const ZONES: &str = "[[zone]]\nname = \"lan\"\nmembers = [\"10.0.0.0/8\"]\n[[zone]]\nname = \"dmz\"\nmembers = [\"172.16.0.0/12\"]\n";

    #[test]
    fn a_clean_policy_has_no_warnings() {
        let text = format!(
            "{ZONES}[[rule]]\nfrom = \"lan\"\nto = \"dmz\"\nproto = \"tcp\"\nports = 22\naction = \"allow\"\n\
             [[rule]]\nfrom = \"dmz\"\nto = \"lan\"\naction = \"deny\"\n"
        );
        assert_eq!(compile(&text).warnings, []);
    }

    #[test]
    fn shadowed_and_redundant_rules() {
        let text = format!(
            "{ZONES}\
[[rule]]
name = \"wide\"
from = \"any\"
proto = \"tcp\"
ports = \"1-1024\"
action = \"allow\"

[[rule]]
name = \"web\"
from = \"lan\"
to = \"dmz\"
proto = \"tcp\"
ports = [80, 443]
action = \"allow\"

[[rule]]
name = \"ssh\"
from = [\"lan\", \"dmz\", \"wan\"]
proto = \"tcp\"
ports = 22
source = [\"10.1.0.0/16\"]
action = \"deny\"

[[rule]]
name = \"partly\"
proto = \"tcp\"
ports = \"1000-2000\"
action = \"deny\"

[[rule]]
name = \"ping\"
proto = \"icmp\"
icmp_type = \"echo-request\"
action = \"allow\"

[[rule]]
name = \"two-services\"
services = [\"s\"]
action = \"reject\"

[[service]]
name = \"s\"
services = [\"https\", \"echo\"]
[[service]]
name = \"https\"
proto = \"tcp\"
ports = 443
[[service]]
name = \"echo\"
proto = \"icmp\"
icmp_type = 8
icmp_code = 0
"
        );
        let (w, msgs) = warnings(&text);
        let shadowed: Vec<&String> = w
            .iter()
            .filter(|(k, _, _)| *k == WarningKind::ShadowedRule)
            .map(|(_, _, key)| key)
            .collect();
        assert_eq!(shadowed, ["rule[1]", "rule[2]", "rule[5]"], "{msgs:#?}");
        let text_of = |key: &str| {
            msgs.iter()
                .find(|m| m.contains(&format!(": {key}: ")))
                .unwrap()
        };
        assert!(text_of("rule[1]").contains("redundant"), "{msgs:#?}");
        assert!(text_of("rule[1]").contains("rule[0] \"wide\""), "{msgs:#?}");
        // Covered by a rule with another action: shadowed, not redundant.
        assert!(
            text_of("rule[2]").contains("never matches")
                && !text_of("rule[2]").contains("redundant")
        );
        // Each service covered by a different earlier rule: both are named.
        assert!(
            text_of("rule[5]").contains("rule[0] \"wide\"")
                && text_of("rule[5]").contains("rule[4] \"ping\"")
        );
        let line = text.lines().position(|l| l == "name = \"web\"").unwrap();
        assert!(
            w.contains(&(WarningKind::ShadowedRule, line, "rule[1]".into())),
            "{w:?}"
        );
    }

    #[test]
    fn a_list_of_every_zone_is_as_wide_as_any() {
        let text = format!(
            "{ZONES}[[rule]]\nfrom = [\"lan\", \"dmz\", \"wan\"]\nto = [\"lan\", \"dmz\"]\naction = \"deny\"\n\
             [[rule]]\nto = [\"dmz\"]\naction = \"deny\"\n[[rule]]\nto = \"any\"\naction = \"deny\"\n"
        );
        let (w, msgs) = warnings(&text);
        assert_eq!(
            w,
            [(WarningKind::ShadowedRule, 11, "rule[1]".into())],
            "{msgs:#?}"
        );
    }

    #[test]
    fn a_rule_that_can_match_nothing() {
        // An IPv6-only source with an IPv4-only destination.
        let text =
            "[[rule]]\nsource = \"fd00::/8\"\ndestination = \"10.0.0.0/8\"\naction = \"allow\"\n";
        let (_, msgs) = warnings(text);
        assert!(
            msgs.iter().all(|m| !m.contains("can match nothing")),
            "{msgs:?}"
        );
        let text = "[[rule]]\nstate = \"new\"\naction = \"allow\"\n[[rule]]\nstate = [\"new\"]\naction = \"deny\"\n";
        let (w, _) = warnings(text);
        assert_eq!(w, [(WarningKind::ShadowedRule, 4, "rule[1]".into())]);
    }

    #[test]
    fn unreferenced_and_empty_zones() {
        let text = "[[zone]]\nname = \"used\"\nmembers = [\"10.0.0.0/8\"]\n[[zone]]\nname = \"idle\"\nmembers = [\"11.0.0.0/8\"]\n[[zone]]\nname = \"hollow\"\n[[rule]]\nfrom = \"used\"\nto = \"hollow\"\naction = \"allow\"\n";
        let (w, msgs) = warnings(text);
        assert_eq!(
            w,
            [
                (WarningKind::UnreferencedZone, 4, "zone[1]".into()),
                (WarningKind::EmptyZone, 7, "zone[2]".into()),
            ],
            "{msgs:#?}"
        );
        // NAT rules and flood guards count as references.
        let text = "[[zone]]\nname = \"n\"\nmembers = [\"10.0.0.0/8\"]\n[[snat]]\nfrom = \"n\"\nto_address = \"203.0.113.1\"\n[[zone]]\nname = \"f\"\nmembers = [\"11.0.0.0/8\"]\n[[flood]]\nkind = \"udp\"\nrate = 5\nto = \"f\"\n";
        assert_eq!(warnings(text).0, []);
    }

    #[test]
    fn overlapping_members() {
        let text = r#"
[[zone]]
name = "a"
members = ["10.0.0.0/16", "02:00:00:00:00:aa", "vm-web1"]
[[zone]]
name = "b"
members = ["10.0.5.0/24", "02:00:00:00:00:aa"]
[[zone]]
name = "c"
members = ["10.0.0.0/16", "port:vm-web1", "192.168.122.0/24"]
"#;
        let (w, msgs) = warnings(text);
        let overlaps: Vec<&String> = msgs.iter().filter(|m| m.contains("claimed by")).collect();
        assert_eq!(overlaps.len(), 6, "{overlaps:#?}");
        let has = |s: &str| overlaps.iter().any(|m| m.contains(s));
        assert!(
            has(
                "zone[1].members: 10.0.0.0/16 and 10.0.5.0/24 claimed by zones \"a\" and \"b\": \"b\" wins (the longer prefix)"
            ),
            "{overlaps:#?}"
        );
        assert!(has(
            "zone[1].members: 02:00:00:00:00:aa claimed by zones \"a\" and \"b\": \"a\" wins (declared first)"
        ));
        assert!(has(
            "10.0.0.0/16 and 10.0.0.0/16 claimed by zones \"a\" and \"c\": \"a\" wins"
        ));
        assert!(has(
            "10.0.5.0/24 and 10.0.0.0/16 claimed by zones \"b\" and \"c\": \"b\" wins"
        ));
        assert!(has(
            "zone[2].members: port vm-web1 claimed by zones \"a\" and \"c\""
        ));
        // vm-web1's bound address (from port membership) against c's /24.
        assert!(
            has("192.168.122.10/32 (port vm-web1) and 192.168.122.0/24"),
            "{overlaps:#?}"
        );
        assert!(
            w.iter()
                .any(|(_, line, key)| *line == 7 && key == "zone[1].members")
        );
    }

    #[test]
    fn nat_rules_that_never_apply() {
        let text = r#"
[[zone]]
name = "lan"
members = ["10.0.0.0/8"]

[[one_to_one]]
internal = "10.9.0.0/16"
external = "203.0.113.0/16"

[[snat]]
name = "all"
from = "lan"
to_address = "198.51.100.1"

[[snat]]
name = "covered"
from = "lan"
source = ["10.1.0.0/16"]
to_address = "198.51.100.2"

[[snat]]
name = "v6-into-v4"
source = ["fd00::/8"]
to_address = "198.51.100.3"

[[snat]]
name = "one-to-one-first"
source = ["10.9.1.0/24"]
to = "any"
to_address = "198.51.100.4"

[[dnat]]
name = "web"
proto = ["tcp", "udp"]
address = "198.51.100.1"
port = "80-90"
to_address = "10.0.0.5"

[[dnat]]
name = "web-again"
proto = "tcp"
address = "198.51.100.1"
port = 85
to_address = "10.0.0.6"

[[dnat]]
name = "other-address"
proto = "tcp"
address = "198.51.100.2"
port = 85
to_address = "10.0.0.6"
"#
        .replace("203.0.113.0/16", "203.0.0.0/16");
        let (w, msgs) = warnings(&text);
        let nat: Vec<&str> = w
            .iter()
            .filter(|(k, _, _)| *k == WarningKind::NatNeverApplies)
            .map(|(_, _, key)| key.as_str())
            .collect();
        assert_eq!(
            nat,
            ["snat[1]", "snat[2]", "snat[3]", "dnat[1]"],
            "{msgs:#?}"
        );
        assert!(msgs.iter().any(|m| m.contains("snat[0] \"all\"")));
        assert!(msgs.iter().any(|m| m.contains("IP version")));
        assert!(msgs.iter().any(|m| m.contains("mapped 1:1")));
        assert!(msgs.iter().any(|m| m.contains("dnat[0] \"web\"")));
    }

    #[test]
    fn port_names_without_a_switch_configuration_are_flagged() {
        let text = "[[zone]]\nname = \"z\"\nmembers = [\"vm-x\", \"10.0.0.0/8\"]\n[[rule]]\nto = \"z\"\naction = \"allow\"\n";
        let doc = crate::Document::parse(text.into(), std::path::Path::new("p.toml")).unwrap();
        let c = crate::Policy::compile(doc.validate(None).unwrap(), None);
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert_eq!(c.warnings[0].kind, WarningKind::Unchecked);
        assert!(
            c.warnings[0].message.ends_with(": vm-x"),
            "{}",
            c.warnings[0]
        );
    }
}
