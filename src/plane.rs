//! The appliance's side of the control plane: [`control::DataPlane`] over the worker's
//! command channel. A published topology is compiled for the devices attached at start
//! and handed to the worker, which picks it up between two bursts without stopping.

use crate::worker::{Command, Dump};
use control::api::ApiError;
use control::{DataPlane, MacFlow, Neighbour, RouteFlow, SessionFlow, Topology, ViewData};
use crossbeam_channel::{bounded, Sender};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use vrouter::stats::DropReason;
use vrouter::tables::Snapshot;

/// How long a view waits for the worker's copy of its state.
const DUMP_TIMEOUT: Duration = Duration::from_secs(2);

/// The workers as the control plane sees them.
pub struct Plane {
    /// One command line per worker.
    commands: Vec<Sender<Command>>,
    /// The attached devices (name, devargs), in attachment order.
    attached: Vec<(String, String)>,
    /// The snapshot the worker runs (or will from its next burst on).
    current: Mutex<Arc<Snapshot>>,
    /// Mbufs the packet pool was made with.
    pool_size: u32,
}

impl Plane {
    /// The workers reached through `commands`, running `snapshot` on the devices `attached`.
    pub fn new(
        commands: Vec<Sender<Command>>,
        attached: Vec<(String, String)>,
        snapshot: Arc<Snapshot>,
        pool_size: u32,
    ) -> Plane {
        Plane {
            commands,
            attached,
            current: Mutex::new(snapshot),
            pool_size,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Arc<Snapshot>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The snapshot last published.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.lock())
    }

    /// A copy of the workers' state merged into one, if they all answer in time.
    pub fn worker_dump(&self, timeout: Duration) -> Option<Dump> {
        let (reply_tx, reply_rx) = bounded(self.commands.len());
        for c in &self.commands {
            c.send(Command::Dump(reply_tx.clone())).ok()?;
        }
        let deadline = std::time::Instant::now() + timeout;
        let mut merged: Option<Dump> = None;
        for _ in &self.commands {
            let d = reply_rx.recv_deadline(deadline).ok()?;
            merged = Some(match merged {
                Some(m) => m.merge(d),
                None => d,
            });
        }
        merged
    }

    /// Refuses a topology whose local devices differ from those attached at start.
    fn check_devices(&self, topo: &Topology) -> Result<(), ApiError> {
        for (name, devargs) in topo.devices() {
            match self.attached.iter().find(|(n, _)| *n == name) {
                None => {
                    return Err(ApiError::invalid(format!(
                        "device {name} ({devargs}): binding new local devices at run time \
                         is not supported yet; restart vrouter with --devargs {name}=…"
                    )))
                }
                Some((_, attached)) if *attached != devargs => {
                    return Err(ApiError::invalid(format!(
                        "device {name} is attached as {attached:?}; changing its devargs \
                         at run time is not supported yet"
                    )))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

impl DataPlane for Plane {
    fn publish(&self, topo: &Topology) -> Result<(), ApiError> {
        self.check_devices(topo)?;
        let mut current = self.lock();
        let names: Vec<String> = self.attached.iter().map(|(n, _)| n.clone()).collect();
        let snap = control::compile(topo, &names, current.generation + 1)
            .map_err(|e| ApiError::invalid(e.to_string()))?;
        let snap = Arc::new(snap);
        for c in &self.commands {
            c.send(Command::Publish(Arc::clone(&snap)))
                .map_err(|_| ApiError::internal("a worker has stopped"))?;
        }
        *current = snap;
        Ok(())
    }

    fn dump(&self) -> Result<ViewData, ApiError> {
        let snap = self.snapshot();
        let d = self
            .worker_dump(DUMP_TIMEOUT)
            .ok_or_else(|| ApiError::internal("the worker did not answer in time"))?;
        let ports = d.stats.ports.iter().enumerate().map(|(i, c)| {
            let name = snap
                .ports
                .get(i)
                .map_or_else(|| format!("port{i}"), |p| p.name.clone());
            (name, *c)
        });
        let drops = DropReason::ALL
            .iter()
            .map(|&r| (r.name(), d.stats.drops[r as usize]));
        let macs = d.macs.iter().map(|(net, mac, e)| MacFlow {
            vlan: *net,
            mac: mac.to_string(),
            output: crate::report::dest_name(&snap, e.dest),
            n_packets: e.n_packets,
            n_bytes: e.n_bytes,
            age_ms: d.uptime_ms.saturating_sub(e.last_seen),
            is_static: e.is_static,
        });
        Ok(ViewData {
            workers: self.commands.len() as u16,
            mbufs: (d.mbufs_in_use, self.pool_size),
            steering: (d.stats.handed_off, d.stats.sync_sent, d.stats.sync_applied),
            generation: d.generation,
            uptime_ms: d.uptime_ms,
            ports: ports.collect(),
            drops: drops.collect(),
            macs: macs.collect(),
            routes: routes(&snap),
            neighbours: neighbours(&d),
            sessions: sessions(&d),
            acls: acls(&snap, &d),
        })
    }
}

/// The routes of every router of `snap`.
fn routes(snap: &Snapshot) -> Vec<RouteFlow> {
    let per_router = snap.routers.iter().map(|r| {
        r.routes.iter().filter_map(|route| {
            let port = r.ports.get(route.port)?;
            Some(RouteFlow {
                router: control::naming::qrouter_ns(&r.id),
                destination: format!("{}/{}", Ipv4Addr::from(route.prefix), route.len),
                via: route.via.map(|v| Ipv4Addr::from(v).to_string()),
                vlan: port.net,
                src: Ipv4Addr::from(port.ip).to_string(),
            })
        })
    });
    per_router.flatten().collect()
}

/// The underlay's and the routers' neighbour tables.
fn neighbours(d: &Dump) -> Vec<Neighbour> {
    let tables = [
        ("underlay", &d.neighbours),
        ("router", &d.router_neighbours),
    ];
    let rows = tables.into_iter().flat_map(|(table, rows)| {
        rows.iter().map(move |(ip, mac, age)| Neighbour {
            table,
            ip: Ipv4Addr::from(*ip).to_string(),
            mac: mac.map(|m| m.to_string()),
            age_ms: *age,
        })
    });
    rows.collect()
}

/// The firewalls of the filtered ports with their rule hits.
fn acls(snap: &Snapshot, d: &Dump) -> Vec<control::plane::AclView> {
    let ports = snap.acls.iter().enumerate();
    ports
        .filter_map(|(i, acl)| {
            Some(control::plane::AclView {
                device: snap.ports.get(i)?.name.clone(),
                acl: acl.clone()?,
                hits: d.acl_hits.get(i).cloned().unwrap_or_default(),
            })
        })
        .collect()
}

/// The connection tracking sessions.
fn sessions(d: &Dump) -> Vec<SessionFlow> {
    let side = |k: vrouter::state::conntrack::FlowKey| {
        let (src, dst) = (Ipv4Addr::from(k.src), Ipv4Addr::from(k.dst));
        format!("{src}:{} -> {dst}:{}", k.sport, k.dport)
    };
    let rows = d.sessions.iter().map(|s| SessionFlow {
        proto: s.orig.proto,
        orig: side(s.orig),
        reply: side(s.reply),
        packets: s.packets,
        bytes: s.bytes,
        age_ms: d.uptime_ms.saturating_sub(s.last_seen),
    });
    rows.collect()
}
