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

import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))

# The names benches/neutron_scale.py uses through this module are imported here too.
from neutron_services import (  # noqa: E402
    AGENT_DOWN_TIME, Env, agents_alive, cli_agents_alive, create_seed, device, log,
    netns_has, require_tools, run, seed_in_appliance, show_has, wait_until)


# ---- checks -------------------------------------------------------------------------
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

    vm = create_seed(env, ids)

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
    require_tools("e2e_neutron")
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
