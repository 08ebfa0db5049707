//! The derived view `vrouter --config FILE --check` prints, in the vocabulary of the
//! network node it replaces: `ip netns`, an `ovs-vsctl show`-like listing of br-int, br-tun
//! and br-ex, the local VLAN ↔ tunnel id map and the devices to attach.

use crate::addr::Ipv4Cidr;
use crate::model::{owner, Port, Topology, UplinkRole};
use crate::naming::{qdhcp_ns, qrouter_ns};
use std::fmt::{self, Write};

/// Renders the view of `topo` as text (stable: file order, networks by tag).
pub fn render(topo: &Topology) -> String {
    View(topo).to_string()
}

/// [`render`] as a `Display`.
pub struct View<'a>(pub &'a Topology);

impl fmt::Display for View<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let topo = self.0;
        namespaces(topo, f)?;
        writeln!(f, "\nBridges (ovs-vsctl show)")?;
        br_int(topo, f)?;
        br_tun(topo, f)?;
        br_ex(topo, f)?;
        vlan_map(topo, f)?;
        ports(topo, f)?;
        neighbours(topo, f)?;
        devices(topo, f)
    }
}

/// The static neighbours (`[[neighbour]]`) as `ip neigh` would list them, on the underlay
/// uplink or on the router ports of their network (in the routers' namespaces).
fn neighbours(topo: &Topology, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if topo.neighbours.is_empty() {
        return Ok(());
    }
    writeln!(f, "\nStatic neighbours (ip neigh, PERMANENT)")?;
    for n in &topo.neighbours {
        let devs: Vec<String> = match (&n.uplink, &n.network_id) {
            (Some(u), _) => vec![u.clone()],
            (None, Some(net)) => topo
                .ports
                .iter()
                .filter(|p| {
                    p.network_id == *net
                        && matches!(
                            &*p.device_owner,
                            owner::ROUTER_INTERFACE | owner::ROUTER_GATEWAY
                        )
                })
                .map(|p| format!("{} ({})", p.device_name(), qrouter_ns(&p.device_id)))
                .collect(),
            (None, None) => Vec::new(),
        };
        let devs = if devs.is_empty() {
            "(no router port on its network)".to_owned()
        } else {
            devs.join(", ")
        };
        writeln!(f, "    {:<16} lladdr {} dev {devs}", n.ip, n.mac)?;
    }
    Ok(())
}

/// Every port (`neutron port-list`) with its device name and where it is reached: a local
/// device, a tunnel peer's GRE port, the appliance itself, or learned on the tunnels.
fn ports(topo: &Topology, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "\nPorts (device, id, mac, fixed ips, reached through)")?;
    for p in &topo.ports {
        let ips: Vec<&str> = p.fixed_ips.iter().map(|i| i.ip_address.as_str()).collect();
        let at = match &p.binding {
            Some(crate::model::Binding::Local { .. }) => "local device".to_owned(),
            Some(crate::model::Binding::Peer(ip)) => match ip.parse() {
                Ok(ip) => crate::naming::gre_port_name(ip),
                Err(_) => ip.clone(),
            },
            None if p.is_network_owned() => "the appliance".to_owned(),
            None => "learned over the tunnels".to_owned(),
        };
        writeln!(
            f,
            "    {:<16} {} {} {:<12} {at}",
            p.device_name(),
            p.id,
            p.mac_address,
            ips.join(",")
        )?;
    }
    Ok(())
}

/// `ip netns`: one `qrouter-` per router, one `qdhcp-` per network with DHCP.
fn namespaces(topo: &Topology, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "Namespaces (ip netns)")?;
    for r in &topo.routers {
        writeln!(f, "    {:<52} router {}", qrouter_ns(&r.id), r.name)?;
    }
    for n in &topo.networks {
        if topo.subnets_of(&n.id).any(|s| s.enable_dhcp) {
            writeln!(f, "    {:<52} network {}", qdhcp_ns(&n.id), n.name)?;
        }
    }
    Ok(())
}

/// A port of a bridge, `ovs-vsctl show` style.
fn port(f: &mut impl Write, name: &str, tag: Option<String>, kind: &str) -> fmt::Result {
    writeln!(f, "        Port \"{name}\"")?;
    if let Some(tag) = tag {
        writeln!(f, "            {tag}")?;
    }
    writeln!(f, "            Interface \"{name}\"")?;
    writeln!(f, "                {kind}")
}

/// True for a port whose device is on this node: router interfaces and gateways, DHCP
/// ports, and locally bound VM ports.
fn is_here(p: &Port) -> bool {
    match &*p.device_owner {
        owner::ROUTER_INTERFACE | owner::ROUTER_GATEWAY | owner::DHCP => true,
        _ => !p.is_network_owned() && p.local_devargs().is_some(),
    }
}

/// How a port's device shows: appliance-internal, or a DPDK device with its devargs.
fn kind_of(p: &Port) -> String {
    match p.local_devargs() {
        Some(d) => format!("type: dpdk\n                options: {{dpdk-devargs=\"{d}\"}}"),
        None => "type: internal".to_owned(),
    }
}

/// br-int: every port on this node but router gateways, with its local VLAN tag; trunks.
fn br_int(topo: &Topology, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "    Bridge br-int")?;
    for p in topo.ports.iter().filter(|p| is_here(p)) {
        if p.device_owner != owner::ROUTER_GATEWAY {
            let tag = topo.local_vlan_of(&p.network_id);
            let tag = format!("tag: {}", tag.map_or("?".into(), |t| t.to_string()));
            port(f, &p.device_name(), Some(tag), &kind_of(p))?;
        }
    }
    for u in &topo.uplinks {
        if let UplinkRole::Trunk { vlans } = &u.role {
            let vids: Vec<&str> = vlans.keys().map(String::as_str).collect();
            let trunks = format!("trunks: [{}]", vids.join(", "));
            port(f, &u.name, Some(trunks), "type: dpdk")?;
        }
    }
    Ok(())
}

/// br-tun: one GRE port per tunnel peer.
fn br_tun(topo: &Topology, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "    Bridge br-tun")?;
    let local = topo.uplinks.iter().find_map(|u| match &u.role {
        UplinkRole::Underlay { local_ip, .. } => {
            Some(Ipv4Cidr::parse(local_ip).map_or(local_ip.clone(), |c| c.addr.to_string()))
        }
        _ => None,
    });
    let local = local.map_or(String::new(), |l| format!(" local_ip=\"{l}\","));
    for p in &topo.tunnel_peers {
        let name = p.name().unwrap_or_else(|| format!("gre-{}", p.remote_ip));
        let options = format!(
            "type: gre\n                options: {{in_key=flow,{local} out_key=flow, remote_ip=\"{}\"}}",
            p.remote_ip
        );
        port(f, &name, None, &options)?;
    }
    Ok(())
}

/// br-ex: router gateways and external uplinks.
fn br_ex(topo: &Topology, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "    Bridge br-ex")?;
    for p in &topo.ports {
        if p.device_owner == owner::ROUTER_GATEWAY {
            port(f, &p.device_name(), None, "type: internal")?;
        }
    }
    for u in &topo.uplinks {
        if let UplinkRole::External { .. } = u.role {
            port(f, &u.name, None, "type: dpdk")?;
        }
    }
    Ok(())
}

/// Networks by local VLAN tag: the tunnel id, or the uplinks that carry a flat network.
fn vlan_map(topo: &Topology, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "\nLocal VLAN <-> tunnel id")?;
    let mut nets: Vec<_> = topo.networks.iter().zip(topo.local_vlans()).collect();
    nets.sort_by_key(|(_, tag)| *tag);
    for (n, tag) in nets {
        let tag = tag.map_or("?".to_owned(), |t| t.to_string());
        let tunnel = match n.segmentation_id {
            Some(key) => format!("<-> tun_id {key:#x}"),
            None => "    flat".to_owned(),
        };
        write!(f, "    tag {tag:<4} {tunnel:<16} {} {}", n.name, n.id)?;
        for u in &topo.uplinks {
            match &u.role {
                UplinkRole::External { network_id } if *network_id == n.id => {
                    write!(f, "  untagged on {}", u.name)?;
                }
                UplinkRole::Trunk { vlans } => {
                    for (vid, _) in vlans.iter().filter(|(_, id)| **id == n.id) {
                        write!(f, "  VLAN {vid} on {}", u.name)?;
                    }
                }
                _ => {}
            }
        }
        writeln!(f)?;
    }
    Ok(())
}

/// The devices the appliance attaches, in attachment order.
fn devices(topo: &Topology, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(
        f,
        "\nDevices (attach order: name, devargs, what it carries)"
    )?;
    for (name, devargs) in topo.devices() {
        let what = match topo.uplinks.iter().find(|u| u.name == name) {
            Some(u) => match &u.role {
                UplinkRole::Underlay { local_ip, .. } => format!("underlay {local_ip}"),
                UplinkRole::External { network_id } => format!("external network {network_id}"),
                UplinkRole::Trunk { .. } => "trunk".to_owned(),
            },
            None => "VM port".to_owned(),
        };
        writeln!(f, "    {name:<16} {devargs:<40} {what}")?;
    }
    Ok(())
}
