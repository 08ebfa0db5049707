//! The `port-output` node: the security groups into a VM port, the egress 802.1Q tag, and
//! the hand-off to the device.

use super::io::Io;
use super::meta::Meta;
use super::node::{Ctx, Edge, Step};
use super::node_state::PortOutputState;
use super::vlan_tag::push_vlan;
use super::{acl, egress};
use crate::frame::Frame;
use crate::stats::DropReason;
use crate::tables::Dest;
use crate::wire::{ethernet, vlan};

/// Sends a frame of network `meta.net` out of local device `meta.to`, through the port's
/// security groups if it has any, tagged if the device is a trunk.
#[inline]
pub(super) fn node<F: Frame, O: Io<F>>(
    st: &mut PortOutputState<'_, F>,
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
        acl::filter(&mut st.acl, a, port, acl::Way::Ingress, &frame, cx.now)?;
    }
    let mut header = ethernet::HEADER_LEN;
    if let Some(vid) = net.tag_on(port).ok_or(DropReason::PortUnused)? {
        push_vlan(&mut frame, vid)?;
        header += vlan::HEADER_LEN;
    }
    // Security groups track their own connections: only unfiltered ports are cached.
    if meta.egress != 0 && filtered.is_none() {
        egress::record_port(&mut st.egress, meta, port, &frame.data()[..header]);
    }
    cx.io.send(port, frame);
    Ok(Edge::Done)
}
