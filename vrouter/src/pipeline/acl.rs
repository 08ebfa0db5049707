//! The security group stage: Neutron's iptables firewall driver semantics applied to a
//! locally bound VM port, both ways, through connection tracking (zone = the port).
//!
//! Out of the VM (`-o…`): DHCP requests pass; the source check (`-s…`: MAC and IP must be
//! the port's own or an allowed address pair, ARP included); DHCP server replies from a VM
//! are dropped; INVALID is dropped; ESTABLISHED and RELATED pass; a NEW connection needs
//! an egress rule. Into the VM (`-i…`): INVALID dropped; ESTABLISHED and RELATED pass;
//! replies of the subnet's DHCP server pass; a NEW connection needs an ingress rule.
//! Packets of known connections never look at the rules.

use super::ip4::{self, Ip4, L3};
use super::node_state::AclState;
use super::zone::zone;
use super::{fragments, ipv6_guard, nat};
use crate::frame::Frame;
use crate::state::conntrack::{
    tcp_flags, tcp_flags_valid, tcp_may_start, CtError, Segment, TcpVerdict,
};
use crate::state::{Dir, Millis};
use crate::stats::DropReason;
use crate::tables::acl::PortAcl;
use crate::tables::PortIdx;
use crate::wire::{arp, be16, be32, ethernet, icmp as wicmp, ipv4, Mac};

/// Session mark: the connection was opened towards the VM.
const MARK_INGRESS: u8 = 1;

/// Which way a packet crosses the port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Way {
    /// Out of the VM.
    Egress,
    /// Into the VM.
    Ingress,
}

impl<F> AclState<'_, F> {
    /// Counts a first packet of `bytes` allowed by rule `rule` of `port`'s `way` chain.
    pub(super) fn count_rule(&mut self, port: PortIdx, way: Way, rule: usize, bytes: usize) {
        let Some((ingress, egress)) = self.acl_hits.get_mut(port as usize) else {
            return;
        };
        let chain = if way == Way::Ingress { ingress } else { egress };
        if let Some(c) = chain.get_mut(rule) {
            c.0 += 1;
            c.1 += bytes as u64;
        }
    }
}

/// Filters a frame crossing VM port `port` in direction `way`.
#[inline]
pub(super) fn filter<F: Frame>(
    st: &mut AclState<'_, F>,
    acl: &PortAcl,
    port: PortIdx,
    way: Way,
    frame: &F,
    now: Millis,
) -> Result<(), DropReason> {
    let d = frame.data();
    let src_mac = Mac::from_bytes(&d[6..12]);
    if way == Way::Egress && !acl.mac_ok(src_mac) {
        return Err(DropReason::Spoofed);
    }
    match be16(d, 12) {
        ethernet::ethertype::ARP if way == Way::Egress => {
            let p = arp::Packet::new_checked(&d[L3..]).map_err(|_| DropReason::Malformed)?;
            // An ARP probe (RFC 5227 §2.1.1) has sender address 0.
            if p.sha() != src_mac || (p.spa() != 0 && !acl.source_ok(p.sha(), p.spa())) {
                return Err(DropReason::Spoofed);
            }
            Ok(())
        }
        ethernet::ethertype::IPV4 => {
            let m = ip4::parse(d, zone(port))?;
            ipv4_filter(st, acl, port, way, d, src_mac, &m, now)?;
            if fragments::is_first(&m) {
                fragments::passed_port(st, d, &m, now)?;
            }
            Ok(())
        }
        ethernet::ethertype::IPV6 => Err(ipv6_guard::refusal(d, way == Way::Egress)),
        _ => Ok(()),
    }
}

/// The IPv4 part of the chains.
#[inline]
#[allow(clippy::too_many_arguments)]
fn ipv4_filter<F: Frame>(
    st: &mut AclState<'_, F>,
    acl: &PortAcl,
    port: PortIdx,
    way: Way,
    d: &[u8],
    src_mac: Mac,
    m: &Ip4,
    now: Millis,
) -> Result<(), DropReason> {
    let k = &m.key;
    let dhcp = |sport, dport| k.proto == ipv4::proto::UDP && k.sport == sport && k.dport == dport;
    if way == Way::Egress {
        if dhcp(68, 67) {
            return Ok(());
        }
        if !acl.source_ok(src_mac, k.src) {
            return Err(DropReason::Spoofed);
        }
        if dhcp(67, 68) {
            return Err(DropReason::RogueDhcp);
        }
    } else if dhcp(67, 68) && acl.dhcp_servers.contains(&k.src) {
        return Ok(());
    }
    // Fragments after the first carry no ports: they pass only if the first passed.
    if fragments::is_later(m) {
        return fragments::at_port(st, d, m, now);
    }
    let seg = (k.proto == ipv4::proto::TCP).then(|| segment(d, m));
    if let Some((idx, dir)) = st.conntrack.lookup(k) {
        let s = st.conntrack.get_mut(idx).ok_or(DropReason::SgInvalid)?;
        match seg.map_or(TcpVerdict::Valid, |seg| s.tcp_check(dir, &seg)) {
            TcpVerdict::Valid => {
                st.conntrack.seen(idx, dir, m.total, m.tcp_flags, now);
                st.fx.stats.acl.established += 1;
                return Ok(());
            }
            TcpVerdict::Invalid => {
                st.fx.stats.acl.invalid += 1;
                return Err(DropReason::SgInvalid);
            }
            // A SYN on the tuple of a closed connection: a NEW connection, rules again.
            TcpVerdict::Reopen => st.conntrack.reopen(idx),
        }
    }
    if m.icmp_type.is_some_and(ip4::is_icmp_error) {
        return related(st, d, m);
    }
    // Linux nf_conntrack_tcp_loose=1 (the default): a SYN, or a mid-stream ACK (a
    // connection from before a restart), may start a session; an RST or FIN may not.
    if seg.is_some_and(|seg| !tcp_flags_valid(seg.flags) || !tcp_may_start(seg.flags)) {
        st.fx.stats.acl.invalid += 1;
        return Err(DropReason::SgInvalid);
    }
    let (rules, remote) = match way {
        Way::Egress => (&acl.egress, k.dst),
        Way::Ingress => (&acl.ingress, k.src),
    };
    let (dport, code) = match m.icmp_type {
        Some(t) => (u16::from(t), d[L3 + m.hl + 1]),
        None => (k.dport, 0),
    };
    let Some(rule) = PortAcl::first_match(rules, k.proto, dport, code, remote) else {
        st.fx.stats.acl.denied += 1;
        return Err(DropReason::SgDenied);
    };
    st.count_rule(port, way, rule, m.total);
    let idx = st.conntrack.create(*k, *k, now).map_err(|e| match e {
        CtError::Full => DropReason::ConntrackFull,
        CtError::ZoneFull => DropReason::ConntrackZoneFull,
        CtError::Collision => DropReason::SgInvalid,
    })?;
    st.conntrack.seen(idx, Dir::Orig, m.total, m.tcp_flags, now);
    if let Some(s) = st.conntrack.get_mut(idx) {
        s.mark = if way == Way::Ingress { MARK_INGRESS } else { 0 };
        if let Some(seg) = seg {
            s.tcp_in_window(Dir::Orig, &seg);
        }
    }
    st.fx.stats.acl.new += 1;
    Ok(())
}

/// RELATED: an ICMP error about a connection of this port passes; any other is INVALID.
fn related<F>(st: &mut AclState<'_, F>, d: &[u8], m: &Ip4) -> Result<(), DropReason> {
    let quoted = &d[L3 + m.hl + wicmp::HEADER_LEN..];
    let known = nat::quoted_key(quoted, m.key.zone)
        .is_some_and(|q| st.conntrack.lookup(&q.reverse()).is_some());
    if known {
        st.fx.stats.acl.related += 1;
        Ok(())
    } else {
        st.fx.stats.acl.invalid += 1;
        Err(DropReason::SgInvalid)
    }
}

/// The TCP fields window tracking needs (the caller checked the header is there).
fn segment(d: &[u8], m: &Ip4) -> Segment {
    let t = L3 + m.hl;
    let doff = usize::from(d[t + 12] >> 4) * 4;
    let payload = m.total.saturating_sub(m.hl + doff) as u32;
    let flags = d[t + 13];
    Segment {
        seq: be32(d, t + 4),
        ack: be32(d, t + 8),
        win: be16(d, t + 14),
        len: payload,
        flags,
        wscale: if flags & tcp_flags::SYN != 0 {
            window_scale(&d[(t + 20).min(d.len())..(t + doff).min(d.len())])
        } else {
            None
        },
    }
}

/// The window scale option (kind 3, RFC 7323 §2.2) among TCP options, if present.
fn window_scale(mut opts: &[u8]) -> Option<u8> {
    while let [kind, rest @ ..] = opts {
        match kind {
            0 => return None,
            1 => opts = rest,
            _ => {
                let len = usize::from(*rest.first()?);
                if len < 2 || len > opts.len() {
                    return None;
                }
                if *kind == 3 && len == 3 {
                    return Some(opts[2]);
                }
                opts = &opts[len..];
            }
        }
    }
    None
}

/// True if the session `s` (in a port zone) is still allowed by `acl`: the rule that let
/// its first packet through, or another, still exists.
pub(super) fn still_allowed(acl: &PortAcl, s: &crate::state::Session) -> bool {
    let k = &s.orig;
    let (rules, remote) = if s.mark & MARK_INGRESS != 0 {
        (&acl.ingress, k.src)
    } else {
        (&acl.egress, k.dst)
    };
    let dport = if k.proto == ipv4::proto::ICMP {
        // Echo sessions key on the id; the rule matched the echo request type.
        u16::from(wicmp::kind::ECHO_REQUEST)
    } else {
        k.dport
    };
    PortAcl::first_match(rules, k.proto, dport, 0, remote).is_some()
}
