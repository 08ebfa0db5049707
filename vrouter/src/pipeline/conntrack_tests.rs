//! Connection tracking across the whole pipeline: the router of `router_tests` in front of
//! a VM port with security groups (ssh in, anything out). What a drop further on leaves
//! (nothing), what a flood can take (not the established connections, not the room for new
//! ones), what a restart of the appliance keeps (mid-stream TCP, the same SNAT ports) and
//! how a refused connection is answered (an RST that gets through).

use super::router_tests::{
    ip, snapshot, EXT, FIP, GW_IP, QG, QR, QR_IP, REMOTE, UP, UP_IP, VM, VM1, VM1_IP, VM2, VM2_IP,
};
use super::test_frames::{arp_reply, packet, tcp_seg, udp, TestIo};
use super::Dataplane;
use crate::frame::VecFrame;
use crate::state::conntrack::tcp_flags::{ACK, RST, SYN};
use crate::stats::DropReason;
use crate::tables::acl::{AclRule, AllowedSource, PortAcl, Remote};
use crate::tables::{ConntrackConf, PortIdx, Snapshot};
use crate::wire::be16;
use crate::Mac;

/// Another address of vm1 (an allowed address pair), without a floating IP.
const SECOND: [u8; 4] = [10, 0, 0, 11];
/// The router's zone (router 0) and the VM port's.
const ROUTER_ZONE: u16 = 0;
const PORT_ZONE: u16 = super::zone::PORT_ZONE;

fn rule(proto: Option<u8>, ports: (u16, u16)) -> AclRule {
    AclRule {
        id: format!("{proto:?}-{ports:?}"),
        group: "g".into(),
        proto,
        ports,
        icmp_code: None,
        remote: Remote::Any,
    }
}

/// The router snapshot with the VM port filtered and the given conntrack limits.
fn filtered(capacity: usize, zone_limit: usize) -> Snapshot {
    let mut s = snapshot();
    s.conntrack = ConntrackConf {
        capacity,
        zone_limit,
    };
    let source = |a, mac| AllowedSource {
        prefix: ip(a),
        len: 32,
        mac: Mac(mac),
    };
    s.acls = vec![
        Some(PortAcl {
            port_id: "vm-port".into(),
            sources: vec![
                source(VM1_IP, VM1),
                source(VM2_IP, VM2),
                source(SECOND, VM1),
            ],
            dhcp_servers: vec![],
            ingress: vec![rule(Some(6), (22, 22))],
            egress: vec![rule(None, (0, 0))],
        }),
        None,
    ];
    s
}

struct Rig {
    snap: Snapshot,
    dp: Dataplane<VecFrame>,
    io: TestIo,
}

impl Rig {
    /// The appliance started on `snap` with its neighbours resolved.
    fn start(snap: Snapshot) -> Rig {
        let dp = Dataplane::new(&snap, 0);
        let mut r = Rig {
            snap,
            dp,
            io: TestIo::default(),
        };
        r.rx(VM, &arp_reply(VM1, VM1_IP, QR, QR_IP));
        r.rx(VM, &arp_reply(VM2, VM2_IP, QR, QR_IP));
        r.rx(VM, &arp_reply(VM1, SECOND, QR, QR_IP));
        r.rx(EXT, &arp_reply(UP, UP_IP, QG, GW_IP));
        r
    }
    fn rx(&mut self, port: PortIdx, bytes: &[u8]) -> Vec<(PortIdx, Vec<u8>)> {
        self.dp
            .rx(&self.snap, port, [VecFrame::new(bytes)], 1000, &mut self.io);
        std::mem::take(&mut self.io.sent)
    }
    fn drops(&self, r: DropReason) -> u64 {
        self.dp.stats.drops[r as usize]
    }
}

/// From upstream host `src` to the floating IP.
fn to_fip(src: [u8; 4], l4: &[u8]) -> Vec<u8> {
    packet(QG, UP, src, FIP, 64, 0, 6, l4)
}

/// From the VM with `mac`/`src` to `dst` through the router.
fn from_vm(mac: [u8; 6], src: [u8; 4], dst: [u8; 4], proto: u8, l4: &[u8]) -> Vec<u8> {
    packet(QR, mac, src, dst, 64, 0, proto, l4)
}

/// Source port of the packet in frame `f` (untagged IPv4 without options).
fn sport(f: &[u8]) -> u16 {
    be16(f, 34)
}

#[test]
fn a_syn_the_vms_group_denies_leaves_no_router_session() {
    let mut r = Rig::start(filtered(64, 32));
    let out = r.rx(
        EXT,
        &to_fip([198, 18, 0, 1], &tcp_seg(40000, 23, 1, 0, SYN, 0)),
    );
    assert!(out.is_empty());
    assert_eq!(r.drops(DropReason::SgDenied), 1);
    assert!(
        r.dp.conntrack.is_empty(),
        "the DNAT session of the denied SYN is gone"
    );
    assert_eq!(r.dp.conntrack.stats.undone, 1);
    let out = r.rx(
        EXT,
        &to_fip([198, 18, 0, 1], &tcp_seg(40000, 22, 1, 0, SYN, 0)),
    );
    assert_eq!(out.len(), 1, "an allowed port opens");
    assert_eq!(
        r.dp.conntrack.len(),
        2,
        "the router's session and the port's"
    );
}

#[test]
fn a_syn_flood_at_an_open_port_spares_established_and_new_connections() {
    let mut r = Rig::start(filtered(64, 24));
    // An established flow out through SNAT (answered: assured).
    let query = from_vm(VM1, VM1_IP, REMOTE, 17, &udp(40000, 53, b"q"));
    assert_eq!(r.rx(VM, &query).len(), 1);
    let answer = packet(QG, UP, REMOTE, GW_IP, 60, 0, 17, &udp(53, 40000, b"a"));
    assert_eq!(r.rx(EXT, &answer).len(), 1);
    // 2000 SYNs from random sources at the open ssh port of the floating IP.
    for i in 0..2000u32 {
        let src = (0xc612_0000 | i).to_be_bytes();
        let syn = to_fip(src, &tcp_seg(1024 + i as u16, 22, i, 0, SYN, 0));
        assert_eq!(r.rx(EXT, &syn).len(), 1, "each SYN reaches the VM");
        assert!(r.dp.conntrack.len() <= 64);
        assert!(r.dp.conntrack.zone_len(ROUTER_ZONE) <= 24);
        assert!(r.dp.conntrack.zone_len(PORT_ZONE) <= 24);
    }
    assert!(r.dp.conntrack.stats.early_dropped >= 2 * (2000 - 24));
    assert_eq!(r.drops(DropReason::ConntrackFull), 0);
    assert_eq!(r.drops(DropReason::ConntrackZoneFull), 0);
    // The established flow goes on, and a new one opens.
    assert_eq!(r.rx(VM, &query).len(), 1);
    assert_eq!(r.rx(EXT, &answer).len(), 1);
    let new = from_vm(VM1, VM1_IP, REMOTE, 17, &udp(40001, 53, b"q"));
    assert_eq!(r.rx(VM, &new).len(), 1);
    let back = packet(QG, UP, REMOTE, GW_IP, 60, 0, 17, &udp(53, 40001, b"a"));
    assert_eq!(r.rx(EXT, &back).len(), 1);
}

#[test]
fn a_zone_whose_sessions_are_all_answered_refuses_and_counts() {
    let mut r = Rig::start(filtered(64, 2));
    for p in [40000, 40001] {
        let q = from_vm(VM1, VM1_IP, REMOTE, 17, &udp(p, 53, b"q"));
        assert_eq!(r.rx(VM, &q).len(), 1);
        let a = packet(QG, UP, REMOTE, GW_IP, 60, 0, 17, &udp(53, p, b"a"));
        assert_eq!(r.rx(EXT, &a).len(), 1);
    }
    let q = from_vm(VM1, VM1_IP, REMOTE, 17, &udp(40002, 53, b"q"));
    assert!(r.rx(VM, &q).is_empty());
    assert_eq!(r.drops(DropReason::ConntrackZoneFull), 1);
    assert_eq!(r.dp.conntrack.stats.zone_full, 1);
    assert_eq!(r.dp.conntrack.len(), 4, "nothing of the refused flow stays");
}

#[test]
fn a_closed_port_through_snat_is_refused_with_an_rst_at_once() {
    let mut r = Rig::start(filtered(64, 32));
    let syn = from_vm(VM1, VM1_IP, REMOTE, 6, &tcp_seg(40000, 81, 700, 0, SYN, 0));
    assert_eq!(r.rx(VM, &syn).len(), 1);
    let rst = packet(
        QG,
        UP,
        REMOTE,
        GW_IP,
        60,
        0,
        6,
        &tcp_seg(81, 40000, 0, 701, RST | ACK, 0),
    );
    let out = r.rx(EXT, &rst);
    assert_eq!(out.len(), 1, "the RST reaches the VM");
    assert_eq!(&out[0].1[30..34], &VM1_IP);
    assert!(r.dp.conntrack.is_empty(), "both sessions closed");
    // Into the floating IP as well: the VM's RST/ACK for a closed (allowed) port.
    let syn = to_fip([198, 18, 0, 1], &tcp_seg(40000, 22, 5, 0, SYN, 0));
    assert_eq!(r.rx(EXT, &syn).len(), 1);
    let rst = from_vm(
        VM2,
        VM2_IP,
        [198, 18, 0, 1],
        6,
        &tcp_seg(22, 40000, 0, 6, RST | ACK, 0),
    );
    let out = r.rx(VM, &rst);
    assert_eq!(out.len(), 1);
    assert_eq!(&out[0].1[26..30], &FIP, "from the floating IP");
    assert!(r.dp.conntrack.is_empty());
    assert_eq!(r.drops(DropReason::SgInvalid), 0);
}

#[test]
fn after_a_restart_mid_stream_tcp_resumes_with_the_same_snat_ports() {
    let snap = filtered(64, 32);
    let mut before = Rig::start(snap.clone());
    // Two hosts with the same source port to the same server: the second gets another port.
    let syn1 = from_vm(VM1, VM1_IP, REMOTE, 6, &tcp_seg(40000, 80, 1, 0, SYN, 0));
    let syn2 = from_vm(VM1, SECOND, REMOTE, 6, &tcp_seg(40000, 80, 1, 0, SYN, 0));
    let p1 = sport(&before.rx(VM, &syn1)[0].1);
    let p2 = sport(&before.rx(VM, &syn2)[0].1);
    assert_eq!(p1, 40000);
    assert_ne!(p2, 40000);
    // The appliance restarts: no session survives; the hosts go on sending.
    let mut after = Rig::start(snap);
    let data1 = from_vm(
        VM1,
        VM1_IP,
        REMOTE,
        6,
        &tcp_seg(40000, 80, 5000, 900, ACK, 100),
    );
    let data2 = from_vm(
        VM1,
        SECOND,
        REMOTE,
        6,
        &tcp_seg(40000, 80, 5000, 900, ACK, 100),
    );
    let out1 = after.rx(VM, &data1);
    let out2 = after.rx(VM, &data2);
    assert_eq!((out1.len(), out2.len()), (1, 1), "picked up mid-stream");
    assert_eq!(
        (sport(&out1[0].1), sport(&out2[0].1)),
        (p1, p2),
        "the same SNAT ports"
    );
    let ack = packet(
        QG,
        UP,
        REMOTE,
        GW_IP,
        60,
        0,
        6,
        &tcp_seg(80, p2, 900, 5100, ACK, 0),
    );
    let back = after.rx(EXT, &ack);
    assert_eq!(back.len(), 1);
    assert_eq!(
        &back[0].1[30..34],
        &SECOND,
        "the reply finds the second host"
    );
    // Into the floating IP: the upstream side of an ssh session goes on too.
    let data = to_fip(UP_IP, &tcp_seg(50000, 22, 77_000, 3_000, ACK, 40));
    assert_eq!(after.rx(EXT, &data).len(), 1);
    assert_eq!(
        after.dp.conntrack.stats.picked_up, 6,
        "the router's and the port's session of each of the three"
    );
    assert_eq!(after.drops(DropReason::SgInvalid), 0);
}
