//! `trace.add` and `trace.show`: the packet trace of the data path's nodes, carried out by
//! every worker.

use crate::api::{ApiError, TraceAdd, TraceStarted, TraceSteps, TRACE_MAX};
use crate::plane::DataPlane;

/// Starts tracing the next `a.count` frames in every worker.
pub(crate) fn add(plane: &dyn DataPlane, a: &TraceAdd) -> Result<TraceStarted, ApiError> {
    if a.count == 0 || a.count > TRACE_MAX {
        return Err(ApiError::invalid(format!(
            "trace.add: count must be 1 to {TRACE_MAX}, not {}",
            a.count
        )));
    }
    let workers = plane.trace_start(a.count, a.device.as_deref())?;
    Ok(TraceStarted {
        count: a.count,
        device: a.device.clone(),
        workers,
    })
}

/// The steps the workers recorded since the last start.
pub(crate) fn show(plane: &dyn DataPlane) -> Result<TraceSteps, ApiError> {
    Ok(TraceSteps {
        steps: plane.trace_steps()?,
    })
}
