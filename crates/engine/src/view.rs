//! What an engine sees of a packet: a [`PacketView`].
//!
//! The view borrows the packet's buffer: the frame, its offload metadata and its parse, which is
//! made only when first asked for ([`PacketView::parsed`]), so an engine that reads only the
//! flow key costs no parse. At egress the frame, parse and key are those of the rewritten frame
//! that the receiver will get.

use flow::{FlowKey, OffloadMeta, PacketBuf, PortId};
use wire::ParsedPacket;

use conn::{ConnHandle, ConnState, Direction};

/// Where in the pipeline an inspection happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// The packet as the sender sent it, before the flow table.
    Ingress,
    /// The packet as the receiver will get it, after the flow's actions, per output port.
    Egress,
}

impl Stage {
    /// Lower-case name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Ingress => "ingress",
            Stage::Egress => "egress",
        }
    }
}

/// A packet's connection, as the connection table placed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnInfo {
    pub handle: ConnHandle,
    /// To the server: from the side that sent the connection's first packet.
    pub direction: Direction,
    pub state: ConnState,
    /// 1 for the connection's first packet.
    pub packet_number: u64,
    /// The `flow_id` written on the connection's EVE records.
    pub flow_id: u64,
}

/// One packet as an engine sees it.
#[derive(Debug, Clone, Copy)]
pub struct PacketView<'a> {
    pub stage: Stage,
    pub in_port: PortId,
    /// The port it is about to leave by (egress only).
    pub out_port: Option<PortId>,
    buf: &'a PacketBuf,
    /// The flow key of the frame as it is at this stage.
    pub key: &'a FlowKey,
    /// Time of the packet in ns (capture time in replay).
    pub time_ns: u64,
    /// The packet's number at its source (capture record number in replay).
    pub number: u64,
    /// Its connection, when it has one (IP, and the table had room).
    pub conn: Option<ConnInfo>,
}

impl<'a> PacketView<'a> {
    /// A view of `buf` (its frame, metadata and lazily made parse).
    pub fn new(
        stage: Stage,
        buf: &'a PacketBuf,
        key: &'a FlowKey,
        out_port: Option<PortId>,
        time_ns: u64,
        number: u64,
        conn: Option<ConnInfo>,
    ) -> Self {
        PacketView {
            stage,
            in_port: buf.in_port,
            out_port,
            buf,
            key,
            time_ns,
            number,
            conn,
        }
    }

    /// The frame's bytes.
    #[inline]
    pub fn frame(&self) -> &'a [u8] {
        self.buf.frame()
    }

    /// The frame's parse, made now if nobody asked for it before.
    #[inline]
    pub fn parsed(&self) -> &'a ParsedPacket {
        self.buf.parsed()
    }

    /// Offload metadata (checksums and segmentation left to the transmitter).
    #[inline]
    pub fn meta(&self) -> &'a OffloadMeta {
        &self.buf.meta
    }

    /// The L4 payload (empty when there is none).
    pub fn payload(&self) -> &'a [u8] {
        let p = self.parsed();
        let start = usize::from(p.payload_offset);
        let end = start.saturating_add(p.payload_len as usize);
        self.frame().get(start..end).unwrap_or(&[])
    }
}
