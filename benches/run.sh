#!/usr/bin/env bash
# `make bench`: the appliance with ONE worker core next to dpdk-testpmd io forwarding (the
# harness ceiling) and Open vSwitch with DPDK (the peer, ../shared/peers/ovs_dpdk.sh, run
# as it is) on the same traffic files, in the same session: net_pcap infinite replay in,
# net_null out, the forwarding core on lcore 1, the main/control thread on lcore 0.
# Prints ONE table (markdown: paste it as it is), then notes and the issue-12 targets.
#
# usage: benches/run.sh [PATH:FLOWS[:SIZE[:WORKERS]] ...]   (default: the matrix below, ~18 min)
#        e.g. benches/run.sh gre-l2:1000:64 snat:100000 fip-in:1000:1500 snat:100000:64:2
#
# PATH (topology configs/bench.toml; the device the run receives on becomes net_pcap):
#   gre-l2   P1: GRE key 2 from compute1 (eth1) -> decap -> MAC lookup -> vm002's port
#            tap1653ec91-ad (bound locally)
#   snat     P2: GRE from VMs behind compute1 (eth1) -> decap -> router tenant-R1 -> SNAT
#            to 10.1.101.80 -> eth2 to the upstream router 10.1.101.254 (static neighbour)
#   fip-in   P3, as OVS's P3: eth2 -> floating IP 10.1.101.82 -> DNAT to 10.0.0.9 -> route
#            to tenantA-Net -> vm002, which here runs behind compute1 (the topology with
#            vm002's port bound to peer 10.0.1.31: its MAC is behind the tunnel, not on a
#            local port) -> GRE key 2 to 10.0.1.31 out of eth1
#   fip-in-local  the same packets with vm002 bound on the appliance (configs/bench.toml as
#            it is): out of vm002's port, no GRE. OVS has no such path (not run for it)
#   l2       raw frames vm001's port -> MAC lookup -> vm002's port (OVS's l2)
#   vm2vm    P4: vm001's port <-> vm002's port, both WITH the default security group,
#            established UDP sessions, both directions at once (vm002's port replays the
#            replies; a net_pcap device without tx_pcap drops and counts what it is sent:
#            eth_tx_drop in DPDK 22.11's net_pcap). Rate = what both ports transmit.
#   snat-exh the snat path with all flows to ONE destination 8.8.8.8:53: 100k flows, at
#            most 64512 source ports; rate = frames processed (rx); every refused one must
#            be dropped and counted (nat_ports_exhausted)
#   snat-new P5: new connections per second through SNAT: FLOWS distinct flows (default
#            NEW_FLOWS=1000000), each sent once (net_pcap without infinite_rx),
#            [conntrack] capacity = FLOWS; the rate comes from the control socket's stats
#            (rx on eth1 every 0.1 s, timed by the worker's clock) while the file streams,
#            and the final report must show FLOWS sessions created. testpmd column: the
#            same file through testpmd (the source's ceiling). Also: the appliance's RSS.
#   dhcp     P6: DHCPDISCOVER from vm002 on its port; OFFERs counted on its tx side (the
#            DISCOVERs are broadcast: they are also flooded to vm001 and the peers)
#   dhcp-gre P6: DHCPDISCOVER from vm003 in GRE from compute1; OFFERs counted on eth1
#   ct-mem   `cargo bench --bench conntrack` (no DPDK): heap bytes of a conntrack with
#            capacity FLOWS holding FLOWS SNAT sessions, and new SNAT connections per
#            second through the whole pipeline (frames built outside the timing)
# gre-l2, snat, fip-in(-local), l2 and snat-exh run with port security off on the VM ports
# (the OVS peer has no security group stage); SG=1 keeps the default security group there.
# FLOWS: 1, 1000, 100000 (any count works; files hold max(FLOWS, 1000) packets, at most
# 100000). SIZE: the inner frame on the wire with FCS: 64 (default: the peers' files),
# 512, or 1500 = MTU-sized: inner IPv4 1458 B (tenantA-Net's GRE MTU), inner frame 1472 B
# in the pcap, GRE frame 1514 B (see benches/gen_traffic_sizes.py).
# WORKERS (default 1; > 1 on gre-l2 snat fip-in fip-in-local l2 snat-exh): the appliance
# runs --workers W and its receiving device is ONE net_pcap device with W rx queues, queue
# q replaying the packets i = q (mod W) of the file (<file>_q<q>of<W>.pcap: the flows split
# W ways, FLOWS in all); the appliance's worker w polls queue w, and a frame another
# worker owns is handed over (docs/multicore.md). Worker lcore k runs on CPU k mod nproc
# (2 CPUs: worker 0 on CPU 1, worker 1 on CPU 0 beside the main thread). testpmd: W
# forwarding lcores on the same CPUs and queues. Cycles/packet of such a row = W x TSC /
# rate (both cores are spent on the traffic). No OVS run (ovs_dpdk.sh has one PMD).
#
# env: SECS=10 (measured) WARMUP=3 (discarded; OVS_WARMUP=4 for OVS) OVS=1 (0: no OVS runs)
#      SG=0 NEW_FLOWS=1000000 BENCH_WORK=/tmp/vrouter-bench PEERS_DIR=../shared/peers
#      BUILD=1 (cargo build --release --bin vrouter first; 0: use the binary as it is)
#      VROUTER_BIN=target/release/vrouter (the appliance binary run)
#      VERIFY=1: no measurement; each gre-l2, snat, fip-in or l2 run sends its file once
#      through the appliance into a net_pcap tx_pcap sink and checks every frame that
#      leaves with ../shared/peers/check_output.py's rules (benches/verify_output.py), the
#      rules OVS's output passes (VERIFY=1 ovs_dpdk.sh); frames in = frames out + drops
#      the appliance counted (with several workers a file sent at full speed can overrun
#      a hand-off queue: handoff_full)
# Cycles/packet: vrouter = TSC Hz / rate (the worker busy-polls: every cycle of its core is
# spent on the traffic); testpmd the same from its rate; "pipeline" = vrouter - testpmd
# cycles of the same run (what the appliance adds to the harness: the pipeline and its own
# rx/tx loop); OVS: its own pmd-stats "avg processing cycles per packet".
# The "cycles target" and "rate target" columns hold the issue-12 target of the row, its
# value when it is not in another column, and PASS or MISS.
# Hugepages are set up when possible (512 x 2 MiB); otherwise it runs --no-huge and says
# so. Every DPDK process gets its own --file-prefix; /var/run/dpdk/<prefix> dirs are
# removed afterwards (ovs_dpdk.sh cleans up its own instance and namespace).
# Logs: $BENCH_WORK/logs; results: $BENCH_WORK/results/bench-<UTC time>.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=${PEERS_DIR:-$ROOT/../shared/peers}
WORK=${BENCH_WORK:-/tmp/vrouter-bench}
SECS=${SECS:-10}; WARMUP=${WARMUP:-3}; OVS_WARMUP=${OVS_WARMUP:-4}
OVS=${OVS:-1}; SG=${SG:-0}; NEW_FLOWS=${NEW_FLOWS:-1000000}; BUILD=${BUILD:-1}
VERIFY=${VERIFY:-0}
BIN=${VROUTER_BIN:-$ROOT/target/release/vrouter}
NCPU=$(nproc)
PY=/usr/bin/python3
VM1=tapd7233b80-9d VM2=tap1653ec91-ad
PREFIX_VR=vrb-vr-$$ PREFIX_TP=vrb-tp-$$
DEFAULT_RUNS=(
    gre-l2:1000:64 gre-l2:100000:64 gre-l2:1000:512 gre-l2:1000:1500
    snat:1000:64 snat:100000:64 snat:1000:512 snat:1000:1500
    fip-in:1000:64 fip-in:100000:64 fip-in:1000:512 fip-in:1000:1500
    fip-in-local:1000:64 fip-in-local:100000:64 snat:100000:64:2
    vm2vm:1:64 vm2vm:1000:64 vm2vm:100000:64
    snat-exh:100000:64 "snat-new:$NEW_FLOWS" dhcp:1 dhcp-gre:1 ct-mem:1000000
)
[ $# -gt 0 ] || set -- "${DEFAULT_RUNS[@]}"

die() { echo "bench: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (hugepages, DPDK, OVS namespaces)"
[ -x "$PY" ] || die "$PY not found (scapy is installed for it)"
[ -f "$PEERS/gen_traffic.py" ] || die "$PEERS/gen_traffic.py not found (set PEERS_DIR)"
command -v dpdk-testpmd >/dev/null || die "dpdk-testpmd not found (apt-get install dpdk)"
mkdir -p "$WORK/logs" "$WORK/pcap" "$WORK/conf" "$WORK/results" "$WORK/ovs"

# ---- the runs asked for -------------------------------------------------------------
RUNS=()
for run in "$@"; do
    IFS=: read -r path flows size workers extra <<<"$run"
    size=${size:-64} workers=${workers:-1}
    [ -z "${extra:-}" ] || die "$run: expected PATH:FLOWS[:SIZE[:WORKERS]]"
    [[ $flows =~ ^[0-9]+$ && $flows -gt 0 ]] || die "$run: FLOWS must be a positive number"
    [[ $size =~ ^[0-9]+$ && $size -ge 64 ]] || die "$run: SIZE must be a number >= 64"
    [[ $workers =~ ^[0-9]+$ && $workers -ge 1 && $workers -le 64 ]] || die "$run: WORKERS must be 1..64"
    case $path in
        gre-l2 | snat | fip-in | fip-in-local | l2 | snat-exh) ;;
        vm2vm | snat-new | ct-mem | dhcp | dhcp-gre)
            [ "$workers" = 1 ] || die "$run: WORKERS > 1 only on gre-l2 snat fip-in fip-in-local l2 snat-exh (one receiving device)" ;;&
        vm2vm) ;;
        snat-new | ct-mem | dhcp | dhcp-gre) size=64 ;;
        *) die "$run: unknown path $path (gre-l2 snat fip-in fip-in-local l2 vm2vm snat-exh snat-new dhcp dhcp-gre ct-mem)" ;;
    esac
    case $path in dhcp | dhcp-gre) flows=1 ;; esac
    if [ "$VERIFY" = 1 ]; then
        case $path in gre-l2 | snat | fip-in | l2) ;; *) echo "bench: VERIFY=1 checks gre-l2 snat fip-in l2 only; $run skipped" >&2; continue ;; esac
    fi
    RUNS+=("$path:$flows:$size:$workers")
done
[ ${#RUNS[@]} -gt 0 ] || die "no run left to do"

# pcap file name of traffic BASE at FLOWS and SIZE (benches/gen_traffic_sizes.py names);
# with Q and W: its packets i = Q (mod W), the rx queue Q of W
pcap_name() {
    local n=$1_$2f
    [ "$3" = 64 ] || n=${n}_$3
    [ -z "${5:-}" ] || [ "$5" = 1 ] || n=${n}_q$4of$5
    echo "$n.pcap"
}
# the traffic files of PATH (its receiving devices' files, in device order)
path_files() {
    case $1 in
        gre-l2 | snat | fip-in | snat-exh | dhcp | dhcp-gre) echo "$1" ;;
        fip-in-local) echo fip-in ;;
        l2) echo raw ;;
        vm2vm) echo "vm2vm vm2vm-reply" ;;
        snat-new) echo snat-new ;;
        *) ;;
    esac
}
# packets in a file of FLOWS flows (gen_traffic's rule; snat-new: one per flow)
file_packets() {
    if [ "$1" = snat-new ]; then echo "$2"; elif [ "$2" -lt 1000 ]; then echo 1000
    elif [ "$2" -gt 100000 ]; then echo 100000; else echo "$2"; fi
}

# ---- build, traffic, topologies -----------------------------------------------------
if [ "$BUILD" = 1 ] || [ ! -x "$BIN" ]; then
    (cd "$ROOT" && cargo build --release --bin vrouter) || die "cargo build failed"
fi
missing=()
for r in "${RUNS[@]}"; do
    IFS=: read -r path flows size workers <<<"$r"
    for base in $(path_files "$path"); do
        # the whole file too: OVS and the one-worker rows replay it
        names=("$(pcap_name "$base" "$flows" "$size")")
        for ((q = 0; q < workers && workers > 1; q++)); do names+=("$(pcap_name "$base" "$flows" "$size" "$q" "$workers")"); done
        for f in "${names[@]}"; do [ -f "$WORK/pcap/$f" ] || missing+=("$f"); done
    done
done
if [ ${#missing[@]} -gt 0 ]; then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    echo "bench: writing ${#missing[@]} traffic file(s) to $WORK/pcap" >&2
    "$PY" "$ROOT/benches/gen_traffic_sizes.py" --peers "$PEERS" --out "$WORK/pcap" "${missing[@]}" >&2
fi
CONF_SG=$WORK/conf/bench.toml CONF_NOSG=$WORK/conf/bench-nosg.toml
cp "$ROOT/configs/bench.toml" "$CONF_SG"
sed 's/^security_groups = \[.*\]$/port_security_enabled = false/' "$CONF_SG" >"$CONF_NOSG"
ct_conf() {   # bench-nosg.toml with [conntrack] capacity = $1
    local f=$WORK/conf/bench-ct$1.toml
    sed "/^\[conntrack\]/,\$ s/^capacity = .*/capacity = $1/" "$CONF_NOSG" >"$f"
    "$BIN" --config "$f" --check >/dev/null || die "$f does not validate"
    echo "$f"
}
for c in "$CONF_SG" "$CONF_NOSG"; do
    "$BIN" --config "$c" --check >/dev/null || die "$c does not validate"
done
CONF_PEER=$CONF_NOSG
[ "$SG" = 1 ] && CONF_PEER=$CONF_SG
# fip-in: vm002 behind compute1 (its port bound to tunnel peer 10.0.1.31, as OVS's P3
# sends it there), so the appliance's MAC table has vm002 behind gre-0a00011f
CONF_REMOTE=$WORK/conf/bench-vm002-compute1.toml
VM2_LOCAL='binding = { local = { devargs = "net_null3,no-rx=1" } }'
grep -qxF "$VM2_LOCAL" "$CONF_PEER" || die "configs/bench.toml: vm002's binding is not '$VM2_LOCAL'"
sed "s|^${VM2_LOCAL}\$|binding = { peer = \"10.0.1.31\" }|" "$CONF_PEER" >"$CONF_REMOTE"
view=$("$BIN" --config "$CONF_REMOTE" --check) || die "$CONF_REMOTE does not validate"
grep -q "^ *$VM2 .* fa:16:3e:51:a2:97 10.0.0.9 *gre-0a00011f\$" <<<"$view" ||
    die "$CONF_REMOTE: vm002 is not reached through gre-0a00011f (compute1)"
OVS_NOTE=
if [ "$OVS" = 1 ] && { [ ! -f "$PEERS/ovs_dpdk.sh" ] || [ ! -x /usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk ]; }; then
    OVS=0 OVS_NOTE=" (OVS not run: needs $PEERS/ovs_dpdk.sh and apt-get install openvswitch-switch-dpdk)"
fi

# ---- hugepages (touching packet data is 2.5-3x slower without them) -------------------
HP=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
if [ -w "$HP" ] && [ "$(cat "$HP")" -lt 512 ]; then echo 512 >"$HP" 2>/dev/null || true; fi
mountpoint -q /dev/hugepages || { mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages; } 2>/dev/null || true
FREE=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
if [ "${FREE:-0}" -ge 400 ]; then
    MEM=(--in-memory); MODE="hugepages ($FREE x 2 MiB free)"
else
    MEM=(--no-huge -m 2048); MODE="NO hugepages (--no-huge: packet data 2.5-3x slower)"
fi

# EAL core options for W workers: main lcore 0 on CPU 0; one worker: lcore 1 (as before);
# W workers: lcore k on CPU k mod nproc
eal_cores() {
    local k s=0@0
    if [ "$1" = 1 ]; then echo "-l 0,1 --main-lcore 0"; return; fi
    for ((k = 1; k <= $1; k++)); do s+=",$k@$((k % NCPU))"; done
    echo "--lcores $s --main-lcore 0"
}
# net_pcap devargs replaying FILES in a loop, one rx queue per file. Args: index files...
pcap_rx() {
    local i=$1 f s
    shift
    s=net_pcap$i
    for f in "$@"; do s+=",rx_pcap=$f"; done
    echo "$s,infinite_rx=1"
}

VPID=
cleanup() {
    if [ -n "$VPID" ] && kill -0 "$VPID" 2>/dev/null; then kill -TERM "$VPID"; wait "$VPID" || true; fi
    rm -rf "/var/run/dpdk/$PREFIX_VR" "/var/run/dpdk/$PREFIX_TP"
    rm -f "/dev/hugepages/$PREFIX_VR"* "/dev/hugepages/$PREFIX_TP"*
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the three forwarders -----------------------------------------------------------
# dpdk-testpmd io: port 0 (and 1) replay, paired; Mpps = mean Tx-pps of the counted ports
# after the warm-up samples, summed. W forwarding lcores, W queues per port. Args: log
# mbufs W vdev0 [vdev1] (net_pcap devargs; without vdev1 port 1 is a net_null sink).
testpmd_mpps() {
    local log=$1 mbufs=$2 w=$3 v0=$4 v1=${5:-} ports=1 cores
    [ -n "$v1" ] && ports="0 1"
    read -ra cores <<<"$(eal_cores "$w")"
    timeout -k 5 -s INT $((SECS + WARMUP + 3)) dpdk-testpmd "${cores[@]}" "${MEM[@]}" \
        --no-pci --file-prefix "$PREFIX_TP" --vdev="$v0" \
        --vdev="${v1:-net_null0,no-rx=1}" -- --forward-mode=io --port-topology=paired \
        --nb-cores="$w" --rxq="$w" --txq="$w" --total-num-mbufs="$mbufs" --stats-period=1 >"$log" 2>&1 || true
    rm -rf "/var/run/dpdk/$PREFIX_TP"
    awk -v skip="$WARMUP" -v ports="$ports" '
        BEGIN { n = split(ports, p, " "); for (i = 1; i <= n; i++) want[p[i]] = 1 }
        /NIC statistics for port/ { port = $(NF - 1) }
        /Tx-pps:/ && (port in want) { k[port]++; if (k[port] > skip) { s[port] += $2; c[port]++ } }
        END { tot = 0; for (q in want) { if (!c[q]) { print "ERR"; exit } tot += s[q] / c[q] }
              printf "%.2f", tot / 1e6 }' "$log"
}

# The appliance for SECS + WARMUP s with W workers. Args: config log mbufs W devargs...
vrouter_run() {
    local conf=$1 log=$2 mbufs=$3 w=$4 d args=()
    shift 4
    for d in "$@"; do args+=(--devargs "$d"); done
    timeout -k 5 -s INT $((SECS + WARMUP + 3)) "$BIN" --config "$conf" --reset --busy-poll \
        --mbufs "$mbufs" --workers "$w" --metrics none --stats-interval 1 --state-dir "$WORK/state" \
        --socket "$WORK/vrouter.sock" \
        --eal "$(eal_cores "$w") ${MEM[*]} --no-pci --file-prefix $PREFIX_VR --log-level *:warning" \
        "${args[@]}" >"$log" 2>&1 || true
    rm -rf "/var/run/dpdk/$PREFIX_VR"
}
# Rate (Mpps) of counter FIELD (rx|tx) summed over DEVICES, from the appliance's counter
# lines: (last - first) / (t_last - t_first) after WARMUP lines. Args: log field devices.
log_rate() {
    awk -v skip="$WARMUP" -v field="$2" -v devs="$3" '
        BEGIN { n = split(devs, d, " "); for (i = 1; i <= n; i++) want[d[i]] = 1 }
        /^vrouter: t=/ { k++; t = substr($2, 3) + 0; sum = 0
            for (i = 3; i <= NF; i++) if ($i in want)
                for (j = i + 1; j <= i + 2 && j <= NF; j++) { split($j, a, "="); if (a[1] == field) sum += a[2] }
            if (k == skip + 1) { t0 = t; c0 = sum }
            tl = t; cl = sum }
        END { if (k > skip + 1 && tl > t0) printf "%.2f", (cl - c0) / (tl - t0) / 1e6; else print "ERR" }' "$1"
}
tsc_hz() { sed -n 's/.*tsc_hz=\([0-9]*\).*/\1/p' "$1" | head -1; }
# Cycles per packet of W busy cores at MPPS, with TSC $hz. Args: mpps W.
cycles() {
    awk -v v="$1" -v w="$2" -v hz="${hz:-0}" 'BEGIN { if (v ~ /^[0-9.]+$/ && v + 0 > 0 && hz > 0) printf "%.0f", w * hz / (v * 1e6); else print "-" }'
}
# The hand-off counters of a run's final report: "received handed_off handoff_full", the
# frames received on device RXDEV. Args: log rxdev.
handoff_counts() {
    local rxn ho full
    rxn=$(awk -v d="$2" '$1 == d && $2 == "RX" { split($3, a, ":"); n = a[2] } END { print n + 0 }' "$1")
    ho=$(sed -n 's/.* handed_off \([0-9]*\).*/\1/p' "$1" | tail -1)
    full=$(sed -n 's/^handoff_full *\([0-9]*\)/\1/p' "$1" | head -1)
    echo "$rxn ${ho:-0} ${full:-0}"
}
# The drop reasons of the final report: "reason=n reason=n" (largest first, at most 3).
drops_of() {
    awk '/^== drops/ { on = 1; next } /^== / { on = 0 } on && NF == 2 { print $2, $1 }' "$1" |
        sort -rn | head -3 | awk '{ printf "%s%s=%s", (NR > 1 ? " " : ""), $2, $1 }'
}

# OVS-DPDK through ovs_dpdk.sh (unchanged), on our file: each variant gets a PEERS_WORK of
# its own whose pcap/<base>_<flows>f.pcap is a link to the file. Prints "Mpps cycles".
ovs_mpps() {
    local opath=$1 flows=$2 file=$3 tag=$4 base w out line
    base=$opath; [ "$opath" = l2 ] && base=raw
    w=$WORK/ovs/$tag
    mkdir -p "$w/pcap"
    ln -sf "$file" "$w/pcap/${base}_${flows}f.pcap"
    out=$(PEERS_WORK=$w SECS=$SECS WARMUP=$OVS_WARMUP bash "$PEERS/ovs_dpdk.sh" "$opath:$flows" 2>>"$WORK/logs/ovs_stderr.log") || true
    line=$(awk -v p="$opath" -v f="$flows" '$1 == p && $2 == f { printf "%.2f %s\n", $3, ($5 + 0 > 0 ? sprintf("%.0f", $5) : "?"); exit }' <<<"$out")
    cp -f "$w/logs/ovs_${opath}_${flows}f.log" "$WORK/logs/ovs_${tag}_${opath}_${flows}.log" 2>/dev/null || true
    echo "${line:-ERR ?}"
}

# New connections: the appliance on a non-looping file; the control socket's stats every
# 0.1 s give (worker ms, eth1 rx). Prints "Mconn/s rss0_kib rss1_kib created live drops".
STREAM_PY='
import json, socket, sys, time
sock, out, expect = sys.argv[1], sys.argv[2], int(sys.argv[3])
def stats():
    s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(sock)
    s.sendall(b"{\"id\":1,\"op\":\"stats\",\"args\":{}}\n"); buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk: break
        buf += chunk
    s.close(); r = json.loads(buf)["ok"]
    rx = next(p["rx_packets"] for p in r["ports"] if p["name"] == "eth1")
    return r["uptime_ms"], rx
samples, still, t_end = [], 0, time.time() + 120
while time.time() < t_end:
    t, rx = stats(); samples.append((t, rx))
    if len(samples) > 1 and rx == samples[-2][1] and rx > 0: still += 1
    else: still = 0
    if still >= 10 or rx >= expect and still >= 2: break
    time.sleep(0.1)
with open(out, "w") as f:
    for t, rx in samples: f.write("%d %d\n" % (t, rx))
d = [(samples[i][0] - samples[i-1][0], samples[i][1] - samples[i-1][1]) for i in range(1, len(samples))]
inner = [d[i] for i in range(1, len(d) - 1) if d[i-1][1] > 0 and d[i][1] > 0 and d[i+1][1] > 0]
if inner:
    print("%.3f %d" % (sum(x[1] for x in inner) / sum(x[0] for x in inner) / 1e3, len(inner)))
else:
    busy = [x for x in d if x[1] > 0 and x[0] > 0]
    print("%.3f 0" % (max(x[1] / x[0] for x in busy) / 1e3 if busy else 0))
'
snat_new() {   # flows file log; sets SNAT_NEW="Mconn/s inner_intervals rss0 rss1 created live drops"
    local flows=$1 file=$2 log=$3 conf r rss0 rss1 created live
    conf=$(ct_conf "$flows")
    rm -f "$WORK/vrouter.sock"
    "$BIN" --config "$conf" --reset --busy-poll --mbufs 163840 --stats-interval 1 \
        --state-dir "$WORK/state" --socket "$WORK/vrouter.sock" \
        --eal "-l 0,1 --main-lcore 0 ${MEM[*]} --no-pci --file-prefix $PREFIX_VR --log-level *:warning" \
        --devargs "eth1=net_pcap0,rx_pcap=$file" >"$log" 2>&1 &
    VPID=$!
    for _ in $(seq 300); do grep -q '^vrouter: ready' "$log" && break; sleep 0.1; done
    rss0=$(awk '/^VmRSS/ {print $2}' "/proc/$VPID/status" 2>/dev/null || echo 0)
    r=$("$PY" -c "$STREAM_PY" "$WORK/vrouter.sock" "$WORK/logs/snat-new_${flows}.samples" "$flows" 2>>"$log" || echo "ERR 0")
    rss1=$(awk '/^VmRSS/ {print $2}' "/proc/$VPID/status" 2>/dev/null || echo 0)
    kill -INT "$VPID" 2>/dev/null || true
    wait "$VPID" || true
    VPID=
    rm -rf "/var/run/dpdk/$PREFIX_VR"
    created=$(sed -n 's/.* live; created \([0-9]*\) .*/\1/p' "$log" | tail -1)
    live=$(sed -n 's/.*; \([0-9]*\) live; created.*/\1/p' "$log" | tail -1)
    SNAT_NEW="$r ${rss0:-0} ${rss1:-0} ${created:-0} ${live:-0} $(drops_of "$log" | tr ' ' ',')"
}
# testpmd on the same non-looping file: Rx-pps of port 0 between "show port stats" every
# 0.1 s (testpmd's own TSC timing), over the intervals inside the streaming. Prints Mpps.
testpmd_stream() {
    local file=$1 flows=$2 log=$3 polls
    polls=$((20 + flows / 200000))
    { sleep 4; echo start; for _ in $(seq "$polls"); do sleep 0.1; echo "show port stats 0"; done
      echo stop; echo quit; } |
        timeout -k 5 -s INT $((polls / 10 + 15)) dpdk-testpmd -l 0,1 --main-lcore 0 "${MEM[@]}" \
            --no-pci --file-prefix "$PREFIX_TP" --vdev="net_pcap0,rx_pcap=$file" \
            --vdev=net_null0,no-rx=1 -- -i --forward-mode=io --port-topology=paired \
            --nb-cores=1 --rxq=1 --txq=1 --total-num-mbufs=163840 >"$log" 2>&1 || true
    rm -rf "/var/run/dpdk/$PREFIX_TP"
    awk '/RX-packets:/ { n++; rx[n] = $2 } /Rx-pps:/ { pps[n] = $2 }
        END { for (i = 2; i < n; i++) if (rx[i] > rx[i-1] && rx[i-1] > rx[i-2] && rx[i+1] > rx[i]) { s += pps[i]; c++ }
              if (c) printf "%.2f", s / c / 1e6
              else { m = 0; for (i = 1; i <= n; i++) if (pps[i] > m) m = pps[i]; printf ">=%.2f", m / 1e6 } }' "$log"
}

# VERIFY=1: the file once through the appliance (no infinite_rx) into a net_pcap sink with a
# tx_pcap per worker, then every frame that left checked (benches/verify_output.py).
# Args: path key config W rxdev rx-devargs sink expected.
VERIFIED=0 VERIFY_FAILED=0
verify_run() {
    local path=$1 key=$2 conf=$3 w=$4 rxdev=$5 rxv=$6 sink=$7 want=$8 tag tx q log n n_drop outs=()
    tag=${key//:/_}
    mkdir -p "$WORK/verify"
    tx=net_pcap9
    for ((q = 0; q < w; q++)); do outs+=("$WORK/verify/${tag}_q$q.pcap"); tx+=",tx_pcap=${outs[-1]}"; done
    rm -f "${outs[@]}" "$WORK/vrouter.sock"
    log=$WORK/logs/verify_$tag.log
    : >"$log"
    "$BIN" --config "$conf" --reset --busy-poll --mbufs 163840 --workers "$w" --metrics none \
        --stats-interval 1 --state-dir "$WORK/state" --socket "$WORK/vrouter.sock" \
        --eal "$(eal_cores "$w") ${MEM[*]} --no-pci --file-prefix $PREFIX_VR --log-level *:warning" \
        --devargs "$rxdev=$rxv" --devargs "$sink=$tx" >"$log" 2>&1 &
    VPID=$!
    # until a counter line shows the whole file received, then one line more (30 s at most)
    for _ in $(seq 300); do
        n=$(awk -v d="$rxdev" -v want="$want" '/^vrouter: t=/ { k++
                for (i = 3; i < NF; i++) if ($i == d) { split($(i + 1), a, "="); if (a[2] + 0 >= want && !at) at = k } }
            END { print ((at && k > at) ? 1 : 0) }' "$log") || n=0
        [ "$n" = 1 ] && break
        kill -0 "$VPID" 2>/dev/null || break
        sleep 0.1
    done
    # TERM, not INT: a background job of a script starts with SIGINT ignored until the
    # appliance installs its handler
    kill -TERM "$VPID" 2>/dev/null || true
    wait "$VPID" || true
    VPID=
    rm -rf "/var/run/dpdk/$PREFIX_VR"
    VERIFIED=$((VERIFIED + 1))
    # every frame of the file leaves, or is dropped and counted (the final report)
    n_drop=$(awk '/^vrouter: t=/ { for (i = 3; i <= NF; i++) if ($i ~ /^drops=/) { split($i, a, "="); d = a[2] } } END { print d + 0 }' "$log")
    echo "verify $key: $want frames in, $n_drop dropped and counted$(drops_of "$log" | sed 's/^./ (&/; s/.$/&)/')$( [ "$n" = 1 ] || echo ", file NOT fully received in 30 s" ); log $log:"
    "$PY" "$ROOT/benches/verify_output.py" --peers "$PEERS" "$path" "$((want - n_drop))" "${outs[@]}" ||
        VERIFY_FAILED=$((VERIFY_FAILED + 1))
}

# ---- run ----------------------------------------------------------------------------
STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT=$WORK/results/bench-$STAMP.md
declare -A VR CYC TP TPC PIPE OV OVC NOTE HOS
NOTES=()
note() {   # key text: adds a note number to the row (a text given before keeps its number)
    local i n=
    for i in "${!NOTES[@]}"; do
        if [ "${NOTES[$i]}" = "$2" ]; then n=$((i + 1)); break; fi
    done
    if [ -z "$n" ]; then NOTES+=("$2"); n=${#NOTES[@]}; fi
    NOTE[$1]=${NOTE[$1]:+${NOTE[$1]},}$n
}
LOAD=$(awk '{print $1}' /proc/loadavg)
# CPU time other processes take while none of ours runs (0.5 s of /proc/stat), in percent
# of all CPUs: the runs share the machine with whatever this shows.
BUSY=()
cpu_busy() {
    local a b
    a=$(awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
    sleep 0.5
    b=$(awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); t = y[2] - x[2]
        printf "%.0f", (t > 0 ? 100 * (1 - (y[1] - x[1]) / t) : 0) }'
}
echo "bench: ${#RUNS[@]} runs, $MODE, logs in $WORK/logs" >&2

for r in "${RUNS[@]}"; do
    IFS=: read -r path flows size workers <<<"$r"
    BUSY+=("$(cpu_busy)")
    echo "bench: $r (other processes: ${BUSY[-1]}% CPU) ..." >&2
    key=$path:$flows:$size:$workers
    files=()
    for base in $(path_files "$path"); do files+=("$WORK/pcap/$(pcap_name "$base" "$flows" "$size")"); done
    pkts=$(file_packets "$path" "$flows")
    mbufs=$(( ${#files[@]} * pkts + 65536 )); [ "$mbufs" -ge 163840 ] || mbufs=163840
    tag=${path}_${flows}_${size}; [ "$workers" = 1 ] || tag=${tag}_w$workers
    case $path in
    ct-mem)
        ctlog=$WORK/logs/conntrack_bench_$flows.log
        if (cd "$ROOT" && SESSIONS=$flows cargo bench --bench conntrack) >"$ctlog" 2>&1; then
            mem=$(sed -n 's/^conntrack_memory .*full_mib=\([0-9.]*\).*/\1/p' "$ctlog")
            per=$(sed -n 's/^conntrack_memory .*bytes_per_session=\([0-9]*\).*/\1/p' "$ctlog")
            cps=$(sed -n 's/^pipeline_new_snat .*per_sec=\([0-9]*\).*/\1/p' "$ctlog")
            cr=$(sed -n 's/^conntrack_create .*per_sec=\([0-9]*\).*/\1/p' "$ctlog")
            VR[$key]="${mem} MiB"; CT_MEM=$mem CT_KEY=$key
            CT_PIPE=$(awk -v c="$cps" 'BEGIN { printf "%.2f", c / 1e6 }')
            note "$key" "ct-mem: cargo bench --bench conntrack, no DPDK: heap bytes of a conntrack of capacity $flows holding $flows SNAT sessions ($per B/session); Conntrack::create alone $(awk -v c="$cr" 'BEGIN { printf "%.2f", c / 1e6 }') M/s; new SNAT connections through the whole pipeline (GRE decap, L2, route, SNAT, session) $CT_PIPE M/s (frames built outside the timing)."
        else
            VR[$key]=ERR; note "$key" "ct-mem: cargo bench --bench conntrack failed, see $ctlog"
        fi
        continue ;;
    snat-new)
        tp=$(testpmd_stream "${files[0]}" "$flows" "$WORK/logs/testpmd_$tag.log")
        snat_new "$flows" "${files[0]}" "$WORK/logs/vrouter_$tag.log"
        read -r rate inner rss0 rss1 created live drops <<<"$SNAT_NEW"
        VR[$key]="$rate Mconn/s"; TP[$key]=$tp
        NEW_RATE=$rate NEW_CREATED=$created NEW_RSS=$(( rss1 / 1024 )) NEW_KEY=$key
        note "$key" "snat-new: vrouter column = new SNAT sessions per second (millions): rx of eth1 over $inner 0.1-s intervals inside the streaming, each frame a new flow; final report: $created sessions created, $live live of $flows (capacity $flows)${drops:+, drops $drops}; appliance RSS $(( rss0 / 1024 )) MiB before the traffic, $(( rss1 / 1024 )) MiB with the sessions (mbufs are in hugepages, not in RSS). testpmd column: the same file through testpmd io (the non-looping net_pcap source's ceiling)."
        continue ;;
    esac
    # single-file paths receive on one device, vm2vm on both VM ports
    conf=$CONF_PEER sinks=$VM2 field=tx opath=
    case $path in
        gre-l2) rxdev=(eth1); opath=gre-l2 ;;
        snat) rxdev=(eth1); sinks=eth2; opath=snat ;;
        snat-exh) rxdev=(eth1); sinks=eth1; field=rx; opath=snat ;;
        fip-in) rxdev=(eth2); sinks=eth1; conf=$CONF_REMOTE; opath=fip-in ;;
        fip-in-local) rxdev=(eth2) ;;
        l2) rxdev=("$VM1"); opath=l2 ;;
        vm2vm) rxdev=("$VM1" "$VM2"); sinks="$VM1 $VM2"; conf=$CONF_SG ;;
        dhcp) rxdev=("$VM2"); conf=$CONF_SG ;;
        dhcp-gre) rxdev=(eth1); sinks=eth1; conf=$CONF_SG ;;
    esac
    # the receiving devices' devargs: one file each, or with W workers the one device's
    # W queue files
    vdevs=()
    if [ "$workers" = 1 ]; then
        for i in "${!files[@]}"; do vdevs+=("$(pcap_rx "$i" "${files[$i]}")"); done
    else
        qfiles=()
        for ((q = 0; q < workers; q++)); do
            qfiles+=("$WORK/pcap/$(pcap_name "$(path_files "$path")" "$flows" "$size" "$q" "$workers")")
        done
        vdevs=("$(pcap_rx 0 "${qfiles[@]}")")
    fi
    if [ "$VERIFY" = 1 ]; then
        verify_run "$path" "$key" "$conf" "$workers" "${rxdev[0]}" "${vdevs[0]%,infinite_rx=1}" "$sinks" "$pkts"
        continue
    fi
    devargs=()
    for i in "${!rxdev[@]}"; do devargs+=("${rxdev[$i]}=${vdevs[$i]}"); done
    TP[$key]=$(testpmd_mpps "$WORK/logs/testpmd_$tag.log" "$mbufs" "$workers" "${vdevs[@]}")
    vlog=$WORK/logs/vrouter_$tag.log
    vrouter_run "$conf" "$vlog" "$mbufs" "$workers" "${devargs[@]}"
    VR[$key]=$(log_rate "$vlog" "$field" "$sinks")
    hz=$(tsc_hz "$vlog"); TSC=${hz:-${TSC:-0}}
    CYC[$key]=$(cycles "${VR[$key]}" "$workers")
    TPC[$key]=$(cycles "${TP[$key]}" "$workers")
    PIPE[$key]=$(awk -v v="${CYC[$key]}" -v t="${TPC[$key]}" 'BEGIN { if (v + 0 > 0 && t + 0 > 0) printf "%.0f", v - t; else print "-" }')
    drops=$(drops_of "$vlog")
    rx=$(log_rate "$vlog" rx "${rxdev[*]}")
    case $path in
        snat-exh)
            fwd=$(log_rate "$vlog" tx eth2)
            exh=$(sed -n 's/^nat_ports_exhausted *\([0-9]*\)/\1/p' "$vlog" | head -1)
            live=$(sed -n 's/.*; \([0-9]*\) live; created.*/\1/p' "$vlog" | tail -1)
            EXH_RX=${VR[$key]} EXH_COUNT=${exh:-0}
            note "$key" "snat-exh: rate = frames processed (rx of eth1): ${fwd} Mpps forwarded on ${live:-?} sessions, the rest refused and counted (${drops:-no drops counted}); OVS column: ovs_dpdk.sh snat on the same file." ;;
        dhcp | dhcp-gre)
            note "$key" "$path: rate = DHCPOFFERs sent (the DISCOVERs are broadcast: also flooded to the local ports; size = the DISCOVER frame${drops:+; drops $drops})." ;;
        vm2vm)
            note "$key" "vm2vm: both directions (vm001 -> vm002 requests, vm002 -> vm001 replies) through both ports' security groups (default group, established sessions); rate = tx of both ports; testpmd: both files on two net_pcap ports${drops:+; drops $drops}." ;;
        *)
            if [ "$workers" != 1 ]; then
                read -r rxn ho full <<<"$(handoff_counts "$vlog" "${rxdev[0]}")"
                HOS[$key]=$(awk -v h="$ho" -v n="$rxn" 'BEGIN { printf "%.2f", (n > 0 ? h / n : 0) }')
                note "$key" "$path $flows flows, $workers workers: one net_pcap device (${rxdev[0]}) with $workers rx queues, the flows split over them by packet index, worker w polls queue w; $(awk -v f="${HOS[$key]}" 'BEGIN { printf "%.0f%%", 100 * f }') of the $rxn frames received were handed to their owner (handed_off $ho), $full dropped on a full hand-off queue (handoff_full); received $rx Mpps, sent ${VR[$key]}${drops:+; drops $drops}. cyc/pkt = $workers x TSC / rate (all $workers worker cores busy); testpmd: $workers forwarding lcores on the same queues; no OVS run (ovs_dpdk.sh runs one PMD)."
            elif [ -n "$drops" ] && awk -v a="$rx" -v b="${VR[$key]}" 'BEGIN { exit !(a + 0 > 0 && b + 0 < 0.99 * a) }'; then
                note "$key" "$path $flows $size: received $rx Mpps, sent ${VR[$key]}: drops $drops"
            fi ;;
    esac
    case $path in
        fip-in) note "$key" "fip-in: vm002 behind compute1 (its port bound to peer 10.0.1.31: MAC behind gre-0a00011f), so DNAT, route, then GRE key 2 to 10.0.1.31 out of eth1: OVS's P3 (rate = tx of eth1)." ;;
        fip-in-local) note "$key" "fip-in-local: vm002 bound on the appliance (configs/bench.toml as it is): DNAT, route, out of vm002's port without GRE; no OVS run (its P3 is fip-in)." ;;
    esac
    if [ -n "$opath" ] && [ "$OVS" = 1 ] && [ "$workers" = 1 ]; then
        otag=s$size; [ "$path" = snat-exh ] && otag=exh
        read -r ov ovc <<<"$(ovs_mpps "$opath" "$flows" "${files[0]}" "$otag")"
        OV[$key]=$ov; OVC[$key]=$ovc
    fi
done
if [ "$VERIFY" = 1 ]; then
    echo "bench: VERIFY: ${VERIFIED:-0} run(s) checked, ${VERIFY_FAILED:-0} failed; logs in $WORK/logs" >&2
    exit $((VERIFY_FAILED > 0))
fi
LOAD="$LOAD at the start, $(awk '{print $1}' /proc/loadavg) at the end"
BUSY_SUM=$(printf '%s\n' "${BUSY[@]}" | awk '{ s += $1; if ($1 > m) m = $1 } END { printf "mean %.0f%%, max %.0f%%", s / NR, m }')

# ---- the targets (issue 12, 64 B, one worker unless said) ------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "-" }'; }
# PASS or MISS of VALUE OP LIMIT; nothing when VALUE is not a measurement
judge() {
    [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ ]] || return 0
    if awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN { exit !(op == ">=" ? v + 0 >= l : v + 0 <= l) }'; then echo PASS
    else echo MISS; fi
}
declare -A TCYC TRATE
TLIST=() UNMEASURED=()
# One target: its line in the list and its cell in the row KEY's column COL (c: cycles
# target, r: rate target). Args: key col name value op limit unit [shown: the value in the
# cell when no other column holds it].
goal() {
    local key=$1 col=$2 name=$3 v=$4 op=$5 lim=$6 unit=$7 shown=${8:-} res cell
    res=$(judge "$v" "$op" "$lim")
    if [ -z "$res" ]; then
        UNMEASURED+=("$name"); cell="$op $lim$unit: not measured"
    else
        TLIST+=("- $name: $v$unit (target $op $lim$unit): **$res**")
        cell="${shown:+$shown, }$op $lim$unit: $res"
    fi
    { [ -n "$key" ] && [ -n "${VR[$key]:-}" ]; } || return 0
    if [ "$col" = c ]; then TCYC[$key]=$cell; else TRATE[$key]=$cell; fi
}
for t in "gre-l2 80 3" "snat 200 5" "fip-in 180 4"; do
    read -r p cyc x <<<"$t"
    k=$p:1000:64:1
    goal "$k" c "$p 1k flows 64 B pipeline cycles/packet" "${PIPE[$k]:--}" "<=" "$cyc" ""
    goal "$k" r "$p 1k flows 64 B vs OVS-DPDK" "$(ratio "${VR[$k]:-}" "${OV[$k]:-}")" ">=" "$x" x
done
for p in gre-l2 snat fip-in fip-in-local l2 vm2vm; do
    k=$p:100000:64:1 k1=$p:1000:64:1
    case $p in gre-l2 | snat | fip-in) ;; *) [ -n "${VR[$k]:-}" ] || continue ;; esac
    rc=$(ratio "${PIPE[$k]:-}" "${PIPE[$k1]:-}")
    goal "$k" c "$p 100k flows 64 B pipeline cycles vs its 1k flows (${PIPE[$k]:--} / ${PIPE[$k1]:--}; all cycles ${CYC[$k]:--} / ${CYC[$k1]:--})" "$rc" "<=" 1.5 x "${rc}x 1k"
    case $p in gre-l2 | snat | fip-in | l2)
        goal "$k" r "$p 100k flows 64 B vs OVS-DPDK" "$(ratio "${VR[$k]:-}" "${OV[$k]:-}")" ">=" 5 x ;;
    esac
done
goal vm2vm:1000:64:1 r "vm2vm (P4) 1k flows 64 B, both security groups, established" "${VR[vm2vm:1000:64:1]:--}" ">=" 15 " Mpps"
goal "${NEW_KEY:-}" r "new SNAT sessions/s through the appliance (snat-new)" "${NEW_RATE:--}" ">=" 2 " M/s" "${NEW_RATE:-}"
goal "${CT_KEY:-}" r "1M sessions, conntrack heap (ct-mem bench)" "${CT_MEM:--}" "<=" 256 " MiB"
if [ "${NEW_CREATED:-0}" -ge 1000000 ]; then
    goal "" r "appliance RSS holding ${NEW_CREATED} sessions (snat-new)" "${NEW_RSS:--}" "<=" 256 " MiB"
fi
k2=snat:100000:64:2
r2=$(ratio "${VR[$k2]:-}" "${VR[snat:100000:64:1]:-}")
goal "$k2" r "snat 100k flows 64 B, 2 workers vs 1 worker (${VR[$k2]:--} / ${VR[snat:100000:64:1]:--} Mpps)" "$r2" ">=" 1.7 x "${r2}x 1w"
# what several workers cost per packet against one, and per frame handed over
for r in "${RUNS[@]}"; do
    IFS=: read -r path flows size workers <<<"$r"
    k=$path:$flows:$size:$workers k1=$path:$flows:$size:1
    [ "$workers" != 1 ] && [ -n "${VR[$k]:-}" ] && [ -n "${VR[$k1]:-}" ] || continue
    TLIST+=("- $path $flows flows $size B, $workers workers against 1 (no target): $(awk -v c="${CYC[$k]}" -v c1="${CYC[$k1]}" -v f="${HOS[$k]:-0}" -v w="$workers" 'BEGIN {
        if (c + 0 <= 0 || c1 + 0 <= 0) { print "cycles not measured"; exit }
        printf "%s cycles/packet over the %s cores against %s on one: %+d per packet", c, w, c1, c - c1
        if (f > 0) printf " (%.0f%% of the frames were handed over: %+d per frame handed over if the hand-off were all of the difference)", 100 * f, (c - c1) / f }')")
done
if [ -n "${EXH_RX:-}" ]; then
    if [ -n "${VR[snat:100000:64:1]:-}" ]; then
        goal "" r "snat-exh processed rate vs snat 100k flows (refused counted: ${EXH_COUNT:-0})" "$(ratio "$EXH_RX" "${VR[snat:100000:64:1]}")" ">=" 0.8 x
    else
        TLIST+=("- snat-exh: ${EXH_RX} Mpps processed, ${EXH_COUNT:-0} refused and counted (run snat:100000 too to compare)")
    fi
fi
[ -z "${CT_PIPE:-}" ] || TLIST+=("- new SNAT connections/s, pipeline only (ct-mem bench, no target of its own): $CT_PIPE M/s")

# ---- the table ------------------------------------------------------------------------
{
    echo "### vrouter benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- machine: $(nproc) x $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), TSC $(awk -v h="${TSC:-0}" 'BEGIN { printf "%.2f", h / 1e9 }') GHz, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr), DPDK $(pkg-config --modversion libdpdk 2>/dev/null || echo '?'), OVS $(dpkg-query -W -f '${Version}' openvswitch-switch-dpdk 2>/dev/null || echo '-')"
    echo "- $MODE; one forwarding core (lcore 1; main lcore 0) unless workers > 1 (see its note); ${SECS} s measured after ${WARMUP} s (OVS ${OVS_WARMUP} s); load average (1 min) $LOAD; CPU used by other processes just before each run: $BUSY_SUM"
    echo "- vrouter: configs/bench.toml, $( [ "$SG" = 1 ] && echo "security groups on every VM port" || echo "VM ports without port security except vm2vm and dhcp" ); cycles/packet = workers x TSC / rate, testpmd's the same from its rate; pipeline = vrouter - testpmd cycles; OVS: [pmd-stats cycles/packet]$OVS_NOTE"
    echo "- targets: issue 12 (64 B, one worker unless said); the cycles target is on the pipeline cycles"
    echo
    echo "| path | flows | size | workers | vrouter Mpps | cyc/pkt | testpmd Mpps [cyc] | pipeline cycles | vs testpmd | OVS Mpps [cyc] | vs OVS | cycles target | rate target | note |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|"
    for r in "${RUNS[@]}"; do
        IFS=: read -r path flows size workers <<<"$r"
        key=$path:$flows:$size:$workers
        s=$size; [ "$size" = 1500 ] && s='1500\*'
        case $path in ct-mem | snat-new) s=- ;; dhcp) s=342 ;; dhcp-gre) s=384 ;; esac
        vr=${VR[$key]:--} tpr=${TP[$key]:--} ov=${OV[$key]:-} ovc=${OVC[$key]:-}
        ovs=-; [ -n "$ov" ] && ovs="$ov [$ovc]"
        tp=$tpr; [ "${TPC[$key]:--}" = - ] || tp="$tpr [${TPC[$key]}]"
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n" "$path" "$flows" "$s" \
            "$workers" "$vr" "${CYC[$key]:--}" "$tp" "${PIPE[$key]:--}" "$(ratio "$vr" "${tpr#>=}")" \
            "$ovs" "$(ratio "$vr" "$ov")" "${TCYC[$key]:--}" "${TRATE[$key]:--}" "${NOTE[$key]:+(${NOTE[$key]})}"
    done
    echo
    echo "1500\*: MTU-sized: inner IPv4 1458 B (tenantA-Net's GRE MTU), inner frame 1472 B (+FCS), GRE frame 1514 B (+FCS)."
    i=0
    for n in "${NOTES[@]}"; do i=$((i + 1)); echo "($i) $n"; done
    echo
    echo "#### Targets (issue 12: 64 B, one worker unless said; cycles targets on the pipeline cycles)"
    echo
    printf '%s\n' "${TLIST[@]}"
    if [ ${#UNMEASURED[@]} -gt 0 ]; then
        echo "- not measured in this run: $(printf '%s; ' "${UNMEASURED[@]}" | sed 's/; $//')"
    fi
} | tee "$OUT"
echo "results: $OUT; logs: $WORK/logs" >&2
