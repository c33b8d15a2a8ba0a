'use strict';
// Channel errors (soft: channel.close, the connection lives on) and the connection errors amqplib can provoke, each
// deliberately, with RabbitMQ's reply codes and texts: 403 reserved names, 404 missing queue/exchange, 405 someone
// else's exclusive queue, 406 inequivalent redeclares and unknown delivery tags, 503 unknown exchange type, 530 a
// vhost that does not exist, 406 for a body over amqp.max_message_bytes. Frame-level codes (501, 502, 504, 505, 540) are in errors_raw.test.js; the login and
// permission cases (403, 530 refused) in auth.test.js.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startTarget, isRabbit } = require('./lib/target');
const A = require('./lib/amqp');

let t;
let s;
let conn;

before(async () => {
  // A 1 MiB message limit for the oversized-body case (RabbitMQ keeps its 128 MiB default: that case skips there).
  t = await startTarget({ set: { 'amqp.max_message_bytes': String(1024 * 1024) } });
  s = A.session(t);
  conn = await s.connect();
});
after(async () => {
  if (s) await s.closeAll();
  if (t) await t.stop();
});

// After a soft error the connection still works.
async function connectionAlive() {
  assert.equal(conn.closed, false, 'the connection survived the channel error');
  const ch = await A.channel(conn);
  await ch.checkExchange('amq.direct');
  await ch.close();
}

test('403 ACCESS_REFUSED: declaring an exchange or a queue with the reserved amq. prefix', { timeout: 10000 }, async () => {
  let ch = await A.channel(conn);
  const e = await A.expectChannelError(() => ch.assertExchange('amq.custom', 'direct'), ch, 403,
    /^Operation failed: ExchangeDeclare; 403 .*ACCESS_REFUSED - exchange name 'amq.custom' contains reserved prefix 'amq\.\*'/, 'amq. exchange');
  assert.equal(e.classId, 40);
  assert.equal(e.methodId, 10);
  ch = await A.channel(conn);
  await A.expectChannelError(() => ch.assertQueue('amq.custom-q'), ch, 403,
    /ACCESS_REFUSED - queue name 'amq.custom-q' contains reserved prefix 'amq\.\*'/, 'amq. queue');
  await connectionAlive();
});

test('404 NOT_FOUND: passive declares, bind, consume, get and publish to a missing queue or exchange', { timeout: 15000 }, async () => {
  const q = A.name('missing-q');
  const ex = A.name('missing-ex');
  const cases = [
    ['checkQueue', ch => ch.checkQueue(q), new RegExp(`NOT_FOUND - no queue '${q}' in vhost '/'`)],
    ['checkExchange', ch => ch.checkExchange(ex), new RegExp(`NOT_FOUND - no exchange '${ex}' in vhost '/'`)],
    ['bindQueue to a missing exchange', async ch => { const { queue } = await ch.assertQueue('', { exclusive: true }); return ch.bindQueue(queue, ex, 'k'); },
      new RegExp(`NOT_FOUND - no exchange '${ex}' in vhost '/'`)],
    ['bindQueue of a missing queue', ch => ch.bindQueue(q, 'amq.direct', 'k'), new RegExp(`NOT_FOUND - no queue '${q}' in vhost '/'`)],
    ['consume', ch => ch.consume(q, () => {}), new RegExp(`NOT_FOUND - no queue '${q}' in vhost '/'`)],
    ['get', ch => ch.get(q), new RegExp(`NOT_FOUND - no queue '${q}' in vhost '/'`)],
    ['purgeQueue', ch => ch.purgeQueue(q), new RegExp(`NOT_FOUND - no queue '${q}' in vhost '/'`)],
  ];
  for (const [what, op, pattern] of cases) {
    const ch = await A.channel(conn);
    await A.expectChannelError(() => op(ch), ch, 404, pattern, what);
  }
  // Publishing to a missing exchange: the publish has no reply, the channel is closed with 404.
  const ch = await A.channel(conn);
  ch.publish(ex, 'k', Buffer.from('x'));
  await A.withTimeout(ch.closedPromise, 5000, 'channel close after publish to a missing exchange');
  assert.equal(ch.errors[0].code, 404, ch.errors[0].message);
  assert.match(ch.errors[0].message, new RegExp(`NOT_FOUND - no exchange '${ex}' in vhost '/'`));
  await connectionAlive();
});

test('405 RESOURCE_LOCKED: redeclaring or consuming another connection\'s exclusive queue', { timeout: 10000 }, async () => {
  const owner = await s.connect();
  const q = A.name('locked');
  await (await A.channel(owner)).assertQueue(q, { exclusive: true });
  let ch = await A.channel(conn);
  const e = await A.expectChannelError(() => ch.assertQueue(q, { exclusive: true }), ch, 405,
    new RegExp(`RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '${q}' in vhost '/'`), 'redeclare');
  assert.equal(e.classId, 50);
  ch = await A.channel(conn);
  await A.expectChannelError(() => ch.consume(q, () => {}), ch, 405, /RESOURCE_LOCKED/, 'consume');
  await owner.close();
  await connectionAlive();
});

test('406 PRECONDITION_FAILED: redeclaring with inequivalent durable, auto-delete, arguments or exchange type', { timeout: 15000 }, async () => {
  const setup = await A.channel(conn);
  const q = A.name('ineq');
  const ex = A.name('ineq-ex');
  await setup.assertQueue(q, { durable: false, arguments: { 'x-max-length': 10 } });
  await setup.assertExchange(ex, 'direct', { durable: false });
  const cases = [
    ['queue durable', ch => ch.assertQueue(q, { durable: true, arguments: { 'x-max-length': 10 } }),
      new RegExp(`PRECONDITION_FAILED - inequivalent arg 'durable' for queue '${q}' in vhost '/': received 'true' but current is 'false'`)],
    ['queue auto_delete', ch => ch.assertQueue(q, { durable: false, autoDelete: true, arguments: { 'x-max-length': 10 } }),
      new RegExp(`PRECONDITION_FAILED - inequivalent arg 'auto_delete' for queue '${q}' in vhost '/': received 'true' but current is 'false'`)],
    ['queue x-max-length', ch => ch.assertQueue(q, { durable: false, arguments: { 'x-max-length': 11 } }),
      new RegExp(`PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue '${q}' in vhost '/': received '11' but current is '10'`)],
    ['queue argument missing', ch => ch.assertQueue(q, { durable: false }),
      new RegExp(`PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue '${q}' in vhost '/': received none but current is the value '10' of type '\\w+'`)],
    ['exchange type', ch => ch.assertExchange(ex, 'fanout', { durable: false }),
      new RegExp(`PRECONDITION_FAILED - inequivalent arg 'type' for exchange '${ex}' in vhost '/': received 'fanout' but current is 'direct'`)],
    ['exchange durable', ch => ch.assertExchange(ex, 'direct', { durable: true }),
      new RegExp(`PRECONDITION_FAILED - inequivalent arg 'durable' for exchange '${ex}' in vhost '/': received 'true' but current is 'false'`)],
  ];
  for (const [what, op, pattern] of cases) {
    const ch = await A.channel(conn);
    const e = await A.expectChannelError(() => op(ch), ch, 406, pattern, what);
    assert.ok([40, 50].includes(e.classId), `${what}: class ${e.classId}`);
  }
  // The equivalent redeclare is fine, and the queue is unchanged.
  const ok = await setup.assertQueue(q, { durable: false, arguments: { 'x-max-length': 10 } });
  assert.equal(ok.queue, q);
  await setup.deleteQueue(q);
  await setup.deleteExchange(ex);
  await connectionAlive();
});

test('406 PRECONDITION_FAILED: acking an unknown delivery tag, acking twice, nack and reject of unknown tags', { timeout: 15000 }, async () => {
  const setup = await A.channel(conn);
  const q = A.name('tags');
  await setup.assertQueue(q, { durable: false });
  for (let i = 0; i < 3; i++) setup.sendToQueue(q, Buffer.from(`t${i}`));
  await A.sleep(100);

  let ch = await A.channel(conn);
  ch.ack({ fields: { deliveryTag: 42 } });
  await A.withTimeout(ch.closedPromise, 5000, 'close after ack of tag 42');
  assert.equal(ch.errors[0].code, 406);
  assert.match(ch.errors[0].message, /PRECONDITION_FAILED - unknown delivery tag 42/);

  ch = await A.channel(conn);
  const m = await ch.get(q, { noAck: false });
  ch.ack(m);
  ch.ack(m);
  await A.withTimeout(ch.closedPromise, 5000, 'close after a double ack');
  assert.equal(ch.errors[0].code, 406);
  assert.match(ch.errors[0].message, new RegExp(`PRECONDITION_FAILED - unknown delivery tag ${m.fields.deliveryTag}`));

  ch = await A.channel(conn);
  ch.nack({ fields: { deliveryTag: 7 } }, false, true);
  await A.withTimeout(ch.closedPromise, 5000, 'close after nack of tag 7');
  assert.match(ch.errors[0].message, /PRECONDITION_FAILED - unknown delivery tag 7/);

  ch = await A.channel(conn);
  ch.reject({ fields: { deliveryTag: 9 } }, false);
  await A.withTimeout(ch.closedPromise, 5000, 'close after reject of tag 9');
  assert.match(ch.errors[0].message, /PRECONDITION_FAILED - unknown delivery tag 9/);

  // A noAck delivery has nothing to ack.
  ch = await A.channel(conn);
  const n = await ch.get(q, { noAck: true });
  ch.ack(n);
  await A.withTimeout(ch.closedPromise, 5000, 'close after acking a noAck delivery');
  assert.match(ch.errors[0].message, /PRECONDITION_FAILED - unknown delivery tag/);
  await setup.deleteQueue(q);
  await connectionAlive();
});

test('406 PRECONDITION_FAILED: invalid queue arguments (x-overflow value, x-max-length type)', { timeout: 10000 }, async () => {
  let ch = await A.channel(conn);
  await A.expectChannelError(() => ch.assertQueue(A.name('badargs'), { arguments: { 'x-overflow': 'explode' } }), ch, 406,
    /PRECONDITION_FAILED - invalid arg 'x-overflow'/, 'x-overflow');
  ch = await A.channel(conn);
  await A.expectChannelError(() => ch.assertQueue(A.name('badargs'), { arguments: { 'x-max-length': 'ten' } }), ch, 406,
    /PRECONDITION_FAILED - invalid arg 'x-max-length'/, 'x-max-length');
  if (!isRabbit) { // Ferry qualifies names with vhost + 0x1F: a name holding that character is refused
    ch = await A.channel(conn);
    await A.expectChannelError(() => ch.assertQueue('bad\x1fname'), ch, 406, /reserved character 0x1F/, '0x1F in a queue name');
    ch = await A.channel(conn);
    await A.expectChannelError(() => ch.assertExchange('bad\x1fx', 'direct'), ch, 406, /reserved character 0x1F/, '0x1F in an exchange name');
  }
  await connectionAlive();
});

test('503 COMMAND_INVALID (connection error): exchange.declare with an unknown type', { timeout: 10000 }, async () => {
  const c = await s.connect();
  const ch = await A.channel(c);
  ch.assertExchange(A.name('bad-type'), 'no-such-type').catch(() => {});
  await A.expectConnectionError(c, 503, /COMMAND_INVALID - unknown exchange type 'no-such-type'/, 'unknown type');
});

test('530 NOT_ALLOWED: connecting to a vhost that does not exist fails in connection.open', { timeout: 10000 }, async () => {
  let err = null;
  try {
    await s.connect(t.urlFor({ vhost: 'no-such-vhost' }));
  } catch (e) {
    err = e;
  }
  assert.ok(err, 'the connection must be refused');
  // amqplib reports a close during the handshake without its code; errors_raw.test.js checks 530 and the text.
  assert.match(err.message, /Expected ConnectionOpenOk; got <ConnectionClose channel:0>/);
});

test('a channel error closes only that channel: the other channels of the connection keep working', { timeout: 10000 }, async () => {
  const good = await A.channel(conn);
  const q = (await good.assertQueue('', { exclusive: true })).queue;
  const bad = await A.channel(conn);
  await A.expectChannelError(() => bad.checkQueue(A.name('nope')), bad, 404, /NOT_FOUND/, 'passive declare');
  good.sendToQueue(q, Buffer.from('still fine'));
  const m = await A.waitFor(() => good.get(q, { noAck: true }), { message: 'message on the good channel' });
  assert.equal(m.content.toString(), 'still fine');
  await assert.rejects(bad.checkExchange('amq.direct'), /closed/i, 'the failed channel is closed for good');
});

test('406 PRECONDITION_FAILED: a body over amqp.max_message_bytes is refused at its header; nothing is stored', { timeout: 15000,
  skip: isRabbit ? 'RabbitMQ keeps its 128 MiB max_message_size here' : false }, async () => {
  const setup = await A.channel(conn);
  const q = A.name('big');
  await setup.assertQueue(q, { durable: false });
  const ch = await A.channel(conn, { confirm: true });
  ch.sendToQueue(q, Buffer.alloc(1024 * 1024 + 1, 7));
  await A.withTimeout(ch.closedPromise, 5000, 'close after the oversized publish');
  assert.equal(ch.errors[0].code, 406, ch.errors[0].message);
  assert.match(ch.errors[0].message, /PRECONDITION_FAILED - message size 1048577 is larger than configured max size 1048576/);
  const ok = await A.channel(conn, { confirm: true });
  ok.sendToQueue(q, Buffer.alloc(1024 * 1024, 8)); // exactly the limit is fine
  await A.withTimeout(ok.waitForConfirms(), 5000, 'confirm of a body at the limit');
  assert.equal((await setup.checkQueue(q)).messageCount, 1, 'only the message within the limit is stored');
  await setup.deleteQueue(q);
  await connectionAlive();
});
