//! The vrouter appliance: the DPDK layer and the process around the `vrouter` data plane.

pub mod appliance;
pub mod capture;
pub mod docs;
pub mod dpdk;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod outcome;
pub mod plane;
pub mod report;
pub mod worker;
