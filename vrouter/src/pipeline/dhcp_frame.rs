//! Which frames are for the DHCP server of their network: what `local-input` asks before it
//! sends a frame to the `dhcp` node.

use crate::tables::{NetConf, Snapshot};
use crate::wire::{be16, dhcp, ethernet, ipv4};

/// 255.255.255.255.
pub(super) const LIMITED_BROADCAST: u32 = u32::MAX;

/// True for a frame the DHCP stage takes: IPv4/UDP, not a fragment, to 255.255.255.255 or
/// to one of the server's addresses, to the server port (or from the server port to the
/// client port: a server message from a VM, dropped there), on a network with a server.
pub(super) fn for_server(snap: &Snapshot, net: &NetConf, frame: &[u8]) -> bool {
    let Some(Ok(ip)) = frame
        .get(ethernet::HEADER_LEN..)
        .map(ipv4::Packet::new_checked)
    else {
        return false;
    };
    if ip.protocol() != ipv4::proto::UDP || ip.is_fragment() {
        return false;
    }
    let l4 = ip.payload();
    if l4.len() < 4 {
        return false;
    }
    let (src, dst) = (be16(l4, 0), be16(l4, 2));
    if dst != dhcp::SERVER_PORT && (src != dhcp::SERVER_PORT || dst != dhcp::CLIENT_PORT) {
        return false;
    }
    // The cheap checks first: the server lookup is for DHCP traffic only.
    snap.dhcp
        .get(&net.local_vlan)
        .is_some_and(|server| ip.dst() == LIMITED_BROADCAST || server.is_server_ip(ip.dst()))
}
