//! `vrouter`: the appliance daemon. Loads the persisted state (or, on a first start, the
//! topology file), opens its DPDK devices, serves the control socket and forwards until
//! SIGINT or SIGTERM; `--check` only validates the topology file and prints its view.

use anyhow::{anyhow, bail, Result};
use clap::Parser;
use control::server::{Server, ServerOptions};
use control::service::Service;
use control::store::Store;
use control::Topology;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use vrouter_appliance::{appliance, report};

/// The reference topology, run when no `--config` is given.
const EMBEDDED_CONFIG: &str = include_str!("../configs/tenant-a.toml");
/// How the embedded topology is named in messages.
const EMBEDDED_NAME: &str = "embedded configs/tenant-a.toml";

/// What `--help` and the man page say about signals and logs.
const SIGNALS_AND_LOGS: &str = "\
Signals: SIGINT and SIGTERM stop the appliance cleanly (devices closed, counters printed). \
SIGHUP re-reads nothing: the configuration is the persisted state, changed through \
vrouterctl (the control socket); the appliance prints one line, \"vrouter: SIGHUP: nothing \
is re-read ...\", with its counters, and goes on forwarding.

Logs: to the systemd journal, with their fields, when run under systemd (JOURNAL_STREAM); \
otherwise as text lines on stderr. RUST_LOG filters them (default: info).";

/// Command line of the daemon.
#[derive(Parser, Debug)]
#[command(
    name = "vrouter",
    version,
    about = "DPDK virtual router: a Neutron GRE network node in one process",
    after_long_help = SIGNALS_AND_LOGS
)]
struct Args {
    /// Topology file (TOML) that seeds the first start (and --reset); without it, the
    /// embedded reference topology (configs/tenant-a.toml). Once a state is persisted, the
    /// state wins.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The control socket vrouterctl talks to (mode 0660; its directory is created).
    #[arg(long, value_name = "PATH", default_value = "/run/vrouter/vrouter.sock")]
    socket: PathBuf,
    /// Where every accepted change is persisted (state.json) before it is acknowledged.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/vrouter")]
    state_dir: PathBuf,
    /// Discard the persisted state and start again from --config (or the embedded topology).
    #[arg(long)]
    reset: bool,
    /// Validate the topology, print the derived view (namespaces, bridges, ports, VLAN ↔
    /// tunnel map) and exit; non-zero with every error listed on a bad file.
    #[arg(long)]
    check: bool,
    /// NAME=DEVARGS: puts uplink NAME (eth1, eth2) on, or binds the port whose device is NAME
    /// (tap1653ec91-ad) to, the DPDK device DEVARGS (a PCI address or a vdev). Repeatable.
    #[arg(long = "devargs", value_name = "NAME=DEVARGS")]
    devargs: Vec<String>,
    /// EAL arguments, as one string. Default: virtual devices only, no hugepages, no PCI,
    /// a file prefix of our own (`--no-huge -m 512 --no-pci --file-prefix vrouter-<pid>`).
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    eal: Option<String>,
    /// Poll without napping when idle (benchmarks).
    #[arg(long)]
    busy_poll: bool,
    /// Mbufs in the packet pool; a net_pcap device with infinite_rx needs the whole file.
    #[arg(long, value_name = "N", default_value_t = 16383)]
    mbufs: u32,
    /// Worker threads polling the devices, each on a worker lcore of its own while there
    /// are (EAL -l); flows are steered to one owner, so NAT and conntrack need no lock.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    workers: u16,
    /// Print a line of counters every SECS seconds.
    #[arg(long, value_name = "SECS")]
    stats_interval: Option<u64>,
    /// The OpenMetrics endpoint (http://ADDR/metrics), served off the forwarding cores;
    /// `none` turns it off.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9109", value_parser = parse_metrics)]
    metrics: Metrics,
}

/// Where `--metrics` listens: an address, or nowhere.
#[derive(Clone, Debug)]
struct Metrics(Option<std::net::SocketAddr>);

/// Parses `--metrics`: `none`, or IP:PORT.
fn parse_metrics(s: &str) -> Result<Metrics, String> {
    if s == "none" {
        return Ok(Metrics(None));
    }
    s.parse()
        .map(|a| Metrics(Some(a)))
        .map_err(|e| format!("{s:?}: expected IP:PORT or none ({e})"))
}

fn main() -> ExitCode {
    if vrouter_appliance::docs::write_if_asked(<Args as clap::CommandFactory>::command()) {
        return ExitCode::SUCCESS;
    }
    vrouter_appliance::logging::init();
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vrouter: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<()> {
    let devargs = args
        .devargs
        .iter()
        .map(|d| match d.split_once('=') {
            Some((name, devargs)) => Ok((name.to_owned(), devargs.to_owned())),
            None => bail!("--devargs {d:?}: expected NAME=DEVARGS"),
        })
        .collect::<Result<Vec<_>>>()?;
    if args.check {
        let topo = with_devargs(load_config(&args)?, &devargs)?;
        print!("{}", control::view::render(&topo));
        return Ok(());
    }
    let store = Store::new(&args.state_dir);
    let persisted = if args.reset { None } else { store.load()? };
    let base = match persisted {
        Some(topo) => {
            println!(
                "vrouter: state from {} (--config seeds only a first start; --reset discards the state)",
                store.path().display()
            );
            topo
        }
        None => load_config(&args)?,
    };
    let topo = with_devargs(base.clone(), &devargs)?;
    appliance::install_signal_handlers();
    let opts = appliance::Options {
        eal_args: eal_args(args.eal.as_deref()),
        busy_poll: args.busy_poll,
        mbufs: args.mbufs,
        workers: args.workers,
        stats_interval: args.stats_interval.map(Duration::from_secs),
        metrics: args.metrics.0,
    };
    let out = appliance::run(&topo, &opts, |plane| {
        let service = Service::new(base, devargs, store, plane)?;
        Ok(Server::start(
            &args.socket,
            Arc::new(service),
            ServerOptions::default(),
        )?)
    })?;
    print!("{}", report::full(&out));
    Ok(())
}

/// The topology of `--config`, or the embedded one.
fn load_config(args: &Args) -> Result<Topology> {
    let loaded = match &args.config {
        Some(path) => control::load_file(path),
        None => control::load_str(EMBEDDED_CONFIG, EMBEDDED_NAME),
    };
    loaded.map_err(|e| anyhow!("{e}"))
}

/// `topo` with every `--devargs NAME=DEVARGS` applied, validated.
fn with_devargs(mut topo: Topology, devargs: &[(String, String)]) -> Result<Topology> {
    for (name, args) in devargs {
        topo.set_devargs(name, args)
            .map_err(|e| anyhow!("--devargs {name}={args}: {e}"))?;
    }
    if let Err(errors) = topo.validate() {
        let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
        bail!("{} error(s):\n{}", list.len(), list.join("\n"));
    }
    if topo.devices().is_empty() {
        let origin = topo.origin.as_deref().unwrap_or("the topology");
        bail!(
            "{origin}: no devices: no [[uplink]] and no locally bound [[port]] (an empty or \
             comment-only file?); nothing to forward, refusing to start"
        );
    }
    Ok(topo)
}

/// The EAL argument vector: the given string split on white space, or the default for
/// virtual devices (a worker lcore of its own when the machine has a second core).
fn eal_args(given: Option<&str>) -> Vec<String> {
    let mut v = vec!["vrouter".to_string()];
    match given {
        Some(s) => v.extend(s.split_whitespace().map(String::from)),
        None => {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let lcores = if cores > 1 { "0,1" } else { "0" };
            let prefix = format!("vrouter-{}", std::process::id());
            v.extend(
                [
                    "--no-huge",
                    "-m",
                    "512",
                    "--no-pci",
                    "--file-prefix",
                    &prefix,
                    "-l",
                    lcores,
                    "--log-level",
                    "*:warning",
                ]
                .map(String::from),
            );
        }
    }
    v
}
