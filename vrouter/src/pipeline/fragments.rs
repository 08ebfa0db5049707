//! Later fragments (offset > 0, no L4 header) at the router and at security group ports:
//! they follow what their datagram's first fragment got ([`crate::state::fragments`]).
//!
//! At the router a translated first fragment records its translated addresses, and the
//! later ones get only their addresses rewritten (the first fragment's L4 checksum update
//! covered the whole datagram, RFC 1624); a first fragment addressed to the router records
//! whether it was answered (echo) or not. A later fragment whose first has not come waits
//! in a bounded pool when its datagram needs a port translation (SNAT to the gateway
//! address) or is for the router; one that needs none, or only a floating IP's 1:1
//! translation, is routed at once (address-only decisions are the same for every fragment).
//! At a port, a later fragment passes only if its first fragment passed the filter, as
//! Linux, which defragments before the filter, never lets an orphan fragment through; at a
//! port the fragment is borrowed, not owned, so one arriving before its first is an orphan.
//!
//! With several workers every later fragment is steered to the worker its first fragment
//! went to (fragment_steer.rs), so these decisions are made by the flow's owner as
//! with one worker (`docs/multicore.md`).

use super::dataplane::Dataplane;
use super::held_fragment::HeldFragment;
use super::ip4::{Ip4, L3};
use super::meta::Meta;
use super::nat;
use super::node::{Edge, Node, Step};
use super::node_state::{AclState, RouterState};
use crate::frame::Frame;
use crate::state::fragments::{FragKey, Held, Piece, Verdict};
use crate::state::Millis;
use crate::stats::DropReason;
use crate::tables::router::{RouterConf, RouterPortIdx};
use crate::wire::{be16, ipv4};

/// What the router does with a later fragment.
#[derive(Clone, Copy, Debug)]
pub(super) enum Later {
    /// Route it with this plan (its first's translation, or none).
    Route(nat::Plan),
    /// Answer it in place: its first was an echo request to the router.
    Echo,
    /// Keep it until its first fragment decides.
    Wait,
    /// Drop it: its first was addressed to the router and not answered.
    Discard,
}

/// True for a fragment after the first (it carries no L4 header).
#[inline]
pub(super) fn is_later(m: &Ip4) -> bool {
    m.frag & 0x1fff != 0
}

/// True for the first fragment of a datagram that has more (offset 0, MF).
#[inline]
pub(super) fn is_first(m: &Ip4) -> bool {
    m.frag & (ipv4::FLAG_MF | 0x1fff) == ipv4::FLAG_MF
}

/// The identity of the datagram of the IPv4 packet at [`L3`] of `d`.
#[inline]
fn key(d: &[u8], m: &Ip4) -> FragKey {
    FragKey {
        zone: m.key.zone,
        proto: m.key.proto,
        id: be16(d, L3 + 4),
        src: m.key.src,
        dst: m.key.dst,
    }
}

/// Where the fragment lies in its datagram.
#[inline]
fn piece(m: &Ip4) -> Piece {
    Piece {
        offset: u32::from(m.frag & 0x1fff) * 8,
        len: (m.total - m.hl) as u32,
        last: m.frag & ipv4::FLAG_MF == 0,
    }
}

/// What the router does with later fragment `m` (of frame bytes `d`) that arrived on port
/// `in_rp` of `r`.
pub(super) fn at_router<F>(
    st: &mut RouterState<'_, F>,
    r: &RouterConf,
    in_rp: RouterPortIdx,
    d: &[u8],
    m: &Ip4,
    now: Millis,
) -> Later {
    match st.fragments.follow(&key(d, m), piece(m), now) {
        Some(Verdict::Translate { src, dst }) => {
            st.fx.stats.router.fragments_followed += 1;
            Later::Route(nat::Plan::Follow { src, dst })
        }
        Some(Verdict::Echo) => {
            st.fx.stats.router.fragments_followed += 1;
            Later::Echo
        }
        Some(Verdict::Discard) => Later::Discard,
        Some(Verdict::Pass | Verdict::Pending | Verdict::Steer { .. }) | None => {
            let for_router = r.owns(m.key.dst) && !r.fixed_of.contains_key(&m.key.dst);
            match nat::plan_new(r, in_rp, m) {
                _ if for_router => Later::Wait,
                nat::Plan::Plain => Later::Route(nat::Plan::Plain),
                // 1:1 NAT (a floating IP) translates by address alone, as its first was.
                plan @ nat::Plan::New {
                    snat: None | Some(nat::Snat::Floating(_)),
                    ..
                } => {
                    let t = nat::target(st, &plan, m);
                    Later::Route(nat::Plan::Follow {
                        src: t.src,
                        dst: t.dst,
                    })
                }
                _ => Later::Wait,
            }
        }
    }
}

/// Keeps later fragment `frame` (`m`; received on `meta.in_port` into router
/// `meta.router` from `meta.net`) until its first fragment decides.
pub(super) fn hold<F: Frame>(
    st: &mut RouterState<'_, F>,
    meta: &Meta,
    frame: F,
    m: &Ip4,
    now: Millis,
) -> Step<F> {
    let k = key(frame.data(), m);
    let item = HeldFragment {
        port: meta.in_port,
        net: meta.net,
        router: meta.router,
        frame,
    };
    match st.fragments.hold(&k, item, now) {
        Held::Waiting => {
            st.fx.stats.router.fragments_held += 1;
            Ok(Edge::Done)
        }
        Held::Full(_) => Err(DropReason::FragmentTableFull),
    }
}

/// Records `verdict` of first fragment `m` (frame bytes `d`) at the router, before it is
/// sent; an error if the table has no room (its later fragments could not follow).
pub(super) fn decide_at_router<F>(
    st: &mut RouterState<'_, F>,
    d: &[u8],
    m: &Ip4,
    verdict: Verdict,
    now: Millis,
) -> Result<FragKey, DropReason> {
    let k = key(d, m);
    st.fragments
        .decide(&k, verdict, piece(m), now)
        .ok_or(DropReason::FragmentTableFull)?;
    st.fx.stats.router.fragments_tracked += 1;
    Ok(k)
}

/// Routes again the later fragments of `k` that waited for their first, now decided: they
/// go back to the router node, behind the first (so that the datagram leaves in order).
pub(super) fn release<F: Frame>(st: &mut RouterState<'_, F>, k: &FragKey, now: Millis) {
    while let Some(h) = st.fragments.release(k, now) {
        st.fx.stats.router.fragments_released += 1;
        let mut meta = Meta::local(h.port, h.net);
        meta.router = h.router;
        st.fx.queues.push(Node::Router, meta, h.frame);
    }
}

/// A later fragment at a security group port (`m`, frame bytes `d`): it passes only if
/// its first fragment passed.
pub(super) fn at_port<F>(
    st: &mut AclState<'_, F>,
    d: &[u8],
    m: &Ip4,
    now: Millis,
) -> Result<(), DropReason> {
    match st.fragments.follow(&key(d, m), piece(m), now) {
        Some(Verdict::Pass) => {
            st.fx.stats.acl.fragments_passed += 1;
            Ok(())
        }
        _ => Err(DropReason::FragmentOrphan),
    }
}

/// Records that first fragment `m` (frame bytes `d`) passed a port's filter; an error if
/// the table has no room (its later fragments would be dropped as orphans).
pub(super) fn passed_port<F>(
    st: &mut AclState<'_, F>,
    d: &[u8],
    m: &Ip4,
    now: Millis,
) -> Result<(), DropReason> {
    st.fragments
        .decide(&key(d, m), Verdict::Pass, piece(m), now)
        .ok_or(DropReason::FragmentTableFull)
}

/// Ends the entries whose datagrams did not complete in time; the fragments still waiting
/// for a first that never came are dropped and counted.
pub(super) fn expire<F>(dp: &mut Dataplane<F>, now: Millis) {
    let stats = &mut dp.stats;
    dp.fragments
        .expire(now, |h| stats.drop(h.port, DropReason::FragmentTimeout));
}
