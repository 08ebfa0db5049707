//! The commands, named and optioned as the neutron CLI's.

use crate::kv::{address_pair, fixed_ip, pool, route};
use clap::{Args, Subcommand, ValueEnum};
use control::api::FixedIpRequest;
use control::model::{AddressPair, AllocationPool, Route};

/// Every command.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a network.
    NetCreate(NetCreate),
    /// List networks.
    NetList,
    /// Show a network.
    NetShow(Target),
    /// Update a network.
    NetUpdate(NetUpdate),
    /// Delete a network (and its subnets); refused while it has ports.
    NetDelete(Target),
    /// Create a subnet.
    SubnetCreate(SubnetCreate),
    /// List subnets.
    SubnetList,
    /// Show a subnet.
    SubnetShow(Target),
    /// Update a subnet.
    SubnetUpdate(SubnetUpdate),
    /// Delete a subnet.
    SubnetDelete(Target),
    /// Create a port.
    PortCreate(PortCreate),
    /// List ports.
    PortList(PortList),
    /// Show a port.
    PortShow(Target),
    /// Update a port.
    PortUpdate(PortUpdate),
    /// Delete a port.
    PortDelete(Target),
    /// Create a router.
    RouterCreate(RouterCreate),
    /// List routers.
    RouterList,
    /// Show a router.
    RouterShow(Target),
    /// Update a router.
    RouterUpdate(RouterUpdate),
    /// Delete a router.
    RouterDelete(Target),
    /// Add an interface to a router: SUBNET (or subnet=SUBNET) or port=PORT.
    RouterInterfaceAdd(RouterInterface),
    /// Remove an interface from a router: SUBNET (or subnet=SUBNET) or port=PORT.
    RouterInterfaceDelete(RouterInterface),
    /// Set the external gateway of a router.
    RouterGatewaySet(RouterGatewaySet),
    /// Remove the external gateway of a router.
    RouterGatewayClear(RouterOnly),
    /// Create a floating IP.
    FloatingipCreate(FloatingipCreate),
    /// Map a floating IP to a port.
    FloatingipAssociate(FloatingipAssociate),
    /// Unmap a floating IP.
    FloatingipDisassociate(Target),
    /// Delete a floating IP.
    FloatingipDelete(Target),
    /// List floating IPs.
    FloatingipList,
    /// Show a floating IP.
    FloatingipShow(Target),
    /// Create a security group.
    SecurityGroupCreate(SecurityGroupCreate),
    /// List security groups.
    SecurityGroupList,
    /// Show a security group with its rules.
    SecurityGroupShow(Target),
    /// Rename a security group.
    SecurityGroupUpdate(SecurityGroupUpdate),
    /// Delete a security group.
    SecurityGroupDelete(Target),
    /// Add a rule to a security group.
    SecurityGroupRuleCreate(RuleCreate),
    /// Delete a security group rule.
    SecurityGroupRuleDelete(Target),
    /// List security group rules.
    SecurityGroupRuleList(RuleList),
    /// Add a GRE tunnel peer (a compute node).
    TunnelPeerCreate(PeerCreate),
    /// List tunnel peers.
    TunnelPeerList,
    /// Remove a tunnel peer (by address or gre-… name).
    TunnelPeerDelete(Target),
    /// The daemon's API version and its own version (and this client's).
    Hello,
    /// Bridges and ports, as ovs-vsctl show.
    Show,
    /// Namespaces, as ip netns.
    Netns,
    /// Tables with their counters, as ovs-ofctl dump-flows.
    DumpFlows,
    /// Counters per device (as ifconfig) and per drop reason.
    Stats,
    /// The security group chains of every filtered port (neutron-openvswi-i…, -o…, -s…),
    /// as iptables -S lists them, with the hits of each rule.
    SecurityGroupChains,
    /// Copy the frames of devices, as tcpdump: pcapng to a file (-w FILE) or a pipe (-w -),
    /// or a line per frame; -c N stops after N.
    Capture(crate::capture::CaptureCmd),
    /// Connection tracking sessions: list (as conntrack -L) or flush (as conntrack -F).
    #[command(subcommand)]
    Conntrack(crate::conntrack::ConntrackCommand),
    /// Neighbour (ARP) entries: flush the learned ones.
    #[command(subcommand)]
    Neighbour(crate::conntrack::NeighbourCommand),
    /// Packet trace through the data path's nodes: add N frames, then show their way.
    #[command(subcommand)]
    Trace(crate::trace::TraceCommand),
}

/// A resource by id or name.
#[derive(Args, Debug)]
pub struct Target {
    /// Id or name.
    pub(crate) id: String,
}

/// A router by id or name.
#[derive(Args, Debug)]
pub struct RouterOnly {
    /// Router id or name.
    pub(crate) router: String,
}

/// Options of net-create.
#[derive(Args, Debug)]
pub struct NetCreate {
    /// Name.
    pub(crate) name: String,
    /// Id (a new UUID when absent).
    #[arg(long)]
    pub(crate) id: Option<String>,
    /// Owning tenant.
    #[arg(long)]
    pub(crate) tenant_id: Option<String>,
    /// GRE key (tun_id); a flat network without it.
    #[arg(long, visible_alias = "provider:segmentation_id")]
    pub(crate) segmentation_id: Option<u32>,
    /// An external network (router gateways, floating IPs).
    #[arg(long, visible_alias = "router:external")]
    pub(crate) router_external: bool,
    /// MTU.
    #[arg(long)]
    pub(crate) mtu: Option<u16>,
    /// br-int tag (allocated when absent).
    #[arg(long)]
    pub(crate) local_vlan: Option<u16>,
}

/// Options of net-update.
#[derive(Args, Debug)]
pub struct NetUpdate {
    /// Network id or name.
    pub(crate) id: String,
    /// New name.
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// New MTU.
    #[arg(long)]
    pub(crate) mtu: Option<u16>,
    /// External or not.
    #[arg(long, value_name = "BOOL")]
    pub(crate) router_external: Option<bool>,
}

/// Options shared by subnet-create and subnet-update.
#[derive(Args, Debug)]
pub struct SubnetOptions {
    /// Gateway IP (default: the first host address).
    #[arg(long, conflicts_with = "no_gateway")]
    pub(crate) gateway: Option<String>,
    /// No gateway.
    #[arg(long)]
    pub(crate) no_gateway: bool,
    /// start=IP,end=IP (repeatable).
    #[arg(long, value_parser = pool)]
    pub(crate) allocation_pool: Vec<AllocationPool>,
    /// Serve DHCP (the default).
    #[arg(long, conflicts_with = "disable_dhcp")]
    pub(crate) enable_dhcp: bool,
    /// Do not serve DHCP.
    #[arg(long)]
    pub(crate) disable_dhcp: bool,
    /// DNS server handed out by DHCP (repeatable).
    #[arg(long)]
    pub(crate) dns_nameserver: Vec<String>,
    /// destination=CIDR,nexthop=IP handed out by DHCP (repeatable).
    #[arg(long, value_parser = route)]
    pub(crate) host_route: Vec<Route>,
}

impl SubnetOptions {
    /// The DHCP flag given, if any.
    pub(crate) fn dhcp(&self) -> Option<bool> {
        match (self.enable_dhcp, self.disable_dhcp) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        }
    }
}

/// Options of subnet-create.
#[derive(Args, Debug)]
pub struct SubnetCreate {
    /// Network id or name.
    pub(crate) network: String,
    /// Prefix, e.g. 10.0.0.0/24.
    pub(crate) cidr: String,
    /// Id (a new UUID when absent).
    #[arg(long)]
    pub(crate) id: Option<String>,
    /// Name.
    #[arg(long)]
    pub(crate) name: Option<String>,
    #[command(flatten)]
    pub(crate) options: SubnetOptions,
}

/// Options of subnet-update.
#[derive(Args, Debug)]
pub struct SubnetUpdate {
    /// Subnet id or name.
    pub(crate) id: String,
    /// New name.
    #[arg(long)]
    pub(crate) name: Option<String>,
    #[command(flatten)]
    pub(crate) options: SubnetOptions,
}

/// Options shared by port-create and port-update.
#[derive(Args, Debug)]
pub struct PortOptions {
    /// Name.
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// MAC address (a new fa:16:3e:… one when absent).
    #[arg(long)]
    pub(crate) mac_address: Option<String>,
    /// subnet_id=SUBNET,ip_address=IP; either part may be left out (repeatable).
    #[arg(long, value_parser = fixed_ip)]
    pub(crate) fixed_ip: Vec<FixedIpRequest>,
    /// compute:nova, network:dhcp, network:router_interface, …
    #[arg(long)]
    pub(crate) device_owner: Option<String>,
    /// VM, router or floating IP id.
    #[arg(long)]
    pub(crate) device_id: Option<String>,
    /// The port is behind this tunnel peer.
    #[arg(long, value_name = "IP")]
    pub(crate) binding_peer: Option<String>,
    /// Security group id or name (repeatable).
    #[arg(long)]
    pub(crate) security_group: Vec<String>,
    /// No security group.
    #[arg(long, conflicts_with = "security_group")]
    pub(crate) no_security_groups: bool,
    /// Security groups and anti-spoofing on or off.
    #[arg(long, value_name = "BOOL")]
    pub(crate) port_security_enabled: Option<bool>,
    /// ip_address=IP[,mac_address=MAC] the port may also send from (repeatable).
    #[arg(long, value_parser = address_pair)]
    pub(crate) allowed_address_pair: Vec<AddressPair>,
    /// Host name handed out by DHCP.
    #[arg(long)]
    pub(crate) dns_name: Option<String>,
}

impl PortOptions {
    /// The security groups given, if any.
    pub(crate) fn groups(&self) -> Option<Vec<String>> {
        if self.no_security_groups {
            Some(Vec::new())
        } else {
            Some(self.security_group.clone()).filter(|g| !g.is_empty())
        }
    }

    /// The fixed IPs given, if any.
    pub(crate) fn fixed_ips(&self) -> Option<Vec<FixedIpRequest>> {
        Some(self.fixed_ip.clone()).filter(|f| !f.is_empty())
    }
}

/// Options of port-create.
#[derive(Args, Debug)]
pub struct PortCreate {
    /// Network id or name.
    pub(crate) network: String,
    /// Id (a new UUID when absent).
    #[arg(long)]
    pub(crate) id: Option<String>,
    #[command(flatten)]
    pub(crate) options: PortOptions,
}

/// Options of port-update.
#[derive(Args, Debug)]
pub struct PortUpdate {
    /// Port id or name.
    pub(crate) id: String,
    /// Remove the binding.
    #[arg(long, conflicts_with = "binding_peer")]
    pub(crate) no_binding: bool,
    #[command(flatten)]
    pub(crate) options: PortOptions,
}

/// Options of port-list.
#[derive(Args, Debug)]
pub struct PortList {
    /// Only the ports of this network.
    #[arg(long)]
    pub(crate) network: Option<String>,
}

/// Options of router-create.
#[derive(Args, Debug)]
pub struct RouterCreate {
    /// Name.
    pub(crate) name: String,
    /// Id (a new UUID when absent).
    #[arg(long)]
    pub(crate) id: Option<String>,
    /// destination=CIDR,nexthop=IP (repeatable).
    #[arg(long, value_parser = route)]
    pub(crate) route: Vec<Route>,
}

/// Options of router-update.
#[derive(Args, Debug)]
pub struct RouterUpdate {
    /// Router id or name.
    pub(crate) id: String,
    /// New name.
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// destination=CIDR,nexthop=IP, replacing the routes (repeatable).
    #[arg(long, value_parser = route)]
    pub(crate) route: Vec<Route>,
    /// Remove every static route.
    #[arg(long, conflicts_with = "route")]
    pub(crate) no_routes: bool,
}

/// Options of router-interface-add and -delete.
#[derive(Args, Debug)]
pub struct RouterInterface {
    /// Router id or name.
    pub(crate) router: String,
    /// SUBNET, subnet=SUBNET or port=PORT.
    pub(crate) interface: String,
    /// Adding by subnet: the new port's id.
    #[arg(long)]
    pub(crate) port_id: Option<String>,
    /// Adding by subnet: the new port's MAC.
    #[arg(long)]
    pub(crate) mac_address: Option<String>,
}

/// Options of router-gateway-set.
#[derive(Args, Debug)]
pub struct RouterGatewaySet {
    /// Router id or name.
    pub(crate) router: String,
    /// External network id or name.
    pub(crate) network: String,
    /// No SNAT for traffic without floating IP.
    #[arg(long)]
    pub(crate) disable_snat: bool,
    /// The gateway port's id.
    #[arg(long)]
    pub(crate) port_id: Option<String>,
    /// The gateway port's MAC.
    #[arg(long)]
    pub(crate) mac_address: Option<String>,
    /// subnet_id=SUBNET,ip_address=IP of the gateway port (repeatable).
    #[arg(long, value_parser = fixed_ip)]
    pub(crate) fixed_ip: Vec<FixedIpRequest>,
}

/// Options of floatingip-create.
#[derive(Args, Debug)]
pub struct FloatingipCreate {
    /// External network id or name.
    pub(crate) network: String,
    /// Id (a new UUID when absent).
    #[arg(long)]
    pub(crate) id: Option<String>,
    /// The address (a free one when absent).
    #[arg(long)]
    pub(crate) floating_ip_address: Option<String>,
    /// Associate with this port at once.
    #[arg(long)]
    pub(crate) port_id: Option<String>,
    /// Which fixed IP of that port.
    #[arg(long)]
    pub(crate) fixed_ip_address: Option<String>,
    /// Id of the port that holds the address.
    #[arg(long)]
    pub(crate) fip_port_id: Option<String>,
    /// MAC of the port that holds the address.
    #[arg(long)]
    pub(crate) fip_mac_address: Option<String>,
}

/// Options of floatingip-associate.
#[derive(Args, Debug)]
pub struct FloatingipAssociate {
    /// Floating IP id or address.
    pub(crate) id: String,
    /// Port id or name.
    pub(crate) port: String,
    /// Which fixed IP of the port.
    #[arg(long)]
    pub(crate) fixed_ip_address: Option<String>,
}

/// Options of security-group-create.
#[derive(Args, Debug)]
pub struct SecurityGroupCreate {
    /// Name.
    pub(crate) name: String,
    /// Id (a new UUID when absent).
    #[arg(long)]
    pub(crate) id: Option<String>,
    /// Owning tenant.
    #[arg(long)]
    pub(crate) tenant_id: Option<String>,
}

/// Options of security-group-update.
#[derive(Args, Debug)]
pub struct SecurityGroupUpdate {
    /// Group id or name.
    pub(crate) id: String,
    /// New name.
    #[arg(long)]
    pub(crate) name: Option<String>,
}

/// Rule directions.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum DirectionArg {
    Ingress,
    Egress,
}

/// Rule address families.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum EtherTypeArg {
    #[value(name = "IPv4")]
    IPv4,
    #[value(name = "IPv6")]
    IPv6,
}

/// Options of security-group-rule-create.
#[derive(Args, Debug)]
pub struct RuleCreate {
    /// Group id or name.
    pub(crate) security_group: String,
    /// Id (a new UUID when absent).
    #[arg(long)]
    pub(crate) id: Option<String>,
    /// Direction, seen from the VM.
    #[arg(long, value_enum, default_value = "ingress")]
    pub(crate) direction: DirectionArg,
    /// Address family.
    #[arg(long, value_enum, default_value = "IPv4")]
    pub(crate) ethertype: EtherTypeArg,
    /// tcp, udp, icmp or a number (any when absent).
    #[arg(long)]
    pub(crate) protocol: Option<String>,
    /// Lowest destination port (ICMP type).
    #[arg(long)]
    pub(crate) port_range_min: Option<u16>,
    /// Highest destination port (ICMP code).
    #[arg(long)]
    pub(crate) port_range_max: Option<u16>,
    /// Remote prefix.
    #[arg(long)]
    pub(crate) remote_ip_prefix: Option<String>,
    /// Remote group id or name.
    #[arg(long)]
    pub(crate) remote_group_id: Option<String>,
}

/// Options of security-group-rule-list.
#[derive(Args, Debug)]
pub struct RuleList {
    /// Only this group's rules.
    #[arg(long)]
    pub(crate) security_group: Option<String>,
}

/// Options of tunnel-peer-create.
#[derive(Args, Debug)]
pub struct PeerCreate {
    /// The peer's underlay address.
    pub(crate) remote_ip: String,
}
