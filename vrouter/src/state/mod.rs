//! State the data plane owns and mutates. Each worker owns one instance of every table here;
//! nothing in this module is shared between threads or locked.

pub mod adjacency;
pub mod conntrack;
pub mod fragments;
pub mod huge_pages;
pub mod leases;
pub mod mac_table;
pub mod neighbours;
pub mod prefetch;

pub use adjacency::Adjacencies;
pub use conntrack::{Conntrack, Dir, FlowKey, Session};
pub use fragments::Fragments;
pub use leases::Leases;
pub use mac_table::{Learn, MacEntry, MacTable};
pub use neighbours::Neighbours;

/// Monotonic time in milliseconds, as the worker's clock gives it.
pub type Millis = u64;
