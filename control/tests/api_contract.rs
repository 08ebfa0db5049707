//! The control protocol as a contract: the committed JSON schema is the one the types
//! give, every answer is exactly its typed struct, `hello` tells both versions, a request
//! of another API version is refused with a typed error naming both, the client refuses
//! an answer to another request, and every change is audited with the caller's uid and
//! pid (SO_PEERCRED) over the real socket.

mod common;

use common::TempDir;
use control::api::{self, ErrorCode, Op, Response, API_VERSION};
use control::client::{Client, ClientError};
use control::server::{Server, ServerOptions};
use control::service::Service;
use control::store::Store;
use control::{load_file, DataPlane, Topology, ViewData};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The committed schema, relative to the crate.
const SCHEMA_FILE: &str = "api-schema.json";
/// Set to 1 to write the schema file instead of checking it.
const WRITE_SCHEMA: &str = "VROUTER_WRITE_SCHEMA";

/// A data plane that compiles what it is given and holds no traffic state.
struct CompilingPlane;

impl DataPlane for CompilingPlane {
    fn publish(&self, topo: &Topology) -> Result<(), api::ApiError> {
        let names: Vec<String> = topo.devices().into_iter().map(|(n, _)| n).collect();
        control::compile(topo, &names, 2).map_err(|e| api::ApiError::invalid(e.to_string()))?;
        Ok(())
    }

    fn dump(&self) -> Result<ViewData, api::ApiError> {
        Ok(ViewData::default())
    }

    fn flush(&self, _: &control::plane::Flush) -> Result<u64, api::ApiError> {
        Ok(0)
    }
}

/// A service on the reference topology, persisted in `dir`.
fn service(dir: &Path) -> Service {
    let topo = load_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../configs/tenant-a.toml"
    ))
    .unwrap();
    Service::new(topo, Vec::new(), Store::new(dir), Arc::new(CompilingPlane)).unwrap()
}

/// Sends `request` (a JSON object) as one line; returns the response.
fn call(svc: &Service, request: Value) -> Response {
    let out = svc.handle_line(request.to_string().as_bytes());
    serde_json::from_slice(&out).unwrap()
}

/// `op` with `args`: its answer, which must be a success.
fn ok(svc: &Service, op: &str, args: Value) -> Value {
    let r = call(svc, json!({"id": 3, "op": op, "args": args}));
    assert_eq!(r.id, json!(3));
    r.into_result()
        .unwrap_or_else(|e| panic!("{op} {args}: {e:?}"))
}

/// `answer` decoded into `T` and encoded again is `answer`: the type is the wire format,
/// every field of it and nothing else.
fn is_exactly<T: Serialize + DeserializeOwned>(op: &str, answer: &Value) {
    let typed: T = serde_json::from_value(answer.clone())
        .unwrap_or_else(|e| panic!("{op}: the answer is not its type ({e}): {answer:#}"));
    let again = serde_json::to_value(&typed).unwrap();
    assert_eq!(&again, answer, "{op}: the type drops or changes fields");
}

/// A check of an operation's answer.
type Check = fn(&str, &Value);

#[test]
fn the_committed_schema_is_the_one_the_types_give() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(SCHEMA_FILE);
    let generated = format!("{:#}\n", api::schema());
    if std::env::var(WRITE_SCHEMA).as_deref() == Ok("1") {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "control/{SCHEMA_FILE} is not the schema of the API types (a request or answer type \
         changed without it). Regenerate it with\n    {WRITE_SCHEMA}=1 cargo test -p control \
         --release --test api_contract\nand commit it (raise API_VERSION if an older client \
         or daemon would misread the change)."
    );
    // It describes what it must: every operation, the version, the error classes.
    let schema: Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(schema["x-api-version"], json!(API_VERSION));
    for name in ["hello", "network.create", "stats", "dump_flows"] {
        assert!(committed.contains(&format!("\"{name}\"")), "{name} missing");
    }
    let codes = &schema["$defs"]["ErrorCode"];
    assert!(codes.to_string().contains("unsupported_version"), "{codes}");
}

#[test]
fn every_answer_is_exactly_its_type() {
    let dir = TempDir::new("typed");
    let svc = service(&dir.0);
    let net = ok(
        &svc,
        "network.create",
        json!({"name": "n1", "segmentation_id": 77}),
    );
    is_exactly::<api::NetworkInfo>("network.create", &net);
    let sub = ok(
        &svc,
        "subnet.create",
        json!({"network": "n1", "cidr": "10.9.0.0/24", "dns_nameservers": ["8.8.8.8"]}),
    );
    is_exactly::<api::SubnetInfo>("subnet.create", &sub);
    let port = ok(
        &svc,
        "port.create",
        json!({"network": "n1", "port_security_enabled": false}),
    );
    is_exactly::<api::PortInfo>("port.create", &port);
    assert_eq!(port["port_security_enabled"], json!(false));
    let router = ok(&svc, "router.create", json!({"name": "r9"}));
    is_exactly::<api::RouterInfo>("router.create", &router);
    let iface = ok(
        &svc,
        "router.interface_add",
        json!({"router": "r9", "subnet": sub["id"]}),
    );
    is_exactly::<api::InterfaceInfo>("router.interface_add", &iface);
    let sg = ok(&svc, "security_group.create", json!({"name": "web"}));
    is_exactly::<api::SecurityGroupInfo>("security_group.create", &sg);
    let rule = ok(
        &svc,
        "security_group_rule.create",
        json!({"security_group": "web", "protocol": "tcp", "port_range_min": 80, "port_range_max": 80}),
    );
    is_exactly::<api::RuleInfo>("security_group_rule.create", &rule);
    let peer = ok(
        &svc,
        "tunnel_peer.create",
        json!({"remote_ip": "10.0.1.99"}),
    );
    is_exactly::<api::TunnelPeerInfo>("tunnel_peer.create", &peer);
    let deleted = ok(&svc, "tunnel_peer.delete", json!({"id": "10.0.1.99"}));
    is_exactly::<api::Deleted>("tunnel_peer.delete", &deleted);

    let lists: [(&str, Check); 8] = [
        ("network.list", is_exactly::<Vec<api::NetworkInfo>>),
        ("subnet.list", is_exactly::<Vec<api::SubnetInfo>>),
        ("port.list", is_exactly::<Vec<api::PortInfo>>),
        ("router.list", is_exactly::<Vec<api::RouterInfo>>),
        ("floatingip.list", is_exactly::<Vec<api::FloatingIpInfo>>),
        (
            "security_group.list",
            is_exactly::<Vec<api::SecurityGroupInfo>>,
        ),
        ("security_group_rule.list", is_exactly::<Vec<api::RuleInfo>>),
        ("tunnel_peer.list", is_exactly::<Vec<api::TunnelPeerInfo>>),
    ];
    for (op, check) in lists {
        let answer = ok(&svc, op, json!({}));
        assert!(
            !answer.as_array().unwrap().is_empty(),
            "{op}: the reference topology has some"
        );
        check(op, &answer);
    }
    let views: [(&str, Check); 6] = [
        ("hello", is_exactly::<api::Hello>),
        ("show", is_exactly::<api::ShowText>),
        ("netns", is_exactly::<Vec<api::Namespace>>),
        ("dump_flows", is_exactly::<api::DumpFlows>),
        ("stats", is_exactly::<api::Stats>),
        ("security_group.chains", is_exactly::<Vec<api::PortChains>>),
    ];
    for (op, check) in views {
        check(op, &ok(&svc, op, json!({})));
    }
}

#[test]
fn hello_tells_the_api_and_daemon_versions() {
    let dir = TempDir::new("hello");
    let svc = service(&dir.0);
    let hello: api::Hello = serde_json::from_value(ok(&svc, "hello", json!({}))).unwrap();
    assert_eq!(hello.api_version, API_VERSION);
    assert_eq!(hello.daemon_version, env!("CARGO_PKG_VERSION"));
    // Without args, with this version: the same.
    let r = call(
        &svc,
        json!({"id": "h", "op": "hello", "api_version": API_VERSION}),
    );
    assert_eq!(r.id, json!("h"));
    assert_eq!(r.ok.unwrap()["api_version"], json!(API_VERSION));
}

#[test]
fn a_request_of_another_api_version_is_refused_naming_both() {
    let dir = TempDir::new("version");
    let svc = service(&dir.0);
    let before = ok(&svc, "network.list", json!({}));
    for (version, age) in [(API_VERSION - 1, "older"), (API_VERSION + 1, "newer")] {
        let r = call(
            &svc,
            json!({"id": 9, "api_version": version, "op": "network.create", "args": {"name": "x"}}),
        );
        assert_eq!(r.id, json!(9), "the id is echoed");
        let e = r.into_result().unwrap_err();
        assert_eq!(e.code, ErrorCode::UnsupportedVersion, "{e:?}");
        let (asked, spoken) = (
            format!("unsupported API version {version}"),
            format!("speaks API version {API_VERSION}"),
        );
        assert!(e.message.contains(&asked), "{}", e.message);
        assert!(e.message.contains(&spoken), "{}", e.message);
        assert!(e.message.contains(age), "{}", e.message);
    }
    assert_eq!(
        ok(&svc, "network.list", json!({})),
        before,
        "nothing created"
    );
    // A version that is no number is a bad request; no version at all is this one.
    let r = call(&svc, json!({"id": 1, "api_version": "one", "op": "hello"}));
    assert_eq!(r.into_result().unwrap_err().code, ErrorCode::BadRequest);
    let r = call(
        &svc,
        json!({"id": 1, "op": "network.create", "args": {"name": "y"}}),
    );
    assert!(r.into_result().is_ok());
}

#[test]
fn error_classes_are_the_types_names() {
    use ErrorCode as C;
    let codes = [
        C::Conflict,
        C::NotFound,
        C::Invalid,
        C::BadRequest,
        C::TooLarge,
        C::Internal,
        C::UnsupportedVersion,
    ];
    for code in codes {
        let wire = serde_json::to_value(code).unwrap();
        assert_eq!(wire, json!(code.to_string()), "Display and the wire agree");
        let back: ErrorCode = serde_json::from_value(wire).unwrap();
        assert_eq!(back, code);
    }
}

#[test]
fn the_class_of_a_refusal_is_its_type_not_its_words() {
    let dir = TempDir::new("class");
    let svc = service(&dir.0);
    // A bad value whose words say "already": still invalid, not a conflict.
    let line = json!({"id": 1, "op": "subnet.create", "args": {"network": "tenantA-Net",
        "cidr": "10.7.0.0/24", "dns_nameservers": ["already-used"]}});
    let e = call(&svc, line).into_result().unwrap_err();
    assert!(e.message.contains("already-used"), "{}", e.message);
    assert_eq!(e.code, ErrorCode::Invalid, "{}", e.message);
    // A value another resource has: a conflict.
    let line = json!({"id": 2, "op": "port.create", "args": {"network": "tenantA-Net",
        "mac_address": "fa:16:3e:75:e0:5a"}});
    let e = call(&svc, line).into_result().unwrap_err();
    assert_eq!(e.code, ErrorCode::Conflict, "{}", e.message);
}

/// A socket at `path` whose server answers each request line with `answer(line)`.
fn fake_daemon(path: &Path, answer: fn(&Value) -> Value) -> std::thread::JoinHandle<()> {
    let listener = UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut writer = stream.try_clone().unwrap();
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let request: Value = serde_json::from_str(&line).unwrap();
            let _ = writer.write_all(format!("{}\n", answer(&request)).as_bytes());
        }
    })
}

#[test]
fn the_client_refuses_an_answer_to_another_request() {
    let dir = TempDir::new("ids");
    let wrong = dir.0.join("wrong.sock");
    let daemon = fake_daemon(&wrong, |_| json!({"id": 99, "ok": {}}));
    let mut c = Client::connect(&wrong).unwrap();
    match c.call(Op::Hello(api::NoArgs {})) {
        Err(e @ ClientError::WrongId { .. }) => {
            let text = e.to_string();
            assert!(text.contains("answered request 99 to request 1"), "{text}");
        }
        other => panic!("an answer to request 99 was taken: {other:?}"),
    }
    drop(c);
    daemon.join().unwrap();

    // The request goes with this API version and its id; the matching answer is taken.
    let right = dir.0.join("right.sock");
    let daemon = fake_daemon(&right, |req| {
        assert_eq!(req["api_version"], json!(API_VERSION), "{req}");
        json!({"id": req["id"], "ok": {"echo": req["op"]}})
    });
    let mut c = Client::connect(&right).unwrap();
    for _ in 0..2 {
        let answer = c.call(Op::Hello(api::NoArgs {})).unwrap();
        assert_eq!(answer, json!({"echo": "hello"}));
    }
    drop(c);
    daemon.join().unwrap();
}

/// Keeps the `audit` lines logged in this process.
struct AuditLines(Mutex<Vec<String>>);

impl log::Log for AuditLines {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.target() == "audit" && m.level() <= log::Level::Info
    }

    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            self.0.lock().unwrap().push(r.args().to_string());
        }
    }

    fn flush(&self) {}
}

static AUDIT: AuditLines = AuditLines(Mutex::new(Vec::new()));

#[test]
fn every_change_is_audited_with_the_callers_uid_and_pid() {
    log::set_logger(&AUDIT).unwrap();
    log::set_max_level(log::LevelFilter::Info);
    let dir = TempDir::new("audit");
    let sock = dir.0.join("vrouter.sock");
    let server = Server::start(&sock, Arc::new(service(&dir.0)), ServerOptions::default()).unwrap();
    let mut c = Client::connect(&sock).unwrap();
    let create = Op::NetworkCreate(api::NetworkCreate {
        id: Some("0b6d2a3e-audit".into()),
        name: "audited".into(),
        ..Default::default()
    });
    c.call(create.clone()).unwrap();
    c.call(Op::NetworkList(api::NoArgs {})).unwrap();
    let e = c.call(create).unwrap_err();
    assert!(e.to_string().starts_with("conflict"), "{e}");
    // SAFETY: geteuid has no preconditions.
    let (uid, pid) = (unsafe { libc::geteuid() }, std::process::id());
    let who = format!("uid={uid} pid={pid} ");
    let want = [
        format!("audit: uid={uid} pid={pid} op=network.create id=1 result=ok"),
        format!("audit: uid={uid} pid={pid} op=network.create id=3 result=conflict"),
    ];
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // Other tests of this process audit their changes too, without a peer.
        let lines: Vec<String> = AUDIT
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(&who))
            .cloned()
            .collect();
        if lines == want {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "audit lines {lines:#?}, want {want:#?} (reads are not audited)"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(c);
    drop(server);
}
