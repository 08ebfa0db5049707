//! Resolved egresses of the routers (adjacencies): for a router port and a next hop, the
//! device a routed frame leaves by and the header bytes in front of its IPv4 packet there
//! (Ethernet, with the egress tag, or the outer Ethernet, IPv4 and GRE headers and the inner
//! Ethernet of a tunnel peer), as the slow path last built them.
//!
//! An entry is valid at one generation of the worker's forwarding state (the snapshot, the
//! MAC table and the neighbour tables each count their changes; their sum is the
//! generation). A session links each direction to an entry at a generation ([`Link`]);
//! the link is used only while that generation, the entry's and the current one agree, so
//! any change that could alter a resolution sends the next packet of every flow through the
//! slow path once, which records the entry again. The table is bounded; when it is full it
//! is emptied and the generation moves on (every flow resolves again).

use crate::tables::PortIdx;
use hashbrown::HashMap;

/// Longest header an entry holds: outer Ethernet + IPv4 + GRE with key, inner Ethernet.
pub const HEADER_MAX: usize = 56;

/// Entries the table holds before it starts again.
pub const CAPACITY: usize = 4096;

/// What identifies a resolution: the router, its port and the next hop's address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    /// The router.
    pub router: u16,
    /// The router port the packet leaves by.
    pub port: u16,
    /// The next hop (the destination itself when on-link).
    pub next_hop: u32,
}

/// A session direction's reference to an entry, made at a generation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Link {
    /// The entry's slot.
    pub slot: u32,
    /// The generation it was made at; 0 never matches.
    pub gen: u32,
}

/// How the header is completed per packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encap {
    /// An Ethernet header (802.1Q tagged or not): nothing changes per packet.
    Ethernet,
    /// A GRE tunnel: the outer IPv4 total length, identification and checksum are set per
    /// packet (the stored header has them 0, its checksum computed so).
    Gre,
}

/// One resolved egress.
#[derive(Clone, Copy, Debug)]
pub struct Egress {
    /// The generation it is valid at; 0 while not recorded.
    pub gen: u32,
    /// Largest IPv4 packet it carries (the router port's MTU, and the underlay's for a
    /// tunnel); larger ones take the slow path (fragmentation, frag needed).
    pub max_ip_len: u16,
    /// The device.
    pub device: PortIdx,
    /// How the header is completed.
    pub encap: Encap,
    /// Header bytes in use.
    pub len: u8,
    /// The MAC table's counter slot of the next hop's entry (none when the frame was
    /// flooded to its one destination, its MAC not learned).
    pub mac_counter: Option<u32>,
    /// The header, `len` bytes.
    pub header: [u8; HEADER_MAX],
}

/// What the node that sent a frame resolved, to record for its slot.
#[derive(Clone, Copy, Debug)]
pub struct Resolved<'a> {
    /// The generation the router resolved the frame at.
    pub gen: u32,
    /// The device it was sent on.
    pub device: PortIdx,
    /// How the header is completed per packet.
    pub encap: Encap,
    /// The header in front of the IPv4 packet, as sent (for GRE, with the outer total
    /// length, identification and checksum still to be normalised).
    pub header: &'a [u8],
    /// Largest IPv4 packet the device's side takes (the underlay's MTU for a tunnel).
    pub ip_limit: u16,
    /// The MAC table's counter slot of the next hop's entry (none when the frame was
    /// flooded to its one destination, its MAC not learned).
    pub mac_counter: Option<u32>,
}

impl Egress {
    const EMPTY: Egress = Egress {
        gen: 0,
        max_ip_len: 0,
        device: 0,
        encap: Encap::Ethernet,
        len: 0,
        mac_counter: None,
        header: [0; HEADER_MAX],
    };
}

/// Counters of the table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AdjacencyStats {
    /// Entries recorded by the slow path.
    pub recorded: u64,
    /// Times the table was full and started again.
    pub restarts: u64,
}

/// The adjacency table of one worker.
#[derive(Debug)]
pub struct Adjacencies {
    keys: HashMap<Key, u32>,
    entries: Vec<Egress>,
    /// Changes of its own (restarts), part of the generation.
    own_gen: u32,
    /// Counters.
    pub stats: AdjacencyStats,
}

impl Default for Adjacencies {
    fn default() -> Self {
        Adjacencies {
            keys: HashMap::with_capacity(CAPACITY),
            entries: Vec::with_capacity(CAPACITY),
            own_gen: 0,
            stats: AdjacencyStats::default(),
        }
    }
}

impl Adjacencies {
    /// Changes the table made to the generation (restarts, [`Adjacencies::clear`]).
    #[inline]
    pub fn generation(&self) -> u32 {
        self.own_gen
    }

    /// The slot for `key`, made if it has none (an empty entry until recorded) for packets
    /// up to `mtu` bytes (the router port's MTU).
    pub fn slot(&mut self, key: Key, mtu: u16) -> u32 {
        if let Some(&slot) = self.keys.get(&key) {
            return slot;
        }
        if self.entries.len() >= CAPACITY {
            self.stats.restarts += 1;
            self.clear();
        }
        let slot = self.entries.len() as u32;
        self.entries.push(Egress {
            max_ip_len: mtu,
            ..Egress::EMPTY
        });
        self.keys.insert(key, slot);
        slot
    }

    /// Forgets every entry; the generation moves on, so no link to them is used again.
    pub fn clear(&mut self) {
        self.keys.clear();
        self.entries.clear();
        self.own_gen = self.own_gen.wrapping_add(1);
    }

    /// Records what the slow path resolved for `slot`; a header longer than
    /// [`HEADER_MAX`] is not recorded.
    pub fn record(&mut self, slot: u32, r: Resolved<'_>) {
        let Some(e) = self.entries.get_mut(slot as usize) else {
            return;
        };
        if r.header.len() > HEADER_MAX {
            return;
        }
        e.gen = r.gen;
        e.max_ip_len = e.max_ip_len.min(r.ip_limit);
        e.device = r.device;
        e.encap = r.encap;
        e.len = r.header.len() as u8;
        e.mac_counter = r.mac_counter;
        e.header[..r.header.len()].copy_from_slice(r.header);
        self.stats.recorded += 1;
    }

    /// The entry `link` refers to, if the link and the entry are both valid at `gen`.
    #[inline]
    pub fn valid(&self, link: Link, gen: u32) -> Option<&Egress> {
        if link.gen != gen || gen == 0 {
            return None;
        }
        self.entries
            .get(link.slot as usize)
            .filter(|e| e.gen == gen)
    }

    /// The entry in `slot`.
    #[inline]
    pub fn get(&self, slot: u32) -> Option<&Egress> {
        self.entries.get(slot as usize)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if the table holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(next_hop: u32) -> Key {
        Key {
            router: 0,
            port: 1,
            next_hop,
        }
    }

    fn resolved(gen: u32) -> Resolved<'static> {
        Resolved {
            gen,
            device: 3,
            encap: Encap::Ethernet,
            header: &[0xaa; 14],
            ip_limit: 1400,
            mac_counter: Some(9),
        }
    }

    #[test]
    fn a_link_is_valid_only_at_the_generation_of_link_and_entry() {
        let mut t = Adjacencies::default();
        let slot = t.slot(key(7), 1500);
        assert_eq!(t.slot(key(7), 1500), slot);
        let link = Link { slot, gen: 5 };
        assert!(t.valid(link, 5).is_none(), "not recorded yet");
        t.record(slot, resolved(5));
        let e = t.valid(link, 5).expect("recorded");
        assert_eq!(
            (e.len, e.device, e.max_ip_len, e.mac_counter),
            (14, 3, 1400, Some(9))
        );
        assert_eq!(e.header[..14], [0xaa; 14]);
        assert!(t.valid(link, 6).is_none(), "the state changed since");
        assert!(t.valid(Link { slot, gen: 4 }, 5).is_none(), "an old link");
        assert!(
            t.valid(Link::default(), 0).is_none(),
            "generation 0 never matches"
        );
    }

    #[test]
    fn a_header_too_long_is_not_recorded() {
        let mut t = Adjacencies::default();
        let slot = t.slot(key(1), 1500);
        let long = [0u8; HEADER_MAX + 1];
        t.record(
            slot,
            Resolved {
                header: &long,
                ..resolved(2)
            },
        );
        assert!(t.valid(Link { slot, gen: 2 }, 2).is_none());
    }

    #[test]
    fn a_full_table_starts_again_and_moves_the_generation() {
        let mut t = Adjacencies::default();
        for ip in 0..CAPACITY as u32 {
            t.slot(key(ip), 1500);
        }
        assert_eq!(t.len(), CAPACITY);
        let before = t.generation();
        let slot = t.slot(key(u32::MAX), 1500);
        assert_eq!((slot, t.len()), (0, 1));
        assert_eq!(t.stats.restarts, 1);
        assert_ne!(t.generation(), before);
    }
}
