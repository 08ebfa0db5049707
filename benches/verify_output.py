#!/usr/bin/python3
"""Checks what the appliance sent on a bench path (benches/run.sh VERIFY=1): every frame
that left the sink device must pass the rules ../shared/peers/check_output.py applies to
Open vSwitch's output on the same path (imported, not copied), and as many frames must
have left as the file held.

    /usr/bin/python3 benches/verify_output.py [--peers DIR] PATH EXPECTED OUT.pcap ...

PATH: l2 | gre-l2 | snat | fip-in. OUT.pcap: the sink's tx_pcap files (one per worker).
The appliance's own ARP frames (gratuitous ARP at start, flooded to the tunnel peers,
plain or in GRE) are not forwarded traffic: they are counted and left out. Prints one
line; exit status 1 on any mismatch or a count other than EXPECTED.
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--peers", default=os.path.join(HERE, "..", "..", "shared", "peers"))
    ap.add_argument("path", choices=["l2", "gre-l2", "snat", "fip-in"])
    ap.add_argument("expected", type=int)
    ap.add_argument("out", nargs="+")
    a = ap.parse_args()
    sys.path.insert(0, a.peers)
    import check_output  # noqa: E402  (shared/peers/check_output.py, used as a module)
    from scapy.all import ARP, PcapReader  # noqa: E402

    checked, bad, own_arp, first_bad = 0, 0, 0, []
    for name in a.out:
        with PcapReader(name) as rd:
            for p in rd:
                if p.haslayer(ARP):
                    own_arp += 1
                    continue
                checked += 1
                try:
                    err = check_output.check(a.path, p)
                except (IndexError, AttributeError) as e:
                    err = "not the frame the path makes (%s)" % e
                if err:
                    bad += 1
                    if len(first_bad) < 3:
                        first_bad.append("  MISMATCH frame %d: %s\n    %s" % (checked, err, p.summary()))
    ok = bad == 0 and checked == a.expected
    print("%s %s: %d frames checked (%d expected), %d bad, %d ARP frames of the appliance left out"
          % ("OK" if ok else "FAIL", a.path, checked, a.expected, bad, own_arp))
    for line in first_bad:
        print(line)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
