//! `vrouterctl conntrack list|flush` and `vrouterctl neighbour flush` against the running
//! appliance, with real clients: an `nc` connection from vm001 through SNAT is listed with
//! its exact tuples (the router's zone and vm001's port zone); a flush of the router's
//! sessions leaves the port's; a full flush empties the table and the open connection
//! still carries data (picked up again, SNAT on the same port); a neighbour flush drops
//! the learned upstream entry, which ARP resolves again for a ping and for the connection.
//! SIGHUP leaves the appliance running and says so; the flushes are logged on stderr
//! (tracing, with fields), and so are `log` records (bridged).
//!
//! ```text
//!   vm001 10.0.0.10 (SNAT 10.1.101.80) ──tap──┐
//!   vm002 10.0.0.9 ─────────────────────tap──┼─ vrouter ─tap(eth2)─ upstream 10.1.101.254
//! ```

mod common;
mod ct_rig;

use common::{require_prereqs, Netns, Proc, TempDir};
use ct_rig::{counter, Net, Options, VM001_PORT};
use serde_json::Value;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

const ROUTER_NS: &str = "qrouter-680944ad-679c-4fe8-ae4b-258cd8ac337f";
const UPSTREAM: &str = "10.1.101.254";
const SNAT_IP: &str = "10.1.101.80";
const VM001: &str = "10.0.0.10";
const PORT: u16 = 5001;

/// The argv of `cmd` (split on white space) inside `ns`.
fn in_ns(ns: &Netns, cmd: &str) -> Vec<String> {
    let mut argv: Vec<String> = ["ip", "netns", "exec", &ns.name].map(String::from).to_vec();
    argv.extend(cmd.split_whitespace().map(str::to_owned));
    argv
}

/// Polls `cond` every 50 ms for up to `secs` seconds.
fn wait_for(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "{what}: not within {secs} s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Opens the FIFO at `path` for writing once its reader has it open.
fn open_feed(path: &str) -> File {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // Non-blocking: ENXIO until the reader is there, instead of blocking forever.
        let f = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path);
        match f {
            Ok(f) => return f,
            Err(e) => assert!(Instant::now() < deadline, "nc never opened {path}: {e}"),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `vrouterctl conntrack list -o json ARGS`: the sessions.
fn sessions(net: &Net, args: &[&str]) -> Vec<Value> {
    let mut argv = vec!["conntrack", "list", "-o", "json"];
    argv.extend(args);
    let v: Value = serde_json::from_str(&net.ctl(&argv)).expect("conntrack list JSON");
    v["sessions"].as_array().expect("sessions").clone()
}

/// The session of the nc connection from source port `sport` owned by `owner`.
fn nc_session<'a>(list: &'a [Value], owner: &str, sport: u16) -> Option<&'a Value> {
    list.iter().find(|s| {
        s["owner"] == owner
            && s["proto"] == "tcp"
            && s["orig"]["src"] == VM001
            && s["orig"]["dst"] == UPSTREAM
            && s["orig"]["sport"] == sport
            && s["orig"]["dport"] == PORT
    })
}

/// The MAC the routers' neighbour table has for `ip` (`dump-flows`), if resolved.
fn router_neighbour(net: &Net, ip: &str) -> Option<String> {
    let v: Value =
        serde_json::from_str(&net.ctl(&["dump-flows", "-f", "json"])).expect("dump JSON");
    let tables = v["tables"].as_array().expect("tables");
    let arp = tables
        .iter()
        .find(|t| t["name"] == "neighbours")
        .expect("the neighbour table");
    arp["flows"]
        .as_array()
        .expect("flows")
        .iter()
        .find_map(|n| {
            (n["table"] == "router" && n["ip"] == ip)
                .then(|| n["lladdr"].as_str().map(str::to_owned))
                .flatten()
        })
}

/// The local port of vm001's established connection to the upstream server.
fn client_port(ns: &Netns) -> Option<u16> {
    let out = ns.run(&format!(
        "ss -Htn state established dst {UPSTREAM} dport = :{PORT}"
    ));
    let local = out.split_whitespace().nth(2)?;
    local.rsplit_once(':')?.1.parse().ok()
}

#[test]
fn conntrack_list_and_flush_and_neighbour_flush_keep_connections_working() {
    require_prereqs();
    let dir = TempDir::new("ctcli");
    // A notify socket that is not there: the appliance's `log` warning about it must come
    // out through the same subscriber as its `tracing` events.
    let no_socket = dir.path("no-such-notify-socket");
    std::env::set_var("NOTIFY_SOCKET", &no_socket);
    let mut net = Net::start('k', Options::default());
    let fifo = dir.path("feed");
    common::run(&format!("mkfifo {fifo}"));

    let mut server = Proc::spawn("nc server upstream", &in_ns(&net.up.ns, "nc -l 5001"));
    wait_for("the upstream server listens", 10, || {
        !net.up
            .ns
            .run(&format!("ss -Hltn sport = :{PORT}"))
            .trim()
            .is_empty()
    });
    net.vm1.ns.run(&format!("ping -c 1 -W 3 {UPSTREAM}"));
    let mut argv = in_ns(&net.vm1.ns, "sh -c");
    argv.push(format!("exec nc {UPSTREAM} {PORT} < {fifo}"));
    let _client = Proc::spawn("nc client in vm001", &argv);
    let mut feed = open_feed(&fifo);
    feed.write_all(b"before-flush\n").expect("write to nc");
    server.wait_line("before-flush", Duration::from_secs(10));
    let sport = client_port(&net.vm1.ns).expect("vm001's connection is established");

    // The list: the router's session with SNAT on the same port, and vm001's port zone.
    let vm_tap = format!("tap{}", &VM001_PORT[..11]);
    let all = sessions(&net, &[]);
    let routed = nc_session(&all, ROUTER_NS, sport)
        .unwrap_or_else(|| panic!("the router's session of port {sport} in {all:#?}"));
    assert_eq!(routed["state"], "ESTABLISHED", "{routed}");
    assert_eq!(routed["assured"], true, "{routed}");
    assert_eq!(routed["reply"]["src"], UPSTREAM, "{routed}");
    assert_eq!(
        routed["reply"]["dst"], SNAT_IP,
        "SNAT to the gateway: {routed}"
    );
    assert_eq!(routed["reply"]["sport"], PORT, "{routed}");
    assert_eq!(
        routed["reply"]["dport"], sport,
        "SNAT keeps a free port: {routed}"
    );
    assert!(routed["timeout"].as_u64().unwrap_or(0) > 86_000, "{routed}");
    let filtered = nc_session(&all, &vm_tap, sport)
        .unwrap_or_else(|| panic!("vm001's port session of port {sport} in {all:#?}"));
    assert_eq!(
        filtered["reply"]["dst"], VM001,
        "no NAT in the port zone: {filtered}"
    );
    let port_zone = filtered["zone"].as_u64().expect("zone");
    assert!(port_zone >= 0x8000, "{filtered}");

    // conntrack -L lines.
    let text = net.ctl(&["conntrack", "list"]);
    let line = text
        .lines()
        .find(|l| l.contains(&format!("sport={sport} dport={PORT}")) && l.contains(ROUTER_NS))
        .unwrap_or_else(|| panic!("a line for the connection in\n{text}"));
    assert!(line.starts_with("tcp      6 "), "{line}");
    for part in [
        format!("ESTABLISHED src={VM001} dst={UPSTREAM} sport={sport} dport={PORT} packets="),
        format!("src={UPSTREAM} dst={SNAT_IP} sport={PORT} dport={sport} packets="),
        "[ASSURED] zone=0 owner=".to_string(),
    ] {
        assert!(line.contains(&part), "{part:?} in {line}");
    }

    // Filters: the router's sessions, a zone's.
    let of_router = sessions(&net, &["--router", "tenant-R1"]);
    assert!(!of_router.is_empty() && of_router.iter().all(|s| s["owner"] == ROUTER_NS));
    let zone = port_zone.to_string();
    let of_zone = sessions(&net, &["--zone", &zone]);
    assert!(
        nc_session(&of_zone, &vm_tap, sport).is_some(),
        "{of_zone:#?}"
    );
    assert!(
        of_zone.iter().all(|s| s["zone"] == port_zone),
        "{of_zone:#?}"
    );

    // Flush of the router's sessions only: the port's stay.
    let out = net.ctl(&["conntrack", "flush", "--router", "tenant-R1"]);
    assert!(
        out.contains(&format!("sessions of {ROUTER_NS} removed")),
        "{out}"
    );
    let left = sessions(&net, &[]);
    assert!(left.iter().all(|s| s["owner"] != ROUTER_NS), "{left:#?}");
    assert!(nc_session(&left, &vm_tap, sport).is_some(), "{left:#?}");

    // A full flush empties the table; the connection goes on, picked up again.
    let picked_before = counter(&net.stats(), "conntrack", "picked_up");
    let out = net.ctl(&["conntrack", "flush"]);
    let removed: u64 = out
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a count in {out:?}"));
    assert!(removed >= 1, "{out}");
    assert_eq!(sessions(&net, &[]), Vec::<Value>::new(), "flushed");
    feed.write_all(b"after-flush\n").expect("write to nc");
    server.wait_line("after-flush", Duration::from_secs(10));
    let again = sessions(&net, &[]);
    let routed = nc_session(&again, ROUTER_NS, sport)
        .unwrap_or_else(|| panic!("the connection's session again in {again:#?}"));
    assert_eq!(routed["reply"]["dst"], SNAT_IP, "{routed}");
    assert_eq!(
        routed["reply"]["dport"], sport,
        "the same SNAT port: {routed}"
    );
    assert!(nc_session(&again, &vm_tap, sport).is_some(), "{again:#?}");
    let picked = counter(&net.stats(), "conntrack", "picked_up") - picked_before;
    assert!(picked >= 2, "picked up in both zones, {picked}");

    // Neighbour flush: the learned upstream entry goes, ARP brings it back.
    assert!(
        router_neighbour(&net, UPSTREAM).is_some(),
        "upstream learned"
    );
    let out = net.ctl(&["neighbour", "flush"]);
    assert!(out.contains("learned neighbour entries removed"), "{out}");
    assert!(!out.starts_with("0 "), "{out}");
    assert_eq!(router_neighbour(&net, UPSTREAM), None, "flushed");
    net.vm1.ns.run(&format!("ping -c 1 -W 3 {UPSTREAM}"));
    assert_eq!(
        router_neighbour(&net, UPSTREAM).as_deref(),
        Some("52:54:00:01:01:fe"),
        "resolved again"
    );
    net.ctl(&["neighbour", "flush", "--router", "tenant-R1"]);
    assert_eq!(router_neighbour(&net, UPSTREAM), None, "flushed by router");
    feed.write_all(b"after-neighbour-flush\n")
        .expect("write to nc");
    server.wait_line("after-neighbour-flush", Duration::from_secs(10));

    // SIGHUP: the appliance says what it does and goes on.
    let vr = net.vr.as_mut().expect("running");
    // SAFETY: kill(2) on the appliance's own pid.
    assert_eq!(unsafe { libc::kill(vr.proc().pid(), libc::SIGHUP) }, 0);
    vr.proc()
        .wait_line("SIGHUP: nothing is re-read", Duration::from_secs(5));
    net.vm1.ns.run(&format!("ping -c 1 -W 3 {UPSTREAM}"));
    feed.write_all(b"after-sighup\n").expect("write to nc");
    server.wait_line("after-sighup", Duration::from_secs(10));

    // The flushes are in the log (text on stderr outside systemd), with their fields, and
    // so is the `log` record of the notify socket.
    drop(feed);
    let done = net.vr.take().expect("running").stop();
    let flushes: Vec<&str> = done
        .stderr
        .lines()
        .filter(|l| l.contains("INFO") && l.contains("flushed by every worker"))
        .collect();
    assert_eq!(
        flushes.len(),
        4,
        "one log line per flush\n{}",
        done.output()
    );
    assert!(
        flushes.iter().all(|l| l.contains("removed=")),
        "{flushes:#?}"
    );
    let bridged = done
        .stderr
        .lines()
        .any(|l| l.contains("WARN") && l.contains("NOTIFY_SOCKET"));
    assert!(bridged, "the log record on stderr\n{}", done.output());
}
