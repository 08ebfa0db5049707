//! End-to-end test of vrouter-neutron-agent against a real Neutron: MariaDB, RabbitMQ and
//! neutron-server on loopback, the appliance (this build's binary) and the agent. The
//! scenario is `agent/tests/e2e_neutron.py` (the agent and Neutron are Python): the seed's
//! topology built with the `openstack` CLI appears in the appliance with Neutron's ids and
//! device names, the three agents are alive, a security group rule reaches the appliance,
//! restarts of the agent, RabbitMQ, neutron-server and the appliance each end in the same
//! state (no lost ping during the agent's and RabbitMQ's), and removing the router's
//! interface and the router removes them from the appliance. The agent's unit tests
//! (`agent/tests/test_*.py`: Neutron's answers in, control requests out) run here too.

mod common;

use common::{require_prereqs, VROUTER, VROUTERCTL};
use std::process::Command;

/// The scenario script.
const SCENARIO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/agent/tests/e2e_neutron.py");
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

#[test]
fn neutron_drives_the_appliance() {
    require_prereqs();
    let status = Command::new("/usr/bin/python3")
        .arg(SCENARIO)
        .env("VROUTER", VROUTER)
        .env("VROUTERCTL", VROUTERCTL)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {SCENARIO}: {e}"));
    assert!(
        status.success(),
        "{SCENARIO} failed ({status}); its output is above"
    );
}
