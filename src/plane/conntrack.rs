//! The operator's view of the workers' connection tracking and neighbour tables: sessions
//! as `conntrack -L` lists them (zone, owner, state, time left), and the flushes every
//! worker carries out (`conntrack -F`, `ip neigh flush`), answered once all have.

use super::Plane;
use crate::worker::{Command, Dump, FlushRequest};
use control::api::ApiError;
use control::plane::{Flush, Tuple};
use control::SessionFlow;
use crossbeam_channel::bounded;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};
use vrouter::state::conntrack::{FlowKey, TcpState};
use vrouter::state::Session;
use vrouter::tables::Snapshot;

/// Conntrack zones from here on are VM ports' (`PORT_ZONE | port index`, the security
/// groups' stage); below it a router's (its index).
const PORT_ZONE: u16 = 0x8000;
/// How long a flush waits for every worker (a polling worker answers within
/// milliseconds).
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// The TCP state as conntrack names it; empty for other protocols.
fn state_name(s: &Session) -> &'static str {
    if s.orig.proto != 6 {
        return "";
    }
    match s.tcp {
        TcpState::None => "NONE",
        TcpState::SynSent => "SYN_SENT",
        TcpState::SynRecv => "SYN_RECV",
        TcpState::Established => "ESTABLISHED",
        TcpState::FinWait => "FIN_WAIT",
        TcpState::TimeWait => "TIME_WAIT",
        TcpState::Closed => "CLOSE",
    }
}

/// Who zone `zone` is: `qrouter-<id>`, a port's device name, or `zone<N>` for one that
/// the snapshot no longer has.
fn zone_owner(snap: &Snapshot, zone: u16) -> String {
    let name = if zone & PORT_ZONE != 0 {
        let port = usize::from(zone & !PORT_ZONE);
        snap.ports.get(port).map(|p| p.name.clone())
    } else {
        let router = snap.routers.get(usize::from(zone));
        router.map(|r| control::naming::qrouter_ns(&r.id))
    };
    name.unwrap_or_else(|| format!("zone{zone}"))
}

fn tuple(k: &FlowKey) -> Tuple {
    Tuple {
        src: Ipv4Addr::from(k.src),
        dst: Ipv4Addr::from(k.dst),
        sport: k.sport,
        dport: k.dport,
    }
}

/// The sessions of `d`, with their zones named from `snap`.
pub(super) fn sessions(snap: &Snapshot, d: &Dump) -> Vec<SessionFlow> {
    let side = |k: &FlowKey| {
        let (src, dst) = (Ipv4Addr::from(k.src), Ipv4Addr::from(k.dst));
        format!("{src}:{} -> {dst}:{}", k.sport, k.dport)
    };
    let rows = d.sessions.iter().map(|s| {
        let age_ms = d.uptime_ms.saturating_sub(s.last_seen);
        SessionFlow {
            proto: s.orig.proto,
            orig: side(&s.orig),
            reply: side(&s.reply),
            packets: s.packets,
            bytes: s.bytes,
            age_ms,
            zone: s.orig.zone,
            owner: zone_owner(snap, s.orig.zone),
            state: state_name(s),
            timeout_ms: s.timeout().saturating_sub(age_ms),
            replied: s.replied,
            assured: s.assured,
            orig_tuple: tuple(&s.orig),
            reply_tuple: tuple(&s.reply),
        }
    });
    rows.collect()
}

/// The worker request for `flush` on `snap`; a router the snapshot does not have is
/// not found.
fn request(snap: &Snapshot, flush: &Flush) -> Result<FlushRequest, ApiError> {
    let router = |id: &str| {
        snap.routers
            .iter()
            .position(|r| r.id == id)
            .ok_or_else(|| ApiError::not_found(format!("router {id} is not in the data plane")))
    };
    Ok(match flush {
        Flush::Conntrack { router: None } => FlushRequest::Conntrack { zone: None },
        Flush::Conntrack { router: Some(id) } => FlushRequest::Conntrack {
            zone: Some(router(id)? as u16),
        },
        Flush::Neighbours { router: None } => FlushRequest::Neighbours { subnets: None },
        Flush::Neighbours { router: Some(id) } => {
            let ports = &snap.routers[router(id)?].ports;
            FlushRequest::Neighbours {
                subnets: Some(ports.iter().map(|p| (p.ip, p.prefix_len)).collect()),
            }
        }
    })
}

impl Plane {
    /// Has every worker remove what `flush` names; the total they removed, once all
    /// answered.
    pub(super) fn flush_workers(&self, flush: &Flush) -> Result<u64, ApiError> {
        let req = request(&self.snapshot(), flush)?;
        let (reply_tx, reply_rx) = bounded(self.commands.len());
        for c in &self.commands {
            c.send(Command::Flush(req.clone(), reply_tx.clone()))
                .map_err(|_| ApiError::internal("a worker has stopped"))?;
        }
        let deadline = Instant::now() + FLUSH_TIMEOUT;
        let mut done = vec![false; self.commands.len()];
        let mut removed = 0;
        for _ in &self.commands {
            let Ok((w, n)) = reply_rx.recv_deadline(deadline) else {
                let late: Vec<String> = done
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| !**d)
                    .map(|(w, _)| w.to_string())
                    .collect();
                return Err(ApiError::internal(format!(
                    "worker(s) {} did not flush within {FLUSH_TIMEOUT:?} (not polling?); \
                     the others removed {removed}",
                    late.join(", ")
                )));
            };
            done[usize::from(w)] = true;
            removed += n;
        }
        tracing::info!(what = ?flush, removed, workers = self.commands.len(), "flushed by every worker");
        Ok(removed)
    }
}
