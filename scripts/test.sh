#!/usr/bin/env bash
# Runs every wsgate test: unit, snapshot, cdk-nag, the real cdk CLI, end-to-end
# with the real dotnetify client, and the browser tests. Installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1
export CDK_DISABLE_VERSION_CHECK=1
export CDK_CLI_NOTICES=false

scripts/install-deps.sh --system

echo "==> go vet"
go vet ./...

echo "==> go test (unit, snapshot, integration)"
go test -count=1 -timeout 20m ./...

for d in test/nag; do
  if [ -f "$d/go.mod" ]; then
    echo "==> go test ($d, its own module)"
    (cd "$d" && go test -count=1 -timeout 20m ./...)
  fi
done

echo "==> cdk synth (the npm aws-cdk CLI on app.go; writes cdk.out/WsgateStack.template.json)"
rm -f cdk.out/WsgateStack.template.json
node_modules/.bin/cdk synth --quiet
test -s cdk.out/WsgateStack.template.json

if [ -d test/e2e ]; then
  echo "==> end-to-end (real dotnetify client, headless chromium)"
  scripts/build-web.sh
  go build -o bin/wsgate ./cmd/wsgate
  go build -o bin/wsgate-server ./server/cmd/wsgate-server
  node --test --test-concurrency=1 --test-reporter=spec test/e2e/
fi
