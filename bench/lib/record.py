#!/usr/bin/env python3
"""Parses one wrk or h2load run and appends one JSON line to the results file.

wrk: the WRKJSON line printed by report.lua. h2load: its summary lines, and the per-request log
(--log-file) for the latency percentiles (h2load itself prints none).
"""
import argparse
import json
import os
import re
import sys


def percentile(sorted_vals, p):
    if not sorted_vals:
        return None
    k = max(0, min(len(sorted_vals) - 1, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def parse_wrk(text):
    m = re.search(r"^WRKJSON (\{.*\})$", text, re.M)
    if not m:
        return None
    d = json.loads(m.group(1))
    secs = d["duration_us"] / 1e6
    return {
        "requests": d["requests"],
        "seconds": secs,
        "rps": d["requests"] / secs if secs > 0 else 0.0,
        "p50_us": d["p50_us"],
        "p99_us": d["p99_us"],
        "max_us": d["max_us"],
        "non2xx": d["err_status"],
        "sock_errors": d["err_connect"] + d["err_read"] + d["err_write"] + d["err_timeout"],
        "bytes": d["bytes"],
        "detail": "connect=%d read=%d write=%d timeout=%d status=%d" % (
            d["err_connect"], d["err_read"], d["err_write"], d["err_timeout"], d["err_status"]),
    }


def parse_h2load(text, log):
    m = re.search(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s", text)
    r = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                  r"(\d+) errored, (\d+) timeout", text)
    s = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    t = re.search(r"traffic: .*?\((\d+)\) total", text)
    if not (m and r and s):
        return None
    secs = float(m.group(1)) / (1000.0 if m.group(2) == "ms" else 1.0)
    total, started, done, ok, failed, errored, timeout = (int(x) for x in r.groups())
    durations = []
    statuses = {}
    if log and os.path.exists(log):
        with open(log) as f:
            for line in f:
                parts = line.split("\t")
                if len(parts) >= 3:
                    statuses[parts[1]] = statuses.get(parts[1], 0) + 1
                    durations.append(int(parts[2]))
    durations.sort()
    non2xx = int(s.group(2)) + int(s.group(3)) + int(s.group(4))
    return {
        "requests": done,
        "seconds": secs,
        "rps": float(m.group(3)),
        "p50_us": percentile(durations, 50),
        "p99_us": percentile(durations, 99),
        "max_us": durations[-1] if durations else None,
        "non2xx": non2xx,
        "sock_errors": failed + errored + timeout - 0,
        "bytes": int(t.group(1)) if t else None,
        "detail": "total=%d started=%d done=%d succeeded=%d failed=%d errored=%d timeout=%d 2xx=%s 3xx=%s 4xx=%s 5xx=%s"
                  % (total, started, done, ok, failed, errored, timeout, *s.groups()),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", choices=["wrk", "h2load"], required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--log")
    ap.add_argument("--peer", required=True)
    ap.add_argument("--load", required=True)
    ap.add_argument("--round", type=int, required=True)
    ap.add_argument("--cpu-ticks", type=int, required=True)
    ap.add_argument("--clk-tck", type=int, required=True)
    ap.add_argument("--exit-code", type=int, default=0)
    ap.add_argument("--origin-ticks", type=int)
    ap.add_argument("--idle-ticks", type=int)
    ap.add_argument("--ctx-switches", type=int)
    ap.add_argument("--origin-ctx-switches", type=int)
    ap.add_argument("--wall-ms", type=int)
    ap.add_argument("--results", required=True)
    a = ap.parse_args()

    with open(a.out, errors="replace") as f:
        text = f.read()
    res = parse_wrk(text) if a.tool == "wrk" else parse_h2load(text, a.log)
    row = {"peer": a.peer, "load": a.load, "round": a.round, "exit_code": a.exit_code}
    if res is None:
        row.update({"failed": True, "requests": 0, "rps": 0.0, "detail": text.strip().splitlines()[-3:] if text.strip() else "no output"})
    else:
        row.update(res)
        row["cpu_s"] = a.cpu_ticks / a.clk_tck
        row["cpu_us_per_req"] = (row["cpu_s"] * 1e6 / res["requests"]) if res["requests"] else None
        if a.origin_ticks is not None and a.peer != "direct" and res["requests"]:
            row["origin_cpu_us_per_req"] = a.origin_ticks / a.clk_tck * 1e6 / res["requests"]
        if a.ctx_switches is not None and res["requests"]:
            row["cs_per_req"] = a.ctx_switches / res["requests"]
        if a.origin_ctx_switches is not None and a.peer != "direct" and res["requests"]:
            row["origin_cs_per_req"] = a.origin_ctx_switches / res["requests"]
        if a.idle_ticks is not None and a.wall_ms:
            row["core_idle"] = min(1.0, a.idle_ticks / a.clk_tck / (a.wall_ms / 1000.0))
    with open(a.results, "a") as f:
        f.write(json.dumps(row) + "\n")
    short = ("FAILED %s" % row["detail"]) if res is None else (
        "%9.0f rps  p50 %7.2f ms  p99 %7.2f ms  cpu %6.1f us/req  non2xx %d  errors %d" % (
            row["rps"], (row["p50_us"] or 0) / 1000, (row["p99_us"] or 0) / 1000,
            row["cpu_us_per_req"] or 0, row["non2xx"], row["sock_errors"]))
    print("  round %d  %-8s %-12s %s" % (a.round, a.load, a.peer, short), file=sys.stderr)


if __name__ == "__main__":
    main()
