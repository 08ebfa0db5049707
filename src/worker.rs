//! The poll loop of one worker lcore: rx burst → pipeline → tx bursts, run to completion.
//!
//! Ownership: a worker owns its rx and tx queue handles, its `Dataplane` (MAC table,
//! neighbours, counters) and a reference to the current snapshot. The control thread talks
//! to it only through [`Command`]s, which the worker reads between bursts: a new snapshot is
//! picked up at a burst boundary without stopping traffic, and state is copied out on request.
//! No lock and no atomic read-modify-write is on the per-packet path.

use crate::dpdk::{tsc_cycles, tsc_hz, Mbuf, Mempool, RxQueue, TxQueue};
use crossbeam_channel::{Receiver, Sender};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use vrouter::pipeline::{Dataplane, Io, Node};
use vrouter::state::MacEntry;
use vrouter::stats::{Merge, Stats};
use vrouter::tables::{NetIdx, PortIdx, Snapshot};
use vrouter::{Frame, Mac};

mod counters;
mod flush;
mod handoff;
mod sync_link;
pub use counters::Counters;
pub use flush::FlushRequest;
use handoff::{HandoffIn, HandoffOut, HANDOFF_RING};
use sync_link::{SyncIn, SyncOut, SYNC_RING};

/// Frames received per rx burst, and sent per tx burst at most.
pub const BURST: usize = 32;
/// Empty polls in a row after which an adaptive worker starts to nap.
const IDLE_POLLS: u32 = 1024;
/// How long an idle adaptive worker naps between polls.
const IDLE_NAP: Duration = Duration::from_micros(50);
/// Loop iterations between two looks at the command channel.
const COMMAND_EVERY: u32 = 64;
/// Frames taken from each other worker's hand-off ring per loop iteration at most.
const HANDOFF_BUDGET: usize = 4 * BURST;

/// The lines between workers ([`vrouter::pipeline::steer`]), one ring per pair and way:
/// frames to the owner of their flow ([`handoff`]), learned state to everybody
/// ([`sync_link`]).
pub struct Links {
    /// This worker's number.
    pub id: u16,
    /// How many workers there are.
    workers: u16,
    /// Frames to the other workers, staged per burst.
    frames_out: HandoffOut<Mbuf>,
    /// Frames the other workers handed to this one.
    frames_in: HandoffIn<Mbuf>,
    /// Learned state to the other workers.
    sync_out: SyncOut,
    /// Learned state from the other workers.
    sync_in: SyncIn,
}

impl Links {
    /// The links of `n` workers, in worker order.
    pub fn mesh(n: u16) -> Vec<Links> {
        let sync = sync_link::mesh(n, SYNC_RING);
        handoff::mesh(n, HANDOFF_RING)
            .into_iter()
            .zip(sync)
            .enumerate()
            .map(
                |(id, ((frames_out, frames_in), (sync_out, sync_in)))| Links {
                    id: id as u16,
                    workers: n,
                    frames_out,
                    frames_in,
                    sync_out,
                    sync_in,
                },
            )
            .collect()
    }
}

/// What the control thread asks a worker.
pub enum Command {
    /// Use this snapshot from the next burst on, then send this worker's number on the
    /// line (if any) to say it runs it.
    Publish(Arc<Snapshot>, Option<Sender<u16>>),
    /// Send a copy of the state.
    Dump(Sender<Dump>),
    /// Send the counters (no table is copied).
    Counters(Sender<Counters>),
    /// Copy frames for this capture from the next burst on, then send this worker's
    /// number on the line to say it does.
    Capture(Arc<crate::capture::Session>, Sender<u16>),
    /// Remove what the request names, then send this worker's number and how many
    /// entries went.
    Flush(FlushRequest, Sender<(u16, u64)>),
    /// Trace the next `.0` frames received on device `.1` (any if `None`), forgetting the
    /// steps recorded before, then send this worker's number.
    TraceStart(u32, Option<PortIdx>, Sender<u16>),
    /// Send this worker's number and the steps its traced frames took.
    TraceSteps(Sender<(u16, Vec<vrouter::pipeline::trace::TraceStep>)>),
}

/// A copy of a worker's state, for views.
#[derive(Clone, Debug)]
pub struct Dump {
    /// Generation of the snapshot the worker runs.
    pub generation: u64,
    /// Counters, with the tx side of every device merged in.
    pub stats: Stats,
    /// MAC table rows.
    pub macs: Vec<(NetIdx, Mac, MacEntry)>,
    /// MAC table events: learned, moved, aged, refused because full.
    pub mac_events: vrouter::state::mac_table::MacTableStats,
    /// Neighbour table events (evictions, ARP ignored by static entries): underlay, routers.
    pub neighbour_events: [vrouter::state::neighbours::NeighbourStats; 2],
    /// Underlay neighbours: address, MAC if resolved, milliseconds since confirmed.
    pub neighbours: Vec<(u32, Option<Mac>, u64)>,
    /// Router neighbours: address, MAC if resolved, milliseconds since confirmed.
    pub router_neighbours: Vec<(u32, Option<Mac>, u64)>,
    /// Connection tracking (NAT) sessions, at most [`DUMP_SESSIONS`].
    pub sessions: Vec<vrouter::state::Session>,
    /// Connection tracking counters and the number of live sessions.
    pub conntrack: (vrouter::state::conntrack::ConntrackStats, usize),
    /// Security group rule hits, by device.
    pub acl_hits: Vec<vrouter::pipeline::RuleHits>,
    /// DHCP leases granted: network, client MAC, lease.
    pub leases: Vec<(NetIdx, Mac, vrouter::state::leases::Lease)>,
    /// Milliseconds since the worker started.
    pub uptime_ms: u64,
    /// Mbufs of the packet pool in use (by every worker and device).
    pub mbufs_in_use: u32,
}

impl Dump {
    /// The state of several workers as one: counters summed, tables joined.
    pub fn merge(mut self, o: Dump) -> Dump {
        self.stats.merge(&o.stats);
        let known: HashSet<(NetIdx, Mac)> = self.macs.iter().map(|m| (m.0, m.1)).collect();
        self.macs
            .extend(o.macs.into_iter().filter(|m| !known.contains(&(m.0, m.1))));
        self.mac_events.merge(&o.mac_events);
        for (mine, theirs) in self.neighbour_events.iter_mut().zip(&o.neighbour_events) {
            mine.merge(theirs);
        }
        merge_neighbours(&mut self.neighbours, o.neighbours);
        merge_neighbours(&mut self.router_neighbours, o.router_neighbours);
        let room = DUMP_SESSIONS.saturating_sub(self.sessions.len());
        self.sessions.extend(o.sessions.into_iter().take(room));
        self.conntrack.0.merge(&o.conntrack.0);
        self.conntrack.1 += o.conntrack.1;
        for (mine, theirs) in self.acl_hits.iter_mut().zip(o.acl_hits) {
            for (a, b) in mine.0.iter_mut().zip(theirs.0) {
                *a = (a.0 + b.0, a.1 + b.1);
            }
            for (a, b) in mine.1.iter_mut().zip(theirs.1) {
                *a = (a.0 + b.0, a.1 + b.1);
            }
        }
        let known: HashSet<(NetIdx, Mac)> = self.leases.iter().map(|l| (l.0, l.1)).collect();
        self.leases.extend(
            o.leases
                .into_iter()
                .filter(|l| !known.contains(&(l.0, l.1))),
        );
        self.generation = self.generation.min(o.generation);
        self.uptime_ms = self.uptime_ms.max(o.uptime_ms);
        self.mbufs_in_use = self.mbufs_in_use.max(o.mbufs_in_use);
        self
    }
}

/// Joins neighbour rows by address, keeping the most recently confirmed resolution.
fn merge_neighbours(mine: &mut Vec<(u32, Option<Mac>, u64)>, theirs: Vec<(u32, Option<Mac>, u64)>) {
    let mut at: HashMap<u32, usize> = mine.iter().enumerate().map(|(i, m)| (m.0, i)).collect();
    for row in theirs {
        match at.get(&row.0) {
            Some(&i) if mine[i].1.is_none() || (row.1.is_some() && row.2 < mine[i].2) => {
                mine[i] = row;
            }
            Some(_) => {}
            None => {
                at.insert(row.0, mine.len());
                mine.push(row);
            }
        }
    }
}

/// Sessions a dump copies at most (a view, not an export of the table).
pub const DUMP_SESSIONS: usize = 10_000;

/// Milliseconds from the TSC.
struct Clock {
    start: u64,
    per_ms: u64,
}

impl Clock {
    fn new() -> Clock {
        Clock {
            start: tsc_cycles(),
            per_ms: (tsc_hz() / 1000).max(1),
        }
    }
    fn now_ms(&self) -> u64 {
        (tsc_cycles() - self.start) / self.per_ms
    }
}

/// Transmit counters of one device.
#[derive(Clone, Copy, Debug, Default)]
struct TxCounters {
    packets: u64,
    bytes: u64,
    dropped: u64,
}

/// The tx side: per-device batches flushed once per burst (or when full), and the pool
/// that frames the pipeline originates come from.
struct TxIo {
    queues: Vec<Option<TxQueue>>,
    pending: Vec<Vec<Mbuf>>,
    counters: Vec<TxCounters>,
    pool: Arc<Mempool>,
    /// Frames for the other workers, staged until the end of the burst.
    handoff: HandoffOut<Mbuf>,
    /// The captures frames are copied for, received and sent.
    taps: crate::capture::Taps,
}

impl TxIo {
    /// Sends the batch of `port`; what the device refuses is dropped and counted.
    fn flush(&mut self, port: usize) {
        let batch = &mut self.pending[port];
        if batch.is_empty() {
            return;
        }
        if !self.taps.is_empty() {
            let tx = control::capture::Direction::Tx;
            self.taps.copy(port as PortIdx, tx, batch);
        }
        let c = &mut self.counters[port];
        if let Some(q) = self.queues[port].as_mut() {
            let bytes: usize = batch.iter().map(Frame::len).sum();
            let sent = q.tx_burst(batch);
            let unsent: usize = batch.iter().map(Frame::len).sum();
            c.packets += sent as u64;
            c.bytes += (bytes - unsent) as u64;
        }
        c.dropped += batch.len() as u64;
        batch.clear();
    }

    /// Sends every device's batch and hands the staged frames to their owners.
    fn flush_all(&mut self) {
        for p in 0..self.pending.len() {
            self.flush(p);
        }
        self.handoff.flush();
    }
}

impl Io<Mbuf> for TxIo {
    #[inline]
    fn send(&mut self, port: PortIdx, frame: Mbuf) {
        let p = port as usize;
        if p >= self.pending.len() {
            return;
        }
        self.pending[p].push(frame);
        if self.pending[p].len() == BURST {
            self.flush(p);
        }
    }
    fn alloc(&mut self) -> Option<Mbuf> {
        Mbuf::alloc(&self.pool)
    }
    #[inline]
    fn handoff(&mut self, worker: u16, port: PortIdx, frame: Mbuf, resume: Node) {
        self.handoff.stage(worker, port, frame, resume);
    }
    #[inline]
    fn cycles(&self) -> u64 {
        tsc_cycles()
    }
}

/// One worker: its queues, its state and its line to the control thread.
pub struct Worker {
    dp: Dataplane<Mbuf>,
    snap: Arc<Snapshot>,
    rx: Vec<(PortIdx, RxQueue)>,
    io: TxIo,
    commands: Receiver<Command>,
    frames_in: HandoffIn<Mbuf>,
    sync_in: SyncIn,
    sync_out: SyncOut,
    stop: &'static AtomicBool,
    busy_poll: bool,
    clock: Clock,
    /// This worker's number.
    id: u16,
    /// TSC cycles spent on loop iterations that found frames.
    busy_cycles: u64,
}

impl Worker {
    /// Worker `links.id` of `workers`, polling `rx` (device index and queue) and sending on
    /// `tx` (by device index).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        snap: Arc<Snapshot>,
        rx: Vec<(PortIdx, RxQueue)>,
        tx: Vec<Option<TxQueue>>,
        pool: Arc<Mempool>,
        commands: Receiver<Command>,
        links: Links,
        stop: &'static AtomicBool,
        busy_poll: bool,
    ) -> Worker {
        let clock = Clock::new();
        let n = tx.len();
        let workers = links.workers;
        Worker {
            dp: Dataplane::for_worker(&snap, clock.now_ms(), links.id, workers),
            snap,
            rx,
            io: TxIo {
                queues: tx,
                pending: (0..n).map(|_| Vec::with_capacity(BURST)).collect(),
                counters: vec![TxCounters::default(); n],
                pool,
                handoff: links.frames_out,
                taps: Default::default(),
            },
            commands,
            frames_in: links.frames_in,
            sync_in: links.sync_in,
            sync_out: links.sync_out,
            stop,
            busy_poll,
            clock,
            id: links.id,
            busy_cycles: 0,
        }
    }

    /// Polls until `stop` is set; returns the final state.
    pub fn run(mut self) -> Dump {
        let mut burst: Vec<Mbuf> = Vec::with_capacity(BURST);
        let mut idle = 0u32;
        let mut next_tick = 0u64;
        let mut loops = 0u32;
        while !self.stop.load(Ordering::Relaxed) {
            loops = loops.wrapping_add(1);
            if loops.is_multiple_of(COMMAND_EVERY) {
                self.serve_commands();
            }
            let started = tsc_cycles();
            let now = self.clock.now_ms();
            let mut got = 0;
            for (port, q) in self.rx.iter_mut() {
                if q.rx_burst(&mut burst) > 0 {
                    got += burst.len();
                    if !self.io.taps.is_empty() {
                        let rx = control::capture::Direction::Rx;
                        self.io.taps.copy(*port, rx, &burst);
                    }
                    self.dp
                        .rx(&self.snap, *port, burst.drain(..), now, &mut self.io);
                }
            }
            got += self.serve_peers(now);
            if now >= next_tick {
                self.dp.tick(&self.snap, now, &mut self.io);
                next_tick = now + 1000;
            }
            self.io.flush_all();
            if got > 0 {
                self.busy_cycles += tsc_cycles() - started;
            }
            if got > 0 || self.busy_poll {
                idle = 0;
            } else {
                idle = idle.saturating_add(1);
                if idle >= IDLE_POLLS {
                    std::thread::sleep(IDLE_NAP);
                }
            }
        }
        self.serve_commands();
        self.dump()
    }

    /// Runs the frames other workers handed over, applies what they learned and tells them
    /// what this one learned. Returns the number of frames run.
    fn serve_peers(&mut self, now: u64) -> usize {
        if self.sync_out.is_alone() {
            return 0;
        }
        for event in self.sync_in.drain() {
            self.dp.sync(&self.snap, event, now, &mut self.io);
        }
        let mut n = 0;
        let handed = self.frames_in.drain(HANDOFF_BUDGET).inspect(|_| n += 1);
        self.dp.rx_handed(&self.snap, handed, now, &mut self.io);
        self.sync_out.send(&mut self.dp.outbox);
        n
    }

    /// Applies published snapshots and answers dump requests.
    fn serve_commands(&mut self) {
        self.io.taps.prune();
        while let Ok(cmd) = self.commands.try_recv() {
            match cmd {
                Command::Publish(snap, ack) => {
                    self.dp.apply(&snap, self.clock.now_ms());
                    self.snap = snap;
                    if let Some(ack) = ack {
                        // The publisher may have given up waiting; nothing to do then.
                        let _ = ack.send(self.id);
                    }
                }
                Command::Dump(reply) => {
                    // The requester may have given up waiting; nothing to do then.
                    let _ = reply.send(self.dump());
                }
                Command::Counters(reply) => {
                    // The requester may have given up waiting; nothing to do then.
                    let _ = reply.send(self.counters());
                }
                Command::Capture(session, ack) => {
                    self.io.taps.add(session);
                    // The requester may have given up waiting; nothing to do then.
                    let _ = ack.send(self.id);
                }
                Command::Flush(req, reply) => {
                    let removed = flush::flush(&mut self.dp, &req);
                    // The requester may have given up waiting; nothing to do then.
                    let _ = reply.send((self.id, removed));
                }
                Command::TraceStart(count, device, ack) => {
                    self.dp.trace.start(count, device);
                    // The requester may have given up waiting; nothing to do then.
                    let _ = ack.send(self.id);
                }
                Command::TraceSteps(reply) => {
                    // The requester may have given up waiting; nothing to do then.
                    let _ = reply.send((self.id, self.dp.trace.steps.clone()));
                }
            }
        }
    }

    /// A copy of the state with the tx counters merged in.
    fn dump(&mut self) -> Dump {
        let now = self.clock.now_ms();
        Dump {
            generation: self.snap.generation,
            stats: self.stats_with_tx(),
            macs: self.dp.mac.iter().collect(),
            mac_events: self.dp.mac.stats,
            neighbour_events: [self.dp.underlay_neigh.stats, self.dp.router_neigh.stats],
            leases: self.dp.leases.iter().map(|(n, m, l)| (n, m, *l)).collect(),
            neighbours: self
                .dp
                .underlay_neigh
                .iter()
                .map(|(ip, n)| (ip, n.mac, now.saturating_sub(n.updated)))
                .collect(),
            router_neighbours: self
                .dp
                .router_neigh
                .iter()
                .map(|(ip, n)| (ip, n.mac, now.saturating_sub(n.updated)))
                .collect(),
            sessions: self
                .dp
                .conntrack
                .iter()
                .take(DUMP_SESSIONS)
                .map(|(_, s)| *s)
                .collect(),
            conntrack: (self.dp.conntrack.stats, self.dp.conntrack.len()),
            acl_hits: self.dp.acl_hits.clone(),
            uptime_ms: now,
            mbufs_in_use: self.io.pool.in_use(),
        }
    }
}
