#!/usr/bin/python3
"""Independent LUKS payload encryption and decryption with Debian's
python3-cryptography: the one copy of the sector rules the tests check our
ciphertext against.

Used two ways:
  - imported by tests/qemu-iotests/iotests.py (crypt_sectors and friends);
  - run by the C interop unit tests (test-luks-interop, test-luks2-interop):

        luks_check.py decrypt SPEC SECTOR_SIZE FIRST_IV SRC DST

    decrypts the whole sectors of file SRC into file DST.  The master key
    comes in hex on the first line of stdin, never on the command line, and
    is never printed.

SPEC is a LUKS cipher mode string without the cipher name: 'xts-plain64',
'cbc-essiv:sha256', 'cbc-plain', 'ctr-plain64', 'ecb'.  The IV counts
512-byte units from FIRST_IV, also with 4096-byte sectors (LUKS2 with
iv_tweak 0, as dm-crypt does).  AES only.
"""

import hashlib
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SECTOR = 512


def iv_bytes(ivgen, key, sector):
    """The 16-byte IV of a sector number for one ivgen."""
    if ivgen == 'plain64':
        return (sector & 0xffffffffffffffff).to_bytes(16, 'little')
    if ivgen == 'plain':
        return (sector & 0xffffffff).to_bytes(16, 'little')
    if ivgen.startswith('essiv'):
        hname = ivgen.split(':', 1)[1] if ':' in ivgen else 'sha256'
        salt = hashlib.new(hname, key).digest()
        enc = Cipher(algorithms.AES(salt), modes.ECB()).encryptor()
        return enc.update(sector.to_bytes(16, 'little')) + enc.finalize()
    raise ValueError('unsupported ivgen %s' % ivgen)


def sector_cipher(key, spec, sector):
    """The AES cipher object for one sector under a mode string."""
    cmode, _, ivgen = spec.partition('-')
    if cmode == 'ecb':
        return Cipher(algorithms.AES(key), modes.ECB())
    iv = iv_bytes(ivgen, key, sector)
    if cmode == 'xts':
        return Cipher(algorithms.AES(key), modes.XTS(iv))
    if cmode == 'cbc':
        return Cipher(algorithms.AES(key), modes.CBC(iv))
    if cmode == 'ctr':
        return Cipher(algorithms.AES(key), modes.CTR(iv))
    raise ValueError('unsupported cipher mode %s' % cmode)


def crypt_sectors(key, data, first_sector, decrypt, spec='xts-plain64',
                  sector_size=SECTOR):
    """En/decrypt whole sectors; the IV of the n-th sector is first_sector
    plus n times the 512-byte units per sector."""
    if len(data) % sector_size:
        raise ValueError('data is not a whole number of sectors')
    out = bytearray()
    per = sector_size // SECTOR
    for i in range(0, len(data), sector_size):
        sector = first_sector + (i // sector_size) * per
        c = sector_cipher(key, spec, sector)
        op = c.decryptor() if decrypt else c.encryptor()
        out += op.update(data[i:i + sector_size]) + op.finalize()
    return bytes(out)


def decrypt_sectors(key, data, first_sector, spec='xts-plain64',
                    sector_size=SECTOR):
    return crypt_sectors(key, data, first_sector, True, spec, sector_size)


def encrypt_sectors(key, data, first_sector, spec='xts-plain64',
                    sector_size=SECTOR):
    return crypt_sectors(key, data, first_sector, False, spec, sector_size)


def main(argv):
    if len(argv) != 7 or argv[1] != 'decrypt':
        sys.exit('usage: luks_check.py decrypt SPEC SECTOR_SIZE FIRST_IV '
                 'SRC DST  (hex key on stdin)')
    spec, sector_size, first = argv[2], int(argv[3]), int(argv[4])
    key = bytes.fromhex(sys.stdin.readline().strip())
    with open(argv[5], 'rb') as f:
        data = f.read()
    with open(argv[6], 'wb') as f:
        f.write(decrypt_sectors(key, data, first, spec, sector_size))


if __name__ == '__main__':
    main(sys.argv)
