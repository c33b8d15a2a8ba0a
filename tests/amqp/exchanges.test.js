'use strict';
// Exchanges with amqplib: the predeclared ones, exchange-to-exchange bindings, headers exchanges (x-match all/any),
// mandatory publishes returned with 312 NO_ROUTE (before the confirm), internal exchanges, exchange.delete
// if-unused, and the default exchange's rules.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startTarget } = require('./lib/target');
const A = require('./lib/amqp');

let t;
let s;
let conn;

before(async () => {
  t = await startTarget();
  s = A.session(t);
  conn = await s.connect();
});
after(async () => {
  if (s) await s.closeAll();
  if (t) await t.stop();
});

test('the predeclared exchanges exist with their types; declaring the default exchange is refused (403)', { timeout: 10000 }, async () => {
  const ch = await A.channel(conn);
  for (const [name, type] of [['amq.direct', 'direct'], ['amq.fanout', 'fanout'], ['amq.topic', 'topic'],
    ['amq.headers', 'headers'], ['amq.match', 'headers']]) {
    await ch.checkExchange(name);
    await ch.assertExchange(name, type, { durable: true }); // an equivalent redeclare is fine
  }
  // Even a passive declare of the default exchange is refused: RabbitMQ answers 403 for any declare of ''.
  await A.expectChannelError(() => ch.checkExchange(''), ch, 403,
    /ACCESS_REFUSED - operation not permitted on the default exchange/, 'passive declare of ""');
});

test('exchange-to-exchange bindings: topic -> fanout -> queues; a loop delivers once; unbind stops the flow', { timeout: 15000 }, async () => {
  const ch = await A.channel(conn);
  const src = A.name('e2e-src');
  const dst = A.name('e2e-dst');
  await ch.assertExchange(src, 'topic', { durable: false });
  await ch.assertExchange(dst, 'fanout', { durable: false });
  const direct = (await ch.assertQueue('', { exclusive: true })).queue; // bound straight to src
  const viaDst = (await ch.assertQueue('', { exclusive: true })).queue; // only through dst
  await ch.bindQueue(direct, src, 'a.*');
  await ch.bindQueue(viaDst, dst, '');
  await ch.bindExchange(dst, src, 'a.#');
  ch.publish(src, 'a.b', Buffer.from('ab'));
  ch.publish(src, 'a.b.c', Buffer.from('abc'));
  ch.publish(src, 'z', Buffer.from('z'));
  await A.sleep(300);
  assert.deepEqual((await A.drain(ch, direct)).map(m => m.content.toString()), ['ab']);
  const through = await A.drain(ch, viaDst);
  assert.deepEqual(through.map(m => m.content.toString()), ['ab', 'abc']);
  assert.equal(through[0].fields.exchange, src, 'delivered with the exchange it was published to');
  assert.equal(through[0].fields.routingKey, 'a.b');

  // A loop src -> dst -> src: each queue still gets one copy.
  await ch.bindExchange(src, dst, '');
  ch.publish(src, 'a.x', Buffer.from('loop'));
  await A.sleep(300);
  assert.deepEqual((await A.drain(ch, direct)).map(m => m.content.toString()), ['loop']);
  assert.deepEqual((await A.drain(ch, viaDst)).map(m => m.content.toString()), ['loop']);

  await ch.unbindExchange(src, dst, '');
  await ch.unbindExchange(dst, src, 'a.#');
  ch.publish(src, 'a.b', Buffer.from('after-unbind'));
  await A.sleep(300);
  assert.deepEqual((await A.drain(ch, viaDst)).map(m => m.content.toString()), []);
  assert.deepEqual((await A.drain(ch, direct)).map(m => m.content.toString()), ['after-unbind']);
  await ch.deleteExchange(src);
  await ch.deleteExchange(dst);
  await ch.close();
});

test('headers exchange: x-match all needs every pair, any needs one; x- keys are ignored', { timeout: 15000 }, async () => {
  const ch = await A.channel(conn);
  const ex = A.name('hdrs');
  await ch.assertExchange(ex, 'headers', { durable: false });
  const qAll = (await ch.assertQueue('', { exclusive: true })).queue;
  const qAny = (await ch.assertQueue('', { exclusive: true })).queue;
  const qDefault = (await ch.assertQueue('', { exclusive: true })).queue;
  await ch.bindQueue(qAll, ex, '', { 'x-match': 'all', format: 'pdf', type: 'report' });
  await ch.bindQueue(qAny, ex, '', { 'x-match': 'any', format: 'pdf', type: 'log' });
  await ch.bindQueue(qDefault, ex, '', { format: 'zip' }); // x-match defaults to all
  const sent = [
    ['pdf-report', { format: 'pdf', type: 'report' }],
    ['pdf-report-extra', { format: 'pdf', type: 'report', year: 2024 }],
    ['pdf-only', { format: 'pdf' }],
    ['log-only', { type: 'log' }],
    ['zip', { format: 'zip' }],
    ['x-only', { 'x-format': 'pdf' }],
    ['none', {}],
  ];
  for (const [body, headers] of sent) ch.publish(ex, 'ignored-key', Buffer.from(body), { headers });
  await A.sleep(400);
  assert.deepEqual((await A.drain(ch, qAll)).map(m => m.content.toString()), ['pdf-report', 'pdf-report-extra']);
  assert.deepEqual((await A.drain(ch, qAny)).map(m => m.content.toString()),
    ['pdf-report', 'pdf-report-extra', 'pdf-only', 'log-only']);
  assert.deepEqual((await A.drain(ch, qDefault)).map(m => m.content.toString()), ['zip']);
  await ch.deleteExchange(ex);
  await ch.close();
});

test('mandatory: an unroutable message comes back as basic.return 312 NO_ROUTE, before its confirm; a routable one does not', { timeout: 15000 }, async () => {
  const ch = await A.channel(conn, { confirm: true });
  const ex = A.name('mand');
  await ch.assertExchange(ex, 'direct', { durable: false });
  const q = (await ch.assertQueue('', { exclusive: true })).queue;
  await ch.bindQueue(q, ex, 'bound');
  const order = [];
  ch.on('return', m => order.push(`return ${m.content.toString()}`));
  const confirmed = body => new Promise((resolve, reject) => {
    ch.publish(ex, body === 'lost' ? 'unbound' : 'bound', Buffer.from(body), { mandatory: true, messageId: `id-${body}`, headers: { h: 1 } },
      err => { order.push(`${err ? 'nack' : 'ack'} ${body}`); return err ? reject(err) : resolve(); });
  });
  await confirmed('lost');
  await confirmed('kept');
  assert.deepEqual(order, ['return lost', 'ack lost', 'ack kept'], 'return before ack; unroutable is still acked');
  assert.equal(ch.returns.length, 1);
  const r = ch.returns[0];
  assert.equal(r.fields.replyCode, 312);
  assert.equal(r.fields.replyText, 'NO_ROUTE');
  assert.equal(r.fields.exchange, ex);
  assert.equal(r.fields.routingKey, 'unbound');
  assert.equal(r.content.toString(), 'lost');
  assert.equal(r.properties.messageId, 'id-lost', 'properties come back');
  assert.equal(r.properties.headers.h, 1);
  // Not mandatory: silently dropped, no return.
  ch.publish(ex, 'unbound', Buffer.from('dropped'), { mandatory: false });
  await ch.waitForConfirms();
  await A.sleep(200);
  assert.equal(ch.returns.length, 1);
  // Mandatory to the default exchange with no such queue: returned too.
  ch.publish('', A.name('no-such-queue'), Buffer.from('nq'), { mandatory: true });
  await ch.waitForConfirms();
  await A.waitFor(() => ch.returns.length === 2, { message: 'second return' });
  assert.equal(ch.returns[1].fields.replyCode, 312);
  assert.equal(ch.returns[1].fields.exchange, '');
  assert.equal((await ch.checkQueue(q)).messageCount, 1, 'only "kept" was routed');
  await ch.deleteExchange(ex);
  await ch.close();
});

test('an internal exchange takes no publishes (403) but routes what an exchange binding feeds it', { timeout: 15000 }, async () => {
  const ch = await A.channel(conn);
  const front = A.name('front');
  const internal = A.name('internal');
  await ch.assertExchange(front, 'fanout', { durable: false });
  await ch.assertExchange(internal, 'fanout', { durable: false, internal: true });
  const q = (await ch.assertQueue('', { exclusive: true })).queue;
  await ch.bindQueue(q, internal, '');
  await ch.bindExchange(internal, front, '');
  ch.publish(front, '', Buffer.from('through'));
  await A.sleep(200);
  assert.deepEqual((await A.drain(ch, q)).map(m => m.content.toString()), ['through']);
  ch.publish(internal, '', Buffer.from('direct'));
  await A.withTimeout(ch.closedPromise, 5000, 'channel close after publishing to an internal exchange');
  assert.equal(ch.errors[0].code, 403, ch.errors[0].message);
  assert.match(ch.errors[0].message, /ACCESS_REFUSED - cannot publish to internal exchange/);
  const c2 = await A.channel(conn);
  await c2.deleteExchange(front);
  await c2.deleteExchange(internal);
  await c2.close();
});

test('exchange.delete if-unused refuses (406) while bound; deleting removes its bindings; a missing one is fine', { timeout: 15000 }, async () => {
  const ch = await A.channel(conn);
  const ex = A.name('del-ex');
  await ch.assertExchange(ex, 'direct', { durable: false });
  const q = (await ch.assertQueue('', { exclusive: true })).queue;
  await ch.bindQueue(q, ex, 'k');
  await A.expectChannelError(() => ch.deleteExchange(ex, { ifUnused: true }), ch, 406, /PRECONDITION_FAILED - exchange '.*' in vhost '\/' in use/, 'delete if-unused');
  const c2 = await A.channel(conn);
  await c2.deleteExchange(ex);
  await A.expectChannelError(() => c2.checkExchange(ex), c2, 404, /NOT_FOUND - no exchange/, 'deleted');
  const c3 = await A.channel(conn);
  await c3.deleteExchange(A.name('never-existed')); // RabbitMQ 3.10: delete-ok for a missing exchange
  await c3.close();
});

test('the default exchange: every queue bound by its name; binding to it or deleting it is refused (403)', { timeout: 15000 }, async () => {
  const ch = await A.channel(conn);
  const q = (await ch.assertQueue('', { exclusive: true })).queue;
  ch.publish('', q, Buffer.from('via-default'));
  await A.sleep(100);
  assert.deepEqual((await A.drain(ch, q)).map(m => m.content.toString()), ['via-default']);
  await A.expectChannelError(() => ch.bindQueue(q, '', 'x'), ch, 403, /ACCESS_REFUSED - operation not permitted on the default exchange/, 'bind to default');
  const c2 = await A.channel(conn);
  await A.expectChannelError(() => c2.deleteExchange('amq.direct'), c2, 403, /ACCESS_REFUSED/, 'delete amq.direct');
});
