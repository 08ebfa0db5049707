//! The L2 stage (br-int NORMAL and br-tun tables 1, 10, 20, 21): learn the source, look up
//! the destination, flood what is unknown or multicast with split horizon.

use super::{acl, arp_guard, local, output, tunnel, Dataplane, Io, SyncEvent};
use crate::frame::Frame;
use crate::state::Learn;
use crate::state::Millis;
use crate::stats::DropReason;
use crate::tables::{Dest, NetConf, NetIdx, PortIdx, Snapshot};
use crate::wire::{be16, ethernet, Mac};

/// Switches an untagged Ethernet frame of network `net` that came from `from`.
#[inline]
#[allow(clippy::too_many_arguments)]
pub(super) fn switch<F: Frame, O: Io<F>>(
    dp: &mut Dataplane<F>,
    snap: &Snapshot,
    in_port: PortIdx,
    net: NetIdx,
    from: Dest,
    frame: F,
    now: Millis,
    io: &mut O,
) -> Result<(), DropReason> {
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
    let netconf = snap.network(net).ok_or(DropReason::PortUnused)?;
    if from != Dest::Local && be16(d, 12) == ethernet::ethertype::ARP {
        arp_guard::check(dp, snap, netconf, d)?;
    }
    match dp.mac.learn(net, src, from, now) {
        Learn::New | Learn::Moved => dp.share(SyncEvent::Mac {
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
        if let Some(dest) = dp.mac.forward(net, dst, d.len()) {
            return deliver(dp, snap, in_port, netconf, from, dest, frame, now, io);
        }
    }
    flood(dp, snap, in_port, netconf, from, frame, now, io)
}

/// Sends a frame to the one place its destination was learned at.
#[inline]
#[allow(clippy::too_many_arguments)]
fn deliver<F: Frame, O: Io<F>>(
    dp: &mut Dataplane<F>,
    snap: &Snapshot,
    in_port: PortIdx,
    net: &NetConf,
    from: Dest,
    dest: Dest,
    frame: F,
    now: Millis,
    io: &mut O,
) -> Result<(), DropReason> {
    if dest == from {
        return Err(DropReason::SameSegment);
    }
    match dest {
        Dest::Port(p) => to_port(dp, snap, net, p, frame, now, io),
        Dest::Peer(_) if matches!(from, Dest::Peer(_)) => Err(DropReason::TunnelToTunnel),
        Dest::Peer(ip) => tunnel::encap(dp, snap, net, ip, frame, now, io),
        Dest::Local => local::input(dp, snap, in_port, net, frame, now, io),
    }
}

/// Floods to every local member of the network but the ingress one, to the appliance's own
/// ports on it (router, DHCP) and, for frames that did not come from a tunnel, to every
/// tunnel peer (br-tun table 21). A failed copy is counted and the other copies still go.
#[allow(clippy::too_many_arguments)]
fn flood<F: Frame, O: Io<F>>(
    dp: &mut Dataplane<F>,
    snap: &Snapshot,
    in_port: PortIdx,
    net: &NetConf,
    from: Dest,
    frame: F,
    now: Millis,
    io: &mut O,
) -> Result<(), DropReason> {
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
    if targets.peek().is_none() {
        return Err(DropReason::NoDestination);
    }
    dp.stats.flooded += 1;
    let mut frame = Some(frame);
    while let Some(dest) = targets.next() {
        let copy = if targets.peek().is_none() {
            frame.take()
        } else {
            frame.as_ref().and_then(F::try_clone)
        };
        let Some(copy) = copy else {
            dp.stats.drop(in_port, DropReason::NoBuffer);
            continue;
        };
        let sent = match dest {
            Dest::Port(p) => to_port(dp, snap, net, p, copy, now, io),
            Dest::Peer(ip) => tunnel::encap(dp, snap, net, ip, copy, now, io),
            Dest::Local => local::input(dp, snap, in_port, net, copy, now, io),
        };
        if let Err(reason) = sent {
            dp.stats.drop(in_port, reason);
        }
    }
    Ok(())
}

/// Sends a frame out of local device `p`, through the port's security groups if it has any.
#[inline]
fn to_port<F: Frame, O: Io<F>>(
    dp: &mut Dataplane<F>,
    snap: &Snapshot,
    net: &NetConf,
    p: PortIdx,
    frame: F,
    now: Millis,
    io: &mut O,
) -> Result<(), DropReason> {
    if let Some(a) = snap.acl(p) {
        acl::filter(dp, a, p, acl::Way::Ingress, &frame, now)?;
    }
    output::to_port(net, p, frame, io)
}
