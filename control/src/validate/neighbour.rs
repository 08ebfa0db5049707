//! Static neighbours: a valid address and unicast MAC, on the underlay's subnet or on a
//! subnet of their network, not an address the model already knows, listed once.

use super::network::{parse_v4, Subnets};
use super::{Loc, Report};
use crate::addr::{parse_mac, Ipv4Cidr};
use crate::model::{Topology, UplinkRole};
use std::collections::HashMap;
use std::net::Ipv4Addr;

/// Checks every `[[neighbour]]`.
pub(super) fn check(topo: &Topology, subnets: &Subnets<'_>, r: &mut Report) {
    let mut seen: HashMap<(&str, Ipv4Addr), usize> = HashMap::new();
    for (i, n) in topo.neighbours.iter().enumerate() {
        let loc = Loc::new("neighbour", &n.ip, i);
        if parse_mac(&n.mac).filter(|m| m.is_unicast()).is_none() {
            let msg = format!("invalid unicast MAC address {:?}", n.mac);
            r.add(&loc, "mac", msg);
        }
        let ip = parse_v4(&n.ip, &loc, "ip", r);
        let scope = match (&n.uplink, &n.network_id) {
            (Some(u), None) => on_uplink(topo, u, ip, &loc, r).then_some(u),
            (None, Some(net)) => on_network(topo, subnets, net, ip, &loc, r).then_some(net),
            (Some(_), Some(_)) => {
                let msg = "give either `uplink` (the underlay) or `network_id`, not both";
                r.add(&loc, "network_id", msg);
                None
            }
            (None, None) => {
                let msg = "needs `uplink` (a host on the underlay, e.g. \"eth1\") or \
                           `network_id` (a host on a router's network)";
                r.add(&loc, "ip", msg);
                None
            }
        };
        if let (Some(scope), Some(ip)) = (scope, ip) {
            if let Some(first) = seen.insert((scope.as_str(), ip), i) {
                let msg = format!("{ip} on {scope} is already given by neighbour #{first}");
                r.in_use(&loc, "ip", msg);
            }
        }
    }
}

/// A neighbour on uplink `name`: the underlay, on its subnet, not its own address.
fn on_uplink(topo: &Topology, name: &str, ip: Option<Ipv4Addr>, loc: &Loc, r: &mut Report) -> bool {
    let Some(u) = topo.uplinks.iter().find(|u| u.name == name) else {
        r.add(loc, "uplink", format!("no uplink is named {name:?}"));
        return false;
    };
    let UplinkRole::Underlay { local_ip, .. } = &u.role else {
        let msg = format!(
            "uplink {name} has role \"{}\"; static neighbours on an uplink are for the \
             underlay (give `network_id` for a host on a network)",
            u.role.as_str()
        );
        r.add(loc, "uplink", msg);
        return false;
    };
    let (Some(ip), Some(cidr)) = (ip, Ipv4Cidr::parse(local_ip)) else {
        return true;
    };
    if ip == cidr.addr {
        r.add(loc, "ip", format!("{ip} is the underlay's own address"));
    } else if !cidr.contains(ip) || ip == cidr.network() || ip == cidr.broadcast() {
        let msg = format!(
            "{ip} is not a host of {name}'s subnet {}/{} (a neighbour is on-link: a \
             peer there, or the underlay's gateway)",
            cidr.network(),
            cidr.prefix_len
        );
        r.add(loc, "ip", msg);
    }
    true
}

/// A neighbour on network `net`: a host of one of its subnets that no port holds.
fn on_network(
    topo: &Topology,
    subnets: &Subnets<'_>,
    net: &str,
    ip: Option<Ipv4Addr>,
    loc: &Loc,
    r: &mut Report,
) -> bool {
    if topo.network(net).is_none() {
        r.add(loc, "network_id", format!("unknown network {net:?}"));
        return false;
    }
    let Some(ip) = ip else {
        return true;
    };
    let mut cidrs: Vec<Ipv4Cidr> = subnets
        .values()
        .filter(|s| s.network_id == net)
        .filter_map(|s| s.cidr)
        .collect();
    cidrs.sort_by_key(|c| (u32::from(c.addr), c.prefix_len));
    let host = |c: &Ipv4Cidr| c.contains(ip) && ip != c.network() && ip != c.broadcast();
    if !cidrs.iter().any(host) {
        let list: Vec<String> = cidrs
            .iter()
            .map(|c| format!("{}/{}", c.network(), c.prefix_len))
            .collect();
        let msg = if list.is_empty() {
            format!("{ip}: network {net} has no subnet")
        } else {
            format!(
                "{ip} is not a host of a subnet of network {net} ({})",
                list.join(", ")
            )
        };
        r.add(loc, "ip", msg);
        return true;
    }
    let holder = topo.ports.iter().find(|p| {
        p.network_id == net
            && p.fixed_ips
                .iter()
                .any(|f| f.ip_address.parse::<Ipv4Addr>() == Ok(ip))
    });
    if let Some(p) = holder {
        let msg = format!(
            "{ip} is the address of port {}: its MAC is known from the port",
            p.id
        );
        r.add(loc, "ip", msg);
    }
    true
}
