//! Fragments with several workers: a datagram's later fragments carry no ports, so they go
//! to the worker its first fragment went to, the owner of its flow (steer.rs).
//!
//! The owner records where the first fragment went before it runs it (a first that finds
//! no room is dropped, `fragment_table_full`: its later fragments could not follow), and,
//! if it is not worker 0, tells worker 0 after the burst ([`SyncEvent::Fragment`], one per
//! datagram). A later fragment goes to the worker its datagram is recorded for; one that
//! the receiving worker knows nothing about goes to worker 0, which holds it in a bounded
//! pool ([`crate::state::fragments::HELD_MAX`]) until its first fragment is recorded there
//! or in an event, and then runs it or hands it to the owner. What waits longer than
//! [`STEER_TIMEOUT_MS`] is dropped and counted (`fragment_timeout`), as are fragments that
//! find the pool full (`fragment_table_full`). So the owner meets every fragment after its
//! first, and its own fragment table (fragments.rs) decides as with one worker.

use super::dataplane::{Dataplane, Steering};
use super::io::Io;
use super::meta::Meta;
use super::node::{Ctx, Edge, Node, Step};
use super::node_state::SteerState;
use super::steer::{self, Fragment};
use super::sync_event::SyncEvent;
use crate::frame::Frame;
use crate::state::fragments::{FragKey, Held, Piece, Verdict};
use crate::state::{Fragments, Millis};
use crate::stats::DropReason;

/// Life of a record of where a datagram's first fragment went, and longest wait of a later
/// fragment for it: a datagram's fragments travel together, a second is ample.
pub const STEER_TIMEOUT_MS: Millis = 2_000;

/// A fresh steering table.
pub(super) fn table<F>() -> Steering<F> {
    Fragments::with_timeout(STEER_TIMEOUT_MS)
}

/// The `steer` node, with several workers: sends `frame` (received on `meta.in_port`, or
/// handed over by another worker) on to `port-input`, hands it to the worker that owns its
/// flow, or holds it.
pub(super) fn node<F: Frame, O: Io<F>>(
    st: &mut SteerState<'_, F>,
    cx: &mut Ctx<'_, O>,
    meta: &mut Meta,
    frame: F,
) -> Step<F> {
    let s = steer::steer(frame.data(), st.fx.workers);
    let handed = meta.handed;
    match s.fragment {
        _ if !handed && s.owner != st.worker && s.fragment.is_none_or(|f| f.is_first()) => {
            st.fx.stats.handed_off += 1;
            // A whole datagram needs no more steering; a first fragment is recorded there.
            let resume = match s.fragment {
                None => Node::PortInput,
                Some(_) => Node::Steer,
            };
            cx.io.handoff(s.owner, meta.in_port, frame, resume);
            Ok(Edge::Done)
        }
        Some(f) if f.is_first() => first(st, cx, meta, frame, f),
        // Worker 0 sent it here, to the owner of its first.
        Some(_) if handed && st.worker != 0 => Ok(Edge::To(Node::PortInput, frame)),
        Some(f) => later(st, cx, meta, frame, f),
        None => Ok(Edge::To(Node::PortInput, frame)),
    }
}

/// A first fragment at the owner of its flow: recorded, queued ahead of the later ones
/// that waited for it, and made known.
fn first<F: Frame, O: Io<F>>(
    st: &mut SteerState<'_, F>,
    cx: &mut Ctx<'_, O>,
    meta: &Meta,
    frame: F,
    f: Fragment,
) -> Step<F> {
    let worker = st.worker;
    st.steered
        .decide(&f.key, Verdict::Steer { worker }, f.piece, cx.now)
        .ok_or(DropReason::FragmentTableFull)?;
    st.fx.queues.push(Node::PortInput, *meta, frame);
    if worker == 0 {
        release(st, cx.io, &f.key, 0, cx.now);
    } else {
        st.fx.share(SyncEvent::Fragment {
            key: f.key,
            first: f.piece,
            worker,
        });
    }
    Ok(Edge::Done)
}

/// A later fragment: to the worker its first went to, else to worker 0, which waits for it.
fn later<F: Frame, O: Io<F>>(
    st: &mut SteerState<'_, F>,
    cx: &mut Ctx<'_, O>,
    meta: &Meta,
    frame: F,
    f: Fragment,
) -> Step<F> {
    let port = meta.in_port;
    match st.steered.follow(&f.key, f.piece, cx.now) {
        Some(Verdict::Steer { worker }) if worker == st.worker => {
            Ok(Edge::To(Node::PortInput, frame))
        }
        Some(Verdict::Steer { worker }) => {
            st.fx.stats.handed_off += 1;
            cx.io.handoff(worker, port, frame, Node::Steer);
            Ok(Edge::Done)
        }
        _ if st.worker != 0 => {
            st.fx.stats.handed_off += 1;
            cx.io.handoff(0, port, frame, Node::Steer);
            Ok(Edge::Done)
        }
        _ => match st.steered.hold(&f.key, (port, frame), cx.now) {
            Held::Full(_) => Err(DropReason::FragmentTableFull),
            Held::Waiting => Ok(Edge::Done),
        },
    }
}

/// On worker 0: the first fragment of `key` (`first`) went to `worker`; the later ones
/// that waited go there.
pub(super) fn owned_by<F: Frame, O: Io<F>>(
    st: &mut SteerState<'_, F>,
    io: &mut O,
    key: &FragKey,
    first: Piece,
    worker: u16,
    now: Millis,
) {
    if st.worker != 0 {
        return;
    }
    // No room: nothing could have been held for it either; its fragments meet a full table.
    if st
        .steered
        .decide(key, Verdict::Steer { worker }, first, now)
        .is_some()
    {
        release(st, io, key, worker, now);
    }
}

/// Sends the later fragments of `key` that waited on to `worker`, where its first went.
fn release<F: Frame, O: Io<F>>(
    st: &mut SteerState<'_, F>,
    io: &mut O,
    key: &FragKey,
    worker: u16,
    now: Millis,
) {
    while let Some((port, frame)) = st.steered.release(key, now) {
        if let Some(f) = steer::steer(frame.data(), st.fx.workers).fragment {
            // Counted towards the datagram's completion, which ends the record.
            st.steered.follow(key, f.piece, now);
        }
        if worker == st.worker {
            st.fx
                .queues
                .push(Node::PortInput, Meta::received(port, false), frame);
        } else {
            st.fx.stats.handed_off += 1;
            io.handoff(worker, port, frame, Node::Steer);
        }
    }
}

/// Ends the records older than [`STEER_TIMEOUT_MS`]; fragments that waited that long for
/// their first are dropped and counted.
pub(super) fn expire<F>(dp: &mut Dataplane<F>, now: Millis) {
    let stats = &mut dp.stats;
    dp.steered.expire(now, |(port, _)| {
        stats.drop(port, DropReason::FragmentTimeout)
    });
}
