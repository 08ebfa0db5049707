//! End-to-end tests of the control plane on the real binaries: the reference topology of
//! SPEC.md §1 built with `vrouterctl` alone from an empty start, persisted across a
//! SIGKILL, and forwarding afterwards; and two VMs pinging each other without a lost
//! packet while a thousand unrelated changes are applied.

mod common;

use common::{ctl, move_tap, require_prereqs, unique, vrouterctl, Netns, Vrouter, TENANT_A};
use control::api::{NoArgs, Op, PortCreate, Target};
use control::client::Client;
use control::model::Binding;
use control::store::Store;
use control::Topology;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const NET: &str = "7c22bbd9-166c-4610-9a3d-3b8b92c77518";
const EXT: &str = "c8699820-7c6d-4441-9602-3425f2c630ec";
const SUBNET: &str = "c37d8ed0-372e-4b24-9ba2-897c38c6ddbf";
const SUBNET_EXT: &str = "2c4155c9-5a2e-471c-a4d8-40a86b45ab0a";
const ROUTER: &str = "680944ad-679c-4fe8-ae4b-258cd8ac337f";
const SG: &str = "8bd8fb6b-7141-4900-8321-390cc1a5d999";
const TENANT: &str = "60a10cd7a61b493d910eabd353c07567";
const VM001_PORT: &str = "tapd7233b80-9d";
const VM002_PORT: &str = "tap1653ec91-ad";
const VM001_MAC: &str = "fa:16:3e:75:e0:5a";
const VM002_MAC: &str = "fa:16:3e:51:a2:97";

/// The seed's ports in its order: id, MAC, subnet, fixed IP.
const SEED_PORTS: [(&str, &str, &str, &str); 7] = [
    (
        "d7233b80-9d4b-4ef6-a60d-19b3be661069",
        VM001_MAC,
        SUBNET,
        "10.0.0.10",
    ),
    (
        "1653ec91-ad7d-40d9-b777-f74aec697026",
        VM002_MAC,
        SUBNET,
        "10.0.0.9",
    ),
    (
        "81388454-30e0-45e4-b3dd-b7b2e8dbf067",
        "fa:16:3e:f7:e6:9c",
        SUBNET,
        "10.0.0.1",
    ),
    (
        "eb60f9c4-2ddb-49ee-8b78-2fc2564a7600",
        "fa:16:3e:78:39:e9",
        SUBNET_EXT,
        "10.1.101.80",
    ),
    (
        "2df7c3ed-dfbb-480d-9cd3-fdefa079e66a",
        "fa:16:3e:da:41:49",
        SUBNET,
        "10.0.0.3",
    ),
    (
        "f6812a11-c4ce-4880-8566-2206afcc612a",
        "fa:16:3e:9e:75:a2",
        SUBNET_EXT,
        "10.1.101.82",
    ),
    (
        "bfe7eaa4-26bc-4fe9-9da2-550abf44beaa",
        "fa:16:3e:e1:00:41",
        SUBNET_EXT,
        "10.1.101.83",
    ),
];

/// A directory of the test's own, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The vrouterctl commands that build the reference topology, in the seed's order.
fn build_commands() -> Vec<String> {
    let [vm001, vm002, qr, qg, dhcp, fip1, fip2] = SEED_PORTS;
    let vm = |p: (&str, &str, &str, &str), device| {
        format!(
            "port-create tenantA-Net --id {} --mac-address {} --fixed-ip subnet_id={},ip_address={} \
             --device-owner compute:nova --device-id {device} --security-group default",
            p.0, p.1, p.2, p.3
        )
    };
    let fip = |p: (&str, &str, &str, &str), id| {
        format!(
            "floatingip-create Ext-Net --id {id} --floating-ip-address {} --fip-port-id {} \
             --fip-mac-address {}",
            p.3, p.0, p.1
        )
    };
    vec![
        format!("net-create tenantA-Net --id {NET} --tenant-id {TENANT} --segmentation-id 2 --local-vlan 10"),
        format!("net-create Ext-Net --id {EXT} --router-external --local-vlan 11"),
        format!("subnet-create tenantA-Net 10.0.0.0/24 --id {SUBNET} --gateway 10.0.0.1 --allocation-pool start=10.0.0.2,end=10.0.0.254"),
        format!("subnet-create Ext-Net 10.1.101.0/24 --id {SUBNET_EXT} --gateway 10.1.101.254 --allocation-pool start=10.1.101.80,end=10.1.101.100 --disable-dhcp"),
        format!("security-group-create default --id {SG} --tenant-id {TENANT}"),
        "security-group-rule-create default --direction ingress --remote-group-id default".into(),
        "security-group-rule-create default --direction ingress --protocol icmp".into(),
        "security-group-rule-create default --protocol tcp --port-range-min 1 --port-range-max 65535".into(),
        "security-group-rule-create default --protocol udp --port-range-min 1 --port-range-max 65535".into(),
        "tunnel-peer-create 10.0.1.31".into(),
        "tunnel-peer-create 10.0.1.41".into(),
        format!("router-create tenant-R1 --id {ROUTER}"),
        vm(vm001, "f467ba96-09c4-4eb7-b79c-5391f326c7d1"),
        vm(vm002, "bec0b963-99c0-4a56-ae04-936d47e173eb"),
        format!("router-interface-add tenant-R1 subnet={SUBNET} --port-id {} --mac-address {}", qr.0, qr.1),
        format!("router-gateway-set tenant-R1 Ext-Net --port-id {} --mac-address {} --fixed-ip ip_address={}", qg.0, qg.1, qg.3),
        format!(
            "port-create {NET} --id {} --mac-address {} --fixed-ip ip_address={} --device-owner network:dhcp",
            dhcp.0, dhcp.1, dhcp.3
        ),
        fip(fip1, "00000000-0000-4000-8000-0a0165000052"),
        fip(fip2, "00000000-0000-4000-8000-0a0165000053"),
    ]
}

/// The seed's port table as `vrouterctl port-list` prints it.
fn seed_port_table() -> String {
    let rows: Vec<Vec<String>> = SEED_PORTS
        .iter()
        .map(|(id, mac, subnet, ip)| {
            vec![
                id.to_string(),
                String::new(),
                mac.to_string(),
                format!("{{\"subnet_id\": \"{subnet}\", \"ip_address\": \"{ip}\"}}"),
            ]
        })
        .collect();
    control::table::boxed(&["id", "name", "mac_address", "fixed_ips"], &rows)
}

/// The reference topology as vrouterctl builds it: the seed's, without its uplinks and
/// table limits, with ids on the security group rules (compared without them).
fn comparable(mut t: Topology) -> Topology {
    t.origin = None;
    t.uplinks.clear();
    t.mac_table = None;
    t.conntrack = None;
    for g in &mut t.security_groups {
        for r in &mut g.rules {
            r.id = None;
        }
        g.rules.sort_by_key(|r| format!("{r:?}"));
    }
    t
}

/// Every list but the ports' (whose bindings follow this run's --devargs), as JSON.
fn lists(socket: &Path) -> Vec<String> {
    let lists = [
        "net-list",
        "subnet-list",
        "router-list",
        "floatingip-list",
        "security-group-list",
        "security-group-rule-list",
        "tunnel-peer-list",
    ];
    lists
        .iter()
        .map(|l| ctl(socket, &[l, "-f", "json"]))
        .collect()
}

/// Pings `ip` from `ns` 100 times, 50 ms apart; the summary line, which must say 0% loss.
fn ping_without_loss(ns: &Netns, ip: &str) -> String {
    let out = ns.try_run(&format!("ping -i 0.05 -c 100 -W 1 {ip}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && text.contains(" 0% packet loss"),
        "ping {ip} from {} should lose nothing:\n{text}{}",
        ns.name,
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .find(|l| l.contains("packet loss"))
        .unwrap_or("")
        .to_owned()
}

#[test]
fn reference_topology_built_live_survives_sigkill() {
    require_prereqs();
    let vm_a = Netns::new(&unique("cvmA"));
    let vm_b = Netns::new(&unique("cvmB"));
    let dir = TempDir::new(&format!("vrouter-e2e-control-{}", std::process::id()));
    let (state, socket) = (dir.0.join("state"), dir.0.join("vrouter.sock"));
    let seed = dir.0.join("seed.toml");
    let tap_e1 = unique("ce1");
    std::fs::write(
        &seed,
        format!(
            "[[uplink]]\nname = \"eth1\"\ndevargs = \"net_tap0,iface={tap_e1}\"\nrole = \"underlay\"\n\
             local_ip = \"10.0.1.21/24\"\nmac = \"52:54:00:00:01:21\"\n"
        ),
    )
    .unwrap();
    let (seed, state_arg, socket_arg) = (
        seed.display().to_string(),
        state.display().to_string(),
        socket.display().to_string(),
    );
    let base = [
        "--config",
        &seed,
        "--state-dir",
        &state_arg,
        "--socket",
        &socket_arg,
    ];

    // An empty start: nothing but the underlay uplink.
    let mut vr = Vrouter::start(&base);
    assert_eq!(ctl(&socket, &["port-list", "-f", "json"]).trim(), "[]");
    for cmd in build_commands() {
        let args: Vec<&str> = cmd.split_whitespace().collect();
        ctl(&socket, &args);
    }
    let table = ctl(&socket, &["port-list"]);
    assert_eq!(
        table,
        seed_port_table(),
        "port-list should print the seed's port table"
    );
    println!("{table}");
    let ids = ctl(&socket, &["port-list", "-c", "id", "-c", "mac_address"]);
    assert!(ids
        .lines()
        .nth(1)
        .is_some_and(|l| l.contains("mac_address") && !l.contains("fixed_ips")));

    // The persisted state is the reference topology.
    let stored = Store::new(&state).load().unwrap().expect("a state file");
    let seed_topo = control::load_file(TENANT_A).unwrap();
    assert_eq!(comparable(stored.clone()), comparable(seed_topo));

    // A crash, then a restart on the same state: the same state, and it forwards.
    let before = lists(&socket);
    let killed = vr.kill();
    assert!(!killed.status.success(), "SIGKILL: {}", killed.output());
    drop(vr);
    let (tap_a, tap_b) = (unique("ca"), unique("cb"));
    let dev_a = format!("{VM001_PORT}=net_tap1,iface={tap_a}");
    let dev_b = format!("{VM002_PORT}=net_tap2,iface={tap_b}");
    let mut args = base.to_vec();
    args.extend(["--devargs", &dev_a, "--devargs", &dev_b]);
    let vr = Vrouter::start(&args);
    assert!(
        lists(&socket) == before,
        "the restarted appliance lists the same state"
    );
    assert_eq!(ctl(&socket, &["port-list"]), seed_port_table());
    let restored = Store::new(&state).load().unwrap().expect("a state file");
    assert!(
        restored == stored,
        "the persisted state is kept, without this run's --devargs"
    );
    move_tap(&tap_a, &vm_a, VM001_MAC, Some("10.0.0.10/24"));
    move_tap(&tap_b, &vm_b, VM002_MAC, Some("10.0.0.9/24"));
    let ping = vm_a.try_run("ping -c 3 -i 0.2 -W 2 10.0.0.9");
    let text = String::from_utf8_lossy(&ping.stdout);
    assert!(
        ping.status.success() && text.contains(" 0% packet loss"),
        "vm001 should ping vm002 through the restarted appliance:\n{text}"
    );

    // The views, in the network node's vocabulary.
    let netns = ctl(&socket, &["netns"]);
    assert!(
        netns.contains(&format!("qrouter-{ROUTER}")) && netns.contains(&format!("qdhcp-{NET}")),
        "{netns}"
    );
    let show = ctl(&socket, &["show"]);
    for name in [
        VM002_PORT,
        "qr-81388454-30",
        "qg-eb60f9c4-2d",
        "gre-0a00011f",
        "gre-0a000129",
    ] {
        assert!(show.contains(name), "show should list {name}:\n{show}");
    }
    let flows = ctl(&socket, &["dump-flows"]);
    let vm002_flow = flows.lines().find(|l| l.contains(VM002_MAC)).unwrap_or("");
    assert!(
        vm002_flow.contains(&format!("output:{VM002_PORT}"))
            && !vm002_flow.contains("n_packets=0,"),
        "dump-flows should show vm002's MAC with its counters:\n{flows}"
    );
    let stats = ctl(&socket, &["stats"]);
    assert!(
        stats.contains(VM001_PORT) && stats.contains("RX packets:"),
        "{stats}"
    );
    // An error is the daemon's message and a non-zero exit.
    let out = vrouterctl(&socket, &["net-delete", "tenantA-Net"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("conflict") && err.contains("still has"),
        "{err}"
    );
    let done = vr.stop();
    assert!(done.status.success(), "{}", done.output());

    // --reset starts again from the seed.
    let mut args = base.to_vec();
    args.push("--reset");
    let vr = Vrouter::start(&args);
    assert_eq!(ctl(&socket, &["port-list", "-f", "json"]).trim(), "[]");
    drop(vr);
}

#[test]
fn pings_survive_a_thousand_changes() {
    require_prereqs();
    let vm_a = Netns::new(&unique("pvmA"));
    let vm_b = Netns::new(&unique("pvmB"));
    let (tap_e1, tap_a, tap_b) = (unique("pe1"), unique("pa"), unique("pb"));
    let vr = Vrouter::start(&[
        "--config",
        TENANT_A,
        "--devargs",
        &format!("eth1=net_tap0,iface={tap_e1}"),
        "--devargs",
        &format!("{VM001_PORT}=net_tap1,iface={tap_a}"),
        "--devargs",
        &format!("{VM002_PORT}=net_tap2,iface={tap_b}"),
        "--devargs",
        "eth2=net_null0,no-rx=1",
    ]);
    move_tap(&tap_a, &vm_a, VM001_MAC, Some("10.0.0.10/24"));
    move_tap(&tap_b, &vm_b, VM002_MAC, Some("10.0.0.9/24"));
    vm_a.run("ping -c 2 -i 0.2 -W 2 10.0.0.9");

    // 500 ports created and deleted again, on one connection, while the VMs ping.
    let socket = vr.socket();
    let done = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&done);
    let changes = std::thread::spawn(move || {
        let mut c = Client::connect(&socket).unwrap();
        let start = std::time::Instant::now();
        for i in 0..500 {
            let create = Op::PortCreate(PortCreate {
                network: NET.into(),
                name: Some(format!("churn-{i}")),
                ..PortCreate::default()
            });
            let port = c.call(create).unwrap_or_else(|e| panic!("create {i}: {e}"));
            let id = port["id"].as_str().unwrap().to_owned();
            c.call(Op::PortDelete(Target { id }))
                .unwrap_or_else(|e| panic!("delete {i}: {e}"));
        }
        flag.store(true, Ordering::SeqCst);
        let ports = c.call(Op::PortList(Default::default())).unwrap();
        (start.elapsed(), ports.as_array().map_or(0, Vec::len))
    });
    let mut rounds = 0;
    while rounds == 0 || !done.load(Ordering::SeqCst) {
        let summary = ping_without_loss(&vm_a, "10.0.0.9");
        rounds += 1;
        println!("round {rounds}: {summary}");
        assert!(rounds < 60, "1,000 changes took too long");
    }
    let (took, ports) = changes.join().unwrap();
    println!("1,000 changes applied in {took:?}, {rounds} ping rounds of 100 without loss");
    assert_eq!(ports, 7, "every created port was deleted again");
    let mut c = Client::connect(&vr.socket()).unwrap();
    // A port bound to a device that is not attached: refused, clearly (no hot-plug yet).
    let local = Op::PortCreate(PortCreate {
        network: NET.into(),
        binding: Some(Binding::Local {
            devargs: "net_null9".into(),
        }),
        ..PortCreate::default()
    });
    let e = c.call(local).unwrap_err().to_string();
    assert!(
        e.contains("binding new local devices at run time is not supported yet"),
        "{e}"
    );
    let flows = c.call(Op::DumpFlows(NoArgs {})).unwrap();
    assert!(
        flows["generation"].as_u64().unwrap() > 1000,
        "every change was published: {flows}"
    );
    let out = vr.stop();
    assert!(out.status.success(), "{}", out.output());
}
