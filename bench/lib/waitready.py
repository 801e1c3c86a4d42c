#!/usr/bin/env python3
"""Polls an admin /ready URL every 5 ms until it answers 200; prints the milliseconds since T0_NS.

Usage: waitready.py URL T0_NS TIMEOUT_S. Exits 1 (printing nothing) on timeout.
"""
import sys
import time
import urllib.request


def main():
    url, t0, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    print("%.0f" % ((time.time_ns() - t0) / 1e6))
                    return 0
        except Exception:
            pass
        time.sleep(0.005)
    return 1


if __name__ == "__main__":
    sys.exit(main())
