#!/usr/bin/env bash
# Builds the demo page (examples/web) with Vite into examples/web/dist.
set -euo pipefail
cd "$(dirname "$0")/../examples/web"
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
npm run --silent build
