#!/usr/bin/python3
"""A known set of UDP flows and their echoes, to check that none is lost or duplicated.

  udp_flows.py serve --port 7000 --idle 3
      Echoes every datagram back to its sender, prefixed with the sender's address as the
      server saw it ("10.1.101.80:40001|"). Exits after --idle seconds without traffic and
      prints one line per distinct sender and the number of datagrams it sent.

  udp_flows.py send --to 10.1.101.254:7000 --flows 200 --first-port 40000 --timeout 5
      Sends one datagram ("flow-<i>") from each of --flows sockets bound to consecutive
      source ports, 2 ms apart, then collects every reply until --timeout. Prints a JSON
      summary: sent, replied (flows with a reply), missing (flows without), duplicates
      (extra replies), wrong (replies that do not echo the flow's own payload), and the
      sources the server saw. Exit 0 only if every flow got exactly one right reply.
"""

import argparse
import json
import select
import socket
import sys
import time


def serve(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", args.port))
    seen = {}
    print("ready", flush=True)
    while True:
        r, _, _ = select.select([s], [], [], args.idle)
        if not r:
            break
        data, peer = s.recvfrom(2048)
        key = "%s:%d" % peer
        seen[key] = seen.get(key, 0) + 1
        s.sendto(key.encode() + b"|" + data, peer)
    for key, n in sorted(seen.items()):
        print(key, n)


def send(args):
    host, port = args.to.rsplit(":", 1)
    dst = (host, int(port))
    socks = []
    for i in range(args.flows):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", args.first_port + i))
        s.setblocking(False)
        socks.append(s)
    for i, s in enumerate(socks):
        s.sendto(b"flow-%d" % i, dst)
        time.sleep(0.002)
    replies = [[] for _ in socks]
    index = {s.fileno(): i for i, s in enumerate(socks)}
    deadline = time.time() + args.timeout
    while time.time() < deadline:
        r, _, _ = select.select(socks, [], [], max(0.0, deadline - time.time()))
        for s in r:
            while True:
                try:
                    data, _ = s.recvfrom(2048)
                except BlockingIOError:
                    break
                replies[index[s.fileno()]].append(data)
    wrong, sources = [], set()
    for i, got in enumerate(replies):
        for data in got:
            source, _, payload = data.partition(b"|")
            if payload != b"flow-%d" % i:
                wrong.append(i)
            sources.add(source.decode(errors="replace").split(":")[0])
    summary = {
        "sent": len(socks),
        "replied": sum(1 for got in replies if got),
        "missing": [i for i, got in enumerate(replies) if not got],
        "duplicates": sum(max(0, len(got) - 1) for got in replies),
        "wrong": wrong,
        "sources": sorted(sources),
    }
    print(json.dumps(summary))
    ok = not summary["missing"] and not summary["duplicates"] and not wrong
    sys.exit(0 if ok else 1)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="mode", required=True)
    sv = sub.add_parser("serve")
    sv.add_argument("--port", type=int, required=True)
    sv.add_argument("--idle", type=float, default=3.0)
    sd = sub.add_parser("send")
    sd.add_argument("--to", required=True)
    sd.add_argument("--flows", type=int, required=True)
    sd.add_argument("--first-port", type=int, required=True)
    sd.add_argument("--timeout", type=float, default=5.0)
    args = p.parse_args()
    serve(args) if args.mode == "serve" else send(args)


if __name__ == "__main__":
    main()
