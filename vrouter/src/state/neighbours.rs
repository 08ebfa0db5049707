//! The neighbour (ARP) cache of one L2 segment, with a bounded queue of frames held while an
//! address is being resolved (RFC 1122 §2.3.2.2: save at least one, the latest, packet).
//!
//! Static entries come from the model: nothing learned changes them. The table is bounded
//! and never refuses a new address because it is full of others: a new unresolved address
//! evicts the oldest unresolved one when [`MAX_PENDING`] are, and a new entry evicts a learned
//! one not used since the evictor last passed it (a CLOCK, second-chance approximation of
//! least recently used) when [`MAX_ENTRIES`] are held, as Linux's forced neighbour garbage
//! collection frees entries not in use. The eviction order is kept in rings allocated up
//! front: no allocation per packet.

use super::Millis;
use crate::wire::Mac;
use hashbrown::HashMap;
use std::collections::VecDeque;

/// Frames held per unresolved address at most.
pub const HOLD_PER_ENTRY: usize = 4;
/// Unresolved addresses at most (each may hold frames).
pub const MAX_PENDING: usize = 256;
/// Addresses at most (static ones included).
pub const MAX_ENTRIES: usize = 4096;
/// Interval between ARP requests for an unresolved address.
pub const RETRY_MS: Millis = 1000;
/// Requests sent before an unresolved address gives up and drops its held frames.
pub const MAX_REQUESTS: u8 = 3;
/// Age after which a resolved entry is refreshed by a new request (it stays usable).
pub const REFRESH_MS: Millis = 60_000;
/// Age after which a resolved entry that was not confirmed is removed.
pub const EXPIRE_MS: Millis = 300_000;

/// One neighbour.
#[derive(Debug)]
pub struct Neighbour<F> {
    /// Its MAC address, once resolved.
    pub mac: Option<Mac>,
    /// When the MAC was last confirmed (or the entry created).
    pub updated: Millis,
    /// When the last ARP request for it went out.
    pub requested: Millis,
    /// Requests sent since the last confirmation.
    pub requests: u8,
    /// Known from the model: never asked for, never expires, never changed by ARP.
    pub is_static: bool,
    /// Used to send since the evictor last passed it (its second chance).
    referenced: bool,
    /// Tells this entry from an earlier one of the same address in the eviction rings.
    seq: u32,
    held: Vec<F>,
}

/// Outcome of [`Neighbours::hold`].
#[derive(Debug, PartialEq, Eq)]
pub enum Hold<F> {
    /// Held.
    Held {
        /// Send an ARP request now (first frame for the address).
        request: bool,
        /// Frames of an older unresolved address that was evicted to make room, dropped.
        dropped: usize,
    },
    /// Not held: the address's queue is full, or the table holds only static and
    /// unresolved entries; the frame comes back to be dropped.
    Full(F),
}

/// What the periodic [`Neighbours::tick`] asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TickOut<F> {
    /// Addresses to send an ARP request for.
    pub requests: Vec<u32>,
    /// Frames whose address did not resolve in time, to drop and count.
    pub expired: Vec<F>,
}

/// Counters of the table's own events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NeighbourStats {
    /// Learned entries evicted to make room for a new address.
    pub evicted: u64,
    /// ARP that would have changed a static entry, ignored.
    pub static_kept: u64,
}

crate::merge_fields!(NeighbourStats {
    evicted,
    static_kept
});

/// Neighbours by IPv4 address (host byte order).
#[derive(Debug)]
pub struct Neighbours<F> {
    map: HashMap<u32, Neighbour<F>>,
    pending: usize,
    /// Learned entries (address, seq), oldest first: the evictor's clock.
    clock: VecDeque<(u32, u32)>,
    /// Unresolved entries (address, seq), oldest first.
    unresolved: VecDeque<(u32, u32)>,
    next_seq: u32,
    /// Changes of a resolved address: set, changed or gone.
    generation: u32,
    /// Event counters.
    pub stats: NeighbourStats,
}

impl<F> Default for Neighbours<F> {
    fn default() -> Self {
        Neighbours {
            map: HashMap::default(),
            pending: 0,
            clock: VecDeque::with_capacity(MAX_ENTRIES),
            unresolved: VecDeque::with_capacity(MAX_PENDING),
            next_seq: 0,
            generation: 0,
            stats: NeighbourStats::default(),
        }
    }
}

impl<F> Neighbours<F> {
    /// Changes so far of resolved addresses (a MAC set, changed or gone): what a resolution
    /// made earlier depends on.
    #[inline]
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// Counts a change of a resolved address.
    fn changed(&mut self) {
        self.generation = self.generation.wrapping_add(1);
    }

    /// The MAC address of `ip`, if resolved.
    #[inline]
    pub fn lookup(&self, ip: u32) -> Option<Mac> {
        self.map.get(&ip).and_then(|n| n.mac)
    }

    /// The MAC address of `ip` for sending a frame to it: like [`Neighbours::lookup`], and
    /// the entry counts as in use for eviction.
    #[inline]
    pub fn resolve(&mut self, ip: u32) -> Option<Mac> {
        let n = self.map.get_mut(&ip)?;
        if !n.referenced {
            n.referenced = true;
        }
        n.mac
    }

    /// The MAC the model gives `ip`, if it is a static entry.
    #[inline]
    pub fn static_mac(&self, ip: u32) -> Option<Mac> {
        self.map
            .get(&ip)
            .filter(|n| n.is_static)
            .and_then(|n| n.mac)
    }

    /// Holds `frame` until `ip` resolves.
    pub fn hold(&mut self, ip: u32, frame: F, now: Millis) -> Hold<F> {
        if let Some(n) = self.map.get_mut(&ip) {
            if n.held.len() >= HOLD_PER_ENTRY || n.mac.is_some() {
                return Hold::Full(frame);
            }
            n.held.push(frame);
            return Hold::Held {
                request: false,
                dropped: 0,
            };
        }
        let mut dropped = 0;
        if self.pending >= MAX_PENDING {
            match self.evict_unresolved() {
                Some(n) => dropped = n,
                None => return Hold::Full(frame),
            }
        }
        if self.map.len() >= MAX_ENTRIES && !self.evict_learned() {
            return Hold::Full(frame);
        }
        let mut held = Vec::with_capacity(HOLD_PER_ENTRY);
        held.push(frame);
        let seq = self.insert(
            ip,
            Neighbour {
                mac: None,
                updated: now,
                requested: now,
                requests: 1,
                is_static: false,
                referenced: false,
                seq: 0,
                held,
            },
        );
        if self.unresolved.len() == self.unresolved.capacity() {
            self.compact();
        }
        self.unresolved.push_back((ip, seq));
        self.pending += 1;
        Hold::Held {
            request: true,
            dropped,
        }
    }

    /// Records that `ip` is at `mac` (from an ARP request or reply it sent). Creates the entry
    /// only if `create` (it was asked for, or is a configured next hop), evicting a learned
    /// entry not in use if the table is full; returns the frames that were waiting for it.
    /// A static entry is never changed.
    pub fn confirm(&mut self, ip: u32, mac: Mac, now: Millis, create: bool) -> Vec<F> {
        match self.map.get_mut(&ip) {
            Some(n) if n.is_static => {
                if n.mac != Some(mac) {
                    self.stats.static_kept += 1;
                }
                Vec::new()
            }
            Some(n) => {
                if n.mac.is_none() {
                    self.pending -= 1;
                }
                let moved = n.mac != Some(mac);
                n.mac = Some(mac);
                n.updated = now;
                n.requests = 0;
                let held = std::mem::take(&mut n.held);
                if moved {
                    self.changed();
                }
                held
            }
            None => {
                if create && (self.map.len() < MAX_ENTRIES || self.evict_learned()) {
                    self.insert(
                        ip,
                        Neighbour {
                            mac: Some(mac),
                            updated: now,
                            requested: 0,
                            requests: 0,
                            is_static: false,
                            referenced: false,
                            seq: 0,
                            held: Vec::new(),
                        },
                    );
                }
                Vec::new()
            }
        }
    }

    /// Inserts a learned entry (the caller made room) and puts it on the clock; returns
    /// its sequence number.
    fn insert(&mut self, ip: u32, mut n: Neighbour<F>) -> u32 {
        self.next_seq = self.next_seq.wrapping_add(1);
        n.seq = self.next_seq;
        self.map.insert(ip, n);
        if self.clock.len() == self.clock.capacity() {
            self.compact();
        }
        self.clock.push_back((ip, self.next_seq));
        self.next_seq
    }

    /// Evicts the learned, resolved entry the clock hand reaches first that was not used
    /// since the hand last passed it; false if there is none (only static and unresolved
    /// entries).
    fn evict_learned(&mut self) -> bool {
        for _ in 0..2 * self.clock.len() {
            let Some((ip, seq)) = self.clock.pop_front() else {
                return false;
            };
            let Some(n) = self.map.get_mut(&ip) else {
                continue;
            };
            if n.seq != seq || n.is_static {
                continue;
            }
            if n.mac.is_none() || n.referenced {
                n.referenced = false;
                self.clock.push_back((ip, seq));
                continue;
            }
            self.map.remove(&ip);
            self.stats.evicted += 1;
            self.changed();
            return true;
        }
        false
    }

    /// Evicts the oldest unresolved entry; returns how many frames it held (dropped), or
    /// `None` if there is no unresolved entry.
    fn evict_unresolved(&mut self) -> Option<usize> {
        while let Some((ip, seq)) = self.unresolved.pop_front() {
            let live = self
                .map
                .get(&ip)
                .is_some_and(|n| n.seq == seq && !n.is_static && n.mac.is_none());
            if live {
                let n = self.map.remove(&ip)?;
                self.pending -= 1;
                self.stats.evicted += 1;
                return Some(n.held.len());
            }
        }
        None
    }

    /// Drops the ring slots of entries that are gone or changed.
    fn compact(&mut self) {
        let map = &self.map;
        let live = |ip: &u32, seq: u32| map.get(ip).filter(|n| n.seq == seq && !n.is_static);
        self.clock.retain(|&(ip, seq)| live(&ip, seq).is_some());
        self.unresolved
            .retain(|&(ip, seq)| live(&ip, seq).is_some_and(|n| n.mac.is_none()));
    }

    /// Retries, refreshes and expires entries; call about once a second.
    pub fn tick(&mut self, now: Millis) -> TickOut<F> {
        let mut out = TickOut {
            requests: Vec::new(),
            expired: Vec::new(),
        };
        let mut gone_pending = 0;
        let mut gone_resolved = false;
        self.map.retain(|&ip, n| {
            if n.is_static {
                return true;
            }
            let age = now.saturating_sub(n.updated);
            let since_request = now.saturating_sub(n.requested);
            let unresolved = n.mac.is_none();
            let asking = unresolved || age >= REFRESH_MS;
            if !asking || since_request < RETRY_MS {
                return true;
            }
            if n.requests < MAX_REQUESTS {
                n.requests += 1;
                n.requested = now;
                out.requests.push(ip);
                return true;
            }
            if unresolved || age >= EXPIRE_MS {
                out.expired.append(&mut n.held);
                gone_pending += unresolved as usize;
                gone_resolved |= !unresolved;
                return false;
            }
            true
        });
        self.pending -= gone_pending;
        if gone_resolved {
            self.changed();
        }
        out
    }

    /// Replaces the static entries with `entries` (address, MAC), as the model gives them
    /// (an ARP responder in the spirit of Neutron's l2population: no broadcast is needed to
    /// reach a port the model knows). Returns frames that were waiting for an address that
    /// is now static, for the caller to drop and count.
    pub fn set_static(&mut self, entries: &[(u32, Mac)], now: Millis) -> Vec<F> {
        self.changed();
        self.map.retain(|_, n| !n.is_static);
        let mut released = Vec::new();
        for &(ip, mac) in entries {
            let n = self.map.entry(ip).or_insert(Neighbour {
                mac: None,
                updated: now,
                requested: 0,
                requests: 0,
                is_static: true,
                referenced: false,
                seq: 0,
                held: Vec::new(),
            });
            if n.mac.is_none() && !n.held.is_empty() {
                self.pending -= 1;
            }
            n.mac = Some(mac);
            n.is_static = true;
            released.append(&mut n.held);
        }
        self.compact();
        released
    }

    /// Every neighbour with its address.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &Neighbour<F>)> {
        self.map.iter().map(|(&ip, n)| (ip, n))
    }

    /// Removes the learned, resolved entries whose address `doomed` picks (`ip neigh
    /// flush`): the next frame to one holds and asks by ARP again. Static entries and
    /// those still resolving stay. Returns how many went.
    pub fn flush_learned(&mut self, doomed: impl Fn(u32) -> bool) -> usize {
        let before = self.map.len();
        self.map
            .retain(|&ip, n| n.is_static || n.mac.is_none() || !doomed(ip));
        let gone = before - self.map.len();
        if gone > 0 {
            self.changed();
        }
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: Mac = Mac([0x52, 0x54, 0, 0, 1, 0x31]);

    fn held<F>(request: bool) -> Hold<F> {
        Hold::Held {
            request,
            dropped: 0,
        }
    }

    #[test]
    fn hold_then_confirm_releases_frames_in_order() {
        let mut n = Neighbours::default();
        assert_eq!(n.hold(31, 'a', 0), held(true));
        assert_eq!(n.hold(31, 'b', 1), held(false));
        assert_eq!(n.lookup(31), None);
        assert_eq!(n.confirm(31, M, 2, false), vec!['a', 'b']);
        assert_eq!(n.lookup(31), Some(M));
    }

    #[test]
    fn queue_is_bounded() {
        let mut n = Neighbours::default();
        for i in 0..HOLD_PER_ENTRY {
            assert!(matches!(n.hold(31, i, 0), Hold::Held { .. }));
        }
        assert_eq!(n.hold(31, 99, 0), Hold::Full(99));
    }

    #[test]
    fn unsolicited_confirm_creates_only_when_asked() {
        let mut n: Neighbours<()> = Neighbours::default();
        n.confirm(41, M, 0, false);
        assert_eq!(n.lookup(41), None);
        n.confirm(41, M, 0, true);
        assert_eq!(n.lookup(41), Some(M));
    }

    #[test]
    fn unanswered_requests_expire_held_frames() {
        let mut n = Neighbours::default();
        n.hold(31, 'a', 0);
        assert_eq!(n.tick(500).requests, Vec::<u32>::new());
        assert_eq!(n.tick(1000).requests, vec![31]);
        assert_eq!(n.tick(2000).requests, vec![31]);
        let out = n.tick(3000);
        assert_eq!(out.expired, vec!['a']);
        assert_eq!(n.lookup(31), None);
        assert_eq!(n.hold(31, 'c', 3001), held(true), "pending slot was freed");
    }

    #[test]
    fn static_entries_never_expire_and_are_replaced_as_a_set() {
        let mut n: Neighbours<()> = Neighbours::default();
        n.set_static(&[(9, M)], 0);
        assert!(n.tick(EXPIRE_MS * 2).requests.is_empty());
        assert_eq!(n.lookup(9), Some(M));
        n.set_static(&[(10, M)], 0);
        assert_eq!((n.lookup(9), n.lookup(10)), (None, Some(M)));
    }

    #[test]
    fn resolved_entries_refresh_then_expire() {
        let mut n: Neighbours<()> = Neighbours::default();
        n.confirm(31, M, 0, true);
        assert!(n.tick(REFRESH_MS - 1).requests.is_empty());
        assert_eq!(n.tick(REFRESH_MS).requests, vec![31]);
        assert_eq!(n.lookup(31), Some(M), "still usable while refreshing");
        n.tick(REFRESH_MS + 1000);
        n.tick(REFRESH_MS + 2000);
        n.tick(EXPIRE_MS);
        assert_eq!(n.lookup(31), None);
    }

    #[test]
    fn static_entries_never_change_by_arp() {
        let mut n: Neighbours<()> = Neighbours::default();
        n.set_static(&[(9, M)], 0);
        let other = Mac([2, 0, 0, 0, 0, 0x66]);
        assert!(n.confirm(9, other, 5, true).is_empty());
        assert!(n.confirm(9, other, 6, false).is_empty());
        assert_eq!((n.lookup(9), n.static_mac(9)), (Some(M), Some(M)));
        assert_eq!(n.stats.static_kept, 2);
        n.confirm(9, M, 7, true);
        assert_eq!(n.stats.static_kept, 2, "the same MAC is no conflict");
    }

    #[test]
    fn a_full_table_evicts_an_unused_learned_entry_never_a_static_or_used_one() {
        let mut n: Neighbours<()> = Neighbours::default();
        n.set_static(&[(1, M)], 0);
        let (clock, ring) = (n.clock.capacity(), n.unresolved.capacity());
        // A gateway in use, then a flood of senders that fills the table many times over.
        n.confirm(2, M, 0, true);
        for ip in 10..20_000u32 {
            assert_eq!(n.resolve(2), Some(M), "the used entry stays at {ip}");
            n.confirm(ip, M, 1, true);
            assert!(n.iter().count() <= MAX_ENTRIES);
        }
        assert_eq!(n.static_mac(1), Some(M));
        assert_eq!(n.lookup(19_999), Some(M), "the newest sender got in");
        assert_eq!(n.iter().count(), MAX_ENTRIES);
        assert_eq!(n.stats.evicted, (20_000 - 10) - (MAX_ENTRIES as u64 - 2));
        assert_eq!(
            (n.clock.capacity(), n.unresolved.capacity()),
            (clock, ring),
            "the rings never grow"
        );
        // A new next hop is taken at once.
        assert_eq!(n.hold(30_000, (), 2), held(true));
    }

    #[test]
    fn a_new_unresolved_address_evicts_the_oldest_unresolved_one() {
        let mut n = Neighbours::default();
        for ip in 0..MAX_PENDING as u32 {
            assert_eq!(n.hold(ip, ip, 0), held(true));
            n.hold(ip, ip, 0);
        }
        assert_eq!(
            n.hold(1000, 1000, 1),
            Hold::Held {
                request: true,
                dropped: 2
            },
            "the two frames held for address 0 are dropped"
        );
        assert_eq!(
            n.iter().filter(|(_, e)| e.mac.is_none()).count(),
            MAX_PENDING
        );
        assert!(n.iter().all(|(ip, _)| ip != 0));
        // A resolved pending entry is not taken for the oldest unresolved one.
        assert_eq!(n.confirm(1, M, 2, false), vec![1, 1]);
        assert_eq!(
            n.hold(1001, 1001, 2),
            Hold::Held {
                request: true,
                dropped: 0
            },
            "one slot was free"
        );
        n.hold(1002, 1002, 2);
        assert_eq!(n.lookup(1), Some(M));
        assert!(
            n.iter().all(|(ip, _)| ip != 2),
            "address 2 was the oldest left"
        );
    }
}
