//! The appliance's own ports on a network (router interfaces and gateway, DHCP port): ARP
//! for their addresses, and dispatch of what is addressed to them.

use super::{l2, Dataplane, Io};
use crate::frame::Frame;
use crate::state::Millis;
use crate::stats::DropReason;
use crate::tables::{Dest, NetConf, PortIdx, Snapshot};
use crate::wire::{arp, be16, ethernet, Mac};

/// Takes a frame switched to the appliance's own ports on `net`: unicast to one of their
/// MACs, or a broadcast copy. A broadcast none of them wants is consumed and counted as
/// ignored, not as a drop.
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
    let Some(me) = net.local_by_ip(req.tpa) else {
        return Err(DropReason::NotForUs);
    };
    if req.op != arp::op::REQUEST {
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
