//! Connection tracking at scale, no DPDK: what `benches/run.sh` cannot see from outside.
//!
//! - memory: the bytes the table allocates for a capacity of 1M sessions, empty and then
//!   holding 1M SNAT sessions (a counting global allocator and the tables' huge-page
//!   mappings: exact bytes allocated, not RSS);
//! - `Conntrack::create` alone: new sessions per second into that table;
//! - the whole pipeline: new SNAT connections per second, GRE from compute1 → decap → L2
//!   → router → SNAT (port allocation, session creation) → eth2, every frame a new flow,
//!   on configs/bench.toml without security groups (VecFrame; frames are built outside the
//!   timed part, in chunks).
//!
//! `cargo bench --bench conntrack` prints one `key=value` line per measurement (SESSIONS=N
//! changes the 1 000 000).

// Only the sink: this bench compiles configs/bench.toml, not the reference topology.
#[allow(dead_code)]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use vrouter::pipeline::Dataplane;
use vrouter::state::conntrack::FlowKey;
use vrouter::state::Conntrack;
use vrouter::tables::{PortIdx, Snapshot};
use vrouter::wire::checksum;
use vrouter::VecFrame;

/// Heap bytes currently allocated by the process.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Bytes allocated now: the heap's and the large tables' own mappings (huge pages).
fn allocated() -> usize {
    LIVE.load(Ordering::Relaxed) + vrouter::state::huge_pages::usage().total_bytes() as usize
}

struct Counting;

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size(), Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size(), Ordering::Relaxed);
        System.alloc_zeroed(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new, Ordering::Relaxed);
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const MIB: f64 = 1024.0 * 1024.0;
/// The SNAT address of the reference router, the VM subnet, compute1 and the netnode.
const SNAT_IP: u32 = 0x0a01_6550; // 10.1.101.80
const ETH1: PortIdx = 0;
const ETH2: PortIdx = 1;

/// Flow `i` as gen_traffic.py's snat file numbers it: host 10.0.0.(20 + i % 200), source
/// port 1024 + i / 200, to 8.8.8.8 port 10000 + i % 200.
fn flow(i: u32) -> (u32, u16, u32, u16) {
    let h = i % 200;
    (
        0x0a00_0014 + h,
        (1024 + i / 200) as u16,
        0x0808_0808,
        (10_000 + h) as u16,
    )
}

fn sessions() -> u32 {
    std::env::var("SESSIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000)
}

/// A table of capacity `n` filled with `n` SNAT-like sessions; returns the bytes the empty
/// table took, the bytes it holds full, and the time the creates took.
fn fill(n: u32) -> (usize, usize, Duration) {
    let before = allocated();
    let mut ct = Conntrack::new(n as usize);
    let empty = allocated() - before;
    let start = Instant::now();
    for i in 0..n {
        let (src, sport, dst, dport) = flow(i);
        let orig = FlowKey {
            zone: 0,
            proto: 17,
            src,
            dst,
            sport,
            dport,
        };
        let translated = FlowKey {
            src: SNAT_IP,
            sport: 1024 + (i % 64_000) as u16,
            dport: dport.wrapping_add((i / 64_000) as u16),
            ..orig
        };
        ct.create(orig, translated, 0)
            .expect("room for every session");
    }
    let took = start.elapsed();
    let full = allocated() - before;
    assert_eq!(ct.len(), n as usize);
    drop(ct);
    (empty, full, took)
}

/// configs/bench.toml without security groups and with room for `n` sessions.
fn snapshot(n: u32) -> Snapshot {
    let mut topo = control::load_str(include_str!("../configs/bench.toml"), "configs/bench.toml")
        .expect("bench topology loads");
    for p in topo
        .ports
        .iter_mut()
        .filter(|p| p.device_owner == "compute:nova")
    {
        p.port_security_enabled = false;
        p.security_groups.clear();
    }
    topo.conntrack = Some(control::model::Conntrack {
        capacity: n as usize,
        ..Default::default()
    });
    let names: Vec<String> = topo.devices().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names[..2], ["eth1", "eth2"]);
    control::compile(&topo, &names, 1).expect("compiles")
}

/// IPv4 header of `len` bytes of payload from `src` to `dst`, with its checksum.
fn ipv4(src: u32, dst: u32, proto: u8, payload: usize, df: bool) -> Vec<u8> {
    let tot = (20 + payload) as u16;
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&tot.to_be_bytes());
    h.extend_from_slice(&[0, 0, if df { 0x40 } else { 0 }, 0, 64, proto, 0, 0]);
    h.extend_from_slice(&src.to_be_bytes());
    h.extend_from_slice(&dst.to_be_bytes());
    let c = checksum::checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h
}

/// Flow `i` of the snat path: 102 bytes, GRE key 2 from compute1 to the netnode around a
/// 60-byte UDP frame to the router interface's MAC (UDP checksum 0: none).
fn snat_frame(i: u32) -> VecFrame {
    let (src, sport, dst, dport) = flow(i);
    let h = (i % 200) as u8;
    let mut inner = vec![
        0xfa,
        0x16,
        0x3e,
        0xf7,
        0xe6,
        0x9c,
        0xfa,
        0x16,
        0x3e,
        0x0a,
        0,
        20 + h,
    ];
    inner.extend_from_slice(&[0x08, 0x00]);
    inner.extend_from_slice(&ipv4(src, dst, 17, 26, false));
    inner.extend_from_slice(&sport.to_be_bytes());
    inner.extend_from_slice(&dport.to_be_bytes());
    inner.extend_from_slice(&[0, 26, 0, 0]);
    inner.resize(60, 0);
    let mut f = vec![
        0x52, 0x54, 0, 0, 1, 0x21, 0x52, 0x54, 0, 0, 1, 0x31, 0x08, 0x00,
    ];
    f.extend_from_slice(&ipv4(0x0a00_011f, 0x0a00_0115, 47, 8 + inner.len(), true));
    f.extend_from_slice(&[0x20, 0x00, 0x65, 0x58, 0, 0, 0, 2]);
    f.extend_from_slice(&inner);
    VecFrame::new(&f)
}

/// New SNAT connections per second through the pipeline: `n` distinct flows, each sent
/// once, in bursts of 32; returns the time the pipeline took and the sessions it made.
fn pipeline(n: u32) -> (Duration, u64, u64) {
    const CHUNK: u32 = 32_768;
    let snap = snapshot(n);
    let mut dp: Dataplane<VecFrame> = Dataplane::new(&snap, 0);
    let mut sink = common::Sink(Vec::with_capacity(common::BURST * 4));
    let mut took = Duration::ZERO;
    let mut sent = 0u64;
    let mut start = 0;
    while start < n {
        let end = (start + CHUNK).min(n);
        let frames: Vec<VecFrame> = (start..end).map(snat_frame).collect();
        let mut done = Vec::with_capacity(frames.len());
        let t = Instant::now();
        let mut it = frames.into_iter();
        loop {
            let burst: Vec<VecFrame> = it.by_ref().take(common::BURST).collect();
            if burst.is_empty() {
                break;
            }
            dp.rx(&snap, ETH1, burst, 1, &mut sink);
            sent += sink.0.iter().filter(|(p, _)| *p == ETH2).count() as u64;
            done.push(std::mem::take(&mut sink.0));
        }
        took += t.elapsed();
        drop(done);
        start = end;
    }
    (took, dp.conntrack.stats.created, sent)
}

fn main() {
    let n = sessions();
    let (empty, full, took) = fill(n);
    println!(
        "conntrack_memory sessions={n} capacity={n} empty_mib={:.1} full_mib={:.1} bytes_per_session={:.0}",
        empty as f64 / MIB,
        full as f64 / MIB,
        full as f64 / f64::from(n)
    );
    println!(
        "conntrack_create sessions={n} secs={:.3} per_sec={:.0}",
        took.as_secs_f64(),
        f64::from(n) / took.as_secs_f64()
    );
    let mut best: Option<(Duration, u64, u64)> = None;
    for _ in 0..3 {
        let r = pipeline(n);
        match best {
            Some(b) if b.0 <= r.0 => {}
            _ => best = Some(r),
        }
    }
    let (took, created, sent) = best.expect("three runs");
    println!(
        "pipeline_new_snat flows={n} created={created} forwarded={sent} secs={:.3} per_sec={:.0} ns_per_conn={:.0}",
        took.as_secs_f64(),
        created as f64 / took.as_secs_f64(),
        took.as_nanos() as f64 / created.max(1) as f64
    );
}
