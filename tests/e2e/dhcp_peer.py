#!/usr/bin/python3
"""Plays a VM behind a compute node's GRE tunnel endpoint that asks for an address by DHCP.

Run it with /usr/bin/python3 (scapy is installed there), inside the peer's namespace:

  dhcp_peer.py --iface eth0 --src 10.0.1.31 --dst 10.0.1.21 --key 2 \
      --client-mac fa:16:3e:51:a2:97 --server-mac fa:16:3e:da:41:49 \
      --expect-ip 10.0.0.9 --expect-server 10.0.0.3 --expect-router 10.0.0.1 \
      --expect-dns 10.1.101.254 --expect-mtu 1458 --timeout 5

Resolves --dst by ARP, then sends a DISCOVER and a REQUEST (SELECTING: server identifier
and requested address) from the made-up client, each encapsulated in GRE (K bit, key,
protocol 0x6558) without the BROADCAST flag, and waits for the OFFER and the ACK to come
back encapsulated to this peer, unicast to the client, with the expected address and
options. Exit 0 when both did; 1 with what was seen instead.

Every run prints what it sent and what it saw, so that a failing test says why.
"""

import argparse
import random
import sys
import threading

from scapy.all import (ARP, BOOTP, DHCP, GRE, IP, UDP, AsyncSniffer, Ether, conf,
                       get_if_hwaddr, mac2str, sendp, srp1)

conf.verb = 0
BROADCAST = "ff:ff:ff:ff:ff:ff"
TEB = 0x6558  # transparent Ethernet bridging: GRE carries Ethernet frames
TYPES = {1: "DISCOVER", 2: "OFFER", 3: "REQUEST", 5: "ACK", 6: "NAK"}


def options(p):
    """The DHCP options of p as a dict (name -> value)."""
    return {o[0]: (o[1] if len(o) == 2 else o[1:])
            for o in p[DHCP].options if isinstance(o, tuple)}


def describe(p):
    """One line: outer addresses, GRE key and the inner DHCP message."""
    ip, gre = p[IP], p[GRE]
    inner = gre.payload
    line = (f"outer {p[Ether].src}>{p[Ether].dst} {ip.src}>{ip.dst} "
            f"key={gre.key} | inner {inner.src}>{inner.dst}")
    if DHCP in inner:
        o = options(inner)
        line += (f" {inner[IP].src}:{inner[UDP].sport}>{inner[IP].dst}:{inner[UDP].dport}"
                 f" {TYPES.get(o.get('message-type'), o.get('message-type'))}"
                 f" xid={inner[BOOTP].xid:#x} yiaddr={inner[BOOTP].yiaddr}"
                 f" flags={int(inner[BOOTP].flags):#x} options={o}")
    else:
        line += f" {inner.summary()}"
    return line


def mismatch(p, a, outer_mac, xid, want):
    """Why GRE frame p is not the expected reply of type want, or None if it is."""
    ip, gre = p[IP], p[GRE]
    if ip.src != a.dst or ip.dst != a.src or p[Ether].src != outer_mac:
        return f"outer {p[Ether].src} {ip.src}>{ip.dst}, want {outer_mac} {a.dst}>{a.src}"
    if not gre.key_present or gre.key != a.key or gre.proto != TEB:
        return f"GRE key={gre.key} proto={gre.proto:#06x}, want key {a.key} proto 0x6558"
    inner = gre.payload
    if DHCP not in inner:
        return "not a DHCP message"
    if inner[BOOTP].xid != xid:
        return f"xid {inner[BOOTP].xid:#x} is not ours ({xid:#x})"
    o = options(inner)
    checks = [
        (o.get("message-type"), want, "message type"),
        (inner.src, a.server_mac.lower(), "inner source MAC"),
        (inner.dst, a.client_mac.lower(), "inner destination MAC (unicast to the client)"),
        (inner[IP].src, a.expect_server, "IP source"),
        (inner[IP].dst, a.expect_ip, "IP destination (unicast to yiaddr)"),
        ((inner[UDP].sport, inner[UDP].dport), (67, 68), "UDP ports"),
        (inner[BOOTP].op, 2, "op (BOOTREPLY)"),
        (inner[BOOTP].yiaddr, a.expect_ip, "yiaddr"),
        (o.get("server_id"), a.expect_server, "server identifier (54)"),
        (o.get("subnet_mask"), "255.255.255.0", "subnet mask (1)"),
        (o.get("router"), a.expect_router, "router (3)"),
        (o.get("name_server"), a.expect_dns, "DNS server (6)"),
        (o.get("interface-mtu"), a.expect_mtu, "interface MTU (26)"),
        (o.get("lease_time"), 86400, "lease time (51)"),
    ]
    for got, exp, what in checks:
        if got != exp:
            return f"{what} is {got!r}, want {exp!r}"
    return None


def exchange(a, mac, outer_mac, xid, msg, want):
    """Sends msg (a DHCP message from the client) in GRE, waits for the reply of type want."""
    matched, started, log = threading.Event(), threading.Event(), []

    def on_packet(p):
        why = mismatch(p, a, outer_mac, xid, want)
        log.append((describe(p), why))
        if why is None:
            matched.set()

    sniffer = AsyncSniffer(iface=a.iface, store=False,
                           lfilter=lambda p: IP in p and p[IP].proto == 47 and GRE in p,
                           prn=on_packet, started_callback=started.set)
    sniffer.start()
    if not started.wait(10):
        sys.exit(f"could not start capturing on {a.iface}")
    frame = (Ether(src=mac, dst=outer_mac)
             / IP(src=a.src, dst=a.dst, ttl=64, flags="DF")
             / GRE(key_present=1, key=a.key, proto=TEB)
             / msg)
    print(f"sent: {describe(frame)}")
    sendp(frame, iface=a.iface)
    matched.wait(a.timeout)
    sniffer.stop()
    for line, why in log:
        print(f"  seen: {line}" + (f"  [no match: {why}]" if why else "  [MATCH]"))
    if matched.is_set():
        print(f"OK: {TYPES[want]} for {a.expect_ip} came back in GRE key {a.key} to {a.src}")
        return True
    print(f"FAIL: no matching {TYPES[want]} within {a.timeout}s")
    return False


def client_msg(a, xid, opts):
    """A DHCP message from the client, broadcast, without the BROADCAST flag."""
    chaddr = mac2str(a.client_mac) + b"\0" * 10
    return (Ether(src=a.client_mac, dst=BROADCAST)
            / IP(src="0.0.0.0", dst="255.255.255.255")
            / UDP(sport=68, dport=67)
            / BOOTP(op=1, xid=xid, flags=0, chaddr=chaddr)
            / DHCP(options=opts + [("param_req_list", [1, 3, 6, 15, 26]), "end"]))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iface", required=True)
    p.add_argument("--src", required=True, help="this peer's tunnel address")
    p.add_argument("--dst", required=True, help="the appliance's tunnel address")
    p.add_argument("--key", type=int, default=2)
    p.add_argument("--client-mac", required=True, help="MAC of the VM behind this peer")
    p.add_argument("--server-mac", required=True, help="MAC of the network's DHCP port")
    p.add_argument("--expect-ip", required=True)
    p.add_argument("--expect-server", required=True)
    p.add_argument("--expect-router", required=True)
    p.add_argument("--expect-dns", required=True)
    p.add_argument("--expect-mtu", type=int, required=True)
    p.add_argument("--timeout", type=float, default=5)
    a = p.parse_args()

    mac = get_if_hwaddr(a.iface)
    who_has = Ether(dst=BROADCAST, src=mac) / ARP(op=1, hwsrc=mac, psrc=a.src, pdst=a.dst)
    answer = srp1(who_has, iface=a.iface, timeout=3, retry=2)
    if answer is None or ARP not in answer:
        print(f"FAIL: no ARP answer for {a.dst} on {a.iface}")
        return 1
    outer_mac = answer[ARP].hwsrc
    print(f"ARP: {a.dst} is-at {outer_mac}")
    xid = random.getrandbits(32)
    if not exchange(a, mac, outer_mac, xid,
                    client_msg(a, xid, [("message-type", "discover")]), 2):
        return 1
    request = client_msg(a, xid, [("message-type", "request"),
                                  ("server_id", a.expect_server),
                                  ("requested_addr", a.expect_ip)])
    if not exchange(a, mac, outer_mac, xid, request, 5):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
