#!/usr/bin/env bash
# Install the Debian 12 packages the project needs, but only those that are missing.
set -euo pipefail
pkgs=(
  build-essential pkg-config meson ninja-build
  libglib2.0-dev libjson-glib-dev libgnutls28-dev nettle-dev libargon2-dev
  zlib1g-dev libzstd-dev   # qcow2 compressed clusters (deflate, zstd)
  cryptsetup-bin python3 python3-cryptography
  qemu-utils libnbd-bin
  nbdkit            # NBD client tests: a server nobody here wrote (memory, file plugins)
  libvirt-clients   # virt-xml-validate: the storage daemon's libvirt example
  clang             # libFuzzer targets (scripts/fuzz.sh, make fuzz)
  gnutls-bin        # certtool/psktool: TLS credentials for the NBD TLS tests
  python3-docutils  # test-docs-rst: the manual is well-formed reStructuredText
  libfuse3-dev fuse3 # FUSE exports of qemu-storage-daemon (-Dfuse)
  librbd-dev librados-dev  # the rbd protocol driver (block/rbd.c)
  ceph-mon ceph-mgr ceph-osd ceph-common  # the tests' one-node cluster
  qemu-block-extra  # Debian QEMU 7.2's rbd driver: the interop peer
  libaio-dev liburing-dev  # the file driver's aio=native and aio=io_uring
)
# The VM iotests (vm-*.py): a real guest under TCG and a libvirt domain.
# Without recommends: libvirt-daemon-system would start system services.
vm_pkgs=(
  qemu-system-x86             # qemu-system-x86_64 7.2
  linux-image-amd64           # the guest's kernel (/boot/vmlinuz-*, modules)
  busybox-static              # the guest's initramfs
  libvirt-daemon libvirt-daemon-driver-qemu   # a private session libvirtd
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
vm_missing=()
for p in "${vm_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || vm_missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ] || [ ${#vm_missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]} ${vm_missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  # No questions: linux-image-amd64 runs initramfs-tools' hooks on install.
  export DEBIAN_FRONTEND=noninteractive
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
  if [ ${#missing[@]} -gt 0 ]; then
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  fi
  if [ ${#vm_missing[@]} -gt 0 ]; then
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
      --no-install-recommends -o Dpkg::Options::=--force-confdef \
      -o Dpkg::Options::=--force-confold "${vm_missing[@]}"
  fi
fi
