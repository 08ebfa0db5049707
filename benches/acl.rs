//! The security group stage on `VecFrame`s, no DPDK: vm001 (no port security) → L2 →
//! vm002's ingress chain. Reports ns/packet (criterion's time per element) for a packet of
//! an ESTABLISHED connection, which never looks at the rules, and for a NEW packet walked
//! through 100 rules that all miss (the worst case of a rule walk).

mod common;

use common::{reference, Sink, BURST};
use control::model::{Direction, EtherType, Rule, SecurityGroup};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use vrouter::pipeline::Dataplane;
use vrouter::tables::{PortIdx, Snapshot};
use vrouter::wire::checksum;
use vrouter::VecFrame;

const VM001: PortIdx = 2;
const VM002: PortIdx = 3;

/// Both VMs bound locally, vm001 unfiltered; vm002 in `groups` (the default group when
/// empty).
fn snapshot(groups: Vec<SecurityGroup>) -> Snapshot {
    reference(
        &[
            ("tapd7233b80-9d", "net_null2"),
            ("tap1653ec91-ad", "net_null3"),
        ],
        |topo| {
            let vm001 = topo
                .ports
                .iter_mut()
                .find(|p| p.id.starts_with("d7233b80"))
                .unwrap();
            vm001.port_security_enabled = false;
            vm001.security_groups.clear();
            if !groups.is_empty() {
                let vm002 = topo
                    .ports
                    .iter_mut()
                    .find(|p| p.id.starts_with("1653ec91"))
                    .unwrap();
                vm002.security_groups = groups.iter().map(|g| g.id.clone()).collect();
                topo.security_groups.extend(groups);
            }
        },
    )
}

/// A group of 100 ingress TCP rules for ports 1000-1099.
fn hundred_rules() -> SecurityGroup {
    SecurityGroup {
        id: "b0000000-0000-4000-8000-000000000100".into(),
        name: "bench-100".into(),
        tenant_id: None,
        rules: (0..100)
            .map(|i| Rule {
                id: Some(format!("b0000000-0000-4000-8000-00000000{i:04}")),
                direction: Direction::Ingress,
                ethertype: EtherType::IPv4,
                protocol: Some("tcp".into()),
                port_range_min: Some(1000 + i),
                port_range_max: Some(1000 + i),
                remote_ip_prefix: None,
                remote_group_id: None,
            })
            .collect(),
    }
}

/// A 64-byte UDP frame from vm001 (10.0.0.10) to vm002 (10.0.0.9), port 9999.
fn frame() -> VecFrame {
    let mut f = vec![
        0xfa, 0x16, 0x3e, 0x51, 0xa2, 0x97, 0xfa, 0x16, 0x3e, 0x75, 0xe0, 0x5a,
    ];
    let mut ip = vec![
        0x45, 0, 0, 46, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 10, 10, 0, 0, 9,
    ];
    let c = checksum::checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&ip);
    f.extend_from_slice(&[0x13, 0x88, 0x27, 0x0f, 0, 26, 0, 0]);
    f.resize(60, 0xab);
    VecFrame::new(&f)
}

fn acl(c: &mut Criterion) {
    let mut g = c.benchmark_group("acl");
    g.throughput(Throughput::Elements(BURST as u64));
    for (name, snap, passes) in [
        ("established", snapshot(Vec::new()), true),
        (
            "new_denied_after_100_rules",
            snapshot(vec![hundred_rules()]),
            false,
        ),
    ] {
        let mut dp: Dataplane<VecFrame> = Dataplane::new(&snap, 0);
        let f = frame();
        dp.rx(&snap, VM001, [f.clone()], 0, &mut Sink(Vec::new()));
        g.bench_function(name, |b| {
            b.iter_batched(
                || (vec![f.clone(); BURST], Sink(Vec::with_capacity(BURST))),
                |(frames, mut out)| {
                    dp.rx(&snap, VM001, frames, 1, &mut out);
                    assert_eq!(out.0.len(), if passes { BURST } else { 0 });
                    assert!(out.0.iter().all(|(p, _)| *p == VM002));
                    out
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, acl);
criterion_main!(benches);
