//! Harnesses of the control plane's parsers: the control socket's request line
//! (`control::api::parse_request`) and the topology loader (`control::load_str`).
//!
//! Shared by the fuzz targets `control_request` and `config_load` and by
//! `control/tests/fuzz_repro.rs`.

use control::api::{parse_request, ErrorCode, Response};
use control::Topology;

/// Request line: never a panic. A request that parses is sent by a client as
/// `Request::to_line`, which parses back to the same request; one that does not is a
/// `bad_request` whose response line reads back as sent, with the id echoed.
pub fn request(data: &[u8]) {
    match parse_request(data) {
        Ok(req) => {
            let _ = req.op.mutates();
            let line = req.to_line();
            assert_eq!(line.last(), Some(&b'\n'));
            assert!(!line[..line.len() - 1].contains(&b'\n'), "one line");
            let again = parse_request(&line).expect("a request's own line parses");
            assert_eq!(again, req, "{}", String::from_utf8_lossy(&line));
        }
        Err((id, e)) => {
            assert_eq!(e.code, ErrorCode::BadRequest);
            assert!(!e.message.is_empty());
            let resp = Response::new(id, Err(e));
            let line = resp.to_line();
            let back: Response =
                serde_json::from_slice(&line).expect("a response line is JSON of a response");
            assert_eq!(back, resp);
        }
    }
}

/// Topology file: never a panic; an error says what is wrong. A topology that loads is
/// shown by `--check`, compiles with its devices attached, and survives the state file's
/// JSON round trip unchanged.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let topo = match control::load_str(&text, "fuzz.toml") {
        Ok(topo) => topo,
        Err(e) => {
            assert!(e.messages().iter().all(|m| !m.is_empty()), "{e:?}");
            return;
        }
    };
    assert!(!control::view::render(&topo).is_empty());
    let names: Vec<String> = topo.devices().into_iter().map(|(n, _)| n).collect();
    if let Err(e) = control::compile(&topo, &names, 1) {
        panic!("a topology that validates does not compile: {e}");
    }
    let json = serde_json::to_string(&topo).expect("a topology serializes");
    let mut back: Topology = serde_json::from_str(&json).expect("and reads back");
    back.origin.clone_from(&topo.origin);
    assert_eq!(back, topo, "{json}");
}

/// Request lines to start fuzzing from.
pub fn request_seeds() -> Vec<Vec<u8>> {
    [
        r#"{"id":1,"op":"network.list","args":{}}"#,
        r#"{"id":"a","op":"port.create","args":{"network":"tenantA-Net","name":"web","fixed_ips":[{"ip_address":"10.0.0.42"}],"security_groups":["default"]}}"#,
        r#"{"id":2,"op":"subnet.create","args":{"network":"tenantA-Net","cidr":"10.0.0.128/25","allocation_pools":[{"start":"10.0.0.130","end":"10.0.0.140"}]}}"#,
        r#"{"id":3,"op":"floatingip.associate","args":{"id":"10.1.101.82","port":"1653ec91-ad7d-40d9-b777-f74aec697026"}}"#,
        r#"{"id":4,"op":"security_group_rule.create","args":{"security_group":"default","direction":"ingress","protocol":"tcp","port_range_min":22,"port_range_max":22,"remote_ip_prefix":"0.0.0.0/0"}}"#,
        r#"{"id":[1,{"x":null}],"op":"router.interface_remove","args":{"router":"tenant-R1","subnet":"c37d8ed0-372e-4b24-9ba2-897c38c6ddbf"}}"#,
        r#"{"id":1,"op":"port.frobnicate"}"#,
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

/// Topology files to start fuzzing from.
pub fn config_seeds() -> Vec<Vec<u8>> {
    let reference = include_str!("../../configs/tenant-a.toml");
    let small = r#"
[[network]]
id = "n1"
segmentation_id = 5

[[subnet]]
id = "s1"
network_id = "n1"
cidr = "192.168.1.0/24"
gateway_ip = "192.168.1.1"

[[port]]
id = "p1"
network_id = "n1"
mac_address = "fa:16:3e:00:00:01"
fixed_ips = [{ subnet_id = "s1", ip_address = "192.168.1.10" }]
binding = { local = { devargs = "net_null0" } }

[[tunnel_peer]]
remote_ip = "10.0.1.31"

[[uplink]]
name = "eth1"
devargs = "net_null1"
role = "underlay"
local_ip = "10.0.1.21/24"
mac = "52:54:00:00:01:21"

[[uplink]]
name = "eth3"
devargs = "net_null2"
role = "trunk"
vlans = { 100 = "n1" }
"#;
    vec![reference.as_bytes().to_vec(), small.as_bytes().to_vec()]
}
