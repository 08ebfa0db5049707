//! Floods against a small connection table (`[conntrack] capacity = 2048`, `zone_limit =
//! 768`): hping3 SYN floods from random sources at vm002's floating IP, at a port its group
//! denies (23) and at one it allows (22, a listener behind it), while vm001 floods new UDP
//! flows to random destinations. Meanwhile vm001's established TCP stream (iperf3 through
//! SNAT) keeps flowing and the other tenant's new connections succeed; no session is left
//! for the denied SYNs; the counters name what was refused or dropped early.
//!
//! ```text
//!   vm001 10.0.0.10 ──┐                     ┌── upstream 10.1.101.254 (hping3, iperf3 -s)
//!   vm002 10.0.0.9 ───┼── vrouter ──────────┘
//!   vm003 10.2.0.5 ───┘  (tenant-R1 SNAT 10.1.101.80, floating 10.1.101.82; tenant-R2 SNAT 10.1.101.90)
//! ```

mod common;
mod ct_rig;

use common::{require_prereqs, Netns, Proc};
use ct_rig::{counter, tool, Net, Options};
use std::time::{Duration, Instant};

/// How long the floods last.
const FLOOD_SECS: u64 = 10;

fn spawn_in(ns: &Netns, what: &str, cmd: &str) -> Proc {
    let argv: Vec<String> = ["ip", "netns", "exec", &ns.name, "sh", "-c", cmd]
        .map(String::from)
        .to_vec();
    Proc::spawn(what, &argv)
}

#[test]
fn syn_and_udp_floods_leave_established_and_other_tenants_connections_working() {
    require_prereqs();
    let net = Net::start(
        'f',
        Options {
            ssh_only: true,
            conntrack: Some((2048, 768)),
            tenant_b: true,
            bridged: false,
        },
    );
    let vm3 = &net.vm3.as_ref().expect("tenant B").ns;
    let mut ssh = Proc::spawn("listener in vm002", &tool(&net.vm2.ns, "serve-close 22"));
    ssh.wait_line("READY", Duration::from_secs(10));
    let mut web = Proc::spawn("server upstream", &tool(&net.up.ns, "serve-close 8080"));
    web.wait_line("READY", Duration::from_secs(10));
    let mut iperf_server = spawn_in(&net.up.ns, "iperf3 -s", "iperf3 -s -1 -p 5201");
    net.vm1.ns.run("ping -c 1 -W 3 10.1.101.254");
    vm3.run("ping -c 1 -W 3 10.1.101.254");
    net.up.ns.run("ping -c 1 -W 3 10.1.101.82");
    std::thread::sleep(Duration::from_millis(300)); // iperf3 -s has no ready line
    let secs = FLOOD_SECS + 6;
    let mut stream = spawn_in(
        &net.vm1.ns,
        "iperf3 -c",
        &format!("iperf3 -c 10.1.101.254 -p 5201 -t {secs} -b 20M -i 1 -J"),
    );
    // The stream is established before the floods start.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !net
        .sessions()
        .iter()
        .any(|s| s.1.ends_with("10.1.101.254:5201"))
    {
        assert!(Instant::now() < deadline, "the iperf3 stream did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));

    let up = &net.up.ns.name;
    let flood = |port: u16| {
        let cmd = format!(
            "ip netns exec {up} timeout {FLOOD_SECS} hping3 -q -S --rand-source -p {port} \
             -i u100 10.1.101.82 2>&1; true"
        );
        Proc::spawn(
            &format!("hping3 -S -p {port}"),
            &["sh".into(), "-c".into(), cmd],
        )
    };
    let mut denied = flood(23);
    let mut allowed = flood(22);
    let mut udp = spawn_in(
        &net.vm1.ns,
        "hping3 --udp --rand-dest",
        &format!(
            "timeout {FLOOD_SECS} hping3 -q --udp --rand-dest -I {} -p 53 -i u100 10.9.x.x \
             2>&1; true",
            net.vm1.tap
        ),
    );
    let flood_start = Instant::now();

    // While the floods run: the table fills, and tenant B opens new connections.
    let deadline = flood_start + Duration::from_secs(FLOOD_SECS - 2);
    let mut full_seen = false;
    while Instant::now() < deadline && !full_seen {
        let st = net.stats();
        full_seen = counter(&st, "conntrack", "early_dropped") > 0;
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        full_seen,
        "the floods did not fill the table: {}",
        net.stats()
    );
    let mut opened = 0;
    for _ in 0..5 {
        let out = vm3.try_run("nc -z -w 2 10.1.101.254 8080");
        opened += usize::from(out.status.success());
    }
    let during = net.sessions();
    let stats = net.stats();
    println!("during the floods: {}", stats["conntrack"]);
    assert_eq!(
        opened, 5,
        "every new connection of tenant B during the floods succeeds"
    );
    let denied_sessions: Vec<_> = during
        .iter()
        .filter(|s| s.1.ends_with("10.1.101.82:23") || s.1.ends_with("10.0.0.9:23"))
        .collect();
    assert!(
        denied_sessions.is_empty(),
        "no session for a denied SYN: {denied_sessions:?}"
    );
    assert!(
        counter(&stats, "conntrack", "live") <= 2048,
        "{}",
        stats["conntrack"]
    );

    for p in [&mut denied, &mut allowed, &mut udp] {
        p.wait_exit(Duration::from_secs(FLOOD_SECS + 10));
    }
    let report = stream.wait_exit(Duration::from_secs(secs + 15));
    let _ = iperf_server.wait_exit(Duration::from_secs(5));
    let v: serde_json::Value = serde_json::from_str(&report.stdout)
        .unwrap_or_else(|e| panic!("iperf3 JSON: {e}\n{}", report.output()));
    let per_second: Vec<u64> = v["intervals"]
        .as_array()
        .expect("iperf3 intervals")
        .iter()
        .map(|i| i["sum"]["bytes"].as_u64().unwrap_or(0))
        .collect();
    println!("established stream, bytes per second: {per_second:?}");
    assert!(per_second.len() as u64 >= secs - 1, "{per_second:?}");
    assert!(
        per_second.iter().all(|&b| b > 500_000),
        "the established stream kept flowing every second of the floods: {per_second:?}"
    );

    let stats = net.stats();
    println!(
        "after the floods: {}\ndrops: {}",
        stats["conntrack"], stats["drops"]
    );
    assert!(
        counter(&stats, "drops", "sg_denied") > 1000,
        "{}",
        stats["drops"]
    );
    assert!(
        counter(&stats, "conntrack", "undone") >= counter(&stats, "drops", "sg_denied") / 2,
        "the denied SYNs' router sessions were removed: {}",
        stats["conntrack"]
    );
    assert!(
        counter(&stats, "conntrack", "early_dropped") > 1000,
        "{}",
        stats["conntrack"]
    );
    // A zone at its limit makes room from its own unanswered sessions: the flood is
    // evicted, never refused (a refusal would drop before the security group).
    assert_eq!(
        counter(&stats, "drops", "conntrack_zone_full"),
        0,
        "{}",
        stats["drops"]
    );
}
