//! The neighbour (ARP) cache of one L2 segment, with a bounded queue of frames held while an
//! address is being resolved (RFC 1122 §2.3.2.2: save at least one, the latest, packet).

use super::Millis;
use crate::wire::Mac;
use hashbrown::HashMap;

/// Frames held per unresolved address at most.
pub const HOLD_PER_ENTRY: usize = 4;
/// Unresolved addresses at most (each may hold frames).
pub const MAX_PENDING: usize = 256;
/// Resolved addresses at most.
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
    /// Known from the model: never asked for, never expires.
    pub is_static: bool,
    held: Vec<F>,
}

/// Outcome of [`Neighbours::hold`].
#[derive(Debug, PartialEq, Eq)]
pub enum Hold<F> {
    /// Held; send an ARP request now if true (first frame for the address).
    Held(bool),
    /// Not held: the queue or the pending table is full; the frame comes back to be dropped.
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

/// Neighbours by IPv4 address (host byte order).
#[derive(Debug)]
pub struct Neighbours<F> {
    map: HashMap<u32, Neighbour<F>>,
    pending: usize,
}

impl<F> Default for Neighbours<F> {
    fn default() -> Self {
        Neighbours {
            map: HashMap::default(),
            pending: 0,
        }
    }
}

impl<F> Neighbours<F> {
    /// The MAC address of `ip`, if resolved.
    #[inline]
    pub fn lookup(&self, ip: u32) -> Option<Mac> {
        self.map.get(&ip).and_then(|n| n.mac)
    }

    /// Holds `frame` until `ip` resolves.
    pub fn hold(&mut self, ip: u32, frame: F, now: Millis) -> Hold<F> {
        if let Some(n) = self.map.get_mut(&ip) {
            if n.held.len() >= HOLD_PER_ENTRY {
                return Hold::Full(frame);
            }
            n.held.push(frame);
            return Hold::Held(false);
        }
        if self.pending >= MAX_PENDING || self.map.len() >= MAX_ENTRIES {
            return Hold::Full(frame);
        }
        let mut held = Vec::with_capacity(HOLD_PER_ENTRY);
        held.push(frame);
        self.map.insert(
            ip,
            Neighbour {
                mac: None,
                updated: now,
                requested: now,
                requests: 1,
                is_static: false,
                held,
            },
        );
        self.pending += 1;
        Hold::Held(true)
    }

    /// Records that `ip` is at `mac` (from an ARP request or reply it sent). Creates the entry
    /// only if `create` (it was asked for, or is a configured next hop); returns the frames
    /// that were waiting for it.
    pub fn confirm(&mut self, ip: u32, mac: Mac, now: Millis, create: bool) -> Vec<F> {
        match self.map.get_mut(&ip) {
            Some(n) => {
                if n.mac.is_none() {
                    self.pending -= 1;
                }
                n.mac = Some(mac);
                n.updated = now;
                n.requests = 0;
                std::mem::take(&mut n.held)
            }
            None => {
                if create && self.map.len() < MAX_ENTRIES {
                    self.map.insert(
                        ip,
                        Neighbour {
                            mac: Some(mac),
                            updated: now,
                            requested: 0,
                            requests: 0,
                            is_static: false,
                            held: Vec::new(),
                        },
                    );
                }
                Vec::new()
            }
        }
    }

    /// Retries, refreshes and expires entries; call about once a second.
    pub fn tick(&mut self, now: Millis) -> TickOut<F> {
        let mut out = TickOut {
            requests: Vec::new(),
            expired: Vec::new(),
        };
        let mut gone_pending = 0;
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
                return false;
            }
            true
        });
        self.pending -= gone_pending;
        out
    }

    /// Replaces the static entries with `entries` (address, MAC), as the model gives them
    /// (an ARP responder in the spirit of Neutron's l2population: no broadcast is needed to
    /// reach a port the model knows). Returns frames that were waiting for an address that
    /// is now static, for the caller to drop and count.
    pub fn set_static(&mut self, entries: &[(u32, Mac)], now: Millis) -> Vec<F> {
        self.map.retain(|_, n| !n.is_static);
        let mut released = Vec::new();
        for &(ip, mac) in entries {
            let n = self.map.entry(ip).or_insert(Neighbour {
                mac: None,
                updated: now,
                requested: 0,
                requests: 0,
                is_static: true,
                held: Vec::new(),
            });
            if n.mac.is_none() && !n.held.is_empty() {
                self.pending -= 1;
            }
            n.mac = Some(mac);
            n.is_static = true;
            released.append(&mut n.held);
        }
        released
    }

    /// Every neighbour with its address.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &Neighbour<F>)> {
        self.map.iter().map(|(&ip, n)| (ip, n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: Mac = Mac([0x52, 0x54, 0, 0, 1, 0x31]);

    #[test]
    fn hold_then_confirm_releases_frames_in_order() {
        let mut n = Neighbours::default();
        assert_eq!(n.hold(31, 'a', 0), Hold::Held(true));
        assert_eq!(n.hold(31, 'b', 1), Hold::Held(false));
        assert_eq!(n.lookup(31), None);
        assert_eq!(n.confirm(31, M, 2, false), vec!['a', 'b']);
        assert_eq!(n.lookup(31), Some(M));
    }

    #[test]
    fn queue_is_bounded() {
        let mut n = Neighbours::default();
        for i in 0..HOLD_PER_ENTRY {
            assert!(matches!(n.hold(31, i, 0), Hold::Held(_)));
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
        assert_eq!(
            n.hold(31, 'c', 3001),
            Hold::Held(true),
            "pending slot was freed"
        );
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
}
