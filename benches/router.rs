//! The router stage on `VecFrame`s, no DPDK: vm001's port → L2 → router → SNAT to
//! 10.1.101.80 → eth2, and eth2 → floating IP 10.1.101.82 → DNAT → vm002's port. Reports
//! ns/packet (criterion's time per element) for bursts of 32 packets of one established
//! flow each (vm ports without security groups, so that only routing and NAT are timed).
//! The `fib` group times the route lookup alone (ns per lookup) with the reference router's
//! 4 routes and with 1000, against the longest-prefix scan of the sorted route list.

mod common;

use common::{reference, Sink, BURST};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;
use vrouter::pipeline::Dataplane;
use vrouter::tables::router::{mask, Route};
use vrouter::tables::{PortIdx, RouterConf, RouterPortIdx, Snapshot};
use vrouter::wire::checksum;
use vrouter::VecFrame;

const ETH2: PortIdx = 1;
const VM001: PortIdx = 2;
const VM002: PortIdx = 3;
const QR: [u8; 6] = [0xfa, 0x16, 0x3e, 0xf7, 0xe6, 0x9c];
const QG: [u8; 6] = [0xfa, 0x16, 0x3e, 0x78, 0x39, 0xe9];
const UP: [u8; 6] = [0x52, 0x54, 0x00, 0x01, 0x01, 0xfe];
const VM001_MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0x75, 0xe0, 0x5a];

/// Both VMs bound locally without port security; 10.1.101.82 on vm002.
fn snapshot() -> Snapshot {
    reference(
        &[
            ("tapd7233b80-9d", "net_null2"),
            ("tap1653ec91-ad", "net_null3"),
        ],
        |topo| {
            for p in topo
                .ports
                .iter_mut()
                .filter(|p| p.device_owner == "compute:nova")
            {
                p.port_security_enabled = false;
                p.security_groups.clear();
            }
            let fip = topo
                .floatingips
                .iter_mut()
                .find(|f| f.floating_ip_address == "10.1.101.82")
                .unwrap();
            fip.port_id = Some("1653ec91-ad7d-40d9-b777-f74aec697026".into());
        },
    )
}

/// A 64-byte UDP frame `dmac` ← `smac`, `src` → `dst`.
fn udp(dmac: [u8; 6], smac: [u8; 6], src: [u8; 4], dst: [u8; 4]) -> VecFrame {
    let mut f = dmac.to_vec();
    f.extend_from_slice(&smac);
    f.extend_from_slice(&[0x08, 0x00]);
    let mut ip = vec![0x45, 0, 0, 46, 0, 1, 0, 0, 64, 17, 0, 0];
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let c = checksum::checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&[0x13, 0x88, 0x27, 0x0f, 0, 26, 0, 0]);
    f.resize(60, 0xab);
    VecFrame::new(&f)
}

/// An ARP reply from the upstream gateway to the router's gateway port.
fn upstream_arp() -> VecFrame {
    let mut f = QG.to_vec();
    f.extend_from_slice(&UP);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 2]);
    f.extend_from_slice(&UP);
    f.extend_from_slice(&[10, 1, 101, 254]);
    f.extend_from_slice(&QG);
    f.extend_from_slice(&[10, 1, 101, 80]);
    VecFrame::new(&f)
}

fn router(c: &mut Criterion) {
    let snap = snapshot();
    let mut dp: Dataplane<VecFrame> = Dataplane::new(&snap, 0);
    dp.rx(&snap, ETH2, [upstream_arp()], 0, &mut Sink(Vec::new()));
    let mut g = c.benchmark_group("router");
    g.throughput(Throughput::Elements(BURST as u64));
    for (name, port, frame, out) in [
        (
            "snat_out",
            VM001,
            udp(QR, VM001_MAC, [10, 0, 0, 10], [8, 8, 8, 8]),
            ETH2,
        ),
        (
            "fip_in",
            ETH2,
            udp(QG, UP, [198, 18, 0, 1], [10, 1, 101, 82]),
            VM002,
        ),
    ] {
        dp.rx(&snap, port, [frame.clone()], 0, &mut Sink(Vec::new()));
        g.bench_function(name, |b| {
            b.iter_batched(
                || (vec![frame.clone(); BURST], Sink(Vec::with_capacity(BURST))),
                |(frames, mut sink)| {
                    dp.rx(&snap, port, frames, 1, &mut sink);
                    assert!(sink.0.len() == BURST && sink.0.iter().all(|(p, _)| *p == out));
                    sink
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

/// xorshift64: a fixed sequence of addresses and prefix lengths.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 16) as u32
    }
}

/// The reference router's routes (2 connected, the default) and static routes of length
/// 16 to 32 inside 10.128.0.0/9 via the upstream gateway, `total` in all.
fn routes(total: usize) -> RouterConf {
    let mut r = snapshot().routers.remove(0);
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let gw = u32::from_be_bytes([10, 1, 101, 254]);
    let up = r.lookup(gw).expect("a connected route to the gateway").0;
    while r.routes.len() < total {
        let len = 16 + (rng.next() % 17) as u8;
        let prefix = (0x0a80_0000 | (rng.next() & 0x007f_ffff)) & mask(len);
        r.routes.push(Route {
            prefix,
            len,
            via: Some(gw),
            port: up,
        });
    }
    r.sort_routes();
    r
}

/// The first of the longest matching routes, by scanning the list sorted longest first.
fn scan(routes: &[Route], dst: u32) -> Option<(RouterPortIdx, u32)> {
    routes
        .iter()
        .find(|r| dst & mask(r.len) == r.prefix)
        .map(|r| (r.port, r.via.unwrap_or(dst)))
}

fn fib(c: &mut Criterion) {
    const LOOKUPS: usize = 1024;
    let mut g = c.benchmark_group("fib");
    g.throughput(Throughput::Elements(LOOKUPS as u64));
    for count in [4, 1000] {
        let r = routes(count);
        assert_eq!(r.routes.len(), count);
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        // Tenant, upstream and internet destinations, and some inside the static routes.
        let dsts: Vec<u32> = (0..LOOKUPS)
            .map(|i| match i % 4 {
                0 => 0x0a00_0000 | (rng.next() & 0xff),
                1 => 0x0a80_0000 | (rng.next() & 0x007f_ffff),
                2 => 0x0a01_6500 | (rng.next() & 0xff),
                _ => rng.next(),
            })
            .collect();
        assert!(dsts.iter().all(|&d| r.lookup(d) == scan(&r.routes, d)));
        g.bench_function(format!("lpm_{count}_routes"), |b| {
            b.iter(|| {
                for &d in &dsts {
                    black_box(r.lookup(black_box(d)));
                }
            })
        });
        g.bench_function(format!("scan_{count}_routes"), |b| {
            b.iter(|| {
                for &d in &dsts {
                    black_box(scan(&r.routes, black_box(d)));
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, router, fib);
criterion_main!(benches);
