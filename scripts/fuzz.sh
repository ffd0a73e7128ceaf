#!/usr/bin/env bash
# Build the libFuzzer targets of tests/fuzz with clang, ASan and UBSan in
# their own build directory, make seed corpora, and run every target.
#   fuzz.sh [SECONDS]          run each target SECONDS (default $FUZZ_SECONDS or 60)
#   fuzz.sh --smoke            10 s per target (what .ci/run does)
# Prints per target the executions, coverage and verdict, then
# "N passed, N failed" (a target fails when libFuzzer finds a crash, a leak,
# a timeout or an out-of-memory; the input is kept in BUILD/fuzz-artifacts).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
secs=${FUZZ_SECONDS:-60}
if [ "${1:-}" = "--smoke" ]; then
    secs=10
elif [ -n "${1:-}" ]; then
    secs=$1
fi
build=${FUZZ_BUILD:-build-fuzz}
targets="luks1-header luks2-header luks2-reencrypt keyval qmp qmp-stream nbd nbd-client vhost-user qcow2-header"

if [ ! -f "$build/build.ninja" ]; then
    CC=clang meson setup "$build" -Dfuzzing=true \
        -Db_sanitize=address,undefined -Db_lundef=false \
        -Dc_args=-fsanitize=fuzzer-no-link -Dc_link_args=-fsanitize=fuzzer-no-link \
        >"$top/$build.setup.log" 2>&1 || { tail -30 "$top/$build.setup.log"; echo "0 passed, 1 failed"; exit 1; }
fi
ninja_targets="qemu-img"
for t in $targets; do ninja_targets="$ninja_targets tests/fuzz/fuzz-$t"; done
# shellcheck disable=SC2086
if ! ninja -C "$build" $ninja_targets >"$build/fuzz-build.log" 2>&1; then
    tail -40 "$build/fuzz-build.log"
    echo "0 passed, 1 failed"
    exit 1
fi

# --- seed corpora: committed text seeds + headers made at run time ---
corpus=$build/fuzz-corpus
art=$build/fuzz-artifacts
rm -rf "$corpus"
mkdir -p "$corpus" "$art"
for t in $targets; do
    mkdir -p "$corpus/$t"
    [ -d "tests/fuzz/seeds/$t" ] && cp tests/fuzz/seeds/$t/* "$corpus/$t/" 2>/dev/null
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf fuzzpass >"$tmp/pw"
truncate -s 4M "$tmp/pay"
# cryptsetup's detached headers (PBKDF2 with few iterations, passphrase fuzzpass)
truncate -s 2M "$tmp/cs1"
cryptsetup luksFormat -q --type luks1 --pbkdf-force-iterations 1000 \
    --key-file "$tmp/pw" --header "$tmp/cs1" "$tmp/pay" >/dev/null 2>&1 &&
    head -c 262144 "$tmp/cs1" >"$corpus/luks1-header/cryptsetup-luks1"
truncate -s 16M "$tmp/cs2"
cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
    --luks2-metadata-size 16k --luks2-keyslots-size 256k \
    --key-file "$tmp/pw" --header "$tmp/cs2" "$tmp/pay" >/dev/null 2>&1 &&
    head -c 32768 "$tmp/cs2" >"$corpus/luks2-header/cryptsetup-luks2"
# the project's own detached headers (built with this build's qemu-img)
for v in 1 2; do
    ASAN_OPTIONS=detect_leaks=0 "$build/qemu-img" create -f luks \
        --object secret,id=s0,data=fuzzpass \
        -o key-secret=s0,detached-header=true,iter-time=1,luks-version=$v \
        "$tmp/q$v" >/dev/null 2>&1 &&
        head -c $((v == 1 ? 262144 : 32768)) "$tmp/q$v" >"$corpus/luks$v-header/qemu-img-luks$v"
done
# qcow2 images made by this build's qemu-img (small clusters: small files)
for o in cluster_size=512 compat=0.10,cluster_size=512 refcount_bits=1,cluster_size=512; do
    ASAN_OPTIONS=detect_leaks=0 "$build/qemu-img" create -q -f qcow2 -o "$o" \
        "$tmp/q.qcow2" 1M >/dev/null 2>&1 &&
        cp "$tmp/q.qcow2" "$corpus/qcow2-header/qemu-img-${o//[=,]/-}"
done
for t in luks1-header luks2-header; do
    n=$(find "$corpus/$t" -type f | wc -l)
    if [ "$n" -eq 0 ]; then
        echo "no seed headers could be made for $t"
    fi
done

# --- run ---
passed=0
failed=0
printf '%-14s %10s %8s %8s  %s\n' target execs cov ft verdict
for t in $targets; do
    log=$build/fuzz-$t.log
    # Leak checking is on for every target but nbd.  The NBD server's
    # threads are short-lived (one per connection plus its reply sender,
    # GLib pool workers), and each owns a 2032-byte GLib slice block that a
    # TSD destructor frees at thread exit; a leak check that runs while such
    # a thread exits reports it, after an input or at process exit alike
    # (full stacks: g_thread_new, a pool worker's g_queue_pop_tail; no frame
    # of ours).  Only the committed NBD inputs are leak-checked, by
    # test-fuzz-replay-nbd under LeakSanitizer in .ci/run.
    leaks=1
    [ "$t" = nbd ] && leaks=0
    ASAN_OPTIONS=detect_leaks=$leaks:allocator_may_return_null=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        "$build/tests/fuzz/fuzz-$t" -max_total_time="$secs" -timeout=25 \
        -rss_limit_mb=2560 -print_final_stats=1 -artifact_prefix="$art/$t-" \
        "$corpus/$t" >"$log" 2>&1
    rc=$?
    execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1)
    cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+')
    ft=$(grep -Eo 'ft: [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+')
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1)); verdict=ok
    else
        failed=$((failed + 1)); verdict="FAILED (rc $rc, see $log)"
        grep -E 'ERROR: |SUMMARY: |runtime error|Test unit written' "$log" | head -8
    fi
    printf '%-14s %10s %8s %8s  %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$verdict"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
