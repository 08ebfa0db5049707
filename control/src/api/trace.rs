//! `trace.add` and `trace.show`: the packet trace of the data path (as VPP's `trace add`),
//! each traced frame's way through the nodes of the graph.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Most frames a worker may be asked to trace at once.
pub const TRACE_MAX: u32 = 1000;

/// `trace.add`: trace the next `count` frames every worker receives, on `device` or any.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TraceAdd {
    /// Frames per worker, 1 to [`TRACE_MAX`].
    pub count: u32,
    /// Only frames received on this device (its name, e.g. `tap1653ec91-ad`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// The answer to `trace.add`: what every worker now traces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TraceStarted {
    /// Frames per worker.
    pub count: u32,
    /// The device, if one was named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Workers tracing.
    pub workers: u16,
}

/// One step of a traced frame: a node, and the edge it gave the frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TraceStepEntry {
    /// The worker that traced it.
    pub worker: u16,
    /// The frame's number in that worker's trace, from 1 (flood copies keep it).
    pub packet: u32,
    /// The node (`port-input`, `l2-switch`, `router`, …).
    pub node: String,
    /// Where the node sent it: `-> <node>`, `done`, or `drop <reason>`.
    pub edge: String,
    /// Connection tracking sessions the node created for it.
    pub sessions_created: u8,
    /// The frame as the node got it, in one line.
    pub decode: String,
}

/// The answer to `trace.show`: the steps recorded since the last `trace.add`, per worker
/// in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TraceSteps {
    /// Every step.
    pub steps: Vec<TraceStepEntry>,
}
