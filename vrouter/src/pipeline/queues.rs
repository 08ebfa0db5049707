//! The queues of the graph's nodes: frames waiting for each node, with their records.

use super::meta::Meta;
use super::node::Node;
use crate::state::conntrack::SessionId;

/// Frames a node queue holds before it grows (a burst with its flood copies).
const QUEUE_START: usize = 256;

/// The queues of the nodes: frames waiting for each, with their records.
#[derive(Debug)]
pub(super) struct Queues<F> {
    /// Frames waiting for each node.
    pub pending: [Vec<(Meta, F)>; Node::COUNT],
    /// Emptied vectors, swapped in while a node runs over its queue.
    pub spare: [Vec<(Meta, F)>; Node::COUNT],
    /// Sessions of dropped frames, removed once every queue is empty.
    pub doomed: Vec<SessionId>,
}

impl<F> Queues<F> {
    /// Empty queues with room for a burst each.
    pub fn new() -> Queues<F> {
        let queues = || std::array::from_fn(|_| Vec::with_capacity(QUEUE_START));
        Queues {
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
