//! A routed packet's way to its next hop: the next hop's MAC from the router ARP cache, or
//! a wait for ARP (RFC 826) with the request sent; and the frames released when the
//! neighbour answers.

use super::arp_frames::arp_frame;
use super::hop::NextHop;
use super::io::Io;
use super::meta::Meta;
use super::node::{Ctx, Edge, Node, Step};
use super::node_state::{Effects, LocalArpState, RouterState};
use super::sync_event::SyncEvent;
use crate::frame::Frame;
use crate::state::neighbours::Hold;
use crate::state::Millis;
use crate::stats::DropReason;
use crate::tables::router::RouterPort;
use crate::tables::{Dest, PortIdx, Snapshot};
use crate::wire::{ethernet, Mac};

/// Sends a routed packet out of router port `hop.out_rp` towards `hop.ip`: the Ethernet
/// header is rewritten from the port to the next hop's MAC and the frame goes to the egress
/// network's L2 node, or it waits for ARP.
#[inline]
pub(super) fn output<F: Frame, O: Io<F>>(
    st: &mut RouterState<'_, F>,
    cx: &mut Ctx<'_, O>,
    meta: &mut Meta,
    hop: &NextHop<'_>,
    mut frame: F,
) -> Step<F> {
    let out = &hop.r.ports[hop.out_rp];
    let mac = st.router_neigh.resolve(hop.ip);
    ethernet::Repr {
        dst: mac.unwrap_or(Mac::ZERO),
        src: out.mac,
        ethertype: ethernet::ethertype::IPV4,
    }
    .emit(frame.data_mut());
    if mac.is_some() {
        meta.net = out.net;
        meta.from = Dest::Local;
        return Ok(Edge::To(Node::L2Switch, frame));
    }
    match st.router_neigh.hold(hop.ip, (out.net, frame), cx.now) {
        Hold::Held { request, dropped } => {
            st.fx.stats.drops[DropReason::NeighbourEvicted as usize] += dropped as u64;
            if request {
                send_arp_request(&mut st.fx, cx.io, meta.in_port, out, hop.ip);
            }
            Ok(Edge::Done)
        }
        Hold::Full(_) => Err(DropReason::NeighbourQueueFull),
    }
}

/// A neighbour's address and MAC seen in ARP, and whether to create its entry.
#[derive(Clone, Copy, Debug)]
pub(super) struct Seen {
    /// Its IPv4 address.
    pub ip: u32,
    /// Its MAC address.
    pub mac: Mac,
    /// Create the entry if there is none (the ARP was for the router, from on-link).
    pub create: bool,
}

/// Records that a neighbour on a router port's network is at `seen.mac` (from ARP received
/// on `in_port`) and sends what was waiting for it.
pub(super) fn neighbour_seen<F: Frame>(
    st: &mut LocalArpState<'_, F>,
    in_port: PortIdx,
    seen: Seen,
    now: Millis,
) {
    if seen.create {
        st.fx.share(SyncEvent::RouterNeighbour {
            ip: seen.ip,
            mac: seen.mac,
            port: in_port,
        });
    }
    release_held(st, in_port, seen, now);
}

/// Records `seen` in the router ARP cache and queues the frames held for it to their
/// networks' L2 node; their drops count against `in_port`.
pub(super) fn release_held<F: Frame>(
    st: &mut LocalArpState<'_, F>,
    in_port: PortIdx,
    seen: Seen,
    now: Millis,
) {
    for (net, mut f) in st.router_neigh.confirm(seen.ip, seen.mac, now, seen.create) {
        f.data_mut()[0..6].copy_from_slice(&seen.mac.0);
        st.fx
            .queues
            .push(Node::L2Switch, Meta::local(in_port, net), f);
    }
}

/// Broadcasts an ARP request for `target` from router port `from` into its network.
pub(super) fn send_arp_request<F: Frame, O: Io<F>>(
    fx: &mut Effects<'_, F>,
    io: &mut O,
    in_port: PortIdx,
    from: &RouterPort,
    target: u32,
) {
    let Some(frame) = arp_frame(io, from.mac, from.ip, Mac::ZERO, target) else {
        fx.stats.drops[DropReason::NoBuffer as usize] += 1;
        return;
    };
    fx.stats.arp_requests += 1;
    fx.queues
        .push(Node::L2Switch, Meta::local(in_port, from.net), frame);
}

/// The router port (router, port) whose subnet holds `ip`, for ARP requests from timers.
pub(super) fn port_for(snap: &Snapshot, ip: u32) -> Option<(usize, usize)> {
    snap.routers.iter().enumerate().find_map(|(ri, r)| {
        let pi = r.ports.iter().position(|p| {
            let m = crate::tables::router::mask(p.prefix_len);
            ip & m == p.ip & m
        })?;
        Some((ri, pi))
    })
}
