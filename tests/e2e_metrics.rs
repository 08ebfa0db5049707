//! End-to-end test of the metrics endpoint with a real Prometheus server: Prometheus
//! (Debian's package, own config and data directory, on loopback) scrapes the appliance
//! every second while vm002 pings upstream through SNAT and sends from a spoofed address;
//! its HTTP API then shows the device, drop reason and SNAT series moving with that
//! traffic, and `promtool check metrics` accepts what the endpoint serves.
//!
//! ```text
//!   vm2 (vm002 10.0.0.9) ──tap──┐
//!                               ├─ vrouter ─tap(eth2)─ up (10.1.101.254)     Prometheus ── http ──> vrouter --metrics
//! ```

mod common;

use common::{move_tap, require_prereqs, unique, Netns, Proc, TempDir, Vrouter};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// vm002's device name, as operators know it.
const VM002_TAP: &str = "tap1653ec91-ad";

/// A free TCP port on loopback (bound once, then released for the process to take).
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    l.local_addr().unwrap().port()
}

/// `GET path` over HTTP/1.0 from 127.0.0.1:`port`, with optional extra headers; returns
/// the status line and the body, or None when nothing listens.
fn http_get(port: u16, path: &str, headers: &str) -> Option<(String, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{headers}\r\n").ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    Some((head.lines().next()?.to_string(), body.to_string()))
}

/// Percent-encodes a PromQL expression for a query string.
fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The series of an instant PromQL query through Prometheus' HTTP API, as (labels, value).
fn query(prom: u16, q: &str) -> Vec<(serde_json::Value, f64)> {
    let Some((status, body)) = http_get(prom, &format!("/api/v1/query?query={}", encode(q)), "")
    else {
        return Vec::new();
    };
    assert!(status.contains("200"), "query {q}: {status}\n{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("Prometheus JSON");
    let result = v["data"]["result"].as_array().cloned().unwrap_or_default();
    let series = result.into_iter().map(|r| {
        let value = r["value"][1]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(f64::NAN);
        (r["metric"].clone(), value)
    });
    series.collect()
}

/// The value of a query that names one series (None while Prometheus has none).
fn value(prom: u16, q: &str) -> Option<f64> {
    query(prom, q).first().map(|s| s.1)
}

/// Polls `cond` every 200 ms until it holds or `timeout` passes; panics with `what`.
fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?}: {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn prometheus_scrapes_device_drop_and_snat_series_that_move_with_traffic() {
    require_prereqs();
    for tool in ["prometheus", "promtool"] {
        let found = Command::new(tool).arg("--version").output();
        assert!(
            found.is_ok_and(|o| o.status.success()),
            "{tool} is missing: apt-get install -y prometheus"
        );
    }
    let vm = Netns::new(&unique("mv2"));
    let up = Netns::new(&unique("mup"));
    let (t_vm, t_up) = (unique("tmv"), unique("tmu"));
    let metrics = free_port();
    let vr = Vrouter::start(&[
        "--metrics",
        &format!("127.0.0.1:{metrics}"),
        "--devargs",
        "eth1=net_null0,no-rx=1",
        "--devargs",
        &format!("eth2=net_tap1,iface={t_up}"),
        "--devargs",
        &format!("{VM002_TAP}=net_tap2,iface={t_vm}"),
    ]);
    move_tap(&t_vm, &vm, "fa:16:3e:51:a2:97", Some("10.0.0.9/24"));
    move_tap(&t_up, &up, "52:54:00:01:01:fe", Some("10.1.101.254/24"));
    vm.run("ip route add default via 10.0.0.1");

    // Prometheus with a config and a data directory of its own, on loopback.
    let dir = TempDir::new(&unique("prom"));
    let prom = free_port();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: vrouter\n    static_configs:\n      - targets: ['127.0.0.1:{metrics}']\n"
    );
    std::fs::write(dir.path("prometheus.yml"), config).unwrap();
    let argv: Vec<String> = [
        "prometheus".to_string(),
        format!("--config.file={}", dir.path("prometheus.yml")),
        format!("--storage.tsdb.path={}", dir.path("data")),
        format!("--web.listen-address=127.0.0.1:{prom}"),
        "--log.level=warn".to_string(),
    ]
    .to_vec();
    let _prometheus = Proc::spawn("prometheus", &argv);
    wait_for(
        "Prometheus scrapes the appliance (up == 1)",
        Duration::from_secs(30),
        || value(prom, "up{job=\"vrouter\"}") == Some(1.0),
    );

    let rx = format!(
        "vrouter_device_rx_packets_total{{device=\"{VM002_TAP}\",network=\"tenantA-Net\"}}"
    );
    let spoofed = "vrouter_drops_total{reason=\"spoofed\"}";
    let rx0 = value(prom, &rx).expect("a series of vm002's device with its network");
    let spoofed0 = value(prom, spoofed).expect("a series of the spoofed drop reason");

    // vm002 pings upstream (through SNAT to the router's gateway address) and then sends
    // three pings from an address that is not its own.
    vm.run("ping -c 20 -i 0.05 -W 2 10.1.101.254");
    vm.run(&format!("ip addr add 10.0.0.50/24 dev {t_vm}"));
    let spoof = vm.try_run("ping -c 3 -i 0.2 -W 1 -I 10.0.0.50 10.1.101.254");
    assert!(
        !spoof.status.success(),
        "spoofed pings must not get through"
    );

    wait_for(
        "vm002's rx_packets series rose by the 20 pings and the 3 spoofed ones",
        Duration::from_secs(15),
        || value(prom, &rx).is_some_and(|v| v >= rx0 + 23.0),
    );
    wait_for(
        "the spoofed drop series rose by 3",
        Duration::from_secs(15),
        || value(prom, spoofed).is_some_and(|v| v >= spoofed0 + 3.0),
    );
    let tx = format!("vrouter_device_tx_packets_total{{device=\"{VM002_TAP}\"}}");
    assert!(
        value(prom, &tx).is_some_and(|v| v >= 20.0),
        "vm002's device sent the 20 replies"
    );
    let snat = "vrouter_snat_ports_in_use{address=\"10.1.101.80\"}";
    let series = query(prom, snat);
    assert!(
        series.iter().any(|(labels, v)| {
            *v >= 1.0
                && labels["router"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("qrouter-"))
        }),
        "the ping's SNAT session holds a port of 10.1.101.80 in its qrouter: {series:?}"
    );
    assert!(
        value(prom, "vrouter_conntrack_created_total").is_some_and(|v| v >= 1.0),
        "conntrack created the ping's session"
    );
    // net_null's link is up once started; a net_tap moved to another namespace reads as
    // down (its driver asks for the interface in the appliance's namespace).
    let link = |device: &str| value(prom, &format!("vrouter_nic_link_up{{device=\"{device}\"}}"));
    assert_eq!(link("eth1"), Some(1.0), "eth1 (net_null) has its link up");
    assert!(
        link(VM002_TAP).is_some(),
        "vm002's device has a link state series"
    );
    let imissed = format!("vrouter_nic_imissed_total{{device=\"{VM002_TAP}\"}}");
    assert!(value(prom, &imissed).is_some(), "the NIC's imissed series");

    // The endpoint's text passes promtool's checks, in both formats it serves.
    let (status, text) = http_get(metrics, "/metrics", "").expect("the metrics endpoint");
    assert!(status.contains("200"), "{status}");
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    check
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics:\n{}{}\n--- text ---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let om = "Accept: application/openmetrics-text; version=1.0.0\r\n";
    let (_, om_text) = http_get(metrics, "/metrics", om).expect("OpenMetrics text");
    assert!(om_text.ends_with("# EOF\n"), "OpenMetrics ends with # EOF");
    let (status, _) = http_get(metrics, "/other", "").expect("the endpoint answers");
    assert!(status.contains("404"), "{status}");

    let done = vr.stop();
    common::assert_clean_exit(&done, "vrouter with a metrics endpoint");
}
