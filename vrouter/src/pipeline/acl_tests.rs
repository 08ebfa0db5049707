//! Security group stage tests: every rule kind, every connection state, each
//! anti-spoofing case, on two VM ports of one network (vm2 filtered, vm1 not).

use super::test_frames::{echo, packet, tcp, tcp_seg, udp, TestIo};
use super::Dataplane;
use crate::frame::VecFrame;
use crate::state::conntrack::tcp_flags::{ACK, FIN, SYN};
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
    // No SYN for a new flow, and a bad flag combination.
    assert!(!r.pass(VM1, &to_vm2(IP1, 6, &tcp(40000, 22, ACK))));
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
    assert_eq!(r.drops(DropReason::SgInvalid), 3);
    assert_eq!(r.dp.stats.acl.invalid, 3);
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
