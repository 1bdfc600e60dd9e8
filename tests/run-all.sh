#!/usr/bin/env bash
# Installs the dependencies, then builds and tests lwipd three times, each
# with warnings as errors, running every ctest test (unit and integration):
# a normal build in build/, an AddressSanitizer + UBSan build in
# build-asan/, and a ThreadSanitizer build in build-tsan/ (all but the
# systemd container test, whose seccomp filter TSan's runtime does not
# suit, and the browser test, whose requests the HTTP tests already make
# under TSan: it would add a minute of Chromium to CI). Then it runs each libFuzzer harness briefly (tests/fuzz/run.sh;
# FUZZ_SECONDS, default 20). Ends with one line "N passed, N failed" over
# all of it; exits non-zero if anything failed. Needs root (network
# namespaces, TAP devices).
set -uo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)

bash tests/setup.sh </dev/null || { echo "run-all.sh: setup.sh failed" >&2; echo "0 passed, 1 failed"; exit 1; }

total_passed=0
total_failed=0
status=0

# Counts the tests registered in a configured build tree.
count_tests() {
  ctest --test-dir "$1" -N 2>/dev/null | sed -n 's/^Total Tests: *\([0-9][0-9]*\).*/\1/p'
}

build_and_test() {
  local dir=$1 exclude=$2; shift 2
  echo "=== $dir: configure ($*)"
  if ! cmake -S "$root" -B "$root/$dir" -DLWIPD_WERROR=ON "$@" </dev/null; then
    echo "run-all.sh: $dir: configure failed" >&2
    total_failed=$((total_failed + 1)); status=1; return
  fi
  echo "=== $dir: build"
  if ! cmake --build "$root/$dir" -j "$jobs" </dev/null; then
    local n; n=$(count_tests "$root/$dir"); n=${n:-0}; [ "$n" -gt 0 ] || n=1
    echo "run-all.sh: $dir: build failed; counting its $n tests as failed" >&2
    total_failed=$((total_failed + n)); status=1; return
  fi
  echo "=== $dir: test"
  local log="$root/$dir/run-all-ctest.log"
  ctest --test-dir "$root/$dir" --output-on-failure ${exclude:+-E "$exclude"} </dev/null 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  # "100% tests passed, 0 tests failed out of 10"
  local line failed total
  line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
  if [ -n "$line" ]; then
    failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
    total=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
    total_passed=$((total_passed + total - failed))
    total_failed=$((total_failed + failed))
  else
    echo "run-all.sh: $dir: no ctest summary (status $rc)" >&2
    total_failed=$((total_failed + 1))
  fi
  [ "$rc" -eq 0 ] || status=1
}

build_and_test build ""
build_and_test build-asan "" -DLWIPD_SANITIZE=ON
build_and_test build-tsan "^integration[.](systemd_container|lab)$" -DLWIPD_TSAN=ON

# The benchmark in its smoke mode: it must run and write valid JSON and a PNG;
# its figures are never judged here.
echo "=== bench: smoke run"
smoke="$root/build/bench/smoke.json"
rm -f "$smoke" "${smoke%.json}.png"
if BUILD_DIR=build bash tests/bench/run.sh --smoke --out "$smoke" </dev/null &&
    /usr/bin/python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$smoke" &&
    [ "$(head -c 4 "${smoke%.json}.png" | od -An -tx1 | tr -d ' ')" = "89504e47" ]; then
  total_passed=$((total_passed + 1))
else
  echo "run-all.sh: the benchmark's smoke run failed" >&2
  total_failed=$((total_failed + 1)); status=1
fi

echo "=== fuzz: each harness for ${FUZZ_SECONDS:-20} s"
fuzz_log="$root/build-fuzz-run.log"
bash tests/fuzz/run.sh "${FUZZ_SECONDS:-20}" </dev/null 2>&1 | tee "$fuzz_log"
fuzz_line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$fuzz_log" | tail -n 1)
if [ -n "$fuzz_line" ]; then
  total_passed=$((total_passed + ${fuzz_line%% passed*}))
  fuzz_failed=${fuzz_line##*, }
  total_failed=$((total_failed + ${fuzz_failed%% failed}))
else
  total_failed=$((total_failed + 1))
fi

if ip netns list 2>/dev/null | grep -q '^lwipd-[tb]-'; then
  echo "run-all.sh: test or bench namespaces were left behind:" >&2
  ip netns list | grep '^lwipd-[tb]-' >&2
  total_failed=$((total_failed + 1))
  status=1
fi

[ "$total_failed" -eq 0 ] || status=1
echo "$total_passed passed, $total_failed failed"
exit "$status"
