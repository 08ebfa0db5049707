//! The running appliance: EAL, mbuf pool, the devices of the topology, the workers, the
//! control socket, and the main thread's loop until SIGINT or SIGTERM.
//!
//! With N workers every device gets N tx queues (one per worker, no lock) and N rx queues
//! (a vhost-user device: as many as the guest has), worker w polling the rx queues
//! q ≡ w (mod N). Flows are steered to their owning worker (`docs/multicore.md`).

use crate::dpdk::{Eal, Mempool, Port};
use crate::plane::Plane;
use crate::worker::{Dump, Links, Worker};
use anyhow::{anyhow, bail, Context, Result};
use control::Topology;
use crossbeam_channel::{unbounded, Receiver};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vrouter::tables::{PortIdx, Snapshot};

/// Set by SIGINT/SIGTERM; every loop of the process ends when it is set.
pub static STOP: AtomicBool = AtomicBool::new(false);

/// Per-lcore mbuf cache of the pool.
const POOL_CACHE: u32 = 256;
/// Descriptors per rx and tx ring.
const RING_SIZE: u16 = 1024;

/// How the appliance runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// EAL arguments, program name first.
    pub eal_args: Vec<String>,
    /// Poll without napping when idle (for benchmarks; costs a full core).
    pub busy_poll: bool,
    /// Mbufs in the pool (rx rings, tx batches, and for net_pcap replay the whole file).
    pub mbufs: u32,
    /// Worker threads, one per worker lcore (more than the lcores: plain threads).
    pub workers: u16,
    /// Print a counter line this often.
    pub stats_interval: Option<Duration>,
}

/// What the appliance leaves when it stops: the final state and the snapshot it ran.
pub struct Outcome {
    /// Final worker state.
    pub dump: Dump,
    /// The snapshot at the end (device names, networks).
    pub snapshot: Arc<Snapshot>,
}

/// Installs the SIGINT and SIGTERM handlers that set [`STOP`].
pub fn install_signal_handlers() {
    extern "C" fn on_signal(_: libc::c_int) {
        STOP.store(true, Ordering::Relaxed);
    }
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(sig, on_signal as *const () as libc::sighandler_t);
        }
    }
}

/// Runs `topo` until [`STOP`] is set. Once the worker runs, `control` is called with the
/// data plane to start the control plane; what it returns is kept until the end.
pub fn run<G>(
    topo: &Topology,
    opts: &Options,
    control: impl FnOnce(Arc<Plane>) -> Result<G>,
) -> Result<Outcome> {
    let eal = Eal::init(&opts.eal_args).map_err(|e| anyhow!("{e}"))?;
    let outcome = run_on(&eal, topo, opts, control);
    eal.cleanup().map_err(|e| anyhow!("{e}"))?;
    outcome
}

/// Opens the devices, runs the worker and stops it again; all DPDK objects made here are
/// released before returning, so that the EAL can be cleaned up.
fn run_on<G>(
    eal: &Eal,
    topo: &Topology,
    opts: &Options,
    control: impl FnOnce(Arc<Plane>) -> Result<G>,
) -> Result<Outcome> {
    let pool = Arc::new(
        Mempool::new("vrouter_mbufs", opts.mbufs, POOL_CACHE, -1).map_err(|e| anyhow!("{e}"))?,
    );
    let workers = opts.workers.max(1);
    let mut ports = Vec::new();
    let mut names = Vec::new();
    for (name, devargs) in topo.devices() {
        let port = open_port(&name, &devargs, &pool, workers)?;
        ports.push(port);
        names.push(name);
    }
    let snapshot = Arc::new(control::compile(topo, &names, 1)?);
    let lcores = eal.worker_lcores();
    let mut commands = Vec::new();
    let mut placements = Vec::new();
    let mut launched = Vec::new();
    let (done_tx, done_rx) = unbounded();
    for links in Links::mesh(workers) {
        let w = links.id;
        let mut rx = Vec::new();
        let mut tx = Vec::new();
        for (i, port) in ports.iter().enumerate() {
            for q in (w..port.rx_queues()).step_by(usize::from(workers)) {
                rx.push((i as PortIdx, port.rx_queue(q).map_err(|e| anyhow!("{e}"))?));
            }
            tx.push(Some(port.tx_queue(w).map_err(|e| anyhow!("{e}"))?));
        }
        let (cmd_tx, cmd_rx) = unbounded();
        commands.push(cmd_tx);
        let worker = Worker::new(
            Arc::clone(&snapshot),
            rx,
            tx,
            Arc::clone(&pool),
            cmd_rx,
            links,
            &STOP,
            opts.busy_poll,
        );
        let done_tx = done_tx.clone();
        match lcores.get(usize::from(w)).copied() {
            Some(lcore) => {
                eal.remote_launch(lcore, move || {
                    let _ = done_tx.send(worker.run());
                    0
                })
                .map_err(|e| anyhow!("{e}"))?;
                launched.push(lcore);
                placements.push(format!("lcore {lcore}"));
            }
            None => {
                std::thread::Builder::new()
                    .name(format!("vrouter-worker{w}"))
                    .spawn(move || {
                        let _ = done_tx.send(worker.run());
                    })
                    .context("starting a worker thread")?;
                placements.push("a thread".to_string());
            }
        }
    }
    drop(done_tx);
    let placement = placements.join(", ");
    let plane = Arc::new(Plane::new(
        commands,
        topo.devices(),
        Arc::clone(&snapshot),
        opts.mbufs,
    ));
    let guard = control(Arc::clone(&plane));
    if guard.is_ok() {
        let devices: Vec<String> = names
            .iter()
            .zip(&ports)
            .map(|(n, p)| format!("{n}={}", p.name()))
            .collect();
        println!(
            "vrouter: ready: {} devices ({}), {workers} worker(s) on {placement}, tsc_hz={}",
            devices.len(),
            devices.join(" "),
            crate::dpdk::tsc_hz()
        );
        let _ = std::io::stdout().flush();
    }
    supervise(&plane, &done_rx, guard.is_ok(), opts.stats_interval);
    // The control socket closes first: no change is accepted while the worker stops.
    let started = guard.map(drop);
    let mut dumps = Vec::new();
    for _ in 0..workers {
        dumps.push(
            done_rx
                .recv()
                .map_err(|_| anyhow!("a worker ended without a final report"))?,
        );
    }
    for lcore in launched {
        eal.wait_lcore(lcore);
    }
    let dump = dumps
        .into_iter()
        .reduce(Dump::merge)
        .ok_or_else(|| anyhow!("no worker ran"))?;
    for mut port in ports {
        let name = port.name().to_string();
        port.stop()
            .and_then(|()| port.close())
            .map_err(|e| anyhow!("stopping {name}: {e}"))?;
    }
    drop(pool);
    started?;
    Ok(Outcome {
        dump,
        snapshot: plane.snapshot(),
    })
}

/// Probes, configures and starts one device with a tx queue per worker, naming it and its
/// devargs on failure.
fn open_port(name: &str, devargs: &str, pool: &Arc<Mempool>, workers: u16) -> Result<Port> {
    let fail = |e: crate::dpdk::DpdkError| anyhow!("device {name} ({devargs}): {e}");
    let mut port = Port::probe(devargs).map_err(fail)?;
    let limits = port.limits().clone();
    if limits.max_tx < workers {
        bail!(
            "device {name} ({devargs}): {} offers {} tx queue(s) and {workers} workers need one \
             each (vhost-user: queues={workers}; net_pcap: a tx_pcap per worker)",
            limits.driver,
            limits.max_tx
        );
    }
    // A vhost-user guest uses every queue it has; other devices get one per worker.
    let rxq = if limits.driver == "net_vhost" {
        limits.max_rx.max(1)
    } else {
        workers.min(limits.max_rx.max(1))
    };
    port.configure(rxq, workers, RING_SIZE, RING_SIZE, pool)
        .map_err(fail)?;
    // A switch port sees every frame; devices without the notion (null, ring) refuse.
    if let Err(e) = port.set_promiscuous(true) {
        log::debug!("device {name}: promiscuous mode not set: {e}");
    }
    port.start().map_err(fail)?;
    Ok(port)
}

/// The main thread's loop until [`STOP`] (at once unless `started`): periodic counter
/// lines.
fn supervise(plane: &Plane, done: &Receiver<Dump>, started: bool, interval: Option<Duration>) {
    let mut last = Instant::now();
    while started && !STOP.load(Ordering::Relaxed) && done.is_empty() {
        std::thread::sleep(Duration::from_millis(50));
        let Some(every) = interval else { continue };
        if last.elapsed() < every {
            continue;
        }
        last = Instant::now();
        if let Some(d) = plane.worker_dump(Duration::from_secs(1)) {
            println!("{}", crate::report::summary_line(&plane.snapshot(), &d));
            let _ = std::io::stdout().flush();
        }
    }
    STOP.store(true, Ordering::Relaxed);
}
