//! The running appliance: EAL, mbuf pool, the devices of the topology, the workers, the
//! control socket, and the main thread's loop until SIGINT or SIGTERM.
//!
//! With N workers every device gets N tx queues (one per worker, no lock) and N rx queues
//! (a vhost-user device: as many as the guest has), worker w polling the rx queues
//! q ≡ w (mod N). Flows are steered to their owning worker (`docs/multicore.md`).

use crate::dpdk::{Eal, Mempool, Port};
use crate::metrics::MetricsServer;
use crate::notify::Notifier;
use crate::outcome::Outcome;
use crate::plane::Plane;
use crate::worker::{Dump, Links, Worker};
use anyhow::{anyhow, bail, Context, Result};
use control::Topology;
use crossbeam_channel::{unbounded, Receiver};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vrouter::state::huge_pages;
use vrouter::tables::PortIdx;

/// Set by SIGINT/SIGTERM; every loop of the process ends when it is set.
pub static STOP: AtomicBool = AtomicBool::new(false);
/// Set by SIGHUP: the main thread prints a counter line (nothing is re-read).
static HUP: AtomicBool = AtomicBool::new(false);

/// The pipe that wakes the main thread: written by the signal handler and by a worker
/// that ends (write end; -1 until [`install_signal_handlers`] made it).
static WAKE_WR: AtomicI32 = AtomicI32::new(-1);
/// The main thread's end of that pipe.
static WAKE_RD: AtomicI32 = AtomicI32::new(-1);

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
    /// Where the metrics endpoint listens, if anywhere.
    pub metrics: Option<SocketAddr>,
}

/// Wakes the main thread (async-signal-safe: one write(2) to a non-blocking pipe).
fn wake_main() {
    let fd = WAKE_WR.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: writes one byte from a static buffer; a full pipe (EAGAIN) already wakes.
        unsafe {
            libc::write(fd, b"x".as_ptr().cast(), 1);
        }
    }
}

/// Installs the SIGINT and SIGTERM handlers that set [`STOP`] and wake the main thread.
pub fn install_signal_handlers() {
    extern "C" fn on_signal(_: libc::c_int) {
        STOP.store(true, Ordering::Relaxed);
        wake_main();
    }
    let mut fds = [-1; 2];
    // SAFETY: fds is a valid array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } == 0 {
        WAKE_RD.store(fds[0], Ordering::Relaxed);
        WAKE_WR.store(fds[1], Ordering::Relaxed);
    }
    extern "C" fn on_hup(_: libc::c_int) {
        HUP.store(true, Ordering::Relaxed);
        wake_main();
    }
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(sig, on_signal as *const () as libc::sighandler_t);
        }
    }
    // SAFETY: as above.
    unsafe {
        libc::signal(libc::SIGHUP, on_hup as *const () as libc::sighandler_t);
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
    // The tables take explicit 2 MiB pages only when the EAL runs on huge pages too; with
    // `--no-huge` they get transparent huge pages (or 4 KiB pages, with a warning).
    huge_pages::use_hugetlb(!opts.eal_args.iter().any(|a| a == "--no-huge"));
    let outcome = run_on(&eal, topo, opts, control);
    eal.cleanup().map_err(|e| anyhow!("{e}"))?;
    outcome
}

/// Logs the kind of pages the workers' tables got, and a warning if some are in 4 KiB pages.
fn log_table_pages() {
    let pages = huge_pages::usage();
    log::info!(
        "tables: {} MiB in explicit huge pages, {} MiB in transparent huge pages, {} MiB in 4 KiB pages",
        pages.hugetlb_bytes >> 20,
        pages.transparent_bytes >> 20,
        pages.small_bytes >> 20
    );
    if let Some(warning) = huge_pages::fallback_warning() {
        log::warn!("{warning}");
    }
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
                    wake_main();
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
                        wake_main();
                    })
                    .context("starting a worker thread")?;
                placements.push("a thread".to_string());
            }
        }
    }
    drop(done_tx);
    log_table_pages();
    let placement = placements.join(", ");
    let plane = Arc::new(Plane::new(
        commands,
        topo.devices(),
        Arc::clone(&snapshot),
        opts.mbufs,
        ports.iter().map(Port::id).collect(),
    ));
    // A metrics endpoint that cannot listen (the address taken by another instance) is
    // reported and left off; forwarding does not depend on it.
    let guard = control(Arc::clone(&plane)).map(|g| {
        let metrics = opts.metrics.and_then(|addr| {
            MetricsServer::start(addr, Arc::clone(&plane))
                .map_err(|e| eprintln!("vrouter: {e:#}; metrics off"))
                .ok()
        });
        (g, metrics)
    });
    let notifier = Notifier::from_env();
    if let Ok((_, metrics)) = &guard {
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
        if let Some(addr) = metrics.as_ref().and_then(MetricsServer::local_addr) {
            println!("vrouter: metrics on http://{addr}/metrics");
        }
        let _ = std::io::stdout().flush();
        notifier.ready(&format!(
            "ready: {} device(s), {workers} worker(s)",
            devices.len()
        ));
    }
    let watch = Watch {
        started: guard.is_ok(),
        interval: opts.stats_interval,
        notifier: &notifier,
    };
    supervise(&plane, &done_rx, &watch);
    notifier.stopping();
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
    let nic = ports
        .iter()
        .map(|p| crate::plane::nic_counters(p.id()))
        .collect();
    for mut port in ports {
        let name = port.name().to_string();
        port.stop()
            .and_then(|()| port.close())
            .map_err(|e| anyhow!("stopping {name}: {e}"))?;
    }
    let mbufs = (opts.mbufs, pool.in_use());
    drop(pool);
    started?;
    Ok(Outcome {
        dump,
        snapshot: plane.snapshot(),
        nic,
        mbufs,
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

/// What the main thread watches for.
struct Watch<'a> {
    /// The control plane started (else the loop ends at once).
    started: bool,
    /// Print a counter line this often.
    interval: Option<Duration>,
    /// The service manager to tell how the workers are doing.
    notifier: &'a Notifier,
}

/// The main thread's loop until [`STOP`] (at once unless started) or a worker ends: it
/// sleeps in poll(2) on the wake pipe, up to the next periodic counter line or check of
/// the workers for the service manager (a watchdog ping only when they all answer).
/// SIGHUP prints a counter line at once.
fn supervise(plane: &Plane, done: &Receiver<Dump>, watch: &Watch) {
    let interval = watch.interval;
    let mut next_line = interval.map(|every| Instant::now() + every);
    let check_every = watch.notifier.check_every();
    let mut next_check = check_every.map(|every| Instant::now() + every);
    while watch.started && !STOP.load(Ordering::Relaxed) && done.is_empty() {
        let soonest = [next_line, next_check].into_iter().flatten().min();
        let timeout = soonest.map_or(-1, |at| {
            let left = at.saturating_duration_since(Instant::now());
            i32::try_from(left.as_millis()).unwrap_or(i32::MAX)
        });
        wait_for_wake(timeout);
        if let (Some(at), Some(every)) = (next_check, check_every) {
            if Instant::now() >= at && !STOP.load(Ordering::Relaxed) {
                next_check = Some(at + every);
                let answers = plane.counters(watch.notifier.answer_timeout());
                watch.notifier.checked(answers.as_deref(), plane.workers());
            }
        }
        if HUP.swap(false, Ordering::Relaxed) {
            if let Some(d) = plane.worker_dump(Duration::from_secs(1)) {
                println!(
                    "vrouter: SIGHUP: nothing is re-read (the state is changed through the \
                     control socket); {}",
                    crate::report::summary_line(&plane.snapshot(), &d)
                );
                let _ = std::io::stdout().flush();
            }
        }
        let (Some(at), Some(every)) = (next_line, interval) else {
            continue;
        };
        if Instant::now() < at || STOP.load(Ordering::Relaxed) {
            continue;
        }
        next_line = Some(Instant::now() + every);
        if let Some(d) = plane.worker_dump(Duration::from_secs(1)) {
            println!("{}", crate::report::summary_line(&plane.snapshot(), &d));
            let _ = std::io::stdout().flush();
        }
    }
    STOP.store(true, Ordering::Relaxed);
}

/// Sleeps until the wake pipe is written or `timeout_ms` (-1: no limit) passes, then
/// empties the pipe. Without a pipe (no signal handlers installed), sleeps 50 ms at most.
fn wait_for_wake(timeout_ms: i32) {
    let fd = WAKE_RD.load(Ordering::Relaxed);
    if fd < 0 {
        let ms = if timeout_ms < 0 {
            50
        } else {
            timeout_ms.min(50)
        };
        std::thread::sleep(Duration::from_millis(ms as u64));
        return;
    }
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd; the pipe stays open for the life of the process.
    unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    let mut buf = [0u8; 64];
    // SAFETY: reads into a local buffer from a non-blocking pipe.
    while unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
}
