//! Martian and IP option filtering at a router's input, before NAT and forwarding, as a
//! Linux router (the `qrouter-<id>` namespace) does by default: source and destination
//! address validation (RFC 1812 §4.2.2.11, §5.3.7), no forwarding of broadcasts and
//! multicast (RFC 1812 §5.3.5, RFC 2644), strict reverse path filtering (RFC 3704 §2.2,
//! Linux `rp_filter=1`), and IPv4 options parsed and source routes refused (RFC 791
//! §3.1, RFC 7126 §4.3-4.4, Linux `accept_source_route=0`).
//!
//! Every check refuses before any ICMP error could be sent, so that no error ever goes to
//! a martian source; only a malformed option gets an ICMP parameter problem (as Linux's
//! option parser sends it), through the rate-limited error path.

use super::ip4::{Ip4, L3};
use crate::stats::DropReason;
use crate::tables::router::{mask, RouterConf, RouterPortIdx};
use crate::wire::ipv4;

/// Why a packet is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// Dropped without an ICMP error.
    Drop(DropReason),
    /// A malformed option at this offset from the start of the IPv4 header: drop and send
    /// parameter problem with it as the pointer (RFC 792).
    BadOption(u8),
}

/// IPv4 option types (RFC 791 §3.1, copied flag included).
mod option {
    /// End of option list.
    pub const EOL: u8 = 0;
    /// No operation.
    pub const NOP: u8 = 1;
    /// Record route.
    pub const RR: u8 = 7;
    /// Internet timestamp.
    pub const TS: u8 = 0x44;
    /// Loose source and record route.
    pub const LSRR: u8 = 0x83;
    /// Strict source and record route.
    pub const SSRR: u8 = 0x89;
}

/// Checks a packet that arrived on router `r`'s port `in_rp` (`d` the frame, `m` its parsed
/// IPv4 header).
#[inline]
pub(super) fn check(
    r: &RouterConf,
    in_rp: RouterPortIdx,
    d: &[u8],
    m: &Ip4,
) -> Result<(), Refusal> {
    addresses(r, m.key.src, m.key.dst).map_err(Refusal::Drop)?;
    // Strict reverse path: the route back to the source leaves where the packet came in.
    let src = m.key.src;
    let Some((port, hop)) = r.lookup(src).filter(|&(port, _)| port == in_rp) else {
        return Err(Refusal::Drop(DropReason::RpFilter));
    };
    // On the port's own subnet: not its broadcast, not one of the router's addresses (the
    // floating IPs are on the external subnet).
    if hop == src {
        let p = &r.ports[port];
        if p.prefix_len <= 30 && src == p.ip | !mask(p.prefix_len) {
            return Err(Refusal::Drop(DropReason::MartianSource));
        }
        if r.owns(src) || (p.external && r.fixed_of.contains_key(&src)) {
            return Err(Refusal::Drop(DropReason::OwnAddressSource));
        }
    }
    if m.hl > ipv4::MIN_HEADER_LEN {
        options(&d[L3 + ipv4::MIN_HEADER_LEN..L3 + m.hl])?;
    }
    Ok(())
}

/// The address checks that need no route: what no router accepts as a source or
/// forwards to.
#[inline]
fn addresses(r: &RouterConf, src: u32, dst: u32) -> Result<(), DropReason> {
    // 0/8 ("this network"), 127/8 (loopback), 224/4 (multicast) and 240/4 (reserved,
    // limited broadcast included) are never a source on the wire.
    let first = src >> 24;
    if first == 0 || first == 127 || src >= 0xe000_0000 {
        return Err(DropReason::MartianSource);
    }
    let first = dst >> 24;
    if first == 0 || first == 127 || (dst >= 0xf000_0000 && dst != u32::MAX) {
        return Err(DropReason::MartianDestination);
    }
    if dst >= 0xe000_0000 || is_directed_broadcast(r, dst) {
        return Err(DropReason::BroadcastNotForwarded);
    }
    Ok(())
}

/// True if `ip` is the broadcast address of a subnet the router is on (prefixes of /31
/// and /32 have none, RFC 3021).
#[inline]
fn is_directed_broadcast(r: &RouterConf, ip: u32) -> bool {
    r.ports
        .iter()
        .any(|p| p.prefix_len <= 30 && ip == p.ip | !mask(p.prefix_len))
}

/// Walks the options of a header (`opts`: the bytes after the fixed 20), as Linux's
/// `ip_options_compile` checks them; then refuses source routes.
fn options(opts: &[u8]) -> Result<(), Refusal> {
    let at = |i: usize| Refusal::BadOption((ipv4::MIN_HEADER_LEN + i) as u8);
    let mut source_route = false;
    let mut i = 0;
    while i < opts.len() {
        let kind = opts[i];
        match kind {
            option::EOL => break,
            option::NOP => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let Some(&len) = opts.get(i + 1) else {
            return Err(at(i));
        };
        let len = usize::from(len);
        if len < 2 || i + len > opts.len() {
            return Err(at(i));
        }
        match kind {
            option::RR | option::LSRR | option::SSRR => {
                if len < 3 {
                    return Err(at(i + 1));
                }
                if opts[i + 2] < 4 {
                    return Err(at(i + 2));
                }
                source_route |= kind != option::RR;
            }
            option::TS => {
                if len < 4 {
                    return Err(at(i + 1));
                }
                if opts[i + 2] < 5 {
                    return Err(at(i + 2));
                }
            }
            _ => {}
        }
        i += len;
    }
    if source_route {
        return Err(Refusal::Drop(DropReason::SourceRoute));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_like_linux() {
        assert_eq!(
            options(&[option::NOP, option::NOP, option::EOL, 0xff]),
            Ok(())
        );
        // Record route with room for one address, then end.
        assert_eq!(
            options(&[option::RR, 7, 4, 0, 0, 0, 0, option::EOL]),
            Ok(())
        );
        let lsrr = [option::LSRR, 7, 4, 10, 0, 0, 1, option::EOL];
        assert_eq!(options(&lsrr), Err(Refusal::Drop(DropReason::SourceRoute)));
        let ssrr = [option::NOP, option::SSRR, 7, 4, 10, 0, 0, 1];
        assert_eq!(options(&ssrr), Err(Refusal::Drop(DropReason::SourceRoute)));
        // A length of 1, a length past the header, a missing length, a bad pointer.
        assert_eq!(
            options(&[option::NOP, 0x94, 1, 0]),
            Err(Refusal::BadOption(21))
        );
        assert_eq!(options(&[0x94, 8, 0, 0]), Err(Refusal::BadOption(20)));
        assert_eq!(
            options(&[option::NOP, option::NOP, option::NOP, 0x94]),
            Err(Refusal::BadOption(23))
        );
        assert_eq!(
            options(&[option::LSRR, 7, 3, 0, 0, 0, 0, 0]),
            Err(Refusal::BadOption(22))
        );
        assert_eq!(options(&[option::TS, 3, 5, 0]), Err(Refusal::BadOption(21)));
    }
}
