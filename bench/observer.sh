#!/usr/bin/env bash
# The observer's throughput and latency (issue 10) through `parley load observer`: a stack of its own (`parley up`
# in a temporary root), one observer (`parley observer run`, a process of its own) with one webhook rule on a table of
# the run, the load kit's counting receiver on 127.0.0.1 (verifies every signature, counts per webhook-id), rows
# inserted by pgbench (-R, 8 connections, its own process; ROWS_PER_TX rows per transaction, default 1) at each rate;
# latency = the row's clock_timestamp() at insert -> webhook received. The same-run reference: pgbench inserting the
# same rows the same way, unthrottled, into a table no rule reads. Everything shares this machine.
# Usage: [ROWS_PER_TX=N] bench/observer.sh [seconds per step (default 20)] [rates (default "1000 2000 4000")]
# Appends a dated section to bench/results/<date>-observer.md (never rewrites what is there).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
rates=${2:-"1000 2000 4000"}
. bench/observer-stack.sh
status=0
for rate in $rates; do
  parley --json load observer --root "$root" --inserter pgbench --rows-per-tx "${ROWS_PER_TX:-1}" --rate "$rate" --duration "${secs}s" --reference "$((secs / 2))s" > "$root/run-$rate.json" 2>"$root/run-$rate.log" || status=1
done
out="bench/results/$(date -u +%Y-%m-%d)-observer.md"
[[ -f $out ]] || printf '# Observer throughput and latency (bench/observer.sh, `parley load observer`)\n\nEach section is one run of the script; sections are only ever appended.\n' > "$out"
python3 - "$root" "$secs" "$rates" "$(uptime)" "$(git rev-parse --short HEAD)" "${ROWS_PER_TX:-1}" >> "$out" <<'PY'
import sys, json, datetime
root, secs, rates, uptime, commit, per_tx = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4], sys.argv[5], int(sys.argv[6])
now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
print(f"\n## {now}, commit {commit} (ROWS_PER_TX={per_tx} bench/observer.sh {secs} \"{' '.join(rates)}\")\n")
print(f"One observer process (defaults), one webhook rule on a table of the run, the load kit's counting receiver (Kestrel on")
print(f"127.0.0.1, every signature verified); rows inserted {per_tx} per transaction by pgbench -R (8 connections) for {secs} s per rate;")
print(f"the reference inserts them the same way ({per_tx} per transaction), unthrottled.")
print(f"Latency = the row's clock_timestamp() at insert -> webhook received. **The 2 cores are shared** by PostgreSQL, the observer,")
print(f"the receiver, pgbench and any other work on this machine. `uptime` at the end: {uptime.strip()}.\n")
print("| rows/s asked | inserted/s | webhooks/s | events | lost | duplicated | late >100 ms | P50 ms | P95 ms | P99 ms | max ms | same-run pgbench reference inserts/s | webhooks/s ÷ reference | stage means ms | load average |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for rate in rates:
    try: r = json.load(open(f"{root}/run-{rate}.json"))
    except Exception as e: print(f"| {rate} | run failed: {e} |"); continue
    l = r["latency"]; ref = r.get("referenceInsertsPerSecond") or float("nan")
    st = ", ".join(f"{s['stage']} {s['sumSeconds']*1000/max(1,s['count']):.1f}" for s in r.get("stages", []) if s["stage"] in ("stream", "enqueue", "run", "record", "claim"))
    print(f"| {rate} | {r['insertsPerSecond']:.0f} | {r['deliveredPerSecond']:.0f} | {r['inserted']} | {r['lost']} | {r['duplicated']} | {r['late']} | {l['p50']:.1f} | {l['p95']:.1f} | {l['p99']:.1f} | {l['max']:.1f} | {ref:.0f} | {r['deliveredPerSecond']/ref:.0%} | {st} | {r['loadAverage']} |")
PY
tail -n 8 "$out"
exit $status
