//! `router.*`: routers, their interfaces and their external gateway. As in Neutron, an
//! interface or gateway is a port whose `device_owner` says so and whose `device_id` is
//! the router's id.

use super::{alloc, deleted, ipam, network, port, resolve, subnet};
use crate::api::{
    ApiError, Deleted, GatewayInfo, InterfaceInfo, RouterAddress, RouterCreate, RouterGatewaySet,
    RouterInfo, RouterInterface, RouterUpdate,
};
use crate::model::{owner, ExternalGateway, FixedIp, Port, Router, Topology};
use crate::naming::qrouter_ns;

/// The router with id or name `key`.
pub(super) fn find<'a>(topo: &'a Topology, key: &str) -> Result<&'a Router, ApiError> {
    let i = position(topo, key)?;
    Ok(&topo.routers[i])
}

/// The index of the router with id or name `key`.
fn position(topo: &Topology, key: &str) -> Result<usize, ApiError> {
    let items = &topo.routers;
    resolve::position(items, key, "router", |r| &r.id, |r| Some(&r.name))
}

/// The ports of router `id` with owner `kind`.
fn ports_of<'a>(topo: &'a Topology, id: &'a str, kind: &'a str) -> impl Iterator<Item = &'a Port> {
    topo.ports
        .iter()
        .filter(move |p| p.device_id == id && p.device_owner == kind)
}

/// The router as shown: its fields, namespace, interfaces and gateway addresses.
pub(super) fn info(topo: &Topology, r: &Router) -> RouterInfo {
    let addresses = |p: &Port| -> Vec<RouterAddress> {
        let ips = p.fixed_ips.iter();
        ips.map(|f| RouterAddress {
            port_id: p.id.clone(),
            subnet_id: f.subnet_id.clone(),
            ip_address: f.ip_address.clone(),
        })
        .collect()
    };
    let interfaces = ports_of(topo, &r.id, owner::ROUTER_INTERFACE).flat_map(addresses);
    let gateway = r.external_gateway.as_ref().map(|g| GatewayInfo {
        network_id: g.network_id.clone(),
        enable_snat: g.enable_snat,
        external_fixed_ips: ports_of(topo, &r.id, owner::ROUTER_GATEWAY)
            .flat_map(addresses)
            .collect(),
    });
    RouterInfo {
        id: r.id.clone(),
        name: r.name.clone(),
        routes: r.routes.clone(),
        namespace: qrouter_ns(&r.id),
        interfaces: interfaces.collect(),
        external_gateway_info: gateway,
    }
}

/// Adds a router.
pub(super) fn create(topo: &mut Topology, a: &RouterCreate) -> Result<RouterInfo, ApiError> {
    topo.routers.push(Router {
        id: alloc::id_or_new(&a.id)?,
        name: a.name.clone(),
        external_gateway: None,
        routes: a.routes.clone(),
    });
    let i = topo.routers.len() - 1;
    Ok(info(topo, &topo.routers[i]))
}

/// Changes name or routes.
pub(super) fn update(topo: &mut Topology, a: &RouterUpdate) -> Result<RouterInfo, ApiError> {
    let i = position(topo, &a.id)?;
    let r = &mut topo.routers[i];
    if let Some(name) = &a.name {
        r.name = name.clone();
    }
    if let Some(routes) = &a.routes {
        r.routes = routes.clone();
    }
    Ok(info(topo, &topo.routers[i]))
}

/// Refuses when floating IPs are mapped through router `id`.
fn no_floating_ips(topo: &Topology, id: &str, what: &str) -> Result<(), ApiError> {
    let fips: Vec<&str> = topo
        .floatingips
        .iter()
        .filter(|f| f.router_id.as_deref() == Some(id))
        .map(|f| f.floating_ip_address.as_str())
        .collect();
    if fips.is_empty() {
        return Ok(());
    }
    Err(ApiError::conflict(format!(
        "{what}: floating IP(s) {} are associated through router {id}; disassociate them first",
        fips.join(", ")
    )))
}

/// Deletes a router without interfaces, with its gateway port.
pub(super) fn delete(topo: &mut Topology, key: &str) -> Result<Deleted, ApiError> {
    let id = find(topo, key)?.id.clone();
    let interfaces: Vec<&str> = ports_of(topo, &id, owner::ROUTER_INTERFACE)
        .map(|p| p.id.as_str())
        .collect();
    if !interfaces.is_empty() {
        return Err(ApiError::conflict(format!(
            "router {id} still has interface port(s) {}; remove them first",
            interfaces.join(", ")
        )));
    }
    no_floating_ips(topo, &id, "router-delete")?;
    topo.ports
        .retain(|p| !(p.device_id == id && p.device_owner == owner::ROUTER_GATEWAY));
    topo.routers.retain(|r| r.id != id);
    Ok(deleted(&id))
}

/// Connects a router to a subnet (a new port holding the subnet's gateway IP) or to an
/// unused port.
pub(super) fn interface_add(
    topo: &mut Topology,
    a: &RouterInterface,
) -> Result<InterfaceInfo, ApiError> {
    let router_id = find(topo, &a.router)?.id.clone();
    let port_id = match (&a.subnet, &a.port) {
        (Some(key), None) => {
            let s = subnet::find(topo, key)?;
            let gateway = s.gateway_ip.clone().ok_or_else(|| {
                ApiError::invalid(format!("subnet {} has no gateway_ip for a router", s.id))
            })?;
            let fixed = FixedIp {
                subnet_id: s.id.clone(),
                ip_address: gateway,
            };
            let network_id = s.network_id.clone();
            let port = port::served(
                alloc::id_or_new(&a.port_id)?,
                alloc::mac_or_new(topo, &network_id, &a.mac_address)?,
                (network_id, vec![fixed]),
                (owner::ROUTER_INTERFACE, &router_id),
            );
            let id = port.id.clone();
            topo.ports.push(port);
            id
        }
        (None, Some(key)) => {
            if a.port_id.is_some() || a.mac_address.is_some() {
                return Err(ApiError::bad_request(
                    "port_id and mac_address only apply when adding by subnet",
                ));
            }
            let i = port::position(topo, key)?;
            let p = &mut topo.ports[i];
            if !p.device_owner.is_empty() || !p.device_id.is_empty() {
                return Err(ApiError::conflict(format!(
                    "port {} is in use by {} {}",
                    p.id, p.device_owner, p.device_id
                )));
            }
            if p.fixed_ips.is_empty() {
                let msg = format!("port {} has no fixed IP", p.id);
                return Err(ApiError::invalid(msg));
            }
            p.device_owner = owner::ROUTER_INTERFACE.to_owned();
            p.device_id = router_id.clone();
            p.binding = None;
            p.security_groups.clear();
            p.id.clone()
        }
        _ => return Err(ApiError::bad_request("give either subnet or port")),
    };
    Ok(InterfaceInfo { router_id, port_id })
}

/// Disconnects a router from a subnet or port: the interface port is deleted.
pub(super) fn interface_remove(
    topo: &mut Topology,
    a: &RouterInterface,
) -> Result<InterfaceInfo, ApiError> {
    let router_id = find(topo, &a.router)?.id.clone();
    let port = {
        let mut ports = ports_of(topo, &router_id, owner::ROUTER_INTERFACE);
        let port = match (&a.subnet, &a.port) {
            (Some(key), None) => {
                let sid = subnet::find(topo, key)?.id.clone();
                ports.find(|p| p.fixed_ips.iter().any(|f| f.subnet_id == sid))
            }
            (None, Some(key)) => {
                let pid = port::find(topo, key)?.id.clone();
                ports.find(|p| p.id == pid)
            }
            _ => return Err(ApiError::bad_request("give either subnet or port")),
        };
        port.cloned()
    };
    let port = port
        .ok_or_else(|| ApiError::not_found(format!("router {router_id} has no such interface")))?;
    let subnets: Vec<&str> = port
        .fixed_ips
        .iter()
        .map(|f| f.subnet_id.as_str())
        .collect();
    let through: Vec<&str> = topo
        .floatingips
        .iter()
        .filter(|f| f.router_id.as_deref() == Some(router_id.as_str()))
        .filter(|f| {
            let mapped = topo
                .ports
                .iter()
                .find(|p| Some(&p.id) == f.port_id.as_ref());
            mapped.is_some_and(|m| m.fixed_ips.iter().any(|x| subnets.contains(&&*x.subnet_id)))
        })
        .map(|f| f.floating_ip_address.as_str())
        .collect();
    if !through.is_empty() {
        return Err(ApiError::conflict(format!(
            "floating IP(s) {} reach this interface's subnet; disassociate them first",
            through.join(", ")
        )));
    }
    topo.ports.retain(|p| p.id != port.id);
    Ok(InterfaceInfo {
        router_id,
        port_id: port.id,
    })
}

/// Sets the external gateway: a gateway port on the external network. On the same
/// network only SNAT changes; on another, the old gateway port is replaced.
pub(super) fn gateway_set(
    topo: &mut Topology,
    a: &RouterGatewaySet,
) -> Result<RouterInfo, ApiError> {
    let i = position(topo, &a.router)?;
    let router_id = topo.routers[i].id.clone();
    let network_id = network::find(topo, &a.network)?.id.clone();
    let enable_snat = a.enable_snat.unwrap_or(true);
    let same = topo.routers[i].external_gateway.as_ref();
    if same.is_some_and(|g| g.network_id == network_id) {
        if a.port_id.is_some() || a.mac_address.is_some() || a.fixed_ips.is_some() {
            return Err(ApiError::conflict(format!(
                "router {router_id} already has its gateway on network {network_id}"
            )));
        }
    } else {
        if topo.routers[i].external_gateway.is_some() {
            no_floating_ips(topo, &router_id, "router-gateway-set")?;
        }
        topo.ports
            .retain(|p| !(p.device_id == router_id && p.device_owner == owner::ROUTER_GATEWAY));
        let port = port::served(
            alloc::id_or_new(&a.port_id)?,
            alloc::mac_or_new(topo, &network_id, &a.mac_address)?,
            (
                network_id.clone(),
                ipam::fixed_ips(topo, &network_id, a.fixed_ips.as_deref())?,
            ),
            (owner::ROUTER_GATEWAY, &router_id),
        );
        topo.ports.push(port);
    }
    topo.routers[i].external_gateway = Some(ExternalGateway {
        network_id,
        enable_snat,
    });
    Ok(info(topo, &topo.routers[i]))
}

/// Clears the external gateway and deletes the gateway port.
pub(super) fn gateway_clear(topo: &mut Topology, key: &str) -> Result<RouterInfo, ApiError> {
    let i = position(topo, key)?;
    let router_id = topo.routers[i].id.clone();
    no_floating_ips(topo, &router_id, "router-gateway-clear")?;
    topo.ports
        .retain(|p| !(p.device_id == router_id && p.device_owner == owner::ROUTER_GATEWAY));
    topo.routers[i].external_gateway = None;
    Ok(info(topo, &topo.routers[i]))
}
