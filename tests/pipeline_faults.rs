//! Fault tests at the pipeline level, for limits a real run cannot reach in a test's time
//! or that the configuration does not expose: the connection tracking table full, and the
//! router's neighbour table full (frames held per unresolved address, unresolved addresses,
//! resolved addresses). The reference topology is compiled as the appliance compiles it
//! (vm001 bound to a local device), and frames go through `Dataplane::rx` on `VecFrame`s.
//!
//! Each test documents the outcome it asserts: what is refused, under which drop reason
//! it is counted, that what was admitted before keeps working, and that the table takes
//! new entries again once old ones expire.

use control::Topology;
use vrouter::frame::VecFrame;
use vrouter::pipeline::{Dataplane, Io, Node};
use vrouter::state::neighbours::{HOLD_PER_ENTRY, MAX_ENTRIES, MAX_PENDING};
use vrouter::stats::DropReason;
use vrouter::tables::{PortIdx, Snapshot};

const TENANT_A: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/configs/tenant-a.toml");
const VM001_MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0x75, 0xe0, 0x5a];
const QR_MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0xf7, 0xe6, 0x9c];
const QG_MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0x78, 0x39, 0xe9];
const UP_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x01, 0x01, 0xfe];
const VM001_IP: [u8; 4] = [10, 0, 0, 10];
const GW_IP: [u8; 4] = [10, 1, 101, 80];
const UP_IP: [u8; 4] = [10, 1, 101, 254];

/// Collects what the pipeline sends, per device.
#[derive(Default)]
struct Out {
    sent: Vec<(PortIdx, Vec<u8>)>,
}

impl Io<VecFrame> for Out {
    fn send(&mut self, port: PortIdx, frame: VecFrame) {
        self.sent.push((port, frame.to_vec()));
    }
    fn alloc(&mut self) -> Option<VecFrame> {
        Some(VecFrame::new(&[]))
    }
    fn handoff(&mut self, _: u16, _: PortIdx, _: VecFrame, _: Node) {
        unreachable!("a single worker hands nothing off");
    }
}

/// The compiled reference topology and a worker's state over it.
struct Rig {
    snap: Snapshot,
    dp: Dataplane<VecFrame>,
    out: Out,
    now: u64,
    eth2: PortIdx,
    vm: PortIdx,
}

impl Rig {
    /// tenant-a.toml with vm001 on a local device; `edit` changes the text first and
    /// `tune` the compiled snapshot (limits the configuration does not expose).
    fn new(edit: impl Fn(String) -> String, tune: impl Fn(&mut Snapshot)) -> Rig {
        let text = edit(std::fs::read_to_string(TENANT_A).expect("tenant-a.toml"));
        let mut topo: Topology = control::load_str(&text, "test").expect("topology loads");
        topo.set_devargs("tapd7233b80-9d", "net_null9")
            .expect("bind vm001 locally");
        let names: Vec<String> = topo.devices().into_iter().map(|(n, _)| n).collect();
        let mut snap = control::compile(&topo, &names, 1).expect("topology compiles");
        tune(&mut snap);
        let index = |name: &str| names.iter().position(|n| n == name).unwrap() as PortIdx;
        let (eth2, vm) = (index("eth2"), index("tapd7233b80-9d"));
        let dp = Dataplane::new(&snap, 1000);
        let mut rig = Rig {
            snap,
            dp,
            out: Out::default(),
            now: 1000,
            eth2,
            vm,
        };
        // Start-up traffic out of the way: gratuitous ARPs, and their copies to the tunnel
        // peers, held for the underlay neighbours that never answer here (they time out
        // after 3 s and count as flood_peer_unresolved).
        rig.tick();
        rig.run_for(5);
        rig.out.sent.clear();
        rig
    }

    fn rx(&mut self, port: PortIdx, bytes: &[u8]) {
        self.dp.rx(
            &self.snap,
            port,
            [VecFrame::new(bytes)],
            self.now,
            &mut self.out,
        );
    }

    fn tick(&mut self) {
        self.dp.tick(&self.snap, self.now, &mut self.out);
    }

    /// Advances the clock by `secs`, one timer tick a second, as the worker does.
    fn run_for(&mut self, secs: u64) {
        for _ in 0..secs {
            self.now += 1000;
            self.tick();
        }
    }

    fn drops(&self, r: DropReason) -> u64 {
        self.dp.stats.drops[r as usize]
    }

    /// Takes what was sent on `port`.
    fn take(&mut self, port: PortIdx) -> Vec<Vec<u8>> {
        let (mine, rest) = std::mem::take(&mut self.out.sent)
            .into_iter()
            .partition(|(p, _)| *p == port);
        self.out.sent = rest;
        mine.into_iter().map(|(_, f)| f).collect()
    }

    /// A UDP datagram from vm001 to `dst`:`dport`, from port `sport`, to the gateway MAC.
    fn vm_sends(&mut self, dst: [u8; 4], sport: u16, dport: u16) {
        let f = udp(VM001_MAC, QR_MAC, VM001_IP, dst, sport, dport);
        let vm = self.vm;
        self.rx(vm, &f);
    }

    /// An ARP reply from `ip` at `mac` to the router gateway, on eth2.
    fn arp_reply(&mut self, ip: [u8; 4], mac: [u8; 6]) {
        let f = arp(2, mac, ip, QG_MAC, GW_IP);
        let eth2 = self.eth2;
        self.rx(eth2, &f);
    }
}

fn csum(data: &[u8], mut sum: u32) -> u16 {
    for c in data.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Ethernet + IPv4 + UDP with correct checksums and 18 bytes of payload.
fn udp(smac: [u8; 6], dmac: [u8; 6], src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16) -> Vec<u8> {
    let payload = [0x5au8; 18];
    let udp_len = 8 + payload.len() as u16;
    let mut f = Vec::new();
    f.extend(dmac);
    f.extend(smac);
    f.extend(0x0800u16.to_be_bytes());
    let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0];
    ip[2..4].copy_from_slice(&(20 + udp_len).to_be_bytes());
    ip.extend(src);
    ip.extend(dst);
    let c = csum(&ip, 0);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend(&ip);
    let mut u = Vec::new();
    u.extend(sp.to_be_bytes());
    u.extend(dp.to_be_bytes());
    u.extend(udp_len.to_be_bytes());
    u.extend([0, 0]);
    u.extend(payload);
    let mut pseudo = Vec::new();
    pseudo.extend(src);
    pseudo.extend(dst);
    pseudo.extend([0, 17]);
    pseudo.extend(udp_len.to_be_bytes());
    let sum: u32 = pseudo
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    let c = csum(&u, sum);
    u[6..8].copy_from_slice(&if c == 0 { 0xffff } else { c }.to_be_bytes());
    f.extend(u);
    f
}

/// An ARP frame (op 1 request, 2 reply).
fn arp(op: u16, sha: [u8; 6], spa: [u8; 4], tha: [u8; 6], tpa: [u8; 4]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend(if op == 1 { [0xff; 6] } else { tha });
    f.extend(sha);
    f.extend(0x0806u16.to_be_bytes());
    f.extend([0, 1, 8, 0, 6, 4]);
    f.extend(op.to_be_bytes());
    f.extend(sha);
    f.extend(spa);
    f.extend(tha);
    f.extend(tpa);
    f.resize(60, 0);
    f
}

/// The IPv4 source and destination of a frame (untagged), if it is IPv4.
fn ip_pair(f: &[u8]) -> Option<([u8; 4], [u8; 4])> {
    (f.len() >= 34 && f[12..14] == [8, 0])
        .then(|| (f[26..30].try_into().unwrap(), f[30..34].try_into().unwrap()))
}

/// The target address of an ARP request, if the frame is one.
fn arp_request_for(f: &[u8]) -> Option<[u8; 4]> {
    (f.len() >= 42 && f[12..14] == [8, 6] && f[20..22] == [0, 1])
        .then(|| f[38..42].try_into().unwrap())
}

/// Conntrack full. The compiled snapshot is given a capacity of 4 (and no smaller zone
/// limit). Sessions that were answered are never evicted, as Linux's early drop spares
/// assured connections: once the table holds only answered flows, new connections beyond
/// the capacity are dropped and counted as `conntrack_full` (and in the table's own `full`
/// counter), never admitted; established ones keep flowing both ways; once sessions
/// expire, new connections are admitted again.
#[test]
fn conntrack_full_refuses_new_connections_and_counts_them() {
    let mut rig = Rig::new(
        |t| t,
        |s| {
            s.conntrack.capacity = 4;
            s.conntrack.zone_limit = 4;
        },
    );
    // The first flow resolves the upstream gateway (held frame released by the reply).
    rig.vm_sends(UP_IP, 40000, 7);
    let asked = rig.take(rig.eth2);
    assert!(
        asked.iter().any(|f| arp_request_for(f) == Some(UP_IP)),
        "the router should ask for 10.1.101.254 on eth2"
    );
    rig.arp_reply(UP_IP, UP_MAC);
    let out = rig.take(rig.eth2);
    let first = out
        .iter()
        .find(|f| ip_pair(f) == Some((GW_IP, UP_IP)))
        .expect("the held datagram goes out SNATed to 10.1.101.80 once the gateway is resolved")
        .clone();
    answer(&mut rig, &first);
    // A routed flow from a VM port takes a session in the port's security group zone and
    // one in the router's (SNAT) zone, as on the network node and the compute node.
    let per_flow = rig.dp.conntrack.len();
    assert!((1..=2).contains(&per_flow), "one flow, {per_flow} sessions");
    let fit = (4 / per_flow) as u64;

    // 20 more flows, each answered once admitted: at most the capacity is admitted, every
    // other is dropped and counted.
    let before = rig.drops(DropReason::ConntrackFull);
    let mut forwarded = 0;
    for i in 1..=20u16 {
        forwarded += u64::from(send_and_answer(&mut rig, 40000 + i));
    }
    let refused = rig.drops(DropReason::ConntrackFull) - before;
    let live = rig.dp.conntrack.len();
    println!(
        "capacity 4: {per_flow} session(s) per flow; {forwarded} of 20 new flows admitted \
         after the first, {refused} refused (conntrack_full), {live} live, table full \
         counter {}",
        rig.dp.conntrack.stats.full
    );
    assert!(
        live <= 4,
        "the table holds {live} sessions, over its capacity of 4"
    );
    assert_eq!(
        forwarded,
        fit - 1,
        "the flows that fit ({fit} of {per_flow} sessions each) are admitted"
    );
    assert_eq!(
        forwarded + refused,
        20,
        "every new flow is either forwarded or dropped as conntrack_full"
    );
    assert!(
        rig.dp.conntrack.stats.full >= refused,
        "the table counts each refusal"
    );

    // The established flow still passes, and its reply comes back to vm001.
    rig.vm_sends(UP_IP, 40000, 7);
    let out = rig.take(rig.eth2);
    let sent = out
        .iter()
        .find(|f| ip_pair(f) == Some((GW_IP, UP_IP)))
        .expect("the admitted flow keeps flowing while the table is full")
        .clone();
    answer(&mut rig, &sent);
    let back = rig.take(rig.vm);
    assert!(
        back.iter().any(|f| ip_pair(f) == Some((UP_IP, VM001_IP))),
        "the reply of the admitted flow is translated back to 10.0.0.10 while the table is full"
    );

    // Replied UDP sessions expire after 180 s: then there is room again.
    rig.run_for(200);
    assert_eq!(rig.dp.conntrack.len(), 0, "every session expired");
    let refused = rig.drops(DropReason::ConntrackFull);
    let mut forwarded = 0;
    for i in 100..100 + fit as u16 + 1 {
        forwarded += u64::from(send_and_answer(&mut rig, 40000 + i));
    }
    assert_eq!(
        forwarded, fit,
        "after expiry new connections are admitted again, up to the capacity"
    );
    assert_eq!(rig.drops(DropReason::ConntrackFull), refused + 1);
}

/// Sends a datagram from vm001's port `sport` to upstream port 7 and, if it leaves on
/// eth2, answers it from upstream; true if it left.
fn send_and_answer(rig: &mut Rig, sport: u16) -> bool {
    rig.vm_sends(UP_IP, sport, 7);
    let out = rig.take(rig.eth2);
    let Some(sent) = out.iter().find(|f| ip_pair(f) == Some((GW_IP, UP_IP))) else {
        return false;
    };
    let sent = sent.clone();
    answer(rig, &sent);
    rig.take(rig.vm);
    true
}

/// Answers a datagram that left on eth2 (SNATed) from upstream port 7.
fn answer(rig: &mut Rig, sent: &[u8]) {
    let nat_port = u16::from_be_bytes([sent[34], sent[35]]);
    let reply = udp(UP_MAC, QG_MAC, UP_IP, GW_IP, 7, nat_port);
    let eth2 = rig.eth2;
    rig.rx(eth2, &reply);
}

/// Ext-Net as a /16, so that the router has more directly connected addresses to resolve
/// than its neighbour table holds.
fn wide_external(text: String) -> String {
    let cidr = "cidr = \"10.1.101.0/24\"";
    assert_eq!(text.matches(cidr).count(), 1);
    text.replace(cidr, "cidr = \"10.1.0.0/16\"")
}

/// Address number `i` of 10.1.0.0/16 outside the router's own and the pool's.
fn host(i: usize) -> [u8; 4] {
    let n = 256 * 2 + i; // from 10.1.2.0 on
    [10, 1, (n / 256) as u8, (n % 256) as u8]
}

/// Neighbour table full, the three limits of `vrouter/src/state/neighbours.rs`, through
/// the router: (1) at most HOLD_PER_ENTRY (4) frames are held per unresolved address, the
/// rest dropped and counted as `neighbour_queue_full`; (2) at most MAX_PENDING (256)
/// addresses are unresolved at once: a new one evicts the oldest, whose held frames are
/// dropped and counted as `neighbour_evicted`; (3) at most MAX_ENTRIES (4096) addresses are
/// known: a new one evicts a learned entry not in use, so that it is asked for at once,
/// while an entry in use keeps working. Held frames of unanswered addresses are dropped
/// after 3 requests and counted as `neighbour_timeout`; after expiry new addresses are
/// resolved again.
#[test]
fn neighbour_table_full_holds_bounded_and_counts_drops() {
    let mut rig = Rig::new(wide_external, |_| {});
    let qfull = |r: &Rig| r.drops(DropReason::NeighbourQueueFull);

    // (1) Five datagrams to one silent address: four held, the fifth refused.
    for sport in 0..5 {
        rig.vm_sends(host(0), 30000 + sport, 9);
    }
    assert_eq!(
        qfull(&rig),
        5 - HOLD_PER_ENTRY as u64,
        "(1) the fifth frame is refused"
    );
    let asked: Vec<_> = rig
        .take(rig.eth2)
        .iter()
        .filter_map(|f| arp_request_for(f))
        .collect();
    assert_eq!(asked, vec![host(0)], "(1) one ARP request for the address");
    // Unanswered: requests at 0, 1 and 2 s, then the held frames are dropped.
    let timeouts = rig.drops(DropReason::NeighbourTimeout);
    rig.run_for(4);
    assert_eq!(
        rig.drops(DropReason::NeighbourTimeout) - timeouts,
        HOLD_PER_ENTRY as u64,
        "(1) the held frames of an address that never answers are dropped and counted"
    );
    rig.out.sent.clear();

    // (2) 300 silent addresses at once: one ARP request each, 256 pending, the 44 oldest
    // evicted with their frame.
    let before = qfull(&rig);
    let evicted = rig.drops(DropReason::NeighbourEvicted);
    for i in 0..300 {
        rig.vm_sends(host(1 + i), 31000, 9);
    }
    let asked = rig
        .take(rig.eth2)
        .iter()
        .filter(|f| arp_request_for(f).is_some())
        .count();
    assert_eq!(asked, 300, "(2) an ARP request per new address");
    assert_eq!(qfull(&rig), before, "(2) no new address is refused");
    assert_eq!(
        rig.drops(DropReason::NeighbourEvicted) - evicted,
        (300 - MAX_PENDING) as u64,
        "(2) the frames of the oldest unresolved addresses are dropped and counted"
    );
    let pending = rig
        .dp
        .router_neigh
        .iter()
        .filter(|(_, n)| n.mac.is_none())
        .count();
    assert_eq!(pending, MAX_PENDING);
    rig.run_for(4);
    let pending = rig
        .dp
        .router_neigh
        .iter()
        .filter(|(_, n)| n.mac.is_none())
        .count();
    assert_eq!(
        pending, 0,
        "(2) unanswered addresses are given up after 3 requests"
    );
    rig.out.sent.clear();

    // (3) Resolve addresses, 200 at a time, until the table is full.
    let known = |r: &Rig| r.dp.router_neigh.iter().count();
    let mut next = 1000;
    let mut resolved = 0;
    while known(&rig) < MAX_ENTRIES {
        let batch = (MAX_ENTRIES - known(&rig)).min(200);
        for i in next..next + batch {
            rig.vm_sends(host(i), 32000, 9);
        }
        let asked: Vec<[u8; 4]> = rig
            .take(rig.eth2)
            .iter()
            .filter_map(|f| arp_request_for(f))
            .collect();
        assert_eq!(asked.len(), batch, "(3) one request per new address");
        for ip in asked {
            rig.arp_reply(ip, [0x52, 0x54, 0, ip[1], ip[2], ip[3]]);
        }
        resolved += batch;
        next += batch;
        rig.out.sent.clear();
    }
    assert_eq!(known(&rig), MAX_ENTRIES);
    // host(1000) is in use; ten new addresses evict ten entries that are not.
    rig.vm_sends(host(1000), 33000, 9);
    rig.out.sent.clear();
    let before = qfull(&rig);
    let evicted = rig.dp.router_neigh.stats.evicted;
    for i in next..next + 10 {
        rig.vm_sends(host(i), 33000, 9);
    }
    let asked = rig
        .take(rig.eth2)
        .iter()
        .filter(|f| arp_request_for(f).is_some())
        .count();
    assert_eq!(asked, 10, "(3) a new address is asked for at once");
    assert_eq!(qfull(&rig), before, "(3) nothing is refused");
    assert_eq!(rig.dp.router_neigh.stats.evicted - evicted, 10);
    assert_eq!(known(&rig), MAX_ENTRIES);
    // The address in use still works while the table is full.
    rig.vm_sends(host(1000), 33001, 9);
    let out = rig.take(rig.eth2);
    assert!(
        out.iter().any(|f| ip_pair(f) == Some((GW_IP, host(1000)))),
        "(3) a resolved neighbour keeps receiving while the table is full"
    );
    println!(
        "resolved {resolved} addresses; table full at {MAX_ENTRIES}; neighbour_queue_full \
         {}, neighbour_timeout {}",
        qfull(&rig),
        rig.drops(DropReason::NeighbourTimeout)
    );

    // Unconfirmed entries are refreshed after 60 s and removed after 300 s; then new
    // addresses are taken again.
    rig.run_for(310);
    rig.out.sent.clear();
    assert!(known(&rig) < 100, "entries expired: {} left", known(&rig));
    rig.vm_sends(host(next + 20), 34000, 9);
    let asked: Vec<_> = rig
        .take(rig.eth2)
        .iter()
        .filter_map(|f| arp_request_for(f))
        .collect();
    assert_eq!(
        asked,
        vec![host(next + 20)],
        "after expiry new addresses are resolved"
    );
}
