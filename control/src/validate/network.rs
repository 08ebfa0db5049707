//! Networks (tags, keys, MTU) and subnets (CIDR, gateway, pools, overlaps).

use super::{Loc, Report};
use crate::addr::Ipv4Cidr;
use crate::model::{Route, Subnet, Topology};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};

/// Smallest MTU an IPv4 network may have (RFC 791).
const MIN_MTU: u16 = 68;

/// What later checks need to know of a subnet; only what parsed is kept.
pub(super) struct SubnetInfo<'a> {
    /// The network it belongs to.
    pub network_id: &'a str,
    /// Its prefix, when valid.
    pub cidr: Option<Ipv4Cidr>,
    /// Its gateway, when valid.
    pub gateway: Option<Ipv4Addr>,
    /// Its allocation pools as inclusive ranges; `None` when one of them is invalid.
    pub pools: Option<Vec<(Ipv4Addr, Ipv4Addr)>>,
}

impl SubnetInfo<'_> {
    /// Whether `ip` is in an allocation pool; `None` when that cannot be known.
    pub fn in_pool(&self, ip: Ipv4Addr) -> Option<bool> {
        let pools = self.pools.as_ref()?;
        if pools.is_empty() {
            let (first, last) = self.cidr?.host_range();
            return Some((first..=last).contains(&ip) && Some(ip) != self.gateway);
        }
        Some(pools.iter().any(|(s, e)| (*s..=*e).contains(&ip)))
    }
}

/// Subnets by id (the first of a duplicated id).
pub(super) type Subnets<'a> = HashMap<&'a str, SubnetInfo<'a>>;

/// Checks local VLAN tags, segmentation ids and MTUs.
pub(super) fn check_networks(topo: &Topology, r: &mut Report) {
    let mut tags: HashMap<u16, &str> = HashMap::new();
    let mut keys: HashMap<u32, &str> = HashMap::new();
    let allocated = topo.local_vlans();
    for (i, n) in topo.networks.iter().enumerate() {
        let loc = Loc::new("network", &n.id, i);
        match n.local_vlan {
            Some(tag) if !(1..=4094).contains(&tag) => {
                r.add(&loc, "local_vlan", format!("{tag} is out of 1..=4094"));
            }
            Some(tag) => {
                if let Some(other) = tags.insert(tag, &n.id) {
                    let msg = format!("{tag} already used by network {other}");
                    r.in_use(&loc, "local_vlan", msg);
                }
            }
            None if allocated.get(i).copied().flatten().is_none() => {
                r.add(
                    &loc,
                    "local_vlan",
                    "no free local VLAN tag left in 1..=4094",
                );
            }
            None => {}
        }
        if let Some(key) = n.segmentation_id {
            if let Some(other) = keys.insert(key, &n.id) {
                let msg = format!("{key} already used by network {other}");
                r.in_use(&loc, "segmentation_id", msg);
            }
        }
        if let Some(mtu) = n.mtu.filter(|&m| m < MIN_MTU) {
            r.add(
                &loc,
                "mtu",
                format!("{mtu} is below the IPv4 minimum {MIN_MTU}"),
            );
        }
    }
}

/// Checks every subnet and returns what later checks need of them.
pub(super) fn check_subnets<'a>(topo: &'a Topology, r: &mut Report) -> Subnets<'a> {
    let networks: HashSet<&str> = topo.networks.iter().map(|n| &*n.id).collect();
    let mut out = Subnets::new();
    let mut seen: Vec<(&str, Ipv4Cidr)> = Vec::new();
    for (i, s) in topo.subnets.iter().enumerate() {
        let loc = Loc::new("subnet", &s.id, i);
        if !networks.contains(&*s.network_id) {
            let msg = format!("unknown network {:?}", s.network_id);
            r.add(&loc, "network_id", msg);
        }
        let cidr = check_cidr(s, &loc, r);
        if let Some(c) = cidr {
            if let Some((other, oc)) = seen.iter().find(|(_, oc)| oc.overlaps(&c)) {
                r.add(&loc, "cidr", format!("{c} overlaps subnet {other} ({oc})"));
            }
            seen.push((&s.id, c));
        }
        let gateway = check_gateway(s, cidr, &loc, r);
        let pools = check_pools(s, cidr, gateway, &loc, r);
        for (j, dns) in s.dns_nameservers.iter().enumerate() {
            if dns.parse::<IpAddr>().is_err() {
                let msg = format!("invalid IP address {dns:?}");
                r.add(&loc, format!("dns_nameservers[{j}]"), msg);
            }
        }
        for (j, route) in s.host_routes.iter().enumerate() {
            check_route(route, &loc, &format!("host_routes[{j}]"), r);
        }
        super::dhcp::check_subnet(s, &loc, r);
        let info = SubnetInfo {
            network_id: &s.network_id,
            cidr,
            gateway,
            pools,
        };
        out.entry(&s.id).or_insert(info);
    }
    out
}

/// The subnet's prefix; host bits must be clear.
fn check_cidr(s: &Subnet, loc: &Loc, r: &mut Report) -> Option<Ipv4Cidr> {
    let Some(c) = Ipv4Cidr::parse(&s.cidr) else {
        r.add(loc, "cidr", format!("invalid CIDR {:?}", s.cidr));
        return None;
    };
    let net = Ipv4Cidr {
        addr: c.network(),
        ..c
    };
    if net != c {
        let msg = format!("{:?} has host bits set (the network is {net})", s.cidr);
        r.add(loc, "cidr", msg);
    }
    Some(net)
}

/// The gateway: a host address of the subnet.
fn check_gateway(
    s: &Subnet,
    cidr: Option<Ipv4Cidr>,
    loc: &Loc,
    r: &mut Report,
) -> Option<Ipv4Addr> {
    let text = s.gateway_ip.as_ref()?;
    let Ok(ip) = text.parse::<Ipv4Addr>() else {
        r.add(loc, "gateway_ip", format!("invalid IPv4 address {text:?}"));
        return None;
    };
    if let Some(c) = cidr {
        let (first, last) = c.host_range();
        if !c.contains(ip) {
            r.add(loc, "gateway_ip", format!("{ip} is outside cidr {c}"));
        } else if !(first..=last).contains(&ip) {
            let msg = format!("{ip} is not a host address of cidr {c}");
            r.add(loc, "gateway_ip", msg);
        }
    }
    Some(ip)
}

/// The pools: valid, ordered, inside the host range, disjoint, not holding the gateway.
fn check_pools(
    s: &Subnet,
    cidr: Option<Ipv4Cidr>,
    gateway: Option<Ipv4Addr>,
    loc: &Loc,
    r: &mut Report,
) -> Option<Vec<(Ipv4Addr, Ipv4Addr)>> {
    let mut pools = Vec::new();
    let mut all_valid = true;
    for (j, p) in s.allocation_pools.iter().enumerate() {
        let field = format!("allocation_pools[{j}]");
        let start = parse_v4(&p.start, loc, &format!("{field}.start"), r);
        let end = parse_v4(&p.end, loc, &format!("{field}.end"), r);
        let (Some(start), Some(end)) = (start, end) else {
            all_valid = false;
            continue;
        };
        if start > end {
            r.add(loc, &*field, format!("start {start} is after end {end}"));
            all_valid = false;
            continue;
        }
        if let Some(c) = cidr {
            let (first, last) = c.host_range();
            if start < first || end > last {
                let msg =
                    format!("{start}-{end} is outside the host range {first}-{last} of cidr {c}");
                r.add(loc, &*field, msg);
            }
        }
        if let Some(k) = pools.iter().position(|&(s0, e0)| start <= e0 && s0 <= end) {
            let msg = format!("{start}-{end} overlaps allocation_pools[{k}]");
            r.add(loc, &*field, msg);
        }
        if let Some(gw) = gateway.filter(|gw| (start..=end).contains(gw)) {
            let msg = format!("contains the gateway_ip {gw}");
            r.add(loc, &*field, msg);
        }
        pools.push((start, end));
    }
    all_valid.then_some(pools)
}

/// Parses an IPv4 address, reporting a bad one against `field`.
pub(super) fn parse_v4(text: &str, loc: &Loc, field: &str, r: &mut Report) -> Option<Ipv4Addr> {
    let ip = text.parse::<Ipv4Addr>().ok();
    if ip.is_none() {
        r.add(loc, field, format!("invalid IPv4 address {text:?}"));
    }
    ip
}

/// A static route: an IPv4 destination prefix and an IPv4 next hop.
pub(super) fn check_route(
    route: &Route,
    loc: &Loc,
    field: &str,
    r: &mut Report,
) -> Option<Ipv4Addr> {
    if Ipv4Cidr::parse(&route.destination).is_none() {
        let msg = format!("invalid CIDR {:?}", route.destination);
        r.add(loc, format!("{field}.destination"), msg);
    }
    parse_v4(&route.nexthop, loc, &format!("{field}.nexthop"), r)
}
