#!/usr/bin/env bash
# Make the seeds of the luks2-reencrypt fuzz target: detached LUKS2 headers
# that cryptsetup left in the middle of a reencryption.
#   make-reencrypt-seeds.sh OUT_DIR
# (tests/fuzz/seeds/luks2-reencrypt holds a few of them, chosen to cover
# each mode, area type and state; the kill times are tuned to this
# machine: about 1 s for 128 MiB).
# Every header has passphrase "fuzzpass" (PBKDF2, 1000 iterations), a
# 16 KiB metadata area and a 512 KiB keyslots area, and is cut after the
# last luks2 keyslot's key material (the reencrypt keyslot's area reads as
# zeros); its volume keys follow in the trailer fuzz-luks2-reencrypt.c
# reads.  cryptsetup picks the keys (given --volume-key-file, its offline
# reencryption fails to set up its userspace cipher here), so they are
# read back with luksDump --dump-volume-key before the reencryption starts
# (the old key) and right after --init-only (the new key).
# Mid-way states come from killing cryptsetup: a state is kept when its
# segments show what the name says ("crash": a hotzone flagged
# in-reencryption; "clean": part done, between hotzones), so a run that
# found none of a kind prints which one it missed.
set -uo pipefail
out=${1:?usage: make-reencrypt-seeds.sh OUT_DIR}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
printf fuzzpass >pw
head -c 128M /dev/urandom >orig

common=(-q --force-offline-reencrypt --key-file pw --pbkdf pbkdf2
        --pbkdf-force-iterations 1000)
small=(--luks2-metadata-size 16k --luks2-keyslots-size 512k
       --cipher aes-xts-plain64 --key-size 256)

# What the segments of header $1 say: init, clean, crash or done.
state() {
    cryptsetup luksDump --dump-json-metadata "$1" 2>/dev/null | python3 -c '
import json, sys
j = json.load(sys.stdin)
if not j["config"].get("requirements"):
    print("done"); sys.exit()
data = [s for s in j["segments"].values() if not any(
    f.startswith("backup-") for f in s.get("flags", []))]
if any("in-reencryption" in s.get("flags", []) for s in data):
    print("crash")
elif len(data) > 1:
    print("clean")
else:
    print("init")'
}

save() {
    local end
    end=$(cryptsetup luksDump --dump-json-metadata "$1" | python3 -c '
import json, sys
j = json.load(sys.stdin)
print(max([int(k["area"]["offset"]) + int(k["area"]["size"])
           for k in j["keyslots"].values() if k["type"] == "luks2"] + [32768]))')
    head -c "$end" "$1" >"$out/$2"
}

# A volume of mode $1 with resilience $2 whose reencryption is recorded
# (--init-only), in p and h; its volume keys in files kold and knew.
init() {
    local mode=$1 res=$2 args=()
    cp orig p
    rm -f h kold knew
    if [ "$mode" != encrypt ]; then
        cryptsetup luksFormat -q --type luks2 --header h --key-file pw \
            --pbkdf pbkdf2 --pbkdf-force-iterations 1000 "${small[@]}" \
            p >/dev/null 2>&1 &&
        cryptsetup luksDump -q --dump-volume-key --volume-key-file kold \
            --key-file pw h >/dev/null 2>&1 || return 1
    fi
    case $mode in
    encrypt) args=(--encrypt --type luks2 "${small[@]}") ;;
    decrypt) args=(--decrypt) ;;
    reencrypt) args=(--key-size 256) ;;
    esac
    cryptsetup reencrypt "${common[@]}" "${args[@]}" --header h \
        --resilience "$res" --hotzone-size 1M --init-only p >/dev/null 2>&1 ||
        return 1
    if [ "$mode" != decrypt ]; then
        cryptsetup luksDump -q --dump-volume-key --volume-key-file knew \
            --key-file pw h >/dev/null 2>&1 || return 1
    fi
}

# Header h cut after the last luks2 keyslot area, then the key trailer
# the harness reads (fuzz-luks2-reencrypt.c): "FUZZKEYS", the old key and
# the new key, each padded with zeros to 64 bytes.
save() {
    local end
    end=$(cryptsetup luksDump --dump-json-metadata h | python3 -c '
import json, sys
j = json.load(sys.stdin)
print(max([int(k["area"]["offset"]) + int(k["area"]["size"])
           for k in j["keyslots"].values() if k["type"] == "luks2"] + [32768]))')
    {
        head -c "$end" h
        printf FUZZKEYS
        for k in kold knew; do
            [ -f $k ] || : >$k
            cat $k
            head -c $((64 - $(wc -c <$k))) /dev/zero
        done
    } >"$out/$1"
}

missed=0
for mode in encrypt decrypt reencrypt; do
    for res in checksum journal none; do
        init "$mode" "$res" && [ "$(state h)" = init ] && save "$mode-$res-init"
        # "none" commits no hot segments, and a killed cryptsetup commits
        # nothing else before the end: it has no mid-way state
        [ "$res" = none ] && continue
        got=""
        for t in 0.3 0.5 0.6 0.7 0.8 0.9 1.0 1.1 1.2 1.4 1.6 1.8 2.0 2.3; do
            init "$mode" "$res" || break
            timeout -s KILL "$t" cryptsetup reencrypt "${common[@]}" \
                --resume-only --header h p >/dev/null 2>&1
            s=$(state h)
            case "$s,$got" in
            crash,*crash*|clean,*clean*) ;;
            crash,*|clean,*) save "$mode-$res-$s"; got="$got $s" ;;
            esac
            case "$got" in *crash*clean*|*clean*crash*) break ;; esac
        done
        for want in crash clean; do
            case "$got" in
            *"$want"*) ;;
            *) echo "missed: $mode $res $want"; missed=$((missed + 1)) ;;
            esac
        done
    done
done
# and one with no reencryption, for the passphrase path alone
cp orig p
rm -f h kold knew
cryptsetup luksFormat -q --type luks2 --header h --key-file pw --pbkdf pbkdf2 \
    --pbkdf-force-iterations 1000 "${small[@]}" p >/dev/null 2>&1 &&
    cryptsetup luksDump -q --dump-volume-key --volume-key-file kold \
        --key-file pw h >/dev/null 2>&1 && save plain-luks2
ls "$out"
echo "$missed states missed"
