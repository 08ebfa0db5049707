//! Operations on the model. [`write`] changes a copy of the [`Topology`] that the caller
//! validates and commits only when the whole change is valid; [`read`] answers lists and
//! shows. Checks that need a better error class than "invalid" (unknown names, resources
//! still in use) are made here; every other rule is the config file's, applied afterwards.

mod alloc;
pub(crate) mod conntrack;
mod floatingip;
mod network;
mod peer;
mod port;
mod resolve;
mod router;
mod security_group;
mod subnet;

pub(crate) use network::pin_local_vlans;

use crate::api::{ApiError, Op};
use crate::model::Topology;
use serde::Serialize;
use serde_json::{Map, Value};

/// Applies a changing operation to `topo`; returns the result to send back.
pub fn write(topo: &mut Topology, op: &Op) -> Result<Value, ApiError> {
    match op {
        Op::NetworkCreate(a) => network::create(topo, a),
        Op::NetworkUpdate(a) => network::update(topo, a),
        Op::NetworkDelete(a) => network::delete(topo, &a.id),
        Op::SubnetCreate(a) => subnet::create(topo, a),
        Op::SubnetUpdate(a) => subnet::update(topo, a),
        Op::SubnetDelete(a) => subnet::delete(topo, &a.id),
        Op::PortCreate(a) => port::create(topo, a),
        Op::PortUpdate(a) => port::update(topo, a),
        Op::PortDelete(a) => port::delete(topo, &a.id),
        Op::RouterCreate(a) => router::create(topo, a),
        Op::RouterUpdate(a) => router::update(topo, a),
        Op::RouterDelete(a) => router::delete(topo, &a.id),
        Op::RouterInterfaceAdd(a) => router::interface_add(topo, a),
        Op::RouterInterfaceRemove(a) => router::interface_remove(topo, a),
        Op::RouterGatewaySet(a) => router::gateway_set(topo, a),
        Op::RouterGatewayClear(a) => router::gateway_clear(topo, &a.id),
        Op::FloatingIpCreate(a) => floatingip::create(topo, a),
        Op::FloatingIpAssociate(a) => floatingip::associate(topo, a),
        Op::FloatingIpDisassociate(a) => floatingip::disassociate(topo, &a.id),
        Op::FloatingIpDelete(a) => floatingip::delete(topo, &a.id),
        Op::SecurityGroupCreate(a) => security_group::create(topo, a),
        Op::SecurityGroupUpdate(a) => security_group::update(topo, a),
        Op::SecurityGroupDelete(a) => security_group::delete(topo, &a.id),
        Op::SecurityGroupRuleCreate(a) => security_group::rule_create(topo, a),
        Op::SecurityGroupRuleDelete(a) => security_group::rule_delete(topo, &a.id),
        Op::TunnelPeerCreate(a) => peer::create(topo, a),
        Op::TunnelPeerDelete(a) => peer::delete(topo, &a.id),
        other => read(topo, other),
    }
}

/// Answers a read-only operation on the model (lists and shows; not the views).
pub fn read(topo: &Topology, op: &Op) -> Result<Value, ApiError> {
    match op {
        Op::NetworkList(_) => Ok(list(topo.networks.iter().map(|n| network::json(topo, n)))),
        Op::NetworkShow(a) => Ok(network::json(topo, network::find(topo, &a.id)?)),
        Op::SubnetList(_) => Ok(list(topo.subnets.iter().map(subnet::json))),
        Op::SubnetShow(a) => Ok(subnet::json(subnet::find(topo, &a.id)?)),
        Op::PortList(a) => port::list(topo, a),
        Op::PortShow(a) => Ok(port::json(port::find(topo, &a.id)?)),
        Op::RouterList(_) => Ok(list(topo.routers.iter().map(|r| router::json(topo, r)))),
        Op::RouterShow(a) => Ok(router::json(topo, router::find(topo, &a.id)?)),
        Op::FloatingIpList(_) => Ok(list(topo.floatingips.iter().map(floatingip::json))),
        Op::FloatingIpShow(a) => Ok(floatingip::json(floatingip::find(topo, &a.id)?)),
        Op::SecurityGroupList(_) => Ok(list(topo.security_groups.iter().map(security_group::json))),
        Op::SecurityGroupShow(a) => Ok(security_group::json(security_group::find(topo, &a.id)?)),
        Op::SecurityGroupRuleList(a) => security_group::rule_list(topo, a),
        Op::TunnelPeerList(_) => Ok(peer::list(topo)),
        other => Err(ApiError::internal(format!(
            "{other:?} is not an operation on the model"
        ))),
    }
}

/// A JSON array of `items`.
fn list(items: impl Iterator<Item = Value>) -> Value {
    Value::Array(items.collect())
}

/// `item` as a JSON object (an empty one if it does not serialize to an object).
fn object(item: &impl Serialize) -> Map<String, Value> {
    match serde_json::to_value(item) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// `{"deleted": id}`: the answer to a delete.
fn deleted(id: &str) -> Value {
    serde_json::json!({ "deleted": id })
}
