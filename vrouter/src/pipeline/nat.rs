//! NAT of the router through connection tracking: floating IPs 1:1 (DNAT in, SNAT out),
//! SNAT with port allocation to the gateway address (`enable_snat`), hairpin, and ICMP
//! errors about translated flows (RFC 5508 §4.2 style: the quoted datagram is translated
//! back too). Checksums are updated incrementally (RFC 1624).

use super::arp_resolve;
use super::hop::{Arrival, NextHop};
use super::io::Io;
use super::ip4::{self, Ip4, L3};
use super::meta::Meta;
use super::node::{Ctx, Edge, Step};
use super::node_state::RouterState;
use super::steer;
use crate::frame::Frame;
use crate::state::conntrack::{ChecksumDelta, CtError};
use crate::state::{Dir, FlowKey, Millis, Session};
use crate::stats::DropReason;
use crate::tables::router::{RouterConf, RouterPortIdx};
use crate::wire::checksum::{self, update32};
use crate::wire::{be16, be32, icmp as wicmp, ipv4, put16, put32};

/// First port SNAT allocates (below are the well-known and registered ports of the host).
const PORT_MIN: u16 = 1024;
/// Candidate ports tried before a new SNAT connection is refused: refusal stays cheap when
/// the ports of an address run out.
const PORT_PROBES: u32 = 64;

/// How the source of a first packet is translated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Snat {
    /// To a floating IP, ports kept (1:1).
    Floating(u32),
    /// To the gateway address, with a port allocated.
    Gateway(u32),
}

/// What NAT does with a packet.
#[derive(Clone, Copy, Debug)]
pub(super) enum Plan {
    /// It belongs to session `.0`, in direction `.1`.
    Existing(u32, Dir),
    /// A first packet: destination to a fixed IP, and/or source translated.
    New {
        /// Fixed IP behind the floating IP it is addressed to.
        dnat: Option<u32>,
        /// Source translation.
        snat: Option<Snat>,
    },
    /// Routed without translation and without a session.
    Plain,
    /// A later fragment: its addresses become those its first fragment got
    /// (fragments.rs); its ports are in the first fragment only.
    Follow {
        /// Source address after translation.
        src: u32,
        /// Destination address after translation.
        dst: u32,
    },
}

/// Decides the translation of a first packet that arrived on port `in_rp` of `r`.
pub(super) fn plan_new(r: &RouterConf, in_rp: RouterPortIdx, m: &Ip4) -> Plan {
    let dnat = r.fixed_of.get(&m.key.dst).copied();
    let dst = dnat.unwrap_or(m.key.dst);
    let Some((out_rp, _)) = r.lookup(dst) else {
        return Plan::Plain;
    };
    let inside_out = !r.ports[in_rp].external && r.ports[out_rp].external;
    let hairpin = dnat.is_some() && !r.ports[in_rp].external && !r.ports[out_rp].external;
    let snat = if inside_out || hairpin {
        match r.floating_of.get(&m.key.src) {
            Some(&fip) => Some(Snat::Floating(fip)),
            None => r.snat_ip.map(Snat::Gateway),
        }
    } else {
        None
    };
    if dnat.is_none() && snat.is_none() {
        Plan::Plain
    } else {
        Plan::New { dnat, snat }
    }
}

/// The tuple the packet will carry once translated (ports of a gateway SNAT are chosen
/// by [`commit`]).
#[inline]
pub(super) fn target<F>(st: &RouterState<'_, F>, plan: &Plan, m: &Ip4) -> FlowKey {
    match *plan {
        Plan::Existing(idx, dir) => st.conntrack.get(idx).map_or(m.key, |s| s.translated(dir)),
        Plan::New { dnat, snat } => {
            let mut t = m.key;
            if let Some(fixed) = dnat {
                t.dst = fixed;
            }
            match snat {
                Some(Snat::Floating(ip) | Snat::Gateway(ip)) => t.src = ip,
                None => {}
            }
            t
        }
        Plan::Plain => m.key,
        Plan::Follow { src, dst } => FlowKey { src, dst, ..m.key },
    }
}

/// What a packet is rewritten to: its translated tuple, and what the rewrite adds to its
/// checksums (its session's, computed when the session was created).
#[derive(Clone, Copy, Debug)]
pub(super) struct Translation {
    /// The tuple the packet leaves with.
    pub to: FlowKey,
    /// The checksum terms of rewriting the packet's tuple to `to`.
    pub delta: ChecksumDelta,
}

impl Translation {
    /// Direction `dir` of session `s`.
    #[inline]
    pub fn of(s: &Session, dir: Dir) -> Translation {
        Translation {
            to: s.translated(dir),
            delta: s.delta[dir as usize],
        }
    }
}

/// Creates the session of a first packet (allocating a port for gateway SNAT) or counts
/// the packet on its session; returns the final translation.
#[inline]
pub(super) fn commit<F>(
    st: &mut RouterState<'_, F>,
    plan: &Plan,
    m: &Ip4,
    mut t: FlowKey,
    now: Millis,
) -> Result<Translation, DropReason> {
    let sessionless = |t: FlowKey| Translation {
        to: t,
        delta: ChecksumDelta::between(&m.key, &t),
    };
    match *plan {
        Plan::Plain | Plan::Follow { .. } => Ok(sessionless(t)),
        Plan::Existing(idx, dir) => {
            st.conntrack.seen(idx, dir, m.total, m.tcp_flags, now);
            Ok(st
                .conntrack
                .get(idx)
                .map_or_else(|| sessionless(t), |s| Translation::of(s, dir)))
        }
        Plan::New { snat, .. } => {
            if matches!(snat, Some(Snat::Gateway(_))) && has_ports(m) {
                let found = if st.nat_exhausted.refuses(&t, now) {
                    None
                } else {
                    allocate_port(st, m, t)
                };
                let port = found.ok_or_else(|| {
                    st.nat_exhausted.remember(&t, now);
                    st.fx.stats.router.nat_ports_exhausted += 1;
                    DropReason::NatPortsExhausted
                })?;
                t.sport = port;
                if m.key.proto == ipv4::proto::ICMP {
                    t.dport = port;
                }
            }
            let idx = st.conntrack.create(m.key, t, now).map_err(|e| match e {
                CtError::Full => DropReason::ConntrackFull,
                CtError::ZoneFull => DropReason::ConntrackZoneFull,
                CtError::Collision => DropReason::NatCollision,
            })?;
            st.conntrack.seen(idx, Dir::Orig, m.total, m.tcp_flags, now);
            Ok(st
                .conntrack
                .get(idx)
                .map_or_else(|| sessionless(t), |s| Translation::of(s, Dir::Orig)))
        }
    }
}

/// True if the flow has ports (TCP, UDP) or an echo id (ICMP echo) to translate.
fn has_ports(m: &Ip4) -> bool {
    matches!(m.key.proto, ipv4::proto::TCP | ipv4::proto::UDP)
        || matches!(
            m.icmp_type,
            Some(wicmp::kind::ECHO_REQUEST | wicmp::kind::ECHO_REPLY)
        )
}

/// A source port (or echo id) for `t` whose reply key no session uses: the original port
/// if free, else a few candidates spread over 1024-65535 from a hash of the flow.
fn allocate_port<F>(st: &RouterState<'_, F>, m: &Ip4, t: FlowKey) -> Option<u16> {
    // The reply must hash to this worker ([`steer`]) and match no other session.
    let free = |t: &FlowKey, p: u16| {
        let mut c = *t;
        c.sport = p;
        if c.proto == ipv4::proto::ICMP {
            c.dport = p;
        }
        steer::owns_ports(c.sport, c.dport, st.worker, st.fx.workers)
            && !st.conntrack.contains(&c.reverse())
    };
    if m.key.sport >= PORT_MIN && free(&t, m.key.sport) {
        return Some(m.key.sport);
    }
    let span = u32::from(u16::MAX - PORT_MIN) + 1;
    let h = (m.key.src ^ m.key.dst.rotate_left(7))
        .wrapping_mul(0x9e37_79b1)
        .wrapping_add(u32::from(m.key.sport) << 16 | u32::from(m.key.dport));
    for i in 0..PORT_PROBES {
        let p = PORT_MIN + ((h.wrapping_add(i.wrapping_mul(7919))) % span) as u16;
        if free(&t, p) {
            return Some(p);
        }
    }
    None
}

/// Rewrites the packet of `d` (parsed as `m`) by translation `t`.
#[inline]
pub(super) fn rewrite(d: &mut [u8], m: &Ip4, t: &Translation) {
    apply_at(d, Located::parsed(m), &t.to, t.delta);
}

/// An IPv4 packet in a buffer: where its header starts, its header length, whether its
/// L4 header is there, and its tuple.
struct Located<'k> {
    at: usize,
    hl: usize,
    has_l4: bool,
    key: &'k FlowKey,
}

impl Located<'_> {
    /// The packet at [`L3`] that `m` describes.
    #[inline]
    fn parsed(m: &Ip4) -> Located<'_> {
        Located {
            at: L3,
            hl: m.hl,
            has_l4: m.has_l4,
            key: &m.key,
        }
    }
}

/// Rewrites the IPv4 packet `p` of `d` to tuple `t`, adding `delta` to its checksums.
/// Checksum fields beyond the end of `d` (a quoted datagram is cut short) are left alone.
#[inline]
fn apply_at(d: &mut [u8], p: Located<'_>, t: &FlowKey, delta: ChecksumDelta) {
    let (at, from) = (p.at, p.key);
    let l4 = at + p.hl;
    let len = d.len();
    let fits = |n: usize| l4 + n <= len;
    for (off, old, new) in [(12, from.src, t.src), (16, from.dst, t.dst)] {
        if old != new {
            put32(d, at + off, new);
        }
    }
    // RFC 1624: the terms of every changed field, summed once, apply to each checksum.
    if delta.ip != 0 {
        let c = checksum::adjust(be16(d, at + 10), delta.ip);
        put16(d, at + 10, c);
    }
    if !p.has_l4 || !fits(8) {
        return;
    }
    let csum_at = match from.proto {
        ipv4::proto::TCP if fits(18) => Some(l4 + 16),
        ipv4::proto::UDP if be16(d, l4 + 6) != 0 => Some(l4 + 6),
        ipv4::proto::ICMP => Some(l4 + 2),
        _ => None,
    };
    let ports: &[(usize, u16, u16)] = if from.proto == ipv4::proto::ICMP {
        &[(l4 + 4, from.sport, t.sport)]
    } else {
        &[(l4, from.sport, t.sport), (l4 + 2, from.dport, t.dport)]
    };
    for &(off, old, new) in ports {
        if old != new {
            put16(d, off, new);
        }
    }
    // Without a checksum field (UDP without checksum, a quoted datagram cut short), the
    // ports change alone.
    let Some(c_at) = csum_at else {
        return;
    };
    if delta.l4 != 0 {
        let c = checksum::adjust(be16(d, c_at), delta.l4);
        put16(d, c_at, c);
    }
    // RFC 768: a computed UDP checksum of zero is sent as all ones.
    if from.proto == ipv4::proto::UDP && be16(d, c_at) == 0 {
        put16(d, c_at, 0xffff);
    }
}

/// An ICMP error arriving at the router: if the datagram it quotes belongs to a session,
/// the error goes to that session's original host with the quoted datagram translated
/// back; otherwise it is routed (or taken) as it is.
pub(super) fn icmp_error_input<F: Frame, O: Io<F>>(
    st: &mut RouterState<'_, F>,
    cx: &mut Ctx<'_, O>,
    at: &Arrival<'_>,
    meta: &mut Meta,
    mut frame: F,
    m: &Ip4,
) -> Step<F> {
    let q = L3 + m.hl + wicmp::HEADER_LEN;
    let d = frame.data();
    let quoted = quoted_key(&d[q..], meta.router).ok_or(DropReason::Malformed)?;
    let Some((idx, dir)) = st.conntrack.lookup(&quoted.reverse()) else {
        if at.r.owns(m.key.dst) {
            st.fx.stats.router.icmp_errors_received += 1;
            return Ok(Edge::Done);
        }
        return forward_plain(st, cx, at.r, meta, frame, m);
    };
    let s = *st.conntrack.get(idx).ok_or(DropReason::Malformed)?;
    // The quoted datagram as its sender emitted it, before translation.
    let before = if dir == Dir::Reply { s.orig } else { s.reply };
    let ihl = usize::from(d[q] & 0x0f) * 4;
    // RFC 5508 §4.2 (Linux nf_nat_icmp_reply_translation): the outer header is translated
    // like a packet of the session going back: to the original sender and, when the error
    // comes from the host the datagram was sent to (a VM behind its floating IP), from the
    // address that host has outside. An error from a router on the way keeps its source.
    let outer = FlowKey {
        src: if m.key.src == quoted.dst {
            before.dst
        } else {
            m.key.src
        },
        dst: before.src,
        ..m.key
    };
    let d = frame.data_mut();
    let inner = Located {
        at: q,
        hl: ihl,
        has_l4: true,
        key: &quoted,
    };
    apply_at(d, inner, &before, ChecksumDelta::between(&quoted, &before));
    for (off, old, new) in [(12, m.key.src, outer.src), (16, m.key.dst, outer.dst)] {
        if old != new {
            put32(d, L3 + off, new);
            let c = update32(be16(d, L3 + 10), old, new);
            put16(d, L3 + 10, c);
        }
    }
    let icmp_at = L3 + m.hl;
    put16(d, icmp_at + 2, 0);
    let c = checksum::checksum(&d[icmp_at..L3 + m.total]);
    put16(d, icmp_at + 2, c);
    st.fx.stats.router.icmp_errors_translated += 1;
    let moved = Ip4 { key: outer, ..*m };
    forward_plain(st, cx, at.r, meta, frame, &moved)
}

/// The connection key of a datagram quoted in an ICMP error (its header and 8 bytes).
pub(super) fn quoted_key(b: &[u8], zone: u16) -> Option<FlowKey> {
    if b.len() < ipv4::MIN_HEADER_LEN + 8 || b[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(b[0] & 0x0f) * 4;
    if ihl < ipv4::MIN_HEADER_LEN || b.len() < ihl + 8 {
        return None;
    }
    let proto = b[9];
    let l4 = &b[ihl..];
    let (sport, dport) = match proto {
        ipv4::proto::ICMP => (be16(l4, 4), be16(l4, 4)),
        _ => (be16(l4, 0), be16(l4, 2)),
    };
    Some(FlowKey {
        zone,
        proto,
        src: be32(b, 12),
        dst: be32(b, 16),
        sport,
        dport,
    })
}

/// Routes a packet without translation (TTL decremented; no ICMP error about it, as
/// RFC 1812 §4.3.2.7 forbids errors about ICMP errors).
fn forward_plain<F: Frame, O: Io<F>>(
    st: &mut RouterState<'_, F>,
    cx: &mut Ctx<'_, O>,
    r: &RouterConf,
    meta: &mut Meta,
    mut frame: F,
    m: &Ip4,
) -> Step<F> {
    let (out_rp, next_hop) = r.lookup(m.key.dst).ok_or(DropReason::NoRoute)?;
    if m.ttl <= 1 {
        return Err(DropReason::TtlExceeded);
    }
    if m.total > usize::from(r.ports[out_rp].mtu) {
        return Err(DropReason::FragNeeded);
    }
    ip4::decrement_ttl(frame.data_mut());
    st.fx.stats.router.forwarded += 1;
    let hop = NextHop {
        r,
        out_rp,
        ip: next_hop,
    };
    arp_resolve::output(st, cx, meta, &hop, frame)
}

#[cfg(test)]
mod tests {
    use super::super::nat_exhausted::Exhausted;
    use crate::state::FlowKey;

    fn flow(sport: u16, dst: u32, dport: u16) -> FlowKey {
        FlowKey {
            zone: 0,
            proto: 17,
            src: 0x0a01_6550,
            dst,
            sport,
            dport,
        }
    }

    #[test]
    fn an_exhausted_destination_is_refused_for_a_while_whatever_the_source_port() {
        let mut x = Exhausted::new();
        let t = flow(1024, 0x0808_0808, 53);
        assert!(!x.refuses(&t, 0));
        x.remember(&t, 5000);
        assert!(x.refuses(&flow(4000, 0x0808_0808, 53), 5999));
        assert!(!x.refuses(&flow(4000, 0x0808_0808, 53), 6000), "held 1 s");
        assert!(
            !x.refuses(&flow(4000, 0x0808_0808, 54), 5500),
            "another port"
        );
        assert!(
            !x.refuses(&flow(4000, 0x0808_0404, 53), 5500),
            "another host"
        );
    }
}
