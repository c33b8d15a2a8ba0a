'use strict';
// Replication with the RocketMQ client: a name server, a SYNC_MASTER and its SLAVE (which finds the master through
// the name server's REGISTER_BROKER answer, replication.master left empty). ali-ons sends get SEND_OK once the slave
// has the message; with the master killed, an ali-ons consumer reads every message from the slave.
const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const { startBroker } = require('./lib/broker');
const { AliOns, message } = require('./lib/alions');
const R = require('./lib/remoting');
const { collector } = require('./lib/fixtures');
const { uniqueName, waitFor } = require('./lib/util');

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
    set: { 'broker.name': group, 'replication.role': 'SYNC_MASTER' },
  });
  const slave = await broker({
    namesrv: false, namesrvAddr: ns.namesrvAddr, brokerName: group,
    // Re-registers often, so the name server soon has the topics it received from its master.
    set: { 'broker.name': group, 'broker.id': '1', 'replication.role': 'SLAVE', 'rocket.register_interval_ms': '500' },
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
