//! The GRE path of the pipeline on `VecFrame`s, no DPDK: decap → MAC lookup → local port,
//! and local port → MAC lookup → encap to a learned peer. Reports ns/packet (criterion's
//! time per element) for bursts of 32 frames of 64 bytes.

mod common;

use common::{reference, Sink, BURST};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use vrouter::pipeline::Dataplane;
use vrouter::tables::{PortIdx, Snapshot};
use vrouter::wire::checksum;
use vrouter::VecFrame;

const UNDERLAY: PortIdx = 0;
const VM002: PortIdx = 2;
const LOCAL_MAC: [u8; 6] = [0x52, 0x54, 0, 0, 1, 0x21];
const C1_MAC: [u8; 6] = [0x52, 0x54, 0, 0, 1, 0x31];
const VM002_MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0x51, 0xa2, 0x97];
const REMOTE_VM_MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0x0a, 0x00, 0x14];

/// The reference topology with vm002 bound locally (device index 2), without security
/// groups: this bench times the GRE path alone (benches/acl.rs times the filter).
fn snapshot() -> Snapshot {
    reference(&[("tap1653ec91-ad", "net_null2")], |topo| {
        let vm002 = topo
            .ports
            .iter_mut()
            .find(|p| p.id.starts_with("1653ec91"))
            .unwrap();
        vm002.port_security_enabled = false;
        vm002.security_groups.clear();
    })
}

/// An inner 64-byte frame (60 without FCS): Ethernet/IPv4/UDP with 18 bytes of payload.
fn inner(dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 46, 0, 1, 0, 0, 64, 17, 0, 0]);
    f.extend_from_slice(&[10, 0, 0, 20, 10, 0, 0, 9]);
    f.extend_from_slice(&[0x04, 0x00, 0x13, 0x89, 0, 26, 0, 0]);
    f.resize(60, 0xab);
    f
}

/// `payload` in Ethernet/IPv4/GRE(key 2) from compute1 (10.0.1.31) to 10.0.1.21.
fn from_compute1(payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&LOCAL_MAC);
    f.extend_from_slice(&C1_MAC);
    f.extend_from_slice(&[0x08, 0x00]);
    let mut ip = vec![
        0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 47, 0, 0, 10, 0, 1, 31, 10, 0, 1, 21,
    ];
    ip[2..4].copy_from_slice(&((28 + payload.len()) as u16).to_be_bytes());
    let c = checksum::checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&[0x20, 0x00, 0x65, 0x58, 0, 0, 0, 2]);
    f.extend_from_slice(payload);
    f
}

/// An ARP reply from compute1 to the local endpoint.
fn arp_reply() -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&LOCAL_MAC);
    f.extend_from_slice(&C1_MAC);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 2]);
    f.extend_from_slice(&C1_MAC);
    f.extend_from_slice(&[10, 0, 1, 31]);
    f.extend_from_slice(&LOCAL_MAC);
    f.extend_from_slice(&[10, 0, 1, 21]);
    f
}

fn gre_path(c: &mut Criterion) {
    let snap = snapshot();
    let mut dp: Dataplane<VecFrame> = Dataplane::new(&snap, 0);
    let mut sink = Sink(Vec::new());
    // compute1 resolved, and the remote VM learned behind it by a first decapsulated frame.
    dp.rx(&snap, UNDERLAY, [VecFrame::new(&arp_reply())], 0, &mut sink);
    let decap_in = VecFrame::new(&from_compute1(&inner(VM002_MAC, REMOTE_VM_MAC)));
    let encap_in = VecFrame::new(&inner(REMOTE_VM_MAC, VM002_MAC));
    dp.rx(&snap, UNDERLAY, [decap_in.clone()], 0, &mut sink);
    let mut g = c.benchmark_group("gre_path");
    g.throughput(Throughput::Elements(BURST as u64));
    for (name, port, frame) in [
        ("decap_to_vm", UNDERLAY, &decap_in),
        ("encap_to_peer", VM002, &encap_in),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || (vec![frame.clone(); BURST], Sink(Vec::with_capacity(BURST))),
                |(frames, mut out)| {
                    dp.rx(&snap, port, frames, 1, &mut out);
                    assert_eq!(out.0.len(), BURST);
                    out
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, gre_path);
criterion_main!(benches);
