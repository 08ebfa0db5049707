//! What the control plane needs from the data plane, without knowing DPDK: publishing a
//! topology to the workers, and a copy of their state for the views. The appliance
//! implements [`DataPlane`]; tests use a stand-in.

use crate::api::ApiError;
use crate::model::Topology;
use vrouter::stats::PortCounters;

/// The running data plane.
pub trait DataPlane: Send + Sync {
    /// Compiles `topo` for the attached devices and hands it to the workers; an error
    /// (a device that would have to be attached, a worker that is gone) changes nothing.
    fn publish(&self, topo: &Topology) -> Result<(), ApiError>;

    /// A copy of the workers' state.
    fn dump(&self) -> Result<ViewData, ApiError>;

    /// Starts copying the frames `args` names to the returned feed, until it is dropped.
    fn capture(
        &self,
        args: &crate::capture::CaptureArgs,
    ) -> Result<Box<dyn crate::capture::CaptureFeed>, ApiError> {
        let _ = args;
        Err(ApiError::invalid("this data plane has no capture"))
    }

    /// Removes what `flush` names in every worker; returns once all have, with how many
    /// entries went.
    fn flush(&self, flush: &Flush) -> Result<u64, ApiError>;

    /// Starts tracing the next `count` frames each worker receives on `device` (any device
    /// if `None`); returns how many workers trace.
    fn trace_start(&self, count: u32, device: Option<&str>) -> Result<u16, ApiError> {
        let _ = (count, device);
        Err(ApiError::invalid("this data plane has no packet trace"))
    }

    /// The steps the workers' traced frames took since the last start, worker after worker.
    fn trace_steps(&self) -> Result<Vec<crate::api::TraceStepEntry>, ApiError> {
        Err(ApiError::invalid("this data plane has no packet trace"))
    }
}

/// What a flush removes, in every worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Flush {
    /// Connection tracking sessions (`conntrack -F`): all, or the router's with this id.
    Conntrack {
        /// Only this router's (its id).
        router: Option<String>,
    },
    /// Learned neighbour entries (`ip neigh flush`): all, or those on the networks of the
    /// router with this id.
    Neighbours {
        /// Only this router's (its id).
        router: Option<String>,
    },
}

/// The workers' state, as the views show it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ViewData {
    /// Generation of the snapshot the workers run.
    pub generation: u64,
    /// Milliseconds since the workers started.
    pub uptime_ms: u64,
    /// Every attached device with its counters, in attachment order.
    pub ports: Vec<(String, PortCounters)>,
    /// Drops by reason name, every reason included.
    pub drops: Vec<(&'static str, u64)>,
    /// Per node of the data path's graph, by name, in dispatch order.
    pub nodes: Vec<(&'static str, vrouter::stats::NodeCounters)>,
    /// The MAC table.
    pub macs: Vec<MacFlow>,
    /// The routers' routes.
    pub routes: Vec<RouteFlow>,
    /// The neighbour (ARP) tables.
    pub neighbours: Vec<Neighbour>,
    /// Connection tracking (NAT) sessions.
    pub sessions: Vec<SessionFlow>,
    /// The firewall of every filtered VM port, with its rule hits.
    pub acls: Vec<AclView>,
    /// Workers polling the devices.
    pub workers: u16,
    /// Packet buffers: (in use, in the pool).
    pub mbufs: (u32, u32),
    /// Frames handed to the worker that owns their flow; learned state sent to and applied
    /// from other workers.
    pub steering: (u64, u64, u64),
    /// Every attached device's own counters (its driver's), in attachment order.
    pub nic: Vec<NicCounters>,
    /// The stages' counters by group (`router`, `security_groups`, `conntrack`, …), each
    /// as (name, value).
    pub counters: Vec<(&'static str, Vec<(&'static str, u64)>)>,
}

/// A device's own counters (rte_eth_stats): what its driver received and sent, and what
/// it dropped before the pipeline saw a frame (`ierrors`: e.g. a frame over its MTU).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NicCounters {
    /// Frames the device received.
    pub ipackets: u64,
    /// Frames the device sent.
    pub opackets: u64,
    /// Frames received in error and dropped by the device.
    pub ierrors: u64,
    /// Frames the device dropped because its rx queues were full.
    pub imissed: u64,
    /// Frames dropped because no mbuf was free to receive them.
    pub rx_nombuf: u64,
    /// Frames the device failed to send.
    pub oerrors: u64,
}

impl NicCounters {
    /// The counters as (name, value), in the order views show them.
    pub fn named(&self) -> [(&'static str, u64); 6] {
        [
            ("ipackets", self.ipackets),
            ("opackets", self.opackets),
            ("ierrors", self.ierrors),
            ("imissed", self.imissed),
            ("rx_nombuf", self.rx_nombuf),
            ("oerrors", self.oerrors),
        ]
    }
}

/// One VM port's compiled security groups and how often each rule let a connection in.
#[derive(Clone, Debug, PartialEq)]
pub struct AclView {
    /// The port's device name (`tap1653ec91-ad`).
    pub device: String,
    /// The compiled chains.
    pub acl: vrouter::tables::acl::PortAcl,
    /// (packets, bytes) per ingress rule, then per egress rule.
    pub hits: vrouter::pipeline::RuleHits,
}

/// One route of a router.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteFlow {
    /// The router's namespace name (`qrouter-<id>`).
    pub router: String,
    /// Destination prefix.
    pub destination: String,
    /// Next hop; `None` for a connected route.
    pub via: Option<String>,
    /// The router's port: its local VLAN tag.
    pub vlan: u16,
    /// The router's address on that port.
    pub src: String,
}

/// One neighbour entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neighbour {
    /// Which table: `underlay` or `router`.
    pub table: &'static str,
    /// The address.
    pub ip: String,
    /// Its MAC; `None` while unresolved.
    pub mac: Option<String>,
    /// Milliseconds since it was confirmed.
    pub age_ms: u64,
}

/// One connection tracking session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionFlow {
    /// IP protocol number.
    pub proto: u8,
    /// The original direction, `src:port -> dst:port`.
    pub orig: String,
    /// The reply direction, after NAT.
    pub reply: String,
    /// Packets in the original and reply directions.
    pub packets: [u64; 2],
    /// Bytes in the original and reply directions.
    pub bytes: [u64; 2],
    /// Milliseconds since a packet last matched it.
    pub age_ms: u64,
    /// Its conntrack zone: a router's, or (from 0x8000 on) a VM port's.
    pub zone: u16,
    /// Who the zone is: `qrouter-<id>` or the port's device name.
    pub owner: String,
    /// TCP state as conntrack names it (`ESTABLISHED`); empty for other protocols.
    pub state: &'static str,
    /// Milliseconds left until it expires without traffic.
    pub timeout_ms: u64,
    /// A packet went in the reply direction.
    pub replied: bool,
    /// Proved two-way (Linux ASSURED): never dropped early.
    pub assured: bool,
    /// The original direction's tuple.
    pub orig_tuple: Tuple,
    /// The reply direction's tuple (after NAT).
    pub reply_tuple: Tuple,
}

/// One direction of a session: addresses and ports (ICMP echo: the id as both ports).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tuple {
    /// Source address.
    pub src: std::net::Ipv4Addr,
    /// Destination address.
    pub dst: std::net::Ipv4Addr,
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
}

/// One entry of the MAC table, as `dump-flows` shows br-tun's learned flows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MacFlow {
    /// The network's local VLAN tag.
    pub vlan: u16,
    /// The address.
    pub mac: String,
    /// Where frames to it go: a device name or a GRE port name.
    pub output: String,
    /// Frames forwarded to it.
    pub n_packets: u64,
    /// Bytes forwarded to it.
    pub n_bytes: u64,
    /// Milliseconds since it was last seen.
    pub age_ms: u64,
    /// Known from the model rather than learned.
    pub is_static: bool,
}
