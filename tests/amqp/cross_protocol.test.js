'use strict';
// Cross-protocol (Ferry only): one ferry-broker with the RocketMQ and the AMQP listeners; messages published with
// amqplib are consumed by ali-ons 3.12.0 (tests/rocket's client) and the reverse, checked field by field. The
// conventions (fixed by the lead): every RocketMQ topic T is, in AMQP's default vhost, an exchange `rocketmq.T`;
// publishing to it sends to the topic, a queue bound to it (binding key `#` or a tag pattern) gets copies of what
// RocketMQ producers send, and an exchange-to-exchange binding with destination `rocketmq.T` feeds the topic.
// Mapping (docs/compatibility/cross-protocol.md): body <-> body; routing key <-> tag; message-id <-> KEYS (first
// key); string headers <-> user properties; content-type <-> property `content-type`; RocketMQ UNIQ_KEY -> AMQP
// header `x-rocketmq-msg-id`; no keys -> message-id is the kernel's message id.
// Needs tests/rocket/node_modules (npm ci there). In rabbitmq mode the file skips (RabbitMQ has no RocketMQ side).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { startTarget, isRabbit } = require('./lib/target');
const A = require('./lib/amqp');

const skip = isRabbit ? 'cross-protocol tests run against Ferry only' : false;
let t;
let s;
let ons;
let rocket; // tests/rocket/lib modules, loaded lazily (they need tests/rocket/node_modules)

before(async () => {
  if (skip) return;
  rocket = {
    alions: require('../rocket/lib/alions'),
    fixtures: require('../rocket/lib/fixtures'),
    util: require('../rocket/lib/util'),
  };
  t = await startTarget({ rocket: true });
  s = A.session(t);
  ons = new rocket.alions.AliOns(t.namesrvAddr, { name: 'amqp-cross' });
});
after(async () => {
  if (s) await s.closeAll();
  if (ons) await ons.closeAll();
  if (t) await t.stop();
});

const diag = () => `\n${ons.recentLog()}\n--- broker ---\n${t.output()}`;

async function topic(prefix) {
  const { topic: name } = await rocket.fixtures.newTopic(t, prefix, 2);
  return name;
}

test('every RocketMQ topic is an AMQP exchange rocketmq.<topic> in the default vhost', { timeout: 20000, skip }, async () => {
  const T = await topic('TX');
  const ch = await A.channel(await s.connect());
  await A.retry(() => ch.checkExchange(`rocketmq.${T}`).then(() => true), { timeoutMs: 5000, what: `exchange rocketmq.${T}` })
    .catch(async err => { throw new Error(`${err.message}${diag()}`); });
  // A declare of it succeeds (it exists); deleting it through AMQP is refused: it goes with the topic.
  await ch.assertExchange(`rocketmq.${T}`, 'topic');
  await A.expectChannelError(() => ch.deleteExchange(`rocketmq.${T}`), ch, 403,
    new RegExp(`ACCESS_REFUSED - exchange 'rocketmq.${T}' is RocketMQ topic '${T}'`), 'delete rocketmq.T');
  const again = await A.channel(ch.conn);
  await again.checkExchange(`rocketmq.${T}`);
});

test('amqplib -> ali-ons: body, routing key as tag, message-id as KEYS, string headers and content-type as properties', { timeout: 30000, skip }, async () => {
  const T = await topic('TA2R');
  const ch = await A.channel(await s.connect(), { confirm: true });
  const ex = `rocketmq.${T}`;
  await ch.checkExchange(ex);

  const got = rocket.fixtures.collector();
  const consumer = ons.consumer({ consumerGroup: rocket.util.uniqueName('CG_A2R'), consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
  consumer.subscribe(T, 'TagA', got.handler);
  await consumer.ready();

  const body = Buffer.from(`from-amqp-${crypto.randomBytes(4).toString('hex')}`);
  ch.publish(ex, 'TagA', body, {
    messageId: 'order-17', contentType: 'application/json', headers: { color: 'red', region: 'eu-west' },
  });
  ch.publish(ex, 'TagB', Buffer.from('not-for-TagA'), { messageId: 'other' });
  await A.withTimeout(ch.waitForConfirms(), 5000, 'confirms from rocketmq.T');
  await got.waitForKeys([body.toString()], { timeoutMs: 20000, describe: diag });
  await A.sleep(1000);
  assert.deepEqual(got.keys(), [body.toString()], 'only TagA, once');
  const m = got.msgs[0];
  assert.equal(m.topic, T);
  assert.ok(Buffer.from(m.body).equals(body), 'body byte for byte');
  assert.equal(m.tags, 'TagA', 'routing key -> tag');
  assert.equal(String(m.keys).split(' ')[0], 'order-17', 'message-id -> first key');
  assert.equal(m.properties.color, 'red', 'string header -> user property');
  assert.equal(m.properties.region, 'eu-west');
  assert.equal(m.properties['content-type'], 'application/json', 'content-type -> property content-type');
  const leaked = Object.keys(m.properties).filter(k => k.startsWith('$') || k.startsWith('amqp'));
  assert.deepEqual(leaked, [], 'private properties (the AMQP basic properties) are not shown to RocketMQ');
  await ons.close(consumer);
});

test('ali-ons -> amqplib: a queue bound with # gets everything, one bound with a tag pattern only that tag; fields mapped back', { timeout: 30000, skip }, async () => {
  const T = await topic('TR2A');
  const ch = await A.channel(await s.connect());
  const ex = `rocketmq.${T}`;
  const all = (await ch.assertQueue('', { exclusive: true })).queue;
  const tagA = (await ch.assertQueue('', { exclusive: true })).queue;
  await ch.bindQueue(all, ex, '#');
  await ch.bindQueue(tagA, ex, 'TagA');
  const gAll = A.collector();
  const gA = A.collector();
  await ch.consume(all, gAll.handler(ch), { noAck: true });
  await ch.consume(tagA, gA.handler(ch), { noAck: true });

  const producer = await ons.producer();
  const uniq = crypto.randomBytes(16).toString('hex').toUpperCase();
  const r1 = await producer.send(rocket.alions.message(T, 'TagA', Buffer.from('rocket-a'), {
    keys: ['k1', 'k2'], properties: { color: 'blue', 'content-type': 'text/plain', UNIQ_KEY: uniq },
  }));
  assert.equal(r1.sendStatus, 'SEND_OK');
  const r2 = await producer.send(rocket.alions.message(T, 'TagB', Buffer.from('rocket-b')));
  assert.equal(r2.sendStatus, 'SEND_OK');

  await gAll.waitForCount(2, { timeoutMs: 10000, describe: diag });
  await gA.waitForCount(1, { timeoutMs: 5000, describe: diag });
  await gAll.expectNoMore(2, 500);
  await gA.expectNoMore(1, 0);
  assert.deepEqual(gAll.bodies().sort(), ['rocket-a', 'rocket-b']);
  assert.deepEqual(gA.bodies(), ['rocket-a']);
  const m = gA.msgs[0];
  assert.equal(m.fields.exchange, ex);
  assert.equal(m.fields.routingKey, 'TagA', 'tag -> routing key');
  assert.equal(m.properties.messageId, 'k1', 'first key -> message-id');
  assert.equal(m.properties.contentType, 'text/plain', 'property content-type -> content-type');
  assert.equal(m.properties.headers.color, 'blue', 'user property -> string header');
  assert.equal(m.properties.headers['x-rocketmq-msg-id'], uniq, 'UNIQ_KEY -> x-rocketmq-msg-id');
  assert.equal(m.properties.headers.UNIQ_KEY, undefined, 'UNIQ_KEY is renamed, not copied');
  assert.equal(m.properties.headers['content-type'], undefined, 'content-type is a property, not a header');
  assert.deepEqual(Object.keys(m.properties.headers).filter(k => k.startsWith('$')), [], 'no private property');
  const b = gAll.msgs.find(x => x.content.toString() === 'rocket-b');
  assert.equal(b.fields.routingKey, 'TagB');
  // ali-ons sets no UNIQ_KEY of its own: no x-rocketmq-msg-id, and with no keys either the message-id is the
  // kernel's message id.
  assert.equal(b.properties.headers['x-rocketmq-msg-id'], undefined);
  assert.match(b.properties.messageId, /^[0-9a-f]{32}$/, 'every message has an id');
  assert.notEqual(b.properties.messageId, m.properties.messageId);
  assert.equal(b.properties.deliveryMode, 2, 'RocketMQ messages are persistent');
  assert.ok(Math.abs(b.properties.timestamp - Date.now() / 1000) < 120, 'timestamp: the born time in seconds');
});

test('an exchange-to-exchange binding into rocketmq.<topic> feeds the topic', { timeout: 30000, skip }, async () => {
  const T = await topic('TE2E');
  const ch = await A.channel(await s.connect(), { confirm: true });
  const front = A.name('front');
  await ch.assertExchange(front, 'direct', { durable: false });
  await ch.bindExchange(`rocketmq.${T}`, front, 'TagC');

  const got = rocket.fixtures.collector();
  const consumer = ons.consumer({ consumerGroup: rocket.util.uniqueName('CG_E2E'), consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
  consumer.subscribe(T, '*', got.handler);
  await consumer.ready();
  ch.publish(front, 'TagC', Buffer.from('through-front'), { messageId: 'via-e2e' });
  ch.publish(front, 'TagD', Buffer.from('unbound-key'));
  await ch.waitForConfirms();
  await got.waitForKeys(['through-front'], { timeoutMs: 20000, describe: diag });
  await A.sleep(1000);
  assert.deepEqual(got.keys(), ['through-front']);
  assert.equal(got.msgs[0].tags, 'TagC');
  assert.equal(String(got.msgs[0].keys).split(' ')[0], 'via-e2e');
  await ons.close(consumer);
});
