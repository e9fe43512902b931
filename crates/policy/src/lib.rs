//! Rampart's firewall policy: security zones, ordered rules, NAT, flood thresholds and
//! anti-spoofing; their TOML form; validation with errors that name file, line and key;
//! warnings; and the compiled, immutable snapshot the firewall reads per connection.
//!
//! The crate does not touch packets. It answers the firewall's questions, each without
//! allocating: which zone a port, MAC or address is in ([`ZoneMap`]); which rule judges a
//! connection's first packet ([`Policy::classify`], a bit-vector classifier); which NAT applies
//! to a new connection ([`NatTable`]); which flood thresholds count a packet ([`FloodTable`]);
//! whether a port may send from a MAC and address ([`SpoofTable`]). A reload compiles a new
//! snapshot and publishes it through a [`PolicyCell`]; workers switch at their next batch.
//!
//! ```
//! use std::path::Path;
//! use policy::{Action, ConnState, Document, FirstPacket, Policy, Transport};
//!
//! let text = r#"
//! [[zone]]
//! name = "lan"
//! members = ["192.168.122.0/24"]
//!
//! [[rule]]
//! from = "lan"
//! to = "wan"
//! proto = "tcp"
//! ports = [80, 443, "8000-8080"]
//! action = "allow"
//!
//! [default]
//! action = "deny"
//! "#;
//! let doc = Document::parse(text.to_string(), Path::new("policy.toml")).unwrap();
//! let compiled = Policy::compile(doc.validate(None).unwrap(), None);
//! let policy = compiled.policy;
//!
//! let (src, dst) = ("192.168.122.7".parse().unwrap(), "198.51.100.1".parse().unwrap());
//! let zones = policy.zones();
//! let packet = FirstPacket {
//!     src_zone: zones.by_ip(src),
//!     dst_zone: zones.by_ip(dst),
//!     src,
//!     dst,
//!     proto: 6,
//!     transport: Transport::Ports { src: 40000, dst: 8080 },
//!     state: ConnState::New,
//! };
//! let verdict = policy.classify(&packet);
//! assert_eq!((verdict.rule, verdict.action), (Some(0), Action::Allow));
//! let ssh = FirstPacket { transport: Transport::Ports { src: 40000, dst: 22 }, ..packet };
//! assert_eq!(policy.classify(&ssh).action, Action::Deny); // the default
//! ```
//!
//! The file format, every key and its default, is described in the repository's README
//! ("Writing a policy"). Loading is in two steps so that the caller can read the switch
//! configuration the file names (`switch = "..."`) in between: [`Document::read`] checks the
//! syntax and the keys, [`Document::validate`] resolves names against the switch's ports
//! ([`Inventory`]) into a [`Model`], and [`Policy::compile`] builds the lookups and the
//! [`Warning`]s.

mod addr;
mod classify;
mod error;
mod guard;
mod lint;
mod model;
mod nat;
mod parse;
mod policy;
mod ranges;
mod snapshot;
#[cfg(test)]
mod testutil;
mod zone;

pub use addr::{AddrSet, Cidr, fmt_mac, parse_mac};
pub use classify::Classifier;
pub use error::{PolicyError, Warning, WarningKind};
pub use guard::{FloodTable, SpoofCheck, SpoofTable};
pub use model::*;
pub use nat::{Inbound, NatTable, Outbound};
pub use parse::{Document, MAX_FILE_BYTES, icmp_type_names};
pub use policy::{Compiled, Policy, Verdict};
pub use ranges::{Point, RangeMap, RangeSet};
pub use snapshot::{PolicyCell, PolicyReader};
pub use zone::ZoneMap;
