//! Fragments through the router's NAT, to the router itself and at a security group port,
//! and ICMP errors about translated flows: bytes in, bytes out. Datagrams are built whole
//! (checksums computed in full) and then split, and what comes out is reassembled and its
//! checksums verified over the whole datagram, so the incremental updates are checked too.

use super::router_tests::{
    ip, snapshot, EXT, FIP, GW_IP, QG, QR, QR_IP, REMOTE, UP, UP_IP, VM, VM1, VM1_IP, VM2, VM2_IP,
};
use super::test_frames::{arp_reply, echo, packet, udp, TestIo};
use super::Dataplane;
use crate::frame::VecFrame;
use crate::state::fragments::TIMEOUT_MS;
use crate::stats::DropReason;
use crate::tables::acl::{AclRule, AllowedSource, PortAcl, Remote};
use crate::tables::{PortIdx, Snapshot};
use crate::wire::checksum;
use crate::Mac;

struct Rig {
    snap: Snapshot,
    dp: Dataplane<VecFrame>,
    io: TestIo,
}

impl Rig {
    /// The router of [`snapshot`] with its neighbours resolved; `acl` on the VM port.
    fn new(acl: Option<PortAcl>) -> Rig {
        let mut snap = snapshot();
        snap.acls = vec![acl, None];
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
    fn rx_at(&mut self, port: PortIdx, bytes: &[u8], now: u64) -> Vec<(PortIdx, Vec<u8>)> {
        self.dp
            .rx(&self.snap, port, [VecFrame::new(bytes)], now, &mut self.io);
        std::mem::take(&mut self.io.sent)
    }
    fn rx(&mut self, port: PortIdx, bytes: &[u8]) -> Vec<(PortIdx, Vec<u8>)> {
        self.rx_at(port, bytes, 1000)
    }
    /// Every fragment in, in order; everything sent.
    fn rx_all(&mut self, port: PortIdx, frags: &[Vec<u8>]) -> Vec<(PortIdx, Vec<u8>)> {
        frags.iter().flat_map(|f| self.rx(port, f)).collect()
    }
    fn drops(&self, r: DropReason) -> u64 {
        self.dp.stats.drops[r as usize]
    }
}

/// Splits the Ethernet + IPv4 frame `whole` (20-byte header) into fragments of at most
/// `size` payload bytes (a multiple of 8), with IPv4 checksums computed in full.
pub(super) fn split(whole: &[u8], size: usize) -> Vec<Vec<u8>> {
    let (head, payload) = whole.split_at(34);
    payload
        .chunks(size)
        .enumerate()
        .map(|(i, chunk)| {
            let mut f = head.to_vec();
            f.extend_from_slice(chunk);
            let more = (i + 1) * size < payload.len();
            let word = u16::from(more) << 13 | (i * size / 8) as u16;
            f[16..18].copy_from_slice(&((20 + chunk.len()) as u16).to_be_bytes());
            f[20..22].copy_from_slice(&word.to_be_bytes());
            f[24..26].copy_from_slice(&[0, 0]);
            let c = checksum::checksum(&f[14..34]);
            f[24..26].copy_from_slice(&c.to_be_bytes());
            f
        })
        .collect()
}

/// The datagram the fragments `frags` (in any order) carry: the first's header with
/// total length set and no fragment bits; every IPv4 header checksum verified on the way.
pub(super) fn reassemble(frags: &[&[u8]]) -> Vec<u8> {
    let mut pieces: Vec<(usize, &[u8])> = frags
        .iter()
        .map(|f| {
            assert_eq!(checksum::checksum(&f[14..34]), 0, "IPv4 header checksum");
            let word = u16::from_be_bytes([f[20], f[21]]);
            (usize::from(word & 0x1fff) * 8, &f[34..])
        })
        .collect();
    pieces.sort_by_key(|p| p.0);
    let first = frags
        .iter()
        .find(|f| u16::from_be_bytes([f[20], f[21]]) & 0x1fff == 0)
        .expect("a first fragment");
    let mut d = first[..34].to_vec();
    let mut at = 0;
    for (off, p) in pieces {
        assert_eq!(off, at, "fragments cover the datagram without holes");
        d.extend_from_slice(p);
        at += p.len();
    }
    d[16..18].copy_from_slice(&((20 + at) as u16).to_be_bytes());
    d[20..22].copy_from_slice(&[0, 0]);
    d[24..26].copy_from_slice(&[0, 0]);
    let c = checksum::checksum(&d[14..34]);
    d[24..26].copy_from_slice(&c.to_be_bytes());
    d
}

/// True if the UDP (17) or ICMP (1) checksum of the datagram `d` verifies.
pub(super) fn l4_checksum_ok(d: &[u8]) -> bool {
    let l4 = &d[34..];
    let mut sum = checksum::add(0, l4);
    if d[23] == 17 {
        sum = checksum::add(sum, &d[26..34]);
        sum += 17 + l4.len() as u32;
    }
    checksum::fold(sum) == 0xffff
}

/// A UDP datagram of `len` bytes of data from `src`:`sport` to `dst`:`dport`.
pub(super) fn big_udp(
    macs: ([u8; 6], [u8; 6]),
    src: [u8; 4],
    dst: [u8; 4],
    ports: (u16, u16),
    len: usize,
) -> Vec<u8> {
    let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
    packet(
        macs.0,
        macs.1,
        src,
        dst,
        64,
        0,
        17,
        &udp(ports.0, ports.1, &data),
    )
}

/// An echo request or reply with `len` bytes of data.
fn big_echo(macs: ([u8; 6], [u8; 6]), src: [u8; 4], dst: [u8; 4], kind: u8, len: usize) -> Vec<u8> {
    let mut e = echo(kind, 0x4242, 1);
    e.resize(8 + len, 0x5a);
    packet(macs.0, macs.1, src, dst, 64, 0, 1, &e)
}

fn frames(out: &[(PortIdx, Vec<u8>)], port: PortIdx) -> Vec<&[u8]> {
    out.iter()
        .filter(|(p, _)| *p == port)
        .map(|(_, f)| f.as_slice())
        .collect()
}

#[test]
fn a_fragmented_udp_datagram_goes_through_snat_and_its_fragmented_reply_comes_back() {
    let mut r = Rig::new(None);
    let out_dg = big_udp((QR, VM1), VM1_IP, REMOTE, (5000, 7), 4000);
    let out = r.rx_all(VM, &split(&out_dg, 1432));
    let sent = frames(&out, EXT);
    assert_eq!(sent.len(), 3, "three fragments out: {out:?}");
    let d = reassemble(&sent);
    assert_eq!((&d[26..30], &d[30..34]), (&GW_IP[..], &REMOTE[..]));
    assert!(
        l4_checksum_ok(&d),
        "UDP checksum over the translated datagram"
    );
    let sport = u16::from_be_bytes([d[34], d[35]]);
    // The reply, fragmented on the way, to the SNAT address.
    let reply = big_udp((QG, UP), REMOTE, GW_IP, (7, sport), 4000);
    let back = r.rx_all(EXT, &split(&reply, 1480));
    let d = reassemble(&frames(&back, VM));
    assert_eq!((&d[26..30], &d[30..34]), (&REMOTE[..], &VM1_IP[..]));
    assert_eq!(u16::from_be_bytes([d[36], d[37]]), 5000);
    assert!(l4_checksum_ok(&d));
    assert!(r.dp.stats.router.fragments_followed >= 4);
    assert_eq!(r.drops(DropReason::FragmentTableFull), 0);
    assert!(
        r.dp.fragments.is_empty(),
        "complete datagrams leave no entry"
    );
}

#[test]
fn a_large_ping_goes_both_ways_through_a_floating_ip_with_refragmentation() {
    let mut r = Rig::new(None);
    // Upstream's 1500-byte fragments cross into the 1458-byte tenant network.
    let req = big_echo((QG, UP), UP_IP, FIP, 8, 9000);
    let out = r.rx_all(EXT, &split(&req, 1480));
    let got = frames(&out, VM);
    assert!(
        got.len() > 7,
        "refragmented to the tenant MTU: {}",
        got.len()
    );
    assert!(got.iter().all(|f| f.len() - 14 <= 1458));
    let d = reassemble(&got);
    assert_eq!((&d[26..30], &d[30..34]), (&UP_IP[..], &VM2_IP[..]));
    assert!(l4_checksum_ok(&d));
    // vm002's reply leaves from the floating IP.
    let reply = big_echo((QR, VM2), VM2_IP, UP_IP, 0, 9000);
    let out = r.rx_all(VM, &split(&reply, 1432));
    let d = reassemble(&frames(&out, EXT));
    assert_eq!((&d[26..30], &d[30..34]), (&FIP[..], &UP_IP[..]));
    assert!(l4_checksum_ok(&d));
}

#[test]
fn fragments_before_their_first_wait_for_it_and_leave_in_order() {
    let mut r = Rig::new(None);
    let dg = big_udp((QR, VM1), VM1_IP, REMOTE, (5001, 7), 3000);
    let frags = split(&dg, 1432);
    assert!(r.rx(VM, &frags[2]).is_empty());
    assert!(r.rx(VM, &frags[1]).is_empty());
    assert_eq!(r.dp.fragments.held(), 2);
    let out = r.rx(VM, &frags[0]);
    let sent = frames(&out, EXT);
    assert_eq!(sent.len(), 3);
    let offset = |f: &[u8]| u16::from_be_bytes([f[20], f[21]]) & 0x1fff;
    assert_eq!(offset(sent[0]), 0, "the first goes first");
    let d = reassemble(&sent);
    assert_eq!(&d[26..30], &GW_IP[..]);
    assert!(l4_checksum_ok(&d));
    assert_eq!(r.dp.stats.router.fragments_released, 2);
}

#[test]
fn a_later_fragment_to_a_floating_ip_is_translated_without_waiting_for_its_first() {
    let mut r = Rig::new(None);
    let frags = split(&big_udp((QG, UP), UP_IP, FIP, (9, 9), 3000), 1480);
    let out = r.rx(EXT, &frags[2]);
    assert_eq!(out.len(), 1);
    let want = {
        let mut f = frags[2].clone();
        f[0..12].copy_from_slice(&[VM2, QR].concat());
        f[22] -= 1;
        f[30..34].copy_from_slice(&VM2_IP);
        f[24..26].copy_from_slice(&[0, 0]);
        let c = checksum::checksum(&f[14..34]);
        f[24..26].copy_from_slice(&c.to_be_bytes());
        f
    };
    assert_eq!(out[0], (VM, want));
    assert_eq!(r.dp.fragments.held(), 0);
}

#[test]
fn a_fragment_whose_first_never_comes_is_dropped_and_counted_after_30_s() {
    let mut r = Rig::new(None);
    let dg = big_udp((QG, UP), UP_IP, GW_IP, (9, 9), 3000);
    let frags = split(&dg, 1480);
    assert!(
        r.rx(EXT, &frags[1]).is_empty(),
        "to the SNAT address: it waits"
    );
    r.dp.tick(&r.snap, 1000 + TIMEOUT_MS - 1, &mut r.io);
    assert_eq!(r.drops(DropReason::FragmentTimeout), 0);
    r.dp.tick(&r.snap, 1000 + TIMEOUT_MS, &mut r.io);
    assert_eq!(r.drops(DropReason::FragmentTimeout), 1);
    assert_eq!((r.dp.fragments.held(), r.dp.fragments.len()), (0, 0));
}

#[test]
fn a_fragmented_echo_request_to_the_router_is_answered_fragment_by_fragment() {
    for (port, macs, peer, addr) in [
        (VM, (QR, VM1), VM1_IP, QR_IP),
        (EXT, (QG, UP), UP_IP, GW_IP),
    ] {
        let mut r = Rig::new(None);
        let req = big_echo(macs, peer, addr, 8, 9000);
        let frags = split(&req, 1432);
        let out = r.rx_all(port, &frags);
        let back = frames(&out, port);
        assert_eq!(
            back.len(),
            frags.len(),
            "one reply fragment per request fragment"
        );
        let d = reassemble(&back);
        assert_eq!((&d[26..30], &d[30..34]), (&addr[..], &peer[..]));
        assert_eq!(d[34], 0, "echo reply");
        assert!(l4_checksum_ok(&d), "ICMP checksum over the whole reply");
        assert_eq!(&d[38..], &req[38..], "id, sequence and data echoed");
    }
}

#[test]
fn an_echo_request_to_the_router_whose_first_fragment_comes_last_is_answered_whole() {
    let mut r = Rig::new(None);
    let req = big_echo((QG, UP), UP_IP, GW_IP, 8, 3000);
    let mut frags = split(&req, 1480);
    frags.rotate_left(1);
    let out = r.rx_all(EXT, &frags);
    assert_eq!(r.dp.stats.router.fragments_released, 2);
    let d = reassemble(&frames(&out, EXT));
    assert_eq!((d[34], &d[30..34]), (0, &UP_IP[..]));
    assert!(l4_checksum_ok(&d));
}

#[test]
fn fragments_of_udp_to_the_router_get_one_port_unreachable_and_are_dropped() {
    let mut r = Rig::new(None);
    let frags = split(&big_udp((QG, UP), UP_IP, GW_IP, (9, 33434), 3000), 1480);
    let out = r.rx_all(EXT, &frags);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].1[34], out[0].1[35]), (3, 3));
    assert_eq!(r.drops(DropReason::ToRouter), 3);
}

/// The VM port's group: udp 5000 and echo in, everything out.
pub(super) fn vm_acl() -> PortAcl {
    let rule = |id: &str, proto, ports| AclRule {
        id: id.into(),
        group: "g".into(),
        proto: Some(proto),
        ports,
        icmp_code: None,
        remote: Remote::Any,
    };
    PortAcl {
        port_id: "1653ec91-ad7d-40d9-b777-f74aec697026".into(),
        sources: [(VM1_IP, VM1), (VM2_IP, VM2)]
            .map(|(a, m)| AllowedSource {
                prefix: ip(a),
                len: 32,
                mac: Mac(m),
            })
            .to_vec(),
        dhcp_servers: vec![],
        ingress: vec![rule("udp", 17, (5000, 5000)), rule("echo", 1, (8, 8))],
        egress: vec![AclRule {
            proto: None,
            ports: (0, 0),
            ..rule("out", 0, (0, 0))
        }],
    }
}

#[test]
fn at_a_filtered_port_later_fragments_pass_only_after_a_first_that_passed() {
    let mut r = Rig::new(Some(vm_acl()));
    let allowed = split(&big_udp((QG, UP), UP_IP, FIP, (9, 5000), 3000), 1480);
    let out = r.rx_all(EXT, &allowed);
    let d = reassemble(&frames(&out, VM));
    assert_eq!(
        &d[30..34],
        &VM2_IP[..],
        "allowed: the whole datagram reaches vm002"
    );
    assert!(l4_checksum_ok(&d));
    assert!(r.dp.stats.acl.fragments_passed >= 2);
    // To a port the group denies: the first is refused, its later fragments are orphans.
    let denied = split(&big_udp((QG, UP), UP_IP, FIP, (9, 6000), 3000), 1480);
    let out = r.rx_all(EXT, &denied);
    assert!(frames(&out, VM).is_empty(), "{out:?}");
    assert_eq!(r.drops(DropReason::SgDenied), 1);
    assert!(r.drops(DropReason::FragmentOrphan) >= 2);
    // A lone later fragment to the floating IP is translated by address (1:1 NAT needs no
    // first) and is an orphan at the port.
    let mut dg = big_udp((QG, UP), UP_IP, FIP, (9, 5000), 3000);
    dg[18..20].copy_from_slice(&[0x66, 0x66]);
    let before = r.drops(DropReason::FragmentOrphan);
    assert!(r.rx(EXT, &split(&dg, 1480)[2]).is_empty());
    assert_eq!(r.drops(DropReason::FragmentOrphan), before + 1);
    // A VM's later fragment without a first is an orphan on its way out too.
    let mut dg = big_udp((QR, VM1), VM1_IP, REMOTE, (5000, 7), 3000);
    dg[18..20].copy_from_slice(&[0x77, 0x77]);
    let orphan = split(&dg, 1432).remove(1);
    let before = r.drops(DropReason::FragmentOrphan);
    assert!(r.rx(VM, &orphan).is_empty());
    assert_eq!(r.drops(DropReason::FragmentOrphan), before + 1);
}

#[test]
fn a_vm_port_unreachable_about_a_floating_ip_flow_leaves_from_the_floating_ip() {
    let mut r = Rig::new(None);
    let probe = packet(QG, UP, UP_IP, FIP, 64, 0, 17, &udp(40000, 161, b"get"));
    let out = r.rx(EXT, &probe);
    let delivered = out[0].1.clone();
    // vm002 answers port unreachable quoting the datagram as it got it.
    let mut err = vec![3, 3, 0, 0, 0, 0, 0, 0];
    err.extend_from_slice(&delivered[14..]);
    let out = r.rx(VM, &packet(QR, VM2, VM2_IP, UP_IP, 64, 0, 1, &err));
    // Quoted back as upstream sent it: to the floating IP (TTL as vm002 got it).
    let orig = packet(QG, UP, UP_IP, FIP, 63, 0, 17, &udp(40000, 161, b"get"));
    let mut want_err = vec![3, 3, 0, 0, 0, 0, 0, 0];
    want_err.extend_from_slice(&orig[14..]);
    let want = packet(UP, QG, FIP, UP_IP, 63, 0, 1, &want_err);
    assert_eq!(out, vec![(EXT, want)]);
    assert_eq!(r.dp.stats.router.icmp_errors_translated, 1);
}

#[test]
fn an_error_from_a_router_on_the_way_keeps_its_source() {
    let mut r = Rig::new(None);
    r.rx(
        VM,
        &packet(QR, VM1, VM1_IP, REMOTE, 64, 0, 17, &udp(5000, 53, b"q")),
    );
    let sent = packet(UP, QG, GW_IP, REMOTE, 63, 0, 17, &udp(5000, 53, b"q"));
    let mut err = vec![11, 0, 0, 0, 0, 0, 0, 0];
    err.extend_from_slice(&sent[14..]);
    let hop = [192, 0, 2, 1];
    let out = r.rx(EXT, &packet(QG, UP, hop, GW_IP, 64, 0, 1, &err));
    let orig = packet(QR, VM1, VM1_IP, REMOTE, 63, 0, 17, &udp(5000, 53, b"q"));
    let mut want_err = vec![11, 0, 0, 0, 0, 0, 0, 0];
    want_err.extend_from_slice(&orig[14..]);
    assert_eq!(
        out,
        vec![(VM, packet(VM1, QR, hop, VM1_IP, 63, 0, 1, &want_err))]
    );
}
