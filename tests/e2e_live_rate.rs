//! Live change at full rate: while one flow set streams through the appliance as fast as
//! it forwards, 1,000 control changes to unrelated resources are applied, and not one
//! frame of the set is lost: exactly the frames written into the input come out at the sink.
//!
//! ```text
//!   writer thread ──FIFO── eth1 = net_pcap rx ──┐
//!   (snat_1000f.pcap, repeated)                 vrouter, 1 worker ── eth2 = net_null (counts)
//!   1,000 changes on the control socket ────────┘    (GRE decap, tenant-R1, SNAT 10.1.101.80)
//! ```
//!
//! The flow set is `make bench`'s snat path: `benches/gen_traffic_sizes.py snat_1000f.pcap`
//! (the peers' file, byte for byte), 1,000 UDP flows from VMs behind compute1 in GRE key 2,
//! routed by tenant-R1 and SNATed to 10.1.101.80 out of eth2 (configs/bench.toml).
//!
//! The input: `infinite_rx` replays until the device stops, so the frames in flight when a
//! count is taken are unknown. Here net_pcap reads its pcap from a FIFO that the test feeds
//! with whole copies of the file until the changes are done, then closes: the appliance reads
//! to the end and stops receiving, so exactly `copies x 1000` frames went in, `copies` of
//! each flow. The sink: net_null, counted by its own driver (`opackets`), never blocks the
//! worker. A `tx_pcap` sink on a FIFO read by the test would check every frame, but the
//! worker then waits in write() whenever the reader is not scheduled, and serves the
//! control commands late (measured on a loaded 2-core machine: 0.3 s per change against
//! 10-60 ms with net_null); per-flow counts come from the sessions instead (each flow's
//! original-direction packets). Streaming from the FIFO runs at the rate of `infinite_rx`
//! replay here: the appliance, not the source, is the bottleneck.
//!
//! | what | checked |
//! |---|---|
//! | the 1,000 changes (250 x port create, rule create, rule delete, port delete on a network and a group no flow uses) | every one acknowledged; the generation rose by at least 1,000 |
//! | streaming during the changes | eth2's count grew in each tenth of the changes; rate printed |
//! | every frame received came out | eth1 rx = frames written = eth2's frames of the set (net_null opackets less the appliance's own frames, which stay those sent at start); routed = frames written |
//! | per flow | exactly 1,000 sessions, each with `copies` packets, none created again (SNAT port kept) |
//! | drops | every drop reason 0 (handoff_full included), no rx_nombuf/imissed/ierrors, no tx drop |

mod common;

use common::{assert_clean_exit, file_prefix, require_prereqs, Proc, TempDir, PYTHON, VROUTER};
use control::api::Op;
use control::client::Client;
use serde_json::{json, Value};
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The bench's traffic generator (imports the peers' gen_traffic.py).
const GENERATOR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/gen_traffic_sizes.py");
/// The topology `make bench` measures.
const BENCH_TOML: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/configs/bench.toml");
/// Where gen_traffic.py lives unless PEERS_DIR says otherwise (as benches/run.sh).
const PEERS_DEFAULT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/peers");
/// Flows in the streamed set (snat_1000f.pcap: one frame per flow).
const FLOWS: usize = 1000;
/// Control changes applied while the set streams.
const CHANGES: usize = 1000;
/// Copies of the file per write into the input FIFO.
const COPIES_PER_WRITE: u64 = 10;
/// The pcap global header's length.
const PCAP_HEADER: usize = 24;
/// Offset of the flow id in a snat frame as generated: GRE outer (14 + 20 + 8), inner
/// Ethernet, IPv4 and UDP (14 + 20 + 8), then "ANCHOR".
const IN_FLOW_ID: usize = 42 + 42 + 6;

/// Writes the pcap header, then whole copies of `records` (the file's frames) into `fifo`
/// until `stop`; returns the copies written.
fn feed_input(
    fifo: String,
    header: Vec<u8>,
    records: Vec<u8>,
    stop: Arc<AtomicBool>,
) -> JoinHandle<Result<u64, String>> {
    thread::spawn(move || {
        let mut f = File::options()
            .write(true)
            .open(&fifo)
            .map_err(|e| format!("open {fifo}: {e}"))?;
        // A 1 MiB pipe (the default maximum), so that the worker rarely finds it empty.
        // SAFETY: fcntl on a descriptor this thread owns.
        unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20) };
        let chunk = records.repeat(COPIES_PER_WRITE as usize);
        f.write_all(&header)
            .map_err(|e| format!("input header: {e}"))?;
        let mut copies = 0;
        while !stop.load(Ordering::Relaxed) {
            f.write_all(&chunk)
                .map_err(|e| format!("input after {copies} copies: {e}"))?;
            copies += COPIES_PER_WRITE;
        }
        Ok(copies)
    })
}

/// Creates a FIFO at `path`.
fn mkfifo(path: &str) {
    let c = std::ffi::CString::new(path).unwrap();
    // SAFETY: a valid NUL-terminated path.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(rc, 0, "mkfifo {path}: {}", std::io::Error::last_os_error());
}

/// EAL arguments: hugepages when 256 MiB of them are free, else `--no-huge`; the worker on
/// lcore 1; a file prefix of this run's own. Also says which memory it is.
fn eal(prefix: &str) -> (String, &'static str) {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |name: &str| -> u64 {
        meminfo
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    let free_kib = field("HugePages_Free:") * field("Hugepagesize:");
    let (mem, mode) = if free_kib >= 256 * 1024 {
        ("--in-memory", "hugepages")
    } else {
        ("--no-huge -m 512", "no hugepages (--no-huge)")
    };
    let eal = format!(
        "-l 0,1 --main-lcore 0 {mem} --no-pci --file-prefix {prefix} --log-level=*:warning"
    );
    (eal, mode)
}

/// The appliance process; on drop it is stopped and its EAL directory removed.
struct Appliance {
    proc: Option<Proc>,
    prefix: String,
}

impl Appliance {
    fn proc(&mut self) -> &mut Proc {
        self.proc.as_mut().expect("vrouter process")
    }
}

impl Drop for Appliance {
    fn drop(&mut self) {
        drop(self.proc.take());
        let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{}", self.prefix));
    }
}

/// One control operation from its wire form.
fn op(v: Value) -> Op {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{v}: {e}"))
}

/// The appliance's counters (`vrouterctl stats`).
fn stats(c: &mut Client) -> Value {
    c.call(Op::Stats(Default::default())).expect("stats")
}

/// The counters of device `name` in a stats answer.
fn port<'a>(stats: &'a Value, name: &str) -> &'a Value {
    stats["ports"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("no device {name} in {stats}"))
}

fn counter(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no counter {key} in {v}"))
}

/// Polls `cond` every 20 ms until it holds; panics with `what` after `limit`.
fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "{what} (waited {limit:?})");
        thread::sleep(Duration::from_millis(20));
    }
}

/// Waits (up to `limit`) for a thread to end and returns what it returned.
fn join<T>(h: JoinHandle<Result<T, String>>, limit: Duration, what: &str) -> T {
    wait_until(limit, &format!("{what} did not end"), || h.is_finished());
    h.join()
        .unwrap_or_else(|_| panic!("{what} panicked"))
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

#[test]
fn a_thousand_changes_at_full_rate_lose_no_frame() {
    require_prereqs();
    let peers = std::env::var("PEERS_DIR").unwrap_or_else(|_| PEERS_DEFAULT.to_owned());
    assert!(
        Path::new(&peers).join("gen_traffic.py").is_file(),
        "{peers}/gen_traffic.py (the peers' traffic generator) not found: set PEERS_DIR"
    );
    let started = Instant::now();
    let dir = TempDir::new("live-rate");

    // The flow set, as `make bench` writes it.
    let gen = common::run(&format!(
        "{PYTHON} {GENERATOR} --peers {peers} --out {} snat_1000f.pcap",
        dir.0.display()
    ));
    let file = std::fs::read(dir.path("snat_1000f.pcap")).expect("the generated pcap");
    let (header, records) = file.split_at(PCAP_HEADER);
    let mut ids = Vec::new();
    let mut at = 0;
    while at < records.len() {
        let caplen = u32::from_le_bytes(records[at + 8..at + 12].try_into().unwrap()) as usize;
        let f = &records[at + 16..at + 16 + caplen];
        ids.push(u32::from_be_bytes(
            f[IN_FLOW_ID..IN_FLOW_ID + 4].try_into().unwrap(),
        ));
        at += 16 + caplen;
    }
    assert_eq!(
        ids,
        (0..FLOWS as u32).collect::<Vec<_>>(),
        "the file holds each of the {FLOWS} flows once, in order ({gen})"
    );

    // The input FIFO, fed by a thread that opens it as the appliance does.
    let input = dir.path("in.fifo");
    mkfifo(&input);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = feed_input(
        input.clone(),
        header.to_vec(),
        records.to_vec(),
        Arc::clone(&stop),
    );

    let prefix = file_prefix();
    let (eal, memory) = eal(&prefix);
    let socket = dir.path("vrouter.sock");
    let argv: Vec<String> = [
        VROUTER,
        "--config",
        BENCH_TOML,
        "--reset",
        "--busy-poll",
        "--workers",
        "1",
        "--metrics",
        "none",
        "--state-dir",
        &dir.path("state"),
        "--socket",
        &socket,
        "--eal",
        &eal,
        "--devargs",
        &format!("eth1=net_pcap0,rx_pcap={input}"),
    ]
    .map(String::from)
    .to_vec();
    let mut vr = Appliance {
        proc: Some(Proc::spawn("vrouter", &argv)),
        prefix,
    };
    vr.proc()
        .wait_line("vrouter: ready", Duration::from_secs(30));
    let mut c = Client::connect(Path::new(&socket)).expect("control socket");

    // What eth2 sent that is not a routed frame: the appliance's own (its gratuitous ARPs
    // at start). It must stay so: then eth2's count less it is the set's frames.
    let s0 = stats(&mut c);
    let own =
        |s: &Value| counter(port(s, "eth2"), "tx_packets") - counter(&s["router"], "forwarded");
    let (own0, garps0) = (own(&s0), counter(&s0["router"], "garps"));
    let generation0 = counter(&s0, "generation");

    // The unrelated resources: a network of its own and a security group no port uses.
    for setup in [
        json!({"op": "network.create", "args": {"name": "churn-Net", "segmentation_id": 99}}),
        json!({"op": "subnet.create", "args": {"network": "churn-Net", "cidr": "192.168.99.0/24"}}),
        json!({"op": "security_group.create", "args": {"name": "churn-sg"}}),
    ] {
        c.call(op(setup.clone()))
            .unwrap_or_else(|e| panic!("{setup}: {e}"));
    }
    let sent_eth2 = |c: &mut Client| counter(port(&stats(c), "eth2"), "tx_packets");
    wait_until(
        Duration::from_secs(10),
        "the set should be streaming through the appliance",
        || sent_eth2(&mut c) > own0 || writer.is_finished(),
    );
    assert!(!writer.is_finished(), "the input writer ended early");

    // 1,000 changes, each acknowledged; eth2's count every 100.
    let mut samples = vec![(Instant::now(), sent_eth2(&mut c))];
    let mut acked = 0;
    for i in 0..CHANGES / 4 {
        let port = c
            .call(op(json!({"op": "port.create",
                "args": {"network": "churn-Net", "name": format!("churn-{i}")}})))
            .unwrap_or_else(|e| panic!("port create {i}: {e}"));
        let p = 1 + i as u16;
        let rule = c
            .call(op(json!({"op": "security_group_rule.create",
                "args": {"security_group": "churn-sg", "protocol": "tcp",
                         "port_range_min": p, "port_range_max": p}})))
            .unwrap_or_else(|e| panic!("rule create {i}: {e}"));
        c.call(op(
            json!({"op": "security_group_rule.delete", "args": {"id": rule["id"]}}),
        ))
        .unwrap_or_else(|e| panic!("rule delete {i}: {e}"));
        c.call(op(json!({"op": "port.delete", "args": {"id": port["id"]}})))
            .unwrap_or_else(|e| panic!("port delete {i}: {e}"));
        acked += 4;
        if acked % 100 == 0 {
            samples.push((Instant::now(), sent_eth2(&mut c)));
        }
    }
    let (t0, n0) = samples[0];
    let (t1, n1) = *samples.last().unwrap();
    let took = t1 - t0;
    let rate = (n1 - n0) as f64 / took.as_secs_f64();
    println!(
        "{acked} changes acknowledged in {took:.2?} ({:.0}/s); meanwhile eth2 sent {} frames \
         of the set: {:.3} Mpps ({memory})",
        acked as f64 / took.as_secs_f64(),
        n1 - n0,
        rate / 1e6
    );
    assert_eq!(acked, CHANGES);
    for w in samples.windows(2) {
        assert!(
            w[1].1 > w[0].1,
            "the set must stream during every 100 changes: eth2 counts {:?}",
            samples.iter().map(|s| s.1).collect::<Vec<_>>()
        );
    }

    // The input ends; everything the appliance received must come out.
    stop.store(true, Ordering::Relaxed);
    let copies = join(writer, Duration::from_secs(20), "the input writer");
    let sent = copies * FLOWS as u64;
    wait_until(
        Duration::from_secs(20),
        &format!("eth1 should receive all {sent} frames written, and eth2 send them"),
        || {
            let s = stats(&mut c);
            counter(port(&s, "eth1"), "rx_packets") >= sent
                && counter(&port(&s, "eth2")["nic"], "opackets") >= sent + own0
        },
    );
    let s = stats(&mut c);
    let (eth1, eth2) = (port(&s, "eth1"), port(&s, "eth2"));
    assert_eq!(counter(eth1, "rx_packets"), sent, "eth1 rx: {eth1}");
    assert_eq!(counter(&eth1["nic"], "ipackets"), sent, "eth1 NIC: {eth1}");
    assert_eq!(
        counter(&s["router"], "forwarded"),
        sent,
        "routed: {}",
        s["router"]
    );
    assert_eq!(
        counter(&eth2["nic"], "opackets"),
        sent + own0,
        "net_null counted every frame of the set ({own0} of the appliance's own): {eth2}"
    );
    assert_eq!(counter(eth2, "tx_packets"), sent + own0, "eth2 tx: {eth2}");
    assert_eq!(
        own(&s),
        own0,
        "no other frame of the appliance's own left eth2"
    );
    assert_eq!(counter(&s["router"], "garps"), garps0, "{}", s["router"]);
    for (dev, keys) in [
        (eth1, &["rx_nombuf", "imissed", "ierrors"][..]),
        (eth2, &["oerrors"][..]),
    ] {
        for k in keys {
            assert_eq!(counter(&dev["nic"], k), 0, "{k}: {dev}");
        }
    }
    assert_eq!(counter(eth1, "rx_dropped"), 0, "{eth1}");
    assert_eq!(counter(eth2, "tx_dropped"), 0, "{eth2}");
    let drops: Vec<(&String, &Value)> = s["drops"]
        .as_object()
        .expect("drops by reason")
        .iter()
        .filter(|(_, n)| n.as_u64() != Some(0))
        .collect();
    assert!(
        drops.is_empty(),
        "no frame dropped, for any reason: {drops:?}"
    );
    assert!(
        counter(&s, "generation") >= generation0 + CHANGES as u64,
        "every change was published to the worker: generation {generation0} -> {}",
        counter(&s, "generation")
    );

    // Per flow: one session each, created once, with every frame of its flow.
    let list = c
        .call(op(json!({"op": "conntrack.list", "args": {}})))
        .expect("conntrack list");
    let sessions = list["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), FLOWS, "one session per flow");
    assert_eq!(
        counter(&s["conntrack"], "created"),
        FLOWS as u64,
        "{}",
        s["conntrack"]
    );
    let off: Vec<&Value> = sessions
        .iter()
        .filter(|x| x["packets"][0].as_u64() != Some(copies))
        .take(5)
        .collect();
    assert!(
        off.is_empty(),
        "every flow's session counted {copies} packets: {off:?}"
    );

    let done = vr.proc().terminate(Duration::from_secs(15));
    assert_clean_exit(&done, "vrouter");
    println!(
        "{sent} frames ({copies} x {FLOWS} flows) in, {sent} out, each flow {copies} times; \
         {:.3} Mpps during the changes; test {:.1?}",
        rate / 1e6,
        started.elapsed()
    );
}
