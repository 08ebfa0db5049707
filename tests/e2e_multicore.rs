//! End-to-end test of two workers (`--workers 2`): every device has two queue pairs, the
//! kernel spreads a VM's flows over them, and each flow's frames are handed to the worker
//! that owns it, so SNAT return traffic is translated whichever queue it arrives on.
//!
//! ```text
//!   vm1 (vm001 10.0.0.10, no floating IP) ──tap, 2 queues──┐
//!                                                          vrouter (2 workers) ─tap, 2 queues (eth2)─ up (10.1.101.254)
//! ```
//!
//! | what | checked |
//! |---|---|
//! | 300 UDP flows through SNAT, one datagram each, echoed by upstream | each flow gets exactly one reply with its own payload; upstream saw only 10.1.101.80 |
//! | 12 pings with their own ICMP ids at once | every echo answered, no duplicate |
//! | the appliance's report | 2 workers ran, frames were handed between them, learned state was synced, 300+ sessions, no `handoff_full` or `sync_full` drop, every mbuf back |

mod common;

use common::{move_tap, require_prereqs, unique, Netns, Proc, Vrouter, PYTHON};
use std::time::Duration;

const UDP_FLOWS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/udp_flows.py");
const FLOWS: usize = 300;

/// The number after `name ` in the appliance's report line starting with `prefix`.
fn counter(report: &str, prefix: &str, name: &str) -> u64 {
    let line = report
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no report line '{prefix}':\n{report}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| *w == name)
        .unwrap_or_else(|| panic!("no counter {name} in '{line}'"));
    words[at + 1]
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .unwrap_or_else(|_| panic!("counter {name} in '{line}'"))
}

#[test]
fn two_workers_translate_return_traffic_on_either_queue() {
    require_prereqs();
    let vm1 = Netns::new(&unique("mv1"));
    let up = Netns::new(&unique("mup"));
    let (t_vm1, t_up) = (unique("tmv"), unique("tmu"));
    let devs = [
        "eth1=net_null0,no-rx=1".to_string(),
        format!("eth2=net_tap0,iface={t_up}"),
        format!("tapd7233b80-9d=net_tap1,iface={t_vm1}"),
    ];
    let mut argv = vec!["--workers", "2"];
    for d in &devs {
        argv.extend(["--devargs", d]);
    }
    let vr = Vrouter::start(&argv);
    move_tap(&t_vm1, &vm1, "fa:16:3e:75:e0:5a", Some("10.0.0.10/24"));
    move_tap(&t_up, &up, "52:54:00:01:01:fe", Some("10.1.101.254/24"));
    vm1.run("ip route add default via 10.0.0.1");
    // Resolve both sides first: the known packet set below must not wait for ARP.
    vm1.run("ping -c 2 -i 0.2 -W 3 10.1.101.254");

    let serve: Vec<String> = format!(
        "ip netns exec {} {PYTHON} {UDP_FLOWS} serve --port 7000 --idle 4",
        up.name
    )
    .split_whitespace()
    .map(String::from)
    .collect();
    let mut server = Proc::spawn("udp echo upstream", &serve);
    server.wait_line("ready", Duration::from_secs(10));
    let sent = vm1.try_run(&format!(
        "{PYTHON} {UDP_FLOWS} send --to 10.1.101.254:7000 --flows {FLOWS} --first-port 40000 --timeout 5"
    ));
    let summary = String::from_utf8_lossy(&sent.stdout).into_owned();
    assert!(
        sent.status.success(),
        "every flow must get exactly one right reply:\n{summary}{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    assert!(
        summary.contains(&format!("\"sent\": {FLOWS}, \"replied\": {FLOWS}"))
            && summary.contains("\"sources\": [\"10.1.101.80\"]"),
        "all {FLOWS} flows answered, seen upstream as 10.1.101.80 only:\n{summary}"
    );
    let seen = server.wait_exit(Duration::from_secs(15)).output();
    let senders = seen
        .lines()
        .filter(|l| l.starts_with("10.1.101.80:"))
        .count();
    assert!(
        senders >= FLOWS,
        "upstream saw {senders} distinct SNAT sources, want one per flow:\n{seen}"
    );

    // Pings with distinct ICMP ids, at the same time.
    let pings: Vec<Proc> = (0..12)
        .map(|i| {
            let argv: Vec<String> = format!(
                "ip netns exec {} ping -c 4 -i 0.2 -W 3 10.1.101.254",
                vm1.name
            )
            .split_whitespace()
            .map(String::from)
            .collect();
            Proc::spawn(&format!("ping {i}"), &argv)
        })
        .collect();
    for mut p in pings {
        let out = p.wait_exit(Duration::from_secs(20)).output();
        assert!(
            out.contains("4 packets transmitted, 4 received") && !out.contains("DUP!"),
            "every echo answered once:\n{out}"
        );
    }

    let report = vr.stop().output();
    assert!(report.contains("2 worker(s)"), "ran 2 workers:\n{report}");
    assert!(
        counter(&report, "gre_decap", "handed_off") > 0,
        "frames must have reached the worker that does not own them:\n{report}"
    );
    assert!(
        counter(&report, "gre_decap", "sync_applied") > 0,
        "learned MACs and neighbours must be shared:\n{report}"
    );
    assert!(
        counter(&report, "== conntrack sessions", "created") >= FLOWS as u64,
        "one session per flow at least:\n{report}"
    );
    assert!(
        !report.contains("handoff_full"),
        "no frame lost between workers:\n{report}"
    );
    assert!(
        !report.contains("sync_full"),
        "no learned state lost between workers:\n{report}"
    );
    assert!(
        !report.contains("mbufs in use"),
        "every mbuf back in the pool:\n{report}"
    );
}
