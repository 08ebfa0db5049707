"""vrouter-neutron-agent: registers this node with Neutron as its L3 agent, DHCP agent and
Open vSwitch agent, using Neutron's own RPC client classes over oslo.messaging, and keeps
the appliance equal to what Neutron says this node serves.

Every notification (routers_updated, network/subnet/port events, tunnel and security group
updates) marks the state dirty; one loop then fetches Neutron's state for this node, diffs
it against the appliance's and applies the difference (reconcile.py). The same loop runs
at start, after the appliance, RabbitMQ or neutron-server came back (a revived heartbeat,
a control socket that broke), and every resync_interval seconds.
"""

import json
import os
import sys
import threading
import time

import eventlet

eventlet.monkey_patch()

import oslo_messaging  # noqa: E402
from neutron.agent import rpc as agent_rpc  # noqa: E402
from neutron.agent.dhcp.agent import DhcpPluginApi  # noqa: E402
from neutron.agent.l3.agent import L3PluginApi  # noqa: E402
from neutron.api.rpc.callbacks import resources  # noqa: E402
from neutron.api.rpc.handlers.securitygroups_rpc import SecurityGroupServerRpcApi  # noqa: E402
from neutron.common import config as common_config  # noqa: E402
from neutron_lib import constants as lib_const  # noqa: E402
from neutron_lib.agent import constants as agent_consts  # noqa: E402
from neutron_lib import context as n_context  # noqa: E402
from neutron_lib import rpc as n_rpc  # noqa: E402
from neutron_lib.agent import topics  # noqa: E402
from oslo_config import cfg  # noqa: E402
from oslo_log import log as logging  # noqa: E402

from . import config  # noqa: E402
from . import desired as dsr  # noqa: E402
from . import reconcile  # noqa: E402
from .control import Control, ControlError, Unreachable  # noqa: E402
from .router_cache import RouterCache, ids_of  # noqa: E402
from .rpc_count import count_requests  # noqa: E402

LOG = logging.getLogger(__name__)

# The Open vSwitch agent's tunnel notification topic (q-agent-notifier-tunnel-update).
TUNNEL = "tunnel"
ACTIVE = "ACTIVE"


class Agent:
    """The three agents of one node, sharing one reconciliation loop."""

    def __init__(self, conf):
        self.conf = conf
        self.host = conf.host
        self.local_ip = conf.vrouter.local_ip
        self.agent_id = "ovs-agent-%s" % self.host
        self.ctx = n_context.get_admin_context_without_session()
        self.l3 = L3PluginApi(topics.L3PLUGIN, self.host)
        self.dhcp = DhcpPluginApi(topics.PLUGIN, self.host)
        self.l2 = agent_rpc.PluginApi(topics.PLUGIN)
        self.sg = SecurityGroupServerRpcApi(topics.PLUGIN)
        self.state_rpc = agent_rpc.PluginReportStateAPI(topics.REPORTS)
        self.ctl = Control(conf.vrouter.socket)
        self.dirty = threading.Event()
        self.tunnels_stale = True
        self.endpoints = {}
        # sync_routers answers: a sync fetches only the routers notifications named.
        self.router_cache = RouterCache(max_age=conf.vrouter.router_resync_interval)
        # get_network_details by network id: provider attributes do not change, so a
        # network is fetched again only after a network_update/delete notification.
        self.net_details = {}
        # Port id -> revision_number last reported up / DHCP-ready: each port revision is
        # reported once (neutron-server retries dhcp_ready_on_ports of an unbound port for
        # 5 s inside the call, so reporting every sync would stall it).
        self.reported_up = {}
        self.reported_dhcp = {}
        self.counts = {"routers": 0, "networks": 0, "subnets": 0, "ports": 0,
                       "floating_ips": 0, "interfaces": 0, "ex_gw_ports": 0}
        self.stats = {"syncs": 0, "failed_syncs": 0, "control_requests": 0,
                      "control_changes": 0, "refused": 0}
        # RPC requests sent to neutron-server, by method (heartbeats included).
        self.rpc_requests = {}
        for api in (self.l3, self.dhcp, self.l2, self.sg, self.state_rpc):
            count_requests(api, self.rpc_requests)
        self.states = self._agent_states()

    # ---- heartbeats -----------------------------------------------------------------
    def _agent_states(self):
        phys = {net: uplink for net, uplink in self.conf.vrouter.bridge_mappings.items()}
        l3 = {
            "binary": lib_const.AGENT_PROCESS_L3,
            "host": self.host,
            "topic": topics.L3_AGENT,
            "agent_type": lib_const.AGENT_TYPE_L3,
            "start_flag": True,
            "configurations": {
                "agent_mode": "legacy",
                "handle_internal_only_routers": True,
                "interface_driver": "vrouter",
                "log_agent_heartbeats": False,
                "extensions": [],
            },
        }
        dhcp = {
            "binary": lib_const.AGENT_PROCESS_DHCP,
            "host": self.host,
            "topic": topics.DHCP_AGENT,
            "agent_type": lib_const.AGENT_TYPE_DHCP,
            "start_flag": True,
            "configurations": {
                "dhcp_driver": "vrouter",
                "dhcp_lease_duration": 86400,
                "log_agent_heartbeats": False,
            },
        }
        ovs = {
            "binary": "neutron-openvswitch-agent",
            "host": self.host,
            "topic": "N/A",
            "agent_type": lib_const.AGENT_TYPE_OVS,
            "start_flag": True,
            "resource_versions": resources.LOCAL_RESOURCE_VERSIONS,
            "configurations": {
                "bridge_mappings": phys,
                "tunnel_types": ["gre"],
                "tunneling_ip": self.local_ip,
                "l2_population": False,
                "arp_responder_enabled": False,
                "enable_distributed_routing": False,
                "integration_bridge": "br-int",
                "datapath_type": "netdev",
                "ovs_hybrid_plug": False,
                "log_agent_heartbeats": False,
                "extensions": [],
            },
        }
        return [l3, dhcp, ovs]

    def report_state(self):
        """One heartbeat of each agent; a revived agent resyncs everything."""
        c = self.counts
        self.states[0]["configurations"].update(
            routers=c["routers"], ex_gw_ports=c["ex_gw_ports"],
            interfaces=c["interfaces"], floating_ips=c["floating_ips"])
        self.states[1]["configurations"].update(
            networks=c["networks"], subnets=c["subnets"], ports=c["ports"])
        self.states[2]["configurations"]["devices"] = c["ports"] + c["interfaces"]
        for state in self.states:
            try:
                status = self.state_rpc.report_state(self.ctx, state, use_call=True)
            except Exception as e:  # any transport error: try again next interval
                LOG.warning("report_state %s failed: %s", state["agent_type"], e)
                continue
            state.pop("start_flag", None)
            if status == agent_consts.AGENT_REVIVED:
                LOG.info("%s revived: full resync", state["agent_type"])
                self.tunnels_stale = True
                self.network_changed(None, "revived")

    def heartbeat_loop(self):
        interval = self.conf.AGENT.report_interval or 30
        while True:
            try:
                self.report_state()
            except Exception:
                LOG.exception("report_state failed")
            time.sleep(interval)

    # ---- notifications --------------------------------------------------------------
    def request_sync(self, why):
        LOG.debug("sync requested: %s", why)
        self.dirty.set()

    def network_changed(self, net_id, why):
        """A network's attributes changed: fetch its details again on the next sync."""
        if net_id:
            self.net_details.pop(net_id, None)
        else:
            self.net_details.clear()
            self.router_cache.mark_all()
        self.request_sync(why)

    def routers_changed(self, routers, why):
        """The routers a notification names (every router when it names none) changed:
        fetch them on the next sync."""
        ids = ids_of(routers)
        if ids is None:
            self.router_cache.mark_all()
        else:
            self.router_cache.mark(ids)
        self.request_sync("%s %s" % (why, routers))

    def start_rpc(self):
        """Consumers of the L3 and DHCP notifications (per host) and of the L2 fanouts."""
        self.conn = n_rpc.Connection()
        l3 = L3Endpoint(self)
        dhcp = DhcpEndpoint(self)
        self.conn.create_consumer(topics.L3_AGENT, [l3], fanout=False)
        self.conn.create_consumer(topics.L3_AGENT, [l3], fanout=True)
        self.conn.create_consumer(topics.DHCP_AGENT, [dhcp], fanout=False)
        self.conn.create_consumer(topics.DHCP_AGENT, [dhcp], fanout=True)
        self.conn.consume_in_threads()
        consumers = [
            [topics.PORT, topics.UPDATE],
            [topics.PORT, topics.DELETE],
            [topics.NETWORK, topics.UPDATE],
            [topics.NETWORK, topics.DELETE],
            [topics.SECURITY_GROUP, topics.UPDATE],
            [TUNNEL, topics.UPDATE],
            [TUNNEL, topics.DELETE],
        ]
        self.l2_conn = agent_rpc.create_consumers([L2Endpoint(self)], topics.AGENT, consumers)

    # ---- fetching Neutron's state ---------------------------------------------------
    def _tunnel_sync(self):
        resp = self.l2.tunnel_sync(self.ctx, self.local_ip, "gre", self.host)
        self.endpoints = {t["host"]: t["ip_address"] for t in resp.get("tunnels", []) if t.get("host")}
        self.tunnels_stale = False

    def _routers(self):
        """The routers hosted here: those notifications named fetched again, or all."""
        asked = self.router_cache.take()
        try:
            ids = self.l3.get_router_ids(self.ctx) if asked is None else sorted(asked)
            page = self.conf.vrouter.router_page_size
            fetched = {}
            for i in range(0, len(ids), page):
                for r in self.l3.get_routers(self.ctx, router_ids=ids[i:i + page]) or []:
                    fetched[r["id"]] = r
        except Exception:
            self.router_cache.mark_all()
            raise
        self.router_cache.update(asked, fetched)
        return dict(self.router_cache.routers)

    def _network_info(self, net_id):
        cctxt = self.dhcp.client.prepare(version="1.1")
        return cctxt.call(self.dhcp.context, "get_network_info", network_id=net_id,
                          host=self.host, enable_dhcp=None)

    def _ensure_dhcp_port(self, info):
        """This node's DHCP port on a network that has DHCP-enabled IPv4 subnets."""
        subnets = [s for s in info.get("subnets") or []
                   if s.get("enable_dhcp") and s.get("ip_version", 4) == 4]
        if not subnets:
            return False
        device_id = dsr.dhcp_device_id(self.host, info["id"])
        for p in info.get("ports") or []:
            if p.get("device_owner") == dsr.DHCP and p.get("device_id") == device_id:
                return False
        reserved = [p for p in info.get("ports") or []
                    if p.get("device_owner") == dsr.DHCP
                    and p.get("device_id") == lib_const.DEVICE_ID_RESERVED_DHCP_PORT]
        body = {"device_id": device_id, "binding:host_id": self.host}
        if reserved:
            self.dhcp.update_dhcp_port(reserved[0]["id"], {"port": body})
        else:
            body.update(network_id=info["id"], device_owner=dsr.DHCP, admin_state_up=True,
                        tenant_id=info.get("tenant_id") or info.get("project_id"),
                        fixed_ips=[{"subnet_id": s["id"]} for s in subnets], name="")
            self.dhcp.create_dhcp_port({"port": body})
        return True

    def fetch(self):
        """Neutron's view of this node."""
        if self.tunnels_stale:
            self._tunnel_sync()
        view = dsr.NeutronView(host=self.host, local_ip=self.local_ip)
        view.routers = self._routers()
        active = self.dhcp.get_active_networks_info(enable_dhcp_filter=False) or []
        infos = {n["id"]: n for n in active}
        view.dhcp_networks = set(infos)
        wanted = set(infos)
        for r in view.routers.values():
            for p in r.get("_interfaces") or []:
                wanted.add(p["network_id"])
            if r.get("gw_port"):
                wanted.add(r["gw_port"]["network_id"])
        for net_id in sorted(wanted):
            details = self.net_details.get(net_id)
            if details is None:
                details = self.l2.get_network_details(self.ctx, net_id, self.agent_id, self.host)
            if not details:
                continue
            self.net_details[net_id] = details
            view.networks[net_id] = details
            info = infos.get(net_id) or self._network_info(net_id)
            if info is None:
                continue
            if net_id in view.dhcp_networks and self._ensure_dhcp_port(info):
                info = self._network_info(net_id)
            view.network_info[net_id] = info
        unknown_hosts = {
            p.get("binding:host_id") for info in view.network_info.values()
            for p in info.get("ports") or []
            if p.get("binding:host_id") and p.get("binding:host_id") not in self.endpoints
            and p.get("binding:host_id") != self.host
        }
        if unknown_hosts:
            self._tunnel_sync()
        for gone in set(self.net_details) - wanted:
            del self.net_details[gone]
        view.endpoints = dict(self.endpoints)
        devices = dsr.security_group_probes(view.network_info)
        view.sg_info = self.sg.security_group_info_for_devices(self.ctx, devices=devices) if devices else {}
        return view

    # ---- reporting back -------------------------------------------------------------
    def report_statuses(self, view, want, refused):
        """Ports served here ACTIVE (update_device_list), DHCP provisioned
        (dhcp_ready_on_ports), floating IPs ACTIVE (update_floatingip_statuses)."""
        bad = {args.get("id") or args.get("port") for _, args, _ in refused}
        up, dhcp_ready = [], []
        served = dsr.served_port_ids(want)
        for net_id, info in view.network_info.items():
            for p in info.get("ports") or []:
                pid = p["id"]
                if pid not in served or pid in bad or p.get("status") == ACTIVE:
                    continue
                rev = p.get("revision_number")
                host = p.get("binding:host_id")
                if host == self.host and self.reported_up.get(pid) != rev:
                    up.append((pid, rev))
                # Only a bound port can become ACTIVE; its DHCP entry is served now.
                if net_id in view.dhcp_networks and host and self.reported_dhcp.get(pid) != rev:
                    dhcp_ready.append((pid, rev))
        if up:
            self.l2.update_device_list(self.ctx, [pid for pid, _ in up], [], self.agent_id, self.host)
            self.reported_up.update(up)
        if dhcp_ready:
            self.dhcp.dhcp_ready_on_ports([pid for pid, _ in dhcp_ready])
            self.reported_dhcp.update(dhcp_ready)
        for rid, r in view.routers.items():
            statuses = {}
            for f in r.get("_floatingips") or []:
                status = ACTIVE if f["id"] in want.floatingips and f["id"] not in bad else "ERROR"
                if f.get("status") != status:
                    statuses[f["id"]] = status
            if statuses:
                self.l3.update_floatingip_statuses(self.ctx, rid, statuses)
                # The router stays cached until a notification names it: as reported.
                for f in r.get("_floatingips") or []:
                    f["status"] = statuses.get(f["id"], f.get("status"))

    # ---- the loop -------------------------------------------------------------------
    def sync(self):
        started = time.monotonic()
        view = self.fetch()
        fetched = time.monotonic()
        want = dsr.compute(view)
        have = reconcile.read_actual(self.ctl)
        steps = reconcile.plan(want, have)
        refused = reconcile.apply(self.ctl, steps)
        applied = time.monotonic()
        self.report_statuses(view, want, refused)
        # Where the syncs' time went, summed: fetching from Neutron, reading and changing
        # the appliance, reporting statuses to Neutron.
        for key, secs in (("fetch_seconds", fetched - started), ("appliance_seconds", applied - fetched),
                          ("report_seconds", time.monotonic() - applied)):
            self.stats[key] = round(self.stats.get(key, 0.0) + secs, 3)
        self.counts.update(
            routers=len(want.routers), networks=len(want.networks), subnets=len(want.subnets),
            ports=len(want.ports), floating_ips=len(want.floatingips),
            interfaces=sum(len(r["interfaces"]) for r in want.routers.values()),
            ex_gw_ports=sum(1 for r in want.routers.values() if r["gateway"]))
        self.stats["syncs"] += 1
        self.stats["refused"] = len(refused)
        self.stats["control_requests"] = self.ctl.requests
        self.stats["control_changes"] = self.ctl.mutations
        self.stats["last_sync_seconds"] = round(time.monotonic() - started, 3)
        self.stats["last_sync_changes"] = len(steps)
        self.stats["last_sync_at"] = time.time()
        self._write_status()
        LOG.info("sync: %d change(s), %d refused, %.2f s (Neutron %.2f s, appliance %.2f s)",
                 len(steps), len(refused), time.monotonic() - started,
                 fetched - started + time.monotonic() - applied, applied - fetched)
        return not refused

    def _write_status(self):
        path = os.path.join(self.conf.state_path, "vrouter-agent-status.json")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(dict(self.stats, counts=self.counts, rpc_requests=self.rpc_requests,
                           pid=os.getpid()), f)
        os.replace(tmp, path)

    def sync_loop(self):
        backoff = 1.0
        self.dirty.set()
        while True:
            if not self.dirty.wait(self.conf.vrouter.resync_interval):
                self.router_cache.mark_all()
            # Gather notifications for `debounce` s, and at least as long as the last sync
            # took: a storm of notifications costs neutron-server at most every other
            # moment, never back-to-back full fetches.
            time.sleep(max(self.conf.vrouter.debounce,
                           min(self.stats.get("last_sync_seconds", 0), 10.0)))
            self.dirty.clear()
            try:
                clean = self.sync()
                backoff = 1.0
                if not clean:
                    # Refused changes are retried on the next pass (an order the
                    # appliance refused once may pass once its dependencies are in).
                    time.sleep(backoff)
                    self.dirty.set()
            except (Unreachable, ControlError, oslo_messaging.MessagingException, OSError) as e:
                self.stats["failed_syncs"] += 1
                LOG.warning("sync failed (%s), retrying in %.0f s", e, backoff)
                self.ctl.close()
                self.router_cache.mark_all()
                time.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                self.dirty.set()
            except Exception:
                self.stats["failed_syncs"] += 1
                LOG.exception("sync failed, retrying")
                self.router_cache.mark_all()
                time.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                self.dirty.set()


class L3Endpoint:
    """The L3 agent's notifications (neutron.api.rpc.agentnotifiers.l3_rpc_agent_api)."""

    target = oslo_messaging.Target(version="1.4")

    def __init__(self, agent):
        self.agent = agent

    def routers_updated(self, context, routers=None, **kwargs):
        self.agent.routers_changed(routers, "routers_updated")

    def router_deleted(self, context, router_id=None, **kwargs):
        self.agent.routers_changed(router_id, "router_deleted")

    def router_added_to_agent(self, context, payload=None, **kwargs):
        self.agent.routers_changed(payload, "router_added_to_agent")

    def router_removed_from_agent(self, context, payload=None, **kwargs):
        self.agent.routers_changed(payload, "router_removed_from_agent")

    def fipnamespace_delete_on_ext_net(self, context, ext_net_id=None, **kwargs):
        self.agent.routers_changed(None, "fipnamespace_delete_on_ext_net")


class DhcpEndpoint:
    """The DHCP agent's notifications (dhcp_rpc_agent_api): every one means a resync."""

    target = oslo_messaging.Target(version="1.0")

    def __init__(self, agent):
        self.agent = agent

    def _event(name):  # noqa: N805 - builds methods
        def handler(self, context, payload=None, **kwargs):
            self.agent.request_sync(name)
        handler.__name__ = name
        return handler

    network_create_end = _event("network_create_end")
    network_delete_end = _event("network_delete_end")

    def network_update_end(self, context, payload=None, **kwargs):
        net = (payload or {}).get("network") or {}
        self.agent.network_changed(net.get("id"), "network_update_end")
    subnet_create_end = _event("subnet_create_end")
    subnet_update_end = _event("subnet_update_end")
    subnet_delete_end = _event("subnet_delete_end")
    port_create_end = _event("port_create_end")
    port_update_end = _event("port_update_end")
    port_delete_end = _event("port_delete_end")
    agent_updated = _event("agent_updated")


class L2Endpoint:
    """The Open vSwitch agent's fanout notifications and the security group updates."""

    target = oslo_messaging.Target(version="1.7")

    def __init__(self, agent):
        self.agent = agent

    def port_update(self, context, **kwargs):
        self.agent.request_sync("port_update")

    def port_delete(self, context, **kwargs):
        self.agent.request_sync("port_delete")

    def network_update(self, context, **kwargs):
        net = kwargs.get("network") or {}
        self.agent.network_changed(net.get("id"), "network_update")

    def network_delete(self, context, **kwargs):
        self.agent.network_changed(kwargs.get("network_id"), "network_delete")

    def tunnel_update(self, context, **kwargs):
        if kwargs.get("tunnel_ip") != self.agent.local_ip:
            self.agent.tunnels_stale = True
            self.agent.request_sync("tunnel_update")

    def tunnel_delete(self, context, **kwargs):
        self.agent.tunnels_stale = True
        self.agent.request_sync("tunnel_delete")

    def security_groups_rule_updated(self, context, **kwargs):
        self.agent.request_sync("security_groups_rule_updated")

    def security_groups_member_updated(self, context, **kwargs):
        self.agent.request_sync("security_groups_member_updated")

    def security_groups_provider_updated(self, context, **kwargs):
        self.agent.request_sync("security_groups_provider_updated")


def main(argv=None):
    config.register(cfg.CONF)
    common_config.init(sys.argv[1:] if argv is None else argv)
    common_config.setup_logging()
    agent = Agent(cfg.CONF)
    agent.start_rpc()
    eventlet.spawn(agent.heartbeat_loop)
    LOG.info("vrouter-neutron-agent on host %s: L3, DHCP and Open vSwitch agent", agent.host)
    agent.sync_loop()


if __name__ == "__main__":
    main()
