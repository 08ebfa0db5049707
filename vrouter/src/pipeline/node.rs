//! The interface of a node: the nodes in dispatch order, the edge a node gives a frame, and
//! what every node gets besides the state.

use crate::state::Millis;
use crate::stats::DropReason;
use crate::tables::Snapshot;

/// The nodes of the graph, in the order the dispatcher runs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Node {
    /// With several workers: hands frames to the worker that owns their flow.
    Steer,
    /// Picks the network from the ingress device's role (access, trunk tag, underlay).
    PortInput,
    /// ARP for the tunnel endpoint and GRE termination on the underlay.
    UnderlayInput,
    /// MAC learning, lookup and flooding on a network (br-int, br-tun).
    L2Switch,
    /// Frames for the appliance's own ports: to ARP, DHCP or the router.
    LocalInput,
    /// ARP for the appliance's own ports.
    LocalArp,
    /// The DHCP server of a network.
    Dhcp,
    /// IPv4 forwarding with NAT, ICMP and fragments (a qrouter namespace).
    Router,
    /// Security groups into a VM, the egress tag, and the device.
    PortOutput,
    /// GRE encapsulation towards a tunnel peer.
    TunnelEncap,
}

impl Node {
    /// Number of nodes.
    pub const COUNT: usize = 10;
    /// Every node, in dispatch order.
    pub const ALL: [Node; Node::COUNT] = [
        Node::Steer,
        Node::PortInput,
        Node::UnderlayInput,
        Node::L2Switch,
        Node::LocalInput,
        Node::LocalArp,
        Node::Dhcp,
        Node::Router,
        Node::PortOutput,
        Node::TunnelEncap,
    ];

    /// The node's name in counters and traces.
    pub fn name(self) -> &'static str {
        match self {
            Node::Steer => "steer",
            Node::PortInput => "port-input",
            Node::UnderlayInput => "underlay-input",
            Node::L2Switch => "l2-switch",
            Node::LocalInput => "local-input",
            Node::LocalArp => "local-arp",
            Node::Dhcp => "dhcp",
            Node::Router => "router",
            Node::PortOutput => "port-output",
            Node::TunnelEncap => "tunnel-encap",
        }
    }
}

/// Where a node sends a frame it did not drop.
#[derive(Debug)]
pub(super) enum Edge<F> {
    /// To this node's queue.
    To(Node, F),
    /// Nowhere further: sent, held for a neighbour or a fragment, or consumed.
    Done,
}

/// What a node did with one frame: an edge, or the reason it dropped it.
pub(super) type Step<F> = Result<Edge<F>, DropReason>;

/// What every node gets besides the state: the snapshot, the time and the I/O layer.
pub(super) struct Ctx<'a, O> {
    /// The published tables.
    pub snap: &'a Snapshot,
    /// Now, in milliseconds.
    pub now: Millis,
    /// The way out.
    pub io: &'a mut O,
}
