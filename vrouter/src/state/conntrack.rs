//! Connection tracking: sessions keyed by their 5-tuple in both directions, with the NAT
//! translation each session applies. One design for the router's NAT and, later, the
//! security groups' state: a session belongs to a zone (a router, or a port).
//!
//! A session stores its original key and its reply key. When NAT applies, the reply key is
//! the reverse of the *translated* original, so a packet matching either key is rewritten
//! to the tuple the other key implies. The table is bounded and preallocated; a new
//! session beyond its capacity is refused and counted. Expiry runs incrementally from the
//! worker's timer.

use super::Millis;
use core::hash::{Hash, Hasher};
use hashbrown::HashMap;

/// A connection's identity in one direction. For ICMP echo, both ports are the echo id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FlowKey {
    /// The zone the connection belongs to (router or port).
    pub zone: u16,
    /// IP protocol.
    pub proto: u8,
    /// Source address (host byte order).
    pub src: u32,
    /// Destination address (host byte order).
    pub dst: u32,
    /// Source port (or echo id).
    pub sport: u16,
    /// Destination port (or echo id).
    pub dport: u16,
}

/// True for a combination of TCP flags a conforming stack sends (the table of Linux's
/// `tcp_valid_flags`); anything else is INVALID.
pub fn tcp_flags_valid(flags: u8) -> bool {
    use tcp_flags::*;
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

impl Hash for FlowKey {
    /// All fields packed into one integer: one write, one multiply in the table's hasher
    /// (the packing is injective, so equal hashes of unequal keys stay the hasher's doing).
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        let ports = u128::from(self.sport) << 16 | u128::from(self.dport);
        let addrs = u128::from(self.src) << 32 | u128::from(self.dst);
        let zone = u128::from(self.zone) << 8 | u128::from(self.proto);
        state.write_u128(zone << 96 | addrs << 32 | ports);
    }
}

impl FlowKey {
    /// The same connection seen from the other end.
    #[inline]
    pub fn reverse(&self) -> FlowKey {
        FlowKey {
            zone: self.zone,
            proto: self.proto,
            src: self.dst,
            dst: self.src,
            sport: self.dport,
            dport: self.sport,
        }
    }
}

/// Which way a packet goes relative to the packet that created its session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// Same direction as the first packet.
    Orig,
    /// The answering direction.
    Reply,
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
    /// Handshake completed.
    Established,
    /// A FIN seen.
    Closing,
    /// RST seen.
    Closed,
}

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

/// TCP sequence tracking of one direction (after Linux `nf_conntrack_proto_tcp`'s
/// `tcp_in_window`, the "Real Stateful TCP Packet Filtering" of Rooij).
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

/// What [`Session::tcp_in_window`] needs of a TCP segment.
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

/// True if `a` comes before `b` in sequence space (RFC 9293 §3.4, modulo 2^32).
#[inline]
fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// One tracked connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Session {
    /// Key of the original direction, as the first packet arrived.
    pub orig: FlowKey,
    /// Key of the reply direction, as replies arrive (after NAT of the original).
    pub reply: FlowKey,
    /// TCP state.
    pub tcp: TcpState,
    /// True once a packet went in the reply direction.
    pub replied: bool,
    /// When it was created.
    pub created: Millis,
    /// When a packet last matched it.
    pub last_seen: Millis,
    /// Packets in the original and reply directions.
    pub packets: [u64; 2],
    /// Bytes in the original and reply directions.
    pub bytes: [u64; 2],
    /// A tag of the zone's owner (the ACL stage: which way the first packet went).
    pub mark: u8,
    /// TCP sequence tracking per direction (filled only where validity is checked).
    pub window: [TcpWindow; 2],
}

impl Session {
    /// Checks a TCP segment in direction `dir` against the windows seen so far and
    /// updates them; false means the segment is out of window (conntrack's INVALID).
    pub fn tcp_in_window(&mut self, dir: Dir, s: &Segment) -> bool {
        use tcp_flags::*;
        let (si, ri) = (dir as usize, 1 - dir as usize);
        let mut end = s.seq.wrapping_add(s.len);
        if s.flags & SYN != 0 {
            end = end.wrapping_add(1);
        }
        if s.flags & FIN != 0 {
            end = end.wrapping_add(1);
        }
        if self.window[si].maxwin == 0 {
            if s.flags & SYN == 0 {
                return false;
            }
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
        }
        let win = if s.flags & SYN != 0 {
            u32::from(s.win)
        } else {
            u32::from(s.win) << self.window[si].scale
        };
        let (snd, rcv) = (self.window[si], self.window[ri]);
        let ack = if s.flags & ACK != 0 { s.ack } else { rcv.end };
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

    /// True if the session rewrites addresses or ports.
    pub fn is_nat(&self) -> bool {
        self.reply != self.orig.reverse()
    }

    /// How long the session lives without traffic (Linux nf_conntrack defaults, shortened
    /// for established TCP to one day).
    pub fn timeout(&self) -> Millis {
        const S: Millis = 1000;
        match (self.orig.proto, self.tcp) {
            (6, TcpState::SynSent | TcpState::SynRecv) => 120 * S,
            (6, TcpState::Established) => 86_400 * S,
            (6, TcpState::Closing) => 120 * S,
            (6, _) => 10 * S,
            (17, _) if self.replied => 180 * S,
            (17, _) => 30 * S,
            (1, _) => 30 * S,
            _ => 600 * S,
        }
    }

    /// Counts a packet of `bytes` in direction `dir` at `now` and advances the TCP state
    /// with its `flags`.
    #[inline]
    pub fn touch(&mut self, dir: Dir, bytes: usize, flags: u8, now: Millis) {
        let d = dir as usize;
        self.packets[d] += 1;
        self.bytes[d] += bytes as u64;
        self.last_seen = now;
        if dir == Dir::Reply {
            self.replied = true;
        }
        if self.orig.proto != 6 {
            return;
        }
        use tcp_flags::*;
        self.tcp = match (self.tcp, dir) {
            (_, _) if flags & RST != 0 => TcpState::Closed,
            (_, _) if flags & FIN != 0 => TcpState::Closing,
            (TcpState::SynSent, Dir::Reply) if flags & (SYN | ACK) == SYN | ACK => {
                TcpState::SynRecv
            }
            (TcpState::SynRecv, Dir::Orig) if flags & ACK != 0 => TcpState::Established,
            (s, _) => s,
        };
    }
}

/// Why a session could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtError {
    /// The table is at capacity.
    Full,
    /// One of the two keys is taken by another session.
    Collision,
}

/// Counters of the table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConntrackStats {
    /// Sessions created.
    pub created: u64,
    /// Sessions removed by timeout.
    pub expired: u64,
    /// Sessions removed on request (rule deleted, flush).
    pub removed: u64,
    /// New sessions refused because the table was full.
    pub full: u64,
}

crate::merge_fields!(ConntrackStats {
    created,
    expired,
    removed,
    full
});

/// The sessions of one worker.
#[derive(Debug)]
pub struct Conntrack {
    map: HashMap<FlowKey, u32>,
    sessions: Vec<Option<Session>>,
    free: Vec<u32>,
    capacity: usize,
    cursor: usize,
    /// Counters.
    pub stats: ConntrackStats,
}

/// Slot value in the key map: session index shifted left, direction in bit 0.
#[inline]
fn slot(idx: u32, dir: Dir) -> u32 {
    (idx << 1) | (dir == Dir::Reply) as u32
}

impl Conntrack {
    /// An empty table for `capacity` sessions; the key map is allocated up front.
    pub fn new(capacity: usize) -> Self {
        Conntrack {
            map: HashMap::with_capacity(capacity * 2),
            sessions: Vec::new(),
            free: Vec::new(),
            capacity,
            cursor: 0,
            stats: ConntrackStats::default(),
        }
    }

    /// Number of live sessions.
    pub fn len(&self) -> usize {
        self.sessions.len() - self.free.len()
    }

    /// True if no session is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Changes the capacity; live sessions beyond it stay until they expire.
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
    }

    /// The session `key` belongs to, and the direction it matches.
    #[inline]
    pub fn lookup(&self, key: &FlowKey) -> Option<(u32, Dir)> {
        self.map.get(key).map(|&s| {
            let dir = if s & 1 == 1 { Dir::Reply } else { Dir::Orig };
            (s >> 1, dir)
        })
    }

    /// True if `key` is in use by any session, in either direction.
    #[inline]
    pub fn contains(&self, key: &FlowKey) -> bool {
        self.map.contains_key(key)
    }

    /// The session at `idx`.
    #[inline]
    pub fn get(&self, idx: u32) -> Option<&Session> {
        self.sessions.get(idx as usize).and_then(Option::as_ref)
    }

    /// The session at `idx`, to update.
    #[inline]
    pub fn get_mut(&mut self, idx: u32) -> Option<&mut Session> {
        self.sessions.get_mut(idx as usize).and_then(Option::as_mut)
    }

    /// Creates a session for a first packet `orig` that leaves translated as `translated`
    /// (equal to `orig` when no NAT applies).
    pub fn create(
        &mut self,
        orig: FlowKey,
        translated: FlowKey,
        now: Millis,
    ) -> Result<u32, CtError> {
        if self.len() >= self.capacity {
            self.stats.full += 1;
            return Err(CtError::Full);
        }
        let reply = translated.reverse();
        if self.map.contains_key(&orig) || self.map.contains_key(&reply) {
            return Err(CtError::Collision);
        }
        let s = Session {
            orig,
            reply,
            tcp: if orig.proto == 6 {
                TcpState::SynSent
            } else {
                TcpState::None
            },
            replied: false,
            created: now,
            last_seen: now,
            packets: [0; 2],
            bytes: [0; 2],
            mark: 0,
            window: [TcpWindow::default(); 2],
        };
        let idx = match self.free.pop() {
            Some(i) => {
                self.sessions[i as usize] = Some(s);
                i
            }
            None => {
                self.sessions.push(Some(s));
                (self.sessions.len() - 1) as u32
            }
        };
        self.map.insert(orig, slot(idx, Dir::Orig));
        self.map.insert(reply, slot(idx, Dir::Reply));
        self.stats.created += 1;
        Ok(idx)
    }

    /// Removes session `idx`.
    pub fn remove(&mut self, idx: u32) -> Option<Session> {
        let s = self.sessions.get_mut(idx as usize)?.take()?;
        self.map.remove(&s.orig);
        self.map.remove(&s.reply);
        self.free.push(idx);
        self.stats.removed += 1;
        Some(s)
    }

    /// Looks at up to `budget` slots from where the last call stopped and removes the
    /// sessions that timed out; returns how many.
    pub fn expire(&mut self, now: Millis, budget: usize) -> usize {
        let n = self.sessions.len();
        if n == 0 {
            return 0;
        }
        let mut gone = 0;
        for _ in 0..budget.min(n) {
            self.cursor = (self.cursor + 1) % n;
            let i = self.cursor;
            let dead = self.sessions[i]
                .as_ref()
                .is_some_and(|s| now.saturating_sub(s.last_seen) >= s.timeout());
            if dead {
                if let Some(s) = self.sessions[i].take() {
                    self.map.remove(&s.orig);
                    self.map.remove(&s.reply);
                    self.free.push(i as u32);
                    gone += 1;
                }
            }
        }
        self.stats.expired += gone as u64;
        gone
    }

    /// Every live session with its index.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &Session)> {
        self.sessions
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((i as u32, s.as_ref()?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(src: u32, sport: u16, dst: u32, dport: u16) -> FlowKey {
        FlowKey {
            zone: 0,
            proto: 17,
            src,
            dst,
            sport,
            dport,
        }
    }

    #[test]
    fn both_directions_find_the_session() {
        let mut ct = Conntrack::new(4);
        let o = key(10, 1000, 99, 53);
        let t = key(80, 2000, 99, 53);
        let i = ct.create(o, t, 0).unwrap();
        assert_eq!(ct.lookup(&o), Some((i, Dir::Orig)));
        assert_eq!(ct.lookup(&key(99, 53, 80, 2000)), Some((i, Dir::Reply)));
        assert!(ct.get_mut(i).unwrap().is_nat());
        assert_eq!(ct.create(key(11, 1, 99, 53), t, 0), Err(CtError::Collision));
        assert_eq!(ct.len(), 1);
    }

    #[test]
    fn capacity_is_enforced_and_counted() {
        let mut ct = Conntrack::new(1);
        ct.create(key(1, 1, 2, 2), key(1, 1, 2, 2), 0).unwrap();
        assert_eq!(
            ct.create(key(3, 3, 4, 4), key(3, 3, 4, 4), 0),
            Err(CtError::Full)
        );
        assert_eq!(ct.stats.full, 1);
    }

    #[test]
    fn expiry_is_incremental_and_frees_slots() {
        let mut ct = Conntrack::new(8);
        for i in 0..4 {
            ct.create(key(i, 1, 9, 9), key(i, 1, 9, 9), 0).unwrap();
        }
        assert_eq!(ct.expire(29_999, 8), 0);
        assert_eq!(ct.expire(30_000, 2), 2, "budget bounds the work");
        assert_eq!(ct.expire(30_000, 8), 2);
        assert!(ct.is_empty());
        let i = ct.create(key(7, 1, 9, 9), key(7, 1, 9, 9), 0).unwrap();
        assert!(i < 4, "a freed slot is reused");
    }

    fn seg(seq: u32, ack: u32, len: u32, flags: u8) -> Segment {
        Segment {
            seq,
            ack,
            win: 65535,
            len,
            flags,
            wscale: None,
        }
    }

    #[test]
    fn tcp_window_accepts_a_conversation_and_rejects_far_segments() {
        use tcp_flags::*;
        let mut ct = Conntrack::new(2);
        let mut o = key(1, 1000, 2, 22);
        o.proto = 6;
        let i = ct.create(o, o, 0).unwrap();
        let s = ct.get_mut(i).unwrap();
        assert!(s.tcp_in_window(Dir::Orig, &seg(100, 0, 0, SYN)));
        assert!(s.tcp_in_window(Dir::Reply, &seg(5000, 101, 0, SYN | ACK)));
        assert!(s.tcp_in_window(Dir::Orig, &seg(101, 5001, 0, ACK)));
        assert!(s.tcp_in_window(Dir::Orig, &seg(101, 5001, 500, ACK)));
        assert!(s.tcp_in_window(Dir::Reply, &seg(5001, 601, 100, ACK)));
        // Data far beyond what the receiver allowed, and an ack of unsent data.
        assert!(!s.tcp_in_window(Dir::Orig, &seg(601 + 200_000, 5101, 10, ACK)));
        assert!(!s.tcp_in_window(Dir::Orig, &seg(601, 900_000, 0, ACK)));
        // A retransmission within the window is fine.
        assert!(s.tcp_in_window(Dir::Orig, &seg(101, 5101, 500, ACK)));
    }

    #[test]
    fn tcp_window_needs_a_syn_to_start() {
        let mut ct = Conntrack::new(2);
        let mut o = key(1, 1000, 2, 22);
        o.proto = 6;
        let i = ct.create(o, o, 0).unwrap();
        let s = ct.get_mut(i).unwrap();
        assert!(!s.tcp_in_window(Dir::Orig, &seg(100, 0, 0, tcp_flags::ACK)));
    }

    #[test]
    fn tcp_handshake_and_close_drive_timeouts() {
        let mut ct = Conntrack::new(2);
        let mut o = key(1, 1000, 2, 22);
        o.proto = 6;
        let i = ct.create(o, o, 0).unwrap();
        let s = ct.get_mut(i).unwrap();
        assert_eq!(s.timeout(), 120_000);
        s.touch(Dir::Reply, 60, tcp_flags::SYN | tcp_flags::ACK, 1);
        s.touch(Dir::Orig, 60, tcp_flags::ACK, 2);
        assert_eq!(s.tcp, TcpState::Established);
        s.touch(Dir::Orig, 60, tcp_flags::RST, 3);
        assert_eq!((s.tcp, s.timeout()), (TcpState::Closed, 10_000));
        assert_eq!(s.packets, [2, 1]);
    }
}
