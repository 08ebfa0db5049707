//! How answers are printed for people: lists and shows as neutron's tables, the views as
//! the tools of the network node print them (`ip netns`, `ovs-ofctl dump-flows`, ifconfig).

use control::table;
use serde_json::Value;
use std::fmt::Write;

/// How to print an answer.
#[derive(Debug)]
pub enum How {
    /// A table with these default columns.
    List(&'static [&'static str]),
    /// A `Field | Value` table.
    Show,
    /// `Created a new KIND:` and the new resource.
    Created(&'static str),
    /// `Updated KIND: ID`.
    Updated(&'static str, String),
    /// `Deleted KIND: ID`.
    Deleted(&'static str, String),
    /// A fixed message.
    Message(String),
    /// The answer's `text`.
    Text,
    /// Namespace names, one a line.
    Netns,
    /// Flows, one a line.
    Flows,
    /// Counters.
    Stats,
    /// Security group chains, as iptables -S.
    Chains,
    /// Printed by this function.
    Custom(fn(&Value) -> String),
}

/// `value` printed as `how` says; `columns` restricts lists and shows.
pub fn render(how: &How, value: &Value, columns: &[&str]) -> String {
    let empty = serde_json::Map::new();
    let object = value.as_object().unwrap_or(&empty);
    match how {
        How::List(default) => {
            let items = value.as_array().map_or(&[][..], Vec::as_slice);
            table::list(if columns.is_empty() { default } else { columns }, items)
        }
        How::Show => table::show(object, columns),
        How::Created(kind) => format!("Created a new {kind}:\n{}", table::show(object, columns)),
        How::Updated(kind, id) => format!("Updated {kind}: {id}\n"),
        How::Deleted(kind, id) => format!("Deleted {kind}: {id}\n"),
        How::Message(m) => format!("{m}\n"),
        How::Text => text(value, "text"),
        How::Netns => netns(value),
        How::Flows => flows(value),
        How::Stats => stats(value),
        How::Chains => chains(value),
        How::Custom(print) => print(value),
    }
}

/// The string at `key` of `v`.
fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The number at `key` of `v`.
fn num(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or_default()
}

/// The array at `key` of `v`.
fn items<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// `ip netns`: one name a line.
fn netns(v: &Value) -> String {
    let list = v.as_array().map_or(&[][..], Vec::as_slice);
    list.iter()
        .map(|n| format!("{}\n", text(n, "name")))
        .collect()
}

/// `ovs-ofctl dump-flows`: one flow a line, with its counters; then the routes, the
/// neighbours and the NAT sessions, as `ip route`, `ip neigh` and `conntrack -L` list them.
fn flows(v: &Value) -> String {
    let mut s = format!("NXST_FLOW reply (generation {}):\n", num(v, "generation"));
    let tables = items(v, "tables");
    for t in tables
        .iter()
        .filter(|t| t.get("table") == Some(&Value::from(20)))
    {
        for f in items(t, "flows") {
            let kind = if f.get("static") == Some(&Value::Bool(true)) {
                "static"
            } else {
                "learned"
            };
            let _ = writeln!(
                s,
                " table={}, n_packets={}, n_bytes={}, idle_age={}, {kind}, dl_vlan={},dl_dst={} actions=output:{}",
                num(t, "table"),
                num(f, "n_packets"),
                num(f, "n_bytes"),
                num(f, "idle_age"),
                num(f, "dl_vlan"),
                text(f, "dl_dst"),
                text(f, "output"),
            );
        }
    }
    for t in tables {
        let name = t.get("table").and_then(Value::as_str).unwrap_or_default();
        for f in items(t, "flows") {
            let line = match name {
                "route" => {
                    let via = f.get("via").and_then(Value::as_str);
                    let via = via.map_or_else(|| "connected".to_owned(), |v| format!("via {v}"));
                    let (router, dst) = (text(f, "router"), text(f, "destination"));
                    let (dev, src) = (text(f, "dev"), text(f, "src"));
                    format!(" route {router}: {dst} {via} dev {dev} src {src}")
                }
                "arp" => {
                    let mac = f
                        .get("lladdr")
                        .and_then(Value::as_str)
                        .unwrap_or("(incomplete)");
                    let (table, ip, age) = (text(f, "table"), text(f, "ip"), num(f, "age"));
                    format!(" neigh {table}: {ip} lladdr {mac} age={age}s")
                }
                "nat" => format!(
                    " conntrack proto={} {} | reply {} n_packets={} n_bytes={} idle_age={}",
                    num(f, "proto"),
                    text(f, "orig"),
                    text(f, "reply"),
                    pair(f.get("n_packets")),
                    pair(f.get("n_bytes")),
                    num(f, "idle_age"),
                ),
                _ => continue,
            };
            let _ = writeln!(s, "{line}");
        }
    }
    s
}

/// A pair of counters as `original/reply`.
fn pair(v: Option<&Value>) -> String {
    let nums: Vec<String> = v
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .map(|n| n.as_u64().unwrap_or_default().to_string())
        .collect();
    nums.join("/")
}

/// Workers and packet buffers, counters per device as ifconfig prints them, then the drop
/// reasons that counted.
fn stats(v: &Value) -> String {
    let mut s = String::new();
    let mbufs = v.get("mbufs");
    let _ = writeln!(
        s,
        "workers:{} mbufs in use:{}/{} handed_off:{} sync sent/applied:{}/{}\n",
        num(v, "workers"),
        mbufs.map_or(0, |m| num(m, "in_use")),
        mbufs.map_or(0, |m| num(m, "total")),
        num(v, "handed_off"),
        num(v, "sync_sent"),
        num(v, "sync_applied"),
    );
    for p in items(v, "ports") {
        let _ = writeln!(
            s,
            "{:<16}RX packets:{} bytes:{} dropped:{}\n{:<16}TX packets:{} bytes:{} dropped:{}",
            text(p, "name"),
            num(p, "rx_packets"),
            num(p, "rx_bytes"),
            num(p, "rx_dropped"),
            "",
            num(p, "tx_packets"),
            num(p, "tx_bytes"),
            num(p, "tx_dropped"),
        );
        let _ = writeln!(s, "{:<16}NIC {}\n", "", fields(p.get("nic"), ":"));
    }
    for group in STAT_GROUPS {
        if v.get(group).is_some() {
            let _ = writeln!(s, "{group}: {}", fields(v.get(group), " "));
        }
    }
    s.push('\n');
    let drops = v.get("drops").and_then(Value::as_object);
    let rows: Vec<Vec<String>> = drops
        .into_iter()
        .flatten()
        .filter(|(_, n)| n.as_u64().is_some_and(|n| n > 0))
        .map(|(reason, n)| vec![reason.clone(), n.to_string()])
        .collect();
    s.push_str(&table::boxed(&["drop reason", "packets"], &rows));
    s.push_str(&nodes(v));
    s
}

/// The data path's nodes that ran, with their vectors, frames and cycles per frame.
fn nodes(v: &Value) -> String {
    let rows: Vec<Vec<String>> = items(v, "nodes")
        .iter()
        .filter(|n| num(n, "packets") > 0)
        .map(|n| {
            let cells = ["calls", "packets", "cycles_per_packet"].map(|k| num(n, k).to_string());
            let mut row = vec![text(n, "name")];
            row.extend(cells);
            row
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    table::boxed(&["node", "vectors", "packets", "cycles/packet"], &rows)
}

/// The stage counter groups of `stats`, in the order they are printed.
const STAT_GROUPS: [&str; 6] = [
    "events",
    "router",
    "security_groups",
    "conntrack",
    "dhcp",
    "mac_table",
];

/// The counters of a JSON object as `name<sep>value` separated by spaces.
fn fields(v: Option<&Value>, sep: &str) -> String {
    let fields: Vec<String> = v
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, n)| format!("{k}{sep}{}", n.as_u64().unwrap_or_default()))
        .collect();
    fields.join(" ")
}

/// `iptables -S`-like chains of every filtered port, rule hits in brackets.
fn chains(v: &Value) -> String {
    let mut s = String::new();
    for port in v.as_array().map_or(&[][..], Vec::as_slice) {
        let _ = writeln!(
            s,
            "# {} (port {})",
            text(port, "device"),
            text(port, "port_id")
        );
        for chain in items(port, "chains") {
            let _ = writeln!(s, "-N {}", text(chain, "name"));
            for r in items(chain, "rules") {
                let _ = match r.get("n_packets").and_then(Value::as_u64) {
                    Some(p) => writeln!(
                        s,
                        "{}   [n_packets={p} n_bytes={} id={}]",
                        text(r, "rule"),
                        num(r, "n_bytes"),
                        text(r, "id")
                    ),
                    None => writeln!(s, "{}", text(r, "rule")),
                };
            }
        }
    }
    s
}

/// `hello`: the daemon's API and package versions, beside this client's.
pub fn hello(value: &Value) -> String {
    let field = |key: &str| match &value[key] {
        Value::String(s) => s.clone(),
        Value::Null => "?".to_owned(),
        other => other.to_string(),
    };
    format!(
        "daemon: vrouter {} (API version {})\nclient: vrouterctl {} (API version {})\n",
        field("daemon_version"),
        field("api_version"),
        env!("CARGO_PKG_VERSION"),
        control::api::API_VERSION
    )
}
