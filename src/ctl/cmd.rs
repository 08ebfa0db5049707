//! The commands, named and optioned as the neutron CLI's, and the request each one makes.

use super::print::How;
use clap::{Args, Subcommand, ValueEnum};
use control::api::{self, FixedIpRequest, Op};
use control::model::{AddressPair, AllocationPool, Binding, Direction, EtherType, Route};

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
    /// Bridges and ports, as ovs-vsctl show.
    Show,
    /// Namespaces, as ip netns.
    Netns,
    /// Tables with their counters, as ovs-ofctl dump-flows.
    DumpFlows,
    /// Counters per device (as ifconfig) and per drop reason.
    Stats,
}

/// A resource by id or name.
#[derive(Args, Debug)]
pub struct Target {
    /// Id or name.
    id: String,
}

/// A router by id or name.
#[derive(Args, Debug)]
pub struct RouterOnly {
    /// Router id or name.
    router: String,
}

/// Options of net-create.
#[derive(Args, Debug)]
pub struct NetCreate {
    /// Name.
    name: String,
    /// Id (a new UUID when absent).
    #[arg(long)]
    id: Option<String>,
    /// Owning tenant.
    #[arg(long)]
    tenant_id: Option<String>,
    /// GRE key (tun_id); a flat network without it.
    #[arg(long, visible_alias = "provider:segmentation_id")]
    segmentation_id: Option<u32>,
    /// An external network (router gateways, floating IPs).
    #[arg(long, visible_alias = "router:external")]
    router_external: bool,
    /// MTU.
    #[arg(long)]
    mtu: Option<u16>,
    /// br-int tag (allocated when absent).
    #[arg(long)]
    local_vlan: Option<u16>,
}

/// Options of net-update.
#[derive(Args, Debug)]
pub struct NetUpdate {
    /// Network id or name.
    id: String,
    /// New name.
    #[arg(long)]
    name: Option<String>,
    /// New MTU.
    #[arg(long)]
    mtu: Option<u16>,
    /// External or not.
    #[arg(long, value_name = "BOOL")]
    router_external: Option<bool>,
}

/// Options shared by subnet-create and subnet-update.
#[derive(Args, Debug)]
pub struct SubnetOptions {
    /// Gateway IP (default: the first host address).
    #[arg(long, conflicts_with = "no_gateway")]
    gateway: Option<String>,
    /// No gateway.
    #[arg(long)]
    no_gateway: bool,
    /// start=IP,end=IP (repeatable).
    #[arg(long, value_parser = pool)]
    allocation_pool: Vec<AllocationPool>,
    /// Serve DHCP (the default).
    #[arg(long, conflicts_with = "disable_dhcp")]
    enable_dhcp: bool,
    /// Do not serve DHCP.
    #[arg(long)]
    disable_dhcp: bool,
    /// DNS server handed out by DHCP (repeatable).
    #[arg(long)]
    dns_nameserver: Vec<String>,
    /// destination=CIDR,nexthop=IP handed out by DHCP (repeatable).
    #[arg(long, value_parser = route)]
    host_route: Vec<Route>,
}

impl SubnetOptions {
    /// The DHCP flag given, if any.
    fn dhcp(&self) -> Option<bool> {
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
    network: String,
    /// Prefix, e.g. 10.0.0.0/24.
    cidr: String,
    /// Id (a new UUID when absent).
    #[arg(long)]
    id: Option<String>,
    /// Name.
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    options: SubnetOptions,
}

/// Options of subnet-update.
#[derive(Args, Debug)]
pub struct SubnetUpdate {
    /// Subnet id or name.
    id: String,
    /// New name.
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    options: SubnetOptions,
}

/// Options shared by port-create and port-update.
#[derive(Args, Debug)]
pub struct PortOptions {
    /// Name.
    #[arg(long)]
    name: Option<String>,
    /// MAC address (a new fa:16:3e:… one when absent).
    #[arg(long)]
    mac_address: Option<String>,
    /// subnet_id=SUBNET,ip_address=IP; either part may be left out (repeatable).
    #[arg(long, value_parser = fixed_ip)]
    fixed_ip: Vec<FixedIpRequest>,
    /// compute:nova, network:dhcp, network:router_interface, …
    #[arg(long)]
    device_owner: Option<String>,
    /// VM, router or floating IP id.
    #[arg(long)]
    device_id: Option<String>,
    /// The port is behind this tunnel peer.
    #[arg(long, value_name = "IP")]
    binding_peer: Option<String>,
    /// Security group id or name (repeatable).
    #[arg(long)]
    security_group: Vec<String>,
    /// No security group.
    #[arg(long, conflicts_with = "security_group")]
    no_security_groups: bool,
    /// Security groups and anti-spoofing on or off.
    #[arg(long, value_name = "BOOL")]
    port_security_enabled: Option<bool>,
    /// ip_address=IP[,mac_address=MAC] the port may also send from (repeatable).
    #[arg(long, value_parser = address_pair)]
    allowed_address_pair: Vec<AddressPair>,
    /// Host name handed out by DHCP.
    #[arg(long)]
    dns_name: Option<String>,
}

impl PortOptions {
    /// The security groups given, if any.
    fn groups(&self) -> Option<Vec<String>> {
        if self.no_security_groups {
            Some(Vec::new())
        } else {
            Some(self.security_group.clone()).filter(|g| !g.is_empty())
        }
    }

    /// The fixed IPs given, if any.
    fn fixed_ips(&self) -> Option<Vec<FixedIpRequest>> {
        Some(self.fixed_ip.clone()).filter(|f| !f.is_empty())
    }
}

/// Options of port-create.
#[derive(Args, Debug)]
pub struct PortCreate {
    /// Network id or name.
    network: String,
    /// Id (a new UUID when absent).
    #[arg(long)]
    id: Option<String>,
    #[command(flatten)]
    options: PortOptions,
}

/// Options of port-update.
#[derive(Args, Debug)]
pub struct PortUpdate {
    /// Port id or name.
    id: String,
    /// Remove the binding.
    #[arg(long, conflicts_with = "binding_peer")]
    no_binding: bool,
    #[command(flatten)]
    options: PortOptions,
}

/// Options of port-list.
#[derive(Args, Debug)]
pub struct PortList {
    /// Only the ports of this network.
    #[arg(long)]
    network: Option<String>,
}

/// Options of router-create.
#[derive(Args, Debug)]
pub struct RouterCreate {
    /// Name.
    name: String,
    /// Id (a new UUID when absent).
    #[arg(long)]
    id: Option<String>,
    /// destination=CIDR,nexthop=IP (repeatable).
    #[arg(long, value_parser = route)]
    route: Vec<Route>,
}

/// Options of router-update.
#[derive(Args, Debug)]
pub struct RouterUpdate {
    /// Router id or name.
    id: String,
    /// New name.
    #[arg(long)]
    name: Option<String>,
    /// destination=CIDR,nexthop=IP, replacing the routes (repeatable).
    #[arg(long, value_parser = route)]
    route: Vec<Route>,
    /// Remove every static route.
    #[arg(long, conflicts_with = "route")]
    no_routes: bool,
}

/// Options of router-interface-add and -delete.
#[derive(Args, Debug)]
pub struct RouterInterface {
    /// Router id or name.
    router: String,
    /// SUBNET, subnet=SUBNET or port=PORT.
    interface: String,
    /// Adding by subnet: the new port's id.
    #[arg(long)]
    port_id: Option<String>,
    /// Adding by subnet: the new port's MAC.
    #[arg(long)]
    mac_address: Option<String>,
}

/// Options of router-gateway-set.
#[derive(Args, Debug)]
pub struct RouterGatewaySet {
    /// Router id or name.
    router: String,
    /// External network id or name.
    network: String,
    /// No SNAT for traffic without floating IP.
    #[arg(long)]
    disable_snat: bool,
    /// The gateway port's id.
    #[arg(long)]
    port_id: Option<String>,
    /// The gateway port's MAC.
    #[arg(long)]
    mac_address: Option<String>,
    /// subnet_id=SUBNET,ip_address=IP of the gateway port (repeatable).
    #[arg(long, value_parser = fixed_ip)]
    fixed_ip: Vec<FixedIpRequest>,
}

/// Options of floatingip-create.
#[derive(Args, Debug)]
pub struct FloatingipCreate {
    /// External network id or name.
    network: String,
    /// Id (a new UUID when absent).
    #[arg(long)]
    id: Option<String>,
    /// The address (a free one when absent).
    #[arg(long)]
    floating_ip_address: Option<String>,
    /// Associate with this port at once.
    #[arg(long)]
    port_id: Option<String>,
    /// Which fixed IP of that port.
    #[arg(long)]
    fixed_ip_address: Option<String>,
    /// Id of the port that holds the address.
    #[arg(long)]
    fip_port_id: Option<String>,
    /// MAC of the port that holds the address.
    #[arg(long)]
    fip_mac_address: Option<String>,
}

/// Options of floatingip-associate.
#[derive(Args, Debug)]
pub struct FloatingipAssociate {
    /// Floating IP id or address.
    id: String,
    /// Port id or name.
    port: String,
    /// Which fixed IP of the port.
    #[arg(long)]
    fixed_ip_address: Option<String>,
}

/// Options of security-group-create.
#[derive(Args, Debug)]
pub struct SecurityGroupCreate {
    /// Name.
    name: String,
    /// Id (a new UUID when absent).
    #[arg(long)]
    id: Option<String>,
    /// Owning tenant.
    #[arg(long)]
    tenant_id: Option<String>,
}

/// Options of security-group-update.
#[derive(Args, Debug)]
pub struct SecurityGroupUpdate {
    /// Group id or name.
    id: String,
    /// New name.
    #[arg(long)]
    name: Option<String>,
}

/// Rule directions.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum DirectionArg {
    Ingress,
    Egress,
}

/// Rule address families.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum EtherTypeArg {
    #[value(name = "IPv4")]
    IPv4,
    #[value(name = "IPv6")]
    IPv6,
}

/// Options of security-group-rule-create.
#[derive(Args, Debug)]
pub struct RuleCreate {
    /// Group id or name.
    security_group: String,
    /// Id (a new UUID when absent).
    #[arg(long)]
    id: Option<String>,
    /// Direction, seen from the VM.
    #[arg(long, value_enum, default_value = "ingress")]
    direction: DirectionArg,
    /// Address family.
    #[arg(long, value_enum, default_value = "IPv4")]
    ethertype: EtherTypeArg,
    /// tcp, udp, icmp or a number (any when absent).
    #[arg(long)]
    protocol: Option<String>,
    /// Lowest destination port (ICMP type).
    #[arg(long)]
    port_range_min: Option<u16>,
    /// Highest destination port (ICMP code).
    #[arg(long)]
    port_range_max: Option<u16>,
    /// Remote prefix.
    #[arg(long)]
    remote_ip_prefix: Option<String>,
    /// Remote group id or name.
    #[arg(long)]
    remote_group_id: Option<String>,
}

/// Options of security-group-rule-list.
#[derive(Args, Debug)]
pub struct RuleList {
    /// Only this group's rules.
    #[arg(long)]
    security_group: Option<String>,
}

/// Options of tunnel-peer-create.
#[derive(Args, Debug)]
pub struct PeerCreate {
    /// The peer's underlay address.
    remote_ip: String,
}

/// `k=v,k=v` as pairs; every key must be one of `keys`.
fn pairs(s: &str, keys: &[&str]) -> Result<Vec<(String, String)>, String> {
    s.split(',')
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("{kv:?}: expected KEY=VALUE"))?;
            if !keys.contains(&k) {
                return Err(format!("unknown key {k:?} (expected {})", keys.join(", ")));
            }
            Ok((k.to_owned(), v.to_owned()))
        })
        .collect()
}

/// The value of `key` among `pairs`.
fn get(pairs: &[(String, String)], key: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

/// `start=IP,end=IP`.
fn pool(s: &str) -> Result<AllocationPool, String> {
    let p = pairs(s, &["start", "end"])?;
    let (Some(start), Some(end)) = (get(&p, "start"), get(&p, "end")) else {
        return Err("expected start=IP,end=IP".into());
    };
    Ok(AllocationPool { start, end })
}

/// `destination=CIDR,nexthop=IP`.
fn route(s: &str) -> Result<Route, String> {
    let p = pairs(s, &["destination", "nexthop"])?;
    let (Some(destination), Some(nexthop)) = (get(&p, "destination"), get(&p, "nexthop")) else {
        return Err("expected destination=CIDR,nexthop=IP".into());
    };
    Ok(Route {
        destination,
        nexthop,
    })
}

/// `subnet_id=SUBNET,ip_address=IP`, either part optional.
fn fixed_ip(s: &str) -> Result<FixedIpRequest, String> {
    let p = pairs(s, &["subnet_id", "subnet", "ip_address"])?;
    Ok(FixedIpRequest {
        subnet_id: get(&p, "subnet_id").or_else(|| get(&p, "subnet")),
        ip_address: get(&p, "ip_address"),
    })
}

/// `ip_address=IP[,mac_address=MAC]`.
fn address_pair(s: &str) -> Result<AddressPair, String> {
    let p = pairs(s, &["ip_address", "mac_address"])?;
    let ip_address = get(&p, "ip_address").ok_or("expected ip_address=IP[,mac_address=MAC]")?;
    Ok(AddressPair {
        ip_address,
        mac_address: get(&p, "mac_address"),
    })
}

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
            C::Show => (Op::Show(api::NoArgs {}), How::Text),
            C::Netns => (Op::Netns(api::NoArgs {}), How::Netns),
            C::DumpFlows => (Op::DumpFlows(api::NoArgs {}), How::Flows),
            C::Stats => (Op::Stats(api::NoArgs {}), How::Stats),
        })
    }
}
