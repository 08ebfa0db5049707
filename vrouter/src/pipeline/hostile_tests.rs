//! Hostile traffic at the router of `router_tests`: martian addresses, IP options, reverse
//! path, IPv6 at a filtered port, ARP poisoning of static neighbours and ARP floods. Each
//! case: nothing leaves, the named drop reason counts it, no state is left behind.

use super::router_tests::{
    ip, snapshot, EXT, FIP, GW_IP, QG, QR, QR_IP, REMOTE, TENANT, UP, UP_IP, VM, VM1, VM1_IP, VM2,
    VM2_IP,
};
use super::test_frames::{arp_reply, echo, packet, udp, TestIo};
use super::Dataplane;
use crate::frame::VecFrame;
use crate::state::neighbours::MAX_ENTRIES;
use crate::stats::DropReason;
use crate::tables::acl::{AllowedSource, PortAcl};
use crate::tables::{PortIdx, Snapshot};
use crate::wire::checksum;
use crate::Mac;

struct Rig {
    snap: Snapshot,
    dp: Dataplane<VecFrame>,
    io: TestIo,
    now: u64,
}

impl Rig {
    /// The router with vm002 known to the model (a static neighbour) and vm001 and the
    /// upstream gateway resolved by ARP.
    fn new() -> Rig {
        Rig::with(|_| {})
    }

    fn with(change: impl FnOnce(&mut Snapshot)) -> Rig {
        let mut snap = snapshot();
        snap.routers[0].neighbours = vec![(ip(VM2_IP), Mac(VM2))];
        change(&mut snap);
        let mut r = Rig {
            dp: Dataplane::new(&snap, 0),
            snap,
            io: TestIo::default(),
            now: 1000,
        };
        assert!(r.rx(VM, &arp_reply(VM1, VM1_IP, QR, QR_IP)).is_empty());
        assert!(r.rx(EXT, &arp_reply(UP, UP_IP, QG, GW_IP)).is_empty());
        assert_eq!(r.dp.stats.total_drops(), 0);
        r
    }

    fn rx(&mut self, port: PortIdx, bytes: &[u8]) -> Vec<(PortIdx, Vec<u8>)> {
        self.dp.rx(
            &self.snap,
            port,
            [VecFrame::new(bytes)],
            self.now,
            &mut self.io,
        );
        std::mem::take(&mut self.io.sent)
    }

    fn drops(&self, r: DropReason) -> u64 {
        self.dp.stats.drops[r as usize]
    }

    /// Sends `f` on `port` and checks that nothing leaves, that exactly one drop is counted
    /// and that it is `reason`, and that no session was made.
    fn refused(&mut self, port: PortIdx, f: &[u8], reason: DropReason, what: &str) {
        let before = (self.drops(reason), self.dp.stats.total_drops());
        let out = self.rx(port, f);
        assert!(out.is_empty(), "{what}: nothing may leave, sent {out:?}");
        let after = (self.drops(reason), self.dp.stats.total_drops());
        assert_eq!(
            (after.0 - before.0, after.1 - before.1),
            (1, 1),
            "{what}: one drop, counted as {}",
            reason.name()
        );
        assert_eq!(self.dp.conntrack.len(), 0, "{what}: no session");
    }
}

/// UDP from upstream (`src`) to `dst`, to the gateway port's MAC.
fn from_up(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    packet(QG, UP, src, dst, 64, 0, 17, &udp(4000, 161, b"x"))
}

/// UDP from vm001 (`src`) to `dst`, to the router interface's MAC.
fn from_vm(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    packet(QR, VM1, src, dst, 64, 0, 17, &udp(4000, 53, b"x"))
}

/// `f` with IPv4 options `opts` (a multiple of 4 bytes) after the fixed header; header
/// length, total length and header checksum made right.
fn with_options(f: &[u8], opts: &[u8]) -> Vec<u8> {
    assert_eq!(opts.len() % 4, 0);
    let mut g = f[..34].to_vec();
    g.extend_from_slice(opts);
    g.extend_from_slice(&f[34..]);
    g[14] = 0x45 + (opts.len() / 4) as u8;
    let total = (g.len() - 14) as u16;
    g[16..18].copy_from_slice(&total.to_be_bytes());
    g[24..26].copy_from_slice(&[0, 0]);
    let c = checksum::checksum(&g[14..34 + opts.len()]);
    g[24..26].copy_from_slice(&c.to_be_bytes());
    g
}

#[test]
fn martian_sources_are_dropped_and_counted() {
    let mut r = Rig::new();
    for (src, what) in [
        ([0, 1, 2, 3], "0.0.0.0/8"),
        ([0, 0, 0, 0], "0.0.0.0"),
        ([127, 0, 0, 1], "loopback"),
        ([224, 0, 0, 5], "multicast"),
        ([239, 255, 255, 250], "multicast"),
        ([240, 0, 0, 1], "class E"),
        ([255, 255, 255, 255], "limited broadcast"),
        ([10, 1, 101, 255], "Ext-Net's directed broadcast"),
    ] {
        r.refused(EXT, &from_up(src, FIP), DropReason::MartianSource, what);
    }
    r.refused(
        VM,
        &from_vm([10, 0, 0, 255], REMOTE),
        DropReason::MartianSource,
        "tenantA-Net's directed broadcast",
    );
    for (src, what) in [(GW_IP, "the gateway address"), (FIP, "a floating IP")] {
        r.refused(EXT, &from_up(src, FIP), DropReason::OwnAddressSource, what);
    }
    r.refused(
        VM,
        &from_vm(QR_IP, REMOTE),
        DropReason::OwnAddressSource,
        "the router interface's address from a VM",
    );
}

#[test]
fn martian_destinations_and_broadcasts_are_not_forwarded() {
    let mut r = Rig::new();
    for (dst, reason, what) in [
        ([127, 0, 0, 1], DropReason::MartianDestination, "loopback"),
        ([0, 0, 0, 7], DropReason::MartianDestination, "0.0.0.0/8"),
        ([240, 0, 0, 1], DropReason::MartianDestination, "class E"),
        (
            [255, 255, 255, 255],
            DropReason::BroadcastNotForwarded,
            "limited broadcast",
        ),
        (
            [10, 1, 101, 255],
            DropReason::BroadcastNotForwarded,
            "Ext-Net's directed broadcast",
        ),
        (
            [10, 0, 0, 255],
            DropReason::BroadcastNotForwarded,
            "the own subnet's broadcast",
        ),
        (
            [224, 0, 0, 251],
            DropReason::BroadcastNotForwarded,
            "multicast",
        ),
    ] {
        r.refused(VM, &from_vm(VM1_IP, dst), reason, what);
    }
    r.refused(
        EXT,
        &from_up(UP_IP, [10, 0, 0, 255]),
        DropReason::BroadcastNotForwarded,
        "a tenant subnet's broadcast from upstream",
    );
}

#[test]
fn reverse_path_check_is_strict() {
    let mut r = Rig::new();
    r.refused(
        EXT,
        &from_up([10, 0, 0, 10], FIP),
        DropReason::RpFilter,
        "an internal address from the external side",
    );
    r.refused(
        VM,
        &from_vm(REMOTE, [10, 1, 101, 254]),
        DropReason::RpFilter,
        "an external address from the tenant side",
    );
    // Without a default route, a source nothing routes to is refused too.
    let mut r = Rig::with(|s| s.routers[0].retain_routes(|x| x.len != 0));
    r.refused(
        EXT,
        &from_up(REMOTE, FIP),
        DropReason::RpFilter,
        "a source with no route back",
    );
    // Legitimate traffic both ways is untouched.
    let mut r = Rig::new();
    assert_eq!(r.rx(VM, &from_vm(VM1_IP, REMOTE)).len(), 1, "SNAT out");
    assert_eq!(
        r.rx(EXT, &from_up(REMOTE, FIP)).len(),
        1,
        "to the floating IP"
    );
    assert_eq!(r.rx(VM, &from_vm(VM1_IP, FIP)).len(), 1, "hairpin");
    assert_eq!(r.dp.stats.total_drops(), 0);
}

#[test]
fn source_routes_are_dropped_and_bad_options_get_a_parameter_problem() {
    let mut r = Rig::new();
    let base = from_up(UP_IP, FIP);
    for (opts, what) in [
        (vec![0x83, 7, 4, 10, 0, 0, 9, 0], "loose source route"),
        (vec![0x89, 7, 4, 10, 0, 0, 9, 0], "strict source route"),
        (
            vec![1, 0x83, 7, 4, 10, 0, 0, 9],
            "loose source route after a NOP",
        ),
    ] {
        r.refused(
            EXT,
            &with_options(&base, &opts),
            DropReason::SourceRoute,
            what,
        );
    }
    // A length that runs past the header: dropped, parameter problem pointing at it.
    let bad = with_options(&base, &[1, 0x94, 9, 0]);
    let before = r.drops(DropReason::IpOptionsMalformed);
    let out = r.rx(EXT, &bad);
    assert_eq!(r.drops(DropReason::IpOptionsMalformed), before + 1);
    assert_eq!(out.len(), 1, "one ICMP error");
    let (port, e) = &out[0];
    assert_eq!(*port, EXT);
    assert_eq!((&e[0..6], &e[6..12]), (&UP[..], &QG[..]));
    assert_eq!((&e[26..30], &e[30..34]), (&GW_IP[..], &UP_IP[..]));
    assert_eq!(
        (e[34], e[35], e[38]),
        (12, 0, 21),
        "parameter problem, pointer 21"
    );
    assert_eq!(&e[42..62], &bad[14..34], "quotes the offending header");
    assert_eq!(checksum::checksum(&e[14..34]), 0);
    assert_eq!(checksum::checksum(&e[34..]), 0);

    // Rate-limited through the ICMP token bucket.
    r.dp.icmp_tokens = 0;
    assert!(r.rx(EXT, &bad).is_empty());
    assert_eq!(r.dp.stats.router.icmp_rate_limited, 1);
    r.dp.icmp_tokens = 10;
    // No error about a packet from a martian source, bad options or not.
    let martian = with_options(&from_up([255, 255, 255, 255], FIP), &[1, 0x94, 9, 0]);
    r.refused(
        EXT,
        &martian,
        DropReason::MartianSource,
        "a broadcast source",
    );
    assert_eq!(r.dp.stats.router.icmp_errors, 1);
    // Record route is harmless: forwarded (options kept).
    let rr = with_options(&base, &[7, 7, 4, 0, 0, 0, 0, 0]);
    assert_eq!(r.rx(EXT, &rr).len(), 1, "record route is forwarded");
}

/// The router snapshot with vm001's port filtered (port security, no rules).
fn filtered(s: &mut Snapshot) {
    let acl = PortAcl {
        port_id: "d7233b80-9d4b-4ef6-a60d-19b3be661069".into(),
        sources: vec![AllowedSource {
            prefix: ip(VM1_IP),
            len: 32,
            mac: Mac(VM1),
        }],
        dhcp_servers: vec![],
        ingress: vec![],
        egress: vec![],
    };
    s.acls = vec![Some(acl), None];
}

/// An IPv6 frame from `smac` to `dmac` with next header `next` and `l4`.
fn ipv6(dmac: [u8; 6], smac: [u8; 6], next: u8, l4: &[u8]) -> Vec<u8> {
    let mut f = dmac.to_vec();
    f.extend_from_slice(&smac);
    f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
    f.extend_from_slice(&(l4.len() as u16).to_be_bytes());
    f.extend_from_slice(&[next, 255]);
    f.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    f.extend_from_slice(&[0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    f.extend_from_slice(l4);
    f
}

#[test]
fn ipv6_from_and_to_a_filtered_port_is_dropped() {
    let mut r = Rig::with(filtered);
    let all_nodes = [0x33, 0x33, 0, 0, 0, 1];
    let ra = [134, 0, 0, 0, 64, 0, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0];
    r.refused(
        VM,
        &ipv6(all_nodes, VM1, 58, &ra),
        DropReason::RogueRa,
        "RA",
    );
    let dhcpv6 = udp(547, 546, &[7, 0, 0, 1]);
    r.refused(
        VM,
        &ipv6(all_nodes, VM1, 17, &dhcpv6),
        DropReason::RogueDhcpv6,
        "DHCPv6 reply",
    );
    let echo6 = [128, 0, 0, 0, 0, 1, 0, 1];
    r.refused(
        VM,
        &ipv6(QR, VM1, 58, &echo6),
        DropReason::Ipv6Unsupported,
        "IPv6 from the VM",
    );
    // Towards the VM: the only way on tenantA-Net is a tunnel or another port; here the
    // frame comes from the router's side of the network as a unicast to the VM.
    let before = r.drops(DropReason::Ipv6Unsupported);
    let mut io = TestIo::default();
    let frame = VecFrame::new(&ipv6(VM1, QR, 58, &echo6));
    let meta = super::meta::Meta::local(EXT, TENANT);
    r.dp.queues.push(super::Node::L2Switch, meta, frame);
    r.dp.dispatch(&r.snap, r.now, &mut io);
    assert!(io.sent.is_empty());
    assert_eq!(r.drops(DropReason::Ipv6Unsupported), before + 1);
    // IPv4 from the same port still passes its own checks (denied by the empty group).
    r.refused(
        VM,
        &from_vm(VM1_IP, REMOTE),
        DropReason::SgDenied,
        "IPv4 without a rule",
    );
}

#[test]
fn arp_cannot_poison_a_static_neighbour_or_claim_the_routers_addresses() {
    let mut r = Rig::new();
    let fake = [0x02, 0, 0, 0, 0, 0x66];
    r.refused(
        VM,
        &arp_reply(fake, VM2_IP, QR, QR_IP),
        DropReason::ArpSpoofed,
        "a reply claiming vm002's address",
    );
    r.refused(
        VM,
        &arp_reply(VM1, QR_IP, [0xff; 6], QR_IP),
        DropReason::ArpSpoofed,
        "a gratuitous ARP claiming the router interface",
    );
    r.refused(
        EXT,
        &arp_reply(UP, FIP, [0xff; 6], FIP),
        DropReason::ArpSpoofed,
        "a gratuitous ARP claiming a floating IP",
    );
    assert_eq!(r.dp.router_neigh.lookup(ip(VM2_IP)), Some(Mac(VM2)));
    // The model's own MAC for the address is no spoof.
    assert!(r.rx(VM, &arp_reply(VM2, VM2_IP, QR, QR_IP)).is_empty());
    assert_eq!(r.drops(DropReason::ArpSpoofed), 3);
    // Traffic to vm002's floating IP still goes to vm002.
    let out = r.rx(EXT, &packet(QG, UP, UP_IP, FIP, 64, 0, 1, &echo(8, 7, 1)));
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].0, &out[0].1[0..6]), (VM, &VM2[..]));
}

#[test]
fn neighbours_are_created_only_for_on_link_senders_of_requests_to_the_router() {
    let mut r = Rig::new();
    let request = |sha: [u8; 6], spa: [u8; 4], tpa: [u8; 4]| {
        let mut f = arp_reply(sha, spa, [0; 6], tpa);
        f[0..6].copy_from_slice(&[0xff; 6]);
        f[21] = 1;
        f
    };
    let host = [0x52, 0x54, 0, 0, 0, 0x42];
    r.rx(EXT, &request(host, [192, 168, 5, 5], GW_IP));
    assert_eq!(r.dp.router_neigh.lookup(ip([192, 168, 5, 5])), None);
    r.rx(EXT, &request(host, [10, 1, 101, 42], UP_IP));
    assert_eq!(
        r.dp.router_neigh.lookup(ip([10, 1, 101, 42])),
        None,
        "a request for another host creates nothing"
    );
    r.rx(EXT, &request(host, [10, 1, 101, 42], GW_IP));
    assert_eq!(
        r.dp.router_neigh.lookup(ip([10, 1, 101, 42])),
        Some(Mac(host))
    );
}

/// Ext-Net as a /16, more senders than the neighbour table holds.
fn wide(s: &mut Snapshot) {
    for p in &mut s.routers[0].ports {
        if p.external {
            p.prefix_len = 16;
        }
    }
    let ext = s.networks.iter_mut().flatten().find(|n| n.local_vlan == 11);
    for l in &mut ext.unwrap().locals {
        l.prefix_len = 16;
    }
    let r = &mut s.routers[0];
    r.routes.retain(|x| x.prefix != ip([10, 1, 101, 0]));
    r.routes.push(crate::tables::router::Route {
        prefix: ip([10, 1, 0, 0]),
        len: 16,
        via: None,
        port: 1,
    });
    r.sort_routes();
}

#[test]
fn an_arp_flood_leaves_the_neighbours_that_matter_and_a_new_host_resolves_at_once() {
    let mut r = Rig::with(wide);
    let request = |n: u32| {
        let spa = (ip([10, 1, 0, 0]) + 256 + n).to_be_bytes();
        let sha = [0x02, 0xee, spa[0], spa[1], spa[2], spa[3]];
        let mut f = arp_reply(sha, spa, [0; 6], GW_IP);
        f[0..6].copy_from_slice(&[0xff; 6]);
        f[21] = 1;
        f
    };
    let mut answered = 0;
    for n in 0..20_000 {
        // Traffic through the upstream gateway goes on during the flood.
        if n % 500 == 0 {
            let out = r.rx(VM, &from_vm(VM1_IP, REMOTE));
            assert_eq!(out.len(), 1, "SNAT traffic flows at request {n}");
            assert_eq!(&out[0].1[0..6], &UP[..]);
        }
        answered += r.rx(EXT, &request(n)).len();
    }
    assert_eq!(answered, 20_000, "every request to the router is answered");
    assert!(r.dp.router_neigh.iter().count() <= MAX_ENTRIES);
    assert!(r.dp.router_neigh.stats.evicted >= 20_000 - MAX_ENTRIES as u64);
    assert_eq!(r.dp.router_neigh.lookup(ip(UP_IP)), Some(Mac(UP)));
    assert_eq!(
        r.dp.router_neigh.lookup(ip(VM2_IP)),
        Some(Mac(VM2)),
        "static kept"
    );
    // A new upstream host: asked for at once, and reached as soon as it answers.
    let new_host = [10, 1, 200, 1];
    let new_mac = [0x52, 0x54, 0, 0x0a, 0xc8, 1];
    let out = r.rx(VM, &from_vm(VM1_IP, new_host));
    assert_eq!(out.len(), 1, "an ARP request for the new host");
    assert_eq!(
        (&out[0].1[12..14], &out[0].1[38..42]),
        (&[8, 6][..], &new_host[..])
    );
    let out = r.rx(EXT, &arp_reply(new_mac, new_host, QG, GW_IP));
    assert_eq!(out.len(), 1, "the held datagram goes out");
    assert_eq!(&out[0].1[0..6], &new_mac[..]);
    assert_eq!(r.drops(DropReason::NeighbourQueueFull), 0);
}

#[test]
fn an_allowed_address_pair_may_claim_its_shared_address() {
    // 10.0.0.50 is a port of its own in the model (a virtual IP), and vm001 may send from
    // it with its own MAC (allowed address pair), as keepalived does.
    const VIP: [u8; 4] = [10, 0, 0, 50];
    let mut r = Rig::with(|s| {
        filtered(s);
        let acl = s.acls[0].as_mut().unwrap();
        acl.sources.push(AllowedSource {
            prefix: ip(VIP),
            len: 32,
            mac: Mac(VM1),
        });
        s.routers[0]
            .neighbours
            .push((ip(VIP), Mac([0xfa, 0x16, 0x3e, 0, 0, 0x50])));
    });
    let garp = arp_reply(VM1, VIP, [0xff; 6], VIP);
    r.rx(VM, &garp);
    assert_eq!(r.drops(DropReason::ArpSpoofed), 0);
    // Another MAC claiming it on tenantA-Net is still refused.
    let tenant = r.snap.network(TENANT).unwrap();
    let claim = arp_reply(UP, VIP, [0xff; 6], VIP);
    assert_eq!(
        super::arp_guard::check(&r.dp.router_neigh, &r.snap, tenant, &claim),
        Err(DropReason::ArpSpoofed)
    );
    assert_eq!(
        super::arp_guard::check(&r.dp.router_neigh, &r.snap, tenant, &garp),
        Ok(())
    );
}
