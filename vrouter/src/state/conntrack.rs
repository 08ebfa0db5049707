//! Connection tracking: sessions keyed by their 5-tuple in both directions, with the NAT
//! translation each session applies. One design for the router's NAT and the security
//! groups' state: a session belongs to a zone (a router, or a port).
//!
//! A session stores its original key and its reply key. When NAT applies, the reply key is
//! the reverse of the *translated* original, so a packet matching either key is rewritten
//! to the tuple the other key implies. The table is bounded and preallocated. As Linux
//! does under pressure: sessions not yet assured (no answer, or a TCP handshake not
//! completed: what a flood leaves) sit in a list per zone, oldest first; one zone holds a
//! limited share of the table (as conntrack zone limits do) and a zone at its limit drops
//! its own oldest such session for a new one, a full table the oldest of the zone holding
//! most of them (`early_drop`); a session whose first packet was dropped further on is
//! removed again. What is refused is counted. Expiry runs incrementally from the worker's
//! timer. TCP tracking is in [`tcp`].

mod checksum_delta;
mod key_index;
mod tcp;

pub use checksum_delta::ChecksumDelta;

pub use tcp::{
    tcp_flags, tcp_flags_valid, tcp_may_start, Segment, TcpState, TcpVerdict, TcpWindow,
};

use super::huge_pages::HugePages;
use super::prefetch::prefetch;
use super::Millis;
use core::hash::{Hash, Hasher};
use hashbrown::HashMap;
use key_index::{KeyHash, KeyIndex};

/// A connection's identity in one direction. For ICMP echo, both ports are the echo id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
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

/// One tracked connection, laid out by use: its first cache line is what an established
/// packet's lookup and cached egress read (keys, egress, checksum deltas), the second what
/// it updates (counters, time, TCP state), the third what only TCP tracking reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, align(64))]
pub struct Session {
    /// Key of the original direction, as the first packet arrived.
    pub orig: FlowKey,
    /// Key of the reply direction, as replies arrive (after NAT of the original).
    pub reply: FlowKey,
    /// The resolved egress of a router session per direction (see [`super::adjacency`]).
    pub egress: [super::adjacency::Link; 2],
    /// What rewriting a packet of each direction adds to its checksums.
    pub delta: [ChecksumDelta; 2],
    /// When a packet last matched it.
    pub last_seen: Millis,
    /// Packets in the original and reply directions.
    pub packets: [u64; 2],
    /// Bytes in the original and reply directions.
    pub bytes: [u64; 2],
    /// When it was created.
    pub created: Millis,
    /// Its number among the sessions the table created: tells apart the sessions a slot
    /// held over time.
    pub serial: u32,
    /// TCP state.
    pub tcp: TcpState,
    /// True once a packet went in the reply direction.
    pub replied: bool,
    /// True once the connection proved two-way (Linux ASSURED: a reply, and for TCP a
    /// completed handshake); only sessions that are not may be dropped early.
    pub assured: bool,
    /// TCP picked up mid-stream: no window checks (Linux "be liberal").
    pub liberal: bool,
    /// Directions a FIN was seen in (bit per [`Dir`]).
    pub fin: u8,
    /// A tag of the zone's owner (the ACL stage: which way the first packet went).
    pub mark: u8,
    /// TCP sequence tracking per direction (filled only where validity is checked).
    pub window: [TcpWindow; 2],
    /// A SYN that passed while the session was open, until its SYN/ACK resynchronises it.
    pub ignored_syn: Option<Segment>,
}

/// The bytes of a session an established packet reads or updates (its first two lines).
const SESSION_HOT: usize = 128;

// The hot fields fill the first two lines; a session takes three lines, and an empty slot
// no more (its `None` lives in a niche).
const _: () = assert!(core::mem::offset_of!(Session, delta) + 16 == 64);
const _: () = assert!(core::mem::offset_of!(Session, mark) < SESSION_HOT);
const _: () = assert!(core::mem::size_of::<Option<Session>>() == 192);

impl Session {
    /// True if the session rewrites addresses or ports.
    pub fn is_nat(&self) -> bool {
        self.reply != self.orig.reverse()
    }

    /// The tuple a packet of direction `dir` leaves with: the reverse of the other
    /// direction's key.
    #[inline]
    pub fn translated(&self, dir: Dir) -> FlowKey {
        match dir {
            Dir::Orig => self.reply.reverse(),
            Dir::Reply => self.orig.reverse(),
        }
    }

    /// How long the session lives without traffic (Linux nf_conntrack defaults, shortened
    /// for established TCP to one day).
    pub fn timeout(&self) -> Millis {
        const S: Millis = 1000;
        match self.orig.proto {
            6 => self.tcp.timeout(),
            17 if self.replied => 180 * S,
            17 => 30 * S,
            1 => 30 * S,
            _ => 600 * S,
        }
    }

    /// Counts a packet of `bytes` in direction `dir` at `now` and advances the TCP state
    /// with its `flags` (the first packet of the session decides where TCP starts).
    #[inline]
    pub fn touch(&mut self, dir: Dir, bytes: usize, flags: u8, now: Millis) {
        let d = dir as usize;
        let first = self.packets == [0, 0];
        self.packets[d] += 1;
        self.bytes[d] += bytes as u64;
        self.last_seen = now;
        if dir == Dir::Reply {
            self.replied = true;
        }
        if self.orig.proto == 6 {
            self.tcp_advance(dir, flags, first);
        } else if self.replied {
            self.assured = true;
        }
    }
}

/// A session by slot and serial number: what a frame remembers of the sessions it made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionId {
    /// Its slot.
    pub idx: u32,
    /// Its [`Session::serial`].
    pub serial: u32,
}

/// Why a session could not be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtError {
    /// The table is at capacity and holds no session that may be dropped early.
    Full,
    /// The zone holds as many sessions as one zone may.
    ZoneFull,
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
    /// Sessions removed before their time: rule deleted, flush, an RST as the only answer.
    pub removed: u64,
    /// New sessions refused because the table was full.
    pub full: u64,
    /// New sessions refused because their zone was at its limit.
    pub zone_full: u64,
    /// Sessions never assured that were dropped to make room for a new one (Linux
    /// `early_drop`).
    pub early_dropped: u64,
    /// Sessions removed again because the packet that created them was dropped further on.
    pub undone: u64,
    /// TCP sessions started again by a SYN on the tuple of a closed connection.
    pub reopened: u64,
    /// TCP sessions picked up from a mid-stream packet.
    pub picked_up: u64,
}

crate::merge_fields!(ConntrackStats {
    created,
    expired,
    removed,
    full,
    zone_full,
    early_dropped,
    undone,
    reopened,
    picked_up,
});

/// Keys (two per session) above which the key index and the sessions outgrow the L2 cache
/// (about 200 bytes a session with its keys) and lookups are warmed a vector ahead.
const WARM_KEYS: usize = 16_384;
/// Keys [`Conntrack::warm`] warms at once.
pub const WARM_MAX: usize = 32;
/// No session (end of a list).
const NIL: u32 = u32::MAX;
/// Sessions at most created for one packet (a security group, a router, another port).
const FRESH_MAX: usize = 4;
/// A session's place in its zone's list of sessions not assured, oldest first.
#[derive(Clone, Copy, Debug)]
struct Link {
    prev: u32,
    next: u32,
    linked: bool,
}

const UNLINKED: Link = Link {
    prev: NIL,
    next: NIL,
    linked: false,
};

/// What the table keeps per zone: its live sessions and its early-drop list.
#[derive(Clone, Copy, Debug)]
struct Zone {
    live: u32,
    /// Sessions in the early-drop list (not assured).
    unassured: u32,
    head: u32,
    tail: u32,
}

const EMPTY_ZONE: Zone = Zone {
    live: 0,
    unassured: 0,
    head: NIL,
    tail: NIL,
};

/// The sessions of one worker.
#[derive(Debug)]
pub struct Conntrack {
    /// Both keys of every session (in huge pages, allocated for the capacity).
    index: KeyIndex,
    /// The sessions by slot (in huge pages, allocated for the capacity).
    sessions: allocator_api2::vec::Vec<Option<Session>, HugePages>,
    free: Vec<u32>,
    capacity: usize,
    zone_limit: usize,
    /// Per zone with live sessions: their count and the zone's early-drop list.
    zones: HashMap<u16, Zone>,
    /// Per slot: its place in its zone's early-drop list.
    links: allocator_api2::vec::Vec<Link, HugePages>,
    /// Sessions created for the packet being processed (see [`Conntrack::begin_packet`]).
    fresh: [u32; FRESH_MAX],
    fresh_len: usize,
    cursor: usize,
    /// Counters.
    pub stats: ConntrackStats,
}

/// Slot value in the key index: session index shifted left, direction in bit 0.
#[inline]
fn slot(idx: u32, dir: Dir) -> u32 {
    (idx << 1) | (dir == Dir::Reply) as u32
}

impl Conntrack {
    /// An empty table for `capacity` sessions, any zone may take them all.
    pub fn new(capacity: usize) -> Self {
        Self::with_limits(capacity, capacity)
    }

    /// An empty table for `capacity` sessions of which one zone holds `zone_limit` at
    /// most; the key index, the session slots and the free list are allocated up front, the
    /// large ones in huge pages ([`super::huge_pages`]).
    pub fn with_limits(capacity: usize, zone_limit: usize) -> Self {
        Conntrack {
            index: KeyIndex::with_keys(capacity * 2),
            sessions: allocator_api2::vec::Vec::with_capacity_in(
                capacity,
                HugePages::new("conntrack sessions"),
            ),
            free: Vec::with_capacity(capacity),
            capacity,
            zone_limit,
            zones: HashMap::with_capacity(256),
            links: allocator_api2::vec::Vec::with_capacity_in(
                capacity,
                HugePages::new("conntrack links"),
            ),
            fresh: [NIL; FRESH_MAX],
            fresh_len: 0,
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

    /// Live sessions of `zone`.
    pub fn zone_len(&self, zone: u16) -> usize {
        self.zones.get(&zone).map_or(0, |z| z.live as usize)
    }

    /// Changes the limits; live sessions beyond them stay until they expire. A larger
    /// capacity is allocated here, so that creating a session never grows a table.
    pub fn set_limits(&mut self, capacity: usize, zone_limit: usize) {
        if capacity > self.index_capacity() {
            self.reindex(capacity);
        }
        self.sessions
            .reserve(capacity.saturating_sub(self.sessions.len()));
        self.links
            .reserve(capacity.saturating_sub(self.links.len()));
        self.free.reserve(capacity.saturating_sub(self.free.len()));
        self.capacity = capacity;
        self.zone_limit = zone_limit;
    }

    /// The session `key` belongs to, and the direction it matches.
    #[inline(always)]
    pub fn lookup(&self, key: &FlowKey) -> Option<(u32, Dir)> {
        self.find(self.index.hash(key), key).map(|s| {
            let dir = if s & 1 == 1 { Dir::Reply } else { Dir::Orig };
            (s >> 1, dir)
        })
    }

    /// The slot value of `key`, whose hash is `h`.
    #[inline(always)]
    fn find(&self, h: KeyHash, key: &FlowKey) -> Option<u32> {
        self.index.find(h, |v| self.key_of(v) == Some(key))
    }

    /// The key a slot value stands for.
    #[inline(always)]
    fn key_of(&self, v: u32) -> Option<&FlowKey> {
        let s = self.get(v >> 1)?;
        Some(if v & 1 == 1 { &s.reply } else { &s.orig })
    }

    /// True if the table holds more sessions than the caches do, so that a vector's
    /// lookups are worth issuing ahead of its packets ([`Conntrack::warm`]).
    #[inline]
    pub fn exceeds_cache(&self) -> bool {
        self.index.len() > WARM_KEYS
    }

    /// Asks for the cache lines `keys`' lookups will read, ahead of the packets that need
    /// them: first every key's two buckets (from the hash alone, so their misses overlap),
    /// then the sessions those buckets name for them.
    #[inline]
    pub fn warm(&self, keys: &[FlowKey]) {
        let mut hashes = [KeyHash::default(); WARM_MAX];
        for (h, key) in hashes.iter_mut().zip(keys) {
            *h = self.index.hash(key);
            self.index.prefetch(*h);
        }
        for (&h, key) in hashes.iter().zip(keys) {
            // Only TCP tracking reads a session's third line (its windows).
            let len = if key.proto == 6 {
                core::mem::size_of::<Session>()
            } else {
                SESSION_HOT
            };
            self.index.candidates(h, |v| {
                if let Some(session) = self.sessions.get((v >> 1) as usize) {
                    prefetch(session, len);
                }
            });
        }
    }

    /// True if `key` is in use by any session, in either direction.
    #[inline]
    pub fn contains(&self, key: &FlowKey) -> bool {
        self.lookup(key).is_some()
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
    /// (equal to `orig` when no NAT applies). A zone at its limit makes room by dropping
    /// its own oldest session that is not assured, a full table by dropping such a session
    /// (see [`Conntrack::early_drop_victim_zone`], Linux `early_drop`); without one the
    /// session is refused.
    pub fn create(
        &mut self,
        orig: FlowKey,
        translated: FlowKey,
        now: Millis,
    ) -> Result<u32, CtError> {
        let reply = translated.reverse();
        let (orig_hash, reply_hash) = (self.index.hash(&orig), self.index.hash(&reply));
        if self.find(orig_hash, &orig).is_some() || self.find(reply_hash, &reply).is_some() {
            return Err(CtError::Collision);
        }
        let zone_full =
            self.zone_limit < self.capacity && self.zone_len(orig.zone) >= self.zone_limit;
        if zone_full && !self.early_drop(orig.zone) {
            self.stats.zone_full += 1;
            return Err(CtError::ZoneFull);
        }
        if self.len() >= self.capacity
            && !self
                .early_drop_victim_zone()
                .is_some_and(|z| self.early_drop(z))
        {
            self.stats.full += 1;
            return Err(CtError::Full);
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
            assured: false,
            liberal: false,
            fin: 0,
            ignored_syn: None,
            created: now,
            serial: self.stats.created as u32,
            last_seen: now,
            packets: [0; 2],
            bytes: [0; 2],
            mark: 0,
            window: [TcpWindow::default(); 2],
            egress: [super::adjacency::Link::default(); 2],
            delta: [
                ChecksumDelta::between(&orig, &translated),
                ChecksumDelta::between(&reply, &orig.reverse()),
            ],
        };
        let idx = self
            .free
            .last()
            .copied()
            .unwrap_or(self.sessions.len() as u32);
        if self.index.insert(orig_hash, slot(idx, Dir::Orig)).is_err() {
            self.stats.full += 1;
            return Err(CtError::Full);
        }
        if self
            .index
            .insert(reply_hash, slot(idx, Dir::Reply))
            .is_err()
        {
            self.index.remove(orig_hash, slot(idx, Dir::Orig));
            self.stats.full += 1;
            return Err(CtError::Full);
        }
        if self.free.pop().is_some() {
            self.sessions[idx as usize] = Some(s);
        } else {
            self.sessions.push(Some(s));
            self.links.push(UNLINKED);
        }
        self.zones.entry(orig.zone).or_insert(EMPTY_ZONE).live += 1;
        self.link(idx);
        if self.fresh_len < FRESH_MAX {
            self.fresh[self.fresh_len] = idx;
            self.fresh_len += 1;
        }
        self.stats.created += 1;
        Ok(idx)
    }

    /// Counts a packet on session `idx` (see [`Session::touch`]) and keeps the table in
    /// step: a session that became assured can no longer be dropped early, one that
    /// restarted can again, and one whose only answer was an RST ends at once (Linux).
    #[inline]
    pub fn seen(&mut self, idx: u32, dir: Dir, bytes: usize, flags: u8, now: Millis) {
        let Some(s) = self.get_mut(idx) else {
            return;
        };
        let (was_replied, was_assured, was) = (s.replied, s.assured, s.tcp);
        let first = s.packets == [0, 0];
        s.touch(dir, bytes, flags, now);
        let tcp = s.orig.proto == 6;
        let rst_only_answer =
            tcp && dir == Dir::Reply && !was_replied && flags & tcp_flags::RST != 0;
        let restarted = tcp
            && !first
            && matches!(was, TcpState::TimeWait | TcpState::Closed)
            && s.tcp == TcpState::SynSent;
        let assured = s.assured;
        if first && tcp && s.liberal {
            self.stats.picked_up += 1;
        }
        if rst_only_answer {
            self.release(idx);
            self.stats.removed += 1;
        } else if assured && !was_assured {
            self.unlink(idx);
        } else if restarted {
            self.stats.reopened += 1;
            self.link(idx);
        }
    }

    /// Counts a TCP session ended because a SYN reopened its tuple (the caller creates the
    /// new one).
    pub fn reopen(&mut self, idx: u32) {
        if self.release(idx).is_some() {
            self.stats.reopened += 1;
        }
    }

    /// Removes session `idx`.
    pub fn remove(&mut self, idx: u32) -> Option<Session> {
        let s = self.release(idx)?;
        self.stats.removed += 1;
        Some(s)
    }

    /// Starts a packet: sessions created from now on are the packet's own.
    #[inline]
    pub fn begin_packet(&mut self) {
        self.fresh_len = 0;
    }

    /// True if a session was created since [`Conntrack::begin_packet`].
    #[inline]
    pub fn created_any(&self) -> bool {
        self.fresh_len != 0
    }

    /// The sessions created since [`Conntrack::begin_packet`].
    #[inline]
    pub fn fresh(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.fresh[..self.fresh_len].iter().filter_map(|&idx| {
            let s = self.get(idx)?;
            Some(SessionId {
                idx,
                serial: s.serial,
            })
        })
    }

    /// A packet was dropped: removes the sessions `ids` it created, so that nothing
    /// dropped holds a session (Linux confirms a connection only when its first packet
    /// leaves). A session already gone, whose slot another now holds, stays gone.
    pub fn undo(&mut self, ids: &[SessionId]) {
        for id in ids.iter().rev() {
            if self.get(id.idx).is_some_and(|s| s.serial == id.serial)
                && self.release(id.idx).is_some()
            {
                self.stats.undone += 1;
            }
        }
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
            if dead && self.release(i as u32).is_some() {
                gone += 1;
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

    /// Sessions the key index has room for.
    fn index_capacity(&self) -> usize {
        self.index.entries() / 4
    }

    /// Makes the key index again for `capacity` sessions, with every live session's keys.
    /// (An index with room for twice the keys almost never overflows; if it does, the
    /// next size up is taken, so that no live session loses a key.)
    fn reindex(&mut self, capacity: usize) {
        let mut keys = capacity * 2;
        loop {
            let mut index = KeyIndex::with_keys(keys);
            let all_in = self.iter().all(|(idx, s)| {
                [(&s.orig, Dir::Orig), (&s.reply, Dir::Reply)]
                    .into_iter()
                    .all(|(key, dir)| index.insert(index.hash(key), slot(idx, dir)).is_ok())
            });
            if all_in {
                self.index = index;
                return;
            }
            keys *= 2;
        }
    }

    /// Frees slot `idx`: keys, zone count, early-drop list, the packet's own sessions.
    fn release(&mut self, idx: u32) -> Option<Session> {
        self.unlink(idx);
        let s = self.sessions.get_mut(idx as usize)?.take()?;
        self.index
            .remove(self.index.hash(&s.orig), slot(idx, Dir::Orig));
        self.index
            .remove(self.index.hash(&s.reply), slot(idx, Dir::Reply));
        if let Some(z) = self.zones.get_mut(&s.orig.zone) {
            z.live -= 1;
            if z.live == 0 {
                self.zones.remove(&s.orig.zone);
            }
        }
        if let Some(at) = self.fresh[..self.fresh_len].iter().position(|&f| f == idx) {
            self.fresh_len -= 1;
            self.fresh[at] = self.fresh[self.fresh_len];
        }
        self.free.push(idx);
        Some(s)
    }

    /// Drops the oldest session of `zone` that is not assured; false if it has none.
    fn early_drop(&mut self, zone: u16) -> bool {
        let Some(&Zone { head, .. }) = self.zones.get(&zone) else {
            return false;
        };
        if head == NIL {
            return false;
        }
        self.release(head);
        self.stats.early_dropped += 1;
        true
    }

    /// The zone a full table takes a session from: the one with the most sessions not
    /// assured. Linux `early_drop` evicts near the new packet (its hash bucket), whoever
    /// owns the victim; with zones, taking from the zone that holds most of what a flood
    /// leaves makes the flooding router or port pay, and never costs a zone with few
    /// pending connections its own handshakes. Looks at each zone with live sessions; runs
    /// only when the table is full.
    fn early_drop_victim_zone(&self) -> Option<u16> {
        self.zones
            .iter()
            .filter(|(_, z)| z.unassured > 0)
            .max_by_key(|(_, z)| z.unassured)
            .map(|(&id, _)| id)
    }

    /// Appends `idx` to its zone's early-drop list.
    fn link(&mut self, idx: u32) {
        let Some(zone) = self.get(idx).map(|s| s.orig.zone) else {
            return;
        };
        if self.links[idx as usize].linked {
            return;
        }
        let Some(z) = self.zones.get_mut(&zone) else {
            return;
        };
        self.links[idx as usize] = Link {
            prev: z.tail,
            next: NIL,
            linked: true,
        };
        let old_tail = z.tail;
        z.tail = idx;
        z.unassured += 1;
        match old_tail {
            NIL => z.head = idx,
            t => self.links[t as usize].next = idx,
        }
    }

    /// Takes `idx` out of its zone's early-drop list.
    fn unlink(&mut self, idx: u32) {
        let Some(&l) = self.links.get(idx as usize) else {
            return;
        };
        if !l.linked {
            return;
        }
        let Some(zone) = self.get(idx).map(|s| s.orig.zone) else {
            return;
        };
        let Some(z) = self.zones.get_mut(&zone) else {
            return;
        };
        z.unassured -= 1;
        if l.prev == NIL {
            z.head = l.next;
        }
        if l.next == NIL {
            z.tail = l.prev;
        }
        if l.prev != NIL {
            self.links[l.prev as usize].next = l.next;
        }
        if l.next != NIL {
            self.links[l.next as usize].prev = l.prev;
        }
        self.links[idx as usize] = UNLINKED;
    }
}

#[cfg(test)]
mod tests;
