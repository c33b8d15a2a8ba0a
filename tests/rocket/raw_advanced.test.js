'use strict';
// Later-milestone features, with our raw client, following the fact sheet: transactions (half messages,
// END_TRANSACTION 37, CHECK_TRANSACTION_STATE 39), LOCK_BATCH_MQ 41 / UNLOCK_BATCH_MQ 42, VIEW_MESSAGE_BY_ID 33,
// QUERY_MESSAGE 12 and CONSUME_MESSAGE_DIRECTLY 309.
//
// A request the broker answers with 3 (REQUEST_CODE_NOT_SUPPORTED, §2.1) fails its test: nothing here is skipped.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { startBroker } = require('./lib/broker');
const R = require('./lib/remoting');
const raw = require('./lib/raw');
const { newTopic } = require('./lib/fixtures');
const { sleep, uniqueName, waitFor } = require('./lib/util');

const { RequestCode: C, ResponseCode: RC, MessageSysFlag: SF } = R;

let broker;

before(async () => {
  broker = await startBroker();
});

after(async () => {
  if (broker) await broker.stop();
});

async function onBroker(fn) { return R.withConnection(broker.brokerAddr, fn); }

// Sends a probe request; a broker answering 3 (not supported) fails the test.
// Resolves true when the test should go on.
async function supported(t, addr, code, extFields = {}, body = null) {
  const resp = await R.withConnection(addr, c => c.request(code, extFields, body));
  if (resp.code !== RC.REQUEST_CODE_NOT_SUPPORTED) return true;
  const why = `request code ${code} is not supported yet (${resp.remark || 'code 3'})`;
  assert.fail(why); // never a skip: an unsupported request is a failure
  return false;
}

// A ROLLBACK for a half message that does not exist: Apache answers 1; a broker without transactions answers 3.
const END_TX_PROBE = {
  producerGroup: 'PG_PROBE', tranStateTableOffset: '0', commitLogOffset: String(2 ** 40), commitOrRollback: '12',
  fromTransactionCheck: 'false', msgId: 'PROBE',
};

// A UNIQ_KEY shaped like the Java/cpp client's (§3): ip(4) pid(2) hash(4) ms-since-month(4) counter(2), hex.
function uniqKey() {
  return ('7F000001' + crypto.randomBytes(12).toString('hex')).toUpperCase();
}

// §2.2 half message (sysFlag PREPARED, TRAN_MSG=true, PGROUP) from a connection that heartbeated the producer group.
async function sendHalf(conn, { topic, queueId, producerGroup, body, key }) {
  const resp = await raw.send(conn, {
    producerGroup, topic, queueId, body, sysFlag: SF.TRANSACTION_PREPARED,
    properties: { TAGS: 'tx', TRAN_MSG: 'true', PGROUP: producerGroup, UNIQ_KEY: key, WAIT: 'true' },
  });
  return { msgId: resp.extFields.msgId, queueOffset: Number(resp.extFields.queueOffset), transactionId: resp.extFields.transactionId || key };
}

function endTransaction(conn, half, { producerGroup, topic, key, type, fromCheck = false, oneway = false }) {
  return conn.request(C.END_TRANSACTION, {
    topic,
    producerGroup,
    tranStateTableOffset: String(half.queueOffset),
    commitLogOffset: String(R.decodeMsgId(half.msgId).offset),
    commitOrRollback: String(type),
    fromTransactionCheck: String(fromCheck),
    msgId: key,
    transactionId: half.transactionId,
  }, null, { oneway });
}

test('transactions: a half message is invisible; COMMIT (oneway) delivers it, ROLLBACK drops it', { timeout: 30000 }, async t => {
  if (!await supported(t, broker.brokerAddr, C.END_TRANSACTION, END_TX_PROBE)) return;
  const { topic } = await newTopic(broker, 'TTx', 2);
  const producerGroup = uniqueName('PG_TX');
  await onBroker(async conn => {
    await raw.heartbeat(conn, { clientID: `127.0.0.1@${producerGroup}`, producerGroups: [producerGroup] });
    const q = 1;
    const start = await raw.maxOffset(conn, topic, q);

    const key1 = uniqKey();
    const half1 = await sendHalf(conn, { topic, queueId: q, producerGroup, body: 'commit me', key: key1 });
    assert.equal(R.decodeMsgId(half1.msgId).address, broker.brokerAddr);
    const key2 = uniqKey();
    const half2 = await sendHalf(conn, { topic, queueId: q, producerGroup, body: 'roll me back', key: key2 });
    await sleep(500);
    assert.equal(await raw.maxOffset(conn, topic, q), start, 'half messages are not in the real queue');

    // COMMIT, oneway as the Java client sends it: no reply, then the message shows up in the real topic/queue.
    assert.equal(await endTransaction(conn, half1, { producerGroup, topic, key: key1, type: 8, oneway: true }), null);
    await waitFor(async () => (await raw.maxOffset(conn, topic, q)) === start + 1, { timeoutMs: 5000, message: 'the committed message' });
    const [m] = await raw.pullAll(conn, { topic, queueId: q }, { from: start });
    assert.equal(m.body.toString(), 'commit me');
    assert.equal(m.topic, topic);
    assert.equal(m.queueId, q);
    assert.equal(m.sysFlag & 0xc, SF.TRANSACTION_COMMIT, 'sysFlag COMMIT');
    assert.equal(m.properties.UNIQ_KEY, key1);
    assert.equal(m.tags, 'tx');
    for (const p of ['TRAN_MSG', 'REAL_TOPIC', 'REAL_QID']) assert.equal(m.properties[p], undefined, `${p} dropped`);

    // ROLLBACK, answered: nothing is delivered.
    const rb = await endTransaction(conn, half2, { producerGroup, topic, key: key2, type: 12 });
    assert.equal(rb.code, 0, rb.remark);
    await sleep(1000);
    assert.equal(await raw.maxOffset(conn, topic, q), start + 1, 'the rolled-back message is never delivered');
  });
});

// The check-back needs short transaction timings. These keys mirror Apache's transactionTimeOut and
// transactionCheckInterval.
test('CHECK_TRANSACTION_STATE 39: an unresolved half message is checked back on the producer channel', { timeout: 45000 }, async t => {
  if (!await supported(t, broker.brokerAddr, C.END_TRANSACTION, END_TX_PROBE)) return;
  let txBroker;
  try {
    txBroker = await startBroker({ set: { 'rocket.transaction_timeout_ms': '1000', 'rocket.transaction_check_interval_ms': '1000' } });
  } catch (err) {
    if (/transaction_(timeout|check_interval)_ms/.test(err.stderr || err.message)) {
      assert.fail('rocket.transaction_timeout_ms / rocket.transaction_check_interval_ms are not accepted');
      return;
    }
    throw err;
  }
  try {
    const { topic } = await newTopic(txBroker, 'TTxChk', 1);
    const producerGroup = uniqueName('PG_CHK');
    await R.withConnection(txBroker.brokerAddr, async conn => {
      await raw.heartbeat(conn, { clientID: `127.0.0.1@${producerGroup}`, producerGroups: [producerGroup] });
      const key = uniqKey();
      const half = await sendHalf(conn, { topic, queueId: 0, producerGroup, body: 'check me', key });
      const check = await conn.waitForRequest(c => c.code === C.CHECK_TRANSACTION_STATE, 20000);
      assert.equal(check.flag & R.FLAG_RESPONSE, 0);
      assert.equal(Number(check.extFields.commitLogOffset), R.decodeMsgId(half.msgId).offset);
      assert.equal(Number(check.extFields.tranStateTableOffset), half.queueOffset);
      assert.equal(check.extFields.msgId, key);
      const [hm] = R.decodeMessages(check.body);
      assert.equal(hm.body.toString(), 'check me');
      assert.equal(hm.properties.PGROUP, producerGroup);
      assert.equal(hm.properties.TRAN_MSG, 'true');
      assert.equal(hm.properties.REAL_TOPIC || hm.topic, topic);
      // answer the check: COMMIT
      await endTransaction(conn, half, { producerGroup, topic, key, type: 8, fromCheck: true, oneway: true });
      await waitFor(async () => (await raw.maxOffset(conn, topic, 0)) === 1, { timeoutMs: 5000, message: 'the checked-back commit' });
      const [m] = await raw.pullAll(conn, { topic, queueId: 0 });
      assert.equal(m.body.toString(), 'check me');
    });
  } finally {
    await txBroker.stop();
  }
});

test('transactions are restart-safe: unresolved halves stay invisible, then commit and roll back after a restart', { timeout: 40000 }, async () => {
  const b = await startBroker({ set: { 'rocket.transaction_timeout_ms': '1000', 'rocket.transaction_check_interval_ms': '500' } });
  try {
    const { topic } = await newTopic(b, 'TTxRestart', 1);
    const producerGroup = uniqueName('PG_TXR');
    const halves = [];
    await R.withConnection(b.brokerAddr, async conn => {
      for (const body of ['commit after restart', 'roll back after restart']) {
        const key = uniqKey();
        halves.push({ key, body, half: await sendHalf(conn, { topic, queueId: 0, producerGroup, body, key }) });
      }
    });
    await b.kill9();
    await b.restart();
    await R.withConnection(b.brokerAddr, async conn => {
      assert.equal(await raw.maxOffset(conn, topic, 0), 0, 'still invisible after the restart');
      // A producer of the group reconnects: the restored halves are checked back on its connection.
      await raw.heartbeat(conn, { clientID: `127.0.0.1@${producerGroup}`, producerGroups: [producerGroup] });
      const check = await conn.waitForRequest(c => c.code === C.CHECK_TRANSACTION_STATE, 15000);
      assert.ok(halves.some(h => h.key === check.extFields.msgId), 'the check names a restored half');
      const [commit, rollback] = halves;
      assert.equal((await endTransaction(conn, commit.half, { producerGroup, topic, key: commit.key, type: 8 })).code, 0);
      assert.equal((await endTransaction(conn, rollback.half, { producerGroup, topic, key: rollback.key, type: 12 })).code, 0);
      await waitFor(async () => (await raw.maxOffset(conn, topic, 0)) === 1, { timeoutMs: 5000, message: 'the commit' });
      const got = await raw.pullAll(conn, { topic, queueId: 0 });
      assert.deepEqual(got.map(m => m.body.toString()), ['commit after restart']);
      // resolved once: a second COMMIT of the same half is refused
      const again = await endTransaction(conn, commit.half, { producerGroup, topic, key: commit.key, type: 8 });
      assert.notEqual(again.code, 0);
    });
  } finally {
    await b.stop();
  }
});

test('a half message unanswered after transaction_check_max checks is parked in TRANS_CHECK_MAX_TIME_TOPIC', { timeout: 30000 }, async () => {
  const b = await startBroker({ set: {
    'rocket.transaction_timeout_ms': '300', 'rocket.transaction_check_interval_ms': '300', 'rocket.transaction_check_max': '2',
  } });
  try {
    const { topic } = await newTopic(b, 'TTxPark', 1);
    const producerGroup = uniqueName('PG_PARK');
    await R.withConnection(b.brokerAddr, async conn => {
      await raw.heartbeat(conn, { clientID: `127.0.0.1@${producerGroup}`, producerGroups: [producerGroup] });
      const key = uniqKey();
      await sendHalf(conn, { topic, queueId: 0, producerGroup, body: 'never answered', key });
      let checks = 0;
      conn.on('request', c => { if (c.code === C.CHECK_TRANSACTION_STATE && c.extFields.msgId === key) checks++; });
      const parked = 'TRANS_CHECK_MAX_TIME_TOPIC';
      await waitFor(async () => (await raw.maxOffset(conn, parked, 0)) === 1, { timeoutMs: 15000, message: 'the parked half' });
      assert.equal(checks, 2, 'checked exactly transaction_check_max times');
      const [m] = await raw.pullAll(conn, { topic: parked, queueId: 0 });
      assert.equal(m.body.toString(), 'never answered');
      assert.equal(await raw.maxOffset(conn, topic, 0), 0, 'never delivered to its topic');
    });
  } finally {
    await b.stop();
  }
});

test('LOCK_BATCH_MQ 41 / UNLOCK_BATCH_MQ 42: a queue is locked by one client at a time', { timeout: 20000 }, async t => {
  const probe = Buffer.from(JSON.stringify({ consumerGroup: 'CG_PROBE', clientId: 'probe', onlyThisBroker: false, mqSet: [] }));
  if (!await supported(t, broker.brokerAddr, C.LOCK_BATCH_MQ, {}, probe)) return;
  if (!await supported(t, broker.brokerAddr, C.UNLOCK_BATCH_MQ, {}, probe)) return;
  const { topic, brokerName } = await newTopic(broker, 'TLock', 4);
  const group = uniqueName('CG_LOCK');
  const mq = queueId => ({ topic, brokerName, queueId });
  const lock = async (conn, clientId, ids) => {
    const r = await conn.request(C.LOCK_BATCH_MQ, {}, Buffer.from(JSON.stringify({
      consumerGroup: group, clientId, onlyThisBroker: false, mqSet: ids.map(mq),
    })));
    assert.equal(r.code, 0, r.remark);
    return JSON.parse(r.body.toString()).lockOKMQSet.map(x => x.queueId).sort((a, b) => a - b);
  };
  const unlock = async (conn, clientId, ids) => {
    const r = await conn.request(C.UNLOCK_BATCH_MQ, {}, Buffer.from(JSON.stringify({
      consumerGroup: group, clientId, onlyThisBroker: false, mqSet: ids.map(mq),
    })));
    assert.equal(r.code, 0, r.remark);
  };
  const a = await R.connect(broker.brokerAddr);
  const b = await R.connect(broker.brokerAddr);
  try {
    const A = `127.0.0.1@${group}_A`;
    const B = `127.0.0.1@${group}_B`;
    for (const [conn, id] of [[a, A], [b, B]]) await raw.heartbeat(conn, { clientID: id, group, topics: [topic] });
    assert.deepEqual(await lock(a, A, [0, 1]), [0, 1], 'free queues');
    assert.deepEqual(await lock(b, B, [1, 2]), [2], 'queue 1 is held by A');
    assert.deepEqual(await lock(a, A, [0, 1]), [0, 1], 'relocking its own queues');
    await unlock(a, A, [1]);
    assert.deepEqual(await lock(b, B, [1]), [1], 'released by A');
    assert.deepEqual(await lock(a, A, [1, 2, 3]), [3]);
  } finally {
    await a.close();
    await b.close();
  }
});

test('VIEW_MESSAGE_BY_ID 33 at the address inside the msgId', { timeout: 15000 }, async t => {
  if (!await supported(t, broker.brokerAddr, C.VIEW_MESSAGE_BY_ID, { offset: String(2 ** 40) })) return;
  const { topic } = await newTopic(broker, 'TView', 1);
  await onBroker(async conn => {
    const r = await raw.send(conn, { topic, queueId: 0, body: 'view me', properties: { TAGS: 'v', KEYS: 'vk' } });
    const id = R.decodeMsgId(r.extFields.msgId);
    await R.withConnection(id.address, async viewer => {
      const v = await viewer.request(C.VIEW_MESSAGE_BY_ID, { topic, offset: String(id.offset) });
      assert.equal(v.code, 0, v.remark);
      const [m] = R.decodeMessages(v.body);
      assert.equal(m.msgId, r.extFields.msgId);
      assert.equal(m.body.toString(), 'view me');
      assert.equal(m.topic, topic);
      assert.equal(m.queueOffset, Number(r.extFields.queueOffset));
      assert.equal(m.keys, 'vk');
      const missing = await viewer.request(C.VIEW_MESSAGE_BY_ID, { topic, offset: String(2 ** 40) });
      assert.equal(missing.code, RC.SYSTEM_ERROR);
    });
  });
});

test('QUERY_MESSAGE 12 by key and by UNIQ_KEY', { timeout: 20000 }, async t => {
  const probe = { topic: 'TProbe', key: 'probe', maxNum: '32', beginTimestamp: '0', endTimestamp: String(Date.now()) };
  if (!await supported(t, broker.brokerAddr, C.QUERY_MESSAGE, probe)) return;
  const { topic } = await newTopic(broker, 'TQuery', 2);
  await onBroker(async conn => {
    const key = uniqKey();
    const k1 = uniqueName('qk');
    const k2 = uniqueName('qk');
    const r = await raw.send(conn, { topic, queueId: 1, body: 'find me', properties: { KEYS: `${k1} ${k2}`, UNIQ_KEY: key } });
    const query = (k, extra = {}) => conn.request(C.QUERY_MESSAGE, {
      topic, key: k, maxNum: '32', beginTimestamp: '0', endTimestamp: String(Date.now() + 3600000), ...extra,
    });
    for (const [k, extra] of [[k1, {}], [k2, {}], [key, { _UNIQUE_KEY_QUERY: 'true' }]]) {
      // the index may be built asynchronously
      const found = await waitFor(async () => {
        const q = await query(k, extra);
        return q.code === 0 ? q : null;
      }, { timeoutMs: 5000, message: `QUERY_MESSAGE ${k}` });
      assert.ok(found.extFields.indexLastUpdateTimestamp !== undefined, 'indexLastUpdateTimestamp');
      assert.ok(found.extFields.indexLastUpdatePhyoffset !== undefined, 'indexLastUpdatePhyoffset');
      const msgs = R.decodeMessages(found.body);
      assert.ok(msgs.some(m => m.msgId === r.extFields.msgId && m.body.toString() === 'find me'), `found by ${k}`);
    }
    const none = await query(uniqueName('nokey'));
    assert.equal(none.code, RC.QUERY_NOT_FOUND);
  });
});

test('CONSUME_MESSAGE_DIRECTLY 309: forwarded to the named client, its answer relayed', { timeout: 20000 }, async t => {
  const probe = { consumerGroup: 'CG_PROBE', clientId: 'nobody', msgId: '7F00000100002A9F0000010000000000', topic: 'TProbe' };
  if (!await supported(t, broker.brokerAddr, C.CONSUME_MESSAGE_DIRECTLY, probe)) return;
  const { topic, brokerName } = await newTopic(broker, 'TDirect', 1);
  const group = uniqueName('CG_DIRECT');
  const clientId = `127.0.0.1@${group}`;
  const consumer = await R.connect(broker.brokerAddr);
  try {
    await raw.heartbeat(consumer, { clientID: clientId, group, topics: [topic] });
    consumer.on('request', async req => {
      if (req.code !== C.CONSUME_MESSAGE_DIRECTLY) return;
      const [m] = R.decodeMessages(req.body);
      await consumer.respond(req, 0, {}, Buffer.from(JSON.stringify({
        order: false, autoCommit: true, consumeResult: 'CR_SUCCESS', remark: `consumed ${m.body}`, spentTimeMills: 1,
      })));
    });
    await onBroker(async admin => {
      const sent = await raw.send(admin, { topic, queueId: 0, body: 'direct' });
      const r = await admin.request(C.CONSUME_MESSAGE_DIRECTLY, {
        consumerGroup: group, clientId, msgId: sent.extFields.msgId, brokerName, topic, topicSysFlag: '0', groupSysFlag: '0',
      });
      assert.equal(r.code, 0, r.remark);
      const result = JSON.parse(r.body.toString());
      assert.equal(result.consumeResult, 'CR_SUCCESS');
      assert.equal(result.remark, 'consumed direct');
      const req = consumer.serverRequests.find(x => x.code === C.CONSUME_MESSAGE_DIRECTLY);
      assert.ok(req, 'the client got the request');
      assert.equal(req.extFields.msgId, sent.extFields.msgId);
      assert.equal(R.decodeMessages(req.body)[0].msgId, sent.extFields.msgId);

      const offline = await admin.request(C.CONSUME_MESSAGE_DIRECTLY, {
        consumerGroup: group, clientId: `${clientId}_offline`, msgId: sent.extFields.msgId, brokerName, topic,
      });
      assert.notEqual(offline.code, 0, 'an unknown client is an error');
    });
  } finally {
    await consumer.close();
  }
});
