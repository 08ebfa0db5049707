//! End-to-end test of the router stage (what `qrouter-<id>` did): SNAT, a floating IP,
//! traceroute, path MTU, and a VM behind the GRE tunnel, with real kernel clients.
//!
//! ```text
//!   vm1 (vm001 10.0.0.10, no floating IP) ──tap──┐
//!   vm2 (vm002 10.0.0.9, floating 10.1.101.82) ──tap──┼─ vrouter ─tap(eth2)─ up (10.1.101.254)
//!   c1 (compute1 10.0.1.31, vm003 10.0.0.31 behind it) ──tap(eth1)──┘
//! ```

mod common;

use common::{
    capture, gre_peer, move_tap, require_prereqs, unique, Netns, Proc, Vrouter, TENANT_A,
};
use std::time::Duration;

const VM002_PORT: &str = "1653ec91-ad7d-40d9-b777-f74aec697026";
const FIP_ID: &str = "00000000-0000-4000-8000-0a0165000052";
const QR_MAC: &str = "fa:16:3e:f7:e6:9c";

/// The reference topology with 10.1.101.82 associated to vm002 and a third VM, vm003,
/// behind compute1.
fn config(dir: &std::path::Path) -> String {
    let text = std::fs::read_to_string(TENANT_A).expect("read configs/tenant-a.toml");
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
    let path = dir.join("router.toml");
    std::fs::write(&path, text).expect("write the test topology");
    path.to_string_lossy().into_owned()
}

#[test]
fn snat_floating_ip_traceroute_mtu_and_tunnelled_vm() {
    require_prereqs();
    let vm1 = Netns::new(&unique("rv1"));
    let vm2 = Netns::new(&unique("rv2"));
    let up = Netns::new(&unique("rup"));
    let c1 = Netns::new(&unique("rc1"));
    let (t_vm1, t_vm2, t_up, t_c1) = (unique("tv1"), unique("tv2"), unique("tup"), unique("tc1"));
    let work = std::env::temp_dir().join(unique("router"));
    std::fs::create_dir_all(&work).unwrap();
    let cfg = config(&work);
    let dev = |name: &str, n: u8, iface: &str| format!("{name}=net_tap{n},iface={iface}");
    let args = [
        dev("eth1", 0, &t_c1),
        dev("eth2", 1, &t_up),
        dev("tapd7233b80-9d", 2, &t_vm1),
        dev("tap1653ec91-ad", 3, &t_vm2),
    ];
    let mut argv = vec!["--config", &cfg];
    for a in &args {
        argv.extend(["--devargs", a]);
    }
    let vr = Vrouter::start(&argv);

    move_tap(&t_vm1, &vm1, "fa:16:3e:75:e0:5a", Some("10.0.0.10/24"));
    move_tap(&t_vm2, &vm2, "fa:16:3e:51:a2:97", Some("10.0.0.9/24"));
    move_tap(&t_up, &up, "52:54:00:01:01:fe", Some("10.1.101.254/24"));
    move_tap(&t_c1, &c1, "52:54:00:00:01:31", Some("10.0.1.31/24"));
    for vm in [&vm1, &vm2] {
        vm.run("ip route add default via 10.0.0.1");
    }

    // SNAT: vm001 has no floating IP, upstream sees the gateway address.
    let mut cap = capture(&up, &t_up, 2);
    vm1.run("ping -c 1 -W 3 10.1.101.254");
    let seen = cap.wait_exit(Duration::from_secs(15)).output();
    assert!(
        seen.contains("10.1.101.80 > 10.1.101.254: ICMP echo request"),
        "upstream must see vm001's ping from 10.1.101.80 (SNAT):\n{seen}"
    );

    // Floating IP: vm002 leaves as 10.1.101.82 ...
    let mut cap = capture(&up, &t_up, 2);
    vm2.run("ping -c 1 -W 3 10.1.101.254");
    let seen = cap.wait_exit(Duration::from_secs(15)).output();
    assert!(
        seen.contains("10.1.101.82 > 10.1.101.254: ICMP echo request"),
        "upstream must see vm002's ping from its floating IP 10.1.101.82:\n{seen}"
    );

    // ... and a TCP connection to 10.1.101.82 from upstream reaches it at 10.0.0.9.
    let listen: Vec<String> = format!("ip netns exec {} timeout 15 nc -l 2222", vm2.name)
        .split_whitespace()
        .map(String::from)
        .collect();
    let mut server = Proc::spawn("nc -l in vm002", &listen);
    std::thread::sleep(Duration::from_millis(500));
    let sent = std::process::Command::new("ip")
        .args(["netns", "exec", &up.name, "sh", "-c"])
        .arg("echo hello-through-fip | nc -w 3 -q 1 10.1.101.82 2222")
        .status()
        .expect("run nc in the upstream namespace");
    assert!(sent.success(), "nc to 10.1.101.82:2222 failed: {sent}");
    server.wait_line("hello-through-fip", Duration::from_secs(10));

    // traceroute: the router is the first hop.
    let trace = vm1.run("traceroute -n -q 1 -w 2 -m 3 10.1.101.254");
    let first = trace.lines().nth(1).unwrap_or("");
    assert!(
        first.trim_start().starts_with("1  10.0.0.1 "),
        "first hop must be 10.0.0.1:\n{trace}"
    );

    // Path MTU: 1472 bytes of ICMP with DF do not fit tenantA-Net's 1458.
    let out = up.try_run("ping -M do -s 1472 -c 1 -W 3 10.1.101.82");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Frag needed") && text.contains("mtu = 1458"),
        "upstream must get fragmentation needed with MTU 1458:\n{text}"
    );

    // A VM behind the GRE tunnel (vm003 on compute1) pings upstream through the router.
    let mut peer = gre_peer(
        &c1,
        &format!(
            "ping --iface {t_c1} --src 10.0.1.31 --dst 10.0.1.21 --inner-src fa:16:3e:00:01:31 \
             --inner-dst {QR_MAC} --inner-ip-src 10.0.0.31 --inner-ip-dst 10.1.101.254"
        ),
        false,
    );
    let done = peer.wait_exit(Duration::from_secs(30));
    assert!(
        done.status.success(),
        "the tunnelled VM's echo must come back in GRE key 2:\n{}",
        done.output()
    );

    let report = vr.stop().output();
    assert!(
        report.contains("== conntrack sessions"),
        "final report:\n{report}"
    );
    let _ = std::fs::remove_dir_all(&work);
}
