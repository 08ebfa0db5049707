//! The reference topology `configs/tenant-a.toml`: it loads, its derived names are the
//! seed's, every validation error kind is reported with file, resource and field, and it
//! compiles into the expected snapshot.

use control::model::{owner, DevargsError};
use control::naming::{qdhcp_ns, qrouter_ns, sg_chain, Chain};
use control::{compile, load_file, load_str, view, LoadError, Topology};
use vrouter::tables::{Dest, PortRole};
use vrouter::wire::Mac;

const TENANT_A: &str = include_str!("../../configs/tenant-a.toml");
const ORIGIN: &str = "configs/x.toml";
const NET_A: &str = "7c22bbd9-166c-4610-9a3d-3b8b92c77518";
const EXT_NET: &str = "c8699820-7c6d-4441-9602-3425f2c630ec";
const SUBNET_A: &str = "c37d8ed0-372e-4b24-9ba2-897c38c6ddbf";
const SUBNET_EXT: &str = "2c4155c9-5a2e-471c-a4d8-40a86b45ab0a";
const VM001_PORT: &str = "d7233b80-9d4b-4ef6-a60d-19b3be661069";
const VM002_PORT: &str = "1653ec91-ad7d-40d9-b777-f74aec697026";
const SG: &str = "8bd8fb6b-7141-4900-8321-390cc1a5d999";

fn tenant_a() -> Topology {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/tenant-a.toml");
    load_file(path).unwrap_or_else(|e| panic!("{e}"))
}

/// The reference text with each `(from, to)` replaced once (each `from` must occur).
fn edited(edits: &[(&str, &str)]) -> String {
    let mut text = TENANT_A.to_owned();
    for (from, to) in edits {
        assert!(text.contains(from), "not in tenant-a.toml: {from}");
        text = text.replacen(from, to, 1);
    }
    text
}

/// The validation messages of `text`, which must parse but not validate.
fn errors(text: &str) -> Vec<String> {
    match load_str(text, ORIGIN) {
        Err(e @ LoadError::Invalid(_)) => e.messages(),
        Err(e) => panic!("not a validation error: {e}"),
        Ok(_) => panic!("validated"),
    }
}

/// The single validation message of `text`.
fn error(text: &str) -> String {
    let mut errs = errors(text);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    errs.remove(0)
}

fn appended(extra: &str) -> String {
    format!("{TENANT_A}\n{extra}")
}

#[test]
fn tenant_a_loads_and_validates() {
    let topo = tenant_a();
    assert_eq!(topo.networks.len(), 2);
    assert_eq!(topo.subnets.len(), 2);
    assert_eq!(topo.ports.len(), 7);
    assert_eq!(topo.routers[0].name, "tenant-R1");
    assert_eq!(topo.security_groups[0].rules.len(), 5);
    assert_eq!(topo.local_vlans(), vec![Some(10), Some(11)]);
    assert_eq!(topo.networks[0].effective_mtu(), 1458);
    assert_eq!(topo.networks[1].effective_mtu(), 1500);
    assert!(topo
        .origin
        .as_deref()
        .unwrap()
        .ends_with("configs/tenant-a.toml"));
}

#[test]
fn derived_names_match_the_seed() {
    let topo = tenant_a();
    let names: Vec<String> = topo.ports.iter().map(|p| p.device_name()).collect();
    for want in [
        "tap1653ec91-ad",
        "qr-81388454-30",
        "qg-eb60f9c4-2d",
        "tap2df7c3ed-df",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
    }
    let peers: Vec<String> = topo.tunnel_peers.iter().filter_map(|p| p.name()).collect();
    assert_eq!(peers, ["gre-0a00011f", "gre-0a000129"]);
    assert_eq!(
        qrouter_ns(&topo.routers[0].id),
        "qrouter-680944ad-679c-4fe8-ae4b-258cd8ac337f"
    );
    assert_eq!(
        qdhcp_ns(NET_A),
        "qdhcp-7c22bbd9-166c-4610-9a3d-3b8b92c77518"
    );
    assert_eq!(
        sg_chain(Chain::Ingress, VM002_PORT),
        "neutron-openvswi-i1653ec91-a"
    );
}

#[test]
fn the_view_shows_namespaces_bridges_tunnels_and_devices() {
    let text = view::render(&tenant_a());
    for want in [
        "qrouter-680944ad-679c-4fe8-ae4b-258cd8ac337f",
        "qdhcp-7c22bbd9-166c-4610-9a3d-3b8b92c77518",
        "Bridge br-int\n        Port \"qr-81388454-30\"\n            tag: 10\n",
        "Port \"tap2df7c3ed-df\"\n            tag: 10\n",
        "options: {in_key=flow, local_ip=\"10.0.1.21\", out_key=flow, remote_ip=\"10.0.1.31\"}",
        "Port \"gre-0a000129\"",
        "Bridge br-ex\n        Port \"qg-eb60f9c4-2d\"",
        "Port \"eth2\"",
        "tag 10   <-> tun_id 0x2   tenantA-Net 7c22bbd9-166c-4610-9a3d-3b8b92c77518",
        "eth1             net_tap0,iface=vr-eth1",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    let bridges = &text[..text.find("\nPorts").expect("a ports section")];
    assert!(
        !bridges.contains("tapd7233b80-9d"),
        "remote VM ports are on no bridge of this node"
    );
    assert!(
        text.contains(
            "tapd7233b80-9d   d7233b80-9d4b-4ef6-a60d-19b3be661069 fa:16:3e:75:e0:5a 10.0.0.10"
        ),
        "the ports section lists every port:\n{text}"
    );
}

// ---- TOML errors ------------------------------------------------------------------------

#[test]
fn unknown_keys_are_reported_with_line_and_column() {
    let text = edited(&[("name = \"tenant-R1\"", "name = \"tenant-R1\"\nha = true")]);
    let line = text.lines().position(|l| l == "ha = true").unwrap() + 1;
    let msg = load_str(&text, ORIGIN).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!(
            "{ORIGIN}:{line}:1: unknown field `ha`, expected one of"
        )),
        "{msg}"
    );
}

#[test]
fn wrong_types_are_reported_with_line_and_column() {
    let text = edited(&[("segmentation_id = 2 ", "segmentation_id = \"2\"")]);
    let line = text
        .lines()
        .position(|l| l.starts_with("segmentation_id"))
        .unwrap()
        + 1;
    let msg = load_str(&text, ORIGIN).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!("{ORIGIN}:{line}:19: invalid type: string \"2\"")),
        "{msg}"
    );
}

#[test]
fn unknown_uplink_roles_and_keys_are_parse_errors() {
    let external = "role = \"external\"\nnetwork_id";
    let text = edited(&[(external, "role = \"uplink\"\nnetwork_id")]);
    let msg = load_str(&text, ORIGIN).unwrap_err().to_string();
    assert!(
        msg.starts_with(ORIGIN) && msg.contains("unknown variant `uplink`"),
        "{msg}"
    );
    let text = edited(&[(external, "role = \"external\"\nmac = \"x\"\nnetwork_id")]);
    let msg = load_str(&text, ORIGIN).unwrap_err().to_string();
    assert!(
        msg.ends_with(": uplink eth2: `mac` does not apply to role \"external\""),
        "{msg}"
    );
    let text = edited(&[(external, "role = \"external\"\nspeed = 10\nnetwork_id")]);
    let line = text.lines().position(|l| l == "speed = 10").unwrap() + 1;
    let msg = load_str(&text, ORIGIN).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!("{ORIGIN}:{line}:1: unknown field `speed`")),
        "{msg}"
    );
    let text = edited(&[("mac = \"52:54:00:00:01:21\"\n", "")]);
    let msg = load_str(&text, ORIGIN).unwrap_err().to_string();
    assert!(
        msg.ends_with(": uplink eth1: role \"underlay\" needs `mac`"),
        "{msg}"
    );
}

// ---- one test per validation error kind ------------------------------------------------

#[test]
fn bad_cidr() {
    let text = edited(&[("cidr = \"10.0.0.0/24\"", "cidr = \"10.0.0.0/33\"")]);
    assert_eq!(
        error(&text),
        format!("{ORIGIN}: subnet {SUBNET_A}: cidr: invalid CIDR \"10.0.0.0/33\"")
    );
}

#[test]
fn cidr_with_host_bits() {
    let text = edited(&[("cidr = \"10.0.0.0/24\"", "cidr = \"10.0.0.7/24\"")]);
    assert_eq!(
        error(&text),
        format!(
            "{ORIGIN}: subnet {SUBNET_A}: cidr: \"10.0.0.7/24\" has host bits set \
             (the network is 10.0.0.0/24)"
        )
    );
}

#[test]
fn bad_ip() {
    let text = edited(&[("\"10.0.0.10\"", "\"10.0.0.300\"")]);
    assert_eq!(
        error(&text),
        format!(
            "{ORIGIN}: port {VM001_PORT}: fixed_ips[0].ip_address: \
             invalid IPv4 address \"10.0.0.300\""
        )
    );
}

#[test]
fn bad_mac() {
    let text = edited(&[("fa:16:3e:75:e0:5a", "fa:16:3e:75:e0:zz")]);
    assert_eq!(
        error(&text),
        format!(
            "{ORIGIN}: port {VM001_PORT}: mac_address: invalid MAC address \"fa:16:3e:75:e0:zz\""
        )
    );
}

#[test]
fn gateway_outside_subnet() {
    let text = edited(&[("gateway_ip = \"10.0.0.1\"", "gateway_ip = \"10.0.1.1\"")]);
    assert_eq!(
        errors(&text),
        [
            format!(
                "{ORIGIN}: subnet {SUBNET_A}: gateway_ip: 10.0.1.1 is outside cidr 10.0.0.0/24"
            ),
            // The router interface keeps 10.0.0.1, which is now neither gateway nor pool.
            format!(
                "{ORIGIN}: port 81388454-30e0-45e4-b3dd-b7b2e8dbf067: fixed_ips[0].ip_address: \
                 10.0.0.1 is outside the allocation pools of subnet {SUBNET_A}"
            ),
        ]
    );
}

#[test]
fn fixed_ip_outside_subnet() {
    let text = edited(&[("\"10.0.0.10\"", "\"10.0.5.10\"")]);
    assert_eq!(
        error(&text),
        format!(
            "{ORIGIN}: port {VM001_PORT}: fixed_ips[0].ip_address: \
             10.0.5.10 is outside subnet {SUBNET_A} (10.0.0.0/24)"
        )
    );
}

#[test]
fn fixed_ip_outside_pools() {
    let text = edited(&[(
        "ip_address = \"10.1.101.83\"",
        "ip_address = \"10.1.101.150\"",
    )]);
    assert_eq!(
        error(&text),
        format!(
            "{ORIGIN}: port bfe7eaa4-26bc-4fe9-9da2-550abf44beaa: fixed_ips[0].ip_address: \
             10.1.101.150 is outside the allocation pools of subnet {SUBNET_EXT}"
        )
    );
}

#[test]
fn gateway_ip_is_for_router_interfaces_only() {
    let text = edited(&[(
        "ip_address = \"10.1.101.83\"",
        "ip_address = \"10.1.101.254\"",
    )]);
    assert_eq!(
        error(&text),
        format!(
            "{ORIGIN}: port bfe7eaa4-26bc-4fe9-9da2-550abf44beaa: fixed_ips[0].ip_address: \
             10.1.101.254 is the gateway_ip of subnet {SUBNET_EXT}; \
             only a network:router_interface port may use it"
        )
    );
}

#[test]
fn pool_outside_cidr() {
    let text = edited(&[("end = \"10.0.0.254\"", "end = \"10.0.1.254\"")]);
    assert_eq!(
        error(&text),
        format!(
            "{ORIGIN}: subnet {SUBNET_A}: allocation_pools[0]: 10.0.0.2-10.0.1.254 is outside \
             the host range 10.0.0.1-10.0.0.254 of cidr 10.0.0.0/24"
        )
    );
}

#[test]
fn pool_holding_the_gateway() {
    let text = edited(&[("start = \"10.0.0.2\"", "start = \"10.0.0.1\"")]);
    assert_eq!(
        error(&text),
        format!(
            "{ORIGIN}: subnet {SUBNET_A}: allocation_pools[0]: contains the gateway_ip 10.0.0.1"
        )
    );
}

#[test]
fn overlapping_subnets() {
    let text = appended(&format!(
        "[[subnet]]\nid = \"s3\"\nnetwork_id = \"{EXT_NET}\"\ncidr = \"10.0.0.128/25\"\n"
    ));
    assert_eq!(
        error(&text),
        format!(
            "{ORIGIN}: subnet s3: cidr: 10.0.0.128/25 overlaps subnet {SUBNET_A} (10.0.0.0/24)"
        )
    );
}

#[test]
fn duplicate_ids_across_resources() {
    let text = appended(&format!("[[router]]\nid = \"{NET_A}\"\n"));
    assert_eq!(
        error(&text),
        format!("{ORIGIN}: router {NET_A}: id: duplicate id, already used by network #0")
    );
}

#[test]
fn missing_ids_are_named_by_index() {
    let text = appended("[[router]]\nid = \"\"\n");
    assert_eq!(
        error(&text),
        format!("{ORIGIN}: router #1: id: must not be empty")
    );
}

#[test]
fn duplicate_mac_on_a_network() {
    let text = appended(&format!(
        "[[port]]\nid = \"p9\"\nnetwork_id = \"{NET_A}\"\nmac_address = \"fa:16:3e:75:e0:5a\"\n"
    ));
    assert_eq!(
        error(&text),
        format!(
            "{ORIGIN}: port p9: mac_address: fa:16:3e:75:e0:5a already used on network {NET_A} \
             by port {VM001_PORT}"
        )
    );
}

#[test]
fn same_mac_on_another_network_is_fine() {
    let text = appended(&format!(
        "[[port]]\nid = \"p9\"\nnetwork_id = \"{EXT_NET}\"\nmac_address = \"fa:16:3e:75:e0:5a\"\n"
    ));
    load_str(&text, ORIGIN).unwrap();
}

#[test]
fn duplicate_ip_in_a_subnet() {
    let text = appended(&format!(
        "[[port]]\nid = \"p9\"\nnetwork_id = \"{NET_A}\"\nmac_address = \"fa:16:3e:00:00:09\"\n\
         fixed_ips = [{{ subnet_id = \"{SUBNET_A}\", ip_address = \"10.0.0.9\" }}]\n"
    ));
    assert_eq!(
        error(&text),
        format!(
            "{ORIGIN}: port p9: fixed_ips[0].ip_address: 10.0.0.9 already used in subnet \
             {SUBNET_A} by port {VM002_PORT}"
        )
    );
}

#[test]
fn dangling_network_and_subnet_ids() {
    let text = appended(
        "[[port]]\nid = \"p9\"\nnetwork_id = \"nope\"\nmac_address = \"fa:16:3e:00:00:09\"\n\
         fixed_ips = [{ subnet_id = \"gone\", ip_address = \"10.0.0.99\" }]\n\
         [[subnet]]\nid = \"s9\"\nnetwork_id = \"nope\"\ncidr = \"192.168.0.0/24\"\n",
    );
    assert_eq!(
        errors(&text),
        [
            format!("{ORIGIN}: subnet s9: network_id: unknown network \"nope\""),
            format!("{ORIGIN}: port p9: network_id: unknown network \"nope\""),
            format!("{ORIGIN}: port p9: fixed_ips[0].subnet_id: unknown subnet \"gone\""),
        ]
    );
}

#[test]
fn fixed_ip_on_a_subnet_of_another_network() {
    let text = edited(&[(
        "subnet_id = \"c37d8ed0-372e-4b24-9ba2-897c38c6ddbf\", ip_address = \"10.0.0.10\"",
        "subnet_id = \"2c4155c9-5a2e-471c-a4d8-40a86b45ab0a\", ip_address = \"10.1.101.90\"",
    )]);
    assert_eq!(
        error(&text),
        format!(
            "{ORIGIN}: port {VM001_PORT}: fixed_ips[0].subnet_id: subnet {SUBNET_EXT} belongs \
             to network {EXT_NET}, not to the port's network {NET_A}"
        )
    );
}

#[test]
fn dangling_security_groups() {
    let text = edited(&[
        (
            "security_groups = [\"8bd8fb6b-7141-4900-8321-390cc1a5d999\"]",
            "security_groups = [\"nope\"]",
        ),
        (
            "remote_group_id = \"8bd8fb6b",
            "remote_group_id = \"0bd8fb6b",
        ),
    ]);
    assert_eq!(
        errors(&text),
        [
            format!(
                "{ORIGIN}: port {VM001_PORT}: security_groups[0]: unknown security group \"nope\""
            ),
            format!(
                "{ORIGIN}: security_group {SG}: rules[0].remote_group_id: unknown security group \
                 \"0bd8fb6b-7141-4900-8321-390cc1a5d999\""
            ),
        ]
    );
}

#[test]
fn bad_rules() {
    let text = edited(&[
        ("protocol = \"icmp\"", "protocol = \"gre\""),
        ("port_range_min = 1\n", "port_range_min = 100\n"),
        ("port_range_max = 65535\n", "port_range_max = 10\n"),
        (
            "direction = \"egress\"",
            "direction = \"egress\"\nremote_ip_prefix = \"10.0.0.0/40\"",
        ),
    ]);
    assert_eq!(
        errors(&text),
        [
            format!(
                "{ORIGIN}: security_group {SG}: rules[1].protocol: unknown protocol \"gre\" \
                 (expected tcp, udp, icmp or a number 0-255)"
            ),
            format!("{ORIGIN}: security_group {SG}: rules[2].port_range_min: 100 is above port_range_max 10"),
            format!("{ORIGIN}: security_group {SG}: rules[4].remote_ip_prefix: invalid CIDR \"10.0.0.0/40\""),
        ]
    );
}

#[test]
fn floating_ip_errors() {
    let text = edited(&[
        (
            "floating_ip_address = \"10.1.101.82\"",
            "floating_ip_address = \"10.1.102.82\"",
        ),
        (
            "floating_ip_address = \"10.1.101.83\"",
            "floating_ip_address = \"10.1.101.83\"\nport_id = \"nope\"",
        ),
    ]);
    assert_eq!(
        errors(&text),
        [
            format!(
                "{ORIGIN}: floatingip 00000000-0000-4000-8000-0a0165000052: floating_ip_address: \
                 10.1.102.82 is not in a subnet of network {EXT_NET}"
            ),
            format!(
                "{ORIGIN}: floatingip 00000000-0000-4000-8000-0a0165000053: port_id: \
                 unknown port \"nope\""
            ),
        ]
    );
}

#[test]
fn floating_ip_on_a_tenant_network() {
    let text = edited(&[(
        "floating_ip_address = \"10.1.101.82\"\nfloating_network_id = \"c8699820-7c6d-4441-9602-3425f2c630ec\"",
        "floating_ip_address = \"10.0.0.82\"\nfloating_network_id = \"7c22bbd9-166c-4610-9a3d-3b8b92c77518\"",
    )]);
    assert_eq!(
        error(&text),
        format!(
            "{ORIGIN}: floatingip 00000000-0000-4000-8000-0a0165000052: floating_network_id: \
             network {NET_A} is not external (router_external = false)"
        )
    );
}

#[test]
fn router_gateway_on_a_non_external_network() {
    let text = edited(&[("router_external = true ", "router_external = false ")]);
    let errs = errors(&text);
    assert_eq!(
        errs[0],
        format!(
            "{ORIGIN}: router 680944ad-679c-4fe8-ae4b-258cd8ac337f: external_gateway.network_id: \
             network {EXT_NET} is not external (router_external = false)"
        )
    );
    assert_eq!(errs.len(), 3, "{errs:#?}"); // and both floating IPs
}

#[test]
fn dangling_router_external_network() {
    let text = edited(&[(
        "external_gateway = { network_id = \"c8699820",
        "external_gateway = { network_id = \"x8699820",
    )]);
    assert_eq!(
        errors(&text),
        [
            format!(
                "{ORIGIN}: port eb60f9c4-2ddb-49ee-8b78-2fc2564a7600: network_id: router \
                 680944ad-679c-4fe8-ae4b-258cd8ac337f has its external gateway on network \
                 x8699820-7c6d-4441-9602-3425f2c630ec"
            ),
            format!(
                "{ORIGIN}: router 680944ad-679c-4fe8-ae4b-258cd8ac337f: \
                 external_gateway.network_id: unknown network \
                 \"x8699820-7c6d-4441-9602-3425f2c630ec\""
            ),
        ]
    );
}

#[test]
fn peer_binding_to_an_unknown_peer() {
    let text = edited(&[(
        "device_id = \"f467ba96-09c4-4eb7-b79c-5391f326c7d1\"",
        "device_id = \"f467ba96-09c4-4eb7-b79c-5391f326c7d1\"\nbinding = { peer = \"10.0.1.99\" }",
    )]);
    assert_eq!(
        error(&text),
        format!("{ORIGIN}: port {VM001_PORT}: binding.peer: 10.0.1.99 is not a tunnel_peer")
    );
}

#[test]
fn peer_binding_on_a_flat_network() {
    let text = appended(&format!(
        "[[port]]\nid = \"p9\"\nnetwork_id = \"{EXT_NET}\"\nmac_address = \"fa:16:3e:00:00:09\"\n\
         binding = {{ peer = \"10.0.1.31\" }}\n"
    ));
    assert_eq!(
        error(&text),
        format!(
            "{ORIGIN}: port p9: binding.peer: network {EXT_NET} has no segmentation_id: \
             it is not carried over GRE"
        )
    );
}

#[test]
fn binding_a_port_served_inside_the_appliance() {
    let text = edited(&[(
        "device_owner = \"network:dhcp\"",
        "device_owner = \"network:dhcp\"\nbinding = { local = { devargs = \"net_tap9\" } }",
    )]);
    assert_eq!(
        error(&text),
        format!(
            "{ORIGIN}: port 2df7c3ed-dfbb-480d-9cd3-fdefa079e66a: binding: a network:dhcp port \
             is served inside the appliance and cannot be bound"
        )
    );
}

#[test]
fn local_binding_with_a_taken_device() {
    let text = edited(&[(
        "device_id = \"f467ba96-09c4-4eb7-b79c-5391f326c7d1\"",
        "device_id = \"f467ba96-09c4-4eb7-b79c-5391f326c7d1\"\n\
         binding = { local = { devargs = \"net_tap1,iface=vm1\" } }",
    )]);
    assert_eq!(
        error(&text),
        format!(
            "{ORIGIN}: port {VM001_PORT}: binding.local.devargs: DPDK device \"net_tap1\" is \
             already used by uplink eth2"
        )
    );
}

#[test]
fn duplicate_local_vlan() {
    let text = edited(&[("local_vlan = 11 ", "local_vlan = 10 ")]);
    assert_eq!(
        error(&text),
        format!("{ORIGIN}: network {EXT_NET}: local_vlan: 10 already used by network {NET_A}")
    );
}

#[test]
fn local_vlan_out_of_range() {
    let text = edited(&[("local_vlan = 11 ", "local_vlan = 4095 ")]);
    assert_eq!(
        error(&text),
        format!("{ORIGIN}: network {EXT_NET}: local_vlan: 4095 is out of 1..=4094")
    );
}

#[test]
fn duplicate_segmentation_id() {
    let text = appended("[[network]]\nid = \"n3\"\nsegmentation_id = 2\n");
    assert_eq!(
        error(&text),
        format!("{ORIGIN}: network n3: segmentation_id: 2 already used by network {NET_A}")
    );
}

#[test]
fn empty_devargs() {
    let text = edited(&[("devargs = \"net_tap1,iface=vr-eth2\"", "devargs = \"\"")]);
    assert_eq!(
        error(&text),
        format!("{ORIGIN}: uplink eth2: devargs: must not be empty")
    );
}

#[test]
fn two_underlays() {
    let text = appended(
        "[[uplink]]\nname = \"eth3\"\ndevargs = \"net_tap3\"\nrole = \"underlay\"\n\
         local_ip = \"10.0.2.21/24\"\nmac = \"52:54:00:00:02:21\"\n",
    );
    assert_eq!(
        error(&text),
        format!(
            "{ORIGIN}: uplink eth3: role: a second underlay (uplink eth1 is already the underlay)"
        )
    );
}

#[test]
fn trunk_vid_out_of_range() {
    let text = appended(&format!(
        "[[uplink]]\nname = \"eth3\"\ndevargs = \"net_tap3\"\nrole = \"trunk\"\n\
         vlans = {{ 4095 = \"{NET_A}\", 100 = \"nope\" }}\n"
    ));
    assert_eq!(
        errors(&text),
        [
            format!("{ORIGIN}: uplink eth3: vlans.100: unknown network \"nope\""),
            format!("{ORIGIN}: uplink eth3: vlans.4095: VLAN id out of 1..=4094"),
        ]
    );
}

#[test]
fn underlay_errors() {
    let text = edited(&[
        ("local_ip = \"10.0.1.21/24\"", "local_ip = \"10.0.1.21\""),
        ("mac = \"52:54:00:00:01:21\"", "mac = \"01:54:00:00:01:21\""),
    ]);
    assert_eq!(
        errors(&text),
        [
            format!(
                "{ORIGIN}: uplink eth1: mac: invalid unicast MAC address \"01:54:00:00:01:21\""
            ),
            format!(
                "{ORIGIN}: uplink eth1: local_ip: invalid address/prefix \"10.0.1.21\" \
                 (e.g. \"10.0.1.21/24\")"
            ),
        ]
    );
}

#[test]
fn tunnel_peer_errors() {
    let text = appended(
        "[[tunnel_peer]]\nremote_ip = \"10.0.1.31\"\n[[tunnel_peer]]\nremote_ip = \"10.0.1.21\"\n",
    );
    assert_eq!(
        errors(&text),
        [
            format!("{ORIGIN}: tunnel_peer 10.0.1.31: remote_ip: 10.0.1.31 is listed twice"),
            format!("{ORIGIN}: tunnel_peer 10.0.1.21: remote_ip: 10.0.1.21 is the underlay's own address"),
        ]
    );
}

#[test]
fn mac_table_limits() {
    let text = edited(&[("capacity = 65536", "capacity = 0")]);
    assert_eq!(
        error(&text),
        format!("{ORIGIN}: mac_table: capacity: must be at least 1")
    );
}

#[test]
fn several_errors_are_all_listed() {
    let text = edited(&[
        ("cidr = \"10.1.101.0/24\"", "cidr = \"10.1.101.0/33\""),
        ("fa:16:3e:51:a2:97", "fa:16:3e:51:a2"),
        ("local_vlan = 11 ", "local_vlan = 10 "),
        ("devargs = \"net_tap1,iface=vr-eth2\"", "devargs = \"\""),
    ]);
    let err = load_str(&text, ORIGIN).unwrap_err();
    let msgs = err.messages();
    assert_eq!(
        msgs,
        [
            format!("{ORIGIN}: network {EXT_NET}: local_vlan: 10 already used by network {NET_A}"),
            format!("{ORIGIN}: subnet {SUBNET_EXT}: cidr: invalid CIDR \"10.1.101.0/33\""),
            format!("{ORIGIN}: uplink eth2: devargs: must not be empty"),
            format!(
                "{ORIGIN}: port {VM002_PORT}: mac_address: invalid MAC address \"fa:16:3e:51:a2\""
            ),
        ]
    );
    assert_eq!(err.to_string(), msgs.join("\n"));
}

// ---- devices, --devargs and compile ----------------------------------------------------

#[test]
fn devices_list_uplinks_then_local_ports() {
    let mut topo = tenant_a();
    topo.set_devargs("eth1", "0000:03:00.0").unwrap();
    topo.set_devargs("tap1653ec91-ad", "net_tap2,iface=x")
        .unwrap();
    assert_eq!(
        topo.devices(),
        [
            ("eth1".to_owned(), "0000:03:00.0".to_owned()),
            ("eth2".to_owned(), "net_tap1,iface=vr-eth2".to_owned()),
            ("tap1653ec91-ad".to_owned(), "net_tap2,iface=x".to_owned()),
        ]
    );
    topo.validate().unwrap();
}

#[test]
fn set_devargs_rejects_unknown_and_internal_devices() {
    let mut topo = tenant_a();
    let err = topo.set_devargs("tap00000000-00", "net_tap2").unwrap_err();
    assert_eq!(err, DevargsError::UnknownDevice("tap00000000-00".into()));
    assert!(err.to_string().contains("tap00000000-00"), "{err}");
    let err = topo.set_devargs("tap2df7c3ed-df", "net_tap2").unwrap_err();
    assert!(matches!(err, DevargsError::NotBindable { ref owner, .. } if owner == owner::DHCP));
    let err = topo.set_devargs("eth1", " ").unwrap_err();
    assert_eq!(err, DevargsError::Empty("eth1".into()));
}

#[test]
fn compile_builds_the_snapshot() {
    let mut topo = tenant_a();
    topo.set_devargs("tap1653ec91-ad", "net_tap2,iface=x")
        .unwrap();
    let attached: Vec<String> = topo.devices().into_iter().map(|(n, _)| n).collect();
    let snap = compile(&topo, &attached, 7).unwrap();
    assert_eq!(snap.generation, 7);
    assert_eq!(snap.ports.len(), 3);
    assert!(matches!(snap.ports[0].role, PortRole::Underlay));
    assert!(matches!(snap.ports[1].role, PortRole::Access { net: 11 }));
    assert!(matches!(snap.ports[2].role, PortRole::Access { net: 10 }));
    assert_eq!(snap.ports[2].name, "tap1653ec91-ad");

    assert_eq!(snap.networks.len(), 12);
    let net_a = snap.network(10).unwrap();
    assert_eq!(
        (net_a.id.as_str(), net_a.tunnel_key, net_a.mtu),
        (NET_A, Some(2), 1458)
    );
    assert_eq!(net_a.members, [(2, None)]);
    let ext = snap.network(11).unwrap();
    assert_eq!(
        (ext.tunnel_key, ext.mtu, ext.members.as_slice()),
        (None, 1500, &[(1, None)][..])
    );
    assert!(snap.networks[..10].iter().all(Option::is_none));
    assert_eq!(snap.key_to_net.len(), 1);
    assert_eq!(snap.key_to_net[&2], 10);

    let u = snap.underlay.as_ref().unwrap();
    assert_eq!(
        (u.port, u.local_ip, u.prefix_len, u.gateway),
        (0, 0x0a00_0115, 24, None)
    );
    assert_eq!(u.mac, "52:54:00:00:01:21".parse::<Mac>().unwrap());

    assert_eq!(snap.peer_list, [0x0a00_011f, 0x0a00_0129]);
    assert_eq!(snap.peers[&0x0a00_011f].name, "gre-0a00011f");
    assert_eq!(snap.peers[&0x0a00_0129].name, "gre-0a000129");

    let mac = |m: &str| m.parse::<Mac>().unwrap();
    // vm002 bound locally; the router interface, gateway and DHCP port served by the appliance.
    assert_eq!(
        snap.static_macs,
        [
            (10, mac("fa:16:3e:51:a2:97"), Dest::Port(2)),
            (10, mac("fa:16:3e:f7:e6:9c"), Dest::Local),
            (11, mac("fa:16:3e:78:39:e9"), Dest::Local),
            (10, mac("fa:16:3e:da:41:49"), Dest::Local),
        ]
    );
    let tenant = snap.network(10).unwrap();
    let ips: Vec<u32> = tenant.locals.iter().map(|l| l.ip).collect();
    assert_eq!(ips, [0x0a00_0001, 0x0a00_0003]);
    assert_eq!(tenant.locals[0].kind, vrouter::tables::LocalKind::Router(0));
    assert_eq!(tenant.locals[1].kind, vrouter::tables::LocalKind::Dhcp);
    assert_eq!((snap.mac.capacity, snap.mac.aging_secs), (65536, 300));
}

#[test]
fn compile_maps_peer_bound_ports_and_unused_devices() {
    let text = edited(&[(
        "device_id = \"f467ba96-09c4-4eb7-b79c-5391f326c7d1\"",
        "device_id = \"f467ba96-09c4-4eb7-b79c-5391f326c7d1\"\nbinding = { peer = \"10.0.1.41\" }",
    )]);
    let topo = load_str(&text, ORIGIN).unwrap();
    let attached = ["eth1", "eth2", "tapgone"].map(String::from);
    let snap = compile(&topo, &attached, 1).unwrap();
    assert!(matches!(snap.ports[2].role, PortRole::Unused));
    let vm001: Mac = "fa:16:3e:75:e0:5a".parse().unwrap();
    assert_eq!(snap.static_macs[0], (10, vm001, Dest::Peer(0x0a00_0129)));
}

#[test]
fn compile_refuses_missing_and_duplicate_devices() {
    let topo = tenant_a();
    let err = compile(&topo, &["eth1".to_owned()], 1).unwrap_err();
    assert_eq!(
        err.to_string(),
        "device eth2 is needed by the topology but not attached"
    );
    let err = compile(&topo, &["eth1", "eth2", "eth1"].map(String::from), 1).unwrap_err();
    assert_eq!(err.to_string(), "device eth1 is attached twice");
}

#[test]
fn compile_refuses_an_invalid_topology() {
    let mut topo = tenant_a();
    topo.networks[1].local_vlan = Some(10);
    let err = compile(&topo, &["eth1", "eth2"].map(String::from), 1).unwrap_err();
    assert!(
        err.to_string().contains("local_vlan: 10 already used"),
        "{err}"
    );
}

#[test]
fn trunks_tag_their_networks() {
    let text = appended(&format!(
        "[[uplink]]\nname = \"eth3\"\ndevargs = \"net_tap3\"\nrole = \"trunk\"\n\
         vlans = {{ 100 = \"{NET_A}\", 200 = \"{EXT_NET}\" }}\n"
    ));
    let topo = load_str(&text, ORIGIN).unwrap();
    let snap = compile(&topo, &["eth1", "eth2", "eth3"].map(String::from), 1).unwrap();
    let PortRole::Trunk { vlans } = &snap.ports[2].role else {
        panic!("{:?}", snap.ports[2].role)
    };
    assert_eq!((vlans[100], vlans[200], vlans[300]), (10, 11, 0));
    assert_eq!(snap.network(10).unwrap().members, [(2, Some(100))]);
    assert_eq!(
        snap.network(11).unwrap().members,
        [(1, None), (2, Some(200))]
    );
}

#[test]
fn the_model_round_trips_through_toml() {
    let topo = tenant_a();
    let text = toml::to_string(&topo).unwrap();
    let mut again = load_str(&text, "again").unwrap();
    again.origin = topo.origin.clone();
    assert_eq!(again, topo);
}

#[test]
fn the_default_group_keeps_the_seeds_rules_on_a_bound_port() {
    let mut topo = tenant_a();
    topo.set_devargs("tap1653ec91-ad", "net_null2").unwrap();
    let names: Vec<String> = topo.devices().into_iter().map(|(n, _)| n).collect();
    let snap = compile(&topo, &names, 1).unwrap();
    let acl = snap.acl(2).expect("vm002 is filtered");
    let kinds: Vec<(Option<u8>, (u16, u16), bool)> = acl
        .ingress
        .iter()
        .map(|r| {
            (
                r.proto,
                r.ports,
                matches!(r.remote, vrouter::tables::acl::Remote::Members(_)),
            )
        })
        .collect();
    // SPEC §5: any from members of the group, icmp, tcp and udp 1-65535.
    assert!(kinds.contains(&(None, (0, 65535), true)), "{kinds:?}");
    assert!(kinds.contains(&(Some(1), (0, 255), false)), "{kinds:?}");
    assert!(kinds.contains(&(Some(6), (1, 65535), false)), "{kinds:?}");
    assert!(kinds.contains(&(Some(17), (1, 65535), false)), "{kinds:?}");
    assert!(!acl.egress.is_empty(), "egress is allowed");
    assert_eq!(acl.dhcp_servers, [0x0a00_0003]);
    assert!(
        snap.acl(0).is_none() && snap.acl(1).is_none(),
        "uplinks are not filtered"
    );
}
