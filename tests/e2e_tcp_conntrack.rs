//! TCP through connection tracking as Linux does it, with real clients: a connection to a
//! closed port is refused at once both ways (SNAT out, floating IP in) and `nmap -sS` sees
//! closed ports as closed; thousands of short connections to a server that closes first,
//! source ports reused as the kernel reuses them, all succeed, also a port reused 2 s
//! apart and right after an RST.
//!
//! ```text
//!   vm001 10.0.0.10 (SNAT 10.1.101.80) ──tap──┐
//!   vm002 10.0.0.9 (floating 10.1.101.82) ─tap─┼─ vrouter ─tap(eth2)─ upstream 10.1.101.254
//! ```

mod common;
mod ct_rig;

use common::{require_prereqs, Netns, Proc};
use ct_rig::{counter, tool, Net, Options};
use std::time::{Duration, Instant};

/// Runs `nc -vz -w 3 HOST PORT` in `ns`: (exit success, its messages, how long it took).
fn nc_z(ns: &Netns, host: &str, port: u16) -> (bool, String, Duration) {
    let start = Instant::now();
    let out = ns.try_run(&format!("nc -vz -w 3 {host} {port}"));
    let took = start.elapsed();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text, took)
}

/// Asserts that a connection to `host:port` from `ns` is refused within a second.
fn assert_refused_at_once(ns: &Netns, host: &str, port: u16) {
    let (ok, text, took) = nc_z(ns, host, port);
    assert!(!ok, "nothing listens on {host}:{port}: {text}");
    assert!(
        text.contains("Connection refused"),
        "the RST must reach the client ({host}:{port}): {text}"
    );
    assert!(
        took < Duration::from_secs(1),
        "refused at once, not after the 3 s timeout: {took:?} ({host}:{port})"
    );
}

/// The state nmap -sS reports for each of `ports` on `host`, scanning from `ns`.
fn syn_scan(ns: &Netns, host: &str, ports: &[u16]) -> Vec<(u16, String)> {
    let list: Vec<String> = ports.iter().map(u16::to_string).collect();
    let out = ns.run(&format!(
        "nmap -sS -n -Pn --max-retries 1 --host-timeout 20s -p {} {host}",
        list.join(",")
    ));
    ports
        .iter()
        .map(|p| {
            let line = out
                .lines()
                .find(|l| l.starts_with(&format!("{p}/tcp ")))
                .unwrap_or_else(|| panic!("nmap reports no state of port {p}:\n{out}"));
            (*p, line.split_whitespace().nth(1).unwrap_or("").to_owned())
        })
        .collect()
}

#[test]
fn refused_connections_return_at_once_and_a_syn_scan_sees_closed_ports() {
    require_prereqs();
    let net = Net::start('r', Options::default());
    let mut up_server = Proc::spawn("server upstream", &tool(&net.up.ns, "serve-close 8080"));
    up_server.wait_line("READY", Duration::from_secs(10));
    let mut vm_server = Proc::spawn("server in vm002", &tool(&net.vm2.ns, "serve-close 22"));
    vm_server.wait_line("READY", Duration::from_secs(10));
    net.vm1.ns.run("ping -c 1 -W 3 10.1.101.254");
    net.up.ns.run("ping -c 1 -W 3 10.1.101.82");

    // Out through SNAT, from vm001 and from vm002 (its floating IP), and in to the
    // floating IP: a closed port answers RST/ACK, the client gets "connection refused".
    assert_refused_at_once(&net.vm1.ns, "10.1.101.254", 9);
    assert_refused_at_once(&net.vm2.ns, "10.1.101.254", 9);
    assert_refused_at_once(&net.up.ns, "10.1.101.82", 9);
    // Again at once on the same ports: nothing of the refused attempt is left in the way.
    assert_refused_at_once(&net.up.ns, "10.1.101.82", 9);
    let (ok, text, _) = nc_z(&net.up.ns, "10.1.101.82", 22);
    assert!(ok, "the open port is open: {text}");

    let inward = syn_scan(&net.up.ns, "10.1.101.82", &[22, 23, 24]);
    assert_eq!(
        inward,
        [(22, "open"), (23, "closed"), (24, "closed")].map(|(p, s)| (p, s.to_owned())),
        "a SYN scan of the floating IP"
    );
    let outward = syn_scan(&net.vm1.ns, "10.1.101.254", &[8080, 8081]);
    assert_eq!(
        outward,
        [(8080, "open"), (8081, "closed")].map(|(p, s)| (p, s.to_owned())),
        "a SYN scan through SNAT"
    );
    let stats = net.stats();
    assert_eq!(
        counter(&stats, "drops", "sg_invalid"),
        0,
        "no RST was found INVALID"
    );
}

#[test]
fn thousands_of_short_connections_reusing_source_ports_all_succeed() {
    require_prereqs();
    let net = Net::start('c', Options::default());
    let mut up_server = Proc::spawn("server upstream", &tool(&net.up.ns, "serve-close 8080"));
    up_server.wait_line("READY", Duration::from_secs(10));
    let mut vm_server = Proc::spawn("server in vm002", &tool(&net.vm2.ns, "serve-close 5000"));
    vm_server.wait_line("READY", Duration::from_secs(10));
    net.vm1.ns.run("ping -c 1 -W 3 10.1.101.254");
    net.up.ns.run("ping -c 1 -W 3 10.1.101.82");

    // vm001 → upstream through SNAT: 3000 connections over 100 source ports; the server
    // closes first, so each port's previous connection is in TIME_WAIT when it comes back.
    let mut out = Proc::spawn(
        "churn from vm001",
        &tool(&net.vm1.ns, "churn 10.1.101.254 8080 3000 40000 40099"),
    );
    let done = out.wait_exit(Duration::from_secs(45));
    let text = done.output();
    println!("vm001 → upstream: {}", done.stdout);
    assert!(
        text.contains("CHURN 3000/3000"),
        "every connection out: {text}"
    );
    assert!(text.contains("REUSE_2S ok"), "{text}");
    assert!(text.contains("REUSE_RST ok"), "{text}");
    // upstream → vm002's floating IP: 1000 over 20 source ports.
    let mut inward = Proc::spawn(
        "churn from upstream",
        &tool(&net.up.ns, "churn 10.1.101.82 5000 1000 41000 41019"),
    );
    let done = inward.wait_exit(Duration::from_secs(30));
    let text = done.output();
    println!("upstream → floating IP: {}", done.stdout);
    assert!(
        text.contains("CHURN 1000/1000"),
        "every connection in: {text}"
    );
    assert!(
        text.contains("REUSE_2S ok") && text.contains("REUSE_RST ok"),
        "{text}"
    );

    let stats = net.stats();
    assert_eq!(counter(&stats, "drops", "sg_invalid"), 0);
    println!("conntrack: {}", stats["conntrack"]);
    assert!(
        counter(&stats, "conntrack", "reopened") >= 3000,
        "closed tuples were reopened by SYNs: {}",
        stats["conntrack"]
    );
}

/// Bytes each transfer of the restart test carries (about 5 s at the tool's pace).
const TRANSFER: u64 = 4_000_000;

/// Waits for `p` to print its RECEIVED line; returns (bytes, sha256).
fn received(p: &mut Proc, what: &str) -> (u64, String) {
    let done = p.wait_exit(Duration::from_secs(50));
    let line = done
        .stdout
        .lines()
        .find(|l| l.starts_with("RECEIVED "))
        .unwrap_or_else(|| panic!("{what}: no RECEIVED line\n{}", done.output()))
        .to_owned();
    let mut f = line.split_whitespace().skip(1);
    let bytes = f.next().and_then(|n| n.parse().ok()).expect("byte count");
    (bytes, f.next().unwrap_or("").to_owned())
}

#[test]
fn transfers_through_the_floating_ip_and_snat_survive_a_restart() {
    require_prereqs();
    let mut net = Net::start(
        's',
        Options {
            bridged: true,
            ..Options::default()
        },
    );
    net.vm1.ns.run("ping -c 1 -W 3 10.1.101.254");
    net.up.ns.run("ping -c 1 -W 3 10.1.101.82");
    let n = TRANSFER;
    // upstream → floating IP (vm002 serves and sends), vm002 → upstream, vm001 → upstream
    // through SNAT: the VMs send, so their packets meet the restarted appliance first.
    let mut in_server = Proc::spawn(
        "vm002 serve-send",
        &tool(&net.vm2.ns, &format!("serve-send 5001 {n}")),
    );
    in_server.wait_line("READY", Duration::from_secs(10));
    let mut in_client = Proc::spawn(
        "upstream fetch",
        &tool(&net.up.ns, "fetch 10.1.101.82 5001"),
    );
    let mut out_fip = Proc::spawn("upstream recv 5002", &tool(&net.up.ns, "recv 5002"));
    out_fip.wait_line("READY", Duration::from_secs(10));
    let mut out_snat = Proc::spawn("upstream recv 5003", &tool(&net.up.ns, "recv 5003"));
    out_snat.wait_line("READY", Duration::from_secs(10));
    let mut fip_sender = Proc::spawn(
        "vm002 send",
        &tool(&net.vm2.ns, &format!("send 10.1.101.254 5002 {n}")),
    );
    let mut snat_sender = Proc::spawn(
        "vm001 send",
        &tool(&net.vm1.ns, &format!("send 10.1.101.254 5003 {n}")),
    );
    for p in [&mut in_client, &mut fip_sender, &mut snat_sender] {
        p.wait_line("CONNECTED", Duration::from_secs(10));
    }
    // Mid-stream: a quarter of the data has left the appliance towards upstream.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let sent = common::port_counter(&net.stats(), "eth2", "tx_bytes");
        if sent > 2 * n / 4 {
            break;
        }
        assert!(Instant::now() < deadline, "the transfers did not get going");
        std::thread::sleep(Duration::from_millis(100));
    }
    let down = net.restart();
    println!("appliance down and up again in {down:?}");

    let want = net
        .up
        .ns
        .run(&format!("python3 {} digest {n}", ct_rig::TCP_TOOL));
    let want = want.trim().to_owned();
    for (p, what) in [
        (&mut in_client, "upstream ← floating IP"),
        (&mut out_fip, "vm002 → upstream"),
        (&mut out_snat, "vm001 → upstream (SNAT)"),
    ] {
        let (bytes, sha) = received(p, what);
        assert_eq!(
            (bytes, sha.as_str()),
            (n, want.as_str()),
            "{what}: every byte, intact"
        );
    }
    let stats = net.stats();
    println!("conntrack after the restart: {}", stats["conntrack"]);
    assert!(
        counter(&stats, "conntrack", "picked_up") >= 3,
        "the sessions were picked up mid-stream: {}",
        stats["conntrack"]
    );
    assert_eq!(counter(&stats, "drops", "sg_invalid"), 0);
}
