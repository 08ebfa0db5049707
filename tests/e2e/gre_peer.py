#!/usr/bin/python3
"""Plays a compute node's GRE tunnel endpoint for the end-to-end tests.

Run it with /usr/bin/python3 (scapy is installed there), inside the peer's namespace:

  gre_peer.py sniff --iface eth0 --key 2 --outer-src 10.0.1.21 --outer-dst 10.0.1.31 \
      --inner-src fa:16:3e:75:e0:5a --broadcast --timeout 10
      Prints READY once capturing, then waits for one GRE frame that matches every given
      condition. Exit 0 when seen; 1 with a list of what was seen instead. With
      --expect-none the outcome is inverted: exit 0 when no such frame came.

  gre_peer.py ping --iface eth0 --src 10.0.1.31 --dst 10.0.1.21 --key 2 \
      --inner-src fa:16:3e:00:01:31 --inner-dst fa:16:3e:75:e0:5a \
      --inner-ip-src 10.0.0.31 --inner-ip-dst 10.0.0.10 --timeout 5
      Resolves --dst by ARP, sends an ICMP echo request from a made-up VM behind this
      peer, encapsulated in GRE (K bit, key, protocol 0x6558), and waits for the echo
      reply to come back encapsulated to this peer. Exit 0 when it does.

Every run prints what it sent and what it saw, so that a failing test says why.
"""

import argparse
import sys
import threading

from scapy.all import (ARP, GRE, ICMP, IP, AsyncSniffer, Ether, conf,
                       get_if_hwaddr, sendp, srp1)

conf.verb = 0
BROADCAST = "ff:ff:ff:ff:ff:ff"
TEB = 0x6558  # transparent Ethernet bridging: GRE carries Ethernet frames


def describe(p):
    """One line: outer addresses, GRE header and the inner frame."""
    if GRE not in p:
        return p.summary()
    ip, gre = p[IP], p[GRE]
    inner = gre.payload
    return (f"outer {p[Ether].src}>{p[Ether].dst} {ip.src}>{ip.dst} ttl={ip.ttl} "
            f"flags={ip.flags} | gre K={gre.key_present} key={gre.key} "
            f"proto={gre.proto:#06x} | inner {inner.summary()}")


def mismatch(p, a):
    """Why GRE frame p does not match the conditions in a, or None if it does."""
    ip, gre = p[IP], p[GRE]
    if a.outer_src and ip.src != a.outer_src:
        return f"outer src {ip.src} != {a.outer_src}"
    if a.outer_dst and ip.dst != a.outer_dst:
        return f"outer dst {ip.dst} != {a.outer_dst}"
    if a.outer_mac and p[Ether].src != a.outer_mac:
        return f"outer MAC src {p[Ether].src} != {a.outer_mac}"
    if ip.ttl != 64 or not ip.flags.DF:
        return f"outer IP must have TTL 64 and DF, has ttl={ip.ttl} flags={ip.flags}"
    if not gre.key_present or gre.key != a.key:
        return f"GRE key present={gre.key_present} key={gre.key}, want key {a.key}"
    if gre.proto != TEB or Ether not in gre.payload:
        return f"GRE protocol {gre.proto:#06x}, want {TEB:#06x} (Ethernet)"
    inner = gre[Ether]
    if a.inner_src and inner.src != a.inner_src.lower():
        return f"inner src {inner.src} != {a.inner_src}"
    if a.inner_dst and inner.dst != a.inner_dst.lower():
        return f"inner dst {inner.dst} != {a.inner_dst}"
    if a.broadcast and inner.dst != BROADCAST:
        return f"inner dst {inner.dst} is not broadcast"
    if a.icmp_reply and not (ICMP in inner and inner[ICMP].type == 0):
        return "inner frame is not an ICMP echo reply"
    return None


def start_sniffer(a):
    """Starts capturing GRE frames on a.iface; returns (sniffer, matched event, log)."""
    matched, started, log = threading.Event(), threading.Event(), []

    def on_packet(p):
        why = mismatch(p, a)
        log.append((describe(p), why))
        if why is None:
            matched.set()

    def is_gre(p):
        # GRE packets themselves (IP protocol 47), not ICMP errors quoting one.
        return IP in p and p[IP].proto == 47 and GRE in p

    sniffer = AsyncSniffer(iface=a.iface, store=False, lfilter=is_gre,
                           prn=on_packet, started_callback=started.set)
    sniffer.start()
    if not started.wait(10):
        sys.exit(f"could not start capturing on {a.iface}")
    return sniffer, matched, log


def report(matched, log, a, what):
    """Prints what was seen, returns the exit status for the expectation in a."""
    for line, why in log:
        print(f"  seen: {line}" + (f"  [no match: {why}]" if why else "  [MATCH]"))
    if a.expect_none:
        if matched.is_set():
            print(f"FAIL: {what} arrived, but must not")
            return 1
        print(f"OK: no {what} within {a.timeout}s, as expected")
        return 0
    if matched.is_set():
        print(f"OK: {what} arrived")
        return 0
    print(f"FAIL: no {what} within {a.timeout}s ({len(log)} other GRE frames seen)")
    return 1


def cmd_sniff(a):
    sniffer, matched, log = start_sniffer(a)
    print("READY", flush=True)
    matched.wait(a.timeout)
    sniffer.stop()
    return report(matched, log, a, "matching GRE frame")


def cmd_ping(a):
    mac = get_if_hwaddr(a.iface)
    who_has = Ether(dst=BROADCAST, src=mac) / ARP(op=1, hwsrc=mac, psrc=a.src, pdst=a.dst)
    answer = srp1(who_has, iface=a.iface, timeout=3, retry=2)
    if answer is None or ARP not in answer:
        print(f"FAIL: no ARP answer for {a.dst} on {a.iface}")
        return 1
    dst_mac = answer[ARP].hwsrc
    print(f"ARP: {a.dst} is-at {dst_mac}")
    # What to wait for: the echo reply, from the appliance to us, to the made-up VM.
    want = argparse.Namespace(
        iface=a.iface, key=a.key, timeout=a.timeout, expect_none=a.expect_none,
        outer_src=a.dst, outer_dst=a.src, outer_mac=dst_mac, inner_src=a.ping_inner_dst,
        inner_dst=a.inner_src, broadcast=False, icmp_reply=True)
    sniffer, matched, log = start_sniffer(want)
    frame = (Ether(src=mac, dst=dst_mac)
             / IP(src=a.src, dst=a.dst, ttl=64, flags="DF")
             / GRE(key_present=1, key=a.key, proto=TEB)
             / Ether(src=a.inner_src, dst=a.ping_inner_dst)
             / IP(src=a.inner_ip_src, dst=a.inner_ip_dst)
             / ICMP(type=8, id=0x3131, seq=1) / b"vrouter-e2e")
    print(f"sent: {describe(frame)}")
    sendp(frame, iface=a.iface)
    matched.wait(a.timeout)
    sniffer.stop()
    return report(matched, log, want, f"GRE-encapsulated echo reply to {a.src}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name in ("sniff", "ping"):
        p = sub.add_parser(name)
        p.add_argument("--iface", required=True)
        p.add_argument("--key", type=int, default=2)
        p.add_argument("--timeout", type=float, default=10)
        p.add_argument("--expect-none", action="store_true")
    sniff, ping = sub.choices["sniff"], sub.choices["ping"]
    sniff.add_argument("--outer-src")
    sniff.add_argument("--outer-dst")
    sniff.add_argument("--outer-mac", help="outer source MAC")
    sniff.add_argument("--inner-src")
    sniff.add_argument("--inner-dst")
    sniff.add_argument("--broadcast", action="store_true")
    sniff.add_argument("--icmp-reply", action="store_true")
    ping.add_argument("--src", required=True, help="this peer's tunnel address")
    ping.add_argument("--dst", required=True, help="the appliance's tunnel address")
    ping.add_argument("--inner-src", required=True, help="MAC of the VM behind this peer")
    ping.add_argument("--inner-dst", dest="ping_inner_dst", required=True)
    ping.add_argument("--inner-ip-src", required=True)
    ping.add_argument("--inner-ip-dst", required=True)
    a = parser.parse_args()
    sys.exit(cmd_sniff(a) if a.cmd == "sniff" else cmd_ping(a))


if __name__ == "__main__":
    main()
