'use strict';
// ali-ons 3.12.0 producer and push consumer against ferry-broker: tags and keys, msgIds, big and compressed bodies,
// where a new group starts, and offsets kept across a consumer restart and a broker restart.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const zlib = require('node:zlib');
const { startBroker } = require('./lib/broker');
const { AliOns, MessageQueue, message, humanTimestamp } = require('./lib/alions');
const R = require('./lib/remoting');
const raw = require('./lib/raw');
const { newTopic, maxOffsets, collector } = require('./lib/fixtures');
const { sleep, uniqueName, groupBy, duplicates } = require('./lib/util');

let broker;
let ons;

before(async () => {
  broker = await startBroker();
  ons = new AliOns(broker.namesrvAddr, { name: 'basic' });
});

after(async () => {
  if (ons) await ons.closeAll();
  if (broker) await broker.stop();
});

const diag = () => `${ons.recentLog()}\n--- broker ---\n${broker.output()}`;

test('tags and keys: "TagA || TagB" gets TagA and TagB, never TagC; msgIds name the broker', { timeout: 45000 }, async () => {
  const QUEUES = 4;
  const { topic } = await newTopic(broker, 'TTag', QUEUES);
  const startOffsets = await maxOffsets(broker.brokerAddr, topic, QUEUES);
  const producer = await ons.producer();
  const tags = ['TagA', 'TagB', 'TagC'];
  const sent = [];
  for (let i = 0; i < 12; i++) {
    const tag = tags[i % 3];
    const body = `tag-${i}-${tag}`;
    const r = await producer.send(message(topic, tag, body, { keys: [`key-${i}`, 'common'] }));
    assert.equal(r.sendStatus, 'SEND_OK');
    sent.push({ tag, body, keys: `key-${i} common`, r });
  }

  // The offset msgId carries the broker's advertised address and the commit log offset; all distinct.
  for (const s of sent) {
    const id = R.decodeMsgId(s.r.msgId);
    assert.equal(id.address, broker.brokerAddr, `msgId ${s.r.msgId} names ${id.address}`);
  }
  assert.equal(new Set(sent.map(s => R.decodeMsgId(s.r.msgId).offset)).size, sent.length, 'distinct commit log offsets');
  // Per queue, consecutive queue offsets starting at the queue's max offset before the sends.
  for (const [q, list] of groupBy(sent, s => Number(s.r.messageQueue.queueId))) {
    const offsets = list.map(s => s.r.queueOffset);
    assert.deepEqual(offsets, offsets.map((_, i) => startOffsets[q] + i), `queue ${q} offsets`);
  }

  const got = collector();
  const consumer = ons.consumer({ consumerGroup: uniqueName('CG_TAG'), consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
  consumer.subscribe(topic, 'TagA || TagB', got.handler);
  await consumer.ready();
  const expected = sent.filter(s => s.tag !== 'TagC');
  await got.waitForKeys(expected.map(s => s.body), { describe: diag });
  await sleep(1000); // anything else would have come by now (same queues, later offsets are not involved)

  assert.deepEqual(got.msgs.filter(m => m.tags === 'TagC').map(m => m.body.toString()), [], 'no TagC delivered');
  assert.deepEqual(duplicates(got.keys()), [], 'each message once');
  for (const m of got.msgs) {
    const s = expected.find(e => e.body === m.body.toString());
    assert.ok(s, `unexpected message ${m.body}`);
    assert.equal(m.topic, topic);
    assert.equal(m.tags, s.tag);
    assert.equal(m.keys, s.keys);
    assert.equal(m.msgId, s.r.msgId, 'consumed msgId equals the send result');
    assert.equal(m.queueId, Number(s.r.messageQueue.queueId));
    assert.equal(m.queueOffset, s.r.queueOffset);
    assert.equal(m.storeHost, broker.brokerAddr);
    assert.equal(R.decodeMsgId(m.msgId).offset, m.commitLogOffset);
  }
  await ons.close(consumer);
});

test('a 1 MiB body and a compressed (> 4 KiB) body arrive intact', { timeout: 45000 }, async () => {
  const { topic } = await newTopic(broker, 'TBig', 2);
  const producer = await ons.producer();
  const big = crypto.randomBytes(1024 * 1024); // incompressible: stored size stays > 1 MiB
  const text = Buffer.from('Ferry speaks RocketMQ. '.repeat(600)); // ~13.8 KiB, compresses well
  const small = Buffer.from('small body');
  // ali-ons deflates bodies >= 4 KiB in place (msg.body is replaced), so send copies.
  const rBig = await producer.send(message(topic, 'Big', Buffer.from(big)));
  const rText = await producer.send(message(topic, 'Text', Buffer.from(text)));
  const rSmall = await producer.send(message(topic, 'Small', Buffer.from(small)));

  const got = collector(m => m.msgId);
  const consumer = ons.consumer({ consumerGroup: uniqueName('CG_BIG'), consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
  consumer.subscribe(topic, '*', got.handler);
  await consumer.ready();
  await got.waitForKeys([rBig.msgId, rText.msgId, rSmall.msgId], { timeoutMs: 30000, describe: diag });
  const byId = new Map(got.msgs.map(m => [m.msgId, m]));
  assert.ok(byId.get(rBig.msgId).body.equals(big), '1 MiB body');
  assert.ok(byId.get(rText.msgId).body.equals(text), 'compressed body inflated by the consumer');
  assert.ok(byId.get(rSmall.msgId).body.equals(small));
  await ons.close(consumer);

  // What the broker stored: the bodies exactly as sent (zlib for >= 4 KiB, COMPRESSED sysFlag), never recompressed.
  await R.withConnection(broker.brokerAddr, async conn => {
    const one = async r => {
      const p = await raw.pull(conn, { topic, queueId: r.messageQueue.queueId, queueOffset: r.queueOffset, maxMsgNums: 1 });
      assert.equal(p.code, 0, `pull ${r.msgId}`);
      assert.equal(p.messages[0].msgId, r.msgId);
      return p.messages[0];
    };
    const t = await one(rText);
    assert.equal(t.sysFlag & R.MessageSysFlag.COMPRESSED, R.MessageSysFlag.COMPRESSED, 'COMPRESSED flag stored');
    assert.ok(t.storedBody.length < text.length, 'stored compressed');
    assert.ok(zlib.inflateSync(t.storedBody).equals(text));
    assert.equal(t.bodyCRC, R.bodyCrc(t.storedBody), 'BODYCRC of the stored body');
    const b = await one(rBig);
    assert.ok(b.storedBody.length >= big.length);
    assert.ok(b.body.equals(big));
    const s = await one(rSmall);
    assert.equal(s.sysFlag & R.MessageSysFlag.COMPRESSED, 0);
    assert.ok(s.storedBody.equals(small));
  });
});

// Where a new group starts. Fact sheet §2.3 QUERY_CONSUMER_OFFSET: with no stored offset, a queue whose minOffset is
// <= 0 and whose entry 0 is still in memory answers 0 with offset 0 (the Apache quirk Ferry copies), and ali-ons,
// like Java, only applies consumeFromWhere when the broker reports no offset. So on a young queue a new group
// starts at 0 whatever its consumeFromWhere: FIRST_OFFSET, LAST_OFFSET and TIMESTAMP all get the earlier messages.
test('a new group on young queues starts at offset 0 for FIRST_OFFSET, LAST_OFFSET and TIMESTAMP', { timeout: 50000 }, async () => {
  const QUEUES = 2;
  const { topic } = await newTopic(broker, 'TWhere', QUEUES);
  const producer = await ons.producer();
  const bodies = [];
  for (let i = 0; i < 6; i++) {
    const body = `where-${i}`;
    await producer.send(message(topic, 'W', body));
    bodies.push(body);
  }
  // The quirk itself, as ali-ons asks it (no setZeroIfNotFound).
  await R.withConnection(broker.brokerAddr, async conn => {
    const g = uniqueName('CG_PROBE');
    for (let q = 0; q < QUEUES; q++) {
      const r = await raw.queryConsumerOffset(conn, g, topic, q);
      assert.equal(r.code, 0, `QUERY_CONSUMER_OFFSET q${q}: ${r.remark}`);
      assert.equal(Number(r.extFields.offset), 0);
    }
  });
  for (const consumeFromWhere of ['CONSUME_FROM_FIRST_OFFSET', 'CONSUME_FROM_LAST_OFFSET', 'CONSUME_FROM_TIMESTAMP']) {
    const got = collector();
    const consumer = ons.consumer({
      consumerGroup: uniqueName('CG_WHERE'),
      consumeFromWhere,
      consumeTimestamp: humanTimestamp(Date.now() + 60000), // would skip everything if it were applied
    });
    consumer.subscribe(topic, '*', got.handler);
    await consumer.ready();
    await got.waitForKeys(bodies, { describe: () => `${consumeFromWhere}\n${diag()}` });
    assert.deepEqual(duplicates(got.keys()), [], consumeFromWhere);
    await ons.close(consumer);
  }
});

// CONSUME_FROM_TIMESTAMP resolves the start with SEARCH_OFFSET_BY_TIMESTAMP 29 as ali-ons sends it (JS numbers in
// extFields): LOWER boundary = the first offset whose store time is >= the timestamp, the max offset if none.
test('SEARCH_OFFSET_BY_TIMESTAMP as ali-ons sends it finds the first message stored at or after a time', { timeout: 30000 }, async () => {
  const QUEUES = 2;
  const { topic, brokerName } = await newTopic(broker, 'TStamp', QUEUES);
  const producer = await ons.producer();
  for (let i = 0; i < 4; i++) await producer.send(message(topic, 'A', `early-${i}`));
  await sleep(30);
  const T = Date.now();
  await sleep(30);
  const late = [];
  for (let i = 0; i < 3; i++) late.push(await producer.send(message(topic, 'B', `late-${i}`)));
  const max = await maxOffsets(broker.brokerAddr, topic, QUEUES);
  const mq = producer._mqClient; // ali-ons' own request path (MQClient#searchOffset)
  for (let q = 0; q < QUEUES; q++) {
    const lateHere = late.filter(r => Number(r.messageQueue.queueId) === q).map(r => r.queueOffset);
    const expected = lateHere.length ? Math.min(...lateHere) : max[q];
    const got = await mq.searchOffset(new MessageQueue(topic, brokerName, q), T);
    assert.equal(got, expected, `queue ${q}`);
  }
});

test('a group keeps its offsets across a consumer restart', { timeout: 50000 }, async () => {
  const QUEUES = 4;
  const { topic } = await newTopic(broker, 'TRestartC', QUEUES);
  const group = uniqueName('CG_RESTART');
  const producer = await ons.producer();
  const first = [];
  for (let i = 0; i < 8; i++) { // round robin: every queue gets some, so every queue has a consumed offset
    first.push(`first-${i}`);
    await producer.send(message(topic, 'R', first[i]));
  }
  const got1 = collector();
  const c1 = ons.consumer({ consumerGroup: group, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
  c1.subscribe(topic, '*', got1.handler);
  await c1.ready();
  await got1.waitForKeys(first, { describe: diag });
  await sleep(300); // let ali-ons record the last offsets after the handlers returned
  await ons.close(c1); // persists the offsets (UPDATE_CONSUMER_OFFSET) and unregisters

  const second = [];
  for (let i = 0; i < 8; i++) {
    second.push(`second-${i}`);
    await producer.send(message(topic, 'R', second[i]));
  }
  const got2 = collector();
  const c2 = ons.consumer({ consumerGroup: group, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
  c2.subscribe(topic, '*', got2.handler);
  await c2.ready();
  await got2.waitForKeys(second, { describe: diag });
  await sleep(500);
  assert.deepEqual(got2.keys().filter(k => k.startsWith('first-')), [], 'already consumed messages are not delivered again');
  assert.deepEqual(duplicates(got2.keys()), []);
  await ons.close(c2);
});

// Last in this file: restarts the broker.
test('messages and offsets survive a broker restart (same data dir, same ports)', { timeout: 60000 }, async () => {
  const QUEUES = 4;
  const { topic } = await newTopic(broker, 'TRestartB', QUEUES);
  const group = uniqueName('CG_BRESTART');
  const producer = await ons.producer();
  const consumed = [];
  for (let i = 0; i < 8; i++) {
    consumed.push(`before-consumed-${i}`);
    await producer.send(message(topic, 'X', consumed[i]));
  }
  const got1 = collector();
  const c1 = ons.consumer({ consumerGroup: group, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
  c1.subscribe(topic, '*', got1.handler);
  await c1.ready();
  await got1.waitForKeys(consumed, { describe: diag });
  await sleep(300);
  await ons.close(c1);

  const pending = [];
  for (let i = 0; i < 8; i++) {
    pending.push(`before-pending-${i}`);
    await producer.send(message(topic, 'X', pending[i]));
  }
  const maxBefore = await maxOffsets(broker.brokerAddr, topic, QUEUES);

  const stopped = await broker.stop();
  assert.deepEqual(stopped, { code: 0, signal: null }, 'SIGTERM stops it cleanly');
  await broker.restart();
  await R.waitForRoute(broker.namesrvAddr, topic, { timeoutMs: 15000 });
  assert.deepEqual(await maxOffsets(broker.brokerAddr, topic, QUEUES), maxBefore, 'queues restored');

  // The producer created before the restart reconnects by itself.
  const afterRestart = [];
  for (let i = 0; i < 4; i++) {
    afterRestart.push(`after-${i}`);
    const r = await producer.send(message(topic, 'X', afterRestart[i]));
    assert.equal(r.sendStatus, 'SEND_OK');
  }

  const got2 = collector();
  const c2 = ons.consumer({ consumerGroup: group, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
  c2.subscribe(topic, '*', got2.handler);
  await c2.ready();
  await got2.waitForKeys([...pending, ...afterRestart], { timeoutMs: 25000, describe: diag });
  await sleep(500);
  assert.deepEqual(got2.keys().filter(k => k.startsWith('before-consumed-')), [], 'consumed before the restart');
  assert.deepEqual(duplicates(got2.keys()), []);
  await ons.close(c2);
});
