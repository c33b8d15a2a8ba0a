'use strict';
// Replication with the RocketMQ client: a name server, a SYNC_MASTER and its SLAVE (which finds the master through
// the name server's REGISTER_BROKER answer, replication.master left empty). ali-ons sends get SEND_OK once the slave
// has the message; with the master killed, an ali-ons consumer reads every message from the slave.
const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { startBroker } = require('./lib/broker');
const { AliOns, message } = require('./lib/alions');
const R = require('./lib/remoting');
const raw = require('./lib/raw');
const { collector, maxOffsets } = require('./lib/fixtures');
const { status, digest, brokerCommand } = require('./lib/replication');
const { sleep, uniqueName, waitFor } = require('./lib/util');

const started = [];
async function broker(options) {
  const b = await startBroker(options);
  started.push(b);
  return b;
}
after(async () => {
  for (const b of started) if (b.running) await b.kill9().catch(() => {});
});

test('ali-ons on a SYNC_MASTER with a slave found through the name server; the slave serves consumers once the master is gone', { timeout: 60000 }, async () => {
  const ns = await broker({ broker: false });
  const group = uniqueName('grp');
  const master = await broker({
    namesrv: false, namesrvAddr: ns.namesrvAddr, brokerName: group,
    set: { 'replication.role': 'SYNC_MASTER' },
  });
  const slave = await broker({
    namesrv: false, namesrvAddr: ns.namesrvAddr, brokerName: group,
    // Re-registers often, so the name server soon has the topics it received from its master.
    set: { 'broker.id': '1', 'replication.role': 'SLAVE', 'rocket.register_interval_ms': '500' },
  });
  const topic = uniqueName('TRepl');
  await R.createTopic(master.brokerAddr, topic, 2);
  await R.waitForRoute(ns.namesrvAddr, topic, {
    timeoutMs: 15000, predicate: r => r.brokerDatas.some(d => d.brokerName === group && d.brokerAddrs['1']),
  });
  // The slave learnt its master from the name server and streams.
  await waitFor(async () => {
    const r = await R.getRoute(ns.namesrvAddr, topic).catch(() => null);
    return r && r.route.brokerDatas.some(d => d.brokerAddrs['1'] === slave.brokerAddr);
  }, { timeoutMs: 15000, message: 'the slave in the route' });

  const ons = new AliOns(ns.namesrvAddr, { name: 'repl' });
  try {
    const producer = await ons.producer();
    const sent = [];
    // Until the slave is in sync, a SYNC_MASTER answers SLAVE_NOT_AVAILABLE (the message is stored all the same).
    await waitFor(async () => {
      try {
        const r = await producer.send(message(topic, 'T', Buffer.from('probe')));
        return r.sendStatus === 'SEND_OK';
      } catch {
        return false;
      }
    }, { timeoutMs: 15000, intervalMs: 200, message: 'SEND_OK (the slave is in sync)' });
    for (let i = 0; i < 40; i++) {
      const r = await producer.send(message(topic, 'T', Buffer.from(`m${i}`)));
      assert.equal(r.sendStatus, 'SEND_OK', `send ${i}: ${JSON.stringify(r)}`);
      sent.push(`m${i}`);
    }
    await master.kill9();
    // Route info keeps the group through its slave; the consumer pulls from it.
    const got = collector();
    const consumer = ons.consumer({ consumerGroup: uniqueName('CG_SLAVE'), consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
    consumer.subscribe(topic, '*', got.handler);
    await consumer.ready();
    await got.waitForKeys([...sent, 'probe'], { timeoutMs: 30000 });
    assert.ok(sent.every(b => got.keys().includes(b)), 'every SEND_OK message read from the slave');
  } finally {
    await ons.closeAll();
  }
});

test('ali-ons send statuses on a SYNC_MASTER: SLAVE_NOT_AVAILABLE with no slave, FLUSH_SLAVE_TIMEOUT when it stalls', { timeout: 60000 }, async () => {
  const ns = await broker({ broker: false });
  const group = uniqueName('grp');
  const master = await broker({
    namesrv: false, namesrvAddr: ns.namesrvAddr, brokerName: group,
    set: { 'replication.role': 'SYNC_MASTER', 'replication.sync_timeout_ms': '700' },
  });
  const topic = uniqueName('TStat');
  await R.createTopic(master.brokerAddr, topic, 1);
  await R.waitForRoute(ns.namesrvAddr, topic, { timeoutMs: 15000 });
  const ons = new AliOns(ns.namesrvAddr, { name: 'repl-status' });
  let slave = null;
  try {
    const producer = await ons.producer({ retryTimesWhenSendFailed: 0 });
    const send = body => producer.send(message(topic, 'T', Buffer.from(body)));
    assert.equal((await send('no-slave')).sendStatus, 'SLAVE_NOT_AVAILABLE', 'no slave connected');
    slave = await broker({
      namesrv: false, namesrvAddr: ns.namesrvAddr, brokerName: group,
      set: { 'broker.id': '1', 'replication.role': 'SLAVE',
        'replication.master': master.listeners['replication.listen'] },
    });
    await waitFor(async () => (await status(master)).inSyncSlaves === 1, { timeoutMs: 15000, message: 'an in-sync slave' });
    assert.equal((await send('in-sync')).sendStatus, 'SEND_OK');
    process.kill(slave.pid, 'SIGSTOP');
    try {
      const t0 = Date.now();
      const r = await send('stalled');
      assert.equal(r.sendStatus, 'FLUSH_SLAVE_TIMEOUT', 'the slave does not answer within sync_timeout_ms');
      assert.ok(Date.now() - t0 >= 600, 'answered after the sync timeout');
      assert.ok(r.msgId && r.queueOffset !== undefined, 'with the message id and offset (it is stored)');
    } finally {
      process.kill(slave.pid, 'SIGCONT');
    }
    await waitFor(async () => (await send('again')).sendStatus === 'SEND_OK', { timeoutMs: 15000, intervalMs: 200, message: 'SEND_OK after SIGCONT' });
    // Every message was stored on the master whatever its status said, and the slave has them too.
    const max = await maxOffsets(master.brokerAddr, topic, 1);
    await waitFor(async () => (await maxOffsets(slave.brokerAddr, topic, 1))[0] === max[0], { timeoutMs: 15000, message: 'the slave caught up' });
    const got = collector();
    const consumer = ons.consumer({ consumerGroup: uniqueName('CG_STAT'), consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
    consumer.subscribe(topic, '*', got.handler);
    await consumer.ready();
    await got.waitForKeys(['no-slave', 'in-sync', 'stalled', 'again'], { timeoutMs: 20000 });
  } finally {
    await ons.closeAll();
  }
});

test('SYNC_MASTER under ali-ons load, SIGKILLed at random moments, ten rounds: every SEND_OK message is on the slave once; with the master gone, consumers read it there and commit their offsets to it', { timeout: 240000 }, async () => {
  const ns = await broker({ broker: false });
  const group = uniqueName('grp');
  const QUEUES = 2;
  const master = await broker({
    namesrv: false, namesrvAddr: ns.namesrvAddr, brokerName: group,
    set: { 'replication.role': 'SYNC_MASTER', 'replication.sync_timeout_ms': '2000' },
  });
  const slave = await broker({
    namesrv: false, namesrvAddr: ns.namesrvAddr, brokerName: group,
    set: { 'broker.id': '1', 'replication.role': 'SLAVE', 'rocket.register_interval_ms': '500',
      'replication.master': master.listeners['replication.listen'] },
  });
  const topic = uniqueName('TKill');
  await R.createTopic(master.brokerAddr, topic, QUEUES);
  await R.waitForRoute(ns.namesrvAddr, topic, {
    timeoutMs: 15000, predicate: r => r.brokerDatas.some(d => d.brokerName === group && d.brokerAddrs['1']),
  });
  const ons = new AliOns(ns.namesrvAddr, { name: 'repl-kill' });
  const confirmed = new Set();
  const statuses = {};
  try {
    const producer = await ons.producer({ retryTimesWhenSendFailed: 0, sendMsgTimeout: 3000 });
    let seq = 0;
    for (let round = 0; round < 10; round++) {
      await waitFor(async () => (await status(master).catch(() => ({}))).inSyncSlaves === 1,
        { timeoutMs: 20000, message: `round ${round}: an in-sync slave` });
      let stop = false;
      const sender = async () => {
        while (!stop) {
          const body = `r${round}-${seq++}`;
          try {
            const r = await producer.send(message(topic, 'T', Buffer.from(body)));
            statuses[r.sendStatus] = (statuses[r.sendStatus] || 0) + 1;
            if (r.sendStatus === 'SEND_OK') confirmed.add(body);
          } catch {
            statuses.error = (statuses.error || 0) + 1;
            await sleep(20);
          }
        }
      };
      const senders = [sender(), sender(), sender()];
      await sleep(150 + Math.floor(Math.random() * 500));
      await master.kill9();
      await sleep(300);
      stop = true;
      await Promise.all(senders);
      await master.restart();
    }
    assert.ok(confirmed.size > 100, `enough SEND_OK messages under load (${confirmed.size}; ${JSON.stringify(statuses)})`);
    await waitFor(async () => (await status(master)).inSyncSlaves === 1, { timeoutMs: 20000, message: 'in sync at the end' });
    // Fail-over: the master is gone for good; the group is served by its slave.
    await master.kill9();
    const consumerGroup = uniqueName('CG_KILL');
    const got = collector(m => `${m.queueId}/${m.queueOffset}`);
    const consumer = ons.consumer({ consumerGroup, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
    consumer.subscribe(topic, '*', got.handler);
    await consumer.ready();
    await waitFor(() => {
      const bodies = new Set(got.msgs.map(m => m.body.toString()));
      return [...confirmed].every(b => bodies.has(b));
    }, { timeoutMs: 60000, message: () => `every SEND_OK message from the slave (${got.msgs.length} read of ${confirmed.size})` });
    const bodies = got.msgs.map(m => m.body.toString());
    const positions = new Map();
    for (const m of got.msgs) positions.set(`${m.queueId}/${m.queueOffset}`, m.body.toString());
    assert.equal(new Set(bodies).size, positions.size, 'one message per queue position, none stored twice');
    // The consumer commits its offsets where RocketMQ commits them with the master down: to the slave.
    const max = await maxOffsets(slave.brokerAddr, topic, QUEUES);
    const conn = await R.connect(slave.brokerAddr);
    try {
      await waitFor(async () => {
        for (let q = 0; q < QUEUES; q++) {
          const r = await raw.queryConsumerOffset(conn, consumerGroup, topic, q);
          if (r.code !== 0 || Number(r.extFields.offset) !== max[q]) return false;
        }
        return true;
      }, { timeoutMs: 20000, message: `offsets ${JSON.stringify(max)} committed on the slave` });
    } finally {
      await conn.close();
    }
    // A restarted consumer of the group starts from those offsets: nothing is read again.
    await ons.closeAll();
    const again = collector();
    const ons2 = new AliOns(ns.namesrvAddr, { name: 'repl-kill-2' });
    try {
      const c2 = ons2.consumer({ consumerGroup, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
      c2.subscribe(topic, '*', again.handler);
      await c2.ready();
      await sleep(3000);
      assert.equal(again.msgs.length, 0, 'the committed offsets hold on the slave');
    } finally {
      await ons2.closeAll();
    }
    console.log(`# ali-ons SIGKILL rounds: ${confirmed.size} SEND_OK, statuses ${JSON.stringify(statuses)}, ${positions.size} messages on the slave`);
  } finally {
    await ons.closeAll();
  }
});

test('fail-over with ferry-broker --promote: the slave registers as broker.id 0, ali-ons sends to it, and the other slave follows it through the name server', { timeout: 90000 }, async () => {
  const ns = await broker({ broker: false });
  const group = uniqueName('grp');
  const master = await broker({
    namesrv: false, namesrvAddr: ns.namesrvAddr, brokerName: group,
    set: { 'replication.role': 'SYNC_MASTER' },
  });
  // Neither slave names its master: both learn it from the name server's REGISTER_BROKER answer.
  const slaveOpts = (id, storage) => ({
    namesrv: false, namesrvAddr: ns.namesrvAddr, brokerName: group,
    set: { 'broker.id': String(id), 'replication.role': 'SLAVE', 'storage.plugin': storage,
      'rocket.register_interval_ms': '500' },
  });
  const s1 = await broker(slaveOpts(1, 'file'));
  const s2 = await broker(slaveOpts(2, 'sqlite'));
  const topic = uniqueName('TProm');
  await R.createTopic(master.brokerAddr, topic, 2);
  const addrsOf = async () => {
    const r = await R.getRoute(ns.namesrvAddr, topic).catch(() => null);
    const d = r && r.route.brokerDatas.find(x => x.brokerName === group);
    return d ? d.brokerAddrs : {};
  };
  await waitFor(async () => { const a = await addrsOf(); return a['1'] && a['2']; }, { timeoutMs: 15000, message: 'both slaves routed' });
  const ons = new AliOns(ns.namesrvAddr, { name: 'repl-promote' });
  try {
    const producer = await ons.producer();
    const sent = [];
    await waitFor(async () => (await status(master)).inSyncSlaves === 2, { timeoutMs: 15000, message: 'two in-sync slaves' });
    for (let i = 0; i < 30; i++) {
      const r = await producer.send(message(topic, 'T', Buffer.from(`old-${i}`)));
      assert.equal(r.sendStatus, 'SEND_OK');
      sent.push(`old-${i}`);
    }
    await master.kill9();
    const r = await brokerCommand(['--promote', '--replication-address', s1.listeners['replication.listen']]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(JSON.parse(r.stdout).role, 'ASYNC_MASTER');
    // The name server routes the group's id 0 to the promoted broker, at the same broker address.
    await waitFor(async () => (await addrsOf())['0'] === s1.brokerAddr, { timeoutMs: 15000, message: 'the promoted slave as broker.id 0' });
    assert.equal((await addrsOf())['1'], undefined, 'no broker.id 1 left');
    // s2 learns its new master from the name server and follows it.
    await waitFor(async () => {
      const st = await status(s1);
      return st.slaves.some(x => x.brokerId === 2 && x.inSync);
    }, { timeoutMs: 20000, message: 's2 following the promoted broker' });
    await waitFor(async () => {
      try {
        return (await producer.send(message(topic, 'T', Buffer.from('probe-new')))).sendStatus === 'SEND_OK';
      } catch {
        return false;
      }
    }, { timeoutMs: 20000, intervalMs: 300, message: 'ali-ons sending to the new master' });
    for (let i = 0; i < 30; i++) {
      const res = await producer.send(message(topic, 'T', Buffer.from(`new-${i}`)));
      assert.equal(res.sendStatus, 'SEND_OK');
      sent.push(`new-${i}`);
    }
    const got = collector();
    const consumer = ons.consumer({ consumerGroup: uniqueName('CG_PROM'), consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
    consumer.subscribe(topic, '*', got.handler);
    await consumer.ready();
    await got.waitForKeys(sent, { timeoutMs: 30000 });
    await waitFor(async () => {
      const [a, b] = [await digest(s1), await digest(s2)];
      return JSON.stringify(a.queues) === JSON.stringify(b.queues) && a.metaHash === b.metaHash;
    }, { timeoutMs: 20000, message: 's2 holds what the promoted broker holds' });
  } finally {
    await ons.closeAll();
  }
});

test('the group is named once: rocket.broker_name / rocket.broker_id that differ from broker.name / broker.id are refused', { timeout: 60000 }, async () => {
  const os = require('node:os');
  const fs = require('node:fs');
  const path = require('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-ident-'));
  try {
    const base = ['--data-dir', dir, '--set', 'rocket.namesrv_listen=127.0.0.1:0', '--set', 'rocket.broker_listen=127.0.0.1:0',
      '--set', 'amqp.listen=', '--set', 'replication.listen=127.0.0.1:0', '--set', 'broker.name=grp-one'];
    let r = await brokerCommand([...base, '--set', 'rocket.broker_name=grp-two']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /rocket.broker_name 'grp-two' differs from broker.name 'grp-one'/);
    r = await brokerCommand([...base, '--set', 'rocket.broker_id=1']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /rocket.broker_id 1 differs from broker.id 0/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
