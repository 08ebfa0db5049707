//! Ports: VM NICs, router interfaces and gateways, DHCP and floating IP ports.

use super::{default_true, is_true};
use crate::naming;
use serde::{Deserialize, Serialize};

/// Neutron `device_owner` values the appliance gives a meaning to.
pub mod owner {
    /// A router's interface on a tenant subnet (`qr-…`).
    pub const ROUTER_INTERFACE: &str = "network:router_interface";
    /// A router's gateway on an external network (`qg-…`).
    pub const ROUTER_GATEWAY: &str = "network:router_gateway";
    /// The DHCP server of a network (`tap…` in `qdhcp-…`).
    pub const DHCP: &str = "network:dhcp";
    /// The address holder of a floating IP (no device).
    pub const FLOATING_IP: &str = "network:floatingip";
    /// Prefix of every owner served inside the appliance.
    pub const NETWORK_PREFIX: &str = "network:";
}

/// `[[port]]`: a Neutron port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    /// Neutron id; device names carry its first 11 characters.
    pub id: String,
    /// Neutron name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Host name DHCP hands out (option 12); `host-<ip with dashes>` when absent, as
    /// Neutron's dnsmasq.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_name: Option<String>,
    /// The network it belongs to.
    pub network_id: String,
    /// `fa:16:3e:51:a2:97`.
    pub mac_address: String,
    /// Addresses on the network's subnets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fixed_ips: Vec<FixedIp>,
    /// What uses the port: `compute:nova`, `network:router_interface`, … (see [`owner`]).
    #[serde(default)]
    pub device_owner: String,
    /// The id of what uses it: VM, router or floating IP id.
    #[serde(default)]
    pub device_id: String,
    /// Where the port's device is; absent: somewhere else, learned from traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<Binding>,
    /// Security group ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// Whether security groups and anti-spoofing apply.
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub port_security_enabled: bool,
    /// Further (IP, MAC) pairs the port may send from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_address_pairs: Vec<AddressPair>,
}

/// `{ subnet_id = "…", ip_address = "10.0.0.9" }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FixedIp {
    /// The subnet the address is on.
    pub subnet_id: String,
    /// The address.
    pub ip_address: String,
}

/// `{ ip_address = "10.0.0.50/32", mac_address = "…" }`: an allowed address pair.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressPair {
    /// An address or prefix.
    pub ip_address: String,
    /// The MAC it may come with; the port's own when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
}

/// Where a port's device is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Binding {
    /// `binding = { local = { devargs = "net_vhost0,iface=/run/vm002.sock" } }`: a DPDK
    /// device of this appliance, named after the port (`tap1653ec91-ad`).
    Local {
        /// DPDK devargs of the device.
        devargs: String,
    },
    /// `binding = { peer = "10.0.1.31" }`: behind that tunnel peer.
    Peer(String),
}

impl Port {
    /// The device name operators see: `tap…`, `qr-…` or `qg-…` by `device_owner`.
    pub fn device_name(&self) -> String {
        naming::port_device_name(&self.device_owner, &self.id)
    }

    /// True for ports the appliance itself serves (router, DHCP, floating IP ports).
    pub fn is_network_owned(&self) -> bool {
        self.device_owner.starts_with(owner::NETWORK_PREFIX)
    }

    /// The devargs of the local device, when the port is bound to one.
    pub fn local_devargs(&self) -> Option<&str> {
        match &self.binding {
            Some(Binding::Local { devargs }) => Some(devargs),
            _ => None,
        }
    }
}
