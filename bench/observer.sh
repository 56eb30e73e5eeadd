#!/usr/bin/env bash
# The observer's throughput and latency (issue 10) through `parley load observer`: a stack of its own (`parley up`
# in a temporary root), one observer group in the load process with one webhook rule on a table of the run, the
# load kit's counting receiver on 127.0.0.1 (verifies every signature, counts per webhook-id), rows inserted one per
# transaction at each rate; latency = the row's clock_timestamp() at insert -> webhook received. The same-run
# references: the run's own unthrottled inserts into a table no rule reads, and pgbench inserting the same rows
# (8 connections) into such a table. Everything shares this machine.
# Usage: bench/observer.sh [seconds per step (default 20)] [rates (default "1000 2000 4000")]
# Writes bench/results/<date>-observer.md.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
rates=${2:-"1000 2000 4000"}
parley() { if [[ -f src/Parley.Cli/bin/Release/net10.0/parley.dll ]]; then dotnet src/Parley.Cli/bin/Release/net10.0/parley.dll "$@"; else ./parley "$@"; fi; }
root=$(mktemp -d /tmp/parley-bench-observer-XXXX)
cleanup() { parley down --root "$root" >/dev/null 2>&1 || true; parley reset --yes --root "$root" >/dev/null 2>&1 || true; }
trap cleanup EXIT
parley up --detach --port 0 --root "$root" >/dev/null
pp=$(parley status --json --root "$root" | python3 -c "import json,sys; print([c['port'] for c in json.load(sys.stdin)['components'] if c['name']=='primary'][0])")
export PGHOST=127.0.0.1 PGPORT=$pp PGUSER=parley PGDATABASE=parley
# Warm-up (JIT, pools), not reported.
parley load observer --root "$root" --rate 200 --duration 5s --reference 0s >/dev/null 2>&1 || true
status=0
for rate in $rates; do
  parley --json load observer --root "$root" --rate "$rate" --duration "${secs}s" --reference "$((secs / 2))s" > "$root/run-$rate.json" 2>"$root/run-$rate.log" || status=1
done
psql -q -c "CREATE TABLE bench_ref (id bigserial PRIMARY KEY, note text NOT NULL, created_ms double precision NOT NULL DEFAULT extract(epoch FROM clock_timestamp()) * 1000)"
echo "INSERT INTO bench_ref (note) VALUES (repeat('n', 200));" > "$root/ref.sql"
pgbench -n -f "$root/ref.sql" -T "$((secs / 2))" -c 8 -j 2 > "$root/pgbench-ref.txt" 2>&1
out="bench/results/$(date -u +%Y-%m-%d)-observer.md"
python3 - "$root" "$secs" "$rates" "$(cut -d' ' -f1-3 /proc/loadavg)" > "$out" <<'PY'
import sys, re, json
root, secs, rates, load = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4]
pg = float(re.search(r"tps = ([0-9.]+)", open(f"{root}/pgbench-ref.txt").read()).group(1))
print("# Observer throughput and latency (bench/observer.sh, `parley load observer`)\n")
print(f"One observer (defaults: 128 concurrent actions, batches of up to 1,000 events) in the load process, one webhook rule on")
print(f"a table of the run, the load kit's counting receiver (Kestrel on 127.0.0.1, every signature verified); rows inserted one")
print(f"per transaction (8 connections) for {secs} s per rate. Latency = the row's clock_timestamp() at insert -> webhook received.")
print(f"**The 2 cores are shared** by PostgreSQL, the observer, the receiver, the inserters and the other agents on this machine.")
print(f"Load average (1, 5, 15 min) at the end: {load}. pgbench alone (same rows, 8 connections, into a table no rule reads): {pg:.0f} inserts/s.\n")
print("| rows/s asked | inserted/s | webhooks/s | events | lost | duplicated | late >100 ms | P50 ms | P95 ms | P99 ms | max ms | same-run reference inserts/s | webhooks/s ÷ reference | load average |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for rate in rates:
    try: r = json.load(open(f"{root}/run-{rate}.json"))
    except Exception as e: print(f"| {rate} | run failed: {e} |"); continue
    l = r["latency"]; ref = r.get("referenceInsertsPerSecond") or float("nan")
    print(f"| {rate} | {r['insertsPerSecond']:.0f} | {r['deliveredPerSecond']:.0f} | {r['inserted']} | {r['lost']} | {r['duplicated']} | {r['late']} | {l['p50']:.1f} | {l['p95']:.1f} | {l['p99']:.1f} | {l['max']:.1f} | {ref:.0f} | {r['deliveredPerSecond']/ref:.0%} | {r['loadAverage']} |")
PY
cat "$out"
exit $status
