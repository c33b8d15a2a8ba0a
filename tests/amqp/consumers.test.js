'use strict';
// Consumers and acknowledgements with amqplib: ack / nack with `multiple`, reject with requeue (redelivered flag),
// basic.recover, prefetch per consumer vs global (RabbitMQ's reading of basic.qos), redelivery to another consumer
// after a consumer's connection dies, exclusive consumers, and tx.select / commit / rollback for publishes and acks
// (amqplib has no tx API: its channel's rpc() sends tx.select/commit/rollback frames from amqplib's own defs).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
// amqplib's package exports hide lib/; its method definitions are loaded by file path.
const defs = require(path.join(path.dirname(require.resolve('amqplib')), 'lib', 'defs.js'));
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

async function queueWith(ch, n, prefix = 'm') {
  const q = A.name('cq');
  await ch.assertQueue(q, { durable: false });
  for (let i = 0; i < n; i++) ch.sendToQueue(q, Buffer.from(`${prefix}${i}`));
  await A.waitFor(async () => (await ch.checkQueue(q)).messageCount === n, { message: `${n} messages in ${q}` });
  return q;
}

test('basic.nack multiple: requeue=false drops everything up to the tag, requeue=true puts it back redelivered', { timeout: 15000 }, async () => {
  const ch = await A.channel(conn);
  const q = await queueWith(ch, 6);
  const got = A.collector();
  await ch.consume(q, got.handler(ch));
  await got.waitForCount(6);
  ch.nack(got.msgs[2], true, false); // m0..m2 dropped
  ch.nack(got.msgs[5], true, true); // m3..m5 requeued
  await got.waitForCount(9);
  const again = got.msgs.slice(6);
  assert.deepEqual(again.map(m => m.content.toString()), ['m3', 'm4', 'm5']);
  assert.ok(again.every(m => m.fields.redelivered), 'redelivered flag set');
  assert.ok(got.msgs.slice(0, 6).every(m => !m.fields.redelivered));
  assert.deepEqual(again.map(m => m.fields.deliveryTag), [7, 8, 9], 'new delivery tags');
  ch.ack(got.msgs[8], true); // ack multiple covers 7..9
  await A.sleep(200);
  await ch.cancel(got.msgs[0].fields.consumerTag);
  const left = await ch.checkQueue(q);
  assert.equal(left.messageCount, 0);
  await ch.deleteQueue(q);
  await ch.close();
});

test('basic.reject requeue=true: the message comes back with redelivered set; requeue=false drops it', { timeout: 15000 }, async () => {
  const ch = await A.channel(conn);
  const q = await queueWith(ch, 2);
  await ch.prefetch(1);
  const seen = [];
  await ch.consume(q, msg => {
    if (msg === null) return; // basic.cancel from the server (queue deleted)
    seen.push([msg.content.toString(), msg.fields.redelivered]);
    if (seen.length === 1) ch.reject(msg, true);
    else if (seen.length === 2) ch.reject(msg, false);
    else ch.ack(msg);
  });
  await A.waitFor(() => seen.length === 3, { message: () => JSON.stringify(seen) });
  await A.sleep(300);
  assert.deepEqual(seen, [['m0', false], ['m0', true], ['m1', false]]);
  assert.equal((await ch.checkQueue(q)).messageCount, 0);
  await ch.deleteQueue(q);
  await ch.close();
});

test('basic.recover (requeue): every unacked message is delivered again with redelivered set', { timeout: 15000 }, async () => {
  const ch = await A.channel(conn);
  const q = await queueWith(ch, 3);
  const got = A.collector();
  await ch.consume(q, got.handler(ch));
  await got.waitForCount(3);
  ch.ack(got.msgs[0]);
  await ch.recover();
  await got.waitForCount(5);
  const again = got.msgs.slice(3);
  assert.deepEqual(again.map(m => m.content.toString()).sort(), ['m1', 'm2']);
  assert.ok(again.every(m => m.fields.redelivered));
  for (const m of again) ch.ack(m);
  await got.expectNoMore(5);
  await ch.deleteQueue(q);
  await ch.close();
});

test('prefetch per consumer (global=false): each consumer of the channel gets up to N unacked', { timeout: 15000 }, async () => {
  const ch = await A.channel(conn);
  const q1 = await queueWith(ch, 10, 'a');
  const q2 = await queueWith(ch, 10, 'b');
  await ch.prefetch(2, false);
  const g1 = A.collector();
  const g2 = A.collector();
  await ch.consume(q1, g1.handler(ch));
  await ch.consume(q2, g2.handler(ch));
  await g1.waitForCount(2);
  await g2.waitForCount(2);
  await g1.expectNoMore(2, 300);
  await g2.expectNoMore(2, 0);
  ch.ack(g1.msgs[0]);
  await g1.waitForCount(3);
  await g2.expectNoMore(2, 200);
  await ch.close();
  const c = await A.channel(conn);
  await c.deleteQueue(q1);
  await c.deleteQueue(q2);
  await c.close();
});

test('prefetch global=true: the channel\'s consumers share N unacked', { timeout: 15000 }, async () => {
  const ch = await A.channel(conn);
  const q1 = await queueWith(ch, 10, 'a');
  const q2 = await queueWith(ch, 10, 'b');
  await ch.prefetch(3, true);
  const g1 = A.collector();
  const g2 = A.collector();
  await ch.consume(q1, g1.handler(ch));
  await ch.consume(q2, g2.handler(ch));
  await A.waitFor(() => g1.msgs.length + g2.msgs.length >= 3, { message: 'three deliveries' });
  await A.sleep(400);
  assert.equal(g1.msgs.length + g2.msgs.length, 3, `shared limit: ${g1.msgs.length} + ${g2.msgs.length}`);
  const any = g1.msgs[0] || g2.msgs[0];
  ch.ack(any);
  await A.waitFor(() => g1.msgs.length + g2.msgs.length === 4, { message: 'one more after an ack' });
  await A.sleep(300);
  assert.equal(g1.msgs.length + g2.msgs.length, 4);
  await ch.close();
  const c = await A.channel(conn);
  await c.deleteQueue(q1);
  await c.deleteQueue(q2);
  await c.close();
});

test('a consumer whose connection dies: its unacked messages go to another consumer, redelivered', { timeout: 15000 }, async () => {
  const ch = await A.channel(conn);
  const q = await queueWith(ch, 4);
  const doomed = await s.connect();
  const dch = await A.channel(doomed);
  const dgot = A.collector();
  await dch.consume(q, dgot.handler(dch));
  await dgot.waitForCount(4);
  dch.ack(dgot.msgs[0]);
  await A.sleep(100);
  // Kill the TCP connection without any AMQP close (with an error, so that amqplib notices and stops its timers).
  doomed.connection.stream.destroy(new Error('killed by the test'));
  await A.withTimeout(doomed.closedPromise, 5000, 'amqplib notices the dead socket');
  const got = A.collector();
  await ch.consume(q, got.handler(ch, { ack: true }));
  await got.waitForCount(3);
  assert.deepEqual(got.bodies().sort(), ['m1', 'm2', 'm3']);
  assert.ok(got.msgs.every(m => m.fields.redelivered), 'redelivered flag');
  await got.expectNoMore(3);
  await ch.deleteQueue(q);
});

test('noAck consumers get everything at once; closing a channel with unacked messages requeues them in order', { timeout: 15000 }, async () => {
  const ch = await A.channel(conn);
  const q = await queueWith(ch, 5);
  const c1 = await A.channel(conn);
  const g1 = A.collector();
  await c1.consume(q, g1.handler(c1));
  await g1.waitForCount(5);
  await c1.close();
  await A.sleep(100);
  const after = await A.drain(ch, q);
  assert.deepEqual(after.map(m => m.content.toString()), ['m0', 'm1', 'm2', 'm3', 'm4'], 'requeued in their original order');
  assert.ok(after.every(m => m.fields.redelivered));
  for (let i = 0; i < 3; i++) ch.sendToQueue(q, Buffer.from(`n${i}`));
  const g2 = A.collector();
  await ch.consume(q, g2.handler(ch), { noAck: true });
  await g2.waitForCount(3);
  await A.sleep(100);
  assert.equal((await ch.checkQueue(q)).messageCount, 0, 'noAck: nothing held');
  await ch.deleteQueue(q);
});

test('an exclusive consumer: a second consumer is refused with 403; consumer tags must be unique on a channel (530)', { timeout: 15000 }, async () => {
  const ch = await A.channel(conn);
  const q = A.name('excl-consumer');
  await ch.assertQueue(q, { durable: false });
  await ch.consume(q, () => {}, { exclusive: true, noAck: true });
  const c2 = await A.channel(conn);
  await A.expectChannelError(() => c2.consume(q, () => {}, { noAck: true }), c2, 403,
    /ACCESS_REFUSED - queue '.*' in vhost '\/' in exclusive use/, 'second consumer');
  const other = await s.connect();
  const c3 = await A.channel(other);
  const q2 = A.name('tags');
  await c3.assertQueue(q2, { durable: false });
  await c3.consume(q2, () => {}, { consumerTag: 'dup' });
  c3.consume(q2, () => {}, { consumerTag: 'dup' }).catch(() => {});
  await A.expectConnectionError(other, 530, /NOT_ALLOWED - attempt to reuse consumer tag 'dup'/, 'duplicate consumer tag');
  await ch.deleteQueue(q);
  const c4 = await A.channel(conn);
  await c4.deleteQueue(q2);
});

// tx through amqplib's rpc with its own method definitions (amqplib exposes no tx API).
const txSelect = ch => ch.rpc(defs.TxSelect, {}, defs.TxSelectOk);
const txCommit = ch => ch.rpc(defs.TxCommit, {}, defs.TxCommitOk);
const txRollback = ch => ch.rpc(defs.TxRollback, {}, defs.TxRollbackOk);

test('tx: published messages appear only on commit; rollback discards them', { timeout: 15000 }, async () => {
  const ch = await A.channel(conn);
  const q = A.name('tx-pub');
  await ch.assertQueue(q, { durable: false });
  await txSelect(ch);
  ch.sendToQueue(q, Buffer.from('t1'));
  ch.sendToQueue(q, Buffer.from('t2'));
  const obs = await A.channel(conn);
  await A.sleep(200);
  assert.equal((await obs.checkQueue(q)).messageCount, 0, 'nothing before commit');
  await txCommit(ch);
  assert.equal((await obs.checkQueue(q)).messageCount, 2, 'both after commit');
  ch.sendToQueue(q, Buffer.from('t3'));
  await txRollback(ch);
  await txCommit(ch); // an empty transaction
  await A.sleep(100);
  assert.deepEqual((await A.drain(obs, q)).map(m => m.content.toString()), ['t1', 't2'], 't3 rolled back');
  await obs.deleteQueue(q);
});

test('tx: acks take effect on commit; after rollback the messages stay unacked (and come back on close)', { timeout: 15000 }, async () => {
  const setup = await A.channel(conn);
  const q = await queueWith(setup, 3);
  const ch = await A.channel(conn);
  await txSelect(ch);
  const got = A.collector();
  await ch.consume(q, got.handler(ch));
  await got.waitForCount(3);
  ch.ack(got.msgs[0]);
  await txCommit(ch);
  ch.ack(got.msgs[1]);
  ch.ack(got.msgs[2]);
  await txRollback(ch);
  await ch.close(); // m1, m2 were never acked: back to the queue
  await A.sleep(100);
  assert.deepEqual((await A.drain(setup, q)).map(m => m.content.toString()), ['m1', 'm2']);
  await setup.deleteQueue(q);
});

test('tx: commit without tx.select is a 406 channel error', { timeout: 10000 }, async () => {
  const ch = await A.channel(conn);
  await A.expectChannelError(() => txCommit(ch), ch, 406, /PRECONDITION_FAILED - channel is not transactional/, 'commit');
});
