//! `security_group.*` and `security_group_rule.*`.

use super::{alloc, deleted, resolve};
use crate::api::{
    ApiError, Deleted, RuleCreate, RuleInfo, RuleList, SecurityGroupCreate, SecurityGroupInfo,
    SecurityGroupUpdate,
};
use crate::model::{Direction, EtherType, Rule, SecurityGroup, Topology};

/// The security group with id or name `key`.
pub(super) fn find<'a>(topo: &'a Topology, key: &str) -> Result<&'a SecurityGroup, ApiError> {
    let i = position(topo, key)?;
    Ok(&topo.security_groups[i])
}

/// The index of the security group with id or name `key`.
fn position(topo: &Topology, key: &str) -> Result<usize, ApiError> {
    let items = &topo.security_groups;
    resolve::position(items, key, "security group", |g| &g.id, |g| Some(&g.name))
}

/// The id of the one group named `default`, if there is exactly one.
pub(super) fn default_group(topo: &Topology) -> Option<String> {
    let mut named = topo.security_groups.iter().filter(|g| g.name == "default");
    match (named.next(), named.next()) {
        (Some(g), None) => Some(g.id.clone()),
        _ => None,
    }
}

/// The group as shown, with its rules.
pub(super) fn info(g: &SecurityGroup) -> SecurityGroupInfo {
    SecurityGroupInfo {
        id: g.id.clone(),
        name: g.name.clone(),
        tenant_id: g.tenant_id.clone(),
        rules: g.rules.clone(),
    }
}

/// A rule as shown, with its group and every field (unset ones `null`).
fn rule_info(g: &SecurityGroup, r: &Rule) -> RuleInfo {
    RuleInfo {
        id: r.id.clone(),
        direction: r.direction,
        ethertype: r.ethertype,
        protocol: r.protocol.clone(),
        port_range_min: r.port_range_min,
        port_range_max: r.port_range_max,
        remote_ip_prefix: r.remote_ip_prefix.clone(),
        remote_group_id: r.remote_group_id.clone(),
        security_group_id: g.id.clone(),
        security_group: g.name.clone(),
    }
}

/// Creates a group with one rule allowing every IPv4 egress, as Neutron does.
pub(super) fn create(
    topo: &mut Topology,
    a: &SecurityGroupCreate,
) -> Result<SecurityGroupInfo, ApiError> {
    let egress = Rule {
        id: Some(alloc::id_or_new(&None)?),
        direction: Direction::Egress,
        ethertype: EtherType::IPv4,
        protocol: None,
        port_range_min: None,
        port_range_max: None,
        remote_ip_prefix: None,
        remote_group_id: None,
    };
    let g = SecurityGroup {
        id: alloc::id_or_new(&a.id)?,
        name: a.name.clone(),
        tenant_id: a.tenant_id.clone(),
        rules: vec![egress],
    };
    let out = info(&g);
    topo.security_groups.push(g);
    Ok(out)
}

/// Renames a group.
pub(super) fn update(
    topo: &mut Topology,
    a: &SecurityGroupUpdate,
) -> Result<SecurityGroupInfo, ApiError> {
    let i = position(topo, &a.id)?;
    let g = &mut topo.security_groups[i];
    if let Some(name) = &a.name {
        g.name = name.clone();
    }
    Ok(info(g))
}

/// Deletes a group no port and no other group's rule uses.
pub(super) fn delete(topo: &mut Topology, key: &str) -> Result<Deleted, ApiError> {
    let i = position(topo, key)?;
    let id = topo.security_groups[i].id.clone();
    let ports: Vec<&str> = topo
        .ports
        .iter()
        .filter(|p| p.security_groups.contains(&id))
        .map(|p| p.id.as_str())
        .collect();
    if !ports.is_empty() {
        return Err(ApiError::conflict(format!(
            "security group {id} is in use by port(s) {}",
            ports.join(", ")
        )));
    }
    let referring = topo
        .security_groups
        .iter()
        .filter(|g| g.id != id)
        .find(|g| {
            g.rules
                .iter()
                .any(|r| r.remote_group_id.as_deref() == Some(id.as_str()))
        });
    if let Some(g) = referring {
        return Err(ApiError::conflict(format!(
            "security group {id} is the remote group of a rule of group {}",
            g.id
        )));
    }
    topo.security_groups.remove(i);
    Ok(deleted(&id))
}

/// Adds a rule to a group.
pub(super) fn rule_create(topo: &mut Topology, a: &RuleCreate) -> Result<RuleInfo, ApiError> {
    let i = position(topo, &a.security_group)?;
    let remote_group_id = match &a.remote_group {
        Some(key) => Some(find(topo, key)?.id.clone()),
        None => None,
    };
    let rule = Rule {
        id: Some(alloc::id_or_new(&a.id)?),
        direction: a.direction,
        ethertype: a.ethertype,
        protocol: a.protocol.clone(),
        port_range_min: a.port_range_min,
        port_range_max: a.port_range_max,
        remote_ip_prefix: a.remote_ip_prefix.clone(),
        remote_group_id,
    };
    let g = &mut topo.security_groups[i];
    let out = rule_info(g, &rule);
    g.rules.push(rule);
    Ok(out)
}

/// Deletes a rule, by id.
pub(super) fn rule_delete(topo: &mut Topology, id: &str) -> Result<Deleted, ApiError> {
    for g in topo.security_groups.iter_mut() {
        if let Some(j) = g.rules.iter().position(|r| r.id.as_deref() == Some(id)) {
            g.rules.remove(j);
            return Ok(deleted(id));
        }
    }
    Err(ApiError::not_found(format!(
        "no security group rule has id {id:?}"
    )))
}

/// Every rule, or those of one group.
pub(super) fn rule_list(topo: &Topology, a: &RuleList) -> Result<Vec<RuleInfo>, ApiError> {
    let only = match &a.security_group {
        Some(key) => Some(find(topo, key)?.id.as_str()),
        None => None,
    };
    let groups = topo.security_groups.iter();
    let groups = groups.filter(|g| only.is_none() || only == Some(g.id.as_str()));
    let rules = groups.flat_map(|g| g.rules.iter().map(move |r| rule_info(g, r)));
    Ok(rules.collect())
}
