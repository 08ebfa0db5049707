//! ARP frames the appliance builds (RFC 826): requests and replies from its own ports and
//! its tunnel endpoint.

use super::io::Io;
use super::underlay::MIN_FRAME;
use crate::frame::Frame;
use crate::wire::{arp, ethernet, Mac};

/// A new minimum-size frame holding an ARP request from `sha`/`spa` for `tpa` (broadcast
/// when `tha` is zero, else a reply to `tha`).
pub(super) fn arp_frame<F: Frame, O: Io<F>>(
    io: &mut O,
    sha: Mac,
    spa: u32,
    tha: Mac,
    tpa: u32,
) -> Option<F> {
    let mut frame = io.alloc()?;
    let d = frame.append(MIN_FRAME)?;
    d.fill(0);
    let request = tha == Mac::ZERO;
    ethernet::Repr {
        dst: if request { Mac::BROADCAST } else { tha },
        src: sha,
        ethertype: ethernet::ethertype::ARP,
    }
    .emit(d);
    arp::Repr {
        op: if request {
            arp::op::REQUEST
        } else {
            arp::op::REPLY
        },
        sha,
        spa,
        tha,
        tpa,
    }
    .emit(&mut d[ethernet::HEADER_LEN..]);
    Some(frame)
}

/// Cuts an ARP reply built in the request's buffer to the ARP packet, padded with zeros to
/// the minimum frame: nothing the request carried after its ARP packet goes back.
pub(super) fn trim_arp_reply<F: Frame>(frame: &mut F) {
    let len = frame.len().min(MIN_FRAME);
    frame.data_mut()[ethernet::HEADER_LEN + arp::PACKET_LEN..len].fill(0);
    frame.truncate(len);
}
