//! The entry points of the data path: a worker's state built and adapted to each published
//! snapshot, bursts received into the graph, and the timers.

use super::dataplane::Dataplane;
use super::io::Io;
use super::ip_ident::IpIdent;
use super::meta::Meta;
use super::nat_exhausted::Exhausted;
use super::nat_flush::NatAddresses;
use super::node::Node;
use super::queues::Queues;
use super::trace::Trace;
use super::zone::PORT_ZONE;
use super::{acl, arp_resolve, fragment_steer, fragments, icmp, local, nat_flush, tunnel};
use crate::frame::Frame;
use crate::state::prefetch::prefetch;
use crate::state::{Adjacencies, Conntrack, Fragments, Leases, MacTable, Millis, Neighbours};
use crate::stats::{DropReason, Stats};
use crate::tables::{PortIdx, Snapshot};

/// Conntrack slots examined for expiry per timer tick.
const EXPIRE_BUDGET: usize = 65_536;
/// The bytes of a received frame asked for as it is queued: its headers (Ethernet, IPv4,
/// GRE and the inner Ethernet, IPv4 and ports of a tunnelled frame).
const HEADERS: usize = 128;

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
            fragments: Fragments::new(),
            steered: fragment_steer::table(),
            announced: Vec::new(),
            icmp_tokens: icmp::ERRORS_PER_SECOND,
            acl_hits: Vec::new(),
            acls: Vec::new(),
            leases: Leases::default(),
            stats: Stats::default(),
            nat_exhausted: Exhausted::new(),
            nat_addresses: NatAddresses::default(),
            ip_ident: IpIdent(worker.wrapping_mul(0x4000)),
            worker,
            workers: workers.max(1),
            outbox: Vec::new(),
            queues: Queues::new(),
            trace: Trace::default(),
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
        nat_flush::apply(
            &mut self.nat_addresses,
            &mut self.conntrack,
            &mut self.stats.router.nat_flushed,
            &snap.routers,
        );
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
            let mut meta = Meta::received(port, false);
            meta.trace = self.trace.mark(port);
            warm_headers(&frame);
            self.queues.push(first, meta, frame);
        }
        self.dispatch(snap, now, io);
    }

    /// Runs the graph over frames other workers received (each on its device) and handed
    /// to this one, the owner of their flows (already counted as received there), each
    /// from the node its sender named.
    pub fn rx_handed<I: IntoIterator<Item = (PortIdx, F, Node)>, O: Io<F>>(
        &mut self,
        snap: &Snapshot,
        frames: I,
        now: Millis,
        io: &mut O,
    ) {
        for (port, frame, resume) in frames {
            warm_headers(&frame);
            self.queues.push(resume, Meta::received(port, true), frame);
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
            tunnel::send_arp_request(&mut self.stats, snap, ip, io);
        }
        let out = self.router_neigh.tick(now);
        self.stats.drops[DropReason::NeighbourTimeout as usize] += out.expired.len() as u64;
        for ip in out.requests {
            if let Some((r, p)) = arp_resolve::port_for(snap, ip) {
                let fx = &mut self.effects();
                arp_resolve::send_arp_request(fx, io, 0, &snap.routers[r].ports[p], ip);
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
            .filter(|(_, s)| s.orig.zone & PORT_ZONE != 0)
            .filter(|(_, s)| {
                let port = s.orig.zone & !PORT_ZONE;
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
}

/// Asks for the cache lines of `frame`'s headers: a vector's frames are queued before the
/// first node reads them, so that their misses (a frame the device wrote, or another
/// worker handed over) overlap instead of coming one after another.
#[inline]
fn warm_headers<F: Frame>(frame: &F) {
    let d = frame.data();
    prefetch(d.as_ptr(), d.len().min(HEADERS));
}
