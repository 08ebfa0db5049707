#!/usr/bin/env bash
# Installs what building, testing and demonstrating the appliance need: DPDK and bindgen's
# libclang, and the clients the end-to-end tests drive (netns tools, DHCP/ping/nc clients,
# capture tools, scapy, Open vSwitch with DPDK as a GRE peer, Prometheus and promtool that
# scrape and check the metrics endpoint). Idempotent: installs only
# the missing packages and runs `apt-get update` only if there are any.
set -euo pipefail

packages=(
    dpdk dpdk-dev libdpdk-dev pkg-config libclang-dev
    iproute2 isc-dhcp-client busybox iputils-ping netcat-openbsd traceroute
    tcpdump tshark python3-scapy hping3 nmap iperf3
    libpcap-dev
    openvswitch-switch-dpdk
    prometheus
)
# The Neutron control plane that tests/e2e_neutron.rs drives the agent with, and Neutron's
# Open vSwitch agent that programs its compute node (installed without recommends: these
# are enough, and the services are started by the test).
neutron_packages=(
    mariadb-server rabbitmq-server neutron-server python3-neutron python3-neutron-lib
    python3-openstackclient python3-pymysql neutron-openvswitch-agent
)

# cargo-deb builds the Debian package (make deb, tests/e2e_deb.rs): from crates.io, once
# per machine (a few minutes to compile).
if ! cargo deb --version >/dev/null 2>&1; then
    echo "install-deps: installing cargo-deb"
    cargo install --locked cargo-deb
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed$'; then
        missing+=("$p")
    fi
done
missing_neutron=()
for p in "${neutron_packages[@]}"; do
    if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed$'; then
        missing_neutron+=("$p")
    fi
done
if [ ${#missing[@]} -eq 0 ] && [ ${#missing_neutron[@]} -eq 0 ]; then
    echo "install-deps: all $((${#packages[@]} + ${#neutron_packages[@]})) packages present"
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
echo "install-deps: installing ${missing[*]} ${missing_neutron[*]}"
"${sudo[@]}" apt-get update
if [ ${#missing[@]} -gt 0 ]; then
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi
if [ ${#missing_neutron[@]} -gt 0 ]; then
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        "${missing_neutron[@]}"
fi
