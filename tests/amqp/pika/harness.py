"""The server a pika test runs against, through ../lib/serve.js (which wraps ../lib/target.js, which starts the real
ferry-broker via tests/rocket/lib/broker.js, or names the RabbitMQ of FERRY_AMQP_TARGET=rabbitmq + AMQP_URL).

    target = Target()                      # or Target(auth=True)
    conn = target.connect()                # pika.BlockingConnection, bounded timeouts
    conn = target.connect(user='bob', password='pw', vhost='test')
    target.restart(); target.kill9()       # same data, same port
    target.close()

Run with Debian's interpreter (python3-pika): /usr/bin/python3 -m unittest discover -s tests/amqp/pika -v
"""

import itertools
import json
import os
import select
import shutil
import subprocess
import time
import urllib.parse

import pika

HERE = os.path.dirname(os.path.abspath(__file__))
SERVE = os.path.join(HERE, '..', 'lib', 'serve.js')
IS_RABBIT = os.environ.get('FERRY_AMQP_TARGET') == 'rabbitmq'

_counter = itertools.count(1)


def unique(prefix):
    """A queue/exchange name unique to this process and call."""
    return '%s_%d_%d_%d' % (prefix, os.getpid(), int(time.time() * 1000) % 10**8, next(_counter))


def restart_skip_reason():
    """Why restart tests cannot run (rabbitmq mode without FERRY_RABBITMQ_DIR), else None. Never skips for Ferry."""
    if IS_RABBIT and not os.environ.get('FERRY_RABBITMQ_DIR'):
        return 'rabbitmq mode without FERRY_RABBITMQ_DIR: cannot restart the node'
    return None


class Target:
    def __init__(self, timeout=60, **options):
        node = os.environ.get('FERRY_NODE') or shutil.which('node')
        if not node:
            raise RuntimeError('node not found (needed to start the broker through tests/amqp/lib/serve.js)')
        self.proc = subprocess.Popen([node, SERVE, json.dumps(options)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=None, text=True, bufsize=1)
        self._buf = ''
        line = self._readline(timeout, 'the broker to start')
        info = json.loads(line)
        if 'error' in info:
            self.proc.wait(10)
            raise RuntimeError('cannot start the target:\n' + info['error'])
        self.url = info['url']
        self.host = info['host']
        self.port = info['port']
        self.mode = info['mode']
        self.can_restart = info['canRestart']

    def _readline(self, timeout, what):
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while '\n' not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self.proc.kill()
                raise TimeoutError('no answer from serve.js within %s s waiting for %s' % (timeout, what))
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 65536).decode()
                if not chunk:
                    raise RuntimeError('serve.js exited (code %s) waiting for %s' % (self.proc.wait(5), what))
                self._buf += chunk
        line, self._buf = self._buf.split('\n', 1)
        return line

    def _command(self, cmd, timeout=150):
        self.proc.stdin.write(cmd + '\n')
        self.proc.stdin.flush()
        answer = self._readline(timeout, cmd)
        if answer != 'ok ' + cmd:
            raise RuntimeError('%s failed: %s' % (cmd, answer))

    def restart(self):
        self._command('restart')

    def kill9(self):
        self._command('kill9')

    def output(self):
        self.proc.stdin.write('output\n')
        self.proc.stdin.flush()
        return json.loads(self._readline(30, 'output'))

    def parameters(self, user='guest', password='guest', vhost='/', heartbeat=None, **extra):
        return pika.ConnectionParameters(
            host=self.host, port=self.port, virtual_host=vhost,
            credentials=pika.PlainCredentials(user, password),
            socket_timeout=5, stack_timeout=10, blocked_connection_timeout=10, connection_attempts=1,
            heartbeat=heartbeat, **extra)

    def connect(self, **kw):
        return pika.BlockingConnection(self.parameters(**kw))

    def connect_retry(self, timeout=20, **kw):
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.connect(**kw)
            except pika.exceptions.AMQPConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(30)
            except Exception:
                self.proc.kill()
                self.proc.wait(5)


def url_quote(s):
    return urllib.parse.quote(s, safe='')


def wait_for(fn, timeout=10.0, interval=0.05, message='condition', conn=None):
    """Polls fn until it returns a truthy value (driving conn's I/O meanwhile, if given); raises on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError('timed out after %s s waiting for %s' % (timeout, message))
        if conn is not None:
            conn.process_data_events(time_limit=interval)
        else:
            time.sleep(interval)


def pump(conn, seconds):
    """Drives a BlockingConnection's I/O for `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        conn.process_data_events(time_limit=min(0.05, max(0.0, deadline - time.monotonic())))


import signal
import unittest


class TimeoutError_(AssertionError):
    pass


class TestCase(unittest.TestCase):
    """A unittest.TestCase whose tests fail (SIGALRM) after TEST_TIMEOUT seconds instead of hanging."""

    TEST_TIMEOUT = 25

    def setUp(self):
        def on_alarm(signum, frame):
            raise TimeoutError_('test did not finish within %s s' % self.TEST_TIMEOUT)
        self._old_alarm = signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(self.TEST_TIMEOUT)
        self._conns = []

    def tearDown(self):
        signal.alarm(0)
        signal.signal(signal.SIGALRM, self._old_alarm)
        for c in self._conns:
            try:
                if c.is_open:
                    c.close()
            except Exception:
                pass

    def track(self, conn):
        self._conns.append(conn)
        return conn
