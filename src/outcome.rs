//! What the appliance leaves when it stops, for the report printed then.

use crate::worker::Dump;
use std::sync::Arc;
use vrouter::tables::Snapshot;

/// What the appliance leaves when it stops: the final state and the snapshot it ran.
pub struct Outcome {
    /// Final worker state.
    pub dump: Dump,
    /// The snapshot at the end (device names, networks).
    pub snapshot: Arc<Snapshot>,
    /// Every device's own counters (rte_eth_stats) just before it closed, by device.
    pub nic: Vec<control::plane::NicCounters>,
    /// Mbufs of the pool, and how many were still out once every device had closed.
    pub mbufs: (u32, u32),
}
