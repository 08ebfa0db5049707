#!/usr/bin/python3
"""Traffic files for benches/run.sh: the peers' flows at other frame sizes, and the flows of
the paths the peers do not run (VM <-> VM through security groups, new SNAT connections,
SNAT port exhaustion, DHCP).

    /usr/bin/python3 benches/gen_traffic_sizes.py [--out DIR] [--peers DIR] FILE.pcap ...

Each FILE is named after what it holds, and only the files asked for are written:

    <path>_<flows>f.pcap          64-byte inner frames
    <path>_<flows>f_<size>.pcap   the same flows, inner frames padded to <size> bytes
    <name>_q<q>of<n>.pcap         the packets i = q (mod n) of <name>.pcap: rx queue q of
                                  a device with n queues (run.sh's WORKERS)

<size> is the inner Ethernet frame on the wire with its FCS (the pcap stores it without:
4 bytes less), as the peers' "64 B" is. "1500" means MTU-sized: every path here carries
tenantA-Net's frames, a GRE network with MTU 1458 (1500 - outer IPv4 20 - GRE 8 -
Ethernet 14), so its inner IPv4 packet is 1458 bytes long, its frame 1472 bytes in the pcap
(1476 on the wire), and the GRE frame around it 1514 bytes: a full-size underlay frame.

<path>:
  raw, gre-l2, snat, fip-in   the peers' paths (shared/peers/gen_traffic.py, imported, not
                              copied): at 64 B the files are byte for byte the peers'.
  vm2vm                       vm001 (fa:16:3e:75:e0:5a, 10.0.0.10) -> vm002 (10.0.0.9), UDP,
                              flow i: sport 1024 + i % 50000, dport 5001 + i // 50000
  vm2vm-reply                 the same flows answered: vm002 -> vm001, ports swapped
  snat-exh                    the snat flows, all to ONE destination 8.8.8.8:53: more
                              flows than the 64512 source ports of one SNAT address
  snat-new                    the snat flows, each sent once (a file of N distinct new
                              connections, N packets, no cap)
  dhcp                        DHCPDISCOVER from vm002 (fa:16:3e:51:a2:97), untagged on its
                              port (flows = 1: 1000 copies, xid = packet number)
  dhcp-gre                    DHCPDISCOVER from vm003 (fa:16:3e:00:00:0b, configs/bench.toml),
                              in GRE key 2 from compute1 10.0.1.31
Packet i belongs to flow i % flows; a file holds max(flows, 1000) packets capped at 100000,
as the peers' files (snat-new: exactly `flows` packets).
"""
import argparse
import hashlib
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MIN_PKTS, MAX_PKTS = 1000, 100000
GRE_MTU = 1458                      # tenantA-Net: 1500 - 20 - 8 - 14
VM001_IP, VM001_MAC = "10.0.0.10", "fa:16:3e:75:e0:5a"
VM003_MAC = "fa:16:3e:00:00:0b"     # configs/bench.toml: a port behind compute1
VM2VM_SPORTS = 50000


def load_peers(peers_dir):
    sys.path.insert(0, peers_dir)
    import gen_traffic  # noqa: E402  (shared/peers/gen_traffic.py, used as a module)
    return gen_traffic


def inner_len(size):
    """Inner frame length in the pcap (no FCS) for a size label."""
    if size >= 1500:
        return 14 + GRE_MTU
    if size < 64:
        raise SystemExit("size %d: the smallest Ethernet frame is 64 bytes" % size)
    return size - 4


class Sized:
    """Sets the inner frame length gen_traffic's builders pad to (module globals)."""

    def __init__(self, gt, size):
        self.gt, self.len = gt, inner_len(size)

    def __enter__(self):
        self.saved = (self.gt.INNER_LEN, self.gt.PAYLOAD_LEN)
        self.gt.INNER_LEN = self.len
        self.gt.PAYLOAD_LEN = self.len - 14 - 20 - 8

    def __exit__(self, *exc):
        self.gt.INNER_LEN, self.gt.PAYLOAD_LEN = self.saved


def builders(gt):
    mac, ip4 = gt.mac, gt.ip4

    def vm2vm(i):
        return gt.udp_ipv4_frame(mac(gt.VM002_MAC), mac(VM001_MAC), ip4(VM001_IP),
                                 ip4(gt.VM002_IP), 1024 + i % VM2VM_SPORTS,
                                 5001 + i // VM2VM_SPORTS, i)

    def vm2vm_reply(i):
        return gt.udp_ipv4_frame(mac(VM001_MAC), mac(gt.VM002_MAC), ip4(gt.VM002_IP),
                                 ip4(VM001_IP), 5001 + i // VM2VM_SPORTS,
                                 1024 + i % VM2VM_SPORTS, i)

    def snat_exh(i):
        smac, sip, sport = gt.vm_host(i)
        return gt.gre_outer(gt.udp_ipv4_frame(mac(gt.RTR_IF_MAC), smac, sip, ip4(gt.SNAT_DST),
                                              sport, 53, i))

    return {
        "raw": gt.frame_raw, "gre-l2": gt.frame_gre_l2, "snat": gt.frame_snat,
        "fip-in": gt.frame_fip_in, "vm2vm": vm2vm, "vm2vm-reply": vm2vm_reply,
        "snat-exh": snat_exh, "snat-new": gt.frame_snat,
    }


def dhcp_discover(client_mac, xid):
    """A DHCPDISCOVER as dhclient sends it (342 bytes: BOOTP padded to 300)."""
    from scapy.all import BOOTP, DHCP, IP, UDP, Ether, Raw
    chaddr = bytes(int(x, 16) for x in client_mac.split(":"))
    head = (Ether(src=client_mac, dst="ff:ff:ff:ff:ff:ff") /
            IP(src="0.0.0.0", dst="255.255.255.255", ttl=64) / UDP(sport=68, dport=67))
    dhcp = (BOOTP(op=1, chaddr=chaddr + b"\0" * 10, xid=xid) /
            DHCP(options=[("message-type", "discover"),
                          ("param_req_list", [1, 3, 6, 15, 28, 51]), "end"]))
    pad = 300 - len(dhcp)          # options padded with PAD (0) bytes after END
    return bytes(head / Raw(load=bytes(dhcp) + b"\0" * max(pad, 0)))


def write(gt, path, frames):
    gt.write_pcap(path, frames)


def generate(gt, out, name, peers_md5):
    m = re.fullmatch(r"([a-z0-9-]+?)_(\d+)f(?:_(\d+))?(?:_q(\d+)of(\d+))?\.pcap", name)
    if not m:
        raise SystemExit("%s: expected <path>_<flows>f[_<size>][_q<q>of<n>].pcap" % name)
    path, flows, size = m.group(1), int(m.group(2)), int(m.group(3) or 64)
    if size == 64 and m.group(3):
        raise SystemExit("%s: 64-byte files have no _<size> suffix" % name)
    split = (int(m.group(4)), int(m.group(5))) if m.group(4) else None
    if split and not 0 <= split[0] < split[1]:
        raise SystemExit("%s: queue %d of %d" % (name, split[0], split[1]))
    dest = os.path.join(out, name)
    if path in ("dhcp", "dhcp-gre"):
        if flows != 1 or size != 64:
            raise SystemExit("%s: DHCP files have 1 flow and their own size" % name)
        frames = []
        for i in range(MIN_PKTS):
            if path == "dhcp":
                frames.append(dhcp_discover(gt.VM002_MAC, i + 1))
            else:
                frames.append(gt.gre_outer(dhcp_discover(VM003_MAC, i + 1)))
        frames = frames[split[0]::split[1]] if split else frames
        write(gt, dest, frames)
        return dest, len(frames), len(frames[0])
    build = builders(gt).get(path)
    if build is None:
        raise SystemExit("%s: unknown path %r" % (name, path))
    npkts = flows if path == "snat-new" else min(max(flows, MIN_PKTS), MAX_PKTS)
    if path.startswith("vm2vm") and flows > VM2VM_SPORTS * 100:
        raise SystemExit("%s: at most %d flows" % (name, VM2VM_SPORTS * 100))
    with Sized(gt, size):
        cache = {}
        frames = []
        for i in range(npkts):
            fid = i % flows
            fr = cache.get(fid)
            if fr is None:
                fr = build(fid)
                if flows <= 4096:
                    cache[fid] = fr
            frames.append(fr)
    if split:
        frames = frames[split[0]::split[1]]
    write(gt, dest, frames)
    want = None if split else peers_md5.get(name)
    if want:
        with open(dest, "rb") as f:
            got = hashlib.md5(f.read()).hexdigest()
        if got != want:
            raise SystemExit("%s: md5 %s differs from the peers' pcap.md5 (%s)" % (dest, got, want))
    return dest, len(frames), len(frames[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="/tmp/vrouter-bench/pcap")
    ap.add_argument("--peers", default=os.path.join(HERE, "..", "..", "shared", "peers"))
    ap.add_argument("files", nargs="+", help="<path>_<flows>f[_<size>].pcap")
    a = ap.parse_args()
    if not os.path.isfile(os.path.join(a.peers, "gen_traffic.py")):
        raise SystemExit("%s/gen_traffic.py not found (--peers DIR)" % a.peers)
    gt = load_peers(a.peers)
    peers_md5 = {}
    md5_file = os.path.join(a.peers, "pcap.md5")
    if os.path.isfile(md5_file):
        with open(md5_file) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2:
                    peers_md5[os.path.basename(parts[1])] = parts[0]
    os.makedirs(a.out, exist_ok=True)
    for name in a.files:
        dest, n, flen = generate(gt, a.out, os.path.basename(name), peers_md5)
        print("%s: %d packets, %d B/frame, %d B file" % (dest, n, flen, os.path.getsize(dest)))


if __name__ == "__main__":
    main()
