#!/usr/bin/python3
"""LUKS inside qcow2 (encrypt.format=luks) and luks over a qcow2 payload.

Images encrypted by our qemu-img are read by Debian's QEMU 7.2 and the other
way round; the LUKS header stored in the image's clusters passes cryptsetup,
and a data cluster decrypts independently (python3-cryptography) with its
host offset as the sector number.  Missing or wrong keys are clean errors
that write nothing, and the secret never shows in any output.
"""

import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests

REF_IMG = '/usr/bin/qemu-img'
REF_IO = '/usr/bin/qemu-io'
PASS = 'qcow2-luks-passphrase'
CRYPTO_EXT = 0x0537be77


def crypto_area(path):
    """(offset, length) of the LUKS header from the crypto header
    extension of a v3 image."""
    with open(path, 'rb') as f:
        h = f.read(1 << 16)
    hlen = struct.unpack('>I', h[100:104])[0]
    off = hlen
    while off + 8 <= len(h):
        etype, elen = struct.unpack('>II', h[off:off + 8])
        if etype == 0:
            break
        if etype == CRYPTO_EXT:
            return struct.unpack('>QQ', h[off + 8:off + 24])
        off += 8 + (elen + 7) // 8 * 8
    raise AssertionError('no crypto header extension in %s' % path)


def l2_host_offset(path, guest_offset):
    """Host offset of a normal cluster (64 KiB clusters, no extended L2)."""
    with open(path, 'rb') as f:
        h = f.read(104)
        l1_off = struct.unpack('>Q', h[40:48])[0]
        cbits = struct.unpack('>I', h[20:24])[0]
        per_l2 = (1 << cbits) // 8
        idx = guest_offset >> cbits
        f.seek(l1_off + 8 * (idx // per_l2))
        l2 = struct.unpack('>Q', f.read(8))[0] & 0x00fffffffffffe00
        f.seek(l2 + 8 * (idx % per_l2))
        e = struct.unpack('>Q', f.read(8))[0]
    assert not e & (1 << 62), 'compressed cluster'
    return (e & 0x00fffffffffffe00) + guest_offset % (1 << cbits)


class Qcow2Luks(iotests.QemuTestCase):

    def setUp(self):
        super().setUp()
        self.key = self.keyfile('K', PASS)
        self.sec = iotests.secret_obj('sec0', self.key)

    def opts(self, img, secret='sec0'):
        o = 'driver=qcow2,file.filename=%s' % img
        return o + (',encrypt.key-secret=%s' % secret if secret else '')

    def create(self, tool, img, size='16M', extra=''):
        argv = [tool, 'create', '-f', 'qcow2'] + self.sec + [
            '-o', 'encrypt.format=luks,encrypt.key-secret=sec0,'
            'encrypt.iter-time=10' + extra, img, size]
        # QEMU 7.2's PBKDF timing fails now and then on a loaded machine
        # ("Unable to get accurate CPU usage"); another try is fine.
        for _ in range(3):
            r = iotests.run(argv)
            if r.rc == 0 or 'accurate CPU usage' not in r.err:
                break
        self.assertSuccess(r)
        self.assertNotIn(PASS, r.out + r.err)

    def io(self, tool, img, *cmds):
        argv = [tool] + self.sec + ['--image-opts', self.opts(img)]
        for c in cmds:
            argv += ['-c', c]
        return self.assertIOOk(iotests.run(argv))

    def test_ours_read_by_qemu(self):
        img = self.path('ours.qcow2')
        self.create(iotests.qemu_img_prog, img)
        self.io(iotests.qemu_io_prog, img, 'write -P 0x5a 0 1M',
                'write -P 0x33 3M 4k', 'write -P 0x44 5M 1536')
        r = self.io(REF_IO, img, 'read -P 0x5a 0 1M', 'read -P 0x33 3M 4k',
                    'read -P 0x44 5M 1536', 'read -P 0 4M 64k')
        self.assertEqual(r.out.count('read '), 4, r)
        chk = iotests.run([REF_IMG, 'check'] + self.sec +
                          ['--image-opts', self.opts(img)])
        self.assertEqual(chk.rc, 0, chk)
        self.assertIn('No errors were found on the image.', chk.out)

    def test_qemu_read_by_ours(self):
        img = self.path('ref.qcow2')
        self.create(REF_IMG, img)
        self.io(REF_IO, img, 'write -P 0x41 64k 200k', 'write -P 0x42 9M 1M')
        self.io(iotests.qemu_io_prog, img, 'read -P 0x41 64k 200k',
                'read -P 0x42 9M 1M', 'read -P 0 0 64k')
        # ... and written by ours on top: QEMU still reads both.
        self.io(iotests.qemu_io_prog, img, 'write -P 0x43 100k 8k')
        self.io(REF_IO, img, 'read -P 0x41 64k 36k', 'read -P 0x43 100k 8k',
                'read -P 0x41 108k 156k', 'read -P 0x42 9M 1M')

    def amend(self, tool, img, opts, secret='sec0', extra=()):
        argv = [tool, 'amend'] + self.sec + list(extra) + [
            '--image-opts', self.opts(img, secret), '-o', opts]
        for _ in range(3):
            r = iotests.run(argv)
            if r.rc == 0 or 'accurate CPU usage' not in r.err:
                break
        self.assertNotIn(PASS, r.out + r.err)
        return r

    def test_amend_keyslots(self):
        """qemu-img amend -o encrypt.*: a keyslot added by ours opens with
        QEMU 7.2 and one added by QEMU opens with ours; the first one
        erased by its secret (encrypt.old-secret) and by number
        (encrypt.keyslot); QEMU's refusals word for word."""
        img = self.path('a.qcow2')
        self.create(iotests.qemu_img_prog, img)
        self.io(iotests.qemu_io_prog, img, 'write -P 0x6b 0 64k')
        k1 = self.keyfile('K1', 'second-passphrase')
        k2 = self.keyfile('K2', 'third-passphrase')
        objs = (iotests.secret_obj('sec1', k1) +
                iotests.secret_obj('sec2', k2))
        self.assertSuccess(self.amend(
            iotests.qemu_img_prog, img, 'encrypt.state=active,'
            'encrypt.new-secret=sec1,encrypt.iter-time=10', extra=objs))
        self.assertSuccess(self.amend(
            REF_IMG, img, 'encrypt.state=active,encrypt.new-secret=sec2,'
            'encrypt.iter-time=10', secret='sec1', extra=objs))
        for tool, sec in ((REF_IO, 'sec1'), (iotests.qemu_io_prog, 'sec2')):
            self.assertIOOk(iotests.run(
                [tool] + self.sec + list(objs) + ['--image-opts',
                 self.opts(img, sec), '-c', 'read -P 0x6b 0 64k']))
        self.assertSuccess(self.amend(
            iotests.qemu_img_prog, img, 'encrypt.state=inactive,'
            'encrypt.old-secret=sec0', secret='sec1', extra=objs))
        self.assertSuccess(self.amend(
            iotests.qemu_img_prog, img, 'encrypt.state=inactive,'
            'encrypt.keyslot=2', secret='sec1', extra=objs))
        info = iotests.run([REF_IMG, 'info', img]).out
        self.assertEqual(info.count('active: true'), 1, info)
        # the last keyslot, an unencrypted image, a creation-only option
        plain = self.path('plain.qcow2')
        self.assertSuccess(iotests.qemu_img('create', '-q', '-f', 'qcow2',
                                            plain, '1M'))
        cases = [(img, 'encrypt.state=inactive,encrypt.keyslot=1', 'sec1'),
                 (plain, 'encrypt.state=active,encrypt.new-secret=sec2',
                  None),
                 (img, 'encrypt.format=luks', 'sec1')]
        for path, opts, sec in cases:
            ours = self.amend(iotests.qemu_img_prog, path, opts, sec, objs)
            ref = self.amend(REF_IMG, path, opts, sec, objs)
            self.assertEqual(ours.rc, 1, ours)
            self.assertEqual((ours.rc, ours.err), (ref.rc, ref.err))
        self.assertIOOk(iotests.run(
            [REF_IO] + self.sec + list(objs) + ['--image-opts',
             self.opts(img, 'sec1'), '-c', 'read -P 0x6b 0 64k']))

    def test_legacy_aes_read_for_conversion(self):
        """encrypt.format=aes (written by QEMU 7.2): ours reads it
        read-only (the IV is the guest sector: data written out of order
        sits at other host offsets) and converts it to a luks volume with
        a detached header; a read-write open is refused, and info needs no
        key."""
        img = self.path('aes.qcow2')
        r = iotests.run([REF_IMG, 'create', '-q', '-f', 'qcow2'] + self.sec +
                        ['-o', 'encrypt.format=aes,encrypt.key-secret=sec0',
                         img, '4M'])
        self.assertSuccess(r)
        self.io(REF_IO, img, 'write -P 0x61 1M 64k', 'write -P 0x62 0 4k',
                'write -P 0x63 3M 1536')
        argv = [iotests.qemu_io_prog, '-r'] + self.sec + [
            '--image-opts', self.opts(img)]
        self.assertIOOk(iotests.run(argv + [
            '-c', 'read -P 0x61 1M 64k', '-c', 'read -P 0x62 0 4k',
            '-c', 'read -P 0x63 3M 1536', '-c', 'read -P 0 4k 60k']))
        r = iotests.run([iotests.qemu_io_prog] + self.sec + [
            '--image-opts', self.opts(img), '-c', 'read 0 4k'])
        self.assertNotEqual(r.rc, 0)
        self.assertIn('can only be opened read-only', r.err)
        info = iotests.qemu_img('info', img)
        self.assertSuccess(info)
        self.assertIn('format: aes', info.out)
        pay, hdr = self.path('out.img'), self.path('out-hdr.img')
        self.assertSuccess(iotests.qemu_img(
            'create', '-q', '-f', 'luks', *self.sec, '-o',
            'key-secret=sec0,iter-time=10,detached-header=true', hdr))
        iotests.make_sparse(pay, 4 * 1024 * 1024)
        self.assertSuccess(iotests.run([
            iotests.qemu_img_prog, 'convert', '-n'] + self.sec + [
            '--image-opts', self.opts(img), '--target-image-opts',
            'driver=luks,key-secret=sec0,file.filename=%s,header.filename=%s'
            % (pay, hdr)]))
        # (QEMU 7.2 has no detached headers: ours reads the result)
        self.assertIOOk(iotests.run(
            [iotests.qemu_io_prog] + self.sec + ['--image-opts',
             'driver=luks,key-secret=sec0,file.filename=%s,'
             'header.filename=%s' % (pay, hdr),
             '-c', 'read -P 0x61 1M 64k', '-c', 'read -P 0x62 0 4k',
             '-c', 'read -P 0x63 3M 1536']))

    def test_header_and_independent_decryption(self):
        img, hdr = self.path('x.qcow2'), self.path('x.hdr')
        self.create(iotests.qemu_img_prog, img)
        data = iotests.varied_data(128 * 1024)
        src = self.path('src.bin')
        with open(src, 'wb') as f:
            f.write(data)
        self.io(iotests.qemu_io_prog, img, 'write -P 0x00 0 128k')
        r = iotests.run([iotests.qemu_img_prog, 'dd'] + self.sec + [
            '--image-opts', 'if=' + src, 'of=' + self.opts(img)])
        if r.rc != 0:
            # qemu-img dd cannot take --image-opts for of=: use convert -n.
            r = iotests.run([iotests.qemu_img_prog, 'convert', '-n', '-f', 'raw']
                            + self.sec + ['--target-image-opts', src,
                                          self.opts(img)])
        self.assertSuccess(r)
        off, length = crypto_area(img)
        with open(img, 'rb') as f, open(hdr, 'wb') as out:
            f.seek(off)
            out.write(f.read(length))
        dump = iotests.luks_dump(hdr)
        self.assertEqual(dump.get('Version'), '1', dump['_text'])
        self.assertTrue(iotests.test_passphrase(hdr, self.key))
        mk = iotests.master_key(hdr, self.key)
        for guest in (0, 64 * 1024):
            host = l2_host_offset(img, guest)
            raw = iotests.read_at(img, host, 64 * 1024)
            plain = iotests.decrypt_sectors(mk, raw, host // 512,
                                            'xts-plain64', 512)
            self.assertEqual(plain, data[guest:guest + 64 * 1024],
                             'cluster at guest %d (host %d)' % (guest, host))

    def test_info(self):
        img = self.path('i.qcow2')
        self.create(iotests.qemu_img_prog, img)
        info = iotests.img_info_json(img)
        self.assertTrue(info['encrypted'])
        enc = info['format-specific']['data']['encrypt']
        self.assertEqual(enc['format'], 'luks')
        self.assertEqual(enc['cipher-alg'], 'aes-256')
        ref = iotests.img_info_json(img)  # ours, again: stable
        self.assertEqual(info, ref)
        r = iotests.run([REF_IMG, 'info', '--output=json', img])
        self.assertSuccess(r)
        self.assertIn('"format": "luks"', r.out)

    def test_refusals(self):
        img = self.path('r.qcow2')
        self.create(iotests.qemu_img_prog, img)
        before = self.states(img)
        r = iotests.qemu_io(img, '-c', 'read 0 4k')
        self.assertCleanError(r, "encrypt.key-secret")
        wrong = self.keyfile('W', 'not-the-passphrase')
        r = iotests.run([iotests.qemu_io_prog] + iotests.secret_obj('sec0', wrong)
                        + ['--image-opts', self.opts(img), '-c',
                           'write 0 4k'])
        self.assertCleanError(r, 'Invalid password')
        self.assertUnchanged(before, [img])
        r = iotests.qemu_img('create', '-f', 'qcow2', *self.sec, '-o',
                             'encrypt.format=luks,encrypt.key-secret=sec0,'
                             'preallocation=full', self.path('p.qcow2'),
                             '1M')
        self.assertCleanError(r, 'encryption')
        r = iotests.qemu_img('create', '-f', 'qcow2', '-o',
                             'encrypt.format=luks', self.path('n.qcow2'),
                             '1M')
        self.assertCleanError(r, 'key-secret')
        plain = self.path('plain.qcow2')
        self.assertSuccess(iotests.qemu_img('create', '-f', 'qcow2', plain,
                                            '1M'))
        r = iotests.run([iotests.qemu_io_prog] + self.sec + [
            '--image-opts', plain and
            'driver=qcow2,file.filename=%s,encrypt.format=luks,'
            'encrypt.key-secret=sec0' % plain, '-c', 'read 0 4k'])
        self.assertCleanError(r, 'No encryption in image header')

    def test_luks_over_qcow2_payload(self):
        """The detached header over a sparse qcow2 payload."""
        payload, hdr = self.path('p.qcow2'), self.path('h.img')
        self.assertSuccess(iotests.qemu_img('create', '-f', 'qcow2',
                                            payload, '64M'))
        self.assertSuccess(iotests.qemu_img(
            'create', '-f', 'luks', *self.sec, '-o',
            'key-secret=sec0,detached-header=true,iter-time=10', hdr))
        lo = ('driver=luks,key-secret=sec0,file.driver=qcow2,'
              'file.file.filename=%s,header.filename=%s' % (payload, hdr))
        self.assertIOOk(iotests.run([iotests.qemu_io_prog] + self.sec + [
            '--image-opts', lo, '-c', 'write -P 0x61 1M 1M']))
        self.assertIOOk(iotests.run([iotests.qemu_io_prog] + self.sec + [
            '--image-opts', lo, '-c', 'read -P 0x61 1M 1M']))
        # Thin: the payload holds about the one MiB written, and QEMU's
        # check finds the qcow2 payload clean.
        self.assertLess(iotests.allocated_bytes(payload), 4 * 1024 * 1024)
        chk = iotests.run([REF_IMG, 'check', payload])
        self.assertEqual(chk.rc, 0, chk)


if __name__ == '__main__':
    iotests.main()
