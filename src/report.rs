//! Text renderings of a worker's state for people: per-device counters as ifconfig shows
//! them, drop reasons, and the MAC table as `dump-flows` of br-tun table 20 would list it;
//! the MAC destinations' names and the counter groups are the control socket's views' too.

use crate::outcome::Outcome;
use crate::worker::Dump;
use std::fmt::Write;
use std::net::Ipv4Addr;
use vrouter::stats::{DropReason, Named};
use vrouter::tables::{Dest, Snapshot};

/// The name of a MAC table destination: the device or the GRE port of the peer.
pub(crate) fn dest_name(snap: &Snapshot, d: Dest) -> String {
    match d {
        Dest::Port(p) => snap
            .port(p)
            .map_or_else(|| format!("port{p}"), |c| c.name.clone()),
        Dest::Peer(ip) => snap
            .peers
            .get(&ip)
            .map_or_else(|| Ipv4Addr::from(ip).to_string(), |c| c.name.clone()),
        Dest::Local => "LOCAL".to_string(),
    }
}

/// One line of totals, for periodic logging.
pub fn summary_line(snap: &Snapshot, d: &Dump) -> String {
    let mut s = format!("vrouter: t={:.3}s", d.uptime_ms as f64 / 1000.0);
    for (i, c) in d.stats.ports.iter().enumerate() {
        let name = snap.ports.get(i).map_or("?", |p| p.name.as_str());
        let _ = write!(s, " {name} rx={} tx={}", c.rx_packets, c.tx_packets);
    }
    let _ = write!(s, " drops={} macs={}", d.stats.total_drops(), d.macs.len());
    s
}

/// The stages' counters by group, as `stats` shows them.
pub fn counters(d: &Dump) -> Vec<(&'static str, Vec<(&'static str, u64)>)> {
    let st = &d.stats;
    let events = vec![
        ("gre_decap", st.gre_decap),
        ("gre_encap", st.gre_encap),
        ("flooded", st.flooded),
        ("arp_replies", st.arp_replies),
        ("arp_requests", st.arp_requests),
        ("arp_replies_received", st.arp_replies_received),
        ("local_ignored", st.local_ignored),
    ];
    let mut conntrack = d.conntrack.0.named();
    conntrack.push(("live", d.conntrack.1 as u64));
    vec![
        ("events", events),
        ("router", st.router.named()),
        ("security_groups", st.acl.named()),
        ("conntrack", conntrack),
        ("dhcp", st.dhcp.named()),
        ("mac_table", d.mac_events.named()),
        ("underlay_neighbours", d.neighbour_events[0].named()),
        ("router_neighbours", d.neighbour_events[1].named()),
    ]
}

/// The full report printed when the appliance stops: per device (the pipeline's
/// counters, then the device's own), drops, stage counters, tables, and the mbufs that
/// did not come back to the pool.
pub fn full(out: &Outcome) -> String {
    let (snap, d) = (&out.snapshot, &out.dump);
    let mut s = String::new();
    let _ = writeln!(s, "== devices");
    for (i, c) in d.stats.ports.iter().enumerate() {
        let name = snap.ports.get(i).map_or("?", |p| p.name.as_str());
        let _ = writeln!(
            s,
            "{name:<16} RX packets:{} bytes:{} dropped:{}\n{:<16} TX packets:{} bytes:{} dropped:{}",
            c.rx_packets, c.rx_bytes, c.rx_dropped, "", c.tx_packets, c.tx_bytes, c.tx_dropped
        );
        if let Some(n) = out.nic.get(i) {
            let fields: Vec<String> = n.named().iter().map(|(k, v)| format!("{k}:{v}")).collect();
            let _ = writeln!(s, "{:<16} NIC {}", "", fields.join(" "));
        }
    }
    let _ = writeln!(s, "== drops");
    for &r in DropReason::ALL {
        let n = d.stats.drops[r as usize];
        if n > 0 {
            let _ = writeln!(s, "{:<24} {n}", r.name());
        }
    }
    let st = &d.stats;
    let _ = writeln!(
        s,
        "== events\ngre_decap {} gre_encap {} flooded {} arp_replies {} arp_requests {} \
         handed_off {} sync_sent {} sync_applied {}",
        st.gre_decap,
        st.gre_encap,
        st.flooded,
        st.arp_replies,
        st.arp_requests,
        st.handed_off,
        st.sync_sent,
        st.sync_applied
    );
    let e = d.mac_events;
    let _ = writeln!(
        s,
        "== mac table ({} entries; learned {} moved {} aged {} refused_full {})",
        d.macs.len(),
        e.learned,
        e.moved,
        e.aged,
        e.full
    );
    let mut macs = d.macs.clone();
    macs.sort_by_key(|(n, m, _)| (*n, *m));
    for (net, mac, entry) in macs {
        let age = d.uptime_ms.saturating_sub(entry.last_seen) / 1000;
        let _ = writeln!(
            s,
            " vlan={net} dl_dst={mac} output:{} n_packets={} n_bytes={} age={age}s{}",
            dest_name(snap, entry.dest),
            entry.n_packets,
            entry.n_bytes,
            if entry.is_static { " static" } else { "" }
        );
    }
    let h = &st.dhcp;
    let _ = writeln!(
        s,
        "== dhcp ({} leases; offers {} acks {} naks {} informs {} releases {} declines {})",
        d.leases.len(),
        h.offers,
        h.acks,
        h.naks,
        h.informs,
        h.releases,
        h.declines
    );
    let mut leases = d.leases.clone();
    leases.sort_by_key(|(n, m, _)| (*n, *m));
    for (net, mac, l) in leases {
        let _ = writeln!(
            s,
            " vlan={net} {mac} {} granted={}s ago expires_in={}s",
            Ipv4Addr::from(l.ip),
            d.uptime_ms.saturating_sub(l.granted) / 1000,
            l.expires.saturating_sub(d.uptime_ms) / 1000
        );
    }
    neighbours(&mut s, "underlay neighbours", &d.neighbours);
    router(&mut s, snap, d);
    for (group, counters) in counters(d) {
        let fields: Vec<String> = counters.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(s, "== counters {group}: {}", fields.join(" "));
    }
    let (total, out_of_pool) = out.mbufs;
    let _ = writeln!(
        s,
        "== mbufs returned: {} of {total} ({out_of_pool} still out after the devices closed)",
        total - out_of_pool.min(total)
    );
    s
}

/// A neighbour table: address, MAC (or incomplete), age.
fn neighbours(s: &mut String, title: &str, rows: &[(u32, Option<vrouter::Mac>, u64)]) {
    let _ = writeln!(s, "== {title}");
    for (ip, mac, age) in rows {
        let mac = mac.map_or_else(|| "(incomplete)".to_string(), |m| m.to_string());
        let _ = writeln!(
            s,
            " {} lladdr {mac} age={}s",
            Ipv4Addr::from(*ip),
            age / 1000
        );
    }
}

/// NAT sessions shown at most in the report.
const REPORT_SESSIONS: usize = 50;

/// The router stage: counters, routes, neighbours and NAT sessions.
fn router(s: &mut String, snap: &Snapshot, d: &Dump) {
    let r = &d.stats.router;
    let _ = writeln!(
        s,
        "== routers (received {} forwarded {} (cached egress {}) echo_replies {} icmp_errors {} fragments {} garps {})",
        r.received,
        r.forwarded,
        r.forwarded_cached,
        r.echo_replies,
        r.icmp_errors,
        r.fragments,
        r.garps
    );
    for rc in &snap.routers {
        let _ = writeln!(s, " qrouter-{} {}", rc.id, rc.name);
        for route in &rc.routes {
            let port = &rc.ports[route.port];
            let via = route.via.map_or_else(
                || "connected".to_string(),
                |v| format!("via {}", Ipv4Addr::from(v)),
            );
            let _ = writeln!(
                s,
                "  {}/{} {via} dev vlan{} src {}",
                Ipv4Addr::from(route.prefix),
                route.len,
                port.net,
                Ipv4Addr::from(port.ip)
            );
        }
    }
    neighbours(s, "router neighbours", &d.router_neighbours);
    let (c, live) = d.conntrack;
    let _ = writeln!(
        s,
        "== conntrack sessions (NAT and security groups; {live} live; created {} expired {} removed {} refused_full {})",
        c.created, c.expired, c.removed, c.full
    );
    for x in d.sessions.iter().take(REPORT_SESSIONS) {
        let (o, r) = (x.orig, x.reply);
        let _ = writeln!(
            s,
            " proto={} {}:{} -> {}:{} | reply {}:{} -> {}:{} packets={}/{} age={}s",
            o.proto,
            Ipv4Addr::from(o.src),
            o.sport,
            Ipv4Addr::from(o.dst),
            o.dport,
            Ipv4Addr::from(r.src),
            r.sport,
            Ipv4Addr::from(r.dst),
            r.dport,
            x.packets[0],
            x.packets[1],
            d.uptime_ms.saturating_sub(x.last_seen) / 1000
        );
    }
}
