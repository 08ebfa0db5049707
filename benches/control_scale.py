#!/usr/bin/python3
"""The appliance's side of the Neutron scale benchmark: the cost of one control request
as the model grows. Starts the appliance (the real binary, $VROUTER) and sends what
vrouter-neutron-agent sends for NETWORKS networks with a /24 subnet each, ROUTERS routers
with a gateway and NETWORKS / ROUTERS interfaces each, then PORTS VM ports (one request
each, as the control API has no batch), and prints the wall time and the appliance's CPU
time per request for every 250 ports, the time of the lists the agent reads on every
reconciliation, and port.update / port.delete at full size.

    sudo benches/control_scale.py                  # 200 networks, 100 routers, 2000 ports
    sudo PORTS=500 benches/control_scale.py
    sudo PERF=perf.data benches/control_scale.py   # perf record of the port.update phase
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "agent"))

from vrouter_agent.control import Control  # noqa: E402

VROUTER = os.environ.get("VROUTER", os.path.join(ROOT, "target/release/vrouter"))
NETWORKS = int(os.environ.get("NETWORKS", 200))
ROUTERS = int(os.environ.get("ROUTERS", 100))
PORTS = int(os.environ.get("PORTS", 2000))
STEP = 250


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def seed(path, ext, tag):
    with open(path, "w") as f:
        f.write(f"""[[network]]
id = "{ext}"
name = "Ext-Net"
router_external = true

[[uplink]]
name = "eth1"
devargs = "net_tap0,iface=cs{tag}e1"
role = "underlay"
local_ip = "10.0.1.21/24"
mac = "52:54:00:00:01:21"

[[uplink]]
name = "eth2"
devargs = "net_tap1,iface=cs{tag}e2"
role = "external"
network_id = "{ext}"
""")


def subnet_ip(i, host):
    return f"10.{64 + i // 250}.{i % 250}.{host}"


class Bench:
    def __init__(self, ctl, pid):
        self.ctl = ctl
        self.pid = pid

    def timed(self, label, calls):
        """Sends `calls` (op, args); prints wall and appliance CPU time per request."""
        t, c = time.monotonic(), cpu_seconds(self.pid)
        for op, args in calls:
            self.ctl.call(op, args, mutates=True)
        wall, cpu = time.monotonic() - t, cpu_seconds(self.pid) - c
        n = max(1, len(calls))
        print(f"| {label} | {len(calls)} | {1000 * wall / n:.1f} ms | {1000 * cpu / n:.1f} ms |", flush=True)


def main():
    if os.geteuid() != 0:
        sys.exit("control_scale: run as root")
    d = tempfile.mkdtemp(prefix="vrouter-control-scale-")
    tag = "%04x" % (os.getpid() & 0xFFFF)
    prefix = f"cs{tag}"
    ext = str(uuid.uuid4())
    seed(os.path.join(d, "seed.toml"), ext, tag)
    sock = os.path.join(d, "vrouter.sock")
    with open(os.path.join(d, "vrouter.log"), "w") as log:
        vr = subprocess.Popen(
            [VROUTER, "--config", os.path.join(d, "seed.toml"), "--state-dir", os.path.join(d, "state"),
             "--socket", sock, "--eal",
             f"--no-huge -m 512 --no-pci --file-prefix {prefix} -l 0 --log-level=*:warning"],
            stdout=log, stderr=subprocess.STDOUT)
    perf = None
    try:
        ctl = Control(sock)
        end = time.monotonic() + 30
        while True:
            try:
                ctl.call("stats")
                break
            except Exception:
                if time.monotonic() > end or vr.poll() is not None:
                    raise
                time.sleep(0.2)
        b = Bench(ctl, vr.pid)
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
        print(f"control_scale: {NETWORKS} networks, {ROUTERS} routers, {PORTS} ports; "
              f"{os.cpu_count()} CPUs, load average {load}")
        print("| requests | count | wall per request | appliance CPU per request |\n|---|---|---|---|")
        ctl.call("subnet.create", {
            "id": str(uuid.uuid4()), "name": "ext", "network": ext, "cidr": "10.1.0.0/16",
            "gateway_ip": "10.1.0.1", "enable_dhcp": False, "dns_nameservers": [], "host_routes": [],
            "allocation_pools": [{"start": "10.1.1.1", "end": "10.1.250.254"}]})
        nets = [str(uuid.uuid4()) for _ in range(NETWORKS)]
        subs = [str(uuid.uuid4()) for _ in range(NETWORKS)]
        routers = [str(uuid.uuid4()) for _ in range(ROUTERS)]
        b.timed("network.create", [("network.create", {
            "id": n, "name": f"net{i}", "router_external": False, "segmentation_id": 100 + i, "mtu": 1458})
            for i, n in enumerate(nets)])
        b.timed("subnet.create", [("subnet.create", {
            "id": s, "name": f"sub{i}", "network": nets[i], "cidr": subnet_ip(i, 0) + "/24",
            "enable_dhcp": True, "gateway_ip": subnet_ip(i, 1), "dns_nameservers": [], "host_routes": [],
            "allocation_pools": [{"start": subnet_ip(i, 2), "end": subnet_ip(i, 254)}]})
            for i, s in enumerate(subs)])
        b.timed("router.create", [("router.create", {"id": r, "name": f"r{i}", "routes": []})
                                  for i, r in enumerate(routers)])
        b.timed("router.gateway_set", [("router.gateway_set", {
            "router": r, "network": ext, "enable_snat": True, "port_id": str(uuid.uuid4()),
            "mac_address": "fa:16:3e:%02x:%02x:01" % (i // 256, i % 256)})
            for i, r in enumerate(routers)])
        b.timed("router.interface_add", [("router.interface_add", {
            "router": routers[i % ROUTERS], "subnet": s, "port_id": str(uuid.uuid4()),
            "mac_address": "fa:16:3e:%02x:%02x:02" % (i // 256, i % 256)})
            for i, s in enumerate(subs)])
        ports = [str(uuid.uuid4()) for _ in range(PORTS)]

        def vm_port(i):
            n = i % NETWORKS
            return ("port.create", {
                "id": ports[i], "network": nets[n], "mac_address": "fa:16:3e:%02x:%02x:03" % (i // 256, i % 256),
                "fixed_ips": [{"subnet_id": subs[n], "ip_address": subnet_ip(n, 10 + i // NETWORKS)}],
                "device_owner": "compute:nova", "device_id": str(uuid.uuid4()),
                "port_security_enabled": True, "security_groups": [], "allowed_address_pairs": []})
        for lo in range(0, PORTS, STEP):
            hi = min(PORTS, lo + STEP)
            b.timed(f"port.create, ports {lo}..{hi}", [vm_port(i) for i in range(lo, hi)])
        for op in ("network.list", "subnet.list", "port.list", "router.list"):
            t = time.monotonic()
            n = len(ctl.call(op))
            print(f"| {op} ({n} answered) | 1 | {1000 * (time.monotonic() - t):.1f} ms | |")
        if os.environ.get("PERF"):
            perf = subprocess.Popen(["perf", "record", "-F", "299", "--call-graph", "dwarf,16384",
                                     "-o", os.environ["PERF"], "-p", str(vr.pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
        b.timed("port.update (name), at full size", [("port.update", {"id": ports[i], "name": f"x{i}"})
                                                     for i in range(min(100, PORTS))])
        if perf:
            perf.send_signal(2)
            perf.wait()
            perf = None
        b.timed("port.delete, at full size", [("port.delete", {"id": ports[i]}) for i in range(min(100, PORTS))])
        size = os.path.getsize(os.path.join(d, "state", "state.json"))
        print(f"state.json: {size / 1024:.0f} KiB")
    finally:
        if perf:
            perf.kill()
        vr.terminate()
        vr.wait()
        shutil.rmtree(f"/var/run/dpdk/{prefix}", ignore_errors=True)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
