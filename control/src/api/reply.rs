//! What the operations answer: one type per kind of result, as it goes on the wire in
//! `"ok"`. A client decodes the answer of the operation it called into that operation's
//! type; [`Reply`] is the union the daemon sends, and the schema describes.

use crate::model::Rule;
use crate::model::{AddressPair, AllocationPool, Binding, Direction, EtherType, FixedIp, Route};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The answer of any operation.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Reply {
    /// `hello`.
    Hello(Hello),
    /// `network.create`, `.update`, `.show`.
    Network(NetworkInfo),
    /// `network.list`.
    Networks(Vec<NetworkInfo>),
    /// `subnet.create`, `.update`, `.show`.
    Subnet(SubnetInfo),
    /// `subnet.list`.
    Subnets(Vec<SubnetInfo>),
    /// `port.create`, `.update`, `.show`.
    Port(PortInfo),
    /// `port.list`.
    Ports(Vec<PortInfo>),
    /// `router.create`, `.update`, `.show`, `.gateway_set`, `.gateway_clear`.
    Router(RouterInfo),
    /// `router.list`.
    Routers(Vec<RouterInfo>),
    /// `router.interface_add`, `.interface_remove`.
    Interface(InterfaceInfo),
    /// `floatingip.create`, `.associate`, `.disassociate`, `.show`.
    FloatingIp(FloatingIpInfo),
    /// `floatingip.list`.
    FloatingIps(Vec<FloatingIpInfo>),
    /// `security_group.create`, `.update`, `.show`.
    SecurityGroup(SecurityGroupInfo),
    /// `security_group.list`.
    SecurityGroups(Vec<SecurityGroupInfo>),
    /// `security_group_rule.create`.
    Rule(RuleInfo),
    /// `security_group_rule.list`.
    Rules(Vec<RuleInfo>),
    /// `tunnel_peer.create`.
    TunnelPeer(TunnelPeerInfo),
    /// `tunnel_peer.list`.
    TunnelPeers(Vec<TunnelPeerInfo>),
    /// Every `*.delete`.
    Deleted(Deleted),
    /// `show`.
    Text(ShowText),
    /// `netns`.
    Namespaces(Vec<Namespace>),
    /// `dump_flows`.
    Flows(DumpFlows),
    /// `stats`.
    Stats(Stats),
    /// `security_group.chains`.
    Chains(Vec<PortChains>),
    /// `conntrack.list`.
    Sessions(super::SessionList),
    /// `conntrack.flush`, `neighbour.flush`.
    Flushed(super::Flushed),
    /// `trace.add`.
    TraceStarted(super::TraceStarted),
    /// `trace.show`.
    TraceSteps(super::TraceSteps),
}

/// `hello`: which protocol the daemon speaks and which daemon it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Hello {
    /// The API version the daemon speaks ([`super::API_VERSION`]); a request may carry
    /// `"api_version"` and is refused with `unsupported_version` when it is another.
    pub api_version: u32,
    /// The daemon's own version (its package version).
    pub daemon_version: String,
}

/// The answer to a delete.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Deleted {
    /// The id of what was deleted (a tunnel peer's address).
    pub deleted: String,
}

/// A network as shown: its fields, its subnets, and the tag and MTU in effect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NetworkInfo {
    /// Neutron id.
    pub id: String,
    /// Neutron name.
    pub name: String,
    /// Owning tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// GRE key; absent for a flat network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segmentation_id: Option<u32>,
    /// External network (router gateways, floating IPs).
    pub router_external: bool,
    /// The MTU in effect.
    pub mtu: u16,
    /// The br-int tag in effect; `null` when none could be given.
    pub local_vlan: Option<u16>,
    /// Its subnets' ids.
    pub subnets: Vec<String>,
    /// `qdhcp-<id>`, when a subnet of it has DHCP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A subnet as shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SubnetInfo {
    /// Neutron id.
    pub id: String,
    /// Neutron name.
    pub name: String,
    /// The network it belongs to.
    pub network_id: String,
    /// Prefix, `10.0.0.0/24`.
    pub cidr: String,
    /// The gateway; absent for a subnet without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_ip: Option<String>,
    /// Allocation pools; absent: every host address but the gateway.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allocation_pools: Vec<AllocationPool>,
    /// DHCP on the subnet.
    pub enable_dhcp: bool,
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

/// A port as shown, with its device name (`tap…`, `qr-…`, `qg-…`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PortInfo {
    /// Neutron id.
    pub id: String,
    /// Neutron name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Host name DHCP hands out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_name: Option<String>,
    /// The network it belongs to.
    pub network_id: String,
    /// `fa:16:3e:…`.
    pub mac_address: String,
    /// Addresses on the network's subnets.
    pub fixed_ips: Vec<FixedIp>,
    /// What uses the port (`compute:nova`, `network:router_interface`, …).
    pub device_owner: String,
    /// The id of what uses it.
    pub device_id: String,
    /// Where its device is; absent: learned from traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<Binding>,
    /// Security group ids.
    pub security_groups: Vec<String>,
    /// Security groups and anti-spoofing apply.
    pub port_security_enabled: bool,
    /// Further (IP, MAC) pairs the port may send from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_address_pairs: Vec<AddressPair>,
    /// The device name operators see.
    pub device_name: String,
}

/// One address of a router: an interface's or the gateway's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RouterAddress {
    /// The router's port.
    pub port_id: String,
    /// The subnet of the address.
    pub subnet_id: String,
    /// The address.
    pub ip_address: String,
}

/// A router's external gateway, as Neutron's `external_gateway_info`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct GatewayInfo {
    /// The external network.
    pub network_id: String,
    /// SNAT for traffic without floating IP.
    pub enable_snat: bool,
    /// The gateway port's addresses.
    pub external_fixed_ips: Vec<RouterAddress>,
}

/// A router as shown: its fields, namespace, interfaces and gateway.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RouterInfo {
    /// Neutron id.
    pub id: String,
    /// Neutron name.
    pub name: String,
    /// Extra static routes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    /// `qrouter-<id>`.
    pub namespace: String,
    /// The interfaces' addresses.
    pub interfaces: Vec<RouterAddress>,
    /// The external gateway; `null` without one.
    pub external_gateway_info: Option<GatewayInfo>,
}

/// `router.interface_add` / `_remove`: the router and the interface port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InterfaceInfo {
    /// The router.
    pub router_id: String,
    /// The interface port (added or removed).
    pub port_id: String,
}

/// A floating IP as shown, unset fields as `null`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FloatingIpInfo {
    /// Neutron id.
    pub id: String,
    /// The external address.
    pub floating_ip_address: String,
    /// The external network it is taken from.
    pub floating_network_id: String,
    /// The associated port.
    pub port_id: Option<String>,
    /// Which fixed IP of the port.
    pub fixed_ip_address: Option<String>,
    /// The router that does the NAT.
    pub router_id: Option<String>,
}

/// A security group as shown, with its rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SecurityGroupInfo {
    /// Neutron id.
    pub id: String,
    /// Neutron name.
    pub name: String,
    /// Owning tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Its rules, as in the topology file.
    pub rules: Vec<Rule>,
}

/// A rule as listed: every field (unset ones `null`) and its group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RuleInfo {
    /// Rule id.
    pub id: Option<String>,
    /// `ingress` or `egress`.
    pub direction: Direction,
    /// `IPv4` or `IPv6`.
    pub ethertype: EtherType,
    /// `tcp`, `udp`, `icmp` or a number; `null`: any.
    pub protocol: Option<String>,
    /// Lowest port (or ICMP type).
    pub port_range_min: Option<u16>,
    /// Highest port (or ICMP code).
    pub port_range_max: Option<u16>,
    /// Remote prefix.
    pub remote_ip_prefix: Option<String>,
    /// Remote group id.
    pub remote_group_id: Option<String>,
    /// The group's id.
    pub security_group_id: String,
    /// The group's name.
    pub security_group: String,
}

/// A tunnel peer with its GRE port, as `ovs-vsctl show` lists it on br-tun.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TunnelPeerInfo {
    /// GRE port name (`gre-0a00011f`); `null` for an address that is not IPv4.
    pub name: Option<String>,
    /// The peer's underlay address.
    pub remote_ip: String,
    /// The underlay address of this appliance; `null` without an underlay.
    pub local_ip: Option<String>,
    /// GRE key in (`flow`: the network's).
    pub in_key: String,
    /// GRE key out (`flow`).
    pub out_key: String,
}

/// `show`: the derived view as text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ShowText {
    /// The view, as `vrouter --check` prints it.
    pub text: String,
}

/// A namespace the network node would have.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Namespace {
    /// `qrouter-<id>` or `qdhcp-<id>`.
    pub name: String,
    /// `router` or `dhcp`.
    pub kind: String,
    /// The router's or network's id.
    pub id: String,
    /// Its name.
    pub label: String,
}

/// `dump_flows`: the data plane's tables.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DumpFlows {
    /// Generation of the snapshot the workers run.
    pub generation: u64,
    /// The MAC table (br-tun table 20), the routes, the neighbours, the NAT sessions.
    pub tables: (
        FlowTable<MacFlowInfo>,
        FlowTable<RouteInfo>,
        FlowTable<NeighbourInfo>,
        FlowTable<SessionInfo>,
    ),
}

/// A table's number (OpenFlow tables) or name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum TableId {
    /// An OpenFlow table number (`20`: br-tun's learned MACs).
    Number(u8),
    /// A table with no OpenFlow number (`route`, `arp`, `nat`).
    Name(String),
}

/// One table of `dump_flows`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "FlowTable_of_{T}")]
pub struct FlowTable<T> {
    /// Its number or short name.
    pub table: TableId,
    /// What it holds.
    pub name: String,
    /// Its entries.
    pub flows: Vec<T>,
}

/// A MAC table entry, as br-tun's learned flows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MacFlowInfo {
    /// The network's local VLAN tag.
    pub dl_vlan: u16,
    /// The network of that tag.
    pub network_id: Option<String>,
    /// The address.
    pub dl_dst: String,
    /// Where frames to it go: a device or GRE port name.
    pub output: String,
    /// Frames sent to it.
    pub n_packets: u64,
    /// Bytes sent to it.
    pub n_bytes: u64,
    /// Seconds since it was last seen.
    pub idle_age: u64,
    /// Configured, not learned.
    #[serde(rename = "static")]
    pub is_static: bool,
}

/// A router's route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RouteInfo {
    /// The router's namespace name.
    pub router: String,
    /// Destination prefix.
    pub destination: String,
    /// Next hop; `null` for a connected route.
    pub via: Option<String>,
    /// The router port, `vlan<tag>`.
    pub dev: String,
    /// The router's address on that port.
    pub src: String,
}

/// A neighbour entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NeighbourInfo {
    /// `underlay` or `router`.
    pub table: String,
    /// The address.
    pub ip: String,
    /// Its MAC; `null` while unresolved.
    pub lladdr: Option<String>,
    /// Seconds since it was confirmed.
    pub age: u64,
}

/// A connection tracking session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SessionInfo {
    /// IP protocol number.
    pub proto: u8,
    /// The original direction, `src:port -> dst:port`.
    pub orig: String,
    /// The reply direction, after NAT.
    pub reply: String,
    /// Packets in the original and reply directions.
    pub n_packets: [u64; 2],
    /// Bytes in the original and reply directions.
    pub n_bytes: [u64; 2],
    /// Seconds since a packet last matched it.
    pub idle_age: u64,
}

/// `stats`: counters per device, per drop reason and per stage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Stats {
    /// Generation of the snapshot the workers run.
    pub generation: u64,
    /// Milliseconds since the workers started.
    pub uptime_ms: u64,
    /// Workers polling the devices.
    pub workers: u16,
    /// Packet buffers.
    pub mbufs: Mbufs,
    /// Frames handed to the worker that owns their flow.
    pub handed_off: u64,
    /// Learned state sent to other workers.
    pub sync_sent: u64,
    /// Learned state applied from other workers.
    pub sync_applied: u64,
    /// Every attached device, in attachment order.
    pub ports: Vec<PortStats>,
    /// Drops by reason, every reason included.
    pub drops: BTreeMap<String, u64>,
    /// The nodes of the data path's graph, in dispatch order.
    pub nodes: Vec<NodeStats>,
    /// The stages' counters by group (`router`, `security_groups`, `conntrack`, `dhcp`,
    /// `mac_table`, …), each a map of counter name to value.
    #[serde(flatten)]
    pub stages: BTreeMap<String, BTreeMap<String, u64>>,
}

/// One node of the data path: what it processed and the cycles it spent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NodeStats {
    /// The node (`port-input`, `l2-switch`, `router`, …).
    pub name: String,
    /// Vectors (bursts) it processed.
    pub calls: u64,
    /// Frames it processed.
    pub packets: u64,
    /// Cycles it spent (the workers' TSC).
    pub cycles: u64,
    /// Cycles per frame, rounded down (0 before any frame).
    pub cycles_per_packet: u64,
}

/// Packet buffers in use and in the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Mbufs {
    /// Taken from the pool.
    pub in_use: u32,
    /// In the pool.
    pub total: u32,
}

/// One device's counters: the pipeline's (as ifconfig) and its driver's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PortStats {
    /// Device name.
    pub name: String,
    /// Frames received.
    pub rx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Frames received and dropped.
    pub rx_dropped: u64,
    /// Frames sent.
    pub tx_packets: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Frames that could not be sent.
    pub tx_dropped: u64,
    /// The device's own counters (`ipackets`, `opackets`, `ierrors`, `imissed`,
    /// `rx_nombuf`, `oerrors`); empty when its driver gave none.
    pub nic: BTreeMap<String, u64>,
}

/// A filtered VM port's chains.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PortChains {
    /// Its device name.
    pub device: String,
    /// The port's id.
    pub port_id: String,
    /// Its chains (`neutron-openvswi-i…`, `-o…`, `-s…`).
    pub chains: Vec<Chain>,
}

/// One chain, as `iptables -S` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Chain {
    /// Chain name.
    pub name: String,
    /// Its rules in order.
    pub rules: Vec<ChainRule>,
}

/// One line of a chain, with the hits of the security group rule it comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChainRule {
    /// The `iptables -S` line.
    pub rule: String,
    /// The security group rule's id; `null` for the chain's fixed lines.
    pub id: Option<String>,
    /// Packets it let in; `null` for fixed lines.
    pub n_packets: Option<u64>,
    /// Bytes it let in; `null` for fixed lines.
    pub n_bytes: Option<u64>,
}
