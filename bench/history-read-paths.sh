#!/usr/bin/env bash
# History read by path (issue 3): the same GET …/messages?limit=50 served from the primary, the
# replica and the Redis cache, switched by runtime flags, with pgbench on the same SQL as the
# same-run reference. Needs `./parley up --detach` running; writes bench/results/<ts>-history-read-paths/.
# Usage: [OUT=dir] bench/history-read-paths.sh [seconds per run (default 10)] [connections (default 32)]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}; conns=${2:-32}
B=$(python3 -c 'import json; print(json.load(open(".parley/server.json"))["urls"][0])')
pp=$(python3 -c 'import json; d=json.load(open(".parley/stack.json")); print([c["port"] for c in d["components"] if c["name"]=="primary"][0])')
out="${OUT:-bench/results/$(date -u +%Y%m%d-%H%M%S)-history-read-paths}"; mkdir -p "$out"
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

# A conversation with 60 messages, read by a member who did not write them (so not pinned to the primary).
h1="bench_$RANDOM"; h2="bench_$RANDOM"
for h in $h1 $h2; do curl -sf -o /dev/null -XPOST $B/v1/auth/register -H 'content-type: application/json' -d "{\"handle\":\"$h\",\"password\":\"correct horse\"}"; done
tok() { curl -sf -XPOST $B/v1/auth/login -H 'content-type: application/json' -d "{\"handle\":\"$1\",\"password\":\"correct horse\"}" | json '["accessToken"]'; }
writer=$(tok $h1); reader=$(tok $h2)
reader_id=$(curl -sf $B/v1/me -H "authorization: Bearer $reader" | json '["id"]')
conv=$(curl -sf -XPOST $B/v1/conversations -H "authorization: Bearer $writer" -H 'content-type: application/json' -d "{\"participantIds\":[\"$reader_id\"]}" | json '["id"]')
for i in $(seq 1 60); do curl -sf -o /dev/null -XPOST $B/v1/conversations/$conv/messages -H "authorization: Bearer $writer" -H 'content-type: application/json' -d "{\"body\":\"message $i with some text\"}"; done
url="$B/v1/conversations/$conv/messages?limit=50"

echo "SELECT id, conversation_id, sender_id, body, created_at, client_message_id FROM messages WHERE conversation_id = '$conv' ORDER BY created_at DESC, id DESC LIMIT 51;" > "$out/history.sql"
flags() { ./parley flags set message.history.replica.enabled "$1" >/dev/null; ./parley flags set message.history.cache.enabled "$2" >/dev/null; sleep 2; }
run() { # name
  wrk -t2 -c"$conns" -d"$((secs / 2))s" -H "authorization: Bearer $reader" "$url" >/dev/null   # warm-up (JIT, pools, cache)
  wrk -t2 -c"$conns" -d"${secs}s" --latency -H "authorization: Bearer $reader" "$url" > "$out/wrk-$1.txt"
  printf '%-8s %10s req/s  p50 %-9s p99 %-9s\n' "$1" "$(awk '/Requests\/sec/{print $2}' "$out/wrk-$1.txt")" \
    "$(awk '$1=="50%"{print $2}' "$out/wrk-$1.txt")" "$(awk '$1=="99%"{print $2}' "$out/wrk-$1.txt")"
}
{
  echo "history read paths, $(date -u +%FT%TZ), $(nproc) cores shared by server, databases, Redis and the load generator; load average $(cut -d' ' -f1-3 /proc/loadavg)"
  /usr/lib/postgresql/15/bin/pgbench -h 127.0.0.1 -p "$pp" -U parley -n -c "$conns" -j 2 -T "$secs" -f "$out/history.sql" parley 2>/dev/null \
    | awk '/^tps/{tps=$3} /latency average/{avg=$4} END {printf "pgbench  %10.0f tx/s  avg %s ms (same SQL, reference)\n", tps, avg}'
  flags off off; run primary
  flags on off;  run replica
  flags off on
  curl -sf $B/metrics > "$out/metrics-before-cache.txt"
  run cache
  curl -sf $B/metrics > "$out/metrics-after-cache.txt"
  # Server-side: one cache lookup, and the whole request, during the cache run.
  python3 bench/histogram-quantiles.py "$out/metrics-before-cache.txt" "$out/metrics-after-cache.txt" parley_cache_lookup_duration_seconds
  python3 bench/histogram-quantiles.py "$out/metrics-before-cache.txt" "$out/metrics-after-cache.txt" http_server_request_duration_seconds 'messages'
  flags off off
  curl -sf $B/metrics | grep -E '^parley_db_reads_total|^parley_cache_requests_total' || true
} | tee "$out/summary.txt"
