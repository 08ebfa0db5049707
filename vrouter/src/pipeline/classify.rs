//! The `port-input` node: which network a frame belongs to, from the role of the device it
//! came in on.

use super::acl;
use super::meta::Meta;
use super::node::{Ctx, Edge, Node, Step};
use super::node_state::AclState;
use super::vlan_tag::pop_vlan;
use crate::frame::Frame;
use crate::stats::DropReason;
use crate::tables::{Dest, PortRole};
use crate::wire::{be16, ethernet, vlan};

/// Sends a frame received on `meta.in_port` to the node its device's role calls for.
#[inline]
pub(super) fn node<F: Frame, O>(
    st: &mut AclState<'_, F>,
    cx: &mut Ctx<'_, O>,
    meta: &mut Meta,
    mut frame: F,
) -> Step<F> {
    let port = meta.in_port;
    let role = &cx.snap.port(port).ok_or(DropReason::PortUnused)?.role;
    let d = frame.data();
    if d.len() < ethernet::HEADER_LEN {
        return Err(DropReason::Malformed);
    }
    let ethertype = be16(d, 12);
    match role {
        PortRole::Unused => Err(DropReason::PortUnused),
        PortRole::Access { net } => {
            if ethertype == ethernet::ethertype::VLAN {
                return Err(DropReason::VlanUnknown);
            }
            if let Some(a) = cx.snap.acl(port) {
                acl::filter(st, a, port, acl::Way::Egress, &frame, cx.now)?;
            }
            meta.net = *net;
            meta.from = Dest::Port(port);
            Ok(Edge::To(Node::L2Switch, frame))
        }
        PortRole::Trunk { vlans } => {
            if ethertype != ethernet::ethertype::VLAN {
                return Err(DropReason::VlanUnknown);
            }
            let tag = vlan::Tag::new_checked(&d[ethernet::HEADER_LEN..])
                .map_err(|_| DropReason::Malformed)?;
            let tag = vlan::Repr::parse(&tag).map_err(|_| DropReason::Malformed)?;
            let net = vlans[tag.vid as usize];
            if net == 0 {
                return Err(DropReason::VlanUnknown);
            }
            pop_vlan(&mut frame)?;
            meta.net = net;
            meta.from = Dest::Port(port);
            Ok(Edge::To(Node::L2Switch, frame))
        }
        PortRole::Underlay => Ok(Edge::To(Node::UnderlayInput, frame)),
    }
}
