//! Ids: present, and unique across every resource of the model.

use super::{Loc, Report};
use crate::model::Topology;
use std::collections::HashMap;

/// One id to check: where it is reported, the field, the id, and how a later duplicate
/// refers to it (`network #0`, `security_group #1 rules[2]`).
struct Entry<'a> {
    loc: Loc,
    field: String,
    id: &'a str,
    whom: String,
}

/// The ids of one table, with their table name.
fn table<'a>(kind: &'static str, ids: impl Iterator<Item = &'a str>) -> Vec<Entry<'a>> {
    ids.enumerate()
        .map(|(i, id)| Entry {
            loc: Loc::new(kind, id, i),
            field: "id".to_owned(),
            id,
            whom: format!("{kind} #{i}"),
        })
        .collect()
}

/// Reports empty ids and ids used twice (by any two resources or rules).
pub(super) fn check(topo: &Topology, r: &mut Report) {
    let mut entries = Vec::new();
    entries.extend(table("network", topo.networks.iter().map(|x| &*x.id)));
    entries.extend(table("subnet", topo.subnets.iter().map(|x| &*x.id)));
    entries.extend(table("port", topo.ports.iter().map(|x| &*x.id)));
    entries.extend(table("router", topo.routers.iter().map(|x| &*x.id)));
    entries.extend(table("floatingip", topo.floatingips.iter().map(|x| &*x.id)));
    let groups = topo.security_groups.iter();
    entries.extend(table("security_group", groups.map(|x| &*x.id)));
    for (gi, g) in topo.security_groups.iter().enumerate() {
        for (ri, rule) in g.rules.iter().enumerate() {
            if let Some(id) = &rule.id {
                entries.push(Entry {
                    loc: Loc::new("security_group", &g.id, gi),
                    field: format!("rules[{ri}].id"),
                    id,
                    whom: format!("security_group #{gi} rules[{ri}]"),
                });
            }
        }
    }
    let mut seen: HashMap<&str, String> = HashMap::new();
    for e in entries {
        if e.id.trim().is_empty() {
            r.add(&e.loc, e.field, "must not be empty");
        } else if let Some(first) = seen.get(e.id) {
            r.in_use(
                &e.loc,
                e.field,
                format!("duplicate id, already used by {first}"),
            );
        } else {
            seen.insert(e.id, e.whom);
        }
    }
}
