//! The MAC table of br-int + br-tun in one: (network, MAC) → where frames for it go.
//!
//! Entries are learned from source addresses (also of frames decapsulated from a tunnel,
//! like br-tun's table 10 `learn`) and age out after `aging_secs` without a frame from that
//! address. Static entries come from the model and never age nor move: a frame from their
//! address arriving from anywhere else is a conflict, for the caller to drop. The table is
//! bounded: when full, new addresses are not learned (their frames are flooded) and each
//! refusal counts.
//!
//! A frame from a known address rewrites the entry's `last_seen` at most once a second
//! ([`REFRESH_MS`]), so an entry ages out between `aging_secs` − 1 s and `aging_secs` after
//! its last frame; the per-entry counters live in a separate array, so that the entries a
//! lookup reads stay small and clean in the cache.

use super::huge_pages::HugePages;
use super::Millis;
use crate::tables::{Dest, MacTableConf, NetIdx, Snapshot};
use crate::wire::Mac;
use hashbrown::hash_map::Entry;
use hashbrown::{DefaultHashBuilder, HashMap};

/// Interval below which a frame from a known address leaves its `last_seen` as it is.
pub const REFRESH_MS: Millis = 1000;

/// One entry with its counters, as views see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MacEntry {
    /// Where frames for the address go.
    pub dest: Dest,
    /// From the model (never ages, never moves by learning).
    pub is_static: bool,
    /// When a frame from the address was last seen (or the entry installed), to within
    /// [`REFRESH_MS`].
    pub last_seen: Millis,
    /// Frames forwarded to the address.
    pub n_packets: u64,
    /// Bytes forwarded to the address.
    pub n_bytes: u64,
}

/// What learning and forwarding read of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct HotEntry {
    dest: Dest,
    is_static: bool,
    last_seen: Millis,
    /// The entry's slot in [`Counters`].
    counters: u32,
}

/// Frames and bytes forwarded to one entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Count {
    packets: u64,
    bytes: u64,
}

/// The cold array of per-entry counters, a slot per entry, freed slots reused.
#[derive(Debug)]
struct Counters {
    slots: Vec<Count>,
    free: Vec<u32>,
}

impl Counters {
    /// Room for `entries` entries before anything is allocated again.
    fn with_capacity(entries: usize) -> Self {
        Counters {
            slots: Vec::with_capacity(entries),
            free: Vec::with_capacity(entries),
        }
    }

    /// Makes room for `entries` entries in all (outside the packet path).
    fn reserve(&mut self, entries: usize) {
        self.slots.reserve(entries.saturating_sub(self.slots.len()));
        self.free.reserve(entries.saturating_sub(self.free.len()));
    }

    /// A zeroed slot for a new entry.
    fn alloc(&mut self) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Count::default();
                i
            }
            None => {
                self.slots.push(Count::default());
                (self.slots.len() - 1) as u32
            }
        }
    }

    /// Gives back the slot of a removed entry.
    fn release(&mut self, i: u32) {
        self.free.push(i);
    }

    /// Counts one frame of `bytes` in slot `i`.
    #[inline]
    fn add(&mut self, i: u32, bytes: usize) {
        if let Some(c) = self.slots.get_mut(i as usize) {
            c.packets += 1;
            c.bytes += bytes as u64;
        }
    }

    /// The counts of slot `i`.
    fn get(&self, i: u32) -> Count {
        self.slots.get(i as usize).copied().unwrap_or_default()
    }
}

/// What learning a source address did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Learn {
    /// A new entry.
    New,
    /// An existing entry refreshed in place.
    Refreshed,
    /// An existing entry moved to another port or peer.
    Moved,
    /// A static entry, and the frame came from where it points: left as it is.
    Static,
    /// A static entry that points elsewhere: left as it is; the frame claims an address
    /// that is not its sender's.
    Conflict,
    /// The table is full: not learned.
    Full,
}

/// Counters of the table's own events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MacTableStats {
    /// New entries learned.
    pub learned: u64,
    /// Entries that moved to another port or peer.
    pub moved: u64,
    /// Entries removed by aging.
    pub aged: u64,
    /// Addresses not learned because the table was full.
    pub full: u64,
}

crate::merge_fields!(MacTableStats {
    learned,
    moved,
    aged,
    full
});

/// Packs a network and a MAC address into one hash key.
#[inline]
fn key(net: NetIdx, mac: Mac) -> u64 {
    let m = mac.0;
    ((net as u64) << 48) | u64::from_be_bytes([0, 0, m[0], m[1], m[2], m[3], m[4], m[5]])
}

/// Unpacks a key made by [`key`].
fn unkey(k: u64) -> (NetIdx, Mac) {
    let b = k.to_be_bytes();
    (
        (k >> 48) as NetIdx,
        Mac([b[2], b[3], b[4], b[5], b[6], b[7]]),
    )
}

/// Slots of the recently-learned filter (a power of two).
const RECENT_SLOTS: usize = 1024;
/// The key of an empty recently-learned slot: no (network, MAC) packs to it (networks are
/// at most 4094).
const NO_KEY: u64 = u64::MAX;

/// A learn that already happened: `key` was found behind `dest` with `result`, its entry
/// last seen at `seen` (for a static entry: when that was checked).
#[derive(Clone, Copy, Debug)]
struct Recent {
    key: u64,
    dest: Dest,
    seen: Millis,
    result: Learn,
}

const EMPTY: Recent = Recent {
    key: NO_KEY,
    dest: Dest::Local,
    seen: 0,
    result: Learn::Static,
};

/// The slot of `key` in the recently-learned filter.
#[inline]
fn recent_slot(key: u64) -> usize {
    (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 54) as usize % RECENT_SLOTS
}

/// The MAC table of one worker.
#[derive(Debug)]
pub struct MacTable {
    /// The entries (in huge pages, allocated for the capacity).
    map: HashMap<u64, HotEntry, DefaultHashBuilder, HugePages>,
    counters: Counters,
    /// Learns repeated from the same place within [`REFRESH_MS`] of the entry's `last_seen`
    /// change nothing; this small direct-mapped filter (a few KiB, cache-resident) answers
    /// them without probing the preallocated table, whose entries are spread over
    /// megabytes. A learn of a key always passes through the key's slot, so the slot holds
    /// what the table holds; emptied whenever entries go away ([`MacTable::expire`],
    /// [`MacTable::apply`]).
    recent: Box<[Recent; RECENT_SLOTS]>,
    conf: MacTableConf,
    /// Changes that can alter where a frame goes or what counts it (new entries, moves,
    /// removals, a new snapshot).
    generation: u32,
    /// Event counters.
    pub stats: MacTableStats,
}

impl MacTable {
    /// An empty table with room for `conf.capacity` entries, allocated up front (a large
    /// one in huge pages, [`super::huge_pages`]).
    pub fn new(conf: MacTableConf) -> Self {
        MacTable {
            map: HashMap::with_capacity_and_hasher_in(
                conf.capacity,
                DefaultHashBuilder::default(),
                HugePages::new("mac table"),
            ),
            counters: Counters::with_capacity(conf.capacity),
            recent: Box::new([EMPTY; RECENT_SLOTS]),
            conf,
            generation: 0,
            stats: MacTableStats::default(),
        }
    }

    /// Changes so far that can alter where a frame goes: an entry moved or went away, or a
    /// snapshot applied (a new entry changes nothing that was resolved: it was flooded).
    #[inline]
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True if the table holds no entry.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Records that `mac` on `net` was seen behind `from` at `now`.
    #[inline]
    pub fn learn(&mut self, net: NetIdx, mac: Mac, from: Dest, now: Millis) -> Learn {
        let k = key(net, mac);
        let slot = recent_slot(k);
        let r = self.recent[slot];
        if r.key == k && r.dest == from && now.saturating_sub(r.seen) < REFRESH_MS {
            return r.result;
        }
        let (result, seen) = self.learn_in_table(k, from, now);
        if result != Learn::Full {
            // Learning the same again now would find the entry in place behind `from`.
            let result = match result {
                Learn::Static | Learn::Conflict => result,
                _ => Learn::Refreshed,
            };
            self.recent[slot] = Recent {
                key: k,
                dest: from,
                seen,
                result,
            };
        }
        result
    }

    /// [`MacTable::learn`] in the table itself; also gives the entry's `last_seen` after it
    /// (`now` for a static entry or a refusal).
    #[inline]
    fn learn_in_table(&mut self, k: u64, from: Dest, now: Millis) -> (Learn, Millis) {
        let len = self.map.len();
        match self.map.get_mut(&k) {
            Some(e) if e.is_static && e.dest == from => (Learn::Static, now),
            Some(e) if e.is_static => (Learn::Conflict, now),
            Some(e) if e.dest == from => {
                if now.saturating_sub(e.last_seen) >= REFRESH_MS {
                    e.last_seen = now;
                }
                (Learn::Refreshed, e.last_seen)
            }
            Some(e) => {
                e.dest = from;
                e.last_seen = now;
                self.stats.moved += 1;
                self.generation = self.generation.wrapping_add(1);
                (Learn::Moved, now)
            }
            None if len >= self.conf.capacity => {
                self.stats.full += 1;
                (Learn::Full, now)
            }
            None => {
                let counters = self.counters.alloc();
                self.map.insert(
                    k,
                    HotEntry {
                        dest: from,
                        is_static: false,
                        last_seen: now,
                        counters,
                    },
                );
                self.stats.learned += 1;
                // A frame flooded to its one destination may have cached that egress
                // without counting towards this address: it resolves again.
                self.generation = self.generation.wrapping_add(1);
                (Learn::New, now)
            }
        }
    }

    /// Where frames for `mac` on `net` go, counting one frame of `bytes` towards the entry.
    #[inline]
    pub fn forward(&mut self, net: NetIdx, mac: Mac, bytes: usize) -> Option<Dest> {
        let e = self.map.get(&key(net, mac))?;
        self.counters.add(e.counters, bytes);
        Some(e.dest)
    }

    /// The counter slot of the entry for `mac` on `net`, for [`MacTable::count`].
    pub fn counter_slot(&self, net: NetIdx, mac: Mac) -> Option<u32> {
        self.map.get(&key(net, mac)).map(|e| e.counters)
    }

    /// Counts a frame of `bytes` towards counter slot `slot`, which the caller took from
    /// [`MacTable::counter_slot`] at the current [`MacTable::generation`].
    #[inline]
    pub fn count(&mut self, slot: u32, bytes: usize) {
        self.counters.add(slot, bytes);
    }

    /// The entry for `mac` on `net` with its counters, without counting.
    pub fn get(&self, net: NetIdx, mac: Mac) -> Option<MacEntry> {
        self.map.get(&key(net, mac)).map(|e| self.view(e))
    }

    /// An entry with its counters.
    fn view(&self, e: &HotEntry) -> MacEntry {
        let c = self.counters.get(e.counters);
        MacEntry {
            dest: e.dest,
            is_static: e.is_static,
            last_seen: e.last_seen,
            n_packets: c.packets,
            n_bytes: c.bytes,
        }
    }

    /// Removes learned entries not refreshed for `aging_secs`; returns how many.
    pub fn expire(&mut self, now: Millis) -> usize {
        let max_age = self.conf.aging_secs as Millis * 1000;
        self.recent.fill(EMPTY);
        let before = self.map.len();
        let counters = &mut self.counters;
        self.map.retain(|_, e| {
            let keep = e.is_static || now.saturating_sub(e.last_seen) < max_age;
            if !keep {
                counters.release(e.counters);
            }
            keep
        });
        let aged = before - self.map.len();
        self.stats.aged += aged as u64;
        if aged > 0 {
            self.generation = self.generation.wrapping_add(1);
        }
        aged
    }

    /// Brings the table in line with a new snapshot: its limits and static entries apply,
    /// and entries for networks, ports or peers that no longer exist are removed.
    pub fn apply(&mut self, snap: &Snapshot, now: Millis) {
        self.conf = snap.mac;
        self.recent.fill(EMPTY);
        self.generation = self.generation.wrapping_add(1);
        let wanted: hashbrown::HashSet<(u64, Dest)> = snap
            .static_macs
            .iter()
            .map(|&(net, mac, dest)| (key(net, mac), dest))
            .collect();
        // Static entries the snapshot keeps stay as they are, with their counters.
        let counters = &mut self.counters;
        self.map.retain(|&k, e| {
            let (net, _) = unkey(k);
            let keep = if e.is_static {
                wanted.contains(&(k, e.dest))
            } else {
                snap.network(net).is_some() && dest_exists(snap, net, e.dest)
            };
            if !keep {
                counters.release(e.counters);
            }
            keep
        });
        let entries = self
            .conf
            .capacity
            .max(self.map.len() + snap.static_macs.len());
        self.map.reserve(entries.saturating_sub(self.map.len()));
        self.counters.reserve(entries);
        for &(net, mac, dest) in &snap.static_macs {
            let installed = |counters| HotEntry {
                dest,
                is_static: true,
                last_seen: now,
                counters,
            };
            match self.map.entry(key(net, mac)) {
                Entry::Occupied(o) if o.get().is_static => {}
                Entry::Occupied(mut o) => {
                    let slot = o.get().counters;
                    self.counters.release(slot);
                    *o.get_mut() = installed(self.counters.alloc());
                }
                Entry::Vacant(v) => {
                    v.insert(installed(self.counters.alloc()));
                }
            }
        }
    }

    /// Every entry with its network, address and counters, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (NetIdx, Mac, MacEntry)> + '_ {
        self.map.iter().map(|(&k, e)| {
            let (net, mac) = unkey(k);
            (net, mac, self.view(e))
        })
    }
}

/// True if `dest` still leads somewhere on `net` in `snap`.
fn dest_exists(snap: &Snapshot, net: NetIdx, dest: Dest) -> bool {
    match dest {
        Dest::Port(p) => snap
            .network(net)
            .is_some_and(|n| n.members.iter().any(|&(m, _)| m == p)),
        Dest::Peer(ip) => snap.peers.contains_key(&ip),
        Dest::Local => snap.network(net).is_some_and(|n| !n.locals.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Mac = Mac([0xfa, 0x16, 0x3e, 0x75, 0xe0, 0x5a]);

    fn table(capacity: usize) -> MacTable {
        MacTable::new(MacTableConf {
            capacity,
            aging_secs: 300,
        })
    }

    #[test]
    fn key_round_trips() {
        assert_eq!(unkey(key(10, A)), (10, A));
        assert_eq!(unkey(key(4094, Mac::BROADCAST)), (4094, Mac::BROADCAST));
    }

    #[test]
    fn learn_refresh_move_and_count() {
        let mut t = table(4);
        assert_eq!(t.learn(10, A, Dest::Port(1), 0), Learn::New);
        assert_eq!(t.learn(10, A, Dest::Port(1), 5), Learn::Refreshed);
        assert_eq!(t.learn(10, A, Dest::Peer(7), 6), Learn::Moved);
        assert_eq!(t.forward(10, A, 60), Some(Dest::Peer(7)));
        assert_eq!(t.forward(11, A, 60), None, "networks are separate");
        let e = t.get(10, A).unwrap();
        assert_eq!((e.n_packets, e.n_bytes, e.last_seen), (1, 60, 6));
        assert_eq!(t.stats.learned, 1);
        assert_eq!(t.stats.moved, 1);
    }

    #[test]
    fn repeated_learns_answer_like_the_table() {
        let mut t = table(1);
        assert_eq!(t.learn(10, A, Dest::Port(1), 7), Learn::New);
        assert_eq!(t.learn(10, A, Dest::Port(1), 7), Learn::Refreshed);
        assert_eq!(t.learn(10, A, Dest::Port(2), 7), Learn::Moved);
        assert_eq!(t.learn(10, A, Dest::Port(2), 7), Learn::Refreshed);
        assert_eq!(t.learn(10, Mac::BROADCAST, Dest::Port(1), 7), Learn::Full);
        assert_eq!(t.learn(10, Mac::BROADCAST, Dest::Port(1), 7), Learn::Full);
        assert_eq!((t.stats.learned, t.stats.moved, t.stats.full), (1, 1, 2));
        t.expire(300_007);
        assert!(t.is_empty());
        assert_eq!(t.learn(10, A, Dest::Port(2), 300_007), Learn::New);
    }

    #[test]
    fn static_entries_never_move_and_report_conflicts() {
        use crate::tables::Snapshot;
        let snap = Snapshot {
            static_macs: vec![(10, A, Dest::Port(1))],
            ..Snapshot::default()
        };
        let mut t = table(4);
        t.apply(&snap, 0);
        assert_eq!(t.learn(10, A, Dest::Port(1), 1), Learn::Static);
        assert_eq!(t.learn(10, A, Dest::Peer(7), 2), Learn::Conflict);
        assert_eq!(t.learn(10, A, Dest::Peer(7), 2), Learn::Conflict, "cached");
        assert_eq!(t.learn(10, A, Dest::Port(2), 2), Learn::Conflict);
        assert_eq!(t.learn(10, A, Dest::Port(1), 2), Learn::Static);
        let e = t.get(10, A).unwrap();
        assert_eq!((e.dest, e.is_static), (Dest::Port(1), true));
        assert_eq!(t.stats.moved, 0);
    }

    #[test]
    fn full_table_refuses_and_counts() {
        let mut t = table(1);
        assert_eq!(t.learn(10, A, Dest::Port(1), 0), Learn::New);
        assert_eq!(t.learn(10, Mac::BROADCAST, Dest::Port(1), 0), Learn::Full);
        assert_eq!(
            t.learn(10, A, Dest::Port(2), 0),
            Learn::Moved,
            "known ones still move"
        );
        assert_eq!((t.len(), t.stats.full), (1, 1));
    }

    #[test]
    fn republishing_keeps_static_counters_and_drops_removed_statics() {
        use crate::tables::{NetConf, Snapshot};
        let mut snap = Snapshot {
            networks: vec![None; 11],
            static_macs: vec![(10, A, Dest::Port(1))],
            ..Snapshot::default()
        };
        snap.networks[10] = Some(NetConf {
            id: String::new(),
            name: String::new(),
            local_vlan: 10,
            tunnel_key: None,
            mtu: 1500,
            members: vec![(1, None)],
            locals: vec![],
        });
        let mut t = table(8);
        t.apply(&snap, 0);
        t.forward(10, A, 60);
        t.apply(&snap, 5);
        assert_eq!(t.get(10, A).unwrap().n_packets, 1);
        snap.static_macs.clear();
        t.apply(&snap, 6);
        assert!(t.get(10, A).is_none());
    }

    #[test]
    fn aging_removes_only_stale_learned_entries() {
        let mut t = table(8);
        t.learn(10, A, Dest::Port(1), 0);
        t.learn(10, Mac([2, 0, 0, 0, 0, 1]), Dest::Port(1), 200_000);
        assert_eq!(t.expire(299_999), 0);
        assert_eq!(t.expire(300_000), 1);
        assert!(t.get(10, A).is_none());
        assert_eq!(t.stats.aged, 1);
    }

    #[test]
    fn last_seen_is_rewritten_at_most_once_a_second() {
        let mut t = table(4);
        let seen = |t: &MacTable| t.get(10, A).unwrap().last_seen;
        assert_eq!(t.learn(10, A, Dest::Port(1), 0), Learn::New);
        for now in [1, 500, 999] {
            assert_eq!(t.learn(10, A, Dest::Port(1), now), Learn::Refreshed);
            assert_eq!(seen(&t), 0, "at {now}");
        }
        assert_eq!(t.learn(10, A, Dest::Port(1), 1000), Learn::Refreshed);
        assert_eq!(seen(&t), 1000);
        // The same from the table itself, with the recent-learn filter emptied.
        assert_eq!(t.expire(1500), 0);
        assert_eq!(t.learn(10, A, Dest::Port(1), 1500), Learn::Refreshed);
        assert_eq!(seen(&t), 1000);
        assert_eq!(t.expire(1999), 0);
        assert_eq!(t.learn(10, A, Dest::Port(1), 2000), Learn::Refreshed);
        assert_eq!(seen(&t), 2000);
        // A move is written at once.
        assert_eq!(t.learn(10, A, Dest::Port(2), 2001), Learn::Moved);
        assert_eq!(
            (t.get(10, A).unwrap().dest, seen(&t)),
            (Dest::Port(2), 2001)
        );
        assert_eq!(t.learn(10, A, Dest::Port(2), 2002), Learn::Refreshed);
        assert_eq!(seen(&t), 2001);
    }

    #[test]
    fn an_entry_ages_out_within_a_second_of_aging_after_its_last_frame() {
        let mut t = table(4);
        for now in (0..=10_500).step_by(100) {
            t.learn(10, A, Dest::Port(1), now);
        }
        // Last frame at 10.5 s, aging 300 s: gone at 310.5 s, not before 309.5 s.
        assert_eq!(t.expire(309_500), 0);
        assert!(t.get(10, A).is_some());
        assert_eq!(t.expire(310_500), 1);
        assert!(t.get(10, A).is_none());
    }

    #[test]
    fn counters_live_apart_and_a_reused_slot_starts_from_zero() {
        let mut t = table(2);
        let slots = t.counters.slots.capacity();
        t.learn(10, A, Dest::Port(1), 0);
        for _ in 0..3 {
            assert_eq!(t.forward(10, A, 100), Some(Dest::Port(1)));
        }
        t.learn(10, A, Dest::Port(1), 2000);
        let e = t.get(10, A).unwrap();
        assert_eq!((e.n_packets, e.n_bytes, e.last_seen), (3, 300, 2000));
        assert_eq!(t.expire(302_000), 1);
        let b = Mac([2, 0, 0, 0, 0, 1]);
        t.learn(10, b, Dest::Port(1), 302_000);
        let e = t.get(10, b).unwrap();
        assert_eq!((e.n_packets, e.n_bytes), (0, 0));
        // Churn through the table: slots are reused, nothing grows.
        for round in 0..100u8 {
            let now = 302_000 + 400_000 * (Millis::from(round) + 1);
            for i in 0..3 {
                t.learn(10, Mac([2, 0, 0, 0, round, i]), Dest::Port(1), now);
            }
            assert_eq!(t.len(), 2);
            assert_eq!(t.expire(now + 300_000), 2);
        }
        assert!(t.counters.slots.len() <= 2);
        assert_eq!(t.counters.slots.capacity(), slots);
        assert!(
            std::mem::size_of::<(u64, HotEntry)>() <= 32,
            "a hot entry and its key"
        );
    }
}
