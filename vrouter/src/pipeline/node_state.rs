//! What each node may change: a view of the worker's state per node, borrowed from the
//! [`Dataplane`] for one vector at a time. A node's signature takes its view, so what a
//! node can touch is written in its signature; the dispatcher and the timers build the
//! views.

use super::dataplane::{Dataplane, RuleHits, Steering};
use super::held_fragment::HeldFragment;
use super::ip_ident::IpIdent;
use super::last_tunnel::LastTunnel;
use super::nat_exhausted::Exhausted;
use super::queues::Queues;
use super::sync_event::SyncEvent;
use crate::state::{Adjacencies, Conntrack, Fragments, Leases, MacTable, Neighbours};
use crate::stats::Stats;
use crate::tables::NetIdx;

/// What every node may change besides its own tables: the counters, the queues it adds
/// frames to (flood copies, replies, errors, released frames), and what it shares with the
/// other workers.
pub(super) struct Effects<'a, F> {
    /// Counters.
    pub stats: &'a mut Stats,
    /// The queues of the graph's nodes.
    pub queues: &'a mut Queues<F>,
    /// Learned state for the other workers.
    outbox: &'a mut Vec<SyncEvent>,
    /// How many workers share the traffic.
    pub workers: u16,
}

impl<F> Effects<'_, F> {
    /// Queues `event` for the other workers, if there are any.
    #[inline]
    pub fn share(&mut self, event: SyncEvent) {
        if self.workers > 1 {
            self.stats.sync_sent += 1;
            self.outbox.push(event);
        }
    }
}

/// What the dispatcher needs of every node's view: the effects, to queue or count each
/// frame by the edge the node gave it, and the connections the node may create sessions
/// in, to note the sessions a frame created.
pub(super) trait View<'a, F> {
    /// Counters, queues, sharing.
    fn effects(&mut self) -> &mut Effects<'a, F>;

    /// The connections the node may create sessions in, if any.
    #[inline(always)]
    fn conntrack(&mut self) -> Option<&mut Conntrack> {
        None
    }
}

impl<'a, F> View<'a, F> for Effects<'a, F> {
    #[inline(always)]
    fn effects(&mut self) -> &mut Effects<'a, F> {
        self
    }
}

/// A view whose effects are its `fx` and that creates no session.
macro_rules! view_without_sessions {
    ($($view:ident),*) => {$(
        impl<'a, F> View<'a, F> for $view<'a, F> {
            #[inline(always)]
            fn effects(&mut self) -> &mut Effects<'a, F> {
                &mut self.fx
            }
        }
    )*};
}

view_without_sessions!(
    SteerState,
    UnderlayState,
    SwitchState,
    LocalArpState,
    DhcpState,
    EncapState
);

/// A view whose effects are at `fx` and whose connections at `conntrack` (paths into
/// the view).
macro_rules! view_with_sessions {
    ($($view:ident: $($fx:ident).+, $($ct:ident).+;)*) => {$(
        impl<'a, F> View<'a, F> for $view<'a, F> {
            #[inline(always)]
            fn effects(&mut self) -> &mut Effects<'a, F> {
                &mut self.$($fx).+
            }

            #[inline(always)]
            fn conntrack(&mut self) -> Option<&mut Conntrack> {
                Some(self.$($ct).+)
            }
        }
    )*};
}

view_with_sessions! {
    AclState: fx, conntrack;
    RouterState: fx, conntrack;
    PortOutputState: acl.fx, acl.conntrack;
}

/// What the `steer` node may change: where datagrams' first fragments went.
pub(super) struct SteerState<'a, F> {
    /// Where first fragments went, with later ones waiting.
    pub steered: &'a mut Steering<F>,
    /// This worker's number.
    pub worker: u16,
    /// Counters, queues, sharing.
    pub fx: Effects<'a, F>,
}

/// What the security groups of `port-input` and `port-output` may change: the ports'
/// connections, the rules' hit counters, and the fragments of datagrams they passed.
pub(super) struct AclState<'a, F> {
    /// Connections (the ports' zones).
    pub conntrack: &'a mut Conntrack,
    /// Hits per rule, by port.
    pub acl_hits: &'a mut Vec<RuleHits>,
    /// Datagrams whose later fragments follow their first.
    pub fragments: &'a mut Fragments<HeldFragment<F>>,
    /// Counters, queues, sharing.
    pub fx: Effects<'a, F>,
}

/// What the `underlay-input` node may change: the underlay's ARP cache and the tunnel
/// cache.
pub(super) struct UnderlayState<'a, F> {
    /// ARP cache of the underlay, with frames held for resolution.
    pub underlay_neigh: &'a mut Neighbours<F>,
    /// The network of the last (peer, key).
    pub last_tunnel: &'a mut Option<LastTunnel>,
    /// Counters, queues, sharing.
    pub fx: Effects<'a, F>,
}

/// What the `l2-switch` node may change: the MAC table (the routers' ARP cache it only
/// reads, to refuse spoofed ARP).
pub(super) struct SwitchState<'a, F> {
    /// (network, MAC) → port or tunnel peer.
    pub mac: &'a mut MacTable,
    /// ARP cache of the routers' networks.
    pub router_neigh: &'a Neighbours<(NetIdx, F)>,
    /// Counters, queues, sharing.
    pub fx: Effects<'a, F>,
}

/// What the `local-arp` node may change: the routers' ARP cache.
pub(super) struct LocalArpState<'a, F> {
    /// ARP cache of the routers' networks, with routed frames held.
    pub router_neigh: &'a mut Neighbours<(NetIdx, F)>,
    /// Counters, queues, sharing.
    pub fx: Effects<'a, F>,
}

/// What the `dhcp` node may change: the leases it granted.
pub(super) struct DhcpState<'a, F> {
    /// DHCP leases granted.
    pub leases: &'a mut Leases,
    /// Counters, queues, sharing.
    pub fx: Effects<'a, F>,
}

/// Where the nodes that send a routed frame record its egress: the adjacencies, and the
/// MAC table's counters of the next hops.
pub(super) struct EgressRecord<'a> {
    /// Resolved egresses of established routed flows.
    pub adjacencies: &'a mut Adjacencies,
    /// (network, MAC) → port or tunnel peer.
    pub mac: &'a MacTable,
}

/// What the `router` node may change: the routers' connections, adjacencies, ARP cache
/// and fragments, the MAC counters of cached egresses, the SNAT refusals and the ICMP
/// error budget.
pub(super) struct RouterState<'a, F> {
    /// Connections of the routers.
    pub conntrack: &'a mut Conntrack,
    /// Resolved egresses of established routed flows.
    pub adjacencies: &'a mut Adjacencies,
    /// ARP cache of the routers' networks, with routed frames held.
    pub router_neigh: &'a mut Neighbours<(NetIdx, F)>,
    /// Datagrams whose later fragments follow their first.
    pub fragments: &'a mut Fragments<HeldFragment<F>>,
    /// The MAC table: its generation, and its counters of next hops sent to by cache.
    pub mac: &'a mut MacTable,
    /// The generation of the underlay's ARP cache (a tunnel egress depends on it).
    pub underlay_gen: u32,
    /// Destinations whose SNAT ports ran out recently.
    pub nat_exhausted: &'a mut Exhausted,
    /// ICMP errors the worker may still send in the current second.
    pub icmp_tokens: &'a mut u32,
    /// Identification of the next outer IPv4 header.
    pub ip_ident: &'a mut IpIdent,
    /// This worker's number (its share of the SNAT ports).
    pub worker: u16,
    /// Counters, queues, sharing.
    pub fx: Effects<'a, F>,
}

impl<F> RouterState<'_, F> {
    /// The generation of the forwarding state: the sum of the changes of the adjacency
    /// table (cleared with every snapshot), the MAC table and both neighbour tables. Each
    /// only grows, so an unchanged sum means no change.
    #[inline]
    pub fn forwarding_gen(&self) -> u32 {
        self.adjacencies
            .generation()
            .wrapping_add(self.mac.generation())
            .wrapping_add(self.router_neigh.generation())
            .wrapping_add(self.underlay_gen)
    }
}

/// What the `port-output` node may change: the port's security groups' state and the
/// egress record of a routed frame.
pub(super) struct PortOutputState<'a, F> {
    /// The security groups' state.
    pub acl: AclState<'a, F>,
    /// Where a routed frame's egress is recorded.
    pub egress: EgressRecord<'a>,
}

/// What the `tunnel-encap` node may change: the underlay's ARP cache (frames held for a
/// peer), the outer identification and the egress record of a routed frame.
pub(super) struct EncapState<'a, F> {
    /// ARP cache of the underlay, with frames held for resolution.
    pub underlay_neigh: &'a mut Neighbours<F>,
    /// Identification of the next outer IPv4 header.
    pub ip_ident: &'a mut IpIdent,
    /// Where a routed frame's egress is recorded.
    pub egress: EgressRecord<'a>,
    /// Counters, queues, sharing.
    pub fx: Effects<'a, F>,
}

/// The [`Effects`] of a worker's state, borrowed field by field (so that a view can
/// borrow other fields beside them).
macro_rules! effects {
    ($dp:expr) => {
        Effects {
            stats: &mut $dp.stats,
            queues: &mut $dp.queues,
            outbox: &mut $dp.outbox,
            workers: $dp.workers,
        }
    };
}

/// The [`AclState`] of a worker's state.
macro_rules! acl_state {
    ($dp:expr) => {
        AclState {
            conntrack: &mut $dp.conntrack,
            acl_hits: &mut $dp.acl_hits,
            fragments: &mut $dp.fragments,
            fx: effects!($dp),
        }
    };
}

/// The [`EgressRecord`] of a worker's state.
macro_rules! egress_record {
    ($dp:expr) => {
        EgressRecord {
            adjacencies: &mut $dp.adjacencies,
            mac: &$dp.mac,
        }
    };
}

impl<F> Dataplane<F> {
    /// What every node may change besides its own tables.
    #[inline(always)]
    pub(super) fn effects(&mut self) -> Effects<'_, F> {
        effects!(self)
    }

    /// The view of the `steer` node.
    #[inline(always)]
    pub(super) fn steer_state(&mut self) -> SteerState<'_, F> {
        SteerState {
            steered: &mut self.steered,
            worker: self.worker,
            fx: effects!(self),
        }
    }

    /// The view of the security groups (`port-input`).
    #[inline(always)]
    pub(super) fn acl_state(&mut self) -> AclState<'_, F> {
        acl_state!(self)
    }

    /// The view of the `underlay-input` node.
    #[inline(always)]
    pub(super) fn underlay_state(&mut self) -> UnderlayState<'_, F> {
        UnderlayState {
            underlay_neigh: &mut self.underlay_neigh,
            last_tunnel: &mut self.last_tunnel,
            fx: effects!(self),
        }
    }

    /// The view of the `l2-switch` node.
    #[inline(always)]
    pub(super) fn switch_state(&mut self) -> SwitchState<'_, F> {
        SwitchState {
            mac: &mut self.mac,
            router_neigh: &self.router_neigh,
            fx: effects!(self),
        }
    }

    /// The view of the `local-arp` node.
    #[inline(always)]
    pub(super) fn local_arp_state(&mut self) -> LocalArpState<'_, F> {
        LocalArpState {
            router_neigh: &mut self.router_neigh,
            fx: effects!(self),
        }
    }

    /// The view of the `dhcp` node.
    #[inline(always)]
    pub(super) fn dhcp_state(&mut self) -> DhcpState<'_, F> {
        DhcpState {
            leases: &mut self.leases,
            fx: effects!(self),
        }
    }

    /// The view of the `router` node.
    #[inline(always)]
    pub(super) fn router_state(&mut self) -> RouterState<'_, F> {
        RouterState {
            conntrack: &mut self.conntrack,
            adjacencies: &mut self.adjacencies,
            router_neigh: &mut self.router_neigh,
            fragments: &mut self.fragments,
            mac: &mut self.mac,
            underlay_gen: self.underlay_neigh.generation(),
            nat_exhausted: &mut self.nat_exhausted,
            icmp_tokens: &mut self.icmp_tokens,
            ip_ident: &mut self.ip_ident,
            worker: self.worker,
            fx: effects!(self),
        }
    }

    /// The view of the `port-output` node.
    #[inline(always)]
    pub(super) fn port_output_state(&mut self) -> PortOutputState<'_, F> {
        PortOutputState {
            acl: acl_state!(self),
            egress: egress_record!(self),
        }
    }

    /// The view of the `tunnel-encap` node.
    #[inline(always)]
    pub(super) fn encap_state(&mut self) -> EncapState<'_, F> {
        EncapState {
            underlay_neigh: &mut self.underlay_neigh,
            ip_ident: &mut self.ip_ident,
            egress: egress_record!(self),
            fx: effects!(self),
        }
    }
}
