//! Fragment tracking: the later fragments of an IPv4 datagram carry no ports, so they follow
//! the decision its first fragment got, remembered by (zone, protocol, source, destination,
//! identification) — the datagram's identity (RFC 791 §3.2, RFC 6864 §2).
//!
//! Linux defragments before conntrack and NAT (nf_defrag_ipv4) and refragments on output;
//! tracking gives the same verdicts without copying payload: NAT's incremental L4 checksum
//! update in the first fragment covers the whole datagram (RFC 1624), so a later fragment
//! needs only its addresses rewritten, and a security group passes a later fragment only if
//! the first passed (Linux never lets an orphan fragment reach the filter).
//!
//! The table is preallocated and bounded ([`SLOTS`] datagrams, a short probe window); an
//! entry ends when every byte of its datagram was seen or after [`TIMEOUT_MS`] (Linux's
//! `ipfrag_time`). Later fragments that arrive before their first wait in one bounded pool
//! ([`HELD_MAX`], at most [`HELD_PER_DATAGRAM`] per datagram) and are released when the first
//! decides, or dropped by [`Fragments::expire`] when it never comes.

use super::Millis;

/// Datagrams tracked at once at most.
pub const SLOTS: usize = 4096;
/// Slots examined for a datagram (from its hash on).
const PROBES: usize = 8;
/// Life of an entry without completion (Linux `net.ipv4.ipfrag_time`: 30 s).
pub const TIMEOUT_MS: Millis = 30_000;
/// Later fragments waiting for their first fragment, all datagrams together.
pub const HELD_MAX: usize = 64;
/// Later fragments waiting for their first fragment, per datagram (a 9000-byte datagram
/// over a 1458-byte MTU has 7 fragments).
pub const HELD_PER_DATAGRAM: u8 = 16;

/// A datagram's identity in a conntrack zone (router or port).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FragKey {
    /// The zone (router index, or a port's zone).
    pub zone: u16,
    /// IP protocol.
    pub proto: u8,
    /// IPv4 identification.
    pub id: u16,
    /// Source address (host byte order).
    pub src: u32,
    /// Destination address (host byte order).
    pub dst: u32,
}

impl FragKey {
    fn slot(&self) -> usize {
        let a = u64::from(self.src) << 32 | u64::from(self.dst);
        let b = u64::from(self.zone) << 24 | u64::from(self.proto) << 16 | u64::from(self.id);
        let h = (a ^ b.rotate_left(40)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (h >> 40) as usize % SLOTS
    }
}

/// Where a fragment lies in its datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    /// Offset of its payload in the datagram's payload, in bytes.
    pub offset: u32,
    /// Its payload bytes.
    pub len: u32,
    /// True for the last fragment (MF clear).
    pub last: bool,
}

/// What the first fragment of a datagram decided for the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The first fragment has not come yet: later ones wait.
    Pending,
    /// It passed a port's filter: the later fragments pass.
    Pass,
    /// It was translated: the later fragments get these addresses.
    Translate {
        /// Source address after translation.
        src: u32,
        /// Destination address after translation.
        dst: u32,
    },
    /// It was an echo request to the router, answered in place: so are the later ones.
    Echo,
    /// It was addressed to the router and not answered: the later ones are dropped.
    Discard,
    /// It went to worker `worker`, which owns its flow: the later ones go there too.
    Steer {
        /// The owner's number.
        worker: u16,
    },
}

/// Outcome of [`Fragments::hold`].
#[derive(Debug, PartialEq, Eq)]
pub enum Held<H> {
    /// Waiting for the first fragment.
    Waiting,
    /// No room (table, pool or the datagram's share full): the item comes back.
    Full(H),
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    key: FragKey,
    verdict: Verdict,
    expires: Millis,
    /// Payload bytes seen of fragments that followed the verdict.
    seen: u32,
    /// Payload length of the datagram, once its last fragment was seen (0 before).
    end: u32,
    held: u8,
    used: bool,
}

const FREE: Slot = Slot {
    key: FragKey {
        zone: 0,
        proto: 0,
        id: 0,
        src: 0,
        dst: 0,
    },
    verdict: Verdict::Pending,
    expires: 0,
    seen: 0,
    end: 0,
    held: 0,
    used: false,
};

/// Counts of [`Fragments::expire`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Expired {
    /// Entries that ended without completing.
    pub entries: usize,
}

/// The fragment table of one worker, with the pool of fragments held for their first.
#[derive(Debug)]
pub struct Fragments<H> {
    slots: Box<[Slot]>,
    /// (slot, item) of held fragments; `None` is a free place.
    held: Box<[Option<(u32, H)>]>,
    held_count: usize,
    live: usize,
    /// Life of an entry without completion.
    timeout: Millis,
}

impl<H> Default for Fragments<H> {
    fn default() -> Self {
        Self::new()
    }
}

impl<H> Fragments<H> {
    /// An empty table whose entries live [`TIMEOUT_MS`], allocated once.
    pub fn new() -> Self {
        Self::with_timeout(TIMEOUT_MS)
    }

    /// An empty table whose entries live `timeout` without completing, allocated once.
    pub fn with_timeout(timeout: Millis) -> Self {
        Fragments {
            slots: vec![FREE; SLOTS].into_boxed_slice(),
            held: (0..HELD_MAX).map(|_| None).collect(),
            held_count: 0,
            live: 0,
            timeout,
        }
    }

    /// Datagrams tracked now.
    pub fn len(&self) -> usize {
        self.live
    }

    /// True if no datagram is tracked.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Fragments waiting for their first now.
    pub fn held(&self) -> usize {
        self.held_count
    }

    fn find(&self, key: &FragKey, now: Millis) -> Option<usize> {
        let start = key.slot();
        (0..PROBES).map(|i| (start + i) % SLOTS).find(|&i| {
            let s = &self.slots[i];
            s.used && s.key == *key && now < s.expires
        })
    }

    /// The slot of `key`, created (Pending) if there is none and room in its window.
    fn find_or_create(&mut self, key: &FragKey, now: Millis) -> Option<usize> {
        if let Some(i) = self.find(key, now) {
            return Some(i);
        }
        let start = key.slot();
        let i = (0..PROBES).map(|i| (start + i) % SLOTS).find(|&i| {
            let s = &self.slots[i];
            !s.used || (now >= s.expires && s.held == 0)
        })?;
        if self.slots[i].used {
            self.end(i);
        }
        self.slots[i] = Slot {
            key: *key,
            expires: now + self.timeout,
            used: true,
            ..FREE
        };
        self.live += 1;
        Some(i)
    }

    /// Frees slot `i` (which holds nothing).
    fn end(&mut self, i: usize) {
        self.slots[i] = FREE;
        self.live -= 1;
    }

    /// Counts `piece` against slot `i`; frees the slot once the whole datagram was seen.
    fn count(&mut self, i: usize, piece: Piece) {
        let s = &mut self.slots[i];
        s.seen = s.seen.saturating_add(piece.len);
        if piece.last {
            s.end = piece.offset + piece.len;
        }
        if s.end != 0 && s.seen >= s.end && s.held == 0 {
            self.end(i);
        }
    }

    /// The verdict on the datagram of `key`, if its first fragment decided one.
    pub fn verdict(&self, key: &FragKey, now: Millis) -> Option<Verdict> {
        self.find(key, now).map(|i| self.slots[i].verdict)
    }

    /// Records what the first fragment `piece` of `key` got. `None` if the table has no
    /// room for it: its later fragments would be orphans, so the caller drops it.
    pub fn decide(
        &mut self,
        key: &FragKey,
        verdict: Verdict,
        piece: Piece,
        now: Millis,
    ) -> Option<()> {
        let i = self.find_or_create(key, now)?;
        self.slots[i].verdict = verdict;
        self.count(i, piece);
        Some(())
    }

    /// A later fragment `piece` of `key`: the verdict it follows (counted towards the
    /// datagram's completion), or `None` when no first fragment decided (yet).
    pub fn follow(&mut self, key: &FragKey, piece: Piece, now: Millis) -> Option<Verdict> {
        let i = self.find(key, now)?;
        let v = self.slots[i].verdict;
        if v == Verdict::Pending {
            return None;
        }
        self.count(i, piece);
        Some(v)
    }

    /// Keeps `item`, a later fragment of `key`, until its first fragment decides.
    pub fn hold(&mut self, key: &FragKey, item: H, now: Millis) -> Held<H> {
        if self.held_count == HELD_MAX {
            return Held::Full(item);
        }
        let Some(i) = self.find_or_create(key, now) else {
            return Held::Full(item);
        };
        if self.slots[i].held >= HELD_PER_DATAGRAM || self.slots[i].verdict != Verdict::Pending {
            return Held::Full(item);
        }
        let Some(place) = self.held.iter_mut().find(|h| h.is_none()) else {
            return Held::Full(item);
        };
        *place = Some((i as u32, item));
        self.slots[i].held += 1;
        self.held_count += 1;
        Held::Waiting
    }

    /// One fragment of `key` that was waiting, now that its first decided (call until
    /// `None`, after [`Fragments::decide`]).
    pub fn release(&mut self, key: &FragKey, now: Millis) -> Option<H> {
        if self.held_count == 0 {
            return None;
        }
        let i = self.find(key, now)?;
        if self.slots[i].held == 0 {
            return None;
        }
        let place = self
            .held
            .iter_mut()
            .find(|h| h.as_ref().is_some_and(|(s, _)| *s as usize == i))?;
        let (_, item) = place.take()?;
        self.slots[i].held -= 1;
        self.held_count -= 1;
        Some(item)
    }

    /// Ends the entries older than their timeout; `dropped` gets each fragment they still
    /// held (their first never came).
    pub fn expire(&mut self, now: Millis, mut dropped: impl FnMut(H)) -> Expired {
        let mut out = Expired::default();
        if self.live == 0 {
            return out;
        }
        for i in 0..SLOTS {
            let s = &self.slots[i];
            if !s.used || now < s.expires {
                continue;
            }
            if s.held > 0 {
                for h in self.held.iter_mut() {
                    if h.as_ref().is_some_and(|(s, _)| *s as usize == i) {
                        if let Some((_, item)) = h.take() {
                            dropped(item);
                        }
                        self.held_count -= 1;
                    }
                }
                self.slots[i].held = 0;
            }
            self.end(i);
            out.entries += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u16) -> FragKey {
        FragKey {
            zone: 1,
            proto: 17,
            id,
            src: 0x0a00_0009,
            dst: 0x0a01_65fe,
        }
    }

    fn piece(offset: u32, len: u32, last: bool) -> Piece {
        Piece { offset, len, last }
    }

    #[test]
    fn later_fragments_follow_the_first_until_the_datagram_is_complete() {
        let mut f: Fragments<u32> = Fragments::new();
        let v = Verdict::Translate { src: 1, dst: 2 };
        assert_eq!(f.follow(&key(7), piece(1480, 1480, false), 0), None);
        f.decide(&key(7), v, piece(0, 1480, false), 0).unwrap();
        assert_eq!(f.follow(&key(7), piece(1480, 1480, false), 1), Some(v));
        assert_eq!(
            f.follow(&key(8), piece(1480, 8, true), 1),
            None,
            "another id"
        );
        assert_eq!(f.follow(&key(7), piece(2960, 1048, true), 2), Some(v));
        assert!(f.is_empty(), "every byte seen: the entry ends");
    }

    #[test]
    fn fragments_before_their_first_wait_and_are_released_or_dropped_on_timeout() {
        let mut f: Fragments<u32> = Fragments::new();
        assert_eq!(f.hold(&key(1), 10, 0), Held::Waiting);
        assert_eq!(f.hold(&key(1), 11, 0), Held::Waiting);
        assert_eq!(f.hold(&key(2), 20, 0), Held::Waiting);
        assert_eq!(f.held(), 3);
        f.decide(&key(1), Verdict::Pass, piece(0, 8, false), 5)
            .unwrap();
        let mut out = Vec::new();
        while let Some(h) = f.release(&key(1), 5) {
            out.push(h);
        }
        out.sort();
        assert_eq!(out, vec![10, 11]);
        let mut dropped = Vec::new();
        let e = f.expire(TIMEOUT_MS - 1, |h| dropped.push(h));
        assert_eq!((e.entries, dropped.len()), (0, 0));
        let e = f.expire(TIMEOUT_MS, |h| dropped.push(h));
        assert_eq!(
            e.entries, 2,
            "the released datagram never completed, nor key 2"
        );
        assert_eq!(dropped, vec![20]);
        assert_eq!((f.len(), f.held()), (0, 0));
    }

    #[test]
    fn holding_is_bounded_per_datagram_and_in_all() {
        let mut f: Fragments<u32> = Fragments::new();
        for i in 0..u32::from(HELD_PER_DATAGRAM) {
            assert_eq!(f.hold(&key(1), i, 0), Held::Waiting);
        }
        assert_eq!(f.hold(&key(1), 99, 0), Held::Full(99));
        let mut id = 2;
        while f.held() < HELD_MAX {
            assert_eq!(f.hold(&key(id), 0, 0), Held::Waiting);
            id += 1;
        }
        assert_eq!(f.hold(&key(id), 5, 0), Held::Full(5));
    }

    #[test]
    fn a_full_probe_window_refuses_new_datagrams_until_entries_expire() {
        let mut f: Fragments<u32> = Fragments::new();
        let start = key(0).slot();
        let mut same_window = Vec::new();
        let mut id = 0u16;
        while same_window.len() < PROBES + 1 {
            if key(id).slot() == start {
                same_window.push(key(id));
            }
            id = id.wrapping_add(1);
            assert_ne!(id, 0, "enough keys share a slot among 65536 ids");
        }
        for k in &same_window[..PROBES] {
            f.decide(k, Verdict::Pass, piece(0, 8, false), 0).unwrap();
        }
        let extra = same_window[PROBES];
        assert_eq!(f.decide(&extra, Verdict::Pass, piece(0, 8, false), 0), None);
        assert!(f
            .decide(&extra, Verdict::Pass, piece(0, 8, false), TIMEOUT_MS)
            .is_some());
    }
}
