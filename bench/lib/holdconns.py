#!/usr/bin/env python3
"""Opens N keep-alive connections to an HTTP/1.1 server, sends one request on each, reads the
response, then holds every connection open and idle.

Prints "READY ok=<n> failed=<n> ..." once all connections are set up, then waits for SIGTERM/SIGINT
(or --hold seconds at most) and closes them. Raises its own open-files limit to the hard limit.
"""
import argparse
import asyncio
import resource
import signal
import sys
import time


async def one(host, port, request, sem, conns, stats):
    async with sem:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError as e:
            stats["connect_err"] += 1
            stats.setdefault("first_error", "connect: %s" % e)
            return
        try:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = lines[0].split(" ")[1]
            length = 0
            for line in lines[1:]:
                k, _, v = line.partition(":")
                if k.strip().lower() == "content-length":
                    length = int(v.strip())
            if length:
                await reader.readexactly(length)
            stats["status"][status] = stats["status"].get(status, 0) + 1
            if status.startswith("2"):
                stats["ok"] += 1
            else:
                stats["bad_status"] += 1
            conns.append(writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, IndexError, ValueError) as e:
            stats["io_err"] += 1
            stats.setdefault("first_error", "io: %r" % (e,))
            writer.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/64")
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--parallel", type=int, default=200)
    ap.add_argument("--setup-timeout", type=float, default=90)
    ap.add_argument("--hold", type=float, default=120)
    a = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if a.conns + 100 > hard:
        print("holdconns: open-files limit %d is too low for %d connections" % (hard, a.conns), file=sys.stderr)

    request = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: bench-holdconns\r\n\r\n"
               % (a.path, a.host, a.port)).encode()
    stats = {"ok": 0, "bad_status": 0, "connect_err": 0, "io_err": 0, "status": {}}
    conns = []
    sem = asyncio.Semaphore(a.parallel)
    t0 = time.monotonic()
    tasks = [asyncio.ensure_future(one(a.host, a.port, request, sem, conns, stats)) for _ in range(a.conns)]
    done, pending = await asyncio.wait(tasks, timeout=a.setup_timeout)
    for t in pending:
        t.cancel()
    stats["timed_out"] = len(pending)
    print("READY ok=%d failed=%d setup_s=%.2f detail=%s"
          % (len(conns), a.conns - len(conns), time.monotonic() - t0, stats), flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), timeout=a.hold)
    except asyncio.TimeoutError:
        pass
    # How many connections the server closed while they were held idle.
    closed = sum(1 for w in conns if w.transport.is_closing())
    print("CLOSED_BY_PEER %d" % closed, flush=True)
    for w in conns:
        w.transport.abort()


if __name__ == "__main__":
    asyncio.run(main())
