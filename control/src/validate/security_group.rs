//! Security group rules: protocol, port range, remote prefix or group.

use super::{Loc, Report};
use crate::addr::parse_ip_prefix;
use crate::model::{EtherType, Protocol, Rule, Topology};
use std::collections::HashSet;

/// Checks the rules of every security group.
pub(super) fn check(topo: &Topology, r: &mut Report) {
    let groups: HashSet<&str> = topo.security_groups.iter().map(|g| &*g.id).collect();
    for (i, g) in topo.security_groups.iter().enumerate() {
        let loc = Loc::new("security_group", &g.id, i);
        for (j, rule) in g.rules.iter().enumerate() {
            check_rule(rule, &groups, &loc, &format!("rules[{j}]"), r);
        }
    }
}

/// One rule.
fn check_rule(rule: &Rule, groups: &HashSet<&str>, loc: &Loc, field: &str, r: &mut Report) {
    let proto = match rule.protocol.as_deref().map(|p| (p, Protocol::parse(p))) {
        Some((text, None)) => {
            let msg =
                format!("unknown protocol {text:?} (expected tcp, udp, icmp or a number 0-255)");
            return r.add(loc, format!("{field}.protocol"), msg);
        }
        Some((_, p)) => p,
        None => None,
    };
    let (min, max) = (rule.port_range_min, rule.port_range_max);
    if min.is_some() || max.is_some() {
        match proto {
            Some(Protocol::Tcp | Protocol::Udp) => {
                if let (Some(lo), Some(hi)) = (min, max) {
                    if lo > hi {
                        let msg = format!("{lo} is above port_range_max {hi}");
                        r.add(loc, format!("{field}.port_range_min"), msg);
                    }
                }
            }
            Some(Protocol::Icmp) => {
                for (name, v) in [("port_range_min", min), ("port_range_max", max)] {
                    if let Some(v) = v.filter(|&v| v > 255) {
                        let msg = format!("{v} is not an ICMP type or code (0-255)");
                        r.add(loc, format!("{field}.{name}"), msg);
                    }
                }
            }
            _ => {
                let msg = "a port range needs protocol tcp, udp or icmp";
                r.add(loc, format!("{field}.port_range_min"), msg);
            }
        }
    }
    if let Some(prefix) = &rule.remote_ip_prefix {
        match parse_ip_prefix(prefix) {
            None => {
                let msg = format!("invalid CIDR {prefix:?}");
                r.add(loc, format!("{field}.remote_ip_prefix"), msg);
            }
            Some((addr, _)) if addr.is_ipv4() != (rule.ethertype == EtherType::IPv4) => {
                let msg = format!("{prefix} does not match ethertype {:?}", rule.ethertype);
                r.add(loc, format!("{field}.remote_ip_prefix"), msg);
            }
            Some(_) => {}
        }
    }
    if let Some(id) = &rule.remote_group_id {
        if !groups.contains(&**id) {
            let msg = format!("unknown security group {id:?}");
            r.add(loc, format!("{field}.remote_group_id"), msg);
        } else if rule.remote_ip_prefix.is_some() {
            let msg = "remote_ip_prefix and remote_group_id are mutually exclusive";
            r.add(loc, format!("{field}.remote_group_id"), msg);
        }
    }
}
