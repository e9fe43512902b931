//! Rampart's datapath: the packet pipeline with dual inspection, the slow path behind the flow
//! table, the port model, and the drivers that feed it (capture replay now; live ports later).
//!
//! A packet is inspected as it was sent (ingress), looked up in the worker's flow table (a miss
//! goes up to the [`slowpath::SlowPath`], which installs a megaflow), rewritten by the flow's
//! actions, inspected again as its receiver will get it (egress), and only then transmitted or
//! dropped with a counted reason. See [`pipeline`] for the stages and what the hot path must
//! never do.
//!
//! ```
//! use datapath::config::Config;
//! use datapath::memory::MemorySwitch;
//!
//! // Two VMs on one bridge, in-memory ports.
//! let cfg = Config::parse(r#"
//!     [[bridge]]
//!     name = "br0"
//!     [[port]]
//!     name = "vm1"
//!     kind = "vm"
//!     bridge = "br0"
//!     [[port]]
//!     name = "vm2"
//!     kind = "vm"
//!     bridge = "br0"
//! "#, "inline.toml".as_ref()).unwrap();
//! let mut sw = MemorySwitch::new(&cfg);
//! let frame = [
//!     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06, // broadcast ARP
//!     0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2,
//! ];
//! sw.send(0, &frame, 0);
//! sw.flush();
//! assert_eq!(sw.received(1).len(), 1, "flooded to vm2");
//! assert_eq!(sw.counters().tx_packets, 1);
//! ```

pub mod config;
pub mod counters;
pub mod eve;
pub mod fdb;
pub mod learn;
pub mod memory;
pub mod meter;
pub mod pipeline;
pub mod port;
pub mod reject;
pub mod replay;
pub mod runtime;
pub mod slowpath;

/// Most packets in one batch.
pub const MAX_BATCH: usize = 32;

/// Most ports of one datapath.
pub const MAX_PORTS: u16 = 4096;
