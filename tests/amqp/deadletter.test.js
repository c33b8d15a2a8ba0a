'use strict';
// Dead-lettering with amqplib: on reject / nack (requeue=false), on TTL (queue x-message-ttl and per-message
// expiration), on max-length with x-overflow drop-head, and x-overflow reject-publish (the publish is nacked and
// nothing is dead-lettered). Every case checks the x-death entry field by field (count, reason, queue, exchange,
// routing-keys, time, original-expiration) and the x-first-death-* headers, as RabbitMQ 3.10 writes them.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startTarget } = require('./lib/target');
const A = require('./lib/amqp');

let t;
let s;
let ch;

before(async () => {
  t = await startTarget();
  s = A.session(t);
  ch = await A.channel(await s.connect());
});
after(async () => {
  if (s) await s.closeAll();
  if (t) await t.stop();
});

// A dead-letter exchange (direct) with a queue bound by `key`; resolves {dlx, dlq}.
async function deadLetterTarget(key = '#', type = 'topic') {
  const dlx = A.name('dlx');
  const dlq = A.name('dlq');
  await ch.assertExchange(dlx, type, { durable: false, autoDelete: false });
  await ch.assertQueue(dlq, { durable: false });
  await ch.bindQueue(dlq, dlx, key);
  return { dlx, dlq };
}

async function getOne(queue, what, timeoutMs = 5000) {
  return A.waitFor(async () => ch.get(queue, { noAck: true }), { timeoutMs, message: `a message in ${queue} (${what})` });
}

function checkDeath(entry, { count = 1, reason, queue, exchange, routingKeys }, what) {
  assert.equal(entry.count, count, `${what}: count`);
  assert.equal(entry.reason, reason, `${what}: reason`);
  assert.equal(entry.queue, queue, `${what}: queue`);
  assert.equal(entry.exchange, exchange, `${what}: exchange`);
  assert.deepEqual(entry['routing-keys'], routingKeys, `${what}: routing-keys`);
  // amqplib decodes the AMQP timestamp as a number of seconds
  assert.equal(typeof entry.time, 'object', `${what}: time is a timestamp`);
  const secs = Number(entry.time.value);
  assert.ok(Math.abs(secs - Date.now() / 1000) < 120, `${what}: time ${JSON.stringify(entry.time)} is about now`);
}

test('reject(requeue=false) and nack(requeue=false) dead-letter with reason "rejected"; headers and properties kept', { timeout: 15000 }, async () => {
  const { dlx, dlq } = await deadLetterTarget();
  const src = A.name('dl-src');
  const ex = A.name('dl-in');
  await ch.assertExchange(ex, 'direct', { durable: false });
  await ch.assertQueue(src, { durable: false, arguments: { 'x-dead-letter-exchange': dlx } });
  await ch.bindQueue(src, ex, 'orders.new');
  ch.publish(ex, 'orders.new', Buffer.from('r1'), { headers: { app: 'x', n: 7 }, messageId: 'mid-1', contentType: 'text/plain', correlationId: 'c1' });
  ch.publish(ex, 'orders.new', Buffer.from('r2'), { messageId: 'mid-2' });

  const c2 = await A.channel(await s.connect());
  const m1 = await A.waitFor(() => c2.get(src, { noAck: false }), { message: 'r1' });
  const m2 = await A.waitFor(() => c2.get(src, { noAck: false }), { message: 'r2' });
  c2.reject(m1, false);
  c2.nack(m2, false, false);

  for (const [body, mid] of [['r1', 'mid-1'], ['r2', 'mid-2']]) {
    const d = await getOne(dlq, body);
    assert.equal(d.content.toString(), body);
    assert.equal(d.fields.exchange, dlx, 'delivered through the dead-letter exchange');
    assert.equal(d.fields.routingKey, 'orders.new', 'original routing key kept (no x-dead-letter-routing-key)');
    assert.equal(d.properties.messageId, mid);
    const h = d.properties.headers;
    assert.ok(Array.isArray(h['x-death']), `x-death: ${JSON.stringify(h)}`);
    assert.equal(h['x-death'].length, 1);
    checkDeath(h['x-death'][0], { reason: 'rejected', queue: src, exchange: ex, routingKeys: ['orders.new'] }, body);
    assert.equal(h['x-first-death-reason'], 'rejected');
    assert.equal(h['x-first-death-queue'], src);
    assert.equal(h['x-first-death-exchange'], ex);
    if (body === 'r1') {
      assert.equal(h.app, 'x');
      assert.equal(h.n, 7);
      assert.equal(d.properties.contentType, 'text/plain');
      assert.equal(d.properties.correlationId, 'c1');
    }
  }
  assert.equal((await ch.checkQueue(src)).messageCount, 0, 'gone from the source queue');
});

test('x-dead-letter-routing-key replaces the routing key; x-death keeps the original one', { timeout: 15000 }, async () => {
  const { dlx, dlq } = await deadLetterTarget('dead', 'direct');
  const src = A.name('dl-rk');
  await ch.assertQueue(src, { durable: false, arguments: { 'x-dead-letter-exchange': dlx, 'x-dead-letter-routing-key': 'dead' } });
  // (RabbitMQ also lists CC routing keys here; Ferry does not implement sender-selected distribution, see
  // docs/compatibility/amqp.md.)
  ch.publish('', src, Buffer.from('k1'));
  const m = await A.waitFor(() => ch.get(src, { noAck: false }), { message: 'k1' });
  ch.reject(m, false);
  const d = await getOne(dlq, 'k1');
  assert.equal(d.fields.routingKey, 'dead');
  const death = d.properties.headers['x-death'][0];
  checkDeath(death, { reason: 'rejected', queue: src, exchange: '', routingKeys: [src] }, 'k1');
});

test('queue TTL (x-message-ttl) dead-letters with reason "expired", without original-expiration', { timeout: 15000 }, async () => {
  const { dlx, dlq } = await deadLetterTarget();
  const src = A.name('dl-ttl');
  await ch.assertQueue(src, { durable: false, arguments: { 'x-message-ttl': 300, 'x-dead-letter-exchange': dlx } });
  const t0 = Date.now();
  ch.sendToQueue(src, Buffer.from('ttl-1'));
  await A.sleep(100);
  assert.equal((await ch.checkQueue(src)).messageCount, 1, 'still there before its TTL');
  const d = await getOne(dlq, 'ttl-1');
  const waited = Date.now() - t0;
  assert.ok(waited >= 280, `expired after ${waited} ms (TTL 300)`);
  const h = d.properties.headers;
  checkDeath(h['x-death'][0], { reason: 'expired', queue: src, exchange: '', routingKeys: [src] }, 'ttl-1');
  assert.equal(h['x-death'][0]['original-expiration'], undefined, 'no per-message expiration involved');
  assert.equal(h['x-first-death-reason'], 'expired');
  assert.equal(h['x-first-death-queue'], src);
  assert.equal(h['x-first-death-exchange'], '');
  assert.equal((await ch.checkQueue(src)).messageCount, 0);
});

test('per-message expiration dead-letters with reason "expired" and original-expiration; the expiration property is removed', { timeout: 15000 }, async () => {
  const { dlx, dlq } = await deadLetterTarget();
  const src = A.name('dl-exp');
  await ch.assertQueue(src, { durable: false, arguments: { 'x-dead-letter-exchange': dlx } });
  const t0 = Date.now();
  ch.sendToQueue(src, Buffer.from('exp-1'), { expiration: '400' });
  ch.sendToQueue(src, Buffer.from('keep'), {}); // no expiration: stays
  const d = await getOne(dlq, 'exp-1');
  assert.ok(Date.now() - t0 >= 380, 'not before its expiration');
  assert.equal(d.content.toString(), 'exp-1');
  assert.equal(d.properties.expiration, undefined, 'expiration removed from the dead-lettered copy');
  const death = d.properties.headers['x-death'][0];
  checkDeath(death, { reason: 'expired', queue: src, exchange: '', routingKeys: [src] }, 'exp-1');
  assert.equal(death['original-expiration'], '400');
  const left = await ch.get(src, { noAck: true });
  assert.equal(left && left.content.toString(), 'keep');
});

test('max-length with x-overflow drop-head drops the oldest, dead-lettered with reason "maxlen"', { timeout: 15000 }, async () => {
  const { dlx, dlq } = await deadLetterTarget();
  const src = A.name('dl-maxlen');
  await ch.assertQueue(src, { durable: false,
    arguments: { 'x-max-length': 2, 'x-overflow': 'drop-head', 'x-dead-letter-exchange': dlx } });
  const cch = await A.channel(await s.connect(), { confirm: true });
  for (let i = 0; i < 5; i++) cch.sendToQueue(src, Buffer.from(`m${i}`));
  await cch.waitForConfirms();
  assert.equal((await ch.checkQueue(src)).messageCount, 2);
  const kept = await A.drain(ch, src);
  assert.deepEqual(kept.map(m => m.content.toString()), ['m3', 'm4'], 'the newest two stay');
  const dropped = [];
  for (let i = 0; i < 3; i++) dropped.push(await getOne(dlq, `dropped ${i}`));
  assert.deepEqual(dropped.map(m => m.content.toString()), ['m0', 'm1', 'm2'], 'the oldest dead-lettered, in order');
  for (const d of dropped) {
    checkDeath(d.properties.headers['x-death'][0], { reason: 'maxlen', queue: src, exchange: '', routingKeys: [src] }, 'maxlen');
    assert.equal(d.properties.headers['x-first-death-reason'], 'maxlen');
  }
});

test('x-overflow reject-publish nacks publishes beyond max-length and dead-letters nothing', { timeout: 15000 }, async () => {
  const { dlx, dlq } = await deadLetterTarget();
  const src = A.name('dl-reject-publish');
  await ch.assertQueue(src, { durable: false,
    arguments: { 'x-max-length': 2, 'x-overflow': 'reject-publish', 'x-dead-letter-exchange': dlx } });
  const cch = await A.channel(await s.connect(), { confirm: true });
  const results = [];
  const done = [];
  for (let i = 0; i < 4; i++) {
    done.push(new Promise(resolve => cch.sendToQueue(src, Buffer.from(`p${i}`), {}, err => { results[i] = err ? 'nack' : 'ack'; resolve(); })));
  }
  await A.withTimeout(Promise.all(done), 5000, 'confirms');
  assert.deepEqual(results, ['ack', 'ack', 'nack', 'nack']);
  assert.equal(cch.closed, false, 'a nack is not a channel error');
  const kept = await A.drain(ch, src);
  assert.deepEqual(kept.map(m => m.content.toString()), ['p0', 'p1']);
  await A.sleep(200);
  assert.equal((await ch.checkQueue(dlq)).messageCount, 0, 'rejected publishes are not dead-lettered');
  // Room again: the next publish is acked.
  await new Promise((resolve, reject) => cch.sendToQueue(src, Buffer.from('p4'), {}, err => (err ? reject(err) : resolve())));
});

test('a dead-letter cycle through two queues: x-death keeps one entry per (queue, reason), counts grow, newest first', { timeout: 20000 }, async () => {
  // A --reject--> B (TTL 50) --expired--> A --reject--> B --expired--> A
  const qa = A.name('dl-cycle-a');
  const qb = A.name('dl-cycle-b');
  await ch.assertQueue(qa, { durable: false, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': qb } });
  await ch.assertQueue(qb, { durable: false,
    arguments: { 'x-message-ttl': 50, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': qa } });
  ch.sendToQueue(qa, Buffer.from('cycle'));
  let m = await A.waitFor(() => ch.get(qa, { noAck: false }), { message: 'pass 1' });
  assert.equal(m.properties.headers['x-death'], undefined, 'no x-death before the first dead-lettering');
  ch.reject(m, false);
  m = await A.waitFor(() => ch.get(qa, { noAck: false }), { message: 'back in A after B expired' });
  let deaths = m.properties.headers['x-death'];
  assert.equal(deaths.length, 2, JSON.stringify(deaths));
  checkDeath(deaths[0], { reason: 'expired', queue: qb, exchange: '', routingKeys: [qb] }, 'newest: expired in B');
  checkDeath(deaths[1], { reason: 'rejected', queue: qa, exchange: '', routingKeys: [qa] }, 'oldest: rejected in A');
  assert.equal(m.properties.headers['x-first-death-queue'], qa);
  assert.equal(m.properties.headers['x-first-death-reason'], 'rejected');
  ch.reject(m, false);
  m = await A.waitFor(() => ch.get(qa, { noAck: false }), { message: 'second lap' });
  deaths = m.properties.headers['x-death'];
  assert.equal(deaths.length, 2, JSON.stringify(deaths));
  assert.deepEqual(deaths.map(d => [d.queue, d.reason, d.count]), [[qb, 'expired', 2], [qa, 'rejected', 2]]);
  assert.equal(m.properties.headers['x-first-death-queue'], qa, 'x-first-death-* never change');
  assert.equal(m.properties.headers['x-first-death-reason'], 'rejected');
  ch.ack(m);
});

test('without a dead-letter exchange a rejected or expired message is simply dropped', { timeout: 10000 }, async () => {
  const q = A.name('no-dlx');
  await ch.assertQueue(q, { durable: false, arguments: { 'x-message-ttl': 100 } });
  ch.sendToQueue(q, Buffer.from('gone'));
  await A.sleep(400);
  assert.equal((await ch.checkQueue(q)).messageCount, 0);
  ch.sendToQueue(q, Buffer.from('rejected'), { expiration: '60000' });
  const m = await A.waitFor(() => ch.get(q, { noAck: false }), { message: 'rejected' });
  ch.reject(m, false);
  await A.sleep(200);
  assert.equal((await ch.checkQueue(q)).messageCount, 0);
});
