//! Router stage tests: bytes in, verdict and bytes out. Expected frames are built here from
//! scratch (checksums computed in full), so they also check the incremental updates.

use super::test_frames::{arp_reply, echo, packet, tcp, udp, TestIo};
use super::Dataplane;
use crate::frame::VecFrame;
use crate::stats::DropReason;
use crate::tables::router::{Route, RouterConf, RouterPort};
use crate::tables::{
    ConntrackConf, Dest, LocalIf, LocalKind, NetConf, PortConf, PortIdx, PortRole, Snapshot,
};
use crate::wire::checksum;
use crate::Mac;

pub(super) const VM: PortIdx = 0;
pub(super) const EXT: PortIdx = 1;
pub(super) const TENANT: u16 = 10;
pub(super) const EXTNET: u16 = 11;
pub(super) const QR: [u8; 6] = [0xfa, 0x16, 0x3e, 0xf7, 0xe6, 0x9c];
pub(super) const QG: [u8; 6] = [0xfa, 0x16, 0x3e, 0x78, 0x39, 0xe9];
pub(super) const VM1: [u8; 6] = [0xfa, 0x16, 0x3e, 0x75, 0xe0, 0x5a];
pub(super) const VM2: [u8; 6] = [0xfa, 0x16, 0x3e, 0x51, 0xa2, 0x97];
pub(super) const UP: [u8; 6] = [0x52, 0x54, 0x00, 0x01, 0x01, 0xfe];
pub(super) const VM1_IP: [u8; 4] = [10, 0, 0, 10];
pub(super) const VM2_IP: [u8; 4] = [10, 0, 0, 9];
pub(super) const QR_IP: [u8; 4] = [10, 0, 0, 1];
pub(super) const GW_IP: [u8; 4] = [10, 1, 101, 80];
pub(super) const FIP: [u8; 4] = [10, 1, 101, 82];
pub(super) const UP_IP: [u8; 4] = [10, 1, 101, 254];
pub(super) const REMOTE: [u8; 4] = [8, 8, 8, 8];

pub(super) fn ip(a: [u8; 4]) -> u32 {
    u32::from_be_bytes(a)
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

fn net(tag: u16, mtu: u16, port: PortIdx, locals: Vec<LocalIf>) -> NetConf {
    NetConf {
        id: format!("net{tag}"),
        name: format!("net{tag}"),
        local_vlan: tag,
        tunnel_key: None,
        mtu,
        members: vec![(port, None)],
        locals,
    }
}

pub(super) fn snapshot() -> Snapshot {
    let mut s = Snapshot {
        ports: vec![
            PortConf {
                name: "tapd7233b80-9d".into(),
                role: PortRole::Access { net: TENANT },
            },
            PortConf {
                name: "eth2".into(),
                role: PortRole::Access { net: EXTNET },
            },
        ],
        networks: vec![None; 12],
        static_macs: vec![
            (TENANT, Mac(QR), Dest::Local),
            (EXTNET, Mac(QG), Dest::Local),
        ],
        conntrack: ConntrackConf {
            capacity: 16,
            zone_limit: usize::MAX,
        },
        ..Snapshot::default()
    };
    s.networks[TENANT as usize] = Some(net(TENANT, 1458, VM, vec![local("qr", QR, QR_IP)]));
    s.networks[EXTNET as usize] = Some(net(
        EXTNET,
        1500,
        EXT,
        vec![local("qg", QG, GW_IP), local("fip", QG, FIP)],
    ));
    let mut r = tenant_router();
    r.fixed_of.insert(ip(FIP), ip(VM2_IP));
    r.floating_of.insert(ip(VM2_IP), ip(FIP));
    s.routers.push(r);
    s
}

/// tenant-R1 without floating IPs: qr- on tenantA-Net, qg- on Ext-Net with SNAT to the
/// gateway address, the connected routes and the default route via the upstream gateway.
pub(super) fn tenant_router() -> RouterConf {
    let port = |net, mac, a, mtu, external| RouterPort {
        port_id: String::new(),
        net,
        mac: Mac(mac),
        ip: ip(a),
        prefix_len: 24,
        mtu,
        external,
    };
    let mut r = RouterConf {
        id: "680944ad-679c-4fe8-ae4b-258cd8ac337f".into(),
        name: "tenant-R1".into(),
        ports: vec![
            port(TENANT, QR, QR_IP, 1458, false),
            port(EXTNET, QG, GW_IP, 1500, true),
        ],
        routes: vec![
            Route {
                prefix: ip([10, 0, 0, 0]),
                len: 24,
                via: None,
                port: 0,
            },
            Route {
                prefix: ip([10, 1, 101, 0]),
                len: 24,
                via: None,
                port: 1,
            },
            Route {
                prefix: 0,
                len: 0,
                via: Some(ip(UP_IP)),
                port: 1,
            },
        ],
        snat_ip: Some(ip(GW_IP)),
        ..RouterConf::default()
    };
    r.sort_routes();
    r
}

struct Rig {
    snap: Snapshot,
    dp: Dataplane<VecFrame>,
    io: TestIo,
}

impl Rig {
    /// A router whose neighbours (the two VMs and the upstream gateway) are resolved.
    fn new() -> Rig {
        let snap = snapshot();
        let dp = Dataplane::new(&snap, 0);
        let mut r = Rig {
            snap,
            dp,
            io: TestIo::default(),
        };
        r.rx(VM, &arp_reply(VM1, VM1_IP, QR, QR_IP));
        r.rx(VM, &arp_reply(VM2, VM2_IP, QR, QR_IP));
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

#[test]
fn snat_to_gateway_address_and_back() {
    let mut r = Rig::new();
    let out = r.rx(
        VM,
        &packet(
            QR,
            VM1,
            VM1_IP,
            REMOTE,
            64,
            0x4000,
            17,
            &udp(5000, 53, b"q"),
        ),
    );
    let want = packet(UP, QG, GW_IP, REMOTE, 63, 0x4000, 17, &udp(5000, 53, b"q"));
    assert_eq!(out, vec![(EXT, want)]);
    let out = r.rx(
        EXT,
        &packet(QG, UP, REMOTE, GW_IP, 60, 0, 17, &udp(53, 5000, b"answer")),
    );
    let want = packet(
        VM1,
        QR,
        REMOTE,
        VM1_IP,
        59,
        0,
        17,
        &udp(53, 5000, b"answer"),
    );
    assert_eq!(out, vec![(VM, want)]);
    assert_eq!(r.dp.conntrack.len(), 1);
}

#[test]
fn snat_allocates_another_port_when_the_first_is_taken() {
    let mut r = Rig::new();
    r.rx(
        VM,
        &packet(QR, VM1, VM1_IP, REMOTE, 64, 0, 17, &udp(5000, 53, b"")),
    );
    // A second host with the same source port to the same server: another port.
    let second = [10, 0, 0, 11];
    let out = r.rx(
        VM,
        &packet(QR, VM1, second, REMOTE, 64, 0, 17, &udp(5000, 53, b"")),
    );
    let d = &out[0].1;
    let sport = u16::from_be_bytes([d[34], d[35]]);
    assert_ne!(sport, 5000);
    assert!(sport >= 1024);
    assert_eq!(
        d,
        &packet(UP, QG, GW_IP, REMOTE, 63, 0, 17, &udp(sport, 53, b""))
    );
}

#[test]
fn floating_ip_translates_both_ways_tcp() {
    let mut r = Rig::new();
    let out = r.rx(
        EXT,
        &packet(
            QG,
            UP,
            [198, 18, 0, 1],
            FIP,
            64,
            0x4000,
            6,
            &tcp(40000, 22, 0x02),
        ),
    );
    let want = packet(
        VM2,
        QR,
        [198, 18, 0, 1],
        VM2_IP,
        63,
        0x4000,
        6,
        &tcp(40000, 22, 0x02),
    );
    assert_eq!(out, vec![(VM, want)]);
    let out = r.rx(
        VM,
        &packet(
            QR,
            VM2,
            VM2_IP,
            [198, 18, 0, 1],
            64,
            0x4000,
            6,
            &tcp(22, 40000, 0x12),
        ),
    );
    let want = packet(
        UP,
        QG,
        FIP,
        [198, 18, 0, 1],
        63,
        0x4000,
        6,
        &tcp(22, 40000, 0x12),
    );
    assert_eq!(out, vec![(EXT, want)]);
}

#[test]
fn floating_ip_is_the_source_of_its_vm_and_icmp_echo_ids_are_kept() {
    let mut r = Rig::new();
    let out = r.rx(
        VM,
        &packet(QR, VM2, VM2_IP, UP_IP, 64, 0, 1, &echo(8, 77, 1)),
    );
    assert_eq!(
        out,
        vec![(EXT, packet(UP, QG, FIP, UP_IP, 63, 0, 1, &echo(8, 77, 1)))]
    );
    let out = r.rx(EXT, &packet(QG, UP, UP_IP, FIP, 64, 0, 1, &echo(0, 77, 1)));
    assert_eq!(
        out,
        vec![(
            VM,
            packet(VM2, QR, UP_IP, VM2_IP, 63, 0, 1, &echo(0, 77, 1))
        )]
    );
}

#[test]
fn hairpin_to_a_neighbours_floating_ip() {
    let mut r = Rig::new();
    let out = r.rx(
        VM,
        &packet(QR, VM1, VM1_IP, FIP, 64, 0, 17, &udp(6000, 7, b"x")),
    );
    let want = packet(VM2, QR, GW_IP, VM2_IP, 63, 0, 17, &udp(6000, 7, b"x"));
    assert_eq!(out, vec![(VM, want)]);
    let out = r.rx(
        VM,
        &packet(QR, VM2, VM2_IP, GW_IP, 64, 0, 17, &udp(7, 6000, b"y")),
    );
    let want = packet(VM1, QR, FIP, VM1_IP, 63, 0, 17, &udp(7, 6000, b"y"));
    assert_eq!(out, vec![(VM, want)]);
}

#[test]
fn ttl_expiry_sends_time_exceeded_quoting_the_packet() {
    let mut r = Rig::new();
    let orig = packet(QR, VM1, VM1_IP, REMOTE, 1, 0, 17, &udp(33434, 33434, b""));
    let out = r.rx(VM, &orig);
    let mut quoted = vec![11, 0, 0, 0, 0, 0, 0, 0];
    quoted.extend_from_slice(&orig[14..]);
    let mut want = packet(VM1, QR, QR_IP, VM1_IP, 64, 0, 1, &quoted);
    want[15] = 0xc0; // TOS internetwork control
    want[18..20].copy_from_slice(&[0, 1]); // ident: the worker's first
    let c = checksum::checksum(&{
        let mut h = want[14..34].to_vec();
        h[10..12].copy_from_slice(&[0, 0]);
        h
    });
    want[24..26].copy_from_slice(&c.to_be_bytes());
    assert_eq!(out, vec![(VM, want)]);
    assert_eq!(r.drops(DropReason::TtlExceeded), 1);
    assert_eq!(r.dp.conntrack.len(), 0, "no session for a dropped packet");
}

#[test]
fn no_route_sends_net_unreachable() {
    let mut r = Rig::new();
    r.snap.routers[0].retain_routes(|x| x.len != 0);
    let out = r.rx(
        VM,
        &packet(QR, VM1, VM1_IP, REMOTE, 64, 0, 17, &udp(1, 2, b"")),
    );
    let d = &out[0].1;
    assert_eq!((out[0].0, d[34], d[35]), (VM, 3, 0));
    assert_eq!(r.drops(DropReason::NoRoute), 1);
}

#[test]
fn df_packet_over_the_tenant_mtu_gets_frag_needed_1458() {
    let mut r = Rig::new();
    let big = packet(QG, UP, UP_IP, FIP, 64, 0x4000, 1, &{
        let mut e = echo(8, 1, 1);
        e.resize(1480, 0);
        e
    });
    let out = r.rx(EXT, &big);
    let d = &out[0].1;
    assert_eq!(out[0].0, EXT);
    assert_eq!(&d[0..6], &UP);
    assert_eq!(&d[26..30], &GW_IP, "from the gateway address");
    assert_eq!((d[34], d[35]), (3, 4));
    assert_eq!(u16::from_be_bytes([d[40], d[41]]), 1458);
    assert_eq!(checksum::checksum(&d[34..]), 0);
    assert_eq!(r.drops(DropReason::FragNeeded), 1);
}

#[test]
fn packet_over_the_mtu_without_df_is_fragmented() {
    let mut r = Rig::new();
    let data = vec![7u8; 1472];
    let out = r.rx(
        EXT,
        &packet(QG, UP, UP_IP, FIP, 64, 0, 17, &udp(9, 9, &data)),
    );
    assert_eq!(out.len(), 2);
    let (a, b) = (&out[0].1, &out[1].1);
    assert_eq!(u16::from_be_bytes([a[16], a[17]]), 20 + 1432);
    assert_eq!(u16::from_be_bytes([a[20], a[21]]), 0x2000, "MF, offset 0");
    assert_eq!(u16::from_be_bytes([b[16], b[17]]), 20 + 1480 - 1432);
    assert_eq!(u16::from_be_bytes([b[20], b[21]]), 1432 / 8);
    for f in [a, b] {
        assert_eq!(checksum::checksum(&f[14..34]), 0);
        assert_eq!(&f[30..34], &VM2_IP);
    }
    assert_eq!(r.dp.stats.router.fragments, 2);
}

#[test]
fn full_table_refuses_new_connections() {
    let mut r = Rig::new();
    r.snap.conntrack.capacity = 1;
    r.dp.apply(&r.snap, 0);
    assert_eq!(
        r.rx(
            VM,
            &packet(QR, VM1, VM1_IP, REMOTE, 64, 0, 17, &udp(40000, 53, b""))
        )
        .len(),
        1
    );
    // Answered: the session is assured and may not be dropped early for a new one.
    let reply = packet(QG, UP, REMOTE, GW_IP, 64, 0, 17, &udp(53, 40000, b""));
    assert_eq!(r.rx(EXT, &reply).len(), 1);
    assert!(r
        .rx(
            VM,
            &packet(QR, VM1, VM1_IP, REMOTE, 64, 0, 17, &udp(3, 4, b""))
        )
        .is_empty());
    assert_eq!(r.drops(DropReason::ConntrackFull), 1);
    assert_eq!(r.dp.conntrack.stats.full, 1);
}

#[test]
fn icmp_error_about_a_snat_flow_is_translated_back() {
    let mut r = Rig::new();
    r.rx(
        VM,
        &packet(QR, VM1, VM1_IP, REMOTE, 64, 0, 17, &udp(5000, 53, b"q")),
    );
    // The server answers port unreachable about the translated datagram.
    let sent = packet(UP, QG, GW_IP, REMOTE, 63, 0, 17, &udp(5000, 53, b"q"));
    let mut err = vec![3, 3, 0, 0, 0, 0, 0, 0];
    err.extend_from_slice(&sent[14..]);
    let out = r.rx(EXT, &packet(QG, UP, REMOTE, GW_IP, 64, 0, 1, &err));
    let orig = packet(QR, VM1, VM1_IP, REMOTE, 63, 0, 17, &udp(5000, 53, b"q"));
    let mut want_err = vec![3, 3, 0, 0, 0, 0, 0, 0];
    want_err.extend_from_slice(&orig[14..]);
    assert_eq!(
        out,
        vec![(VM, packet(VM1, QR, REMOTE, VM1_IP, 63, 0, 1, &want_err))]
    );
    assert_eq!(r.dp.stats.router.icmp_errors_translated, 1);
}

#[test]
fn router_answers_echo_and_refuses_udp_with_port_unreachable() {
    let mut r = Rig::new();
    let out = r.rx(
        VM,
        &packet(QR, VM1, VM1_IP, QR_IP, 64, 0, 1, &echo(8, 5, 9)),
    );
    assert_eq!(
        out,
        vec![(VM, packet(VM1, QR, QR_IP, VM1_IP, 64, 0, 1, &echo(0, 5, 9)))]
    );
    let out = r.rx(
        VM,
        &packet(QR, VM1, VM1_IP, QR_IP, 64, 0, 17, &udp(4, 33434, b"")),
    );
    assert_eq!((out[0].1[34], out[0].1[35]), (3, 3));
    assert_eq!(r.drops(DropReason::ToRouter), 1);
}

#[test]
fn unresolved_next_hop_is_asked_for_and_the_packet_held() {
    let snap = snapshot();
    let mut r = Rig {
        dp: Dataplane::new(&snap, 0),
        snap,
        io: TestIo::default(),
    };
    let p = packet(QR, VM1, VM1_IP, REMOTE, 64, 0, 17, &udp(5000, 53, b"q"));
    let out = r.rx(VM, &p);
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].0, &out[0].1[0..6], &out[0].1[38..42]),
        (EXT, &[0xff; 6][..], &UP_IP[..])
    );
    let out = r.rx(EXT, &arp_reply(UP, UP_IP, QG, GW_IP));
    assert_eq!(
        out,
        vec![(
            EXT,
            packet(UP, QG, GW_IP, REMOTE, 63, 0, 17, &udp(5000, 53, b"q"))
        )]
    );
}

#[test]
fn gratuitous_arp_announces_router_and_floating_addresses_once() {
    let mut r = Rig::new();
    r.dp.tick(&r.snap, 1000, &mut r.io);
    let garps: Vec<_> = std::mem::take(&mut r.io.sent);
    assert_eq!(garps.len(), 3, "qr, qg and the floating IP");
    assert!(garps
        .iter()
        .all(|(_, f)| f[0..6] == [0xff; 6] && f[28..32] == f[38..42]));
    r.dp.tick(&r.snap, 2000, &mut r.io);
    assert!(r.io.sent.is_empty());
}

#[test]
fn a_traced_packet_shows_its_nodes_and_its_translation() {
    use super::trace::TraceEdge;
    use super::Node;
    let mut r = Rig::new();
    r.dp.trace.start(1, Some(VM));
    let first = packet(
        QR,
        VM1,
        VM1_IP,
        REMOTE,
        64,
        0x4000,
        17,
        &udp(5000, 53, b"q"),
    );
    r.rx(
        EXT,
        &packet(QG, UP, REMOTE, GW_IP, 60, 0, 17, &udp(53, 9, b"x")),
    );
    r.rx(VM, &first);
    r.rx(VM, &first);
    let steps = &r.dp.trace.steps;
    let way: Vec<(Node, TraceEdge)> = steps.iter().map(|s| (s.node, s.edge)).collect();
    assert_eq!(
        way,
        [
            (Node::PortInput, TraceEdge::To(Node::L2Switch)),
            (Node::L2Switch, TraceEdge::To(Node::LocalInput)),
            (Node::LocalInput, TraceEdge::To(Node::Router)),
            (Node::Router, TraceEdge::To(Node::L2Switch)),
            (Node::L2Switch, TraceEdge::To(Node::PortOutput)),
            (Node::PortOutput, TraceEdge::Done),
        ],
        "only the next frame from the VM's device is traced"
    );
    assert!(steps.iter().all(|s| s.packet == 1));
    assert_eq!(
        steps[3].sessions_created, 1,
        "the router made the SNAT session"
    );
    assert!(steps[3]
        .decode
        .contains("ipv4 10.0.0.10 > 8.8.8.8 ttl 64 udp 5000 > 53"));
    assert!(
        steps[4]
            .decode
            .contains("ipv4 10.1.101.80 > 8.8.8.8 ttl 63 udp 5000 > 53"),
        "after SNAT: {}",
        steps[4].decode
    );
}

#[test]
fn established_flows_take_the_cached_egress_with_the_slow_paths_bytes() {
    let mut r = Rig::new();
    let out_frame = packet(
        QR,
        VM1,
        VM1_IP,
        REMOTE,
        64,
        0x4000,
        17,
        &udp(5000, 53, b"q"),
    );
    let out_want = packet(UP, QG, GW_IP, REMOTE, 63, 0x4000, 17, &udp(5000, 53, b"q"));
    let back_frame = packet(QG, UP, REMOTE, GW_IP, 60, 0, 17, &udp(53, 5000, b"a"));
    let back_want = packet(VM1, QR, REMOTE, VM1_IP, 59, 0, 17, &udp(53, 5000, b"a"));
    for _ in 0..6 {
        assert_eq!(r.rx(VM, &out_frame), vec![(EXT, out_want.clone())]);
    }
    for _ in 0..6 {
        assert_eq!(r.rx(EXT, &back_frame), vec![(VM, back_want.clone())]);
    }
    // Out: the first packet creates the session, the second resolves its egress, four
    // take it; back: the first resolves, five take it.
    assert_eq!(r.dp.stats.router.forwarded, 12);
    assert_eq!(r.dp.stats.router.forwarded_cached, 9);
    // The upstream gateway's MAC changes: the next packet goes to the new MAC.
    const UP2: [u8; 6] = [0x52, 0x54, 0x00, 0x01, 0x02, 0xfe];
    r.rx(EXT, &arp_reply(UP2, UP_IP, QG, GW_IP));
    let moved = packet(UP2, QG, GW_IP, REMOTE, 63, 0x4000, 17, &udp(5000, 53, b"q"));
    for _ in 0..3 {
        assert_eq!(r.rx(VM, &out_frame), vec![(EXT, moved.clone())]);
    }
    assert_eq!(r.dp.stats.router.forwarded_cached, 11);
}
