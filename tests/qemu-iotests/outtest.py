"""Helpers for output tests (a NAME.py with its NAME.out, see check).

The script runs the tools in a scratch directory of its own, with
relative file names, and prints each command and what it printed, so
that the same script run against QEMU's tools (QEMU_IMG_PROG=/usr/bin/
qemu-img QEMU_IO_PROG=/usr/bin/qemu-io) writes the NAME.out it is
checked against.  stdout and stderr are shown apart ("stderr:" marks
the latter): which stream a message goes to is part of the behaviour.
"""

import atexit
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iotests  # noqa: E402

TIMING = re.compile(r'(, \d+ ops; )[0-9:.]+ sec \(.*\)$')
CSV_TIMING = re.compile(r'^(\d+,\d+),[0-9:.]+,[0-9.]+,[0-9.]+$')
TEMP_NAME = re.compile(r'/vl\.[A-Za-z0-9]{6}\b')


def setup():
    """Enter a fresh scratch directory, removed at exit."""
    base = os.environ.get('IOTESTS_SCRATCH') or None
    work = tempfile.mkdtemp(prefix='out-', dir=base)
    atexit.register(shutil.rmtree, work, True)
    os.chdir(work)
    return work


def filter_line(line):
    line = TIMING.sub(r'\1X sec (X/sec and X ops/sec)', line)
    line = TEMP_NAME.sub('/vl.XXXXXX', line)
    return CSV_TIMING.sub(r'\1,TIME', line)


def log(text=''):
    print(text)
    sys.stdout.flush()


def _show(name, args, env=None, input=None):
    prog = {'qemu-img': iotests.qemu_img_prog,
            'qemu-io': iotests.qemu_io_prog}[name]
    log('$ %s %s' % (name, ' '.join(shlex.quote(a) for a in args)))
    p = subprocess.run([prog] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=iotests.CMD_TIMEOUT,
                       env=env, input=input)
    for line in p.stdout.decode('utf-8', 'replace').splitlines():
        log(filter_line(line))
    for line in p.stderr.decode('utf-8', 'replace').splitlines():
        log('stderr: ' + filter_line(line))
    if p.returncode:
        log('[exit %d]' % p.returncode)
    return p.returncode


def qemu_img(*args, **kwargs):
    return _show('qemu-img', args, **kwargs)


def qemu_io(*args, **kwargs):
    return _show('qemu-io', args, **kwargs)


def exists(path):
    log('%s %s' % (path, 'exists' if os.path.exists(path) else 'is gone'))


def qsd(args, qmp_lines=()):
    """Start qemu-storage-daemon with args and a QMP monitor; show its
    nodes (name, driver, file), then each raw QMP line with its reply's
    return or error text.  A daemon that exits at once shows its stderr
    and exit status instead."""
    from qmp import QSD  # noqa: E402
    log('$ qemu-storage-daemon %s' % ' '.join(shlex.quote(a) for a in args))
    d = QSD(iotests.qsd_prog, args, os.getcwd())
    try:
        d.start()
    except AssertionError:
        for line in d.stderr().splitlines():
            log('stderr: ' + filter_line(line))
        log('[exit %d]' % d.proc.returncode)
        return d.proc.returncode
    try:
        # Named nodes by name: generated names and their order differ.
        nodes = d.qmp.cmd('query-named-block-nodes')
        for n in sorted(nodes, key=lambda n: n['node-name']):
            if not n['node-name'].startswith('#'):
                log('node %s: %s %s' % (n['node-name'], n['drv'], n['file']))
        for line in qmp_lines:
            log('qmp> ' + line)
            d.qmp.send_raw(line + '\n')
            r = d.qmp.recv_response()
            log('error: ' + r['error']['desc'] if 'error' in r
                else 'return: %s' % (r['return'],))
    finally:
        rc = d.stop()
    for line in d.stderr().splitlines():
        log('stderr: ' + filter_line(line))
    return rc
