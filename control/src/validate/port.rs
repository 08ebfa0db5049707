//! Ports: network, MAC, fixed IPs against their subnets, groups, bindings, owners.

use super::network::{parse_v4, SubnetInfo, Subnets};
use super::{Loc, Report};
use crate::addr::{parse_ip_prefix, parse_mac};
use crate::model::{owner, Binding, FixedIp, Network, Port, Topology};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::net::Ipv4Addr;
use vrouter::wire::Mac;

/// Addresses taken so far: MACs per network, IPs per subnet, with the port that took them.
#[derive(Default)]
struct Taken<'a> {
    macs: HashMap<(&'a str, Mac), &'a str>,
    ips: HashMap<(&'a str, Ipv4Addr), &'a str>,
}

/// Checks every port.
pub(super) fn check(
    topo: &Topology,
    subnets: &Subnets<'_>,
    peers: &HashSet<Ipv4Addr>,
    r: &mut Report,
) {
    let groups: HashSet<&str> = topo.security_groups.iter().map(|g| &*g.id).collect();
    let networks: HashMap<&str, &Network> = topo.networks.iter().map(|n| (&*n.id, n)).collect();
    let mut taken = Taken::default();
    for (i, p) in topo.ports.iter().enumerate() {
        let loc = Loc::new("port", &p.id, i);
        let network = networks.get(&*p.network_id).copied();
        if network.is_none() {
            let msg = format!("unknown network {:?}", p.network_id);
            r.add(&loc, "network_id", msg);
        }
        check_mac(p, &loc, &mut taken, r);
        for (j, fip) in p.fixed_ips.iter().enumerate() {
            check_fixed_ip(p, fip, subnets, (&loc, j), &mut taken, r);
        }
        for (j, g) in p.security_groups.iter().enumerate() {
            if !groups.contains(&**g) {
                let msg = format!("unknown security group {g:?}");
                r.add(&loc, format!("security_groups[{j}]"), msg);
            }
        }
        if !p.port_security_enabled && !p.security_groups.is_empty() {
            let msg = "false, but security_groups is not empty";
            r.add(&loc, "port_security_enabled", msg);
        }
        for (j, pair) in p.allowed_address_pairs.iter().enumerate() {
            let field = format!("allowed_address_pairs[{j}]");
            if parse_ip_prefix(&pair.ip_address).is_none() {
                let msg = format!("invalid IP address or prefix {:?}", pair.ip_address);
                r.add(&loc, format!("{field}.ip_address"), msg);
            }
            if let Some(mac) = pair.mac_address.as_ref().filter(|m| parse_mac(m).is_none()) {
                let msg = format!("invalid MAC address {mac:?}");
                r.add(&loc, format!("{field}.mac_address"), msg);
            }
        }
        check_binding(network, p, peers, &loc, r);
        super::dhcp::check_port(p, &loc, r);
        check_owner(topo, p, &loc, r);
    }
}

/// Records that `port` takes `key`; returns the port that took it first, if another did.
fn first_owner<'a, K: Eq + Hash>(
    map: &mut HashMap<K, &'a str>,
    key: K,
    port: &'a str,
) -> Option<&'a str> {
    match map.entry(key) {
        Entry::Occupied(o) => Some(*o.get()),
        Entry::Vacant(v) => {
            v.insert(port);
            None
        }
    }
}

/// A unicast MAC, unique on the port's network.
fn check_mac<'a>(p: &'a Port, loc: &Loc, taken: &mut Taken<'a>, r: &mut Report) {
    let Some(mac) = parse_mac(&p.mac_address) else {
        let msg = format!("invalid MAC address {:?}", p.mac_address);
        return r.add(loc, "mac_address", msg);
    };
    if !mac.is_unicast() {
        return r.add(
            loc,
            "mac_address",
            format!("{mac} is not a unicast address"),
        );
    }
    if let Some(other) = first_owner(&mut taken.macs, (&p.network_id, mac), &p.id) {
        let msg = format!(
            "{mac} already used on network {} by port {other}",
            p.network_id
        );
        r.in_use(loc, "mac_address", msg);
    }
}

/// A fixed IP: a known subnet of the port's network, an address of it in a pool (or the
/// gateway, for a router interface), unique in the subnet.
fn check_fixed_ip<'a>(
    p: &'a Port,
    fip: &'a FixedIp,
    subnets: &Subnets<'_>,
    at: (&Loc, usize),
    taken: &mut Taken<'a>,
    r: &mut Report,
) {
    let (loc, j) = at;
    let field = format!("fixed_ips[{j}]");
    let sid = &*fip.subnet_id;
    let subnet = subnets.get(sid);
    match subnet {
        None => r.add(
            loc,
            format!("{field}.subnet_id"),
            format!("unknown subnet {sid:?}"),
        ),
        Some(s) if s.network_id != p.network_id => {
            let msg = format!(
                "subnet {sid} belongs to network {}, not to the port's network {}",
                s.network_id, p.network_id
            );
            r.add(loc, format!("{field}.subnet_id"), msg);
        }
        Some(_) => {}
    }
    let ip_field = format!("{field}.ip_address");
    let Some(ip) = parse_v4(&fip.ip_address, loc, &ip_field, r) else {
        return;
    };
    if let Some(msg) = subnet.and_then(|s| address_problem(p, s, sid, ip)) {
        r.add(loc, &*ip_field, msg);
    }
    if let Some(other) = first_owner(&mut taken.ips, (sid, ip), &p.id) {
        r.in_use(
            loc,
            ip_field,
            format!("{ip} already used in subnet {sid} by port {other}"),
        );
    }
}

/// Why `ip` may not be a fixed IP of port `p` on subnet `sid`, if it may not.
fn address_problem(p: &Port, s: &SubnetInfo<'_>, sid: &str, ip: Ipv4Addr) -> Option<String> {
    let c = s.cidr?;
    let (first, last) = c.host_range();
    if !c.contains(ip) {
        Some(format!("{ip} is outside subnet {sid} ({c})"))
    } else if !(first..=last).contains(&ip) {
        Some(format!("{ip} is not a host address of subnet {sid} ({c})"))
    } else if s.gateway == Some(ip) {
        (p.device_owner != owner::ROUTER_INTERFACE).then(|| {
            format!(
                "{ip} is the gateway_ip of subnet {sid}; only a {} port may use it",
                owner::ROUTER_INTERFACE
            )
        })
    } else if s.in_pool(ip) == Some(false) {
        Some(format!(
            "{ip} is outside the allocation pools of subnet {sid}"
        ))
    } else {
        None
    }
}

/// Only VM ports are bound; a peer binding names a declared tunnel peer. `network` is
/// the port's network, if it exists.
fn check_binding(
    network: Option<&Network>,
    p: &Port,
    peers: &HashSet<Ipv4Addr>,
    loc: &Loc,
    r: &mut Report,
) {
    let Some(binding) = &p.binding else { return };
    if p.is_network_owned() {
        let msg = format!(
            "a {} port is served inside the appliance and cannot be bound",
            p.device_owner
        );
        return r.add(loc, "binding", msg);
    }
    if let Binding::Peer(text) = binding {
        let ip = parse_v4(text, loc, "binding.peer", r);
        if let Some(ip) = ip.filter(|ip| !peers.contains(ip)) {
            r.add(loc, "binding.peer", format!("{ip} is not a tunnel_peer"));
        }
        let flat = network.filter(|n| n.segmentation_id.is_none());
        if let Some(n) = flat {
            let msg = format!(
                "network {} has no segmentation_id: it is not carried over GRE",
                n.id
            );
            r.add(loc, "binding.peer", msg);
        }
    }
}

/// Router and floating IP ports name their router or floating IP in `device_id`.
fn check_owner(topo: &Topology, p: &Port, loc: &Loc, r: &mut Report) {
    let id = &*p.device_id;
    match &*p.device_owner {
        owner::ROUTER_INTERFACE | owner::ROUTER_GATEWAY => {
            let Some(router) = topo.routers.iter().find(|x| x.id == id) else {
                return r.add(loc, "device_id", format!("unknown router {id:?}"));
            };
            if p.device_owner != owner::ROUTER_GATEWAY {
                return;
            }
            match &router.external_gateway {
                None => r.add(
                    loc,
                    "device_id",
                    format!("router {id} has no external_gateway"),
                ),
                Some(gw) if gw.network_id != p.network_id => {
                    let msg = format!(
                        "router {id} has its external gateway on network {}",
                        gw.network_id
                    );
                    r.add(loc, "network_id", msg);
                }
                Some(_) => {}
            }
        }
        owner::FLOATING_IP if !topo.floatingips.iter().any(|f| f.id == id) => {
            r.add(loc, "device_id", format!("unknown floatingip {id:?}"));
        }
        _ => {}
    }
}
