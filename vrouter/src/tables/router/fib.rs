//! A router's forwarding table: a multibit trie of stride 8 over IPv4 destinations, with
//! leaf pushing (controlled prefix expansion), in one flat array of 256-slot nodes.
//!
//! It is built once when the router is compiled; a lookup reads one slot per address byte
//! (at most four, one for destinations only a route of length ≤ 8 covers), follows no
//! pointer outside the array and allocates nothing. The longest matching prefix wins (the
//! rule of RFC 1812 §5.2.4.3); of routes with the same prefix and length, the first given.

use super::{mask, Route, RouterPortIdx};

/// Slots per node: one per value of an address byte.
const FANOUT: usize = 256;
/// Address bits a node consumes.
const STRIDE: u32 = 8;
/// Tag of a slot that holds the index of a child node; otherwise a slot holds the index of
/// its next hop plus one, or 0 for "no route".
const CHILD: u32 = 1 << 31;

/// What a matched route gives: its egress port and next hop (`None`: connected).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Hop {
    port: RouterPortIdx,
    via: Option<u32>,
}

/// The compiled forwarding table of one router.
#[derive(Clone, Default)]
pub struct Fib {
    /// Nodes of [`FANOUT`] slots each; node 0, the root, is indexed by the first byte.
    slots: Vec<u32>,
    /// The next hops slots refer to.
    hops: Vec<Hop>,
}

impl std::fmt::Debug for Fib {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fib")
            .field("nodes", &(self.slots.len() / FANOUT))
            .field("hops", &self.hops.len())
            .finish()
    }
}

impl Fib {
    /// The table of `routes` (in any order). A route whose prefix has bits set beyond its
    /// length matches no address and is left out.
    pub fn build(routes: &[Route]) -> Fib {
        let mut order: Vec<usize> = (0..routes.len())
            .filter(|&i| routes[i].len <= 32 && routes[i].prefix & !mask(routes[i].len) == 0)
            .collect();
        // Shortest first, so that a longer route overwrites the slots it shares with a
        // shorter one; of equal routes the first given is inserted last and stays.
        order.sort_by_key(|&i| (routes[i].len, std::cmp::Reverse(i)));
        let mut fib = Fib {
            slots: vec![0; FANOUT],
            hops: Vec::new(),
        };
        for i in order {
            let r = &routes[i];
            fib.hops.push(Hop {
                port: r.port,
                via: r.via,
            });
            let hop = fib.hops.len() as u32;
            fib.insert(r.prefix, r.len, hop);
        }
        fib
    }

    /// Writes slot value `hop` for every address of `prefix/len`, creating the nodes a
    /// length beyond a node's stride needs. Routes come shortest first, so the slots a
    /// route covers in its last node never point to a child yet.
    fn insert(&mut self, prefix: u32, len: u8, hop: u32) {
        let len = u32::from(len);
        let mut node = 0;
        let mut depth = STRIDE;
        while len > depth {
            let at = node * FANOUT + byte(prefix, depth - STRIDE);
            let slot = self.slots[at];
            node = if slot & CHILD != 0 {
                (slot & !CHILD) as usize
            } else {
                // The new node inherits what the slot matched (leaf pushing).
                let child = self.slots.len() / FANOUT;
                self.slots.extend(std::iter::repeat_n(slot, FANOUT));
                self.slots[at] = CHILD | child as u32;
                child
            };
            depth += STRIDE;
        }
        let first = byte(prefix, depth - STRIDE);
        let span = 1usize << (depth - len);
        let base = node * FANOUT + first;
        self.slots[base..base + span].fill(hop);
    }

    /// The longest-prefix match for `dst`: egress port and next hop (`dst` itself for a
    /// connected route).
    #[inline]
    pub fn lookup(&self, dst: u32) -> Option<(RouterPortIdx, u32)> {
        let mut node = 0;
        let mut depth = 0;
        loop {
            let slot = *self.slots.get(node * FANOUT + byte(dst, depth))?;
            if slot & CHILD == 0 {
                let hop = self.hops.get(slot.checked_sub(1)? as usize)?;
                return Some((hop.port, hop.via.unwrap_or(dst)));
            }
            node = (slot & !CHILD) as usize;
            depth += STRIDE;
        }
    }
}

/// The address byte that starts `depth` bits from the most significant end.
#[inline]
fn byte(addr: u32, depth: u32) -> usize {
    ((addr >> (24 - depth)) & 0xff) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(a: [u8; 4]) -> u32 {
        u32::from_be_bytes(a)
    }

    fn route(prefix: u32, len: u8, via: Option<u32>, port: RouterPortIdx) -> Route {
        Route {
            prefix,
            len,
            via,
            port,
        }
    }

    /// The longest prefix by scan: of the longest matching routes the first given.
    fn reference(routes: &[Route], dst: u32) -> Option<(RouterPortIdx, u32)> {
        let mut best: Option<&Route> = None;
        for r in routes {
            if dst & mask(r.len) == r.prefix && best.is_none_or(|b| r.len > b.len) {
                best = Some(r);
            }
        }
        best.map(|r| (r.port, r.via.unwrap_or(dst)))
    }

    /// xorshift64: a fixed, reproducible sequence.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 16) as u32
        }
    }

    #[test]
    fn an_empty_table_matches_nothing() {
        for fib in [Fib::default(), Fib::build(&[])] {
            assert_eq!(fib.lookup(0), None);
            assert_eq!(fib.lookup(u32::MAX), None);
        }
    }

    #[test]
    fn a_default_route_matches_every_address_and_a_host_route_one() {
        let gw = ip([10, 1, 101, 254]);
        let host = ip([192, 0, 2, 7]);
        let fib = Fib::build(&[route(0, 0, Some(gw), 1), route(host, 32, None, 0)]);
        for dst in [0, 1, ip([8, 8, 8, 8]), host - 1, host + 1, u32::MAX] {
            assert_eq!(fib.lookup(dst), Some((1, gw)), "{dst:#x}");
        }
        assert_eq!(fib.lookup(host), Some((0, host)));
    }

    #[test]
    fn overlapping_prefixes_give_the_longest_and_ties_the_first() {
        let routes = [
            route(ip([10, 0, 0, 0]), 8, Some(1), 0),
            route(ip([10, 0, 0, 0]), 24, None, 1),
            route(ip([10, 0, 0, 128]), 25, Some(2), 2),
            route(ip([10, 0, 0, 0]), 24, Some(3), 3),
            route(ip([10, 0, 0, 200]), 30, Some(4), 4),
            route(ip([10, 0, 0, 0]), 12, Some(5), 5),
        ];
        let fib = Fib::build(&routes);
        let at = |a| fib.lookup(ip(a));
        assert_eq!(at([10, 0, 0, 9]), Some((1, ip([10, 0, 0, 9]))));
        assert_eq!(at([10, 0, 0, 130]), Some((2, 2)));
        assert_eq!(at([10, 0, 0, 202]), Some((4, 4)));
        assert_eq!(at([10, 0, 0, 204]), Some((2, 2)));
        assert_eq!(at([10, 0, 1, 0]), Some((5, 5)));
        assert_eq!(at([10, 16, 0, 0]), Some((0, 1)));
        assert_eq!(at([11, 0, 0, 0]), None);
    }

    #[test]
    fn a_prefix_with_host_bits_matches_nothing_as_the_scan() {
        let routes = [route(ip([10, 0, 0, 5]), 24, None, 0)];
        let fib = Fib::build(&routes);
        for dst in [ip([10, 0, 0, 5]), ip([10, 0, 0, 0])] {
            assert_eq!(fib.lookup(dst), None);
            assert_eq!(reference(&routes, dst), None);
        }
    }

    #[test]
    fn random_tables_agree_with_the_longest_prefix_by_scan() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for table in 0..200 {
            let count = [1, 4, 16, 100, 1000][table % 5];
            // Prefixes drawn near a few bases, so that they overlap and nest.
            let bases: Vec<u32> = (0..4).map(|_| rng.next()).collect();
            let routes: Vec<Route> = (0..count)
                .map(|i| {
                    let len = (rng.next() % 33) as u8;
                    let addr = bases[i % 4] ^ (rng.next() >> (rng.next() % 32));
                    let via = (rng.next() & 1 == 0).then(|| rng.next());
                    route(addr & mask(len), len, via, i)
                })
                .collect();
            let fib = Fib::build(&routes);
            for _ in 0..2000 {
                let dst = match rng.next() % 3 {
                    0 => rng.next(),
                    1 => bases[rng.next() as usize % 4] ^ (rng.next() >> (rng.next() % 32)),
                    _ => routes[rng.next() as usize % count].prefix ^ (rng.next() & 1),
                };
                assert_eq!(
                    fib.lookup(dst),
                    reference(&routes, dst),
                    "table {table} dst {dst:#010x}"
                );
            }
        }
    }
}
