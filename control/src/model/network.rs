//! Networks and their subnets, and the allocation of local VLAN tags.

use super::{default_true, is_true, Topology};
use serde::{Deserialize, Serialize};

/// Default MTU of a network carried over GRE: 1500 minus outer IPv4 (20), GRE with key (8)
/// and the inner Ethernet header (14).
pub const GRE_MTU: u16 = 1458;
/// Default MTU of a network not carried over a tunnel (flat, provider).
pub const PLAIN_MTU: u16 = 1500;
/// The local VLAN tags a network may have on br-int.
pub const LOCAL_VLANS: std::ops::RangeInclusive<u16> = 1..=4094;

/// `[[network]]`: a tenant network (over GRE) or a flat provider network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Neutron id (UUID).
    pub id: String,
    /// Neutron name (`tenantA-Net`).
    #[serde(default)]
    pub name: String,
    /// Owning tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// GRE key (`tun_id`); absent for a flat network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segmentation_id: Option<u32>,
    /// True for a network routers may use as external gateway and floating IP source.
    #[serde(default)]
    pub router_external: bool,
    /// MTU; defaults to [`GRE_MTU`] over GRE, else [`PLAIN_MTU`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u16>,
    /// Tag on br-int (1..=4094); allocated from 1 upward when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_vlan: Option<u16>,
}

impl Network {
    /// The MTU in effect: the configured one or the default for the network's kind.
    pub fn effective_mtu(&self) -> u16 {
        self.mtu.unwrap_or(if self.segmentation_id.is_some() {
            GRE_MTU
        } else {
            PLAIN_MTU
        })
    }
}

/// `[[subnet]]`: an IPv4 subnet of a network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subnet {
    /// Neutron id.
    pub id: String,
    /// Neutron name.
    #[serde(default)]
    pub name: String,
    /// The network it belongs to.
    pub network_id: String,
    /// Prefix, `10.0.0.0/24`.
    pub cidr: String,
    /// The router interface address; absent for a subnet without gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_ip: Option<String>,
    /// Ranges fixed IPs are taken from; empty means every host address but the gateway.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allocation_pools: Vec<AllocationPool>,
    /// Whether the appliance serves DHCP on the subnet.
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub enable_dhcp: bool,
    /// DNS servers handed out by DHCP.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_nameservers: Vec<String>,
    /// Static routes handed out by DHCP.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_routes: Vec<Route>,
    /// Domain name handed out by DHCP (option 15); `openstacklocal` when absent, as
    /// Neutron's dnsmasq.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_domain: Option<String>,
    /// DHCP lease time in seconds; 86400 when absent (Neutron's `dhcp_lease_duration`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dhcp_lease_duration: Option<u32>,
}

/// An inclusive range of addresses, `{ start = "10.0.0.2", end = "10.0.0.254" }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AllocationPool {
    /// First address.
    pub start: String,
    /// Last address.
    pub end: String,
}

/// A static route, `{ destination = "192.168.0.0/16", nexthop = "10.0.0.254" }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Destination prefix.
    pub destination: String,
    /// Next hop address.
    pub nexthop: String,
}

impl Topology {
    /// The local VLAN tag of each network, in the order of [`Topology::networks`]: the
    /// configured tag, or for a network without one the lowest tag from 1 upward that no
    /// network configures and no earlier network was given. `None` for a configured tag out
    /// of 1..=4094 and when no tag is left.
    pub fn local_vlans(&self) -> Vec<Option<u16>> {
        let mut used = vec![false; usize::from(*LOCAL_VLANS.end()) + 1];
        for tag in self.networks.iter().filter_map(|n| n.local_vlan) {
            if LOCAL_VLANS.contains(&tag) {
                used[usize::from(tag)] = true;
            }
        }
        let mut next = *LOCAL_VLANS.start();
        self.networks
            .iter()
            .map(|n| match n.local_vlan {
                Some(tag) => Some(tag).filter(|t| LOCAL_VLANS.contains(t)),
                None => {
                    while LOCAL_VLANS.contains(&next) && used[usize::from(next)] {
                        next += 1;
                    }
                    let tag = Some(next).filter(|t| LOCAL_VLANS.contains(t))?;
                    used[usize::from(tag)] = true;
                    Some(tag)
                }
            })
            .collect()
    }

    /// The local VLAN tag of the network with this id (see [`Topology::local_vlans`]).
    pub fn local_vlan_of(&self, network_id: &str) -> Option<u16> {
        let i = self.networks.iter().position(|n| n.id == network_id)?;
        self.local_vlans().get(i).copied().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(id: &str, tag: Option<u16>) -> Network {
        Network {
            id: id.into(),
            name: String::new(),
            tenant_id: None,
            segmentation_id: None,
            router_external: false,
            mtu: None,
            local_vlan: tag,
        }
    }

    #[test]
    fn local_vlans_fill_from_one_around_configured_tags() {
        let topo = Topology {
            networks: vec![
                net("a", None),
                net("b", Some(2)),
                net("c", None),
                net("d", Some(5000)),
                net("e", None),
            ],
            ..Topology::default()
        };
        assert_eq!(
            topo.local_vlans(),
            vec![Some(1), Some(2), Some(3), None, Some(4)]
        );
        assert_eq!(topo.local_vlan_of("c"), Some(3));
        assert_eq!(topo.local_vlan_of("zz"), None);
    }

    #[test]
    fn local_vlans_run_out_without_panicking() {
        let mut networks: Vec<Network> = (1..=4094).map(|t| net("x", Some(t))).collect();
        networks.push(net("late", None));
        let topo = Topology {
            networks,
            ..Topology::default()
        };
        assert_eq!(topo.local_vlans().last(), Some(&None));
    }

    #[test]
    fn mtu_defaults_by_kind() {
        let mut n = net("a", None);
        assert_eq!(n.effective_mtu(), 1500);
        n.segmentation_id = Some(2);
        assert_eq!(n.effective_mtu(), 1458);
        n.mtu = Some(9000);
        assert_eq!(n.effective_mtu(), 9000);
    }
}
