//! Replays the fuzz harnesses of the whole pipeline and of the control plane's parsers
//! (`fuzz/src/pipeline.rs`, `fuzz/src/control.rs`, compiled in here) on their seeds and on
//! every reproducer kept in `fuzz/repro/<target>/`, so that what the fuzzers found stays
//! fixed and their paths stay exercised on stable Rust.

#[path = "../../fuzz/src/control.rs"]
mod control_harness;
#[path = "../../fuzz/src/pipeline.rs"]
mod pipeline;

use std::path::PathBuf;

/// The files in `fuzz/repro/<target>/`, with their names.
fn reproducers(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/repro")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .map(|e| e.expect("readable repro dir").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).expect("readable reproducer");
            (p.display().to_string(), bytes)
        })
        .collect()
}

#[test]
fn pipeline_seeds_take_every_stage() {
    let mut totals = Vec::new();
    for seed in pipeline::seeds() {
        totals.push(pipeline::run(&seed));
    }
    let sum = |f: fn(&vrouter::stats::Stats) -> u64| totals.iter().map(f).sum::<u64>();
    assert!(sum(|s| s.gre_decap) > 0, "GRE decapsulation");
    assert!(sum(|s| s.gre_encap) > 0, "GRE encapsulation");
    assert!(sum(|s| s.arp_replies) > 0, "ARP answered");
    assert!(sum(|s| s.arp_replies_received) > 0, "ARP replies taken");
    assert!(sum(|s| s.dhcp.offers) > 0, "DHCP offer");
    assert!(
        sum(|s| s.router.echo_replies) > 0,
        "echo reply from the router"
    );
    assert!(sum(|s| s.router.forwarded) > 0, "routed");
    assert!(
        sum(|s| s.router.icmp_errors_translated) > 0,
        "ICMP error of a NAT flow"
    );
    assert!(sum(|s| s.router.fragments) > 0, "fragmented");
    assert!(
        sum(|s| s.drops[vrouter::stats::DropReason::NeighbourTimeout as usize]) > 0,
        "held frames of an unresolved next hop dropped"
    );
}

#[test]
fn pipeline_holds_on_every_prefix_of_its_seeds() {
    // Cut anywhere, a seed is a shorter sequence of events ending in a truncated frame.
    for seed in pipeline::seeds() {
        for len in (0..seed.len()).step_by(7) {
            pipeline::run(&seed[..len]);
        }
    }
}

#[test]
fn pipeline_holds_on_its_reproducers() {
    for (name, bytes) in reproducers("pipeline") {
        eprintln!("replaying {name}");
        pipeline::run(&bytes);
    }
}

#[test]
fn control_request_parser_holds_on_seeds_and_reproducers() {
    let files = reproducers("control_request").into_iter().map(|(_, b)| b);
    for line in control_harness::request_seeds().into_iter().chain(files) {
        control_harness::request(&line);
    }
}

#[test]
fn config_loader_holds_on_seeds_and_reproducers() {
    let files = reproducers("config_load").into_iter().map(|(_, b)| b);
    for text in control_harness::config_seeds().into_iter().chain(files) {
        control_harness::config(&text);
    }
}

#[test]
fn config_seeds_are_valid_topologies() {
    // The loader's success path (view, compile, JSON round trip) only runs on valid ones.
    for text in control_harness::config_seeds() {
        let text = String::from_utf8(text).expect("UTF-8");
        if let Err(e) = control::load_str(&text, "seed.toml") {
            panic!("{e}");
        }
    }
}
