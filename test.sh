#!/usr/bin/env bash
# Runs Parley's CI test tiers against a real local stack: Smoke + Integration (test assemblies in
# parallel), then the Chaos smoke set on its own, so its latency criteria are not measured while
# other suites compete for the cores. Ends with one line: "tests: N passed, N failed, N skipped".
# Other tiers: ./test.sh --tier Chaos | Load | Soak | Nightly | all
# One kind of chaos test (seed 004's categories, trait Kind): ./test.sh --tier Chaos --kind corruption
# The weekly run: ./test.sh --weekly (the whole Chaos tier, property tests from a random seed it prints;
#   PARLEY_CHAOS_SEED=N ./test.sh --weekly replays it). How many chaos tests of each kind: ./test.sh --kinds
set -uo pipefail
cd "$(dirname "$0")"

passes=("Category=Smoke|Category=Integration" "Category=Chaos&Tier=Smoke")
kind=""
kinds=""
kindnames="property concurrent transaction resource corruption migration recovery load"
while [ $# -gt 0 ]; do
  case "$1" in
    --weekly)
      passes=("Category=Chaos")
      export PARLEY_CHAOS_SEED="${PARLEY_CHAOS_SEED:-$((RANDOM * 32768 + RANDOM))}"
      echo "weekly: PARLEY_CHAOS_SEED=$PARLEY_CHAOS_SEED (replay: PARLEY_CHAOS_SEED=$PARLEY_CHAOS_SEED ./test.sh --weekly)"
      shift ;;
    --kinds) kinds=1; shift ;;
    --tier)
      case "${2:?tier name}" in
        all) passes=("") ;;
        *) passes=("Category=$2") ;;
      esac
      shift 2 ;;
    --kind)
      case "${2:-}" in
        property|concurrent|transaction|resource|corruption|migration|recovery|load) kind=$2 ;;
        *) echo "--kind: one of property concurrent transaction resource corruption migration recovery load" >&2; exit 2 ;;
      esac
      shift 2 ;;
    *) echo "usage: ./test.sh [--tier Smoke|Integration|Chaos|Load|Soak|Nightly|all] [--kind KIND] | --weekly | --kinds" >&2; exit 2 ;;
  esac
done
if [ -n "$kind" ]; then
  for i in "${!passes[@]}"; do
    passes[i]="${passes[i]:+(${passes[i]})&}Kind=$kind"
  done
fi

bash scripts/install-deps.sh prometheus chromium || exit 1
dotnet build Parley.slnx -c Release -v quiet -nologo || { echo "tests: 0 passed, 1 failed"; exit 1; }

if [ -n "$kinds" ]; then
  # Test methods per kind (a theory once: VSTest lists its name once), listed with the trait filter, not run; "none" must stay 0.
  dlls=(tests/*/bin/Release/net10.0/Parley.*.Tests.dll)
  none="Category=Chaos"
  list=$(mktemp)
  for k in $kindnames none; do
    if [ "$k" = none ]; then filter=$none; else filter="Category=Chaos&Kind=$k"; none+="&Kind!=$k"; fi
    : >"$list"
    dotnet vstest "${dlls[@]}" --ListFullyQualifiedTests "--TestCaseFilter:$filter" "--ListTestsTargetPath:$list" >/dev/null 2>&1 || { echo "listing $k failed" >&2; exit 1; }
    printf '%-12s %4d\n' "$k" "$(grep -c . "$list")"
  done
  rm -f "$list"
  exit 0
fi

log=$(mktemp)
reports=$(mktemp -d)
status=0
for filter in "${passes[@]}"; do
  args=(test Parley.slnx -c Release --no-build -v minimal -nologo)
  [ -n "$filter" ] && args+=(--filter "$filter")
  # Chaos criteria are latencies: one test assembly at a time, so suites do not load each other.
  [[ "$filter" == *Chaos* || -z "$filter" ]] && args+=(-m:1)
  PARLEY_CHAOS_REPORTS="$reports" dotnet "${args[@]}" 2>&1 | tee -a "$log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
done
# Every chaos scenario's figures and notes, passing ones too, so a slow moment in CI is on record.
for report in "$reports"/*.txt; do [ -f "$report" ] && { echo; cat "$report"; echo; }; done
rm -rf "$reports"

# The failed tests' names and first lines of their errors last, so a CI excerpt of the tail names them.
if grep -qE '^\s+Failed ' "$log"; then
  echo; echo "failed tests:"
  grep -E -A8 '^\s+Failed ' "$log" | grep -vE '^\s+(Stack Trace:|at )' | head -60
fi

# Each test assembly prints "Passed!  - Failed: F, Passed: P, Skipped: S, Total: T ..." (or "Failed!").
read -r passed failed skipped < <(grep -E '^(Passed|Failed)!' "$log" | sed -E 's/.*Failed: *([0-9]+), Passed: *([0-9]+), Skipped: *([0-9]+).*/\2 \1 \3/' \
  | awk '{p+=$1; f+=$2; s+=$3} END {print p+0, f+0, s+0}')
rm -f "$log"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi # a crash or build error counts as a failure
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
