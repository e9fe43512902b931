//! The policy file format: the issue's example as written, every key, and one test per kind
//! of error, each checked for its line, key and message. A property test feeds the parser
//! arbitrary text and policy-shaped token soup, and round-trips generated rules.

use std::path::Path;

use proptest::prelude::*;

use super::*;
use crate::model::{FirstPacket, Transport};
use crate::testutil::inventory;

fn doc(text: &str) -> Result<Document, PolicyError> {
    Document::parse(text.to_string(), Path::new("p.toml"))
}

fn model(text: &str) -> Result<Model, PolicyError> {
    doc(text)?.validate(Some(&inventory()))
}

fn model_alone(text: &str) -> Result<Model, PolicyError> {
    doc(text)?.validate(None)
}

/// The 1-based line of the first occurrence of `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the text"));
    text[..at].matches('\n').count() + 1
}

/// The error of `text`: on the line of `at`, for `key`, saying `what`.
#[track_caller]
fn expect_err(text: &str, at: &str, key: &str, what: &str) {
    let e = model(text).expect_err("the policy should be refused");
    assert_eq!(e.line, line_of(text, at), "line of {e}");
    assert_eq!(e.key, key, "key of {e}");
    assert!(e.message.contains(what), "message of {e}: want {what:?}");
    assert!(
        e.to_string()
            .starts_with(&format!("p.toml:{}: {key}: ", e.line)),
        "{e}"
    );
    assert!(e.column >= 1, "column of {e}");
}

const ISSUE_EXAMPLE: &str = r#"
[[zone]]
name = "lan"
members = ["192.168.122.0/24", "vm-web1", "02:00:00:00:00:01"]  # CIDRs, ports, MACs

[[rule]]
from = "lan"            # a zone, "wan" or "any"
to = "wan"
proto = "tcp"           # tcp, udp, icmp, icmpv6, any (default any)
ports = [80, "8000-8080"]   # destination ports, optional
action = "allow"        # allow, deny, reject, alert, drop-alert

[default]
action = "deny"         # new connections that no rule matches

[[flood]]
kind = "syn"            # syn, udp, icmp
per = "destination"     # destination or source
rate = 500              # packets per second
burst = 1000
action = "block"        # alert, or block (alert, then drop what exceeds the rate)
"#;

#[test]
fn the_issue_example_is_accepted_as_written() {
    for m in [
        model(ISSUE_EXAMPLE).unwrap(),
        model_alone(ISSUE_EXAMPLE).unwrap(),
    ] {
        assert_eq!(m.zones.len(), 2);
        assert_eq!(m.zones[1].name, "lan");
        assert_eq!(
            m.zones[1]
                .members
                .iter()
                .map(|z| z.member.to_string())
                .collect::<Vec<_>>(),
            ["192.168.122.0/24", "port vm-web1", "02:00:00:00:00:01"]
        );
        assert_eq!(m.zones[1].line, 2);
        let r = &m.rules[0];
        assert_eq!((r.id, r.name.as_str(), r.line), (1, "rule-1", 6));
        assert_eq!(r.from, ZoneSet::of([ZoneId(1)]));
        assert_eq!(r.to, ZoneSet::of([ZoneId::WAN]));
        assert_eq!(
            r.services,
            [Service {
                protos: ProtoSet::one(proto::TCP),
                l4: L4Match::Ports {
                    src: RangeSet::full(),
                    dst: RangeSet::from_ranges([(80, 80), (8000, 8080)]),
                },
            }]
        );
        assert_eq!(
            (r.action, r.log, r.states),
            (Action::Allow, false, StateSet::ANY)
        );
        assert_eq!(m.default.action, Action::Deny);
        let f = &m.floods[0];
        assert_eq!(
            (f.kind, f.per, f.rate, f.burst, f.action, f.block_seconds),
            (
                FloodKind::Syn,
                FloodPer::Destination,
                500,
                1000,
                FloodAction::Block,
                60
            )
        );
    }
}

const FULL: &str = r#"
switch = "switch.toml"
description = "every key once"

[labels]
web = ["vm-web1", "vm-web2"]

[[zone]]
name = "web"
members = ["label:web"]
description = "the web servers"

[[zone]]
name = "db"
members = ["label:database", "10.1.0.0/24", "port:vm-db", "02:00:00:00:00:21"]

[[address_group]]
name = "office"
addresses = ["198.51.100.0/24", "2001:db8::/32"]

[[service]]
name = "dns"
proto = ["tcp", "udp"]
ports = 53

[[service]]
name = "ping"
proto = "icmp"
icmp_type = "echo-request"
icmp_code = 0

[[service]]
name = "infra"
services = ["dns", "ping"]

[[rule]]
id = 100
name = "office-to-web"
from = ["wan"]
to = "web"
source = ["office", "192.0.2.7"]
destination = "any"
proto = "tcp"
ports = [443]
source_ports = "1024-65535"
state = ["new", "established"]
action = "allow"
log = true

[[rule]]
from = "web"
to = "db"
services = ["infra", "any"]
action = "alert"

[[rule]]
proto = 47
action = "reject"

[default]
action = "drop-alert"
log = true
description = "what no rule allows is dropped, loudly"

[[snat]]
name = "out"
from = ["web", "db"]
masquerade = "uplink"
ports = "20000-29999"

[[snat]]
source = ["10.1.0.0/24"]
to = ["wan"]
destination = ["office"]
to_address = "203.0.113.2"

[[dnat]]
name = "https"
from = "wan"
proto = ["tcp", "udp"]
address = "uplink"
port = 443
to_address = "192.168.122.10"
to_port = 8443

[[dnat]]
proto = "tcp"
address = "203.0.113.3"
port = "8000-8009"
to_address = "192.168.122.11"
to_port = "9000-9009"

[[one_to_one]]
internal = "10.1.0.5"
external = "203.0.113.5"

[[flood]]
name = "udp-senders"
kind = "udp"
per = "source"
rate = 10000
from = "web"

[[flood]]
kind = "icmp"
rate = 100
burst = 200
action = "block"
block_seconds = 30
to = ["db"]

[[anti_spoof]]
ports = ["vm-web1", "vm-web2"]
action = "drop"
description = "the web servers"

[[anti_spoof]]
ports = "vm-db"
macs = ["02:00:00:00:00:21"]
ips = ["10.1.0.6", "fe80::/64"]
"#;

#[test]
fn every_key_is_read() {
    let d = doc(FULL).unwrap();
    assert_eq!(d.switch(), Some(PathBuf::from("switch.toml")));
    assert_eq!(d.description(), Some("every key once"));
    let m = model(FULL).unwrap();
    assert_eq!(
        m.labels,
        [(
            "web".to_string(),
            vec!["vm-web1".to_string(), "vm-web2".into()]
        )]
    );
    assert_eq!(m.zones[2].members.len(), 4);
    assert_eq!(m.address_groups[0].name, "office");
    assert!(
        m.address_groups[0]
            .addresses
            .contains("2001:db8::1".parse().unwrap())
    );
    // "infra" includes "dns" (TCP and UDP port 53) and "ping".
    assert_eq!(m.service_groups[2].services.len(), 2);

    let r = &m.rules[0];
    assert_eq!((r.id, r.name.as_str(), r.log), (100, "office-to-web", true));
    assert!(r.source.contains("198.51.100.9".parse().unwrap()));
    assert!(r.source.contains("192.0.2.7".parse().unwrap()));
    assert!(!r.source.contains("192.0.2.8".parse().unwrap()));
    assert!(r.destination.is_any());
    assert_eq!(
        r.states,
        StateSet(ConnState::New.bit() | ConnState::Established.bit())
    );
    let L4Match::Ports { src, dst } = &r.services[0].l4 else {
        panic!("{:?}", r.services[0]);
    };
    assert_eq!(
        (src.ranges(), dst.ranges()),
        (&[(1024, 65535)][..], &[(443, 443)][..])
    );
    // A rule without id takes its position.
    assert_eq!((m.rules[1].id, m.rules[1].name.as_str()), (2, "rule-2"));
    assert_eq!(m.rules[1].services.len(), 3);
    assert_eq!(m.rules[2].services[0].protos, ProtoSet::one(47));
    assert_eq!(m.rules[2].services[0].l4, L4Match::Any);
    assert_eq!((m.default.action, m.default.log), (Action::DropAlert, true));

    let s = &m.snat[0];
    assert_eq!(s.address, "203.0.113.1".parse::<IpAddr>().unwrap());
    assert_eq!(
        (s.masquerade.as_deref(), s.ports),
        (Some("uplink"), (20000, 29999))
    );
    assert_eq!(s.to, ZoneSet::of([ZoneId::WAN]));
    assert_eq!(m.snat[1].ports, (1024, 65535));
    assert_eq!(m.snat[1].name, "snat-2");
    let d = &m.dnat[0];
    assert_eq!(d.address, "203.0.113.1".parse::<IpAddr>().unwrap());
    assert_eq!((d.ports, d.to_ports), ((443, 443), (8443, 8443)));
    assert!(d.protos.contains(proto::UDP));
    assert_eq!(m.dnat[1].to_port(8005), 9005);
    assert_eq!(m.one_to_one[0].external.to_string(), "203.0.113.5/32");
    assert_eq!(m.floods[0].burst, 10000);
    assert_eq!(m.floods[0].action, FloodAction::Alert);
    assert_eq!(
        (m.floods[1].block_seconds, m.floods[1].per),
        (30, FloodPer::Destination)
    );

    let g = &m.anti_spoof;
    assert_eq!(g.len(), 3);
    assert_eq!(
        (g[0].port.as_str(), g[0].port_id, g[0].action),
        ("vm-web1", Some(0), SpoofAction::Drop)
    );
    assert!(g[1].addresses.contains("fd00::11".parse().unwrap()));
    assert_eq!(g[2].action, SpoofAction::DropAlert);
    assert_eq!(g[2].macs.len(), 2, "the bound MAC and the extra one");
    assert!(g[2].addresses.contains("10.1.0.5".parse().unwrap()));
    assert!(g[2].addresses.contains("fe80::1".parse().unwrap()));
}

#[test]
fn an_empty_file_denies_everything() {
    let m = model("").unwrap();
    assert_eq!(m.zones.len(), 1);
    assert!(m.rules.is_empty());
    assert_eq!((m.default.action, m.default.line), (Action::Deny, 0));
}

#[test]
fn the_rule_semantics_follow_the_file() {
    // `ports` without `proto` means TCP and UDP; one rule's services are a union.
    let m = model("[[rule]]\nports = [53]\naction = \"allow\"\n").unwrap();
    let p = |proto, dst| FirstPacket {
        src_zone: ZoneId::WAN,
        dst_zone: ZoneId::WAN,
        src: "192.0.2.1".parse().unwrap(),
        dst: "192.0.2.2".parse().unwrap(),
        proto,
        transport: Transport::Ports { src: 1, dst },
        state: ConnState::New,
    };
    assert!(m.rules[0].matches(&p(proto::TCP, 53)));
    assert!(m.rules[0].matches(&p(proto::UDP, 53)));
    assert!(!m.rules[0].matches(&p(proto::SCTP, 53)));
    assert!(!m.rules[0].matches(&p(proto::UDP, 54)));
}

// --- one test per kind of error ------------------------------------------------------------

#[test]
fn error_syntax() {
    let text = "[[zone]]\nname = \"lan\nmembers = []\n";
    let e = model(text).unwrap_err();
    assert_eq!(e.line, 2, "{e}");
    assert!(e.to_string().starts_with("p.toml:2: "), "{e}");
}

#[test]
fn error_unknown_top_level_key() {
    expect_err("zones = 3\n", "zones", "zones", "unknown field `zones`");
}

#[test]
fn error_unknown_key_in_a_table() {
    let text = "[[rule]]\naction = \"allow\"\n\n[[rule]]\naction = \"deny\"\nport = 80\n";
    expect_err(text, "port =", "rule[1].port", "unknown field `port`");
}

#[test]
fn error_value_of_the_wrong_type() {
    let text = "[[flood]]\nkind = \"syn\"\nrate = \"fast\"\n";
    expect_err(
        text,
        "rate",
        "flood[0].rate",
        "invalid type: string \"fast\"",
    );
    expect_err(
        "[[rule]]\naction = \"allow\"\nlog = \"yes\"\n",
        "log",
        "rule[0].log",
        "invalid type",
    );
    expect_err(
        "[[rule]]\naction = \"allow\"\nports = [true]\n",
        "ports",
        "rule[0].ports",
        "invalid type",
    );
}

#[test]
fn error_missing_required_key() {
    let text = "[[rule]]\nfrom = \"any\"\n";
    expect_err(text, "[[rule]]", "rule[0]", "missing field `action`");
    expect_err(
        "[[zone]]\nmembers = []\n",
        "[[zone]]",
        "zone[0]",
        "missing field `name`",
    );
}

#[test]
fn error_zone_defined_twice() {
    let text = "[[zone]]\nname = \"a\"\n[[zone]]\nname = \"a\"\n";
    let e = model(text).unwrap_err();
    assert_eq!((e.line, e.key.as_str()), (4, "zone[1].name"), "{e}");
    assert!(e.message.contains("defined twice"), "{e}");
}

#[test]
fn error_reserved_or_malformed_zone_name() {
    expect_err(
        "[[zone]]\nname = \"wan\"\n",
        "name",
        "zone[0].name",
        "built in",
    );
    expect_err(
        "[[zone]]\nname = \"any\"\n",
        "name",
        "zone[0].name",
        "built in",
    );
    expect_err(
        "[[zone]]\nname = \"my zone\"\n",
        "name",
        "zone[0].name",
        "not a usable name",
    );
}

#[test]
fn error_unknown_zone_in_a_rule() {
    let text =
        "[[zone]]\nname = \"lan\"\n[[rule]]\nfrom = [\"lan\", \"dmz\"]\naction = \"allow\"\n";
    expect_err(
        text,
        "from",
        "rule[0].from",
        "no zone named \"dmz\" (zones: lan, wan, or any)",
    );
}

#[test]
fn error_bad_zone_member() {
    let zone =
        |m: &str| format!("[[zone]]\nname = \"z\"\nmembers = [\n  \"10.0.0.0/8\",\n  {m},\n]\n");
    let t = zone("\"192.168.1.1/24\"");
    expect_err(
        &t,
        "192.168.1.1/24",
        "zone[0].members",
        "host bits set; the prefix is 192.168.1.0/24",
    );
    let t = zone("\"10.0.0.0/40\"");
    expect_err(&t, "10.0.0.0/40", "zone[0].members", "prefix length");
    let t = zone("\"01:00:5e:00:00:01\"");
    expect_err(&t, "01:00", "zone[0].members", "multicast");
    let t = zone("\"vm web\"");
    expect_err(&t, "vm web", "zone[0].members", "not a CIDR, a MAC address");
    let t = zone("7");
    expect_err(&t, "  7", "zone[0].members", "7 is not a zone member");
}

#[test]
fn error_unknown_port() {
    let text = "[[zone]]\nname = \"z\"\nmembers = [\"vm-web3\"]\n";
    expect_err(
        text,
        "vm-web3",
        "zone[0].members",
        "no port named \"vm-web3\" in switch.toml",
    );
    // Without a switch configuration the name is taken on trust.
    assert!(model_alone(text).is_ok());
    let text = "[labels]\nweb = [\"vm-web1\", \"nope\"]\n";
    expect_err(text, "nope", "labels.web", "no port named \"nope\"");
}

#[test]
fn error_unknown_label() {
    let text = "[[zone]]\nname = \"z\"\nmembers = [\"label:backend\"]\n";
    expect_err(
        text,
        "label:backend",
        "zone[0].members",
        "no label \"backend\"",
    );
    // The inventory's labels count.
    assert!(model("[[zone]]\nname = \"z\"\nmembers = [\"label:database\"]\n").is_ok());
}

#[test]
fn error_bad_address_or_group() {
    let rule = |k: &str, v: &str| format!("[[rule]]\naction = \"allow\"\n{k} = {v}\n");
    expect_err(
        &rule("source", "[\"office\"]"),
        "source",
        "rule[0].source",
        "neither an address nor an address group",
    );
    expect_err(
        &rule("destination", "[\"10.0.0.1/8\"]"),
        "destination",
        "rule[0].destination",
        "host bits",
    );
    expect_err(&rule("source", "[]"), "source", "rule[0].source", "empty");
    let text = "[[address_group]]\nname = \"g\"\naddresses = [\"10.0.0.0/8\", \"g2\"]\n";
    expect_err(
        text,
        "addresses",
        "address_group[0].addresses",
        "not an IPv4 or IPv6 address",
    );
    let text = "[[address_group]]\nname = \"g\"\naddresses = [\"10.0.0.0/8\"]\n[[address_group]]\nname = \"g\"\naddresses = [\"10.0.0.0/8\"]\n";
    let e = model(text).unwrap_err();
    assert_eq!(
        (e.line, e.key.as_str()),
        (5, "address_group[1].name"),
        "{e}"
    );
}

#[test]
fn error_unknown_service() {
    let text = "[[rule]]\naction = \"allow\"\nservices = [\"http\"]\n";
    expect_err(
        text,
        "services",
        "rule[0].services",
        "no service named \"http\"",
    );
    let text = "[[service]]\nname = \"a\"\nservices = [\"b\"]\n";
    expect_err(
        text,
        "services",
        "service[0].services",
        "no service named \"b\"",
    );
}

#[test]
fn error_service_that_includes_itself() {
    let text = "[[service]]\nname = \"a\"\nservices = [\"b\"]\n[[service]]\nname = \"b\"\nproto = \"tcp\"\nservices = [\"a\"]\n";
    expect_err(
        text,
        "services = [\"a\"]",
        "service[1].services",
        "includes itself",
    );
}

#[test]
fn error_empty_service() {
    expect_err(
        "[[service]]\nname = \"a\"\n",
        "[[service]]",
        "service[0]",
        "needs proto",
    );
}

#[test]
fn error_unknown_protocol() {
    let rule = |v: &str| format!("[[rule]]\naction = \"allow\"\nproto = {v}\n");
    expect_err(
        &rule("\"tpc\""),
        "proto",
        "rule[0].proto",
        "unknown protocol \"tpc\"",
    );
    expect_err(&rule("300"), "proto", "rule[0].proto", "out of range 0-255");
    expect_err(&rule("[]"), "proto", "rule[0].proto", "empty");
}

#[test]
fn error_bad_port() {
    let rule = |v: &str| format!("[[rule]]\naction = \"allow\"\nproto = \"tcp\"\nports = {v}\n");
    expect_err(
        &rule("[80, 70000]"),
        "ports",
        "rule[0].ports",
        "port 70000 is out of range",
    );
    expect_err(
        &rule("\"8080-8000\""),
        "ports",
        "rule[0].ports",
        "runs backwards (write \"8000-8080\")",
    );
    expect_err(
        &rule("[\"http\"]"),
        "ports",
        "rule[0].ports",
        "not a port or a range",
    );
    expect_err(
        &rule("[\"+80\"]"),
        "ports",
        "rule[0].ports",
        "not a port or a range",
    );
    expect_err(&rule("[]"), "ports", "rule[0].ports", "empty");
}

#[test]
fn error_ports_on_a_protocol_without_them() {
    let text = "[[rule]]\naction = \"allow\"\nproto = [\"tcp\", \"icmp\"]\nports = 80\n";
    expect_err(text, "proto", "rule[0].ports", "the list holds icmp");
    let text = "[[rule]]\naction = \"allow\"\nproto = \"tcp\"\nports = 80\nicmp_type = 8\n";
    expect_err(
        text,
        "icmp_type",
        "rule[0].icmp_type",
        "cannot be in one service",
    );
}

#[test]
fn error_bad_icmp() {
    let text = "[[rule]]\naction = \"allow\"\nicmp_type = 8\n";
    expect_err(
        text,
        "icmp_type",
        "rule[0].icmp_type",
        "need proto = \"icmp\"",
    );
    let text = "[[rule]]\naction = \"allow\"\nproto = \"icmpv6\"\nicmp_type = \"echo\"\n";
    expect_err(
        text,
        "icmp_type",
        "rule[0].icmp_type",
        "unknown icmpv6 type \"echo\"",
    );
    let text = "[[rule]]\naction = \"allow\"\nproto = \"icmp\"\nicmp_type = 256\n";
    expect_err(text, "icmp_type", "rule[0].icmp_type", "out of range");
    let text = "[[rule]]\naction = \"allow\"\nproto = \"icmp\"\nicmp_code = \"port\"\n";
    expect_err(text, "icmp_code", "rule[0].icmp_code", "not an ICMP code");
}

#[test]
fn error_unknown_action() {
    expect_err(
        "[[rule]]\naction = \"permit\"\n",
        "action",
        "rule[0].action",
        "unknown action \"permit\"",
    );
    expect_err(
        "[default]\naction = \"accept\"\n",
        "action",
        "default.action",
        "unknown action",
    );
}

#[test]
fn error_unknown_state() {
    let text = "[[rule]]\naction = \"allow\"\nstate = [\"new\", \"syn-sent\"]\n";
    expect_err(
        text,
        "state",
        "rule[0].state",
        "unknown connection state \"syn-sent\"",
    );
}

#[test]
fn error_rule_id_or_name_twice() {
    let text = "[[rule]]\naction = \"allow\"\n[[rule]]\nid = 1\naction = \"deny\"\n";
    expect_err(text, "id = 1", "rule[1].id", "id 1 is already rule[0]'s");
    let text =
        "[[rule]]\nname = \"x\"\naction = \"allow\"\n[[rule]]\nname = \"x\"\naction = \"deny\"\n";
    let e = model(text).unwrap_err();
    assert_eq!((e.line, e.key.as_str()), (5, "rule[1].name"), "{e}");
    expect_err(
        "[[rule]]\nid = 0\naction = \"allow\"\n",
        "id",
        "rule[0].id",
        "not an id",
    );
}

#[test]
fn error_services_and_inline_service_together() {
    let text = "[[service]]\nname = \"s\"\nproto = \"gre\"\n[[rule]]\naction = \"allow\"\nproto = \"tcp\"\nservices = [\"s\"]\n";
    expect_err(
        text,
        "services = [\"s\"]",
        "rule[0].services",
        "either services or proto",
    );
}

#[test]
fn error_source_nat() {
    expect_err(
        "[[snat]]\nfrom = \"any\"\n",
        "[[snat]]",
        "snat[0]",
        "needs to_address",
    );
    expect_err(
        "[[snat]]\nto_address = \"203.0.113.1\"\n",
        "[[snat]]",
        "snat[0]",
        "needs from = ZONE or source",
    );
    let text = "[[snat]]\nfrom = \"any\"\nto_address = \"203.0.113.1\"\nmasquerade = \"uplink\"\n";
    expect_err(text, "to_address", "snat[0].to_address", "not both");
    let text = "[[snat]]\nfrom = \"any\"\nmasquerade = \"eth9\"\n";
    expect_err(
        text,
        "masquerade",
        "snat[0].masquerade",
        "neither an address nor a port of switch.toml",
    );
    let text = "[[snat]]\nfrom = \"any\"\nmasquerade = \"bare\"\n";
    expect_err(text, "masquerade", "snat[0].masquerade", "has no address");
    let text = "[[snat]]\nfrom = \"any\"\nmasquerade = \"uplink\"\n";
    let e = model_alone(text).unwrap_err();
    assert!(
        e.message.contains("without the switch configuration"),
        "{e}"
    );
    let text = "[[snat]]\nfrom = \"any\"\nto_address = \"203.0.113\"\n";
    expect_err(
        text,
        "to_address",
        "snat[0].to_address",
        "not an IP address",
    );
    let text = "[[snat]]\nfrom = \"any\"\nto_address = \"203.0.113.1\"\nports = \"0-100\"\n";
    expect_err(text, "ports", "snat[0].ports", "port 0");
}

#[test]
fn error_port_mapping() {
    let dnat = |extra: &str| {
        format!(
            "[[dnat]]\nproto = \"tcp\"\naddress = \"203.0.113.1\"\nport = \"8000-8009\"\n{extra}"
        )
    };
    expect_err(
        &dnat("to_address = \"fd00::1\"\n"),
        "to_address",
        "dnat[0].to_address",
        "different IP versions",
    );
    expect_err(
        &dnat("to_address = \"10.0.0.1\"\nto_port = \"80-81\"\n"),
        "to_port",
        "dnat[0].to_port",
        "maps 10 ports onto 2",
    );
    expect_err(
        &dnat("to_address = \"10.0.0.1\"\n").replace("\"tcp\"", "\"icmp\""),
        "proto",
        "dnat[0].proto",
        "tcp or udp",
    );
    let text = "[[dnat]]\nproto = \"tcp\"\naddress = \"203.0.113.1\"\nto_address = \"10.0.0.1\"\n";
    expect_err(text, "[[dnat]]", "dnat[0]", "missing field `port`");
}

#[test]
fn error_one_to_one() {
    let text = "[[one_to_one]]\ninternal = \"10.0.0.0/24\"\nexternal = \"203.0.113.0/25\"\n";
    expect_err(
        text,
        "external",
        "one_to_one[0].external",
        "one IP version and one size",
    );
    let text = "[[one_to_one]]\ninternal = \"10.0.0.0/24\"\nexternal = \"203.0.113.0/24\"\n[[one_to_one]]\ninternal = \"10.0.0.9\"\nexternal = \"198.51.100.9\"\n";
    expect_err(
        text,
        "\"10.0.0.9\"",
        "one_to_one[1].internal",
        "overlaps one_to_one[0]",
    );
}

#[test]
fn error_flood_guard() {
    let flood = |extra: &str| format!("[[flood]]\nkind = \"syn\"\nrate = 100\n{extra}");
    expect_err(
        &flood("").replace("syn", "ack"),
        "kind",
        "flood[0].kind",
        "unknown flood kind \"ack\"",
    );
    expect_err(
        &flood("per = \"port\"\n"),
        "per",
        "flood[0].per",
        "expected destination or source",
    );
    expect_err(
        &flood("action = \"drop\"\n"),
        "action",
        "flood[0].action",
        "expected alert or block",
    );
    expect_err(
        &flood("").replace("100", "0"),
        "rate",
        "flood[0].rate",
        "must be from 1",
    );
    expect_err(
        &flood("burst = -5\n"),
        "burst",
        "flood[0].burst",
        "must be from 1",
    );
    expect_err(
        &flood("block_seconds = 10\n"),
        "block_seconds",
        "flood[0].block_seconds",
        "only applies with action = \"block\"",
    );
    expect_err(
        &flood("to = \"dmz\"\n"),
        "to",
        "flood[0].to",
        "no zone named \"dmz\"",
    );
}

#[test]
fn error_anti_spoofing() {
    expect_err(
        "[[anti_spoof]]\nports = [\"vm-web9\"]\n",
        "ports",
        "anti_spoof[0].ports",
        "no port named \"vm-web9\"",
    );
    let e = model_alone("[[anti_spoof]]\nports = \"*\"\n").unwrap_err();
    assert!(e.message.contains("needs the switch configuration"), "{e}");
    let e = model_alone("[[anti_spoof]]\nports = \"vm-web1\"\n").unwrap_err();
    assert!(e.message.contains("no bound MAC or address"), "{e}");
    expect_err(
        "[[anti_spoof]]\nports = \"vm-web1\"\nmacs = [\"02:00:00:00:00\"]\n",
        "macs",
        "anti_spoof[0].macs",
        "not a MAC address",
    );
    expect_err(
        "[[anti_spoof]]\nports = \"vm-web1\"\n[[anti_spoof]]\nports = \"*\"\n",
        "\"*\"",
        "anti_spoof[1].ports",
        "already guarded",
    );
    expect_err(
        "[[anti_spoof]]\nports = \"vm-web1\"\naction = \"block\"\n",
        "action = \"block\"",
        "anti_spoof[0].action",
        "expected drop, drop-alert or alert",
    );
}

#[test]
fn error_file_that_is_not_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, b"[[zone]]\nname = \"a\xff\"\n").unwrap();
    let e = Document::read(&path).unwrap_err();
    assert_eq!(e.line, 2, "{e}");
    assert!(e.message.contains("not UTF-8"), "{e}");
    let e = Document::read(&dir.path().join("missing.toml")).unwrap_err();
    assert!(e.to_string().contains("missing.toml: cannot read"), "{e}");
}

// --- property tests ------------------------------------------------------------------------

/// Words a policy file is made of, so that random soups reach deep into validation.
const TOKENS: &[&str] = &[
    "[[zone]]",
    "[[rule]]",
    "[default]",
    "[[snat]]",
    "[[dnat]]",
    "[[flood]]",
    "[[service]]",
    "[[one_to_one]]",
    "[[anti_spoof]]",
    "[[address_group]]",
    "[labels]",
    "name",
    "members",
    "from",
    "to",
    "proto",
    "ports",
    "source",
    "destination",
    "services",
    "action",
    "state",
    "icmp_type",
    "icmp_code",
    "kind",
    "rate",
    "burst",
    "per",
    "masquerade",
    "to_address",
    "address",
    "port",
    "to_port",
    "internal",
    "external",
    "macs",
    "ips",
    "id",
    "log",
    "=",
    "\n",
    "\"lan\"",
    "\"wan\"",
    "\"any\"",
    "\"allow\"",
    "\"tcp\"",
    "\"icmp\"",
    "\"syn\"",
    "\"block\"",
    "\"10.0.0.0/8\"",
    "\"10.0.0.1\"",
    "\"fd00::/64\"",
    "\"02:00:00:00:00:01\"",
    "\"vm-web1\"",
    "\"uplink\"",
    "\"label:database\"",
    "\"80-90\"",
    "\"*\"",
    "80",
    "0",
    "-1",
    "65536",
    "true",
    "[",
    "]",
    ",",
    "{",
    "}",
    "\"",
    "#",
];

proptest! {
    /// Arbitrary text never panics; an error always names a line inside the text.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        if let Err(e) = model(&text) {
            prop_assert!(e.line <= text.lines().count() + 1, "{e}");
        }
    }

    /// Policy-shaped token soup never panics, and errors name lines inside the text.
    #[test]
    fn token_soup_never_panics(words in prop::collection::vec(prop::sample::select(TOKENS), 0..80)) {
        let text = words.join(" ");
        for result in [model(&text), model_alone(&text)] {
            match result {
                Ok(m) => prop_assert!(m.zones[0].name == "wan"),
                Err(e) => prop_assert!(e.line <= text.lines().count() + 1, "{e}"),
            }
        }
    }

    /// Rules written out as TOML read back as the rules that were written.
    #[test]
    fn generated_rules_read_back(rules in prop::collection::vec(
        (0usize..3, 0usize..3, 0usize..4, prop::collection::vec((0u16..2000, 0u16..50), 1..4), 0usize..5, any::<bool>()),
        1..20,
    )) {
        let zones = ["a", "b", "wan"];
        let protos = ["tcp", "udp", "sctp", "dccp"];
        let mut text = String::from("[[zone]]\nname = \"a\"\nmembers = [\"10.0.0.0/8\"]\n[[zone]]\nname = \"b\"\n");
        for (from, to, p, ports, action, log) in &rules {
            let ports: Vec<String> = ports.iter().map(|(lo, n)| format!("\"{lo}-{}\"", lo + n)).collect();
            text += &format!(
                "\n[[rule]]\nfrom = \"{}\"\nto = [\"{}\"]\nproto = \"{}\"\nports = [{}]\naction = \"{}\"\nlog = {log}\n",
                zones[*from], zones[*to], protos[*p], ports.join(", "), Action::ALL[*action].name()
            );
        }
        let m = model(&text).unwrap();
        prop_assert_eq!(m.rules.len(), rules.len());
        let id = |z: usize| if z == 2 { ZoneId::WAN } else { ZoneId(z as u16 + 1) };
        for (r, (from, to, p, ports, action, log)) in m.rules.iter().zip(&rules) {
            prop_assert_eq!(&r.from, &ZoneSet::of([id(*from)]));
            prop_assert_eq!(&r.to, &ZoneSet::of([id(*to)]));
            prop_assert_eq!(r.services[0].protos, ProtoSet::one(proto::by_name(protos[*p]).unwrap()));
            let want = RangeSet::from_ranges(ports.iter().map(|(lo, n)| (*lo, lo + n)));
            prop_assert_eq!(&r.services[0].l4, &L4Match::Ports { src: RangeSet::full(), dst: want });
            prop_assert_eq!((r.action, r.log), (Action::ALL[*action], *log));
        }
    }
}
