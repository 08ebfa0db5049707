//! The router stage (the `qrouter-<id>` namespace): IPv4 forwarding per RFC 1812 between a
//! router's ports, with NAT through connection tracking, ICMP errors and echo, MTU handling
//! and next-hop resolution by ARP.
//!
//! Order per packet: header checks (§5.2.2) → NAT decision (existing session, or floating
//! IP / SNAT for a first packet) → local delivery or route lookup → TTL (§5.3.1) and MTU
//! (RFC 1191) checks on the packet as it arrived → session created, headers rewritten →
//! L2 rewrite towards the next hop → the egress network's L2 stage.

use super::{fragments, icmp, l2, martian, nat, Dataplane, Io, SyncEvent};
use crate::frame::Frame;
use crate::state::fragments::Verdict;
use crate::state::{FlowKey, Millis};
use crate::stats::DropReason;
use crate::tables::router::RouterConf;
use crate::tables::{Dest, NetConf, NetIdx, PortIdx, Snapshot};
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

/// Routes an IPv4 frame that arrived on router `router`'s port on network `net`.
#[inline]
#[allow(clippy::too_many_arguments)]
pub(super) fn input<F: Frame, O: Io<F>>(
    dp: &mut Dataplane<F>,
    snap: &Snapshot,
    in_port: PortIdx,
    net: &NetConf,
    router: usize,
    mut frame: F,
    now: Millis,
    io: &mut O,
) -> Result<(), DropReason> {
    let r = snap.routers.get(router).ok_or(DropReason::NotForUs)?;
    let in_rp = r.port_on(net.local_vlan).ok_or(DropReason::NotForUs)?;
    if be16(frame.data(), 12) != ethernet::ethertype::IPV4 {
        return Err(DropReason::NotForUs);
    }
    let m = parse(frame.data(), router as u16)?;
    frame.truncate(L3 + m.total);
    dp.stats.router.received += 1;
    match martian::check(r, in_rp, frame.data(), &m) {
        Ok(()) => {}
        Err(martian::Refusal::Drop(reason)) => return Err(reason),
        Err(martian::Refusal::BadOption(at)) => {
            let msg = icmp::param_problem(at);
            return icmp::error(dp, snap, in_port, net, r, in_rp, &frame, &m, msg, now, io);
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
        return nat::icmp_error_input(dp, snap, in_port, r, router, frame, &m, now, io);
    }
    let plan = match session {
        Some((idx, dir)) => nat::Plan::Existing(idx, dir),
        None if later => match fragments::at_router(dp, r, in_rp, frame.data(), &m, now) {
            fragments::Later::Route(plan) => plan,
            fragments::Later::Echo => {
                return icmp::reply_in_place(dp, snap, in_port, net, r, in_rp, frame, &m, now, io)
            }
            fragments::Later::Wait => {
                return fragments::hold(dp, in_port, net, router, frame, &m, now)
            }
            fragments::Later::Discard => return Err(DropReason::ToRouter),
        },
        None => {
            if r.owns(m.key.dst) && !r.fixed_of.contains_key(&m.key.dst) {
                return icmp::to_router(dp, snap, in_port, net, r, in_rp, frame, &m, now, io);
            }
            nat::plan_new(r, in_rp, &m)
        }
    };
    let target = nat::target(dp, &plan, &m);
    let Some((out_rp, next_hop)) = r.lookup(target.dst) else {
        return icmp::error(
            dp,
            snap,
            in_port,
            net,
            r,
            in_rp,
            &frame,
            &m,
            icmp::NET_UNREACHABLE,
            now,
            io,
        );
    };
    // RFC 1812 §5.3.1: a packet whose TTL would reach 0 is discarded with time exceeded.
    if m.ttl <= 1 {
        return icmp::error(
            dp,
            snap,
            in_port,
            net,
            r,
            in_rp,
            &frame,
            &m,
            icmp::TTL_EXCEEDED,
            now,
            io,
        );
    }
    let out = &r.ports[out_rp];
    let too_big = m.total > out.mtu as usize;
    if too_big && m.frag & ipv4::FLAG_DF != 0 {
        let msg = icmp::frag_needed(out.mtu);
        return icmp::error(dp, snap, in_port, net, r, in_rp, &frame, &m, msg, now, io);
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
    let sent = if too_big {
        super::fragment::output(dp, snap, in_port, r, out_rp, next_hop, frame, now, io)
    } else {
        output(dp, snap, in_port, r, out_rp, next_hop, frame, now, io)
    };
    if let Some(k) = first {
        fragments::release(dp, snap, &k, now, io);
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

/// Sends a routed packet out of router port `out_rp` towards `next_hop`: the Ethernet
/// header is rewritten from the port to the next hop's MAC, or the packet waits for ARP.
#[inline]
#[allow(clippy::too_many_arguments)]
pub(super) fn output<F: Frame, O: Io<F>>(
    dp: &mut Dataplane<F>,
    snap: &Snapshot,
    in_port: PortIdx,
    r: &RouterConf,
    out_rp: usize,
    next_hop: u32,
    mut frame: F,
    now: Millis,
    io: &mut O,
) -> Result<(), DropReason> {
    let out = &r.ports[out_rp];
    let mac = dp.router_neigh.resolve(next_hop);
    ethernet::Repr {
        dst: mac.unwrap_or(Mac::ZERO),
        src: out.mac,
        ethertype: ethernet::ethertype::IPV4,
    }
    .emit(frame.data_mut());
    if mac.is_some() {
        return l2::switch(dp, snap, in_port, out.net, Dest::Local, frame, now, io);
    }
    use crate::state::neighbours::Hold;
    match dp.router_neigh.hold(next_hop, (out.net, frame), now) {
        Hold::Held { request, dropped } => {
            dp.stats.drops[DropReason::NeighbourEvicted as usize] += dropped as u64;
            if request {
                send_arp_request(
                    dp, snap, in_port, out.net, out.mac, out.ip, next_hop, now, io,
                );
            }
            Ok(())
        }
        Hold::Full(_) => Err(DropReason::NeighbourQueueFull),
    }
}

/// Records that `ip` is at `mac` on a router port's network (from ARP) and sends what was
/// waiting for it.
#[allow(clippy::too_many_arguments)]
pub(super) fn neighbour_seen<F: Frame, O: Io<F>>(
    dp: &mut Dataplane<F>,
    snap: &Snapshot,
    in_port: PortIdx,
    ip: u32,
    mac: Mac,
    for_us: bool,
    now: Millis,
    io: &mut O,
) {
    if for_us {
        dp.share(SyncEvent::RouterNeighbour {
            ip,
            mac,
            port: in_port,
        });
    }
    release_held(dp, snap, in_port, ip, mac, for_us, now, io);
}

/// Records `ip` at `mac` in the router ARP cache (creating the entry if `create`) and
/// switches the frames held for it; drops count against `in_port`.
#[allow(clippy::too_many_arguments)]
pub(super) fn release_held<F: Frame, O: Io<F>>(
    dp: &mut Dataplane<F>,
    snap: &Snapshot,
    in_port: PortIdx,
    ip: u32,
    mac: Mac,
    create: bool,
    now: Millis,
    io: &mut O,
) {
    for (net, mut f) in dp.router_neigh.confirm(ip, mac, now, create) {
        f.data_mut()[0..6].copy_from_slice(&mac.0);
        if let Err(reason) = l2::switch(dp, snap, in_port, net, Dest::Local, f, now, io) {
            dp.stats.drop(in_port, reason);
        }
    }
}

/// Broadcasts an ARP request for `target` from a router port (`mac`, `ip`) on `net`.
#[allow(clippy::too_many_arguments)]
pub(super) fn send_arp_request<F: Frame, O: Io<F>>(
    dp: &mut Dataplane<F>,
    snap: &Snapshot,
    in_port: PortIdx,
    net: NetIdx,
    mac: Mac,
    ip: u32,
    target: u32,
    now: Millis,
    io: &mut O,
) {
    let Some(frame) = super::tunnel::arp_frame(io, mac, ip, Mac::ZERO, target) else {
        dp.stats.drops[DropReason::NoBuffer as usize] += 1;
        return;
    };
    dp.stats.arp_requests += 1;
    if let Err(reason) = l2::switch(dp, snap, in_port, net, Dest::Local, frame, now, io) {
        dp.stats.drop(in_port, reason);
    }
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
