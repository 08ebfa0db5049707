//! The data path as a graph of nodes over vectors of frames.
//!
//! A node takes the frames queued for it, one vector at a time, and gives each an edge: the
//! next node, done (sent, held or consumed), or a named drop. A node never calls another:
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
                match node {
                    Node::Steer => self.run_vector(&mut cx, node, &mut batch, fragment_steer::node),
                    Node::PortInput => {
                        warm::sessions(self, &batch, |m| filtered(snap, m.in_port));
                        self.run_vector(&mut cx, node, &mut batch, classify::node)
                    }
                    Node::UnderlayInput => {
                        self.run_vector(&mut cx, node, &mut batch, tunnel::underlay_node)
                    }
                    Node::L2Switch => self.run_vector(&mut cx, node, &mut batch, l2::node),
                    Node::LocalInput => self.run_vector(&mut cx, node, &mut batch, local::node),
                    Node::LocalArp => self.run_vector(&mut cx, node, &mut batch, local::arp_node),
                    Node::Dhcp => self.run_vector(&mut cx, node, &mut batch, dhcp::node),
                    Node::Router => {
                        warm::sessions(self, &batch, |m| Some(m.router));
                        self.run_vector(&mut cx, node, &mut batch, l3::node)
                    }
                    Node::PortOutput => {
                        let to = |m: &Meta| match m.to {
                            Dest::Port(p) => filtered(snap, p),
                            _ => None,
                        };
                        warm::sessions(self, &batch, to);
                        self.run_vector(&mut cx, node, &mut batch, output::node)
                    }
                    Node::TunnelEncap => {
                        self.run_vector(&mut cx, node, &mut batch, tunnel::encap_node)
                    }
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
                Ok(Edge::To(next, frame)) => self.queues.push(next, meta, frame),
                Ok(Edge::Done) => {}
                Err(reason) => {
                    if meta.primary {
                        self.queues.doomed.extend_from_slice(meta.fresh());
                    }
                    self.stats.drop(meta.in_port, reason);
                }
            }
        }
    }
}

/// The conntrack zone of `port`'s security groups, if it has any (the frames the
/// `port-input` and `port-output` nodes look sessions up for).
#[inline]
fn filtered(snap: &Snapshot, port: PortIdx) -> Option<u16> {
    snap.acl(port).map(|_| zone(port))
}
