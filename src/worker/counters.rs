//! A worker's counters without its tables: what the metrics endpoint and the watchdog
//! ask for. The worker copies plain integers and table occupancies, never a table, so a
//! scrape costs it about as much as a burst.

use super::Worker;
use crate::dpdk::tsc_cycles;
use std::net::Ipv4Addr;
use vrouter::pipeline::RuleHits;
use vrouter::state::conntrack::ConntrackStats;
use vrouter::state::mac_table::MacTableStats;
use vrouter::state::neighbours::NeighbourStats;
use vrouter::stats::{DropReason, Stats};
use vrouter::tables::PortIdx;

/// One worker's counters, copied between two bursts.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    /// The worker's number.
    pub worker: u16,
    /// Counters, with the tx side of every device merged in.
    pub stats: Stats,
    /// Entries of the MAC table, and its events.
    pub mac_entries: usize,
    /// MAC table events: learned, moved, aged, refused because full.
    pub mac_events: MacTableStats,
    /// Entries of the underlay and of the routers' neighbour tables.
    pub neighbour_entries: [usize; 2],
    /// Neighbour table events: underlay, routers.
    pub neighbour_events: [NeighbourStats; 2],
    /// Connection tracking counters.
    pub conntrack: ConntrackStats,
    /// Live sessions.
    pub sessions: usize,
    /// SNAT sessions (one port each) per routers' gateway address in use.
    pub snat_ports: Vec<(Ipv4Addr, u64)>,
    /// DHCP leases granted.
    pub leases: usize,
    /// Security group rule hits, by device.
    pub acl_hits: Vec<RuleHits>,
    /// TSC cycles spent on polls that found work, and since the worker started.
    pub cycles: (u64, u64),
}

impl Worker {
    /// The counters with the tx side of every device (and refused hand-offs and sync
    /// events) merged in.
    pub(super) fn stats_with_tx(&self) -> Stats {
        let mut stats = self.dp.stats.clone();
        for (p, c) in self.io.counters.iter().enumerate() {
            let s = stats.port(p as PortIdx);
            s.tx_packets += c.packets;
            s.tx_bytes += c.bytes;
            s.tx_dropped += c.dropped;
            stats.drops[DropReason::TxFull as usize] += c.dropped;
        }
        stats.drops[DropReason::HandoffFull as usize] += self.io.handoff.full;
        stats.drops[DropReason::SyncFull as usize] += self.sync_out.full;
        stats
    }

    /// This worker's counters. SNAT ports are counted by one pass over the sessions (no
    /// copy): a session whose reply goes to a router's gateway address holds one port.
    pub(super) fn counters(&self) -> Counters {
        let gateways: Vec<u32> = self.snap.routers.iter().filter_map(|r| r.snat_ip).collect();
        let mut snat: Vec<(u32, u64)> = gateways.iter().map(|&ip| (ip, 0)).collect();
        if !snat.is_empty() {
            for (_, s) in self.dp.conntrack.iter() {
                if s.reply.dst != s.orig.src {
                    if let Some(slot) = snat.iter_mut().find(|(ip, _)| *ip == s.reply.dst) {
                        slot.1 += 1;
                    }
                }
            }
        }
        Counters {
            worker: self.id,
            stats: self.stats_with_tx(),
            mac_entries: self.dp.mac.len(),
            mac_events: self.dp.mac.stats,
            neighbour_entries: [
                self.dp.underlay_neigh.iter().count(),
                self.dp.router_neigh.iter().count(),
            ],
            neighbour_events: [self.dp.underlay_neigh.stats, self.dp.router_neigh.stats],
            conntrack: self.dp.conntrack.stats,
            sessions: self.dp.conntrack.len(),
            snat_ports: snat
                .into_iter()
                .map(|(ip, n)| (Ipv4Addr::from(ip), n))
                .collect(),
            leases: self.dp.leases.len(),
            acl_hits: self.dp.acl_hits.clone(),
            cycles: (
                self.busy_cycles,
                tsc_cycles().saturating_sub(self.clock.start),
            ),
        }
    }
}
