//! The vrouter data plane: zero-copy wire views, compiled tables, worker-owned state and the
//! fused pipeline. Pure Rust: no DPDK, no sockets; `unsafe` and files (the kernel's page
//! counters) only in the huge-page allocator of the big tables (`state::huge_pages`).
#![deny(unsafe_code)]

pub mod frame;
pub mod pipeline;
pub mod state;
pub mod stats;
pub mod tables;
pub mod wire;

pub use frame::{Frame, VecFrame};
pub use wire::Mac;
