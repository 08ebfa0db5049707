"""What the Neutron end-to-end scenarios share: the services (MariaDB, RabbitMQ and
neutron-server on loopback through neutron_env.sh), the appliance (the real binary,
$VROUTER) with the seed's uplinks, vrouter-neutron-agent, the `openstack` CLI, and the
seed's topology built with it and checked in the appliance.

Used by e2e_neutron.py and e2e_neutron_compute.py (and benches/neutron_scale.py through
e2e_neutron). Ports of the services come from the environment (MYSQL_PORT, AMQP_PORT,
EPMD_PORT, DIST_PORT, NEUTRON_PORT; neutron_env.sh's defaults otherwise).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.realpath(__file__))
AGENT = os.path.join(os.path.dirname(HERE), "vrouter-neutron-agent")
ENV_SH = os.path.join(HERE, "neutron_env.sh")
VROUTER = os.environ.get("VROUTER", "target/release/vrouter")
VROUTERCTL = os.environ.get("VROUTERCTL", "target/release/vrouterctl")
HOST = "network"
LOCAL_IP = "10.0.1.21"
VM002_MAC = "fa:16:3e:51:a2:97"
VM002_DEVICE = "bec0b963-99c0-4a56-ae04-936d47e173eb"
# Neutron marks an agent dead after AGENT_DOWN_TIME s without heartbeat; they beat every 2 s.
AGENT_DOWN_TIME = 8
REPORT_INTERVAL = 2


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd, check=True, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"`{' '.join(cmd)}` exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p.stdout


def wait_until(what, fn, timeout=30.0, interval=0.3):
    """Polls `fn` until it returns a true value; fails with `what` and the last value."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            last = fn()
        except AssertionError as e:
            last = e
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last: {last}")


class Env:
    """Everything the test starts, stopped (by PID) in reverse order on close."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="vrouter-neutron-")
        tag = "%04x" % (os.getpid() & 0xFFFF)
        self.eth1 = f"vn{tag}e1"
        self.eth2 = f"vn{tag}e2"
        self.upstream = f"vn{tag}up"
        self.socket = os.path.join(self.dir, "vrouter.sock")
        self.vrouter = None
        self.agent = None
        self.pingers = []
        # Logs (in self.dir) whose last lines a failure prints.
        self.logs = ["agent.log", "vrouter.log", "neutron-server.log"]
        self.os_env = dict(os.environ, OS_AUTH_TYPE="none",
                           OS_ENDPOINT="http://127.0.0.1:%s" % os.environ.get("NEUTRON_PORT", "9696"))
        self.svc_env = dict(os.environ, AGENT_DOWN_TIME=str(AGENT_DOWN_TIME))
        # Seconds an RPC call of the agent waits for its reply.
        self.rpc_timeout = 10

    # ---- services -------------------------------------------------------------------
    def services(self, action, service=None):
        args = [ENV_SH, action, self.dir] + ([service] if service else [])
        run(args, env=self.svc_env)
        if action.startswith("start"):
            with open(os.path.join(self.dir, "env")) as f:
                self.transport_url = dict(line.strip().split("=", 1) for line in f if "=" in line)["TRANSPORT_URL"]

    def api(self, path):
        """GET on neutron-server's API (for polling; the checks themselves use the CLI)."""
        with urllib.request.urlopen(self.os_env["OS_ENDPOINT"] + path, timeout=10) as r:
            return json.load(r)

    def openstack_batch(self, commands):
        """Several `openstack` commands in one process (its interactive mode reads them from
        stdin): the lines each command printed, in order."""
        p = subprocess.run(["openstack"], input="\n".join(commands) + "\n", capture_output=True,
                           text=True, env=self.os_env)
        if p.returncode != 0:
            raise AssertionError(f"openstack batch failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p.stdout.split()

    def openstack(self, *args, fmt=True):
        cmd = ["openstack"] + list(args) + (["-f", "json"] if fmt else [])
        out = run(cmd, env=self.os_env)
        return json.loads(out) if fmt and out.strip() else out

    # ---- the appliance --------------------------------------------------------------
    def write_seed(self, ext_net_id):
        self.seed = os.path.join(self.dir, "seed.toml")
        with open(self.seed, "w") as f:
            f.write(f"""# The node before Neutron drives it: its uplinks, and the flat external network
# (Neutron's Ext-Net, by its id) that eth2 carries.
[[network]]
id = "{ext_net_id}"
name = "Ext-Net"
router_external = true

[[uplink]]
name = "eth1"
devargs = "net_tap0,iface={self.eth1}"
role = "underlay"
local_ip = "{LOCAL_IP}/24"
mac = "52:54:00:00:01:21"

[[uplink]]
name = "eth2"
devargs = "net_tap1,iface={self.eth2}"
role = "external"
network_id = "{ext_net_id}"
""")

    def start_vrouter(self):
        self.prefix = "vrn-%d-%d" % (os.getpid(), int(time.monotonic() * 1000) % 100000)
        out = open(os.path.join(self.dir, "vrouter.log"), "a")
        self.vrouter = subprocess.Popen(
            [VROUTER, "--config", self.seed, "--state-dir", os.path.join(self.dir, "vstate"),
             "--socket", self.socket, "--eal",
             f"--no-huge -m 512 --no-pci --file-prefix {self.prefix} -l 0 --log-level=*:warning"],
            stdout=out, stderr=subprocess.STDOUT)
        wait_until("the appliance's control socket", lambda: self.ctl_ok("stats"), 30)
        wait_until(f"{self.eth2}", lambda: os.path.exists(f"/sys/class/net/{self.eth2}"), 10)
        run(["ip", "link", "set", self.eth2, "netns", self.upstream])
        self.ns("ip", "link", "set", self.eth2, "up")
        self.ns("ip", "addr", "add", "10.1.101.254/24", "dev", self.eth2)

    def stop_vrouter(self, sig=signal.SIGTERM):
        if self.vrouter and self.vrouter.poll() is None:
            self.vrouter.send_signal(sig)
            try:
                self.vrouter.wait(20)
            except subprocess.TimeoutExpired:
                self.vrouter.kill()
                self.vrouter.wait()
        self.vrouter = None
        shutil.rmtree(f"/var/run/dpdk/{getattr(self, 'prefix', 'none')}", ignore_errors=True)

    def ctl(self, *args):
        return json.loads(run([VROUTERCTL, "--socket", self.socket] + list(args) + ["-f", "json"]))

    def ctl_ok(self, *args):
        p = subprocess.run([VROUTERCTL, "--socket", self.socket] + list(args),
                           capture_output=True, text=True)
        return p.returncode == 0

    def ns(self, *cmd, check=True):
        return run(["ip", "netns", "exec", self.upstream] + list(cmd), check=check)

    # ---- the agent ------------------------------------------------------------------
    def start_agent(self):
        ini = os.path.join(self.dir, "vrouter_agent.ini")
        state = os.path.join(self.dir, "agent-state")
        os.makedirs(state, exist_ok=True)
        self.agent_status = os.path.join(state, "vrouter-agent-status.json")
        with open(ini, "w") as f:
            f.write(f"""[DEFAULT]
transport_url = {self.transport_url}
host = {HOST}
state_path = {state}
control_exchange = neutron
debug = false
# A call whose reply was lost with RabbitMQ or neutron-server is given up after this long.
rpc_response_timeout = {self.rpc_timeout}

[agent]
report_interval = {REPORT_INTERVAL}

[vrouter]
socket = {self.socket}
local_ip = {LOCAL_IP}
bridge_mappings = physnet1:eth2
resync_interval = 5
""")
        out = open(os.path.join(self.dir, "agent.log"), "a")
        self.agent = subprocess.Popen([AGENT, "--config-file", ini], stdout=out, stderr=subprocess.STDOUT)

    def stop_agent(self, sig=signal.SIGTERM):
        if self.agent and self.agent.poll() is None:
            self.agent.send_signal(sig)
            try:
                self.agent.wait(10)
            except subprocess.TimeoutExpired:
                self.agent.kill()
                self.agent.wait()
        self.agent = None

    def agent_stats(self):
        try:
            with open(self.agent_status) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def close(self):
        for p in self.pingers:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.stop_agent()
        self.stop_vrouter()
        subprocess.run(["ip", "netns", "del", self.upstream], capture_output=True)
        subprocess.run([ENV_SH, "stop", self.dir], capture_output=True)
        if os.environ.get("KEEP_LOGS"):
            print(f"logs kept in {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def dump_logs(self):
        for name in self.logs:
            path = os.path.join(self.dir, name)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    lines = [x for x in f.readlines() if "RPCClient manually" not in x]
                print(f"--- last lines of {name} ---\n" + "".join(lines[-40:]), flush=True)


# ---- checks -------------------------------------------------------------------------
def device(prefix, port_id):
    return prefix + port_id[:11]


AGENT_TYPES = {"L3 agent", "DHCP agent", "Open vSwitch agent"}


def agents_alive(env, alive=True):
    """Polls the API: this node's three agents all alive (or all dead)."""
    agents = env.api(f"/v2.0/agents?host={HOST}")["agents"]
    kinds = {a["agent_type"]: a["alive"] for a in agents}
    return AGENT_TYPES <= set(kinds) and all(kinds[k] is alive for k in AGENT_TYPES)


def cli_agents_alive(env):
    """`openstack network agent list` says this node's three agents are alive."""
    agents = env.openstack("network", "agent", "list", "--host", HOST)
    kinds = {a["Agent Type"]: a["Alive"] for a in agents}
    assert AGENT_TYPES <= set(kinds) and all(kinds[k] is True for k in AGENT_TYPES), agents
    return True



def seed_in_appliance(env, ids):
    """True once every resource of the seed is in the appliance with Neutron's ids."""
    nets = {n["id"]: n for n in env.ctl("net-list")}
    if ids["net"] not in nets or ids["ext"] not in nets:
        return False
    assert nets[ids["net"]].get("segmentation_id") == 2, nets[ids["net"]]
    subnets = {s["id"] for s in env.ctl("subnet-list")}
    if not {ids["subnet"], ids["ext_subnet"]} <= subnets:
        return False
    ports = {p["id"]: p for p in env.ctl("port-list")}
    want = {ids["qr"]: device("qr-", ids["qr"]), ids["qg"]: device("qg-", ids["qg"]),
            ids["dhcp"]: device("tap", ids["dhcp"]), ids["vm"]: device("tap", ids["vm"])}
    for pid, name in want.items():
        if pid not in ports:
            return False
        assert ports[pid]["device_name"] == name, ports[pid]
    assert ports[ids["vm"]]["mac_address"] == VM002_MAC
    routers = {r["id"]: r for r in env.ctl("router-list")}
    if ids["router"] not in routers:
        return False
    gw = routers[ids["router"]].get("external_gateway_info") or {}
    if [x["port_id"] for x in gw.get("external_fixed_ips") or []] != [ids["qg"]]:
        return False
    fips = {f["id"]: f for f in env.ctl("floatingip-list")}
    if fips.get(ids["fip"], {}).get("port_id") != ids["vm"]:
        return False
    return True


def show_has(env, *names):
    text = run([VROUTERCTL, "--socket", env.socket, "show"])
    return all(n in text for n in names)


def netns_has(env, *names):
    text = run([VROUTERCTL, "--socket", env.socket, "netns"])
    return all(n in text for n in names)


def create_seed(env, ids):
    """The seed's topology with the `openstack` CLI (ids["ext"], Ext-Net, exists already):
    tenantA-Net (GRE, key 2) and its subnet, Ext-Subnet, tenant-R1 with its gateway and
    interface, vm002's port bound to host compute1 and floating IP 10.1.101.82 on it. Fills
    `ids` and returns vm002's port as `openstack port show` gives it."""
    os_ = env.openstack
    out = env.openstack_batch([
        "network create -f value -c id --provider-network-type gre --provider-segment 2 tenantA-Net",
        "subnet create -f value -c id --network tenantA-Net --subnet-range 10.0.0.0/24 --gateway 10.0.0.1"
        " --allocation-pool start=10.0.0.2,end=10.0.0.254 tenantA-Subnet",
        "subnet create -f value -c id --network Ext-Net --subnet-range 10.1.101.0/24 --gateway 10.1.101.254"
        " --allocation-pool start=10.1.101.80,end=10.1.101.100 --no-dhcp Ext-Subnet",
        "router create -f value -c id tenant-R1",
        "router set --external-gateway Ext-Net tenant-R1",
        "router add subnet tenant-R1 tenantA-Subnet",
        f"port create -f value -c id --network tenantA-Net --mac-address {VM002_MAC}"
        " --fixed-ip subnet=tenantA-Subnet,ip-address=10.0.0.9 --host compute1"
        f" --device-owner compute:nova --device {VM002_DEVICE} vm002-port",
        "floating ip create -f value -c id --port vm002-port --floating-ip-address 10.1.101.82 Ext-Net",
    ])
    assert len(out) == 6, f"expected 6 ids from the batch, got {out}"
    ids.update(zip(["net", "subnet", "ext_subnet", "router", "vm", "fip"], out))
    vm = os_("port", "show", "vm002-port")
    assert vm["binding_host_id"] == "compute1", vm
    ports = os_("port", "list", "--long")
    by_owner = {}
    for p in ports:
        by_owner.setdefault(p["Device Owner"], []).append(p["ID"])
    ids["qr"] = by_owner["network:router_interface"][0]
    ids["qg"] = by_owner["network:router_gateway"][0]
    log("seed topology created with the openstack CLI")
    return vm


def require_tools(name):
    """Exits (with how to install them) when the services' programs are missing."""
    for tool in ("openstack", "neutron-server", "rabbitmq-server", "mariadbd"):
        if not shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/usr/lib/rabbitmq/bin"):
            sys.exit(f"{name}: {tool} is missing: {ENV_SH} install")
