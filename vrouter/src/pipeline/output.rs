//! Last stage: the egress 802.1Q tag and the hand-off to the device.

use super::Io;
use crate::frame::Frame;
use crate::stats::DropReason;
use crate::tables::{NetConf, PortIdx};
use crate::wire::{ethernet, vlan};

/// Sends `frame` of network `net` out of local device `port`, tagged if it is a trunk.
#[inline]
pub(super) fn to_port<F: Frame, O: Io<F>>(
    net: &NetConf,
    port: PortIdx,
    mut frame: F,
    io: &mut O,
) -> Result<(), DropReason> {
    if let Some(vid) = net.tag_on(port).ok_or(DropReason::PortUnused)? {
        push_vlan(&mut frame, vid)?;
    }
    io.send(port, frame);
    Ok(())
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
