//! Fragments with several workers: a datagram's later fragments carry no ports, so they go
//! to the worker its first fragment went to, the owner of its flow ([`super::steer`]).
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
//! first, and its own fragment table ([`super::fragments`]) decides as with one worker.

use super::steer::{self, Fragment};
use super::{Dataplane, Io, SyncEvent};
use crate::frame::Frame;
use crate::state::fragments::{FragKey, Held, Piece, Verdict};
use crate::state::{Fragments, Millis};
use crate::stats::DropReason;
use crate::tables::{PortIdx, Snapshot};

/// Life of a record of where a datagram's first fragment went, and longest wait of a later
/// fragment for it: a datagram's fragments travel together, a second is ample.
pub const STEER_TIMEOUT_MS: Millis = 2_000;

/// Where the first fragments of datagrams went, with later fragments (and their ingress
/// device) waiting for that to be known.
pub type Steering<F> = Fragments<(PortIdx, F)>;

/// A fresh steering table.
pub(super) fn table<F>() -> Steering<F> {
    Fragments::with_timeout(STEER_TIMEOUT_MS)
}

/// Runs, hands over or holds `frame`, received on `port` (`handed`: from another worker),
/// with several workers.
pub(super) fn dispatch<F: Frame, O: Io<F>>(
    dp: &mut Dataplane<F>,
    snap: &Snapshot,
    port: PortIdx,
    frame: F,
    handed: bool,
    now: Millis,
    io: &mut O,
) {
    let s = steer::steer(frame.data(), dp.workers);
    match s.fragment {
        _ if !handed && s.owner != dp.worker && s.fragment.is_none_or(|f| f.is_first()) => {
            dp.stats.handed_off += 1;
            io.handoff(s.owner, port, frame);
        }
        Some(f) if f.is_first() => first(dp, snap, port, frame, f, now, io),
        // Worker 0 sent it here, to the owner of its first.
        Some(_) if handed && dp.worker != 0 => dp.run(snap, port, frame, now, io),
        Some(f) => later(dp, snap, port, frame, f, now, io),
        None => dp.run(snap, port, frame, now, io),
    }
}

/// A first fragment at the owner of its flow: recorded, run, and made known.
fn first<F: Frame, O: Io<F>>(
    dp: &mut Dataplane<F>,
    snap: &Snapshot,
    port: PortIdx,
    frame: F,
    f: Fragment,
    now: Millis,
    io: &mut O,
) {
    let worker = dp.worker;
    if dp
        .steered
        .decide(&f.key, Verdict::Steer { worker }, f.piece, now)
        .is_none()
    {
        dp.stats.drop(port, DropReason::FragmentTableFull);
        return;
    }
    dp.run(snap, port, frame, now, io);
    if worker == 0 {
        release(dp, snap, &f.key, 0, now, io);
    } else {
        dp.share(SyncEvent::Fragment {
            key: f.key,
            first: f.piece,
            worker,
        });
    }
}

/// A later fragment: to the worker its first went to, else to worker 0, which waits for it.
fn later<F: Frame, O: Io<F>>(
    dp: &mut Dataplane<F>,
    snap: &Snapshot,
    port: PortIdx,
    frame: F,
    f: Fragment,
    now: Millis,
    io: &mut O,
) {
    match dp.steered.follow(&f.key, f.piece, now) {
        Some(Verdict::Steer { worker }) if worker == dp.worker => {
            dp.run(snap, port, frame, now, io)
        }
        Some(Verdict::Steer { worker }) => {
            dp.stats.handed_off += 1;
            io.handoff(worker, port, frame);
        }
        _ if dp.worker != 0 => {
            dp.stats.handed_off += 1;
            io.handoff(0, port, frame);
        }
        _ => {
            if let Held::Full((port, _)) = dp.steered.hold(&f.key, (port, frame), now) {
                dp.stats.drop(port, DropReason::FragmentTableFull);
            }
        }
    }
}

/// On worker 0: the first fragment of `key` (`first`) went to `worker`; the later ones
/// that waited go there.
pub(super) fn owned_by<F: Frame, O: Io<F>>(
    dp: &mut Dataplane<F>,
    snap: &Snapshot,
    key: &FragKey,
    first: Piece,
    worker: u16,
    now: Millis,
    io: &mut O,
) {
    if dp.worker != 0 {
        return;
    }
    // No room: nothing could have been held for it either; its fragments meet a full table.
    if dp
        .steered
        .decide(key, Verdict::Steer { worker }, first, now)
        .is_some()
    {
        release(dp, snap, key, worker, now, io);
    }
}

/// Sends the later fragments of `key` that waited on to `worker`, where its first went.
fn release<F: Frame, O: Io<F>>(
    dp: &mut Dataplane<F>,
    snap: &Snapshot,
    key: &FragKey,
    worker: u16,
    now: Millis,
    io: &mut O,
) {
    while let Some((port, frame)) = dp.steered.release(key, now) {
        if let Some(f) = steer::steer(frame.data(), dp.workers).fragment {
            // Counted towards the datagram's completion, which ends the record.
            dp.steered.follow(key, f.piece, now);
        }
        if worker == dp.worker {
            dp.run(snap, port, frame, now, io);
        } else {
            dp.stats.handed_off += 1;
            io.handoff(worker, port, frame);
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
