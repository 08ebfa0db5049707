#!/usr/bin/python3
"""Scale benchmark of vrouter-neutron-agent (a benchmark, not a timed test).

Starts MariaDB, RabbitMQ and neutron-server on loopback, the appliance and the agent (as
agent/tests/e2e_neutron.py does), then creates ROUTERS routers, NETWORKS networks (GRE, one
/24 subnet each, NETWORKS / ROUTERS interfaces per router, every router with its gateway on
Ext-Net) and PORTS VM ports (unbound: ML2 takes ~0.7 s more per port whose binding to a
host without an agent fails) through Neutron's API (bulk requests), and prints: the time
Neutron took, the time until the appliance had converged (everything present and a
reconciliation that changed nothing), the agent's CPU time and peak memory, the number
of control requests it made and of RPC requests it sent to neutron-server, what the
appliance holds, and the load of the machine, as one result block.

    sudo make bench-neutron                          # 100 routers, 200 networks, 2000 ports
    sudo benches/neutron_scale.py                    # the same
    sudo ROUTERS=10 NETWORKS=20 PORTS=200 benches/neutron_scale.py
Needs the release binaries (cargo build --release) and the packages of
scripts/install-deps.sh.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "agent", "tests"))
os.environ.setdefault("VROUTER", os.path.join(ROOT, "target/release/vrouter"))
os.environ.setdefault("VROUTERCTL", os.path.join(ROOT, "target/release/vrouterctl"))

import e2e_neutron as e2e  # noqa: E402

ROUTERS = int(os.environ.get("ROUTERS", 100))
NETWORKS = int(os.environ.get("NETWORKS", 200))
PORTS = int(os.environ.get("PORTS", 2000))
TIMEOUT = float(os.environ.get("CONVERGE_TIMEOUT", 1800))
BULK = 100


def request(env, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(env.os_env["OS_ENDPOINT"] + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            text = r.read()
    except urllib.error.HTTPError as e:
        raise SystemExit(f"{method} {path}: {e.code} {e.read().decode(errors='replace')}")
    return json.loads(text) if text else None


def bulk(env, kind, items):
    """POSTs `items` in bulk requests of BULK; returns the created resources."""
    out = []
    for i in range(0, len(items), BULK):
        out += request(env, "POST", f"/v2.0/{kind}", {kind: items[i:i + BULK]})[kind]
    return out


def proc_usage(pid):
    """(CPU seconds, peak RSS in MiB) of a process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    hwm = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    return cpu, hwm


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def create_topology(env, ext_id):
    """Ext-Net's subnet, the networks and subnets, the routers with gateway and
    interfaces, the VM ports; prints how long each step took."""
    t = time.monotonic()

    def step(what):
        nonlocal t
        now = time.monotonic()
        print(f"  {what}: {now - t:.1f} s", flush=True)
        t = now
    request(env, "POST", "/v2.0/subnets", {"subnet": {
        "network_id": ext_id, "ip_version": 4, "cidr": "10.1.0.0/16", "gateway_ip": "10.1.0.1",
        "enable_dhcp": False, "allocation_pools": [{"start": "10.1.1.1", "end": "10.1.250.254"}]}})
    nets = bulk(env, "networks", [
        {"name": f"net{i}", "provider:network_type": "gre", "provider:segmentation_id": 100 + i}
        for i in range(NETWORKS)])
    step("networks")
    subnets = bulk(env, "subnets", [
        {"network_id": n["id"], "ip_version": 4, "cidr": f"10.{64 + i // 250}.{i % 250}.0/24",
         "name": f"sub{i}"} for i, n in enumerate(nets)])
    step("subnets")
    # Routers take no bulk requests.
    routers = [request(env, "POST", "/v2.0/routers", {"router": {
        "name": f"r{i}", "external_gateway_info": {"network_id": ext_id}}})["router"]
        for i in range(ROUTERS)]
    step("routers with gateways")
    for i, s in enumerate(subnets):
        r = routers[i % ROUTERS]
        request(env, "PUT", f"/v2.0/routers/{r['id']}/add_router_interface", {"subnet_id": s["id"]})
    step("router interfaces")
    bulk(env, "ports", [
        {"network_id": nets[i % NETWORKS]["id"], "name": f"vm{i}", "device_owner": "compute:nova",
         "device_id": f"00000000-0000-4000-8000-{i:012d}"}
        for i in range(PORTS)])
    step("VM ports")
    return nets, routers


def converged(env):
    """The appliance holds every router, network and port, and the agent's last
    reconciliation changed nothing."""
    routers = len(env.ctl("router-list"))
    nets = len(env.ctl("net-list"))
    ports = env.ctl("port-list")
    vm = sum(1 for p in ports if p.get("device_owner") == "compute:nova")
    st = env.agent_stats()
    ok = (routers == ROUTERS and nets == NETWORKS + 1 and vm == PORTS
          and st.get("last_sync_changes") == 0 and st.get("refused") == 0)
    return ok and (routers, nets, len(ports), st)


def main():
    if os.geteuid() != 0:
        sys.exit("neutron_scale: run as root")
    env = e2e.Env()
    try:
        env.svc_env["AGENT_DOWN_TIME"] = "75"
        # While the benchmark's own requests saturate neutron-server, a full fetch of
        # hundreds of networks' ports takes longer than the test's 10 s.
        env.rpc_timeout = 120
        e2e.run(["ip", "netns", "add", env.upstream])
        env.services("start")
        ext_id = env.openstack("network", "create", "--external", "--provider-network-type", "flat",
                               "--provider-physical-network", "physnet1", "Ext-Net")["id"]
        env.write_seed(ext_id)
        env.start_vrouter()
        env.start_agent()
        e2e.wait_until("the agents alive", lambda: e2e.agents_alive(env), 60)
        e2e.wait_until("a first sync", lambda: env.agent_stats().get("syncs"), 60)
        base = env.agent_stats()
        cpu0, _ = proc_usage(env.agent.pid)
        vr_cpu0, _ = proc_usage(env.vrouter.pid)
        load_before = loadavg()
        t0 = time.monotonic()
        create_topology(env, ext_id)
        t_created = time.monotonic() - t0
        print(f"neutron: {ROUTERS} routers, {NETWORKS} networks, {PORTS} ports created in {t_created:.1f} s",
              flush=True)
        routers, nets, ports, st = e2e.wait_until("the appliance to converge", lambda: converged(env),
                                                  TIMEOUT, interval=2.0)
        t_conv = time.monotonic() - t0
        cpu1, hwm = proc_usage(env.agent.pid)
        vr_cpu, vr_hwm = proc_usage(env.vrouter.pid)
        rpc = {m: n - (base.get("rpc_requests") or {}).get(m, 0) for m, n in st["rpc_requests"].items()}
        top = sorted(((n, m) for m, n in rpc.items() if n), reverse=True)
        phases = ", ".join(f"{what} {st.get(key, 0) - base.get(key, 0):.0f} s" for what, key in (
            ("fetching from Neutron", "fetch_seconds"), ("reading and changing the appliance", "appliance_seconds"),
            ("reporting to Neutron", "report_seconds")))
        print(f"\n==== neutron_scale result ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
              f"{os.cpu_count()} CPUs, load average {load_before} before, {loadavg()} after) ====")
        print("| what | value |\n|---|---|")
        rows = [
            ("resources in Neutron", f"{ROUTERS} routers, {NETWORKS} networks (+ Ext-Net), {PORTS} VM ports"),
            ("Neutron API time to create them", f"{t_created:.1f} s"),
            ("appliance converged after (from the first request)", f"{t_conv:.1f} s"),
            ("appliance converged after (from the last request)", f"{t_conv - t_created:.1f} s"),
            ("appliance holds", f"{routers} routers, {nets} networks, {ports} ports"),
            ("agent CPU time during the run", f"{cpu1 - cpu0:.1f} s"),
            ("agent peak RSS", f"{hwm:.0f} MiB"),
            ("agent reconciliations", f"{st['syncs'] - base['syncs']}"),
            ("agent time in its reconciliations", phases),
            ("last full reconciliation (no change)", f"{st['last_sync_seconds']:.2f} s"),
            ("control requests (of which changes)",
             f"{st['control_requests'] - base['control_requests']} "
             f"({st['control_changes'] - base['control_changes']})"),
            ("RPC requests to neutron-server (heartbeats included)",
             f"{sum(rpc.values())}: " + ", ".join(f"{m} {n}" for n, m in top)),
            ("appliance CPU time during the run, peak RSS", f"{vr_cpu - vr_cpu0:.1f} s, {vr_hwm:.0f} MiB"),
        ]
        for k, v in rows:
            print(f"| {k} | {v} |")
        print("==== end of result ====", flush=True)
    finally:
        env.close()


if __name__ == "__main__":
    main()
