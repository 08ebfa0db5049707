//! The appliance's own ports on a network (router interfaces and gateway, DHCP port): ARP
//! for their addresses, and dispatch of what is addressed to them.

use super::{dhcp, l2, l3, tunnel, Dataplane, Io};
use crate::frame::Frame;
use crate::state::Millis;
use crate::stats::DropReason;
use crate::tables::{Dest, LocalKind, NetConf, PortIdx, Snapshot};
use crate::wire::{arp, be16, ethernet, Mac};

/// Takes a frame switched to the appliance's own ports on `net`: unicast to one of their
/// MACs, or a broadcast copy. A broadcast none of them wants is consumed and counted as
/// ignored, not as a drop.
#[inline]
pub(super) fn input<F: Frame, O: Io<F>>(
    dp: &mut Dataplane<F>,
    snap: &Snapshot,
    in_port: PortIdx,
    net: &NetConf,
    frame: F,
    now: Millis,
    io: &mut O,
) -> Result<(), DropReason> {
    let d = frame.data();
    let dst = Mac::from_bytes(&d[0..6]);
    let verdict = match be16(d, 12) {
        ethernet::ethertype::ARP => arp_input(dp, snap, in_port, net, frame, now, io),
        ethernet::ethertype::IPV4 if dhcp::wants(snap, net, d) => {
            dhcp::input(dp, snap, in_port, net, frame, now, io)
        }
        ethernet::ethertype::IPV4 => match net.local_by_mac(dst).map(|l| l.kind) {
            Some(LocalKind::Router(r)) => l3::input(dp, snap, in_port, net, r, frame, now, io),
            _ => Err(DropReason::NotForUs),
        },
        _ => Err(DropReason::NotForUs),
    };
    match verdict {
        Err(DropReason::NotForUs) if dst.is_multicast() => {
            dp.stats.local_ignored += 1;
            Ok(())
        }
        v => v,
    }
}

/// Answers an ARP request for the address of a local port in place, from that port's MAC
/// (RFC 826 "packet reception").
fn arp_input<F: Frame, O: Io<F>>(
    dp: &mut Dataplane<F>,
    snap: &Snapshot,
    in_port: PortIdx,
    net: &NetConf,
    mut frame: F,
    now: Millis,
    io: &mut O,
) -> Result<(), DropReason> {
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
        l3::neighbour_seen(dp, snap, in_port, req.spa, req.sha, for_router, now, io);
    }
    let Some(me) = me else {
        return Err(DropReason::NotForUs);
    };
    if req.op != arp::op::REQUEST {
        dp.stats.arp_replies_received += 1;
        return Ok(());
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
    tunnel::trim_arp_reply(&mut frame);
    dp.stats.arp_replies += 1;
    l2::switch(
        dp,
        snap,
        in_port,
        net.local_vlan,
        Dest::Local,
        frame,
        now,
        io,
    )
}

/// Sends a gratuitous ARP (RFC 5227 §3 announcement) for every router and floating address
/// not announced yet, so that neighbours learn it at once; forgets removed ones.
pub(super) fn announce<F: Frame, O: Io<F>>(
    dp: &mut Dataplane<F>,
    snap: &Snapshot,
    now: Millis,
    io: &mut O,
) {
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
            let Some(frame) = tunnel::arp_frame(io, l.mac, l.ip, Mac::ZERO, l.ip) else {
                dp.stats.drops[DropReason::NoBuffer as usize] += 1;
                continue;
            };
            dp.stats.router.garps += 1;
            if let Err(reason) = l2::switch(dp, snap, 0, n.local_vlan, Dest::Local, frame, now, io)
            {
                dp.stats.drops[reason as usize] += 1;
            }
        }
    }
}
