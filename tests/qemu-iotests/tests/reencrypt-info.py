#!/usr/bin/python3
"""qemu-img info of a LUKS2 volume in the middle of a reencryption (issue
13): every segment (id, type crypt/linear, offset, size, cipher, sector
size, flags in-reencryption / backup-*) and the reencryption record (mode,
direction, resilience, hash, area, state clean/crash, progress), in the
JSON and the human output.  The states come from `qemu-img reencrypt`
stopped by a blkdebug crash at a chosen write; the segments and the record
are compared with what `cryptsetup luksDump --dump-json-metadata` says of
the same header."""

import json
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
import reenc
from iotests import KiB

SIZE = 256 * KiB
HZ = 64 * KiB


def dbg(node, path, n):
    return {'driver': 'blkdebug', 'node-name': node, 'counter': 'info',
            'fail-on': 'write', 'fail-after': n, 'mode': 'crash',
            'file': {'driver': 'file', 'filename': path}}


class Info(reenc.ReencTest):

    def argv(self, mode, n, trace=False):
        opts = 'resilience=checksum,hotzone-size=%d' % HZ
        argv = [iotests.qemu_img_prog] + (['-T', 'bdrv_pwritev'] if trace
                                          else [])
        argv += ['reencrypt'] + list(self.obj) + ['--image-opts']
        if mode == 'encrypt':
            hdr = 'json:' + json.dumps(dbg('dbgh', self.h, n))
            return argv + ['--encrypt', '-o', '%s,header=%s,%s' % (
                reenc.OUR_KEY_OPTS, reenc.esc(hdr), opts), 'json:' +
                json.dumps({'driver': 'raw', 'file': dbg('dbgp', self.p, n)})]
        vol = {'driver': 'luks', 'key-secret': 'sec0',
               'file': dbg('dbgp', self.p, n),
               'header': dbg('dbgh', self.h, n)}
        return argv + ['-o', 'iter-time=%s,pbkdf=pbkdf2,%s'
                       % (iotests.ITER_TIME, opts), 'json:' + json.dumps(vol)]

    def stop_at(self, mode, hotzone, crash):
        """Run mode until the second hotzone is recorded in reencryption
        (crash) or the first one is done (clean)."""
        if mode == 'encrypt':
            base = (reenc.make_plain(self.p, SIZE), b'')
            open(self.h, 'wb').close()
        else:
            self.cs_luks_format(SIZE)
            base = (reenc.read_file(self.p), reenc.read_file(self.h))
        r = self.assertSuccess(iotests.run(self.argv(mode, 0, trace=True)))
        writes = re.findall(r':bdrv_pwritev node=(dbg[ph]) offset=(\d+)',
                            r.err)
        # the payload write of that hotzone; three writes before it (area,
        # two header copies) the previous step was done
        n = writes.index(('dbgp', str(hotzone))) + 1
        with open(self.p, 'wb') as f:
            f.write(base[0])
        with open(self.h, 'wb') as f:
            f.write(base[1])
        iotests.run(self.argv(mode, n if crash else n - 3))
        self.assertEqual(reenc.state(self.h), 'crash' if crash else 'clean')

    def info(self, *extra):
        args = list(extra) or ['--image-opts', iotests.luks_opts(
            self.p, self.h, secret=None)]
        return iotests.img_info_json(*args)['format-specific']['data']

    def assertMatchesCryptsetup(self, data):
        j = reenc.dump_json(self.h)
        segs = data['segments']
        self.assertEqual([s['id'] for s in segs],
                         sorted(int(k) for k in j['segments']))
        for s in segs:
            c = j['segments'][str(s['id'])]
            self.assertEqual(s['type'], c['type'])
            self.assertEqual(s['offset'], int(c['offset']))
            if c['size'] == 'dynamic':
                self.assertTrue(s['dynamic'])
                self.assertNotIn('size', s)
            else:
                self.assertEqual(s['size'], int(c['size']))
            self.assertEqual(s.get('flags', []), c.get('flags', []))
            if c['type'] == 'crypt':
                self.assertEqual(s['encryption'], c['encryption'])
                self.assertEqual(s['sector-size'], c['sector_size'])
                self.assertEqual(s['iv-tweak'], int(c['iv_tweak']))
        slot = [k for k in j['keyslots'].values()
                if k['type'] == 'reencrypt'][0]
        re_ = data['reencrypt']
        self.assertEqual(re_['mode'], slot['mode'])
        self.assertEqual(re_['direction'], slot['direction'])
        self.assertEqual(re_['resilience'], slot['area']['type'])
        self.assertEqual(re_['hash'], slot['area']['hash'])
        self.assertEqual(re_['area-offset'], int(slot['area']['offset']))
        self.assertEqual(re_['area-size'], int(slot['area']['size']))

    def test_encrypt_clean(self):
        self.stop_at('encrypt', HZ, crash=False)
        data = self.info()
        self.assertMatchesCryptsetup(data)
        self.assertEqual([s['type'] for s in data['segments']],
                         ['crypt', 'linear', 'linear', 'crypt'])
        self.assertEqual(data['reencrypt']['state'], 'clean')
        self.assertEqual(data['reencrypt']['done'], HZ)
        self.assertEqual(data['reencrypt']['total'], SIZE)
        # the human form says the same
        r = self.assertSuccess(iotests.qemu_img(
            'info', '--image-opts', iotests.luks_opts(self.p, self.h,
                                                     secret=None)))
        for line in ('type: linear', '[0]: backup-previous',
                     '[0]: backup-final', 'reencrypt:', 'mode: encrypt',
                     'direction: forward', 'resilience: checksum',
                     'state: clean', 'done: %d' % HZ, 'total: %d' % SIZE):
            self.assertIn(line, r.out)

    def test_encrypt_crash(self):
        self.stop_at('encrypt', HZ, crash=True)
        data = self.info()
        self.assertMatchesCryptsetup(data)
        hot = [s for s in data['segments']
               if 'in-reencryption' in s.get('flags', [])]
        self.assertEqual(len(hot), 1)
        self.assertEqual((hot[0]['offset'], hot[0]['size']), (HZ, HZ))
        self.assertEqual(hot[0]['type'], 'crypt')
        self.assertEqual(data['reencrypt']['state'], 'crash')
        # the hotzone is not counted as done
        self.assertEqual(data['reencrypt']['done'], HZ)
        # the header alone: no payload, so no progress
        alone = self.info(self.h)
        self.assertEqual(alone['segments'], data['segments'])
        self.assertEqual(alone['reencrypt']['state'], 'crash')
        self.assertNotIn('done', alone['reencrypt'])

    def test_rekey_clean(self):
        self.stop_at('reencrypt', 2 * HZ, crash=False)
        data = self.info()
        self.assertMatchesCryptsetup(data)
        self.assertEqual(data['reencrypt']['mode'], 'reencrypt')
        # two hotzones done, each key's data a crypt segment
        self.assertEqual(data['reencrypt']['done'], 2 * HZ)
        self.assertEqual([s['type'] for s in data['segments']],
                         ['crypt'] * 4)

    def test_not_in_reencryption(self):
        self.cs_luks_format(SIZE)
        data = self.info()
        self.assertNotIn('reencrypt', data)
        self.assertEqual(len(data['segments']), 1)
        self.assertNotIn('flags', data['segments'][0])


if __name__ == '__main__':
    iotests.main()
