#!/usr/bin/env bash
# Runs every Go fuzz target in the repository (every `func FuzzXxx(f *testing.F)` in a
# _test.go file) for a bounded time each, one after the other.
#
#   scripts/fuzz.sh                 # every target, 30s each
#   FUZZTIME=2m scripts/fuzz.sh     # longer
#   scripts/fuzz.sh ./server/...    # only the targets under these package patterns
#   scripts/fuzz.sh --list          # print the targets and stop
#
# When a target finds a crasher, `go test` writes the input to the owning package's
# testdata/fuzz/<FuzzName>/ directory. Commit that file: from then on the plain `go test`
# run replays it as a regression test. The script goes on with the other targets and exits
# non-zero if any failed. FUZZ_PARALLEL (default 2) bounds the fuzzing workers.
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime="${FUZZTIME:-30s}"
parallel="${FUZZ_PARALLEL:-2}"
list_only=0
patterns=()
for arg in "$@"; do
  case "$arg" in
    --list) list_only=1 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) patterns+=("$arg") ;;
  esac
done
[ "${#patterns[@]}" -gt 0 ] || patterns=(./...)

# "<package dir> <FuzzName>" for every target, from the packages go lists.
targets=()
while IFS= read -r dir; do
  while IFS= read -r name; do
    targets+=("$dir $name")
  done < <(grep -hoE '^func (Fuzz[A-Za-z0-9_]*)\(' "$dir"/*_test.go 2>/dev/null | sed -E 's/^func (Fuzz[A-Za-z0-9_]*)\(/\1/' | sort -u)
done < <(go list -e -f '{{.Dir}}' "${patterns[@]}" 2>/dev/null | grep -v '/node_modules/')

if [ "${#targets[@]}" -eq 0 ]; then
  echo "no fuzz targets found in ${patterns[*]}" >&2
  exit 1
fi

root="$(pwd)"
failed=()
for t in "${targets[@]}"; do
  dir="${t% *}"
  name="${t#* }"
  rel="./${dir#"$root"/}"
  if [ "$list_only" = 1 ]; then
    echo "$rel $name"
    continue
  fi
  echo "==> $rel $name ($fuzztime)"
  if ! go test "$rel" -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -parallel "$parallel"; then
    failed+=("$rel $name")
    echo "!!! $rel $name failed: the crasher is in $rel/testdata/fuzz/$name/" >&2
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz targets that failed:" >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
[ "$list_only" = 1 ] || echo "all ${#targets[@]} fuzz targets ran for $fuzztime each without a failure"
