"""Shared fixtures of the qcow2 iotests that compare with Debian's qemu-img
7.2 (issue 14): the reference tools, images made with them, and just enough
of the format to damage an image on purpose."""

import os
import struct

import iotests

REF_IMG = '/usr/bin/qemu-img'
REF_IO = '/usr/bin/qemu-io'
OFFSET_MASK = 0x00fffffffffffe00
COPIED = 1 << 63


class Qcow2File:
    """Just enough of the format to damage an image on purpose."""

    def __init__(self, path):
        self.path = path
        h = self.rd(0, 104)
        (_, self.version, _, _, self.cbits, self.size, _, self.l1_size,
         self.l1_off, self.rt_off, self.rt_clusters, self.nb_snap,
         self.snap_off) = struct.unpack('>IIQIIQIIQQIIQ', h[:72])
        self.cs = 1 << self.cbits
        self.rorder = (struct.unpack('>I', h[96:100])[0]
                       if self.version >= 3 else 4)

    def rd(self, off, n):
        with open(self.path, 'rb') as f:
            f.seek(off)
            return f.read(n)

    def wr(self, off, data):
        with open(self.path, 'r+b') as f:
            f.seek(off)
            f.write(data)

    def u64(self, off):
        return struct.unpack('>Q', self.rd(off, 8))[0]

    def set64(self, off, v):
        self.wr(off, struct.pack('>Q', v))

    def l1e_addr(self, i):
        return self.l1_off + 8 * i

    def l2e_addr(self, vc):
        per = self.cs // 8
        return ((self.u64(self.l1e_addr(vc // per)) & OFFSET_MASK)
                + 8 * (vc % per))

    def l2e(self, vc):
        return self.u64(self.l2e_addr(vc))

    def set_l2e(self, vc, v):
        self.set64(self.l2e_addr(vc), v)

    def host_cluster(self, vc):
        return (self.l2e(vc) & OFFSET_MASK) // self.cs

    def _rc_pos(self, hc):
        bits = 1 << self.rorder
        per = self.cs * 8 // bits
        blk = self.u64(self.rt_off + 8 * (hc // per)) & ~0x1ff
        return blk, (hc % per) * bits, bits

    def refcount(self, hc):
        blk, bit, bits = self._rc_pos(hc)
        if bits >= 8:
            return int.from_bytes(self.rd(blk + bit // 8, bits // 8), 'big')
        return (self.rd(blk + bit // 8, 1)[0] >> (bit % 8)) & ((1 << bits) - 1)

    def set_refcount(self, hc, v):
        blk, bit, bits = self._rc_pos(hc)
        if bits >= 8:
            self.wr(blk + bit // 8, v.to_bytes(bits // 8, 'big'))
            return
        b = self.rd(blk + bit // 8, 1)[0]
        m = ((1 << bits) - 1) << (bit % 8)
        self.wr(blk + bit // 8, bytes([(b & ~m) | ((v << (bit % 8)) & m)]))

    def nb_clusters(self):
        return (os.path.getsize(self.path) + self.cs - 1) // self.cs


def ref_img(*args):
    return iotests.run([REF_IMG] + list(args))


def ref_io(*args):
    return iotests.run([REF_IO] + list(args), check=True)


def make_image(path, size='64M', opts=None, writes=(), backing=None):
    """A qcow2 image made by Debian's qemu-img, written by its qemu-io."""
    args = ['create', '-q', '-f', 'qcow2']
    if opts:
        args += ['-o', opts]
    if backing:
        args += ['-b', backing, '-F', 'qcow2']
    r = ref_img(*(args + [path, size]))
    if r.rc != 0:
        raise AssertionError('reference qemu-img create failed:\n%r' % r)
    for w in writes:
        ref_io('-c', w, path)
    return path
