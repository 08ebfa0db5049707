//! End-to-end test of fragments through the router, with real kernel stacks fragmenting at
//! the networks' MTUs (tenantA-Net 1458, Ext-Net 1500): 4000-byte UDP datagrams echoed and
//! `ping -s 9000` through SNAT and through a floating IP both ways and to the router's own
//! addresses, and orphan fragments (scapy) dropped at vm002's security group.
//!
//! ```text
//!   vm1 (vm001 10.0.0.10, no floating IP, SNAT)                ──tap──┐
//!   vm2 (vm002 10.0.0.9, floating 10.1.101.82, group "frag")   ──tap──┼─ vrouter ─tap(eth2)─ up (10.1.101.254)
//! ```

mod common;

use common::{
    move_tap, require_prereqs, stats_json, unique, Netns, Proc, TempDir, Vrouter, PYTHON, TENANT_A,
};
use std::time::{Duration, Instant};

const VM002_PORT: &str = "1653ec91-ad7d-40d9-b777-f74aec697026";
const FIP_ID: &str = "00000000-0000-4000-8000-0a0165000052";
const DEFAULT_GROUP: &str = "8bd8fb6b-7141-4900-8321-390cc1a5d999";
const FRAG_GROUP: &str = "5ec0cccc-0000-4000-8000-000000000001";

/// The reference topology with the floating IP on vm002, and vm002 in a group that lets
/// in ICMP and UDP 7 (echo) only; egress open.
fn config(dir: &TempDir) -> String {
    let text = std::fs::read_to_string(TENANT_A).expect("read configs/tenant-a.toml");
    let fip_line = format!("\nid = \"{FIP_ID}\"\n");
    let mut text = text.replacen(
        &fip_line,
        &format!("{fip_line}port_id = \"{VM002_PORT}\"\n"),
        1,
    );
    let at = text
        .find(&format!("id = \"{VM002_PORT}\""))
        .expect("vm002's port");
    let groups = format!("security_groups = [\"{DEFAULT_GROUP}\"]");
    let rel = text[at..].find(&groups).expect("vm002's groups");
    text.replace_range(
        at + rel..at + rel + groups.len(),
        &format!("security_groups = [\"{FRAG_GROUP}\"]"),
    );
    text.push_str(&format!(
        r#"
[[security_group]]
id = "{FRAG_GROUP}"
name = "frag"
[[security_group.rules]]
id = "5ec0cccc-0000-4000-8000-0000000000e1"
direction = "ingress"
protocol = "icmp"
[[security_group.rules]]
id = "5ec0cccc-0000-4000-8000-0000000000e2"
direction = "ingress"
protocol = "udp"
port_range_min = 7
port_range_max = 7
[[security_group.rules]]
id = "5ec0cccc-0000-4000-8000-0000000000e3"
direction = "egress"
"#
    ));
    let path = dir.path("fragments.toml");
    std::fs::write(&path, text).expect("write the test topology");
    path
}

/// A UDP echo server on port 7 in `ns` (a kernel socket: datagrams reassembled by the
/// namespace's stack, answers fragmented by it).
fn udp_echo_server(ns: &Netns) -> Proc {
    let script = "import socket\n\
                  s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
                  s.bind(('0.0.0.0', 7))\n\
                  print('ready', flush=True)\n\
                  while True:\n    d, a = s.recvfrom(65535)\n    s.sendto(d, a)\n";
    let argv: Vec<String> = [
        "ip", "netns", "exec", &ns.name, "timeout", "60", PYTHON, "-c",
    ]
    .map(String::from)
    .into_iter()
    .chain([script.to_owned()])
    .collect();
    let mut p = Proc::spawn(&format!("udp echo server in {}", ns.name), &argv);
    p.wait_line("ready", Duration::from_secs(10));
    p
}

/// Sends three 4000-byte datagrams from `ns` to `dst` port 7 (each retried up to 3 times)
/// and asserts every one came back whole.
fn udp_echo_4000(ns: &Netns, dst: &str) {
    let script = "import socket, sys\n\
                  s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
                  s.settimeout(2)\n\
                  s.connect((sys.argv[1], 7))\n\
                  ok = 0\n\
                  for i in range(3):\n    \
                      p = bytes((i + j) % 251 for j in range(4000))\n    \
                      for _ in range(3):\n        \
                          s.send(p)\n        \
                          try:\n            d = s.recv(65535)\n        \
                          except socket.timeout:\n            continue\n        \
                          if d == p:\n            ok += 1\n            break\n\
                  print('echoed', ok)\n\
                  sys.exit(0 if ok == 3 else 1)\n";
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", &ns.name, PYTHON, "-c", script, dst])
        .output()
        .expect("run the UDP client");
    assert!(
        out.status.success(),
        "4000-byte UDP datagrams from {} to {dst}:7 must come back whole: {}{}",
        ns.name,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `ping -s 9000 -c 3` from `ns` to `dst`: all three answered.
fn ping_9000(ns: &Netns, dst: &str) {
    let out = ns.try_run(&format!("ping -s 9000 -c 3 -i 0.3 -W 3 {dst}"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("3 received"),
        "ping -s 9000 from {} to {dst} must get three replies:\n{text}{}",
        ns.name,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A drop counter of the appliance.
fn dropped(vr: &Vrouter, reason: &str) -> u64 {
    let s = stats_json(vr);
    s["drops"][reason]
        .as_u64()
        .unwrap_or_else(|| panic!("no drop counter {reason} in {s}"))
}

#[test]
fn large_datagrams_and_pings_cross_nat_and_reach_the_router_orphans_do_not() {
    require_prereqs();
    let started = Instant::now();
    let vm1 = Netns::new(&unique("fv1"));
    let vm2 = Netns::new(&unique("fv2"));
    let up = Netns::new(&unique("fup"));
    let (t_vm1, t_vm2, t_up) = (unique("tf1"), unique("tf2"), unique("tfu"));
    let work = TempDir::new(&unique("frag"));
    let cfg = config(&work);
    let args = [
        "eth1=net_null0,no-rx=1".to_string(),
        format!("eth2=net_tap1,iface={t_up}"),
        format!("tapd7233b80-9d=net_tap2,iface={t_vm1}"),
        format!("tap1653ec91-ad=net_tap3,iface={t_vm2}"),
    ];
    let mut argv = vec!["--config", &cfg];
    for a in &args {
        argv.extend(["--devargs", a]);
    }
    let vr = Vrouter::start(&argv);
    move_tap(&t_vm1, &vm1, "fa:16:3e:75:e0:5a", Some("10.0.0.10/24"));
    move_tap(&t_vm2, &vm2, "fa:16:3e:51:a2:97", Some("10.0.0.9/24"));
    move_tap(&t_up, &up, "52:54:00:01:01:fe", Some("10.1.101.254/24"));
    // The kernels fragment at the networks' MTUs.
    vm1.run(&format!("ip link set {t_vm1} mtu 1458"));
    vm2.run(&format!("ip link set {t_vm2} mtu 1458"));
    for vm in [&vm1, &vm2] {
        vm.run("ip route add default via 10.0.0.1");
    }
    let _up_echo = udp_echo_server(&up);
    let _vm2_echo = udp_echo_server(&vm2);

    // 4000-byte datagrams: through SNAT (the fragmented answer comes back to 10.1.101.80),
    // into the floating IP and out of it.
    udp_echo_4000(&vm1, "10.1.101.254");
    udp_echo_4000(&up, "10.1.101.82");
    udp_echo_4000(&vm2, "10.1.101.254");

    // 9000-byte pings: the same paths, and the router's own addresses from both sides.
    ping_9000(&vm1, "10.1.101.254");
    ping_9000(&up, "10.1.101.82");
    ping_9000(&vm2, "10.1.101.254");
    ping_9000(&vm1, "10.0.0.1");
    ping_9000(&up, "10.1.101.80");

    let stats = stats_json(&vr);
    for (group, counter) in [
        ("router", "fragments_tracked"),
        ("router", "fragments_followed"),
        ("security_groups", "fragments_passed"),
    ] {
        let n = stats[group][counter].as_u64();
        assert!(
            n.is_some_and(|n| n > 0),
            "{group}.{counter} counts the fragments that followed their first: {stats}"
        );
    }
    for reason in ["fragment_orphan", "fragment_timeout", "fragment_table_full"] {
        assert_eq!(
            stats["drops"][reason].as_u64(),
            Some(0),
            "no legitimate fragment is dropped ({reason}): {stats}"
        );
    }

    // Orphans at vm002's filtered port: a datagram to a UDP port its group denies (its
    // first fragment is refused, the later ones have no first that passed), and a lone
    // later fragment (the floating IP's 1:1 NAT translates it by address). Nothing may
    // reach vm002.
    let denied_before = dropped(&vr, "sg_denied");
    let watch = format!(
        "timeout 6 tcpdump -n -l -i {t_vm2} -c 1 'udp port 5555 or (ip[6:2] & 0x1fff != 0)' 2>&1"
    );
    let watch: Vec<String> = ["ip", "netns", "exec", &vm2.name, "sh", "-c", &watch]
        .map(String::from)
        .to_vec();
    let mut seen = Proc::spawn("tcpdump in vm002", &watch);
    seen.wait_line("listening on", Duration::from_secs(10));
    let scapy = "from scapy.all import IP, UDP, fragment, send, conf\n\
                 conf.verb = 0\n\
                 p = IP(src='10.1.101.254', dst='10.1.101.82', id=4242) / UDP(sport=4000, dport=5555) / (b'z' * 3000)\n\
                 send(fragment(p, fragsize=1480))\n\
                 send(IP(src='10.1.101.254', dst='10.1.101.82', id=4343, proto=17, frag=185) / (b'o' * 800))\n";
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", &up.name, PYTHON, "-c", scapy])
        .output()
        .expect("run scapy");
    assert!(
        out.status.success(),
        "scapy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    // 3008 bytes in 1480-byte fragments, each cut again for the 1458-byte tenant network:
    // five pieces, the first refused (sg_denied), four orphans; and the lone one.
    while dropped(&vr, "fragment_orphan") < 5 {
        assert!(
            Instant::now() < deadline,
            "the orphan fragments must be counted: {}",
            stats_json(&vr)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        dropped(&vr, "sg_denied") > denied_before,
        "the first fragment is refused by the group"
    );
    let saw = seen.wait_exit(Duration::from_secs(10)).output();
    assert!(
        saw.contains("0 packets captured"),
        "no fragment of the refused datagram, nor the lone fragment, reaches vm002:\n{saw}"
    );

    drop(vr);
    eprintln!("e2e_fragments took {:?}", started.elapsed());
}
