//! The operations and their arguments. Wherever an argument names an existing resource,
//! its id or its name is accepted (an ambiguous name is an error); floating IPs are also
//! known by their address and tunnel peers by their GRE port name.

use super::TraceAdd;
use crate::model::{AddressPair, AllocationPool, Binding, Direction, EtherType, Route};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Every operation of the control socket, by its wire name (`"op"`), with its `"args"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "op", content = "args")]
pub enum Op {
    /// The API version and the daemon's version.
    #[serde(rename = "hello")]
    Hello(NoArgs),
    /// Creates a network.
    #[serde(rename = "network.create")]
    NetworkCreate(NetworkCreate),
    /// Changes a network.
    #[serde(rename = "network.update")]
    NetworkUpdate(NetworkUpdate),
    /// Deletes a network and its subnets; refused while ports use it.
    #[serde(rename = "network.delete")]
    NetworkDelete(Target),
    /// Lists networks.
    #[serde(rename = "network.list")]
    NetworkList(NoArgs),
    /// One network.
    #[serde(rename = "network.show")]
    NetworkShow(Target),
    /// Creates a subnet.
    #[serde(rename = "subnet.create")]
    SubnetCreate(SubnetCreate),
    /// Changes a subnet.
    #[serde(rename = "subnet.update")]
    SubnetUpdate(SubnetUpdate),
    /// Deletes a subnet; refused while ports have addresses on it.
    #[serde(rename = "subnet.delete")]
    SubnetDelete(Target),
    /// Lists subnets.
    #[serde(rename = "subnet.list")]
    SubnetList(NoArgs),
    /// One subnet.
    #[serde(rename = "subnet.show")]
    SubnetShow(Target),
    /// Creates a port.
    #[serde(rename = "port.create")]
    PortCreate(PortCreate),
    /// Changes a port.
    #[serde(rename = "port.update")]
    PortUpdate(PortUpdate),
    /// Deletes a port (floating IPs on it are disassociated).
    #[serde(rename = "port.delete")]
    PortDelete(Target),
    /// Lists ports.
    #[serde(rename = "port.list")]
    PortList(PortList),
    /// One port.
    #[serde(rename = "port.show")]
    PortShow(Target),
    /// Creates a router.
    #[serde(rename = "router.create")]
    RouterCreate(RouterCreate),
    /// Changes a router.
    #[serde(rename = "router.update")]
    RouterUpdate(RouterUpdate),
    /// Deletes a router (and its gateway port); refused while it has interfaces.
    #[serde(rename = "router.delete")]
    RouterDelete(Target),
    /// Lists routers.
    #[serde(rename = "router.list")]
    RouterList(NoArgs),
    /// One router.
    #[serde(rename = "router.show")]
    RouterShow(Target),
    /// Connects a router to a subnet (a new port with the subnet's gateway IP) or to an
    /// existing port.
    #[serde(rename = "router.interface_add")]
    RouterInterfaceAdd(RouterInterface),
    /// Disconnects a router from a subnet or port (the interface port is deleted).
    #[serde(rename = "router.interface_remove")]
    RouterInterfaceRemove(RouterInterface),
    /// Sets a router's external gateway (a gateway port on the external network).
    #[serde(rename = "router.gateway_set")]
    RouterGatewaySet(RouterGatewaySet),
    /// Clears a router's external gateway.
    #[serde(rename = "router.gateway_clear")]
    RouterGatewayClear(Target),
    /// Creates a floating IP (and the port that holds its address).
    #[serde(rename = "floatingip.create")]
    FloatingIpCreate(FloatingIpCreate),
    /// Maps a floating IP to a port's fixed IP.
    #[serde(rename = "floatingip.associate")]
    FloatingIpAssociate(FloatingIpAssociate),
    /// Unmaps a floating IP.
    #[serde(rename = "floatingip.disassociate")]
    FloatingIpDisassociate(Target),
    /// Deletes a floating IP and its port.
    #[serde(rename = "floatingip.delete")]
    FloatingIpDelete(Target),
    /// Lists floating IPs.
    #[serde(rename = "floatingip.list")]
    FloatingIpList(NoArgs),
    /// One floating IP.
    #[serde(rename = "floatingip.show")]
    FloatingIpShow(Target),
    /// Creates a security group (with an egress rule allowing everything, as Neutron).
    #[serde(rename = "security_group.create")]
    SecurityGroupCreate(SecurityGroupCreate),
    /// Renames a security group.
    #[serde(rename = "security_group.update")]
    SecurityGroupUpdate(SecurityGroupUpdate),
    /// Deletes a security group; refused while ports or other groups' rules use it.
    #[serde(rename = "security_group.delete")]
    SecurityGroupDelete(Target),
    /// Lists security groups.
    #[serde(rename = "security_group.list")]
    SecurityGroupList(NoArgs),
    /// One security group with its rules.
    #[serde(rename = "security_group.show")]
    SecurityGroupShow(Target),
    /// Adds a rule to a security group.
    #[serde(rename = "security_group_rule.create")]
    SecurityGroupRuleCreate(RuleCreate),
    /// Deletes a rule, by id.
    #[serde(rename = "security_group_rule.delete")]
    SecurityGroupRuleDelete(Target),
    /// Lists rules, of every group or of one.
    #[serde(rename = "security_group_rule.list")]
    SecurityGroupRuleList(RuleList),
    /// Adds a GRE tunnel peer.
    #[serde(rename = "tunnel_peer.create")]
    TunnelPeerCreate(TunnelPeerCreate),
    /// Removes a tunnel peer; refused while ports are bound to it.
    #[serde(rename = "tunnel_peer.delete")]
    TunnelPeerDelete(Target),
    /// Lists tunnel peers.
    #[serde(rename = "tunnel_peer.list")]
    TunnelPeerList(NoArgs),
    /// Bridges and ports with their derived names, as `ovs-vsctl show` lists them.
    #[serde(rename = "show")]
    Show(NoArgs),
    /// The namespaces the node would have: `qrouter-<id>`, `qdhcp-<id>`.
    #[serde(rename = "netns")]
    Netns(NoArgs),
    /// The data plane's tables with their counters (the MAC table, br-tun table 20).
    #[serde(rename = "dump_flows")]
    DumpFlows(NoArgs),
    /// Counters per device (as ifconfig) and per drop reason.
    #[serde(rename = "stats")]
    Stats(NoArgs),
    /// Every filtered port's chains (`neutron-openvswi-i…`, `-o…`, `-s…`) with hit counts.
    #[serde(rename = "security_group.chains")]
    SecurityGroupChains(NoArgs),
    /// Streams copies of the frames of devices (`vrouterctl capture`): see
    /// [`crate::capture`]; the server answers it, the stream ends the connection.
    #[serde(rename = "capture")]
    Capture(crate::capture::CaptureArgs),
    /// Connection tracking sessions, as `conntrack -L` lists them (of one router or zone).
    #[serde(rename = "conntrack.list")]
    ConntrackList(ConntrackList),
    /// Removes the sessions in every worker, as `conntrack -F` (of one router).
    #[serde(rename = "conntrack.flush")]
    ConntrackFlush(RouterScope),
    /// Removes the learned (not static) neighbour entries, which ARP resolves again.
    #[serde(rename = "neighbour.flush")]
    NeighbourFlush(RouterScope),
    /// Traces the next frames each worker receives through the data path's nodes.
    #[serde(rename = "trace.add")]
    TraceAdd(TraceAdd),
    /// The steps the traced frames took since the last `trace.add`.
    #[serde(rename = "trace.show")]
    TraceShow(NoArgs),
}

impl Op {
    /// The operation's wire name (`"op"`: `network.create`).
    pub fn name(&self) -> String {
        let value = serde_json::to_value(self).unwrap_or_default();
        let name = value.get("op").and_then(serde_json::Value::as_str);
        name.unwrap_or_default().to_owned()
    }

    /// True for operations that change the model.
    pub fn mutates(&self) -> bool {
        !matches!(
            self,
            Op::Hello(_)
                | Op::NetworkList(_)
                | Op::NetworkShow(_)
                | Op::SubnetList(_)
                | Op::SubnetShow(_)
                | Op::PortList(_)
                | Op::PortShow(_)
                | Op::RouterList(_)
                | Op::RouterShow(_)
                | Op::FloatingIpList(_)
                | Op::FloatingIpShow(_)
                | Op::SecurityGroupList(_)
                | Op::SecurityGroupShow(_)
                | Op::SecurityGroupRuleList(_)
                | Op::TunnelPeerList(_)
                | Op::Show(_)
                | Op::Netns(_)
                | Op::DumpFlows(_)
                | Op::Stats(_)
                | Op::SecurityGroupChains(_)
                | Op::Capture(_)
                | Op::ConntrackList(_)
                | Op::ConntrackFlush(_)
                | Op::NeighbourFlush(_)
                | Op::TraceAdd(_)
                | Op::TraceShow(_)
        )
    }
}

/// No arguments: `{}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// The resource an operation acts on: `{"id": "<id or name>"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Id or name.
    pub id: String,
}

/// `network.create`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkCreate {
    /// Id; a new UUID when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Owning tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// GRE key; absent for a flat network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segmentation_id: Option<u32>,
    /// External network (router gateways, floating IPs).
    #[serde(default)]
    pub router_external: bool,
    /// MTU; the default of the network's kind when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u16>,
    /// br-int tag; allocated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_vlan: Option<u16>,
}

/// `network.update`: the fields given are changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkUpdate {
    /// The network.
    pub id: String,
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New MTU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u16>,
    /// New external flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router_external: Option<bool>,
}

/// `subnet.create`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubnetCreate {
    /// Id; a new UUID when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// The network (id or name).
    pub network: String,
    /// Prefix, `10.0.0.0/24`.
    pub cidr: String,
    /// Gateway; the first host address when absent (unless `no_gateway`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_ip: Option<String>,
    /// No gateway at all.
    #[serde(default)]
    pub no_gateway: bool,
    /// Allocation pools; every host address but the gateway when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allocation_pools: Vec<AllocationPool>,
    /// DHCP on the subnet; true when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_dhcp: Option<bool>,
    /// DNS servers handed out by DHCP.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_nameservers: Vec<String>,
    /// Static routes handed out by DHCP.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_routes: Vec<Route>,
    /// Domain name handed out by DHCP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_domain: Option<String>,
    /// DHCP lease time in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dhcp_lease_duration: Option<u32>,
}

/// `subnet.update`: the fields given are changed (lists are replaced).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubnetUpdate {
    /// The subnet.
    pub id: String,
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_ip: Option<String>,
    /// Removes the gateway.
    #[serde(default)]
    pub no_gateway: bool,
    /// New allocation pools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocation_pools: Option<Vec<AllocationPool>>,
    /// DHCP on or off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_dhcp: Option<bool>,
    /// New DNS servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_nameservers: Option<Vec<String>>,
    /// New host routes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_routes: Option<Vec<Route>>,
    /// Domain name handed out by DHCP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_domain: Option<String>,
    /// DHCP lease time in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dhcp_lease_duration: Option<u32>,
}

/// A fixed IP as requested: a subnet, an address, or both (`subnet_id=…,ip_address=…`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FixedIpRequest {
    /// The subnet (id or name); the one holding `ip_address` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    /// The address; the first free one of the pools when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
}

/// `port.create`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PortCreate {
    /// Id; a new UUID when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The network (id or name).
    pub network: String,
    /// MAC; a new `fa:16:3e:…` address when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
    /// Fixed IPs; one address of the network's first subnet when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_ips: Option<Vec<FixedIpRequest>>,
    /// `compute:nova`, `network:dhcp`, `network:router_interface`, …
    #[serde(default)]
    pub device_owner: String,
    /// VM, router or floating IP id.
    #[serde(default)]
    pub device_id: String,
    /// Where the port is (`{"peer":"10.0.1.31"}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<Binding>,
    /// Security groups (ids or names); the group named `default`, if there is one, when
    /// absent on a VM port with port security.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Vec<String>>,
    /// Security groups and anti-spoofing; true when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_security_enabled: Option<bool>,
    /// Further (IP, MAC) pairs the port may send from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_address_pairs: Vec<AddressPair>,
    /// Host name DHCP hands out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_name: Option<String>,
}

/// `port.update`: the fields given are changed (lists are replaced).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PortUpdate {
    /// The port.
    pub id: String,
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New MAC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
    /// New fixed IPs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_ips: Option<Vec<FixedIpRequest>>,
    /// New owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_owner: Option<String>,
    /// New device id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// New binding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<Binding>,
    /// Removes the binding.
    #[serde(default)]
    pub no_binding: bool,
    /// New security groups (ids or names).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Vec<String>>,
    /// Port security on or off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_security_enabled: Option<bool>,
    /// New allowed address pairs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_address_pairs: Option<Vec<AddressPair>>,
    /// Host name DHCP hands out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_name: Option<String>,
}

/// `port.list`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PortList {
    /// Only the ports of this network (id or name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
}

/// `router.create`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouterCreate {
    /// Id; a new UUID when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Static routes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
}

/// `router.update`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouterUpdate {
    /// The router.
    pub id: String,
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New static routes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<Vec<Route>>,
}

/// `router.interface_add` / `router.interface_remove`: a subnet or a port.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouterInterface {
    /// The router.
    pub router: String,
    /// The subnet (id or name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<String>,
    /// The port (id or name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// Adding by subnet: the new port's id (a new UUID when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_id: Option<String>,
    /// Adding by subnet: the new port's MAC (a new one when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
}

/// `router.gateway_set`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouterGatewaySet {
    /// The router.
    pub router: String,
    /// The external network (id or name).
    pub network: String,
    /// SNAT for traffic without floating IP; true when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_snat: Option<bool>,
    /// The gateway port's id (a new UUID when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_id: Option<String>,
    /// The gateway port's MAC (a new one when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
    /// The gateway port's addresses (one free address when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_ips: Option<Vec<FixedIpRequest>>,
}

/// `floatingip.create`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FloatingIpCreate {
    /// Id; a new UUID when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The external network (id or name).
    pub floating_network: String,
    /// The address; a free one of the network when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floating_ip_address: Option<String>,
    /// The port to associate at once (id or name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// Which fixed IP of that port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_ip_address: Option<String>,
    /// The id of the port that holds the address (a new UUID when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fip_port_id: Option<String>,
    /// The MAC of that port (a new one when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fip_mac_address: Option<String>,
}

/// `floatingip.associate`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FloatingIpAssociate {
    /// The floating IP (id or address).
    pub id: String,
    /// The port (id or name).
    pub port: String,
    /// Which fixed IP of the port; its first when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_ip_address: Option<String>,
}

/// `security_group.create`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroupCreate {
    /// Id; a new UUID when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name.
    pub name: String,
    /// Owning tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
}

/// `security_group.update`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroupUpdate {
    /// The group.
    pub id: String,
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `security_group_rule.create`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleCreate {
    /// Id; a new UUID when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The group (id or name).
    pub security_group: String,
    /// `ingress` (default) or `egress`.
    #[serde(default = "ingress")]
    pub direction: Direction,
    /// `IPv4` (default) or `IPv6`.
    #[serde(default)]
    pub ethertype: EtherType,
    /// `tcp`, `udp`, `icmp` or a number; any when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Lowest port (or ICMP type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_range_min: Option<u16>,
    /// Highest port (or ICMP code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_range_max: Option<u16>,
    /// Remote prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_ip_prefix: Option<String>,
    /// Remote group (id or name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_group: Option<String>,
}

/// Serde default of [`RuleCreate::direction`], as the neutron CLI's.
fn ingress() -> Direction {
    Direction::Ingress
}

/// `security_group_rule.list`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleList {
    /// Only this group's rules (id or name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group: Option<String>,
}

/// `tunnel_peer.create`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TunnelPeerCreate {
    /// The peer's underlay address.
    pub remote_ip: String,
}

/// `conntrack.list`: every session, or those of one router or one zone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConntrackList {
    /// Only this router's sessions (id or name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router: Option<String>,
    /// Only this conntrack zone's sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<u16>,
}

/// `conntrack.flush`, `neighbour.flush`: everything, or what belongs to one router.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouterScope {
    /// Only this router's entries (id or name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router: Option<String>,
}
