#!/usr/bin/python3
"""End to end: a compute node behind GRE, programmed by Neutron's own Open vSwitch agent.

compute1 is Open vSwitch with DPDK (Debian's `openvswitch-switch-dpdk`, datapath_type
netdev, as tests/e2e_ovs.rs runs it: its own ovsdb-server and ovs-vswitchd, run/log/db
directories and EAL --file-prefix, no hugepages) in namespace c1, and
`neutron-openvswitch-agent` (Debian's package, run as root in c1 with root_helper `env`, so
that privsep-helper and its commands run directly as root) builds br-int, br-tun and the
GRE tunnel to the appliance from what neutron-server tells it. The test creates only what
an operator and Nova create: br-phy with the underlay address 10.0.1.31 (the agent's
local_ip) and its DPDK port, the seed's topology with the `openstack` CLI, and the VM's
port on br-int (`tap` + 11 characters of the port id, external_ids iface-id,
attached-mac, iface-status, vm-uuid) whose other end is the VM, a namespace. ML2 binds
that port as `vhostuser` (an OVS-DPDK host); a namespace cannot open a vhost-user socket,
so the VM's port is a veth, a system port of the netdev datapath.

```text
 vm (vm002, 10.0.0.9 by DHCP)                                       upstream (10.1.101.254)
  └ veth ── [c1: OVS-DPDK + neutron-openvswitch-agent, host compute1]          │ tap
            br-int: tap<port> (VLAN of tenantA-Net) ── patch-tun                │
            br-tun: patch-int, gre-0a000115 (remote 10.0.1.21)        appliance eth2
            br-phy (10.0.1.31/24): eth1 (dpdk net_tap) ──┐            appliance eth1
                                                         └ br0 (namespace ul) ─┘ tap
```

The agent in c1 reaches RabbitMQ (on the test's loopback) through a relay listening on
c1's loopback: compute1's management network. The security groups of the VM's port are
enforced where the VM runs, as in any Neutron deployment: the appliance filters only its
own locally bound ports, so compute1's agent runs `firewall_driver = openvswitch` (flows
with `ct()` on br-int, OVS's userspace conntrack in the netdev datapath); `noop` would
leave the VM open to anything that reaches it.

Checks: the OVS agent of compute1 alive; the VM's port bound to compute1 and ACTIVE
(`openstack port show`, set by that agent's update_device_list), with a local VLAN on
br-int, the agent's GRE port to 10.0.1.21, and the appliance's port bound to compute1's
endpoint (tunnel_sync); the VM gets 10.0.0.9,
MTU 1458 and its gateway from the appliance's DHCP through br-int, br-tun and GRE; it is
not reached from upstream at its floating IP (ACTIVE in `openstack floating ip show`)
until `openstack security group rule create` allows ICMP in, and then within seconds;
once the floating IP is disassociated, upstream sees its pings from the router's gateway
address (SNAT).

Run as root: VROUTER=target/release/vrouter VROUTERCTL=target/release/vrouterctl
/usr/bin/python3 agent/tests/e2e_neutron_compute.py  (tests/e2e_neutron.rs does this).
"""

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))

# Ports of this scenario's services, apart from e2e_neutron.py's defaults.
for _name, _port in (("MYSQL_PORT", 33316), ("AMQP_PORT", 33672), ("EPMD_PORT", 33369),
                     ("DIST_PORT", 33673), ("NEUTRON_PORT", 39697)):
    os.environ.setdefault(_name, str(_port))

from neutron_services import (  # noqa: E402
    VM002_DEVICE, VM002_MAC, Env, agents_alive, create_seed, log, require_tools, run,
    seed_in_appliance, wait_until)

VSWITCHD = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk"
SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
OVS_AGENT = "/usr/bin/neutron-openvswitch-agent"
COMPUTE = "compute1"
COMPUTE_IP = "10.0.1.31"
COMPUTE_MAC = "52:54:00:00:01:31"
VM_IP = "10.0.0.9"
UPSTREAM_IP = "10.1.101.254"
FLOATING_IP = "10.1.101.82"
CLONE_NEWNET = 0x40000000


class LoopbackRelay:
    """Accepts TCP connections on 127.0.0.1:`port` inside namespace `netns` and relays each
    to 127.0.0.1:`port` of the test's own namespace, where the services listen."""

    def __init__(self, netns, port):
        self.port = port
        self.conns = []
        self.stopping = False
        made = {}

        def listen_in_netns():
            # setns changes only this thread's namespace; the socket stays in c1.
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/var/run/netns/{netns}", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    made["error"] = OSError(ctypes.get_errno(), "setns into " + netns)
                    return
            finally:
                os.close(fd)
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            s.listen(32)
            s.settimeout(0.5)
            made["sock"] = s

        t = threading.Thread(target=listen_in_netns)
        t.start()
        t.join()
        if "error" in made:
            raise made["error"]
        self.sock = made["sock"]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                inner, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                outer = socket.create_connection(("127.0.0.1", self.port), 5)
                outer.settimeout(None)
            except OSError:
                inner.close()
                continue
            self.conns += [inner, outer]
            for a, b in ((inner, outer), (outer, inner)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.stopping = True
        self.sock.close()
        for s in self.conns:
            try:
                s.close()
            except OSError:
                pass


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def stop_pid(pid, grace=10):
    """SIGTERM, then SIGKILL after `grace` s, of one process this test started."""
    if not pid or not alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    end = time.monotonic() + grace
    while alive(pid) and time.monotonic() < end:
        time.sleep(0.1)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)


def descendants(pid):
    """The pids of every process below `pid` (privsep daemons, ovsdb-client monitor)."""
    out, todo = [], [pid]
    while todo:
        p = subprocess.run(["pgrep", "-P", str(todo.pop())], capture_output=True, text=True)
        kids = [int(x) for x in p.stdout.split()]
        out += kids
        todo += kids
    return out


class Compute1:
    """compute1: OVS-DPDK and neutron-openvswitch-agent in namespace c1, the VM namespace,
    and the underlay (namespace ul, bridge br0) between compute1 and the appliance's eth1."""

    def __init__(self, env):
        self.env = env
        self.dir = os.path.join(env.dir, "compute1")
        tag = "%04x" % (os.getpid() & 0xFFFF)
        self.c1, self.vm, self.ul = f"vn{tag}c1", f"vn{tag}vm", f"vn{tag}ul"
        self.oe1 = f"vn{tag}o1"  # the kernel side of OVS's underlay net_tap
        self.vm_if = f"vn{tag}vi"  # the VM's end of its veth
        self.prefix = f"ovs-vrn-{os.getpid()}"
        self.relay = None
        self.agent = None
        self.agent_kids = []
        self.dhclient_pid = os.path.join(self.dir, "dhclient.pid")
        for sub in ("run", "log", "etc", "state", "lock"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        self.ovs_env = dict(os.environ, OVS_RUNDIR=self.path("run"), OVS_LOGDIR=self.path("log"),
                            OVS_DBDIR=self.path("etc"), OVS_SYSCONFDIR=self.path("etc"))
        env.logs += ["compute1/ovs-agent.log", "compute1/log/ovs-vswitchd.log"]
        for ns in (self.c1, self.vm, self.ul):
            run(["ip", "netns", "add", ns])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
        run(["ip", "-n", self.ul, "link", "add", "br0", "type", "bridge"])
        run(["ip", "-n", self.ul, "link", "set", "br0", "up"])

    def path(self, rel):
        return os.path.join(self.dir, rel)

    def in_c1(self, *cmd, check=True):
        return run(["ip", "netns", "exec", self.c1] + list(cmd), check=check, env=self.ovs_env)

    def vsctl(self, *args):
        return run(["ovs-vsctl", "--db=unix:" + self.path("run/db.sock"), "--timeout=30"] + list(args),
                   env=self.ovs_env)

    def in_vm(self, *cmd, check=True):
        return run(["ip", "netns", "exec", self.vm] + list(cmd), check=check)

    # ---- Open vSwitch -------------------------------------------------------------------
    def start_ovs(self):
        """ovsdb-server and ovs-vswitchd-dpdk in c1, then br-phy with the underlay address
        on its LOCAL port and its DPDK port, as an operator sets up an OVS-DPDK host."""
        db = self.path("etc/conf.db")
        run(["ovsdb-tool", "create", db, SCHEMA], env=self.ovs_env)
        self.in_c1("ovsdb-server", "--remote=punix:" + self.path("run/db.sock"),
                   "--pidfile=" + self.path("run/ovsdb-server.pid"),
                   "--unixctl=" + self.path("run/ovsdb-server.ctl"), "--detach",
                   "--log-file=" + self.path("log/ovsdb-server.log"), db)
        self.vsctl("--no-wait", "init")
        # No hugepages; the PMD thread on core 1 (the appliance's worker is on core 0),
        # sleeping up to 1 ms when idle; a mempool per port sized for the port.
        self.vsctl("--no-wait", "set", "Open_vSwitch", ".", "other_config:dpdk-init=true",
                   "other_config:dpdk-extra=--no-huge -m 1024 --legacy-mem --no-pci "
                   f"--file-prefix {self.prefix} --log-level=*:warning",
                   "other_config:dpdk-lcore-mask=0x2", "other_config:pmd-cpu-mask=0x2",
                   "other_config:pmd-maxsleep=1000", "other_config:per-port-memory=true")
        self.in_c1(VSWITCHD, "unix:" + self.path("run/db.sock"),
                   "--pidfile=" + self.path("run/ovs-vswitchd.pid"),
                   "--unixctl=" + self.path("run/ovs-vswitchd.ctl"), "--detach",
                   "--log-file=" + self.path("log/ovs-vswitchd.log"))
        init = self.vsctl("get", "Open_vSwitch", ".", "dpdk_initialized").strip()
        assert init == "true", f"OVS did not initialise DPDK: {init}"
        self.vsctl("add-br", "br-phy", "--", "set", "bridge", "br-phy", "datapath_type=netdev",
                   f"other-config:hwaddr={COMPUTE_MAC}", "--", "add-port", "br-phy", "eth1",
                   "--", "set", "Interface", "eth1", "type=dpdk",
                   f"options:dpdk-devargs=net_tap0,iface={self.oe1}", "options:n_rxq=2")
        self.in_c1("ip", "addr", "add", f"{COMPUTE_IP}/24", "dev", "br-phy")
        self.in_c1("ip", "link", "set", "br-phy", "up")
        wait_until("OVS's route to the underlay on br-phy",
                   lambda: "10.0.1.0/24 dev br-phy" in self.appctl("ovs/route/show"), 15)
        self.move_link(self.c1, self.oe1)

    def appctl(self, *args):
        return run(["ovs-appctl", "-T", "10", "-t", self.path("run/ovs-vswitchd.ctl")] + list(args),
                   env=self.ovs_env)

    def move_link(self, ns, dev):
        """Moves a net_tap's kernel interface, once its PMD set it up, from `ns` (None: the
        test's namespace) onto the underlay bridge."""
        ip = ["ip"] + (["-n", ns] if ns else [])

        def up():
            out = run(ip + ["-o", "link", "show", "dev", dev], check=False)
            return "UP" in out.split("<")[1].split(">")[0].split(",") if "<" in out else False
        wait_until(f"{dev} up", up, 15, 0.1)
        run(ip + ["link", "set", dev, "netns", self.ul])
        run(["ip", "-n", self.ul, "link", "set", dev, "master", "br0"])
        run(["ip", "-n", self.ul, "link", "set", dev, "up"])

    def stop_ovs(self):
        for daemon in ("ovs-vswitchd", "ovsdb-server"):
            pid = read_pid(self.path(f"run/{daemon}.pid"))
            if pid and alive(pid):
                subprocess.run(["ovs-appctl", "-T", "5", "-t", self.path(f"run/{daemon}.ctl"), "exit"],
                               env=self.ovs_env, capture_output=True)
                stop_pid(pid, 5)

    # ---- Neutron's Open vSwitch agent ---------------------------------------------------
    def start_agent(self, transport_url):
        port = int(transport_url.rsplit(":", 1)[1].strip("/"))
        self.relay = LoopbackRelay(self.c1, port)
        ini = self.path("openvswitch_agent.ini")
        with open(ini, "w") as f:
            f.write(f"""[DEFAULT]
host = {COMPUTE}
transport_url = {transport_url}
control_exchange = neutron
state_path = {self.path("state")}
rpc_response_timeout = 20
debug = false
use_stderr = true

[oslo_concurrency]
lock_path = {self.path("lock")}

[agent]
# Commands and privsep-helper run directly: the agent runs as root.
root_helper = env
tunnel_types = gre
l2_population = false
report_interval = 2
polling_interval = 1

[ovs]
datapath_type = netdev
local_ip = {COMPUTE_IP}
integration_bridge = br-int
tunnel_bridge = br-tun
ovsdb_connection = unix:{self.path("run/db.sock")}
of_listen_address = 127.0.0.1
bridge_mappings =

[securitygroup]
enable_security_group = true
firewall_driver = openvswitch
""")
        out = open(self.path("ovs-agent.log"), "a")
        # `ip netns exec` execs the agent: the pid is the agent's.
        self.agent = subprocess.Popen(["ip", "netns", "exec", self.c1, OVS_AGENT, "--config-file", ini],
                                      stdout=out, stderr=subprocess.STDOUT, env=self.ovs_env)

    def stop_agent(self):
        if self.agent and self.agent.poll() is None:
            kids = descendants(self.agent.pid)
            stop_pid(self.agent.pid)
            self.agent.wait()
            for pid in kids:
                stop_pid(pid, 3)
        self.agent = None

    # ---- the VM -------------------------------------------------------------------------
    def plug_vm(self, port_id, mac, device_id):
        """What Nova's os-vif does for an OVS port: a device tap<port id[:11]> on br-int with
        Neutron's port in its external_ids; its peer is the VM's interface."""
        tap = "tap" + port_id[:11]
        self.in_c1("ip", "link", "add", tap, "type", "veth", "peer", "name", self.vm_if, "netns", self.vm)
        self.in_c1("ip", "link", "set", tap, "up")
        self.in_vm("ip", "link", "set", self.vm_if, "address", mac)
        self.in_vm("ip", "link", "set", self.vm_if, "up")
        self.vsctl("--may-exist", "add-port", "br-int", tap, "--", "set", "Interface", tap,
                   f"external_ids:iface-id={port_id}", f"external_ids:attached-mac={mac}",
                   "external_ids:iface-status=active", f"external_ids:vm-uuid={device_id}")
        return tap

    def dhcp(self):
        """dhclient in the VM, once (retransmitting every second); its output."""
        conf = self.path("dhclient.conf")
        with open(conf, "w") as f:
            f.write("initial-interval 1;\ntimeout 30;\nretry 1;\n"
                    "request subnet-mask, broadcast-address, routers, interface-mtu;\n")
        # resolv.conf and the host name are the host's: kept out.
        script = self.path("dhclient-script.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\nunset new_domain_name new_domain_search new_domain_name_servers "
                    "new_host_name\nexec /sbin/dhclient-script\n")
        os.chmod(script, 0o755)
        p = subprocess.run(["ip", "netns", "exec", self.vm, "timeout", "35", "dhclient", "-1", "-v",
                            "-cf", conf, "-lf", self.path("dhclient.leases"), "-pf", self.dhclient_pid,
                            "-sf", script, self.vm_if], capture_output=True, text=True)
        return p.returncode, p.stdout + p.stderr

    def close(self):
        stop_pid(read_pid(self.dhclient_pid), 5)
        self.stop_agent()
        if self.relay:
            self.relay.close()
        self.stop_ovs()
        for ns in (self.vm, self.c1, self.ul):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(f"/var/run/dpdk/{self.prefix}", ignore_errors=True)


def capture(ns, dev, bpf):
    """tcpdump of one matching frame in `ns`, started and listening."""
    p = subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-l", "-n", "-c", "1", "-i", dev, bpf],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    while not lines or "listening on" not in lines[-1]:
        lines.append(p.stderr.readline())
        assert lines[-1] and len(lines) < 5, f"tcpdump in {ns}: {lines}"
    return p


def captured(p, timeout=15):
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    return out


def ping(ns, addr, count=3, deadline=10):
    """`count` pings 0.2 s apart: (all answered within `deadline` s, the output). A deadline,
    not ping's per-reply wait, which after a first reply is two round trips only: on this
    shared machine the appliance's worker and OVS's PMD thread, both polling, are at times
    descheduled for a few hundred milliseconds (a delay, not a loss)."""
    p = subprocess.run(["ip", "netns", "exec", ns, "ping", "-c", str(count), "-i", "0.2", "-w", str(deadline),
                        addr], capture_output=True, text=True)
    return p.returncode == 0 and " 0% packet loss" in p.stdout, p.stdout


def compute_agent_alive(env):
    agents = env.api(f"/v2.0/agents?host={COMPUTE}")["agents"]
    return any(a["agent_type"] == "Open vSwitch agent" and a["alive"] for a in agents) and agents


# ---- the scenario -------------------------------------------------------------------
def scenario(env, c1):
    t0 = time.monotonic()
    run(["ip", "netns", "add", env.upstream])
    env.ns("ip", "link", "set", "lo", "up")
    c1.start_ovs()
    log(f"compute1's OVS-DPDK up ({time.monotonic() - t0:.0f} s)")
    env.services("start")
    log(f"services up ({time.monotonic() - t0:.0f} s)")
    c1.start_agent(env.transport_url)

    ids = {}
    ids["ext"] = env.openstack("network", "create", "--external", "--provider-network-type", "flat",
                               "--provider-physical-network", "physnet1", "Ext-Net")["id"]
    env.write_seed(ids["ext"])
    env.start_vrouter()
    c1.move_link(None, env.eth1)
    env.start_agent()
    wait_until("the network node's three agents alive", lambda: agents_alive(env), 60)
    agents = wait_until("compute1's Open vSwitch agent alive", lambda: compute_agent_alive(env), 60)
    conf = [a for a in agents if a["agent_type"] == "Open vSwitch agent"][0]["configurations"]
    assert conf["tunneling_ip"] == COMPUTE_IP and conf["datapath_type"] == "netdev", conf
    log(f"appliance, its agent and compute1's neutron-openvswitch-agent up ({time.monotonic() - t0:.0f} s)")

    vm = create_seed(env, ids)
    dhcp = wait_until("the DHCP port", lambda: env.api("/v2.0/ports?device_owner=network:dhcp")["ports"], 20)
    ids["dhcp"] = dhcp[0]["id"]
    tap = c1.plug_vm(ids["vm"], VM002_MAC, VM002_DEVICE)
    wait_until("the seed topology in the appliance", lambda: seed_in_appliance(env, ids), 40)

    # The OVS agent binds the VM's port (VLAN tag on br-int, tunnel flows on br-tun) and
    # reports it up: Neutron marks it ACTIVE.
    wait_until("the VM's port ACTIVE", lambda: env.api(f"/v2.0/ports/{ids['vm']}")["port"]["status"] == "ACTIVE",
               60)
    vm = env.openstack("port", "show", ids["vm"])
    assert vm["status"] == "ACTIVE" and vm["binding_host_id"] == COMPUTE, vm
    # ML2 binds a port on an OVS-DPDK host as vhost-user (what Nova would give a VM there).
    assert vm["binding_vif_type"] == "vhostuser" and vm["binding_vif_details"]["datapath_type"] == "netdev", vm
    tag = c1.vsctl("get", "Port", tap, "tag").strip()
    assert tag.isdigit() and 0 < int(tag) < 4095, f"the VM's port on br-int should have a local VLAN: {tag}"
    gre = c1.vsctl("--columns=name,type,options", "find", "Interface", "type=gre")
    assert "gre-0a000115" in gre and 'remote_ip="10.0.1.21"' in gre and f'local_ip="{COMPUTE_IP}"' in gre, gre
    peer = wait_until("the VM's port bound to compute1's endpoint in the appliance",
                      lambda: [p.get("binding") for p in env.ctl("port-list")
                               if p["id"] == ids["vm"] and p.get("binding") == {"peer": COMPUTE_IP}], 20)[0]
    log(f"PASS: VM port ACTIVE on compute1 (br-int tag {tag}, {tap}); agent made gre-0a000115; "
        f"the appliance binds it to {peer}")

    code, out = c1.dhcp()
    assert code == 0 and f"DHCPACK of {VM_IP}" in out, f"the VM should get {VM_IP} by DHCP:\n{out}"
    addr = c1.in_vm("ip", "-4", "-o", "addr", "show", "dev", c1.vm_if)
    route = c1.in_vm("ip", "-4", "route", "show", "default")
    link = c1.in_vm("ip", "-o", "link", "show", "dev", c1.vm_if)
    assert f"inet {VM_IP}/24" in addr and "default via 10.0.0.1" in route and "mtu 1458" in link, \
        f"DHCP should configure {VM_IP}/24, MTU 1458, default via 10.0.0.1:\n{addr}{link}{route}"
    log(f"PASS: the VM got {VM_IP}/24, MTU 1458, via 10.0.0.1 by DHCP from the appliance")

    ok, out = ping(c1.vm, "10.0.0.1")
    assert ok, f"the VM's gateway 10.0.0.1:\n{out}"

    wait_until("floating IP ACTIVE", lambda: env.api(f"/v2.0/floatingips/{ids['fip']}")["floatingip"]["status"]
               == "ACTIVE", 30)
    fip = env.openstack("floating", "ip", "show", ids["fip"])
    assert fip["status"] == "ACTIVE" and fip["port_id"] == ids["vm"], fip
    # The default group lets in only its own members: compute1's firewall drops upstream's
    # pings until a rule allows ICMP in.
    ok, out = ping(env.upstream, FLOATING_IP, 2, 2)
    assert not ok and " 0 received" in out, f"the default group should keep upstream out:\n{out}"
    sg = vm["security_group_ids"][0]
    t = time.monotonic()
    env.openstack("security", "group", "rule", "create", "--ingress", "--protocol", "icmp",
                  "--remote-ip", "0.0.0.0/0", sg)
    cli = time.monotonic() - t
    wait_until(f"upstream reaching the VM at {FLOATING_IP}", lambda: ping(env.upstream, FLOATING_IP, 1, 1)[0], 30,
               0.1)
    opened = time.monotonic() - t
    cap = capture(c1.vm, c1.vm_if, f"icmp[icmptype] == icmp-echo and src {UPSTREAM_IP} and dst {VM_IP}")
    ok, out = ping(env.upstream, FLOATING_IP)
    seen = captured(cap)
    assert ok, f"upstream should reach the VM at {FLOATING_IP}:\n{out}"
    assert f"{UPSTREAM_IP} > {VM_IP}: ICMP echo request" in seen, seen
    log(f"PASS: floating IP ACTIVE; upstream -> {FLOATING_IP} -> the VM ({VM_IP}), "
        f"{opened:.1f} s after `openstack security group rule create` started (the CLI took {cli:.1f} s)")

    gw_ip = [x["ip_address"] for r in env.ctl("router-list") if r["id"] == ids["router"]
             for x in r["external_gateway_info"]["external_fixed_ips"]][0]
    env.openstack("floating", "ip", "unset", "--port", ids["fip"], fmt=False)
    wait_until("the floating IP disassociated in the appliance",
               lambda: not any(f["id"] == ids["fip"] and f.get("port_id") for f in env.ctl("floatingip-list")), 20)
    cap = capture(env.upstream, env.eth2, f"icmp[icmptype] == icmp-echo and dst {UPSTREAM_IP}")
    ok, out = ping(c1.vm, UPSTREAM_IP)
    seen = captured(cap)
    assert ok, f"the VM should reach upstream through SNAT:\n{out}"
    assert f"{gw_ip} > {UPSTREAM_IP}: ICMP echo request" in seen, \
        f"upstream should see the VM's ping from the router's gateway address {gw_ip}:\n{seen}"
    log(f"PASS: the VM reaches upstream through SNAT (upstream sees {gw_ip})")
    log(f"all checks passed in {time.monotonic() - t0:.0f} s")


def main():
    if os.geteuid() != 0:
        sys.exit("e2e_neutron_compute: run as root (network namespaces, DPDK)")
    require_tools("e2e_neutron_compute")
    for tool in (VSWITCHD, OVS_AGENT, "/usr/sbin/ovsdb-server"):
        if not os.path.exists(tool):
            sys.exit(f"e2e_neutron_compute: {tool} is missing: scripts/install-deps.sh")
    env = Env()
    c1 = None
    try:
        c1 = Compute1(env)
        scenario(env, c1)
    except BaseException:
        env.dump_logs()
        raise
    finally:
        if c1:
            c1.close()
        env.close()


if __name__ == "__main__":
    main()
