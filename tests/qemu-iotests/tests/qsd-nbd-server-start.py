#!/usr/bin/python3
"""nbd-server-start with QEMU's schema: over QMP the nested
SocketAddressLegacy ({"type": "unix", "data": {"path": ...}}, as libvirt
sends it), on the command line the flat SocketAddress
(addr.type=unix,addr.path=...), `fd` in both (an inherited listening
socket by number), QEMU's kind of error for the other form, and
query-qmp-schema showing both shapes."""

import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
import iotests
from iotests import MiB
from qmp import QSD

DEBIAN_QEMU_IO = '/usr/bin/qemu-io'


class NbdServerStart(iotests.QemuTestCase):

    def start(self, *extra, pass_fds=()):
        self.img = iotests.make_sparse(self.path('disk.img'), 16 * MiB)
        args = ['--blockdev', 'driver=file,node-name=f0,filename=%s'
                % self.img] + list(extra)
        self.d = QSD(iotests.qsd_prog, args, self.dir,
                     pass_fds=pass_fds).start()
        self.addCleanup(self._stop)
        return self.d.qmp

    def _stop(self):
        if self.d.proc.poll() is None:
            self.d.stop()

    def export(self, q):
        q.cmd('block-export-add', type='nbd', id='e0', node_name='f0',
              name='disk', writable=True)

    def roundtrip(self, uri, byte):
        """Debian's QEMU 7.2 writes and reads back through the export."""
        self.assertIOOk(iotests.run(
            [DEBIAN_QEMU_IO, '-f', 'raw', uri,
             '-c', 'write -P %d 1M 64k' % byte, '-c', 'flush',
             '-c', 'read -P %d 1M 64k' % byte]))
        self.assertEqual(iotests.read_at(self.img, MiB, 16),
                         bytes([byte]) * 16)

    def test_qmp_nested_unix(self):
        """The exact command of the bug report, then a client uses it."""
        q = self.start()
        sock = self.path('nbd.sock')
        q.send_raw('{"execute":"nbd-server-start","arguments":{"addr":'
                   '{"type":"unix","data":{"path":"%s"}}}}\n' % sock)
        self.assertEqual(q.recv_response(), {'return': {}})
        self.export(q)
        self.roundtrip('nbd+unix:///disk?socket=%s' % sock, 0x5a)
        q.cmd('nbd-server-stop')
        self.assertEqual(self.d.stop(), 0)

    def test_qmp_nested_inet(self):
        q = self.start()
        port = iotests.free_tcp_port()
        q.cmd('nbd-server-start', addr={
            'type': 'inet', 'data': {'host': '127.0.0.1', 'port': str(port)}},
            max_connections=4)
        self.export(q)
        self.roundtrip('nbd://127.0.0.1:%d/disk' % port, 0x6b)

    def test_qmp_refuses_other_forms(self):
        """Each wrong address answers with the parameter QEMU names, and
        the server can still be started afterwards."""
        q = self.start()
        sock = self.path('nbd.sock')
        bad = [
            ({'type': 'unix', 'path': sock}, "Parameter 'addr.data' is missing"),
            ({'type': 'unix', 'data': {}},
             "Parameter 'addr.data.path' is missing"),
            ({'type': 'inet', 'data': {'host': '127.0.0.1'}},
             "Parameter 'addr.data.port' is missing"),
            ({'type': 'vsock', 'data': {'cid': '2', 'port': '1'}},
             "Parameter 'addr.type' does not accept value 'vsock'"),
            ({'type': 'fd', 'data': {'str': 'fdname'}},
             "File descriptor named 'fdname' has not been found"),
            ({'type': 'fd', 'data': {'str': '0'}},
             "File descriptor '0' is not a socket"),
            ({'type': 'fd', 'data': {'str': '987'}}, 'Invalid file descriptor'),
        ]
        for addr, msg in bad:
            r = q.request('nbd-server-start', addr=addr)
            self.assertIn('error', r, addr)
            self.assertEqual(r['error']['class'], 'GenericError')
            self.assertIn(msg, r['error']['desc'])
        self.assertFalse(os.path.exists(sock))
        q.cmd('nbd-server-start', addr={'type': 'unix',
                                        'data': {'path': sock}})
        self.assertTrue(os.path.exists(sock))

    def test_cmdline_flat(self):
        sock = self.path('nbd.sock')
        q = self.start('--nbd-server', 'addr.type=unix,addr.path=%s' % sock)
        self.export(q)
        self.roundtrip('nbd+unix:///disk?socket=%s' % sock, 0x7c)

    def test_cmdline_refuses_nested(self):
        sock = self.path('nbd.sock')
        for opt, msg in [
                ('addr.type=unix,addr.data.path=%s' % sock,
                 "Parameter 'addr.path' is missing"),
                ('addr.type=fd', "Parameter 'addr.str' is missing"),
                ('addr.type=fd,addr.str=monfd',
                 "File descriptor named 'monfd' has not been found")]:
            r = iotests.run([iotests.qsd_prog, '--nbd-server', opt])
            self.assertCleanError(r, msg)
            self.assertEqual(r.rc, 1)
        self.assertFalse(os.path.exists(sock))

    def test_fd_inherited(self):
        """fd on the command line (a listening socket) and over QMP (a
        bound one: the daemon puts it in the listening state)."""
        s1 = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s1.bind(self.path('fd1.sock'))
        s1.listen(8)
        s2 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s2.bind(('127.0.0.1', 0))
        port = s2.getsockname()[1]
        for s in (s1, s2):
            s.set_inheritable(True)
            self.addCleanup(s.close)
        q = self.start('--nbd-server', 'addr.type=fd,addr.str=%d'
                       % s1.fileno(), pass_fds=(s1.fileno(), s2.fileno()))
        self.export(q)
        self.roundtrip('nbd+unix:///disk?socket=%s' % self.path('fd1.sock'),
                       0x11)
        q.cmd('nbd-server-stop')
        q.cmd('nbd-server-start', addr={'type': 'fd',
                                        'data': {'str': str(s2.fileno())}})
        self.export(q)
        self.roundtrip('nbd://127.0.0.1:%d/disk' % port, 0x22)

    def test_query_qmp_schema(self):
        """Follow nbd-server-start's arg-type the way a client does (by
        the names the schema gives, whatever they are)."""
        q = self.start()
        schema = {e['name']: e for e in q.cmd('query-qmp-schema')}

        def members(name):
            return {m['name']: m for m in schema[name]['members']}

        def variants(name):
            return {v['case']: v['type'] for v in schema[name]['variants']}

        cmd = schema['nbd-server-start']
        self.assertEqual(cmd['meta-type'], 'command')
        args = members(cmd['arg-type'])
        self.assertEqual(set(args), {'addr', 'tls-creds',
                                     'handshake-max-seconds',
                                     'max-connections'})
        self.assertNotIn('default', args['addr'])      # mandatory
        legacy = args['addr']['type']
        self.assertEqual(schema[legacy]['tag'], 'type')
        tag_type = members(legacy)['type']['type']
        self.assertEqual(schema[tag_type]['values'], ['inet', 'unix', 'fd'])
        branches = variants(legacy)
        self.assertEqual(set(branches), {'inet', 'unix', 'fd'})
        expect = {'unix': {'path'}, 'inet': {'host', 'port'}, 'fd': {'str'}}
        for case, inner in expect.items():
            wrapper = members(branches[case])
            self.assertEqual(set(wrapper), {'data'}, case)
            self.assertEqual(set(members(wrapper['data']['type'])), inner,
                             case)
        # The flat form (the command line's) is in the schema too, with the
        # same branches directly.
        flat = variants('SocketAddress')
        for case, inner in expect.items():
            self.assertEqual(set(members(flat[case])), inner, case)


if __name__ == '__main__':
    iotests.main()
