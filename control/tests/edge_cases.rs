//! Configuration and state edge cases, each with its exact error: table capacities beyond
//! what can be allocated, tunnel peers that are no host, a floating IP on the router's own
//! gateway address, two floating IPs on one fixed IP, a state file that is a link to
//! nothing; and the ids of security group rules loaded without one.

mod common;

use common::TempDir;
use control::model::owner;
use control::store::Store;
use control::{load_str, LoadError, Topology};

const TENANT_A: &str = include_str!("../../configs/tenant-a.toml");
const ORIGIN: &str = "configs/x.toml";
const EXT_NET: &str = "c8699820-7c6d-4441-9602-3425f2c630ec";
const VM002_PORT: &str = "1653ec91-ad7d-40d9-b777-f74aec697026";
const SG: &str = "8bd8fb6b-7141-4900-8321-390cc1a5d999";

/// The validation messages of `text`, which must parse but not validate.
fn errors(text: &str) -> Vec<String> {
    match load_str(text, ORIGIN) {
        Err(e @ LoadError::Invalid(_)) => e.messages(),
        Err(e) => panic!("not a validation error: {e}"),
        Ok(_) => panic!("validated"),
    }
}

fn appended(extra: &str) -> String {
    format!("{TENANT_A}\n{extra}")
}

fn tenant_a() -> Topology {
    load_str(TENANT_A, ORIGIN).unwrap_or_else(|e| panic!("{e}"))
}

/// The reference text with its table capacities set.
fn with_capacities(mac: u64, conntrack: u64) -> String {
    let (m, c) = (
        "[mac_table]\ncapacity = 65536\n",
        "[conntrack]\ncapacity = 262144\n",
    );
    assert!(TENANT_A.contains(m) && TENANT_A.contains(c));
    TENANT_A
        .replacen(m, &format!("[mac_table]\ncapacity = {mac}\n"), 1)
        .replacen(c, &format!("[conntrack]\ncapacity = {conntrack}\n"), 1)
}

#[test]
fn table_capacities_are_bounded_with_the_maximum_named() {
    let huge = 1u64 << 40;
    assert_eq!(
        errors(&with_capacities(huge, huge)),
        [
            format!("{ORIGIN}: mac_table: capacity: {huge} is over the maximum of 4194304"),
            format!("{ORIGIN}: conntrack: capacity: {huge} is over the maximum of 16777216"),
        ]
    );
    assert_eq!(
        errors(&with_capacities(65536, 0)),
        [format!("{ORIGIN}: conntrack: capacity: must be at least 1")]
    );
    load_str(&with_capacities(1 << 22, 1 << 24), ORIGIN).expect("the maxima are accepted");
}

#[test]
fn tunnel_peers_must_be_unicast_hosts() {
    let cases = [
        ("0.0.0.0", "in 0.0.0.0/8 (\"this network\")"),
        ("255.255.255.255", "the limited broadcast address"),
        ("127.0.0.1", "a loopback address"),
        ("224.0.0.5", "a multicast address"),
        ("240.0.0.1", "in the reserved 240.0.0.0/4"),
    ];
    for (ip, why) in cases {
        let errs = errors(&appended(&format!(
            "[[tunnel_peer]]\nremote_ip = \"{ip}\"\n"
        )));
        assert_eq!(
            errs,
            [format!(
                "{ORIGIN}: tunnel_peer {ip}: remote_ip: {ip} is {why}, not a unicast host a \
                 tunnel can reach"
            )]
        );
    }
}

#[test]
fn a_floating_ip_on_the_gateway_address_is_refused() {
    let topo = tenant_a();
    let gw = topo
        .ports
        .iter()
        .find(|p| p.device_owner == owner::ROUTER_GATEWAY)
        .expect("the reference router has a gateway port");
    let errs = errors(&appended(&format!(
        "[[floatingip]]\nid = \"fip-on-gw\"\nfloating_ip_address = \"10.1.101.80\"\n\
         floating_network_id = \"{EXT_NET}\"\n"
    )));
    assert_eq!(
        errs,
        [format!(
            "{ORIGIN}: floatingip fip-on-gw: floating_ip_address: 10.1.101.80 is the external \
             gateway (SNAT) address of router {} (port {})",
            gw.device_id, gw.id
        )]
    );
}

#[test]
fn two_floating_ips_on_one_fixed_ip_are_refused() {
    let assoc = format!("port_id = \"{VM002_PORT}\"\nfixed_ip_address = \"10.0.0.9\"\n");
    let mut text = TENANT_A.to_owned();
    for fip in ["10.1.101.82", "10.1.101.83"] {
        let line = format!("floating_ip_address = \"{fip}\"\n");
        assert!(text.contains(&line));
        text = text.replacen(&line, &format!("{line}{assoc}"), 1);
    }
    let errs = errors(&text);
    assert_eq!(
        errs,
        [format!(
            "{ORIGIN}: floatingip 00000000-0000-4000-8000-0a0165000053: port_id: port \
             {VM002_PORT} fixed IP 10.0.0.9 already has floatingip \
             00000000-0000-4000-8000-0a0165000052 (one floating IP per fixed IP)"
        )]
    );
    // Without fixed_ip_address the port's first fixed IP is meant: the same clash.
    let errs = errors(&text.replace("fixed_ip_address = \"10.0.0.9\"\n", ""));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("already has floatingip"), "{errs:?}");
}

#[test]
fn rules_without_ids_get_their_group_and_index() {
    let topo = tenant_a();
    let g = topo
        .security_groups
        .iter()
        .find(|g| g.id == SG)
        .expect("the default group");
    let ids: Vec<&str> = g.rules.iter().map(|r| r.id.as_deref().unwrap()).collect();
    let want: Vec<String> = (0..g.rules.len()).map(|i| format!("{SG}#{i}")).collect();
    assert_eq!(ids, want);
    assert_eq!(tenant_a(), topo, "the same ids on every load");
    // An id given in the file stays.
    let text = TENANT_A.replacen(
        "[[security_group.rules]]   # -p icmp -j RETURN\n",
        "[[security_group.rules]]   # -p icmp -j RETURN\nid = \"icmp-in\"\n",
        1,
    );
    let topo = load_str(&text, ORIGIN).unwrap();
    let g = topo.security_groups.iter().find(|g| g.id == SG).unwrap();
    assert_eq!(g.rules[1].id.as_deref(), Some("icmp-in"));
    assert_eq!(g.rules[2].id.as_deref(), Some(&*format!("{SG}#2")));
}

#[test]
fn a_state_file_linking_to_nothing_is_refused_not_replaced() {
    let dir = TempDir::new("state");
    let store = Store::new(&dir.0);
    let target = dir.0.join("elsewhere/state.json");
    std::os::unix::fs::symlink(&target, store.path()).unwrap();
    let err = store.load().expect_err("a dangling link is no first start");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: corrupt state file: a symbolic link to {}, which does not exist; refusing to \
             replace it (fix it, or start with --reset to discard it)",
            store.path().display(),
            target.display()
        )
    );
    assert!(
        std::fs::symlink_metadata(store.path())
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link is left as it was"
    );
    // Nothing at all is a first start.
    std::fs::remove_file(store.path()).unwrap();
    assert!(store.load().unwrap().is_none());
}
