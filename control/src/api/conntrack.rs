//! The answers of `conntrack.list`, `conntrack.flush` and `neighbour.flush`: sessions as
//! `conntrack -L` shows them, and what a flush removed.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One direction of a session, as conntrack prints it (`src= dst= sport= dport=`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TupleEntry {
    /// Source address.
    pub src: String,
    /// Destination address.
    pub dst: String,
    /// Source port (ICMP echo: the id).
    pub sport: u16,
    /// Destination port (ICMP echo: the id).
    pub dport: u16,
}

/// One session of `conntrack.list`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SessionEntry {
    /// Protocol name (`tcp`, `udp`, `icmp`, or `unknown`).
    pub proto: String,
    /// IP protocol number.
    pub proto_number: u8,
    /// TCP state (`ESTABLISHED`, …); absent for other protocols.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Seconds left until it expires without traffic.
    pub timeout: u64,
    /// The original direction.
    pub orig: TupleEntry,
    /// The reply direction, after NAT.
    pub reply: TupleEntry,
    /// No packet went in the reply direction yet (`[UNREPLIED]`).
    pub unreplied: bool,
    /// Proved two-way (`[ASSURED]`).
    pub assured: bool,
    /// Its conntrack zone: a router's (its index), or from 32768 on a VM port's.
    pub zone: u16,
    /// Who the zone is: `qrouter-<id>` or a VM port's device name.
    pub owner: String,
    /// Packets in the original and reply directions.
    pub packets: [u64; 2],
    /// Bytes in the original and reply directions.
    pub bytes: [u64; 2],
}

/// The answer of `conntrack.list`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SessionList {
    /// The sessions, by zone then original tuple.
    pub sessions: Vec<SessionEntry>,
}

/// The answer of `conntrack.flush` and `neighbour.flush`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Flushed {
    /// What was flushed: `sessions` or `neighbours`.
    pub flushed: String,
    /// The router it was limited to (`qrouter-<id>`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router: Option<String>,
    /// Entries removed, over every worker.
    pub removed: u64,
}
