//! The poll loop of one worker lcore: rx burst → pipeline → tx bursts, run to completion.
//!
//! Ownership: a worker owns its rx and tx queue handles, its `Dataplane` (MAC table,
//! neighbours, counters) and a reference to the current snapshot. The control thread talks
//! to it only through [`Command`]s, which the worker reads between bursts: a new snapshot is
//! picked up at a burst boundary without stopping traffic, and state is copied out on request.
//! No lock and no atomic read-modify-write is on the per-packet path.

use crate::dpdk::{tsc_cycles, tsc_hz, Mbuf, Mempool, RxQueue, TxQueue};
use crossbeam_channel::{Receiver, Sender};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use vrouter::pipeline::{Dataplane, Io};
use vrouter::state::MacEntry;
use vrouter::stats::{DropReason, Stats};
use vrouter::tables::{NetIdx, PortIdx, Snapshot};
use vrouter::{Frame, Mac};

/// Frames received per rx burst, and sent per tx burst at most.
pub const BURST: usize = 32;
/// Empty polls in a row after which an adaptive worker starts to nap.
const IDLE_POLLS: u32 = 1024;
/// How long an idle adaptive worker naps between polls.
const IDLE_NAP: Duration = Duration::from_micros(50);
/// Loop iterations between two looks at the command channel.
const COMMAND_EVERY: u32 = 64;

/// What the control thread asks a worker.
pub enum Command {
    /// Use this snapshot from the next burst on.
    Publish(Arc<Snapshot>),
    /// Send a copy of the state.
    Dump(Sender<Dump>),
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
}

impl TxIo {
    /// Sends the batch of `port`; what the device refuses is dropped and counted.
    fn flush(&mut self, port: usize) {
        let batch = &mut self.pending[port];
        if batch.is_empty() {
            return;
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

    fn flush_all(&mut self) {
        for p in 0..self.pending.len() {
            self.flush(p);
        }
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
}

/// One worker: its queues, its state and its line to the control thread.
pub struct Worker {
    dp: Dataplane<Mbuf>,
    snap: Arc<Snapshot>,
    rx: Vec<(PortIdx, RxQueue)>,
    io: TxIo,
    commands: Receiver<Command>,
    stop: &'static AtomicBool,
    busy_poll: bool,
    clock: Clock,
}

impl Worker {
    /// A worker polling `rx` (device index and queue) and sending on `tx` (by device index).
    pub fn new(
        snap: Arc<Snapshot>,
        rx: Vec<(PortIdx, RxQueue)>,
        tx: Vec<Option<TxQueue>>,
        pool: Arc<Mempool>,
        commands: Receiver<Command>,
        stop: &'static AtomicBool,
        busy_poll: bool,
    ) -> Worker {
        let clock = Clock::new();
        let n = tx.len();
        Worker {
            dp: Dataplane::new(&snap, clock.now_ms()),
            snap,
            rx,
            io: TxIo {
                queues: tx,
                pending: (0..n).map(|_| Vec::with_capacity(BURST)).collect(),
                counters: vec![TxCounters::default(); n],
                pool,
            },
            commands,
            stop,
            busy_poll,
            clock,
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
            let now = self.clock.now_ms();
            let mut got = 0;
            for (port, q) in self.rx.iter_mut() {
                if q.rx_burst(&mut burst) > 0 {
                    got += burst.len();
                    self.dp
                        .rx(&self.snap, *port, burst.drain(..), now, &mut self.io);
                }
            }
            if now >= next_tick {
                self.dp.tick(&self.snap, now, &mut self.io);
                next_tick = now + 1000;
            }
            self.io.flush_all();
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

    /// Applies published snapshots and answers dump requests.
    fn serve_commands(&mut self) {
        while let Ok(cmd) = self.commands.try_recv() {
            match cmd {
                Command::Publish(snap) => {
                    self.dp.apply(&snap, self.clock.now_ms());
                    self.snap = snap;
                }
                Command::Dump(reply) => {
                    // The requester may have given up waiting; nothing to do then.
                    let _ = reply.send(self.dump());
                }
            }
        }
    }

    /// A copy of the state with the tx counters merged in.
    fn dump(&mut self) -> Dump {
        let now = self.clock.now_ms();
        let mut stats = self.dp.stats.clone();
        for (p, c) in self.io.counters.iter().enumerate() {
            let s = stats.port(p as PortIdx);
            s.tx_packets += c.packets;
            s.tx_bytes += c.bytes;
            s.tx_dropped += c.dropped;
            stats.drops[DropReason::TxFull as usize] += c.dropped;
        }
        Dump {
            generation: self.snap.generation,
            stats,
            macs: self.dp.mac.iter().map(|(n, m, e)| (n, m, *e)).collect(),
            mac_events: self.dp.mac.stats,
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
        }
    }
}
