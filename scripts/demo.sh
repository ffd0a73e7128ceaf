#!/usr/bin/env bash
# The detached-header walkthrough, end to end, with the real tools.
#   scripts/demo.sh [BUILD]        (make demo runs it after building)
# Every step is checked; any error stops the demo with a loud message.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
QEMU_IMG=${QEMU_IMG_PROG:-$build/qemu-img}
QEMU_IO=${QEMU_IO_PROG:-$build/qemu-io}
PY=/usr/bin/python3
CRYPTSETUP=$(command -v cryptsetup || echo /usr/sbin/cryptsetup)

bold= norm=
if [ -t 1 ]; then
    bold=$(tput bold 2>/dev/null || true)
    norm=$(tput sgr0 2>/dev/null || true)
fi

die() {
    echo
    echo "${bold}*** DEMO FAILED: $* ***${norm}" >&2
    exit 1
}
trap 'die "command failed (line $LINENO): $BASH_COMMAND"' ERR

for t in "$QEMU_IMG" "$QEMU_IO"; do
    [ -x "$t" ] || die "$t is missing: build first (make)"
done
[ -x "$CRYPTSETUP" ] || die "cryptsetup is missing: run scripts/install-deps.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/luks-demo.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
cd "$work"

step() { echo; echo "${bold}== $*${norm}"; }
# print a command line as it could be pasted into a shell
show() {
    local a line='$'
    for a in "$@"; do
        if [[ $a =~ [[:space:]\'\"] ]]; then line+=" '$a'"; else line+=" $a"; fi
    done
    echo "$line${SUFFIX:-}"
}
say() { echo "   $*"; }
run() {
    show "$@"
    "$@"
}
# run a command, show its output, and require a pattern in it
run_expect() {
    local pat=$1; shift
    local out
    show "$@"
    out=$("$@" 2>&1) || { echo "$out"; die "command failed: $*"; }
    echo "$out"
    grep -q -- "$pat" <<<"$out" || die "expected '$pat' in the output of: $*"
}
# run a command that must fail, and require a pattern in its message
run_fail() {
    local pat=$1; shift
    local out
    SUFFIX='    # expected to fail' show "$@"
    if out=$("$@" 2>&1); then echo "$out"; die "command should have failed: $*"; fi
    echo "$out"
    grep -q -- "$pat" <<<"$out" || die "expected '$pat' in the error of: $*"
}

echo "${bold}Detached LUKS headers with build/qemu-img and build/qemu-io${norm}"
say "tools: $QEMU_IMG, $QEMU_IO; scratch directory: $work"

step "1. A passphrase in a key file (cryptsetup and the secret object read the same bytes)"
printf 'correct horse battery staple' > key.txt
say "key.txt holds the passphrase, without a newline"

step "2. cryptsetup makes a LUKS1 volume: the header in a 32 MiB file, the data in a 1000 MiB payload"
run truncate -s 32M hdr.img
run truncate -s 1000M payload.img
run "$CRYPTSETUP" luksFormat -q --type luks1 --header hdr.img --key-file key.txt \
    --pbkdf-force-iterations 1000 payload.img
say "payload.img has no header at all; its first bytes are not the LUKS magic:"
run od -A d -t x1 -N 16 payload.img
[ "$(head -c 4 hdr.img)" = "LUKS" ] || die "hdr.img does not start with LUKS"

step "3. qemu-img info on the bare header file: metadata only, no secret needed"
run_expect 'detached header: true' "$QEMU_IMG" info hdr.img

step "4. The pair opened together: driver=luks with file= (payload) and header="
OPTS="driver=luks,key-secret=sec0,file.filename=payload.img,header.filename=hdr.img"
run_expect 'virtual size: .*(1048576000 bytes)' "$QEMU_IMG" info --object secret,id=sec0,file=key.txt \
    --image-opts "$OPTS"

step "5. Write and read patterns with qemu-io (start, and the last MiB)"
run_expect 'wrote 1048576/1048576 bytes at offset 0' "$QEMU_IO" \
    --object secret,id=sec0,file=key.txt --image-opts "$OPTS" \
    -c 'write -P 0xa5 0 1M' -c 'write -P 0x5a 999M 1M'
run_expect 'read 1048576/1048576 bytes at offset 1047527424' "$QEMU_IO" \
    --object secret,id=sec0,file=key.txt --image-opts "$OPTS" \
    -c 'read -P 0xa5 0 1M' -c 'read -P 0x5a 999M 1M'

say "payload.img now holds ciphertext only (no 0xa5 bytes, no header):"
run od -A d -t x1 -N 16 payload.img
if head -c 1048576 payload.img | od -A n -t x1 -v | grep -q 'a5 a5 a5 a5 a5 a5 a5 a5'; then
    die "plaintext pattern found in payload.img"
fi

step "6. Independent check: cryptsetup's master key and python3-cryptography decrypt the payload"
run "$CRYPTSETUP" open --test-passphrase --header hdr.img --key-file key.txt payload.img
say "the passphrase unlocks the header in cryptsetup too"
"$PY" - <<'EOF' || die "independent decryption did not give the pattern"
import re, subprocess
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
out = subprocess.run(['cryptsetup', 'luksDump', '--dump-master-key', '-q',
                      '--key-file', 'key.txt', 'hdr.img'], check=True,
                     capture_output=True, text=True).stdout
hexkey = re.search(r'MK dump:\s*((?:[0-9a-f]{2}\s+)+)', out).group(1)
key = bytes.fromhex(''.join(hexkey.split()))
ok = True
with open('payload.img', 'rb') as f:
    for off, byte in ((0, 0xa5), (999 << 20, 0x5a)):
        f.seek(off)
        for i in range(2048):            # 1 MiB = 2048 sectors
            sector = off // 512 + i
            d = Cipher(algorithms.AES(key), modes.XTS(sector.to_bytes(16, 'little'))).decryptor()
            if d.update(f.read(512)) + d.finalize() != bytes([byte]) * 512:
                ok = False
                break
        print('   AES-XTS-plain64 decryption of 1 MiB at offset %d: %s'
              % (off, 'pattern 0x%02x' % byte if ok else 'MISMATCH'))
raise SystemExit(0 if ok else 1)
EOF

step "7. A wrong passphrase is refused, and nothing is written"
sum_before=$(sha256sum hdr.img payload.img)
run_fail 'Invalid password, cannot unlock any keyslot' "$QEMU_IO" \
    --object secret,id=sec0,data=wrong --image-opts "$OPTS" -c 'write -P 0 0 1M'
[ "$sum_before" = "$(sha256sum hdr.img payload.img)" ] || die "a failed open modified the files"

step "8. qemu-img makes a header-only file; the payload is a plain raw file, fully preallocated"
run "$QEMU_IMG" create -f luks --object secret,id=sec0,file=key.txt \
    -o key-secret=sec0,detached-header=true,iter-time=10 hdr2.img
run "$QEMU_IMG" create -f raw -o preallocation=full payload2.img 64M
alloc=$(( $(stat -c %b payload2.img) * 512 ))
say "payload2.img: $(stat -c %s payload2.img) bytes, $alloc allocated; hdr2.img: $(stat -c %s hdr2.img) bytes"
[ "$alloc" -ge $((64 << 20)) ] || die "payload2.img is not fully allocated"
OPTS2="driver=luks,key-secret=sec0,file.filename=payload2.img,header.filename=hdr2.img"
run_expect 'read 65536/65536 bytes at offset 4096' "$QEMU_IO" \
    --object secret,id=sec0,file=key.txt --image-opts "$OPTS2" \
    -c 'write -P 0x42 4k 64k' -c 'read -P 0x42 4k 64k'
run_expect 'Payload offset:.*0' "$CRYPTSETUP" luksDump hdr2.img

step "9. A second passphrase in keyslot 2 with qemu-img amend; cryptsetup agrees"
printf 'second passphrase' > key2.txt
run "$QEMU_IMG" amend --object secret,id=sec0,file=key.txt --object secret,id=sec1,file=key2.txt \
    --image-opts "$OPTS2" -o state=active,new-secret=sec1,keyslot=2,iter-time=10
run "$CRYPTSETUP" open --test-passphrase --header hdr2.img --key-file key2.txt --key-slot 2 payload2.img
say "key2.txt unlocks keyslot 2"

step "10. qemu-img info --output=json on the pair"
run_expect '"detached-header": true' "$QEMU_IMG" info --output=json --image-opts \
    "driver=luks,file.filename=payload2.img,header.filename=hdr2.img"

echo
echo "${bold}Demo completed successfully.${norm}"
