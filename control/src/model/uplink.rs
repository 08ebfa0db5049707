//! The appliance's own NICs (uplinks) and the GRE tunnel peers.

use crate::naming;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// `[[uplink]]`: a NIC of the appliance and what it carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "UplinkToml", into = "UplinkToml")]
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

/// The TOML shape of an uplink: one flat table whose `role` says which keys it takes.
/// Flat (rather than a serde-tagged enum) so that unknown keys and wrong types are reported
/// at their own line and column.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UplinkToml {
    name: String,
    devargs: String,
    role: RoleName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    local_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mac: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gateway: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    network_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vlans: Option<BTreeMap<String, String>>,
}

/// The values of `role`.
#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RoleName {
    Underlay,
    External,
    Trunk,
}

impl TryFrom<UplinkToml> for Uplink {
    type Error = String;

    fn try_from(t: UplinkToml) -> Result<Uplink, String> {
        let name = t.name;
        let (role, extra) = match t.role {
            RoleName::Underlay => {
                let need = |v: Option<String>, key| {
                    v.ok_or_else(|| format!("uplink {name}: role \"underlay\" needs `{key}`"))
                };
                let role = UplinkRole::Underlay {
                    local_ip: need(t.local_ip, "local_ip")?,
                    mac: need(t.mac, "mac")?,
                    gateway: t.gateway,
                };
                let extra = [
                    ("network_id", t.network_id.is_some()),
                    ("vlans", t.vlans.is_some()),
                ];
                (role, extra.to_vec())
            }
            RoleName::External => {
                let network_id = t.network_id.ok_or_else(|| {
                    format!("uplink {name}: role \"external\" needs `network_id`")
                })?;
                let extra = [
                    ("local_ip", t.local_ip.is_some()),
                    ("mac", t.mac.is_some()),
                    ("gateway", t.gateway.is_some()),
                    ("vlans", t.vlans.is_some()),
                ];
                (UplinkRole::External { network_id }, extra.to_vec())
            }
            RoleName::Trunk => {
                let vlans = t
                    .vlans
                    .ok_or_else(|| format!("uplink {name}: role \"trunk\" needs `vlans`"))?;
                let extra = [
                    ("local_ip", t.local_ip.is_some()),
                    ("mac", t.mac.is_some()),
                    ("gateway", t.gateway.is_some()),
                    ("network_id", t.network_id.is_some()),
                ];
                (UplinkRole::Trunk { vlans }, extra.to_vec())
            }
        };
        if let Some((key, _)) = extra.iter().find(|(_, set)| *set) {
            let role = role.as_str();
            return Err(format!(
                "uplink {name}: `{key}` does not apply to role \"{role}\""
            ));
        }
        Ok(Uplink {
            name,
            devargs: t.devargs,
            role,
        })
    }
}

impl From<Uplink> for UplinkToml {
    fn from(u: Uplink) -> UplinkToml {
        let mut t = UplinkToml {
            name: u.name,
            devargs: u.devargs,
            role: RoleName::Underlay,
            local_ip: None,
            mac: None,
            gateway: None,
            network_id: None,
            vlans: None,
        };
        match u.role {
            UplinkRole::Underlay {
                local_ip,
                mac,
                gateway,
            } => (t.local_ip, t.mac, t.gateway) = (Some(local_ip), Some(mac), gateway),
            UplinkRole::External { network_id } => {
                (t.role, t.network_id) = (RoleName::External, Some(network_id));
            }
            UplinkRole::Trunk { vlans } => (t.role, t.vlans) = (RoleName::Trunk, Some(vlans)),
        }
        t
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
