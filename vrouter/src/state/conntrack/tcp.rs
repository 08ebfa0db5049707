//! TCP as connection tracking follows it (after Linux `nf_conntrack_proto_tcp`): the flag
//! combinations a conforming stack sends, the states a connection goes through and their
//! timeouts, and sequence/window tracking per direction (`tcp_in_window`, the "Real
//! Stateful TCP Packet Filtering" of Rooij).
//!
//! Linux behaviours kept: an RST or RST/ACK in window (also the first answer to a SYN) is
//! valid and closes the session; a SYN in the original direction reopens a session in
//! CLOSE or TIME_WAIT, and in the other states passes as "ignored" until the SYN/ACK that
//! answers it shows both ends moved to a new connection; a session picked up from a
//! mid-stream packet (`nf_conntrack_tcp_loose=1`) is "be liberal": no window checks.

use super::{Dir, Session};
use crate::state::Millis;

/// TCP flag bits (RFC 9293 §3.1).
pub mod tcp_flags {
    /// URG.
    pub const URG: u8 = 0x20;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

use tcp_flags::*;

/// True for a combination of TCP flags a conforming stack sends (the table of Linux's
/// `tcp_valid_flags`); anything else is INVALID.
pub fn tcp_flags_valid(flags: u8) -> bool {
    let f = flags & (FIN | SYN | RST | PSH | ACK | URG);
    matches!(
        f,
        x if x == SYN
            || x == SYN | URG
            || x == SYN | ACK
            || x == RST
            || x == RST | ACK
            || x == RST | ACK | PSH
            || x == FIN | ACK
            || x == FIN | ACK | URG
            || x == ACK
            || x == ACK | URG
            || x == FIN | ACK | PSH
            || x == FIN | ACK | PSH | URG
            || x == ACK | PSH
            || x == ACK | PSH | URG
    )
}

/// True if a packet with `flags` may start a TCP session: a bare SYN, or (Linux
/// `nf_conntrack_tcp_loose=1`) a mid-stream ACK without SYN, FIN or RST. An RST or a FIN
/// never creates one (Linux: `tcp_new` finds them INVALID in state NONE).
pub fn tcp_may_start(flags: u8) -> bool {
    let f = flags & (SYN | ACK | RST | FIN);
    f == SYN || f == ACK
}

/// The TCP state of a session, as far as timeouts and validity need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpState {
    /// Not TCP.
    None,
    /// SYN seen from the originator.
    SynSent,
    /// SYN+ACK seen from the responder.
    SynRecv,
    /// Handshake completed (or picked up mid-stream).
    Established,
    /// A FIN seen in one direction (Linux FIN_WAIT / CLOSE_WAIT / LAST_ACK).
    FinWait,
    /// FINs seen in both directions (Linux TIME_WAIT).
    TimeWait,
    /// RST seen (Linux CLOSE).
    Closed,
}

impl TcpState {
    /// The state a session starts in from its first packet's `flags`.
    pub fn first(flags: u8) -> TcpState {
        if flags & RST != 0 {
            TcpState::Closed
        } else if flags & SYN != 0 {
            TcpState::SynSent
        } else if flags & FIN != 0 {
            TcpState::FinWait
        } else {
            TcpState::Established
        }
    }

    /// How long a session in this state lives without traffic (Linux nf_conntrack
    /// defaults, established shortened to one day).
    pub fn timeout(self) -> Millis {
        const S: Millis = 1000;
        match self {
            TcpState::SynSent => 120 * S,
            TcpState::SynRecv => 60 * S,
            TcpState::Established => 86_400 * S,
            TcpState::FinWait | TcpState::TimeWait => 120 * S,
            TcpState::None | TcpState::Closed => 10 * S,
        }
    }
}

/// TCP sequence tracking of one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpWindow {
    /// Highest sequence number sent plus length (td_end).
    pub end: u32,
    /// Highest sequence number the other side allowed (ack + window, td_maxend).
    pub maxend: u32,
    /// Largest window advertised (td_maxwin); 0 until the direction is seen.
    pub maxwin: u32,
    /// Window scale shift of this direction's advertisements (RFC 7323 §2).
    pub scale: u8,
    /// Window scale offered in this direction's SYN, if any.
    pub offered_scale: Option<u8>,
}

/// What window tracking needs of a TCP segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (meaningful with ACK).
    pub ack: u32,
    /// Raw window field.
    pub win: u16,
    /// Payload length.
    pub len: u32,
    /// Flags.
    pub flags: u8,
    /// Window scale option, on a SYN.
    pub wscale: Option<u8>,
}

/// What a TCP segment of a known session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpVerdict {
    /// Valid: it passes and updates the session.
    Valid,
    /// INVALID: bad flags or out of window; the session is unchanged.
    Invalid,
    /// A SYN that opens a new connection on the 4-tuple of a closed one: the old session
    /// ends, the packet is a NEW connection.
    Reopen,
}

/// True if `a` comes before `b` in sequence space (RFC 9293 §3.4, modulo 2^32).
#[inline]
fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

impl Session {
    /// Checks a TCP segment of this session in direction `dir` and updates its windows:
    /// conntrack's decision before the state moves (the caller then counts the packet with
    /// [`super::Conntrack::seen`]).
    pub fn tcp_check(&mut self, dir: Dir, s: &Segment) -> TcpVerdict {
        if !tcp_flags_valid(s.flags) {
            return TcpVerdict::Invalid;
        }
        let syn = s.flags & (SYN | ACK) == SYN;
        let syn_ack = s.flags & (SYN | ACK) == SYN | ACK;
        if syn && dir == Dir::Orig {
            match self.tcp {
                // RFC 9293 §3.10.7.4 / Linux: a closed 4-tuple may carry a new connection.
                TcpState::TimeWait | TcpState::Closed => return TcpVerdict::Reopen,
                // A SYN again (retransmitted, or a new initial sequence number).
                TcpState::SynSent => self.window[0] = TcpWindow::default(),
                // Linux "ignores" it: it passes unchecked, and the SYN/ACK answering it,
                // if any, resynchronises the session to the new connection.
                _ => {
                    self.ignored_syn = Some(*s);
                    return TcpVerdict::Valid;
                }
            }
        }
        if syn_ack && dir == Dir::Reply {
            if let Some(first) = self.ignored_syn.filter(|f| s.ack == f.seq.wrapping_add(1)) {
                self.restart_tcp();
                self.tcp_in_window(Dir::Orig, &first);
            }
        }
        let rst_ack = s.flags & (RST | ACK) == RST | ACK;
        if rst_ack && self.tcp == TcpState::SynSent && dir == Dir::Reply {
            // The answer to a SYN from a closed port (RFC 9293 §3.5.2): an RST/ACK that
            // acknowledges exactly the SYN.
            return if s.ack == self.window[0].end {
                TcpVerdict::Valid
            } else {
                TcpVerdict::Invalid
            };
        }
        if self.tcp_in_window(dir, s) {
            TcpVerdict::Valid
        } else {
            TcpVerdict::Invalid
        }
    }

    /// Starts the TCP tracking of this session again, as for a new connection on the same
    /// tuple (fresh windows, no reply yet).
    pub fn restart_tcp(&mut self) {
        self.tcp = TcpState::SynSent;
        self.window = [TcpWindow::default(); 2];
        self.replied = false;
        self.assured = false;
        self.liberal = false;
        self.fin = 0;
        self.ignored_syn = None;
    }

    /// Checks a TCP segment in direction `dir` against the windows seen so far and
    /// updates them; false means the segment is out of window (conntrack's INVALID). A
    /// session picked up mid-stream accepts everything ("be liberal").
    pub fn tcp_in_window(&mut self, dir: Dir, s: &Segment) -> bool {
        if self.liberal {
            return true;
        }
        let (si, ri) = (dir as usize, 1 - dir as usize);
        let mut end = s.seq.wrapping_add(s.len);
        if s.flags & SYN != 0 {
            end = end.wrapping_add(1);
        }
        if s.flags & FIN != 0 {
            end = end.wrapping_add(1);
        }
        let ack_of = |s: &Segment, other_end: u32| {
            if s.flags & ACK != 0 {
                s.ack
            } else {
                other_end
            }
        };
        if self.window[si].maxwin == 0 {
            if s.flags & SYN != 0 {
                let w = &mut self.window[si];
                w.end = end;
                w.maxend = end;
                w.maxwin = u32::from(s.win).max(1);
                w.offered_scale = s.wscale;
                // RFC 7323 §2.2: scaling is in effect only if both SYNs carried the option.
                if let (Some(a), Some(b)) = (w.offered_scale, self.window[ri].offered_scale) {
                    self.window[si].scale = a.min(14);
                    self.window[ri].scale = b.min(14);
                }
            } else {
                // The first packet of this direction is not a SYN (an RST answering the
                // other side's SYN, or history lost): start from what the packet says.
                let ack = ack_of(s, self.window[ri].end);
                let w = &mut self.window[si];
                w.end = end;
                w.maxwin = (u32::from(s.win) << w.scale).max(1);
                w.maxend = end.wrapping_add(w.maxwin);
                let r = &mut self.window[ri];
                if r.maxwin == 0 {
                    r.end = ack;
                    r.maxend = ack;
                } else if ack == r.end.wrapping_add(1) {
                    r.end = ack;
                }
            }
        }
        let win = if s.flags & SYN != 0 {
            u32::from(s.win)
        } else {
            u32::from(s.win) << self.window[si].scale
        };
        let (snd, rcv) = (self.window[si], self.window[ri]);
        let ack = ack_of(s, rcv.end);
        let max_ack_window = snd.maxwin.max(66_000);
        let ok = !before(snd.maxend, s.seq)
            && !before(end, snd.end.wrapping_sub(rcv.maxwin))
            && !before(rcv.end, ack)
            && !before(ack, rcv.end.wrapping_sub(max_ack_window));
        if !ok {
            return false;
        }
        let w = &mut self.window[si];
        w.maxwin = w.maxwin.max(win);
        if before(w.end, end) {
            w.end = end;
        }
        if s.flags & ACK != 0 {
            let r = &mut self.window[ri];
            if before(r.maxend, ack.wrapping_add(win)) {
                r.maxend = ack.wrapping_add(win);
            }
        }
        // The first window of a direction bounds the other's data until it advertises.
        if rcv.maxwin == 0 {
            self.window[si].maxend = end.wrapping_add(win.max(1));
        }
        true
    }

    /// Moves the TCP state on a valid packet with `flags` in direction `dir`; `first` for
    /// the packet that created the session.
    pub(super) fn tcp_advance(&mut self, dir: Dir, flags: u8, first: bool) {
        if first {
            self.tcp = TcpState::first(flags);
            // Linux nf_conntrack_tcp_loose: history lost, no window checks.
            self.liberal = flags & SYN == 0;
            return;
        }
        let bit = 1 << dir as u8;
        self.tcp = match (self.tcp, dir) {
            (_, _) if flags & RST != 0 => TcpState::Closed,
            // A new connection on a closed tuple (where no window tracking decided it).
            (TcpState::TimeWait | TcpState::Closed, Dir::Orig) if flags & (SYN | ACK) == SYN => {
                self.restart_tcp();
                TcpState::SynSent
            }
            (TcpState::SynSent, Dir::Reply) if flags & (SYN | ACK) == SYN | ACK => {
                TcpState::SynRecv
            }
            (s, _) if flags & FIN != 0 && s != TcpState::Closed => {
                self.fin |= bit;
                if self.fin == 0b11 {
                    TcpState::TimeWait
                } else {
                    TcpState::FinWait
                }
            }
            (TcpState::SynRecv, Dir::Orig) if flags & (SYN | ACK) == ACK => TcpState::Established,
            (s, _) => s,
        };
        if self.replied
            && matches!(
                self.tcp,
                TcpState::Established | TcpState::FinWait | TcpState::TimeWait
            )
        {
            self.assured = true;
        }
    }
}
