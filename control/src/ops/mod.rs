//! Operations on the model. [`write`] changes a copy of the [`Topology`] that the caller
//! validates and commits only when the whole change is valid; [`read`] answers lists and
//! shows. Checks that need a better error class than "invalid" (unknown names, resources
//! still in use) are made here; every other rule is the config file's, applied afterwards.

mod alloc;
pub(crate) mod conntrack;
mod floatingip;
mod ipam;
mod network;
mod peer;
mod port;
mod resolve;
mod router;
mod security_group;
mod subnet;
pub(crate) mod trace;

pub(crate) use network::pin_local_vlans;

use crate::api::{ApiError, Deleted, Op, Reply};
use crate::model::Topology;

/// Applies a changing operation to `topo`; returns the result to send back.
pub fn write(topo: &mut Topology, op: &Op) -> Result<Reply, ApiError> {
    use Reply as R;
    Ok(match op {
        Op::NetworkCreate(a) => R::Network(network::create(topo, a)?),
        Op::NetworkUpdate(a) => R::Network(network::update(topo, a)?),
        Op::NetworkDelete(a) => R::Deleted(network::delete(topo, &a.id)?),
        Op::SubnetCreate(a) => R::Subnet(subnet::create(topo, a)?),
        Op::SubnetUpdate(a) => R::Subnet(subnet::update(topo, a)?),
        Op::SubnetDelete(a) => R::Deleted(subnet::delete(topo, &a.id)?),
        Op::PortCreate(a) => R::Port(port::create(topo, a)?),
        Op::PortUpdate(a) => R::Port(port::update(topo, a)?),
        Op::PortDelete(a) => R::Deleted(port::delete(topo, &a.id)?),
        Op::RouterCreate(a) => R::Router(router::create(topo, a)?),
        Op::RouterUpdate(a) => R::Router(router::update(topo, a)?),
        Op::RouterDelete(a) => R::Deleted(router::delete(topo, &a.id)?),
        Op::RouterInterfaceAdd(a) => R::Interface(router::interface_add(topo, a)?),
        Op::RouterInterfaceRemove(a) => R::Interface(router::interface_remove(topo, a)?),
        Op::RouterGatewaySet(a) => R::Router(router::gateway_set(topo, a)?),
        Op::RouterGatewayClear(a) => R::Router(router::gateway_clear(topo, &a.id)?),
        Op::FloatingIpCreate(a) => R::FloatingIp(floatingip::create(topo, a)?),
        Op::FloatingIpAssociate(a) => R::FloatingIp(floatingip::associate(topo, a)?),
        Op::FloatingIpDisassociate(a) => R::FloatingIp(floatingip::disassociate(topo, &a.id)?),
        Op::FloatingIpDelete(a) => R::Deleted(floatingip::delete(topo, &a.id)?),
        Op::SecurityGroupCreate(a) => R::SecurityGroup(security_group::create(topo, a)?),
        Op::SecurityGroupUpdate(a) => R::SecurityGroup(security_group::update(topo, a)?),
        Op::SecurityGroupDelete(a) => R::Deleted(security_group::delete(topo, &a.id)?),
        Op::SecurityGroupRuleCreate(a) => R::Rule(security_group::rule_create(topo, a)?),
        Op::SecurityGroupRuleDelete(a) => R::Deleted(security_group::rule_delete(topo, &a.id)?),
        Op::TunnelPeerCreate(a) => R::TunnelPeer(peer::create(topo, a)?),
        Op::TunnelPeerDelete(a) => R::Deleted(peer::delete(topo, &a.id)?),
        other => return read(topo, other),
    })
}

/// Answers a read-only operation on the model (lists and shows; not the views).
pub fn read(topo: &Topology, op: &Op) -> Result<Reply, ApiError> {
    use Reply as R;
    Ok(match op {
        Op::NetworkList(_) => R::Networks(
            topo.networks
                .iter()
                .map(|n| network::info(topo, n))
                .collect(),
        ),
        Op::NetworkShow(a) => R::Network(network::info(topo, network::find(topo, &a.id)?)),
        Op::SubnetList(_) => R::Subnets(topo.subnets.iter().map(subnet::info).collect()),
        Op::SubnetShow(a) => R::Subnet(subnet::info(subnet::find(topo, &a.id)?)),
        Op::PortList(a) => R::Ports(port::list(topo, a)?),
        Op::PortShow(a) => R::Port(port::info(port::find(topo, &a.id)?)),
        Op::RouterList(_) => {
            R::Routers(topo.routers.iter().map(|r| router::info(topo, r)).collect())
        }
        Op::RouterShow(a) => R::Router(router::info(topo, router::find(topo, &a.id)?)),
        Op::FloatingIpList(_) => {
            R::FloatingIps(topo.floatingips.iter().map(floatingip::info).collect())
        }
        Op::FloatingIpShow(a) => R::FloatingIp(floatingip::info(floatingip::find(topo, &a.id)?)),
        Op::SecurityGroupList(_) => R::SecurityGroups(
            topo.security_groups
                .iter()
                .map(security_group::info)
                .collect(),
        ),
        Op::SecurityGroupShow(a) => {
            R::SecurityGroup(security_group::info(security_group::find(topo, &a.id)?))
        }
        Op::SecurityGroupRuleList(a) => R::Rules(security_group::rule_list(topo, a)?),
        Op::TunnelPeerList(_) => R::TunnelPeers(peer::list(topo)),
        other => {
            return Err(ApiError::internal(format!(
                "{other:?} is not an operation on the model"
            )))
        }
    })
}

/// The answer to a delete.
fn deleted(id: &str) -> Deleted {
    Deleted {
        deleted: id.to_owned(),
    }
}
