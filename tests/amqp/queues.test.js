'use strict';
// Queue features with amqplib: declare-ok counts and server-named queues, queue.purge, queue.delete if-unused /
// if-empty, exclusive queues (gone with their connection, locked for others), auto-delete, x-expires,
// x-max-priority, x-single-active-consumer, basic.get / get-empty with message-count, consumer cancel notification
// when the queue is deleted.

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

test('queue.declare-ok carries message and consumer counts; "" gives an amq.gen- name; passive declare reads the counts', { timeout: 10000 }, async () => {
  const ch = await A.channel(conn);
  const q = A.name('counts');
  let ok = await ch.assertQueue(q, { durable: false });
  assert.deepEqual(ok, { queue: q, messageCount: 0, consumerCount: 0 });
  for (let i = 0; i < 3; i++) ch.sendToQueue(q, Buffer.from(`c${i}`));
  const c2 = await A.channel(conn);
  await c2.prefetch(1);
  await c2.consume(q, () => {}, { noAck: false });
  await A.sleep(200);
  ok = await ch.checkQueue(q);
  assert.equal(ok.consumerCount, 1);
  assert.equal(ok.messageCount, 2, 'ready messages only: one is unacked at the consumer');
  const gen = await ch.assertQueue('', { exclusive: true });
  assert.match(gen.queue, /^amq\.gen-[A-Za-z0-9_-]{10,}$/);
  const gen2 = await ch.assertQueue('', { exclusive: true });
  assert.notEqual(gen.queue, gen2.queue);
  await c2.close();
  await ch.deleteQueue(q);
  await ch.close();
});

test('queue.purge removes ready messages and returns their count; unacked ones stay with the consumer', { timeout: 10000 }, async () => {
  const ch = await A.channel(conn);
  const q = A.name('purge');
  await ch.assertQueue(q, { durable: false });
  for (let i = 0; i < 5; i++) ch.sendToQueue(q, Buffer.from(`p${i}`));
  const held = await A.waitFor(() => ch.get(q, { noAck: false }), { message: 'p0' });
  const r = await ch.purgeQueue(q);
  assert.equal(r.messageCount, 4);
  assert.equal((await ch.checkQueue(q)).messageCount, 0);
  assert.equal((await ch.purgeQueue(q)).messageCount, 0, 'purging an empty queue');
  ch.nack(held, false, true); // back to the queue
  await A.sleep(100);
  const m = await ch.get(q, { noAck: true });
  assert.equal(m.content.toString(), 'p0');
  assert.equal(m.fields.redelivered, true);
  await ch.deleteQueue(q);
  await ch.close();
});

test('queue.delete if-unused (406 with a consumer) and if-empty (406 with messages); delete-ok counts the messages', { timeout: 15000 }, async () => {
  const ch = await A.channel(conn);
  const q = A.name('del');
  await ch.assertQueue(q, { durable: false });
  ch.sendToQueue(q, Buffer.from('x'));
  ch.sendToQueue(q, Buffer.from('y'));
  await A.sleep(100);
  await A.expectChannelError(() => ch.deleteQueue(q, { ifEmpty: true }), ch, 406,
    /PRECONDITION_FAILED - queue '.*' in vhost '\/' not empty/, 'delete if-empty');
  const c2 = await A.channel(conn);
  const { consumerTag } = await c2.consume(q, () => {}, { noAck: false });
  const c3 = await A.channel(conn);
  await A.expectChannelError(() => c3.deleteQueue(q, { ifUnused: true }), c3, 406,
    /PRECONDITION_FAILED - queue '.*' in vhost '\/' in use/, 'delete if-unused');
  await c2.cancel(consumerTag);
  await c2.recover(); // the two deliveries go back to the queue
  await A.sleep(100);
  const r = await c2.deleteQueue(q, { ifUnused: true });
  assert.equal(r.messageCount, 2);
  const c4 = await A.channel(conn);
  await A.expectChannelError(() => c4.checkQueue(q), c4, 404, /NOT_FOUND - no queue '.*' in vhost '\/'/, 'deleted');
  const c5 = await A.channel(conn);
  assert.equal((await c5.deleteQueue(A.name('never-existed'))).messageCount, 0, 'deleting a missing queue is ok');
  await c5.close();
});

test('an exclusive queue: other connections get 405 RESOURCE_LOCKED; it is deleted when its connection closes', { timeout: 15000 }, async () => {
  const owner = await s.connect();
  const och = await A.channel(owner);
  const q = A.name('excl');
  await och.assertQueue(q, { exclusive: true });
  och.sendToQueue(q, Buffer.from('mine'));
  const other = await s.connect();
  for (const op of [c => c.assertQueue(q, { exclusive: true }), c => c.checkQueue(q), c => c.consume(q, () => {}),
    c => c.get(q), c => c.deleteQueue(q), c => c.purgeQueue(q)]) {
    const ch = await A.channel(other);
    await A.expectChannelError(() => op(ch), ch, 405,
      /RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '.*' in vhost '\/'/, `other connection: ${op}`);
  }
  // Another channel of the same connection may use it.
  const och2 = await A.channel(owner);
  assert.equal((await och2.checkQueue(q)).messageCount, 1);
  await owner.close();
  const ch = await A.channel(other);
  await A.retry(async () => {
    const c = await A.channel(other);
    try { await c.checkQueue(q); } catch (err) { if (err.code === 404) return; throw err; }
    throw new Error('still there');
  }, { timeoutMs: 5000, what: 'exclusive queue gone after its connection closed' });
  await ch.close();
});

test('an auto-delete queue lives until its last consumer goes, not before the first one', { timeout: 15000 }, async () => {
  const ch = await A.channel(conn);
  const q = A.name('autodel');
  await ch.assertQueue(q, { autoDelete: true, durable: false });
  await A.sleep(300);
  await ch.checkQueue(q); // no consumer yet: still there
  const a = await ch.consume(q, () => {}, { noAck: true });
  const b = await ch.consume(q, () => {}, { noAck: true });
  await ch.cancel(a.consumerTag);
  assert.equal((await ch.checkQueue(q)).consumerCount, 1, 'one consumer left: still there');
  await ch.cancel(b.consumerTag);
  const c2 = await A.channel(conn);
  await A.retry(async () => {
    const c = await A.channel(conn);
    try { await c.checkQueue(q); } catch (err) { if (err.code === 404) return; throw err; }
    throw new Error('still there');
  }, { timeoutMs: 5000, what: 'auto-delete queue gone after its last consumer' });
  await c2.close();
  await ch.close();
});

test('x-expires deletes a queue unused for that long; a basic.get resets the clock', { timeout: 15000 }, async () => {
  const ch = await A.channel(conn);
  const q = A.name('expires');
  await ch.assertQueue(q, { durable: false, arguments: { 'x-expires': 800 } });
  for (let i = 0; i < 3; i++) {
    await A.sleep(400);
    await ch.get(q); // a use: the queue lives on
  }
  await ch.checkQueue(q); // 1200 ms after declaring it, alive thanks to the gets
  // Untouched now (a passive declare is a use too, so do not poll): gone after 800 ms.
  await A.sleep(1800);
  await A.expectChannelError(() => ch.checkQueue(q), ch, 404, /NOT_FOUND - no queue/, 'queue after x-expires 800');
});

test('x-max-priority: higher priorities first, FIFO within one; above the max counts as the max', { timeout: 15000 }, async () => {
  const ch = await A.channel(conn, { confirm: true });
  const q = A.name('prio');
  await ch.assertQueue(q, { durable: false, arguments: { 'x-max-priority': 5 } });
  const sent = [[1, 'a1'], [5, 'a5'], [0, 'a0'], [3, 'a3'], [5, 'b5'], [9, 'c9'], [3, 'b3'], [undefined, 'none']];
  for (const [p, body] of sent) ch.sendToQueue(q, Buffer.from(body), p === undefined ? {} : { priority: p });
  await ch.waitForConfirms();
  const got = (await A.drain(ch, q)).map(m => m.content.toString());
  assert.deepEqual(got, ['a5', 'b5', 'c9', 'a3', 'b3', 'a1', 'a0', 'none']);
  await ch.deleteQueue(q);
  await ch.close();
});

test('x-single-active-consumer: only the first consumer gets messages; when it cancels the next takes over', { timeout: 15000 }, async () => {
  const ch = await A.channel(conn);
  const q = A.name('sac');
  await ch.assertQueue(q, { durable: false, arguments: { 'x-single-active-consumer': true } });
  const c1 = await A.channel(await s.connect());
  const c2 = await A.channel(await s.connect());
  const g1 = A.collector();
  const g2 = A.collector();
  const first = await c1.consume(q, g1.handler(c1, { ack: true }));
  await c2.consume(q, g2.handler(c2, { ack: true }));
  for (let i = 0; i < 6; i++) ch.sendToQueue(q, Buffer.from(`s${i}`));
  await g1.waitForCount(6);
  await g2.expectNoMore(0, 300);
  await c1.cancel(first.consumerTag);
  for (let i = 6; i < 9; i++) ch.sendToQueue(q, Buffer.from(`s${i}`));
  await g2.waitForCount(3);
  assert.deepEqual(g2.bodies(), ['s6', 's7', 's8']);
  await g1.expectNoMore(6, 100);
  await ch.deleteQueue(q);
});

test('basic.get: get-ok message-count counts what is left; get-empty on an empty queue; noAck false needs an ack', { timeout: 10000 }, async () => {
  const ch = await A.channel(conn);
  const q = A.name('get');
  await ch.assertQueue(q, { durable: false });
  assert.equal(await ch.get(q), false, 'get-empty');
  for (let i = 0; i < 3; i++) ch.sendToQueue(q, Buffer.from(`g${i}`), { messageId: `id${i}` });
  await A.sleep(100);
  const counts = [];
  const bodies = [];
  for (let i = 0; i < 3; i++) {
    const m = await ch.get(q, { noAck: false });
    counts.push(m.fields.messageCount);
    bodies.push(m.content.toString());
    assert.equal(m.fields.deliveryTag, i + 1, 'get-ok delivery tags count on the channel');
    assert.equal(m.fields.redelivered, false);
    assert.equal(m.fields.exchange, '');
    assert.equal(m.fields.routingKey, q);
    assert.equal(m.properties.messageId, `id${i}`);
    if (i < 2) ch.ack(m);
  }
  assert.deepEqual(counts, [2, 1, 0]);
  assert.deepEqual(bodies, ['g0', 'g1', 'g2']);
  assert.equal(await ch.get(q), false, 'empty while g2 is unacked');
  await ch.close(); // g2 unacked: back to the queue
  const c2 = await A.channel(conn);
  const again = await A.waitFor(() => c2.get(q, { noAck: true }), { message: 'g2 again' });
  assert.equal(again.content.toString(), 'g2');
  assert.equal(again.fields.redelivered, true);
  await c2.deleteQueue(q);
  await c2.close();
});

test('consumer cancel notification: deleting the queue sends basic.cancel to its consumers', { timeout: 10000 }, async () => {
  const ch = await A.channel(conn);
  const q = A.name('cancel-notify');
  await ch.assertQueue(q, { durable: false });
  const cch = await A.channel(await s.connect());
  const got = A.collector();
  const { consumerTag } = await cch.consume(q, got.handler(cch, { ack: true }));
  ch.sendToQueue(q, Buffer.from('before'));
  await got.waitForCount(1);
  await ch.deleteQueue(q);
  await A.waitFor(() => got.cancelled, { message: 'basic.cancel from the server' });
  assert.ok(consumerTag);
  assert.equal(cch.closed, false, 'the channel stays open');
  await cch.checkExchange('amq.direct'); // and usable
});
