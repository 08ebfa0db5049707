//! A Neutron router compiled for the data plane: its ports, its routing table and its NAT
//! rules (what the `qrouter-<id>` namespace held: interfaces, routes, iptables nat table).

pub mod fib;

use super::NetIdx;
use crate::wire::Mac;
pub use fib::Fib;
use hashbrown::HashMap;

/// Index of a port in [`RouterConf::ports`].
pub type RouterPortIdx = usize;

/// One router.
#[derive(Clone, Debug, Default)]
pub struct RouterConf {
    /// Neutron id, for views (`qrouter-<id>`).
    pub id: String,
    /// Neutron name.
    pub name: String,
    /// Interfaces (`qr-…`) and the gateway (`qg-…`).
    pub ports: Vec<RouterPort>,
    /// Routes, longest prefix first (connected, static and default).
    pub routes: Vec<Route>,
    /// The forwarding table built from `routes` by [`RouterConf::sort_routes`].
    pub fib: Fib,
    /// Source address for SNAT of fixed IPs without a floating IP (`enable_snat`): the
    /// gateway port's address (host byte order).
    pub snat_ip: Option<u32>,
    /// Floating IP → fixed IP (host byte order).
    pub fixed_of: HashMap<u32, u32>,
    /// Fixed IP → floating IP (host byte order).
    pub floating_of: HashMap<u32, u32>,
    /// Addresses and MACs of the ports on the router's networks, known from the model.
    pub neighbours: Vec<(u32, Mac)>,
}

/// A router port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterPort {
    /// Neutron port id (device name `qr-…`/`qg-…` derives from it).
    pub port_id: String,
    /// The network it is on.
    pub net: NetIdx,
    /// Its MAC address.
    pub mac: Mac,
    /// Its address (host byte order).
    pub ip: u32,
    /// Prefix length of its subnet.
    pub prefix_len: u8,
    /// MTU of its network.
    pub mtu: u16,
    /// True for the gateway port on the external network.
    pub external: bool,
}

/// A route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// Destination prefix (host byte order).
    pub prefix: u32,
    /// Prefix length.
    pub len: u8,
    /// Next hop, `None` for a connected route.
    pub via: Option<u32>,
    /// Egress port.
    pub port: RouterPortIdx,
}

/// The network mask of a prefix length.
#[inline]
pub fn mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - len as u32)
    }
}

impl RouterConf {
    /// The longest-prefix match for `dst`: egress port and next hop address.
    #[inline]
    pub fn lookup(&self, dst: u32) -> Option<(RouterPortIdx, u32)> {
        self.fib.lookup(dst)
    }

    /// The port on network `net`, if the router has one.
    #[inline]
    pub fn port_on(&self, net: NetIdx) -> Option<RouterPortIdx> {
        self.ports.iter().position(|p| p.net == net)
    }

    /// True if `ip` is one of the router's own port addresses.
    #[inline]
    pub fn owns(&self, ip: u32) -> bool {
        self.ports.iter().any(|p| p.ip == ip)
    }

    /// Sorts routes longest prefix first (as views list them) and builds the forwarding
    /// table [`RouterConf::lookup`] reads from them; called after every change of `routes`.
    pub fn sort_routes(&mut self) {
        self.routes.sort_by_key(|r| std::cmp::Reverse(r.len));
        self.fib = Fib::build(&self.routes);
    }

    /// Keeps the routes `keep` accepts and rebuilds the forwarding table from them.
    pub fn retain_routes(&mut self, keep: impl FnMut(&Route) -> bool) {
        self.routes.retain(keep);
        self.sort_routes();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(a: [u8; 4]) -> u32 {
        u32::from_be_bytes(a)
    }

    #[test]
    fn longest_prefix_wins() {
        let mut r = RouterConf {
            routes: vec![
                Route {
                    prefix: 0,
                    len: 0,
                    via: Some(ip([10, 1, 101, 254])),
                    port: 1,
                },
                Route {
                    prefix: ip([10, 0, 0, 0]),
                    len: 24,
                    via: None,
                    port: 0,
                },
                Route {
                    prefix: ip([10, 1, 101, 0]),
                    len: 24,
                    via: None,
                    port: 1,
                },
                Route {
                    prefix: ip([10, 0, 0, 128]),
                    len: 25,
                    via: Some(ip([10, 0, 0, 5])),
                    port: 0,
                },
            ],
            ..RouterConf::default()
        };
        r.sort_routes();
        assert_eq!(r.lookup(ip([10, 0, 0, 9])), Some((0, ip([10, 0, 0, 9]))));
        assert_eq!(r.lookup(ip([10, 0, 0, 200])), Some((0, ip([10, 0, 0, 5]))));
        assert_eq!(r.lookup(ip([8, 8, 8, 8])), Some((1, ip([10, 1, 101, 254]))));
        r.retain_routes(|x| x.len != 0);
        assert_eq!(r.lookup(ip([8, 8, 8, 8])), None);
        assert_eq!(mask(0), 0);
        assert_eq!(mask(32), u32::MAX);
    }
}
