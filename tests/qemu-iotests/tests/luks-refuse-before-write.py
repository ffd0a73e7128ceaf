#!/usr/bin/python3
"""Headers that must be refused before anything is written.  Starting from
volumes made by cryptsetup, the headers are altered (for LUKS2 with valid
checksums on both copies, so only the content is wrong) to select the null
cipher, to overlap keyslot areas, to overlap the data segment with the
header, or to place key material or the data segment beyond the end of the
device.  Every way in -- qemu-io open and write, qemu-img amend adding or
erasing a keyslot, qemu-img convert, the daemon's blockdev-add -- is
refused with a clear message, and the header and payload files stay byte
for byte unchanged (hash, size and mtime)."""

import json
import os
import signal
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB
from qmp import QSD

PASS = 'refuse-pass-0'

# LUKS1 on-disk layout
L1_CIPHER, L1_MODE = 8, 40
L1_PAYLOAD_OFFSET = 104
L1_SLOTS, L1_SLOT_LEN = 208, 48


def l1_slot(data, i):
    off = L1_SLOTS + i * L1_SLOT_LEN
    active, iters = struct.unpack('>II', data[off:off + 8])
    key_off, stripes = struct.unpack('>II', data[off + 40:off + 48])
    return off, active, key_off, stripes


# LUKS2 on-disk layout: iotests.py
l2_json = iotests.luks2_json
l2_write_json = iotests.luks2_write_json


class Refuse(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.key = self.keyfile('K', PASS)
        self.key2 = self.keyfile('K2', 'refuse-new-pass')
        self.obj = (iotests.secret_obj('sec0', self.key) +
                    iotests.secret_obj('sec1', self.key2))

    # fixtures -----------------------------------------------------------

    def volume(self, luks_type, detached=True):
        """A cryptsetup volume (detached header or attached) with one key,
        data written through our qemu-io; returns (payload, header)."""
        self.payload = iotests.make_sparse(self.path('payload.img'),
                                           (24 if not detached else 8) * MiB)
        self.hdr = self.path('hdr.img') if detached else None
        extra = ['--pbkdf', 'pbkdf2'] if luks_type == 'luks2' else []
        iotests.luks_format(self.payload, self.key, header=self.hdr,
                            luks_type=luks_type, extra=extra)
        self.assertIOOk(iotests.qemu_io(
            *self.obj, '--image-opts', self.opts(), '-c',
            'write -P 0x4d 0 64k'))
        return self.payload, self.hdr

    def hfile(self):
        return self.hdr or self.payload

    def opts(self):
        return iotests.luks_opts(self.payload, self.hdr)

    def alter(self, fn, truncate=None):
        """Apply fn to the header bytes (a bytearray) in place."""
        path = self.hfile()
        with open(path, 'rb') as f:
            data = bytearray(f.read())
        fn(data)
        with open(path, 'r+b') as f:
            f.write(data)
            if truncate is not None:
                f.truncate(truncate)

    # the checks -----------------------------------------------------------

    def assertRefusedEverywhere(self, *needles):
        files = [p for p in (self.payload, self.hdr) if p]
        before = self.states(*files)
        opts = self.opts()

        r = iotests.qemu_io(*self.obj, '--image-opts', opts,
                            '-c', 'write -P 0xee 0 64k')
        self.assertCleanError(r, *needles)
        self.assertNotIn('wrote', r.out)
        self.assertUnchanged(before, files)

        for amend in ('state=active,new-secret=sec1,iter-time=%s'
                      % iotests.ITER_TIME,
                      'state=active,new-secret=sec1,keyslot=5,iter-time=%s'
                      % iotests.ITER_TIME,
                      'state=inactive,keyslot=0',
                      'state=inactive,old-secret=sec0'):
            r = iotests.qemu_img('amend', *self.obj, '--force', '-o', amend,
                                 '--image-opts', opts)
            self.assertCleanError(r, *needles)
            self.assertUnchanged(before, files)

        r = iotests.qemu_img('convert', *self.obj, '--image-opts', opts,
                             '-O', 'raw', self.path('out.raw'))
        self.assertCleanError(r, *needles)
        self.assertUnchanged(before, files)

        sock_args = ['--blockdev', 'driver=file,node-name=pay,filename=%s'
                     % self.payload]
        spec = {'driver': 'luks', 'node-name': 'disk', 'key-secret': 'sec0',
                'file': 'pay'}
        if self.hdr:
            sock_args += ['--blockdev', 'driver=file,node-name=hdr,'
                          'filename=%s' % self.hdr]
            spec['header'] = 'hdr'
        d = QSD(iotests.qsd_prog, list(self.obj) + sock_args, self.dir).start()
        try:
            reply = d.qmp.request('blockdev-add', spec)
            self.assertIn('error', reply, reply)
            for n in needles:
                self.assertIn(n.lower(), reply['error']['desc'].lower(), reply)
            self.assertIn('qemu', d.qmp.cmd('query-version'))
        finally:
            self.assertEqual(d.stop(), 0)
        self.assertUnchanged(before, files)

    # LUKS1 --------------------------------------------------------------

    def test_luks1_null_cipher(self):
        self.volume('luks1')

        def fn(d):
            d[L1_CIPHER:L1_CIPHER + 32] = b'cipher_null'.ljust(32, b'\0')
            d[L1_MODE:L1_MODE + 32] = b'ecb'.ljust(32, b'\0')
        self.alter(fn)
        self.assertRefusedEverywhere('null cipher')

    def test_luks1_overlapping_keyslots(self):
        """Slot 1 made active on slot 0's key material."""
        self.volume('luks1')

        def fn(d):
            off0 = l1_slot(d, 0)[0]
            off1 = l1_slot(d, 1)[0]
            d[off1:off1 + L1_SLOT_LEN] = d[off0:off0 + L1_SLOT_LEN]
        self.alter(fn)
        self.assertRefusedEverywhere('overlapping key material')

    def test_luks1_key_material_beyond_device(self):
        """Slot 7's key material starts past the end of the header file."""
        self.volume('luks1')

        def fn(d):
            off0 = l1_slot(d, 0)[0]
            off7 = l1_slot(d, 7)[0]
            d[off7:off7 + L1_SLOT_LEN] = d[off0:off0 + L1_SLOT_LEN]
            d[off7 + 40:off7 + 44] = struct.pack('>I', 64 * 1024 * 2)
        self.alter(fn)
        self.assertRefusedEverywhere('truncated')

    def test_luks1_truncated_inside_key_material(self):
        self.volume('luks1')
        self.alter(lambda d: None, truncate=64 * 1024)
        self.assertRefusedEverywhere('truncated')

    def test_luks1_attached_payload_offset_in_key_material(self):
        """An attached header whose data would start inside the keyslots."""
        self.volume('luks1', detached=False)

        def fn(d):
            d[L1_PAYLOAD_OFFSET:L1_PAYLOAD_OFFSET + 4] = struct.pack('>I', 16)
        self.alter(fn)
        self.assertRefusedEverywhere('overlaps')

    # LUKS2 --------------------------------------------------------------

    def alter_json(self, fn, truncate=None):
        def apply(d):
            meta = l2_json(d)
            fn(meta)
            l2_write_json(d, meta)
        self.alter(apply, truncate)

    def test_luks2_null_cipher(self):
        self.volume('luks2')

        def fn(m):
            m['segments']['0']['encryption'] = 'cipher_null-ecb'
        self.alter_json(fn)
        self.assertRefusedEverywhere('null cipher')

    def test_luks2_null_cipher_keyslot_area(self):
        self.volume('luks2')

        def fn(m):
            m['keyslots']['0']['area']['encryption'] = 'cipher_null-ecb'
        self.alter_json(fn)
        self.assertRefusedEverywhere('null cipher')

    def test_luks2_overlapping_keyslot_areas(self):
        """Keyslot 1, a copy of keyslot 0, on the same area."""
        self.volume('luks2')

        def fn(m):
            m['keyslots']['1'] = json.loads(json.dumps(m['keyslots']['0']))
            m['digests']['0']['keyslots'].append('1')
        self.alter_json(fn)
        self.assertRefusedEverywhere('overlapping')

    def test_luks2_keyslot_area_beyond_keyslots_area(self):
        self.volume('luks2')

        def fn(m):
            size = int(m['config']['keyslots_size'])
            m['keyslots']['0']['area']['offset'] = str(2 * 16384 + size)
        self.alter_json(fn)
        self.assertRefusedEverywhere('keyslot')

    def test_luks2_key_material_beyond_device(self):
        """The keyslots area is within the JSON's limits but the header
        file ends before the key material."""
        self.volume('luks2')
        self.alter_json(lambda m: None, truncate=3 * 16384)
        self.assertRefusedEverywhere('truncated')

    def test_luks2_attached_segment_overlaps_header(self):
        self.volume('luks2', detached=False)

        def fn(m):
            m['segments']['0']['offset'] = str(2 * 16384)
        self.alter_json(fn)
        self.assertRefusedEverywhere('overlaps')

    def test_luks2_attached_segment_beyond_payload(self):
        """The data segment starts past the end of the device."""
        self.volume('luks2', detached=False)

        def fn(m):
            m['segments']['0']['offset'] = str(64 * MiB)
        self.alter_json(fn)
        self.assertRefusedEverywhere('too short')

    def test_luks2_fixed_segment_beyond_payload(self):
        """A fixed-size segment that ends past the end of the device."""
        self.volume('luks2')

        def fn(m):
            m['segments']['0']['size'] = str(64 * MiB)
        self.alter_json(fn)
        self.assertRefusedEverywhere('segment')

    def test_luks2_fixed_segment_that_fits(self):
        """The counterpart: a fixed-size segment inside the device opens,
        and the volume is exactly that size (as cryptsetup maps it), not
        the rest of the payload file; it cannot be resized."""
        self.volume('luks2')

        def fn(m):
            m['segments']['0']['size'] = str(4 * MiB)
        self.alter_json(fn)
        info = iotests.img_info_json(*self.obj, '--image-opts', self.opts())
        self.assertEqual(info['virtual-size'], 4 * MiB)
        self.assertIOOk(iotests.qemu_io(
            *self.obj, '--image-opts', self.opts(),
            '-c', 'read -P 0x4d 0 64k', '-c', 'write -P 0x4e 4092k 4k'))
        r = iotests.qemu_io(*self.obj, '--image-opts', self.opts(),
                            '-c', 'write -P 0x4f 4M 4k')
        self.assertCleanError(r, stdout_ok=True)
        self.assertEqual(iotests.read_at(self.payload, 4 * MiB, 4096),
                         bytes(4096))
        r = iotests.qemu_img('resize', *self.obj, '--image-opts', self.opts(),
                             '6M')
        self.assertCleanError(r, 'fixed size')


if __name__ == '__main__':
    iotests.main()
