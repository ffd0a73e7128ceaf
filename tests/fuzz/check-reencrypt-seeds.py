#!/usr/bin/env python3
"""Check the committed seeds of the luks2-reencrypt fuzz target.

For every file of SEED_DIR: the trailer's keys are the volume keys (each
digest bound to a segment matches the old or the new key of the trailer),
and, for a header in reencryption, the verification digest matches the
byte string docs/devel/luks2-reencrypt.rst describes, computed here from
the JSON and the trailer's keys.  That proves the seeds give the harness
what it needs, and it is an independent model of the digest cryptsetup
writes (to compare the C code with).  TAP output, one case per file.

    check-reencrypt-seeds.py SEED_DIR
Python standard library only.
"""
import base64
import hashlib
import json
import os
import struct
import sys

TRAILER = 8 + 2 * 64


def be64(v):
    return struct.pack('>Q', v)


def be32(v):
    return struct.pack('>I', v)


def segment_bytes(s):
    size = b'dynamic' if s['size'] == 'dynamic' else be64(int(s['size']))
    out = s['type'].encode() + be64(int(s['offset'])) + size
    if s['type'] == 'crypt':
        out += be64(int(s['iv_tweak'])) + s['encryption'].encode() + \
            be32(s['sector_size'])
    return out


def pbkdf2_matches(dg, secret):
    want = base64.b64decode(dg['digest'])
    got = hashlib.pbkdf2_hmac(dg['hash'], secret, base64.b64decode(dg['salt']),
                              dg['iterations'], len(want))
    return got == want


def digests_of(j, seg_id):
    return [k for k, dg in j['digests'].items() if seg_id in dg['segments']]


def with_flag(j, flag):
    return [(k, s) for k, s in j['segments'].items() if flag in s.get('flags', [])]


def verification_blob(j, rid, keys):
    r = j['keyslots'][rid]
    (prev_id, prev), = with_flag(j, 'backup-previous')
    (fin_id, fin), = with_flag(j, 'backup-final')
    blob = b'v2'
    d_prev, d_fin = digests_of(j, prev_id), digests_of(j, fin_id)
    if d_prev:
        blob += keys['old']
    if d_fin and d_fin != d_prev:
        blob += keys['new']
    a = r['area']
    blob += r['mode'].encode() + r['direction'].encode() + a['type'].encode()
    blob += be64(int(a['offset'])) + be64(int(a['size']))
    if a['type'] == 'checksum':
        blob += a['hash'].encode() + be32(a['sector_size'])
    return blob + segment_bytes(prev) + segment_bytes(fin)


def check(path):
    """None if the seed is right, else what is wrong."""
    d = open(path, 'rb').read()
    if len(d) < TRAILER or d[-TRAILER:-TRAILER + 8] != b'FUZZKEYS':
        return 'no FUZZKEYS trailer'
    hs = struct.unpack('>Q', d[8:16])[0]
    j = json.loads(d[4096:hs].split(b'\0')[0])
    trailer = d[-TRAILER + 8:]
    n = max([ks['key_size'] for ks in j['keyslots'].values()
             if ks['type'] == 'luks2'] + [1])
    keys = {'old': trailer[:n], 'new': trailer[64:64 + n]}
    for k, dg in j['digests'].items():
        if dg['segments'] and not any(pbkdf2_matches(dg, key) for key in keys.values()):
            return 'digest %s matches neither trailer key' % k
    reenc = [k for k, ks in j['keyslots'].items() if ks['type'] == 'reencrypt']
    if not reenc:
        return None
    rid = reenc[0]
    vd = [dg for dg in j['digests'].values() if dg['keyslots'] == [rid]]
    if len(vd) != 1 or vd[0]['segments']:
        return 'no verification digest bound to keyslot %s alone' % rid
    if not pbkdf2_matches(vd[0], verification_blob(j, rid, keys)):
        return 'the verification digest does not match the model'
    return None


def main():
    top = sys.argv[1]
    names = sorted(os.listdir(top))
    print('1..%d' % len(names))
    failed = 0
    for i, name in enumerate(names, 1):
        try:
            why = check(os.path.join(top, name))
        except (ValueError, KeyError, IndexError) as e:
            why = 'unreadable: %r' % e
        if why:
            failed += 1
            print('not ok %d - %s # %s' % (i, name, why))
        else:
            print('ok %d - %s' % (i, name))
    return 1 if failed or not names else 0


if __name__ == '__main__':
    sys.exit(main())
