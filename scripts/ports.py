#!/usr/bin/env python3
"""Free loopback ports for servers that child processes will bind later.

`python3 scripts/ports.py N` prints N distinct ports, one per line. They are chosen at random
below the kernel's ephemeral range (ip_local_port_range, from 32768 by default), so that no
outgoing connection made meanwhile (each takes its source port from that range) can hold one when
its server binds; port 0 would pick from inside the range. tests/e2e's `free_port` does the same.
"""
import random
import socket
import sys

_given = set()


def _pool():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return 10_000, (low if low >= 12_000 else 32768)


def free_port():
    low, high = _pool()
    for _ in range(1000):
        port = random.randrange(low, high)
        if port in _given:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _given.add(port)
        return port
    raise SystemExit(f"no free loopback port in {low}..{high}")


if __name__ == "__main__":
    for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 1):
        print(free_port())
