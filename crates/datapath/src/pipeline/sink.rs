//! Where transmitted packets go: the [`TxSink`] trait and the burst of a batch's direct hits.
//!
//! A sink must not block the worker for long; sinks that write files stage a batch's frames and
//! hand them on at [`TxSink::flush`].

use flow::{OffloadMeta, PacketBuf};

use crate::port::PortId;

/// Where transmitted packets go.
pub trait TxSink {
    /// Sends one frame out of `port`.
    fn transmit(&mut self, port: PortId, frame: &[u8], meta: &OffloadMeta, time_ns: u64);
    /// Sends a burst of a batch's packets, in order. The default hands each to
    /// [`TxSink::transmit`]; sinks that can send many at once (counters, `sendmmsg`, a ring)
    /// override it and save a call per packet.
    fn transmit_burst(&mut self, burst: &TxBurst<'_>) {
        for p in burst.iter() {
            self.transmit(p.port, p.frame, p.meta, p.time_ns);
        }
    }
    /// Called after every batch, so sinks can hand a batch on at once.
    fn flush(&mut self) {}
}

/// One packet of a [`TxBurst`].
#[derive(Debug, Clone, Copy)]
pub struct TxPacket<'a> {
    pub port: PortId,
    pub frame: &'a [u8],
    pub meta: &'a OffloadMeta,
    pub time_ns: u64,
}

/// Packets of one batch leaving together: each is a slot of the batch and its output port.
#[derive(Debug, Clone, Copy)]
pub struct TxBurst<'a> {
    pub(super) bufs: &'a [PacketBuf],
    pub(super) times: &'a [u64],
    pub(super) list: &'a [(u8, PortId)],
}

impl<'a> TxBurst<'a> {
    /// Number of packets.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True when the burst is empty.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The output port of each packet, in order (a sink that only counts needs no more).
    pub fn ports(&self) -> impl ExactSizeIterator<Item = PortId> + 'a {
        self.list.iter().map(|&(_, port)| port)
    }

    /// The packets, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = TxPacket<'a>> + 'a {
        let (bufs, times) = (self.bufs, self.times);
        self.list.iter().map(move |&(slot, port)| {
            let slot = usize::from(slot);
            let b = &bufs[slot];
            TxPacket {
                port,
                frame: b.frame(),
                meta: &b.meta,
                time_ns: times[slot],
            }
        })
    }
}
