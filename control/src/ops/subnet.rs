//! `subnet.*`.

use super::{alloc, deleted, network, resolve};
use crate::addr::Ipv4Cidr;
use crate::api::{ApiError, Deleted, SubnetCreate, SubnetInfo, SubnetUpdate};
use crate::model::{Subnet, Topology};

/// The subnet with id or name `key`.
pub(super) fn find<'a>(topo: &'a Topology, key: &str) -> Result<&'a Subnet, ApiError> {
    let i = position(topo, key)?;
    Ok(&topo.subnets[i])
}

/// The index of the subnet with id or name `key`.
fn position(topo: &Topology, key: &str) -> Result<usize, ApiError> {
    let items = &topo.subnets;
    resolve::position(items, key, "subnet", |s| &s.id, |s| Some(&s.name))
}

/// The subnet as shown, `enable_dhcp` included.
pub(super) fn info(s: &Subnet) -> SubnetInfo {
    SubnetInfo {
        id: s.id.clone(),
        name: s.name.clone(),
        network_id: s.network_id.clone(),
        cidr: s.cidr.clone(),
        gateway_ip: s.gateway_ip.clone(),
        allocation_pools: s.allocation_pools.clone(),
        enable_dhcp: s.enable_dhcp,
        dns_nameservers: s.dns_nameservers.clone(),
        host_routes: s.host_routes.clone(),
        dns_domain: s.dns_domain.clone(),
        dhcp_lease_duration: s.dhcp_lease_duration,
    }
}

/// The first host address of `cidr`, Neutron's default gateway; `None` for a bad CIDR
/// (which validation reports).
fn first_host(cidr: &str) -> Option<String> {
    Ipv4Cidr::parse(cidr).map(|c| c.host_range().0.to_string())
}

/// Adds a subnet to a network.
pub(super) fn create(topo: &mut Topology, a: &SubnetCreate) -> Result<SubnetInfo, ApiError> {
    let network_id = network::find(topo, &a.network)?.id.clone();
    let gateway_ip = match (&a.gateway_ip, a.no_gateway) {
        (Some(_), true) => {
            return Err(ApiError::bad_request(
                "gateway_ip and no_gateway exclude each other",
            ))
        }
        (Some(gw), false) => Some(gw.clone()),
        (None, true) => None,
        (None, false) => first_host(&a.cidr),
    };
    let s = Subnet {
        id: alloc::id_or_new(&a.id)?,
        name: a.name.clone(),
        network_id,
        cidr: a.cidr.clone(),
        gateway_ip,
        allocation_pools: a.allocation_pools.clone(),
        enable_dhcp: a.enable_dhcp.unwrap_or(true),
        dns_nameservers: a.dns_nameservers.clone(),
        host_routes: a.host_routes.clone(),
        dns_domain: a.dns_domain.clone(),
        dhcp_lease_duration: a.dhcp_lease_duration,
    };
    let out = info(&s);
    topo.subnets.push(s);
    Ok(out)
}

/// Changes the fields given.
pub(super) fn update(topo: &mut Topology, a: &SubnetUpdate) -> Result<SubnetInfo, ApiError> {
    let i = position(topo, &a.id)?;
    let s = &mut topo.subnets[i];
    if a.no_gateway && a.gateway_ip.is_some() {
        return Err(ApiError::bad_request(
            "gateway_ip and no_gateway exclude each other",
        ));
    }
    if let Some(name) = &a.name {
        s.name = name.clone();
    }
    if a.no_gateway {
        s.gateway_ip = None;
    } else if a.gateway_ip.is_some() {
        s.gateway_ip = a.gateway_ip.clone();
    }
    if let Some(pools) = &a.allocation_pools {
        s.allocation_pools = pools.clone();
    }
    if let Some(dhcp) = a.enable_dhcp {
        s.enable_dhcp = dhcp;
    }
    if let Some(dns) = &a.dns_nameservers {
        s.dns_nameservers = dns.clone();
    }
    if let Some(routes) = &a.host_routes {
        s.host_routes = routes.clone();
    }
    if a.dns_domain.is_some() {
        s.dns_domain = a.dns_domain.clone();
    }
    if a.dhcp_lease_duration.is_some() {
        s.dhcp_lease_duration = a.dhcp_lease_duration;
    }
    Ok(info(s))
}

/// Deletes a subnet no port has an address on.
pub(super) fn delete(topo: &mut Topology, key: &str) -> Result<Deleted, ApiError> {
    let i = position(topo, key)?;
    let id = topo.subnets[i].id.clone();
    let users: Vec<&str> = topo
        .ports
        .iter()
        .filter(|p| p.fixed_ips.iter().any(|f| f.subnet_id == id))
        .map(|p| p.id.as_str())
        .collect();
    if !users.is_empty() {
        return Err(ApiError::conflict(format!(
            "subnet {id} still has addresses of port(s) {}; delete them first",
            users.join(", ")
        )));
    }
    topo.subnets.remove(i);
    Ok(deleted(&id))
}
