#!/usr/bin/python3
"""Hostile traffic for the end-to-end test tests/e2e_hostile.rs, sent with scapy (and a raw
socket for the ARP flood) from inside a namespace.

  hostile.py martians-up --iface I --mac M --router-mac R
      From upstream to floating IP 10.1.101.82, UDP port 7777, the payload naming the
      class: martian sources, the router's own address, an internal source (reverse path),
      martian and broadcast destinations, loose and strict source routes; then one legit
      datagram (payload "legit-up").
  hostile.py bad-option --iface I --mac M --router-mac R
      One datagram with a malformed option; waits for the parameter problem from
      10.1.101.80. Exit 0 when it comes (pointer printed).
  hostile.py martians-vm --iface I --mac M --router-mac R
      From vm002 (10.0.0.9) through the router: martian and broadcast destinations and a
      source route, UDP port 7777; then one legit datagram to 10.1.101.254 ("legit-vm").
  hostile.py ipv6-vm --iface I --mac M
      From vm002: IPv6 UDP to all nodes, a router advertisement, a DHCPv6 reply; then an
      ARP request for 10.0.0.77 (the capture's control).
  hostile.py tunnel-spoof --iface I --mac M --peer-ip P --local-ip L
      As compute1: resolves L, then in GRE key 2 a frame from vm002's MAC, an ARP reply
      from vm003 claiming 10.0.0.9, a gratuitous ARP claiming 10.0.0.1; on the underlay an
      ARP reply claiming L.
  hostile.py arp-flood --iface I --target T --count N
      N ARP requests for T from random senders (random MACs; addresses random, three in four
      on Ext-Net, 10.1.0.0/16, but none in 10.1.101.0/24 where the test's hosts are),
      through a raw socket.
"""

import argparse
import os
import random
import socket
import struct
import sys

from scapy.all import (ARP, GRE, ICMP, IP, IPOption, UDP, Ether, IPv6,
                       ICMPv6ND_RA, conf, sendp, sniff, srp1, AsyncSniffer)

conf.verb = 0
FIP = "10.1.101.82"
UP = "10.1.101.254"
VM002_MAC = "fa:16:3e:51:a2:97"
VM003_MAC = "fa:16:3e:00:01:31"


def udp(a, src, dst, tag, options=None):
    ip = IP(src=src, dst=dst, options=options) if options else IP(src=src, dst=dst)
    return Ether(src=a.mac, dst=a.router_mac) / ip / UDP(sport=4000, dport=7777) / tag.encode()


def martians_up(a):
    frames = [udp(a, src, FIP, f"martian-{what}") for src, what in [
        ("0.1.2.3", "zero-net"), ("127.0.0.1", "loopback"), ("224.0.0.5", "multicast"),
        ("240.0.0.1", "class-e"), ("255.255.255.255", "broadcast"),
        ("10.1.255.255", "directed-broadcast"), ("10.1.101.80", "own-address"),
        ("10.0.0.10", "internal-from-outside")]]
    frames += [udp(a, UP, dst, f"martian-{what}") for dst, what in [
        ("127.0.0.1", "to-loopback"), ("0.0.0.7", "to-zero-net"),
        ("10.0.0.255", "to-directed-broadcast"), ("224.0.0.9", "to-multicast")]]
    lsrr = IPOption(b"\x83\x07\x04\x0a\x00\x00\x09\x00")
    ssrr = IPOption(b"\x89\x07\x04\x0a\x00\x00\x09\x00")
    frames += [udp(a, UP, FIP, "martian-lsrr", [lsrr]), udp(a, UP, FIP, "martian-ssrr", [ssrr])]
    frames.append(udp(a, UP, FIP, "legit-up"))
    for f in frames:
        print(f"sent: {f[IP].src} > {f[IP].dst} {bytes(f[UDP].payload).decode()}")
    sendp(frames, iface=a.iface, inter=0.02)
    return 0


def bad_option(a):
    bad = udp(a, UP, FIP, "martian-bad-option", [IPOption(b"\x01\x94\x09\x00")])
    sniffer = AsyncSniffer(iface=a.iface, store=True, count=1, timeout=5,
                           lfilter=lambda p: ICMP in p and p[ICMP].type == 12)
    sniffer.start()
    import time
    time.sleep(0.5)
    sendp(bad, iface=a.iface)
    sniffer.join()
    got = sniffer.results or []
    if not got:
        print("FAIL: no parameter problem came back")
        return 1
    p = got[0]
    print(f"parameter problem from {p[IP].src} to {p[IP].dst}, pointer {p[ICMP].ptr}")
    return 0 if p[IP].src == "10.1.101.80" and p[ICMP].ptr == 21 else 1


def martians_vm(a):
    src = "10.0.0.9"
    frames = [udp(a, src, dst, f"martian-{what}") for dst, what in [
        ("127.0.0.1", "to-loopback"), ("0.0.0.7", "to-zero-net"), ("240.0.0.1", "to-class-e"),
        ("255.255.255.255", "to-broadcast"), ("10.1.255.255", "to-directed-broadcast"),
        ("224.0.0.9", "to-multicast")]]
    lsrr = IPOption(b"\x83\x07\x04\x0a\x01\x65\xfe\x00")
    frames.append(udp(a, src, UP, "martian-lsrr", [lsrr]))
    frames.append(udp(a, src, UP, "legit-vm"))
    sendp(frames, iface=a.iface, inter=0.02)
    print(f"sent {len(frames)} frames")
    return 0


def ipv6_vm(a):
    all_nodes = "33:33:00:00:00:01"
    base = Ether(src=a.mac, dst=all_nodes) / IPv6(src="fe80::f816:3eff:fe51:a297", dst="ff02::1")
    frames = [
        base / UDP(sport=4000, dport=7777) / b"martian-ipv6",
        base / ICMPv6ND_RA(routerlifetime=1800),
        base / UDP(sport=547, dport=546) / b"\x07\x00\x00\x01",
        Ether(src=a.mac, dst="ff:ff:ff:ff:ff:ff")
        / ARP(op=1, hwsrc=a.mac, psrc="10.0.0.9", pdst="10.0.0.77"),
    ]
    sendp(frames, iface=a.iface, inter=0.05)
    print(f"sent {len(frames)} frames")
    return 0


def tunnel_spoof(a):
    who_has = Ether(dst="ff:ff:ff:ff:ff:ff", src=a.mac) / ARP(op=1, hwsrc=a.mac, psrc=a.peer_ip,
                                                             pdst=a.local_ip)
    answer = srp1(who_has, iface=a.iface, timeout=3, retry=2)
    if answer is None or ARP not in answer:
        print(f"FAIL: no ARP answer for {a.local_ip}")
        return 1
    node = answer[ARP].hwsrc

    def gre(inner):
        return (Ether(src=a.mac, dst=node) / IP(src=a.peer_ip, dst=a.local_ip, flags="DF")
                / GRE(key_present=1, key=2, proto=0x6558) / inner)

    frames = [
        gre(Ether(src=VM002_MAC, dst="ff:ff:ff:ff:ff:ff") / IP(src="10.0.0.9", dst="10.0.0.255")
            / UDP(sport=4000, dport=7777) / b"martian-mac-takeover"),
        gre(Ether(src=VM003_MAC, dst="fa:16:3e:f7:e6:9c")
            / ARP(op=2, hwsrc=VM003_MAC, psrc="10.0.0.9", hwdst="fa:16:3e:f7:e6:9c",
                  pdst="10.0.0.1")),
        gre(Ether(src=VM003_MAC, dst="ff:ff:ff:ff:ff:ff")
            / ARP(op=1, hwsrc=VM003_MAC, psrc="10.0.0.1", hwdst="00:00:00:00:00:00",
                  pdst="10.0.0.1")),
        Ether(src=a.mac, dst=node) / ARP(op=2, hwsrc=a.mac, psrc=a.local_ip, hwdst=node,
                                         pdst=a.peer_ip),
    ]
    sendp(frames, iface=a.iface, inter=0.05)
    print(f"appliance at {node}; sent {len(frames)} frames")
    return 0


# Third octets of the senders on Ext-Net (10.1.0.0/16) the flood uses: not 101, where the
# appliance's, the upstream router's and the test's hosts are.
ON_LINK = [x for x in range(256) if x != 101]


def arp_flood(a):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.iface, 0))
    target = socket.inet_aton(a.target)
    rnd = random.Random(7)
    for i in range(a.count):
        mac = bytes([0x02, rnd.randrange(256)]) + rnd.randbytes(4)
        if i % 4 != 0:
            spa = bytes([10, 1, rnd.choice(ON_LINK), rnd.randrange(1, 255)])
        else:
            spa = rnd.randbytes(4)
        arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + spa + bytes(6) + target
        frame = b"\xff" * 6 + mac + b"\x08\x06" + arp + bytes(18)
        while True:
            try:
                s.send(frame)
                break
            except BlockingIOError:
                continue
            except OSError as e:
                if e.errno != 105:  # ENOBUFS: the queue is full, try again
                    raise
    print(f"sent {a.count} ARP requests for {a.target}")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name in ("martians-up", "bad-option", "martians-vm", "ipv6-vm", "tunnel-spoof",
                 "arp-flood"):
        p = sub.add_parser(name)
        p.add_argument("--iface", required=True)
        p.add_argument("--mac")
        p.add_argument("--router-mac")
        p.add_argument("--peer-ip")
        p.add_argument("--local-ip")
        p.add_argument("--target")
        p.add_argument("--count", type=int, default=20000)
    a = parser.parse_args()
    run = {"martians-up": martians_up, "bad-option": bad_option, "martians-vm": martians_vm,
           "ipv6-vm": ipv6_vm, "tunnel-spoof": tunnel_spoof, "arp-flood": arp_flood}
    sys.exit(run[a.cmd](a))


if __name__ == "__main__":
    main()
