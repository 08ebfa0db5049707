//! The DHCP stage on `VecFrame`s, no DPDK: a client message from vm001's local port →
//! L2 → DHCP server → reply built in place → L2 → vm001's port. Reports the time per
//! reply (criterion's time per element; replies per second on one core = 1 / that) for
//! bursts of 32 DISCOVER → OFFER and REQUEST (RENEWING) → ACK.
//!
//! The DISCOVERs are addressed to the DHCP port (MAC and IP) rather than broadcast, so
//! that the bench measures the server and not the flooding of the request to every port
//! and tunnel peer of the network.

mod common;

use common::{reference, Sink, BURST};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use vrouter::pipeline::Dataplane;
use vrouter::tables::{PortIdx, Snapshot};
use vrouter::wire::{ethernet, ipv4, udp};
use vrouter::{Mac, VecFrame};

const VM001: PortIdx = 2;
const VM001_MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0x75, 0xe0, 0x5a];
const DHCP_MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0xda, 0x41, 0x49];
const VM001_IP: u32 = 0x0a00_000a;
const SERVER_IP: u32 = 0x0a00_0003;

/// The reference topology with vm001 bound locally (device index 2).
fn snapshot() -> Snapshot {
    reference(&[("tapd7233b80-9d", "net_null2")], |_| {})
}

/// A 300-byte DHCP message of `kind` (1 DISCOVER, 3 REQUEST) from vm001 with `ciaddr`,
/// asking for the options dhclient asks for, in UDP/IPv4/Ethernet to the DHCP port.
fn client(kind: u8, ciaddr: u32) -> Vec<u8> {
    let mut m = vec![1, 1, 6, 0, 0x39, 0x03, 0xf3, 0x26, 0, 0, 0, 0];
    m.extend_from_slice(&ciaddr.to_be_bytes());
    m.extend_from_slice(&[0; 12]);
    m.extend_from_slice(&VM001_MAC);
    m.resize(236, 0);
    m.extend_from_slice(&[99, 130, 83, 99, 53, 1, kind]);
    m.extend_from_slice(&[55, 9, 1, 28, 2, 3, 15, 6, 12, 26, 121, 255]);
    m.resize(300, 0);
    let src = if ciaddr == 0 { 0 } else { VM001_IP };
    let mut f = vec![0u8; 14 + 20 + 8 + m.len()];
    f[42..].copy_from_slice(&m);
    udp::Repr {
        src_port: 68,
        dst_port: 67,
        payload_len: m.len() as u16,
    }
    .emit(&mut f[34..], src, SERVER_IP);
    ipv4::Repr {
        tos: 0,
        payload_len: (8 + m.len()) as u16,
        ident: 0,
        frag_word: 0,
        ttl: 64,
        protocol: ipv4::proto::UDP,
        src,
        dst: SERVER_IP,
    }
    .emit(&mut f[14..]);
    ethernet::Repr {
        dst: Mac(DHCP_MAC),
        src: Mac(VM001_MAC),
        ethertype: ethernet::ethertype::IPV4,
    }
    .emit(&mut f);
    f
}

fn dhcp(c: &mut Criterion) {
    let snap = snapshot();
    let mut dp: Dataplane<VecFrame> = Dataplane::new(&snap, 0);
    let mut g = c.benchmark_group("dhcp");
    g.throughput(Throughput::Elements(BURST as u64));
    for (name, frame) in [
        ("discover_to_offer", VecFrame::new(&client(1, 0))),
        ("renew_to_ack", VecFrame::new(&client(3, VM001_IP))),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || (vec![frame.clone(); BURST], Sink(Vec::with_capacity(BURST))),
                |(frames, mut out)| {
                    dp.rx(&snap, VM001, frames, 1, &mut out);
                    assert_eq!(out.0.len(), BURST);
                    out
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
    assert_eq!(dp.stats.total_drops(), 0);
}

criterion_group!(benches, dhcp);
criterion_main!(benches);
