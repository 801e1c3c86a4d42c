#!/usr/bin/env python3
"""Writes an observability variant of the benchmark's Legate config (bench/run --observability).

  nostats    stats_config.stats_matcher.reject_all: the stats store hands out no-op stats
  accesslog  the HCM writes Envoy's default access-log line per request to a file
  tracing    the HCM traces with Zipkin, random_sampling 1 %, spans POSTed to the origin (which
             answers 202 on /api/v2/spans)

The input is bench/conf/legate.yaml as rendered by bench/run; the admin and listener ports are the
first two `port_value`s in it, in that order.
"""
import argparse
import re

ap = argparse.ArgumentParser()
ap.add_argument("--variant", required=True, choices=["nostats", "accesslog", "tracing"])
ap.add_argument("--in", dest="src", required=True)
ap.add_argument("--out", required=True)
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--admin-port", type=int, required=True)
ap.add_argument("--access-log", required=True)
ap.add_argument("--zipkin-port", type=int, required=True)
a = ap.parse_args()

text = open(a.src).read()
ports = iter([a.admin_port, a.port])
text = re.sub(r"port_value: \d+", lambda m: "port_value: %d" % next(ports), text, count=2)

hcm_anchor = "          stat_prefix: bench\n"
if hcm_anchor not in text:
    raise SystemExit("obs_variant: '%s' not found in %s" % (hcm_anchor.strip(), a.src))

if a.variant == "nostats":
    text = "stats_config: { stats_matcher: { reject_all: true } }\n" + text
elif a.variant == "accesslog":
    text = text.replace(hcm_anchor, hcm_anchor + (
        "          access_log:\n"
        "          - name: envoy.access_loggers.file\n"
        "            typed_config:\n"
        "              \"@type\": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog\n"
        "              path: %s\n") % a.access_log)
else:
    text = text.replace(hcm_anchor, hcm_anchor + (
        "          tracing:\n"
        "            random_sampling: { value: 1 }\n"
        "            provider:\n"
        "              name: envoy.tracers.zipkin\n"
        "              typed_config:\n"
        "                \"@type\": type.googleapis.com/envoy.config.trace.v3.ZipkinConfig\n"
        "                collector_cluster: zipkin\n"
        "                collector_endpoint: /api/v2/spans\n"
        "                collector_endpoint_version: HTTP_JSON\n"))
    text = text.rstrip("\n") + "\n" + (
        "  - name: zipkin\n"
        "    type: STATIC\n"
        "    connect_timeout: 1s\n"
        "    load_assignment:\n"
        "      cluster_name: zipkin\n"
        "      endpoints:\n"
        "      - lb_endpoints:\n"
        "        - endpoint:\n"
        "            address:\n"
        "              socket_address: { address: 127.0.0.1, port_value: %d }\n") % a.zipkin_port
open(a.out, "w").write(text)
