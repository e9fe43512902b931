//! Fuzz body for the IDS rule language: any text through the rule splitter and parser, and any
//! rule that parses through the matcher build and one inspection of the same bytes as payload
//! and as every buffer. None of it may panic; a parsed rule must report its own sid.

use ids::detect::{Alerts, AppProto, BufferId, BufferList, Engine, FlowDirection, PacketContext};
use ids::rules::{Classifications, Vars, parse_rule, split_rules};

/// Splits `data` (as text) into rules, parses each, and runs each parsed rule over `data`.
pub fn ids_rule(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let vars = Vars::suricata_defaults();
    let classes = Classifications::suricata_default();
    let mut rules = Vec::new();
    for rt in split_rules(&text) {
        assert!(rt.line >= 1, "line numbers start at 1");
        if let Ok(rule) = parse_rule(&rt.text, &vars, &classes) {
            assert!(rule.sid > 0, "a parsed rule has a sid");
            rules.push(rule);
        }
        if rules.len() >= 8 {
            break;
        }
    }
    if rules.is_empty() {
        return;
    }
    let (engine, _) = Engine::build(&rules);
    let mut flow = engine.new_flow_state();
    let mut th = engine.new_threshold_state();
    let mut scratch = engine.new_scratch();
    let mut alerts = Alerts::default();
    let mut bufs = BufferList::new(AppProto::Http);
    for id in BufferId::ALL {
        bufs = bufs.with(id, data);
    }
    for (proto, app) in [
        (6u8, AppProto::Http),
        (17, AppProto::Dns),
        (1, AppProto::Unknown),
    ] {
        bufs.proto = app;
        let pkt = PacketContext {
            src: [10, 0, 0, 1].into(),
            dst: [192, 168, 1, 1].into(),
            src_port: 1234,
            dst_port: 80,
            ip_proto: proto,
            direction: FlowDirection::ToServer,
            established: true,
            tcp_flags: 0x18,
            payload: data,
            stream_added: false,
            fragment: false,
            time_ns: 0,
        };
        engine.inspect(&pkt, &bufs, &mut flow, &mut th, &mut scratch, &mut alerts);
        for a in alerts.as_slice() {
            assert!(
                engine.rule(a.rule).is_some_and(|r| r.sid == a.sid),
                "alert of an unknown rule"
            );
        }
    }
}
