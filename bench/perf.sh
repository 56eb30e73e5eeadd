#!/usr/bin/env bash
# Issue 13's whole table in one command: every row with its same-run reference, written to
# bench/results/<date>-perf.md (row, target, measured, reference, ratio, verdict, load average).
#
#   bench/perf.sh [--only ROW]... [--no-run] [--readme] [--out FILE]
#
# Rows: send (closed 64 conns vs pgbench's minimal durable send, and the open model at 2x that capacity: bench/send-compare.sh),
# history (closed 64 conns from the primary and with the cache flag on vs pgbench on the same query:
# bench/history-read-paths.sh), spike, soak, ws (`parley load`). --only runs some rows (repeatable) and keeps the other
# rows of an existing table of the same --out, so the rows can be measured one exclusive machine lock at a time:
#   flock -s -o /work/machine.lock ./parley up --detach --admin load_admin   # -o: the detached stack must not hold the lock
#   for r in send history spike soak ws; do flock -x /work/machine.lock bench/perf.sh --only $r; done
# --readme copies the table into README.md between its perf.sh markers (the "Load results" section); --no-run only
# rebuilds the table from the rows kept.
# Uses the server `parley up` runs from the default root; without one it starts `parley up --detach --admin load_admin`
# and stops it at the end. Durations (defaults keep the five rows under ~15 min; issue 13's full ones in brackets):
#   PERF_DURATION=20 PERF_WARMUP=5 PERF_CONNECTIONS=64   send and history runs, seconds / connections
#   SPIKE_STAGES=30s:5000,30s:10000,30s:5000            [2m:5000,1m:10000,5m:10000,1m:5000]
#   SOAK_DURATION=120s SOAK_RATE=500                    [60m]
#   WS_SOCKETS=2500 WS_RATE=1000 WS_DURATION=20s        (the ws scenario: 25 sockets per conversation, so 25 deliveries a message)
# Needs: wrk (apt-get install -y wrk), pgbench and psql (postgresql-15), curl, python3. Loopback only.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
only=() run=1 readme=0 report="bench/results/$(date -u +%F)-perf.md"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --only) only+=("$2"); shift 2 ;;
    --readme) readme=1; shift ;;
    --no-run) run=0; shift ;;
    --out) report="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
all=(send history spike soak ws)
[[ ${#only[@]} -gt 0 ]] || only=("${all[@]}")
[[ $run == 1 ]] || only=()
for r in "${only[@]}"; do [[ " ${all[*]} " == *" $r "* ]] || { echo "no row '$r': choose from ${all[*]}" >&2; exit 2; }; done
command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 4; }
duration=${PERF_DURATION:-20} warmup=${PERF_WARMUP:-5} conns=${PERF_CONNECTIONS:-64}
spike_stages=${SPIKE_STAGES:-30s:5000,30s:10000,30s:5000}
soak_duration=${SOAK_DURATION:-120s} soak_rate=${SOAK_RATE:-500}
ws_sockets=${WS_SOCKETS:-2500} ws_rate=${WS_RATE:-1000} ws_duration=${WS_DURATION:-20s}

[[ $run == 0 ]] || {
url="$(./parley status --json | python3 -c 'import json,sys; print(json.load(sys.stdin).get("url") or "")')"
if [[ -z "$url" ]]; then
  ./parley up --detach --admin load_admin > /dev/null
  trap './parley down > /dev/null 2>&1 || true' EXIT
  url="$(./parley status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')"
fi
}
raw="bench/results/$(date -u +%Y%m%d-%H%M%S)-perf"
[[ $run == 0 ]] || mkdir -p "$raw"
rows="${report%.md}.rows"   # one file per row: the table's lines, kept between --only runs
mkdir -p "$rows"
load() { cut -d' ' -f1-3 /proc/loadavg; }

row_send() {
  bench/send-compare.sh --url "$url" --duration "$duration" --warmup "$warmup" --connections "$conns" --out "$raw/send" > "$raw/send.log" 2>&1
  local l; l="$(load)"
  python3 - "$raw/send" "$conns" "$l" > "$rows/1-send.md" <<'PY'
import json, os, re, subprocess, sys
d, conns, load = sys.argv[1], sys.argv[2], sys.argv[3]
closed, opened = (json.load(open(os.path.join(d, f))) for f in ("after-closed.json", "after-open.json"))
pg = float(re.search(r"^tps = ([\d.]+)", open(os.path.join(d, "pgbench-minimal.txt")).read(), re.M).group(1))
rps = closed["ok"] / closed["measuredSeconds"]
p95 = closed["latency"]["p95"]
ok = rps >= pg and p95 <= 50
print(f"| send, closed {conns} conns | ≥ 1.0× pgbench, p95 ≤ 50 ms | {rps:,.0f} req/s, p95 {p95:.0f} ms, {100 * closed['errorRate']:.1f}% errors "
      f"| pgbench minimal durable send, {conns} clients: {pg:,.0f} tx/s | {rps / pg:.2f}× | {'met' if ok else '**not met**'} | {load} |")
st = opened["operations"].get("send", {}).get("statuses", {})
total = sum(st.values()) or 1
offered = re.search(r"[\d.]+", opened["plan"]).group(0)
def server(status):
    out = subprocess.run([sys.executable, "bench/histogram-quantiles.py", os.path.join(d, "metrics-before-open.txt"),
                          os.path.join(d, "metrics-after-open.txt"), "http_server_request_duration_seconds",
                          f'http_request_method="POST",http_response_status_code="{status}"'], capture_output=True, text=True).stdout
    m = re.search(r"n=(\d+) p50<=(\S+) ms p95<=(\S+) ms p99<=(\S+) ms within100ms=([\d.]+)%", out)
    return m.groups() if m else ("0", "-", "-", "-", "0")
r503, r201 = server(503), server(201)
done = opened["ok"] / opened["measuredSeconds"]
# The 201s' own client-side p95 (the load kit's latency per status); the server's buckets only bound it.
acc = (opened["operations"].get("send", {}).get("latencyByStatus") or {}).get("201")
acc_p95 = acc["p95"] if acc else (float(r201[2]) if r201[2] != "-" else None)
ok = float(r503[4]) >= 99 and acc_p95 is not None and acc_p95 <= 2 * p95
print(f"| send, open at 2× capacity ({float(offered):,.0f} req/s) | 503 + Retry-After ≤ 100 ms; accepted p95 ≤ 2× p95 at capacity "
      f"| {done:,.0f} req/s done, {100 * st.get('503', 0) / total:.1f}% 503 (server-side p50 ≤ {r503[1]}, p95 ≤ {r503[2]} ms, "
      f"{r503[4]}% ≤ 100 ms), accepted (201) p95 {acc_p95 if acc_p95 is not None else '-'} ms (server-side ≤ {r201[2]} ms); client p95 of all answers {opened['latency']['p95']:.0f} ms "
      f"| closed capacity, same run: {rps:,.0f} req/s, p95 {p95:.0f} ms | {done / rps:.2f}× of capacity done; accepted p95 {(acc_p95 or 0) / p95:.2f}× "
      f"| {'met' if ok else '**not met**'} | {load} |")
PY
}

row_history() {
  OUT="$raw/history" bench/history-read-paths.sh "$duration" "$conns" > "$raw/history.log" 2>&1
  local l; l="$(load)"
  python3 - "$raw/history/summary.txt" "$conns" "$l" > "$rows/2-history.md" <<'PY'
import re, sys
text, conns, load = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3]
pg = float(re.search(r"^pgbench\s+([\d.]+) tx/s", text, re.M).group(1))
def run(name):
    m = re.search(rf"^{name}\s+([\d.]+) req/s\s+p50 (\S+)\s+p99 (\S+)", text, re.M)
    return float(m.group(1)), m.group(2), m.group(3)
for name, label, target in (("primary", "from the database", 0.6), ("cache", "cache flag on", 1.5)):
    rps, p50, p99 = run(name)
    print(f"| history, closed {conns} conns, {label} (wrk) | ≥ {target}× pgbench | {rps:,.0f} req/s, p50 {p50}, p99 {p99} "
          f"| pgbench same query, {conns} clients: {pg:,.0f} tx/s | {rps / pg:.2f}× | {'met' if rps / pg >= target else '**not met**'} | {load} |")
PY
}

# A `parley load` run, its summary exported beside the raw outputs.
run_load() { # name scenario args...
  local name="$1"; shift
  # A gate that cannot fail: the SLO gates would stop the run after --gate-window; the table judges the whole run.
  ./parley load "$@" --gate 'errors<100%' --results "$raw" --summary-export "$raw/$name.json" > "$raw/$name.log" 2>&1 || true
}
# One `parley load` summary as a table line: kind summary.json load-average args...
load_row() {
  python3 - "$@" <<'PY'
import json, sys
kind, path, load, *args = sys.argv[1:]
s = json.load(open(path)); srv = s["server"]; c = s["counters"]
mb = lambda b: f"{(b or 0) / 2**20:,.0f}"
growth = srv.get("memoryGrowth") or 0
memory = (f"memory {mb(srv.get('workingSetStartBytes'))} → {mb(srv.get('workingSetEndBytes'))} MB ({100 * growth:+.1f}%), "
          f"max {mb(srv.get('workingSetMaxBytes'))} MB, {srv.get('gcCollections') or 0:,.0f} GCs, {srv.get('gcPauseSeconds') or 0:.2f} s GC pauses")
verdict = lambda ok: "met" if ok else "**not met**"
if kind == "spike":
    p95 = s["latency"]["p95"]
    print(f"| spike {args[0]} held conns (closed, one request / 10 s each) | 0 errors, p95 ≤ 150 ms; memory back near its start (≤ +10%) "
          f"| {s['requests']:,} requests, {s['errors']} errors, p95 {p95:.1f} ms; {memory} | its own memory at the start (the same run) "
          f"| end/start {1 + growth:.2f}× | {verdict(s['errors'] == 0 and p95 <= 150 and growth <= 0.10)} | {load} |")
elif kind == "soak":
    print(f"| soak {args[0]} msg/s of 1 KiB for {args[1]} (30 s warm-up) | memory growth after warm-up < 5% (issue: over 60 min) "
          f"| {s['ok']:,} sends, {s['errors']} errors, p95 {s['latency']['p95']:.1f} ms, {c.get('lost', '?')} lost; {memory} "
          f"| its own memory after warm-up (the same run) | end/start {1 + growth:.2f}× | {verdict(growth < 0.05 and s['errors'] == 0 and s['ok'] >= 0.99 * float(args[0]) * s['measuredSeconds'])} | {load} |")
else:
    d = s["histograms"].get("delivery", {})
    rate = d.get("count", 0) / s["measuredSeconds"]
    ok = rate >= 25000 and d.get("p99", 1e9) < 100 and c.get("lost", 1) == 0 and c.get("disconnects", 1) == 0
    print(f"| ws fan-out, {int(args[0]):,} sockets, {int(args[1]):,} msg/s offered | ≥ 25,000 deliveries/s, delivery p99 < 100 ms, 0 lost, 0 disconnects "
          f"| {rate:,.0f} deliveries/s ({s['ok'] / s['measuredSeconds']:,.0f} msg/s accepted), delivery p99 {d.get('p99', 0):.0f} ms, "
          f"{c.get('lost', '?')} lost, {c.get('duplicates', '?')} duplicates, {c.get('disconnects', '?')} disconnects "
          f"| Centrifugo's published ~25,000 deliveries/s a node (not same-run: no WebSocket reference tool here) | {rate / 25000:.2f}× | {verdict(ok)} | {load} |")
PY
}

row_spike() {
  run_load spike spike --closed --stages "$spike_stages" --warmup "${warmup}s"
  load_row spike "$raw/spike.json" "$(load)" "$spike_stages" > "$rows/3-spike.md"
}

row_soak() {
  run_load soak soak --rate "$soak_rate" --duration "$soak_duration" --warmup 30s
  load_row soak "$raw/soak.json" "$(load)" "$soak_rate" "$soak_duration" > "$rows/4-soak.md"
}

row_ws() {
  run_load ws ws --connections "$ws_sockets" --rate "$ws_rate" --duration "$ws_duration"
  load_row ws "$raw/ws.json" "$(load)" "$ws_sockets" "$ws_rate" > "$rows/5-ws.md"
}

for r in "${only[@]+"${only[@]}"}"; do echo "perf.sh: $r ..." >&2; "row_$r"; done

{
  echo "# Issue 13's table, $(date -u '+%Y-%m-%d') (bench/perf.sh)"
  echo
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/2^20}' /proc/meminfo), $(uname -sr); shared by the stack of \`parley up\`"
  echo "(PostgreSQL primary + synchronous replica, Redis, HAProxy), the server, the load generator and other engineers' builds"
  echo "and tests. Each row's load average was read at its end; rows measured at different times compare only through their ratios."
  echo "Each row says what it offered; send and history ran PERF_DURATION s (default 20) after a 5 s warm-up. Raw outputs: \`bench/results/*-perf/\`."
  echo
  echo "| row | target | measured | reference | ratio | verdict | load average |"
  echo "|---|---|---|---|---|---|---|"
  cat "$rows"/*.md
} > "$report"
cat "$report"

if [[ $readme == 1 ]]; then
  python3 - "$report" <<'PY'
import re, sys
table = open(sys.argv[1]).read().split("\n", 2)[2].strip()
readme = open("README.md").read()
begin, end = "<!-- perf.sh:begin -->", "<!-- perf.sh:end -->"
assert begin in readme and end in readme, "README.md has no perf.sh markers"
head, rest = readme.split(begin, 1)
open("README.md", "w").write(f"{head}{begin}\nFrom `{sys.argv[1]}` (`bench/perf.sh --readme`):\n\n{table}\n{end}{rest.split(end, 1)[1]}")
PY
fi
