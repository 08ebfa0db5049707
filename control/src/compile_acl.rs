//! Compiles security groups into the firewall of every locally bound VM port with port
//! security: allowed sources (anti-spoofing), DHCP servers, and the ingress and egress
//! rules of all its groups, with `remote_group_id` resolved to the group's member
//! addresses (so a membership change recompiles every port that refers to the group).

use crate::addr::{parse_ip_prefix, parse_ipv4_u32 as ip, parse_mac};
use crate::model::{owner, Direction, EtherType, Port, Protocol, Rule, Topology};
use std::net::IpAddr;
use vrouter::tables::acl::{AclRule, AllowedSource, PortAcl, Remote};

/// The firewall of each attached device, by attachment index (`None`: not a filtered port).
pub(crate) fn acls(topo: &Topology, attached: &[String]) -> Vec<Option<PortAcl>> {
    attached
        .iter()
        .map(|name| {
            let p = topo.ports.iter().find(|p| {
                p.local_devargs().is_some() && !p.is_network_owned() && &p.device_name() == name
            })?;
            p.port_security_enabled.then(|| port_acl(topo, p))
        })
        .collect()
}

/// The firewall of one port.
fn port_acl(topo: &Topology, p: &Port) -> PortAcl {
    let mac = parse_mac(&p.mac_address).unwrap_or_default();
    let mut sources: Vec<AllowedSource> = p
        .fixed_ips
        .iter()
        .filter_map(|f| {
            Some(AllowedSource {
                prefix: ip(&f.ip_address)?,
                len: 32,
                mac,
            })
        })
        .collect();
    for pair in &p.allowed_address_pairs {
        let Some((IpAddr::V4(a), len)) = parse_ip_prefix(&pair.ip_address) else {
            continue;
        };
        let pair_mac = pair
            .mac_address
            .as_deref()
            .and_then(parse_mac)
            .unwrap_or(mac);
        let prefix = u32::from(a) & vrouter::tables::router::mask(len);
        sources.push(AllowedSource {
            prefix,
            len,
            mac: pair_mac,
        });
    }
    let dhcp_servers = topo
        .ports
        .iter()
        .filter(|d| d.device_owner == owner::DHCP && d.network_id == p.network_id)
        .flat_map(|d| d.fixed_ips.iter().filter_map(|f| ip(&f.ip_address)))
        .collect();
    let mut acl = PortAcl {
        port_id: p.id.clone(),
        sources,
        dhcp_servers,
        ingress: Vec::new(),
        egress: Vec::new(),
    };
    for group in topo
        .security_groups
        .iter()
        .filter(|g| p.security_groups.contains(&g.id))
    {
        for (i, r) in group.rules.iter().enumerate() {
            if r.ethertype != EtherType::IPv4 {
                continue;
            }
            let compiled = rule(topo, &group.id, i, r);
            match r.direction {
                Direction::Ingress => acl.ingress.push(compiled),
                Direction::Egress => acl.egress.push(compiled),
            }
        }
    }
    acl
}

/// One rule. Neutron's ICMP rules carry the type in `port_range_min` and the code in
/// `port_range_max`; a TCP/UDP rule without a range allows every port.
fn rule(topo: &Topology, group: &str, index: usize, r: &Rule) -> AclRule {
    let proto = r
        .protocol
        .as_deref()
        .and_then(Protocol::parse)
        .map(Protocol::number);
    let (ports, icmp_code) = match proto {
        Some(1) => match r.port_range_min {
            Some(t) => ((t, t), r.port_range_max.and_then(|c| u8::try_from(c).ok())),
            None => ((0, 255), None),
        },
        _ => (
            (
                r.port_range_min.unwrap_or(0),
                r.port_range_max.or(r.port_range_min).unwrap_or(u16::MAX),
            ),
            None,
        ),
    };
    let remote = if let Some(g) = &r.remote_group_id {
        Remote::Members(members(topo, g))
    } else if let Some(Some((IpAddr::V4(a), len))) =
        r.remote_ip_prefix.as_deref().map(parse_ip_prefix)
    {
        Remote::Prefix(u32::from(a) & vrouter::tables::router::mask(len), len)
    } else {
        Remote::Any
    };
    AclRule {
        id: r
            .id
            .clone()
            .unwrap_or_else(|| crate::model::rule_id(group, index)),
        group: group.to_owned(),
        proto,
        ports,
        icmp_code,
        remote,
    }
}

/// The addresses of every port in group `g` (fixed IPs and allowed address pairs), sorted.
fn members(topo: &Topology, g: &str) -> Vec<u32> {
    let ports = topo
        .ports
        .iter()
        .filter(|p| p.security_groups.iter().any(|x| x == g));
    let mut out: Vec<u32> = ports
        .flat_map(|p| {
            let fixed = p.fixed_ips.iter().filter_map(|f| ip(&f.ip_address));
            let pairs = p
                .allowed_address_pairs
                .iter()
                .filter_map(|a| ip(&a.ip_address));
            fixed.chain(pairs).collect::<Vec<_>>()
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}
