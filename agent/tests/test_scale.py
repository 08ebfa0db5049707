#!/usr/bin/python3
"""Unit tests of what keeps the agent's cost per sync small on a large node: the devices
asked about for security groups, the served-port set, the routers fetched again after a
notification, the RPC request counter.

    /usr/bin/python3 -m unittest discover -s agent/tests -p 'test_*.py'
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))

import oslo_messaging  # noqa: E402
from oslo_config import cfg  # noqa: E402

from test_reconcile import DHCP, NET, QG, QR, SG, SUB, VM, port, seed_view  # noqa: E402
from vrouter_agent import desired as dsr  # noqa: E402
from vrouter_agent import reconcile  # noqa: E402
from vrouter_agent.router_cache import RouterCache, ids_of  # noqa: E402
from vrouter_agent.rpc_count import count_requests  # noqa: E402


def many_vm_ports(n, groups):
    """`n` VM ports on NET, port i in group groups[i % len(groups)]."""
    out = []
    for i in range(n):
        p = port(f"vm-{i:05d}", NET, "fa:16:3e:00:%02x:%02x" % (i // 256, i % 256),
                 f"10.0.{1 + i // 200}.{10 + i % 200}", SUB, "compute:nova", f"dev{i}", "compute1")
        p["security_groups"] = [groups[i % len(groups)]]
        out.append(p)
    return out


class SecurityGroupProbes(unittest.TestCase):
    def test_one_port_per_group(self):
        info = {NET: {"id": NET, "ports": many_vm_ports(2000, ["g1", "g2", "g3"])}}
        probes = dsr.security_group_probes(info)
        self.assertEqual(len(probes), 3)
        groups = {g for p in info[NET]["ports"] if p["id"] in probes for g in p["security_groups"]}
        self.assertEqual(groups, {"g1", "g2", "g3"})

    def test_only_vm_ports_with_groups(self):
        v = seed_view()
        self.assertEqual(dsr.security_group_probes(v.network_info), [VM])
        v.network_info[NET]["ports"][1]["security_groups"] = []
        self.assertEqual(dsr.security_group_probes(v.network_info), [])

    def test_a_port_in_two_groups_covers_both(self):
        ports = many_vm_ports(3, ["g1"])
        ports[0]["security_groups"] = ["g1", "g2"]
        self.assertEqual(dsr.security_group_probes({NET: {"ports": ports}}), [ports[0]["id"]])


class ServedPorts(unittest.TestCase):
    def test_ports_interfaces_and_gateways(self):
        want = dsr.compute(seed_view())
        self.assertEqual(dsr.served_port_ids(want), {VM, DHCP, QR, QG})


class PlanAtScale(unittest.TestCase):
    def test_two_thousand_ports_then_nothing(self):
        v = seed_view()
        v.network_info[NET]["ports"] += many_vm_ports(2000, [SG])
        v.network_info[NET]["subnets"][0]["cidr"] = "10.0.0.0/16"
        want = dsr.compute(v)
        self.assertEqual(len(want.ports), 2002)
        creates = [a["id"] for op, a in reconcile.plan(want, empty()) if op == "port.create"]
        self.assertEqual(len(creates), len(set(creates)))
        self.assertGreaterEqual(len(creates), 2002)
        have = as_listed(want)
        self.assertEqual(reconcile.plan(want, have), [])


def empty():
    return {"networks": {}, "subnets": {}, "ports": {}, "routers": {}, "floatingips": {},
            "security_groups": {}, "peers": set()}


def as_listed(want):
    """The appliance's *.list answers once it holds `want` (the fields plan() compares)."""
    have = empty()
    have["networks"] = {k: dict(n) for k, n in want.networks.items()}
    have["subnets"] = {k: dict(s, network_id=s["network"]) for k, s in want.subnets.items()}
    have["ports"] = {k: dict(p, network_id=p["network"]) for k, p in want.ports.items()}
    for rid, r in want.routers.items():
        ifaces = []
        for pid, p in r["interfaces"].items():
            have["ports"][pid] = dict(p, network_id=p["network"], device_owner=dsr.ROUTER_INTERFACE)
            ifaces.append({"port_id": pid})
        gw = None
        if r["gateway"]:
            g = r["gateway"]
            have["ports"][g["port_id"]] = {"id": g["port_id"], "network_id": g["network"],
                                           "device_owner": dsr.ROUTER_GATEWAY}
            gw = {"network_id": g["network"], "enable_snat": g["enable_snat"],
                  "external_fixed_ips": [{"port_id": g["port_id"]}]}
        have["routers"][rid] = dict(r["args"], interfaces=ifaces, external_gateway_info=gw)
    have["floatingips"] = {k: {"id": k, "floating_ip_address": f["floating_ip_address"],
                               "port_id": f["port"], "fixed_ip_address": f["fixed_ip_address"]}
                           for k, f in want.floatingips.items()}
    for gid, g in want.security_groups.items():
        rules = [dict(dsr.rule_args(gid, key), id=f"r{i}",
                      remote_group_id=dict(zip(range(7), key))[6])
                 for i, key in enumerate(sorted(g["rules"], key=repr))]
        have["security_groups"][gid] = {"id": gid, "rules": rules}
    have["peers"] = set(want.peers)
    return have


class Routers(unittest.TestCase):
    def test_all_at_start_then_only_those_named(self):
        c = RouterCache(max_age=30)
        self.assertIsNone(c.take(now=0))
        c.update(None, {"r1": {"id": "r1", "v": 1}, "r2": {"id": "r2", "v": 1}})
        self.assertEqual(c.take(now=1), set())
        c.mark({"r2"})
        c.mark({"r3"})
        asked = c.take(now=2)
        self.assertEqual(asked, {"r2", "r3"})
        c.update(asked, {"r2": {"id": "r2", "v": 2}, "r3": {"id": "r3", "v": 1}})
        self.assertEqual(c.routers, {"r1": {"id": "r1", "v": 1}, "r2": {"id": "r2", "v": 2},
                                     "r3": {"id": "r3", "v": 1}})
        self.assertEqual(c.take(now=3), set())

    def test_a_router_asked_for_and_not_returned_is_gone(self):
        c = RouterCache(max_age=30)
        c.update(c.take(now=0), {"r1": {"id": "r1"}, "r2": {"id": "r2"}})
        c.mark({"r1"})
        c.update(c.take(now=1), {})
        self.assertEqual(set(c.routers), {"r2"})

    def test_every_router_after_mark_all_and_when_old(self):
        c = RouterCache(max_age=30)
        c.update(c.take(now=0), {"r1": {"id": "r1"}})
        c.mark({"r1"})
        c.mark_all()
        self.assertIsNone(c.take(now=1))
        c.update(None, {"r2": {"id": "r2"}})
        self.assertEqual(set(c.routers), {"r2"})
        self.assertEqual(c.take(now=30), set())
        self.assertIsNone(c.take(now=31))

    def test_notification_arguments(self):
        self.assertEqual(ids_of(["a", "b"]), {"a", "b"})
        self.assertEqual(ids_of("a"), {"a"})
        self.assertEqual(ids_of({"router_id": "a"}), {"a"})
        self.assertEqual(ids_of([{"id": "a"}, "b"]), {"a", "b"})
        for nothing in (None, [], {}, [None], 7):
            self.assertIsNone(ids_of(nothing), nothing)


class Endpoint:
    """An RPC server's endpoint that answers `double`."""

    target = oslo_messaging.Target(version="1.0")

    def double(self, context, x):
        return 2 * x


class Client:
    """The shape of Neutron's RPC API classes: an oslo.messaging client in `client`."""

    def __init__(self, client):
        self.client = client


class RequestCounter(unittest.TestCase):
    def test_calls_and_casts_counted_by_method(self):
        cfg.CONF([], project="vrouter-agent-test")
        transport = oslo_messaging.get_rpc_transport(cfg.CONF, url="fake:/")
        server = oslo_messaging.get_rpc_server(
            transport, oslo_messaging.Target(topic="t", server="s"), [Endpoint()], executor="threading")
        server.start()
        try:
            api = Client(oslo_messaging.get_rpc_client(transport, oslo_messaging.Target(topic="t")))
            counts = {}
            count_requests(api, counts)
            self.assertEqual(api.client.prepare(version="1.0").call({}, "double", x=21), 42)
            self.assertEqual(api.client.prepare().call({}, "double", x=1), 2)
            api.client.prepare().cast({}, "double", x=3)
            self.assertEqual(counts, {"double": 3})
        finally:
            server.stop()
            server.wait()


if __name__ == "__main__":
    unittest.main()
