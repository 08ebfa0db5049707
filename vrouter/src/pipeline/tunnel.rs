//! The tunnel nodes (br-tun's GRE ports): `underlay-input`, ARP and GRE termination on the
//! underlay, and `tunnel-encap`, GRE encapsulation towards peers (RFC 2784 with the key of
//! RFC 2890 = segmentation id).

use super::arp_frames::{arp_frame, trim_arp_reply};
use super::egress;
use super::io::Io;
use super::last_tunnel::LastTunnel;
use super::meta::Meta;
use super::node::{Ctx, Edge, Node, Step};
use super::node_state::{EncapState, UnderlayState};
use super::sync_event::SyncEvent;
use super::underlay::{ENCAP_LEN, UNDERLAY_MTU};
use crate::frame::Frame;
use crate::state::neighbours::Hold;
use crate::state::Millis;
use crate::stats::{DropReason, Stats};
use crate::tables::{Dest, PortIdx, Snapshot, Underlay};
use crate::wire::{arp, be16, ethernet, gre, ipv4, Error, Mac};

/// TTL of the outer header (Open vSwitch's default for tunnels).
const OUTER_TTL: u8 = 64;

/// Handles a frame from the underlay device: ARP for the local endpoint, or GRE to decap.
#[inline]
pub(super) fn underlay_node<F: Frame, O: Io<F>>(
    st: &mut UnderlayState<'_, F>,
    cx: &mut Ctx<'_, O>,
    meta: &mut Meta,
    frame: F,
) -> Step<F> {
    let u = cx.snap.underlay.as_ref().ok_or(DropReason::NoUnderlay)?;
    match be16(frame.data(), 12) {
        ethernet::ethertype::ARP => arp_input(st, u, meta.in_port, frame, cx.now, cx.io),
        ethernet::ethertype::IPV4 => decap(st, cx.snap, u, meta, frame),
        ethernet::ethertype::VLAN => Err(DropReason::VlanUnknown),
        _ => Err(DropReason::NotForUs),
    }
}

/// Records that the underlay neighbour `ip` is at `mac` (creating the entry if `create`) and
/// sends the frames held for it.
pub(super) fn release_held<F: Frame, O: Io<F>>(
    st: &mut UnderlayState<'_, F>,
    u: &Underlay,
    ip: u32,
    mac: Mac,
    create: bool,
    now: Millis,
    io: &mut O,
) {
    for mut held in st.underlay_neigh.confirm(ip, mac, now, create) {
        held.data_mut()[0..6].copy_from_slice(&mac.0);
        io.send(u.port, held);
    }
}

/// Learns the sender of an ARP packet on the underlay and answers requests for the local
/// endpoint address in place (RFC 826 "packet reception").
fn arp_input<F: Frame, O: Io<F>>(
    st: &mut UnderlayState<'_, F>,
    u: &Underlay,
    port: PortIdx,
    mut frame: F,
    now: Millis,
    io: &mut O,
) -> Step<F> {
    let body = &frame.data()[ethernet::HEADER_LEN..];
    let pkt = arp::Packet::new_checked(body).map_err(wire_drop)?;
    let req = arp::Repr::parse(&pkt).map_err(wire_drop)?;
    let for_us = req.tpa == u.local_ip;
    if !req.sha.is_unicast() {
        return Err(DropReason::InvalidSrcMac);
    }
    // Nobody else speaks for the local endpoint, nor for a host whose MAC the model gives.
    let claims_static = st
        .underlay_neigh
        .static_mac(req.spa)
        .is_some_and(|m| m != req.sha);
    if req.spa == u.local_ip || claims_static {
        return Err(DropReason::ArpSpoofed);
    }
    // RFC 826: update the sender if known; add it when the packet is for us and the sender
    // is on the underlay subnet (Linux creates entries only for on-link senders of requests
    // to its own address).
    let create = for_us && u.next_hop(req.spa) == Some(req.spa);
    if create {
        st.fx.share(SyncEvent::UnderlayNeighbour {
            ip: req.spa,
            mac: req.sha,
        });
    }
    release_held(st, u, req.spa, req.sha, create, now, io);
    if !for_us {
        return Err(DropReason::NotForUs);
    }
    if req.op != arp::op::REQUEST {
        st.fx.stats.arp_replies_received += 1;
        return Ok(Edge::Done);
    }
    let d = frame.data_mut();
    ethernet::Repr {
        dst: req.sha,
        src: u.mac,
        ethertype: ethernet::ethertype::ARP,
    }
    .emit(d);
    arp::Repr {
        op: arp::op::REPLY,
        sha: u.mac,
        spa: u.local_ip,
        tha: req.sha,
        tpa: req.spa,
    }
    .emit(&mut d[ethernet::HEADER_LEN..]);
    trim_arp_reply(&mut frame);
    st.fx.stats.arp_replies += 1;
    io.send(port, frame);
    Ok(Edge::Done)
}

/// Terminates a GRE packet for the local endpoint: checks it, maps the key to a network,
/// strips the outer headers and switches the inner frame (br-tun tables 0, 2, 10).
#[inline]
fn decap<F: Frame>(
    st: &mut UnderlayState<'_, F>,
    snap: &Snapshot,
    u: &Underlay,
    meta: &mut Meta,
    mut frame: F,
) -> Step<F> {
    let d = &frame.data()[ethernet::HEADER_LEN..];
    let ip = ipv4::Packet::new_checked(d).map_err(wire_drop)?;
    if ip.dst() != u.local_ip || ip.protocol() != ipv4::proto::GRE {
        return Err(DropReason::NotForUs);
    }
    if !ip.verify_checksum() {
        return Err(DropReason::Malformed);
    }
    if ip.is_fragment() {
        return Err(DropReason::Fragmented);
    }
    let src = ip.src();
    let outer = ethernet::HEADER_LEN + ip.header_len();
    let ip_end = ethernet::HEADER_LEN + ip.total_len() as usize;
    let g = gre::Packet::new_checked(ip.payload()).map_err(wire_drop)?;
    let repr = gre::Repr::parse(&g).map_err(|_| DropReason::GreUnsupported)?;
    if !g.verify_checksum() {
        return Err(DropReason::GreBadChecksum);
    }
    if repr.protocol != ethernet::ethertype::TEB {
        return Err(DropReason::GreUnsupported);
    }
    let key = repr.key;
    let net = match st.last_tunnel {
        Some(last) if last.peer == src && Some(last.key) == key => last.net,
        _ => {
            if !snap.peers.contains_key(&src) {
                return Err(DropReason::UnknownPeer);
            }
            let key = key.ok_or(DropReason::UnknownTunnelKey)?;
            let net = *snap
                .key_to_net
                .get(&key)
                .ok_or(DropReason::UnknownTunnelKey)?;
            *st.last_tunnel = Some(LastTunnel {
                peer: src,
                key,
                net,
            });
            net
        }
    };
    let outer = outer + g.header_len();
    frame.truncate(ip_end);
    frame.pull(outer);
    st.fx.stats.gre_decap += 1;
    meta.net = net;
    meta.from = Dest::Peer(src);
    Ok(Edge::To(Node::L2Switch, frame))
}

/// Encapsulates a frame of `meta.net` in GRE to peer `meta.to` and sends it on the
/// underlay, or holds it while the next hop's MAC is resolved.
#[inline]
pub(super) fn encap_node<F: Frame, O: Io<F>>(
    st: &mut EncapState<'_, F>,
    cx: &mut Ctx<'_, O>,
    meta: &mut Meta,
    mut frame: F,
) -> Step<F> {
    let (snap, now) = (cx.snap, cx.now);
    let Dest::Peer(remote) = meta.to else {
        return Err(DropReason::NoUnderlay);
    };
    let net = snap.network(meta.net).ok_or(DropReason::PortUnused)?;
    let key = net.tunnel_key.ok_or(DropReason::NoUnderlay)?;
    let u = snap.underlay.as_ref().ok_or(DropReason::NoUnderlay)?;
    let next_hop = u.next_hop(remote).ok_or(DropReason::NoUnderlay)?;
    let inner = frame.len();
    if ENCAP_LEN - ethernet::HEADER_LEN + inner > UNDERLAY_MTU {
        return Err(DropReason::TooBig);
    }
    let ident = st.ip_ident.next();
    let mac = st.underlay_neigh.resolve(next_hop);
    let d = frame.push(ENCAP_LEN).ok_or(DropReason::NoBuffer)?;
    ethernet::Repr {
        dst: mac.unwrap_or(Mac::ZERO),
        src: u.mac,
        ethertype: ethernet::ethertype::IPV4,
    }
    .emit(d);
    let gre_at = ethernet::HEADER_LEN + ipv4::MIN_HEADER_LEN;
    ipv4::Repr {
        tos: 0,
        payload_len: (ENCAP_LEN - gre_at + inner) as u16,
        ident,
        frag_word: ipv4::FLAG_DF,
        ttl: OUTER_TTL,
        protocol: ipv4::proto::GRE,
        src: u.local_ip,
        dst: remote,
    }
    .emit(&mut d[ethernet::HEADER_LEN..]);
    gre::Repr {
        protocol: ethernet::ethertype::TEB,
        checksum: false,
        key: Some(key),
        sequence: None,
    }
    .emit(&mut d[gre_at..]);
    st.fx.stats.gre_encap += 1;
    if mac.is_some() {
        if meta.egress != 0 {
            let header = &frame.data()[..ENCAP_LEN + ethernet::HEADER_LEN];
            egress::record_gre(&mut st.egress, meta, u.port, header);
        }
        cx.io.send(u.port, frame);
        return Ok(Edge::Done);
    }
    match st.underlay_neigh.hold(next_hop, frame, now) {
        Hold::Held { request, dropped } => {
            st.fx.stats.drops[DropReason::NeighbourEvicted as usize] += dropped as u64;
            if request {
                send_arp_request(st.fx.stats, snap, next_hop, cx.io);
            }
            Ok(Edge::Done)
        }
        Hold::Full(_) => Err(DropReason::NeighbourQueueFull),
    }
}

/// Why a GRE frame held for the underlay's next hop is dropped when ARP gives up: a copy
/// of a flooded frame (multicast or broadcast inside) is one of several and counted apart
/// (`flood_peer_unresolved`); anything else is a lost frame (`neighbour_timeout`).
pub(super) fn expired_reason<F: Frame>(frame: &F) -> DropReason {
    match frame.data().get(ENCAP_LEN) {
        Some(first) if first & 1 == 1 => DropReason::FloodPeerUnresolved,
        _ => DropReason::NeighbourTimeout,
    }
}

/// Broadcasts an ARP request for `ip` on the underlay.
pub(super) fn send_arp_request<F: Frame, O: Io<F>>(
    stats: &mut Stats,
    snap: &Snapshot,
    ip: u32,
    io: &mut O,
) {
    let Some(u) = snap.underlay.as_ref() else {
        return;
    };
    let Some(frame) = arp_frame(io, u.mac, u.local_ip, Mac::ZERO, ip) else {
        stats.drops[DropReason::NoBuffer as usize] += 1;
        return;
    };
    stats.arp_requests += 1;
    io.send(u.port, frame);
}

/// The drop reason for a header that failed to parse.
fn wire_drop(e: Error) -> DropReason {
    match e {
        Error::Truncated | Error::Malformed => DropReason::Malformed,
        Error::Unsupported => DropReason::NotForUs,
    }
}
