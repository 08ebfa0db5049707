//! Compiles routers for the data plane: their ports (`qr-…`, `qg-…`), routes (connected,
//! static, default via the external subnet's gateway) and NAT (SNAT address, floating IPs).

use crate::addr::{parse_ipv4_u32 as ip, parse_mac, Ipv4Cidr};
use crate::model::{owner, FloatingIp, Port, Router, Topology};
use std::collections::HashMap;
use vrouter::tables::router::{Route, RouterConf, RouterPort};
use vrouter::tables::{LocalIf, LocalKind, NetIdx};

/// The compiled routers, in model order (the index [`LocalKind::Router`] names).
pub(crate) fn routers(topo: &Topology, tags: &HashMap<&str, NetIdx>) -> Vec<RouterConf> {
    let hosts = hosts(topo);
    topo.routers
        .iter()
        .map(|r| router(topo, tags, r, &hosts))
        .collect()
}

/// The addresses and MAC of a port that is not the appliance's own, parsed once per
/// compile (every router looks for its neighbours among them).
struct Host {
    ips: Vec<u32>,
    mac: Option<vrouter::Mac>,
}

/// Every port that is not the appliance's own, in model order.
fn hosts(topo: &Topology) -> Vec<Host> {
    let ports = topo.ports.iter().filter(|p| !p.is_network_owned());
    ports
        .map(|p| Host {
            ips: p
                .fixed_ips
                .iter()
                .filter_map(|f| ip(&f.ip_address))
                .collect(),
            mac: parse_mac(&p.mac_address),
        })
        .collect()
}

/// A port of router `r` and the CIDR of its subnet.
fn router_port(
    topo: &Topology,
    tags: &HashMap<&str, NetIdx>,
    p: &Port,
) -> Option<(RouterPort, Ipv4Cidr)> {
    let fixed = p.fixed_ips.first()?;
    let subnet = topo.subnets.iter().find(|s| s.id == fixed.subnet_id)?;
    let cidr = Ipv4Cidr::parse(&subnet.cidr)?;
    let net = topo.network(&p.network_id)?;
    Some((
        RouterPort {
            port_id: p.id.clone(),
            net: *tags.get(&*p.network_id)?,
            mac: parse_mac(&p.mac_address)?,
            ip: ip(&fixed.ip_address)?,
            prefix_len: cidr.prefix_len,
            mtu: net.effective_mtu(),
            external: p.device_owner == owner::ROUTER_GATEWAY,
        },
        cidr,
    ))
}

/// The ports of router `r`: interfaces and gateway, in model order.
fn ports_of<'a>(topo: &'a Topology, r: &'a Router) -> impl Iterator<Item = &'a Port> {
    topo.ports.iter().filter(move |p| {
        p.device_id == r.id
            && matches!(
                p.device_owner.as_str(),
                owner::ROUTER_INTERFACE | owner::ROUTER_GATEWAY
            )
    })
}

/// One router; `hosts` are the ports it may have as neighbours.
fn router(topo: &Topology, tags: &HashMap<&str, NetIdx>, r: &Router, hosts: &[Host]) -> RouterConf {
    let mut conf = RouterConf {
        id: r.id.clone(),
        name: r.name.clone(),
        ..RouterConf::default()
    };
    for p in ports_of(topo, r) {
        let Some((port, cidr)) = router_port(topo, tags, p) else {
            continue;
        };
        let i = conf.ports.len();
        conf.routes.push(Route {
            prefix: u32::from(cidr.network()),
            len: cidr.prefix_len,
            via: None,
            port: i,
        });
        if port.external {
            let gw = topo
                .subnets
                .iter()
                .find(|s| Some(&s.id) == p.fixed_ips.first().map(|f| &f.subnet_id))
                .and_then(|s| ip(s.gateway_ip.as_deref()?));
            if let Some(gw) = gw {
                conf.routes.push(Route {
                    prefix: 0,
                    len: 0,
                    via: Some(gw),
                    port: i,
                });
            }
            if r.external_gateway.as_ref().is_some_and(|g| g.enable_snat) {
                conf.snat_ip = Some(port.ip);
            }
        }
        conf.ports.push(port);
    }
    for route in &r.routes {
        let (Some(cidr), Some(via)) = (Ipv4Cidr::parse(&route.destination), ip(&route.nexthop))
        else {
            continue;
        };
        let port = conf.ports.iter().position(|p| {
            let m = vrouter::tables::router::mask(p.prefix_len);
            via & m == p.ip & m
        });
        if let Some(port) = port {
            conf.routes.push(Route {
                prefix: u32::from(cidr.network()),
                len: cidr.prefix_len,
                via: Some(via),
                port,
            });
        }
    }
    conf.sort_routes();
    conf.neighbours = known_neighbours(topo, &conf, hosts);
    for (floating, fixed) in floating_ips(topo, r) {
        conf.fixed_of.insert(floating, fixed);
        conf.floating_of.insert(fixed, floating);
    }
    conf
}

/// Fixed IPs and MACs of the ports (not the appliance's own) on the router's networks,
/// then the static `[[neighbour]]` entries on those networks.
fn known_neighbours(
    topo: &Topology,
    conf: &RouterConf,
    hosts: &[Host],
) -> Vec<(u32, vrouter::Mac)> {
    let mut known = port_neighbours(conf, hosts);
    if topo.neighbours.is_empty() {
        return known;
    }
    let nets: Vec<&str> = topo
        .ports
        .iter()
        .filter(|p| conf.ports.iter().any(|rp| rp.port_id == p.id))
        .map(|p| p.network_id.as_str())
        .collect();
    known.extend(
        topo.neighbours
            .iter()
            .filter(|n| n.network_id.as_deref().is_some_and(|id| nets.contains(&id)))
            .filter_map(|n| Some((ip(&n.ip)?, parse_mac(&n.mac)?))),
    );
    known
}

/// Fixed IPs and MACs of the ports (not the appliance's own) on the router's networks.
fn port_neighbours(conf: &RouterConf, hosts: &[Host]) -> Vec<(u32, vrouter::Mac)> {
    let on_router = |h: &&Host| {
        conf.ports.iter().any(|rp| {
            let m = vrouter::tables::router::mask(rp.prefix_len);
            h.ips.iter().any(|a| a & m == rp.ip & m)
        })
    };
    hosts
        .iter()
        .filter(on_router)
        .filter_map(|h| Some((h, h.mac?)))
        .flat_map(|(h, mac)| h.ips.iter().map(move |&a| (a, mac)))
        .collect()
}

/// The associated floating IPs router `r` translates: (floating, fixed).
fn floating_ips(topo: &Topology, r: &Router) -> Vec<(u32, u32)> {
    topo.floatingips
        .iter()
        .filter(|f| router_of(topo, f).is_some_and(|x| x.id == r.id))
        .filter_map(|f| Some((ip(&f.floating_ip_address)?, fixed_ip(topo, f)?)))
        .collect()
}

/// The fixed IP a floating IP maps to, if it is associated.
fn fixed_ip(topo: &Topology, f: &FloatingIp) -> Option<u32> {
    let port = topo
        .ports
        .iter()
        .find(|p| Some(&p.id) == f.port_id.as_ref())?;
    match &f.fixed_ip_address {
        Some(a) => ip(a),
        None => ip(&port.fixed_ips.first()?.ip_address),
    }
}

/// The router of an associated floating IP: its `router_id`, or the router with a gateway
/// on the floating network and an interface on the fixed port's network.
fn router_of<'a>(topo: &'a Topology, f: &FloatingIp) -> Option<&'a Router> {
    let port = topo
        .ports
        .iter()
        .find(|p| Some(&p.id) == f.port_id.as_ref())?;
    if let Some(id) = &f.router_id {
        return topo.routers.iter().find(|r| &r.id == id);
    }
    topo.routers.iter().find(|r| {
        r.external_gateway
            .as_ref()
            .is_some_and(|g| g.network_id == f.floating_network_id)
            && ports_of(topo, r).any(|p| p.network_id == port.network_id)
    })
}

/// The floating IPs on network `net_id` as local addresses of their router's gateway
/// (so that the upstream router gets ARP answers for them).
pub(crate) fn floating_locals(topo: &Topology, net_id: &str) -> Vec<LocalIf> {
    let fips = topo
        .floatingips
        .iter()
        .filter(|f| f.floating_network_id == net_id);
    fips.filter_map(|f| {
        fixed_ip(topo, f)?;
        let r = router_of(topo, f)?;
        let ri = topo.routers.iter().position(|x| x.id == r.id)?;
        let gw = ports_of(topo, r).find(|p| p.device_owner == owner::ROUTER_GATEWAY)?;
        let subnet = topo.subnets.iter().find(|s| s.network_id == net_id)?;
        Some(LocalIf {
            port_id: f.id.clone(),
            mac: parse_mac(&gw.mac_address)?,
            ip: ip(&f.floating_ip_address)?,
            prefix_len: Ipv4Cidr::parse(&subnet.cidr)?.prefix_len,
            kind: LocalKind::Router(ri),
        })
    })
    .collect()
}
