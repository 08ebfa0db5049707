#!/usr/bin/env bash
# Throughput of the appliance next to dpdk-testpmd io forwarding, on the same devices and
# traffic: net_pcap infinite replay in, net_null out, one forwarding core (lcore 1), the
# main lcore on core 0. Prints one table: path x flows -> Mpps, cycles/packet, ratio.
#
# usage: benches/run.sh [PATH:FLOWS ...]    (default: gre-l2:1 gre-l2:1000 gre-l2:100000 l2:1000)
#   gre-l2: GRE key 2 from compute1 -> decap -> MAC lookup -> vm002's port (P1)
#   l2    : vm001's port -> MAC lookup -> vm002's port (raw frames)
# env: SECS=10 (measured) WARMUP=3 (discarded) BENCH_WORK=/tmp/vrouter-bench
# Hugepages are set up when possible (512 x 2 MiB); otherwise it runs --no-huge and says so.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=${PEERS_DIR:-$ROOT/../shared/peers}
WORK=${BENCH_WORK:-/tmp/vrouter-bench}
SECS=${SECS:-10}; WARMUP=${WARMUP:-3}
BIN=$ROOT/target/release/vrouter
MBUFS=163840
[ $# -gt 0 ] || set -- gre-l2:1 gre-l2:1000 gre-l2:100000 l2:1000
mkdir -p "$WORK/logs"

[ -x "$BIN" ] || (cd "$ROOT" && cargo build --release --bin vrouter)
if [ ! -f "$WORK/pcap/gre-l2_1000f.pcap" ]; then
    [ -f "$PEERS/gen_traffic.py" ] || { echo "bench: $PEERS/gen_traffic.py not found (set PEERS_DIR)" >&2; exit 1; }
    /usr/bin/python3 "$PEERS/gen_traffic.py" --out "$WORK/pcap" >/dev/null
fi

# Hugepages: touching packet data is 2.5-3x slower without them.
HP=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
if [ -w "$HP" ] && [ "$(cat "$HP")" -lt 512 ]; then echo 512 > "$HP" 2>/dev/null || true; fi
mountpoint -q /dev/hugepages || mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null || true
FREE=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
if [ "${FREE:-0}" -ge 400 ]; then MEM="--in-memory"; MODE=hugepages; else MEM="--no-huge -m 2048"; MODE=no-huge; fi

# Mean Tx-pps of testpmd's port 1 (net_null) after the warm-up samples.
testpmd_mpps() {
    local pcap=$1 log=$2
    timeout -s INT $((SECS + WARMUP + 3)) dpdk-testpmd -l 0,1 --main-lcore 0 $MEM --no-pci \
        --file-prefix "vrb-tp-$$" --vdev="net_pcap0,rx_pcap=$pcap,infinite_rx=1" \
        --vdev=net_null0,no-rx=1 -- --forward-mode=io --port-topology=paired --nb-cores=1 \
        --rxq=1 --txq=1 --total-num-mbufs=$MBUFS --stats-period=1 >"$log" 2>&1 || true
    awk -v skip="$WARMUP" '/NIC statistics for port/ { port = $(NF-1) }
        /Tx-pps:/ && port == 1 { k++; if (k > skip) { s += $2; c++ } }
        END { if (c) printf "%.2f", s / c / 1e6; else print "ERR" }' "$log"
}

# The appliance's sink-port rate from its counter lines: (tx_last - tx_first) / (t_last - t_first).
vrouter_mpps() {
    local src=$1 sink=$2 pcap=$3 log=$4 other
    other=$([ "$src" = eth1 ] && echo tapd7233b80-9d || echo eth1)
    timeout -s INT $((SECS + WARMUP + 3)) "$BIN" --busy-poll --mbufs $MBUFS --stats-interval 1 \
        --reset --state-dir "$WORK/state" --socket "$WORK/vrouter.sock" \
        --eal "-l 0,1 --main-lcore 0 $MEM --no-pci --file-prefix vrb-vr-$$ --log-level *:warning" \
        --devargs "$src=net_pcap0,rx_pcap=$pcap,infinite_rx=1" \
        --devargs "$sink=net_null0,no-rx=1" --devargs "$other=net_null1,no-rx=1" \
        --devargs "eth2=net_null2,no-rx=1" >"$log" 2>&1 || true
    awk -v skip="$WARMUP" -v sink="$sink" '
        /^vrouter: t=/ { k++; t = substr($2, 3) + 0
            for (i = 3; i <= NF; i++) if ($i == sink) { split($(i + 2), a, "="); tx = a[2] }
            if (k == skip + 1) { t0 = t; tx0 = tx } }
        END { if (k > skip + 1 && t > t0) printf "%.2f", (tx - tx0) / (t - t0) / 1e6; else print "ERR" }' "$log"
}

echo "vrouter vs dpdk-testpmd io, 1 forwarding core, $MODE, ${SECS}s after ${WARMUP}s warm-up"
echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
printf "%-8s %7s %12s %10s %14s %8s\n" path flows vrouter_Mpps cyc/pkt testpmd_Mpps ratio
for run in "$@"; do
    path=${run%%:*}; flows=${run##*:}
    case $path in
        gre-l2) pcap=$WORK/pcap/gre-l2_${flows}f.pcap; src=eth1 ;;
        l2) pcap=$WORK/pcap/raw_${flows}f.pcap; src=tapd7233b80-9d ;;
        *) echo "bench: unknown path $path" >&2; exit 1 ;;
    esac
    [ -f "$pcap" ] || { echo "bench: $pcap missing" >&2; exit 1; }
    tp=$(testpmd_mpps "$pcap" "$WORK/logs/testpmd_${path}_${flows}.log")
    vr=$(vrouter_mpps "$src" tap1653ec91-ad "$pcap" "$WORK/logs/vrouter_${path}_${flows}.log")
    hz=$(sed -n 's/.*tsc_hz=\([0-9]*\).*/\1/p' "$WORK/logs/vrouter_${path}_${flows}.log" | head -1)
    awk -v p="$path" -v f="$flows" -v vr="$vr" -v tp="$tp" -v hz="${hz:-0}" 'BEGIN {
        cyc = (vr + 0 > 0 && hz > 0) ? sprintf("%.0f", hz / (vr * 1e6)) : "-"
        ratio = (vr + 0 > 0 && tp + 0 > 0) ? sprintf("%.2f", vr / tp) : "-"
        printf "%-8s %7s %12s %10s %14s %8s\n", p, f, vr, cyc, tp, ratio }'
done
rm -rf "/var/run/dpdk/vrb-tp-$$" "/var/run/dpdk/vrb-vr-$$"   # testpmd leaves its runtime dir
echo "logs: $WORK/logs (cycles/packet = TSC Hz / rate: the forwarding core polls all the time)"
