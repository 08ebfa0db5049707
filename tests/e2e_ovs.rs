//! Interoperation with a real compute node: Open vSwitch with DPDK (Debian's
//! `openvswitch-switch-dpdk`) plays compute1 as SPEC.md §3 shows it, with br-int, br-tun and
//! its flow tables (learning included) and native GRE tunnelling, against the appliance
//! playing the network node.
//!
//! ```text
//!  vm (vm001, fa:16:3e:75:e0:5a)                                         up (10.1.101.254)
//!   └ tap ── [OVS, namespace c1]                                                  │ tap
//!            br-int: qvod7233b80-9d (dpdk net_tap, tag 1) ── patch-tun            │
//!            br-tun: patch-int, gre-0a000115 (remote 10.0.1.21, key=flow)  vrouter eth2
//!            br-phy (10.0.1.31/24 on LOCAL): eth1 (dpdk net_tap) ──┐      vrouter eth1
//!                                                                  └ br0 (ns ul) ─┘ tap
//! ```
//! OVS runs as a private instance inside namespace c1 (its own ovsdb-server, run/log/db
//! directories in a temp dir, its own EAL `--file-prefix`, no hugepages), so its tap
//! devices (br-phy, br-int, br-tun, ovs-netdev) never appear in the root namespace. Both
//! ends of the underlay are net_tap devices whose kernel sides are bridged in namespace ul:
//! a plain Ethernet segment, as between two hosts. OVS resolves 10.0.1.21 by ARP itself.
//!
//! The appliance runs the reference topology with vm001's port bound to compute1
//! (`binding = { peer = "10.0.1.31" }`) and floating IP 10.1.101.82 associated with it.
//! The VM gets 10.0.0.10 from the appliance's DHCP through OVS and the tunnel, pings its
//! gateway, reaches upstream as 10.1.101.82 (its floating IP), is reached from upstream
//! through 10.1.101.82, and, once the floating IP is disassociated, reaches upstream
//! through SNAT as 10.1.101.80.

mod common;

use common::{capture, ctl, require_prereqs, unique, Netns, Vrouter, TENANT_A};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const VSWITCHD: &str = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk";
const SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";
const VM001_PORT_ID: &str = "d7233b80-9d4b-4ef6-a60d-19b3be661069";
const VM001_MAC: &str = "fa:16:3e:75:e0:5a";
const QR_MAC: &str = "fa:16:3e:f7:e6:9c";
const FIP_ID: &str = "00000000-0000-4000-8000-0a0165000052";
const NETNODE_MAC: &str = "52:54:00:00:01:21";
const COMPUTE1_MAC: &str = "52:54:00:00:01:31";
const UPSTREAM_MAC: &str = "52:54:00:01:01:fe";
/// The kernel side of the appliance's eth1 tap, a bridge port in the underlay namespace.
const NETNODE_MAC_KERNEL: &str = "52:54:00:00:01:fe";
/// compute1's br-int port of vm001 (Neutron's qvo… name) and its GRE port to the network
/// node (gre- + 10.0.1.21 in hex).
const QVO: &str = "qvod7233b80-9d";
const GRE: &str = "gre-0a000115";

/// br-tun of compute1 as the seed dumps it (SPEC.md §3): patch-int is OpenFlow port 1,
/// the GRE port 2, local VLAN 1 ↔ tun_id 0x2.
const BR_TUN_FLOWS: &str = "\
table=0,priority=1,in_port=1 actions=resubmit(,1)
table=0,priority=1,in_port=2 actions=resubmit(,2)
table=0,priority=0 actions=drop
table=1,priority=1,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,20)
table=1,priority=1,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=resubmit(,21)
table=2,priority=1,tun_id=0x2 actions=mod_vlan_vid:1,resubmit(,10)
table=2,priority=0 actions=drop
table=10,priority=1 actions=learn(table=20,hard_timeout=300,priority=1,NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:NXM_OF_IN_PORT[]),output:1
table=20,priority=0 actions=resubmit(,21)
table=21,priority=1,dl_vlan=1 actions=strip_vlan,set_tunnel:0x2,output:2
table=21,priority=0 actions=drop
";

/// A directory of the test's own, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the test's temp dir");
        TempDir(dir)
    }
    fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn text(out: &Output) -> String {
    format!(
        "exit {}\n--- stdout ---\n{}--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Waits up to `timeout` for `pid` to be gone.
fn wait_gone(pid: i32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while alive(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// A private Open vSwitch (ovsdb-server + ovs-vswitchd-dpdk) running in namespace `ns`,
/// with everything it writes under `dir`. Dropping it stops both daemons by their own pids
/// (`exit` over their control sockets, then SIGTERM, then SIGKILL), removes the tap
/// devices the netdev datapath leaves and the EAL runtime directory of its prefix.
struct Ovs {
    dir: PathBuf,
    ns: String,
    prefix: String,
}

impl Ovs {
    fn start(ns: &Netns, dir: &Path, prefix: &str) -> Ovs {
        for sub in ["run", "log", "etc"] {
            std::fs::create_dir_all(dir.join(sub)).expect("OVS directories");
        }
        let ovs = Ovs {
            dir: dir.to_owned(),
            ns: ns.name.clone(),
            prefix: prefix.to_owned(),
        };
        let db = ovs.path("etc/conf.db");
        ovs.must(&["ovsdb-tool", "create", &db, SCHEMA]);
        ovs.must(&[
            "ip",
            "netns",
            "exec",
            &ovs.ns,
            "ovsdb-server",
            &format!("--remote=punix:{}", ovs.path("run/db.sock")),
            &format!("--unixctl={}", ovs.path("run/ovsdb.ctl")),
            &format!("--pidfile={}", ovs.path("run/ovsdb-server.pid")),
            "--detach",
            &format!("--log-file={}", ovs.path("log/ovsdb-server.log")),
            &db,
        ]);
        ovs.vsctl(&["--no-wait", "init"]);
        // No hugepages; the PMD thread on core 1 (the appliance's worker runs on core 0),
        // sleeping up to 1 ms when idle so that it does not take a whole core of this
        // shared machine; a mempool per port sized for the port, not the 256k-mbuf
        // shared default.
        ovs.vsctl(&[
            "--no-wait",
            "set",
            "Open_vSwitch",
            ".",
            "other_config:dpdk-init=true",
            &format!(
                "other_config:dpdk-extra=--no-huge -m 1024 --legacy-mem --no-pci \
                 --file-prefix {prefix} --log-level=*:warning"
            ),
            "other_config:dpdk-lcore-mask=0x2",
            "other_config:pmd-cpu-mask=0x2",
            "other_config:pmd-maxsleep=1000",
            "other_config:per-port-memory=true",
        ]);
        ovs.must(&[
            "ip",
            "netns",
            "exec",
            &ovs.ns,
            VSWITCHD,
            &format!("unix:{}", ovs.path("run/db.sock")),
            &format!("--unixctl={}", ovs.path("run/vswitchd.ctl")),
            &format!("--pidfile={}", ovs.path("run/ovs-vswitchd.pid")),
            "--detach",
            &format!("--log-file={}", ovs.path("log/ovs-vswitchd.log")),
        ]);
        let init = ovs.vsctl(&["get", "Open_vSwitch", ".", "dpdk_initialized"]);
        assert_eq!(
            init.trim(),
            "true",
            "OVS did not initialise DPDK\n{}",
            ovs.log()
        );
        ovs
    }

    fn path(&self, rel: &str) -> String {
        self.dir.join(rel).display().to_string()
    }

    /// Runs `argv` with the instance's directories in the environment.
    fn cmd(&self, argv: &[&str]) -> Output {
        let run = self.path("run");
        Command::new(argv[0])
            .args(&argv[1..])
            .env("OVS_RUNDIR", &run)
            .env("OVS_LOGDIR", self.path("log"))
            .env("OVS_DBDIR", self.path("etc"))
            .env("OVS_SYSCONFDIR", self.path("etc"))
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} (apt-get install openvswitch-switch-dpdk): {e}",
                    argv[0]
                )
            })
    }

    /// Runs `argv`, panics with its output and the OVS log if it fails; returns stdout.
    fn must(&self, argv: &[&str]) -> String {
        let out = self.cmd(argv);
        assert!(
            out.status.success(),
            "`{}` failed: {}\n{}",
            argv.join(" "),
            text(&out),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn vsctl(&self, args: &[&str]) -> String {
        let db = format!("--db=unix:{}", self.path("run/db.sock"));
        let mut argv = vec!["ovs-vsctl", &db, "--timeout=30"];
        argv.extend(args);
        self.must(&argv)
    }

    /// `ovs-ofctl CMD BRIDGE ARGS…` over the bridge's management socket.
    fn ofctl(&self, cmd: &str, bridge: &str, args: &[&str]) -> String {
        let sw = format!("unix:{}", self.path(&format!("run/{bridge}.mgmt")));
        let mut argv = vec!["ovs-ofctl", cmd, &sw];
        argv.extend(args);
        self.must(&argv)
    }

    fn appctl(&self, args: &[&str]) -> String {
        let t = self.path("run/vswitchd.ctl");
        let mut argv = vec!["ovs-appctl", "-T", "10", "-t", &t];
        argv.extend(args);
        self.must(&argv)
    }

    /// The end of ovs-vswitchd's log, for failure messages.
    fn log(&self) -> String {
        let log = std::fs::read_to_string(self.path("log/ovs-vswitchd.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        format!("--- ovs-vswitchd.log (end) ---\n{tail}")
    }

    /// Stops one daemon: `exit` over its control socket, then SIGTERM, then SIGKILL.
    fn stop(&self, pidfile: &str, ctl: &str) {
        let Some(pid) = read_pid(Path::new(&self.path(pidfile))) else {
            return;
        };
        let t = self.path(ctl);
        let _ = self.cmd(&["ovs-appctl", "-T", "5", "-t", &t, "exit"]);
        for (sig, wait) in [(libc::SIGTERM, 5), (libc::SIGKILL, 5)] {
            if wait_gone(pid, Duration::from_secs(wait)) {
                return;
            }
            // SAFETY: signals a process this test started, by the pid it recorded.
            unsafe { libc::kill(pid, sig) };
        }
        if !wait_gone(pid, Duration::from_secs(5)) {
            eprintln!("warning: {pidfile} ({pid}) survived SIGKILL");
        }
    }
}

impl Drop for Ovs {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.log());
        }
        self.stop("run/ovs-vswitchd.pid", "run/vswitchd.ctl");
        self.stop("run/ovsdb-server.pid", "run/ovsdb.ctl");
        // The netdev datapath's taps (they die with the namespace too, but say so).
        for dev in ["br-phy", "br-int", "br-tun", "ovs-netdev", "br0"] {
            let _ = Command::new("ip")
                .args(["-n", &self.ns, "link", "del", dev])
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{}", self.prefix));
    }
}

/// Waits (10 s at most) for interface `dev` in namespace `ns` to be up: a net_tap PMD
/// sets its interface up when the port starts, and the interface may move to another
/// namespace only after that (the PMD opens its queues by name in its own namespace).
fn wait_link(ns: &str, dev: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = Command::new("ip")
            .args(["-n", ns, "-o", "link", "show", "dev", dev])
            .stderr(Stdio::null())
            .output();
        let flags = out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
        let flags = flags.unwrap_or_default();
        let flags = flags.split(['<', '>']).nth(1).unwrap_or("");
        if flags.split(',').any(|f| f == "UP") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "interface {dev} did not come up in namespace {ns} within 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Moves `dev` from namespace `from` into `to`, gives it `mac` (if any), puts it on
/// bridge br0 of `to` if `bridged`, and sets it up.
fn move_link(from: &Netns, dev: &str, to: &Netns, mac: Option<&str>, bridged: bool) {
    wait_link(&from.name, dev);
    from.run(&format!("ip link set {dev} netns {}", to.name));
    if let Some(mac) = mac {
        to.run(&format!("ip link set {dev} address {mac}"));
    }
    if bridged {
        to.run(&format!("ip link set {dev} master br0"));
    }
    to.run(&format!("ip link set {dev} up"));
}

/// The reference topology with vm001 on compute1 and floating IP 10.1.101.82 its own.
fn topology(dir: &TempDir) -> String {
    let text = std::fs::read_to_string(TENANT_A).expect("read configs/tenant-a.toml");
    let vm001 = "device_id = \"f467ba96-09c4-4eb7-b79c-5391f326c7d1\"";
    let fip = format!("\nid = \"{FIP_ID}\"\n");
    assert_eq!(text.matches(vm001).count(), 1, "vm001's port in {TENANT_A}");
    assert_eq!(
        text.matches(&fip).count(),
        1,
        "floating IP {FIP_ID} in {TENANT_A}"
    );
    let text = text
        .replacen(
            vm001,
            &format!("{vm001}\nbinding = {{ peer = \"10.0.1.31\" }}"),
            1,
        )
        .replacen(&fip, &format!("{fip}port_id = \"{VM001_PORT_ID}\"\n"), 1);
    let path = dir.path("topology.toml");
    std::fs::write(&path, text).expect("write the test topology");
    path
}

/// Stops a dhclient by its pid file when the test ends.
struct Dhclient(String);

impl Drop for Dhclient {
    fn drop(&mut self) {
        if let Some(pid) = read_pid(Path::new(&self.0)) {
            // SAFETY: signals the dhclient this test started, by its pid file.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            wait_gone(pid, Duration::from_secs(5));
        }
    }
}

/// Pings `dst` from `ns` `count` times and asserts that nothing was lost.
fn ping(ns: &Netns, dst: &str, count: u32, what: &str) -> String {
    let out = ns.try_run(&format!("ping -c {count} -i 0.2 -W 2 {dst}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(" 0% packet loss"),
        "{what}: ping {dst} from {} should lose nothing:\n{}",
        ns.name,
        text(&out)
    );
    stdout
        .lines()
        .find(|l| l.contains("packet loss"))
        .unwrap_or("")
        .to_owned()
}

#[test]
fn ovs_dpdk_compute_node_as_gre_peer() {
    require_prereqs();
    for tool in [VSWITCHD, "/usr/bin/ovs-vsctl", "/usr/sbin/ovsdb-server"] {
        assert!(
            Path::new(tool).exists(),
            "{tool} is missing: apt-get install -y openvswitch-switch-dpdk"
        );
    }
    let started = Instant::now();
    // Namespaces first: dropped last, after OVS and the appliance have stopped.
    let c1 = Netns::new(&unique("oc1"));
    let vm = Netns::new(&unique("ovm"));
    let ul = Netns::new(&unique("oul"));
    let up = Netns::new(&unique("oup"));
    let dir = TempDir::new(&format!("vrouter-e2e-ovs-{}", std::process::id()));
    ul.run("ip link add br0 type bridge");
    ul.run("ip link set br0 up");

    // The appliance: eth1 (underlay) and eth2 (external) on taps.
    let cfg = topology(&dir);
    let (t_e1, t_up, t_oe1, t_ovm) = (unique("e1"), unique("up"), unique("oe1"), unique("ovm"));
    let dev_e1 = format!("eth1=net_tap0,iface={t_e1}");
    let dev_e2 = format!("eth2=net_tap1,iface={t_up}");
    let vr = Vrouter::start(&["--config", &cfg, "--devargs", &dev_e1, "--devargs", &dev_e2]);
    common::move_tap(&t_e1, &ul, NETNODE_MAC_KERNEL, None);
    ul.run(&format!("ip link set {t_e1} master br0"));
    common::move_tap(&t_up, &up, UPSTREAM_MAC, Some("10.1.101.254/24"));

    // compute1: OVS-DPDK with br-phy (underlay), br-int (the VM, tag 1) and br-tun.
    let prefix = format!("ovs-{}", common::file_prefix());
    let ovs = Ovs::start(&c1, &dir.0.join("ovs"), &prefix);
    let tap = |n: u8, iface: &str| format!("options:dpdk-devargs=net_tap{n},iface={iface}");
    let (tap_e1, tap_vm) = (tap(0, &t_oe1), tap(1, &t_ovm));
    let gre_opts = [
        "options:remote_ip=10.0.1.21",
        "options:local_ip=10.0.1.31",
        "options:in_key=flow",
        "options:out_key=flow",
    ];
    let mut args = vec![
        "add-br",
        "br-phy",
        "--",
        "set",
        "bridge",
        "br-phy",
        "datapath_type=netdev",
    ];
    let hwaddr = format!("other-config:hwaddr={COMPUTE1_MAC}");
    args.extend([hwaddr.as_str(), "--", "add-port", "br-phy", "eth1"]);
    args.extend(["--", "set", "Interface", "eth1", "type=dpdk", &tap_e1]);
    args.extend(["options:n_rxq=2"]);
    args.extend(["--", "add-br", "br-int", "--", "set", "bridge", "br-int"]);
    args.extend([
        "datapath_type=netdev",
        "--",
        "add-port",
        "br-int",
        QVO,
        "tag=1",
    ]);
    args.extend([
        "--",
        "set",
        "Interface",
        QVO,
        "type=dpdk",
        &tap_vm,
        "options:n_rxq=2",
    ]);
    args.extend([
        "--",
        "add-port",
        "br-int",
        "patch-tun",
        "--",
        "set",
        "Interface",
    ]);
    args.extend(["patch-tun", "type=patch", "options:peer=patch-int"]);
    args.extend(["--", "add-br", "br-tun", "--", "set", "bridge", "br-tun"]);
    args.extend(["datapath_type=netdev", "fail-mode=secure"]);
    args.extend([
        "--",
        "add-port",
        "br-tun",
        "patch-int",
        "--",
        "set",
        "Interface",
    ]);
    args.extend([
        "patch-int",
        "type=patch",
        "options:peer=patch-tun",
        "ofport_request=1",
    ]);
    args.extend([
        "--",
        "add-port",
        "br-tun",
        GRE,
        "--",
        "set",
        "Interface",
        GRE,
    ]);
    args.extend(["type=gre", "ofport_request=2"]);
    args.extend(gre_opts);
    ovs.vsctl(&args);
    let ifaces = ovs.vsctl(&["--columns=name,ofport,error", "list", "Interface"]);
    assert!(
        !ifaces.contains("error               : \"")
            && ifaces.matches("ofport              : -1").count() == 0,
        "every OVS interface should be up without error:\n{ifaces}\n{}",
        ovs.log()
    );
    let flows = dir.path("br-tun.flows");
    std::fs::write(&flows, BR_TUN_FLOWS).unwrap();
    ovs.ofctl("del-flows", "br-tun", &[]);
    ovs.ofctl("add-flows", "br-tun", &[&flows]);
    // The underlay address on br-phy's LOCAL port: OVS learns the route to 10.0.1.0/24.
    c1.run("ip addr add 10.0.1.31/24 dev br-phy");
    c1.run("ip link set br-phy up");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ovs
        .appctl(&["ovs/route/show"])
        .contains("10.0.1.0/24 dev br-phy")
    {
        assert!(
            Instant::now() < deadline,
            "OVS did not learn the route 10.0.1.0/24 dev br-phy:\n{}",
            ovs.appctl(&["ovs/route/show"])
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    move_link(&c1, &t_oe1, &ul, None, true);
    move_link(&c1, &t_ovm, &vm, Some(VM001_MAC), false);
    println!(
        "set-up: appliance and OVS compute1 ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // (a) The VM's address from the appliance's DHCP, across OVS and the GRE tunnel.
    // Retransmit after 1 s, not 4: OVS drops the first packet it would tunnel while it
    // resolves 10.0.1.21. resolv.conf and the host name are the host's: kept out.
    let conf = dir.path("dhclient.conf");
    std::fs::write(
        &conf,
        "initial-interval 1;\ntimeout 20;\nretry 1;\n\
         request subnet-mask, broadcast-address, routers, interface-mtu;\n",
    )
    .unwrap();
    let script = dir.path("dhclient-script.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nunset new_domain_name new_domain_search new_domain_name_servers \
         new_host_name\nexec /sbin/dhclient-script\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (lease, pid) = (dir.path("dhclient.leases"), dir.path("dhclient.pid"));
    let _dhclient = Dhclient(pid.clone());
    let out = vm.try_run(&format!(
        "timeout 25 dhclient -1 -v -cf {conf} -lf {lease} -pf {pid} -sf {script} {t_ovm}"
    ));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && log.contains("DHCPACK of 10.0.0.10 from 10.0.0.3"),
        "(a) the VM behind OVS should get 10.0.0.10 from the appliance's DHCP server \
         (10.0.0.3) through br-int, br-tun and GRE:\n{}",
        text(&out)
    );
    let addr = vm.run(&format!("ip -4 -o addr show dev {t_ovm}"));
    let route = vm.run("ip -4 route show default");
    let link = vm.run(&format!("ip -o link show dev {t_ovm}"));
    assert!(
        addr.contains("inet 10.0.0.10/24")
            && route.contains("default via 10.0.0.1")
            && link.contains("mtu 1458"),
        "(a) dhclient should configure 10.0.0.10/24, MTU 1458, default via 10.0.0.1:\n\
         {addr}{link}{route}"
    );
    println!("(a) ok: DHCP through OVS: 10.0.0.10/24 via 10.0.0.1, MTU 1458");

    // (b) The gateway.
    let got = ping(&vm, "10.0.0.1", 3, "(b) the VM's gateway (qr-81388454-30)");
    println!("(b) ok: gateway 10.0.0.1: {got}");

    // (c) Upstream, as the floating IP (vm001 holds 10.1.101.82 in this topology).
    let mut cap = capture(&up, &t_up, 2);
    ping(&vm, "10.1.101.254", 1, "(c) upstream from the VM");
    let seen = cap.wait_exit(Duration::from_secs(15)).output();
    assert!(
        seen.contains("10.1.101.82 > 10.1.101.254: ICMP echo request"),
        "(c) upstream should see the VM's ping from its floating IP 10.1.101.82:\n{seen}"
    );
    println!("(c) ok: upstream saw the VM as 10.1.101.82");

    // (d) The VM from upstream, through its floating IP.
    let got = ping(&up, "10.1.101.82", 3, "(d) the floating IP from upstream");
    println!("(d) ok: upstream -> 10.1.101.82 -> 10.0.0.10: {got}");

    // (e) Without the floating IP, the VM reaches upstream through SNAT (10.1.101.80).
    ctl(&vr.socket(), &["floatingip-disassociate", FIP_ID]);
    let mut cap = capture(&up, &t_up, 2);
    ping(
        &vm,
        "10.1.101.254",
        1,
        "(e) upstream from the VM through SNAT",
    );
    let seen = cap.wait_exit(Duration::from_secs(15)).output();
    assert!(
        seen.contains("10.1.101.80 > 10.1.101.254: ICMP echo request"),
        "(e) with the floating IP disassociated, upstream should see the VM's ping from \
         the router gateway 10.1.101.80 (SNAT):\n{seen}"
    );
    println!("(e) ok: upstream saw the VM as 10.1.101.80 (SNAT)");

    // (f) compute1's view: br-tun learned the router's MAC behind the GRE port (table 20),
    // decapsulated tun_id 0x2 (table 2), and OVS resolved 10.0.1.21 by ARP.
    let learned = ovs.ofctl("dump-flows", "br-tun", &["table=20"]);
    let qr = learned.lines().find(|l| l.contains(QR_MAC)).unwrap_or("");
    assert!(
        qr.contains("load:0x2->NXM_NX_TUN_ID[]") && qr.contains("output:2"),
        "(f) br-tun table 20 should hold a learned flow: dl_dst={QR_MAC} -> tun_id 0x2, \
         output:{GRE}:\n{learned}"
    );
    let neigh = ovs.appctl(&["tnl/neigh/show"]);
    assert!(
        neigh
            .lines()
            .any(|l| l.contains("10.0.1.21") && l.contains(NETNODE_MAC)),
        "(f) OVS should have resolved 10.0.1.21 to {NETNODE_MAC} by ARP:\n{neigh}"
    );
    println!("(f) ok: br-tun learned {QR_MAC} behind {GRE}; OVS resolved 10.0.1.21 by ARP");
    println!("{learned}");

    let report = vr.stop();
    assert!(report.status.success(), "{}", report.output());
    let out = &report.stdout;
    assert!(
        out.contains(&format!("10.0.1.31 lladdr {COMPUTE1_MAC}"))
            && out.contains(&format!("{VM001_MAC} 10.0.0.10")),
        "the appliance's report should list compute1 as underlay neighbour and the lease:\n{out}"
    );
    println!(
        "appliance report (part):\n{}",
        out.lines()
            .filter(|l| l.starts_with("gre_") || l.starts_with("== dhcp") || l.contains("lladdr"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    println!("total {:.1} s", started.elapsed().as_secs_f64());
    drop(ovs);
}
