//! `conntrack.list`, `conntrack.flush` and `neighbour.flush`: the data plane's connection
//! tracking sessions as `conntrack -L` lists them, and flushes of sessions (`conntrack -F`)
//! and of learned neighbours (`ip neigh flush`) carried out by every worker. A router is
//! named by id or name; its sessions are those of its zone (`qrouter-<id>`).

use super::router;
use crate::api::{
    ApiError, ConntrackList, Flushed, RouterScope, SessionEntry, SessionList, TupleEntry,
};
use crate::model::Topology;
use crate::naming::qrouter_ns;
use crate::plane::{DataPlane, Flush, SessionFlow, Tuple, ViewData};

/// The protocol's name as conntrack prints it.
fn proto_name(proto: u8) -> &'static str {
    match proto {
        1 => "icmp",
        6 => "tcp",
        17 => "udp",
        _ => "unknown",
    }
}

fn tuple(t: &Tuple) -> TupleEntry {
    TupleEntry {
        src: t.src.to_string(),
        dst: t.dst.to_string(),
        sport: t.sport,
        dport: t.dport,
    }
}

fn entry(s: &SessionFlow) -> SessionEntry {
    SessionEntry {
        proto: proto_name(s.proto).to_owned(),
        proto_number: s.proto,
        state: Some(s.state.to_owned()).filter(|st| !st.is_empty()),
        timeout: s.timeout_ms / 1000,
        orig: tuple(&s.orig_tuple),
        reply: tuple(&s.reply_tuple),
        unreplied: !s.replied,
        assured: s.assured,
        zone: s.zone,
        owner: s.owner.clone(),
        packets: s.packets,
        bytes: s.bytes,
    }
}

/// The id of the router `name` names (id or name), if any.
fn router_id(topo: &Topology, name: Option<&str>) -> Result<Option<String>, ApiError> {
    name.map(|n| router::find(topo, n).map(|r| r.id.clone()))
        .transpose()
}

/// The sessions of `d` that `a` selects, as `conntrack -L` lists them.
pub(crate) fn list(
    topo: &Topology,
    d: &ViewData,
    a: &ConntrackList,
) -> Result<SessionList, ApiError> {
    let owner = router_id(topo, a.router.as_deref())?.map(|id| qrouter_ns(&id));
    let mut sessions: Vec<&SessionFlow> = d
        .sessions
        .iter()
        .filter(|s| owner.as_ref().is_none_or(|o| s.owner == *o))
        .filter(|s| a.zone.is_none_or(|z| s.zone == z))
        .collect();
    sessions.sort_by_key(|s| (s.zone, s.proto, s.orig_tuple.src, s.orig_tuple.sport));
    Ok(SessionList {
        sessions: sessions.into_iter().map(entry).collect(),
    })
}

/// `conntrack.flush`: every worker removes the sessions (of the router `a` names).
pub(crate) fn flush_sessions(
    topo: &Topology,
    plane: &dyn DataPlane,
    a: &RouterScope,
) -> Result<Flushed, ApiError> {
    let router = router_id(topo, a.router.as_deref())?;
    let removed = plane.flush(&Flush::Conntrack {
        router: router.clone(),
    })?;
    flushed("sessions", router, removed)
}

/// `neighbour.flush`: every worker removes its learned neighbours (on the networks of the
/// router `a` names).
pub(crate) fn flush_neighbours(
    topo: &Topology,
    plane: &dyn DataPlane,
    a: &RouterScope,
) -> Result<Flushed, ApiError> {
    let router = router_id(topo, a.router.as_deref())?;
    let removed = plane.flush(&Flush::Neighbours {
        router: router.clone(),
    })?;
    flushed("neighbours", router, removed)
}

/// The answer of a flush of `what`.
fn flushed(what: &str, router: Option<String>, removed: u64) -> Result<Flushed, ApiError> {
    Ok(Flushed {
        flushed: what.to_owned(),
        router: router.map(|id| qrouter_ns(&id)),
        removed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn topo() -> Topology {
        crate::load_str(
            include_str!("../../../configs/tenant-a.toml"),
            "configs/tenant-a.toml",
        )
        .expect("reference topology")
    }

    fn session(zone: u16, owner: &str, sport: u16) -> SessionFlow {
        let t = |src: [u8; 4], dst: [u8; 4], sport, dport| Tuple {
            src: Ipv4Addr::from(src),
            dst: Ipv4Addr::from(dst),
            sport,
            dport,
        };
        SessionFlow {
            proto: 6,
            orig: String::new(),
            reply: String::new(),
            packets: [3, 2],
            bytes: [180, 120],
            age_ms: 1500,
            zone,
            owner: owner.to_owned(),
            state: "ESTABLISHED",
            timeout_ms: 86_398_500,
            replied: true,
            assured: true,
            orig_tuple: t([10, 0, 0, 9], [10, 1, 101, 1], sport, 80),
            reply_tuple: t([10, 1, 101, 1], [10, 1, 101, 80], 80, sport),
        }
    }

    #[test]
    fn list_selects_by_router_name_or_zone_and_orders_by_zone() {
        let topo = topo();
        let r = &topo.routers[0];
        let ns = qrouter_ns(&r.id);
        let d = ViewData {
            sessions: vec![
                session(0x8001, "tap1653ec91-ad", 40001),
                session(0, &ns, 40000),
                session(0, &ns, 39999),
            ],
            ..ViewData::default()
        };
        let by_router = ConntrackList {
            router: Some(r.name.clone()),
            zone: None,
        };
        let rows = list(&topo, &d, &by_router).unwrap().sessions;
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].orig.sport, 39999, "ordered by tuple");
        assert_eq!(rows[0].owner, ns);
        assert_eq!(rows[0].state.as_deref(), Some("ESTABLISHED"));
        assert_eq!(rows[0].timeout, 86_398);
        assert_eq!(rows[0].reply.dst, "10.1.101.80");
        let by_zone = ConntrackList {
            router: None,
            zone: Some(0x8001),
        };
        let rows = list(&topo, &d, &by_zone).unwrap().sessions;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].owner, "tap1653ec91-ad");
        let all = list(&topo, &d, &ConntrackList::default()).unwrap().sessions;
        assert_eq!(all[2].zone, 0x8001, "router zones first");
    }

    #[test]
    fn an_unknown_router_is_not_found() {
        let e = list(
            &topo(),
            &ViewData::default(),
            &ConntrackList {
                router: Some("no-such-router".into()),
                zone: None,
            },
        )
        .unwrap_err();
        assert_eq!(e.code, crate::api::ErrorCode::NotFound);
    }
}
