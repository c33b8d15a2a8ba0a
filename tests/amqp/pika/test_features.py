"""Beyond the tutorials, with pika: channel.flow (Ferry pauses deliveries as the spec says; RabbitMQ: 540), tx
commit/rollback, consumer cancel notification, basic.get message-count and get-empty, nack multiple, basic.recover,
channel errors as pika exceptions (404, 406), dead-lettering's x-death as pika decodes it, login failures (403 and
530), and durable queues across a restart."""

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


class Features(harness.TestCase):
    TEST_TIMEOUT = 28

    def channel(self, **kw):
        conn = self.track(target.connect(**kw))
        return conn, conn.channel()

    def test_server_capabilities_seen_by_pika(self):
        conn, ch = self.channel()
        impl = conn._impl
        for cap in ('basic_nack', 'consumer_cancel_notify', 'exchange_exchange_bindings', 'publisher_confirms'):
            self.assertTrue(getattr(impl, cap), cap)
        props = impl.server_properties
        self.assertIn('product', props)
        self.assertTrue(props['capabilities'].get('direct_reply_to'))

    def test_channel_flow(self):
        conn, ch = self.channel()
        self.assertTrue(ch.flow(True), 'flow(active=true) -> flow-ok active=true')
        q = ch.queue_declare(queue='', exclusive=True).method.queue
        ch.basic_publish(exchange='', routing_key=q, body=b'still flowing')
        self.assertEqual(ch.basic_get(q, auto_ack=True)[2], b'still flowing')
        if harness.IS_RABBIT:
            # RabbitMQ 3.10 does not implement client-initiated flow stop: connection.close 540.
            with self.assertRaises(pika.exceptions.ConnectionClosedByBroker) as cm:
                ch.flow(False)
            self.assertEqual(cm.exception.reply_code, 540)
            self.assertEqual(cm.exception.reply_text, 'NOT_IMPLEMENTED - active=false')
            return
        # Ferry implements the spec's channel.flow: active=false stops deliveries to the channel's consumers until
        # active=true; nothing is lost meanwhile.
        got = []
        ch.basic_consume(queue=q, on_message_callback=lambda c, m, p, b: got.append(b), auto_ack=True)
        ch.basic_publish(exchange='', routing_key=q, body=b'f1')
        wait_for(lambda: got == [b'f1'], conn=conn, message='f1 before flow stop')
        self.assertFalse(ch.flow(False), 'flow(active=false) -> flow-ok active=false')
        ch.basic_publish(exchange='', routing_key=q, body=b'f2')
        pump(conn, 0.3)
        self.assertEqual(got, [b'f1'], 'no delivery while the flow is stopped')
        self.assertTrue(ch.flow(True))
        wait_for(lambda: got == [b'f1', b'f2'], conn=conn, message='f2 after flow restarts')

    def test_tx_commit_and_rollback(self):
        conn, ch = self.channel()
        _, obs = self.channel()
        q = unique('tx')
        ch.queue_declare(queue=q)
        ch.tx_select()
        ch.basic_publish(exchange='', routing_key=q, body=b't1')
        ch.basic_publish(exchange='', routing_key=q, body=b't2')
        pump(conn, 0.2)
        self.assertEqual(obs.queue_declare(queue=q, passive=True).method.message_count, 0)
        ch.tx_commit()
        self.assertEqual(obs.queue_declare(queue=q, passive=True).method.message_count, 2)
        ch.basic_publish(exchange='', routing_key=q, body=b't3')
        ch.tx_rollback()
        # acks inside the transaction: rolled back, then committed
        m1, _, b1 = ch.basic_get(q)
        self.assertEqual(b1, b't1')
        ch.basic_ack(m1.delivery_tag)
        ch.tx_rollback()
        self.assertEqual(obs.queue_declare(queue=q, passive=True).method.message_count, 1, 't1 unacked, t2 ready')
        ch.basic_ack(m1.delivery_tag)
        ch.tx_commit()
        ch.close()
        pump(conn, 0.2)
        bodies = []
        while True:
            m, _, b = obs.basic_get(q, auto_ack=True)
            if m is None:
                break
            bodies.append(b)
        self.assertEqual(bodies, [b't2'], 't1 acked by the commit, t3 rolled back')
        obs.queue_delete(q)

    def test_consumer_cancel_notification(self):
        conn, ch = self.channel()
        q = unique('cancel')
        ch.queue_declare(queue=q)
        cancelled = []
        ch.add_on_cancel_callback(lambda frame: cancelled.append(frame.method.consumer_tag))
        tag = ch.basic_consume(queue=q, on_message_callback=lambda *a: None, auto_ack=True)
        _, other = self.channel()
        other.queue_delete(q)
        wait_for(lambda: cancelled, conn=conn, message='basic.cancel from the server')
        self.assertEqual(cancelled, [tag])
        self.assertTrue(ch.is_open)

    def test_basic_get_message_count_and_get_empty(self):
        conn, ch = self.channel()
        q = unique('get')
        ch.queue_declare(queue=q)
        self.assertEqual(ch.basic_get(q), (None, None, None), 'get-empty')
        for i in range(3):
            ch.basic_publish(exchange='', routing_key=q, body=b'g%d' % i)
        counts = []
        for i in range(3):
            m, props, body = ch.basic_get(q, auto_ack=True)
            self.assertEqual(body, b'g%d' % i)
            counts.append(m.message_count)
        self.assertEqual(counts, [2, 1, 0])
        ch.queue_delete(q)

    def test_nack_multiple_and_recover(self):
        conn, ch = self.channel()
        q = unique('nack')
        ch.queue_declare(queue=q)
        for i in range(4):
            ch.basic_publish(exchange='', routing_key=q, body=b'n%d' % i)
        got = []
        ch.basic_consume(queue=q, on_message_callback=lambda c, m, p, b: got.append((m, b)))
        wait_for(lambda: len(got) == 4, conn=conn, message='4 deliveries')
        ch.basic_nack(delivery_tag=got[1][0].delivery_tag, multiple=True, requeue=True)
        wait_for(lambda: len(got) == 6, conn=conn, message='2 redeliveries')
        self.assertEqual([b for _, b in got[4:]], [b'n0', b'n1'])
        self.assertTrue(all(m.redelivered for m, _ in got[4:]))
        ch.basic_recover(requeue=True)
        wait_for(lambda: len(got) == 10, conn=conn, message='recover redelivers the 4 unacked')
        self.assertEqual(sorted(b for _, b in got[6:]), [b'n0', b'n1', b'n2', b'n3'])
        self.assertTrue(all(m.redelivered for m, _ in got[6:]))
        ch.basic_ack(delivery_tag=got[-1][0].delivery_tag, multiple=True)
        pump(conn, 0.2)
        ch.queue_delete(q)

    def test_channel_errors_as_pika_exceptions(self):
        conn, ch = self.channel()
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as cm:
            ch.queue_declare(queue=unique('missing'), passive=True)
        self.assertEqual(cm.exception.reply_code, 404)
        self.assertRegex(cm.exception.reply_text, r"^NOT_FOUND - no queue '.*' in vhost '/'$")
        ch = conn.channel()
        q = unique('ineq')
        ch.queue_declare(queue=q, durable=False)
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as cm:
            ch.queue_declare(queue=q, durable=True)
        self.assertEqual(cm.exception.reply_code, 406)
        self.assertIn("inequivalent arg 'durable'", cm.exception.reply_text)
        ch = conn.channel()
        ch.basic_ack(delivery_tag=99)
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as cm:
            ch.queue_declare(queue='', exclusive=True)
        self.assertEqual(cm.exception.reply_code, 406)
        self.assertEqual(cm.exception.reply_text, 'PRECONDITION_FAILED - unknown delivery tag 99')
        conn.channel().queue_delete(q)
        self.assertTrue(conn.is_open)

    def test_dead_letter_x_death(self):
        conn, ch = self.channel()
        dlq = unique('dlq')
        src = unique('src')
        ch.queue_declare(queue=dlq)
        ch.queue_declare(queue=src, arguments={'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dlq})
        ch.basic_publish(exchange='', routing_key=src, body=b'dead2', properties=pika.BasicProperties(expiration='200'))
        box = []

        def fetch():
            r = ch.basic_get(dlq, auto_ack=True)
            if r[0] is not None:
                box.append(r)
            return box
        wait_for(fetch, timeout=5, interval=0.05, message='the dead-lettered message')
        m, props, body = box[0]
        self.assertEqual(body, b'dead2')
        self.assertEqual(m.routing_key, dlq)
        death = props.headers['x-death'][0]
        self.assertEqual(death['count'], 1)
        self.assertEqual(death['reason'], 'expired')
        self.assertEqual(death['queue'], src)
        self.assertEqual(death['exchange'], '')
        self.assertEqual(death['routing-keys'], [src])
        self.assertEqual(death['original-expiration'], '200')
        self.assertEqual(props.headers['x-first-death-reason'], 'expired')
        self.assertEqual(props.headers['x-first-death-queue'], src)
        ch.queue_delete(src)
        ch.queue_delete(dlq)

    def test_login_failures(self):
        with self.assertRaises(pika.exceptions.ProbableAuthenticationError) as cm:
            target.connect(password='wrong')
        self.assertIn('403', str(cm.exception))
        self.assertIn('ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN', str(cm.exception))
        with self.assertRaises(pika.exceptions.ProbableAccessDeniedError) as cm:
            target.connect(vhost='no-such-vhost')
        self.assertIn('530', str(cm.exception))
        self.assertIn('NOT_ALLOWED - vhost no-such-vhost not found', str(cm.exception))

    @unittest.skipIf(harness.restart_skip_reason(), harness.restart_skip_reason() or '')
    def test_zz_durable_queue_survives_restart(self):
        # Last test of the file (restarts the broker under the other tests' feet otherwise).
        self.TEST_TIMEOUT = 90
        import signal
        signal.alarm(90 if harness.IS_RABBIT else 25)
        conn, ch = self.channel()
        q = unique('pika-durable')
        tq = unique('pika-transient')
        ch.queue_declare(queue=q, durable=True)
        ch.queue_declare(queue=tq, durable=False)
        ch.confirm_delivery()
        for i in range(20):
            ch.basic_publish(exchange='', routing_key=q, body=b'd%d' % i, properties=pika.BasicProperties(delivery_mode=2))
        ch.basic_publish(exchange='', routing_key=q, body=b'transient', properties=pika.BasicProperties(delivery_mode=1))
        conn.close()
        target.restart()
        conn = self.track(target.connect_retry())
        ch = conn.channel()
        bodies = []
        while True:
            m, _, b = ch.basic_get(q, auto_ack=True)
            if m is None:
                break
            bodies.append(b)
        self.assertEqual(bodies, [b'd%d' % i for i in range(20)])
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as cm:
            ch.queue_declare(queue=tq, passive=True)
        self.assertEqual(cm.exception.reply_code, 404)
        conn.channel().queue_delete(q)


if __name__ == '__main__':
    unittest.main()
