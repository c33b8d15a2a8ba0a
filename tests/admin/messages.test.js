'use strict';
// The admin API's messages and dead letters (docs/admin-api.md, "Messages", "Dead letters") against a real
// ferry-broker: amqplib and ali-ons produce and consume; browsing must leave queues as they were; a dead letter
// resent from the API must reach the consumer it came from.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const amqp = require('amqplib');
const { startBroker } = require('../rocket/lib/broker');
const { AliOns, message } = require('../rocket/lib/alions');
const { uniqueName, waitFor, sleep } = require('../rocket/lib/util');
const { adminClient } = require('./lib/api');

const enc = encodeURIComponent;
let broker;
let api;
let amqpUrl;
before(async () => {
  broker = await startBroker({
    set: {
      'amqp.listen': '127.0.0.1:0',
      'auth.users': 'mon:monpw;plain:plainpw',
      'rocket.delay_levels': Array(18).fill('1s').join(' '),
      'rocket.register_interval_ms': '500', // topics created through the API reach the name server quickly
    },
  });
  api = adminClient(`http://${broker.listeners['admin.listen']}`);
  amqpUrl = `amqp://guest:guest@${broker.listeners['amqp.listen']}`;
  assert.equal((await api('PUT', '/api/v1/users/mon', { body: { password: 'monpw', tags: 'monitoring' } })).status, 204);
});
after(async () => { if (broker) await broker.stop(); });

async function withConnection(fn) {
  const conn = await amqp.connect(amqpUrl);
  try {
    return await fn(conn);
  } finally {
    await conn.close().catch(() => {});
  }
}

test('browse pages through a queue without consuming: ready and unacked alike, counts unchanged', async () => {
  const queue = uniqueName('browse');
  await withConnection(async conn => {
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue(queue, { durable: true });
    for (let i = 0; i < 5; i++)
      ch.sendToQueue(queue, Buffer.from(`m${i}`), { persistent: true, headers: { n: i }, contentType: 'text/plain' });
    ch.sendToQueue(queue, Buffer.from([0xff, 0x00, 0xfe]), { persistent: true });
    await ch.waitForConfirms();
    // A consumer holds two unacked.
    const consumer = await conn.createChannel();
    await consumer.prefetch(2);
    const held = [];
    await consumer.consume(queue, m => held.push(m));
    await waitFor(() => held.length === 2, { message: 'two deliveries' });
    await waitFor(async () => (await api('GET', `/api/v1/queues/%2F/${queue}`)).body.messages_unacknowledged === 2);

    let r = await api('GET', `/api/v1/queues/%2F/${queue}/messages?count=4`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.messages.length, 4);
    assert.deepEqual(r.body.messages.map(m => m.payload), ['m0', 'm1', 'm2', 'm3'], 'unacked m0 m1 are listed too');
    assert.deepEqual(r.body.messages.map(m => m.offset), [0, 1, 2, 3]);
    const first = r.body.messages[0];
    assert.equal(first.payload_encoding, 'string');
    assert.equal(first.routing_key, queue);
    assert.equal(first.exchange, '');
    assert.equal(first.properties['content-type'], 'text/plain');
    assert.equal(first.properties.n, '0', 'headers as properties');
    assert.equal(first.persistent, true);
    assert.match(first.id, /^[0-9A-F]{32}$/);
    const byId = await api('GET', `/api/v1/messages/${first.id.toLowerCase()}`);
    assert.equal(byId.status, 200, 'get by the kernel id, any case');
    assert.equal(byId.body.payload, 'm0');
    assert.equal(byId.body.queue, queue);
    assert.equal(byId.body.vhost, '/');
    assert.equal((await api('GET', `/api/v1/messages/${'0'.repeat(32)}`)).status, 404);
    assert.ok(first.store_time > 0);
    assert.equal(r.body.next_offset, 4);
    r = await api('GET', `/api/v1/queues/%2F/${queue}/messages?offset=${r.body.next_offset}&count=4`);
    assert.equal(r.body.messages.length, 2, 'the rest');
    assert.equal(r.body.messages[0].payload, 'm4');
    assert.equal(r.body.messages[1].payload_encoding, 'base64', 'a body that is not UTF-8');
    assert.deepEqual([...Buffer.from(r.body.messages[1].payload, 'base64')], [0xff, 0x00, 0xfe]);
    r = await api('GET', `/api/v1/queues/%2F/${queue}/messages?offset=${r.body.next_offset}`);
    assert.deepEqual(r.body.messages, [], 'past the last message: an empty page');

    // Nothing moved: same counts, and the consumer gets the next message only after acking.
    const q = (await api('GET', `/api/v1/queues/%2F/${queue}`)).body;
    assert.equal(q.messages, 6);
    assert.equal(q.messages_ready, 4);
    assert.equal(q.messages_unacknowledged, 2);
    consumer.ack(held[0]);
    await waitFor(() => held.length === 3);
    assert.equal(held[2].content.toString(), 'm2', 'delivery order unchanged by browsing');
    assert.equal(held[2].fields.redelivered, false, 'browsing is not a delivery');
    consumer.ackAll();
    await waitFor(async () => (await api('GET', `/api/v1/queues/%2F/${queue}`)).body.messages <= 3);
    // Acked messages are gone from browse too.
    r = await api('GET', `/api/v1/queues/%2F/${queue}/messages`);
    assert.ok(!r.body.messages.some(m => m.payload === 'm0'), 'an acked message is not browsed');
  });

  // Errors.
  let r = await api('GET', `/api/v1/queues/%2F/${queue}/messages?offset=999`);
  assert.equal(r.status, 400);
  assert.match(r.body.reason, /out of range/);
  r = await api('GET', `/api/v1/queues/%2F/${queue}/messages?count=0`);
  assert.equal(r.status, 400);
  r = await api('GET', `/api/v1/queues/%2F/${queue}/messages?count=1001`);
  assert.equal(r.status, 400);
  r = await api('GET', `/api/v1/queues/%2F/${queue}/messages?offset=x`);
  assert.equal(r.status, 400);
  assert.match(r.body.reason, /offset must be an unsigned integer/);
  r = await api('GET', '/api/v1/queues/%2F/no-such-queue/messages');
  assert.equal(r.status, 404);
  r = await api('GET', `/api/v1/queues/%2F/${queue}/messages`, { user: 'mon', password: 'monpw' });
  assert.equal(r.status, 200, 'monitoring may browse');
  r = await api('GET', `/api/v1/queues/%2F/${queue}/messages`, { user: 'plain', password: 'plainpw' });
  assert.equal(r.status, 403);
});

test('browse by store-time range; a transient queue is browsed from memory', async () => {
  const queue = uniqueName('times');
  await withConnection(async conn => {
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue(queue, { durable: true });
    ch.sendToQueue(queue, Buffer.from('early'), { persistent: true });
    await ch.waitForConfirms();
    await sleep(30);
    const cut = Date.now();
    await sleep(30);
    ch.sendToQueue(queue, Buffer.from('late'), { persistent: true });
    await ch.waitForConfirms();
    let r = await api('GET', `/api/v1/queues/%2F/${queue}/messages?begin=${cut}`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.messages.map(m => m.payload), ['late']);
    r = await api('GET', `/api/v1/queues/%2F/${queue}/messages?begin=0&end=${cut}`);
    assert.deepEqual(r.body.messages.map(m => m.payload), ['early']);
    r = await api('GET', `/api/v1/queues/%2F/${queue}/messages?begin=${cut + 10}&end=${cut}`);
    assert.equal(r.status, 400, 'begin after end');

    const transient = uniqueName('transient');
    await ch.assertQueue(transient, { durable: false });
    ch.sendToQueue(transient, Buffer.from('t1'));
    await ch.waitForConfirms();
    r = await api('GET', `/api/v1/queues/%2F/${transient}/messages`);
    assert.deepEqual(r.body.messages.map(m => m.payload), ['t1']);
    assert.equal((await api('GET', `/api/v1/queues/%2F/${transient}`)).body.messages, 1);
  });
});

test('publish a test message through an exchange; resend messages to their origin or elsewhere with a result each', async () => {
  const queue = uniqueName('pub');
  const other = uniqueName('other');
  await withConnection(async conn => {
    const ch = await conn.createChannel();
    await ch.assertQueue(queue, { durable: true });
    await ch.assertQueue(other, { durable: true });
    await ch.assertExchange('pub-x', 'direct', { durable: true });
    await ch.bindQueue(queue, 'pub-x', 'rk');

    let r = await api('POST', '/api/v1/exchanges/%2F/pub-x/publish', {
      body: { routing_key: 'rk', payload: 'hello', payload_encoding: 'string', properties: { headers: { h: 'v' }, delivery_mode: 2 } },
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.routed, true);
    r = await api('POST', '/api/v1/exchanges/%2F/pub-x/publish', { body: { routing_key: 'nowhere', payload: 'x' } });
    assert.equal(r.body.routed, false, 'no binding matched');
    r = await api('POST', '/api/v1/exchanges/%2F/amq.default/publish', {
      body: { routing_key: queue, payload: Buffer.from('bin\x00').toString('base64'), payload_encoding: 'base64' },
    });
    assert.equal(r.body.routed, true, 'amq.default is the default exchange');
    r = await api('POST', '/api/v1/exchanges/%2F/pub-x/publish', { body: { routing_key: 'rk', payload: 'x', payload_encoding: 'rot13' } });
    assert.equal(r.status, 400);
    r = await api('POST', '/api/v1/exchanges/%2F/pub-x/publish', { raw: '{"payload": ', headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 400, 'malformed JSON');
    r = await api('POST', '/api/v1/exchanges/%2F/no-such-x/publish', { body: { routing_key: 'rk', payload: 'x' } });
    assert.equal(r.status, 404);
    r = await api('POST', '/api/v1/exchanges/%2F/pub-x/publish', { body: { payload: 'x' }, user: 'mon', password: 'monpw' });
    assert.equal(r.status, 403, 'monitoring may not publish');

    // A real consumer gets the test message with its header.
    const got = [];
    const tag = (await ch.consume(queue, m => { got.push(m); ch.ack(m); })).consumerTag;
    await waitFor(() => got.length === 2);
    assert.equal(got[0].content.toString(), 'hello');
    assert.equal(String(got[0].properties.headers.h), 'v');
    assert.deepEqual([...got[1].content], [...Buffer.from('bin\x00')]);
    await ch.cancel(tag);

    // Resend offset 0 again (to its origin: pub-x with rk) and to another queue; offset 99 does not exist.
    const stored = [];
    await ch.assertQueue(queue + '-keep', { durable: true });
    r = await api('POST', '/api/v1/exchanges/%2F/amq.default/publish', { body: { routing_key: queue + '-keep', payload: 'keep-me' } });
    const source = { vhost: '/', queue: queue + '-keep' };
    r = await api('POST', '/api/v1/messages/resend', { body: { source, offsets: [0, 99] } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.resent, 1);
    assert.equal(r.body.failed, 1);
    assert.equal(r.body.results[0].ok, true);
    assert.equal(r.body.results[1].ok, false);
    assert.match(r.body.results[1].error, /no message at offset 99/);
    r = await api('POST', '/api/v1/messages/resend', { body: { source, offsets: [0], destination: { vhost: '/', exchange: '', routing_key: other } } });
    assert.equal(r.body.results[0].ok, true, JSON.stringify(r.body));
    const m = await ch.get(other, { noAck: true });
    assert.ok(m, 'the resent copy is in the destination');
    assert.equal(m.content.toString(), 'keep-me');
    stored.push(m);
    assert.equal((await api('GET', `/api/v1/queues/%2F/${enc(queue + '-keep')}`)).body.messages, 2, 'origin resend appended a copy; the source keeps its own');
    r = await api('POST', '/api/v1/messages/resend', { body: { source: { vhost: '/', queue: 'nope' }, offsets: [0] } });
    assert.equal(r.status, 404);
    r = await api('POST', '/api/v1/messages/resend', { body: { source } });
    assert.equal(r.status, 400, 'no offsets');
    r = await api('POST', '/api/v1/messages/resend', { body: { source, offsets: [-1] } });
    assert.equal(r.status, 400);
  });
});

test('AMQP dead letters: listed, browsed with x-death, exported as JSON and CSV, resent to the original consumer', async () => {
  const work = uniqueName('work');
  const dlq = `${work}.dlq`;
  const dlx = `${work}.dlx`;
  await withConnection(async conn => {
    const ch = await conn.createConfirmChannel();
    await ch.assertExchange(dlx, 'fanout', { durable: true });
    await ch.assertQueue(dlq, { durable: true });
    await ch.bindQueue(dlq, dlx, '');
    await ch.assertQueue(work, { durable: true, deadLetterExchange: dlx });
    ch.sendToQueue(work, Buffer.from('poison, "quoted"'), { persistent: true, messageId: 'p-1' });
    await ch.waitForConfirms();

    // The original consumer rejects it first, and accepts what comes later.
    const consumer = await conn.createChannel();
    let reject = true;
    const received = [];
    await consumer.consume(work, msg => {
      received.push(msg);
      if (reject) consumer.nack(msg, false, false);
      else consumer.ack(msg);
    });
    await waitFor(async () => (await api('GET', `/api/v1/queues/%2F/${enc(dlq)}`)).body.messages === 1, { message: 'dead-lettered' });

    let r = await api('GET', '/api/v1/dead-letters');
    assert.equal(r.status, 200);
    const entry = r.body.find(d => d.kind === 'amqp' && d.name === dlq);
    assert.ok(entry, JSON.stringify(r.body));
    assert.equal(entry.messages, 1);
    assert.deepEqual(entry.dead_lettered_from, [work]);

    r = await api('GET', `/api/v1/dead-letters/amqp/%2F/${enc(dlq)}/messages`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.messages.length, 1);
    const dead = r.body.messages[0];
    assert.equal(dead.payload, 'poison, "quoted"');
    assert.equal(dead.x_death[0].reason, 'rejected');
    assert.equal(dead.x_death[0].queue, work);
    assert.equal(dead.x_death[0].count, 1);
    r = await api('GET', `/api/v1/dead-letters/amqp/%2F/${enc(work)}/messages`);
    assert.equal(r.status, 404, 'a queue nothing dead-letters into is not a DLQ');

    r = await api('GET', `/api/v1/dead-letters/amqp/%2F/${enc(dlq)}/export?format=json`);
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 1);
    assert.equal(r.body[0].payload, 'poison, "quoted"');
    r = await api('GET', `/api/v1/dead-letters/amqp/%2F/${enc(dlq)}/export?format=csv`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/csv/);
    const lines = r.text.trim().split('\r\n');
    assert.equal(lines[0], 'offset,id,store_time,routing_key,tags,keys,dead_lettered_from,reason,payload_encoding,payload');
    assert.equal(lines.length, 2);
    assert.ok(lines[1].endsWith(`,${work},rejected,string,"poison, ""quoted"""`), lines[1]);
    r = await api('GET', `/api/v1/dead-letters/amqp/%2F/${enc(dlq)}/export?format=xml`);
    assert.equal(r.status, 400);

    // Resend to origin: the consumer of the queue it died in gets it again, with its x-death history.
    reject = false;
    r = await api('POST', `/api/v1/dead-letters/amqp/%2F/${enc(dlq)}/resend`, { body: { all: true } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.resent, 1, JSON.stringify(r.body));
    assert.equal(r.body.results[0].destination, `queue '${work}'`);
    await waitFor(() => received.length === 2, { message: 'redelivered to the original consumer' });
    const again = received[1];
    assert.equal(again.content.toString(), 'poison, "quoted"');
    assert.equal(again.properties.headers['x-death'][0].queue, work);
    r = await api('POST', `/api/v1/dead-letters/amqp/%2F/${enc(dlq)}/resend`, { body: { offsets: [0] }, user: 'mon', password: 'monpw' });
    assert.equal(r.status, 403, 'resending needs administrator');
  });
});

test('RocketMQ: topic browse, publish, search by key and id; %DLQ% resend reaches the group that gave up', { timeout: 90000 }, async () => {
  const ons = new AliOns(broker.namesrvAddr, { name: 'admin-dlq' });
  const diag = () => `${ons.recentLog()}\n--- broker ---\n${broker.output()}`;
  try {
    const topic = uniqueName('TAdmin');
    assert.equal((await api('PUT', `/api/v1/topics/${topic}`, { body: { read_queue_nums: 1, write_queue_nums: 1 } })).status, 201);
    const producer = await ons.producer();
    const key = uniqueName('order');
    let sent;
    await waitFor(async () => {
      try {
        sent = await producer.send(message(topic, 'TagA', 'first body', { keys: [key] }));
        return sent.sendStatus === 'SEND_OK';
      } catch { return false; }
    }, { timeoutMs: 20000, message: () => `send to ${topic}\n${diag()}` });
    let r = await api('POST', `/api/v1/topics/${topic}/publish`, { body: { body: 'from the api', tags: 'TagB', keys: 'api-key' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.routed, true);
    r = await api('POST', '/api/v1/topics/NoSuchTopic/publish', { body: { body: 'x' } });
    assert.equal(r.status, 404);

    r = await api('GET', `/api/v1/topics/${topic}/messages?queue_id=0`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.messages.map(m => m.payload), ['first body', 'from the api']);
    assert.equal(r.body.messages[0].tags, 'TagA');
    assert.equal(r.body.messages[1].tags, 'TagB');
    assert.equal(r.body.max_offset, 2);
    r = await api('GET', `/api/v1/topics/${topic}`);
    assert.equal(r.body.message_stats.publish, 2, 'the topic counts both messages it took');
    assert.equal(typeof r.body.message_stats.publish_details.rate, 'number');
    r = await api('GET', `/api/v1/topics/${topic}/messages?queue_id=5`);
    assert.equal(r.status, 400, 'queue_id out of range');
    r = await api('GET', `/api/v1/topics/${topic}/messages?queue_id=0&offset=3`);
    assert.equal(r.status, 400, 'offset out of range');

    r = await api('GET', `/api/v1/messages?key=${enc(key)}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.total, 1);
    assert.equal(r.body.messages[0].payload, 'first body');
    assert.equal(r.body.messages[0].topic, topic);
    assert.equal(r.body.messages[0].queue_id, 0);
    r = await api('GET', `/api/v1/messages?key=api-key&topic=${topic}`);
    assert.equal(r.body.messages[0].payload, 'from the api');
    r = await api('GET', `/api/v1/messages?key=api-key&topic=OtherTopic`);
    assert.equal(r.body.total, 0);
    r = await api('GET', '/api/v1/messages');
    assert.equal(r.status, 400, 'search needs a key');
    r = await api('GET', `/api/v1/messages/${enc(key)}`);
    assert.equal(r.status, 200);
    assert.equal(r.body.payload, 'first body');
    r = await api('GET', '/api/v1/messages/no-such-id');
    assert.equal(r.status, 404);
    r = await api('GET', `/api/v1/messages/${sent.msgId}`);
    assert.equal(r.status, 200, `the msgId ali-ons got (an offset msgId) ${sent.msgId}: ${r.text}`);
    assert.equal(r.body.topic, topic);
    assert.equal(r.body.payload, 'first body');
    const browsed = (await api('GET', `/api/v1/topics/${topic}/messages?queue_id=0`)).body.messages[1];
    r = await api('GET', `/api/v1/messages/${browsed.id}`);
    assert.equal(r.status, 200, 'by the kernel id browse shows');
    assert.equal(r.body.payload, 'from the api');
    assert.equal(r.body.topic, topic);
    assert.equal(r.body.queue_id, 0);

    // A consumer that always fails sends the message to %DLQ%<group>; the DLQ resend goes to %RETRY%<group>.
    const group = uniqueName('CG_ADMIN');
    const deliveries = [];
    let fail = true;
    const consumer = ons.consumer({ consumerGroup: group, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', maxReconsumeTimes: 1 });
    consumer.subscribe(topic, 'TagA', async msg => {
      deliveries.push({ body: msg.body.toString(), topic: msg.topic, reconsumeTimes: msg.reconsumeTimes });
      if (fail) throw new Error('always fails');
    });
    await consumer.ready();
    const dlqTopic = `%DLQ%${group}`;
    await waitFor(async () => {
      const list = (await api('GET', '/api/v1/dead-letters')).body;
      const d = list.find(x => x.kind === 'rocketmq' && x.name === dlqTopic);
      return d && d.messages === 1;
    }, { timeoutMs: 40000, message: () => `a dead letter in ${dlqTopic}\n${diag()}` });
    const list = (await api('GET', '/api/v1/dead-letters')).body;
    assert.equal(list.find(x => x.name === dlqTopic).group, group);
    r = await api('GET', `/api/v1/dead-letters/rocketmq/${enc(dlqTopic)}/messages`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.messages[0].payload, 'first body');
    assert.equal(r.body.messages[0].properties.DLQ_ORIGIN_TOPIC, topic);
    r = await api('GET', `/api/v1/dead-letters/rocketmq/${enc(topic)}/messages`);
    assert.equal(r.status, 404, 'not a %DLQ% topic');
    r = await api('GET', `/api/v1/dead-letters/rocketmq/${enc(dlqTopic)}/export?format=csv`);
    assert.equal(r.text.trim().split('\r\n').length, 2);

    const before = deliveries.length;
    fail = false;
    r = await api('POST', `/api/v1/dead-letters/rocketmq/${enc(dlqTopic)}/resend`, { body: { offsets: [0] } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.resent, 1, JSON.stringify(r.body));
    assert.equal(r.body.results[0].destination, `topic '%RETRY%${group}'`);
    await waitFor(() => deliveries.length > before, { timeoutMs: 20000, message: () => `the resent dead letter at the consumer\n${diag()}` });
    const last = deliveries[deliveries.length - 1];
    assert.equal(last.body, 'first body');
    assert.equal(last.topic, topic, 'the consumer sees the original topic');
  } finally {
    await ons.closeAll();
  }
});
