#!/usr/bin/python3
"""qemu-storage-daemon's QMP monitor: the protocol, introspection, error
paths, several sessions at once, node management and jobs."""

import json
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB
from qmp import QSD, QMPClient, QMPError


class QsdTestCase(iotests.QemuTestCase):

    def qsd(self, *args, name='qsd'):
        d = QSD(iotests.qsd_prog, list(args), self.dir, name=name).start()
        self.addCleanup(self._stop, d)
        return d

    def _stop(self, d):
        if d.proc.poll() is None:
            d.stop(signal.SIGTERM)

    def assertQMPError(self, reply, cls, *needles):
        self.assertIn('error', reply, reply)
        self.assertEqual(reply['error']['class'], cls, reply)
        for n in needles:
            self.assertIn(n, reply['error']['desc'], reply)

    def assertCleanExit(self, d, how='quit'):
        rc = d.stop(how)
        err = d.stderr()
        self.assertEqual(rc, 0, err)
        for bad in ('AddressSanitizer', 'runtime error:', 'LeakSanitizer'):
            self.assertNotIn(bad, err)


class Protocol(QsdTestCase):

    def test_greeting_and_negotiation(self):
        d = self.qsd()
        g = d.qmp.greeting['QMP']
        self.assertEqual(g['capabilities'], [])
        self.assertEqual(set(g['version']['qemu']), {'major', 'minor', 'micro'})
        self.assertEqual(g['version']['package'], '')
        # A fresh session must negotiate first.
        c = d.connect(negotiate=False)
        r = c.request('query-version')
        self.assertQMPError(r, 'CommandNotFound', 'qmp_capabilities')
        r = c.request('qmp_capabilities', enable=['oob'])
        self.assertQMPError(r, 'GenericError', 'oob')
        self.assertEqual(c.cmd('qmp_capabilities'), {})
        r = c.request('qmp_capabilities')
        self.assertQMPError(r, 'CommandNotFound', 'already complete')
        v = c.cmd('query-version')
        self.assertEqual(v['qemu'], g['version']['qemu'])
        c.close()
        self.assertCleanExit(d)

    def test_query_commands(self):
        d = self.qsd()
        names = {c['name'] for c in d.qmp.cmd('query-commands')}
        for n in ('qmp_capabilities', 'query-version', 'query-commands',
                  'query-qmp-schema', 'quit', 'object-add', 'object-del',
                  'blockdev-add', 'blockdev-del', 'blockdev-create',
                  'x-blockdev-amend', 'query-named-block-nodes',
                  'block_resize', 'nbd-server-start', 'nbd-server-stop',
                  'block-export-add', 'block-export-del',
                  'query-block-exports', 'query-jobs', 'job-dismiss'):
            self.assertIn(n, names)

    def test_schema_shows_luks_header(self):
        """The way libvirt probes: blockdev-add's argument type, the luks
        branch, and its 'header' member of type BlockdevRef."""
        d = self.qsd()
        schema = d.qmp.cmd('query-qmp-schema')
        by_name = {e['name']: e for e in schema}
        add = [e for e in schema if e['meta-type'] == 'command'
               and e['name'] == 'blockdev-add'][0]
        opts = by_name[add['arg-type']]
        self.assertEqual(opts['tag'], 'driver')
        luks_type = [v['type'] for v in opts['variants']
                     if v['case'] == 'luks'][0]
        members = {m['name']: m for m in by_name[luks_type]['members']}
        self.assertIn('header', members)
        self.assertEqual(by_name[members['header']['type']]['meta-type'],
                         'alternate')
        self.assertIn('key-secret', members)
        events = {e['name'] for e in schema if e['meta-type'] == 'event'}
        self.assertIn('JOB_STATUS_CHANGE', events)

    def test_errors_keep_monitor_up(self):
        d = self.qsd()
        q = d.qmp
        self.assertQMPError(q.request('foo'), 'CommandNotFound',
                            'The command foo has not been found')
        q.send_raw('{"execute": "query-version",, }\n')
        r = q.recv_response()
        self.assertQMPError(r, 'GenericError', 'JSON parse error')
        q.send_raw('garbage\n')
        self.assertQMPError(q.recv_response(), 'GenericError',
                            'JSON parse error')
        q.send_raw('[1, 2]\n')
        self.assertQMPError(q.recv_response(), 'GenericError',
                            'QMP input must be a JSON object')
        q.send_raw('{"arguments": {}}\n')
        self.assertQMPError(q.recv_response(), 'GenericError',
                            "lacks member 'execute'")
        q.send_raw('{"execute": "quit", "bogus": 1, "id": 7}\n')
        r = q.recv_response()
        self.assertQMPError(r, 'GenericError', "'bogus' is unexpected")
        self.assertEqual(r['id'], 7)
        # Bad arguments.
        self.assertQMPError(q.request('blockdev-del'), 'GenericError',
                            "'node-name'")
        self.assertQMPError(q.request('blockdev-del', node_name=42),
                            'GenericError', 'node-name')
        self.assertQMPError(q.request('query-version', extra=1),
                            'GenericError', "'extra' is unexpected")
        self.assertQMPError(q.request('blockdev-add', driver='nope',
                                      node_name='x'),
                            'GenericError', 'driver')
        # A string with braces and escapes inside is one value.
        q.send_raw('{"execute": "blockdev-del", "arguments": '
                   '{"node-name": "a}\\"{b"}, "id": "s"}')
        r = q.recv_response()
        self.assertQMPError(r, 'DeviceNotFound', 'a}"{b')
        self.assertEqual(r['id'], 's')
        # Still alive, and a client that vanishes mid-command does no harm.
        s = socket.socket(socket.AF_UNIX)
        s.connect(d.qmp_path)
        s.sendall(b'{"execute": "qmp_capabilities"}{"execute": "query-')
        s.close()
        self.assertIn('qemu', q.cmd('query-version'))
        self.assertCleanExit(d)

    def test_several_monitors(self):
        other = os.path.join(self.dir, 'second.sock')
        d = self.qsd('--chardev', 'socket,id=m1,path=%s,server=on,wait=off'
                     % other, '--monitor', 'chardev=m1')
        a = d.qmp
        b = QMPClient(other)
        c = d.connect()
        a.cmd('blockdev-add', driver='null-co', node_name='n0')
        for client in (b, c):
            names = [n['node-name'] for n in
                     client.cmd('query-named-block-nodes')]
            self.assertEqual(names, ['n0'])
        # Events reach every session in command mode.
        b.cmd('blockdev-create', job_id='j0',
              options={'driver': 'file', 'filename': self.path('x.img'),
                       'size': MiB})
        for client in (a, b, c):
            client.event_wait('JOB_STATUS_CHANGE', id='j0',
                              status='concluded')
        b.close()
        c.close()
        self.assertCleanExit(d)


class Nodes(QsdTestCase):

    def test_blockdev_add_del(self):
        img = iotests.make_sparse(self.path('a.img'), 4 * MiB)
        d = self.qsd()
        q = d.qmp
        q.cmd('blockdev-add', driver='file', node_name='f0', filename=img)
        q.cmd('blockdev-add', driver='raw', node_name='r0', file='f0')
        self.assertQMPError(q.request('blockdev-add', driver='null-co',
                                      node_name='r0'),
                            'GenericError', 'r0')
        self.assertQMPError(q.request('blockdev-add', driver='null-co'),
                            'GenericError', 'node-name')
        nodes = {n['node-name']: n for n in
                 q.cmd('query-named-block-nodes')}
        self.assertEqual(nodes['r0']['drv'], 'raw')
        self.assertEqual(nodes['r0']['image']['virtual-size'], 4 * MiB)
        self.assertFalse(nodes['r0']['ro'])
        self.assertFalse(nodes['r0']['encrypted'])
        # f0 is r0's child: deleting it is refused.
        self.assertQMPError(q.request('blockdev-del', node_name='f0'),
                            'GenericError', 'busy', 'r0')
        self.assertQMPError(q.request('blockdev-del', node_name='nope'),
                            'DeviceNotFound', 'nope')
        q.cmd('block_resize', node_name='r0', size=8 * MiB)
        self.assertEqual(os.path.getsize(img), 8 * MiB)
        q.cmd('blockdev-del', node_name='r0')
        q.cmd('blockdev-del', node_name='f0')
        self.assertEqual(q.cmd('query-named-block-nodes'), [])
        self.assertCleanExit(d)

    def test_create_job(self):
        d = self.qsd()
        q = d.qmp
        statuses, info = q.run_job(
            'blockdev-create', 'job0',
            options={'driver': 'file', 'filename': self.path('new.img'),
                     'size': 2 * MiB})
        self.assertEqual(statuses, ['created', 'running', 'waiting',
                                    'pending', 'concluded'])
        self.assertEqual(info['status'], 'concluded')
        self.assertEqual(info['type'], 'create')
        self.assertNotIn('error', info)
        self.assertEqual(os.path.getsize(self.path('new.img')), 2 * MiB)
        # Same id while it still exists.
        self.assertQMPError(q.request('blockdev-create', job_id='job0',
                                      options={'driver': 'file',
                                               'filename': self.path('y'),
                                               'size': 0}),
                            'GenericError', 'job0')
        q.cmd('job-dismiss', id='job0')
        q.event_wait('JOB_STATUS_CHANGE', id='job0', status='null')
        self.assertEqual(q.cmd('query-jobs'), [])
        self.assertQMPError(q.request('job-dismiss', id='job0'),
                            'DeviceNotFound')
        # A failing job concludes with its error.
        statuses, info = q.run_job(
            'blockdev-create', 'bad',
            options={'driver': 'file',
                     'filename': self.path('no/such/dir/x.img'),
                     'size': MiB})
        self.assertEqual(statuses[-1], 'concluded')
        self.assertNotIn('pending', statuses)
        self.assertIn('error', info)
        ev = q.events
        self.assertEqual(ev, [])
        self.assertCleanExit(d)

    def test_objects(self):
        d = self.qsd('--object', 'secret,id=sec0,data=abc')
        q = d.qmp
        q.cmd('object-add', qom_type='secret', id='sec1', data='xyz')
        self.assertQMPError(q.request('object-add', qom_type='secret',
                                      id='sec1', data='xyz'),
                            'GenericError', 'sec1')
        q.cmd('object-del', id='sec0')
        q.cmd('object-del', id='sec1')
        self.assertQMPError(q.request('object-del', id='sec1'),
                            'GenericError', 'sec1')
        self.assertCleanExit(d)


class CommandLine(QsdTestCase):

    def run_qsd(self, *args):
        return iotests.run([iotests.qsd_prog] + list(args))

    def test_bad_options(self):
        r = self.run_qsd('--blockdev', 'driver=nope,node-name=x')
        self.assertCleanError(r, 'driver')
        r = self.run_qsd('--monitor', 'chardev=missing')
        self.assertCleanError(r, 'missing')
        r = self.run_qsd('--export', 'type=nbd,id=e,node-name=x')
        self.assertCleanError(r, 'NBD server not running')
        r = self.run_qsd('--nbd-server', 'addr.type=unix,addr.path=%s'
                         % self.path('n.sock'), '--export',
                         'type=nbd,id=e,node-name=missing')
        self.assertCleanError(r, 'missing')
        self.assertFalse(os.path.exists(self.path('n.sock')))
        r = self.run_qsd('--bogus')
        self.assertCleanError(r)
        r = self.run_qsd('--help')
        self.assertSuccess(r)
        self.assertIn('--nbd-server', r.out)

    def test_daemonize_pidfile(self):
        qmp = self.path('qmp.sock')
        pidfile = self.path('qsd.pid')
        r = self.run_qsd('--daemonize', '--pidfile', pidfile,
                         '--chardev', 'socket,id=m,path=%s,server=on,'
                         'wait=off' % qmp, '--monitor', 'chardev=m')
        self.assertSuccess(r)
        with open(pidfile) as f:
            pid = int(f.read())
        self.assertTrue(os.path.exists('/proc/%d' % pid))
        c = QMPClient(qmp)
        c.cmd('quit')
        c.close()
        for _ in range(200):
            if not os.path.exists('/proc/%d' % pid) or \
                    open('/proc/%d/stat' % pid).read().split()[2] == 'Z':
                break
            time.sleep(0.05)
        self.assertFalse(os.path.exists(pidfile))
        self.assertFalse(os.path.exists(qmp))
        # A start-up failure makes the daemonizing parent fail too.
        r = self.run_qsd('--daemonize', '--blockdev', 'driver=nope')
        self.assertCleanError(r)


if __name__ == '__main__':
    iotests.main()
