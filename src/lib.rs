//! The vrouter appliance: the DPDK layer and the process around the `vrouter` data plane.

pub mod dpdk;
