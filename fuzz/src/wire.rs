//! Harnesses of the wire parsers (`vrouter::wire`): every view over arbitrary bytes, its
//! accessors, and the round trip through its `Repr` (what is emitted parses back to the same
//! fields, with a checksum that verifies). A malformed input is an `Err`, never a panic.
//!
//! Shared by the fuzz targets `wire_<protocol>` and by `vrouter/tests/fuzz_repro.rs`.

use vrouter::wire::dhcp::{self, LeaseTimes, MessageType, Reply, Route};
use vrouter::wire::{arp, ethernet, gre, icmp, ipv4, udp, vlan, Error, Mac};

/// Longest input a harness looks at: an IPv4 datagram at most, as every view in the data
/// plane is taken over a frame (the checksum sums are sized for that).
const MAX_INPUT: usize = 65_535;

/// A wire parser under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parser {
    /// `wire::ethernet`.
    Ethernet,
    /// `wire::vlan`.
    Vlan,
    /// `wire::arp`.
    Arp,
    /// `wire::ipv4`.
    Ipv4,
    /// `wire::gre`.
    Gre,
    /// `wire::icmp`.
    Icmp,
    /// `wire::udp` (the first 8 input bytes are the IPv4 source and destination).
    Udp,
    /// `wire::dhcp`.
    Dhcp,
}

impl Parser {
    /// Every parser.
    pub const ALL: [Parser; 8] = [
        Parser::Ethernet,
        Parser::Vlan,
        Parser::Arp,
        Parser::Ipv4,
        Parser::Gre,
        Parser::Icmp,
        Parser::Udp,
        Parser::Dhcp,
    ];

    /// The fuzz target of this parser (and its folder under `seeds/` and `repro/`).
    pub fn target(self) -> &'static str {
        match self {
            Parser::Ethernet => "wire_ethernet",
            Parser::Vlan => "wire_vlan",
            Parser::Arp => "wire_arp",
            Parser::Ipv4 => "wire_ipv4",
            Parser::Gre => "wire_gre",
            Parser::Icmp => "wire_icmp",
            Parser::Udp => "wire_udp",
            Parser::Dhcp => "wire_dhcp",
        }
    }

    /// Runs the harness on `data`; panics when a property does not hold.
    pub fn run(self, data: &[u8]) {
        let data = &data[..data.len().min(MAX_INPUT)];
        match self {
            Parser::Ethernet => ethernet(data),
            Parser::Vlan => vlan(data),
            Parser::Arp => arp(data),
            Parser::Ipv4 => ipv4(data),
            Parser::Gre => gre(data),
            Parser::Icmp => icmp(data),
            Parser::Udp => udp(data),
            Parser::Dhcp => dhcp(data),
        }
    }

    /// Valid messages to start fuzzing from: each takes the parser's success path.
    pub fn seeds(self) -> Vec<Vec<u8>> {
        match self {
            Parser::Ethernet => vec![ETH_ARP.to_vec()],
            Parser::Vlan => vec![vec![0xa0, 0x0a, 0x08, 0x00], vec![0x10, 0x64, 0x08, 0x06]],
            Parser::Arp => vec![ARP_REQUEST.to_vec()],
            Parser::Ipv4 => vec![ipv4_gre(), with_options(ipv4_gre())],
            Parser::Gre => vec![
                vec![0x20, 0x00, 0x65, 0x58, 0, 0, 0, 2, 0xaa, 0xbb],
                vec![
                    0xb0, 0x00, 0x65, 0x58, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 7, 0xaa,
                ],
            ],
            Parser::Icmp => vec![vec![8, 0, 0xf7, 0xfd, 0, 1, 0, 1, 0xde, 0xad]],
            Parser::Udp => vec![udp_dns()],
            Parser::Dhcp => vec![dhcp_discover(&[]), dhcp_discover(&[52, 1, 3, 255])],
        }
    }
}

/// Broadcast Ethernet header of an ARP frame and two payload bytes.
const ETH_ARP: [u8; 16] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfa, 0x16, 0x3e, 0x75, 0xe0, 0x5a, 0x08, 0x06, 0xaa, 0xbb,
];

/// ARP request from compute1 (10.0.1.31) for 10.0.1.21.
const ARP_REQUEST: [u8; 28] = [
    0, 1, 8, 0, 6, 4, 0, 1, 0x52, 0x54, 0, 0, 1, 0x31, 10, 0, 1, 31, 0, 0, 0, 0, 0, 0, 10, 0, 1, 21,
];

/// IPv4 10.0.1.31 -> 10.0.1.21, GRE, DF, total length 88.
fn ipv4_gre() -> Vec<u8> {
    let mut v = vec![
        0x45, 0x00, 0x00, 0x58, 0x00, 0x01, 0x40, 0x00, 0x40, 0x2f, 0x24, 0x43, 10, 0, 1, 31, 10,
        0, 1, 21,
    ];
    v.resize(0x58, 0);
    v
}

/// `packet` with a 4-byte option (NOP x3, EOL) after its 20-byte header, checksum fixed.
fn with_options(packet: Vec<u8>) -> Vec<u8> {
    let mut v = packet[..20].to_vec();
    v.extend_from_slice(&[1, 1, 1, 0]);
    v.extend_from_slice(&packet[20..]);
    v[0] = 0x46;
    let total = v.len() as u16;
    v[2..4].copy_from_slice(&total.to_be_bytes());
    v[10..12].fill(0);
    let c = vrouter::wire::checksum::checksum(&v[..24]);
    v[10..12].copy_from_slice(&c.to_be_bytes());
    v
}

/// 10.0.0.10 -> 8.8.8.8 (the UDP harness's address prefix), then a DNS query's UDP header.
fn udp_dns() -> Vec<u8> {
    let mut v = vec![
        10, 0, 0, 10, 8, 8, 8, 8, 0xc3, 0x50, 0, 53, 0, 12, 0, 0, 1, 2, 3, 4,
    ];
    let (src, dst) = (
        u32::from_be_bytes([10, 0, 0, 10]),
        u32::from_be_bytes([8; 4]),
    );
    udp::Packet::new_checked(&mut v[8..])
        .expect("seed is a UDP datagram")
        .fill_checksum(src, dst);
    v
}

/// A DHCPDISCOVER from fa:16:3e:75:e0:5a with a parameter request list, then `extra`
/// options (before END) and padding to 300 bytes.
fn dhcp_discover(extra: &[u8]) -> Vec<u8> {
    let mut m = vec![1, 1, 6, 0, 0x39, 0x03, 0xf3, 0x26, 0, 3, 0x80, 0];
    m.extend_from_slice(&[0; 16]);
    m.extend_from_slice(&[0xfa, 0x16, 0x3e, 0x75, 0xe0, 0x5a]);
    m.resize(236, 0);
    m.extend_from_slice(&dhcp::MAGIC_COOKIE);
    m.extend_from_slice(&[
        53, 1, 1, 55, 4, 1, 3, 6, 121, 57, 2, 5, 220, 12, 3, b'v', b'm', b'1',
    ]);
    m.extend_from_slice(&[61, 7, 1, 0xfa, 0x16, 0x3e, 0x75, 0xe0, 0x5a]);
    m.extend_from_slice(extra);
    m.push(255);
    m.resize(300, 0);
    m
}

fn ethernet(data: &[u8]) {
    let Ok(f) = ethernet::Frame::new_checked(data) else {
        assert!(data.len() < ethernet::HEADER_LEN);
        return;
    };
    let r = ethernet::Repr::parse(&f);
    assert_eq!(f.payload(), &data[ethernet::HEADER_LEN..]);
    let mut out = [0; ethernet::HEADER_LEN];
    r.emit(&mut out);
    assert_eq!(
        out,
        data[..ethernet::HEADER_LEN],
        "emit is the inverse of parse"
    );
    let mut copy = data.to_vec();
    let mut f = ethernet::Frame::new_checked(&mut copy[..]).expect("same length");
    f.set_dst(r.src);
    f.set_src(r.dst);
    f.set_ethertype(!r.ethertype);
    let swapped = ethernet::Repr::parse(&f);
    assert_eq!(
        (swapped.dst, swapped.src, swapped.ethertype),
        (r.src, r.dst, !r.ethertype)
    );
    assert_eq!(&copy[ethernet::HEADER_LEN..], &data[ethernet::HEADER_LEN..]);
}

fn vlan(data: &[u8]) {
    let Ok(t) = vlan::Tag::new_checked(data) else {
        assert!(data.len() < vlan::HEADER_LEN);
        return;
    };
    let r = match vlan::Repr::parse(&t) {
        Ok(r) => r,
        Err(e) => {
            assert_eq!(
                (e, t.vid()),
                (Error::Malformed, 0x0fff),
                "only VID 4095 is refused"
            );
            return;
        }
    };
    assert!(r.pcp < 8 && r.vid < 0x0fff);
    let mut out = [0; vlan::HEADER_LEN];
    r.emit(&mut out);
    // Everything but the DEI bit, which the Repr does not carry, survives the round trip.
    assert_eq!(out, [data[0] & !0x10, data[1], data[2], data[3]]);
    let back = vlan::Tag::new_checked(&out[..]).expect("4 bytes");
    assert_eq!(vlan::Repr::parse(&back), Ok(r));
}

fn arp(data: &[u8]) {
    let p = match arp::Packet::new_checked(data) {
        Ok(p) => p,
        Err(Error::Truncated) => return assert!(data.len() < arp::PACKET_LEN),
        Err(e) => return assert_eq!(e, Error::Unsupported),
    };
    match arp::Repr::parse(&p) {
        Ok(r) => {
            let mut out = [0; arp::PACKET_LEN];
            r.emit(&mut out);
            assert_eq!(out, data[..arp::PACKET_LEN], "emit is the inverse of parse");
        }
        Err(e) => {
            assert_eq!(e, Error::Unsupported);
            assert!(!matches!(p.op(), arp::op::REQUEST | arp::op::REPLY));
        }
    }
}

fn ipv4(data: &[u8]) {
    let Ok(p) = ipv4::Packet::new_checked(data) else {
        return;
    };
    let (hl, total) = (p.header_len(), p.total_len() as usize);
    assert!(ipv4::MIN_HEADER_LEN <= hl && hl <= total && total <= data.len());
    assert_eq!(p.payload(), &data[hl..total]);
    let verified = p.verify_checksum();
    let _ = (p.tos(), p.ident(), p.is_fragment(), p.ttl(), p.checksum());
    let r = ipv4::Repr::parse(&p);
    assert_eq!(r.payload_len as usize, total - hl);
    let mut out = vec![0; ipv4::MIN_HEADER_LEN];
    out.extend_from_slice(p.payload());
    r.emit(&mut out);
    let q = ipv4::Packet::new_checked(&out[..]).expect("an emitted header parses");
    assert!(
        q.verify_checksum(),
        "an emitted header carries its checksum"
    );
    assert_eq!(ipv4::Repr::parse(&q), r);
    assert_eq!(q.payload(), p.payload());
    if hl == ipv4::MIN_HEADER_LEN && verified {
        // Byte for byte but the checksum field, which may be either zero of ones' complement.
        assert_eq!(out[..10], data[..10]);
        assert_eq!(out[12..20], data[12..20]);
    }
}

fn gre(data: &[u8]) {
    let p = match gre::Packet::new_checked(data) {
        Ok(p) => p,
        Err(e) => return assert_eq!(e, Error::Truncated),
    };
    let hl = p.header_len();
    assert!(hl <= data.len());
    assert_eq!(p.payload(), &data[hl..]);
    let _ = (
        p.flags(),
        p.checksum(),
        p.key(),
        p.sequence(),
        p.verify_checksum(),
    );
    let r = match gre::Repr::parse(&p) {
        Ok(r) => r,
        Err(e) => return assert_eq!(e, Error::Unsupported),
    };
    assert_eq!(r.header_len(), hl);
    let mut out = vec![0; hl];
    out.extend_from_slice(p.payload());
    r.emit(&mut out);
    let q = gre::Packet::new_checked(&out[..]).expect("an emitted header parses");
    assert_eq!(gre::Repr::parse(&q), Ok(r));
    assert!(q.verify_checksum(), "an emitted checksum verifies");
    assert_eq!(q.payload(), p.payload());
}

fn icmp(data: &[u8]) {
    let Ok(p) = icmp::Packet::new_checked(data) else {
        assert!(data.len() < icmp::HEADER_LEN);
        return;
    };
    assert_eq!(p.payload(), &data[icmp::HEADER_LEN..]);
    let _ = (p.echo_id(), p.is_error(), p.verify_checksum());
    let mut out = data.to_vec();
    let rest = [data[4], data[5], data[6], data[7]];
    icmp::emit(&mut out, p.kind(), p.code(), rest);
    let q = icmp::Packet::new_checked(&out[..]).expect("same length");
    assert!(q.verify_checksum(), "an emitted checksum verifies");
    assert_eq!((q.kind(), q.code()), (p.kind(), p.code()));
    assert_eq!(out[4..], data[4..]);
}

fn udp(data: &[u8]) {
    if data.len() < 8 {
        return;
    }
    let src = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
    let dst = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
    let data = &data[8..];
    let Ok(p) = udp::Packet::new_checked(data) else {
        return;
    };
    let len = usize::from(p.len());
    assert!(udp::HEADER_LEN <= len && len <= data.len());
    assert_eq!(p.payload(), &data[udp::HEADER_LEN..len]);
    let _ = p.verify_checksum(src, dst);
    let r = udp::Repr::parse(&p);
    assert_eq!(r.total_len(), len);
    let mut out = data[..len].to_vec();
    r.emit(&mut out, src, dst);
    let q = udp::Packet::new_checked(&out[..]).expect("an emitted header parses");
    assert_ne!(q.checksum(), 0, "a computed zero is sent as all ones");
    assert!(q.verify_checksum(src, dst), "an emitted checksum verifies");
    assert_eq!(udp::Repr::parse(&q), r);
    assert_eq!(q.payload(), p.payload());
}

fn dhcp(data: &[u8]) {
    let p = match dhcp::Packet::new_checked(data) {
        Ok(p) => p,
        Err(Error::Truncated) => return assert!(data.len() < dhcp::OPTIONS_AT),
        Err(e) => return assert_eq!(e, Error::Malformed),
    };
    let _ = (
        p.op(),
        p.htype(),
        p.hlen(),
        p.hops(),
        p.secs(),
        p.yiaddr(),
        p.chaddr(),
    );
    // The option iterator ends, after at most one error, within one step per byte.
    let (mut steps, mut errors) = (0, 0);
    for o in p.options() {
        steps += 1;
        assert!(
            steps <= data.len(),
            "option iteration is bounded by the message"
        );
        match o {
            Ok((code, _)) => assert!(!matches!(
                code,
                dhcp::opt::PAD | dhcp::opt::END | dhcp::opt::OVERLOAD
            )),
            Err(_) => errors += 1,
        }
    }
    assert!(errors <= 1, "iteration ends at the first error");
    let Ok(r) = dhcp::Repr::parse(&p) else {
        return;
    };
    // A reply built from what was parsed, with the client's own bytes in the variable
    // options, emits and parses back.
    let dns: Vec<u32> = r
        .parameter_request_list
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let routes: Vec<Route> = r
        .parameter_request_list
        .iter()
        .map(|&b| Route {
            dest: u32::from(b) << 24,
            prefix_len: b % 33,
            gateway: r.giaddr,
        })
        .collect();
    let route_bytes: usize = routes
        .iter()
        .map(|r| 1 + usize::from(r.prefix_len).div_ceil(8) + 4)
        .sum();
    let host = r.host_name.unwrap_or(b"");
    let reply = Reply {
        message_type: MessageType::Offer,
        xid: r.xid,
        flags: r.flags,
        ciaddr: r.ciaddr,
        yiaddr: r.requested_ip.unwrap_or(r.yiaddr),
        siaddr: r.siaddr,
        giaddr: r.giaddr,
        chaddr: r.chaddr,
        server_id: r.server_id.unwrap_or(0),
        lease: Some(LeaseTimes::with_defaults(r.xid)),
        subnet_mask: Some(!0 << (r.hops % 32)),
        router: r.requested_ip,
        dns_servers: &dns,
        domain_name: r.client_id.unwrap_or(b""),
        host_name: host,
        mtu: r.max_message_size,
        classless_routes: &routes,
    };
    let mut buf = vec![0; reply.buffer_len()];
    match reply.emit(&mut buf) {
        Ok(n) => assert_eq!(n, buf.len()),
        Err(e) => {
            assert_eq!(e, Error::Unsupported);
            assert!(
                route_bytes > 255,
                "only an option over 255 bytes is refused"
            );
            return;
        }
    }
    let q = dhcp::Packet::new_checked(&buf[..]).expect("an emitted reply has its cookie");
    let back = dhcp::Repr::parse(&q).expect("an emitted reply parses");
    assert_eq!(
        (back.op, back.xid, back.chaddr, back.message_type),
        (dhcp::op::BOOTREPLY, r.xid, r.chaddr, MessageType::Offer)
    );
    assert_eq!(back.server_id, Some(r.server_id.unwrap_or(0)));
    assert_eq!(back.host_name, (!host.is_empty()).then_some(host));
    assert_eq!(Mac::from_bytes(q.chaddr()), r.chaddr);
}
