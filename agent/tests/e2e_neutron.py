#!/usr/bin/python3
"""End to end: the appliance as a real Neutron's network node.

Starts MariaDB, RabbitMQ and neutron-server on loopback (neutron_env.sh), the appliance
(the real binary, $VROUTER) and vrouter-neutron-agent; builds the seed's topology with the
`openstack` CLI alone and checks that it appears in the appliance with Neutron's ids and
device names, that `openstack network agent list` shows the three agents alive, and then:
a security group rule, removing a router interface and the router, and restarts of the
agent, the appliance, RabbitMQ and neutron-server, each ending in the same state, with no
lost ping (upstream -> the router's gateway address) during the agent's and RabbitMQ's
restarts.

Run as root: VROUTER=target/release/vrouter VROUTERCTL=target/release/vrouterctl
/usr/bin/python3 agent/tests/e2e_neutron.py  (tests/e2e_neutron.rs does this in `make test`).
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
        for name in ("agent.log", "vrouter.log", "neutron-server.log"):
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


def appliance_state(env):
    """The appliance's resources that the agent manages, comparable across restarts."""
    return {
        "networks": sorted((n["id"], n.get("segmentation_id")) for n in env.ctl("net-list")),
        "subnets": sorted(s["id"] for s in env.ctl("subnet-list")),
        "ports": sorted((p["id"], p["device_name"], p["mac_address"]) for p in env.ctl("port-list")),
        "routers": sorted(r["id"] for r in env.ctl("router-list")),
        "floatingips": sorted((f["id"], f.get("port_id")) for f in env.ctl("floatingip-list")),
        "rules": sorted(
            (r["security_group_id"], r["direction"], r.get("protocol") or "", r.get("port_range_min") or 0)
            for r in env.ctl("security-group-rule-list")),
    }


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


def start_ping(env, addr):
    """A ping every 0.1 s from upstream, whose summary counts the losses."""
    p = subprocess.Popen(["ip", "netns", "exec", env.upstream, "ping", "-i", "0.1", "-W", "1", addr],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    env.pingers.append(p)
    return p


def stop_ping(p):
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(10)
    for line in out.splitlines():
        if "packets transmitted" in line:
            sent = int(line.split()[0])
            got = int(line.split(",")[1].split()[0])
            return sent, got
    raise AssertionError(f"no ping summary: {out}")


# ---- the scenario -------------------------------------------------------------------
def scenario(env):
    t0 = time.monotonic()
    run(["ip", "netns", "add", env.upstream])
    env.ns("ip", "link", "set", "lo", "up")
    env.services("start")
    log(f"services up ({time.monotonic() - t0:.0f} s)")

    os_ = env.openstack
    ids = {}
    ids["ext"] = os_("network", "create", "--external", "--provider-network-type", "flat",
                     "--provider-physical-network", "physnet1", "Ext-Net")["id"]
    env.write_seed(ids["ext"])
    env.start_vrouter()
    env.start_agent()
    wait_until("the three agents alive", lambda: agents_alive(env), 40)
    log("appliance and agent up, three agents alive")

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

    dhcp = wait_until("the DHCP port", lambda: env.api("/v2.0/ports?device_owner=network:dhcp")["ports"], 20)
    ids["dhcp"] = dhcp[0]["id"]
    wait_until("the seed topology in the appliance", lambda: seed_in_appliance(env, ids), 30)
    assert show_has(env, device("qr-", ids["qr"]), device("qg-", ids["qg"]), device("tap", ids["dhcp"]))
    assert netns_has(env, "qrouter-" + ids["router"], "qdhcp-" + ids["net"])
    log("PASS: seed topology in the appliance (router-list, port-list, show, netns) with Neutron's ids and names")

    def statuses():
        st = {p["id"]: p["status"] for p in env.api("/v2.0/ports")["ports"]}
        return all(st[ids[k]] == "ACTIVE" for k in ("qr", "qg", "dhcp")) and st
    wait_until("router, gateway and DHCP ports ACTIVE", statuses, 30)
    wait_until("floating IP ACTIVE", lambda: env.api(f"/v2.0/floatingips/{ids['fip']}")["floatingip"]["status"]
               == "ACTIVE", 30)
    st = {p["ID"]: p["Status"] for p in os_("port", "list")}
    assert all(st[ids[k]] == "ACTIVE" for k in ("qr", "qg", "dhcp")), st
    assert os_("floating", "ip", "show", ids["fip"])["status"] == "ACTIVE"
    assert cli_agents_alive(env)
    log("PASS: ports and floating IP ACTIVE in Neutron; agents alive")

    gw_ip = [x["ip_address"] for r in env.ctl("router-list") if r["id"] == ids["router"]
             for x in r["external_gateway_info"]["external_fixed_ips"]][0]
    wait_until("upstream reaches the router's gateway address",
               lambda: subprocess.run(["ip", "netns", "exec", env.upstream, "ping", "-c", "1", "-W", "1", gw_ip],
                                      capture_output=True).returncode == 0, 15)

    # -- a security group rule -----------------------------------------------------------
    sg = vm["security_group_ids"][0]
    rule = os_("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22",
               "--ingress", sg)["id"]

    def rule_in():
        return any(r["security_group_id"] == sg and r.get("protocol") == "tcp"
                   and r.get("port_range_min") == 22 for r in env.ctl("security-group-rule-list"))
    t = time.monotonic()
    wait_until("the tcp/22 rule in the appliance", rule_in, 15)
    log(f"PASS: security group rule tcp/22 in the appliance after {time.monotonic() - t:.1f} s")

    # -- restarts ------------------------------------------------------------------------
    before = appliance_state(env)

    def converged_same(since):
        """A sync of the running agent, after `since`, that changed nothing, and the same state."""
        def check():
            st = env.agent_stats()
            return (st.get("pid") == env.agent.pid and st.get("last_sync_at", 0) > since
                    and st.get("last_sync_changes") == 0 and appliance_state(env) == before)
        return check

    ping = start_ping(env, gw_ip)
    since = time.time()
    env.stop_agent(signal.SIGKILL)
    wait_until("Neutron marking the agents dead", lambda: agents_alive(env, alive=False), AGENT_DOWN_TIME + 20)
    env.start_agent()
    wait_until("the agents alive again", lambda: agents_alive(env), 30)
    assert cli_agents_alive(env)
    wait_until("the same state after the agent's restart", converged_same(since), 45)
    sent, got = stop_ping(ping)
    assert sent > 50 and got == sent, f"pings during the agent's restart: {got}/{sent}"
    log(f"PASS: agent killed (agents dead) and restarted (alive), same state, {got}/{sent} pings")

    ping = start_ping(env, gw_ip)
    env.services("stop-one", "rabbitmq")
    env.services("start-one", "rabbitmq")
    since = time.time()
    wait_until("the agents alive after RabbitMQ's restart", lambda: agents_alive(env), 60)
    wait_until("the same state after RabbitMQ's restart", converged_same(since), 45)
    sent, got = stop_ping(ping)
    assert sent > 30 and got == sent, f"pings during RabbitMQ's restart: {got}/{sent}"
    # Notifications flow again: a change made now reaches the appliance.
    os_("security", "group", "rule", "delete", rule, fmt=False)
    wait_until("the rule's removal after RabbitMQ's restart", lambda: not rule_in(), 30)
    before = appliance_state(env)
    log(f"PASS: RabbitMQ restarted, same state, {got}/{sent} pings, notifications flow again")

    env.services("stop-one", "neutron-server")
    env.services("start-one", "neutron-server")
    since = time.time()
    wait_until("the agents alive after neutron-server's restart", lambda: agents_alive(env), 40)
    wait_until("the same state after neutron-server's restart", converged_same(since), 45)
    log("PASS: neutron-server restarted, agents alive, same state")

    env.stop_vrouter(signal.SIGKILL)
    env.start_vrouter()
    since = time.time()
    wait_until("the same state after the appliance's restart", converged_same(since), 45)
    wait_until("upstream reaches the gateway after the appliance's restart",
               lambda: subprocess.run(["ip", "netns", "exec", env.upstream, "ping", "-c", "1", "-W", "1", gw_ip],
                                      capture_output=True).returncode == 0, 15)
    log("PASS: appliance killed and restarted, same state")

    # -- removing the router ---------------------------------------------------------------
    os_("floating", "ip", "delete", ids["fip"], fmt=False)
    os_("router", "remove", "subnet", "tenant-R1", "tenantA-Subnet", fmt=False)
    wait_until("the router interface gone from the appliance",
               lambda: ids["qr"] not in {p["id"] for p in env.ctl("port-list")}
               and ids["fip"] not in {f["id"] for f in env.ctl("floatingip-list")}, 20)
    assert not show_has(env, device("qr-", ids["qr"]))
    os_("router", "delete", "tenant-R1", fmt=False)
    wait_until("the router gone from the appliance",
               lambda: ids["router"] not in {r["id"] for r in env.ctl("router-list")}
               and ids["qg"] not in {p["id"] for p in env.ctl("port-list")}, 20)
    assert not netns_has(env, "qrouter-" + ids["router"])
    log("PASS: router remove subnet and router delete removed them from the appliance")
    log(f"all checks passed in {time.monotonic() - t0:.0f} s")


def main():
    if os.geteuid() != 0:
        sys.exit("e2e_neutron: run as root (network namespaces, DPDK tap devices)")
    for tool in ("openstack", "neutron-server", "rabbitmq-server", "mariadbd"):
        if not shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/usr/lib/rabbitmq/bin"):
            sys.exit(f"e2e_neutron: {tool} is missing: {ENV_SH} install")
    env = Env()
    try:
        scenario(env)
    except BaseException:
        env.dump_logs()
        raise
    finally:
        env.close()


if __name__ == "__main__":
    main()
