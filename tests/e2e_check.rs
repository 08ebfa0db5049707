//! `vrouter --check` and start-up errors, on the real binary.

mod common;

use common::{Vrouter, TENANT_A, VROUTER};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

fn vrouter(args: &[&str]) -> Output {
    Command::new(VROUTER)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {VROUTER}: {e}"))
}

fn text(out: &Output) -> String {
    format!(
        "exit status {}\n--- stdout ---\n{}--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The names an operator of the old network node greps for, derived from the ids.
const DERIVED: [&str; 6] = [
    "tap1653ec91-ad",
    "qr-81388454-30",
    "qg-eb60f9c4-2d",
    "gre-0a00011f",
    "qrouter-680944ad-679c-4fe8-ae4b-258cd8ac337f",
    "qdhcp-7c22bbd9-166c-4610-9a3d-3b8b92c77518",
];

#[test]
fn check_prints_the_derived_names() {
    for args in [&["--config", TENANT_A, "--check"][..], &["--check"][..]] {
        let out = vrouter(args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "`vrouter {}` should accept the reference topology\n{}",
            args.join(" "),
            text(&out)
        );
        for name in DERIVED {
            assert!(
                stdout.contains(name),
                "`vrouter {}` should show the derived name {name}\n{}",
                args.join(" "),
                text(&out)
            );
        }
    }
}

/// A file removed on drop.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Replaces the one occurrence of `from` in `s`, so that a change of the reference file
/// shows here instead of silently making the copy valid.
fn replace_once(s: &str, from: &str, to: &str) -> String {
    assert_eq!(
        s.matches(from).count(),
        1,
        "configs/tenant-a.toml should contain {from:?} exactly once"
    );
    s.replacen(from, to, 1)
}

#[test]
fn check_lists_every_error_with_resource_and_field() {
    let good = std::fs::read_to_string(TENANT_A).expect("read configs/tenant-a.toml");
    // Ext-Net's subnet gets a bad CIDR, the DHCP port a network that does not exist, and
    // vm002 the MAC of vm001 on the same network.
    let bad = replace_once(&good, "\"10.1.101.0/24\"", "\"10.1.101.0/33\"");
    let bad = replace_once(
        &bad,
        "id = \"2df7c3ed-dfbb-480d-9cd3-fdefa079e66a\"\nnetwork_id = \"7c22bbd9-166c-4610-9a3d-3b8b92c77518\"",
        "id = \"2df7c3ed-dfbb-480d-9cd3-fdefa079e66a\"\nnetwork_id = \"0000dead-0000-4000-8000-000000000000\"",
    );
    let bad = replace_once(
        &bad,
        "mac_address = \"fa:16:3e:51:a2:97\"",
        "mac_address = \"fa:16:3e:75:e0:5a\"",
    );
    let file =
        TempFile(std::env::temp_dir().join(format!("vrouter-broken-{}.toml", std::process::id())));
    std::fs::write(&file.0, bad).expect("write the broken copy");
    let path = file.0.to_str().unwrap();

    let out = vrouter(&["--config", path, "--check"]);
    assert!(
        !out.status.success(),
        "`vrouter --check` should reject the broken copy\n{}",
        text(&out)
    );
    let all = text(&out);
    for (resource, field, what) in [
        (
            "subnet 2c4155c9-5a2e-471c-a4d8-40a86b45ab0a",
            "cidr",
            "bad CIDR 10.1.101.0/33",
        ),
        (
            "port 2df7c3ed-dfbb-480d-9cd3-fdefa079e66a",
            "network_id",
            "dangling network_id",
        ),
        (
            "port 1653ec91-ad7d-40d9-b777-f74aec697026",
            "mac_address",
            "duplicate MAC fa:16:3e:75:e0:5a",
        ),
    ] {
        assert!(
            all.lines()
                .any(|l| l.contains(path) && l.contains(resource) && l.contains(field)),
            "the errors should include the {what}, as a line naming the file {path}, \
             `{resource}` and the field `{field}`\n{all}"
        );
    }
}

#[test]
fn unknown_device_fails_naming_it() {
    let mut vr = Vrouter::spawn(&[
        "--devargs",
        "eth1=net_bogus0",
        "--devargs",
        "eth2=net_null0,no-rx=1",
    ]);
    let done = vr.proc().wait_exit(Duration::from_secs(60));
    assert!(
        !done.status.success(),
        "the appliance should refuse to start on an unknown device net_bogus0\n{}",
        done.output()
    );
    assert!(
        done.stderr.contains("net_bogus0") || done.stdout.contains("net_bogus0"),
        "the start-up error should name the device net_bogus0\n{}",
        done.output()
    );
}
