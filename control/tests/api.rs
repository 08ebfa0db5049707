//! The control service on the reference topology: every bad request is answered with its
//! error and changes nothing (model, persisted file, data plane); good ones are applied,
//! published and persisted; the state file survives crashes; the socket server serves
//! several clients at once, whatever one of them does.

mod common;

use common::TempDir;
use control::api::{ErrorCode, Response};
use control::server::{Server, ServerError, ServerOptions};
use control::service::Service;
use control::store::Store;
use control::{load_file, DataPlane, Topology, ViewData};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const NET_A: &str = "7c22bbd9-166c-4610-9a3d-3b8b92c77518";
const SUBNET_A: &str = "c37d8ed0-372e-4b24-9ba2-897c38c6ddbf";
const VM002_PORT: &str = "1653ec91-ad7d-40d9-b777-f74aec697026";
const ROUTER: &str = "680944ad-679c-4fe8-ae4b-258cd8ac337f";

/// A data plane that compiles what it is given and counts it; it can be told to refuse.
#[derive(Default)]
struct FakePlane {
    published: AtomicUsize,
    refuse: AtomicBool,
}

impl DataPlane for FakePlane {
    fn publish(&self, topo: &Topology) -> Result<(), control::api::ApiError> {
        if self.refuse.load(Ordering::SeqCst) {
            return Err(control::api::ApiError::invalid("refused by the data plane"));
        }
        let names: Vec<String> = topo.devices().into_iter().map(|(n, _)| n).collect();
        control::compile(topo, &names, 2)
            .map_err(|e| control::api::ApiError::invalid(e.to_string()))?;
        self.published.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn dump(&self) -> Result<ViewData, control::api::ApiError> {
        Ok(ViewData::default())
    }

    fn flush(&self, _: &control::plane::Flush) -> Result<u64, control::api::ApiError> {
        Ok(0)
    }
}

fn tenant_a() -> Topology {
    load_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../configs/tenant-a.toml"
    ))
    .unwrap()
}

/// A service on the reference topology, persisted in `dir`.
fn service(dir: &Path) -> (Service, Arc<FakePlane>) {
    let plane = Arc::new(FakePlane::default());
    let svc = Service::new(tenant_a(), Vec::new(), Store::new(dir), plane.clone()).unwrap();
    (svc, plane)
}

/// Sends one request line; returns the response.
fn call(svc: &Service, line: &str) -> Response {
    let out = svc.handle_line(line.as_bytes());
    assert_eq!(out.last(), Some(&b'\n'), "one line per response");
    serde_json::from_slice(&out).unwrap()
}

/// `op` with `args`; the result, which must be a success.
fn ok(svc: &Service, op: &str, args: Value) -> Value {
    let line = json!({"id": 7, "op": op, "args": args}).to_string();
    let r = call(svc, &line);
    assert_eq!(r.id, json!(7));
    r.into_result()
        .unwrap_or_else(|e| panic!("{op} {args}: {e:?}"))
}

/// Everything a client can list, to compare states.
fn everything(svc: &Service) -> Value {
    let ops = [
        "network.list",
        "subnet.list",
        "port.list",
        "router.list",
        "floatingip.list",
        "security_group.list",
        "tunnel_peer.list",
    ];
    Value::Array(ops.iter().map(|op| ok(svc, op, json!({}))).collect())
}

#[test]
fn bad_requests_are_answered_and_change_nothing() {
    let dir = TempDir::new("bad");
    let (svc, plane) = service(&dir.0);
    let file = || std::fs::read(dir.0.join("state.json")).unwrap();
    let (before, saved, published) = (
        everything(&svc),
        file(),
        plane.published.load(Ordering::SeqCst),
    );
    let port = |args: Value| json!({"id": 1, "op": "port.create", "args": args}).to_string();
    let cases: Vec<(&str, String, ErrorCode, &str)> = vec![
        ("invalid JSON", "{\"id\":1,\"op\":".into(), ErrorCode::BadRequest, "invalid JSON"),
        ("not an object", "[1,2]".into(), ErrorCode::BadRequest, "invalid JSON"),
        ("no op", r#"{"id":1,"args":{}}"#.into(), ErrorCode::BadRequest, "missing \"op\""),
        (
            "unknown operation",
            r#"{"id":1,"op":"port.frobnicate","args":{}}"#.into(),
            ErrorCode::BadRequest,
            "unknown operation \"port.frobnicate\"",
        ),
        ("missing field", port(json!({})), ErrorCode::BadRequest, "missing field `network`"),
        ("mistyped field", port(json!({"network": 7})), ErrorCode::BadRequest, "invalid type"),
        (
            "unknown field",
            port(json!({"network": NET_A, "colour": "red"})),
            ErrorCode::BadRequest,
            "unknown field `colour`",
        ),
        ("args not an object", r#"{"id":1,"op":"network.list","args":3}"#.into(), ErrorCode::BadRequest, "\"args\""),
        (
            "unknown id",
            r#"{"id":1,"op":"port.delete","args":{"id":"no-such-port"}}"#.into(),
            ErrorCode::NotFound,
            "no port has id or name \"no-such-port\"",
        ),
        (
            "unknown network",
            port(json!({"network": "no-such-net"})),
            ErrorCode::NotFound,
            "no network has id or name",
        ),
        (
            "duplicate MAC",
            port(json!({"network": "tenantA-Net", "mac_address": "fa:16:3e:75:e0:5a"})),
            ErrorCode::Conflict,
            "fa:16:3e:75:e0:5a already used on network",
        ),
        (
            "duplicate IP",
            port(json!({"network": NET_A, "fixed_ips": [{"ip_address": "10.0.0.9"}]})),
            ErrorCode::Conflict,
            "10.0.0.9 already used in subnet",
        ),
        (
            "IP outside the subnet",
            port(json!({"network": NET_A, "fixed_ips": [{"subnet_id": SUBNET_A, "ip_address": "10.9.9.9"}]})),
            ErrorCode::Invalid,
            "10.9.9.9 is outside subnet",
        ),
        (
            "IP in no subnet",
            port(json!({"network": NET_A, "fixed_ips": [{"ip_address": "10.9.9.9"}]})),
            ErrorCode::Invalid,
            "is not in a subnet of network",
        ),
        (
            "overlapping CIDR",
            json!({"id":1,"op":"subnet.create","args":{"network": "tenantA-Net", "cidr": "10.0.0.128/25"}}).to_string(),
            ErrorCode::Invalid,
            "overlaps subnet c37d8ed0",
        ),
        (
            "bad CIDR",
            json!({"id":1,"op":"subnet.create","args":{"network": NET_A, "cidr": "10.0.0.0/33"}}).to_string(),
            ErrorCode::Invalid,
            "invalid CIDR",
        ),
        (
            "network with ports",
            json!({"id":1,"op":"network.delete","args":{"id": "tenantA-Net"}}).to_string(),
            ErrorCode::Conflict,
            "still has",
        ),
        (
            "duplicate id",
            json!({"id":1,"op":"network.create","args":{"id": NET_A, "name": "again"}}).to_string(),
            ErrorCode::Conflict,
            "duplicate id",
        ),
        (
            "router interface port deleted as a port",
            json!({"id":1,"op":"port.delete","args":{"id": "81388454-30e0-45e4-b3dd-b7b2e8dbf067"}}).to_string(),
            ErrorCode::Conflict,
            "router-interface-delete",
        ),
        (
            "security group in use",
            json!({"id":1,"op":"security_group.delete","args":{"id": "default"}}).to_string(),
            ErrorCode::Conflict,
            "in use by port",
        ),
        (
            "binding to an unknown peer",
            port(json!({"network": NET_A, "binding": {"peer": "10.0.1.99"}})),
            ErrorCode::Invalid,
            "10.0.1.99 is not a tunnel_peer",
        ),
    ];
    for (what, line, code, needle) in cases {
        let r = call(&svc, &line);
        let e = r
            .error
            .unwrap_or_else(|| panic!("{what}: accepted: {line}"));
        assert_eq!(e.code, code, "{what}: {}", e.message);
        assert!(
            e.message.contains(needle),
            "{what}: {:?} should contain {needle:?}",
            e.message
        );
        let sent = serde_json::from_str::<Value>(&line).ok();
        let id = sent
            .and_then(|v| v.get("id").cloned())
            .unwrap_or(Value::Null);
        assert_eq!(r.id, id, "{what}: the id is echoed when it can be read");
        assert_eq!(everything(&svc), before, "{what}: the model changed");
        assert_eq!(file(), saved, "{what}: the state file changed");
        assert_eq!(
            plane.published.load(Ordering::SeqCst),
            published,
            "{what}: published"
        );
    }
    // A change the data plane refuses changes nothing either.
    plane.refuse.store(true, Ordering::SeqCst);
    let r = call(&svc, &port(json!({"network": NET_A})));
    assert_eq!(r.error.map(|e| e.code), Some(ErrorCode::Invalid));
    assert_eq!(everything(&svc), before);
    assert_eq!(file(), saved);
}

#[test]
fn changes_are_allocated_published_and_persisted() {
    let dir = TempDir::new("good");
    let (svc, plane) = service(&dir.0);
    let published = plane.published.load(Ordering::SeqCst);
    let p = ok(
        &svc,
        "port.create",
        json!({"network": "tenantA-Net", "name": "web"}),
    );
    let ip = &p["fixed_ips"][0];
    assert_eq!(ip["subnet_id"], SUBNET_A);
    assert_eq!(
        ip["ip_address"], "10.0.0.2",
        "the first free address of the pool"
    );
    let mac = p["mac_address"].as_str().unwrap();
    assert!(mac.starts_with("fa:16:3e:") && mac.len() == 17, "{mac}");
    let id = p["id"].as_str().unwrap();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(&id[14..15], "4", "version 4: {id}");
    assert_eq!(
        p["security_groups"],
        json!(["8bd8fb6b-7141-4900-8321-390cc1a5d999"])
    );
    assert_eq!(p["device_name"], format!("tap{}", &id[..11]));
    assert_eq!(ok(&svc, "port.show", json!({"id": "web"}))["id"], id);
    assert_eq!(plane.published.load(Ordering::SeqCst), published + 1);
    let stored = Store::new(&dir.0).load().unwrap().unwrap();
    assert!(
        stored.ports.iter().any(|x| x.id == id),
        "persisted before the reply"
    );

    // A new network gets a pinned tag; deleting it takes its subnets along.
    let n = ok(
        &svc,
        "network.create",
        json!({"name": "tenantB-Net", "segmentation_id": 3}),
    );
    assert_eq!(n["local_vlan"], 1);
    let s = ok(
        &svc,
        "subnet.create",
        json!({"network": "tenantB-Net", "cidr": "192.168.5.0/24"}),
    );
    assert_eq!(s["gateway_ip"], "192.168.5.1");
    ok(&svc, "network.delete", json!({"id": "tenantB-Net"}));
    let subnets = ok(&svc, "subnet.list", json!({}));
    assert_eq!(subnets.as_array().unwrap().len(), 2);

    // Floating IP: associate through tenant-R1, which then keeps its interface.
    let f = ok(
        &svc,
        "floatingip.associate",
        json!({"id": "10.1.101.82", "port": VM002_PORT}),
    );
    assert_eq!(f["router_id"], ROUTER);
    assert_eq!(f["fixed_ip_address"], "10.0.0.9");
    let remove = json!({"id": 3, "op": "router.interface_remove", "args": {"router": "tenant-R1", "subnet": SUBNET_A}});
    let r = call(&svc, &remove.to_string());
    assert_eq!(r.error.map(|e| e.code), Some(ErrorCode::Conflict));
    ok(
        &svc,
        "floatingip.disassociate",
        json!({"id": "10.1.101.82"}),
    );
    ok(
        &svc,
        "router.interface_remove",
        json!({"router": "tenant-R1", "subnet": SUBNET_A}),
    );
    let added = ok(
        &svc,
        "router.interface_add",
        json!({"router": "tenant-R1", "subnet": SUBNET_A}),
    );
    let qr = ok(&svc, "port.show", json!({"id": added["port_id"]}));
    assert_eq!(qr["fixed_ips"][0]["ip_address"], "10.0.0.1");

    // Rules and peers.
    let rule = ok(
        &svc,
        "security_group_rule.create",
        json!({"security_group": "default", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22}),
    );
    assert_eq!(rule["direction"], "ingress");
    ok(
        &svc,
        "security_group_rule.delete",
        json!({"id": rule["id"]}),
    );
    ok(
        &svc,
        "tunnel_peer.create",
        json!({"remote_ip": "10.0.1.51"}),
    );
    ok(&svc, "tunnel_peer.delete", json!({"id": "gre-0a000133"}));

    // Ambiguous names are refused.
    ok(
        &svc,
        "port.create",
        json!({"network": NET_A, "name": "web"}),
    );
    let r = call(&svc, r#"{"id":9,"op":"port.show","args":{"id":"web"}}"#);
    assert_eq!(r.error.map(|e| e.code), Some(ErrorCode::Conflict));

    // Views.
    let ns = ok(&svc, "netns", json!({}));
    assert_eq!(ns[0]["name"], format!("qrouter-{ROUTER}"));
    assert!(ok(&svc, "show", json!({}))["text"]
        .as_str()
        .unwrap()
        .contains("gre-0a00011f"));
}

#[test]
fn the_state_file_survives_crashes_and_corruption_is_an_error() {
    let dir = TempDir::new("store");
    let store = Store::new(dir.0.join("state"));
    assert!(store.load().unwrap().is_none(), "nothing persisted yet");
    let topo = tenant_a();
    store.save(&topo).unwrap();
    // A crash between writing the temp file and the rename leaves the temp file behind.
    std::fs::write(dir.0.join("state/state.json.tmp"), b"{ half a wri").unwrap();
    let mut loaded = store.load().unwrap().unwrap();
    loaded.origin = topo.origin.clone();
    assert_eq!(loaded, topo);
    store.save(&topo).unwrap();
    assert!(
        !dir.0.join("state/state.json.tmp").exists(),
        "renamed into place"
    );

    let path = store.path();
    std::fs::write(&path, b"{\"version\":1,\"topology\":{\"network\":[{\"id\":").unwrap();
    let e = store.load().unwrap_err().to_string();
    assert!(
        e.contains("corrupt state file") && e.contains(&path.display().to_string()),
        "{e}"
    );
    std::fs::write(&path, b"{\"version\":9,\"topology\":{}}").unwrap();
    assert!(store.load().unwrap_err().to_string().contains("version 9"));
    let dangling = json!({"version": 1, "topology": {"subnet": [{"id": "s", "network_id": "nope", "cidr": "10.0.0.0/24"}]}});
    std::fs::write(&path, dangling.to_string()).unwrap();
    assert!(store
        .load()
        .unwrap_err()
        .to_string()
        .contains("unknown network"));
}

/// A line-oriented client of the socket.
struct Conn {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Conn {
    fn open(path: &Path) -> Conn {
        let s = UnixStream::connect(path).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        Conn {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
        }
    }

    fn send(&mut self, line: &[u8]) -> Response {
        self.writer.write_all(line).unwrap();
        self.writer.write_all(b"\n").unwrap();
        self.recv()
    }

    fn recv(&mut self) -> Response {
        let mut answer = String::new();
        self.reader.read_line(&mut answer).unwrap();
        serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{answer:?}: {e}"))
    }
}

#[test]
fn the_socket_serves_many_clients_and_survives_bad_ones() {
    let dir = TempDir::new("sock");
    let (svc, _plane) = service(&dir.0.join("state"));
    let path = dir.0.join("run/vrouter.sock");
    let opts = ServerOptions {
        max_clients: 16,
        ..ServerOptions::default()
    };
    let server = Server::start(&path, Arc::new(svc), opts).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
    let again = Server::start(
        &path,
        Arc::new(service(&dir.0.join("other")).0),
        ServerOptions::default(),
    );
    assert!(
        matches!(again, Err(ServerError::InUse(_))),
        "a second server must not steal the socket"
    );

    // A client that connects and sends nothing, and one stuck in the middle of a line.
    let _silent = UnixStream::connect(&path).unwrap();
    let mut stuck = UnixStream::connect(&path).unwrap();
    stuck.write_all(b"{\"id\":1,\"op\":\"port.cre").unwrap();

    // Several clients at once, each creating and deleting ports.
    let start = Instant::now();
    let workers: Vec<_> = (0..6)
        .map(|t| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut c = Conn::open(&path);
                for i in 0..10 {
                    let name = format!("c{t}-{i}");
                    let create = json!({"id": i, "op": "port.create", "args": {"network": NET_A, "name": name}});
                    let r = c.send(create.to_string().as_bytes());
                    assert_eq!(r.id, json!(i));
                    let id = r.into_result().unwrap()["id"].clone();
                    let delete = json!({"id": i, "op": "port.delete", "args": {"id": id}});
                    c.send(delete.to_string().as_bytes()).into_result().unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "silent clients held others up"
    );

    // Errors keep the connection usable: invalid JSON, a 10 MB line, then a good request.
    let mut c = Conn::open(&path);
    let r = c.send(b"this is not json");
    assert_eq!(r.error.map(|e| e.code), Some(ErrorCode::BadRequest));
    let big = format!(
        "{{\"id\":1,\"op\":\"port.create\",\"args\":{{\"name\":\"{}\"}}}}",
        "x".repeat(10 << 20)
    );
    let r = c.send(big.as_bytes());
    assert_eq!(r.error.map(|e| e.code), Some(ErrorCode::TooLarge));
    let r = c.send(br#"{"id":"after","op":"network.list","args":{}}"#);
    assert_eq!(r.id, json!("after"));
    assert_eq!(r.into_result().unwrap().as_array().unwrap().len(), 2);
    let ports = c
        .send(br#"{"id":2,"op":"port.list"}"#)
        .into_result()
        .unwrap();
    assert_eq!(
        ports.as_array().unwrap().len(),
        7,
        "every client's ports were deleted again"
    );

    drop(server);
    assert!(!path.exists(), "the socket is removed on shutdown");
}

/// A full house of silent clients does not keep a new client out: it takes the slot of
/// the one idle the longest, and is answered at once. A client that sends no complete
/// request within the request timeout is told so and disconnected.
#[test]
fn silent_clients_neither_lock_others_out_nor_stay() {
    let dir = TempDir::new("silent");
    let (svc, _plane) = service(&dir.0.join("state"));
    let path = dir.0.join("ctl.sock");
    let opts = ServerOptions {
        max_clients: 8,
        request_timeout: Duration::from_millis(500),
        ..ServerOptions::default()
    };
    let server = Server::start(&path, Arc::new(svc), opts).unwrap();
    let silent: Vec<UnixStream> = (0..8)
        .map(|_| UnixStream::connect(&path).unwrap())
        .collect();
    // Let the acceptor admit all of them before the newcomer.
    std::thread::sleep(Duration::from_millis(100));
    let start = Instant::now();
    let mut c = Conn::open(&path);
    let r = c.send(br#"{"id":1,"op":"network.list"}"#);
    assert!(r.into_result().is_ok());
    assert!(
        start.elapsed() < Duration::from_millis(400),
        "answered before any silent client timed out ({:?})",
        start.elapsed()
    );
    let evicted = silent
        .iter()
        .filter(|s| {
            s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
            matches!((&mut &**s).read(&mut [0u8; 64]), Ok(0))
        })
        .count();
    assert_eq!(evicted, 1, "exactly the idlest client made room");

    // A half request: the answer says why, then the connection ends.
    let mut half = UnixStream::connect(&path).unwrap();
    half.write_all(br#"{"id":2,"op":"netw"#).unwrap();
    half.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let start = Instant::now();
    let mut answer = String::new();
    BufReader::new(&half).read_line(&mut answer).unwrap();
    let waited = start.elapsed();
    assert!(
        answer.contains("no complete request within 500ms; closing"),
        "{answer}"
    );
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(2),
        "closed after the request timeout ({waited:?})"
    );
    assert_eq!(half.read(&mut [0u8; 16]).unwrap(), 0, "then disconnected");
    drop(silent);
    drop(server);
}

/// Only a stale socket is replaced: a regular file (or a directory) at the socket path is
/// refused with what it is, and left as it was.
#[test]
fn a_regular_file_at_the_socket_path_is_refused() {
    let dir = TempDir::new("notsock");
    let path = dir.0.join("ctl.sock");
    std::fs::write(&path, b"precious").unwrap();
    let (svc, _plane) = service(&dir.0.join("state"));
    let err = Server::start(&path, Arc::new(svc), ServerOptions::default())
        .err()
        .expect("refused");
    assert!(matches!(err, ServerError::NotSocket { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "control socket {}: a regular file is in the way; only a stale socket is replaced \
             (remove it or choose another --socket)",
            path.display()
        )
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");

    // A stale socket (nobody listening) is replaced.
    std::fs::remove_file(&path).unwrap();
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let (svc, _plane) = service(&dir.0.join("state2"));
    let server = Server::start(&path, Arc::new(svc), ServerOptions::default()).unwrap();
    let mut c = Conn::open(&path);
    assert!(c
        .send(br#"{"id":1,"op":"network.list"}"#)
        .into_result()
        .is_ok());
    drop(server);
}

/// The ids of this process's threads named `name` (as `/proc/self/task/*/comm` shows it).
fn threads_named(name: &str) -> Vec<libc::pid_t> {
    let tasks = std::fs::read_dir("/proc/self/task").unwrap();
    tasks
        .filter_map(|t| {
            let t = t.ok()?;
            let comm = std::fs::read_to_string(t.path().join("comm")).ok()?;
            (comm.trim_end() == name).then(|| t.file_name().to_str()?.parse().ok())?
        })
        .collect()
}

/// A socket read with a timeout fails with EINTR on any handled signal, even under
/// SA_RESTART (signal(7)); in the appliance DPDK's tap driver takes SIGIO for every frame,
/// so under traffic the server's client threads are signalled all the time. A client whose
/// thread is signalled while it waits for a request, and again while it is idle after an
/// answer, is answered both times on the same connection.
#[test]
fn signals_to_a_waiting_client_thread_do_not_end_its_connection() {
    extern "C" fn on_signal(_: libc::c_int) {}
    // SAFETY: a zeroed sigaction with a handler that does nothing, installed for SIGUSR1,
    // which nothing else in this process uses.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as *const () as libc::sighandler_t;
        sa.sa_flags = libc::SA_RESTART;
        assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()), 0);
    }
    let dir = TempDir::new("signals");
    let (svc, _plane) = service(&dir.0.join("state"));
    let path = dir.0.join("ctl.sock");
    let server = Server::start(&path, Arc::new(svc), ServerOptions::default()).unwrap();
    let mut c = Conn::open(&path);
    let signal_client_threads = || {
        let until = Instant::now() + Duration::from_millis(200);
        let mut sent = 0;
        while Instant::now() < until {
            for tid in threads_named("vrouter-ctl-cli") {
                // SAFETY: tgkill with this process's id, one of its thread ids and a
                // signal that has a handler.
                unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, libc::SIGUSR1) };
                sent += 1;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(sent > 0, "a client thread was signalled");
    };
    signal_client_threads();
    let r = c.send(br#"{"id":1,"op":"network.list"}"#);
    assert!(
        r.into_result().is_ok(),
        "answered after signals while waiting"
    );
    signal_client_threads();
    let r = c.send(br#"{"id":2,"op":"network.list"}"#);
    assert!(r.into_result().is_ok(), "answered after signals while idle");
    drop(server);
}
