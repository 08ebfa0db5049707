//! End-to-end test of the DHCP server (what dnsmasq in `qdhcp-<network id>` was): real
//! clients get their port's fixed IP, gateway, DNS server and MTU from the appliance.
//!
//! ```text
//!   vmA (vm001's port)        ──tap──┐                      ┌── veth ── c1 (compute1)
//!                                    ├─ vrouter ─tap(eth1)─ br0 (underlay ns)
//!   vmX (a MAC no port has)   ──tap──┘                      └── veth ── c2 (compute2)
//! ```
//! (a) `dhclient` in vmA gets 10.0.0.10/24, router 10.0.0.1, DNS 10.1.101.254 and MTU 1458,
//!     and gets them again from its lease file (INIT-REBOOT), then releases;
//! (b) busybox `udhcpc` in vmA does the same and renews (RENEWING, unicast);
//! (c) a client in vmX, whose MAC no port has, gets nothing;
//! (d) vm002 played by `tests/e2e/dhcp_peer.py` behind compute1 gets 10.0.0.9 inside GRE,
//!     answered through compute1 only.

mod common;

use common::{gre_peer, move_tap, require_prereqs, unique, Netns, Proc, Vrouter, PYTHON, TENANT_A};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const VM001_PORT: &str = "tapd7233b80-9d";
const VM001_MAC: &str = "fa:16:3e:75:e0:5a";
const VM002_MAC: &str = "fa:16:3e:51:a2:97";
const DHCP_MAC: &str = "fa:16:3e:da:41:49";
/// A port added to the test topology to attach vmX; vmX's interface uses another MAC (the
/// port has no port security, else anti-spoofing would drop vmX's frames before DHCP).
const STRAY_PORT_ID: &str = "0e3f5c2a-7b1d-4c8e-9a6f-3d2b1c0e9f77";
const STRAY_PORT: &str = "tap0e3f5c2a-7b";
const STRAY_MAC: &str = "02:00:00:00:00:77";
const DNS: &str = "10.1.101.254";
const DHCP_PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/dhcp_peer.py");

/// A directory for this test's files, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let p = std::env::temp_dir().join(format!("vrouter-e2e-dhcp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
    fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
    /// Writes an executable script.
    fn script(&self, name: &str, text: &str) -> String {
        use std::os::unix::fs::PermissionsExt;
        let path = self.path(name);
        std::fs::write(&path, text).expect("write script");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Stops a dhclient left running (by its pid file) if the test ends early.
struct Dhclient(String);

impl Drop for Dhclient {
    fn drop(&mut self) {
        if let Some(pid) = std::fs::read_to_string(&self.0)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        {
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
    }
}

/// The reference topology with a DNS server on tenantA's subnet and one more VM port.
fn topology(dir: &TempDir) -> String {
    let text = std::fs::read_to_string(TENANT_A).expect("reference topology");
    let cidr = "cidr = \"10.0.0.0/24\"\n";
    assert_eq!(
        text.matches(cidr).count(),
        1,
        "tenantA's subnet in {TENANT_A}"
    );
    let mut text = text.replace(cidr, &format!("{cidr}dns_nameservers = [\"{DNS}\"]\n"));
    text.push_str(&format!(
        "\n[[port]]   # attaches vmX, whose interface has a MAC no port has\n\
         id = \"{STRAY_PORT_ID}\"\n\
         network_id = \"7c22bbd9-166c-4610-9a3d-3b8b92c77518\"\n\
         mac_address = \"fa:16:3e:00:00:77\"\n\
         device_owner = \"compute:nova\"\n\
         port_security_enabled = false\n"
    ));
    let path = dir.path("topology.toml");
    std::fs::write(&path, text).expect("write topology");
    path
}

/// Waits up to `secs` for file `path` to contain `pattern`; returns its content.
fn wait_for(path: &str, pattern: &str, secs: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(pattern) || Instant::now() >= deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Asserts that `ns`'s interface `dev` has 10.0.0.10/24, MTU 1458 and a default route via
/// 10.0.0.1.
fn assert_configured(ns: &Netns, dev: &str, by: &str) {
    let addr = ns.run(&format!("ip -4 -o addr show dev {dev}"));
    let link = ns.run(&format!("ip -o link show dev {dev}"));
    let route = ns.run("ip -4 route show default");
    assert!(
        addr.contains("inet 10.0.0.10/24")
            && link.contains("mtu 1458")
            && route.contains("default via 10.0.0.1"),
        "{by} should leave {dev} with 10.0.0.10/24, MTU 1458 and a default route via \
         10.0.0.1; got:\n{addr}{link}{route}"
    );
}

/// Runs `cmd` in `ns`, returns its stderr (dhclient -v logs there); panics on failure.
fn dhclient(ns: &Netns, cmd: &str) -> String {
    let out = ns.try_run(cmd);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "`{cmd}` failed ({}):\n{err}",
        out.status
    );
    print!("{err}");
    err
}

#[test]
fn dhcp_server_answers_real_clients_and_clients_behind_gre() {
    require_prereqs();
    let dir = TempDir::new();
    let config = topology(&dir);

    // Namespaces first: they are dropped last, after the appliance has stopped.
    let vm_a = Netns::new(&unique("vmA"));
    let vm_x = Netns::new(&unique("vmX"));
    let underlay = Netns::new(&unique("ul"));
    let c1 = Netns::new(&unique("c1"));
    let c2 = Netns::new(&unique("c2"));
    underlay.run("ip link add br0 type bridge");
    underlay.run("ip link set br0 up");
    for (c, port, ip, mac) in [
        (&c1, "c1p", "10.0.1.31/24", "52:54:00:00:01:31"),
        (&c2, "c2p", "10.0.1.41/24", "52:54:00:00:01:41"),
    ] {
        underlay.run(&format!(
            "ip link add {port} type veth peer name eth0 netns {}",
            c.name
        ));
        underlay.run(&format!("ip link set {port} master br0"));
        underlay.run(&format!("ip link set {port} up"));
        c.run(&format!("ip link set eth0 address {mac}"));
        c.run(&format!("ip addr add {ip} dev eth0"));
        c.run("ip link set eth0 up");
    }

    let (tap_e1, tap_a, tap_x) = (unique("e1"), unique("a"), unique("x"));
    let vr = Vrouter::start(&[
        "--config",
        &config,
        "--devargs",
        &format!("eth1=net_tap0,iface={tap_e1}"),
        "--devargs",
        &format!("{VM001_PORT}=net_tap1,iface={tap_a}"),
        "--devargs",
        &format!("{STRAY_PORT}=net_tap2,iface={tap_x}"),
        "--devargs",
        "eth2=net_null0,no-rx=1",
    ]);
    move_tap(&tap_e1, &underlay, "52:54:00:00:01:fe", None);
    underlay.run(&format!("ip link set {tap_e1} master br0"));
    move_tap(&tap_a, &vm_a, VM001_MAC, None);
    move_tap(&tap_x, &vm_x, STRAY_MAC, None);

    // (a) dhclient: Debian's dhclient-script configures the interface; a wrapper records
    // what the server handed out and keeps resolv.conf and the host name (which are the
    // host's, not the namespace's) out of it.
    let env = dir.path("dhclient.env");
    let script = dir.script(
        "dhclient-script.sh",
        &format!(
            "#!/bin/sh\n\
             {{ echo \"reason=$reason\"; env | grep '^new_' | sort; echo; }} >> {env}\n\
             unset new_domain_name new_domain_search new_domain_name_servers new_host_name\n\
             exec /sbin/dhclient-script\n"
        ),
    );
    let (lease, pid) = (dir.path("dhclient.leases"), dir.path("dhclient.pid"));
    let _stop = Dhclient(pid.clone());
    let files = format!("-lf {lease} -pf {pid} -sf {script}");
    let err = dhclient(&vm_a, &format!("timeout 30 dhclient -1 -v {files} {tap_a}"));
    assert!(
        err.contains("DHCPOFFER of 10.0.0.10 from 10.0.0.3")
            && err.contains("DHCPACK of 10.0.0.10 from 10.0.0.3"),
        "(a) dhclient should be offered and acked 10.0.0.10 by 10.0.0.3:\n{err}"
    );
    assert_configured(&vm_a, &tap_a, "(a) dhclient");
    let got = std::fs::read_to_string(&env).unwrap_or_default();
    for want in [
        "reason=BOUND",
        "new_ip_address=10.0.0.10",
        "new_subnet_mask=255.255.255.0",
        "new_routers=10.0.0.1",
        &format!("new_domain_name_servers={DNS}"),
        "new_domain_name=openstacklocal",
        "new_host_name=host-10-0-0-10",
        "new_interface_mtu=1458",
        "new_dhcp_server_identifier=10.0.0.3",
        "new_dhcp_lease_time=86400",
    ] {
        assert!(got.contains(want), "(a) dhclient should get {want}:\n{got}");
    }
    println!("(a) ok: dhclient bound 10.0.0.10/24 via 10.0.0.1, DNS {DNS}, MTU 1458");

    // Stop it keeping the lease, and start again from the lease file: INIT-REBOOT.
    dhclient(&vm_a, &format!("dhclient -x {files} {tap_a}"));
    let err = dhclient(&vm_a, &format!("timeout 30 dhclient -1 -v {files} {tap_a}"));
    assert!(
        err.contains("DHCPREQUEST for 10.0.0.10")
            && err.contains("DHCPACK of 10.0.0.10 from 10.0.0.3")
            && !err.contains("DHCPDISCOVER"),
        "(a) dhclient should renew its lease of 10.0.0.10 from the lease file (REQUEST, \
         ACK, no DISCOVER):\n{err}"
    );
    assert_configured(&vm_a, &tap_a, "(a) dhclient's renewal");
    assert!(wait_for(&env, "reason=REBOOT", 1).contains("reason=REBOOT"));
    let err = dhclient(&vm_a, &format!("dhclient -r -v {files} {tap_a}"));
    assert!(
        err.contains("DHCPRELEASE"),
        "(a) dhclient -r releases:\n{err}"
    );
    println!("(a) ok: dhclient renewed 10.0.0.10 from its lease file and released it");

    // (b) busybox udhcpc, with a script that applies address, router and MTU.
    vm_a.run(&format!("ip link set {tap_a} mtu 1500"));
    vm_a.run(&format!("ip -4 addr flush dev {tap_a}"));
    let log = dir.path("udhcpc.log");
    let script = dir.script(
        "udhcpc.sh",
        &format!(
            "#!/bin/sh\n\
             echo \"$1 ip=$ip mask=$mask router=$router dns=$dns mtu=$mtu domain=$domain \
             hostname=$hostname serverid=$serverid lease=$lease\" >> {log}\n\
             case \"$1\" in\n\
             deconfig) ip -4 addr flush dev \"$interface\"; ip link set \"$interface\" up ;;\n\
             bound|renew)\n\
               ip addr replace \"$ip/$mask\" dev \"$interface\"\n\
               [ -n \"$mtu\" ] && ip link set dev \"$interface\" mtu \"$mtu\"\n\
               [ -n \"$router\" ] && ip route replace default via \"${{router%% *}}\" dev \"$interface\"\n\
               ;;\n\
             esac\n\
             exit 0\n"
        ),
    );
    let argv: Vec<String> = format!(
        "ip netns exec {} busybox udhcpc -f -i {tap_a} -s {script} -t 5 -T 1 -A 1 -n",
        vm_a.name
    )
    .split_whitespace()
    .map(str::to_owned)
    .collect();
    let mut udhcpc = Proc::spawn("udhcpc in vmA", &argv);
    let text = wait_for(&log, "bound", 15);
    assert!(
        text.contains(&format!(
            "bound ip=10.0.0.10 mask=24 router=10.0.0.1 dns={DNS} mtu=1458 \
             domain=openstacklocal hostname=host-10-0-0-10 serverid=10.0.0.3 lease=86400"
        )),
        "(b) udhcpc should be bound to 10.0.0.10 with every option:\n{text}"
    );
    assert_configured(&vm_a, &tap_a, "(b) udhcpc");
    // SIGUSR1: renew now, unicast to the server (RENEWING).
    unsafe { libc::kill(udhcpc.pid(), libc::SIGUSR1) };
    let text = wait_for(&log, "renew ip=10.0.0.10", 15);
    assert!(
        text.contains("renew ip=10.0.0.10 mask=24 router=10.0.0.1"),
        "(b) udhcpc's renewal (SIGUSR1) should be acked:\n{text}"
    );
    let done = udhcpc.terminate(Duration::from_secs(5));
    print!("{}{}", done.stdout, done.stderr);
    println!("(b) ok: udhcpc bound 10.0.0.10/24 via 10.0.0.1, DNS {DNS}, MTU 1458, and renewed");

    // (c) A MAC no port has: no offer, the client gives up (bounded: 2 tries, 1 s apart).
    let log_x = dir.path("udhcpc-x.log");
    let script_x = dir.script(
        "udhcpc-x.sh",
        &format!("#!/bin/sh\necho \"$1 ip=$ip\" >> {log_x}\nexit 0\n"),
    );
    let out = vm_x.try_run(&format!(
        "timeout 20 busybox udhcpc -i {tap_x} -s {script_x} -n -q -t 2 -T 1 -A 1"
    ));
    let events = std::fs::read_to_string(&log_x).unwrap_or_default();
    assert!(
        !out.status.success() && !events.contains("bound"),
        "(c) a client with MAC {STRAY_MAC}, which no port has, must get no lease; udhcpc \
         exited with {} and reported:\n{events}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    println!("(c) ok: {STRAY_MAC} got no offer");

    // (d) vm002 behind compute1, played by scapy: DISCOVER/OFFER, REQUEST/ACK in GRE key 2,
    // answered through compute1 only.
    let mut at_c2 = gre_peer(
        &c2,
        &format!("sniff --iface eth0 --key 2 --inner-dst {VM002_MAC} --expect-none --timeout 8"),
        true,
    );
    let argv: Vec<String> = [
        "ip",
        "netns",
        "exec",
        &c1.name,
        PYTHON,
        DHCP_PEER,
        "--iface",
        "eth0",
        "--src",
        "10.0.1.31",
        "--dst",
        "10.0.1.21",
        "--key",
        "2",
        "--client-mac",
        VM002_MAC,
        "--server-mac",
        DHCP_MAC,
        "--expect-ip",
        "10.0.0.9",
        "--expect-server",
        "10.0.0.3",
        "--expect-router",
        "10.0.0.1",
        "--expect-dns",
        DNS,
        "--expect-mtu",
        "1458",
        "--timeout",
        "5",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let done = Proc::spawn("dhcp_peer.py in c1", &argv).wait_exit(Duration::from_secs(40));
    print!("compute1: {}", done.stdout);
    assert!(
        done.status.success(),
        "(d) vm002 ({VM002_MAC}) behind compute1 should be offered and acked 10.0.0.9 \
         inside GRE key 2, unicast to it, with router, DNS and MTU\n{}",
        done.output()
    );
    let done = at_c2.wait_exit(Duration::from_secs(20));
    print!("compute2: {}", done.stdout);
    assert!(
        done.status.success(),
        "(d) the replies to vm002 (behind compute1) must not reach compute2\n{}",
        done.output()
    );
    println!("(d) ok: vm002 behind compute1 got 10.0.0.9 through compute1 only");

    // The final report: counters and leases.
    let done = vr.stop();
    assert!(
        done.status.success(),
        "the appliance should exit 0\n{}",
        done.output()
    );
    println!("appliance output:\n{}", done.stdout);
    let report = done.stdout.as_str();
    let counter = |name: &str| -> u64 {
        let line = report
            .lines()
            .find(|l| l.starts_with("== dhcp"))
            .unwrap_or("");
        let mut words = line.split([' ', '(', ')', ';']);
        words
            .find(|w| *w == name)
            .and(words.next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    assert!(
        counter("offers") >= 3 && counter("acks") >= 5 && counter("releases") >= 1,
        "the report should count at least 3 offers, 5 acks and 1 release\n{report}"
    );
    assert!(
        report.lines().any(|l| l.starts_with("dhcp_no_binding")),
        "the report should count the stray client's messages as dhcp_no_binding\n{report}"
    );
    for (mac, ip) in [(VM001_MAC, "10.0.0.10"), (VM002_MAC, "10.0.0.9")] {
        assert!(
            report.lines().any(|l| l.contains(mac) && l.contains(ip)),
            "the report should list the lease of {ip} to {mac}\n{report}"
        );
    }
}
