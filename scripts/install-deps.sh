#!/usr/bin/env bash
# Installs the system packages Parley's local stack runs on, when they are missing.
# Debian/Ubuntu; uses sudo only when not root.
set -euo pipefail

need=()
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql-15)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || need+=(pgbouncer)
# `parley up` puts its nodes behind HAProxy (Debian's package starts its own service with no listener; Parley never uses it).
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
# The observer's email tests: the stack's local SMTP server (StackOptions.WithSmtp), a module of the system python.
[ -d /usr/lib/python3/dist-packages/aiosmtpd ] || need+=(python3-aiosmtpd)
for extra in "$@"; do
  case "$extra" in
    prometheus) command -v promtool >/dev/null 2>&1 || need+=(prometheus) ;;
    wrk) command -v wrk >/dev/null 2>&1 || need+=(wrk) ;;
    # The web client's browser tests drive Debian's chromium through Playwright (no browser download).
    chromium) [ -x /usr/bin/chromium ] || need+=(chromium) ;;
  esac
done
[ ${#need[@]} -eq 0 ] && exit 0

if ! command -v dotnet >/dev/null 2>&1; then
  echo "the .NET 10 SDK is required (https://dot.net/download)" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
# Debian's postgresql package starts its own cluster on 5432; Parley never uses it.
$sudo apt-get install -y -qq "${need[@]}" >/dev/null
