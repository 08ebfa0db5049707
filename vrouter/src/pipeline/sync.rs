//! Applying what another worker learned: MAC addresses, resolved neighbours, and where the
//! first fragment of a datagram went.
//!
//! Each worker keeps its own MAC table and ARP caches (no lock on the per-packet path). When
//! a worker learns a new or moved MAC address, or an ARP exchange resolves a neighbour, it
//! queues a [`SyncEvent`]; the I/O layer passes the events to every other worker, which
//! applies them between bursts (`Dataplane::sync`, here) and releases the frames it held
//! for that neighbour. Nothing is queued when there is one worker.

use super::arp_resolve::{self, Seen};
use super::dataplane::Dataplane;
use super::io::Io;
use super::sync_event::SyncEvent;
use super::{fragment_steer, tunnel};
use crate::frame::Frame;
use crate::state::Millis;
use crate::tables::Snapshot;

impl<F: Frame> Dataplane<F> {
    /// Applies what another worker learned, sending the frames this worker held for it.
    pub fn sync<O: Io<F>>(&mut self, snap: &Snapshot, event: SyncEvent, now: Millis, io: &mut O) {
        self.stats.sync_applied += 1;
        match event {
            SyncEvent::Mac { net, mac, dest } => {
                self.mac.learn(net, mac, dest, now);
            }
            SyncEvent::UnderlayNeighbour { ip, mac } => {
                if let Some(u) = snap.underlay.as_ref() {
                    tunnel::release_held(&mut self.underlay_state(), u, ip, mac, true, now, io);
                }
            }
            SyncEvent::RouterNeighbour { ip, mac, port } => {
                let seen = Seen {
                    ip,
                    mac,
                    create: true,
                };
                arp_resolve::release_held(&mut self.local_arp_state(), port, seen, now);
            }
            SyncEvent::Fragment { key, first, worker } => {
                fragment_steer::owned_by(&mut self.steer_state(), io, &key, first, worker, now);
            }
        }
        self.dispatch(snap, now, io);
    }
}
