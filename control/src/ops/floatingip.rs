//! `floatingip.*`. A floating IP's address is held by a port on the external network
//! (`device_owner = network:floatingip`, `device_id` = the floating IP's id); associating
//! maps it to a port's fixed IP through the router that connects the two networks.

use super::{alloc, deleted, ipam, network, port, resolve};
use crate::api::{ApiError, Deleted, FloatingIpAssociate, FloatingIpCreate, FloatingIpInfo};
use crate::model::{owner, FloatingIp, Topology};

/// The floating IP with id or address `key`.
pub(super) fn find<'a>(topo: &'a Topology, key: &str) -> Result<&'a FloatingIp, ApiError> {
    let i = position(topo, key)?;
    Ok(&topo.floatingips[i])
}

/// The index of the floating IP with id or address `key`.
fn position(topo: &Topology, key: &str) -> Result<usize, ApiError> {
    let items = &topo.floatingips;
    resolve::position(
        items,
        key,
        "floating IP",
        |f| &f.id,
        |f| Some(&f.floating_ip_address),
    )
}

/// The floating IP as shown, unset fields as `null`.
pub(super) fn info(f: &FloatingIp) -> FloatingIpInfo {
    FloatingIpInfo {
        id: f.id.clone(),
        floating_ip_address: f.floating_ip_address.clone(),
        floating_network_id: f.floating_network_id.clone(),
        port_id: f.port_id.clone(),
        fixed_ip_address: f.fixed_ip_address.clone(),
        router_id: f.router_id.clone(),
    }
}

/// Creates a floating IP on an external network, with its address port; associates it
/// when a port is given.
pub(super) fn create(
    topo: &mut Topology,
    a: &FloatingIpCreate,
) -> Result<FloatingIpInfo, ApiError> {
    let net = network::find(topo, &a.floating_network)?;
    if !net.router_external {
        return Err(ApiError::invalid(format!(
            "network {} is not external (router_external = false)",
            net.id
        )));
    }
    let network_id = net.id.clone();
    let request = crate::api::FixedIpRequest {
        subnet_id: None,
        ip_address: a.floating_ip_address.clone(),
    };
    let fixed = match &a.floating_ip_address {
        Some(_) => ipam::fixed_ips(topo, &network_id, Some(&[request]))?,
        None => ipam::fixed_ips(topo, &network_id, None)?,
    };
    let Some(address) = fixed.first().map(|f| f.ip_address.clone()) else {
        let msg = format!("network {network_id} has no subnet to take a floating IP from");
        return Err(ApiError::invalid(msg));
    };
    let id = alloc::id_or_new(&a.id)?;
    let holder = port::served(
        alloc::id_or_new(&a.fip_port_id)?,
        alloc::mac_or_new(topo, &network_id, &a.fip_mac_address)?,
        (network_id.clone(), fixed),
        (owner::FLOATING_IP, &id),
    );
    topo.ports.push(holder);
    topo.floatingips.push(FloatingIp {
        id: id.clone(),
        floating_ip_address: address,
        floating_network_id: network_id,
        port_id: None,
        fixed_ip_address: None,
        router_id: None,
    });
    if let Some(port) = &a.port {
        let assoc = FloatingIpAssociate {
            id,
            port: port.clone(),
            fixed_ip_address: a.fixed_ip_address.clone(),
        };
        return associate(topo, &assoc);
    }
    let i = topo.floatingips.len() - 1;
    Ok(info(&topo.floatingips[i]))
}

/// Maps a floating IP to a fixed IP of a port, through the router that has an interface
/// on that address's subnet and its gateway on the floating IP's network.
pub(super) fn associate(
    topo: &mut Topology,
    a: &FloatingIpAssociate,
) -> Result<FloatingIpInfo, ApiError> {
    let i = position(topo, &a.id)?;
    let p = port::find(topo, &a.port)?;
    let fixed = match &a.fixed_ip_address {
        Some(ip) => p
            .fixed_ips
            .iter()
            .find(|f| &f.ip_address == ip)
            .ok_or_else(|| ApiError::invalid(format!("{ip} is not a fixed IP of port {}", p.id)))?,
        None => p
            .fixed_ips
            .first()
            .ok_or_else(|| ApiError::invalid(format!("port {} has no fixed IP to map to", p.id)))?,
    };
    let f = &topo.floatingips[i];
    let taken = topo.floatingips.iter().find(|o| {
        o.id != f.id
            && o.port_id.as_deref() == Some(p.id.as_str())
            && o.fixed_ip_address.as_deref() == Some(fixed.ip_address.as_str())
    });
    if let Some(other) = taken {
        return Err(ApiError::conflict(format!(
            "{} of port {} is already mapped to floating IP {}",
            fixed.ip_address, p.id, other.floating_ip_address
        )));
    }
    let router = router_between(topo, &fixed.subnet_id, &f.floating_network_id)?;
    let (port_id, ip) = (p.id.clone(), fixed.ip_address.clone());
    let f = &mut topo.floatingips[i];
    f.port_id = Some(port_id);
    f.fixed_ip_address = Some(ip);
    f.router_id = Some(router);
    Ok(info(f))
}

/// The router with an interface on subnet `subnet_id` and its gateway on `network_id`.
fn router_between(topo: &Topology, subnet_id: &str, network_id: &str) -> Result<String, ApiError> {
    let on_subnet = |router_id: &str| {
        topo.ports.iter().any(|p| {
            p.device_owner == owner::ROUTER_INTERFACE
                && p.device_id == router_id
                && p.fixed_ips.iter().any(|f| f.subnet_id == subnet_id)
        })
    };
    topo.routers
        .iter()
        .find(|r| {
            r.external_gateway
                .as_ref()
                .is_some_and(|g| g.network_id == network_id)
                && on_subnet(&r.id)
        })
        .map(|r| r.id.clone())
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "external network {network_id} is not reachable from subnet {subnet_id}: \
                 no router has an interface on the one and its gateway on the other"
            ))
        })
}

/// Unmaps a floating IP.
pub(super) fn disassociate(topo: &mut Topology, key: &str) -> Result<FloatingIpInfo, ApiError> {
    let i = position(topo, key)?;
    let f = &mut topo.floatingips[i];
    (f.port_id, f.fixed_ip_address, f.router_id) = (None, None, None);
    Ok(info(f))
}

/// Deletes a floating IP and the port holding its address.
pub(super) fn delete(topo: &mut Topology, key: &str) -> Result<Deleted, ApiError> {
    let i = position(topo, key)?;
    let id = topo.floatingips.remove(i).id;
    topo.ports
        .retain(|p| !(p.device_owner == owner::FLOATING_IP && p.device_id == id));
    Ok(deleted(&id))
}
