//! The appliance's life cycle and what an operator sees of it, on the real binaries:
//!
//! | test | what | outcome |
//! |---|---|---|
//! | `rule_deletion_is_in_force_when_the_cli_returns` | two workers; upstream pings vm002's floating IP; the ICMP rule, loaded without an id, is deleted by the `<group>#<n>` id `security-group-chains` and `security-group-rule-list` show | the very next 10 pings all go unanswered; `stats` shows the security group, router, conntrack and NIC counters (a 9000-byte frame the tap cannot take shows as the device's `ierrors`) |
//! | `sigterm_under_load_stops_within_two_seconds` | flood pings both ways through the floating IP, then SIGTERM | exit 0 within 2 s, every mbuf back in the pool (the exit report says so) |
//! | `startup_refusals_name_the_problem_and_leave_nothing` | a comment-only topology, a conntrack capacity of 2^40, a regular file at `--socket`, a state file linking to nothing | each refused with its exact error; nothing left in `/var/run/dpdk`; the file and the link untouched |
//!
//! ```text
//!   vm (vm002 10.0.0.9, floating 10.1.101.82) ──tap── vrouter ──tap(eth2)── up (10.1.101.254)
//! ```

mod common;

use common::{
    assert_clean_exit, ctl, move_tap, port_counter, require_prereqs, stats_json, unique,
    vrouterctl, Netns, Proc, Vrouter, TENANT_A,
};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const VM002_PORT: &str = "1653ec91-ad7d-40d9-b777-f74aec697026";
const FIP_ID: &str = "00000000-0000-4000-8000-0a0165000052";
const DEFAULT_GROUP: &str = "8bd8fb6b-7141-4900-8321-390cc1a5d999";

/// One test at a time: they share the machine's two cores with the traffic they make.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A directory of its own under the temp dir, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(unique(name));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The reference topology with floating IP 10.1.101.82 on vm002, written to `dir`.
fn config(dir: &TempDir) -> String {
    let text = std::fs::read_to_string(TENANT_A).expect("read configs/tenant-a.toml");
    let fip_line = format!("\nid = \"{FIP_ID}\"\n");
    assert!(text.contains(&fip_line));
    let text = text.replacen(
        &fip_line,
        &format!("{fip_line}port_id = \"{VM002_PORT}\"\n"),
        1,
    );
    let path = dir.path("fip.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The appliance with eth2 and vm002's port on taps moved into `up` and `vm`.
fn start(dir: &TempDir, up: &Netns, vm: &Netns, extra: &[&str]) -> Vrouter {
    let cfg = config(dir);
    let (t_vm, t_up) = (unique("tlv"), unique("tlu"));
    let (eth1, eth2, port) = (
        "eth1=net_null0,no-rx=1".to_string(),
        format!("eth2=net_tap1,iface={t_up}"),
        format!("tap1653ec91-ad=net_tap2,iface={t_vm}"),
    );
    let mut args = vec![
        "--config",
        &cfg,
        "--devargs",
        &eth1,
        "--devargs",
        &eth2,
        "--devargs",
        &port,
    ];
    args.extend(extra);
    let vr = Vrouter::start(&args);
    move_tap(&t_vm, vm, "fa:16:3e:51:a2:97", Some("10.0.0.9/24"));
    move_tap(&t_up, up, "52:54:00:01:01:fe", Some("10.1.101.254/24"));
    vm.run("ip route add default via 10.0.0.1");
    vr
}

/// Waits (15 s at most) until `ns` gets an answer from `ip`.
fn wait_ping(ns: &Netns, ip: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !ns.try_run(&format!("ping -c 1 -W 1 {ip}")).status.success() {
        assert!(Instant::now() < deadline, "{ip} never answered {}", ns.name);
    }
}

/// Echo replies `ping` reports for `count` requests 0.2 s apart.
fn answered(ns: &Netns, ip: &str, count: u32) -> u32 {
    let out = ns.try_run(&format!("ping -n -c {count} -i 0.2 -W 1 {ip}"));
    let text = String::from_utf8_lossy(&out.stdout);
    let received = text
        .split(',')
        .find_map(|part| part.trim().strip_suffix(" received"))
        .unwrap_or_else(|| panic!("no summary in ping's output:\n{text}"));
    received.parse().unwrap()
}

#[test]
fn rule_deletion_is_in_force_when_the_cli_returns() {
    let _serial = serial();
    require_prereqs();
    let dir = TempDir::new("lrule");
    let (up, vm) = (Netns::new(&unique("lup")), Netns::new(&unique("lvm")));
    let vr = start(&dir, &up, &vm, &["--workers", "2"]);
    let sock = vr.socket();
    wait_ping(&up, "10.1.101.82");
    assert_eq!(answered(&up, "10.1.101.82", 5), 5, "ICMP is let in");

    // The rule ids: derived from group and place, shown by the list and the chains.
    let icmp_rule = format!("{DEFAULT_GROUP}#1");
    let rules: serde_json::Value =
        serde_json::from_str(&ctl(&sock, &["security-group-rule-list", "-f", "json"])).unwrap();
    let listed = rules
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["id"] == icmp_rule.as_str()))
        .unwrap_or_else(|| panic!("rule {icmp_rule} listed: {rules}"));
    assert_eq!(listed["protocol"], "icmp", "{listed}");
    let chains = ctl(&sock, &["security-group-chains"]);
    assert!(
        chains.contains(&format!("id={icmp_rule}]")),
        "the chains view shows the id:\n{chains}"
    );

    // Delete it while the pings flow; once the CLI returns, nothing more is let in.
    let mut pinger = Proc::spawn(
        "ping",
        &[
            "ip",
            "netns",
            "exec",
            &up.name,
            "ping",
            "-n",
            "-i",
            "0.01",
            "10.1.101.82",
        ]
        .map(String::from),
    );
    std::thread::sleep(Duration::from_millis(300));
    ctl(&sock, &["security-group-rule-delete", &icmp_rule]);
    let after = answered(&up, "10.1.101.82", 10);
    drop(pinger.terminate(Duration::from_secs(5)));
    assert_eq!(
        after, 0,
        "10 of 10 pings right after the deletion go unanswered"
    );
    let out = vrouterctl(&sock, &["security-group-rule-delete", &icmp_rule]);
    assert!(
        !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("no security group rule has id"),
        "deleted once: {out:?}"
    );

    // A frame longer than the tap takes: only the device's own counters see it.
    up.run("ip link set dev lo up");
    let tap_up = up
        .run("ip -o link show")
        .lines()
        .find(|l| l.contains("52:54:00:01:01:fe"))
        .map(|l| {
            l.split(':')
                .nth(1)
                .unwrap()
                .trim()
                .split('@')
                .next()
                .unwrap()
                .to_string()
        })
        .expect("the upstream tap");
    up.run(&format!("ip link set dev {tap_up} mtu 9000"));
    let before = stats_json(&vr);
    let _ = up.try_run("ping -c 2 -i 0.2 -W 1 -s 8972 -M do 10.1.101.254");
    let _ = up.try_run("ping -c 2 -i 0.2 -W 1 -s 8972 -M do 10.1.101.82");
    let s = stats_json(&vr);
    let nic = |v: &serde_json::Value, key: &str| {
        v["ports"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == "eth2"))
            .and_then(|p| p["nic"][key].as_u64())
            .unwrap_or_else(|| panic!("no NIC counter {key} of eth2 in {v}"))
    };
    let pipeline_rx =
        port_counter(&s, "eth2", "rx_packets") - port_counter(&before, "eth2", "rx_packets");
    assert!(
        nic(&s, "ierrors") > nic(&before, "ierrors"),
        "the 9000-byte frames show as eth2's ierrors (pipeline rx +{pipeline_rx}): {}",
        s["ports"]
    );
    for key in ["imissed", "rx_nombuf", "oerrors", "ipackets", "opackets"] {
        nic(&s, key);
    }
    // The stages' counters.
    assert!(
        s["security_groups"]["denied"].as_u64().unwrap() >= 10,
        "{s}"
    );
    assert!(s["router"]["forwarded"].as_u64().unwrap() > 0, "{s}");
    assert!(s["router"]["icmp_rate_limited"].is_u64(), "{s}");
    assert!(s["conntrack"]["created"].as_u64().unwrap() > 0, "{s}");
    assert!(s["conntrack"]["live"].is_u64(), "{s}");
    let text = ctl(&sock, &["stats"]);
    for line in ["security_groups: ", "router: ", "conntrack: ", "NIC "] {
        assert!(
            text.contains(line),
            "vrouterctl stats prints {line:?}:\n{text}"
        );
    }
    let done = vr.stop();
    assert!(
        done.stdout.contains("== counters security_groups: "),
        "{}",
        done.stdout
    );
    assert!(done.stdout.contains(" NIC ipackets:"), "{}", done.stdout);
    assert_clean_exit(&done, "rule_deletion_is_in_force_when_the_cli_returns");
}

#[test]
fn sigterm_under_load_stops_within_two_seconds() {
    let _serial = serial();
    require_prereqs();
    let dir = TempDir::new("lterm");
    let (up, vm) = (Netns::new(&unique("lup")), Netns::new(&unique("lvm")));
    let mut vr = start(&dir, &up, &vm, &[]);
    wait_ping(&up, "10.1.101.82");
    wait_ping(&vm, "10.1.101.254");
    let flood = |ns: &Netns, ip: &str| {
        Proc::spawn(
            "ping -f",
            &[
                "ip", "netns", "exec", &ns.name, "ping", "-q", "-f", "-s", "1000", ip,
            ]
            .map(String::from),
        )
    };
    let _in = flood(&up, "10.1.101.82");
    let _out = flood(&vm, "10.1.101.254");
    // Traffic flows: the counters move between two looks.
    let rx = |vr: &Vrouter| port_counter(&stats_json(vr), "eth2", "rx_packets");
    let first = rx(&vr);
    std::thread::sleep(Duration::from_millis(500));
    let second = rx(&vr);
    assert!(
        second > first + 100,
        "flood pings flow ({first} -> {second})"
    );

    let start = Instant::now();
    let done = vr.proc().terminate(Duration::from_secs(10));
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "stopped {took:?} after SIGTERM under load\n{}",
        done.output()
    );
    let line = done
        .stdout
        .lines()
        .find(|l| l.starts_with("== mbufs returned: "))
        .unwrap_or_else(|| panic!("the report counts the mbufs\n{}", done.output()));
    let total: u32 = line
        .trim_start_matches("== mbufs returned: ")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        line,
        format!("== mbufs returned: {total} of {total} (0 still out after the devices closed)"),
        "every mbuf back"
    );
    println!("stopped in {took:?} under load; {line}");
    assert_clean_exit(&done, "sigterm_under_load_stops_within_two_seconds");
}

/// Runs the appliance with `args` to its end (it must fail) and returns its stderr,
/// checking that it left nothing in `/var/run/dpdk`.
fn refused(args: &[&str]) -> String {
    let mut vr = Vrouter::spawn(args);
    let done = vr.proc().wait_exit(Duration::from_secs(30));
    assert!(!done.status.success(), "refused: {}", done.output());
    let runtime = format!("/var/run/dpdk/{}", vr.prefix);
    assert!(
        !Path::new(&runtime).exists(),
        "{runtime} is left behind by {args:?}\n{}",
        done.output()
    );
    done.stderr
}

#[test]
fn startup_refusals_name_the_problem_and_leave_nothing() {
    let _serial = serial();
    require_prereqs();
    let dir = TempDir::new("lrefuse");

    let empty = dir.path("empty.toml");
    std::fs::write(&empty, "# nothing here yet\n\n# [[uplink]]\n").unwrap();
    assert_eq!(
        refused(&["--config", &empty]),
        format!(
            "vrouter: {empty}: no devices: no [[uplink]] and no locally bound [[port]] (an \
             empty or comment-only file?); nothing to forward, refusing to start\n"
        )
    );

    let text = std::fs::read_to_string(TENANT_A).unwrap();
    let huge = dir.path("huge.toml");
    let line = "[conntrack]\ncapacity = 262144\n";
    assert!(text.contains(line));
    std::fs::write(
        &huge,
        text.replace(line, "[conntrack]\ncapacity = 1099511627776\n"),
    )
    .unwrap();
    assert_eq!(
        refused(&["--config", &huge]),
        format!(
            "vrouter: {huge}: conntrack: capacity: 1099511627776 is over the maximum of \
             16777216\n"
        )
    );

    let not_socket = dir.path("ctl.sock");
    std::fs::write(&not_socket, "keep me").unwrap();
    let err = refused(&[
        "--config",
        TENANT_A,
        "--devargs",
        "eth1=net_null0,no-rx=1",
        "--devargs",
        "eth2=net_null1,no-rx=1",
        "--socket",
        &not_socket,
    ]);
    assert!(
        err.contains(&format!(
            "control socket {not_socket}: a regular file is in the way; only a stale socket is \
             replaced (remove it or choose another --socket)"
        )),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&not_socket).unwrap(), "keep me");

    let state = dir.path("state");
    std::fs::create_dir_all(&state).unwrap();
    let link = format!("{state}/state.json");
    std::os::unix::fs::symlink("/nonexistent/state.json", &link).unwrap();
    assert_eq!(
        refused(&["--config", TENANT_A, "--state-dir", &state]),
        format!(
            "vrouter: {link}: corrupt state file: a symbolic link to /nonexistent/state.json, \
             which does not exist; refusing to replace it (fix it, or start with --reset to \
             discard it)\n"
        )
    );
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
}
