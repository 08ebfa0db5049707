//! DHCP stage tests: client messages in, byte-exact replies out. Every expected reply is
//! spelled out here byte by byte, independently of the emitter under test.

use crate::frame::VecFrame;
use crate::pipeline::test_frames::TestIo;
use crate::pipeline::Dataplane;
use crate::stats::DropReason;
use crate::tables::dhcp::{DhcpBinding, DhcpServer, DhcpSubnet};
use crate::tables::{
    Dest, LocalIf, LocalKind, NetConf, PeerConf, PortConf, PortIdx, PortRole, Snapshot, Underlay,
};
use crate::wire::checksum;
use crate::wire::dhcp::Route;
use crate::Mac;

const UNDERLAY: PortIdx = 0;
const VM_A: PortIdx = 1;
const VM_B: PortIdx = 2;
/// A flat network with the two local VMs.
const NET: u16 = 10;
/// tenantA-Net over GRE (key 2), its VMs behind compute1 and compute2.
const GNET: u16 = 11;

const DHCP_MAC: [u8; 6] = [0xfa, 0x16, 0x3e, 0xda, 0x41, 0x49];
const MAC_A: [u8; 6] = [0xfa, 0x16, 0x3e, 0x75, 0xe0, 0x5a];
const MAC_B: [u8; 6] = [0xfa, 0x16, 0x3e, 0x51, 0xa2, 0x97];
/// A VM behind compute1.
const MAC_R: [u8; 6] = [0xfa, 0x16, 0x3e, 0x00, 0x01, 0x31];
/// A MAC no port has.
const MAC_X: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x77];
const LOCAL_MAC: [u8; 6] = [0x52, 0x54, 0, 0, 1, 0x21];
const C1_MAC: [u8; 6] = [0x52, 0x54, 0, 0, 1, 0x31];
const LOCAL_IP: [u8; 4] = [10, 0, 1, 21];
const C1_IP: [u8; 4] = [10, 0, 1, 31];
const C2_IP: [u8; 4] = [10, 0, 1, 41];

const SERVER: [u8; 4] = [10, 0, 0, 3];
const IP_A: [u8; 4] = [10, 0, 0, 10];
const IP_R: [u8; 4] = [10, 0, 0, 31];
const ZERO: [u8; 4] = [0; 4];
const BCAST: [u8; 4] = [255; 4];
const BCAST_MAC: [u8; 6] = [0xff; 6];
const XID: u32 = 0x3903f326;

fn ip(a: [u8; 4]) -> u32 {
    u32::from_be_bytes(a)
}

/// The DHCP server of both networks: 10.0.0.0/24 from the DHCP port 10.0.0.3.
fn server(routes: Vec<Route>) -> DhcpServer {
    let mut s = DhcpServer {
        port_id: "2df7c3ed-dfbb-480d-9cd3-fdefa079e66a".into(),
        mac: Mac(DHCP_MAC),
        subnets: vec![DhcpSubnet {
            id: "c37d8ed0-372e-4b24-9ba2-897c38c6ddbf".into(),
            server_ip: ip(SERVER),
            prefix_len: 24,
            router: Some(ip([10, 0, 0, 1])),
            dns_servers: vec![ip([10, 1, 101, 254])],
            domain: "openstacklocal".into(),
            lease_secs: 86400,
            mtu: 1458,
            routes,
        }],
        ..DhcpServer::default()
    };
    for (mac, a, name) in [
        (MAC_A, IP_A, "host-10-0-0-10"),
        (MAC_B, [10, 0, 0, 9], "host-10-0-0-9"),
        (MAC_R, IP_R, "vm-remote"),
    ] {
        s.bindings.insert(
            Mac(mac),
            DhcpBinding {
                port_id: String::new(),
                ip: ip(a),
                subnet: 0,
                host_name: name.into(),
            },
        );
    }
    s
}

fn network(tag: u16, key: Option<u32>, members: Vec<(PortIdx, Option<u16>)>) -> NetConf {
    NetConf {
        id: format!("net{tag}"),
        name: format!("net{tag}"),
        local_vlan: tag,
        tunnel_key: key,
        mtu: 1458,
        members,
        locals: vec![LocalIf {
            port_id: "2df7c3ed-dfbb-480d-9cd3-fdefa079e66a".into(),
            mac: Mac(DHCP_MAC),
            ip: ip(SERVER),
            prefix_len: 24,
            kind: LocalKind::Dhcp,
        }],
    }
}

fn snapshot(routes: Vec<Route>) -> Snapshot {
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
        ],
        networks: vec![None; GNET as usize + 1],
        underlay: Some(Underlay {
            port: UNDERLAY,
            local_ip: ip(LOCAL_IP),
            prefix_len: 24,
            mac: Mac(LOCAL_MAC),
            gateway: None,
        }),
        peer_list: vec![ip(C1_IP), ip(C2_IP)],
        ..Snapshot::default()
    };
    s.networks[NET as usize] = Some(network(NET, None, vec![(VM_A, None), (VM_B, None)]));
    s.networks[GNET as usize] = Some(network(GNET, Some(2), vec![]));
    s.key_to_net.insert(2, GNET);
    for (a, name) in [(C1_IP, "gre-0a00011f"), (C2_IP, "gre-0a000129")] {
        let remote_ip = ip(a);
        let name = name.into();
        s.peers.insert(remote_ip, PeerConf { name, remote_ip });
    }
    for net in [NET, GNET] {
        s.static_macs.push((net, Mac(DHCP_MAC), Dest::Local));
        s.dhcp.insert(net, server(routes.clone()));
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
        Rig::with_routes(vec![])
    }
    fn with_routes(routes: Vec<Route>) -> Rig {
        let snap = snapshot(routes);
        let dp = Dataplane::new(&snap, 0);
        Rig {
            snap,
            dp,
            io: TestIo::default(),
        }
    }
    /// Feeds one frame at t = 5 s and returns what went out.
    fn rx(&mut self, port: PortIdx, bytes: &[u8]) -> Vec<(PortIdx, Vec<u8>)> {
        self.dp
            .rx(&self.snap, port, [VecFrame::new(bytes)], 5000, &mut self.io);
        std::mem::take(&mut self.io.sent)
    }
    fn drops(&self, r: DropReason) -> u64 {
        self.dp.stats.drops[r as usize]
    }
}

/// Ethernet / IPv4 (ident 0, DF, TTL 64 unless `ttl` differs) / UDP with checksum.
#[allow(clippy::too_many_arguments)]
fn udp_frame(
    dmac: [u8; 6],
    smac: [u8; 6],
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    ttl: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dmac);
    f.extend_from_slice(&smac);
    f.extend_from_slice(&[0x08, 0x00]);
    let udp_len = (8 + payload.len()) as u16;
    let mut iph = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, ttl, 17, 0, 0];
    iph[2..4].copy_from_slice(&(20 + udp_len).to_be_bytes());
    iph.extend_from_slice(&src);
    iph.extend_from_slice(&dst);
    let c = checksum::checksum(&iph);
    iph[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&iph);
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&udp_len.to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    // RFC 768: pseudo-header (src, dst, 0, 17, length) + datagram.
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&src);
    pseudo.extend_from_slice(&dst);
    pseudo.extend_from_slice(&[0, 17]);
    pseudo.extend_from_slice(&udp_len.to_be_bytes());
    pseudo.extend_from_slice(&u);
    let c = match checksum::checksum(&pseudo) {
        0 => 0xffff,
        c => c,
    };
    u[6..8].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&u);
    f
}

/// A BOOTP message: fixed fields, cookie, `options` (END added), zero-padded to `pad_to`.
#[allow(clippy::too_many_arguments)]
fn bootp(
    op: u8,
    flags: u16,
    ciaddr: [u8; 4],
    yiaddr: [u8; 4],
    giaddr: [u8; 4],
    chaddr: [u8; 6],
    options: &[u8],
    pad_to: usize,
) -> Vec<u8> {
    let mut m = vec![op, 1, 6, 0];
    m.extend_from_slice(&XID.to_be_bytes());
    m.extend_from_slice(&[0, 0]); // secs
    m.extend_from_slice(&flags.to_be_bytes());
    m.extend_from_slice(&ciaddr);
    m.extend_from_slice(&yiaddr);
    m.extend_from_slice(&ZERO); // siaddr
    m.extend_from_slice(&giaddr);
    m.extend_from_slice(&chaddr);
    m.resize(236, 0); // chaddr padding, sname, file
    m.extend_from_slice(&[99, 130, 83, 99]);
    m.extend_from_slice(options);
    m.push(255);
    if m.len() < pad_to {
        m.resize(pad_to, 0);
    }
    m
}

/// A client message from `mac` (also chaddr) at `src`:68 to `dst`:67.
fn client(
    dmac: [u8; 6],
    mac: [u8; 6],
    src: [u8; 4],
    dst: [u8; 4],
    flags: u16,
    ciaddr: [u8; 4],
    options: &[u8],
) -> Vec<u8> {
    let m = bootp(1, flags, ciaddr, ZERO, ZERO, mac, options, 300);
    udp_frame(dmac, mac, src, dst, 68, 67, 64, &m)
}

/// A reply of the server as it must leave: from fa:16:3e:da:41:49 / 10.0.0.3:67.
fn server_reply(dmac: [u8; 6], dst: [u8; 4], dport: u16, message: &[u8]) -> Vec<u8> {
    udp_frame(dmac, DHCP_MAC, SERVER, dst, 67, dport, 64, message)
}

const BROADCAST: u16 = 0x8000;
const SID: [u8; 6] = [54, 4, 10, 0, 0, 3];
const LEASE: [u8; 18] = [
    51, 4, 0, 1, 0x51, 0x80, // 86400 s
    58, 4, 0, 0, 0xa8, 0xc0, // T1 43200 s
    59, 4, 0, 1, 0x27, 0x50, // T2 75600 s
];
const MASK: [u8; 6] = [1, 4, 255, 255, 255, 0];
const ROUTER: [u8; 6] = [3, 4, 10, 0, 0, 1];
const DNS: [u8; 6] = [6, 4, 10, 1, 101, 254];
const MTU: [u8; 4] = [26, 2, 0x05, 0xb2]; // 1458
const PRL_ALL: [u8; 9] = [55, 7, 1, 3, 6, 12, 15, 26, 121];

fn domain() -> Vec<u8> {
    let mut v = vec![15, 14];
    v.extend_from_slice(b"openstacklocal");
    v
}

fn host(name: &str) -> Vec<u8> {
    let mut v = vec![12, name.len() as u8];
    v.extend_from_slice(name.as_bytes());
    v
}

/// `53 t`, server id, then `rest` in order.
fn opts(t: u8, rest: &[&[u8]]) -> Vec<u8> {
    let mut v = vec![53, 1, t];
    v.extend_from_slice(&SID);
    for r in rest {
        v.extend_from_slice(r);
    }
    v
}

/// The full option set of an OFFER (2) or ACK (5) to vm A.
fn full_opts(t: u8) -> Vec<u8> {
    opts(
        t,
        &[
            &LEASE,
            &MASK,
            &ROUTER,
            &DNS,
            &domain(),
            &host("host-10-0-0-10"),
            &MTU,
        ],
    )
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn discover_gets_a_broadcast_offer_with_every_option() {
    let mut r = Rig::new();
    let discover = client(
        BCAST_MAC,
        MAC_A,
        ZERO,
        BCAST,
        BROADCAST,
        ZERO,
        &cat(&[&[53, 1, 1], &PRL_ALL]),
    );
    let out = r.rx(VM_A, &discover);
    let offer = bootp(2, BROADCAST, ZERO, IP_A, ZERO, MAC_A, &full_opts(2), 300);
    let reply = server_reply(BCAST_MAC, BCAST, 68, &offer);
    // The DISCOVER is switched as any broadcast; the OFFER is broadcast on the network.
    assert_eq!(
        out,
        vec![(VM_B, discover), (VM_A, reply.clone()), (VM_B, reply)]
    );
    assert_eq!(r.dp.stats.dhcp.offers, 1);
    assert_eq!(r.dp.stats.total_drops(), 0);
    assert!(r.dp.leases.is_empty(), "an offer is no lease");
}

#[test]
fn request_selecting_gets_a_unicast_ack_and_records_the_lease() {
    let mut r = Rig::new();
    // No parameter request list: every configured option; no BROADCAST flag: unicast.
    let request = client(
        BCAST_MAC,
        MAC_A,
        ZERO,
        BCAST,
        0,
        ZERO,
        &cat(&[&[53, 1, 3], &SID, &[50, 4, 10, 0, 0, 10]]),
    );
    let out = r.rx(VM_A, &request);
    let ack = bootp(2, 0, ZERO, IP_A, ZERO, MAC_A, &full_opts(5), 300);
    assert_eq!(
        out,
        vec![(VM_B, request), (VM_A, server_reply(MAC_A, IP_A, 68, &ack))]
    );
    assert_eq!(r.dp.stats.dhcp.acks, 1);
    let lease = r.dp.leases.get(NET, Mac(MAC_A)).unwrap();
    assert_eq!(
        (lease.ip, lease.granted, lease.expires),
        (ip(IP_A), 5000, 5000 + 86_400_000)
    );
}

#[test]
fn request_for_another_server_is_ignored() {
    let mut r = Rig::new();
    let request = client(
        BCAST_MAC,
        MAC_A,
        ZERO,
        BCAST,
        0,
        ZERO,
        &[53, 1, 3, 54, 4, 10, 0, 0, 4, 50, 4, 10, 0, 0, 10],
    );
    assert_eq!(r.rx(VM_A, &request), vec![(VM_B, request)]);
    assert_eq!(r.drops(DropReason::DhcpOtherServer), 1);
}

#[test]
fn init_reboot_acks_the_binding_and_naks_another_address() {
    let mut r = Rig::new();
    let req = |a: [u8; 4]| {
        let o = cat(&[&[53, 1, 3, 50, 4], &a, &[55, 3, 1, 3, 26]]);
        client(BCAST_MAC, MAC_A, ZERO, BCAST, 0, ZERO, &o)
    };
    let out = r.rx(VM_A, &req(IP_A));
    let ack = bootp(
        2,
        0,
        ZERO,
        IP_A,
        ZERO,
        MAC_A,
        &opts(5, &[&LEASE, &MASK, &ROUTER, &MTU]),
        300,
    );
    assert_eq!(out[1], (VM_A, server_reply(MAC_A, IP_A, 68, &ack)));
    // RFC 2131 §4.3.2: a wrong address gets a NAK, broadcast, with 53 and 54 only.
    let wrong = req([10, 0, 0, 99]);
    let out = r.rx(VM_A, &wrong);
    let nak = bootp(2, 0, ZERO, ZERO, ZERO, MAC_A, &opts(6, &[]), 300);
    let nak = server_reply(BCAST_MAC, BCAST, 68, &nak);
    assert_eq!(out, vec![(VM_B, wrong), (VM_A, nak.clone()), (VM_B, nak)]);
    assert_eq!((r.dp.stats.dhcp.acks, r.dp.stats.dhcp.naks), (1, 1));
}

#[test]
fn renewing_is_answered_unicast_to_ciaddr_in_a_shorter_frame() {
    let mut r = Rig::new();
    // Unicast to the server; the request is padded to 500 bytes, the reply is not.
    let m = bootp(1, 0, IP_A, ZERO, ZERO, MAC_A, &[53, 1, 3, 55, 2, 1, 3], 500);
    let renew = udp_frame(DHCP_MAC, MAC_A, IP_A, SERVER, 68, 67, 64, &m);
    let out = r.rx(VM_A, &renew);
    let ack = bootp(
        2,
        0,
        IP_A,
        IP_A,
        ZERO,
        MAC_A,
        &opts(5, &[&LEASE, &MASK, &ROUTER, &MTU]),
        300,
    );
    assert_eq!(out, vec![(VM_A, server_reply(MAC_A, IP_A, 68, &ack))]);
    assert!(r.dp.leases.get(NET, Mac(MAC_A)).is_some());
}

#[test]
fn rebinding_is_acked_unicast_or_naked_broadcast() {
    let mut r = Rig::new();
    let rebind = |ciaddr: [u8; 4]| {
        client(
            BCAST_MAC,
            MAC_A,
            ciaddr,
            BCAST,
            0,
            ciaddr,
            &[53, 1, 3, 55, 1, 1],
        )
    };
    let out = r.rx(VM_A, &rebind(IP_A));
    let ack = bootp(
        2,
        0,
        IP_A,
        IP_A,
        ZERO,
        MAC_A,
        &opts(5, &[&LEASE, &MASK, &MTU]),
        300,
    );
    assert_eq!(out[1], (VM_A, server_reply(MAC_A, IP_A, 68, &ack)));
    let out = r.rx(VM_A, &rebind([10, 0, 0, 77]));
    let nak = bootp(2, 0, ZERO, ZERO, ZERO, MAC_A, &opts(6, &[]), 300);
    assert_eq!(out[1], (VM_A, server_reply(BCAST_MAC, BCAST, 68, &nak)));
    assert_eq!(r.dp.stats.dhcp.naks, 1);
}

#[test]
fn inform_gets_an_ack_without_lease_or_yiaddr() {
    let mut r = Rig::new();
    let m = bootp(
        1,
        0,
        IP_A,
        ZERO,
        ZERO,
        MAC_A,
        &[53, 1, 8, 55, 3, 6, 15, 12],
        300,
    );
    let inform = udp_frame(DHCP_MAC, MAC_A, IP_A, SERVER, 68, 67, 64, &m);
    let out = r.rx(VM_A, &inform);
    let ack = bootp(
        2,
        0,
        IP_A,
        ZERO,
        ZERO,
        MAC_A,
        &opts(5, &[&DNS, &domain(), &host("host-10-0-0-10"), &MTU]),
        300,
    );
    assert_eq!(out, vec![(VM_A, server_reply(MAC_A, IP_A, 68, &ack))]);
    assert_eq!((r.dp.stats.dhcp.informs, r.dp.stats.dhcp.acks), (1, 0));
    assert!(r.dp.leases.is_empty(), "INFORM grants no lease");
}

#[test]
fn release_and_decline_get_no_reply_and_forget_the_lease() {
    let mut r = Rig::new();
    let m = bootp(1, 0, IP_A, ZERO, ZERO, MAC_A, &[53, 1, 3], 300);
    r.rx(
        VM_A,
        &udp_frame(DHCP_MAC, MAC_A, IP_A, SERVER, 68, 67, 64, &m),
    );
    assert_eq!(r.dp.leases.len(), 1);
    let m = bootp(
        1,
        0,
        IP_A,
        ZERO,
        ZERO,
        MAC_A,
        &cat(&[&[53, 1, 7], &SID]),
        300,
    );
    let release = udp_frame(DHCP_MAC, MAC_A, IP_A, SERVER, 68, 67, 64, &m);
    assert!(r.rx(VM_A, &release).is_empty());
    assert!(r.dp.leases.is_empty());
    let o = cat(&[&[53, 1, 4], &SID, &[50, 4], &IP_A]);
    let decline = client(BCAST_MAC, MAC_A, ZERO, BCAST, 0, ZERO, &o);
    assert_eq!(r.rx(VM_A, &decline), vec![(VM_B, decline)]);
    let s = r.dp.stats.dhcp;
    assert_eq!((s.releases, s.declines, s.acks), (1, 1, 1));
    assert_eq!(r.dp.stats.total_drops(), 0);
}

#[test]
fn a_mac_no_port_has_gets_nothing() {
    let mut r = Rig::new();
    let discover = client(BCAST_MAC, MAC_X, ZERO, BCAST, 0, ZERO, &[53, 1, 1]);
    assert_eq!(r.rx(VM_A, &discover), vec![(VM_B, discover)]);
    assert_eq!(r.drops(DropReason::DhcpNoBinding), 1);
    assert_eq!(r.dp.stats.dhcp.offers, 0);
}

#[test]
fn server_messages_from_a_vm_are_never_processed() {
    let mut r = Rig::new();
    // A rogue OFFER broadcast by vm A (udp 67 -> 68, BOOTREPLY).
    let offer = bootp(
        2,
        BROADCAST,
        ZERO,
        [10, 0, 0, 50],
        ZERO,
        MAC_B,
        &[53, 1, 2],
        300,
    );
    let rogue = udp_frame(BCAST_MAC, MAC_A, IP_A, BCAST, 67, 68, 64, &offer);
    assert_eq!(r.rx(VM_A, &rogue), vec![(VM_B, rogue)]);
    // A BOOTREPLY to the server port, and a BOOTREQUEST carrying an ACK.
    let m = bootp(2, 0, ZERO, ZERO, ZERO, MAC_A, &[53, 1, 3], 300);
    r.rx(
        VM_A,
        &udp_frame(BCAST_MAC, MAC_A, ZERO, BCAST, 68, 67, 64, &m),
    );
    let m = bootp(1, 0, ZERO, ZERO, ZERO, MAC_A, &[53, 1, 5], 300);
    r.rx(
        VM_A,
        &udp_frame(BCAST_MAC, MAC_A, ZERO, BCAST, 68, 67, 64, &m),
    );
    assert_eq!(r.drops(DropReason::DhcpNotRequest), 3);
    assert_eq!(r.dp.stats.dhcp, Default::default());
}

#[test]
fn malformed_messages_are_counted_drops_without_reply() {
    let mut r = Rig::new();
    let send = |r: &mut Rig, m: &[u8]| {
        let f = udp_frame(DHCP_MAC, MAC_A, ZERO, BCAST, 68, 67, 64, m);
        assert!(r.rx(VM_A, &f).is_empty(), "no reply to {m:?}");
    };
    let good = bootp(1, 0, ZERO, ZERO, ZERO, MAC_A, &[53, 1, 1], 300);
    let mut no_cookie = good.clone();
    no_cookie[236] = 0;
    send(&mut r, &no_cookie);
    send(&mut r, &good[..239]); // truncated before the options
    let mut overlong = good[..240].to_vec();
    overlong.extend_from_slice(&[53, 1, 1, 12, 200, b'x']);
    send(&mut r, &overlong);
    let twice = bootp(1, 0, ZERO, ZERO, ZERO, MAC_A, &[53, 1, 1, 53, 1, 3], 300);
    send(&mut r, &twice);
    // A REQUEST naming no address at all.
    let empty = bootp(1, 0, ZERO, ZERO, ZERO, MAC_A, &[53, 1, 3], 300);
    send(&mut r, &empty);
    // Bad UDP checksum; UDP length beyond the IP payload.
    let mut f = udp_frame(DHCP_MAC, MAC_A, ZERO, BCAST, 68, 67, 64, &good);
    f[40] ^= 0x55;
    assert!(r.rx(VM_A, &f).is_empty());
    let mut f = udp_frame(DHCP_MAC, MAC_A, ZERO, BCAST, 68, 67, 64, &good);
    f[38..40].copy_from_slice(&400u16.to_be_bytes());
    assert!(r.rx(VM_A, &f).is_empty());
    assert_eq!(r.drops(DropReason::DhcpMalformed), 7);
    // Unknown message type, and plain BOOTP (no type): unsupported.
    send(
        &mut r,
        &bootp(1, 0, ZERO, ZERO, ZERO, MAC_A, &[53, 1, 42], 300),
    );
    send(&mut r, &bootp(1, 0, ZERO, ZERO, ZERO, MAC_A, &[], 300));
    assert_eq!(r.drops(DropReason::DhcpUnsupported), 2);
    // Every prefix of a valid request: no panic, no reply.
    let f = udp_frame(DHCP_MAC, MAC_A, ZERO, BCAST, 68, 67, 64, &good);
    for cut in 14..f.len() {
        r.rx(VM_A, &f[..cut]);
    }
    assert_eq!(r.dp.stats.dhcp.offers, 0);
}

#[test]
fn relayed_request_is_answered_to_the_relay_server_port() {
    let mut r = Rig::new();
    // vm B relays for vm A: giaddr 10.0.0.9, from port 67 to the server's address.
    let m = bootp(
        1,
        0,
        ZERO,
        ZERO,
        [10, 0, 0, 9],
        MAC_A,
        &[53, 1, 1, 55, 1, 1],
        300,
    );
    let relayed = udp_frame(DHCP_MAC, MAC_B, [10, 0, 0, 9], SERVER, 67, 67, 64, &m);
    let out = r.rx(VM_B, &relayed);
    let offer = bootp(
        2,
        0,
        ZERO,
        IP_A,
        [10, 0, 0, 9],
        MAC_A,
        &opts(2, &[&LEASE, &MASK, &MTU]),
        300,
    );
    assert_eq!(
        out,
        vec![(VM_B, server_reply(MAC_B, [10, 0, 0, 9], 67, &offer))]
    );
    // A NAK through a relay carries the BROADCAST flag (RFC 2131 §4.3.2).
    let m = bootp(
        1,
        0,
        ZERO,
        ZERO,
        [10, 0, 0, 9],
        MAC_A,
        &[53, 1, 3, 50, 4, 10, 0, 0, 66],
        300,
    );
    let relayed = udp_frame(DHCP_MAC, MAC_B, [10, 0, 0, 9], SERVER, 67, 67, 64, &m);
    let nak = bootp(
        2,
        BROADCAST,
        ZERO,
        ZERO,
        [10, 0, 0, 9],
        MAC_A,
        &opts(6, &[]),
        300,
    );
    assert_eq!(
        r.rx(VM_B, &relayed),
        vec![(VM_B, server_reply(MAC_B, [10, 0, 0, 9], 67, &nak))]
    );
}

#[test]
fn classless_routes_replace_the_router_option_when_requested() {
    let mut r = Rig::with_routes(vec![
        Route {
            dest: ip([192, 168, 0, 0]),
            prefix_len: 16,
            gateway: ip([10, 0, 0, 254]),
        },
        Route {
            dest: 0,
            prefix_len: 0,
            gateway: ip([10, 0, 0, 1]),
        },
    ]);
    let discover = |prl: &[u8]| {
        let o = cat(&[&[53, 1, 1, 55, prl.len() as u8], prl]);
        client(BCAST_MAC, MAC_A, ZERO, BCAST, 0, ZERO, &o)
    };
    let out = r.rx(VM_A, &discover(&[1, 3, 121]));
    // RFC 3442: 192.168/16 via 10.0.0.254, then the default route; no option 3.
    let routes: [u8; 14] = [121, 12, 16, 192, 168, 10, 0, 0, 254, 0, 10, 0, 0, 1];
    let offer = bootp(
        2,
        0,
        ZERO,
        IP_A,
        ZERO,
        MAC_A,
        &opts(2, &[&LEASE, &MASK, &MTU, &routes]),
        300,
    );
    assert_eq!(out[1], (VM_A, server_reply(MAC_A, IP_A, 68, &offer)));
    // Not requested: the router option instead.
    let out = r.rx(VM_A, &discover(&[1, 3]));
    let offer = bootp(
        2,
        0,
        ZERO,
        IP_A,
        ZERO,
        MAC_A,
        &opts(2, &[&LEASE, &MASK, &ROUTER, &MTU]),
        300,
    );
    assert_eq!(out[1], (VM_A, server_reply(MAC_A, IP_A, 68, &offer)));
}

#[test]
fn a_reply_larger_than_the_client_accepts_is_dropped() {
    let mut r = Rig::new();
    let long = "d".repeat(63);
    for s in r.snap.dhcp.values_mut() {
        s.subnets[0].domain = [&*long, &*long, &*long, &*long].join(".")[..253].to_string();
        for b in s.bindings.values_mut() {
            b.host_name = "h".repeat(63);
        }
    }
    // 240 + 3 + 6 + 18 + 6 + 6 + 6 + 255 + 65 + 4 + 1 = 610 > 548 without option 57.
    let discover = client(BCAST_MAC, MAC_A, ZERO, BCAST, 0, ZERO, &[53, 1, 1]);
    assert_eq!(r.rx(VM_A, &discover).len(), 1);
    assert_eq!(r.drops(DropReason::DhcpReplyTooBig), 1);
    // With option 57 = 1500 the same reply goes out.
    let o = [53, 1, 1, 57, 2, 0x05, 0xdc];
    let discover = client(BCAST_MAC, MAC_A, ZERO, BCAST, 0, ZERO, &o);
    let out = r.rx(VM_A, &discover);
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].1.len(), 14 + 20 + 8 + 610);
}

/// `inner` in Ethernet / IPv4 (ident, DF, TTL 64) / GRE with key 2.
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
    let mut iph = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 47, 0, 0];
    iph[2..4].copy_from_slice(&((28 + inner.len()) as u16).to_be_bytes());
    iph[4..6].copy_from_slice(&ident.to_be_bytes());
    iph.extend_from_slice(&src);
    iph.extend_from_slice(&dst);
    let c = checksum::checksum(&iph);
    iph[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&iph);
    f.extend_from_slice(&[0x20, 0x00, 0x65, 0x58, 0, 0, 0, 2]);
    f.extend_from_slice(inner);
    f
}

#[test]
fn a_request_over_gre_is_answered_back_through_the_same_peer() {
    let mut r = Rig::new();
    // compute1's MAC is resolved on the underlay.
    let arp: Vec<u8> = cat(&[
        &LOCAL_MAC,
        &C1_MAC,
        &[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 2],
        &C1_MAC,
        &C1_IP,
        &LOCAL_MAC,
        &LOCAL_IP,
    ]);
    assert!(r.rx(UNDERLAY, &arp).is_empty());
    // DISCOVER from the VM behind compute1, without BROADCAST flag.
    let discover = client(
        BCAST_MAC,
        MAC_R,
        ZERO,
        BCAST,
        0,
        ZERO,
        &[53, 1, 1, 55, 2, 1, 3],
    );
    let out = r.rx(
        UNDERLAY,
        &gre(LOCAL_MAC, C1_MAC, C1_IP, LOCAL_IP, 7, &discover),
    );
    let offer = bootp(
        2,
        0,
        ZERO,
        IP_R,
        ZERO,
        MAC_R,
        &opts(2, &[&LEASE, &MASK, &ROUTER, &MTU]),
        300,
    );
    let inner = server_reply(MAC_R, IP_R, 68, &offer);
    // Back to compute1 only: key 2, outer ident 1, from the local endpoint.
    assert_eq!(
        out,
        vec![(UNDERLAY, gre(C1_MAC, LOCAL_MAC, LOCAL_IP, C1_IP, 1, &inner))]
    );
    // REQUEST (selecting) the same way: the ACK follows it.
    let o = cat(&[&[53, 1, 3], &SID, &[50, 4], &IP_R, &[55, 1, 12]]);
    let request = client(BCAST_MAC, MAC_R, ZERO, BCAST, 0, ZERO, &o);
    let out = r.rx(
        UNDERLAY,
        &gre(LOCAL_MAC, C1_MAC, C1_IP, LOCAL_IP, 8, &request),
    );
    let ack = bootp(
        2,
        0,
        ZERO,
        IP_R,
        ZERO,
        MAC_R,
        &opts(5, &[&LEASE, &host("vm-remote"), &MTU]),
        300,
    );
    let inner = server_reply(MAC_R, IP_R, 68, &ack);
    assert_eq!(
        out,
        vec![(UNDERLAY, gre(C1_MAC, LOCAL_MAC, LOCAL_IP, C1_IP, 2, &inner))]
    );
    assert_eq!(r.dp.leases.get(GNET, Mac(MAC_R)).unwrap().ip, ip(IP_R));
    assert_eq!(r.dp.stats.gre_decap, 2);
    assert_eq!(r.dp.stats.total_drops(), 0);
}

#[test]
fn a_broadcast_reply_over_gre_floods_every_peer() {
    let mut r = Rig::new();
    let discover = client(BCAST_MAC, MAC_R, ZERO, BCAST, BROADCAST, ZERO, &[53, 1, 1]);
    let out = r.rx(
        UNDERLAY,
        &gre(LOCAL_MAC, C1_MAC, C1_IP, LOCAL_IP, 7, &discover),
    );
    // No peer is resolved: an ARP request for each, the OFFER held for both.
    assert_eq!(out.len(), 2);
    assert!(out
        .iter()
        .all(|(p, f)| *p == UNDERLAY && f[12..14] == [0x08, 0x06]));
    assert_eq!(r.dp.stats.dhcp.offers, 1);
    assert_eq!(r.dp.stats.gre_encap, 2);
}

#[test]
fn frames_that_are_not_dhcp_are_left_to_the_other_stages() {
    let mut r = Rig::new();
    // UDP to port 67 of an address that is not the server's: not the DHCP stage's.
    let m = bootp(1, 0, ZERO, ZERO, ZERO, MAC_A, &[53, 1, 1], 300);
    let f = udp_frame(DHCP_MAC, MAC_A, IP_A, [10, 0, 0, 77], 68, 67, 64, &m);
    assert!(r.rx(VM_A, &f).is_empty());
    assert_eq!(r.drops(DropReason::NotForUs), 1);
    // A broadcast to another UDP port is ignored by the local ports.
    let f = udp_frame(BCAST_MAC, MAC_A, IP_A, BCAST, 68, 69, 64, &m);
    assert_eq!(r.rx(VM_A, &f), vec![(VM_B, f.clone())]);
    assert_eq!(r.dp.stats.local_ignored, 1);
    assert_eq!(r.dp.stats.dhcp, Default::default());
}

#[test]
fn udp_frame_helper_matches_a_known_checksum() {
    // A DHCP reply header as a capture shows it: the helper's checksum must verify.
    let f = udp_frame(MAC_A, DHCP_MAC, SERVER, IP_A, 67, 68, 64, &[0u8; 4]);
    let mut pseudo = cat(&[&SERVER, &IP_A, &[0, 17, 0, 12]]);
    pseudo.extend_from_slice(&f[34..]);
    assert_eq!(checksum::fold(checksum::add(0, &pseudo)), 0xffff);
}
