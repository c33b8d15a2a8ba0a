'use strict';
// The remoting protocol with our own raw client (lib/remoting.js): what ali-ons never sends (binary headers, oneway
// flags, V1 sends, batches, malformed frames, admin codes), the exact PULL status table, long polling, consumer
// offsets, heartbeats and membership notifications, and a two-broker cluster with broker expiry.
// Expectations follow ../../shared/protocols/rocketmq-remoting.md (section numbers in the comments).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startBroker } = require('./lib/broker');
const R = require('./lib/remoting');
const raw = require('./lib/raw');
const { newTopic } = require('./lib/fixtures');
const { sleep, uniqueName, waitFor } = require('./lib/util');

const { RequestCode: C, ResponseCode: RC, PullSysFlag: PF } = R;

let broker;

before(async () => {
  broker = await startBroker();
});

after(async () => {
  if (broker) {
    const r = await broker.stop();
    assert.deepEqual(r, { code: 0, signal: null }, `SIGTERM stops it with exit code 0\n${broker.output()}`);
  }
});

async function onBroker(fn) { return R.withConnection(broker.brokerAddr, fn); }
async function onNamesrv(fn) { return R.withConnection(broker.namesrvAddr, fn); }

function assertJsonReply(resp, what) {
  assert.equal(resp.serializeType, 0, `${what}: replies use JSON headers (type byte 0)`);
  assert.ok(resp.flag & R.FLAG_RESPONSE, `${what}: RESPONSE flag set`);
}

// §1 ---------------------------------------------------------------------------------------------------------------

test('binary (ROCKETMQ) request headers are understood and answered in JSON', { timeout: 30000 }, async () => {
  const { topic } = await newTopic(broker, 'TBin', 2);
  await onNamesrv(async ns => {
    const resp = await ns.request(C.GET_ROUTEINFO_BY_TOPIC, { topic }, null, { binaryHeader: true });
    assertJsonReply(resp, '105');
    assert.equal(resp.code, RC.SUCCESS, resp.remark);
    const route = JSON.parse(resp.body.toString());
    assert.equal(route.brokerDatas[0].brokerAddrs['0'], broker.brokerAddr);
    const missing = await ns.request(C.GET_ROUTEINFO_BY_TOPIC, { topic: `${topic}_nope` }, null, { binaryHeader: true });
    assertJsonReply(missing, '105 unknown');
    assert.equal(missing.code, RC.TOPIC_NOT_EXIST);
  });
  await onBroker(async conn => {
    const body = Buffer.from('sent with a binary header');
    const sent = await conn.request(C.SEND_MESSAGE_V2, raw.sendHeaderV2({ topic, queueId: 1, properties: { TAGS: 'bin' } }),
      body, { binaryHeader: true, language: 'CPP', version: 333 });
    assertJsonReply(sent, '310');
    assert.equal(sent.code, RC.SUCCESS, sent.remark);
    assert.equal(sent.extFields.queueId, '1');
    const max = await conn.request(C.GET_MAX_OFFSET, { topic, queueId: '1' }, null, { binaryHeader: true });
    assertJsonReply(max, '30');
    assert.equal(Number(max.extFields.offset), Number(sent.extFields.queueOffset) + 1);
    const p = await raw.pull(conn, { topic, queueId: 1, queueOffset: sent.extFields.queueOffset, maxMsgNums: 1 });
    assert.equal(p.code, 0);
    assert.ok(p.messages[0].body.equals(body));
    assert.equal(p.messages[0].tags, 'bin');
  });
});

test('frames glued together in one write and split across writes', { timeout: 20000 }, async () => {
  const { topic } = await newTopic(broker, 'TGlue', 3);
  await onBroker(async conn => {
    // three requests in one write: three answers, matched by opaque
    const frames = [0, 1, 2].map(q => R.encodeFrame({ code: C.GET_MAX_OFFSET, opaque: 900000 + q, extFields: { topic, queueId: String(q) } }));
    const answers = [];
    conn.on('strayResponse', r => answers.push(r));
    await conn.rawWrite(Buffer.concat(frames));
    await waitFor(() => answers.length === 3, { timeoutMs: 5000, message: 'three answers to three glued requests' });
    assert.deepEqual(answers.map(a => a.opaque).sort(), [900000, 900001, 900002]);
    for (const a of answers) assert.equal(a.code, 0);
    // one request trickled a few bytes at a time
    const f = R.encodeFrame({ code: C.GET_MAX_OFFSET, opaque: 900010, extFields: { topic, queueId: '0' } });
    for (let i = 0; i < f.length; i += 7) {
      await conn.rawWrite(f.subarray(i, i + 7));
      await sleep(5);
    }
    await waitFor(() => answers.length === 4, { timeoutMs: 5000, message: 'an answer to a split request' });
    assert.equal(answers[3].opaque, 900010);
    assert.equal(answers[3].code, 0);
  });
});

test('an unknown request code gets 3 with the code in the remark (broker and name server)', { timeout: 15000 }, async () => {
  for (const addr of [broker.brokerAddr, broker.namesrvAddr]) {
    await R.withConnection(addr, async conn => {
      for (const binaryHeader of [false, true]) {
        const r = await conn.request(9999, { whatever: 'x' }, Buffer.from('ignored'), { binaryHeader });
        assertJsonReply(r, '9999');
        assert.equal(r.code, RC.REQUEST_CODE_NOT_SUPPORTED, `${addr}`);
        assert.match(String(r.remark), /9999/);
      }
      // and the connection keeps working
      const ok = await conn.request(9998, {});
      assert.equal(ok.code, RC.REQUEST_CODE_NOT_SUPPORTED);
    });
  }
});

test('malformed frames close that connection only', { timeout: 45000 }, async () => {
  const frameWithHeader = (headerBytes, { type = 0, declaredHeaderLen = null, extra = Buffer.alloc(0) } = {}) => {
    const h = Buffer.from(headerBytes);
    const b = Buffer.alloc(8);
    b.writeInt32BE(4 + h.length + extra.length, 0);
    b.writeUInt32BE(((type << 24) | ((declaredHeaderLen ?? h.length) & 0xffffff)) >>> 0, 4);
    return Buffer.concat([b, h, extra]);
  };
  const int32 = v => { const b = Buffer.alloc(4); b.writeInt32BE(v, 0); return b; };
  const cases = {
    'length < 4': Buffer.concat([int32(2), Buffer.from([0, 0])]),
    'negative length': Buffer.concat([int32(-5), Buffer.alloc(8)]),
    'header length > frame': frameWithHeader('{"code":105}', { declaredHeaderLen: 5000 }),
    'header not JSON': frameWithHeader('this is not json at all'),
    'JSON header not an object (array)': frameWithHeader('[1,2,3]'),
    'JSON header not an object (number)': frameWithHeader('42'),
    'unknown serialize type': frameWithHeader('{"code":105,"opaque":1,"flag":0}', { type: 7 }),
    'declared length > 16 MiB': Buffer.concat([int32(17 * 1024 * 1024), Buffer.alloc(64)]),
  };
  const keepers = [await R.connect(broker.brokerAddr), await R.connect(broker.namesrvAddr)];
  try {
    const { topic } = await newTopic(broker, 'TBad', 1);
    for (const [name, bytes] of Object.entries(cases)) {
      for (const addr of [broker.brokerAddr, broker.namesrvAddr]) {
        const bad = await R.connect(addr);
        try {
          await bad.rawWrite(bytes).catch(() => {});
          assert.equal(await bad.waitForClose(5000), true, `${name} on ${addr}: the server closes the connection`);
        } finally {
          await bad.close();
        }
        // The other connections keep working.
        const r1 = await keepers[0].request(C.GET_MAX_OFFSET, { topic, queueId: '0' });
        assert.equal(r1.code, 0, `broker after "${name}"`);
        const r2 = await keepers[1].request(C.GET_ROUTEINFO_BY_TOPIC, { topic });
        assert.equal(r2.code, 0, `name server after "${name}"`);
      }
    }
    assert.ok(broker.running, 'the broker is still running');
  } finally {
    for (const k of keepers) await k.close();
  }
});

// §2.4 -------------------------------------------------------------------------------------------------------------

test('GET_ROUTEINFO_BY_TOPIC: standard JSON route with the created queues; unknown topic is 17', { timeout: 15000 }, async () => {
  const { topic } = await newTopic(broker, 'TRoute', 3);
  await onNamesrv(async ns => {
    const r = await ns.request(C.GET_ROUTEINFO_BY_TOPIC, { topic });
    assertJsonReply(r, '105');
    assert.equal(r.code, 0);
    const route = JSON.parse(r.body.toString('utf8')); // standard JSON: quoted "0" keys
    assert.equal(route.queueDatas.length, 1);
    assert.equal(route.queueDatas[0].readQueueNums, 3);
    assert.equal(route.queueDatas[0].writeQueueNums, 3);
    assert.equal(route.queueDatas[0].perm, 6);
    assert.equal(route.brokerDatas.length, 1);
    assert.equal(route.brokerDatas[0].brokerName, route.queueDatas[0].brokerName);
    assert.equal(route.brokerDatas[0].brokerName, 'broker-a', 'default rocket.broker_name');
    assert.equal(route.brokerDatas[0].cluster, 'DefaultCluster', 'default rocket.cluster_name');
    assert.deepEqual(route.brokerDatas[0].brokerAddrs, { 0: broker.brokerAddr });
    const missing = `${topic}_missing`;
    const m = await ns.request(C.GET_ROUTEINFO_BY_TOPIC, { topic: missing });
    assert.equal(m.code, RC.TOPIC_NOT_EXIST);
    assert.match(String(m.remark), new RegExp(missing));
  });
});

// §2.2 -------------------------------------------------------------------------------------------------------------

test('SEND_MESSAGE 10 (V1 names) and SEND_MESSAGE_V2 310: the queueId is honoured; stored fields', { timeout: 20000 }, async () => {
  const QUEUES = 4;
  const { topic } = await newTopic(broker, 'TSend', QUEUES);
  await onBroker(async conn => {
    const q = 2;
    const start = await raw.maxOffset(conn, topic, q);
    const born = Date.now() - 1234;
    const props = { TAGS: 'T1', KEYS: 'k1 k2', custom: 'välue' };
    const bodies = [Buffer.from('v1 body'), Buffer.from('v2 body')];
    const t0 = Date.now();
    const r1 = await raw.send(conn, { topic, queueId: q, body: bodies[0], properties: props, flag: 7, bornTimestamp: born },
      { code: C.SEND_MESSAGE });
    const r2 = await raw.send(conn, { topic, queueId: q, body: bodies[1], properties: props, flag: 7, bornTimestamp: born });
    const t1 = Date.now();
    for (const [i, r] of [r1, r2].entries()) {
      assertJsonReply(r, 'send');
      assert.equal(r.extFields.queueId, String(q));
      assert.equal(Number(r.extFields.queueOffset), start + i);
      assert.equal(R.decodeMsgId(r.extFields.msgId).address, broker.brokerAddr);
    }
    // Numbers and booleans in extFields (ali-ons/cpp style) are accepted.
    const r3 = await conn.request(C.SEND_MESSAGE_V2, {
      a: 'PG_RAW', b: topic, c: 'TBW102', d: 4, e: 1, f: 0, g: Date.now(), h: 0, i: R.encodeProperties({ TAGS: 'num' }),
      j: 0, k: false, m: false,
    }, Buffer.from('numbers'));
    assert.equal(r3.code, 0, r3.remark);
    assert.equal(r3.extFields.queueId, '1');
    // queueId < 0: the broker picks one.
    const r4 = await raw.send(conn, { topic, queueId: -1, body: 'any queue' });
    assert.ok(Number(r4.extFields.queueId) >= 0 && Number(r4.extFields.queueId) < QUEUES);

    const msgs = await raw.pullAll(conn, { topic, queueId: q }, { from: start });
    assert.equal(msgs.length, 2);
    for (const [i, m] of msgs.entries()) {
      const r = [r1, r2][i];
      assert.equal(m.topic, topic);
      assert.equal(m.queueId, q);
      assert.equal(m.queueOffset, start + i);
      assert.equal(m.msgId, r.extFields.msgId);
      assert.equal(m.commitLogOffset, R.decodeMsgId(r.extFields.msgId).offset);
      assert.ok(m.body.equals(bodies[i]));
      assert.equal(m.bodyCRC, R.bodyCrc(bodies[i]));
      assert.equal(m.flag, 7);
      assert.equal(m.bornTimestamp, born);
      assert.ok(m.storeTimestamp >= t0 - 5 && m.storeTimestamp <= t1 + 5, `storeTimestamp ${m.storeTimestamp} in [${t0}, ${t1}]`);
      assert.equal(m.storeHost, broker.brokerAddr);
      assert.match(m.bornHost, /^127\.0\.0\.1:\d+$/);
      assert.equal(m.reconsumeTimes, 0);
      assert.equal(m.sysFlag, 0);
      assert.equal(m.tags, 'T1');
      assert.equal(m.keys, 'k1 k2');
      assert.equal(m.properties.custom, 'välue');
      assert.equal(m.magic, R.MAGIC_V1, 'v1 magic (1-byte topic length) for short topics');
    }
  });
});

test('a oneway send (flag 2) gets no reply and is stored', { timeout: 20000 }, async () => {
  const { topic } = await newTopic(broker, 'TOneway', 1);
  await onBroker(async conn => {
    const start = await raw.maxOffset(conn, topic, 0);
    const OPAQUE = 777001;
    await raw.send(conn, { topic, queueId: 0, body: 'oneway body' }, { oneway: true, opaque: OPAQUE });
    await waitFor(async () => (await raw.maxOffset(conn, topic, 0)) === start + 1, { timeoutMs: 5000, message: 'the oneway message stored' });
    await sleep(1000);
    assert.deepEqual(conn.strayResponses.filter(r => r.opaque === OPAQUE), [], 'no reply to a oneway request');
    const msgs = await raw.pullAll(conn, { topic, queueId: 0 }, { from: start });
    assert.equal(msgs.length, 1);
    assert.equal(msgs[0].body.toString(), 'oneway body');
  });
});

test('batches: 320 with the batch flag and 310 with "m":"true" store consecutive queue offsets', { timeout: 20000 }, async () => {
  const { topic } = await newTopic(broker, 'TBatch', 4);
  await onBroker(async conn => {
    for (const [code, q] of [[C.SEND_BATCH_MESSAGE, 1], [C.SEND_MESSAGE_V2, 2]]) {
      const start = await raw.maxOffset(conn, topic, q);
      const items = [0, 1, 2].map(i => ({ body: `batch-${code}-${i}`, flag: i, properties: { TAGS: `tag${i}`, KEYS: `bk${i}` } }));
      const resp = await raw.send(conn, { topic, queueId: q, batch: true, body: R.encodeBatch(items) }, { code });
      assert.equal(resp.extFields.queueId, String(q));
      assert.equal(Number(resp.extFields.queueOffset), start, 'queueOffset = the first one');
      const ids = resp.extFields.msgId.split(',');
      assert.equal(ids.length, items.length, `msgId lists every message: ${resp.extFields.msgId}`);
      const msgs = await raw.pullAll(conn, { topic, queueId: q }, { from: start });
      assert.equal(msgs.length, items.length, `code ${code}`);
      for (const [i, m] of msgs.entries()) {
        assert.equal(m.queueOffset, start + i, 'consecutive offsets');
        assert.equal(m.body.toString(), items[i].body);
        assert.equal(m.flag, items[i].flag);
        assert.equal(m.tags, `tag${i}`);
        assert.equal(m.keys, `bk${i}`);
        assert.equal(m.msgId, ids[i]);
        assert.equal(m.topic, topic);
      }
    }
  });
});

test('CONSUMER_SEND_MSG_BACK 36: delayLevel -1 dead-letters at once; delayLevel 1 retries via %RETRY%<group>', { timeout: 25000 }, async () => {
  const { topic } = await newTopic(broker, 'TBack', 1);
  const group = uniqueName('CG_BACK');
  await onBroker(async conn => {
    await raw.heartbeat(conn, { clientID: `127.0.0.1@${group}`, group, topics: [topic] });
    const sendBack = async (body, delayLevel) => {
      const r = await raw.send(conn, { topic, queueId: 0, body, properties: { TAGS: 'back' } });
      const msgId = r.extFields.msgId;
      const b = await conn.request(C.CONSUMER_SEND_MSG_BACK, {
        offset: String(R.decodeMsgId(msgId).offset), group, delayLevel: String(delayLevel), originMsgId: msgId,
        originTopic: topic, unitMode: 'false', maxReconsumeTimes: '16',
      });
      assert.equal(b.code, 0, `36: ${b.remark}`);
      return msgId;
    };
    const readAll = async t => {
      let p = await raw.pull(conn, { consumerGroup: group, topic: t, queueId: 0, queueOffset: 0 });
      if (p.code === RC.NO_PERMISSION) { // Apache creates the DLQ write-only; an admin grants read
        await R.createTopic(broker.brokerAddr, t, 1, { perm: 6 });
        p = await raw.pull(conn, { consumerGroup: group, topic: t, queueId: 0, queueOffset: 0 });
      }
      assert.equal(p.code, 0, `pull ${t}: ${p.remark}`);
      return p.messages;
    };

    const deadId = await sendBack('dead letter', -1);
    const dlq = `%DLQ%${group}`;
    await waitFor(async () => (await raw.maxOffset(conn, dlq, 0).catch(() => 0)) >= 1, { timeoutMs: 5000, message: dlq });
    const [d] = await readAll(dlq);
    assert.equal(d.body.toString(), 'dead letter');
    assert.equal(d.properties.RETRY_TOPIC, topic);
    assert.equal(d.properties.ORIGIN_MESSAGE_ID, deadId);
    assert.equal(d.reconsumeTimes, 1);
    assert.equal(d.tags, 'back');

    const retryId = await sendBack('retry me', 1); // level 1 = 1 s
    const retry = `%RETRY%${group}`;
    await waitFor(async () => (await raw.maxOffset(conn, retry, 0).catch(() => 0)) >= 1, { timeoutMs: 8000, message: retry });
    const [m] = await readAll(retry);
    assert.equal(m.topic, retry);
    assert.equal(m.body.toString(), 'retry me');
    assert.equal(m.properties.RETRY_TOPIC, topic);
    assert.equal(m.properties.ORIGIN_MESSAGE_ID, retryId);
    assert.equal(m.reconsumeTimes, 1);
  });
});

// §2.3 -------------------------------------------------------------------------------------------------------------

test('GET_MIN_OFFSET, GET_MAX_OFFSET, GET_EARLIEST_MSG_STORETIME, SEARCH_OFFSET_BY_TIMESTAMP, pull by offset', { timeout: 20000 }, async () => {
  const { topic } = await newTopic(broker, 'TOffsets', 1);
  await onBroker(async conn => {
    assert.equal(await raw.maxOffset(conn, topic, 0), 0, 'empty queue');
    assert.equal(await raw.minOffset(conn, topic, 0), 0);
    const search = async (timestamp, boundaryType) => {
      const r = await conn.request(C.SEARCH_OFFSET_BY_TIMESTAMP, { topic, queueId: '0', timestamp: String(timestamp), boundaryType });
      assert.equal(r.code, 0, r.remark);
      return Number(r.extFields.offset);
    };
    assert.equal(await search(Date.now(), undefined), 0, 'empty queue -> 0');
    const N = 3;
    for (let i = 0; i < N; i++) {
      await raw.send(conn, { topic, queueId: 0, body: `o${i}` });
      await sleep(30);
    }
    assert.equal(await raw.maxOffset(conn, topic, 0), N);
    assert.equal(await raw.minOffset(conn, topic, 0), 0);
    const msgs = await raw.pullAll(conn, { topic, queueId: 0 });
    const st = msgs.map(m => m.storeTimestamp);
    assert.ok(st[0] < st[1] - 1 && st[1] < st[2], `distinct store times ${st}`);
    const e = await conn.request(C.GET_EARLIEST_MSG_STORETIME, { topic, queueId: '0' });
    assert.equal(e.code, 0);
    assert.equal(Number(e.extFields.timestamp), st[0]);

    // LOWER (default): first offset with storeTs >= ts; after the last -> max; before the first -> min.
    assert.equal(await search(st[1], undefined), 1);
    assert.equal(await search(st[1], 'LOWER'), 1);
    assert.equal(await search(st[1] - 1, 'LOWER'), 1);
    assert.equal(await search(st[2] + 10000, 'LOWER'), N);
    assert.equal(await search(st[0] - 10000, 'LOWER'), 0);
    // UPPER: last offset with storeTs <= ts; after the last -> last; before the first -> 0.
    assert.equal(await search(st[1], 'UPPER'), 1);
    assert.equal(await search(st[1] - 1, 'UPPER'), 0);
    assert.equal(await search(st[2] + 10000, 'UPPER'), N - 1);
    assert.equal(await search(st[0] - 10000, 'UPPER'), 0);

    const one = await raw.pull(conn, { topic, queueId: 0, queueOffset: 1, maxMsgNums: 1 });
    assert.equal(one.code, 0);
    assert.deepEqual(one.messages.map(m => m.body.toString()), ['o1']);
    assert.equal(one.nextBeginOffset, 2);
    const two = await raw.pull(conn, { topic, queueId: 0, queueOffset: 0, maxMsgNums: 2 });
    assert.deepEqual(two.messages.map(m => m.queueOffset), [0, 1]);
    assert.equal(two.nextBeginOffset, 2);
    assert.equal(two.minOffset, 0);
    assert.equal(two.maxOffset, N);
  });
});

test('PULL_MESSAGE status table (no suspend)', { timeout: 15000 }, async () => {
  const { topic } = await newTopic(broker, 'TPullSt', 2);
  await onBroker(async conn => {
    const N = 3;
    for (let i = 0; i < N; i++) await raw.send(conn, { topic, queueId: 0, body: `p${i}` });
    const max = await raw.maxOffset(conn, topic, 0);
    assert.equal(max, N);
    const found = await raw.pull(conn, { topic, queueId: 0, queueOffset: 0 });
    assert.equal(found.code, RC.SUCCESS);
    assert.equal(found.nextBeginOffset, max, 'FOUND: last + 1');
    assert.equal(found.messages.length, N);
    const atMax = await raw.pull(conn, { topic, queueId: 0, queueOffset: max });
    assert.equal(atMax.code, RC.PULL_NOT_FOUND, 'OFFSET_OVERFLOW_ONE -> 19');
    assert.equal(atMax.nextBeginOffset, max);
    const beyond = await raw.pull(conn, { topic, queueId: 0, queueOffset: max + 7 });
    assert.equal(beyond.code, RC.PULL_OFFSET_MOVED, 'OFFSET_OVERFLOW_BADLY -> 21');
    assert.equal(beyond.nextBeginOffset, max, 'nextBeginOffset = max');
    // queue 1 is empty: NO_MESSAGE_IN_QUEUE -> 19 at offset 0, 21 otherwise, nextBeginOffset 0
    const empty0 = await raw.pull(conn, { topic, queueId: 1, queueOffset: 0 });
    assert.equal(empty0.code, RC.PULL_NOT_FOUND);
    assert.equal(empty0.nextBeginOffset, 0);
    const empty5 = await raw.pull(conn, { topic, queueId: 1, queueOffset: 5 });
    assert.equal(empty5.code, RC.PULL_OFFSET_MOVED);
    assert.equal(empty5.nextBeginOffset, 0);
    for (const r of [found, atMax, beyond, empty0, empty5]) {
      assert.equal(r.suggestWhichBrokerId, 0, 'master');
    }
  });
});

test('tag filtering on the broker: a pull with subscription "TagA || TagB" skips TagC', { timeout: 15000 }, async () => {
  const { topic } = await newTopic(broker, 'TFilter', 1);
  await onBroker(async conn => {
    const tags = ['TagA', 'TagC', 'TagA', 'TagB', 'TagC', 'TagC', 'TagB'];
    for (const [i, t] of tags.entries()) await raw.send(conn, { topic, queueId: 0, body: `${t}-${i}`, properties: { TAGS: t } });
    const got = [];
    let offset = 0;
    for (let i = 0; i < 20 && offset < tags.length; i++) {
      const r = await raw.pull(conn, { topic, queueId: 0, queueOffset: offset, subscription: 'TagA || TagB', sysFlag: PF.SUBSCRIPTION });
      assert.ok([RC.SUCCESS, RC.PULL_RETRY_IMMEDIATELY].includes(r.code), `code ${r.code} ${r.remark}`);
      assert.ok(r.nextBeginOffset > offset, 'progress');
      got.push(...r.messages.map(m => m.body.toString()));
      offset = r.nextBeginOffset;
    }
    assert.deepEqual(got, tags.map((t, i) => `${t}-${i}`).filter(b => !b.startsWith('TagC')));
  });
});

test('long polling: a suspended pull is answered soon after a message arrives, or 19 after the suspend time', { timeout: 30000 }, async () => {
  const { topic } = await newTopic(broker, 'TLong', 1);
  await onBroker(async conn => {
    await R.withConnection(broker.brokerAddr, async producer => {
      let answeredAt = null;
      const parked = raw.pull(conn, {
        topic, queueId: 0, queueOffset: 0, sysFlag: PF.SUSPEND | PF.SUBSCRIPTION, suspendTimeoutMillis: 5000,
      }, { timeoutMs: 20000 }).then(r => { answeredAt = Date.now(); return r; });
      await sleep(600);
      assert.equal(answeredAt, null, 'the pull on an empty queue is parked, not answered');
      const sentAt = Date.now();
      await raw.send(producer, { topic, queueId: 0, body: 'wake up' });
      const r = await parked;
      assert.equal(r.code, RC.SUCCESS, `code ${r.code}`);
      assert.equal(r.messages[0].body.toString(), 'wake up');
      assert.ok(answeredAt - sentAt <= 1000, `answered ${answeredAt - sentAt} ms after the send`);
      console.log(`long poll answered ${answeredAt - sentAt} ms after the send (send round trip included)`);
    });
    // Nothing arrives: 19 once the suspend time is over (Apache re-checks parked pulls every 5 s).
    const SUSPEND = 3000;
    const t0 = Date.now();
    const idle = await raw.pull(conn, {
      topic, queueId: 0, queueOffset: 1, sysFlag: PF.SUSPEND | PF.SUBSCRIPTION, suspendTimeoutMillis: SUSPEND,
    }, { timeoutMs: 20000 });
    const waited = Date.now() - t0;
    assert.equal(idle.code, RC.PULL_NOT_FOUND);
    assert.equal(idle.nextBeginOffset, 1);
    assert.ok(waited >= SUSPEND - 100, `answered after ${waited} ms, before the suspend time`);
    assert.ok(waited <= SUSPEND + 5000 + 1000, `answered after ${waited} ms`);
  });
});

test('QUERY_CONSUMER_OFFSET and UPDATE_CONSUMER_OFFSET (and PULL with COMMIT_OFFSET)', { timeout: 20000 }, async () => {
  const { topic } = await newTopic(broker, 'TCOff', 2);
  const group = uniqueName('CG_OFF');
  await onBroker(async conn => {
    for (let i = 0; i < 3; i++) await raw.send(conn, { topic, queueId: 0, body: `c${i}` });
    // Nothing stored yet (§2.3): young queue with entry 0 in memory -> 0 with offset 0; setZeroIfNotFound=false -> 22.
    let r = await raw.queryConsumerOffset(conn, group, topic, 0);
    assert.equal(r.code, 0, r.remark);
    assert.equal(Number(r.extFields.offset), 0);
    r = await raw.queryConsumerOffset(conn, group, topic, 0, { setZeroIfNotFound: 'false' });
    assert.equal(r.code, RC.QUERY_NOT_FOUND);
    // An empty queue has no entry 0: Apache 5.x (checkInMemByConsumeOffset) answers 22, 4.9 (!checkInDisk...) answers
    // 0 with offset 0. Both are seen in the field, and ali-ons starts at 0 either way; accept both, nothing else.
    r = await raw.queryConsumerOffset(conn, group, topic, 1);
    assert.ok(r.code === RC.QUERY_NOT_FOUND || (r.code === 0 && Number(r.extFields.offset) === 0),
      `empty queue: code ${r.code} offset ${r.extFields.offset}`);

    const query = async q => {
      const x = await raw.queryConsumerOffset(conn, group, topic, q);
      assert.equal(x.code, 0, x.remark);
      return Number(x.extFields.offset);
    };
    r = await raw.updateConsumerOffset(conn, group, topic, 0, 2);
    assert.equal(r.code, 0);
    assert.equal(await query(0), 2);
    // oneway variant: no reply, still applied
    await raw.updateConsumerOffset(conn, group, topic, 0, 3, { oneway: true, opaque: 777100 });
    await waitFor(async () => (await query(0)) === 3, { timeoutMs: 5000, message: 'the oneway offset update' });
    await sleep(300);
    assert.deepEqual(conn.strayResponses.filter(x => x.opaque === 777100), [], 'no reply to the oneway update');
    // JS numbers, as ali-ons sends them
    r = await conn.request(C.UPDATE_CONSUMER_OFFSET, { consumerGroup: group, topic, queueId: 0, commitOffset: 1 });
    assert.equal(r.code, 0);
    assert.equal(await query(0), 1);
    // queue 1 now has a stored offset too
    assert.equal((await raw.updateConsumerOffset(conn, group, topic, 1, 0)).code, 0);
    assert.equal(await query(1), 0);
    // PULL with COMMIT_OFFSET stores commitOffset as the group's offset
    const p = await raw.pull(conn, { consumerGroup: group, topic, queueId: 0, queueOffset: 2, sysFlag: PF.COMMIT_OFFSET | PF.SUBSCRIPTION, commitOffset: 2 });
    assert.equal(p.code, 0);
    assert.equal(await query(0), 2);
    // another group is not affected
    const other = uniqueName('CG_OTHER');
    assert.equal((await raw.updateConsumerOffset(conn, other, topic, 0, 1)).code, 0);
    assert.equal(await query(0), 2);
    const o = await raw.queryConsumerOffset(conn, other, topic, 0);
    assert.equal(Number(o.extFields.offset), 1);
  });
});

test('HEART_BEAT with enum names and with ordinals; consumer list; NOTIFY_CONSUMER_IDS_CHANGED; unregister', { timeout: 25000 }, async () => {
  const { topic } = await newTopic(broker, 'THb', 2);
  const group = uniqueName('CG_HB');
  const idA = `127.0.0.1@${group}_A`;
  const idB = `127.0.0.1@${group}_B`;
  const a = await R.connect(broker.brokerAddr);
  const b = await R.connect(broker.brokerAddr);
  try {
    const none = await raw.consumerList(a, group);
    assert.equal(none.code, RC.SYSTEM_ERROR, 'no consumer for this group');

    await raw.heartbeat(a, { clientID: idA, group, topics: [topic], style: 'java' });
    let list = await raw.consumerList(a, group);
    assert.equal(list.code, 0, list.remark);
    assert.deepEqual(list.ids, [idA]);
    // the broker creates %RETRY%<group> and registers it with the name server
    await R.waitForRoute(broker.namesrvAddr, `%RETRY%${group}`, { timeoutMs: 5000 });

    await raw.heartbeat(b, { clientID: idB, group, topics: [topic], style: 'cpp', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
    list = await raw.consumerList(a, group);
    assert.deepEqual([...list.ids].sort(), [idA, idB].sort());
    const notify = await a.waitForRequest(cmd => cmd.code === C.NOTIFY_CONSUMER_IDS_CHANGED && cmd.extFields.consumerGroup === group, 5000);
    assert.equal(notify.flag & R.FLAG_RESPONSE, 0, 'a request, not a response');
    assert.equal(notify.flag & R.FLAG_ONEWAY, R.FLAG_ONEWAY, 'oneway');
    assert.equal(notify.serializeType, 0);

    // cpp sends "" for the unused group
    const un = await b.request(C.UNREGISTER_CLIENT, { clientID: idB, producerGroup: '', consumerGroup: group });
    assert.equal(un.code, 0, un.remark);
    list = await raw.consumerList(a, group);
    assert.deepEqual(list.ids, [idA]);

    // a closed channel leaves the group at once
    await a.close();
    await waitFor(async () => (await raw.consumerList(b, group)).code === RC.SYSTEM_ERROR, {
      timeoutMs: 5000, message: 'the group to empty after its last channel closed',
    });
  } finally {
    await a.close();
    await b.close();
  }
});

// §2.4 / §2.5 admin ------------------------------------------------------------------------------------------------

test('GET_BROKER_CLUSTER_INFO, GET_ALL_TOPIC_LIST_FROM_NAMESERVER, GET_ALL_TOPIC_CONFIG', { timeout: 15000 }, async () => {
  const { topic, brokerName } = await newTopic(broker, 'TAdmin', 3);
  await onNamesrv(async ns => {
    const info = await raw.clusterInfo(ns);
    assert.equal(info.brokerAddrTable[brokerName].brokerAddrs['0'], broker.brokerAddr);
    assert.equal(info.brokerAddrTable[brokerName].brokerName, brokerName);
    assert.ok(Object.values(info.clusterAddrTable).some(names => names.includes(brokerName)), JSON.stringify(info.clusterAddrTable));
    assert.ok(info.clusterAddrTable.DefaultCluster.includes(brokerName));
    const list = await ns.request(C.GET_ALL_TOPIC_LIST_FROM_NAMESERVER, {});
    assert.equal(list.code, 0);
    assert.ok(JSON.parse(list.body.toString()).topicList.includes(topic));
  });
  await onBroker(async conn => {
    const r = await conn.request(C.GET_ALL_TOPIC_CONFIG, {});
    assert.equal(r.code, 0);
    const body = JSON.parse(r.body.toString());
    const tc = body.topicConfigTable[topic];
    assert.ok(tc, 'topic in topicConfigTable');
    assert.equal(tc.topicName, topic);
    assert.equal(tc.readQueueNums, 3);
    assert.equal(tc.writeQueueNums, 3);
    assert.equal(tc.perm, 6);
    assert.ok(body.dataVersion, 'dataVersion');
  });
});

test('UPDATE_AND_CREATE_TOPIC changes a topic; DELETE_TOPIC_IN_BROKER (+ _IN_NAMESRV, as mqadmin does) removes it', { timeout: 20000 }, async () => {
  const { topic } = await newTopic(broker, 'TDel', 2);
  // update: 2 -> 5 queues, the route follows at once (the broker re-registers)
  await R.createTopic(broker.brokerAddr, topic, 5);
  await R.waitForRoute(broker.namesrvAddr, topic, { timeoutMs: 5000, predicate: r => r.queueDatas[0].writeQueueNums === 5 });
  await onBroker(async conn => {
    const d = await conn.request(C.DELETE_TOPIC_IN_BROKER, { topic });
    assert.equal(d.code, 0, d.remark);
    const all = JSON.parse((await conn.request(C.GET_ALL_TOPIC_CONFIG, {})).body.toString());
    assert.equal(all.topicConfigTable[topic], undefined, 'gone from the broker');
  });
  await onNamesrv(async ns => {
    const d = await ns.request(C.DELETE_TOPIC_IN_NAMESRV, { topic });
    assert.equal(d.code, 0, d.remark);
    await waitFor(async () => (await R.getRoute(null, topic, ns)).code === RC.TOPIC_NOT_EXIST, {
      timeoutMs: 5000, message: `the route of ${topic} to disappear`,
    });
  });
});

// A cluster: a name-server-only process and two broker-only processes ------------------------------------------

test('two brokers behind one name server; a killed broker expires, the other stays', { timeout: 60000 }, async () => {
  const EXPIRY_MS = 1500;
  // The expiry and scan keys are read by the process holding the name server, the register interval by each broker
  // process: brokers must re-register faster than the expiry to stay.
  const ns = await startBroker({
    broker: false,
    set: { 'rocket.broker_expiry_ms': String(EXPIRY_MS), 'rocket.namesrv_scan_interval_ms': '200' },
  });
  const cluster = uniqueName('Cl');
  const names = [uniqueName('bx'), uniqueName('by')];
  const brokers = [];
  try {
    assert.equal(ns.brokerAddr, null, 'name server only');
    for (const brokerName of names) {
      const b = await startBroker({
        namesrv: false, namesrvAddr: ns.namesrvAddr, brokerName, clusterName: cluster,
        set: { 'rocket.register_interval_ms': '500' },
      });
      assert.equal(b.namesrvAddr, null, 'broker only');
      brokers.push(b);
    }
    const topic = uniqueName('TCluster');
    const queues = [4, 2];
    for (const [i, b] of brokers.entries()) await R.createTopic(b.brokerAddr, topic, queues[i]);
    const route = await R.waitForRoute(ns.namesrvAddr, topic, {
      timeoutMs: 10000,
      predicate: r => names.every((n, i) => r.queueDatas.some(q => q.brokerName === n && q.writeQueueNums === queues[i])),
    });
    for (const [i, n] of names.entries()) {
      const bd = route.brokerDatas.find(x => x.brokerName === n);
      assert.ok(bd, `${n} in brokerDatas`);
      assert.equal(bd.brokerAddrs['0'], brokers[i].brokerAddr);
      assert.equal(bd.cluster, cluster);
    }
    await R.withConnection(ns.namesrvAddr, async conn => {
      const info = await raw.clusterInfo(conn);
      assert.deepEqual([...info.clusterAddrTable[cluster]].sort(), [...names].sort());

      await brokers[1].kill9();
      const killedAt = Date.now();
      let goneAfter = null;
      while (Date.now() - killedAt < 4000) {
        const now = await raw.clusterInfo(conn);
        assert.ok(now.brokerAddrTable[names[0]], `${names[0]} stays (${Date.now() - killedAt} ms after the kill)`);
        if (goneAfter === null && !now.brokerAddrTable[names[1]]) goneAfter = Date.now() - killedAt;
        await sleep(100);
      }
      assert.ok(goneAfter !== null, `${names[1]} still listed 4 s after kill -9`);
      console.log(`killed broker left GET_BROKER_CLUSTER_INFO after ${goneAfter} ms`);
      const final = await raw.clusterInfo(conn);
      assert.ok(final.brokerAddrTable[names[0]]);
      assert.ok(!(final.clusterAddrTable[cluster] || []).includes(names[1]));
      const r = await R.getRoute(null, topic, conn);
      assert.equal(r.code, 0);
      assert.deepEqual(r.route.queueDatas.map(q => q.brokerName), [names[0]]);
    });
  } finally {
    for (const b of brokers) await b.stop().catch(() => {});
    await ns.stop();
  }
});
