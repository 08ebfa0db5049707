//! Address syntax of the model: IPv4 addresses and prefixes, IP prefixes of either family,
//! MAC addresses. Parsers return `None` on bad input; callers word the error.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use vrouter::wire::Mac;

/// An IPv4 address with a prefix length: `10.0.0.0/24` (a subnet) or `10.0.1.21/24` (an
/// interface address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Cidr {
    /// The address as written.
    pub addr: Ipv4Addr,
    /// The prefix length, 0..=32.
    pub prefix_len: u8,
}

impl Ipv4Cidr {
    /// Parses `a.b.c.d/len`; `None` unless both parts are valid.
    pub fn parse(s: &str) -> Option<Ipv4Cidr> {
        let (a, l) = s.split_once('/')?;
        let prefix_len = parse_prefix_len(l, 32)?;
        Some(Ipv4Cidr {
            addr: a.parse().ok()?,
            prefix_len,
        })
    }

    /// The netmask as a host-order integer.
    pub fn mask(&self) -> u32 {
        match self.prefix_len {
            0 => 0,
            n => u32::MAX << (32 - u32::from(n.min(32))),
        }
    }

    /// The network address (host bits cleared).
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    /// The broadcast address (host bits set).
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask())
    }

    /// True if `ip` lies in the prefix.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.addr) & self.mask()
    }

    /// True if the two prefixes share at least one address.
    pub fn overlaps(&self, other: &Ipv4Cidr) -> bool {
        self.contains(other.network()) || other.contains(self.network())
    }

    /// The first and last address a host may use: all but the network and broadcast
    /// addresses, except on /31 and /32 where every address is usable.
    pub fn host_range(&self) -> (Ipv4Addr, Ipv4Addr) {
        let (net, bcast) = (u32::from(self.network()), u32::from(self.broadcast()));
        if self.prefix_len >= 31 {
            (Ipv4Addr::from(net), Ipv4Addr::from(bcast))
        } else {
            (Ipv4Addr::from(net + 1), Ipv4Addr::from(bcast - 1))
        }
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

/// Parses an IP prefix of either family (`10.0.0.0/8`, `2001:db8::/32`); a bare address is
/// a host prefix. Returns the address and the prefix length.
pub fn parse_ip_prefix(s: &str) -> Option<(IpAddr, u8)> {
    let (a, l) = s.split_once('/').unwrap_or((s, ""));
    let addr: IpAddr = a.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = if l.is_empty() && !s.contains('/') {
        max
    } else {
        parse_prefix_len(l, max)?
    };
    Some((addr, len))
}

/// Parses a dotted IPv4 address into host byte order, the form the data plane keeps.
pub fn parse_ipv4_u32(s: &str) -> Option<u32> {
    s.parse::<Ipv4Addr>().ok().map(u32::from)
}

/// Parses a MAC address `aa:bb:cc:dd:ee:ff`: exactly six pairs of hex digits.
pub fn parse_mac(s: &str) -> Option<Mac> {
    let well_formed = s.len() == 17
        && s.split(':')
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()));
    if well_formed {
        s.parse().ok()
    } else {
        None
    }
}

/// Parses a prefix length of at most `max`, digits only.
fn parse_prefix_len(s: &str, max: u8) -> Option<u8> {
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|&n| n <= max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_parses_and_computes() {
        let c = Ipv4Cidr::parse("10.0.0.0/24").unwrap();
        assert_eq!(c.mask(), 0xffff_ff00);
        assert_eq!(c.broadcast(), Ipv4Addr::new(10, 0, 0, 255));
        assert!(c.contains(Ipv4Addr::new(10, 0, 0, 9)));
        assert!(!c.contains(Ipv4Addr::new(10, 0, 1, 9)));
        assert_eq!(
            c.host_range(),
            (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 254))
        );
        let i = Ipv4Cidr::parse("10.0.1.21/24").unwrap();
        assert_eq!(i.network(), Ipv4Addr::new(10, 0, 1, 0));
        assert!(c.overlaps(&Ipv4Cidr::parse("10.0.0.128/25").unwrap()));
        assert!(!c.overlaps(&i));
        assert_eq!(Ipv4Cidr::parse("0.0.0.0/0").unwrap().mask(), 0);
        for bad in [
            "10.0.0.0/33",
            "10.0.0.0",
            "10.0.0/24",
            "10.0.0.0/+4",
            "10.0.0.0/",
        ] {
            assert_eq!(Ipv4Cidr::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn ip_prefixes_and_macs() {
        assert_eq!(
            parse_ip_prefix("10.0.0.10"),
            Some((IpAddr::V4(Ipv4Addr::new(10, 0, 0, 10)), 32))
        );
        assert_eq!(parse_ip_prefix("::/0").map(|p| p.1), Some(0));
        assert_eq!(parse_ip_prefix("10.0.0.0/40"), None);
        assert_eq!(parse_ip_prefix("10.0.0.0/"), None);
        assert!(parse_mac("fa:16:3e:75:e0:5a").is_some());
        assert!(parse_mac("fa:16:3e:75:e0:+a").is_none());
        assert!(parse_mac("fa-16-3e-75-e0-5a").is_none());
    }
}
