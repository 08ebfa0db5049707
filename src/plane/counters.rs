//! The counters of every worker and device, for the metrics endpoint and the watchdog:
//! asked of the workers with [`Command::Counters`] (no table copied) and read from the
//! devices' drivers by this thread.

use super::Plane;
use crate::worker::{Command, Counters};
use control::plane::NicCounters;
use crossbeam_channel::bounded;
use std::time::{Duration, Instant};

/// A device's own view: counters (rte_eth_stats) and whether its link is up.
#[derive(Clone, Copy, Debug, Default)]
pub struct NicState {
    /// The driver's counters.
    pub counters: NicCounters,
    /// Link up (rte_eth_link_get_nowait); false when the state cannot be read.
    pub link_up: bool,
}

impl Plane {
    /// Every worker's counters, by worker number, if they all answer within `timeout`.
    pub fn counters(&self, timeout: Duration) -> Option<Vec<Counters>> {
        let (reply_tx, reply_rx) = bounded(self.commands.len());
        for c in &self.commands {
            c.send(Command::Counters(reply_tx.clone())).ok()?;
        }
        let deadline = Instant::now() + timeout;
        let mut all: Vec<Counters> = (0..self.commands.len())
            .map(|_| reply_rx.recv_deadline(deadline).ok())
            .collect::<Option<_>>()?;
        all.sort_by_key(|c| c.worker);
        Some(all)
    }

    /// The devices' own state, in attachment order (names as in the snapshot's ports).
    pub fn nic_states(&self) -> Vec<NicState> {
        let states = self.port_ids.iter().map(|&id| NicState {
            counters: super::nic_counters(id),
            link_up: crate::dpdk::link_status(id).is_ok_and(|l| l.up),
        });
        states.collect()
    }

    /// Number of workers.
    pub fn workers(&self) -> usize {
        self.commands.len()
    }
}
