//! The appliance's side of the control plane: [`control::DataPlane`] over the workers'
//! command channels. A published topology is compiled for the devices attached at start
//! and handed to every worker, which picks it up between two bursts without stopping and
//! says so; `publish` returns once every worker runs it, so that a change is in force for
//! the very next packet when the client gets its answer.

use crate::report;
use crate::worker::{Command, Dump};
use control::api::ApiError;
use control::plane::NicCounters;
use control::{DataPlane, MacFlow, Neighbour, RouteFlow, Topology, ViewData};
use crossbeam_channel::{bounded, Sender};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use vrouter::stats::DropReason;
use vrouter::tables::Snapshot;

mod capture;
mod conntrack;
mod counters;
mod trace;
pub use counters::NicState;

/// How long a view waits for the worker's copy of its state.
const DUMP_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a change waits for every worker to run it. A polling worker takes it within
/// a few milliseconds (it looks at its commands every 64 polls); one that does not in this
/// long is stuck, and the change is refused and withdrawn.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);

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
    /// The DPDK port numbers of the attached devices, in attachment order.
    port_ids: Vec<u16>,
    /// Captures running, and the frames they copied and dropped.
    captures: Arc<crate::capture::Totals>,
}

impl Plane {
    /// The workers reached through `commands`, running `snapshot` on the devices `attached`
    /// (DPDK ports `port_ids`).
    pub fn new(
        commands: Vec<Sender<Command>>,
        attached: Vec<(String, String)>,
        snapshot: Arc<Snapshot>,
        pool_size: u32,
        port_ids: Vec<u16>,
    ) -> Plane {
        Plane {
            commands,
            attached,
            current: Mutex::new(snapshot),
            pool_size,
            port_ids,
            captures: Arc::default(),
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
    fn capture(
        &self,
        args: &control::capture::CaptureArgs,
    ) -> Result<Box<dyn control::capture::CaptureFeed>, ApiError> {
        self.start_capture(args)
    }

    fn publish(&self, topo: &Topology) -> Result<(), ApiError> {
        self.check_devices(topo)?;
        let mut current = self.lock();
        let names: Vec<String> = self.attached.iter().map(|(n, _)| n.clone()).collect();
        let snap = control::compile(topo, &names, current.generation + 1)
            .map_err(|e| ApiError::invalid(e.to_string()))?;
        let snap = Arc::new(snap);
        let (ack_tx, ack_rx) = bounded(self.commands.len());
        for c in &self.commands {
            c.send(Command::Publish(Arc::clone(&snap), Some(ack_tx.clone())))
                .map_err(|_| ApiError::internal("a worker has stopped"))?;
        }
        let deadline = std::time::Instant::now() + PUBLISH_TIMEOUT;
        let mut running = vec![false; self.commands.len()];
        for _ in &self.commands {
            match ack_rx.recv_deadline(deadline) {
                Ok(w) => running[usize::from(w)] = true,
                Err(_) => {
                    // The workers that took it go back to the previous snapshot (and a stuck
                    // one will too, once it reads its commands again).
                    for c in &self.commands {
                        let _ = c.send(Command::Publish(Arc::clone(&current), None));
                    }
                    let late: Vec<String> = running
                        .iter()
                        .enumerate()
                        .filter(|(_, r)| !**r)
                        .map(|(w, _)| w.to_string())
                        .collect();
                    return Err(ApiError::internal(format!(
                        "worker(s) {} did not take generation {} within {:?} (not polling?); \
                         change withdrawn",
                        late.join(", "),
                        snap.generation,
                        PUBLISH_TIMEOUT
                    )));
                }
            }
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
            output: report::dest_name(&snap, e.dest),
            n_packets: e.n_packets,
            n_bytes: e.n_bytes,
            age_ms: d.uptime_ms.saturating_sub(e.last_seen),
            is_static: e.is_static,
        });
        Ok(ViewData {
            workers: self.commands.len() as u16,
            mbufs: (d.mbufs_in_use, self.pool_size),
            steering: (d.stats.handed_off, d.stats.sync_sent, d.stats.sync_applied),
            nic: self.port_ids.iter().map(|&id| nic_counters(id)).collect(),
            counters: [report::counters(&d), vec![self.capture_counters()]].concat(),
            generation: d.generation,
            uptime_ms: d.uptime_ms,
            ports: ports.collect(),
            drops: drops.collect(),
            nodes: vrouter::pipeline::Node::ALL
                .iter()
                .map(|&n| (n.name(), d.stats.nodes[n as usize]))
                .collect(),
            macs: macs.collect(),
            routes: routes(&snap),
            neighbours: neighbours(&d),
            sessions: conntrack::sessions(&snap, &d),
            acls: acls(&snap, &d),
        })
    }

    fn flush(&self, flush: &control::plane::Flush) -> Result<u64, ApiError> {
        self.flush_workers(flush)
    }

    fn trace_start(&self, count: u32, device: Option<&str>) -> Result<u16, ApiError> {
        self.trace_start_workers(count, device)
    }

    fn trace_steps(&self) -> Result<Vec<control::api::TraceStepEntry>, ApiError> {
        self.trace_steps_workers()
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

/// The device counters of DPDK port `id` (zero once it is closed).
pub fn nic_counters(id: u16) -> NicCounters {
    crate::dpdk::eth_stats(id).map_or_else(
        |_| NicCounters::default(),
        |s| NicCounters {
            ipackets: s.ipackets,
            opackets: s.opackets,
            ierrors: s.ierrors,
            imissed: s.imissed,
            rx_nombuf: s.rx_nombuf,
            oerrors: s.oerrors,
        },
    )
}
