//! Fault tests on the real appliance: each provokes one overload or failure and asserts
//! its counted, documented outcome, that the appliance keeps running, and that traffic
//! flows again afterwards.
//!
//! | test | fault | outcome asserted |
//! |---|---|---|
//! | `mac_table_full` | `[mac_table] capacity = 8` (4 static entries), 20 inner source MACs from a compute node | 4 learned, 16 refused and counted (`refused_full`), every frame still flooded |
//! | `mempool_exhausted` | `--mbufs` below the rx ring (refused at start); 1100 mbufs and 300 frames to 250 unresolved addresses | PMD `rx_nombuf` and `no_buffer` counted, the appliance runs on, traffic resumes, every mbuf back at exit |
//! | `link_down_and_up` | `ip link set down` on a VM tap's kernel side | sends to it fail and are counted (`tx_full`, tx dropped); traffic resumes after `up` |
//! | `vhost_guest_stalls_and_reconnects` | the guest (testpmd on virtio-user) stops (SIGSTOP), then dies (SIGKILL) and comes back | a full virtqueue counts `tx_full`; after SIGCONT and after the restart it forwards again |
//! | `control_client_garbage_and_vanishing` | garbage lines, an over-long line, half requests, clients that vanish, too many clients | an error answer per bad line, nothing changed, other clients served, state file intact |
//! | `sigkill_during_state_writes` | SIGKILL at random moments while changes are written | the state file always loads, every acknowledged change is in it |
//!
//! Conntrack and neighbour tables full are tested at the pipeline level
//! (`tests/pipeline_faults.rs`): the configuration does not expose the conntrack capacity,
//! and filling the neighbour table takes thousands of ARP exchanges.
//!
//! The tests of this file run one at a time (a lock), to keep their floods and their
//! timing apart on a small machine.

mod common;

use common::{
    assert_clean_exit, attach_guest, ctl, ethdev_stats, move_tap, port_counter, require_prereqs,
    stats_json, unique, Finished, Guest, Netns, Vrouter, PYTHON, TENANT_A,
};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const VM001_PORT: &str = "tapd7233b80-9d";
const VM002_PORT: &str = "tap1653ec91-ad";
const VM001_MAC: &str = "fa:16:3e:75:e0:5a";
const VM002_MAC: &str = "fa:16:3e:51:a2:97";
const NETNODE_MAC: &str = "52:54:00:00:01:21";
const COMPUTE1_MAC: &str = "52:54:00:00:01:31";

/// One test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A directory of the test's own, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("vrouter-faults-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the test's temp dir");
        TempDir(dir)
    }
    fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
    /// Writes the reference topology, changed by `edit`, and returns its path.
    fn topology(&self, edit: impl Fn(String) -> String) -> String {
        let text = std::fs::read_to_string(TENANT_A).expect("read configs/tenant-a.toml");
        let path = self.path("topology.toml");
        std::fs::write(&path, edit(text)).expect("write the test topology");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A drop counter in a stats answer.
fn drops(stats: &Value, reason: &str) -> u64 {
    stats["drops"][reason]
        .as_u64()
        .unwrap_or_else(|| panic!("no drop reason {reason} in {stats}"))
}

/// One ping from `ns` to `ip` with a 1 s deadline.
fn ping_once(ns: &Netns, ip: &str) -> bool {
    ns.try_run(&format!("ping -c 1 -W 1 {ip}")).status.success()
}

/// Pings until one answer comes back or `limit` passes; the time it took.
fn wait_ping(ns: &Netns, ip: &str, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if ping_once(ns, ip) {
            return Some(start.elapsed());
        }
    }
    None
}

/// Sends `count` UDP datagrams from `ns` as fast as the kernel takes them, to `dst` (a
/// Python expression of `i`, e.g. `"10.0.0.9"` or `"10.1.101.%d" % (1 + i % 250)`).
fn flood(ns: &Netns, dst_expr: &str, count: u32) -> String {
    let script = format!(
        "import socket\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         ok = err = 0\n\
         for i in range({count}):\n\
         \x20   try:\n\
         \x20       s.sendto(b'x' * 64, ({dst_expr}, 9 + i % 1000)); ok += 1\n\
         \x20   except OSError:\n\
         \x20       err += 1\n\
         print('sent', ok, 'refused', err)\n"
    );
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.name, PYTHON, "-c", &script])
        .output()
        .expect("run the flood");
    assert!(
        out.status.success(),
        "flood failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The appliance's final report line that starts with `prefix`.
fn report_line<'a>(done: &'a Finished, prefix: &str) -> &'a str {
    done.stdout
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in the report\n{}", done.output()))
}

/// A number after `key ` in `line`.
fn field(line: &str, key: &str) -> u64 {
    let at = line
        .find(&format!("{key} "))
        .unwrap_or_else(|| panic!("no {key} in {line:?}"));
    line[at + key.len() + 1..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {key} in {line:?}"))
}

/// MAC table full. The table's capacity bounds all its entries, the static ones of the
/// appliance's own ports included (4 in this topology: vm001's port, qr-, qg- and the DHCP
/// port; `vrouter/tests/mac_table_props.rs` states the same rule), so `[mac_table]
/// capacity = 8` leaves room for 4 learned MACs (with `capacity = 4` nothing is ever
/// learned). compute1 (scapy, on the underlay) sends 20 broadcast ARP requests in GRE key
/// 2, each from another VM MAC. Outcome: the table holds 8 entries, 4 of them learned;
/// the other 16 sources are refused and counted (`refused_full` in the exit report:
/// learned + refused = 20); refused sources are still switched (all 20 broadcasts reach
/// vm001); the static entries keep working (vm001 pings its gateway).
#[test]
fn mac_table_full() {
    let _serial = serial();
    require_prereqs();
    let c1 = Netns::new(&unique("mc1"));
    let vm = Netns::new(&unique("mvm"));
    let dir = TempDir::new("mac");
    let cfg = dir.topology(|t| {
        assert_eq!(t.matches("capacity = 65536").count(), 1);
        t.replace("capacity = 65536", "capacity = 8")
    });
    let (t_e1, t_vm) = (unique("me1"), unique("mvm"));
    let vr = Vrouter::start(&[
        "--config",
        &cfg,
        "--devargs",
        &format!("eth1=net_tap0,iface={t_e1}"),
        "--devargs",
        "eth2=net_null0,no-rx=1",
        "--devargs",
        &format!("{VM001_PORT}=net_tap1,iface={t_vm}"),
    ]);
    move_tap(&t_e1, &c1, COMPUTE1_MAC, Some("10.0.1.31/24"));
    move_tap(&t_vm, &vm, VM001_MAC, Some("10.0.0.10/24"));
    let flows: Value =
        serde_json::from_str(&ctl(&vr.socket(), &["dump-flows", "-f", "json"])).unwrap();
    let statics = flows["tables"][0]["flows"].as_array().unwrap().len();
    let before = port_counter(&stats_json(&vr), VM001_PORT, "tx_packets");

    let script = format!(
        "from scapy.all import *\n\
         conf.verb = 0\n\
         frames = [Ether(src='{COMPUTE1_MAC}', dst='{NETNODE_MAC}') / \
         IP(src='10.0.1.31', dst='10.0.1.21', flags='DF') / \
         GRE(key_present=1, key=2, proto=0x6558) / \
         Ether(src='fa:16:3e:aa:00:%02x' % i, dst='ff:ff:ff:ff:ff:ff') / \
         ARP(op=1, hwsrc='fa:16:3e:aa:00:%02x' % i, psrc='10.0.0.%d' % (100 + i), \
         pdst='10.0.0.250') for i in range(20)]\n\
         sendp(frames, iface='{t_e1}', inter=0.01)\n"
    );
    let out = Command::new("ip")
        .args(["netns", "exec", &c1.name, PYTHON, "-c", &script])
        .output()
        .expect("run scapy");
    assert!(
        out.status.success(),
        "scapy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(Duration::from_millis(300));

    let s = stats_json(&vr);
    let flooded = port_counter(&s, VM001_PORT, "tx_packets") - before;
    let flows: Value =
        serde_json::from_str(&ctl(&vr.socket(), &["dump-flows", "-f", "json"])).unwrap();
    let macs = flows["tables"][0]["flows"].as_array().unwrap();
    let learned: Vec<&Value> = macs.iter().filter(|f| f["static"] != true).collect();
    let gw = vm.try_run("ping -c 2 -i 0.2 -W 2 10.0.0.1");
    let done = vr.stop();
    assert_clean_exit(&done, "mac_table_full");
    let line = report_line(&done, "== mac table");
    println!(
        "{line}\nstatic entries {statics}, learned {}",
        learned.len()
    );
    let (n_learned, refused) = (field(line, "learned"), field(line, "refused_full"));
    assert_eq!(statics, 4, "static entries before the flood: {flows}");
    assert_eq!(
        (macs.len(), learned.len(), n_learned),
        (8, 4, 4),
        "capacity 8 with 4 static entries: 4 MACs learned, the table full at 8: {line}"
    );
    assert_eq!(
        n_learned + refused,
        20,
        "each of the 20 sources is learned or refused and counted: {line}"
    );
    assert_eq!(
        flooded, 20,
        "every broadcast is flooded to vm001, learned or not ({flooded} of 20 arrived)"
    );
    assert!(
        gw.status.success(),
        "vm001 pings its gateway with the table full:\n{}",
        String::from_utf8_lossy(&gw.stdout)
    );
}

/// Mempool exhausted. (1) A pool smaller than the net_tap rx ring (1024 descriptors, each
/// holding an mbuf) is refused at start with a clear error. (2) With `--mbufs 1100` about
/// 76 mbufs are free beyond the ring; vm001 sends 300 datagrams to 250 addresses on
/// Ext-Net that nobody answers, so the router holds them waiting for ARP (up to 4 per
/// address) and the pool runs dry. Outcome: the PMD counts `rx_nombuf` (DPDK telemetry),
/// the appliance counts `no_buffer` (ARP requests it could not allocate) and
/// `neighbour_timeout` (held frames given up); it keeps running; once the held frames
/// time out, traffic flows again (vm001 pings its gateway); at exit every mbuf is back.
#[test]
fn mempool_exhausted() {
    let _serial = serial();
    require_prereqs();
    let vm = Netns::new(&unique("pvm"));
    let t_vm = unique("pvm");
    let devs = [
        "--config".to_string(),
        TENANT_A.to_string(),
        "--devargs".into(),
        "eth1=net_null0,no-rx=1".into(),
        "--devargs".into(),
        "eth2=net_null1,no-rx=1".into(),
        "--devargs".into(),
        format!("{VM001_PORT}=net_tap0,iface={t_vm}"),
        "--mbufs".into(),
    ];
    let args = |n: &'static str| {
        let mut a: Vec<&str> = devs.iter().map(String::as_str).collect();
        a.push(n);
        a
    };

    // (1) Fewer mbufs than the rx ring needs: refused, saying why.
    let mut small = Vrouter::spawn(&args("1000"));
    let done = small.proc().wait_exit(Duration::from_secs(30));
    assert!(
        !done.status.success()
            && done.stderr.contains(VM001_PORT)
            && done.stderr.contains("rx queue"),
        "(1) --mbufs 1000 cannot fill a 1024-descriptor rx ring: the appliance must refuse \
         to start and name the device\n{}",
        done.output()
    );
    drop(small);

    // (2) 1100 mbufs, exhausted by frames held for ARP.
    let vr = Vrouter::start(&args("1100"));
    move_tap(&t_vm, &vm, VM001_MAC, Some("10.0.0.10/24"));
    vm.run("ip route add default via 10.0.0.1");
    assert!(
        wait_ping(&vm, "10.0.0.1", Duration::from_secs(5)).is_some(),
        "vm001 pings its gateway before the flood"
    );
    let nombuf0 = ethdev_stats(&vr.prefix, "net_tap0")["rx_nombuf"]
        .as_u64()
        .unwrap();
    // 300 datagrams: fewer than the tap's kernel queue (1000), see the report.
    let sent = flood(&vm, "'10.1.101.%d' % (1 + i % 250)", 300);
    std::thread::sleep(Duration::from_millis(500));
    let pmd = ethdev_stats(&vr.prefix, "net_tap0");
    let s = stats_json(&vr);
    let (nombuf, no_buffer) = (
        pmd["rx_nombuf"].as_u64().unwrap() - nombuf0,
        drops(&s, "no_buffer"),
    );
    println!("flood: {sent}; PMD rx_nombuf +{nombuf}, no_buffer {no_buffer}");
    assert!(
        nombuf > 0,
        "(2) the pool ran dry: the tap PMD should count rx_nombuf\n{pmd}"
    );
    assert!(
        no_buffer > 0,
        "(2) the ARP requests the router could not allocate count as no_buffer\n{s}"
    );
    let in_use = s["mbufs"]["in_use"].as_u64().unwrap_or_default();
    assert!(
        s["mbufs"]["total"] == 1100 && in_use > 1000,
        "(2) `stats` shows the pool nearly empty: mbufs in use of 1100\n{s}"
    );
    let resumed = wait_ping(&vm, "10.0.0.1", Duration::from_secs(40));
    let s = stats_json(&vr);
    println!(
        "traffic resumed after {resumed:?}; neighbour_timeout {}, neighbour_queue_full {}, \
         no_buffer {}",
        drops(&s, "neighbour_timeout"),
        drops(&s, "neighbour_queue_full"),
        drops(&s, "no_buffer")
    );
    assert!(
        resumed.is_some(),
        "(2) once the held frames time out (3 ARP requests, 1 s apart) the pool refills and \
         vm001 pings its gateway again\n{s}"
    );
    assert!(drops(&s, "neighbour_timeout") > 0, "{s}");
    // A second, smaller burst passes whole: nothing leaked out of the pool.
    let before = port_counter(&s, VM001_PORT, "rx_packets");
    vm.run("ping -c 50 -i 0.01 -W 1 -q 10.0.0.1");
    let after = port_counter(&stats_json(&vr), VM001_PORT, "rx_packets");
    assert!(after - before >= 50, "50 pings received after recovery");
    assert_clean_exit(&vr.stop(), "mempool_exhausted");
}

/// A link going down and up: the kernel side of vm002's tap is set down while vm001
/// sends to vm002. Outcome: the tap refuses the frames (EIO), the appliance counts them
/// as tx dropped on vm002's device and as `tx_full`; it keeps running; after `up`,
/// vm001 pings vm002 again.
#[test]
fn link_down_and_up() {
    let _serial = serial();
    require_prereqs();
    let vm_a = Netns::new(&unique("la"));
    let vm_b = Netns::new(&unique("lb"));
    let (t_a, t_b) = (unique("la"), unique("lb"));
    let vr = Vrouter::start(&[
        "--config",
        TENANT_A,
        "--devargs",
        "eth1=net_null0,no-rx=1",
        "--devargs",
        "eth2=net_null1,no-rx=1",
        "--devargs",
        &format!("{VM001_PORT}=net_tap0,iface={t_a}"),
        "--devargs",
        &format!("{VM002_PORT}=net_tap1,iface={t_b}"),
    ]);
    move_tap(&t_a, &vm_a, VM001_MAC, Some("10.0.0.10/24"));
    move_tap(&t_b, &vm_b, VM002_MAC, Some("10.0.0.9/24"));
    assert!(
        wait_ping(&vm_a, "10.0.0.9", Duration::from_secs(5)).is_some(),
        "vm001 pings vm002 first"
    );
    let s0 = stats_json(&vr);
    vm_b.run(&format!("ip link set dev {t_b} down"));
    assert!(
        !ping_once(&vm_a, "10.0.0.9"),
        "no answer while the link is down"
    );
    let sent = flood(&vm_a, "'10.0.0.9'", 200);
    std::thread::sleep(Duration::from_millis(300));
    let s1 = stats_json(&vr);
    let dropped =
        port_counter(&s1, VM002_PORT, "tx_dropped") - port_counter(&s0, VM002_PORT, "tx_dropped");
    let tx_full = drops(&s1, "tx_full") - drops(&s0, "tx_full");
    println!("link down: {sent}; {VM002_PORT} tx dropped +{dropped}, tx_full +{tx_full}");
    assert!(
        dropped >= 150 && tx_full >= dropped,
        "frames for a device whose link is down are dropped and counted (tx dropped \
         {dropped}, tx_full {tx_full}) of 200 sent\n{s1}"
    );
    vm_b.run(&format!("ip link set dev {t_b} up"));
    let back = wait_ping(&vm_a, "10.0.0.9", Duration::from_secs(10));
    println!("link up: ping answered after {back:?}");
    assert!(back.is_some(), "after `up` vm001 pings vm002 again");
    assert_clean_exit(&vr.stop(), "link_down_and_up");
}

/// A vhost-user guest that stalls, disconnects and comes back. vm002 is a vhost-user port
/// of the appliance; its guest is testpmd (virtio-user ⇄ io forwarding ⇄ a tap in
/// namespace vmB). (1) The guest stops taking packets (SIGSTOP) while vm001 floods vm002:
/// the virtqueue fills and the appliance counts the rest as tx dropped / `tx_full` (the
/// tx queue full case); after SIGCONT vm001 pings vm002 again. (2) The guest is killed
/// (SIGKILL): the appliance keeps running and answers its control socket; a new guest
/// connects to the same socket and vm001 pings vm002 again.
#[test]
fn vhost_guest_stalls_and_reconnects() {
    let _serial = serial();
    require_prereqs();
    let vm_a = Netns::new(&unique("va"));
    let vm_b = Netns::new(&unique("vb"));
    let dir = TempDir::new("vhost");
    let (t_a, t_b) = (unique("va"), unique("vb"));
    let sock = dir.path("vm002.sock");
    let vr = Vrouter::start(&[
        "--config",
        TENANT_A,
        "--devargs",
        "eth1=net_null0,no-rx=1",
        "--devargs",
        "eth2=net_null1,no-rx=1",
        "--devargs",
        &format!("{VM001_PORT}=net_tap0,iface={t_a}"),
        "--devargs",
        &format!("{VM002_PORT}=net_vhost0,iface={sock},queues=1"),
    ]);
    move_tap(&t_a, &vm_a, VM001_MAC, Some("10.0.0.10/24"));
    let guest = Guest::start(&sock, &t_b, &dir.path("guest1.log"));
    attach_guest(&t_b, &vm_b, VM002_MAC, Some("10.0.0.9/24"));
    assert!(
        wait_ping(&vm_a, "10.0.0.9", Duration::from_secs(10)).is_some(),
        "vm001 pings vm002 through the vhost-user port\n{}",
        guest.log()
    );

    // (1) The guest stalls: the virtqueue fills, the rest is dropped and counted.
    let s0 = stats_json(&vr);
    guest.signal(libc::SIGSTOP);
    let sent = flood(&vm_a, "'10.0.0.9'", 3000);
    std::thread::sleep(Duration::from_millis(300));
    let s1 = stats_json(&vr);
    let dropped =
        port_counter(&s1, VM002_PORT, "tx_dropped") - port_counter(&s0, VM002_PORT, "tx_dropped");
    let tx_full = drops(&s1, "tx_full") - drops(&s0, "tx_full");
    let txed =
        port_counter(&s1, VM002_PORT, "tx_packets") - port_counter(&s0, VM002_PORT, "tx_packets");
    println!("guest stopped: {sent}; vm002 tx +{txed}, tx dropped +{dropped}, tx_full +{tx_full}");
    assert!(
        dropped > 0 && tx_full >= dropped && txed <= 1024,
        "(1) with the guest stopped, at most a virtqueue (1024) of frames is sent and the \
         rest is dropped as tx_full\n{s1}"
    );
    guest.signal(libc::SIGCONT);
    assert!(
        wait_ping(&vm_a, "10.0.0.9", Duration::from_secs(10)).is_some(),
        "(1) after SIGCONT vm001 pings vm002 again"
    );

    // (2) The guest dies and a new one connects.
    guest.signal(libc::SIGKILL);
    drop(guest);
    std::thread::sleep(Duration::from_millis(300));
    let s2 = stats_json(&vr); // the appliance still answers
    assert!(
        !ping_once(&vm_a, "10.0.0.9"),
        "(2) nobody answers without a guest"
    );
    let s3 = stats_json(&vr);
    println!(
        "guest gone: vm002 tx dropped {} -> {}",
        port_counter(&s2, VM002_PORT, "tx_dropped"),
        port_counter(&s3, VM002_PORT, "tx_dropped")
    );
    let guest = Guest::start(&sock, &t_b, &dir.path("guest2.log"));
    attach_guest(&t_b, &vm_b, VM002_MAC, Some("10.0.0.9/24"));
    let back = wait_ping(&vm_a, "10.0.0.9", Duration::from_secs(15));
    println!("new guest: ping answered after {back:?}");
    assert!(
        back.is_some(),
        "(2) a new guest on the same socket: vm001 pings vm002 again\n{}",
        guest.log()
    );
    drop(guest);
    assert_clean_exit(&vr.stop(), "vhost_guest_stalls_and_reconnects");
}

/// A raw connection to the control socket.
struct Conn {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Conn {
    fn open(sock: &Path) -> Conn {
        let s = UnixStream::connect(sock).expect("connect to the control socket");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Conn {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
        }
    }
    /// Sends `bytes` as they are and reads one answer line.
    fn ask(&mut self, bytes: &[u8]) -> Value {
        self.writer.write_all(bytes).expect("write a request");
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read an answer");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("answer {line:?}: {e}"))
    }
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

/// A control client that sends garbage or vanishes mid-request. Outcome: every bad line
/// gets an error answer (`bad_request`, `too_large`) on a connection that stays usable;
/// a half request from a client that vanishes changes nothing; a complete request whose
/// client vanishes before reading the answer is applied once and persisted; a silent
/// client holding a half line does not block others; 70 silent clients (the limit is 64)
/// do not keep vrouterctl out; the daemon runs on and its state file stays valid
/// throughout.
#[test]
fn control_client_garbage_and_vanishing() {
    let _serial = serial();
    require_prereqs();
    let dir = TempDir::new("ctl");
    let state = dir.path("state");
    let sock_s = dir.path("ctl.sock");
    let sock = PathBuf::from(&sock_s);
    let vr = Vrouter::start(&[
        "--config",
        TENANT_A,
        "--devargs",
        "eth1=net_null0,no-rx=1",
        "--devargs",
        "eth2=net_null1,no-rx=1",
        "--state-dir",
        &state,
        "--socket",
        &sock_s,
    ]);
    let nets = || ctl(&sock, &["net-list", "-f", "json"]);
    let initial = nets();

    let mut c = Conn::open(&sock);
    let a = c.ask(b"hello\n");
    assert_eq!((code(&a), &a["id"]), ("bad_request", &Value::Null), "{a}");
    let a = c.ask(b"\xff\xfe\x00garbage\x01\n");
    assert_eq!(code(&a), "bad_request", "{a}");
    let a = c.ask(b"{\"id\":7,\"op\":\"no.such.op\"}\n");
    assert_eq!(
        (code(&a), &a["id"]),
        ("bad_request", &Value::from(7)),
        "{a}"
    );
    let a = c.ask(b"{\"id\":8,\"op\":\"network.create\",\"args\":{\"name\":5}}\n");
    assert_eq!(code(&a), "bad_request", "{a}");
    let a = c.ask(b"[1,2,3]\n");
    assert_eq!(code(&a), "bad_request", "{a}");
    let mut huge = vec![b'{'; (1 << 20) + 10];
    huge.push(b'\n');
    let a = c.ask(&huge);
    assert_eq!(code(&a), "too_large", "{a}");
    let a = c.ask(b"{\"id\":9,\"op\":\"network.list\"}\n");
    assert!(
        a["ok"].is_array(),
        "the connection is usable after errors: {a}"
    );
    assert_eq!(nets(), initial, "no garbage changed anything");

    // Clients that vanish: without a word, in the middle of a request, and after a whole
    // request but before its answer.
    drop(UnixStream::connect(&sock).unwrap());
    let mut half = UnixStream::connect(&sock).unwrap();
    half.write_all(b"{\"id\":1,\"op\":\"network.create\",\"args\":{\"name\":\"hal")
        .unwrap();
    drop(half);
    let mut gone = UnixStream::connect(&sock).unwrap();
    gone.write_all(b"{\"id\":2,\"op\":\"network.create\",\"args\":{\"name\":\"vanished\"}}\n")
        .unwrap();
    drop(gone);
    // A silent client holding half a line, while others work.
    let mut silent = UnixStream::connect(&sock).unwrap();
    silent.write_all(b"{\"id\":3,\"op\":").unwrap();
    let started = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut list = nets();
    while !list.contains("\"vanished\"") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        list = nets();
    }
    assert!(
        started.elapsed() < Duration::from_secs(5) && !list.contains("\"hal"),
        "a half request changes nothing; others are served while a client is silent:\n{list}"
    );
    assert_eq!(
        list.matches("\"vanished\"").count(),
        1,
        "a whole request is applied once even if its client left before the answer:\n{list}"
    );

    // More silent clients than the limit (64): each newcomer takes the slot of the one
    // idle the longest, so vrouterctl is answered at once, with the crowd still connected.
    let crowd: Vec<UnixStream> = (0..70)
        .map(|_| UnixStream::connect(&sock).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let list = nets();
    assert!(
        list.contains("\"vanished\"") && started.elapsed() < Duration::from_secs(2),
        "vrouterctl answered at once beside 70 silent clients ({:?})",
        started.elapsed()
    );
    let mut evicted = 0;
    for mut s in crowd.iter() {
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        if let Ok(0) = s.read(&mut [0u8; 256]) {
            evicted += 1;
        }
    }
    assert!(
        (6..=8).contains(&evicted),
        "the idlest clients made room, one per newcomer ({evicted} were disconnected)"
    );
    drop(crowd);
    drop(silent);

    // The state on disk is valid and holds exactly the one applied change.
    let stored = control::store::Store::new(&state)
        .load()
        .expect("the state file loads")
        .expect("a state file");
    let names: Vec<&str> = stored.networks.iter().map(|n| n.name.as_str()).collect();
    assert!(
        names.contains(&"vanished") && !names.iter().any(|n| n.starts_with("hal")),
        "{names:?}"
    );
    assert_clean_exit(&vr.stop(), "control_client_garbage_and_vanishing");
}

/// A tiny xorshift generator, seeded from the clock (the seed is printed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The daemon killed (SIGKILL) during state writes. Each round starts the appliance on
/// the same state directory, sends network.create requests from a client thread as fast
/// as they are answered, and kills the appliance after a random 50–400 ms. Outcome: the
/// state file always loads (never a torn or half-written file); every change that was
/// acknowledged is in it; at most the one request in flight at the kill is there without
/// its acknowledgement.
#[test]
fn sigkill_during_state_writes() {
    let _serial = serial();
    require_prereqs();
    let dir = TempDir::new("kill");
    let state = dir.path("state");
    let sock_s = dir.path("kill.sock");
    let sock = PathBuf::from(&sock_s);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!("seed {seed}");
    let mut rng = Rng(seed);
    let mut acked: Vec<String> = Vec::new();
    let mut n = 0u64;
    for round in 0..6 {
        let mut vr = Vrouter::start(&[
            "--config",
            TENANT_A,
            "--devargs",
            "eth1=net_null0,no-rx=1",
            "--devargs",
            "eth2=net_null1,no-rx=1",
            "--state-dir",
            &state,
            "--socket",
            &sock_s,
        ]);
        let sock2 = sock.clone();
        let first = n;
        let writer = std::thread::spawn(move || {
            let mut ok = Vec::new();
            let Ok(s) = UnixStream::connect(&sock2) else {
                return ok;
            };
            let mut reader = BufReader::new(s.try_clone().unwrap());
            let mut w = s;
            for i in first.. {
                let name = format!("kill-{i}");
                let req = format!(
                    "{{\"id\":{i},\"op\":\"network.create\",\"args\":{{\"name\":\"{name}\"}}}}\n"
                );
                if w.write_all(req.as_bytes()).is_err() {
                    break;
                }
                let mut line = String::new();
                match reader.read_line(&mut line) {
                    Ok(1..) if line.contains("\"ok\"") => ok.push(name),
                    Ok(1..) => panic!("request {i} refused: {line}"),
                    _ => break,
                }
            }
            ok
        });
        let delay = 50 + rng.next() % 350;
        std::thread::sleep(Duration::from_millis(delay));
        vr.kill();
        let ok = writer.join().expect("writer thread");
        n = first + ok.len() as u64 + 1; // skip the one that may have been in flight
        acked.extend(ok);
        drop(vr);
        let topo = control::store::Store::new(&state)
            .load()
            .unwrap_or_else(|e| panic!("round {round}: the state file must load: {e}"))
            .expect("a state file");
        let names: Vec<&str> = topo.networks.iter().map(|n| n.name.as_str()).collect();
        let missing: Vec<&String> = acked
            .iter()
            .filter(|a| !names.contains(&a.as_str()))
            .collect();
        let extra = names
            .iter()
            .filter(|n| n.starts_with("kill-") && !acked.iter().any(|a| a == *n))
            .count();
        println!(
            "round {round}: killed after {delay} ms; {} acknowledged so far, {} networks \
             stored, {extra} stored without acknowledgement",
            acked.len(),
            names.len()
        );
        assert!(
            missing.is_empty(),
            "round {round}: acknowledged changes lost: {missing:?}"
        );
        assert!(
            extra <= round + 1,
            "at most the request in flight at each kill may be stored unacknowledged"
        );
    }
    assert!(
        acked.len() >= 6,
        "the rounds acknowledged too few changes ({}) to test anything",
        acked.len()
    );
    // A last clean start on the same state: it runs, and lists what was acknowledged.
    let vr = Vrouter::start(&[
        "--config",
        TENANT_A,
        "--devargs",
        "eth1=net_null0,no-rx=1",
        "--devargs",
        "eth2=net_null1,no-rx=1",
        "--state-dir",
        &state,
        "--socket",
        &sock_s,
    ]);
    let list = ctl(&sock, &["net-list", "-f", "json"]);
    assert!(acked.iter().all(|a| list.contains(&format!("\"{a}\""))));
    assert_clean_exit(&vr.stop(), "sigkill_during_state_writes");
}
