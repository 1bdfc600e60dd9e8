#!/usr/bin/env bash
# The benchmark's one command: builds lwipd and the bench programs in
# build/ (or $BUILD_DIR), then runs tests/bench/run.py with the arguments
# given (--smoke, --out FILE.json). Needs root; see README "Performance".
set -euo pipefail

cd "$(dirname "$0")/../.."
build=${BUILD_DIR:-build}
command -v gnuplot >/dev/null || bash tests/setup.sh </dev/null
cmake -S . -B "$build" -DLWIPD_BENCH=ON >/dev/null
cmake --build "$build" -j "$(nproc)" --target lwipd kclient ksink httpload lwipbench >/dev/null
exec /usr/bin/python3 tests/bench/run.py --build-dir "$build" "$@"
