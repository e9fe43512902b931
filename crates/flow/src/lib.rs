//! The flow layer of Rampart's datapath: the flow key, the per-worker cache cascade (exact-match
//! cache in front of a megaflow classifier, as Open vSwitch's dpif-netdev), the flow store, and
//! the actions applied to packets.
//!
//! * [`FlowKey`] — 64 bytes built in registers, straight from the bytes of a common frame
//!   ([`FlowKey::from_frame`]) or from a full parse ([`FlowKey::extract`]); [`FlowMask`] —
//!   which bits a megaflow matches; [`Wildcards`] — what the slow path read.
//! * [`FlowTable`] — EMC + classifier + flow store: batched lookups, install with eviction,
//!   idle expiry, revalidation after a policy change, counters.
//! * [`Action`], [`execute`], [`PacketBuf`], [`OffloadMeta`] — rewrites with incremental
//!   checksums, VLAN push/pop in the buffer's headroom, outputs in a fixed [`OutputSet`]; a
//!   buffer's full parse is made only when first asked for ([`PacketBuf::parsed`]).
//!
//! The fast path (`from_frame`, `extract`, `lookup_batch`, `hit_batch`, `execute`) must never
//! allocate, block or panic on any packet; `install` and `revalidate` are the slow path and
//! may allocate. The only `unsafe` is a software prefetch hint (module `prefetch`) and
//! the CRC32-C instruction of the exact-match cache's hash (module `crc`).
//!
//! ```
//! use flow::{Action, Field, FlowKey, FlowMask, FlowTable, FlowTableConfig, OutputSet, PacketBuf, Wildcards};
//!
//! // A UDP packet 10.0.0.1:1000 -> 10.0.0.2:53 arriving on port 1.
//! let mut f = vec![0u8; 14 + 20 + 8];
//! f[12..14].copy_from_slice(&[0x08, 0x00]);
//! f[14] = 0x45;
//! f[16..18].copy_from_slice(&28u16.to_be_bytes());
//! f[22] = 64;
//! f[23] = 17;
//! f[26..30].copy_from_slice(&[10, 0, 0, 1]);
//! f[30..34].copy_from_slice(&[10, 0, 0, 2]);
//! f[34..36].copy_from_slice(&1000u16.to_be_bytes());
//! f[36..38].copy_from_slice(&53u16.to_be_bytes());
//! f[38..40].copy_from_slice(&8u16.to_be_bytes());
//! let mut buf = PacketBuf::from_frame(&f);
//! let (key, _tcp_flags) = FlowKey::from_frame(1, buf.frame()).unwrap();
//! assert_eq!(key, FlowKey::extract(1, buf.frame(), buf.parsed()));
//!
//! let mut table = FlowTable::new(FlowTableConfig::default());
//! assert_eq!(table.lookup(&key), None); // miss: upcall
//!
//! // The slow path decides on the destination port alone, recording what it read.
//! let mut wc = Wildcards::new();
//! let port = wc.track(&key).tp_dst();
//! assert_eq!(port, 53);
//! let actions = [Action::SetTpDst(5353), Action::Output(2)];
//! let id = table.install(&key, &wc.mask(), 0, &actions, 1, 0).unwrap();
//!
//! // Any other DNS packet now hits the same megaflow.
//! let mut other = key;
//! other.set_tp_src(4242);
//! assert_eq!(table.lookup(&other), Some(id));
//!
//! let mut out = OutputSet::new();
//! flow::execute(table.actions(id), &mut buf, &mut out).unwrap();
//! assert_eq!((out.ports(), buf.parsed().dst_port), (&[2][..], 5353));
//! ```
#![deny(unsafe_code)]

pub mod action;
pub mod buf;
mod classifier;
mod crc;
pub mod drop;
mod emc;
pub mod gso;
pub mod key;
mod prefetch;
pub mod table;

/// A datapath port number.
pub type PortId = u16;

pub use action::{
    Action, ActionError, GROUP_CAPACITY, GroupId, MAX_ACTIONS, OUTPUT_CAPACITY, OutputSet, Step,
    execute, execute_from, validate,
};
pub use buf::{BufError, GsoType, OffloadError, OffloadMeta, PacketBuf};
pub use classifier::{BATCH, MAX_SUBTABLES, RANK_INTERVAL};
pub use drop::DropReason;
pub use emc::MAX_EMC_ENTRIES;
pub use gso::{GsoError, segment};
pub use key::{Field, FlowKey, FlowMask, HashSeed, NwFrag, TrackedKey, Wildcards};
pub use table::{
    BatchPackets, FlowId, FlowStats, FlowTable, FlowTableConfig, FlowTableCounters, FlowView,
    InstallError, RevalidateStats, Revalidation,
};
