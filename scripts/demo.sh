#!/usr/bin/env bash
# Demo of the first slice: the appliance switches tenantA-Net between two local VMs and
# carries its broadcasts over GRE (key 0x2) to compute1.
#
#   vm001 (10.0.0.10) ── tap ──┐
#                              ├── vrouter ── tap (eth1, 10.0.1.21) ── compute1 (10.0.1.31)
#   vm002 (10.0.0.9)  ── tap ──┘
#
# Run as root from the repository root after `cargo build --release` (`make demo`).
# Everything it creates (namespaces, taps, the appliance, DPDK runtime files) is removed on
# exit, also on failure.
set -euo pipefail

BIN=${VROUTER:-target/release/vrouter}
PREFIX=vrdemo-$$
RUN=$(mktemp -d /tmp/vrouter-demo.XXXXXX)   # log, state (fresh: no earlier run's), socket
LOG=$RUN/vrouter.log
NAMESPACES=(vm001 vm002 compute1)
VR_PID=

section() { printf '\n\033[1m=== %s ===\033[0m\n' "$*"; }
fail() { echo "demo: $*" >&2; exit 1; }

cleanup() {
    local rc=$?
    if [[ -n $VR_PID ]] && kill -0 "$VR_PID" 2>/dev/null; then
        kill -TERM "$VR_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$VR_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$VR_PID" 2>/dev/null || true
        if [[ $rc -ne 0 ]]; then echo "--- appliance output ---"; cat "$LOG"; fi
    fi
    for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "/var/run/dpdk/$PREFIX" "$RUN"
    exit "$rc"
}
trap cleanup EXIT

[[ $EUID -eq 0 ]] || fail "run me as root (network namespaces, DPDK taps)"
[[ -x $BIN ]] || fail "$BIN not found: run cargo build --release first"
for tool in ip tcpdump busybox ping; do
    command -v "$tool" >/dev/null || fail "$tool is missing (apt-get install -y iproute2 tcpdump busybox iputils-ping)"
done

section "The derived view: vrouter --check (configs/tenant-a.toml, embedded)"
"$BIN" --check

section "Starting the appliance: eth1 and both VM ports on net_tap devices"
for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
"$BIN" --state-dir "$RUN/state" --socket "$RUN/vrouter.sock" \
    --devargs eth1=net_tap0,iface=vd-eth1 \
    --devargs tapd7233b80-9d=net_tap1,iface=vd-vm001 \
    --devargs tap1653ec91-ad=net_tap2,iface=vd-vm002 \
    --devargs eth2=net_null0,no-rx=1 \
    --eal "--no-huge -m 512 --no-pci --file-prefix $PREFIX -l 0 --log-level=*:warning" \
    >"$LOG" 2>&1 &
VR_PID=$!
for _ in $(seq 300); do
    grep -q 'vrouter: ready' "$LOG" && break
    kill -0 "$VR_PID" 2>/dev/null || { cat "$LOG"; fail "the appliance exited"; }
    sleep 0.1
done
grep -q 'vrouter: ready' "$LOG" || { cat "$LOG"; fail "the appliance is not ready after 30 s"; }
grep 'vrouter: ready' "$LOG"

section "Namespaces: vm001 and vm002 on their ports, compute1 on the underlay (eth1)"
# name  tap       MAC                address
while read -r ns tap mac addr; do
    ip netns add "$ns"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip link set "$tap" netns "$ns"
    ip -n "$ns" link set "$tap" address "$mac"
    ip -n "$ns" addr add "$addr" dev "$tap"
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "$tap" up
    printf '  %-9s %-9s %s %s\n' "$ns" "$tap" "$mac" "$addr"
done <<'EOF'
vm001    vd-vm001 fa:16:3e:75:e0:5a 10.0.0.10/24
vm002    vd-vm002 fa:16:3e:51:a2:97 10.0.0.9/24
compute1 vd-eth1  52:54:00:00:01:31 10.0.1.31/24
EOF

section "vm001 pings vm002 (same network, switched by the appliance)"
ip netns exec vm001 ping -c 3 -i 0.2 10.0.0.9

section "A broadcast from vm001 (ARP who-has 10.0.0.77) arrives at compute1 in GRE key 0x2"
# GRE (IP protocol 47) whose inner Ethernet frame (after IPv4 20 + GRE with key 8 bytes)
# goes from fa:16:3e:75:e0:5a to ff:ff:ff:ff:ff:ff. Other floods (the IPv6 reports the
# taps sent before they were moved into their namespaces, the router's gratuitous ARP)
# would only distract here.
ip netns exec compute1 timeout 4 tcpdump -l -e -n -v -i vd-eth1 -c 2 \
    'ip proto 47 and ip[28:4] = 0xffffffff and ip[32:2] = 0xffff
     and ip[34:4] = 0xfa163e75 and ip[38:2] = 0xe05a' 2>/dev/null &
DUMP_PID=$!
sleep 1
ip netns exec vm001 busybox arping -c 2 -w 2 -I vd-vm001 10.0.0.77 >/dev/null || true
wait "$DUMP_PID" || true

section "SIGTERM: the appliance stops and prints its counters and MAC table"
kill -TERM "$VR_PID"
wait "$VR_PID" || fail "the appliance exited with status $?"
VR_PID=
sed -n '/vrouter: ready/,$p' "$LOG" | tail -n +2

section "Done: namespaces, taps and DPDK files are removed on exit"
