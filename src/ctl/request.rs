//! The request each command makes, and how its answer is printed.

use crate::cmd::*;
use crate::print::How;
use control::api::{self, Op};
use control::model::{Binding, Direction, EtherType};

/// Columns of the lists.
const NET_COLUMNS: &[&str] = &["id", "name", "subnets"];
const SUBNET_COLUMNS: &[&str] = &["id", "name", "cidr", "allocation_pools"];
const PORT_COLUMNS: &[&str] = &["id", "name", "mac_address", "fixed_ips"];
const ROUTER_COLUMNS: &[&str] = &["id", "name", "external_gateway_info"];
const FIP_COLUMNS: &[&str] = &["id", "fixed_ip_address", "floating_ip_address", "port_id"];
const SG_COLUMNS: &[&str] = &["id", "name", "tenant_id"];
const RULE_COLUMNS: &[&str] = &[
    "id",
    "security_group",
    "direction",
    "ethertype",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
    "remote_group_id",
];
const PEER_COLUMNS: &[&str] = &["name", "remote_ip", "local_ip", "in_key", "out_key"];

/// `SUBNET`, `subnet=SUBNET` or `port=PORT` as (subnet, port).
fn interface(s: &str) -> (Option<String>, Option<String>) {
    match s.split_once('=') {
        Some(("port", p)) => (None, Some(p.to_owned())),
        Some(("subnet", sn)) => (Some(sn.to_owned()), None),
        _ => (Some(s.to_owned()), None),
    }
}

/// The `Target` of an id.
fn target(id: &str) -> api::Target {
    api::Target { id: id.to_owned() }
}

impl Command {
    /// The request this command makes, and how to print the answer.
    pub fn into_request(self) -> Result<(Op, How), String> {
        use Command as C;
        let deleted = |kind, t: &Target| (How::Deleted(kind, t.id.clone()), target(&t.id));
        Ok(match self {
            C::NetCreate(a) => (
                Op::NetworkCreate(api::NetworkCreate {
                    id: a.id,
                    name: a.name,
                    tenant_id: a.tenant_id,
                    segmentation_id: a.segmentation_id,
                    router_external: a.router_external,
                    mtu: a.mtu,
                    local_vlan: a.local_vlan,
                }),
                How::Created("network"),
            ),
            C::NetList => (Op::NetworkList(api::NoArgs {}), How::List(NET_COLUMNS)),
            C::NetShow(t) => (Op::NetworkShow(target(&t.id)), How::Show),
            C::NetUpdate(a) => (
                Op::NetworkUpdate(api::NetworkUpdate {
                    id: a.id.clone(),
                    name: a.name,
                    mtu: a.mtu,
                    router_external: a.router_external,
                }),
                How::Updated("network", a.id),
            ),
            C::NetDelete(t) => {
                let (how, t) = deleted("network", &t);
                (Op::NetworkDelete(t), how)
            }
            C::SubnetCreate(a) => (
                Op::SubnetCreate(api::SubnetCreate {
                    id: a.id,
                    name: a.name.unwrap_or_default(),
                    network: a.network,
                    cidr: a.cidr,
                    gateway_ip: a.options.gateway.clone(),
                    no_gateway: a.options.no_gateway,
                    allocation_pools: a.options.allocation_pool.clone(),
                    enable_dhcp: a.options.dhcp(),
                    dns_nameservers: a.options.dns_nameserver.clone(),
                    host_routes: a.options.host_route.clone(),
                    dns_domain: None,
                    dhcp_lease_duration: None,
                }),
                How::Created("subnet"),
            ),
            C::SubnetList => (Op::SubnetList(api::NoArgs {}), How::List(SUBNET_COLUMNS)),
            C::SubnetShow(t) => (Op::SubnetShow(target(&t.id)), How::Show),
            C::SubnetUpdate(a) => {
                let o = &a.options;
                let some = |v: &Vec<_>| Some(v.clone()).filter(|v: &Vec<_>| !v.is_empty());
                (
                    Op::SubnetUpdate(api::SubnetUpdate {
                        id: a.id.clone(),
                        name: a.name,
                        gateway_ip: o.gateway.clone(),
                        no_gateway: o.no_gateway,
                        allocation_pools: some(&o.allocation_pool),
                        enable_dhcp: o.dhcp(),
                        dns_nameservers: Some(o.dns_nameserver.clone()).filter(|v| !v.is_empty()),
                        host_routes: Some(o.host_route.clone()).filter(|v| !v.is_empty()),
                        dns_domain: None,
                        dhcp_lease_duration: None,
                    }),
                    How::Updated("subnet", a.id),
                )
            }
            C::SubnetDelete(t) => {
                let (how, t) = deleted("subnet", &t);
                (Op::SubnetDelete(t), how)
            }
            C::PortCreate(a) => {
                let o = a.options;
                (
                    Op::PortCreate(api::PortCreate {
                        id: a.id,
                        name: o.name.clone(),
                        network: a.network,
                        mac_address: o.mac_address.clone(),
                        fixed_ips: o.fixed_ips(),
                        device_owner: o.device_owner.clone().unwrap_or_default(),
                        device_id: o.device_id.clone().unwrap_or_default(),
                        binding: o.binding_peer.clone().map(Binding::Peer),
                        security_groups: o.groups(),
                        port_security_enabled: o.port_security_enabled,
                        allowed_address_pairs: o.allowed_address_pair.clone(),
                        dns_name: o.dns_name.clone(),
                    }),
                    How::Created("port"),
                )
            }
            C::PortList(a) => (
                Op::PortList(api::PortList { network: a.network }),
                How::List(PORT_COLUMNS),
            ),
            C::PortShow(t) => (Op::PortShow(target(&t.id)), How::Show),
            C::PortUpdate(a) => {
                let o = a.options;
                let pairs = Some(o.allowed_address_pair.clone()).filter(|v| !v.is_empty());
                (
                    Op::PortUpdate(api::PortUpdate {
                        id: a.id.clone(),
                        name: o.name.clone(),
                        mac_address: o.mac_address.clone(),
                        fixed_ips: o.fixed_ips(),
                        device_owner: o.device_owner.clone(),
                        device_id: o.device_id.clone(),
                        binding: o.binding_peer.clone().map(Binding::Peer),
                        no_binding: a.no_binding,
                        security_groups: o.groups(),
                        port_security_enabled: o.port_security_enabled,
                        allowed_address_pairs: pairs,
                        dns_name: o.dns_name.clone(),
                    }),
                    How::Updated("port", a.id),
                )
            }
            C::PortDelete(t) => {
                let (how, t) = deleted("port", &t);
                (Op::PortDelete(t), how)
            }
            C::RouterCreate(a) => (
                Op::RouterCreate(api::RouterCreate {
                    id: a.id,
                    name: a.name,
                    routes: a.route,
                }),
                How::Created("router"),
            ),
            C::RouterList => (Op::RouterList(api::NoArgs {}), How::List(ROUTER_COLUMNS)),
            C::RouterShow(t) => (Op::RouterShow(target(&t.id)), How::Show),
            C::RouterUpdate(a) => {
                let routes = match (a.no_routes, a.route.is_empty()) {
                    (true, _) => Some(Vec::new()),
                    (false, true) => None,
                    (false, false) => Some(a.route),
                };
                (
                    Op::RouterUpdate(api::RouterUpdate {
                        id: a.id.clone(),
                        name: a.name,
                        routes,
                    }),
                    How::Updated("router", a.id),
                )
            }
            C::RouterDelete(t) => {
                let (how, t) = deleted("router", &t);
                (Op::RouterDelete(t), how)
            }
            C::RouterInterfaceAdd(a) => {
                let (subnet, port) = interface(&a.interface);
                let msg = format!("Added interface to router {}.", a.router);
                (
                    Op::RouterInterfaceAdd(api::RouterInterface {
                        router: a.router,
                        subnet,
                        port,
                        port_id: a.port_id,
                        mac_address: a.mac_address,
                    }),
                    How::Message(msg),
                )
            }
            C::RouterInterfaceDelete(a) => {
                if a.port_id.is_some() || a.mac_address.is_some() {
                    return Err("--port-id and --mac-address apply to router-interface-add".into());
                }
                let (subnet, port) = interface(&a.interface);
                let msg = format!("Removed interface from router {}.", a.router);
                (
                    Op::RouterInterfaceRemove(api::RouterInterface {
                        router: a.router,
                        subnet,
                        port,
                        port_id: None,
                        mac_address: None,
                    }),
                    How::Message(msg),
                )
            }
            C::RouterGatewaySet(a) => {
                let msg = format!("Set gateway for router {}", a.router);
                (
                    Op::RouterGatewaySet(api::RouterGatewaySet {
                        router: a.router,
                        network: a.network,
                        enable_snat: Some(!a.disable_snat),
                        port_id: a.port_id,
                        mac_address: a.mac_address,
                        fixed_ips: Some(a.fixed_ip).filter(|f| !f.is_empty()),
                    }),
                    How::Message(msg),
                )
            }
            C::RouterGatewayClear(a) => {
                let msg = format!("Removed gateway from router {}", a.router);
                (Op::RouterGatewayClear(target(&a.router)), How::Message(msg))
            }
            C::FloatingipCreate(a) => (
                Op::FloatingIpCreate(api::FloatingIpCreate {
                    id: a.id,
                    floating_network: a.network,
                    floating_ip_address: a.floating_ip_address,
                    port: a.port_id,
                    fixed_ip_address: a.fixed_ip_address,
                    fip_port_id: a.fip_port_id,
                    fip_mac_address: a.fip_mac_address,
                }),
                How::Created("floatingip"),
            ),
            C::FloatingipAssociate(a) => {
                let msg = format!("Associated floating IP {}", a.id);
                (
                    Op::FloatingIpAssociate(api::FloatingIpAssociate {
                        id: a.id,
                        port: a.port,
                        fixed_ip_address: a.fixed_ip_address,
                    }),
                    How::Message(msg),
                )
            }
            C::FloatingipDisassociate(t) => {
                let msg = format!("Disassociated floating IP {}", t.id);
                (Op::FloatingIpDisassociate(target(&t.id)), How::Message(msg))
            }
            C::FloatingipDelete(t) => {
                let (how, t) = deleted("floatingip", &t);
                (Op::FloatingIpDelete(t), how)
            }
            C::FloatingipList => (Op::FloatingIpList(api::NoArgs {}), How::List(FIP_COLUMNS)),
            C::FloatingipShow(t) => (Op::FloatingIpShow(target(&t.id)), How::Show),
            C::SecurityGroupCreate(a) => (
                Op::SecurityGroupCreate(api::SecurityGroupCreate {
                    id: a.id,
                    name: a.name,
                    tenant_id: a.tenant_id,
                }),
                How::Created("security_group"),
            ),
            C::SecurityGroupList => (Op::SecurityGroupList(api::NoArgs {}), How::List(SG_COLUMNS)),
            C::SecurityGroupShow(t) => (Op::SecurityGroupShow(target(&t.id)), How::Show),
            C::SecurityGroupUpdate(a) => (
                Op::SecurityGroupUpdate(api::SecurityGroupUpdate {
                    id: a.id.clone(),
                    name: a.name,
                }),
                How::Updated("security_group", a.id),
            ),
            C::SecurityGroupDelete(t) => {
                let (how, t) = deleted("security_group", &t);
                (Op::SecurityGroupDelete(t), how)
            }
            C::SecurityGroupRuleCreate(a) => (
                Op::SecurityGroupRuleCreate(api::RuleCreate {
                    id: a.id,
                    security_group: a.security_group,
                    direction: match a.direction {
                        DirectionArg::Ingress => Direction::Ingress,
                        DirectionArg::Egress => Direction::Egress,
                    },
                    ethertype: match a.ethertype {
                        EtherTypeArg::IPv4 => EtherType::IPv4,
                        EtherTypeArg::IPv6 => EtherType::IPv6,
                    },
                    protocol: a.protocol,
                    port_range_min: a.port_range_min,
                    port_range_max: a.port_range_max,
                    remote_ip_prefix: a.remote_ip_prefix,
                    remote_group: a.remote_group_id,
                }),
                How::Created("security_group_rule"),
            ),
            C::SecurityGroupRuleDelete(t) => {
                let (how, t) = deleted("security_group_rule", &t);
                (Op::SecurityGroupRuleDelete(t), how)
            }
            C::SecurityGroupRuleList(a) => (
                Op::SecurityGroupRuleList(api::RuleList {
                    security_group: a.security_group,
                }),
                How::List(RULE_COLUMNS),
            ),
            C::TunnelPeerCreate(a) => (
                Op::TunnelPeerCreate(api::TunnelPeerCreate {
                    remote_ip: a.remote_ip,
                }),
                How::Created("tunnel_peer"),
            ),
            C::TunnelPeerList => (Op::TunnelPeerList(api::NoArgs {}), How::List(PEER_COLUMNS)),
            C::TunnelPeerDelete(t) => {
                let (how, t) = deleted("tunnel_peer", &t);
                (Op::TunnelPeerDelete(t), how)
            }
            C::Hello => (Op::Hello(api::NoArgs {}), How::Custom(crate::print::hello)),
            C::Show => (Op::Show(api::NoArgs {}), How::Text),
            C::Netns => (Op::Netns(api::NoArgs {}), How::Netns),
            C::DumpFlows => (Op::DumpFlows(api::NoArgs {}), How::Flows),
            C::Stats => (Op::Stats(api::NoArgs {}), How::Stats),
            C::SecurityGroupChains => (Op::SecurityGroupChains(api::NoArgs {}), How::Chains),
            C::Capture(_) => return Err("capture streams frames; it is no single request".into()),
            C::Conntrack(c) => c.into_request(),
            C::Neighbour(c) => c.into_request(),
            C::Trace(c) => c.into_request(),
        })
    }
}
