//! Security groups and their rules, as Neutron defines them.

use serde::{Deserialize, Serialize};

/// `[[security_group]]`: a named set of rules that ports refer to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroup {
    /// Neutron id.
    pub id: String,
    /// Neutron name (`default`).
    #[serde(default)]
    pub name: String,
    /// Owning tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// `[[security_group.rules]]`: what is allowed; everything else is dropped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
}

impl super::Topology {
    /// Gives every rule without an id the id `<group id>#<index>` (its place in the group
    /// as loaded), the id the chains view shows: deterministic, so a file loaded twice
    /// gives the same ids, and persisted from then on, so they stay when rules before it
    /// are deleted.
    pub fn name_unnamed_rules(&mut self) {
        for g in &mut self.security_groups {
            for (i, r) in g.rules.iter_mut().enumerate() {
                if r.id.is_none() {
                    r.id = Some(rule_id(&g.id, i));
                }
            }
        }
    }
}

/// The id of the rule at `index` of group `group` that was loaded without one.
pub fn rule_id(group: &str, index: usize) -> String {
    format!("{group}#{index}")
}

/// One allow rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Neutron id, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `ingress` (into the VM) or `egress` (out of it).
    pub direction: Direction,
    /// `IPv4` (default) or `IPv6`.
    #[serde(default)]
    pub ethertype: EtherType,
    /// `tcp`, `udp`, `icmp` or an IP protocol number; absent: any protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Lowest destination port (tcp/udp) or ICMP type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_range_min: Option<u16>,
    /// Highest destination port (tcp/udp) or ICMP code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_range_max: Option<u16>,
    /// Remote prefix the rule allows (source for ingress, destination for egress).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_ip_prefix: Option<String>,
    /// Remote group: the addresses of the ports of this security group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_group_id: Option<String>,
}

/// Direction of a rule, seen from the VM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Into the VM (chain `-i…`).
    Ingress,
    /// Out of the VM (chain `-o…`).
    Egress,
}

/// Address family of a rule.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum EtherType {
    /// IPv4.
    #[default]
    IPv4,
    /// IPv6.
    IPv6,
}

/// A rule's protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// ICMP (1).
    Icmp,
    /// Any other IP protocol number.
    Number(u8),
}

impl Protocol {
    /// Parses `tcp`, `udp`, `icmp` (any case) or a number 0..=255; named protocols given by
    /// number (6, 17, 1) come out named.
    pub fn parse(s: &str) -> Option<Protocol> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Some(Protocol::Tcp),
            "udp" => Some(Protocol::Udp),
            "icmp" => Some(Protocol::Icmp),
            n if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                Some(match n.parse::<u8>().ok()? {
                    1 => Protocol::Icmp,
                    6 => Protocol::Tcp,
                    17 => Protocol::Udp,
                    other => Protocol::Number(other),
                })
            }
            _ => None,
        }
    }

    /// The IP protocol number.
    pub fn number(self) -> u8 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Icmp => 1,
            Protocol::Number(n) => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_parse_by_name_and_number() {
        assert_eq!(Protocol::parse("TCP"), Some(Protocol::Tcp));
        assert_eq!(Protocol::parse("17"), Some(Protocol::Udp));
        assert_eq!(Protocol::parse("47").map(Protocol::number), Some(47));
        assert_eq!(Protocol::parse("256"), None);
        assert_eq!(Protocol::parse("-1"), None);
        assert_eq!(Protocol::parse("gre"), None);
    }
}
