#!/usr/bin/env bash
# Trust in the numbers: measures the same endpoints with `parley load get` and with wrk (and the history query with
# pgbench) in one session, against a running `parley up`, and prints throughput and p50 ratios.
#
#   bench/wrk-compare.sh [--root DIR] [--url http://127.0.0.1:8080] [--duration 10] [--warmup 5] [--connections 64] [--rounds 4]
#
# Each endpoint is measured in --rounds rounds, wrk then parley in odd rounds and parley then wrk in even ones (so a
# machine getting busier or quieter during the session weighs on both tools alike); a round's ratio compares its two
# back-to-back runs, and the verdict is on the median round. Both tools warm up for --warmup seconds first (wrk in a
# run of its own, parley load inside its run, which also brings its JIT-compiled request path to full speed).
#
# Needs: wrk (apt-get install -y wrk), curl, python3; pgbench from postgresql-15 for the database reference.
# The history endpoint needs a seeded user: run `parley load seed` (or any scenario) first.
# Both tools are closed-model here (N connections, next request when the last answered), so their figures compare.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
parley=("$repo/parley")
root=() url="" duration=10 warmup=5 connections=64 rounds=4
while [[ $# -gt 0 ]]; do
  case "$1" in
    --root) root=(--root "$2"); shift 2 ;;
    --url) url="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --parley) parley=($2); shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 4; }
if [[ -z "$url" ]]; then
  url="$("${parley[@]}" status --json "${root[@]}" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("url") or "")')"
fi
[[ -n "$url" ]] || { echo "no running server: start one with ./parley up --detach" >&2; exit 1; }
case "$url" in http://127.*|http://localhost*|http://\[::1\]*) ;; *) echo "refusing non-loopback $url" >&2; exit 2 ;; esac
url="${url%/}"

out="$repo/bench/results/$(date -u +%Y%m%d-%H%M%S)-wrk-compare"
mkdir -p "$out"

token="$(curl -sf -XPOST "$url/v1/auth/login" -H 'content-type: application/json' \
  -d '{"handle":"load_0","password":"load-kit-password"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["accessToken"])')" \
  || { echo "cannot log in as load_0: seed first (parley load seed)" >&2; exit 1; }
conv="$(curl -sf "$url/v1/conversations?limit=1" -H "authorization: Bearer $token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')"
history="v1/conversations/$conv/messages?limit=50"

# wrk: requests/s and p50 in ms from --latency output.
run_wrk() { # path token name
  local args=(-t2 "-c$connections" --latency)
  [[ -n "${2:-}" ]] && args+=(-H "Authorization: Bearer $2")
  wrk "${args[@]}" "-d${warmup}s" "$url/$1" > /dev/null # warm-up, as parley load's --warmup
  wrk "${args[@]}" "-d${duration}s" "$url/$1" > "$out/wrk-$3.txt"
  python3 - "$out/wrk-$3.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s*([\d.]+)", text).group(1))
m = re.search(r"^\s*50%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
p50 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
print(f"{rps:.0f} {p50:.3f}")
PY
}

# parley load get, closed model with the same connections; warm-up excluded like wrk's first second is not.
run_parley() { # path token name
  local args=(load get --closed --connections "$connections" --duration "${duration}s" --warmup "${warmup}s" --path "$1" --json --results "$out" --summary-export "$out/parley-$3.json")
  [[ -n "${2:-}" ]] && args+=(--bearer "$2")
  "${parley[@]}" "${args[@]}" "${root[@]}" > /dev/null 2> "$out/parley-$3.log" || true
  python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print("%.0f %.3f" % (s["requests"]/s["measuredSeconds"], s["latency"]["p50"]))' "$out/parley-$3.json"
}

# Build the CLI once and run a copy of it for the whole session: ./parley rebuilds whenever a source file changes, and
# on a shared checkout that can happen (or fail) between two rounds, inside a measured window.
if [[ "${parley[*]}" == "$repo/parley" ]]; then
  "$repo/parley" --help > /dev/null
  bin="$(mktemp -d)"
  trap 'rm -rf "$bin"' EXIT
  cp -r "$repo/.parley/bin/." "$bin/"
  export PARLEY_REPO="$repo"
  parley=(dotnet "$bin/parley.dll")
fi

printf '%-10s %-5s %-9s %12s %10s\n' endpoint round tool "req/s" "p50 ms" | tee "$out/compare.txt"
declare -A R
for name in live history; do
  path="health/live"; tok=""
  [[ "$name" == history ]] && { path="$history"; tok="$token"; }
  R[$name]=""
  for ((round = 1; round <= rounds; round++)); do
    if (( round % 2 == 1 )); then
      read -r wr wp < <(run_wrk "$path" "$tok" "$name-$round")
      read -r pr pp < <(run_parley "$path" "$tok" "$name-$round")
    else
      read -r pr pp < <(run_parley "$path" "$tok" "$name-$round")
      read -r wr wp < <(run_wrk "$path" "$tok" "$name-$round")
    fi
    R[$name]+="$pr $pp $wr $wp;"
    printf '%-10s %-5s %-9s %12s %10s\n' "$name" "$round" wrk "$wr" "$wp" | tee -a "$out/compare.txt"
    printf '%-10s %-5s %-9s %12s %10s\n' "$name" "$round" parley "$pr" "$pp" | tee -a "$out/compare.txt"
  done
done

# pgbench: the history query itself, same conversation, same connections (database reference for SLO.md's ratios).
pg="$(python3 - "${root[1]:-$repo/.parley}" <<'PY'
import json, sys, os
p = os.path.join(sys.argv[1], "stack.json")
try:
    s = json.load(open(p))
    kv = dict(x.split("=", 1) for x in s["primaryConnectionString"].split(";") if "=" in x)
    print(kv.get("Host", "127.0.0.1"), kv.get("Port", "5432"), kv.get("Username", "parley"), kv.get("Database", "parley"))
except Exception:
    print("")
PY
)"
pgbench_bin="$(command -v pgbench || echo /usr/lib/postgresql/15/bin/pgbench)"
if [[ -n "$pg" && -x "$pgbench_bin" ]]; then
  read -r host port user db <<<"$pg"
  echo "SELECT id, conversation_id, sender_id, body, created_at, client_message_id FROM messages WHERE conversation_id = '$conv' ORDER BY created_at DESC, id DESC LIMIT 50;" > "$out/history.sql"
  pgc=$(( connections < 64 ? connections : 64 ))
  "$pgbench_bin" -n -M prepared -h "$host" -p "$port" -U "$user" -c "$pgc" -j 2 -T "$duration" -f "$out/history.sql" "$db" > "$out/pgbench.txt" 2>&1 || true
  pgtps="$(grep -Eo 'tps = [0-9.]+' "$out/pgbench.txt" | head -1 | grep -Eo '[0-9.]+' | cut -d. -f1)"
  printf '%-10s %-9s %12s %10s\n' history pgbench "${pgtps:-?}" "-" | tee -a "$out/compare.txt"
  # The send transaction (message + conversation activity + outbox row, durable commit) over 20 seeded conversations.
  psql_bin="$(command -v psql || echo /usr/lib/postgresql/15/bin/psql)"
  pgargs=()
  n=0
  while read -r cid owner; do
    [[ -z "$cid" ]] && continue
    cat > "$out/send-$n.sql" <<SQL
WITH member AS (SELECT 1 FROM participants p JOIN conversations c ON c.id = p.conversation_id
                WHERE p.conversation_id = '$cid' AND p.user_id = '$owner' AND c.deleted_at IS NULL FOR KEY SHARE OF p),
inserted AS (INSERT INTO messages (id, conversation_id, sender_id, body, created_at, client_message_id)
             SELECT gen_random_uuid(), '$cid', '$owner', 'pgbench reference body', clock_timestamp(), NULL WHERE EXISTS (SELECT 1 FROM member)
             RETURNING id, created_at),
touched AS (UPDATE conversations c SET last_activity_at = i.created_at, last_message_id = i.id FROM inserted i
            WHERE c.id = '$cid' AND c.last_activity_at <= i.created_at RETURNING 1),
event AS (INSERT INTO outbox (conversation_id, type, payload) SELECT '$cid', 'message.created', '{}'::jsonb FROM inserted)
SELECT (SELECT count(*) FROM touched);
SQL
    pgargs+=(-f "$out/send-$n.sql@1"); n=$((n + 1))
  done < <("$psql_bin" -h "$host" -p "$port" -U "$user" -d "$db" -At -F ' ' -c "SELECT id, owner_id FROM conversations WHERE deleted_at IS NULL ORDER BY last_activity_at DESC LIMIT 20")
  if [[ $n -gt 0 ]]; then
    "$pgbench_bin" -n -h "$host" -p "$port" -U "$user" -c "$pgc" -j 2 -T "$duration" "${pgargs[@]}" "$db" > "$out/pgbench-send.txt" 2>&1 || true
    pgsend="$(grep -Eo 'tps = [0-9.]+' "$out/pgbench-send.txt" | head -1 | grep -Eo '[0-9.]+' | cut -d. -f1)"
    printf '%-10s %-9s %12s %10s\n' send pgbench "${pgsend:-?}" "-" | tee -a "$out/compare.txt"
  fi
fi

echo | tee -a "$out/compare.txt"
for name in live history; do
  python3 - "$name" "${R[$name]}" <<'PY' | tee -a "$out/compare.txt"
import statistics, sys
name = sys.argv[1]
rounds = [tuple(map(float, r.split())) for r in sys.argv[2].split(";") if r.strip()]
t = [pr / wr for pr, pp, wr, wp in rounds]
l = [pp / wp for pr, pp, wr, wp in rounds]
tm, lm = statistics.median(t), statistics.median(l)
print(f"{name}: parley/wrk throughput {tm:.2f} ({'within' if abs(tm-1) <= 0.10 else 'OUTSIDE'} 10%), p50 {lm:.2f} ({'within' if abs(lm-1) <= 0.20 else 'OUTSIDE'} 20%)"
      f"  [median of {len(rounds)} rounds: throughput {' '.join(f'{x:.2f}' for x in t)}; p50 {' '.join(f'{x:.2f}' for x in l)}]")
PY
done
[[ -n "${pgtps:-}" ]] && python3 - "${R[history]}" "$pgtps" <<'PY' | tee -a "$out/compare.txt"
import statistics, sys
rounds = [tuple(map(float, r.split())) for r in sys.argv[1].split(";") if r.strip()]
pg = float(sys.argv[2])
print(f"history: wrk/pgbench {statistics.median(r[2] for r in rounds) / pg:.2f}, parley/pgbench {statistics.median(r[0] for r in rounds) / pg:.2f} (median req/s over pgbench tx/s)")
PY
echo "(2 cores shared by server, PostgreSQL, replica, Redis and the load tool; results in $out)"
