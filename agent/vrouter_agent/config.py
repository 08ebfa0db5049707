"""The agent's options, read from an .ini file in the style of Neutron's agents
(agent/etc/vrouter_agent.ini): [DEFAULT] transport_url, host, state_path (Neutron's common
options, oslo.messaging's), [agent] report_interval (Neutron's), and [vrouter] below."""

from oslo_config import cfg

VROUTER_OPTS = [
    cfg.StrOpt("socket", default="/run/vrouter/vrouter.sock",
               help="The appliance's control socket."),
    cfg.StrOpt("local_ip", required=True,
               help="This node's GRE tunnel endpoint (the appliance's underlay address), "
                    "reported as the Open vSwitch agent's tunneling_ip."),
    cfg.DictOpt("bridge_mappings", default={},
                help="physical_network:uplink pairs: the flat networks the appliance "
                     "carries on an external uplink (Neutron's bridge_mappings)."),
    cfg.IntOpt("resync_interval", default=30,
               help="Seconds between full reconciliations when nothing else asks for one."),
    cfg.IntOpt("router_page_size", default=64,
               help="Routers fetched per sync_routers call."),
    cfg.IntOpt("router_resync_interval", default=300,
               help="Seconds after which a sync fetches every router again, even while "
                    "notifications keep naming only some (a lost notification is caught "
                    "by then); a quiet resync_interval, a failure or a revived heartbeat "
                    "fetches them all at once."),
    cfg.FloatOpt("debounce", default=0.3,
                 help="Seconds notifications are gathered before one reconciliation."),
]


def register(conf):
    """Registers Neutron's common and agent options and the [vrouter] group."""
    from neutron.common import config as common_config
    from neutron.conf import service as service_conf
    from neutron.conf.agent import common as agent_conf

    common_config.register_common_config_options()
    # rpc_response_max_timeout: the ceiling up to which Neutron's RPC client doubles the
    # timeout of a call that timed out (a large sync_routers page on a busy server).
    service_conf.register_service_opts(service_conf.RPC_EXTRA_OPTS, conf)
    agent_conf.register_agent_state_opts_helper(conf)
    conf.register_opts(VROUTER_OPTS, "vrouter")
