//! Static neighbours: next hops whose MAC address the operator gives, so that the appliance
//! never has to ask for them by ARP (`ip neigh replace … lladdr … nud permanent` on the
//! network node: an upstream router, a compute node on the underlay).

use serde::{Deserialize, Serialize};

/// `[[neighbour]]`: an IPv4 address and its MAC address, on the underlay (`uplink`) or on
/// a network the routers are attached to (`network_id`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Neighbour {
    /// Its IPv4 address, on-link (`10.1.101.254`).
    pub ip: String,
    /// Its MAC address (`52:54:00:01:01:fe`).
    pub mac: String,
    /// The underlay uplink it is on (`eth1`): a tunnel peer or the underlay's gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uplink: Option<String>,
    /// The network it is on: a next hop of the routers with a port there (the external
    /// network's upstream router, a router behind a tenant network).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_id: Option<String>,
}
