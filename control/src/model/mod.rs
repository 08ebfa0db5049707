//! Neutron-style resources as an operator writes them in TOML (see `configs/tenant-a.toml`
//! for the format). Addresses stay strings here so that validation can report every bad
//! one at once, with its resource and field.

mod devices;
mod neighbour;
mod network;
mod port;
mod router;
mod security_group;
mod uplink;

pub use devices::DevargsError;
pub use neighbour::Neighbour;
pub use network::{AllocationPool, Network, Route, Subnet, GRE_MTU, PLAIN_MTU};
pub use port::{owner, AddressPair, Binding, FixedIp, Port};
pub use router::{ExternalGateway, FloatingIp, Router};
pub use security_group::{rule_id, Direction, EtherType, Protocol, Rule, SecurityGroup};
pub use uplink::{TunnelPeer, Uplink, UplinkRole};

use serde::{Deserialize, Serialize};
use vrouter::tables::MacTableConf;

/// Everything one appliance serves: the whole model, as loaded from one file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// Where the model was loaded from, for error messages; not part of the file.
    #[serde(skip)]
    pub origin: Option<String>,
    /// `[[network]]`: tenant and provider networks.
    #[serde(default, rename = "network", skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<Network>,
    /// `[[subnet]]`: IPv4 subnets of the networks.
    #[serde(default, rename = "subnet", skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<Subnet>,
    /// `[[port]]`: VM NICs, router interfaces and gateways, DHCP and floating IP ports.
    #[serde(default, rename = "port", skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    /// `[[router]]`: virtual routers.
    #[serde(default, rename = "router", skip_serializing_if = "Vec::is_empty")]
    pub routers: Vec<Router>,
    /// `[[floatingip]]`: floating IPs.
    #[serde(default, rename = "floatingip", skip_serializing_if = "Vec::is_empty")]
    pub floatingips: Vec<FloatingIp>,
    /// `[[security_group]]`: security groups with their rules.
    #[serde(
        default,
        rename = "security_group",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub security_groups: Vec<SecurityGroup>,
    /// `[[tunnel_peer]]`: the other GRE endpoints (compute nodes).
    #[serde(default, rename = "tunnel_peer", skip_serializing_if = "Vec::is_empty")]
    pub tunnel_peers: Vec<TunnelPeer>,
    /// `[[uplink]]`: the physical (or virtual) NICs of the appliance.
    #[serde(default, rename = "uplink", skip_serializing_if = "Vec::is_empty")]
    pub uplinks: Vec<Uplink>,
    /// `[[neighbour]]`: next hops with a static MAC address (never resolved by ARP).
    #[serde(default, rename = "neighbour", skip_serializing_if = "Vec::is_empty")]
    pub neighbours: Vec<Neighbour>,
    /// `[mac_table]`: limits of the learned MAC table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_table: Option<MacTable>,
    /// `[conntrack]`: limits of connection tracking (NAT and security group sessions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conntrack: Option<Conntrack>,
}

/// `[conntrack]`: sessions at most per worker, and of one zone (a router, or a VM port);
/// when full, a session never answered is dropped for a new one, else the new connection is
/// refused and counted (`conntrack_full`, `conntrack_zone_full`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Conntrack {
    /// Sessions at most (a routed VM flow with security groups takes two: its port's and
    /// its router's).
    pub capacity: usize,
    /// Sessions at most of one router or one VM port; absent: half the capacity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone_limit: Option<usize>,
}

impl Conntrack {
    /// The zone limit in force: the configured one, or half the capacity.
    pub fn zone_limit(&self) -> usize {
        self.zone_limit
            .unwrap_or_else(|| vrouter::tables::ConntrackConf::default_zone_limit(self.capacity))
    }
}

impl Default for Conntrack {
    fn default() -> Self {
        Conntrack {
            capacity: vrouter::tables::ConntrackConf::default().capacity,
            zone_limit: None,
        }
    }
}

/// `[mac_table]`: limits of the learned MAC table; absent keys take the data plane's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MacTable {
    /// Entries at most, learned and static together.
    pub capacity: usize,
    /// Seconds after which an entry that was not refreshed is removed.
    pub aging_secs: u32,
}

impl Default for MacTable {
    fn default() -> Self {
        let d = MacTableConf::default();
        MacTable {
            capacity: d.capacity,
            aging_secs: d.aging_secs,
        }
    }
}

impl Topology {
    /// The network with this id.
    pub fn network(&self, id: &str) -> Option<&Network> {
        self.networks.iter().find(|n| n.id == id)
    }

    /// The subnets of the network with this id, in file order.
    pub fn subnets_of<'a>(&'a self, network_id: &'a str) -> impl Iterator<Item = &'a Subnet> {
        self.subnets
            .iter()
            .filter(move |s| s.network_id == network_id)
    }
}

/// Serde default for flags that Neutron turns on unless told otherwise.
fn default_true() -> bool {
    true
}

/// Serde predicate: skip a flag that has its default value `true`.
fn is_true(b: &bool) -> bool {
    *b
}
