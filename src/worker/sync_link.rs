//! Learned state between workers ([`SyncEvent`]), bounded and coalesced: a burst's events are
//! reduced to the last one per key (the same MAC on the same network learned twice, the same
//! neighbour resolved twice, the same datagram's first fragment), and go into a bounded
//! single-producer single-consumer ring per (source, destination) pair. An event that finds
//! its ring full is dropped and counted (`sync_full`).
//!
//! Dropping an event is safe: it is a hint that saves the other worker work, never state
//! it cannot rebuild itself.
//! - A MAC address (`Mac`): a worker that does not know it floods frames for it to every
//!   port and peer of the network, as it does for any unknown unicast (IEEE 802.1D), until
//!   it sees a frame from that address itself and learns it; it then forwards as usual.
//! - A neighbour (`UnderlayNeighbour`, `RouterNeighbour`): a worker that holds frames for
//!   an unresolved address keeps retrying ARP (RFC 826, RFC 1122 §2.3.2.1); the next reply
//!   resolves it on whichever worker takes it and is sent again, and what waited past the
//!   retries is dropped and counted (`neighbour_timeout`), as on a lost ARP reply.
//! - Where a first fragment went (`Fragment`): worker 0 holds the later fragments that
//!   arrive for that datagram until they time out (`fragment_timeout`): the datagram is
//!   lost and counted, as one whose fragment was lost on the wire, and its sender
//!   retransmits.
//!
//! Nothing is dropped while the peers keep up: a ring holds [`SYNC_RING`] events and a
//! worker drains all of its rings every poll.

use rtrb::{Consumer, Producer, RingBuffer};
use std::collections::HashSet;
use vrouter::pipeline::SyncEvent;
use vrouter::tables::{NetIdx, PortIdx};
use vrouter::Mac;

/// Events one (source, destination) ring holds.
pub const SYNC_RING: usize = 1024;

/// What makes two events about the same thing: the later one makes the earlier moot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Key {
    /// A MAC address on a network.
    Mac(NetIdx, Mac),
    /// An underlay neighbour by address.
    Underlay(u32),
    /// A router neighbour by address and the device it was learned on.
    Router(u32, PortIdx),
    /// A datagram: zone, protocol, identification, source, destination.
    Fragment(u16, u8, u16, u32, u32),
}

impl Key {
    fn of(event: &SyncEvent) -> Key {
        match *event {
            SyncEvent::Mac { net, mac, .. } => Key::Mac(net, mac),
            SyncEvent::UnderlayNeighbour { ip, .. } => Key::Underlay(ip),
            SyncEvent::RouterNeighbour { ip, port, .. } => Key::Router(ip, port),
            SyncEvent::Fragment { key: k, .. } => {
                Key::Fragment(k.zone, k.proto, k.id, k.src, k.dst)
            }
        }
    }
}

/// The sending side of one worker: a ring to every other worker.
pub struct SyncOut {
    rings: Vec<Producer<SyncEvent>>,
    /// The keys seen while coalescing (kept, with its capacity, from burst to burst).
    seen: HashSet<Key>,
    /// Events dropped because a peer's ring was full (counted as `sync_full`, once per
    /// peer that missed it).
    pub full: u64,
}

impl SyncOut {
    /// True when there is no other worker to tell.
    pub fn is_alone(&self) -> bool {
        self.rings.is_empty()
    }

    /// Coalesces `events` (a burst's, in the order learned) and sends them to every other
    /// worker; what a full ring refuses is dropped and counted. Leaves `events` empty.
    pub fn send(&mut self, events: &mut Vec<SyncEvent>) {
        if events.is_empty() {
            return;
        }
        coalesce(events, &mut self.seen);
        for ring in &mut self.rings {
            let (_, refused) = ring.push_partial_slice(events);
            self.full += refused.len() as u64;
        }
        events.clear();
    }
}

/// The receiving side of one worker: a ring from every other worker.
pub struct SyncIn {
    rings: Vec<Consumer<SyncEvent>>,
}

impl SyncIn {
    /// The events waiting in the rings, in ring order; each leaves its ring as it is taken.
    pub fn drain(&mut self) -> impl Iterator<Item = SyncEvent> + '_ {
        self.rings
            .iter_mut()
            .flat_map(|ring| std::iter::from_fn(|| ring.pop().ok()))
    }
}

/// Keeps, of the events with the same key, only the last, the others in their order.
fn coalesce(events: &mut Vec<SyncEvent>, seen: &mut HashSet<Key>) {
    seen.clear();
    // Walk back from the end, moving each key's last event down to the kept tail.
    let mut kept = events.len();
    for i in (0..events.len()).rev() {
        if seen.insert(Key::of(&events[i])) {
            kept -= 1;
            events[kept] = events[i];
        }
    }
    events.drain(..kept);
}

/// The sync rings of `n` workers, `capacity` events each: every worker's sending and
/// receiving side, in worker order.
pub fn mesh(n: u16, capacity: usize) -> Vec<(SyncOut, SyncIn)> {
    let n = usize::from(n);
    let mut outs: Vec<SyncOut> = (0..n)
        .map(|_| SyncOut {
            rings: Vec::with_capacity(n),
            seen: HashSet::new(),
            full: 0,
        })
        .collect();
    let mut ins: Vec<SyncIn> = (0..n).map(|_| SyncIn { rings: Vec::new() }).collect();
    for (src, out) in outs.iter_mut().enumerate() {
        for (dst, inn) in ins.iter_mut().enumerate() {
            if src != dst {
                let (ring, consumer) = RingBuffer::new(capacity);
                out.rings.push(ring);
                inn.rings.push(consumer);
            }
        }
    }
    outs.into_iter().zip(ins).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use vrouter::state::fragments::{FragKey, Piece};
    use vrouter::tables::Dest;

    fn mac(n: u8) -> Mac {
        Mac([0xfa, 0x16, 0x3e, 0, 0, n])
    }

    fn learned(net: NetIdx, n: u8, dest: Dest) -> SyncEvent {
        SyncEvent::Mac {
            net,
            mac: mac(n),
            dest,
        }
    }

    #[test]
    fn a_burst_keeps_the_last_event_per_key_in_order() {
        let frag = |worker| SyncEvent::Fragment {
            key: FragKey {
                zone: 0,
                proto: 17,
                id: 7,
                src: 0x0a00_0009,
                dst: 0x0808_0808,
            },
            first: Piece {
                offset: 0,
                len: 1480,
                last: false,
            },
            worker,
        };
        let router = |ip, n, port| SyncEvent::RouterNeighbour {
            ip,
            mac: mac(n),
            port,
        };
        let mut events = vec![
            learned(1, 1, Dest::Port(2)),
            SyncEvent::UnderlayNeighbour {
                ip: 0x0a00_011f,
                mac: mac(9),
            },
            learned(1, 1, Dest::Peer(0x0a00_011f)),
            learned(2, 1, Dest::Port(3)),
            router(0xac10_0007, 4, 1),
            frag(1),
            router(0xac10_0007, 5, 1),
            router(0xac10_0007, 6, 2),
            SyncEvent::UnderlayNeighbour {
                ip: 0x0a00_011f,
                mac: mac(10),
            },
            frag(1),
            learned(1, 1, Dest::Port(4)),
        ];
        coalesce(&mut events, &mut HashSet::new());
        assert_eq!(
            events,
            vec![
                // The same MAC on another network is another entry.
                learned(2, 1, Dest::Port(3)),
                // The same address learned on another device is another neighbour.
                router(0xac10_0007, 5, 1),
                router(0xac10_0007, 6, 2),
                SyncEvent::UnderlayNeighbour {
                    ip: 0x0a00_011f,
                    mac: mac(10)
                },
                frag(1),
                // (net 1, MAC 1) moved three times: only where it went last.
                learned(1, 1, Dest::Port(4)),
            ]
        );
    }

    #[test]
    fn events_reach_every_peer_and_a_full_ring_counts_what_it_drops() {
        let mut rings = mesh(3, 4);
        let mut burst: Vec<SyncEvent> = (0..3).map(|n| learned(1, n, Dest::Port(0))).collect();
        // The same address learned again in the same burst is sent once.
        burst.push(learned(1, 0, Dest::Port(1)));
        rings[0].0.send(&mut burst);
        assert!(burst.is_empty());
        assert_eq!(rings[0].0.full, 0);
        for w in [1, 2] {
            let got: Vec<SyncEvent> = rings[w].1.drain().collect();
            assert_eq!(
                got,
                [
                    learned(1, 1, Dest::Port(0)),
                    learned(1, 2, Dest::Port(0)),
                    learned(1, 0, Dest::Port(1)),
                ]
            );
        }
        // Six new events: each peer's ring of four takes four, two are dropped for each.
        let mut burst: Vec<SyncEvent> = (10..16).map(|n| learned(1, n, Dest::Port(0))).collect();
        rings[0].0.send(&mut burst);
        assert_eq!(
            rings[0].0.full, 4,
            "two refused by each peer's ring of four"
        );
        let mut burst = vec![learned(1, 20, Dest::Port(0))];
        rings[0].0.send(&mut burst);
        assert_eq!(rings[0].0.full, 6, "both rings still full");
        let got: Vec<SyncEvent> = rings[1].1.drain().collect();
        assert_eq!(
            got,
            (10..14)
                .map(|n| learned(1, n, Dest::Port(0)))
                .collect::<Vec<_>>()
        );
        assert_eq!(rings[2].1.drain().count(), 4);
        assert_eq!(
            rings[1].1.drain().count(),
            0,
            "drained events left the ring"
        );
        // Worker 1's own sends go to 0 and 2 only.
        let mut burst = vec![learned(3, 1, Dest::Local)];
        rings[1].0.send(&mut burst);
        assert_eq!(
            rings[0].1.drain().collect::<Vec<_>>(),
            [learned(3, 1, Dest::Local)]
        );
        assert_eq!(rings[2].1.drain().count(), 1);
        assert_eq!(rings[1].1.drain().count(), 0);
        assert!(!rings[1].0.is_alone());
        assert!(mesh(1, 4)[0].0.is_alone());
    }
}
