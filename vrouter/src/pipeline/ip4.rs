//! What the router reads of an IPv4 packet, parsed once (RFC 1812 §5.2.2), and the header
//! edits every routed packet gets.

use crate::state::FlowKey;
use crate::stats::DropReason;
use crate::wire::checksum;
use crate::wire::{be16, ethernet, icmp as wicmp, ipv4, put16};

/// Where the IPv4 header starts in a frame on a router port (untagged Ethernet).
pub(super) const L3: usize = ethernet::HEADER_LEN;

/// What the router reads of an IPv4 packet, once.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ip4 {
    /// Header length.
    pub hl: usize,
    /// Total length.
    pub total: usize,
    /// Flags and fragment offset word.
    pub frag: u16,
    /// Time to live.
    pub ttl: u8,
    /// The connection key (zone = router) with ports or echo id when the packet has them.
    pub key: FlowKey,
    /// TCP flags, 0 otherwise.
    pub tcp_flags: u8,
    /// ICMP type, if ICMP with a header in this fragment.
    pub icmp_type: Option<u8>,
    /// True if the L4 header is in this packet (not a non-first fragment).
    pub has_l4: bool,
}

/// Parses and checks the IPv4 header at [`L3`] (RFC 1812 §5.2.2) and the ports behind it.
#[inline]
pub(super) fn parse(d: &[u8], zone: u16) -> Result<Ip4, DropReason> {
    let ip = ipv4::Packet::new_checked(&d[L3..]).map_err(|_| DropReason::Malformed)?;
    if !ip.verify_checksum() {
        return Err(DropReason::IpBadChecksum);
    }
    let hl = ip.header_len();
    let frag = ip.frag_word();
    let first = frag & 0x1fff == 0;
    let proto = ip.protocol();
    let l4 = &ip.payload();
    let mut m = Ip4 {
        hl,
        total: ip.total_len() as usize,
        frag,
        ttl: ip.ttl(),
        key: FlowKey {
            zone,
            proto,
            src: ip.src(),
            dst: ip.dst(),
            sport: 0,
            dport: 0,
        },
        tcp_flags: 0,
        icmp_type: None,
        has_l4: false,
    };
    match proto {
        ipv4::proto::TCP | ipv4::proto::UDP if first => {
            let need = if proto == ipv4::proto::TCP { 20 } else { 8 };
            if l4.len() < need {
                return Err(DropReason::Malformed);
            }
            m.key.sport = be16(l4, 0);
            m.key.dport = be16(l4, 2);
            m.tcp_flags = if proto == ipv4::proto::TCP { l4[13] } else { 0 };
            m.has_l4 = true;
        }
        ipv4::proto::ICMP if first => {
            if l4.len() < wicmp::HEADER_LEN {
                return Err(DropReason::Malformed);
            }
            m.icmp_type = Some(l4[0]);
            if matches!(l4[0], wicmp::kind::ECHO_REQUEST | wicmp::kind::ECHO_REPLY) {
                m.key.sport = be16(l4, 4);
                m.key.dport = m.key.sport;
            }
            m.has_l4 = true;
        }
        _ => {}
    }
    Ok(m)
}

/// True for the ICMP types that quote an offending datagram.
pub(super) fn is_icmp_error(t: u8) -> bool {
    matches!(
        t,
        wicmp::kind::DEST_UNREACHABLE | wicmp::kind::TIME_EXCEEDED | wicmp::kind::PARAM_PROBLEM
    )
}

/// Decrements the TTL with an incremental checksum update (RFC 1624).
#[inline]
pub(super) fn decrement_ttl(d: &mut [u8]) {
    let old = be16(d, L3 + 8);
    d[L3 + 8] -= 1;
    let c = checksum::update16(be16(d, L3 + 10), old, be16(d, L3 + 8));
    put16(d, L3 + 10, c);
}
