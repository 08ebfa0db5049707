//! Security groups compiled per locally bound VM port: the chains the iptables firewall
//! driver built (`neutron-openvswi-i…`, `-o…`, `-s…`) as data the ACL stage walks.

use crate::wire::Mac;

/// What a rule's remote end must be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Remote {
    /// Anyone.
    Any,
    /// An address in this prefix (host byte order, length).
    Prefix(u32, u8),
    /// A member of a group: the addresses of its ports, sorted.
    Members(Vec<u32>),
}

impl Remote {
    /// True if `ip` (host byte order) is an allowed remote end.
    #[inline]
    pub fn matches(&self, ip: u32) -> bool {
        match self {
            Remote::Any => true,
            Remote::Prefix(p, len) => ip & super::router::mask(*len) == *p,
            Remote::Members(m) => m.binary_search(&ip).is_ok(),
        }
    }
}

/// One allow rule of one direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AclRule {
    /// The Neutron rule id (for counters and views).
    pub id: String,
    /// The group it belongs to.
    pub group: String,
    /// IP protocol, `None` for any.
    pub proto: Option<u8>,
    /// Port range for TCP/UDP (destination port), or ICMP type range; inclusive.
    pub ports: (u16, u16),
    /// ICMP code, if the rule names one.
    pub icmp_code: Option<u8>,
    /// The remote end.
    pub remote: Remote,
}

impl AclRule {
    /// True if a first packet with protocol `proto`, destination port (or ICMP type)
    /// `port`, ICMP code `code` and remote address `remote` is allowed by this rule.
    #[inline]
    pub fn matches(&self, proto: u8, port: u16, code: u8, remote: u32) -> bool {
        if let Some(p) = self.proto {
            if p != proto {
                return false;
            }
            if matches!(p, 1 | 6 | 17) && !(self.ports.0..=self.ports.1).contains(&port) {
                return false;
            }
            if self.icmp_code.is_some_and(|c| c != code) {
                return false;
            }
        }
        self.remote.matches(remote)
    }
}

/// An address a port may send from: its fixed IPs, and its allowed address pairs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllowedSource {
    /// Prefix (host byte order) and length.
    pub prefix: u32,
    /// Prefix length (32 for a fixed IP).
    pub len: u8,
    /// The MAC that must come with it.
    pub mac: Mac,
}

/// The firewall of one locally bound VM port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortAcl {
    /// Neutron port id (chain names derive from it).
    pub port_id: String,
    /// Addresses (with MACs) the port may send from (the `-s…` chain).
    pub sources: Vec<AllowedSource>,
    /// DHCP servers of the port's subnets, whose replies always come in.
    pub dhcp_servers: Vec<u32>,
    /// Rules into the VM (the `-i…` chain).
    pub ingress: Vec<AclRule>,
    /// Rules out of the VM (the `-o…` chain).
    pub egress: Vec<AclRule>,
}

impl PortAcl {
    /// True if the port may send from `mac` and `ip` (RFC-less anti-spoofing: the port's
    /// own pairs, or its allowed address pairs).
    #[inline]
    pub fn source_ok(&self, mac: Mac, ip: u32) -> bool {
        self.sources
            .iter()
            .any(|s| s.mac == mac && ip & super::router::mask(s.len) == s.prefix)
    }

    /// True if `mac` is one the port may use at all.
    #[inline]
    pub fn mac_ok(&self, mac: Mac) -> bool {
        self.sources.iter().any(|s| s.mac == mac)
    }

    /// The index of the first rule of `rules` that allows the packet, if any.
    #[inline]
    pub fn first_match(
        rules: &[AclRule],
        proto: u8,
        port: u16,
        code: u8,
        remote: u32,
    ) -> Option<usize> {
        rules
            .iter()
            .position(|r| r.matches(proto, port, code, remote))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(proto: Option<u8>, ports: (u16, u16), remote: Remote) -> AclRule {
        AclRule {
            id: "r".into(),
            group: "g".into(),
            proto,
            ports,
            icmp_code: None,
            remote,
        }
    }

    #[test]
    fn rules_match_protocol_ports_and_remote() {
        let ssh = rule(Some(6), (22, 22), Remote::Prefix(0x0a01_6500, 24));
        assert!(ssh.matches(6, 22, 0, 0x0a01_65fe));
        assert!(!ssh.matches(6, 23, 0, 0x0a01_65fe));
        assert!(!ssh.matches(17, 22, 0, 0x0a01_65fe));
        assert!(!ssh.matches(6, 22, 0, 0x0a02_0001));
        let group = rule(None, (0, 0), Remote::Members(vec![9, 10]));
        assert!(group.matches(47, 0, 0, 10));
        assert!(!group.matches(47, 0, 0, 11));
        let mut echo = rule(Some(1), (8, 8), Remote::Any);
        echo.icmp_code = Some(0);
        assert!(echo.matches(1, 8, 0, 1));
        assert!(!echo.matches(1, 8, 1, 1));
        assert!(!echo.matches(1, 0, 0, 1));
    }

    #[test]
    fn sources_bind_mac_and_address() {
        let m = Mac([2, 0, 0, 0, 0, 1]);
        let acl = PortAcl {
            port_id: "p".into(),
            sources: vec![
                AllowedSource {
                    prefix: 10,
                    len: 32,
                    mac: m,
                },
                AllowedSource {
                    prefix: 0x0a00_0100,
                    len: 24,
                    mac: m,
                },
            ],
            dhcp_servers: vec![],
            ingress: vec![],
            egress: vec![],
        };
        assert!(acl.source_ok(m, 10));
        assert!(acl.source_ok(m, 0x0a00_0177));
        assert!(!acl.source_ok(m, 11));
        assert!(!acl.source_ok(Mac([2, 0, 0, 0, 0, 2]), 10));
    }
}
