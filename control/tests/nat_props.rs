//! Property tests of the router's NAT on the reference topology (`configs/tenant-a.toml`,
//! vm001 and vm002 bound to local devices, floating IP 10.1.101.82 on vm002): random flows
//! out of the VMs (SNAT to the gateway address with port allocation for vm001, 1:1 to the
//! floating IP for vm002), into the floating IP (DNAT) and from vm001 to the floating IP
//! (hairpin), each answered from where it went out.
//!
//! Properties: a packet goes out with the tuple its session says, and its answer comes
//! back with the original tuple reversed, to where it came from (translation is a
//! bijection); no two connections leave with the same tuple, and every session is found by
//! both of its keys (no two sessions collide); every checksum is right after translation.

use proptest::prelude::*;
use std::collections::HashMap;
use vrouter::pipeline::{Dataplane, Io};
use vrouter::state::{Dir, FlowKey};
use vrouter::tables::{PortIdx, Snapshot};
use vrouter::wire::{be16, checksum, ethernet, icmp, ipv4, udp, Mac};
use vrouter::{Frame, VecFrame};

const EXTERNAL: PortIdx = 1;
const VM001: PortIdx = 2;
const VM002: PortIdx = 3;
const VM1_MAC: Mac = Mac([0xfa, 0x16, 0x3e, 0x75, 0xe0, 0x5a]);
const VM2_MAC: Mac = Mac([0xfa, 0x16, 0x3e, 0x51, 0xa2, 0x97]);
const UPSTREAM_MAC: Mac = Mac([0x52, 0x54, 0, 1, 1, 0xfe]);
const VM1_IP: [u8; 4] = [10, 0, 0, 10];
const VM2_IP: [u8; 4] = [10, 0, 0, 9];
const QR_IP: [u8; 4] = [10, 0, 0, 1];
const GW_IP: [u8; 4] = [10, 1, 101, 80];
const FIP: [u8; 4] = [10, 1, 101, 82];
const UPSTREAM_IP: [u8; 4] = [10, 1, 101, 254];
/// Hosts behind the upstream router.
const REMOTES: [[u8; 4]; 2] = [[8, 8, 8, 8], [1, 1, 1, 1]];
/// Source ports: below SNAT's range (so translated), and in it (so kept when free).
const SPORTS: [u16; 4] = [1000, 1001, 2000, 40000];
const DPORTS: [u16; 2] = [53, 80];
const TCP: u8 = ipv4::proto::TCP;
const PROTOS: [u8; 3] = [ipv4::proto::UDP, TCP, ipv4::proto::ICMP];
/// The zone of the reference topology's router (security group zones are the ports').
const ROUTER_ZONE: u16 = 0;

fn ip(a: [u8; 4]) -> u32 {
    u32::from_be_bytes(a)
}

/// The reference topology with the VMs bound locally and 10.1.101.82 on vm002.
fn snapshot() -> Snapshot {
    let text = include_str!("../../configs/tenant-a.toml");
    let mut topo = control::load_str(text, "configs/tenant-a.toml").expect("loads");
    topo.set_devargs("tapd7233b80-9d", "net_null0").unwrap();
    topo.set_devargs("tap1653ec91-ad", "net_null1").unwrap();
    let fip = &mut topo.floatingips[0];
    assert_eq!(fip.floating_ip_address, "10.1.101.82");
    fip.port_id = Some("1653ec91-ad7d-40d9-b777-f74aec697026".into());
    fip.fixed_ip_address = Some("10.0.0.9".into());
    let names: Vec<String> = topo.devices().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names[VM001 as usize], "tapd7233b80-9d");
    assert_eq!(names[VM002 as usize], "tap1653ec91-ad");
    control::compile(&topo, &names, 1).expect("compiles")
}

/// Collects what the pipeline sends.
#[derive(Default)]
struct Sink(Vec<(PortIdx, VecFrame)>);

impl Io<VecFrame> for Sink {
    fn send(&mut self, port: PortIdx, frame: VecFrame) {
        self.0.push((port, frame));
    }
    fn alloc(&mut self) -> Option<VecFrame> {
        Some(VecFrame::new(&[]))
    }
    fn handoff(&mut self, _: u16, _: PortIdx, _: VecFrame, _: vrouter::pipeline::Node) {
        unreachable!("a single worker hands nothing off");
    }
}

/// A connection's tuple on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Tuple {
    proto: u8,
    src: u32,
    dst: u32,
    sport: u16,
    dport: u16,
}

impl Tuple {
    fn reverse(self) -> Tuple {
        Tuple {
            src: self.dst,
            dst: self.src,
            sport: self.dport,
            dport: self.sport,
            ..self
        }
    }

    fn of(k: FlowKey) -> Tuple {
        Tuple {
            proto: k.proto,
            src: k.src,
            dst: k.dst,
            sport: k.sport,
            dport: k.dport,
        }
    }

    fn key(self) -> FlowKey {
        FlowKey {
            zone: ROUTER_ZONE,
            proto: self.proto,
            src: self.src,
            dst: self.dst,
            sport: self.sport,
            dport: self.dport,
        }
    }
}

/// An Ethernet/IPv4 frame of `t` with correct checksums: a UDP datagram, a TCP SYN (SYN+ACK
/// when `answer`) or an ICMP echo request (reply when `answer`) with id `t.sport`.
fn frame(dst: Mac, src: Mac, t: Tuple, answer: bool) -> Vec<u8> {
    let mut l4 = match t.proto {
        ipv4::proto::UDP => {
            let mut u = [
                t.sport.to_be_bytes(),
                t.dport.to_be_bytes(),
                [0, 12],
                [0, 0],
            ]
            .concat();
            u.extend_from_slice(b"data");
            udp::Packet::new_checked(&mut u[..])
                .unwrap()
                .fill_checksum(t.src, t.dst);
            u
        }
        TCP => {
            let flags = if answer { 0x12 } else { 0x02 };
            let mut s = [&t.sport.to_be_bytes()[..], &t.dport.to_be_bytes(), &[0; 8]].concat();
            s.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
            let sum = checksum::pseudo_header_sum(t.src, t.dst, TCP, s.len() as u16);
            let c = !checksum::fold(checksum::add(sum, &s));
            s[16..18].copy_from_slice(&c.to_be_bytes());
            s
        }
        _ => {
            let kind = if answer {
                icmp::kind::ECHO_REPLY
            } else {
                icmp::kind::ECHO_REQUEST
            };
            let mut m = [
                &[kind, 0, 0, 0][..],
                &t.sport.to_be_bytes(),
                &[0, 1],
                b"ping",
            ]
            .concat();
            let rest = [m[4], m[5], m[6], m[7]];
            icmp::emit(&mut m, kind, 0, rest);
            m
        }
    };
    let total = (ipv4::MIN_HEADER_LEN + l4.len()) as u16;
    let mut f = [&dst.0[..], &src.0, &[8, 0, 0x45, 0], &total.to_be_bytes()].concat();
    f.extend_from_slice(&[0, 1, 0x40, 0, 64, t.proto, 0, 0]);
    f.extend_from_slice(&t.src.to_be_bytes());
    f.extend_from_slice(&t.dst.to_be_bytes());
    let c = checksum::checksum(&f[ethernet::HEADER_LEN..]);
    f[24..26].copy_from_slice(&c.to_be_bytes());
    f.append(&mut l4);
    f
}

/// The tuple of a routed frame, after checking every checksum in it.
fn tuple(f: &[u8]) -> Tuple {
    let p = ipv4::Packet::new_checked(&f[ethernet::HEADER_LEN..]).expect("IPv4");
    assert!(p.verify_checksum(), "IPv4 checksum");
    let (src, dst, l4) = (p.src(), p.dst(), p.payload());
    let proto = p.protocol();
    let sum = checksum::pseudo_header_sum(src, dst, proto, l4.len() as u16);
    let (sport, dport) = match proto {
        ipv4::proto::UDP => {
            let u = udp::Packet::new_checked(l4).expect("UDP");
            assert!(u.verify_checksum(src, dst), "UDP checksum");
            (u.src_port(), u.dst_port())
        }
        TCP => {
            assert_eq!(
                checksum::fold(checksum::add(sum, l4)),
                0xffff,
                "TCP checksum"
            );
            (be16(l4, 0), be16(l4, 2))
        }
        _ => {
            let m = icmp::Packet::new_checked(l4).expect("ICMP");
            assert!(m.verify_checksum(), "ICMP checksum");
            (m.echo_id(), m.echo_id())
        }
    };
    Tuple {
        proto,
        src,
        dst,
        sport,
        dport,
    }
}

/// Where a flow starts.
#[derive(Clone, Copy, Debug)]
enum From {
    /// vm001 to a remote host: SNAT to the gateway address.
    Vm001,
    /// vm002 to a remote host: SNAT to its floating IP.
    Vm002,
    /// A remote host to the floating IP: DNAT to vm002.
    Remote,
    /// vm001 to the floating IP: DNAT to vm002 and SNAT to the gateway address.
    Hairpin,
}

#[derive(Clone, Copy, Debug)]
struct Flow {
    from: From,
    proto: u8,
    sport: u16,
    remote: [u8; 4],
    dport: u16,
}

fn flow() -> impl Strategy<Value = Flow> {
    let from = prop_oneof![
        Just(From::Vm001),
        Just(From::Vm002),
        Just(From::Remote),
        Just(From::Hairpin)
    ];
    (
        from,
        prop::sample::select(&PROTOS[..]),
        prop::sample::select(&SPORTS[..]),
        prop::sample::select(&REMOTES[..]),
        prop::sample::select(&DPORTS[..]),
    )
        .prop_map(|(from, proto, sport, remote, dport)| Flow {
            from,
            proto,
            sport,
            remote,
            dport,
        })
}

/// The pipeline over the reference topology, with the upstream router and the VMs known.
struct Node {
    snap: Snapshot,
    dp: Dataplane<VecFrame>,
    sink: Sink,
    now: u64,
}

impl Node {
    fn new() -> Node {
        let snap = snapshot();
        let dp = Dataplane::new(&snap, 0);
        let mut n = Node {
            snap,
            dp,
            sink: Sink::default(),
            now: 0,
        };
        // ARP requests for the router's addresses: the MAC table learns the VMs, the
        // router learns its upstream next hop.
        let arp = |sha: Mac, spa: [u8; 4], tpa: [u8; 4]| {
            let mut f = [&[0xff; 6][..], &sha.0, &[8, 6, 0, 1, 8, 0, 6, 4, 0, 1]].concat();
            f.extend_from_slice(&[&sha.0[..], &spa, &[0; 6], &tpa].concat());
            f
        };
        n.rx(VM001, arp(VM1_MAC, VM1_IP, QR_IP));
        n.rx(VM002, arp(VM2_MAC, VM2_IP, QR_IP));
        n.rx(EXTERNAL, arp(UPSTREAM_MAC, UPSTREAM_IP, GW_IP));
        n.tick();
        n
    }

    fn rx(&mut self, port: PortIdx, bytes: Vec<u8>) -> Vec<(PortIdx, VecFrame)> {
        self.now += 1;
        let f = VecFrame::new(&bytes);
        self.dp.rx(&self.snap, port, [f], self.now, &mut self.sink);
        std::mem::take(&mut self.sink.0)
    }

    fn tick(&mut self) {
        self.now += 1;
        self.dp.tick(&self.snap, self.now, &mut self.sink);
        self.sink.0.clear();
    }

    /// The MAC address the router answers for `ip` on its networks.
    fn router_mac(&self, ip: u32) -> Mac {
        let local = self
            .snap
            .networks
            .iter()
            .flatten()
            .find_map(|n| n.local_by_ip(ip));
        local.expect("a router address").mac
    }

    /// The one IPv4 frame sent for `bytes` on `port`.
    fn route(&mut self, port: PortIdx, bytes: Vec<u8>) -> (PortIdx, Vec<u8>) {
        let sent = self.rx(port, bytes);
        let mut ip: Vec<_> = sent
            .into_iter()
            .filter(|(_, f)| be16(f.data(), 12) == ethernet::ethertype::IPV4)
            .collect();
        assert_eq!(
            ip.len(),
            1,
            "one frame out; drops: {:?}",
            self.dp.stats.drops
        );
        let (port, f) = ip.pop().unwrap();
        (port, f.to_vec())
    }
}

/// Where a flow enters: port, source MAC, its first packet's tuple.
fn ingress(n: &Node, f: &Flow) -> (PortIdx, Mac, Mac, Tuple) {
    let (port, mac, src, dst) = match f.from {
        From::Vm001 => (VM001, VM1_MAC, VM1_IP, f.remote),
        From::Vm002 => (VM002, VM2_MAC, VM2_IP, f.remote),
        From::Remote => (EXTERNAL, UPSTREAM_MAC, f.remote, FIP),
        From::Hairpin => (VM001, VM1_MAC, VM1_IP, FIP),
    };
    let t = Tuple {
        proto: f.proto,
        src: ip(src),
        dst: ip(dst),
        sport: f.sport,
        dport: if f.proto == ipv4::proto::ICMP {
            f.sport
        } else {
            f.dport
        },
    };
    let gw = if port == EXTERNAL { ip(FIP) } else { ip(QR_IP) };
    (port, mac, n.router_mac(gw), t)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn nat_is_a_bijection_and_sessions_never_collide(
        flows in prop::collection::vec(flow(), 1..40),
    ) {
        let mut n = Node::new();
        // Tuple a connection leaves with → the tuple it arrived with.
        let mut translated: HashMap<Tuple, Tuple> = HashMap::new();
        for f in &flows {
            let (port, mac, router, t) = ingress(&n, f);
            let (out_port, out) = n.route(port, frame(router, mac, t, false));
            let out_t = tuple(&out);
            let (idx, dir) = n.dp.conntrack.lookup(&t.key()).expect("a session");
            let s = *n.dp.conntrack.get(idx).unwrap();
            let expected = if dir == Dir::Orig { s.reply.reverse() } else { s.orig.reverse() };
            prop_assert_eq!(out_t, Tuple::of(expected), "{:?} {:?}", f, s);
            if let Some(prev) = translated.insert(out_t, t) {
                prop_assert_eq!(prev, t, "two connections leave as {:?}", out_t);
            }
            // The answer, from where the packet went, comes back translated in reverse.
            let (dst, src) = (Mac::from_bytes(&out[6..12]), Mac::from_bytes(&out[..6]));
            let (back_port, back) = n.route(out_port, frame(dst, src, out_t.reverse(), true));
            prop_assert_eq!(back_port, port);
            prop_assert_eq!(Mac::from_bytes(&back[..6]), mac);
            prop_assert_eq!(tuple(&back), t.reverse());
        }
        let sessions: Vec<_> = n.dp.conntrack.iter().filter(|(_, s)| s.orig.zone == ROUTER_ZONE).collect();
        prop_assert!(!sessions.is_empty());
        let mut seen = HashMap::new();
        for &(idx, s) in &sessions {
            prop_assert_eq!(n.dp.conntrack.lookup(&s.orig), Some((idx, Dir::Orig)));
            prop_assert_eq!(n.dp.conntrack.lookup(&s.reply), Some((idx, Dir::Reply)));
            let out = s.reply.reverse();
            prop_assert!(seen.insert(out, idx).is_none(), "sessions collide on {:?}", out);
        }
    }
}
