//! Flow steering between workers: which worker owns the connection a frame belongs to.
//!
//! Every frame of a connection, both directions and both sides of a NAT, must meet the same
//! conntrack, and each worker owns its own. The owner is a hash of the connection's two L4
//! ports (ICMP echo: the identifier twice), symmetric so that a reply hashes like its request.
//! Addresses are left out on purpose: floating-IP NAT rewrites an address and keeps the
//! ports, and SNAT picks the translated port so that the reply hashes to the worker that made
//! the session ([`owns_ports`]). A GRE frame is steered by the frame it carries. Frames
//! without ports (ARP, other protocols, non-first fragments) belong to worker 0.
//! See `docs/multicore.md` for the whole design.

use crate::wire::{be16, ethernet, icmp, ipv4};

/// The worker (of `workers`) that owns the flow of the Ethernet frame `d`.
#[inline]
pub fn owner(d: &[u8], workers: u16) -> u16 {
    if workers <= 1 {
        return 0;
    }
    match flow_ports(d, 0) {
        Some((a, b)) => ports_owner(a, b, workers),
        None => 0,
    }
}

/// True if the flow with ports `a` and `b` belongs to worker `worker` of `workers`.
#[inline]
pub fn owns_ports(a: u16, b: u16, worker: u16, workers: u16) -> bool {
    workers <= 1 || ports_owner(a, b, workers) == worker
}

/// The owner of ports `a` and `b`, independent of their order.
#[inline]
fn ports_owner(a: u16, b: u16, workers: u16) -> u16 {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let h = (u32::from(lo) << 16 | u32::from(hi)).wrapping_mul(0x9e37_79b1);
    ((u64::from(h >> 16) * u64::from(workers)) >> 16) as u16
}

/// The two L4 ports of the IPv4 flow in the Ethernet frame `d`, looking through one VLAN tag
/// and one GRE encapsulation (`depth` counts encapsulations already crossed).
fn flow_ports(d: &[u8], depth: u8) -> Option<(u16, u16)> {
    let mut at = ethernet::HEADER_LEN;
    let mut ethertype = be16_at(d, 12)?;
    if ethertype == ethernet::ethertype::VLAN {
        ethertype = be16_at(d, at + 2)?;
        at += 4;
    }
    if ethertype != ethernet::ethertype::IPV4 {
        return None;
    }
    let ip = d.get(at..)?;
    let (proto, l4) = ipv4_payload(ip)?;
    match proto {
        ipv4::proto::TCP | ipv4::proto::UDP => Some((be16_at(l4, 0)?, be16_at(l4, 2)?)),
        ipv4::proto::ICMP => icmp_ports(l4),
        ipv4::proto::GRE if depth == 0 => {
            let flags = be16_at(l4, 0)?;
            if be16_at(l4, 2)? != ethernet::ethertype::TEB {
                return None;
            }
            // RFC 2890: C adds checksum + reserved, K and S a word each.
            let words = 1
                + usize::from(flags & 0x8000 != 0)
                + usize::from(flags & 0x2000 != 0)
                + usize::from(flags & 0x1000 != 0);
            flow_ports(l4.get(words * 4..)?, 1)
        }
        _ => None,
    }
}

/// Protocol and payload of a first (or only) IPv4 fragment.
fn ipv4_payload(ip: &[u8]) -> Option<(u8, &[u8])> {
    let first = *ip.first()?;
    let hl = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || hl < ipv4::MIN_HEADER_LEN || be16_at(ip, 6)? & 0x1fff != 0 {
        return None;
    }
    Some((*ip.get(9)?, ip.get(hl..)?))
}

/// Echo messages by their identifier; errors by the ports of the datagram they quote
/// (RFC 792), so that they meet the connection they are about.
fn icmp_ports(l4: &[u8]) -> Option<(u16, u16)> {
    match *l4.first()? {
        icmp::kind::ECHO_REQUEST | icmp::kind::ECHO_REPLY => {
            let id = be16_at(l4, 4)?;
            Some((id, id))
        }
        kind if super::l3::is_icmp_error(kind) => {
            let (proto, quoted) = ipv4_payload(l4.get(8..)?)?;
            match proto {
                ipv4::proto::TCP | ipv4::proto::UDP => {
                    Some((be16_at(quoted, 0)?, be16_at(quoted, 2)?))
                }
                ipv4::proto::ICMP => icmp_ports(quoted),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The big-endian u16 at `at`, if `d` is long enough.
#[inline]
fn be16_at(d: &[u8], at: usize) -> Option<u16> {
    (d.len() >= at + 2).then(|| be16(d, at))
}
