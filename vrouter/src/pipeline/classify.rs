//! First stage: which network a frame belongs to, from the role of the device it came in on.

use super::{acl, l2, output, tunnel, Dataplane, Io};
use crate::frame::Frame;
use crate::state::Millis;
use crate::stats::DropReason;
use crate::tables::{Dest, PortIdx, PortRole, Snapshot};
use crate::wire::{be16, ethernet, vlan};

/// Dispatches a frame received on `port` to the stage its device's role calls for.
#[inline]
pub(super) fn input<F: Frame, O: Io<F>>(
    dp: &mut Dataplane<F>,
    snap: &Snapshot,
    port: PortIdx,
    mut frame: F,
    now: Millis,
    io: &mut O,
) -> Result<(), DropReason> {
    let role = &snap.port(port).ok_or(DropReason::PortUnused)?.role;
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
            if let Some(a) = snap.acl(port) {
                acl::filter(dp, a, port, acl::Way::Egress, &frame, now)?;
            }
            l2::switch(dp, snap, port, *net, Dest::Port(port), frame, now, io)
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
            output::pop_vlan(&mut frame)?;
            l2::switch(dp, snap, port, net, Dest::Port(port), frame, now, io)
        }
        PortRole::Underlay => tunnel::underlay_input(dp, snap, port, frame, now, io),
    }
}
