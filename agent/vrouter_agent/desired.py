"""What the appliance should hold, computed from what Neutron's RPC returned (pure functions:
no I/O). Every resource keeps Neutron's id, so the appliance derives the device and namespace
names Neutron's own agents would have made (qr-/qg-/tap + 11 characters of the port id,
qrouter-<router id>, qdhcp-<network id>, gre-<peer IP in hex>).

The appliance is IPv4 only: IPv6 subnets, addresses and rules are left out.
"""

import ipaddress
from dataclasses import dataclass, field

DHCP = "network:dhcp"
ROUTER_INTERFACE = "network:router_interface"
ROUTER_GATEWAY = "network:router_gateway"
FLOATINGIP = "network:floatingip"


@dataclass
class NeutronView:
    """Neutron's state as this node's agents fetched it."""

    host: str
    local_ip: str
    # Routers hosted here (sync_routers), by id.
    routers: dict = field(default_factory=dict)
    # Network details (get_network_details: provider attributes), by id.
    networks: dict = field(default_factory=dict)
    # get_network_info of each network: its subnets and ports, by network id.
    network_info: dict = field(default_factory=dict)
    # Networks the DHCP agent serves here.
    dhcp_networks: set = field(default_factory=set)
    # security_group_info_for_devices of the VM ports.
    sg_info: dict = field(default_factory=dict)
    # Tunnel endpoints: host -> IP (tunnel_sync), this node's included.
    endpoints: dict = field(default_factory=dict)


@dataclass
class Desired:
    """The appliance's resources in the shape of the control API's create arguments."""

    networks: dict = field(default_factory=dict)
    subnets: dict = field(default_factory=dict)
    # id -> {"args": security_group.create args, "rules": set of rule keys}
    security_groups: dict = field(default_factory=dict)
    # Ports the appliance holds as such (VM ports, DHCP ports), id -> port.create args.
    ports: dict = field(default_factory=dict)
    # id -> {"args": router.create args, "gateway": gateway_set args or None,
    #        "interfaces": {port id: port.create args}}
    routers: dict = field(default_factory=dict)
    # id -> floatingip.create args
    floatingips: dict = field(default_factory=dict)
    peers: set = field(default_factory=set)


def dhcp_device_id(host, network_id):
    """The device_id of the DHCP port of `host` on a network, as Neutron's DHCP agent names it
    (neutron.common.utils.get_dhcp_agent_device_id)."""
    import uuid

    local = host.split(".")[0]
    return "dhcp%s-%s" % (uuid.uuid5(uuid.NAMESPACE_DNS, local), network_id)


def is_v4(addr):
    """True for an IPv4 address or prefix."""
    try:
        return ipaddress.ip_network(addr, strict=False).version == 4
    except ValueError:
        return False


def rule_key(rule):
    """A security group rule (Neutron's RPC form or the appliance's) as a comparable tuple."""
    prefix = rule.get("remote_ip_prefix") or rule.get("source_ip_prefix") or rule.get("dest_ip_prefix")
    proto = rule.get("protocol")
    return (
        rule.get("direction"),
        rule.get("ethertype") or "IPv4",
        None if proto is None else str(proto),
        rule.get("port_range_min"),
        rule.get("port_range_max"),
        prefix,
        rule.get("remote_group_id"),
    )


def rule_args(group_id, key):
    """security_group_rule.create arguments from a rule key."""
    direction, ethertype, proto, pmin, pmax, prefix, remote = key
    args = {"security_group": group_id, "direction": direction, "ethertype": ethertype}
    for name, value in [
        ("protocol", proto),
        ("port_range_min", pmin),
        ("port_range_max", pmax),
        ("remote_ip_prefix", prefix),
        ("remote_group", remote),
    ]:
        if value is not None:
            args[name] = value
    return args


def network_args(net):
    """network.create arguments from Neutron's network (provider attributes)."""
    args = {
        "id": net["id"],
        "name": net.get("name") or "",
        "router_external": bool(net.get("router:external")),
    }
    tenant = net.get("project_id") or net.get("tenant_id")
    if tenant:
        args["tenant_id"] = tenant
    if net.get("provider:network_type") == "gre":
        args["segmentation_id"] = int(net["provider:segmentation_id"])
    if net.get("mtu"):
        args["mtu"] = int(net["mtu"])
    return args


def subnet_args(s):
    """subnet.create arguments from Neutron's subnet."""
    args = {
        "id": s["id"],
        "name": s.get("name") or "",
        "network": s["network_id"],
        "cidr": s["cidr"],
        "enable_dhcp": bool(s.get("enable_dhcp")),
        "allocation_pools": [
            {"start": p["start"], "end": p["end"]} for p in s.get("allocation_pools") or []
        ],
        "dns_nameservers": [d for d in s.get("dns_nameservers") or [] if is_v4(d)],
        "host_routes": [
            {"destination": r["destination"], "nexthop": r["nexthop"]}
            for r in s.get("host_routes") or []
        ],
    }
    if s.get("gateway_ip"):
        args["gateway_ip"] = s["gateway_ip"]
    else:
        args["no_gateway"] = True
    return args


def fixed_ips(port, subnets):
    """A port's IPv4 fixed IPs on the subnets the appliance holds."""
    return [
        {"subnet_id": f["subnet_id"], "ip_address": f["ip_address"]}
        for f in port.get("fixed_ips") or []
        if f["subnet_id"] in subnets and is_v4(f["ip_address"])
    ]


def port_args(port, view, subnets):
    """port.create arguments for a VM port or this node's DHCP port."""
    owner = port.get("device_owner") or ""
    served = owner.startswith("network:")
    security = bool(port.get("port_security_enabled", True)) and not served
    args = {
        "id": port["id"],
        "network": port["network_id"],
        "mac_address": port["mac_address"],
        "fixed_ips": fixed_ips(port, subnets),
        "device_owner": owner,
        "device_id": port.get("device_id") or "",
        "port_security_enabled": security,
        "security_groups": sorted(port.get("security_groups") or []) if security else [],
        "allowed_address_pairs": sorted(
            (
                {"ip_address": p["ip_address"], "mac_address": p.get("mac_address")}
                for p in port.get("allowed_address_pairs") or []
                if is_v4(p["ip_address"])
            ),
            key=lambda p: (p["ip_address"], p["mac_address"] or ""),
        ),
    }
    if port.get("name"):
        args["name"] = port["name"]
    host = port.get("binding:host_id")
    peer = view.endpoints.get(host) if host else None
    if peer and peer != view.local_ip:
        args["binding"] = {"peer": peer}
    return args


def _interface_port(port, subnets):
    """port.create arguments of a router interface before router.interface_add takes it."""
    return {
        "id": port["id"],
        "network": port["network_id"],
        "mac_address": port["mac_address"],
        "fixed_ips": fixed_ips(port, subnets),
        "port_security_enabled": False,
    }


def compute(view):
    """The appliance's desired state from Neutron's view of this node."""
    d = Desired()
    for net_id, net in view.networks.items():
        if net.get("provider:network_type") not in ("gre", "flat"):
            continue
        d.networks[net_id] = network_args(net)
    for net_id, info in view.network_info.items():
        if net_id not in d.networks:
            continue
        for s in info.get("subnets") or []:
            if s.get("ip_version", 4) == 4:
                d.subnets[s["id"]] = subnet_args(s)
    subnets = set(d.subnets)

    fip_ports = {}
    for net_id, info in view.network_info.items():
        if net_id not in d.networks:
            continue
        for p in info.get("ports") or []:
            owner = p.get("device_owner") or ""
            if owner == FLOATINGIP:
                fip_ports[p.get("device_id")] = p
                continue
            if owner == DHCP:
                if net_id in view.dhcp_networks and p.get("device_id") == dhcp_device_id(
                    view.host, net_id
                ):
                    d.ports[p["id"]] = port_args(p, view, subnets)
                continue
            if owner.startswith("network:"):
                # Router ports are the routers' (below); other agents' ports are not ours.
                continue
            if p.get("fixed_ips") and not fixed_ips(p, subnets):
                continue  # IPv6 only
            d.ports[p["id"]] = port_args(p, view, subnets)

    for r_id, r in view.routers.items():
        entry = {
            "args": {
                "id": r_id,
                "name": r.get("name") or "",
                "routes": [
                    {"destination": x["destination"], "nexthop": x["nexthop"]}
                    for x in r.get("routes") or []
                    if is_v4(x["destination"])
                ],
            },
            "gateway": None,
            "interfaces": {},
        }
        gw = r.get("gw_port")
        info = r.get("external_gateway_info")
        if gw and info and gw["network_id"] in d.networks:
            entry["gateway"] = {
                "router": r_id,
                "network": gw["network_id"],
                "enable_snat": bool(info.get("enable_snat", True)),
                "port_id": gw["id"],
                "mac_address": gw["mac_address"],
                "fixed_ips": fixed_ips(gw, subnets),
            }
        for p in r.get("_interfaces") or []:
            if p["network_id"] in d.networks and fixed_ips(p, subnets):
                entry["interfaces"][p["id"]] = _interface_port(p, subnets)
        d.routers[r_id] = entry
        if entry["gateway"] is None:
            continue
        for f in r.get("_floatingips") or []:
            if not f.get("port_id") or f["port_id"] not in d.ports:
                continue
            args = {
                "id": f["id"],
                "floating_network": f["floating_network_id"],
                "floating_ip_address": f["floating_ip_address"],
                "port": f["port_id"],
                "fixed_ip_address": f.get("fixed_ip_address"),
            }
            holder = fip_ports.get(f["id"])
            if holder:
                args["fip_port_id"] = holder["id"]
                args["fip_mac_address"] = holder["mac_address"]
            d.floatingips[f["id"]] = args

    groups = (view.sg_info or {}).get("security_groups") or {}
    wanted = {g for p in d.ports.values() for g in p["security_groups"]}
    for g in wanted:
        rules = {rule_key(x) for x in groups.get(g, []) if (x.get("ethertype") or "IPv4") == "IPv4"}
        wanted_remote = {k[6] for k in rules if k[6]}
        d.security_groups[g] = {"args": {"id": g, "name": g}, "rules": rules}
        for remote in wanted_remote - set(d.security_groups):
            d.security_groups.setdefault(remote, {"args": {"id": remote, "name": remote}, "rules": set()})

    d.peers = {ip for host, ip in view.endpoints.items() if ip != view.local_ip}
    return d


def security_group_probes(network_info):
    """The VM ports to ask security_group_info_for_devices about: one per security group
    of the VM ports in `network_info` (get_network_info answers by network id). Its answer
    holds the rules of each group of the ports asked about, which is all compute() reads;
    asking about every port would make neutron-server load and send each of them."""
    probe = {}
    for info in network_info.values():
        for p in info.get("ports") or []:
            if (p.get("device_owner") or "").startswith("compute:"):
                for g in p.get("security_groups") or []:
                    probe.setdefault(g, p["id"])
    return sorted(set(probe.values()))


def served_port_ids(want):
    """The ids of every port the appliance serves in `want` (a Desired): its ports, the
    routers' interfaces and gateways."""
    ids = set(want.ports)
    for r in want.routers.values():
        ids.update(r["interfaces"])
        if r["gateway"]:
            ids.add(r["gateway"]["port_id"])
    return ids
