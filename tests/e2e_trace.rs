//! `vrouterctl trace add|show` and the per-node counters of `vrouterctl stats`, against the
//! running appliance with a real client: a ping from vm001 through SNAT is traced node by
//! node (port-input, l2-switch, local-input, router, l2-switch, port-output), the router's
//! step shows the session it made and the next step the translated source; only as many
//! frames as asked are traced, only from the device named; bad requests are refused.
//!
//! ```text
//!   vm001 10.0.0.10 (SNAT 10.1.101.80) ──tap──┐
//!   vm002 10.0.0.9 ─────────────────────tap──┼─ vrouter ─tap(eth2)─ upstream 10.1.101.254
//! ```

mod common;
mod ct_rig;

use common::require_prereqs;
use ct_rig::{Net, Options, VM001_PORT};

const UPSTREAM: &str = "10.1.101.254";

/// The nodes of `trace show`'s step lines, in order.
fn nodes(text: &str) -> Vec<String> {
    let steps = text.lines().filter(|l| l.starts_with("  "));
    steps
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

#[test]
fn a_traced_ping_shows_its_way_through_the_nodes_and_its_snat() {
    require_prereqs();
    let net = Net::start('t', Options::default());
    // Resolve ARP first, so that the traced frame is the ping itself.
    net.vm1.ns.run(&format!("ping -c 2 -W 3 {UPSTREAM}"));
    let vm_tap = format!("tap{}", &VM001_PORT[..11]);

    let started = net.ctl(&["trace", "add", "1", "--device", &vm_tap]);
    assert!(
        started.contains(&format!("next 1 frames from device {vm_tap}")),
        "{started}"
    );
    // Frames from another device are not traced.
    net.up.ns.run("ping -c 1 -W 3 10.1.101.80");
    net.vm1.ns.run(&format!("ping -c 2 -i 0.2 -W 3 {UPSTREAM}"));
    let shown = net.ctl(&["trace", "show"]);
    assert!(shown.starts_with("Packet 1 (worker 0)\n"), "{shown}");
    assert!(!shown.contains("Packet 2"), "one frame asked for:\n{shown}");
    assert_eq!(
        nodes(&shown),
        [
            "port-input",
            "l2-switch",
            "local-input",
            "router",
            "l2-switch",
            "port-output"
        ],
        "{shown}"
    );
    let lines: Vec<&str> = shown.lines().skip(1).collect();
    assert!(
        lines[0].contains("-> l2-switch") && lines[0].contains("+1 session(s)"),
        "vm001's security group made its session: {shown}"
    );
    assert!(
        lines[3].contains("-> l2-switch")
            && lines[3].contains("+1 session(s)")
            && lines[3].contains(&format!("ipv4 10.0.0.10 > {UPSTREAM} ttl 64 icmp type 8")),
        "the router made the SNAT session: {shown}"
    );
    assert!(
        lines[4].contains(&format!("ipv4 10.1.101.80 > {UPSTREAM} ttl 63 icmp type 8")),
        "translated after the router: {shown}"
    );
    assert!(lines[5].contains("done"), "sent: {shown}");

    // Refused: no frames, too many, a device that is not attached.
    for (args, error) in [
        (vec!["trace", "add", "0"], "count must be 1 to 1000, not 0"),
        (
            vec!["trace", "add", "1001"],
            "count must be 1 to 1000, not 1001",
        ),
        (
            vec!["trace", "add", "1", "--device", "tap00000000-00"],
            "no device tap00000000-00 is attached",
        ),
    ] {
        let out = common::vrouterctl(net.socket(), &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} accepted");
        assert!(stderr.contains(error), "{args:?}: {stderr}");
    }

    // Per-node counters: the router ran, with cycles from the worker's TSC.
    let stats = net.stats();
    let nodes = stats["nodes"].as_array().expect("nodes");
    let router = nodes
        .iter()
        .find(|n| n["name"] == "router")
        .expect("router");
    assert!(router["packets"].as_u64().unwrap_or(0) >= 7, "{router}");
    assert!(
        router["cycles_per_packet"].as_u64().unwrap_or(0) > 0,
        "{router}"
    );
    let text = net.ctl(&["stats"]);
    let table = text
        .split_once("cycles/packet")
        .map(|(_, t)| t)
        .unwrap_or("");
    assert!(
        table.lines().any(|l| l.contains(" router ")),
        "the node table of stats: {text}"
    );
}
