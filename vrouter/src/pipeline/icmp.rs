//! ICMP the router originates: echo replies for its own addresses, and errors about packets
//! it cannot forward (RFC 1812 §4.3), rate-limited.

use super::fragments;
use super::hop::Arrival;
use super::io::Io;
use super::ip4::{Ip4, L3};
use super::meta::Meta;
use super::node::{Ctx, Edge, Node, Step};
use super::node_state::RouterState;
use crate::frame::Frame;
use crate::state::fragments::Verdict;
use crate::stats::DropReason;
use crate::tables::Dest;
use crate::wire::checksum::{self, update16};
use crate::wire::{be16, ethernet, icmp as wicmp, ipv4, put16, put32, Mac};

/// Bytes of the offending datagram an error quotes at most: the error stays within 576
/// bytes (RFC 1812 §4.3.2.3).
const QUOTE_MAX: usize = 576 - ipv4::MIN_HEADER_LEN - wicmp::HEADER_LEN;
/// ICMP errors a worker sends per second at most (RFC 1812 §4.3.2.8).
pub(super) const ERRORS_PER_SECOND: u32 = 1000;
/// TOS of errors: internetwork control (RFC 1812 §4.3.2.5).
const ERROR_TOS: u8 = 0xc0;

/// An ICMP error to send, and the reason the offending packet is dropped.
#[derive(Clone, Copy, Debug)]
pub(super) struct Msg {
    kind: u8,
    code: u8,
    rest: [u8; 4],
    reason: DropReason,
}

/// Destination net unreachable: no route.
pub(super) const NET_UNREACHABLE: Msg = Msg {
    kind: wicmp::kind::DEST_UNREACHABLE,
    code: wicmp::unreachable::NET,
    rest: [0; 4],
    reason: DropReason::NoRoute,
};
/// Time exceeded in transit.
pub(super) const TTL_EXCEEDED: Msg = Msg {
    kind: wicmp::kind::TIME_EXCEEDED,
    code: 0,
    rest: [0; 4],
    reason: DropReason::TtlExceeded,
};
/// Port unreachable: nothing listens on the router's address.
const PORT_UNREACHABLE: Msg = Msg {
    kind: wicmp::kind::DEST_UNREACHABLE,
    code: wicmp::unreachable::PORT,
    rest: [0; 4],
    reason: DropReason::ToRouter,
};

/// Fragmentation needed and DF set, with the next-hop MTU (RFC 1191 §4).
pub(super) fn frag_needed(mtu: u16) -> Msg {
    let m = mtu.to_be_bytes();
    Msg {
        kind: wicmp::kind::DEST_UNREACHABLE,
        code: wicmp::unreachable::FRAG_NEEDED,
        rest: [0, 0, m[0], m[1]],
        reason: DropReason::FragNeeded,
    }
}

/// Parameter problem, pointer to the offending octet of the header (RFC 792): a malformed
/// IPv4 option.
pub(super) fn param_problem(pointer: u8) -> Msg {
    Msg {
        kind: wicmp::kind::PARAM_PROBLEM,
        code: 0,
        rest: [pointer, 0, 0, 0],
        reason: DropReason::IpOptionsMalformed,
    }
}

/// Sends `msg` about `frame` to its source from the router port it came in on, unless
/// RFC 1812 §4.3.2.7 forbids an error about this packet; returns the reason `frame` is
/// dropped for.
pub(super) fn error<F: Frame, O: Io<F>>(
    st: &mut RouterState<'_, F>,
    io: &mut O,
    at: &Arrival<'_>,
    frame: &F,
    m: &Ip4,
    msg: Msg,
) -> DropReason {
    let d = frame.data();
    let src = m.key.src;
    let forbidden = m
        .icmp_type
        .is_some_and(|t| !matches!(t, wicmp::kind::ECHO_REQUEST | wicmp::kind::ECHO_REPLY))
        || m.frag & 0x1fff != 0
        || Mac::from_bytes(&d[0..6]).is_multicast()
        || src == 0
        || src >> 24 == 127
        || src >> 28 >= 14
        || m.key.dst >> 28 >= 14;
    if forbidden {
        return msg.reason;
    }
    if *st.icmp_tokens == 0 {
        st.fx.stats.router.icmp_rate_limited += 1;
        return msg.reason;
    }
    *st.icmp_tokens -= 1;
    let quote = (m.total).min(QUOTE_MAX);
    let len = L3 + ipv4::MIN_HEADER_LEN + wicmp::HEADER_LEN + quote;
    let Some(mut out) = io.alloc() else {
        st.fx.stats.drops[DropReason::NoBuffer as usize] += 1;
        return msg.reason;
    };
    let port = &at.r.ports[at.in_rp];
    let ident = st.ip_ident.next();
    let Some(b) = out.append(len) else {
        st.fx.stats.drops[DropReason::NoBuffer as usize] += 1;
        return msg.reason;
    };
    ethernet::Repr {
        dst: Mac::from_bytes(&d[6..12]),
        src: port.mac,
        ethertype: ethernet::ethertype::IPV4,
    }
    .emit(b);
    ipv4::Repr {
        tos: ERROR_TOS,
        payload_len: (wicmp::HEADER_LEN + quote) as u16,
        ident,
        frag_word: 0,
        ttl: 64,
        protocol: ipv4::proto::ICMP,
        src: port.ip,
        dst: src,
    }
    .emit(&mut b[L3..]);
    let icmp_at = L3 + ipv4::MIN_HEADER_LEN;
    b[icmp_at + wicmp::HEADER_LEN..].copy_from_slice(&d[L3..L3 + quote]);
    wicmp::emit(&mut b[icmp_at..], msg.kind, msg.code, msg.rest);
    st.fx.stats.router.icmp_errors += 1;
    st.fx.queues.push(
        Node::L2Switch,
        Meta::local(at.in_port, at.net.local_vlan),
        out,
    );
    msg.reason
}

/// A packet addressed to one of the router's own addresses: echo requests are answered in
/// place (RFC 792), UDP gets port unreachable, the rest is dropped. A fragmented echo
/// request is answered fragment by fragment, each in place with the addresses swapped (the
/// reply fits every link the request crossed): the type changes in the first fragment only,
/// and its incremental checksum update holds for the whole message (RFC 1624). That needs
/// no reassembly buffer beyond an mbuf; the later fragments follow by the first's verdict
/// (fragments.rs).
pub(super) fn to_router<F: Frame, O: Io<F>>(
    st: &mut RouterState<'_, F>,
    cx: &mut Ctx<'_, O>,
    at: &Arrival<'_>,
    meta: &mut Meta,
    mut frame: F,
    m: &Ip4,
) -> Step<F> {
    let now = cx.now;
    let echo = m.key.proto == ipv4::proto::ICMP && m.icmp_type == Some(wicmp::kind::ECHO_REQUEST);
    let first = if fragments::is_first(m) {
        let verdict = if echo {
            Verdict::Echo
        } else {
            Verdict::Discard
        };
        Some(fragments::decide_at_router(
            st,
            frame.data(),
            m,
            verdict,
            now,
        )?)
    } else {
        None
    };
    let answered = if echo {
        let icmp_at = L3 + m.hl;
        let d = frame.data_mut();
        // Echo reply: type 8 → 0 in the first word.
        let c = update16(be16(d, icmp_at + 2), be16(d, icmp_at), 0);
        d[icmp_at] = wicmp::kind::ECHO_REPLY;
        d[icmp_at + 1] = 0;
        put16(d, icmp_at + 2, c);
        if c == 0 && first.is_none() {
            // RFC 1624 §5: the update gives +0 where a reply of all zeroes needs -0 (0xffff);
            // +0 is right only if the reply sums to -0, so it is computed in full then (a
            // fragment holds only part of the message: there the update stands).
            let c = checksum::checksum(&d[icmp_at..L3 + m.total]);
            put16(d, icmp_at + 2, c);
        }
        st.fx.stats.router.echo_replies += 1;
        Ok(reply_in_place(at, meta, frame, m))
    } else if m.key.proto == ipv4::proto::UDP {
        Err(error(st, cx.io, at, &frame, m, PORT_UNREACHABLE))
    } else {
        Err(DropReason::ToRouter)
    };
    if let Some(k) = first {
        fragments::release(st, &k, now);
    }
    answered
}

/// Sends `frame` back where it came from as the router's answer: MACs and addresses
/// swapped, a fresh TTL, the IPv4 checksum computed. A later fragment of an echo request
/// goes back so, as the matching fragment of the reply (see [`to_router`]).
pub(super) fn reply_in_place<F: Frame>(
    at: &Arrival<'_>,
    meta: &mut Meta,
    mut frame: F,
    m: &Ip4,
) -> Edge<F> {
    let d = frame.data_mut();
    let peer = Mac::from_bytes(&d[6..12]);
    ethernet::Repr {
        dst: peer,
        src: at.r.ports[at.in_rp].mac,
        ethertype: ethernet::ethertype::IPV4,
    }
    .emit(d);
    put32(d, L3 + 12, m.key.dst);
    put32(d, L3 + 16, m.key.src);
    d[L3 + 8] = 64;
    put16(d, L3 + 10, 0);
    let c = checksum::checksum(&d[L3..L3 + m.hl]);
    put16(d, L3 + 10, c);
    meta.net = at.net.local_vlan;
    meta.from = Dest::Local;
    Edge::To(Node::L2Switch, frame)
}
