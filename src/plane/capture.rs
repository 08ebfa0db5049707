//! Captures on the workers: a request's devices, direction and filter become a
//! [`Session`] that every worker taps its bursts with, and a feed the control socket
//! streams from. The capture stops when the feed is dropped (the stream ended).

use super::Plane;
use crate::capture::{filter, Selection, Session};
use crate::worker::Command;
use control::api::ApiError;
use control::capture::{CaptureArgs, CaptureCounts, CaptureFeed, FrameInfo, DEFAULT_SNAPLEN};
use crossbeam_channel::bounded;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vrouter::tables::PortIdx;

/// How long a new capture waits for every worker to take it.
const START_TIMEOUT: Duration = Duration::from_secs(2);

impl Plane {
    /// Starts the capture `args` asks for on every worker; returns once all copy for it.
    pub(super) fn start_capture(
        &self,
        args: &CaptureArgs,
    ) -> Result<Box<dyn CaptureFeed>, ApiError> {
        let selection = Selection {
            ports: self.capture_ports(&args.devices)?,
            direction: args.direction,
            filter: match args.filter.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(expr) => Some(filter::compile(expr).map_err(ApiError::invalid)?),
            },
            // tcpdump's -s 0: the whole frame.
            snaplen: match args.snaplen() {
                0 => DEFAULT_SNAPLEN,
                n => n,
            },
        };
        let session = Arc::new(Session::new(
            selection,
            args.buffer()?,
            Arc::clone(&self.captures),
        ));
        let feed = Feed {
            session: Arc::clone(&session),
        };
        let (ack_tx, ack_rx) = bounded(self.commands.len());
        for c in &self.commands {
            c.send(Command::Capture(Arc::clone(&session), ack_tx.clone()))
                .map_err(|_| ApiError::internal("a worker has stopped"))?;
        }
        let deadline = Instant::now() + START_TIMEOUT;
        for _ in &self.commands {
            // On failure the feed is dropped, which stops the session in every worker.
            ack_rx.recv_deadline(deadline).map_err(|_| {
                ApiError::internal(format!(
                    "a worker did not start the capture within {START_TIMEOUT:?} (not polling?)"
                ))
            })?;
        }
        Ok(Box::new(feed))
    }

    /// The group of counters `stats` shows for captures.
    pub(super) fn capture_counters(&self) -> (&'static str, Vec<(&'static str, u64)>) {
        ("capture", self.captures.named())
    }

    /// The device indexes of `names`, which must be attached and named once each.
    fn capture_ports(&self, names: &[String]) -> Result<Vec<PortIdx>, ApiError> {
        if names.is_empty() {
            return Err(ApiError::invalid("capture: name at least one device"));
        }
        let mut ports = Vec::with_capacity(names.len());
        for name in names {
            let Some(i) = self.attached.iter().position(|(n, _)| n == name) else {
                let known: Vec<&str> = self.attached.iter().map(|(n, _)| n.as_str()).collect();
                return Err(ApiError::not_found(format!(
                    "capture: no device {name} is attached (attached: {})",
                    known.join(", ")
                )));
            };
            let port = PortIdx::try_from(i)
                .map_err(|_| ApiError::internal(format!("device {name}: index {i} too large")))?;
            if ports.contains(&port) {
                return Err(ApiError::invalid(format!(
                    "capture: device {name} named twice"
                )));
            }
            ports.push(port);
        }
        Ok(ports)
    }
}

/// The control socket's end of a session.
struct Feed {
    session: Arc<Session>,
}

impl CaptureFeed for Feed {
    fn next(&mut self, out: &mut Vec<u8>) -> Option<FrameInfo> {
        let copy = self.session.take()?;
        let info = FrameInfo {
            interface: copy.interface,
            direction: copy.direction,
            ts_ns: copy.ts_ns,
            len: copy.len,
            caplen: u32::try_from(copy.data.len()).unwrap_or(u32::MAX),
        };
        // The copy's buffer becomes the caller's and the caller's old one goes back.
        let mut data = copy.data;
        std::mem::swap(out, &mut data);
        self.session.recycle(data);
        Some(info)
    }

    fn counts(&self) -> CaptureCounts {
        self.session.counts()
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.session.stop();
    }
}
