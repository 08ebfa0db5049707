//! `[conntrack] zone_limit`: validated against the capacity, half of it when absent, and
//! compiled into the data plane's limits.

use control::{load_str, LoadError};

const TENANT_A: &str = include_str!("../../configs/tenant-a.toml");
const ORIGIN: &str = "configs/x.toml";

/// The reference text with `[conntrack]` replaced by `section`.
fn with_conntrack(section: &str) -> String {
    let c = "[conntrack]\ncapacity = 262144\n";
    assert!(TENANT_A.contains(c));
    TENANT_A.replacen(c, section, 1)
}

fn errors(text: &str) -> Vec<String> {
    match load_str(text, ORIGIN) {
        Err(e @ LoadError::Invalid(_)) => e.messages(),
        Err(e) => panic!("not a validation error: {e}"),
        Ok(_) => panic!("validated"),
    }
}

/// The data plane's conntrack limits compiled from `text`.
fn compiled(text: &str) -> (usize, usize) {
    let topo = load_str(text, ORIGIN).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<String> = topo.devices().into_iter().map(|(n, _)| n).collect();
    let snap = control::compile(&topo, &names, 1).expect("compiles");
    (snap.conntrack.capacity, snap.conntrack.zone_limit)
}

#[test]
fn the_zone_limit_is_at_least_one_and_at_most_the_capacity() {
    assert_eq!(
        errors(&with_conntrack(
            "[conntrack]\ncapacity = 1000\nzone_limit = 0\n"
        )),
        [format!(
            "{ORIGIN}: conntrack: zone_limit: must be at least 1"
        )]
    );
    assert_eq!(
        errors(&with_conntrack(
            "[conntrack]\ncapacity = 1000\nzone_limit = 1001\n"
        )),
        [format!(
            "{ORIGIN}: conntrack: zone_limit: 1001 is over the capacity of 1000"
        )]
    );
}

#[test]
fn the_zone_limit_defaults_to_half_the_capacity_and_reaches_the_data_plane() {
    assert_eq!(
        compiled(&with_conntrack("[conntrack]\ncapacity = 1000\n")),
        (1000, 500)
    );
    assert_eq!(
        compiled(&with_conntrack(
            "[conntrack]\ncapacity = 1000\nzone_limit = 1000\n"
        )),
        (1000, 1000)
    );
    let default = vrouter::tables::ConntrackConf::default();
    assert_eq!(compiled(TENANT_A), (default.capacity, default.capacity / 2));
}
