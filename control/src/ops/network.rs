//! `network.*`.

use super::{alloc, deleted, resolve};
use crate::api::{ApiError, Deleted, NetworkCreate, NetworkInfo, NetworkUpdate};
use crate::model::{Network, Topology};
use crate::naming::qdhcp_ns;

/// The network with id or name `key`.
pub(super) fn find<'a>(topo: &'a Topology, key: &str) -> Result<&'a Network, ApiError> {
    let i = position(topo, key)?;
    Ok(&topo.networks[i])
}

/// The index of the network with id or name `key`.
fn position(topo: &Topology, key: &str) -> Result<usize, ApiError> {
    let items = &topo.networks;
    resolve::position(items, key, "network", |n| &n.id, |n| Some(&n.name))
}

/// The network as shown: its fields, its subnets, and the tag and MTU in effect.
pub(super) fn info(topo: &Topology, n: &Network) -> NetworkInfo {
    let dhcp = topo.subnets_of(&n.id).any(|s| s.enable_dhcp);
    NetworkInfo {
        id: n.id.clone(),
        name: n.name.clone(),
        tenant_id: n.tenant_id.clone(),
        segmentation_id: n.segmentation_id,
        router_external: n.router_external,
        mtu: n.effective_mtu(),
        local_vlan: topo.local_vlan_of(&n.id),
        subnets: topo.subnets_of(&n.id).map(|s| s.id.clone()).collect(),
        namespace: dhcp.then(|| qdhcp_ns(&n.id)),
    }
}

/// Adds a network; its local VLAN tag is fixed at creation so that it stays the same
/// whatever networks come and go later.
pub(super) fn create(topo: &mut Topology, a: &NetworkCreate) -> Result<NetworkInfo, ApiError> {
    let n = Network {
        id: alloc::id_or_new(&a.id)?,
        name: a.name.clone(),
        tenant_id: a.tenant_id.clone(),
        segmentation_id: a.segmentation_id,
        router_external: a.router_external,
        mtu: a.mtu,
        local_vlan: a.local_vlan,
    };
    topo.networks.push(n);
    pin_local_vlans(topo);
    let i = topo.networks.len() - 1;
    Ok(info(topo, &topo.networks[i]))
}

/// Gives every network without a configured tag the tag it is allocated now.
pub(crate) fn pin_local_vlans(topo: &mut Topology) {
    let tags = topo.local_vlans();
    for (n, tag) in topo.networks.iter_mut().zip(tags) {
        if n.local_vlan.is_none() {
            n.local_vlan = tag;
        }
    }
}

/// Changes name, MTU or the external flag.
pub(super) fn update(topo: &mut Topology, a: &NetworkUpdate) -> Result<NetworkInfo, ApiError> {
    let i = position(topo, &a.id)?;
    let n = &mut topo.networks[i];
    if let Some(name) = &a.name {
        n.name = name.clone();
    }
    if a.mtu.is_some() {
        n.mtu = a.mtu;
    }
    if let Some(ext) = a.router_external {
        n.router_external = ext;
    }
    Ok(info(topo, &topo.networks[i]))
}

/// Deletes a network without ports, with its subnets.
pub(super) fn delete(topo: &mut Topology, key: &str) -> Result<Deleted, ApiError> {
    let i = position(topo, key)?;
    let id = topo.networks[i].id.clone();
    let ports: Vec<&str> = topo
        .ports
        .iter()
        .filter(|p| p.network_id == id)
        .map(|p| p.id.as_str())
        .collect();
    if !ports.is_empty() {
        return Err(ApiError::conflict(format!(
            "network {id} still has {} port(s): {}; delete them first",
            ports.len(),
            ports.join(", ")
        )));
    }
    topo.subnets.retain(|s| s.network_id != id);
    topo.networks.remove(i);
    Ok(deleted(&id))
}
