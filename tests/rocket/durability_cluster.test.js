'use strict';
// Durability and clustering across processes: confirmed messages survive kill -9 (storage.flush=sync); delayed
// messages survive a restart and are delivered at their time, also 40 days ahead; an ali-ons producer spreads
// sends over a topic served by two brokers behind one name server.
const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { startBroker } = require('./lib/broker');
const { AliOns, message } = require('./lib/alions');
const R = require('./lib/remoting');
const raw = require('./lib/raw');
const { newTopic } = require('./lib/fixtures');
const { sleep, uniqueName, waitFor } = require('./lib/util');

const started = [];
async function broker(options) {
  const b = await startBroker(options);
  started.push(b);
  return b;
}
after(async () => {
  for (const b of started) if (b.running) await b.stop().catch(() => {});
});

test('every confirmed send survives kill -9 (sync flush), offsets included', { timeout: 40000 }, async () => {
  const b = await broker({ set: { 'storage.flush': 'sync' } });
  const { topic } = await newTopic(b, 'TKill', 2);
  const group = uniqueName('CG_KILL');
  const sent = [];
  await R.withConnection(b.brokerAddr, async conn => {
    for (let i = 0; i < 200; i++) {
      const r = await raw.send(conn, { topic, queueId: i % 2, body: `m${i}` });
      sent.push({ queueId: i % 2, offset: Number(r.extFields.queueOffset), body: `m${i}` });
    }
    assert.equal((await raw.updateConsumerOffset(conn, group, topic, 0, 7)).code, 0);
  });
  await b.kill9();
  await b.restart();
  await R.withConnection(b.brokerAddr, async conn => {
    for (const q of [0, 1]) {
      const got = await raw.pullAll(conn, { topic, queueId: q });
      const want = sent.filter(s => s.queueId === q);
      assert.deepEqual(got.map(m => [m.queueOffset, m.body.toString()]), want.map(s => [s.offset, s.body]));
    }
    const off = await raw.queryConsumerOffset(conn, group, topic, 0);
    assert.equal(off.code, 0);
    assert.equal(Number(off.extFields.offset), 7);
  });
});

test('delayed messages survive a restart and arrive at their time; a 40-day delay is kept, not delivered', { timeout: 40000 }, async () => {
  const b = await broker();
  const { topic } = await newTopic(b, 'TDelayRestart', 1);
  let sentAt;
  await R.withConnection(b.brokerAddr, async conn => {
    sentAt = Date.now();
    await raw.send(conn, { topic, queueId: 0, body: 'soon', properties: { TIMER_DELAY_MS: '4000' } });
    await raw.send(conn, { topic, queueId: 0, body: 'in 40 days',
      properties: { TIMER_DELIVER_MS: String(Date.now() + 40 * 24 * 3600 * 1000) } });
    assert.equal(await raw.maxOffset(conn, topic, 0), 0, 'nothing delivered yet');
  });
  await b.stop();
  await b.restart();
  await R.withConnection(b.brokerAddr, async conn => {
    await waitFor(async () => (await raw.maxOffset(conn, topic, 0)) === 1, { timeoutMs: 10000, message: 'the 4 s message' });
    const [m] = await raw.pullAll(conn, { topic, queueId: 0 });
    const late = m.storeTimestamp - (sentAt + 4000);
    console.log(`# delayed 4000 ms across a restart: stored ${m.storeTimestamp - sentAt} ms after the send`);
    assert.equal(m.body.toString(), 'soon');
    assert.ok(late >= -50 && late <= 1000, `delivered within a second of its time (${late} ms)`);
    assert.equal(m.properties.TIMER_DELAY_MS, undefined, 'the delay property is removed');
    await sleep(500);
    assert.equal(await raw.maxOffset(conn, topic, 0), 1, 'the 40-day message waits');
  });
});

test('an ali-ons producer spreads sends over a topic served by two brokers', { timeout: 60000 }, async () => {
  const ns = await broker({ broker: false });
  const names = [uniqueName('ba'), uniqueName('bb')];
  const brokers = [];
  for (const brokerName of names)
    brokers.push(await broker({ namesrv: false, namesrvAddr: ns.namesrvAddr, brokerName }));
  const topic = uniqueName('TSpread');
  for (const b of brokers) await R.createTopic(b.brokerAddr, topic, 2);
  await R.waitForRoute(ns.namesrvAddr, topic, {
    timeoutMs: 10000, predicate: r => names.every(n => r.queueDatas.some(q => q.brokerName === n)),
  });
  const ons = new AliOns(ns.namesrvAddr, { name: 'spread' });
  try {
    const producer = await ons.producer();
    const byBroker = new Map();
    for (let i = 0; i < 40; i++) {
      const r = await producer.send(message(topic, 'T', Buffer.from(`s${i}`)));
      byBroker.set(r.messageQueue.brokerName, (byBroker.get(r.messageQueue.brokerName) || 0) + 1);
    }
    console.log(`# sends per broker: ${JSON.stringify([...byBroker])}`);
    for (const n of names) assert.ok(byBroker.get(n) > 0, `${n} got sends`);
    let stored = 0;
    for (const b of brokers)
      await R.withConnection(b.brokerAddr, async conn => {
        for (const q of [0, 1]) stored += await raw.maxOffset(conn, topic, q);
      });
    assert.equal(stored, 40, 'every send stored once');
  } finally {
    await ons.closeAll();
  }
});

test('the key index survives a restart: QUERY_MESSAGE finds a message sent before it', { timeout: 30000 }, async () => {
  const b = await broker();
  const { topic } = await newTopic(b, 'TQueryRestart', 1);
  const key = uniqueName('rk');
  let msgId;
  await R.withConnection(b.brokerAddr, async conn => {
    msgId = (await raw.send(conn, { topic, queueId: 0, body: 'indexed', properties: { KEYS: key } })).extFields.msgId;
  });
  await b.kill9();
  await b.restart();
  await R.withConnection(b.brokerAddr, async conn => {
    const r = await conn.request(R.RequestCode.QUERY_MESSAGE, {
      topic, key, maxNum: '32', beginTimestamp: '0', endTimestamp: String(Date.now() + 60000),
    });
    assert.equal(r.code, 0, r.remark);
    const [m] = R.decodeMessages(r.body);
    assert.equal(m.msgId, msgId);
    assert.equal(m.body.toString(), 'indexed');
  });
});

test('auto-create through TBW102: a send to an unknown topic creates it (min(d, 8) queues) and routes it', { timeout: 20000 }, async () => {
  const b = await broker();
  const topic = uniqueName('TAuto');
  await R.withConnection(b.brokerAddr, async conn => {
    const r = await raw.send(conn, { topic, queueId: 0, body: 'first', defaultTopicQueueNums: 3 });
    assert.equal(r.code, 0, r.remark);
  });
  const route = await R.waitForRoute(b.namesrvAddr, topic, { timeoutMs: 10000 });
  assert.equal(route.queueDatas[0].writeQueueNums, 3);
  const off = await startBroker({ set: { 'rocket.auto_create_topic': 'false' } });
  started.push(off);
  await R.withConnection(off.brokerAddr, async conn => {
    const r = await raw.send(conn, { topic: uniqueName('TNoAuto'), queueId: 0, body: 'x' }, { allowError: true });
    assert.equal(r.code, R.ResponseCode.TOPIC_NOT_EXIST);
  });
});
