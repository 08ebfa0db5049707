//! The reference topology as the connection tracking tests run it: vm001 (10.0.0.10,
//! through SNAT 10.1.101.80) and vm002 (10.0.0.9, floating IP 10.1.101.82) bound to local
//! taps, the upstream router 10.1.101.254 on Ext-Net, optionally a second tenant (vm003
//! 10.2.0.5 behind its own router, SNAT 10.1.101.90) and `[conntrack]` limits. Its state
//! directory and socket outlive a restart of the appliance; with `bridged`, every tap is
//! attached to a bridge in a namespace of its own and the hosts sit behind veths, so that
//! a host keeps its interface (and its connections) while the appliance restarts.

#![allow(dead_code)] // each test file uses its own subset

use crate::common::{move_tap, unique, vrouterctl, Netns, TempDir, Vrouter, TENANT_A};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub const VM001_PORT: &str = "d7233b80-9d4b-4ef6-a60d-19b3be661069";
pub const VM002_PORT: &str = "1653ec91-ad7d-40d9-b777-f74aec697026";
pub const VM003_PORT: &str = "3b0c0003-0000-4000-8000-000000000005";
const FIP_ID: &str = "00000000-0000-4000-8000-0a0165000052";
const DEFAULT_GROUP: &str = "8bd8fb6b-7141-4900-8321-390cc1a5d999";
/// vm002's group when the test restricts it: tcp 22 in, icmp in, everything out.
pub const SSH_ONLY: &str = "5ec0cccc-0000-4000-8000-000000000001";
/// The python TCP tool.
pub const TCP_TOOL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/tcp_tool.py");

/// What the test topology has besides the reference one.
#[derive(Clone, Copy, Default)]
pub struct Options {
    /// vm002 in the ssh-only group instead of the default one.
    pub ssh_only: bool,
    /// `[conntrack] capacity` and `zone_limit`.
    pub conntrack: Option<(usize, usize)>,
    /// A second tenant with vm003.
    pub tenant_b: bool,
    /// Hosts behind bridges (they survive a restart of the appliance).
    pub bridged: bool,
}

/// The topology file for `o`, written in `dir`.
fn config(dir: &TempDir, o: &Options) -> String {
    let text = std::fs::read_to_string(TENANT_A).expect("read configs/tenant-a.toml");
    let fip_line = format!("\nid = \"{FIP_ID}\"\n");
    let mut text = text.replacen(
        &fip_line,
        &format!("{fip_line}port_id = \"{VM002_PORT}\"\n"),
        1,
    );
    if let Some((capacity, zone_limit)) = o.conntrack {
        let at = text
            .find("\n[conntrack]")
            .expect("[conntrack] in the reference topology");
        text.truncate(at);
        text.push_str(&format!(
            "\n[conntrack]\ncapacity = {capacity}\nzone_limit = {zone_limit}\n"
        ));
    }
    if o.ssh_only {
        let vm002 = format!("id = \"{VM002_PORT}\"");
        let at = text.find(&vm002).expect("vm002's port");
        let groups = format!("security_groups = [\"{DEFAULT_GROUP}\"]");
        let rel = text[at..].find(&groups).expect("vm002's groups");
        text.replace_range(
            at + rel..at + rel + groups.len(),
            &format!("security_groups = [\"{SSH_ONLY}\"]"),
        );
        text.push_str(&format!(
            r#"
[[security_group]]
id = "{SSH_ONLY}"
name = "ssh-only"
[[security_group.rules]]
direction = "ingress"
protocol = "tcp"
port_range_min = 22
port_range_max = 22
[[security_group.rules]]
direction = "ingress"
protocol = "icmp"
[[security_group.rules]]
direction = "egress"
"#
        ));
    }
    if o.tenant_b {
        text.push_str(&format!(
            r#"
[[network]]
id = "3b0c0000-0000-4000-8000-00000000000b"
name = "tenantB-Net"
segmentation_id = 3
local_vlan = 12
[[subnet]]
id = "3b0c0001-0000-4000-8000-00000000000b"
network_id = "3b0c0000-0000-4000-8000-00000000000b"
cidr = "10.2.0.0/24"
gateway_ip = "10.2.0.1"
allocation_pools = [{{ start = "10.2.0.2", end = "10.2.0.254" }}]
enable_dhcp = false
[[router]]
id = "3b0c0002-0000-4000-8000-00000000000b"
name = "tenant-R2"
external_gateway = {{ network_id = "c8699820-7c6d-4441-9602-3425f2c630ec", enable_snat = true }}
[[port]]
id = "3b0c0003-0000-4000-8000-000000000001"
network_id = "3b0c0000-0000-4000-8000-00000000000b"
mac_address = "fa:16:3e:00:b0:01"
fixed_ips = [{{ subnet_id = "3b0c0001-0000-4000-8000-00000000000b", ip_address = "10.2.0.1" }}]
device_owner = "network:router_interface"
device_id = "3b0c0002-0000-4000-8000-00000000000b"
[[port]]
id = "3b0c0003-0000-4000-8000-000000000002"
network_id = "c8699820-7c6d-4441-9602-3425f2c630ec"
mac_address = "fa:16:3e:00:b0:02"
fixed_ips = [{{ subnet_id = "2c4155c9-5a2e-471c-a4d8-40a86b45ab0a", ip_address = "10.1.101.90" }}]
device_owner = "network:router_gateway"
device_id = "3b0c0002-0000-4000-8000-00000000000b"
[[port]]
id = "{VM003_PORT}"
network_id = "3b0c0000-0000-4000-8000-00000000000b"
mac_address = "fa:16:3e:00:b0:05"
fixed_ips = [{{ subnet_id = "3b0c0001-0000-4000-8000-00000000000b", ip_address = "10.2.0.5" }}]
device_owner = "compute:nova"
device_id = "3b0c0004-0000-4000-8000-000000000005"
security_groups = ["3b0c0005-0000-4000-8000-00000000000b"]
[[security_group]]
id = "3b0c0005-0000-4000-8000-00000000000b"
name = "tenantB-default"
[[security_group.rules]]
direction = "egress"
"#
        ));
    }
    let path = dir.path("conntrack.toml");
    std::fs::write(&path, text).expect("write the test topology");
    path
}

/// A host behind one of the appliance's taps.
pub struct Host {
    pub ns: Netns,
    pub tap: String,
    mac: &'static str,
    addr: &'static str,
    gateway: &'static str,
}

/// The appliance and its hosts.
pub struct Net {
    pub vr: Option<Vrouter>,
    pub vm1: Host,
    pub vm2: Host,
    pub up: Host,
    pub vm3: Option<Host>,
    /// The namespace holding the bridges (when bridged).
    wire: Option<Netns>,
    args: Vec<String>,
    socket: PathBuf,
    _dir: TempDir,
}

impl Net {
    /// Starts the appliance on the topology of `o` and attaches the hosts; `tag` (one
    /// letter) keeps the names of concurrent tests of one process apart.
    pub fn start(tag: char, o: Options) -> Net {
        let dir = TempDir::new(&format!("ct{tag}"));
        let cfg = config(&dir, &o);
        let socket = dir.0.join("vrouter.sock");
        let host = |n: char, mac, addr, gateway| Host {
            ns: Netns::new(&unique(&format!("c{tag}{n}"))),
            tap: unique(&format!("t{tag}{n}")),
            mac,
            addr,
            gateway,
        };
        let vm1 = host('1', "fa:16:3e:75:e0:5a", "10.0.0.10/24", "10.0.0.1");
        let vm2 = host('2', "fa:16:3e:51:a2:97", "10.0.0.9/24", "10.0.0.1");
        let up = host('u', "52:54:00:01:01:fe", "10.1.101.254/24", "");
        let vm3 = o
            .tenant_b
            .then(|| host('3', "fa:16:3e:00:b0:05", "10.2.0.5/24", "10.2.0.1"));
        let mut args: Vec<String> = [
            "--config",
            &cfg,
            "--state-dir",
            &dir.path("state"),
            "--socket",
            &socket.display().to_string(),
            "--devargs",
            "eth1=net_null0,no-rx=1",
        ]
        .map(String::from)
        .to_vec();
        let mut dev = |spec: String| args.extend(["--devargs".to_owned(), spec]);
        dev(format!("eth2=net_tap1,iface={}", up.tap));
        dev(format!(
            "tap{}=net_tap2,iface={}",
            &VM001_PORT[..11],
            vm1.tap
        ));
        dev(format!(
            "tap{}=net_tap3,iface={}",
            &VM002_PORT[..11],
            vm2.tap
        ));
        if let Some(h) = &vm3 {
            dev(format!("tap{}=net_tap4,iface={}", &VM003_PORT[..11], h.tap));
        }
        let wire = o.bridged.then(|| Netns::new(&unique(&format!("c{tag}w"))));
        let mut net = Net {
            vr: None,
            vm1,
            vm2,
            up,
            vm3,
            wire,
            args,
            socket,
            _dir: dir,
        };
        if let Some(w) = &net.wire {
            for (i, h) in net.hosts().into_iter().enumerate() {
                let br = format!("br{i}");
                w.run(&format!("ip link add {br} type bridge"));
                w.run(&format!("ip link set {br} up"));
                w.run(&format!(
                    "ip link add v{i} type veth peer name eth0 netns {}",
                    h.ns.name
                ));
                w.run(&format!("ip link set v{i} master {br} up"));
                h.ns.run(&format!("ip link set eth0 address {}", h.mac));
                h.ns.run(&format!("ip addr add {} dev eth0", h.addr));
                h.ns.run("ip link set eth0 up");
                // The appliance's taps offload nothing: checksums and segments in full.
                h.ns.run("ethtool -K eth0 tx off tso off gso off gro off");
            }
        }
        net.boot();
        for h in net.hosts() {
            if !h.gateway.is_empty() {
                h.ns.run(&format!("ip route add default via {}", h.gateway));
            }
        }
        net
    }

    fn hosts(&self) -> Vec<&Host> {
        let mut v = vec![&self.vm1, &self.vm2, &self.up];
        v.extend(self.vm3.as_ref());
        v
    }

    /// Starts the appliance and attaches its taps.
    fn boot(&mut self) {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        self.vr = Some(Vrouter::start(&args));
        for (i, h) in self.hosts().into_iter().enumerate() {
            match &self.wire {
                Some(w) => {
                    move_tap(&h.tap, w, "02:00:00:00:00:01", None);
                    w.run(&format!("ip link set {} master br{i}", h.tap));
                }
                None => move_tap(&h.tap, &h.ns, h.mac, Some(h.addr)),
            }
        }
    }

    /// Stops the appliance (SIGTERM) and starts it again on the same state.
    pub fn restart(&mut self) -> Duration {
        let start = Instant::now();
        let done = self.vr.take().expect("running").stop();
        assert!(done.status.success(), "clean stop\n{}", done.output());
        self.boot();
        start.elapsed()
    }

    /// vrouterctl against the appliance; its stdout (panics on failure).
    pub fn ctl(&self, args: &[&str]) -> String {
        let out = vrouterctl(&self.socket, args);
        assert!(
            out.status.success(),
            "vrouterctl {args:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The appliance's control socket.
    pub fn socket(&self) -> &std::path::Path {
        &self.socket
    }

    /// `vrouterctl stats -f json`.
    pub fn stats(&self) -> serde_json::Value {
        serde_json::from_str(&self.ctl(&["stats", "-f", "json"])).expect("stats JSON")
    }

    /// The sessions `dump-flows` lists: (proto, orig, reply).
    pub fn sessions(&self) -> Vec<(u64, String, String)> {
        let v: serde_json::Value =
            serde_json::from_str(&self.ctl(&["dump-flows", "-f", "json"])).expect("dump JSON");
        let tables = v["tables"].as_array().expect("tables");
        let nat = tables
            .iter()
            .find(|t| t["name"] == "sessions")
            .expect("the sessions table");
        nat["flows"]
            .as_array()
            .expect("flows")
            .iter()
            .map(|f| {
                (
                    f["proto"].as_u64().unwrap_or(0),
                    f["orig"].as_str().unwrap_or("").to_owned(),
                    f["reply"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    }
}

/// A counter of `group` (`drops`, `conntrack`, `security_groups`, …) in a stats answer.
pub fn counter(stats: &serde_json::Value, group: &str, name: &str) -> u64 {
    stats[group][name]
        .as_u64()
        .unwrap_or_else(|| panic!("no counter {group}.{name} in {stats}"))
}

/// The argv of the TCP tool in `ns` with `args`.
pub fn tool(ns: &Netns, args: &str) -> Vec<String> {
    let mut argv: Vec<String> = ["ip", "netns", "exec", &ns.name, "python3", TCP_TOOL]
        .map(String::from)
        .to_vec();
    argv.extend(args.split_whitespace().map(str::to_owned));
    argv
}
