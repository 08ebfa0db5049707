//! Two workers sharing the router of `router_tests`: frames arrive at either worker (as RSS
//! spreads them), are handed to the owner of their flow, and learned state is synced;
//! fragmented datagrams meet their first fragment's owner.

use super::fragment_steer::STEER_TIMEOUT_MS;
use super::fragment_tests::{big_udp, l4_checksum_ok, reassemble, split, vm_acl};
use super::router_tests::{
    snapshot, EXT, FIP, GW_IP, QG, QR, QR_IP, REMOTE, TENANT, UP, UP_IP, VM, VM1, VM1_IP, VM2,
    VM2_IP,
};
use super::test_frames::{arp_reply, echo, packet, udp, TestIo};
use super::{steer, Dataplane, Node};
use crate::frame::VecFrame;
use crate::stats::DropReason;
use crate::tables::acl::PortAcl;
use crate::tables::{Dest, PortIdx, Snapshot};
use crate::wire::be16;
use crate::Mac;
use std::collections::BTreeSet;

/// Two workers and what they sent, with the queues between them.
struct Pair {
    snap: Snapshot,
    dps: [Dataplane<VecFrame>; 2],
    ios: [TestIo; 2],
}

impl Pair {
    fn new() -> Pair {
        Pair::with_acl(None)
    }

    /// Two workers, with `acl` on the VM port.
    fn with_acl(acl: Option<PortAcl>) -> Pair {
        let mut snap = snapshot();
        snap.conntrack.capacity = 4096;
        snap.acls = vec![acl, None];
        Pair {
            dps: [0, 1].map(|w| Dataplane::for_worker(&snap, 0, w, 2)),
            ios: [TestIo::default(), TestIo::default()],
            snap,
        }
    }

    /// A frame received by worker `w` on `port`, then every hand-off and sync it caused.
    fn rx(&mut self, w: usize, port: PortIdx, bytes: &[u8]) {
        self.dps[w].rx(
            &self.snap,
            port,
            [VecFrame::new(bytes)],
            1000,
            &mut self.ios[w],
        );
        self.settle();
    }

    /// Frames received by worker `w` on `port` in one burst, then every hand-off and sync.
    fn rx_burst(&mut self, w: usize, port: PortIdx, frames: &[Vec<u8>]) {
        let burst = frames.iter().map(|f| VecFrame::new(f));
        self.dps[w].rx(&self.snap, port, burst, 1000, &mut self.ios[w]);
        self.settle();
    }

    /// Both workers' timers at `now`.
    fn tick(&mut self, now: u64) {
        for w in 0..2 {
            self.dps[w].tick(&self.snap, now, &mut self.ios[w]);
        }
    }

    /// Drops for `reason` on both workers.
    fn drops(&self, reason: DropReason) -> u64 {
        self.dps
            .iter()
            .map(|d| d.stats.drops[reason as usize])
            .sum()
    }

    /// Delivers handed-off frames and sync events until none is left.
    fn settle(&mut self) {
        loop {
            let mut moved = false;
            for w in 0..2 {
                for (to, port, bytes, resume) in std::mem::take(&mut self.ios[w].handed) {
                    moved = true;
                    let to = to as usize;
                    assert_ne!(to, w, "a worker hands frames only to others");
                    self.dps[to].rx_handed(
                        &self.snap,
                        [(port, VecFrame::new(&bytes), resume)],
                        1000,
                        &mut self.ios[to],
                    );
                }
                for event in std::mem::take(&mut self.dps[w].outbox) {
                    moved = true;
                    let other = 1 - w;
                    self.dps[other].sync(&self.snap, event, 1000, &mut self.ios[other]);
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// Everything both workers sent since the last call: (worker, device, bytes).
    fn sent(&mut self) -> Vec<(usize, PortIdx, Vec<u8>)> {
        let mut out = Vec::new();
        for w in 0..2 {
            out.extend(
                std::mem::take(&mut self.ios[w].sent)
                    .into_iter()
                    .map(|(p, b)| (w, p, b)),
            );
        }
        out
    }

    /// Resolves the VMs and the upstream gateway, each ARP reply arriving at worker 1.
    fn resolve_neighbours(&mut self) {
        self.rx(1, VM, &arp_reply(VM1, VM1_IP, QR, QR_IP));
        self.rx(1, VM, &arp_reply(VM2, VM2_IP, QR, QR_IP));
        self.rx(1, EXT, &arp_reply(UP, UP_IP, QG, GW_IP));
        self.sent();
    }
}

#[test]
fn snat_replies_arriving_at_either_worker_are_translated_by_the_owner() {
    let mut p = Pair::new();
    p.resolve_neighbours();
    const FLOWS: u16 = 400;
    // Out: flow i arrives at worker i % 2, wherever its owner is.
    for i in 0..FLOWS {
        let f = packet(
            QR,
            VM1,
            VM1_IP,
            REMOTE,
            64,
            0,
            17,
            &udp(20_000 + i, 53, b"q"),
        );
        p.rx(usize::from(i % 2), VM, &f);
    }
    let out = p.sent();
    assert_eq!(out.len(), usize::from(FLOWS), "one packet out per flow");
    let mut nat_ports = BTreeSet::new();
    for (w, port, f) in &out {
        assert_eq!(*port, EXT);
        assert_eq!(&f[26..30], &GW_IP, "SNAT to the gateway address");
        let nat_port = be16(f, 34);
        assert!(
            nat_ports.insert(nat_port),
            "translated port {nat_port} used twice"
        );
        assert!(
            steer::owns_ports(nat_port, 53, *w as u16, 2),
            "the reply to port {nat_port} must hash to worker {w}, which made the session"
        );
    }
    let handed_out = p.dps[0].stats.handed_off + p.dps[1].stats.handed_off;
    assert!(
        handed_out > 0,
        "some flows arrived at the worker that does not own them"
    );
    assert_eq!(
        p.dps[0].conntrack.len() + p.dps[1].conntrack.len(),
        usize::from(FLOWS),
        "one session per flow, on one worker only"
    );
    assert!(!p.dps[0].conntrack.is_empty() && !p.dps[1].conntrack.is_empty());
    // Back: each reply arrives at the other worker than its request did.
    for (i, port) in nat_ports.iter().enumerate() {
        let f = packet(QG, UP, REMOTE, GW_IP, 60, 0, 17, &udp(53, *port, b"a"));
        p.rx((i + 1) % 2, EXT, &f);
    }
    let back = p.sent();
    assert_eq!(back.len(), usize::from(FLOWS), "every reply delivered once");
    let mut vm_ports = BTreeSet::new();
    for (_, port, f) in &back {
        assert_eq!(*port, VM);
        assert_eq!(&f[0..6], &VM1, "to the VM's MAC");
        assert_eq!(&f[30..34], &VM1_IP, "translated back to the VM's address");
        assert!(vm_ports.insert(be16(f, 36)), "reply delivered twice");
    }
    let want: BTreeSet<u16> = (0..FLOWS).map(|i| 20_000 + i).collect();
    assert_eq!(vm_ports, want, "each flow's own port restored");
}

#[test]
fn floating_ip_flows_meet_their_session_on_either_worker() {
    let mut p = Pair::new();
    p.resolve_neighbours();
    for id in 0..64u16 {
        // In from upstream to the floating IP at worker 0, the VM's reply at worker 1.
        p.rx(
            0,
            EXT,
            &packet(QG, UP, UP_IP, FIP, 64, 0, 1, &echo(8, id, 1)),
        );
        let fwd = p.sent();
        assert_eq!(fwd.len(), 1, "echo {id} forwarded once");
        assert_eq!((fwd[0].1, &fwd[0].2[30..34]), (VM, &VM2_IP[..]));
        p.rx(
            1,
            VM,
            &packet(QR, VM2, VM2_IP, UP_IP, 64, 0, 1, &echo(0, id, 1)),
        );
        let back = p.sent();
        assert_eq!(back.len(), 1, "reply {id} forwarded once");
        assert_eq!((back[0].1, &back[0].2[26..30]), (EXT, &FIP[..]));
    }
    assert_eq!(p.dps[0].conntrack.len() + p.dps[1].conntrack.len(), 64);
}

#[test]
fn a_neighbour_resolved_on_one_worker_releases_what_the_other_held() {
    let mut p = Pair::new();
    // Find a flow owned by worker 1 and send it there: the upstream gateway is unresolved.
    let sport = (1024..)
        .find(|s| steer::owns_ports(*s, 53, 1, 2))
        .expect("some port hashes to worker 1");
    let f = packet(QR, VM1, VM1_IP, REMOTE, 64, 0, 17, &udp(sport, 53, b"q"));
    p.rx(1, VM, &f);
    let asked = p.sent();
    assert_eq!(asked.len(), 1, "an ARP request, the packet held");
    assert_eq!((asked[0].0, &asked[0].2[38..42]), (1, &UP_IP[..]));
    // The reply has no ports: worker 0 takes it and tells worker 1.
    p.rx(1, EXT, &arp_reply(UP, UP_IP, QG, GW_IP));
    let out = p.sent();
    assert_eq!(out.len(), 1, "the held packet is released once");
    assert_eq!((out[0].0, out[0].1, &out[0].2[0..6]), (1, EXT, &UP[..]));
    assert!(p.dps[1].stats.sync_applied > 0);
}

#[test]
fn a_mac_learned_by_one_worker_is_known_to_the_other() {
    let mut p = Pair::new();
    let newcomer = [0xfa, 0x16, 0x3e, 0x00, 0x00, 0x42];
    let f = packet(
        VM2,
        newcomer,
        [10, 0, 0, 42],
        VM2_IP,
        64,
        0,
        17,
        &udp(7, 7, b"x"),
    );
    p.rx(0, VM, &f);
    for dp in &p.dps {
        let e = dp
            .mac
            .get(TENANT, Mac(newcomer))
            .expect("learned on both workers");
        assert_eq!(e.dest, Dest::Port(VM));
    }
}

/// A source port whose flow to `dport` worker 1 owns.
fn port_of_worker_1(from: u16, dport: u16) -> u16 {
    (from..)
        .find(|s| steer::owns_ports(*s, dport, 1, 2))
        .expect("some port hashes to worker 1")
}

/// What was sent on `port`, all by worker `w`.
fn sent_by(out: &[(usize, PortIdx, Vec<u8>)], w: usize, port: PortIdx) -> Vec<&[u8]> {
    let on: Vec<_> = out.iter().filter(|(_, p, _)| *p == port).collect();
    assert!(
        on.iter().all(|(by, _, _)| *by == w),
        "all sent by worker {w}"
    );
    on.iter().map(|(_, _, f)| f.as_slice()).collect()
}

#[test]
fn a_fragmented_snat_datagram_and_its_fragmented_reply_meet_the_owner_of_their_flow() {
    let mut p = Pair::new();
    p.resolve_neighbours();
    let sport = port_of_worker_1(5000, 7);
    // Out: every fragment at worker 0 in one burst, so the later ones get there before
    // worker 1 has said where the first went.
    let out_dg = big_udp((QR, VM1), VM1_IP, REMOTE, (sport, 7), 4000);
    p.rx_burst(0, VM, &split(&out_dg, 1432));
    let out = p.sent();
    let sent = sent_by(&out, 1, EXT);
    assert_eq!(sent.len(), 3, "three fragments out: {out:?}");
    let d = reassemble(&sent);
    assert_eq!((&d[26..30], &d[30..34]), (&GW_IP[..], &REMOTE[..]));
    assert!(
        l4_checksum_ok(&d),
        "UDP checksum over the translated datagram"
    );
    let nat_port = be16(&d, 34);
    assert!(steer::owns_ports(nat_port, 7, 1, 2));
    assert_eq!(
        p.dps[0].steered.held(),
        0,
        "the held fragments went to worker 1"
    );
    // Back: the reply's fragments alternate between the workers.
    let reply = big_udp((QG, UP), REMOTE, GW_IP, (7, nat_port), 4000);
    for (i, f) in split(&reply, 1480).iter().enumerate() {
        p.rx(i % 2, EXT, f);
    }
    let back = p.sent();
    let d = reassemble(&sent_by(&back, 1, VM));
    assert_eq!((&d[26..30], &d[30..34]), (&REMOTE[..], &VM1_IP[..]));
    assert_eq!(be16(&d, 36), sport, "the VM's own port restored");
    assert!(l4_checksum_ok(&d));
    assert!(p.dps[1].stats.router.fragments_followed >= 4);
    assert_eq!(
        p.dps[0].conntrack.len(),
        0,
        "the session is worker 1's alone"
    );
    p.tick(1000 + STEER_TIMEOUT_MS);
    for r in [
        DropReason::FragmentTimeout,
        DropReason::FragmentTableFull,
        DropReason::FragmentOrphan,
    ] {
        assert_eq!(p.drops(r), 0, "{r:?}");
    }
}

#[test]
fn fragments_to_a_filtered_port_of_another_worker_pass_after_a_first_that_passed() {
    let mut p = Pair::with_acl(Some(vm_acl()));
    p.resolve_neighbours();
    // Allowed (udp 5000), the first fragment last: the others wait at worker 0.
    let sport = port_of_worker_1(9, 5000);
    let mut frags = split(&big_udp((QG, UP), UP_IP, FIP, (sport, 5000), 3000), 1480);
    frags.reverse();
    p.rx_burst(0, EXT, &frags);
    let out = p.sent();
    let d = reassemble(&sent_by(&out, 1, VM));
    assert_eq!(&d[30..34], &VM2_IP[..], "the whole datagram reaches vm002");
    assert!(l4_checksum_ok(&d));
    assert!(p.dps[1].stats.acl.fragments_passed >= 2);
    // Denied (udp 6000): the first is refused by worker 1, its later fragments follow it
    // there and are orphans (refragmented to the tenant MTU: four pieces after the first).
    let sport = port_of_worker_1(9, 6000);
    for f in &split(&big_udp((QG, UP), UP_IP, FIP, (sport, 6000), 3000), 1480) {
        p.rx(0, EXT, f);
    }
    assert!(p.sent().is_empty(), "nothing of a denied datagram is sent");
    assert_eq!(p.dps[1].stats.drops[DropReason::SgDenied as usize], 1);
    assert_eq!(p.dps[1].stats.drops[DropReason::FragmentOrphan as usize], 4);
    // A later fragment whose first never comes waits at worker 0, then is dropped.
    let mut dg = big_udp((QG, UP), UP_IP, FIP, (sport, 5000), 3000);
    dg[18..20].copy_from_slice(&[0x66, 0x66]);
    p.rx(1, EXT, &split(&dg, 1480)[1]);
    assert_eq!(p.dps[0].steered.held(), 1);
    p.tick(1000 + STEER_TIMEOUT_MS);
    let late = p.sent();
    assert!(
        late.iter().all(|(_, _, f)| f[12..14] != [8, 0]),
        "no IPv4 sent: {late:?}"
    );
    assert_eq!(
        p.dps[0].stats.drops[DropReason::FragmentTimeout as usize],
        1
    );
    assert_eq!(p.dps[0].steered.held(), 0);
}

#[test]
fn a_whole_frame_handed_over_resumes_past_steering_and_a_first_fragment_at_it() {
    let mut p = Pair::new();
    p.resolve_neighbours();
    // Source ports whose flow to port 7 worker 1 owns, received by worker 0.
    let mut owned = (1024u16..).filter(|&s| steer::owns_ports(s, 7, 1, 2));
    let (whole_port, fragmented_port) = (owned.next().unwrap(), owned.next().unwrap());
    let steered_at_1 = |p: &Pair| p.dps[1].stats.nodes[Node::Steer as usize].packets;
    let before = steered_at_1(&p);
    let datagram = udp(whole_port, 7, b"w");
    let whole = packet(QR, VM1, VM1_IP, REMOTE, 64, 0, 17, &datagram);
    p.dps[0].rx(&p.snap, VM, [VecFrame::new(&whole)], 1000, &mut p.ios[0]);
    let resumes: Vec<(u16, Node)> = p.ios[0].handed.iter().map(|h| (h.0, h.3)).collect();
    assert_eq!(resumes, [(1, Node::PortInput)]);
    p.settle();
    assert_eq!(
        steered_at_1(&p),
        before,
        "the owner does not steer it again"
    );
    let out = p.sent();
    assert_eq!(out.len(), 1);
    assert!(out[0].0 == 1 && out[0].1 == EXT && out[0].2[26..30] == GW_IP);
    // A first fragment is recorded at its owner, so it goes through steering there.
    let dg = big_udp((QR, VM1), VM1_IP, REMOTE, (fragmented_port, 7), 4000);
    let first = &split(&dg, 1432)[0];
    p.dps[0].rx(&p.snap, VM, [VecFrame::new(first)], 1000, &mut p.ios[0]);
    let resumes: Vec<(u16, Node)> = p.ios[0].handed.iter().map(|h| (h.0, h.3)).collect();
    assert_eq!(resumes, [(1, Node::Steer)]);
}
