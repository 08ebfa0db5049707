//! The harnesses of the fuzz targets, one module per area. Each harness takes arbitrary bytes
//! and panics when a property does not hold; each has seeds that take its main paths. The
//! same files are compiled into `vrouter/tests/fuzz_repro.rs` and
//! `control/tests/fuzz_repro.rs`, which replay the seeds and the reproducers in `repro/`.

pub mod control;
pub mod pipeline;
pub mod wire;
