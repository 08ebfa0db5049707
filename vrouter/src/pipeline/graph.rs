//! The data path as a graph of nodes over vectors of frames.
//!
//! A node takes the frames queued for it, one vector at a time, with the view of the
//! worker's state its signature names (node_state.rs), and gives each an edge: the next
//! node, done (sent, held or consumed), or a named drop. A node never calls another:
//! it returns the edge, or queues extra frames it makes (flood copies, ICMP errors, ARP
//! requests, frames released from a wait) with `Queues::push` (queues.rs). The dispatcher runs the
//! nodes in [`Node::ALL`] order, each over its whole queue, and repeats until every queue
//! is empty; it counts calls, frames and cycles per node, counts drops against the frame's
//! ingress device and, once every queue is empty, removes the sessions a dropped frame
//! created (after the frames made on its behalf, such as an ICMP error about it, went out).
//!
//! Where each node lives: `steer` (fragment_steer.rs), `port-input` (classify.rs),
//! `underlay-input` and `tunnel-encap` (tunnel.rs), `l2-switch` (l2.rs), `local-input` and
//! `local-arp` (local.rs), `dhcp` (dhcp.rs), `router` (l3.rs), `port-output` (output.rs).

use super::dataplane::Dataplane;
use super::io::Io;
use super::meta::Meta;
use super::node::{Ctx, Edge, Node, Step};
use super::node_state::View;
use super::trace::{self, TraceEdge, TraceStep};
use super::zone::zone;
use super::{classify, dhcp, fragment_steer, l2, l3, local, output, tunnel, warm};
use crate::frame::Frame;
use crate::state::Millis;
use crate::tables::{Dest, PortIdx, Snapshot};

impl<F: Frame> Dataplane<F> {
    /// Runs the nodes over their queues until every queue is empty.
    pub(super) fn dispatch<O: Io<F>>(&mut self, snap: &Snapshot, now: Millis, io: &mut O) {
        let mut cx = Ctx { snap, now, io };
        loop {
            let mut idle = true;
            for node in Node::ALL {
                let n = node as usize;
                if self.queues.pending[n].is_empty() {
                    continue;
                }
                idle = false;
                let spare = std::mem::take(&mut self.queues.spare[n]);
                let mut batch = std::mem::replace(&mut self.queues.pending[n], spare);
                let start = cx.io.cycles();
                let frames = batch.len() as u64;
                let b = &mut batch;
                let traced = match node {
                    Node::Steer => run_vector(
                        &mut self.steer_state(),
                        &mut cx,
                        node,
                        b,
                        fragment_steer::node,
                    ),
                    Node::PortInput => {
                        warm::sessions(&self.conntrack, b, |m| filtered(snap, m.in_port));
                        run_vector(&mut self.acl_state(), &mut cx, node, b, classify::node)
                    }
                    Node::UnderlayInput => run_vector(
                        &mut self.underlay_state(),
                        &mut cx,
                        node,
                        b,
                        tunnel::underlay_node,
                    ),
                    Node::L2Switch => {
                        run_vector(&mut self.switch_state(), &mut cx, node, b, l2::node)
                    }
                    Node::LocalInput => {
                        run_vector(&mut self.effects(), &mut cx, node, b, local::node)
                    }
                    Node::LocalArp => run_vector(
                        &mut self.local_arp_state(),
                        &mut cx,
                        node,
                        b,
                        local::arp_node,
                    ),
                    Node::Dhcp => run_vector(&mut self.dhcp_state(), &mut cx, node, b, dhcp::node),
                    Node::Router => {
                        warm::sessions(&self.conntrack, b, |m| Some(m.router));
                        run_vector(&mut self.router_state(), &mut cx, node, b, l3::node)
                    }
                    Node::PortOutput => {
                        let to = |m: &Meta| match m.to {
                            Dest::Port(p) => filtered(snap, p),
                            _ => None,
                        };
                        warm::sessions(&self.conntrack, b, to);
                        run_vector(
                            &mut self.port_output_state(),
                            &mut cx,
                            node,
                            b,
                            output::node,
                        )
                    }
                    Node::TunnelEncap => run_vector(
                        &mut self.encap_state(),
                        &mut cx,
                        node,
                        b,
                        tunnel::encap_node,
                    ),
                };
                for step in traced {
                    self.trace.record(step);
                }
                self.queues.spare[n] = batch;
                let c = &mut self.stats.nodes[n];
                c.calls += 1;
                c.packets += frames;
                c.cycles += cx.io.cycles().wrapping_sub(start);
            }
            if idle {
                break;
            }
        }
        self.conntrack.undo(&self.queues.doomed);
        self.queues.doomed.clear();
    }
}

/// The frames of `batch` through `node`, whose work on one frame with the node's `view` is
/// `run`; each frame goes to the queue of the edge it gets. Returns the steps of the traced
/// frames.
#[inline(always)]
fn run_vector<'a, F: Frame + 'a, O: Io<F>, V: View<'a, F>>(
    view: &mut V,
    cx: &mut Ctx<'_, O>,
    node: Node,
    batch: &mut Vec<(Meta, F)>,
    run: impl Fn(&mut V, &mut Ctx<'_, O>, &mut Meta, F) -> Step<F>,
) -> Vec<TraceStep> {
    let mut traced = Vec::new();
    for (mut meta, frame) in batch.drain(..) {
        if let Some(ct) = view.conntrack() {
            ct.begin_packet();
        }
        let decode = (meta.trace != 0).then(|| trace::decode(frame.data()));
        let step = run(view, cx, &mut meta, frame);
        if let Some(ct) = view.conntrack() {
            if ct.created_any() {
                meta.add_fresh(ct.fresh());
            }
        }
        if let Some(decode) = decode {
            traced.push(trace_step(view, node, &meta, &step, decode));
        }
        let fx = view.effects();
        match step {
            Ok(Edge::To(next, frame)) => fx.queues.push(next, meta, frame),
            Ok(Edge::Done) => {}
            Err(reason) => {
                if meta.primary {
                    fx.queues.doomed.extend_from_slice(meta.fresh());
                }
                fx.stats.drop(meta.in_port, reason);
            }
        }
    }
    traced
}

/// The step a traced frame took.
#[cold]
fn trace_step<'a, F, V: View<'a, F>>(
    view: &mut V,
    node: Node,
    meta: &Meta,
    step: &Step<F>,
    decode: String,
) -> TraceStep {
    let edge = match step {
        Ok(Edge::To(next, _)) => TraceEdge::To(*next),
        Ok(Edge::Done) => TraceEdge::Done,
        Err(reason) => TraceEdge::Drop(*reason),
    };
    TraceStep {
        packet: meta.trace,
        node,
        edge,
        sessions_created: view.conntrack().map_or(0, |ct| ct.fresh().count() as u8),
        decode,
    }
}

/// The conntrack zone of `port`'s security groups, if it has any (the frames the
/// `port-input` and `port-output` nodes look sessions up for).
#[inline]
fn filtered(snap: &Snapshot, port: PortIdx) -> Option<u16> {
    snap.acl(port).map(|_| zone(port))
}
