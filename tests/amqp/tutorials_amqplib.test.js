'use strict';
// RabbitMQ's seven tutorials, end to end with amqplib (the npm client): hello world; work queues (prefetch 1, fair
// dispatch, manual acks); publish/subscribe (fanout); routing (direct); topics (`*` and `#`); RPC with reply_to and
// correlation_id, and with direct reply-to (amq.rabbitmq.reply-to); publisher confirms (one by one, batched,
// asynchronous). Names are unique per run so the file can share a RabbitMQ with other runs.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startTarget } = require('./lib/target');
const A = require('./lib/amqp');

let t;
let s;

before(async () => {
  t = await startTarget();
  s = A.session(t);
});
after(async () => {
  if (s) await s.closeAll();
  if (t) await t.stop();
});

test('1 hello world: sendToQueue, consume with noAck', { timeout: 15000 }, async () => {
  const q = A.name('hello');
  const producer = await s.connect();
  const pch = await A.channel(producer);
  await pch.assertQueue(q, { durable: false });
  pch.sendToQueue(q, Buffer.from('Hello World!'));

  const consumer = await s.connect();
  const cch = await A.channel(consumer);
  await cch.assertQueue(q, { durable: false });
  const got = A.collector();
  const ok = await cch.consume(q, got.handler(cch), { noAck: true });
  assert.ok(ok.consumerTag, 'consume-ok carries a consumer tag');
  await got.waitForCount(1);
  const m = got.msgs[0];
  assert.equal(m.content.toString(), 'Hello World!');
  assert.equal(m.fields.exchange, '');
  assert.equal(m.fields.routingKey, q);
  assert.equal(m.fields.redelivered, false);
  assert.equal(m.fields.consumerTag, ok.consumerTag);
  await got.expectNoMore(1);
  await pch.deleteQueue(q);
  await producer.close();
  await consumer.close();
});

test('2 work queues: prefetch 1 and manual acks give fair dispatch; every task acked once', { timeout: 20000 }, async () => {
  const q = A.name('task_queue');
  const conn = await s.connect();
  const pch = await A.channel(conn);
  await pch.assertQueue(q, { durable: true });

  // Two workers on their own connections, prefetch 1, ack when done. Task "slow" takes 1500 ms; the others ~20 ms.
  const workers = [];
  for (const id of ['w1', 'w2']) {
    const c = await s.connect();
    const ch = await A.channel(c);
    await ch.assertQueue(q, { durable: true });
    await ch.prefetch(1);
    const w = { id, ch, done: [], inFlight: 0, maxInFlight: 0 };
    await ch.consume(q, msg => {
      if (msg === null) return; // basic.cancel from the server (queue deleted)
      w.inFlight += 1;
      w.maxInFlight = Math.max(w.maxInFlight, w.inFlight);
      const body = msg.content.toString();
      setTimeout(() => {
        w.done.push(body);
        w.inFlight -= 1;
        ch.ack(msg);
      }, body === 'slow' ? 1500 : 20);
    }, { noAck: false });
    workers.push(w);
  }
  const tasks = ['slow', 't1', 't2', 't3', 't4', 't5'];
  for (const task of tasks) pch.sendToQueue(q, Buffer.from(task), { persistent: true });

  await A.waitFor(() => workers.reduce((n, w) => n + w.done.length, 0) === tasks.length,
    { timeoutMs: 10000, message: () => `all tasks done: ${JSON.stringify(workers.map(w => w.done))}` });
  const slowWorker = workers.find(w => w.done.includes('slow'));
  const other = workers.find(w => w !== slowWorker);
  // Fair dispatch: while the slow worker holds its one unacked task, every other task goes to the free worker.
  assert.deepEqual(slowWorker.done, ['slow'], `the busy worker got only its slow task: ${JSON.stringify(workers.map(w => w.done))}`);
  assert.deepEqual(other.done, ['t1', 't2', 't3', 't4', 't5'], 'the free worker got the rest, in order');
  for (const w of workers) assert.equal(w.maxInFlight, 1, `${w.id} never had more than 1 unacked (prefetch 1)`);
  await A.sleep(300);
  const left = await pch.checkQueue(q);
  assert.equal(left.messageCount, 0, 'all acked: nothing left');
  assert.equal(left.consumerCount, 2);
  await pch.deleteQueue(q);
});

test('3 publish/subscribe: a fanout exchange copies every message to every bound queue', { timeout: 15000 }, async () => {
  const ex = A.name('logs');
  const conn = await s.connect();
  const ch = await A.channel(conn);
  await ch.assertExchange(ex, 'fanout', { durable: false });
  const subs = [];
  for (let i = 0; i < 3; i++) {
    const { queue } = await ch.assertQueue('', { exclusive: true });
    assert.match(queue, /^amq\.gen-/, 'server-named queue');
    await ch.bindQueue(queue, ex, i === 0 ? '' : `ignored-${i}`); // fanout ignores the binding key
    const got = A.collector();
    await ch.consume(queue, got.handler(ch), { noAck: true });
    subs.push(got);
  }
  const logs = ['info: a', 'warning: b', 'error: c'];
  for (const l of logs) ch.publish(ex, `rk-${l[0]}`, Buffer.from(l));
  for (const got of subs) {
    await got.waitForCount(3);
    assert.deepEqual(got.bodies(), logs);
    assert.deepEqual(got.msgs.map(m => m.fields.exchange), [ex, ex, ex]);
    assert.deepEqual(got.msgs.map(m => m.fields.routingKey), ['rk-i', 'rk-w', 'rk-e']);
  }
  // A queue bound after the publishes gets none of them.
  const late = await ch.assertQueue('', { exclusive: true });
  await ch.bindQueue(late.queue, ex, '');
  await A.sleep(200);
  assert.equal((await ch.checkQueue(late.queue)).messageCount, 0);
  for (const got of subs) await got.expectNoMore(3, 100);
  await ch.deleteExchange(ex);
});

test('4 routing: a direct exchange routes by exact binding key; one queue may have several keys', { timeout: 15000 }, async () => {
  const ex = A.name('direct_logs');
  const conn = await s.connect();
  const ch = await A.channel(conn);
  await ch.assertExchange(ex, 'direct', { durable: false });
  const errorsOnly = (await ch.assertQueue('', { exclusive: true })).queue;
  const all = (await ch.assertQueue('', { exclusive: true })).queue;
  await ch.bindQueue(errorsOnly, ex, 'error');
  for (const sev of ['info', 'warning', 'error']) await ch.bindQueue(all, ex, sev);
  const g1 = A.collector();
  const g2 = A.collector();
  await ch.consume(errorsOnly, g1.handler(ch), { noAck: true });
  await ch.consume(all, g2.handler(ch), { noAck: true });
  const sent = [['info', 'i1'], ['error', 'e1'], ['warning', 'w1'], ['debug', 'd1'], ['error', 'e2'], ['Error', 'E3']];
  for (const [sev, body] of sent) ch.publish(ex, sev, Buffer.from(body));
  await g1.waitForCount(2);
  await g2.waitForCount(4);
  await g1.expectNoMore(2);
  await g2.expectNoMore(4, 100);
  assert.deepEqual(g1.bodies(), ['e1', 'e2']);
  assert.deepEqual(g2.bodies(), ['i1', 'e1', 'w1', 'e2'], 'keys are case-sensitive; unbound keys are dropped');
  assert.deepEqual(g2.msgs.map(m => m.fields.routingKey), ['info', 'error', 'warning', 'error']);
  await ch.deleteExchange(ex);
});

test('5 topics: `*` matches exactly one word, `#` zero or more; a message matching two bindings of a queue arrives once', { timeout: 15000 }, async () => {
  const ex = A.name('topic_logs');
  const conn = await s.connect();
  const ch = await A.channel(conn);
  await ch.assertExchange(ex, 'topic', { durable: false });
  const q1 = (await ch.assertQueue('', { exclusive: true })).queue;
  const q2 = (await ch.assertQueue('', { exclusive: true })).queue;
  const q3 = (await ch.assertQueue('', { exclusive: true })).queue;
  await ch.bindQueue(q1, ex, '*.orange.*');
  await ch.bindQueue(q2, ex, '*.*.rabbit');
  await ch.bindQueue(q2, ex, 'lazy.#');
  await ch.bindQueue(q3, ex, '#');
  const table = [
    ['quick.orange.rabbit', [q1, q2]],
    ['lazy.orange.elephant', [q1, q2]],
    ['quick.orange.fox', [q1]],
    ['lazy.brown.fox', [q2]],
    ['lazy.pink.rabbit', [q2]], // matches both of q2's bindings: delivered once
    ['quick.brown.fox', []],
    ['orange', []],
    ['quick.orange.male.rabbit', []],
    ['lazy.orange.male.rabbit', [q2]],
    ['lazy', [q2]], // '#' matches zero words
    ['', []],
    ['.orange.', [q1]], // empty words are words
  ];
  const got = new Map([[q1, A.collector()], [q2, A.collector()], [q3, A.collector()]]);
  for (const [q, c] of got) await ch.consume(q, c.handler(ch), { noAck: true });
  for (const [rk] of table) ch.publish(ex, rk, Buffer.from(rk));
  const expected = q => table.filter(([, qs]) => qs.includes(q)).map(([rk]) => rk);
  await got.get(q3).waitForCount(table.length); // '#' alone matches everything, '' included
  for (const q of [q1, q2]) await got.get(q).waitForCount(expected(q).length);
  await A.sleep(300);
  assert.deepEqual(got.get(q1).bodies(), expected(q1), '*.orange.*');
  assert.deepEqual(got.get(q2).bodies(), expected(q2), '*.*.rabbit + lazy.#');
  assert.deepEqual(got.get(q3).bodies(), table.map(([rk]) => rk), '#');
  await ch.deleteExchange(ex);
});

// The RPC server of tutorial 6: fib(n), replying to reply_to with the request's correlation_id.
async function rpcServer(queue) {
  const conn = await s.connect();
  const ch = await A.channel(conn);
  await ch.assertQueue(queue, { durable: false });
  await ch.prefetch(1);
  const fib = n => (n < 2 ? n : fib(n - 1) + fib(n - 2));
  const seenReplyTo = [];
  await ch.consume(queue, msg => {
    if (msg === null) return; // basic.cancel from the server (queue deleted)
    seenReplyTo.push(msg.properties.replyTo);
    const n = parseInt(msg.content.toString(), 10);
    ch.sendToQueue(msg.properties.replyTo, Buffer.from(String(fib(n))), { correlationId: msg.properties.correlationId });
    ch.ack(msg);
  });
  return { conn, ch, seenReplyTo };
}

test('6a RPC: an exclusive callback queue, reply_to and correlation_id match replies to calls', { timeout: 15000 }, async () => {
  const rpcQueue = A.name('rpc_queue');
  const server = await rpcServer(rpcQueue);
  const conn = await s.connect();
  const ch = await A.channel(conn);
  const { queue: callback } = await ch.assertQueue('', { exclusive: true });
  const replies = new Map();
  await ch.consume(callback, msg => msg && replies.set(msg.properties.correlationId, msg.content.toString()), { noAck: true });
  const calls = [[10, '55'], [1, '1'], [20, '6765'], [0, '0'], [15, '610']];
  calls.forEach(([n], i) => {
    ch.sendToQueue(rpcQueue, Buffer.from(String(n)), { correlationId: `call-${i}`, replyTo: callback });
  });
  await A.waitFor(() => replies.size === calls.length, { message: () => `replies ${JSON.stringify([...replies])}` });
  calls.forEach(([, want], i) => assert.equal(replies.get(`call-${i}`), want, `fib for call-${i}`));
  assert.deepEqual(server.seenReplyTo, calls.map(() => callback), 'reply_to arrives as sent');
  await server.ch.deleteQueue(rpcQueue);
});

test('6b RPC with direct reply-to: amq.rabbitmq.reply-to is rewritten to a per-channel name that routes the reply back', { timeout: 15000 }, async () => {
  const rpcQueue = A.name('rpc_queue');
  const server = await rpcServer(rpcQueue);
  const conn = await s.connect();
  const ch = await A.channel(conn);
  const replies = [];
  // Must consume in no-ack mode before publishing with reply_to amq.rabbitmq.reply-to.
  const { consumerTag } = await ch.consume('amq.rabbitmq.reply-to', msg => msg && replies.push(msg), { noAck: true });
  assert.ok(consumerTag);
  for (let i = 0; i < 3; i++) {
    ch.sendToQueue(rpcQueue, Buffer.from(String(i + 5)), { replyTo: 'amq.rabbitmq.reply-to', correlationId: `c${i}` });
  }
  await A.waitFor(() => replies.length === 3, { message: () => `${replies.length} direct replies` });
  assert.deepEqual(replies.map(m => m.content.toString()), ['5', '8', '13']);
  assert.deepEqual(replies.map(m => m.properties.correlationId), ['c0', 'c1', 'c2']);
  for (const r of server.seenReplyTo) {
    assert.match(r, /^amq\.rabbitmq\.reply-to\..+/, `the server saw the rewritten reply-to: ${r}`);
  }
  assert.equal(new Set(server.seenReplyTo).size, 1, 'one name per channel');
  assert.equal(replies[0].fields.routingKey, server.seenReplyTo[0], 'the reply is delivered with the name it was sent to');
  assert.equal(replies[0].fields.consumerTag, consumerTag);

  // A reply-to consumer must be no-ack: RabbitMQ refuses an acking one with 406.
  const ch2 = await A.channel(conn);
  await A.expectChannelError(() => ch2.consume('amq.rabbitmq.reply-to', () => {}, { noAck: false }), ch2, 406,
    /PRECONDITION_FAILED - reply consumer cannot acknowledge/, 'acking reply-to consumer');
  // Publishing with reply_to amq.rabbitmq.reply-to without consuming it first is refused with 406 too.
  const ch3 = await A.channel(conn);
  ch3.sendToQueue(rpcQueue, Buffer.from('1'), { replyTo: 'amq.rabbitmq.reply-to' });
  await A.withTimeout(ch3.closedPromise, 5000, 'channel close after reply-to without consumer');
  assert.equal(ch3.errors[0] && ch3.errors[0].code, 406, `error ${ch3.errors[0] && ch3.errors[0].message}`);
  assert.match(ch3.errors[0].message, /fast reply consumer does not exist/);
  await server.ch.deleteQueue(rpcQueue);
});

test('7a publisher confirms one by one: each publish is acked before the next', { timeout: 15000 }, async () => {
  const q = A.name('confirms1');
  const conn = await s.connect();
  const ch = await A.channel(conn, { confirm: true });
  await ch.assertQueue(q, { durable: true });
  const acks = [];
  ch.on('ack', f => acks.push(f));
  for (let i = 0; i < 50; i++) {
    await new Promise((resolve, reject) => {
      ch.sendToQueue(q, Buffer.from(`m${i}`), { persistent: true }, err => (err ? reject(err) : resolve()));
    });
    assert.equal(acks.length, i + 1, 'one basic.ack per publish');
    assert.equal(acks[i].deliveryTag, i + 1, 'delivery tags count from 1');
  }
  assert.equal((await ch.checkQueue(q)).messageCount, 50);
  await ch.deleteQueue(q);
});

test('7b publisher confirms in batches: waitForConfirms after every 25; tags reach 200', { timeout: 15000 }, async () => {
  const q = A.name('confirms2');
  const conn = await s.connect();
  const ch = await A.channel(conn, { confirm: true });
  await ch.assertQueue(q, { durable: true });
  let maxTag = 0;
  ch.on('ack', f => { maxTag = Math.max(maxTag, f.deliveryTag); });
  const nacks = [];
  ch.on('nack', f => nacks.push(f));
  for (let batch = 0; batch < 8; batch++) {
    for (let i = 0; i < 25; i++) ch.sendToQueue(q, Buffer.from(`b${batch}-${i}`), { persistent: true });
    await A.withTimeout(ch.waitForConfirms(), 10000, `batch ${batch} confirms`);
    assert.equal(maxTag, (batch + 1) * 25, `all of batch ${batch} confirmed`);
  }
  assert.deepEqual(nacks, []);
  assert.equal((await ch.checkQueue(q)).messageCount, 200);
  await ch.deleteQueue(q);
});

test('7c publisher confirms asynchronously: 1000 publishes, one callback each, acks (multiple or not) cover tags 1..1000', { timeout: 20000 }, async () => {
  const q = A.name('confirms3');
  const conn = await s.connect();
  const ch = await A.channel(conn, { confirm: true });
  await ch.assertQueue(q, { durable: false });
  const frames = [];
  ch.on('ack', f => frames.push(f));
  const N = 1000;
  const callbacks = [];
  const done = [];
  for (let i = 0; i < N; i++) {
    done.push(new Promise(resolve => {
      ch.sendToQueue(q, Buffer.from(`a${i}`), {}, err => { callbacks.push(err ? `nack ${i}` : i); resolve(); });
    }));
  }
  await A.withTimeout(Promise.all(done), 15000, 'all confirm callbacks');
  assert.equal(callbacks.length, N);
  assert.ok(callbacks.every(c => typeof c === 'number'), 'all acked');
  // The acks' tags are increasing and the last covers N; `multiple` acks cover everything up to their tag.
  const tags = frames.map(f => f.deliveryTag);
  assert.deepEqual(tags, [...tags].sort((a, b) => a - b), 'ack tags increase');
  assert.equal(tags[tags.length - 1], N);
  const covered = new Set();
  let prev = 0;
  for (const f of frames) {
    if (f.multiple) for (let k = prev + 1; k <= f.deliveryTag; k++) covered.add(k);
    else covered.add(f.deliveryTag);
    prev = Math.max(prev, f.deliveryTag);
  }
  assert.equal(covered.size, N, 'every tag confirmed');
  assert.equal((await ch.checkQueue(q)).messageCount, N);
  await ch.deleteQueue(q);
});
