"""The one QMP client and qemu-storage-daemon launcher of the iotests
(iotests.py re-exports them; no test speaks QMP by other means).

Python standard library only.

    with QSD(['--blockdev', 'driver=null-co,node-name=n0'], tmpdir) as qsd:
        qsd.qmp.cmd('query-named-block-nodes')        # -> the "return" value
        r = qsd.qmp.request('blockdev-del', node_name='x')  # -> whole reply
        ev = qsd.qmp.event_wait('JOB_STATUS_CHANGE', status='concluded')
"""

import json
import os
import select
import signal
import socket
import subprocess
import time


class QMPError(Exception):
    """A command answered with {"error": ...}."""

    def __init__(self, reply):
        self.reply = reply
        self.error_class = reply['error']['class']
        self.desc = reply['error']['desc']
        super().__init__('%s: %s' % (self.error_class, self.desc))


class QMPClient:
    """One QMP session over a Unix socket."""

    def __init__(self, path, timeout=60.0, negotiate=True):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.timeout = timeout
        self.buf = b''
        self.events = []
        self.stray = []     # error replies without an id (to broken JSON)
        self.next_id = 0
        self.greeting = self._recv_message()
        if 'QMP' not in self.greeting:
            raise AssertionError('QMP: bad greeting %r' % self.greeting)
        if negotiate:
            self.cmd('qmp_capabilities')

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError('QMP: no message in time (buffer %r)'
                               % self.buf[-200:])
        ready = select.select([self.sock], [], [], left)[0]
        if not ready:
            raise TimeoutError('QMP: no message in time')
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError('QMP: connection closed')
        self.buf += chunk

    def _recv_message(self, timeout=None):
        """The next JSON message (the server ends each with CRLF)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b'\n' not in self.buf:
            self._fill(deadline)
        line, _, self.buf = self.buf.partition(b'\n')
        return json.loads(line)

    def recv_response(self, timeout=None):
        """Next reply that is not an event (events are queued)."""
        while True:
            msg = self._recv_message(timeout)
            if 'event' in msg:
                self.events.append(msg)
                continue
            return msg

    def request(self, _execute, args=None, **kwargs):
        """Send a command; return the whole reply (return or error)."""
        args = dict(args or {})
        args.update({k.replace('_', '-'): v for k, v in kwargs.items()})
        self.next_id += 1
        msg = {'execute': _execute, 'id': self.next_id}
        if args:
            msg['arguments'] = args
        self.send_raw(json.dumps(msg) + '\n')
        reply = self.recv_response()
        # A parse error of earlier raw input is answered without an id.
        while 'error' in reply and 'id' not in reply:
            self.stray.append(reply)
            reply = self.recv_response()
        if reply.get('id') != self.next_id:
            raise AssertionError('QMP reply with id %r for request %d: %r'
                                 % (reply.get('id'), self.next_id, reply))
        return reply

    def cmd(self, _execute, args=None, **kwargs):
        """Send a command; return its "return" value or raise QMPError."""
        reply = self.request(_execute, args, **kwargs)
        if 'error' in reply:
            raise QMPError(reply)
        return reply['return']

    def event_wait(self, name, timeout=None, **match):
        """Wait for an event whose data contains match (queued ones first)."""
        def matches(ev):
            return ev['event'] == name and all(
                ev.get('data', {}).get(k.replace('_', '-')) == v
                for k, v in match.items())
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for i, ev in enumerate(self.events):
                if matches(ev):
                    return self.events.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError('QMP: no event %s %r; got %r'
                                   % (name, match, self.events))
            msg = self._recv_message(left)
            if 'event' in msg:
                self.events.append(msg)
            else:
                raise AssertionError('unexpected reply %r' % msg)

    def run_job(self, _execute, job_id, timeout=None, **kwargs):
        """Start a job command and wait until it concludes; returns the
        status changes seen and the job's query-jobs entry."""
        self.cmd(_execute, job_id=job_id, **kwargs)
        statuses = []
        while not statuses or statuses[-1] != 'concluded':
            ev = self.event_wait('JOB_STATUS_CHANGE', timeout, id=job_id)
            statuses.append(ev['data']['status'])
        info = [j for j in self.cmd('query-jobs') if j['id'] == job_id][0]
        return statuses, info


class QSD:
    """A qemu-storage-daemon process with one QMP monitor."""

    def __init__(self, prog, args, tmpdir, name='qsd', monitor=True,
                 pass_fds=()):
        self.tmpdir = tmpdir
        self.pass_fds = tuple(pass_fds)    # e.g. a pipe for secret,file=/dev/fd/N
        self.qmp_path = os.path.join(tmpdir, name + '-qmp.sock')
        self.err_path = os.path.join(tmpdir, name + '.err')
        argv = [prog]
        if monitor:
            argv += ['--chardev', 'socket,id=mon0,path=%s,server=on,wait=off'
                     % self.qmp_path, '--monitor', 'chardev=mon0']
        self.argv = argv + list(args)
        self.proc = None
        self.qmp = None

    def start(self, timeout=60.0):
        self.errf = open(self.err_path, 'wb')
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=self.errf, stderr=self.errf,
                                     pass_fds=self.pass_fds)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError('qemu-storage-daemon exited with %d: %s'
                                     % (self.proc.returncode, self.stderr()))
            try:
                self.qmp = QMPClient(self.qmp_path)
                return self
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def connect(self, negotiate=True):
        """Another QMP session on the same monitor."""
        return QMPClient(self.qmp_path, negotiate=negotiate)

    def stderr(self):
        try:
            with open(self.err_path, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    def stop(self, how='quit', timeout=60.0):
        """Stop the daemon; returns its exit status."""
        if self.proc.poll() is None:
            if how == 'quit':
                try:
                    self.qmp.cmd('quit')
                except (EOFError, OSError):
                    pass
            else:
                self.proc.send_signal(how)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError('qemu-storage-daemon did not exit')
        if self.qmp:
            self.qmp.close()
        self.errf.close()
        return rc

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.stop(signal.SIGTERM)
        return False
