//! End-to-end test of the first slice: the real appliance switches tenantA-Net between two
//! local VMs and the GRE tunnels to two compute nodes.
//!
//! ```text
//!   vmA (vm001, 10.0.0.10) ──tap──┐                      ┌── veth ── c1 (compute1, 10.0.1.31)
//!                                 ├─ vrouter ─tap(eth1)─ br0 (underlay ns)
//!   vmB (vm002, 10.0.0.9)  ──tap──┘                      └── veth ── c2 (compute2, 10.0.1.41)
//! ```
//! c1 and c2 are kernel hosts on the underlay (they answer ARP) with the scapy tool
//! `tests/e2e/gre_peer.py` playing their tunnel endpoints.

mod common;

use common::{gre_peer, move_tap, require_prereqs, unique, Finished, Netns, Vrouter};
use std::time::Duration;

const VM001_PORT: &str = "tapd7233b80-9d";
const VM002_PORT: &str = "tap1653ec91-ad";
const VM001_MAC: &str = "fa:16:3e:75:e0:5a";
const VM002_MAC: &str = "fa:16:3e:51:a2:97";
const LOCAL_MAC: &str = "52:54:00:00:01:21";
/// A VM behind compute1, known only through the tunnel.
const REMOTE_VM_MAC: &str = "fa:16:3e:00:01:31";
const REMOTE_VM_IP: &str = "10.0.0.31";

/// One ICMP counter of the namespace's kernel (`/proc/net/snmp`, `Icmp:` row).
fn icmp_counter(ns: &Netns, name: &str) -> u64 {
    let snmp = ns.run("cat /proc/net/snmp");
    let mut rows = snmp.lines().filter(|l| l.starts_with("Icmp:"));
    let (names, values) = (rows.next().unwrap(), rows.next().unwrap());
    let i = names.split_whitespace().position(|n| n == name).unwrap();
    values.split_whitespace().nth(i).unwrap().parse().unwrap()
}

fn assert_ok(done: &Finished, what: &str) {
    assert!(done.status.success(), "{what}\n{}", done.output());
}

#[test]
fn l2_switching_and_gre_tunnels() {
    require_prereqs();

    // Namespaces first: they are dropped last, after the appliance has stopped.
    let vm_a = Netns::new(&unique("vmA"));
    let vm_b = Netns::new(&unique("vmB"));
    let underlay = Netns::new(&unique("ul"));
    let c1 = Netns::new(&unique("c1"));
    let c2 = Netns::new(&unique("c2"));

    // The underlay: a bridge with one veth to each compute node.
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

    // The appliance: eth1 and both VM ports on taps, eth2 not needed.
    let (tap_e1, tap_a, tap_b) = (unique("e1"), unique("a"), unique("b"));
    let vr = Vrouter::start(&[
        "--devargs",
        &format!("eth1=net_tap0,iface={tap_e1}"),
        "--devargs",
        &format!("{VM001_PORT}=net_tap1,iface={tap_a}"),
        "--devargs",
        &format!("{VM002_PORT}=net_tap2,iface={tap_b}"),
        "--devargs",
        "eth2=net_null0,no-rx=1",
    ]);
    move_tap(&tap_e1, &underlay, "52:54:00:00:01:fe", None);
    underlay.run(&format!("ip link set {tap_e1} master br0"));
    move_tap(&tap_a, &vm_a, VM001_MAC, Some("10.0.0.10/24"));
    move_tap(&tap_b, &vm_b, VM002_MAC, Some("10.0.0.9/24"));

    // (a) vmA pings vmB through the appliance.
    let ping = vm_a.try_run("ping -c 3 -i 0.2 -W 2 10.0.0.9");
    let text = String::from_utf8_lossy(&ping.stdout);
    assert!(
        ping.status.success() && text.contains(" 0% packet loss"),
        "(a) vm001 (10.0.0.10) should ping vm002 (10.0.0.9) through the appliance, \
         3 packets, 0% loss; got {}:\n{text}{}",
        ping.status,
        String::from_utf8_lossy(&ping.stderr)
    );
    println!("(a) ok: {}", text.lines().rev().nth(1).unwrap_or(""));

    // (b) A broadcast from vmA reaches both compute nodes, GRE key 2, from 10.0.1.21.
    let flood = |c: &Netns, peer_ip: &str| {
        gre_peer(
            c,
            &format!(
                "sniff --iface eth0 --key 2 --outer-src 10.0.1.21 --outer-dst {peer_ip} \
                 --outer-mac {LOCAL_MAC} --inner-src {VM001_MAC} --broadcast --timeout 15"
            ),
            true,
        )
    };
    let mut at_c1 = flood(&c1, "10.0.1.31");
    let mut at_c2 = flood(&c2, "10.0.1.41");
    // An ARP request for an address nobody has: a broadcast from vm001's MAC.
    vm_a.try_run(&format!("busybox arping -c 2 -w 2 -I {tap_a} 10.0.0.77"));
    for (sniffer, peer) in [(&mut at_c1, "compute1"), (&mut at_c2, "compute2")] {
        let done = sniffer.wait_exit(Duration::from_secs(20));
        print!("{peer}: {}", done.stdout);
        assert_ok(
            &done,
            &format!(
                "(b) a broadcast from vm001 ({VM001_MAC}) should reach {peer} encapsulated: \
                 outer {LOCAL_MAC} 10.0.1.21 -> the peer, DF, TTL 64, GRE key 0x2, \
                 protocol 0x6558, inner destination ff:ff:ff:ff:ff:ff"
            ),
        );
    }
    println!("(b) ok: the broadcast reached compute1 and compute2 with key 0x2");

    // (c) compute1 sends an echo request from a VM behind it to vmA, which answers;
    // (d) the reply goes back in GRE key 2 to 10.0.1.31 only, not to compute2.
    vm_a.run(&format!(
        "ip neigh replace {REMOTE_VM_IP} lladdr {REMOTE_VM_MAC} dev {tap_a} nud permanent"
    ));
    let mut at_c2 = gre_peer(
        &c2,
        &format!(
            "sniff --iface eth0 --key 2 --inner-dst {REMOTE_VM_MAC} --expect-none --timeout 8"
        ),
        true,
    );
    let (echos, replies) = (
        icmp_counter(&vm_a, "InEchos"),
        icmp_counter(&vm_a, "OutEchoReps"),
    );
    let mut from_c1 = gre_peer(
        &c1,
        &format!(
            "ping --iface eth0 --src 10.0.1.31 --dst 10.0.1.21 --key 2 \
             --inner-src {REMOTE_VM_MAC} --inner-dst {VM001_MAC} \
             --inner-ip-src {REMOTE_VM_IP} --inner-ip-dst 10.0.0.10 --timeout 5"
        ),
        false,
    );
    let done = from_c1.wait_exit(Duration::from_secs(30));
    print!("compute1: {}", done.stdout);
    let (echos, replies) = (
        icmp_counter(&vm_a, "InEchos") - echos,
        icmp_counter(&vm_a, "OutEchoReps") - replies,
    );
    assert!(
        done.stdout.contains(&format!("is-at {LOCAL_MAC}")),
        "the appliance should answer compute1's ARP for 10.0.1.21 with {LOCAL_MAC}\n{}",
        done.output()
    );
    assert!(
        echos >= 1 && replies >= 1,
        "(c) the echo request compute1 sent in GRE key 2 ({REMOTE_VM_IP} -> 10.0.0.10) \
         should reach vm001's kernel, which answers; vm001 received {echos} echo \
         requests and sent {replies} replies\n{}",
        done.output()
    );
    println!("(c) ok: vm001 received the echo request from behind compute1 and answered");
    assert_ok(
        &done,
        &format!(
            "(d) vm001's echo reply should come back to compute1 as GRE key 2 unicast: \
             outer {LOCAL_MAC} 10.0.1.21 -> 10.0.1.31, inner {VM001_MAC} -> {REMOTE_VM_MAC}"
        ),
    );
    let done = at_c2.wait_exit(Duration::from_secs(20));
    print!("compute2: {}", done.stdout);
    assert_ok(
        &done,
        &format!(
            "(d) the reply to {REMOTE_VM_MAC} (learned behind compute1) must be tunnelled \
             to 10.0.1.31 only; compute2 must not see it"
        ),
    );
    println!("(d) ok: the reply went to compute1 only");

    // SIGTERM: the appliance stops cleanly and prints its counters and MAC table.
    let done = vr.stop();
    assert!(
        done.status.success(),
        "the appliance should exit 0 on SIGTERM\n{}",
        done.output()
    );
    println!("appliance output:\n{}", done.stdout);
    for (mac, port) in [
        (VM001_MAC, VM001_PORT),
        (VM002_MAC, VM002_PORT),
        (REMOTE_VM_MAC, "gre-0a00011f"),
    ] {
        assert!(
            done.stdout
                .lines()
                .any(|l| l.to_lowercase().contains(mac) && l.contains(port)),
            "the final MAC table should map {mac} to {port}\n{}",
            done.output()
        );
    }
}
