#!/usr/bin/env python3
"""Quantiles of a Prometheus histogram between two /metrics scrapes.

usage: histogram-quantiles.py BEFORE AFTER METRIC [LABEL_SUBSTRING[,LABEL_SUBSTRING...]]
Prints p50/p95/p99 as the upper bound of the bucket holding them (the histogram's resolution), and the share
of observations within 100 ms. Series count when their labels hold every substring given."""
import re, sys

def buckets(path, metric, label):
    counts = {}
    for line in open(path):
        m = re.match(rf'^{metric}_bucket\{{(.*)\}} (\S+)$', line.strip())
        if not m or not all(x in m.group(1) for x in label.split(',')):
            continue
        le = re.search(r'le="([^"]+)"', m.group(1)).group(1)
        counts[le] = counts.get(le, 0) + float(m.group(2))
    return counts

before, after, metric = sys.argv[1:4]
label = sys.argv[4] if len(sys.argv) > 4 else ""
b, a = buckets(before, metric, label), buckets(after, metric, label)
rows = sorted(((float('inf') if le == '+Inf' else float(le)), a[le] - b.get(le, 0)) for le in a)
total = rows[-1][1] if rows else 0
def q(p):
    for le, c in rows:
        if c >= p * total:
            return le
within = max((c for le, c in rows if le <= 0.1), default=0)
print(f"{metric}{' ' + label if label else ''}: n={total:.0f} p50<={q(0.5) * 1000:g} ms p95<={q(0.95) * 1000:g} ms"
      f" p99<={q(0.99) * 1000:g} ms within100ms={100 * within / total if total else 0:.1f}%")
