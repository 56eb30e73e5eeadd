# Sourced by bench/observer.sh and bench/observer-suites.sh: `parley` (this worktree's Release build, else ./parley) and
# a stack of the script's own in a temporary $root, torn down on exit, warmed up with one short unreported load run.
# UP_ARGS go to `parley up` (e.g. UP_ARGS=--async-replica: since 20e4ff6 parley up's replica is synchronous, so every
# commit, the observer's included, waits for it; the 2026-12-01 figures had an asynchronous one).
parley() { if [[ -f src/Parley.Cli/bin/Release/net10.0/parley.dll ]]; then dotnet src/Parley.Cli/bin/Release/net10.0/parley.dll "$@"; else ./parley "$@"; fi; }
root=$(mktemp -d /tmp/parley-bench-observer-XXXX)
cleanup() { parley down --root "$root" >/dev/null 2>&1 || true; parley reset --yes --root "$root" >/dev/null 2>&1 || true; }
trap cleanup EXIT
# shellcheck disable=SC2086
parley up --detach --port 0 --root "$root" ${UP_ARGS:-} >/dev/null
# Warm-up (the database's caches, the build's first start), not reported.
parley load observer --root "$root" --inserter pgbench --rate 200 --duration 5s --reference 0s >/dev/null 2>&1 || true
