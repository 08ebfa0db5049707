//! Routers (external gateway, static routes) and floating IPs.

use super::network::{check_route, parse_v4, Subnets};
use super::{Loc, Report};
use crate::model::{owner, FloatingIp, Topology};
use std::collections::HashMap;
use std::net::Ipv4Addr;

/// Reports `field` unless `network_id` names an external network.
fn check_external(topo: &Topology, network_id: &str, loc: &Loc, field: &str, r: &mut Report) {
    match topo.network(network_id) {
        None => r.add(loc, field, format!("unknown network {network_id:?}")),
        Some(n) if !n.router_external => {
            let msg = format!("network {network_id} is not external (router_external = false)");
            r.add(loc, field, msg);
        }
        Some(_) => {}
    }
}

/// Checks every router's external gateway and static routes.
pub(super) fn check_routers(topo: &Topology, subnets: &Subnets<'_>, r: &mut Report) {
    for (i, router) in topo.routers.iter().enumerate() {
        let loc = Loc::new("router", &router.id, i);
        if let Some(gw) = &router.external_gateway {
            check_external(topo, &gw.network_id, &loc, "external_gateway.network_id", r);
        }
        let connected: Vec<_> = topo
            .ports
            .iter()
            .filter(|p| p.device_id == router.id)
            .filter(|p| {
                [owner::ROUTER_INTERFACE, owner::ROUTER_GATEWAY].contains(&&*p.device_owner)
            })
            .flat_map(|p| &p.fixed_ips)
            .filter_map(|f| subnets.get(&*f.subnet_id)?.cidr)
            .collect();
        for (j, route) in router.routes.iter().enumerate() {
            let field = format!("routes[{j}]");
            let Some(hop) = check_route(route, &loc, &field, r) else {
                continue;
            };
            if !connected.iter().any(|c| c.contains(hop)) {
                let msg = format!("{hop} is not on a subnet connected to router {}", loc.id);
                r.add(&loc, format!("{field}.nexthop"), msg);
            }
        }
    }
}

/// Checks every floating IP: its external network and address, its port and router.
pub(super) fn check_floatingips(topo: &Topology, subnets: &Subnets<'_>, r: &mut Report) {
    let mut addresses: HashMap<Ipv4Addr, &str> = HashMap::new();
    let mut targets: HashMap<(String, String), &str> = HashMap::new();
    for (i, f) in topo.floatingips.iter().enumerate() {
        let loc = Loc::new("floatingip", &f.id, i);
        let net = &*f.floating_network_id;
        check_external(topo, net, &loc, "floating_network_id", r);
        if let Some(ip) = parse_v4(&f.floating_ip_address, &loc, "floating_ip_address", r) {
            // A subnet with a bad CIDR (reported already) could hold the address.
            let mut own = subnets.values().filter(|s| s.network_id == net);
            if own.all(|s| s.cidr.is_some_and(|c| !c.contains(ip))) {
                let msg = format!("{ip} is not in a subnet of network {net}");
                r.add(&loc, "floating_ip_address", msg);
            }
            if let Some(other) = addresses.get(&ip) {
                let msg = format!("{ip} already used by floatingip {other}");
                r.in_use(&loc, "floating_ip_address", msg);
            } else {
                addresses.insert(ip, &f.id);
            }
            if let Some(msg) = port_address(topo, net, ip) {
                r.add(&loc, "floating_ip_address", msg);
            }
        }
        check_association(topo, f, &loc, r);
        if let Some(target) = fixed_target(topo, f) {
            if let Some(other) = targets.insert(target.clone(), &f.id) {
                let msg = format!(
                    "port {} fixed IP {} already has floatingip {other} (one floating IP per \
                     fixed IP)",
                    target.0, target.1
                );
                r.in_use(&loc, "port_id", msg);
            }
        }
    }
}

/// What a port other than a floating IP's holder uses `ip` on network `net` for, if any:
/// a floating IP there would take the router gateway's (SNAT) or another port's address.
fn port_address(topo: &Topology, net: &str, ip: Ipv4Addr) -> Option<String> {
    let holder = topo.ports.iter().find(|p| {
        p.network_id == net
            && p.device_owner != owner::FLOATING_IP
            && p.fixed_ips.iter().any(|x| x.ip_address.parse() == Ok(ip))
    })?;
    Some(if holder.device_owner == owner::ROUTER_GATEWAY {
        format!(
            "{ip} is the external gateway (SNAT) address of router {} (port {})",
            holder.device_id, holder.id
        )
    } else {
        format!("{ip} is the fixed IP of port {}", holder.id)
    })
}

/// The (port, fixed IP) an associated floating IP maps to: its `fixed_ip_address`, or the
/// port's first fixed IP.
fn fixed_target(topo: &Topology, f: &FloatingIp) -> Option<(String, String)> {
    let port_id = f.port_id.as_ref()?;
    let fixed = match &f.fixed_ip_address {
        Some(ip) => ip.clone(),
        None => {
            let port = topo.ports.iter().find(|p| &p.id == port_id)?;
            port.fixed_ips.first()?.ip_address.clone()
        }
    };
    Some((port_id.clone(), fixed))
}

/// The associated port and fixed IP exist, and the router has its gateway on the network.
fn check_association(topo: &Topology, f: &FloatingIp, loc: &Loc, r: &mut Report) {
    let port = f.port_id.as_ref().map(|id| {
        let port = topo.ports.iter().find(|p| &p.id == id);
        if port.is_none() {
            r.add(loc, "port_id", format!("unknown port {id:?}"));
        }
        port
    });
    if let Some(text) = &f.fixed_ip_address {
        let ip = parse_v4(text, loc, "fixed_ip_address", r);
        match (port, ip) {
            (None, _) => r.add(loc, "fixed_ip_address", "set without port_id"),
            (Some(Some(p)), Some(ip)) => {
                let own = p.fixed_ips.iter().any(|x| x.ip_address.parse() == Ok(ip));
                if !own {
                    let msg = format!("{ip} is not a fixed IP of port {}", p.id);
                    r.add(loc, "fixed_ip_address", msg);
                }
            }
            _ => {}
        }
    }
    if let Some(id) = &f.router_id {
        match topo.routers.iter().find(|x| &x.id == id) {
            None => r.add(loc, "router_id", format!("unknown router {id:?}")),
            Some(router) => {
                let gw = router.external_gateway.as_ref().map(|g| &*g.network_id);
                if gw != Some(&*f.floating_network_id) {
                    let msg = format!(
                        "router {id} has no external gateway on network {}",
                        f.floating_network_id
                    );
                    r.add(loc, "router_id", msg);
                }
            }
        }
    }
}
