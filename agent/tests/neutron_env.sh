#!/usr/bin/env bash
# A throwaway Neutron control plane on loopback for the agent's tests: MariaDB, RabbitMQ and
# neutron-server (ML2/OVS with GRE, the L3 router plugin, no keystone), each started by hand
# (no init system) with its data under one directory and stopped by its own PID.
#
#   agent/tests/neutron_env.sh install          apt-get the packages that are missing
#   agent/tests/neutron_env.sh start DIR        start all three (DIR is created), wait until each answers
#   agent/tests/neutron_env.sh stop DIR         stop what DIR/*.pid name
#   agent/tests/neutron_env.sh start-one|stop-one DIR mariadb|rabbitmq|neutron-server
#
# Ports (loopback only): MYSQL_PORT (13306), AMQP_PORT (15672), EPMD_PORT (14369),
# DIST_PORT (25673), NEUTRON_PORT (9696). After `start`, DIR/env holds TRANSPORT_URL and
# OS_ENDPOINT for the agent and the `openstack` CLI.
set -euo pipefail

PACKAGES=(mariadb-server rabbitmq-server neutron-server python3-neutron python3-neutron-lib
    python3-openstackclient python3-pymysql)

MYSQL_PORT=${MYSQL_PORT:-13306}
AMQP_PORT=${AMQP_PORT:-15672}
EPMD_PORT=${EPMD_PORT:-14369}
DIST_PORT=${DIST_PORT:-25673}
NEUTRON_PORT=${NEUTRON_PORT:-9696}
# Seconds without a heartbeat before neutron-server says an agent is dead (default 75).
AGENT_DOWN_TIME=${AGENT_DOWN_TIME:-20}

die() { echo "neutron_env: $*" >&2; exit 1; }

# Polls `cmd` every 0.5 s until it succeeds or `secs` pass.
wait_for() {
    local what=$1 secs=$2
    shift 2
    local end=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $end ] || die "$what did not come up within ${secs}s (log: $LOG)"
        sleep 0.5
    done
}

install() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed$' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "neutron_env: installing ${missing[*]}"
    apt-get update
    # The packages' init scripts cannot start anything here (no init system): harmless.
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_mariadb() {
    local d=$DIR/mariadb
    LOG=$DIR/mariadb.log
    if [ ! -d "$d/data/mysql" ]; then
        mkdir -p "$d/data"
        mariadb-install-db --no-defaults --datadir="$d/data" --user=root \
            --auth-root-authentication-method=normal >"$DIR/mariadb-install.log" 2>&1 ||
            die "mariadb-install-db failed (log: $DIR/mariadb-install.log)"
    fi
    # Loopback only and no grant tables: nothing but this machine's tests can reach it.
    /usr/sbin/mariadbd --no-defaults --datadir="$d/data" --user=root \
        --bind-address=127.0.0.1 --port="$MYSQL_PORT" --socket="$d/mysqld.sock" \
        --pid-file="$d/mysqld.pid" --skip-grant-tables --skip-name-resolve \
        --innodb-buffer-pool-size=64M --max-connections=500 >"$LOG" 2>&1 &
    echo $! >"$DIR/mariadb.pid"
    wait_for mariadb 60 /usr/bin/python3 -c "import pymysql; pymysql.connect(host='127.0.0.1', port=$MYSQL_PORT, user='root')"
}

start_rabbitmq() {
    LOG=$DIR/rabbitmq.log
    mkdir -p "$DIR/rabbitmq/mnesia" "$DIR/rabbitmq/log"
    # HOME holds the Erlang cookie; every address and port on loopback.
    env HOME="$DIR/rabbitmq" RABBITMQ_NODENAME=vrouter-test@localhost \
        RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$AMQP_PORT" \
        RABBITMQ_DIST_PORT="$DIST_PORT" ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT="$EPMD_PORT" \
        RABBITMQ_MNESIA_BASE="$DIR/rabbitmq/mnesia" RABBITMQ_LOG_BASE="$DIR/rabbitmq/log" \
        RABBITMQ_ENABLED_PLUGINS_FILE="$DIR/rabbitmq/enabled_plugins" \
        RABBITMQ_CONFIG_FILE="$DIR/rabbitmq/none" RABBITMQ_ADVANCED_CONFIG_FILE="$DIR/rabbitmq/none.config" \
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
        /usr/lib/rabbitmq/bin/rabbitmq-server >"$LOG" 2>&1 &
    echo $! >"$DIR/rabbitmq.pid"
    wait_for rabbitmq 90 /usr/bin/python3 -c "
import socket
s = socket.create_connection(('127.0.0.1', $AMQP_PORT), 1)
s.sendall(b'AMQP\x00\x00\x09\x01')
assert s.recv(8)[:1] == b'\x01'"
}

write_neutron_conf() {
    local d=$DIR/neutron
    mkdir -p "$d/state" "$d/lock"
    cat >"$d/neutron.conf" <<EOF
[DEFAULT]
core_plugin = ml2
service_plugins = router
auth_strategy = noauth
bind_host = 127.0.0.1
bind_port = $NEUTRON_PORT
state_path = $d/state
transport_url = rabbit://guest:guest@127.0.0.1:$AMQP_PORT/
control_exchange = neutron
api_workers = 1
rpc_workers = 1
rpc_state_report_workers = 1
agent_down_time = $AGENT_DOWN_TIME
allow_overlapping_ips = true
router_scheduler_driver = neutron.scheduler.l3_agent_scheduler.ChanceScheduler
router_auto_schedule = true
network_auto_schedule = true
dhcp_agents_per_network = 1
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
use_stderr = true
debug = false

[database]
connection = mysql+pymysql://root@127.0.0.1:$MYSQL_PORT/neutron

[oslo_concurrency]
lock_path = $d/lock

[agent]
report_interval = 5

[ml2]
type_drivers = flat,gre
tenant_network_types = gre
mechanism_drivers = openvswitch
extension_drivers = port_security

[ml2_type_flat]
flat_networks = *

[ml2_type_gre]
tunnel_id_ranges = 1:4000

[securitygroup]
enable_security_group = true

# No quotas: the scale benchmark creates more than the defaults allow.
[quotas]
quota_network = -1
quota_subnet = -1
quota_port = -1
quota_router = -1
quota_floatingip = -1
quota_security_group = -1
quota_security_group_rule = -1
EOF
}

start_neutron() {
    local d=$DIR/neutron
    LOG=$DIR/neutron-server.log
    write_neutron_conf
    if [ ! -f "$d/migrated" ]; then
        /usr/bin/python3 -c "
import pymysql
c = pymysql.connect(host='127.0.0.1', port=$MYSQL_PORT, user='root')
c.cursor().execute('CREATE DATABASE IF NOT EXISTS neutron')"
        neutron-db-manage --config-file "$d/neutron.conf" upgrade heads \
            >"$DIR/neutron-db-manage.log" 2>&1 ||
            die "neutron-db-manage failed (log: $DIR/neutron-db-manage.log)"
        touch "$d/migrated"
    fi
    neutron-server --config-file "$d/neutron.conf" >"$LOG" 2>&1 &
    echo $! >"$DIR/neutron-server.pid"
    wait_for neutron-server 90 /usr/bin/python3 -c "
import urllib.request
urllib.request.urlopen('http://127.0.0.1:$NEUTRON_PORT/v2.0/networks', timeout=2).read()"
}

write_env() {
    cat >"$DIR/env" <<EOF
TRANSPORT_URL=rabbit://guest:guest@127.0.0.1:$AMQP_PORT/
OS_ENDPOINT=http://127.0.0.1:$NEUTRON_PORT
EOF
}

# Stops the process DIR/NAME.pid names (SIGTERM, SIGKILL after 20 s) and its children.
stop_one() {
    local pidfile=$DIR/$1.pid
    [ -f "$pidfile" ] || return 0
    local pid
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        local kids
        kids=$(pgrep -P "$pid" || true)
        kill -TERM "$pid" $kids 2>/dev/null || true
        local end=$((SECONDS + 20))
        while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.2; done
        kill -KILL "$pid" $kids 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

# RabbitMQ's launcher leaves the Erlang VM and epmd running: stop them by the node's pid.
stop_rabbitmq() {
    local pid
    if [ -f "$DIR/rabbitmq.pid" ]; then
        pid=$(cat "$DIR/rabbitmq.pid")
        local tree
        tree=$(pgrep -P "$pid" || true)
        for t in $tree; do tree="$tree $(pgrep -P "$t" || true)"; done
        kill -TERM "$pid" $tree 2>/dev/null || true
        local end=$((SECONDS + 20))
        while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.2; done
        kill -KILL "$pid" $tree 2>/dev/null || true
        rm -f "$DIR/rabbitmq.pid"
    fi
    # epmd on our own port only (started by this node, detached).
    for e in $(pgrep -x epmd || true); do
        if tr '\0' '\n' <"/proc/$e/environ" 2>/dev/null | grep -qx "ERL_EPMD_PORT=$EPMD_PORT"; then
            kill -TERM "$e" 2>/dev/null || true
        fi
    done
}

cmd=${1:-}
case "$cmd" in
install) install ;;
start)
    DIR=${2:?DIR}
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd)
    alive "$DIR/mariadb.pid" || start_mariadb
    alive "$DIR/rabbitmq.pid" || start_rabbitmq
    alive "$DIR/neutron-server.pid" || start_neutron
    write_env
    echo "neutron_env: up in $DIR"
    ;;
start-one)
    DIR=$(cd "${2:?DIR}" && pwd)
    case "${3:?service}" in
    mariadb) start_mariadb ;;
    rabbitmq) start_rabbitmq ;;
    neutron-server) start_neutron ;;
    *) die "unknown service $3" ;;
    esac
    ;;
stop-one)
    DIR=$(cd "${2:?DIR}" && pwd)
    case "${3:?service}" in
    rabbitmq) stop_rabbitmq ;;
    *) stop_one "$3" ;;
    esac
    ;;
stop)
    DIR=$(cd "${2:?DIR}" && pwd)
    stop_one neutron-server
    stop_rabbitmq
    stop_one mariadb
    ;;
*) die "usage: $0 install | start DIR | stop DIR | start-one|stop-one DIR SERVICE" ;;
esac
