//! The DHCP server of a network (what dnsmasq in `qdhcp-<network id>` served): the DHCP
//! port's addresses, the static bindings MAC → fixed IP of the network's ports, and the
//! options of each DHCP-enabled subnet. Compiled by the control plane, read-only here.

use crate::wire::dhcp::Route;
use crate::wire::Mac;
use hashbrown::HashMap;

/// Lease time Neutron's DHCP agent gives when none is configured (`dhcp_lease_duration`).
pub const DEFAULT_LEASE_SECS: u32 = 86400;
/// Domain Neutron's dnsmasq hands out when none is configured (`dns_domain`).
pub const DEFAULT_DOMAIN: &str = "openstacklocal";

/// The DHCP server of one network.
#[derive(Clone, Debug, Default)]
pub struct DhcpServer {
    /// Neutron id of the DHCP port, for views.
    pub port_id: String,
    /// MAC address of the DHCP port: the source of every reply.
    pub mac: Mac,
    /// The DHCP-enabled subnets on which the DHCP port has an address.
    pub subnets: Vec<DhcpSubnet>,
    /// Client MAC → its fixed address.
    pub bindings: HashMap<Mac, DhcpBinding>,
}

impl DhcpServer {
    /// The binding of client `mac`, with its subnet.
    #[inline]
    pub fn lookup(&self, mac: Mac) -> Option<(&DhcpBinding, &DhcpSubnet)> {
        let b = self.bindings.get(&mac)?;
        Some((b, self.subnets.get(b.subnet)?))
    }

    /// True if `ip` is one of the server's addresses.
    #[inline]
    pub fn is_server_ip(&self, ip: u32) -> bool {
        self.subnets.iter().any(|s| s.server_ip == ip)
    }
}

/// One DHCP-enabled subnet and the options handed out on it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DhcpSubnet {
    /// Neutron id, for views.
    pub id: String,
    /// The DHCP port's address on the subnet: source and server identifier (option 54).
    pub server_ip: u32,
    /// Prefix length (option 1 is its mask).
    pub prefix_len: u8,
    /// Default router (option 3): the gateway, or a host route to 0.0.0.0/0.
    pub router: Option<u32>,
    /// DNS servers (option 6), at most 63.
    pub dns_servers: Vec<u32>,
    /// Domain name (option 15).
    pub domain: String,
    /// Lease time in seconds (option 51; T1 and T2 follow from it).
    pub lease_secs: u32,
    /// Interface MTU (option 26): the network's MTU.
    pub mtu: u16,
    /// Classless static routes (option 121), the default route last when there is one;
    /// empty when the subnet has no host routes.
    pub routes: Vec<Route>,
}

impl DhcpSubnet {
    /// The subnet mask as a host-order integer.
    pub fn mask(&self) -> u32 {
        match self.prefix_len {
            0 => 0,
            n => u32::MAX << (32 - u32::from(n.min(32))),
        }
    }
}

/// A client's static binding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DhcpBinding {
    /// Neutron id of the client's port, for views.
    pub port_id: String,
    /// The fixed IP (host byte order).
    pub ip: u32,
    /// Index of its subnet in [`DhcpServer::subnets`].
    pub subnet: usize,
    /// Host name (option 12): the port's DNS name, or `host-<ip with dashes>`.
    pub host_name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_binding_and_subnet() {
        let mac = Mac([0xfa, 0x16, 0x3e, 0x75, 0xe0, 0x5a]);
        let mut s = DhcpServer {
            subnets: vec![DhcpSubnet {
                server_ip: 0x0a000003,
                prefix_len: 24,
                ..DhcpSubnet::default()
            }],
            ..DhcpServer::default()
        };
        s.bindings.insert(
            mac,
            DhcpBinding {
                port_id: "d7233b80".into(),
                ip: 0x0a00000a,
                subnet: 0,
                host_name: "host-10-0-0-10".into(),
            },
        );
        let (b, sub) = s.lookup(mac).unwrap();
        assert_eq!((b.ip, sub.mask()), (0x0a00000a, 0xffffff00));
        assert!(s.lookup(Mac::BROADCAST).is_none());
        assert!(s.is_server_ip(0x0a000003) && !s.is_server_ip(0x0a000004));
        let zero = DhcpSubnet::default();
        assert_eq!(zero.mask(), 0);
    }
}
