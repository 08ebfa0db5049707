#!/usr/bin/python3
"""Unit tests of desired.py and reconcile.py: Neutron's RPC answers (as sync_routers,
get_network_info and get_network_details return them) in, control requests out, no I/O.

    /usr/bin/python3 -m unittest discover -s agent/tests -p 'test_*.py'
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.realpath(__file__))))

from vrouter_agent import desired as dsr  # noqa: E402
from vrouter_agent import reconcile  # noqa: E402

HOST = "network"
NET, EXT = "7c22bbd9-166c-4610-9a3d-3b8b92c77518", "c8699820-7c6d-4441-9602-3425f2c630ec"
SUB, SUB_EXT = "c37d8ed0-372e-4b24-9ba2-897c38c6ddbf", "2c4155c9-5a2e-471c-a4d8-40a86b45ab0a"
ROUTER = "680944ad-679c-4fe8-ae4b-258cd8ac337f"
QR, QG = "81388454-30e0-45e4-b3dd-b7b2e8dbf067", "eb60f9c4-2ddb-49ee-8b78-2fc2564a7600"
VM, DHCP = "1653ec91-ad7d-40d9-b777-f74aec697026", "2df7c3ed-dfbb-480d-9cd3-fdefa079e66a"
FIP, FIP_PORT = "9d4b4b5e-54a0-4c39-b5e3-3f7b8c1f0d52", "f6812a11-c4ce-4880-8566-2206afcc612a"
SG = "8bd8fb6b-7141-4900-8321-390cc1a5d999"


def port(pid, net, mac, ip, subnet, owner="", device="", host=""):
    return {"id": pid, "network_id": net, "mac_address": mac, "device_owner": owner,
            "device_id": device, "binding:host_id": host, "status": "DOWN", "name": "",
            "fixed_ips": [{"subnet_id": subnet, "ip_address": ip}],
            "security_groups": [SG] if owner.startswith("compute:") else [],
            "port_security_enabled": owner.startswith("compute:"), "allowed_address_pairs": []}


def seed_view():
    """The seed's topology as this node's agents would fetch it from Neutron."""
    v = dsr.NeutronView(host=HOST, local_ip="10.0.1.21")
    v.endpoints = {HOST: "10.0.1.21", "compute1": "10.0.1.31"}
    v.networks = {
        NET: {"id": NET, "name": "tenantA-Net", "provider:network_type": "gre",
              "provider:segmentation_id": 2, "mtu": 1458, "router:external": False},
        EXT: {"id": EXT, "name": "Ext-Net", "provider:network_type": "flat",
              "provider:physical_network": "physnet1", "mtu": 1500, "router:external": True},
    }
    sub = {"id": SUB, "name": "", "network_id": NET, "cidr": "10.0.0.0/24", "ip_version": 4,
           "gateway_ip": "10.0.0.1", "enable_dhcp": True, "dns_nameservers": [], "host_routes": [],
           "allocation_pools": [{"start": "10.0.0.2", "end": "10.0.0.254"}]}
    sub_ext = {"id": SUB_EXT, "name": "", "network_id": EXT, "cidr": "10.1.101.0/24", "ip_version": 4,
               "gateway_ip": "10.1.101.254", "enable_dhcp": False, "dns_nameservers": [],
               "host_routes": [], "allocation_pools": [{"start": "10.1.101.80", "end": "10.1.101.100"}]}
    v6 = {"id": "v6-subnet", "network_id": NET, "cidr": "fd00::/64", "ip_version": 6}
    qr = port(QR, NET, "fa:16:3e:f7:e6:9c", "10.0.0.1", SUB, dsr.ROUTER_INTERFACE, ROUTER, HOST)
    qg = port(QG, EXT, "fa:16:3e:78:39:e9", "10.1.101.80", SUB_EXT, dsr.ROUTER_GATEWAY, ROUTER, HOST)
    vm = port(VM, NET, "fa:16:3e:51:a2:97", "10.0.0.9", SUB, "compute:nova", "vm002", "compute1")
    dhcp = port(DHCP, NET, "fa:16:3e:da:41:49", "10.0.0.3", SUB, dsr.DHCP,
                dsr.dhcp_device_id(HOST, NET), HOST)
    other_dhcp = port("other-dhcp", NET, "fa:16:3e:00:00:01", "10.0.0.4", SUB, dsr.DHCP,
                      dsr.dhcp_device_id("network2", NET), "network2")
    fip_port = port(FIP_PORT, EXT, "fa:16:3e:9e:75:a2", "10.1.101.82", SUB_EXT, dsr.FLOATINGIP, FIP)
    v.network_info = {
        NET: {"id": NET, "subnets": [sub, v6], "ports": [qr, vm, dhcp, other_dhcp]},
        EXT: {"id": EXT, "subnets": [sub_ext], "ports": [qg, fip_port]},
    }
    v.dhcp_networks = {NET}
    v.routers = {ROUTER: {
        "id": ROUTER, "name": "tenant-R1", "routes": [],
        "external_gateway_info": {"network_id": EXT, "enable_snat": True},
        "gw_port": qg, "_interfaces": [qr],
        "_floatingips": [{"id": FIP, "floating_ip_address": "10.1.101.82", "floating_network_id": EXT,
                          "port_id": VM, "fixed_ip_address": "10.0.0.9", "router_id": ROUTER,
                          "status": "DOWN"}],
    }}
    v.sg_info = {"security_groups": {SG: [
        {"direction": "egress", "ethertype": "IPv4"},
        {"direction": "egress", "ethertype": "IPv6"},
        {"direction": "ingress", "ethertype": "IPv4", "remote_group_id": SG},
        {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 22,
         "port_range_max": 22, "source_ip_prefix": "0.0.0.0/0"},
    ]}}
    return v


class FakeAppliance:
    """The appliance's model as far as the plan needs it: applies the plan's steps to
    dicts shaped as the control socket's *.list answers."""

    def __init__(self):
        self.s = {"networks": {}, "subnets": {}, "ports": {}, "routers": {}, "floatingips": {},
                  "security_groups": {}, "peers": set()}

    def apply(self, steps):
        s = self.s
        for op, a in steps:
            if op == "tunnel_peer.create":
                s["peers"].add(a["remote_ip"])
            elif op == "tunnel_peer.delete":
                s["peers"].discard(a["id"])
            elif op == "security_group.create":
                s["security_groups"][a["id"]] = {"id": a["id"], "rules": [
                    {"id": "default", "direction": "egress", "ethertype": "IPv4"}]}
            elif op == "security_group_rule.delete_default":
                g = s["security_groups"][a["security_group"]]
                g["rules"] = [r for r in g["rules"] if r["id"] != "default"]
            elif op == "security_group_rule.create":
                g = s["security_groups"][a["security_group"]]
                g["rules"].append(dict(a, id="r%d" % len(g["rules"]),
                                       remote_group_id=a.get("remote_group")))
            elif op == "network.create":
                s["networks"][a["id"]] = dict(a)
            elif op == "subnet.create":
                s["subnets"][a["id"]] = dict(a, network_id=a["network"])
            elif op == "port.create":
                s["ports"][a["id"]] = dict(a, network_id=a["network"])
            elif op == "router.create":
                s["routers"][a["id"]] = dict(a, interfaces=[], external_gateway_info=None)
            elif op == "router.gateway_set":
                ips = [dict(f, port_id=a["port_id"]) for f in a["fixed_ips"]]
                s["routers"][a["router"]]["external_gateway_info"] = {
                    "network_id": a["network"], "enable_snat": a["enable_snat"], "external_fixed_ips": ips}
                s["ports"][a["port_id"]] = {"id": a["port_id"], "network_id": a["network"],
                                            "mac_address": a["mac_address"], "fixed_ips": a["fixed_ips"],
                                            "device_owner": dsr.ROUTER_GATEWAY}
            elif op == "router.interface_add":
                sub = s["subnets"][a["subnet"]]
                ip = sub["gateway_ip"]
                s["ports"][a["port_id"]] = {"id": a["port_id"], "network_id": sub["network_id"],
                                            "mac_address": a["mac_address"], "device_owner": dsr.ROUTER_INTERFACE,
                                            "fixed_ips": [{"subnet_id": sub["id"], "ip_address": ip}]}
                s["routers"][a["router"]]["interfaces"].append(
                    {"port_id": a["port_id"], "subnet_id": sub["id"], "ip_address": ip})
            elif op == "router.interface_remove":
                r = s["routers"][a["router"]]
                r["interfaces"] = [i for i in r["interfaces"] if i["port_id"] != a["port"]]
                del s["ports"][a["port"]]
            elif op == "router.gateway_clear":
                r = s["routers"][a["id"]]
                for i in r["external_gateway_info"]["external_fixed_ips"]:
                    s["ports"].pop(i["port_id"], None)
                r["external_gateway_info"] = None
            elif op == "router.delete":
                del s["routers"][a["id"]]
            elif op == "floatingip.create":
                s["floatingips"][a["id"]] = {"id": a["id"], "floating_ip_address": a["floating_ip_address"],
                                             "port_id": a["port"], "fixed_ip_address": a["fixed_ip_address"]}
            elif op == "floatingip.delete":
                del s["floatingips"][a["id"]]
            elif op in ("port.delete", "subnet.delete", "network.delete", "security_group.delete"):
                kind = op.split(".")[0] + "s"
                del s["security_groups" if kind == "security_groups" else kind][a["id"]]
            else:
                raise AssertionError(f"the fake does not know {op}")


def ops(steps):
    return [op for op, _ in steps]


class Reconcile(unittest.TestCase):
    def test_seed_from_empty_then_nothing(self):
        want = dsr.compute(seed_view())
        app = FakeAppliance()
        steps = reconcile.plan(want, app.s)
        self.assertEqual(ops(steps)[:2], ["tunnel_peer.create", "security_group.create"])
        # Neutron's group has the IPv4 egress rule the appliance gives a new group: kept.
        self.assertNotIn("security_group_rule.delete_default", ops(steps))
        # What is used comes first: networks before subnets before ports before routers.
        order = ops(steps)
        self.assertLess(order.index("network.create"), order.index("subnet.create"))
        self.assertLess(order.index("subnet.create"), order.index("port.create"))
        self.assertLess(order.index("router.gateway_set"), order.index("floatingip.create"))
        app.apply(steps)
        self.assertEqual(reconcile.plan(want, app.s), [], "a converged appliance needs no change")

    def test_neutron_ids_and_names(self):
        want = dsr.compute(seed_view())
        self.assertEqual(set(want.networks), {NET, EXT})
        self.assertEqual(want.networks[NET]["segmentation_id"], 2)
        self.assertNotIn("segmentation_id", want.networks[EXT])
        self.assertEqual(set(want.subnets), {SUB, SUB_EXT}, "IPv6 subnets are left out")
        # Only this node's DHCP port; router and floating IP ports belong to their routers.
        self.assertEqual(set(want.ports), {VM, DHCP})
        self.assertEqual(want.ports[VM]["binding"], {"peer": "10.0.1.31"})
        self.assertNotIn("binding", want.ports[DHCP])
        r = want.routers[ROUTER]
        self.assertEqual(r["gateway"]["port_id"], QG)
        self.assertEqual(set(r["interfaces"]), {QR})
        self.assertEqual(want.floatingips[FIP]["fip_port_id"], FIP_PORT)
        rules = want.security_groups[SG]["rules"]
        self.assertEqual(len(rules), 3, "the IPv6 rule is left out")
        self.assertIn(("ingress", "IPv4", "tcp", 22, 22, "0.0.0.0/0", None), rules)
        self.assertEqual(want.peers, {"10.0.1.31"})

    def test_gateway_address_interface_is_added_by_subnet(self):
        steps = reconcile.plan(dsr.compute(seed_view()), FakeAppliance().s)
        adds = [a for op, a in steps if op == "router.interface_add"]
        self.assertEqual(adds, [{"router": ROUTER, "subnet": SUB, "port_id": QR,
                                 "mac_address": "fa:16:3e:f7:e6:9c"}])

    def test_only_the_difference(self):
        view = seed_view()
        app = FakeAppliance()
        app.apply(reconcile.plan(dsr.compute(view), app.s))
        # A rule removed in Neutron: exactly that rule goes.
        view.sg_info["security_groups"][SG].pop()
        steps = reconcile.plan(dsr.compute(view), app.s)
        self.assertEqual(ops(steps), ["security_group_rule.delete"])

    def test_new_group_without_egress_loses_the_default_rule(self):
        view = seed_view()
        view.sg_info["security_groups"][SG] = [r for r in view.sg_info["security_groups"][SG]
                                               if r["direction"] != "egress"]
        app = FakeAppliance()
        steps = reconcile.plan(dsr.compute(view), app.s)
        self.assertIn(("security_group_rule.delete_default", {"security_group": SG}), steps)
        app.apply(steps)
        self.assertEqual(reconcile.plan(dsr.compute(view), app.s), [])

    def test_router_removal_in_reverse_order(self):
        view = seed_view()
        app = FakeAppliance()
        app.apply(reconcile.plan(dsr.compute(view), app.s))
        view.routers = {}
        steps = reconcile.plan(dsr.compute(view), app.s)
        self.assertEqual(ops(steps), ["floatingip.delete", "router.interface_remove",
                                      "router.gateway_clear", "router.delete"])
        app.apply(steps)
        self.assertEqual(reconcile.plan(dsr.compute(view), app.s), [])

    def test_port_moves_to_another_compute_node(self):
        view = seed_view()
        app = FakeAppliance()
        app.apply(reconcile.plan(dsr.compute(view), app.s))
        view.endpoints["compute2"] = "10.0.1.41"
        view.network_info[NET]["ports"][1]["binding:host_id"] = "compute2"
        steps = reconcile.plan(dsr.compute(view), app.s)
        self.assertEqual(steps, [("tunnel_peer.create", {"remote_ip": "10.0.1.41"}),
                                 ("port.update", {"id": VM, "binding": {"peer": "10.0.1.41"}})])


if __name__ == "__main__":
    unittest.main()
