"""RabbitMQ's seven tutorials with pika (Debian's python3-pika 1.2), end to end: hello world; work queues (prefetch 1,
fair dispatch, manual acks); publish/subscribe (fanout); routing (direct); topics (* and #); RPC with reply_to and
correlation_id, and with direct reply-to; publisher confirms (one by one with BlockingChannel, batched and
asynchronous with SelectConnection)."""

import threading
import time
import unittest

import pika

import harness
from harness import unique, wait_for, pump

target = None


def setUpModule():
    global target
    target = harness.Target()


def tearDownModule():
    if target:
        target.close()


class Tutorials(harness.TestCase):

    def channel(self):
        conn = self.track(target.connect())
        return conn, conn.channel()

    def test_1_hello_world(self):
        conn, ch = self.channel()
        q = unique('hello')
        ch.queue_declare(queue=q)
        ch.basic_publish(exchange='', routing_key=q, body=b'Hello World!')
        got = []
        ch.basic_consume(queue=q, on_message_callback=lambda c, m, p, b: got.append((m, p, b)), auto_ack=True)
        wait_for(lambda: got, conn=conn, message='hello world')
        method, props, body = got[0]
        self.assertEqual(body, b'Hello World!')
        self.assertEqual(method.exchange, '')
        self.assertEqual(method.routing_key, q)
        self.assertFalse(method.redelivered)
        pump(conn, 0.3)
        self.assertEqual(len(got), 1)
        ch.queue_delete(q)

    def test_2_work_queues_fair_dispatch(self):
        conn, ch = self.channel()
        q = unique('task_queue')
        ch.queue_declare(queue=q, durable=True)
        workers = []
        for wid in ('w1', 'w2'):
            wch = conn.channel()
            wch.basic_qos(prefetch_count=1)
            w = {'id': wid, 'ch': wch, 'done': [], 'in_flight': 0, 'max_in_flight': 0}

            def on_message(c, m, p, body, w=w):
                w['in_flight'] += 1
                w['max_in_flight'] = max(w['max_in_flight'], w['in_flight'])

                def finish():
                    w['done'].append(body.decode())
                    w['in_flight'] -= 1
                    c.basic_ack(delivery_tag=m.delivery_tag)
                conn.call_later(1.5 if body == b'slow' else 0.02, finish)
            wch.basic_consume(queue=q, on_message_callback=on_message)
            workers.append(w)
        tasks = ['slow', 't1', 't2', 't3', 't4', 't5']
        for task in tasks:
            ch.basic_publish(exchange='', routing_key=q, body=task.encode(),
                             properties=pika.BasicProperties(delivery_mode=pika.spec.PERSISTENT_DELIVERY_MODE))
        wait_for(lambda: sum(len(w['done']) for w in workers) == len(tasks), timeout=10, conn=conn,
                 message='all tasks done')
        slow = next(w for w in workers if 'slow' in w['done'])
        other = next(w for w in workers if w is not slow)
        self.assertEqual(slow['done'], ['slow'])
        self.assertEqual(other['done'], ['t1', 't2', 't3', 't4', 't5'])
        for w in workers:
            self.assertEqual(w['max_in_flight'], 1, w['id'])
        pump(conn, 0.2)
        self.assertEqual(ch.queue_declare(queue=q, passive=True).method.message_count, 0)
        ch.queue_delete(q)

    def test_3_publish_subscribe_fanout(self):
        conn, ch = self.channel()
        ex = unique('logs')
        ch.exchange_declare(exchange=ex, exchange_type='fanout')
        subs = []
        for i in range(3):
            q = ch.queue_declare(queue='', exclusive=True).method.queue
            self.assertTrue(q.startswith('amq.gen-'), q)
            ch.queue_bind(exchange=ex, queue=q, routing_key='ignored-%d' % i)
            got = []
            ch.basic_consume(queue=q, on_message_callback=lambda c, m, p, b, got=got: got.append((m, b)), auto_ack=True)
            subs.append(got)
        logs = [b'info: a', b'warning: b', b'error: c']
        for line in logs:
            ch.basic_publish(exchange=ex, routing_key='rk', body=line)
        wait_for(lambda: all(len(g) == 3 for g in subs), conn=conn, message='three copies')
        for got in subs:
            self.assertEqual([b for _, b in got], logs)
            self.assertEqual({m.exchange for m, _ in got}, {ex})
        ch.exchange_delete(ex)

    def test_4_routing_direct(self):
        conn, ch = self.channel()
        ex = unique('direct_logs')
        ch.exchange_declare(exchange=ex, exchange_type='direct')
        q_err = ch.queue_declare(queue='', exclusive=True).method.queue
        q_all = ch.queue_declare(queue='', exclusive=True).method.queue
        ch.queue_bind(exchange=ex, queue=q_err, routing_key='error')
        for sev in ('info', 'warning', 'error'):
            ch.queue_bind(exchange=ex, queue=q_all, routing_key=sev)
        g_err, g_all = [], []
        ch.basic_consume(queue=q_err, on_message_callback=lambda c, m, p, b: g_err.append(b), auto_ack=True)
        ch.basic_consume(queue=q_all, on_message_callback=lambda c, m, p, b: g_all.append((m.routing_key, b)), auto_ack=True)
        for sev, body in [('info', b'i1'), ('error', b'e1'), ('warning', b'w1'), ('debug', b'd1'), ('error', b'e2')]:
            ch.basic_publish(exchange=ex, routing_key=sev, body=body)
        wait_for(lambda: len(g_err) == 2 and len(g_all) == 4, conn=conn, message='routed messages')
        pump(conn, 0.3)
        self.assertEqual(g_err, [b'e1', b'e2'])
        self.assertEqual(g_all, [('info', b'i1'), ('error', b'e1'), ('warning', b'w1'), ('error', b'e2')])
        ch.exchange_delete(ex)

    def test_5_topics(self):
        conn, ch = self.channel()
        ex = unique('topic_logs')
        ch.exchange_declare(exchange=ex, exchange_type='topic')
        q1 = ch.queue_declare(queue='', exclusive=True).method.queue
        q2 = ch.queue_declare(queue='', exclusive=True).method.queue
        ch.queue_bind(exchange=ex, queue=q1, routing_key='*.orange.*')
        ch.queue_bind(exchange=ex, queue=q2, routing_key='*.*.rabbit')
        ch.queue_bind(exchange=ex, queue=q2, routing_key='lazy.#')
        table = [('quick.orange.rabbit', {q1, q2}), ('lazy.orange.elephant', {q1, q2}), ('quick.orange.fox', {q1}),
                 ('lazy.brown.fox', {q2}), ('lazy.pink.rabbit', {q2}), ('quick.brown.fox', set()), ('orange', set()),
                 ('quick.orange.male.rabbit', set()), ('lazy.orange.male.rabbit', {q2}), ('lazy', {q2})]
        got = {q1: [], q2: []}
        for q in (q1, q2):
            ch.basic_consume(queue=q, on_message_callback=lambda c, m, p, b, q=q: got[q].append(b.decode()), auto_ack=True)
        for rk, _ in table:
            ch.basic_publish(exchange=ex, routing_key=rk, body=rk.encode())
        expected = {q: [rk for rk, qs in table if q in qs] for q in (q1, q2)}
        wait_for(lambda: all(len(got[q]) >= len(expected[q]) for q in (q1, q2)), conn=conn, message='topic routing')
        pump(conn, 0.3)
        self.assertEqual(got[q1], expected[q1])
        self.assertEqual(got[q2], expected[q2])
        ch.exchange_delete(ex)

    def _rpc_server(self, queue, ready, stop, seen_reply_to):
        conn = target.connect()
        try:
            ch = conn.channel()
            ch.queue_declare(queue=queue)
            ch.basic_qos(prefetch_count=1)

            def fib(n):
                return n if n < 2 else fib(n - 1) + fib(n - 2)

            def on_request(c, m, props, body):
                seen_reply_to.append(props.reply_to)
                c.basic_publish(exchange='', routing_key=props.reply_to,
                                properties=pika.BasicProperties(correlation_id=props.correlation_id),
                                body=str(fib(int(body))).encode())
                c.basic_ack(delivery_tag=m.delivery_tag)
            ch.basic_consume(queue=queue, on_message_callback=on_request)
            ready.set()
            while not stop.is_set():
                conn.process_data_events(time_limit=0.05)
            ch.queue_delete(queue)
        finally:
            conn.close()

    def _with_rpc_server(self, body):
        queue = unique('rpc_queue')
        ready, stop, seen = threading.Event(), threading.Event(), []
        th = threading.Thread(target=self._rpc_server, args=(queue, ready, stop, seen), daemon=True)
        th.start()
        self.assertTrue(ready.wait(10), 'rpc server ready')
        try:
            body(queue, seen)
        finally:
            stop.set()
            th.join(10)

    def test_6a_rpc_reply_to_and_correlation_id(self):
        def run(queue, seen):
            conn, ch = self.channel()
            callback = ch.queue_declare(queue='', exclusive=True).method.queue
            replies = {}
            ch.basic_consume(queue=callback, auto_ack=True,
                             on_message_callback=lambda c, m, p, b: replies.__setitem__(p.correlation_id, b.decode()))
            calls = [(10, '55'), (1, '1'), (20, '6765'), (0, '0')]
            for i, (n, _) in enumerate(calls):
                ch.basic_publish(exchange='', routing_key=queue, body=str(n).encode(),
                                 properties=pika.BasicProperties(reply_to=callback, correlation_id='call-%d' % i))
            wait_for(lambda: len(replies) == len(calls), conn=conn, message='rpc replies')
            for i, (_, want) in enumerate(calls):
                self.assertEqual(replies['call-%d' % i], want)
            self.assertEqual(seen, [callback] * len(calls))
        self._with_rpc_server(run)

    def test_6b_rpc_direct_reply_to(self):
        def run(queue, seen):
            conn, ch = self.channel()
            replies = []
            ch.basic_consume(queue='amq.rabbitmq.reply-to', auto_ack=True,
                             on_message_callback=lambda c, m, p, b: replies.append((m, p, b)))
            for i in range(3):
                ch.basic_publish(exchange='', routing_key=queue, body=str(i + 5).encode(),
                                 properties=pika.BasicProperties(reply_to='amq.rabbitmq.reply-to', correlation_id='c%d' % i))
            wait_for(lambda: len(replies) == 3, conn=conn, message='direct replies')
            self.assertEqual([b for _, _, b in replies], [b'5', b'8', b'13'])
            self.assertEqual([p.correlation_id for _, p, _ in replies], ['c0', 'c1', 'c2'])
            self.assertEqual(len(set(seen)), 1)
            self.assertTrue(seen[0].startswith('amq.rabbitmq.reply-to.'), seen[0])
            self.assertEqual(replies[0][0].routing_key, seen[0])
        self._with_rpc_server(run)

    def test_7a_confirms_one_by_one(self):
        conn, ch = self.channel()
        q = unique('confirms1')
        ch.queue_declare(queue=q, durable=True)
        ch.confirm_delivery()
        for i in range(50):
            # BlockingChannel waits for the ack of each publish (raises NackError / UnroutableError otherwise)
            ch.basic_publish(exchange='', routing_key=q, body=b'm%d' % i,
                             properties=pika.BasicProperties(delivery_mode=2), mandatory=True)
        self.assertEqual(ch.queue_declare(queue=q, passive=True).method.message_count, 50)
        with self.assertRaises(pika.exceptions.UnroutableError):
            ch.basic_publish(exchange='', routing_key=unique('nowhere'), body=b'x', mandatory=True)
        ch.queue_delete(q)

    def _select_confirms(self, n, batch):
        """Publishes n messages with a SelectConnection, confirms on; with batch, waits for every ack of a batch
        before publishing the next one. Returns (acked tags, nacked tags, queue message count)."""
        q = unique('confirms-async')
        setup_conn, setup = self.channel()
        setup.queue_declare(queue=q, durable=True)
        state = {'acked': set(), 'nacked': set(), 'published': 0, 'frames': [], 'done': False, 'error': None}

        def on_open(conn):
            conn.channel(on_open_callback=on_channel)

        def on_channel(ch):
            state['ch'] = ch
            ch.confirm_delivery(ack_nack_callback=on_confirm, callback=lambda _: publish_more(ch))

        def publish_more(ch):
            count = batch or n
            for _ in range(count):
                if state['published'] >= n:
                    break
                ch.basic_publish(exchange='', routing_key=q, body=b'a%d' % state['published'],
                                 properties=pika.BasicProperties(delivery_mode=2))
                state['published'] += 1

        def on_confirm(frame):
            m = frame.method
            kind = 'acked' if isinstance(m, pika.spec.Basic.Ack) else 'nacked'
            state['frames'].append((kind, m.delivery_tag, m.multiple))
            tags = range(1, m.delivery_tag + 1) if m.multiple else [m.delivery_tag]
            for tag in tags:
                if tag not in state['acked'] and tag not in state['nacked']:
                    state[kind].add(tag)
            settled = len(state['acked']) + len(state['nacked'])
            if settled == state['published']:
                if state['published'] >= n:
                    state['done'] = True
                    conn.close()
                else:
                    publish_more(state['ch'])

        conn = pika.SelectConnection(target.parameters(), on_open_callback=on_open,
                                     on_open_error_callback=lambda c, e: state.update(error=e) or c.ioloop.stop(),
                                     on_close_callback=lambda c, e: c.ioloop.stop())
        conn.ioloop.call_later(15, lambda: (state.update(error='timeout'), conn.ioloop.stop()))
        conn.ioloop.start()
        self.assertIsNone(state['error'])
        self.assertTrue(state['done'], 'all confirms arrived')
        tags = [t for _, t, _ in state['frames']]
        self.assertEqual(tags, sorted(tags), 'confirm tags increase')
        count = setup.queue_declare(queue=q, passive=True).method.message_count
        setup.queue_delete(q)
        return state['acked'], state['nacked'], count

    def test_7b_confirms_batched(self):
        acked, nacked, count = self._select_confirms(200, batch=25)
        self.assertEqual(acked, set(range(1, 201)))
        self.assertEqual(nacked, set())
        self.assertEqual(count, 200)

    def test_7c_confirms_asynchronous(self):
        acked, nacked, count = self._select_confirms(1000, batch=None)
        self.assertEqual(acked, set(range(1, 1001)))
        self.assertEqual(nacked, set())
        self.assertEqual(count, 1000)


if __name__ == '__main__':
    unittest.main()
