#!/usr/bin/env bash
# Installs what wsgate's tests and local demo need on a fresh Debian machine:
# Go modules, npm packages (root tools and the demo page), and, with --system,
# the Debian packages the tests drive for real (chromium, awscli, buildah,
# redis-server: the local TLS + cluster-mode stand-in for ElastiCache Valkey).
set -euo pipefail
cd "$(dirname "$0")/.."

want_system=0
[ "${1:-}" = "--system" ] && want_system=1

if [ "$want_system" = 1 ]; then
  missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v aws >/dev/null 2>&1 || missing+=(awscli)
  command -v buildah >/dev/null 2>&1 || missing+=(buildah)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "==> installing Debian packages: ${missing[*]}"
    sudo_cmd=""
    [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

echo "==> Go modules"
go mod download

echo "==> npm packages (tools and test client)"
npm ci --no-audit --no-fund --loglevel=error

if [ -f examples/web/package.json ]; then
  echo "==> npm packages (demo page)"
  (cd examples/web && npm ci --no-audit --no-fund --loglevel=error)
fi
