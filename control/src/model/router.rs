//! Routers and floating IPs. A router's interfaces and gateway are ports whose
//! `device_owner` says so and whose `device_id` is the router id, as in Neutron.

use super::{default_true, is_true, Route};
use serde::{Deserialize, Serialize};

/// `[[router]]`: a virtual router (`qrouter-<id>`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Router {
    /// Neutron id.
    pub id: String,
    /// Neutron name (`tenant-R1`).
    #[serde(default)]
    pub name: String,
    /// The external network it routes to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_gateway: Option<ExternalGateway>,
    /// Extra static routes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
}

/// `external_gateway = { network_id = "…", enable_snat = true }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalGateway {
    /// The external network.
    pub network_id: String,
    /// Whether traffic without a floating IP leaves with the gateway address (SNAT).
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub enable_snat: bool,
}

/// `[[floatingip]]`: an external address, optionally mapped 1:1 to a port's fixed IP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FloatingIp {
    /// Neutron id.
    pub id: String,
    /// The external address.
    pub floating_ip_address: String,
    /// The external network it is taken from.
    pub floating_network_id: String,
    /// The associated port; absent while unassociated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_id: Option<String>,
    /// Which fixed IP of the port; the first one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_ip_address: Option<String>,
    /// The router that does the NAT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router_id: Option<String>,
}
