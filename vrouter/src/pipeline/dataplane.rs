//! The state one worker owns: its tables, caches, counters and the graph's queues. The
//! entry points that run the graph over it are in entry.rs; each node changes it through
//! the view its signature names (node_state.rs).

use super::held_fragment::HeldFragment;
use super::ip_ident::IpIdent;
use super::last_tunnel::LastTunnel;
use super::nat_exhausted::Exhausted;
use super::nat_flush::NatAddresses;
use super::queues::Queues;
use super::sync_event::SyncEvent;
use super::trace::Trace;
use crate::state::{Adjacencies, Conntrack, Fragments, Leases, MacTable, Neighbours};
use crate::stats::Stats;
use crate::tables::acl::PortAcl;
use crate::tables::{NetIdx, PortIdx};

/// Where the first fragments of datagrams went, with later fragments (and their ingress
/// device) waiting for that to be known.
pub type Steering<F> = Fragments<(PortIdx, F)>;

/// (packets, bytes) of the first packets of the connections each rule of a port allowed:
/// its ingress rules, then its egress rules, in chain order.
pub type RuleHits = (Vec<(u64, u64)>, Vec<(u64, u64)>);

/// The state one worker owns (the entry points that run the graph over it: entry.rs).
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
    /// Resolved egresses of established routed flows (egress.rs).
    pub adjacencies: Adjacencies,
    /// The network of the last (peer, key) a GRE packet came with, for this snapshot.
    pub(super) last_tunnel: Option<LastTunnel>,
    /// Datagrams whose later fragments follow their first, with those waiting for it.
    pub fragments: Fragments<HeldFragment<F>>,
    /// With several workers: where datagrams' first fragments went, with later ones waiting.
    pub steered: Steering<F>,
    /// Router and floating addresses already announced by gratuitous ARP.
    pub(super) announced: Vec<(NetIdx, u32)>,
    /// ICMP errors this worker may still send in the current second.
    pub(super) icmp_tokens: u32,
    /// Hits per security group rule, by port.
    pub acl_hits: Vec<RuleHits>,
    /// The security groups the state was last checked against.
    pub(super) acls: Vec<Option<PortAcl>>,
    /// DHCP leases granted, for views.
    pub leases: Leases,
    /// Counters.
    pub stats: Stats,
    /// Destinations whose SNAT ports ran out recently.
    pub(super) nat_exhausted: Exhausted,
    /// The routers' NAT addresses as of the last snapshot applied (nat_flush.rs).
    pub(super) nat_addresses: NatAddresses,
    /// Identification of the next outer IPv4 header this worker emits.
    pub(super) ip_ident: IpIdent,
    /// This worker's number, from 0.
    pub(super) worker: u16,
    /// How many workers share the traffic (flows are steered to their owner, steer.rs).
    pub(super) workers: u16,
    /// Learned state for the other workers; the caller passes it on after each burst.
    pub outbox: Vec<SyncEvent>,
    /// The queues of the graph's nodes.
    pub(super) queues: Queues<F>,
    /// The packet trace: what to trace and what was recorded.
    pub trace: Trace,
}
