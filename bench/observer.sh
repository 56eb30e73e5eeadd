#!/usr/bin/env bash
# The observer's throughput and latency (issue 10): one observer (`parley up --observer`) with one webhook
# rule on a table, a fast local receiver (bench/observer_receiver.py on 127.0.0.1), and pgbench inserting
# single-row transactions into that table at fixed rates, then unthrottled; the same-run reference is
# pgbench inserting the same rows into a table no rule reads. Latency: the row's clock_timestamp() at
# insert -> the webhook received. Everything (database, observer, receiver, pgbench) shares this machine.
# Starts and stops its own stack in a temporary root. Usage: bench/observer.sh [seconds per step (default 20)]
# Writes bench/results/<date>-observer.md (and the raw receiver log next to it, not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
parley() { if [[ -f src/Parley.Cli/bin/Release/net10.0/parley.dll ]]; then dotnet src/Parley.Cli/bin/Release/net10.0/parley.dll "$@"; else ./parley "$@"; fi; }
root=$(mktemp -d /tmp/parley-bench-observer-XXXX)
raw="$root/received.txt"; : > "$raw"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 bench/observer_receiver.py "$port" "$raw" & receiver=$!
cleanup() { parley down --root "$root" >/dev/null 2>&1 || true; parley reset --yes --root "$root" >/dev/null 2>&1 || true; kill "$receiver" 2>/dev/null || true; }
trap cleanup EXIT

cat > "$root/rules.yaml" <<YAML
rules:
  - name: bench
    source: table:public.bench_orders
    on: [insert]
    when: { field: data.total, op: gt, value: 100 }
    actions:
      - name: hook
        webhook: { url: "http://127.0.0.1:$port/hook", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", timeout: 5s }
YAML
parley up --detach --port 0 --root "$root" --observer "$root/rules.yaml" >/dev/null
pp=$(parley status --json --root "$root" | python3 -c "import json,sys; print([c['port'] for c in json.load(sys.stdin)['components'] if c['name']=='primary'][0])")
export PGHOST=127.0.0.1 PGPORT=$pp PGUSER=parley PGDATABASE=parley
for t in bench_orders bench_ref; do
  psql -q -c "CREATE TABLE $t (id bigserial PRIMARY KEY, total numeric NOT NULL, status text NOT NULL, note text, created_ms double precision NOT NULL DEFAULT extract(epoch FROM clock_timestamp()) * 1000)"
done
echo "INSERT INTO bench_orders (total, status, note) VALUES (150, 'new', 'bench order');" > "$root/orders.sql"
echo "INSERT INTO bench_ref (total, status, note) VALUES (150, 'new', 'bench order');" > "$root/ref.sql"
since=0   # rows inserted before the observer read the table (its slot did not exist yet) never become events
received() { curl -sf "http://127.0.0.1:$port/flush" >/dev/null; awk -v t="$since" '$2 > t' "$raw" | wc -l; }
inserted() { psql -tAq -c "SELECT count(*) FROM bench_orders WHERE created_ms > $since"; }
drain() { # waits (at most 180 s) until every inserted row's webhook arrived
  local want; want=$(inserted)
  for _ in $(seq 1 900); do [[ $(received) -ge $want ]] && return 0; sleep 0.2; done
  echo "not drained: $(received) of $want" >&2
}
# The observer reads the table once it exists (it retries every second): count from the first row it delivered.
for _ in $(seq 1 240); do
  psql -q -c "INSERT INTO bench_orders (total, status, note) VALUES (150, 'new', 'first')"
  [[ $(received) -gt 0 ]] && break; sleep 0.5
done
since=$(head -1 "$raw" | awk '{print $2}')
# Warm-up: JIT and pools.
pgbench -n -f "$root/orders.sql" -R 200 -T 5 -c 2 -j 1 > "$root/pgbench-warmup.txt" 2>&1 || { cat "$root/pgbench-warmup.txt"; exit 1; }; drain
steps="$root/steps.txt"; : > "$steps"
step() { # name, seconds, pgbench args...
  local name=$1 t=$2; shift 2
  local from; from=$(python3 -c 'import time; print(time.time()*1000)')
  pgbench -n -f "$root/orders.sql" -T "$t" -c 8 -j 2 "$@" > "$root/pgbench-$name.txt" 2>&1
  local to; to=$(python3 -c 'import time; print(time.time()*1000)')
  drain
  echo "$name $from $to" >> "$steps"
}
step 1000 "$secs" -R 1000
step 2000 "$secs" -R 2000
step 4000 "$secs" -R 4000
# Unthrottled for half as long: what the observer has not caught up with by then it drains afterwards.
step max "$((secs / 2))"
pgbench -n -f "$root/ref.sql" -T "$((secs / 2))" -c 8 -j 2 > "$root/pgbench-ref.txt" 2>&1
out="bench/results/$(date -u +%Y-%m-%d)-observer.md"
load_after=$(cut -d" " -f1-3 /proc/loadavg)
python3 - "$raw" "$steps" "$root" "$secs" "$load_after" > "$out" <<'PY'
import sys, re, statistics
raw, steps, root, secs, load = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
rows = [tuple(map(float, l.split())) for l in open(raw) if l.strip()]
def tps(name):
    m = re.search(r"tps = ([0-9.]+)", open(f"{root}/pgbench-{name}.txt").read())
    return float(m.group(1)) if m else float("nan")
def pct(xs, p):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]
print("# Observer throughput and latency (bench/observer.sh)\n")
print(f"One observer (`parley up --observer`, defaults: 32 concurrent actions, batches of up to 1,000 events), one webhook")
print(f"rule on a table, the receiver bench/observer_receiver.py (Python, 204 at once, keep-alive) on 127.0.0.1;")
print(f"pgbench inserts single-row transactions (8 connections) for {secs} s per step at a fixed rate (-R), or")
print(f"unthrottled (max, and the reference) for {secs // 2} s. Latency = row's clock_timestamp() at insert -> webhook received. **The 2 cores are shared** by")
print(f"PostgreSQL, the observer, the receiver, pgbench and the other agents on this machine, so the figures are")
print(f"a floor for a dedicated host, not a capacity claim. Load average (1, 5, 15 min) at the end of the run: {load}.\n")
print("| step | pgbench inserts/s | webhooks/s (observer) | events | P50 ms | P95 ms | P99 ms | max ms |")
print("|---|---|---|---|---|---|---|---|")
for line in open(steps):
    name, start, end = line.split(); start, end = float(start), float(end)
    lat = [r - c for r, c in rows if start <= c <= end]
    got = [r for r, c in rows if start <= c <= end]
    if not lat: print(f"| {name} | {tps(name):.0f} | - | 0 | | | | |"); continue
    rate = len(got) / ((max(got) - min(c for r, c in rows if start <= c <= end)) / 1000)
    print(f"| {name} | {tps(name):.0f} | {rate:.0f} | {len(lat)} | {pct(lat,50):.1f} | {pct(lat,95):.1f} | {pct(lat,99):.1f} | {max(lat):.1f} |")
print(f"| reference: pgbench alone into a table no rule reads | {tps('ref'):.0f} | | | | | | |")
print("\nwebhooks/s: events of the step / (last webhook received - first insert of the step); with an unthrottled")
print("step it is the rate the observer holds while the database takes all the inserts it can.")
PY
cat "$out"
