//! The data path as a graph of nodes over vectors of frames.
//!
//! A node takes the frames queued for it, one vector at a time, and gives each an edge: the
//! next node, done (sent, held or consumed), or a named drop. A node never calls another:
//! it returns the edge, or queues extra frames it makes (flood copies, ICMP errors, ARP
//! requests, frames released from a wait) with [`Graph::push`]. The dispatcher runs the
//! nodes in [`Node::ALL`] order, each over its whole queue, and repeats until every queue
//! is empty; it counts calls, frames and cycles per node, counts drops against the frame's
//! ingress device and, once every queue is empty, removes the sessions a dropped frame
//! created (after the frames made on its behalf, such as an ICMP error about it, went out).
//!
//! Where each node lives: `steer` (fragment_steer.rs), `port-input` (classify.rs),
//! `underlay-input` and `tunnel-encap` (tunnel.rs), `l2-switch` (l2.rs), `local-input` and
//! `local-arp` (local.rs), `dhcp` (dhcp.rs), `router` (l3.rs), `port-output` (output.rs).

use super::trace::{self, TraceEdge, TraceStep};
use super::{classify, dhcp, fragment_steer, l2, l3, local, output, tunnel, Dataplane, Io};
use crate::frame::Frame;
use crate::state::conntrack::SessionId;
use crate::state::Millis;
use crate::stats::DropReason;
use crate::tables::{Dest, NetIdx, PortIdx, Snapshot};

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

/// Sessions at most a frame creates on its way (a port's group, a router, another port's
/// group).
const FRESH_MAX: usize = 3;

/// What the graph knows of a frame besides its bytes, carried from node to node.
#[derive(Clone, Copy, Debug)]
pub(super) struct Meta {
    /// The device it was received on (its drops count there).
    pub in_port: PortIdx,
    /// Its network, once known.
    pub net: NetIdx,
    /// Where it entered its network: a local port, a tunnel peer, or the appliance.
    pub from: Dest,
    /// Where the L2 node sends it (for `port-output` and `tunnel-encap`).
    pub to: Dest,
    /// The router it is addressed to (for `router`).
    pub router: u16,
    /// Handed over by another worker (the `steer` node does not hand it on again).
    pub handed: bool,
    /// The frame a device received, not a copy or a frame the appliance made: if it is
    /// dropped, the sessions it created are removed again.
    pub primary: bool,
    /// Its number in the worker's trace; 0 when it is not traced.
    pub trace: u32,
    /// A routed frame of an established session: the adjacency slot + 1 the node that
    /// sends it records its egress in, at generation `egress_gen` (0: none).
    pub egress: u32,
    /// The forwarding generation the router resolved the frame at.
    pub egress_gen: u32,
    fresh_len: u8,
    fresh: [SessionId; FRESH_MAX],
}

// The record stays within one cache line.
const _: () = assert!(std::mem::size_of::<Meta>() <= 64);

impl Meta {
    /// A frame received on `in_port`.
    pub fn received(in_port: PortIdx, handed: bool) -> Meta {
        Meta {
            in_port,
            net: 0,
            from: Dest::Local,
            to: Dest::Local,
            router: 0,
            handed,
            primary: true,
            trace: 0,
            egress: 0,
            egress_gen: 0,
            fresh_len: 0,
            fresh: [SessionId { idx: 0, serial: 0 }; FRESH_MAX],
        }
    }

    /// A frame the appliance sends into network `net` on behalf of a frame received on
    /// `in_port` (a reply, an error, a released or a timer's frame).
    pub fn local(in_port: PortIdx, net: NetIdx) -> Meta {
        Meta {
            net,
            primary: false,
            ..Meta::received(in_port, false)
        }
    }

    /// A copy of this frame's record for a flood copy going to `to`.
    pub fn copy_to(&self, to: Dest) -> Meta {
        Meta {
            to,
            primary: false,
            egress: 0,
            fresh_len: 0,
            ..*self
        }
    }

    /// Sessions created for this frame so far.
    fn fresh(&self) -> &[SessionId] {
        &self.fresh[..usize::from(self.fresh_len)]
    }

    /// Adds sessions created for this frame.
    fn add_fresh(&mut self, ids: impl Iterator<Item = SessionId>) {
        for id in ids {
            if usize::from(self.fresh_len) < FRESH_MAX {
                self.fresh[usize::from(self.fresh_len)] = id;
                self.fresh_len += 1;
            }
        }
    }
}

/// Frames a node queue holds before it grows (a burst with its flood copies).
const QUEUE_START: usize = 256;

/// The queues of the nodes: frames waiting for each, with their records.
#[derive(Debug)]
pub(super) struct Graph<F> {
    pending: [Vec<(Meta, F)>; Node::COUNT],
    spare: [Vec<(Meta, F)>; Node::COUNT],
    /// Sessions of dropped frames, removed once every queue is empty.
    doomed: Vec<SessionId>,
}

impl<F> Graph<F> {
    /// Empty queues with room for a burst each.
    pub fn new() -> Graph<F> {
        let queues = || std::array::from_fn(|_| Vec::with_capacity(QUEUE_START));
        Graph {
            pending: queues(),
            spare: queues(),
            doomed: Vec::with_capacity(QUEUE_START),
        }
    }

    /// Queues `frame` for `node`.
    #[inline]
    pub fn push(&mut self, node: Node, meta: Meta, frame: F) {
        self.pending[node as usize].push((meta, frame));
    }
}

/// What every node gets besides the state: the snapshot, the time and the I/O layer.
pub(super) struct Ctx<'a, O> {
    /// The published tables.
    pub snap: &'a Snapshot,
    /// Now, in milliseconds.
    pub now: Millis,
    /// The way out.
    pub io: &'a mut O,
}

impl<F: Frame> Dataplane<F> {
    /// Runs the nodes over their queues until every queue is empty.
    pub(super) fn dispatch<O: Io<F>>(&mut self, snap: &Snapshot, now: Millis, io: &mut O) {
        let mut cx = Ctx { snap, now, io };
        loop {
            let mut idle = true;
            for node in Node::ALL {
                let n = node as usize;
                if self.graph.pending[n].is_empty() {
                    continue;
                }
                idle = false;
                let spare = std::mem::take(&mut self.graph.spare[n]);
                let mut batch = std::mem::replace(&mut self.graph.pending[n], spare);
                let start = cx.io.cycles();
                let frames = batch.len() as u64;
                match node {
                    Node::Steer => self.run_vector(&mut cx, node, &mut batch, fragment_steer::node),
                    Node::PortInput => self.run_vector(&mut cx, node, &mut batch, classify::node),
                    Node::UnderlayInput => {
                        self.run_vector(&mut cx, node, &mut batch, tunnel::underlay_node)
                    }
                    Node::L2Switch => self.run_vector(&mut cx, node, &mut batch, l2::node),
                    Node::LocalInput => self.run_vector(&mut cx, node, &mut batch, local::node),
                    Node::LocalArp => self.run_vector(&mut cx, node, &mut batch, local::arp_node),
                    Node::Dhcp => self.run_vector(&mut cx, node, &mut batch, dhcp::node),
                    Node::Router => self.run_vector(&mut cx, node, &mut batch, l3::node),
                    Node::PortOutput => self.run_vector(&mut cx, node, &mut batch, output::node),
                    Node::TunnelEncap => {
                        self.run_vector(&mut cx, node, &mut batch, tunnel::encap_node)
                    }
                }
                self.graph.spare[n] = batch;
                let c = &mut self.stats.nodes[n];
                c.calls += 1;
                c.packets += frames;
                c.cycles += cx.io.cycles().wrapping_sub(start);
            }
            if idle {
                break;
            }
        }
        self.conntrack.undo(&self.graph.doomed);
        self.graph.doomed.clear();
    }

    /// Records the step a traced frame took.
    #[cold]
    fn trace_step(&mut self, node: Node, meta: &Meta, step: &Step<F>, decode: String) {
        let edge = match step {
            Ok(Edge::To(next, _)) => TraceEdge::To(*next),
            Ok(Edge::Done) => TraceEdge::Done,
            Err(reason) => TraceEdge::Drop(*reason),
        };
        self.trace.record(TraceStep {
            packet: meta.trace,
            node,
            edge,
            sessions_created: self.conntrack.fresh().count() as u8,
            decode,
        });
    }

    /// The frames of `batch` through `node`, whose work on one frame is `run`; each frame
    /// goes to the queue of the edge it gets.
    #[inline(always)]
    fn run_vector<O: Io<F>>(
        &mut self,
        cx: &mut Ctx<'_, O>,
        node: Node,
        batch: &mut Vec<(Meta, F)>,
        run: impl Fn(&mut Self, &mut Ctx<'_, O>, &mut Meta, F) -> Step<F>,
    ) {
        for (mut meta, frame) in batch.drain(..) {
            self.conntrack.begin_packet();
            let decode = (meta.trace != 0).then(|| trace::decode(frame.data()));
            let step = run(self, cx, &mut meta, frame);
            if self.conntrack.created_any() {
                meta.add_fresh(self.conntrack.fresh());
            }
            if let Some(decode) = decode {
                self.trace_step(node, &meta, &step, decode);
            }
            match step {
                Ok(Edge::To(next, frame)) => self.graph.push(next, meta, frame),
                Ok(Edge::Done) => {}
                Err(reason) => {
                    if meta.primary {
                        self.graph.doomed.extend_from_slice(meta.fresh());
                    }
                    self.stats.drop(meta.in_port, reason);
                }
            }
        }
    }
}
