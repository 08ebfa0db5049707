//! `vrouterctl conntrack list|flush` and `vrouterctl neighbour flush`: the data plane's
//! connection tracking sessions one a line as `conntrack -L` prints them, and the flushes
//! of sessions (`conntrack -F`) and learned neighbours (`ip neigh flush`).

use crate::print::How;
use clap::{Args, Subcommand, ValueEnum};
use control::api::{self, Op};
use serde_json::Value;
use std::fmt::Write;

/// `vrouterctl conntrack …`.
#[derive(Subcommand, Debug)]
pub enum ConntrackCommand {
    /// List the sessions, one a line, as conntrack -L.
    List(ListArgs),
    /// Remove the sessions in every worker, as conntrack -F; established TCP connections
    /// are picked up again by their next segment, NAT keeps their ports.
    Flush(Scope),
}

/// `vrouterctl neighbour …`.
#[derive(Subcommand, Debug)]
pub enum NeighbourCommand {
    /// Remove the learned (not static) neighbour entries; they are resolved again by ARP.
    Flush(Scope),
}

/// Options of `conntrack list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only this router's sessions (id or name).
    #[arg(long)]
    router: Option<String>,
    /// Only this conntrack zone's sessions (a router's index, or 32768 + a port's).
    #[arg(long)]
    zone: Option<u16>,
    /// Output format: conntrack -L lines, or JSON.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Lines)]
    output: Output,
}

/// Output formats of `conntrack list`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Output {
    /// One line a session, as conntrack -L.
    Lines,
    /// The daemon's answer, as JSON.
    Json,
}

/// Everything, or one router's.
#[derive(Args, Debug)]
pub struct Scope {
    /// Only this router's entries (id or name).
    #[arg(long)]
    router: Option<String>,
}

impl Scope {
    fn args(self) -> api::RouterScope {
        api::RouterScope {
            router: self.router,
        }
    }
}

impl ConntrackCommand {
    /// The request, and how its answer is printed.
    pub fn into_request(self) -> (Op, How) {
        match self {
            ConntrackCommand::List(a) => {
                let print = match a.output {
                    Output::Lines => lines as fn(&Value) -> String,
                    Output::Json => json,
                };
                let args = api::ConntrackList {
                    router: a.router,
                    zone: a.zone,
                };
                (Op::ConntrackList(args), How::Custom(print))
            }
            ConntrackCommand::Flush(s) => (Op::ConntrackFlush(s.args()), How::Custom(flushed)),
        }
    }
}

impl NeighbourCommand {
    /// The request, and how its answer is printed.
    pub fn into_request(self) -> (Op, How) {
        match self {
            NeighbourCommand::Flush(s) => (Op::NeighbourFlush(s.args()), How::Custom(flushed)),
        }
    }
}

/// The answer as indented JSON.
fn json(v: &Value) -> String {
    format!("{v:#}\n")
}

/// One direction as conntrack prints it: ports, or ICMP echo's type, code and id.
fn tuple(out: &mut String, proto: &str, t: &Value, echo_type: u8) {
    let text = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or("?").to_owned();
    let num = |k: &str| t.get(k).and_then(Value::as_u64).unwrap_or_default();
    let _ = write!(out, " src={} dst={}", text("src"), text("dst"));
    match proto {
        "icmp" => {
            let _ = write!(out, " type={echo_type} code=0 id={}", num("sport"));
        }
        "tcp" | "udp" => {
            let _ = write!(out, " sport={} dport={}", num("sport"), num("dport"));
        }
        _ => {}
    }
}

/// `conntrack -L`: `tcp 6 86399 ESTABLISHED src=… dst=… sport=… dport=… packets=… bytes=…
/// src=… … [ASSURED] zone=… owner=…`, one a line.
fn lines(v: &Value) -> String {
    let sessions = v.get("sessions").and_then(Value::as_array);
    let mut out = String::new();
    for s in sessions.map_or(&[][..], Vec::as_slice) {
        let proto = s.get("proto").and_then(Value::as_str).unwrap_or("unknown");
        let num = |k: &str| s.get(k).and_then(Value::as_u64).unwrap_or_default();
        let flag = |k: &str| s.get(k).and_then(Value::as_bool).unwrap_or_default();
        let counted = |k: &str, dir: usize| s[k].get(dir).and_then(Value::as_u64).unwrap_or(0);
        let _ = write!(out, "{proto:<8} {} {}", num("proto_number"), num("timeout"));
        if let Some(state) = s.get("state").and_then(Value::as_str) {
            let _ = write!(out, " {state}");
        }
        tuple(&mut out, proto, &s["orig"], 8);
        let _ = write!(
            out,
            " packets={} bytes={}",
            counted("packets", 0),
            counted("bytes", 0)
        );
        if flag("unreplied") {
            out.push_str(" [UNREPLIED]");
        }
        tuple(&mut out, proto, &s["reply"], 0);
        let _ = write!(
            out,
            " packets={} bytes={}",
            counted("packets", 1),
            counted("bytes", 1)
        );
        if flag("assured") {
            out.push_str(" [ASSURED]");
        }
        let owner = s.get("owner").and_then(Value::as_str).unwrap_or("?");
        let _ = writeln!(out, " zone={} owner={owner}", num("zone"));
    }
    out
}

/// What a flush removed, in words.
fn flushed(v: &Value) -> String {
    let removed = v.get("removed").and_then(Value::as_u64).unwrap_or_default();
    let what = match v.get("flushed").and_then(Value::as_str) {
        Some("neighbours") => "learned neighbour entries",
        _ => "connection tracking sessions",
    };
    let scope = v
        .get("router")
        .and_then(Value::as_str)
        .map_or_else(String::new, |r| format!(" of {r}"));
    format!("{removed} {what}{scope} removed\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_session_is_one_conntrack_line() {
        let v = json!({"sessions": [{
            "proto": "tcp", "proto_number": 6, "state": "ESTABLISHED", "timeout": 86399,
            "orig": {"src": "10.0.0.9", "dst": "10.1.101.1", "sport": 40000, "dport": 80},
            "reply": {"src": "10.1.101.1", "dst": "10.1.101.80", "sport": 80, "dport": 40000},
            "unreplied": false, "assured": true, "zone": 0, "owner": "qrouter-x",
            "packets": [3, 2], "bytes": [180, 120]
        }, {
            "proto": "icmp", "proto_number": 1, "timeout": 29,
            "orig": {"src": "10.0.0.9", "dst": "10.1.101.1", "sport": 7, "dport": 7},
            "reply": {"src": "10.1.101.1", "dst": "10.1.101.80", "sport": 7, "dport": 7},
            "unreplied": true, "assured": false, "zone": 32769, "owner": "tap1",
            "packets": [1, 0], "bytes": [84, 0]
        }]});
        let text = lines(&v);
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(
            rows[0],
            "tcp      6 86399 ESTABLISHED src=10.0.0.9 dst=10.1.101.1 sport=40000 dport=80 \
             packets=3 bytes=180 src=10.1.101.1 dst=10.1.101.80 sport=80 dport=40000 \
             packets=2 bytes=120 [ASSURED] zone=0 owner=qrouter-x"
        );
        assert_eq!(
            rows[1],
            "icmp     1 29 src=10.0.0.9 dst=10.1.101.1 type=8 code=0 id=7 packets=1 bytes=84 \
             [UNREPLIED] src=10.1.101.1 dst=10.1.101.80 type=0 code=0 id=7 packets=0 bytes=0 \
             zone=32769 owner=tap1"
        );
    }

    #[test]
    fn a_flush_says_what_went() {
        let v = json!({"flushed": "sessions", "router": "qrouter-x", "removed": 3});
        assert_eq!(
            flushed(&v),
            "3 connection tracking sessions of qrouter-x removed\n"
        );
        let v = json!({"flushed": "neighbours", "removed": 1});
        assert_eq!(flushed(&v), "1 learned neighbour entries removed\n");
    }
}
