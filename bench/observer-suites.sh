#!/usr/bin/env bash
# Seed 003's observer suites (issue 11) as one command each, through `parley load observer` against a stack of its own
# (`parley up` in a temporary root): observers as `parley observer run` processes, rows inserted by pgbench (a process
# of its own, throttled with -R), the load kit's counting receiver (every signature verified, duplicates counted per
# webhook-id). Every throughput row has the same-run reference: pgbench inserting the same rows, unthrottled, into a
# table no rule reads. Everything shares this machine's 2 cores: the load average is printed with every row.
#
# Usage: [ROWS_PER_TX=N] bench/observer-suites.sh [SUITE ...]       (default: benchmarks stress1 soak)
#   ROWS_PER_TX: rows per pgbench transaction (default 1), for the inserter and its reference alike
#   latency      Benchmark 1: latency distribution over 1,000 events (100/s for 10 s, 1 listener)
#   dedup        Benchmark 2: cache/dedup impact (ReplayTests: first vs replayed batch, ms per event)
#   throughput   Benchmark 3: throughput over 60 s (rows asked at 5,000/s, 1 listener)
#   resources    Benchmark 4: resource usage over 100k events (1,000/s for 100 s, 1 listener)
#   scalability  Benchmark 5: 1, 2, 3 and 5 listeners at 3,000/s asked for 20 s each
#   benchmarks   all five
#   stress1      Stress 1: 3 listeners at rising rates (STRESS_RATES, default "1000 2000 3000 5000 10000") for
#                STRESS_SECS each (default 30; the seed's run is STRESS_SECS=300 STRESS_RATES=10000)
#   soak         Stress 3: 1,000/s for SOAK_SECS (default 120; 1 h: SOAK_SECS=3600, 24 h: SOAK_SECS=86400), memory growth < 10%
# Appends a dated section to bench/results/<date>-observer-suites.md (never rewrites what is there).
set -euo pipefail
cd "$(dirname "$0")/.."
suites=("$@")
[[ ${#suites[@]} -eq 0 ]] && suites=(benchmarks stress1 soak)
expanded=()
for s in "${suites[@]}"; do
  case $s in
    benchmarks) expanded+=(latency dedup throughput resources scalability) ;;
    latency|dedup|throughput|resources|scalability|stress1|soak) expanded+=("$s") ;;
    *) echo "unknown suite: $s (latency dedup throughput resources scalability benchmarks stress1 soak)" >&2; exit 2 ;;
  esac
done
. bench/observer-stack.sh
status=0
run() { # NAME ARGS... : one load run, its JSON in $root/NAME.json
  local name=$1; shift
  echo "== $name: parley load observer --inserter pgbench --rows-per-tx ${ROWS_PER_TX:-1} $*" >&2
  parley --json load observer --root "$root" --inserter pgbench --rows-per-tx "${ROWS_PER_TX:-1}" "$@" > "$root/$name.json" 2>"$root/$name.log" || status=1
}
for s in "${expanded[@]}"; do
  case $s in
    latency) run latency --rate 100 --duration 10s --reference 5s ;;
    dedup)
      echo "== dedup: dotnet test ReplayTests" >&2
      dotnet test tests/Parley.Observer.Tests -c Release --filter "FullyQualifiedName~ReplayTests" --logger "console;verbosity=detailed" > "$root/dedup.log" 2>&1 || status=1 ;;
    throughput) run throughput --rate 5000 --duration 60s --drain 180s --reference 15s ;;
    resources) run resources --rate 1000 --duration 100s --drain 120s --reference 10s ;;
    scalability) for n in 1 2 3 5; do run "scale-$n" --listeners "$n" --rate 3000 --duration 20s --drain 120s --reference 10s; done ;;
    stress1) for r in ${STRESS_RATES:-1000 2000 3000 5000 10000}; do run "stress-$r" --listeners 3 --rate "$r" --duration "${STRESS_SECS:-30}s" --drain 180s --reference 10s --late 500ms; done ;;
    soak) run soak --rate 1000 --duration "${SOAK_SECS:-120}s" --drain 120s --reference 10s ;;
  esac
done
out="bench/results/$(date -u +%Y-%m-%d)-observer-suites.md"
[[ -f $out ]] || printf '# Observer suites (bench/observer-suites.sh, seed 003 / issue 11)\n\nEach section is one run of the script; sections are only ever appended.\n' > "$out"
python3 - "$root" "${expanded[*]}" "$(uptime)" "$(git rev-parse --short HEAD)" "${STRESS_SECS:-30}" "${SOAK_SECS:-120}" >> "$out" <<'PY'
import sys, json, re, os, datetime
root, suites, uptime, commit, stress_secs, soak_secs = sys.argv[1], sys.argv[2].split(), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
def load(name):
    try: return json.load(open(f"{root}/{name}.json"))
    except Exception as e: return None
def ref(r): return r.get("referenceInsertsPerSecond") or float("nan")
def res(r): return r.get("resources") or {}
def stages(r): return ", ".join(f"{s['stage']} {s['sumSeconds']*1000/max(1,s['count']):.1f}" for s in r.get("stages", []) if s['stage'] in ("stream","enqueue","run","record","claim"))
now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
print(f"\n## {now}, commit {commit}: {' '.join(suites)}\n")
print(f"`uptime` at the end: {uptime.strip()}. Observers are `parley observer run` processes; rows come from pgbench (-R, {os.environ.get('ROWS_PER_TX', '1')} per transaction, the reference likewise); the")
print("receiver is the load kit's counting receiver (Kestrel, 127.0.0.1, signatures verified). **The 2 cores are shared** with")
print("PostgreSQL, Redis, pgbench, the receiver and any other work on the machine (see the load average per row).\n")
print("| suite | result | asked/s | inserted/s | webhooks/s | events | lost | dup | P50 ms | P95 ms | P99 ms | max ms | same-run pgbench ref/s | webhooks ÷ ref | observer RSS MB (start→end, growth) | CPU ms/event | DB conns | stage means ms | load average |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
def row(suite, name, verdict=None):
    r = load(name)
    if r is None:
        print(f"| {suite} | run failed (see its log) |" + " |" * 17); return None
    l, o, m = r["latency"], r["options"], res(r)
    ok = r["lost"] == 0 and r["duplicated"] == 0 and r["badSignatures"] == 0
    v = verdict(r) if verdict else ("PASS" if ok else "FAIL")
    rss = f"{m.get('rssStartMb',0):.0f}→{m.get('rssEndMb',0):.0f} ({(m.get('rssEndMb',0)/m['rssStartMb']-1) if m.get('rssStartMb') else 0:+.1%})"
    print(f"| {suite} | {v} | {o['rate']:.0f} | {r['insertsPerSecond']:.0f} | {r['deliveredPerSecond']:.0f} | {r['inserted']} | {r['lost']} | {r['duplicated']} | {l['p50']:.1f} | {l['p95']:.1f} | {l['p99']:.1f} | {l['max']:.1f} | {ref(r):.0f} | {r['deliveredPerSecond']/ref(r):.0%} | {rss} | {m.get('cpuMsPerEvent',0):.2f} | {m.get('connectionsMin',0)}–{m.get('connectionsMax',0)} | {stages(r)} | {r['loadAverage']} |")
    return r
notes = []
for s in suites:
    if s == "latency":
        r = row("B1 latency (1,000 events, 1 listener)", "latency", lambda r: ("PASS" if r["lost"] == 0 and r["duplicated"] == 0 else "FAIL") + (" (P99 ≤ 100 ms)" if r["latency"]["p99"] <= 100 else " (P99 > 100 ms)"))
        if r: notes.append(f"B1 distribution over {r['latency']['count']} events: P50 {r['latency']['p50']:.1f} / P90 {r['latency']['p90']:.1f} / P95 {r['latency']['p95']:.1f} / P99 {r['latency']['p99']:.1f} / P99.9 {r['latency']['p999']:.1f} / max {r['latency']['max']:.1f} / mean {r['latency']['mean']:.1f} ms.")
    elif s == "dedup":
        text = open(f"{root}/dedup.log").read() if os.path.exists(f"{root}/dedup.log") else ""
        m = re.search(r"E2E 3: first batch ([0-9.]+) ms per event, replayed batch ([0-9.]+) ms per event, ratio ([0-9.]+)x", text)
        if m: print(f"| B2 cache/dedup (ReplayTests, 100 events) | {'PASS' if float(m.group(3)) >= 10 else 'below 10×'}: replay {m.group(3)}× cheaper | | | | 100 | 0 | 0 | first {m.group(1)} ms/event | replayed {m.group(2)} ms/event | | | n/a (both sides are the observer's own cost) | | | | | | |")
        else: print("| B2 cache/dedup | test failed or printed no figures (see dedup.log) |" + " |" * 17)
    elif s == "throughput":
        row("B3 throughput (60 s, 5,000/s asked)", "throughput")
    elif s == "resources":
        r = row("B4 resources (100k events at 1,000/s)", "resources")
    elif s == "scalability":
        base = None
        for n in (1, 2, 3, 5):
            r = row(f"B5 scalability, {n} listener(s)", f"scale-{n}")
            if r is None: continue
            if n == 1: base = r["deliveredPerSecond"]
            elif base: notes.append(f"B5: {n} listeners delivered {r['deliveredPerSecond']:.0f}/s = {r['deliveredPerSecond']/base:.2f}× one listener ({n}× would be linear); overhead vs 1 listener {max(0, 1 - r['deliveredPerSecond']/base):.1%}.")
    elif s == "stress1":
        best = None
        for rate in os.environ.get("STRESS_RATES", "1000 2000 3000 5000 10000").split():
            def verdict(r):
                ok = r["lost"] == 0 and r["duplicated"] == 0 and r["badSignatures"] == 0
                kept = r["deliveredPerSecond"] >= 0.95 * float(rate) and r["insertsPerSecond"] >= 0.95 * float(rate)
                return ("PASS" if ok and kept and r["latency"]["p99"] < 500 else "FAIL") + (" P99<500" if r["latency"]["p99"] < 500 else " P99≥500") + ("" if kept else " rate not held") + (" ours ≤100 ms" if r["latency"]["p99"] <= 100 else "")
            r = row(f"Stress 1, 3 listeners, {rate}/s for {stress_secs} s", f"stress-{rate}", verdict)
            if r and verdict(r).startswith("PASS"): best = (rate, r)
            elif r: notes.append(f"Stress 1 at {rate}/s: inserted {r['insertsPerSecond']:.0f}/s (pgbench's same-run unthrottled ceiling {ref(r):.0f}/s), delivered {r['deliveredPerSecond']:.0f}/s, P99 {r['latency']['p99']:.0f} ms.")
        notes.append(f"Stress 1: highest rate passing (0 lost, 0 duplicated, rate held, P99 < 500 ms): {best[0] + '/s' if best else 'none'}.")
    elif s == "soak":
        r = row(f"Stress 3 soak, 1,000/s for {soak_secs} s", "soak", lambda r: ("PASS" if r["lost"] == 0 and r["duplicated"] == 0 and (r.get("resources") or {}).get("rssStartMb") and r["resources"]["rssEndMb"] / r["resources"]["rssStartMb"] - 1 < 0.10 else "FAIL") + " (memory growth < 10%)")
for n in notes: print(f"\n{n}")
PY
tail -n +1 "$out" | tail -40
exit $status
