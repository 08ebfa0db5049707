//! What one worker learns that the others need, as it tells them: MAC addresses, resolved
//! neighbours, and where the first fragment of a datagram went.

use crate::state::fragments::{FragKey, Piece};
use crate::tables::{Dest, NetIdx, PortIdx};
use crate::wire::Mac;

/// A piece of learned state, as one worker tells the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncEvent {
    /// `mac` on network `net` was learned (or moved) behind `dest`.
    Mac {
        /// Network.
        net: NetIdx,
        /// Address.
        mac: Mac,
        /// Where frames for it go.
        dest: Dest,
    },
    /// The underlay neighbour `ip` is at `mac`.
    UnderlayNeighbour {
        /// Address (host byte order).
        ip: u32,
        /// Its MAC address.
        mac: Mac,
    },
    /// The neighbour `ip` of a router port is at `mac`; the ARP came in on `port`.
    RouterNeighbour {
        /// Address (host byte order).
        ip: u32,
        /// Its MAC address.
        mac: Mac,
        /// Device the ARP arrived on (drops of released frames count there).
        port: PortIdx,
    },
    /// The first fragment of datagram `key` went to `worker`, which owns its flow; worker 0
    /// hands the later ones there (the `steer` node, fragment_steer.rs).
    Fragment {
        /// The datagram (zone 0).
        key: FragKey,
        /// Where the first fragment lies in it.
        first: Piece,
        /// The owner.
        worker: u16,
    },
}
