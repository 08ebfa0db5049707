//! The appliance's own NICs (uplinks) and the GRE tunnel peers.

use crate::naming;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// `[[uplink]]`: a NIC of the appliance and what it carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "UplinkToml", into = "UplinkToml")]
pub struct Uplink {
    /// The name operators see (`eth1`, `eth2`).
    pub name: String,
    /// DPDK devargs: a PCI address or a virtual device (`net_tap0,iface=vr-eth1`).
    pub devargs: String,
    /// What the NIC carries.
    pub role: UplinkRole,
}

/// What an uplink carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UplinkRole {
    /// `role = "underlay"`: the GRE tunnels to the peers terminate here.
    Underlay {
        /// Tunnel endpoint address with prefix length (`10.0.1.21/24`).
        local_ip: String,
        /// MAC address the appliance uses on it.
        mac: String,
        /// Next hop towards peers outside the underlay subnet.
        gateway: Option<String>,
    },
    /// `role = "external"`: untagged frames of one (flat) network, as eth2 on br-ex.
    External {
        /// The network.
        network_id: String,
    },
    /// `role = "trunk"`: 802.1Q-tagged frames; `vlans = { "100" = "<network id>" }`.
    Trunk {
        /// VLAN id (as written) → network id.
        vlans: BTreeMap<String, String>,
    },
}

/// The TOML shape of an uplink: `role` selects the variant and its keys.
#[derive(Clone, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase", deny_unknown_fields)]
enum UplinkToml {
    Underlay {
        name: String,
        devargs: String,
        local_ip: String,
        mac: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gateway: Option<String>,
    },
    External {
        name: String,
        devargs: String,
        network_id: String,
    },
    Trunk {
        name: String,
        devargs: String,
        vlans: BTreeMap<String, String>,
    },
}

impl From<UplinkToml> for Uplink {
    fn from(t: UplinkToml) -> Uplink {
        let (name, devargs, role) = match t {
            UplinkToml::Underlay {
                name,
                devargs,
                local_ip,
                mac,
                gateway,
            } => (
                name,
                devargs,
                UplinkRole::Underlay {
                    local_ip,
                    mac,
                    gateway,
                },
            ),
            UplinkToml::External {
                name,
                devargs,
                network_id,
            } => (name, devargs, UplinkRole::External { network_id }),
            UplinkToml::Trunk {
                name,
                devargs,
                vlans,
            } => (name, devargs, UplinkRole::Trunk { vlans }),
        };
        Uplink {
            name,
            devargs,
            role,
        }
    }
}

impl From<Uplink> for UplinkToml {
    fn from(u: Uplink) -> UplinkToml {
        let (name, devargs) = (u.name, u.devargs);
        match u.role {
            UplinkRole::Underlay {
                local_ip,
                mac,
                gateway,
            } => UplinkToml::Underlay {
                name,
                devargs,
                local_ip,
                mac,
                gateway,
            },
            UplinkRole::External { network_id } => UplinkToml::External {
                name,
                devargs,
                network_id,
            },
            UplinkRole::Trunk { vlans } => UplinkToml::Trunk {
                name,
                devargs,
                vlans,
            },
        }
    }
}

impl UplinkRole {
    /// The role's name as written in the file.
    pub fn as_str(&self) -> &'static str {
        match self {
            UplinkRole::Underlay { .. } => "underlay",
            UplinkRole::External { .. } => "external",
            UplinkRole::Trunk { .. } => "trunk",
        }
    }
}

/// `[[tunnel_peer]]`: another GRE endpoint (a compute node).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TunnelPeer {
    /// Its underlay address (`10.0.1.31`).
    pub remote_ip: String,
}

impl TunnelPeer {
    /// The GRE port name (`gre-0a00011f`), if the address is valid.
    pub fn name(&self) -> Option<String> {
        let ip: Ipv4Addr = self.remote_ip.parse().ok()?;
        Some(naming::gre_port_name(ip))
    }
}
