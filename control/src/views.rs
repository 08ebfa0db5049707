//! The read-only views of the running appliance: `show` (bridges and ports, as
//! `ovs-vsctl show`), `netns` (as `ip netns`), `dump_flows` (tables with counters, as
//! `ovs-ofctl dump-flows`), `stats` (per device as ifconfig, per drop reason) and the
//! security group chains.

use crate::api::{
    Chain, ChainRule, DumpFlows, FlowTable, MacFlowInfo, Mbufs, Namespace, NeighbourInfo,
    NodeStats, PortChains, PortStats, RouteInfo, SessionInfo, ShowText, Stats, TableId,
};
use crate::model::Topology;
use crate::naming::{qdhcp_ns, qrouter_ns};
use crate::plane::ViewData;
use std::collections::BTreeMap;

/// `show`: the derived view of the model, as text.
pub fn show(topo: &Topology) -> ShowText {
    ShowText {
        text: crate::view::render(topo),
    }
}

/// `netns`: one `qrouter-` per router, one `qdhcp-` per network with DHCP.
pub fn netns(topo: &Topology) -> Vec<Namespace> {
    let routers = topo.routers.iter().map(|r| Namespace {
        name: qrouter_ns(&r.id),
        kind: "router".to_owned(),
        id: r.id.clone(),
        label: r.name.clone(),
    });
    let dhcp = topo
        .networks
        .iter()
        .filter(|n| topo.subnets_of(&n.id).any(|s| s.enable_dhcp))
        .map(|n| Namespace {
            name: qdhcp_ns(&n.id),
            kind: "dhcp".to_owned(),
            id: n.id.clone(),
            label: n.name.clone(),
        });
    routers.chain(dhcp).collect()
}

/// A table of `dump_flows`.
fn table<T>(table: TableId, name: &str, flows: Vec<T>) -> FlowTable<T> {
    FlowTable {
        table,
        name: name.to_owned(),
        flows,
    }
}

/// `dump_flows`: the MAC table (br-tun table 20: entries by tag and address, with the
/// network each tag stands for), the routers' routes, the neighbour tables and the
/// connection tracking (NAT) sessions.
pub fn dump_flows(topo: &Topology, d: &ViewData) -> DumpFlows {
    let tags: Vec<(Option<u16>, &str)> = topo
        .local_vlans()
        .into_iter()
        .zip(topo.networks.iter().map(|n| n.id.as_str()))
        .collect();
    let mut macs = d.macs.clone();
    macs.sort_by(|a, b| (a.vlan, &a.mac).cmp(&(b.vlan, &b.mac)));
    let flows = macs.iter().map(|m| MacFlowInfo {
        dl_vlan: m.vlan,
        network_id: tags
            .iter()
            .find(|(t, _)| *t == Some(m.vlan))
            .map(|(_, id)| (*id).to_owned()),
        dl_dst: m.mac.clone(),
        output: m.output.clone(),
        n_packets: m.n_packets,
        n_bytes: m.n_bytes,
        idle_age: m.age_ms / 1000,
        is_static: m.is_static,
    });
    let routes = d.routes.iter().map(|r| RouteInfo {
        router: r.router.clone(),
        destination: r.destination.clone(),
        via: r.via.clone(),
        dev: format!("vlan{}", r.vlan),
        src: r.src.clone(),
    });
    let neighbours = d.neighbours.iter().map(|n| NeighbourInfo {
        table: n.table.to_owned(),
        ip: n.ip.clone(),
        lladdr: n.mac.clone(),
        age: n.age_ms / 1000,
    });
    let sessions = d.sessions.iter().map(|s| SessionInfo {
        proto: s.proto,
        orig: s.orig.clone(),
        reply: s.reply.clone(),
        n_packets: s.packets,
        n_bytes: s.bytes,
        idle_age: s.age_ms / 1000,
    });
    let name = |n: &str| TableId::Name(n.to_owned());
    DumpFlows {
        generation: d.generation,
        tables: (
            table(TableId::Number(20), "mac", flows.collect()),
            table(name("route"), "routes", routes.collect()),
            table(name("arp"), "neighbours", neighbours.collect()),
            table(name("nat"), "sessions", sessions.collect()),
        ),
    }
}

/// (name, value) pairs as a map.
fn counters<'a>(pairs: impl IntoIterator<Item = (&'a str, u64)>) -> BTreeMap<String, u64> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// `stats`: counters per device (the pipeline's and the device's own), per drop reason,
/// per stage (router, security groups, conntrack, …), packet buffers, workers.
pub fn stats(d: &ViewData) -> Stats {
    let ports = d.ports.iter().enumerate().map(|(i, (name, c))| PortStats {
        name: name.clone(),
        rx_packets: c.rx_packets,
        rx_bytes: c.rx_bytes,
        rx_dropped: c.rx_dropped,
        tx_packets: c.tx_packets,
        tx_bytes: c.tx_bytes,
        tx_dropped: c.tx_dropped,
        nic: counters(d.nic.get(i).map(|n| n.named()).into_iter().flatten()),
    });
    let stages = d
        .counters
        .iter()
        .map(|(group, c)| ((*group).to_owned(), counters(c.iter().copied())))
        .collect();
    Stats {
        generation: d.generation,
        uptime_ms: d.uptime_ms,
        workers: d.workers,
        mbufs: Mbufs {
            in_use: d.mbufs.0,
            total: d.mbufs.1,
        },
        handed_off: d.steering.0,
        sync_sent: d.steering.1,
        sync_applied: d.steering.2,
        ports: ports.collect(),
        drops: counters(d.drops.iter().copied()),
        nodes: d
            .nodes
            .iter()
            .map(|(name, c)| NodeStats {
                name: (*name).to_owned(),
                calls: c.calls,
                packets: c.packets,
                cycles: c.cycles,
                cycles_per_packet: c.cycles.checked_div(c.packets).unwrap_or(0),
            })
            .collect(),
        stages,
    }
}

/// `security_group.chains`: every filtered port's chains, as `iptables -S` lines, with the
/// hits of each security group rule.
pub fn chains(d: &ViewData) -> Vec<PortChains> {
    let port = |a: &crate::plane::AclView| {
        let chains = crate::chains::render(&a.acl, &a.hits)
            .into_iter()
            .map(|(name, lines)| {
                let rules = lines.into_iter().map(|l| ChainRule {
                    rule: l.rule,
                    id: l.id,
                    n_packets: l.hits.map(|h| h.0),
                    n_bytes: l.hits.map(|h| h.1),
                });
                Chain {
                    name,
                    rules: rules.collect(),
                }
            });
        PortChains {
            device: a.device.clone(),
            port_id: a.acl.port_id.clone(),
            chains: chains.collect(),
        }
    };
    d.acls.iter().map(port).collect()
}
