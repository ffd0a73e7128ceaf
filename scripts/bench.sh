#!/usr/bin/env bash
# make bench: run the benchmark table against the build directory given.
set -euo pipefail
build=${1:-build}
mkdir -p "$build/bench-scratch"
exec python3 "$(dirname "$0")/bench.py" --build "$build" --dir "$build/bench-scratch" "${@:2}"
