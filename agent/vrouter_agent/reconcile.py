"""Reconciliation: the appliance's state (read through the control socket) against the
desired state (desired.py); only the difference is applied, in an order the appliance's
validation accepts (what is used is created first and deleted last). Resources that did
not change are not touched, so their forwarding is never interrupted.
"""

import logging

from . import desired as dsr
from .control import ControlError

LOG = logging.getLogger(__name__)

SERVED = (dsr.ROUTER_INTERFACE, dsr.ROUTER_GATEWAY, dsr.FLOATINGIP)


def read_actual(ctl):
    """Everything the appliance holds, by kind, each by id."""
    by_id = lambda items, key="id": {x[key]: x for x in items or []}  # noqa: E731
    return {
        "networks": by_id(ctl.call("network.list")),
        "subnets": by_id(ctl.call("subnet.list")),
        "ports": by_id(ctl.call("port.list")),
        "routers": by_id(ctl.call("router.list")),
        "floatingips": by_id(ctl.call("floatingip.list")),
        "security_groups": by_id(ctl.call("security_group.list")),
        "peers": {p["remote_ip"] for p in ctl.call("tunnel_peer.list") or []},
    }


def _ips(items):
    return sorted((f["subnet_id"], f["ip_address"]) for f in items or [])


def _pairs(items):
    return sorted((p["ip_address"], p.get("mac_address") or "") for p in items or [])


def _port_changes(want, have):
    """port.update fields that differ between desired args and the appliance's port."""
    ch = {}
    if (want.get("name") or None) != (have.get("name") or None):
        ch["name"] = want.get("name") or ""
    if want["mac_address"] != have.get("mac_address"):
        ch["mac_address"] = want["mac_address"]
    if _ips(want["fixed_ips"]) != _ips(have.get("fixed_ips")):
        ch["fixed_ips"] = want["fixed_ips"]
    for key in ("device_owner", "device_id"):
        if want[key] != (have.get(key) or ""):
            ch[key] = want[key]
    if want.get("binding") != have.get("binding"):
        if want.get("binding") is None:
            ch["no_binding"] = True
        else:
            ch["binding"] = want["binding"]
    if want["port_security_enabled"] != have.get("port_security_enabled"):
        ch["port_security_enabled"] = want["port_security_enabled"]
    if sorted(want["security_groups"]) != sorted(have.get("security_groups") or []):
        ch["security_groups"] = want["security_groups"]
    if _pairs(want["allowed_address_pairs"]) != _pairs(have.get("allowed_address_pairs")):
        ch["allowed_address_pairs"] = want["allowed_address_pairs"]
    return ch


def _subnet_changes(want, have):
    ch = {}
    if want["name"] != (have.get("name") or ""):
        ch["name"] = want["name"]
    if want.get("gateway_ip") != have.get("gateway_ip"):
        if want.get("gateway_ip"):
            ch["gateway_ip"] = want["gateway_ip"]
        else:
            ch["no_gateway"] = True
    pools = lambda ps: sorted((p["start"], p["end"]) for p in ps or [])  # noqa: E731
    if pools(want["allocation_pools"]) != pools(have.get("allocation_pools")):
        ch["allocation_pools"] = want["allocation_pools"]
    if want["enable_dhcp"] != bool(have.get("enable_dhcp", True)):
        ch["enable_dhcp"] = want["enable_dhcp"]
    if sorted(want["dns_nameservers"]) != sorted(have.get("dns_nameservers") or []):
        ch["dns_nameservers"] = want["dns_nameservers"]
    routes = lambda rs: sorted((r["destination"], r["nexthop"]) for r in rs or [])  # noqa: E731
    if routes(want["host_routes"]) != routes(have.get("host_routes")):
        ch["host_routes"] = want["host_routes"]
    return ch


def _fip_target(f):
    return (f.get("port") or f.get("port_id"), f.get("fixed_ip_address"))


def plan(want, have):
    """The ordered (op, args) steps that turn `have` (read_actual) into `want` (Desired)."""
    steps = []
    add = lambda op, args: steps.append((op, args))  # noqa: E731

    # ---- removals, users first --------------------------------------------------------
    recreate_fips = set()
    for fid, f in have["floatingips"].items():
        w = want.floatingips.get(fid)
        if w is None or w["floating_ip_address"] != f["floating_ip_address"]:
            add("floatingip.delete", {"id": fid})
            recreate_fips.add(fid)
        elif _fip_target(w) != (f.get("port_id"), f.get("fixed_ip_address")) and f.get("port_id"):
            add("floatingip.disassociate", {"id": fid})

    ports = have["ports"]
    for rid, r in have["routers"].items():
        w = want.routers.get(rid)
        have_ifaces = {i["port_id"] for i in r.get("interfaces") or []}
        for pid in sorted(have_ifaces):
            wp = w["interfaces"].get(pid) if w else None
            hp = ports.get(pid, {})
            if (
                wp is None
                or wp["mac_address"] != hp.get("mac_address")
                or _ips(wp["fixed_ips"]) != _ips(hp.get("fixed_ips"))
            ):
                add("router.interface_remove", {"router": rid, "port": pid})
        gw = r.get("external_gateway_info")
        if gw:
            wg = w["gateway"] if w else None
            gw_ports = {i["port_id"] for i in gw.get("external_fixed_ips") or []}
            if wg is None or wg["network"] != gw["network_id"] or {wg["port_id"]} != gw_ports:
                add("router.gateway_clear", {"id": rid})
        if w is None:
            add("router.delete", {"id": rid})

    for pid, p in ports.items():
        if p.get("device_owner") in SERVED:
            continue
        w = want.ports.get(pid)
        if w is None or w["network"] != p["network_id"]:
            add("port.delete", {"id": pid})

    for sid, s in have["subnets"].items():
        w = want.subnets.get(sid)
        if w is None or w["cidr"] != s["cidr"] or w["network"] != s["network_id"]:
            add("subnet.delete", {"id": sid})
    for nid, n in have["networks"].items():
        w = want.networks.get(nid)
        if w is None or w.get("segmentation_id") != n.get("segmentation_id"):
            add("network.delete", {"id": nid})

    # ---- creations and updates, what is used first ------------------------------------
    for ip in sorted(want.peers - have["peers"]):
        add("tunnel_peer.create", {"remote_ip": ip})

    for gid, g in want.security_groups.items():
        if gid not in have["security_groups"]:
            add("security_group.create", g["args"])
    for gid, g in want.security_groups.items():
        existing = have["security_groups"].get(gid, {}).get("rules")
        if existing is None:
            # A new group starts with the appliance's default egress rule (as Neutron's).
            existing = [{"direction": "egress", "ethertype": "IPv4", "id": None}]
            fresh = True
        else:
            fresh = False
        have_keys = {}
        for rule in existing:
            have_keys.setdefault(dsr.rule_key(rule), []).append(rule.get("id"))
        for key, ids in have_keys.items():
            if key not in g["rules"]:
                if fresh:
                    steps.append(("security_group_rule.delete_default", {"security_group": gid}))
                else:
                    for rule_id in ids:
                        add("security_group_rule.delete", {"id": rule_id})
        for key in sorted(g["rules"] - set(have_keys), key=repr):
            add("security_group_rule.create", dsr.rule_args(gid, key))

    for nid, w in want.networks.items():
        n = have["networks"].get(nid)
        if n is None or w.get("segmentation_id") != n.get("segmentation_id"):
            add("network.create", w)
            continue
        ch = {}
        if w["name"] != (n.get("name") or ""):
            ch["name"] = w["name"]
        if w.get("mtu") and w["mtu"] != n.get("mtu"):
            ch["mtu"] = w["mtu"]
        if w["router_external"] != bool(n.get("router_external")):
            ch["router_external"] = w["router_external"]
        if ch:
            add("network.update", dict(id=nid, **ch))

    for sid, w in want.subnets.items():
        s = have["subnets"].get(sid)
        if s is None or w["cidr"] != s["cidr"] or w["network"] != s["network_id"]:
            add("subnet.create", w)
            continue
        ch = _subnet_changes(w, s)
        if ch:
            add("subnet.update", dict(id=sid, **ch))

    for pid, w in want.ports.items():
        p = ports.get(pid)
        if p is None or w["network"] != p["network_id"] or p.get("device_owner") in SERVED:
            add("port.create", w)
            continue
        ch = _port_changes(w, p)
        if ch:
            add("port.update", dict(id=pid, **ch))

    for rid, w in want.routers.items():
        r = have["routers"].get(rid)
        if r is None:
            add("router.create", w["args"])
        else:
            ch = {}
            if w["args"]["name"] != (r.get("name") or ""):
                ch["name"] = w["args"]["name"]
            routes = lambda rs: sorted((x["destination"], x["nexthop"]) for x in rs or [])  # noqa: E731
            if routes(w["args"]["routes"]) != routes(r.get("routes")):
                ch["routes"] = w["args"]["routes"]
            if ch:
                add("router.update", dict(id=rid, **ch))
        gw = (r or {}).get("external_gateway_info")
        wg = w["gateway"]
        if wg:
            gw_ports = {i["port_id"] for i in (gw or {}).get("external_fixed_ips") or []}
            if not gw or wg["network"] != gw["network_id"] or {wg["port_id"]} != gw_ports:
                add("router.gateway_set", wg)
            elif wg["enable_snat"] != gw.get("enable_snat"):
                add("router.gateway_set", {"router": rid, "network": wg["network"],
                                           "enable_snat": wg["enable_snat"]})
        have_ifaces = {i["port_id"] for i in (r or {}).get("interfaces") or []}
        for pid, wp in w["interfaces"].items():
            hp = ports.get(pid)
            same = (
                pid in have_ifaces
                and hp is not None
                and wp["mac_address"] == hp.get("mac_address")
                and _ips(wp["fixed_ips"]) == _ips(hp.get("fixed_ips"))
            )
            if same:
                continue
            gateway = [
                f["subnet_id"] for f in wp["fixed_ips"]
                if want.subnets.get(f["subnet_id"], {}).get("gateway_ip") == f["ip_address"]
            ]
            if len(wp["fixed_ips"]) == 1 and gateway:
                # The subnet's gateway address: only interface_add by subnet may take it.
                add("router.interface_add", {"router": rid, "subnet": gateway[0],
                                             "port_id": pid, "mac_address": wp["mac_address"]})
            else:
                add("port.create", wp)
                add("router.interface_add", {"router": rid, "port": pid})

    for fid, w in want.floatingips.items():
        f = have["floatingips"].get(fid)
        if f is None or fid in recreate_fips:
            add("floatingip.create", w)
        elif _fip_target(w) != (f.get("port_id"), f.get("fixed_ip_address")):
            args = {"id": fid, "port": w["port"]}
            if w.get("fixed_ip_address"):
                args["fixed_ip_address"] = w["fixed_ip_address"]
            add("floatingip.associate", args)

    # ---- what only the old state used, once nothing uses it --------------------------
    for gid in have["security_groups"]:
        if gid not in want.security_groups:
            add("security_group.delete", {"id": gid})
    for ip in sorted(have["peers"] - want.peers):
        add("tunnel_peer.delete", {"id": ip})
    return steps


def apply(ctl, steps):
    """Runs the steps; returns the ones the appliance refused, as (op, args, error)."""
    failed = []
    created_groups = {}
    for op, args in steps:
        try:
            if op == "security_group_rule.delete_default":
                # The default egress rule of a group just created: found by listing it.
                gid = args["security_group"]
                if gid not in created_groups:
                    created_groups[gid] = ctl.call("security_group_rule.list", {"security_group": gid})
                for rule in created_groups[gid] or []:
                    if dsr.rule_key(rule) == ("egress", "IPv4", None, None, None, None, None):
                        ctl.call("security_group_rule.delete", {"id": rule["id"]}, mutates=True)
                continue
            LOG.info("appliance: %s %s", op, args.get("id") or args.get("router") or args.get("remote_ip") or "")
            ctl.call(op, args, mutates=True)
        except ControlError as e:
            LOG.warning("appliance refused %s %s: %s", op, args, e)
            failed.append((op, args, str(e)))
    return failed
