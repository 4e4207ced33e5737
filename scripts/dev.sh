#!/usr/bin/env bash
# One command for a newcomer: installs Go modules and npm packages, builds the
# demo page, then runs `wsgate dev` (local gateway + server + demo page).
set -euo pipefail
cd "$(dirname "$0")/.."
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1
scripts/install-deps.sh
scripts/build-web.sh
exec go run ./cmd/wsgate dev "$@"
