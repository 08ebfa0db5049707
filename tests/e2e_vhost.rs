//! End-to-end test of a VM port on vhost-user: vm002 (`tap1653ec91-ad`, 10.0.0.9,
//! fa:16:3e:51:a2:97) is a `net_vhost` device of the appliance, which runs the embedded
//! reference topology (no `--config`). The "VM" is a namespace whose interface is a tap
//! of a guest `dpdk-testpmd` (io forwarding) between that tap and `net_virtio_user` on
//! the appliance's vhost-user socket. The appliance's uplink eth2 is a tap in an
//! "upstream" namespace (10.1.101.254/24, Ext-Net's gateway); the floating IP
//! 10.1.101.82 is associated to vm002 through the control socket.
//!
//! ```text
//!   vm (kernel: dhclient, ping) ── tap ── testpmd io ── virtio_user ══ vhost-user ══
//!        net_vhost0 (tap1653ec91-ad) ── vrouter ── net_tap (eth2) ── up (10.1.101.254)
//! ```
//!
//! | test | vhost-user roles | queues | asserted |
//! |---|---|---|---|
//! | `vhost_server_dhcp_ping_upstream` | appliance server (net_vhost default), guest client | 1 | DHCP, pings, floating IP (below) |
//! | `vhost_client_dhcp_ping_upstream` | appliance client (`client=1`), started first: it retries until the guest (`server=1`) creates the socket | 1 | the same |
//! | `vhost_multiqueue_dhcp_ping_upstream` | appliance server, guest client | 2 (`queues=2`, testpmd `--rxq=2 --txq=2`, 2-queue tap) | the same, the guest sends on both virtqueues, the appliance receives on both (DPDK telemetry) and counts every frame |
//! | `vhost_queue_pairs_on_two_workers_dhcp_ping_upstream` | as above, `--workers 2`: each worker polls one queue pair and sends on its own | 2 | the same |
//!
//! Every test asserts: `dhclient` in the VM is offered and acked 10.0.0.9 by 10.0.0.3 and
//! leaves 10.0.0.9/24, MTU 1458 and a default route via 10.0.0.1; `ping -c 3 10.0.0.1`
//! and `ping -c 3 10.1.101.254` get 3 answers each; upstream sees the VM's echo requests
//! from 10.1.101.82 (tcpdump) and reaches the VM at 10.1.101.82 (the default security
//! group allows ICMP in); the appliance's counters (`vrouterctl stats`) on vm002's device
//! count at least every frame the guest put on its virtqueues (testpmd's counters) and
//! the appliance exits 0 with every mbuf back.
//!
//! The tests run one at a time (a lock): each guest's testpmd busy-polls a core, and the
//! machine may have only two.

mod common;

use common::{
    assert_clean_exit, attach_guest, capture, ctl, ethdev_stats, move_tap, port_counter,
    require_prereqs, stats_json, unique, Guest, Netns, TempDir, Vrouter, PYTHON,
};
use serde_json::Value;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const VM002_PORT_ID: &str = "1653ec91-ad7d-40d9-b777-f74aec697026";
const VM002_DEV: &str = "tap1653ec91-ad";
const VM002_MAC: &str = "fa:16:3e:51:a2:97";
const UPSTREAM_MAC: &str = "52:54:00:01:01:fe";
const FLOATING_IP: &str = "10.1.101.82";

/// One test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Stops a dhclient left running (by its pid file) if the test ends early.
struct Dhclient(String);

impl Drop for Dhclient {
    fn drop(&mut self) {
        if let Some(pid) = std::fs::read_to_string(&self.0)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        {
            // SAFETY: signals the dhclient this test started (its own pid file).
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
    }
}

/// How one test wires the vhost-user port.
struct Case {
    /// Short, unique per test: names of namespaces, taps and files.
    tag: &'static str,
    /// The appliance is the vhost-user client (`client=1`), the guest the server.
    appliance_client: bool,
    /// Queue pairs on both sides.
    queues: u16,
    /// Appliance workers (`--workers`): with 2, each polls one of the queue pairs.
    workers: u16,
}

#[test]
fn vhost_server_dhcp_ping_upstream() {
    vm_on_vhost(Case {
        tag: "hs",
        appliance_client: false,
        queues: 1,
        workers: 1,
    });
}

#[test]
fn vhost_client_dhcp_ping_upstream() {
    vm_on_vhost(Case {
        tag: "hc",
        appliance_client: true,
        queues: 1,
        workers: 1,
    });
}

#[test]
fn vhost_multiqueue_dhcp_ping_upstream() {
    vm_on_vhost(Case {
        tag: "hm",
        appliance_client: false,
        queues: 2,
        workers: 1,
    });
}

#[test]
fn vhost_queue_pairs_on_two_workers_dhcp_ping_upstream() {
    vm_on_vhost(Case {
        tag: "hw",
        appliance_client: false,
        queues: 2,
        workers: 2,
    });
}

fn vm_on_vhost(case: Case) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    require_prereqs();
    let started = Instant::now();
    let tag = case.tag;
    let q = case.queues;
    // Namespaces first: they are dropped last, after the processes.
    let vm = Netns::new(&unique(&format!("{tag}vm")));
    let up = Netns::new(&unique(&format!("{tag}up")));
    let (t_vm, t_up) = (unique(&format!("{tag}v")), unique(&format!("{tag}u")));
    let dir = TempDir::new(tag);
    let sock = dir.path("vm002.sock");
    let client = if case.appliance_client {
        ",client=1"
    } else {
        ""
    };
    let vhost = format!("{VM002_DEV}=net_vhost0,iface={sock},queues={q}{client}");
    let eth2 = format!("eth2=net_tap1,iface={t_up}");

    // (b) The appliance as vhost-user client starts first: the socket does not exist yet,
    // its vhost-user client retries (DPDK 22.11: every second) until the guest, a server,
    // creates it. A server guest waits in its device probe for the client to connect.
    let workers = case.workers.to_string();
    let vr = Vrouter::start(&[
        "--workers",
        &workers,
        "--devargs",
        "eth1=net_null0,no-rx=1",
        "--devargs",
        &eth2,
        "--devargs",
        &vhost,
    ]);
    if case.appliance_client {
        assert!(
            !std::path::Path::new(&sock).exists(),
            "[{tag}] the vhost-user client must start before its server's socket exists"
        );
    }
    let guest = Guest::spawn(
        &sock,
        &t_vm,
        &dir.path("guest.log"),
        q,
        case.appliance_client,
    );
    move_tap(&t_up, &up, UPSTREAM_MAC, Some("10.1.101.254/24"));
    ctl(
        &vr.socket(),
        &["floatingip-associate", FLOATING_IP, VM002_PORT_ID],
    );
    attach_guest(&t_vm, &vm, VM002_MAC, None);
    println!("[{tag}] guest up after {:?}", started.elapsed());

    // DHCP: Debian's dhclient-script configures the interface; a wrapper records what the
    // server handed out and keeps resolv.conf and the host name (the host's) out of it.
    let env = dir.path("dhclient.env");
    let script = dir.path("dhclient-script.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n\
             {{ echo \"reason=$reason\"; env | grep '^new_' | sort; echo; }} >> {env}\n\
             unset new_domain_name new_domain_search new_domain_name_servers new_host_name\n\
             exec /sbin/dhclient-script\n"
        ),
    )
    .expect("write the dhclient script");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let (lease, pid) = (dir.path("dhclient.leases"), dir.path("dhclient.pid"));
    let _stop = Dhclient(pid.clone());
    let files = format!("-lf {lease} -pf {pid} -sf {script}");
    let out = vm.try_run(&format!("timeout 20 dhclient -1 -v {files} {t_vm}"));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success()
            && err.contains("DHCPOFFER of 10.0.0.9 from 10.0.0.3")
            && err.contains("DHCPACK of 10.0.0.9 from 10.0.0.3"),
        "[{tag}] dhclient in the VM should be offered and acked 10.0.0.9 by 10.0.0.3 \
         ({}):\n{err}\n--- guest ---\n{}",
        out.status,
        guest.log()
    );
    let addr = vm.run(&format!("ip -4 -o addr show dev {t_vm}"));
    let link = vm.run(&format!("ip -o link show dev {t_vm}"));
    let route = vm.run("ip -4 route show default");
    let got = std::fs::read_to_string(&env).unwrap_or_default();
    assert!(
        addr.contains("inet 10.0.0.9/24")
            && link.contains("mtu 1458")
            && route.contains("default via 10.0.0.1")
            && got.contains("new_interface_mtu=1458"),
        "[{tag}] dhclient should leave {t_vm} with 10.0.0.9/24, MTU 1458 and a default \
         route via 10.0.0.1; got:\n{addr}{link}{route}\n{got}"
    );
    println!(
        "[{tag}] dhclient: 10.0.0.9/24, MTU 1458, via 10.0.0.1 after {:?}",
        started.elapsed()
    );

    // The gateway.
    ping3(
        &vm,
        "10.0.0.1",
        &format!("[{tag}] the VM pings its gateway"),
    );

    // Upstream, through the router: upstream sees the floating IP.
    let mut cap = capture(&up, &t_up, 6);
    ping3(
        &vm,
        "10.1.101.254",
        &format!("[{tag}] the VM pings upstream"),
    );
    let seen = cap.wait_exit(Duration::from_secs(15)).output();
    assert!(
        seen.contains(&format!("{FLOATING_IP} > 10.1.101.254: ICMP echo request"))
            && !seen.contains("10.0.0.9 >"),
        "[{tag}] upstream must see the VM's pings from its floating IP {FLOATING_IP}:\n{seen}"
    );
    // ... and reaches the VM at its floating IP (ingress ICMP is allowed by `default`).
    ping3(
        &up,
        FLOATING_IP,
        &format!("[{tag}] upstream pings the VM at {FLOATING_IP}"),
    );
    println!("[{tag}] pings ok after {:?}", started.elapsed());

    // Many flows out of the VM: on a multi-queue tap the kernel spreads them over the
    // queues by flow hash, and the guest forwards tap queue i to virtqueue pair i.
    spray(&vm, "10.1.101.254", 64);
    std::thread::sleep(Duration::from_millis(300));
    let guest_virtio = ethdev_stats(&guest.prefix, "net_virtio_user0");
    let sent = per_queue(&guest_virtio, "q_opackets", q);
    let total_sent = guest_virtio["opackets"].as_u64().expect("guest opackets");
    // Frames still in a virtqueue are taken within a moment: wait for the appliance's count
    // to reach what the guest had sent (it never will if a queue is not polled).
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut stats;
    loop {
        stats = stats_json(&vr);
        if port_counter(&stats, VM002_DEV, "rx_packets") >= total_sent || Instant::now() >= deadline
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let vhost = ethdev_stats(&vr.prefix, "net_vhost0");
    let received = per_queue(&vhost, "q_ipackets", q);
    let rx = port_counter(&stats, VM002_DEV, "rx_packets");
    println!(
        "[{tag}] guest virtio tx per queue {sent:?} (total {total_sent}); appliance vhost rx \
         per queue {received:?}, {VM002_DEV} rx_packets {rx}"
    );
    if q > 1 {
        assert!(
            sent.iter().all(|&n| n > 0),
            "[{tag}] test set-up: the guest should send on each of its {q} virtqueues \
             (the VM's flows spread over the tap's queues): {sent:?}\n{guest_virtio}"
        );
        assert!(
            received.iter().all(|&n| n > 0),
            "[{tag}] the appliance should receive on each of the {q} queues of its vhost \
             device: per queue {received:?}, the guest sent {sent:?}\n{vhost}"
        );
    }
    assert!(
        rx >= total_sent,
        "[{tag}] the appliance should count every frame the guest sent on its virtqueues \
         ({total_sent}, per queue {sent:?}): {VM002_DEV} rx_packets {rx}; vhost PMD per \
         queue {received:?}\n{stats}"
    );

    let _ = vm.try_run(&format!("dhclient -x {files} {t_vm}"));
    drop(guest);
    let done = vr.stop();
    assert_clean_exit(&done, tag);
    let line = done
        .stdout
        .lines()
        .find(|l| l.starts_with(VM002_DEV))
        .unwrap_or("");
    assert!(
        line.contains("RX packets:") && !line.contains("RX packets:0 "),
        "[{tag}] the exit report counts packets received on {VM002_DEV}\n{}",
        done.output()
    );
    println!("[{tag}] done in {:?}", started.elapsed());
}

/// `ping -c 3` from `ns` to `ip` must get 3 answers.
fn ping3(ns: &Netns, ip: &str, what: &str) {
    let out = ns.try_run(&format!("ping -c 3 -i 0.2 -W 3 {ip}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("3 received"),
        "{what}: `ping -c 3 {ip}` should get 3 answers ({}):\n{text}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Sends `count` UDP datagrams from `ns` to `dst`, each to another port (another flow).
fn spray(ns: &Netns, dst: &str, count: u32) {
    let script = format!(
        "import socket, time\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         for i in range({count}):\n\
         \x20   s.sendto(b'x' * 64, ('{dst}', 20000 + i))\n\
         \x20   time.sleep(0.002)\n"
    );
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.name, PYTHON, "-c", &script])
        .output()
        .expect("run the UDP spray");
    assert!(
        out.status.success(),
        "UDP spray failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The first `n` entries of a per-queue counter array of a telemetry `/ethdev/stats`.
fn per_queue(stats: &Value, key: &str, n: u16) -> Vec<u64> {
    let all = stats[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {stats}"));
    all.iter()
        .take(usize::from(n))
        .map(|v| v.as_u64().unwrap_or(0))
        .collect()
}
