//! Security group stage tests: every rule kind, every connection state, each
//! anti-spoofing case, on two VM ports of one network (vm2 filtered, vm1 not).

use super::test_frames::{echo, packet, tcp, tcp_seg, udp, TestIo};
use super::Dataplane;
use crate::frame::VecFrame;
use crate::state::conntrack::tcp_flags::{ACK, FIN, PSH, RST, SYN};
use crate::state::conntrack::TcpState;
use crate::stats::DropReason;
use crate::tables::acl::{AclRule, AllowedSource, PortAcl, Remote};
use crate::tables::{Dest, NetConf, PortConf, PortIdx, PortRole, Snapshot};
use crate::Mac;

const VM2: PortIdx = 0;
const VM1: PortIdx = 1;
const NET: u16 = 10;
const M1: [u8; 6] = [0xfa, 0x16, 0x3e, 0x75, 0xe0, 0x5a];
const M2: [u8; 6] = [0xfa, 0x16, 0x3e, 0x51, 0xa2, 0x97];
const IP1: [u8; 4] = [10, 0, 0, 10];
const IP2: [u8; 4] = [10, 0, 0, 9];
const DHCP: [u8; 4] = [10, 0, 0, 3];

fn ip(a: [u8; 4]) -> u32 {
    u32::from_be_bytes(a)
}

fn rule(id: &str, proto: Option<u8>, ports: (u16, u16), remote: Remote) -> AclRule {
    AclRule {
        id: id.into(),
        group: "8bd8fb6b".into(),
        proto,
        ports,
        icmp_code: None,
        remote,
    }
}

/// vm2's firewall: ssh from anywhere, udp 5000-5010 from 10.1.0.0/16, any from the group
/// (only vm2 itself and 10.0.0.77 are members), echo requests; egress udp only.
fn acl() -> PortAcl {
    PortAcl {
        port_id: "1653ec91-ad7d-40d9-b777-f74aec697026".into(),
        sources: vec![
            AllowedSource {
                prefix: ip(IP2),
                len: 32,
                mac: Mac(M2),
            },
            AllowedSource {
                prefix: ip([10, 0, 0, 128]),
                len: 25,
                mac: Mac(M2),
            },
        ],
        dhcp_servers: vec![ip(DHCP)],
        ingress: vec![
            rule("ssh", Some(6), (22, 22), Remote::Any),
            rule(
                "udp",
                Some(17),
                (5000, 5010),
                Remote::Prefix(ip([10, 1, 0, 0]), 16),
            ),
            rule(
                "group",
                None,
                (0, 0),
                Remote::Members(vec![ip(IP2), ip([10, 0, 0, 77])]),
            ),
            AclRule {
                icmp_code: Some(0),
                ..rule("echo", Some(1), (8, 8), Remote::Any)
            },
        ],
        egress: vec![rule("udp-out", Some(17), (0, 65535), Remote::Any)],
    }
}

fn snapshot(acl: Option<PortAcl>) -> Snapshot {
    let mut s = Snapshot {
        ports: vec![
            PortConf {
                name: "tap1653ec91-ad".into(),
                role: PortRole::Access { net: NET },
            },
            PortConf {
                name: "tapd7233b80-9d".into(),
                role: PortRole::Access { net: NET },
            },
        ],
        networks: vec![None; NET as usize + 1],
        static_macs: vec![
            (NET, Mac(M2), Dest::Port(VM2)),
            (NET, Mac(M1), Dest::Port(VM1)),
        ],
        acls: vec![acl, None],
        ..Snapshot::default()
    };
    s.networks[NET as usize] = Some(NetConf {
        id: "7c22bbd9".into(),
        name: "tenantA-Net".into(),
        local_vlan: NET,
        tunnel_key: None,
        mtu: 1458,
        members: vec![(VM2, None), (VM1, None)],
        locals: vec![],
    });
    s
}

struct Rig {
    snap: Snapshot,
    dp: Dataplane<VecFrame>,
}

impl Rig {
    fn new() -> Rig {
        let snap = snapshot(Some(acl()));
        Rig {
            dp: Dataplane::new(&snap, 0),
            snap,
        }
    }
    /// True if the frame got through to the other VM.
    fn pass(&mut self, port: PortIdx, f: &[u8]) -> bool {
        let mut io = TestIo::default();
        self.dp.rx(&self.snap, port, [VecFrame::new(f)], 1, &mut io);
        !io.sent.is_empty()
    }
    fn drops(&self, r: DropReason) -> u64 {
        self.dp.stats.drops[r as usize]
    }
}

/// vm1 → vm2.
fn to_vm2(src: [u8; 4], proto: u8, l4: &[u8]) -> Vec<u8> {
    packet(M2, M1, src, IP2, 64, 0, proto, l4)
}

/// vm2 → vm1, from vm2's MAC and `src`.
fn from_vm2(src: [u8; 4], proto: u8, l4: &[u8]) -> Vec<u8> {
    packet(M1, M2, src, IP1, 64, 0, proto, l4)
}

#[test]
fn new_connections_need_a_rule_and_count_it() {
    let mut r = Rig::new();
    assert!(r.pass(VM1, &to_vm2(IP1, 6, &tcp(40000, 22, SYN))));
    assert!(!r.pass(VM1, &to_vm2(IP1, 6, &tcp(40001, 23, SYN))));
    assert_eq!(r.drops(DropReason::SgDenied), 1);
    assert_eq!(r.dp.acl_hits[VM2 as usize].0[0], (1, 40));
    assert_eq!(r.dp.stats.acl.new, 1);
}

#[test]
fn established_replies_pass_without_rules_both_ways() {
    let mut r = Rig::new();
    // vm2 has no tcp egress rule: its SYN-ACK passes as ESTABLISHED.
    assert!(r.pass(VM1, &to_vm2(IP1, 6, &tcp_seg(40000, 22, 100, 0, SYN, 0))));
    assert!(r.pass(
        VM2,
        &from_vm2(IP2, 6, &tcp_seg(22, 40000, 900, 101, SYN | ACK, 0))
    ));
    assert!(r.pass(VM1, &to_vm2(IP1, 6, &tcp_seg(40000, 22, 101, 901, ACK, 10))));
    assert!(r.pass(
        VM2,
        &from_vm2(IP2, 6, &tcp_seg(22, 40000, 901, 111, ACK, 5))
    ));
    assert_eq!(r.dp.stats.acl.established, 3);
    // A new TCP connection from vm2 has no egress rule.
    assert!(!r.pass(VM2, &from_vm2(IP2, 6, &tcp(50000, 80, SYN))));
    // The reply to a UDP flow vm2 opened comes back with no ingress rule for it.
    assert!(r.pass(VM2, &from_vm2(IP2, 17, &udp(7000, 53, b"q"))));
    assert!(r.pass(VM1, &to_vm2(IP1, 17, &udp(53, 7000, b"a"))));
}

#[test]
fn invalid_tcp_is_dropped() {
    let mut r = Rig::new();
    // An RST or a FIN never starts a session (Linux: INVALID in state NONE), nor does a
    // bad flag combination.
    assert!(!r.pass(VM1, &to_vm2(IP1, 6, &tcp(40000, 22, RST))));
    assert!(!r.pass(VM1, &to_vm2(IP1, 6, &tcp(40000, 22, FIN | ACK))));
    assert!(!r.pass(VM1, &to_vm2(IP1, 6, &tcp(40000, 22, SYN | FIN))));
    // Out of window: data far beyond what vm2 advertised.
    assert!(r.pass(VM1, &to_vm2(IP1, 6, &tcp_seg(40000, 22, 100, 0, SYN, 0))));
    assert!(r.pass(
        VM2,
        &from_vm2(IP2, 6, &tcp_seg(22, 40000, 900, 101, SYN | ACK, 0))
    ));
    assert!(!r.pass(
        VM1,
        &to_vm2(IP1, 6, &tcp_seg(40000, 22, 101 + 10_000_000, 901, ACK, 10))
    ));
    assert_eq!(r.drops(DropReason::SgInvalid), 4);
    assert_eq!(r.dp.stats.acl.invalid, 4);
}

#[test]
fn rst_answering_a_syn_reaches_the_client_and_ends_the_session() {
    let mut r = Rig::new();
    // vm1 → vm2 port 22, nothing listens: vm2 answers RST/ACK (RFC 9293 §3.5.2).
    assert!(r.pass(VM1, &to_vm2(IP1, 6, &tcp_seg(40000, 22, 100, 0, SYN, 0))));
    let wrong = from_vm2(IP2, 6, &tcp_seg(22, 40000, 0, 555, RST | ACK, 0));
    assert!(
        !r.pass(VM2, &wrong),
        "an RST/ACK for another SYN is INVALID"
    );
    let refused = from_vm2(IP2, 6, &tcp_seg(22, 40000, 0, 101, RST | ACK, 0));
    assert!(
        r.pass(VM2, &refused),
        "the client learns: connection refused"
    );
    assert!(
        r.dp.conntrack.is_empty(),
        "the only answer was an RST: gone"
    );
    // The client tries again at once: a NEW connection.
    assert!(r.pass(VM1, &to_vm2(IP1, 6, &tcp_seg(40000, 22, 900, 0, SYN, 0))));
    assert_eq!(r.dp.stats.acl.new, 2);
}

#[test]
fn in_window_rst_ends_an_established_connection() {
    let mut r = Rig::new();
    handshake(&mut r, 40000);
    let far = to_vm2(IP1, 6, &tcp_seg(40000, 22, 800_000_000, 0, RST, 0));
    assert!(!r.pass(VM1, &far), "far out of window");
    assert!(r.pass(VM1, &to_vm2(IP1, 6, &tcp_seg(40000, 22, 101, 0, RST, 0))));
    let s = r.dp.conntrack.iter().next().unwrap().1;
    assert_eq!(s.tcp, TcpState::Closed);
}

/// vm1 → vm2 port 22 through the handshake: vm1 seq 101 on, vm2 seq 901 on.
fn handshake(r: &mut Rig, sport: u16) {
    assert!(r.pass(VM1, &to_vm2(IP1, 6, &tcp_seg(sport, 22, 100, 0, SYN, 0))));
    let syn_ack = from_vm2(IP2, 6, &tcp_seg(22, sport, 900, 101, SYN | ACK, 0));
    assert!(r.pass(VM2, &syn_ack));
    assert!(r.pass(VM1, &to_vm2(IP1, 6, &tcp_seg(sport, 22, 101, 901, ACK, 0))));
}

#[test]
fn a_syn_reopens_the_tuple_of_a_closed_connection() {
    let mut r = Rig::new();
    handshake(&mut r, 40000);
    // vm2 (the server) closes first, vm1 closes too: TIME_WAIT.
    assert!(r.pass(
        VM2,
        &from_vm2(IP2, 6, &tcp_seg(22, 40000, 901, 101, FIN | ACK, 0))
    ));
    assert!(r.pass(
        VM1,
        &to_vm2(IP1, 6, &tcp_seg(40000, 22, 101, 902, FIN | ACK, 0))
    ));
    assert!(r.pass(
        VM2,
        &from_vm2(IP2, 6, &tcp_seg(22, 40000, 902, 102, ACK, 0))
    ));
    // vm1 reuses its source port with a new initial sequence number.
    assert!(r.pass(
        VM1,
        &to_vm2(IP1, 6, &tcp_seg(40000, 22, 7_000_000, 0, SYN, 0))
    ));
    let syn_ack = from_vm2(IP2, 6, &tcp_seg(22, 40000, 3_000, 7_000_001, SYN | ACK, 0));
    assert!(r.pass(VM2, &syn_ack));
    assert_eq!(r.dp.conntrack.stats.reopened, 1);
    assert_eq!(
        r.dp.stats.acl.new, 2,
        "the reopened connection met the rules"
    );
    // After an RST as well.
    assert!(r.pass(
        VM1,
        &to_vm2(IP1, 6, &tcp_seg(40000, 22, 7_000_001, 3_001, RST, 0))
    ));
    assert!(r.pass(
        VM1,
        &to_vm2(IP1, 6, &tcp_seg(40000, 22, 9_000_000, 0, SYN, 0))
    ));
    assert_eq!(r.dp.conntrack.stats.reopened, 2);
    assert_eq!(r.drops(DropReason::SgInvalid), 0);
}

#[test]
fn mid_stream_tcp_is_picked_up_where_a_rule_allows_its_direction() {
    let mut r = Rig::new();
    // A connection from before a restart: vm1 → vm2:22 (ingress rule ssh) goes on.
    assert!(r.pass(
        VM1,
        &to_vm2(IP1, 6, &tcp_seg(40000, 22, 123_456, 777, ACK, 100))
    ));
    assert_eq!(r.dp.conntrack.stats.picked_up, 1);
    // No window history: anything in the session passes ("be liberal").
    let reply = from_vm2(IP2, 6, &tcp_seg(22, 40000, 777, 123_556, ACK | PSH, 50));
    assert!(r.pass(VM2, &reply));
    assert!(r.pass(VM1, &to_vm2(IP1, 6, &tcp_seg(40000, 22, 9, 9, ACK, 10))));
    // Its direction needs a rule: nothing lets tcp 23 in, nor tcp out of vm2.
    assert!(!r.pass(VM1, &to_vm2(IP1, 6, &tcp_seg(40001, 23, 1, 1, ACK, 10))));
    assert!(!r.pass(VM2, &from_vm2(IP2, 6, &tcp_seg(50000, 80, 1, 1, ACK, 10))));
    assert_eq!(r.drops(DropReason::SgDenied), 2);
    assert_eq!(r.dp.conntrack.stats.picked_up, 1);
}

#[test]
fn related_icmp_errors_pass_and_unrelated_ones_do_not() {
    let mut r = Rig::new();
    let probe = from_vm2(IP2, 17, &udp(7000, 33434, b""));
    assert!(r.pass(VM2, &probe));
    let mut err = vec![3, 3, 0, 0, 0, 0, 0, 0];
    err.extend_from_slice(&probe[14..]);
    assert!(r.pass(VM1, &to_vm2(IP1, 1, &err)));
    assert_eq!(r.dp.stats.acl.related, 1);
    let other = from_vm2(IP2, 17, &udp(7001, 33434, b""));
    let mut err = vec![3, 3, 0, 0, 0, 0, 0, 0];
    err.extend_from_slice(&other[14..]);
    assert!(!r.pass(VM1, &to_vm2(IP1, 1, &err)));
    assert_eq!(r.drops(DropReason::SgInvalid), 1);
}

#[test]
fn rule_kinds_prefix_group_icmp_and_port_range() {
    let mut r = Rig::new();
    assert!(r.pass(VM1, &to_vm2([10, 1, 2, 3], 17, &udp(1, 5005, b""))));
    assert!(
        !r.pass(VM1, &to_vm2([10, 2, 2, 3], 17, &udp(1, 5005, b""))),
        "outside the prefix"
    );
    assert!(
        !r.pass(VM1, &to_vm2([10, 1, 2, 3], 17, &udp(1, 5011, b""))),
        "outside the range"
    );
    assert!(
        r.pass(VM1, &to_vm2([10, 0, 0, 77], 47, &[0; 8])),
        "a group member, any protocol"
    );
    assert!(!r.pass(VM1, &to_vm2(IP1, 47, &[0; 8])), "vm1 is no member");
    assert!(
        r.pass(VM1, &to_vm2(IP1, 1, &echo(8, 1, 1))),
        "echo request type 8 code 0"
    );
    assert!(
        !r.pass(VM1, &to_vm2(IP1, 1, &echo(13, 1, 1))),
        "timestamp is another type"
    );
}

#[test]
fn spoofed_mac_ip_and_arp_are_dropped_and_pairs_allowed() {
    let mut r = Rig::new();
    let other_mac = packet(M1, [2, 0, 0, 0, 0, 9], IP2, IP1, 64, 0, 17, &udp(1, 2, b""));
    assert!(!r.pass(VM2, &other_mac));
    assert!(
        !r.pass(VM2, &from_vm2([10, 0, 0, 10], 17, &udp(1, 2, b""))),
        "vm1's address"
    );
    assert!(
        r.pass(VM2, &from_vm2([10, 0, 0, 200], 17, &udp(1, 2, b""))),
        "allowed pair /25"
    );
    let arp = |spa: [u8; 4]| {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&M2);
        f.extend_from_slice(&[8, 6, 0, 1, 8, 0, 6, 4, 0, 1]);
        f.extend_from_slice(&M2);
        f.extend_from_slice(&spa);
        f.extend_from_slice(&[0; 6]);
        f.extend_from_slice(&IP1);
        f
    };
    assert!(!r.pass(VM2, &arp(IP1)), "ARP claiming vm1's address");
    assert!(r.pass(VM2, &arp(IP2)));
    assert!(r.pass(VM2, &arp([0, 0, 0, 0])), "an ARP probe");
    assert_eq!(r.drops(DropReason::Spoofed), 3);
}

#[test]
fn dhcp_requests_out_server_replies_in_and_rogue_servers_dropped() {
    let mut r = Rig::new();
    let discover = packet(
        [0xff; 6],
        M2,
        [0; 4],
        [255; 4],
        64,
        0,
        17,
        &udp(68, 67, b"d"),
    );
    assert!(r.pass(VM2, &discover));
    let rogue = from_vm2(IP2, 17, &udp(67, 68, b"offer"));
    assert!(!r.pass(VM2, &rogue));
    assert_eq!(r.drops(DropReason::RogueDhcp), 1);
    let offer = packet(M2, M1, DHCP, IP2, 64, 0, 17, &udp(67, 68, b"offer"));
    assert!(r.pass(VM1, &offer), "the subnet's DHCP server may answer");
    let fake = packet(M2, M1, IP1, IP2, 64, 0, 17, &udp(67, 68, b"offer"));
    assert!(
        !r.pass(VM1, &fake),
        "another host's 'DHCP reply' needs a rule"
    );
}

#[test]
fn removing_the_rule_ends_the_connections_it_allowed() {
    let mut r = Rig::new();
    assert!(r.pass(VM1, &to_vm2(IP1, 6, &tcp_seg(40000, 22, 100, 0, SYN, 0))));
    let mut acl = acl();
    acl.ingress.remove(0);
    r.snap = snapshot(Some(acl));
    r.dp.apply(&r.snap, 2);
    assert_eq!(
        r.dp.stats.acl.flushed, 1,
        "the ssh session went with its rule"
    );
    assert!(!r.pass(VM1, &to_vm2(IP1, 6, &tcp_seg(40000, 22, 101, 0, ACK, 0))));
    assert!(!r.pass(VM1, &to_vm2(IP1, 6, &tcp(40002, 22, SYN))));
}

#[test]
fn without_port_security_nothing_is_filtered() {
    let snap = snapshot(None);
    let mut r = Rig {
        dp: Dataplane::new(&snap, 0),
        snap,
    };
    assert!(r.pass(VM1, &to_vm2(IP1, 6, &tcp(1, 23, ACK))));
    assert!(r.pass(VM2, &from_vm2([1, 2, 3, 4], 17, &udp(67, 68, b""))));
}
