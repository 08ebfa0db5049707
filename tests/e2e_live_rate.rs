//! Live change at full rate: while one flow set streams through the appliance as fast as
//! it forwards, 1,000 control changes to unrelated resources are applied, and not one
//! frame of the set is lost, duplicated or altered, counted frame by frame at the sink.
//!
//! ```text
//!   writer thread ──FIFO── eth1 = net_pcap rx ──┐
//!   (snat_1000f.pcap, repeated)                 vrouter, 1 worker ── eth2 = net_pcap tx ──FIFO── reader thread
//!   1,000 changes on the control socket ────────┘    (GRE decap, tenant-R1, SNAT 10.1.101.80)     (per-flow count)
//! ```
//!
//! The flow set is `make bench`'s snat path: `benches/gen_traffic_sizes.py snat_1000f.pcap`
//! (the peers' file, byte for byte), 1,000 UDP flows from VMs behind compute1 in GRE key 2,
//! routed by tenant-R1 and SNATed to 10.1.101.80 out of eth2 (configs/bench.toml).
//!
//! Why FIFOs: `infinite_rx` replays until the device stops, so the frames in flight when a
//! count is taken are unknown. Here net_pcap reads its pcap from a FIFO that the test feeds
//! with whole copies of the file until the changes are done, then closes: the appliance reads
//! to the end and stops receiving, so exactly `copies x 1000` frames went in, `copies` of
//! each flow. The sink is net_pcap `tx_pcap` on a second FIFO (the PMD flushes its dumper
//! after every burst), read by the test: every frame that left is checked (MACs, SNAT
//! address, destination, both checksums, its flow's payload, one SNAT port per flow for the
//! whole run) and counted per flow. A sink that only counts (net_null's `opackets`) would
//! mix in the appliance's own frames (gratuitous ARPs) and could not tell a lost frame from
//! a duplicate of another. Streaming through FIFOs runs at the rate of `infinite_rx` replay
//! here (the appliance is the bottleneck), a little slower with the tx_pcap sink.
//!
//! | what | checked |
//! |---|---|
//! | the 1,000 changes (250 x port create, rule create, rule delete, port delete on a network and a group no flow uses) | every one acknowledged; the generation rose by at least 1,000 |
//! | streaming during the changes | the sink's count grew in each tenth of the changes; rate printed |
//! | every frame received came out | eth1 rx = frames written = flow frames at the sink; every flow exactly `copies` times, none altered, its SNAT port unchanged |
//! | drops | every drop reason 0 (handoff_full included), no rx_nombuf/imissed/ierrors, no tx drop |

mod common;

use common::{assert_clean_exit, file_prefix, require_prereqs, Proc, TempDir, PYTHON, VROUTER};
use control::api::Op;
use control::client::Client;
use serde_json::{json, Value};
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

// What a frame of the set looks like when it leaves (gen_traffic.py, configs/bench.toml).
const UPSTREAM_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x01, 0x01, 0xfe];
const GATEWAY_MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0x78, 0x39, 0xe9];
const SNAT_IP: [u8; 4] = [10, 1, 101, 80];
const DEST_IP: [u8; 4] = [8, 8, 8, 8];
/// gen_traffic.py: flow i goes to port 10000 + i % 200.
const VM_HOSTS: u32 = 200;

/// RFC 1071 ones' complement sum of `data`, added to `sum`.
fn csum_add(mut sum: u32, data: &[u8]) -> u32 {
    for c in data.chunks(2) {
        sum += u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0));
    }
    sum
}

/// Folds a ones' complement sum: 0xffff when the data (checksum included) verifies.
fn fold(mut sum: u32) -> u32 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum
}

/// What the sink received.
#[derive(Default)]
struct Tally {
    /// Frames of each flow.
    per_flow: Vec<u64>,
    /// The SNAT source port of each flow's first frame.
    port_of: Vec<Option<u16>>,
    /// Frames of a flow with another SNAT port than its first.
    port_changed: u64,
    /// ARP frames (the appliance's gratuitous ARPs).
    arp: u64,
    /// Frames that are neither: count and the first few, decoded.
    bad: u64,
    bad_examples: Vec<String>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            per_flow: vec![0; FLOWS],
            port_of: vec![None; FLOWS],
            ..Tally::default()
        }
    }

    fn reject(&mut self, why: &str, frame: &[u8]) {
        self.bad += 1;
        if self.bad_examples.len() < 5 {
            let hex: Vec<String> = frame.iter().take(64).map(|b| format!("{b:02x}")).collect();
            self.bad_examples.push(format!("{why}: {}", hex.join("")));
        }
    }

    /// Counts one frame sent on eth2; `flow_frames` is raised for frames of the set.
    fn count(&mut self, f: &[u8], flow_frames: &AtomicU64) {
        if f.len() >= 14 && f[12..14] == [0x08, 0x06] {
            self.arp += 1;
            return;
        }
        if f.len() < 14 + 20 + 8 + 10 || f[12..14] != [0x08, 0x00] || f[14] != 0x45 {
            return self.reject("not an IPv4 frame of the set", f);
        }
        let (ip, udp) = (&f[14..34], &f[34..]);
        let ulen = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
        let ok_headers = f[0..6] == UPSTREAM_MAC
            && f[6..12] == GATEWAY_MAC
            && ip[9] == 17
            && ip[12..16] == SNAT_IP
            && ip[16..20] == DEST_IP
            && fold(csum_add(0, ip)) == 0xffff
            && ulen <= udp.len()
            && udp[8..14] == *b"ANCHOR";
        if !ok_headers {
            return self.reject("headers", f);
        }
        let udp = &udp[..ulen];
        let mut pseudo = csum_add(0, &ip[12..20]);
        pseudo += 17 + ulen as u32;
        if fold(csum_add(pseudo, udp)) != 0xffff {
            return self.reject("UDP checksum", f);
        }
        let flow = u32::from_be_bytes([udp[14], udp[15], udp[16], udp[17]]);
        let dport = u16::from_be_bytes([udp[2], udp[3]]);
        if flow as usize >= FLOWS || u32::from(dport) != 10000 + flow % VM_HOSTS {
            return self.reject("flow id or destination port", f);
        }
        let sport = u16::from_be_bytes([udp[0], udp[1]]);
        let fl = flow as usize;
        match self.port_of[fl] {
            None => self.port_of[fl] = Some(sport),
            Some(p) if p != sport => self.port_changed += 1,
            Some(_) => {}
        }
        self.per_flow[fl] += 1;
        flow_frames.fetch_add(1, Ordering::Relaxed);
    }
}

/// Reads the pcap stream the sink writes into `fifo` until its end, counting every frame.
fn read_sink(fifo: String, flow_frames: Arc<AtomicU64>) -> JoinHandle<Result<Tally, String>> {
    thread::spawn(move || {
        let file = File::open(&fifo).map_err(|e| format!("open {fifo}: {e}"))?;
        let mut r = BufReader::with_capacity(1 << 20, file);
        let mut head = [0u8; PCAP_HEADER];
        r.read_exact(&mut head)
            .map_err(|e| format!("sink pcap header: {e}"))?;
        // Microsecond or (net_pcap's dumper) nanosecond time stamps, Ethernet.
        let magic = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        if ![0xa1b2c3d4, 0xa1b23c4d].contains(&magic) || head[20..24] != 1u32.to_le_bytes() {
            return Err(format!(
                "sink: not a little-endian Ethernet pcap: {head:02x?}"
            ));
        }
        let mut tally = Tally::new();
        let (mut rec, mut frame) = ([0u8; 16], vec![0u8; 65536]);
        loop {
            match r.read_exact(&mut rec) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(tally),
                Err(e) => return Err(format!("sink record: {e}")),
            }
            let caplen = u32::from_le_bytes([rec[8], rec[9], rec[10], rec[11]]) as usize;
            if caplen > frame.len() {
                return Err(format!("sink record of {caplen} bytes"));
            }
            r.read_exact(&mut frame[..caplen])
                .map_err(|e| format!("sink frame: {e}"))?;
            tally.count(&frame[..caplen], &flow_frames);
        }
    })
}

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

    // Input and sink FIFOs, fed and read by threads that open them as the appliance does.
    let (input, sink) = (dir.path("in.fifo"), dir.path("out.fifo"));
    mkfifo(&input);
    mkfifo(&sink);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = feed_input(
        input.clone(),
        header.to_vec(),
        records.to_vec(),
        Arc::clone(&stop),
    );
    let flow_frames = Arc::new(AtomicU64::new(0));
    let reader = read_sink(sink.clone(), Arc::clone(&flow_frames));

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
        "--devargs",
        &format!("eth2=net_pcap1,tx_pcap={sink}"),
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

    // The unrelated resources: a network of its own and a security group no port uses.
    for setup in [
        json!({"op": "network.create", "args": {"name": "churn-Net", "segmentation_id": 99}}),
        json!({"op": "subnet.create", "args": {"network": "churn-Net", "cidr": "192.168.99.0/24"}}),
        json!({"op": "security_group.create", "args": {"name": "churn-sg"}}),
    ] {
        c.call(op(setup.clone()))
            .unwrap_or_else(|e| panic!("{setup}: {e}"));
    }
    wait_until(
        Duration::from_secs(10),
        "the set should be streaming through the appliance",
        || flow_frames.load(Ordering::Relaxed) > 0 || reader.is_finished(),
    );
    if reader.is_finished() {
        let ended = reader.join().map(|r| r.map(|t| t.bad_examples));
        panic!("the sink reader ended before the set streamed: {ended:?}");
    }
    let generation0 = counter(
        &c.call(Op::Stats(Default::default())).unwrap(),
        "generation",
    );

    // 1,000 changes, each acknowledged; the sink's count every 100.
    let mut samples = vec![(Instant::now(), flow_frames.load(Ordering::Relaxed))];
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
            samples.push((Instant::now(), flow_frames.load(Ordering::Relaxed)));
        }
    }
    let (t0, n0) = samples[0];
    let (t1, n1) = *samples.last().unwrap();
    let took = t1 - t0;
    let rate = (n1 - n0) as f64 / took.as_secs_f64();
    println!(
        "{acked} changes acknowledged in {took:.2?} ({:.0}/s); meanwhile {} frames of the set \
         left eth2: {:.3} Mpps ({memory})",
        acked as f64 / took.as_secs_f64(),
        n1 - n0,
        rate / 1e6
    );
    assert_eq!(acked, CHANGES);
    for w in samples.windows(2) {
        assert!(
            w[1].1 > w[0].1,
            "the set must stream during every 100 changes: sink counts {:?}",
            samples.iter().map(|s| s.1).collect::<Vec<_>>()
        );
    }
    let stats = c.call(Op::Stats(Default::default())).unwrap();
    assert!(
        counter(&stats, "generation") >= generation0 + CHANGES as u64,
        "every change was published to the worker: generation {} -> {}",
        generation0,
        counter(&stats, "generation")
    );

    // The input ends; everything the appliance received must come out.
    stop.store(true, Ordering::Relaxed);
    let copies = join(writer, Duration::from_secs(20), "the input writer");
    let sent = copies * FLOWS as u64;
    wait_until(
        Duration::from_secs(20),
        &format!("eth1 should receive all {sent} frames written"),
        || {
            let stats = c.call(Op::Stats(Default::default())).unwrap();
            counter(port(&stats, "eth1"), "rx_packets") >= sent
        },
    );
    wait_until(
        Duration::from_secs(20),
        &format!("the sink should get {sent} frames of the set"),
        || flow_frames.load(Ordering::Relaxed) >= sent,
    );
    let stats = c.call(Op::Stats(Default::default())).unwrap();
    let (eth1, eth2) = (port(&stats, "eth1"), port(&stats, "eth2"));
    assert_eq!(counter(eth1, "rx_packets"), sent, "eth1 rx: {eth1}");
    assert_eq!(counter(&eth1["nic"], "ipackets"), sent, "eth1 NIC: {eth1}");
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
    let drops: Vec<(&String, &Value)> = stats["drops"]
        .as_object()
        .expect("drops by reason")
        .iter()
        .filter(|(_, n)| n.as_u64() != Some(0))
        .collect();
    assert!(
        drops.is_empty(),
        "no frame dropped, for any reason: {drops:?}"
    );
    let tx = counter(eth2, "tx_packets");

    // The sink's end: the appliance stops cleanly, the reader gets the end of its stream.
    let done = vr.proc().terminate(Duration::from_secs(15));
    assert_clean_exit(&done, "vrouter");
    let tally = join(reader, Duration::from_secs(15), "the sink reader");
    assert!(
        tally.bad == 0,
        "{} frames at the sink are not the set's, e.g. {:?}",
        tally.bad,
        tally.bad_examples
    );
    let total: u64 = tally.per_flow.iter().sum();
    assert_eq!(total, sent, "frames of the set at the sink");
    let off: Vec<(usize, u64)> = (tally.per_flow.iter().enumerate())
        .filter(|(_, &n)| n != copies)
        .map(|(f, &n)| (f, n))
        .take(10)
        .collect();
    assert!(
        off.is_empty(),
        "every flow exactly {copies} times at the sink; (flow, frames): {off:?}"
    );
    assert_eq!(
        tally.port_changed, 0,
        "each flow keeps its SNAT port through the changes"
    );
    assert_eq!(
        tx,
        sent + tally.arp,
        "eth2's tx counter is the sink's frames ({} ARP)",
        tally.arp
    );
    println!(
        "{sent} frames ({copies} x {FLOWS} flows) in, {total} out, each flow {copies} times; \
         {} ARP; {:.3} Mpps during the changes; test {:.1?}",
        tally.arp,
        rate / 1e6,
        started.elapsed()
    );
}
