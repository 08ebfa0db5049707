//! IPv6 at a VM port with port security. The data plane filters IPv4 only, so until it
//! filters IPv6 nothing IPv6 crosses a filtered port, either way: a VM could otherwise send
//! from any IPv6 source, and advertise itself as a router or answer as a DHCPv6 server
//! (Neutron's firewall drops both from VMs). Router advertisements (RFC 4861 §4.2, refused
//! as RA-Guard does, RFC 6105) and DHCPv6 server or relay messages (source port 547,
//! RFC 8415 §7.2) from a VM are told apart in the counters; extension headers before them
//! are skipped (RFC 8200 §4), as RFC 7113 asks of an RA guard.

use crate::stats::DropReason;
use crate::wire::ethernet;

/// Fixed IPv6 header length.
const HEADER_LEN: usize = 40;
/// ICMPv6 router advertisement.
const ROUTER_ADVERTISEMENT: u8 = 134;
/// DHCPv6 servers and relay agents send from this port.
const DHCPV6_SERVER_PORT: u16 = 547;
/// Extension headers walked at most before giving up on finding the upper layer.
const MAX_EXTENSIONS: usize = 8;

/// Next header values (IANA "Assigned Internet Protocol Numbers").
mod next {
    pub const HOP_BY_HOP: u8 = 0;
    pub const UDP: u8 = 17;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const ICMPV6: u8 = 58;
    pub const DEST_OPTIONS: u8 = 60;
}

/// Why an IPv6 frame `d` crossing a filtered port is dropped; `from_vm` if the VM sent it.
pub(super) fn refusal(d: &[u8], from_vm: bool) -> DropReason {
    if from_vm {
        match upper_layer(&d[ethernet::HEADER_LEN.min(d.len())..]) {
            Some((next::ICMPV6, l4)) if l4.first() == Some(&ROUTER_ADVERTISEMENT) => {
                return DropReason::RogueRa
            }
            Some((next::UDP, l4))
                if l4.len() >= 2 && u16::from_be_bytes([l4[0], l4[1]]) == DHCPV6_SERVER_PORT =>
            {
                return DropReason::RogueDhcpv6
            }
            _ => {}
        }
    }
    DropReason::Ipv6Unsupported
}

/// The upper-layer protocol of IPv6 packet `p` and its bytes, past the extension headers;
/// `None` if it cannot be found in the first fragment.
fn upper_layer(p: &[u8]) -> Option<(u8, &[u8])> {
    let mut proto = *p.get(6)?;
    let mut at = HEADER_LEN;
    for _ in 0..MAX_EXTENSIONS {
        match proto {
            next::HOP_BY_HOP | next::ROUTING | next::DEST_OPTIONS => {
                let len = (usize::from(*p.get(at + 1)?) + 1) * 8;
                proto = *p.get(at)?;
                at += len;
            }
            next::FRAGMENT => {
                // Only the first fragment (offset 0) carries the upper-layer header.
                let offset = u16::from_be_bytes([*p.get(at + 2)?, *p.get(at + 3)?]) >> 3;
                if offset != 0 {
                    return None;
                }
                proto = *p.get(at)?;
                at += 8;
            }
            _ => return Some((proto, p.get(at..)?)),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv6 frame from vm002: next header `first`, then `rest` after the fixed header.
    fn frame(first: u8, rest: &[u8]) -> Vec<u8> {
        let mut f = vec![
            0x33, 0x33, 0, 0, 0, 1, 0xfa, 0x16, 0x3e, 0x51, 0xa2, 0x97, 0x86, 0xdd,
        ];
        let mut h = [0u8; HEADER_LEN];
        h[0] = 0x60;
        h[4..6].copy_from_slice(&(rest.len() as u16).to_be_bytes());
        h[6] = first;
        h[7] = 255;
        f.extend_from_slice(&h);
        f.extend_from_slice(rest);
        f
    }

    #[test]
    fn router_advertisements_and_dhcpv6_replies_are_told_apart() {
        let ra = [ROUTER_ADVERTISEMENT, 0, 0, 0, 64, 0, 0, 0];
        assert_eq!(
            refusal(&frame(next::ICMPV6, &ra), true),
            DropReason::RogueRa
        );
        // Behind a hop-by-hop and a destination options header.
        let mut chain = vec![next::DEST_OPTIONS, 0, 1, 4, 0, 0, 0, 0];
        chain.extend_from_slice(&[next::ICMPV6, 0, 1, 4, 0, 0, 0, 0]);
        chain.extend_from_slice(&ra);
        let hidden = frame(next::HOP_BY_HOP, &chain);
        assert_eq!(refusal(&hidden, true), DropReason::RogueRa);
        let reply = [2, 35, 2, 34, 0, 12, 0, 0, 7, 0, 0, 1];
        assert_eq!(
            refusal(&frame(next::UDP, &reply), true),
            DropReason::RogueDhcpv6
        );
        // Towards a VM, and anything else: IPv6 is not filtered, so not let through.
        assert_eq!(
            refusal(&frame(next::ICMPV6, &ra), false),
            DropReason::Ipv6Unsupported
        );
        let echo = [128, 0, 0, 0, 0, 1, 0, 1];
        assert_eq!(
            refusal(&frame(next::ICMPV6, &echo), true),
            DropReason::Ipv6Unsupported
        );
        assert_eq!(
            refusal(&frame(next::HOP_BY_HOP, &[58]), true),
            DropReason::Ipv6Unsupported
        );
        assert_eq!(refusal(&[0; 20], true), DropReason::Ipv6Unsupported);
    }
}
