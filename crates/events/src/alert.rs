//! The body of an `alert` event: Suricata's `alert` object, what a rule or detection matched.
//!
//! Field names, order and values are Suricata 7's (`output-json-alert.c`): `action`, `gid`,
//! `signature_id`, `rev`, `signature`, `category`, `severity`. Used by every engine that raises
//! alerts (firewall, IDS, EDR); it must never depend on any engine's rule types, so the texts are
//! plain strings supplied by the caller.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// What the engine did with the traffic that matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertAction {
    /// The traffic passed (an IDS alert, or an IPS rule with action `alert`).
    Allowed,
    /// The traffic was dropped or rejected.
    Blocked,
}

/// A rule or detection that matched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertEvent<'a> {
    /// What was done with the traffic.
    pub action: AlertAction,
    /// Generator id: 1 for rules, other values for engine-internal detections.
    pub gid: u32,
    /// The rule's `sid`.
    pub signature_id: u32,
    /// The rule's revision.
    pub rev: u32,
    /// The rule's message (`msg`).
    pub signature: Cow<'a, str>,
    /// The classification's description; Suricata writes `""` for a rule without `classtype`.
    pub category: Cow<'a, str>,
    /// Priority, 1 (highest) to 255; Suricata's default for a rule without one is 3.
    pub severity: u8,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_in_suricata_order() {
        let alert = AlertEvent {
            action: AlertAction::Blocked,
            gid: 1,
            signature_id: 2_100_498,
            rev: 7,
            signature: Cow::Borrowed("GPL ATTACK_RESPONSE id check returned root"),
            category: Cow::Borrowed("Potentially Bad Traffic"),
            severity: 2,
        };
        let json = serde_json::to_string(&alert).unwrap();
        assert_eq!(
            json,
            r#"{"action":"blocked","gid":1,"signature_id":2100498,"rev":7,"signature":"GPL ATTACK_RESPONSE id check returned root","category":"Potentially Bad Traffic","severity":2}"#
        );
        assert_eq!(
            serde_json::from_str::<AlertEvent<'_>>(&json).unwrap(),
            alert
        );
        assert!(serde_json::from_str::<AlertAction>(r#""allowed""#).is_ok());
        assert!(serde_json::from_str::<AlertAction>(r#""dropped""#).is_err());
    }
}
