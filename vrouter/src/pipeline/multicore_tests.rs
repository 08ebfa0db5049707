//! Two workers sharing the router of `router_tests`: frames arrive at either worker (as RSS
//! spreads them), are handed to the owner of their flow, and learned state is synced.

use super::router_tests::{
    snapshot, EXT, FIP, GW_IP, QG, QR, QR_IP, REMOTE, TENANT, UP, UP_IP, VM, VM1, VM1_IP, VM2,
    VM2_IP,
};
use super::test_frames::{arp_reply, echo, packet, udp, TestIo};
use super::{steer, Dataplane};
use crate::frame::VecFrame;
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
        let mut snap = snapshot();
        snap.conntrack.capacity = 4096;
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

    /// Delivers handed-off frames and sync events until none is left.
    fn settle(&mut self) {
        loop {
            let mut moved = false;
            for w in 0..2 {
                for (to, port, bytes) in std::mem::take(&mut self.ios[w].handed) {
                    moved = true;
                    let to = to as usize;
                    assert_ne!(to, w, "a worker hands frames only to others");
                    self.dps[to].rx_handed(
                        &self.snap,
                        port,
                        VecFrame::new(&bytes),
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
