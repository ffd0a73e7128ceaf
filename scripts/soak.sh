#!/usr/bin/env bash
# A longer soak of the NBD export than the one `make check` runs (20 s):
#   soak.sh [SECONDS] [BUILD]      (default 300 s, build/)
# Runs tests/qemu-iotests/tests/qsd-nbd-soak.py directly with SOAK_SECONDS,
# prints its figures (duration, requests, bytes written and verified,
# mismatches, disconnects) and "N passed, N failed" last.  Set SOAK_SEED to
# replay a run; QSD_PROG to soak another daemon (e.g. a sanitizer build).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-300}
build=${2:-build}
[ -d "$build" ] || build="$top/$build"
log=$(mktemp)
SOAK_SECONDS=$secs QEMU_BUILD_DIR="$(cd "$build" && pwd)" \
    python3 "$top/tests/qemu-iotests/tests/qsd-nbd-soak.py" 2>&1 | tee "$log" |
    grep -E '^(soak:|FAIL|ERROR|AssertionError|OK$)'
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
    tail -40 "$log"
    echo "0 passed, 1 failed"
else
    echo "1 passed, 0 failed"
fi
rm -f "$log"
exit "$rc"
