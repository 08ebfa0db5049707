//! The read-only views of the running appliance, as JSON: `show` (bridges and ports, as
//! `ovs-vsctl show`), `netns` (as `ip netns`), `dump_flows` (tables with counters, as
//! `ovs-ofctl dump-flows`) and `stats` (per device as ifconfig, per drop reason).

use crate::model::Topology;
use crate::naming::{qdhcp_ns, qrouter_ns};
use crate::plane::ViewData;
use serde_json::{json, Map, Value};

/// `show`: the derived view of the model, as text.
pub fn show(topo: &Topology) -> Value {
    json!({ "text": crate::view::render(topo) })
}

/// `netns`: one `qrouter-` per router, one `qdhcp-` per network with DHCP.
pub fn netns(topo: &Topology) -> Value {
    let routers = topo
        .routers
        .iter()
        .map(|r| json!({"name": qrouter_ns(&r.id), "kind": "router", "id": r.id, "label": r.name}));
    let dhcp = topo
        .networks
        .iter()
        .filter(|n| topo.subnets_of(&n.id).any(|s| s.enable_dhcp))
        .map(|n| json!({"name": qdhcp_ns(&n.id), "kind": "dhcp", "id": n.id, "label": n.name}));
    Value::Array(routers.chain(dhcp).collect())
}

/// `dump_flows`: the MAC table (br-tun table 20: entries by tag and address, with the
/// network each tag stands for), the routers' routes, the neighbour tables and the
/// connection tracking (NAT) sessions.
pub fn dump_flows(topo: &Topology, d: &ViewData) -> Value {
    let tags: Vec<(Option<u16>, &str)> = topo
        .local_vlans()
        .into_iter()
        .zip(topo.networks.iter().map(|n| n.id.as_str()))
        .collect();
    let mut macs = d.macs.clone();
    macs.sort_by(|a, b| (a.vlan, &a.mac).cmp(&(b.vlan, &b.mac)));
    let flows = macs.iter().map(|m| {
        let net = tags
            .iter()
            .find(|(t, _)| *t == Some(m.vlan))
            .map(|(_, id)| id);
        json!({
            "dl_vlan": m.vlan,
            "network_id": net,
            "dl_dst": m.mac,
            "output": m.output,
            "n_packets": m.n_packets,
            "n_bytes": m.n_bytes,
            "idle_age": m.age_ms / 1000,
            "static": m.is_static,
        })
    });
    let routes = d.routes.iter().map(|r| {
        json!({"router": r.router, "destination": r.destination, "via": r.via,
               "dev": format!("vlan{}", r.vlan), "src": r.src})
    });
    let neighbours = d
        .neighbours
        .iter()
        .map(|n| json!({"table": n.table, "ip": n.ip, "lladdr": n.mac, "age": n.age_ms / 1000}));
    let sessions = d.sessions.iter().map(|s| {
        json!({"proto": s.proto, "orig": s.orig, "reply": s.reply, "n_packets": s.packets,
               "n_bytes": s.bytes, "idle_age": s.age_ms / 1000})
    });
    json!({
        "generation": d.generation,
        "tables": [
            {"table": 20, "name": "mac", "flows": Value::Array(flows.collect())},
            {"table": "route", "name": "routes", "flows": Value::Array(routes.collect())},
            {"table": "arp", "name": "neighbours", "flows": Value::Array(neighbours.collect())},
            {"table": "nat", "name": "sessions", "flows": Value::Array(sessions.collect())},
        ],
    })
}

/// `stats`: counters per device (the pipeline's and the device's own), per drop reason,
/// per stage (router, security groups, conntrack, …), packet buffers, workers.
pub fn stats(d: &ViewData) -> Value {
    let ports = d.ports.iter().enumerate().map(|(i, (name, c))| {
        let nic: Map<String, Value> = d
            .nic
            .get(i)
            .map(|n| n.named().map(|(k, v)| (k.to_owned(), json!(v))))
            .into_iter()
            .flatten()
            .collect();
        json!({
            "name": name,
            "rx_packets": c.rx_packets,
            "rx_bytes": c.rx_bytes,
            "rx_dropped": c.rx_dropped,
            "tx_packets": c.tx_packets,
            "tx_bytes": c.tx_bytes,
            "tx_dropped": c.tx_dropped,
            "nic": nic,
        })
    });
    let drops: Map<String, Value> = d
        .drops
        .iter()
        .map(|(reason, n)| ((*reason).to_owned(), json!(n)))
        .collect();
    let mut v = json!({
        "generation": d.generation,
        "uptime_ms": d.uptime_ms,
        "workers": d.workers,
        "mbufs": { "in_use": d.mbufs.0, "total": d.mbufs.1 },
        "handed_off": d.steering.0,
        "sync_sent": d.steering.1,
        "sync_applied": d.steering.2,
        "ports": Value::Array(ports.collect()),
        "drops": drops,
    });
    for (group, counters) in &d.counters {
        let group_counters: Map<String, Value> = counters
            .iter()
            .map(|(k, n)| ((*k).to_owned(), json!(n)))
            .collect();
        v[*group] = Value::Object(group_counters);
    }
    v
}

/// `security_group.chains`: every filtered port's chains, as `iptables -S` lines, with the
/// hits of each security group rule.
pub fn chains(d: &ViewData) -> Value {
    let ports = d.acls.iter().map(|a| {
        let chains = crate::chains::render(&a.acl, &a.hits).into_iter().map(|(name, lines)| {
            let rules = lines.into_iter().map(|l| {
                json!({"rule": l.rule, "id": l.id,
                       "n_packets": l.hits.map(|h| h.0), "n_bytes": l.hits.map(|h| h.1)})
            });
            json!({"name": name, "rules": Value::Array(rules.collect())})
        });
        json!({"device": a.device, "port_id": a.acl.port_id, "chains": Value::Array(chains.collect())})
    });
    Value::Array(ports.collect())
}
