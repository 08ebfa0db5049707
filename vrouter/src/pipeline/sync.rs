//! What one worker learns that the others need: MAC addresses, resolved neighbours, and
//! where the first fragment of a datagram went.
//!
//! Each worker keeps its own MAC table and ARP caches (no lock on the per-packet path). When
//! a worker learns a new or moved MAC address, or an ARP exchange resolves a neighbour, it
//! queues a [`SyncEvent`]; the I/O layer passes the events to every other worker, which
//! applies them between bursts ([`super::Dataplane::sync`]) and releases the frames it held
//! for that neighbour. Nothing is queued when there is one worker.

use super::{fragment_steer, l3, tunnel, Dataplane, Io};
use crate::frame::Frame;
use crate::state::fragments::{FragKey, Piece};
use crate::state::Millis;
use crate::tables::{Dest, NetIdx, PortIdx, Snapshot};
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
    /// hands the later ones there ([`super::fragment_steer`]).
    Fragment {
        /// The datagram (zone 0).
        key: FragKey,
        /// Where the first fragment lies in it.
        first: Piece,
        /// The owner.
        worker: u16,
    },
}

impl<F: Frame> Dataplane<F> {
    /// Queues `event` for the other workers, if there are any.
    #[inline]
    pub(super) fn share(&mut self, event: SyncEvent) {
        if self.workers > 1 {
            self.stats.sync_sent += 1;
            self.outbox.push(event);
        }
    }

    /// Applies what another worker learned, sending the frames this worker held for it.
    pub fn sync<O: Io<F>>(&mut self, snap: &Snapshot, event: SyncEvent, now: Millis, io: &mut O) {
        self.stats.sync_applied += 1;
        match event {
            SyncEvent::Mac { net, mac, dest } => {
                self.mac.learn(net, mac, dest, now);
            }
            SyncEvent::UnderlayNeighbour { ip, mac } => {
                if let Some(u) = snap.underlay.as_ref() {
                    tunnel::release_held(self, u, ip, mac, true, now, io);
                }
            }
            SyncEvent::RouterNeighbour { ip, mac, port } => {
                let seen = l3::Seen {
                    ip,
                    mac,
                    create: true,
                };
                l3::release_held(self, port, seen, now);
            }
            SyncEvent::Fragment { key, first, worker } => {
                fragment_steer::owned_by(self, io, &key, first, worker, now);
            }
        }
        self.dispatch(snap, now, io);
    }
}
