//! End-to-end test of the control protocol's contract on the real daemon: `vrouterctl
//! hello` prints the daemon's and the client's versions, a request of another API version
//! is refused with `unsupported_version` naming both, and every change is written to the
//! daemon's log as an audit line with the caller's uid and pid (SO_PEERCRED): this test
//! process's own pid for a change it sends itself.

mod common;

use common::{ctl, require_prereqs, unique, vrouterctl, TempDir, Vrouter};
use control::api::{ErrorCode, NetworkCreate, Op, Response, API_VERSION};
use control::client::Client;
use serde_json::json;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Sends one raw request line on the daemon's socket; returns its response.
fn raw(socket: &Path, request: serde_json::Value) -> Response {
    let mut s = UnixStream::connect(socket).expect("connect to the control socket");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(format!("{request}\n").as_bytes()).unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a response ({e}): {line:?}"))
}

#[test]
fn hello_versions_and_audited_changes() {
    require_prereqs();
    let dir = TempDir::new(&format!("e2e-api-{}", unique("")));
    let seed = dir.path("seed.toml");
    std::fs::write(
        &seed,
        format!(
            "[[uplink]]\nname = \"eth1\"\ndevargs = \"net_tap0,iface={}\"\nrole = \"underlay\"\n\
             local_ip = \"10.0.1.21/24\"\nmac = \"52:54:00:00:01:21\"\n",
            unique("ae1")
        ),
    )
    .unwrap();
    let vr = Vrouter::start(&["--config", &seed]);
    let socket = vr.socket();

    let hello = ctl(&socket, &["hello"]);
    let version = env!("CARGO_PKG_VERSION");
    for want in [
        format!("daemon: vrouter {version} (API version {API_VERSION})"),
        format!("client: vrouterctl {version} (API version {API_VERSION})"),
    ] {
        assert!(hello.contains(&want), "vrouterctl hello printed:\n{hello}");
    }

    // A newer client's change: refused with its class and both versions, nothing made.
    let newer = API_VERSION + 1;
    let r = raw(
        &socket,
        json!({"id": 41, "api_version": newer, "op": "network.create", "args": {"name": "v2"}}),
    );
    assert_eq!(r.id, json!(41));
    let e = r.into_result().unwrap_err();
    assert_eq!(e.code, ErrorCode::UnsupportedVersion, "{}", e.message);
    assert!(
        e.message
            .contains(&format!("unsupported API version {newer}"))
            && e.message
                .contains(&format!("speaks API version {API_VERSION}")),
        "{}",
        e.message
    );
    let nets = ctl(&socket, &["net-list", "-f", "json"]);
    assert!(
        !nets.contains("\"v2\""),
        "the refused network exists: {nets}"
    );
    // Without a version: this one.
    let r = raw(&socket, json!({"id": 42, "op": "hello"}));
    assert_eq!(r.into_result().unwrap()["api_version"], json!(API_VERSION));

    // A change from this process, then one from vrouterctl.
    let mut c = Client::connect(&socket).unwrap();
    let create = NetworkCreate {
        name: "audited".into(),
        segmentation_id: Some(4242),
        ..Default::default()
    };
    c.call(Op::NetworkCreate(create)).unwrap();
    drop(c);
    ctl(
        &socket,
        &["net-create", "from-ctl", "--segmentation-id", "4243"],
    );
    let dup = vrouterctl(&socket, &["net-create", "dup", "--segmentation-id", "4243"]);
    assert!(!dup.status.success(), "a second network with GRE key 4243");

    let done = vr.stop();
    let log = &done.stderr;
    let pid = std::process::id();
    for want in [
        format!("audit: uid=0 pid={pid} op=network.create id=1 result=ok"),
        format!("audit: uid=0 pid={pid} op=network.create id=41 result=unsupported_version"),
        "op=network.create id=1 result=conflict".to_owned(),
    ] {
        assert!(
            log.contains(&want),
            "no {want:?} in the daemon's log:\n{}",
            done.output()
        );
    }
    let accepted = log
        .lines()
        .filter(|l| l.contains("op=network.create id=1 result=ok"));
    assert_eq!(accepted.count(), 2, "one line per accepted change:\n{log}");
    assert!(!log.contains("op=hello"), "reads are not audited:\n{log}");
}
