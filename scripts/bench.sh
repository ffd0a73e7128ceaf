#!/usr/bin/env bash
# make bench: run the benchmark table against the build directory given.
set -euo pipefail
build=${1:-build}
mkdir -p "$build/bench-scratch"
# Absolute: qemu-nbd 7.2 refuses a relative socket path.
scratch=$(cd "$build/bench-scratch" && pwd)
exec python3 "$(dirname "$0")/bench.py" --build "$build" --dir "$scratch" "${@:2}"
