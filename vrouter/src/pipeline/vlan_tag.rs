//! 802.1Q tags pushed and popped in place (trunk ports).

use crate::frame::Frame;
use crate::stats::DropReason;
use crate::wire::{ethernet, vlan};

/// Inserts an 802.1Q tag with `vid` after the MAC addresses.
pub(super) fn push_vlan<F: Frame>(frame: &mut F, vid: u16) -> Result<(), DropReason> {
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
