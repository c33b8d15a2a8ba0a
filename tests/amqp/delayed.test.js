'use strict';
// Delayed delivery through an `x-delayed-message` exchange (RabbitMQ's rabbitmq_delayed_message_exchange plugin):
// `x-delayed-type` names the routing behind it, the `x-delay` header (ms) holds a message back. Delays are measured.
// Debian 12's rabbitmq-server ships no such plugin, so in rabbitmq mode the file probes and skips when the exchange
// type is unknown (503); in Ferry mode nothing skips. Expectations follow the plugin's documentation and source.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startTarget, isRabbit } = require('./lib/target');
const A = require('./lib/amqp');

let t;
let s;
let conn;
let skip = false;

before(async () => {
  t = await startTarget();
  s = A.session(t);
  if (isRabbit) {
    const probe = await s.connect();
    const ch = await A.channel(probe);
    try {
      await ch.assertExchange(A.name('probe-delayed'), 'x-delayed-message', { autoDelete: true, arguments: { 'x-delayed-type': 'direct' } });
    } catch (err) {
      // An unknown exchange type is a connection error (503): the rpc only sees its channel end.
      await A.withTimeout(probe.closedPromise, 5000, 'probe connection close').catch(() => {});
      const hard = probe.errors.find(e => e.code === 503);
      if (hard && /unknown exchange type 'x-delayed-message'/.test(hard.message)) {
        skip = 'this RabbitMQ has no rabbitmq_delayed_message_exchange plugin (unknown exchange type x-delayed-message)';
      } else throw err;
    }
  }
  conn = skip ? null : await s.connect();
});
after(async () => {
  if (s) await s.closeAll();
  if (t) await t.stop();
});

async function delayedSetup(type = 'direct', key = 'k') {
  const ch = await A.channel(conn);
  const ex = A.name('delayed');
  await ch.assertExchange(ex, 'x-delayed-message', { durable: true, arguments: { 'x-delayed-type': type } });
  const q = (await ch.assertQueue('', { exclusive: true })).queue;
  await ch.bindQueue(q, ex, key);
  const got = [];
  await ch.consume(q, msg => msg && got.push({ at: Date.now(), body: msg.content.toString(), msg }), { noAck: true });
  return { ch, ex, q, got };
}

test('x-delay 1500: delivered no earlier than 1.5 s, within a second more; no header means no delay', { timeout: 15000 }, async (tc) => {
  if (skip) return tc.skip(skip);
  const { ch, ex, got } = await delayedSetup();
  const t0 = Date.now();
  ch.publish(ex, 'k', Buffer.from('later'), { headers: { 'x-delay': 1500 }, messageId: 'd1', contentType: 'text/plain' });
  ch.publish(ex, 'k', Buffer.from('now'));
  await A.waitFor(() => got.length === 2, { timeoutMs: 6000, message: () => `2 deliveries, got ${JSON.stringify(got.map(g => g.body))}` });
  assert.equal(got[0].body, 'now');
  assert.ok(got[0].at - t0 < 700, `undelayed took ${got[0].at - t0} ms`);
  const delay = got[1].at - t0;
  console.log(`# x-delay 1500 measured ${delay} ms`);
  assert.equal(got[1].body, 'later');
  assert.ok(delay >= 1450, `delivered after ${delay} ms, before its x-delay of 1500`);
  assert.ok(delay < 2700, `delivered after ${delay} ms, too late for an x-delay of 1500`);
  const m = got[1].msg;
  assert.equal(m.fields.exchange, ex);
  assert.equal(m.fields.routingKey, 'k');
  assert.equal(m.properties.messageId, 'd1');
  assert.equal(m.properties.contentType, 'text/plain');
  await ch.deleteExchange(ex);
});

test('messages come out in due-time order, not publish order', { timeout: 15000 }, async (tc) => {
  if (skip) return tc.skip(skip);
  const { ch, ex, got } = await delayedSetup();
  const t0 = Date.now();
  for (const [d, body] of [[1600, 'c'], [400, 'a'], [1000, 'b'], [0, 'zero']]) {
    ch.publish(ex, 'k', Buffer.from(body), { headers: { 'x-delay': d } });
  }
  await A.waitFor(() => got.length === 4, { timeoutMs: 8000, message: () => `4 deliveries, got ${JSON.stringify(got.map(g => g.body))}` });
  assert.deepEqual(got.map(g => g.body), ['zero', 'a', 'b', 'c']);
  const at = Object.fromEntries(got.map(g => [g.body, g.at - t0]));
  console.log(`# delays measured ${JSON.stringify(at)}`);
  assert.ok(at.a >= 380 && at.b >= 980 && at.c >= 1580, `not early: ${JSON.stringify(at)}`);
  await ch.deleteExchange(ex);
});

test('x-delayed-type topic: routing applies when the delay is over (non-matching keys are dropped)', { timeout: 15000 }, async (tc) => {
  if (skip) return tc.skip(skip);
  const { ch, ex, got } = await delayedSetup('topic', 'orders.*');
  ch.publish(ex, 'orders.new', Buffer.from('match'), { headers: { 'x-delay': 300 } });
  ch.publish(ex, 'invoices.new', Buffer.from('no-match'), { headers: { 'x-delay': 300 } });
  await A.waitFor(() => got.length === 1, { timeoutMs: 5000, message: 'the matching message' });
  await A.sleep(500);
  assert.deepEqual(got.map(g => g.body), ['match']);
  await ch.deleteExchange(ex);
});

test('declaring x-delayed-message without x-delayed-type is 406 PRECONDITION_FAILED', { timeout: 10000 }, async (tc) => {
  if (skip) return tc.skip(skip);
  const ch = await A.channel(conn);
  await A.expectChannelError(() => ch.assertExchange(A.name('bad-delayed'), 'x-delayed-message', { durable: false }), ch, 406,
    /PRECONDITION_FAILED - Invalid argument, 'x-delayed-type' must be an existing exchange type/, 'no x-delayed-type');
});
