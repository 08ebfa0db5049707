//! `tunnel_peer.*`: the GRE endpoints of the compute nodes (`gre-<address in hex>`).

use super::{deleted, resolve};
use crate::api::{ApiError, Deleted, TunnelPeerCreate, TunnelPeerInfo};
use crate::model::{Binding, Topology, TunnelPeer, UplinkRole};

/// The peer as listed: its GRE port name and options (`local_ip` is the underlay's).
fn info(topo: &Topology, p: &TunnelPeer) -> TunnelPeerInfo {
    let local = topo.uplinks.iter().find_map(|u| match &u.role {
        UplinkRole::Underlay { local_ip, .. } => local_ip.split('/').next(),
        _ => None,
    });
    TunnelPeerInfo {
        name: p.name(),
        remote_ip: p.remote_ip.clone(),
        local_ip: local.map(str::to_owned),
        in_key: "flow".to_owned(),
        out_key: "flow".to_owned(),
    }
}

/// Every peer with its GRE port name and options.
pub(super) fn list(topo: &Topology) -> Vec<TunnelPeerInfo> {
    topo.tunnel_peers.iter().map(|p| info(topo, p)).collect()
}

/// Adds a peer.
pub(super) fn create(
    topo: &mut Topology,
    a: &TunnelPeerCreate,
) -> Result<TunnelPeerInfo, ApiError> {
    let peer = TunnelPeer {
        remote_ip: a.remote_ip.clone(),
    };
    let out = info(topo, &peer);
    topo.tunnel_peers.push(peer);
    Ok(out)
}

/// Removes a peer (by address or GRE port name) no port is bound to.
pub(super) fn delete(topo: &mut Topology, key: &str) -> Result<Deleted, ApiError> {
    let i = resolve::position(
        &topo.tunnel_peers,
        key,
        "tunnel peer",
        |p| &p.remote_ip,
        |_| None,
    )
    .or_else(|_| {
        let names: Vec<Option<String>> = topo.tunnel_peers.iter().map(TunnelPeer::name).collect();
        let by_name = names.iter().position(|n| n.as_deref() == Some(key));
        by_name.ok_or_else(|| {
            ApiError::not_found(format!("no tunnel peer has address or name {key:?}"))
        })
    })?;
    let ip = topo.tunnel_peers[i].remote_ip.clone();
    let bound: Vec<&str> = topo
        .ports
        .iter()
        .filter(|p| matches!(&p.binding, Some(Binding::Peer(b)) if *b == ip))
        .map(|p| p.id.as_str())
        .collect();
    if !bound.is_empty() {
        return Err(ApiError::conflict(format!(
            "port(s) {} are bound to tunnel peer {ip}",
            bound.join(", ")
        )));
    }
    topo.tunnel_peers.remove(i);
    Ok(deleted(&ip))
}
