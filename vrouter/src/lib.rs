//! The vrouter data plane: zero-copy wire views, compiled tables, worker-owned state and the
//! fused pipeline. Pure Rust: no DPDK, no sockets, no files, no `unsafe`.
#![forbid(unsafe_code)]

pub mod frame;
pub mod pipeline;
pub mod state;
pub mod stats;
pub mod tables;
pub mod wire;

pub use frame::{Frame, VecFrame};
pub use wire::Mac;
