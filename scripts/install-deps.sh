#!/usr/bin/env bash
# Installs what building, testing and demonstrating the appliance need: DPDK and bindgen's
# libclang, and the clients the end-to-end tests drive (netns tools, DHCP/ping/nc clients,
# capture tools, scapy, Open vSwitch with DPDK as a GRE peer). Idempotent: installs only
# the missing packages and runs `apt-get update` only if there are any.
set -euo pipefail

packages=(
    dpdk dpdk-dev libdpdk-dev pkg-config libclang-dev
    iproute2 isc-dhcp-client busybox iputils-ping netcat-openbsd traceroute
    tcpdump tshark python3-scapy hping3 nmap iperf3
    openvswitch-switch-dpdk
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed$'; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#packages[@]} packages present"
    exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
# tshark's wireshark-common would ask whether non-root users may capture: no.
echo "wireshark-common wireshark-common/install-setuid boolean false" |
    "${sudo[@]}" debconf-set-selections
echo "install-deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
