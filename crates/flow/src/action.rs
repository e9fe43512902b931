//! Datapath actions and their execution on a [`PacketBuf`].
//!
//! An action list is what a megaflow carries: rewrites (MAC, IP, port, TTL), VLAN push/pop,
//! outputs, and a terminal drop or "to slow path". [`execute`] applies the rewrites to the
//! bytes in place and collects the output ports in a fixed-capacity [`OutputSet`].
//!
//! Checksums are updated incrementally (RFC 1624): the IPv4 header checksum on address and TTL
//! changes; the TCP, UDP and ICMPv6 checksums on address changes (pseudo-header) and on port
//! changes. A UDP checksum of 0 means "none" and stays 0; an updated UDP checksum that comes out
//! as 0 is sent as 0xffff. When the offload metadata says [`OffloadMeta::NEEDS_CSUM`], the
//! transport checksum field holds the partial pseudo-header sum instead (not complemented):
//! address changes adjust that sum (`sum' = sum - old + new`, as Linux's
//! `inet_proto_csum_replace4` does for `CHECKSUM_PARTIAL`) and port changes leave it alone,
//! since the transmitter sums the ports itself.
//!
//! Push and pop keep the buffer's parse, when it has been made, describing the bytes: offsets
//! are shifted (or, in the rare case of a third VLAN tag, the parse is made again when next
//! asked for) and the offload metadata's
//! `csum_start`/`hdr_len` move with them.
//!
//! Nothing here allocates or panics: a header an action needs but the frame lacks is an
//! [`ActionError`].

use thiserror::Error;
use wire::checksum::{update_bytes, update16, update32};
use wire::{L3, L4, ParsedPacket, ethertype};

use crate::PortId;
use crate::buf::{BufError, OffloadMeta, PacketBuf};
use crate::drop::DropReason;

/// One datapath action. `Copy`, 18 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Send the packet (as it is after all rewrites, see [`execute`]) to a port.
    Output(PortId),
    /// Send the packet to every port of a port group (a flood: the datapath keeps the groups)
    /// but the one it came in by. One action for a bridge of any size.
    Flood(GroupId),
    /// Sets the source MAC.
    SetEthSrc([u8; 6]),
    /// Sets the destination MAC.
    SetEthDst([u8; 6]),
    /// Sets the IPv4 source (IP and pseudo-header checksums updated).
    SetIpv4Src([u8; 4]),
    /// Sets the IPv4 destination (IP and pseudo-header checksums updated).
    SetIpv4Dst([u8; 4]),
    /// Sets the IPv6 source (pseudo-header checksums updated).
    SetIpv6Src([u8; 16]),
    /// Sets the IPv6 destination (pseudo-header checksums updated).
    SetIpv6Dst([u8; 16]),
    /// TCP/UDP source port.
    SetTpSrc(u16),
    /// TCP/UDP destination port.
    SetTpDst(u16),
    /// Sets the IPv4 TTL or IPv6 hop limit. The TTL is not in the flow key, so only use it
    /// with a constant that does not depend on the packet's TTL.
    SetIpTtl(u8),
    /// Decrements the TTL/hop limit (routing); a packet arriving with 0 or 1 is dropped with
    /// [`DropReason::TtlExpired`] so the datapath can answer with ICMP time exceeded.
    DecIpTtl,
    /// Pushes a new outermost 802.1Q/802.1ad tag.
    PushVlan {
        /// 0x8100 (802.1Q) or 0x88a8 (802.1ad).
        tpid: u16,
        /// PCP, DEI and VID.
        tci: u16,
    },
    /// Removes the outermost VLAN tag.
    PopVlan,
    /// Drops the packet (terminal): clears the outputs collected so far.
    Drop(DropReason),
    /// Hands the packet to the slow path (terminal); outputs collected before are kept.
    ToSlowPath,
}

impl Action {
    /// A short name for errors and dumps.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Output(_) => "output",
            Action::Flood(_) => "flood",
            Action::SetEthSrc(_) => "set_eth_src",
            Action::SetEthDst(_) => "set_eth_dst",
            Action::SetIpv4Src(_) => "set_ipv4_src",
            Action::SetIpv4Dst(_) => "set_ipv4_dst",
            Action::SetIpv6Src(_) => "set_ipv6_src",
            Action::SetIpv6Dst(_) => "set_ipv6_dst",
            Action::SetTpSrc(_) => "set_tp_src",
            Action::SetTpDst(_) => "set_tp_dst",
            Action::SetIpTtl(_) => "set_ip_ttl",
            Action::DecIpTtl => "dec_ip_ttl",
            Action::PushVlan { .. } => "push_vlan",
            Action::PopVlan => "pop_vlan",
            Action::Drop(_) => "drop",
            Action::ToSlowPath => "to_slow_path",
        }
    }

    /// True for actions that change the packet's bytes.
    pub fn modifies_packet(&self) -> bool {
        !matches!(
            self,
            Action::Output(_) | Action::Flood(_) | Action::Drop(_) | Action::ToSlowPath
        )
    }

    /// True for actions after which nothing runs.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Action::Drop(_) | Action::ToSlowPath)
    }
}

/// Most actions in one list (checked at install).
pub const MAX_ACTIONS: usize = 64;
/// Most output ports one packet can be sent to by `Output` actions.
pub const OUTPUT_CAPACITY: usize = 256;
/// Most `Flood` groups one action list can name.
pub const GROUP_CAPACITY: usize = 8;

/// A group of ports the datapath floods to (its index in the datapath's group table).
pub type GroupId = u32;

/// Why an action list is invalid or could not be applied to a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum ActionError {
    /// The packet lacks the header the action rewrites.
    #[error("action {index} ({action}) needs {needs}")]
    NotApplicable {
        /// Position of the action in its list.
        index: usize,
        /// The action's name.
        action: &'static str,
        /// The header it needs.
        needs: &'static str,
    },
    /// The header is there but cut short before the field.
    #[error("action {index} ({action}): the {field} field lies past the end of the frame")]
    Truncated {
        /// Position of the action in its list.
        index: usize,
        /// The action's name.
        action: &'static str,
        /// The field that is cut off.
        field: &'static str,
    },
    /// A rewrite after an output: [`execute`] gives every output the same final bytes, so it
    /// refuses; use [`execute_from`] to send a copy at that point.
    #[error("action {index} ({action}) modifies the packet after an output; use execute_from")]
    ModifyAfterOutput {
        /// Position of the action in its list.
        index: usize,
        /// The action's name.
        action: &'static str,
    },
    /// More outputs than an [`OutputSet`] holds.
    #[error("more than {max} output ports")]
    TooManyOutputs {
        /// [`OUTPUT_CAPACITY`].
        max: usize,
    },
    /// An action after a drop or to-slow-path.
    #[error("action {index} ({action}) follows a terminal action")]
    AfterTerminal {
        /// Position of the action in its list.
        index: usize,
        /// The action's name.
        action: &'static str,
    },
    /// The list is longer than [`MAX_ACTIONS`].
    #[error("{count} actions, at most {max} allowed")]
    TooManyActions {
        /// Actions in the list.
        count: usize,
        /// [`MAX_ACTIONS`].
        max: usize,
    },
    /// The buffer could not grow or shrink (push/pop).
    #[error("action {index} ({action}): {source}")]
    Buffer {
        /// Position of the action in its list.
        index: usize,
        /// The action's name.
        action: &'static str,
        /// What the buffer said.
        source: BufError,
    },
    /// The offload metadata points outside the frame.
    #[error("action {index} ({action}): offload metadata {what}")]
    BadOffloadMeta {
        /// Position of the action in its list.
        index: usize,
        /// The action's name.
        action: &'static str,
        /// What is wrong with it.
        what: &'static str,
    },
}

/// Checks an action list once, at install: length, outputs, nothing after a terminal action.
pub fn validate(actions: &[Action]) -> Result<(), ActionError> {
    if actions.len() > MAX_ACTIONS {
        return Err(ActionError::TooManyActions {
            count: actions.len(),
            max: MAX_ACTIONS,
        });
    }
    let mut outputs = 0usize;
    let mut groups = 0usize;
    let mut terminal = false;
    for (index, a) in actions.iter().enumerate() {
        if terminal {
            return Err(ActionError::AfterTerminal {
                index,
                action: a.name(),
            });
        }
        terminal = a.is_terminal();
        match a {
            Action::Output(_) => outputs += 1,
            Action::Flood(_) => groups += 1,
            _ => {}
        }
    }
    if groups > GROUP_CAPACITY {
        return Err(ActionError::TooManyOutputs {
            max: GROUP_CAPACITY,
        });
    }
    if outputs > OUTPUT_CAPACITY {
        return Err(ActionError::TooManyOutputs {
            max: OUTPUT_CAPACITY,
        });
    }
    Ok(())
}

/// Where a packet goes after its actions: ports (fixed capacity, no allocation), or a drop
/// reason, or the slow path.
#[derive(Clone)]
pub struct OutputSet {
    ports: [PortId; OUTPUT_CAPACITY],
    len: usize,
    groups: [GroupId; GROUP_CAPACITY],
    ngroups: usize,
    drop: Option<DropReason>,
    slow_path: bool,
}

impl Default for OutputSet {
    fn default() -> OutputSet {
        OutputSet::new()
    }
}

impl core::fmt::Debug for OutputSet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OutputSet")
            .field("ports", &self.ports())
            .field("groups", &self.groups())
            .field("drop", &self.drop)
            .field("slow_path", &self.slow_path)
            .finish()
    }
}

impl OutputSet {
    /// Empty.
    pub const fn new() -> OutputSet {
        OutputSet {
            ports: [0; OUTPUT_CAPACITY],
            len: 0,
            groups: [0; GROUP_CAPACITY],
            ngroups: 0,
            drop: None,
            slow_path: false,
        }
    }

    /// Empties the set for the next packet.
    #[inline]
    pub fn clear(&mut self) {
        self.len = 0;
        self.ngroups = 0;
        self.drop = None;
        self.slow_path = false;
    }

    /// Empties the ports and groups only (after the caller sent copies to them, in
    /// [`execute_from`]).
    #[inline]
    pub fn clear_ports(&mut self) {
        self.len = 0;
        self.ngroups = 0;
    }

    /// The flood groups collected, in action order.
    #[inline]
    pub fn groups(&self) -> &[GroupId] {
        self.groups.get(..self.ngroups).unwrap_or(&[])
    }

    /// True when no port and no group was collected.
    #[inline]
    pub fn has_no_output(&self) -> bool {
        self.len == 0 && self.ngroups == 0
    }

    /// Adds a flood group.
    #[inline]
    pub fn push_group(&mut self, g: GroupId) -> Result<(), ActionError> {
        let Some(slot) = self.groups.get_mut(self.ngroups) else {
            return Err(ActionError::TooManyOutputs {
                max: GROUP_CAPACITY,
            });
        };
        *slot = g;
        self.ngroups += 1;
        Ok(())
    }

    /// The ports collected, in action order (a port may repeat if the actions repeat it).
    #[inline]
    pub fn ports(&self) -> &[PortId] {
        self.ports.get(..self.len).unwrap_or(&[])
    }

    /// Adds a port.
    #[inline]
    pub fn push(&mut self, p: PortId) -> Result<(), ActionError> {
        let Some(slot) = self.ports.get_mut(self.len) else {
            return Err(ActionError::TooManyOutputs {
                max: OUTPUT_CAPACITY,
            });
        };
        *slot = p;
        self.len += 1;
        Ok(())
    }

    /// The drop reason, if a `Drop` ran (or an empty action list: see [`OutputSet::is_drop`]).
    #[inline]
    pub fn drop_reason(&self) -> Option<DropReason> {
        self.drop
    }

    /// True when the packet goes nowhere: dropped explicitly or no output at all.
    #[inline]
    pub fn is_drop(&self) -> bool {
        self.drop.is_some() || (self.has_no_output() && !self.slow_path)
    }

    /// True when a `ToSlowPath` ran.
    #[inline]
    pub fn to_slow_path(&self) -> bool {
        self.slow_path
    }
}

/// What [`execute_from`] stopped at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Every action ran (or a terminal one stopped the list).
    Done,
    /// The action at this index rewrites the packet but outputs were already collected: send
    /// a copy of the current bytes to `outputs.ports()`, call `outputs.clear_ports()`, and
    /// call `execute_from` again from this index.
    Resume(usize),
}

/// Runs `actions` on `buf`, collecting outputs (after clearing `outputs`). Every output gets
/// the final bytes, so a rewrite after an output is refused with
/// [`ActionError::ModifyAfterOutput`]; lists that need per-output variants (flooding to access
/// and trunk ports) use [`execute_from`].
///
/// On error the packet may be partly rewritten: drop it.
pub fn execute(
    actions: &[Action],
    buf: &mut PacketBuf,
    outputs: &mut OutputSet,
) -> Result<(), ActionError> {
    outputs.clear();
    match execute_from(actions, 0, buf, outputs)? {
        Step::Done => Ok(()),
        Step::Resume(index) => Err(ActionError::ModifyAfterOutput {
            index,
            action: actions.get(index).map_or("", Action::name),
        }),
    }
}

/// Runs `actions[start..]` on `buf`, adding outputs to `outputs` (not cleared), and stops
/// before a rewrite that follows a collected output (see [`Step::Resume`]).
pub fn execute_from(
    actions: &[Action],
    start: usize,
    buf: &mut PacketBuf,
    outputs: &mut OutputSet,
) -> Result<Step, ActionError> {
    for (index, a) in actions.iter().enumerate().skip(start) {
        if a.modifies_packet() && !outputs.has_no_output() {
            return Ok(Step::Resume(index));
        }
        let cx = Cx {
            index,
            action: a.name(),
        };
        match *a {
            Action::Output(p) => outputs.push(p)?,
            Action::Flood(g) => outputs.push_group(g)?,
            Action::SetEthSrc(m) => set_eth(buf, 6, m, cx)?,
            Action::SetEthDst(m) => set_eth(buf, 0, m, cx)?,
            Action::SetIpv4Src(v) => set_ipv4_addr(buf, 12, v, cx)?,
            Action::SetIpv4Dst(v) => set_ipv4_addr(buf, 16, v, cx)?,
            Action::SetIpv6Src(v) => set_ipv6_addr(buf, 8, v, cx)?,
            Action::SetIpv6Dst(v) => set_ipv6_addr(buf, 24, v, cx)?,
            Action::SetTpSrc(v) => set_port(buf, 0, v, cx)?,
            Action::SetTpDst(v) => set_port(buf, 2, v, cx)?,
            Action::SetIpTtl(t) => set_ttl(buf, t, cx)?,
            Action::DecIpTtl => {
                let p = buf.parsed();
                let ttl = p.ttl;
                if ttl <= 1 && matches!(p.l3, L3::Ipv4 | L3::Ipv6) {
                    outputs.clear_ports();
                    outputs.drop = Some(DropReason::TtlExpired);
                    return Ok(Step::Done);
                }
                set_ttl(buf, ttl.wrapping_sub(1), cx)?;
            }
            Action::PushVlan { tpid, tci } => push_vlan(buf, tpid, tci, cx)?,
            Action::PopVlan => pop_vlan(buf, cx)?,
            Action::Drop(r) => {
                outputs.clear_ports();
                outputs.drop = Some(r);
                return Ok(Step::Done);
            }
            Action::ToSlowPath => {
                outputs.slow_path = true;
                return Ok(Step::Done);
            }
        }
    }
    Ok(Step::Done)
}

/// The action being run, for error messages.
#[derive(Clone, Copy)]
struct Cx {
    index: usize,
    action: &'static str,
}

impl Cx {
    fn needs(self, needs: &'static str) -> ActionError {
        ActionError::NotApplicable {
            index: self.index,
            action: self.action,
            needs,
        }
    }
    fn cut(self, field: &'static str) -> ActionError {
        ActionError::Truncated {
            index: self.index,
            action: self.action,
            field,
        }
    }
    fn buffer(self, source: BufError) -> ActionError {
        ActionError::Buffer {
            index: self.index,
            action: self.action,
            source,
        }
    }
}

fn rd16(f: &[u8], at: usize) -> Option<u16> {
    match f.get(at..at + 2) {
        Some(&[a, b]) => Some(u16::from_be_bytes([a, b])),
        _ => None,
    }
}

fn wr16(f: &mut [u8], at: usize, v: u16) -> bool {
    match f.get_mut(at..at + 2) {
        Some(d) => {
            d.copy_from_slice(&v.to_be_bytes());
            true
        }
        None => false,
    }
}

/// True when the frame starts with a whole Ethernet header (as [`wire::ParsedPacket`]'s
/// `has_ethernet`, without parsing).
fn has_ethernet(buf: &PacketBuf) -> bool {
    buf.link() == wire::LinkType::Ethernet && buf.len() >= 14
}

fn set_eth(buf: &mut PacketBuf, at: usize, mac: [u8; 6], cx: Cx) -> Result<(), ActionError> {
    if !has_ethernet(buf) {
        return Err(cx.needs("an Ethernet header"));
    }
    let d = buf
        .frame_mut()
        .get_mut(at..at + 6)
        .ok_or(cx.cut("MAC address"))?;
    d.copy_from_slice(&mac);
    Ok(())
}

/// Where the transport checksum that covers the pseudo-header lives, and how to treat it.
enum L4Csum {
    /// No such checksum (no L4 header, ICMPv4, later fragment, other protocol).
    None,
    /// A complete checksum at this offset; `udp` for UDP's zero-means-none rule.
    Full { at: usize, udp: bool },
    /// A partial (pseudo-header) sum at this offset (`NEEDS_CSUM`).
    Partial { at: usize },
}

fn l4_csum(
    p: &ParsedPacket,
    meta: &OffloadMeta,
    pseudo: bool,
    cx: Cx,
) -> Result<L4Csum, ActionError> {
    let has_pseudo = match p.l4 {
        L4::Tcp | L4::Udp => true,
        L4::Icmpv6 => p.l3 == L3::Ipv6,
        _ => false,
    };
    if meta.needs_csum() {
        if !pseudo || !has_pseudo {
            return Ok(L4Csum::None);
        }
        let at = usize::from(meta.csum_start) + usize::from(meta.csum_offset);
        if at + 2 > p.frame_len as usize {
            return Err(ActionError::BadOffloadMeta {
                index: cx.index,
                action: cx.action,
                what: "csum_start + csum_offset lies past the end of the frame",
            });
        }
        return Ok(L4Csum::Partial { at });
    }
    if !has_pseudo && pseudo {
        return Ok(L4Csum::None);
    }
    let o = usize::from(p.l4_offset);
    Ok(match p.l4 {
        L4::Tcp => L4Csum::Full {
            at: o + 16,
            udp: false,
        },
        L4::Udp => L4Csum::Full {
            at: o + 6,
            udp: true,
        },
        L4::Icmpv6 if pseudo => L4Csum::Full {
            at: o + 2,
            udp: false,
        },
        _ => L4Csum::None,
    })
}

/// Applies an incremental checksum change `upd` (written for a complemented checksum) to the
/// transport checksum. `pseudo`: the change is in the pseudo-header (addresses) rather than in
/// the transport header itself (ports).
fn update_l4(
    buf: &mut PacketBuf,
    pseudo: bool,
    upd: impl Fn(u16) -> u16,
    cx: Cx,
) -> Result<(), ActionError> {
    let where_ = l4_csum(buf.parsed(), &buf.meta, pseudo, cx)?;
    let f = buf.frame_mut();
    match where_ {
        L4Csum::None => {}
        L4Csum::Partial { at } => {
            if let Some(s) = rd16(f, at) {
                // The field holds a non-complemented sum S: S' = ~upd(~S).
                wr16(f, at, !upd(!s));
            }
        }
        L4Csum::Full { at, udp } => {
            // A checksum field cut off by truncation has nothing to update.
            if let Some(c) = rd16(f, at) {
                if udp && c == 0 {
                    return Ok(());
                }
                let n = upd(c);
                wr16(f, at, if udp && n == 0 { 0xffff } else { n });
            }
        }
    }
    Ok(())
}

fn set_ipv4_addr(buf: &mut PacketBuf, off: usize, v: [u8; 4], cx: Cx) -> Result<(), ActionError> {
    let p = buf.parsed();
    if p.l3 != L3::Ipv4 {
        return Err(cx.needs("an IPv4 header"));
    }
    let o = usize::from(p.l3_offset);
    let f = buf.frame_mut();
    let d = f
        .get_mut(o + off..o + off + 4)
        .ok_or(cx.cut("IPv4 address"))?;
    let old = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
    let new = u32::from_be_bytes(v);
    if old == new {
        return Ok(());
    }
    d.copy_from_slice(&v);
    let hc = rd16(f, o + 10).ok_or(cx.cut("IPv4 checksum"))?;
    wr16(f, o + 10, update32(hc, old, new));
    update_l4(buf, true, |c| update32(c, old, new), cx)
}

fn set_ipv6_addr(buf: &mut PacketBuf, off: usize, v: [u8; 16], cx: Cx) -> Result<(), ActionError> {
    let p = buf.parsed();
    if p.l3 != L3::Ipv6 {
        return Err(cx.needs("an IPv6 header"));
    }
    let o = usize::from(p.l3_offset);
    let f = buf.frame_mut();
    let d = f
        .get_mut(o + off..o + off + 16)
        .ok_or(cx.cut("IPv6 address"))?;
    let mut old = [0u8; 16];
    old.copy_from_slice(d);
    if old == v {
        return Ok(());
    }
    d.copy_from_slice(&v);
    update_l4(buf, true, |c| update_bytes(c, &old, &v), cx)
}

fn set_port(buf: &mut PacketBuf, off: usize, v: u16, cx: Cx) -> Result<(), ActionError> {
    let p = buf.parsed();
    if !matches!(p.l4, L4::Tcp | L4::Udp) {
        return Err(cx.needs("a TCP or UDP header"));
    }
    let at = usize::from(p.l4_offset) + off;
    let f = buf.frame_mut();
    let old = rd16(f, at).ok_or(cx.cut("port"))?;
    if old == v {
        return Ok(());
    }
    wr16(f, at, v);
    let p = buf.parsed_mut();
    if off == 0 {
        p.src_port = v;
    } else {
        p.dst_port = v;
    }
    update_l4(buf, false, |c| update16(c, old, v), cx)
}

fn set_ttl(buf: &mut PacketBuf, ttl: u8, cx: Cx) -> Result<(), ActionError> {
    let p = buf.parsed();
    let o = usize::from(p.l3_offset);
    match p.l3 {
        L3::Ipv4 => {
            let f = buf.frame_mut();
            let old = rd16(f, o + 8).ok_or(cx.cut("TTL"))?;
            let new = (u16::from(ttl) << 8) | (old & 0xff);
            let hc = rd16(f, o + 10).ok_or(cx.cut("IPv4 checksum"))?;
            wr16(f, o + 8, new);
            wr16(f, o + 10, update16(hc, old, new));
        }
        L3::Ipv6 => {
            let b = buf.frame_mut().get_mut(o + 7).ok_or(cx.cut("hop limit"))?;
            *b = ttl;
        }
        _ => return Err(cx.needs("an IP header")),
    }
    buf.parsed_mut().ttl = ttl;
    Ok(())
}

/// Moves every recorded offset of `p` by `delta`. False when one would leave `u16` (then the
/// caller parses again). Absent layers have offset 0 and stay 0.
fn shift_parsed(p: &mut ParsedPacket, delta: i32) -> bool {
    fn mv(v: &mut u16, delta: i32) -> bool {
        if *v == 0 {
            return true;
        }
        match u16::try_from(i32::from(*v) + delta) {
            Ok(n) => {
                *v = n;
                true
            }
            Err(_) => false,
        }
    }
    let ok = mv(&mut p.l3_offset, delta)
        && mv(&mut p.l4_offset, delta)
        && mv(&mut p.payload_offset, delta)
        && mv(&mut p.tunnel.offset, delta)
        && mv(&mut p.tunnel.inner_offset, delta);
    p.frame_len = p.frame_len.wrapping_add_signed(delta);
    ok
}

fn push_vlan(buf: &mut PacketBuf, tpid: u16, tci: u16, cx: Cx) -> Result<(), ActionError> {
    if !has_ethernet(buf) {
        return Err(cx.needs("an Ethernet header"));
    }
    buf.push_front(4).map_err(|e| cx.buffer(e))?;
    let f = buf.frame_mut();
    f.copy_within(4..16, 0);
    wr16(f, 12, tpid);
    wr16(f, 14, tci);
    // A parse already made is kept in step; one not made yet will be made from these bytes.
    if let Some(&(mut p)) = buf.parsed_if_made() {
        let fits = p.vlan_count < 2 && shift_parsed(&mut p, 4);
        if fits {
            p.vlans[1] = p.vlans[0];
            p.vlans[0] = wire::VlanTag { tpid, tci };
            p.vlan_count += 1;
            buf.set_parsed(p);
        } else {
            buf.forget_parse();
        }
    }
    if !buf.meta.shift(4) {
        return Err(ActionError::BadOffloadMeta {
            index: cx.index,
            action: cx.action,
            what: "offsets overflow after push",
        });
    }
    Ok(())
}

fn pop_vlan(buf: &mut PacketBuf, cx: Cx) -> Result<(), ActionError> {
    // As the parse would say (an Ethernet frame whose first tag is whole), without parsing.
    let tagged = has_ethernet(buf)
        && matches!(
            rd16(buf.frame(), 12),
            Some(ethertype::VLAN | ethertype::QINQ | ethertype::QINQ_OLD)
        )
        && buf.len() >= 18;
    if !tagged {
        return Err(cx.needs("a VLAN tag"));
    }
    if buf.meta.needs_csum() && buf.meta.csum_start < 16 {
        return Err(ActionError::BadOffloadMeta {
            index: cx.index,
            action: cx.action,
            what: "csum_start lies inside the tag being popped",
        });
    }
    buf.frame_mut().copy_within(0..12, 4);
    buf.pull_front(4).map_err(|e| cx.buffer(e))?;
    if let Some(&(mut p)) = buf.parsed_if_made() {
        let deep = p.anomalies.contains(wire::Anomalies::VLAN_TOO_DEEP);
        if !deep && shift_parsed(&mut p, -4) {
            p.vlans[0] = p.vlans[1];
            p.vlans[1] = wire::VlanTag::default();
            p.vlan_count -= 1;
            buf.set_parsed(p);
        } else {
            buf.forget_parse();
        }
    }
    buf.meta.shift(-4);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::GsoType;
    use etherparse::{PacketBuilder, VlanId};
    use proptest::prelude::*;
    use wire::checksum::{checksum, l4_checksum, pseudo_header_v4, pseudo_header_v6};
    use wire::parse_packet;

    const A: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const B: [u8; 6] = [2, 0, 0, 0, 0, 2];

    /// One's complement has two zeros: 0x0000 and 0xffff verify alike.
    fn same_csum(a: u16, b: u16) -> bool {
        a == b || (a == 0 && b == 0xffff) || (a == 0xffff && b == 0)
    }

    /// Recomputes every checksum of `f` from scratch and compares with what is in the frame.
    fn assert_checksums(f: &[u8]) {
        let p = parse_packet(f);
        assert!(p.truncated.is_none(), "{p:?}");
        let o = usize::from(p.l3_offset);
        let l4 = usize::from(p.l4_offset);
        let end = o + p.ip_len as usize;
        let pseudo = match p.l3 {
            L3::Ipv4 => {
                let ihl = usize::from(f[o] & 0xf) * 4;
                let mut h = f[o..o + ihl].to_vec();
                let inc = u16::from_be_bytes([h[10], h[11]]);
                h[10] = 0;
                h[11] = 0;
                assert!(same_csum(inc, checksum(&h)), "ipv4 header checksum");
                let (s, d) = p.ipv4_addrs(f).unwrap();
                pseudo_header_v4(s, d, p.ip_proto, (end - l4) as u32)
            }
            L3::Ipv6 => {
                let (s, d) = p.ipv6_addrs(f).unwrap();
                pseudo_header_v6(s, d, p.ip_proto, (end - l4) as u32)
            }
            _ => return,
        };
        let (at, pseudo) = match p.l4 {
            L4::Tcp => (l4 + 16, pseudo),
            L4::Udp => (l4 + 6, pseudo),
            L4::Icmpv6 => (l4 + 2, pseudo),
            L4::Icmpv4 => (l4 + 2, 0),
            _ => return,
        };
        let inc = u16::from_be_bytes([f[at], f[at + 1]]);
        if p.l4 == L4::Udp && inc == 0 {
            return;
        }
        let mut seg = f[l4..end].to_vec();
        seg[at - l4] = 0;
        seg[at - l4 + 1] = 0;
        let full = l4_checksum(pseudo, &seg);
        assert!(
            same_csum(inc, full),
            "{:?} checksum: incremental {inc:#06x}, full {full:#06x}",
            p.l4
        );
    }

    fn run(actions: &[Action], frame: &[u8]) -> (PacketBuf, OutputSet) {
        let mut b = PacketBuf::from_frame(frame);
        let mut o = OutputSet::new();
        execute(actions, &mut b, &mut o).unwrap();
        assert_eq!(*b.parsed(), parse_packet(b.frame()), "parsed kept in step");
        (b, o)
    }

    fn v4_tcp(payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        PacketBuilder::ethernet2(A, B)
            .ipv4([10, 0, 0, 1], [192, 168, 7, 9], 64)
            .tcp(40000, 80, 7, 1000)
            .ack(3)
            .write(&mut f, payload)
            .unwrap();
        f
    }

    fn v4_udp(payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        PacketBuilder::ethernet2(A, B)
            .ipv4([10, 0, 0, 1], [8, 8, 8, 8], 64)
            .udp(5000, 53)
            .write(&mut f, payload)
            .unwrap();
        f
    }

    fn v6_tcp(payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        PacketBuilder::ethernet2(A, B)
            .ipv6([0x20; 16], [0xfe; 16], 64)
            .tcp(1, 2, 3, 4)
            .write(&mut f, payload)
            .unwrap();
        f
    }

    #[test]
    fn nat_rewrites_keep_checksums() {
        let nat = [
            Action::SetIpv4Src([203, 0, 113, 5]),
            Action::SetTpSrc(61000),
            Action::SetIpv4Dst([10, 9, 8, 7]),
            Action::SetTpDst(8080),
            Action::SetEthSrc(B),
            Action::SetEthDst(A),
            Action::DecIpTtl,
            Action::Output(3),
        ];
        for f in [v4_tcp(b"hello world"), v4_udp(b"dns?"), v4_udp(b"odd")] {
            assert_checksums(&f);
            let (b, o) = run(&nat, &f);
            assert_eq!(o.ports(), &[3]);
            let p = *b.parsed();
            assert_eq!(
                p.ipv4_addrs(b.frame()),
                Some(([203, 0, 113, 5], [10, 9, 8, 7]))
            );
            assert_eq!((p.src_port, p.dst_port, p.ttl), (61000, 8080, 63));
            assert_eq!(&b.frame()[0..12], &[A, B].concat()[..]);
            assert_checksums(b.frame());
        }
    }

    #[test]
    fn udp_zero_checksum_stays_zero() {
        let mut f = v4_udp(b"no checksum");
        f[40] = 0;
        f[41] = 0;
        let (b, _) = run(
            &[
                Action::SetIpv4Src([1, 2, 3, 4]),
                Action::SetTpDst(9),
                Action::Output(1),
            ],
            &f,
        );
        assert_eq!(&b.frame()[40..42], &[0, 0]);
        assert_checksums(b.frame());
    }

    #[test]
    fn ipv6_and_icmpv6() {
        let (b, _) = run(
            &[
                Action::SetIpv6Src([0x11; 16]),
                Action::SetIpv6Dst([0x22; 16]),
                Action::SetTpSrc(443),
                Action::SetIpTtl(5),
            ],
            &v6_tcp(b"segment"),
        );
        assert_eq!(
            b.parsed().ipv6_addrs(b.frame()),
            Some(([0x11; 16], [0x22; 16]))
        );
        assert_eq!(b.parsed().ttl, 5);
        assert_checksums(b.frame());

        let mut f = Vec::new();
        PacketBuilder::ethernet2(A, B)
            .ipv6([0x20; 16], [0xfe; 16], 64)
            .icmpv6_echo_request(7, 9)
            .write(&mut f, b"ping6")
            .unwrap();
        assert_checksums(&f);
        let (b, _) = run(&[Action::SetIpv6Dst([0x33; 16])], &f);
        assert_checksums(b.frame());
        // ICMPv4 has no pseudo-header: only the IP header checksum changes.
        let mut g = Vec::new();
        PacketBuilder::ethernet2(A, B)
            .ipv4([1, 1, 1, 1], [2, 2, 2, 2], 64)
            .icmpv4_echo_request(1, 1)
            .write(&mut g, b"ping")
            .unwrap();
        let icmp = g[36..38].to_vec();
        let (b, _) = run(&[Action::SetIpv4Dst([3, 3, 3, 3])], &g);
        assert_eq!(&b.frame()[36..38], &icmp[..]);
        assert_checksums(b.frame());
    }

    #[test]
    fn partial_checksum_is_adjusted_not_completed() {
        // A guest's TSO frame: NEEDS_CSUM, field holds the folded pseudo-header sum.
        for (v6, tcp) in [(false, true), (false, false), (true, true), (true, false)] {
            let mut f = match (v6, tcp) {
                (false, true) => v4_tcp(b"large segment payload"),
                (false, false) => v4_udp(b"udp gso payload"),
                (true, true) => v6_tcp(b"v6 segment"),
                (true, false) => {
                    let mut f = Vec::new();
                    PacketBuilder::ethernet2(A, B)
                        .ipv6([0x20; 16], [0xfe; 16], 64)
                        .udp(1, 2)
                        .write(&mut f, b"v6 udp")
                        .unwrap();
                    f
                }
            };
            let p = parse_packet(&f);
            let l4 = usize::from(p.l4_offset);
            let at = l4 + if tcp { 16 } else { 6 };
            let seg_len = (p.ip_len as usize + usize::from(p.l3_offset) - l4) as u32;
            let ph = match p.l3 {
                L3::Ipv4 => {
                    let (s, d) = p.ipv4_addrs(&f).unwrap();
                    pseudo_header_v4(s, d, p.ip_proto, seg_len)
                }
                _ => {
                    let (s, d) = p.ipv6_addrs(&f).unwrap();
                    pseudo_header_v6(s, d, p.ip_proto, seg_len)
                }
            };
            f[at..at + 2].copy_from_slice(&wire::checksum::fold(ph).to_be_bytes());
            let mut b = PacketBuf::from_frame(&f);
            b.meta = OffloadMeta {
                flags: OffloadMeta::NEEDS_CSUM,
                gso_type: if tcp { GsoType::TcpV4 } else { GsoType::UdpL4 },
                csum_start: l4 as u16,
                csum_offset: (at - l4) as u16,
                ..OffloadMeta::default()
            };
            let acts: &[Action] = if v6 {
                &[
                    Action::SetIpv6Src([9; 16]),
                    Action::SetTpSrc(1234),
                    Action::PushVlan {
                        tpid: 0x8100,
                        tci: 5,
                    },
                ]
            } else {
                &[
                    Action::SetIpv4Src([9, 9, 9, 9]),
                    Action::SetTpSrc(1234),
                    Action::PushVlan {
                        tpid: 0x8100,
                        tci: 5,
                    },
                ]
            };
            let mut o = OutputSet::new();
            execute(acts, &mut b, &mut o).unwrap();
            assert_eq!(
                b.meta.csum_start as usize,
                l4 + 4,
                "csum_start follows the push"
            );
            // Complete the checksum as the NIC would, then verify it from scratch.
            let start = usize::from(b.meta.csum_start);
            let off = start + usize::from(b.meta.csum_offset);
            let g = b.frame_mut();
            let c = !wire::checksum::fold(wire::checksum::sum(0, &g[start..]));
            g[off..off + 2].copy_from_slice(&c.to_be_bytes());
            assert_checksums(b.frame());
        }
    }

    #[test]
    fn vlan_push_pop_round_trip() {
        for f in [v4_tcp(b"x"), v6_tcp(b""), v4_udp(b"abc")] {
            let mut b = PacketBuf::from_frame(&f);
            let mut o = OutputSet::new();
            execute(
                &[Action::PushVlan {
                    tpid: 0x8100,
                    tci: 0x2064,
                }],
                &mut b,
                &mut o,
            )
            .unwrap();
            assert_eq!(b.len(), f.len() + 4);
            assert_eq!(*b.parsed(), parse_packet(b.frame()));
            assert_eq!(b.parsed().vlans[0].vid(), 100);
            execute(
                &[Action::PushVlan {
                    tpid: 0x88a8,
                    tci: 7,
                }],
                &mut b,
                &mut o,
            )
            .unwrap();
            assert_eq!(*b.parsed(), parse_packet(b.frame()));
            assert_eq!(
                (b.parsed().vlan_count, b.parsed().vlans[0].tpid),
                (2, 0x88a8)
            );
            // A third tag: parsed again, still consistent.
            execute(
                &[Action::PushVlan {
                    tpid: 0x8100,
                    tci: 1,
                }],
                &mut b,
                &mut o,
            )
            .unwrap();
            assert_eq!(*b.parsed(), parse_packet(b.frame()));
            for _ in 0..3 {
                execute(&[Action::PopVlan], &mut b, &mut o).unwrap();
                assert_eq!(*b.parsed(), parse_packet(b.frame()));
            }
            assert_eq!(b.frame(), &f[..]);
            assert_eq!(b.headroom(), PacketBuf::DEFAULT_HEADROOM);
            let e = execute(&[Action::PopVlan], &mut b, &mut o).unwrap_err();
            assert!(
                matches!(e, ActionError::NotApplicable { index: 0, .. }),
                "{e}"
            );
        }
    }

    #[test]
    fn errors_and_terminals() {
        let f = v4_udp(b"");
        let mut b = PacketBuf::from_frame(&f);
        let mut o = OutputSet::new();
        let e = execute(&[Action::SetIpv6Src([0; 16])], &mut b, &mut o).unwrap_err();
        assert_eq!(
            e.to_string(),
            "action 0 (set_ipv6_src) needs an IPv6 header"
        );
        let e = execute(&[Action::Output(1), Action::SetTpDst(1)], &mut b, &mut o).unwrap_err();
        assert!(matches!(e, ActionError::ModifyAfterOutput { index: 1, .. }));
        // execute_from hands back control so a copy can be sent.
        o.clear();
        let acts = [
            Action::Output(1),
            Action::PushVlan {
                tpid: 0x8100,
                tci: 10,
            },
            Action::Output(2),
        ];
        assert_eq!(execute_from(&acts, 0, &mut b, &mut o), Ok(Step::Resume(1)));
        assert_eq!(o.ports(), &[1]);
        o.clear_ports();
        assert_eq!(execute_from(&acts, 1, &mut b, &mut o), Ok(Step::Done));
        assert_eq!((o.ports(), b.parsed().vlan_count), (&[2][..], 1));

        execute(
            &[Action::Output(4), Action::Drop(DropReason::Policy)],
            &mut b,
            &mut o,
        )
        .unwrap();
        assert!(o.is_drop() && o.ports().is_empty());
        assert_eq!(o.drop_reason(), Some(DropReason::Policy));
        execute(&[], &mut b, &mut o).unwrap();
        assert!(o.is_drop() && o.drop_reason().is_none());
        execute(&[Action::ToSlowPath], &mut b, &mut o).unwrap();
        assert!(o.to_slow_path() && !o.is_drop());

        let mut b = PacketBuf::from_frame(&f);
        b.frame_mut()[22] = 1; // TTL 1
        b.reparse();
        execute(&[Action::DecIpTtl, Action::Output(1)], &mut b, &mut o).unwrap();
        assert_eq!(o.drop_reason(), Some(DropReason::TtlExpired));

        assert!(validate(&[Action::Drop(DropReason::Policy), Action::Output(1)]).is_err());
        assert!(validate(&[Action::Output(1); MAX_ACTIONS + 1]).is_err());
        assert!(validate(&[Action::SetTpSrc(1), Action::Output(1), Action::PopVlan]).is_ok());
        let mut many = OutputSet::new();
        for p in 0..OUTPUT_CAPACITY {
            many.push(p as u16).unwrap();
        }
        assert!(many.push(0).is_err());
        // Truncated frames give errors, not panics.
        for n in 0..f.len() {
            let mut b = PacketBuf::from_frame(&f[..n]);
            for a in [
                Action::SetIpv4Src([1; 4]),
                Action::SetTpDst(3),
                Action::DecIpTtl,
                Action::PopVlan,
                Action::PushVlan {
                    tpid: 0x8100,
                    tci: 1,
                },
                Action::SetEthDst([1; 6]),
            ] {
                let _ = execute(&[a], &mut b, &mut o);
            }
        }
    }

    proptest! {
        #[test]
        fn random_rewrites_keep_checksums(
            v6 in any::<bool>(), tcp in any::<bool>(), vlan in any::<bool>(),
            payload in proptest::collection::vec(any::<u8>(), 0..80),
            s4 in any::<[u8; 4]>(), d4 in any::<[u8; 4]>(),
            s6 in any::<[u8; 16]>(), d6 in any::<[u8; 16]>(),
            sp in any::<u16>(), dp in any::<u16>(), ttl in 2u8..=255,
            push in proptest::option::of(any::<u16>()),
        ) {
            let eth = PacketBuilder::ethernet2(A, B);
            let mut f = Vec::new();
            macro_rules! fin { ($ip:expr) => {
                if tcp { $ip.tcp(1000, 2000, 1, 100).write(&mut f, &payload).unwrap() }
                else { $ip.udp(1000, 2000).write(&mut f, &payload).unwrap() }
            }}
            let vid = VlanId::try_new(42).unwrap();
            match (vlan, v6) {
                (false, false) => fin!(eth.ipv4([1, 2, 3, 4], [5, 6, 7, 8], ttl)),
                (false, true) => fin!(eth.ipv6([1; 16], [2; 16], ttl)),
                (true, false) => fin!(eth.single_vlan(vid).ipv4([1, 2, 3, 4], [5, 6, 7, 8], ttl)),
                (true, true) => fin!(eth.single_vlan(vid).ipv6([1; 16], [2; 16], ttl)),
            }
            let mut acts = if v6 {
                vec![Action::SetIpv6Src(s6), Action::SetIpv6Dst(d6)]
            } else {
                vec![Action::SetIpv4Src(s4), Action::SetIpv4Dst(d4)]
            };
            acts.extend([Action::SetTpSrc(sp), Action::SetTpDst(dp), Action::DecIpTtl]);
            if vlan { acts.push(Action::PopVlan) }
            if let Some(t) = push { acts.push(Action::PushVlan { tpid: 0x8100, tci: t }) }
            acts.push(Action::Output(9));
            let mut b = PacketBuf::from_frame(&f);
            let mut o = OutputSet::new();
            execute(&acts, &mut b, &mut o).unwrap();
            prop_assert_eq!(*b.parsed(), parse_packet(b.frame()));
            prop_assert_eq!((b.parsed().src_port, b.parsed().dst_port, b.parsed().ttl), (sp, dp, ttl - 1));
            assert_checksums(b.frame());
        }

        #[test]
        fn push_pop_shift_matches_reparse(bytes in proptest::collection::vec(any::<u8>(), 0..120), tci in any::<u16>()) {
            let mut b = PacketBuf::from_frame(&bytes);
            let mut o = OutputSet::new();
            if execute(&[Action::PushVlan { tpid: 0x8100, tci }], &mut b, &mut o).is_ok() {
                prop_assert_eq!(*b.parsed(), parse_packet(b.frame()));
                execute(&[Action::PopVlan], &mut b, &mut o).unwrap();
                prop_assert_eq!(*b.parsed(), parse_packet(b.frame()));
                prop_assert_eq!(b.frame(), &bytes[..]);
            }
            let mut b = PacketBuf::from_frame(&bytes);
            if execute(&[Action::PopVlan], &mut b, &mut o).is_ok() {
                prop_assert_eq!(*b.parsed(), parse_packet(b.frame()));
            }
        }
    }
}
