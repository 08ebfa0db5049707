//! Cached egress of established routed flows. The slow path of a session's packet (FIB
//! lookup, next-hop neighbour, the egress network's L2 lookup, tag or GRE encapsulation)
//! links the session's direction to an adjacency ([`crate::state::adjacency`]) and the
//! node that sends the frame records the header it built there. Later packets of the
//! direction are translated, get their TTL decremented (RFC 1812 §5.3.1) and are sent with
//! that header in the router node: one session lookup, apply, send. A change of the
//! forwarding state (snapshot, MAC table, neighbours) moves the generation and every flow
//! resolves once more through the slow path.
//!
//! Not cached (always the slow path): fragments, packets that would be fragmented or
//! answered with an ICMP error (TTL, MTU), flooded frames, and frames into a port with
//! security groups (their own connection state is tracked on the way out).

use super::io::Io;
use super::ip4::{self, Ip4};
use super::meta::Meta;
use super::nat::{self, Translation};
use super::node::{Ctx, Edge, Step};
use super::node_state::{EgressRecord, RouterState};
use super::underlay::{ENCAP_LEN, UNDERLAY_MTU};
use crate::frame::Frame;
use crate::state::adjacency::{Encap, Key, Link, Resolved};
use crate::state::Dir;
use crate::stats::DropReason;
use crate::tables::PortIdx;
use crate::wire::{checksum, ethernet, ipv4, put16, Mac};

/// Where the outer IPv4 header starts in a GRE header.
const OUTER_IP: usize = ethernet::HEADER_LEN;

/// Links direction `dir` of session `idx` to the adjacency of `key` (router port MTU
/// `mtu`) at the current generation, and marks the frame so that the node sending it
/// records its egress there.
pub(super) fn link<F>(
    st: &mut RouterState<'_, F>,
    meta: &mut Meta,
    key: Key,
    mtu: u16,
    at: (u32, Dir),
) {
    let slot = st.adjacencies.slot(key, mtu);
    let gen = st.forwarding_gen();
    let Some(s) = st.conntrack.get_mut(at.0) else {
        return;
    };
    s.egress[at.1 as usize] = Link { slot, gen };
    meta.egress = slot + 1;
    meta.egress_gen = gen;
}

/// The adjacency slot a packet of direction `dir` of session `idx` may be sent by without
/// the slow path, if its link is valid and the packet needs nothing the slow path does.
#[inline]
pub(super) fn cached<F>(st: &RouterState<'_, F>, idx: u32, dir: Dir, m: &Ip4) -> Option<u32> {
    // Later fragments follow their first; a TTL at its end gets an ICMP error.
    if m.ttl <= 1 || m.frag & 0x3fff != 0 {
        return None;
    }
    let link = st.conntrack.get(idx)?.egress[dir as usize];
    let e = st.adjacencies.valid(link, st.forwarding_gen())?;
    (m.total <= usize::from(e.max_ip_len)).then_some(link.slot)
}

/// Translates, ages and sends a packet of session `at` by adjacency `slot` ([`cached`]:
/// the session is there).
#[inline]
pub(super) fn send<F: Frame, O: Io<F>>(
    st: &mut RouterState<'_, F>,
    cx: &mut Ctx<'_, O>,
    m: &Ip4,
    at: (u32, Dir),
    slot: u32,
    mut frame: F,
) -> Step<F> {
    let s = st.conntrack.get(at.0).ok_or(DropReason::NotForUs)?;
    let translation = Translation::of(s, at.1);
    st.conntrack.seen(at.0, at.1, m.total, m.tcp_flags, cx.now);
    nat::rewrite(frame.data_mut(), m, &translation);
    ip4::decrement_ttl(frame.data_mut());
    st.fx.stats.router.forwarded += 1;
    st.fx.stats.router.forwarded_cached += 1;
    let Some(e) = st.adjacencies.get(slot) else {
        return Err(DropReason::NotForUs);
    };
    let (len, device, encap, counter) = (usize::from(e.len), e.device, e.encap, e.mac_counter);
    if let Some(counter) = counter {
        st.mac.count(counter, frame.len());
    }
    let extra = len - ethernet::HEADER_LEN;
    let d = frame.push(extra).ok_or(DropReason::NoBuffer)?;
    d[..len].copy_from_slice(&e.header[..len]);
    if encap == Encap::Gre {
        let total = (d.len() - ethernet::HEADER_LEN) as u16;
        let ident = st.ip_ident.next();
        let d = frame.data_mut();
        let c = u16::from_be_bytes([d[OUTER_IP + 10], d[OUTER_IP + 11]]);
        let c = checksum::update16(checksum::update16(c, 0, total), 0, ident);
        put16(d, OUTER_IP + 2, total);
        put16(d, OUTER_IP + 4, ident);
        put16(d, OUTER_IP + 10, c);
        st.fx.stats.gre_encap += 1;
    }
    cx.io.send(device, frame);
    Ok(Edge::Done)
}

/// Records the egress of a routed frame the `port-output` node sends on `device` unfiltered
/// (`header`: its Ethernet header with the tag, if any).
pub(super) fn record_port(rec: &mut EgressRecord<'_>, meta: &Meta, device: PortIdx, header: &[u8]) {
    let r = Resolved {
        gen: meta.egress_gen,
        device,
        encap: Encap::Ethernet,
        header,
        ip_limit: u16::MAX,
        mac_counter: None,
    };
    record(rec, meta, r);
}

/// Records the egress of a routed frame the `tunnel-encap` node sends on the underlay
/// device `device` (`header`: outer Ethernet, IPv4, GRE and inner Ethernet as sent; the
/// outer total length, identification and checksum are normalised to 0 here).
pub(super) fn record_gre(rec: &mut EgressRecord<'_>, meta: &Meta, device: PortIdx, header: &[u8]) {
    let mut h = [0u8; ENCAP_LEN + ethernet::HEADER_LEN];
    if header.len() != h.len() {
        return;
    }
    h.copy_from_slice(header);
    for at in [OUTER_IP + 2, OUTER_IP + 4, OUTER_IP + 10] {
        put16(&mut h, at, 0);
    }
    let c = checksum::checksum(&h[OUTER_IP..OUTER_IP + ipv4::MIN_HEADER_LEN]);
    put16(&mut h, OUTER_IP + 10, c);
    let limit = UNDERLAY_MTU - (ENCAP_LEN - OUTER_IP) - ethernet::HEADER_LEN;
    let r = Resolved {
        gen: meta.egress_gen,
        device,
        encap: Encap::Gre,
        header: &h,
        ip_limit: limit as u16,
        mac_counter: None,
    };
    record(rec, meta, r);
}

/// Records `r` for the frame's adjacency, if the router marked it, with the MAC table's
/// counter of the next hop (whose MAC leads the inner Ethernet header), if it was learned.
fn record(rec: &mut EgressRecord<'_>, meta: &Meta, r: Resolved<'_>) {
    let Some(slot) = meta.egress.checked_sub(1) else {
        return;
    };
    let inner = match r.encap {
        Encap::Ethernet => 0,
        Encap::Gre => ENCAP_LEN,
    };
    let next_hop = Mac::from_bytes(&r.header[inner..inner + 6]);
    let mac_counter = rec.mac.counter_slot(meta.net, next_hop);
    rec.adjacencies.record(slot, Resolved { mac_counter, ..r });
}
