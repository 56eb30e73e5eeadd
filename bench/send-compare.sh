#!/usr/bin/env bash
# The send rows of issue 13 in one session, against a running `parley up`: `parley load send` closed model at
# --connections, pgbench running the minimal durable send (one message row + one outbox row, one commit each, same
# client count, over 20 of the same conversations), then `parley load send` open model at 2x the closed throughput.
# Appends a dated markdown table to bench/results/<date>-send-compare.md (raw outputs beside it in a directory, or in
# --out), with the server's /metrics before and after the open run (its 503s' and 201s' server-side latency).
#
#   bench/send-compare.sh [--root DIR] [--url URL] [--before-url URL] [--duration 20] [--warmup 5] [--connections 64] [--out DIR]
#
# --before-url measures a second server (e.g. an older build against the same stack) in the same session, each
# closed run next to the other's, so their ratio holds however busy the machine is.
# Needs: curl, python3, pgbench and psql from postgresql-15. Loopback only.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
parley=("$repo/parley")
root=() url="" before="" duration=20 warmup=5 connections=64 out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --root) root=(--root "$2"); shift 2 ;;
    --url) url="$2"; shift 2 ;;
    --before-url) before="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
if [[ -z "$url" ]]; then
  url="$("${parley[@]}" status --json "${root[@]}" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("url") or "")')"
fi
[[ -n "$url" ]] || { echo "no running server: start one with ./parley up --detach" >&2; exit 1; }
for u in "$url" ${before:+"$before"}; do
  case "$u" in http://127.*|http://localhost*|http://\[::1\]*) ;; *) echo "refusing non-loopback $u" >&2; exit 2 ;; esac
done
stamp="$(date -u +%Y%m%d-%H%M%S)"
out="${out:-$repo/bench/results/$stamp-send-compare}"
mkdir -p "$out"
load() { uptime | sed 's/.*load average: //'; }

# One `parley load send` run; prints "req/s p50 p95 p99 errors% accepted-p95 status-counts" (accepted: the 201s alone).
run_send() { # name url model-args...
  local name="$1" target="$2"; shift 2
  "${parley[@]}" load send --url "$target" --duration "${duration}s" --warmup "${warmup}s" --gate 'errors<100%' \
    --results "$out" --summary-export "$out/$name.json" "$@" > "$out/$name.txt" 2>&1 || true
  python3 - "$out/$name.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
l = s["latency"]
statuses = " ".join(f"{k}:{v}" for k, v in sorted(s["operations"].get("send", {}).get("statuses", {}).items()))
accepted = (s["operations"].get("send", {}).get("latencyByStatus") or {}).get("201")
print(f'{s["ok"] / s["measuredSeconds"]:.0f} {l["p50"]:.1f} {l["p95"]:.1f} {l["p99"]:.1f} {100 * s["errorRate"]:.1f} {accepted["p95"] if accepted else "-"} {statuses or "-"}')
PY
}

declare -A R L
R[after-closed]="$(run_send after-closed "$url" --closed --connections "$connections")"; L[after-closed]="$(load)"
if [[ -n "$before" ]]; then R[before-closed]="$(run_send before-closed "$before" --closed --connections "$connections")"; L[before-closed]="$(load)"; fi

read -r host port user db <<<"$(python3 - "${root[1]:-$repo/.parley}" <<'PY'
import json, os, sys
s = json.load(open(os.path.join(sys.argv[1], "stack.json")))
kv = dict(x.split("=", 1) for x in s["primaryConnectionString"].split(";") if "=" in x)
print(kv.get("Host", "127.0.0.1"), kv.get("Port", "5432"), kv.get("Username", "parley"), kv.get("Database", "parley"))
PY
)"
pgbench_bin="$(command -v pgbench || echo /usr/lib/postgresql/15/bin/pgbench)"
psql_bin="$(command -v psql || echo /usr/lib/postgresql/15/bin/psql)"
pgargs=() n=0
while read -r cid owner; do
  [[ -z "$cid" ]] && continue
  cat > "$out/minimal-$n.sql" <<SQL
WITH m AS (INSERT INTO messages (id, conversation_id, sender_id, body, created_at)
           VALUES (gen_random_uuid(), '$cid', '$owner', 'pgbench minimal durable send body of about one hundred bytes, like the load kit sends ...', clock_timestamp()) RETURNING id)
INSERT INTO outbox (conversation_id, type, payload) SELECT '$cid', 'message.created', jsonb_build_object('id', m.id) FROM m;
SQL
  pgargs+=(-f "$out/minimal-$n.sql@1"); n=$((n + 1))
done < <("$psql_bin" -h "$host" -p "$port" -U "$user" -d "$db" -At -F ' ' -c "SELECT id, owner_id FROM conversations WHERE deleted_at IS NULL ORDER BY last_activity_at DESC LIMIT 20")
[[ $n -gt 0 ]] || { echo "no conversations to send into" >&2; exit 1; }
"$pgbench_bin" -n -M prepared -h "$host" -p "$port" -U "$user" -c "$connections" -j 2 -T "$duration" "${pgargs[@]}" "$db" > "$out/pgbench-minimal.txt" 2>&1 || true
pg="$(grep -Eo '^tps = [0-9.]+' "$out/pgbench-minimal.txt" | head -1 | grep -Eo '[0-9.]+' | cut -d. -f1)"
L[pgbench]="$(load)"

capacity="$(cut -d' ' -f1 <<<"${R[after-closed]}")"
rate=$(( capacity * 2 > 10 ? capacity * 2 : 10 ))
curl -sf "$url/metrics" > "$out/metrics-before-open.txt" || true
R[after-open]="$(run_send after-open "$url" --rate "$rate" --connections 2000)"; L[after-open]="$(load)"
curl -sf "$url/metrics" > "$out/metrics-after-open.txt" || true
if [[ -n "$before" ]]; then R[before-open]="$(run_send before-open "$before" --rate "$rate" --connections 2000)"; L[before-open]="$(load)"; fi

report="$repo/bench/results/${stamp:0:4}-${stamp:4:2}-${stamp:6:2}-send-compare.md"
section="$out/section.md"
{
  echo "## $(date -u '+%Y-%m-%d %H:%M') UTC"
  echo
  echo "$(nproc) cores, shared by the stack, the server(s) and the load generator; $duration s measured after $warmup s warm-up. Raw outputs: \`${out#"$repo"/}/\`."
  echo
  echo "| run | load average after | done req/s | p50 / p95 / p99 ms | errors % | 201s alone: p95 ms | statuses | vs pgbench minimal ($pg tx/s) |"
  echo "|---|---|---|---|---|---|---|---|"
  for k in after-closed before-closed after-open before-open; do
    [[ -n "${R[$k]:-}" ]] || continue
    read -r rps p50 p95 p99 err accepted statuses <<<"${R[$k]}"
    ratio="$(python3 -c "print(f'{$rps / $pg:.2f}x' if $pg else '-')")"
    offered="closed $connections"; [[ "$k" == *open ]] && offered="open $rate req/s"
    echo "| $k ($offered) | ${L[$k]} | $rps | $p50 / $p95 / $p99 | $err | $accepted | $statuses | $ratio |"
  done
  echo
  echo "pgbench minimal durable send, $connections clients: **$pg tx/s** (load average after: ${L[pgbench]})."
  echo
  echo "Targets (issue 13): closed send ≥ 1.0x pgbench minimal and p95 ≤ 50 ms; at 2x capacity the excess refused with 503 within 100 ms."
} > "$section"
# Each run appends its section: a second run the same day must not overwrite the first.
[[ -f $report ]] || printf '# Send (bench/send-compare.sh)\n\nEach section is one run of the script; sections are only ever appended.\n' > "$report"
{ echo; cat "$section"; } >> "$report"
cat "$section"
