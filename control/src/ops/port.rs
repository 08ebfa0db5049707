//! `port.*`.

use super::{alloc, deleted, ipam, network, resolve, security_group};
use crate::api::{ApiError, Deleted, PortCreate, PortInfo, PortList, PortUpdate};
use crate::model::{owner, FixedIp, Port, Topology};

/// The port with id or name `key`.
pub(super) fn find<'a>(topo: &'a Topology, key: &str) -> Result<&'a Port, ApiError> {
    let i = position(topo, key)?;
    Ok(&topo.ports[i])
}

/// The index of the port with id or name `key`.
pub(super) fn position(topo: &Topology, key: &str) -> Result<usize, ApiError> {
    resolve::position(&topo.ports, key, "port", |p| &p.id, |p| p.name.as_deref())
}

/// The port as shown: its fields and its device name (`tap…`, `qr-…`, `qg-…`).
pub(super) fn info(p: &Port) -> PortInfo {
    PortInfo {
        id: p.id.clone(),
        name: p.name.clone(),
        dns_name: p.dns_name.clone(),
        network_id: p.network_id.clone(),
        mac_address: p.mac_address.clone(),
        fixed_ips: p.fixed_ips.clone(),
        device_owner: p.device_owner.clone(),
        device_id: p.device_id.clone(),
        binding: p.binding.clone(),
        security_groups: p.security_groups.clone(),
        port_security_enabled: p.port_security_enabled,
        allowed_address_pairs: p.allowed_address_pairs.clone(),
        device_name: p.device_name(),
    }
}

/// Every port, or those of one network.
pub(super) fn list(topo: &Topology, a: &PortList) -> Result<Vec<PortInfo>, ApiError> {
    let net = match &a.network {
        Some(key) => Some(network::find(topo, key)?.id.as_str()),
        None => None,
    };
    let ports = topo.ports.iter();
    let ports = ports.filter(|p| net.is_none() || net == Some(p.network_id.as_str()));
    Ok(ports.map(info).collect())
}

/// A port served inside the appliance (router interface or gateway, floating IP holder):
/// `place` is its network and addresses, `user` its owner and device id.
pub(super) fn served(
    id: String,
    mac_address: String,
    place: (String, Vec<FixedIp>),
    user: (&str, &str),
) -> Port {
    Port {
        id,
        name: None,
        network_id: place.0,
        mac_address,
        fixed_ips: place.1,
        device_owner: user.0.to_owned(),
        device_id: user.1.to_owned(),
        binding: None,
        security_groups: Vec::new(),
        port_security_enabled: true,
        allowed_address_pairs: Vec::new(),
        dns_name: None,
    }
}

/// Security group ids for `keys` (ids or names).
fn groups(topo: &Topology, keys: &[String]) -> Result<Vec<String>, ApiError> {
    let ids = keys
        .iter()
        .map(|k| Ok(security_group::find(topo, k)?.id.clone()));
    ids.collect()
}

/// Adds a port; MAC, id and addresses left out are allocated.
pub(super) fn create(topo: &mut Topology, a: &PortCreate) -> Result<PortInfo, ApiError> {
    let network_id = network::find(topo, &a.network)?.id.clone();
    let security = a.port_security_enabled.unwrap_or(true);
    let security_groups = match &a.security_groups {
        Some(keys) => groups(topo, keys)?,
        // Neutron puts a VM port with port security into the tenant's default group.
        None if security && !a.device_owner.starts_with(owner::NETWORK_PREFIX) => {
            security_group::default_group(topo).into_iter().collect()
        }
        None => Vec::new(),
    };
    let p = Port {
        id: alloc::id_or_new(&a.id)?,
        name: a.name.clone(),
        mac_address: alloc::mac_or_new(topo, &network_id, &a.mac_address)?,
        fixed_ips: ipam::fixed_ips(topo, &network_id, a.fixed_ips.as_deref())?,
        network_id,
        device_owner: a.device_owner.clone(),
        device_id: a.device_id.clone(),
        binding: a.binding.clone(),
        security_groups,
        port_security_enabled: security,
        allowed_address_pairs: a.allowed_address_pairs.clone(),
        dns_name: a.dns_name.clone(),
    };
    let out = info(&p);
    topo.ports.push(p);
    Ok(out)
}

/// Changes the fields given.
pub(super) fn update(topo: &mut Topology, a: &PortUpdate) -> Result<PortInfo, ApiError> {
    let i = position(topo, &a.id)?;
    if a.no_binding && a.binding.is_some() {
        return Err(ApiError::bad_request(
            "binding and no_binding exclude each other",
        ));
    }
    let network_id = topo.ports[i].network_id.clone();
    let fixed_ips = match &a.fixed_ips {
        Some(reqs) => {
            // The port's own addresses are free for it to keep.
            let mut others = topo.clone();
            others.ports[i].fixed_ips.clear();
            Some(ipam::fixed_ips(&others, &network_id, Some(reqs))?)
        }
        None => None,
    };
    let groups = match &a.security_groups {
        Some(keys) => Some(groups(topo, keys)?),
        None => None,
    };
    let p = &mut topo.ports[i];
    if let Some(name) = &a.name {
        p.name = Some(name.clone());
    }
    if let Some(mac) = &a.mac_address {
        p.mac_address = mac.clone();
    }
    if let Some(ips) = fixed_ips {
        p.fixed_ips = ips;
    }
    if let Some(o) = &a.device_owner {
        p.device_owner = o.clone();
    }
    if let Some(d) = &a.device_id {
        p.device_id = d.clone();
    }
    if a.no_binding {
        p.binding = None;
    } else if a.binding.is_some() {
        p.binding = a.binding.clone();
    }
    if let Some(g) = groups {
        p.security_groups = g;
    }
    if let Some(s) = a.port_security_enabled {
        p.port_security_enabled = s;
    }
    if let Some(pairs) = &a.allowed_address_pairs {
        p.allowed_address_pairs = pairs.clone();
    }
    if a.dns_name.is_some() {
        p.dns_name = a.dns_name.clone();
    }
    Ok(info(p))
}

/// Deletes a port; floating IPs mapped to it are disassociated. Router and floating IP
/// ports go with their router interface, gateway or floating IP instead.
pub(super) fn delete(topo: &mut Topology, key: &str) -> Result<Deleted, ApiError> {
    let i = position(topo, key)?;
    let p = &topo.ports[i];
    let how = match p.device_owner.as_str() {
        owner::ROUTER_INTERFACE => Some("router-interface-delete"),
        owner::ROUTER_GATEWAY => Some("router-gateway-clear"),
        owner::FLOATING_IP => Some("floatingip-delete"),
        _ => None,
    };
    if let Some(how) = how {
        return Err(ApiError::conflict(format!(
            "port {} is owned by {} {}: use {how}",
            p.id, p.device_owner, p.device_id
        )));
    }
    let id = p.id.clone();
    for f in topo.floatingips.iter_mut() {
        if f.port_id.as_deref() == Some(id.as_str()) {
            (f.port_id, f.fixed_ip_address, f.router_id) = (None, None, None);
        }
    }
    topo.ports.remove(i);
    Ok(deleted(&id))
}
