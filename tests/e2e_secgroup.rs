//! End-to-end test of security groups on a local VM port, changed live with vrouterctl:
//! a rule opens TCP 22 at once, deleting it closes it again, replies to the VM's own
//! connections come back without an ingress rule, and spoofed packets are dropped and
//! counted.
//!
//! ```text
//!   vm2 (vm002 10.0.0.9, floating 10.1.101.82, group "no-tcp") ──tap──┐
//!                                                                     ├─ vrouter ─tap(eth2)─ up (10.1.101.254)
//! ```

mod common;

use common::{move_tap, require_prereqs, unique, Netns, Proc, Vrouter, TENANT_A};
use std::process::{Command, Output};
use std::time::Duration;

const VROUTERCTL: &str = env!("CARGO_BIN_EXE_vrouterctl");
const VM002_PORT: &str = "1653ec91-ad7d-40d9-b777-f74aec697026";
const FIP_ID: &str = "00000000-0000-4000-8000-0a0165000052";
const DEFAULT_GROUP: &str = "8bd8fb6b-7141-4900-8321-390cc1a5d999";
const NO_TCP: &str = "5ec0aaaa-0000-4000-8000-000000000001";

/// The reference topology with the floating IP on vm002, and vm002 in a group that lets
/// in ICMP only (egress open).
fn config(dir: &std::path::Path) -> String {
    let text = std::fs::read_to_string(TENANT_A).expect("read configs/tenant-a.toml");
    let fip_line = format!("\nid = \"{FIP_ID}\"\n");
    let mut text = text.replacen(
        &fip_line,
        &format!("{fip_line}port_id = \"{VM002_PORT}\"\n"),
        1,
    );
    let vm002 = format!("id = \"{VM002_PORT}\"");
    let at = text.find(&vm002).expect("vm002's port");
    let groups = format!("security_groups = [\"{DEFAULT_GROUP}\"]");
    let rel = text[at..].find(&groups).expect("vm002's groups");
    text.replace_range(
        at + rel..at + rel + groups.len(),
        &format!("security_groups = [\"{NO_TCP}\"]"),
    );
    text.push_str(&format!(
        r#"
[[security_group]]
id = "{NO_TCP}"
name = "no-tcp"
[[security_group.rules]]
id = "5ec0aaaa-0000-4000-8000-0000000000e1"
direction = "ingress"
protocol = "icmp"
[[security_group.rules]]
id = "5ec0aaaa-0000-4000-8000-0000000000e2"
direction = "egress"
"#
    ));
    let path = dir.join("secgroup.toml");
    std::fs::write(&path, text).expect("write the test topology");
    path.to_string_lossy().into_owned()
}

/// Runs vrouterctl against the appliance's socket.
fn ctl(vr: &Vrouter, args: &[&str]) -> Output {
    let socket = vr.run_dir.join("vrouter.sock");
    Command::new(VROUTERCTL)
        .arg("--socket")
        .arg(&socket)
        .args(args)
        .output()
        .expect("run vrouterctl")
}

/// vrouterctl that must succeed; returns its stdout.
fn ctl_ok(vr: &Vrouter, args: &[&str]) -> String {
    let out = ctl(vr, args);
    assert!(
        out.status.success(),
        "vrouterctl {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// True if upstream's `nc -z` reaches port 22 of the floating IP.
fn ssh_open(up: &Netns) -> bool {
    up.try_run("nc -z -w 2 10.1.101.82 22").status.success()
}

/// One drop counter from `vrouterctl stats --format json`.
fn dropped(vr: &Vrouter, reason: &str) -> u64 {
    let json = ctl_ok(vr, &["stats", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("stats JSON");
    let found = find_key(&v, reason);
    found
        .and_then(|x| x.as_u64())
        .unwrap_or_else(|| panic!("no counter {reason} in {json}"))
}

/// The first value under key `key` anywhere in `v`.
fn find_key<'a>(v: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => m
            .get(key)
            .or_else(|| m.values().find_map(|x| find_key(x, key))),
        serde_json::Value::Array(a) => a.iter().find_map(|x| find_key(x, key)),
        _ => None,
    }
}

#[test]
fn rules_apply_live_state_returns_replies_and_spoofing_is_dropped() {
    require_prereqs();
    let vm = Netns::new(&unique("sv2"));
    let up = Netns::new(&unique("sup"));
    let (t_vm, t_up) = (unique("tsv"), unique("tsu"));
    let work = std::env::temp_dir().join(unique("secgroup"));
    std::fs::create_dir_all(&work).unwrap();
    let cfg = config(&work);
    let (a, b, c) = (
        "eth1=net_null0,no-rx=1".to_string(),
        format!("eth2=net_tap1,iface={t_up}"),
        format!("tap1653ec91-ad=net_tap2,iface={t_vm}"),
    );
    let vr = Vrouter::start(&[
        "--config",
        &cfg,
        "--devargs",
        &a,
        "--devargs",
        &b,
        "--devargs",
        &c,
    ]);
    move_tap(&t_vm, &vm, "fa:16:3e:51:a2:97", Some("10.0.0.9/24"));
    move_tap(&t_up, &up, "52:54:00:01:01:fe", Some("10.1.101.254/24"));
    vm.run("ip route add default via 10.0.0.1");

    // A listener on port 22 in the VM, accepting again and again.
    let listen: Vec<String> = [
        "ip", "netns", "exec", &vm.name, "timeout", "60", "nc", "-lk", "22",
    ]
    .map(String::from)
    .to_vec();
    let _server = Proc::spawn("nc -lk 22 in vm002", &listen);
    std::thread::sleep(Duration::from_millis(500));

    up.run("ping -c 1 -W 3 10.1.101.82");
    assert!(
        !ssh_open(&up),
        "the no-tcp group must refuse TCP 22 into vm002"
    );
    let denied = dropped(&vr, "sg_denied");
    assert!(denied >= 1, "the refused SYNs are counted as sg_denied");

    let created = ctl_ok(
        &vr,
        &[
            "security-group-rule-create",
            "--id",
            "5ec0aaaa-0000-4000-8000-000000000022",
            "--protocol",
            "tcp",
            "--port-range-min",
            "22",
            "--port-range-max",
            "22",
            "--direction",
            "ingress",
            "no-tcp",
        ],
    );
    assert!(
        created.contains("5ec0aaaa-0000-4000-8000-000000000022"),
        "{created}"
    );
    assert!(ssh_open(&up), "the new rule opens TCP 22 with no restart");
    let chains = ctl_ok(&vr, &["security-group-chains"]);
    let ssh = chains
        .lines()
        .find(|l| {
            l.starts_with("-A neutron-openvswi-i1653ec91-a -p tcp -m tcp --dport 22 -j RETURN")
        })
        .unwrap_or_else(|| panic!("the ssh rule in vm002's ingress chain:\n{chains}"));
    assert!(
        !ssh.contains("n_packets=0 "),
        "the rule counted the connection: {ssh}"
    );
    assert!(
        chains.contains("-N neutron-openvswi-s1653ec91-a"),
        "{chains}"
    );

    ctl_ok(
        &vr,
        &[
            "security-group-rule-delete",
            "5ec0aaaa-0000-4000-8000-000000000022",
        ],
    );
    assert!(
        !ssh_open(&up),
        "deleting the rule closes TCP 22 to new attempts"
    );

    // vm002 opens a TCP connection out: the answer comes back without any ingress rule.
    let upstream_listen: Vec<String> = [
        "ip", "netns", "exec", &up.name, "timeout", "20", "nc", "-l", "8080",
    ]
    .map(String::from)
    .to_vec();
    let mut upstream = Proc::spawn("nc -l 8080 upstream", &upstream_listen);
    std::thread::sleep(Duration::from_millis(500));
    let sent = Command::new("ip")
        .args(["netns", "exec", &vm.name, "sh", "-c"])
        .arg("echo reply-comes-back | nc -w 3 -q 1 10.1.101.254 8080")
        .status()
        .expect("nc from vm002");
    assert!(
        sent.success(),
        "vm002's own connection out must complete (its SYN-ACK comes back)"
    );
    upstream.wait_line("reply-comes-back", Duration::from_secs(10));

    // Spoofing: vm002 sends from an address that is not its own; dropped and counted.
    let before = dropped(&vr, "spoofed");
    vm.run(&format!("ip addr add 10.0.0.50/24 dev {t_vm}"));
    let spoof = vm.try_run("ping -c 2 -W 1 -I 10.0.0.50 10.1.101.254");
    assert!(
        !spoof.status.success(),
        "a ping from a spoofed address must not get through"
    );
    assert!(
        dropped(&vr, "spoofed") >= before + 2,
        "spoofed packets are counted"
    );

    drop(vr);
    let _ = std::fs::remove_dir_all(&work);
}
