#!/usr/bin/env python3
"""Turns one benchmark run's raw data (results.jsonl, memory.jsonl, meta.tsv in --dir) into markdown."""
import argparse
import json
import math
import os
import re
import statistics

LOADS = [
    ("h1-64", "HTTP/1.1 keep-alive, 64 B body", "wrk -t1 -c64, GET /64"),
    ("h1-16k", "HTTP/1.1 keep-alive, 16 KiB body", "wrk -t1 -c64, GET /16k"),
    ("h1-1m", "HTTP/1.1 keep-alive, 1 MiB body", "wrk -t1 -c64, GET /1m"),
    ("churn", "new connection per request, 64 B", "wrk -t1 -c32 -H 'Connection: close', GET /64"),
    ("h2", "HTTP/2 cleartext (prior knowledge), multiplexed, 64 B", "h2load -t1 -c16 -m10, GET /64"),
    ("paced", "HTTP/1.1 at a fixed rate, 64 B (latency)", "h2load --h1 -t1 -c16 -m1 --rps=RATE/16, GET /64"),
]
OBS_PEERS = ["legate-nostats", "legate-accesslog", "legate-tracing"]
PEERS = ["direct", "nginx", "haproxy", "legate", "legate-b", "legate-large"] + OBS_PEERS


def read_jsonl(path):
    rows = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    rows.append(json.loads(line))
    return rows


def read_meta(path):
    meta, notes = {}, []
    with open(path) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            if k == "note":
                notes.append(v)
            else:
                meta[k] = v
    return meta, notes


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def median_ci(vals, level=0.95):
    """A distribution-free confidence interval for the median of `vals`: the order statistics
    x(k) and x(n-k+1) with the largest k whose coverage, 1 - 2 P(Binomial(n, 1/2) < k), is still at
    least `level`. It assumes only that the rounds are independent draws; None below 6 rounds (the
    widest interval, min to max, covers less than 95 % there)."""
    vals = sorted(v for v in vals if v is not None)
    n = len(vals)
    k, tail, cdf = 0, (1 - level) / 2, 0.0
    for j in range(n):  # cdf = P(B < j + 1) = P(B <= j)
        cdf += math.comb(n, j) / 2 ** n
        if cdf > tail:
            break
        k = j + 1
    if k == 0:
        return None
    return vals[k - 1], vals[n - k]


def fmt_ci(vals):
    """`median (low–high)` of ratios, the interval from median_ci; just the median below 6 values."""
    m = med(vals)
    ci = median_ci(vals)
    if m is None:
        return "–"
    return "%.2f" % m if ci is None else "%.2f (%.2f–%.2f)" % (m, ci[0], ci[1])


def fmt(v, spec="{:.0f}", none="–"):
    return none if v is None else spec.format(v)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def paired(rows, load, peer, subject="legate"):
    """Per round in which both ran: (rps, p99, CPU/req, origin CPU/req) ratios of `subject` to `peer` on `load`."""
    by_round = {}
    for r in rows:
        if r["load"] == load and r["peer"] in (subject, peer) and not r.get("failed"):
            by_round.setdefault(r["round"], {})[r["peer"]] = r
    out = []
    for _, v in sorted(by_round.items()):
        if len(v) == 2:
            lg, o = v[subject], v[peer]
            out.append((ratio(lg["rps"], o["rps"]), ratio(lg.get("p99_us"), o.get("p99_us")),
                        ratio(lg.get("cpu_us_per_req"), o.get("cpu_us_per_req")),
                        ratio(lg.get("origin_cpu_us_per_req"), o.get("origin_cpu_us_per_req"))))
    return out


def summarize(rows):
    """(load, peer) -> medians over rounds of the successful runs, and totals of errors."""
    groups = {}
    for r in rows:
        groups.setdefault((r["load"], r["peer"]), []).append(r)
    out = {}
    for key, rs in groups.items():
        good = [r for r in rs if not r.get("failed")]
        out[key] = {
            "rps": med([r["rps"] for r in good]),
            "p50": med([r.get("p50_us") for r in good]),
            "p99": med([r.get("p99_us") for r in good]),
            "cpu": med([r.get("cpu_us_per_req") for r in good]),
            "origin_cpu": med([r.get("origin_cpu_us_per_req") for r in good]),
            "idle": med([r.get("core_idle") for r in good]),
            "cs": med([r.get("cs_per_req") for r in good]),
            "origin_cs": med([r.get("origin_cs_per_req") for r in good]),
            "non2xx": sum(r.get("non2xx", 0) for r in good),
            "errors": sum(r.get("sock_errors", 0) for r in good),
            "requests": sum(r.get("requests", 0) for r in good),
            "failed_runs": len(rs) - len(good),
            "runs": len(rs),
            "rps_all": [r["rps"] for r in sorted(rs, key=lambda r: r["round"])],
            "details": sorted({str(r.get("detail")) for r in rs if r.get("failed") or r.get("non2xx") or r.get("sock_errors")}),
        }
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    a = ap.parse_args()
    d = a.dir
    meta, notes = read_meta(os.path.join(d, "meta.tsv"))
    rows = read_jsonl(os.path.join(d, "results.jsonl"))
    warm = read_jsonl(os.path.join(d, "warmup.jsonl"))
    mem = read_jsonl(os.path.join(d, "memory.jsonl"))
    s = summarize(rows)
    peers = [p for p in PEERS if any(k[1] == p for k in s)]
    L = []
    w = L.append

    w("# Proxy benchmark: Legate vs nginx vs HAProxy (%s mode)" % meta.get("mode"))
    w("")
    w("Command: `%s` (took %s s%s). Raw data: `%s`." % (
        meta.get("command"), meta.get("elapsed"),
        (", of which %s s checking/building Legate" % meta["build_s"]) if meta.get("build_s") else "",
        meta.get("workdir")))
    w("")
    w("## Machine and versions")
    w("")
    w("| | |")
    w("|---|---|")
    for k, label in [("nproc", "nproc"), ("cpu", "CPU"), ("kernel", "kernel"), ("os", "OS"), ("memory", "memory"),
                     ("nofile", "open-files limit"), ("loadavg", "load average (1/5/15 min)"), ("v.nginx", "nginx -v"), ("v.haproxy", "haproxy -v"),
                     ("v.java", "java -version"), ("v.wrk", "wrk -v"), ("v.h2load", "h2load --version"),
                     ("v.legate", "legate --version"), ("legate_transport", "Legate's socket transport"),
                     ("v.python", "python3 --version")]:
        w("| %s | %s |" % (label, meta.get(k, "").replace("|", "\\|")))
    w("")
    w("## Set-up")
    w("")
    w("- Peers: %s. Origin: nginx serving 64 B, 16 KiB and 1 MiB files from the page cache (`/64`, `/16k`, `/1m`)."
      % ", ".join(meta.get("peers", "").split()))
    w("- Every proxy: %s worker thread(s) (nginx `worker_processes`, HAProxy `nbthread`, Legate `--concurrency`), "
      "HTTP/1.1 keep-alive to the origin, access logs off; Legate with `-l warning`%s."
      % (meta.get("concurrency"), (" and LEGATE_JAVA_OPTS=`%s`" % meta["legate_java_opts"]) if meta.get("legate_java_opts") else ""))
    w("- CPU pinning: %s." % meta.get("pinning"))
    w("- %s round(s) of %s s per load and peer, peers interleaved (order rotated each round)%s. Numbers are "
      "medians over the rounds." % (meta.get("rounds"), meta.get("duration"),
                                    ("; a %s s warm-up of h1-64 and h2 on every peer first" % meta.get("warmup"))
                                    if meta.get("warm_all") == "1" else ""))
    jit = sorted((k[4:], v) for k, v in meta.items() if k.startswith("jit."))
    if jit:
        w("- JIT warm-up before that (Legate only, 2 s windows cycling through the loads; `legate` at most %s s, "
          "the other JVMs h1-64 only; until a whole cycle passed with the JIT compilers under 2%% of it compiling): %s."
          % (2 * int(meta.get("jit_warm") or 0), "; ".join("%s: %s" % kv for kv in jit)))
    elif any(p.startswith("legate") for p in meta.get("peers", "").split()):
        w("- No JIT warm-up for Legate in this mode: its numbers include the JVM compiling its hot path.")
    w("- CPU/req: user+system CPU time of the proxy's processes (/proc/<pid>/stat) during the run ÷ requests "
      "completed; for `direct` it is the origin's. Latency percentiles: wrk's histogram (wrk loads) or each "
      "request's time from h2load's `--log-file` (h2load loads).")
    w("")
    w("| load | what | generator |")
    w("|---|---|---|")
    for name, what, gen in LOADS:
        if any(k[0] == name for k in s):
            w("| %s | %s | `%s` |" % (name, what, gen.replace("RATE", meta.get("rate", "?"))))
    w("")
    try:
        la = float(meta.get("loadavg", "at start 0").split()[2].rstrip(";"))
    except (IndexError, ValueError):
        la = 0.0
    if la > 0.5:
        notes.insert(0, "the machine was busy when the run started (1-min load average %.2f): other processes "
                        "compete for the two cores, so absolute numbers are low and noisy; the interleaved "
                        "rounds keep the comparison fair-ish, the ratios are the numbers to read." % la)
    if any(p.startswith("legate") for p in meta.get("peers", "").split()) and int(meta.get("jit_warm") or 0) < 20:
        notes.insert(0, "Legate ran with little or no JIT warm-up in this mode (%s s): its JVM was still compiling "
                        "its hot path, so its numbers here are far below its warm ones. Use the full mode "
                        "(`bench/run`) for Legate's numbers; this mode proves the set-up works." % meta.get("jit_warm"))
    if notes:
        w("## Notes from the run")
        w("")
        for n in notes:
            w("- %s" % n)
        w("")

    w("## Results (medians)")
    w("")
    w("| load | peer | rps | p50 ms | p99 ms | CPU µs/req | origin CPU µs/req | proxy core idle | context switches /req (proxy, origin) | non-2xx | socket errors | rps per round |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, _, _ in LOADS:
        for p in peers:
            r = s.get((name, p))
            if not r:
                continue
            w("| %s | %s | %s | %s | %s | %s | %s | %s | %s, %s | %d | %d | %s |" % (
                name, p, fmt(r["rps"]), fmt(r["p50"] and r["p50"] / 1000, "{:.2f}"),
                fmt(r["p99"] and r["p99"] / 1000, "{:.2f}"), fmt(r["cpu"], "{:.1f}"), fmt(r["origin_cpu"], "{:.1f}"),
                fmt(r["idle"] if r["idle"] is None else 100 * r["idle"], "{:.0f} %"),
                fmt(r["cs"], "{:.3f}"), fmt(r["origin_cs"], "{:.3f}"), r["non2xx"], r["errors"],
                " ".join(fmt(x) for x in r["rps_all"]) + (" (%d failed)" % r["failed_runs"] if r["failed_runs"] else "")))
    w("")

    if "legate" in peers:
        w("## Ratios (Legate ÷ peer; rps > 1 is better for Legate, p99 and CPU/req < 1 are better for Legate)")
        w("")
        w("Each ratio is the median over the rounds of that round's ratio (Legate and the peer measured within "
          "seconds of each other in the same round, in rotating order), so the machine's drift between rounds "
          "cancels; the rounds' rps ratios are listed below the table. In brackets, with 6 rounds or more: a 95 % "
          "confidence interval of that median (order statistics of the rounds' ratios, no assumption on their "
          "distribution). An interval that contains 1.00 means this run cannot tell the two apart.")
        w("")
        others = [p for p in ("nginx", "haproxy", "direct") if p in peers]
        head = ["load"]
        for p in others:
            head += ["rps L/%s" % p, "p99 L/%s" % p, "CPU L/%s" % p]
        w("| " + " | ".join(head) + " |")
        w("|---|" + "---:|" * (len(head) - 1))
        for name, _, _ in LOADS:
            lg = s.get((name, "legate"))
            if not lg:
                continue
            cells = [name]
            for p in others:
                rr = paired(rows, name, p)
                cells += [fmt_ci([x[0] for x in rr]), fmt(med([x[1] for x in rr]), "{:.2f}"),
                          fmt(med([x[2] for x in rr]), "{:.2f}")]
            w("| " + " | ".join(cells) + " |")
        w("")
        for name, _, _ in LOADS:
            if s.get((name, "legate")) and name != "paced":
                w("- %s, rps per round: %s" % (name, "; ".join(
                    "L/%s %s" % (p, " ".join(fmt(x[0], "{:.2f}") for x in paired(rows, name, p))) for p in others)))
        w("")
        w("For `paced`, every peer is offered the same rate, so its rps ratio is ~1 by construction; compare p99 there.")
        w("")

    if "legate-b" in peers and "legate" in peers:
        w("## Variant: legate-b (`%s`) ÷ legate" % meta.get("variant_opts", ""))
        w("")
        w("The same config in two JVMs, the variant started with the extra JVM options above; in every round and "
          "load the two ran back to back (alternating which went first). Each figure is the median of the "
          "rounds' ratios (in brackets, with 6 rounds or more, its 95 % confidence interval, as in the ratios "
          "above); rps > 1 and CPU < 1 favour the variant.")
        w("")
        w("| load | rps | p99 | CPU µs/req | origin CPU µs/req | rps per round |")
        w("|---|---:|---:|---:|---:|---|")
        for name, _, _ in LOADS:
            rr = paired(rows, name, "legate", subject="legate-b")
            if not rr:
                continue
            w("| %s | %s | %s | %s | %s | %s |" % (
                name, fmt_ci([x[0] for x in rr]), fmt(med([x[1] for x in rr]), "{:.2f}"),
                fmt_ci([x[2] for x in rr]), fmt(med([x[3] for x in rr]), "{:.2f}"),
                " ".join(fmt(x[0], "{:.2f}") for x in rr)))
        w("")

    if meta.get("have_large") != "1" and "legate" in peers:
        w("## Large config")
        w("")
        w("Not run in this mode (the 10,000-route config is run by the full mode, or with `--large`).")
        w("")
    if meta.get("have_large") == "1":
        w("## Large config (10,000 routes, 1,000 clusters) vs small config, Legate, h1-64")
        w("")
        sm, lg = s.get(("h1-64", "legate")), s.get(("h1-64", "legate-large"))
        if sm and lg:
            w("| config | rps | p50 ms | p99 ms | CPU µs/req | start-up to /ready ms |")
            w("|---|---:|---:|---:|---:|---:|")
            for label, r, key in (("small (1 route, 1 cluster)", sm, "legate"), ("large (10,000 routes, 1,000 clusters)", lg, "legate-large")):
                w("| %s | %s | %s | %s | %s | %s |" % (label, fmt(r["rps"]), fmt(r["p50"] and r["p50"] / 1000, "{:.2f}"),
                                                    fmt(r["p99"] and r["p99"] / 1000, "{:.2f}"), fmt(r["cpu"], "{:.1f}"),
                                                    meta.get("startup." + key, "–")))
            w("")
            by_round = {}
            for r in rows:
                if r["load"] == "h1-64" and r["peer"] in ("legate", "legate-large") and not r.get("failed"):
                    by_round.setdefault(r["round"], {})[r["peer"]] = r
            pairs = [v for _, v in sorted(by_round.items()) if len(v) == 2]
            rps_r = [ratio(v["legate-large"]["rps"], v["legate"]["rps"]) for v in pairs]
            cpu_r = [ratio(v["legate-large"].get("cpu_us_per_req"), v["legate"].get("cpu_us_per_req")) for v in pairs]
            w("large ÷ small, median of the rounds' ratios (the two run back to back in each round): rps %s, CPU/req %s "
              "(rounds: rps %s). Ratio of the medians above: rps %s, CPU/req %s. The benchmark's requests hit the "
              "catch-all virtual host, whose route list ends with the matching route after 9 others; the other 999 "
              "virtual hosts (exact domains) hold 9,990 routes and each has its own cluster."
              % (fmt(med(rps_r), "{:.2f}"), fmt(med(cpu_r), "{:.2f}"), " ".join(fmt(x, "{:.2f}") for x in rps_r),
                 fmt(ratio(lg["rps"], sm["rps"]), "{:.2f}"), fmt(ratio(lg["cpu"], sm["cpu"]), "{:.2f}")))
            w("")

    if meta.get("have_obs"):
        w("## Cost of observability (Legate, h1-64)")
        w("")
        base = s.get(("h1-64", "legate-nostats"))
        rows_obs = [("no stats (`stats_matcher: reject_all`)", "legate-nostats"),
                    ("stats (the default; the `legate` peer)", "legate"),
                    ("stats + file access log (Envoy's default format)", "legate-accesslog"),
                    ("stats + Zipkin tracing, 1 % random sampling", "legate-tracing")]
        w("| variant | rps | p99 ms | CPU µs/req | rps ÷ no stats | CPU/req ÷ no stats |")
        w("|---|---:|---:|---:|---:|---:|")
        for label, key in rows_obs:
            r = s.get(("h1-64", key))
            if not r:
                continue
            w("| %s | %s | %s | %s | %s | %s |" % (
                label, fmt(r["rps"]), fmt(r["p99"] and r["p99"] / 1000, "{:.2f}"), fmt(r["cpu"], "{:.1f}"),
                fmt(ratio(r["rps"], base and base["rps"]), "{:.2f}"), fmt(ratio(r["cpu"], base and base["cpu"]), "{:.2f}")))
        w("")
        w("Each variant is its own Legate process on the proxy core, started alone after the main rounds (no "
          "other variant compiling beside it), JIT-warmed on h1-64 until stable and measured for as many rounds; "
          "the stats row is the `legate` peer of the main rounds. The access log is written by Legate's asynchronous file logger; sampled spans "
          "are POSTed in batches to the origin, which answers 202.")
        w("")

    if mem:
        w("## Memory")
        w("")
        w("| peer | RSS at start | RSS idle (after the loads) | RSS with N idle keep-alive connections | N held | bytes per connection | closed by proxy while held |")
        w("|---|---:|---:|---:|---:|---:|---:|")
        for m in mem:
            ok = int(m["ok"])
            per = ((m["rss_conns_kb"] - m["rss_idle_kb"]) * 1024 / ok) if ok else None
            w("| %s | %s MiB | %s MiB | %s MiB | %d of %s | %s | %s |" % (
                m["peer"], fmt(m["rss_fresh_kb"] / 1024, "{:.1f}"), fmt(m["rss_idle_kb"] / 1024, "{:.1f}"),
                fmt(m["rss_conns_kb"] / 1024, "{:.1f}"), ok, m["conns"], fmt(per), m["closed_by_peer"]))
        w("")
        heaps = [m for m in mem if m.get("heap_conns_kb")]
        if heaps:
            w("")
            w("| peer | Java heap used after full GC, idle | with N connections | heap bytes per connection |")
            w("|---|---:|---:|---:|")
            for m in heaps:
                ok = int(m["ok"])
                per = ((m["heap_conns_kb"] - m["heap_idle_kb"]) * 1024 / ok) if ok else None
                w("| %s | %s MiB | %s MiB | %s |" % (m["peer"], fmt(m["heap_idle_kb"] / 1024, "{:.1f}"),
                                                    fmt(m["heap_conns_kb"] / 1024, "{:.1f}"), fmt(per)))
            w("")
            w("Heap in use comes from `jcmd <pid> GC.run` then `GC.heap_info`, taken after the RSS readings; it "
              "counts live Java objects only (not Netty's direct buffers, thread stacks or metaspace).")
            w("")
        w("RSS is VmRSS summed over the peer's processes (nginx: master + workers). Each connection sent one "
          "`GET /64` with keep-alive, read the response and stayed idle; bytes per connection = "
          "(RSS with N − RSS idle) ÷ N. For the JVM this counts heap pages touched, not live objects.")
        w("")

    starts = [(k[len("startup."):], v) for k, v in meta.items() if k.startswith("startup.")]
    if starts:
        w("## Start-up")
        w("")
        for peer, ms in starts:
            w("- %s: %s ms from exec of `./legate` to the first 200 from the admin `/ready` (polled every 5 ms)." % (peer, ms))
        w("")

    problems = []
    for key, r in sorted(s.items()):
        if r["non2xx"] or r["errors"] or r["failed_runs"]:
            problems.append("%s on %s: %d non-2xx, %d socket errors, %d failed run(s) of %d; %s" % (
                key[1], key[0], r["non2xx"], r["errors"], r["failed_runs"], r["runs"], "; ".join(r["details"])[:400]))
    for r in warm:
        if r.get("failed") or r.get("non2xx") or r.get("sock_errors"):
            problems.append("warm-up %s on %s: %s" % (r["peer"], r["load"], str(r.get("detail"))[:300]))
    w("## Errors and Legate's health")
    w("")
    if problems:
        for p in problems:
            w("- %s" % p)
    else:
        w("- No non-2xx responses and no socket errors in any measured run.")
    for peer in ["legate", "legate-large"] + OBS_PEERS:
        if peer + ".alive" in meta:
            w("- %s process alive at the end: %s." % (peer, meta[peer + ".alive"]))
        logf = os.path.join(d, peer + ".log")
        if os.path.exists(logf):
            with open(logf, errors="replace") as f:
                lines = f.read().splitlines()
            bad = [l for l in lines if re.search(r"(?i)error|exception|warn", l)]
            w("- %s log: %d lines, %d with error/exception/warn%s" % (
                peer, len(lines), len(bad), (": `" + bad[0][:200].replace("`", "'") + "`") if bad else "."))
        statf = os.path.join(d, peer + ".stats.txt")
        if os.path.exists(statf):
            with open(statf, errors="replace") as f:
                stats = f.read().splitlines()
            pick = [l for l in stats if re.search(
                r"(downstream_rq_[2-5]xx|upstream_rq_[2-5]xx|upstream_cx_total|downstream_cx_total|_rq_timeout|"
                r"_rq_reset|cx_destroy_remote_with_active_rq|rq_pending_overflow|cx_overflow|protocol_error)", l)
                and not l.endswith(": 0")]
            if pick:
                w("- %s admin /stats (non-zero counters of interest): `%s`" % (peer, "`, `".join(pick[:24])))
    w("")
    print("\n".join(L))


if __name__ == "__main__":
    main()
