//! Test helpers shared by the modules' tests: the switch the tests run against, and policy text
//! compiled in one call.

use std::path::Path;

use crate::model::{Inventory, InventoryPort, PortKind};
use crate::{Compiled, Document, Policy};

/// The switch of the tests: two web VMs, a database VM with the label `database`, the uplink
/// (203.0.113.1), and a VM port with no bound address.
pub(crate) fn inventory() -> Inventory {
    let port = |id: u16, name: &str, kind, mac: u8, ips: &[&str], labels: &[&str]| InventoryPort {
        id,
        name: name.into(),
        kind,
        macs: vec![[2, 0, 0, 0, 0, mac]],
        ips: ips.iter().map(|s| s.parse().unwrap()).collect(),
        labels: labels.iter().map(|s| s.to_string()).collect(),
    };
    Inventory {
        file: Some("switch.toml".into()),
        ports: vec![
            port(0, "vm-web1", PortKind::Vm, 0x10, &["192.168.122.10"], &[]),
            port(
                1,
                "vm-web2",
                PortKind::Vm,
                0x11,
                &["192.168.122.11", "fd00::11"],
                &[],
            ),
            port(2, "vm-db", PortKind::Vm, 0x20, &["10.1.0.5"], &["database"]),
            port(3, "uplink", PortKind::Uplink, 0x99, &["203.0.113.1"], &[]),
            port(4, "bare", PortKind::Vm, 0x30, &[], &[]),
        ],
    }
}

/// Compiles policy text against [`inventory`]; panics on an error (the text is the test's).
#[track_caller]
pub(crate) fn compile(text: &str) -> Compiled {
    let inv = inventory();
    let doc = Document::parse(text.to_string(), Path::new("p.toml")).unwrap();
    let model = doc.validate(Some(&inv)).unwrap_or_else(|e| panic!("{e}"));
    Policy::compile(model, Some(&inv))
}
