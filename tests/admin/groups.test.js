'use strict';
// The admin API's consumer groups (docs/admin-api.md, "Consumer groups") against a real ferry-broker with ali-ons:
// members from the heartbeats, per-queue broker and consumer offsets and lag, and resetting a group's offsets to an
// offset or a time, which a restarted consumer of the group then follows.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const parsePrometheus = require('parse-prometheus-text-format');
const { startBroker } = require('../rocket/lib/broker');
const { AliOns, message } = require('../rocket/lib/alions');
const { newTopic, collector } = require('../rocket/lib/fixtures');
const { uniqueName, waitFor, sleep } = require('../rocket/lib/util');
const { adminClient } = require('./lib/api');

let broker;
let api;
let ons;
before(async () => {
  broker = await startBroker({ set: { 'auth.users': 'mon:monpw' } });
  api = adminClient(`http://${broker.listeners['admin.listen']}`);
  assert.equal((await api('PUT', '/api/v1/users/mon', { body: { password: 'monpw', tags: 'monitoring' } })).status, 204);
  ons = new AliOns(broker.namesrvAddr, { name: 'admin-groups' });
});
after(async () => {
  if (ons) await ons.closeAll();
  if (broker) await broker.stop();
});

const diag = () => `${ons.recentLog()}\n--- broker ---\n${broker.output()}`;

async function startConsumer(group, topic, got) {
  const consumer = ons.consumer({ consumerGroup: group, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
  consumer.subscribe(topic, '*', got.handler);
  await consumer.ready();
  return consumer;
}

test('a group: members, offsets and lag per queue; reset to an offset and to a time, followed by a restarted consumer', { timeout: 90000 }, async () => {
  const { topic } = await newTopic(broker, 'TGroups', 2);
  const group = uniqueName('CG_ADM');
  const producer = await ons.producer();
  const firstBatch = [];
  for (let i = 0; i < 6; i++) {
    const r = await producer.send(message(topic, 'A', `m${i}`));
    firstBatch.push(r);
  }
  let got = collector();
  let consumer = await startConsumer(group, topic, got);
  await got.waitForKeys(firstBatch.map((_, i) => `m${i}`), { describe: diag });

  // Members from the heartbeats; offsets once ali-ons persisted them (every second here).
  let g;
  await waitFor(async () => {
    const r = await api('GET', `/api/v1/consumer-groups/${group}`);
    g = r.body;
    return r.status === 200 && g.offsets.filter(o => o.topic === topic).every(o => o.consumer_offset === o.broker_offset && o.broker_offset > 0);
  }, { timeoutMs: 15000, message: () => `committed offsets for ${group}: ${JSON.stringify(g)}\n${diag()}` });
  assert.equal(g.group, group);
  assert.equal(g.protocol, 'rocket');
  assert.equal(g.model, 'CLUSTERING');
  assert.equal(g.members.length, 1);
  assert.equal(g.members[0].client_id, ons.clientIdOf(consumer));
  assert.match(g.members[0].address, /^127\.0\.0\.1:\d+$/);
  assert.ok(g.members[0].topics.includes(topic));
  const queues = g.offsets.filter(o => o.topic === topic);
  assert.deepEqual(queues.map(o => o.queue_id), [0, 1]);
  assert.equal(queues.reduce((n, o) => n + o.broker_offset, 0), 6, 'six messages over two queues');
  assert.ok(queues.every(o => o.lag === 0));
  let list = (await api('GET', '/api/v1/consumer-groups')).body;
  const summary = list.find(x => x.group === group);
  assert.equal(summary.members, 1);
  assert.equal(summary.lag, 0);
  assert.ok(summary.topics.includes(topic));

  // The consumer stops; two more messages make a lag of two, which /metrics shows too.
  await ons.close(consumer);
  await sleep(200);
  const cut = Date.now();
  await sleep(50);
  for (let i = 6; i < 8; i++) await producer.send(message(topic, 'A', `m${i}`));
  await waitFor(async () => (await api('GET', `/api/v1/consumer-groups/${group}`)).body.lag === 2, { message: 'lag 2' });
  g = (await api('GET', `/api/v1/consumer-groups/${group}`)).body;
  assert.equal(g.members.length, 0, 'no member after the consumer closed');
  const metrics = parsePrometheus((await api('GET', '/metrics')).text);
  const lag = metrics.find(f => f.name === 'ferry_consumer_group_lag');
  assert.ok(lag, 'ferry_consumer_group_lag is exported');
  const lagSum = lag.metrics.filter(m => m.labels.group === group).reduce((n, m) => n + Number(m.value), 0);
  assert.equal(lagSum, 2);

  // Reset by time: the offsets of the first message stored after `cut`, in each queue.
  let r = await api('POST', `/api/v1/consumer-groups/${group}/reset-offset`, { body: { topic, timestamp: cut } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.results.length, 2);
  assert.ok(r.body.results.every(x => x.ok));
  g = (await api('GET', `/api/v1/consumer-groups/${group}`)).body;
  assert.equal(g.lag, 2, 'from the cut on: the two later messages');

  // Reset queue 0 and 1 to offset 0: a restarted consumer of the group gets everything again.
  r = await api('POST', `/api/v1/consumer-groups/${group}/reset-offset`, { body: { topic, offset: 0 } });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.results.map(x => x.offset), [0, 0]);
  r = await api('POST', `/api/v1/consumer-groups/${group}/reset-offset`, { body: { topic, offset: 1e9, queue_id: 1 } });
  assert.equal(r.body.results[0].offset, g.offsets.find(o => o.topic === topic && o.queue_id === 1).broker_offset, 'clamped to the end');
  r = await api('POST', `/api/v1/consumer-groups/${group}/reset-offset`, { body: { topic, offset: 0, queue_id: 1 } });
  assert.equal(r.status, 200);
  got = collector();
  consumer = await startConsumer(group, topic, got);
  await got.waitForKeys([...Array(8).keys()].map(i => `m${i}`), { describe: diag });
  await ons.close(consumer);

  // Errors.
  r = await api('POST', `/api/v1/consumer-groups/${group}/reset-offset`, { body: { topic: 'NoSuchTopic', offset: 0 } });
  assert.equal(r.status, 404);
  r = await api('POST', `/api/v1/consumer-groups/${group}/reset-offset`, { body: { topic, offset: 0, timestamp: 1 } });
  assert.equal(r.status, 400, 'both');
  r = await api('POST', `/api/v1/consumer-groups/${group}/reset-offset`, { body: { topic } });
  assert.equal(r.status, 400, 'neither');
  r = await api('POST', `/api/v1/consumer-groups/${group}/reset-offset`, { body: { topic, offset: -1 } });
  assert.equal(r.status, 400);
  r = await api('POST', `/api/v1/consumer-groups/${group}/reset-offset`, { body: { topic, offset: 0, queue_id: 2 } });
  assert.equal(r.status, 400, 'queue_id out of range');
  r = await api('POST', `/api/v1/consumer-groups/${group}/reset-offset`, { body: { topic, offset: 0 }, user: 'mon', password: 'monpw' });
  assert.equal(r.status, 403);
  r = await api('GET', '/api/v1/consumer-groups/NoSuchGroup');
  assert.equal(r.status, 404);
  r = await api('GET', `/api/v1/consumer-groups/${group}`, { user: 'mon', password: 'monpw' });
  assert.equal(r.status, 200, 'monitoring reads groups');
});
