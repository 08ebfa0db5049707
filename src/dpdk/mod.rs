//! Safe wrappers around DPDK, the only place of the appliance that touches it: the EAL and
//! its lcores, mbuf pools, mbufs (which implement [`vrouter::Frame`]) and ethdev ports with
//! their queues.
//!
//! Teardown order: queue handles, then ports, then pools, then [`Eal::cleanup`]. The EAL
//! refuses to clean up while a port or pool is still alive.

mod eal;
pub mod ffi;
mod mbuf;
mod mempool;
mod port;

pub use eal::{lcore_id, tsc_cycles, tsc_hz, DpdkError, Eal};
pub use mbuf::Mbuf;
pub use mempool::Mempool;
pub use port::{eth_stats, link_status, LinkStatus, Port, PortStats, RxQueue, TxQueue};
