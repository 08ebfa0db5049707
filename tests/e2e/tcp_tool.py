#!/usr/bin/env python3
"""TCP clients and servers for the connection tracking tests, run inside namespaces.

  serve-close PORT           accept forever; send "ok\\n" and close first (server closes first)
  churn HOST PORT N LO HI    N connections, source ports cycling LO..HI (bound with
                             SO_REUSEADDR, as the kernel reuses ports); then one port reused
                             2 s apart and one reused right after an RST; prints a summary
  serve-send PORT BYTES      accept one connection and send BYTES of the pattern, paced
  send HOST PORT BYTES       connect and send BYTES of the pattern, paced
  recv PORT                  accept one connection, read to EOF, print bytes and sha256
  fetch HOST PORT            connect, read to EOF, print bytes and sha256
  digest BYTES               print the sha256 of BYTES of the pattern

Every server prints READY once it listens. The pattern is bytes (i % 251) for i = 0.. .
"""
import hashlib
import socket
import struct
import sys
import time

CHUNK = 16384
PACE = 0.02  # seconds between chunks: a transfer of 4 MB lasts about 5 s


def pattern(n):
    block = bytes(i % 251 for i in range(251 * 66))
    out = bytearray()
    while len(out) < n:
        out += block
    return bytes(out[:n])


def listener(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(512)
    print("READY", flush=True)
    return s


def send_all(conn, total):
    data = pattern(total)
    for at in range(0, total, CHUNK):
        conn.sendall(data[at:at + CHUNK])
        time.sleep(PACE)
    conn.shutdown(socket.SHUT_WR)
    # Wait for the peer to close: every byte is acknowledged then.
    conn.settimeout(60)
    while conn.recv(4096):
        pass


def read_all(conn):
    h, n = hashlib.sha256(), 0
    conn.settimeout(60)
    while True:
        b = conn.recv(65536)
        if not b:
            break
        h.update(b)
        n += len(b)
    print(f"RECEIVED {n} {h.hexdigest()}", flush=True)


def serve_close(port):
    s = listener(port)
    while True:
        c, _ = s.accept()
        try:
            c.sendall(b"ok\n")
        finally:
            c.close()


def one(host, port, sport, rst=False):
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    c.settimeout(3)
    # The client's own previous socket on the port may still be closing: wait for it.
    for _ in range(100):
        try:
            c.bind(("0.0.0.0", sport))
            break
        except OSError:
            time.sleep(0.01)
    try:
        c.connect((host, port))
        got = b""
        while not got.endswith(b"\n"):
            b = c.recv(100)
            if not b:
                break
            got += b
        if rst:
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return got == b"ok\n"
    except OSError as e:
        print(f"FAIL sport {sport}: {e}", flush=True)
        return False
    finally:
        c.close()


def churn(host, port, n, lo, hi):
    ok = 0
    start = time.time()
    for i in range(n):
        if one(host, port, lo + i % (hi - lo + 1)):
            ok += 1
    took = time.time() - start
    print(f"CHURN {ok}/{n} in {took:.1f} s", flush=True)
    # The same port 2 s apart, and right after an RST.
    again = one(host, port, hi + 1) and (time.sleep(2) or one(host, port, hi + 1))
    print(f"REUSE_2S {'ok' if again else 'failed'}", flush=True)
    after_rst = one(host, port, hi + 2, rst=True) and one(host, port, hi + 2)
    print(f"REUSE_RST {'ok' if after_rst else 'failed'}", flush=True)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "serve-close":
        serve_close(int(args[0]))
    elif cmd == "churn":
        churn(args[0], int(args[1]), int(args[2]), int(args[3]), int(args[4]))
    elif cmd == "serve-send":
        s = listener(int(args[0]))
        c, _ = s.accept()
        print("ACCEPTED", flush=True)
        send_all(c, int(args[1]))
        print("SENT", flush=True)
    elif cmd == "send":
        c = socket.create_connection((args[0], int(args[1])), timeout=60)
        print("CONNECTED", flush=True)
        send_all(c, int(args[2]))
        print("SENT", flush=True)
    elif cmd == "recv":
        s = listener(int(args[0]))
        c, _ = s.accept()
        print("ACCEPTED", flush=True)
        read_all(c)
    elif cmd == "fetch":
        c = socket.create_connection((args[0], int(args[1])), timeout=60)
        print("CONNECTED", flush=True)
        read_all(c)
    elif cmd == "digest":
        print(hashlib.sha256(pattern(int(args[0]))).hexdigest())
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
