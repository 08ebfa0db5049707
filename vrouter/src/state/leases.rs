//! The leases the DHCP stage granted, for views: (network, MAC) → address, when granted and
//! when it expires. Addresses come from static bindings, so this table decides nothing; it
//! records what clients were told. Owned by one worker; bounded: when full, a new client is
//! not recorded (its ACK still goes out) and the refusal counts.

use super::Millis;
use crate::tables::NetIdx;
use crate::wire::Mac;
use hashbrown::HashMap;

/// Leases recorded at most per worker.
pub const CAPACITY: usize = 8192;

/// One granted lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The leased address (host byte order).
    pub ip: u32,
    /// When the last ACK was sent.
    pub granted: Millis,
    /// When the lease runs out unless renewed.
    pub expires: Millis,
}

/// Counters of the table's own events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LeaseStats {
    /// Leases removed because they ran out.
    pub expired: u64,
    /// Leases not recorded because the table was full.
    pub full: u64,
}

/// The lease table of one worker.
#[derive(Debug)]
pub struct Leases {
    map: HashMap<(NetIdx, Mac), Lease>,
    capacity: usize,
    /// Event counters.
    pub stats: LeaseStats,
}

impl Default for Leases {
    fn default() -> Self {
        Leases::new(CAPACITY)
    }
}

impl Leases {
    /// An empty table for `capacity` leases, allocated up front.
    pub fn new(capacity: usize) -> Self {
        Leases {
            map: HashMap::with_capacity(capacity),
            capacity,
            stats: LeaseStats::default(),
        }
    }

    /// Records an ACK of `ip` to `mac` on `net` at `now` for `secs` seconds.
    pub fn grant(&mut self, net: NetIdx, mac: Mac, ip: u32, now: Millis, secs: u32) {
        let lease = Lease {
            ip,
            granted: now,
            expires: now.saturating_add(u64::from(secs) * 1000),
        };
        let len = self.map.len();
        match self.map.get_mut(&(net, mac)) {
            Some(l) => *l = lease,
            None if len >= self.capacity => self.stats.full += 1,
            None => {
                self.map.insert((net, mac), lease);
            }
        }
    }

    /// Forgets the lease of `mac` on `net` (RELEASE, DECLINE).
    pub fn remove(&mut self, net: NetIdx, mac: Mac) {
        self.map.remove(&(net, mac));
    }

    /// Removes the leases that ran out before `now`.
    pub fn expire(&mut self, now: Millis) {
        let before = self.map.len();
        self.map.retain(|_, l| l.expires > now);
        self.stats.expired += (before - self.map.len()) as u64;
    }

    /// The lease of `mac` on `net`, if recorded.
    pub fn get(&self, net: NetIdx, mac: Mac) -> Option<&Lease> {
        self.map.get(&(net, mac))
    }

    /// Every lease, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (NetIdx, Mac, &Lease)> + '_ {
        self.map.iter().map(|(&(n, m), l)| (n, m, l))
    }

    /// Number of leases.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True if no lease is recorded.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Mac = Mac([0xfa, 0x16, 0x3e, 0x75, 0xe0, 0x5a]);
    const B: Mac = Mac([0xfa, 0x16, 0x3e, 0x51, 0xa2, 0x97]);

    #[test]
    fn grant_renew_release_expire_and_bound() {
        let mut l = Leases::new(1);
        l.grant(10, A, 0x0a00000a, 1000, 60);
        assert_eq!(
            l.get(10, A),
            Some(&Lease {
                ip: 0x0a00000a,
                granted: 1000,
                expires: 61_000
            })
        );
        // Full: B is not recorded; A renews in place.
        l.grant(10, B, 0x0a000009, 2000, 60);
        assert_eq!((l.len(), l.stats.full), (1, 1));
        l.grant(10, A, 0x0a00000a, 30_000, 60);
        assert_eq!(l.get(10, A).unwrap().expires, 90_000);
        l.expire(89_999);
        assert_eq!(l.iter().count(), 1);
        l.expire(90_000);
        assert!(l.is_empty());
        assert_eq!(l.stats.expired, 1);
        l.grant(11, B, 1, 0, u32::MAX);
        l.remove(11, B);
        assert!(l.is_empty());
    }
}
