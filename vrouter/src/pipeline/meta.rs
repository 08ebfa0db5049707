//! What the graph knows of a frame besides its bytes, filled by the input nodes and carried
//! from node to node in the frame's queue entry.

use crate::state::conntrack::SessionId;
use crate::tables::{Dest, NetIdx, PortIdx};

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
    pub(super) fn fresh(&self) -> &[SessionId] {
        &self.fresh[..usize::from(self.fresh_len)]
    }

    /// Adds sessions created for this frame.
    pub(super) fn add_fresh(&mut self, ids: impl Iterator<Item = SessionId>) {
        for id in ids {
            if usize::from(self.fresh_len) < FRESH_MAX {
                self.fresh[usize::from(self.fresh_len)] = id;
                self.fresh_len += 1;
            }
        }
    }
}
