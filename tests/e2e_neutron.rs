//! End-to-end test of vrouter-neutron-agent against a real Neutron: MariaDB, RabbitMQ and
//! neutron-server on loopback, the appliance (this build's binary) and the agent. The
//! scenario is `agent/tests/e2e_neutron.py` (the agent and Neutron are Python): the seed's
//! topology built with the `openstack` CLI appears in the appliance with Neutron's ids and
//! device names, the three agents are alive, a security group rule reaches the appliance,
//! restarts of the agent, RabbitMQ, neutron-server and the appliance each end in the same
//! state (no lost ping during the agent's and RabbitMQ's), and removing the router's
//! interface and the router removes them from the appliance. A second scenario,
//! `agent/tests/e2e_neutron_compute.py`, adds compute1 behind GRE: OVS-DPDK programmed by
//! Neutron's own `neutron-openvswitch-agent`, whose VM (a namespace) gets its address by
//! DHCP from the appliance, is reached at its floating IP and reaches upstream through
//! SNAT. The agent's unit tests (`agent/tests/test_*.py`: Neutron's answers in, control
//! requests out) run here too.

mod common;

use common::{require_prereqs, VROUTER, VROUTERCTL};
use std::process::Command;
use std::sync::Mutex;

/// The scenario script.
const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/agent/tests/e2e_neutron.py");
/// The scenario with compute1 behind GRE.
const COMPUTE_SCENARIO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/agent/tests/e2e_neutron_compute.py"
);
/// The agent's unit tests.
const AGENT_TESTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/agent/tests");

#[test]
fn agent_unit_tests() {
    let status = Command::new("/usr/bin/python3")
        .args([
            "-m",
            "unittest",
            "discover",
            "-s",
            AGENT_TESTS,
            "-p",
            "test_*.py",
        ])
        .status()
        .unwrap_or_else(|e| panic!("cannot run the agent's unit tests: {e}"));
    assert!(status.success(), "the agent's unit tests failed ({status})");
}

/// One Neutron scenario at a time: each starts its own MariaDB, RabbitMQ, neutron-server
/// and appliance, which together take this machine's two cores.
static ONE_SCENARIO: Mutex<()> = Mutex::new(());

/// Runs a scenario script with this build's binaries; fails with its exit status.
fn run_scenario(script: &str) {
    require_prereqs();
    let _one = ONE_SCENARIO.lock().unwrap_or_else(|e| e.into_inner());
    let status = Command::new("/usr/bin/python3")
        .arg(script)
        .env("VROUTER", VROUTER)
        .env("VROUTERCTL", VROUTERCTL)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    assert!(
        status.success(),
        "{script} failed ({status}); its output is above"
    );
}

#[test]
fn neutron_drives_the_appliance() {
    run_scenario(SCENARIO);
}

#[test]
fn neutron_ovs_agent_compute_node_behind_gre() {
    run_scenario(COMPUTE_SCENARIO);
}
