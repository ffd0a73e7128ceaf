#!/usr/bin/python3
"""Every bad input: a clear message on stderr, a non-zero exit (no crash),
and nothing written (file hashes, sizes and mtimes unchanged; nothing
half-made left behind by create)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB

WRITE = ['-c', 'write -P 0xee 0 64k', '-c', 'write -P 0xef 1M 512']


class BadOpen(iotests.QemuTestCase):
    """Bad inputs when opening a detached pair with qemu-io / qemu-img."""

    def setUp(self):
        super().setUp()
        self.key = self.keyfile()
        self.obj = iotests.secret_obj('sec0', self.key)
        self.hdr = iotests.make_sparse(self.path('hdr.img'), 4 * MiB)
        self.payload = iotests.make_sparse(self.path('payload.img'), 8 * MiB)
        iotests.luks_format(self.payload, self.key, header=self.hdr)
        self.assertIOOk(iotests.qemu_io(*self.obj, '--image-opts',
                                        iotests.luks_opts(self.payload, self.hdr),
                                        '-c', 'write -P 0x21 0 2M'))
        self.files = [self.hdr, self.payload]
        self.before = self.states(*self.files)

    def open_fails(self, opts, *needles, obj=None):
        args = list(self.obj if obj is None else obj) + ['--image-opts', opts] + WRITE
        r = iotests.qemu_io(*args)
        self.assertCleanError(r, *needles)
        self.assertNotIn('wrote', r.out)
        self.assertUnchanged(self.before, self.files)
        return r

    def test_missing_secret_object(self):
        self.open_fails(iotests.luks_opts(self.payload, self.hdr), 'sec0', obj=[])

    def test_missing_secret_object_other_id(self):
        self.open_fails(iotests.luks_opts(self.payload, self.hdr, secret='nosuch'), 'nosuch')

    def test_missing_key_secret_option(self):
        self.open_fails(iotests.luks_opts(self.payload, self.hdr, secret=None), 'key-secret')

    def test_secret_file_missing(self):
        obj = iotests.secret_obj('sec0', self.path('no-such-keyfile'))
        self.open_fails(iotests.luks_opts(self.payload, self.hdr), obj=obj)

    def test_wrong_secret(self):
        obj = iotests.secret_obj('sec0', data='wrong passphrase')
        self.open_fails(iotests.luks_opts(self.payload, self.hdr),
                        'Invalid password, cannot unlock any keyslot', obj=obj)

    def test_wrong_secret_file(self):
        bad = self.keyfile('BAD', 'passphrase-1')
        self.open_fails(iotests.luks_opts(self.payload, self.hdr),
                        'Invalid password, cannot unlock any keyslot',
                        obj=iotests.secret_obj('sec0', bad))

    def test_wrong_secret_attached(self):
        img = iotests.make_sparse(self.path('att.img'), 8 * MiB)
        iotests.luks_format(img, self.key)
        self.files.append(img)
        self.before = self.states(*self.files)
        self.open_fails(iotests.luks_opts(img), 'Invalid password, cannot unlock any keyslot',
                        obj=iotests.secret_obj('sec0', data='nope'))

    def test_wrong_secret_convert(self):
        out = self.path('out.raw')
        r = iotests.qemu_img('convert', *iotests.secret_obj('sec0', data='nope'),
                             '--image-opts', iotests.luks_opts(self.payload, self.hdr),
                             '-O', 'raw', out)
        self.assertCleanError(r, 'Invalid password, cannot unlock any keyslot')
        self.assertFalse(os.path.exists(out))
        self.assertUnchanged(self.before, self.files)

    def test_header_not_luks_random(self):
        junk = self.path('junk.img')
        with open(junk, 'wb') as f:
            f.write(iotests.varied_data(2 * MiB))
        self.files.append(junk)
        self.before = self.states(*self.files)
        self.open_fails(iotests.luks_opts(self.payload, junk), 'LUKS')

    def test_header_not_luks_zeros(self):
        junk = iotests.make_sparse(self.path('zeros.img'), 2 * MiB)
        self.files.append(junk)
        self.before = self.states(*self.files)
        self.open_fails(iotests.luks_opts(self.payload, junk), 'LUKS')

    def test_header_and_payload_swapped(self):
        self.open_fails(iotests.luks_opts(self.hdr, self.payload))

    def test_header_empty_file(self):
        empty = iotests.make_sparse(self.path('empty.img'), 0)
        self.files.append(empty)
        self.before = self.states(*self.files)
        self.open_fails(iotests.luks_opts(self.payload, empty))

    def test_header_missing_file(self):
        self.open_fails(iotests.luks_opts(self.payload, self.path('nosuch.img')), 'nosuch.img')
        self.assertFalse(os.path.exists(self.path('nosuch.img')))

    def test_payload_missing_file(self):
        self.open_fails(iotests.luks_opts(self.path('nosuch.img'), self.hdr), 'nosuch.img')
        self.assertFalse(os.path.exists(self.path('nosuch.img')))

    def truncated_header(self, length):
        t = self.path('trunc.img')
        with open(t, 'wb') as f:
            f.write(iotests.read_at(self.hdr, 0, length))
        self.files.append(t)
        self.before = self.states(*self.files)
        return t

    def test_truncated_header_inside_binary_header(self):
        self.open_fails(iotests.luks_opts(self.payload, self.truncated_header(300)))

    def test_truncated_header_without_key_material(self):
        self.open_fails(iotests.luks_opts(self.payload, self.truncated_header(592)))

    def test_truncated_header_inside_key_material(self):
        self.open_fails(iotests.luks_opts(self.payload, self.truncated_header(64 * 1024)))

    def test_truncated_header_info(self):
        t = self.truncated_header(300)
        r = iotests.qemu_img('info', t)
        self.assertCleanError(r)
        self.assertUnchanged(self.before, self.files)
        r = iotests.qemu_img('info', '-f', 'luks', t)
        self.assertCleanError(r)
        self.assertUnchanged(self.before, self.files)

    def test_null_cipher_refused(self):
        h = self.path('null.img')
        data = bytearray(iotests.read_at(self.hdr, 0, 4 * MiB))
        data[8:40] = b'cipher_null'.ljust(32, b'\0')
        data[40:72] = b'ecb'.ljust(32, b'\0')
        with open(h, 'wb') as f:
            f.write(data)
        self.files.append(h)
        self.before = self.states(*self.files)
        self.open_fails(iotests.luks_opts(self.payload, h))

    def test_unterminated_cipher_name(self):
        h = self.path('bad.img')
        data = bytearray(iotests.read_at(self.hdr, 0, 4 * MiB))
        data[8:40] = b'a' * 32
        with open(h, 'wb') as f:
            f.write(data)
        self.files.append(h)
        self.before = self.states(*self.files)
        self.open_fails(iotests.luks_opts(self.payload, h))

    def test_neither_file_nor_header(self):
        self.open_fails('driver=luks,key-secret=sec0', 'file')

    def test_header_without_file(self):
        self.open_fails('driver=luks,key-secret=sec0,header.filename=%s' % self.hdr, 'file')

    def test_unknown_open_option(self):
        self.open_fails(iotests.luks_opts(self.payload, self.hdr, extra=['bogus-opt=1']),
                        'bogus-opt')

    def test_unknown_header_child_option(self):
        self.open_fails(iotests.luks_opts(self.payload, self.hdr, extra=['header.bogus=1']),
                        'bogus')

    def test_unknown_driver(self):
        self.open_fails('driver=luksx,key-secret=sec0,file.filename=%s' % self.payload, 'luksx')

    def test_bad_json_filename(self):
        args = list(self.obj) + ['json:{"driver":"luks","file":'] + WRITE
        r = iotests.qemu_io(*args)
        self.assertCleanError(r)
        self.assertUnchanged(self.before, self.files)

    def test_write_beyond_end(self):
        r = iotests.qemu_io(*self.obj, '--image-opts', iotests.luks_opts(self.payload, self.hdr),
                            '-c', 'write -P 0x13 %d 64k' % (8 * MiB - 32 * 1024))
        # qemu-io prints a failed command's error on stdout, as QEMU's does
        self.assertCleanError(r, stdout_ok=True)
        self.assertIn('write failed', r.out + r.err)
        self.assertUnchanged(self.before, self.files)
        self.assertEqual(os.path.getsize(self.payload), 8 * MiB)


class PayloadTooShort(iotests.QemuTestCase):
    """A payload shorter than the payload offset that its header claims."""

    def setUp(self):
        super().setUp()
        self.key = self.keyfile()
        self.obj = iotests.secret_obj('sec0', self.key)

    def check_fails(self, payload, hdr, *cmds):
        files = [payload, hdr]
        before = self.states(*files)
        args = list(self.obj) + ['--image-opts', iotests.luks_opts(payload, hdr)]
        for c in cmds:
            args += ['-c', c]
        r = iotests.qemu_io(*args)
        self.assertCleanError(r)
        self.assertNotIn('wrote', r.out)
        self.assertUnchanged(before, files)

    def test_backup_header_on_truncated_volume(self):
        img = iotests.make_sparse(self.path('vol.img'), 16 * MiB)
        iotests.luks_format(img, self.key)
        bk = self.path('bk.img')
        iotests.cryptsetup('luksHeaderBackup', img, '--header-backup-file', bk, check=True)
        os.chmod(bk, 0o600)   # cryptsetup makes it read-only
        os.truncate(img, 1 * MiB)        # payload offset is 2 MiB
        self.check_fails(img, bk, 'write -P 0x1 0 512')

    def test_detached_header_with_offset(self):
        payload = iotests.make_sparse(self.path('payload.img'), 16 * MiB)
        hdr = iotests.make_sparse(self.path('hdr.img'), 4 * MiB)
        iotests.luks_format(payload, self.key, header=hdr, extra=['--offset', '8192'])
        self.assertEqual(iotests.luks_dump(hdr)['Payload offset'], '8192')
        os.truncate(payload, 2 * MiB)    # the header says data starts at 4 MiB
        self.check_fails(payload, hdr, 'write -P 0x1 0 512')

    def test_detached_header_offset_honoured(self):
        """Control case: the same header with a long enough payload works and
        the data lands at the 4 MiB offset."""
        payload = iotests.make_sparse(self.path('payload.img'), 16 * MiB)
        hdr = iotests.make_sparse(self.path('hdr.img'), 4 * MiB)
        iotests.luks_format(payload, self.key, header=hdr, extra=['--offset', '8192'])
        r = self.assertIOOk(iotests.qemu_io(*self.obj, '--image-opts',
                                            iotests.luks_opts(payload, hdr),
                                            '-c', 'write -P 0x44 0 4k', '-c', 'length'))
        self.assertIn('12 MiB', r.out)
        self.assertEqual(iotests.read_at(payload, 0, 4 * MiB), bytes(4 * MiB))
        mk = iotests.master_key(hdr, self.key)
        self.assertDecryptsTo(payload, mk, 0, iotests.pattern(0x44, 4096),
                              payload_offset=4 * MiB)


class BadCreate(iotests.QemuTestCase):
    """qemu-img create refuses bad requests and leaves nothing behind."""

    def setUp(self):
        super().setUp()
        self.key = self.keyfile()
        self.obj = iotests.secret_obj('sec0', self.key)
        self.img = self.path('new.img')

    def create_fails(self, fmt, opts, *size, needles=(), obj=None):
        args = ['create', '-f', fmt] + list(self.obj if obj is None else obj)
        if opts:
            args += ['-o', opts]
        r = iotests.qemu_img(*args, self.img, *size)
        self.assertCleanError(r, *needles)
        self.assertFalse(os.path.exists(self.img), 'a half-made image was left behind')
        return r

    def test_size_16E_luks(self):
        self.create_fails('luks', 'key-secret=sec0,iter-time=10', '16E')

    def test_size_16E_raw(self):
        self.create_fails('raw', None, '16E')

    def test_size_8E_raw(self):
        self.create_fails('raw', None, '8E')

    def test_size_overflow_with_header(self):
        # fits in int64 alone, overflows once the header is added
        self.create_fails('luks', 'key-secret=sec0,iter-time=10', '9223372036854775296',
                          needles=('The requested file size is too large',))

    def test_negative_size(self):
        self.create_fails('luks', 'key-secret=sec0,iter-time=10', '-1M')

    def test_garbage_size(self):
        self.create_fails('raw', None, '12xyz')

    def test_unknown_option(self):
        self.create_fails('luks', 'key-secret=sec0,iter-time=10,foo-bar=1', '16M',
                          needles=('foo-bar',))

    def test_unknown_option_detached(self):
        self.create_fails('luks', 'key-secret=sec0,detached-header=true,foo-bar=1',
                          needles=('foo-bar',))

    def test_bad_cipher(self):
        self.create_fails('luks', 'key-secret=sec0,iter-time=10,cipher-alg=aes-999', '16M',
                          needles=('aes-999',))

    def test_bad_ivgen(self):
        self.create_fails('luks', 'key-secret=sec0,iter-time=10,ivgen-alg=bogus', '16M',
                          needles=('bogus',))

    def test_bad_detached_header_value(self):
        self.create_fails('luks', 'key-secret=sec0,detached-header=maybe', '16M')

    def test_missing_secret_object(self):
        self.create_fails('luks', 'key-secret=sec0,iter-time=10', '16M', needles=('sec0',),
                          obj=[])

    def test_missing_key_secret(self):
        self.create_fails('luks', 'iter-time=10', '16M', needles=('key-secret',))

    def test_missing_size_attached(self):
        self.create_fails('luks', 'key-secret=sec0,iter-time=10')

    def test_unknown_format(self):
        self.create_fails('luksx', None, '16M', needles=('luksx',))

    def test_existing_file_kept_on_error(self):
        """A failed create must not clobber an existing file either."""
        with open(self.img, 'wb') as f:
            f.write(b'precious data')
        before = self.states(self.img)
        r = iotests.qemu_img('create', '-f', 'luks', *self.obj, '-o',
                             'key-secret=sec0,iter-time=10,foo-bar=1', self.img, '16M')
        self.assertCleanError(r, 'foo-bar')
        self.assertUnchanged(before, [self.img])


if __name__ == '__main__':
    iotests.main()
