//! Flow steering between workers: which worker owns the connection a frame belongs to.
//!
//! Every frame of a connection, both directions and both sides of a NAT, must meet the same
//! conntrack, and each worker owns its own. The owner is a hash of the connection's two L4
//! ports (ICMP echo: the identifier twice), symmetric so that a reply hashes like its request.
//! Addresses are left out on purpose: floating-IP NAT rewrites an address and keeps the
//! ports, and SNAT picks the translated port so that the reply hashes to the worker that made
//! the session ([`owns_ports`]). A GRE frame is steered by the frame it carries. Frames
//! without ports (ARP, other protocols) belong to worker 0; so do later fragments, unless
//! the worker knows where their first went (fragment_steer.rs).
//! See `docs/multicore.md` for the whole design.

use super::ip4::is_icmp_error;
use crate::state::fragments::{FragKey, Piece};
use crate::wire::{be16, be32, ethernet, icmp, ipv4};

/// Where steering sends a frame, and the fragment it is, if it is one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Steered {
    /// The worker that owns the frame's flow by its ports (0 for frames without ports).
    pub owner: u16,
    /// The IPv4 datagram the frame is a fragment of (the outermost fragmented header).
    pub fragment: Option<Fragment>,
}

/// A fragment as steering sees it: its datagram (zone 0: before any zone is known) and
/// where it lies in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragment {
    /// The datagram: protocol, addresses, identification (RFC 791 §3.2).
    pub key: FragKey,
    /// Its place in the datagram.
    pub piece: Piece,
}

impl Fragment {
    /// True for the first fragment (offset 0), the one that carries the ports.
    #[inline]
    pub fn is_first(&self) -> bool {
        self.piece.offset == 0
    }
}

/// The worker (of `workers`) that owns the flow of the Ethernet frame `d`, and the
/// fragment it is. Call only with several workers.
#[inline]
pub fn steer(d: &[u8], workers: u16) -> Steered {
    let mut fragment = None;
    let owner = match flow_ports(d, 0, &mut fragment) {
        Some((a, b)) => ports_owner(a, b, workers),
        None => 0,
    };
    Steered { owner, fragment }
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
/// and one GRE encapsulation (`depth` counts encapsulations already crossed); `fragment`
/// gets the first fragmented IPv4 header met on the way.
fn flow_ports(d: &[u8], depth: u8, fragment: &mut Option<Fragment>) -> Option<(u16, u16)> {
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
    if fragment.is_none() {
        *fragment = fragment_of(ip);
    }
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
            flow_ports(l4.get(words * 4..)?, 1, fragment)
        }
        _ => None,
    }
}

/// The fragment the IPv4 packet `ip` is (MF set or a non-zero offset), if it is one.
fn fragment_of(ip: &[u8]) -> Option<Fragment> {
    let word = be16_at(ip, 6)?;
    if word & (ipv4::FLAG_MF | 0x1fff) == 0 {
        return None;
    }
    let hl = usize::from(*ip.first()? & 0x0f) * 4;
    let total = usize::from(be16_at(ip, 2)?);
    if hl < ipv4::MIN_HEADER_LEN || total < hl || ip.len() < hl {
        return None;
    }
    Some(Fragment {
        key: FragKey {
            zone: 0,
            proto: ip[9],
            id: be16(ip, 4),
            src: be32(ip, 12),
            dst: be32(ip, 16),
        },
        piece: Piece {
            offset: u32::from(word & 0x1fff) * 8,
            len: (total - hl) as u32,
            last: word & ipv4::FLAG_MF == 0,
        },
    })
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
        kind if is_icmp_error(kind) => {
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
