//! The TCP life cycle of a connection, driven by flags in the way Suricata 7's stream engine
//! (`stream-tcp.c`) moves a session between states, so that a connection's state and its flow
//! record's `state` agree with Suricata's on the same packets.
//!
//! Suricata names states from the server's side: a FIN from the client moves an established
//! session to `CloseWait`, a FIN from the server to `FinWait1`. The flow state follows
//! (`StreamTcpPacketSetState`): `Established` to `CloseWait` count as established,
//! `LastAck`, `TimeWait` and `Closed` as closed.
//!
//! A session exists only from a SYN on: Suricata's default (`stream.midstream: false`) picks
//! up no connection already running, and a flow that starts with anything else has no session
//! (its packets are [`crate::ConnState::Invalid`] here, its record has no `tcp.state`).
//!
//! Sequence numbers are recorded, not judged: each direction's [`TcpPeer`] holds the ISN, the
//! next sequence number, the last ACK and window and the window scale, updated on every
//! segment. Validating segments against the window (as Linux conntrack's `tcp_in_window`) is
//! the firewall's: it plugs in through [`SegmentCheck`], which the table calls on every
//! segment of a session before the segment may change the state. This module must never
//! allocate, and never trust a flag combination to be sane.

use crate::Direction;

/// TCP flag bits (the low byte of the flags field).
pub mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;
}

/// A session's state, with Suricata's numbering (`enum TcpState`), whose order the reuse rule
/// relies on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum TcpState {
    #[default]
    None = 0,
    SynSent = 2,
    SynRecv = 3,
    Established = 4,
    FinWait1 = 5,
    FinWait2 = 6,
    TimeWait = 7,
    LastAck = 8,
    CloseWait = 9,
    Closing = 10,
    Closed = 11,
}

impl TcpState {
    /// The state as EVE names it.
    pub fn eve(self) -> events::FlowTcpState {
        use events::FlowTcpState as S;
        match self {
            TcpState::None => S::None,
            TcpState::SynSent => S::SynSent,
            TcpState::SynRecv => S::SynRecv,
            TcpState::Established => S::Established,
            TcpState::FinWait1 => S::FinWait1,
            TcpState::FinWait2 => S::FinWait2,
            TcpState::TimeWait => S::TimeWait,
            TcpState::LastAck => S::LastAck,
            TcpState::CloseWait => S::CloseWait,
            TcpState::Closing => S::Closing,
            TcpState::Closed => S::Closed,
        }
    }
}

/// One TCP segment's header fields, read once from the packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    pub seq: u32,
    pub ack: u32,
    pub window: u16,
    /// The low eight flag bits.
    pub flags: u8,
    /// Payload bytes in the segment.
    pub payload_len: u32,
    /// The window-scale option, on SYN segments that carry one.
    pub wscale: Option<u8>,
}

impl Segment {
    /// Reads the segment at `l4` (a TCP header the parser found complete).
    #[inline(always)]
    pub fn read(frame: &[u8], l4: usize, payload_len: u32) -> Option<Segment> {
        let h = frame.get(l4..l4 + 20)?;
        let flags = h[13];
        Some(Segment {
            seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
            ack: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
            window: u16::from_be_bytes([h[14], h[15]]),
            flags,
            payload_len,
            wscale: if flags & flags::SYN != 0 {
                window_scale(frame, l4, h[12])
            } else {
                None
            },
        })
    }

    /// Sequence space the segment takes: payload, plus one for SYN and one for FIN.
    pub fn seq_len(&self) -> u32 {
        self.payload_len
            .wrapping_add(u32::from(self.flags & flags::SYN != 0))
            .wrapping_add(u32::from(self.flags & flags::FIN != 0))
    }

    fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }
}

/// The window-scale option of the SYN whose header is at `l4` (`offset`: its data-offset
/// byte), if it has one. Apart from [`Segment::read`], which other segments take without a
/// call.
#[inline(never)]
pub(crate) fn window_scale(frame: &[u8], l4: usize, offset: u8) -> Option<u8> {
    let hl = usize::from(offset >> 4) * 4;
    let opts = frame.get(l4 + 20..l4 + hl.max(20))?;
    let mut wscale = None;
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            0 => break,
            1 => i += 1,
            kind => {
                let Some(&len) = opts.get(i + 1) else { break };
                if len < 2 {
                    break;
                }
                if kind == 3 && len == 3 {
                    wscale = opts.get(i + 2).copied();
                }
                i += usize::from(len);
            }
        }
    }
    wscale
}

/// What one side of a session has sent, for the firewall's window validation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpPeer {
    /// Initial sequence number (from this side's SYN).
    pub isn: u32,
    /// The sequence number after this side's furthest segment.
    pub next_seq: u32,
    /// The last acknowledgement number this side sent.
    pub last_ack: u32,
    /// The last window this side advertised (unscaled).
    pub window: u16,
    /// Window scale from this side's SYN, if it offered one.
    pub wscale: Option<u8>,
    /// Sequence number just after this side's FIN, once it sent one.
    pub fin_end: Option<u32>,
    /// Flags this side sent (Suricata's `tcp_flags_ts` / `tcp_flags_tc`).
    pub flags: u8,
    /// True once this side sent a segment the record has taken in.
    pub seen: bool,
}

/// `a >= b` in sequence space (RFC 1982 serial arithmetic).
fn seq_geq(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) >= 0
}

impl TcpPeer {
    #[inline(always)]
    fn take(&mut self, seg: &Segment) {
        let end = seg.seq.wrapping_add(seg.seq_len());
        if !self.seen || seq_geq(end, self.next_seq) {
            self.next_seq = end;
        }
        if seg.has(flags::ACK) {
            self.last_ack = seg.ack;
        }
        self.window = seg.window;
        if seg.has(flags::FIN) {
            self.fin_end = Some(end);
        }
        self.seen = true;
    }
}

/// A connection's TCP session: Suricata's state, the flags seen, and both sides' sequence
/// records ([`TcpTrack::peer`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpTrack {
    /// Whether a session exists (a SYN started it).
    pub session: bool,
    pub state: TcpState,
    /// Flags of every packet since the session began.
    pub flags: u8,
    /// The client (index 0) and server (index 1) records.
    pub peers: [TcpPeer; 2],
    /// The server answered the client's SYN with a SYN of its own (simultaneous open, which
    /// Suricata calls a four-way handshake).
    pub four_way: bool,
}

/// The firewall's place to validate each segment against the sequence window. Called on every
/// segment of a session, after the segment's flags are recorded and before it can change the
/// state; returning `false` makes the packet [`crate::ConnState::Invalid`] and leaves the state
/// and the sequence records as they were.
pub trait SegmentCheck {
    /// Whether `seg`, sent in direction `dir`, fits the session `track`.
    fn check(&mut self, track: &TcpTrack, dir: Direction, seg: &Segment) -> bool;
}

/// Accepts every segment: the table alone judges by flags, as this crate's contract says.
#[derive(Clone, Copy, Debug, Default)]
pub struct AcceptAll;

impl SegmentCheck for AcceptAll {
    #[inline(always)]
    fn check(&mut self, _: &TcpTrack, _: Direction, _: &Segment) -> bool {
        true
    }
}

impl TcpTrack {
    /// The record of the side that sends in `dir`.
    pub fn peer(&self, dir: Direction) -> &TcpPeer {
        &self.peers[dir as usize]
    }

    /// Suricata's `TcpSessionPacketIsStreamStarter` (without midstream): a SYN without ACK,
    /// RST or FIN.
    pub fn is_stream_starter(seg_flags: u8) -> bool {
        seg_flags & (flags::RST | flags::FIN) == 0
            && seg_flags & (flags::SYN | flags::ACK) == flags::SYN
    }

    /// Suricata's `TcpSessionReuseDoneEnough` for a SYN sent in `dir` on this flow: whether the
    /// old session is done enough that the SYN starts a new connection on the same tuple.
    pub fn reuse_by_syn(&self, dir: Direction, seq: u32) -> bool {
        match dir {
            Direction::ToServer => {
                if !self.session {
                    return false;
                }
                if self.peers[0].isn == seq {
                    return false; // the same SYN again
                }
                self.state >= TcpState::LastAck || self.state == TcpState::None
            }
            Direction::ToClient => {
                !self.session || self.state >= TcpState::LastAck || self.state == TcpState::None
            }
        }
    }

    /// Takes one segment sent in `dir`: records its flags and sequence numbers and moves the
    /// state. Returns `false` when the segment does not fit: `check` refused it, or it is a
    /// handshake segment that does not acknowledge what it answers (the checks Suricata's
    /// stream engine makes before it moves a handshake on). Then nothing but the flags changed.
    #[inline(always)]
    pub fn segment(
        &mut self,
        dir: Direction,
        seg: &Segment,
        check: &mut impl SegmentCheck,
    ) -> bool {
        // Nearly every segment: an established session, no SYN, FIN or RST. The state stays;
        // what `segment_general` would do comes down to this.
        if self.session
            && self.state == TcpState::Established
            && seg.flags & (flags::SYN | flags::FIN | flags::RST) == 0
        {
            self.flags |= seg.flags;
            let me = &mut self.peers[dir as usize];
            me.flags |= seg.flags;
            if !check.check(self, dir, seg) {
                return false;
            }
            self.peers[dir as usize].take(seg);
            return true;
        }
        self.segment_general(dir, *seg, check)
    }

    /// [`TcpTrack::segment`] for any state and flags. (The segment by value: a reference
    /// would keep the caller's copy of it in memory.)
    #[inline(never)]
    fn segment_general(
        &mut self,
        dir: Direction,
        seg: Segment,
        check: &mut impl SegmentCheck,
    ) -> bool {
        let seg = &seg;
        if !self.session {
            // Suricata's StreamTcpPacketStateNone: only a SYN (no ACK, RST, FIN) starts one.
            if !Self::is_stream_starter(seg.flags) {
                return true;
            }
            *self = TcpTrack {
                session: true,
                state: TcpState::SynSent,
                flags: seg.flags,
                ..TcpTrack::default()
            };
            let client = &mut self.peers[dir as usize];
            client.isn = seg.seq;
            client.wscale = seg.wscale;
            client.flags = seg.flags;
            client.take(seg);
            return true;
        }
        self.flags |= seg.flags;
        self.peers[dir as usize].flags |= seg.flags;
        if !check.check(self, dir, seg) {
            return false;
        }
        let d = dir;
        let to_server = d == Direction::ToServer;
        let f = seg.flags;
        let rst = f & flags::RST != 0;
        let fin = f & flags::FIN != 0;
        let syn = f & flags::SYN != 0;
        let ack = f & flags::ACK != 0;
        let other = d.reverse() as usize;
        let acks_other_fin = |s: &TcpTrack| {
            ack && s.peers[other]
                .fin_end
                .is_some_and(|end| seq_geq(seg.ack, end))
        };
        use TcpState as S;
        let next = match self.state {
            S::None => self.state,
            S::SynSent => {
                if rst {
                    S::Closed
                } else if syn && ack {
                    // Suricata refuses a SYN-ACK that does not acknowledge the SYN it answers
                    // (STREAM_3WHS_SYNACK_WITH_WRONG_ACK): the handshake does not advance.
                    let answered = if to_server { 1 } else { 0 };
                    if (!to_server || self.four_way)
                        && seg.ack == self.peers[answered].isn.wrapping_add(1)
                    {
                        if !to_server {
                            self.peers[1].isn = seg.seq;
                            self.peers[1].wscale = seg.wscale;
                        }
                        S::SynRecv
                    } else {
                        return false;
                    }
                } else if syn && !to_server {
                    self.four_way = true;
                    self.peers[1].isn = seg.seq;
                    self.peers[1].wscale = seg.wscale;
                    S::SynSent
                } else {
                    S::SynSent
                }
            }
            S::SynRecv => {
                if rst {
                    S::Closed
                } else if ack && !syn && !fin {
                    // The handshake's last ACK comes from the client, or from the server after
                    // a simultaneous open, and must acknowledge the other side's SYN and follow
                    // this side's own (Suricata: STREAM_3WHS_WRONG_SEQ_WRONG_ACK otherwise).
                    if to_server != self.four_way {
                        let me = &self.peers[d as usize];
                        let them = &self.peers[other];
                        if seg.ack == them.next_seq && seg.seq == me.next_seq {
                            S::Established
                        } else {
                            return false;
                        }
                    } else {
                        S::SynRecv
                    }
                } else {
                    S::SynRecv
                }
            }
            S::Established => {
                if rst {
                    S::Closed
                } else if fin {
                    if to_server { S::CloseWait } else { S::FinWait1 }
                } else {
                    S::Established
                }
            }
            S::FinWait1 => {
                // The server closed first.
                if rst {
                    S::Closed
                } else if to_server && fin {
                    if acks_other_fin(self) {
                        S::TimeWait
                    } else {
                        S::Closing
                    }
                } else if to_server && acks_other_fin(self) {
                    S::FinWait2
                } else {
                    S::FinWait1
                }
            }
            S::FinWait2 => {
                if rst {
                    S::Closed
                } else if to_server && fin {
                    S::TimeWait
                } else {
                    S::FinWait2
                }
            }
            S::CloseWait => {
                // The client closed first.
                if rst {
                    S::Closed
                } else if !to_server && fin {
                    S::LastAck
                } else {
                    S::CloseWait
                }
            }
            S::Closing => {
                if rst {
                    S::Closed
                } else if acks_other_fin(self) {
                    S::TimeWait
                } else {
                    S::Closing
                }
            }
            S::LastAck => {
                if rst || (to_server && acks_other_fin(self)) {
                    S::Closed
                } else {
                    S::LastAck
                }
            }
            S::TimeWait => {
                if rst || (!to_server && ack) {
                    S::Closed
                } else {
                    S::TimeWait
                }
            }
            S::Closed => S::Closed,
        };
        self.peers[d as usize].take(seg);
        if syn && self.peers[d as usize].wscale.is_none() {
            self.peers[d as usize].wscale = seg.wscale;
        }
        self.state = next;
        true
    }
}

impl Direction {
    /// The other direction.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Direction::{ToClient as C, ToServer as S};
    use flags::*;

    fn seg(flags: u8, seq: u32, ack: u32, len: u32) -> Segment {
        Segment {
            seq,
            ack,
            window: 100,
            flags,
            payload_len: len,
            wscale: None,
        }
    }

    fn run(steps: &[(Direction, Segment)]) -> Vec<TcpState> {
        let mut t = TcpTrack::default();
        steps
            .iter()
            .map(|(d, s)| {
                assert!(t.segment(*d, s, &mut AcceptAll));
                t.state
            })
            .collect()
    }

    #[test]
    fn handshake_data_and_client_close() {
        use TcpState::*;
        let states = run(&[
            (S, seg(SYN, 100, 0, 0)),
            (C, seg(SYN | ACK, 500, 101, 0)),
            (S, seg(ACK, 101, 501, 0)),
            (S, seg(ACK | PSH, 101, 501, 10)),
            (C, seg(ACK, 501, 111, 0)),
            (S, seg(FIN | ACK, 111, 501, 0)),
            (C, seg(ACK, 501, 112, 0)),
            (C, seg(FIN | ACK, 501, 112, 0)),
            (S, seg(ACK, 112, 502, 0)),
        ]);
        assert_eq!(
            states,
            [
                SynSent,
                SynRecv,
                Established,
                Established,
                Established,
                CloseWait,
                CloseWait,
                LastAck,
                Closed
            ]
        );
    }

    #[test]
    fn server_closes_first() {
        use TcpState::*;
        let states = run(&[
            (S, seg(SYN, 100, 0, 0)),
            (C, seg(SYN | ACK, 500, 101, 0)),
            (S, seg(ACK, 101, 501, 0)),
            (C, seg(FIN | ACK, 501, 101, 0)),
            (S, seg(ACK, 101, 502, 0)),
            (S, seg(FIN | ACK, 101, 502, 0)),
            (C, seg(ACK, 502, 102, 0)),
        ]);
        assert_eq!(
            states,
            [
                SynSent,
                SynRecv,
                Established,
                FinWait1,
                FinWait2,
                TimeWait,
                Closed
            ]
        );
    }

    #[test]
    fn simultaneous_open_and_close() {
        use TcpState::*;
        let states = run(&[
            (S, seg(SYN, 100, 0, 0)),
            (C, seg(SYN, 500, 0, 0)),
            (S, seg(SYN | ACK, 100, 501, 0)),
            (C, seg(SYN | ACK, 500, 101, 0)),
            (C, seg(ACK, 501, 101, 0)),
            (C, seg(FIN | ACK, 501, 101, 0)),
            (S, seg(FIN | ACK, 101, 501, 0)),
            (C, seg(ACK, 502, 102, 0)),
        ]);
        assert_eq!(
            states,
            [
                SynSent,
                SynSent,
                SynRecv,
                SynRecv,
                Established,
                FinWait1,
                Closing,
                TimeWait
            ]
        );
    }

    #[test]
    fn rst_closes_from_any_state() {
        let t = run(&[(S, seg(SYN, 1, 0, 0)), (C, seg(RST | ACK, 0, 2, 0))]);
        assert_eq!(t, [TcpState::SynSent, TcpState::Closed]);
        let t = run(&[
            (S, seg(SYN, 1, 0, 0)),
            (C, seg(SYN | ACK, 9, 2, 0)),
            (S, seg(ACK, 2, 10, 0)),
            (S, seg(RST, 2, 0, 0)),
        ]);
        assert_eq!(t[3], TcpState::Closed);
    }

    #[test]
    fn no_session_without_a_syn() {
        let mut t = TcpTrack::default();
        for f in [ACK, RST, FIN | ACK, SYN | ACK, ACK | PSH] {
            assert!(t.segment(S, &seg(f, 1, 1, 5), &mut AcceptAll));
            assert!(!t.session);
            assert_eq!(t.flags, 0, "Suricata records no flags without a session");
        }
    }

    #[test]
    fn flags_and_sequence_records() {
        let mut t = TcpTrack::default();
        let mut syn = seg(SYN, 1000, 0, 0);
        syn.wscale = Some(7);
        t.segment(S, &syn, &mut AcceptAll);
        t.segment(C, &seg(SYN | ACK, 5000, 1001, 0), &mut AcceptAll);
        t.segment(S, &seg(ACK | PSH, 1001, 5001, 20), &mut AcceptAll);
        assert_eq!(t.peer(S).isn, 1000);
        assert_eq!(t.peer(S).wscale, Some(7));
        assert_eq!(t.peer(S).next_seq, 1021);
        assert_eq!(t.peer(S).last_ack, 5001);
        assert_eq!(t.peer(C).next_seq, 5001);
        assert_eq!(t.peer(S).flags, SYN | ACK | PSH);
        assert_eq!(t.peer(C).flags, SYN | ACK);
        assert_eq!(t.flags, SYN | ACK | PSH);
    }

    #[test]
    fn a_refused_segment_does_not_move_the_state() {
        struct Refuse;
        impl SegmentCheck for Refuse {
            fn check(&mut self, _: &TcpTrack, _: Direction, s: &Segment) -> bool {
                s.flags & RST == 0
            }
        }
        let mut t = TcpTrack::default();
        t.segment(S, &seg(SYN, 1, 0, 0), &mut Refuse);
        assert!(!t.segment(C, &seg(RST | ACK, 0, 2, 0), &mut Refuse));
        assert_eq!(t.state, TcpState::SynSent);
        assert_eq!(t.peer(C).flags, RST | ACK, "flags are still recorded");
    }

    #[test]
    fn reuse_rules_follow_suricata() {
        let mut t = TcpTrack::default();
        assert!(!t.reuse_by_syn(S, 1), "no session: the SYN is the flow's");
        assert!(
            t.reuse_by_syn(C, 1),
            "no session: a SYN the other way starts anew"
        );
        t.segment(S, &seg(SYN, 1, 0, 0), &mut AcceptAll);
        assert!(!t.reuse_by_syn(S, 1), "retransmitted SYN");
        assert!(!t.reuse_by_syn(S, 2), "SYN_SENT is not done");
        t.state = TcpState::TimeWait;
        assert!(!t.reuse_by_syn(S, 2), "TIME_WAIT sorts before LAST_ACK");
        for s in [
            TcpState::LastAck,
            TcpState::CloseWait,
            TcpState::Closing,
            TcpState::Closed,
        ] {
            t.state = s;
            assert!(t.reuse_by_syn(S, 2), "{s:?}");
        }
        assert!(TcpTrack::is_stream_starter(SYN | ECE | CWR));
        assert!(!TcpTrack::is_stream_starter(SYN | ACK));
        assert!(!TcpTrack::is_stream_starter(SYN | FIN));
    }

    #[test]
    fn the_established_shortcut_is_the_general_rule() {
        // Every state, session or not, every flag byte, both directions, with and without a
        // FIN recorded: `segment` (shortcut included) leaves what `segment_general` leaves.
        use TcpState::*;
        struct RefuseOdd;
        impl SegmentCheck for RefuseOdd {
            fn check(&mut self, _: &TcpTrack, _: Direction, s: &Segment) -> bool {
                s.seq.is_multiple_of(2)
            }
        }
        let mut seen_fast = 0;
        for state in [
            None,
            SynSent,
            SynRecv,
            Established,
            FinWait1,
            FinWait2,
            TimeWait,
            LastAck,
            CloseWait,
            Closing,
            Closed,
        ] {
            for session in [false, true] {
                for fin_end in [Option::None, Some(50)] {
                    let mut t = TcpTrack {
                        session,
                        state,
                        ..TcpTrack::default()
                    };
                    t.peers[0] = TcpPeer {
                        isn: 1,
                        next_seq: 40,
                        seen: true,
                        fin_end,
                        ..TcpPeer::default()
                    };
                    t.peers[1].next_seq = 60;
                    for f in 0..=255u8 {
                        for d in [S, C] {
                            for seq in [40u32, 41] {
                                let s = seg(f, seq, 50, 3);
                                let (mut a, mut b) = (t, t);
                                let ra = a.segment(d, &s, &mut RefuseOdd);
                                let rb = b.segment_general(d, s, &mut RefuseOdd);
                                assert_eq!((ra, a), (rb, b), "{state:?} {f:#x} {d:?}");
                                seen_fast += usize::from(
                                    session && state == Established && f & (SYN | FIN | RST) == 0,
                                );
                            }
                        }
                    }
                }
            }
        }
        assert!(seen_fast > 0);
    }

    #[test]
    fn window_scale_is_read_from_syn_options() {
        // TCP header with options: MSS, NOP, WS=7, then end.
        let mut h = vec![0u8; 28];
        h[12] = 7 << 4;
        h[13] = SYN;
        h[20..28].copy_from_slice(&[2, 4, 5, 0xb4, 1, 3, 3, 7]);
        let s = Segment::read(&h, 0, 0).unwrap();
        assert_eq!(s.wscale, Some(7));
        // A bad option length stops the walk without a panic.
        h[21] = 0;
        assert_eq!(Segment::read(&h, 0, 0).unwrap().wscale, None);
        assert_eq!(Segment::read(&h[..19], 0, 0), None);
    }
}
