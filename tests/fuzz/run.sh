#!/usr/bin/env bash
# Builds lwipd's libFuzzer harnesses with clang (ASan + UBSan) in build-fuzz/
# and runs each over its seed corpus in tests/fuzz/corpus/NAME for SECONDS
# (default 30) or, with RUNS set, for that many executions. New inputs go to
# build-fuzz/corpus/NAME, never into the tree. A harness's own libFuzzer
# flags, if it needs any, are in tests/fuzz/fuzz_NAME.options, one a line
# ('#' starts a comment). Ends with one line
# "N passed, N failed" over the harnesses; exits non-zero if any crashed.
#   tests/fuzz/run.sh [SECONDS] [NAME...]
set -uo pipefail

cd "$(dirname "$0")/../.."
root=$(pwd)
seconds=${1:-30}
shift || true
build="$root/build-fuzz"

if ! CC=clang cmake -S "$root" -B "$build" -DLWIPD_FUZZ=ON -DLWIPD_WERROR=ON </dev/null >"$build.log" 2>&1 ||
   ! cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" </dev/null >>"$build.log" 2>&1; then
  tail -n 30 "$build.log" >&2
  echo "fuzz: the harnesses did not build"
  echo "0 passed, 1 failed"
  exit 1
fi

names=("$@")
if [ "${#names[@]}" -eq 0 ]; then
  # Only the harnesses: their logs (fuzz_NAME.log) sit next to them.
  for f in "$build"/fuzz_*; do [ -f "$f" ] && [ -x "$f" ] && names+=("${f##*/fuzz_}"); done
fi

passed=0
failed=0
for name in "${names[@]}"; do
  corpus="$build/corpus/$name"
  mkdir -p "$corpus" "$build/crashes/$name"
  if [ -n "${RUNS:-}" ]; then
    limit=(-runs="$RUNS")
    echo "=== fuzz_$name: $RUNS runs"
  else
    limit=(-max_total_time="$seconds")
    echo "=== fuzz_$name: $seconds s"
  fi
  options=()
  if [ -f "$root/tests/fuzz/fuzz_$name.options" ]; then
    mapfile -t options < <(grep -v -E '^[[:space:]]*(#|$)' "$root/tests/fuzz/fuzz_$name.options")
  fi
  if "$build/fuzz_$name" "${limit[@]}" "${options[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$build/crashes/$name/" "$corpus" "$root/tests/fuzz/corpus/$name" \
      >"$build/fuzz_$name.log" 2>&1; then
    grep -E '^stat::number_of_executed_units|^Done' "$build/fuzz_$name.log" | tail -n 2
    passed=$((passed + 1))
  else
    tail -n 40 "$build/fuzz_$name.log"
    echo "fuzz_$name: failed; the input is in $build/crashes/$name/"
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
