//! The `l2-switch` node (br-int NORMAL and br-tun tables 1, 10, 20, 21): learn the source,
//! look up the destination, flood what is unknown or multicast with split horizon.

use super::arp_guard;
use super::meta::Meta;
use super::node::{Ctx, Edge, Node, Step};
use super::node_state::SwitchState;
use super::sync_event::SyncEvent;
use crate::frame::Frame;
use crate::state::Learn;
use crate::stats::DropReason;
use crate::tables::{Dest, NetConf, Snapshot};
use crate::wire::{be16, ethernet, Mac};

/// Switches an untagged Ethernet frame of network `meta.net` that came from `meta.from`.
#[inline]
pub(super) fn node<F: Frame, O>(
    st: &mut SwitchState<'_, F>,
    cx: &mut Ctx<'_, O>,
    meta: &mut Meta,
    frame: F,
) -> Step<F> {
    let d = frame.data();
    if d.len() < ethernet::HEADER_LEN {
        return Err(DropReason::Malformed);
    }
    let dst = Mac::from_bytes(&d[0..6]);
    let src = Mac::from_bytes(&d[6..12]);
    // IEEE 802.3 §3.2.3: a source address is an individual address; bridges drop others.
    if !src.is_unicast() {
        return Err(DropReason::InvalidSrcMac);
    }
    let (net, from) = (meta.net, meta.from);
    let netconf = cx.snap.network(net).ok_or(DropReason::PortUnused)?;
    if from != Dest::Local && be16(d, 12) == ethernet::ethertype::ARP {
        arp_guard::check(st.router_neigh, cx.snap, netconf, d)?;
    }
    match st.mac.learn(net, src, from, cx.now) {
        Learn::New | Learn::Moved => st.fx.share(SyncEvent::Mac {
            net,
            mac: src,
            dest: from,
        }),
        // The model pins this address elsewhere (a local port, another peer, the
        // appliance itself): the frame is not its owner's.
        Learn::Conflict => return Err(DropReason::MacStaticConflict),
        Learn::Static | Learn::Refreshed | Learn::Full => {}
    }
    if !dst.is_multicast() {
        if let Some(dest) = st.mac.forward(net, dst, d.len()) {
            meta.to = dest;
            return deliver(from, dest, frame);
        }
    }
    flood(st, cx.snap, meta, netconf, frame)
}

/// The edge to the one place a destination was learned at.
#[inline]
fn deliver<F>(from: Dest, dest: Dest, frame: F) -> Step<F> {
    if dest == from {
        return Err(DropReason::SameSegment);
    }
    match dest {
        Dest::Port(_) => Ok(Edge::To(Node::PortOutput, frame)),
        Dest::Peer(_) if matches!(from, Dest::Peer(_)) => Err(DropReason::TunnelToTunnel),
        Dest::Peer(_) => Ok(Edge::To(Node::TunnelEncap, frame)),
        Dest::Local => Ok(Edge::To(Node::LocalInput, frame)),
    }
}

/// Floods to every local member of the network but the ingress one, to the appliance's own
/// ports on it (router, DHCP) and, for frames that did not come from a tunnel, to every
/// tunnel peer (br-tun table 21). A copy that finds no buffer is counted and the other
/// copies still go; each copy's own drops count apart. Where the flood reaches one place
/// only (a routed frame to an upstream router not yet heard from, on a network whose one
/// member is its uplink), the frame goes there as a learned destination's would, with its
/// record: its session may cache that egress, which a learned MAC or a new member (a
/// snapshot) invalidates.
fn flood<F: Frame>(
    st: &mut SwitchState<'_, F>,
    snap: &Snapshot,
    meta: &mut Meta,
    net: &NetConf,
    frame: F,
) -> Step<F> {
    let from = meta.from;
    let ports = net
        .members
        .iter()
        .map(|&(p, _)| Dest::Port(p))
        .filter(|&d| d != from);
    let to_peers = net.tunnel_key.is_some() && !matches!(from, Dest::Peer(_));
    let peers = snap
        .peer_list
        .iter()
        .filter(move |_| to_peers)
        .map(|&ip| Dest::Peer(ip));
    let locals = (!net.locals.is_empty() && from != Dest::Local).then_some(Dest::Local);
    let mut targets = ports.chain(locals).chain(peers).peekable();
    let Some(first) = targets.next() else {
        return Err(DropReason::NoDestination);
    };
    st.fx.stats.flooded += 1;
    if targets.peek().is_none() {
        meta.to = first;
        return Ok(Edge::To(node_for(first), frame));
    }
    let mut frame = Some(frame);
    let mut next = Some(first);
    while let Some(dest) = next {
        next = targets.next();
        let copy = if next.is_none() {
            frame.take()
        } else {
            frame.as_ref().and_then(F::try_clone)
        };
        let Some(copy) = copy else {
            st.fx.stats.drop(meta.in_port, DropReason::NoBuffer);
            continue;
        };
        st.fx.queues.push(node_for(dest), meta.copy_to(dest), copy);
    }
    Ok(Edge::Done)
}

/// The node that takes a frame to `dest`.
#[inline]
fn node_for(dest: Dest) -> Node {
    match dest {
        Dest::Port(_) => Node::PortOutput,
        Dest::Peer(_) => Node::TunnelEncap,
        Dest::Local => Node::LocalInput,
    }
}
