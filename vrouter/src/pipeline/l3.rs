//! The router stage (the `qrouter-<id>` namespace): IPv4 forwarding per RFC 1812 between a
//! router's ports, with NAT through connection tracking, ICMP errors and echo, MTU handling
//! and next-hop resolution by ARP.
//!
//! Order per packet: header checks (§5.2.2) → NAT decision (existing session, or floating
//! IP / SNAT for a first packet) → local delivery or route lookup → TTL (§5.3.1) and MTU
//! (RFC 1191) checks on the packet as it arrived → session created, headers rewritten →
//! L2 rewrite towards the next hop → the egress network's L2 stage.

use super::graph::{Ctx, Edge, Meta, Node, Step};
use super::{egress, fragments, icmp, martian, nat, Dataplane, Io, SyncEvent};
use crate::frame::Frame;
use crate::state::adjacency;
use crate::state::fragments::Verdict;
use crate::state::{FlowKey, Millis};
use crate::stats::DropReason;
use crate::tables::router::{RouterConf, RouterPort, RouterPortIdx};
use crate::tables::{Dest, NetConf, PortIdx, Snapshot};
use crate::wire::checksum;
use crate::wire::{be16, ethernet, icmp as wicmp, ipv4, put16, Mac};

/// Where the IPv4 header starts in a frame on a router port (untagged Ethernet).
pub(super) const L3: usize = ethernet::HEADER_LEN;

/// What the router reads of an IPv4 packet, once.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ip4 {
    /// Header length.
    pub hl: usize,
    /// Total length.
    pub total: usize,
    /// Flags and fragment offset word.
    pub frag: u16,
    /// Time to live.
    pub ttl: u8,
    /// The connection key (zone = router) with ports or echo id when the packet has them.
    pub key: FlowKey,
    /// TCP flags, 0 otherwise.
    pub tcp_flags: u8,
    /// ICMP type, if ICMP with a header in this fragment.
    pub icmp_type: Option<u8>,
    /// True if the L4 header is in this packet (not a non-first fragment).
    pub has_l4: bool,
}

/// Parses and checks the IPv4 header at [`L3`] (RFC 1812 §5.2.2) and the ports behind it.
#[inline]
pub(super) fn parse(d: &[u8], zone: u16) -> Result<Ip4, DropReason> {
    let ip = ipv4::Packet::new_checked(&d[L3..]).map_err(|_| DropReason::Malformed)?;
    if !ip.verify_checksum() {
        return Err(DropReason::IpBadChecksum);
    }
    let hl = ip.header_len();
    let frag = ip.frag_word();
    let first = frag & 0x1fff == 0;
    let proto = ip.protocol();
    let l4 = &ip.payload();
    let mut m = Ip4 {
        hl,
        total: ip.total_len() as usize,
        frag,
        ttl: ip.ttl(),
        key: FlowKey {
            zone,
            proto,
            src: ip.src(),
            dst: ip.dst(),
            sport: 0,
            dport: 0,
        },
        tcp_flags: 0,
        icmp_type: None,
        has_l4: false,
    };
    match proto {
        ipv4::proto::TCP | ipv4::proto::UDP if first => {
            let need = if proto == ipv4::proto::TCP { 20 } else { 8 };
            if l4.len() < need {
                return Err(DropReason::Malformed);
            }
            m.key.sport = be16(l4, 0);
            m.key.dport = be16(l4, 2);
            m.tcp_flags = if proto == ipv4::proto::TCP { l4[13] } else { 0 };
            m.has_l4 = true;
        }
        ipv4::proto::ICMP if first => {
            if l4.len() < wicmp::HEADER_LEN {
                return Err(DropReason::Malformed);
            }
            m.icmp_type = Some(l4[0]);
            if matches!(l4[0], wicmp::kind::ECHO_REQUEST | wicmp::kind::ECHO_REPLY) {
                m.key.sport = be16(l4, 4);
                m.key.dport = m.key.sport;
            }
            m.has_l4 = true;
        }
        _ => {}
    }
    Ok(m)
}

/// Where a routed packet came in: what the router's answers and errors about it need.
#[derive(Clone, Copy)]
pub(super) struct Arrival<'a> {
    /// The device it was received on.
    pub in_port: PortIdx,
    /// The network of the router port it came in on.
    pub net: &'a NetConf,
    /// The router.
    pub r: &'a RouterConf,
    /// The router port it came in on.
    pub in_rp: RouterPortIdx,
}

/// Where a routed packet goes out: a router port and the next hop on its network.
#[derive(Clone, Copy)]
pub(super) struct NextHop<'a> {
    /// The router.
    pub r: &'a RouterConf,
    /// The router port it leaves by.
    pub out_rp: RouterPortIdx,
    /// The next hop's address (the destination itself when on-link).
    pub ip: u32,
}

/// The `router` node: routes an IPv4 frame that arrived on router `meta.router`'s port on
/// network `meta.net`.
#[inline]
pub(super) fn node<F: Frame, O: Io<F>>(
    dp: &mut Dataplane<F>,
    cx: &mut Ctx<'_, O>,
    meta: &mut Meta,
    mut frame: F,
) -> Step<F> {
    let (snap, now) = (cx.snap, cx.now);
    let router = usize::from(meta.router);
    let net = snap.network(meta.net).ok_or(DropReason::NotForUs)?;
    let r = snap.routers.get(router).ok_or(DropReason::NotForUs)?;
    let in_rp = r.port_on(net.local_vlan).ok_or(DropReason::NotForUs)?;
    if be16(frame.data(), 12) != ethernet::ethertype::IPV4 {
        return Err(DropReason::NotForUs);
    }
    let m = parse(frame.data(), router as u16)?;
    frame.truncate(L3 + m.total);
    dp.stats.router.received += 1;
    let at = Arrival {
        in_port: meta.in_port,
        net,
        r,
        in_rp,
    };
    match martian::check(r, in_rp, frame.data(), &m) {
        Ok(()) => {}
        Err(martian::Refusal::Drop(reason)) => return Err(reason),
        Err(martian::Refusal::BadOption(pointer)) => {
            let msg = icmp::param_problem(pointer);
            return Err(icmp::error(dp, cx.io, &at, &frame, &m, msg));
        }
    }

    // An existing session decides the translation; an ICMP error is matched by the packet
    // it quotes; a later fragment follows its first.
    let later = fragments::is_later(&m);
    let session = if later {
        None
    } else {
        dp.conntrack.lookup(&m.key)
    };
    if session.is_none() && m.icmp_type.is_some_and(is_icmp_error) {
        return nat::icmp_error_input(dp, cx, &at, meta, frame, &m);
    }
    let plan = match session {
        Some((idx, dir)) => nat::Plan::Existing(idx, dir),
        None if later => match fragments::at_router(dp, r, in_rp, frame.data(), &m, now) {
            fragments::Later::Route(plan) => plan,
            fragments::Later::Echo => return Ok(icmp::reply_in_place(&at, meta, frame, &m)),
            fragments::Later::Wait => return fragments::hold(dp, meta, frame, &m, now),
            fragments::Later::Discard => return Err(DropReason::ToRouter),
        },
        None => {
            if r.owns(m.key.dst) && !r.fixed_of.contains_key(&m.key.dst) {
                return icmp::to_router(dp, cx, &at, meta, frame, &m);
            }
            nat::plan_new(r, in_rp, &m)
        }
    };
    if let nat::Plan::Existing(idx, dir) = plan {
        if let Some(slot) = egress::cached(dp, idx, dir, &m) {
            return egress::send(dp, cx, &m, (idx, dir), slot, frame);
        }
    }
    let target = nat::target(dp, &plan, &m);
    let Some((out_rp, next_hop)) = r.lookup(target.dst) else {
        return Err(icmp::error(
            dp,
            cx.io,
            &at,
            &frame,
            &m,
            icmp::NET_UNREACHABLE,
        ));
    };
    // RFC 1812 §5.3.1: a packet whose TTL would reach 0 is discarded with time exceeded.
    if m.ttl <= 1 {
        return Err(icmp::error(dp, cx.io, &at, &frame, &m, icmp::TTL_EXCEEDED));
    }
    let out = &r.ports[out_rp];
    let too_big = m.total > out.mtu as usize;
    if too_big && m.frag & ipv4::FLAG_DF != 0 {
        let msg = icmp::frag_needed(out.mtu);
        return Err(icmp::error(dp, cx.io, &at, &frame, &m, msg));
    }
    let target = nat::commit(dp, &plan, &m, target, now)?;
    // A translated first fragment: its later fragments get the same addresses.
    let first = if fragments::is_first(&m) && !matches!(plan, nat::Plan::Plain) {
        let verdict = Verdict::Translate {
            src: target.src,
            dst: target.dst,
        };
        Some(fragments::decide_at_router(
            dp,
            frame.data(),
            &m,
            verdict,
            now,
        )?)
    } else {
        None
    };
    nat::rewrite(frame.data_mut(), &m, &target);
    decrement_ttl(frame.data_mut());
    dp.stats.router.forwarded += 1;
    if let nat::Plan::Existing(idx, dir) = plan {
        if !too_big && m.frag & 0x3fff == 0 {
            let key = adjacency::Key {
                router: router as u16,
                port: out_rp as u16,
                next_hop,
            };
            egress::link(dp, meta, key, out.mtu, (idx, dir));
        }
    }
    let hop = NextHop {
        r,
        out_rp,
        ip: next_hop,
    };
    let sent = if too_big {
        super::fragment::output(dp, cx, meta.in_port, &hop, frame).map(|()| Edge::Done)
    } else {
        output(dp, cx, meta, &hop, frame)
    };
    if let Some(k) = first {
        fragments::release(dp, &k, now);
    }
    sent
}

/// True for the ICMP types that quote an offending datagram.
pub(super) fn is_icmp_error(t: u8) -> bool {
    matches!(
        t,
        wicmp::kind::DEST_UNREACHABLE | wicmp::kind::TIME_EXCEEDED | wicmp::kind::PARAM_PROBLEM
    )
}

/// Decrements the TTL with an incremental checksum update (RFC 1624).
#[inline]
pub(super) fn decrement_ttl(d: &mut [u8]) {
    let old = be16(d, L3 + 8);
    d[L3 + 8] -= 1;
    let c = checksum::update16(be16(d, L3 + 10), old, be16(d, L3 + 8));
    put16(d, L3 + 10, c);
}

/// Sends a routed packet out of router port `hop.out_rp` towards `hop.ip`: the Ethernet
/// header is rewritten from the port to the next hop's MAC and the frame goes to the egress
/// network's L2 node, or it waits for ARP.
#[inline]
pub(super) fn output<F: Frame, O: Io<F>>(
    dp: &mut Dataplane<F>,
    cx: &mut Ctx<'_, O>,
    meta: &mut Meta,
    hop: &NextHop<'_>,
    mut frame: F,
) -> Step<F> {
    let out = &hop.r.ports[hop.out_rp];
    let mac = dp.router_neigh.resolve(hop.ip);
    ethernet::Repr {
        dst: mac.unwrap_or(Mac::ZERO),
        src: out.mac,
        ethertype: ethernet::ethertype::IPV4,
    }
    .emit(frame.data_mut());
    if mac.is_some() {
        meta.net = out.net;
        meta.from = Dest::Local;
        return Ok(Edge::To(Node::L2Switch, frame));
    }
    use crate::state::neighbours::Hold;
    match dp.router_neigh.hold(hop.ip, (out.net, frame), cx.now) {
        Hold::Held { request, dropped } => {
            dp.stats.drops[DropReason::NeighbourEvicted as usize] += dropped as u64;
            if request {
                send_arp_request(dp, cx.io, meta.in_port, out, hop.ip);
            }
            Ok(Edge::Done)
        }
        Hold::Full(_) => Err(DropReason::NeighbourQueueFull),
    }
}

/// A neighbour's address and MAC seen in ARP, and whether to create its entry.
#[derive(Clone, Copy, Debug)]
pub(super) struct Seen {
    /// Its IPv4 address.
    pub ip: u32,
    /// Its MAC address.
    pub mac: Mac,
    /// Create the entry if there is none (the ARP was for the router, from on-link).
    pub create: bool,
}

/// Records that a neighbour on a router port's network is at `seen.mac` (from ARP received
/// on `in_port`) and sends what was waiting for it.
pub(super) fn neighbour_seen<F: Frame>(
    dp: &mut Dataplane<F>,
    in_port: PortIdx,
    seen: Seen,
    now: Millis,
) {
    if seen.create {
        dp.share(SyncEvent::RouterNeighbour {
            ip: seen.ip,
            mac: seen.mac,
            port: in_port,
        });
    }
    release_held(dp, in_port, seen, now);
}

/// Records `seen` in the router ARP cache and queues the frames held for it to their
/// networks' L2 node; their drops count against `in_port`.
pub(super) fn release_held<F: Frame>(
    dp: &mut Dataplane<F>,
    in_port: PortIdx,
    seen: Seen,
    now: Millis,
) {
    for (net, mut f) in dp.router_neigh.confirm(seen.ip, seen.mac, now, seen.create) {
        f.data_mut()[0..6].copy_from_slice(&seen.mac.0);
        dp.graph.push(Node::L2Switch, Meta::local(in_port, net), f);
    }
}

/// Broadcasts an ARP request for `target` from router port `from` into its network.
pub(super) fn send_arp_request<F: Frame, O: Io<F>>(
    dp: &mut Dataplane<F>,
    io: &mut O,
    in_port: PortIdx,
    from: &RouterPort,
    target: u32,
) {
    let Some(frame) = super::tunnel::arp_frame(io, from.mac, from.ip, Mac::ZERO, target) else {
        dp.stats.drops[DropReason::NoBuffer as usize] += 1;
        return;
    };
    dp.stats.arp_requests += 1;
    dp.graph
        .push(Node::L2Switch, Meta::local(in_port, from.net), frame);
}

/// The router port (router, port) whose subnet holds `ip`, for ARP requests from timers.
pub(super) fn port_for(snap: &Snapshot, ip: u32) -> Option<(usize, usize)> {
    snap.routers.iter().enumerate().find_map(|(ri, r)| {
        let pi = r.ports.iter().position(|p| {
            let m = crate::tables::router::mask(p.prefix_len);
            ip & m == p.ip & m
        })?;
        Some((ri, pi))
    })
}
