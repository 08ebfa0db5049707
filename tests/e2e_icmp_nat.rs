//! End-to-end test of ICMP errors about translated flows, with real kernel stacks: UDP to a
//! closed port behind a floating IP gets a port unreachable whose outer source is the
//! floating IP (tcpdump upstream), and the client's connected socket sees "connection
//! refused"; through SNAT, the upstream host's port unreachable reaches the VM with its
//! quoted header translated back, so that the VM's connected socket is refused too.
//!
//! ```text
//!   vm1 (vm001 10.0.0.10, no floating IP, SNAT)      ──tap──┐
//!   vm2 (vm002 10.0.0.9, floating 10.1.101.82)       ──tap──┼─ vrouter ─tap(eth2)─ up (10.1.101.254)
//! ```

mod common;

use common::{
    capture, move_tap, require_prereqs, unique, Netns, TempDir, Vrouter, PYTHON, TENANT_A,
};
use std::time::{Duration, Instant};

const VM002_PORT: &str = "1653ec91-ad7d-40d9-b777-f74aec697026";
const FIP_ID: &str = "00000000-0000-4000-8000-0a0165000052";

/// The reference topology with 10.1.101.82 associated to vm002.
fn config(dir: &TempDir) -> String {
    let text = std::fs::read_to_string(TENANT_A).expect("read configs/tenant-a.toml");
    let fip_line = format!("\nid = \"{FIP_ID}\"\n");
    assert!(
        text.contains(&fip_line),
        "tenant-a.toml has floating IP {FIP_ID}"
    );
    let text = text.replacen(
        &fip_line,
        &format!("{fip_line}port_id = \"{VM002_PORT}\"\n"),
        1,
    );
    let path = dir.path("icmp-nat.toml");
    std::fs::write(&path, text).expect("write the test topology");
    path
}

/// Sends one datagram from `ns` on a connected UDP socket to `dst`:`port` and returns what
/// the socket saw: `refused` (ECONNREFUSED: the kernel matched an ICMP port unreachable to
/// the socket by its quoted header), `answered`, or `silence`.
fn udp_probe(ns: &Netns, dst: &str, port: u16) -> String {
    let script = "import socket, sys\n\
                  s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
                  s.settimeout(3)\n\
                  s.connect((sys.argv[1], int(sys.argv[2])))\n\
                  s.send(b'probe')\n\
                  try:\n    s.recv(100)\n    print('answered')\n\
                  except ConnectionRefusedError:\n    print('refused')\n\
                  except socket.timeout:\n    print('silence')\n";
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", &ns.name, PYTHON, "-c", script, dst])
        .arg(port.to_string())
        .output()
        .expect("run the UDP probe");
    assert!(
        out.status.success(),
        "UDP probe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn port_unreachable_is_translated_both_ways_for_floating_ips_and_snat() {
    require_prereqs();
    let started = Instant::now();
    let vm1 = Netns::new(&unique("iv1"));
    let vm2 = Netns::new(&unique("iv2"));
    let up = Netns::new(&unique("iup"));
    let (t_vm1, t_vm2, t_up) = (unique("ti1"), unique("ti2"), unique("tiu"));
    let work = TempDir::new(&unique("icmpnat"));
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
    for vm in [&vm1, &vm2] {
        vm.run("ip route add default via 10.0.0.1");
    }

    // Upstream → floating IP, closed port: vm002's port unreachable leaves from
    // 10.1.101.82, never from 10.0.0.9, and quotes the datagram as upstream sent it.
    let mut cap = capture(&up, &t_up, 1);
    let seen_by_client = udp_probe(&up, "10.1.101.82", 9999);
    let seen = cap.wait_exit(Duration::from_secs(15)).output();
    assert!(
        seen.contains("10.1.101.82 > 10.1.101.254: ICMP 10.1.101.82 udp port 9999 unreachable"),
        "upstream must get the port unreachable from the floating IP:\n{seen}"
    );
    assert!(
        !seen.contains("10.0.0.9"),
        "the fixed address must not leak:\n{seen}"
    );
    assert_eq!(seen_by_client, "refused", "upstream's socket is refused");

    // vm001 → upstream through SNAT, closed port: the error comes back to vm001 with the
    // quoted datagram as vm001 sent it, or its socket would not be refused.
    assert_eq!(
        udp_probe(&vm1, "10.1.101.254", 9999),
        "refused",
        "vm001's connected UDP socket must get ECONNREFUSED through SNAT"
    );
    // The same through vm002's floating IP, outbound.
    assert_eq!(
        udp_probe(&vm2, "10.1.101.254", 9998),
        "refused",
        "vm002's connected UDP socket must get ECONNREFUSED through its floating IP"
    );
    let stats = common::stats_json(&vr);
    let translated = stats["router"]["icmp_errors_translated"].as_u64();
    assert!(
        translated.is_some_and(|n| n >= 3),
        "the three errors are counted as translated: {stats}"
    );

    drop(vr);
    eprintln!("e2e_icmp_nat took {:?}", started.elapsed());
}
