//! The packet trace through the workers: starting it in every worker, and collecting the
//! steps their traced frames took (`vrouterctl trace add|show`).

use super::Plane;
use crate::worker::Command;
use control::api::{ApiError, TraceStepEntry};
use crossbeam_channel::bounded;
use std::time::{Duration, Instant};
use vrouter::pipeline::trace::{TraceEdge, TraceStep};
use vrouter::tables::PortIdx;

/// How long the workers have to answer.
const TRACE_TIMEOUT: Duration = Duration::from_secs(2);

impl Plane {
    /// Starts tracing the next `count` frames of `device` (by name; any if `None`) in every
    /// worker; returns how many workers trace.
    pub(super) fn trace_start_workers(
        &self,
        count: u32,
        device: Option<&str>,
    ) -> Result<u16, ApiError> {
        let port = device.map(|name| self.device_index(name)).transpose()?;
        let (ack_tx, ack_rx) = bounded(self.commands.len());
        for c in &self.commands {
            c.send(Command::TraceStart(count, port, ack_tx.clone()))
                .map_err(|_| ApiError::internal("a worker has stopped"))?;
        }
        let deadline = Instant::now() + TRACE_TIMEOUT;
        for _ in &self.commands {
            ack_rx.recv_deadline(deadline).map_err(|_| {
                ApiError::internal(format!(
                    "a worker did not start the trace within {TRACE_TIMEOUT:?} (not polling?)"
                ))
            })?;
        }
        Ok(self.commands.len() as u16)
    }

    /// The steps every worker recorded, worker after worker.
    pub(super) fn trace_steps_workers(&self) -> Result<Vec<TraceStepEntry>, ApiError> {
        let (reply_tx, reply_rx) = bounded(self.commands.len());
        for c in &self.commands {
            c.send(Command::TraceSteps(reply_tx.clone()))
                .map_err(|_| ApiError::internal("a worker has stopped"))?;
        }
        let deadline = Instant::now() + TRACE_TIMEOUT;
        let mut all = Vec::with_capacity(self.commands.len());
        for _ in &self.commands {
            let got = reply_rx.recv_deadline(deadline).map_err(|_| {
                ApiError::internal(format!(
                    "a worker did not send its trace within {TRACE_TIMEOUT:?} (not polling?)"
                ))
            })?;
            all.push(got);
        }
        all.sort_by_key(|(worker, _)| *worker);
        let rows = all
            .into_iter()
            .flat_map(|(worker, steps)| steps.into_iter().map(move |s| entry(worker, s)));
        Ok(rows.collect())
    }

    /// The index of the attached device `name`.
    fn device_index(&self, name: &str) -> Result<PortIdx, ApiError> {
        let snap = self.snapshot();
        let at = snap.ports.iter().position(|p| p.name == name);
        at.map(|i| i as PortIdx)
            .ok_or_else(|| ApiError::not_found(format!("no device {name} is attached")))
    }
}

/// A step as the API shows it.
fn entry(worker: u16, s: TraceStep) -> TraceStepEntry {
    let edge = match s.edge {
        TraceEdge::To(node) => format!("-> {}", node.name()),
        TraceEdge::Done => "done".to_owned(),
        TraceEdge::Drop(reason) => format!("drop {}", reason.name()),
    };
    TraceStepEntry {
        worker,
        packet: s.packet,
        node: s.node.name().to_owned(),
        edge,
        sessions_created: s.sessions_created,
        decode: s.decode,
    }
}
