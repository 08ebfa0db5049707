//! The router stage (the `qrouter-<id>` namespace): IPv4 forwarding per RFC 1812 between a
//! router's ports, with NAT through connection tracking, ICMP errors and echo, MTU handling
//! and next-hop resolution by ARP.
//!
//! Order per packet: header checks (§5.2.2) → NAT decision (existing session, or floating
//! IP / SNAT for a first packet) → local delivery or route lookup → TTL (§5.3.1) and MTU
//! (RFC 1191) checks on the packet as it arrived → session created, headers rewritten →
//! L2 rewrite towards the next hop → the egress network's L2 stage.

use super::arp_resolve::output;
use super::hop::{Arrival, NextHop};
use super::io::Io;
use super::ip4::{decrement_ttl, is_icmp_error, parse, L3};
use super::meta::Meta;
use super::node::{Ctx, Edge, Step};
use super::node_state::RouterState;
use super::{egress, fragment, fragments, icmp, martian, nat};
use crate::frame::Frame;
use crate::state::adjacency;
use crate::state::fragments::Verdict;
use crate::stats::DropReason;
use crate::wire::{be16, ethernet, ipv4};

/// The `router` node: routes an IPv4 frame that arrived on router `meta.router`'s port on
/// network `meta.net`.
#[inline]
pub(super) fn node<F: Frame, O: Io<F>>(
    st: &mut RouterState<'_, F>,
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
    st.fx.stats.router.received += 1;
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
            return Err(icmp::error(st, cx.io, &at, &frame, &m, msg));
        }
    }

    // An existing session decides the translation; an ICMP error is matched by the packet
    // it quotes; a later fragment follows its first.
    let later = fragments::is_later(&m);
    let session = if later {
        None
    } else {
        st.conntrack.lookup(&m.key)
    };
    if session.is_none() && m.icmp_type.is_some_and(is_icmp_error) {
        return nat::icmp_error_input(st, cx, &at, meta, frame, &m);
    }
    let plan = match session {
        Some((idx, dir)) => nat::Plan::Existing(idx, dir),
        None if later => match fragments::at_router(st, r, in_rp, frame.data(), &m, now) {
            fragments::Later::Route(plan) => plan,
            fragments::Later::Echo => return Ok(icmp::reply_in_place(&at, meta, frame, &m)),
            fragments::Later::Wait => return fragments::hold(st, meta, frame, &m, now),
            fragments::Later::Discard => return Err(DropReason::ToRouter),
        },
        None => {
            if r.owns(m.key.dst) && !r.fixed_of.contains_key(&m.key.dst) {
                return icmp::to_router(st, cx, &at, meta, frame, &m);
            }
            nat::plan_new(r, in_rp, &m)
        }
    };
    if let nat::Plan::Existing(idx, dir) = plan {
        if let Some(slot) = egress::cached(st, idx, dir, &m) {
            return egress::send(st, cx, &m, (idx, dir), slot, frame);
        }
    }
    let target = nat::target(st, &plan, &m);
    let Some((out_rp, next_hop)) = r.lookup(target.dst) else {
        return Err(icmp::error(
            st,
            cx.io,
            &at,
            &frame,
            &m,
            icmp::NET_UNREACHABLE,
        ));
    };
    // RFC 1812 §5.3.1: a packet whose TTL would reach 0 is discarded with time exceeded.
    if m.ttl <= 1 {
        return Err(icmp::error(st, cx.io, &at, &frame, &m, icmp::TTL_EXCEEDED));
    }
    let out = &r.ports[out_rp];
    let too_big = m.total > out.mtu as usize;
    if too_big && m.frag & ipv4::FLAG_DF != 0 {
        let msg = icmp::frag_needed(out.mtu);
        return Err(icmp::error(st, cx.io, &at, &frame, &m, msg));
    }
    let target = nat::commit(st, &plan, &m, target, now)?;
    // A translated first fragment: its later fragments get the same addresses.
    let first = if fragments::is_first(&m) && !matches!(plan, nat::Plan::Plain) {
        let verdict = Verdict::Translate {
            src: target.to.src,
            dst: target.to.dst,
        };
        Some(fragments::decide_at_router(
            st,
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
    st.fx.stats.router.forwarded += 1;
    if let nat::Plan::Existing(idx, dir) = plan {
        if !too_big && m.frag & 0x3fff == 0 {
            let key = adjacency::Key {
                router: router as u16,
                port: out_rp as u16,
                next_hop,
            };
            egress::link(st, meta, key, out.mtu, (idx, dir));
        }
    }
    let hop = NextHop {
        r,
        out_rp,
        ip: next_hop,
    };
    let sent = if too_big {
        fragment::output(st, cx, meta.in_port, &hop, frame).map(|()| Edge::Done)
    } else {
        output(st, cx, meta, &hop, frame)
    };
    if let Some(k) = first {
        fragments::release(st, &k, now);
    }
    sent
}
