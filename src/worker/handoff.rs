//! Frames between workers, by vectors: a frame the pipeline hands to the worker that owns its
//! flow ([`vrouter::pipeline::steer`]) is staged per destination during the burst, and the
//! staged frames go at the end of it as one batch into a bounded single-producer
//! single-consumer ring per (source, destination) pair (`rtrb`: one release store publishes
//! the whole batch). The owner drains each of its rings once per poll and runs everything it
//! took as one vector ([`vrouter::pipeline::Dataplane::rx_handed`]).
//!
//! No allocation in steady state: the rings are allocated at start and hold the frames
//! themselves, and a staging vector keeps its capacity from burst to burst. A batch that
//! does not fit in its ring is cut: the frames beyond the room are freed and counted
//! (`handoff_full`), those before it are delivered in order.

use rtrb::{Consumer, Producer, RingBuffer};
use vrouter::pipeline::Node;
use vrouter::tables::PortIdx;

/// Frames one (source, destination) ring holds; beyond it frames are dropped (`handoff_full`).
pub const HANDOFF_RING: usize = 4096;
/// Frames a staging vector has room for before it grows (it keeps what it grew to).
const STAGING_START: usize = 256;

/// A frame handed over: the device it was received on, the frame, and the node the owner
/// runs it from.
pub type Handed<F> = (PortIdx, F, Node);

/// The frames staged for one destination during a burst, and the ring to it.
struct Lane<F> {
    staged: Vec<Handed<F>>,
    ring: Producer<Handed<F>>,
}

/// The sending side of one worker: a lane per other worker.
pub struct HandoffOut<F> {
    /// By worker number; `None` for this worker itself.
    lanes: Vec<Option<Lane<F>>>,
    /// Frames freed because their destination's ring was full, or the destination was no
    /// worker (counted as `handoff_full`).
    pub full: u64,
}

impl<F> HandoffOut<F> {
    /// Stages `frame`, received on `port`, for `worker` to run from `resume`; a frame for
    /// no other worker is freed and counted.
    #[inline]
    pub fn stage(&mut self, worker: u16, port: PortIdx, frame: F, resume: Node) {
        match self.lanes.get_mut(usize::from(worker)) {
            Some(Some(lane)) => lane.staged.push((port, frame, resume)),
            _ => self.full += 1,
        }
    }

    /// Moves every lane's staged frames into its ring as one batch; the frames that find
    /// no room are freed and counted. Returns the frames delivered.
    pub fn flush(&mut self) -> usize {
        let mut delivered = 0;
        for lane in self.lanes.iter_mut().flatten() {
            if lane.staged.is_empty() {
                continue;
            }
            let room = lane.ring.slots().min(lane.staged.len());
            // Only this side fills the ring, so the room it saw is still there.
            if let Ok(chunk) = lane.ring.write_chunk_uninit(room) {
                delivered += chunk.fill_from_iter(lane.staged.drain(..room));
            }
            self.full += lane.staged.len() as u64;
            lane.staged.clear();
        }
        delivered
    }
}

/// The receiving side of one worker: a ring from every other worker.
pub struct HandoffIn<F> {
    rings: Vec<Consumer<Handed<F>>>,
}

impl<F> HandoffIn<F> {
    /// The frames waiting in the rings, at most `budget` from each, in ring order; what the
    /// iterator yielded leaves the ring when it is dropped.
    pub fn drain(&mut self, budget: usize) -> impl Iterator<Item = Handed<F>> + '_ {
        self.rings.iter_mut().flat_map(move |ring| {
            let n = ring.slots().min(budget);
            ring.read_chunk(n).into_iter().flatten()
        })
    }
}

/// The hand-off rings of `n` workers, `capacity` frames each: every worker's sending and
/// receiving side, in worker order.
pub fn mesh<F>(n: u16, capacity: usize) -> Vec<(HandoffOut<F>, HandoffIn<F>)> {
    let n = usize::from(n);
    let mut outs: Vec<HandoffOut<F>> = (0..n)
        .map(|_| HandoffOut {
            lanes: (0..n).map(|_| None).collect(),
            full: 0,
        })
        .collect();
    let mut ins: Vec<HandoffIn<F>> = (0..n).map(|_| HandoffIn { rings: Vec::new() }).collect();
    for (src, out) in outs.iter_mut().enumerate() {
        for (dst, inn) in ins.iter_mut().enumerate() {
            if src == dst {
                continue;
            }
            let (ring, consumer) = RingBuffer::new(capacity);
            out.lanes[dst] = Some(Lane {
                staged: Vec::with_capacity(STAGING_START),
                ring,
            });
            inn.rings.push(consumer);
        }
    }
    outs.into_iter().zip(ins).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;
    use vrouter::{Frame, VecFrame};

    /// A 64-byte frame whose first byte is `n`.
    fn frame(n: u8) -> VecFrame {
        let mut bytes = [0u8; 64];
        bytes[0] = n;
        VecFrame::new(&bytes)
    }

    #[test]
    fn a_burst_goes_as_one_batch_and_arrives_in_order() {
        let mut rings = mesh::<VecFrame>(3, 64);
        for n in 0..10 {
            // Worker 0 hands even frames to 1 and odd ones to 2.
            rings[0]
                .0
                .stage(1 + n % 2, 7, frame(n as u8), Node::PortInput);
        }
        assert_eq!(rings[1].1.drain(64).count(), 0, "nothing before the flush");
        assert_eq!(rings[0].0.flush(), 10);
        assert_eq!(rings[0].0.full, 0);
        let got: Vec<(PortIdx, u8)> = rings[1]
            .1
            .drain(64)
            .map(|(p, f, _)| (p, f.data()[0]))
            .collect();
        assert_eq!(got, [(7, 0), (7, 2), (7, 4), (7, 6), (7, 8)]);
        let got: Vec<u8> = rings[2].1.drain(64).map(|(_, f, _)| f.data()[0]).collect();
        assert_eq!(got, [1, 3, 5, 7, 9]);
        assert_eq!(
            rings[1].1.drain(64).count(),
            0,
            "drained frames left the ring"
        );
    }

    #[test]
    fn a_full_ring_frees_and_counts_what_does_not_fit() {
        let mut rings = mesh::<VecFrame>(2, 4);
        for n in 0..10 {
            rings[0].0.stage(1, 0, frame(n), Node::PortInput);
        }
        assert_eq!(rings[0].0.flush(), 4);
        assert_eq!(rings[0].0.full, 6, "six of ten did not fit");
        // The next batch finds the ring still full: all of it is dropped.
        rings[0].0.stage(1, 0, frame(10), Node::PortInput);
        assert_eq!(rings[0].0.flush(), 0);
        assert_eq!(rings[0].0.full, 7);
        // Drained within a budget: two now, two later, in order.
        let first: Vec<u8> = rings[1].1.drain(2).map(|(_, f, _)| f.data()[0]).collect();
        assert_eq!(first, [0, 1]);
        rings[0].0.stage(1, 0, frame(11), Node::PortInput);
        rings[0].0.stage(1, 0, frame(12), Node::PortInput);
        rings[0].0.stage(1, 0, frame(13), Node::PortInput);
        assert_eq!(rings[0].0.flush(), 2, "room for the two drained");
        assert_eq!(rings[0].0.full, 8);
        let rest: Vec<u8> = rings[1].1.drain(64).map(|(_, f, _)| f.data()[0]).collect();
        assert_eq!(rest, [2, 3, 11, 12]);
        // A worker that does not exist, or the sender itself: dropped and counted.
        rings[0].0.stage(5, 0, frame(14), Node::PortInput);
        rings[0].0.stage(0, 0, frame(15), Node::PortInput);
        assert_eq!(rings[0].0.full, 10);
    }

    #[test]
    fn dropped_frames_are_freed_and_delivered_ones_kept() {
        let buffer = Rc::new(());
        let mut rings = mesh::<Rc<()>>(2, 3);
        for _ in 0..5 {
            rings[0].0.stage(1, 0, Rc::clone(&buffer), Node::PortInput);
        }
        assert_eq!(Rc::strong_count(&buffer), 6, "five staged");
        rings[0].0.flush();
        assert_eq!(Rc::strong_count(&buffer), 4, "three in the ring, two freed");
        assert_eq!(rings[0].0.full, 2);
        drop(rings);
        assert_eq!(Rc::strong_count(&buffer), 1, "the ring frees what it held");
    }
}
