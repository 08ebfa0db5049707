//! The data path: a graph of nodes over vectors of frames ([`graph`]).
//!
//! `classify` reads the frame's device role and picks the network (access, trunk tag or GRE
//! key); `tunnel` terminates GRE and ARP on the underlay and encapsulates towards peers;
//! `l2` learns and looks up MAC addresses and floods; `local` takes what is addressed to the
//! appliance's own ports (ARP, and the router and DHCP nodes); `output` applies the egress
//! tag and hands the frame to the device. A node gives each frame an edge (the next node,
//! done, or a drop reason); the dispatcher counts a drop against the ingress device.

mod acl;
mod arp_guard;
mod classify;
mod dhcp;
mod egress;
mod fragment;
mod fragment_steer;
mod fragments;
mod graph;
mod icmp;
mod ipv6_guard;
mod l2;
mod l3;
mod local;
mod martian;
mod nat;
mod nat_flush;
mod output;
pub mod steer;
mod sync;
pub mod trace;
mod tunnel;

pub use graph::Node;
pub use sync::SyncEvent;

use crate::frame::Frame;
use crate::state::{Adjacencies, Conntrack, MacTable, Millis, Neighbours};
use crate::stats::{DropReason, Stats};
use crate::tables::{NetIdx, PortIdx, Snapshot};

/// Conntrack slots examined for expiry per timer tick.
const EXPIRE_BUDGET: usize = 65_536;

/// What the pipeline needs from the I/O layer: a way out and fresh buffers.
pub trait Io<F> {
    /// Queues `frame` for transmission on `port`.
    fn send(&mut self, port: PortIdx, frame: F);
    /// An empty frame (length 0, full headroom) for a packet the pipeline originates;
    /// `None` when no buffer is free.
    fn alloc(&mut self) -> Option<F>;
    /// Passes `frame`, received on `port`, to `worker`, which owns its flow ([`steer`]).
    fn handoff(&mut self, worker: u16, port: PortIdx, frame: F);
    /// A cycle counter (the TSC on the appliance's workers), for the nodes' counters; 0
    /// where there is none.
    fn cycles(&self) -> u64 {
        0
    }
}

/// (packets, bytes) of the first packets of the connections each rule of a port allowed:
/// its ingress rules, then its egress rules, in chain order.
pub type RuleHits = (Vec<(u64, u64)>, Vec<(u64, u64)>);

/// The state one worker owns, and the entry points that run the pipeline over it.
#[derive(Debug)]
pub struct Dataplane<F> {
    /// (network, MAC) → port or tunnel peer.
    pub mac: MacTable,
    /// ARP cache of the tunnel underlay, with frames held for resolution.
    pub underlay_neigh: Neighbours<F>,
    /// ARP cache of the routers' networks, with routed frames (and their network) held.
    pub router_neigh: Neighbours<(NetIdx, F)>,
    /// Connections of the routers (NAT sessions).
    pub conntrack: Conntrack,
    /// Resolved egresses of established routed flows ([`egress`]).
    pub adjacencies: Adjacencies,
    /// The network of the last (peer, key) a GRE packet came with, for this snapshot.
    last_tunnel: Option<tunnel::LastTunnel>,
    /// Datagrams whose later fragments follow their first, with those waiting for it.
    pub fragments: crate::state::Fragments<fragments::HeldFragment<F>>,
    /// With several workers: where datagrams' first fragments went, with later ones waiting.
    pub steered: fragment_steer::Steering<F>,
    /// Router and floating addresses already announced by gratuitous ARP.
    announced: Vec<(NetIdx, u32)>,
    /// ICMP errors this worker may still send in the current second.
    icmp_tokens: u32,
    /// Hits per security group rule, by port.
    pub acl_hits: Vec<RuleHits>,
    /// The security groups the state was last checked against.
    acls: Vec<Option<crate::tables::acl::PortAcl>>,
    /// DHCP leases granted, for views.
    pub leases: crate::state::Leases,
    /// Counters.
    pub stats: Stats,
    /// Destinations whose SNAT ports ran out recently.
    nat_exhausted: nat::Exhausted,
    /// The routers' NAT addresses as of the last snapshot applied ([`nat_flush`]).
    nat_addresses: nat_flush::NatAddresses,
    /// Identification of the next outer IPv4 header this worker emits.
    ip_ident: u16,
    /// This worker's number, from 0.
    worker: u16,
    /// How many workers share the traffic (flows are steered to their owner, [`steer`]).
    workers: u16,
    /// Learned state for the other workers; the caller passes it on after each burst.
    pub outbox: Vec<SyncEvent>,
    /// The queues of the graph's nodes.
    graph: graph::Graph<F>,
    /// The packet trace: what to trace and what was recorded.
    pub trace: trace::Trace,
}

impl<F: Frame> Dataplane<F> {
    /// Fresh state for `snap`, for a single worker.
    pub fn new(snap: &Snapshot, now: Millis) -> Self {
        Self::for_worker(snap, now, 0, 1)
    }

    /// Fresh state for `snap`, for worker `worker` of `workers`.
    pub fn for_worker(snap: &Snapshot, now: Millis, worker: u16, workers: u16) -> Self {
        let mut dp = Dataplane {
            mac: MacTable::new(snap.mac),
            underlay_neigh: Neighbours::default(),
            router_neigh: Neighbours::default(),
            conntrack: Conntrack::with_limits(snap.conntrack.capacity, snap.conntrack.zone_limit),
            adjacencies: Adjacencies::default(),
            last_tunnel: None,
            fragments: crate::state::Fragments::new(),
            steered: fragment_steer::table(),
            announced: Vec::new(),
            icmp_tokens: icmp::ERRORS_PER_SECOND,
            acl_hits: Vec::new(),
            acls: Vec::new(),
            leases: crate::state::Leases::default(),
            stats: Stats::default(),
            nat_exhausted: nat::Exhausted::new(),
            nat_addresses: nat_flush::NatAddresses::default(),
            ip_ident: worker.wrapping_mul(0x4000),
            worker,
            workers: workers.max(1),
            outbox: Vec::new(),
            graph: graph::Graph::new(),
            trace: trace::Trace::default(),
        };
        dp.apply(snap, now);
        dp
    }

    /// Adapts the state to a newly published snapshot (static MACs, vanished ports).
    pub fn apply(&mut self, snap: &Snapshot, now: Millis) {
        self.adjacencies.clear();
        self.last_tunnel = None;
        self.mac.apply(snap, now);
        self.conntrack
            .set_limits(snap.conntrack.capacity, snap.conntrack.zone_limit);
        let known: Vec<(u32, crate::Mac)> = snap
            .routers
            .iter()
            .flat_map(|r| r.neighbours.iter().copied())
            .collect();
        let stale = self.router_neigh.set_static(&known, now);
        let stale_underlay = self
            .underlay_neigh
            .set_static(&snap.underlay_neighbours, now);
        if self.acls != snap.acls {
            self.apply_acls(snap);
        }
        nat_flush::apply(self, &snap.routers);
        self.stats.drops[DropReason::NeighbourTimeout as usize] +=
            (stale.len() + stale_underlay.len()) as u64;
        if self.stats.ports.len() < snap.ports.len() {
            self.stats.port(snap.ports.len() as PortIdx - 1);
        }
    }

    /// Runs the graph over a burst of frames received on `port`.
    pub fn rx<I: IntoIterator<Item = F>, O: Io<F>>(
        &mut self,
        snap: &Snapshot,
        port: PortIdx,
        frames: I,
        now: Millis,
        io: &mut O,
    ) {
        let first = self.first_node();
        for frame in frames {
            let c = self.stats.port(port);
            c.rx_packets += 1;
            c.rx_bytes += frame.len() as u64;
            let mut meta = graph::Meta::received(port, false);
            meta.trace = self.trace.mark(port);
            self.graph.push(first, meta, frame);
        }
        self.dispatch(snap, now, io);
    }

    /// Runs the graph over frames other workers received (each on its device) and handed
    /// to this one, the owner of their flows (already counted as received there).
    pub fn rx_handed<I: IntoIterator<Item = (PortIdx, F)>, O: Io<F>>(
        &mut self,
        snap: &Snapshot,
        frames: I,
        now: Millis,
        io: &mut O,
    ) {
        let first = self.first_node();
        for (port, frame) in frames {
            self.graph
                .push(first, graph::Meta::received(port, true), frame);
        }
        self.dispatch(snap, now, io);
    }

    /// Where received frames start: the steering node when several workers share them.
    fn first_node(&self) -> Node {
        if self.workers > 1 {
            Node::Steer
        } else {
            Node::PortInput
        }
    }

    /// Timers: MAC aging, session expiry, ARP retries and refreshes, gratuitous ARP for
    /// new router and floating addresses. Call about once a second.
    pub fn tick<O: Io<F>>(&mut self, snap: &Snapshot, now: Millis, io: &mut O) {
        self.mac.expire(now);
        self.leases.expire(now);
        self.conntrack.expire(now, EXPIRE_BUDGET);
        fragments::expire(self, now);
        fragment_steer::expire(self, now);
        self.icmp_tokens = icmp::ERRORS_PER_SECOND;
        let out = self.underlay_neigh.tick(now);
        for frame in &out.expired {
            self.stats.drops[tunnel::expired_reason(frame) as usize] += 1;
        }
        for ip in out.requests {
            tunnel::send_arp_request(self, snap, ip, io);
        }
        let out = self.router_neigh.tick(now);
        self.stats.drops[DropReason::NeighbourTimeout as usize] += out.expired.len() as u64;
        for ip in out.requests {
            if let Some((r, p)) = l3::port_for(snap, ip) {
                l3::send_arp_request(self, io, 0, &snap.routers[r].ports[p], ip);
            }
        }
        // One worker speaks for the appliance.
        if self.worker == 0 {
            local::announce(self, snap, io);
        }
        self.dispatch(snap, now, io);
    }

    /// Resets the rule counters of ports whose rules changed and ends the connections that
    /// no rule allows any more (as Neutron flushes their conntrack entries).
    fn apply_acls(&mut self, snap: &Snapshot) {
        self.acl_hits.resize(snap.acls.len(), Default::default());
        for (i, acl) in snap.acls.iter().enumerate() {
            if self.acls.get(i) != Some(acl) {
                self.acl_hits[i] = acl.as_ref().map_or_else(Default::default, |a| {
                    (vec![(0, 0); a.ingress.len()], vec![(0, 0); a.egress.len()])
                });
            }
        }
        let doomed: Vec<u32> = self
            .conntrack
            .iter()
            .filter(|(_, s)| s.orig.zone & acl::PORT_ZONE != 0)
            .filter(|(_, s)| {
                let port = s.orig.zone & !acl::PORT_ZONE;
                !snap.acl(port).is_some_and(|a| acl::still_allowed(a, s))
            })
            .map(|(i, _)| i)
            .collect();
        for i in doomed {
            self.conntrack.remove(i);
            self.stats.acl.flushed += 1;
        }
        self.acls = snap.acls.clone();
    }

    /// Counts a first packet of `bytes` allowed by rule `rule` of `port`'s `way` chain.
    fn count_rule(&mut self, port: PortIdx, way: acl::Way, rule: usize, bytes: usize) {
        let Some((ingress, egress)) = self.acl_hits.get_mut(port as usize) else {
            return;
        };
        let chain = if way == acl::Way::Ingress {
            ingress
        } else {
            egress
        };
        if let Some(c) = chain.get_mut(rule) {
            c.0 += 1;
            c.1 += bytes as u64;
        }
    }

    /// The next outer IPv4 identification (RFC 6864: any value for atomic datagrams).
    fn next_ident(&mut self) -> u16 {
        self.ip_ident = self.ip_ident.wrapping_add(1);
        self.ip_ident
    }
}

#[cfg(test)]
mod acl_tests;
#[cfg(test)]
mod conntrack_tests;
#[cfg(test)]
mod egress_tests;
#[cfg(test)]
mod fragment_tests;
#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod multicore_tests;
#[cfg(test)]
mod router_tests;
#[cfg(test)]
mod test_frames;
#[cfg(test)]
mod tests;
