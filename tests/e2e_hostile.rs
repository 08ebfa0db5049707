//! End-to-end test of hostile traffic with real packets (scapy, a raw socket) against the
//! appliance running the reference topology: martians and IP options from upstream and
//! from a VM, IPv6 and a router advertisement from a filtered VM port, a GRE peer taking
//! over a local port's MAC and claiming addresses by ARP, and an ARP flood on Ext-Net.
//! Each class is dropped and counted under its reason in `vrouterctl stats`, and nothing
//! of it leaves on the other side (tcpdump there); what is legitimate keeps working.
//!
//! ```text
//!   vm2 (vm002 10.0.0.9, floating 10.1.101.82, default group) ──tap──┐
//!                                                                    ├─ vrouter ─tap(eth2)─ up (10.1.101.254)
//!   c1 (compute1 10.0.1.31, vm003 10.0.0.31 behind it) ──tap(eth1)───┘
//! ```

mod common;

use common::{ctl, move_tap, port_counter, require_prereqs, stats_json, unique, Netns, Proc};
use common::{TempDir, TENANT_A};
use common::{Vrouter, PYTHON};
use std::time::{Duration, Instant};

const HOSTILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/hostile.py");
const VM002_PORT: &str = "1653ec91-ad7d-40d9-b777-f74aec697026";
const VM002_DEV: &str = "tap1653ec91-ad";
const VM002_MAC: &str = "fa:16:3e:51:a2:97";
const FIP_ID: &str = "00000000-0000-4000-8000-0a0165000052";
const QR_MAC: &str = "fa:16:3e:f7:e6:9c";
const QG_MAC: &str = "fa:16:3e:78:39:e9";
const UP_MAC: &str = "52:54:00:01:01:fe";
const C1_MAC: &str = "52:54:00:00:01:31";

/// The reference topology with 10.1.101.82 on vm002, vm003 bound behind compute1, and
/// Ext-Net a /16: more on-link senders than the router's neighbour table holds.
fn config(dir: &TempDir) -> String {
    let text = std::fs::read_to_string(TENANT_A).expect("read configs/tenant-a.toml");
    let cidr = "cidr = \"10.1.101.0/24\"";
    assert_eq!(
        text.matches(cidr).count(),
        1,
        "tenant-a.toml has Ext-Net's subnet"
    );
    let text = text.replace(cidr, "cidr = \"10.1.0.0/16\"");
    let fip_line = format!("\nid = \"{FIP_ID}\"\n");
    assert!(
        text.contains(&fip_line),
        "tenant-a.toml has floating IP {FIP_ID}"
    );
    let mut text = text.replacen(
        &fip_line,
        &format!("{fip_line}port_id = \"{VM002_PORT}\"\n"),
        1,
    );
    text.push_str(
        r#"
[[port]]
id = "0c3e0a31-0000-4000-8000-000000000031"
name = "vm003"
network_id = "7c22bbd9-166c-4610-9a3d-3b8b92c77518"
mac_address = "fa:16:3e:00:01:31"
fixed_ips = [{ subnet_id = "c37d8ed0-372e-4b24-9ba2-897c38c6ddbf", ip_address = "10.0.0.31" }]
device_owner = "compute:nova"
device_id = "0c3e0a31-0000-4000-8000-0000000000aa"
binding = { peer = "10.0.1.31" }
"#,
    );
    let path = dir.path("hostile.toml");
    std::fs::write(&path, text).expect("write the test topology");
    path
}

/// Runs `hostile.py ARGS` in `ns`; panics with its output unless it exits 0.
fn hostile(ns: &Netns, args: &str) -> String {
    let out = ns.try_run(&format!("{PYTHON} {HOSTILE} {args}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "hostile.py {args} failed:\n{text}");
    text
}

/// tcpdump on `iface` in `ns` with `filter`, payloads in ASCII, until stopped (30 s at most).
fn tcpdump(ns: &Netns, iface: &str, filter: &str) -> Proc {
    let cmd = format!("timeout 30 tcpdump -n -l -A -i {iface} {filter} 2>&1");
    let argv: Vec<String> = ["ip", "netns", "exec", &ns.name, "sh", "-c", &cmd]
        .map(String::from)
        .to_vec();
    let mut p = Proc::spawn("tcpdump", &argv);
    p.wait_line("listening on", Duration::from_secs(10));
    p
}

/// The drop counters of `vrouterctl stats -f json`.
fn drops(vr: &Vrouter) -> serde_json::Map<String, serde_json::Value> {
    let stats = stats_json(vr);
    stats["drops"]
        .as_object()
        .unwrap_or_else(|| panic!("no drops in {stats}"))
        .clone()
}

/// How much each of `reasons` grew between `before` and `after`.
fn grew(
    before: &serde_json::Map<String, serde_json::Value>,
    after: &serde_json::Map<String, serde_json::Value>,
    reason: &str,
) -> u64 {
    let n = |m: &serde_json::Map<String, serde_json::Value>| {
        m.get(reason)
            .and_then(|v| v.as_u64())
            .unwrap_or_else(|| panic!("no drop counter {reason} in {m:?}"))
    };
    n(after) - n(before)
}

/// Asserts that every reason of `want` grew by at least its count.
fn assert_counted(
    before: &serde_json::Map<String, serde_json::Value>,
    after: &serde_json::Map<String, serde_json::Value>,
    want: &[(&str, u64)],
    what: &str,
) {
    for &(reason, n) in want {
        let got = grew(before, after, reason);
        assert!(
            got >= n,
            "{what}: {reason} should count {n}, counted {got}\nbefore {before:?}\nafter {after:?}"
        );
        println!("{what}: {reason} +{got}");
    }
}

#[test]
fn hostile_traffic_is_dropped_counted_and_goes_nowhere() {
    require_prereqs();
    let started = Instant::now();
    let vm2 = Netns::new(&unique("hv2"));
    let up = Netns::new(&unique("hup"));
    let c1 = Netns::new(&unique("hc1"));
    let (t_vm2, t_up, t_c1) = (unique("thv"), unique("thu"), unique("thc"));
    let work = TempDir::new("hostile");
    let cfg = config(&work);
    let dev = |name: &str, n: u8, iface: &str| format!("{name}=net_tap{n},iface={iface}");
    let args = [
        dev("eth1", 0, &t_c1),
        dev("eth2", 1, &t_up),
        dev(VM002_DEV, 2, &t_vm2),
    ];
    let mut argv = vec!["--config", &cfg];
    for a in &args {
        argv.extend(["--devargs", a]);
    }
    let vr = Vrouter::start(&argv);
    move_tap(&t_vm2, &vm2, VM002_MAC, Some("10.0.0.9/24"));
    move_tap(&t_up, &up, UP_MAC, Some("10.1.101.254/16"));
    move_tap(&t_c1, &c1, C1_MAC, Some("10.0.1.31/24"));
    vm2.run("ip route add default via 10.0.0.1");
    vm2.run("ping -c 1 -W 3 10.1.101.254");
    up.run("ping -c 1 -W 3 10.1.101.82");

    // (1) Martians and source routes from upstream: none reaches vm002.
    let before = drops(&vr);
    let mut at_vm = tcpdump(&vm2, &t_vm2, "udp port 7777");
    hostile(
        &up,
        &format!("martians-up --iface {t_up} --mac {UP_MAC} --router-mac {QG_MAC}"),
    );
    at_vm.wait_line("legit-up", Duration::from_secs(10));
    let seen = at_vm.terminate(Duration::from_secs(5)).stdout;
    assert!(
        !seen.contains("martian-"),
        "(1) no martian may reach vm002:\n{seen}"
    );
    let after = drops(&vr);
    assert_counted(
        &before,
        &after,
        &[
            ("martian_source", 6),
            ("own_address_source", 1),
            ("rp_filter", 1),
            ("martian_destination", 2),
            ("broadcast_not_forwarded", 2),
            ("source_route", 2),
        ],
        "(1) from upstream",
    );
    // A malformed option: parameter problem, pointer at the bad length.
    let before = drops(&vr);
    hostile(
        &up,
        &format!("bad-option --iface {t_up} --mac {UP_MAC} --router-mac {QG_MAC}"),
    );
    assert_counted(
        &before,
        &drops(&vr),
        &[("ip_options_malformed", 1)],
        "(1) bad option",
    );

    // (2) Martian destinations and a source route from the VM: nothing leaves upstream.
    let before = drops(&vr);
    let mut at_up = tcpdump(&up, &t_up, "udp port 7777");
    hostile(
        &vm2,
        &format!("martians-vm --iface {t_vm2} --mac {VM002_MAC} --router-mac {QR_MAC}"),
    );
    at_up.wait_line("legit-vm", Duration::from_secs(10));
    let seen = at_up.terminate(Duration::from_secs(5)).stdout;
    assert!(
        !seen.contains("martian-"),
        "(2) nothing of it may leave upstream:\n{seen}"
    );
    assert_counted(
        &before,
        &drops(&vr),
        &[
            ("martian_destination", 3),
            ("broadcast_not_forwarded", 3),
            ("source_route", 1),
        ],
        "(2) from the VM",
    );

    // (3) IPv6, an RA and a DHCPv6 reply from the filtered port: not flooded to compute1
    // (its GRE copies), while the ARP broadcast sent after them is.
    let before = drops(&vr);
    let gre_inner = "'ip proto 47 and (ip[40:2] = 0x86dd or ip[40:2] = 0x0806)'";
    let mut at_c1 = tcpdump(&c1, &t_c1, gre_inner);
    hostile(&vm2, &format!("ipv6-vm --iface {t_vm2} --mac {VM002_MAC}"));
    at_c1.wait_line("10.0.0.77", Duration::from_secs(10));
    let seen = at_c1.terminate(Duration::from_secs(5)).stdout;
    assert!(
        !seen.contains("IP6") && !seen.contains("martian-ipv6"),
        "(3) no IPv6 from vm002 may reach compute1:\n{seen}"
    );
    assert_counted(
        &before,
        &drops(&vr),
        &[
            ("ipv6_unsupported", 1),
            ("rogue_ra", 1),
            ("rogue_dhcpv6", 1),
        ],
        "(3) IPv6 from the VM",
    );

    // (4) compute1 sends a frame from vm002's MAC and ARPs claiming 10.0.0.9, the router's
    // 10.0.0.1 and the appliance's tunnel endpoint: all dropped, vm002's entry stays on its
    // port, and its floating IP still reaches it.
    let before = drops(&vr);
    let mut at_vm = tcpdump(&vm2, &t_vm2, "udp port 7777");
    hostile(
        &c1,
        &format!(
            "tunnel-spoof --iface {t_c1} --mac {C1_MAC} --peer-ip 10.0.1.31 --local-ip 10.0.1.21"
        ),
    );
    let after = drops(&vr);
    assert_counted(
        &before,
        &after,
        &[("mac_static_conflict", 1), ("arp_spoofed", 3)],
        "(4) from the tunnel",
    );
    let flows = ctl(&vr.socket(), &["dump-flows"]);
    let vm002 = flows
        .lines()
        .find(|l| l.contains(VM002_MAC))
        .unwrap_or_else(|| panic!("(4) vm002's MAC in dump-flows:\n{flows}"));
    assert!(
        vm002.contains(&format!("output:{VM002_DEV}")),
        "(4) vm002's MAC stays on its port: {vm002}"
    );
    let ping = up.try_run("ping -c 3 -i 0.2 -W 2 10.1.101.82");
    assert!(
        ping.status.success(),
        "(4) vm002's floating IP still answers:\n{}",
        String::from_utf8_lossy(&ping.stdout)
    );
    let seen = at_vm.terminate(Duration::from_secs(5)).stdout;
    assert!(
        !seen.contains("martian-"),
        "(4) the spoofed frame reached vm002:\n{seen}"
    );

    // (5) 20,000 ARP requests for the gateway address from random senders, 15,000 of them
    // on Ext-Net: more than the router's neighbour table (4096) holds. Then a host new to
    // the router is reached at once.
    let rx = |vr: &Vrouter| port_counter(&stats_json(vr), "eth2", "rx_packets");
    let rx_before = rx(&vr);
    let flood_start = Instant::now();
    hostile(
        &up,
        &format!("arp-flood --iface {t_up} --target 10.1.101.80 --count 20000"),
    );
    println!(
        "(5) ARP flood sent in {:?}, {} frames received on eth2",
        flood_start.elapsed(),
        rx(&vr) - rx_before
    );
    up.run(&format!("ip addr add 10.1.101.200/16 dev {t_up}"));
    let t = Instant::now();
    let ping = vm2.try_run("ping -c 1 -W 2 10.1.101.200");
    let took = t.elapsed();
    assert!(
        ping.status.success() && took < Duration::from_secs(2),
        "(5) a new upstream host must answer at once after the flood ({took:?}):\n{}",
        String::from_utf8_lossy(&ping.stdout)
    );
    println!("(5) new upstream host reached in {took:?}");
    let stats = stats_json(&vr);
    let evicted = stats["router_neighbours"]["evicted"].as_u64();
    assert!(
        evicted.is_some_and(|n| n > 0),
        "(5) the full table evicted entries for new ones, and counted it: {stats}"
    );
    println!(
        "(5) router neighbours evicted {}, static entries kept against ARP {}",
        evicted.unwrap_or(0),
        stats["router_neighbours"]["static_kept"]
    );

    drop(vr);
    println!("took {:?}", started.elapsed());
}
