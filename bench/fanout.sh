#!/usr/bin/env bash
# The small end of docs/SCALE.md's curve, measured: the same WebSocket load (`parley load ws`: sockets held through the
# balancer, messages sent over HTTP) on 1, 2, 4 ... server nodes of one local stack: the stream entries the nodes read
# (parley_stream_acknowledged_total) against the messages stored and the frames delivered to sockets
# (parley_stream_delivered_total), plus Redis's commands per second by command and its CPU (INFO commandstats / cpu) and
# the WAL a message costs. Every node reads every event today, so entries read per message grow as N.
# `parley up --nodes N` runs its nodes in one process, whose meter they share: each node's /metrics shows the counters
# of all of them, so the figures here are totals over the nodes (averaged over the nodes' scrapes), not per node.
#
#   bench/fanout.sh [--nodes "1 2 4"] [--rate 200] [--sockets 200] [--duration 20s]
#
# Starts its own stack under a fresh temporary root for each N (`parley up --detach --nodes N --port 0`), and stops it.
# Writes bench/results/<date>-fanout.md. The load generator, the nodes, PostgreSQL and Redis share this machine's cores.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
parley="$repo/parley"
nodes_list="1 2 4" rate=200 sockets=200 duration=20s
while [[ $# -gt 0 ]]; do
  case "$1" in
    --nodes) nodes_list="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --sockets) sockets="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    *) echo "unknown argument $1 (usage: bench/fanout.sh [--nodes \"1 2 4\"] [--rate N] [--sockets N] [--duration 20s])" >&2; exit 2 ;;
  esac
done
command -v redis-cli >/dev/null || { echo "redis-cli not found: apt-get install -y redis-tools" >&2; exit 4; }
work="$(mktemp -d)"
root=""
cleanup() { [[ -n "$root" ]] && "$parley" down --root "$root" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

# One snapshot: each node's two counters and Redis's command counts and CPU, as JSON on stdout.
snapshot() {
  python3 - "$1" "$2" <<'EOF'
import json, os, re, subprocess, sys, urllib.request
status = json.load(open(sys.argv[1]))
primary = dict(kv.split("=", 1) for kv in json.load(open(os.path.join(sys.argv[2], "stack.json")))["primaryConnectionString"].split(";"))
comps = {c["name"]: c for c in status["components"]}
out = {"nodes": {}, "redis": {}}
for name, c in sorted(comps.items()):
    if not name.startswith("node-"):
        continue
    text = urllib.request.urlopen(f"http://127.0.0.1:{c['port']}/metrics", timeout=10).read().decode()
    def total(series):
        return sum(float(m.group(1)) for m in re.finditer(rf"^{series}(?:{{[^}}]*}})? (\S+)$", text, re.M))
    out["nodes"][name] = {"read": total("parley_stream_acknowledged_total"), "delivered": total("parley_stream_delivered_total")}
info = subprocess.run(["redis-cli", "-p", str(comps["redis"]["port"]), "INFO", "all"], capture_output=True, text=True, timeout=10).stdout
for line in info.splitlines():
    m = re.match(r"cmdstat_(\w+):calls=(\d+)", line)
    if m:
        out["redis"][m.group(1)] = int(m.group(2))
    m = re.match(r"used_cpu_(sys|user):([\d.]+)", line)
    if m:
        out["redis"]["cpu_" + m.group(1)] = float(m.group(2))
# WAL written and messages stored, for the WAL bytes a message costs.
sql = "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, (SELECT count(*) FROM messages)"
row = subprocess.run(["psql", "-h", primary["Host"], "-p", primary["Port"], "-U", primary["Username"], "-d", primary["Database"], "-XAtc", sql],
                     capture_output=True, text=True, timeout=30).stdout.strip().split("|")
out["wal"], out["messages"] = int(row[0]), int(row[1])
json.dump(out, sys.stdout)
EOF
}

rows="$work/rows.jsonl"
: > "$rows"
for n in $nodes_list; do
  root="$work/root-$n"
  echo "== $n node(s): starting the stack ..." >&2
  "$parley" up --detach --root "$root" --nodes "$n" --port 0 --async-replica >"$work/up-$n.log" 2>&1 \
    || { cat "$work/up-$n.log" >&2; exit 1; }
  "$parley" status --json --root "$root" > "$work/status-$n.json" || true
  # Sockets are opened during the load's setup: the counters are read once they are open (the warm-up) and after.
  "$parley" load ws --root "$root" --rate "$rate" --connections "$sockets" --duration "$duration" --warmup 5s \
    --gate 'lost==0' --json > "$work/load-$n.json" 2>"$work/load-$n.err" &
  load=$!
  # Bounded wait (5 min) until the nodes hold every socket, then past the 5 s warm-up.
  python3 - "$work/status-$n.json" "$sockets" <<'EOF2' || { echo "the sockets never all opened" >&2; kill "$load"; exit 1; }
import json, re, sys, time, urllib.request
ports = [c["port"] for c in json.load(open(sys.argv[1]))["components"] if c["name"].startswith("node-")]
deadline = time.time() + 300
while time.time() < deadline:
    held = 0
    for port in ports:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        held += sum(float(m.group(1)) for m in re.finditer(r"^parley_ws_connections(?:{[^}]*})? (\S+)$", text, re.M))
    if held >= int(sys.argv[2]):
        sys.exit(0)
    time.sleep(0.5)
sys.exit(1)
EOF2
  sleep 6
  snapshot "$work/status-$n.json" "$root" > "$work/before-$n.json"
  start=$(date +%s.%N)
  wait "$load" || echo "   (load exited $? — its report is in the row)" >&2
  snapshot "$work/status-$n.json" "$root" > "$work/after-$n.json"
  end=$(date +%s.%N)
  python3 - "$n" "$work/before-$n.json" "$work/after-$n.json" "$start" "$end" "$work/load-$n.json" "$(cut -d' ' -f1-3 /proc/loadavg)" >> "$rows" <<'EOF'
import json, sys
n, b, a, start, end, load, avg = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3])), float(sys.argv[4]), float(sys.argv[5]), sys.argv[6], sys.argv[7]
secs = end - start
nodes = {k: {f: (a["nodes"][k][f] - b["nodes"].get(k, {}).get(f, 0)) / secs for f in ("read", "delivered")} for k in a["nodes"]}
cmds = {k: (v - b["redis"].get(k, 0)) / secs for k, v in a["redis"].items() if not k.startswith("cpu_")}
cpu = sum(a["redis"][k] - b["redis"].get(k, 0) for k in ("cpu_sys", "cpu_user")) / secs
messages = a["messages"] - b["messages"]
wal = (a["wal"] - b["wal"]) / messages if messages else float("nan")
try:
    summary = json.load(open(load))
except Exception:
    summary = {}
json.dump({"nodes": int(n), "seconds": secs, "per_node": nodes, "redis_cmds": cmds, "redis_cpu": cpu, "messages_per_s": messages / secs, "wal_per_message": wal, "load_average": avg,
           "load": {k: summary.get(k) for k in ("verdict", "requests", "errors", "counters") if k in summary}}, sys.stdout)
print()
EOF
  "$parley" down --root "$root" >/dev/null 2>&1 || true
  root=""
done

out="$repo/bench/results/$(date -u +%Y-%m-%d-%H%M)-fanout.md"
python3 - "$rows" "$rate" "$sockets" "$duration" > "$out" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rate, sockets, duration = sys.argv[2:5]
print(f"# Fan-out by node count ({rows[0]['nodes'] if rows else '-'}..{rows[-1]['nodes'] if rows else '-'} nodes), `bench/fanout.sh`\n")
print(f"`parley load ws --rate {rate} --connections {sockets} --duration {duration}` through the stack's HAProxy (least connections) on")
print("N server nodes of one `parley up`; counters read after the sockets opened and again at the end. **One 2-core machine")
print("runs everything** (load generator, nodes, PostgreSQL, Redis): rates are what it held, the ratios are the point.\n")
print("`parley up --nodes N` runs the nodes in one process sharing one meter, so the stream counters are totals over the N nodes.\n")
print("| nodes | messages stored / s | stream entries read / s (all nodes) | entries read per message | frames delivered / s (all nodes) | frames per entry read | Redis commands / s | per message | of them XREADGROUP + XACK / s | Redis CPU s/s | WAL bytes / message | load average |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    per = list(r["per_node"].values())
    reads = sum(v["read"] for v in per) / len(per)
    dels = sum(v["delivered"] for v in per) / len(per)
    msgs = r["messages_per_s"]
    total = sum(r["redis_cmds"].values())
    stream = sum(v for k, v in r["redis_cmds"].items() if k in ("xreadgroup", "xack"))
    def ratio(a, b):
        return a / b if b else float("nan")
    print(f"| {r['nodes']} | {msgs:,.0f} | {reads:,.0f} | {ratio(reads, msgs):.2f} | {dels:,.0f} | {ratio(dels, reads):.2f} | {total:,.0f} | {ratio(total, msgs):.1f} | {stream:,.0f} | {r['redis_cpu']:.2f} | {r['wal_per_message']:,.0f} | {r['load_average']} |")
print("\nTop Redis commands per second, by run:\n")
for r in rows:
    top = sorted(r["redis_cmds"].items(), key=lambda kv: -kv[1])[:8]
    print(f"- {r['nodes']} node(s): " + ", ".join(f"{k} {v:,.0f}" for k, v in top) + f"; load run: {json.dumps(r['load'])}")
EOF
echo "$out"
cat "$out"
