//! Ids: present, and unique across every resource of the model.

use super::{Loc, Report};
use crate::model::Topology;
use std::collections::HashMap;

/// One id to check: the resource's kind and index, the rule's index for a rule id, and
/// the id. Where it is reported and how a later duplicate refers to it are only built
/// when there is something to report.
#[derive(Clone, Copy)]
struct Entry<'a> {
    kind: &'static str,
    index: usize,
    /// The rule's index, for a security group rule's id.
    rule: Option<usize>,
    /// The resource's id (the group's, for a rule).
    owner: &'a str,
    id: &'a str,
}

impl Entry<'_> {
    fn loc(&self) -> Loc {
        Loc::new(self.kind, self.owner, self.index)
    }

    fn field(&self) -> String {
        match self.rule {
            Some(ri) => format!("rules[{ri}].id"),
            None => "id".to_owned(),
        }
    }

    /// How a later duplicate refers to it (`network #0`, `security_group #1 rules[2]`).
    fn whom(&self) -> String {
        match self.rule {
            Some(ri) => format!("{} #{} rules[{ri}]", self.kind, self.index),
            None => format!("{} #{}", self.kind, self.index),
        }
    }
}

/// The ids of one table, with their table name.
fn table<'a>(
    kind: &'static str,
    ids: impl Iterator<Item = &'a str>,
) -> impl Iterator<Item = Entry<'a>> {
    ids.enumerate().map(move |(index, id)| Entry {
        kind,
        index,
        rule: None,
        owner: id,
        id,
    })
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
                    kind: "security_group",
                    index: gi,
                    rule: Some(ri),
                    owner: &g.id,
                    id,
                });
            }
        }
    }
    let mut seen: HashMap<&str, Entry<'_>> = HashMap::with_capacity(entries.len());
    for e in entries {
        if e.id.trim().is_empty() {
            r.add(&e.loc(), e.field(), "must not be empty");
        } else if let Some(first) = seen.get(e.id) {
            r.in_use(
                &e.loc(),
                e.field(),
                format!("duplicate id, already used by {}", first.whom()),
            );
        } else {
            seen.insert(e.id, e);
        }
    }
}
