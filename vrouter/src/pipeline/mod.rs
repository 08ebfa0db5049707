//! The fused pipeline: one pass per frame, run to completion, one module a stage.
//!
//! `classify` reads the frame's device role and picks the network (access, trunk tag or GRE
//! key); `tunnel` terminates GRE and ARP on the underlay and encapsulates towards peers;
//! `l2` learns and looks up MAC addresses and floods; `local` takes what is addressed to the
//! appliance's own ports (ARP, and the router and DHCP stages); `output` applies the egress tag and
//! hands the frame to the device. Each stage returns `Err(DropReason)` to drop; the caller
//! counts it against the ingress device.

mod classify;
mod l2;
mod local;
mod output;
mod tunnel;

use crate::frame::Frame;
use crate::state::{MacTable, Millis, Neighbours};
use crate::stats::{DropReason, Stats};
use crate::tables::{PortIdx, Snapshot};

/// What the pipeline needs from the I/O layer: a way out and fresh buffers.
pub trait Io<F> {
    /// Queues `frame` for transmission on `port`.
    fn send(&mut self, port: PortIdx, frame: F);
    /// An empty frame (length 0, full headroom) for a packet the pipeline originates;
    /// `None` when no buffer is free.
    fn alloc(&mut self) -> Option<F>;
}

/// The state one worker owns, and the entry points that run the pipeline over it.
#[derive(Debug)]
pub struct Dataplane<F> {
    /// (network, MAC) → port or tunnel peer.
    pub mac: MacTable,
    /// ARP cache of the tunnel underlay, with frames held for resolution.
    pub underlay_neigh: Neighbours<F>,
    /// Counters.
    pub stats: Stats,
    /// Identification of the next outer IPv4 header this worker emits.
    ip_ident: u16,
}

impl<F: Frame> Dataplane<F> {
    /// Fresh state for `snap`.
    pub fn new(snap: &Snapshot, now: Millis) -> Self {
        let mut dp = Dataplane {
            mac: MacTable::new(snap.mac),
            underlay_neigh: Neighbours::default(),
            stats: Stats::default(),
            ip_ident: 0,
        };
        dp.apply(snap, now);
        dp
    }

    /// Adapts the state to a newly published snapshot (static MACs, vanished ports).
    pub fn apply(&mut self, snap: &Snapshot, now: Millis) {
        self.mac.apply(snap, now);
        if self.stats.ports.len() < snap.ports.len() {
            self.stats.port(snap.ports.len() as PortIdx - 1);
        }
    }

    /// Runs the pipeline over a burst of frames received on `port`.
    pub fn rx<I: IntoIterator<Item = F>, O: Io<F>>(
        &mut self,
        snap: &Snapshot,
        port: PortIdx,
        frames: I,
        now: Millis,
        io: &mut O,
    ) {
        for frame in frames {
            let c = self.stats.port(port);
            c.rx_packets += 1;
            c.rx_bytes += frame.len() as u64;
            if let Err(reason) = classify::input(self, snap, port, frame, now, io) {
                self.stats.drop(port, reason);
            }
        }
    }

    /// Timers: MAC aging, ARP retries and refreshes. Call about once a second.
    pub fn tick<O: Io<F>>(&mut self, snap: &Snapshot, now: Millis, io: &mut O) {
        self.mac.expire(now);
        let out = self.underlay_neigh.tick(now);
        self.stats.drops[DropReason::NeighbourTimeout as usize] += out.expired.len() as u64;
        for ip in out.requests {
            tunnel::send_arp_request(self, snap, ip, io);
        }
    }

    /// The next outer IPv4 identification (RFC 6864: any value for atomic datagrams).
    fn next_ident(&mut self) -> u16 {
        self.ip_ident = self.ip_ident.wrapping_add(1);
        self.ip_ident
    }
}

#[cfg(test)]
mod tests;
