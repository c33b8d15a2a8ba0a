'use strict';
// Name server expiry by silence: a broker whose connection stays open but which stops re-registering is dropped
// after rocket.broker_expiry_ms (here 1.5 s, scanned every 200 ms; the defaults are 120 s and 10 s), while one
// that keeps re-registering stays. (raw_protocol.test.js covers the other path: a killed broker's closed connection.)
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startBroker } = require('./lib/broker');
const R = require('./lib/remoting');
const raw = require('./lib/raw');
const { waitFor, sleep } = require('./lib/util');

let namesrv;
before(async () => {
  namesrv = await startBroker({
    broker: false,
    set: { 'rocket.broker_expiry_ms': '1500', 'rocket.namesrv_scan_interval_ms': '200' },
  });
});
after(async () => { if (namesrv) await namesrv.stop(); });

function registerBody(topic) {
  return Buffer.from(JSON.stringify({
    topicConfigSerializeWrapper: {
      topicConfigTable: { [topic]: { topicName: topic, readQueueNums: 2, writeQueueNums: 2, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false } },
      dataVersion: { stateVersion: 0, timestamp: Date.now(), counter: 1 },
    },
    filterServerList: [],
  }));
}

function register(conn, name, addr, topic) {
  return conn.request(R.RequestCode.REGISTER_BROKER, {
    brokerName: name, brokerAddr: addr, clusterName: 'ExpiryCluster', haServerAddr: addr, brokerId: '0', compressed: 'false',
  }, registerBody(topic));
}

test('a broker silent for broker_expiry_ms is dropped while a re-registering one stays', { timeout: 30000 }, async () => {
  const silent = await R.connect(namesrv.namesrvAddr);
  const alive = await R.connect(namesrv.namesrvAddr);
  try {
    assert.equal((await register(silent, 'broker-silent', '127.0.0.1:1', 'TExpA')).code, 0);
    assert.equal((await register(alive, 'broker-alive', '127.0.0.1:2', 'TExpB')).code, 0);
    const names = async () => Object.keys(JSON.parse((await R.withConnection(namesrv.namesrvAddr,
      c => c.request(R.RequestCode.GET_BROKER_CLUSTER_INFO, {}))).body.toString()).brokerAddrTable).sort();
    assert.deepEqual(await names(), ['broker-alive', 'broker-silent']);
    const started = Date.now();
    let keepGoing = true;
    const heartbeat = (async () => { while (keepGoing) { await register(alive, 'broker-alive', '127.0.0.1:2', 'TExpB'); await sleep(300); } })();
    await waitFor(async () => (await names()).join() === 'broker-alive', { timeoutMs: 6000, message: 'the silent broker expiring' });
    const after = Date.now() - started;
    console.log(`# silent broker dropped after ${after} ms (expiry 1500 ms, scan 200 ms)`);
    assert.ok(after >= 1300, `not before the expiry time (${after} ms)`);
    // its route is gone with it; the live broker's stays
    const gone = await R.withConnection(namesrv.namesrvAddr, c => c.request(R.RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'TExpA' }));
    assert.equal(gone.code, R.ResponseCode.TOPIC_NOT_EXIST);
    const kept = await R.withConnection(namesrv.namesrvAddr, c => c.request(R.RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'TExpB' }));
    assert.equal(kept.code, 0);
    keepGoing = false;
    await heartbeat;
  } finally {
    await silent.close();
    await alive.close();
  }
});

test('a slave registered under the master\'s name appears in the route\'s brokerAddrs and learns the master; promoted, it takes broker.id 0', { timeout: 15000 }, async () => {
  const conn = await R.connect(namesrv.namesrvAddr);
  try {
    assert.equal((await register(conn, 'broker-ms', '127.0.0.1:3', 'TExpMS')).code, 0);
    const slave = await conn.request(R.RequestCode.REGISTER_BROKER, {
      brokerName: 'broker-ms', brokerAddr: '127.0.0.1:4', clusterName: 'ExpiryCluster', haServerAddr: '127.0.0.1:5',
      brokerId: '1', compressed: 'false',
    }, registerBody('TExpMS'));
    assert.equal(slave.code, 0);
    assert.equal(slave.extFields.masterAddr, '127.0.0.1:3');
    const { route } = await R.getRoute(namesrv.namesrvAddr, 'TExpMS');
    const bd = route.brokerDatas.find(d => d.brokerName === 'broker-ms');
    assert.deepEqual(bd.brokerAddrs, { 0: '127.0.0.1:3', 1: '127.0.0.1:4' });
    assert.equal(route.queueDatas.filter(q => q.brokerName === 'broker-ms').length, 1, 'queue data from the master only');
    // The slave promoted (ferry-broker --promote) re-registers as broker.id 0 while the old master's registration
    // is still there: it takes id 0 (RocketMQ's brokerAddrs map holds one address per id).
    const promoted = await conn.request(R.RequestCode.REGISTER_BROKER, {
      brokerName: 'broker-ms', brokerAddr: '127.0.0.1:4', clusterName: 'ExpiryCluster', haServerAddr: '127.0.0.1:5',
      brokerId: '0', compressed: 'false',
    }, registerBody('TExpMS'));
    assert.equal(promoted.code, 0);
    const after = (await R.getRoute(namesrv.namesrvAddr, 'TExpMS')).route.brokerDatas.find(d => d.brokerName === 'broker-ms');
    assert.deepEqual(after.brokerAddrs, { 0: '127.0.0.1:4' });
  } finally {
    await conn.close();
  }
});

test('KV config: put, get, list by namespace, delete', { timeout: 15000 }, async () => {
  await R.withConnection(namesrv.namesrvAddr, async conn => {
    const ns = 'ORDER_TOPIC_CONFIG';
    assert.equal((await conn.request(100, { namespace: ns, key: 'TKv', value: 'broker-a:4' })).code, 0);
    const got = await conn.request(101, { namespace: ns, key: 'TKv' });
    assert.equal(got.code, 0);
    assert.equal(got.extFields.value, 'broker-a:4');
    const list = await conn.request(219, { namespace: ns });
    assert.equal(JSON.parse(list.body.toString()).table.TKv, 'broker-a:4');
    assert.equal((await conn.request(102, { namespace: ns, key: 'TKv' })).code, 0);
    assert.equal((await conn.request(101, { namespace: ns, key: 'TKv' })).code, R.ResponseCode.QUERY_NOT_FOUND);
  });
});
