//! What the data path needs from the I/O layer.

use super::node::Node;
use crate::tables::PortIdx;

/// What the pipeline needs from the I/O layer: a way out and fresh buffers.
pub trait Io<F> {
    /// Queues `frame` for transmission on `port`.
    fn send(&mut self, port: PortIdx, frame: F);
    /// An empty frame (length 0, full headroom) for a packet the pipeline originates;
    /// `None` when no buffer is free.
    fn alloc(&mut self) -> Option<F>;
    /// Passes `frame`, received on `port`, to `worker`, which owns its flow (steer.rs) and
    /// runs it from node `resume` (`port-input` for a frame steering is done with, so that
    /// the owner does not parse it again; `steer` for a fragment).
    fn handoff(&mut self, worker: u16, port: PortIdx, frame: F, resume: Node);
    /// A cycle counter (the TSC on the appliance's workers), for the nodes' counters; 0
    /// where there is none.
    fn cycles(&self) -> u64 {
        0
    }
}
