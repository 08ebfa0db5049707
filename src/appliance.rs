//! The running appliance: EAL, mbuf pool, the devices of the topology, one worker, the
//! control socket, and the main thread's loop until SIGINT or SIGTERM.

use crate::dpdk::{Eal, Mempool, Port};
use crate::plane::Plane;
use crate::worker::{Dump, Worker};
use anyhow::{anyhow, Context, Result};
use control::Topology;
use crossbeam_channel::{bounded, unbounded, Receiver};
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
    let mut ports = Vec::new();
    let mut names = Vec::new();
    for (name, devargs) in topo.devices() {
        let port = open_port(&name, &devargs, &pool)?;
        ports.push(port);
        names.push(name);
    }
    let snapshot = Arc::new(control::compile(topo, &names, 1)?);
    let mut rx = Vec::new();
    let mut tx = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        rx.push((i as PortIdx, port.rx_queue(0).map_err(|e| anyhow!("{e}"))?));
        tx.push(Some(port.tx_queue(0).map_err(|e| anyhow!("{e}"))?));
    }
    let (cmd_tx, cmd_rx) = unbounded();
    let worker = Worker::new(
        Arc::clone(&snapshot),
        rx,
        tx,
        Arc::clone(&pool),
        cmd_rx,
        &STOP,
        opts.busy_poll,
    );
    let (done_tx, done_rx) = bounded(1);
    let lcore = eal.worker_lcores().first().copied();
    let placement = match lcore {
        Some(lcore) => {
            eal.remote_launch(lcore, move || {
                let _ = done_tx.send(worker.run());
                0
            })
            .map_err(|e| anyhow!("{e}"))?;
            format!("lcore {lcore}")
        }
        None => {
            std::thread::Builder::new()
                .name("vrouter-worker".into())
                .spawn(move || {
                    let _ = done_tx.send(worker.run());
                })
                .context("starting the worker thread")?;
            "a thread of the main lcore".to_string()
        }
    };
    let plane = Arc::new(Plane::new(cmd_tx, topo.devices(), Arc::clone(&snapshot)));
    let guard = control(Arc::clone(&plane));
    if guard.is_ok() {
        let devices: Vec<String> = names
            .iter()
            .zip(&ports)
            .map(|(n, p)| format!("{n}={}", p.name()))
            .collect();
        println!(
            "vrouter: ready: {} devices ({}), worker on {placement}, tsc_hz={}",
            devices.len(),
            devices.join(" "),
            crate::dpdk::tsc_hz()
        );
        let _ = std::io::stdout().flush();
    }
    supervise(&plane, &done_rx, guard.is_ok(), opts.stats_interval);
    // The control socket closes first: no change is accepted while the worker stops.
    let started = guard.map(drop);
    let dump = done_rx
        .recv()
        .map_err(|_| anyhow!("the worker ended without a final report"))?;
    if let Some(lcore) = lcore {
        eal.wait_lcore(lcore);
    }
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

/// Probes, configures and starts one device, naming it and its devargs on failure.
fn open_port(name: &str, devargs: &str, pool: &Arc<Mempool>) -> Result<Port> {
    let fail = |e: crate::dpdk::DpdkError| anyhow!("device {name} ({devargs}): {e}");
    let mut port = Port::probe(devargs).map_err(fail)?;
    port.configure(1, 1, RING_SIZE, RING_SIZE, pool)
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
