#!/usr/bin/env python3
"""Quantiles of a Prometheus histogram between two /metrics scrapes.

usage: histogram-quantiles.py BEFORE AFTER METRIC [LABEL_SUBSTRING]
Prints p50/p99 as the upper bound of the bucket holding them (the histogram's resolution)."""
import re, sys

def buckets(path, metric, label):
    counts = {}
    for line in open(path):
        m = re.match(rf'^{metric}_bucket\{{(.*)\}} (\S+)$', line.strip())
        if not m or label not in m.group(1):
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
print(f"{metric}{' ' + label if label else ''}: n={total:.0f} p50<={q(0.5) * 1000:g} ms p99<={q(0.99) * 1000:g} ms")
