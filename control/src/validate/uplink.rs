//! Uplinks, the devices of locally bound ports, tunnel peers and the MAC table limits.

use super::network::parse_v4;
use super::{Loc, Report};
use crate::addr::{parse_mac, Ipv4Cidr};
use crate::model::{Topology, Uplink, UplinkRole};
use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

/// Device names and DPDK device names taken so far, with who took them.
#[derive(Default)]
struct Devices {
    names: HashMap<String, String>,
    vdevs: HashMap<String, String>,
}

impl Devices {
    /// Records device `name` with `devargs` for the resource at `loc`, reporting clashes
    /// against `fields` (the name's field, the devargs' field).
    fn add(&mut self, name: &str, devargs: &str, loc: &Loc, fields: (&str, &str), r: &mut Report) {
        let owner = loc.to_string();
        if let Some(first) = self.names.get(name) {
            let msg = format!("device name {name} is already used by {first}");
            r.in_use(loc, fields.0, msg);
        } else if !name.is_empty() {
            self.names.insert(name.to_owned(), owner.clone());
        }
        let vdev = devargs.split(',').next().unwrap_or_default().trim();
        if vdev.is_empty() {
            r.add(loc, fields.1, "must not be empty");
        } else if let Some(first) = self.vdevs.get(vdev) {
            let msg = format!("DPDK device {vdev:?} is already used by {first}");
            r.in_use(loc, fields.1, msg);
        } else {
            self.vdevs.insert(vdev.to_owned(), owner);
        }
    }
}

/// Checks uplinks, local devices, peers and `[mac_table]`; returns the valid peer addresses.
pub(super) fn check(topo: &Topology, r: &mut Report) -> HashSet<Ipv4Addr> {
    let mut devices = Devices::default();
    let mut underlay: Option<(&str, Option<Ipv4Cidr>)> = None;
    for (i, u) in topo.uplinks.iter().enumerate() {
        let loc = Loc::new("uplink", &u.name, i);
        if u.name.trim().is_empty() {
            r.add(&loc, "name", "must not be empty");
        }
        devices.add(&u.name, &u.devargs, &loc, ("name", "devargs"), r);
        if let UplinkRole::Underlay { .. } = u.role {
            let cidr = check_underlay(u, &loc, r);
            if let Some((first, _)) = underlay {
                let msg = format!("a second underlay (uplink {first} is already the underlay)");
                r.in_use(&loc, "role", msg);
            } else {
                underlay = Some((&u.name, cidr));
            }
        }
        check_networks(topo, u, &loc, r);
    }
    for (i, p) in topo.ports.iter().enumerate() {
        if let Some(devargs) = p.local_devargs() {
            let loc = Loc::new("port", &p.id, i);
            let fields = ("binding", "binding.local.devargs");
            devices.add(&p.device_name(), devargs, &loc, fields, r);
        }
    }
    let local = underlay.and_then(|(_, c)| c).map(|c| c.addr);
    let mut peers = HashSet::new();
    for (i, p) in topo.tunnel_peers.iter().enumerate() {
        let loc = Loc::new("tunnel_peer", &p.remote_ip, i);
        let Some(ip) = parse_v4(&p.remote_ip, &loc, "remote_ip", r) else {
            continue;
        };
        if let Some(why) = not_unicast_host(ip) {
            let msg = format!("{ip} is {why}, not a unicast host a tunnel can reach");
            r.add(&loc, "remote_ip", msg);
            continue;
        }
        if underlay.is_none() {
            r.add(
                &loc,
                "remote_ip",
                "no uplink has role \"underlay\" to reach it",
            );
        }
        if Some(ip) == local {
            r.add(
                &loc,
                "remote_ip",
                format!("{ip} is the underlay's own address"),
            );
        } else if !peers.insert(ip) {
            r.add(&loc, "remote_ip", format!("{ip} is listed twice"));
        }
    }
    if let Some(m) = &topo.mac_table {
        let loc = Loc {
            kind: "mac_table",
            id: String::new(),
        };
        check_capacity(m.capacity, MAX_MAC_TABLE_CAPACITY, &loc, r);
        if m.aging_secs == 0 {
            r.add(&loc, "aging_secs", "must be at least 1");
        }
    }
    if let Some(c) = &topo.conntrack {
        let loc = Loc {
            kind: "conntrack",
            id: String::new(),
        };
        check_capacity(c.capacity, MAX_CONNTRACK_CAPACITY, &loc, r);
        match c.zone_limit {
            Some(0) => r.add(&loc, "zone_limit", "must be at least 1"),
            Some(z) if z > c.capacity => {
                let msg = format!("{z} is over the capacity of {}", c.capacity);
                r.add(&loc, "zone_limit", msg);
            }
            _ => {}
        }
    }
    peers
}

/// Entries a `[mac_table] capacity` may ask for at most (the table is allocated at start).
pub const MAX_MAC_TABLE_CAPACITY: usize = 1 << 22;
/// Sessions a `[conntrack] capacity` may ask for at most, per worker: the table is
/// allocated at start, about 214 B a session (3.4 GiB at this maximum).
pub const MAX_CONNTRACK_CAPACITY: usize = 1 << 24;

/// A table capacity is in 1..=`max`.
fn check_capacity(capacity: usize, max: usize, loc: &Loc, r: &mut Report) {
    if capacity == 0 {
        r.add(loc, "capacity", "must be at least 1");
    } else if capacity > max {
        let msg = format!("{capacity} is over the maximum of {max}");
        r.add(loc, "capacity", msg);
    }
}

/// Why `ip` is not a unicast host address (RFC 1122 3.2.1.3, RFC 5771, RFC 1112 4):
/// `None` when it is one.
fn not_unicast_host(ip: Ipv4Addr) -> Option<&'static str> {
    if ip.is_unspecified() || ip.octets()[0] == 0 {
        Some("in 0.0.0.0/8 (\"this network\")")
    } else if ip.is_broadcast() {
        Some("the limited broadcast address")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if ip.octets()[0] >= 240 {
        Some("in the reserved 240.0.0.0/4")
    } else {
        None
    }
}

/// The underlay's address, MAC and gateway; returns its interface address if valid.
fn check_underlay(u: &Uplink, loc: &Loc, r: &mut Report) -> Option<Ipv4Cidr> {
    let UplinkRole::Underlay {
        local_ip,
        mac,
        gateway,
    } = &u.role
    else {
        return None;
    };
    if parse_mac(mac).filter(|m| m.is_unicast()).is_none() {
        r.add(loc, "mac", format!("invalid unicast MAC address {mac:?}"));
    }
    let cidr = Ipv4Cidr::parse(local_ip);
    match cidr {
        None => {
            let msg = format!("invalid address/prefix {local_ip:?} (e.g. \"10.0.1.21/24\")");
            r.add(loc, "local_ip", msg);
        }
        Some(c) if !(c.host_range().0..=c.host_range().1).contains(&c.addr) => {
            r.add(loc, "local_ip", format!("{c} is not a host address"));
        }
        Some(_) => {}
    }
    let gw = gateway
        .as_ref()
        .and_then(|g| parse_v4(g, loc, "gateway", r));
    if let (Some(gw), Some(c)) = (gw, cidr) {
        if !c.contains(gw) || gw == c.addr {
            let msg = format!("{gw} is not another host of the underlay subnet {c}");
            r.add(loc, "gateway", msg);
        }
    }
    cidr
}

/// The networks an external or trunk uplink carries exist; trunk VLAN ids are valid.
fn check_networks(topo: &Topology, u: &Uplink, loc: &Loc, r: &mut Report) {
    match &u.role {
        UplinkRole::Underlay { .. } => {}
        UplinkRole::External { network_id } => {
            if topo.network(network_id).is_none() {
                r.add(loc, "network_id", format!("unknown network {network_id:?}"));
            }
        }
        UplinkRole::Trunk { vlans } => {
            let mut mapped: HashMap<&str, &str> = HashMap::new();
            for (vid, net) in vlans {
                let field = format!("vlans.{vid}");
                match vid.parse::<u16>() {
                    Ok(v) if (1..=4094).contains(&v) => {}
                    Ok(_) => r.add(loc, &*field, "VLAN id out of 1..=4094"),
                    Err(_) => r.add(loc, &*field, "invalid VLAN id"),
                }
                if topo.network(net).is_none() {
                    r.add(loc, &*field, format!("unknown network {net:?}"));
                } else if let Some(first) = mapped.insert(net, vid) {
                    let msg = format!("network {net} is already mapped to VLAN {first}");
                    r.in_use(loc, &*field, msg);
                }
            }
        }
    }
}
