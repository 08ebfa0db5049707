//! Routed flows across changes: each test runs several packets of one connection (so that
//! an established flow's resolved egress exists), changes what its egress depends on (where
//! a MAC is, a floating IP, a neighbour's MAC, a security group rule, a route) and checks
//! the exact bytes of the next packets of the same connection. Also: the node path of a
//! routed frame from a tunnel, and exact bytes on trunk and access ports across packets.
//!
//! The topology is the reference one in small: vm002 (10.0.0.9, floating IP 10.1.101.82)
//! behind compute1 over GRE, a VM with a security group on a local device (10.0.0.10,
//! floating IP 10.1.101.83), a VM behind a trunk with tag 100 (10.0.0.11, gateway SNAT),
//! the router tenant-R1 between tenantA-Net and the external network on eth2.

use super::router_tests::{ip, tenant_router, EXTNET, GW_IP, QG, QR, QR_IP, TENANT, UP, UP_IP};
use super::test_frames::{arp_reply, echo, packet, udp, TestIo};
use super::Dataplane;
use crate::frame::VecFrame;
use crate::state::FlowKey;
use crate::stats::DropReason;
use crate::tables::acl::{AclRule, AllowedSource, PortAcl, Remote};
use crate::tables::router::{Route, RouterConf};
use crate::tables::{
    ConntrackConf, Dest, LocalIf, LocalKind, MacTableConf, NetConf, PeerConf, PortConf, PortIdx,
    PortRole, Snapshot, Underlay,
};
use crate::wire::checksum;
use crate::Mac;

const UNDERLAY: PortIdx = 0;
const EXT: PortIdx = 1;
const VM_L: PortIdx = 2;
const TRUNK: PortIdx = 3;
const TRUNK_VID: u16 = 100;
const GRE_KEY: u32 = 2;

/// vm002, behind compute1.
const R_MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0x51, 0xa2, 0x97];
/// The VM on the local device, with a security group.
const L_MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0x75, 0xe0, 0x5a];
/// The VM behind the trunk.
const T_MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0x2c, 0x4b, 0x11];
const UP_NEW: [u8; 6] = [0x52, 0x54, 0x00, 0x01, 0x01, 0xfd];
const UP2: [u8; 6] = [0x52, 0x54, 0x00, 0x01, 0x01, 0xfc];
const LOCAL_MAC: [u8; 6] = [0x52, 0x54, 0, 0, 1, 0x21];
const C1_MAC: [u8; 6] = [0x52, 0x54, 0, 0, 1, 0x31];
const C1_NEW: [u8; 6] = [0x52, 0x54, 0, 0, 1, 0x32];
const C2_MAC: [u8; 6] = [0x52, 0x54, 0, 0, 1, 0x41];

const R_IP: [u8; 4] = [10, 0, 0, 9];
const L_IP: [u8; 4] = [10, 0, 0, 10];
const T_IP: [u8; 4] = [10, 0, 0, 11];
const FIP_R: [u8; 4] = [10, 1, 101, 82];
const FIP_L: [u8; 4] = [10, 1, 101, 83];
const UP2_IP: [u8; 4] = [10, 1, 101, 253];
const LOCAL_IP: [u8; 4] = [10, 0, 1, 21];
const C1_IP: [u8; 4] = [10, 0, 1, 31];
const C2_IP: [u8; 4] = [10, 0, 1, 41];
const REMOTE: [u8; 4] = [8, 8, 8, 8];
const CLIENT: [u8; 4] = [198, 18, 0, 1];
const BEYOND_UP2: [u8; 4] = [172, 16, 5, 9];

fn udp_rule(id: &str, ports: (u16, u16)) -> AclRule {
    AclRule {
        id: id.into(),
        group: "8bd8fb6b".into(),
        proto: Some(17),
        ports,
        icmp_code: None,
        remote: Remote::Any,
    }
}

/// The local VM's security group: UDP 5000-5010 in, UDP out.
fn acl() -> PortAcl {
    PortAcl {
        port_id: "d7233b80-9d3e-4d2e-a6a3-0e3b5a5bd0a1".into(),
        sources: vec![AllowedSource {
            prefix: ip(L_IP),
            len: 32,
            mac: Mac(L_MAC),
        }],
        dhcp_servers: vec![],
        ingress: vec![udp_rule("udp-in", (5000, 5010))],
        egress: vec![udp_rule("udp-out", (0, 65535))],
    }
}

fn router() -> RouterConf {
    let mut r = tenant_router();
    r.neighbours = vec![
        (ip(R_IP), Mac(R_MAC)),
        (ip(L_IP), Mac(L_MAC)),
        (ip(T_IP), Mac(T_MAC)),
    ];
    for (fip, fixed) in [(FIP_R, R_IP), (FIP_L, L_IP)] {
        r.fixed_of.insert(ip(fip), ip(fixed));
        r.floating_of.insert(ip(fixed), ip(fip));
    }
    r
}

fn local(port_id: &str, mac: [u8; 6], a: [u8; 4]) -> LocalIf {
    LocalIf {
        port_id: port_id.into(),
        mac: Mac(mac),
        ip: ip(a),
        prefix_len: 24,
        kind: LocalKind::Router(0),
    }
}

/// The topology; vm002's MAC is the model's (bound to compute1) if `r_bound`, else learned.
fn snapshot(r_bound: bool) -> Snapshot {
    let mut vlans = Box::new([0u16; 4096]);
    vlans[usize::from(TRUNK_VID)] = TENANT;
    let port = |name: &str, role| PortConf {
        name: name.into(),
        role,
    };
    let mut s = Snapshot {
        generation: 1,
        ports: vec![
            port("eth1", PortRole::Underlay),
            port("eth2", PortRole::Access { net: EXTNET }),
            port("tapd7233b80-9d", PortRole::Access { net: TENANT }),
            port("eth3", PortRole::Trunk { vlans }),
        ],
        networks: vec![None; usize::from(EXTNET) + 1],
        underlay: Some(Underlay {
            port: UNDERLAY,
            local_ip: ip(LOCAL_IP),
            prefix_len: 24,
            mac: Mac(LOCAL_MAC),
            gateway: None,
        }),
        peer_list: vec![ip(C1_IP), ip(C2_IP)],
        static_macs: vec![
            (TENANT, Mac(QR), Dest::Local),
            (EXTNET, Mac(QG), Dest::Local),
            (TENANT, Mac(L_MAC), Dest::Port(VM_L)),
            (TENANT, Mac(T_MAC), Dest::Port(TRUNK)),
        ],
        mac: MacTableConf {
            capacity: 64,
            aging_secs: 300,
        },
        conntrack: ConntrackConf {
            capacity: 64,
            zone_limit: 64,
        },
        acls: vec![None, None, Some(acl()), None],
        ..Snapshot::default()
    };
    if r_bound {
        s.static_macs
            .push((TENANT, Mac(R_MAC), Dest::Peer(ip(C1_IP))));
    }
    s.networks[usize::from(TENANT)] = Some(NetConf {
        id: "7c22bbd9-166c-4610-9a3d-3b8b92c77518".into(),
        name: "tenantA-Net".into(),
        local_vlan: TENANT,
        tunnel_key: Some(GRE_KEY),
        mtu: 1458,
        members: vec![(VM_L, None), (TRUNK, Some(TRUNK_VID))],
        locals: vec![local("qr", QR, QR_IP)],
    });
    s.networks[usize::from(EXTNET)] = Some(NetConf {
        id: "ext".into(),
        name: "Ext-Net".into(),
        local_vlan: EXTNET,
        tunnel_key: None,
        mtu: 1500,
        members: vec![(EXT, None)],
        locals: vec![
            local("qg", QG, GW_IP),
            local("fip-r", QG, FIP_R),
            local("fip-l", QG, FIP_L),
        ],
    });
    s.key_to_net.insert(GRE_KEY, TENANT);
    for (a, name) in [(C1_IP, "gre-0a00011f"), (C2_IP, "gre-0a000129")] {
        s.peers.insert(
            ip(a),
            PeerConf {
                name: name.into(),
                remote_ip: ip(a),
            },
        );
    }
    s.routers.push(router());
    s
}

type Sent = Vec<(PortIdx, Vec<u8>)>;

/// The frame a flow (by its source port) sends, and the frame that leaves for it.
type FlowFrames = dyn Fn(u16) -> (Vec<u8>, Vec<u8>);

struct Rig {
    snap: Snapshot,
    dp: Dataplane<VecFrame>,
    io: TestIo,
}

impl Rig {
    /// The topology with the upstream gateway and both compute nodes resolved by ARP.
    fn new(r_bound: bool) -> Rig {
        let snap = snapshot(r_bound);
        let mut r = Rig {
            dp: Dataplane::new(&snap, 0),
            snap,
            io: TestIo::default(),
        };
        assert!(r.rx(EXT, &arp_reply(UP, UP_IP, QG, GW_IP)).is_empty());
        for (mac, a) in [(C1_MAC, C1_IP), (C2_MAC, C2_IP)] {
            assert!(r
                .rx(UNDERLAY, &arp_reply(mac, a, LOCAL_MAC, LOCAL_IP))
                .is_empty());
        }
        r
    }

    fn rx(&mut self, port: PortIdx, bytes: &[u8]) -> Sent {
        self.dp
            .rx(&self.snap, port, [VecFrame::new(bytes)], 1000, &mut self.io);
        std::mem::take(&mut self.io.sent)
    }

    /// Publishes the snapshot as `change` makes it.
    fn publish(&mut self, change: impl FnOnce(&mut Snapshot)) {
        change(&mut self.snap);
        self.snap.generation += 1;
        self.dp.apply(&self.snap, 1000);
    }

    fn drops(&self, r: DropReason) -> u64 {
        self.dp.stats.drops[r as usize]
    }
    /// Room for `sessions` sessions, any zone may take them all.
    fn grow_conntrack(&mut self, sessions: usize) {
        self.publish(|s| {
            s.conntrack = ConntrackConf {
                capacity: sessions,
                zone_limit: sessions,
            }
        });
    }

    /// Sends the frame `frames` makes for each flow of `flows` (by source port) into
    /// `from`, 32 to a burst, and checks that each burst leaves on `to` exactly as
    /// `frames` says.
    fn bursts(&mut self, from: PortIdx, to: PortIdx, flows: &[u16], frames: &FlowFrames) {
        for chunk in flows.chunks(32) {
            let sent = chunk.iter().map(|&p| VecFrame::new(&frames(p).0));
            self.dp.rx(&self.snap, from, sent, 1000, &mut self.io);
            let out = std::mem::take(&mut self.io.sent);
            let want: Vec<_> = chunk.iter().map(|&p| (to, frames(p).1)).collect();
            assert_eq!(out, want, "flows from port {} into {from}", chunk[0]);
        }
    }
}

/// `n` bytes of payload that differ from packet to packet.
fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + n) as u8).collect()
}

/// Ethernet/IPv4/GRE (key 2, no checksum) around `inner`, as the appliance and the compute
/// nodes send it: DF, TTL 64, the outer checksum computed in full.
fn gre(
    dmac: [u8; 6],
    smac: [u8; 6],
    src: [u8; 4],
    dst: [u8; 4],
    ident: u16,
    inner: &[u8],
) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dmac);
    f.extend_from_slice(&smac);
    f.extend_from_slice(&[0x08, 0x00]);
    let total = (20 + 8 + inner.len()) as u16;
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&ident.to_be_bytes());
    h.extend_from_slice(&[0x40, 0, 64, 47, 0, 0]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    let c = checksum::checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&h);
    f.extend_from_slice(&[0x20, 0x00, 0x65, 0x58]);
    f.extend_from_slice(&GRE_KEY.to_be_bytes());
    f.extend_from_slice(inner);
    f
}

/// `inner` in GRE from compute node `mac`/`src` to this node.
fn from_compute(mac: [u8; 6], src: [u8; 4], inner: &[u8]) -> Vec<u8> {
    gre(LOCAL_MAC, mac, src, LOCAL_IP, 0x1234, inner)
}

/// Asserts that `out` is exactly one GRE frame to compute node `mac`/`dst` carrying `inner`.
/// The outer identification is the appliance's choice (RFC 6864: any value for an atomic
/// datagram): it is taken from the frame, the rest (its checksum included) must match.
fn assert_gre_to(out: &Sent, mac: [u8; 6], dst: [u8; 4], inner: &[u8], what: &str) {
    assert_eq!(out.len(), 1, "{what}: one frame: {out:02x?}");
    let (port, f) = &out[0];
    assert_eq!(*port, UNDERLAY, "{what}: out of the underlay");
    assert!(f.len() > 20, "{what}: {f:02x?}");
    let ident = u16::from_be_bytes([f[18], f[19]]);
    let want = gre(mac, LOCAL_MAC, LOCAL_IP, dst, ident, inner);
    assert_eq!(f, &want, "{what}: GRE to {dst:?} at {mac:02x?}");
}

fn tagged(frame: &[u8], vid: u16) -> Vec<u8> {
    let mut f = frame[..12].to_vec();
    f.extend_from_slice(&[0x81, 0x00]);
    f.extend_from_slice(&vid.to_be_bytes());
    f.extend_from_slice(&frame[12..]);
    f
}

/// The client's datagram number `i` to vm002's floating IP, as it arrives on eth2.
fn client_to_fip_r(i: usize) -> Vec<u8> {
    let l4 = udp(40000, 5001, &data(10 + i));
    packet(QG, UP, CLIENT, FIP_R, 64, 0x4000, 17, &l4)
}

/// [`client_to_fip_r`] as vm002 gets it (DNAT, TTL 63, from the router's MAC).
fn client_to_fip_r_inner(i: usize) -> Vec<u8> {
    let l4 = udp(40000, 5001, &data(10 + i));
    packet(R_MAC, QR, CLIENT, R_IP, 63, 0x4000, 17, &l4)
}

/// vm002's datagram number `i` to the client, as vm002 sends it (inside GRE).
fn r_to_client(i: usize) -> Vec<u8> {
    let l4 = udp(5001, 40000, &data(20 + i));
    packet(QR, R_MAC, R_IP, CLIENT, 64, 0x4000, 17, &l4)
}

/// [`r_to_client`] as it leaves on eth2 (SNAT to the floating IP, TTL 63).
fn r_to_client_out(i: usize) -> Vec<u8> {
    let l4 = udp(5001, 40000, &data(20 + i));
    packet(UP, QG, FIP_R, CLIENT, 63, 0x4000, 17, &l4)
}

/// The trunk VM's datagram number `i` to `dst` from port 5003, as the VM sends it (untagged).
fn t_out(dst: [u8; 4], i: usize) -> Vec<u8> {
    let l4 = udp(5003, 53, &data(30 + i));
    packet(QR, T_MAC, T_IP, dst, 64, 0x4000, 17, &l4)
}

/// [`t_out`] as it leaves on eth2 towards next hop `mac` (gateway SNAT, port kept).
fn t_out_routed(mac: [u8; 6], dst: [u8; 4], i: usize) -> Vec<u8> {
    let l4 = udp(5003, 53, &data(30 + i));
    packet(mac, QG, GW_IP, dst, 63, 0x4000, 17, &l4)
}

#[test]
fn a_learned_vm_mac_moving_to_compute2_takes_the_routed_flow_to_compute2() {
    let mut r = Rig::new(false);
    // vm002 speaks first from compute1: its MAC is learned there.
    let out = r.rx(UNDERLAY, &from_compute(C1_MAC, C1_IP, &r_to_client(0)));
    assert_eq!(out, vec![(EXT, r_to_client_out(0))]);
    for i in 0..4 {
        let out = r.rx(EXT, &client_to_fip_r(i));
        let what = format!("packet {i} before the move");
        assert_gre_to(&out, C1_MAC, C1_IP, &client_to_fip_r_inner(i), &what);
    }
    // vm002 migrated: its next frame comes from compute2.
    let out = r.rx(UNDERLAY, &from_compute(C2_MAC, C2_IP, &r_to_client(1)));
    assert_eq!(out, vec![(EXT, r_to_client_out(1))]);
    let e = r.dp.mac.get(TENANT, Mac(R_MAC)).unwrap();
    assert_eq!(e.dest, Dest::Peer(ip(C2_IP)));
    for i in 4..8 {
        let out = r.rx(EXT, &client_to_fip_r(i));
        let what = format!("packet {i} after the move");
        assert_gre_to(&out, C2_MAC, C2_IP, &client_to_fip_r_inner(i), &what);
    }
    assert_eq!(r.dp.stats.total_drops(), 0);
}

#[test]
fn a_port_rebound_to_compute2_by_a_new_snapshot_takes_the_routed_flow_to_compute2() {
    let mut r = Rig::new(true);
    for i in 0..4 {
        let out = r.rx(EXT, &client_to_fip_r(i));
        let what = format!("packet {i} while bound to compute1");
        assert_gre_to(&out, C1_MAC, C1_IP, &client_to_fip_r_inner(i), &what);
    }
    // While the model binds it to compute1, a frame with its MAC from compute2 is not its
    // owner's: dropped, and the flow stays where the model says.
    assert!(r
        .rx(UNDERLAY, &from_compute(C2_MAC, C2_IP, &r_to_client(0)))
        .is_empty());
    assert_eq!(r.drops(DropReason::MacStaticConflict), 1);
    let out = r.rx(EXT, &client_to_fip_r(4));
    assert_gre_to(
        &out,
        C1_MAC,
        C1_IP,
        &client_to_fip_r_inner(4),
        "after the claim",
    );
    // The port is bound to compute2.
    r.publish(|s| {
        for m in &mut s.static_macs {
            if m.1 == Mac(R_MAC) {
                m.2 = Dest::Peer(ip(C2_IP));
            }
        }
    });
    for i in 5..9 {
        let out = r.rx(EXT, &client_to_fip_r(i));
        let what = format!("packet {i} after the rebind");
        assert_gre_to(&out, C2_MAC, C2_IP, &client_to_fip_r_inner(i), &what);
    }
    // And its answers from compute2 are its own now.
    let out = r.rx(UNDERLAY, &from_compute(C2_MAC, C2_IP, &r_to_client(1)));
    assert_eq!(out, vec![(EXT, r_to_client_out(1))]);
    assert_eq!(r.drops(DropReason::MacStaticConflict), 1);
}

/// vm002's DNS query number `i` from port 5000, as vm002 sends it (inside GRE).
fn r_query(i: usize) -> Vec<u8> {
    packet(
        QR,
        R_MAC,
        R_IP,
        REMOTE,
        64,
        0x4000,
        17,
        &udp(5000, 53, &data(i)),
    )
}

#[test]
fn a_disassociated_floating_ip_sends_the_flow_out_by_the_gateway_address() {
    let mut r = Rig::new(true);
    // The trunk VM holds port 5000 of the gateway address towards the server.
    let t = packet(
        QR,
        T_MAC,
        T_IP,
        REMOTE,
        64,
        0x4000,
        17,
        &udp(5000, 53, b"t"),
    );
    let out = r.rx(TRUNK, &tagged(&t, TRUNK_VID));
    let t_out = packet(UP, QG, GW_IP, REMOTE, 63, 0x4000, 17, &udp(5000, 53, b"t"));
    assert_eq!(out, vec![(EXT, t_out)]);
    for i in 0..4 {
        let out = r.rx(UNDERLAY, &from_compute(C1_MAC, C1_IP, &r_query(i)));
        let want = packet(
            UP,
            QG,
            FIP_R,
            REMOTE,
            63,
            0x4000,
            17,
            &udp(5000, 53, &data(i)),
        );
        assert_eq!(out, vec![(EXT, want)], "packet {i} by the floating IP");
    }
    // floatingip-disassociate: the floating IP leaves the router and the external network.
    r.publish(|s| {
        let rt = &mut s.routers[0];
        rt.fixed_of.remove(&ip(FIP_R));
        rt.floating_of.remove(&ip(R_IP));
        let ext = s.networks[usize::from(EXTNET)].as_mut().unwrap();
        ext.locals.retain(|l| l.ip != ip(FIP_R));
    });
    assert_eq!(
        r.dp.stats.router.nat_flushed, 1,
        "vm002's session, not the trunk VM's"
    );
    let mut port = None;
    for i in 4..8 {
        let out = r.rx(UNDERLAY, &from_compute(C1_MAC, C1_IP, &r_query(i)));
        assert_eq!(out.len(), 1, "packet {i}: {out:02x?}");
        let d = &out[0].1;
        let sport = u16::from_be_bytes([d[34], d[35]]);
        assert!(sport >= 1024 && sport != 5000, "a port of its own: {sport}");
        assert_eq!(
            *port.get_or_insert(sport),
            sport,
            "packet {i}: the same port"
        );
        let want = packet(
            UP,
            QG,
            GW_IP,
            REMOTE,
            63,
            0x4000,
            17,
            &udp(sport, 53, &data(i)),
        );
        assert_eq!(out, vec![(EXT, want)], "packet {i} by the gateway address");
    }
    let port = port.unwrap();
    let key = FlowKey {
        zone: 0,
        proto: 17,
        src: ip(R_IP),
        dst: ip(REMOTE),
        sport: 5000,
        dport: 53,
    };
    let (idx, _) = r.dp.conntrack.lookup(&key).expect("a new session");
    let s = r.dp.conntrack.get(idx).unwrap();
    assert_eq!((s.reply.dst, s.reply.dport), (ip(GW_IP), port));
    // The server's answer to the gateway address reaches vm002 at its port.
    let answer = packet(QG, UP, REMOTE, GW_IP, 60, 0, 17, &udp(53, port, b"a"));
    let out = r.rx(EXT, &answer);
    let inner = packet(R_MAC, QR, REMOTE, R_IP, 59, 0, 17, &udp(53, 5000, b"a"));
    assert_gre_to(&out, C1_MAC, C1_IP, &inner, "the answer");
    // An answer to the old floating IP no longer reaches it.
    let late = packet(QG, UP, REMOTE, FIP_R, 60, 0, 17, &udp(53, 5000, b"late"));
    let out = r.rx(EXT, &late);
    assert!(out.iter().all(|(p, _)| *p != UNDERLAY), "{out:02x?}");
}

#[test]
fn a_new_gateway_mac_from_an_arp_reply_is_the_next_packets_destination() {
    let mut r = Rig::new(true);
    for i in 0..4 {
        let out = r.rx(TRUNK, &tagged(&t_out(REMOTE, i), TRUNK_VID));
        assert_eq!(out, vec![(EXT, t_out_routed(UP, REMOTE, i))], "packet {i}");
    }
    assert!(r.rx(EXT, &arp_reply(UP_NEW, UP_IP, QG, GW_IP)).is_empty());
    for i in 4..8 {
        let out = r.rx(TRUNK, &tagged(&t_out(REMOTE, i), TRUNK_VID));
        assert_eq!(
            out,
            vec![(EXT, t_out_routed(UP_NEW, REMOTE, i))],
            "packet {i}"
        );
    }
}

/// A gratuitous ARP (RFC 5227 §3 announcement, a broadcast request for its own address).
fn garp(sha: [u8; 6], spa: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&sha);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&sha);
    f.extend_from_slice(&spa);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&spa);
    f
}

#[test]
fn a_new_gateway_mac_from_a_gratuitous_arp_is_the_next_packets_destination() {
    let mut r = Rig::new(true);
    for i in 0..4 {
        let out = r.rx(TRUNK, &tagged(&t_out(REMOTE, i), TRUNK_VID));
        assert_eq!(out, vec![(EXT, t_out_routed(UP, REMOTE, i))], "packet {i}");
    }
    assert!(r.rx(EXT, &garp(UP_NEW, UP_IP)).is_empty());
    assert_eq!(r.dp.router_neigh.lookup(ip(UP_IP)), Some(Mac(UP_NEW)));
    for i in 4..8 {
        let out = r.rx(TRUNK, &tagged(&t_out(REMOTE, i), TRUNK_VID));
        assert_eq!(
            out,
            vec![(EXT, t_out_routed(UP_NEW, REMOTE, i))],
            "packet {i}"
        );
    }
    assert_eq!(r.dp.stats.total_drops(), 0);
}

#[test]
fn a_compute_node_with_a_new_mac_gets_the_tunnelled_flow_at_that_mac() {
    let mut r = Rig::new(true);
    for i in 0..4 {
        let out = r.rx(EXT, &client_to_fip_r(i));
        let what = format!("packet {i}");
        assert_gre_to(&out, C1_MAC, C1_IP, &client_to_fip_r_inner(i), &what);
    }
    // compute1's NIC changed: it asks for this node's address from its new MAC.
    let mut ask = vec![0xff; 6];
    ask.extend_from_slice(&C1_NEW);
    ask.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
    ask.extend_from_slice(&C1_NEW);
    ask.extend_from_slice(&C1_IP);
    ask.extend_from_slice(&[0; 6]);
    ask.extend_from_slice(&LOCAL_IP);
    let out = r.rx(UNDERLAY, &ask);
    assert_eq!(out.len(), 1, "answered: {out:02x?}");
    assert_eq!(&out[0].1[0..6], &C1_NEW);
    for i in 4..8 {
        let out = r.rx(EXT, &client_to_fip_r(i));
        let what = format!("packet {i} after the new MAC");
        assert_gre_to(&out, C1_NEW, C1_IP, &client_to_fip_r_inner(i), &what);
    }
}

/// The client's datagram number `i` to the local VM's floating IP, port 5001.
fn client_to_fip_l(i: usize) -> Vec<u8> {
    let l4 = udp(40001, 5001, &data(40 + i));
    packet(QG, UP, CLIENT, FIP_L, 64, 0x4000, 17, &l4)
}

/// [`client_to_fip_l`] as the local VM gets it.
fn client_to_fip_l_in(i: usize) -> Vec<u8> {
    let l4 = udp(40001, 5001, &data(40 + i));
    packet(L_MAC, QR, CLIENT, L_IP, 63, 0x4000, 17, &l4)
}

#[test]
fn removing_the_rule_that_let_a_flow_in_cuts_it() {
    let mut r = Rig::new(true);
    for i in 0..4 {
        let out = r.rx(EXT, &client_to_fip_l(i));
        assert_eq!(out, vec![(VM_L, client_to_fip_l_in(i))], "packet {i}");
    }
    assert_eq!(r.dp.stats.acl.new, 1);
    r.publish(|s| {
        s.acls[usize::from(VM_L)].as_mut().unwrap().ingress.clear();
    });
    assert_eq!(r.dp.stats.acl.flushed, 1);
    for i in 4..7 {
        assert!(r.rx(EXT, &client_to_fip_l(i)).is_empty(), "packet {i}");
    }
    assert_eq!(r.drops(DropReason::SgDenied), 3);
    assert_eq!(r.dp.stats.acl.denied, 3);
    assert_eq!(r.dp.stats.total_drops(), 3);
}

#[test]
fn removing_the_rule_that_let_a_flow_out_cuts_it() {
    let mut r = Rig::new(true);
    let query = |i: usize| {
        packet(
            QR,
            L_MAC,
            L_IP,
            REMOTE,
            64,
            0x4000,
            17,
            &udp(5002, 53, &data(i)),
        )
    };
    for i in 0..4 {
        let out = r.rx(VM_L, &query(i));
        let want = packet(
            UP,
            QG,
            FIP_L,
            REMOTE,
            63,
            0x4000,
            17,
            &udp(5002, 53, &data(i)),
        );
        assert_eq!(out, vec![(EXT, want)], "packet {i}");
    }
    r.publish(|s| {
        s.acls[usize::from(VM_L)].as_mut().unwrap().egress.clear();
    });
    assert_eq!(r.dp.stats.acl.flushed, 1);
    for i in 4..7 {
        assert!(r.rx(VM_L, &query(i)).is_empty(), "packet {i}");
    }
    assert_eq!(r.drops(DropReason::SgDenied), 3);
    assert_eq!(r.dp.stats.total_drops(), 3);
}

#[test]
fn removing_the_default_route_mid_flow_answers_net_unreachable() {
    let mut r = Rig::new(true);
    for i in 0..4 {
        let out = r.rx(TRUNK, &tagged(&t_out(REMOTE, i), TRUNK_VID));
        assert_eq!(out, vec![(EXT, t_out_routed(UP, REMOTE, i))], "packet {i}");
    }
    r.publish(|s| s.routers[0].retain_routes(|x| x.len != 0));
    for i in 4..6 {
        let sent = t_out(REMOTE, i);
        let out = r.rx(TRUNK, &tagged(&sent, TRUNK_VID));
        assert_eq!(out.len(), 1, "packet {i}: {out:02x?}");
        // Destination unreachable (net) from the router's address, quoting the datagram
        // as it arrived, back to the VM on its trunk tag.
        let mut err = vec![3, 0, 0, 0, 0, 0, 0, 0];
        err.extend_from_slice(&sent[14..]);
        let mut want = packet(T_MAC, QR, QR_IP, T_IP, 64, 0, 1, &err);
        want[15] = 0xc0; // TOS internetwork control
        let f = &out[0].1;
        want[18..20].copy_from_slice(&f[22..24]); // the ident is the router's choice
        want[24..26].copy_from_slice(&[0, 0]);
        let c = checksum::checksum(&want[14..34]);
        want[24..26].copy_from_slice(&c.to_be_bytes());
        assert_eq!(out, vec![(TRUNK, tagged(&want, TRUNK_VID))], "packet {i}");
    }
    assert_eq!(r.drops(DropReason::NoRoute), 2);
    assert_eq!(r.dp.stats.router.icmp_errors, 2);
}

#[test]
fn removing_a_more_specific_route_sends_the_flow_by_the_default_route() {
    let mut r = Rig::new(true);
    r.publish(|s| {
        let rt = &mut s.routers[0];
        rt.routes.push(Route {
            prefix: ip([172, 16, 5, 0]),
            len: 24,
            via: Some(ip(UP2_IP)),
            port: 1,
        });
        rt.sort_routes();
    });
    assert!(r.rx(EXT, &arp_reply(UP2, UP2_IP, QG, GW_IP)).is_empty());
    for i in 0..4 {
        let out = r.rx(TRUNK, &tagged(&t_out(BEYOND_UP2, i), TRUNK_VID));
        let want = t_out_routed(UP2, BEYOND_UP2, i);
        assert_eq!(out, vec![(EXT, want)], "packet {i} by the extra route");
    }
    r.publish(|s| s.routers[0].retain_routes(|x| x.via != Some(ip(UP2_IP))));
    for i in 4..8 {
        let out = r.rx(TRUNK, &tagged(&t_out(BEYOND_UP2, i), TRUNK_VID));
        let want = t_out_routed(UP, BEYOND_UP2, i);
        assert_eq!(out, vec![(EXT, want)], "packet {i} by the default route");
    }
    assert_eq!(r.dp.stats.total_drops(), 0);
}

#[test]
fn vms_on_a_trunk_and_on_an_access_port_get_exact_bytes_every_packet() {
    let mut r = Rig::new(true);
    for i in 0..6 {
        // The trunk VM and the server, by the gateway address.
        let out = r.rx(TRUNK, &tagged(&t_out(REMOTE, i), TRUNK_VID));
        assert_eq!(
            out,
            vec![(EXT, t_out_routed(UP, REMOTE, i))],
            "trunk out {i}"
        );
        let answer = udp(53, 5003, &data(50 + i));
        let out = r.rx(EXT, &packet(QG, UP, REMOTE, GW_IP, 57, 0, 17, &answer));
        let want = packet(T_MAC, QR, REMOTE, T_IP, 56, 0, 17, &answer);
        assert_eq!(out, vec![(TRUNK, tagged(&want, TRUNK_VID))], "trunk in {i}");
        // The filtered VM on its access port and a client, by its floating IP.
        let l4 = udp(5004, 40004, &data(60 + i));
        let out = r.rx(VM_L, &packet(QR, L_MAC, L_IP, CLIENT, 64, 0x4000, 17, &l4));
        let want = packet(UP, QG, FIP_L, CLIENT, 63, 0x4000, 17, &l4);
        assert_eq!(out, vec![(EXT, want)], "access out {i}");
        let l4 = udp(40004, 5004, &data(70 + i));
        let out = r.rx(EXT, &packet(QG, UP, CLIENT, FIP_L, 50, 0, 17, &l4));
        let want = packet(L_MAC, QR, CLIENT, L_IP, 49, 0, 17, &l4);
        assert_eq!(out, vec![(VM_L, want)], "access in {i}");
        // An echo of the trunk VM to the server, by the gateway address (id kept).
        let ping = packet(QR, T_MAC, T_IP, REMOTE, 64, 0, 1, &echo(8, 7000, i as u16));
        let out = r.rx(TRUNK, &tagged(&ping, TRUNK_VID));
        let want = packet(UP, QG, GW_IP, REMOTE, 63, 0, 1, &echo(8, 7000, i as u16));
        assert_eq!(out, vec![(EXT, want)], "trunk echo {i}");
    }
    assert_eq!(r.dp.stats.total_drops(), 0);
    assert_eq!(
        r.dp.conntrack.len(),
        4,
        "three router sessions, one of the port"
    );
}

#[test]
fn a_routed_frame_from_compute1_going_upstream_is_traced_through_its_nodes() {
    use super::trace::TraceEdge;
    use super::Node;
    let mut r = Rig::new(true);
    r.dp.trace.start(1, Some(UNDERLAY));
    let out = r.rx(UNDERLAY, &from_compute(C1_MAC, C1_IP, &r_query(0)));
    let want = packet(
        UP,
        QG,
        FIP_R,
        REMOTE,
        63,
        0x4000,
        17,
        &udp(5000, 53, &data(0)),
    );
    assert_eq!(out, vec![(EXT, want)]);
    let steps = &r.dp.trace.steps;
    let way: Vec<(Node, TraceEdge)> = steps.iter().map(|s| (s.node, s.edge)).collect();
    assert_eq!(
        way,
        [
            (Node::PortInput, TraceEdge::To(Node::UnderlayInput)),
            (Node::UnderlayInput, TraceEdge::To(Node::L2Switch)),
            (Node::L2Switch, TraceEdge::To(Node::LocalInput)),
            (Node::LocalInput, TraceEdge::To(Node::Router)),
            (Node::Router, TraceEdge::To(Node::L2Switch)),
            (Node::L2Switch, TraceEdge::To(Node::PortOutput)),
            (Node::PortOutput, TraceEdge::Done),
        ]
    );
    assert!(steps.iter().all(|s| s.packet == 1));
    let created: Vec<u8> = steps.iter().map(|s| s.sessions_created).collect();
    assert_eq!(
        created,
        [0, 0, 0, 0, 1, 0, 0],
        "the router made the session"
    );
    assert!(
        steps[4]
            .decode
            .contains("ipv4 10.0.0.9 > 8.8.8.8 ttl 64 udp 5000 > 53"),
        "decapsulated: {}",
        steps[4].decode
    );
    assert!(
        steps[5]
            .decode
            .contains("ipv4 10.1.101.82 > 8.8.8.8 ttl 63 udp 5000 > 53"),
        "after SNAT to the floating IP: {}",
        steps[5].decode
    );
    // The next frame is not traced.
    r.rx(UNDERLAY, &from_compute(C1_MAC, C1_IP, &r_query(1)));
    assert_eq!(r.dp.trace.steps.len(), 7);
}

#[test]
fn a_flow_to_an_upstream_router_not_yet_heard_from_goes_by_its_cached_egress() {
    // The upstream router is a static neighbour and has sent nothing: its MAC is in no
    // MAC table, so the first packets are flooded, to eth2 alone.
    let mut snap = snapshot(true);
    snap.routers[0].neighbours.push((ip(UP_IP), Mac(UP)));
    let mut r = Rig {
        dp: Dataplane::new(&snap, 0),
        snap,
        io: TestIo::default(),
    };
    for i in 0..6 {
        let out = r.rx(TRUNK, &tagged(&t_out(REMOTE, i), TRUNK_VID));
        assert_eq!(out, vec![(EXT, t_out_routed(UP, REMOTE, i))], "packet {i}");
    }
    // The first packet creates the session, the second records its egress; the others
    // go by it, with no flood.
    assert_eq!(r.dp.stats.flooded, 2);
    assert_eq!(r.dp.stats.router.forwarded_cached, 4);
    // The upstream router speaks: its MAC is learned behind eth2, the cached egress is
    // resolved again once, and the flow goes on, unchanged and unflooded.
    assert!(r.rx(EXT, &garp(UP, UP_IP)).is_empty());
    let flooded = r.dp.stats.flooded;
    for i in 6..10 {
        let out = r.rx(TRUNK, &tagged(&t_out(REMOTE, i), TRUNK_VID));
        assert_eq!(out, vec![(EXT, t_out_routed(UP, REMOTE, i))], "packet {i}");
    }
    assert_eq!(r.dp.stats.flooded, flooded);
    assert_eq!(r.dp.stats.router.forwarded_cached, 7);
    assert_eq!(r.dp.stats.total_drops(), 0);
}

#[test]
fn flows_beyond_the_caches_are_routed_the_same_with_their_lookups_issued_a_vector_ahead() {
    // 9,000 sessions are 18,000 keys: more than the router node forwards without warming
    // its lookups first.
    let mut r = Rig::new(true);
    r.grow_conntrack(16_384);
    let flows: Vec<u16> = (0..9000).map(|i| 1024 + i).collect();
    let out_of = |sport: u16| {
        let l4 = udp(sport, 53, &data(30));
        let inner = packet(QR, T_MAC, T_IP, REMOTE, 64, 0x4000, 17, &l4);
        let routed = packet(UP, QG, GW_IP, REMOTE, 63, 0x4000, 17, &l4);
        (tagged(&inner, TRUNK_VID), routed)
    };
    for _round in 0..2 {
        r.bursts(TRUNK, EXT, &flows, &out_of);
    }
    assert!(r.dp.conntrack.exceeds_cache());
    assert_eq!(r.dp.conntrack.len(), flows.len());
    assert_eq!(r.dp.stats.total_drops(), 0);
}

#[test]
fn flows_beyond_the_caches_cross_a_security_group_both_ways_as_before() {
    // 9,000 flows out of the filtered VM and their answers: 18,000 sessions (the port's
    // and the router's), beyond what `port-input` and `port-output` check without warming
    // their lookups first.
    let mut r = Rig::new(true);
    r.grow_conntrack(32_768);
    let flows: Vec<u16> = (0..9000).map(|i| 1024 + i).collect();
    let query = |sport: u16| {
        let l4 = udp(sport, 53, &data(20));
        let sent = packet(QR, L_MAC, L_IP, REMOTE, 64, 0x4000, 17, &l4);
        (sent, packet(UP, QG, FIP_L, REMOTE, 63, 0x4000, 17, &l4))
    };
    let answer = |sport: u16| {
        let l4 = udp(53, sport, &data(24));
        let sent = packet(QG, UP, REMOTE, FIP_L, 64, 0x4000, 17, &l4);
        (sent, packet(L_MAC, QR, REMOTE, L_IP, 63, 0x4000, 17, &l4))
    };
    r.bursts(VM_L, EXT, &flows, &query);
    r.bursts(EXT, VM_L, &flows, &answer);
    r.bursts(VM_L, EXT, &flows, &query);
    assert!(r.dp.conntrack.exceeds_cache());
    assert_eq!(r.dp.conntrack.len(), 2 * flows.len());
    assert_eq!(r.dp.stats.acl.new, flows.len() as u64);
    assert_eq!(r.dp.stats.total_drops(), 0);
}
