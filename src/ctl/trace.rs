//! `vrouterctl trace add|show`: the packet trace of the data path, as VPP's `trace add`
//! and `show trace`: each traced frame's way through the nodes, one step a line.

use crate::print::How;
use clap::{Args, Subcommand};
use control::api::{self, Op};
use serde_json::Value;
use std::fmt::Write;

/// `vrouterctl trace …`.
#[derive(Subcommand, Debug)]
pub enum TraceCommand {
    /// Trace the next N frames each worker receives (on one device, or any); forgets the
    /// steps recorded before.
    Add(AddArgs),
    /// The steps the traced frames took: node, edge, the frame as the node got it.
    Show,
}

/// Options of `trace add`.
#[derive(Args, Debug)]
pub struct AddArgs {
    /// Frames per worker (1 to 1000).
    count: u32,
    /// Only frames received on this device (e.g. tap1653ec91-ad, eth1).
    #[arg(long)]
    device: Option<String>,
}

impl TraceCommand {
    /// The request, and how its answer is printed.
    pub fn into_request(self) -> (Op, How) {
        match self {
            TraceCommand::Add(a) => {
                let args = api::TraceAdd {
                    count: a.count,
                    device: a.device,
                };
                (Op::TraceAdd(args), How::Custom(started))
            }
            TraceCommand::Show => (Op::TraceShow(api::NoArgs {}), How::Custom(steps)),
        }
    }
}

/// `Tracing the next N frames …`.
fn started(v: &Value) -> String {
    let num = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or_default();
    let device = v.get("device").and_then(Value::as_str);
    let from = device.map_or_else(|| "any device".to_owned(), |d| format!("device {d}"));
    format!(
        "Tracing the next {} frames from {from} in each of {} workers\n",
        num("count"),
        num("workers")
    )
}

/// `Packet N (worker W)` and one line a step: node, edge, sessions created, decode.
fn steps(v: &Value) -> String {
    let steps = v.get("steps").and_then(Value::as_array);
    let steps = steps.map_or(&[][..], Vec::as_slice);
    let mut out = String::new();
    if steps.is_empty() {
        out.push_str("No packets traced\n");
    }
    let mut current = None;
    for s in steps {
        let num = |k: &str| s.get(k).and_then(Value::as_u64).unwrap_or_default();
        let text = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("?").to_owned();
        let packet = (num("worker"), num("packet"));
        if current != Some(packet) {
            let _ = writeln!(out, "Packet {} (worker {})", packet.1, packet.0);
            current = Some(packet);
        }
        let created = match num("sessions_created") {
            0 => String::new(),
            n => format!(" +{n} session(s)"),
        };
        let _ = writeln!(
            out,
            "  {:<15} {:<24}{created}  {}",
            text("node"),
            text("edge"),
            text("decode")
        );
    }
    out
}
