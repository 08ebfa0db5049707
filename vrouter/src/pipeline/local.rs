//! The appliance's own ports on a network (router interfaces and gateway, DHCP port): the
//! `local-input` node, which sends what is addressed to them to the `local-arp`, `dhcp` or
//! `router` node, and the `local-arp` node, ARP for their addresses.

use super::arp_frames::{arp_frame, trim_arp_reply};
use super::arp_resolve::{self, Seen};
use super::dataplane::Dataplane;
use super::dhcp_frame;
use super::ignored::ignore_broadcast;
use super::io::Io;
use super::meta::Meta;
use super::node::{Ctx, Edge, Node, Step};
use super::node_state::{Effects, LocalArpState};
use crate::frame::Frame;
use crate::stats::DropReason;
use crate::tables::{Dest, LocalKind, Snapshot};
use crate::wire::{arp, be16, ethernet, Mac};

/// Takes a frame switched to the appliance's own ports on `meta.net`: unicast to one of
/// their MACs, or a broadcast copy.
#[inline]
pub(super) fn node<F: Frame, O>(
    fx: &mut Effects<'_, F>,
    cx: &mut Ctx<'_, O>,
    meta: &mut Meta,
    frame: F,
) -> Step<F> {
    let net = cx.snap.network(meta.net).ok_or(DropReason::PortUnused)?;
    let d = frame.data();
    let dst = Mac::from_bytes(&d[0..6]);
    let next = match be16(d, 12) {
        ethernet::ethertype::ARP => Ok(Node::LocalArp),
        ethernet::ethertype::IPV4 if dhcp_frame::for_server(cx.snap, net, d) => Ok(Node::Dhcp),
        ethernet::ethertype::IPV4 => match net.local_by_mac(dst).map(|l| l.kind) {
            Some(LocalKind::Router(r)) => {
                meta.router = r as u16;
                Ok(Node::Router)
            }
            _ => Err(DropReason::NotForUs),
        },
        _ => Err(DropReason::NotForUs),
    };
    match next {
        Ok(node) => Ok(Edge::To(node, frame)),
        Err(reason) => ignore_broadcast(fx.stats, dst.is_multicast(), Err(reason)),
    }
}

/// Answers an ARP request for the address of a local port in place, from that port's MAC
/// (RFC 826 "packet reception").
pub(super) fn arp_node<F: Frame, O: Io<F>>(
    st: &mut LocalArpState<'_, F>,
    cx: &mut Ctx<'_, O>,
    meta: &mut Meta,
    frame: F,
) -> Step<F> {
    let multicast = Mac::from_bytes(&frame.data()[0..6]).is_multicast();
    let step = arp_input(st, cx, meta, frame);
    ignore_broadcast(st.fx.stats, multicast, step)
}

/// The ARP packet of `frame`: the router learns its sender; a request for a local port's
/// address is answered.
fn arp_input<F: Frame, O: Io<F>>(
    st: &mut LocalArpState<'_, F>,
    cx: &mut Ctx<'_, O>,
    meta: &mut Meta,
    mut frame: F,
) -> Step<F> {
    let net = cx.snap.network(meta.net).ok_or(DropReason::PortUnused)?;
    let body = &frame.data()[ethernet::HEADER_LEN..];
    let pkt = arp::Packet::new_checked(body).map_err(|_| DropReason::Malformed)?;
    let req = arp::Repr::parse(&pkt).map_err(|_| DropReason::NotForUs)?;
    let me = net.local_by_ip(req.tpa);
    // RFC 826: a router updates the sender it knows, and adds it when it is the target and
    // the sender is on the target address's subnet (as Linux's arp_process: only for
    // requests to its own address, only for on-link senders).
    if req.sha.is_unicast()
        && net
            .locals
            .iter()
            .any(|l| matches!(l.kind, LocalKind::Router(_)))
    {
        let for_router = me.is_some_and(|l| {
            let m = crate::tables::router::mask(l.prefix_len);
            matches!(l.kind, LocalKind::Router(_)) && req.spa & m == l.ip & m
        });
        let seen = Seen {
            ip: req.spa,
            mac: req.sha,
            create: for_router,
        };
        arp_resolve::neighbour_seen(st, meta.in_port, seen, cx.now);
    }
    let Some(me) = me else {
        return Err(DropReason::NotForUs);
    };
    if req.op != arp::op::REQUEST {
        st.fx.stats.arp_replies_received += 1;
        return Ok(Edge::Done);
    }
    let me = me.mac;
    let d = frame.data_mut();
    ethernet::Repr {
        dst: req.sha,
        src: me,
        ethertype: ethernet::ethertype::ARP,
    }
    .emit(d);
    arp::Repr {
        op: arp::op::REPLY,
        sha: me,
        spa: req.tpa,
        tha: req.sha,
        tpa: req.spa,
    }
    .emit(&mut d[ethernet::HEADER_LEN..]);
    trim_arp_reply(&mut frame);
    st.fx.stats.arp_replies += 1;
    meta.from = Dest::Local;
    Ok(Edge::To(Node::L2Switch, frame))
}

/// Sends a gratuitous ARP (RFC 5227 §3 announcement) for every router and floating address
/// not announced yet, so that neighbours learn it at once; forgets removed ones.
pub(super) fn announce<F: Frame, O: Io<F>>(dp: &mut Dataplane<F>, snap: &Snapshot, io: &mut O) {
    let current = |net: u16, ip: u32| {
        snap.network(net).is_some_and(|n| {
            n.locals
                .iter()
                .any(|l| l.ip == ip && matches!(l.kind, LocalKind::Router(_)))
        })
    };
    dp.announced.retain(|&(net, ip)| current(net, ip));
    for n in snap.networks.iter().flatten() {
        for l in n
            .locals
            .iter()
            .filter(|l| matches!(l.kind, LocalKind::Router(_)))
        {
            if dp.announced.contains(&(n.local_vlan, l.ip)) {
                continue;
            }
            dp.announced.push((n.local_vlan, l.ip));
            let Some(frame) = arp_frame(io, l.mac, l.ip, Mac::ZERO, l.ip) else {
                dp.stats.drops[DropReason::NoBuffer as usize] += 1;
                continue;
            };
            dp.stats.router.garps += 1;
            dp.queues
                .push(Node::L2Switch, Meta::local(0, n.local_vlan), frame);
        }
    }
}
