//! The conntrack key index: a key's hash to the slot values (session and direction) whose
//! key may be it, in cache-line buckets allocated at the table's capacity.
//!
//! Every key has two candidate buckets of eight entries (64 bytes each), both derived from
//! its hash, and goes into the emptier one ("two choices": at most half full, buckets
//! almost never overflow; the few keys whose buckets are both full go to a small stash).
//! An entry holds a 32-bit signature of the hash and the value; the key itself is the
//! session's, so a lookup reads the two buckets and then the session it matches, the one
//! line it needs anyway. Both buckets follow from the hash alone, so a vector hashes its
//! keys, prefetches every bucket, then reads them (see [`KeyIndex::prefetch`]). Removal
//! frees the entry outright (no tombstone), so the index never needs rebuilding as
//! sessions come and go, and nothing here allocates after [`KeyIndex::with_keys`].

use super::super::huge_pages::HugePages;
use super::super::prefetch::prefetch;
use super::FlowKey;
use core::hash::BuildHasher;
use hashbrown::DefaultHashBuilder;

/// Entries per bucket: eight signatures and eight values fill one cache line.
const WAYS: usize = 8;
/// A free entry's value.
const EMPTY: u32 = u32::MAX;
/// Keys at most kept in the stash (both their buckets were full when they came).
const STASH_MAX: usize = 64;

/// One cache line of entries.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct Bucket {
    sig: [u32; WAYS],
    val: [u32; WAYS],
}

const EMPTY_BUCKET: Bucket = Bucket {
    sig: [0; WAYS],
    val: [EMPTY; WAYS],
};

/// The ways of `bucket` whose signature is `sig`, one bit each (a loop the compiler turns
/// into one vector compare).
#[inline(always)]
fn matching(bucket: &Bucket, sig: u32) -> u32 {
    let mut ways = 0;
    for (w, &s) in bucket.sig.iter().enumerate() {
        ways |= u32::from(s == sig) << w;
    }
    ways
}

/// A key's hash, from which its buckets and signature follow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyHash(u64);

impl KeyHash {
    /// The signature entries of this key carry.
    #[inline]
    fn sig(self) -> u32 {
        (self.0 >> 20) as u32
    }
}

/// The index is full: both buckets and the stash have no room for the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexFull;

/// Keys to slot values, in buckets of one cache line (see the module).
#[derive(Debug)]
pub struct KeyIndex {
    buckets: allocator_api2::vec::Vec<Bucket, HugePages>,
    mask: usize,
    stash: Vec<(KeyHash, u32)>,
    len: usize,
    hasher: DefaultHashBuilder,
}

impl KeyIndex {
    /// An empty index for `keys` keys: at least two entries a key, so at most half full.
    pub fn with_keys(keys: usize) -> Self {
        let count = keys.div_ceil(WAYS / 2).next_power_of_two().max(2);
        let mut buckets =
            allocator_api2::vec::Vec::with_capacity_in(count, HugePages::new("conntrack keys"));
        buckets.resize(count, EMPTY_BUCKET);
        KeyIndex {
            buckets,
            mask: count - 1,
            stash: Vec::with_capacity(STASH_MAX),
            len: 0,
            hasher: DefaultHashBuilder::default(),
        }
    }

    /// Keys held.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Entries the buckets have (twice the keys the index was made for, or more).
    pub fn entries(&self) -> usize {
        self.buckets.len() * WAYS
    }

    /// Bytes the buckets take.
    #[cfg(test)]
    pub fn allocation_size(&self) -> usize {
        self.buckets.len() * core::mem::size_of::<Bucket>()
    }

    /// The hash of `key`.
    #[inline(always)]
    pub fn hash(&self, key: &FlowKey) -> KeyHash {
        KeyHash(self.hasher.hash_one(key))
    }

    /// The two buckets of a hash (distinct: the second differs in its lowest bit at least).
    #[inline(always)]
    fn pair(&self, h: KeyHash) -> (usize, usize) {
        let first = h.0 as usize & self.mask;
        let second = (h.0 >> 40) as usize & self.mask;
        (first, if second == first { first ^ 1 } else { second })
    }

    /// Asks for the cache lines of both buckets of `h`.
    #[inline]
    pub fn prefetch(&self, h: KeyHash) {
        let (a, b) = self.pair(h);
        prefetch(&self.buckets[a], core::mem::size_of::<Bucket>());
        prefetch(&self.buckets[b], core::mem::size_of::<Bucket>());
    }

    /// The first value whose signature matches `h`'s that `is_key` accepts (the key is
    /// one of the candidates or none).
    #[inline(always)]
    pub fn find(&self, h: KeyHash, mut is_key: impl FnMut(u32) -> bool) -> Option<u32> {
        let (a, b) = self.pair(h);
        let sig = h.sig();
        for i in [a, b] {
            let bucket = &self.buckets[i];
            let mut ways = matching(bucket, sig);
            while ways != 0 {
                let v = bucket.val[ways.trailing_zeros() as usize];
                ways &= ways - 1;
                if v != EMPTY && is_key(v) {
                    return Some(v);
                }
            }
        }
        if self.stash.is_empty() {
            return None;
        }
        let stashed = self.stash.iter().filter(|(s, _)| *s == h);
        stashed.map(|&(_, v)| v).find(|&v| is_key(v))
    }

    /// Calls `f` with each value whose signature matches `h`'s.
    #[inline]
    pub fn candidates(&self, h: KeyHash, mut f: impl FnMut(u32)) {
        self.find(h, |v| {
            f(v);
            false
        });
    }

    /// Adds `val` under `h`, in the emptier of its buckets (the stash if both are full).
    pub fn insert(&mut self, h: KeyHash, val: u32) -> Result<(), IndexFull> {
        let (a, b) = self.pair(h);
        let free = |i: usize| self.buckets[i].val.iter().filter(|&&v| v == EMPTY).count();
        let (fa, fb) = (free(a), free(b));
        let target = if fa >= fb { a } else { b };
        if fa.max(fb) > 0 {
            let bucket = &mut self.buckets[target];
            if let Some(w) = bucket.val.iter().position(|&v| v == EMPTY) {
                bucket.sig[w] = h.sig();
                bucket.val[w] = val;
            }
        } else if self.stash.len() < STASH_MAX {
            self.stash.push((h, val));
        } else {
            return Err(IndexFull);
        }
        self.len += 1;
        Ok(())
    }

    /// Removes the entry of `val` under `h`; false if there is none.
    pub fn remove(&mut self, h: KeyHash, val: u32) -> bool {
        let (a, b) = self.pair(h);
        for i in [a, b] {
            let bucket = &mut self.buckets[i];
            if let Some(w) = (0..WAYS).find(|&w| bucket.val[w] == val && bucket.sig[w] == h.sig()) {
                bucket.val[w] = EMPTY;
                self.len -= 1;
                return true;
            }
        }
        if let Some(at) = self.stash.iter().position(|&e| e == (h, val)) {
            self.stash.swap_remove(at);
            self.len -= 1;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u32) -> FlowKey {
        FlowKey {
            zone: 1,
            proto: 17,
            src: n,
            dst: 7,
            sport: 1000,
            dport: 53,
        }
    }

    #[test]
    fn keys_found_by_their_hash_and_gone_once_removed() {
        let mut index = KeyIndex::with_keys(1000);
        let keys: Vec<FlowKey> = (0..1000).map(key).collect();
        for (v, k) in keys.iter().enumerate() {
            index.insert(index.hash(k), v as u32).unwrap();
        }
        assert_eq!(index.len(), 1000);
        for (v, k) in keys.iter().enumerate() {
            let found = index.find(index.hash(k), |c| keys[c as usize] == *k);
            assert_eq!(found, Some(v as u32));
        }
        assert_eq!(index.find(index.hash(&key(5000)), |_| true), None);
        for (v, k) in keys.iter().enumerate().step_by(2) {
            assert!(index.remove(index.hash(k), v as u32));
        }
        assert!(!index.remove(index.hash(&keys[0]), 0), "removed once only");
        assert_eq!(index.len(), 500);
        for (v, k) in keys.iter().enumerate() {
            let found = index.find(index.hash(k), |c| keys[c as usize] == *k);
            assert_eq!(found.is_some(), v % 2 == 1);
        }
    }

    #[test]
    fn keys_of_full_buckets_go_to_the_stash_and_then_the_index_says_full() {
        // Two buckets: every key has both, so 16 fill them and the next go to the stash.
        let mut index = KeyIndex::with_keys(1);
        assert_eq!(index.entries(), 2 * WAYS);
        let keys: Vec<FlowKey> = (0..(2 * WAYS + STASH_MAX) as u32).map(key).collect();
        for (v, k) in keys.iter().enumerate() {
            index.insert(index.hash(k), v as u32).unwrap();
        }
        assert_eq!(index.stash.len(), STASH_MAX);
        assert_eq!(index.insert(index.hash(&key(9999)), 9999), Err(IndexFull));
        for (v, k) in keys.iter().enumerate() {
            let found = index.find(index.hash(k), |c| keys[c as usize] == *k);
            assert_eq!(found, Some(v as u32), "key {v}");
        }
        let last = keys.len() - 1;
        assert!(index.remove(index.hash(&keys[last]), last as u32));
        assert!(index.insert(index.hash(&key(9999)), 9999).is_ok());
    }

    #[test]
    fn a_bucket_is_one_cache_line() {
        assert_eq!(core::mem::size_of::<Bucket>(), 64);
        assert_eq!(core::mem::align_of::<Bucket>(), 64);
    }
}
