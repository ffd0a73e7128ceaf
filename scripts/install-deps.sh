#!/usr/bin/env bash
# Install the Debian 12 packages the project needs, but only those that are missing.
set -euo pipefail
pkgs=(
  build-essential pkg-config meson ninja-build
  libglib2.0-dev libjson-glib-dev libgnutls28-dev nettle-dev libargon2-dev
  cryptsetup-bin python3 python3-cryptography
  qemu-utils libnbd-bin
  libvirt-clients   # virt-xml-validate: the storage daemon's libvirt example
  clang             # libFuzzer targets (scripts/fuzz.sh, make fuzz)
  gnutls-bin        # certtool/psktool: TLS credentials for the NBD TLS tests
  python3-docutils  # test-docs-rst: the manual is well-formed reStructuredText
  libfuse3-dev fuse3 # FUSE exports of qemu-storage-daemon (-Dfuse)
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q "${missing[@]}"
fi
