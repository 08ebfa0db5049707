//! The `port-output` node: the security groups into a VM port, the egress 802.1Q tag, and
//! the hand-off to the device.

use super::graph::{Ctx, Edge, Meta, Step};
use super::{acl, egress, Dataplane, Io};
use crate::frame::Frame;
use crate::stats::DropReason;
use crate::tables::Dest;
use crate::wire::{ethernet, vlan};

/// Sends a frame of network `meta.net` out of local device `meta.to`, through the port's
/// security groups if it has any, tagged if the device is a trunk.
#[inline]
pub(super) fn node<F: Frame, O: Io<F>>(
    dp: &mut Dataplane<F>,
    cx: &mut Ctx<'_, O>,
    meta: &mut Meta,
    mut frame: F,
) -> Step<F> {
    let Dest::Port(port) = meta.to else {
        return Err(DropReason::PortUnused);
    };
    let net = cx.snap.network(meta.net).ok_or(DropReason::PortUnused)?;
    let filtered = cx.snap.acl(port);
    if let Some(a) = filtered {
        acl::filter(dp, a, port, acl::Way::Ingress, &frame, cx.now)?;
    }
    let mut header = ethernet::HEADER_LEN;
    if let Some(vid) = net.tag_on(port).ok_or(DropReason::PortUnused)? {
        push_vlan(&mut frame, vid)?;
        header += vlan::HEADER_LEN;
    }
    // Security groups track their own connections: only unfiltered ports are cached.
    if meta.egress != 0 && filtered.is_none() {
        egress::record_port(dp, meta, port, &frame.data()[..header]);
    }
    cx.io.send(port, frame);
    Ok(Edge::Done)
}

/// Inserts an 802.1Q tag with `vid` after the MAC addresses.
fn push_vlan<F: Frame>(frame: &mut F, vid: u16) -> Result<(), DropReason> {
    let d = frame.push(vlan::HEADER_LEN).ok_or(DropReason::NoBuffer)?;
    d.copy_within(vlan::HEADER_LEN..vlan::HEADER_LEN + 12, 0);
    let inner = u16::from_be_bytes([d[16], d[17]]);
    d[12..14].copy_from_slice(&ethernet::ethertype::VLAN.to_be_bytes());
    vlan::Repr {
        pcp: 0,
        vid,
        ethertype: inner,
    }
    .emit(&mut d[14..18]);
    Ok(())
}

/// Removes the 802.1Q tag after the MAC addresses (the caller checked it is there).
pub(super) fn pop_vlan<F: Frame>(frame: &mut F) -> Result<(), DropReason> {
    let d = frame.data_mut();
    if d.len() < ethernet::HEADER_LEN + vlan::HEADER_LEN {
        return Err(DropReason::Malformed);
    }
    d.copy_within(0..12, vlan::HEADER_LEN);
    frame.pull(vlan::HEADER_LEN);
    Ok(())
}
