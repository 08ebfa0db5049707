//! The metrics endpoint (`--metrics ADDR`): OpenMetrics text on `GET /metrics`, served by
//! a thread of its own (never a forwarding core). Each scrape asks every worker for its
//! counters ([`Plane::counters`]: integers and table occupancies, no table copied) and
//! reads the devices' own counters and link state from their drivers; series carry the
//! operator's names as labels (device `tap1653ec91-ad`, network, router `qrouter-…`).

use crate::plane::{NicState, Plane};
use crate::worker::Counters;
use anyhow::{anyhow, Result};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::fmt::Error as FmtError;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use vrouter::pipeline::Node;
use vrouter::stats::{DropReason, Merge, Named};
use vrouter::tables::{PortRole, Snapshot};

/// How long a scrape waits for the workers' counters.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(2);
/// The content type of OpenMetrics text.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The content type of the Prometheus text format, for clients that do not ask for
/// OpenMetrics (curl, promtool).
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The running endpoint; dropping it stops the thread.
pub struct MetricsServer {
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// Listens on `addr` and serves `plane`'s metrics from a thread named `vrouter-metrics`.
    pub fn start(addr: SocketAddr, plane: Arc<Plane>) -> Result<MetricsServer> {
        let server = tiny_http::Server::http(addr)
            .map_err(|e| anyhow!("metrics endpoint on {addr}: {e}"))?;
        let server = Arc::new(server);
        let serving = Arc::clone(&server);
        let thread = std::thread::Builder::new()
            .name("vrouter-metrics".into())
            .spawn(move || serve(&serving, &plane))?;
        Ok(MetricsServer {
            server,
            thread: Some(thread),
        })
    }

    /// The address it listens on (the port chosen when `ADDR` said port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server.server_addr().to_ip()
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Answers requests until the server is unblocked: `GET /metrics` gets the text, any
/// other path 404, a scrape the workers do not answer in time 503.
fn serve(server: &tiny_http::Server, plane: &Plane) {
    let mut busy = BusyRatio::default();
    for request in server.incoming_requests() {
        let path = request.url().split('?').next().unwrap_or("");
        let openmetrics = request.headers().iter().any(|h| {
            h.field.equiv("Accept") && h.value.as_str().contains("application/openmetrics-text")
        });
        let response = if path != "/metrics" {
            tiny_http::Response::from_string("not found: the metrics are at /metrics\n")
                .with_status_code(404)
        } else {
            match render(plane, &mut busy) {
                Some(text) => {
                    let (text, kind) = if openmetrics {
                        (text, OPENMETRICS)
                    } else {
                        (prometheus_text(&text), PROMETHEUS_TEXT)
                    };
                    tiny_http::Response::from_string(text).with_header(
                        tiny_http::Header::from_bytes("Content-Type", kind)
                            .expect("a valid header"),
                    )
                }
                None => tiny_http::Response::from_string(
                    "a worker did not answer in time: no metrics\n",
                )
                .with_status_code(503),
            }
        };
        // The scraper may have gone away; nothing to do then.
        let _ = request.respond(response);
    }
}

/// OpenMetrics text in the Prometheus text format (version 0.0.4): a counter family is
/// named as its samples (`x_total`), and the `# UNIT` and `# EOF` lines go.
fn prometheus_text(om: &str) -> String {
    let counters: std::collections::HashSet<&str> = om
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(om.len() + 16 * counters.len());
    for line in om.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| Some((p, line.strip_prefix(p)?)));
        match meta {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                let total = if counters.contains(name) {
                    "_total"
                } else {
                    ""
                };
                out.push_str(&format!("{prefix}{name}{total} {tail}\n"));
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// Each worker's busy and total cycles at the previous scrape, for the busy ratio over
/// the interval between two scrapes.
#[derive(Default)]
struct BusyRatio {
    last: Vec<(u64, u64)>,
}

impl BusyRatio {
    /// The share of cycles each worker spent on polls that found frames since the
    /// previous scrape (since it started, on the first).
    fn update(&mut self, workers: &[Counters]) -> Vec<f64> {
        self.last.resize(workers.len(), (0, 0));
        let ratios = workers.iter().zip(&mut self.last).map(|(w, last)| {
            let busy = w.cycles.0.saturating_sub(last.0);
            let total = w.cycles.1.saturating_sub(last.1);
            *last = w.cycles;
            if total == 0 {
                0.0
            } else {
                busy as f64 / total as f64
            }
        });
        ratios.collect()
    }
}

/// The text of one scrape, or None when a worker does not answer in time.
fn render(plane: &Plane, busy: &mut BusyRatio) -> Option<String> {
    let workers = plane.counters(SCRAPE_TIMEOUT)?;
    let scrape = Scrape {
        snapshot: plane.snapshot(),
        nics: plane.nic_states(),
        busy_ratio: busy.update(&workers),
        tsc_hz: crate::dpdk::tsc_hz().max(1),
        workers,
    };
    let mut registry = Registry::default();
    registry.register_collector(Box::new(scrape));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).ok()?;
    Some(text)
}

/// What one scrape shows.
#[derive(Debug)]
struct Scrape {
    snapshot: Arc<Snapshot>,
    workers: Vec<Counters>,
    nics: Vec<NicState>,
    busy_ratio: Vec<f64>,
    tsc_hz: u64,
}

/// The labels of one series.
type Labels = Vec<(&'static str, String)>;

/// A value of a series: counters are monotonic, gauges are not.
enum Value {
    Counter(u64),
    Seconds(f64),
    Gauge(i64),
    Ratio(f64),
}

/// Writes one metric family: its name, help and type, then every series.
fn family(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (Labels, Value)>,
) -> Result<(), FmtError> {
    let mut rows = rows.into_iter().peekable();
    let kind = match rows.peek() {
        Some((_, Value::Counter(_) | Value::Seconds(_))) => MetricType::Counter,
        Some(_) => MetricType::Gauge,
        None => return Ok(()),
    };
    let mut fam = enc.encode_descriptor(name, help, None, kind)?;
    for (labels, value) in rows {
        let series = fam.encode_family(&labels)?;
        match value {
            Value::Counter(v) => ConstCounter::new(v).encode(series)?,
            Value::Seconds(v) => ConstCounter::new(v).encode(series)?,
            Value::Gauge(v) => ConstGauge::new(v).encode(series)?,
            Value::Ratio(v) => ConstGauge::new(v).encode(series)?,
        }
    }
    Ok(())
}

/// Counters named by `label`, one series each.
fn by_name(label: &'static str, named: Vec<(&'static str, u64)>) -> Vec<(Labels, Value)> {
    let rows = named.into_iter();
    rows.map(|(n, v)| (vec![(label, n.to_string())], Value::Counter(v)))
        .collect()
}

/// A gauge without labels.
fn single(v: usize) -> [(Labels, Value); 1] {
    [(Vec::new(), Value::Gauge(v as i64))]
}

impl Scrape {
    /// The device's name and its network's (empty for trunks and the underlay).
    fn device_labels(&self, i: usize) -> Labels {
        let Some(port) = self.snapshot.ports.get(i) else {
            return vec![("device", format!("port{i}")), ("network", String::new())];
        };
        let network = match port.role {
            PortRole::Access { net } => self.snapshot.network(net).map(|n| n.name.clone()),
            _ => None,
        };
        vec![
            ("device", port.name.clone()),
            ("network", network.unwrap_or_default()),
        ]
    }

    /// Every worker's counters summed.
    fn total(&self) -> Counters {
        let mut all = self.workers.iter();
        let mut t = all.next().cloned().unwrap_or_default();
        for w in all {
            t.stats.merge(&w.stats);
            t.mac_entries += w.mac_entries;
            t.mac_events.merge(&w.mac_events);
            for i in 0..2 {
                t.neighbour_entries[i] = t.neighbour_entries[i].max(w.neighbour_entries[i]);
                t.neighbour_events[i].merge(&w.neighbour_events[i]);
            }
            t.conntrack.merge(&w.conntrack);
            t.sessions += w.sessions;
            for (mine, theirs) in t.snat_ports.iter_mut().zip(&w.snat_ports) {
                mine.1 += theirs.1;
            }
            t.leases = t.leases.max(w.leases);
            for (mine, theirs) in t.acl_hits.iter_mut().zip(&w.acl_hits) {
                for (a, b) in mine.0.iter_mut().zip(&theirs.0) {
                    *a = (a.0 + b.0, a.1 + b.1);
                }
                for (a, b) in mine.1.iter_mut().zip(&theirs.1) {
                    *a = (a.0 + b.0, a.1 + b.1);
                }
            }
        }
        t
    }

    fn devices(&self, enc: &mut DescriptorEncoder, t: &Counters) -> Result<(), FmtError> {
        type Field = fn(&vrouter::stats::PortCounters) -> u64;
        let fields: [(&str, &str, Field); 6] = [
            ("vrouter_device_rx_packets", "Frames received", |c| {
                c.rx_packets
            }),
            ("vrouter_device_rx_bytes", "Bytes received", |c| c.rx_bytes),
            (
                "vrouter_device_rx_dropped",
                "Frames received and dropped by the pipeline",
                |c| c.rx_dropped,
            ),
            ("vrouter_device_tx_packets", "Frames sent", |c| c.tx_packets),
            ("vrouter_device_tx_bytes", "Bytes sent", |c| c.tx_bytes),
            (
                "vrouter_device_tx_dropped",
                "Frames the device refused to send",
                |c| c.tx_dropped,
            ),
        ];
        let ports = self.snapshot.ports.len();
        for (name, help, field) in fields {
            let rows = (0..ports).map(|i| {
                let c = t.stats.ports.get(i).copied().unwrap_or_default();
                (self.device_labels(i), Value::Counter(field(&c)))
            });
            family(enc, name, help, rows)?;
        }
        type NicField = fn(&control::plane::NicCounters) -> u64;
        let nic: [(&str, &str, NicField); 6] = [
            (
                "vrouter_nic_ipackets",
                "Frames the device's driver received",
                |c| c.ipackets,
            ),
            (
                "vrouter_nic_opackets",
                "Frames the device's driver sent",
                |c| c.opackets,
            ),
            ("vrouter_nic_ierrors", "Frames received in error", |c| {
                c.ierrors
            }),
            (
                "vrouter_nic_imissed",
                "Frames dropped because the rx queues were full",
                |c| c.imissed,
            ),
            (
                "vrouter_nic_rx_nombuf",
                "Frames dropped because no mbuf was free",
                |c| c.rx_nombuf,
            ),
            (
                "vrouter_nic_oerrors",
                "Frames the device failed to send",
                |c| c.oerrors,
            ),
        ];
        for (name, help, field) in nic {
            let rows = self.nics.iter().enumerate();
            let rows =
                rows.map(|(i, n)| (self.device_labels(i), Value::Counter(field(&n.counters))));
            family(enc, name, help, rows)?;
        }
        let links = self.nics.iter().enumerate();
        let links = links.map(|(i, n)| (self.device_labels(i), Value::Gauge(i64::from(n.link_up))));
        family(
            enc,
            "vrouter_nic_link_up",
            "1 if the device's link is up",
            links,
        )
    }

    fn conntrack(&self, enc: &mut DescriptorEncoder, t: &Counters) -> Result<(), FmtError> {
        let ct = &t.conntrack;
        family(
            enc,
            "vrouter_conntrack_sessions",
            "Live sessions",
            single(t.sessions),
        )?;
        family(
            enc,
            "vrouter_conntrack_capacity",
            "Sessions the table holds at most",
            single(self.snapshot.conntrack.capacity),
        )?;
        family(
            enc,
            "vrouter_conntrack_created",
            "Sessions created",
            [(Vec::new(), Value::Counter(ct.created))],
        )?;
        let refused = [("table_full", ct.full), ("zone_full", ct.zone_full)];
        family(
            enc,
            "vrouter_conntrack_refused",
            "New sessions refused, by reason",
            by_name("reason", refused.to_vec()),
        )?;
        family(
            enc,
            "vrouter_conntrack_events",
            "Connection tracking events",
            by_name("event", ct.named()),
        )?;
        let gateways = self.snapshot.routers.iter().filter(|r| r.snat_ip.is_some());
        let snat = gateways.zip(&t.snat_ports).map(|(r, (ip, n))| {
            let labels = vec![
                ("router", control::naming::qrouter_ns(&r.id)),
                ("address", ip.to_string()),
            ];
            (labels, Value::Gauge(*n as i64))
        });
        family(
            enc,
            "vrouter_snat_ports_in_use",
            "SNAT sessions holding a port of a router's gateway address",
            snat,
        )?;
        family(
            enc,
            "vrouter_snat_exhausted",
            "New SNAT connections refused because no port was free",
            [(
                Vec::new(),
                Value::Counter(t.stats.router.nat_ports_exhausted),
            )],
        )
    }

    fn tables(&self, enc: &mut DescriptorEncoder, t: &Counters) -> Result<(), FmtError> {
        family(
            enc,
            "vrouter_mac_table_entries",
            "Entries of the MAC table (summed over workers)",
            single(t.mac_entries),
        )?;
        family(
            enc,
            "vrouter_mac_table_capacity",
            "Entries the MAC table of a worker holds at most",
            single(self.snapshot.mac.capacity),
        )?;
        family(
            enc,
            "vrouter_mac_table_events",
            "MAC table events",
            by_name("event", t.mac_events.named()),
        )?;
        let tables = ["underlay", "router"].into_iter().enumerate();
        let entries = tables.clone().map(|(i, table)| {
            let n = t.neighbour_entries[i] as i64;
            (vec![("table", table.to_string())], Value::Gauge(n))
        });
        family(
            enc,
            "vrouter_neighbours",
            "Neighbour entries (the largest worker's table)",
            entries,
        )?;
        let events = tables.flat_map(|(i, table)| {
            let named = t.neighbour_events[i].named().into_iter();
            named.map(move |(event, v)| {
                let labels = vec![("table", table.to_string()), ("event", event.to_string())];
                (labels, Value::Counter(v))
            })
        });
        family(
            enc,
            "vrouter_neighbour_events",
            "Neighbour table events",
            events,
        )
    }

    fn stages(&self, enc: &mut DescriptorEncoder, t: &Counters) -> Result<(), FmtError> {
        let drops = DropReason::ALL.iter().map(|&r| {
            let labels = vec![("reason", r.name().to_string())];
            (labels, Value::Counter(t.stats.drops[r as usize]))
        });
        family(enc, "vrouter_drops", "Frames dropped, by reason", drops)?;
        family(
            enc,
            "vrouter_dhcp_messages",
            "DHCP messages sent (offers, acks, naks, informs) and accepted (releases, declines)",
            by_name("type", t.stats.dhcp.named()),
        )?;
        family(
            enc,
            "vrouter_dhcp_leases",
            "DHCP leases granted",
            single(t.leases),
        )?;
        family(
            enc,
            "vrouter_router_events",
            "Router stage events",
            by_name("event", t.stats.router.named()),
        )?;
        family(
            enc,
            "vrouter_security_group_packets",
            "Security group verdicts, by connection state",
            by_name("state", t.stats.acl.named()),
        )?;
        self.nodes(enc, t)?;
        self.rule_hits(enc, t)
    }

    /// Per node of the data path's graph: frames, vectors (calls) and cycles.
    fn nodes(&self, enc: &mut DescriptorEncoder, t: &Counters) -> Result<(), FmtError> {
        type Field = fn(&vrouter::stats::NodeCounters) -> u64;
        let fields: [(&str, &str, Field); 3] = [
            (
                "vrouter_node_packets",
                "Frames a node of the data path processed",
                |c| c.packets,
            ),
            (
                "vrouter_node_calls",
                "Vectors a node of the data path processed",
                |c| c.calls,
            ),
            (
                "vrouter_node_cycles",
                "CPU cycles a node of the data path spent",
                |c| c.cycles,
            ),
        ];
        for (name, help, field) in fields {
            let rows = Node::ALL.iter().map(|&n| {
                let labels = vec![("node", n.name().to_string())];
                (labels, Value::Counter(field(&t.stats.nodes[n as usize])))
            });
            family(enc, name, help, rows)?;
        }
        Ok(())
    }

    fn rule_hits(&self, enc: &mut DescriptorEncoder, t: &Counters) -> Result<(), FmtError> {
        let mut packets = Vec::new();
        let mut bytes = Vec::new();
        let acls = self.snapshot.acls.iter().enumerate();
        for (i, acl) in acls.filter_map(|(i, a)| Some((i, a.as_ref()?))) {
            let Some(hits) = t.acl_hits.get(i) else {
                continue;
            };
            let device = self.device_labels(i).swap_remove(0).1;
            let dirs = [
                ("ingress", &acl.ingress, &hits.0),
                ("egress", &acl.egress, &hits.1),
            ];
            for (dir, rules, hits) in dirs {
                for (rule, h) in rules.iter().zip(hits) {
                    let labels: Labels = vec![
                        ("device", device.clone()),
                        ("direction", dir.to_string()),
                        ("security_group", rule.group.clone()),
                        ("rule", rule.id.clone()),
                    ];
                    packets.push((labels.clone(), Value::Counter(h.0)));
                    bytes.push((labels, Value::Counter(h.1)));
                }
            }
        }
        family(
            enc,
            "vrouter_security_group_rule_hit_packets",
            "Packets of new connections a security group rule allowed",
            packets,
        )?;
        family(
            enc,
            "vrouter_security_group_rule_hit_bytes",
            "Bytes of the packets a security group rule allowed",
            bytes,
        )
    }

    fn workers(&self, enc: &mut DescriptorEncoder) -> Result<(), FmtError> {
        let label = |w: &Counters| vec![("worker", w.worker.to_string())];
        let ratio = self.workers.iter().zip(&self.busy_ratio);
        let ratio = ratio.map(|(w, r)| (label(w), Value::Ratio(*r)));
        family(
            enc,
            "vrouter_worker_busy_ratio",
            "Share of a worker's cycles spent on polls that found frames, since the previous scrape",
            ratio,
        )?;
        let busy = self.workers.iter().map(|w| {
            let secs = w.cycles.0 as f64 / self.tsc_hz as f64;
            (label(w), Value::Seconds(secs))
        });
        family(
            enc,
            "vrouter_worker_busy_seconds",
            "Seconds a worker spent on polls that found frames, since it started",
            busy,
        )
    }
}

impl Collector for Scrape {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), FmtError> {
        let t = self.total();
        self.devices(&mut enc, &t)?;
        self.stages(&mut enc, &t)?;
        self.conntrack(&mut enc, &t)?;
        self.tables(&mut enc, &t)?;
        self.workers(&mut enc)
    }
}
