'use strict';
// ali-ons delayed messages (delayTimeLevel) and consume retries ending in the dead-letter queue %DLQ%<group>.
// Each test starts its own broker (the retry test needs short delay levels).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { startBroker } = require('./lib/broker');
const { AliOns, message } = require('./lib/alions');
const R = require('./lib/remoting');
const raw = require('./lib/raw');
const { newTopic, collector } = require('./lib/fixtures');
const { sleep, uniqueName, waitFor } = require('./lib/util');

async function withBrokerAndOns(brokerOptions, name, fn) {
  const broker = await startBroker(brokerOptions);
  const ons = new AliOns(broker.namesrvAddr, { name });
  const diag = () => `${ons.recentLog()}\n--- broker ---\n${broker.output()}`;
  try {
    await fn({ broker, ons, diag });
  } finally {
    await ons.closeAll();
    await broker.stop();
  }
}

test('delayTimeLevel 2 (5 s with the default levels) is delivered about 5 s after the send', { timeout: 50000 }, async () => {
  await withBrokerAndOns({}, 'delay', async ({ broker, ons, diag }) => {
    const { topic } = await newTopic(broker, 'TDelay', 2);
    const producer = await ons.producer();
    const got = collector();
    const arrivals = new Map();
    const consumer = ons.consumer({ consumerGroup: uniqueName('CG_DELAY'), consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
    consumer.subscribe(topic, '*', async msg => {
      arrivals.set(msg.body.toString(), Date.now());
      await got.handler(msg);
    });
    await consumer.ready();
    // Warm up: the consumer pulls every queue before the measured send.
    await producer.send(message(topic, 'W', 'warm-up'));
    await got.waitForKeys(['warm-up'], { describe: diag });
    await ons.waitForAssignment(consumer, topic, q => q.length === 2);

    const LEVEL = 2;
    const EXPECTED_MS = 5000; // "1s 5s 10s ..." level 2
    const t0 = Date.now();
    const r = await producer.send(message(topic, 'D', 'delayed', { delayTimeLevel: LEVEL }));
    assert.equal(r.sendStatus, 'SEND_OK');
    await got.waitForKeys(['delayed'], { timeoutMs: 20000, describe: diag });
    const delay = arrivals.get('delayed') - t0;
    const m = got.msgs.find(x => x.body.toString() === 'delayed');
    console.log(`delay level ${LEVEL}: measured send->consume ${delay} ms (expected ${EXPECTED_MS} ms); ` +
      `stored ${m.storeTimestamp - m.bornTimestamp} ms after birth`);
    assert.ok(delay >= EXPECTED_MS - 100, `delivered too early: ${delay} ms`);
    assert.ok(delay <= EXPECTED_MS + 1500, `delivered too late: ${delay} ms`);
    assert.equal(m.topic, topic, 'delivered to the real topic');
    assert.equal(m.queueId, Number(r.messageQueue.queueId), 'to the queue it was sent to');
    assert.equal(m.tags, 'D');
    assert.equal(m.properties.DELAY, undefined, 'DELAY is cleared on delivery');
  });
});

test('a failing handler gets the message again with growing reconsumeTimes, then it lands in %DLQ%<group>', { timeout: 55000 }, async () => {
  const oneSecondLevels = Array(18).fill('1s').join(' ');
  await withBrokerAndOns({ set: { 'rocket.delay_levels': oneSecondLevels } }, 'retry', async ({ broker, ons, diag }) => {
    const { topic } = await newTopic(broker, 'TRetry', 2);
    const group = uniqueName('CG_RETRY');
    const MAX = 2; // ali-ons sends it as CONSUMER_SEND_MSG_BACK maxReconsumeTimes (honoured for version >= V3_4_9)
    const deliveries = [];
    const consumer = ons.consumer({
      consumerGroup: group,
      consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
      maxReconsumeTimes: MAX,
    });
    consumer.subscribe(topic, '*', async msg => {
      deliveries.push({
        reconsumeTimes: msg.reconsumeTimes, topic: msg.topic, body: msg.body.toString(), msgId: msg.msgId,
        retryTopic: msg.retryTopic, at: Date.now(),
      });
      throw new Error('this handler always fails');
    });
    await consumer.ready();
    const producer = await ons.producer();
    const body = `retry-me-${Date.now()}`;
    const sent = await producer.send(message(topic, 'R', body));

    // Delivered with reconsumeTimes 0, 1, ..., MAX; the send-back after the last one goes to the DLQ.
    await waitFor(() => deliveries.length >= MAX + 1, {
      timeoutMs: 40000,
      message: () => `${MAX + 1} deliveries (got ${JSON.stringify(deliveries.map(d => d.reconsumeTimes))})\n${diag()}`,
    });
    const dlq = `%DLQ%${group}`;
    await R.withConnection(broker.brokerAddr, async conn => {
      await waitFor(async () => (await raw.maxOffset(conn, dlq, 0)) >= 1, {
        timeoutMs: 10000, message: () => `a message in ${dlq}\n${diag()}`,
      });
      await sleep(2500); // a further redelivery would come within ~1 s (1 s levels)
      assert.deepEqual(deliveries.map(d => d.reconsumeTimes), [...Array(MAX + 1).keys()]);
      for (const d of deliveries) {
        assert.equal(d.body, body);
        assert.equal(d.topic, topic, 'ali-ons restores the original topic from RETRY_TOPIC');
      }
      for (const d of deliveries.slice(1)) assert.equal(d.retryTopic, topic, 'retries carry RETRY_TOPIC');
      assert.equal(await raw.maxOffset(conn, dlq, 0), 1, 'one dead letter');

      // Read it with PULL_MESSAGE. Apache creates the DLQ without PERM_READ: an admin grants it (updateTopic -p 6).
      const pullDlq = () => raw.pull(conn, {
        consumerGroup: group, topic: dlq, queueId: 0, queueOffset: 0, maxMsgNums: 32, sysFlag: raw.PullSysFlag.SUBSCRIPTION, commitOffset: 0,
        suspendTimeoutMillis: 0, subVersion: 0,
      });
      let p = await pullDlq();
      if (p.code === R.ResponseCode.NO_PERMISSION) {
        await R.createTopic(broker.brokerAddr, dlq, 1, { perm: 6 });
        p = await pullDlq();
      }
      assert.equal(p.code, 0, `pull ${dlq}: ${p.remark}`);
      assert.equal(p.messages.length, 1);
      const m = p.messages[0];
      assert.equal(m.topic, dlq);
      assert.equal(m.body.toString(), body);
      assert.equal(m.properties.RETRY_TOPIC, topic, 'RETRY_TOPIC = the original topic');
      assert.equal(m.properties.ORIGIN_MESSAGE_ID, sent.msgId, 'ORIGIN_MESSAGE_ID = the first msgId');
      assert.equal(m.reconsumeTimes, deliveries[deliveries.length - 1].reconsumeTimes + 1, 'reconsumeTimes + 1');
      assert.equal(m.tags, 'R', 'tags kept');
    });
  });
});
