'use strict';
// Retention (issue: messages older than the configured time are removed by storage, consumed or not; a pull below
// the new minimum is answered PULL_OFFSET_MOVED). A broker with 1 s retention, maintenance every 100 ms and 4 KiB
// commit-log segments (so old segments close and can go) — the production defaults are 72 h and 256 MiB.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startBroker } = require('./lib/broker');
const R = require('./lib/remoting');
const raw = require('./lib/raw');
const { newTopic } = require('./lib/fixtures');
const { waitFor, sleep } = require('./lib/util');

let broker;
before(async () => {
  broker = await startBroker({
    set: { 'storage.retention_hours': '1s', 'storage.maintain_interval_ms': '100', 'file.segment_bytes': '4096' },
  });
});
after(async () => { if (broker) await broker.stop(); });

test('old messages are removed by age, consumed or not; a pull below the minimum gets 21 with the new minimum', { timeout: 30000 }, async () => {
  const { topic } = await newTopic(broker, 'TRet', 1);
  await R.withConnection(broker.brokerAddr, async conn => {
    const body = Buffer.alloc(1000, 'r');
    for (let i = 0; i < 20; i++) await raw.send(conn, { topic, queueId: 0, body });
    assert.equal(await raw.minOffset(conn, topic, 0), 0, 'nothing is old yet');
    // Nobody consumed anything. After the retention time, maintenance removes the closed segments' records.
    await sleep(1500);
    for (let i = 0; i < 5; i++) await raw.send(conn, { topic, queueId: 0, body }); // rolls to fresh segments
    const min = await waitFor(async () => {
      const m = await raw.minOffset(conn, topic, 0);
      return m > 0 ? m : null;
    }, { timeoutMs: 10000, message: 'the minimum offset moving up' });
    assert.ok(min <= 20, `the recent messages stay (min ${min})`);
    const p = await raw.pull(conn, { topic, queueId: 0, queueOffset: 0 });
    assert.equal(p.code, R.ResponseCode.PULL_OFFSET_MOVED);
    assert.equal(p.nextBeginOffset, min);
    assert.equal(p.minOffset, min);
    const fresh = await raw.pull(conn, { topic, queueId: 0, queueOffset: min });
    assert.equal(fresh.code, R.ResponseCode.SUCCESS);
    assert.equal(fresh.messages[0].queueOffset, min);
  });
});
