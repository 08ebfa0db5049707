//! ARP spoofing protection on the networks the appliance serves: an ARP packet that did not
//! come from the appliance itself may not claim one of the appliance's own addresses on the
//! network, nor an address whose MAC the model gives (a static neighbour of a router).
//! Such a packet is dropped before it is learned or flooded, so that neither the routers'
//! ARP caches nor the VMs' are poisoned (the model is the authority, as Neutron's
//! l2population ARP responder is).

use crate::state::Neighbours;
use crate::stats::DropReason;
use crate::tables::router::mask;
use crate::tables::{NetConf, NetIdx, Snapshot};
use crate::wire::{arp, ethernet, Mac};

/// Checks the ARP packet in `d` (an untagged Ethernet frame of `net`) from outside the
/// appliance. Malformed ARP is left to the stage that parses it.
pub(super) fn check<F>(
    router_neigh: &Neighbours<(NetIdx, F)>,
    snap: &Snapshot,
    net: &NetConf,
    d: &[u8],
) -> Result<(), DropReason> {
    let Ok(pkt) = arp::Packet::new_checked(&d[ethernet::HEADER_LEN..]) else {
        return Ok(());
    };
    let (sha, spa) = (pkt.sha(), pkt.spa());
    // An ARP probe (RFC 5227 §2.1.1) claims nothing.
    if spa == 0 {
        return Ok(());
    }
    if net.local_by_ip(spa).is_some() {
        return Err(DropReason::ArpSpoofed);
    }
    match router_neigh.static_mac(spa) {
        Some(m) if m != sha && pinned_elsewhere(snap, net, spa, sha) => Err(DropReason::ArpSpoofed),
        _ => Ok(()),
    }
}

/// True if a router with a port on `net` whose subnet holds `spa` knows `spa` from the
/// model at a MAC other than `sha` (the routers' ARP cache is one table for all networks,
/// so the static entry alone does not say which network it belongs to), and no port may
/// send from `spa` with `sha` as an allowed address pair (a shared virtual address).
fn pinned_elsewhere(snap: &Snapshot, net: &NetConf, spa: u32, sha: Mac) -> bool {
    let pair = snap.acls.iter().flatten().any(|a| a.source_ok(sha, spa));
    !pair
        && snap.routers.iter().any(|r| {
            let on_net = r.ports.iter().any(|p| {
                let m = mask(p.prefix_len);
                p.net == net.local_vlan && spa & m == p.ip & m
            });
            on_net
                && r.neighbours.iter().any(|&(ip, m)| ip == spa && m != sha)
                && !r.neighbours.contains(&(spa, sha))
        })
}
