//! Static neighbours (`[[neighbour]]`): validation with precise messages, compilation into
//! the underlay's and the routers' static neighbour lists, installation in the data plane
//! (no ARP request is ever needed for them), and the persisted state's round trip.

use control::{compile, load_file, load_str, view, LoadError, Topology};
use vrouter::pipeline::Dataplane;
use vrouter::wire::Mac;
use vrouter::VecFrame;

const TENANT_A: &str = include_str!("../../configs/tenant-a.toml");
const ORIGIN: &str = "configs/x.toml";
const EXT_NET: &str = "c8699820-7c6d-4441-9602-3425f2c630ec";
const NET_A: &str = "7c22bbd9-166c-4610-9a3d-3b8b92c77518";

const UPSTREAM: &str = r#"
[[neighbour]]
ip = "10.1.101.254"
mac = "52:54:00:01:01:fe"
network_id = "c8699820-7c6d-4441-9602-3425f2c630ec"
"#;

const COMPUTE1: &str = r#"
[[neighbour]]
ip = "10.0.1.31"
mac = "52:54:00:00:01:31"
uplink = "eth1"
"#;

fn ip(s: &str) -> u32 {
    u32::from(s.parse::<std::net::Ipv4Addr>().unwrap())
}

fn mac(s: &str) -> Mac {
    s.parse().unwrap()
}

/// tenant-a.toml with `extra` appended, loaded.
fn with(extra: &str) -> Topology {
    load_str(&format!("{TENANT_A}\n{extra}"), ORIGIN).unwrap_or_else(|e| panic!("{e}"))
}

/// The validation messages of tenant-a.toml with `extra` appended.
fn errors(extra: &str) -> Vec<String> {
    match load_str(&format!("{TENANT_A}\n{extra}"), ORIGIN) {
        Err(e @ LoadError::Invalid(_)) => e.messages(),
        Err(e) => panic!("not a validation error: {e}"),
        Ok(_) => panic!("validated"),
    }
}

fn error(extra: &str) -> String {
    let mut errs = errors(extra);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    errs.remove(0)
}

fn neighbour(ip: &str, mac: &str, scope: &str) -> String {
    format!("[[neighbour]]\nip = \"{ip}\"\nmac = \"{mac}\"\n{scope}\n")
}

fn snapshot(topo: &Topology) -> vrouter::tables::Snapshot {
    let names: Vec<String> = topo.devices().into_iter().map(|(n, _)| n).collect();
    compile(topo, &names, 1).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn neighbours_compile_into_the_underlay_and_the_routers() {
    let topo = with(&format!("{UPSTREAM}{COMPUTE1}"));
    assert_eq!(topo.neighbours.len(), 2);
    let snap = snapshot(&topo);
    assert_eq!(
        snap.underlay_neighbours,
        vec![(ip("10.0.1.31"), mac("52:54:00:00:01:31"))]
    );
    assert!(snap.routers[0]
        .neighbours
        .contains(&(ip("10.1.101.254"), mac("52:54:00:01:01:fe"))));
    // The ports' own entries stay.
    assert!(snap.routers[0]
        .neighbours
        .contains(&(ip("10.0.0.9"), mac("fa:16:3e:51:a2:97"))));
}

#[test]
fn a_network_without_a_router_port_gives_no_router_entry() {
    // A second external network that no router is attached to.
    let extra = r#"
[[network]]
id = "11111111-1111-4111-8111-111111111111"
router_external = true

[[subnet]]
id = "22222222-2222-4222-8222-222222222222"
network_id = "11111111-1111-4111-8111-111111111111"
cidr = "192.0.2.0/24"
enable_dhcp = false

[[neighbour]]
ip = "192.0.2.1"
mac = "52:54:00:00:02:01"
network_id = "11111111-1111-4111-8111-111111111111"
"#;
    let snap = snapshot(&with(extra));
    assert!(!snap.routers[0]
        .neighbours
        .iter()
        .any(|(a, _)| *a == ip("192.0.2.1")));
    assert!(snap.underlay_neighbours.is_empty());
}

#[test]
fn the_data_plane_knows_them_without_asking() {
    let snap = snapshot(&with(&format!("{UPSTREAM}{COMPUTE1}")));
    let dp: Dataplane<VecFrame> = Dataplane::new(&snap, 0);
    assert_eq!(
        dp.underlay_neigh.lookup(ip("10.0.1.31")),
        Some(mac("52:54:00:00:01:31"))
    );
    assert_eq!(
        dp.router_neigh.lookup(ip("10.1.101.254")),
        Some(mac("52:54:00:01:01:fe"))
    );
    let statics = dp
        .underlay_neigh
        .iter()
        .filter(|(_, n)| n.is_static)
        .count();
    assert_eq!(statics, 1);
}

#[test]
fn a_new_snapshot_replaces_them() {
    let snap = snapshot(&with(&format!("{UPSTREAM}{COMPUTE1}")));
    let mut dp: Dataplane<VecFrame> = Dataplane::new(&snap, 0);
    let fewer = snapshot(&with(UPSTREAM));
    dp.apply(&fewer, 1);
    assert_eq!(dp.underlay_neigh.lookup(ip("10.0.1.31")), None);
    assert_eq!(
        dp.router_neigh.lookup(ip("10.1.101.254")),
        Some(mac("52:54:00:01:01:fe"))
    );
}

#[test]
fn bench_topology_loads_with_its_neighbours() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/bench.toml");
    let topo = load_file(path).unwrap_or_else(|e| panic!("{e}"));
    let snap = snapshot(&topo);
    let under: Vec<u32> = snap.underlay_neighbours.iter().map(|n| n.0).collect();
    assert_eq!(under, vec![ip("10.0.1.31"), ip("10.0.1.41")]);
    assert!(snap.routers[0]
        .neighbours
        .contains(&(ip("10.1.101.254"), mac("52:54:00:01:01:fe"))));
    assert_eq!(
        snap.routers[0].fixed_of.get(&ip("10.1.101.82")),
        Some(&ip("10.0.0.9"))
    );
    let devices: Vec<String> = topo.devices().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        devices,
        ["eth1", "eth2", "tapd7233b80-9d", "tap1653ec91-ad"].map(String::from)
    );
}

#[test]
fn they_survive_the_state_file() {
    let topo = with(&format!("{UPSTREAM}{COMPUTE1}"));
    let json = serde_json::to_string(&topo).unwrap();
    let back: Topology = serde_json::from_str(&json).unwrap();
    assert_eq!(back.neighbours, topo.neighbours);
    assert!(
        json.contains(r#""neighbour":[{"ip":"10.1.101.254""#),
        "{json}"
    );
}

#[test]
fn unknown_keys_are_parse_errors() {
    let text = format!("{TENANT_A}\n[[neighbour]]\nip = \"10.0.1.31\"\nmac = \"52:54:00:00:01:31\"\ndev = \"eth1\"\n");
    match load_str(&text, ORIGIN) {
        Err(LoadError::Invalid(_)) | Ok(_) => panic!("an unknown key must not parse"),
        Err(e) => assert!(e.to_string().contains("dev"), "{e}"),
    }
}

#[test]
fn bad_addresses() {
    assert_eq!(
        errors(&neighbour(
            "10.0.1.300",
            "52:54:00:00:01:31",
            "uplink = \"eth1\""
        )),
        [format!(
            "{ORIGIN}: neighbour 10.0.1.300: ip: invalid IPv4 address \"10.0.1.300\""
        )]
    );
    assert_eq!(
        error(&neighbour(
            "10.0.1.31",
            "52:54:00:00:01",
            "uplink = \"eth1\""
        )),
        format!(
            "{ORIGIN}: neighbour 10.0.1.31: mac: invalid unicast MAC address \"52:54:00:00:01\""
        )
    );
    assert_eq!(
        error(&neighbour(
            "10.0.1.31",
            "01:00:5e:00:00:01",
            "uplink = \"eth1\""
        )),
        format!(
            "{ORIGIN}: neighbour 10.0.1.31: mac: invalid unicast MAC address \"01:00:5e:00:00:01\""
        )
    );
}

#[test]
fn scope_is_one_of_uplink_and_network() {
    assert_eq!(
        error(&neighbour("10.0.1.31", "52:54:00:00:01:31", "")),
        format!(
            "{ORIGIN}: neighbour 10.0.1.31: ip: needs `uplink` (a host on the underlay, e.g. \
             \"eth1\") or `network_id` (a host on a router's network)"
        )
    );
    let both = format!("uplink = \"eth1\"\nnetwork_id = \"{EXT_NET}\"");
    assert_eq!(
        error(&neighbour("10.0.1.31", "52:54:00:00:01:31", &both)),
        format!(
            "{ORIGIN}: neighbour 10.0.1.31: network_id: give either `uplink` (the underlay) \
             or `network_id`, not both"
        )
    );
}

#[test]
fn uplink_errors() {
    assert_eq!(
        error(&neighbour(
            "10.0.1.31",
            "52:54:00:00:01:31",
            "uplink = \"eth9\""
        )),
        format!("{ORIGIN}: neighbour 10.0.1.31: uplink: no uplink is named \"eth9\"")
    );
    assert_eq!(
        error(&neighbour(
            "10.1.101.254",
            "52:54:00:01:01:fe",
            "uplink = \"eth2\""
        )),
        format!(
            "{ORIGIN}: neighbour 10.1.101.254: uplink: uplink eth2 has role \"external\"; \
             static neighbours on an uplink are for the underlay (give `network_id` for a \
             host on a network)"
        )
    );
    assert_eq!(
        error(&neighbour(
            "10.0.2.31",
            "52:54:00:00:01:31",
            "uplink = \"eth1\""
        )),
        format!(
            "{ORIGIN}: neighbour 10.0.2.31: ip: 10.0.2.31 is not a host of eth1's subnet \
             10.0.1.0/24 (a neighbour is on-link: a peer there, or the underlay's gateway)"
        )
    );
    assert_eq!(
        error(&neighbour(
            "10.0.1.21",
            "52:54:00:00:01:31",
            "uplink = \"eth1\""
        )),
        format!("{ORIGIN}: neighbour 10.0.1.21: ip: 10.0.1.21 is the underlay's own address")
    );
}

#[test]
fn network_errors() {
    assert_eq!(
        error(&neighbour(
            "10.1.101.254",
            "52:54:00:01:01:fe",
            "network_id = \"nope\""
        )),
        format!("{ORIGIN}: neighbour 10.1.101.254: network_id: unknown network \"nope\"")
    );
    let ext = format!("network_id = \"{EXT_NET}\"");
    assert_eq!(
        error(&neighbour("10.1.102.254", "52:54:00:01:01:fe", &ext)),
        format!(
            "{ORIGIN}: neighbour 10.1.102.254: ip: 10.1.102.254 is not a host of a subnet of \
             network {EXT_NET} (10.1.101.0/24)"
        )
    );
    assert_eq!(
        error(&neighbour("10.1.101.255", "52:54:00:01:01:fe", &ext)),
        format!(
            "{ORIGIN}: neighbour 10.1.101.255: ip: 10.1.101.255 is not a host of a subnet of \
             network {EXT_NET} (10.1.101.0/24)"
        )
    );
    let net_a = format!("network_id = \"{NET_A}\"");
    assert_eq!(
        error(&neighbour("10.0.0.9", "52:54:00:00:00:09", &net_a)),
        format!(
            "{ORIGIN}: neighbour 10.0.0.9: ip: 10.0.0.9 is the address of port \
             1653ec91-ad7d-40d9-b777-f74aec697026: its MAC is known from the port"
        )
    );
}

#[test]
fn listed_twice() {
    assert_eq!(
        error(&format!("{UPSTREAM}{COMPUTE1}{UPSTREAM}")),
        format!(
            "{ORIGIN}: neighbour 10.1.101.254: ip: 10.1.101.254 on {EXT_NET} is already \
             given by neighbour #0"
        )
    );
    // The same address on two scopes is two neighbours.
    let other = neighbour(
        "10.0.1.31",
        "52:54:00:00:01:32",
        &format!("network_id = \"{NET_A}\""),
    );
    let errs = errors(&format!("{COMPUTE1}{other}"));
    assert_eq!(
        errs,
        [format!(
            "{ORIGIN}: neighbour 10.0.1.31: ip: 10.0.1.31 is not a host of a subnet of \
             network {NET_A} (10.0.0.0/24)"
        )]
    );
}

#[test]
fn every_error_is_reported_at_once() {
    let extra = format!(
        "{}{}",
        neighbour("x", "y", "uplink = \"eth9\""),
        neighbour("10.1.101.254", "52:54:00:01:01:fe", "")
    );
    assert_eq!(errors(&extra).len(), 4, "{:#?}", errors(&extra));
}

#[test]
fn the_view_lists_them_as_ip_neigh_does() {
    let text = view::render(&with(&format!("{UPSTREAM}{COMPUTE1}")));
    assert!(
        text.contains(
            "Static neighbours (ip neigh, PERMANENT)\n    10.1.101.254     lladdr \
             52:54:00:01:01:fe dev qg-eb60f9c4-2d \
             (qrouter-680944ad-679c-4fe8-ae4b-258cd8ac337f)\n    10.0.1.31        lladdr \
             52:54:00:00:01:31 dev eth1\n"
        ),
        "{text}"
    );
    assert!(!view::render(&with("")).contains("Static neighbours"));
}
