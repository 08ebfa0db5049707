//! Fixed IPs (IP address management, as Neutron's IPAM): requested addresses resolved to
//! their subnets, and missing ones the first free address of a subnet's pools.

use super::subnet;
use crate::addr::Ipv4Cidr;
use crate::api::{ApiError, FixedIpRequest};
use crate::model::{FixedIp, Subnet, Topology};
use std::collections::HashSet;
use std::net::Ipv4Addr;

/// Addresses of `subnet` that are taken: fixed IPs, floating IPs, the gateway.
fn taken(topo: &Topology, subnet: &Subnet) -> HashSet<Ipv4Addr> {
    let fixed = topo
        .ports
        .iter()
        .flat_map(|p| &p.fixed_ips)
        .filter(|f| f.subnet_id == subnet.id)
        .map(|f| &f.ip_address);
    let floating = topo.floatingips.iter().map(|f| &f.floating_ip_address);
    let gateway = subnet.gateway_ip.iter();
    fixed
        .chain(floating)
        .chain(gateway)
        .filter_map(|a| a.parse().ok())
        .collect()
}

/// The first address of `subnet`'s pools (its host range when it has none) that is
/// neither taken nor in `also`.
pub(super) fn free_ip(
    topo: &Topology,
    subnet: &Subnet,
    also: &[Ipv4Addr],
) -> Result<Ipv4Addr, ApiError> {
    let taken = taken(topo, subnet);
    let ranges: Vec<(u32, u32)> = if subnet.allocation_pools.is_empty() {
        let cidr = Ipv4Cidr::parse(&subnet.cidr)
            .ok_or_else(|| ApiError::invalid(format!("subnet {}: invalid cidr", subnet.id)))?;
        let (first, last) = cidr.host_range();
        vec![(first.into(), last.into())]
    } else {
        let pools = subnet.allocation_pools.iter();
        pools
            .filter_map(|p| Some((p.start.parse::<Ipv4Addr>().ok()?, p.end.parse().ok()?)))
            .map(|(s, e): (Ipv4Addr, Ipv4Addr)| (s.into(), e.into()))
            .collect()
    };
    ranges
        .into_iter()
        .flat_map(|(s, e)| s..=e)
        .map(Ipv4Addr::from)
        .find(|ip| !taken.contains(ip) && !also.contains(ip))
        .ok_or_else(|| {
            ApiError::conflict(format!(
                "subnet {} has no free address left in its allocation pools",
                subnet.id
            ))
        })
}

/// The subnet of network `network_id` that holds `ip`.
fn subnet_holding<'a>(
    topo: &'a Topology,
    network_id: &str,
    ip: &str,
) -> Result<&'a Subnet, ApiError> {
    let addr: Ipv4Addr = ip
        .parse()
        .map_err(|_| ApiError::invalid(format!("invalid IPv4 address {ip:?}")))?;
    let mut own = topo.subnets.iter().filter(|s| s.network_id == network_id);
    own.find(|s| Ipv4Cidr::parse(&s.cidr).is_some_and(|c| c.contains(addr)))
        .ok_or_else(|| {
            ApiError::invalid(format!("{ip} is not in a subnet of network {network_id}"))
        })
}

/// The fixed IPs of a port on `network_id`: as requested (subnets resolved, missing
/// addresses allocated), or without a request one free address of the network's first
/// subnet that has one (none if the network has no subnet).
pub(super) fn fixed_ips(
    topo: &Topology,
    network_id: &str,
    requested: Option<&[FixedIpRequest]>,
) -> Result<Vec<FixedIp>, ApiError> {
    let Some(requested) = requested else {
        let mut last_err = None;
        for s in topo.subnets_of(network_id) {
            match free_ip(topo, s, &[]) {
                Ok(ip) => return Ok(vec![fixed(s, ip)]),
                Err(e) => last_err = Some(e),
            }
        }
        return last_err.map_or(Ok(Vec::new()), Err);
    };
    let mut out = Vec::new();
    let mut picked = Vec::new();
    for r in requested {
        let s = match (&r.subnet_id, &r.ip_address) {
            (Some(key), _) => subnet::find(topo, key)?,
            (None, Some(ip)) => subnet_holding(topo, network_id, ip)?,
            (None, None) => {
                return Err(ApiError::bad_request(
                    "a fixed IP needs subnet_id, ip_address or both",
                ))
            }
        };
        let ip = match &r.ip_address {
            Some(ip) => ip.clone(),
            None => {
                let ip = free_ip(topo, s, &picked)?;
                picked.push(ip);
                ip.to_string()
            }
        };
        out.push(FixedIp {
            subnet_id: s.id.clone(),
            ip_address: ip,
        });
    }
    Ok(out)
}

/// A fixed IP `ip` on `s`.
pub(super) fn fixed(s: &Subnet, ip: Ipv4Addr) -> FixedIp {
    FixedIp {
        subnet_id: s.id.clone(),
        ip_address: ip.to_string(),
    }
}
