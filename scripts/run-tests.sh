#!/usr/bin/env bash
# Run every test of a build directory and print "N passed, N failed" last.
#   run-tests.sh [BUILD] [--unit-only]
# Unit and interop tests run through meson (TAP: every test case counts);
# the black-box iotests run through tests/qemu-iotests/check.
set -uo pipefail
build=${1:-build}
mode=${2:-all}
top=$(cd "$(dirname "$0")/.." && pwd)
passed=0
failed=0

count_meson() {
    local p f
    read -r p f < <(python3 "$top/scripts/count-meson-tests.py" "$build/meson-logs/testlog.json")
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-1}))
}

echo "== meson tests ($build)"
meson test -C "$build" --print-errorlogs --num-processes 2 >"$build/meson-tests.log" 2>&1
rc=$?
grep -E '^ *[0-9]+/[0-9]+ .*(FAIL|TIMEOUT|ERROR)' "$build/meson-tests.log" | head -50
tail -n 12 "$build/meson-tests.log"
count_meson "$build/meson-tests.log"
if [ $rc -ne 0 ] && [ "$failed" -eq 0 ]; then
    echo "meson test exited $rc without a failure count; see $build/meson-tests.log"
    failed=$((failed + 1))
fi

if [ "$mode" != "--unit-only" ] && [ -x "$top/tests/qemu-iotests/check" ]; then
    echo "== qemu-iotests"
    log="$build/iotests.log"
    QEMU_BUILD_DIR="$(cd "$build" && pwd)" "$top/tests/qemu-iotests/check" 2>&1 | tee "$log"
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
    if [ -n "$line" ]; then
        p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
        passed=$((passed + p)); failed=$((failed + f))
    else
        echo "iotests runner printed no summary"
        failed=$((failed + 1))
    fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
