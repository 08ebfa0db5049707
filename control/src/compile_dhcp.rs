//! Compiles the DHCP server of each network: what Neutron's DHCP agent wrote into dnsmasq's
//! host and option files in `qdhcp-<network id>`. A network gets a server when it has a
//! DHCP port with an address on a DHCP-enabled subnet; every other port of the network (VM
//! ports) with a fixed IP on such a subnet gets a static binding.

use crate::addr::{parse_ipv4_u32 as ip, parse_mac, Ipv4Cidr};
use crate::model::{owner, Network, Port, Subnet, Topology};
use std::collections::HashMap;
use vrouter::tables::dhcp::{
    DhcpBinding, DhcpServer, DhcpSubnet, DEFAULT_DOMAIN, DEFAULT_LEASE_SECS,
};
use vrouter::tables::NetIdx;
use vrouter::wire::dhcp::Route;

/// The DHCP servers of the networks that have one, by local VLAN tag.
pub(crate) fn servers(
    topo: &Topology,
    tags: &HashMap<&str, NetIdx>,
) -> hashbrown::HashMap<NetIdx, DhcpServer> {
    topo.networks
        .iter()
        .filter_map(|n| Some((*tags.get(&*n.id)?, server(topo, n)?)))
        .collect()
}

/// The server of network `net`, if it has a DHCP port on a DHCP-enabled subnet.
fn server(topo: &Topology, net: &Network) -> Option<DhcpServer> {
    let port = topo
        .ports
        .iter()
        .find(|p| p.network_id == net.id && p.device_owner == owner::DHCP)?;
    let subnets: Vec<DhcpSubnet> = topo
        .subnets_of(&net.id)
        .filter(|s| s.enable_dhcp)
        .filter_map(|s| subnet(net, s, port))
        .collect();
    if subnets.is_empty() {
        return None;
    }
    let bindings = topo
        .ports
        .iter()
        .filter(|p| p.network_id == net.id && !p.is_network_owned())
        .filter_map(|p| Some((parse_mac(&p.mac_address)?, binding(p, &subnets)?)))
        .collect();
    Some(DhcpServer {
        port_id: port.id.clone(),
        mac: parse_mac(&port.mac_address)?,
        subnets,
        bindings,
    })
}

/// Subnet `s` as served by DHCP port `port`, if the port has an address on it. Host routes
/// become option 121 with the default route last, and a host route to 0.0.0.0/0 replaces
/// the gateway, as Neutron's DHCP agent does.
fn subnet(net: &Network, s: &Subnet, port: &Port) -> Option<DhcpSubnet> {
    let fixed = port.fixed_ips.iter().find(|f| f.subnet_id == s.id)?;
    let cidr = Ipv4Cidr::parse(&s.cidr)?;
    let mut router = s.gateway_ip.as_deref().and_then(ip);
    let mut routes = Vec::new();
    for hr in &s.host_routes {
        let (Some(dest), Some(gateway)) = (Ipv4Cidr::parse(&hr.destination), ip(&hr.nexthop))
        else {
            continue;
        };
        if dest.prefix_len == 0 {
            router = Some(gateway);
        } else {
            routes.push(Route {
                dest: u32::from(dest.network()),
                prefix_len: dest.prefix_len,
                gateway,
            });
        }
    }
    if let Some(gateway) = router.filter(|_| !routes.is_empty()) {
        routes.push(Route {
            dest: 0,
            prefix_len: 0,
            gateway,
        });
    }
    let domain = s.dns_domain.as_deref().unwrap_or(DEFAULT_DOMAIN);
    Some(DhcpSubnet {
        id: s.id.clone(),
        server_ip: ip(&fixed.ip_address)?,
        prefix_len: cidr.prefix_len,
        router,
        dns_servers: s.dns_nameservers.iter().filter_map(|d| ip(d)).collect(),
        domain: domain.trim_end_matches('.').to_owned(),
        lease_secs: s.dhcp_lease_duration.unwrap_or(DEFAULT_LEASE_SECS),
        mtu: net.effective_mtu(),
        routes,
    })
}

/// The binding of VM port `p`: its first fixed IP on a served subnet, and its host name
/// (the DNS name, or `host-10-0-0-9` as Neutron's dnsmasq names hosts).
fn binding(p: &Port, subnets: &[DhcpSubnet]) -> Option<DhcpBinding> {
    p.fixed_ips.iter().find_map(|f| {
        let subnet = subnets.iter().position(|s| s.id == f.subnet_id)?;
        Some(DhcpBinding {
            port_id: p.id.clone(),
            ip: ip(&f.ip_address)?,
            subnet,
            host_name: p
                .dns_name
                .clone()
                .unwrap_or_else(|| format!("host-{}", f.ip_address.replace('.', "-"))),
        })
    })
}

#[cfg(test)]
mod tests {
    use crate::model::Topology;
    use vrouter::wire::dhcp::Route;
    use vrouter::Mac;

    const TENANT_NET: u16 = 10;

    fn topo(extra: &str) -> Topology {
        let text = include_str!("../../configs/tenant-a.toml").replace(
            "# dns_nameservers = [\"8.8.8.8\"]          # none in the seed",
            extra,
        );
        crate::load_str(&text, "tenant-a.toml").expect("loads")
    }

    fn compile(t: &Topology) -> vrouter::tables::Snapshot {
        let names: Vec<String> = t.devices().into_iter().map(|(n, _)| n).collect();
        crate::compile(t, &names, 1).expect("compiles")
    }

    #[test]
    fn reference_topology_serves_tenant_net_only() {
        let snap = compile(&topo(""));
        assert_eq!(snap.dhcp.len(), 1, "Ext-Net has DHCP disabled");
        let s = &snap.dhcp[&TENANT_NET];
        assert_eq!(s.port_id, "2df7c3ed-dfbb-480d-9cd3-fdefa079e66a");
        assert_eq!(s.mac, "fa:16:3e:da:41:49".parse::<Mac>().unwrap());
        let sub = &s.subnets[0];
        assert_eq!(sub.server_ip, u32::from_be_bytes([10, 0, 0, 3]));
        assert_eq!((sub.prefix_len, sub.mtu, sub.lease_secs), (24, 1458, 86400));
        assert_eq!(sub.router, Some(u32::from_be_bytes([10, 0, 0, 1])));
        assert_eq!(sub.domain, "openstacklocal");
        assert!(sub.dns_servers.is_empty() && sub.routes.is_empty());
        // The two VM ports, not the router, DHCP or floating IP ports.
        assert_eq!(s.bindings.len(), 2);
        let vm001 = &s.bindings[&"fa:16:3e:75:e0:5a".parse::<Mac>().unwrap()];
        assert_eq!(vm001.ip, u32::from_be_bytes([10, 0, 0, 10]));
        assert_eq!(vm001.host_name, "host-10-0-0-10");
        assert_eq!(vm001.port_id, "d7233b80-9d4b-4ef6-a60d-19b3be661069");
    }

    #[test]
    fn subnet_options_and_host_routes() {
        let t = topo(
            "dns_nameservers = [\"10.1.101.254\", \"2001:db8::1\"]\n\
             dns_domain = \"tenant-a.example.\"\n\
             dhcp_lease_duration = 3600\n\
             host_routes = [{ destination = \"192.168.0.0/16\", nexthop = \"10.0.0.254\" },\n\
                            { destination = \"0.0.0.0/0\", nexthop = \"10.0.0.2\" }]",
        );
        let snap = compile(&t);
        let sub = &snap.dhcp[&TENANT_NET].subnets[0];
        assert_eq!(sub.dns_servers, vec![u32::from_be_bytes([10, 1, 101, 254])]);
        assert_eq!(sub.domain, "tenant-a.example");
        assert_eq!(sub.lease_secs, 3600);
        let gw = u32::from_be_bytes([10, 0, 0, 2]);
        assert_eq!(sub.router, Some(gw));
        assert_eq!(
            sub.routes,
            vec![
                Route {
                    dest: u32::from_be_bytes([192, 168, 0, 0]),
                    prefix_len: 16,
                    gateway: u32::from_be_bytes([10, 0, 0, 254]),
                },
                Route {
                    dest: 0,
                    prefix_len: 0,
                    gateway: gw
                },
            ]
        );
    }

    #[test]
    fn dns_name_names_the_host_and_disabled_dhcp_serves_nothing() {
        let mut t = topo("");
        t.ports[1].dns_name = Some("vm002".into());
        let snap = compile(&t);
        let vm002 = &snap.dhcp[&TENANT_NET].bindings[&"fa:16:3e:51:a2:97".parse::<Mac>().unwrap()];
        assert_eq!(vm002.host_name, "vm002");
        t.subnets[0].enable_dhcp = false;
        assert!(compile(&t).dhcp.is_empty());
    }

    #[test]
    fn bad_dhcp_fields_are_reported() {
        let mut t = topo("");
        t.subnets[0].dns_domain = Some("bad domain".into());
        t.subnets[0].dhcp_lease_duration = Some(10);
        t.ports[0].dns_name = Some("-x".into());
        t.subnets[0].dns_nameservers = vec!["10.0.0.1".into(); 6];
        let errs = t.validate().unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "dns_nameservers",
                "dns_domain",
                "dhcp_lease_duration",
                "dns_name"
            ]
        );
    }
}
