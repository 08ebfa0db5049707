//! Pipeline tests: bytes in, verdict and bytes out, on `VecFrame`.

use super::test_frames::TestIo;
use super::Dataplane;
use crate::frame::VecFrame;
use crate::stats::DropReason;
use crate::tables::{
    Dest, MacTableConf, NetConf, PeerConf, PortConf, PortIdx, PortRole, Snapshot, Underlay,
};
use crate::wire::checksum;

const UNDERLAY: PortIdx = 0;
const VM_A: PortIdx = 1;
const VM_B: PortIdx = 2;
const TRUNK: PortIdx = 3;
const NET: u16 = 10;

const LOCAL_MAC: [u8; 6] = [0x52, 0x54, 0, 0, 1, 0x21];
const C1_MAC: [u8; 6] = [0x52, 0x54, 0, 0, 1, 0x31];
const MAC_A: [u8; 6] = [0xfa, 0x16, 0x3e, 0x75, 0xe0, 0x5a];
const MAC_B: [u8; 6] = [0xfa, 0x16, 0x3e, 0x51, 0xa2, 0x97];
const MAC_R: [u8; 6] = [0xfa, 0x16, 0x3e, 0x00, 0x00, 0x31];
const LOCAL_IP: [u8; 4] = [10, 0, 1, 21];
const C1_IP: [u8; 4] = [10, 0, 1, 31];
const C2_IP: [u8; 4] = [10, 0, 1, 41];

fn ip(a: [u8; 4]) -> u32 {
    u32::from_be_bytes(a)
}

fn snapshot() -> Snapshot {
    let mut vlans = Box::new([0u16; 4096]);
    vlans[100] = NET;
    let port = |name: &str, role| PortConf {
        name: name.into(),
        role,
    };
    let mut s = Snapshot {
        generation: 1,
        ports: vec![
            port("eth1", PortRole::Underlay),
            port("tapd7233b80-9d", PortRole::Access { net: NET }),
            port("tap1653ec91-ad", PortRole::Access { net: NET }),
            port("eth3", PortRole::Trunk { vlans }),
        ],
        networks: vec![None; NET as usize + 1],
        underlay: Some(Underlay {
            port: UNDERLAY,
            local_ip: ip(LOCAL_IP),
            prefix_len: 24,
            mac: crate::Mac(LOCAL_MAC),
            gateway: None,
        }),
        peer_list: vec![ip(C1_IP), ip(C2_IP)],
        mac: MacTableConf {
            capacity: 16,
            aging_secs: 300,
        },
        ..Snapshot::default()
    };
    s.networks[NET as usize] = Some(NetConf {
        id: "7c22bbd9-166c-4610-9a3d-3b8b92c77518".into(),
        name: "tenantA-Net".into(),
        local_vlan: NET,
        tunnel_key: Some(2),
        mtu: 1458,
        members: vec![(VM_A, None), (VM_B, None), (TRUNK, Some(100))],
        locals: vec![],
    });
    s.key_to_net.insert(2, NET);
    for (a, name) in [(C1_IP, "gre-0a00011f"), (C2_IP, "gre-0a000129")] {
        s.peers.insert(
            ip(a),
            PeerConf {
                name: name.into(),
                remote_ip: ip(a),
            },
        );
    }
    s
}

struct Rig {
    snap: Snapshot,
    dp: Dataplane<VecFrame>,
    io: TestIo,
}

impl Rig {
    fn new() -> Rig {
        let snap = snapshot();
        let dp = Dataplane::new(&snap, 0);
        Rig {
            snap,
            dp,
            io: TestIo::default(),
        }
    }
    /// Feeds one frame at time `now` and returns what went out.
    fn rx_at(&mut self, port: PortIdx, bytes: &[u8], now: u64) -> Vec<(PortIdx, Vec<u8>)> {
        self.dp
            .rx(&self.snap, port, [VecFrame::new(bytes)], now, &mut self.io);
        std::mem::take(&mut self.io.sent)
    }
    fn rx(&mut self, port: PortIdx, bytes: &[u8]) -> Vec<(PortIdx, Vec<u8>)> {
        self.rx_at(port, bytes, 1000)
    }
    fn drops(&self, r: DropReason) -> u64 {
        self.dp.stats.drops[r as usize]
    }
    /// Teaches the underlay the MAC of compute1 through an ARP reply.
    fn resolve_c1(&mut self) {
        let out = self.rx(UNDERLAY, &arp(2, C1_MAC, C1_IP, LOCAL_MAC, LOCAL_IP));
        assert!(out.is_empty());
    }
}

/// An Ethernet frame dst/src with a 46-byte IPv4-looking payload tagged by `fill`.
fn eth(dst: [u8; 6], src: [u8; 6], fill: u8) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&[fill; 46]);
    f
}

/// An ARP packet in an Ethernet frame (op 1 broadcast request, op 2 unicast reply).
fn arp(op: u8, sha: [u8; 6], spa: [u8; 4], tha: [u8; 6], tpa: [u8; 4]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(if op == 1 { &[0xff; 6] } else { &tha });
    f.extend_from_slice(&sha);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, op]);
    f.extend_from_slice(&sha);
    f.extend_from_slice(&spa);
    f.extend_from_slice(if op == 1 { &[0; 6] } else { &tha });
    f.extend_from_slice(&tpa);
    f
}

/// `inner` in Ethernet/IPv4/GRE(key) from `src` to the local endpoint, ident 0x1234, DF.
fn gre_in(src_mac: [u8; 6], src: [u8; 4], key: u32, inner: &[u8]) -> Vec<u8> {
    gre(LOCAL_MAC, src_mac, src, LOCAL_IP, 0x1234, key, inner)
}

fn gre(
    dmac: [u8; 6],
    smac: [u8; 6],
    src: [u8; 4],
    dst: [u8; 4],
    ident: u16,
    key: u32,
    inner: &[u8],
) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dmac);
    f.extend_from_slice(&smac);
    f.extend_from_slice(&[0x08, 0x00]);
    let total = (20 + 8 + inner.len()) as u16;
    let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 47, 0, 0];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[4..6].copy_from_slice(&ident.to_be_bytes());
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let c = checksum::checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&[0x20, 0x00, 0x65, 0x58]);
    f.extend_from_slice(&key.to_be_bytes());
    f.extend_from_slice(inner);
    f
}

/// What this node emits to compute1 for `inner`, with outer ident `ident`.
fn gre_out(dst: [u8; 4], dmac: [u8; 6], ident: u16, inner: &[u8]) -> Vec<u8> {
    gre(dmac, LOCAL_MAC, LOCAL_IP, dst, ident, 2, inner)
}

fn tagged(frame: &[u8], vid: u16) -> Vec<u8> {
    let mut f = frame[..12].to_vec();
    f.extend_from_slice(&[0x81, 0x00]);
    f.extend_from_slice(&vid.to_be_bytes());
    f.extend_from_slice(&frame[12..]);
    f
}

#[test]
fn arp_request_for_local_endpoint_is_answered_in_place() {
    let mut r = Rig::new();
    let out = r.rx(UNDERLAY, &arp(1, C1_MAC, C1_IP, [0; 6], LOCAL_IP));
    assert_eq!(
        out,
        vec![(UNDERLAY, arp(2, LOCAL_MAC, LOCAL_IP, C1_MAC, C1_IP))]
    );
    assert_eq!(
        r.dp.underlay_neigh.lookup(ip(C1_IP)),
        Some(crate::Mac(C1_MAC))
    );
    assert_eq!(r.dp.stats.arp_replies, 1);
    // A request for another address is not ours, and counted.
    let out = r.rx(UNDERLAY, &arp(1, C1_MAC, C1_IP, [0; 6], C2_IP));
    assert!(out.is_empty());
    assert_eq!(r.drops(DropReason::NotForUs), 1);
}

#[test]
fn broadcast_from_vm_floods_locally_and_to_every_peer_after_arp() {
    let mut r = Rig::new();
    let bcast = eth([0xff; 6], MAC_A, 0xab);
    let out = r.rx(VM_A, &bcast);
    // Local members get it at once (the trunk tagged); the two GRE copies wait for ARP.
    assert_eq!(
        out,
        vec![
            (VM_B, bcast.clone()),
            (TRUNK, tagged(&bcast, 100)),
            (
                UNDERLAY,
                arp(1, LOCAL_MAC, LOCAL_IP, [0; 6], C1_IP)
                    .into_iter()
                    .chain([0; 18])
                    .collect()
            ),
            (
                UNDERLAY,
                arp(1, LOCAL_MAC, LOCAL_IP, [0; 6], C2_IP)
                    .into_iter()
                    .chain([0; 18])
                    .collect()
            ),
        ]
    );
    assert_eq!(r.dp.stats.flooded, 1);
    // compute1 answers: the held copy goes out with its MAC, key 2, ident 1.
    let out = r.rx(UNDERLAY, &arp(2, C1_MAC, C1_IP, LOCAL_MAC, LOCAL_IP));
    assert_eq!(out, vec![(UNDERLAY, gre_out(C1_IP, C1_MAC, 1, &bcast))]);
    assert_eq!(r.dp.stats.gre_encap, 2);
}

#[test]
fn gre_decap_learns_inner_source_and_reply_goes_back_unicast() {
    let mut r = Rig::new();
    r.resolve_c1();
    // A frame from a VM behind compute1 to vm A (unknown yet): flooded to local ports only,
    // never back into a tunnel.
    let inner = eth(MAC_A, MAC_R, 1);
    let out = r.rx(UNDERLAY, &gre_in(C1_MAC, C1_IP, 2, &inner));
    assert_eq!(
        out,
        vec![
            (VM_A, inner.clone()),
            (VM_B, inner.clone()),
            (TRUNK, tagged(&inner, 100))
        ]
    );
    assert_eq!(r.dp.stats.gre_decap, 1);
    let e = r.dp.mac.get(NET, crate::Mac(MAC_R)).unwrap();
    assert_eq!(e.dest, Dest::Peer(ip(C1_IP)));
    // vm A replies: unicast to compute1 only.
    let reply = eth(MAC_R, MAC_A, 2);
    let out = r.rx(VM_A, &reply);
    assert_eq!(out, vec![(UNDERLAY, gre_out(C1_IP, C1_MAC, 1, &reply))]);
    let e = r.dp.mac.get(NET, crate::Mac(MAC_R)).unwrap();
    assert_eq!((e.n_packets, e.n_bytes), (1, 60));
    // Now vm A is known locally: the next frame from compute1 goes to vm A only.
    let out = r.rx(UNDERLAY, &gre_in(C1_MAC, C1_IP, 2, &inner));
    assert_eq!(out, vec![(VM_A, inner)]);
}

#[test]
fn local_unicast_after_learning_and_same_segment_drop() {
    let mut r = Rig::new();
    r.rx(VM_B, &eth([0xff; 6], MAC_B, 0));
    let f = eth(MAC_B, MAC_A, 7);
    assert_eq!(r.rx(VM_A, &f), vec![(VM_B, f.clone())]);
    // A frame to B arriving from B's own port goes nowhere.
    let out = r.rx(VM_B, &eth(MAC_B, [2, 0, 0, 0, 0, 9], 0));
    assert!(out.is_empty());
    assert_eq!(r.drops(DropReason::SameSegment), 1);
}

#[test]
fn trunk_frames_are_untagged_in_and_tagged_out() {
    let mut r = Rig::new();
    r.rx(VM_A, &eth([0xff; 6], MAC_A, 0));
    let f = eth(MAC_A, MAC_R, 3);
    assert_eq!(r.rx(TRUNK, &tagged(&f, 100)), vec![(VM_A, f.clone())]);
    // Untagged or unmapped VLANs on the trunk, and tags on an access port, are dropped.
    assert!(r.rx(TRUNK, &f).is_empty());
    assert!(r.rx(TRUNK, &tagged(&f, 101)).is_empty());
    assert!(r.rx(VM_A, &tagged(&f, 100)).is_empty());
    assert_eq!(r.drops(DropReason::VlanUnknown), 3);
    // Reply goes back tagged.
    let back = eth(MAC_R, MAC_A, 4);
    assert_eq!(r.rx(VM_A, &back), vec![(TRUNK, tagged(&back, 100))]);
}

#[test]
fn unknown_key_unknown_peer_and_bad_gre_are_counted_drops() {
    let mut r = Rig::new();
    let inner = eth([0xff; 6], MAC_R, 0);
    assert!(r.rx(UNDERLAY, &gre_in(C1_MAC, C1_IP, 3, &inner)).is_empty());
    assert_eq!(r.drops(DropReason::UnknownTunnelKey), 1);
    assert!(r
        .rx(UNDERLAY, &gre_in(C1_MAC, [10, 0, 1, 99], 2, &inner))
        .is_empty());
    assert_eq!(r.drops(DropReason::UnknownPeer), 1);
    // Routing bit set (RFC 1701): unsupported.
    let mut g = gre_in(C1_MAC, C1_IP, 2, &inner);
    g[34] |= 0x40;
    assert!(r.rx(UNDERLAY, &g).is_empty());
    assert_eq!(r.drops(DropReason::GreUnsupported), 1);
    // Bad outer IPv4 checksum.
    let mut g = gre_in(C1_MAC, C1_IP, 2, &inner);
    g[24] ^= 0xff;
    assert!(r.rx(UNDERLAY, &g).is_empty());
    // Truncated everywhere: short Ethernet, short IP, short GRE, short inner frame.
    let g = gre_in(C1_MAC, C1_IP, 2, &inner);
    for cut in [10, 30, 40, 50] {
        assert!(r.rx(UNDERLAY, &g[..cut]).is_empty());
    }
    assert_eq!(r.drops(DropReason::Malformed), 5);
    assert_eq!(r.dp.stats.ports[UNDERLAY as usize].rx_dropped, 8);
    assert_eq!(r.dp.stats.total_drops(), 8);
}

#[test]
fn gre_with_checksum_and_sequence_is_decapsulated() {
    let mut r = Rig::new();
    let inner = eth(MAC_A, MAC_R, 5);
    let mut g = gre_in(C1_MAC, C1_IP, 2, &inner);
    // Rebuild the GRE header as C|K|S with checksum over header and payload.
    let mut body = vec![0xb0, 0x00, 0x65, 0x58, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 9];
    body.extend_from_slice(&inner);
    let c = checksum::checksum(&body);
    body[4..6].copy_from_slice(&c.to_be_bytes());
    g.truncate(34);
    g.extend_from_slice(&body);
    let total = (g.len() - 14) as u16;
    g[16..18].copy_from_slice(&total.to_be_bytes());
    g[24..26].copy_from_slice(&[0, 0]);
    let c = checksum::checksum(&g[14..34]);
    g[24..26].copy_from_slice(&c.to_be_bytes());
    r.rx(VM_A, &eth([0xff; 6], MAC_A, 0));
    assert_eq!(r.rx(UNDERLAY, &g), vec![(VM_A, inner)]);
    g[60] ^= 1;
    assert!(r.rx(UNDERLAY, &g).is_empty());
    assert_eq!(r.drops(DropReason::GreBadChecksum), 1);
}

#[test]
fn outer_padding_is_trimmed_before_decap() {
    let mut r = Rig::new();
    r.rx(VM_A, &eth([0xff; 6], MAC_A, 0));
    let inner = eth(MAC_A, MAC_R, 5);
    let mut g = gre_in(C1_MAC, C1_IP, 2, &inner);
    g.extend_from_slice(&[0xee; 8]);
    assert_eq!(r.rx(UNDERLAY, &g), vec![(VM_A, inner)]);
}

#[test]
fn learned_entries_age_out_and_flooding_resumes() {
    let mut r = Rig::new();
    r.rx_at(VM_B, &eth([0xff; 6], MAC_B, 0), 0);
    let f = eth(MAC_B, MAC_A, 1);
    assert_eq!(r.rx_at(VM_A, &f, 1000), vec![(VM_B, f.clone())]);
    let mut io = TestIo::default();
    r.dp.tick(&r.snap, 301_000, &mut io);
    assert!(r.dp.mac.get(NET, crate::Mac(MAC_B)).is_none());
    assert!(r.dp.mac.get(NET, crate::Mac(MAC_A)).is_none());
    assert_eq!(r.dp.mac.stats.aged, 2);
    let out = r.rx_at(VM_A, &f, 302_000);
    // Flooded again: B and the trunk now; the peer copies join the ARP queues still pending.
    assert_eq!(out, vec![(VM_B, f.clone()), (TRUNK, tagged(&f, 100))]);
}

#[test]
fn full_mac_table_still_forwards_by_flooding() {
    let mut r = Rig::new();
    for i in 0..16u8 {
        r.rx(VM_A, &eth([0xff; 6], [2, 0, 0, 0, 1, i], 0));
    }
    assert_eq!(r.dp.mac.len(), 16);
    r.rx(VM_B, &eth([0xff; 6], MAC_B, 0));
    assert_eq!(r.dp.mac.stats.full, 1);
    let f = eth(MAC_B, MAC_A, 1);
    let out = r.rx(VM_A, &f);
    assert!(out.contains(&(VM_B, f.clone())), "unknown B is flooded");
}

#[test]
fn invalid_source_mac_and_short_frames_are_dropped() {
    let mut r = Rig::new();
    assert!(r.rx(VM_A, &eth(MAC_B, [0xff; 6], 0)).is_empty());
    assert!(r.rx(VM_A, &eth(MAC_B, [0; 6], 0)).is_empty());
    assert_eq!(r.drops(DropReason::InvalidSrcMac), 2);
    assert!(r.rx(VM_A, &[0u8; 13]).is_empty());
    assert_eq!(r.drops(DropReason::Malformed), 1);
    assert!(r.rx(9, &eth(MAC_B, MAC_A, 0)).is_empty());
    assert_eq!(r.drops(DropReason::PortUnused), 1);
    assert_eq!(r.dp.mac.len(), 0);
}

#[test]
fn oversized_frame_for_tunnel_and_unanswered_arp_are_counted() {
    let mut r = Rig::new();
    r.resolve_c1();
    r.rx(UNDERLAY, &gre_in(C1_MAC, C1_IP, 2, &eth(MAC_A, MAC_R, 0)));
    let mut big = eth(MAC_R, MAC_A, 0);
    big.resize(1473, 0);
    assert!(r.rx(VM_A, &big).is_empty());
    assert_eq!(r.drops(DropReason::TooBig), 1);
    big.truncate(1472);
    assert_eq!(
        r.rx(VM_A, &big).len(),
        1,
        "1472 bytes fit a 1500-byte underlay"
    );
    // compute2 never answers: its held copy of a broadcast is dropped after three
    // requests, counted apart (the other copies went out); a unicast frame to a MAC
    // behind compute2 held the same way is a lost frame.
    r.rx(VM_B, &eth([0xff; 6], MAC_B, 0));
    let mut io = TestIo::default();
    for t in [2000, 3000, 4000] {
        r.dp.tick(&r.snap, t, &mut io);
    }
    assert_eq!(io.sent.len(), 2, "two retries");
    assert_eq!(r.drops(DropReason::FloodPeerUnresolved), 1);
    assert_eq!(r.drops(DropReason::NeighbourTimeout), 0);
    const BEHIND_C2: [u8; 6] = [0xfa, 0x16, 0x3e, 0x00, 0x00, 0x42];
    r.rx(
        UNDERLAY,
        &gre_in(C2_MAC, C2_IP, 2, &eth(MAC_B, BEHIND_C2, 0)),
    );
    assert_eq!(
        r.dp.underlay_neigh.lookup(ip(C2_IP)),
        None,
        "GRE teaches no MAC"
    );
    let out = r.rx(VM_B, &eth(BEHIND_C2, MAC_B, 0));
    assert!(
        out.iter().all(|(p, f)| *p == UNDERLAY && f.len() <= 60),
        "held, only an ARP request for compute2 goes out: {out:02x?}"
    );
    for t in [5000, 6000, 7000, 8000] {
        r.dp.tick(&r.snap, t, &mut io);
    }
    assert_eq!(r.drops(DropReason::NeighbourTimeout), 1);
    assert_eq!(r.drops(DropReason::FloodPeerUnresolved), 1);
}

#[test]
fn failed_copies_are_counted_and_others_still_go() {
    let mut r = Rig::new();
    r.io.no_buffers = true;
    let bcast = eth([0xff; 6], MAC_A, 0);
    let out = r.rx(VM_A, &bcast);
    // VecFrame clones never fail; the ARP requests for the peers need fresh buffers.
    assert_eq!(out.len(), 2);
    assert_eq!(r.drops(DropReason::NoBuffer), 2);
}

#[test]
fn arp_for_a_local_port_is_answered_and_other_broadcasts_are_ignored() {
    let mut r = Rig::new();
    const QR_MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0xf7, 0xe6, 0x9c];
    let net = r.snap.networks[NET as usize].as_mut().unwrap();
    net.locals.push(crate::tables::LocalIf {
        port_id: "81388454-30e0-45e4-b3dd-b7b2e8dbf067".into(),
        mac: crate::Mac(QR_MAC),
        ip: ip([10, 0, 0, 1]),
        prefix_len: 24,
        kind: crate::tables::LocalKind::Router(0),
    });
    r.snap
        .static_macs
        .push((NET, crate::Mac(QR_MAC), Dest::Local));
    r.dp.apply(&r.snap, 0);
    let who_has = arp(1, MAC_A, [10, 0, 0, 10], [0; 6], [10, 0, 0, 1]);
    let out = r.rx(VM_A, &who_has);
    let reply = arp(2, QR_MAC, [10, 0, 0, 1], MAC_A, [10, 0, 0, 10]);
    // Flooded to the other members as a switch would, and answered by the local port.
    assert_eq!(
        &out[..2],
        &[(VM_B, who_has.clone()), (TRUNK, tagged(&who_has, 100))]
    );
    assert!(out[2..].contains(&(VM_A, reply)), "answered: {out:?}");
    // A request for a VM's address is flooded, and the local ports ignore their copy.
    r.rx(VM_A, &arp(1, MAC_A, [10, 0, 0, 10], [0; 6], [10, 0, 0, 9]));
    assert_eq!(r.dp.stats.local_ignored, 1);
    assert_eq!(r.dp.stats.total_drops(), 0);
}

#[test]
fn a_tunnel_frame_cannot_take_over_a_local_ports_mac() {
    let mut r = Rig::new();
    r.snap
        .static_macs
        .push((NET, crate::Mac(MAC_B), Dest::Port(VM_B)));
    r.dp.apply(&r.snap, 0);
    r.resolve_c1();
    let spoof = eth(MAC_A, MAC_B, 7);
    let out = r.rx(UNDERLAY, &gre_in(C1_MAC, C1_IP, 2, &spoof));
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(r.drops(DropReason::MacStaticConflict), 1);
    // From another local port, unicast or broadcast: the same.
    assert!(r.rx(VM_A, &eth([0xff; 6], MAC_B, 8)).is_empty());
    assert_eq!(r.drops(DropReason::MacStaticConflict), 2);
    let e = r.dp.mac.get(NET, crate::Mac(MAC_B)).unwrap();
    assert_eq!((e.dest, e.is_static), (Dest::Port(VM_B), true));
    assert_eq!(r.dp.mac.stats.moved, 0);
    // The port's own frames still go, and frames for it still reach it.
    assert!(!r.rx(VM_B, &eth([0xff; 6], MAC_B, 9)).is_empty());
    let to_b = eth(MAC_B, MAC_R, 10);
    let out = r.rx(UNDERLAY, &gre_in(C1_MAC, C1_IP, 2, &to_b));
    assert_eq!(out, vec![(VM_B, to_b)]);
    assert_eq!(r.dp.stats.total_drops(), 2);
}

const C2_MAC: [u8; 6] = [0x52, 0x54, 0, 0, 1, 0x41];

#[test]
fn underlay_arp_cannot_poison_a_static_neighbour_or_claim_the_endpoint() {
    let mut r = Rig::new();
    r.snap.underlay_neighbours = vec![(ip(C2_IP), crate::Mac(C2_MAC))];
    r.dp.apply(&r.snap, 0);
    let fake = [0x02, 0, 0, 0, 0, 0x66];
    assert!(r
        .rx(UNDERLAY, &arp(2, fake, C2_IP, LOCAL_MAC, LOCAL_IP))
        .is_empty());
    assert!(r
        .rx(UNDERLAY, &arp(1, fake, C2_IP, [0; 6], LOCAL_IP))
        .is_empty());
    assert!(r
        .rx(UNDERLAY, &arp(1, fake, LOCAL_IP, [0; 6], C1_IP))
        .is_empty());
    assert_eq!(r.drops(DropReason::ArpSpoofed), 3);
    assert_eq!(
        r.dp.underlay_neigh.lookup(ip(C2_IP)),
        Some(crate::Mac(C2_MAC))
    );
    // The model's MAC is no spoof: answered.
    let out = r.rx(UNDERLAY, &arp(1, C2_MAC, C2_IP, [0; 6], LOCAL_IP));
    assert_eq!(out.len(), 1);
}

#[test]
fn an_underlay_arp_flood_does_not_keep_a_new_peer_from_getting_gre() {
    let mut r = Rig::new();
    for n in 0..20_000u32 {
        // Half from off the underlay subnet, half from on it.
        let spa = if n % 2 == 0 {
            (ip([172, 16, 0, 0]) + n).to_be_bytes()
        } else {
            [10, 0, 1, (50 + n % 200) as u8]
        };
        let sha = [0x02, 0xee, spa[0], spa[1], spa[2], spa[3]];
        let out = r.rx(UNDERLAY, &arp(1, sha, spa, [0; 6], LOCAL_IP));
        assert_eq!(out.len(), 1, "request {n} answered");
    }
    let known = r.dp.underlay_neigh.iter().count();
    assert!(known <= 200, "only on-link senders are kept: {known}");
    assert_eq!(r.dp.underlay_neigh.lookup(ip([172, 16, 0, 0])), None);
    // A broadcast from vm A: ARP for both peers at once, GRE as soon as they answer.
    let bcast = eth([0xff; 6], MAC_A, 1);
    let out = r.rx(VM_A, &bcast);
    assert_eq!(
        out.len(),
        4,
        "two local copies and two ARP requests: {out:?}"
    );
    let out = r.rx(UNDERLAY, &arp(2, C2_MAC, C2_IP, LOCAL_MAC, LOCAL_IP));
    assert_eq!(out.len(), 1);
    assert_eq!(
        (&out[0].1[0..6], &out[0].1[30..34]),
        (&C2_MAC[..], &C2_IP[..])
    );
    assert_eq!(r.drops(DropReason::NeighbourQueueFull), 0);
}
