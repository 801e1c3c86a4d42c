"""Parses a Prometheus text exposition (stdin) with prometheus_client's parser and checks what
that lax parser lets through: every sample belongs to a family with a TYPE line, no family is
declared twice, and each histogram series has increasing le buckets ending at +Inf equal to its
_count, and a _sum. Prints one canonical line per sample: type name{label="value",...} value
(labels sorted). Exits 1 with the reason on the first problem."""
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def fail(msg):
    print("INVALID: " + msg)
    sys.exit(1)


def main():
    text = sys.stdin.read()
    declared = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
    seen = set()
    for name in declared:
        if name in seen:
            fail("family declared twice: " + name)
        seen.add(name)
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser's own verdict
        fail("parser error: %r" % (e,))
    out = []
    for f in families:
        if f.type == "untyped":
            fail("sample outside any TYPE'd family: %s" % (f.samples,))
        if f.type == "histogram":
            series = {}
            for s in f.samples:
                key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
                series.setdefault(key, {"buckets": [], "sum": None, "count": None})
                if s.name.endswith("_bucket"):
                    if "le" not in s.labels:
                        fail("bucket without le: %s" % (s,))
                    series[key]["buckets"].append((float(s.labels["le"]), s.value))
                elif s.name.endswith("_sum"):
                    series[key]["sum"] = s.value
                elif s.name.endswith("_count"):
                    series[key]["count"] = s.value
            for key, h in series.items():
                b = h["buckets"]
                if not b or b[-1][0] != math.inf:
                    fail("%s%s: last bucket is not le=\"+Inf\"" % (f.name, key))
                for (le1, v1), (le2, v2) in zip(b, b[1:]):
                    if not le2 > le1:
                        fail("%s%s: le not increasing at %s" % (f.name, key, le2))
                    if v2 < v1:
                        fail("%s%s: cumulative count decreases at le=%s" % (f.name, key, le2))
                if h["count"] is None or h["sum"] is None:
                    fail("%s%s: missing _count or _sum" % (f.name, key))
                if h["count"] != b[-1][1]:
                    fail("%s%s: _count %s != +Inf bucket %s" % (f.name, key, h["count"], b[-1][1]))
        for s in f.samples:
            labels = ",".join('%s="%s"' % (k, v) for k, v in sorted(s.labels.items()))
            value = s.value
            if value == int(value):
                value = int(value)
            out.append("%s %s{%s} %s" % (f.type, s.name, labels, value))
    print("\n".join(out))


main()
