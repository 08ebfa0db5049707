//! Harness of the whole pipeline: arbitrary frames on arbitrary devices of the reference
//! topology (`configs/tenant-a.toml`), and timer ticks with time running on.
//!
//! The topology runs as the appliance runs it with vm001 and vm002 bound to local devices,
//! floating IP 10.1.101.82 associated with vm002, and small MAC and connection tables so that
//! they fill up. Devices: 0 `eth1` (underlay), 1 `eth2` (external), 2 vm001, 3 vm002; 4 is a
//! device no port uses.
//!
//! Input: a sequence of events, each starting with one byte `op`:
//! - `op >= 0xc0`: a tick, after time advanced by `(op & 0x3f)² × 250` ms (up to 16 min);
//! - else a frame on device `(op & 7) % 5`, after 1 ms: two bytes of length (big-endian,
//!   11 bits), then that many bytes (fewer at the end of the input). When `op & 8` is set,
//!   the IPv4, UDP, ICMP and GRE checksums of the frame (and of a frame it tunnels) are
//!   computed first, so that mutated frames get past the checksum checks.
//!
//! Properties checked after every event:
//! - no panic;
//! - every frame the pipeline destroyed without sending it is counted: as a drop, or as a
//!   counted consumption (an ignored broadcast, an ARP reply, a DHCP RELEASE or DECLINE, an
//!   ICMP error to the router, a packet replaced by its fragments);
//! - the MAC table, the connection table, the neighbour caches (and the frames they hold)
//!   and the lease table stay within their capacities; every session is found by both of
//!   its keys;
//! - a frame sent goes out of an existing device, holds an Ethernet header and fits the
//!   underlay when sent there; while every input so far had its checksums computed and
//!   none carried one of the appliance's MAC addresses, every IPv4 packet the appliance
//!   sends from its own MAC carries correct IPv4, UDP and ICMP checksums (NAT and TTL
//!   updates are incremental, RFC 1624), and every ARP packet it sends is a minimum frame.
//!
//! At the end, time runs on until no ARP timer is pending (every unresolved next hop given
//! up, every refresh that is due done), within a bound: then no frame may be left held.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::OnceLock;
use vrouter::pipeline::{Dataplane, Io, Node};
use vrouter::state::neighbours::{
    Neighbour, HOLD_PER_ENTRY, MAX_ENTRIES, MAX_PENDING, MAX_REQUESTS, REFRESH_MS, RETRY_MS,
};
use vrouter::state::{leases, Dir, Millis};
use vrouter::stats::Stats;
use vrouter::tables::{PortIdx, Snapshot};
use vrouter::wire::{be16, checksum, ethernet, gre, icmp, ipv4, udp, Mac};
use vrouter::{Frame, VecFrame};

/// Devices of the harness's topology, in attachment order.
const DEVICES: usize = 4;
/// The underlay device.
const UNDERLAY: PortIdx = 0;
/// The external device.
const EXTERNAL: PortIdx = 1;
/// vm001's device.
const VM001: PortIdx = 2;
/// vm002's device.
const VM002: PortIdx = 3;
/// Learned MAC addresses at most.
const MAC_CAPACITY: usize = 64;
/// Connections at most.
const CONNTRACK_CAPACITY: usize = 32;
/// Minimum Ethernet frame without FCS: the length of the ARP packets the appliance sends.
const MIN_FRAME: usize = 60;
/// Longest frame the harness builds (a `VecFrame` holds 2048 bytes).
const MAX_FRAME: usize = 2047;

/// The compiled topology the harness runs, built once.
pub fn snapshot() -> &'static Snapshot {
    static SNAPSHOT: OnceLock<Snapshot> = OnceLock::new();
    SNAPSHOT.get_or_init(|| {
        let text = include_str!("../../configs/tenant-a.toml");
        let mut topo = control::load_str(text, "configs/tenant-a.toml").expect("loads");
        topo.set_devargs("tapd7233b80-9d", "net_null0")
            .expect("vm001 binds");
        topo.set_devargs("tap1653ec91-ad", "net_null1")
            .expect("vm002 binds");
        let fip = topo
            .floatingips
            .iter_mut()
            .find(|f| f.floating_ip_address == "10.1.101.82")
            .expect("the reference topology has floating IP 10.1.101.82");
        fip.port_id = Some("1653ec91-ad7d-40d9-b777-f74aec697026".into());
        fip.fixed_ip_address = Some("10.0.0.9".into());
        let names: Vec<String> = topo.devices().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["eth1", "eth2", "tapd7233b80-9d", "tap1653ec91-ad"]);
        let mut snap = control::compile(&topo, &names, 1).expect("compiles");
        snap.mac.capacity = MAC_CAPACITY;
        snap.conntrack.capacity = CONNTRACK_CAPACITY;
        snap
    })
}

/// Frames alive, and frames dropped without having been sent.
#[derive(Debug, Default)]
struct Ledger {
    live: Cell<u64>,
    vanished: Cell<u64>,
}

/// A frame that tells the ledger when it is dropped without having been sent.
#[derive(Debug)]
pub struct Tracked {
    frame: VecFrame,
    sent: bool,
    ledger: Rc<Ledger>,
}

impl Tracked {
    fn new(frame: VecFrame, ledger: &Rc<Ledger>) -> Tracked {
        ledger.live.set(ledger.live.get() + 1);
        Tracked {
            frame,
            sent: false,
            ledger: Rc::clone(ledger),
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let l = &self.ledger;
        l.live.set(l.live.get() - 1);
        if !self.sent {
            l.vanished.set(l.vanished.get() + 1);
        }
    }
}

impl Frame for Tracked {
    fn data(&self) -> &[u8] {
        self.frame.data()
    }
    fn data_mut(&mut self) -> &mut [u8] {
        self.frame.data_mut()
    }
    fn pull(&mut self, n: usize) -> bool {
        self.frame.pull(n)
    }
    fn push(&mut self, n: usize) -> Option<&mut [u8]> {
        self.frame.push(n)
    }
    fn truncate(&mut self, len: usize) -> bool {
        self.frame.truncate(len)
    }
    fn append(&mut self, n: usize) -> Option<&mut [u8]> {
        self.frame.append(n)
    }
    fn try_clone(&self) -> Option<Self> {
        Some(Tracked::new(self.frame.clone(), &self.ledger))
    }
}

/// The devices: checks every frame sent, then lets it go.
struct Sink {
    ledger: Rc<Ledger>,
    /// The appliance's own MAC addresses (router ports, DHCP port, underlay).
    own: Vec<Mac>,
    /// True while every input had its checksums computed and carried none of `own`.
    clean: bool,
}

impl Io<Tracked> for Sink {
    fn send(&mut self, port: PortIdx, mut frame: Tracked) {
        let d = frame.data();
        assert!(usize::from(port) < DEVICES, "sent to device {port}");
        assert!(
            d.len() >= ethernet::HEADER_LEN,
            "sent a {}-byte frame",
            d.len()
        );
        if port == UNDERLAY {
            assert!(d.len() <= ethernet::HEADER_LEN + 1500, "{} bytes", d.len());
        }
        let src = Mac::from_bytes(&d[6..12]);
        if self.clean && self.own.contains(&src) {
            match be16(d, 12) {
                ethernet::ethertype::IPV4 => check_ipv4(&d[ethernet::HEADER_LEN..]),
                ethernet::ethertype::ARP => assert!(d.len() <= MIN_FRAME, "{d:02x?}"),
                _ => {}
            }
        }
        frame.sent = true;
    }
    fn alloc(&mut self) -> Option<Tracked> {
        Some(Tracked::new(VecFrame::new(&[]), &self.ledger))
    }
    fn handoff(&mut self, _: u16, _: PortIdx, _: Tracked, _: Node) {
        unreachable!("a single worker hands nothing off");
    }
}

/// Asserts that an IPv4 packet the appliance sends is well formed with correct checksums.
fn check_ipv4(b: &[u8]) {
    let p = ipv4::Packet::new_checked(b).expect("the appliance sends whole IPv4 headers");
    assert!(p.verify_checksum(), "IPv4 header checksum of {b:02x?}");
    if p.is_fragment() {
        return;
    }
    let l4 = p.payload();
    match p.protocol() {
        ipv4::proto::UDP => {
            if let Ok(u) = udp::Packet::new_checked(l4) {
                let ok = u.checksum() == 0 || u.verify_checksum(p.src(), p.dst());
                assert!(ok, "UDP checksum of {b:02x?}");
            }
        }
        ipv4::proto::ICMP => {
            if let Ok(m) = icmp::Packet::new_checked(l4) {
                assert!(m.verify_checksum(), "ICMP checksum of {b:02x?}");
            }
        }
        _ => {}
    }
}

/// Computes the checksums of the IPv4 packet in an Ethernet frame (of the frame it tunnels
/// first, for GRE), where the headers parse.
fn fix_checksums(d: &mut [u8]) {
    if d.len() >= ethernet::HEADER_LEN && be16(d, 12) == ethernet::ethertype::IPV4 {
        fix_ipv4(&mut d[ethernet::HEADER_LEN..]);
    }
}

/// Computes the checksums of an IPv4 packet and of what it carries.
fn fix_ipv4(b: &mut [u8]) {
    let Ok(p) = ipv4::Packet::new_checked(&*b) else {
        return;
    };
    let (hl, total, proto) = (p.header_len(), p.total_len() as usize, p.protocol());
    let (src, dst, whole) = (p.src(), p.dst(), !p.is_fragment());
    let l4 = &mut b[hl..total];
    match proto {
        ipv4::proto::GRE => {
            if let Ok(g) = gre::Packet::new_checked(&*l4) {
                let (ghl, csum) = (g.header_len(), g.checksum().is_some());
                fix_checksums(&mut l4[ghl..]);
                if csum {
                    l4[4..6].fill(0);
                    let c = checksum::checksum(l4);
                    l4[4..6].copy_from_slice(&c.to_be_bytes());
                }
            }
        }
        ipv4::proto::UDP if whole => {
            if let Ok(mut u) = udp::Packet::new_checked(l4) {
                u.fill_checksum(src, dst);
            }
        }
        ipv4::proto::ICMP if whole && l4.len() >= icmp::HEADER_LEN => {
            let rest = [l4[4], l4[5], l4[6], l4[7]];
            icmp::emit(l4, l4[0], l4[1], rest);
        }
        _ => {}
    }
    b[10..12].fill(0);
    let c = checksum::checksum(&b[..hl]);
    b[10..12].copy_from_slice(&c.to_be_bytes());
}

/// The source MAC addresses of a frame that the appliance may send on unchanged: its own,
/// and that of the frame it tunnels.
fn sources(d: &[u8]) -> impl Iterator<Item = Mac> + '_ {
    let inner = (|| {
        if d.len() < ethernet::HEADER_LEN || be16(d, 12) != ethernet::ethertype::IPV4 {
            return None;
        }
        let p = ipv4::Packet::new_checked(&d[ethernet::HEADER_LEN..]).ok()?;
        if p.protocol() != ipv4::proto::GRE {
            return None;
        }
        let g = gre::Packet::new_checked(p.payload()).ok()?;
        g.payload().get(6..12).map(Mac::from_bytes)
    })();
    d.get(6..12).map(Mac::from_bytes).into_iter().chain(inner)
}

/// Destroyed frames that some counter accounts for: drops, and consumptions.
fn counted(dp: &Dataplane<Tracked>) -> u64 {
    let s = &dp.stats;
    s.total_drops()
        + s.local_ignored
        + s.arp_replies_received
        + s.dhcp.releases
        + s.dhcp.declines
        + s.router.icmp_errors_received
        + s.router.fragments
}

/// The harness's state between events.
struct Run {
    snap: &'static Snapshot,
    dp: Dataplane<Tracked>,
    sink: Sink,
    now: Millis,
}

impl Run {
    fn new() -> Run {
        let snap = snapshot();
        let mut own: Vec<Mac> = snap
            .networks
            .iter()
            .flatten()
            .flat_map(|n| n.locals.iter().map(|l| l.mac))
            .collect();
        own.extend(snap.underlay.as_ref().map(|u| u.mac));
        let now = 1_000;
        Run {
            snap,
            dp: Dataplane::new(snap, now),
            sink: Sink {
                ledger: Rc::default(),
                own,
                clean: true,
            },
            now,
        }
    }

    /// Runs `event` and checks that every frame it destroyed unsent is counted.
    fn account(&mut self, what: &str, event: impl FnOnce(&mut Run)) {
        let (vanished, counted_before) = (self.sink.ledger.vanished.get(), counted(&self.dp));
        event(self);
        let vanished = self.sink.ledger.vanished.get() - vanished;
        let counted = counted(&self.dp) - counted_before;
        assert!(
            vanished <= counted,
            "{what}: {vanished} frames dropped, {counted} counted\n{:#?}",
            self.dp.stats
        );
        self.check_tables();
    }

    fn frame(&mut self, port: PortIdx, mut bytes: Vec<u8>, fix: bool) {
        if fix {
            fix_checksums(&mut bytes);
        }
        let spoofed = sources(&bytes).any(|m| self.sink.own.contains(&m));
        self.sink.clean &= fix && !spoofed;
        self.now += 1;
        let frame = Tracked::new(VecFrame::new(&bytes), &self.sink.ledger);
        self.account("rx", |r| {
            r.dp.rx(r.snap, port, Some(frame), r.now, &mut r.sink);
        });
    }

    fn tick(&mut self, advance: Millis) {
        self.now += advance;
        self.account("tick", |r| r.dp.tick(r.snap, r.now, &mut r.sink));
    }

    fn check_tables(&self) {
        let dp = &self.dp;
        assert!(dp.mac.len() <= MAC_CAPACITY, "MAC table: {}", dp.mac.len());
        assert!(dp.conntrack.len() <= CONNTRACK_CAPACITY);
        for (idx, s) in dp.conntrack.iter() {
            if s.orig != s.reply {
                assert_eq!(
                    dp.conntrack.lookup(&s.orig),
                    Some((idx, Dir::Orig)),
                    "{s:?}"
                );
            }
            assert_eq!(
                dp.conntrack.lookup(&s.reply),
                Some((idx, Dir::Reply)),
                "{s:?}"
            );
        }
        assert!(dp.underlay_neigh.iter().count() <= MAX_ENTRIES);
        assert!(dp.router_neigh.iter().count() <= MAX_ENTRIES);
        assert!(dp.leases.len() <= leases::CAPACITY);
        assert!(dp.stats.ports.len() <= DEVICES + 1);
        let held = self.sink.ledger.live.get();
        assert!(
            held <= (2 * MAX_PENDING * HOLD_PER_ENTRY) as u64,
            "{held} frames held"
        );
    }
}

/// Runs the harness on `data`; panics when a property does not hold. Returns the counters,
/// to tell which paths the input took.
pub fn run(data: &[u8]) -> Stats {
    let mut run = Run::new();
    let mut input = data;
    while let Some((&op, rest)) = input.split_first() {
        input = rest;
        if op >= 0xc0 {
            let step = Millis::from(op & 0x3f);
            run.tick(step * step * 250);
            continue;
        }
        let port = PortIdx::from(op & 7) % (DEVICES as PortIdx + 1);
        let len = match input {
            [a, b, rest @ ..] => {
                input = rest;
                usize::from(u16::from_be_bytes([*a, *b])) & MAX_FRAME
            }
            _ => std::mem::take(&mut input).len(),
        };
        let (bytes, rest) = input.split_at(len.min(input.len()));
        input = rest;
        run.frame(port, bytes.to_vec(), op & 8 != 0);
    }
    // Time runs on until no ARP timer is pending: ARP gives up on a next hop after
    // MAX_REQUESTS unanswered requests and the held frames go; a router's request (also a
    // refresh of a resolved neighbour, which may start during the drain) flooded to the
    // tunnels may wait as long again for the underlay's next hop. Every chain of timers ends
    // within DRAIN_TICKS; then nothing may be held.
    let mut ticks = 0;
    while run.timers_pending() {
        assert!(
            ticks < DRAIN_TICKS,
            "ARP timers still pending after {ticks} s of silence"
        );
        run.tick(RETRY_MS);
        ticks += 1;
    }
    assert_eq!(
        run.sink.ledger.live.get(),
        0,
        "frames still held with no ARP timer pending"
    );
    run.dp.stats.clone()
}

/// Ticks (one a second) after which every ARP timer has ended: a resolved neighbour
/// starts its refresh within REFRESH_MS, asks MAX_REQUESTS times, and each request flooded
/// to a tunnel peer may wait for the underlay's next hop as long again.
const DRAIN_TICKS: u64 = REFRESH_MS / RETRY_MS + 2 * (MAX_REQUESTS as u64 + 1);

impl Run {
    /// Whether an ARP timer is pending that may still send or drop a frame: a neighbour
    /// being resolved, or a resolved one whose refresh has started or is due and has
    /// requests left to send.
    fn timers_pending(&self) -> bool {
        let now = self.now;
        let dp = &self.dp;
        dp.underlay_neigh.iter().any(|(_, n)| arp_pending(n, now))
            || dp.router_neigh.iter().any(|(_, n)| arp_pending(n, now))
            // Fragments waiting for their first are dropped within 30 s (ipfrag_time).
            || dp.fragments.held() > 0
    }
}

/// Whether neighbour `n` is being resolved, or resolved with a refresh started or due at
/// `now` and requests left to send.
fn arp_pending<F>(n: &Neighbour<F>, now: Millis) -> bool {
    !n.is_static
        && (n.mac.is_none()
            || (now.saturating_sub(n.updated) + RETRY_MS >= REFRESH_MS
                && n.requests < MAX_REQUESTS))
}

/// An input event, to build seeds with.
enum Event {
    /// A frame on a device, checksums computed.
    Frame(PortIdx, Vec<u8>),
    /// A tick after `(step² × 250)` ms.
    Tick(u8),
}

/// Encodes `events` in the harness's input format.
fn encode(events: &[Event]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in events {
        match e {
            Event::Frame(port, bytes) => {
                out.push(8 | *port as u8);
                out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
                out.extend_from_slice(bytes);
            }
            Event::Tick(step) => out.push(0xc0 | step),
        }
    }
    out
}

const LOCAL_MAC: [u8; 6] = [0x52, 0x54, 0, 0, 1, 0x21];
const C1_MAC: [u8; 6] = [0x52, 0x54, 0, 0, 1, 0x31];
const UPSTREAM_MAC: [u8; 6] = [0x52, 0x54, 0, 1, 1, 0xfe];
const QR_MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0xf7, 0xe6, 0x9c];
const QG_MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0x78, 0x39, 0xe9];
const VM1_MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0x75, 0xe0, 0x5a];
const VM2_MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0x51, 0xa2, 0x97];
const REMOTE_VM_MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0x0a, 0x00, 0x14];
const BROADCAST: [u8; 6] = [0xff; 6];
const LOCAL_IP: [u8; 4] = [10, 0, 1, 21];
const C1_IP: [u8; 4] = [10, 0, 1, 31];
const VM1_IP: [u8; 4] = [10, 0, 0, 10];
const VM2_IP: [u8; 4] = [10, 0, 0, 9];
const QR_IP: [u8; 4] = [10, 0, 0, 1];
const UPSTREAM_IP: [u8; 4] = [10, 1, 101, 254];
const GW_IP: [u8; 4] = [10, 1, 101, 80];
const FIP: [u8; 4] = [10, 1, 101, 82];
const REMOTE: [u8; 4] = [8, 8, 8, 8];

fn ether(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = [&dst[..], &src[..], &ethertype.to_be_bytes()].concat();
    f.extend_from_slice(payload);
    f
}

/// An ARP packet (`op` 1 request, 2 reply).
fn arp(op: u8, sha: [u8; 6], spa: [u8; 4], tha: [u8; 6], tpa: [u8; 4]) -> Vec<u8> {
    [&[0, 1, 8, 0, 6, 4, 0, op][..], &sha, &spa, &tha, &tpa].concat()
}

/// An IPv4 packet (checksum left to the harness), DF set when `df`.
fn ip(src: [u8; 4], dst: [u8; 4], proto: u8, df: bool, payload: &[u8]) -> Vec<u8> {
    let total = (ipv4::MIN_HEADER_LEN + payload.len()) as u16;
    let flags = if df { 0x40 } else { 0 };
    let mut p = vec![0x45, 0, 0, 0, 0, 1, flags, 0, 64, proto, 0, 0];
    p[2..4].copy_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(payload);
    p
}

/// A UDP datagram (checksum left to the harness).
fn udp_packet(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = (udp::HEADER_LEN + payload.len()) as u16;
    let mut u = [
        sport.to_be_bytes(),
        dport.to_be_bytes(),
        len.to_be_bytes(),
        [0, 0],
    ]
    .concat();
    u.extend_from_slice(payload);
    u
}

/// An ICMP echo request with id `id`.
fn echo(id: u16) -> Vec<u8> {
    [&[8, 0, 0, 0][..], &id.to_be_bytes(), &[0, 1], b"ping"].concat()
}

/// `inner` tunnelled from compute1 with GRE key 2 (tenantA-Net).
fn from_compute1(inner: &[u8]) -> Vec<u8> {
    let gre = [&[0x20, 0x00, 0x65, 0x58, 0, 0, 0, 2][..], inner].concat();
    let outer = ip(C1_IP, LOCAL_IP, ipv4::proto::GRE, true, &gre);
    ether(LOCAL_MAC, C1_MAC, ethernet::ethertype::IPV4, &outer)
}

/// A DHCPDISCOVER from vm001, broadcast.
fn dhcp_discover() -> Vec<u8> {
    let mut m = vec![1, 1, 6, 0, 0x39, 0x03, 0xf3, 0x26, 0, 3, 0x80, 0];
    m.resize(28, 0);
    m.extend_from_slice(&VM1_MAC);
    m.resize(236, 0);
    m.extend_from_slice(&[99, 130, 83, 99, 53, 1, 1, 55, 3, 1, 3, 6, 255]);
    m.resize(300, 0);
    let u = udp_packet(68, 67, &m);
    let p = ip([0; 4], [255; 4], ipv4::proto::UDP, false, &u);
    ether(BROADCAST, VM1_MAC, ethernet::ethertype::IPV4, &p)
}

/// Sequences of valid traffic to start fuzzing from, one per path of the pipeline.
pub fn seeds() -> Vec<Vec<u8>> {
    use Event::{Frame as F, Tick};
    let eth = ethernet::ethertype::IPV4;
    let arp_t = ethernet::ethertype::ARP;
    let (udp_p, icmp_p) = (ipv4::proto::UDP, ipv4::proto::ICMP);
    let vm1_out = |dst: [u8; 4], p: &[u8], proto| {
        ether(QR_MAC, VM1_MAC, eth, &ip(VM1_IP, dst, proto, true, p))
    };
    let upstream_arp = ether(
        QG_MAC,
        UPSTREAM_MAC,
        arp_t,
        &arp(2, UPSTREAM_MAC, UPSTREAM_IP, QG_MAC, GW_IP),
    );
    let dns = udp_packet(40000, 53, b"query");
    let dns_reply = udp_packet(53, 40000, b"answer");
    let snat_reply = ip(REMOTE, GW_IP, udp_p, true, &dns_reply);
    let quoted = ip(GW_IP, REMOTE, udp_p, true, &dns)[..28].to_vec();
    let unreachable = [&[3, 3, 0, 0, 0, 0, 0, 0][..], &quoted].concat();
    let big = vec![0xab; 1460];
    vec![
        // The underlay: ARP for the tunnel endpoint, then a tunnelled broadcast and unicast.
        encode(&[
            F(
                UNDERLAY,
                ether(
                    BROADCAST,
                    C1_MAC,
                    arp_t,
                    &arp(1, C1_MAC, C1_IP, [0; 6], LOCAL_IP),
                ),
            ),
            F(
                UNDERLAY,
                from_compute1(&ether(
                    BROADCAST,
                    REMOTE_VM_MAC,
                    arp_t,
                    &arp(1, REMOTE_VM_MAC, [10, 0, 0, 20], [0; 6], VM2_IP),
                )),
            ),
            F(
                VM002,
                ether(
                    REMOTE_VM_MAC,
                    VM2_MAC,
                    eth,
                    &ip(VM2_IP, [10, 0, 0, 20], udp_p, true, &dns),
                ),
            ),
            Tick(4),
        ]),
        // vm001: DHCP, ARP for its gateway, ping the gateway.
        encode(&[
            F(VM001, dhcp_discover()),
            F(
                VM001,
                ether(
                    BROADCAST,
                    VM1_MAC,
                    arp_t,
                    &arp(1, VM1_MAC, VM1_IP, [0; 6], QR_IP),
                ),
            ),
            F(VM001, vm1_out(QR_IP, &echo(7), icmp_p)),
        ]),
        // SNAT to the gateway address: the next hop resolves, the reply comes back, an
        // ICMP error about the flow is translated back; then the session expires.
        encode(&[
            F(VM001, vm1_out(REMOTE, &dns, udp_p)),
            F(EXTERNAL, upstream_arp.clone()),
            F(EXTERNAL, ether(QG_MAC, UPSTREAM_MAC, eth, &snat_reply)),
            F(
                EXTERNAL,
                ether(
                    QG_MAC,
                    UPSTREAM_MAC,
                    eth,
                    &ip(UPSTREAM_IP, GW_IP, icmp_p, false, &unreachable),
                ),
            ),
            F(VM001, vm1_out(REMOTE, &echo(9), icmp_p)),
            Tick(40),
        ]),
        // Floating IP: vm002 out, the world in (a packet too big for the tenant network is
        // fragmented), and a next hop that never answers.
        encode(&[
            F(EXTERNAL, upstream_arp),
            F(
                VM002,
                ether(QR_MAC, VM2_MAC, eth, &ip(VM2_IP, REMOTE, udp_p, true, &dns)),
            ),
            F(
                EXTERNAL,
                ether(
                    QG_MAC,
                    UPSTREAM_MAC,
                    eth,
                    &ip(REMOTE, FIP, udp_p, false, &udp_packet(53, 40000, &big)),
                ),
            ),
            F(
                VM001,
                ether(
                    QR_MAC,
                    VM1_MAC,
                    eth,
                    &ip(VM1_IP, [10, 1, 101, 99], udp_p, true, &dns),
                ),
            ),
            Tick(2),
            Tick(2),
        ]),
    ]
}
